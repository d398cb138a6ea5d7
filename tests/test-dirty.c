/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dirty logging.  Expectations come from QEMU's system/memory.c
 * (memory_region_set_log counts nested VGA starts; get/set/test_and_clear/
 * reset_dirty work on the pages covering the byte range; snapshots take and
 * clear the bits) and system/physmem.c (invalidate_and_set_dirty after
 * every direct RAM write: address_space_write, st*, write_rom, unmap of a
 * write mapping, address_space_cache_invalidate).
 */
#include "config.h"

#include <string.h>

#include "testutil.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define BASE 0x100000		/* where the RAM under test is mapped */
#define RAM_SIZE 0x10000	/* 16 pages */
#define PG TARGET_PAGE_SIZE
#define VGA DIRTY_MEMORY_VGA

typedef struct Fix {
	LbtWorld *w;
	MemoryRegion *ram;
	uint8_t *p;
} Fix;

static Fix *fix_new(bool logging)
{
	Fix *f = g_new0(Fix, 1);

	f->w = lbt_world_new(UINT64_MAX);
	f->ram = lbt_new_ram(f->w, "ram", RAM_SIZE);
	f->p = memory_region_get_ram_ptr(f->ram);
	memory_region_add_subregion(f->w->root, BASE, f->ram);
	if (logging)
		memory_region_set_log(f->ram, true, VGA);
	return f;
}

static void fix_free(Fix *f)
{
	lbt_world_free(f->w);
	g_free(f);
}

/* "0110..." : page i of the region dirty for @client, from get_dirty. */
static char *pages(MemoryRegion *mr, unsigned int client)
{
	GString *s = g_string_new(NULL);

	for (hwaddr a = 0; a < memory_region_size(mr); a += PG)
		g_string_append_c(s, memory_region_get_dirty(mr, a, PG, client) ?
				  '1' : '0');
	return g_string_free(s, FALSE);
}

#define assert_pages(mr, client, expected) do {				\
	char *s_ = pages((mr), (client));				\
	g_assert_cmpstr(s_, ==, (expected));				\
	g_free(s_);							\
} while (0)

static void expect_critical(const char *pattern)
{
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, pattern);
}

static void test_set_log_nests(void)
{
	Fix *f = fix_new(false);

	g_assert_false(memory_region_is_logging(f->ram, VGA));
	memory_region_set_log(f->ram, true, VGA);
	memory_region_set_log(f->ram, true, VGA);
	g_assert_true(memory_region_is_logging(f->ram, VGA));
	g_assert_cmphex(memory_region_get_dirty_log_mask(f->ram) & (1 << VGA),
			==, 1 << VGA);
	/* QEMU counts: the second stop ends logging, not the first */
	memory_region_set_log(f->ram, false, VGA);
	g_assert_true(memory_region_is_logging(f->ram, VGA));
	memory_region_set_log(f->ram, false, VGA);
	g_assert_false(memory_region_is_logging(f->ram, VGA));
	expect_critical("*more often than started*");
	memory_region_set_log(f->ram, false, VGA);
	g_test_assert_expected_messages();
	g_assert_false(memory_region_is_logging(f->ram, VGA));
	fix_free(f);
}

static void test_set_log_bad_client(void)
{
	Fix *f = fix_new(false);

	/* QEMU asserts client == DIRTY_MEMORY_VGA */
	expect_critical("*only DIRTY_MEMORY_VGA*");
	memory_region_set_log(f->ram, true, DIRTY_MEMORY_MIGRATION);
	g_test_assert_expected_messages();
	g_assert_cmphex(memory_region_get_dirty_log_mask(f->ram), ==, 0);
	fix_free(f);
}

static void test_set_log_alias(void)
{
	Fix *f = fix_new(false);
	MemoryRegion *a = lbt_new_alias(f->w, "alias", f->ram, 0, PG);

	expect_critical("*is an alias*");
	memory_region_set_log(a, true, VGA);
	g_test_assert_expected_messages();
	g_assert_false(memory_region_is_logging(a, VGA));
	fix_free(f);
}

static void test_write_marks_across_page_boundary(void)
{
	Fix *f = fix_new(true);
	uint8_t buf[0x10];

	memset(buf, 0xaa, sizeof(buf));
	g_assert_cmpuint(address_space_write(f->w->as, BASE + PG - 8, ATTRS,
					     buf, sizeof(buf)), ==, MEMTX_OK);
	assert_pages(f->ram, VGA, "1100000000000000");
	g_assert_cmpuint(f->p[PG - 8], ==, 0xaa);
	/* only the clients logging are marked */
	assert_pages(f->ram, DIRTY_MEMORY_MIGRATION, "0000000000000000");
	assert_pages(f->ram, DIRTY_MEMORY_CODE, "0000000000000000");
	address_space_rw(f->w->as, BASE + 15 * PG, ATTRS, buf, 1, true);
	assert_pages(f->ram, VGA, "1100000000000001");
	fix_free(f);
}

static void test_write_without_logging_not_marked(void)
{
	Fix *f = fix_new(false);
	uint8_t b = 1;

	address_space_write(f->w->as, BASE, ATTRS, &b, 1);
	address_space_stl_le(f->w->as, BASE + PG, 1, ATTRS, NULL);
	memory_region_set_log(f->ram, true, VGA);
	assert_pages(f->ram, VGA, "0000000000000000");
	/* and after logging stops, writes stop marking */
	memory_region_set_log(f->ram, false, VGA);
	address_space_write(f->w->as, BASE + 2 * PG, ATTRS, &b, 1);
	assert_pages(f->ram, VGA, "0000000000000000");
	fix_free(f);
}

static void test_st_marks(void)
{
	Fix *f = fix_new(true);

	address_space_stb(f->w->as, BASE + 3 * PG, 1, ATTRS, NULL);
	assert_pages(f->ram, VGA, "0001000000000000");
	address_space_stw_be(f->w->as, BASE + 5 * PG + 2, 1, ATTRS, NULL);
	address_space_stl_le(f->w->as, BASE + 6 * PG, 1, ATTRS, NULL);
	/* an 8-byte store across a page boundary marks both pages */
	address_space_stq_be(f->w->as, BASE + 9 * PG - 4, 1, ATTRS, NULL);
	assert_pages(f->ram, VGA, "0001011011000000");
	fix_free(f);
}

static void test_write_rom_marks(void)
{
	Fix *f = fix_new(true);
	uint8_t b = 7;

	/* physmem.c: address_space_write_rom calls invalidate_and_set_dirty */
	address_space_write_rom(f->w->as, BASE + 4 * PG, ATTRS, &b, 1);
	assert_pages(f->ram, VGA, "0000100000000000");
	g_assert_cmpuint(f->p[4 * PG], ==, 7);
	fix_free(f);
}

static void test_alias_write_marks_target(void)
{
	Fix *f = fix_new(true);
	MemoryRegion *a = lbt_new_alias(f->w, "alias", f->ram, 2 * PG, 4 * PG);
	uint8_t b = 1;

	memory_region_add_subregion(f->w->root, 0x800000, a);
	address_space_write(f->w->as, 0x800000 + PG, ATTRS, &b, 1);
	assert_pages(f->ram, VGA, "0001000000000000");
	fix_free(f);
}

static void test_unmap_marks_access_len(void)
{
	Fix *f = fix_new(true);
	hwaddr len = 3 * PG;
	void *p = address_space_map(f->w->as, BASE + PG, &len, true, ATTRS);

	g_assert_true(p == f->p + PG);
	g_assert_cmphex(len, ==, 3 * PG);
	/* nothing is marked while the mapping is held */
	assert_pages(f->ram, VGA, "0000000000000000");
	address_space_unmap(f->w->as, p, len, true, PG + 1);
	assert_pages(f->ram, VGA, "0110000000000000");

	/* a read mapping marks nothing */
	len = PG;
	p = address_space_map(f->w->as, BASE + 8 * PG, &len, false, ATTRS);
	address_space_unmap(f->w->as, p, len, false, len);
	assert_pages(f->ram, VGA, "0110000000000000");
	fix_free(f);
}

static void test_cache_write_and_invalidate_mark(void)
{
	Fix *f = fix_new(true);
	MemoryRegionCache c = MEMORY_REGION_CACHE_INVALID;
	uint8_t b = 1;

	g_assert_cmpint(address_space_cache_init(&c, f->w->as, BASE + 4 * PG,
						 4 * PG, true), ==, 4 * PG);
	address_space_write_cached(&c, 0, &b, 1);
	address_space_stl_le_cached(&c, 2 * PG - 2, 1, ATTRS, NULL);
	assert_pages(f->ram, VGA, "0000111000000000");
	/* QEMU: address_space_cache_invalidate marks access_len bytes */
	memory_region_reset_dirty(f->ram, 0, RAM_SIZE, VGA);
	address_space_cache_invalidate(&c, 3 * PG, PG);
	assert_pages(f->ram, VGA, "0000000100000000");
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_test_and_clear(void)
{
	Fix *f = fix_new(true);

	memory_region_set_dirty(f->ram, 2 * PG, 2 * PG);
	assert_pages(f->ram, VGA, "0011000000000000");
	g_assert_false(memory_region_test_and_clear_dirty(f->ram, 0, 2 * PG,
							  VGA));
	g_assert_true(memory_region_test_and_clear_dirty(f->ram, PG, 2 * PG,
							 VGA));
	/* the range it looked at is clean now, the rest untouched */
	assert_pages(f->ram, VGA, "0001000000000000");
	g_assert_true(memory_region_test_and_clear_dirty(f->ram, 3 * PG, 1,
							 VGA));
	g_assert_false(memory_region_test_and_clear_dirty(f->ram, 3 * PG, 1,
							  VGA));
	fix_free(f);
}

static void test_reset(void)
{
	Fix *f = fix_new(true);

	memory_region_set_dirty(f->ram, 0, RAM_SIZE);
	assert_pages(f->ram, VGA, "1111111111111111");
	memory_region_reset_dirty(f->ram, 4 * PG, 8 * PG, VGA);
	assert_pages(f->ram, VGA, "1111000000001111");
	fix_free(f);
}

static void test_large_region_words(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *ram = lbt_new_ram(w, "big", 200 * PG);

	memory_region_add_subregion(w->root, 0, ram);
	memory_region_set_log(ram, true, VGA);
	/* pages 60..131 span three bitmap words on 64-bit hosts */
	memory_region_set_dirty(ram, 60 * PG, 72 * PG);
	g_assert_false(memory_region_get_dirty(ram, 0, 60 * PG, VGA));
	g_assert_true(memory_region_get_dirty(ram, 60 * PG, 1, VGA));
	g_assert_true(memory_region_get_dirty(ram, 131 * PG, PG, VGA));
	g_assert_false(memory_region_get_dirty(ram, 132 * PG, 68 * PG, VGA));
	memory_region_reset_dirty(ram, 61 * PG, 70 * PG, VGA);
	g_assert_true(memory_region_get_dirty(ram, 60 * PG, PG, VGA));
	g_assert_false(memory_region_get_dirty(ram, 61 * PG, 70 * PG, VGA));
	g_assert_true(memory_region_get_dirty(ram, 131 * PG, PG, VGA));
	lbt_world_free(w);
}

static void test_unaligned_ranges(void)
{
	Fix *f = fix_new(true);

	/* 2 bytes across the first page boundary touch pages 0 and 1 */
	memory_region_set_dirty(f->ram, PG - 1, 2);
	assert_pages(f->ram, VGA, "1100000000000000");
	memory_region_reset_dirty(f->ram, 0, RAM_SIZE, VGA);
	memory_region_set_dirty(f->ram, 5 * PG + 7, 1);
	g_assert_true(memory_region_get_dirty(f->ram, 4 * PG + 0x800,
					      PG - 0x800 + 8, VGA));
	g_assert_false(memory_region_get_dirty(f->ram, 4 * PG + 0x800,
					       PG - 0x800, VGA));
	/* clearing any byte of a page clears the page */
	g_assert_true(memory_region_test_and_clear_dirty(f->ram, 5 * PG + 0xfff,
							 1, VGA));
	assert_pages(f->ram, VGA, "0000000000000000");
	/* an empty range is never dirty */
	memory_region_set_dirty(f->ram, 0, PG);
	g_assert_false(memory_region_get_dirty(f->ram, 0, 0, VGA));
	fix_free(f);
}

static void test_set_dirty_every_client_in_mask(void)
{
	Fix *f = fix_new(true);

	/*
	 * Global dirty tracking (another part of the library) adds
	 * DIRTY_MEMORY_MIGRATION to memory_region_get_dirty_log_mask(); the
	 * region's own mask stands in for it here.
	 */
	f->ram->dirty_log_mask |= 1 << DIRTY_MEMORY_MIGRATION;
	memory_region_set_dirty(f->ram, PG, PG);
	assert_pages(f->ram, VGA, "0100000000000000");
	assert_pages(f->ram, DIRTY_MEMORY_MIGRATION, "0100000000000000");
	assert_pages(f->ram, DIRTY_MEMORY_CODE, "0000000000000000");
	/* clients are independent */
	memory_region_reset_dirty(f->ram, 0, RAM_SIZE, VGA);
	assert_pages(f->ram, VGA, "0000000000000000");
	assert_pages(f->ram, DIRTY_MEMORY_MIGRATION, "0100000000000000");
	fix_free(f);
}

static void test_snapshot(void)
{
	Fix *f = fix_new(true);
	DirtyBitmapSnapshot *snap;
	uint8_t b = 1;

	memory_region_set_dirty(f->ram, PG, 1);
	memory_region_set_dirty(f->ram, 5 * PG, 1);
	memory_region_set_dirty(f->ram, 9 * PG, 1);
	snap = memory_region_snapshot_and_clear_dirty(f->ram, 0, 8 * PG, VGA);
	g_assert_nonnull(snap);
	/* the bits it took are cleared; page 9 was outside and stays */
	assert_pages(f->ram, VGA, "0000000001000000");
	g_assert_true(memory_region_snapshot_get_dirty(f->ram, snap, PG, PG));
	g_assert_false(memory_region_snapshot_get_dirty(f->ram, snap, 2 * PG,
							PG));
	g_assert_true(memory_region_snapshot_get_dirty(f->ram, snap, 2 * PG,
						       4 * PG));
	/* later writes reach the bitmap, not the snapshot */
	address_space_write(f->w->as, BASE + 2 * PG, ATTRS, &b, 1);
	g_assert_false(memory_region_snapshot_get_dirty(f->ram, snap, 2 * PG,
							PG));
	g_assert_true(memory_region_get_dirty(f->ram, 2 * PG, PG, VGA));
	expect_critical("*outside the snapshot*");
	g_assert_false(memory_region_snapshot_get_dirty(f->ram, snap, 8 * PG,
							PG));
	g_test_assert_expected_messages();
	loopback_dirty_bitmap_snapshot_free(snap);

	/* an unaligned range snapshots the pages it touches */
	memory_region_set_dirty(f->ram, 3 * PG, 1);
	snap = memory_region_snapshot_and_clear_dirty(f->ram, 2 * PG + 0x10,
						      PG, VGA);
	g_assert_true(memory_region_snapshot_get_dirty(f->ram, snap, 3 * PG,
						       PG));
	g_assert_true(memory_region_snapshot_get_dirty(f->ram, snap, 2 * PG,
						       1));
	assert_pages(f->ram, VGA, "0000000001000000");
	loopback_dirty_bitmap_snapshot_free(snap);
	fix_free(f);
}

static void test_snapshot_other_region(void)
{
	Fix *f = fix_new(true);
	MemoryRegion *other = lbt_new_ram(f->w, "other", RAM_SIZE);
	DirtyBitmapSnapshot *snap;

	snap = memory_region_snapshot_and_clear_dirty(f->ram, 0, RAM_SIZE, VGA);
	expect_critical("*outside the snapshot*");
	g_assert_false(memory_region_snapshot_get_dirty(other, snap, 0, PG));
	g_test_assert_expected_messages();
	loopback_dirty_bitmap_snapshot_free(snap);
	fix_free(f);
}

static void test_out_of_range(void)
{
	Fix *f = fix_new(true);
	MemoryRegion *a = lbt_new_alias(f->w, "alias", f->ram, 0, PG);
	MemoryRegion *io = lbt_new_io(f->w, "io", PG);

	expect_critical("*outside ram*");
	g_assert_false(memory_region_get_dirty(f->ram, RAM_SIZE - 1, 2, VGA));
	g_test_assert_expected_messages();
	/* the end of the range would wrap: still refused */
	expect_critical("*outside ram*");
	memory_region_set_dirty(f->ram, 8, UINT64_MAX);
	g_test_assert_expected_messages();
	assert_pages(f->ram, VGA, "0000000000000000");
	expect_critical("*outside ram*");
	memory_region_reset_dirty(f->ram, RAM_SIZE + PG, 1, VGA);
	g_test_assert_expected_messages();
	expect_critical("*outside ram*");
	g_assert_null(memory_region_snapshot_and_clear_dirty(f->ram, PG,
							     RAM_SIZE, VGA));
	g_test_assert_expected_messages();
	/* QEMU asserts mr->ram_block: an alias or io region has none */
	expect_critical("*alias is not a RAM region*its target*");
	memory_region_set_dirty(a, 0, 1);
	g_test_assert_expected_messages();
	expect_critical("*io is not a RAM region*");
	g_assert_false(memory_region_test_and_clear_dirty(io, 0, 1, VGA));
	g_test_assert_expected_messages();
	expect_critical("*no dirty memory client 9*");
	g_assert_false(memory_region_get_dirty(f->ram, 0, 1, 9));
	g_test_assert_expected_messages();
	fix_free(f);
}

/*
 * A listener standing in for an accelerator that keeps its own dirty log
 * (QEMU's KVM listener): log_sync copies it into the library's bitmap, and
 * the trace records the order of the calls.
 */
typedef struct SyncListener {
	MemoryListener l;
	MemoryRegion *ram;
	hwaddr pending;		/* offset the "accelerator" saw written */
	GString *trace;
} SyncListener;

static void sl_log_sync(MemoryListener *l, MemoryRegionSection *s)
{
	SyncListener *sl = (SyncListener *)l;

	g_string_append_printf(sl->trace, "sync %s;", memory_region_name(s->mr));
	if (s->mr == sl->ram && sl->pending != HWADDR_MAX) {
		memory_region_set_dirty(sl->ram, sl->pending, 1);
		sl->pending = HWADDR_MAX;
	}
}

static void sl_after_sync(MemoryListener *l)
{
	g_string_append(((SyncListener *)l)->trace, "after;");
}

/*
 * QEMU's memory_region_snapshot_and_clear_dirty syncs the region's
 * sections through the listeners before it takes the bits, and runs
 * memory_global_after_dirty_log_sync afterwards: a page only the listener
 * knew about is in the snapshot.
 */
static void test_snapshot_syncs_listeners_first(void)
{
	Fix *f = fix_new(true);
	SyncListener sl = {
		.l = {
			.log_sync = sl_log_sync,
			.log_global_after_sync = sl_after_sync,
			.name = "sync",
		},
		.ram = f->ram,
		.pending = 6 * PG,
		.trace = g_string_new(""),
	};
	DirtyBitmapSnapshot *snap;

	memory_listener_register(&sl.l, f->w->as);
	g_string_truncate(sl.trace, 0);
	snap = memory_region_snapshot_and_clear_dirty(f->ram, 0, RAM_SIZE, VGA);
	g_assert_cmpstr(sl.trace->str, ==, "sync ram;after;");
	g_assert_true(memory_region_snapshot_get_dirty(f->ram, snap, 6 * PG,
						       PG));
	g_assert_false(memory_region_snapshot_get_dirty(f->ram, snap, 5 * PG,
							PG));
	/* taken by the snapshot */
	assert_pages(f->ram, VGA, "0000000000000000");
	loopback_dirty_bitmap_snapshot_free(snap);
	memory_listener_unregister(&sl.l);
	g_string_free(sl.trace, TRUE);
	fix_free(f);
}

/*
 * Global dirty tracking adds DIRTY_MEMORY_MIGRATION to every RAM range
 * (QEMU's memory_region_get_dirty_log_mask), so API writes mark the
 * migration bitmap while it is on, and only then.
 */
static void test_global_tracking_marks_migration(void)
{
	Fix *f = fix_new(false);
	uint32_t v = 0x12345678;
	g_autoptr(GError) err = NULL;

	address_space_write(f->w->as, BASE + PG, ATTRS, &v, sizeof(v));
	assert_pages(f->ram, DIRTY_MEMORY_MIGRATION, "0000000000000000");
	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						    &err));
	g_assert_no_error(err);
	g_assert_true(memory_region_is_logging(f->ram, DIRTY_MEMORY_MIGRATION));
	address_space_write(f->w->as, BASE + 3 * PG - 2, ATTRS, &v, sizeof(v));
	address_space_stq_le(f->w->as, BASE + 7 * PG, 1, ATTRS, NULL);
	assert_pages(f->ram, DIRTY_MEMORY_MIGRATION, "0011000100000000");
	/* VGA logging is off: its bitmap stays clean */
	assert_pages(f->ram, VGA, "0000000000000000");
	memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
	g_assert_false(memory_region_is_logging(f->ram,
						DIRTY_MEMORY_MIGRATION));
	memory_region_reset_dirty(f->ram, 0, RAM_SIZE, DIRTY_MEMORY_MIGRATION);
	address_space_write(f->w->as, BASE + 9 * PG, ATTRS, &v, sizeof(v));
	assert_pages(f->ram, DIRTY_MEMORY_MIGRATION, "0000000000000000");
	fix_free(f);
}

/* ---- ROM devices that write their own RAM ---- */

/*
 * A flash-like ROM device: a write stores the byte straight into its RAM
 * and flushes it, as QEMU's pflash does.
 */
static void flash_write(void *opaque, hwaddr addr, uint64_t data,
			unsigned size)
{
	MemoryRegion *mr = opaque;
	uint8_t *p = memory_region_get_ram_ptr(mr);

	memcpy(p + addr, &data, size);
	memory_region_flush_rom_device(mr, addr, size);
}

/* With ROMD off, reads come here: the same bytes, through the callback. */
static uint64_t flash_read(void *opaque, hwaddr addr, unsigned size)
{
	const uint8_t *p = memory_region_get_ram_ptr(opaque);
	uint64_t v = 0;

	memcpy(&v, p + addr, size);
	return v;
}

static const MemoryRegionOps flash_ops = {
	.read = flash_read,
	.write = flash_write,
	.endianness = DEVICE_NATIVE_ENDIAN,
};

static MemoryRegion *flash_new(Fix *f)
{
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;

	g_assert_true(memory_region_init_rom_device(mr, NULL, &flash_ops, mr,
						    "flash", RAM_SIZE, &err));
	g_assert_no_error(err);
	lbt_world_keep(f->w, mr);
	memory_region_add_subregion(f->w->root, 0x800000, mr);
	return mr;
}

/*
 * memory_region_flush_rom_device() marks the range for the clients in the
 * region's dirty-log mask (physmem.c's invalidate_and_set_dirty), here
 * from the device's own write callback: the written byte reads back
 * directly (ROMD) and its page is dirty.
 */
static void test_flush_rom_device_marks_logged_clients(void)
{
	Fix *f = fix_new(false);
	MemoryRegion *flash = flash_new(f);
	uint8_t b = 0x5a;
	GError *err = NULL;

	address_space_write(f->w->as, 0x800000 + 2 * PG + 3, ATTRS, &b, 1);
	assert_pages(flash, VGA, "0000000000000000");
	memory_region_set_log(flash, true, VGA);
	b = 0xa5;
	address_space_write(f->w->as, 0x800000 + 5 * PG, ATTRS, &b, 1);
	assert_pages(flash, VGA, "0000010000000000");
	b = 0;
	address_space_read(f->w->as, 0x800000 + 5 * PG, ATTRS, &b, 1);
	g_assert_cmphex(b, ==, 0xa5);

	/* a range over a page boundary; global tracking adds MIGRATION */
	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						    &err));
	g_assert_no_error(err);
	memory_region_flush_rom_device(flash, 8 * PG - 1, 2);
	assert_pages(flash, VGA, "0000010110000000");
	assert_pages(flash, DIRTY_MEMORY_MIGRATION, "0000000110000000");
	memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
	memory_region_set_log(flash, false, VGA);
	fix_free(f);
}

/* Only a ROM device in ROMD mode: QEMU asserts, here a critical. */
static void test_flush_rom_device_refuses_others(void)
{
	Fix *f = fix_new(true);
	MemoryRegion *flash = flash_new(f);

	memory_region_set_log(flash, true, VGA);
	memory_region_rom_device_set_romd(flash, false);
	expect_critical("*flash is not a ROM device in ROMD mode*");
	memory_region_flush_rom_device(flash, 0, PG);
	g_test_assert_expected_messages();
	assert_pages(flash, VGA, "0000000000000000");
	expect_critical("*ram is not a ROM device in ROMD mode*");
	memory_region_flush_rom_device(f->ram, 0, PG);
	g_test_assert_expected_messages();
	assert_pages(f->ram, VGA, "0000000000000000");
	memory_region_set_log(flash, false, VGA);
	fix_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();

	g_test_add_func("/dirty/set-log/nested-starts-need-as-many-stops",
			test_set_log_nests);
	g_test_add_func("/dirty/set-log/only-vga-client", test_set_log_bad_client);
	g_test_add_func("/dirty/set-log/alias-refused", test_set_log_alias);
	g_test_add_func("/dirty/write/marks-pages-across-boundary",
			test_write_marks_across_page_boundary);
	g_test_add_func("/dirty/write/not-marked-without-logging",
			test_write_without_logging_not_marked);
	g_test_add_func("/dirty/write/st-marks-touched-pages", test_st_marks);
	g_test_add_func("/dirty/write/write-rom-marks", test_write_rom_marks);
	g_test_add_func("/dirty/write/through-alias-marks-target",
			test_alias_write_marks_target);
	g_test_add_func("/dirty/write/unmap-marks-access-len",
			test_unmap_marks_access_len);
	g_test_add_func("/dirty/write/cached-write-and-invalidate-mark",
			test_cache_write_and_invalidate_mark);
	g_test_add_func("/dirty/test-and-clear/reports-and-clears-range",
			test_test_and_clear);
	g_test_add_func("/dirty/reset/clears-range-only", test_reset);
	g_test_add_func("/dirty/bitmap/ranges-across-words",
			test_large_region_words);
	g_test_add_func("/dirty/range/unaligned-covers-touched-pages",
			test_unaligned_ranges);
	g_test_add_func("/dirty/set-dirty/every-client-in-mask",
			test_set_dirty_every_client_in_mask);
	g_test_add_func("/dirty/snapshot/clears-and-answers-from-snapshot",
			test_snapshot);
	g_test_add_func("/dirty/snapshot/other-region-refused",
			test_snapshot_other_region);
	g_test_add_func("/dirty/range/out-of-range-critical", test_out_of_range);
	g_test_add_func("/dirty/snapshot/syncs-listeners-first",
			test_snapshot_syncs_listeners_first);
	g_test_add_func("/dirty/global/tracking-marks-migration",
			test_global_tracking_marks_migration);
	g_test_add_func("/dirty/flush-rom-device/marks-logged-clients",
			test_flush_rom_device_marks_logged_clients);
	g_test_add_func("/dirty/flush-rom-device/other-regions-critical",
			test_flush_rom_device_refuses_others);
	return g_test_run();
}
