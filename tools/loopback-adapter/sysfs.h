/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding what the host's driver made of a device, through sysfs. */
#ifndef LOOPBACK_ADAPTER_SYSFS_H
#define LOOPBACK_ADAPTER_SYSFS_H

#include <glib.h>

/* /sys/class/loopback/@name/virtioN, or NULL while there is none. */
char *adapter_sysfs_virtio(const char *name);
/*
 * Once a driver is bound to loopback device @name's virtio device: the
 * node scripts use (/dev/vda, /dev/hwrng, an interface name), else NULL.
 * *@id: the virtio device id, 0 while there is no virtio device.
 */
char *adapter_sysfs_node(const char *name, unsigned int *id);
/* The kernel driver for virtio device id @id, or NULL. */
const char *adapter_driver_for(unsigned int id);

#endif
