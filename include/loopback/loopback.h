/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libloopback: everything a program needs, in one include.
 *
 *   memory.h   QEMU's memory API (regions, address spaces, dispatch)
 *   device.h   a loopback device: its link to loopback.ko (loopback_device_*)
 *   virtio.h   the virtio-mmio register model and virtqueues
 *   vhost-user.h  the vhost-user frontend (loopback_vhost_user_*)
 */
#ifndef LOOPBACK_LOOPBACK_H
#define LOOPBACK_LOOPBACK_H

#include <loopback/memory.h>
#include <loopback/device.h>
#include <loopback/virtio.h>
#include <loopback/vhost-user.h>

#endif /* LOOPBACK_LOOPBACK_H */
