// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the host made of a device: /sys/class/loopback/NAME has one virtio
 * child; once its driver is bound, the node a script wants is below it
 * (block/vdX, net/ethX) or is the driver's (/dev/hwrng).
 */
#include "config.h"

#include <string.h>

#include <libudev.h>

#include "sysfs.h"

#define SYS_CLASS "/sys/class/loopback"

char *adapter_sysfs_virtio(const char *name)
{
	g_autofree char *dir = g_build_filename(SYS_CLASS, name, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *e;

	while (d && (e = g_dir_read_name(d)))
		if (g_str_has_prefix(e, "virtio"))
			return g_build_filename(dir, e, NULL);
	return NULL;
}

/* The only entry of @dir/@sub (a disk, an interface), or NULL. */
static char *only_entry(const char *dir, const char *sub)
{
	g_autofree char *path = g_build_filename(dir, sub, NULL);
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	const char *e = d ? g_dir_read_name(d) : NULL;

	return e ? g_build_filename(path, e, NULL) : NULL;
}

/* udev's node for a sysfs device (devtmpfs's name without udevd). */
static char *devnode(const char *syspath)
{
	struct udev *udev = udev_new();
	struct udev_device *d;
	char *node = NULL;

	if (!udev)
		return NULL;
	d = udev_device_new_from_syspath(udev, syspath);
	if (d && udev_device_get_devnode(d))
		node = g_strdup(udev_device_get_devnode(d));
	udev_device_unref(d);
	udev_unref(udev);
	return node;
}

static unsigned int device_id(const char *vdev)
{
	g_autofree char *path = g_build_filename(vdev, "device", NULL);
	g_autofree char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	return (unsigned int)g_ascii_strtoull(text, NULL, 0);
}

const char *adapter_driver_for(unsigned int id)
{
	switch (id) {
	case 1: return "virtio_net";
	case 2: return "virtio_blk";
	case 3: return "virtio_console";
	case 4: return "virtio_rng";
	case 26: return "virtiofs";
	default: return NULL;
	}
}

char *adapter_sysfs_node(const char *name, unsigned int *id)
{
	g_autofree char *vdev = adapter_sysfs_virtio(name);
	g_autofree char *drv = NULL;
	g_autofree char *child = NULL;

	*id = 0;
	if (!vdev)
		return NULL;
	*id = device_id(vdev);
	drv = g_build_filename(vdev, "driver", NULL);
	if (!g_file_test(drv, G_FILE_TEST_EXISTS))
		return NULL;
	switch (*id) {
	case 2:	/* the disk appears at the end of the probe */
		child = only_entry(vdev, "block");
		return child ? devnode(child) : NULL;
	case 1:
		child = only_entry(vdev, "net");
		return child ? g_path_get_basename(child) : NULL;
	case 4:
		return g_strdup("/dev/hwrng");
	default:
		return g_path_get_basename(vdev);
	}
}
