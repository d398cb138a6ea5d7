/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libloopback memory API.
 *
 * The names, signatures and semantics follow QEMU's memory API
 * (include/exec/memory.h) so that device models written for QEMU port with
 * little change.  Differences: an owner is a plain `void *`, errors are
 * reported through `GError **`, and a few additions carry the `loopback_`
 * prefix.  Documentation/memory-api.md lists every difference.
 *
 * Threads: functions that change the map (init, add/del subregion, the
 * setters, transactions, address_space_init/destroy) are serialised by one
 * internal recursive lock; a transaction holds it from begin to commit.
 * Dispatch (translate, read, write, ld/st) never takes that lock and may run
 * on any thread while the map changes; memory_region_find() and the
 * printing functions take it.
 */
#ifndef LOOPBACK_MEMORY_H
#define LOOPBACK_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <glib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Basic types                                                         */
/* ------------------------------------------------------------------ */

typedef uint64_t hwaddr;
#define HWADDR_MAX UINT64_MAX
#define HWADDR_PRIx PRIx64

typedef uint64_t ram_addr_t;

/*
 * 128-bit arithmetic for sizes: a region may be 2^64 bytes long.  QEMU
 * code uses the int128_*() helpers below; they are plain __int128 here.
 */
typedef __int128 Int128;

static inline Int128 int128_make64(uint64_t a) { return (Int128)a; }
static inline Int128 int128_2_64(void) { return (Int128)1 << 64; }
static inline Int128 int128_zero(void) { return 0; }
static inline Int128 int128_one(void) { return 1; }
static inline uint64_t int128_get64(Int128 a) { return (uint64_t)a; }
static inline Int128 int128_add(Int128 a, Int128 b) { return a + b; }
static inline Int128 int128_sub(Int128 a, Int128 b) { return a - b; }
static inline bool int128_eq(Int128 a, Int128 b) { return a == b; }
static inline bool int128_lt(Int128 a, Int128 b) { return a < b; }
static inline bool int128_le(Int128 a, Int128 b) { return a <= b; }
static inline bool int128_gt(Int128 a, Int128 b) { return a > b; }
static inline bool int128_ge(Int128 a, Int128 b) { return a >= b; }
static inline bool int128_nz(Int128 a) { return a != 0; }
static inline Int128 int128_min(Int128 a, Int128 b) { return a < b ? a : b; }
static inline Int128 int128_max(Int128 a, Int128 b) { return a > b ? a : b; }

/* Attributes of a memory transaction. */
typedef struct MemTxAttrs {
	unsigned int unspecified:1;	/* no attributes were given */
	unsigned int secure:1;
	unsigned int space:2;
	unsigned int user:1;
	unsigned int memory:1;		/* a memory access, not an io one */
	unsigned int requester_id:16;
} MemTxAttrs;

#define MEMTXATTRS_UNSPECIFIED ((MemTxAttrs) { .unspecified = 1 })

/* Result of a transaction: a bit mask, OR-ed over the pieces of a split access. */
typedef uint32_t MemTxResult;
#define MEMTX_OK		0
#define MEMTX_ERROR		(1U << 0) /* the device reported an error */
#define MEMTX_DECODE_ERROR	(1U << 1) /* nothing there, or an invalid access */
#define MEMTX_ACCESS_ERROR	(1U << 2) /* refused: re-entrant access */

enum device_endian {
	DEVICE_NATIVE_ENDIAN,	/* the host's byte order */
	DEVICE_BIG_ENDIAN,
	DEVICE_LITTLE_ENDIAN,
};

/*
 * MemOp: size and byte order of one access, for
 * memory_region_dispatch_read/write.  "Target" order is the host's here.
 */
typedef enum MemOp {
	MO_8 = 0,
	MO_16 = 1,
	MO_32 = 2,
	MO_64 = 3,
	MO_SIZE = 3,
	MO_BSWAP = 8,
#if G_BYTE_ORDER == G_BIG_ENDIAN
	MO_LE = MO_BSWAP,
	MO_BE = 0,
#else
	MO_LE = 0,
	MO_BE = MO_BSWAP,
#endif
	MO_TE = 0,
	MO_LEUW = MO_LE | MO_16,
	MO_LEUL = MO_LE | MO_32,
	MO_LEUQ = MO_LE | MO_64,
	MO_BEUW = MO_BE | MO_16,
	MO_BEUL = MO_BE | MO_32,
	MO_BEUQ = MO_BE | MO_64,
} MemOp;

static inline unsigned memop_size(MemOp op)
{
	return 1u << (op & MO_SIZE);
}

/* The MemOp for an access of @size bytes (1, 2, 4 or 8) in host order. */
static inline MemOp size_memop(unsigned size)
{
	return (MemOp)(size == 8 ? MO_64 : size == 4 ? MO_32 :
		       size == 2 ? MO_16 : MO_8);
}

typedef struct MemoryRegion MemoryRegion;
typedef struct MemoryRegionOps MemoryRegionOps;
typedef struct MemoryRegionSection MemoryRegionSection;
typedef struct AddressSpace AddressSpace;
typedef struct FlatView FlatView;
typedef struct RAMBlock RAMBlock;

/*
 * Callbacks of an io region.  See Documentation/memory-api.md for the exact
 * rules: valid.* decide whether an access is accepted at all (an invalid one
 * never reaches the callbacks), impl.* describe what the callbacks can do
 * (larger accesses are split, smaller ones widened).
 */
struct MemoryRegionOps {
	uint64_t (*read)(void *opaque, hwaddr addr, unsigned size);
	void (*write)(void *opaque, hwaddr addr, uint64_t data, unsigned size);
	MemTxResult (*read_with_attrs)(void *opaque, hwaddr addr,
				       uint64_t *data, unsigned size,
				       MemTxAttrs attrs);
	MemTxResult (*write_with_attrs)(void *opaque, hwaddr addr,
					uint64_t data, unsigned size,
					MemTxAttrs attrs);
	enum device_endian endianness;
	struct {
		unsigned min_access_size;	/* 0: 1 */
		unsigned max_access_size;	/* 0: 4, and sizes unchecked */
		bool unaligned;
		bool (*accepts)(void *opaque, hwaddr addr, unsigned size,
				bool is_write, MemTxAttrs attrs);
	} valid;
	struct {
		unsigned min_access_size;	/* 0: 1 */
		unsigned max_access_size;	/* 0: 4 */
		bool unaligned;
	} impl;
};

/* ram_flags of memory_region_init_ram_from_fd/_from_file. */
#define RAM_PREALLOC	(1 << 0)
#define RAM_SHARED	(1 << 1)
#define RAM_RESIZEABLE	(1 << 2)
#define RAM_NORESERVE	(1 << 7)
#define RAM_READONLY	(1 << 9)	/* map the fd/file read-only */

/*
 * A memory region.  The caller provides the storage (usually embedded in its
 * device state) and initialises it with one of the memory_region_init*()
 * functions.  All fields are private: use the accessors.
 *
 * Lifetime: init gives the caller one reference.  A container holds one on
 * each subregion, an alias one on its target, and every flat view one on
 * each region it rendered (dropped after the RCU grace period that follows the
 * commit which replaced it).  When the count drops to zero the region is
 * finalised (subregions detached, name and RAM released) and then the
 * destroy notify set with loopback_memory_region_set_free_notify() runs;
 * only after that may the caller free or reuse the storage.
 * loopback_memory_drain() waits for pending grace periods.
 */
struct MemoryRegion {
	/* private: */
	const MemoryRegionOps *ops;
	void *opaque;
	void *owner;
	char *name;
	MemoryRegion *container;
	Int128 size;
	hwaddr addr;
	int32_t priority;
	int refcount;

	bool initialized;
	bool enabled;
	bool terminates;	/* renders as a leaf: io, ram, rom, rom device */
	bool ram;
	bool ram_device;
	bool readonly;		/* rom, or set_readonly */
	bool nonvolatile;
	bool rom_device;
	bool romd_mode;
	bool unmergeable;
	bool in_dispatch;	/* re-entrancy guard */
	uint8_t dirty_log_mask;

	MemoryRegion *alias;
	hwaddr alias_offset;
	unsigned int mapped_via_alias;

	/* children, highest priority first; among equals newest first */
	MemoryRegion *subregions_first;
	MemoryRegion *subregions_last;
	MemoryRegion *sibling_prev;
	MemoryRegion *sibling_next;

	RAMBlock *ram_block;
	uint64_t align;

	GDestroyNotify free_notify;
	void *free_data;
};

/* A piece of a region as mapped in an address space (or NULL mr: nothing). */
struct MemoryRegionSection {
	Int128 size;
	MemoryRegion *mr;
	FlatView *fv;
	hwaddr offset_within_region;
	hwaddr offset_within_address_space;
	bool readonly;
	bool nonvolatile;
};

/*
 * An address space: a root region and the flat view rendered from it.
 * Caller storage, like MemoryRegion; fields are private.
 */
struct AddressSpace {
	/* private: */
	char *name;
	MemoryRegion *root;
	FlatView *current_map;	/* RCU-protected */
	AddressSpace *next;	/* global list, in order of init */
};

/* ------------------------------------------------------------------ */
/* Regions                                                             */
/* ------------------------------------------------------------------ */

void memory_region_init(MemoryRegion *mr, void *owner, const char *name,
			uint64_t size);
void memory_region_init_io(MemoryRegion *mr, void *owner,
			   const MemoryRegionOps *ops, void *opaque,
			   const char *name, uint64_t size);
bool memory_region_init_ram(MemoryRegion *mr, void *owner, const char *name,
			    uint64_t size, GError **error);
bool memory_region_init_ram_nomigrate(MemoryRegion *mr, void *owner,
				      const char *name, uint64_t size,
				      GError **error);
bool memory_region_init_ram_flags_nomigrate(MemoryRegion *mr, void *owner,
					    const char *name, uint64_t size,
					    uint32_t ram_flags, GError **error);
void memory_region_init_ram_ptr(MemoryRegion *mr, void *owner,
				const char *name, uint64_t size, void *ptr);
void memory_region_init_ram_device_ptr(MemoryRegion *mr, void *owner,
				       const char *name, uint64_t size,
				       void *ptr);
bool memory_region_init_ram_from_fd(MemoryRegion *mr, void *owner,
				    const char *name, uint64_t size,
				    uint32_t ram_flags, int fd,
				    ram_addr_t offset, GError **error);
bool memory_region_init_ram_from_file(MemoryRegion *mr, void *owner,
				      const char *name, uint64_t size,
				      uint64_t align, uint32_t ram_flags,
				      const char *path, ram_addr_t offset,
				      GError **error);
bool memory_region_init_rom(MemoryRegion *mr, void *owner, const char *name,
			    uint64_t size, GError **error);
bool memory_region_init_rom_nomigrate(MemoryRegion *mr, void *owner,
				      const char *name, uint64_t size,
				      GError **error);
bool memory_region_init_rom_device(MemoryRegion *mr, void *owner,
				   const MemoryRegionOps *ops, void *opaque,
				   const char *name, uint64_t size,
				   GError **error);
bool memory_region_init_rom_device_nomigrate(MemoryRegion *mr, void *owner,
					     const MemoryRegionOps *ops,
					     void *opaque, const char *name,
					     uint64_t size, GError **error);
void memory_region_init_alias(MemoryRegion *mr, void *owner,
			      const char *name, MemoryRegion *orig,
			      hwaddr offset, uint64_t size);

void memory_region_ref(MemoryRegion *mr);
void memory_region_unref(MemoryRegion *mr);

void memory_region_add_subregion(MemoryRegion *mr, hwaddr offset,
				 MemoryRegion *subregion);
void memory_region_add_subregion_overlap(MemoryRegion *mr, hwaddr offset,
					 MemoryRegion *subregion,
					 int priority);
void memory_region_del_subregion(MemoryRegion *mr, MemoryRegion *subregion);

void memory_region_set_enabled(MemoryRegion *mr, bool enabled);
void memory_region_set_address(MemoryRegion *mr, hwaddr addr);
void memory_region_set_size(MemoryRegion *mr, uint64_t size);
void memory_region_set_alias_offset(MemoryRegion *mr, hwaddr offset);
void memory_region_set_readonly(MemoryRegion *mr, bool readonly);
void memory_region_set_nonvolatile(MemoryRegion *mr, bool nonvolatile);
void memory_region_set_unmergeable(MemoryRegion *mr, bool unmergeable);
void memory_region_rom_device_set_romd(MemoryRegion *mr, bool romd_mode);

const char *memory_region_name(const MemoryRegion *mr);
uint64_t memory_region_size(MemoryRegion *mr);
void *memory_region_owner(MemoryRegion *mr);
bool memory_region_is_ram(MemoryRegion *mr);
bool memory_region_is_ram_device(MemoryRegion *mr);
bool memory_region_is_rom(MemoryRegion *mr);
bool memory_region_is_romd(MemoryRegion *mr);
bool memory_region_is_nonvolatile(MemoryRegion *mr);
bool memory_region_is_iommu(MemoryRegion *mr);
bool memory_region_is_mapped(MemoryRegion *mr);
bool memory_region_is_enabled(MemoryRegion *mr);
bool memory_region_is_readonly(MemoryRegion *mr);
bool memory_region_is_logging(MemoryRegion *mr, uint8_t client);
uint8_t memory_region_get_dirty_log_mask(MemoryRegion *mr);
MemoryRegion *memory_region_get_container(MemoryRegion *mr);
MemoryRegion *memory_region_get_alias(MemoryRegion *mr);
hwaddr memory_region_get_alias_offset(MemoryRegion *mr);
hwaddr memory_region_get_address(MemoryRegion *mr);
int memory_region_get_priority(MemoryRegion *mr);
void *memory_region_get_ram_ptr(MemoryRegion *mr);
int memory_region_get_fd(MemoryRegion *mr);
uint64_t memory_region_get_alignment(const MemoryRegion *mr);
ram_addr_t memory_region_get_ram_addr(MemoryRegion *mr);
MemoryRegion *memory_region_from_host(void *ptr, ram_addr_t *offset);

void memory_region_transaction_begin(void);
void memory_region_transaction_commit(void);

/* ------------------------------------------------------------------ */
/* Address spaces and dispatch                                         */
/* ------------------------------------------------------------------ */

void address_space_init(AddressSpace *as, MemoryRegion *root,
			const char *name);
void address_space_destroy(AddressSpace *as);

/* Call only inside an RCU read-side section (loopback_rcu_read_lock()). */
FlatView *address_space_to_flatview(AddressSpace *as);

MemoryRegion *address_space_translate(AddressSpace *as, hwaddr addr,
				      hwaddr *xlat, hwaddr *len,
				      bool is_write, MemTxAttrs attrs);
MemoryRegion *flatview_translate(FlatView *fv, hwaddr addr, hwaddr *xlat,
				 hwaddr *len, bool is_write, MemTxAttrs attrs);

MemTxResult address_space_read_full(AddressSpace *as, hwaddr addr,
				    MemTxAttrs attrs, void *buf, hwaddr len);
MemTxResult address_space_read(AddressSpace *as, hwaddr addr,
			       MemTxAttrs attrs, void *buf, hwaddr len);
MemTxResult address_space_write(AddressSpace *as, hwaddr addr,
				MemTxAttrs attrs, const void *buf,
				hwaddr len);
MemTxResult address_space_rw(AddressSpace *as, hwaddr addr, MemTxAttrs attrs,
			     void *buf, hwaddr len, bool is_write);
MemTxResult address_space_write_rom(AddressSpace *as, hwaddr addr,
				    MemTxAttrs attrs, const void *buf,
				    hwaddr len);
bool address_space_access_valid(AddressSpace *as, hwaddr addr, hwaddr len,
				bool is_write, MemTxAttrs attrs);

uint8_t address_space_ldub(AddressSpace *as, hwaddr addr, MemTxAttrs attrs,
			   MemTxResult *result);
uint16_t address_space_lduw_le(AddressSpace *as, hwaddr addr,
			       MemTxAttrs attrs, MemTxResult *result);
uint16_t address_space_lduw_be(AddressSpace *as, hwaddr addr,
			       MemTxAttrs attrs, MemTxResult *result);
uint32_t address_space_ldl_le(AddressSpace *as, hwaddr addr,
			      MemTxAttrs attrs, MemTxResult *result);
uint32_t address_space_ldl_be(AddressSpace *as, hwaddr addr,
			      MemTxAttrs attrs, MemTxResult *result);
uint64_t address_space_ldq_le(AddressSpace *as, hwaddr addr,
			      MemTxAttrs attrs, MemTxResult *result);
uint64_t address_space_ldq_be(AddressSpace *as, hwaddr addr,
			      MemTxAttrs attrs, MemTxResult *result);
void address_space_stb(AddressSpace *as, hwaddr addr, uint8_t val,
		       MemTxAttrs attrs, MemTxResult *result);
void address_space_stw_le(AddressSpace *as, hwaddr addr, uint16_t val,
			  MemTxAttrs attrs, MemTxResult *result);
void address_space_stw_be(AddressSpace *as, hwaddr addr, uint16_t val,
			  MemTxAttrs attrs, MemTxResult *result);
void address_space_stl_le(AddressSpace *as, hwaddr addr, uint32_t val,
			  MemTxAttrs attrs, MemTxResult *result);
void address_space_stl_be(AddressSpace *as, hwaddr addr, uint32_t val,
			  MemTxAttrs attrs, MemTxResult *result);
void address_space_stq_le(AddressSpace *as, hwaddr addr, uint64_t val,
			  MemTxAttrs attrs, MemTxResult *result);
void address_space_stq_be(AddressSpace *as, hwaddr addr, uint64_t val,
			  MemTxAttrs attrs, MemTxResult *result);

MemTxResult memory_region_dispatch_read(MemoryRegion *mr, hwaddr addr,
					uint64_t *pval, MemOp op,
					MemTxAttrs attrs);
MemTxResult memory_region_dispatch_write(MemoryRegion *mr, hwaddr addr,
					 uint64_t data, MemOp op,
					 MemTxAttrs attrs);
bool memory_region_access_valid(MemoryRegion *mr, hwaddr addr,
				unsigned size, bool is_write,
				MemTxAttrs attrs);

/*
 * The returned section's mr carries a reference: drop it with
 * memory_region_unref() when section.mr is not NULL.
 */
MemoryRegionSection memory_region_find(MemoryRegion *mr, hwaddr addr,
				       uint64_t size);
bool memory_region_present(MemoryRegion *container, hwaddr addr);

typedef bool (*flatview_cb)(Int128 start, Int128 len, const MemoryRegion *mr,
			    hwaddr offset_in_region, void *opaque);
/* Calls @cb for each range in address order until it returns true. */
void flatview_for_each_range(FlatView *fv, flatview_cb cb, void *opaque);

/* ------------------------------------------------------------------ */
/* RCU                                                                 */
/* ------------------------------------------------------------------ */

/*
 * A flat view obtained with address_space_to_flatview(), and the regions it
 * shows, stay valid until the matching unlock.  Sections nest.  QEMU code
 * spells these rcu_read_lock()/rcu_read_unlock(): the macros below map them
 * unless the program uses liburcu's own names.
 */
void loopback_rcu_read_lock(void);
void loopback_rcu_read_unlock(void);
#ifndef rcu_read_lock
#define rcu_read_lock() loopback_rcu_read_lock()
#define rcu_read_unlock() loopback_rcu_read_unlock()
#endif
/* Waits until every flat view and region reference released so far is gone. */
void loopback_memory_drain(void);

/* ------------------------------------------------------------------ */
/* Printing                                                            */
/* ------------------------------------------------------------------ */

/*
 * `info mtree` in QEMU 7.2's text: the region trees (with @disabled also the
 * disabled regions) or, with @flatview, the rendered flat views.  Roots and
 * flat views come in the order their first address space was initialised.
 */
void loopback_mtree_print(FILE *out, bool flatview, bool disabled);
/* QEMU's entry point, to stdout; @dispatch_tree and @owner are ignored. */
void mtree_info(bool flatview, bool dispatch_tree, bool owner,
		bool disabled);

/* ------------------------------------------------------------------ */
/* libloopback additions                                               */
/* ------------------------------------------------------------------ */

/* Runs @notify(@data) once @mr has been finalised (its last unref). */
void loopback_memory_region_set_free_notify(MemoryRegion *mr,
					    GDestroyNotify notify,
					    void *data);

#ifdef __cplusplus
}
#endif

#endif /* LOOPBACK_MEMORY_H */
