// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-kill: the device process dies, or stops answering, at bad moments.
 *
 *  A  SIGKILL while the kernel waits for the reply to the first Status trap
 *     (registration)
 *  B  SIGKILL while the driver's probe waits for a Status reply
 *  C  SIGKILL while a /dev/hwrng read waits for data (mid-I/O)
 *  D  SIGKILL while a user-triggered trap (a read of the virtio device's
 *     sysfs status) waits for its reply
 *  E  a device that never answers: the first trap times out, the device is
 *     broken (EPOLLERR), the driver is not bound, close is clean
 *  F  a device that stops answering once bound: a trapped read returns
 *     after the timeout, the device is broken, a pending /dev/hwrng read
 *     returns once the fd is closed
 *  G  SIGKILL of a device that never completes the buffer virtio-rng posts
 *     in its probe.  If the hwrng core's kthread (started when the rng
 *     becomes current) reads first, it waits in virtio_read() for that
 *     buffer holding reading_mutex, the probe's hwrng_register() ->
 *     add_early_randomness() waits for reading_mutex, and the probe can
 *     only return once the buffer comes back: the kernel returns it (used
 *     length 0) when the owner dies.  On the 1-CPU guest the probe usually
 *     takes the mutex first (it is scheduling, so this runs first, before
 *     other cases leave a kthread around); either way nothing may be left
 *     behind.
 *  H  a device that returns a head it does not hold (out of range) while
 *     a buffer is in flight: the kernel, which accounts what the device
 *     holds, refuses the ring before the driver sees the interrupt
 *     ("malformed ring" in the log), breaks the device (its fd reports
 *     EPOLLERR), never touches memory outside the window, and still
 *     removes the device once the process is killed.  (Until the
 *     available ring became read-only to the device, H scribbled a bad
 *     head into it; test-hostile checks that such a write now faults.)
 *
 *  I  trap_timeout_ms refuses 0 and more than 600000 (ten minutes); with
 *     it at 60 s, a process whose sysfs status read waits for a device
 *     that stopped answering is SIGKILLed: it dies at once (the wait is
 *     killable), and the device is broken as by a timeout (EPOLLERR, the
 *     blocked read() of traps returns), then goes on close
 *
 * In every case: no hang (every wait has a deadline; a stuck task's kernel
 * stack is printed), the virtio device goes away, nothing is left behind.
 * E and F need loopback.ko loaded with trap_timeout_ms <= 5000 (the value
 * is read from /sys/module/loopback/parameters/trap_timeout_ms, or -t MS).
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int base_count;
static long timeout_ms = -1;

enum child_mode {
	CH_STALL_FIRST_STATUS, CH_STALL_PROBE_STATUS, CH_NO_IO, CH_STALL_ON_COMMAND, CH_NO_IO_EVER,
	CH_CORRUPT
};

/* the device process: never returns */
static void child(enum child_mode mode, int evt, int cmd)
{
	struct lbdev_opts o = { 0 };
	struct lbdev *d;
	char extra[95];
	int ctl;

	alarm(120);
	o.stall_first_status = mode == CH_STALL_FIRST_STATUS;
	o.stall_status_after_driver = mode == CH_STALL_PROBE_STATUS;
	if (mode == CH_NO_IO || mode == CH_NO_IO_EVER)
		o.fill = LB_FILL_NONE;
	ctl = open(LB_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		_exit(80);
	d = lbdev_create(ctl, &o);
	if (!d) {
		snprintf(extra, sizeof(extra), "%s", strerror(errno));
		lb_msg_send(evt, "error", "", extra);
		_exit(81);
	}
	lb_msg_send(evt, "created", d->info.name, NULL);
	switch (mode) {
	case CH_STALL_FIRST_STATUS:
	case CH_STALL_PROBE_STATUS:
		if (lbdev_wait_stalled(d, 20000) == 0) {
			snprintf(extra, sizeof(extra), "trap id %llu %s regs+%#llx data %#llx (status %#x)",
				 (unsigned long long)d->stall_trap.id,
				 d->stall_trap.flags & LOOPBACK_TRAP_WRITE ? "write" : "read",
				 (unsigned long long)(d->stall_trap.addr - d->info.regs_base),
				 (unsigned long long)d->stall_trap.data, d->status);
			lb_msg_send(evt, "stalled", d->info.name, extra);
		} else {
			lb_msg_send(evt, "nostall", d->info.name, d->errmsg);
		}
		break;
	case CH_NO_IO:
	case CH_CORRUPT: {
		char rng[64];

		/*
		 * Serve normally until the probe is over (the hwrng is
		 * registered and its early read is done), then never complete
		 * a buffer again.  Starving the driver during its probe hangs
		 * the guest's hwrng core instead (see the comment at the top).
		 */
		if (lb_wait_bound(d->info.name, "virtio_rng", extra, sizeof(extra), 20000) < 0 ||
		    lb_rng_wait_single(rng, sizeof(rng), 10000) < 0) {
			lb_msg_send(evt, "unbound", d->info.name, d->errmsg);
			break;
		}
		lb_sleep_ms(300);
		pthread_mutex_lock(&d->lock);
		d->o.fill = LB_FILL_NONE;
		pthread_mutex_unlock(&d->lock);
		if (mode == CH_CORRUPT) {
			uint8_t tmp[64];
			uint64_t end = lb_now_ms() + 5000;

			/* a read that drains the driver's data posts a buffer */
			lb_rng_use_single(rng, sizeof(rng), 5000);
			lb_hwrng_read(tmp, sizeof(tmp), sizeof(tmp), 1000);
			while (lbdev_in_flight(d, 0) < 1 && lb_now_ms() < end)
				lb_sleep_ms(10);
			/* return a head out of range; the device breaks */
			if (lbdev_in_flight(d, 0) < 1 || lbdev_push_used(d, 0, 0xffff) < 0) {
				lb_msg_send(evt, "nocorrupt", d->info.name, d->errmsg);
				break;
			}
			end = lb_now_ms() + 5000;
			while (!__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE) && lb_now_ms() < end)
				lb_sleep_ms(10);
			snprintf(extra, sizeof(extra), "%s", d->broken ? "broken" : "not broken");
		}
		lb_msg_send(evt, "bound", d->info.name, extra);
		break;
	}
	case CH_NO_IO_EVER:
		/* the probe has started once the driver link exists */
		if (lb_wait_bound(d->info.name, "virtio_rng", extra, sizeof(extra), 20000) < 0) {
			lb_msg_send(evt, "unbound", d->info.name, d->errmsg);
			break;
		}
		lb_msg_send(evt, "bound", d->info.name, extra);
		break;
	case CH_STALL_ON_COMMAND: {
		struct pollfd p = { .fd = cmd, .events = POLLIN };
		char c;

		if (lb_wait_bound(d->info.name, "virtio_rng", extra, sizeof(extra), 20000) < 0) {
			lb_msg_send(evt, "unbound", d->info.name, d->errmsg);
			break;
		}
		lb_msg_send(evt, "bound", d->info.name, extra);
		if (poll(&p, 1, 30000) != 1 || read(cmd, &c, 1) != 1)
			_exit(82);
		pthread_mutex_lock(&d->lock);
		d->stall_next_status = true;
		pthread_mutex_unlock(&d->lock);
		lb_msg_send(evt, "armed", d->info.name, NULL);
		if (lbdev_wait_stalled(d, 10000) == 0)
			lb_msg_send(evt, "stalled", d->info.name, NULL);
		else
			lb_msg_send(evt, "nostall", d->info.name, NULL);
		break;
	}
	}
	for (;;)
		pause();
}

struct devproc {
	pid_t pid;
	int evt, cmd;
	char name[LOOPBACK_NAME_LEN + 1];
};

static int start_child(enum child_mode mode, struct devproc *p)
{
	int e[2], c[2];
	struct lb_msg m;

	if (pipe2(e, O_CLOEXEC) < 0 || pipe2(c, O_CLOEXEC) < 0)
		tap_bail("pipe: %s", strerror(errno));
	p->pid = fork();
	if (p->pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (p->pid == 0) {
		close(e[0]);
		close(c[1]);
		child(mode, e[1], c[0]);
	}
	close(e[1]);
	close(c[0]);
	p->evt = e[0];
	p->cmd = c[1];
	if (lb_msg_recv(p->evt, &m, 15000) < 0 || strcmp(m.tag, "created")) {
		tap_ok(false, "the device process created a device (%s %s)", m.tag, m.extra);
		return -1;
	}
	snprintf(p->name, sizeof(p->name), "%s", m.name);
	return 0;
}

/* SIGKILL the device process; it must exit and its device must go */
static void kill_and_check(struct devproc *p, const char *what)
{
	int st, rc;

	kill(p->pid, SIGKILL);
	rc = lb_wait_child(p->pid, &st, 15000);
	tap_ok(rc == 0, "%s: the killed device process exited", what);
	if (rc) {
		lb_dump_task(p->pid, "device process");
		/* nothing else can be done: the rest would hang too */
		tap_bail("%s: the device process is stuck in the kernel", what);
	}
	rc = lb_wait_gone(p->name, 10000);
	tap_ok(rc == 0, "%s: the virtio device of %s is gone", what, p->name);
	if (rc)
		lb_list_virtio();
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
	close(p->evt);
	close(p->cmd);
}

static void test_kill_stalled(enum child_mode mode, const char *what)
{
	struct devproc p;
	struct lb_msg m;

	tap_diag("%s", what);
	if (start_child(mode, &p) < 0) {
		if (p.pid > 0)
			kill(p.pid, SIGKILL), lb_wait_child(p.pid, NULL, 15000);
		return;
	}
	if (lb_msg_recv(p.evt, &m, 25000) < 0 || strcmp(m.tag, "stalled")) {
		tap_ok(false, "%s: the device stalled on a Status access (%s %s)", what, m.tag, m.extra);
	} else {
		tap_ok(true, "%s: stalled on %s", what, m.extra);
		lb_sleep_ms(100);
	}
	kill_and_check(&p, what);
}

static void test_kill_mid_io(void)
{
	const char *what = "C: SIGKILL mid-I/O";
	struct devproc p;
	char rng[64];
	int rp[2], st, rc;
	pid_t r;
	struct lb_msg m;

	tap_diag("%s", what);
	if (start_child(CH_NO_IO, &p) < 0)
		return;
	if (lb_msg_recv(p.evt, &m, 25000) < 0 || strcmp(m.tag, "bound")) {
		tap_ok(false, "%s: bound to virtio_rng (%s %s)", what, m.tag, m.extra);
		kill_and_check(&p, what);
		return;
	}
	rc = lb_rng_use_single(rng, sizeof(rng), 10000);
	tap_ok(rc == 0, "%s: %s is the current hwrng", what, rng);
	if (pipe2(rp, O_CLOEXEC) < 0)
		tap_bail("pipe");
	r = fork();
	if (r == 0) {
		char buf[64];
		ssize_t n;
		int fd, e;

		alarm(60);
		fd = open("/dev/hwrng", O_RDONLY);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
		e = errno;
		dprintf(rp[1], "%zd %s", n, n < 0 ? strerror(e) : "bytes");
		_exit(0);
	}
	close(rp[1]);
	lb_sleep_ms(1000);
	rc = waitpid(r, &st, WNOHANG);
	tap_ok(rc == 0, "%s: the /dev/hwrng reader is blocked (the device never completes)", what);
	kill_and_check(&p, what);
	rc = lb_wait_child(r, &st, 15000);
	tap_ok(rc == 0, "%s: the pending /dev/hwrng read returned after the device died", what);
	if (rc) {
		lb_dump_task(r, "hwrng reader");
		kill(r, SIGKILL);
		lb_wait_child(r, &st, 5000);
	} else {
		char res[128] = "";
		ssize_t n = read(rp[0], res, sizeof(res) - 1);

		res[n > 0 ? n : 0] = 0;
		tap_diag("%s: the reader's read() gave: %s", what, res);
	}
	close(rp[0]);
}

struct sysfs_read {
	char path[128];
	char result[64];
	uint64_t ns;
	volatile bool done;
};

static void *sysfs_reader(void *arg)
{
	struct sysfs_read *s = arg;
	uint64_t t0 = lb_now_ns();
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;
	int e;

	if (fd >= 0) {
		n = read(fd, s->result, sizeof(s->result) - 1);
		e = errno;
		close(fd);
	} else {
		e = errno;
	}
	if (n < 0)
		snprintf(s->result, sizeof(s->result), "error %s", strerror(e));
	else
		s->result[n > 0 && s->result[n - 1] == '\n' ? n - 1 : n] = 0;
	s->ns = lb_now_ns() - t0;
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static int wait_flag(volatile bool *f, unsigned int ms)
{
	uint64_t end = lb_now_ms() + ms;

	while (!__atomic_load_n(f, __ATOMIC_ACQUIRE)) {
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(5);
	}
	return 0;
}

static void test_kill_user_trap(void)
{
	const char *what = "D: SIGKILL while a sysfs status read waits for its trap";
	struct sysfs_read *s = calloc(1, sizeof(*s));
	struct devproc p;
	struct lb_msg m;
	pthread_t t;
	char c = 'S';

	tap_diag("%s", what);
	if (!s || start_child(CH_STALL_ON_COMMAND, &p) < 0)
		return;
	if (lb_msg_recv(p.evt, &m, 25000) < 0 || strcmp(m.tag, "bound")) {
		tap_ok(false, "%s: bound (%s %s)", what, m.tag, m.extra);
		kill_and_check(&p, what);
		return;
	}
	snprintf(s->path, sizeof(s->path), "%s/%s/status", LB_VIRTIO_DEVICES, m.extra);
	if (write(p.cmd, &c, 1) != 1 || lb_msg_recv(p.evt, &m, 10000) < 0 || strcmp(m.tag, "armed")) {
		tap_ok(false, "%s: arm the stall", what);
		kill_and_check(&p, what);
		return;
	}
	if (pthread_create(&t, NULL, sysfs_reader, s))
		tap_bail("pthread_create");
	pthread_detach(t);
	if (lb_msg_recv(p.evt, &m, 12000) < 0 || strcmp(m.tag, "stalled")) {
		wait_flag(&s->done, 5000);
		tap_skip("%s: reading %s trapped nothing (got '%s' in %.1f ms): the kernel answers Status itself",
			 what, s->path, s->done ? s->result : "-", s->ns / 1e6);
		kill_and_check(&p, what);
		return;
	}
	tap_ok(!s->done, "%s: the sysfs read is waiting for the device", what);
	kill_and_check(&p, what);
	tap_ok(wait_flag(&s->done, 10000) == 0, "%s: the sysfs read returned ('%s' after %.0f ms)", what,
	       s->done ? s->result : "-", s->ns / 1e6);
	/* s is leaked on purpose if the reader is stuck */
	if (s->done)
		free(s);
}

/* E: never answer anything */
static void test_timeout_silent(void)
{
	const char *what = "E: a device that never answers";
	struct lbdev_opts o = { .manual = true };
	char name[LOOPBACK_NAME_LEN + 1], v[64], drv[64];
	struct pollfd pf;
	struct loopback_interrupt irq = { 0 };
	struct loopback_reply rep = { .id = 1 };
	struct loopback_trap t;
	uint64_t t0, el = 0;
	struct lbdev *d;
	int ctl, rc, broken = 0;
	ssize_t n;
	long r;

	tap_diag("%s (trap_timeout_ms %ld)", what, timeout_ms);
	ctl = lb_open_ctl();
	t0 = lb_now_ms();
	d = lbdev_create(ctl, &o);
	close(ctl);
	if (!d) {
		tap_ok(false, "%s: CREATE: %s", what, strerror(errno));
		return;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	/* POLLERR/POLLHUP come whatever is asked; ask for nothing else */
	while (lb_now_ms() - t0 < (uint64_t)(4 * timeout_ms + 10000)) {
		pf.fd = d->fd;
		pf.events = 0;
		pf.revents = 0;
		if (poll(&pf, 1, 100) == 1 && (pf.revents & (POLLERR | POLLHUP))) {
			broken = 1;
			el = lb_now_ms() - t0;
			break;
		}
	}
	tap_ok(broken, "%s: poll reports EPOLLERR after the trap timeout (after %llu ms)", what,
	       (unsigned long long)el);
	if (broken)
		tap_ok(el + 100 >= (uint64_t)timeout_ms, "%s: the kernel waited for the timeout (%llu ms >= %ld ms)",
		       what, (unsigned long long)el, timeout_ms);
	/* let the failed probe finish */
	lb_sleep_ms(2000);
	rc = lb_find_virtio(name, v, sizeof(v));
	if (rc == 0) {
		lb_virtio_driver(v, drv, sizeof(drv));
		tap_ok(!drv[0], "%s: the virtio device %s has no driver bound (%s)", what, v, drv[0] ? drv : "none");
		{
			char path[128], st[32];

			snprintf(path, sizeof(path), "%s/%s/status", LB_VIRTIO_DEVICES, v);
			tap_diag("%s: sysfs status of %s: %s", what, v,
				 lb_read_file(path, st, sizeof(st)) == 0 ? st : strerror(errno));
		}
	} else {
		tap_ok(true, "%s: the broken device's virtio device is already gone", what);
	}
	r = ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, &irq);
	tap_diag("%s: INTERRUPT on the broken device: %s", what, r < 0 ? strerror(errno) : "accepted");
	fcntl(d->fd, F_SETFL, O_NONBLOCK);
	n = read(d->fd, &t, sizeof(t));
	tap_diag("%s: read on the broken device: %zd %s", what, n, n < 0 ? strerror(errno) : "");
	n = write(d->fd, &rep, sizeof(rep));
	tap_diag("%s: write on the broken device: %zd %s", what, n, n < 0 ? strerror(errno) : "");
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: gone after close", what);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

/* reads traps (blocking) and never answers, until read() fails */
struct blocked_read {
	int fd;
	uint64_t traps;
	int err;
	volatile bool done;
};

static void *blocked_reader(void *arg)
{
	struct blocked_read *b = arg;
	struct loopback_trap t;
	ssize_t n;

	for (;;) {
		n = read(b->fd, &t, sizeof(t));
		if (n == (ssize_t)sizeof(t)) {
			b->traps++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		b->err = n < 0 ? errno : -1;
		break;
	}
	__atomic_store_n(&b->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Waits for @d to be bound and makes its rng current, then stops the
 * model: @br reads traps and never answers.  @name gets the device's name
 * even on failure, @v the virtio device's.
 */
static int bind_and_silence(struct lbdev *d, const char *what, char *name, char *v, size_t vlen,
			    struct blocked_read *br)
{
	char rng[64];
	pthread_t brt;
	int rc;

	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	rc = lb_wait_bound(name, "virtio_rng", v, vlen, 20000);
	tap_ok(rc == 0, "%s: bound", what);
	if (rc)
		return rc;
	lb_rng_use_single(rng, sizeof(rng), 10000);
	lbdev_stop(d);	/* the fd stays open */
	br->fd = d->fd;
	if (pthread_create(&brt, NULL, blocked_reader, br))
		tap_bail("pthread_create");
	pthread_detach(brt);
	return 0;
}

/* F: stop answering once bound */
static void test_timeout_bound(void)
{
	const char *what = "F: a bound device that stops answering";
	static struct blocked_read br;
	struct sysfs_read *s = calloc(1, sizeof(*s));
	char name[LOOPBACK_NAME_LEN + 1], v[64];
	struct lbdev_opts o = { 0 };
	struct pollfd pf;
	struct lbdev *d;
	pthread_t t;
	pid_t r = -1;
	int ctl, rc, st;

	tap_diag("%s (trap_timeout_ms %ld)", what, timeout_ms);
	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	close(ctl);
	if (!d || !s) {
		tap_ok(false, "%s: CREATE: %s", what, strerror(errno));
		return;
	}
	if (bind_and_silence(d, what, name, v, sizeof(v), &br))
		goto out;
	snprintf(s->path, sizeof(s->path), "%s/%s/status", LB_VIRTIO_DEVICES, v);
	if (pthread_create(&t, NULL, sysfs_reader, s))
		tap_bail("pthread_create");
	pthread_detach(t);
	rc = wait_flag(&s->done, (unsigned int)(2 * timeout_ms + 5000));
	tap_ok(rc == 0, "%s: a trapped sysfs status read returns ('%s' after %.0f ms)", what,
	       s->done ? s->result : "-", s->ns / 1e6);
	if (rc == 0 && s->ns / 1000000 + 100 < (uint64_t)timeout_ms) {
		tap_skip("%s: the status read did not wait for a trap (%.1f ms): nothing to time out", what,
			 s->ns / 1e6);
		goto out;
	}
	pf.fd = d->fd;
	pf.events = 0;
	pf.revents = 0;
	rc = poll(&pf, 1, 5000);
	tap_ok(rc == 1 && (pf.revents & (POLLERR | POLLHUP)), "%s: the device is broken (revents %#x)", what,
	       rc == 1 ? pf.revents : 0);
	rc = wait_flag(&br.done, 5000);
	tap_ok(rc == 0 && br.err != 0, "%s: a read() blocked on the fd returns when the device breaks "
	       "(%s, after %llu traps)", what, rc ? "still blocked" : strerror(br.err),
	       (unsigned long long)br.traps);

	/* a reader on the broken device returns at the latest when the fd closes */
	r = fork();
	if (r == 0) {
		char buf[64];
		int fd;

		alarm(60);
		fd = open("/dev/hwrng", O_RDONLY);
		_exit(fd < 0 ? 2 : read(fd, buf, sizeof(buf)) < 0 ? 1 : 0);
	}
	lb_sleep_ms(500);
out:
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: gone after close", what);
	if (r > 0) {
		rc = lb_wait_child(r, &st, 15000);
		tap_ok(rc == 0, "%s: the /dev/hwrng reader returned after close (exit %d)", what,
		       rc == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		if (rc) {
			lb_dump_task(r, "hwrng reader");
			kill(r, SIGKILL);
			lb_wait_child(r, &st, 5000);
		}
	}
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
	if (s->done)
		free(s);
}

#define TIMEOUT_PARAM "/sys/module/loopback/parameters/trap_timeout_ms"

/* I: bounds of trap_timeout_ms; a killed sysfs reader breaks the device */
static void test_kill_waiter(void)
{
	const char *what = "I: SIGKILL of a task waiting for a trap";
	static struct blocked_read br;
	char name[LOOPBACK_NAME_LEN + 1], v[64], path[128], old[32];
	struct lbdev_opts o = { 0 };
	struct pollfd pf;
	struct lbdev *d;
	uint64_t t0;
	pid_t r;
	int ctl, rc, st;

	tap_diag("%s", what);
	if (lb_read_file(TIMEOUT_PARAM, old, sizeof(old)) < 0) {
		tap_skip("%s: no %s", what, TIMEOUT_PARAM);
		return;
	}
	tap_ok(lb_write_file(TIMEOUT_PARAM, "600001") < 0 && errno == EINVAL,
	       "%s: trap_timeout_ms refuses 600001", what);
	tap_ok(lb_write_file(TIMEOUT_PARAM, "0") < 0 && errno == EINVAL, "%s: trap_timeout_ms refuses 0", what);
	tap_ok(lb_write_file(TIMEOUT_PARAM, "600000") == 0, "%s: trap_timeout_ms takes 600000", what);
	if (lb_write_file(TIMEOUT_PARAM, "60000") < 0)
		tap_bail("set %s: %s", TIMEOUT_PARAM, strerror(errno));

	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	close(ctl);
	if (!d) {
		tap_ok(false, "%s: CREATE: %s", what, strerror(errno));
		goto restore;
	}
	if (bind_and_silence(d, what, name, v, sizeof(v), &br)) {
		lbdev_destroy(d, false);
		goto restore;
	}
	snprintf(path, sizeof(path), "%s/%s/status", LB_VIRTIO_DEVICES, v);
	r = fork();
	if (r == 0) {
		char buf[64];
		int fd = open(path, O_RDONLY);

		_exit(fd < 0 ? 2 : read(fd, buf, sizeof(buf)) < 0 ? 1 : 0);
	}
	t0 = lb_now_ms();
	while (!__atomic_load_n(&br.traps, __ATOMIC_RELAXED) && lb_now_ms() - t0 < 10000)
		lb_sleep_ms(5);
	if (!br.traps) {
		tap_skip("%s: reading %s trapped nothing: the kernel answers Status itself", what, path);
		kill(r, SIGKILL);
		lb_wait_child(r, &st, 70000);
		lbdev_destroy(d, false);
		goto restore;
	}
	lb_sleep_ms(300);
	t0 = lb_now_ms();
	kill(r, SIGKILL);
	rc = lb_wait_child(r, &st, 5000);
	tap_ok(rc == 0 && WIFSIGNALED(st), "%s: the killed reader exited at once (%llu ms)", what,
	       (unsigned long long)(lb_now_ms() - t0));
	if (rc) {
		lb_dump_task(r, "sysfs reader");
		lb_wait_child(r, &st, 70000);
	}
	pf.fd = d->fd;
	pf.events = 0;
	pf.revents = 0;
	rc = poll(&pf, 1, 5000);
	tap_ok(rc == 1 && (pf.revents & (POLLERR | POLLHUP)), "%s: the device is broken (revents %#x)", what,
	       rc == 1 ? pf.revents : 0);
	rc = wait_flag(&br.done, 5000);
	tap_ok(rc == 0 && br.err != 0, "%s: the blocked read() of traps returned (%s)", what,
	       rc ? "still blocked" : strerror(br.err));
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: gone after close", what);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
restore:
	if (lb_write_file(TIMEOUT_PARAM, old) < 0)
		tap_bail("restore %s: %s", TIMEOUT_PARAM, strerror(errno));
}

/* G: the buffer posted in the probe is never completed */
static void test_kill_probe_io(void)
{
	const char *what = "G: SIGKILL while the rng probe waits for its buffer";
	struct devproc p;
	struct lb_msg m;
	char avail[256];

	tap_diag("%s", what);
	if (start_child(CH_NO_IO_EVER, &p) < 0)
		return;
	if (lb_msg_recv(p.evt, &m, 25000) < 0 || strcmp(m.tag, "bound")) {
		tap_ok(false, "%s: the probe started (%s %s)", what, m.tag, m.extra);
		kill_and_check(&p, what);
		return;
	}
	tap_ok(true, "%s: the probe started (%s)", what, m.extra);
	/* let the probe post its buffer and the hwrng kthread wait for it */
	lb_sleep_ms(1000);
	lb_rng_available(avail, sizeof(avail));
	tap_diag("%s: rng_available before the kill: '%s'", what, avail);
	kill_and_check(&p, what);
	tap_ok(lb_rng_available(avail, sizeof(avail)) == 0 && !avail[0],
	       "%s: no virtio hwrng left ('%s')", what, avail);
}

/* H: the device returns a head it does not hold */
static void test_kill_corrupt_ring(void)
{
	const char *what = "H: a device that returns a head it does not hold";
	struct devproc p;
	struct lb_msg m;

	tap_diag("%s", what);
	if (start_child(CH_CORRUPT, &p) < 0)
		return;
	if (lb_msg_recv(p.evt, &m, 25000) < 0 || strcmp(m.tag, "bound")) {
		tap_ok(false, "%s: bound, ring corrupted (%s %s)", what, m.tag, m.extra);
		kill_and_check(&p, what);
		return;
	}
	tap_ok(!strcmp(m.extra, "broken"), "%s: the device is broken (its fd reports EPOLLERR: %s)", what,
	       m.extra);
	tap_ok(lb_kmsg_contains("malformed ring"), "%s: the kernel refused the ring (\"malformed ring\" logged)",
	       what);
	kill_and_check(&p, what);
}

int main(int argc, char **argv)
{
	char buf[64];
	int opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt == 't') {
			timeout_ms = strtol(optarg, NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [-t TRAP_TIMEOUT_MS]\n", argv[0]);
			return 2;
		}
	}
	tap_init("test-kill");
	tap_watchdog(280);
	close(lb_open_ctl());
	if (timeout_ms < 0 && lb_read_file("/sys/module/loopback/parameters/trap_timeout_ms", buf, sizeof(buf)) == 0)
		timeout_ms = strtol(buf, NULL, 0);
	base_count = lb_virtio_count();

	/* First, while no rng has been current yet (see G above). */
	test_kill_probe_io();
	test_kill_stalled(CH_STALL_FIRST_STATUS, "A: SIGKILL at the first Status trap (registration)");
	test_kill_stalled(CH_STALL_PROBE_STATUS, "B: SIGKILL at a Status trap in the driver's probe");
	test_kill_mid_io();
	test_kill_user_trap();
	test_kill_corrupt_ring();
	test_kill_waiter();
	if (timeout_ms <= 0 || timeout_ms > 5000) {
		tap_skip("E: trap timeout (trap_timeout_ms is %ld; load the module with trap_timeout_ms<=5000)",
			 timeout_ms);
		tap_skip("F: trap timeout once bound (needs trap_timeout_ms<=5000)");
	} else {
		test_timeout_silent();
		test_timeout_bound();
	}
	return tap_finish();
}
