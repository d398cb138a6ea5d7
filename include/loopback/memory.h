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
typedef struct MemoryListener MemoryListener;
typedef struct EventNotifier EventNotifier;
typedef struct IOMMUMemoryRegion IOMMUMemoryRegion;
typedef struct IOMMUMemoryRegionOps IOMMUMemoryRegionOps;
typedef struct RamDiscardManager RamDiscardManager;
typedef struct DirtyBitmapSnapshot DirtyBitmapSnapshot;

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
#define RAM_PROTECTED	(1 << 8)	/* memory_region_is_protected(): recorded only */
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
	uint8_t dirty_log_mask;	/* set_log clients (global bits excluded) */
	uint8_t vga_logging_count;	/* set_log(VGA) nesting (dirty.c) */
	bool is_iommu;		/* embedded in an IOMMUMemoryRegion */
	bool flush_coalesced_mmio;

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

	/* ioeventfds (ioeventfd.c): sorted, RCU-replaced on every change */
	struct lb_ioeventfd_set *ioeventfds;
	/* coalesced MMIO ranges (coalesced.c), offsets in the region */
	struct lb_coalesced_range *coalesced;
	RamDiscardManager *rdm;
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

	/* the ioeventfds the listeners were last told about (listener.c) */
	struct lb_as_ioeventfds *ioeventfds;
	/* bounce buffers and map clients (map.c) */
	GMutex map_lock;	/* protects map_clients */
	uint64_t max_bounce_buffer_size;
	uint64_t bounce_buffer_size;	/* in use; atomic */
	GSList *map_clients;
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
/*
 * RAM whose used length can change up to @max_size with
 * memory_region_ram_resize(): memory for @max_size is reserved (a memfd of
 * that size), the region is @size long.  @resized, if not NULL, is called
 * with the region's name, the new size and the RAM's host address after
 * every change of size.
 */
bool memory_region_init_resizeable_ram(MemoryRegion *mr, void *owner,
				       const char *name, uint64_t size,
				       uint64_t max_size,
				       void (*resized)(const char *name,
						       uint64_t length,
						       void *host),
				       GError **error);
/*
 * QEMU's qemu_ram_resize(): the used length becomes @newsize rounded up to
 * the host page size, the region @newsize; listeners see the new size,
 * every page of the new used length is dirty for every client, then the
 * resized callback runs.  Fails (G_FILE_ERROR_INVAL) when the length would
 * change on RAM that is not resizeable or pass its maximum.
 */
void memory_region_ram_resize(MemoryRegion *mr, ram_addr_t newsize,
			      GError **error);
/*
 * Writes [@addr, @addr + @size) of fd-backed RAM back to its file
 * (msync(MS_SYNC) of the pages it touches); nothing for other regions.
 */
void memory_region_msync(MemoryRegion *mr, hwaddr addr, hwaddr size);
/* memory_region_msync() when @mr has a set_log client (QEMU's rule). */
void memory_region_writeback(MemoryRegion *mr, hwaddr addr, hwaddr size);
/* RAM created with RAM_PROTECTED (QEMU's confidential-guest memory). */
bool memory_region_is_protected(MemoryRegion *mr);

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
/*
 * A copy of @s on the heap that holds a reference on s->mr and on the
 * flat view s->fv (when not NULL): both stay valid until the copy is
 * freed with memory_region_section_free_copy().
 */
MemoryRegionSection *memory_region_section_new_copy(MemoryRegionSection *s);
void memory_region_section_free_copy(MemoryRegionSection *s);
/*
 * Whether an access to @mr (a translation's result) may copy its RAM
 * directly (QEMU 7.2-9.2's two-argument form): RAM that is not device
 * RAM, or for reads a ROM device in ROMD mode; writes also need the region
 * not read-only and not a ROM device.  Aliases answer false.
 */
bool memory_access_is_direct(MemoryRegion *mr, bool is_write);
bool memory_region_present(MemoryRegion *container, hwaddr addr);

typedef bool (*flatview_cb)(Int128 start, Int128 len, const MemoryRegion *mr,
			    hwaddr offset_in_region, void *opaque);
/* Calls @cb for each range in address order until it returns true. */
void flatview_for_each_range(FlatView *fv, flatview_cb cb, void *opaque);

/* ------------------------------------------------------------------ */
/* Event notifiers and ioeventfds                                      */
/* ------------------------------------------------------------------ */

/*
 * An eventfd (EFD_NONBLOCK | EFD_CLOEXEC).  rfd == wfd for an eventfd; the
 * fields are private.
 */
struct EventNotifier {
	int rfd;
	int wfd;
	bool initialized;
};

/* 0, or -errno.  @active: start signalled. */
int event_notifier_init(EventNotifier *e, int active);
/* Wraps an eventfd the caller owns; cleanup does not close it. */
void event_notifier_init_fd(EventNotifier *e, int fd);
void event_notifier_cleanup(EventNotifier *e);
int event_notifier_get_fd(const EventNotifier *e);
int event_notifier_set(EventNotifier *e);
/* Reads and clears the counter: 1 when it was signalled, else 0. */
int event_notifier_test_and_clear(EventNotifier *e);

/*
 * A write of @size bytes (0: any size) at @addr in @mr signals @e instead of
 * reaching the device; with @match_data only when the value written equals
 * @data as a host-order (MO_TE) store of @size bytes would write it: both
 * sides are compared after the fix-up to the device's byte order, as QEMU
 * does with its target's order.  @mr must not be an alias.  Delete it
 * before @e goes, and let a grace period pass (loopback_memory_drain())
 * before closing @e: a dispatcher may still be signalling it.
 */
void memory_region_add_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
			       bool match_data, uint64_t data,
			       EventNotifier *e);
void memory_region_del_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
			       bool match_data, uint64_t data,
			       EventNotifier *e);

/* ------------------------------------------------------------------ */
/* Listeners                                                           */
/* ------------------------------------------------------------------ */

/* Dirty-memory clients: bit numbers of the dirty-log masks. */
#define DIRTY_MEMORY_VGA	0
#define DIRTY_MEMORY_CODE	1
#define DIRTY_MEMORY_MIGRATION	2
#define DIRTY_MEMORY_NUM	3

/* Reasons for global dirty tracking (memory_global_dirty_log_start). */
#define GLOBAL_DIRTY_MIGRATION	(1U << 0)
#define GLOBAL_DIRTY_DIRTY_RATE	(1U << 1)
#define GLOBAL_DIRTY_LIMIT	(1U << 2)
#define GLOBAL_DIRTY_MASK	(0x7)

/*
 * Callbacks on changes of one address space's flat view (or of every
 * address space when registered with a NULL filter).  Any may be NULL.  All
 * run with the writers' lock held, on the thread that committed.  Order:
 * ascending @priority (equal: registration order) for begin, commit, the
 * add/start callbacks; descending for the del/stop ones; the eventfd pair
 * the other way round.  See Documentation/memory-api.md.
 */
struct MemoryListener {
	void (*begin)(MemoryListener *listener);
	void (*commit)(MemoryListener *listener);
	void (*region_add)(MemoryListener *listener,
			   MemoryRegionSection *section);
	void (*region_del)(MemoryListener *listener,
			   MemoryRegionSection *section);
	void (*region_nop)(MemoryListener *listener,
			   MemoryRegionSection *section);
	void (*log_start)(MemoryListener *listener,
			  MemoryRegionSection *section, int old_val,
			  int new_val);
	void (*log_stop)(MemoryListener *listener,
			 MemoryRegionSection *section, int old_val,
			 int new_val);
	void (*log_sync)(MemoryListener *listener,
			 MemoryRegionSection *section);
	void (*log_sync_global)(MemoryListener *listener, bool last_stage);
	void (*log_clear)(MemoryListener *listener,
			  MemoryRegionSection *section);
	/* false (with @errp set) refuses: the start is rolled back */
	bool (*log_global_start)(MemoryListener *listener, GError **errp);
	void (*log_global_stop)(MemoryListener *listener);
	void (*log_global_after_sync)(MemoryListener *listener);
	void (*eventfd_add)(MemoryListener *listener,
			    MemoryRegionSection *section, bool match_data,
			    uint64_t data, EventNotifier *e);
	void (*eventfd_del)(MemoryListener *listener,
			    MemoryRegionSection *section, bool match_data,
			    uint64_t data, EventNotifier *e);
	void (*coalesced_io_add)(MemoryListener *listener,
				 MemoryRegionSection *section, hwaddr addr,
				 hwaddr len);
	void (*coalesced_io_del)(MemoryListener *listener,
				 MemoryRegionSection *section, hwaddr addr,
				 hwaddr len);
	unsigned int priority;
	const char *name;

	/* private: */
	AddressSpace *address_space;	/* the filter, or NULL */
	bool registered;
};

/*
 * Registers @listener on @filter (NULL: every address space) and replays
 * the current state to it alone: begin, region_add (and log_start) per
 * range, eventfd_add per ioeventfd, coalesced_io_add, commit.
 */
void memory_listener_register(MemoryListener *listener, AddressSpace *filter);
/* Mirrors the replay (eventfd_del, region_del, ...) and removes it. */
void memory_listener_unregister(MemoryListener *listener);
/*
 * Unregisters every listener registered with @as as its filter, in call
 * order; listeners registered with NULL stay.
 */
void address_space_remove_listeners(AddressSpace *as);

/* ------------------------------------------------------------------ */
/* Dirty logging                                                       */
/* ------------------------------------------------------------------ */

/*
 * Pages are TARGET_PAGE_SIZE (4096) bytes.  Writes through this API
 * (address_space_write, st*, map/unmap, the cached accessors) mark the
 * pages they touch for every client in the region's dirty-log mask; a
 * program that writes RAM through a host pointer marks them itself with
 * memory_region_set_dirty().
 */
#define TARGET_PAGE_BITS	12
#define TARGET_PAGE_SIZE	(1ULL << TARGET_PAGE_BITS)
#define TARGET_PAGE_MASK	(~(TARGET_PAGE_SIZE - 1))

/* Turns logging for @client on or off (QEMU accepts DIRTY_MEMORY_VGA only). */
void memory_region_set_log(MemoryRegion *mr, bool log, unsigned client);
bool memory_region_get_dirty(MemoryRegion *mr, hwaddr addr, hwaddr size,
			     unsigned client);
/* Marks the range for every client in memory_region_get_dirty_log_mask(). */
void memory_region_set_dirty(MemoryRegion *mr, hwaddr addr, hwaddr size);
bool memory_region_test_and_clear_dirty(MemoryRegion *mr, hwaddr addr,
					hwaddr size, unsigned client);
void memory_region_reset_dirty(MemoryRegion *mr, hwaddr addr, hwaddr size,
			       unsigned client);
/* Syncs from the listeners, then takes and clears the bits atomically. */
DirtyBitmapSnapshot *memory_region_snapshot_and_clear_dirty(MemoryRegion *mr,
							    hwaddr addr,
							    hwaddr size,
							    unsigned client);
bool memory_region_snapshot_get_dirty(MemoryRegion *mr,
				      DirtyBitmapSnapshot *snap, hwaddr addr,
				      hwaddr size);
void loopback_dirty_bitmap_snapshot_free(DirtyBitmapSnapshot *snap);
/* Calls log_sync for every section of @mr in every address space. */
void memory_region_sync_dirty_bitmap(MemoryRegion *mr, bool last_stage);
/*
 * Calls log_clear for the part of [@start, @start + @len) (offsets in
 * @mr) that each logged section of @mr shows, in every address space each
 * listener sees; the bitmaps here are not touched.
 */
void memory_region_clear_dirty_bitmap(MemoryRegion *mr, hwaddr start,
				      hwaddr len);
/*
 * A ROM device (in ROMD mode) whose write callback changed its RAM
 * through memory_region_get_ram_ptr() marks the range dirty with this.
 */
void memory_region_flush_rom_device(MemoryRegion *mr, hwaddr addr,
				    hwaddr size);

/* Global dirty tracking adds DIRTY_MEMORY_MIGRATION to every RAM range. */
bool memory_global_dirty_log_start(unsigned int flags, GError **errp);
void memory_global_dirty_log_stop(unsigned int flags);
void memory_global_dirty_log_sync(bool last_stage);
void memory_global_after_dirty_log_sync(void);
/* The GLOBAL_DIRTY_* reasons now active. */
unsigned int loopback_global_dirty_tracking(void);

/* ------------------------------------------------------------------ */
/* Mapping, bounce buffers, region caches                              */
/* ------------------------------------------------------------------ */

/* QEMU's default per-address-space bounce budget. */
#define DEFAULT_MAX_BOUNCE_BUFFER_SIZE 4096

/*
 * Direct RAM gives a host pointer, extended over contiguous pieces of the
 * same region; anything else a bounce buffer from @as's budget, *plen cut
 * to what remains (NULL with *plen = 0 when nothing does).  A read mapping
 * is pre-filled.
 */
void *address_space_map(AddressSpace *as, hwaddr addr, hwaddr *plen,
			bool is_write, MemTxAttrs attrs);
/* Writes back @access_len bytes of a write bounce, marks dirty, frees. */
void address_space_unmap(AddressSpace *as, void *buffer, hwaddr len,
			 bool is_write, hwaddr access_len);
/*
 * Runs @cb(@opaque) once, from the thread that frees bounce space, when a
 * mapping may succeed again (at once if it may now).  QEMU takes a QEMUBH.
 */
void address_space_register_map_client(AddressSpace *as,
				       void (*cb)(void *opaque),
				       void *opaque);
void address_space_unregister_map_client(AddressSpace *as,
					 void (*cb)(void *opaque),
					 void *opaque);
/* QEMU's x-max-bounce-buffer-size property. */
void loopback_address_space_set_max_bounce_buffer_size(AddressSpace *as,
							uint64_t size);

/*
 * A translation kept for repeated access to one range (a virtqueue's
 * rings).  Fields are private.  Holds a reference on the region: destroy
 * it before the region can go, and re-init it after a map change.
 */
typedef struct MemoryRegionCache {
	uint8_t *ptr;		/* host pointer when the range is direct RAM */
	hwaddr xlat;
	hwaddr len;
	AddressSpace *as;	/* the rest goes through dispatch here */
	hwaddr addr;		/* at this address */
	MemoryRegionSection mrs;	/* mrs.mr holds a reference */
	bool is_write;
} MemoryRegionCache;

#define MEMORY_REGION_CACHE_INVALID ((MemoryRegionCache) { .mrs.mr = NULL })

/* The length cached (may be less than @len), or -errno. */
int64_t address_space_cache_init(MemoryRegionCache *cache, AddressSpace *as,
				 hwaddr addr, hwaddr len, bool is_write);
/* Marks @access_len bytes at @addr (cache offsets) written: dirty logging. */
void address_space_cache_invalidate(MemoryRegionCache *cache, hwaddr addr,
				    hwaddr access_len);
void address_space_cache_destroy(MemoryRegionCache *cache);

MemTxResult address_space_read_cached(MemoryRegionCache *cache, hwaddr addr,
				      void *buf, hwaddr len);
MemTxResult address_space_write_cached(MemoryRegionCache *cache, hwaddr addr,
				       const void *buf, hwaddr len);
uint8_t address_space_ldub_cached(MemoryRegionCache *cache, hwaddr addr,
				  MemTxAttrs attrs, MemTxResult *result);
uint16_t address_space_lduw_le_cached(MemoryRegionCache *cache, hwaddr addr,
				      MemTxAttrs attrs, MemTxResult *result);
uint16_t address_space_lduw_be_cached(MemoryRegionCache *cache, hwaddr addr,
				      MemTxAttrs attrs, MemTxResult *result);
uint32_t address_space_ldl_le_cached(MemoryRegionCache *cache, hwaddr addr,
				     MemTxAttrs attrs, MemTxResult *result);
uint32_t address_space_ldl_be_cached(MemoryRegionCache *cache, hwaddr addr,
				     MemTxAttrs attrs, MemTxResult *result);
uint64_t address_space_ldq_le_cached(MemoryRegionCache *cache, hwaddr addr,
				     MemTxAttrs attrs, MemTxResult *result);
uint64_t address_space_ldq_be_cached(MemoryRegionCache *cache, hwaddr addr,
				     MemTxAttrs attrs, MemTxResult *result);
void address_space_stb_cached(MemoryRegionCache *cache, hwaddr addr,
			      uint8_t val, MemTxAttrs attrs,
			      MemTxResult *result);
void address_space_stw_le_cached(MemoryRegionCache *cache, hwaddr addr,
				 uint16_t val, MemTxAttrs attrs,
				 MemTxResult *result);
void address_space_stw_be_cached(MemoryRegionCache *cache, hwaddr addr,
				 uint16_t val, MemTxAttrs attrs,
				 MemTxResult *result);
void address_space_stl_le_cached(MemoryRegionCache *cache, hwaddr addr,
				 uint32_t val, MemTxAttrs attrs,
				 MemTxResult *result);
void address_space_stl_be_cached(MemoryRegionCache *cache, hwaddr addr,
				 uint32_t val, MemTxAttrs attrs,
				 MemTxResult *result);
void address_space_stq_le_cached(MemoryRegionCache *cache, hwaddr addr,
				 uint64_t val, MemTxAttrs attrs,
				 MemTxResult *result);
void address_space_stq_be_cached(MemoryRegionCache *cache, hwaddr addr,
				 uint64_t val, MemTxAttrs attrs,
				 MemTxResult *result);

/* ------------------------------------------------------------------ */
/* IOMMU regions                                                       */
/* ------------------------------------------------------------------ */

typedef enum {
	IOMMU_NONE = 0,
	IOMMU_RO = 1,
	IOMMU_WO = 2,
	IOMMU_RW = 3,
} IOMMUAccessFlags;

#define IOMMU_ACCESS_FLAG(r, w) (((r) ? IOMMU_RO : 0) | ((w) ? IOMMU_WO : 0))

/*
 * One translation: [iova, iova | addr_mask] maps to translated_addr in
 * target_as with permissions perm (IOMMU_NONE: fault).
 */
typedef struct IOMMUTLBEntry {
	AddressSpace *target_as;
	hwaddr iova;
	hwaddr translated_addr;
	hwaddr addr_mask;
	IOMMUAccessFlags perm;
} IOMMUTLBEntry;

typedef enum {
	IOMMU_NOTIFIER_NONE = 0,
	IOMMU_NOTIFIER_UNMAP = 0x1,
	IOMMU_NOTIFIER_MAP = 0x2,
	IOMMU_NOTIFIER_DEVIOTLB_UNMAP = 0x4,
} IOMMUNotifierFlag;

#define IOMMU_NOTIFIER_IOTLB_EVENTS (IOMMU_NOTIFIER_MAP | IOMMU_NOTIFIER_UNMAP)
#define IOMMU_NOTIFIER_DEVIOTLB_EVENTS IOMMU_NOTIFIER_DEVIOTLB_UNMAP
#define IOMMU_NOTIFIER_ALL (IOMMU_NOTIFIER_IOTLB_EVENTS | \
			    IOMMU_NOTIFIER_DEVIOTLB_EVENTS)

typedef struct IOMMUTLBEvent {
	IOMMUNotifierFlag type;
	IOMMUTLBEntry entry;
} IOMMUTLBEvent;

typedef struct IOMMUNotifier IOMMUNotifier;
typedef void (*IOMMUNotify)(IOMMUNotifier *notifier, IOMMUTLBEntry *data);

/* Watches [start, end] (inclusive) of one IOMMU index. */
struct IOMMUNotifier {
	IOMMUNotify notify;
	IOMMUNotifierFlag notifier_flags;
	hwaddr start;
	hwaddr end;
	int iommu_idx;
	/* private: */
	IOMMUNotifier *next;
};

void iommu_notifier_init(IOMMUNotifier *n, IOMMUNotify fn,
			 IOMMUNotifierFlag flags, hwaddr start, hwaddr end,
			 int iommu_idx);

/* What memory_region_iommu_get_attr() may ask (QEMU 7.2-9.x). */
enum IOMMUMemoryRegionAttr {
	IOMMU_ATTR_SPAPR_TCE_FD,
};

/*
 * QEMU's IOMMUMemoryRegionClass methods.  translate is required; the others
 * may be NULL (QEMU's defaults: min page size TARGET_PAGE_SIZE, replay by
 * translating every page, one index, no attributes, any page size mask).
 */
struct IOMMUMemoryRegionOps {
	IOMMUTLBEntry (*translate)(IOMMUMemoryRegion *iommu, hwaddr addr,
				   IOMMUAccessFlags flag, int iommu_idx);
	uint64_t (*get_min_page_size)(IOMMUMemoryRegion *iommu);
	/* 0, or -errno with @errp set to refuse the new notifier flags */
	int (*notify_flag_changed)(IOMMUMemoryRegion *iommu,
				   IOMMUNotifierFlag old_flags,
				   IOMMUNotifierFlag new_flags,
				   GError **errp);
	void (*replay)(IOMMUMemoryRegion *iommu, IOMMUNotifier *notifier);
	int (*attrs_to_index)(IOMMUMemoryRegion *iommu, MemTxAttrs attrs);
	int (*num_indexes)(IOMMUMemoryRegion *iommu);
	/* 0 with *@data filled, or -errno */
	int (*get_attr)(IOMMUMemoryRegion *iommu,
			enum IOMMUMemoryRegionAttr attr, void *data);
	/* 0, or -errno with @errp set to refuse the host's page sizes */
	int (*iommu_set_page_size_mask)(IOMMUMemoryRegion *iommu,
					uint64_t page_size_mask,
					GError **errp);
};

/* Caller storage; embed it and use container_of in the ops. */
struct IOMMUMemoryRegion {
	MemoryRegion parent_obj;
	/* private: */
	const IOMMUMemoryRegionOps *ops;
	IOMMUNotifier *notifiers;
	IOMMUNotifierFlag notify_flags;	/* union of the notifiers' flags */
};

#define IOMMU_MEMORY_REGION(mr) \
	((IOMMUMemoryRegion *)((char *)(mr) - offsetof(IOMMUMemoryRegion, parent_obj)))

void memory_region_init_iommu(IOMMUMemoryRegion *iommu_mr, void *owner,
			      const IOMMUMemoryRegionOps *ops,
			      const char *name, uint64_t size);
/* The IOMMU region @mr is or aliases, or NULL. */
IOMMUMemoryRegion *memory_region_get_iommu(MemoryRegion *mr);
uint64_t memory_region_iommu_get_min_page_size(IOMMUMemoryRegion *iommu_mr);
int memory_region_iommu_attrs_to_index(IOMMUMemoryRegion *iommu_mr,
				       MemTxAttrs attrs);
int memory_region_iommu_num_indexes(IOMMUMemoryRegion *iommu_mr);
/* ops->get_attr's answer, or -EINVAL without the method. */
int memory_region_iommu_get_attr(IOMMUMemoryRegion *iommu_mr,
				 enum IOMMUMemoryRegionAttr attr, void *data);
/*
 * Tells the IOMMU which page sizes the host side supports (a bit per
 * size); ops->iommu_set_page_size_mask's answer, or 0 without the method.
 */
int memory_region_iommu_set_page_size_mask(IOMMUMemoryRegion *iommu_mr,
					   uint64_t page_size_mask,
					   GError **errp);
/* 0, or -errno with @errp set (bad flags or index, or refused). */
int memory_region_register_iommu_notifier(MemoryRegion *mr, IOMMUNotifier *n,
					  GError **errp);
void memory_region_unregister_iommu_notifier(MemoryRegion *mr,
					     IOMMUNotifier *n);
void memory_region_notify_iommu(IOMMUMemoryRegion *iommu_mr, int iommu_idx,
				IOMMUTLBEvent event);
void memory_region_notify_iommu_one(IOMMUNotifier *notifier,
				    IOMMUTLBEvent *event);
void memory_region_iommu_replay(IOMMUMemoryRegion *iommu_mr,
				IOMMUNotifier *n);
/*
 * QEMU's IOTLB entry for @addr: the address in the last address space
 * reached, masked by the AND of the IOMMUs' addr_masks (TARGET_PAGE_SIZE
 * pages when no IOMMU is on the way), perm IOMMU_RW.  All zero (perm
 * IOMMU_NONE) when an IOMMU refuses the access or nothing is mapped there.
 */
IOMMUTLBEntry address_space_get_iotlb_entry(AddressSpace *as, hwaddr addr,
					    bool is_write, MemTxAttrs attrs);

/* ------------------------------------------------------------------ */
/* Coalesced MMIO                                                      */
/* ------------------------------------------------------------------ */

/* The whole region, or the range [@offset, @offset + @size), may be coalesced. */
void memory_region_set_coalescing(MemoryRegion *mr);
void memory_region_add_coalescing(MemoryRegion *mr, hwaddr offset,
				  uint64_t size);
void memory_region_clear_coalescing(MemoryRegion *mr);
/* Accesses to @mr flush the coalesced buffer first. */
void memory_region_set_flush_coalesced(MemoryRegion *mr);
void memory_region_clear_flush_coalesced(MemoryRegion *mr);
/*
 * Flushes through the handler the program installed (an accelerator's
 * ring); without one it does nothing.
 */
void qemu_flush_coalesced_mmio_buffer(void);
void loopback_set_coalesced_mmio_flush(void (*flush)(void *opaque),
				       void *opaque);

/* ------------------------------------------------------------------ */
/* RAM discard managers                                                */
/* ------------------------------------------------------------------ */

typedef struct RamDiscardListener RamDiscardListener;
typedef int (*NotifyRamPopulate)(RamDiscardListener *rdl,
				 MemoryRegionSection *section);
typedef void (*NotifyRamDiscard)(RamDiscardListener *rdl,
				 MemoryRegionSection *section);
typedef int (*ReplayRamPopulate)(MemoryRegionSection *section, void *opaque);
typedef void (*ReplayRamDiscard)(MemoryRegionSection *section, void *opaque);

/*
 * Told which parts of one section are populated.  As in QEMU, the manager
 * replays the populated parts on register and discards them on unregister.
 */
struct RamDiscardListener {
	NotifyRamPopulate notify_populate;
	NotifyRamDiscard notify_discard;
	bool double_discard_supported;
	/* the manager's: its copy of the section, and its list link */
	MemoryRegionSection *section;
	RamDiscardListener *next;
};

void ram_discard_listener_init(RamDiscardListener *rdl,
			       NotifyRamPopulate populate_fn,
			       NotifyRamDiscard discard_fn,
			       bool double_discard_supported);

/* QEMU's RamDiscardManagerClass methods, all required. */
typedef struct RamDiscardManagerOps {
	uint64_t (*get_min_granularity)(const RamDiscardManager *rdm,
					const MemoryRegion *mr);
	bool (*is_populated)(const RamDiscardManager *rdm,
			     const MemoryRegionSection *section);
	int (*replay_populated)(const RamDiscardManager *rdm,
				MemoryRegionSection *section,
				ReplayRamPopulate replay_fn, void *opaque);
	void (*replay_discarded)(const RamDiscardManager *rdm,
				 MemoryRegionSection *section,
				 ReplayRamDiscard replay_fn, void *opaque);
	void (*register_listener)(RamDiscardManager *rdm,
				  RamDiscardListener *rdl,
				  MemoryRegionSection *section);
	void (*unregister_listener)(RamDiscardManager *rdm,
				    RamDiscardListener *rdl);
} RamDiscardManagerOps;

/* Caller storage; embed it. */
struct RamDiscardManager {
	const RamDiscardManagerOps *ops;
};

/* 0, or -EBUSY when @mr already has one (NULL clears). */
int memory_region_set_ram_discard_manager(MemoryRegion *mr,
					  RamDiscardManager *rdm);
RamDiscardManager *memory_region_get_ram_discard_manager(MemoryRegion *mr);
bool memory_region_has_ram_discard_manager(MemoryRegion *mr);

uint64_t ram_discard_manager_get_min_granularity(const RamDiscardManager *rdm,
						 const MemoryRegion *mr);
bool ram_discard_manager_is_populated(const RamDiscardManager *rdm,
				      const MemoryRegionSection *section);
int ram_discard_manager_replay_populated(const RamDiscardManager *rdm,
					 MemoryRegionSection *section,
					 ReplayRamPopulate replay_fn,
					 void *opaque);
void ram_discard_manager_replay_discarded(const RamDiscardManager *rdm,
					  MemoryRegionSection *section,
					  ReplayRamDiscard replay_fn,
					  void *opaque);
void ram_discard_manager_register_listener(RamDiscardManager *rdm,
					   RamDiscardListener *rdl,
					   MemoryRegionSection *section);
void ram_discard_manager_unregister_listener(RamDiscardManager *rdm,
					     RamDiscardListener *rdl);

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
