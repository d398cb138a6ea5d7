/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The second half of the memory API under concurrency, each case a g_test
 * of its own in which reader threads dispatch (in 5, register listeners)
 * while a writer thread changes what they depend on:
 *  1. ioeventfds added and deleted under writes (write signals or reaches
 *     the device, exactly once);
 *  2. dirty logging toggled under writes by four paths, with a thread
 *     taking the bits (a logged write is reported by a take);
 *  3. bounce buffers and map clients, under map changes (the budget is
 *     never overcommitted and is whole at the end; a client is called at
 *     most once per registration, exactly once if not unregistered);
 *  4. IOMMU translation through a page table and target map the writer
 *     changes (every word is what one state during the access gives);
 *  5. listeners registered and unregistered while the writer commits
 *     (add/del balanced, the mirror equals the map at every commit);
 *  6. the coalesced-MMIO flush flag and handler changed under dispatch
 *     (a removed handler never runs after a drain, nor recursively).
 *
 * The rules are QEMU's (docs/devel/rcu.rst; system/memory.c and
 * system/physmem.c): dispatch never takes the writers' lock and works on
 * what was published when it started; every change is made under the
 * writers' lock, and what a change replaces is freed after a grace period.
 * Each test states the property it checks in a form that a single run can
 * decide, from counters the threads keep; the sanitizer builds
 * (AddressSanitizer, ThreadSanitizer) add use-after-free and data-race
 * checking of the same runs.  Everything is bounded by iteration counts.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <loopback/memory.h>

#include "stress-util.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define PAGE 0x1000

#define NREADERS	4
#define WRITER_STEPS	2000
#define READER_MIN_OPS	10000
/* A reader waits when it is this many accesses per step ahead. */
#define OPS_PER_STEP	(2 * READER_MIN_OPS / WRITER_STEPS)

/*
 * Reader threads: each runs @op until the writer is done and it has made
 * at least READER_MIN_OPS calls.  @priv is the caller's, kept by
 * readers_start().
 */
typedef struct Reader {
	unsigned int t;
	uint64_t rng;
	void *ctx;
	void (*op)(struct Reader *rd);
	void (*fini)(struct Reader *rd);
	GThread *thread;
	uint64_t n;
	gint steps;		/* n / OPS_PER_STEP, for the writer */
	void *priv;
} Reader;

static gint writer_done;
static gint writer_steps;
static gint readers_go;
static gint readers_busy;	/* readers short of READER_MIN_OPS */
static Reader *pace_rd;
static unsigned int pace_n;

static gpointer reader_main(gpointer data)
{
	Reader *rd = data;

	/* all start together, so that the threads really overlap */
	while (!g_atomic_int_get(&readers_go))
		g_thread_yield();
	while (!g_atomic_int_get(&writer_done) || rd->n < READER_MIN_OPS) {
		/*
		 * Paced by the writer's steps: on a loaded machine a reader
		 * would otherwise make all its accesses while the writer is
		 * descheduled, seeing one map.
		 */
		while (rd->n / OPS_PER_STEP >
		       (uint64_t)g_atomic_int_get(&writer_steps) &&
		       !g_atomic_int_get(&writer_done))
			g_thread_yield();
		rd->op(rd);
		if (++rd->n % OPS_PER_STEP == 0)
			g_atomic_int_inc(&rd->steps);
		if (rd->n == READER_MIN_OPS)
			g_atomic_int_dec_and_test(&readers_busy);
	}
	if (rd->fini)
		rd->fini(rd);
	return NULL;
}

static void readers_start(Reader *rd, unsigned int n, uint64_t seed,
			  void *ctx, void (*op)(Reader *rd),
			  void (*fini)(Reader *rd))
{
	g_atomic_int_set(&writer_done, 0);
	g_atomic_int_set(&writer_steps, 0);
	g_atomic_int_set(&readers_go, 0);
	g_atomic_int_set(&readers_busy, n);
	pace_rd = rd;
	pace_n = n;
	for (unsigned int t = 0; t < n; t++) {
		void *priv = rd[t].priv;

		rd[t] = (Reader) { .t = t, .rng = seed + t + 1, .ctx = ctx,
				   .op = op, .fini = fini, .priv = priv };
		rd[t].thread = g_thread_new("reader", reader_main, &rd[t]);
	}
	g_atomic_int_set(&readers_go, 1);
}

/*
 * Whether the writer goes on after @steps steps: until WRITER_STEPS, and
 * then until every reader has made its READER_MIN_OPS accesses, so that
 * all of them ran while the map changed.  The writer also waits for
 * readers more than two steps behind: accesses to some maps are slower
 * (an eventfd write, a callback), and a reader that catches up in bursts
 * would mostly see the others.
 */
static bool writer_more(unsigned int steps)
{
	for (unsigned int t = 0; t < pace_n; t++)
		while (g_atomic_int_get(&pace_rd[t].steps) + 2 < (gint)steps)
			g_thread_yield();
	g_atomic_int_set(&writer_steps, steps);
	return steps < WRITER_STEPS || g_atomic_int_get(&readers_busy) > 0;
}

static void readers_join(Reader *rd, unsigned int n)
{
	g_atomic_int_set(&writer_done, 1);
	for (unsigned int t = 0; t < n; t++)
		g_thread_join(rd[t].thread);
}

/* A region on the heap whose storage its free notify releases. */
typedef struct Obj {
	MemoryRegion *mr;
	gint freed;
	void *ctx;
} Obj;

static void obj_free_notify(void *data)
{
	Obj *o = data;

	g_free(o->mr);
	o->mr = NULL;
	g_atomic_int_set(&o->freed, 1);
}

static Obj *obj_io(GPtrArray *objs, const MemoryRegionOps *ops, void *ctx,
		   const char *name, uint64_t size)
{
	Obj *o = g_new0(Obj, 1);

	o->ctx = ctx;
	o->mr = g_new0(MemoryRegion, 1);
	memory_region_init_io(o->mr, o, ops, o, name, size);
	loopback_memory_region_set_free_notify(o->mr, obj_free_notify, o);
	g_ptr_array_add(objs, o);
	return o;
}

/* A callback of @o's region: it must not run after the free notify. */
static bool obj_alive(Obj *o, const char *what, hwaddr addr)
{
	if (g_atomic_int_get(&o->freed)) {
		fail("%s callback at 0x%" HWADDR_PRIx " after its region's "
		     "free notify ran", what, addr);
		return false;
	}
	return true;
}

static void objs_check_freed(GPtrArray *objs)
{
	for (guint i = 0; i < objs->len; i++) {
		Obj *o = g_ptr_array_index(objs, i);

		if (!g_atomic_int_get(&o->freed))
			fail("region %u of %u not finalised after drain", i,
			     objs->len);
	}
}

/* ================================================================== */
/* 1. ioeventfds                                                       */
/* ================================================================== */

/*
 * One io region at EV_BASE with ioeventfds from a fixed list, each with
 * its own notifier, that the writer adds and deletes at random while it
 * also removes, re-adds, disables and replaces the region.  Readers write
 * every (offset, size, value) "class" of ev_offs x ev_sizes x ev_vals.
 *
 * What each write may do is decided by QEMU's rule (memory_region_
 * dispatch_write -> memory_region_dispatch_write_eventfds): it signals one
 * ioeventfd registered on the region it reached that matches it, or it
 * reaches the device, or (nothing mapped) it fails with
 * MEMTX_DECODE_ERROR.  So, with ok[k] the MEMTX_OK writes of class k:
 *  - every OK write is accounted for exactly once: the notifiers' eventfd
 *    counts plus the device's calls add up to the OK writes;
 *  - the device never gets more writes of a class than were made, and
 *    gets all of a class that no ioeventfd in the list matches;
 *  - a notifier is signalled at most as often as writes that its
 *    ioeventfd matches were made.
 */
#define EV_BASE		0x10000
#define EV_SIZE		0x1000

typedef struct EvSpec {
	hwaddr off;
	unsigned int size;
	bool match;
	uint64_t data;
} EvSpec;

static const EvSpec ev_specs[] = {
	{ 0x00, 4, true, 0x11 },
	{ 0x00, 4, true, 0x22 },
	{ 0x08, 0, false, 0 },		/* any size, any value */
	{ 0x10, 4, false, 0 },		/* any 4-byte value */
	{ 0x10, 2, true, 0x33 },
	{ 0x10, 4, true, 0x22 },	/* behind the previous one but one */
	{ 0x18, 8, true, 0x11 },
};
#define EV_NSPECS G_N_ELEMENTS(ev_specs)

static const hwaddr ev_offs[] = { 0x00, 0x08, 0x10, 0x18, 0x20 };
static const unsigned int ev_sizes[] = { 2, 4, 8 };
static const uint64_t ev_vals[] = { 0x11, 0x22, 0x33, 0x44 };
#define EV_NCLASSES (G_N_ELEMENTS(ev_offs) * G_N_ELEMENTS(ev_sizes) * \
		     G_N_ELEMENTS(ev_vals))

static void ev_class(unsigned int k, hwaddr *off, unsigned int *size,
		     uint64_t *val)
{
	*val = ev_vals[k % G_N_ELEMENTS(ev_vals)];
	k /= G_N_ELEMENTS(ev_vals);
	*size = ev_sizes[k % G_N_ELEMENTS(ev_sizes)];
	*off = ev_offs[k / G_N_ELEMENTS(ev_sizes)];
}

static int ev_class_of(hwaddr off, unsigned int size, uint64_t val)
{
	for (unsigned int k = 0; k < EV_NCLASSES; k++) {
		hwaddr o;
		unsigned int s;
		uint64_t v;

		ev_class(k, &o, &s, &v);
		if (o == off && s == size && v == val)
			return k;
	}
	return -1;
}

static bool ev_matches(const EvSpec *sp, unsigned int k)
{
	hwaddr off;
	unsigned int size;
	uint64_t val;

	ev_class(k, &off, &size, &val);
	if (sp->off != off)
		return false;
	return !sp->size ||
	       (sp->size == size && (!sp->match || sp->data == val));
}

typedef struct Ev {
	AddressSpace as;
	MemoryRegion root;
	GPtrArray *objs;
	Obj *cur;
	bool in, enabled;
	bool present[EV_NSPECS];
	EventNotifier n[EV_NSPECS];
	uint64_t signals[EV_NSPECS];	/* writer's thread only */
	gint dev[EV_NCLASSES];
	uint64_t rng;
} Ev;

typedef struct EvReader {
	uint64_t ok[EV_NCLASSES];
	uint64_t unmapped;
} EvReader;

static void ev_dev_write(void *opaque, hwaddr addr, uint64_t data,
			 unsigned size)
{
	Obj *o = opaque;
	Ev *ev = o->ctx;
	int k;

	if (!obj_alive(o, "ioeventfd device", addr))
		return;
	k = ev_class_of(addr, size, data);
	if (k < 0) {
		fail("ioeventfd device: write of %#" PRIx64 " (size %u) at "
		     "0x%" HWADDR_PRIx " that no reader made", data, size,
		     addr);
		return;
	}
	g_atomic_int_inc(&ev->dev[k]);
}

static uint64_t ev_dev_read(void *opaque, hwaddr addr, unsigned size)
{
	return 0;
}

static const MemoryRegionOps ev_ops = {
	.read = ev_dev_read,
	.write = ev_dev_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 8 },
};

static void ev_spec_set(MemoryRegion *mr, Ev *ev, unsigned int i, bool add)
{
	const EvSpec *sp = &ev_specs[i];

	if (add)
		memory_region_add_eventfd(mr, sp->off, sp->size, sp->match,
					  sp->data, &ev->n[i]);
	else
		memory_region_del_eventfd(mr, sp->off, sp->size, sp->match,
					  sp->data, &ev->n[i]);
}

static void ev_toggle_spec(Ev *ev, unsigned int i)
{
	ev->present[i] = !ev->present[i];
	ev_spec_set(ev->cur->mr, ev, i, ev->present[i]);
}

/* A new device replaces the old one, with the same ioeventfds. */
static void ev_replace(Ev *ev)
{
	Obj *old = ev->cur;

	ev->cur = obj_io(ev->objs, &ev_ops, ev, "evdev", EV_SIZE);
	for (unsigned int i = 0; i < EV_NSPECS; i++)
		if (ev->present[i])
			ev_spec_set(ev->cur->mr, ev, i, true);
	memory_region_transaction_begin();
	if (ev->in)
		memory_region_del_subregion(&ev->root, old->mr);
	memory_region_unref(old->mr);
	memory_region_add_subregion(&ev->root, EV_BASE, ev->cur->mr);
	memory_region_transaction_commit();
	ev->in = ev->enabled = true;
}

/* Adds what the notifiers counted since the last call. */
static void ev_collect(Ev *ev)
{
	for (unsigned int i = 0; i < EV_NSPECS; i++) {
		uint64_t v;
		ssize_t r = read(event_notifier_get_fd(&ev->n[i]), &v,
				 sizeof(v));

		if (r == sizeof(v))
			ev->signals[i] += v;
		else if (r >= 0 || errno != EAGAIN)
			fail("eventfd read: %zd (%s)", r, g_strerror(errno));
	}
}

static void ev_writer_step(Ev *ev)
{
	unsigned int i = rnd(&ev->rng) % EV_NSPECS;

	/* mostly mapped: writes that reach nothing check little */
	if (!ev->in || !ev->enabled) {
		memory_region_transaction_begin();
		if (!ev->in)
			memory_region_add_subregion(&ev->root, EV_BASE,
						    ev->cur->mr);
		memory_region_set_enabled(ev->cur->mr, true);
		memory_region_transaction_commit();
		ev->in = ev->enabled = true;
		return;
	}
	switch (rnd(&ev->rng) % 8) {
	case 0:
	case 1:
	case 2:
		ev_toggle_spec(ev, i);
		break;
	case 3:
		if (ev->in)
			memory_region_del_subregion(&ev->root, ev->cur->mr);
		else
			memory_region_add_subregion(&ev->root, EV_BASE,
						    ev->cur->mr);
		ev->in = !ev->in;
		break;
	case 4:
		ev->enabled = !ev->enabled;
		memory_region_set_enabled(ev->cur->mr, ev->enabled);
		break;
	case 5:
		/* several changes, one commit */
		memory_region_transaction_begin();
		ev_toggle_spec(ev, i);
		ev_toggle_spec(ev, (i + 1 + rnd(&ev->rng) % (EV_NSPECS - 1)) %
				   EV_NSPECS);
		if (rnd(&ev->rng) & 1) {
			ev->enabled = !ev->enabled;
			memory_region_set_enabled(ev->cur->mr, ev->enabled);
		}
		memory_region_transaction_commit();
		break;
	case 6:
		if (rnd(&ev->rng) % 4 == 0)
			ev_replace(ev);
		else
			ev_toggle_spec(ev, i);
		break;
	case 7:
		/* the device thread: consume the notifications */
		ev_collect(ev);
		break;
	}

}

static void ev_reader_op(Reader *rd)
{
	Ev *ev = rd->ctx;
	EvReader *er = rd->priv;
	unsigned int k = rnd(&rd->rng) % EV_NCLASSES;
	hwaddr off, a;
	unsigned int size;
	uint64_t val;
	uint8_t buf[8];
	MemTxResult r;

	ev_class(k, &off, &size, &val);
	a = EV_BASE + off;
	if (rnd(&rd->rng) & 1) {
		uint64_t le = GUINT64_TO_LE(val);

		memcpy(buf, &le, 8);
		r = address_space_write(&ev->as, a, ATTRS, buf, size);
	} else if (size == 2) {
		address_space_stw_le(&ev->as, a, val, ATTRS, &r);
	} else if (size == 4) {
		address_space_stl_le(&ev->as, a, val, ATTRS, &r);
	} else {
		address_space_stq_le(&ev->as, a, val, ATTRS, &r);
	}
	if (r == MEMTX_OK)
		er->ok[k]++;
	else if (r == MEMTX_DECODE_ERROR)
		er->unmapped++;
	else
		fail("reader %u: write at 0x%" HWADDR_PRIx ": result %d",
		     rd->t, a, r);
}

static void test_ioeventfd(void)
{
	uint64_t seed = (uint32_t)g_test_rand_int();
	EvReader er[NREADERS] = { 0 };
	Reader rd[NREADERS];
	uint64_t ok[EV_NCLASSES] = { 0 }, total_ok = 0, total = 0;
	uint64_t unmapped = 0;
	Ev *ev = g_new0(Ev, 1);

	g_test_message("seed %" PRIu64, seed);
	errors_reset();
	ev->rng = seed;
	ev->objs = g_ptr_array_new_with_free_func(g_free);
	for (unsigned int i = 0; i < EV_NSPECS; i++)
		g_assert_cmpint(event_notifier_init(&ev->n[i], 0), ==, 0);
	memory_region_init(&ev->root, NULL, "root", UINT64_MAX);
	ev->cur = obj_io(ev->objs, &ev_ops, ev, "evdev", EV_SIZE);
	memory_region_add_subregion(&ev->root, EV_BASE, ev->cur->mr);
	ev->in = ev->enabled = true;
	address_space_init(&ev->as, &ev->root, "ioeventfd-stress");

	for (unsigned int t = 0; t < NREADERS; t++)
		rd[t].priv = &er[t];
	readers_start(rd, NREADERS, seed, ev, ev_reader_op, NULL);
	for (unsigned int s = 0; writer_more(s); s++)
		ev_writer_step(ev);
	readers_join(rd, NREADERS);

	address_space_destroy(&ev->as);
	if (ev->in)
		memory_region_del_subregion(&ev->root, ev->cur->mr);
	memory_region_unref(ev->cur->mr);
	memory_region_unref(&ev->root);
	loopback_memory_drain();
	ev_collect(ev);
	objs_check_freed(ev->objs);

	for (unsigned int t = 0; t < NREADERS; t++) {
		for (unsigned int k = 0; k < EV_NCLASSES; k++)
			ok[k] += er[t].ok[k];
		unmapped += er[t].unmapped;
	}
	for (unsigned int k = 0; k < EV_NCLASSES; k++) {
		uint64_t dev = g_atomic_int_get(&ev->dev[k]);
		bool matchable = false;

		total_ok += ok[k];
		total += dev;
		for (unsigned int i = 0; i < EV_NSPECS; i++)
			matchable |= ev_matches(&ev_specs[i], k);
		if (dev > ok[k])
			fail("class %u: the device got %" PRIu64 " writes of "
			     "%" PRIu64 " made", k, dev, ok[k]);
		if (!matchable && dev != ok[k])
			fail("class %u matches no ioeventfd, yet the device "
			     "got %" PRIu64 " of %" PRIu64 " writes", k, dev,
			     ok[k]);
	}
	for (unsigned int i = 0; i < EV_NSPECS; i++) {
		uint64_t could = 0;

		for (unsigned int k = 0; k < EV_NCLASSES; k++)
			if (ev_matches(&ev_specs[i], k))
				could += ok[k];
		total += ev->signals[i];
		g_test_message("ioeventfd %u: %" PRIu64 " signals of %" PRIu64
			       " matching writes", i, ev->signals[i], could);
		if (ev->signals[i] > could)
			fail("ioeventfd %u signalled %" PRIu64 " times, for "
			     "%" PRIu64 " matching writes", i,
			     ev->signals[i], could);
		event_notifier_cleanup(&ev->n[i]);
	}
	g_test_message("%" PRIu64 " writes OK, %" PRIu64 " unmapped, %u "
		       "devices", total_ok, unmapped, ev->objs->len);
	if (total != total_ok)
		fail("%" PRIu64 " OK writes, but %" PRIu64 " device calls and "
		     "signals", total_ok, total);
	assert_no_errors();
	g_ptr_array_free(ev->objs, TRUE);
	g_free(ev);
}

/* ================================================================== */
/* 2. dirty logging                                                    */
/* ================================================================== */

/*
 * Readers write their own pages of one RAM region, each page always
 * through the same path (address_space_write, stq, map + unmap, a
 * long-lived MemoryRegionCache), while the writer turns VGA logging
 * (set_log) and global tracking (MIGRATION) on and off and makes
 * unrelated commits, and a third thread takes the pages' bits with
 * snapshot_and_clear and test_and_clear.
 *
 * The property (QEMU's: a page written while its client logs is marked
 * after the data, and a take clears only what it reports) is that the
 * first take of a page after a logged write's mark reports the page.
 *
 * Making it decidable: gen[c] is odd while client c logs; the writer
 * bumps it after logging is on and before it goes off, so a write whose
 * reader saw the same odd gen before and after it was made while logging
 * was on throughout.  Per page, the reader stores started = s before
 * write number s and done = s after it.  For every take the thread
 * records done before it (db) and started after it (sa).  A take with
 * db >= s surely came after write s marked the page; one with sa < s
 * surely came before.  So of the takes from the first with sa >= s up to
 * the first with db >= s, one must report the page, or the write's mark
 * was lost.  (The final take, after the readers stopped, closes every
 * window.)
 */
#define DL_BASE		0x100000
#define DL_PATHS	4	/* write, stq, map, cache */
#define DL_PPP		2	/* pages per reader and path */
#define DL_NPAGES	(NREADERS * DL_PATHS * DL_PPP)
#define DL_OTHER	0x200000

enum { DL_WRITE, DL_STQ, DL_MAP, DL_CACHE };
static const unsigned int dl_clients[2] = {
	DIRTY_MEMORY_VGA, DIRTY_MEMORY_MIGRATION
};

typedef struct DlTake {
	gint db;		/* done[page] before the take */
	gint sa;		/* started[page] after it */
	bool reported;
} DlTake;

typedef struct Dl {
	AddressSpace as;
	MemoryRegion root, ram, other;
	gint gen[2];
	bool on[2];		/* writer's thread */
	gint started[DL_NPAGES], done[DL_NPAGES];
	GArray *logged[2][DL_NPAGES];	/* of gint s, by the page's reader */
	GArray *takes[2][DL_NPAGES];	/* of DlTake, by the taker */
	gint stop_taker;
	uint64_t rounds;
	uint64_t rng;
} Dl;

typedef struct DlReader {
	MemoryRegionCache cache;
	bool cache_ok;
	hwaddr cache_base;
} DlReader;

static unsigned int dl_page(unsigned int t, unsigned int path, unsigned int j)
{
	return (t * DL_PATHS + path) * DL_PPP + j;
}

static void dl_reader_op(Reader *rd)
{
	Dl *dl = rd->ctx;
	DlReader *dr = rd->priv;
	unsigned int path = rnd(&rd->rng) % DL_PATHS;
	unsigned int page = dl_page(rd->t, path, rnd(&rd->rng) % DL_PPP);
	hwaddr off = (hwaddr)page * PAGE + (rnd(&rd->rng) % (PAGE / 8)) * 8;
	hwaddr a = DL_BASE + off;
	gint s = g_atomic_int_get(&dl->started[page]) + 1;
	gint g0[2], g1[2];
	uint64_t v = ((uint64_t)rd->t << 56) | (uint64_t)s;
	MemTxResult r = MEMTX_OK;

	if (!dr->cache_ok) {
		dr->cache_base = DL_BASE +
				 (hwaddr)dl_page(rd->t, DL_CACHE, 0) * PAGE;
		if (address_space_cache_init(&dr->cache, &dl->as,
					     dr->cache_base, DL_PPP * PAGE,
					     true) != DL_PPP * PAGE)
			fail("reader %u: cache init", rd->t);
		dr->cache_ok = true;
	}
	for (unsigned int c = 0; c < 2; c++)
		g0[c] = g_atomic_int_get(&dl->gen[c]);
	g_atomic_int_set(&dl->started[page], s);
	switch (path) {
	case DL_WRITE: {
		uint64_t le = GUINT64_TO_LE(v);

		r = address_space_write(&dl->as, a, ATTRS, &le, 8);
		break;
	}
	case DL_STQ:
		address_space_stq_le(&dl->as, a, v, ATTRS, &r);
		break;
	case DL_MAP: {
		hwaddr len = 8;
		uint8_t *p = address_space_map(&dl->as, a, &len, true, ATTRS);

		if (!p || len != 8) {
			fail("reader %u: map of RAM at 0x%" HWADDR_PRIx
			     " gave %p, length %" PRIu64, rd->t, a, p, len);
			break;
		}
		memcpy(p, &v, 8);
		address_space_unmap(&dl->as, p, len, true, len);
		break;
	}
	case DL_CACHE:
		if (s & 1) {
			address_space_stq_le_cached(&dr->cache,
						    a - dr->cache_base, v,
						    ATTRS, &r);
		} else {
			uint64_t le = GUINT64_TO_LE(v);

			r = address_space_write_cached(&dr->cache,
						       a - dr->cache_base,
						       &le, 8);
		}
		break;
	}
	if (r != MEMTX_OK)
		fail("reader %u: write at 0x%" HWADDR_PRIx ": result %d",
		     rd->t, a, r);
	g_atomic_int_set(&dl->done[page], s);
	for (unsigned int c = 0; c < 2; c++) {
		g1[c] = g_atomic_int_get(&dl->gen[c]);
		if (g0[c] == g1[c] && (g0[c] & 1))
			g_array_append_val(dl->logged[c][page], s);
	}
}

static void dl_reader_fini(Reader *rd)
{
	DlReader *dr = rd->priv;

	address_space_cache_destroy(&dr->cache);
}

/* One take of every page for @client, by either method. */
static void dl_take(Dl *dl, unsigned int c, bool snapshot)
{
	unsigned int client = dl_clients[c];
	DlTake tk[DL_NPAGES];

	if (snapshot) {
		DirtyBitmapSnapshot *snap;

		for (unsigned int p = 0; p < DL_NPAGES; p++)
			tk[p].db = g_atomic_int_get(&dl->done[p]);
		snap = memory_region_snapshot_and_clear_dirty(&dl->ram, 0,
							      DL_NPAGES * PAGE,
							      client);
		for (unsigned int p = 0; p < DL_NPAGES; p++) {
			tk[p].sa = g_atomic_int_get(&dl->started[p]);
			tk[p].reported = memory_region_snapshot_get_dirty(
				&dl->ram, snap, (hwaddr)p * PAGE, PAGE);
		}
		loopback_dirty_bitmap_snapshot_free(snap);
	} else {
		for (unsigned int p = 0; p < DL_NPAGES; p++) {
			tk[p].db = g_atomic_int_get(&dl->done[p]);
			tk[p].reported = memory_region_test_and_clear_dirty(
				&dl->ram, (hwaddr)p * PAGE, PAGE, client);
			tk[p].sa = g_atomic_int_get(&dl->started[p]);
		}
	}
	for (unsigned int p = 0; p < DL_NPAGES; p++)
		g_array_append_val(dl->takes[c][p], tk[p]);
}

static gpointer dl_taker_main(gpointer data)
{
	Dl *dl = data;
	gint last = -1;

	/* a round per writer step: the record of takes stays bounded */
	while (!g_atomic_int_get(&dl->stop_taker)) {
		gint step = g_atomic_int_get(&writer_steps);

		if (step == last) {
			g_thread_yield();
			continue;
		}
		last = step;
		for (unsigned int c = 0; c < 2; c++)
			dl_take(dl, c, dl->rounds & 1);
		dl->rounds++;
	}
	return NULL;
}

/* Turns client @c on or off: a commit, unless inside a transaction. */
static void dl_log(Dl *dl, unsigned int c, bool on)
{
	g_autoptr(GError) err = NULL;

	if (c == 0)
		memory_region_set_log(&dl->ram, on, DIRTY_MEMORY_VGA);
	else if (on && !memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						       &err))
		g_error("dirty tracking: %s", err->message);
	else if (!on)
		memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
}

/*
 * Toggles client @c, in a transaction with a change of another region
 * when @with_other.  gen is odd while logging is on: bumped after the
 * commit that starts it, before the one that stops it.
 */
static void dl_toggle(Dl *dl, unsigned int c, bool with_other)
{
	bool on = !dl->on[c];

	dl->on[c] = on;
	if (!on)
		g_atomic_int_inc(&dl->gen[c]);
	memory_region_transaction_begin();
	dl_log(dl, c, on);
	if (with_other)
		memory_region_set_enabled(&dl->other,
					  !memory_region_is_enabled(&dl->other));
	memory_region_transaction_commit();
	if (on)
		g_atomic_int_inc(&dl->gen[c]);
}

static void dl_writer_step(Dl *dl)
{
	switch (rnd(&dl->rng) % 4) {
	case 0:
		dl_toggle(dl, 0, false);
		break;
	case 1:
		dl_toggle(dl, 1, false);
		break;
	case 2:
		memory_region_set_enabled(&dl->other,
					  !memory_region_is_enabled(&dl->other));
		break;
	case 3:
		dl_toggle(dl, rnd(&dl->rng) & 1, true);
		break;
	}
}

/* The first index of @takes whose field at @field_off is >= @s. */
static guint dl_first(GArray *takes, size_t field_off, gint s)
{
	guint lo = 0, hi = takes->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const DlTake *t = &g_array_index(takes, DlTake, mid);

		if (*(const gint *)((const char *)t + field_off) < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void dl_check(Dl *dl)
{
	for (unsigned int c = 0; c < 2; c++) {
		uint64_t nlogged = 0, nreported = 0;

		for (unsigned int p = 0; p < DL_NPAGES; p++) {
			GArray *takes = dl->takes[c][p];
			GArray *logged = dl->logged[c][p];
			guint *pre = g_new0(guint, takes->len + 1);

			/* pre[i]: takes before i that reported the page */
			for (guint i = 0; i < takes->len; i++) {
				bool rep = g_array_index(takes, DlTake,
							 i).reported;

				pre[i + 1] = pre[i] + rep;
			}
			nreported += pre[takes->len];
			for (guint k = 0; k < logged->len; k++) {
				gint s = g_array_index(logged, gint, k);
				guint i0 = dl_first(takes,
						    G_STRUCT_OFFSET(DlTake, sa),
						    s);
				guint i1 = dl_first(takes,
						    G_STRUCT_OFFSET(DlTake, db),
						    s);

				nlogged++;
				if (i1 >= takes->len) {
					fail("client %u page %u: no take after "
					     "write %d", dl_clients[c], p, s);
				} else if (pre[i1 + 1] == pre[i0]) {
					fail("client %u page %u (path %u): "
					     "write %d made while logging was "
					     "on was not reported by takes "
					     "%u..%u", dl_clients[c], p,
					     p / DL_PPP % DL_PATHS, s, i0, i1);
				}
			}
			g_free(pre);
		}
		if (g_getenv("DL_DEBUG")) {
			GArray *tk = dl->takes[c][0];
			GArray *lg = dl->logged[c][0];
			for (guint i = 0; i < tk->len; i++) { DlTake *x = &g_array_index(tk, DlTake, i); if (i < 40 || i + 5 > tk->len) g_printerr("take %u db %d sa %d rep %d\n", i, x->db, x->sa, x->reported); }
			for (guint i = 0; i < lg->len && i < 40; i++) g_printerr("logged %d\n", g_array_index(lg, gint, i));
			g_printerr("nlogged %u\n", lg->len);
		}
		g_test_message("client %u: %" PRIu64 " logged writes, %"
			       PRIu64 " page reports in %" PRIu64 " rounds",
			       dl_clients[c], nlogged, nreported, dl->rounds);
	}
}

static void test_dirty(void)
{
	uint64_t seed = (uint32_t)g_test_rand_int();
	g_autoptr(GError) err = NULL;
	DlReader dr[NREADERS] = { 0 };
	Reader rd[NREADERS];
	Dl *dl = g_new0(Dl, 1);
	GThread *taker;

	g_test_message("seed %" PRIu64, seed);
	errors_reset();
	dl->rng = seed;
	for (unsigned int c = 0; c < 2; c++) {
		for (unsigned int p = 0; p < DL_NPAGES; p++) {
			dl->logged[c][p] = g_array_new(FALSE, FALSE,
						       sizeof(gint));
			dl->takes[c][p] = g_array_new(FALSE, FALSE,
						      sizeof(DlTake));
		}
	}
	memory_region_init(&dl->root, NULL, "root", UINT64_MAX);
	if (!memory_region_init_ram(&dl->ram, NULL, "logged",
				    DL_NPAGES * PAGE, &err) ||
	    !memory_region_init_ram(&dl->other, NULL, "other", PAGE, &err))
		g_error("%s", err->message);
	memory_region_add_subregion(&dl->root, DL_BASE, &dl->ram);
	memory_region_add_subregion(&dl->root, DL_OTHER, &dl->other);
	address_space_init(&dl->as, &dl->root, "dirty-stress");

	for (unsigned int t = 0; t < NREADERS; t++)
		rd[t].priv = &dr[t];
	readers_start(rd, NREADERS, seed, dl, dl_reader_op, dl_reader_fini);
	taker = g_thread_new("taker", dl_taker_main, dl);
	for (unsigned int s = 0; writer_more(s); s++)
		dl_writer_step(dl);
	readers_join(rd, NREADERS);
	g_atomic_int_set(&dl->stop_taker, 1);
	g_thread_join(taker);
	/* the last takes, after every write */
	for (unsigned int c = 0; c < 2; c++)
		dl_take(dl, c, true);
	for (unsigned int c = 0; c < 2; c++)
		if (dl->on[c])
			dl_toggle(dl, c, false);
	dl_check(dl);

	address_space_destroy(&dl->as);
	memory_region_del_subregion(&dl->root, &dl->ram);
	memory_region_del_subregion(&dl->root, &dl->other);
	memory_region_unref(&dl->ram);
	memory_region_unref(&dl->other);
	memory_region_unref(&dl->root);
	loopback_memory_drain();
	for (unsigned int c = 0; c < 2; c++) {
		for (unsigned int p = 0; p < DL_NPAGES; p++) {
			g_array_free(dl->logged[c][p], TRUE);
			g_array_free(dl->takes[c][p], TRUE);
		}
	}
	assert_no_errors();
	g_free(dl);
}

/* ================================================================== */
/* 3. bounce buffers and map clients                                   */
/* ================================================================== */

/*
 * Readers map MMIO of random lengths (some as long as the whole budget, so
 * that the budget runs out, not only short), fill or check the buffer and
 * unmap, each in its own slice of the region (so that the RAM the writer
 * sometimes swaps in is never written by two threads).  A reader that gets
 * NULL registers its map client, unless it is already registered, and
 * sometimes unregisters it again.  The writer replaces, disables and swaps
 * the device for RAM with the same bytes.
 *
 * The properties (system/physmem.c: address_space_map takes MIN(len, budget
 * left) with an atomic add, unmap gives it back and notifies every client
 * once; QEMU 9.1):
 *  - the granted bounce lengths in flight never exceed the budget: a reader
 *    counts its grant after the map returns and uncounts it before the
 *    unmap, so the count is below what the library has lent at any time;
 *  - a read bounce holds what the region at that address returned (the
 *    pattern, or zeros from an unassigned address), and a write bounce
 *    reaches the device with the bytes written;
 *  - a client is called at most once per registration, exactly once when
 *    its reader never unregistered it, and the budget is whole at the end.
 */
#define MP_BASE		0x40000
#define MP_SLICE	0x4000
#define MP_SIZE		(NREADERS * MP_SLICE)
#define MP_BUDGET	DEFAULT_MAX_BOUNCE_BUFFER_SIZE

static uint8_t mp_pattern(hwaddr off)
{
	return (uint8_t)(off ^ (off >> 8) ^ 0x5a);
}

typedef struct MpClient {
	gint registered;	/* 1 from register to call or unregister */
	gint regs, calls, unregs;
} MpClient;

typedef struct Mp {
	AddressSpace as;
	MemoryRegion root;
	MemoryRegion ram;	/* the same bytes as the device */
	uint8_t *ram_ptr;
	GPtrArray *objs;
	Obj *cur;
	enum { MP_DEV, MP_OFF, MP_RAM } state;
	gint inflight;
	gint max_inflight;
	gint nulls, bounces, directs;
	MpClient clients[NREADERS];
	uint64_t rng;
} Mp;

static uint64_t mp_dev_read(void *opaque, hwaddr addr, unsigned size)
{
	Obj *o = opaque;
	uint64_t v = 0;

	if (!obj_alive(o, "bounce device", addr))
		return 0;
	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)mp_pattern(addr + i) << (8 * i);
	return v;
}

static void mp_dev_write(void *opaque, hwaddr addr, uint64_t data,
			 unsigned size)
{
	Obj *o = opaque;

	if (!obj_alive(o, "bounce device", addr))
		return;
	for (unsigned int i = 0; i < size; i++)
		if ((uint8_t)(data >> (8 * i)) != mp_pattern(addr + i))
			fail("bounce write-back of %#" PRIx64 " (size %u) at "
			     "0x%" HWADDR_PRIx ": not what was written", data,
			     size, addr);
}

static const MemoryRegionOps mp_ops = {
	.read = mp_dev_read,
	.write = mp_dev_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 8 },
};

static void mp_client_cb(void *opaque)
{
	MpClient *c = opaque;

	/*
	 * 0 is legitimate only just after an unregister that came too late:
	 * the notification had taken the client already.
	 */
	g_atomic_int_compare_and_exchange(&c->registered, 1, 0);
	if (g_atomic_int_add(&c->calls, 1) + 1 > g_atomic_int_get(&c->regs))
		fail("map client called more often than registered");
}

static void mp_reader_op(Reader *rd)
{
	Mp *mp = rd->ctx;
	MpClient *c = &mp->clients[rd->t];
	bool is_write = rnd(&rd->rng) & 1;
	hwaddr want, off, len, slice = (hwaddr)rd->t * MP_SLICE;
	uint8_t *p;
	bool bounce;
	gint now;

	/* a quarter asks for the whole budget or more */
	if (rnd(&rd->rng) % 4 == 0)
		want = MP_BUDGET + rnd(&rd->rng) % MP_BUDGET;
	else
		want = 1 + rnd(&rd->rng) % (MP_BUDGET / 2);
	off = slice + rnd(&rd->rng) % (MP_SLICE - want + 1);
	len = want;
	p = address_space_map(&mp->as, MP_BASE + off, &len, is_write, ATTRS);
	if (!p) {
		g_atomic_int_inc(&mp->nulls);
		if (len)
			fail("reader %u: NULL map with length %" PRIu64,
			     rd->t, len);
		if (g_atomic_int_compare_and_exchange(&c->registered, 0, 1)) {
			g_atomic_int_inc(&c->regs);
			address_space_register_map_client(&mp->as,
							  mp_client_cb, c);
		} else if (rnd(&rd->rng) % 8 == 0 &&
			   g_atomic_int_compare_and_exchange(&c->registered,
							     1, 0)) {
			g_atomic_int_inc(&c->unregs);
			address_space_unregister_map_client(&mp->as,
							    mp_client_cb, c);
		}
		return;
	}
	if (!len || len > want) {
		fail("reader %u: map of %" PRIu64 " bytes gave %" PRIu64,
		     rd->t, want, len);
		return;
	}
	bounce = !(p >= mp->ram_ptr && p < mp->ram_ptr + MP_SIZE);
	if (bounce) {
		now = g_atomic_int_add(&mp->inflight, (gint)len) + (gint)len;
		if (now > MP_BUDGET)
			fail("bounce buffers in flight: %d bytes, budget %d",
			     now, MP_BUDGET);
		g_atomic_int_inc(&mp->bounces);
	} else {
		g_atomic_int_inc(&mp->directs);
		if (p != mp->ram_ptr + off)
			fail("reader %u: direct map at the wrong place",
			     rd->t);
	}
	if (is_write) {
		for (hwaddr i = 0; i < len; i++)
			p[i] = mp_pattern(off + i);
	} else {
		bool pat = true, zero = bounce;

		/* all zeros when the address was unassigned */
		for (hwaddr i = 0; i < len; i++) {
			pat &= p[i] == mp_pattern(off + i);
			zero &= !p[i];
		}
		if (!pat && !zero)
			fail("reader %u: read mapping at 0x%" HWADDR_PRIx
			     " holds neither the device's bytes nor zeros",
			     rd->t, off);
	}
	/* a few hold on, so that others run out of budget */
	if (rnd(&rd->rng) % 4 == 0)
		g_thread_yield();
	if (bounce)
		g_atomic_int_add(&mp->inflight, -(gint)len);
	address_space_unmap(&mp->as, p, len, is_write,
			    is_write ? rnd(&rd->rng) % (len + 1) : 0);
}

static void mp_writer_step(Mp *mp)
{
	Obj *old = mp->cur;

	switch (rnd(&mp->rng) % 6) {
	case 0:
		/* a new device replaces the old one */
		mp->cur = obj_io(mp->objs, &mp_ops, mp, "mpdev", MP_SIZE);
		memory_region_transaction_begin();
		if (mp->state == MP_RAM)
			memory_region_del_subregion(&mp->root, &mp->ram);
		else
			memory_region_del_subregion(&mp->root, old->mr);
		memory_region_add_subregion(&mp->root, MP_BASE, mp->cur->mr);
		memory_region_set_enabled(mp->cur->mr, true);
		memory_region_transaction_commit();
		memory_region_unref(old->mr);
		mp->state = MP_DEV;
		break;
	case 1:
	case 2:
		if (mp->state == MP_RAM)
			break;
		memory_region_set_enabled(mp->cur->mr, mp->state == MP_OFF);
		mp->state = mp->state == MP_OFF ? MP_DEV : MP_OFF;
		break;
	case 3:
		memory_region_transaction_begin();
		if (mp->state == MP_RAM) {
			memory_region_del_subregion(&mp->root, &mp->ram);
			memory_region_add_subregion(&mp->root, MP_BASE,
						    mp->cur->mr);
			memory_region_set_enabled(mp->cur->mr, true);
			mp->state = MP_DEV;
		} else {
			memory_region_del_subregion(&mp->root, mp->cur->mr);
			memory_region_add_subregion(&mp->root, MP_BASE,
						    &mp->ram);
			mp->state = MP_RAM;
		}
		memory_region_transaction_commit();
		break;
	default:
		/* back to the device: most maps should bounce */
		if (mp->state == MP_OFF) {
			memory_region_set_enabled(mp->cur->mr, true);
			mp->state = MP_DEV;
		}
		break;
	}
}

static void test_map(void)
{
	uint64_t seed = (uint32_t)g_test_rand_int();
	g_autoptr(GError) err = NULL;
	Reader rd[NREADERS] = { 0 };
	Mp *mp = g_new0(Mp, 1);
	hwaddr len = MP_BUDGET;
	void *p;

	g_test_message("seed %" PRIu64, seed);
	errors_reset();
	mp->rng = seed;
	mp->objs = g_ptr_array_new_with_free_func(g_free);
	memory_region_init(&mp->root, NULL, "root", UINT64_MAX);
	if (!memory_region_init_ram(&mp->ram, NULL, "mpram", MP_SIZE, &err))
		g_error("%s", err->message);
	mp->ram_ptr = memory_region_get_ram_ptr(&mp->ram);
	for (hwaddr i = 0; i < MP_SIZE; i++)
		mp->ram_ptr[i] = mp_pattern(i);
	mp->cur = obj_io(mp->objs, &mp_ops, mp, "mpdev", MP_SIZE);
	memory_region_add_subregion(&mp->root, MP_BASE, mp->cur->mr);
	address_space_init(&mp->as, &mp->root, "bounce-stress");

	readers_start(rd, NREADERS, seed, mp, mp_reader_op, NULL);
	for (unsigned int s = 0; writer_more(s); s++)
		mp_writer_step(mp);
	readers_join(rd, NREADERS);

	/* the device again, and the whole budget in one map */
	if (mp->state == MP_RAM) {
		memory_region_transaction_begin();
		memory_region_del_subregion(&mp->root, &mp->ram);
		memory_region_add_subregion(&mp->root, MP_BASE, mp->cur->mr);
		memory_region_transaction_commit();
	}
	memory_region_set_enabled(mp->cur->mr, true);
	p = address_space_map(&mp->as, MP_BASE, &len, false, ATTRS);
	if (!p || len != MP_BUDGET)
		fail("the budget is not whole after the run: a map of %d "
		     "bytes gave %p, %" PRIu64, MP_BUDGET, p, len);
	/* and this unmap calls every client still registered */
	if (p)
		address_space_unmap(&mp->as, p, len, false, 0);
	for (unsigned int t = 0; t < NREADERS; t++) {
		MpClient *c = &mp->clients[t];

		g_test_message("client %u: %d registrations, %d calls, %d "
			       "unregistrations", t, c->regs, c->calls,
			       c->unregs);
		if (c->calls > c->regs || c->calls + c->unregs < c->regs)
			fail("client %u: %d registrations, %d calls, %d "
			     "unregistrations", t, c->regs, c->calls,
			     c->unregs);
		if (!c->unregs && c->calls != c->regs)
			fail("client %u: %d registrations but %d calls", t,
			     c->regs, c->calls);
	}
	g_test_message("%d bounces, %d direct maps, %d NULL", mp->bounces,
		       mp->directs, mp->nulls);

	address_space_destroy(&mp->as);
	memory_region_del_subregion(&mp->root, mp->cur->mr);
	memory_region_unref(mp->cur->mr);
	memory_region_unref(&mp->ram);
	memory_region_unref(&mp->root);
	loopback_memory_drain();
	objs_check_freed(mp->objs);
	assert_no_errors();
	g_ptr_array_free(mp->objs, TRUE);
	g_free(mp);
}

/* ================================================================== */
/* 4. IOMMU translation                                                */
/* ================================================================== */

/*
 * Readers load 8-byte words through an IOMMU region whose translate()
 * reads a page table that the writer changes (one atomic word per page:
 * permission and target page), while the writer also replaces, removes
 * and re-adds the RAM regions of the target address space.  Every word of
 * a RAM region holds the region's identity and the word's offset in it.
 *
 * QEMU translates each piece of an access once (flatview_do_translate,
 * with the page table read by the IOMMU's translate) and then looks the
 * result up in the target's current view, which a writer may replace in
 * between: so each word read is what the table of one state and the
 * target map of the same or a later state give.  The writer numbers its
 * states and publishes the number after each change; a reader notes it
 * before (vb) and after (va) the access.  A change made but not yet
 * numbered may be seen, so both states lie in vb..va+1; the word is the
 * value, or zero with MEMTX_DECODE_ERROR where the page refuses reads or
 * the target is a hole.  A torn word, another region's word, or a value no
 * such pair of states gives fails.
 */
#define IO_BASE		0x80000
#define IO_NPAGES	16
#define IO_NSLOTS	4
#define IO_SLOT_PAGES	2
#define IO_TPAGES	(IO_NSLOTS * IO_SLOT_PAGES)
#define IO_TBASE	0x100000
#define IO_MAGIC	0xa5ull

typedef struct IoState {
	gint table[IO_NPAGES];		/* perm | target page << 8 */
	guint32 slot_id[IO_NSLOTS];	/* 0: a hole */
} IoState;

typedef struct IoRead {
	hwaddr iova;
	uint64_t val;
	MemTxResult r;
	bool halves;		/* may be two 4-byte pieces, see io_check */
	gint vb, va;
} IoRead;

typedef struct Io {
	AddressSpace as, tas;
	MemoryRegion root, troot;
	IOMMUMemoryRegion iommu;
	gint table[IO_NPAGES];
	Obj *slot[IO_NSLOTS];
	GPtrArray *objs;
	GArray *states;			/* writer's, until the join */
	IoState cur;
	gint ver;
	guint32 next_id;
	gint translations;
	uint64_t rng;
} Io;

static IOMMUTLBEntry io_translate(IOMMUMemoryRegion *iommu, hwaddr addr,
				  IOMMUAccessFlags flag, int iommu_idx)
{
	Io *io = (Io *)((char *)iommu - G_STRUCT_OFFSET(Io, iommu));
	gint e;

	g_atomic_int_inc(&io->translations);
	if (addr >= (hwaddr)IO_NPAGES * PAGE) {
		fail("translate of 0x%" HWADDR_PRIx ", beyond the region",
		     addr);
		return (IOMMUTLBEntry) { 0 };
	}
	e = g_atomic_int_get(&io->table[addr / PAGE]);
	return (IOMMUTLBEntry) {
		.target_as = &io->tas,
		.iova = addr & ~(hwaddr)(PAGE - 1),
		.translated_addr = IO_TBASE + (hwaddr)(e >> 8) * PAGE,
		.addr_mask = PAGE - 1,
		.perm = e & IOMMU_RW,
	};
}

static const IOMMUMemoryRegionOps io_iommu_ops = {
	.translate = io_translate,
};

static uint64_t io_word(guint32 id, hwaddr off)
{
	return IO_MAGIC << 56 | (uint64_t)id << 24 | off;
}

/* A new RAM region, filled, for slot @s (not yet mapped). */
static Obj *io_ram(Io *io, guint32 id)
{
	g_autoptr(GError) err = NULL;
	Obj *o = g_new0(Obj, 1);
	uint64_t *w;

	o->ctx = io;
	o->mr = g_new0(MemoryRegion, 1);
	if (!memory_region_init_ram(o->mr, NULL, "ioram",
				    IO_SLOT_PAGES * PAGE, &err))
		g_error("%s", err->message);
	w = memory_region_get_ram_ptr(o->mr);
	for (hwaddr i = 0; i < IO_SLOT_PAGES * PAGE / 8; i++)
		w[i] = GUINT64_TO_LE(io_word(id, i * 8));
	loopback_memory_region_set_free_notify(o->mr, obj_free_notify, o);
	g_ptr_array_add(io->objs, o);
	return o;
}

/* Numbers the state just made; readers may see it from now on. */
static void io_publish(Io *io)
{
	g_array_append_val(io->states, io->cur);
	g_atomic_int_set(&io->ver, io->states->len - 1);
}

static void io_slot_set(Io *io, unsigned int s, bool present)
{
	Obj *old = io->slot[s];

	/* one commit: a replacement leaves no hole that no state records */
	memory_region_transaction_begin();
	if (old) {
		memory_region_del_subregion(&io->troot, old->mr);
		memory_region_unref(old->mr);
		io->slot[s] = NULL;
		io->cur.slot_id[s] = 0;
	}
	if (present) {
		io->cur.slot_id[s] = ++io->next_id;
		io->slot[s] = io_ram(io, io->cur.slot_id[s]);
		memory_region_add_subregion(&io->troot,
					    IO_TBASE +
					    (hwaddr)s * IO_SLOT_PAGES * PAGE,
					    io->slot[s]->mr);
	}
	memory_region_transaction_commit();
}

static gint io_random_entry(uint64_t *rng)
{
	/* mostly readable, so that most reads check a value */
	static const gint perms[] = {
		IOMMU_RO, IOMMU_RW, IOMMU_RW, IOMMU_NONE, IOMMU_WO
	};

	return perms[rnd(rng) % G_N_ELEMENTS(perms)] |
	       (gint)(rnd(rng) % IO_TPAGES) << 8;
}

static void io_writer_step(Io *io)
{
	unsigned int s = rnd(&io->rng) % IO_NSLOTS;

	switch (rnd(&io->rng) % 8) {
	default: {
		unsigned int p = rnd(&io->rng) % IO_NPAGES;

		io->cur.table[p] = io_random_entry(&io->rng);
		g_atomic_int_set(&io->table[p], io->cur.table[p]);
		break;
	}
	case 4:
	case 5:
		io_slot_set(io, s, true);
		break;
	case 6:
		/* holes are filled again at once, mostly */
		io_slot_set(io, s, !io->slot[s]);
		break;
	case 7:
		/* two slots, one commit: one new view */
		memory_region_transaction_begin();
		io_slot_set(io, s, true);
		io_slot_set(io, (s + 1) % IO_NSLOTS, true);
		memory_region_transaction_commit();
		break;
	}
	io_publish(io);
}

static void io_log(Reader *rd, hwaddr iova, uint64_t val, MemTxResult r,
		   bool halves, gint vb, gint va)
{
	IoRead e = { .iova = iova, .val = val, .r = r, .halves = halves,
		     .vb = vb, .va = va };

	g_array_append_val((GArray *)rd->priv, e);
}

static void io_reader_op(Reader *rd)
{
	Io *io = rd->ctx;
	hwaddr iova = (rnd(&rd->rng) % (IO_NPAGES * PAGE / 8)) * 8;
	gint vb = g_atomic_int_get(&io->ver), va;
	MemTxResult r;

	if (rnd(&rd->rng) & 1) {
		uint64_t v = address_space_ldq_le(&io->as, IO_BASE + iova,
						  ATTRS, &r);

		va = g_atomic_int_get(&io->ver);
		io_log(rd, iova, v, r, false, vb, va);
	} else {
		/* two words, across a page boundary at times: two pieces */
		uint64_t w[2];

		if (iova + 16 > IO_NPAGES * PAGE)
			iova -= 8;
		r = address_space_read(&io->as, IO_BASE + iova, ATTRS, w, 16);
		va = g_atomic_int_get(&io->ver);
		io_log(rd, iova, GUINT64_FROM_LE(w[0]), r, true, vb, va);
		io_log(rd, iova + 8, GUINT64_FROM_LE(w[1]), r, true, vb,
		       va);
	}
}

/*
 * Whether the page table of state @tab and the target map of state @map
 * give the bytes of @e that @mask selects: the value, or zeros with an
 * error result.
 */
static bool io_state_gives(const IoState *tab, const IoState *map,
			   const IoRead *e, uint64_t mask)
{
	gint ent = tab->table[e->iova / PAGE];
	unsigned int tp = ent >> 8;
	guint32 id = map->slot_id[tp / IO_SLOT_PAGES];

	if (!(ent & IOMMU_RO) || !id)
		return e->r != MEMTX_OK && !(e->val & mask);
	return !((e->val ^ io_word(id, (tp % IO_SLOT_PAGES) * PAGE +
					 e->iova % PAGE)) & mask);
}

/*
 * translate() reads the table first and the target's view is looked up
 * after it, as in QEMU (flatview_do_translate, then the target address
 * space's current map): a piece may combine the table of one state with
 * the map of the same or a later one.
 */
static bool io_window_gives(Io *io, const IoRead *e, gint last,
			    uint64_t mask)
{
	for (gint t = e->vb; t <= last; t++)
		for (gint m = t; m <= last; m++)
			if (io_state_gives(&g_array_index(io->states,
							  IoState, t),
					   &g_array_index(io->states,
							  IoState, m),
					   e, mask))
				return true;
	return false;
}

/*
 * A word that one piece covered is what one state gives.  But where an
 * IOMMU refuses, QEMU's flatview_read_continue reads io_mem_unassigned
 * (4 bytes at most per access, unassigned_mem_ops) and translates the
 * next piece anew: a 16-byte read that failed may hold 4-byte halves of
 * two states, each one zeros or that state's half.  An 8-byte load is
 * one translation, whole.
 */
static void io_check(Io *io, GArray *log, unsigned int t, uint64_t *nerr)
{
	for (guint i = 0; i < log->len; i++) {
		const IoRead *e = &g_array_index(log, IoRead, i);
		gint last = MIN(e->va + 1, (gint)io->states->len - 1);
		bool ok;

		if (e->r != MEMTX_OK && e->r != MEMTX_DECODE_ERROR) {
			fail("reader %u: result %d", t, e->r);
			continue;
		}
		if (e->halves && e->r != MEMTX_OK)
			ok = io_window_gives(io, e, last, 0xffffffffull) &&
			     io_window_gives(io, e, last,
					     0xffffffffull << 32);
		else
			ok = io_window_gives(io, e, last, UINT64_MAX);
		*nerr += e->r != MEMTX_OK;
		if (!ok) {
			fail("reader %u: word at iova 0x%" HWADDR_PRIx " was "
			     "%#" PRIx64 " (result %d), which no state %d..%d "
			     "gives", t, e->iova, e->val, e->r, e->vb, last);
			return;
		}
	}
}

static void test_iommu(void)
{
	uint64_t seed = (uint32_t)g_test_rand_int();
	Reader rd[NREADERS];
	Io *io = g_new0(Io, 1);
	uint64_t nreads = 0, nerr = 0;

	g_test_message("seed %" PRIu64, seed);
	errors_reset();
	io->rng = seed;
	io->objs = g_ptr_array_new_with_free_func(g_free);
	io->states = g_array_new(FALSE, FALSE, sizeof(IoState));
	memory_region_init(&io->troot, NULL, "troot", UINT64_MAX);
	address_space_init(&io->tas, &io->troot, "iommu-target");
	for (unsigned int s = 0; s < IO_NSLOTS; s++)
		io_slot_set(io, s, true);
	for (unsigned int p = 0; p < IO_NPAGES; p++) {
		io->cur.table[p] = io_random_entry(&io->rng);
		io->table[p] = io->cur.table[p];
	}
	memory_region_init(&io->root, NULL, "root", UINT64_MAX);
	memory_region_init_iommu(&io->iommu, NULL, &io_iommu_ops, "iommu",
				 IO_NPAGES * PAGE);
	memory_region_add_subregion(&io->root, IO_BASE,
				    &io->iommu.parent_obj);
	address_space_init(&io->as, &io->root, "iommu-stress");
	io_publish(io);

	for (unsigned int t = 0; t < NREADERS; t++)
		rd[t].priv = g_array_new(FALSE, FALSE, sizeof(IoRead));
	readers_start(rd, NREADERS, seed, io, io_reader_op, NULL);
	for (unsigned int s = 0; writer_more(s); s++)
		io_writer_step(io);
	readers_join(rd, NREADERS);

	for (unsigned int t = 0; t < NREADERS; t++) {
		GArray *log = rd[t].priv;

		nreads += log->len;
		io_check(io, log, t, &nerr);
		g_array_free(log, TRUE);
	}
	g_test_message("%" PRIu64 " words read, %" PRIu64 " with an "
		       "error, %u states, %d translations", nreads, nerr,
		       io->states->len, g_atomic_int_get(&io->translations));

	address_space_destroy(&io->as);
	address_space_destroy(&io->tas);
	for (unsigned int s = 0; s < IO_NSLOTS; s++)
		io_slot_set(io, s, false);
	memory_region_del_subregion(&io->root, &io->iommu.parent_obj);
	memory_region_unref(&io->iommu.parent_obj);
	memory_region_unref(&io->root);
	memory_region_unref(&io->troot);
	loopback_memory_drain();
	objs_check_freed(io->objs);
	assert_no_errors();
	g_array_free(io->states, TRUE);
	g_ptr_array_free(io->objs, TRUE);
	g_free(io);
}

/* ================================================================== */
/* 5. listeners registered while the writer commits                    */
/* ================================================================== */

/*
 * Each reader owns a few listeners that it registers (on the address
 * space, or on every one with a NULL filter) and unregisters in turn while
 * the writer adds, removes and replaces regions in slots, in transactions.
 * Each listener keeps a mirror of the ranges it was told about: region_add
 * must land on free space, region_del and region_nop on a range it holds.
 *
 * The properties (QEMU's listener_add_address_space and
 * listener_del_address_space replay the current view; a commit diffs old
 * and new): add and del are balanced and consistent, so the mirror is
 * empty once unregister returns; and at every commit callback the mirror
 * is the writer's map.  The writer changes its model of the map inside
 * the transaction (the writers' lock is held from begin to commit), so
 * callbacks on any thread read it consistently.  The commit that ends an
 * unregistration leaves the mirror empty instead; it is told apart by the
 * owner's flag and by having heard only dels.
 */
#define LS_BASE		0x1000000
#define LS_STRIDE	0x10000
#define LS_NSLOTS	6
#define LS_SIZE		0x1000
#define LS_PER		3	/* listeners per reader */

typedef struct LsEntry {
	MemoryRegion *mr;
	hwaddr addr, off;
	uint64_t size;
} LsEntry;

typedef struct Ls {
	MemoryListener l;
	void *ctx;
	bool registered;	/* the owner's */
	gint unregistering;
	bool dels_only;		/* under the lock, from begin to commit */
	GArray *mirror;		/* of LsEntry, under the lock */
	uint64_t commits;
} Ls;

typedef struct LsCtx {
	AddressSpace as;
	MemoryRegion root;
	GPtrArray *objs;
	Obj *slot[LS_NSLOTS];
	MemoryRegion *model[LS_NSLOTS];	/* under the writers' lock */
	uint64_t rng;
} LsCtx;

static uint64_t ls_dev_read(void *opaque, hwaddr addr, unsigned size)
{
	return 0;
}

static void ls_dev_write(void *opaque, hwaddr addr, uint64_t data,
			 unsigned size)
{
}

static const MemoryRegionOps ls_ops = {
	.read = ls_dev_read,
	.write = ls_dev_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
};

static Ls *ls_of(MemoryListener *l)
{
	return (Ls *)((char *)l - G_STRUCT_OFFSET(Ls, l));
}

static LsEntry ls_entry(MemoryRegionSection *sec)
{
	return (LsEntry) {
		.mr = sec->mr,
		.addr = sec->offset_within_address_space,
		.off = sec->offset_within_region,
		.size = int128_get64(sec->size),
	};
}

static int ls_find(Ls *ls, const LsEntry *e)
{
	for (guint i = 0; i < ls->mirror->len; i++) {
		LsEntry *m = &g_array_index(ls->mirror, LsEntry, i);

		if (!memcmp(m, e, sizeof(*e)))
			return i;
	}
	return -1;
}

static void ls_begin(MemoryListener *l)
{
	ls_of(l)->dels_only = true;
}

static void ls_region_add(MemoryListener *l, MemoryRegionSection *sec)
{
	Ls *ls = ls_of(l);
	LsEntry e = ls_entry(sec);

	ls->dels_only = false;
	for (guint i = 0; i < ls->mirror->len; i++) {
		LsEntry *m = &g_array_index(ls->mirror, LsEntry, i);

		if (e.addr < m->addr + m->size && m->addr < e.addr + e.size) {
			fail("%s: region_add of [0x%" HWADDR_PRIx ", +%#"
			     PRIx64 ") over one it holds", l->name, e.addr,
			     e.size);
			return;
		}
	}
	g_array_append_val(ls->mirror, e);
}

static void ls_region_del(MemoryListener *l, MemoryRegionSection *sec)
{
	Ls *ls = ls_of(l);
	LsEntry e = ls_entry(sec);
	int i = ls_find(ls, &e);

	if (i < 0)
		fail("%s: region_del of [0x%" HWADDR_PRIx ", +%#" PRIx64
		     ") that it was not given", l->name, e.addr, e.size);
	else
		g_array_remove_index_fast(ls->mirror, i);
}

static void ls_region_nop(MemoryListener *l, MemoryRegionSection *sec)
{
	Ls *ls = ls_of(l);
	LsEntry e = ls_entry(sec);

	ls->dels_only = false;
	if (ls_find(ls, &e) < 0)
		fail("%s: region_nop of [0x%" HWADDR_PRIx ", +%#" PRIx64
		     ") that it was not given", l->name, e.addr, e.size);
}

static void ls_commit(MemoryListener *l)
{
	Ls *ls = ls_of(l);
	LsCtx *lc = ls->ctx;
	guint n = 0;

	ls->commits++;
	if (g_atomic_int_get(&ls->unregistering) && ls->dels_only &&
	    !ls->mirror->len)
		return;
	for (unsigned int s = 0; s < LS_NSLOTS; s++) {
		LsEntry e = { .mr = lc->model[s],
			      .addr = LS_BASE + (hwaddr)s * LS_STRIDE,
			      .size = LS_SIZE };

		if (!e.mr)
			continue;
		n++;
		if (ls_find(ls, &e) < 0)
			fail("%s: at commit, slot %u is missing", l->name, s);
	}
	if (ls->mirror->len != n)
		fail("%s: at commit, %u ranges for %u in the map", l->name,
		     ls->mirror->len, n);
}

static void ls_reader_op(Reader *rd)
{
	Ls *ls = &((Ls *)rd->priv)[rnd(&rd->rng) % LS_PER];
	LsCtx *lc = rd->ctx;

	if (ls->registered) {
		g_atomic_int_set(&ls->unregistering, 1);
		memory_listener_unregister(&ls->l);
		g_atomic_int_set(&ls->unregistering, 0);
		ls->registered = false;
		if (ls->mirror->len)
			fail("%s: %u ranges left after unregister",
			     ls->l.name, ls->mirror->len);
		g_array_set_size(ls->mirror, 0);
	} else {
		ls->l.priority = rnd(&rd->rng) % 3;
		memory_listener_register(&ls->l,
					 rnd(&rd->rng) & 1 ? &lc->as : NULL);
		ls->registered = true;
	}
}

static void ls_reader_fini(Reader *rd)
{
	for (unsigned int i = 0; i < LS_PER; i++) {
		Ls *ls = &((Ls *)rd->priv)[i];

		if (ls->registered) {
			g_atomic_int_set(&ls->unregistering, 1);
			memory_listener_unregister(&ls->l);
			ls->registered = false;
			if (ls->mirror->len)
				fail("%s: %u ranges left after unregister",
				     ls->l.name, ls->mirror->len);
		}
	}
}

/* Slot @s gets a new region, or none; the model follows in the same lock. */
static void ls_slot_set(LsCtx *lc, unsigned int s, bool present)
{
	Obj *old = lc->slot[s];

	memory_region_transaction_begin();
	if (old) {
		memory_region_del_subregion(&lc->root, old->mr);
		memory_region_unref(old->mr);
	}
	lc->slot[s] = NULL;
	if (present) {
		lc->slot[s] = obj_io(lc->objs, &ls_ops, lc, "lsdev", LS_SIZE);
		memory_region_add_subregion(&lc->root,
					    LS_BASE + (hwaddr)s * LS_STRIDE,
					    lc->slot[s]->mr);
	}
	lc->model[s] = present ? lc->slot[s]->mr : NULL;
	memory_region_transaction_commit();
}

static void ls_writer_step(LsCtx *lc)
{
	unsigned int s = rnd(&lc->rng) % LS_NSLOTS;

	switch (rnd(&lc->rng) % 4) {
	case 0:
	case 1:
		ls_slot_set(lc, s, !lc->slot[s]);
		break;
	case 2:
		ls_slot_set(lc, s, true);
		break;
	case 3:
		memory_region_transaction_begin();
		ls_slot_set(lc, s, !lc->slot[s]);
		ls_slot_set(lc, (s + 1) % LS_NSLOTS, true);
		memory_region_transaction_commit();
		break;
	}
}

static void test_listener(void)
{
	uint64_t seed = (uint32_t)g_test_rand_int();
	Ls ls[NREADERS][LS_PER] = { 0 };
	Reader rd[NREADERS];
	LsCtx *lc = g_new0(LsCtx, 1);
	uint64_t commits = 0;

	g_test_message("seed %" PRIu64, seed);
	errors_reset();
	lc->rng = seed;
	lc->objs = g_ptr_array_new_with_free_func(g_free);
	memory_region_init(&lc->root, NULL, "root", UINT64_MAX);
	for (unsigned int s = 0; s < LS_NSLOTS; s += 2)
		ls_slot_set(lc, s, true);
	address_space_init(&lc->as, &lc->root, "listener-stress");

	for (unsigned int t = 0; t < NREADERS; t++) {
		for (unsigned int i = 0; i < LS_PER; i++) {
			ls[t][i].ctx = lc;
			ls[t][i].mirror = g_array_new(FALSE, FALSE,
						      sizeof(LsEntry));
			ls[t][i].l = (MemoryListener) {
				.begin = ls_begin,
				.commit = ls_commit,
				.region_add = ls_region_add,
				.region_del = ls_region_del,
				.region_nop = ls_region_nop,
				.name = "stress-listener",
			};
		}
		rd[t].priv = ls[t];
	}
	readers_start(rd, NREADERS, seed, lc, ls_reader_op, ls_reader_fini);
	for (unsigned int s = 0; writer_more(s); s++)
		ls_writer_step(lc);
	readers_join(rd, NREADERS);

	for (unsigned int t = 0; t < NREADERS; t++) {
		for (unsigned int i = 0; i < LS_PER; i++) {
			commits += ls[t][i].commits;
			g_array_free(ls[t][i].mirror, TRUE);
		}
	}
	g_test_message("%" PRIu64 " commit callbacks checked, %u regions",
		       commits, lc->objs->len);

	address_space_destroy(&lc->as);
	for (unsigned int s = 0; s < LS_NSLOTS; s++)
		ls_slot_set(lc, s, false);
	memory_region_unref(&lc->root);
	loopback_memory_drain();
	objs_check_freed(lc->objs);
	assert_no_errors();
	g_ptr_array_free(lc->objs, TRUE);
	g_free(lc);
}

/* ================================================================== */
/* 6. coalesced MMIO flush                                             */
/* ================================================================== */

/*
 * Readers read and write io regions while the writer sets and clears
 * their flush-coalesced flag (directly, and by adding and clearing
 * coalesced ranges), replaces them, and installs and removes the flush
 * handler.  Dispatch reads the flag and the handler without the lock
 * (QEMU's memory_region_dispatch_* flush when mr->flush_coalesced_mmio),
 * so the handler may still run on a dispatching thread just after it was
 * removed, but not after a loopback_memory_drain() that followed the
 * removal: the writer marks each removed handler dead after such a drain,
 * and a dead handler that runs fails.  A handler also writes to a flagged
 * region itself, as a flush that plays the ring back would: the flush it
 * would start on that thread must not run (no recursion).
 */
#define CF_BASE		0x2000000
#define CF_NREGIONS	2
#define CF_SIZE		0x1000
#define CF_DRAIN_EVERY	16

typedef struct CfHandler {
	gint dead;
	gint calls;
} CfHandler;

typedef struct Cf {
	AddressSpace as;
	MemoryRegion root;
	GPtrArray *objs;
	Obj *reg[CF_NREGIONS];
	bool flag[CF_NREGIONS], coalesced[CF_NREGIONS];
	CfHandler *cur;
	GPtrArray *handlers;	/* every one, freed at the end */
	GPtrArray *removed;	/* not yet drained */
	gint reader_flushes;
	uint64_t rng;
} Cf;

static __thread bool cf_on_reader;
static __thread int cf_depth;

static uint64_t cf_dev_read(void *opaque, hwaddr addr, unsigned size)
{
	obj_alive(opaque, "coalesced device", addr);
	return 0;
}

static void cf_dev_write(void *opaque, hwaddr addr, uint64_t data,
			 unsigned size)
{
	obj_alive(opaque, "coalesced device", addr);
}

static const MemoryRegionOps cf_ops = {
	.read = cf_dev_read,
	.write = cf_dev_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
};

static Cf *cf_ctx;

static void cf_flush(void *opaque)
{
	CfHandler *h = opaque;
	MemTxResult r;

	if (g_atomic_int_get(&h->dead))
		fail("flush handler ran after its removal and a drain");
	if (cf_depth)
		fail("flush handler entered again from its own flush");
	g_atomic_int_inc(&h->calls);
	if (cf_on_reader)
		g_atomic_int_inc(&cf_ctx->reader_flushes);
	cf_depth++;
	/* flagged or not: this thread's flush is running, none may start */
	address_space_stl_le(&cf_ctx->as, CF_BASE, 0, ATTRS, &r);
	cf_depth--;
}

static void cf_reader_op(Reader *rd)
{
	Cf *cf = rd->ctx;
	hwaddr a = CF_BASE + (rnd(&rd->rng) % CF_NREGIONS) * CF_SIZE +
		   (rnd(&rd->rng) % (CF_SIZE / 4)) * 4;
	MemTxResult r;

	cf_on_reader = true;
	if (rnd(&rd->rng) & 1)
		address_space_ldl_le(&cf->as, a, ATTRS, &r);
	else
		address_space_stl_le(&cf->as, a, 0, ATTRS, &r);
	if (r != MEMTX_OK)
		fail("reader %u: access at 0x%" HWADDR_PRIx ": result %d",
		     rd->t, a, r);
}

static void cf_set_handler(Cf *cf, bool install)
{
	if (cf->cur)
		g_ptr_array_add(cf->removed, cf->cur);
	cf->cur = NULL;
	if (install) {
		cf->cur = g_new0(CfHandler, 1);
		g_ptr_array_add(cf->handlers, cf->cur);
		loopback_set_coalesced_mmio_flush(cf_flush, cf->cur);
	} else {
		loopback_set_coalesced_mmio_flush(NULL, NULL);
	}
}

/* After a drain, no removed handler may run again. */
static void cf_drain(Cf *cf)
{
	loopback_memory_drain();
	for (guint i = 0; i < cf->removed->len; i++)
		g_atomic_int_set(&((CfHandler *)cf->removed->pdata[i])->dead,
				 1);
	g_ptr_array_set_size(cf->removed, 0);
}

static void cf_replace(Cf *cf, unsigned int i)
{
	Obj *old = cf->reg[i];

	cf->reg[i] = obj_io(cf->objs, &cf_ops, cf, "cfdev", CF_SIZE);
	if (cf->flag[i])
		memory_region_set_flush_coalesced(cf->reg[i]->mr);
	if (cf->coalesced[i])
		memory_region_set_coalescing(cf->reg[i]->mr);
	memory_region_transaction_begin();
	memory_region_del_subregion(&cf->root, old->mr);
	memory_region_add_subregion(&cf->root, CF_BASE + i * CF_SIZE,
				    cf->reg[i]->mr);
	memory_region_transaction_commit();
	memory_region_unref(old->mr);
}

static void cf_writer_step(Cf *cf, unsigned int step)
{
	unsigned int i = rnd(&cf->rng) % CF_NREGIONS;
	MemoryRegion *mr = cf->reg[i]->mr;

	switch (rnd(&cf->rng) % 8) {
	case 0:
	case 1:
		if (cf->flag[i])
			memory_region_clear_flush_coalesced(mr);
		else
			memory_region_set_flush_coalesced(mr);
		/* clearing leaves the flag while ranges remain */
		cf->flag[i] = !cf->flag[i] || cf->coalesced[i];
		break;
	case 2:
		if (cf->coalesced[i]) {
			memory_region_clear_coalescing(mr);
		} else {
			memory_region_set_coalescing(mr);
			cf->flag[i] = true;
		}
		cf->coalesced[i] = !cf->coalesced[i];
		break;
	case 3:
		cf_replace(cf, i);
		break;
	case 4:
	case 5:
	case 6:
		cf_set_handler(cf, true);
		break;
	case 7:
		cf_set_handler(cf, false);
		break;
	}
	if (step % CF_DRAIN_EVERY == 0)
		cf_drain(cf);
}

static void test_coalesced(void)
{
	uint64_t seed = (uint32_t)g_test_rand_int();
	Reader rd[NREADERS];
	Cf *cf = g_new0(Cf, 1);
	gint calls = 0;

	g_test_message("seed %" PRIu64, seed);
	errors_reset();
	cf_ctx = cf;
	cf->rng = seed;
	cf->objs = g_ptr_array_new_with_free_func(g_free);
	cf->handlers = g_ptr_array_new_with_free_func(g_free);
	cf->removed = g_ptr_array_new();
	memory_region_init(&cf->root, NULL, "root", UINT64_MAX);
	for (unsigned int i = 0; i < CF_NREGIONS; i++) {
		cf->reg[i] = obj_io(cf->objs, &cf_ops, cf, "cfdev", CF_SIZE);
		memory_region_add_subregion(&cf->root, CF_BASE + i * CF_SIZE,
					    cf->reg[i]->mr);
	}
	address_space_init(&cf->as, &cf->root, "coalesced-stress");

	readers_start(rd, NREADERS, seed, cf, cf_reader_op, NULL);
	for (unsigned int s = 0; writer_more(s); s++)
		cf_writer_step(cf, s);
	readers_join(rd, NREADERS);
	cf_set_handler(cf, false);
	cf_drain(cf);

	for (guint i = 0; i < cf->handlers->len; i++)
		calls += ((CfHandler *)cf->handlers->pdata[i])->calls;
	g_test_message("%u handlers, %d flushes, %d on dispatching threads",
		       cf->handlers->len, calls, cf->reader_flushes);
	/* most of the time a handler is installed and a region flagged */
	if (!cf->reader_flushes)
		fail("no dispatch flushed: the test exercised nothing");

	address_space_destroy(&cf->as);
	for (unsigned int i = 0; i < CF_NREGIONS; i++) {
		memory_region_del_subregion(&cf->root, cf->reg[i]->mr);
		memory_region_unref(cf->reg[i]->mr);
	}
	memory_region_unref(&cf->root);
	loopback_memory_drain();
	objs_check_freed(cf->objs);
	assert_no_errors();
	cf_ctx = NULL;
	g_ptr_array_free(cf->removed, TRUE);
	g_ptr_array_free(cf->handlers, TRUE);
	g_ptr_array_free(cf->objs, TRUE);
	g_free(cf);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/stress/ioeventfd/write-signals-or-reaches-device",
			test_ioeventfd);
	g_test_add_func("/stress/dirty/logged-writes-reported-by-a-take",
			test_dirty);
	g_test_add_func("/stress/map/bounce-budget-never-overcommitted",
			test_map);
	g_test_add_func("/stress/iommu/translation-follows-mappings",
			test_iommu);
	g_test_add_func("/stress/listener/register-while-committing",
			test_listener);
	g_test_add_func("/stress/coalesced/flush-flag-toggled-while-"
			"dispatching", test_coalesced);
	return g_test_run();
}
