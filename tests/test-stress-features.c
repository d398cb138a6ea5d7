/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The second half of the memory API under concurrency: ioeventfds, dirty
 * logging, bounce buffers and map clients, IOMMU translation and
 * listeners, each exercised by dispatching threads while another thread
 * changes what they depend on.
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
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <loopback/memory.h>

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define PAGE 0x1000

#define NREADERS	4
#define WRITER_STEPS	2000
#define READER_MIN_OPS	10000

/* ---- errors, from any thread ---- */

static gint nerrors;
static gchar *first_error;

static void G_GNUC_PRINTF(1, 2) fail(const char *fmt, ...)
{
	va_list ap;
	gchar *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_atomic_int_inc(&nerrors);
	if (!g_atomic_pointer_compare_and_exchange(&first_error, NULL, msg))
		g_free(msg);
}

static void errors_reset(void)
{
	g_atomic_int_set(&nerrors, 0);
	g_free(g_atomic_pointer_exchange(&first_error, NULL));
}

static void assert_no_errors(void)
{
	if (g_atomic_int_get(&nerrors))
		g_test_message("first error: %s", first_error);
	g_assert_cmpint(g_atomic_int_get(&nerrors), ==, 0);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Byte @off of a region with @key: its 8-byte word says key and offset. */
static uint64_t pat_word(unsigned int key, hwaddr off)
{
	return ((uint64_t)key << 56) | ((off & ~(hwaddr)7) << 8) | 0x5a;
}

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
	void *priv;
} Reader;

static gint writer_done;

static gpointer reader_main(gpointer data)
{
	Reader *rd = data;

	while (!g_atomic_int_get(&writer_done) || rd->n < READER_MIN_OPS) {
		rd->op(rd);
		rd->n++;
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
	for (unsigned int t = 0; t < n; t++) {
		void *priv = rd[t].priv;

		rd[t] = (Reader) { .t = t, .rng = seed + t + 1, .ctx = ctx,
				   .op = op, .fini = fini, .priv = priv };
		rd[t].thread = g_thread_new("reader", reader_main, &rd[t]);
	}
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
	if ((!ev->in || !ev->enabled) && rnd(&ev->rng) % 2) {
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
	for (unsigned int s = 0; s < WRITER_STEPS; s++)
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

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/stress/ioeventfd/write-signals-or-reaches-device",
			test_ioeventfd);
	return g_test_run();
}
