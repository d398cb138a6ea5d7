/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MemoryRegionCache.  Expectations come from QEMU's system/physmem.c
 * (address_space_cache_init: the length is cut to the section it starts
 * in, extended over the same RAM region; a direct pointer only when
 * memory_access_is_direct(mr, is_write); destroy does nothing on a cache
 * whose mrs.mr is NULL; address_space_cache_invalidate marks access_len
 * bytes) and memory_ldst_cached.h.inc (the slow path of an ld/st sends the
 * whole op to the region).  Out-of-range accesses, which QEMU asserts on,
 * are refused here with a critical and MEMTX_DECODE_ERROR.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "testutil.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define IO_BASE 0x10000
#define IO_SIZE 0x100
#define RAM_BASE 0x100000
#define RAM_SIZE 0x4000

typedef struct Fix {
	LbtWorld *w;
	MemoryRegion *io;
	MemoryRegion *ram;
	uint8_t *p;
} Fix;

static Fix *fix_new(void)
{
	Fix *f = g_new0(Fix, 1);

	f->w = lbt_world_new(UINT64_MAX);
	f->io = lbt_new_io(f->w, "io", IO_SIZE);
	f->ram = lbt_new_ram(f->w, "ram", RAM_SIZE);
	f->p = memory_region_get_ram_ptr(f->ram);
	memory_region_add_subregion(f->w->root, IO_BASE, f->io);
	memory_region_add_subregion(f->w->root, RAM_BASE, f->ram);
	return f;
}

static void fix_free(Fix *f)
{
	lbt_world_free(f->w);
	g_free(f);
}

static void expect_critical(const char *pattern)
{
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, pattern);
}

static void test_ram_fast_path(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;
	static const uint8_t q[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t buf[8];
	MemTxResult r = ~0u;

	g_assert_cmpint(address_space_cache_init(&c, f->w->as, RAM_BASE + 0x100,
						 0x200, true), ==, 0x200);
	g_assert_cmpuint(address_space_write_cached(&c, 0x10, q, 8), ==,
			 MEMTX_OK);
	g_assert_cmpmem(f->p + 0x110, 8, q, 8);
	f->p[0x120] = 0xab;
	g_assert_cmpuint(address_space_read_cached(&c, 0x20, buf, 1), ==,
			 MEMTX_OK);
	g_assert_cmphex(buf[0], ==, 0xab);

	g_assert_cmphex(address_space_ldub_cached(&c, 0x10, ATTRS, &r), ==, 1);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmphex(address_space_lduw_le_cached(&c, 0x10, ATTRS, NULL),
			==, 0x0201);
	g_assert_cmphex(address_space_lduw_be_cached(&c, 0x10, ATTRS, NULL),
			==, 0x0102);
	g_assert_cmphex(address_space_ldl_le_cached(&c, 0x11, ATTRS, NULL),
			==, 0x05040302);
	g_assert_cmphex(address_space_ldl_be_cached(&c, 0x11, ATTRS, NULL),
			==, 0x02030405);
	g_assert_cmphex(address_space_ldq_le_cached(&c, 0x10, ATTRS, NULL),
			==, 0x0807060504030201ULL);
	g_assert_cmphex(address_space_ldq_be_cached(&c, 0x10, ATTRS, NULL),
			==, 0x0102030405060708ULL);

	address_space_stb_cached(&c, 0x40, 0x99, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmphex(f->p[0x140], ==, 0x99);
	address_space_stw_le_cached(&c, 0x42, 0x1122, ATTRS, NULL);
	g_assert_cmpmem(f->p + 0x142, 2, "\x22\x11", 2);
	address_space_stw_be_cached(&c, 0x44, 0x1122, ATTRS, NULL);
	g_assert_cmpmem(f->p + 0x144, 2, "\x11\x22", 2);
	address_space_stl_le_cached(&c, 0x49, 0x11223344, ATTRS, NULL);
	g_assert_cmpmem(f->p + 0x149, 4, "\x44\x33\x22\x11", 4);
	address_space_stl_be_cached(&c, 0x50, 0x11223344, ATTRS, NULL);
	g_assert_cmpmem(f->p + 0x150, 4, "\x11\x22\x33\x44", 4);
	address_space_stq_le_cached(&c, 0x58, 0x1122334455667788ULL, ATTRS,
				    NULL);
	g_assert_cmpmem(f->p + 0x158, 8, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	address_space_stq_be_cached(&c, 0x1f8, 0x1122334455667788ULL, ATTRS,
				    &r);
	g_assert_cmpmem(f->p + 0x2f8, 8, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_len_cut_at_region_end(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;

	g_assert_cmpint(address_space_cache_init(&c, f->w->as,
						 RAM_BASE + RAM_SIZE - 0x10,
						 0x1000, false), ==, 0x10);
	address_space_cache_destroy(&c);
	/* MMIO: cut to the section too (QEMU's int128_min(diff, l)) */
	g_assert_cmpint(address_space_cache_init(&c, f->w->as, IO_BASE + 0x80,
						 0x1000, false), ==, 0x80);
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_ram_extends_over_one_region(void)
{
	Fix *f = fix_new();
	MemoryRegion *r = lbt_new_ram(f->w, "r", 0x2000);
	MemoryRegion *lo = lbt_new_alias(f->w, "lo", r, 0, 0x1000);
	MemoryRegion *hi = lbt_new_alias(f->w, "hi", r, 0x1000, 0x1000);
	MemoryRegionCache c;
	uint32_t v = 0x5a5a5a5a;

	memory_region_set_unmergeable(hi, true);
	memory_region_add_subregion(f->w->root, 0x200000, lo);
	memory_region_add_subregion(f->w->root, 0x201000, hi);
	g_assert_cmpint(address_space_cache_init(&c, f->w->as, 0x200ffe, 8,
						 true), ==, 8);
	/* one direct copy across the two pieces */
	address_space_write_cached(&c, 0, &v, 4);
	g_assert_cmpmem((uint8_t *)memory_region_get_ram_ptr(r) + 0xffe, 4,
			&v, 4);
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_mmio_through_callbacks(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;
	uint8_t buf[8], expect[8];
	MemTxResult r = ~0u;
	char *want;

	address_space_read(f->w->as, IO_BASE + 0x18, ATTRS, expect, 8);
	lbt_dev_reset(&f->w->dev);
	g_assert_cmpint(address_space_cache_init(&c, f->w->as, IO_BASE + 0x10,
						 0x40, true), ==, 0x40);
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	g_assert_cmpuint(address_space_read_cached(&c, 8, buf, 8), ==,
			 MEMTX_OK);
	g_assert_cmpmem(buf, 8, expect, 8);
	address_space_stl_le_cached(&c, 0x20, 0xdeadbeef, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	address_space_stw_be_cached(&c, 0x24, 0x1234, ATTRS, NULL);
	lbt_dev_reset(&f->w->dev);
	g_assert_cmphex(address_space_ldl_le_cached(&c, 0x20, ATTRS, &r), ==,
			(uint32_t)lbt_dev_value(&f->w->dev, 0x30, 4));
	g_assert_cmpuint(r, ==, MEMTX_OK);
	/* the whole op goes to the device, at region offsets */
	want = g_strdup_printf("r 30 4 %" PRIx64 "\n",
			       lbt_dev_value(&f->w->dev, 0x30, 4));
	g_assert_cmpstr(f->w->dev.trace->str, ==, want);
	g_free(want);
	lbt_dev_reset(&f->w->dev);
	address_space_write_cached(&c, 0x30, "\x01\x02", 2);
	g_assert_cmpstr(f->w->dev.trace->str, ==, "w 40 2 201\n");
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_mmio_store_order(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;

	address_space_cache_init(&c, f->w->as, IO_BASE, IO_SIZE, true);
	address_space_stl_le_cached(&c, 0x20, 0xdeadbeef, ATTRS, NULL);
	address_space_stw_be_cached(&c, 0x24, 0x1234, ATTRS, NULL);
	/* little-endian device: a big-endian store arrives swapped */
	g_assert_cmpstr(f->w->dev.trace->str, ==,
			"w 20 4 deadbeef\n"
			"w 24 2 3412\n");
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_out_of_range(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;
	uint8_t buf[4] = { 0x11, 0x11, 0x11, 0x11 };
	MemTxResult r = MEMTX_OK;

	address_space_cache_init(&c, f->w->as, RAM_BASE, 0x10, true);
	memset(f->p, 0x22, 0x20);
	expect_critical("*0xe+0x4 is outside the 0x10-byte cache*");
	g_assert_cmpuint(address_space_read_cached(&c, 0xe, buf, 4), ==,
			 MEMTX_DECODE_ERROR);
	g_test_assert_expected_messages();
	g_assert_cmpmem(buf, 4, "\x11\x11\x11\x11", 4);
	expect_critical("*outside the 0x10-byte cache*");
	g_assert_cmphex(address_space_ldl_le_cached(&c, 0xd, ATTRS, &r), ==, 0);
	g_test_assert_expected_messages();
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	expect_critical("*outside the 0x10-byte cache*");
	address_space_stq_le_cached(&c, 0x10, 0, ATTRS, &r);
	g_test_assert_expected_messages();
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	/* an offset that would wrap is refused too */
	expect_critical("*outside the 0x10-byte cache*");
	g_assert_cmpuint(address_space_write_cached(&c, 8, buf, UINT64_MAX),
			 ==, MEMTX_DECODE_ERROR);
	g_test_assert_expected_messages();
	g_assert_cmphex(f->p[0x10], ==, 0x22);
	g_assert_cmphex(f->p[0x8], ==, 0x22);
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_write_needs_is_write(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;

	address_space_cache_init(&c, f->w->as, RAM_BASE, 0x10, false);
	expect_critical("*initialised for reading*");
	g_assert_cmpuint(address_space_write_cached(&c, 0, "x", 1), ==,
			 MEMTX_DECODE_ERROR);
	g_test_assert_expected_messages();
	g_assert_cmphex(f->p[0], ==, 0);
	/* QEMU asserts cache->is_write in invalidate */
	expect_critical("*initialised for reading*");
	address_space_cache_invalidate(&c, 0, 1);
	g_test_assert_expected_messages();
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_rom_write_cache_not_direct(void)
{
	Fix *f = fix_new();
	MemoryRegion *rom = lbt_new_rom(f->w, "rom", 0x1000);
	uint8_t *p = memory_region_get_ram_ptr(rom);
	MemoryRegionCache c;
	MemTxResult r = MEMTX_OK;

	memory_region_add_subregion(f->w->root, 0x300000, rom);
	/* reading a ROM is direct */
	address_space_cache_init(&c, f->w->as, 0x300000, 0x100, false);
	g_assert_nonnull(c.ptr);
	address_space_cache_destroy(&c);
	/* writing it is not: the write is dropped as dispatch drops it */
	address_space_cache_init(&c, f->w->as, 0x300000, 0x100, true);
	g_assert_null(c.ptr);
	address_space_stl_le_cached(&c, 0, 0xffffffff, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(p[0], ==, 0);
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_invalidate_marks_dirty(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;

	memory_region_set_log(f->ram, true, DIRTY_MEMORY_VGA);
	address_space_cache_init(&c, f->w->as, RAM_BASE + 0x1000, 0x2000, true);
	f->p[0x2000] = 1;	/* behind the API's back, as ring code does */
	g_assert_false(memory_region_get_dirty(f->ram, 0, RAM_SIZE,
					       DIRTY_MEMORY_VGA));
	address_space_cache_invalidate(&c, 0x1000, 1);
	g_assert_true(memory_region_get_dirty(f->ram, 0x2000, 0x1000,
					      DIRTY_MEMORY_VGA));
	g_assert_false(memory_region_get_dirty(f->ram, 0, 0x2000,
					       DIRTY_MEMORY_VGA));
	g_assert_false(memory_region_get_dirty(f->ram, 0x3000, 0x1000,
					       DIRTY_MEMORY_VGA));
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_destroy_invalid(void)
{
	MemoryRegionCache c = MEMORY_REGION_CACHE_INVALID;
	Fix *f = fix_new();

	address_space_cache_destroy(&c);
	address_space_cache_init(&c, f->w->as, RAM_BASE, 8, false);
	address_space_cache_destroy(&c);
	/* twice is fine: destroy leaves an invalid cache */
	address_space_cache_destroy(&c);
	expect_critical("*not initialised*");
	g_assert_cmpuint(address_space_read_cached(&c, 0, &c, 1), ==,
			 MEMTX_DECODE_ERROR);
	g_test_assert_expected_messages();
	/* zero bytes fit the invalid cache's length 0: still refused */
	expect_critical("*read_cached: the cache is not initialised*");
	g_assert_cmpuint(address_space_read_cached(&c, 0, &c, 0), ==,
			 MEMTX_DECODE_ERROR);
	g_test_assert_expected_messages();
	expect_critical("*invalidate: the cache is not initialised*");
	address_space_cache_invalidate(&c, 0, 0);
	g_test_assert_expected_messages();
	fix_free(f);
}

static void test_init_errors(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;

	/* nothing mapped there */
	g_assert_cmpint(address_space_cache_init(&c, f->w->as, 0x900000, 8,
						 false), ==, -EFAULT);
	address_space_cache_destroy(&c);
	/* QEMU asserts len > 0 */
	expect_critical("*empty range*");
	g_assert_cmpint(address_space_cache_init(&c, f->w->as, RAM_BASE, 0,
						 false), ==, -EINVAL);
	g_test_assert_expected_messages();
	address_space_cache_destroy(&c);
	fix_free(f);
}

static void test_holds_region_ref(void)
{
	Fix *f = fix_new();
	MemoryRegion *r = lbt_region_alloc();
	unsigned int freed = 0;
	MemoryRegionCache c;
	uint8_t b = 0;

	g_assert_true(memory_region_init_ram(r, NULL, "r", 0x1000, NULL));
	loopback_memory_region_set_free_notify(r, lbt_count_notify, &freed);
	memory_region_add_subregion(f->w->root, 0x400000, r);
	address_space_cache_init(&c, f->w->as, 0x400000, 0x1000, true);
	memory_region_del_subregion(f->w->root, r);
	memory_region_unref(r);
	lbt_drain();
	g_assert_cmpuint(freed, ==, 0);
	/* the cached translation still reaches the RAM */
	address_space_stb_cached(&c, 5, 0x42, ATTRS, NULL);
	address_space_read_cached(&c, 5, &b, 1);
	g_assert_cmphex(b, ==, 0x42);
	address_space_cache_destroy(&c);
	g_assert_cmpuint(freed, ==, 1);
	g_free(r);
	fix_free(f);
}

typedef struct Writer {
	MemoryRegionCache *c;
	gint stop;
	gint writes;
} Writer;

static gpointer writer_main(gpointer data)
{
	Writer *wr = data;

	while (!g_atomic_int_get(&wr->stop) ||
	       g_atomic_int_get(&wr->writes) < 1000) {
		address_space_stl_le_cached(wr->c, 0, 1, ATTRS, NULL);
		g_atomic_int_inc(&wr->writes);
	}
	return NULL;
}

/*
 * A device thread writes through a cache while the main thread turns VGA
 * logging and global dirty tracking on and off: each write reads the
 * region's current dirty mask (QEMU's invalidate_and_set_dirty does), so
 * the mask's loads and stores must be atomic.  A ThreadSanitizer build
 * fails here if they are not; every build checks that logging turned on
 * before a write sees it.
 */
static void test_write_while_logging_changes(void)
{
	Fix *f = fix_new();
	MemoryRegionCache c;
	Writer wr = { .c = &c };
	GThread *t;

	g_assert_cmpint(address_space_cache_init(&c, f->w->as, RAM_BASE, 0x10,
						 true), ==, 0x10);
	t = g_thread_new("cache-writer", writer_main, &wr);
	for (unsigned int i = 0; i < 200; i++) {
		memory_region_set_log(f->ram, true, DIRTY_MEMORY_VGA);
		memory_region_set_log(f->ram, false, DIRTY_MEMORY_VGA);
		g_assert_true(memory_global_dirty_log_start(
				GLOBAL_DIRTY_MIGRATION, NULL));
		memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
	}
	g_atomic_int_set(&wr.stop, 1);
	g_thread_join(t);
	memory_region_reset_dirty(f->ram, 0, RAM_SIZE, DIRTY_MEMORY_VGA);
	memory_region_set_log(f->ram, true, DIRTY_MEMORY_VGA);
	address_space_stl_le_cached(&c, 0, 2, ATTRS, NULL);
	g_assert_true(memory_region_get_dirty(f->ram, 0, 4, DIRTY_MEMORY_VGA));
	memory_region_set_log(f->ram, false, DIRTY_MEMORY_VGA);
	address_space_cache_destroy(&c);
	fix_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();

	g_test_add_func("/cache/ram/direct-accessors", test_ram_fast_path);
	g_test_add_func("/cache/ram/extends-over-adjacent-pieces-of-one-region",
			test_ram_extends_over_one_region);
	g_test_add_func("/cache/init/length-cut-at-section-end",
			test_len_cut_at_region_end);
	g_test_add_func("/cache/init/errors", test_init_errors);
	g_test_add_func("/cache/mmio/through-callbacks",
			test_mmio_through_callbacks);
	g_test_add_func("/cache/mmio/store-byte-order", test_mmio_store_order);
	g_test_add_func("/cache/rom/write-cache-not-direct",
			test_rom_write_cache_not_direct);
	g_test_add_func("/cache/out-of-range/critical-and-decode-error",
			test_out_of_range);
	g_test_add_func("/cache/write/needs-is-write", test_write_needs_is_write);
	g_test_add_func("/cache/invalidate/marks-dirty",
			test_invalidate_marks_dirty);
	g_test_add_func("/cache/destroy/invalid-cache-is-noop",
			test_destroy_invalid);
	g_test_add_func("/cache/lifetime/holds-region-reference",
			test_holds_region_ref);
	g_test_add_func("/cache/write/while-logging-changes-on-another-thread",
			test_write_while_logging_changes);
	return g_test_run();
}
