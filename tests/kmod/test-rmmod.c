// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-rmmod: unloading loopback.ko is refused while anything can still
 * reach it (an open /dev/loopback, a device fd, only a mapping of a
 * window) and works once everything is closed; loading it again works and
 * its devices work.  Also: unloading right after the last close (while
 * the teardown may still run) either waits, is refused for a moment, or
 * succeeds, and never crashes.
 *
 *   test-rmmod -k PATH.ko [-p "PARAMS"]
 *
 * PARAMS are the module parameters for the reloads (e.g.
 * "trap_timeout_ms=2000").  The module is loaded when the test ends.
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *ko_path;
static const char *params = "";

static int unload(void)
{
	return (int)syscall(SYS_delete_module, "loopback", O_NONBLOCK);
}

static int load(void)
{
	int fd = open(ko_path, O_RDONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return -1;
	r = (int)syscall(SYS_finit_module, fd, params, 0);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

static bool loaded(void)
{
	struct stat st;

	return stat("/sys/module/loopback", &st) == 0;
}

static void refcnt_diag(const char *when)
{
	char buf[32];

	if (lb_read_file("/sys/module/loopback/refcnt", buf, sizeof(buf)) == 0)
		tap_diag("module refcnt %s: %s", when, buf);
}

/* wait for devtmpfs to show (or drop) /dev/loopback */
static int wait_ctl_node(bool present, unsigned int ms)
{
	uint64_t end = lb_now_ms() + ms;
	struct stat st;

	for (;;) {
		if ((stat(LB_CTL_PATH, &st) == 0) == present)
			return 0;
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(10);
	}
}

static void expect_refused(const char *while_what)
{
	int r = unload();

	EXPECT_ERR(r, while_what, EWOULDBLOCK, EBUSY);
	tap_ok(loaded(), "%s: the module is still loaded", while_what);
}

static struct lbdev *bound_device(int ctl, char *name)
{
	struct lbdev_opts o = { 0 };
	struct lbdev *d = lbdev_create(ctl, &o);

	if (!d) {
		tap_ok(false, "CREATE: %s", strerror(errno));
		return NULL;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	tap_ok(lb_wait_bound(name, "virtio_rng", NULL, 0, 20000) == 0, "%s bound to virtio_rng", name);
	return d;
}

static void reload(const char *when)
{
	int r = load();

	tap_ok(r == 0, "insmod again %s%s%s", when, r ? ": " : "", r ? strerror(errno) : "");
	tap_ok(wait_ctl_node(true, 5000) == 0, "/dev/loopback is back");
}

int main(int argc, char **argv)
{
	char name[LOOPBACK_NAME_LEN + 1];
	struct lbdev *d;
	void *map;
	size_t maplen;
	int ctl, opt, r, i;
	uint64_t t0;

	while ((opt = getopt(argc, argv, "k:p:")) != -1) {
		switch (opt) {
		case 'k': ko_path = optarg; break;
		case 'p': params = optarg; break;
		default:
			fprintf(stderr, "usage: %s -k PATH.ko [-p PARAMS]\n", argv[0]);
			return 2;
		}
	}
	tap_init("test-rmmod");
	if (!ko_path)
		tap_skip_all("no -k PATH.ko");
	if (access(ko_path, R_OK) < 0)
		tap_skip_all("%s: %s", ko_path, strerror(errno));
	if (!loaded())
		tap_skip_all("loopback.ko is not loaded");
	ctl = lb_open_ctl();
	refcnt_diag("with /dev/loopback open");

	/* 1. an open control node */
	expect_refused("rmmod while /dev/loopback is open");

	/* 2. a device fd (control node closed) */
	d = bound_device(ctl, name);
	close(ctl);
	if (!d)
		return tap_finish();
	refcnt_diag("with a device");
	expect_refused("rmmod while a device fd is open");

	/* 3. only a mapping of the window */
	map = lbdev_close_keep_map(d, &maplen);
	refcnt_diag("with only a mapping");
	expect_refused("rmmod while only a window mapping is left");
	{
		int sig = lb_touch((volatile uint8_t *)map + maplen - 1, false);

		/* closing broke the device: the owner's mapping is revoked */
		tap_ok(sig == SIGBUS, "the mapping is still there, revoked: a read gets %s (want SIGBUS)",
		       lb_signame(sig));
	}
	munmap(map, maplen);
	tap_ok(lb_wait_gone(name, 10000) == 0, "after munmap the virtio device is gone");

	/* 4. nothing left: rmmod works */
	t0 = lb_now_ms();
	do {
		r = unload();
		if (r == 0 || (errno != EWOULDBLOCK && errno != EBUSY))
			break;
		lb_sleep_ms(50);
	} while (lb_now_ms() - t0 < 10000);
	EXPECT_OK(r, "rmmod once everything is closed");
	tap_ok(!loaded() && wait_ctl_node(false, 5000) == 0, "module and /dev/loopback are gone");
	if (loaded())
		return tap_finish();

	/* 5. insmod again; devices work */
	reload("(1)");
	ctl = lb_open_ctl();
	d = bound_device(ctl, name);
	if (d) {
		char rng[64];
		uint8_t buf[256];
		struct lb_match m;
		ssize_t n = -1;

		if (lb_rng_use_single(rng, sizeof(rng), 10000) == 0)
			n = lb_hwrng_read(buf, sizeof(buf), sizeof(buf), 20000);
		tap_ok(n == (ssize_t)sizeof(buf) &&
			       lb_stream_match(d->o.seed, lbdev_produced(d), buf, sizeof(buf), 4, &m) == 0,
		       "after the reload the device delivers its bytes through /dev/hwrng (%zd)", n);
		lbdev_destroy(d, false);
	}
	close(ctl);

	/* 6. rmmod right after the last close, several times */
	for (i = 0; i < 3; i++) {
		ctl = lb_open_ctl();
		d = bound_device(ctl, name);
		close(ctl);
		if (!d)
			break;
		lbdev_destroy(d, i & 1);
		t0 = lb_now_ms();
		do {
			r = unload();
			if (r == 0 || (errno != EWOULDBLOCK && errno != EBUSY))
				break;
			lb_sleep_ms(5);
		} while (lb_now_ms() - t0 < 10000);
		tap_ok(r == 0, "rmmod right after the last close (round %d) succeeded within %llu ms%s%s", i,
		       (unsigned long long)(lb_now_ms() - t0), r ? ": " : "", r ? strerror(errno) : "");
		tap_ok(lb_wait_gone(name, 5000) == 0, "round %d: the virtio device is gone", i);
		if (r)
			break;
		reload("after an rmmod right after close");
	}
	if (!loaded())
		reload("(final)");
	return tap_finish();
}
