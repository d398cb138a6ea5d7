// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-mmap: the DMA window mapping.  Pages outside the window fault
 * SIGBUS (before it, after it, the register block, offset 0, a mapping that
 * straddles the end); mappings of the same offset alias; a second process
 * that gets the device fd over SCM_RIGHTS maps the window and sees the same
 * bytes both ways; a forked child shares the mapping; split mappings; a
 * mapping that outlives the fd keeps its contents and, once unmapped, lets
 * the device go.
 *
 * The device is given a device id no guest driver claims, so nothing in
 * the window belongs to a driver and the test may write anywhere in it.
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define UNCLAIMED_DEVICE_ID 0x7ff0	/* no driver in the guest */

static const char *signame(int s)
{
	return s == SIGBUS ? "SIGBUS" : s == SIGSEGV ? "SIGSEGV" : s ? "a signal" : "no signal";
}

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
		tap_ok(s0 == 0, "mmap %s: the page inside the window reads fine (%s)", what, signame(s0));
	tap_ok(sr == SIGBUS && sw == SIGBUS, "mmap %s: read gets %s, write gets %s (want SIGBUS)", what,
	       signame(sr), signame(sw));
	munmap(p, len);
}

static int send_fd(int sock, int fd)
{
	char c = 'F';
	struct iovec iov = { &c, 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
			      .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { &c, 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
			      .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
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
	fd = recv_fd(sock);
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

			tap_ok(s == SIGBUS, "mmap at offset 0x7ffffffffffff000: read gets %s", signame(s));
			munmap(p, PAGE);
		}
	}

	/* inside: aliases */
	pat = malloc(len);
	if (!pat)
		tap_bail("malloc");
	rc = lb_touch(w + ws - 1, true);
	tap_ok(rc == 0, "the window's last byte is writable (%s)", signame(rc));
	lb_stream_fill(seed, 0, pat, len);
	memcpy(w + 5 * PAGE + 7, pat, len);
	alias = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, d->fd, (off_t)(wb + 4 * PAGE));
	tap_ok(alias != MAP_FAILED && !memcmp(alias + PAGE + 7, pat, len),
	       "a second mapping at window+16 KiB sees the same bytes");
	if (alias != MAP_FAILED) {
		rc = lb_touch(alias, true);
		tap_ok(rc == SIGSEGV, "writing a PROT_READ mapping gets SIGSEGV (%s)", signame(rc));
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
	rc = send_fd(sv[0], d->fd);
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

	/* the mapping outlives the fd and the device, but does not keep them */
	{
		size_t wl;
		uint8_t *keep;

		lb_stream_fill(seed + 3, 0, w + 240 * PAGE, len);
		keep = lbdev_close_keep_map(d, &wl);
		d = NULL;
		rc = lb_touch(keep + 240 * PAGE, false);
		lb_stream_fill(seed + 3, 0, pat, len);
		tap_ok(rc == 0 && !memcmp(keep + 240 * PAGE, pat, len),
		       "after close(fd) the mapping still holds the window's bytes (%s)", signame(rc));
		rc = lb_touch(keep + 250 * PAGE, true);
		tap_ok(rc == 0, "after close(fd) the mapping is still writable (%s)", signame(rc));
		/* closing the fd removes the device; the window outlives it */
		tap_ok(lb_wait_gone(name, 10000) == 0,
		       "after close(fd) the virtio device is gone although the window is still mapped");
		rc = lb_touch(keep + 240 * PAGE, false);
		tap_ok(rc == 0 && !memcmp(keep + 240 * PAGE, pat, len),
		       "after the device is gone the mapping still holds the window's bytes (%s)",
		       signame(rc));
		munmap(keep, wl);
	}
	free(pat);
	close(ctl);
	return tap_finish();
}
