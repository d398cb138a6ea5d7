/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libloopback private declarations: nothing here is exported. */
#ifndef LOOPBACK_INTERNAL_H
#define LOOPBACK_INTERNAL_H

#include "config.h"

#define _LGPL_SOURCE
#include <urcu-bp.h>

#include <loopback/memory.h>

#define LOOPBACK_API __attribute__((visibility("default")))

typedef unsigned __int128 u128;

/* ---- RAM blocks (ram.c) ---- */

struct RAMBlock {
	MemoryRegion *mr;
	uint8_t *host;
	uint64_t size;
	int fd;			/* -1 when not fd-backed */
	ram_addr_t fd_offset;
	uint32_t flags;
	size_t mapped_len;	/* non-zero when we mmap()ed host */
	bool owns_fd;
	ram_addr_t offset;	/* in the global ram_addr_t space */
	RAMBlock *next;		/* global list, protected by lb_ram_lock */
};

RAMBlock *lb_ram_block_new_memfd(const char *name, uint64_t size,
				 uint32_t flags, GError **error);
RAMBlock *lb_ram_block_new_fd(uint64_t size, uint32_t flags, int fd,
			      ram_addr_t offset, bool owns_fd,
			      GError **error);
RAMBlock *lb_ram_block_new_ptr(uint64_t size, void *ptr);
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

/* ---- flat views (flatview.c) ---- */

typedef struct FlatRange {
	MemoryRegion *mr;
	hwaddr offset_in_region;
	u128 start;
	u128 size;
	uint8_t dirty_log_mask;
	bool romd_mode;
	bool readonly;
	bool nonvolatile;
	bool unmergeable;
} FlatRange;

struct FlatView {
	unsigned int refcount;	/* address spaces using it; under the lock */
	MemoryRegion *root;
	unsigned int nr;
	FlatRange *ranges;
	/* lookup index: last byte of each range, and a bucket table over it */
	uint64_t *last;
	uint32_t *bucket;	/* nbuckets + 1 entries */
	uint64_t index_base;
	unsigned int index_shift;
	uint64_t nbuckets;
};

MemoryRegion *lb_flatview_root(MemoryRegion *mr);
FlatView *lb_flatview_render(MemoryRegion *root);
void lb_flatview_ref(FlatView *fv);
/* Drops a reference; the last one frees the view after a grace period. */
void lb_flatview_unref(FlatView *fv);
/* The range holding @addr, or NULL. */
const FlatRange *lb_flatview_lookup(const FlatView *fv, hwaddr addr);
/* The index of the first range whose last byte is >= @addr (may be nr). */
unsigned int lb_flatview_lower_bound(const FlatView *fv, hwaddr addr);

/* ---- dispatch (dispatch.c, access.c) ---- */

/*
 * Translation inside one flat view: the region holding @addr (the
 * unassigned region when nothing does), the offset in it, the flat range
 * (NULL when unassigned); *plen is clamped to the range for RAM only.
 */
MemoryRegion *lb_translate(FlatView *fv, hwaddr addr, hwaddr *xlat,
			   hwaddr *plen, const FlatRange **pfr);
bool lb_access_is_direct(const MemoryRegion *mr, const FlatRange *fr,
			 bool is_write);
hwaddr lb_access_size(const MemoryRegion *mr, hwaddr l, hwaddr addr);
static inline bool lb_region_is_romd(const MemoryRegion *mr)
{
	return mr->rom_device && mr->romd_mode;
}

/* ---- RCU (rcu.c) ---- */

/* Inline read-side sections for the library's own hot paths. */
static inline void lb_rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

static inline void lb_rcu_read_unlock(void)
{
	urcu_bp_read_unlock();
}

/* Runs @fn(@data) after a grace period, on the RCU callback thread. */
void lb_call_rcu(void (*fn)(void *data), void *data);

#endif /* LOOPBACK_INTERNAL_H */
