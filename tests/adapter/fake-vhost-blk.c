// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fake-vhost-blk: a small vhost-user-blk backend for the adapter's VM
 * tests (tests/adapter/vm-vhost-fake.sh).  It listens on a unix socket,
 * takes one frontend, serves a split ring from an in-memory disk, and
 * with --misbehave=CASE breaks the protocol at a chosen point, so that
 * the test can check what loopback-adapter and the host make of it.
 *
 * The wire format is written here from QEMU's docs/interop/vhost-user.rst,
 * not taken from libloopback: the test checks the library against the
 * spec, not against itself.
 *
 *   fake-vhost-blk [--size-mib=N] [--after=N] [--resize-mib=N]
 *                  [--dump=FILE] [--misbehave=CASE] SOCKET
 *
 * --after=N: the "during I/O" cases strike after N write requests were
 * served (writes only: the driver's own reads at probe time do not count),
 * when the next request comes, which the broken backend then holds.
 * --resize-mib=N: a well-behaved resize instead: after --after writes the
 * disk takes its new size and a CONFIG_CHANGE_MSG goes on the backend
 * channel; GET_CONFIG answers the new capacity from then on.
 * --dump=FILE: the disk is written to FILE when the frontend leaves.
 * stderr gets one line per notable event, starting "fake-vhost-blk: ".
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the wire format (vhost-user.rst) ---- */

enum {
	GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5,
	SET_VRING_NUM = 8, SET_VRING_ADDR = 9, SET_VRING_BASE = 10,
	GET_VRING_BASE = 11, SET_VRING_KICK = 12, SET_VRING_CALL = 13,
	GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16,
	GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18, SET_BACKEND_REQ_FD = 21,
	GET_CONFIG = 24,
};
/* on the backend channel */
enum { B_CONFIG_CHANGE = 2, B_HOST_NOTIFIER = 3, B_UNKNOWN = 99 };

#define VU_VERSION 1u
#define F_REPLY (1u << 2)
#define F_NEED_REPLY (1u << 3)
#define VRING_NOFD (1u << 8)

#define F_PROTOCOL_FEATURES (1ULL << 30)
#define F_VERSION_1 (1ULL << 32)
#define BLK_F_FLUSH (1ULL << 9)
#define PF_MQ (1ULL << 0)
#define PF_REPLY_ACK (1ULL << 3)
#define PF_BACKEND_REQ (1ULL << 5)
#define PF_CONFIG (1ULL << 9)

#define MAX_REGIONS 8
#define MAX_PAYLOAD 256

struct hdr {
	uint32_t request, flags, size;
};

struct region {
	uint64_t gpa, size, uaddr, offset;
};

struct msg {
	struct hdr h;
	union {
		uint64_t u64;
		struct { uint32_t index, num; } state;
		struct {
			uint32_t index, flags;
			uint64_t desc, used, avail, log;
		} addr;
		struct {
			uint32_t n, pad;
			struct region r[MAX_REGIONS];
		} mem;
		struct {
			uint32_t offset, size, flags;
			uint8_t data[MAX_PAYLOAD - 12];
		} config;
		uint8_t bytes[MAX_PAYLOAD + 8];
	} p;
} __attribute__((packed));	/* the payload follows the 12-byte header */

/* split ring (virtio 1.x, little-endian: this runs on x86) */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
#define D_NEXT 1
#define D_WRITE 2

/* virtio-blk */
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

/* ---- the fake's state ---- */

enum misbehave {
	MB_NONE,
	MB_WRONG_SIZE,		/* GET_QUEUE_NUM answered with 4 bytes */
	MB_WRONG_REQUEST,	/* GET_CONFIG answered as GET_FEATURES */
	MB_NO_REPLY_CONFIG,	/* GET_CONFIG never answered */
	MB_EXTRA_FD,		/* GET_CONFIG's reply carries an fd */
	MB_HUGE_SIZE,		/* GET_FEATURES' reply: size 0xffff0000 */
	MB_NO_REPLY_BASE,	/* GET_VRING_BASE never answered */
	MB_NO_REPLY_MEM,	/* SET_MEM_TABLE never acked (at DRIVER_OK) */
	MB_BACKEND_UNKNOWN,	/* during I/O: request 99 on the channel */
	MB_BACKEND_NO_FD,	/* during I/O: HOST_NOTIFIER without its fd */
	MB_BACKEND_BAD_CONFIG,	/* during I/O: CONFIG_CHANGE with 4 bytes */
	MB_BACKEND_HUGE_SIZE,	/* during I/O: a size field of 0xffff0000 */
	MB_CLOSE_IO,		/* during I/O: closes the socket */
};

static const char *const mb_names[] = {
	[MB_NONE] = "none",
	[MB_WRONG_SIZE] = "wrong-size",
	[MB_WRONG_REQUEST] = "wrong-request",
	[MB_NO_REPLY_CONFIG] = "no-reply-config",
	[MB_EXTRA_FD] = "extra-fd",
	[MB_HUGE_SIZE] = "huge-size",
	[MB_NO_REPLY_BASE] = "no-reply-vring-base",
	[MB_NO_REPLY_MEM] = "no-reply-mem-table",
	[MB_BACKEND_UNKNOWN] = "backend-unknown",
	[MB_BACKEND_NO_FD] = "backend-no-fd",
	[MB_BACKEND_BAD_CONFIG] = "backend-bad-config",
	[MB_BACKEND_HUGE_SIZE] = "backend-huge-size",
	[MB_CLOSE_IO] = "close-io",
};

struct vring {
	unsigned int num;
	uint16_t last_avail;
	struct desc *desc;
	uint16_t *avail;	/* flags, idx, ring[] */
	uint8_t *used;		/* flags, idx, ring[] of {id, len} */
	int kick, call;
	bool addr_set, enabled, started;
};

#define NQ 1

static struct {
	enum misbehave how;
	unsigned long after;
	unsigned long served;	/* write requests */
	bool struck;		/* the "during I/O" misbehaviour happened */
	bool frozen;		/* no more requests served */
	uint64_t protocol;
	int conn, backend;
	struct region reg[MAX_REGIONS];
	uint8_t *map[MAX_REGIONS];	/* each fd mapped from offset 0 */
	size_t maplen[MAX_REGIONS];
	unsigned int nreg;
	struct vring vq[NQ];
	uint8_t *disk;
	uint64_t disk_size;
	uint64_t resize_to;	/* bytes; 0: no resize */
} fk = { .conn = -1, .backend = -1 };

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fake-vhost-blk: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- messages ---- */

/* Reads exactly @len bytes, collecting fds; false at EOF or error. */
static bool read_full(int s, void *buf, size_t len, int *fds, int *nfds)
{
	size_t done = 0;

	while (done < len) {
		char control[CMSG_SPACE(sizeof(int) * 8)];
		struct iovec iov = { (char *)buf + done, len - done };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control,
			.msg_controllen = sizeof(control),
		};
		ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (int i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
				if (*nfds < 8)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		done += (size_t)n;
	}
	return true;
}

static void send_msg(int s, const struct msg *m, size_t len, int fd)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)m, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = control;
		mh.msg_controllen = sizeof(control);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		say("send: %s", strerror(errno));
}

static void reply(const struct msg *req, const void *payload, uint32_t size)
{
	struct msg m = { .h = { req->h.request, VU_VERSION | F_REPLY, size } };

	if (size)
		memcpy(m.p.bytes, payload, size);
	send_msg(fk.conn, &m, sizeof(m.h) + size, -1);
}

static void reply_u64(const struct msg *req, uint64_t v)
{
	reply(req, &v, sizeof(v));
}

/* ---- memory ---- */

static void unmap_all(void)
{
	for (unsigned int i = 0; i < fk.nreg; i++)
		munmap(fk.map[i], fk.maplen[i]);
	fk.nreg = 0;
}

static bool set_mem_table(const struct msg *m, const int *fds, int nfds)
{
	uint32_t n = m->p.mem.n;

	if (n == 0 || n > MAX_REGIONS || (int)n != nfds ||
	    m->h.size != 8 + n * sizeof(struct region)) {
		say("SET_MEM_TABLE: %u regions, %d fds, %u bytes: refused",
		    n, nfds, m->h.size);
		return false;
	}
	unmap_all();
	for (uint32_t i = 0; i < n; i++) {
		struct region r;
		size_t len;
		void *p;

		memcpy(&r, (const uint8_t *)&m->p.mem.r[0] + i * sizeof(r),
		       sizeof(r));
		len = r.offset + r.size;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fds[i], 0);

		if (p == MAP_FAILED) {
			say("SET_MEM_TABLE: mmap of region %u: %s", i,
			    strerror(errno));
			return false;
		}
		fk.reg[fk.nreg] = r;
		fk.map[fk.nreg] = p;
		fk.maplen[fk.nreg] = len;
		fk.nreg++;
	}
	say("SET_MEM_TABLE: %u region(s) mapped", n);
	return true;
}

/* A guest-physical (@by_gpa) or user address range in our mapping. */
static void *translate(uint64_t a, uint64_t len, bool by_gpa)
{
	for (unsigned int i = 0; i < fk.nreg; i++) {
		const struct region *r = &fk.reg[i];
		uint64_t start = by_gpa ? r->gpa : r->uaddr;

		if (a >= start && len <= r->size && a - start <= r->size - len)
			return fk.map[i] + r->offset + (a - start);
	}
	return NULL;
}

/* ---- the ring ---- */

static uint16_t avail_idx(struct vring *v)
{
	return __atomic_load_n(&v->avail[1], __ATOMIC_ACQUIRE);
}

static void push_used(struct vring *v, uint16_t head, uint32_t len)
{
	uint16_t *idx = (uint16_t *)(v->used + 2);
	uint16_t u = *idx;
	uint8_t *elem = v->used + 4 + 8 * (u % v->num);
	uint32_t id = head;
	uint64_t one = 1;

	memcpy(elem, &id, 4);
	memcpy(elem + 4, &len, 4);
	__atomic_store_n(idx, (uint16_t)(u + 1), __ATOMIC_RELEASE);
	if (v->call >= 0 && write(v->call, &one, sizeof(one)) < 0)
		say("call: %s", strerror(errno));
}

/* One request: false when the chain is broken (the ring stops). */
static bool serve_one(struct vring *v, uint16_t head, bool *write)
{
	struct { uint32_t type, reserved; uint64_t sector; } h;
	uint16_t i = head;
	unsigned int n = 0;
	uint64_t pos = 0;
	uint32_t written = 0;
	uint8_t status = S_OK, *st = NULL;
	bool got_hdr = false;

	for (;;) {
		struct desc *d;
		uint8_t *buf;

		if (i >= v->num || ++n > v->num) {
			say("ring: descriptor chain from %u is broken", head);
			return false;
		}
		d = &v->desc[i];
		buf = translate(d->addr, d->len, true);
		if (!buf) {
			say("ring: buffer %#llx+%u is outside the memory table",
			    (unsigned long long)d->addr, d->len);
			return false;
		}
		if (!got_hdr) {
			if (d->len < sizeof(h) || (d->flags & D_WRITE)) {
				say("ring: bad request header");
				return false;
			}
			memcpy(&h, buf, sizeof(h));
			got_hdr = true;
			pos = h.sector * 512;
		} else if (!(d->flags & D_NEXT)) {
			/* the last descriptor: the status byte */
			if (!(d->flags & D_WRITE) || d->len < 1) {
				say("ring: bad status descriptor");
				return false;
			}
			st = buf + d->len - 1;
			written += 1;
			break;
		} else if (h.type == T_IN || h.type == T_OUT) {
			if (pos > fk.disk_size || d->len > fk.disk_size - pos) {
				status = S_IOERR;
			} else if (h.type == T_IN) {
				memcpy(buf, fk.disk + pos, d->len);
				written += d->len;
			} else {
				memcpy(fk.disk + pos, buf, d->len);
			}
			pos += d->len;
		} else if (h.type == T_GET_ID && (d->flags & D_WRITE)) {
			memset(buf, 0, d->len);
			memcpy(buf, "fake-vhost-blk", d->len < 14 ? d->len : 14);
			written += d->len;
		}
		if (!(d->flags & D_NEXT)) {
			say("ring: request without a status descriptor");
			return false;
		}
		i = d->next;
	}
	if (h.type != T_IN && h.type != T_OUT && h.type != T_FLUSH &&
	    h.type != T_GET_ID)
		status = S_UNSUPP;
	*st = status;
	*write = h.type == T_OUT;
	push_used(v, head, written);
	return true;
}

static void strike(void);
static void resize(void);

static void serve_ring(struct vring *v)
{
	while (v->started && v->enabled && !fk.frozen &&
	       v->last_avail != avail_idx(v)) {
		uint16_t head = v->avail[2 + v->last_avail % v->num];

		bool write = false;

		/*
		 * Strike when the next request is already here, so that a
		 * broken backend holds it: the frontend then always has a
		 * request it took and never completed, however the host's
		 * writer and the frontend's reaction interleave.
		 */
		if (fk.how >= MB_BACKEND_UNKNOWN && !fk.struck && fk.after &&
		    fk.served == fk.after) {
			strike();
			if (fk.frozen)
				return;
		}
		if (!serve_one(v, head, &write)) {
			v->started = false;
			return;
		}
		v->last_avail++;
		if (write && ++fk.served == fk.after && fk.resize_to &&
		    fk.how < MB_BACKEND_UNKNOWN)
			resize();
	}
}

static void ring_check_start(struct vring *v)
{
	v->started = v->addr_set && v->kick >= 0 && v->num;
}

/* ---- the "during I/O" misbehaviours ---- */

static void backend_send(uint32_t request, uint32_t flags, uint32_t size,
			 uint32_t sent_size)
{
	struct msg m = { .h = { request, VU_VERSION | flags, size } };

	send_msg(fk.backend, &m, sizeof(m.h) + sent_size, -1);
}

static void strike(void)
{
	fk.struck = true;
	say("%s after %lu write requests", mb_names[fk.how], fk.served);
	if (fk.backend < 0 && fk.how != MB_CLOSE_IO) {
		say("no backend channel: BACKEND_REQ was not acked");
		return;
	}
	switch (fk.how) {
	case MB_BACKEND_UNKNOWN:
		backend_send(B_UNKNOWN, F_NEED_REPLY, 0, 0);
		return;
	case MB_BACKEND_NO_FD:
		/* the spec's HOST_NOTIFIER carries an fd (or NOFD in u64) */
		backend_send(B_HOST_NOTIFIER, F_NEED_REPLY, 24, 24);
		return;
	case MB_BACKEND_BAD_CONFIG:
		backend_send(B_CONFIG_CHANGE, 0, 4, 4);
		break;
	case MB_BACKEND_HUGE_SIZE:
		backend_send(B_CONFIG_CHANGE, 0, 0xffff0000u, 0);
		break;
	case MB_CLOSE_IO:
		close(fk.conn);
		fk.conn = -1;
		if (fk.backend >= 0)
			close(fk.backend);
		fk.backend = -1;
		break;
	default:
		return;
	}
	/* a broken backend: what it took is never completed */
	fk.frozen = true;
}

/* Requests are served one at a time, so none is under way here. */
static void resize(void)
{
	uint8_t *d = realloc(fk.disk, fk.resize_to);

	if (!d) {
		say("resize to %llu MiB: out of memory",
		    (unsigned long long)(fk.resize_to >> 20));
		return;
	}
	if (fk.resize_to > fk.disk_size)
		memset(d + fk.disk_size, 0, fk.resize_to - fk.disk_size);
	fk.disk = d;
	fk.disk_size = fk.resize_to;
	if (fk.backend < 0) {
		say("resized to %llu MiB after %lu write requests; no backend channel: BACKEND_REQ was not acked",
		    (unsigned long long)(fk.disk_size >> 20), fk.served);
		return;
	}
	backend_send(B_CONFIG_CHANGE, 0, 0, 0);
	say("resized to %llu MiB after %lu write requests; CONFIG_CHANGE_MSG sent",
	    (unsigned long long)(fk.disk_size >> 20), fk.served);
}

/* A reply on the backend channel: logged, for the test to check. */
static void backend_readable(void)
{
	struct msg m;
	int fds[8], nfds = 0;

	if (!read_full(fk.backend, &m.h, sizeof(m.h), fds, &nfds) ||
	    m.h.size > sizeof(m.p) ||
	    !read_full(fk.backend, &m.p, m.h.size, fds, &nfds)) {
		say("backend channel closed");
		close(fk.backend);
		fk.backend = -1;
		return;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	say("backend channel: request %u answered %llu", m.h.request,
	    m.h.size == 8 ? (unsigned long long)m.p.u64 : 0ULL);
}

/* ---- the frontend's requests ---- */

static void vring_fd(struct msg *m, int *fds, int *nfds, bool kick)
{
	unsigned int q = m->p.u64 & 0xff;
	int *slot;

	if (q >= NQ) {
		say("ring %u does not exist", q);
		return;
	}
	slot = kick ? &fk.vq[q].kick : &fk.vq[q].call;
	if (*slot >= 0)
		close(*slot);
	*slot = -1;
	if (!(m->p.u64 & VRING_NOFD) && *nfds == 1) {
		*slot = fds[0];
		*nfds = 0;
	}
	ring_check_start(&fk.vq[q]);
}

static void set_vring_addr(const struct msg *m)
{
	unsigned int q = m->p.addr.index;
	struct vring *v;

	if (q >= NQ) {
		say("ring %u does not exist", q);
		return;
	}
	v = &fk.vq[q];
	/* ring addresses are the frontend's user addresses */
	v->desc = translate(m->p.addr.desc, 16ULL * v->num, false);
	v->avail = translate(m->p.addr.avail, 4 + 2ULL * v->num, false);
	v->used = translate(m->p.addr.used, 4 + 8ULL * v->num, false);
	v->addr_set = v->desc && v->avail && v->used;
	if (!v->addr_set)
		say("SET_VRING_ADDR: ring %u is outside the table", q);
	ring_check_start(v);
}

static void config_reply(const struct msg *req)
{
	struct msg m = { .h = { GET_CONFIG, VU_VERSION | F_REPLY, req->h.size } };
	uint64_t sectors = fk.disk_size / 512;
	uint16_t nq = NQ;

	if (req->h.size < 12 || req->h.size > MAX_PAYLOAD) {
		reply(req, NULL, 0);
		return;
	}
	memcpy(&m.p, &req->p, 12);
	memcpy(m.p.config.data, &sectors, 8);
	if (req->h.size >= 12 + 36)
		memcpy(m.p.config.data + 34, &nq, 2);
	switch (fk.how) {
	case MB_WRONG_REQUEST:
		m.h.request = GET_FEATURES;
		break;
	case MB_NO_REPLY_CONFIG:
		say("GET_CONFIG: not answered");
		return;
	case MB_EXTRA_FD: {
		int e = eventfd(0, EFD_CLOEXEC);

		send_msg(fk.conn, &m, sizeof(m.h) + m.h.size, e);
		close(e);
		return;
	}
	default:
		break;
	}
	send_msg(fk.conn, &m, sizeof(m.h) + m.h.size, -1);
}

/* One message from the frontend; false at EOF. */
static bool handle(void)
{
	struct msg m;
	int fds[8], nfds = 0;
	bool has_reply = true;

	if (!read_full(fk.conn, &m.h, sizeof(m.h), fds, &nfds))
		return false;
	if (m.h.size > sizeof(m.p)) {
		say("request %u: size %u is too big", m.h.request, m.h.size);
		return false;
	}
	if (!read_full(fk.conn, &m.p, m.h.size, fds, &nfds))
		return false;

	switch (m.h.request) {
	case GET_FEATURES:
		if (fk.how == MB_HUGE_SIZE) {
			struct msg r = { .h = { GET_FEATURES,
						 VU_VERSION | F_REPLY,
						 0xffff0000u } };

			send_msg(fk.conn, &r, sizeof(r.h), -1);
			break;
		}
		reply_u64(&m, F_VERSION_1 | F_PROTOCOL_FEATURES | BLK_F_FLUSH);
		break;
	case GET_PROTOCOL_FEATURES:
		reply_u64(&m, PF_MQ | PF_REPLY_ACK | PF_BACKEND_REQ | PF_CONFIG);
		break;
	case GET_QUEUE_NUM:
		if (fk.how == MB_WRONG_SIZE) {
			uint32_t four = NQ;

			reply(&m, &four, 4);
			break;
		}
		reply_u64(&m, NQ);
		break;
	case GET_CONFIG:
		config_reply(&m);
		break;
	case GET_VRING_BASE: {
		unsigned int q = m.p.state.index;

		if (q < NQ) {
			fk.vq[q].started = fk.vq[q].addr_set = false;
			m.p.state.num = fk.vq[q].last_avail;
		}
		if (fk.how == MB_NO_REPLY_BASE) {
			say("GET_VRING_BASE: not answered");
			break;
		}
		reply(&m, &m.p.state, sizeof(m.p.state));
		break;
	}
	default:
		has_reply = false;
	}

	switch (m.h.request) {
	case SET_PROTOCOL_FEATURES:
		fk.protocol = m.p.u64;
		break;
	case SET_MEM_TABLE:
		set_mem_table(&m, fds, nfds);
		break;
	case SET_BACKEND_REQ_FD:
		if (nfds == 1) {
			fk.backend = fds[0];
			nfds = 0;
		}
		break;
	case SET_VRING_NUM:
		if (m.p.state.index < NQ && m.p.state.num <= 32768)
			fk.vq[m.p.state.index].num = m.p.state.num;
		break;
	case SET_VRING_BASE:
		if (m.p.state.index < NQ)
			fk.vq[m.p.state.index].last_avail = m.p.state.num;
		break;
	case SET_VRING_ADDR:
		set_vring_addr(&m);
		break;
	case SET_VRING_KICK:
		vring_fd(&m, fds, &nfds, true);
		break;
	case SET_VRING_CALL:
		vring_fd(&m, fds, &nfds, false);
		break;
	case SET_VRING_ENABLE:
		if (m.p.state.index < NQ)
			fk.vq[m.p.state.index].enabled = m.p.state.num;
		break;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (m.h.request == SET_MEM_TABLE && fk.how == MB_NO_REPLY_MEM) {
		say("SET_MEM_TABLE: not acked");
		return true;
	}
	/* REPLY_ACK: every request without a reply of its own is acked */
	if (!has_reply && (m.h.flags & F_NEED_REPLY))
		reply_u64(&m, 0);
	return true;
}

/* ---- main ---- */

static int listen_on(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || strlen(path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, path);
	unlink(path);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(s, 1) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static void dump(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(fk.disk, 1, fk.disk_size, f) != fk.disk_size ||
	    fclose(f) != 0)
		say("--dump=%s: %s", path, strerror(errno));
}

static void usage(void)
{
	fprintf(stderr, "usage: fake-vhost-blk [--size-mib=N] [--after=N] "
		"[--resize-mib=N] [--dump=FILE] [--misbehave=CASE] SOCKET\n"
		"cases:");
	for (unsigned int i = 0; i < sizeof(mb_names) / sizeof(*mb_names); i++)
		fprintf(stderr, " %s", mb_names[i]);
	fputc('\n', stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *dump_to = NULL;
	unsigned long mib = 16, resize_mib = 0;
	int lfd;

	fk.after = 32;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--size-mib=", 11)) {
			mib = strtoul(a + 11, NULL, 0);
		} else if (!strncmp(a, "--resize-mib=", 13)) {
			resize_mib = strtoul(a + 13, NULL, 0);
			if (resize_mib == 0 || resize_mib > 1024)
				usage();
		} else if (!strncmp(a, "--after=", 8)) {
			fk.after = strtoul(a + 8, NULL, 0);
		} else if (!strncmp(a, "--dump=", 7)) {
			dump_to = a + 7;
		} else if (!strncmp(a, "--misbehave=", 12)) {
			unsigned int k;

			for (k = 0; k < sizeof(mb_names) / sizeof(*mb_names); k++)
				if (!strcmp(a + 12, mb_names[k]))
					break;
			if (k == sizeof(mb_names) / sizeof(*mb_names))
				usage();
			fk.how = k;
		} else if (a[0] != '-' && !sock) {
			sock = a;
		} else {
			usage();
		}
	}
	if (!sock || mib == 0 || mib > 1024)
		usage();
	fk.disk_size = mib << 20;
	fk.resize_to = (uint64_t)resize_mib << 20;
	fk.disk = calloc(1, fk.disk_size);
	for (unsigned int q = 0; q < NQ; q++)
		fk.vq[q].kick = fk.vq[q].call = -1;
	lfd = listen_on(sock);
	if (!fk.disk || lfd < 0) {
		say("cannot listen on %s: %s", sock, strerror(errno));
		return 1;
	}
	fk.conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (fk.conn < 0) {
		say("accept: %s", strerror(errno));
		return 1;
	}
	say("frontend connected (%s)", mb_names[fk.how]);

	for (;;) {
		struct pollfd p[2 + NQ];
		int n = 0, kick_at = 0;

		/* after close-io nothing is left to poll: wait for a signal */
		if (fk.conn >= 0)
			p[n++] = (struct pollfd){ fk.conn, POLLIN, 0 };
		if (fk.backend >= 0)
			p[n++] = (struct pollfd){ fk.backend, POLLIN, 0 };
		kick_at = n;
		for (unsigned int q = 0; q < NQ; q++)
			p[n++] = (struct pollfd){ fk.vq[q].started ?
						  fk.vq[q].kick : -1,
						  POLLIN, 0 };
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			return 1;
		}
		if (fk.conn >= 0 && p[0].revents) {
			if (!handle()) {
				say("frontend gone after %lu write requests",
				    fk.served);
				break;
			}
			/* a ring may have started with buffers waiting */
			for (unsigned int q = 0; q < NQ; q++)
				serve_ring(&fk.vq[q]);
			continue;
		}
		if (fk.backend >= 0 && p[kick_at - 1].revents)
			backend_readable();
		for (unsigned int q = 0; q < NQ; q++) {
			uint64_t c;

			if (!p[kick_at + q].revents)
				continue;
			if (read(fk.vq[q].kick, &c, sizeof(c)) < 0 &&
			    errno != EAGAIN)
				say("kick: %s", strerror(errno));
			serve_ring(&fk.vq[q]);
		}
	}
	if (dump_to)
		dump(dump_to);
	unmap_all();
	return 0;
}
