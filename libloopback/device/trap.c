// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The trap loop: each register access the kernel hands over becomes an
 * address_space_read or _write of the trap's size at the trap's address,
 * so the register block's MemoryRegionOps answer it.  Traps are read and
 * replies written LB_TRAP_BATCH at a time.
 */
#include "device-internal.h"

#include <errno.h>
#include <string.h>

/*
 * virtio-mmio registers are little-endian: a trap's value is what the
 * driver's writel() stored, so its memory image is the value in LE order.
 */
static uint64_t lb_trap_access(LoopbackDevice *dev,
			       const struct loopback_trap *t)
{
	bool is_write = t->flags & LOOPBACK_TRAP_WRITE;
	uint64_t le = is_write ? GUINT64_TO_LE(t->data) : 0;
	uint8_t buf[8] = { 0 };
	MemTxResult r;

	if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8) {
		g_warning("%s: trap %" PRIu64 " has size %u; answered with 0",
			  dev->layout.name, (uint64_t)t->id, t->size);
		return 0;
	}
	memcpy(buf, &le, sizeof(buf));
	r = address_space_rw(&dev->as, t->addr, MEMTXATTRS_UNSPECIFIED, buf,
			     t->size, is_write);
	if (r != MEMTX_OK)
		g_debug("%s: %s of %u bytes at %#" PRIx64 " failed (%#x)",
			dev->layout.name, is_write ? "write" : "read",
			t->size, (uint64_t)t->addr, r);
	if (is_write)
		return 0;
	memcpy(&le, buf, sizeof(le));
	return GUINT64_FROM_LE(le);
}

static void lb_end_broken(LoopbackDevice *dev, GError **error)
{
	const char *why = g_atomic_int_get(&dev->removing) ?
		"its removal timed out: requests the device took were never "
		"completed" :
		"the kernel gave up on it: a trap timed out, or a ring was "
		"refused or made no sense; the kernel log says which";
	GError *err = g_error_new(LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN,
				  "%s is broken (%s): free it and create the "
				  "device again", dev->layout.name, why);

	g_propagate_error(error, g_error_copy(err));
	lb_device_end(dev, LOOPBACK_DEVICE_EVENT_BROKEN, err);
}

static void lb_end_removed(LoopbackDevice *dev, GError **error)
{
	GError *err = g_error_new(LOOPBACK_ERROR, LOOPBACK_ERROR_REMOVED,
				  "%s was removed", dev->layout.name);

	g_propagate_error(error, g_error_copy(err));
	lb_device_end(dev, LOOPBACK_DEVICE_EVENT_REMOVED, err);
}

/* A system call failed: EIO means broken, anything else is ours. */
static void lb_end_errno(LoopbackDevice *dev, int err, const char *what,
			 GError **error)
{
	GError *e;

	if (err == EIO) {
		lb_end_broken(dev, error);
		return;
	}
	e = g_error_new(LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN,
			"%s: %s of the device fd failed: %s; the device is "
			"given up", dev->layout.name, what, g_strerror(err));
	g_propagate_error(error, g_error_copy(e));
	lb_device_end(dev, LOOPBACK_DEVICE_EVENT_BROKEN, e);
}

/* 0, or the errno of a write that failed. */
static int lb_write_replies(LoopbackDevice *dev, unsigned int n)
{
	const size_t rsz = sizeof(struct loopback_reply);
	unsigned int done = 0;

	while (done < n) {
		ssize_t w = dev->k->write(dev->fd, &dev->replies[done],
					  (n - done) * rsz);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == ENOENT) {
			/* the kernel gave up on that trap (timeout): skip it */
			done++;
			continue;
		}
		if (w <= 0)
			return w < 0 ? errno : EIO;
		done += (unsigned int)((size_t)w / rsz);
	}
	return 0;
}

/* One read's worth: the number of traps, or -1 with *err set (0: EOF). */
static int lb_read_traps(LoopbackDevice *dev, int *err)
{
	const size_t tsz = sizeof(struct loopback_trap);
	ssize_t n;

	do {
		n = dev->k->read(dev->fd, dev->traps, LB_TRAP_BATCH * tsz);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		*err = errno;
		return -1;
	}
	if (n == 0) {
		*err = 0;
		return -1;
	}
	if ((size_t)n % tsz) {
		*err = EPROTO;
		return -1;
	}
	return (int)((size_t)n / tsz);
}

LOOPBACK_API int loopback_device_dispatch(LoopbackDevice *dev, GError **error)
{
	int total = 0;

	g_return_val_if_fail(dev != NULL, -1);
	if (lb_device_ended(dev, error))
		return -1;
	for (;;) {
		unsigned int nrep = 0;
		int n, err = 0;

		n = lb_read_traps(dev, &err);
		if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK))
			return total;
		if (n < 0 && err == 0) {
			lb_end_removed(dev, error);
			return -1;
		}
		if (n < 0) {
			lb_end_errno(dev, err, "read", error);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			const struct loopback_trap *t = &dev->traps[i];
			uint64_t data = lb_trap_access(dev, t);

			if (t->flags & LOOPBACK_TRAP_POSTED)
				continue;
			dev->replies[nrep++] = (struct loopback_reply) {
				.id = t->id,
				.data = data,
			};
		}
		err = lb_write_replies(dev, nrep);
		if (err) {
			lb_end_errno(dev, err, "write", error);
			return -1;
		}
		total += n;
		/* a short read drained the queue: spare the EAGAIN round */
		if (n < LB_TRAP_BATCH)
			return total;
	}
}
