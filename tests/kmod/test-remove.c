// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-remove: LOOPBACK_DEV_REMOVE, the orderly unplug, on an entropy
 * device (virtio_rng).
 *
 *  A  bad arguments start nothing
 *  B  a bound device: the driver's removal runs while the model still
 *     answers its traps; then EPOLLHUP without EPOLLERR, read() returns 0,
 *     only GET_INFO and WINDOW_FD still work, a second REMOVE is
 *     EALREADY, and the window stays mapped (the device did not break)
 *  C  REMOVE right after CREATE, before the driver probed: the probe
 *     finishes first, then the removal (timeout_ms 0: the module's default)
 *  D  a model that stops answering in the middle of the removal: after
 *     timeout_ms the device breaks (EPOLLERR), the virtio device goes all
 *     the same, the owner's mapping is revoked (SIGBUS), REMOVE is EIO
 *
 * Needs loopback.ko loaded and virtio_rng available; run as root.
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int ctl;

/* poll()'s revents for the device fd once one of @mask shows, or 0 */
static short wait_revents(int fd, short mask, unsigned int ms)
{
	uint64_t end = lb_now_ms() + ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		p.revents = 0;
		if (poll(&p, 1, 50) == 1 && (p.revents & mask))
			return p.revents;
		if (lb_now_ms() >= end)
			return 0;
		if (p.revents)
			lb_sleep_ms(20);	/* POLLIN: the model is at it */
	}
}

static int do_remove(struct lbdev *d, uint32_t timeout_ms)
{
	struct loopback_remove rm = { .timeout_ms = timeout_ms };

	return ioctl(d->fd, LOOPBACK_DEV_REMOVE, &rm);
}

static uint64_t traps_of(struct lbdev *d)
{
	uint64_t n;

	pthread_mutex_lock(&d->lock);
	n = d->traps;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* a bound rng device whose driver reached DRIVER_OK; NULL on failure */
static struct lbdev *bound_rng(const struct lbdev_opts *o, char *name)
{
	struct lbdev *d = lbdev_create(ctl, o);

	if (!d) {
		tap_ok(false, "CREATE: %s", strerror(errno));
		return NULL;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	if (o->manual)
		return d;
	if (lb_wait_bound(name, "virtio_rng", NULL, 0, 20000) ||
	    lbdev_wait_status(d, VS_DRIVER_OK, 20000)) {
		tap_ok(false, "%s does not reach DRIVER_OK", name);
		lbdev_destroy(d, false);
		return NULL;
	}
	return d;
}

static void test_bad_args(struct lbdev *d, const char *name)
{
	struct loopback_remove rm;
	char v[64];

	tap_diag("A: bad arguments");
	rm = (struct loopback_remove){ .flags = 1 };
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_REMOVE, &rm), "REMOVE flags 1", EINVAL);
	rm = (struct loopback_remove){ .flags = 1U << 31 };
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_REMOVE, &rm), "REMOVE flags 1<<31", EINVAL);
	rm = (struct loopback_remove){ .reserved = 1 };
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_REMOVE, &rm), "REMOVE reserved 1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_REMOVE, (void *)8), "REMOVE bad pointer", EFAULT);
	EXPECT_ERR(ioctl(ctl, LOOPBACK_DEV_REMOVE, &rm), "REMOVE on the control node", ENOTTY);
	lb_sleep_ms(200);
	tap_ok(lb_find_virtio(name, v, sizeof(v)) == 0, "the rejected REMOVEs removed nothing");
}

static void test_orderly(void)
{
	struct lbdev_opts o = { .config_size = 8 };
	char name[LOOPBACK_NAME_LEN + 1];
	struct loopback_window_fd wf = { 0 };
	struct loopback_interrupt in = { 0 };
	struct loopback_dev_info info;
	struct loopback_config cfg;
	struct loopback_irqfd irq;
	struct loopback_ioeventfd io;
	uint64_t before, t0;
	uint8_t buf[64], cbyte = 0;
	short rev;
	ssize_t n;
	int efd, wfd, sig;
	struct lbdev *d;

	d = bound_rng(&o, name);
	if (!d)
		return;
	test_bad_args(d, name);

	tap_diag("B: orderly removal of a bound device");
	before = traps_of(d);
	t0 = lb_now_ms();
	EXPECT_OK(do_remove(d, 10000), "REMOVE (timeout 10 s)");
	EXPECT_ERR(do_remove(d, 10000), "REMOVE again while it runs", EALREADY);
	tap_ok(lb_wait_gone(name, 10000) == 0, "the virtio device is gone (%llu ms)",
	       (unsigned long long)(lb_now_ms() - t0));
	rev = wait_revents(d->fd, POLLHUP | POLLERR, 10000);
	tap_ok(rev & POLLHUP && !(rev & (POLLERR | POLLIN)),
	       "poll: EPOLLHUP, no EPOLLERR, no EPOLLIN (revents %#x)", rev);
	tap_ok(traps_of(d) > before, "the model answered %llu traps during the removal",
	       (unsigned long long)(traps_of(d) - before));
	tap_ok(!d->errmsg[0], "the model saw no protocol error%s%s", d->errmsg[0] ? ": " : "", d->errmsg);
	n = read(d->fd, buf, sizeof(buf));
	tap_ok(n == 0, "read() returns 0 after the removal (%zd%s%s)", n, n < 0 ? ": " : "",
	       n < 0 ? strerror(errno) : "");

	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_GET_INFO, &info), "GET_INFO after the removal");
	wfd = ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, &wf);
	EXPECT_OK(wfd, "WINDOW_FD after the removal");
	if (wfd >= 0)
		close(wfd);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, &in), "INTERRUPT after the removal", ENODEV);
	efd = eventfd(0, EFD_CLOEXEC);
	irq = (struct loopback_irqfd){ .queue = 0, .fd = efd };
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, &irq), "IRQFD after the removal", ENODEV);
	io = (struct loopback_ioeventfd){ .addr = d->info.regs_base + VM_QUEUE_NOTIFY, .len = 4, .fd = efd };
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, &io), "IOEVENTFD after the removal", ENODEV);
	cfg = (struct loopback_config){ .length = 1, .data = (uintptr_t)&cbyte };
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, &cfg), "SET_CONFIG after the removal", ENODEV);
	close(efd);
	EXPECT_ERR(do_remove(d, 0), "REMOVE after the removal", EALREADY);
	sig = lb_touch(d->win, false);
	tap_ok(sig == 0, "the window stays mapped: the device did not break (%s)", lb_signame(sig));
	lbdev_destroy(d, false);
}

static void test_before_probe(void)
{
	struct lbdev_opts o = { .manual = true };
	char name[LOOPBACK_NAME_LEN + 1];
	struct lbdev *d;
	short rev;

	tap_diag("C: REMOVE before the driver probed");
	d = bound_rng(&o, name);
	if (!d)
		return;
	EXPECT_OK(do_remove(d, 0), "REMOVE right after CREATE (timeout_ms 0: trap_timeout_ms)");
	lbdev_start(d);
	rev = wait_revents(d->fd, POLLHUP | POLLERR, 20000);
	tap_ok(rev & POLLHUP && !(rev & POLLERR), "poll: EPOLLHUP, no EPOLLERR (revents %#x)", rev);
	tap_ok(lb_wait_gone(name, 1000) == 0, "the virtio device is gone");
	pthread_mutex_lock(&d->lock);
	tap_ok((d->status_seen & VS_DRIVER_OK) && d->resets >= 2,
	       "the probe finished first (statuses written %#x), then the removal reset the device (%u resets)",
	       d->status_seen, d->resets);
	pthread_mutex_unlock(&d->lock);
	tap_ok(!d->errmsg[0], "the model saw no protocol error%s%s", d->errmsg[0] ? ": " : "", d->errmsg);
	lbdev_destroy(d, false);
}

static void test_timeout(void)
{
	struct lbdev_opts o = { 0 };
	char name[LOOPBACK_NAME_LEN + 1];
	uint64_t t0, dt;
	struct lbdev *d;
	short rev;
	int sig;

	tap_diag("D: the model stops answering during the removal");
	d = bound_rng(&o, name);
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stall_next_status = true;
	pthread_mutex_unlock(&d->lock);
	t0 = lb_now_ms();
	EXPECT_OK(do_remove(d, 500), "REMOVE (timeout 500 ms), the model stalls at the next Status access");
	rev = wait_revents(d->fd, POLLERR, 10000);
	dt = lb_now_ms() - t0;
	tap_ok((rev & POLLERR) && dt >= 400, "the device breaks after the timeout (EPOLLERR after %llu ms)",
	       (unsigned long long)dt);
	tap_ok(lbdev_wait_stalled(d, 100) == 0, "the model did stall in the removal");
	tap_ok(lb_wait_gone(name, 10000) == 0, "the virtio device goes all the same");
	rev = wait_revents(d->fd, POLLHUP, 10000);
	tap_ok((rev & (POLLHUP | POLLERR)) == (POLLHUP | POLLERR),
	       "poll: EPOLLERR and EPOLLHUP once the removal ended (revents %#x)", rev);
	sig = lb_touch(d->win, false);
	tap_ok(sig == SIGBUS, "the owner's mapping is revoked: %s", lb_signame(sig));
	EXPECT_ERR(do_remove(d, 0), "REMOVE on the broken device", EIO);
	lbdev_destroy(d, false);
}

int main(void)
{
	uint64_t feats = 0;
	int base;

	tap_init("test-remove");
	ctl = lb_open_ctl();
	if (ioctl(ctl, LOOPBACK_GET_FEATURES, &feats) < 0 || !(feats & LOOPBACK_F_REMOVE))
		tap_ok(false, "GET_FEATURES offers LOOPBACK_F_REMOVE (%#llx)", (unsigned long long)feats);
	base = lb_virtio_count();
	test_orderly();
	test_before_probe();
	test_timeout();
	tap_ok(lb_wait_count(base, 10000) == 0, "virtio devices back to %d", base);
	close(ctl);
	return tap_finish();
}
