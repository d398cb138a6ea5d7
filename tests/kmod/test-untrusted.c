// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-untrusted: what a hostile device process or back end may try.
 *
 *  A  device classes outside the allowlist (balloon, input, mem, pmem,
 *     console, vsock, ...) and a network device with a control queue or any
 *     feature that needs one, or STANDBY: EPERM, and no device appears;
 *     allowed ones are accepted
 *  B  extra_device_ids (written at run time through sysfs) opens a class,
 *     and listing the network class allows its control queue; emptying the
 *     list closes them again
 *  C  a back end that holds only a window fd keeps writing the window (and
 *     tries the avail index, which is read-only to it until the revocation:
 *     SIGBUS, caught) while the device process is SIGKILLed: it survives,
 *     and from then on its writes land on a scratch page, at the avail
 *     index's offset too
 *  D  the same while the owner closes its device fd: the owner's mappings
 *     raise SIGBUS, the back end survives
 *  E  a trap timeout breaks the device with the fd still open: the owner's
 *     mapping raises SIGBUS, WINDOW_FD is EIO
 *  F  a network device without a control queue sets VIRTIO_NET_S_ANNOUNCE
 *     in its status: 6.1's virtio_net would acknowledge it on the control
 *     queue it does not have, and BUG() (found by fuzz-uapi); the driver
 *     must not see the bit, and still follow LINK_UP (needs virtio_net)
 *  G  a device that answers the Status read after the driver's probe
 *     without DRIVER_OK, and the next one with it: 6.1's virtio core then
 *     calls virtio_device_ready() and WARNs (found by fuzz-uapi); the
 *     device must not be able to take DRIVER_OK back
 *  H  a network device returns a used entry on its receive queue, and
 *     raises that queue's interrupt, while the driver is still setting up
 *     its transmit queue: a callback then could find the driver half set up
 *     (6.1's virtio-rng crashed so, found by fuzz-uapi on the debug kernel).
 *     Nothing reaches the driver before DRIVER_OK; then the entry is judged
 *     (the driver never made it available) and the device breaks
 *
 * Needs loopback.ko loaded and virtio_rng available; E needs
 * trap_timeout_ms <= 5000 (vm-fault.sh loads it with 2000).  Run as root.
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
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PARAM_EXTRA "/sys/module/loopback/parameters/extra_device_ids"
#define PAGE 4096UL

#define VIRTIO_ID_NET 1
#define VNET_F_MAC (1ULL << 5)
#define VNET_F_MTU (1ULL << 3)
#define VNET_F_CSUM (1ULL << 0)
#define VNET_F_STATUS (1ULL << 16)
#define VNET_F_CTRL_VQ (1ULL << 17)

static int ctl;
static int base_count;

/* CREATE with @id and @features: the fd (closed at once), or -1 with errno */
static int try_create(uint32_t id, uint64_t features)
{
	struct loopback_create c;
	int fd, e;

	lb_create_defaults(&c);
	c.device_id = id;
	c.features |= features;
	c.num_queues = 3;
	fd = ioctl(ctl, LOOPBACK_CREATE, &c);
	e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return fd;
}

/* is @id in the extra_device_ids list right now? */
static bool extra_listed(uint32_t id)
{
	char buf[256], *tok, *save = NULL;

	if (lb_read_file(PARAM_EXTRA, buf, sizeof(buf)))
		return false;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strtoul(tok, NULL, 0) == id)
			return true;
	return false;
}

static void test_classes(void)
{
	static const struct {
		uint32_t id;
		const char *what;
	} denied[] = {
		{ 3, "console (a login prompt on the host)" },
		{ 5, "balloon" },
		{ 9, "9p" },
		{ 16, "gpu" },
		{ 18, "input (keystrokes into the host)" },
		{ 19, "vsock (the host's only guest-to-host transport)" },
		{ 20, "crypto" },
		{ 24, "mem (memory hot-plug)" },
		{ 26, "fs" },
		{ 27, "pmem" },
		{ 0x7ff0, "an id no driver claims" },
		{ 0xfffffffe, "0xfffffffe" },
	};
	static const struct {
		int bit;
		const char *name;
	} net_denied[] = {
		{ 17, "CTRL_VQ" }, { 2, "CTRL_GUEST_OFFLOADS" }, { 18, "CTRL_RX" },
		{ 19, "CTRL_VLAN" }, { 20, "CTRL_RX_EXTRA" }, { 21, "GUEST_ANNOUNCE" },
		{ 22, "MQ" }, { 23, "CTRL_MAC_ADDR" }, { 52, "VQ_NOTF_COAL" },
		{ 53, "NOTF_COAL" }, { 57, "HASH_REPORT" }, { 60, "RSS" }, { 62, "STANDBY" },
	};
	const uint64_t plain_net = VNET_F_MAC | VNET_F_MTU | VNET_F_CSUM | VNET_F_STATUS;
	unsigned int i;
	char what[128];

	tap_diag("A: the class allowlist");
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		snprintf(what, sizeof(what), "CREATE device_id %u, %s", denied[i].id, denied[i].what);
		if (extra_listed(denied[i].id)) {
			tap_skip("%s: listed in extra_device_ids", what);
			continue;
		}
		EXPECT_ERR(try_create(denied[i].id, 0), what, EPERM);
	}
	if (extra_listed(VIRTIO_ID_NET)) {
		tap_skip("network features: the network class is listed in extra_device_ids");
	} else {
		for (i = 0; i < sizeof(net_denied) / sizeof(net_denied[0]); i++) {
			snprintf(what, sizeof(what), "CREATE network with %s", net_denied[i].name);
			EXPECT_ERR(try_create(VIRTIO_ID_NET, plain_net | (1ULL << net_denied[i].bit)), what,
				   EPERM);
		}
		EXPECT_ERR(try_create(VIRTIO_ID_NET, plain_net | VNET_F_CTRL_VQ | (1ULL << 22)),
			   "CREATE network with CTRL_VQ and MQ", EPERM);
	}
	/* a bad request stays EINVAL: validation comes first */
	{
		struct loopback_create c;

		lb_create_defaults(&c);
		c.device_id = 5;
		c.num_queues = 0;
		EXPECT_ERR(ioctl(ctl, LOOPBACK_CREATE, &c), "CREATE balloon with num_queues 0", EINVAL);
	}
	lb_sleep_ms(300);
	tap_ok(lb_virtio_count() == base_count, "no virtio device after the refused CREATEs (%d, was %d)",
	       lb_virtio_count(), base_count);

	/* the default classes; nothing serves them, so close at once */
	EXPECT_OK(try_create(VIRTIO_ID_ENTROPY, 0), "CREATE entropy");
	EXPECT_OK(try_create(VIRTIO_ID_BLOCK, 0), "CREATE block");
	EXPECT_OK(try_create(VIRTIO_ID_NET, plain_net), "CREATE network without a control queue");
	tap_ok(lb_wait_count(base_count, 10000) == 0, "virtio devices back to %d", base_count);
}

static void test_extra_ids(void)
{
	char old[256] = "";
	int r;

	tap_diag("B: extra_device_ids");
	if (lb_read_file(PARAM_EXTRA, old, sizeof(old))) {
		tap_ok(false, "read %s: %s", PARAM_EXTRA, strerror(errno));
		return;
	}
	tap_diag("extra_device_ids was '%s'", old);
	r = lb_write_file(PARAM_EXTRA, "5,0x7ff0");
	tap_ok(r == 0, "write extra_device_ids = 5,0x7ff0 (%s)", r ? strerror(errno) : "ok");
	EXPECT_OK(try_create(5, 0), "CREATE balloon once listed");
	EXPECT_OK(try_create(0x7ff0, 0), "CREATE 0x7ff0 once listed");
	EXPECT_ERR(try_create(18, 0), "CREATE input (not listed)", EPERM);
	EXPECT_ERR(try_create(VIRTIO_ID_NET, VNET_F_MAC | VNET_F_CTRL_VQ), "CREATE network with CTRL_VQ (not listed)",
		   EPERM);
	r = lb_write_file(PARAM_EXTRA, "1");
	tap_ok(r == 0, "write extra_device_ids = 1");
	EXPECT_OK(try_create(VIRTIO_ID_NET, VNET_F_MAC | VNET_F_CTRL_VQ | (1ULL << 22)),
		  "CREATE network with CTRL_VQ and MQ once the network class is listed");
	EXPECT_ERR(try_create(5, 0), "CREATE balloon (no longer listed)", EPERM);
	r = lb_write_file(PARAM_EXTRA, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17");
	tap_ok(r < 0, "a list of 17 ids is refused (%s)", r ? strerror(errno) : "accepted");
	/* a module array parameter cannot be emptied: 0 is no device id */
	r = lb_write_file(PARAM_EXTRA, old[0] ? old : "0");
	tap_ok(r == 0, "restore extra_device_ids ('%s', or 0 for none)", old);
	if (!extra_listed(VIRTIO_ID_NET))
		EXPECT_ERR(try_create(VIRTIO_ID_NET, VNET_F_MAC | VNET_F_CTRL_VQ),
			   "CREATE network with CTRL_VQ once no longer listed", EPERM);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "virtio devices back to %d", base_count);
}

/* --------------------------------------------------- the hostile back end */

/*
 * The back end: receives a window fd and the avail ring's offset over
 * @sock, maps the whole window from offset 0, reports "mapped" on @msg,
 * then writes the window (a pattern over the last page; the avail index,
 * which refuses writes while the device lives) until @stop is readable.
 * Then it checks that its mapping is the scratch page: one page, whatever
 * the offset, writable at the avail index too.  Exit status: 0, or 40+.
 */
static int backend_main(int sock, int msg, int stop)
{
	struct pollfd p = { .fd = stop, .events = POLLIN };
	volatile uint8_t *avail_idx;
	volatile uint8_t *w;
	struct stat_like { uint64_t off, size; } lay;
	uint64_t rounds = 0, refused = 0;
	char extra[64];
	int wfd;

	alarm(60);
	wfd = lb_recv_fd(sock);
	if (wfd < 0)
		return 40;
	if (read(sock, &lay, sizeof(lay)) != sizeof(lay))
		return 41;
	w = mmap(NULL, lay.size, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	if (w == MAP_FAILED)
		return 42;
	close(wfd);
	avail_idx = w + lay.off + 2;
	lb_msg_send(msg, "mapped", "", "");
	while (poll(&p, 1, 0) == 0) {
		/* what a runaway back end does: scribble, avail->idx too */
		if (lb_touch(avail_idx, true))
			refused++;
		memset((uint8_t *)w + lay.size - PAGE, (int)(rounds & 0xff), PAGE);
		rounds++;
		if (!(rounds % 64))
			usleep(100);
	}
	snprintf(extra, sizeof(extra), "%llu (%llu avail->idx writes refused)",
		 (unsigned long long)rounds, (unsigned long long)refused);
	lb_msg_send(msg, "rounds", "", extra);
	/* after the revocation: every page is one zeroed-then-scribbled page */
	w[0] = 0xa7;
	w[PAGE + 1] = 0x7a;
	if (w[lay.size - PAGE] != 0xa7 || w[1] != 0x7a || w[lay.off % PAGE] != w[lay.off])
		return 43;
	/* the ring's read-only marks do not follow it onto the scratch page */
	if (lb_touch(avail_idx, true) || w[(lay.off + 2) % PAGE] != 0x42)
		return 44;
	return 0;
}

/* forks the back end; it keeps only its three fds */
static pid_t start_backend(int sock, int msg, int stop)
{
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	/* no device fd, no other inherited fd: only the window fd it is sent */
	for (fd = 3; fd < 1024; fd++)
		if (fd != sock && fd != msg && fd != stop)
			close(fd);
	_exit(backend_main(sock, msg, stop));
}

/* the ring layout of queue 0 for the back end: avail offset, window size */
static int send_layout(struct lbdev *d, int sock)
{
	struct { uint64_t off, size; } lay;
	struct loopback_window_fd wf = { .flags = LOOPBACK_WINDOW_FD_CLOEXEC };
	int wfd, rc;

	pthread_mutex_lock(&d->lock);
	lay.off = d->q[0].driver - d->info.window_base;
	lay.size = d->info.window_size;
	pthread_mutex_unlock(&d->lock);
	wfd = ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, &wf);
	if (wfd < 0)
		return -1;
	rc = lb_send_fd(sock, wfd);
	close(wfd);
	if (rc == 0 && write(sock, &lay, sizeof(lay)) != sizeof(lay))
		rc = -1;
	return rc;
}

struct duo {
	int sock[2];	/* the window fd and layout go over it */
	int msg[2];	/* the back end's messages */
	int stop[2];	/* readable: the back end stops writing */
};

static void duo_open(struct duo *u)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, u->sock) < 0 || pipe(u->msg) < 0 ||
	    pipe(u->stop) < 0)
		tap_bail("socketpair/pipe: %s", strerror(errno));
}

static void duo_close(struct duo *u)
{
	close(u->sock[0]);
	close(u->sock[1]);
	close(u->msg[0]);
	close(u->msg[1]);
	close(u->stop[0]);
	close(u->stop[1]);
}

/* tells the back end to stop and judges how it ended */
static void finish_backend(const char *what, pid_t be, struct duo *u)
{
	struct lb_msg m;
	int st = 0, rc;

	if (write(u->stop[1], "s", 1) != 1)
		tap_bail("write: %s", strerror(errno));
	if (lb_msg_recv(u->msg[0], &m, 10000) == 0)
		tap_diag("%s: the back end wrote the window %s times", what, m.extra);
	rc = lb_wait_child(be, &st, 20000);
	tap_ok(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "%s: the back end survived, and its writes now land on a scratch page (%s %d)", what,
	       rc ? "not exited" : WIFEXITED(st) ? "exit" : "signal",
	       rc ? 0 : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	if (rc) {
		lb_dump_task(be, "back end");
		kill(be, SIGKILL);
		lb_wait_child(be, &st, 5000);
	}
}

/* the device process of C: creates the device, hands the window on, serves */
static void owner_main(struct duo *u, int msg)
{
	struct lbdev_opts o = { .ioeventfd = true, .irqfd = true };
	struct lbdev *d;

	alarm(60);
	d = lbdev_create(ctl, &o);
	if (!d)
		_exit(50);
	if (lbdev_wait_status(d, VS_DRIVER_OK, 20000) || send_layout(d, u->sock[0]))
		_exit(51);
	lb_msg_send(msg, "ready", d->info.name, "");
	for (;;)
		pause();
}

static void test_backend_kill(void)
{
	const char *what = "C: SIGKILL of the device process";
	char name[LOOPBACK_NAME_LEN + 1];
	struct duo u;
	int omsg[2], st;
	struct lb_msg m;
	pid_t be, owner;

	tap_diag("%s while a window-fd back end writes", what);
	duo_open(&u);
	if (pipe(omsg) < 0)
		tap_bail("pipe: %s", strerror(errno));
	be = start_backend(u.sock[1], u.msg[1], u.stop[0]);
	owner = fork();
	if (owner == 0)
		owner_main(&u, omsg[1]);
	if (lb_msg_recv(omsg[0], &m, 30000) || strcmp(m.tag, "ready")) {
		tap_ok(false, "%s: the device process set up a device", what);
		kill(owner, SIGKILL);
		lb_wait_child(owner, &st, 5000);
		kill(be, SIGKILL);
		lb_wait_child(be, &st, 5000);
		goto out;
	}
	snprintf(name, sizeof(name), "%s", m.name);
	tap_ok(lb_msg_recv(u.msg[0], &m, 10000) == 0 && !strcmp(m.tag, "mapped"),
	       "%s: the back end mapped the window fd it was sent", what);
	lb_sleep_ms(300);	/* it writes away */
	kill(owner, SIGKILL);
	tap_ok(lb_wait_child(owner, &st, 20000) == 0, "%s: the device process is gone", what);
	tap_ok(lb_wait_gone(name, 10000) == 0,
	       "%s: the virtio device of %s is gone while the back end still writes", what, name);
	lb_sleep_ms(300);	/* it writes on, into the scratch page */
	finish_backend(what, be, &u);
out:
	close(omsg[0]);
	close(omsg[1]);
	duo_close(&u);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

static void test_backend_close(void)
{
	const char *what = "D: close of the device fd";
	struct lbdev_opts o = { 0 };
	char name[LOOPBACK_NAME_LEN + 1];
	struct lbdev *d;
	struct lb_msg m;
	struct duo u;
	uint8_t *keep;
	size_t wl;
	pid_t be;
	int sig;

	tap_diag("%s while a window-fd back end writes", what);
	d = lbdev_create(ctl, &o);
	if (!d || lbdev_wait_status(d, VS_DRIVER_OK, 20000)) {
		tap_ok(false, "%s: a bound rng device (%s)", what, d ? d->errmsg : strerror(errno));
		lbdev_destroy(d, false);
		return;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	duo_open(&u);
	be = start_backend(u.sock[1], u.msg[1], u.stop[0]);
	tap_ok(send_layout(d, u.sock[0]) == 0, "%s: pass a window fd to the back end", what);
	tap_ok(lb_msg_recv(u.msg[0], &m, 10000) == 0 && !strcmp(m.tag, "mapped"),
	       "%s: the back end mapped it", what);
	lb_sleep_ms(300);
	keep = lbdev_close_keep_map(d, &wl);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: the virtio device is gone", what);
	sig = lb_touch(keep, false);
	tap_ok(sig == SIGBUS, "%s: the owner's mapping raises %s (want SIGBUS)", what, lb_signame(sig));
	lb_sleep_ms(300);
	finish_backend(what, be, &u);
	munmap(keep, wl);
	duo_close(&u);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

static void test_trap_timeout(long timeout_ms)
{
	const char *what = "E: a trap timeout";
	struct loopback_window_fd wf = { 0 };
	struct lbdev_opts o = { 0 };
	char vdev[64], path[160], buf[32];
	struct pollfd p;
	struct lbdev *d;
	int sig, wfd;
	uint8_t *wm;

	tap_diag("%s with the device fd open", what);
	d = lbdev_create(ctl, &o);
	if (!d || lbdev_wait_status(d, VS_DRIVER_OK, 20000) ||
	    lb_find_virtio(d->info.name, vdev, sizeof(vdev))) {
		tap_ok(false, "%s: a bound rng device", what);
		lbdev_destroy(d, false);
		return;
	}
	wfd = ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, &wf);
	wm = wfd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	tap_ok(wm != MAP_FAILED, "%s: map a window fd first", what);
	pthread_mutex_lock(&d->lock);
	d->stall_next_status = true;
	pthread_mutex_unlock(&d->lock);
	/* reading the virtio device's status traps a Status read */
	snprintf(path, sizeof(path), "%s/%s/status", LB_VIRTIO_DEVICES, vdev);
	lb_read_file(path, buf, sizeof(buf));
	p = (struct pollfd){ .fd = d->fd, .events = POLLIN };
	sig = poll(&p, 1, (int)timeout_ms + 5000);
	tap_ok(sig == 1 && (p.revents & POLLERR), "%s: the device is broken (revents %#x)", what, p.revents);
	sig = lb_touch(d->win, true);
	tap_ok(sig == SIGBUS, "%s: the owner's device-fd mapping raises %s (want SIGBUS)", what, lb_signame(sig));
	if (wm != MAP_FAILED) {
		sig = lb_touch(wm, false);
		tap_ok(sig == SIGBUS, "%s: the owner's window-fd mapping raises %s", what, lb_signame(sig));
		munmap(wm, PAGE);
	}
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_WINDOW_FD, &wf), "E: WINDOW_FD on the broken device", EIO);
	if (wfd >= 0)
		close(wfd);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

/* the interface name of virtio device VDEV's netdev, and brings it up */
static int net_up(const char *vdev, char *ifname, size_t len)
{
	struct ifreq ifr;
	char path[160];
	struct dirent *e;
	DIR *dir;
	int s, r;

	snprintf(path, sizeof(path), "%s/%s/net", LB_VIRTIO_DEVICES, vdev);
	dir = opendir(path);
	if (!dir)
		return -1;
	ifname[0] = 0;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			snprintf(ifname, len, "%.15s", e->d_name);
	closedir(dir);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!ifname[0] || s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	r = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (r == 0)
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return r;
}

/* waits until /sys/class/net/IFNAME/carrier reads WANT */
static int wait_carrier(const char *ifname, const char *want, unsigned int ms)
{
	uint64_t end = lb_now_ms() + ms;
	char path[96], buf[16];

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	for (;;) {
		if (lb_read_file(path, buf, sizeof(buf)) == 0 && !strcmp(buf, want))
			return 0;
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(20);
	}
}

static void test_net_announce(void)
{
	const char *what = "F: S_ANNOUNCE without a control queue";
	struct lbdev_opts o = {
		.device_id = VIRTIO_ID_NET, .num_queues = 2, .config_size = 8,
		.features = VF_VERSION_1 | VF_ACCESS_PLATFORM | VNET_F_STATUS | VNET_F_MAC,
		.fill = LB_FILL_HOLD, .ioeventfd = true,
	};
	/* mac, then status (le16): LINK_UP | ANNOUNCE, then ANNOUNCE alone */
	uint8_t cfg[8] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56, 3, 0 };
	struct loopback_config c = { .offset = 0, .length = 8, .data = (uintptr_t)cfg,
				     .flags = LOOPBACK_CONFIG_NOTIFY };
	char vdev[64], ifname[32];
	struct lbdev *d;

	if (access("/sys/bus/virtio/drivers/virtio_net", F_OK) < 0) {
		tap_skip("%s (virtio_net is not loaded)", what);
		return;
	}
	d = lbdev_create(ctl, &o);
	if (!tap_ok(d != NULL, "%s: create a network device with STATUS", what))
		return;
	tap_ok(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, &c) == 0, "%s: status LINK_UP | ANNOUNCE", what);
	if (!tap_ok(lb_wait_bound(d->info.name, "virtio_net", vdev, sizeof(vdev), 20000) == 0 &&
		    lbdev_wait_status(d, VS_DRIVER_OK, 20000) == 0,
		    "%s: virtio_net binds (%s)", what, d->errmsg)) {
		lbdev_destroy(d, false);
		return;
	}
	tap_ok(net_up(vdev, ifname, sizeof(ifname)) == 0, "%s: bring %s up", what, ifname);
	tap_ok(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, &c) == 0, "%s: raise a config change", what);
	tap_ok(wait_carrier(ifname, "1", 10000) == 0, "%s: the driver follows LINK_UP", what);
	cfg[6] = 2;
	tap_ok(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, &c) == 0, "%s: status ANNOUNCE alone", what);
	tap_ok(wait_carrier(ifname, "0", 10000) == 0,
	       "%s: the driver took the change (carrier 0) and did not BUG", what);
	tap_ok(!lb_kmsg_contains("Failed to ack link announce"),
	       "%s: the driver never tried to acknowledge an announcement", what);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

static void test_status_flip(void)
{
	const char *what = "G: a device takes DRIVER_OK back";
	struct lbdev_opts o = { .manual = true };
	uint64_t end, ok_at = 0;
	struct loopback_trap t;
	struct lbdev *d;
	int flips = 0;

	d = lbdev_create(ctl, &o);
	if (!tap_ok(d != NULL, "%s: create an entropy device", what))
		return;
	end = lb_now_ms() + 20000;
	/* serve until a second after the first Status read that saw DRIVER_OK */
	while (lb_now_ms() < end && (!ok_at || lb_now_ms() < ok_at + 1000)) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		struct loopback_reply rep = { 0 };
		bool need, status_rd;
		uint64_t v;

		if (poll(&p, 1, 100) != 1 || !(p.revents & POLLIN) ||
		    read(d->fd, &t, sizeof(t)) != sizeof(t))
			continue;
		pthread_mutex_lock(&d->lock);
		status_rd = !(t.flags & LOOPBACK_TRAP_WRITE) &&
			    t.addr - d->info.regs_base == VM_STATUS;
		v = lbdev_model(d, &t, &need);
		if (status_rd && (d->status & VS_DRIVER_OK) && !flips++) {
			v &= ~(uint64_t)VS_DRIVER_OK;
			ok_at = lb_now_ms();
		}
		pthread_mutex_unlock(&d->lock);
		if (!need)
			continue;
		rep.id = t.id;
		rep.data = (t.flags & LOOPBACK_TRAP_WRITE) ? 0 : v;
		if (write(d->fd, &rep, sizeof(rep)) != sizeof(rep))
			break;
	}
	tap_ok(flips > 0, "%s: a Status read after DRIVER_OK was answered without it", what);
	tap_ok(!lb_kmsg_contains("at include/linux/virtio_config.h"),
	       "%s: no warning from virtio_device_ready()", what);
	tap_ok(lb_wait_bound(d->info.name, "virtio_rng", NULL, 0, 5000) == 0,
	       "%s: virtio_rng stays bound", what);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

/* Plants used entry 0 (head 0, a huge length) on queue 0 and raises it. */
static bool plant_used(struct lbdev *d)
{
	struct loopback_interrupt irq = { .queue = 0 };
	volatile uint16_t *used;
	void *desc, *avail, *u;

	if (lbdev_rings(d, 0, &desc, &avail, &u) < 0)
		return false;
	used = u;
	used[2] = 0;			/* ring[0].id */
	used[3] = 0;
	used[4] = 0xffff;		/* ring[0].len */
	used[5] = 0xffff;
	__atomic_store_n(&used[1], 1, __ATOMIC_RELEASE);	/* idx */
	return ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, &irq) == 0;
}

static void test_early_irq(void)
{
	const char *what = "H: an interrupt before DRIVER_OK";
	struct lbdev_opts o = {
		.device_id = VIRTIO_ID_NET, .num_queues = 2, .config_size = 8,
		.features = VF_VERSION_1 | VF_ACCESS_PLATFORM | VNET_F_MAC,
		.manual = true,
	};
	static const char why[] =
		"queue 0: malformed ring (the device returned a buffer it did not hold)";
	bool planted = false, raised = false, ok_seen = false, broken = false;
	int said = lb_kmsg_count(why);
	uint64_t end;
	struct lbdev *d;

	if (access("/sys/bus/virtio/drivers/virtio_net", F_OK) < 0) {
		tap_skip("%s (virtio_net is not loaded)", what);
		return;
	}
	d = lbdev_create(ctl, &o);
	if (!tap_ok(d != NULL, "%s: create a network device", what))
		return;
	end = lb_now_ms() + 20000;
	while (lb_now_ms() < end && !broken) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		struct loopback_reply rep = { 0 };
		struct loopback_trap t;
		bool need, wr, plant = false;
		uint64_t off, v;

		if (poll(&p, 1, 100) != 1)
			continue;
		if (p.revents & (POLLERR | POLLHUP)) {
			broken = true;
			break;
		}
		if (read(d->fd, &t, sizeof(t)) != sizeof(t))
			continue;
		pthread_mutex_lock(&d->lock);
		wr = t.flags & LOOPBACK_TRAP_WRITE;
		off = t.addr - d->info.regs_base;
		v = lbdev_model(d, &t, &need);
		/* queue 0 runs, the driver's probe is inside find_vqs() */
		if (wr && off == VM_QUEUE_READY && t.data == 1 &&
		    d->queue_sel == 1 && !planted)
			plant = true;
		if (wr && off == VM_STATUS && (t.data & VS_DRIVER_OK))
			ok_seen = true;
		pthread_mutex_unlock(&d->lock);
		if (plant) {
			planted = true;
			raised = plant_used(d);
		}
		if (!need)
			continue;
		rep.id = t.id;
		rep.data = wr ? 0 : v;
		if (write(d->fd, &rep, sizeof(rep)) != sizeof(rep) && errno != ENODEV)
			break;
	}
	tap_ok(planted && raised,
	       "%s: the device returned a head on queue 0 and raised its interrupt during queue 1's setup", what);
	tap_ok(ok_seen, "%s: the driver's probe went on to DRIVER_OK", what);
	tap_ok(broken, "%s: then the device broke", what);
	tap_ok(lb_kmsg_count(why) == said + 1, "%s: the kernel says why, once", what);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_count(base_count, 10000) == 0, "%s: virtio devices back to %d", what, base_count);
}

int main(int argc, char **argv)
{
	long timeout_ms = -1;
	char buf[64];
	int opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't') {
			fprintf(stderr, "usage: %s [-t TRAP_TIMEOUT_MS]\n", argv[0]);
			return 2;
		}
		timeout_ms = strtol(optarg, NULL, 0);
	}
	tap_init("test-untrusted");
	ctl = lb_open_ctl();
	if (timeout_ms < 0 &&
	    lb_read_file("/sys/module/loopback/parameters/trap_timeout_ms", buf, sizeof(buf)) == 0)
		timeout_ms = strtol(buf, NULL, 0);
	base_count = lb_virtio_count();

	test_classes();
	test_extra_ids();
	test_backend_kill();
	test_backend_close();
	if (timeout_ms <= 0 || timeout_ms > 5000)
		tap_skip("E: trap timeout (trap_timeout_ms is %ld; needs <= 5000)", timeout_ms);
	else
		test_trap_timeout(timeout_ms);
	test_net_announce();
	test_status_flip();
	test_early_irq();
	close(ctl);
	return tap_finish();
}
