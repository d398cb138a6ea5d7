/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * address_space_map/unmap.  Expectations come from QEMU 9.1+'s
 * system/physmem.c: address_space_map (direct RAM extended by
 * flatview_extend_translation over the same region at continuous offsets;
 * otherwise a bounce buffer of MIN(len, budget left), taken with a cmpxchg
 * loop, NULL with *plen = 0 when none is left, pre-filled with a read),
 * address_space_unmap (write back access_len bytes, give the budget back,
 * notify and remove every map client) and address_space_register_map_client
 * (notifies at once when bounce_buffer_size < max_bounce_buffer_size).
 */
#include "config.h"

#include <string.h>

#include "testutil.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define IO_BASE 0x10000
#define IO_SIZE 0x4000
#define RAM_BASE 0x100000

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
	f->ram = lbt_new_ram(f->w, "ram", 0x4000);
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

static void test_ram_direct(void)
{
	Fix *f = fix_new();
	hwaddr len = 0x100;
	void *p = address_space_map(f->w->as, RAM_BASE + 0x10, &len, true,
				    ATTRS);

	g_assert_true(p == f->p + 0x10);
	g_assert_cmphex(len, ==, 0x100);
	/* clamped to the region's end */
	address_space_unmap(f->w->as, p, len, true, len);
	len = 0x10000;
	p = address_space_map(f->w->as, RAM_BASE + 0x3000, &len, false, ATTRS);
	g_assert_true(p == f->p + 0x3000);
	g_assert_cmphex(len, ==, 0x1000);
	address_space_unmap(f->w->as, p, len, false, 0);
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	fix_free(f);
}

/* Two flat ranges of one RAM region, kept apart by an unmergeable alias. */
static MemoryRegion *split_ram(Fix *f, bool hi_readonly)
{
	MemoryRegion *r = lbt_new_ram(f->w, "r", 0x2000);
	MemoryRegion *lo = lbt_new_alias(f->w, "lo", r, 0, 0x1000);
	MemoryRegion *hi = lbt_new_alias(f->w, "hi", r, 0x1000, 0x1000);

	memory_region_set_unmergeable(hi, true);
	memory_region_set_readonly(hi, hi_readonly);
	memory_region_add_subregion(f->w->root, 0x200000, lo);
	memory_region_add_subregion(f->w->root, 0x201000, hi);
	return r;
}

static void test_extends_over_one_region(void)
{
	Fix *f = fix_new();
	MemoryRegion *r = split_ram(f, false);
	GArray *ranges = lbt_flat_ranges(f->w->as);
	hwaddr len = 0x2000;
	void *p;

	/* io, ram, lo, hi: the two pieces of r are separate ranges */
	g_assert_cmpuint(ranges->len, ==, 4);
	g_array_unref(ranges);
	p = address_space_map(f->w->as, 0x200800, &len, true, ATTRS);
	g_assert_true(p == (uint8_t *)memory_region_get_ram_ptr(r) + 0x800);
	g_assert_cmphex(len, ==, 0x1800);
	address_space_unmap(f->w->as, p, len, true, len);
	fix_free(f);
}

static void test_extend_stops_at_readonly_piece(void)
{
	Fix *f = fix_new();
	MemoryRegion *r = split_ram(f, true);
	hwaddr len = 0x2000;
	void *p;

	/* libloopback: a write mapping never reaches RAM seen readonly */
	p = address_space_map(f->w->as, 0x200000, &len, true, ATTRS);
	g_assert_true(p == memory_region_get_ram_ptr(r));
	g_assert_cmphex(len, ==, 0x1000);
	address_space_unmap(f->w->as, p, len, true, 0);
	len = 0x2000;
	p = address_space_map(f->w->as, 0x200000, &len, false, ATTRS);
	g_assert_cmphex(len, ==, 0x2000);
	address_space_unmap(f->w->as, p, len, false, 0);
	fix_free(f);
}

static void test_not_across_blocks(void)
{
	Fix *f = fix_new();
	MemoryRegion *a = lbt_new_ram(f->w, "a", 0x1000);
	MemoryRegion *b = lbt_new_ram(f->w, "b", 0x1000);
	hwaddr len = 0x2000;
	void *p;

	memory_region_add_subregion(f->w->root, 0x300000, a);
	memory_region_add_subregion(f->w->root, 0x301000, b);
	p = address_space_map(f->w->as, 0x300000, &len, true, ATTRS);
	g_assert_true(p == memory_region_get_ram_ptr(a));
	g_assert_cmphex(len, ==, 0x1000);
	address_space_unmap(f->w->as, p, len, true, len);
	fix_free(f);
}

/*
 * QEMU's address_space_map bounces the length flatview_translate left,
 * and translation cuts RAM (a ROM too) at the end of its range: a write
 * mapping of a ROM does not run on into what follows it.
 */
static void test_bounce_of_rom_cut_at_range_end(void)
{
	Fix *f = fix_new();
	MemoryRegion *rom = lbt_new_ram(f->w, "rom", 0x1000);
	hwaddr len = 0x2000;
	void *p;

	memory_region_set_readonly(rom, true);
	memory_region_add_subregion(f->w->root, 0x500000, rom);
	loopback_address_space_set_max_bounce_buffer_size(f->w->as, 0x10000);
	p = address_space_map(f->w->as, 0x500000, &len, true, ATTRS);
	g_assert_nonnull(p);
	g_assert_false(p == memory_region_get_ram_ptr(rom));
	g_assert_cmphex(len, ==, 0x1000);
	address_space_unmap(f->w->as, p, len, true, 0);
	g_assert_cmpuint(f->w->as->bounce_buffer_size, ==, 0);
	fix_free(f);
}

static void test_mmio_bounce_read_prefilled(void)
{
	Fix *f = fix_new();
	uint8_t expect[8];
	hwaddr len = 8;
	uint8_t *p;

	address_space_read(f->w->as, IO_BASE + 0x20, ATTRS, expect, 8);
	lbt_dev_reset(&f->w->dev);
	p = address_space_map(f->w->as, IO_BASE + 0x20, &len, false, ATTRS);
	g_assert_nonnull(p);
	g_assert_cmphex(len, ==, 8);
	/* pre-filled by a normal read: two 4-byte device reads */
	g_assert_cmpmem(p, 8, expect, 8);
	g_assert_cmpuint(f->w->dev.calls, ==, 2);
	address_space_unmap(f->w->as, p, len, false, len);
	g_assert_cmpuint(f->w->dev.calls, ==, 2);
	g_assert_cmpuint(f->w->as->bounce_buffer_size, ==, 0);
	fix_free(f);
}

static void test_mmio_bounce_write_back(void)
{
	Fix *f = fix_new();
	hwaddr len = 16;
	uint8_t *p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);

	g_assert_nonnull(p);
	g_assert_cmphex(len, ==, 16);
	/* a write mapping is not pre-filled */
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	for (unsigned int i = 0; i < 16; i++)
		p[i] = 0x10 + i;
	address_space_unmap(f->w->as, p, len, true, 6);
	/* access_len bytes only, split as address_space_write splits them */
	g_assert_cmpstr(f->w->dev.trace->str, ==,
			"w 0 4 13121110\n"
			"w 4 2 1514\n");
	fix_free(f);
}

static void test_budget_exhausted(void)
{
	Fix *f = fix_new();
	hwaddr len = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
	void *p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	void *q;

	g_assert_nonnull(p);
	g_assert_cmphex(len, ==, DEFAULT_MAX_BOUNCE_BUFFER_SIZE);
	len = 4;
	q = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	g_assert_null(q);
	g_assert_cmphex(len, ==, 0);
	/* RAM still maps directly */
	len = 4;
	q = address_space_map(f->w->as, RAM_BASE, &len, true, ATTRS);
	g_assert_true(q == f->p);
	address_space_unmap(f->w->as, q, len, true, 0);
	address_space_unmap(f->w->as, p, DEFAULT_MAX_BOUNCE_BUFFER_SIZE, true, 0);
	len = 4;
	q = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	g_assert_nonnull(q);
	address_space_unmap(f->w->as, q, len, true, 0);
	fix_free(f);
}

static void test_budget_partial(void)
{
	Fix *f = fix_new();
	hwaddr len = 3000;
	void *p = address_space_map(f->w->as, IO_BASE, &len, false, ATTRS);
	void *q;

	g_assert_cmphex(len, ==, 3000);
	len = 2000;
	q = address_space_map(f->w->as, IO_BASE, &len, false, ATTRS);
	g_assert_nonnull(q);
	g_assert_cmphex(len, ==, DEFAULT_MAX_BOUNCE_BUFFER_SIZE - 3000);
	address_space_unmap(f->w->as, q, len, false, 0);
	address_space_unmap(f->w->as, p, 3000, false, 0);
	g_assert_cmpuint(f->w->as->bounce_buffer_size, ==, 0);
	fix_free(f);
}

static void test_set_max(void)
{
	Fix *f = fix_new();
	hwaddr len = 0x1000;
	void *p;

	loopback_address_space_set_max_bounce_buffer_size(f->w->as, 100);
	p = address_space_map(f->w->as, IO_BASE, &len, false, ATTRS);
	g_assert_cmphex(len, ==, 100);
	address_space_unmap(f->w->as, p, len, false, 0);
	fix_free(f);
}

static void count_cb(void *opaque)
{
	(*(unsigned int *)opaque)++;
}

static void test_client_notified_once(void)
{
	Fix *f = fix_new();
	hwaddr len = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
	void *p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	unsigned int a = 0, b = 0;

	address_space_register_map_client(f->w->as, count_cb, &a);
	address_space_register_map_client(f->w->as, count_cb, &b);
	/* no budget: nobody is called yet */
	g_assert_cmpuint(a, ==, 0);
	g_assert_cmpuint(b, ==, 0);
	address_space_unmap(f->w->as, p, len, true, 0);
	g_assert_cmpuint(a, ==, 1);
	g_assert_cmpuint(b, ==, 1);
	/* notified clients are removed */
	len = 8;
	p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	address_space_unmap(f->w->as, p, len, true, 0);
	g_assert_cmpuint(a, ==, 1);
	g_assert_cmpuint(b, ==, 1);
	fix_free(f);
}

static void test_client_immediate(void)
{
	Fix *f = fix_new();
	unsigned int a = 0;
	hwaddr len = 8;
	void *p;

	address_space_register_map_client(f->w->as, count_cb, &a);
	g_assert_cmpuint(a, ==, 1);
	p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	address_space_unmap(f->w->as, p, len, true, 0);
	g_assert_cmpuint(a, ==, 1);
	/* partially used budget is still budget */
	len = 8;
	p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	address_space_register_map_client(f->w->as, count_cb, &a);
	g_assert_cmpuint(a, ==, 2);
	address_space_unmap(f->w->as, p, len, true, 0);
	fix_free(f);
}

static void test_client_unregistered(void)
{
	Fix *f = fix_new();
	hwaddr len = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
	void *p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	unsigned int a = 0, b = 0;

	address_space_register_map_client(f->w->as, count_cb, &a);
	address_space_register_map_client(f->w->as, count_cb, &b);
	address_space_unregister_map_client(f->w->as, count_cb, &a);
	address_space_unmap(f->w->as, p, len, true, 0);
	g_assert_cmpuint(a, ==, 0);
	g_assert_cmpuint(b, ==, 1);
	/* unregistering one already notified is harmless */
	address_space_unregister_map_client(f->w->as, count_cb, &b);
	fix_free(f);
}

typedef struct Remap {
	AddressSpace *as;
	void *p;
	hwaddr len;
} Remap;

static void remap_cb(void *opaque)
{
	Remap *r = opaque;

	/* called without the map lock: mapping again works */
	r->len = 16;
	r->p = address_space_map(r->as, IO_BASE, &r->len, true, ATTRS);
}

static void test_client_maps_from_callback(void)
{
	Fix *f = fix_new();
	hwaddr len = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
	void *p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	Remap r = { .as = f->w->as };

	address_space_register_map_client(f->w->as, remap_cb, &r);
	g_assert_null(r.p);
	address_space_unmap(f->w->as, p, len, true, 0);
	g_assert_nonnull(r.p);
	g_assert_cmphex(r.len, ==, 16);
	address_space_unmap(f->w->as, r.p, r.len, true, 0);
	fix_free(f);
}

static void test_budget_per_address_space(void)
{
	Fix *f = fix_new();
	AddressSpace *as2 = lbt_as_new(f->w->root, "second");
	hwaddr len = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
	void *p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);
	unsigned int a = 0;
	void *q;

	len = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
	q = address_space_map(as2, IO_BASE, &len, true, ATTRS);
	g_assert_nonnull(q);
	g_assert_cmphex(len, ==, DEFAULT_MAX_BOUNCE_BUFFER_SIZE);
	/* freeing in one space does not notify the other's clients */
	address_space_register_map_client(as2, count_cb, &a);
	address_space_unmap(f->w->as, p, DEFAULT_MAX_BOUNCE_BUFFER_SIZE, true, 0);
	g_assert_cmpuint(a, ==, 0);
	address_space_unmap(as2, q, DEFAULT_MAX_BOUNCE_BUFFER_SIZE, true, 0);
	g_assert_cmpuint(a, ==, 1);
	lbt_as_free(as2);
	fix_free(f);
}

static void test_ref_held_while_mapped(void)
{
	Fix *f = fix_new();
	MemoryRegion *r = lbt_region_alloc();
	unsigned int freed = 0;
	hwaddr len = 0x100;
	uint8_t *p;

	g_assert_true(memory_region_init_ram(r, NULL, "r", 0x1000, NULL));
	loopback_memory_region_set_free_notify(r, lbt_count_notify, &freed);
	memory_region_add_subregion(f->w->root, 0x400000, r);
	p = address_space_map(f->w->as, 0x400000, &len, true, ATTRS);
	g_assert_nonnull(p);
	memory_region_del_subregion(f->w->root, r);
	memory_region_unref(r);
	lbt_drain();
	/* QEMU takes memory_region_ref at map: the RAM stays */
	g_assert_cmpuint(freed, ==, 0);
	p[0] = 1;
	address_space_unmap(f->w->as, p, len, true, 1);
	g_assert_cmpuint(freed, ==, 1);
	g_free(r);
	fix_free(f);
}

static void test_zero_len(void)
{
	Fix *f = fix_new();
	hwaddr len = 0;

	g_assert_null(address_space_map(f->w->as, RAM_BASE, &len, true, ATTRS));
	g_assert_cmphex(len, ==, 0);
	fix_free(f);
}

static void test_unmap_unknown(void)
{
	Fix *f = fix_new();
	uint8_t local[8];
	hwaddr len = 8;
	void *p;

	expect_critical("*was not returned by address_space_map*");
	address_space_unmap(f->w->as, local, 8, true, 8);
	g_test_assert_expected_messages();
	/* a pointer into RAM that has no mapping */
	expect_critical("*was not returned by address_space_map*");
	address_space_unmap(f->w->as, f->p + 8, 8, false, 0);
	g_test_assert_expected_messages();
	/* unmapping a bounce twice */
	p = address_space_map(f->w->as, IO_BASE, &len, false, ATTRS);
	address_space_unmap(f->w->as, p, len, false, 0);
	expect_critical("*was not returned by address_space_map*");
	address_space_unmap(f->w->as, p, len, false, 0);
	g_test_assert_expected_messages();
	g_assert_cmpuint(f->w->as->bounce_buffer_size, ==, 0);
	fix_free(f);
}

static void test_access_len_too_long(void)
{
	Fix *f = fix_new();
	hwaddr len = 4;
	void *p = address_space_map(f->w->as, IO_BASE, &len, true, ATTRS);

	memset(p, 0xee, 4);
	expect_critical("*beyond the 0x4-byte mapping*");
	address_space_unmap(f->w->as, p, len, true, 64);
	g_test_assert_expected_messages();
	/* only the mapping is written back */
	g_assert_cmpstr(f->w->dev.trace->str, ==, "w 0 4 eeeeeeee\n");
	fix_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();

	g_test_add_func("/map/ram/direct-pointer-clamped-to-region",
			test_ram_direct);
	g_test_add_func("/map/ram/extends-over-adjacent-pieces-of-one-region",
			test_extends_over_one_region);
	g_test_add_func("/map/ram/write-extension-stops-at-readonly-piece",
			test_extend_stops_at_readonly_piece);
	g_test_add_func("/map/ram/not-across-different-blocks",
			test_not_across_blocks);
	g_test_add_func("/map/ram/region-ref-held-until-unmap",
			test_ref_held_while_mapped);
	g_test_add_func("/map/zero-length-is-null", test_zero_len);
	g_test_add_func("/map/rom/write-bounce-cut-at-range-end",
			test_bounce_of_rom_cut_at_range_end);
	g_test_add_func("/map/mmio/bounce-read-prefilled",
			test_mmio_bounce_read_prefilled);
	g_test_add_func("/map/mmio/write-back-access-len-on-unmap",
			test_mmio_bounce_write_back);
	g_test_add_func("/map/budget/exhausted-null-and-zero-len",
			test_budget_exhausted);
	g_test_add_func("/map/budget/partial-cuts-length", test_budget_partial);
	g_test_add_func("/map/budget/set-max", test_set_max);
	g_test_add_func("/map/budget/per-address-space",
			test_budget_per_address_space);
	g_test_add_func("/map/client/notified-once-on-unmap",
			test_client_notified_once);
	g_test_add_func("/map/client/immediately-when-budget-free",
			test_client_immediate);
	g_test_add_func("/map/client/unregistered-never-called",
			test_client_unregistered);
	g_test_add_func("/map/client/may-map-from-callback",
			test_client_maps_from_callback);
	g_test_add_func("/map/unmap/unknown-pointer-critical",
			test_unmap_unknown);
	g_test_add_func("/map/unmap/access-len-beyond-mapping-critical",
			test_access_len_too_long);
	return g_test_run();
}
