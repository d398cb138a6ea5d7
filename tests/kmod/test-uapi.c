// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-uapi: every ioctl, read, write and mmap of /dev/loopback and of a
 * device fd, with each kind of bad input; every rejected CREATE must leave
 * no device behind.  Also the boundary values that must be accepted.
 *
 * Needs loopback.ko loaded and virtio_rng available; run as root.
 */
#define _GNU_SOURCE
#include "lbtest.h"

/* the IOE()/IRQ()/CFG() helpers override their defaults on purpose */
#pragma GCC diagnostic ignored "-Woverride-init"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int ctl;
static int base_count;
static void *bad_ptr;		/* a PROT_NONE page */
static char *edge_ptr;		/* last bytes before a PROT_NONE page */

#define BAD ((void *)8)

static void setup_bad_pointers(void)
{
	char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	if (mprotect(p + 4096, 4096, PROT_NONE) < 0)
		tap_bail("mprotect: %s", strerror(errno));
	bad_ptr = p + 4096;
	edge_ptr = p + 4096;	/* callers subtract less than a struct */
}

static void bad_create(struct loopback_create *c, const char *what, const int *allowed)
{
	char name[160];
	int fd, e, n;

	fd = ioctl(ctl, LOOPBACK_CREATE, c);
	e = errno;
	if (fd >= 0)
		close(fd);
	n = lb_virtio_count();
	snprintf(name, sizeof(name), "CREATE %s", what);
	errno = e;
	if (n != base_count && fd < 0) {
		tap_ok(false, "%s: virtio devices %d, was %d", name, n, base_count);
		return;
	}
	lb_expect_err(fd < 0 ? -1 : fd, e, name, allowed);
}

#define BAD_CREATE(what, stmt, ...)                                          \
	do {                                                                 \
		struct loopback_create c_;                                   \
		lb_create_defaults(&c_);                                     \
		{                                                            \
			struct loopback_create *c = &c_;                     \
			stmt;                                                \
		}                                                            \
		bad_create(&c_, what, (const int[]){ __VA_ARGS__, 0 });       \
	} while (0)

static void test_control(void)
{
	static uint8_t bigcfg[LOOPBACK_MAX_CONFIG_SIZE + 16];
	struct loopback_interrupt irq = { 0 };
	uint64_t v = 0xdeadbeefdeadbeefULL;
	char msg[64];
	int i;

	tap_diag("control node");
	EXPECT_ERR(ioctl(ctl, _IO(LOOPBACK_IOCTL_TYPE, 0x7f)), "ctl: unknown ioctl nr", ENOTTY);
	EXPECT_ERR(ioctl(ctl, _IO('x', 1)), "ctl: ioctl of another type", ENOTTY);
	EXPECT_ERR(ioctl(ctl, _IOWR(LOOPBACK_IOCTL_TYPE, 0x01, uint64_t), &v),
		   "ctl: CREATE nr with the wrong size", ENOTTY);
	EXPECT_ERR(ioctl(ctl, LOOPBACK_DEV_INTERRUPT, &irq), "ctl: a device ioctl", ENOTTY);
	EXPECT_OK(ioctl(ctl, LOOPBACK_GET_API_VERSION, &v), "ctl: GET_API_VERSION");
	tap_ok(v == LOOPBACK_API_VERSION, "GET_API_VERSION wrote %llu (want %d)",
	       (unsigned long long)v, LOOPBACK_API_VERSION);
	EXPECT_ERR(ioctl(ctl, LOOPBACK_GET_API_VERSION, BAD), "ctl: GET_API_VERSION bad pointer", EFAULT);
	v = 0;
	EXPECT_OK(ioctl(ctl, LOOPBACK_GET_FEATURES, &v), "ctl: GET_FEATURES");
	tap_diag("GET_FEATURES: %#llx", (unsigned long long)v);
	tap_ok((v & LOOPBACK_F_TRAP_SIZE) && (v & LOOPBACK_F_WINDOW_FD) && (v & LOOPBACK_F_REMOVE),
	       "GET_FEATURES offers TRAP_SIZE, WINDOW_FD and REMOVE (%#llx)", (unsigned long long)v);
	tap_ok(!(v & ~(LOOPBACK_F_WINDOW_FD | LOOPBACK_F_REMOVE | LOOPBACK_F_TRAP_SIZE |
		       LOOPBACK_F_RO_RINGS | LOOPBACK_F_INFLIGHT)),
	       "GET_FEATURES sets no bit the header does not define (%#llx)", (unsigned long long)v);
	EXPECT_ERR(ioctl(ctl, LOOPBACK_GET_FEATURES, BAD), "ctl: GET_FEATURES bad pointer", EFAULT);

	BAD_CREATE("api_version 0", c->api_version = 0, EINVAL);
	BAD_CREATE("api_version VERSION+1", c->api_version = LOOPBACK_API_VERSION + 1, EINVAL);
	BAD_CREATE("api_version 0xffffffff", c->api_version = 0xffffffff, EINVAL);
	BAD_CREATE("flags 1", c->flags = 1, EINVAL);
	BAD_CREATE("flags 0x80000000", c->flags = 0x80000000, EINVAL);
	BAD_CREATE("trap_size 12", c->trap_size = 12, EINVAL);
	BAD_CREATE("trap_size 8", c->trap_size = 8, EINVAL);
	BAD_CREATE("trap_size 24", c->trap_size = 24, EINVAL);
	BAD_CREATE("trap_size 33", c->trap_size = 33, EINVAL);
	BAD_CREATE("trap_size 36", c->trap_size = 36, EINVAL);
	BAD_CREATE("trap_size MAX+8", c->trap_size = LOOPBACK_MAX_TRAP_SIZE + 8, EINVAL);
	BAD_CREATE("trap_size 0x80000000", c->trap_size = 0x80000000, EINVAL);
	BAD_CREATE("trap_size 64 with api_version 1 (a reserved field there)",
		   { c->api_version = 1; c->trap_size = 64; }, EINVAL);
	BAD_CREATE("regs_base (out) set on input", c->regs_base = LOOPBACK_REGS_BASE, EINVAL);
	BAD_CREATE("window_base (out) set on input", c->window_base = 1, EINVAL);
	BAD_CREATE("name[0] (out) set on input", c->name[0] = 'x', EINVAL);
	BAD_CREATE("name[31] (out) set on input", c->name[LOOPBACK_NAME_LEN - 1] = 1, EINVAL);
	for (i = 0; i < 4; i++) {
		snprintf(msg, sizeof(msg), "reserved[%d] 1", i);
		BAD_CREATE(msg, c->reserved[i] = 1, EINVAL);
	}
	BAD_CREATE("reserved[3] 1<<63", c->reserved[3] = 1ULL << 63, EINVAL);
	BAD_CREATE("device_id 0", c->device_id = 0, EINVAL);
	BAD_CREATE("features without VERSION_1", c->features = VF_ACCESS_PLATFORM, EINVAL);
	BAD_CREATE("features without ACCESS_PLATFORM", c->features = VF_VERSION_1, EINVAL);
	BAD_CREATE("features 0", c->features = 0, EINVAL);
	BAD_CREATE("num_queues 0", c->num_queues = 0, EINVAL);
	BAD_CREATE("num_queues MAX+1", c->num_queues = LOOPBACK_MAX_QUEUES + 1, EINVAL);
	BAD_CREATE("num_queues 0xffffffff", c->num_queues = 0xffffffff, EINVAL);
	BAD_CREATE("max_queue_size 0", c->max_queue_size = 0, EINVAL);
	BAD_CREATE("max_queue_size 1", c->max_queue_size = 1, EINVAL);
	BAD_CREATE("max_queue_size 3", c->max_queue_size = 3, EINVAL);
	BAD_CREATE("max_queue_size 6", c->max_queue_size = 6, EINVAL);
	BAD_CREATE("max_queue_size 255", c->max_queue_size = 255, EINVAL);
	BAD_CREATE("max_queue_size MAX+1", c->max_queue_size = LOOPBACK_MAX_QUEUE_SIZE + 1, EINVAL);
	BAD_CREATE("max_queue_size 2*MAX", c->max_queue_size = 2 * LOOPBACK_MAX_QUEUE_SIZE, EINVAL);
	BAD_CREATE("max_queue_size 0x80000000", c->max_queue_size = 0x80000000, EINVAL);
	BAD_CREATE("max_queue_size 0xffffffff", c->max_queue_size = 0xffffffff, EINVAL);
	BAD_CREATE("config_size MAX+1",
		   { c->config_size = LOOPBACK_MAX_CONFIG_SIZE + 1; c->config = (uintptr_t)bigcfg; }, EINVAL);
	BAD_CREATE("config_size 0x80000000",
		   { c->config_size = 0x80000000; c->config = (uintptr_t)bigcfg; }, EINVAL);
	BAD_CREATE("config_size 0xffffffff",
		   { c->config_size = 0xffffffff; c->config = (uintptr_t)bigcfg; }, EINVAL);
	BAD_CREATE("window_size 0", c->window_size = 0, EINVAL);
	BAD_CREATE("window_size 4096", c->window_size = 4096, EINVAL);
	BAD_CREATE("window_size MIN-4096", c->window_size = LOOPBACK_MIN_WINDOW_SIZE - 4096, EINVAL);
	BAD_CREATE("window_size MIN+1", c->window_size = LOOPBACK_MIN_WINDOW_SIZE + 1, EINVAL);
	BAD_CREATE("window_size MIN+2048", c->window_size = LOOPBACK_MIN_WINDOW_SIZE + 2048, EINVAL);
	BAD_CREATE("window_size MAX+4096", c->window_size = LOOPBACK_MAX_WINDOW_SIZE + 4096, EINVAL);
	BAD_CREATE("window_size 2*MAX", c->window_size = 2 * LOOPBACK_MAX_WINDOW_SIZE, EINVAL);
	BAD_CREATE("window_size 1<<63", c->window_size = 1ULL << 63, EINVAL);
	BAD_CREATE("window_size ~4095", c->window_size = ~4095ULL, EINVAL);
	BAD_CREATE("window_size ~0", c->window_size = ~0ULL, EINVAL);
	BAD_CREATE("config pointer 8", { c->config_size = 16; c->config = 8; }, EFAULT);
	BAD_CREATE("config pointer NULL", { c->config_size = 16; c->config = 0; }, EFAULT);
	BAD_CREATE("config pointer to PROT_NONE", { c->config_size = 16; c->config = (uintptr_t)bad_ptr; }, EFAULT);
	BAD_CREATE("config crossing into PROT_NONE",
		   { c->config_size = 16; c->config = (uintptr_t)(edge_ptr - 8); }, EFAULT);
	BAD_CREATE("config pointer kernel address",
		   { c->config_size = 16; c->config = 0xffffffff81000000ULL; }, EFAULT);
	EXPECT_ERR(ioctl(ctl, LOOPBACK_CREATE, BAD), "CREATE arg pointer 8", EFAULT);
	EXPECT_ERR(ioctl(ctl, LOOPBACK_CREATE, bad_ptr), "CREATE arg pointer PROT_NONE", EFAULT);
	{
		/* a valid struct whose tail lies in the PROT_NONE page */
		struct loopback_create c;

		lb_create_defaults(&c);
		memcpy(edge_ptr - 64, &c, 64);
	}
	EXPECT_ERR(ioctl(ctl, LOOPBACK_CREATE, edge_ptr - 64), "CREATE arg crossing into PROT_NONE", EFAULT);

	/* a device accepted by mistake registers asynchronously: look again */
	lb_sleep_ms(300);
	tap_ok(lb_virtio_count() == base_count, "no virtio device after the rejected CREATEs (%d, was %d)",
	       lb_virtio_count(), base_count);
}

static void check_trap(const struct loopback_trap *t, const struct lbdev *d)
{
	uint64_t off = t->addr - d->info.regs_base;

	tap_ok(t->id != 0 && t->addr >= d->info.regs_base && off < LOOPBACK_REGS_SIZE &&
		       (t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8) &&
		       !(t->flags & ~(uint32_t)(LOOPBACK_TRAP_WRITE | LOOPBACK_TRAP_POSTED)) &&
		       ((t->flags & LOOPBACK_TRAP_WRITE) || t->data == 0),
	       "trap is well formed: id %llu addr regs+%#llx data %#llx size %u flags %#x",
	       (unsigned long long)t->id, (unsigned long long)off, (unsigned long long)t->data,
	       t->size, t->flags);
}

static int read_trap(struct lbdev *d, struct loopback_trap *t, int timeout_ms)
{
	struct pollfd p = { .fd = d->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1 || !(p.revents & POLLIN))
		return -1;
	n = read(d->fd, t, sizeof(*t));
	return n == (ssize_t)sizeof(*t) ? 0 : -1;
}

static void test_traps(struct lbdev *d)
{
	struct pollfd p = { .fd = d->fd, .events = POLLIN };
	struct loopback_trap t;
	struct loopback_reply r;
	char buf[64];
	ssize_t n;
	int i, pr;

	tap_diag("read() and write() on the device fd");
	pr = poll(&p, 1, 10000);
	tap_ok(pr == 1 && (p.revents & POLLIN), "poll: a trap is pending after CREATE (revents %#x)",
	       pr == 1 ? p.revents : 0);
	if (pr != 1 || !(p.revents & POLLIN))
		return;
	EXPECT_ERR(read(d->fd, buf, sizeof(struct loopback_trap) - 1), "read 31 bytes", EINVAL);
	EXPECT_ERR(read(d->fd, buf, 1), "read 1 byte", EINVAL);
	n = read(d->fd, buf, 0);
	tap_diag("read of 0 bytes: %zd (%s)", n, n < 0 ? strerror(errno) : "-");
	EXPECT_ERR(read(d->fd, bad_ptr, sizeof(struct loopback_trap)), "read into a bad pointer", EFAULT);
	p.revents = 0;
	pr = poll(&p, 1, 2000);
	tap_ok(pr == 1 && (p.revents & POLLIN), "the trap is still pending after the failed reads");

	/* the first non-posted trap */
	for (i = 0; i < 50; i++) {
		if (read_trap(d, &t, 10000) < 0) {
			tap_ok(false, "read a trap: %s", strerror(errno));
			return;
		}
		if (!(t.flags & LOOPBACK_TRAP_POSTED))
			break;
		lbdev_handle_trap(d, &t);
	}
	check_trap(&t, d);

	memset(&r, 0, sizeof(r));
	r.id = t.id;
	r.flags = 1;
	EXPECT_ERR(write(d->fd, &r, sizeof(r)), "reply with flags 1", EINVAL);
	r.flags = 0x80000000;
	EXPECT_ERR(write(d->fd, &r, sizeof(r)), "reply with flags 0x80000000", EINVAL);
	r.flags = 0;
	r.reserved = 1;
	EXPECT_ERR(write(d->fd, &r, sizeof(r)), "reply with reserved 1", EINVAL);
	r.reserved = 0;
	EXPECT_ERR(write(d->fd, &r, sizeof(r) - 1), "reply of 23 bytes", EINVAL);
	EXPECT_ERR(write(d->fd, &r, 8), "reply of 8 bytes", EINVAL);
	EXPECT_ERR(write(d->fd, &r, 1), "reply of 1 byte", EINVAL);
	n = write(d->fd, &r, 0);
	tap_diag("reply of 0 bytes: %zd (%s)", n, n < 0 ? strerror(errno) : "-");
	EXPECT_ERR(write(d->fd, bad_ptr, sizeof(r)), "reply from a bad pointer", EFAULT);
	EXPECT_ERR(write(d->fd, edge_ptr - 8, sizeof(r)), "reply crossing into PROT_NONE", EFAULT);
	r.id = t.id + 1000;
	n = write(d->fd, &r, sizeof(r));
	tap_ok(n < 0, "reply with an unknown id: %s", n < 0 ? strerror(errno) : "accepted");
	r.id = 0;
	n = write(d->fd, &r, sizeof(r));
	tap_ok(n < 0, "reply with id 0: %s", n < 0 ? strerror(errno) : "accepted");
	r.id = ~0ULL;
	n = write(d->fd, &r, sizeof(r));
	tap_ok(n < 0, "reply with id ~0: %s", n < 0 ? strerror(errno) : "accepted");

	/* the real answer still works after all that */
	{
		uint64_t before = d->replies;

		lbdev_handle_trap(d, &t);
		tap_ok(d->replies == before + 1, "the correct reply is accepted after the bad ones%s%s",
		       d->errmsg[0] ? ": " : "", d->errmsg);
	}
	memset(&r, 0, sizeof(r));
	r.id = t.id;
	n = write(d->fd, &r, sizeof(r));
	tap_ok(n < 0, "a second reply to the same trap: %s", n < 0 ? strerror(errno) : "accepted");
}

static void test_nonblock_read(struct lbdev *d)
{
	struct loopback_trap t;
	int fl = fcntl(d->fd, F_GETFL), i;
	ssize_t n = 0;
	int e = 0;

	lbdev_stop(d);
	if (fl < 0 || fcntl(d->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		tap_ok(false, "fcntl O_NONBLOCK: %s", strerror(errno));
		lbdev_start(d);
		return;
	}
	/* traps that are still coming in are answered; then EAGAIN */
	for (i = 0; i < 100; i++) {
		n = read(d->fd, &t, sizeof(t));
		e = errno;
		if (n != (ssize_t)sizeof(t))
			break;
		lbdev_handle_trap(d, &t);
		lb_sleep_ms(10);
	}
	errno = e;
	EXPECT_ERR(n, "O_NONBLOCK read with nothing pending", EAGAIN);
	if (fcntl(d->fd, F_SETFL, fl) < 0)
		tap_bail("fcntl: %s", strerror(errno));
	lbdev_start(d);
}

static void test_dev_ioctls(struct lbdev *d)
{
	struct loopback_dev_info info;
	struct loopback_ioeventfd io;
	struct loopback_irqfd irq;
	struct loopback_interrupt in;
	struct loopback_config cfg;
	uint8_t cbuf[64];
	uint64_t v = 0;
	int efd, efd2, pfd[2], nullfd, closedfd, fdflags;
	long r;

	tap_diag("device fd ioctls");
	fdflags = fcntl(d->fd, F_GETFD);
	tap_ok(fdflags >= 0 && (fdflags & FD_CLOEXEC), "the device fd is O_CLOEXEC");
	EXPECT_ERR(ioctl(d->fd, _IO(LOOPBACK_IOCTL_TYPE, 0x7f)), "dev: unknown ioctl nr", ENOTTY);
	EXPECT_ERR(ioctl(d->fd, _IO('x', 1)), "dev: ioctl of another type", ENOTTY);
	/* struct loopback_interrupt is 8 bytes: 4 is the wrong size */
	EXPECT_ERR(ioctl(d->fd, _IOW(LOOPBACK_IOCTL_TYPE, 0x13, uint32_t), &v),
		   "dev: INTERRUPT nr with the wrong size", ENOTTY);
	EXPECT_ERR(ioctl(d->fd, _IOR(LOOPBACK_IOCTL_TYPE, 0x13, struct loopback_interrupt), &v),
		   "dev: INTERRUPT nr with the wrong direction", ENOTTY);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_CREATE, &d->cr), "dev: CREATE on a device fd", ENOTTY);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_GET_FEATURES, &v), "dev: GET_FEATURES on a device fd", ENOTTY);
	r = ioctl(d->fd, LOOPBACK_GET_API_VERSION, &v);
	tap_diag("GET_API_VERSION on a device fd: %ld (%s)", r, r < 0 ? strerror(errno) : "accepted");

	memset(&info, 0xa5, sizeof(info));
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_GET_INFO, &info), "GET_INFO");
	tap_ok(info.api_version == LOOPBACK_API_VERSION && info.device_id == d->cr.device_id &&
		       info.vendor_id == d->cr.vendor_id && info.num_queues == d->cr.num_queues &&
		       info.features == d->cr.features && info.window_size == d->cr.window_size &&
		       info.max_queue_size == d->cr.max_queue_size &&
		       info.config_size == d->cr.config_size,
	       "GET_INFO matches CREATE (api %u dev %u vendor %#x nq %u features %#llx win %#llx qmax %u cfg %u)",
	       info.api_version, info.device_id, info.vendor_id, info.num_queues,
	       (unsigned long long)info.features, (unsigned long long)info.window_size,
	       info.max_queue_size, info.config_size);
	tap_ok(info.regs_base == d->cr.regs_base && info.window_base == d->cr.window_base &&
		       !memcmp(info.name, d->cr.name, sizeof(info.name)),
	       "GET_INFO layout matches CREATE's out fields (regs %#llx window %#llx name %.32s)",
	       (unsigned long long)info.regs_base, (unsigned long long)info.window_base, info.name);
	tap_ok(info.regs_base == LOOPBACK_REGS_BASE && info.window_base == LOOPBACK_WINDOW_BASE,
	       "the layout is the uapi's (LOOPBACK_REGS_BASE, LOOPBACK_WINDOW_BASE)");
	tap_ok(!info.reserved[0] && !info.reserved[1] && !info.reserved[2] && !info.reserved[3],
	       "GET_INFO reserved[] are 0");
	tap_ok(memchr(info.name, 0, sizeof(info.name)) && info.name[0], "GET_INFO name is a NUL-terminated string");
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_GET_INFO, BAD), "GET_INFO bad pointer", EFAULT);

	efd = eventfd(0, EFD_CLOEXEC);
	efd2 = eventfd(0, EFD_CLOEXEC);
	if (efd < 0 || efd2 < 0 || pipe2(pfd, O_CLOEXEC) < 0)
		tap_bail("eventfd/pipe: %s", strerror(errno));
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	closedfd = dup(efd2);
	close(closedfd);

#define IOE(...) (io = (struct loopback_ioeventfd){ .addr = d->info.regs_base + VM_QUEUE_NOTIFY, \
						    .len = 4, .fd = efd, __VA_ARGS__ }, &io)
	tap_diag("IOEVENTFD");
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.addr = d->info.regs_base)),
		   "IOEVENTFD addr regs_base", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.addr = d->info.regs_base + VM_STATUS)),
		   "IOEVENTFD addr Status", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.addr = d->info.regs_base + VM_QUEUE_NOTIFY + 1)),
		   "IOEVENTFD addr QueueNotify+1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.addr = VM_QUEUE_NOTIFY)),
		   "IOEVENTFD addr 0x50 (no regs_base)", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.addr = d->info.window_base + VM_QUEUE_NOTIFY)),
		   "IOEVENTFD addr in the window", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.addr = ~0ULL)), "IOEVENTFD addr ~0", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.len = 1)), "IOEVENTFD len 1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.len = 2)), "IOEVENTFD len 2", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.len = 3)), "IOEVENTFD len 3", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.len = 8)), "IOEVENTFD len 8", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.len = 0xffffffff)), "IOEVENTFD len 0xffffffff", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			 IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH, .datamatch = d->info.num_queues)),
		   "IOEVENTFD datamatch == num_queues", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			 IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH, .datamatch = 1ULL << 32)),
		   "IOEVENTFD datamatch 1<<32", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			 IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH, .datamatch = ~0ULL)),
		   "IOEVENTFD datamatch ~0", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.flags = 1U << 2)), "IOEVENTFD flags 1<<2", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.flags = 1U << 31)), "IOEVENTFD flags 1<<31", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.reserved = 1)), "IOEVENTFD reserved 1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.fd = pfd[0])), "IOEVENTFD fd is a pipe", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.fd = nullfd)), "IOEVENTFD fd is /dev/null", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.fd = d->fd)), "IOEVENTFD fd is the device fd",
		   EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.fd = -1)), "IOEVENTFD fd -1", EBADF);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.fd = closedfd)), "IOEVENTFD fd closed", EBADF);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, BAD), "IOEVENTFD bad pointer", EFAULT);
	tap_ok(lb_virtio_count() >= 0, "the device survived the bad IOEVENTFDs");

	/* datamatch 1 (queue 1 is never kicked by virtio-rng) */
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH, .datamatch = 1)),
		  "IOEVENTFD assign (datamatch 1)");
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH, .datamatch = 1)),
		   "IOEVENTFD duplicate", EEXIST);
	r = ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH, .datamatch = 1, .fd = efd2));
	tap_diag("IOEVENTFD same datamatch, another eventfd: %s", r < 0 ? strerror(errno) : "accepted");
	if (r == 0)
		ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
		      IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH | LOOPBACK_IOEVENTFD_DEASSIGN,
			  .datamatch = 1, .fd = efd2));
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			 IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH | LOOPBACK_IOEVENTFD_DEASSIGN,
			     .datamatch = 1, .fd = efd2)),
		   "IOEVENTFD deassign with another eventfd", ENOENT);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			 IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH | LOOPBACK_IOEVENTFD_DEASSIGN, .datamatch = 0)),
		   "IOEVENTFD deassign with another datamatch", ENOENT);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.flags = LOOPBACK_IOEVENTFD_DEASSIGN)),
		   "IOEVENTFD deassign without DATAMATCH", ENOENT);
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH | LOOPBACK_IOEVENTFD_DEASSIGN, .datamatch = 1)),
		  "IOEVENTFD deassign");
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			 IOE(.flags = LOOPBACK_IOEVENTFD_DATAMATCH | LOOPBACK_IOEVENTFD_DEASSIGN, .datamatch = 1)),
		   "IOEVENTFD deassign again", ENOENT);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD,
			 IOE(.flags = LOOPBACK_IOEVENTFD_DEASSIGN | (1U << 2))),
		   "IOEVENTFD deassign with unknown flag", EINVAL);
	/* an ioeventfd that is still bound when the device goes away */
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IOEVENTFD, IOE(.len = 0, .flags = LOOPBACK_IOEVENTFD_DATAMATCH,
							    .datamatch = 1)),
		  "IOEVENTFD assign len 0 (left bound until close)");

	tap_diag("IRQFD");
#define IRQ(...) (irq = (struct loopback_irqfd){ .fd = efd, __VA_ARGS__ }, &irq)
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = d->info.num_queues)), "IRQFD queue == num_queues",
		   EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = LOOPBACK_MAX_QUEUES)), "IRQFD queue MAX", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 0xfffffffe)), "IRQFD queue 0xfffffffe", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 0x80000000)), "IRQFD queue 0x80000000", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.flags = 1U << 1)), "IRQFD flags 1<<1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.flags = 1U << 31)), "IRQFD flags 1<<31", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.reserved = 1)), "IRQFD reserved 1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.fd = -1)), "IRQFD fd -1", EBADF);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.fd = closedfd)), "IRQFD fd closed", EBADF);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.fd = pfd[1])), "IRQFD fd is a pipe", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.fd = nullfd)), "IRQFD fd is /dev/null", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, BAD), "IRQFD bad pointer", EFAULT);
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 1)), "IRQFD assign queue 1");
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 1, .fd = efd2)), "IRQFD second eventfd on queue 1",
		   EEXIST);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 1)), "IRQFD same eventfd again", EEXIST);
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 1, .flags = LOOPBACK_IRQFD_DEASSIGN)),
		  "IRQFD deassign queue 1");
	r = ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 1, .flags = LOOPBACK_IRQFD_DEASSIGN));
	tap_ok(r < 0, "IRQFD deassign of a missing one fails: %s", r < 0 ? strerror(errno) : "accepted");
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = LOOPBACK_CONFIG_IRQ)), "IRQFD assign CONFIG_IRQ");
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = LOOPBACK_CONFIG_IRQ, .fd = efd2)),
		   "IRQFD second CONFIG_IRQ", EEXIST);
	{
		uint64_t one = 1;

		/* a config interrupt through the irqfd: virtio-rng ignores it */
		tap_ok(write(efd, &one, sizeof(one)) == sizeof(one), "signal the CONFIG_IRQ irqfd");
		lb_sleep_ms(50);
	}
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = LOOPBACK_CONFIG_IRQ, .flags = LOOPBACK_IRQFD_DEASSIGN)),
		  "IRQFD deassign CONFIG_IRQ");
	/* an irqfd that stays bound until close */
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_IRQFD, IRQ(.queue = 1, .fd = efd2)), "IRQFD assign queue 1 (left bound)");

	tap_diag("INTERRUPT");
#define INT(...) (in = (struct loopback_interrupt){ __VA_ARGS__ }, &in)
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, INT(.queue = d->info.num_queues)),
		   "INTERRUPT queue == num_queues", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, INT(.queue = LOOPBACK_MAX_QUEUES)), "INTERRUPT queue MAX", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, INT(.queue = 0xfffffffe)), "INTERRUPT queue 0xfffffffe", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, INT(.queue = 0, .reserved = 1)), "INTERRUPT reserved 1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, BAD), "INTERRUPT bad pointer", EFAULT);
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, INT(.queue = 0)), "INTERRUPT queue 0 (spurious)");
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, INT(.queue = 1)), "INTERRUPT queue 1 (no vq there)");
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, INT(.queue = LOOPBACK_CONFIG_IRQ)), "INTERRUPT CONFIG_IRQ");

	tap_diag("SET_CONFIG (config_size %u)", d->info.config_size);
	memset(cbuf, 0x5a, sizeof(cbuf));
#define CFG(...) (cfg = (struct loopback_config){ .data = (uintptr_t)cbuf, __VA_ARGS__ }, &cfg)
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = 0, .length = d->info.config_size)),
		  "SET_CONFIG whole space");
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = d->info.config_size - 1, .length = 1)),
		  "SET_CONFIG last byte");
	EXPECT_OK(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG,
			CFG(.offset = 0, .length = 4, .flags = LOOPBACK_CONFIG_NOTIFY)), "SET_CONFIG with NOTIFY");
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = 0, .length = d->info.config_size + 1)),
		   "SET_CONFIG length config_size+1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = d->info.config_size, .length = 1)),
		   "SET_CONFIG offset config_size", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = d->info.config_size - 1, .length = 2)),
		   "SET_CONFIG last byte + 1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = 0xffffffff, .length = 2)),
		   "SET_CONFIG offset 0xffffffff length 2 (wraps)", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = 2, .length = 0xffffffff)),
		   "SET_CONFIG offset 2 length 0xffffffff (wraps)", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = 0xfffffff0, .length = 0x20)),
		   "SET_CONFIG offset 0xfffffff0 length 0x20 (wraps)", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = 0x80000000, .length = 0x80000000)),
		   "SET_CONFIG offset 0x80000000 length 0x80000000 (wraps)", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.length = 4, .flags = 1U << 1)),
		   "SET_CONFIG flags 1<<1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.length = 4, .reserved = 1)),
		   "SET_CONFIG reserved 1", EINVAL);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.length = 4, .data = 0)), "SET_CONFIG data NULL", EFAULT);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.length = 4, .data = (uintptr_t)bad_ptr)),
		   "SET_CONFIG data PROT_NONE", EFAULT);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.length = 8, .data = (uintptr_t)(edge_ptr - 4))),
		   "SET_CONFIG data crossing into PROT_NONE", EFAULT);
	EXPECT_ERR(ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, BAD), "SET_CONFIG bad pointer", EFAULT);
	r = ioctl(d->fd, LOOPBACK_DEV_SET_CONFIG, CFG(.offset = d->info.config_size, .length = 0));
	tap_diag("SET_CONFIG offset config_size length 0: %s", r < 0 ? strerror(errno) : "accepted");

	close(efd);
	close(efd2);
	close(pfd[0]);
	close(pfd[1]);
	close(nullfd);
}

static void test_mmap_private(struct lbdev *d)
{
	void *p;

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, d->fd, (off_t)d->info.window_base);
	EXPECT_ERR(p == MAP_FAILED ? -1 : 0, "mmap MAP_PRIVATE", EINVAL);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, d->fd, (off_t)d->info.window_base);
	EXPECT_ERR(p == MAP_FAILED ? -1 : 0, "mmap MAP_PRIVATE read-only", EINVAL);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)d->info.window_base);
	EXPECT_OK(p == MAP_FAILED ? -1 : 0, "mmap MAP_SHARED of the window's first page");
	if (p != MAP_FAILED)
		munmap(p, 4096);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ctl, 0);
	tap_diag("mmap of /dev/loopback: %s", p == MAP_FAILED ? strerror(errno) : "accepted");
	if (p != MAP_FAILED)
		munmap(p, 4096);
}

/*
 * API 1 callers are still served (their struct may carry a previous
 * CREATE's output fields), and trap_size makes read() return bigger
 * records whose tail is zero.
 */
static void test_versions(void)
{
	static const uint32_t sizes[] = { 32, 64, LOOPBACK_MAX_TRAP_SIZE };
	struct loopback_create c;
	unsigned int i;
	int fd;

	tap_diag("api_version and trap_size");
	lb_create_defaults(&c);
	c.api_version = 1;
	c.regs_base = LOOPBACK_REGS_BASE;
	c.window_base = LOOPBACK_WINDOW_BASE;
	snprintf(c.name, sizeof(c.name), "loopback99");
	fd = ioctl(ctl, LOOPBACK_CREATE, &c);
	EXPECT_OK(fd, "CREATE with api_version 1 and stale output fields");
	if (fd >= 0) {
		tap_ok(c.regs_base == LOOPBACK_REGS_BASE && c.window_base == LOOPBACK_WINDOW_BASE &&
			       !strncmp(c.name, "loopback", 8) && strcmp(c.name, "loopback99"),
		       "api_version 1: the output fields are filled in (%.32s)", c.name);
		close(fd);
	}

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct lbdev_opts o = { .trap_size = sizes[i], .manual = true };
		uint8_t rec[2 * LOOPBACK_MAX_TRAP_SIZE];
		struct loopback_trap t;
		struct lbdev *d;
		char v[64];
		ssize_t n;
		size_t k;
		bool zero = true;

		d = lbdev_create(ctl, &o);
		if (!d) {
			tap_ok(false, "CREATE with trap_size %u: %s", sizes[i], strerror(errno));
			continue;
		}
		EXPECT_ERR(read(d->fd, rec, sizes[i] - 1), "read of trap_size - 1 bytes", EINVAL);
		memset(rec, 0xa5, sizeof(rec));
		/* one record and a half: only the whole record is returned */
		n = read(d->fd, rec, sizes[i] + sizes[i] / 2);
		for (k = sizeof(t); n > 0 && k < sizes[i]; k++)
			zero &= rec[k] == 0;
		memcpy(&t, rec, sizeof(t));
		tap_ok(n == (ssize_t)sizes[i] && zero && t.id && t.addr == d->info.regs_base + VM_STATUS,
		       "trap_size %u: read returns one %u-byte record (%zd), the trap first, the rest 0",
		       sizes[i], sizes[i], n);
		if (n == (ssize_t)sizes[i])
			lbdev_handle_trap(d, &t);
		lbdev_start(d);
		tap_ok(lb_wait_bound(d->info.name, "virtio_rng", v, sizeof(v), 20000) == 0 && !d->errmsg[0],
		       "trap_size %u: the device binds to virtio_rng%s%s", sizes[i],
		       d->errmsg[0] ? "; model: " : "", d->errmsg);
		lbdev_destroy(d, false);
	}
	tap_ok(lb_wait_count(base_count, 10000) == 0, "all devices gone after close (%d, was %d)",
	       lb_virtio_count(), base_count);
}

/* values at the bounds that CREATE must accept; each device must bind */
static void test_accepted_bounds(void)
{
	static const struct {
		const char *what;
		struct lbdev_opts o;
	} cases[] = {
		{ "num_queues MAX, max_queue_size 2, window MIN",
		  { .num_queues = LOOPBACK_MAX_QUEUES, .max_queue_size = 2,
		    .window_size = LOOPBACK_MIN_WINDOW_SIZE } },
		{ "max_queue_size MAX in a MIN window (the driver must shrink the ring)",
		  { .max_queue_size = LOOPBACK_MAX_QUEUE_SIZE, .window_size = LOOPBACK_MIN_WINDOW_SIZE } },
		{ "config_size MAX",
		  { .config_size = LOOPBACK_MAX_CONFIG_SIZE } },
		{ "window 16 MiB",
		  { .window_size = 16 << 20 } },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lbdev *d = lbdev_create(ctl, &cases[i].o);
		char v[64], name[LOOPBACK_NAME_LEN + 1];
		int rc;

		if (!d) {
			tap_ok(false, "CREATE %s: %s", cases[i].what, strerror(errno));
			continue;
		}
		rc = lb_wait_bound(d->info.name, "virtio_rng", v, sizeof(v), 20000);
		tap_ok(rc == 0 && !d->errmsg[0], "CREATE %s: bound to virtio_rng%s%s", cases[i].what,
		       d->errmsg[0] ? "; model: " : "", d->errmsg);
		if (rc)
			lb_list_virtio();
		memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
		name[LOOPBACK_NAME_LEN] = 0;
		lbdev_destroy(d, false);
		tap_ok(lb_wait_gone(name, 10000) == 0, "%s: the virtio device is gone after close", cases[i].what);
	}
	tap_ok(lb_wait_count(base_count, 10000) == 0, "all devices gone after close (%d, was %d)",
	       lb_virtio_count(), base_count);
}

int main(void)
{
	struct lbdev_opts o = { .num_queues = 2, .config_size = 16, .manual = true };
	struct lbdev *d, *d0;
	char vdev[64], drv[64];
	ssize_t n;
	int rc;

	tap_init("test-uapi");
	ctl = lb_open_ctl();
	setup_bad_pointers();
	base_count = lb_virtio_count();
	tap_diag("virtio devices before: %d", base_count);

	test_control();

	n = read(ctl, vdev, sizeof(vdev));
	tap_diag("read on /dev/loopback: %zd (%s)", n, n < 0 ? strerror(errno) : "-");

	/* a device whose first traps this test answers by hand */
	d = lbdev_create(ctl, &o);
	if (!d)
		tap_bail("CREATE of a valid device failed: %s", strerror(errno));
	tap_ok(true, "CREATE of a valid device: fd %d name '%.32s' regs %#llx window %#llx+%#llx",
	       d->fd, d->cr.name, (unsigned long long)d->cr.regs_base,
	       (unsigned long long)d->cr.window_base, (unsigned long long)d->cr.window_size);
	test_traps(d);
	lbdev_start(d);
	rc = lb_wait_bound(d->info.name, "virtio_rng", vdev, sizeof(vdev), 20000);
	tap_ok(rc == 0, "the device binds to virtio_rng after the hand-answered traps (%s)", rc ? "no" : vdev);
	if (rc)
		lb_list_virtio();
	test_dev_ioctls(d);
	test_nonblock_read(d);
	test_mmap_private(d);
	rc = lb_find_virtio(d->info.name, vdev, sizeof(vdev));
	lb_virtio_driver(vdev, drv, sizeof(drv));
	tap_ok(rc == 0 && !strcmp(drv, "virtio_rng"), "still bound after all the bad calls (%s)", drv);
	tap_ok(!d->errmsg[0], "the device model saw no protocol error%s%s", d->errmsg[0] ? ": " : "", d->errmsg);

	/* a config_size 0 device takes no SET_CONFIG */
	{
		struct lbdev_opts o0 = { 0 };
		struct loopback_config cfg = { .offset = 0, .length = 1 };
		uint8_t b = 0;

		d0 = lbdev_create(ctl, &o0);
		if (!d0) {
			tap_ok(false, "CREATE config_size 0: %s", strerror(errno));
		} else {
			cfg.data = (uintptr_t)&b;
			EXPECT_ERR(ioctl(d0->fd, LOOPBACK_DEV_SET_CONFIG, &cfg), "SET_CONFIG on config_size 0", EINVAL);
			lb_wait_bound(d0->info.name, "virtio_rng", NULL, 0, 20000);
			lbdev_destroy(d0, true);
		}
	}

	{
		char name[LOOPBACK_NAME_LEN + 1];

		memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
		name[LOOPBACK_NAME_LEN] = 0;
		lbdev_destroy(d, false);
		tap_ok(lb_wait_gone(name, 10000) == 0, "the virtio device is gone after close");
	}

	test_accepted_bounds();
	test_versions();
	tap_ok(lb_wait_count(base_count, 10000) == 0, "virtio devices back to %d", base_count);
	close(ctl);
	return tap_finish();
}
