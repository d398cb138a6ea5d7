// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz-uapi: a random-operation fuzzer of loopback.ko's user-space
 * interface, through the uapi only (include/uapi/linux/loopback.h).
 *
 *   fuzz-uapi [-s SEED] [-n OPS | --soak] [-w WORKERS] [-t TRAP_MS]
 *             [-k MODULE.ko -p PARAMS] [-x foreign] [-v]
 *
 * WORKERS device processes (default 6) each run devices one after the
 * other, so that WORKERS devices live at once: entropy, block, network
 * without a control queue, and the class 0x7ff0 (which needs
 * extra_device_ids=0x7ff0; without it that create must fail EPERM).  Each
 * operation is one call whose outcome is checked against
 * Documentation/uapi.md: an ioctl on /dev/loopback or on a device fd
 * (valid, or a struct with bad fields, reserved bits, out-of-range
 * indices, a wrong api_version, random bytes, a bad pointer), a read() of
 * traps, a trap reply (right, wrong value, bad flags, short or long write,
 * unknown or repeated id, late: within or past trap_timeout_ms, or never),
 * an mmap() of the device or of a window fd, a load or store in the window
 * (past its end and into descriptor tables and available rings: SIGBUS
 * expected; elsewhere: none unless the device broke), a write of garbage
 * into a used ring or a buffer (what a device may write), and the end of a
 * device (close, LOOPBACK_DEV_REMOVE, a trap left to time out).  Block
 * devices get a child doing O_DIRECT I/O on the disk while this happens.
 * The main process SIGKILLs workers at random moments and starts new ones
 * until every worker has done its share of OPS.
 *
 * Then: every result was one the documentation allows, no loopback virtio
 * device is left, no task is in D state, and with -k the module unloads
 * and loads again.  The kernel log is judged by the scenario (vm-lib.sh)
 * and tests/vm/run.
 *
 * The seed is printed first: -s SEED replays the same sequence of
 * decisions (what the kernel and the scheduler do in between can differ).
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 16
#define EXTRA_ID 0x7ff0
#define VIRTIO_ID_NET 1
#define N_EVFD 4
#define MAX_HELD 8
#define MAX_MAPS 6
#define MAX_WFD 3
#define STALE_MS 60000		/* a worker without progress this long is stuck */

/* ------------------------------------------------------------ results */

enum res { RS_OK, RS_EINVAL, RS_EPERM, RS_EFAULT, RS_ENOMEM, RS_ENOTTY, RS_EBADF,
	   RS_EEXIST, RS_ENOENT, RS_EIO, RS_ENODEV, RS_EALREADY, RS_EAGAIN, RS_SIGBUS,
	   RS_OTHER, RS_NRES };
static const char *const res_name[RS_NRES] = {
	"ok", "EINVAL", "EPERM", "EFAULT", "ENOMEM", "ENOTTY", "EBADF", "EEXIST",
	"ENOENT", "EIO", "ENODEV", "EALREADY", "EAGAIN", "SIGBUS", "other",
};
#define A(x) (1u << RS_##x)

enum kind { K_CTL, K_CREATE, K_INFO, K_IOEVENTFD, K_IRQFD, K_INTERRUPT,
	    K_CONFIG, K_WINDOW_FD, K_REMOVE, K_DEV_BADCMD, K_READ,
	    K_REPLY, K_MMAP, K_TOUCH, K_RING, K_WFD_OPS, K_CLOSE, K_NKINDS };
static const char *const kind_name[K_NKINDS] = {
	"ctl ioctl", "CREATE", "GET_INFO", "IOEVENTFD", "IRQFD", "INTERRUPT",
	"SET_CONFIG", "WINDOW_FD", "REMOVE", "dev bad cmd", "read",
	"reply (write)", "mmap", "load/store", "ring/buffer garbage", "window fd ops",
	"device end",
};

struct wstat {
	volatile uint64_t ops;
	uint64_t budget;
	uint64_t viol;
	uint64_t cnt[K_NKINDS][RS_NRES];
	uint64_t devices, broken, removed, io_children, io_eio, gone_slow;
	uint64_t late_replies, dropped_replies;
	uint32_t gen;
	volatile uint64_t last_progress_ms;
};

struct shared {
	struct wstat w[MAX_WORKERS];
};

static struct shared *sh;
static struct wstat *ws;		/* this worker's slot */
static int wid;
static uint64_t g_seed;
static unsigned int trap_ms = 1000;
static bool verbose;
static bool extra_allowed;
/*
 * -x foreign: never publish a used entry for a head the device does not
 * hold.  The kernel refuses such a ring with virtio_break_device(), and
 * 6.1's virtio_blk then waits for its requests for ever (D state, rmmod
 * impossible): a known hole, avoided to fuzz the rest.
 */
static bool skip_foreign;

/* ----------------------------------------------------------------- rng */

static uint64_t rs;

static uint64_t rnd64(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(rnd64() % n) : 0;
}

static bool chance(uint32_t pct)
{
	return rnd(100) < pct;
}

static void rnd_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n--)
		*b++ = (uint8_t)rnd64();
}

/* ------------------------------------------------------------ checking */

static enum res res_of(long ret, int err)
{
	if (ret >= 0)
		return RS_OK;
	switch (err) {
	case EINVAL: return RS_EINVAL;
	case EPERM: return RS_EPERM;
	case EFAULT: return RS_EFAULT;
	case ENOMEM: return RS_ENOMEM;
	case ENOTTY: return RS_ENOTTY;
	case EBADF: return RS_EBADF;
	case EEXIST: return RS_EEXIST;
	case ENOENT: return RS_ENOENT;
	case EIO: return RS_EIO;
	case ENODEV: return RS_ENODEV;
	case EALREADY: return RS_EALREADY;
	case EAGAIN: return RS_EAGAIN;
	default: return RS_OTHER;
	}
}

static void set_str(unsigned int set, char *buf, size_t len)
{
	int i;

	buf[0] = 0;
	for (i = 0; i < RS_NRES; i++)
		if (set & (1u << i))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
				 buf[0] ? "/" : "", res_name[i]);
}

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void violation(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ws->viol++;
	tap_diag("VIOLATION worker %d gen %u op %llu: %s", wid, ws->gen,
		 (unsigned long long)ws->ops, buf);
}

/* counts one operation and checks its outcome; returns the result */
static enum res check(enum kind k, enum res r, unsigned int allowed, const char *what)
{
	char a[128];

	ws->ops++;
	ws->last_progress_ms = lb_now_ms();
	ws->cnt[k][r]++;
	if (!(allowed & (1u << r))) {
		set_str(allowed, a, sizeof(a));
		violation("%s %s: got %s, documented: %s", kind_name[k], what,
			  res_name[r], a);
	}
	if (verbose)
		tap_diag("w%d op %llu %s %s -> %s", wid, (unsigned long long)ws->ops,
			 kind_name[k], what, res_name[r]);
	return r;
}

/* the outcome of a call: ret and the errno saved right after it */
#define CALL(expr) (call_ret = (long)(expr), call_err = errno, call_ret)
static long call_ret;
static int call_err;

static enum res check_call(enum kind k, long ret, unsigned int allowed, const char *what)
{
	(void)ret;
	return check(k, res_of(call_ret, call_err), allowed, what);
}

static bool budget_done(void)
{
	return ws->ops >= ws->budget;
}

/* ------------------------------------------------------------ pointers */

static uint8_t *bad_ptr;		/* a PROT_NONE page: EFAULT */
static uint8_t good_buf[8192];

/* a pointer for a struct field: good, NULL or unreadable; *ok says */
static uint64_t pick_ptr(bool *ok)
{
	switch (rnd(10)) {
	case 0: *ok = false; return 0;
	case 1: *ok = false; return (uintptr_t)bad_ptr;
	default: *ok = true; return (uintptr_t)good_buf;
	}
}

/* ------------------------------------------------------ CREATE oracle */

#define NET_DENIED ((1ULL << 17) | (1ULL << 2) | (1ULL << 18) | (1ULL << 19) | \
		    (1ULL << 20) | (1ULL << 21) | (1ULL << 22) | (1ULL << 23) | \
		    (1ULL << 52) | (1ULL << 53) | (1ULL << 57) | (1ULL << 60) | \
		    (1ULL << 62))
/* network features the fuzzer offers: csum, mtu, mac, gso, tso, mrg_rxbuf, status */
#define NET_OFFERED ((1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 5) | \
		     (1ULL << 7) | (1ULL << 8) | (1ULL << 11) | (1ULL << 12) | \
		     (1ULL << 15) | (1ULL << 16))

static bool class_allowed(uint32_t id, uint64_t features)
{
	if (id == VIRTIO_ID_ENTROPY || id == VIRTIO_ID_BLOCK)
		return true;
	if (id == VIRTIO_ID_NET && !(features & NET_DENIED))
		return true;
	return id == EXTRA_ID && extra_allowed;
}

/* the documented outcomes of LOOPBACK_CREATE with c (Documentation/uapi.md) */
static unsigned int create_expect(const struct loopback_create *c, bool cfg_ok)
{
	const uint64_t req = VF_VERSION_1 | VF_ACCESS_PLATFORM;
	unsigned int e = 0, i;
	bool outs = c->regs_base || c->window_base;

	for (i = 0; i < sizeof(c->name); i++)
		outs |= c->name[i] != 0;
	if (c->api_version < 1 || c->api_version > LOOPBACK_API_VERSION || c->flags)
		e |= A(EINVAL);
	if (c->trap_size && (c->api_version < 2 || c->trap_size < 32 ||
			     c->trap_size > LOOPBACK_MAX_TRAP_SIZE || c->trap_size % 8))
		e |= A(EINVAL);
	if (c->api_version >= 2 && outs)
		e |= A(EINVAL);
	for (i = 0; i < 4; i++)
		if (c->reserved[i])
			e |= A(EINVAL);
	if (c->device_id == 0 || c->device_id == 0xffffffffU)
		e |= A(EINVAL);
	if ((c->features & req) != req)
		e |= A(EINVAL);
	if (c->num_queues < 1 || c->num_queues > LOOPBACK_MAX_QUEUES)
		e |= A(EINVAL);
	if (c->max_queue_size < 2 || c->max_queue_size > LOOPBACK_MAX_QUEUE_SIZE ||
	    (c->max_queue_size & (c->max_queue_size - 1)))
		e |= A(EINVAL);
	if (c->config_size > LOOPBACK_MAX_CONFIG_SIZE)
		e |= A(EINVAL);
	if (c->window_size < LOOPBACK_MIN_WINDOW_SIZE ||
	    c->window_size > LOOPBACK_MAX_WINDOW_SIZE ||
	    c->window_size % (uint64_t)sysconf(_SC_PAGESIZE))
		e |= A(EINVAL);
	if (!class_allowed(c->device_id, c->features))
		e |= A(EPERM);
	if (c->config_size && !cfg_ok)
		e |= A(EFAULT);
	return e ? e : A(OK) | A(ENOMEM);
}

static void valid_create(struct loopback_create *c, uint32_t id)
{
	lb_create_defaults(c);
	c->device_id = id;
	c->config = (uintptr_t)good_buf;
	c->num_queues = 1 + rnd(3);
	c->max_queue_size = 2u << rnd(8);
	c->config_size = rnd(64);
	c->window_size = (64ULL << 10) << rnd(5);
	if (chance(30))
		c->trap_size = 32 + 8 * rnd(29);
	if (chance(15) && !c->trap_size)
		c->api_version = 1;
	if (id == VIRTIO_ID_NET)
		c->features |= rnd64() & NET_OFFERED;
}

/* a CREATE with random defects; a device it makes is closed at once */
static void op_create_bad(int ctl)
{
	static const uint32_t ids[] = { VIRTIO_ID_ENTROPY, VIRTIO_ID_BLOCK, VIRTIO_ID_NET,
					EXTRA_ID, 3, 5, 18, 19, 0, 0xffffffffU };
	struct loopback_create c;
	unsigned int exp, n, i;
	bool cfg_ok = true;
	char what[96];
	int fd;

	valid_create(&c, ids[rnd(4)]);
	if (chance(10)) {
		rnd_bytes(&c, sizeof(c));
		c.config = pick_ptr(&cfg_ok);
		snprintf(what, sizeof(what), "random bytes");
	} else {
		n = 1 + rnd(3);
		snprintf(what, sizeof(what), "defects:");
		for (i = 0; i < n; i++) {
			unsigned int m = rnd(17);

			snprintf(what + strlen(what), sizeof(what) - strlen(what), " %u", m);
			switch (m) {
			case 0: c.api_version = chance(50) ? 0 : LOOPBACK_API_VERSION + 1 + rnd(5); break;
			case 1: c.flags = 1u << rnd(32); break;
			case 2: c.device_id = ids[rnd(10)]; break;
			case 3: c.features &= ~(chance(50) ? VF_VERSION_1 : VF_ACCESS_PLATFORM); break;
			case 4: c.num_queues = chance(50) ? 0 : LOOPBACK_MAX_QUEUES + 1 + rnd(100); break;
			case 5: c.max_queue_size = chance(30) ? 0 : chance(50) ? 3 + 2 * rnd(100) : 65536; break;
			case 6: c.config_size = LOOPBACK_MAX_CONFIG_SIZE + 1 + rnd(5000); break;
			case 7: c.trap_size = chance(50) ? 8 * rnd(4) + 1 : 264 + 8 * rnd(10); break;
			case 8: c.reserved[rnd(4)] = rnd64() | 1; break;
			case 9: c.window_size = chance(30) ? 4096 : chance(50) ? (1ULL << 30) + 4096 : (128 << 10) + 512; break;
			case 10: c.regs_base = LOOPBACK_REGS_BASE; break;
			case 11: c.name[rnd(LOOPBACK_NAME_LEN)] = 'x'; break;
			case 12: c.window_base = 1; break;
			case 13: c.config = pick_ptr(&cfg_ok); if (!c.config_size) c.config_size = 8; break;
			case 14: c.device_id = VIRTIO_ID_NET; c.features |= 1ULL << (chance(50) ? 17 : 62); break;
			case 15: c.api_version = 1; c.trap_size = chance(50) ? 64 : 0; c.regs_base = rnd64(); break;
			default: c.num_queues = 1 + rnd(LOOPBACK_MAX_QUEUES); break;
			}
		}
	}
	exp = create_expect(&c, cfg_ok);
	fd = (int)CALL(ioctl(ctl, LOOPBACK_CREATE, &c));
	snprintf(what + strlen(what), sizeof(what) - strlen(what), " (id %#x api %u)",
		 c.device_id, c.api_version);
	check_call(K_CREATE, fd, exp, what);
	if (fd >= 0) {
		if (c.regs_base != LOOPBACK_REGS_BASE || c.window_base != LOOPBACK_WINDOW_BASE ||
		    strncmp(c.name, "loopback", 8))
			violation("CREATE returned regs_base %#llx window_base %#llx name '%.32s'",
				  (unsigned long long)c.regs_base,
				  (unsigned long long)c.window_base, c.name);
		close(fd);
	}
}

/* GET_API_VERSION, GET_FEATURES, a device ioctl or an unknown command */
static void op_ctl(int ctl)
{
	static const unsigned long devcmds[] = {
		LOOPBACK_DEV_GET_INFO, LOOPBACK_DEV_IOEVENTFD, LOOPBACK_DEV_IRQFD,
		LOOPBACK_DEV_INTERRUPT, LOOPBACK_DEV_SET_CONFIG, LOOPBACK_DEV_WINDOW_FD,
		LOOPBACK_DEV_REMOVE,
	};
	uint64_t v = 0;
	unsigned long cmd;
	long r;

	switch (rnd(5)) {
	case 0:
		r = CALL(ioctl(ctl, LOOPBACK_GET_API_VERSION, &v));
		if (check_call(K_CTL, r, A(OK), "GET_API_VERSION") == RS_OK && v != LOOPBACK_API_VERSION)
			violation("GET_API_VERSION said %llu", (unsigned long long)v);
		break;
	case 1:
		r = CALL(ioctl(ctl, LOOPBACK_GET_FEATURES, &v));
		if (check_call(K_CTL, r, A(OK), "GET_FEATURES") == RS_OK && (v & 0x1f) != 0x1f)
			violation("GET_FEATURES said %#llx", (unsigned long long)v);
		break;
	case 2:
		r = CALL(ioctl(ctl, chance(50) ? LOOPBACK_GET_API_VERSION : LOOPBACK_GET_FEATURES, bad_ptr));
		check_call(K_CTL, r, A(EFAULT), "GET_* into an unwritable page");
		break;
	case 3:
		r = CALL(ioctl(ctl, devcmds[rnd(7)], good_buf));
		check_call(K_CTL, r, A(ENOTTY), "device ioctl on /dev/loopback");
		break;
	default:
		do {
			cmd = _IOC(rnd(4), LOOPBACK_IOCTL_TYPE, rnd(0x40), rnd(512));
		} while (cmd == LOOPBACK_GET_API_VERSION || cmd == LOOPBACK_GET_FEATURES ||
			 cmd == LOOPBACK_CREATE);
		r = CALL(ioctl(ctl, cmd, good_buf));
		check_call(K_CTL, r, A(ENOTTY), "unknown command");
		break;
	}
}

/* ------------------------------------------------------- a live device */

struct held {
	uint64_t id;
	uint64_t due_ms;
	uint64_t data;
	bool write;
};

struct ioev {
	bool used;
	int evi;		/* index in evfd[] */
	uint32_t len;
	bool wildcard;
	uint64_t datamatch;
};

struct dev {
	struct lbdev *d;
	int fd;
	uint32_t cls;
	uint32_t nq;
	bool broken;		/* poll said EPOLLERR */
	bool remove_issued;
	bool removed;		/* the removal is over (EPOLLHUP without ERR, or read 0) */
	int evfd[N_EVFD];
	struct ioev ioev[16];
	int irq_evi[LOOPBACK_MAX_QUEUES + 1];	/* slot -> evfd index bound, -1 none */
	struct held held[MAX_HELD];
	int nheld;
	uint64_t last_ids[8];	/* answered ids, for repeats */
	uint64_t posted_id;
	int wfd[MAX_WFD];
	struct { uint8_t *p; size_t len; uint64_t gpa; bool win; } maps[MAX_MAPS];
	pid_t io_child;
	int io_pipe;
	char disk[32];
	unsigned int step;
};

static struct dev D;
static short dev_poll(void);

/*
 * The model reads and writes the window outside lb_touch() too (serving a
 * kick); a trap timeout can revoke the window at any moment, and the
 * owner's access then faults.  The handler puts an anonymous page where
 * the fault was, so the model goes on (on zeros), and says so: the device
 * must then be broken.
 */
static volatile uintptr_t win_lo, win_hi;
static volatile sig_atomic_t model_faults;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr & ~(uintptr_t)4095;

	(void)sig;
	(void)uc;
	if (a >= win_lo && a < win_hi &&
	    mmap((void *)a, 4096, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
		model_faults++;
		return;
	}
	_exit(97);
}

/* after the model faulted in the window: the device must be broken */
static void check_model_faults(void)
{
	if (!model_faults)
		return;
	model_faults = 0;
	if (check(K_TOUCH, RS_SIGBUS, A(SIGBUS), "the model's own access") == RS_SIGBUS &&
	    !(dev_poll() & POLLERR))
		violation("SIGBUS in the device model of a device that is not broken");
}

/* polls the device fd: updates broken/removed; returns revents */

static short dev_poll(void)
{
	struct pollfd p = { .fd = D.fd, .events = POLLIN };

	if (poll(&p, 1, 0) < 0)
		return 0;
	if (p.revents & POLLERR)
		D.broken = true;
	if ((p.revents & POLLHUP) && !(p.revents & POLLERR))
		D.removed = true;
	return p.revents;
}

/* after an EIO: the device must say it is broken; after ENODEV, removed */
static void confirm(enum res r, const char *what)
{
	short ev;

	if (r != RS_EIO && r != RS_ENODEV)
		return;
	ev = dev_poll();
	if (r == RS_EIO && !(ev & POLLERR))
		violation("%s: EIO but poll() says %#x, not EPOLLERR", what, ev);
	if (r == RS_ENODEV && !(ev & POLLHUP))
		violation("%s: ENODEV but poll() says %#x, not EPOLLHUP", what, ev);
}

/* what any device ioctl but GET_INFO may give besides its own errors */
static unsigned int dev_state_set(unsigned int own, bool removed_check)
{
	dev_poll();
	if (D.broken)
		return A(EIO);
	/* a trap timeout can break it at any moment: EIO is checked by confirm() */
	own |= A(EIO);
	if (removed_check && D.remove_issued)
		own |= A(ENODEV);
	if (removed_check && D.removed)
		own = A(ENODEV) | A(EIO);
	return own;
}

static int pick_fd(bool *valid_ev, int *evi)
{
	*evi = -1;
	*valid_ev = false;
	switch (rnd(12)) {
	case 0: return -1;
	case 1: return 1000 + (int)rnd(1000);	/* not open */
	case 2: return D.fd;			/* open, not an eventfd */
	default:
		*evi = (int)rnd(N_EVFD);
		*valid_ev = true;
		return D.evfd[*evi];
	}
}

static void op_ioeventfd(void)
{
	struct loopback_ioeventfd io = {
		.addr = LOOPBACK_REGS_BASE + VM_QUEUE_NOTIFY,
		.len = chance(50) ? 4 : 0,
		.flags = LOOPBACK_IOEVENTFD_DATAMATCH,
	};
	unsigned int e = 0, i, allow;
	bool ev, wild, deassign, exists = false;
	int evi, slot = -1;
	char what[128];
	enum res r;
	long ret;

	io.datamatch = rnd(D.nq + (chance(10) ? 3 : 0));
	io.fd = pick_fd(&ev, &evi);
	if (chance(30))
		io.flags |= LOOPBACK_IOEVENTFD_DEASSIGN;
	if (chance(10)) {
		io.flags &= ~LOOPBACK_IOEVENTFD_DATAMATCH;
		io.datamatch = chance(80) ? 0 : 1;
	}
	switch (rnd(12)) {
	case 0: io.flags |= 4u << rnd(29); break;
	case 1: io.reserved = 1 + rnd(100); break;
	case 2: io.addr += chance(50) ? 4 : -0x50 + rnd(0x1000); break;
	case 3: io.len = 1 + rnd(8); break;
	case 4: rnd_bytes(&io, sizeof(io)); break;
	}
	wild = !(io.flags & LOOPBACK_IOEVENTFD_DATAMATCH);
	deassign = io.flags & LOOPBACK_IOEVENTFD_DEASSIGN;
	if ((io.flags & ~3u) || io.reserved || io.addr != LOOPBACK_REGS_BASE + VM_QUEUE_NOTIFY ||
	    (io.len != 0 && io.len != 4) || (wild ? io.datamatch != 0 : io.datamatch >= D.nq))
		e |= A(EINVAL);
	if (!e) {
		if (io.fd == -1 || (io.fd >= 1000 && io.fd < 2000))
			e |= A(EBADF);
		else if (!ev)
			e |= A(EINVAL);
	}
	if (!e) {
		for (i = 0; i < 16; i++) {
			struct ioev *b = &D.ioev[i];

			if (!b->used)
				continue;
			if (deassign) {
				if (b->evi == evi && b->len == io.len && b->wildcard == wild &&
				    b->datamatch == io.datamatch) {
					exists = true;
					slot = (int)i;
				}
			} else if (b->wildcard || wild || b->datamatch == io.datamatch) {
				exists = true;
			}
		}
		if (deassign && !exists)
			e |= A(ENOENT);
		if (!deassign && exists)
			e |= A(EEXIST);
		if (!deassign && !exists)
			for (i = 0; i < 16 && slot < 0; i++)
				if (!D.ioev[i].used)
					slot = (int)i;
		if (!deassign && !exists && slot < 0)
			return;		/* our table is full: do not lose track */
		if (!e)
			e = A(OK) | (deassign ? 0 : A(ENOMEM));
	}
	if (chance(3)) {
		/* the argument is read before the removed check: EFAULT then too */
		allow = dev_state_set(A(EFAULT), true) | A(EFAULT);
		ret = CALL(ioctl(D.fd, LOOPBACK_DEV_IOEVENTFD, bad_ptr));
		e = A(EFAULT);
		snprintf(what, sizeof(what), "bad pointer");
	} else {
		allow = dev_state_set(e, true);
		ret = CALL(ioctl(D.fd, LOOPBACK_DEV_IOEVENTFD, &io));
		snprintf(what, sizeof(what), "flags %#x len %u dm %llu fd %d rsv %u addr %#llx",
			 io.flags, io.len, (unsigned long long)io.datamatch, io.fd, io.reserved,
			 (unsigned long long)io.addr);
	}
	r = check_call(K_IOEVENTFD, ret, allow, what);
	confirm(r, "IOEVENTFD");
	if (r != RS_OK || !(e & A(OK)))
		return;
	if (deassign) {
		D.ioev[slot].used = false;
	} else {
		D.ioev[slot] = (struct ioev){ true, evi, io.len, wild, io.datamatch };
	}
}

static void op_irqfd(void)
{
	struct loopback_irqfd irq = { 0 };
	unsigned int e = 0, slot = 0, allow;
	bool ev, deassign;
	char what[96];
	enum res r;
	int evi;
	long ret;

	irq.queue = chance(15) ? LOOPBACK_CONFIG_IRQ : rnd(D.nq + (chance(10) ? 3 : 0));
	irq.fd = pick_fd(&ev, &evi);
	if (chance(35))
		irq.flags = LOOPBACK_IRQFD_DEASSIGN;
	switch (rnd(10)) {
	case 0: irq.flags |= 2u << rnd(30); break;
	case 1: irq.reserved = 1 + rnd(9); break;
	case 2: rnd_bytes(&irq, sizeof(irq)); break;
	}
	deassign = irq.flags & LOOPBACK_IRQFD_DEASSIGN;
	if ((irq.flags & ~1u) || irq.reserved ||
	    (irq.queue != LOOPBACK_CONFIG_IRQ && irq.queue >= D.nq))
		e |= A(EINVAL);
	if (!e) {
		slot = irq.queue == LOOPBACK_CONFIG_IRQ ? D.nq : irq.queue;
		if (irq.fd == -1 || (irq.fd >= 1000 && irq.fd < 2000))
			e |= A(EBADF);
		else if (!ev)
			e |= A(EINVAL);
		else if (deassign && D.irq_evi[slot] != evi)
			e |= A(ENOENT);
		else if (!deassign && D.irq_evi[slot] >= 0)
			e |= A(EEXIST);
		else
			e = A(OK) | (deassign ? 0 : A(ENOMEM));
	}
	allow = dev_state_set(e, true);
	ret = CALL(ioctl(D.fd, LOOPBACK_DEV_IRQFD, &irq));
	snprintf(what, sizeof(what), "queue %#x fd %d flags %#x rsv %u", irq.queue, irq.fd,
		 irq.flags, irq.reserved);
	r = check_call(K_IRQFD, ret, allow, what);
	confirm(r, "IRQFD");
	if (r != RS_OK || !(e & A(OK)))
		return;
	D.irq_evi[slot] = deassign ? -1 : evi;
	/* the model raises queue interrupts through it */
	if (slot < D.nq)
		D.d->irq_fd[slot] = deassign ? -1 : D.evfd[evi];
}

static void op_interrupt(void)
{
	struct loopback_interrupt in = { .queue = rnd(D.nq) };
	unsigned int e = 0;
	char what[64];
	enum res r;

	switch (rnd(8)) {
	case 0: in.queue = LOOPBACK_CONFIG_IRQ; break;
	case 1: in.queue = D.nq + rnd(100); break;
	case 2: in.reserved = 1; break;
	case 3: rnd_bytes(&in, sizeof(in)); break;
	}
	if (in.reserved || (in.queue != LOOPBACK_CONFIG_IRQ && in.queue >= D.nq))
		e = A(EINVAL);
	snprintf(what, sizeof(what), "queue %#x rsv %#x", in.queue, in.reserved);
	e = dev_state_set(e ? e : A(OK), true);
	r = check_call(K_INTERRUPT, CALL(ioctl(D.fd, LOOPBACK_DEV_INTERRUPT, &in)), e, what);
	confirm(r, "INTERRUPT");
}

static void op_config(void)
{
	struct loopback_config c = { 0 };
	uint32_t cs = D.d->info.config_size;
	unsigned int e = 0;
	bool ptr_ok = true;
	char what[96];
	enum res r;

	c.offset = rnd(cs + 1);
	c.length = rnd(cs - c.offset + 1);
	c.data = (uintptr_t)good_buf;
	rnd_bytes(good_buf, 256);
	/* keep a disk's capacity sane: the driver resizes to it on NOTIFY */
	if (D.cls == VIRTIO_ID_BLOCK && c.offset < 8) {
		uint64_t cap = 64 + rnd(4096);

		memcpy(good_buf + 0, &cap, 8);
		if (c.offset + c.length > 8)
			c.length = 8 - c.offset;
		c.offset = 0;
		c.length = chance(50) ? 8 : 0;
	}
	if (chance(40))
		c.flags = LOOPBACK_CONFIG_NOTIFY;
	switch (rnd(10)) {
	case 0: c.offset = cs + 1 + rnd(100); break;
	case 1: c.length = cs + 1 + rnd(100); break;
	case 2: c.offset = 0xffffffffu - rnd(16); c.length = 1 + rnd(16); break;
	case 3: c.flags |= 2u << rnd(30); break;
	case 4: c.reserved = 1; break;
	case 5: c.data = pick_ptr(&ptr_ok); break;
	}
	if ((c.flags & ~1u) || c.reserved || c.length > cs || c.offset > cs - c.length)
		e |= A(EINVAL);
	if (c.length && !ptr_ok && c.length <= cs)
		e |= A(EFAULT);
	snprintf(what, sizeof(what), "offset %u length %u flags %#x rsv %u (config %u)",
		 c.offset, c.length, c.flags, c.reserved, cs);
	e = dev_state_set(e ? e : A(OK) | A(ENOMEM), true);
	r = check_call(K_CONFIG, CALL(ioctl(D.fd, LOOPBACK_DEV_SET_CONFIG, &c)), e, what);
	confirm(r, "SET_CONFIG");
}

static void op_window_fd(void)
{
	struct loopback_window_fd w = { 0 };
	unsigned int e = 0, i, allow;
	char what[64];
	enum res r;
	int fd;

	if (chance(50))
		w.flags = LOOPBACK_WINDOW_FD_CLOEXEC;
	switch (rnd(8)) {
	case 0: w.flags |= 2u << rnd(30); break;
	case 1: w.reserved0 = 1; break;
	case 2: w.reserved[rnd(2)] = 1; break;
	case 3: w.window_base = LOOPBACK_WINDOW_BASE; break;
	case 4: w.window_size = 4096; break;
	}
	if ((w.flags & ~1u) || w.reserved0 || w.reserved[0] || w.reserved[1] ||
	    w.window_base || w.window_size)
		e = A(EINVAL);
	for (i = 0; i < MAX_WFD && D.wfd[i] >= 0; i++)
		;
	if (i == MAX_WFD) {
		close(D.wfd[0]);
		memmove(D.wfd, D.wfd + 1, sizeof(D.wfd[0]) * (MAX_WFD - 1));
		i = MAX_WFD - 1;
		D.wfd[i] = -1;
	}
	/* it still works once the removal is over */
	allow = dev_state_set(e ? e : A(OK) | A(ENOMEM), false);
	fd = (int)CALL(ioctl(D.fd, LOOPBACK_DEV_WINDOW_FD, &w));
	snprintf(what, sizeof(what), "flags %#x", w.flags);
	r = check_call(K_WINDOW_FD, fd, allow, what);
	confirm(r, "WINDOW_FD");
	if (fd >= 0) {
		if (w.window_base != LOOPBACK_WINDOW_BASE || w.window_size != D.d->info.window_size)
			violation("WINDOW_FD returned base %#llx size %#llx",
				  (unsigned long long)w.window_base,
				  (unsigned long long)w.window_size);
		if (e)
			close(fd);
		else
			D.wfd[i] = fd;
	}
}

static void op_remove(void)
{
	struct loopback_remove rm = { .timeout_ms = chance(50) ? 0 : 100 + rnd(3 * trap_ms) };
	unsigned int e = 0;
	char what[64];
	enum res r;
	long ret;

	switch (rnd(6)) {
	case 0: rm.flags = 1u << rnd(32); break;
	case 1: rm.reserved = 1 + rnd64() % 1000; break;
	}
	if (rm.flags || rm.reserved)
		e = A(EINVAL);
	else if (D.remove_issued)
		e = A(EALREADY);
	dev_poll();
	ret = CALL(ioctl(D.fd, LOOPBACK_DEV_REMOVE, &rm));
	snprintf(what, sizeof(what), "timeout %u flags %#x rsv %llu", rm.timeout_ms, rm.flags,
		 (unsigned long long)rm.reserved);
	r = check_call(K_REMOVE, ret, D.broken ? A(EIO) : (e ? e : A(OK)) | A(EIO), what);
	confirm(r, "REMOVE");
	if (r == RS_OK)
		D.remove_issued = true;
}

static void op_info(void)
{
	struct loopback_dev_info info;
	enum res r;

	memset(&info, 0xa5, sizeof(info));
	if (chance(10)) {
		check_call(K_INFO, CALL(ioctl(D.fd, LOOPBACK_DEV_GET_INFO, bad_ptr)), A(EFAULT), "bad pointer");
		return;
	}
	r = check_call(K_INFO, CALL(ioctl(D.fd, LOOPBACK_DEV_GET_INFO, &info)), A(OK), "");
	if (r == RS_OK && (info.device_id != D.d->info.device_id ||
			  info.num_queues != D.d->info.num_queues ||
			  info.window_size != D.d->info.window_size ||
			  info.api_version != LOOPBACK_API_VERSION ||
			  strcmp(info.name, D.d->info.name) ||
			  info.reserved[0] || info.reserved[1] || info.reserved[2] || info.reserved[3]))
		violation("GET_INFO changed: id %u nq %u name %.32s", info.device_id,
			  info.num_queues, info.name);
}

static void op_dev_badcmd(void)
{
	static const unsigned long known[] = {
		LOOPBACK_DEV_GET_INFO, LOOPBACK_DEV_IOEVENTFD, LOOPBACK_DEV_IRQFD,
		LOOPBACK_DEV_INTERRUPT, LOOPBACK_DEV_SET_CONFIG, LOOPBACK_DEV_WINDOW_FD,
		LOOPBACK_DEV_REMOVE,
	};
	unsigned long cmd;
	unsigned int i;
	bool dup;

	if (chance(30)) {
		cmd = chance(50) ? LOOPBACK_CREATE : LOOPBACK_GET_API_VERSION;
	} else {
		do {
			cmd = _IOC(rnd(4), LOOPBACK_IOCTL_TYPE, rnd(0x40), rnd(512));
			for (dup = false, i = 0; i < 7; i++)
				dup |= cmd == known[i];
		} while (dup);
	}
	check_call(K_DEV_BADCMD, CALL(ioctl(D.fd, cmd, good_buf)), A(ENOTTY), "unknown command");
}

/* ---------------------------------------------------- traps and replies */

static long reply_raw(const void *buf, size_t len)
{
	return CALL(write(D.fd, buf, len));
}

static void remember_id(uint64_t id)
{
	memmove(D.last_ids + 1, D.last_ids, sizeof(D.last_ids) - sizeof(D.last_ids[0]));
	D.last_ids[0] = id;
}

/* a correct reply: 24 bytes, or EIO once the device broke */
static void reply_good(uint64_t id, uint64_t data, bool wr, const char *what)
{
	struct loopback_reply rep = { .id = id, .data = wr ? 0 : data };
	enum res r;

	dev_poll();
	r = check_call(K_REPLY, reply_raw(&rep, sizeof(rep)), D.broken ? A(EIO) : A(OK) | A(EIO), what);
	confirm(r, "reply");
	remember_id(id);
}

/* a reply that must fail; the right one may follow */
static void reply_bad(const struct loopback_trap *t, uint64_t data)
{
	struct loopback_reply rep[2] = { { .id = t->id, .data = data } };
	const bool wr = t->flags & LOOPBACK_TRAP_WRITE;
	const unsigned int st = A(EIO);	/* it may break at any time */
	char what[64];

	if (wr)
		rep[0].data = 0;
	switch (rnd(8)) {
	case 0:
		rep[0].flags = 1u << rnd(32);
		snprintf(what, sizeof(what), "flags %#x", rep[0].flags);
		check_call(K_REPLY, reply_raw(rep, sizeof(rep[0])), A(EINVAL) | st, what);
		break;
	case 1:
		rep[0].reserved = 1 + rnd(1000);
		check_call(K_REPLY, reply_raw(rep, sizeof(rep[0])), A(EINVAL) | st, "reserved");
		break;
	case 2: {
		size_t len = chance(30) ? 0 : chance(50) ? 1 + rnd(23) : 25 + rnd(22);

		snprintf(what, sizeof(what), "%zu bytes", len);
		check_call(K_REPLY, reply_raw(rep, len), A(EINVAL) | (len % 24 ? 0 : st), what);
		break;
	}
	case 3:
		rep[0].id = chance(30) ? 0 : (1ULL << 40) + rnd64() % (1ULL << 40);
		check_call(K_REPLY, reply_raw(rep, sizeof(rep[0])), A(ENOENT) | st, "unknown id");
		break;
	case 4:
		if (!wr)
			return;
		rep[0].data = 1 + rnd(255);
		check_call(K_REPLY, reply_raw(rep, sizeof(rep[0])), A(EINVAL) | st,
			   "data for a write");
		break;
	case 5:
		check_call(K_REPLY, reply_raw(bad_ptr, sizeof(rep[0])), A(EFAULT) | st, "bad pointer");
		break;
	case 6:
		if (!D.last_ids[0])
			return;
		rep[0].id = D.last_ids[rnd(8)];
		if (!rep[0].id)
			rep[0].id = D.last_ids[0];
		check_call(K_REPLY, reply_raw(rep, sizeof(rep[0])), A(ENOENT) | st, "repeated id");
		break;
	default:
		if (!D.posted_id)
			return;
		rep[0].id = D.posted_id;
		rep[0].data = 0;
		check_call(K_REPLY, reply_raw(rep, sizeof(rep[0])), A(ENOENT) | st,
			   "reply to a posted trap");
		break;
	}
}

/* answers the held traps whose time has come (all with now == UINT64_MAX) */
static void flush_held(uint64_t now)
{
	int i = 0;

	while (i < D.nheld) {
		if (D.held[i].due_ms > now) {
			i++;
			continue;
		}
		ws->late_replies++;
		reply_good(D.held[i].id, D.held[i].data, D.held[i].write, "late");
		D.held[i] = D.held[--D.nheld];
	}
}

/* one trap: the model's answer, given right, wrong, late or never */
static void handle_trap(const struct loopback_trap *t)
{
	const bool wr = t->flags & LOOPBACK_TRAP_WRITE;
	bool need;
	uint64_t v;

	if (!t->id || (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8) ||
	    t->addr < LOOPBACK_REGS_BASE || t->addr >= LOOPBACK_REGS_BASE + LOOPBACK_REGS_SIZE ||
	    (t->flags & ~3u))
		violation("malformed trap id %llu addr %#llx size %u flags %#x",
			  (unsigned long long)t->id, (unsigned long long)t->addr, t->size, t->flags);
	pthread_mutex_lock(&D.d->lock);
	v = lbdev_model(D.d, t, &need);
	if (t->size < 8)
		v &= (1ULL << (8 * t->size)) - 1;
	pthread_mutex_unlock(&D.d->lock);
	if (t->flags & LOOPBACK_TRAP_POSTED) {
		D.posted_id = t->id;
		return;
	}
	if (chance(8))
		reply_bad(t, v);
	if (chance(3) && !wr)
		v = rnd64();		/* a wrong value: the driver copes */
	if (chance(4) && D.nheld < MAX_HELD) {
		/* late: mostly within the timeout, sometimes past it */
		uint64_t delay = chance(75) ? rnd(trap_ms / 2 + 1) : trap_ms + rnd(trap_ms);

		D.held[D.nheld++] = (struct held){ t->id, lb_now_ms() + delay, v, wr };
		return;
	}
	if (chance(1) && D.nheld < MAX_HELD) {
		ws->dropped_replies++;
		D.held[D.nheld++] = (struct held){ t->id, UINT64_MAX - 1, v, wr };
		return;
	}
	reply_good(t->id, v, wr, "");
}

/* reads traps (sometimes with a bad buffer) and handles them */
static void read_traps(void)
{
	size_t rec = lbdev_trap_size(D.d), want;
	static uint64_t buf[16 * LOOPBACK_MAX_TRAP_SIZE / 8];
	unsigned int exp;
	enum res r;
	ssize_t n;
	long i;

	dev_poll();
	switch (rnd(12)) {
	case 0:
		want = chance(30) ? 0 : rnd((uint32_t)rec);
		check_call(K_READ, CALL(read(D.fd, buf, want)), A(EINVAL), "buffer smaller than a record");
		return;
	case 1:
		check_call(K_READ, CALL(read(D.fd, bad_ptr, rec)),
			   A(EFAULT) | A(EAGAIN) | A(EIO) | (D.remove_issued ? A(OK) : 0),
			   "bad buffer");
		return;
	}
	want = rec * (1 + rnd(16)) + (chance(20) ? rnd((uint32_t)rec) : 0);
	exp = D.broken ? A(EIO) : A(OK) | A(EAGAIN) | A(EIO);
	n = CALL(read(D.fd, buf, want));
	r = check_call(K_READ, n, exp, "traps");
	confirm(r, "read");
	if (r != RS_OK)
		return;
	if (n == 0) {
		if (!D.remove_issued)
			violation("read() returned 0 without a removal");
		D.removed = true;
		return;
	}
	if (n % (ssize_t)rec || (size_t)n > want)
		violation("read() returned %zd bytes for records of %zu", n, rec);
	for (i = 0; i < n / (ssize_t)rec; i++) {
		const uint8_t *p = (const uint8_t *)buf + i * rec;
		size_t k;

		for (k = sizeof(struct loopback_trap); k < rec; k++)
			if (p[k]) {
				violation("trap record byte %zu of %zu not zero", k, rec);
				break;
			}
		handle_trap((const struct loopback_trap *)p);
	}
}

/* kicks by ioeventfd */
static void serve_kicks(void)
{
	unsigned int i;
	uint64_t c;

	for (i = 0; i < 16; i++) {
		struct ioev *b = &D.ioev[i];

		if (!b->used || read(D.evfd[b->evi], &c, sizeof(c)) != sizeof(c))
			continue;
		if (b->wildcard) {
			uint32_t q;

			for (q = 0; q < D.nq; q++)
				lbdev_kick(D.d, q);
		} else {
			lbdev_kick(D.d, (uint32_t)b->datamatch);
		}
	}
}

static void serve(int timeout)
{
	struct pollfd p = { .fd = D.fd, .events = POLLIN };

	if (poll(&p, 1, timeout) > 0 && (p.revents & POLLIN))
		read_traps();
	serve_kicks();
	flush_held(lb_now_ms());
}

/* ----------------------------------------------------- window and rings */

static bool page_is_ro_ring(uint64_t gpa_page)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned int i;

	for (i = 0; i < D.nq && i < LOOPBACK_MAX_QUEUES; i++) {
		struct lbq *q = &D.d->q[i];
		uint64_t a, b;

		if (!q->ready || !q->num)
			continue;
		a = q->desc & ~(ps - 1);
		b = (q->desc + 16ULL * q->num - 1) & ~(ps - 1);
		if (gpa_page >= a && gpa_page <= b)
			return true;
		a = q->driver & ~(ps - 1);
		b = (q->driver + 6 + 2ULL * q->num - 1) & ~(ps - 1);
		if (gpa_page >= a && gpa_page <= b)
			return true;
	}
	return false;
}

static bool page_is_used_ring(uint64_t gpa_page)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned int i;

	for (i = 0; i < D.nq && i < LOOPBACK_MAX_QUEUES; i++) {
		struct lbq *q = &D.d->q[i];

		if (q->ready && q->num && gpa_page >= (q->device & ~(ps - 1)) &&
		    gpa_page <= ((q->device + 6 + 8ULL * q->num - 1) & ~(ps - 1)))
			return true;
	}
	return false;
}

/*
 * A load or store at a page of the window (or past it) through the
 * device's own mapping.  Read-only ring pages refuse stores; pages outside
 * the window fault; once the device broke, everything faults.
 */
static void op_touch(void)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t ws_ = D.d->info.window_size, gpa, off;
	bool wr = chance(50), ro = false, out = false;
	unsigned int m;
	uint8_t *p;
	char what[96];
	int sig;
	enum res r;

	if (chance(20)) {
		/* one of our extra mappings, maybe past the window */
		for (m = 0; m < MAX_MAPS && !D.maps[m].p; m++)
			;
		if (m == MAX_MAPS)
			return;
		off = rnd((uint32_t)(D.maps[m].len / ps)) * ps;
		p = D.maps[m].p + off;
		gpa = D.maps[m].gpa + off;
		out = gpa < LOOPBACK_WINDOW_BASE || gpa >= LOOPBACK_WINDOW_BASE + ws_;
	} else {
		if (!D.d->win)
			return;
		off = rnd((uint32_t)(ws_ / ps)) * ps + rnd((uint32_t)ps);
		p = D.d->win + off;
		gpa = LOOPBACK_WINDOW_BASE + off;
	}
	ro = !out && page_is_ro_ring(gpa & ~(ps - 1));
	/* a store elsewhere is what a device may do: but keep the used ring's index sane */
	if (wr && !ro && !out && page_is_used_ring(gpa & ~(ps - 1)))
		wr = false;
	dev_poll();
	sig = lb_touch(p, wr);
	r = sig == SIGBUS ? RS_SIGBUS : sig ? RS_OTHER : RS_OK;
	snprintf(what, sizeof(what), "%s at gpa %#llx (%s)", wr ? "store" : "load",
		 (unsigned long long)gpa, out ? "outside" : ro ? "ro ring page" : "window");
	/*
	 * A store may also hit a ring the driver allocated but the model does
	 * not know yet (its QueueDesc or QueueReady not answered): SIGBUS
	 * then is right.  A load faults only once the device broke.  Once it
	 * broke, the revocation may still be under way, and the model's own
	 * faults put anonymous pages in (on_sigbus()): both outcomes.
	 */
	if (D.broken)
		check(K_TOUCH, r, A(SIGBUS) | A(OK), what);
	else if (out || (ro && wr))
		check(K_TOUCH, r, A(SIGBUS), what);
	else if (check(K_TOUCH, r, A(OK) | A(SIGBUS), what) == RS_SIGBUS && !wr &&
		 !(dev_poll() & POLLERR))
		violation("SIGBUS at a load at gpa %#llx of a device that is not broken",
			  (unsigned long long)gpa);
}

/* garbage a device may write: used ring fields, buffers; then an interrupt */
static void op_ring(void)
{
	void *desc, *avail, *used;
	uint32_t qi = rnd(D.nq), num;
	uint16_t *u16;
	struct lb_vdesc dsc;
	uint8_t *b;
	char what[80];
	int sig = 0;

	if (!D.d->win || qi >= LOOPBACK_MAX_QUEUES || !D.d->q[qi].ready)
		return;
	num = D.d->q[qi].num;
	if (lbdev_rings(D.d, qi, &desc, &avail, &used) < 0)
		return;
	u16 = used;
	dev_poll();
	switch (rnd(7)) {
	case 0:	/* used->flags: NO_NOTIFY or junk */
		sig = lb_touch((uint8_t *)&u16[0], true);
		snprintf(what, sizeof(what), "used->flags q%u", qi);
		break;
	case 1: {	/* a used element: a head, maybe one not held, and a length */
		/* -x foreign: only the next, unpublished slot */
		uint32_t slot = skip_foreign ? D.d->q[qi].used_idx % num : rnd(num);
		uint32_t *el = (uint32_t *)(u16 + 2) + 2 * slot;

		sig = lb_touch((uint8_t *)el, true);
		if (!sig) {
			el[0] = chance(50) ? rnd(num) : rnd(65536);
			el[1] = chance(50) ? rnd(65) : (uint32_t)rnd64();
		}
		snprintf(what, sizeof(what), "used elem q%u", qi);
		break;
	}
	case 2:	/* used->idx moves */
		if (skip_foreign)
			return;
		sig = lb_touch((uint8_t *)&u16[1], false);
		if (!sig) {
			u16[1] = (uint16_t)(u16[1] + 1 + rnd(chance(50) ? 2 : num + 10));
			D.d->q[qi].used_idx = u16[1];
		}
		snprintf(what, sizeof(what), "used->idx q%u", qi);
		break;
	case 5: {	/* a held head returned with any length (virtio_rng trusts it) */
		struct lbq *q = &D.d->q[qi];
		uint32_t *el;
		uint16_t head;

		snprintf(what, sizeof(what), "held head q%u, used length garbage", qi);
		pthread_mutex_lock(&D.d->lock);
		if (!q->nheld) {
			pthread_mutex_unlock(&D.d->lock);
			return;
		}
		head = q->held_head[0];
		el = (uint32_t *)(u16 + 2) + 2 * (q->used_idx % num);
		sig = lb_touch((uint8_t *)el, true);
		if (!sig) {
			memmove(q->held_head, q->held_head + 1, (q->nheld - 1) * sizeof(q->held_head[0]));
			q->nheld--;
			D.d->held--;
			el[0] = head;
			el[1] = chance(50) ? 64u << rnd(10) : (uint32_t)rnd64();
			q->used_idx++;
			__atomic_store_n(&u16[1], q->used_idx, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&D.d->lock);
		break;
	}
	case 3:	/* avail_event */
		sig = lb_touch((uint8_t *)&u16[2 + 2 * num], true);
		if (!sig)
			u16[2 + 2 * num] = (uint16_t)rnd64();
		snprintf(what, sizeof(what), "avail_event q%u", qi);
		break;
	case 4:
	case 6: {	/* the bytes of a buffer the driver posted */
		uint16_t h = (uint16_t)rnd(num);
		uint64_t a;

		sig = lb_touch((uint8_t *)desc + 16 * h, false);
		if (sig)
			break;
		memcpy(&dsc, (uint8_t *)desc + 16 * h, sizeof(dsc));
		a = le64toh(dsc.addr);
		snprintf(what, sizeof(what), "buffer of desc %u q%u", h, qi);
		if (a < LOOPBACK_WINDOW_BASE || a - LOOPBACK_WINDOW_BASE >= D.d->info.window_size ||
		    !dsc.len || page_is_ro_ring(a & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1)) ||
		    page_is_used_ring(a & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1)))
			return;
		b = D.d->win + (a - LOOPBACK_WINDOW_BASE);
		sig = lb_touch(b, true);
		if (!sig) {
			uint64_t room = D.d->info.window_size - (a - LOOPBACK_WINDOW_BASE);
			uint32_t n = le32toh(dsc.len) < 64 ? le32toh(dsc.len) : 64;

			rnd_bytes(b, 1 + rnd(n < room ? n : (uint32_t)room));
		}
		break;
	}
	}
	if (check(K_RING, sig == SIGBUS ? RS_SIGBUS : sig ? RS_OTHER : RS_OK,
		  A(OK) | A(SIGBUS), what) == RS_SIGBUS &&
	    !(dev_poll() & POLLERR))
		violation("SIGBUS writing %s of a device that is not broken", what);
	if (!sig && chance(70)) {
		struct loopback_interrupt in = { .queue = qi };
		unsigned int allow = dev_state_set(A(OK), true);
		enum res r = check_call(K_INTERRUPT, CALL(ioctl(D.fd, LOOPBACK_DEV_INTERRUPT, &in)),
					allow, "after ring garbage");

		confirm(r, "INTERRUPT");
	}
}

static void op_mmap(void)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE), wsz = D.d->info.window_size, off;
	unsigned int m, e;
	int fd = D.fd, flags = MAP_SHARED;
	bool viawfd = false;
	size_t len = ps * (1 + rnd(8));
	char what[96];
	void *p;

	for (m = 0; m < MAX_MAPS && D.maps[m].p; m++)
		;
	if (m == MAX_MAPS || chance(30)) {
		m = rnd(MAX_MAPS);
		if (D.maps[m].p)
			munmap(D.maps[m].p, D.maps[m].len);
		D.maps[m].p = NULL;
		if (chance(50))
			return;
	}
	if (D.wfd[0] >= 0 && chance(40)) {
		fd = D.wfd[rnd(MAX_WFD)];
		if (fd < 0)
			fd = D.wfd[0];
		viawfd = true;
	}
	switch (rnd(5)) {
	case 0: off = wsz + ps * rnd(16); break;	/* past the end */
	case 1: off = 0x7ffffffffffff000ULL - (viawfd ? 0 : LOOPBACK_WINDOW_BASE); break;
	default: off = rnd((uint32_t)(wsz / ps)) * ps; break;
	}
	if (chance(10))
		flags = MAP_PRIVATE;
	e = flags == MAP_PRIVATE ? A(EINVAL) : A(OK) | A(ENOMEM);
	if (!viawfd)
		off += LOOPBACK_WINDOW_BASE;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, (off_t)off);
	(void)CALL(p == MAP_FAILED ? -1 : 0);
	snprintf(what, sizeof(what), "%s %s off %#llx len %zu", viawfd ? "window fd" : "device fd",
		 flags == MAP_PRIVATE ? "private" : "shared", (unsigned long long)off, len);
	/* mapping a broken device still works: accesses fault */
	check_call(K_MMAP, 0, e | A(EIO), what);
	if (p == MAP_FAILED)
		return;
	madvise(p, len, MADV_DONTFORK);
	D.maps[m].p = p;
	D.maps[m].len = len;
	D.maps[m].gpa = viawfd ? off + LOOPBACK_WINDOW_BASE : off;
}

/* the window fd: no ioctl, no read or write, fstat says the size */
static void op_wfd(void)
{
	int fd = D.wfd[rnd(MAX_WFD)];
	struct stat st;
	uint64_t v;

	if (fd < 0)
		return;
	switch (rnd(4)) {
	case 0:
		check_call(K_WFD_OPS, CALL(ioctl(fd, LOOPBACK_DEV_GET_INFO, good_buf)), A(ENOTTY), "ioctl");
		break;
	case 1:
		check_call(K_WFD_OPS, CALL(read(fd, &v, sizeof(v))), A(EINVAL), "read");
		break;
	case 2:
		check_call(K_WFD_OPS, CALL(write(fd, &v, sizeof(v))), A(EINVAL), "write");
		break;
	default:
		if (check_call(K_WFD_OPS, CALL(fstat(fd, &st)), A(OK), "fstat") == RS_OK &&
		    (uint64_t)st.st_size != D.d->info.window_size)
			violation("window fd st_size %lld, window %llu", (long long)st.st_size,
				  (unsigned long long)D.d->info.window_size);
		break;
	}
}

/* ------------------------------------------------------ block I/O child */

static int disk_of(char *disk, size_t len)
{
	char vdev[64], path[160];
	struct dirent *e;
	DIR *dir;
	int rc = -1;

	if (lb_find_virtio(D.d->info.name, vdev, sizeof(vdev)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/block", LB_VIRTIO_DEVICES, vdev);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.') {
			snprintf(disk, len, "%.31s", e->d_name);
			rc = 0;
			break;
		}
	closedir(dir);
	return rc;
}

/* O_DIRECT reads and writes of the disk until one fails; reports errno */
static void io_child(const char *dev, int out, uint64_t seed)
{
	void *buf;
	int fd, e = 0, k;
	ssize_t n = 0;

	signal(SIGALRM, SIG_DFL);
	alarm(300);
	if (out != 3 && dup2(out, 3) < 0)
		_exit(4);
	/* no copy of the device fd: it would keep the device alive */
	syscall(SYS_close_range, 4, ~0U, 0);
	fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		goto out;
	}
	if (posix_memalign(&buf, 4096, 65536))
		_exit(2);
	memset(buf, 0x5a, 65536);
	for (k = 0;; k++) {
		size_t len = 4096u << (seed >> (k % 32) & 3);
		off_t off = (off_t)((seed * 7 + (uint64_t)k * 13) % 16) * 4096;

		n = (seed >> (k % 61)) & 1 ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
		if (n < 0) {
			e = errno;
			break;
		}
	}
out:
	if (write(3, &e, sizeof(e)) != sizeof(e))
		_exit(3);
	_exit(0);
}

static void maybe_start_io(void)
{
	char disk[32], dev[48];
	int p[2];

	if (D.cls != VIRTIO_ID_BLOCK || D.io_child > 0 || D.broken || D.remove_issued)
		return;
	if (disk_of(disk, sizeof(disk)) < 0)
		return;
	snprintf(dev, sizeof(dev), "/dev/%s", disk);
	if (access(dev, F_OK) < 0 || pipe2(p, O_CLOEXEC) < 0)
		return;
	fflush(stdout);
	D.io_child = fork();
	if (D.io_child == 0) {
		close(p[0]);
		io_child(dev, p[1], rnd64());
	}
	close(p[1]);
	if (D.io_child < 0) {
		close(p[0]);
		D.io_child = 0;
		return;
	}
	D.io_pipe = p[0];
	snprintf(D.disk, sizeof(D.disk), "%s", disk);
	ws->io_children++;
}

/* after the device went: the child's I/O must have ended (EIO or open failure) */
static void reap_io(void)
{
	int st = 0, e = -1;

	if (D.io_child <= 0)
		return;
	if (lb_wait_child(D.io_child, &st, 30000) < 0) {
		violation("block I/O child %d on %s still running 30 s after its device went",
			  (int)D.io_child, D.disk);
		lb_dump_task(D.io_child, "I/O child");
		kill(D.io_child, SIGKILL);
		lb_wait_child(D.io_child, &st, 10000);
	} else {
		if (read(D.io_pipe, &e, sizeof(e)) == sizeof(e) && e == EIO)
			ws->io_eio++;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			violation("block I/O child ended with status %#x", st);
	}
	close(D.io_pipe);
	D.io_child = 0;
}

/* -------------------------------------------------------------- episode */

static uint32_t pick_class(void)
{
	uint32_t r = rnd(100);

	if (r < 35)
		return VIRTIO_ID_ENTROPY;
	if (r < 65)
		return VIRTIO_ID_BLOCK;
	if (r < 85)
		return VIRTIO_ID_NET;
	return extra_allowed ? EXTRA_ID : VIRTIO_ID_ENTROPY;
}

static bool dev_create(int ctl)
{
	struct loopback_create c;
	struct lbdev_opts o = { .manual = true };
	unsigned int i;
	enum res r;
	char what[64];

	memset(&D, 0, sizeof(D));
	D.fd = -1;
	for (i = 0; i < N_EVFD; i++)
		D.evfd[i] = -1;
	for (i = 0; i < MAX_WFD; i++)
		D.wfd[i] = -1;
	for (i = 0; i <= LOOPBACK_MAX_QUEUES; i++)
		D.irq_evi[i] = -1;
	D.cls = pick_class();
	valid_create(&c, D.cls);
	o.device_id = c.device_id;
	o.num_queues = D.cls == VIRTIO_ID_NET ? 2 + rnd(2) : c.num_queues;
	o.max_queue_size = c.max_queue_size < 4 && D.cls == VIRTIO_ID_BLOCK ? 4 : c.max_queue_size;
	o.config_size = c.config_size;
	o.window_size = c.window_size;
	o.trap_size = c.trap_size;
	o.api_version = c.api_version;
	o.features = c.features;
	o.blk_sectors = 64 + 8 * rnd(250);
	/* rng: whole buffers or 16/32 bytes (6.1's virtio-rng hangs a reader on other partial fills) */
	o.fill = D.cls == VIRTIO_ID_NET ? LB_FILL_HOLD :
		 D.cls == VIRTIO_ID_ENTROPY && chance(20) ? LB_FILL_PARTIAL :
		 chance(25) ? LB_FILL_REVERSE : LB_FILL_FULL;
	o.fill_len = o.fill == LB_FILL_PARTIAL ? (chance(50) ? 16 : 32) : 1 + rnd(4);
	D.d = lbdev_create(ctl, &o);
	(void)CALL(D.d ? 0 : -1);
	snprintf(what, sizeof(what), "class %u (valid)", c.device_id);
	r = check_call(K_CREATE, 0, A(OK) | A(ENOMEM), what);
	if (r != RS_OK || !D.d)
		return false;
	ws->devices++;
	D.fd = D.d->fd;
	D.nq = D.d->info.num_queues;
	fcntl(D.fd, F_SETFL, fcntl(D.fd, F_GETFL) | O_NONBLOCK);
	if (D.d->win) {
		madvise(D.d->win, D.d->info.window_size, MADV_DONTFORK);
		win_lo = (uintptr_t)D.d->win;
		win_hi = win_lo + D.d->info.window_size;
	}
	for (i = 0; i < N_EVFD; i++)
		D.evfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* usually kicks and interrupts through eventfds from the start */
	for (i = 0; i < D.nq && chance(60); i++) {
		struct loopback_ioeventfd io = {
			.addr = LOOPBACK_REGS_BASE + VM_QUEUE_NOTIFY, .datamatch = i, .len = 4,
			.fd = D.evfd[i % N_EVFD], .flags = LOOPBACK_IOEVENTFD_DATAMATCH,
		};

		if (ioctl(D.fd, LOOPBACK_DEV_IOEVENTFD, &io) == 0)
			D.ioev[i] = (struct ioev){ true, (int)(i % N_EVFD), 4, false, i };
	}
	return true;
}

static void dev_end(void)
{
	uint64_t end;
	unsigned int i;
	char name[LOOPBACK_NAME_LEN + 1];
	enum res r;
	int how = (int)rnd(100);

	snprintf(name, sizeof(name), "%s", D.d->info.name);
	if (how < 15 && !D.remove_issued && !D.broken) {
		struct loopback_remove rm = { .timeout_ms = 0 };

		r = check_call(K_REMOVE, CALL(ioctl(D.fd, LOOPBACK_DEV_REMOVE, &rm)), A(OK) | A(EIO), "at the end");
		confirm(r, "REMOVE");
		D.remove_issued = r == RS_OK;
	}
	if (D.remove_issued && how < 30) {
		/* serve the removal to its end */
		end = lb_now_ms() + 3ULL * trap_ms + 5000;
		while (!(dev_poll() & (POLLHUP | POLLERR)) && lb_now_ms() < end) {
			serve(20);
			flush_held(UINT64_MAX);
		}
		if (!(dev_poll() & (POLLHUP | POLLERR)))
			violation("removal neither ended nor broke within %u ms", 3 * trap_ms + 5000);
	} else if (how >= 30 && how < 40) {
		/* stop answering: a trap times out, or nothing needs one */
		end = lb_now_ms() + trap_ms + 300;
		while (!(dev_poll() & POLLERR) && lb_now_ms() < end)
			lb_sleep_ms(20);
	} else if (how >= 40 && how < 70) {
		flush_held(UINT64_MAX);
		serve(0);
	}
	if (dev_poll() & POLLERR)
		ws->broken++;
	if (D.removed)
		ws->removed++;
	/* the model's eventfds are ours: keep lbdev_destroy() off them */
	for (i = 0; i < LOOPBACK_MAX_QUEUES; i++)
		D.d->irq_fd[i] = D.d->kick_fd[i] = -1;
	for (i = 0; i < MAX_MAPS; i++)
		if (D.maps[i].p && chance(50)) {
			munmap(D.maps[i].p, D.maps[i].len);
			D.maps[i].p = NULL;
		}
	/* while the fd still says whether the device broke */
	check_model_faults();
	win_lo = win_hi = 0;
	lbdev_destroy(D.d, chance(50));
	check(K_CLOSE, RS_OK, A(OK), "close");
	for (i = 0; i < MAX_MAPS; i++)
		if (D.maps[i].p)
			munmap(D.maps[i].p, D.maps[i].len);
	for (i = 0; i < MAX_WFD; i++)
		if (D.wfd[i] >= 0)
			close(D.wfd[i]);
	for (i = 0; i < N_EVFD; i++)
		if (D.evfd[i] >= 0)
			close(D.evfd[i]);
	reap_io();
	/*
	 * The close waited up to trap_timeout_ms; the rest may run behind it.
	 * (Another worker's new device may take the freed name: diagnostics
	 * only; the end of the run checks that nothing is left.)
	 */
	if (chance(25) && lb_wait_gone(name, 2 * trap_ms + 2000) < 0) {
		ws->gone_slow++;
		tap_diag("worker %d: %s still has a virtio device %u ms after close", wid, name,
			 2 * trap_ms + 2000);
	}
	D.d = NULL;
}

static void episode(int ctl)
{
	unsigned int steps, i;

	if (!dev_create(ctl))
		return;
	steps = 20 + rnd(400);
	for (i = 0; i < steps && !budget_done(); i++) {
		uint32_t r = rnd(100);

		D.step = i;
		if (r < 40)
			serve((int)rnd(3));
		else if (r < 44)
			op_ioeventfd();
		else if (r < 48)
			op_irqfd();
		else if (r < 51)
			op_interrupt();
		else if (r < 54)
			op_config();
		else if (r < 56)
			op_window_fd();
		else if (r < 57)
			op_remove();
		else if (r < 59)
			op_info();
		else if (r < 61)
			op_dev_badcmd();
		else if (r < 67)
			op_touch();
		else if (r < 73)
			op_ring();
		else if (r < 77)
			op_mmap();
		else if (r < 79)
			op_wfd();
		else if (r < 83)
			op_ctl(ctl);
		else if (r < 87)
			op_create_bad(ctl);
		else if (r < 92)
			maybe_start_io();
		else
			serve(0);
		check_model_faults();
	}
	dev_end();
}

static void worker(int idx)
{
	struct sigaction sa;
	int ctl;

	wid = idx;
	ws = &sh->w[idx];
	ws->gen++;
	rs = g_seed ^ (0x1000193ULL * (uint64_t)(idx + 1)) ^ ((uint64_t)ws->gen << 40);
	rnd64();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	alarm(0);
	ctl = open(LB_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		_exit(2);
	while (!budget_done())
		episode(ctl);
	close(ctl);
	_exit(0);
}

/* ----------------------------------------------------------- main side */

static int loopback_virtio_left(bool show)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = opendir(LB_VIRTIO_DEVICES);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", LB_VIRTIO_DEVICES, e->d_name);
		if (realpath(path, real) && strstr(real, "/loopback")) {
			n++;
			if (show)
				tap_diag("left behind: %s -> %s", e->d_name, real);
		}
	}
	closedir(d);
	d = opendir("/sys/class/loopback");
	if (d) {
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "loopback", 8)) {
				n++;
				if (show)
					tap_diag("left behind: /sys/class/loopback/%s", e->d_name);
			}
		closedir(d);
	}
	return n;
}

/* pids in D state in every one of three looks, 1 s apart */
static int tasks_in_d(void)
{
	static int seen[3][256];
	int ns[3] = { 0 }, k, i, j, stuck = 0;

	for (k = 0; k < 3; k++) {
		struct dirent *e;
		DIR *d = opendir("/proc");

		while (d && (e = readdir(d))) {
			char path[64], buf[512], *p;
			int pid = atoi(e->d_name);

			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			if (lb_read_file(path, buf, sizeof(buf)) < 0)
				continue;
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'D' && ns[k] < 256)
				seen[k][ns[k]++] = pid;
		}
		if (d)
			closedir(d);
		if (k < 2)
			lb_sleep_ms(1000);
	}
	for (i = 0; i < ns[0]; i++) {
		bool all = true;

		for (k = 1; k < 3; k++) {
			bool in = false;

			for (j = 0; j < ns[k]; j++)
				in |= seen[k][j] == seen[0][i];
			all &= in;
		}
		if (all) {
			stuck++;
			lb_dump_task(seen[0][i], "D state");
		}
	}
	return stuck;
}

static int reload_module(const char *ko, const char *params)
{
	uint64_t end = lb_now_ms() + 30000;
	int r, fd;

	while ((r = (int)syscall(SYS_delete_module, "loopback", O_NONBLOCK)) != 0 &&
	       (errno == EBUSY || errno == EAGAIN || errno == EWOULDBLOCK) && lb_now_ms() < end)
		lb_sleep_ms(200);
	if (!tap_ok(r == 0, "rmmod loopback after the run%s%s", r ? ": " : "", r ? strerror(errno) : ""))
		return -1;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? -1 : (int)syscall(SYS_finit_module, fd, params, 0);
	if (fd >= 0)
		close(fd);
	tap_ok(r == 0, "insmod %s %s%s%s", ko, params, r ? ": " : "", r ? strerror(errno) : "");
	return r;
}

/* after a reload: a device still comes and goes */
static void sanity_device(void)
{
	struct lbdev_opts o = { 0 };
	struct lbdev *d;
	char name[LOOPBACK_NAME_LEN + 1], vdev[64];
	int ctl, i;

	for (i = 0; i < 50 && access(LB_CTL_PATH, F_OK) < 0; i++)
		lb_sleep_ms(100);
	ctl = open(LB_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (!tap_ok(ctl >= 0, "open %s after the reload", LB_CTL_PATH))
		return;
	d = lbdev_create(ctl, &o);
	if (!tap_ok(d != NULL, "an entropy device after the reload")) {
		close(ctl);
		return;
	}
	snprintf(name, sizeof(name), "%s", d->info.name);
	tap_ok(lb_wait_bound(name, "virtio_rng", vdev, sizeof(vdev), 20000) == 0,
	       "virtio_rng binds %s", name);
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 20000) == 0, "%s goes away after close", name);
	close(ctl);
}

static void usage(void)
{
	printf("usage: fuzz-uapi [-s SEED] [-n OPS | --soak] [-w WORKERS] [-t TRAP_MS]\n"
	       "                 [-k MODULE.ko -p PARAMS] [-x foreign] [-v]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "soak", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t ops = 10000, total = 0, viol = 0, start, kills = 0;
	unsigned int nw = 6, i, k;
	const char *ko = NULL, *params = "";
	pid_t pid[MAX_WORKERS] = { 0 };
	char buf[64], title[128];
	bool seeded = false;
	int c, ctl, alive;

	while ((c = getopt_long(argc, argv, "s:n:w:t:k:p:x:vh", lo, NULL)) != -1) {
		switch (c) {
		case 's': g_seed = strtoull(optarg, NULL, 0); seeded = true; break;
		case 'n': ops = strtoull(optarg, NULL, 0); break;
		case 'S': ops = 1000000; break;
		case 'w': nw = (unsigned int)atoi(optarg); break;
		case 't': trap_ms = (unsigned int)atoi(optarg); break;
		case 'k': ko = optarg; break;
		case 'p': params = optarg; break;
		case 'v': verbose = true; break;
		case 'x':
			if (strcmp(optarg, "foreign")) {
				usage();
				return 2;
			}
			skip_foreign = true;
			break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (!seeded) {
		uint64_t t = lb_now_ns() ^ ((uint64_t)getpid() << 32);
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd >= 0 && read(fd, &g_seed, sizeof(g_seed)) != sizeof(g_seed))
			g_seed = t;
		if (fd < 0)
			g_seed = t;
		if (fd >= 0)
			close(fd);
	}
	if (nw < 1 || nw > MAX_WORKERS)
		nw = 6;
	snprintf(title, sizeof(title), "fuzz-uapi -s %#llx -n %llu -w %u%s",
		 (unsigned long long)g_seed, (unsigned long long)ops, nw,
		 skip_foreign ? " -x foreign" : "");
	/* the seed goes first, before anything can go wrong */
	tap_init(title);
	printf("# seed %#llx (replay: %s)\n", (unsigned long long)g_seed, title);
	tap_watchdog((unsigned int)(600 + ops / 20));
	if (lb_read_file("/sys/module/loopback/parameters/trap_timeout_ms", buf, sizeof(buf)) == 0)
		trap_ms = (unsigned int)atoi(buf);
	if (lb_read_file("/sys/module/loopback/parameters/extra_device_ids", buf, sizeof(buf)) == 0)
		extra_allowed = strstr(buf, "32752") || strstr(buf, "0x7ff0") || strstr(buf, "7ff0");
	tap_diag("trap_timeout_ms %u, class %#x %sallowed", trap_ms, EXTRA_ID,
		 extra_allowed ? "" : "not ");
	ctl = lb_open_ctl();
	close(ctl);
	bad_ptr = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bad_ptr == MAP_FAILED || sh == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (i = 0; i < nw; i++)
		sh->w[i].budget = ops / nw + (i < ops % nw ? 1 : 0);
	rs = g_seed ^ 0xfeedULL;
	start = lb_now_ms();
	for (;;) {
		uint64_t now = lb_now_ms();
		int st;
		pid_t w;

		alive = 0;
		for (i = 0; i < nw; i++) {
			if (pid[i] > 0) {
				alive++;
				continue;
			}
			if (sh->w[i].ops >= sh->w[i].budget)
				continue;
			sh->w[i].last_progress_ms = now;
			fflush(stdout);
			pid[i] = fork();
			if (pid[i] < 0)
				tap_bail("fork: %s", strerror(errno));
			if (pid[i] == 0)
				worker((int)i);
			alive++;
		}
		if (!alive)
			break;
		/* SIGKILL a device process now and then (about one a second) */
		if (chance(5)) {
			k = rnd(nw);
			if (pid[k] > 0 && sh->w[k].ops < sh->w[k].budget) {
				kill(pid[k], SIGKILL);
				kills++;
			}
		}
		for (i = 0; i < nw; i++)
			if (pid[i] > 0 && now > sh->w[i].last_progress_ms + STALE_MS) {
				tap_diag("worker %u (pid %d) made no progress for %u s",
					 i, (int)pid[i], STALE_MS / 1000);
				lb_dump_task(pid[i], "stuck worker");
				sh->w[i].viol++;
				kill(pid[i], SIGKILL);
				sh->w[i].budget = sh->w[i].ops;	/* do not restart it */
			}
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			for (i = 0; i < nw; i++)
				if (pid[i] == w) {
					pid[i] = 0;
					if (WIFEXITED(st) && WEXITSTATUS(st))
						tap_diag("worker %u exited with %d", i, WEXITSTATUS(st));
					if (WIFEXITED(st) && WEXITSTATUS(st))
						sh->w[i].viol++;
				}
		}
		lb_sleep_ms(50);
	}
	/* orphans (I/O children of killed workers) */
	{
		uint64_t end = lb_now_ms() + 30000;
		int st;

		while (waitpid(-1, &st, WNOHANG) >= 0 && lb_now_ms() < end)
			lb_sleep_ms(50);
		tap_ok(waitpid(-1, &st, WNOHANG) < 0, "every child process ended");
	}
	{
		uint64_t el = lb_now_ms() - start;
		uint64_t sum[K_NKINDS][RS_NRES] = { { 0 } };
		uint64_t dev = 0, brk = 0, rem = 0, ioc = 0, ioe = 0, slow = 0, late = 0, drop = 0;
		unsigned int r;

		for (i = 0; i < nw; i++) {
			struct wstat *s = &sh->w[i];

			total += s->ops;
			viol += s->viol;
			dev += s->devices;
			brk += s->broken;
			rem += s->removed;
			ioc += s->io_children;
			ioe += s->io_eio;
			slow += s->gone_slow;
			late += s->late_replies;
			drop += s->dropped_replies;
			for (k = 0; k < K_NKINDS; k++)
				for (r = 0; r < RS_NRES; r++)
					sum[k][r] += s->cnt[k][r];
		}
		for (k = 0; k < K_NKINDS; k++) {
			char line[512];

			snprintf(line, sizeof(line), "%-20s", kind_name[k]);
			for (r = 0; r < RS_NRES; r++)
				if (sum[k][r])
					snprintf(line + strlen(line), sizeof(line) - strlen(line),
						 " %s %llu", res_name[r], (unsigned long long)sum[k][r]);
			tap_diag("%s", line);
		}
		tap_diag("%llu devices: %llu ended broken, %llu removed in order, %llu slow to go; "
			 "%llu late and %llu dropped replies; %llu I/O children (%llu got EIO); "
			 "%llu workers SIGKILLed",
			 (unsigned long long)dev, (unsigned long long)brk, (unsigned long long)rem,
			 (unsigned long long)slow, (unsigned long long)late, (unsigned long long)drop,
			 (unsigned long long)ioc, (unsigned long long)ioe, (unsigned long long)kills);
		tap_diag("%llu operations in %.1f s: %.0f ops/s", (unsigned long long)total,
			 el / 1000.0, el ? total * 1000.0 / el : 0.0);
		tap_ok(total >= ops, "%llu operations done (asked for %llu)",
		       (unsigned long long)total, (unsigned long long)ops);
		tap_ok(viol == 0, "every result was one Documentation/uapi.md allows (%llu violations)",
		       (unsigned long long)viol);
	}
	{
		uint64_t end = lb_now_ms() + 4ULL * trap_ms + 30000;

		while (loopback_virtio_left(false) && lb_now_ms() < end)
			lb_sleep_ms(100);
		tap_ok(loopback_virtio_left(true) == 0, "no loopback device left behind");
	}
	tap_ok(tasks_in_d() == 0, "no task in D state");
	if (ko && reload_module(ko, params) == 0)
		sanity_device();
	return tap_finish();
}
