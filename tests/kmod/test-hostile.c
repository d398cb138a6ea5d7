// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-hostile: a device that tries to corrupt the driver's side of its
 * rings.  virtio_ring trusts the descriptor table and the available ring:
 * it ends a chain where the table's NEXT flag says, so a device that sets
 * NEXT everywhere sends detach_buf_split() round the table for ever (in
 * interrupt context), and NEXT on one chain's tail corrupts the free list
 * so that a token comes back twice.  loopback.ko makes those pages
 * read-only to the device.
 *
 *  A  the layout: the descriptor table starts a page, the used ring starts
 *     a page of its own after the available ring
 *  B  the device reads the descriptor table and the available ring, but a
 *     write to either faults SIGBUS, through any mapping (a second one,
 *     one made writable again with mprotect); GUP for writing fails:
 *     process_vm_writev() and a read() from a pipe into them are EFAULT;
 *     the used ring's page takes writes; and the rng still delivers
 *     exactly the device's bytes (the device reads the rings and writes
 *     the used ring)
 *  C  the reproduction: a device answers the rng probe, holds a buffer,
 *     and sets VRING_DESC_F_NEXT in every descriptor: it dies of SIGBUS
 *     at the first write; the kernel fails the buffer, the device goes
 *     away, no lockup and no "not a mapping of the window" / "not a head"
 *  D  the same through process_vm_writev() (EFAULT, the process lives):
 *     the device then returns the buffer it held and /dev/hwrng gets
 *     exactly its bytes, once
 *  E  a device that wrote the first half of its window before the driver
 *     set its queue up (so it may hold writable mappings of those pages):
 *     the ring goes to pages it never wrote, and still refuses writes
 *  F  the driver unbound and bound again 30 times while the device writes
 *     its used ring and bounce pages: each new ring finds the pages the
 *     old one's descriptor table and available ring left clean (the used
 *     ring's page may have been written), so the window does not run out
 *     of pages a ring may go to
 *  G  a device that returns the buffer it held twice: the kernel sees the
 *     second used entry before the driver does, refuses the ring and
 *     breaks the device; the driver never sees a head twice (it runs last:
 *     it leaves "malformed ring" in the log)
 *  H  a back end in another process that holds only a window fd: it
 *     writes the first half of the window before the queue setup, so the
 *     ring goes to pages it never wrote, and through its mapping the
 *     descriptor table and the available ring refuse writes (SIGBUS);
 *     once the device fd is closed (the window is revoked) its writes at
 *     those same offsets land on the scratch page without a signal
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL

static int base_count;

/* an rng device whose driver is bound and whose hwrng is current */
static struct lbdev *rng_up(int ctl, enum lbdev_fill fill, char *rng, size_t len)
{
	struct lbdev_opts o = { .fill = fill };
	struct lbdev *d = lbdev_create(ctl, &o);

	if (!d)
		return NULL;
	if (lb_wait_bound(d->info.name, "virtio_rng", NULL, 0, 20000) < 0 ||
	    lb_rng_use_single(rng, len, 10000) < 0) {
		tap_diag("%s: virtio_rng did not come up (%s)", d->info.name, d->errmsg);
		lbdev_destroy(d, false);
		return NULL;
	}
	return d;
}

/* a write of one byte into the process's own memory through GUP */
static long vm_write_self(void *dst, uint8_t v)
{
	struct iovec l = { .iov_base = &v, .iov_len = 1 };
	struct iovec r = { .iov_base = dst, .iov_len = 1 };

	return process_vm_writev(getpid(), &l, 1, &r, 1, 0);
}

/* a read() from a pipe into dst (the kernel writes user memory) */
static long pipe_read_into(void *dst)
{
	int p[2];
	long n;

	if (pipe(p) < 0)
		return -2;
	if (write(p[1], "xxxxxxxx", 8) != 8)
		n = -2;
	else
		n = read(p[0], dst, 8);
	close(p[0]);
	close(p[1]);
	return n;
}

static void test_layout_and_writes(void)
{
	const char *what = "A/B";
	uint8_t *desc, *avail, *used, *alias, data[256];
	uint64_t dpage, apage, upage;
	struct lb_match mt;
	char rng[64];
	struct lbdev *d;
	void *dv, *av, *uv;
	uint32_t num;
	ssize_t n;
	int ctl, rc;

	ctl = lb_open_ctl();
	d = rng_up(ctl, LB_FILL_FULL, rng, sizeof(rng));
	close(ctl);
	if (!tap_ok(d != NULL, "%s: an rng device is up", what))
		return;
	if (!tap_ok(lbdev_rings(d, 0, &dv, &av, &uv) == 0, "%s: queue 0 is set up", what)) {
		lbdev_destroy(d, false);
		return;
	}
	desc = dv;
	avail = av;
	used = uv;
	num = d->q[0].num;
	dpage = (uint64_t)(desc - d->win) / PAGE;
	apage = (uint64_t)(avail + 6 + 2 * num - 1 - d->win) / PAGE;
	upage = (uint64_t)(used - d->win) / PAGE;
	tap_ok((uint64_t)(desc - d->win) % PAGE == 0 && (uint64_t)(used - d->win) % PAGE == 0,
	       "A: the descriptor table and the used ring start pages (desc +%#llx, used +%#llx)",
	       (unsigned long long)(desc - d->win), (unsigned long long)(used - d->win));
	tap_ok(apage < upage && dpage <= apage,
	       "A: the used ring has pages of its own (desc page %llu, avail ends in page %llu, used page %llu)",
	       (unsigned long long)dpage, (unsigned long long)apage, (unsigned long long)upage);

	tap_ok(lb_touch(desc, false) == 0 && lb_touch(avail, false) == 0,
	       "B: the device reads the descriptor table and the available ring");
	rc = lb_touch(desc + 12, true);
	tap_ok(rc == SIGBUS, "B: a write to the descriptor table faults SIGBUS (signal %d)", rc);
	rc = lb_touch(avail, true);
	tap_ok(rc == SIGBUS, "B: a write to the available ring faults SIGBUS (signal %d)", rc);
	rc = lb_touch(used + PAGE - 1, true);
	tap_ok(rc == 0 && 6 + 8 * num + 2 < PAGE, "B: the used ring's page takes writes (signal %d)", rc);
	rc = (int)vm_write_self(desc + 12, 0xff);
	EXPECT_ERR(rc, "B: process_vm_writev() into the descriptor table", EFAULT);
	rc = (int)vm_write_self(avail + 2, 0xff);
	EXPECT_ERR(rc, "B: process_vm_writev() into the available ring", EFAULT);
	EXPECT_ERR(pipe_read_into(desc), "B: read() from a pipe into the descriptor table", EFAULT);
	EXPECT_OK(vm_write_self(used + PAGE - 2, 0), "B: process_vm_writev() into the used ring's page");

	alias = mmap(NULL, d->info.window_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		     (off_t)d->info.window_base);
	if (tap_ok(alias != MAP_FAILED, "B: a second mapping of the window")) {
		rc = lb_touch(alias + (desc - d->win) + 12, true);
		tap_ok(rc == SIGBUS, "B: ... a write to the descriptor table through it faults SIGBUS (%d)",
		       rc);
		munmap(alias, d->info.window_size);
	}
	rc = mprotect(desc, PAGE, PROT_READ);
	if (!rc)
		rc = mprotect(desc, PAGE, PROT_READ | PROT_WRITE);
	EXPECT_OK(rc, "B: mprotect() read-only and back to read-write");
	rc = lb_touch(desc + 12, true);
	tap_ok(rc == SIGBUS, "B: ... the descriptor table still refuses writes (signal %d)", rc);

	n = lb_hwrng_read(data, sizeof(data), 64, 10000);
	rc = n == (ssize_t)sizeof(data) &&
	     lb_stream_match(d->o.seed, lbdev_produced(d), data, sizeof(data), 4, &mt) == 0;
	tap_ok(rc, "B: /dev/hwrng still returns the device's bytes (%zd read)", n);
	tap_ok(!d->errmsg[0], "B: the device model saw no protocol error (%s)", d->errmsg);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "B: virtio devices back to %d", base_count);
}

enum hostile {
	H_DIRECT,	/* NEXT everywhere, stored through the mapping */
	H_VM_WRITEV,	/* NEXT everywhere, through process_vm_writev() */
	H_TWICE,	/* the held buffer returned twice */
};

/*
 * The device process of C and D: serves the rng until the hwrng is up,
 * then holds the next buffer and sets NEXT in every descriptor.
 */
static void hostile_device(enum hostile how, int evt)
{
	uint8_t tmp[64];
	struct lb_vdesc *desc;
	void *dv, *av, *uv;
	uint32_t i, refused = 0;
	char rng[64], extra[95];
	struct lbdev *d;
	uint64_t end;
	int ctl;

	alarm(120);
	ctl = open(LB_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		_exit(80);
	d = rng_up(ctl, LB_FILL_FULL, rng, sizeof(rng));
	if (!d) {
		lb_msg_send(evt, "error", "", strerror(errno));
		_exit(81);
	}
	lb_msg_send(evt, "created", d->info.name, rng);
	/* once the probe is over: hold the buffer a read posts */
	lb_sleep_ms(300);
	lbdev_set_fill(d, LB_FILL_HOLD);
	lb_hwrng_read(tmp, sizeof(tmp), sizeof(tmp), 500);
	end = lb_now_ms() + 5000;
	while (lbdev_held(d, 0) < 1 && lb_now_ms() < end)
		lb_sleep_ms(10);
	if (lbdev_held(d, 0) < 1 || lbdev_rings(d, 0, &dv, &av, &uv) < 0) {
		lb_msg_send(evt, "noheld", d->info.name, d->errmsg);
		for (;;)
			pause();
	}
	desc = dv;
	lb_msg_send(evt, "armed", d->info.name, NULL);
	if (how == H_TWICE) {
		uint16_t head;

		pthread_mutex_lock(&d->lock);
		head = d->q[0].held_head[0];
		pthread_mutex_unlock(&d->lock);
		lbdev_set_fill(d, LB_FILL_FULL);
		lbdev_complete_held(d, 0, 0);
		lb_sleep_ms(200);
		lbdev_push_used(d, 0, head);
		end = lb_now_ms() + 5000;
		while (!__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE) && lb_now_ms() < end)
			lb_sleep_ms(10);
		lb_msg_send(evt, "done", d->info.name,
			    __atomic_load_n(&d->broken, __ATOMIC_ACQUIRE) ? "broken" : "not broken");
		for (;;)
			pause();
	}
	for (i = 0; i < d->q[0].num; i++) {
		uint16_t fl = desc[i].flags | htole16(VRING_DESC_F_NEXT);

		if (how == H_DIRECT)
			desc[i].flags = fl;	/* SIGBUS: the process dies here */
		else if (vm_write_self(&desc[i].flags, (uint8_t)fl) < 0 && errno == EFAULT)
			refused++;
	}
	snprintf(extra, sizeof(extra), "%u of %u writes refused", refused, d->q[0].num);
	/* return the held buffer (the driver walks its intact chain), serve on */
	lbdev_set_fill(d, LB_FILL_FULL);
	if (lbdev_complete_held(d, 0, 0) < 0)
		snprintf(extra, sizeof(extra), "completing the held buffer failed: %.50s", d->errmsg);
	lb_msg_send(evt, "done", d->info.name, extra);
	for (;;)
		pause();
}

static void test_next_everywhere(enum hostile how, const char *what)
{
	char name[LOOPBACK_NAME_LEN + 1] = "";
	struct lb_msg m;
	uint8_t data[64];
	int e[2], st, rc;
	ssize_t n = 0;
	pid_t pid;

	tap_diag("%s", what);
	if (pipe2(e, O_CLOEXEC) < 0)
		tap_bail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(e[0]);
		hostile_device(how, e[1]);
	}
	close(e[1]);
	if (lb_msg_recv(e[0], &m, 30000) < 0 || strcmp(m.tag, "created")) {
		tap_ok(false, "%s: the device process brought an rng up (%s %s)", what, m.tag, m.extra);
		goto kill;
	}
	snprintf(name, sizeof(name), "%s", m.name);
	rc = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "armed");
	tap_ok(rc, "%s: the device holds a buffer and turns hostile (%s %s)", what,
	       m.tag, m.extra);
	if (!rc)
		goto kill;
	if (how == H_DIRECT) {
		rc = lb_wait_child(pid, &st, 15000);
		tap_ok(rc == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
		       "%s: the device process died of SIGBUS at its first write (status %#x)", what,
		       rc == 0 ? st : -1);
		if (rc == 0)
			pid = 0;
	} else if (how == H_TWICE) {
		rc = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "done");
		tap_ok(rc && !strcmp(m.extra, "broken"),
		       "%s: the device is broken (its fd reports EPOLLERR: %s %s)", what, m.tag, m.extra);
		tap_ok(lb_kmsg_contains("malformed ring"),
		       "%s: the kernel refused the ring (\"malformed ring\" logged)", what);
	} else {
		rc = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "done");
		tap_ok(rc && !strncmp(m.extra, "256 of 256 ", 11),
		       "%s: every process_vm_writev() into the table was refused (%s)", what, m.extra);
		/* the held buffer came back: the next read gets fresh bytes */
		n = lb_hwrng_read(data, sizeof(data), sizeof(data), 10000);
		tap_ok(n == (ssize_t)sizeof(data), "%s: /dev/hwrng reads again (%zd)", what, n);
	}
kill:
	if (pid > 0) {
		kill(pid, SIGKILL);
		if (lb_wait_child(pid, &st, 15000) < 0) {
			lb_dump_task(pid, "device process");
			tap_bail("%s: the device process is stuck in the kernel", what);
		}
	}
	close(e[0]);
	if (!name[0])
		return;
	tap_ok(lb_wait_gone(name, 15000) == 0, "%s: the virtio device of %s is gone", what, name);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
	tap_ok(!lb_kmsg_contains("not a mapping of the window"),
	       "%s: no unmap of a foreign address (the chain walk stayed in the chain)", what);
	tap_ok(!lb_kmsg_contains("is not a head"), "%s: no head came back twice", what);
	if (how != H_TWICE)
		tap_ok(!lb_kmsg_contains("malformed ring"), "%s: the kernel refused no ring", what);
}

static void test_written_pages(void)
{
	const char *what = "E: pages written before the queue setup";
	struct lbdev_opts o = { .manual = true };
	void *dv, *av, *uv;
	uint64_t off, half;
	struct lbdev *d;
	char rng[64];
	int ctl, rc;

	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	close(ctl);
	if (!tap_ok(d != NULL, "%s: CREATE (%s)", what, d ? "" : strerror(errno)))
		return;
	/* the driver's probe waits for the first trap's reply meanwhile */
	half = d->info.window_size / 2;
	for (off = 0; off < half; off += PAGE)
		d->win[off] = 0x5a;
	lbdev_start(d);
	if (!tap_ok(lb_wait_bound(d->info.name, "virtio_rng", NULL, 0, 20000) == 0 &&
		    lb_rng_wait_single(rng, sizeof(rng), 10000) == 0 &&
		    lbdev_rings(d, 0, &dv, &av, &uv) == 0, "%s: virtio_rng comes up", what)) {
		lbdev_destroy(d, false);
		return;
	}
	off = (uint64_t)((uint8_t *)dv - d->win);
	tap_ok(off >= half, "%s: the ring is not on a written page (desc at +%#llx, written below +%#llx)",
	       what, (unsigned long long)off, (unsigned long long)half);
	rc = lb_touch((uint8_t *)dv + 12, true);
	tap_ok(rc == SIGBUS, "%s: a write to its descriptor table faults SIGBUS (signal %d)", what, rc);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

/*
 * H's back end: maps window fd @wfd, writes the first half of the window
 * and says "written" on @evt; on "ring" (extra: the descriptor table's and
 * the available ring's offsets) tries to write both and says what it got;
 * on "revoked" writes them again: no signal, and the bytes read back (the
 * scratch page).  Never returns.
 */
static void window_fd_backend(int wfd, size_t size, int evt, int cmd)
{
	unsigned long long doff = 0, aoff = 0;
	char extra[95];
	struct lb_msg m;
	uint8_t *w;
	size_t off;
	int rd, ra;

	w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	if (w == MAP_FAILED) {
		lb_msg_send(evt, "error", "", "mmap of the window fd");
		_exit(1);
	}
	for (off = 0; off < size / 2; off += PAGE)
		w[off] = 0x5a;
	lb_msg_send(evt, "written", "", "");
	if (lb_msg_recv(cmd, &m, 60000) < 0 || strcmp(m.tag, "ring") ||
	    sscanf(m.extra, "%llx %llx", &doff, &aoff) != 2 || doff >= size || aoff >= size)
		_exit(1);
	rd = lb_touch(w + doff + 12, true);
	ra = lb_touch(w + aoff + 2, true);
	snprintf(extra, sizeof(extra), "%d %d", rd, ra);
	lb_msg_send(evt, "ring", "", extra);
	if (lb_msg_recv(cmd, &m, 60000) < 0 || strcmp(m.tag, "revoked"))
		_exit(1);
	rd = lb_touch(w + doff + 12, true);
	ra = lb_touch(w + aoff + 2, true);
	snprintf(extra, sizeof(extra), "%d %d %d", rd, ra,
		 rd == 0 && ra == 0 && w[doff + 12] == 0x42 && w[aoff + 2] == 0x42);
	lb_msg_send(evt, "revoked", "", extra);
	_exit(0);
}

static void test_window_fd_backend(void)
{
	const char *what = "H: a back end with only a window fd";
	struct loopback_window_fd wf = { .flags = LOOPBACK_WINDOW_FD_CLOEXEC };
	struct lbdev_opts o = { .manual = true };
	int ctl, wfd, e[2], c[2], rd, ra, ok, st;
	unsigned long long doff, aoff;
	void *dv, *av, *uv;
	char extra[95];
	struct lb_msg m;
	struct lbdev *d;
	char rng[64];
	pid_t pid;

	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	close(ctl);
	if (!tap_ok(d != NULL, "%s: CREATE (%s)", what, d ? "" : strerror(errno)))
		return;
	wfd = ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, &wf);
	if (!tap_ok(wfd >= 0, "%s: WINDOW_FD (%s)", what, wfd < 0 ? strerror(errno) : "ok") ||
	    pipe2(e, O_CLOEXEC) < 0 || pipe2(c, O_CLOEXEC) < 0) {
		lbdev_destroy(d, false);
		return;
	}
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(d->fd);	/* the back end holds the window fd only */
		close(e[0]);
		close(c[1]);
		window_fd_backend(wfd, d->info.window_size, e[1], c[0]);
	}
	close(wfd);
	close(e[1]);
	close(c[0]);
	ok = lb_msg_recv(e[0], &m, 30000) == 0 && !strcmp(m.tag, "written");
	tap_ok(ok, "%s: it wrote the first half of the window before the queue setup", what);
	lbdev_start(d);
	ok = ok && lb_wait_bound(d->info.name, "virtio_rng", NULL, 0, 20000) == 0 &&
	     lb_rng_wait_single(rng, sizeof(rng), 10000) == 0 &&
	     lbdev_rings(d, 0, &dv, &av, &uv) == 0;
	if (!tap_ok(ok, "%s: virtio_rng comes up", what))
		goto out;
	doff = (uint64_t)((uint8_t *)dv - d->win);
	aoff = (uint64_t)((uint8_t *)av - d->win);
	tap_ok(doff >= d->info.window_size / 2,
	       "%s: the ring is not on a page it wrote (desc at +%#llx)", what, doff);
	snprintf(extra, sizeof(extra), "%llx %llx", doff, aoff);
	lb_msg_send(c[1], "ring", "", extra);
	ok = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "ring") &&
	     sscanf(m.extra, "%d %d", &rd, &ra) == 2;
	tap_ok(ok && rd == SIGBUS && ra == SIGBUS,
	       "%s: its writes to the descriptor table and the available ring fault SIGBUS (%s)",
	       what, ok ? m.extra : "no answer");
	lbdev_destroy(d, false);
	d = NULL;
	lb_msg_send(c[1], "revoked", "", "");
	ok = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "revoked");
	tap_ok(ok && !strcmp(m.extra, "0 0 1"),
	       "%s: after the revocation its writes there land on the scratch page, no signal (%s)",
	       what, ok ? m.extra : "no answer");
out:
	if (d)
		lbdev_destroy(d, false);
	close(c[1]);
	ok = lb_wait_child(pid, &st, 15000) == 0;
	if (!ok) {
		kill(pid, SIGKILL);
		lb_wait_child(pid, &st, 5000);
	}
	tap_ok(ok && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the back end exited normally (%#x)",
	       what, ok ? st : -1);
	close(e[0]);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

#define REBINDS 30

static void test_rebind(void)
{
	const char *what = "F: unbind and bind the driver";
	char rng[64], vdev[64], why[128] = "";
	void *dv, *av, *uv;
	uint8_t data[64];
	struct lbdev *d;
	int ctl, i, rc;

	ctl = lb_open_ctl();
	d = rng_up(ctl, LB_FILL_FULL, rng, sizeof(rng));
	close(ctl);
	if (!tap_ok(d != NULL && lb_find_virtio(d->info.name, vdev, sizeof(vdev)) == 0,
		    "%s: an rng device is up", what)) {
		lbdev_destroy(d, false);
		return;
	}
	for (i = 0; i < REBINDS; i++) {
		if (lb_write_file("/sys/bus/virtio/drivers/virtio_rng/unbind", vdev) < 0 ||
		    lb_write_file("/sys/bus/virtio/drivers/virtio_rng/bind", vdev) < 0) {
			snprintf(why, sizeof(why), "unbind/bind: %s", strerror(errno));
			break;
		}
		if (lb_wait_bound(d->info.name, "virtio_rng", NULL, 0, 10000) < 0 ||
		    lb_rng_use_single(rng, sizeof(rng), 10000) < 0) {
			snprintf(why, sizeof(why), "the probe failed (%.80s)", d->errmsg);
			break;
		}
		if (lb_hwrng_read(data, sizeof(data), sizeof(data), 10000) != (ssize_t)sizeof(data)) {
			snprintf(why, sizeof(why), "no data (%.80s)", d->errmsg);
			break;
		}
	}
	tap_ok(i == REBINDS, "%s: %d times, the rng works each time (%d done; %s)", what, REBINDS, i,
	       why);
	if (i == REBINDS && lbdev_rings(d, 0, &dv, &av, &uv) == 0) {
		rc = lb_touch((uint8_t *)dv + 12, true);
		tap_ok(rc == SIGBUS, "%s: the last ring's descriptor table refuses writes (signal %d)",
		       what, rc);
	}
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

int main(void)
{
	tap_init("test-hostile");
	tap_watchdog(200);
	close(lb_open_ctl());
	base_count = lb_virtio_count();

	test_layout_and_writes();
	test_next_everywhere(H_DIRECT, "C: NEXT in every descriptor, written directly");
	test_next_everywhere(H_VM_WRITEV, "D: NEXT in every descriptor, through process_vm_writev()");
	test_written_pages();
	test_rebind();
	test_window_fd_backend();
	test_next_everywhere(H_TWICE, "G: the held buffer returned twice");
	return tap_finish();
}
