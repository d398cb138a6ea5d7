// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-race: the device fd's control paths racing the data path.  In each
 * case a /dev/hwrng reader pulls 32 KiB through the device while another
 * thread does something to it; the bytes must still be exactly the
 * device's, in order, and nothing may fail.
 *
 *  A  interrupt storm: LOOPBACK_DEV_INTERRUPT on the queue and the config
 *     interrupt, and SET_CONFIG with NOTIFY, in a loop
 *  B  the ioeventfd of queue 0 is assigned and deassigned in a loop, so
 *     kicks switch between the eventfd and posted traps
 *  C  the irqfd of queue 0 is deassigned and assigned in a loop, so
 *     interrupts switch between the irqfd and the ioctl
 *  D  two threads serve the same device fd (read traps, write replies)
 *  E  the irqfd's eventfd is closed while bound: the module lets go of it
 *     (EPOLLHUP) and a new irqfd can be assigned to the queue
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define NBYTES (256 << 10)	/* at most; reading stops after 32 KiB once the racer did 50 rounds */
#define SLICE 32768

struct racer {
	struct lbdev *d;
	volatile bool stop;
	long ops, errors;
	char err[128];
	int mode;
};

static void note_err(struct racer *r, const char *what)
{
	r->errors++;
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "%s: %s", what, strerror(errno));
}

static void *interrupt_storm(void *arg)
{
	struct racer *r = arg;
	struct loopback_interrupt q0 = { .queue = 0 }, cfgirq = { .queue = LOOPBACK_CONFIG_IRQ };
	uint8_t cfg[8];
	struct loopback_config c = { .offset = 0, .length = sizeof(cfg), .data = (uintptr_t)cfg,
				     .flags = LOOPBACK_CONFIG_NOTIFY };

	while (!r->stop) {
		if (ioctl(r->d->fd, LOOPBACK_DEV_INTERRUPT, &q0) < 0)
			note_err(r, "INTERRUPT 0");
		if (ioctl(r->d->fd, LOOPBACK_DEV_INTERRUPT, &cfgirq) < 0)
			note_err(r, "INTERRUPT CONFIG_IRQ");
		memset(cfg, (int)r->ops, sizeof(cfg));
		if (ioctl(r->d->fd, LOOPBACK_DEV_SET_CONFIG, &c) < 0)
			note_err(r, "SET_CONFIG");
		r->ops++;
	}
	return NULL;
}

static void *ioeventfd_toggle(void *arg)
{
	struct racer *r = arg;
	struct loopback_ioeventfd io = {
		.addr = r->d->info.regs_base + VM_QUEUE_NOTIFY,
		.datamatch = 0,
		.len = 4,
		.fd = r->d->kick_fd[0],
		.flags = LOOPBACK_IOEVENTFD_DATAMATCH,
	};

	while (!r->stop) {
		io.flags = LOOPBACK_IOEVENTFD_DATAMATCH | LOOPBACK_IOEVENTFD_DEASSIGN;
		if (ioctl(r->d->fd, LOOPBACK_DEV_IOEVENTFD, &io) < 0)
			note_err(r, "IOEVENTFD deassign");
		usleep(200);
		io.flags = LOOPBACK_IOEVENTFD_DATAMATCH;
		if (ioctl(r->d->fd, LOOPBACK_DEV_IOEVENTFD, &io) < 0)
			note_err(r, "IOEVENTFD assign");
		usleep(200);
		r->ops++;
	}
	return NULL;
}

/* the model writes irq_fd[0] under d->lock: swap it under the lock too */
static void *irqfd_toggle(void *arg)
{
	struct racer *r = arg;
	struct lbdev *d = r->d;
	int efd = d->irq_fd[0];
	struct loopback_irqfd irq = { .queue = 0, .fd = efd };

	while (!r->stop) {
		pthread_mutex_lock(&d->lock);
		d->irq_fd[0] = -1;	/* the model raises through the ioctl now */
		pthread_mutex_unlock(&d->lock);
		irq.flags = LOOPBACK_IRQFD_DEASSIGN;
		if (ioctl(d->fd, LOOPBACK_DEV_IRQFD, &irq) < 0)
			note_err(r, "IRQFD deassign");
		usleep(200);
		irq.flags = 0;
		if (ioctl(d->fd, LOOPBACK_DEV_IRQFD, &irq) < 0) {
			note_err(r, "IRQFD assign");
		} else {
			pthread_mutex_lock(&d->lock);
			d->irq_fd[0] = efd;
			pthread_mutex_unlock(&d->lock);
		}
		usleep(200);
		r->ops++;
	}
	return NULL;
}

static void *second_server(void *arg)
{
	struct racer *r = arg;
	int fl = fcntl(r->d->fd, F_GETFL);

	/* two readers: the one that loses the race must not block in read() */
	if (fl < 0 || fcntl(r->d->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		note_err(r, "fcntl O_NONBLOCK");
	while (!r->stop) {
		if (lbdev_serve(r->d, 100) > 0)
			r->ops++;
	}
	return NULL;
}

static void run_case(const char *what, struct lbdev_opts o, void *(*fn)(void *))
{
	char name[LOOPBACK_NAME_LEN + 1], rng[64];
	struct racer r = { 0 };
	uint8_t *buf = malloc(NBYTES);
	struct lb_match m;
	struct lbdev *d;
	pthread_t t;
	ssize_t n;
	int ctl, rc;

	tap_diag("%s", what);
	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	close(ctl);
	if (!d || !buf) {
		tap_ok(false, "%s: CREATE: %s", what, strerror(errno));
		free(buf);
		return;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	rc = lb_wait_bound(name, "virtio_rng", NULL, 0, 20000);
	if (rc == 0)
		rc = lb_rng_use_single(rng, sizeof(rng), 10000);
	tap_ok(rc == 0, "%s: bound, hwrng current", what);
	if (rc)
		goto out;
	r.d = d;
	if (pthread_create(&t, NULL, fn, &r))
		tap_bail("pthread_create");
	n = 0;
	do {
		ssize_t k = lb_hwrng_read(buf + n, SLICE, 4096, 60000);

		if (k != SLICE) {
			tap_diag("%s: read of %d bytes at %zd: %zd", what, SLICE, n, k);
			break;
		}
		n += k;
	} while (n < NBYTES && r.ops < 50);
	r.stop = true;
	pthread_join(t, NULL);
	tap_ok(n >= SLICE && n % SLICE == 0, "%s: read %zd bytes while racing", what, n);
	if (n > 0) {
		rc = lb_stream_match(d->o.seed, lbdev_produced(d), buf, (size_t)n, 16, &m);
		tap_ok(rc == 0, "%s: the bytes are exactly the device's (%u run%s)", what, m.runs,
		       m.runs == 1 ? "" : "s");
	}
	tap_ok(r.errors == 0 && r.ops > 0, "%s: %ld racing operations, %ld failed%s%s", what, r.ops, r.errors,
	       r.err[0] ? ": " : "", r.err);
	pthread_mutex_lock(&d->lock);
	tap_diag("%s: kicks: %llu traps, %llu eventfd; interrupts %llu; traps %llu", what,
		 (unsigned long long)d->notify_traps, (unsigned long long)d->eventfd_kicks,
		 (unsigned long long)d->interrupts, (unsigned long long)d->traps);
	tap_ok(!d->errmsg[0] && !d->interrupt_errors, "%s: the device model saw no error%s%s", what,
	       d->errmsg[0] ? ": " : "", d->errmsg);
	pthread_mutex_unlock(&d->lock);
out:
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: gone after close", what);
	free(buf);
}

static void test_irqfd_closed(void)
{
	const char *what = "E: the irqfd's eventfd is closed while bound";
	struct lbdev_opts o = { .irqfd = true };
	char name[LOOPBACK_NAME_LEN + 1], rng[64];
	uint8_t buf[4096];
	struct loopback_irqfd irq = { .queue = 0 };
	struct lbdev *d;
	uint64_t t0;
	int ctl, rc, efd, old;
	ssize_t n;

	tap_diag("%s", what);
	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	close(ctl);
	if (!d) {
		tap_ok(false, "%s: CREATE: %s", what, strerror(errno));
		return;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	rc = lb_wait_bound(name, "virtio_rng", NULL, 0, 20000);
	if (rc == 0)
		rc = lb_rng_use_single(rng, sizeof(rng), 10000);
	tap_ok(rc == 0, "%s: bound, hwrng current", what);
	if (rc)
		goto out;
	pthread_mutex_lock(&d->lock);
	old = d->irq_fd[0];
	d->irq_fd[0] = -1;	/* interrupts through the ioctl from now on */
	pthread_mutex_unlock(&d->lock);
	close(old);
	n = lb_hwrng_read(buf, sizeof(buf), sizeof(buf), 20000);
	tap_ok(n == (ssize_t)sizeof(buf), "%s: I/O goes on with the ioctl (%zd)", what, n);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	irq.fd = efd;
	t0 = lb_now_ms();
	do {
		rc = ioctl(d->fd, LOOPBACK_DEV_IRQFD, &irq);
		if (rc == 0 || errno != EEXIST)
			break;
		lb_sleep_ms(20);
	} while (lb_now_ms() - t0 < 3000);
	tap_ok(rc == 0, "%s: a new irqfd on queue 0 is accepted %llu ms later%s%s", what,
	       (unsigned long long)(lb_now_ms() - t0), rc ? ": " : "", rc ? strerror(errno) : "");
	if (rc == 0) {
		pthread_mutex_lock(&d->lock);
		d->irq_fd[0] = efd;
		pthread_mutex_unlock(&d->lock);
		n = lb_hwrng_read(buf, sizeof(buf), sizeof(buf), 20000);
		tap_ok(n == (ssize_t)sizeof(buf), "%s: I/O goes on with the new irqfd (%zd)", what, n);
	} else {
		close(efd);
	}
out:
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: gone after close", what);
}

int main(void)
{
	int base;

	tap_init("test-race");
	close(lb_open_ctl());
	base = lb_virtio_count();
	run_case("A: interrupt storm", (struct lbdev_opts){ .config_size = 8 }, interrupt_storm);
	run_case("B: ioeventfd assign/deassign", (struct lbdev_opts){ .ioeventfd = true }, ioeventfd_toggle);
	run_case("C: irqfd deassign/assign", (struct lbdev_opts){ .irqfd = true }, irqfd_toggle);
	run_case("D: two threads serve one fd", (struct lbdev_opts){ 0 }, second_server);
	test_irqfd_closed();
	tap_ok(lb_wait_count(base, 10000) == 0, "virtio devices back to %d", base);
	return tap_finish();
}
