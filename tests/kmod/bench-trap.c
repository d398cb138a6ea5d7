// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench-trap: round-trip latencies of loopback.ko, median / p99 / mean.
 *
 *  floor   eventfd ping-pong between two threads (two wakeups, no module)
 *  trap    a trapped register read: pread() of the virtio device's sysfs
 *          "status" attribute makes the virtio core call get_status(),
 *          which the transport traps; the device thread reads the trap
 *          and writes the reply
 *  hwrng   read(64) from /dev/hwrng with the loopback entropy device as
 *          the current rng: a kick (ioeventfd), the fill in the window,
 *          an interrupt (irqfd), the reader's wakeup
 *
 *   bench-trap [-n ITERATIONS] [-w WARMUP] [-H HWRNG_ITERATIONS]
 *              (default 100000, 1000, ITERATIONS)
 *
 * The hwrng numbers include the hwrng core's own pauses: rng_dev_read()
 * sleeps a jiffy whenever need_resched() is set, which on one CPU is
 * whenever the device thread was woken, so keep -H small under TCG.
 *
 * Prints TAP (one "ok" per measurement) with the numbers as diagnostics.
 * Under TCG the numbers only show that it works.
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static long iters = 100000, warmup = 1000, hwrng_iters = -1;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, long n)
{
	uint64_t sum = 0;
	long i;

	if (n <= 0) {
		tap_ok(false, "%s: no samples", what);
		return;
	}
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	for (i = 0; i < n; i++)
		sum += ns[i];
	tap_ok(true, "%s: %ld round trips", what, n);
	tap_diag("%-6s median %8.2f us  p99 %8.2f us  mean %8.2f us  min %8.2f us  max %9.2f us", what,
		 ns[n / 2] / 1e3, ns[(n * 99) / 100] / 1e3, (double)sum / n / 1e3, ns[0] / 1e3, ns[n - 1] / 1e3);
}

static int ping[2];

static void *pong_thread(void *arg)
{
	uint64_t v;
	long i, total = *(long *)arg;

	for (i = 0; i < total; i++) {
		if (read(ping[0], &v, sizeof(v)) != sizeof(v))
			break;
		if (write(ping[1], &v, sizeof(v)) != sizeof(v))
			break;
	}
	return NULL;
}

static void bench_floor(void)
{
	uint64_t *ns = calloc((size_t)iters, sizeof(*ns)), v = 1;
	long total = iters + warmup, i;
	pthread_t t;

	ping[0] = eventfd(0, EFD_CLOEXEC);
	ping[1] = eventfd(0, EFD_CLOEXEC);
	if (!ns || ping[0] < 0 || ping[1] < 0 || pthread_create(&t, NULL, pong_thread, &total))
		tap_bail("floor setup: %s", strerror(errno));
	for (i = 0; i < total; i++) {
		uint64_t t0 = lb_now_ns();

		if (write(ping[0], &v, sizeof(v)) != sizeof(v) || read(ping[1], &v, sizeof(v)) != sizeof(v))
			tap_bail("eventfd: %s", strerror(errno));
		if (i >= warmup)
			ns[i - warmup] = lb_now_ns() - t0;
	}
	pthread_join(t, NULL);
	report("floor", ns, iters);
	close(ping[0]);
	close(ping[1]);
	free(ns);
}

static void bench_trap(struct lbdev *d, const char *vdev)
{
	uint64_t *ns = calloc((size_t)iters, sizeof(*ns)), traps0;
	char path[128], buf[64];
	long i;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/status", LB_VIRTIO_DEVICES, vdev);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!ns || fd < 0) {
		tap_ok(false, "trap: open %s: %s", path, strerror(errno));
		free(ns);
		return;
	}
	pthread_mutex_lock(&d->lock);
	traps0 = d->traps;
	pthread_mutex_unlock(&d->lock);
	if (pread(fd, buf, sizeof(buf), 0) <= 0) {
		tap_ok(false, "trap: read %s: %s", path, strerror(errno));
		close(fd);
		free(ns);
		return;
	}
	pthread_mutex_lock(&d->lock);
	traps0 = d->traps - traps0;
	pthread_mutex_unlock(&d->lock);
	if (!traps0) {
		tap_skip("trap: reading %s traps nothing (the kernel answers Status itself): no cheap "
			 "user-triggered trapped read", path);
		close(fd);
		free(ns);
		return;
	}
	for (i = 0; i < iters + warmup; i++) {
		uint64_t t0 = lb_now_ns();

		if (pread(fd, buf, sizeof(buf), 0) <= 0) {
			tap_ok(false, "trap: read %s: %s (after %ld)", path, strerror(errno), i);
			close(fd);
			free(ns);
			return;
		}
		if (i >= warmup)
			ns[i - warmup] = lb_now_ns() - t0;
	}
	close(fd);
	report("trap", ns, iters);
	free(ns);
}

static void bench_hwrng(void)
{
	uint64_t *ns = calloc((size_t)hwrng_iters, sizeof(*ns));
	uint8_t buf[64];
	long i;
	int fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);

	if (!ns || fd < 0) {
		tap_ok(false, "hwrng: open /dev/hwrng: %s", strerror(errno));
		free(ns);
		return;
	}
	for (i = 0; i < hwrng_iters + warmup; i++) {
		uint64_t t0 = lb_now_ns();

		if (read(fd, buf, sizeof(buf)) != sizeof(buf)) {
			tap_ok(false, "hwrng: read: %s (after %ld)", strerror(errno), i);
			close(fd);
			free(ns);
			return;
		}
		if (i >= warmup)
			ns[i - warmup] = lb_now_ns() - t0;
	}
	close(fd);
	report("hwrng", ns, hwrng_iters);
	free(ns);
}

int main(int argc, char **argv)
{
	struct lbdev_opts o = { .ioeventfd = true, .irqfd = true };
	char vdev[64], rng[64];
	struct lbdev *d;
	int opt, ctl;

	while ((opt = getopt(argc, argv, "n:w:H:")) != -1) {
		switch (opt) {
		case 'n': iters = atol(optarg); break;
		case 'w': warmup = atol(optarg); break;
		case 'H': hwrng_iters = atol(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n ITERATIONS] [-w WARMUP] [-H HWRNG_ITERATIONS]\n", argv[0]);
			return 2;
		}
	}
	if (iters < 1)
		iters = 1;
	if (warmup < 0)
		warmup = 0;
	if (hwrng_iters < 1)
		hwrng_iters = iters;
	tap_init("bench-trap");
	tap_watchdog(0);	/* a benchmark may take long; each step has its own checks */
	bench_floor();
	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	if (!d)
		tap_bail("CREATE: %s", strerror(errno));
	if (lb_wait_bound(d->info.name, "virtio_rng", vdev, sizeof(vdev), 20000) < 0) {
		tap_ok(false, "bound to virtio_rng");
		return tap_finish();
	}
	bench_trap(d, vdev);
	if (lb_rng_use_single(rng, sizeof(rng), 10000) == 0)
		bench_hwrng();
	else
		tap_ok(false, "hwrng: no loopback hwrng to make current");
	lbdev_destroy(d, false);
	close(ctl);
	return tap_finish();
}
