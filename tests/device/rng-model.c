// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A virtio entropy device for the tests: a small virtio-mmio register
 * model as MemoryRegionOps and a split queue walked through the device's
 * AddressSpace (address_space_ld/st, address_space_write), filling each
 * buffer with a stream whose every 8-byte word says where it is.
 */
#include "config.h"

#include <glib-unix.h>
#include <string.h>

#include "rng-model.h"

#define VIRTIO_ID_ENTROPY 4

/* ---- the virtio-mmio register model (what loopback.ko traps) ---- */

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008,
	R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050, R_STATUS = 0x070,
	R_DESC_LO = 0x080, R_DESC_HI = 0x084, R_AVAIL_LO = 0x090,
	R_AVAIL_HI = 0x094, R_USED_LO = 0x0a0, R_USED_HI = 0x0a4,
};

struct RngModel {
	LoopbackDevice *dev;
	AddressSpace *as;
	bool eventfds;		/* kicks by ioeventfd, interrupts by irqfd */
	EventNotifier kick, irq;
	GSource *kick_source;

	uint32_t status, queue_sel, features_sel;
	uint64_t driver_features;
	uint32_t num;
	bool ready;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx;
	uint64_t produced;	/* stream bytes handed out; atomic reads */
	unsigned int bad;	/* ring errors seen; atomic reads */
};

static void set_lo(uint64_t *r, uint64_t v)
{
	*r = (*r & ~0xffffffffULL) | (uint32_t)v;
}

static void set_hi(uint64_t *r, uint64_t v)
{
	*r = (*r & 0xffffffffULL) | (v << 32);
}

void rng_stream_fill(uint64_t off, uint8_t *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i, word = (o & ~7ULL) ^ RNG_STREAM_KEY;

		buf[i] = (uint8_t)(word >> (8 * (o & 7)));
	}
}

/* Fills every device-writable buffer of the chain that starts at @head. */
static uint32_t fill_chain(RngModel *r, uint16_t head)
{
	MemTxAttrs a = MEMTXATTRS_UNSPECIFIED;
	uint32_t total = 0;
	uint16_t i = head;

	for (unsigned int n = 0; n < r->num; n++) {
		hwaddr d = r->desc + 16ULL * i;
		uint64_t addr = address_space_ldq_le(r->as, d, a, NULL);
		uint32_t len = address_space_ldl_le(r->as, d + 8, a, NULL);
		uint16_t flags = address_space_lduw_le(r->as, d + 12, a, NULL);
		g_autofree uint8_t *buf = g_malloc(len ? len : 1);

		if (flags & 2) {	/* VRING_DESC_F_WRITE */
			rng_stream_fill(r->produced + total, buf, len);
			if (address_space_write(r->as, addr, a, buf, len))
				g_atomic_int_inc(&r->bad);
			total += len;
		}
		if (!(flags & 1))	/* VRING_DESC_F_NEXT */
			return total;
		i = address_space_lduw_le(r->as, d + 14, a, NULL);
	}
	g_atomic_int_inc(&r->bad);
	return total;
}

static void process_queue(RngModel *r)
{
	MemTxAttrs a = MEMTXATTRS_UNSPECIFIED;
	bool any = false;

	if (!r->ready)
		return;
	for (;;) {
		uint16_t idx = address_space_lduw_le(r->as, r->avail + 2, a,
						     NULL);
		uint16_t head;
		uint32_t len;
		hwaddr e;

		if (idx == r->last_avail)
			break;
		head = address_space_lduw_le(r->as, r->avail + 4 +
					     2ULL * (r->last_avail % r->num),
					     a, NULL);
		r->last_avail++;
		len = fill_chain(r, head);
		e = r->used + 4 + 8ULL * (r->used_idx % r->num);
		address_space_stl_le(r->as, e, head, a, NULL);
		address_space_stl_le(r->as, e + 4, len, a, NULL);
		/* the element before the index that publishes it */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		address_space_stw_le(r->as, r->used + 2, ++r->used_idx, a,
				     NULL);
		__atomic_fetch_add(&r->produced, len, __ATOMIC_RELEASE);
		any = true;
	}
	if (!any)
		return;
	if (r->eventfds)
		event_notifier_set(&r->irq);
	else if (!loopback_device_interrupt(r->dev, 0, NULL))
		g_atomic_int_inc(&r->bad);
}

static gboolean on_kick(int fd, GIOCondition cond, void *data)
{
	RngModel *r = data;

	event_notifier_test_and_clear(&r->kick);
	process_queue(r);
	return G_SOURCE_CONTINUE;
}

static void queue_eventfds(RngModel *r, bool on)
{
	MemoryRegion *regs = loopback_device_get_regs(r->dev);

	if (!r->eventfds)
		return;
	/* QEMU's way: the listener hands it to the kernel */
	if (on)
		memory_region_add_eventfd(regs, R_QUEUE_NOTIFY, 4, true, 0,
					  &r->kick);
	else
		memory_region_del_eventfd(regs, R_QUEUE_NOTIFY, 4, true, 0,
					  &r->kick);
}

static void reset(RngModel *r)
{
	if (r->ready)
		queue_eventfds(r, false);
	r->status = r->queue_sel = r->features_sel = 0;
	r->driver_features = 0;
	r->num = 0;
	r->ready = false;
	r->desc = r->avail = r->used = 0;
	r->last_avail = r->used_idx = 0;
}

static uint64_t rng_read(void *opaque, hwaddr off, unsigned size)
{
	RngModel *r = opaque;

	switch (off) {
	case R_MAGIC: return 0x74726976;
	case R_VERSION: return 2;
	case R_DEVICE_ID: return VIRTIO_ID_ENTROPY;
	case R_STATUS: return r->status;
	case R_QUEUE_NUM: return r->num;
	case R_QUEUE_READY: return r->ready;
	default: return 0;
	}
}

static void rng_write(void *opaque, hwaddr off, uint64_t v, unsigned size)
{
	RngModel *r = opaque;

	switch (off) {
	case R_STATUS:
		if (v == 0)
			reset(r);
		else
			r->status = (uint32_t)v;
		break;
	case R_DRV_FEATURES_SEL: r->features_sel = (uint32_t)v; break;
	case R_DRV_FEATURES:
		if (r->features_sel < 2)
			r->driver_features |= v << (32 * r->features_sel);
		break;
	case R_QUEUE_SEL: r->queue_sel = (uint32_t)v; break;
	case R_QUEUE_NUM: r->num = (uint32_t)v; break;
	case R_DESC_LO: set_lo(&r->desc, v); break;
	case R_DESC_HI: set_hi(&r->desc, v); break;
	case R_AVAIL_LO: set_lo(&r->avail, v); break;
	case R_AVAIL_HI: set_hi(&r->avail, v); break;
	case R_USED_LO: set_lo(&r->used, v); break;
	case R_USED_HI: set_hi(&r->used, v); break;
	case R_QUEUE_READY:
		if ((v & 1) && !r->ready && r->queue_sel == 0 && r->num) {
			r->ready = true;
			queue_eventfds(r, true);
		}
		break;
	case R_QUEUE_NOTIFY:	/* a posted trap: no ioeventfd */
		process_queue(r);
		break;
	}
}

static const MemoryRegionOps rng_ops = {
	.read = rng_read,
	.write = rng_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 4, .max_access_size = 4 },
};


LoopbackDeviceConfig rng_model_config(void *opaque)
{
	return (LoopbackDeviceConfig) {
		.device_id = VIRTIO_ID_ENTROPY,
		.num_queues = 1,
		.max_queue_size = 64,
		.window_size = 256 * 1024,
		.ops = &rng_ops,
		.opaque = opaque,
	};
}

RngModel *rng_model_new(bool eventfds, GError **error)
{
	RngModel *r = g_new0(RngModel, 1);
	LoopbackDeviceConfig c = rng_model_config(r);

	r->eventfds = eventfds;
	r->dev = loopback_device_new(&c, error);
	if (!r->dev) {
		g_free(r);
		return NULL;
	}
	r->as = loopback_device_get_address_space(r->dev);
	if (!eventfds)
		return r;
	if (event_notifier_init(&r->kick, 0) < 0 ||
	    event_notifier_init(&r->irq, 0) < 0 ||
	    !loopback_device_set_irqfd(r->dev, 0, &r->irq, error)) {
		rng_model_free(r);
		return NULL;
	}
	return r;
}

LoopbackDevice *rng_model_device(RngModel *r)
{
	return r->dev;
}

void rng_model_attach(RngModel *r, GMainContext *ctx)
{
	if (r->eventfds) {
		r->kick_source = g_unix_fd_source_new(
			event_notifier_get_fd(&r->kick), G_IO_IN);
		g_source_set_callback(r->kick_source, G_SOURCE_FUNC(on_kick),
				      r, NULL);
		g_source_attach(r->kick_source, ctx);
	}
	loopback_device_attach(r->dev, ctx);
}

void rng_model_free(RngModel *r)
{
	if (!r)
		return;
	/* the model's eventfd goes before the device */
	if (r->dev && r->ready)
		queue_eventfds(r, false);
	loopback_device_free(r->dev);
	if (r->kick_source) {
		g_source_destroy(r->kick_source);
		g_source_unref(r->kick_source);
	}
	if (r->eventfds) {
		/* a dispatcher may still signal them until a grace period */
		loopback_memory_drain();
		event_notifier_cleanup(&r->kick);
		event_notifier_cleanup(&r->irq);
	}
	g_free(r);
}

uint64_t rng_model_produced(RngModel *r)
{
	return __atomic_load_n(&r->produced, __ATOMIC_ACQUIRE);
}

unsigned int rng_model_errors(RngModel *r)
{
	return (unsigned int)g_atomic_int_get(&r->bad);
}
