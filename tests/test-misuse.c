/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Misuse of the region API: each one must log a GLib critical and leave
 * the map exactly as it was (the mtree text of the trees, with disabled
 * regions, and of the flat views, plus the test's own flat view string).
 *
 * Each test runs in a subprocess so that a library that aborts, crashes or
 * recurses forever fails that test only.  Criticals are counted by a log
 * writer, so the library's log domain does not matter.
 */
#include "config.h"

#include <string.h>

#include "testutil.h"

static unsigned int criticals;

static GLogWriterOutput count_writer(GLogLevelFlags level,
				     const GLogField *fields, gsize n,
				     gpointer data)
{
	if (level & G_LOG_LEVEL_CRITICAL)
		g_atomic_int_inc(&criticals);
	return g_log_writer_default(level, fields, n, data);
}

/* The map every misuse starts from. */
typedef struct Map {
	LbtWorld *w;
	MemoryRegion *c;	/* container at 0 holding x and y */
	MemoryRegion *x, *y;
	MemoryRegion *ram;	/* at 0x20000 */
	MemoryRegion *a;	/* alias of ram at 0x30000 */
	MemoryRegion *f;	/* io, in no container */
	MemoryRegion *d;	/* container in no container, holding z */
	MemoryRegion *z;	/* container holding z2 */
	MemoryRegion *z2;
	MemoryRegion *off;	/* disabled, in c */
	MemoryRegion *al_c;	/* alias of c, in no container */
	MemoryRegion *al_d;	/* alias of d, in no container */
} Map;

static void map_build(Map *m)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);

	m->w = w;
	m->c = lbt_new_container(w, "c", 0x10000);
	m->x = lbt_new_io(w, "x", 0x1000);
	m->y = lbt_new_io(w, "y", 0x1000);
	m->ram = lbt_new_ram(w, "ram", 0x2000);
	m->a = lbt_new_alias(w, "a", m->ram, 0x1000, 0x1000);
	m->f = lbt_new_io(w, "f", 0x100);
	m->d = lbt_new_container(w, "d", 0x1000);
	m->z = lbt_new_container(w, "z", 0x800);
	m->z2 = lbt_new_container(w, "z2", 0x400);
	m->off = lbt_new_io(w, "off", 0x100);
	m->al_c = lbt_new_alias(w, "al_c", m->c, 0, 0x1000);
	m->al_d = lbt_new_alias(w, "al_d", m->d, 0, 0x1000);

	memory_region_add_subregion(m->c, 0x1000, m->x);
	memory_region_add_subregion_overlap(m->c, 0x3000, m->y, 1);
	memory_region_set_enabled(m->off, false);
	memory_region_add_subregion(m->c, 0x8000, m->off);
	memory_region_add_subregion(w->root, 0, m->c);
	memory_region_add_subregion(w->root, 0x20000, m->ram);
	memory_region_add_subregion(w->root, 0x30000, m->a);
	memory_region_add_subregion(m->z, 0x10, m->z2);
	memory_region_add_subregion(m->d, 0x100, m->z);
}

typedef void (*MisuseFn)(Map *m);

typedef struct Misuse {
	const char *path;
	MisuseFn misuse;
	/* checks of the regions the misuse touched, after it */
	MisuseFn check;
} Misuse;

/* The subprocess: build, snapshot, misuse, compare. */
static void misuse_child(const Misuse *mu)
{
	Map m;
	char *before, *after, *fbefore, *fafter;

	/* criticals are counted, not fatal */
	g_log_set_always_fatal(G_LOG_FATAL_MASK);
	map_build(&m);
	before = lbt_map_snapshot();
	fbefore = lbt_flat_string(m.w->as, m.w->root);
	g_assert_cmpstr(fbefore, ==, "x[1000,2000)@0 y[3000,4000)@0 "
			"ram[20000,22000)@0 ram[30000,31000)@1000");

	criticals = 0;
	mu->misuse(&m);
	g_assert_cmpuint(g_atomic_int_get(&criticals), >=, 1);

	after = lbt_map_snapshot();
	fafter = lbt_flat_string(m.w->as, m.w->root);
	g_assert_cmpstr(after, ==, before);
	g_assert_cmpstr(fafter, ==, fbefore);
	if (mu->check)
		mu->check(&m);
	/* the map still works: a change renders */
	memory_region_set_address(m.x, 0x2000);
	g_free(fafter);
	fafter = lbt_flat_string(m.w->as, NULL);
	g_assert_cmpstr(fafter, ==, "x[2000,3000)@0 y[3000,4000)@0 "
			"ram[20000,22000)@0 ram[30000,31000)@1000");
	g_free(before);
	g_free(after);
	g_free(fbefore);
	g_free(fafter);
	lbt_world_free(m.w);
}

static void run_misuse(gconstpointer data)
{
	const Misuse *mu = data;

	if (g_test_subprocess()) {
		misuse_child(mu);
		return;
	}
	/* not a timing check: the limit only turns a deadlock into a failure */
	g_test_trap_subprocess(NULL, 300 * G_USEC_PER_SEC, 0);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*CRITICAL*");
}

/* ---- the misuses ---- */

static void alias_gets_subregion(Map *m)
{
	memory_region_add_subregion(m->a, 0, m->f);
}

static void f_untouched(Map *m)
{
	g_assert_null(memory_region_get_container(m->f));
	g_assert_false(memory_region_is_mapped(m->f));
}

static void add_twice_same_container(Map *m)
{
	memory_region_add_subregion_overlap(m->c, 0x5000, m->x, 7);
}

static void x_untouched(Map *m)
{
	g_assert_true(memory_region_get_container(m->x) == m->c);
	g_assert_cmphex(memory_region_get_address(m->x), ==, 0x1000);
	g_assert_cmpint(memory_region_get_priority(m->x), ==, 0);
}

static void add_to_second_container(Map *m)
{
	memory_region_add_subregion(m->w->root, 0x50000, m->x);
}

static void add_to_unmapped_second_container(Map *m)
{
	memory_region_add_subregion(m->d, 0, m->x);
}

static void del_child_of_other(Map *m)
{
	memory_region_del_subregion(m->w->root, m->x);
}

static void del_unattached(Map *m)
{
	memory_region_del_subregion(m->c, m->f);
}

static void del_from_alias(Map *m)
{
	memory_region_del_subregion(m->a, m->x);
}

static const MemoryRegionOps bad_ops = {
	.impl.unaligned = true,	/* without valid.unaligned */
};

static void impl_unaligned_without_valid(Map *m)
{
	/* static: the library may keep state in it after the critical */
	static MemoryRegion bad;

	memory_region_init_io(&bad, NULL, &bad_ops, NULL, "bad", 0x100);
}

static void add_to_itself(Map *m)
{
	memory_region_add_subregion(m->f, 0, m->f);
}

static void add_container_to_itself(Map *m)
{
	memory_region_add_subregion(m->d, 0, m->d);
}

static void d_untouched(Map *m)
{
	g_assert_null(memory_region_get_container(m->d));
	g_assert_true(memory_region_get_container(m->z) == m->d);
	g_assert_true(memory_region_get_container(m->z2) == m->z);
}

/* d holds z: putting d into z closes a loop */
static void cycle_two(Map *m)
{
	memory_region_add_subregion(m->z, 0, m->d);
}

static void cycle_three(Map *m)
{
	memory_region_add_subregion(m->z2, 0, m->d);
}

/* the address space's root into its own subtree */
static void cycle_root(Map *m)
{
	memory_region_add_subregion(m->c, 0xf000, m->w->root);
}

static void root_untouched(Map *m)
{
	g_assert_null(memory_region_get_container(m->w->root));
	g_assert_true(memory_region_get_container(m->c) == m->w->root);
}

/* an alias of c placed inside c would render c inside itself forever */
static void cycle_through_alias(Map *m)
{
	memory_region_add_subregion(m->c, 0xc000, m->al_c);
}

static void al_c_untouched(Map *m)
{
	g_assert_null(memory_region_get_container(m->al_c));
}

/* the same one level down: an alias of d placed inside d's child z */
static void cycle_through_alias_unmapped(Map *m)
{
	memory_region_add_subregion(m->z, 0x100, m->al_d);
}

static void al_d_untouched(Map *m)
{
	g_assert_null(memory_region_get_container(m->al_d));
	d_untouched(m);
}

static MemoryRegion zeroed;	/* never initialised */

static void uninit_as_child(Map *m)
{
	memset(&zeroed, 0, sizeof(zeroed));
	memory_region_add_subregion(m->c, 0x9000, &zeroed);
}

static void uninit_as_container(Map *m)
{
	memset(&zeroed, 0, sizeof(zeroed));
	memory_region_add_subregion(&zeroed, 0, m->f);
}

static void uninit_as_alias_target(Map *m)
{
	static MemoryRegion al;

	memset(&zeroed, 0, sizeof(zeroed));
	memory_region_init_alias(&al, NULL, "al", &zeroed, 0, 0x100);
}

static void uninit_setter(Map *m)
{
	memset(&zeroed, 0, sizeof(zeroed));
	memory_region_set_enabled(&zeroed, false);
	memory_region_set_address(&zeroed, 0x1000);
	memory_region_set_size(&zeroed, 0x1000);
}

static void uninit_unref(Map *m)
{
	memset(&zeroed, 0, sizeof(zeroed));
	memory_region_unref(&zeroed);
}

static unsigned int gone_count;

/* one unref too many: the region was already finalised */
static void unref_below_zero(Map *m)
{
	static MemoryRegion once;
	unsigned int before;

	gone_count = 0;
	memory_region_init(&once, NULL, "once", 0x10);
	loopback_memory_region_set_free_notify(&once, lbt_count_notify,
					       &gone_count);
	memory_region_unref(&once);
	loopback_memory_drain();
	g_assert_cmpuint(gone_count, ==, 1);
	before = g_atomic_int_get(&criticals);
	g_assert_cmpuint(before, ==, 0);
	memory_region_unref(&once);
	loopback_memory_drain();
}

static void notified_once(Map *m)
{
	g_assert_cmpuint(gone_count, ==, 1);
}

static void alias_offset_on_non_alias(Map *m)
{
	memory_region_set_alias_offset(m->x, 0x10);
}

static const Misuse misuses[] = {
	{ "/misuse/alias/add-subregion-to-alias", alias_gets_subregion, f_untouched },
	{ "/misuse/alias/del-subregion-from-alias", del_from_alias, x_untouched },
	{ "/misuse/alias/set-alias-offset-on-non-alias", alias_offset_on_non_alias, x_untouched },
	{ "/misuse/add/twice-to-same-container", add_twice_same_container, x_untouched },
	{ "/misuse/add/to-second-container", add_to_second_container, x_untouched },
	{ "/misuse/add/to-second-unmapped-container", add_to_unmapped_second_container, x_untouched },
	{ "/misuse/add/region-to-itself", add_to_itself, f_untouched },
	{ "/misuse/add/container-to-itself", add_container_to_itself, d_untouched },
	{ "/misuse/cycle/two-levels", cycle_two, d_untouched },
	{ "/misuse/cycle/three-levels", cycle_three, d_untouched },
	{ "/misuse/cycle/root-into-own-subtree", cycle_root, root_untouched },
	{ "/misuse/cycle/alias-of-container-inside-it", cycle_through_alias, al_c_untouched },
	{ "/misuse/cycle/alias-of-ancestor-in-unmapped-tree", cycle_through_alias_unmapped, al_d_untouched },
	{ "/misuse/del/child-of-another-container", del_child_of_other, x_untouched },
	{ "/misuse/del/region-in-no-container", del_unattached, f_untouched },
	{ "/misuse/ops/impl-unaligned-without-valid-unaligned", impl_unaligned_without_valid, NULL },
	{ "/misuse/uninitialised/as-subregion", uninit_as_child, NULL },
	{ "/misuse/uninitialised/as-container", uninit_as_container, f_untouched },
	{ "/misuse/uninitialised/as-alias-target", uninit_as_alias_target, NULL },
	{ "/misuse/uninitialised/setters", uninit_setter, NULL },
	{ "/misuse/uninitialised/unref", uninit_unref, NULL },
	{ "/misuse/refcount/unref-after-finalise", unref_below_zero, notified_once },
};

int main(int argc, char **argv)
{
	unsigned int i;

	g_log_set_writer_func(count_writer, NULL, NULL);
	g_test_init(&argc, &argv, NULL);
	/* report every failing test, not only the first */
	g_test_set_nonfatal_assertions();

	for (i = 0; i < G_N_ELEMENTS(misuses); i++)
		g_test_add_data_func(misuses[i].path, &misuses[i], run_misuse);
	return g_test_run();
}
