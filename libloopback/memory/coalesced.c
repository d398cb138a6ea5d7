// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Coalesced MMIO: ranges of a region whose writes an accelerator may
 * buffer, and the flush that plays the buffer back.  libloopback has no
 * accelerator; it keeps the ranges, tells the listeners about them where
 * QEMU does, and calls the flush handler the program installed.
 */
#include "internal.h"

struct lb_flush_handler {
	void (*flush)(void *opaque);
	void *opaque;
};

/* RCU-published, so that dispatch threads read it without the lock. */
static struct lb_flush_handler *lb_flush;
/* A flush plays writes back through dispatch: don't flush from inside one. */
static __thread bool lb_flushing;

LOOPBACK_API void qemu_flush_coalesced_mmio_buffer(void)
{
	const struct lb_flush_handler *h;

	if (G_LIKELY(!__atomic_load_n(&lb_flush, __ATOMIC_RELAXED)) ||
	    lb_flushing)
		return;
	lb_flushing = true;
	lb_rcu_read_lock();
	h = rcu_dereference(lb_flush);
	if (h)
		h->flush(h->opaque);
	lb_rcu_read_unlock();
	lb_flushing = false;
}

static void lb_flush_handler_free(void *data)
{
	g_free(data);
}

LOOPBACK_API void loopback_set_coalesced_mmio_flush(void (*flush)(void *opaque),
						   void *opaque)
{
	struct lb_flush_handler *h = NULL, *old;

	if (flush) {
		h = g_new(struct lb_flush_handler, 1);
		h->flush = flush;
		h->opaque = opaque;
	}
	lb_memory_lock();
	old = lb_flush;
	rcu_assign_pointer(lb_flush, h);
	lb_memory_unlock();
	if (old)
		lb_call_rcu(lb_flush_handler_free, old);
}

/*
 * QEMU's memory_region_update_coalesced_range(): every address space, every
 * flat range of @mr, the part of @cmr it shows.
 */
static void lb_coalesced_update(MemoryRegion *mr,
				const struct lb_coalesced_range *cmr, bool add)
{
	for (AddressSpace *as = lb_address_spaces(); as; as = as->next) {
		const FlatView *fv = as->current_map;

		for (uint32_t i = 0; fv && i < fv->nr; i++)
			if (fv->ranges[i].mr == mr)
				lb_listeners_coalesced(as, &fv->ranges[i], cmr,
						       add);
	}
}

static bool lb_coalesced_check(MemoryRegion *mr, const char *func)
{
	if (!lb_region_check(mr, func))
		return false;
	return lb_memory_change_allowed(func);
}

static void lb_coalesced_add(MemoryRegion *mr, u128 offset, u128 size)
{
	struct lb_coalesced_range *cmr, **pp;

	cmr = g_new0(struct lb_coalesced_range, 1);
	cmr->start = offset;
	cmr->size = size;
	for (pp = &mr->coalesced; *pp; pp = &(*pp)->next)
		;
	*pp = cmr;
	lb_coalesced_update(mr, cmr, true);
	__atomic_store_n(&mr->flush_coalesced_mmio, true, __ATOMIC_RELAXED);
}

static void lb_coalesced_clear(MemoryRegion *mr)
{
	if (!mr->coalesced)
		return;
	qemu_flush_coalesced_mmio_buffer();
	__atomic_store_n(&mr->flush_coalesced_mmio, false, __ATOMIC_RELAXED);
	while (mr->coalesced) {
		struct lb_coalesced_range *cmr = mr->coalesced;

		mr->coalesced = cmr->next;
		lb_coalesced_update(mr, cmr, false);
		g_free(cmr);
	}
}

LOOPBACK_API void memory_region_set_coalescing(MemoryRegion *mr)
{
	lb_memory_lock();
	if (lb_coalesced_check(mr, __func__)) {
		lb_coalesced_clear(mr);
		lb_coalesced_add(mr, 0, (u128)mr->size);
	}
	lb_memory_unlock();
}

LOOPBACK_API void memory_region_add_coalescing(MemoryRegion *mr,
					       hwaddr offset, uint64_t size)
{
	lb_memory_lock();
	if (lb_coalesced_check(mr, __func__)) {
		if (!size || (u128)offset + size > (u128)mr->size)
			g_critical("%s: %s: [0x%" HWADDR_PRIx ", +0x%" PRIx64
				   ") is empty or runs past the region's end",
				   __func__, mr->name, offset, size);
		else
			lb_coalesced_add(mr, offset, size);
	}
	lb_memory_unlock();
}

LOOPBACK_API void memory_region_clear_coalescing(MemoryRegion *mr)
{
	lb_memory_lock();
	if (lb_coalesced_check(mr, __func__))
		lb_coalesced_clear(mr);
	lb_memory_unlock();
}

LOOPBACK_API void memory_region_set_flush_coalesced(MemoryRegion *mr)
{
	if (!lb_region_check(mr, __func__))
		return;
	__atomic_store_n(&mr->flush_coalesced_mmio, true, __ATOMIC_RELAXED);
}

LOOPBACK_API void memory_region_clear_flush_coalesced(MemoryRegion *mr)
{
	if (!lb_region_check(mr, __func__))
		return;
	qemu_flush_coalesced_mmio_buffer();
	lb_memory_lock();
	/* coalesced ranges need the flush: it stays until they go */
	if (!mr->coalesced)
		__atomic_store_n(&mr->flush_coalesced_mmio, false, __ATOMIC_RELAXED);
	lb_memory_unlock();
}

void lb_coalesced_free_all(MemoryRegion *mr)
{
	while (mr->coalesced) {
		struct lb_coalesced_range *cmr = mr->coalesced;

		mr->coalesced = cmr->next;
		g_free(cmr);
	}
}
