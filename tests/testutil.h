/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the memory API tests: a recording device, flat-view
 * snapshots, mtree capture and region lifetime tracking.
 */
#ifndef LOOPBACK_TESTUTIL_H
#define LOOPBACK_TESTUTIL_H

#include <loopback/memory.h>

/* the tests' GMutex/GCond, visible to ThreadSanitizer like the library's */
#include "../libloopback/tsan.h"

typedef unsigned __int128 lbt_u128;

#define LBT_2_64 ((lbt_u128)1 << 64)

/* ---- a device that records every callback ---- */

typedef struct LbtDev LbtDev;

struct LbtDev {
	/* one line per callback: "r ADDR SIZE VALUE" or "w ADDR SIZE VALUE" */
	GString *trace;
	/* what a read of @size bytes at @addr returns (default: lbt_dev_value) */
	uint64_t (*value)(LbtDev *dev, hwaddr addr, unsigned size);
	/* returned by the *_with_attrs callbacks */
	MemTxResult result;
	/* when set, valid.accepts answers with this */
	bool (*accepts)(LbtDev *dev, hwaddr addr, unsigned size, bool is_write);
	GString *accepts_trace;	/* "a ADDR SIZE IS_WRITE" per accepts call */
	/* called from inside every read/write callback (re-entrancy probes) */
	void (*hook)(LbtDev *dev, hwaddr addr, unsigned size, bool is_write);
	void *data;
	unsigned int calls;
};

void lbt_dev_init(LbtDev *dev);
void lbt_dev_destroy(LbtDev *dev);
/* Forgets the recorded calls. */
void lbt_dev_reset(LbtDev *dev);
/*
 * The default read value: a fixed mix of addr and size in all 8 bytes, also
 * above @size (the library must mask those).
 */
uint64_t lbt_dev_value(LbtDev *dev, hwaddr addr, unsigned size);
/* Appends one trace line in the recording device's format. */
void lbt_trace_add(GString *trace, char kind, hwaddr addr, unsigned size,
		   uint64_t value);

/*
 * Fills @ops with the recording callbacks (the plain pair, or the
 * *_with_attrs pair), @end, and a valid.accepts that records the call and
 * asks dev->accepts; the sizes in valid/impl are left zero for the caller.
 */
void lbt_ops_init(MemoryRegionOps *ops, bool with_attrs,
		  enum device_endian end);

/* ---- flat views ---- */

typedef struct LbtRange {
	lbt_u128 start;
	lbt_u128 len;
	const MemoryRegion *mr;
	hwaddr offset;
} LbtRange;

/* The ranges of @as's current flat view, read with flatview_for_each_range. */
GArray *lbt_flat_ranges(AddressSpace *as);
/*
 * The flat view in the semantics page's notation, hex without 0x:
 * "name[start,end)@offset name[...)..." ("" for an empty view).  With
 * @root, each range is looked up with memory_region_find(root, start, 1)
 * and gets ":ro" / ":nv" when the section says readonly / nonvolatile.
 */
char *lbt_flat_string(AddressSpace *as, MemoryRegion *root);
/* Checks the flat view of @as against @expected (see lbt_flat_string). */
#define lbt_assert_flat(as, root, expected) do {			\
	char *lbt_s_ = lbt_flat_string((as), (root));			\
	g_assert_cmpstr(lbt_s_, ==, (expected));			\
	g_free(lbt_s_);							\
} while (0)

/* Formats @v in hex into @buf (at least 40 bytes); returns @buf. */
char *lbt_u128_hex(lbt_u128 v, char *buf);

/* loopback_mtree_print() into a string. */
char *lbt_mtree_string(bool flatview, bool disabled);
/* Everything printable about the map: tree with disabled regions, flat views. */
char *lbt_map_snapshot(void);

/* ---- region storage and lifetime ---- */

/*
 * A zeroed region on the heap.  Call lbt_track() after its init so that it
 * is freed by its free notify; lbt_live() counts tracked regions that have
 * not been finalised yet.
 */
MemoryRegion *lbt_region_alloc(void);
void lbt_track(MemoryRegion *mr);
unsigned int lbt_live(void);

/* Counts the calls of a free notify: pass &counter as data. */
void lbt_count_notify(void *data);

/* A heap address space, named @name, on @root. */
AddressSpace *lbt_as_new(MemoryRegion *root, const char *name);
/*
 * Destroys @as; its storage is released by lbt_drain(), after the grace
 * periods that may still refer to it.
 */
void lbt_as_free(AddressSpace *as);
/* loopback_memory_drain(), then frees the address spaces of lbt_as_free(). */
void lbt_drain(void);

/* A pointer-backed RAM region (never touched by the tests) of any size. */
void lbt_init_fake_ram(MemoryRegion *mr, const char *name, uint64_t size);

/*
 * A test fixture: a root container in an address space, a recording device
 * for its io regions, and the caller references of every region made with
 * the lbt_new_*() helpers (tracked, dropped by lbt_world_free()).
 */
typedef struct LbtWorld {
	MemoryRegion *root;
	AddressSpace *as;
	LbtDev dev;
	MemoryRegionOps ops;	/* little-endian recording ops on dev */
	GPtrArray *regions;
} LbtWorld;

/* @root_size: UINT64_MAX for the whole space. */
LbtWorld *lbt_world_new(uint64_t root_size);
/* Drops every reference and the address space, then drains. */
void lbt_world_free(LbtWorld *w);
MemoryRegion *lbt_new_container(LbtWorld *w, const char *name, uint64_t size);
MemoryRegion *lbt_new_io(LbtWorld *w, const char *name, uint64_t size);
MemoryRegion *lbt_new_ram(LbtWorld *w, const char *name, uint64_t size);
MemoryRegion *lbt_new_rom(LbtWorld *w, const char *name, uint64_t size);
MemoryRegion *lbt_new_alias(LbtWorld *w, const char *name, MemoryRegion *orig,
			    hwaddr offset, uint64_t size);
/* Takes over the caller reference of @mr (tracked) for lbt_world_free(). */
MemoryRegion *lbt_world_keep(LbtWorld *w, MemoryRegion *mr);
/* Checks w's flat view, with the :ro/:nv flags, against @expected. */
#define lbt_world_assert(w, expected) \
	lbt_assert_flat((w)->as, (w)->root, (expected))

#endif /* LOOPBACK_TESTUTIL_H */
