// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dirty logging: per RAM block and client, one bit per TARGET_PAGE_SIZE
 * page.  Writers on any thread set bits with an atomic OR that follows
 * their data store; readers take bits with an atomic exchange before they
 * look at the data.  Both are sequentially consistent read-modify-writes,
 * so a page written during a test-and-clear is either reported by it with
 * its new contents visible, or still marked for the next one.
 */
#include "internal.h"

#include <string.h>

#define LB_WORD_BITS (sizeof(unsigned long) * 8)

struct DirtyBitmapSnapshot {
	const RAMBlock *rb;	/* identity only: never dereferenced */
	uint64_t first;		/* first page covered */
	uint64_t npages;
	unsigned long bits[];
};

/* Bitmaps cover the whole reservation: a resize never reallocates them. */
static uint64_t lb_block_pages(const RAMBlock *rb)
{
	return (rb->max_size >> TARGET_PAGE_BITS) +
	       !!(rb->max_size & ~TARGET_PAGE_MASK);
}

static size_t lb_words(uint64_t pages)
{
	return (pages + LB_WORD_BITS - 1) / LB_WORD_BITS;
}

/* The bitmap of @client, created on first use when @create. */
static unsigned long *lb_bitmap(RAMBlock *rb, unsigned int client,
				bool create)
{
	unsigned long *bm = __atomic_load_n(&rb->dirty[client],
					    __ATOMIC_ACQUIRE);
	unsigned long *fresh;
	size_t words;

	if (G_LIKELY(bm) || !create)
		return bm;
	words = lb_words(lb_block_pages(rb));
	fresh = g_try_new0(unsigned long, words ? words : 1);
	if (!fresh) {
		g_critical("dirty logging: no memory for a %zu-word "
			   "bitmap of %s", words,
			   rb->mr ? rb->mr->name : "RAM");
		return NULL;
	}
	/* First writers may race: one bitmap is published, the others go. */
	if (__atomic_compare_exchange_n(&rb->dirty[client], &bm, fresh, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return fresh;
	g_free(fresh);
	return bm;
}

/* The bits of word @w that fall in pages [@first, @last]. */
static unsigned long lb_word_mask(uint64_t w, uint64_t first, uint64_t last)
{
	uint64_t lo = w * LB_WORD_BITS, hi = lo + LB_WORD_BITS - 1;
	unsigned long m = ~0UL;

	if (first > lo)
		m &= ~0UL << (first - lo);
	if (last < hi)
		m &= ~0UL >> (hi - last);
	return m;
}

static void lb_set_pages(unsigned long *bm, uint64_t first, uint64_t last)
{
	for (uint64_t w = first / LB_WORD_BITS; w <= last / LB_WORD_BITS; w++)
		__atomic_fetch_or(&bm[w], lb_word_mask(w, first, last),
				  __ATOMIC_SEQ_CST);
}

/* Clears pages [@first, @last]; calls @take(@data, page) for each set one. */
static bool lb_take_pages(unsigned long *bm, uint64_t first, uint64_t last,
			  void (*take)(void *data, uint64_t page), void *data)
{
	bool any = false;

	for (uint64_t w = first / LB_WORD_BITS; w <= last / LB_WORD_BITS; w++) {
		unsigned long m = lb_word_mask(w, first, last), old;

		if (!(__atomic_load_n(&bm[w], __ATOMIC_RELAXED) & m))
			continue;
		if (m == ~0UL)
			old = __atomic_exchange_n(&bm[w], 0, __ATOMIC_SEQ_CST);
		else
			old = __atomic_fetch_and(&bm[w], ~m,
						 __ATOMIC_SEQ_CST) & m;
		any |= old != 0;
		while (take && old) {
			take(data, w * LB_WORD_BITS + __builtin_ctzl(old));
			old &= old - 1;
		}
	}
	return any;
}

static bool lb_test_pages(const unsigned long *bm, uint64_t first,
			  uint64_t last)
{
	for (uint64_t w = first / LB_WORD_BITS; w <= last / LB_WORD_BITS; w++)
		if (__atomic_load_n(&bm[w], __ATOMIC_ACQUIRE) &
		    lb_word_mask(w, first, last))
			return true;
	return false;
}

void lb_dirty_mark(MemoryRegion *mr, hwaddr addr, hwaddr len, uint8_t mask)
{
	RAMBlock *rb = mr->ram_block;
	uint64_t first, last, used;

	/* Callers wrote inside the block; stay inside the bitmap regardless. */
	if (!rb || !len)
		return;
	used = lb_ram_used(rb);
	if (addr >= used)
		return;
	if (len > used - addr)
		len = used - addr;
	first = addr >> TARGET_PAGE_BITS;
	last = (addr + len - 1) >> TARGET_PAGE_BITS;
	for (unsigned int c = 0; c < DIRTY_MEMORY_NUM; c++) {
		unsigned long *bm;

		if (!(mask & (1u << c)))
			continue;
		bm = lb_bitmap(rb, c, true);
		if (bm)
			lb_set_pages(bm, first, last);
	}
}

/* The RAM block of @mr when [@addr, @addr + @size) lies inside it. */
static RAMBlock *lb_dirty_range(MemoryRegion *mr, hwaddr addr, hwaddr size,
				const char *func)
{
	RAMBlock *rb;
	uint64_t used;

	if (!lb_region_check(mr, func))
		return NULL;
	rb = mr->ram_block;
	if (!rb) {
		g_critical("%s: %s is not a RAM region%s", func, mr->name,
			   mr->alias ? " (an alias: pass its target)" : "");
		return NULL;
	}
	used = lb_ram_used(rb);
	if (addr > used || size > used - addr) {
		g_critical("%s: range %#" PRIx64 "+%#" PRIx64
			   " is outside %s (size %#" PRIx64 ")", func, addr,
			   size, mr->name, used);
		return NULL;
	}
	return rb;
}

static bool lb_client_ok(unsigned int client, const char *func)
{
	if (client >= DIRTY_MEMORY_NUM) {
		g_critical("%s: no dirty memory client %u", func, client);
		return false;
	}
	return true;
}

LOOPBACK_API void memory_region_set_log(MemoryRegion *mr, bool log,
					unsigned client)
{
	uint8_t bit = 1u << DIRTY_MEMORY_VGA;
	uint8_t old;

	if (!lb_region_check(mr, __func__))
		return;
	if (client != DIRTY_MEMORY_VGA) {
		g_critical("%s: %s: only DIRTY_MEMORY_VGA can be set per "
			   "region, not client %u", __func__, mr->name,
			   client);
		return;
	}
	if (mr->alias) {
		/* Ranges carry their target's mask: this would do nothing. */
		g_critical("%s: %s is an alias: log its target", __func__,
			   mr->name);
		return;
	}
	memory_region_transaction_begin();
	old = mr->vga_logging_count;
	if (!log && !old) {
		g_critical("%s: %s: logging stopped more often than started",
			   __func__, mr->name);
	} else if (log && old == UINT8_MAX) {
		g_critical("%s: %s: logging started %u times", __func__,
			   mr->name, UINT8_MAX);
	} else if (!mr->enabled || lb_memory_change_allowed(__func__)) {
		mr->vga_logging_count += log ? 1 : -1;
		/* Calls nest: only the first start and last stop count. */
		if (!old != !mr->vga_logging_count) {
			/* read without the lock: lb_region_dirty_log_mask */
			__atomic_store_n(&mr->dirty_log_mask,
					 (mr->dirty_log_mask & ~bit) |
					 (log ? bit : 0), __ATOMIC_RELAXED);
			if (mr->ram_block)
				lb_bitmap(mr->ram_block, DIRTY_MEMORY_VGA,
					  true);
			if (mr->enabled)
				lb_memory_update_pending();
		}
	}
	memory_region_transaction_commit();
}

LOOPBACK_API bool memory_region_get_dirty(MemoryRegion *mr, hwaddr addr,
					  hwaddr size, unsigned client)
{
	RAMBlock *rb = lb_dirty_range(mr, addr, size, __func__);
	unsigned long *bm;

	if (!rb || !lb_client_ok(client, __func__) || !size)
		return false;
	bm = lb_bitmap(rb, client, false);
	return bm && lb_test_pages(bm, addr >> TARGET_PAGE_BITS,
				   (addr + size - 1) >> TARGET_PAGE_BITS);
}

LOOPBACK_API void memory_region_set_dirty(MemoryRegion *mr, hwaddr addr,
					  hwaddr size)
{
	if (!lb_dirty_range(mr, addr, size, __func__))
		return;
	lb_dirty_mark(mr, addr, size, memory_region_get_dirty_log_mask(mr));
}

LOOPBACK_API bool memory_region_test_and_clear_dirty(MemoryRegion *mr,
						     hwaddr addr, hwaddr size,
						     unsigned client)
{
	RAMBlock *rb = lb_dirty_range(mr, addr, size, __func__);
	unsigned long *bm;

	if (!rb || !lb_client_ok(client, __func__) || !size)
		return false;
	bm = lb_bitmap(rb, client, false);
	return bm && lb_take_pages(bm, addr >> TARGET_PAGE_BITS,
				   (addr + size - 1) >> TARGET_PAGE_BITS,
				   NULL, NULL);
}

LOOPBACK_API void memory_region_reset_dirty(MemoryRegion *mr, hwaddr addr,
					    hwaddr size, unsigned client)
{
	memory_region_test_and_clear_dirty(mr, addr, size, client);
}

static void lb_snapshot_take(void *data, uint64_t page)
{
	DirtyBitmapSnapshot *snap = data;
	uint64_t i = page - snap->first;

	snap->bits[i / LB_WORD_BITS] |= 1UL << (i % LB_WORD_BITS);
}

LOOPBACK_API DirtyBitmapSnapshot *
memory_region_snapshot_and_clear_dirty(MemoryRegion *mr, hwaddr addr,
				       hwaddr size, unsigned client)
{
	RAMBlock *rb = lb_dirty_range(mr, addr, size, __func__);
	DirtyBitmapSnapshot *snap;
	unsigned long *bm;
	uint64_t first, last;

	if (!rb || !lb_client_ok(client, __func__))
		return NULL;
	if (!size) {
		g_critical("%s: %s: empty range", __func__, mr->name);
		return NULL;
	}
	first = addr >> TARGET_PAGE_BITS;
	last = (addr + size - 1) >> TARGET_PAGE_BITS;
	/* QEMU: pull what accelerators and backends logged, then take it. */
	memory_region_sync_dirty_bitmap(mr, false);
	snap = g_malloc0(sizeof(*snap) +
			 lb_words(last - first + 1) * sizeof(unsigned long));
	snap->rb = rb;
	snap->first = first;
	snap->npages = last - first + 1;
	bm = lb_bitmap(rb, client, false);
	if (bm)
		lb_take_pages(bm, first, last, lb_snapshot_take, snap);
	memory_global_after_dirty_log_sync();
	return snap;
}

LOOPBACK_API bool memory_region_snapshot_get_dirty(MemoryRegion *mr,
						   DirtyBitmapSnapshot *snap,
						   hwaddr addr, hwaddr size)
{
	RAMBlock *rb = lb_dirty_range(mr, addr, size, __func__);
	uint64_t first, last;

	if (!rb)
		return false;
	if (!snap) {
		g_critical("%s: NULL snapshot", __func__);
		return false;
	}
	if (!size)
		return false;
	first = addr >> TARGET_PAGE_BITS;
	last = (addr + size - 1) >> TARGET_PAGE_BITS;
	if (snap->rb != rb || first < snap->first ||
	    last - snap->first >= snap->npages) {
		g_critical("%s: %s+%#" PRIx64 "+%#" PRIx64
			   " is outside the snapshot", __func__, mr->name, addr,
			   size);
		return false;
	}
	return lb_test_pages(snap->bits, first - snap->first,
			     last - snap->first);
}

LOOPBACK_API void loopback_dirty_bitmap_snapshot_free(DirtyBitmapSnapshot *snap)
{
	g_free(snap);
}

void lb_dirty_clear_all(RAMBlock *rb, uint64_t len)
{
	if (!len)
		return;
	for (unsigned int c = 0; c < DIRTY_MEMORY_NUM; c++) {
		unsigned long *bm = lb_bitmap(rb, c, false);

		if (bm)
			lb_take_pages(bm, 0, (len - 1) >> TARGET_PAGE_BITS,
				      NULL, NULL);
	}
}

LOOPBACK_API void memory_region_flush_rom_device(MemoryRegion *mr,
						 hwaddr addr, hwaddr size)
{
	if (!lb_region_check(mr, __func__))
		return;
	/* QEMU asserts: only a ROM device writes its RAM behind our back */
	if (!lb_region_is_romd(mr)) {
		g_critical("%s: %s is not a ROM device in ROMD mode", __func__,
			   mr->name);
		return;
	}
	if (!lb_dirty_range(mr, addr, size, __func__))
		return;
	lb_dirty_mark(mr, addr, size, lb_region_dirty_log_mask(mr));
}
