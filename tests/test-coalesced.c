/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Coalesced MMIO: which listener calls come when, and the flush.
 *
 * From QEMU's system/memory.c: memory_region_add_coalescing() appends the
 * range and calls memory_region_update_coalesced_range(), which for every
 * address space and every flat range of the region sends the part of the
 * range that flat range shows (flat_range_coalesced_io_notify():
 * coalesced_io_add forward, coalesced_io_del in reverse) — no begin or
 * commit.  memory_region_clear_coalescing() flushes, then removes the
 * ranges in order, each notified the same way.  In a commit, the del pass
 * sends coalesced_io_del before region_del, the add pass coalesced_io_add
 * after region_add (address_space_update_topology_pass()).  Accesses to a
 * region with flush_coalesced_mmio flush first (physmem.c,
 * prepare_mmio_access()), and so does memory_region_transaction_begin().
 */
#include "config.h"

#include <string.h>

#include "trace-listener.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED

typedef struct Fix {
	LbtWorld *w;
	GString *tr;
	TraceListener a, b;
	MemoryRegion *x;	/* io at 0x1000, size 0x1000 */
	MemoryRegion *top;	/* io over x at 0x1400, size 0x400, prio 1 */
} Fix;

/* x shows as x[1000,1400)@0 and x[1800,2000)@800 around top. */
static void fix_init(Fix *f)
{
	f->w = lbt_world_new(UINT64_MAX);
	f->tr = g_string_new(NULL);
	f->x = lbt_new_io(f->w, "x", 0x1000);
	f->top = lbt_new_io(f->w, "top", 0x400);
	memory_region_add_subregion(f->w->root, 0x1000, f->x);
	memory_region_add_subregion_overlap(f->w->root, 0x1400, f->top, 1);
	tl_init(&f->a, "A", f->tr, 0);
	tl_init(&f->b, "B", f->tr, 1);
	memory_listener_register(&f->a.l, f->w->as);
	memory_listener_register(&f->b.l, f->w->as);
	g_string_truncate(f->tr, 0);
}

static void fix_free(Fix *f)
{
	memory_listener_unregister(&f->a.l);
	memory_listener_unregister(&f->b.l);
	lbt_world_free(f->w);
	g_string_free(f->tr, TRUE);
	loopback_set_coalesced_mmio_flush(NULL, NULL);
	loopback_memory_drain();
	g_assert_cmpuint(lbt_live(), ==, 0);
}

static void test_add_clear_order(void)
{
	Fix f;

	fix_init(&f);
	/* [0x200, 0xa00) of x: both visible pieces get their part */
	memory_region_add_coalescing(f.x, 0x200, 0x800);
	tl_assert(f.tr,
		  "A coalesced_add x[1000,1400)@0 1200+200",
		  "B coalesced_add x[1000,1400)@0 1200+200",
		  "A coalesced_add x[1800,2000)@800 1800+200",
		  "B coalesced_add x[1800,2000)@800 1800+200");
	/* a range only the hidden part holds: nobody hears of it */
	memory_region_add_coalescing(f.x, 0x500, 0x100);
	tl_assert(f.tr, "");
	memory_region_add_coalescing(f.x, 0xf00, 0x100);
	tl_assert(f.tr, "A coalesced_add x[1800,2000)@800 1f00+100",
		  "B coalesced_add x[1800,2000)@800 1f00+100");

	memory_region_clear_coalescing(f.x);
	tl_assert(f.tr,
		  "B coalesced_del x[1000,1400)@0 1200+200",
		  "A coalesced_del x[1000,1400)@0 1200+200",
		  "B coalesced_del x[1800,2000)@800 1800+200",
		  "A coalesced_del x[1800,2000)@800 1800+200",
		  "B coalesced_del x[1800,2000)@800 1f00+100",
		  "A coalesced_del x[1800,2000)@800 1f00+100");
	/* clearing nothing says nothing */
	memory_region_clear_coalescing(f.x);
	tl_assert(f.tr, "");
	fix_free(&f);
}

/* set_coalescing: the whole region, after clearing what was there. */
static void test_set_whole_region(void)
{
	Fix f;

	fix_init(&f);
	memory_region_add_coalescing(f.x, 0, 0x10);
	g_string_truncate(f.tr, 0);
	memory_region_set_coalescing(f.x);
	tl_assert(f.tr,
		  "B coalesced_del x[1000,1400)@0 1000+10",
		  "A coalesced_del x[1000,1400)@0 1000+10",
		  "A coalesced_add x[1000,1400)@0 1000+400",
		  "B coalesced_add x[1000,1400)@0 1000+400",
		  "A coalesced_add x[1800,2000)@800 1800+800",
		  "B coalesced_add x[1800,2000)@800 1800+800");
	fix_free(&f);
}

/* In a commit: del pass coalesced_del then region_del, add pass the mirror. */
static void test_topology(void)
{
	Fix f;

	fix_init(&f);
	memory_region_add_coalescing(f.top, 0x100, 0x100);
	g_string_truncate(f.tr, 0);
	memory_region_set_address(f.top, 0x3000);
	tl_assert(f.tr, "A begin", "B begin",
		  "B del x[1000,1400)@0", "A del x[1000,1400)@0",
		  "B coalesced_del top[1400,1800)@0 1500+100",
		  "A coalesced_del top[1400,1800)@0 1500+100",
		  "B del top[1400,1800)@0", "A del top[1400,1800)@0",
		  "B del x[1800,2000)@800", "A del x[1800,2000)@800",
		  "A add x[1000,2000)@0", "B add x[1000,2000)@0",
		  "A add top[3000,3400)@0", "B add top[3000,3400)@0",
		  "A coalesced_add top[3000,3400)@0 3100+100",
		  "B coalesced_add top[3000,3400)@0 3100+100",
		  "A commit", "B commit");
	fix_free(&f);
}

static GString *flush_log;
static AddressSpace *flush_as;

static void flush_handler(void *opaque)
{
	g_assert_true(opaque == &flush_log);
	g_string_append(flush_log, "flush\n");
	/* playing a buffered write back must not flush again */
	if (flush_as)
		address_space_stb(flush_as, 0x1010, 0x77, ATTRS, NULL);
}

static void test_flush(void)
{
	Fix f;
	char *want;

	fix_init(&f);
	flush_log = f.w->dev.trace;	/* one log with the device's calls */
	loopback_set_coalesced_mmio_flush(flush_handler, &flush_log);

	/* no flag, no flush */
	address_space_stb(f.w->as, 0x1000, 1, ATTRS, NULL);
	g_assert_cmpstr(f.w->dev.trace->str, ==, "w 0 1 1\n");
	lbt_dev_reset(&f.w->dev);

	memory_region_set_flush_coalesced(f.x);
	address_space_stb(f.w->as, 0x1000, 2, ATTRS, NULL);
	(void)address_space_ldub(f.w->as, 0x1001, ATTRS, NULL);
	/* top has no flag */
	address_space_stb(f.w->as, 0x1400, 3, ATTRS, NULL);
	want = g_strdup_printf("flush\nw 0 1 2\nflush\nr 1 1 %" PRIx64
			       "\nw 0 1 3\n", lbt_dev_value(&f.w->dev, 1, 1));
	g_assert_cmpstr(f.w->dev.trace->str, ==, want);
	g_free(want);
	lbt_dev_reset(&f.w->dev);

	/* the handler's own write to x does not recurse */
	flush_as = f.w->as;
	address_space_stb(f.w->as, 0x1000, 4, ATTRS, NULL);
	flush_as = NULL;
	g_assert_cmpstr(f.w->dev.trace->str, ==,
			"flush\nw 10 1 77\nw 0 1 4\n");
	lbt_dev_reset(&f.w->dev);

	/* a transaction begins with a flush */
	memory_region_transaction_begin();
	memory_region_transaction_commit();
	g_assert_cmpstr(f.w->dev.trace->str, ==, "flush\n");
	lbt_dev_reset(&f.w->dev);

	/* clear_flush keeps the flag while coalesced ranges exist */
	memory_region_add_coalescing(f.x, 0, 0x10);
	memory_region_clear_flush_coalesced(f.x);
	address_space_stb(f.w->as, 0x1000, 5, ATTRS, NULL);
	g_assert_cmpstr(f.w->dev.trace->str, ==,
			"flush\nflush\nw 0 1 5\n");
	lbt_dev_reset(&f.w->dev);
	memory_region_clear_coalescing(f.x);
	memory_region_clear_flush_coalesced(f.x);
	address_space_stb(f.w->as, 0x1000, 6, ATTRS, NULL);
	g_assert_cmpstr(f.w->dev.trace->str, ==, "flush\nflush\nw 0 1 6\n");
	loopback_set_coalesced_mmio_flush(NULL, NULL);
	flush_log = NULL;
	fix_free(&f);
}

static void misuse_bad_range(void)
{
	Fix f;

	fix_init(&f);
	memory_region_add_coalescing(f.x, 0xf00, 0x200);
	memory_region_add_coalescing(f.x, 0x10, 0);
	tl_assert(f.tr, "");
	fix_free(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/coalesced/add-and-clear-order",
			test_add_clear_order);
	g_test_add_func("/coalesced/set-covers-whole-region",
			test_set_whole_region);
	g_test_add_func("/coalesced/topology-passes", test_topology);
	g_test_add_func("/coalesced/flush-before-mmio", test_flush);
	tl_add_misuse("/coalesced/misuse/range-past-end", misuse_bad_range);
	return g_test_run();
}
