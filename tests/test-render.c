/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Flat-view rendering: one test per rule and per worked example of section 1
 * of the memory API semantics, plus section 4 (find, present, is_mapped,
 * get_ram_ptr).  Flat views are written in the page's notation,
 * "name[start,end)@offset_in_region", with ":ro"/":nv" for readonly and
 * nonvolatile ranges.
 */
#include "config.h"

#include "testutil.h"

#define TOP UINT64_MAX		/* a size of 2^64 */

/* ---- worked examples ---- */

/* The first example's tree: root A 0x8000, C io prio 1, B prio 2 holding
 * D and E; B is made by the caller. */
static void example_one(LbtWorld *w, MemoryRegion *b)
{
	memory_region_add_subregion(b, 0, lbt_new_io(w, "D", 0x1000));
	memory_region_add_subregion(b, 0x2000, lbt_new_io(w, "E", 0x1000));
	memory_region_add_subregion_overlap(w->root, 0,
					    lbt_new_io(w, "C", 0x6000), 1);
	memory_region_add_subregion_overlap(w->root, 0x2000, b, 2);
}

/* A container 0x8000; C io prio 1; B container prio 2 holding D and E. */
static void test_example_container_over_io(void)
{
	LbtWorld *w = lbt_world_new(0x8000);

	example_one(w, lbt_new_container(w, "B", 0x4000));
	lbt_world_assert(w, "C[0,2000)@0 D[2000,3000)@0 C[3000,4000)@3000 "
			 "E[4000,5000)@0 C[5000,6000)@5000");
	lbt_world_free(w);
}

/* Same with B an io region: B fills its own gaps, C shows only below it. */
static void test_example_io_over_io(void)
{
	LbtWorld *w = lbt_world_new(0x8000);

	example_one(w, lbt_new_io(w, "B", 0x4000));
	lbt_world_assert(w, "C[0,2000)@0 D[2000,3000)@0 B[3000,4000)@1000 "
			 "E[4000,5000)@0 B[5000,6000)@3000");
	lbt_world_free(w);
}

static void test_example_equal_priority_overlap(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	memory_region_add_subregion(w->root, 0, lbt_new_ram(w, "X", 0x2000));
	memory_region_add_subregion(w->root, 0x1000, lbt_new_io(w, "Y", 0x2000));
	lbt_world_assert(w, "X[0,1000)@0 Y[1000,3000)@0");
	lbt_world_free(w);
}

/* Two aliases covering a RAM region; returns the "hi" alias. */
static MemoryRegion *two_halves(LbtWorld *w, bool hi_readonly)
{
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *lo = lbt_new_alias(w, "lo", ram, 0, 0x2000);
	MemoryRegion *hi = lbt_new_alias(w, "hi", ram, 0x2000, 0x2000);

	if (hi_readonly)
		memory_region_set_readonly(hi, true);
	memory_region_add_subregion(w->root, 0, lo);
	memory_region_add_subregion(w->root, 0x2000, hi);
	return hi;
}

static void test_example_aliases_merge(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	two_halves(w, false);
	lbt_world_assert(w, "ram[0,4000)@0");
	lbt_world_free(w);
}

static void test_example_aliases_readonly_split(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	two_halves(w, true);
	lbt_world_assert(w, "ram[0,2000)@0 ram[2000,4000)@2000:ro");
	lbt_world_free(w);
}

static void test_example_alias_past_target_end(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);

	memory_region_add_subregion(w->root, 0x10000,
				    lbt_new_alias(w, "a", ram, 0x3000, 0x8000));
	lbt_world_assert(w, "ram[10000,11000)@3000");
	lbt_world_free(w);
}

static void test_example_container_clips_child(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x1000);

	memory_region_add_subregion(c, 0x800, lbt_new_ram(w, "ram", 0x4000));
	memory_region_add_subregion(w->root, 0x5000, c);
	lbt_world_assert(w, "ram[5800,6000)@0");
	lbt_world_free(w);
}

/* ---- rule 1: disabled regions ---- */

static void test_disabled_renders_nothing(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_set_enabled(x, false);
	memory_region_add_subregion(w->root, 0x1000, x);
	lbt_world_assert(w, "");
	memory_region_set_enabled(x, true);
	lbt_world_assert(w, "x[1000,2000)@0");
	memory_region_set_enabled(x, false);
	lbt_world_assert(w, "");
	lbt_world_free(w);
}

/* A disabled io region hides its enabled children too, and no gap is left
 * for lower-priority siblings to be hidden by. */
static void test_disabled_hides_subtree(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *p = lbt_new_io(w, "p", 0x4000);

	memory_region_add_subregion(p, 0x1000, lbt_new_io(w, "kid", 0x1000));
	memory_region_add_subregion_overlap(w->root, 0, p, 1);
	memory_region_add_subregion(w->root, 0, lbt_new_io(w, "bg", 0x4000));
	lbt_world_assert(w, "p[0,1000)@0 kid[1000,2000)@0 p[2000,4000)@2000");
	memory_region_set_enabled(p, false);
	lbt_world_assert(w, "bg[0,4000)@0");
	lbt_world_free(w);
}

static void test_disabled_alias_target(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x1000);

	memory_region_add_subregion(w->root, 0,
				    lbt_new_alias(w, "a", ram, 0, 0x1000));
	lbt_world_assert(w, "ram[0,1000)@0");
	memory_region_set_enabled(ram, false);
	lbt_world_assert(w, "");
	lbt_world_free(w);
}

/* ---- rule 2: bases add up, flags are OR-ed down ---- */

static void test_address_nested_bases_add(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c1 = lbt_new_container(w, "c1", 0x10000);
	MemoryRegion *c2 = lbt_new_container(w, "c2", 0x1000);

	memory_region_add_subregion(c2, 0x10, lbt_new_io(w, "x", 0x10));
	memory_region_add_subregion(c1, 0x100, c2);
	memory_region_add_subregion(w->root, 0x1000, c1);
	lbt_world_assert(w, "x[1110,1120)@0");
	lbt_world_free(w);
}

static void test_flags_readonly_inherited(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x2000);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x1000);

	memory_region_add_subregion(c, 0x1000, ram);
	memory_region_add_subregion(w->root, 0, c);
	lbt_world_assert(w, "ram[1000,2000)@0");
	memory_region_set_readonly(c, true);
	g_assert_false(memory_region_is_readonly(ram));
	lbt_world_assert(w, "ram[1000,2000)@0:ro");
	memory_region_set_readonly(c, false);
	lbt_world_assert(w, "ram[1000,2000)@0");
	lbt_world_free(w);
}

static void test_flags_nonvolatile_inherited(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x2000);

	memory_region_add_subregion(c, 0, lbt_new_ram(w, "ram", 0x1000));
	memory_region_set_nonvolatile(c, true);
	memory_region_add_subregion(w->root, 0x4000, c);
	lbt_world_assert(w, "ram[4000,5000)@0:nv");
	lbt_world_free(w);
}

/* A readonly alias makes its ranges readonly; the target stays writable. */
static void test_flags_readonly_through_alias(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x1000);
	MemoryRegion *a = lbt_new_alias(w, "a", ram, 0, 0x1000);

	memory_region_set_readonly(a, true);
	memory_region_add_subregion(w->root, 0, ram);
	memory_region_add_subregion(w->root, 0x1000, a);
	lbt_world_assert(w, "ram[0,1000)@0 ram[1000,2000)@0:ro");
	lbt_world_free(w);
}

static void test_flags_rom_is_readonly(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	memory_region_add_subregion(w->root, 0x1000, lbt_new_rom(w, "rom", 0x1000));
	lbt_world_assert(w, "rom[1000,2000)@0:ro");
	lbt_world_free(w);
}

/* ---- rule 3: clipping ---- */

static void test_clip_ancestor_size(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *outer = lbt_new_container(w, "outer", 0x3000);
	MemoryRegion *inner = lbt_new_container(w, "inner", 0x10000);

	/* inner is larger than outer: outer's size still clips x */
	memory_region_add_subregion(inner, 0x1000, lbt_new_io(w, "x", 0x8000));
	memory_region_add_subregion(outer, 0x1000, inner);
	memory_region_add_subregion(w->root, 0, outer);
	lbt_world_assert(w, "x[2000,3000)@0");
	lbt_world_free(w);
}

static void test_clip_size_zero(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0);

	memory_region_add_subregion(c, 0, lbt_new_io(w, "kid", 0x1000));
	memory_region_add_subregion(w->root, 0x1000, c);
	memory_region_add_subregion(w->root, 0x2000, lbt_new_io(w, "z", 0));
	lbt_world_assert(w, "");
	lbt_world_free(w);
}

static void test_clip_child_beyond_parent(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x1000);

	memory_region_add_subregion(c, 0x1000, lbt_new_io(w, "out", 0x1000));
	memory_region_add_subregion(c, 0xfff, lbt_new_io(w, "edge", 0x1000));
	memory_region_add_subregion(w->root, 0x4000, c);
	lbt_world_assert(w, "edge[4fff,5000)@0");
	lbt_world_free(w);
}

static void test_clip_top_of_space(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	memory_region_add_subregion(w->root, 0xfffffffffffff000ULL,
				    lbt_new_io(w, "top", 0x1000));
	memory_region_add_subregion_overlap(w->root, 0,
					    lbt_new_io(w, "all", TOP), -1);
	lbt_world_assert(w, "all[0,fffffffffffff000)@0 "
			 "top[fffffffffffff000,10000000000000000)@0");
	lbt_world_free(w);
}

/* A region running past 2^64 is cut at the end of the space. */
static void test_clip_past_top_of_space(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	memory_region_add_subregion(w->root, 0xfffffffffffff800ULL,
				    lbt_new_io(w, "over", 0x1000));
	lbt_world_assert(w, "over[fffffffffffff800,10000000000000000)@0");
	lbt_world_free(w);
}

static void test_clip_root_size(void)
{
	LbtWorld *w = lbt_world_new(0x1800);

	memory_region_add_subregion(w->root, 0x1000, lbt_new_io(w, "x", 0x1000));
	lbt_world_assert(w, "x[1000,1800)@0");
	lbt_world_free(w);
}

/* ---- rule 4: aliases ---- */

/* The target's own address cancels out. */
static void test_alias_target_addr_cancels(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *t = lbt_new_io(w, "t", 0x1000);

	memory_region_add_subregion(w->root, 0x8000, t);
	memory_region_add_subregion(w->root, 0x100,
				    lbt_new_alias(w, "a", t, 0x100, 0x200));
	lbt_world_assert(w, "t[100,300)@100 t[8000,9000)@0");
	lbt_world_free(w);
}

static void test_alias_window_smaller_than_target(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);

	memory_region_add_subregion(w->root, 0,
				    lbt_new_alias(w, "a", ram, 0x800, 0x1000));
	lbt_world_assert(w, "ram[0,1000)@800");
	lbt_world_free(w);
}

static void test_alias_of_alias(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *a1 = lbt_new_alias(w, "a1", ram, 0x1000, 0x2000);
	MemoryRegion *a2 = lbt_new_alias(w, "a2", a1, 0x800, 0x1000);

	memory_region_add_subregion(w->root, 0x10000, a2);
	lbt_world_assert(w, "ram[10000,11000)@1800");
	/* a1's own address cancels out of a2's view */
	memory_region_add_subregion(w->root, 0x20000, a1);
	lbt_world_assert(w, "ram[10000,11000)@1800 ram[20000,22000)@1000");
	lbt_world_free(w);
}

static void test_alias_to_container(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *t = lbt_new_container(w, "t", 0x4000);

	memory_region_add_subregion(t, 0x1000, lbt_new_io(w, "x", 0x1000));
	memory_region_add_subregion(w->root, 0x10000,
				    lbt_new_alias(w, "a", t, 0, 0x4000));
	lbt_world_assert(w, "x[11000,12000)@0");
	memory_region_add_subregion(w->root, 0, t);
	lbt_world_assert(w, "x[1000,2000)@0 x[11000,12000)@0");
	lbt_world_free(w);
}

/* An alias offset beyond a child's address puts that child below 0. */
static void test_alias_negative_base(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *t = lbt_new_container(w, "t", 0x10000);

	memory_region_add_subregion(t, 0x1000, lbt_new_io(w, "x", 0x1000));
	memory_region_add_subregion(t, 0x4000, lbt_new_io(w, "y", 0x1000));
	memory_region_add_subregion(w->root, 0,
				    lbt_new_alias(w, "a", t, 0x3000, 0x4000));
	lbt_world_assert(w, "y[1000,2000)@0");
	lbt_world_free(w);
}

/* The flat view follows set_alias_offset. */
static void test_alias_offset_update(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *a = lbt_new_alias(w, "a", ram, 0, 0x1000);

	memory_region_add_subregion(w->root, 0x1000, a);
	lbt_world_assert(w, "ram[1000,2000)@0");
	memory_region_set_alias_offset(a, 0x2000);
	g_assert_cmpuint(memory_region_get_alias_offset(a), ==, 0x2000);
	lbt_world_assert(w, "ram[1000,2000)@2000");
	memory_region_set_alias_offset(a, 0x3800);
	lbt_world_assert(w, "ram[1000,1800)@3800");
	lbt_world_free(w);
}

/* ---- rule 5: priorities ---- */

static void test_priority_higher_wins(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *hi = lbt_new_io(w, "hi", 0x2000);
	MemoryRegion *lo = lbt_new_io(w, "lo", 0x2000);

	/* the lower priority is added last and still loses */
	memory_region_add_subregion_overlap(w->root, 0x1000, hi, 1);
	memory_region_add_subregion_overlap(w->root, 0, lo, 0);
	lbt_world_assert(w, "lo[0,1000)@0 hi[1000,3000)@0");
	lbt_world_free(w);
}

static void test_priority_equal_newest_wins(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	memory_region_add_subregion_overlap(w->root, 0x1000,
					    lbt_new_io(w, "b", 0x2000), 3);
	memory_region_add_subregion_overlap(w->root, 0,
					    lbt_new_io(w, "a", 0x2000), 3);
	lbt_world_assert(w, "a[0,2000)@0 b[2000,3000)@1000");
	lbt_world_free(w);
}

static void test_priority_negative(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	memory_region_add_subregion(w->root, 0x1000, lbt_new_io(w, "z", 0x1000));
	memory_region_add_subregion_overlap(w->root, 0,
					    lbt_new_io(w, "neg", 0x3000), -1);
	memory_region_add_subregion_overlap(w->root, 0x2800,
					    lbt_new_io(w, "neg2", 0x1000), -2);
	lbt_world_assert(w, "neg[0,1000)@0 z[1000,2000)@0 neg[2000,3000)@2000 "
			 "neg2[3000,3800)@800");
	lbt_world_free(w);
}

/* A low-priority child of a high-priority container hides the container's
 * lower-priority siblings: priorities compare only within one container. */
static void test_priority_within_container_only(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *p = lbt_new_container(w, "p", 0x4000);

	memory_region_add_subregion_overlap(p, 0x1000,
					    lbt_new_io(w, "low", 0x1000), -5);
	memory_region_add_subregion_overlap(w->root, 0, p, 2);
	memory_region_add_subregion_overlap(w->root, 0,
					    lbt_new_io(w, "sib", 0x4000), 1);
	lbt_world_assert(w, "sib[0,1000)@0 low[1000,2000)@0 sib[2000,4000)@2000");
	lbt_world_free(w);
}

/* Several priorities, added in a scrambled order. */
static void test_priority_list_order(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	/* each region starts 0x100 later so every one shows its first byte */
	memory_region_add_subregion_overlap(w->root, 0x100,
					    lbt_new_io(w, "p1a", 0x1000), 1);
	memory_region_add_subregion_overlap(w->root, 0x000,
					    lbt_new_io(w, "p0", 0x1000), 0);
	memory_region_add_subregion_overlap(w->root, 0x300,
					    lbt_new_io(w, "p2", 0x1000), 2);
	memory_region_add_subregion_overlap(w->root, 0x200,
					    lbt_new_io(w, "p1b", 0x1000), 1);
	lbt_world_assert(w, "p0[0,100)@0 p1a[100,200)@0 p1b[200,300)@0 "
			 "p2[300,1300)@0");
	lbt_world_free(w);
}

/* ---- rules 6-7: what terminates, and offsets ---- */

static void test_terminates_container_leaves_holes(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x4000);

	memory_region_add_subregion(c, 0x1000, lbt_new_io(w, "x", 0x1000));
	memory_region_add_subregion_overlap(w->root, 0, c, 1);
	memory_region_add_subregion(w->root, 0, lbt_new_io(w, "bg", 0x4000));
	lbt_world_assert(w, "bg[0,1000)@0 x[1000,2000)@0 bg[2000,4000)@2000");
	lbt_world_free(w);
}

/* io with NULL ops (a reservation) terminates like any io region. */
static void test_terminates_reservation(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *resv = lbt_region_alloc();

	memory_region_init_io(resv, NULL, NULL, NULL, "resv", 0x1000);
	lbt_world_keep(w, resv);
	memory_region_add_subregion_overlap(w->root, 0, resv, 1);
	memory_region_add_subregion(w->root, 0, lbt_new_io(w, "bg", 0x4000));
	lbt_world_assert(w, "resv[0,1000)@0 bg[1000,4000)@1000");
	lbt_world_free(w);
}

static void test_terminates_ram_with_children(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);

	memory_region_add_subregion(ram, 0x1000, lbt_new_io(w, "x", 0x1000));
	memory_region_add_subregion(w->root, 0x10000, ram);
	lbt_world_assert(w, "ram[10000,11000)@0 x[11000,12000)@0 "
			 "ram[12000,14000)@2000");
	lbt_world_free(w);
}

/*
 * offset_in_region starts at clip.start - base and advances over the bytes
 * that others filled as well as over the ones it fills itself.
 */
static void test_offset_advances_over_skipped(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x3000);

	memory_region_add_subregion_overlap(c, 0x1000,
					    lbt_new_io(w, "hole", 0x800), 1);
	memory_region_add_subregion(c, 0, lbt_new_io(w, "x", 0x8000));
	memory_region_add_subregion(w->root, 0x1000, c);
	lbt_world_assert(w, "x[1000,2000)@0 hole[2000,2800)@0 "
			 "x[2800,4000)@1800");
	/* a window starting 0x800 into c clips x's first 0x800 bytes */
	memory_region_add_subregion(w->root, 0x10000,
				    lbt_new_alias(w, "a", c, 0x800, 0x1000));
	lbt_world_assert(w, "x[1000,2000)@0 hole[2000,2800)@0 "
			 "x[2800,4000)@1800 x[10000,10800)@800 "
			 "hole[10800,11000)@0");
	lbt_world_free(w);
}

/* ---- simplification ---- */

static void test_simplify_no_merge_discontinuous(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);

	memory_region_add_subregion(w->root, 0,
				    lbt_new_alias(w, "lo", ram, 0x2000, 0x2000));
	memory_region_add_subregion(w->root, 0x2000,
				    lbt_new_alias(w, "hi", ram, 0, 0x2000));
	lbt_world_assert(w, "ram[0,2000)@2000 ram[2000,4000)@0");
	lbt_world_free(w);
}

static void test_simplify_no_merge_unmergeable(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *lo = lbt_new_alias(w, "lo", ram, 0, 0x2000);

	memory_region_set_unmergeable(lo, true);
	memory_region_add_subregion(w->root, 0, lo);
	memory_region_add_subregion(w->root, 0x2000,
				    lbt_new_alias(w, "hi", ram, 0x2000, 0x2000));
	lbt_world_assert(w, "ram[0,2000)@0 ram[2000,4000)@2000");
	lbt_world_free(w);
}

static void test_simplify_no_merge_nonvolatile(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *hi = two_halves(w, false);

	memory_region_set_nonvolatile(hi, true);
	lbt_world_assert(w, "ram[0,2000)@0 ram[2000,4000)@2000:nv");
	lbt_world_free(w);
}

static void test_simplify_no_merge_other_region(void)
{
	LbtWorld *w = lbt_world_new(TOP);

	memory_region_add_subregion(w->root, 0, lbt_new_io(w, "x", 0x1000));
	memory_region_add_subregion(w->root, 0x1000, lbt_new_io(w, "x", 0x1000));
	lbt_world_assert(w, "x[0,1000)@0 x[1000,2000)@0");
	lbt_world_free(w);
}

/* Pieces of one region split by a region that later goes away re-merge. */
static void test_simplify_remerge_after_del(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_add_subregion(w->root, 0, ram);
	memory_region_add_subregion_overlap(w->root, 0x1000, x, 1);
	lbt_world_assert(w, "ram[0,1000)@0 x[1000,2000)@0 ram[2000,4000)@2000");
	memory_region_del_subregion(w->root, x);
	lbt_world_assert(w, "ram[0,4000)@0");
	lbt_world_free(w);
}

/* ---- updates ---- */

/* a at 0 then b at 0x1000, equal priority: returns a. */
static MemoryRegion *overlapping_pair(LbtWorld *w)
{
	MemoryRegion *a = lbt_new_io(w, "a", 0x2000);

	memory_region_add_subregion(w->root, 0, a);
	memory_region_add_subregion(w->root, 0x1000, lbt_new_io(w, "b", 0x2000));
	return a;
}

/* set_address re-adds: the moved region goes in front of its equals. */
static void test_update_set_address_to_front(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *a = overlapping_pair(w);

	lbt_world_assert(w, "a[0,1000)@0 b[1000,3000)@0");
	memory_region_set_address(a, 0x800);
	g_assert_cmpuint(memory_region_get_address(a), ==, 0x800);
	lbt_world_assert(w, "a[800,2800)@0 b[2800,3000)@1800");
	lbt_world_free(w);
}

/* QEMU: set_address to the current address is a no-op, no re-add. */
static void test_update_set_address_same_keeps_order(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *a = overlapping_pair(w);

	memory_region_set_address(a, 0);
	lbt_world_assert(w, "a[0,1000)@0 b[1000,3000)@0");
	lbt_world_free(w);
}

/* set_address keeps the priority given by add_subregion_overlap. */
static void test_update_set_address_keeps_priority(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *a = lbt_new_io(w, "a", 0x2000);

	memory_region_add_subregion_overlap(w->root, 0, a, -1);
	memory_region_add_subregion(w->root, 0x1000, lbt_new_io(w, "b", 0x2000));
	memory_region_set_address(a, 0x800);
	g_assert_cmpint(memory_region_get_priority(a), ==, -1);
	lbt_world_assert(w, "a[800,1000)@0 b[1000,3000)@0");
	lbt_world_free(w);
}

static void test_update_set_size(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_add_subregion(w->root, 0x1000, x);
	memory_region_set_size(x, 0x2000);
	lbt_world_assert(w, "x[1000,3000)@0");
	memory_region_set_size(x, 0);
	lbt_world_assert(w, "");
	memory_region_set_size(x, TOP);
	lbt_world_assert(w, "x[1000,10000000000000000)@0");
	lbt_world_free(w);
}

static void test_update_del_subregion_uncovers(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_add_subregion(w->root, 0, lbt_new_io(w, "bg", 0x2000));
	memory_region_add_subregion_overlap(w->root, 0, x, 1);
	lbt_world_assert(w, "x[0,1000)@0 bg[1000,2000)@1000");
	memory_region_del_subregion(w->root, x);
	lbt_world_assert(w, "bg[0,2000)@0");
	lbt_world_free(w);
}

/* Nothing is rendered until the outermost commit. */
static void test_update_transaction_defers(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_add_subregion(w->root, 0x1000, x);
	memory_region_transaction_begin();
	memory_region_set_address(x, 0x5000);
	memory_region_add_subregion(w->root, 0, lbt_new_io(w, "y", 0x100));
	lbt_world_assert(w, "x[1000,2000)@0");
	memory_region_transaction_begin();
	memory_region_set_size(x, 0x2000);
	memory_region_transaction_commit();
	lbt_world_assert(w, "x[1000,2000)@0");
	memory_region_transaction_commit();
	lbt_world_assert(w, "y[0,100)@0 x[5000,7000)@0");
	lbt_world_free(w);
}

/* Two address spaces on one root share one rendering. */
static void test_update_two_address_spaces(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	AddressSpace *as2 = lbt_as_new(w->root, "second");

	memory_region_add_subregion(w->root, 0x1000, lbt_new_io(w, "x", 0x1000));
	lbt_assert_flat(as2, NULL, "x[1000,2000)@0");
	lbt_as_free(as2);
	lbt_world_free(w);
}

/*
 * QEMU (memory_region_get_flatview_root) renders an alias root with offset
 * 0 that covers its whole target as the target itself: the target then
 * shows at its own address.  Any other alias root renders normally.
 */
static void test_root_full_alias_replaced(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *t = lbt_new_io(w, "t", 0x1000);
	AddressSpace *full, *part;

	memory_region_add_subregion(w->root, 0x5000, t);
	full = lbt_as_new(lbt_new_alias(w, "full", t, 0, 0x2000), "full");
	part = lbt_as_new(lbt_new_alias(w, "part", t, 0x800, 0x800), "part");
	lbt_assert_flat(full, NULL, "t[5000,6000)@0");
	lbt_assert_flat(part, NULL, "t[0,800)@800");
	lbt_as_free(full);
	lbt_as_free(part);
	lbt_world_free(w);
}

/* ---- section 4 ---- */

static void check_section(MemoryRegionSection s, MemoryRegion *mr,
			  hwaddr in_as, hwaddr in_region, uint64_t size)
{
	g_assert_true(s.mr == mr);
	if (!mr)
		return;
	g_assert_cmphex(s.offset_within_address_space, ==, in_as);
	g_assert_cmphex(s.offset_within_region, ==, in_region);
	g_assert_cmphex((uint64_t)s.size, ==, size);
	g_assert_true((lbt_u128)s.size >> 64 == 0);
	memory_region_unref(s.mr);
}

static void test_find_lowest_overlap_clipped(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);
	MemoryRegion *y = lbt_new_io(w, "y", 0x1000);

	memory_region_add_subregion(w->root, 0x1000, x);
	memory_region_add_subregion(w->root, 0x3000, y);
	check_section(memory_region_find(w->root, 0, 0x5000), x, 0x1000, 0, 0x1000);
	check_section(memory_region_find(w->root, 0x1800, 0x2000), x, 0x1800,
		      0x800, 0x800);
	check_section(memory_region_find(w->root, 0x2800, 0x1000), y, 0x3000,
		      0, 0x800);
	check_section(memory_region_find(w->root, 0x3ffc, 4), y, 0x3ffc,
		      0xffc, 4);
	check_section(memory_region_find(w->root, 0x2000, 0x1000), NULL, 0, 0, 0);
	check_section(memory_region_find(w->root, 0x4000, 0x10), NULL, 0, 0, 0);
	lbt_world_free(w);
}

/* find() adds the addresses of mr and all its ancestors. */
static void test_find_sums_ancestors(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x10000);
	MemoryRegion *x = lbt_new_io(w, "x", 0x100);

	memory_region_add_subregion(c, 0x100, x);
	memory_region_add_subregion(w->root, 0x10000, c);
	check_section(memory_region_find(c, 0x100, 4), x, 0x10100, 0, 4);
	check_section(memory_region_find(x, 0x10, 4), x, 0x10110, 0x10, 4);
	check_section(memory_region_find(c, 0, 4), NULL, 0, 0, 0);
	lbt_world_free(w);
}

static void test_find_through_alias(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *a = lbt_new_alias(w, "a", ram, 0x2000, 0x1000);

	memory_region_add_subregion(w->root, 0x8000, a);
	check_section(memory_region_find(w->root, 0x8010, 8), ram, 0x8010,
		      0x2010, 8);
	check_section(memory_region_find(a, 0x20, 8), ram, 0x8020, 0x2020, 8);
	lbt_world_free(w);
}

/* A tree that no address space renders has nothing to find. */
static void test_find_outside_address_spaces(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x1000);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_add_subregion(c, 0, x);
	check_section(memory_region_find(c, 0, 4), NULL, 0, 0, 0);
	check_section(memory_region_find(x, 0, 4), NULL, 0, 0, 0);
	lbt_world_free(w);
}

static void test_present(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *c = lbt_new_container(w, "c", 0x4000);
	MemoryRegion *io = lbt_new_io(w, "io", 0x4000);

	memory_region_add_subregion(c, 0x1000, lbt_new_io(w, "x", 0x1000));
	memory_region_add_subregion(io, 0x1000, lbt_new_io(w, "y", 0x1000));
	memory_region_add_subregion(w->root, 0x10000, c);
	memory_region_add_subregion(w->root, 0x20000, io);
	g_assert_true(memory_region_present(c, 0x1000));
	g_assert_true(memory_region_present(c, 0x1fff));
	g_assert_false(memory_region_present(c, 0));
	g_assert_false(memory_region_present(c, 0x2000));
	/* the container itself answering does not count */
	g_assert_true(memory_region_present(io, 0x1000));
	g_assert_false(memory_region_present(io, 0));
	g_assert_false(memory_region_present(io, 0x3000));
	lbt_world_free(w);
}

static void test_is_mapped(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *t = lbt_new_ram(w, "t", 0x1000);
	MemoryRegion *a1 = lbt_new_alias(w, "a1", t, 0, 0x1000);
	MemoryRegion *a2 = lbt_new_alias(w, "a2", a1, 0, 0x1000);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);
	MemoryRegion *c = lbt_new_container(w, "c", 0x1000);

	g_assert_false(memory_region_is_mapped(x));
	memory_region_add_subregion(w->root, 0, x);
	g_assert_true(memory_region_is_mapped(x));
	memory_region_del_subregion(w->root, x);
	g_assert_false(memory_region_is_mapped(x));

	/* a container not in any address space still counts */
	memory_region_add_subregion(c, 0, x);
	g_assert_true(memory_region_is_mapped(x));
	g_assert_false(memory_region_is_mapped(c));

	/* mapped via an alias (of an alias) */
	g_assert_false(memory_region_is_mapped(t));
	g_assert_false(memory_region_is_mapped(a1));
	memory_region_add_subregion(w->root, 0x8000, a2);
	g_assert_true(memory_region_is_mapped(a2));
	g_assert_true(memory_region_is_mapped(a1));
	g_assert_true(memory_region_is_mapped(t));
	memory_region_del_subregion(w->root, a2);
	g_assert_false(memory_region_is_mapped(a1));
	g_assert_false(memory_region_is_mapped(t));
	lbt_world_free(w);
}

static void test_get_ram_ptr_follows_alias(void)
{
	LbtWorld *w = lbt_world_new(TOP);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *a1 = lbt_new_alias(w, "a1", ram, 0x100, 0x1000);
	MemoryRegion *a2 = lbt_new_alias(w, "a2", a1, 0x20, 0x100);
	uint8_t *base = memory_region_get_ram_ptr(ram);

	g_assert_nonnull(base);
	g_assert_true((uint8_t *)memory_region_get_ram_ptr(a1) == base + 0x100);
	g_assert_true((uint8_t *)memory_region_get_ram_ptr(a2) == base + 0x120);
	lbt_world_free(w);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* report every failing test, not only the first */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/render/example/container-over-io", test_example_container_over_io);
	g_test_add_func("/render/example/io-over-io-fills-own-gaps", test_example_io_over_io);
	g_test_add_func("/render/example/equal-priority-overlap", test_example_equal_priority_overlap);
	g_test_add_func("/render/example/two-aliases-merge", test_example_aliases_merge);
	g_test_add_func("/render/example/readonly-alias-splits", test_example_aliases_readonly_split);
	g_test_add_func("/render/example/alias-past-target-end-leaves-hole", test_example_alias_past_target_end);
	g_test_add_func("/render/example/container-clips-child", test_example_container_clips_child);

	g_test_add_func("/render/disabled/renders-nothing", test_disabled_renders_nothing);
	g_test_add_func("/render/disabled/hides-subtree", test_disabled_hides_subtree);
	g_test_add_func("/render/disabled/alias-target-disabled", test_disabled_alias_target);

	g_test_add_func("/render/address/nested-bases-add", test_address_nested_bases_add);
	g_test_add_func("/render/flags/readonly-inherited", test_flags_readonly_inherited);
	g_test_add_func("/render/flags/nonvolatile-inherited", test_flags_nonvolatile_inherited);
	g_test_add_func("/render/flags/readonly-through-alias", test_flags_readonly_through_alias);
	g_test_add_func("/render/flags/rom-is-readonly", test_flags_rom_is_readonly);

	g_test_add_func("/render/clip/ancestor-size-clips-descendants", test_clip_ancestor_size);
	g_test_add_func("/render/clip/size-zero-renders-nothing", test_clip_size_zero);
	g_test_add_func("/render/clip/child-beyond-parent-end", test_clip_child_beyond_parent);
	g_test_add_func("/render/clip/top-of-space", test_clip_top_of_space);
	g_test_add_func("/render/clip/past-top-of-space", test_clip_past_top_of_space);
	g_test_add_func("/render/clip/root-size", test_clip_root_size);

	g_test_add_func("/render/alias/target-addr-cancels-out", test_alias_target_addr_cancels);
	g_test_add_func("/render/alias/window-smaller-than-target", test_alias_window_smaller_than_target);
	g_test_add_func("/render/alias/alias-of-alias", test_alias_of_alias);
	g_test_add_func("/render/alias/alias-to-container", test_alias_to_container);
	g_test_add_func("/render/alias/negative-base", test_alias_negative_base);
	g_test_add_func("/render/alias/set-alias-offset", test_alias_offset_update);

	g_test_add_func("/render/priority/higher-wins", test_priority_higher_wins);
	g_test_add_func("/render/priority/equal-priority-newest-wins", test_priority_equal_newest_wins);
	g_test_add_func("/render/priority/negative", test_priority_negative);
	g_test_add_func("/render/priority/compares-only-within-container", test_priority_within_container_only);
	g_test_add_func("/render/priority/list-order", test_priority_list_order);

	g_test_add_func("/render/terminates/container-leaves-holes", test_terminates_container_leaves_holes);
	g_test_add_func("/render/terminates/reservation-null-ops", test_terminates_reservation);
	g_test_add_func("/render/terminates/ram-with-children-fills-gaps", test_terminates_ram_with_children);
	g_test_add_func("/render/offset/advances-over-filled-and-skipped", test_offset_advances_over_skipped);

	g_test_add_func("/render/simplify/no-merge-discontinuous-offsets", test_simplify_no_merge_discontinuous);
	g_test_add_func("/render/simplify/no-merge-unmergeable", test_simplify_no_merge_unmergeable);
	g_test_add_func("/render/simplify/no-merge-nonvolatile-differs", test_simplify_no_merge_nonvolatile);
	g_test_add_func("/render/simplify/no-merge-different-regions", test_simplify_no_merge_other_region);
	g_test_add_func("/render/simplify/remerge-after-del", test_simplify_remerge_after_del);

	g_test_add_func("/render/update/set-address-moves-to-front", test_update_set_address_to_front);
	g_test_add_func("/render/update/set-address-same-address-keeps-order", test_update_set_address_same_keeps_order);
	g_test_add_func("/render/update/set-address-keeps-priority", test_update_set_address_keeps_priority);
	g_test_add_func("/render/update/set-size", test_update_set_size);
	g_test_add_func("/render/update/del-subregion-uncovers", test_update_del_subregion_uncovers);
	g_test_add_func("/render/update/transaction-defers-until-outermost-commit", test_update_transaction_defers);
	g_test_add_func("/render/update/two-address-spaces-one-root", test_update_two_address_spaces);

	g_test_add_func("/render/root/full-alias-root-replaced-by-target", test_root_full_alias_replaced);

	g_test_add_func("/render/find/lowest-overlapping-range-clipped", test_find_lowest_overlap_clipped);
	g_test_add_func("/render/find/sums-ancestor-addresses", test_find_sums_ancestors);
	g_test_add_func("/render/find/through-alias", test_find_through_alias);
	g_test_add_func("/render/find/outside-address-spaces", test_find_outside_address_spaces);
	g_test_add_func("/render/present/child-not-container", test_present);
	g_test_add_func("/render/is-mapped/container-or-alias", test_is_mapped);
	g_test_add_func("/render/get-ram-ptr/follows-alias", test_get_ram_ptr_follows_alias);

	return g_test_run();
}
