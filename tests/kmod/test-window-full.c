// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-window-full: a DMA window too small for what the driver maps.
 *
 * A virtio-net device with two 256-entry queues and the smallest window
 * (64 KiB): bringing the interface up makes virtio_net post receive
 * buffers until a streaming mapping fails, because every bounce takes at
 * least a page of the window.  The device never completes a buffer, so
 * nothing is freed.  The driver must see mapping errors and cope: it posts
 * fewer buffers than the ring holds, the module neither crashes nor warns
 * (tests/vm/run fails the run on any WARNING/BUG), and the device still
 * goes away cleanly at close.  IPv6 is off first, so that nothing is
 * transmitted: a transmit queue that never completes would time out.
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <dirent.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VIRTIO_ID_NET	1
#define QSIZE		256

/* the netdev name under /sys/bus/virtio/devices/VDEV/net/ */
static int netdev_of(const char *vdev, char *out, size_t len)
{
	char path[256];
	struct dirent *e;
	DIR *dir;
	int rc = -1;

	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/net", vdev);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (strlen(e->d_name) >= len)
			break;
		memcpy(out, e->d_name, strlen(e->d_name) + 1);
		rc = 0;
		break;
	}
	closedir(dir);
	return rc;
}

/* avail.idx of queue Q, read from the window (little-endian u16) */
static int avail_idx(struct lbdev *d, unsigned int q)
{
	uint64_t off;
	uint16_t v;
	bool ready;

	pthread_mutex_lock(&d->lock);
	off = d->q[q].driver - d->info.window_base;
	ready = d->q[q].ready;
	pthread_mutex_unlock(&d->lock);
	if (!ready || off + 4 > d->info.window_size)
		return -1;
	memcpy(&v, d->win + off + 2, sizeof(v));
	return le16toh(v);
}

int main(void)
{
	struct lbdev_opts o = {
		.device_id = VIRTIO_ID_NET,
		.num_queues = 2,
		.max_queue_size = QSIZE,
		.window_size = LOOPBACK_MIN_WINDOW_SIZE,
		.fill = LB_FILL_NONE,
	};
	char name[LOOPBACK_NAME_LEN + 1], vdev[64], ifname[64], cmd[160];
	struct lbdev *d;
	int ctl, rc, posted = -1;

	tap_init("test-window-full");
	tap_watchdog(120);
	if (system("echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6") != 0)
		tap_diag("could not turn IPv6 off by default");
	if (system("modprobe virtio_net") != 0)
		tap_skip_all("modprobe virtio_net failed");
	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	if (!d)
		tap_bail("CREATE net device: %s", strerror(errno));
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;

	rc = lb_wait_bound(name, "virtio_net", vdev, sizeof(vdev), 30000);
	tap_ok(rc == 0, "virtio_net binds to a device with a %llu KiB window",
	       (unsigned long long)(d->info.window_size >> 10));
	rc = rc ? rc : lbdev_wait_status(d, 0x4 /* DRIVER_OK */, 30000);
	tap_ok(rc == 0, "the driver reaches DRIVER_OK");
	rc = rc ? rc : netdev_of(vdev, ifname, sizeof(ifname));
	tap_ok(rc == 0, "the device has a network interface (%s)", rc ? "?" : ifname);
	if (rc == 0) {
		snprintf(cmd, sizeof(cmd),
			 "echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6; ip link set dev %s up",
			 ifname, ifname);
		rc = system(cmd);
		tap_ok(rc == 0, "bring %s up (the driver fills its receive ring)", ifname);
		/* the fill runs at open; give a refill a moment too */
		for (int i = 0; i < 20; i++) {
			posted = avail_idx(d, 0);
			usleep(100 * 1000);
		}
		tap_ok(posted > 0 && posted < QSIZE,
		       "the driver posted %d of %d receive buffers: the full window stopped it",
		       posted, QSIZE);
		snprintf(cmd, sizeof(cmd), "ip link set dev %s down", ifname);
		tap_ok(system(cmd) == 0, "bring %s down again", ifname);
	}
	tap_ok(!d->broken, "the device is not broken");
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 10000) == 0, "after close the device is gone");
	close(ctl);
	return tap_finish();
}
