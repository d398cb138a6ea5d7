/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-bench memory: cost of the memory API's hot paths.
 *
 * 1. Lookups.  For each region count N, N random non-overlapping regions
 *    are put in one address space, once as RAM (memory_region_init_ram_ptr
 *    over one sparse mapping) and once as io regions with a trivial read
 *    callback.  A list of random addresses that hit regions is generated
 *    up front; each timed batch runs --batch operations from it and the
 *    clock is read only around the batch.  Medians and 99th percentiles of
 *    the per-operation time over --iterations batches are reported.
 * 2. Commits.  N regions added in one transaction, and N regions added with
 *    one commit each (every commit re-renders the whole view).
 *
 * 3. With --threads N, only this: reads by 1, 2, 4 ... N reader threads
 *    while a writer commits 1,000 times a second (see run_threads()).
 *
 * With DPDK, rte_vhost_va_from_guest_pa() is timed on the same RAM layout
 * and addresses.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include <loopback/memory.h>

#ifdef HAVE_DPDK
#include <rte_vhost.h>
#endif

#include "bench.h"

#define KiB	(UINT64_C(1) << 10)
#define MiB	(UINT64_C(1) << 20)

/* Regions are 4 KiB..1 MiB, gaps 0..1 MiB, both in 4 KiB steps. */
#define REGION_GRAIN	(4 * KiB)
#define REGION_MAX_PAGES 256
#define GAP_MAX_PAGES	256
/* Layouts start above 4 GiB, as a guest's high RAM would. */
#define LAYOUT_BASE	(UINT64_C(1) << 32)

/* Untimed batches before each measurement: caches, predictors, clocks. */
#define WARMUP_BATCHES	10

#define ACCESS_SIZE	4

/* Keeps results alive so the compiler cannot drop the measured work. */
static volatile uint64_t bench_sink;

/* Regions finalised by the library (free notify), to catch leaks. */
static unsigned long finalised;

static void count_finalised(void *data)
{
	__atomic_fetch_add(&finalised, 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Layouts                                                             */
/* ------------------------------------------------------------------ */

struct layout {
	unsigned int n;
	uint64_t seed;
	hwaddr *base;		/* guest-physical start, ascending */
	uint64_t *size;
	uint64_t *host_off;	/* offset of the region in the RAM mapping */
	unsigned int *order;	/* order in which regions are added */
	uint64_t ram_total;	/* sum of sizes */
	hwaddr end;		/* one past the last region */
};

/* A different but reproducible stream for every N. */
static uint64_t layout_seed(uint64_t seed, unsigned int n, unsigned int salt)
{
	uint64_t s = seed ^ ((uint64_t)n << 20) ^ ((uint64_t)salt << 52);

	return bench_rand64(&s);
}

static void layout_generate(struct layout *l, unsigned int n, uint64_t seed)
{
	uint64_t rng = seed;
	hwaddr a = LAYOUT_BASE;
	unsigned int i;

	l->n = n;
	l->seed = seed;
	l->base = g_new(hwaddr, n);
	l->size = g_new(uint64_t, n);
	l->host_off = g_new(uint64_t, n);
	l->order = g_new(unsigned int, n);
	l->ram_total = 0;

	/* placing in address order with random gaps cannot overlap */
	for (i = 0; i < n; i++) {
		a += REGION_GRAIN * bench_rand_below(&rng, GAP_MAX_PAGES + 1);
		l->base[i] = a;
		l->size[i] = REGION_GRAIN *
			     (1 + bench_rand_below(&rng, REGION_MAX_PAGES));
		l->host_off[i] = l->ram_total;
		l->ram_total += l->size[i];
		a += l->size[i];
	}
	l->end = a;

	/* add in random order: a sorted-insert structure gets no free ride */
	for (i = 0; i < n; i++)
		l->order[i] = i;
	for (i = n; i > 1; i--) {
		unsigned int j = (unsigned int)bench_rand_below(&rng, i);
		unsigned int t = l->order[i - 1];

		l->order[i - 1] = l->order[j];
		l->order[j] = t;
	}
}

static void layout_free(struct layout *l)
{
	g_free(l->base);
	g_free(l->size);
	g_free(l->host_off);
	g_free(l->order);
	memset(l, 0, sizeof(*l));
}

/*
 * One sparse mapping backs every RAM region.  MAP_NORESERVE keeps a
 * 50 GiB layout from counting against overcommit; only the pages that
 * prefault() writes get memory (about 4 KiB per address at 100,000
 * regions, where nearly every address has a page of its own).
 */
static void *ram_map(uint64_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "loopback-bench: mmap %" PRIu64 " bytes: %s\n",
			len, strerror(errno));
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* Address spaces built from a layout                                  */
/* ------------------------------------------------------------------ */

enum region_kind { KIND_RAM, KIND_IO };

/* The trivial device: its cost is measured separately and subtracted. */
static uint64_t bench_io_read(void *opaque, hwaddr addr, unsigned size)
{
	return addr;
}

static void bench_io_write(void *opaque, hwaddr addr, uint64_t data,
			   unsigned size)
{
}

static const MemoryRegionOps bench_io_ops = {
	.read = bench_io_read,
	.write = bench_io_write,
	.endianness = DEVICE_NATIVE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 8 },
};

struct bench_as {
	MemoryRegion root;
	MemoryRegion *mr;	/* one per layout region, same index */
	AddressSpace as;
	unsigned int n;
	bool added;
};

/* Initialises root and regions; init time is not part of any result. */
static struct bench_as *bench_as_new(const struct layout *l,
				     enum region_kind kind, uint8_t *ram)
{
	struct bench_as *b = g_new0(struct bench_as, 1);
	char name[32];
	unsigned int i;

	b->n = l->n;
	b->mr = g_new0(MemoryRegion, l->n);
	memory_region_init(&b->root, NULL, "bench-root", UINT64_MAX);
	loopback_memory_region_set_free_notify(&b->root, count_finalised,
					       NULL);
	for (i = 0; i < l->n; i++) {
		if (kind == KIND_RAM) {
			snprintf(name, sizeof(name), "ram%u", i);
			memory_region_init_ram_ptr(&b->mr[i], NULL, name,
						   l->size[i],
						   ram + l->host_off[i]);
		} else {
			snprintf(name, sizeof(name), "io%u", i);
			memory_region_init_io(&b->mr[i], NULL, &bench_io_ops,
					      NULL, name, l->size[i]);
		}
		loopback_memory_region_set_free_notify(&b->mr[i],
						       count_finalised, NULL);
	}
	address_space_init(&b->as, &b->root, "bench");
	return b;
}

/* Maps every region, in the layout's random order. */
static void bench_as_add(struct bench_as *b, const struct layout *l,
			 bool transaction)
{
	unsigned int i;

	if (transaction)
		memory_region_transaction_begin();
	for (i = 0; i < l->n; i++) {
		unsigned int k = l->order[i];

		memory_region_add_subregion(&b->root, l->base[k], &b->mr[k]);
	}
	if (transaction)
		memory_region_transaction_commit();
	b->added = true;
}

/*
 * Unmaps in one transaction (one commit each would be O(n^2) again), drops
 * every reference and waits until the library has finalised all regions:
 * only then may their storage go.
 */
static bool bench_as_free(struct bench_as *b)
{
	unsigned long want = b->n + 1UL;
	unsigned long before = __atomic_load_n(&finalised, __ATOMIC_RELAXED);
	unsigned int i;
	bool ok = true;

	if (b->added) {
		memory_region_transaction_begin();
		for (i = 0; i < b->n; i++)
			memory_region_del_subregion(&b->root, &b->mr[i]);
		memory_region_transaction_commit();
	}
	address_space_destroy(&b->as);
	for (i = 0; i < b->n; i++)
		memory_region_unref(&b->mr[i]);
	memory_region_unref(&b->root);
	loopback_memory_drain();

	if (__atomic_load_n(&finalised, __ATOMIC_RELAXED) - before != want) {
		fprintf(stderr,
			"loopback-bench: %lu of %lu regions finalised after "
			"drain; leaking their storage\n",
			__atomic_load_n(&finalised, __ATOMIC_RELAXED) - before,
			want);
		ok = false;
	} else {
		g_free(b->mr);
		g_free(b);
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Lookup batches                                                      */
/* ------------------------------------------------------------------ */

struct lookup_ctx {
	AddressSpace *as;
#ifdef HAVE_DPDK
	struct rte_vhost_memory *dpdk;
#endif
};

typedef void (*batch_fn)(struct lookup_ctx *c, const hwaddr *a,
			 unsigned int n);

/* The read side section spans the batch, as a device loop's would. */
static void batch_translate(struct lookup_ctx *c, const hwaddr *a,
			    unsigned int n)
{
	uint64_t acc = 0;
	unsigned int i;

	loopback_rcu_read_lock();
	for (i = 0; i < n; i++) {
		hwaddr xlat, len = ACCESS_SIZE;
		MemoryRegion *mr;

		mr = address_space_translate(c->as, a[i], &xlat, &len, false,
					     MEMTXATTRS_UNSPECIFIED);
		acc += xlat + (uintptr_t)mr;
	}
	loopback_rcu_read_unlock();
	bench_sink = acc;
}

/* One read-side section per lookup: what a one-off caller pays. */
static void batch_translate_rcu(struct lookup_ctx *c, const hwaddr *a,
				unsigned int n)
{
	uint64_t acc = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		hwaddr xlat, len = ACCESS_SIZE;
		MemoryRegion *mr;

		loopback_rcu_read_lock();
		mr = address_space_translate(c->as, a[i], &xlat, &len, false,
					     MEMTXATTRS_UNSPECIFIED);
		loopback_rcu_read_unlock();
		acc += xlat + (uintptr_t)mr;
	}
	bench_sink = acc;
}

static void batch_read(struct lookup_ctx *c, const hwaddr *a, unsigned int n)
{
	uint64_t acc = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t v;

		acc += address_space_read(c->as, a[i], MEMTXATTRS_UNSPECIFIED,
					  &v, ACCESS_SIZE);
		acc += v;
	}
	bench_sink = acc;
}

/* volatile: an indirect call the compiler cannot inline, as dispatch's is */
static uint64_t (*volatile io_read_ptr)(void *, hwaddr, unsigned) =
	bench_io_read;

static void batch_callback(struct lookup_ctx *c, const hwaddr *a,
			   unsigned int n)
{
	uint64_t acc = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		acc += io_read_ptr(NULL, a[i], ACCESS_SIZE);
	bench_sink = acc;
}

#ifdef HAVE_DPDK
static void batch_dpdk(struct lookup_ctx *c, const hwaddr *a, unsigned int n)
{
	uint64_t acc = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t len = ACCESS_SIZE;

		acc += rte_vhost_va_from_guest_pa(c->dpdk, a[i], &len);
		acc += len;
	}
	bench_sink = acc;
}
#endif

/*
 * Runs @batches timed batches of @batch operations over consecutive
 * slices of @addrs (which holds @nlist addresses plus @batch more that
 * repeat its head, so every slice is contiguous), after a few untimed ones.
 */
static struct bench_stats time_batches(batch_fn fn, struct lookup_ctx *c,
				       const hwaddr *addrs, unsigned int nlist,
				       unsigned int batch,
				       unsigned int batches)
{
	double *ns = g_new(double, batches);
	struct bench_stats s;
	unsigned int b, i;

	for (i = 0; i < WARMUP_BATCHES; i++)
		fn(c, addrs + ((uint64_t)i * batch) % nlist, batch);
	for (b = 0; b < batches; b++) {
		unsigned int start = (unsigned int)(((uint64_t)b * batch) %
						     nlist);
		uint64_t t0, t1;

		t0 = bench_now_ns();
		fn(c, addrs + start, batch);
		t1 = bench_now_ns();
		ns[b] = (double)(t1 - t0) / batch;
	}
	s = bench_summarise(ns, batches);
	g_free(ns);
	return s;
}

/* ------------------------------------------------------------------ */
/* Lookup measurement for one region count                             */
/* ------------------------------------------------------------------ */

enum {
	COL_TRANSLATE,
	COL_TRANSLATE_RCU,
	COL_READ_RAM,
	COL_READ_IO,
	COL_CALLBACK,
	COL_IO_NET,
	COL_DPDK,
	NCOLS
};

static const char *const col_title[NCOLS] = {
	"translate", "+rcu/call", "read RAM", "read io", "io cb",
	"io-cb", "DPDK",
};

struct lookup_row {
	unsigned int n;
	uint64_t seed;
	struct bench_stats col[NCOLS];
	bool have[NCOLS];
	unsigned int dpdk_batches;
	uint64_t span;
	uint64_t ram_total;
};

/* Addresses inside random regions; @which gets the region of each. */
static void make_addresses(const struct layout *l, uint64_t seed,
			   hwaddr *addrs, unsigned int *which,
			   unsigned int nlist, unsigned int batch)
{
	uint64_t rng = seed;
	unsigned int i;

	for (i = 0; i < nlist; i++) {
		unsigned int r = (unsigned int)bench_rand_below(&rng, l->n);
		uint64_t off = ACCESS_SIZE *
			       bench_rand_below(&rng, l->size[r] / ACCESS_SIZE);

		addrs[i] = l->base[r] + off;
		which[i] = r;
	}
	for (i = 0; i < batch; i++)
		addrs[nlist + i] = addrs[i % nlist];
}

/*
 * Writes each address's byte once, directly: the first touch of a page is
 * a page fault of a microsecond or so that must not land in a timed batch.
 * A write, not a read: a read fault maps the shared zero page, and on some
 * KVM guests every later read of a zero-page mapping costs 1-3 us (seen
 * as "read RAM" of 1,000 ns at 8 regions).  A written page is ordinary
 * private memory, as a device's guest RAM is.  The byte stays 0.
 */
static void prefault(const struct layout *l, uint8_t *ram,
		     const hwaddr *addrs, const unsigned int *which,
		     unsigned int nlist)
{
	unsigned int i;

	for (i = 0; i < nlist; i++) {
		unsigned int r = which[i];

		*(volatile uint8_t *)(ram + l->host_off[r] +
				      (addrs[i] - l->base[r])) = 0;
	}
}

/*
 * A benchmark of wrong answers is worthless: check every address once
 * against the layout before timing anything.
 */
static unsigned int verify_translate(struct bench_as *b,
				     const struct layout *l,
				     const hwaddr *addrs,
				     const unsigned int *which,
				     unsigned int nlist, enum region_kind kind)
{
	unsigned int i, bad = 0;

	loopback_rcu_read_lock();
	for (i = 0; i < nlist; i++) {
		unsigned int r = which[i];
		hwaddr off = addrs[i] - l->base[r];
		hwaddr xlat = ~(hwaddr)0, len = ACCESS_SIZE;
		MemoryRegion *mr;
		uint32_t v = 0;
		MemTxResult res;

		mr = address_space_translate(&b->as, addrs[i], &xlat, &len,
					     false, MEMTXATTRS_UNSPECIFIED);
		res = address_space_read(&b->as, addrs[i],
					 MEMTXATTRS_UNSPECIFIED, &v,
					 ACCESS_SIZE);
		if (mr != &b->mr[r] || xlat != off || len != ACCESS_SIZE ||
		    res != MEMTX_OK ||
		    (kind == KIND_IO && v != (uint32_t)off)) {
			if (bad < 5)
				fprintf(stderr,
					"loopback-bench: %s N=%u addr 0x%"
					HWADDR_PRIx ": mr %s xlat 0x%"
					HWADDR_PRIx " len %" PRIu64
					" read %u val 0x%x; want %s xlat 0x%"
					HWADDR_PRIx "\n",
					kind == KIND_RAM ? "ram" : "io",
					l->n, addrs[i],
					mr ? memory_region_name(mr) : "(null)",
					xlat, len, res, v,
					memory_region_name(&b->mr[r]), off);
			bad++;
		}
	}
	loopback_rcu_read_unlock();
	return bad;
}

#ifdef HAVE_DPDK
#define DPDK_VERIFY	4096

/* DPDK's table in address order, as a vhost-user frontend sends it. */
static struct rte_vhost_memory *dpdk_table(const struct layout *l,
					   uint8_t *ram)
{
	struct rte_vhost_memory *m;
	unsigned int i;

	m = g_malloc0(sizeof(*m) + (size_t)l->n * sizeof(m->regions[0]));
	m->nregions = l->n;
	for (i = 0; i < l->n; i++) {
		struct rte_vhost_mem_region *r = &m->regions[i];

		r->guest_phys_addr = l->base[i];
		r->size = l->size[i];
		r->host_user_addr = (uintptr_t)(ram + l->host_off[i]);
		r->guest_user_addr = r->host_user_addr;
		r->fd = -1;
	}
	return m;
}

static unsigned int verify_dpdk(struct rte_vhost_memory *m,
				const struct layout *l, uint8_t *ram,
				const hwaddr *addrs, const unsigned int *which,
				unsigned int nlist)
{
	unsigned int i, bad = 0;

	for (i = 0; i < nlist; i++) {
		unsigned int r = which[i];
		uint64_t len = ACCESS_SIZE;
		uint64_t want = (uintptr_t)(ram + l->host_off[r] +
					    (addrs[i] - l->base[r]));

		if (rte_vhost_va_from_guest_pa(m, addrs[i], &len) != want ||
		    len != ACCESS_SIZE)
			bad++;
	}
	return bad;
}
#endif

#ifdef HAVE_DPDK
/*
 * The linear scan costs O(N) per lookup: at large N run fewer batches so
 * that 100,000 regions take seconds, not hours.  Never fewer than 20.
 */
static unsigned int dpdk_batches(unsigned int iterations, unsigned int n)
{
	uint64_t b = iterations;

	if (n > 64)
		b = (uint64_t)iterations * 64 / n;
	if (b < 20)
		b = 20;
	return b < iterations ? (unsigned int)b : iterations;
}
#endif

static int lookup_one(const struct bench_options *o, unsigned int n,
		      struct lookup_row *row)
{
	unsigned int nlist = o->addresses > o->batch ? o->addresses : o->batch;
	struct layout l;
	struct lookup_ctx c = { 0 };
	struct bench_as *b;
	unsigned int *which;
	hwaddr *addrs;
	uint8_t *ram;
	unsigned int bad;
	int ret = 0;

	memset(row, 0, sizeof(*row));
	row->n = n;
	row->seed = layout_seed(o->seed, n, 0);
	layout_generate(&l, n, row->seed);
	row->span = l.end - LAYOUT_BASE;
	row->ram_total = l.ram_total;

	ram = ram_map(l.ram_total);
	if (!ram) {
		layout_free(&l);
		return -1;
	}
	addrs = g_new(hwaddr, nlist + o->batch);
	which = g_new(unsigned int, nlist);
	make_addresses(&l, layout_seed(o->seed, n, 1), addrs, which, nlist,
		       o->batch);
	prefault(&l, ram, addrs, which, nlist);

	/* RAM */
	b = bench_as_new(&l, KIND_RAM, ram);
	bench_as_add(b, &l, true);
	c.as = &b->as;
	bad = verify_translate(b, &l, addrs, which, nlist, KIND_RAM);
	if (bad) {
		fprintf(stderr, "loopback-bench: N=%u: %u of %u RAM lookups "
			"wrong; not timing\n", n, bad, nlist);
		ret = -1;
	} else {
		row->col[COL_TRANSLATE] =
			time_batches(batch_translate, &c, addrs, nlist,
				     o->batch, o->iterations);
		row->col[COL_TRANSLATE_RCU] =
			time_batches(batch_translate_rcu, &c, addrs, nlist,
				     o->batch, o->iterations);
		row->col[COL_READ_RAM] =
			time_batches(batch_read, &c, addrs, nlist, o->batch,
				     o->iterations);
		row->have[COL_TRANSLATE] = row->have[COL_TRANSLATE_RCU] =
			row->have[COL_READ_RAM] = true;
	}
	if (!bench_as_free(b))
		ret = -1;

#ifdef HAVE_DPDK
	c.dpdk = dpdk_table(&l, ram);
	/* O(N) per lookup: a sample is enough to trust the table */
	bad = verify_dpdk(c.dpdk, &l, ram, addrs, which,
			  nlist < DPDK_VERIFY ? nlist : DPDK_VERIFY);
	if (bad) {
		fprintf(stderr, "loopback-bench: N=%u: %u DPDK lookups wrong\n",
			n, bad);
		ret = -1;
	} else {
		row->dpdk_batches = dpdk_batches(o->iterations, n);
		row->col[COL_DPDK] = time_batches(batch_dpdk, &c, addrs, nlist,
						  o->batch, row->dpdk_batches);
		row->have[COL_DPDK] = true;
	}
	g_free(c.dpdk);
	c.dpdk = NULL;
#endif

	/* io */
	b = bench_as_new(&l, KIND_IO, NULL);
	bench_as_add(b, &l, true);
	c.as = &b->as;
	bad = verify_translate(b, &l, addrs, which, nlist, KIND_IO);
	if (bad) {
		fprintf(stderr, "loopback-bench: N=%u: %u of %u io lookups "
			"wrong; not timing\n", n, bad, nlist);
		ret = -1;
	} else {
		row->col[COL_READ_IO] =
			time_batches(batch_read, &c, addrs, nlist, o->batch,
				     o->iterations);
		row->col[COL_CALLBACK] =
			time_batches(batch_callback, &c, addrs, nlist,
				     o->batch, o->iterations);
		/* difference of medians (and of p99s): an estimate */
		row->col[COL_IO_NET].median = row->col[COL_READ_IO].median -
					      row->col[COL_CALLBACK].median;
		row->col[COL_IO_NET].p99 = row->col[COL_READ_IO].p99 -
					   row->col[COL_CALLBACK].p99;
		row->have[COL_READ_IO] = row->have[COL_CALLBACK] =
			row->have[COL_IO_NET] = true;
	}
	if (!bench_as_free(b))
		ret = -1;

	g_free(addrs);
	g_free(which);
	munmap(ram, l.ram_total);
	layout_free(&l);
	return ret;
}

static void print_lookup_table(const struct lookup_row *rows,
			       unsigned int nrows, bool p99)
{
	unsigned int r, k;

	printf("%8s", "regions");
	for (k = 0; k < NCOLS; k++)
		printf(" %10s", col_title[k]);
	printf("\n");
	for (r = 0; r < nrows; r++) {
		printf("%8u", rows[r].n);
		for (k = 0; k < NCOLS; k++) {
			if (!rows[r].have[k])
				printf(" %10s", "-");
			else
				printf(" %10.2f", p99 ? rows[r].col[k].p99 :
					rows[r].col[k].median);
		}
		printf("\n");
	}
}

/* ------------------------------------------------------------------ */
/* Commits                                                             */
/* ------------------------------------------------------------------ */

static const unsigned int commit_sizes[] = { 1000, 10000, 100000 };

/* 100,000 single commits are O(n^2): minutes, so only with --full. */
#define COMMIT_SLOW_N	100000

struct commit_row {
	unsigned int n;
	bool skipped;
	bool failed;
	unsigned int reps;
	double ms;		/* median over reps: begin..commit */
	double init_ms;		/* memory_region_init_ram_ptr of all N */
	double free_ms;		/* del in one transaction, unref, drain */
};

static void commit_one(const struct bench_options *o, unsigned int n,
		       bool transaction, struct commit_row *row)
{
	struct layout l;
	double *ms, *init_ms, *free_ms;
	unsigned int rep;
	uint8_t *ram;

	row->n = n;
	/* single commits get slow fast; a few repeats are plenty */
	row->reps = transaction ? 5 : (n <= 1000 ? 3 : 1);
	layout_generate(&l, n, layout_seed(o->seed, n, 2));
	ram = ram_map(l.ram_total);
	if (!ram) {
		row->failed = true;
		layout_free(&l);
		return;
	}
	ms = g_new(double, row->reps);
	init_ms = g_new(double, row->reps);
	free_ms = g_new(double, row->reps);
	for (rep = 0; rep < row->reps; rep++) {
		struct bench_as *b;
		uint64_t t0, t1, t2, t3;

		t0 = bench_now_ns();
		b = bench_as_new(&l, KIND_RAM, ram);
		t1 = bench_now_ns();
		bench_as_add(b, &l, transaction);
		t2 = bench_now_ns();
		if (!bench_as_free(b))
			row->failed = true;
		t3 = bench_now_ns();
		init_ms[rep] = (double)(t1 - t0) / 1e6;
		ms[rep] = (double)(t2 - t1) / 1e6;
		free_ms[rep] = (double)(t3 - t2) / 1e6;
	}
	row->ms = bench_summarise(ms, row->reps).median;
	row->init_ms = bench_summarise(init_ms, row->reps).median;
	row->free_ms = bench_summarise(free_ms, row->reps).median;
	g_free(ms);
	g_free(init_ms);
	g_free(free_ms);
	munmap(ram, l.ram_total);
	layout_free(&l);
}

static double nlogn(unsigned int n)
{
	return n > 1 ? (double)n * log2((double)n) : 1.0;
}

/* Ratio of t(n)/(n log n) to the same at the smallest measured n. */
static double growth_ratio(const struct commit_row *rows, unsigned int nrows,
			   unsigned int r)
{
	unsigned int k;

	for (k = 0; k < nrows; k++)
		if (!rows[k].skipped && !rows[k].failed)
			return (rows[r].ms / nlogn(rows[r].n)) /
			       (rows[k].ms / nlogn(rows[k].n));
	return 0.0;
}

static void print_commit_rows(const char *mode, const struct commit_row *rows,
			      unsigned int nrows)
{
	unsigned int r;

	for (r = 0; r < nrows; r++) {
		const struct commit_row *c = &rows[r];

		printf("%-12s %7u ", mode, c->n);
		if (c->skipped) {
			printf("skipped (use --full)\n");
			continue;
		}
		if (c->failed) {
			printf("failed\n");
			continue;
		}
		printf("%4u %11.2f %11.0f %9.2f %9.2f %9.2f\n", c->reps, c->ms,
		       c->ms * 1e6 / c->n, growth_ratio(rows, nrows, r),
		       c->init_ms, c->free_ms);
	}
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

static void run_lookups(const struct bench_options *o,
			struct lookup_row *rows, int *ret)
{
	unsigned int i;

	for (i = 0; i < o->nregions; i++)
		if (lookup_one(o, o->regions[i], &rows[i]))
			*ret = 1;

	printf("\nlayouts:\n");
	for (i = 0; i < o->nregions; i++)
		printf("  N=%-7u layout seed 0x%016" PRIx64 "  span %9.1f MiB"
		       "  in regions %9.1f MiB  DPDK batches %u\n",
		       rows[i].n, rows[i].seed, (double)rows[i].span / MiB,
		       (double)rows[i].ram_total / MiB, rows[i].dpdk_batches);

	printf("\nlookups, ns per operation, MEDIAN over batches:\n");
	print_lookup_table(rows, o->nregions, false);
	printf("\nlookups, ns per operation, 99th PERCENTILE over batches:\n");
	print_lookup_table(rows, o->nregions, true);
	printf("\n  translate  address_space_translate, one RCU read section "
	       "per batch\n"
	       "  +rcu/call  the same with rcu_read_lock/unlock around each "
	       "call\n"
	       "  read RAM   address_space_read, 4 bytes, RAM region\n"
	       "  read io    address_space_read, 4 bytes, io region, "
	       "callback included\n"
	       "  io cb      the trivial callback alone, called through a "
	       "function pointer\n"
	       "  io-cb      read io minus io cb: the library's io dispatch "
	       "cost (difference of\n"
	       "             the two statistics, an estimate)\n"
	       "  DPDK       rte_vhost_va_from_guest_pa on the same RAM "
	       "layout (fewer batches\n"
	       "             at large N, see above)\n");
	fflush(stdout);
}

static void run_commits(const struct bench_options *o, struct commit_row *tx,
			struct commit_row *single, unsigned int nc, int *ret)
{
	unsigned int i;

	for (i = 0; i < nc; i++)
		commit_one(o, commit_sizes[i], true, &tx[i]);
	for (i = 0; i < nc; i++) {
		if (commit_sizes[i] >= COMMIT_SLOW_N && !o->full) {
			single[i].n = commit_sizes[i];
			single[i].skipped = true;
			continue;
		}
		commit_one(o, commit_sizes[i], false, &single[i]);
	}
	for (i = 0; i < nc; i++)
		if (tx[i].failed || single[i].failed)
			*ret = 1;

	printf("\ncommits: N RAM regions added to an empty address space "
	       "(median of reps):\n");
	printf("%-12s %7s %4s %11s %11s %9s %9s %9s\n", "mode", "N", "reps",
	       "total ms", "ns/region", "ratio", "init ms", "free ms");
	print_commit_rows("transaction", tx, nc);
	print_commit_rows("single", single, nc);
	printf("\n  total ms   begin .. commit (or the N add_subregion calls "
	       "each committing)\n"
	       "  ratio      (t(n) / (n log n)) / the same at the smallest n "
	       "of the mode: 1 = n log n\n"
	       "  init ms    memory_region_init_ram_ptr of the N regions "
	       "(not in total)\n"
	       "  free ms    del_subregion of all in one transaction, "
	       "unref, drain (not in total)\n");
	fflush(stdout);
}

static const char *verdict(bool met)
{
	return met ? "met" : "NOT MET";
}

/* The targets, judged on what this run measured; never an exit status. */
static void print_targets(const struct lookup_row *rows, unsigned int nrows,
			  const struct commit_row *tx, unsigned int nc,
			  bool lookup, bool commit)
{
	const struct lookup_row *at8 = NULL, *at1000 = NULL;
	unsigned int i;

	for (i = 0; i < nrows; i++) {
		if (rows[i].n == 8)
			at8 = &rows[i];
		if (rows[i].n == 1000)
			at1000 = &rows[i];
	}
	printf("\ntargets:\n");
	if (lookup && at1000 && at1000->have[COL_TRANSLATE])
		printf("  translate median at 1000 regions <= 10 ns: %.2f ns, "
		       "%s\n", at1000->col[COL_TRANSLATE].median,
		       verdict(at1000->col[COL_TRANSLATE].median <= 10.0));
	else
		printf("  translate at 1000 regions: not measured\n");
	if (lookup && at8 && at8->have[COL_TRANSLATE] && at8->have[COL_DPDK])
		printf("  translate median at 8 regions <= DPDK's: %.2f vs "
		       "%.2f ns, %s\n", at8->col[COL_TRANSLATE].median,
		       at8->col[COL_DPDK].median,
		       verdict(at8->col[COL_TRANSLATE].median <=
			       at8->col[COL_DPDK].median));
	else
		printf("  translate at 8 regions vs DPDK: not measured\n");
	if (!commit) {
		printf("  commit targets: not measured\n");
		return;
	}
	for (i = 0; i < nc; i++)
		if (tx[i].n == 100000 && !tx[i].failed)
			printf("  100000-region transaction <= 200 ms: %.2f ms, "
			       "%s\n", tx[i].ms, verdict(tx[i].ms <= 200.0));
	if (!tx[0].failed && !tx[nc - 1].failed) {
		double g = growth_ratio(tx, nc, nc - 1);

		printf("  transaction commit grows <= n log n: ratio %.2f at "
		       "n=%u, %s (allowance 1.25 for noise)\n", g,
		       tx[nc - 1].n, verdict(g <= 1.25));
	}
}

/* ------------------------------------------------------------------ */
/* Readers while a writer commits (--threads)                          */
/* ------------------------------------------------------------------ */

/*
 * Each reader runs batches of THR_BATCH 4-byte address_space_read()s over
 * its own slice of the address list and reads the clock around each
 * batch: its throughput is reads / time, its worst stall the longest
 * batch (a bound on the longest single read, and on the longest gap
 * between two progress samples).  It also reads its CPU time, and its
 * count of involuntary context switches after every batch: on a machine
 * with fewer CPUs than threads, reads per CPU-second and the longest batch
 * that was not preempted tell the library's share from the scheduler's.
 * The writer toggles one spare region (outside every address read) once
 * per millisecond on an absolute schedule; each toggle is one commit that
 * renders the whole view again.
 */
#define THR_REGIONS		1000
#define THR_BATCH		1024
#define THR_DEFAULT_BATCHES	50000
#define THR_WRITER_HZ		1000

struct thr_reader {
	GThread *thread;
	AddressSpace *as;
	const hwaddr *addrs;	/* this reader's slice */
	unsigned int nlist;	/* addresses in the slice */
	unsigned int batches;
	const int *go;
	/* results */
	uint64_t ns, cpu_ns;
	double *batch_ns;
	double worst_unpreempted_ns;
	unsigned int preempted;	/* batches with an involuntary switch */
};

struct thr_writer {
	GThread *thread;
	MemoryRegion *spare;
	int stop;
	unsigned int commits;
	uint64_t ns;
	uint64_t max_commit_ns;
	unsigned int late;	/* periods started > 1 period late */
};

static uint64_t thr_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long thr_nivcsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nivcsw;
}

static gpointer thr_reader_main(gpointer data)
{
	struct thr_reader *r = data;
	unsigned int pos = 0;
	uint64_t acc = 0, start, cpu0, t0, t1;
	long sw0, sw1;

	/*
	 * Untimed: the thread's first read section registers it with
	 * liburcu-bp, which takes a lock that a grace period in progress
	 * holds; then caches and predictors.
	 */
	for (unsigned int i = 0; i < WARMUP_BATCHES * THR_BATCH; i++) {
		uint32_t v;

		acc += address_space_read(r->as, r->addrs[i % r->nlist],
					  MEMTXATTRS_UNSPECIFIED, &v,
					  ACCESS_SIZE);
	}
	while (!__atomic_load_n(r->go, __ATOMIC_ACQUIRE))
		;
	cpu0 = thr_cpu_ns();
	sw0 = thr_nivcsw();
	start = t0 = bench_now_ns();
	for (unsigned int b = 0; b < r->batches; b++) {
		for (unsigned int i = 0; i < THR_BATCH; i++) {
			uint32_t v;

			acc += address_space_read(r->as, r->addrs[pos + i],
						  MEMTXATTRS_UNSPECIFIED, &v,
						  ACCESS_SIZE);
			acc += v;
		}
		pos += THR_BATCH;
		if (pos + THR_BATCH > r->nlist)
			pos = 0;
		t1 = bench_now_ns();
		sw1 = thr_nivcsw();
		r->batch_ns[b] = (double)(t1 - t0);
		if (sw1 != sw0)
			r->preempted++;
		else if (r->batch_ns[b] > r->worst_unpreempted_ns)
			r->worst_unpreempted_ns = r->batch_ns[b];
		sw0 = sw1;
		/* the system call is not part of the next batch */
		t0 = bench_now_ns();
	}
	r->ns = t0 - start;
	r->cpu_ns = thr_cpu_ns() - cpu0;
	bench_sink = acc;
	return NULL;
}

static void thr_sleep_until(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000u,
			       .tv_nsec = ns % 1000000000u };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static gpointer thr_writer_main(gpointer data)
{
	struct thr_writer *w = data;
	const uint64_t period = 1000000000u / THR_WRITER_HZ;
	uint64_t start = bench_now_ns(), next = start;
	bool on = true;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t t0, t1;

		next += period;
		thr_sleep_until(next);
		t0 = bench_now_ns();
		/* fell behind: keep the rate, do not try to catch up */
		if (t0 > next + period) {
			w->late++;
			next = t0;
		}
		on = !on;
		memory_region_set_enabled(w->spare, on);
		t1 = bench_now_ns();
		if (t1 - t0 > w->max_commit_ns)
			w->max_commit_ns = t1 - t0;
		w->commits++;
	}
	w->ns = bench_now_ns() - start;
	return NULL;
}

struct thr_result {
	unsigned int readers;
	bool writer;
	double mops_min, mops_median;	/* per reader, wall clock */
	double cpu_mops_min;		/* per reader, per CPU-second */
	double worst_us;	/* longest batch of any reader */
	double unpre_us;	/* longest batch that was not preempted */
	double p999_us;		/* 99.9th percentile of batches, all readers */
	double preempted;	/* share of batches preempted */
	double commits_per_s;
	double max_commit_us;
	unsigned int late;
};

static void thr_run(struct bench_as *b, const hwaddr *addrs,
		    unsigned int nlist, unsigned int batches,
		    unsigned int nreaders, bool writer,
		    struct thr_result *res)
{
	struct thr_reader *r = g_new0(struct thr_reader, nreaders);
	struct thr_writer w = { .spare = &b->mr[b->n - 1] };
	double *mops = g_new(double, nreaders);
	double *all = g_new(double, (size_t)nreaders * batches);
	unsigned int slice = nlist / nreaders, preempted = 0;
	int go = 0;

	slice -= slice % THR_BATCH;
	for (unsigned int i = 0; i < nreaders; i++) {
		r[i].as = &b->as;
		/* disjoint slices: no reader replays another's cache misses */
		r[i].addrs = addrs + (size_t)i * slice;
		r[i].nlist = slice;
		r[i].batches = batches;
		r[i].go = &go;
		r[i].batch_ns = g_new(double, batches);
		r[i].thread = g_thread_new("reader", thr_reader_main, &r[i]);
	}
	if (writer)
		w.thread = g_thread_new("writer", thr_writer_main, &w);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);

	memset(res, 0, sizeof(*res));
	res->readers = nreaders;
	res->writer = writer;
	res->cpu_mops_min = INFINITY;
	for (unsigned int i = 0; i < nreaders; i++) {
		double reads = (double)batches * THR_BATCH;

		g_thread_join(r[i].thread);
		mops[i] = reads / (double)r[i].ns * 1e3;
		res->cpu_mops_min = MIN(res->cpu_mops_min,
					reads / (double)r[i].cpu_ns * 1e3);
		res->unpre_us = MAX(res->unpre_us,
				    r[i].worst_unpreempted_ns / 1e3);
		preempted += r[i].preempted;
		for (unsigned int k = 0; k < batches; k++) {
			all[(size_t)i * batches + k] = r[i].batch_ns[k];
			res->worst_us = MAX(res->worst_us,
					    r[i].batch_ns[k] / 1e3);
		}
		g_free(r[i].batch_ns);
	}
	if (writer) {
		__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
		g_thread_join(w.thread);
		res->commits_per_s = w.commits / ((double)w.ns / 1e9);
		res->max_commit_us = (double)w.max_commit_ns / 1e3;
		res->late = w.late;
		/* leave the spare as it was for the next run */
		memory_region_set_enabled(w.spare, true);
	}
	res->preempted = (double)preempted / ((double)nreaders * batches);
	bench_sort(mops, nreaders);
	res->mops_min = mops[0];
	res->mops_median = bench_percentile(mops, nreaders, 50.0);
	bench_sort(all, (size_t)nreaders * batches);
	res->p999_us = bench_percentile(all, (size_t)nreaders * batches,
					99.9) / 1e3;
	g_free(all);
	g_free(mops);
	g_free(r);
}

static void thr_print(const char *kind, const struct thr_result *x,
		      const struct thr_result *base)
{
	printf("%-4s %3u %3s %7.2f %7.2f %5.2f %7.2f %5.2f %8.1f %9.1f "
	       "%8.1f %5.1f%%",
	       kind, x->readers, x->writer ? "yes" : "no", x->mops_min,
	       x->mops_median, x->mops_min / base->mops_median,
	       x->cpu_mops_min, x->cpu_mops_min / base->cpu_mops_min,
	       x->p999_us, x->worst_us, x->unpre_us, 100.0 * x->preempted);
	if (x->writer)
		printf(" %6.0f %8.1f %5u\n", x->commits_per_s,
		       x->max_commit_us, x->late);
	else
		printf(" %6s %8s %5s\n", "-", "-", "-");
}

static void thr_targets(const struct thr_result *res, unsigned int n)
{
	printf("  target: every reader >= 0.90 of one reader without writer, "
	       "no stall > 1 ms\n");
	for (unsigned int k = 1; k <= n; k++) {
		double rel = res[k].mops_min / res[0].mops_median;
		double rel_cpu = res[k].cpu_mops_min / res[0].cpu_mops_min;

		printf("    %u reader%s: wall %.2f, worst %.0f us: %s;"
		       " per CPU-second %.2f, unpreempted worst %.0f us: %s\n",
		       res[k].readers, res[k].readers > 1 ? "s" : " ", rel,
		       res[k].worst_us,
		       verdict(rel >= 0.90 && res[k].worst_us <= 1000.0),
		       rel_cpu, res[k].unpre_us,
		       verdict(rel_cpu >= 0.90 && res[k].unpre_us <= 1000.0));
	}
}

static int run_threads(const struct bench_options *o)
{
	unsigned int batches = o->iterations_set ? o->iterations :
			       THR_DEFAULT_BATCHES;
	unsigned int n = THR_REGIONS, nlist, counts[8], ncounts = 0;
	unsigned int ncpu = g_get_num_processors();
	struct thr_result *res;
	struct layout l;
	unsigned int *which;
	hwaddr *addrs;
	uint8_t *ram;
	int ret = 0;

	for (unsigned int k = 1; k < o->threads; k *= 2)
		counts[ncounts++] = k;
	counts[ncounts++] = o->threads;
	/* every reader gets its own slice of at least 256 batches */
	nlist = o->addresses;
	if (nlist < o->threads * THR_BATCH * 256u)
		nlist = o->threads * THR_BATCH * 256u;

	/* one layout of n regions plus the spare, which is last */
	layout_generate(&l, n + 1, layout_seed(o->seed, n, 3));
	ram = ram_map(l.ram_total);
	if (!ram) {
		layout_free(&l);
		return 1;
	}
	/* readers never touch the spare: addresses come from the first n */
	l.n = n;
	addrs = g_new(hwaddr, nlist + THR_BATCH);
	which = g_new(unsigned int, nlist);
	make_addresses(&l, layout_seed(o->seed, n, 4), addrs, which, nlist,
		       THR_BATCH);
	prefault(&l, ram, addrs, which, nlist);
	l.n = n + 1;

	printf("loopback-bench memory --threads %u: %u regions (+1 toggled by "
	       "the writer), seed %" PRIu64 ",\n"
	       "%u batches of %u %d-byte address_space_read per reader, "
	       "writer at %u commits/s; %u CPUs online\n",
	       o->threads, n, o->seed, batches, THR_BATCH, ACCESS_SIZE,
	       THR_WRITER_HZ, ncpu);
	if (o->threads + 1 > ncpu)
		printf("NOTE: up to %u readers + 1 writer (+ liburcu's callback "
		       "thread) on %u CPUs: when they outnumber the CPUs,\n"
		       "wall-clock throughput and stalls measure the scheduler "
		       "as much as the library; see the CPU columns.\n",
		       o->threads, ncpu);
	printf("\n%-4s %3s %3s %7s %7s %5s %7s %5s %8s %9s %8s %6s %6s %8s "
	       "%5s\n", "kind", "rd", "wr", "Mops", "Mops", "rel", "cpuMops",
	       "rel", "p99.9", "worst", "unpre", "preem", "cmt/s", "cmt max",
	       "late");
	printf("%-4s %3s %3s %7s %7s %5s %7s %5s %8s %9s %8s %6s %6s %8s "
	       "%5s\n", "", "", "", "min", "median", "", "min", "cpu", "us",
	       "us", "us", "", "", "us", "");
	fflush(stdout);

	res = g_new0(struct thr_result, ncounts + 1);
	for (int kind = KIND_RAM; kind <= KIND_IO; kind++) {
		const char *name = kind == KIND_RAM ? "RAM" : "io";
		struct bench_as *b = bench_as_new(&l, kind, ram);
		unsigned int bad;

		bench_as_add(b, &l, true);
		l.n = n;
		bad = verify_translate(b, &l, addrs, which, nlist, kind);
		l.n = n + 1;
		if (bad) {
			fprintf(stderr, "loopback-bench: %u of %u %s lookups "
				"wrong; not timing\n", bad, nlist, name);
			ret = 1;
		} else {
			/* the reference: one reader, nothing changes */
			thr_run(b, addrs, nlist, batches, 1, false, &res[0]);
			thr_print(name, &res[0], &res[0]);
			for (unsigned int k = 0; k < ncounts; k++) {
				thr_run(b, addrs, nlist, batches, counts[k],
					true, &res[k + 1]);
				thr_print(name, &res[k + 1], &res[0]);
				fflush(stdout);
			}
			thr_targets(res, ncounts);
		}
		if (!bench_as_free(b))
			ret = 1;
	}
	printf("\n  rd, wr     reader threads; whether the writer commits "
	       "%u times a second\n"
	       "  Mops       million reads per second of one reader, wall "
	       "clock (slowest, median)\n"
	       "  rel        slowest reader / the median of the first row "
	       "(one reader, no writer)\n"
	       "  cpuMops    million reads per CPU-second of the slowest "
	       "reader; rel cpu: / the first row's\n"
	       "  p99.9 us   99.9th percentile of the time of one batch of "
	       "%u reads, all readers\n"
	       "  worst us   the longest batch of any reader: bounds the "
	       "longest stall of one read\n"
	       "  unpre us   the longest batch without an involuntary "
	       "context switch of its reader\n"
	       "  preem      share of batches in which the reader was "
	       "preempted\n"
	       "  cmt/s      commits the writer achieved per second; cmt "
	       "max: its longest commit;\n"
	       "             late: periods it started more than 1 ms late "
	       "(not made up)\n",
	       THR_WRITER_HZ, THR_BATCH);
	g_free(res);
	g_free(addrs);
	g_free(which);
	munmap(ram, l.ram_total);
	layout_free(&l);
	return ret;
}

int bench_memory(const struct bench_options *o)
{
	struct commit_row tx[ARRAY_SIZE(commit_sizes)] = { 0 };
	struct commit_row single[ARRAY_SIZE(commit_sizes)] = { 0 };
	unsigned int nc = ARRAY_SIZE(commit_sizes);
	bool lookup = true, commit = true;
	struct lookup_row *rows;
	int ret = 0;

	if (o->threads)
		return run_threads(o);
	if (o->only && !strcmp(o->only, "lookup")) {
		commit = false;
	} else if (o->only && !strcmp(o->only, "commit")) {
		lookup = false;
	} else if (o->only) {
		fprintf(stderr, "loopback-bench memory: --only takes lookup "
			"or commit, not '%s'\n", o->only);
		return 2;
	}

	printf("loopback-bench memory: seed %" PRIu64 ", %u batches of %u "
	       "lookups over %u random addresses, %d-byte accesses\n",
	       o->seed, o->iterations, o->batch,
	       o->addresses > o->batch ? o->addresses : o->batch,
	       ACCESS_SIZE);
	printf("regions: 4 KiB..1 MiB, gaps 0..1 MiB (4 KiB steps) from "
	       "0x%" PRIx64 ", added in random order\n", LAYOUT_BASE);
#ifdef HAVE_DPDK
	printf("DPDK: rte_vhost_va_from_guest_pa() from rte_vhost.h, same "
	       "layout and addresses\n");
#else
	printf("DPDK: not found at configure time, column left empty\n");
#endif
	fflush(stdout);

	rows = g_new0(struct lookup_row, o->nregions);
	if (lookup)
		run_lookups(o, rows, &ret);
	if (commit)
		run_commits(o, tx, single, nc, &ret);
	print_targets(rows, o->nregions, tx, nc, lookup, commit);
	g_free(rows);
	return ret;
}
