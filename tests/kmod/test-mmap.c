// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-mmap: the DMA window mapping.  Pages outside the window fault
 * SIGBUS (before it, after it, the register block, offset 0, a mapping that
 * straddles the end); mappings of the same offset alias; a second process
 * that gets the device fd over SCM_RIGHTS maps the window and sees the same
 * bytes both ways; a forked child shares the mapping; split mappings;
 * LOOPBACK_DEV_WINDOW_FD (offset 0 is the window, fstat, nothing else
 * works on it); a mapping and a window fd that outlive the device fd do not
 * keep the device, and closing revokes them: SIGBUS in the owner, a
 * scratch page in another process.
 *
 * The device is given a device id no guest driver claims, so nothing in
 * the window belongs to a driver and the test may write anywhere in it.
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define UNCLAIMED_DEVICE_ID 0x7ff0	/* no driver in the guest */

/* maps [off, off+len) and expects a fault on the page at fault_page (or refusal) */
static void outside(struct lbdev *d, const char *what, uint64_t off, size_t len, long fault_page)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)off);
	int sr, sw, s0 = 0;

	if (p == MAP_FAILED) {
		int e = errno;

		tap_ok(fault_page >= 0 && (e == EINVAL || e == ENXIO || e == EFAULT || e == EOVERFLOW ||
					   e == ENOMEM),
		       "mmap %s: refused with %s (instead of SIGBUS on access)", what, strerror(e));
		return;
	}
	if (fault_page > 0)
		s0 = lb_touch(p, false);
	sr = lb_touch(p + fault_page * PAGE, false);
	sw = lb_touch(p + fault_page * PAGE + 8, true);
	if (fault_page > 0)
		tap_ok(s0 == 0, "mmap %s: the page inside the window reads fine (%s)", what, lb_signame(s0));
	tap_ok(sr == SIGBUS && sw == SIGBUS, "mmap %s: read gets %s, write gets %s (want SIGBUS)", what,
	       lb_signame(sr), lb_signame(sw));
	munmap(p, len);
}

/*
 * The second process: gets the fd, learns the layout with GET_INFO, maps
 * the window, checks pattern A at offset a, writes pattern B at offset b.
 * Exit status: 0 ok, 10+ the step that failed.
 */
static int child_main(int sock, uint64_t seed, size_t a, size_t b, size_t len)
{
	struct loopback_dev_info info;
	uint8_t *w, *want;
	int fd;
	char c = 'D';

	alarm(30);
	fd = lb_recv_fd(sock);
	if (fd < 0)
		return 10;
	if (ioctl(fd, LOOPBACK_DEV_GET_INFO, &info) < 0)
		return 11;
	w = mmap(NULL, info.window_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.window_base);
	if (w == MAP_FAILED)
		return 12;
	want = malloc(len);
	if (!want)
		return 13;
	lb_stream_fill(seed, 0, want, len);
	if (memcmp(w + a, want, len))
		return 14;
	lb_stream_fill(seed + 1, 0, w + b, len);
	close(fd);	/* the mapping stays */
	if (write(sock, &c, 1) != 1)
		return 15;
	/* wait for the parent's go, then check its second write */
	if (read(sock, &c, 1) != 1)
		return 16;
	lb_stream_fill(seed + 2, 0, want, len);
	if (memcmp(w + a, want, len))
		return 17;
	munmap(w, info.window_size);
	return 0;
}

/*
 * In a process that is not the owner, after the revocation: the window's
 * bytes at @off are gone (the page reads 0), writes land, and every page
 * of the mapping is the same scratch page.  Exit status: 0, or 30+.
 */
static int scratch_check(uint8_t *w, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (w[off + i])
			return 30;
	memset(w + off, 0x5c, 64);
	if (w[off + PAGE] != 0x5c || w[off + 7 * PAGE + 63] != 0x5c)
		return 31;
	return 0;
}

/* one WINDOW_FD call: the fd, or -1 with errno */
static int window_fd(struct lbdev *d, struct loopback_window_fd *wf)
{
	return ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, wf);
}

/*
 * LOOPBACK_DEV_WINDOW_FD: bad arguments; the fd maps the window from
 * offset 0 and nothing else, and takes nothing but mmap and fstat.
 */
static void test_window_fd(struct lbdev *d, uint8_t *w, uint64_t seed)
{
	const uint64_t ws = d->info.window_size;
	struct loopback_window_fd wf;
	struct loopback_dev_info info;
	struct stat sb;
	uint8_t *m, *p, buf[64];
	int wfd, fl, rc;

	tap_diag("LOOPBACK_DEV_WINDOW_FD");
#define WF(...) (wf = (struct loopback_window_fd){ __VA_ARGS__ }, &wf)
	EXPECT_ERR(window_fd(d, WF(.flags = 2)), "WINDOW_FD flags 2", EINVAL);
	EXPECT_ERR(window_fd(d, WF(.flags = 1U << 31)), "WINDOW_FD flags 1<<31", EINVAL);
	EXPECT_ERR(window_fd(d, WF(.reserved0 = 1)), "WINDOW_FD reserved0 1", EINVAL);
	EXPECT_ERR(window_fd(d, WF(.reserved[1] = 1)), "WINDOW_FD reserved[1] 1", EINVAL);
	EXPECT_ERR(window_fd(d, WF(.window_base = LOOPBACK_WINDOW_BASE)),
		   "WINDOW_FD window_base (out) set on input", EINVAL);
	EXPECT_ERR(window_fd(d, WF(.window_size = 1)), "WINDOW_FD window_size (out) set on input", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, (void *)8), "WINDOW_FD bad pointer", EFAULT);

	wfd = window_fd(d, WF(0));
	EXPECT_OK(wfd, "WINDOW_FD");
	if (wfd < 0)
		return;
	tap_ok(wf.window_base == d->info.window_base && wf.window_size == ws && !wf.reserved0 &&
		       !wf.reserved[0] && !wf.reserved[1],
	       "WINDOW_FD: window_base %#llx window_size %#llx", (unsigned long long)wf.window_base,
	       (unsigned long long)wf.window_size);
	fl = fcntl(wfd, F_GETFD);
	tap_ok(fl >= 0 && !(fl & FD_CLOEXEC), "WINDOW_FD without CLOEXEC: the fd is inherited by exec");
	rc = window_fd(d, WF(.flags = LOOPBACK_WINDOW_FD_CLOEXEC));
	fl = rc < 0 ? -1 : fcntl(rc, F_GETFD);
	tap_ok(fl >= 0 && (fl & FD_CLOEXEC), "WINDOW_FD with LOOPBACK_WINDOW_FD_CLOEXEC: FD_CLOEXEC is set");
	if (rc >= 0)
		close(rc);

	rc = fstat(wfd, &sb);
	tap_ok(rc == 0 && (uint64_t)sb.st_size == ws && sb.st_blksize > 0 &&
		       !(sb.st_blksize & (sb.st_blksize - 1)) && sb.st_blksize <= 65536 &&
		       !(ws % (uint64_t)sb.st_blksize),
	       "fstat: st_size %lld (the window), st_blksize %ld (a power of two that divides it)",
	       (long long)sb.st_size, (long)sb.st_blksize);

	/* the whole window from offset 0, as libvhost-user and DPDK map it */
	m = mmap(NULL, ws, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	tap_ok(m != MAP_FAILED, "mmap the window fd at offset 0, the whole window, PROT_READ|PROT_WRITE");
	if (m != MAP_FAILED) {
		lb_stream_fill(seed + 7, 0, w + 150 * PAGE, 3 * PAGE);
		tap_ok(!memcmp(m + 150 * PAGE, w + 150 * PAGE, 3 * PAGE),
		       "offset 0 of the window fd is the window's first byte (aliases the device fd's mapping)");
		memset(m + ws - 64, 0x3c, 64);
		tap_ok(w[ws - 1] == 0x3c && w[ws - 64] == 0x3c,
		       "a write through the window fd is seen through the device fd");
		munmap(m, ws);
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, wfd, 0);
	EXPECT_ERR(p == MAP_FAILED ? -1 : 0, "mmap of the window fd MAP_PRIVATE", EINVAL);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	/* past the end of the window: SIGBUS on access, like a file past its end */
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, (off_t)(ws - PAGE));
	if (p == MAP_FAILED) {
		tap_ok(false, "mmap of the window fd straddling its end: %s", strerror(errno));
	} else {
		int s0 = lb_touch(p, false), s1 = lb_touch(p + PAGE, false);

		tap_ok(s0 == 0 && s1 == SIGBUS,
		       "mmap straddling the window fd's end: the last page reads fine (%s), the next gets %s",
		       lb_signame(s0), lb_signame(s1));
		munmap(p, 2 * PAGE);
	}
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, (off_t)d->info.window_base);
	if (p != MAP_FAILED) {
		rc = lb_touch(p, false);
		tap_ok(rc == SIGBUS, "the window fd at offset window_base (a device-fd address) gets %s",
		       lb_signame(rc));
		munmap(p, PAGE);
	}

	/* nothing but mmap and fstat */
	EXPECT_ERR(ioctl(wfd, LOOPBACK_DEV_GET_INFO, &info), "window fd: GET_INFO", ENOTTY);
	EXPECT_ERR(ioctl(wfd, LOOPBACK_DEV_WINDOW_FD, WF(0)), "window fd: WINDOW_FD", ENOTTY);
	{
		struct loopback_interrupt in = { 0 };
		struct loopback_remove rm = { 0 };

		EXPECT_ERR(ioctl(wfd, LOOPBACK_DEV_INTERRUPT, &in), "window fd: INTERRUPT", ENOTTY);
		EXPECT_ERR(ioctl(wfd, LOOPBACK_DEV_REMOVE, &rm), "window fd: REMOVE", ENOTTY);
	}
	EXPECT_ERR(read(wfd, buf, sizeof(buf)), "window fd: read", EINVAL);
	memset(buf, 0, sizeof(buf));
	EXPECT_ERR(write(wfd, buf, 24), "window fd: write (a reply)", EINVAL, EBADF);
	close(wfd);
#undef WF
}

int main(void)
{
	struct lbdev_opts o = { .device_id = UNCLAIMED_DEVICE_ID, .window_size = 1 << 20 };
	char name[LOOPBACK_NAME_LEN + 1], vdev[64];
	uint64_t wb, ws, seed = 0x1234567;
	const size_t len = 3 * PAGE + 123;
	uint8_t *w, *pat, *alias;
	struct lbdev *d;
	int ctl, sv[2], st, rc, e;
	pid_t pid;
	char c;

	tap_init("test-mmap");
	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	if (!d) {
		e = errno;
		tap_diag("CREATE with device id %#x: %s; trying id 4 with a window no driver uses much",
			 UNCLAIMED_DEVICE_ID, strerror(e));
		o.device_id = VIRTIO_ID_ENTROPY;
		d = lbdev_create(ctl, &o);
	}
	if (!d)
		tap_bail("CREATE: %s", strerror(errno));
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	wb = d->info.window_base;
	ws = d->info.window_size;
	w = d->win;
	tap_ok(w != NULL, "map the whole window (%#llx+%#llx)", (unsigned long long)wb, (unsigned long long)ws);
	rc = lbdev_wait_status(d, VS_ACKNOWLEDGE, 10000);
	rc = lb_find_virtio(name, vdev, sizeof(vdev));
	tap_diag("virtio device of %s: %s", name, rc ? "none yet" : vdev);
	if (o.device_id == VIRTIO_ID_ENTROPY)
		lb_wait_bound(name, "virtio_rng", NULL, 0, 10000);

	/* outside the window: SIGBUS, on read and on write */
	outside(d, "one page before the window", wb - PAGE, PAGE, 0);
	outside(d, "one page after the window", wb + ws, PAGE, 0);
	outside(d, "far after the window", wb + ws + (64ULL << 20), PAGE, 0);
	outside(d, "at offset 0", 0, PAGE, 0);
	outside(d, "of the register block", d->info.regs_base, PAGE, 0);
	outside(d, "straddling the window's end", wb + ws - PAGE, 2 * PAGE, 1);
	outside(d, "straddling the window's start", wb - PAGE, 2 * PAGE, 0);
	{
		void *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, d->fd, (off_t)0x7ffffffffffff000LL);

		tap_diag("mmap at offset 0x7ffffffffffff000: %s", p == MAP_FAILED ? strerror(errno) : "mapped");
		if (p != MAP_FAILED) {
			int s = lb_touch(p, false);

			tap_ok(s == SIGBUS, "mmap at offset 0x7ffffffffffff000: read gets %s", lb_signame(s));
			munmap(p, PAGE);
		}
	}

	/* inside: aliases */
	pat = malloc(len);
	if (!pat)
		tap_bail("malloc");
	rc = lb_touch(w + ws - 1, true);
	tap_ok(rc == 0, "the window's last byte is writable (%s)", lb_signame(rc));
	lb_stream_fill(seed, 0, pat, len);
	memcpy(w + 5 * PAGE + 7, pat, len);
	alias = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, d->fd, (off_t)(wb + 4 * PAGE));
	tap_ok(alias != MAP_FAILED && !memcmp(alias + PAGE + 7, pat, len),
	       "a second mapping at window+16 KiB sees the same bytes");
	if (alias != MAP_FAILED) {
		rc = lb_touch(alias, true);
		tap_ok(rc == SIGSEGV, "writing a PROT_READ mapping gets SIGSEGV (%s)", lb_signame(rc));
		munmap(alias, 8 * PAGE);
	}

	/* split a mapping: the pieces keep working */
	alias = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)(wb + 5 * PAGE));
	if (alias == MAP_FAILED) {
		tap_ok(false, "mmap 4 pages: %s", strerror(errno));
	} else {
		rc = munmap(alias + PAGE, PAGE);
		tap_ok(rc == 0 && lb_touch(alias, false) == 0 && lb_touch(alias + 2 * PAGE, true) == 0 &&
			       lb_touch(alias + 3 * PAGE, false) == 0 && !memcmp(alias + 7, pat, PAGE - 7),
		       "a split mapping: the remaining pieces still map the window");
		alias[2 * PAGE + 8] = 0x99;
		tap_ok(w[7 * PAGE + 8] == 0x99, "a write through a split piece is seen in the first mapping");
		munmap(alias, PAGE);
		munmap(alias + 2 * PAGE, 2 * PAGE);
	}

	/* fork: the child shares the mapping */
	lb_stream_fill(seed, 0, w + 5 * PAGE + 7, len);
	pid = fork();
	if (pid == 0) {
		alarm(30);
		if (memcmp(w + 5 * PAGE + 7, pat, len))
			_exit(1);
		memset(w + 100 * PAGE, 0xab, PAGE);
		_exit(0);
	}
	rc = pid > 0 ? lb_wait_child(pid, &st, 30000) : -1;
	tap_ok(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && w[100 * PAGE] == 0xab &&
		       w[101 * PAGE - 1] == 0xab,
	       "a forked child sees the parent's bytes and the parent sees the child's");

	/* a second process gets the fd over SCM_RIGHTS */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		tap_bail("socketpair: %s", strerror(errno));
	lb_stream_fill(seed, 0, w + 200 * PAGE, len);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(child_main(sv[1], seed, 200 * PAGE, 220 * PAGE, len));
	}
	close(sv[1]);
	rc = lb_send_fd(sv[0], d->fd);
	tap_ok(rc == 0, "pass the device fd over SCM_RIGHTS");
	rc = (int)read(sv[0], &c, 1);
	lb_stream_fill(seed + 1, 0, pat, len);
	tap_ok(rc == 1 && !memcmp(w + 220 * PAGE, pat, len),
	       "the second process mapped the window with the passed fd and saw our bytes; we see its bytes");
	lb_stream_fill(seed + 2, 0, w + 200 * PAGE, len);
	c = 'G';
	rc = (int)write(sv[0], &c, 1);
	rc = pid > 0 ? lb_wait_child(pid, &st, 30000) : -1;
	tap_ok(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "the second process saw our later write too (exit %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(sv[0]);
	tap_ok(lb_find_virtio(name, vdev, sizeof(vdev)) == 0 && !d->broken,
	       "the device lives on after the second process exited");

	test_window_fd(d, w, seed);

	/*
	 * The mapping outlives the fd and the device, but does not keep them;
	 * closing breaks the device and revokes every mapping: the owner's
	 * accesses raise SIGBUS, another process's reach a scratch page.
	 */
	{
		size_t wl;
		uint8_t *keep, *wmap;
		int wfd, go[2];
		struct loopback_window_fd wf = { 0 };

		lb_stream_fill(seed + 3, 0, w + 240 * PAGE, len);
		wfd = ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, &wf);
		wmap = wfd < 0 ? MAP_FAILED :
		       mmap(NULL, ws, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
		tap_ok(wmap != MAP_FAILED, "map a window fd that stays open across the close");
		if (pipe(go) < 0)
			tap_bail("pipe: %s", strerror(errno));
		pid = fork();
		if (pid == 0) {
			/* another process: its inherited mapping of the window */
			alarm(30);
			close(d->fd);
			if (read(go[0], &c, 1) != 1)
				_exit(20);
			_exit(scratch_check(w, 240 * PAGE, len));
		}
		keep = lbdev_close_keep_map(d, &wl);
		d = NULL;
		/* closing the fd removes the device; the window outlives it */
		tap_ok(lb_wait_gone(name, 10000) == 0,
		       "after close(fd) the virtio device is gone although the window is still mapped and a window fd open");
		rc = lb_touch(keep + 240 * PAGE, false);
		tap_ok(rc == SIGBUS, "after close(fd) a read of the owner's mapping gets %s (want SIGBUS)",
		       lb_signame(rc));
		rc = lb_touch(keep + 250 * PAGE, true);
		tap_ok(rc == SIGBUS, "after close(fd) a write to the owner's mapping gets %s (want SIGBUS)",
		       lb_signame(rc));
		if (wmap != MAP_FAILED) {
			rc = lb_touch(wmap + 240 * PAGE, false);
			tap_ok(rc == SIGBUS, "the owner's mapping of the window fd is revoked too: %s",
			       lb_signame(rc));
		}
		c = 'G';
		rc = (int)write(go[1], &c, 1);
		rc = pid > 0 ? lb_wait_child(pid, &st, 30000) : -1;
		tap_ok(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "another process's mapping survives the close: no signal, a zeroed scratch page, not the window (%s %d)",
		       rc ? "not exited" : WIFEXITED(st) ? "exit" : "signal",
		       rc ? 0 : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		munmap(keep, wl);
		if (wmap != MAP_FAILED)
			munmap(wmap, ws);
		if (wfd >= 0)
			close(wfd);
		close(go[0]);
		close(go[1]);
	}
	free(pat);
	close(ctl);
	return tap_finish();
}
