/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory listeners: the call sequences of commits, registration and
 * global dirty tracking.
 *
 * Every expected sequence is derived from QEMU's system/memory.c (as of
 * QEMU 9.x/10.x, unchanged in these parts since 7.2 except where said):
 * memory_region_transaction_commit() calls begin on every listener, then
 * for each address space address_space_set_flatview() runs
 * address_space_update_topology_pass() twice (del pass: region_del in
 * reverse for an old range with no identical new one; add pass:
 * region_nop forward for identical ranges, plus log_start forward /
 * log_stop in reverse when dirty-log bits came / went, and region_add
 * forward for new ranges), then address_space_update_ioeventfds(); then
 * commit on every listener.  Registration is listener_add_address_space(),
 * unregistration listener_del_address_space().
 */
#include "config.h"

#include <string.h>

#include "trace-listener.h"

#define MIG (1 << DIRTY_MEMORY_MIGRATION)

typedef struct Fix {
	LbtWorld *w;
	GString *tr;
	TraceListener l;
} Fix;

static void fix_init(Fix *f)
{
	f->w = lbt_world_new(UINT64_MAX);
	f->tr = g_string_new(NULL);
	tl_init(&f->l, "L", f->tr, 0);
}

static void fix_register(Fix *f)
{
	memory_listener_register(&f->l.l, f->w->as);
	g_string_truncate(f->tr, 0);
}

static void fix_free(Fix *f)
{
	if (f->l.l.registered)
		memory_listener_unregister(&f->l.l);
	lbt_world_free(f->w);
	g_string_free(f->tr, TRUE);
	g_assert_cmpuint(lbt_live(), ==, 0);
}

/* Two io regions, x at 0x1000 and y at 0x2000, then the listener. */
static void fix_xy(Fix *f, MemoryRegion **x, MemoryRegion **y)
{
	fix_init(f);
	*x = lbt_new_io(f->w, "x", 0x1000);
	*y = lbt_new_io(f->w, "y", 0x1000);
	memory_region_add_subregion(f->w->root, 0x1000, *x);
	memory_region_add_subregion(f->w->root, 0x2000, *y);
	fix_register(f);
}

static void test_add(void)
{
	Fix f;
	MemoryRegion *x;

	fix_init(&f);
	x = lbt_new_io(f.w, "x", 0x1000);
	memory_listener_register(&f.l.l, f.w->as);
	/* listener_add_address_space() on an empty view */
	tl_assert(f.tr, "L begin", "L commit");
	memory_region_add_subregion(f.w->root, 0x1000, x);
	tl_assert(f.tr, "L begin", "L add x[1000,2000)@0", "L commit");
	fix_free(&f);
}

static void test_remove(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_xy(&f, &x, &y);
	memory_region_del_subregion(f.w->root, x);
	/* del pass: x; add pass: y unchanged */
	tl_assert(f.tr, "L begin", "L del x[1000,2000)@0",
		  "L nop y[2000,3000)@0", "L commit");
	fix_free(&f);
}

static void test_move(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_xy(&f, &x, &y);
	memory_region_set_address(x, 0x3000);
	/*
	 * old x@1000 y@2000, new y@2000 x@3000: the del pass drops x@1000,
	 * the add pass keeps y and adds x@3000, in address order.
	 */
	tl_assert(f.tr, "L begin", "L del x[1000,2000)@0",
		  "L nop y[2000,3000)@0", "L add x[3000,4000)@0", "L commit");
	fix_free(&f);
}

static void test_resize(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_xy(&f, &x, &y);
	memory_region_set_size(x, 0x800);
	/* same start, different range: not flatrange_equal(), del + add */
	tl_assert(f.tr, "L begin", "L del x[1000,2000)@0",
		  "L add x[1000,1800)@0", "L nop y[2000,3000)@0", "L commit");
	fix_free(&f);
}

static void test_enable_disable(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_xy(&f, &x, &y);
	memory_region_set_enabled(x, false);
	tl_assert(f.tr, "L begin", "L del x[1000,2000)@0",
		  "L nop y[2000,3000)@0", "L commit");
	memory_region_set_enabled(x, true);
	tl_assert(f.tr, "L begin", "L add x[1000,2000)@0",
		  "L nop y[2000,3000)@0", "L commit");
	/* no change, no commit work: set_enabled returns early in QEMU */
	memory_region_set_enabled(x, true);
	tl_assert(f.tr, "");
	fix_free(&f);
}

static void test_alias_offset(void)
{
	Fix f;
	MemoryRegion *t, *al;

	fix_init(&f);
	t = lbt_new_io(f.w, "t", 0x4000);
	al = lbt_new_alias(f.w, "al", t, 0, 0x1000);
	memory_region_add_subregion(f.w->root, 0x10000, al);
	fix_register(&f);
	memory_region_set_alias_offset(al, 0x1000);
	/* offset_in_region differs: del + add of the target's range */
	tl_assert(f.tr, "L begin", "L del t[10000,11000)@0",
		  "L add t[10000,11000)@1000", "L commit");
	fix_free(&f);
}

static void test_readonly(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_xy(&f, &x, &y);
	memory_region_set_readonly(y, true);
	/* the whole del pass comes before the add pass */
	tl_assert(f.tr, "L begin", "L del y[2000,3000)@0",
		  "L nop x[1000,2000)@0", "L add y[2000,3000)@0:ro",
		  "L commit");
	/* a disabled region's flag changes nothing visible: no commit */
	memory_region_set_enabled(x, false);
	g_string_truncate(f.tr, 0);
	memory_region_set_readonly(x, true);
	tl_assert(f.tr, "");
	fix_free(&f);
}

static void test_nonvolatile(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_xy(&f, &x, &y);
	memory_region_set_nonvolatile(x, true);
	tl_assert(f.tr, "L begin", "L del x[1000,2000)@0",
		  "L add x[1000,2000)@0:nv", "L nop y[2000,3000)@0",
		  "L commit");
	fix_free(&f);
}

/* A transaction makes one commit of many changes. */
static void test_transaction(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_xy(&f, &x, &y);
	memory_region_transaction_begin();
	memory_region_set_enabled(y, false);
	memory_region_set_address(x, 0x5000);
	memory_region_set_enabled(y, true);
	tl_assert(f.tr, "");
	memory_region_transaction_commit();
	tl_assert(f.tr, "L begin", "L del x[1000,2000)@0",
		  "L nop y[2000,3000)@0", "L add x[5000,6000)@0", "L commit");
	fix_free(&f);
}

/*
 * Global dirty tracking: memory_global_dirty_log_start() calls
 * log_global_start forward, then commits with an update pending, so the
 * MIGRATION bit reaches RAM ranges through the add pass's log_start.
 * Stop commits first, then calls log_global_stop in reverse
 * (memory_global_dirty_log_do_stop()).
 */
static void test_log_global(void)
{
	Fix f;
	MemoryRegion *ram, *x;
	GError *err = NULL;

	fix_init(&f);
	ram = lbt_new_ram(f.w, "ram", 0x2000);
	x = lbt_new_io(f.w, "x", 0x1000);
	memory_region_add_subregion(f.w->root, 0, ram);
	memory_region_add_subregion(f.w->root, 0x4000, x);
	fix_register(&f);

	g_assert_cmpuint(loopback_global_dirty_tracking(), ==, 0);
	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						    &err));
	g_assert_no_error(err);
	tl_assert(f.tr, "L global_start", "L begin", "L nop ram[0,2000)@0",
		  "L log_start ram[0,2000)@0 0>4", "L nop x[4000,5000)@0",
		  "L commit");
	g_assert_cmpuint(loopback_global_dirty_tracking(), ==,
			 GLOBAL_DIRTY_MIGRATION);
	g_assert_cmpuint(memory_region_get_dirty_log_mask(ram), ==, MIG);
	g_assert_true(memory_region_is_logging(ram, DIRTY_MEMORY_MIGRATION));
	/* io regions are not logged */
	g_assert_cmpuint(memory_region_get_dirty_log_mask(x), ==, 0);

	/* a second reason while tracking is on: nothing to tell */
	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_DIRTY_RATE,
						    &err));
	tl_assert(f.tr, "");
	memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
	tl_assert(f.tr, "");
	g_assert_cmpuint(loopback_global_dirty_tracking(), ==,
			 GLOBAL_DIRTY_DIRTY_RATE);

	memory_global_dirty_log_stop(GLOBAL_DIRTY_DIRTY_RATE);
	tl_assert(f.tr, "L begin", "L nop ram[0,2000)@0",
		  "L log_stop ram[0,2000)@0 4>0", "L nop x[4000,5000)@0",
		  "L commit", "L global_stop");
	g_assert_cmpuint(memory_region_get_dirty_log_mask(ram), ==, 0);
	g_assert_false(memory_region_is_logging(ram, DIRTY_MEMORY_MIGRATION));
	fix_free(&f);
}

/*
 * memory_region_set_log(): the VGA bit on one region, seen through the
 * nop path (QEMU: memory_region_update_pending |= mr->enabled).
 */
static void test_set_log(void)
{
	Fix f;
	MemoryRegion *ram;

	fix_init(&f);
	ram = lbt_new_ram(f.w, "ram", 0x2000);
	memory_region_add_subregion(f.w->root, 0x10000, ram);
	fix_register(&f);
	memory_region_set_log(ram, true, DIRTY_MEMORY_VGA);
	tl_assert(f.tr, "L begin", "L nop ram[10000,12000)@0",
		  "L log_start ram[10000,12000)@0 0>1", "L commit");
	g_assert_true(memory_region_is_logging(ram, DIRTY_MEMORY_VGA));
	memory_region_set_log(ram, false, DIRTY_MEMORY_VGA);
	tl_assert(f.tr, "L begin", "L nop ram[10000,12000)@0",
		  "L log_stop ram[10000,12000)@0 1>0", "L commit");
	fix_free(&f);
}

/* log_global_start refused: the ones started get log_global_stop, reversed. */
static void test_log_global_refused(void)
{
	Fix f;
	TraceListener b, c;
	GError *err = NULL;

	fix_init(&f);
	tl_init(&b, "B", f.tr, 1);
	tl_init(&c, "C", f.tr, 2);
	f.l.l.priority = 0;
	b.refuse_global_start = true;
	fix_register(&f);
	memory_listener_register(&b.l, f.w->as);
	memory_listener_register(&c.l, f.w->as);
	g_string_truncate(f.tr, 0);

	g_assert_false(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						     &err));
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_PERM);
	g_clear_error(&err);
	/* memory_global_dirty_log_do_start(): stop those before B, backwards */
	tl_assert(f.tr, "L global_start", "B global_start", "L global_stop");
	g_assert_cmpuint(loopback_global_dirty_tracking(), ==, 0);

	memory_listener_unregister(&c.l);
	memory_listener_unregister(&b.l);
	fix_free(&f);
}

/*
 * Registration replays to the new listener only: begin, log_global_start
 * (tracking is on), per range region_add, coalesced_io_add, log_start
 * from 0, then eventfd_add per ioeventfd, commit.  Unregistration: begin,
 * per range log_stop to 0, coalesced_io_del, region_del, then eventfd_del
 * per ioeventfd, commit; no log_global_stop.
 */
static void test_late_registration(void)
{
	Fix f;
	TraceListener early;
	MemoryRegion *ram, *x;
	EventNotifier e;
	EventNotifier *es[] = { &e };

	fix_init(&f);
	tl_init(&early, "E", f.tr, 0);
	memory_listener_register(&early.l, f.w->as);
	ram = lbt_new_ram(f.w, "ram", 0x2000);
	x = lbt_new_io(f.w, "x", 0x1000);
	memory_region_add_subregion(f.w->root, 0, ram);
	memory_region_add_subregion(f.w->root, 0x10000, x);
	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	memory_region_add_eventfd(x, 0x10, 4, true, 7, &e);
	memory_region_add_coalescing(x, 0x100, 0x100);
	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						    NULL));
	g_string_truncate(f.tr, 0);

	f.l.notifiers = es;
	f.l.nr_notifiers = 1;
	memory_listener_register(&f.l.l, f.w->as);
	tl_assert(f.tr, "L begin", "L global_start", "L add ram[0,2000)@0",
		  "L log_start ram[0,2000)@0 0>4", "L add x[10000,11000)@0",
		  "L coalesced_add x[10000,11000)@0 10100+100",
		  "L eventfd_add [10010+4] 1 7 e0", "L commit");

	memory_listener_unregister(&f.l.l);
	tl_assert(f.tr, "L begin", "L log_stop ram[0,2000)@0 4>0",
		  "L del ram[0,2000)@0",
		  "L coalesced_del x[10000,11000)@0 10100+100",
		  "L del x[10000,11000)@0", "L eventfd_del [10010+4] 1 7 e0",
		  "L commit");
	g_assert_false(f.l.l.registered);

	/* the early listener heard nothing of either */
	memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
	memory_listener_unregister(&early.l);
	memory_region_del_eventfd(x, 0x10, 4, true, 7, &e);
	fix_free(&f);
	event_notifier_cleanup(&e);
}

/*
 * Three listeners: A (priority 5), B and C (priority 10, B registered
 * first).  Forward = A B C; reverse = C B A.  QEMU inserts a listener
 * after every one of the same or a lower priority (memory_listener_register).
 */
static void test_priority(void)
{
	Fix f;
	TraceListener a, b, c;
	MemoryRegion *x, *y, *ram;
	EventNotifier e;
	EventNotifier *es[] = { &e };

	fix_init(&f);
	x = lbt_new_io(f.w, "x", 0x1000);
	y = lbt_new_io(f.w, "y", 0x1000);
	ram = lbt_new_ram(f.w, "ram", 0x1000);
	memory_region_add_subregion(f.w->root, 0x1000, x);
	memory_region_add_subregion(f.w->root, 0x2000, y);
	memory_region_add_subregion(f.w->root, 0x8000, ram);
	tl_init(&b, "B", f.tr, 10);
	tl_init(&a, "A", f.tr, 5);
	tl_init(&c, "C", f.tr, 10);
	memory_listener_register(&b.l, f.w->as);
	memory_listener_register(&a.l, f.w->as);
	memory_listener_register(&c.l, f.w->as);
	g_string_truncate(f.tr, 0);

	memory_region_set_address(x, 0x3000);
	tl_assert(f.tr, "A begin", "B begin", "C begin",
		  "C del x[1000,2000)@0", "B del x[1000,2000)@0",
		  "A del x[1000,2000)@0",
		  "A nop y[2000,3000)@0", "B nop y[2000,3000)@0",
		  "C nop y[2000,3000)@0",
		  "A add x[3000,4000)@0", "B add x[3000,4000)@0",
		  "C add x[3000,4000)@0",
		  "A nop ram[8000,9000)@0", "B nop ram[8000,9000)@0",
		  "C nop ram[8000,9000)@0",
		  "A commit", "B commit", "C commit");

	/* address_space_add_del_ioeventfds(): add in reverse, del forward */
	a.notifiers = b.notifiers = c.notifiers = es;
	a.nr_notifiers = b.nr_notifiers = c.nr_notifiers = 1;
	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	memory_region_add_eventfd(y, 0, 0, false, 0, &e);
	tl_assert(f.tr, "C eventfd_add [2000+0] 0 0 e0",
		  "B eventfd_add [2000+0] 0 0 e0",
		  "A eventfd_add [2000+0] 0 0 e0");
	memory_region_del_eventfd(y, 0, 0, false, 0, &e);
	tl_assert(f.tr, "A eventfd_del [2000+0] 0 0 e0",
		  "B eventfd_del [2000+0] 0 0 e0",
		  "C eventfd_del [2000+0] 0 0 e0");

	/* log_start forward, log_stop reverse, global stop reverse */
	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_LIMIT, NULL));
	g_string_truncate(f.tr, 0);
	memory_global_dirty_log_stop(GLOBAL_DIRTY_LIMIT);
	tl_assert(f.tr, "A begin", "B begin", "C begin",
		  "A nop y[2000,3000)@0", "B nop y[2000,3000)@0",
		  "C nop y[2000,3000)@0",
		  "A nop x[3000,4000)@0", "B nop x[3000,4000)@0",
		  "C nop x[3000,4000)@0",
		  "A nop ram[8000,9000)@0", "B nop ram[8000,9000)@0",
		  "C nop ram[8000,9000)@0",
		  "C log_stop ram[8000,9000)@0 4>0",
		  "B log_stop ram[8000,9000)@0 4>0",
		  "A log_stop ram[8000,9000)@0 4>0",
		  "A commit", "B commit", "C commit",
		  "C global_stop", "B global_stop", "A global_stop");

	memory_listener_unregister(&a.l);
	memory_listener_unregister(&b.l);
	memory_listener_unregister(&c.l);
	fix_free(&f);
	event_notifier_cleanup(&e);
}

/*
 * Two address spaces.  begin and commit go to every listener whatever its
 * filter (MEMORY_LISTENER_CALL_GLOBAL); region callbacks only to the
 * listeners of the address space.  Every commit re-renders every view, so
 * the unchanged space's listener hears region_nop for its ranges.
 */
static void test_filter(void)
{
	Fix f;
	TraceListener all;
	MemoryRegion *root2, *x, *y;
	AddressSpace *as2;

	fix_init(&f);
	x = lbt_new_io(f.w, "x", 0x1000);
	memory_region_add_subregion(f.w->root, 0x1000, x);
	root2 = lbt_new_container(f.w, "root2", UINT64_MAX);
	as2 = lbt_as_new(root2, "second");
	y = lbt_new_io(f.w, "y", 0x1000);

	tl_init(&all, "N", f.tr, 1);
	fix_register(&f);
	memory_listener_register(&all.l, NULL);
	/* a catch-all listener replays every address space, in init order */
	tl_assert(f.tr, "N begin", "N add x[1000,2000)@0", "N commit",
		  "N begin", "N commit");

	memory_region_add_subregion(root2, 0x7000, y);
	tl_assert(f.tr, "L begin", "N begin", "L nop x[1000,2000)@0",
		  "N nop x[1000,2000)@0", "N add y[7000,8000)@0",
		  "L commit", "N commit");

	memory_listener_unregister(&all.l);
	tl_assert(f.tr, "N begin", "N del x[1000,2000)@0", "N commit",
		  "N begin", "N del y[7000,8000)@0", "N commit");
	lbt_as_free(as2);
	fix_free(&f);
}

/*
 * Two address spaces on one root share one view; each space still runs
 * its own passes, so a catch-all listener hears every range twice, with
 * the same view in both sections.
 */
static FlatView *shared_seen[2];
static unsigned int shared_n;

static void shared_probe(TraceListener *t, MemoryRegionSection *s)
{
	if (shared_n < 2)
		shared_seen[shared_n++] = s->fv;
}

static void test_shared_root(void)
{
	Fix f;
	TraceListener all;
	AddressSpace *as2;
	MemoryRegion *x;

	fix_init(&f);
	as2 = lbt_as_new(f.w->root, "same-root");
	x = lbt_new_io(f.w, "x", 0x1000);
	tl_init(&all, "N", f.tr, 0);
	fix_register(&f);
	memory_listener_register(&all.l, NULL);
	g_string_truncate(f.tr, 0);

	memory_region_add_subregion(f.w->root, 0x1000, x);
	tl_assert(f.tr, "L begin", "N begin", "L add x[1000,2000)@0",
		  "N add x[1000,2000)@0", "N add x[1000,2000)@0",
		  "L commit", "N commit");

	/* replay: both spaces show the same view object */
	shared_n = 0;
	memory_listener_unregister(&all.l);
	all.on_add = shared_probe;
	memory_listener_register(&all.l, NULL);
	g_assert_cmpuint(shared_n, ==, 2);
	g_assert_nonnull(shared_seen[0]);
	g_assert_true(shared_seen[0] == shared_seen[1]);
	loopback_rcu_read_lock();
	g_assert_true(shared_seen[0] == address_space_to_flatview(f.w->as));
	g_assert_true(shared_seen[0] == address_space_to_flatview(as2));
	loopback_rcu_read_unlock();

	memory_listener_unregister(&all.l);
	lbt_as_free(as2);
	fix_free(&f);
}

/*
 * A catch-all listener hears an address space come and go.  QEMU's
 * address_space_init() renders only the new space; libloopback tells the
 * listeners that see it as one begin/commit (QEMU has no catch-all
 * listeners any more, see Documentation/memory-api.md).
 */
static void test_as_lifetime(void)
{
	Fix f;
	MemoryRegion *root2, *y;
	AddressSpace *as2;

	fix_init(&f);
	root2 = lbt_new_container(f.w, "root2", 0x10000);
	y = lbt_new_io(f.w, "y", 0x1000);
	memory_region_add_subregion(root2, 0x3000, y);
	memory_listener_register(&f.l.l, NULL);
	g_string_truncate(f.tr, 0);

	as2 = lbt_as_new(root2, "second");
	tl_assert(f.tr, "L begin", "L add y[3000,4000)@0", "L commit");
	lbt_as_free(as2);
	tl_assert(f.tr, "L begin", "L del y[3000,4000)@0", "L commit");
	fix_free(&f);
}

/*
 * Sections: during a commit the address space still shows its old view
 * (address_space_set_flatview() publishes after the passes), and QEMU's
 * sections take address_space_to_flatview(); a replay shows the current
 * one.  Offsets of a partly hidden region.
 */
static void test_sections(void)
{
	Fix f;
	MemoryRegion *x, *y;
	FlatView *before;

	fix_init(&f);
	x = lbt_new_io(f.w, "x", 0x4000);
	y = lbt_new_io(f.w, "y", 0x1000);
	memory_region_add_subregion(f.w->root, 0x10000, x);
	fix_register(&f);

	loopback_rcu_read_lock();
	before = address_space_to_flatview(f.w->as);
	loopback_rcu_read_unlock();
	f.l.check_fv = true;
	f.l.expect_fv = before;
	memory_region_add_subregion_overlap(f.w->root, 0x11000, y, 1);
	tl_assert(f.tr, "L begin", "L del x[10000,14000)@0",
		  "L add x[10000,11000)@0", "L add y[11000,12000)@0",
		  "L add x[12000,14000)@2000", "L commit");

	f.l.check_fv = false;
	memory_listener_unregister(&f.l.l);
	g_string_truncate(f.tr, 0);
	loopback_rcu_read_lock();
	f.l.expect_fv = address_space_to_flatview(f.w->as);
	loopback_rcu_read_unlock();
	f.l.check_fv = true;
	memory_listener_register(&f.l.l, f.w->as);
	tl_assert(f.tr, "L begin", "L add x[10000,11000)@0",
		  "L add y[11000,12000)@0", "L add x[12000,14000)@2000",
		  "L commit");
	f.l.check_fv = false;
	fix_free(&f);
}

/*
 * memory_region_sync_dirty_bitmap(): log_sync per logged section of the
 * region (or of every region with NULL), log_sync_global once; then the
 * after-sync callback forward.
 */
static void test_sync(void)
{
	Fix f;
	TraceListener g;
	MemoryRegion *ram, *ram2, *x;

	fix_init(&f);
	ram = lbt_new_ram(f.w, "ram", 0x1000);
	ram2 = lbt_new_ram(f.w, "ram2", 0x1000);
	x = lbt_new_io(f.w, "x", 0x1000);
	memory_region_add_subregion(f.w->root, 0, ram);
	memory_region_add_subregion(f.w->root, 0x1000, ram2);
	memory_region_add_subregion(f.w->root, 0x2000, x);
	fix_register(&f);
	tl_init(&g, "G", f.tr, 1);
	g.l.log_sync = NULL;
	g.l.log_sync_global = tl_log_sync_global;
	g.l.begin = g.l.commit = NULL;
	g.l.region_add = g.l.region_del = g.l.region_nop = NULL;
	memory_listener_register(&g.l, f.w->as);

	/* nothing is logged: only the global syncer is called */
	g_string_truncate(f.tr, 0);
	memory_global_dirty_log_sync(false);
	tl_assert(f.tr, "G log_sync_global 0");

	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						    NULL));
	g_string_truncate(f.tr, 0);
	memory_global_dirty_log_sync(true);
	tl_assert(f.tr, "L log_sync ram[0,1000)@0",
		  "L log_sync ram2[1000,2000)@0", "G log_sync_global 1");
	memory_region_sync_dirty_bitmap(ram2, false);
	tl_assert(f.tr, "L log_sync ram2[1000,2000)@0",
		  "G log_sync_global 0");
	memory_global_after_dirty_log_sync();
	tl_assert(f.tr, "L after_sync", "G after_sync");

	memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
	memory_listener_unregister(&g.l);
	fix_free(&f);
}

/*
 * memory_region_clear_dirty_bitmap(): log_clear, forward, for the part of
 * the range each logged section of the region shows (QEMU shrinks the
 * section to it), in every address space each listener sees; sections
 * that miss the range, regions not logged and listeners without log_clear
 * hear nothing.  The bitmaps are not touched.
 */
static void test_clear_dirty_bitmap(void)
{
	Fix f;
	TraceListener g, other;
	MemoryRegion *ram, *lo, *x, *root2;
	AddressSpace *as2;
	uint8_t v = 1;

	fix_init(&f);
	ram = lbt_new_ram(f.w, "ram", 0x4000);
	lo = lbt_new_alias(f.w, "lo", ram, 0x1000, 0x2000);
	x = lbt_new_io(f.w, "x", 0x1000);
	memory_region_add_subregion(f.w->root, 0x10000, ram);
	memory_region_add_subregion(f.w->root, 0x20000, lo);
	memory_region_add_subregion(f.w->root, 0x30000, x);
	root2 = lbt_new_container(f.w, "root2", UINT64_MAX);
	as2 = lbt_as_new(root2, "other");
	fix_register(&f);
	tl_init(&g, "G", f.tr, 1);
	g.l.log_clear = NULL;
	memory_listener_register(&g.l, f.w->as);
	tl_init(&other, "O", f.tr, 0);
	memory_listener_register(&other.l, as2);
	g_string_truncate(f.tr, 0);

	/* not logged: nobody is told */
	memory_region_clear_dirty_bitmap(ram, 0, 0x4000);
	tl_assert(f.tr, "");

	memory_region_set_log(ram, true, DIRTY_MEMORY_VGA);
	address_space_write(f.w->as, 0x11000, MEMTXATTRS_UNSPECIFIED, &v, 1);
	g_string_truncate(f.tr, 0);
	memory_region_clear_dirty_bitmap(ram, 0x800, 0x2000);
	tl_assert(f.tr, "L log_clear ram[10800,12800)@800",
		  "L log_clear ram[20000,21800)@1000");
	/* the alias shows 1000..3000 only: it misses this range */
	memory_region_clear_dirty_bitmap(ram, 0x3800, 0x800);
	tl_assert(f.tr, "L log_clear ram[13800,14000)@3800");
	memory_region_clear_dirty_bitmap(ram, 0x4000, 0x1000);
	tl_assert(f.tr, "");
	/* a range ending at 2^64 does not wrap */
	memory_region_clear_dirty_bitmap(ram, 0x3000, UINT64_MAX - 0x2fff);
	tl_assert(f.tr, "L log_clear ram[13000,14000)@3000");
	memory_region_clear_dirty_bitmap(x, 0, 0x1000);
	tl_assert(f.tr, "");
	g_assert_true(memory_region_get_dirty(ram, 0x1000, 1,
					      DIRTY_MEMORY_VGA));

	memory_region_set_log(ram, false, DIRTY_MEMORY_VGA);
	memory_listener_unregister(&g.l);
	memory_listener_unregister(&other.l);
	lbt_as_free(as2);
	fix_free(&f);
}

/*
 * address_space_remove_listeners(): every listener bound to the space is
 * unregistered, in call order (QEMU takes the head of as->listeners, which
 * is sorted by priority, until it is empty), each with the mirror of its
 * replay; listeners of other spaces and catch-all ones stay.
 */
static void test_remove_listeners(void)
{
	Fix f;
	TraceListener a, b, other, all;
	MemoryRegion *x, *y, *root2;
	AddressSpace *as2;

	fix_init(&f);
	x = lbt_new_io(f.w, "x", 0x1000);
	y = lbt_new_io(f.w, "y", 0x1000);
	memory_region_add_subregion(f.w->root, 0x1000, x);
	root2 = lbt_new_container(f.w, "root2", UINT64_MAX);
	as2 = lbt_as_new(root2, "other");
	tl_init(&a, "A", f.tr, 5);
	tl_init(&b, "B", f.tr, 1);
	tl_init(&other, "O", f.tr, 0);
	tl_init(&all, "N", f.tr, 3);
	memory_listener_register(&a.l, f.w->as);
	memory_listener_register(&b.l, f.w->as);
	memory_listener_register(&other.l, as2);
	memory_listener_register(&all.l, NULL);
	g_string_truncate(f.tr, 0);

	address_space_remove_listeners(f.w->as);
	tl_assert(f.tr, "B begin", "B del x[1000,2000)@0", "B commit",
		  "A begin", "A del x[1000,2000)@0", "A commit");
	g_assert_false(a.l.registered);
	g_assert_false(b.l.registered);
	g_assert_true(other.l.registered);
	g_assert_true(all.l.registered);

	memory_region_add_subregion(f.w->root, 0x2000, y);
	tl_assert(f.tr, "O begin", "N begin", "N nop x[1000,2000)@0",
		  "N add y[2000,3000)@0", "O commit", "N commit");
	/* nothing left to remove: no callback */
	address_space_remove_listeners(f.w->as);
	tl_assert(f.tr, "");

	memory_listener_unregister(&other.l);
	memory_listener_unregister(&all.l);
	lbt_as_free(as2);
	fix_free(&f);
}

typedef struct Ranges {
	GString *s;
} Ranges;

static bool collect_range(Int128 start, Int128 len, const MemoryRegion *mr,
			  hwaddr off, void *opaque)
{
	g_string_append_printf(opaque, "%s[%" PRIx64 "+%" PRIx64 ")@%" PRIx64
			       " ", memory_region_name(mr), (uint64_t)start,
			       (uint64_t)len, off);
	return false;
}

/*
 * memory_region_section_new_copy(): the copy holds a reference on the
 * region and on the flat view, so both outlive the map change that
 * removed them (and the caller's own reference) until free_copy.
 */
static void test_section_copy_holds_references(void)
{
	Fix f;
	MemoryRegion *x = lbt_region_alloc();
	MemoryRegionSection s, *copy;
	GString *seen = g_string_new("");

	fix_init(&f);
	memory_region_init_io(x, NULL, &f.w->ops, &f.w->dev, "x", 0x1000);
	lbt_track(x);
	memory_region_add_subregion(f.w->root, 0x1000, x);
	s = memory_region_find(f.w->root, 0x1800, 0x100);
	g_assert_true(s.mr == x);
	copy = memory_region_section_new_copy(&s);
	g_assert_nonnull(copy);
	g_assert_true(copy->mr == x && copy->fv == s.fv);
	g_assert_cmphex(copy->offset_within_region, ==, 0x800);
	g_assert_cmphex(copy->offset_within_address_space, ==, 0x1800);
	g_assert_cmphex((uint64_t)copy->size, ==, 0x100);
	memory_region_unref(s.mr);

	/* gone from the map, the view replaced, no other reference */
	memory_region_del_subregion(f.w->root, x);
	memory_region_unref(x);
	lbt_drain();
	g_assert_cmpuint(lbt_live(), ==, 2);	/* root and x */
	flatview_for_each_range(copy->fv, collect_range, seen);
	g_assert_cmpstr(seen->str, ==, "x[1000+1000)@0 ");
	g_assert_cmpstr(memory_region_name(copy->mr), ==, "x");

	memory_region_section_free_copy(copy);
	lbt_drain();
	g_assert_cmpuint(lbt_live(), ==, 1);	/* root */
	g_string_free(seen, TRUE);
	fix_free(&f);
}

/* A section with neither region nor view copies as it is. */
static void test_section_copy_of_empty_section(void)
{
	MemoryRegionSection s = { .offset_within_address_space = 0x5000 };
	MemoryRegionSection *copy = memory_region_section_new_copy(&s);

	g_assert_null(copy->mr);
	g_assert_null(copy->fv);
	g_assert_cmphex(copy->offset_within_address_space, ==, 0x5000);
	memory_region_section_free_copy(copy);
}

/*
 * A section whose view a commit has already released cannot get a view
 * reference (QEMU asserts): a critical, and the copy has no view but
 * still holds the region.
 */
static void test_section_copy_of_released_view(void)
{
	Fix f;
	MemoryRegion *x, *y;
	MemoryRegionSection s, *copy;

	fix_init(&f);
	x = lbt_new_io(f.w, "x", 0x1000);
	y = lbt_new_io(f.w, "y", 0x1000);
	memory_region_add_subregion(f.w->root, 0x1000, x);
	rcu_read_lock();
	s = memory_region_find(f.w->root, 0x1000, 1);
	memory_region_add_subregion(f.w->root, 0x2000, y);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*flat view has been replaced*");
	copy = memory_region_section_new_copy(&s);
	g_test_assert_expected_messages();
	rcu_read_unlock();
	g_assert_null(copy->fv);
	g_assert_true(copy->mr == x);
	memory_region_unref(s.mr);
	memory_region_section_free_copy(copy);
	fix_free(&f);
}

/* ---- misuse ---- */

static void misuse_register_twice(void)
{
	Fix f;

	fix_init(&f);
	fix_register(&f);
	memory_listener_register(&f.l.l, f.w->as);
	/* nothing replayed a second time */
	tl_assert(f.tr, "");
	fix_free(&f);
}

static void misuse_unregister_unregistered(void)
{
	Fix f;

	fix_init(&f);
	memory_listener_unregister(&f.l.l);
	tl_assert(f.tr, "");
	fix_free(&f);
}

static void misuse_register_uninitialised_as(void)
{
	Fix f;
	AddressSpace bogus;

	fix_init(&f);
	memset(&bogus, 0, sizeof(bogus));
	memory_listener_register(&f.l.l, &bogus);
	g_assert_false(f.l.l.registered);
	tl_assert(f.tr, "");
	fix_free(&f);
}

static void misuse_both_syncs(void)
{
	Fix f;

	fix_init(&f);
	f.l.l.log_sync_global = tl_log_sync_global;
	memory_listener_register(&f.l.l, f.w->as);
	g_assert_false(f.l.l.registered);
	fix_free(&f);
}

static MemoryRegion *probe_region;

static void add_changes_map(TraceListener *t, MemoryRegionSection *s)
{
	memory_region_set_enabled(probe_region, false);
	memory_region_set_address(probe_region, 0x9000);
	memory_region_transaction_begin();
	memory_region_set_size(probe_region, 0x10);
	memory_region_transaction_commit();
	memory_listener_unregister(&t->l);
	g_assert_false(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						     NULL));
}

/* A region_add that changes the map: refused, nothing recurses. */
static void misuse_change_in_callback(void)
{
	Fix f;
	MemoryRegion *x, *y;

	fix_init(&f);
	x = lbt_new_io(f.w, "x", 0x1000);
	y = lbt_new_io(f.w, "y", 0x1000);
	memory_region_add_subregion(f.w->root, 0x1000, x);
	fix_register(&f);
	probe_region = x;
	f.l.on_add = add_changes_map;
	memory_region_add_subregion(f.w->root, 0x2000, y);
	tl_assert(f.tr, "L begin", "L nop x[1000,2000)@0",
		  "L add y[2000,3000)@0", "L commit");
	g_assert_true(memory_region_is_enabled(x));
	g_assert_cmphex(memory_region_get_address(x), ==, 0x1000);
	g_assert_cmphex(memory_region_size(x), ==, 0x1000);
	g_assert_true(f.l.l.registered);
	g_assert_cmpuint(loopback_global_dirty_tracking(), ==, 0);
	f.l.on_add = NULL;
	/* and the map still works */
	memory_region_set_address(x, 0x4000);
	tl_assert(f.tr, "L begin", "L del x[1000,2000)@0",
		  "L nop y[2000,3000)@0", "L add x[4000,5000)@0", "L commit");
	fix_free(&f);
}

static void misuse_dirty_flags(void)
{
	GError *err = NULL;

	g_assert_false(memory_global_dirty_log_start(0, &err));
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_clear_error(&err);
	g_assert_false(memory_global_dirty_log_start(0x8, &err));
	g_clear_error(&err);
	g_assert_cmpuint(loopback_global_dirty_tracking(), ==, 0);
	/* stopping what was not started */
	memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
	g_assert_cmpuint(loopback_global_dirty_tracking(), ==, 0);
}

/* Destroying a space a listener is still bound to unregisters it. */
static void misuse_destroy_with_listener(void)
{
	Fix f;
	MemoryRegion *root2, *y;
	AddressSpace *as2;

	fix_init(&f);
	root2 = lbt_new_container(f.w, "root2", 0x10000);
	y = lbt_new_io(f.w, "y", 0x1000);
	memory_region_add_subregion(root2, 0, y);
	as2 = lbt_as_new(root2, "second");
	memory_listener_register(&f.l.l, as2);
	g_string_truncate(f.tr, 0);
	lbt_as_free(as2);
	tl_assert(f.tr, "L begin", "L del y[0,1000)@0", "L commit");
	g_assert_false(f.l.l.registered);
	fix_free(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/listener/add", test_add);
	g_test_add_func("/listener/remove", test_remove);
	g_test_add_func("/listener/move", test_move);
	g_test_add_func("/listener/resize", test_resize);
	g_test_add_func("/listener/enable-disable", test_enable_disable);
	g_test_add_func("/listener/alias-offset", test_alias_offset);
	g_test_add_func("/listener/readonly-toggle", test_readonly);
	g_test_add_func("/listener/nonvolatile-toggle", test_nonvolatile);
	g_test_add_func("/listener/transaction-is-one-commit",
			test_transaction);
	g_test_add_func("/listener/log/global-start-stop", test_log_global);
	g_test_add_func("/listener/log/set-log", test_set_log);
	g_test_add_func("/listener/log/global-start-refused-rolls-back",
			test_log_global_refused);
	g_test_add_func("/listener/log/sync", test_sync);
	g_test_add_func("/listener/log/clear-dirty-bitmap-shrinks-sections",
			test_clear_dirty_bitmap);
	g_test_add_func("/listener/remove-listeners-of-one-space",
			test_remove_listeners);
	g_test_add_func("/listener/section-copy/holds-region-and-view",
			test_section_copy_holds_references);
	g_test_add_func("/listener/section-copy/empty-section",
			test_section_copy_of_empty_section);
	g_test_add_func("/listener/section-copy/released-view-critical",
			test_section_copy_of_released_view);
	g_test_add_func("/listener/late-registration-and-unregistration",
			test_late_registration);
	g_test_add_func("/listener/priority-order-three-listeners",
			test_priority);
	g_test_add_func("/listener/filter-one-space-vs-all", test_filter);
	g_test_add_func("/listener/two-spaces-share-a-root", test_shared_root);
	g_test_add_func("/listener/catch-all-hears-space-come-and-go",
			test_as_lifetime);
	g_test_add_func("/listener/sections-show-the-old-view-in-commit",
			test_sections);
	tl_add_misuse("/listener/misuse/register-twice", misuse_register_twice);
	tl_add_misuse("/listener/misuse/unregister-unregistered",
		      misuse_unregister_unregistered);
	tl_add_misuse("/listener/misuse/register-on-uninitialised-space",
		      misuse_register_uninitialised_as);
	tl_add_misuse("/listener/misuse/log-sync-and-log-sync-global",
		      misuse_both_syncs);
	tl_add_misuse("/listener/misuse/callback-changes-the-map",
		      misuse_change_in_callback);
	tl_add_misuse("/listener/misuse/bad-global-dirty-flags",
		      misuse_dirty_flags);
	tl_add_misuse("/listener/misuse/destroy-space-with-listener",
		      misuse_destroy_with_listener);
	return g_test_run();
}
