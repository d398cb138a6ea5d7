/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RAM discard managers.
 *
 * The library's part, from QEMU's system/memory.c: a manager is attached
 * to RAM only, a second one is refused with -EBUSY and NULL clears it, the
 * getter answers NULL for anything but RAM, and the ram_discard_manager_*
 * calls forward to the manager's methods.  The manager below is a bitmap
 * of populated 4 KiB blocks that follows virtio-mem's contract
 * (hw/virtio/virtio-mem.c): register replays the populated parts of the
 * listener's section through notify_populate, unregister discards them
 * (the whole section at once when the listener supports double discard).
 * The listener tests use it the way vfio does (hw/vfio/listener.c): with a
 * section of the RAM as an address space shows it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "testutil.h"

#define BLOCK 0x1000
#define NBLOCKS 16
#define RAM_BASE 0x100000

typedef struct BitmapRdm {
	RamDiscardManager rdm;	/* first: the methods cast back */
	MemoryRegion *mr;
	bool populated[NBLOCKS];
	RamDiscardListener *listeners;
} BitmapRdm;

static BitmapRdm *bitmap_of(const RamDiscardManager *rdm)
{
	return (BitmapRdm *)rdm;
}

static uint64_t bm_granularity(const RamDiscardManager *rdm,
			       const MemoryRegion *mr)
{
	g_assert_true(mr == bitmap_of(rdm)->mr);
	return BLOCK;
}

static bool bm_is_populated(const RamDiscardManager *rdm,
			    const MemoryRegionSection *s)
{
	const BitmapRdm *bm = bitmap_of(rdm);
	hwaddr first = s->offset_within_region / BLOCK;
	hwaddr end = (s->offset_within_region + (uint64_t)s->size +
		      BLOCK - 1) / BLOCK;

	for (hwaddr b = first; b < end; b++)
		if (!bm->populated[b])
			return false;
	return true;
}

/* The part of @s covering blocks [b, e), as a section of its own. */
static MemoryRegionSection bm_clip(const MemoryRegionSection *s, hwaddr b,
				   hwaddr e)
{
	hwaddr start = MAX(b * BLOCK, s->offset_within_region);
	hwaddr end = MIN(e * BLOCK, s->offset_within_region +
				    (uint64_t)s->size);
	MemoryRegionSection r = *s;

	r.offset_within_address_space += start - s->offset_within_region;
	r.offset_within_region = start;
	r.size = end - start;
	return r;
}

/* Calls @fn on each run of blocks in @s whose state is @populated. */
static int bm_for_each(const BitmapRdm *bm, const MemoryRegionSection *s,
		       bool populated,
		       int (*fn)(MemoryRegionSection *s, void *opaque),
		       void *opaque)
{
	hwaddr first = s->offset_within_region / BLOCK;
	hwaddr end = (s->offset_within_region + (uint64_t)s->size +
		      BLOCK - 1) / BLOCK;

	for (hwaddr b = first; b < end;) {
		hwaddr e = b;

		while (e < end && bm->populated[e] == populated)
			e++;
		if (e > b) {
			MemoryRegionSection part = bm_clip(s, b, e);
			int ret = fn(&part, opaque);

			if (ret)
				return ret;
		}
		b = e + 1;
	}
	return 0;
}

static int bm_replay_populated(const RamDiscardManager *rdm,
			       MemoryRegionSection *s, ReplayRamPopulate fn,
			       void *opaque)
{
	return bm_for_each(bitmap_of(rdm), s, true, fn, opaque);
}

typedef struct DiscardCall {
	ReplayRamDiscard fn;
	void *opaque;
} DiscardCall;

static int bm_discard_cb(MemoryRegionSection *s, void *opaque)
{
	DiscardCall *c = opaque;

	c->fn(s, c->opaque);
	return 0;
}

static void bm_replay_discarded(const RamDiscardManager *rdm,
				MemoryRegionSection *s, ReplayRamDiscard fn,
				void *opaque)
{
	DiscardCall c = { fn, opaque };

	bm_for_each(bitmap_of(rdm), s, false, bm_discard_cb, &c);
}

static int bm_populate_cb(MemoryRegionSection *s, void *opaque)
{
	RamDiscardListener *rdl = opaque;

	return rdl->notify_populate(rdl, s);
}

static int bm_discard_rdl_cb(MemoryRegionSection *s, void *opaque)
{
	RamDiscardListener *rdl = opaque;

	rdl->notify_discard(rdl, s);
	return 0;
}

static void bm_register(RamDiscardManager *rdm, RamDiscardListener *rdl,
			MemoryRegionSection *s)
{
	BitmapRdm *bm = bitmap_of(rdm);

	g_assert_true(s->mr == bm->mr);
	rdl->section = g_memdup2(s, sizeof(*s));
	rdl->next = bm->listeners;
	bm->listeners = rdl;
	bm_for_each(bm, rdl->section, true, bm_populate_cb, rdl);
}

static void bm_unregister(RamDiscardManager *rdm, RamDiscardListener *rdl)
{
	BitmapRdm *bm = bitmap_of(rdm);
	RamDiscardListener **p = &bm->listeners;

	if (rdl->double_discard_supported)
		rdl->notify_discard(rdl, rdl->section);
	else
		bm_for_each(bm, rdl->section, true, bm_discard_rdl_cb, rdl);
	while (*p != rdl)
		p = &(*p)->next;
	*p = rdl->next;
	g_free(rdl->section);
	rdl->section = NULL;
}

static const RamDiscardManagerOps bm_ops = {
	.get_min_granularity = bm_granularity,
	.is_populated = bm_is_populated,
	.replay_populated = bm_replay_populated,
	.replay_discarded = bm_replay_discarded,
	.register_listener = bm_register,
	.unregister_listener = bm_unregister,
};

static void bm_init(BitmapRdm *bm, MemoryRegion *mr, const char *pattern)
{
	memset(bm, 0, sizeof(*bm));
	bm->rdm.ops = &bm_ops;
	bm->mr = mr;
	/* one character per block: '#' populated, '.' discarded */
	for (unsigned int i = 0; i < NBLOCKS; i++)
		bm->populated[i] = pattern[i] == '#';
}

/* ---- a recording listener ---- */

typedef struct Rec {
	RamDiscardListener rdl;
	GString *log;	/* "p|d OFFSET_IN_REGION SIZE OFFSET_IN_AS" */
	int fail_at;	/* notify_populate call number that fails, or 0 */
	int calls;
} Rec;

static void log_section(GString *log, char kind,
			const MemoryRegionSection *s)
{
	g_string_append_printf(log, "%c %" PRIx64 " %" PRIx64 " %" PRIx64 "\n",
			       kind, s->offset_within_region, (uint64_t)s->size,
			       s->offset_within_address_space);
}

static int rec_populate(RamDiscardListener *rdl, MemoryRegionSection *s)
{
	Rec *r = (Rec *)rdl;

	log_section(r->log, 'p', s);
	return ++r->calls == r->fail_at ? -ENOMEM : 0;
}

static void rec_discard(RamDiscardListener *rdl, MemoryRegionSection *s)
{
	log_section(((Rec *)rdl)->log, 'd', s);
}

static int replay_populate_log(MemoryRegionSection *s, void *opaque)
{
	Rec *r = opaque;

	log_section(r->log, 'p', s);
	return ++r->calls == r->fail_at ? -EIO : 0;
}

static void replay_discard_log(MemoryRegionSection *s, void *opaque)
{
	log_section(((Rec *)opaque)->log, 'd', s);
}

typedef struct Fix {
	LbtWorld *w;
	MemoryRegion *ram;
	BitmapRdm bm;
	Rec rec;
} Fix;

/* 64 KiB of RAM at RAM_BASE with a manager in @pattern's state. */
static Fix *fix_new(const char *pattern)
{
	Fix *f = g_new0(Fix, 1);

	f->w = lbt_world_new(UINT64_MAX);
	f->ram = lbt_new_ram(f->w, "ram", NBLOCKS * BLOCK);
	bm_init(&f->bm, f->ram, pattern);
	g_assert_cmpint(memory_region_set_ram_discard_manager(f->ram,
							      &f->bm.rdm),
			==, 0);
	memory_region_add_subregion(f->w->root, RAM_BASE, f->ram);
	f->rec.log = g_string_new("");
	ram_discard_listener_init(&f->rec.rdl, rec_populate, rec_discard,
				  false);
	return f;
}

static void fix_free(Fix *f)
{
	g_assert_null(f->bm.listeners);
	g_assert_cmpint(memory_region_set_ram_discard_manager(f->ram, NULL),
			==, 0);
	lbt_world_free(f->w);
	g_assert_cmpuint(lbt_live(), ==, 0);
	g_string_free(f->rec.log, TRUE);
	g_free(f);
}

/* The section the address space shows for [addr, addr + size). */
static MemoryRegionSection find(Fix *f, hwaddr addr, uint64_t size)
{
	MemoryRegionSection s = memory_region_find(f->w->root, addr, size);

	g_assert_true(s.mr == f->ram);
	/* the reference is not needed: the fixture keeps the region */
	memory_region_unref(s.mr);
	return s;
}

/* ---- attaching ---- */

static void test_set_get(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *ram = lbt_new_ram(w, "ram", NBLOCKS * BLOCK);
	BitmapRdm a, b;

	bm_init(&a, ram, "################");
	bm_init(&b, ram, "................");
	g_assert_null(memory_region_get_ram_discard_manager(ram));
	g_assert_false(memory_region_has_ram_discard_manager(ram));
	g_assert_cmpint(memory_region_set_ram_discard_manager(ram, &a.rdm),
			==, 0);
	g_assert_true(memory_region_get_ram_discard_manager(ram) == &a.rdm);
	g_assert_true(memory_region_has_ram_discard_manager(ram));
	/* QEMU: a second manager is refused, the first stays */
	g_assert_cmpint(memory_region_set_ram_discard_manager(ram, &b.rdm),
			==, -EBUSY);
	g_assert_true(memory_region_get_ram_discard_manager(ram) == &a.rdm);
	/* NULL clears; then another may come */
	g_assert_cmpint(memory_region_set_ram_discard_manager(ram, NULL), ==,
			0);
	g_assert_false(memory_region_has_ram_discard_manager(ram));
	g_assert_cmpint(memory_region_set_ram_discard_manager(ram, &b.rdm),
			==, 0);
	g_assert_true(memory_region_get_ram_discard_manager(ram) == &b.rdm);
	g_assert_cmpint(memory_region_set_ram_discard_manager(ram, NULL), ==,
			0);
	lbt_world_free(w);
}

/* RAM only: QEMU asserts, the library refuses with a critical. */
static void test_non_ram_refused(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *io = lbt_new_io(w, "io", NBLOCKS * BLOCK);
	MemoryRegion *c = lbt_new_container(w, "c", NBLOCKS * BLOCK);
	BitmapRdm bm;

	bm_init(&bm, io, "################");
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*io is not RAM*");
	g_assert_cmpint(memory_region_set_ram_discard_manager(io, &bm.rdm),
			==, -EINVAL);
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*c is not RAM*");
	g_assert_cmpint(memory_region_set_ram_discard_manager(c, &bm.rdm),
			==, -EINVAL);
	g_test_assert_expected_messages();
	g_assert_null(memory_region_get_ram_discard_manager(io));
	g_assert_false(memory_region_has_ram_discard_manager(c));
	lbt_world_free(w);
}

static void test_manager_without_method(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *ram = lbt_new_ram(w, "ram", NBLOCKS * BLOCK);
	RamDiscardManagerOps ops = bm_ops;
	BitmapRdm bm;

	bm_init(&bm, ram, "################");
	ops.replay_discarded = NULL;
	bm.rdm.ops = &ops;
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*lacks a method*");
	g_assert_cmpint(memory_region_set_ram_discard_manager(ram, &bm.rdm),
			==, -EINVAL);
	g_test_assert_expected_messages();
	g_assert_false(memory_region_has_ram_discard_manager(ram));
	lbt_world_free(w);
}

/* ---- forwarding ---- */

static void test_granularity_and_is_populated(void)
{
	Fix *f = fix_new("##..############");
	MemoryRegionSection s;

	g_assert_cmpuint(ram_discard_manager_get_min_granularity(&f->bm.rdm,
								 f->ram), ==,
			 BLOCK);
	s = find(f, RAM_BASE, 2 * BLOCK);
	g_assert_true(ram_discard_manager_is_populated(&f->bm.rdm, &s));
	s = find(f, RAM_BASE + BLOCK, 2 * BLOCK);
	g_assert_false(ram_discard_manager_is_populated(&f->bm.rdm, &s));
	fix_free(f);
}

static void test_replay_populated(void)
{
	Fix *f = fix_new("#..##.#.........");
	MemoryRegionSection s = find(f, RAM_BASE + 0x800, 7 * BLOCK);

	/* [0x800, 0x7800): populated 0x800-0x1000, 0x3000-0x5000, 0x6000-0x7000 */
	g_assert_cmpint(ram_discard_manager_replay_populated(&f->bm.rdm, &s,
							     replay_populate_log,
							     &f->rec), ==, 0);
	g_assert_cmpstr(f->rec.log->str, ==,
			"p 800 800 100800\np 3000 2000 103000\n"
			"p 6000 1000 106000\n");
	/* a failure stops the replay and is returned */
	g_string_truncate(f->rec.log, 0);
	f->rec.calls = 0;
	f->rec.fail_at = 2;
	g_assert_cmpint(ram_discard_manager_replay_populated(&f->bm.rdm, &s,
							     replay_populate_log,
							     &f->rec), ==,
			-EIO);
	g_assert_cmpstr(f->rec.log->str, ==,
			"p 800 800 100800\np 3000 2000 103000\n");
	fix_free(f);
}

static void test_replay_discarded(void)
{
	Fix *f = fix_new("#..##.#.........");
	MemoryRegionSection s = find(f, RAM_BASE, 8 * BLOCK);

	ram_discard_manager_replay_discarded(&f->bm.rdm, &s,
					     replay_discard_log, &f->rec);
	g_assert_cmpstr(f->rec.log->str, ==,
			"d 1000 2000 101000\nd 5000 1000 105000\n"
			"d 7000 1000 107000\n");
	fix_free(f);
}

/* ---- listeners ---- */

static void test_listener_init(void)
{
	RamDiscardListener rdl;

	memset(&rdl, 0x5a, sizeof(rdl));
	ram_discard_listener_init(&rdl, rec_populate, rec_discard, true);
	g_assert_true(rdl.notify_populate == rec_populate);
	g_assert_true(rdl.notify_discard == rec_discard);
	g_assert_true(rdl.double_discard_supported);
	g_assert_null(rdl.section);
	g_assert_null(rdl.next);
}

/* Registering replays the populated parts of the section, nothing else. */
static void test_register_replays_populated(void)
{
	Fix *f = fix_new(".##..#....######");
	MemoryRegionSection s = find(f, RAM_BASE + 0x1000, 9 * BLOCK);

	ram_discard_manager_register_listener(&f->bm.rdm, &f->rec.rdl, &s);
	g_assert_cmpstr(f->rec.log->str, ==,
			"p 1000 2000 101000\np 5000 1000 105000\n");
	g_assert_true(f->bm.listeners == &f->rec.rdl);
	g_string_truncate(f->rec.log, 0);
	/* unregistering discards the same parts, one by one */
	ram_discard_manager_unregister_listener(&f->bm.rdm, &f->rec.rdl);
	g_assert_cmpstr(f->rec.log->str, ==,
			"d 1000 2000 101000\nd 5000 1000 105000\n");
	g_assert_null(f->bm.listeners);
	fix_free(f);
}

/* With double discard supported, one discard of the whole section. */
static void test_unregister_double_discard(void)
{
	Fix *f = fix_new(".##..#....######");
	MemoryRegionSection s = find(f, RAM_BASE + 0x1000, 9 * BLOCK);

	f->rec.rdl.double_discard_supported = true;
	ram_discard_manager_register_listener(&f->bm.rdm, &f->rec.rdl, &s);
	g_string_truncate(f->rec.log, 0);
	ram_discard_manager_unregister_listener(&f->bm.rdm, &f->rec.rdl);
	g_assert_cmpstr(f->rec.log->str, ==, "d 1000 9000 101000\n");
	fix_free(f);
}

static void test_register_invalid_listener(void)
{
	Fix *f = fix_new("################");
	MemoryRegionSection s = find(f, RAM_BASE, BLOCK);
	RamDiscardListener rdl;

	ram_discard_listener_init(&rdl, rec_populate, NULL, false);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*without both notify callbacks*");
	ram_discard_manager_register_listener(&f->bm.rdm, &rdl, &s);
	g_test_assert_expected_messages();
	g_assert_null(f->bm.listeners);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*a section of a region is required*");
	ram_discard_manager_register_listener(&f->bm.rdm, &f->rec.rdl, NULL);
	g_test_assert_expected_messages();
	g_assert_null(f->bm.listeners);
	fix_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ram-discard/set/get-has-ebusy-clear", test_set_get);
	g_test_add_func("/ram-discard/set/non-ram-refused",
			test_non_ram_refused);
	g_test_add_func("/ram-discard/set/manager-without-method-refused",
			test_manager_without_method);
	g_test_add_func("/ram-discard/forward/granularity-and-is-populated",
			test_granularity_and_is_populated);
	g_test_add_func("/ram-discard/forward/replay-populated",
			test_replay_populated);
	g_test_add_func("/ram-discard/forward/replay-discarded",
			test_replay_discarded);
	g_test_add_func("/ram-discard/listener/init", test_listener_init);
	g_test_add_func("/ram-discard/listener/register-replays-populated-only",
			test_register_replays_populated);
	g_test_add_func("/ram-discard/listener/unregister-double-discard",
			test_unregister_double_discard);
	g_test_add_func("/ram-discard/listener/invalid-refused",
			test_register_invalid_listener);
	return g_test_run();
}
