/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libloopback private declarations: nothing here is exported. */
#ifndef LOOPBACK_INTERNAL_H
#define LOOPBACK_INTERNAL_H

#include "config.h"

#include <glib.h>

#include "../tsan.h"

/*
 * liburcu's inline read side, except under AddressSanitizer builds: liburcu
 * 0.13 places its per-thread reader records at addresses below the 128-byte
 * alignment their type declares, which UBSan reports in the inlined code.
 * The out-of-line calls are the same operations, uninstrumented.  Under
 * ThreadSanitizer too: liburcu's state then stays wholly out of its sight,
 * and the annotations at the end of this file stand in for it.
 */
#if !defined(__SANITIZE_ADDRESS__) && !defined(LB_TSAN)
#define _LGPL_SOURCE
#endif
#include <urcu-bp.h>

#include <string.h>

#include <loopback/memory.h>

#define LOOPBACK_API __attribute__((visibility("default")))

typedef unsigned __int128 u128;

/* ---- RAM blocks (ram.c) ---- */

struct RAMBlock {
	MemoryRegion *mr;
	uint8_t *host;
	/*
	 * QEMU's used_length: what accesses, dirty bits and msync may
	 * reach.  Changed by memory_region_ram_resize() under the writers'
	 * lock; read without it through lb_ram_used().
	 */
	uint64_t size;
	uint64_t max_size;	/* max_length: mapped, and bitmaps cover it */
	/* memory_region_init_resizeable_ram()'s callback, or NULL */
	void (*resized)(const char *name, uint64_t length, void *host);
	int fd;			/* -1 when not fd-backed */
	ram_addr_t fd_offset;
	uint32_t flags;
	size_t mapped_len;	/* non-zero when we mmap()ed host */
	bool owns_fd;
	ram_addr_t offset;	/* in the global ram_addr_t space */
	RAMBlock *next;		/* global list, protected by lb_ram_lock */
	RAMBlock *prev;
	/* per client, a bit per TARGET_PAGE_SIZE page; made on first use */
	unsigned long *dirty[DIRTY_MEMORY_NUM];
	unsigned int maps;	/* direct address_space_map()s; atomic */
};

RAMBlock *lb_ram_block_new_memfd(const char *name, uint64_t size,
				 uint32_t flags, GError **error);
RAMBlock *lb_ram_block_new_fd(uint64_t size, uint32_t flags, int fd,
			      ram_addr_t offset, bool owns_fd,
			      GError **error);
RAMBlock *lb_ram_block_new_ptr(uint64_t size, void *ptr);
/* A memfd of @max_size bytes, mapped whole, of which @size are used. */
RAMBlock *lb_ram_block_new_resizeable(const char *name, uint64_t size,
				      uint64_t max_size, GError **error);

/* The used length; any thread. */
static inline uint64_t lb_ram_used(const RAMBlock *rb)
{
	return __atomic_load_n(&rb->size, __ATOMIC_RELAXED);
}
void lb_ram_block_attach(RAMBlock *rb, MemoryRegion *mr);
void lb_ram_block_free(RAMBlock *rb);

/* ---- regions (region.c, region-tree.c) ---- */

/* Common part of every memory_region_init*(). */
void lb_region_init_common(MemoryRegion *mr, void *owner, const char *name,
			   uint64_t size);
/* Checks that @mr was initialised; logs a critical otherwise. */
bool lb_region_check(const MemoryRegion *mr, const char *func);
/* Finalises a region whose last reference went (region-tree.c). */
void lb_region_finalize(MemoryRegion *mr);
const char *lb_region_type(const MemoryRegion *mr);

extern MemoryRegion lb_io_mem_unassigned;

/* ---- the writers' lock and transactions (transaction.c) ---- */

/*
 * lb_memory_lock serialises every change of the region tree, of the
 * transaction state and of the address-space list.  Recursive: a
 * transaction holds it from begin to commit, and the setters take it again.
 */
void lb_memory_lock(void);
void lb_memory_unlock(void);
bool lb_memory_locked(void);

/* Marks that the flat views must be rebuilt at the outermost commit. */
void lb_memory_update_pending(void);

/* First address space, in init order; walk with as->next.  Under the lock. */
AddressSpace *lb_address_spaces(void);

/*
 * False, with a critical naming @func, when the calling thread is inside
 * listener callbacks: a change the listeners would have to hear about
 * cannot be made while they are being told about the last one.  Setters
 * call it, under the lock, before changing anything visible.
 */
bool lb_memory_change_allowed(const char *func);

/* Marks that only the ioeventfd sets must be diffed at the outermost commit. */
void lb_memory_ioeventfd_update_pending(void);

/* ---- flat views (flatview.c) ---- */

/*
 * One piece of a rendered view.  Kept small and self-contained: dispatch
 * decides RAM copies from the range alone, without touching the region.
 */
typedef struct FlatRange {
	uint64_t start;
	uint64_t last;		/* inclusive: a range may end at 2^64 */
	MemoryRegion *mr;
	hwaddr offset_in_region;
	uint8_t *host;		/* the region's RAM at offset 0, or NULL */
	uint8_t dirty_log_mask;
	bool romd_mode;
	bool readonly;
	bool nonvolatile;
	/* two bits in one byte: the range stays 48 bytes */
	bool unmergeable:1;
	bool iommu:1;		/* mr is an IOMMU: translate, never access */
	bool ram;		/* mr->ram, copied to spare a cache line */
	bool direct_read;	/* plain copies allowed: see lb_range_init() */
	bool direct_write;
} FlatRange;

static inline u128 lb_range_size(const FlatRange *fr)
{
	return (u128)fr->last - fr->start + 1;
}

struct FlatView {
	unsigned int refcount;	/* address spaces using it; under the lock */
	MemoryRegion *root;
	uint32_t nr;
	FlatRange *ranges;
	/* one reference on each region rendered, shown or hidden */
	uint32_t nrefs;
	MemoryRegion **refs;
	/*
	 * Lookup index: bucket[b] is the first range whose last byte is at or
	 * after index_base + (b << index_shift); nbuckets + 1 entries.
	 */
	uint32_t *bucket;
	uint64_t index_base;
	unsigned int index_shift;
	uint64_t nbuckets;
};

MemoryRegion *lb_flatview_root(MemoryRegion *mr);
FlatView *lb_flatview_render(MemoryRegion *root);
void lb_flatview_ref(FlatView *fv);
/* Drops a reference; the last one frees the view after a grace period. */
void lb_flatview_unref(FlatView *fv);

/* The index of the first range whose last byte is >= @addr (may be nr). */
static inline uint32_t lb_flatview_lower_bound(const FlatView *fv, hwaddr addr)
{
	uint32_t lo, hi;
	uint64_t b;

	if (addr < fv->index_base)
		return 0;
	b = (addr - fv->index_base) >> fv->index_shift;
	if (b >= fv->nbuckets) {
		lo = fv->bucket[fv->nbuckets];
		hi = fv->nr;
	} else {
		lo = fv->bucket[b];
		hi = fv->bucket[b + 1];
	}
	/* The answer is in [lo, hi]; with a good bucket table lo == hi. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (fv->ranges[mid].last < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The range holding @addr, or NULL. */
static inline const FlatRange *lb_flatview_lookup(const FlatView *fv,
						  hwaddr addr)
{
	uint32_t i;

	if (G_UNLIKELY(!fv || !fv->nr))
		return NULL;
	i = lb_flatview_lower_bound(fv, addr);
	if (i < fv->nr && fv->ranges[i].start <= addr)
		return &fv->ranges[i];
	return NULL;
}

/* ---- listeners (listener.c) ---- */

/*
 * The commit sequence, called by transaction.c with the lock held: begin
 * on every listener (or, with @only, on those that see that address
 * space), then per address space the topology diff of @old (may be NULL)
 * against @new before @new is published, and the ioeventfd diff after;
 * then commit.
 */
void lb_listeners_begin(AddressSpace *only);
void lb_listeners_topology(AddressSpace *as, FlatView *old, FlatView *new);
/* Recomputes @as's ioeventfds from its current view and tells the diff. */
void lb_listeners_ioeventfds(AddressSpace *as);
void lb_listeners_commit(AddressSpace *only);
/* True while this thread runs listener callbacks (under the lock). */
bool lb_listeners_running(void);
/* @as is going away: unregisters listeners bound to it, frees its state. */
void lb_listeners_as_destroy(AddressSpace *as);

/* The reasons for global dirty tracking (GLOBAL_DIRTY_*); under the lock. */
extern unsigned int lb_global_dirty_tracking;

/*
 * memory_region_get_dirty_log_mask(): the region's own clients, plus
 * MIGRATION for RAM (and IOMMU) regions while global tracking is on.
 * Device RAM is never migrated, so it does not get the bit.
 *
 * Cached writes and unmap ask it without the lock, while set_log and the
 * global start/stop change both words under it: relaxed atomics on both
 * sides.  That is ordering enough: a caller that learnt, through its own
 * synchronisation, that logging is on sees the new value.
 */
static inline uint8_t lb_region_dirty_log_mask(const MemoryRegion *mr)
{
	uint8_t mask = __atomic_load_n(&mr->dirty_log_mask, __ATOMIC_RELAXED);

	if (__atomic_load_n(&lb_global_dirty_tracking, __ATOMIC_RELAXED) &&
	    ((mr->ram_block && !mr->ram_device) || mr->is_iommu))
		mask |= 1 << DIRTY_MEMORY_MIGRATION;
	return mask;
}

/*
 * Whether accesses to @mr flush coalesced MMIO first.  Read without the
 * writers' lock by dispatch: relaxed atomics on both sides, because the
 * flag orders nothing else and a plain read racing with the setter is a
 * data race.
 */
static inline bool lb_region_flushes_coalesced(const MemoryRegion *mr)
{
	return __atomic_load_n(&mr->flush_coalesced_mmio, __ATOMIC_RELAXED);
}

/* ---- ioeventfds (ioeventfd.c) ---- */

/* One ioeventfd; @addr is in the region, or absolute in an AS's list. */
struct lb_ioeventfd {
	hwaddr addr;
	unsigned int size;	/* 0: any access size */
	bool match_data;
	uint64_t data;		/* in the device's byte order */
	EventNotifier *e;
};

/* A region's ioeventfds, sorted; immutable once published. */
struct lb_ioeventfd_set {
	unsigned int nr;
	struct lb_ioeventfd fd[];
};

/* The sorted ioeventfds of an address space, as listeners last heard. */
struct lb_as_ioeventfds {
	unsigned int nr;
	struct lb_ioeventfd fd[];
};

/* QEMU's order: address, size, match_data, data (if matched), notifier. */
int lb_ioeventfd_cmp(const struct lb_ioeventfd *a,
		     const struct lb_ioeventfd *b);
/*
 * Signals the first of @mr's ioeventfds that a write of @size bytes of
 * @data (already in the device's order) at @addr matches; true if one did.
 */
bool lb_ioeventfd_signal(MemoryRegion *mr, hwaddr addr, uint64_t data,
			 unsigned int size);
/* Regions with at least one ioeventfd: commits skip the scan when 0. */
extern gint lb_ioeventfd_regions;
/* Frees @mr's ioeventfd set (region finalisation). */
void lb_ioeventfd_free_all(MemoryRegion *mr);

/* ---- coalesced MMIO (coalesced.c) ---- */

/* A coalesced range, offsets in the region; the list is in add order. */
struct lb_coalesced_range {
	u128 start;
	u128 size;
	struct lb_coalesced_range *next;
};

/*
 * Tells @as's listeners about the part of @cmr (a range of fr->mr) that
 * @fr shows: coalesced_io_add forward, or coalesced_io_del in reverse.
 * listener.c.
 */
void lb_listeners_coalesced(AddressSpace *as, const FlatRange *fr,
			    const struct lb_coalesced_range *cmr, bool add);
/* Frees @mr's coalesced ranges (region finalisation). */
void lb_coalesced_free_all(MemoryRegion *mr);

/* ---- host-order loads, stores and byte swaps of 1, 2, 4, 8 bytes ---- */

/* memcpy of a constant size compiles to one load, aligned or not. */
static inline uint64_t lb_load_he(const uint8_t *p, unsigned int size)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (size) {
	case 1:
		return *p;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

static inline void lb_store_he(uint8_t *p, unsigned int size, uint64_t v)
{
	uint16_t v16 = v;
	uint32_t v32 = v;

	switch (size) {
	case 1:
		*p = v;
		break;
	case 2:
		memcpy(p, &v16, 2);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

static inline uint64_t lb_bswap(uint64_t v, unsigned int size)
{
	switch (size) {
	case 2:
		return GUINT16_SWAP_LE_BE((uint16_t)v);
	case 4:
		return GUINT32_SWAP_LE_BE((uint32_t)v);
	case 8:
		return GUINT64_SWAP_LE_BE(v);
	default:
		return v;
	}
}

/* ---- dispatch (dispatch.c, access.c) ---- */

/*
 * Translation inside one flat view: the region holding @addr (the
 * unassigned region when nothing does), the offset in it, the flat range
 * (NULL when unassigned); *plen is clamped to the range for RAM only.
 */
static inline MemoryRegion *lb_translate(const FlatView *fv, hwaddr addr,
					 hwaddr *xlat, hwaddr *plen,
					 const FlatRange **pfr)
{
	const FlatRange *fr = lb_flatview_lookup(fv, addr);

	*pfr = fr;
	if (G_UNLIKELY(!fr)) {
		*xlat = addr;
		return &lb_io_mem_unassigned;
	}
	*xlat = addr - fr->start + fr->offset_in_region;
	/* Only RAM is clamped: MMIO pieces are sized by the region's rules. */
	if (fr->ram) {
		uint64_t left = fr->last - addr;

		if (*plen && *plen - 1 > left)
			*plen = left + 1;
	}
	return fr->mr;
}

/*
 * The rest of a translation that landed on an IOMMU range (iommu.c): the
 * same outputs as lb_translate(), in the view of the last target address
 * space.  Optional: *@page_mask (the IOMMU pages' mask, ANDed over the
 * hops) and *@as (the last target).
 */
MemoryRegion *lb_translate_iommu(MemoryRegion *mr, hwaddr *xlat, hwaddr *plen,
				 const FlatRange **pfr, bool is_write,
				 MemTxAttrs attrs, hwaddr *page_mask,
				 AddressSpace **as);

static inline bool lb_access_is_direct(const FlatRange *fr, bool is_write)
{
	return fr && (is_write ? fr->direct_write : fr->direct_read);
}

/*
 * lb_translate() through any IOMMUs on the way (QEMU's flatview_translate),
 * for callers that next test lb_access_is_direct(): an IOMMU range is never
 * direct, so testing that first leaves the RAM path's branches as they were.
 */
static inline __attribute__((always_inline)) MemoryRegion *
lb_translate_attrs(const FlatView *fv, hwaddr addr, hwaddr *xlat,
		   hwaddr *plen, const FlatRange **pfr, bool is_write,
		   MemTxAttrs attrs)
{
	MemoryRegion *mr = lb_translate(fv, addr, xlat, plen, pfr);
	const FlatRange *fr = *pfr;

	if (G_UNLIKELY(!lb_access_is_direct(fr, is_write) && fr && fr->iommu))
		mr = lb_translate_iommu(mr, xlat, plen, pfr, is_write, attrs,
					NULL, NULL);
	return mr;
}

hwaddr lb_access_size(const MemoryRegion *mr, hwaddr l, hwaddr addr);
/* @v of @size bytes in order @op, turned into @mr's device order. */
uint64_t lb_adjust_endianness(const MemoryRegion *mr, uint64_t v, MemOp op);
static inline bool lb_region_is_romd(const MemoryRegion *mr)
{
	return mr->rom_device && mr->romd_mode;
}

/*
 * QEMU's memory_access_is_direct(): plain copies of RAM (not device RAM)
 * and reads of a ROM device in ROMD mode; writes need writable RAM, not a
 * ROM and not a ROM device.
 */
static inline bool lb_region_is_direct(const MemoryRegion *mr, bool is_write)
{
	if (is_write)
		return mr->ram && !mr->ram_device && !mr->readonly &&
		       !mr->rom_device;
	return (mr->ram && !mr->ram_device) || lb_region_is_romd(mr);
}

/* ---- dirty logging (dirty.c) ---- */

/*
 * Marks @len bytes at @addr of RAM region @mr dirty for the clients in
 * @mask (DIRTY_MEMORY_* bits).  Any thread; lock-free.
 */
void lb_dirty_mark(MemoryRegion *mr, hwaddr addr, hwaddr len, uint8_t mask);
/* Clears every client's bits of the first @len bytes of @rb. */
void lb_dirty_clear_all(RAMBlock *rb, uint64_t len);

/* ---- bounce buffers and map clients (map.c) ---- */

/* Called by address_space_init (after the memset) and _destroy. */
void lb_map_init(AddressSpace *as);
void lb_map_destroy(AddressSpace *as);
/*
 * The length, up to @len, of a direct access at @addr of @fv that
 * translated (IOMMUs included) to offset @xlat in @fr's region with
 * length @l: @fr's part, extended over the following pieces of the same
 * region at continuous offsets.  Inside an RCU read-side section.
 */
hwaddr lb_map_extend(const FlatView *fv, const FlatRange *fr, hwaddr addr,
		     hwaddr xlat, hwaddr l, hwaddr len, bool is_write,
		     MemTxAttrs attrs);

/* ---- RCU (rcu.c) ---- */

/*
 * ThreadSanitizer only sees code built with it.  Debian's liburcu is not,
 * so TSan misses the happens-before edges it gives and reports races that
 * cannot happen.
 * The annotations below give it exactly those edges, no more:
 *
 * - rcu_assign_pointer()/rcu_dereference() become release/acquire atomics:
 *   what the writer stored before publishing is visible to a reader that
 *   loads the new pointer.  That is the ordering liburcu provides (a write
 *   barrier before the store, a dependent load after), spelt so that TSan
 *   understands it; on x86 and arm64 the code barely changes.
 * - A grace period: every read-side section that began before call_rcu()
 *   has ended before the callback runs.  Each read unlock releases one
 *   library-wide token (lb_rcu_gp_token), and the callback acquires it
 *   before running, so all accesses of those sections happen-before the
 *   callback's frees.  The release comes before liburcu's unlock, so it is
 *   recorded before the grace period can end.  The edge is wider than the
 *   real one (it also covers sections that began after call_rcu() and
 *   ended before the callback ran), which can only hide a bug that lets a
 *   reader find a pointer already unpublished; a reader still inside its
 *   section when the object is freed is still reported.
 * - call_rcu() itself: the queue is liburcu's, so lb_call_rcu() releases
 *   the work item and the callback acquires it.
 * - GMutex and GCond: see tsan.h.
 */
#ifdef LB_TSAN
extern int lb_rcu_gp_token;

#undef rcu_dereference
#undef rcu_set_pointer
#undef rcu_assign_pointer
#undef rcu_xchg_pointer
#undef rcu_cmpxchg_pointer
#define rcu_dereference(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define rcu_set_pointer(pp, v) __atomic_store_n((pp), (v), __ATOMIC_RELEASE)
#define rcu_assign_pointer(p, v) rcu_set_pointer(&(p), (v))
#define rcu_xchg_pointer(pp, v) \
	__atomic_exchange_n((pp), (v), __ATOMIC_ACQ_REL)
#define rcu_cmpxchg_pointer(pp, old, _new) __extension__ ({		\
	__typeof__(*(pp)) lb_old_ = (old);				\
	__atomic_compare_exchange_n((pp), &lb_old_, (_new), false,	\
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE); \
	lb_old_;							\
})

#endif /* LB_TSAN */

/* Inline read-side sections for the library's own hot paths. */
static inline void lb_rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

static inline void lb_rcu_read_unlock(void)
{
#ifdef LB_TSAN
	/* before the unlock: the grace period may end right after it */
	__tsan_release(&lb_rcu_gp_token);
#endif
	urcu_bp_read_unlock();
}

/* Runs @fn(@data) after a grace period, on the RCU callback thread. */
void lb_call_rcu(void (*fn)(void *data), void *data);

#endif /* LOOPBACK_INTERNAL_H */
