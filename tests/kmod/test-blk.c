// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-blk: the guest's virtio_blk driving a disk that this program plays
 * (lbtest's block model: a 1 MiB disk in memory), and what happens to block
 * I/O in flight when the device process goes away.
 *
 *  A  the disk works: O_DIRECT writes read back the same
 *  B  SIGKILL of the device process while three readers and a writer have
 *     O_DIRECT I/O in flight that the model took off the ring and holds
 *  C  the same, the requests left on the ring (the model never took them)
 *  D  the device process closes its fd (no kill) with I/O in flight
 *  E  the device stops answering traps with I/O in flight: when a trap
 *     times out the I/O fails while the fd is still open, and new I/O
 *     fails too; closing the fd then removes the disk
 *  J  LOOPBACK_DEV_REMOVE with dirty data in the page cache of the open
 *     disk: the removal writes it back to the model before the disk goes
 *  K  the same with a mounted ext2 file system and a file written without
 *     sync
 *  L  a device offering a seg_max whose requests the window cannot hold
 *     (64 KiB window, seg_max 60): a 256 KiB O_DIRECT write completes and
 *     reads back; the disk's max_segments and max_segment_size keep one
 *     request, with the rings, inside the window (Documentation/uapi.md)
 *  M  a seg_max larger than the ring (254, 64 entries, no indirect
 *     descriptors): a 1 MiB O_DIRECT write completes; max_segments is at
 *     most the ring size minus two.  Before the kernel bounded seg_max,
 *     both writes hung: virtio_blk requeued the request forever
 *  F  with -k KO: rmmod succeeds afterwards (and the module is reloaded)
 *
 * With -s hostile, A, then devices that misbehave (and F):
 *
 *  G  a device that completes out of order (batches of four, newest
 *     first), then holds four requests, returns the newest and the third
 *     newest, and is killed once the two issuers sent new requests: the
 *     old rule (return avail[used->idx .. avail->idx)) returned a head
 *     twice and left the oldest request hanging; the kernel now returns
 *     exactly the heads the device held
 *  H  a device holding four requests sets VRING_DESC_F_NEXT on the tail
 *     of one's chain (which would corrupt the driver's free list): it dies
 *     of SIGBUS at the write, and every request fails once
 *  I  G with a device that suppresses kicks (VRING_USED_F_NO_NOTIFY) and
 *     polls the available ring: fewer than one kick in ten requests, and
 *     the kernel's count of what the device held is still exact (it does
 *     not depend on kicks)
 *  N  a device holding a request of each issuer publishes a used entry
 *     for a head it does not hold: the kernel breaks the device and fails
 *     the held requests itself, so every issuer gets EIO while the device
 *     process still lives; then it is killed.  Before, the kernel broke
 *     the virtio device and failed nothing: the issuers hung in D state
 *  O  a device completes a held request without an interrupt, waits until
 *     a new request (a fifth issuer's) is on the ring, so that the kernel
 *     counted the completion, writes an out-of-range head over that used
 *     entry, and raises the interrupt: the driver must see the entry the
 *     kernel counted.  Before, virtio_ring read the rewritten head, broke
 *     the queue ("out of range") and every issuer hung in D state (found
 *     by fuzz-uapi's soak on the debug kernel)
 *
 * B to E expect what a failing disk gives: every issuer's pending I/O ends
 * with EIO (not a hang), the disk and its virtio device go away, and no
 * task is left in D state.  Before loopback.ko failed a dead device's
 * buffers itself, 6.1's virtio_blk waited in del_gendisk() forever for
 * them, with the issuers in D state and rmmod impossible.
 *
 * Needs virtio_blk loaded (vm-fault.sh does it); E needs loopback.ko
 * loaded with trap_timeout_ms <= 5000 (read from sysfs, or -t MS).
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLK_SECTORS 2048			/* 1 MiB */
#define BLK_WINDOW (4u << 20)			/* every mapping takes a page */
#define IO_SIZE 4096
#define N_READERS 3
#define N_WRITERS 1
#define N_ISSUERS (N_READERS + N_WRITERS)
#define EIO_DEADLINE_MS 20000

static int base_count;
static long timeout_ms = -1;

/* ------------------------------------------------------------ the disk */

#define BLK_QUEUE_SIZE 64

static struct lbdev *blk_create_opts(int ctl, bool eventfds, bool no_kicks,
				     uint64_t window, uint32_t seg_max)
{
	struct lbdev_opts o = {
		.device_id = VIRTIO_ID_BLOCK,
		.blk_sectors = BLK_SECTORS,
		.blk_seg_max = seg_max,
		.window_size = window,
		.max_queue_size = BLK_QUEUE_SIZE,
		.ioeventfd = eventfds,
		.irqfd = eventfds,
		.no_kicks = no_kicks,
	};

	return lbdev_create(ctl, &o);
}

static struct lbdev *blk_create(int ctl, bool eventfds, bool no_kicks)
{
	return blk_create_opts(ctl, eventfds, no_kicks, BLK_WINDOW, 0);
}

/* "vdX" of the virtio device VDEV, once virtio_blk added its disk */
static int blk_disk_of(const char *vdev, char *disk, size_t len)
{
	char path[128];
	struct dirent *e;
	DIR *dir;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s/block", LB_VIRTIO_DEVICES, vdev);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(disk, len, "%.31s", e->d_name);
		rc = 0;
		break;
	}
	closedir(dir);
	return rc;
}

/* waits until NAME is bound to virtio_blk and its /dev node exists */
static int blk_wait_disk(const char *name, char *disk, size_t len, unsigned int ms)
{
	uint64_t end = lb_now_ms() + ms;
	char vdev[64], dev[64];
	int fd;

	if (lb_wait_bound(name, "virtio_blk", vdev, sizeof(vdev), ms) < 0)
		return -1;
	/*
	 * The node appears when the disk's device is added, before the disk
	 * can be opened (ENXIO until the block device is added): wait for an
	 * open that succeeds, or an issuer started now may fail to open.
	 */
	for (;;) {
		if (blk_disk_of(vdev, disk, len) == 0) {
			snprintf(dev, sizeof(dev), "/dev/%s", disk);
			fd = open(dev, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				close(fd);
				return 0;
			}
		}
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(10);
	}
}

static int blk_wait_disk_gone(const char *disk, unsigned int ms)
{
	uint64_t end = lb_now_ms() + ms;
	char path[96];

	snprintf(path, sizeof(path), "/sys/block/%s", disk);
	for (;;) {
		if (access(path, F_OK) < 0)
			return 0;
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(10);
	}
}

/* --------------------------------------------------------- I/O issuers */

struct issuers {
	pid_t pid[N_ISSUERS];
	int res[N_ISSUERS];		/* pipe: the errno that ended the loop */
};

/* an issuer: O_DIRECT I/O in a loop until one fails; reports its errno */
static void issuer(const char *dev, int idx, bool writer, int out)
{
	unsigned int blocks = BLK_SECTORS * VBLK_SECTOR / IO_SIZE, k = 0;
	void *buf;
	ssize_t n;
	int fd, e;

	alarm(120);
	/*
	 * Not the device fd the parent may hold: a copy would keep the
	 * device alive after the parent closes it, while this waits for it.
	 */
	if (out != 3 && dup2(out, 3) < 0)
		_exit(4);
	out = 3;
	syscall(SYS_close_range, 4, ~0U, 0);
	fd = open(dev, (writer ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign(&buf, IO_SIZE, IO_SIZE))
		_exit(2);
	memset(buf, 0x40 + idx, IO_SIZE);
	for (;;) {
		off_t off = (off_t)((idx * 17 + k++) % blocks) * IO_SIZE;

		n = writer ? pwrite(fd, buf, IO_SIZE, off) : pread(fd, buf, IO_SIZE, off);
		if (n != IO_SIZE)
			break;
	}
	e = n < 0 ? errno : -1;
	if (write(out, &e, sizeof(e)) != sizeof(e))
		_exit(3);
	_exit(0);
}

/* one issuer: its pid; its result pipe in *res */
static pid_t start_issuer(const char *dev, int idx, bool writer, int *res)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		tap_bail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		issuer(dev, idx, writer, p[1]);
	}
	close(p[1]);
	*res = p[0];
	return pid;
}

static void start_issuers(const char *dev, struct issuers *is)
{
	int i;

	for (i = 0; i < N_ISSUERS; i++)
		is->pid[i] = start_issuer(dev, i, i >= N_READERS, &is->res[i]);
}

/* every issuer must end with EIO within the deadline */
static void check_issuers(struct issuers *is, const char *what)
{
	char got[256] = "";
	int i, st, e, bad = 0, stuck = 0;

	for (i = 0; i < N_ISSUERS; i++) {
		if (lb_wait_child(is->pid[i], &st, EIO_DEADLINE_MS) < 0) {
			lb_dump_task(is->pid[i], "I/O issuer");
			kill(is->pid[i], SIGKILL);
			lb_wait_child(is->pid[i], &st, 5000);
			stuck++;
			snprintf(got + strlen(got), sizeof(got) - strlen(got), " stuck");
		} else if (read(is->res[i], &e, sizeof(e)) != sizeof(e)) {
			bad++;
			snprintf(got + strlen(got), sizeof(got) - strlen(got), " exit%d",
				 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		} else {
			if (e != EIO)
				bad++;
			snprintf(got + strlen(got), sizeof(got) - strlen(got), " %s",
				 e < 0 ? "short" : strerror(e));
		}
		close(is->res[i]);
	}
	tap_ok(!stuck, "%s: every I/O issuer returned within %d ms (%d stuck)", what,
	       EIO_DEADLINE_MS, stuck);
	tap_ok(!stuck && !bad, "%s: every issuer's I/O failed with EIO (%s )", what, got);
}

/* ----------------------------------------------------------- D state */

/* tasks in D state, as "pid comm" in out; the count */
static int d_state_tasks(char *out, size_t len, pid_t *first)
{
	char path[300], buf[512], *p;
	struct dirent *e;
	DIR *dir;
	int n = 0;

	out[0] = 0;
	dir = opendir("/proc");
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (lb_read_file(path, buf, sizeof(buf)) < 0)
			continue;
		/* pid (comm) S ...: comm may hold spaces and parentheses */
		p = strrchr(buf, ')');
		if (!p || p[1] != ' ' || p[2] != 'D')
			continue;
		if (!n && first)
			*first = atoi(e->d_name);
		n++;
		p[1] = 0;
		snprintf(out + strlen(out), len - strlen(out), " %s", buf);
	}
	closedir(dir);
	return n;
}

static void check_no_d_state(const char *what)
{
	uint64_t end = lb_now_ms() + 10000;
	char list[1024];
	pid_t first = 0;
	int n;

	/* a kworker may pass through D state: wait for a moment with none */
	while ((n = d_state_tasks(list, sizeof(list), &first)) > 0 && lb_now_ms() < end)
		lb_sleep_ms(50);
	tap_ok(n == 0, "%s: no task in D state (%s )", what, n ? list : "");
	if (n > 0)
		lb_dump_task(first, "task in D state");
}

/* --------------------------------------------------- the device process */

/*
 * Stops completing (LB_FILL_HOLD: takes requests off the ring and keeps
 * them; LB_FILL_NONE: leaves them there) and waits until `want` requests
 * are in flight.  0, or -1 after 10 s.
 */
static int stop_completing(struct lbdev *d, enum lbdev_fill mode, uint32_t want,
			   uint32_t *got)
{
	uint64_t end = lb_now_ms() + 10000;

	lbdev_set_fill(d, mode);
	for (;;) {
		*got = lbdev_in_flight(d, 0);
		if (*got >= want)
			return 0;
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(10);
	}
}

/* what the device process does once the issuers run */
enum blk_script {
	BS_HOLD,	/* takes the requests off the ring and keeps them */
	BS_NONE,	/* leaves them on the ring */
	BS_OUT_OF_ORDER, /* completes out of order, then holds with gaps */
	BS_QUIET_OUT_OF_ORDER, /* the same, asking for no kicks: it polls */
	BS_TAIL_NEXT,	/* holds them, then writes NEXT into a chain's tail */
	BS_FOREIGN,	/* holds them, then returns a head it does not hold */
	BS_REWRITE,	/* holds them, completes one quietly, rewrites its entry */
};

static int wait_held(struct lbdev *d, uint32_t want)
{
	uint64_t end = lb_now_ms() + 10000;

	while (lbdev_held(d, 0) < want) {
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(10);
	}
	return 0;
}

/*
 * G: batches of N_ISSUERS completed newest first for a while; then, with
 * N_ISSUERS held, the newest and the third newest are returned, and the
 * two issuers send new requests.  0, or -1.
 */
static int out_of_order(struct lbdev *d, char *extra, size_t len)
{
	uint64_t served;
	uint32_t n;

	pthread_mutex_lock(&d->lock);
	d->o.fill_len = N_ISSUERS;
	d->o.fill = LB_FILL_REVERSE;
	pthread_mutex_unlock(&d->lock);
	lb_sleep_ms(500);
	lbdev_set_fill(d, LB_FILL_HOLD);
	if (wait_held(d, N_ISSUERS) < 0)
		return -1;
	served = d->blk_requests;
	n = lbdev_held(d, 0);
	if (lbdev_complete_held(d, 0, n - 1) < 0 || lbdev_complete_held(d, 0, n - 3) < 0)
		return -1;
	if (wait_held(d, n) < 0)
		return -1;
	snprintf(extra, len, "%u held after 2 of %u returned out of order; %llu served", lbdev_held(d, 0),
		 n, (unsigned long long)served);
	return 0;
}

/* H: NEXT into the tail of the oldest held request's chain; never returns */
static void tail_next(struct lbdev *d, int evt)
{
	struct lb_vdesc *desc;
	void *dv, *av, *uv;
	uint16_t i;
	uint32_t steps = 0;

	if (lbdev_rings(d, 0, &dv, &av, &uv) < 0) {
		lb_msg_send(evt, "nostall", d->info.name, "no rings");
		return;
	}
	desc = dv;
	pthread_mutex_lock(&d->lock);
	i = d->q[0].held_head[0];
	while ((le16toh(desc[i].flags) & VRING_DESC_F_NEXT) && ++steps < d->q[0].num)
		i = le16toh(desc[i].next);
	pthread_mutex_unlock(&d->lock);
	lb_msg_send(evt, "armed", d->info.name, NULL);
	desc[i].flags |= htole16(VRING_DESC_F_NEXT);	/* SIGBUS */
	lb_msg_send(evt, "wrote", d->info.name, NULL);
}

/*
 * N: returns the lowest head it does not hold, and waits for the kernel to
 * break the device.  0, or -1.
 */
static int foreign_head(struct lbdev *d, char *extra, size_t len)
{
	uint64_t end = lb_now_ms() + 10000;
	uint16_t head = 0;
	uint32_t i, n;

	/* in flight is not yet held: the model may not have seen the kick */
	if (wait_held(d, N_ISSUERS) < 0)
		return -1;
	pthread_mutex_lock(&d->lock);
	n = d->q[0].nheld;
	for (i = 0; i < n; i++)
		if (d->q[0].held_head[i] == head)
			i = UINT32_MAX, head++;	/* again from the first */
	pthread_mutex_unlock(&d->lock);
	if (lbdev_push_used(d, 0, head) < 0)
		return -1;
	while (!__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE) && lb_now_ms() < end)
		lb_sleep_ms(10);
	snprintf(extra, len, "%u held, head %u returned: %s", n, head,
		 d->broken ? "broken" : "not broken");
	return 0;
}

/*
 * O: completes the oldest held request without an interrupt; once a
 * request issued after that is held (its mapping and kick made the kernel
 * count the completion), writes an out-of-range head over that used entry
 * and raises the interrupt.  0, or -1.
 */
static int rewrite_counted(struct lbdev *d, int evt, char *extra, size_t len)
{
	void *dv, *av, *uv;
	uint32_t *el, slot;

	if (wait_held(d, N_ISSUERS) < 0 || lbdev_rings(d, 0, &dv, &av, &uv) < 0)
		return -1;
	pthread_mutex_lock(&d->lock);
	slot = d->q[0].used_idx % d->q[0].num;
	pthread_mutex_unlock(&d->lock);
	if (lbdev_complete_held_quiet(d, 0, 0) < 0)
		return -1;
	lb_msg_send(evt, "completed", d->info.name, NULL);
	if (wait_held(d, N_ISSUERS) < 0)
		return -1;
	el = (uint32_t *)((uint16_t *)uv + 2) + 2 * slot;
	__atomic_store_n(&el[0], htole32(0xffff), __ATOMIC_RELEASE);
	lbdev_raise(d, 0);
	snprintf(extra, len, "used entry %u rewritten", slot);
	return 0;
}

/* the device process of B, C, G, H, N and O: never returns */
static void device_process(enum blk_script script, int evt, int cmd)
{
	struct pollfd p = { .fd = cmd, .events = POLLIN };
	char extra[95];
	struct lbdev *d;
	uint32_t got = 0;
	int ctl, rc;
	char c;

	alarm(120);
	ctl = open(LB_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		_exit(80);
	d = blk_create(ctl, script != BS_NONE, script == BS_QUIET_OUT_OF_ORDER);
	if (!d) {
		lb_msg_send(evt, "error", "", strerror(errno));
		_exit(81);
	}
	lb_msg_send(evt, "created", d->info.name, NULL);
	if (poll(&p, 1, 30000) != 1 || read(cmd, &c, 1) != 1)
		_exit(82);
	if (script == BS_OUT_OF_ORDER || script == BS_QUIET_OUT_OF_ORDER) {
		rc = out_of_order(d, extra, sizeof(extra));
	} else {
		rc = stop_completing(d, script == BS_NONE ? LB_FILL_NONE : LB_FILL_HOLD, N_ISSUERS, &got);
		snprintf(extra, sizeof(extra), "%u requests in flight, %llu served before",
			 got, (unsigned long long)d->blk_requests);
	}
	if (rc == 0 && script == BS_TAIL_NEXT) {
		tail_next(d, evt);
	} else if (rc == 0 && script == BS_REWRITE) {
		if (rewrite_counted(d, evt, extra, sizeof(extra)) == 0)
			lb_msg_send(evt, "rewritten", d->info.name, extra);
		else
			lb_msg_send(evt, "nostall", d->info.name, d->errmsg);
	} else if (rc == 0 && script == BS_FOREIGN) {
		if (foreign_head(d, extra, sizeof(extra)) == 0)
			lb_msg_send(evt, "foreign", d->info.name, extra);
		else
			lb_msg_send(evt, "nostall", d->info.name, d->errmsg);
	} else if (rc == 0 && script == BS_QUIET_OUT_OF_ORDER &&
		   (d->notify_traps + d->eventfd_kicks) * 10 > d->blk_requests) {
		snprintf(extra, sizeof(extra), "%llu kicks for %llu requests",
			 (unsigned long long)(d->notify_traps + d->eventfd_kicks),
			 (unsigned long long)d->blk_requests);
		lb_msg_send(evt, "kicked", d->info.name, extra);
	} else if (rc == 0 && script == BS_QUIET_OUT_OF_ORDER) {
		char quiet[95];

		snprintf(quiet, sizeof(quiet), "%.64s; %llu kicks", extra,
			 (unsigned long long)(d->notify_traps + d->eventfd_kicks));
		lb_msg_send(evt, "stalled", d->info.name, quiet);
	} else if (rc == 0) {
		lb_msg_send(evt, "stalled", d->info.name, extra);
	} else {
		if (script == BS_OUT_OF_ORDER || script == BS_QUIET_OUT_OF_ORDER)
			got = lbdev_held(d, 0);
		snprintf(extra, sizeof(extra), "only %u in flight; %.60s", got, d->errmsg);
		lb_msg_send(evt, "nostall", d->info.name, extra);
	}
	for (;;)
		pause();
}

/* --------------------------------------------------------------- cases */

/*
 * A, J and K: a served disk, bound and with its /dev node; its name in
 * @disk (32 bytes), its node in @dev (48 bytes).  NULL on failure.
 */
static struct lbdev *blk_disk_up_opts(const char *what, char *disk, char *dev,
				      uint64_t window, uint32_t seg_max)
{
	struct lbdev *d;
	int ctl;

	ctl = lb_open_ctl();
	d = blk_create_opts(ctl, true, false, window, seg_max);
	close(ctl);
	if (!tap_ok(d != NULL, "%s: CREATE a virtio-blk device (%s)", what, d ? "" : strerror(errno)))
		return NULL;
	if (!tap_ok(blk_wait_disk(d->info.name, disk, 32, 20000) == 0,
		    "%s: virtio_blk binds and adds a disk", what)) {
		tap_diag("device model: %s", d->errmsg);
		lbdev_destroy(d, false);
		return NULL;
	}
	snprintf(dev, 48, "/dev/%.31s", disk);
	return d;
}

static struct lbdev *blk_disk_up(const char *what, char *disk, char *dev)
{
	return blk_disk_up_opts(what, disk, dev, BLK_WINDOW, 0);
}

/* ------------------------------------------- L, M: one request, bounded */

static unsigned long pages_of(unsigned long bytes)
{
	return (bytes + 4095) / 4096;
}

/*
 * reads /sys/block/DISK/queue/NAME as a number; 0 if unreadable for 5 s
 * (the queue's directory appears after the disk's node)
 */
static unsigned long queue_limit(const char *disk, const char *name)
{
	uint64_t end = lb_now_ms() + 5000;
	char path[96], v[32];

	snprintf(path, sizeof(path), "/sys/block/%s/queue/%s", disk, name);
	while (lb_read_file(path, v, sizeof(v)) < 0) {
		if (lb_now_ms() >= end)
			return 0;
		lb_sleep_ms(10);
	}
	return strtoul(v, NULL, 0);
}

/* window pages the rings and a request of SEGS segments of SEG pages take */
static unsigned long request_pages(unsigned long segs, unsigned long seg)
{
	unsigned long q = BLK_QUEUE_SIZE, ring, p = 1;

	ring = pages_of(18 * q + 6) + pages_of(8 * q + 6);
	while (p < ring)
		p *= 2;
	return p + 4 + segs * (seg + 1) + 2 * seg;
}

/*
 * Documentation/uapi.md's rule, for this model (one queue of
 * BLK_QUEUE_SIZE, no indirect descriptors): the rings at their largest
 * (each a power of two of pages), plus a request of the disk's segments,
 * each a page more than max_segment_size, a header and a status of two
 * pages each, and a segment lost at the end of each of two free runs
 * (one queue), fit the window;
 * a chain of the segments, the header and the status fits the ring.  And
 * no more than that is taken away: one more segment, or one more page
 * per segment, would not fit (or the device asked for no more, or the
 * segment is half the window, every device's limit).
 */
static void check_request_bound(const char *what, const char *disk, uint64_t window,
				uint32_t seg_max)
{
	unsigned long q = BLK_QUEUE_SIZE, wp = window / 4096, segs, seg, most;

	segs = queue_limit(disk, "max_segments");
	seg = pages_of(queue_limit(disk, "max_segment_size"));
	most = seg_max ? seg_max : 1;
	if (most > q - 2)
		most = q - 2;
	tap_ok(segs && seg && request_pages(segs, seg) <= wp && segs <= q - 2,
	       "%s: max_segments %lu of up to %lu pages: a request and the rings take %lu of %lu pages, the chain %lu of %lu descriptors",
	       what, segs, seg, request_pages(segs, seg), wp, segs + 2, q);
	tap_ok((segs == most || request_pages(segs + 1, 1) > wp) &&
	       (seg == wp / 2 || request_pages(segs, seg + 1) > wp),
	       "%s: no smaller than that needs (%lu segments of 1 page: %lu pages; %lu of %lu: %lu)",
	       what, segs + 1, request_pages(segs + 1, 1), segs, seg + 1,
	       request_pages(segs, seg + 1));
}

static void test_disk_works(void)
{
	const char *what = "A: the disk";
	char disk[32], dev[48];
	struct lbdev *d;
	void *wbuf, *rbuf;
	int fd, i, ok = 1;

	d = blk_disk_up(what, disk, dev);
	if (!d)
		return;
	if (posix_memalign(&wbuf, IO_SIZE, 16 * IO_SIZE) || posix_memalign(&rbuf, IO_SIZE, 16 * IO_SIZE))
		tap_bail("posix_memalign");
	lb_stream_fill(0xb10c, 0, wbuf, 16 * IO_SIZE);
	fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	tap_ok(fd >= 0, "%s: open %s with O_DIRECT", what, dev);
	for (i = 0; fd >= 0 && i < 4; i++) {
		/* 4 KiB, then 16 KiB requests, at several offsets */
		size_t len = i < 2 ? IO_SIZE : 16 * IO_SIZE;
		off_t off = (off_t)(i * 37 % 200) * IO_SIZE;

		memset(rbuf, 0, len);
		if (pwrite(fd, wbuf, len, off) != (ssize_t)len ||
		    pread(fd, rbuf, len, off) != (ssize_t)len || memcmp(wbuf, rbuf, len))
			ok = 0;
	}
	tap_ok(fd >= 0 && ok, "%s: what was written reads back the same (4 and 16 KiB, 4 offsets)", what);
	check_request_bound(what, disk, BLK_WINDOW, 0);
	tap_ok(fd >= 0 && !memcmp(d->disk + 37 * IO_SIZE, wbuf, IO_SIZE),
	       "%s: the model's disk holds the written bytes", what);
	if (fd >= 0)
		close(fd);
	tap_ok(!d->errmsg[0] && !d->blk_errors, "%s: the device model saw no protocol error (%s)", what,
	       d->errmsg);
	free(wbuf);
	free(rbuf);
	lbdev_destroy(d, false);
	tap_ok(blk_wait_disk_gone(disk, 10000) == 0, "%s: the disk is gone after close", what);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

/*
 * J and K: periodic writeback held off (dirty data stays dirty), and back.
 * Not with 0: the flusher's wakeup on the first dirty inode is delayed by
 * that interval, so 0 wakes it at once, and a new disk, with no share of
 * the background threshold yet, is written back then.  An hour instead.
 */
static const char *const dirty_wb = "/proc/sys/vm/dirty_writeback_centisecs";

static void writeback_off(char *old, size_t len)
{
	old[0] = 0;
	if (lb_read_file(dirty_wb, old, len) || lb_write_file(dirty_wb, "360000"))
		tap_diag("could not hold periodic writeback off: %s", strerror(errno));
}

/* J and K: @len bytes of the stream of @seed, malloc()ed */
static uint8_t *pattern(uint64_t seed, size_t len)
{
	uint8_t *p = malloc(len);

	if (!p)
		tap_bail("malloc");
	lb_stream_fill(seed, 0, p, len);
	return p;
}

static void writeback_restore(const char *old)
{
	if (old[0])
		lb_write_file(dirty_wb, old);
}

/*
 * J and K: LOOPBACK_DEV_REMOVE of disk @disk while the model serves; waits
 * until the disk is gone and poll() says EPOLLHUP.
 */
static void remove_disk(struct lbdev *d, const char *disk, const char *what)
{
	struct loopback_remove rm = { .timeout_ms = 20000 };
	struct pollfd p;
	int i, r;

	r = ioctl(d->fd, LOOPBACK_DEV_REMOVE, &rm);
	tap_ok(r == 0, "%s: REMOVE (%s)", what, r ? strerror(errno) : "ok");
	tap_ok(blk_wait_disk_gone(disk, 20000) == 0, "%s: the disk is gone", what);
	/* the driver's reset and del_vqs still trap after the disk went */
	for (i = 0; i < 200; i++) {
		p = (struct pollfd){ .fd = d->fd, .events = POLLIN };
		if (poll(&p, 1, 50) == 1 && (p.revents & (POLLHUP | POLLERR)))
			break;
		lb_sleep_ms(50);	/* POLLIN: the model is at it */
	}
	if (!tap_ok((p.revents & POLLHUP) && !(p.revents & POLLERR),
		    "%s: poll says EPOLLHUP, no EPOLLERR (revents %#x)", what, p.revents)) {
		pthread_mutex_lock(&d->lock);
		tap_diag("model: traps %llu posted %llu broken %d removed %d stalled %d",
			 (unsigned long long)d->traps, (unsigned long long)d->posted, d->broken,
			 d->removed, d->stalled);
		pthread_mutex_unlock(&d->lock);
	}
	tap_ok(!d->errmsg[0] && !d->blk_errors, "%s: the device model saw no error (%s)", what, d->errmsg);
}

/*
 * J: LOOPBACK_DEV_REMOVE with dirty data in the disk's page cache and the
 * disk open: the removal (del_gendisk() syncs the block device) writes it
 * back to the model, which still serves; then the disk goes and poll()
 * says EPOLLHUP.  close() would have broken the device first and failed
 * that writeback.
 */
static void test_orderly_remove(void)
{
	const char *what = "J: orderly removal";
	const size_t len = 64 << 10;
	const off_t off = 128 << 10;
	char disk[32], dev[48], old[32];
	struct lbdev *d;
	uint8_t *pat;
	int fd, rc;

	d = blk_disk_up(what, disk, dev);
	if (!d)
		return;
	pat = pattern(0x6b1e, len);
	writeback_off(old, sizeof(old));
	fd = open(dev, O_RDWR | O_CLOEXEC);
	rc = fd >= 0 && pwrite(fd, pat, len, off) == (ssize_t)len;
	tap_ok(rc, "%s: a buffered 64 KiB write to %s, kept open", what, dev);
	tap_ok(memcmp(d->disk + off, pat, len) != 0, "%s: the data is only in the page cache so far", what);
	remove_disk(d, disk, what);
	tap_ok(!memcmp(d->disk + off, pat, len),
	       "%s: the dirty data reached the device model before the disk went", what);
	if (fd >= 0)
		close(fd);
	writeback_restore(old);
	free(pat);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

/* true if every 1 KiB block of @pat lies somewhere in the model's disk */
static bool disk_holds(struct lbdev *d, const uint8_t *pat, size_t len)
{
	size_t size = d->o.blk_sectors * VBLK_SECTOR, i;

	for (i = 0; i < len; i += 1024)
		if (!memmem(d->disk, size, pat + i, 1024))
			return false;
	return true;
}

/*
 * K: the same with a mounted ext2 file system (busybox mke2fs; the
 * kernel's ext4 driver): a file written without sync reaches the model
 * during the removal, when del_gendisk() syncs the file system.
 */
static void test_orderly_remove_fs(void)
{
	const char *what = "K: orderly removal, mounted";
	const char *mnt = "/tmp/lbtest-mnt";
	const size_t len = 64 << 10;
	char disk[32], dev[48], cmd[160], old[32], file[64];
	struct lbdev *d;
	uint8_t *pat;
	int fd, rc;

	d = blk_disk_up(what, disk, dev);
	if (!d)
		return;
	snprintf(cmd, sizeof(cmd), "mke2fs -F %s >/dev/null 2>&1", dev);
	rc = system(cmd);
	mkdir(mnt, 0700);
	if (rc == 0 && mount(dev, mnt, "ext2", 0, NULL) < 0)
		rc = -errno;
	if (!tap_ok(rc == 0, "%s: mke2fs and mount %s (%s)", what, dev,
		    rc < 0 ? strerror(-rc) : rc ? "mke2fs failed" : "ok")) {
		lbdev_destroy(d, false);
		return;
	}
	pat = pattern(0xf11e, len);
	writeback_off(old, sizeof(old));
	snprintf(file, sizeof(file), "%s/data", mnt);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = fd >= 0 && write(fd, pat, len) == (ssize_t)len;
	if (fd >= 0)
		close(fd);
	tap_ok(rc, "%s: write a 64 KiB file, no sync", what);
	tap_ok(!disk_holds(d, pat, len), "%s: the file's data is only in the page cache so far", what);
	remove_disk(d, disk, what);
	tap_ok(disk_holds(d, pat, len), "%s: the file's data reached the device model before the disk went",
	       what);
	umount2(mnt, MNT_DETACH);
	writeback_restore(old);
	free(pat);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

/*
 * B, C and G: SIGKILL of the device process with I/O in flight; H: the
 * device process dies of SIGBUS; N: the I/O fails before the SIGKILL
 */
static void test_kill(enum blk_script script, const char *what)
{
	char disk[32] = "", dev[48], name[LOOPBACK_NAME_LEN + 1] = "";
	bool started = false, checked = false;
	int e[2], c[2], st, rc, fifth_res = -1, ranged = 0;
	pid_t pid, fifth = -1;
	struct issuers is;
	struct lb_msg m;

	tap_diag("%s", what);
	if (pipe2(e, O_CLOEXEC) < 0 || pipe2(c, O_CLOEXEC) < 0)
		tap_bail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(e[0]);
		close(c[1]);
		device_process(script, e[1], c[0]);
	}
	close(e[1]);
	close(c[0]);
	if (lb_msg_recv(e[0], &m, 15000) < 0 || strcmp(m.tag, "created")) {
		tap_ok(false, "%s: the device process created a device (%s %s)", what, m.tag, m.extra);
		goto kill;
	}
	snprintf(name, sizeof(name), "%s", m.name);
	if (!tap_ok(blk_wait_disk(name, disk, sizeof(disk), 20000) == 0,
		    "%s: %s has a disk", what, name))
		goto kill;
	snprintf(dev, sizeof(dev), "/dev/%s", disk);
	start_issuers(dev, &is);
	started = true;
	lb_sleep_ms(300);	/* the issuers' I/O is served for a while */
	if (write(c[1], "s", 1) != 1)
		tap_bail("pipe write");
	if (script == BS_TAIL_NEXT) {
		rc = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "armed");
		tap_ok(rc, "%s: the model holds requests and writes into a chain's tail (%s %s)", what,
		       m.tag, m.extra);
		rc = lb_wait_child(pid, &st, 15000);
		tap_ok(rc == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
		       "%s: the device process died of SIGBUS at the write (status %#x)", what,
		       rc == 0 ? st : -1);
	} else if (script == BS_REWRITE) {
		ranged = lb_kmsg_count("out of range");
		rc = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "completed");
		tap_ok(rc, "%s: the model completed a held request without an interrupt (%s %s)",
		       what, m.tag, m.extra);
		if (rc)
			fifth = start_issuer(dev, N_ISSUERS, false, &fifth_res);
		rc = rc && lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "rewritten");
		tap_ok(rc, "%s: a fifth request is held; the model wrote another head over the counted entry and raised the interrupt (%s %s)",
		       what, m.tag, m.extra);
		lb_sleep_ms(500);
		tap_ok(lb_kmsg_count("out of range") == ranged,
		       "%s: the driver never read the rewritten head", what);
	} else if (script == BS_FOREIGN) {
		rc = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "foreign");
		tap_ok(rc && strstr(m.extra, ": broken"),
		       "%s: the device holds requests, returns another head and is broken (%s %s)",
		       what, m.tag, m.extra);
		/* the kernel fails them: the device process is still alive */
		if (rc) {
			check_issuers(&is, what);
			checked = true;
		}
	} else {
		rc = lb_msg_recv(e[0], &m, 15000) == 0 && !strcmp(m.tag, "stalled");
		tap_ok(rc, "%s: the model stopped completing with I/O in flight (%s)", what, m.extra);
	}
kill:
	kill(pid, SIGKILL);
	rc = lb_wait_child(pid, &st, 15000);
	if (rc < 0 && errno == ECHILD)
		rc = 0;		/* it died already (H) */
	tap_ok(rc == 0, "%s: the killed device process exited", what);
	if (rc) {
		lb_dump_task(pid, "device process");
		tap_bail("%s: the device process is stuck in the kernel", what);
	}
	close(e[0]);
	close(c[1]);
	if (!started)
		return;
	if (!checked)
		check_issuers(&is, what);
	if (fifth > 0) {
		int e5 = 0;

		rc = lb_wait_child(fifth, &st, EIO_DEADLINE_MS);
		if (rc < 0) {
			lb_dump_task(fifth, "fifth issuer");
			kill(fifth, SIGKILL);
			lb_wait_child(fifth, &st, 5000);
		} else if (read(fifth_res, &e5, sizeof(e5)) != sizeof(e5)) {
			e5 = 0;
		}
		tap_ok(rc == 0 && e5 == EIO, "%s: the fifth issuer's I/O failed with EIO (%s)", what,
		       rc ? "stuck" : e5 > 0 ? strerror(e5) : "no error");
		close(fifth_res);
	}
	tap_ok(blk_wait_disk_gone(disk, 10000) == 0, "%s: the disk %s is gone", what, disk);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: the virtio device of %s is gone", what, name);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
	check_no_d_state(what);
	tap_ok(!lb_kmsg_contains("is not a head"), "%s: no head came back twice", what);
}

/* D: the device process closes its fd with I/O in flight */
static void test_close(void)
{
	const char *what = "D: close(fd) with I/O in flight";
	char disk[32], dev[48], name[LOOPBACK_NAME_LEN + 1];
	struct issuers is;
	struct lbdev *d;
	uint64_t t0;
	uint32_t got = 0;
	int ctl, rc;

	tap_diag("%s", what);
	ctl = lb_open_ctl();
	d = blk_create(ctl, false, false);
	close(ctl);
	if (!tap_ok(d != NULL, "%s: CREATE", what))
		return;
	snprintf(name, sizeof(name), "%s", d->info.name);
	if (!tap_ok(blk_wait_disk(name, disk, sizeof(disk), 20000) == 0, "%s: %s has a disk", what, name)) {
		lbdev_destroy(d, false);
		return;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", disk);
	start_issuers(dev, &is);
	lb_sleep_ms(300);
	rc = stop_completing(d, LB_FILL_HOLD, N_ISSUERS, &got);
	tap_ok(rc == 0, "%s: the model holds %u requests", what, got);
	t0 = lb_now_ms();
	lbdev_destroy(d, false);
	tap_diag("%s: close() returned after %llu ms", what, (unsigned long long)(lb_now_ms() - t0));
	check_issuers(&is, what);
	tap_ok(blk_wait_disk_gone(disk, 10000) == 0, "%s: the disk %s is gone", what, disk);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: the virtio device of %s is gone", what, name);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
	check_no_d_state(what);
}

struct status_read {
	char path[128];
	volatile bool done;
};

static bool wait_flag_done(volatile bool *f)
{
	uint64_t end = lb_now_ms() + 10000;

	while (!__atomic_load_n(f, __ATOMIC_ACQUIRE)) {
		if (lb_now_ms() >= end)
			return false;
		lb_sleep_ms(10);
	}
	return true;
}

static void *status_reader(void *arg)
{
	struct status_read *s = arg;
	char buf[64];

	lb_read_file(s->path, buf, sizeof(buf));
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* E: the trap timeout fails the I/O in flight while the fd stays open */
static void test_trap_timeout(void)
{
	const char *what = "E: trap timeout with I/O in flight";
	char disk[32], dev[48], name[LOOPBACK_NAME_LEN + 1], vdev[64];
	static struct status_read s;
	struct pollfd pf;
	struct issuers is;
	struct lbdev *d;
	pthread_t t;
	uint32_t got = 0;
	void *buf;
	int ctl, fd, rc;
	ssize_t n;

	tap_diag("%s (trap_timeout_ms %ld)", what, timeout_ms);
	ctl = lb_open_ctl();
	d = blk_create(ctl, true, false);
	close(ctl);
	if (!tap_ok(d != NULL, "%s: CREATE", what))
		return;
	snprintf(name, sizeof(name), "%s", d->info.name);
	if (!tap_ok(blk_wait_disk(name, disk, sizeof(disk), 20000) == 0 &&
		    lb_find_virtio(name, vdev, sizeof(vdev)) == 0, "%s: %s has a disk", what, name)) {
		lbdev_destroy(d, false);
		return;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", disk);
	start_issuers(dev, &is);
	lb_sleep_ms(300);
	rc = stop_completing(d, LB_FILL_HOLD, N_ISSUERS, &got);
	tap_ok(rc == 0, "%s: the model holds %u requests", what, got);
	/* the next trap (a Status read through sysfs) is never answered */
	pthread_mutex_lock(&d->lock);
	d->stall_next_status = true;
	pthread_mutex_unlock(&d->lock);
	snprintf(s.path, sizeof(s.path), "%s/%s/status", LB_VIRTIO_DEVICES, vdev);
	if (pthread_create(&t, NULL, status_reader, &s))
		tap_bail("pthread_create");
	pthread_detach(t);
	tap_ok(lbdev_wait_stalled(d, 10000) == 0, "%s: the model stopped answering traps", what);
	check_issuers(&is, what);
	pf.fd = d->fd;
	pf.events = 0;
	rc = poll(&pf, 1, 5000);
	tap_ok(rc == 1 && (pf.revents & POLLERR), "%s: the device is broken (revents %#x)", what,
	       rc == 1 ? pf.revents : 0);
	/* the disk is still there until close, and fails new I/O at once */
	fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd >= 0 && !posix_memalign(&buf, IO_SIZE, IO_SIZE)) {
		n = pread(fd, buf, IO_SIZE, 0);
		EXPECT_ERR(n, "E: new I/O on the failing disk", EIO);
		free(buf);
	} else {
		tap_diag("%s: the disk could not be opened after the timeout (%s)", what, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	lbdev_destroy(d, false);
	tap_ok(blk_wait_disk_gone(disk, 10000) == 0, "%s: the disk %s is gone after close", what, disk);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: the virtio device of %s is gone", what, name);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
	tap_ok(wait_flag_done(&s.done), "%s: the timed-out sysfs read returned", what);
	check_no_d_state(what);
}

/* ------------------------------------------- L, M: one request, bounded */

/*
 * One O_DIRECT write of LEN bytes at offset 0 from a child, read back;
 * the child's exit status, or -1 if it did not finish in time (it is
 * killed, after the device is closed, which fails its I/O).
 */
static int big_write(const char *dev, size_t len, uint64_t seed, unsigned int ms)
{
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		void *w, *r;
		int fd;

		alarm(120);
		syscall(SYS_close_range, 3, ~0U, 0);
		fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd < 0 || posix_memalign(&w, IO_SIZE, len) || posix_memalign(&r, IO_SIZE, len))
			_exit(2);
		lb_stream_fill(seed, 0, w, len);
		memset(r, 0, len);
		if (pwrite(fd, w, len, 0) != (ssize_t)len)
			_exit(3);
		if (pread(fd, r, len, 0) != (ssize_t)len)
			_exit(4);
		_exit(memcmp(w, r, len) ? 5 : 0);
	}
	if (lb_wait_child(pid, &st, ms) < 0) {
		lb_dump_task(pid, "the big writer");
		return -(int)pid;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_request_bound(const char *what, uint64_t window, uint32_t seg_max,
			       size_t len)
{
	char disk[32], dev[48];
	uint8_t *want;
	struct lbdev *d;
	int r, st;

	d = blk_disk_up_opts(what, disk, dev, window, seg_max);
	if (!d)
		return;
	check_request_bound(what, disk, window, seg_max);
	r = big_write(dev, len, 0xb16 + seg_max, 20000);
	tap_ok(r == 0, "%s: a %zu KiB O_DIRECT write completes and reads back (%s %d)", what,
	       len >> 10, r < 0 ? "stuck, pid" : "exit", r < 0 ? -r : r);
	want = malloc(len);
	if (!want)
		tap_bail("malloc");
	lb_stream_fill(0xb16 + seg_max, 0, want, len);
	tap_ok(r == 0 && !memcmp(d->disk, want, len), "%s: the model's disk holds the written bytes",
	       what);
	free(want);
	tap_ok(!d->errmsg[0] && !d->blk_errors, "%s: the device model saw no protocol error (%s)", what,
	       d->errmsg);
	lbdev_destroy(d, false);
	if (r < 0) {
		/* closing the device failed the writer's I/O, or it is stuck for good */
		if (lb_wait_child(-r, &st, EIO_DEADLINE_MS) < 0) {
			kill(-r, SIGKILL);
			lb_wait_child(-r, &st, 5000);
		}
	}
	tap_ok(blk_wait_disk_gone(disk, 10000) == 0, "%s: the disk is gone after close", what);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
	check_no_d_state(what);
}

/* F: rmmod once the devices are gone, then load the module again */
static void test_rmmod(const char *ko, const char *params)
{
	uint64_t end = lb_now_ms() + 10000;
	int fd, r;

	/* the last device drops its module reference from a work item */
	while ((r = (int)syscall(SYS_delete_module, "loopback", O_NONBLOCK)) != 0 &&
	       (errno == EWOULDBLOCK || errno == EBUSY) && lb_now_ms() < end)
		lb_sleep_ms(50);
	if (!tap_ok(r == 0, "F: rmmod loopback after the killed and closed disks (%s)",
		    r ? strerror(errno) : "ok"))
		return;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? -1 : (int)syscall(SYS_finit_module, fd, params, 0);
	tap_ok(r == 0, "F: insmod %s %s again (%s)", ko, params, r ? strerror(errno) : "ok");
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	const char *ko = NULL, *params = "";
	bool hostile = false;
	char buf[64];
	int opt;

	while ((opt = getopt(argc, argv, "t:k:p:s:")) != -1) {
		switch (opt) {
		case 's':
			hostile = !strcmp(optarg, "hostile");
			break;
		case 't':
			timeout_ms = strtol(optarg, NULL, 0);
			break;
		case 'k':
			ko = optarg;
			break;
		case 'p':
			params = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-s fault|hostile] [-t TRAP_TIMEOUT_MS] [-k MODULE.ko [-p PARAMS]]\n",
				argv[0]);
			return 2;
		}
	}
	tap_init("test-blk");
	tap_watchdog(280);
	close(lb_open_ctl());
	if (access("/sys/bus/virtio/drivers/virtio_blk", F_OK) < 0)
		tap_skip_all("virtio_blk is not loaded");
	if (timeout_ms < 0 &&
	    lb_read_file("/sys/module/loopback/parameters/trap_timeout_ms", buf, sizeof(buf)) == 0)
		timeout_ms = strtol(buf, NULL, 0);
	base_count = lb_virtio_count();

	test_disk_works();
	if (hostile) {
		test_kill(BS_OUT_OF_ORDER, "G: SIGKILL of a device that completes out of order");
		test_kill(BS_TAIL_NEXT, "H: a device that writes NEXT into a chain's tail");
		test_kill(BS_QUIET_OUT_OF_ORDER,
			  "I: SIGKILL of a device that asks for no kicks and completes out of order");
		test_kill(BS_FOREIGN, "N: a device that returns a head it does not hold");
		test_kill(BS_REWRITE, "O: a device that rewrites a used entry the kernel counted");
	} else {
		test_kill(BS_HOLD, "B: SIGKILL with I/O held by the device");
		test_kill(BS_NONE, "C: SIGKILL with I/O left on the ring");
		test_close();
		if (timeout_ms <= 0 || timeout_ms > 5000)
			tap_skip("E: trap timeout with I/O in flight (trap_timeout_ms is %ld; needs <= 5000)",
				 timeout_ms);
		else
			test_trap_timeout();
		test_orderly_remove();
		test_orderly_remove_fs();
		test_request_bound("L: seg_max 60, 64 KiB window", 64 << 10, 60, 256 << 10);
		test_request_bound("M: seg_max 254, a ring of 64", BLK_WINDOW, 254, 1 << 20);
	}
	if (ko)
		test_rmmod(ko, params);
	return tap_finish();
}
