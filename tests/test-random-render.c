/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Differential test of flat-view rendering.
 *
 * Random trees (containers, io, reservations, RAM, ROM, ROM devices,
 * aliases of anything including aliases and containers, equal and negative
 * priorities, disabled and readonly regions, sizes up to 2^64, regions at
 * the top of the space) are rendered by the library and by a brute-force
 * model written from section 1 of the semantics page (plus QEMU's choice of
 * the flat view root, which the page does not describe).  The model walks the
 * tree for one address at a time: the first terminating region, in
 * depth-first priority order, whose clipped range holds the address answers
 * it, at offset address - base.  At every sampled address (range boundaries
 * of both renderings +-1, 0, 2^64-1 and random ones) the region and offset
 * from flatview_for_each_range, and readonly/nonvolatile from
 * memory_region_find, must match the model.  Each tree is then mutated a few
 * times (setters, del/add, transactions) and checked again.
 *
 * LOOPBACK_TEST_SEED replays a run, LOOPBACK_TEST_TREES sets the number of
 * trees (default 10000), LOOPBACK_TEST_TREE runs only the tree of that index.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef __int128 s128;

#define MAX_NODES 16
#define BIG ((s128)1 << 64)

enum node_type {
	T_CONTAINER,
	T_IO,
	T_RESERVATION,		/* io with NULL ops */
	T_RAM,
	T_RAM_READONLY,		/* RAM made readonly with set_readonly */
	T_ROM,
	T_ROM_DEVICE,
	T_ALIAS,
	T_COUNT
};

static const char *const type_names[T_COUNT] = {
	"container", "io", "reservation", "ram", "ram-ro", "rom", "romd",
	"alias",
};

/* The model's copy of the tree: what the test asked the library to do. */
typedef struct Node {
	MemoryRegion *mr;
	enum node_type type;
	char name[8];
	hwaddr addr;
	s128 size;
	int prio;
	bool enabled;
	bool readonly;
	bool nonvolatile;
	int alias;		/* target index, -1 when not an alias */
	hwaddr alias_offset;
	int parent;		/* -1: in no container */
	int kids[MAX_NODES];	/* children in list order */
	int nkids;
} Node;

typedef struct Tree {
	Node n[MAX_NODES];	/* the tree as it is now */
	Node shown[MAX_NODES];	/* as of the last commit that re-rendered */
	bool pending;		/* an update is pending (section 3) */
	bool in_txn;
	int nr;
	int root;		/* always the last node */
	AddressSpace *as;
	GRand *rand;
	unsigned int index;
	guint32 seed;
} Tree;

/* recording ops; never dispatched to (set up in main) */
static MemoryRegionOps dummy_ops;
static const MemoryRegionOps *dummy_ops_ptr = &dummy_ops;

/* ---- random choices ---- */

static uint64_t rand64(GRand *r)
{
	return ((uint64_t)g_rand_int(r) << 32) | g_rand_int(r);
}

static bool chance(GRand *r, int percent)
{
	return g_rand_int_range(r, 0, 100) < percent;
}

/* A size as passed to the API: UINT64_MAX means 2^64. */
static uint64_t rand_size(GRand *r, bool allocates)
{
	int k = g_rand_int_range(r, 0, 100);

	if (allocates)
		return g_rand_int_range(r, 1, 5) * 0x1000;
	if (k < 3)
		return 0;
	if (k < 8)
		return UINT64_MAX;
	if (k < 68)
		return g_rand_int_range(r, 1, 0x40) * 0x100;
	if (k < 78)
		return g_rand_int_range(r, 1, 0x10000);
	if (k < 88)
		return 1ULL << g_rand_int_range(r, 0, 20);
	if (k < 94)
		return 1ULL << g_rand_int_range(r, 20, 64);
	return rand64(r);
}

static s128 api_size(uint64_t size)
{
	return size == UINT64_MAX ? BIG : (s128)size;
}

static hwaddr rand_addr(GRand *r, Tree *t, s128 size)
{
	int k = g_rand_int_range(r, 0, 100);

	if (k < 15)
		return 0;
	if (k < 55)
		return g_rand_int_range(r, 0, 0x400) * 0x80;
	if (k < 65 && size < BIG)
		return (hwaddr)(BIG - size);
	if (k < 75)
		return -(hwaddr)g_rand_int_range(r, 1, 0x10000);
	if (k < 85 && t->nr > 0) {
		/* near another node's address, to make overlaps */
		Node *o = &t->n[g_rand_int_range(r, 0, t->nr)];

		return o->addr + g_rand_int_range(r, -0x800, 0x800);
	}
	return rand64(r);
}

/* Somewhere in [0, @span), @span capped so that small values stay likely. */
static uint64_t rand_within(GRand *r, s128 span)
{
	uint64_t cap = span > 0x40000 ? 0x40000 : (uint64_t)span;

	if (!cap)
		return 0;
	if (chance(r, 50))
		return g_rand_int_range(r, 0, (cap + 0x7f) / 0x80) * 0x80 % cap;
	return (uint64_t)g_rand_double_range(r, 0, (double)cap) % cap;
}

/* Mostly inside the target, so that the window shows something. */
static hwaddr rand_alias_offset(GRand *r, s128 target_size)
{
	int k = g_rand_int_range(r, 0, 100);

	if (k < 25)
		return 0;
	if (k < 75)
		return rand_within(r, target_size);
	if (k < 85)
		return -(hwaddr)g_rand_int_range(r, 1, 0x10000);
	return rand64(r);
}

/* Mostly inside the container, sometimes at its end or anywhere. */
static hwaddr rand_child_addr(GRand *r, Tree *t, int parent, s128 size)
{
	s128 psize = t->n[parent].size;
	int k = g_rand_int_range(r, 0, 100);

	if (k < 60)
		return rand_within(r, psize);
	if (k < 70 && size <= psize)
		return (hwaddr)(psize - size);
	return rand_addr(r, t, size);
}

static int rand_prio(GRand *r)
{
	static const int prios[] = { -2, -1, 0, 0, 0, 0, 1, 1, 2 };

	return prios[g_rand_int_range(r, 0, G_N_ELEMENTS(prios))];
}

static bool terminates(enum node_type type)
{
	return type != T_CONTAINER && type != T_ALIAS;
}

/* ---- building, in the library and in the model ---- */

/*
 * Section 3: a change re-renders only when it marks an update pending, at
 * the outermost commit (each call outside a transaction commits).
 */
static void updated(Tree *t, bool pending)
{
	t->pending |= pending;
	if (t->in_txn || !t->pending)
		return;
	memcpy(t->shown, t->n, sizeof(t->shown));
	t->pending = false;
}

static void model_insert(Tree *t, int parent, int child)
{
	Node *p = &t->n[parent];
	int i, j;

	/* before the first sibling whose priority is <= the new one's */
	for (i = 0; i < p->nkids; i++)
		if (t->n[p->kids[i]].prio <= t->n[child].prio)
			break;
	for (j = p->nkids; j > i; j--)
		p->kids[j] = p->kids[j - 1];
	p->kids[i] = child;
	p->nkids++;
	t->n[child].parent = parent;
}

static void model_remove(Tree *t, int child)
{
	Node *p = &t->n[t->n[child].parent];
	int i;

	for (i = 0; p->kids[i] != child; i++)
		;
	for (; i < p->nkids - 1; i++)
		p->kids[i] = p->kids[i + 1];
	p->nkids--;
	t->n[child].parent = -1;
}

static void do_add(Tree *t, int parent, int child, hwaddr addr, int prio,
		   bool plain)
{
	Node *c = &t->n[child];

	if (plain) {
		prio = 0;
		memory_region_add_subregion(t->n[parent].mr, addr, c->mr);
	} else {
		memory_region_add_subregion_overlap(t->n[parent].mr, addr,
						    c->mr, prio);
	}
	c->addr = addr;
	c->prio = prio;
	model_insert(t, parent, child);
	updated(t, t->n[parent].enabled && c->enabled);
}

/* A node that may become @child's container: higher index, not an alias. */
static int pick_parent(Tree *t, int child)
{
	int tries;

	for (tries = 0; tries < 8; tries++) {
		int p = g_rand_int_range(t->rand, child + 1, t->nr);

		if (t->n[p].type != T_ALIAS)
			return p;
	}
	return -1;
}

static void node_init(Tree *t, int i, enum node_type type)
{
	GRand *r = t->rand;
	Node *n = &t->n[i];
	GError *err = NULL;
	uint64_t size = rand_size(r, type == T_ROM || type == T_ROM_DEVICE);
	bool ok = true;

	/* containers mostly large enough to hold their children */
	if (type == T_CONTAINER && chance(r, 60))
		size = chance(r, 50) ? UINT64_MAX :
		       (uint64_t)g_rand_int_range(r, 0x100, 0x400) * 0x100;

	memset(n, 0, sizeof(*n));
	n->type = type;
	g_snprintf(n->name, sizeof(n->name), "n%d", i);
	n->size = api_size(size);
	n->enabled = true;
	n->alias = -1;
	n->parent = -1;
	n->mr = lbt_region_alloc();

	switch (type) {
	case T_CONTAINER:
		memory_region_init(n->mr, NULL, n->name, size);
		break;
	case T_IO:
		memory_region_init_io(n->mr, NULL, dummy_ops_ptr, NULL,
				      n->name, size);
		break;
	case T_RESERVATION:
		memory_region_init_io(n->mr, NULL, NULL, NULL, n->name, size);
		break;
	case T_RAM:
	case T_RAM_READONLY:
		lbt_init_fake_ram(n->mr, n->name, size);
		break;
	case T_ROM:
		ok = memory_region_init_rom(n->mr, NULL, n->name, size, &err);
		n->readonly = true;
		break;
	case T_ROM_DEVICE:
		ok = memory_region_init_rom_device(n->mr, NULL, dummy_ops_ptr,
						   NULL, n->name, size, &err);
		break;
	case T_ALIAS:
		n->alias = g_rand_int_range(r, 0, i);
		n->alias_offset = rand_alias_offset(r, t->n[n->alias].size);
		memory_region_init_alias(n->mr, NULL, n->name,
					 t->n[n->alias].mr, n->alias_offset,
					 size);
		break;
	default:
		g_assert_not_reached();
	}
	g_assert_no_error(err);
	g_assert_true(ok);
	lbt_track(n->mr);
	if (type == T_RAM_READONLY) {
		memory_region_set_readonly(n->mr, true);
		n->readonly = true;
	}
}

static enum node_type rand_type(GRand *r)
{
	static const enum node_type weights[] = {
		T_CONTAINER, T_CONTAINER, T_CONTAINER, T_CONTAINER,
		T_IO, T_IO, T_IO, T_RESERVATION, T_RAM, T_RAM, T_RAM_READONLY,
		T_ROM, T_ROM_DEVICE, T_ALIAS, T_ALIAS, T_ALIAS, T_ALIAS,
	};

	return weights[g_rand_int_range(r, 0, G_N_ELEMENTS(weights))];
}

static void tree_build(Tree *t)
{
	GRand *r = t->rand;
	int order[MAX_NODES];
	int i;

	t->nr = g_rand_int_range(r, chance(r, 10) ? 2 : 6, MAX_NODES + 1);
	t->root = t->nr - 1;
	for (i = 0; i < t->nr; i++) {
		enum node_type type = rand_type(r);

		if (i == 0 && type == T_ALIAS)
			type = T_IO;
		if (i == t->root)
			type = chance(r, 85) ? T_CONTAINER :
			       chance(r, 50) ? T_IO : T_ALIAS;
		node_init(t, i, type);
		if (i == t->root && type != T_ALIAS && chance(r, 80)) {
			/* mostly the whole space */
			memory_region_set_size(t->n[i].mr, UINT64_MAX);
			t->n[i].size = BIG;
		}
	}

	/* add children in a random order: it decides equal-priority order */
	for (i = 0; i < t->nr - 1; i++)
		order[i] = i;
	for (i = t->nr - 2; i > 0; i--) {
		int j = g_rand_int_range(r, 0, i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < t->nr - 1; i++) {
		int c = order[i], p;

		if (!chance(r, 92))
			continue;
		p = pick_parent(t, c);
		if (p < 0)
			continue;
		do_add(t, p, c, rand_child_addr(r, t, p, t->n[c].size),
		       rand_prio(r), chance(r, 30));
	}

	for (i = 0; i < t->nr; i++) {
		Node *n = &t->n[i];

		/* the root is disabled by mutations only */
		if (i != t->root && chance(r, 6)) {
			memory_region_set_enabled(n->mr, false);
			n->enabled = false;
		}
		if (chance(r, 8)) {
			memory_region_set_readonly(n->mr, !n->readonly);
			n->readonly = !n->readonly;
		}
		if (chance(r, 5)) {
			memory_region_set_nonvolatile(n->mr, true);
			n->nonvolatile = true;
		}
	}
	/* address_space_init renders the tree as it is */
	t->as = lbt_as_new(t->n[t->root].mr, "random");
	t->pending = true;
	updated(t, true);
}

static void tree_free(Tree *t)
{
	int i;

	lbt_as_free(t->as);
	for (i = 0; i < t->nr; i++)
		memory_region_unref(t->n[i].mr);
}

/* ---- the model ---- */

typedef struct Hit {
	int node;		/* -1: nothing */
	uint64_t offset;
	bool readonly;
	bool nonvolatile;
} Hit;

/* Section 1 for a single address @x: true when node @i's subtree answers. */
static bool model_find(Tree *t, int i, s128 base, s128 lo, s128 hi,
		       bool ro, bool nv, s128 x, Hit *h)
{
	Node *n = &t->shown[i];
	int k;

	if (!n->enabled)
		return false;
	base += n->addr;
	ro |= n->readonly;
	nv |= n->nonvolatile;
	lo = MAX(lo, base);
	hi = MIN(hi, base + n->size);
	if (x < lo || x >= hi)
		return false;
	if (n->alias >= 0)
		return model_find(t, n->alias,
				  base - t->shown[n->alias].addr - n->alias_offset,
				  lo, hi, ro, nv, x, h);
	for (k = 0; k < n->nkids; k++)
		if (model_find(t, n->kids[k], base, lo, hi, ro, nv, x, h))
			return true;
	if (!terminates(n->type))
		return false;
	h->node = i;
	h->offset = (uint64_t)(x - base);
	h->readonly = ro;
	h->nonvolatile = nv;
	return true;
}

/*
 * QEMU renders from a "flat view root", not always the address space's
 * root (memory_region_get_flatview_root): an enabled alias with offset 0
 * covering its whole target is replaced by the target, and a container
 * whose only enabled child sits at 0 and fits is replaced by that child.
 * The replaced regions' flags are lost and an alias target then renders
 * at its own address.  -1: nothing is rendered.
 */
static int model_flat_root(Tree *t)
{
	const Node *m = t->shown;
	int i = t->root;

	while (m[i].enabled) {
		const Node *n = &m[i];
		int k, found = 0, only = -1;

		if (n->alias >= 0) {
			if (n->alias_offset || n->size < m[n->alias].size)
				return i;
			i = n->alias;
			continue;
		}
		if (terminates(n->type))
			return i;
		for (k = 0; k < n->nkids; k++) {
			if (m[n->kids[k]].enabled && found++ == 0)
				only = n->kids[k];
		}
		if (!found)
			return -1;
		if (found > 1 || m[only].addr || m[only].size > n->size)
			return i;
		i = only;
	}
	return -1;
}

static Hit model_at(Tree *t, uint64_t x)
{
	Hit h = { .node = -1 };
	int root = model_flat_root(t);

	if (root >= 0)
		model_find(t, root, 0, 0, BIG, false, false, x, &h);
	return h;
}

static void add_sample(GArray *s, s128 x)
{
	uint64_t v;

	if (x < 0 || x >= BIG)
		return;
	v = (uint64_t)x;
	g_array_append_val(s, v);
}

/* Every clip boundary of every visited node, +-1. */
static void model_bounds(Tree *t, int i, s128 base, s128 lo, s128 hi,
			 GArray *s, int *budget)
{
	Node *n = &t->shown[i];
	int k;

	if (!n->enabled || --*budget < 0)
		return;
	base += n->addr;
	lo = MAX(lo, base);
	hi = MIN(hi, base + n->size);
	if (lo >= hi)
		return;
	add_sample(s, lo - 1);
	add_sample(s, lo);
	add_sample(s, hi - 1);
	add_sample(s, hi);
	if (n->alias >= 0) {
		model_bounds(t, n->alias,
			     base - t->shown[n->alias].addr - n->alias_offset,
			     lo, hi, s, budget);
		return;
	}
	for (k = 0; k < n->nkids; k++)
		model_bounds(t, n->kids[k], base, lo, hi, s, budget);
}

/* ---- comparing ---- */

static char *tree_describe(Tree *t, const Node *m)
{
	GString *s = g_string_new(NULL);
	char b[40];
	int i, k;

	for (i = 0; i < t->nr; i++) {
		const Node *n = &m[i];

		g_string_append_printf(s, "  %s %s size %s addr %" PRIx64
				       " prio %d%s%s%s", n->name,
				       type_names[n->type],
				       lbt_u128_hex(n->size, b), n->addr,
				       n->prio, n->enabled ? "" : " disabled",
				       n->readonly ? " readonly" : "",
				       n->nonvolatile ? " nonvolatile" : "");
		if (n->alias >= 0)
			g_string_append_printf(s, " -> n%d+%" PRIx64, n->alias,
					       n->alias_offset);
		if (n->parent >= 0)
			g_string_append_printf(s, " in n%d", n->parent);
		if (i == t->root)
			g_string_append(s, " ROOT");
		if (n->nkids) {
			g_string_append(s, " kids");
			for (k = 0; k < n->nkids; k++)
				g_string_append_printf(s, " n%d", n->kids[k]);
		}
		g_string_append_c(s, '\n');
	}
	return g_string_free(s, FALSE);
}

static int node_of(Tree *t, const MemoryRegion *mr)
{
	int i;

	for (i = 0; i < t->nr; i++)
		if (t->n[i].mr == mr)
			return i;
	return -2;
}

/* The library's range holding @x, or NULL. */
static const LbtRange *lib_at(GArray *ranges, uint64_t x)
{
	guint lo = 0, hi = ranges->len;

	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		const LbtRange *r = &g_array_index(ranges, LbtRange, mid);

		if (x < r->start)
			hi = mid;
		else if (x >= r->start + r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static unsigned int failures;

static void fail_tree(Tree *t, const char *stage, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static void fail_tree(Tree *t, const char *stage, const char *fmt, ...)
{
	char *msg, *desc, *flat;
	va_list ap;

	if (failures++ >= 5)
		return;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	desc = tree_describe(t, t->shown);
	if (memcmp(t->shown, t->n, sizeof(t->n))) {
		/* changes that marked no update pending are not rendered yet */
		char *now = tree_describe(t, t->n);
		char *both = g_strconcat(desc, "tree now (not rendered yet):\n",
					 now, NULL);

		g_free(desc);
		g_free(now);
		desc = both;
	}
	flat = lbt_flat_string(t->as, t->n[t->root].mr);
	g_test_message("MISMATCH in tree %u (LOOPBACK_TEST_SEED=%" G_GUINT32_FORMAT
		       " LOOPBACK_TEST_TREE=%u), %s: %s\ntree as last rendered:\n%s"
		       "library flat view: %s",
		       t->index, t->seed, t->index, stage, msg, desc, flat);
	g_free(msg);
	g_free(desc);
	g_free(flat);
}

/* Structure of the library's view: ordered, disjoint, non-empty, merged. */
static bool check_ranges(Tree *t, GArray *ranges, const char *stage)
{
	char b1[40], b2[40];
	guint i;

	for (i = 0; i < ranges->len; i++) {
		const LbtRange *r = &g_array_index(ranges, LbtRange, i);
		const LbtRange *p = i ? r - 1 : NULL;

		if (r->len == 0 || r->start + r->len > (lbt_u128)BIG ||
		    node_of(t, r->mr) < 0) {
			fail_tree(t, stage, "bad range %u [%s,+%s)", i,
				  lbt_u128_hex(r->start, b1),
				  lbt_u128_hex(r->len, b2));
			return false;
		}
		if (p && p->start + p->len > r->start) {
			fail_tree(t, stage, "range %u overlaps or is out of order", i);
			return false;
		}
		/* touching, same region, continuous offsets, same flags: merge */
		if (p && p->start + p->len == r->start && p->mr == r->mr &&
		    (lbt_u128)p->offset + p->len == r->offset) {
			Hit a = model_at(t, (uint64_t)(r->start - 1));
			Hit c = model_at(t, (uint64_t)r->start);

			if (a.readonly == c.readonly &&
			    a.nonvolatile == c.nonvolatile) {
				fail_tree(t, stage, "ranges %u and %u should "
					  "have been merged", i - 1, i);
				return false;
			}
		}
	}
	return true;
}

static bool check_sample(Tree *t, GArray *ranges, uint64_t x, const char *stage)
{
	const LbtRange *r = lib_at(ranges, x);
	Hit h = model_at(t, x);
	MemoryRegionSection sec;
	int got = r ? node_of(t, r->mr) : -1;
	uint64_t off = r ? r->offset + (uint64_t)(x - r->start) : 0;
	bool ok = true;

	if (got != h.node || (h.node >= 0 && off != h.offset)) {
		fail_tree(t, stage, "address %" PRIx64 ": model says %s%s@%" PRIx64
			  ", library says %s%s@%" PRIx64, x,
			  h.node >= 0 ? "n" : "nothing", h.node >= 0 ?
			  t->n[h.node].name + 1 : "", h.offset,
			  got >= 0 ? "n" : "nothing", got >= 0 ?
			  t->n[got].name + 1 : "", off);
		return false;
	}
	sec = memory_region_find(t->n[t->root].mr, x, 1);
	if (node_of(t, sec.mr) != h.node &&
	    !(sec.mr == NULL && h.node < 0)) {
		fail_tree(t, stage, "address %" PRIx64 ": memory_region_find "
			  "gives %s, the flat view n%d", x,
			  sec.mr ? memory_region_name(sec.mr) : "NULL", h.node);
		ok = false;
	} else if (sec.mr && (sec.offset_within_region != h.offset ||
			      sec.offset_within_address_space != x ||
			      sec.readonly != h.readonly ||
			      sec.nonvolatile != h.nonvolatile)) {
		fail_tree(t, stage, "address %" PRIx64 ": memory_region_find "
			  "offset %" PRIx64 " readonly %d nonvolatile %d, "
			  "model offset %" PRIx64 " readonly %d nonvolatile %d",
			  x, sec.offset_within_region, sec.readonly,
			  sec.nonvolatile, h.offset, h.readonly, h.nonvolatile);
		ok = false;
	}
	if (sec.mr)
		memory_region_unref(sec.mr);
	return ok;
}

static unsigned long samples_checked;

static void tree_check(Tree *t, const char *stage)
{
	GArray *ranges = lbt_flat_ranges(t->as);
	GArray *s = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	int budget = 4096;
	guint i;

	if (!check_ranges(t, ranges, stage))
		goto out;
	add_sample(s, 0);
	add_sample(s, BIG - 1);
	for (i = 0; i < ranges->len; i++) {
		const LbtRange *r = &g_array_index(ranges, LbtRange, i);

		add_sample(s, (s128)r->start - 1);
		add_sample(s, r->start);
		add_sample(s, (s128)(r->start + r->len) - 1);
		add_sample(s, r->start + r->len);
		add_sample(s, r->start + g_rand_int_range(t->rand, 0, 0x1000) %
			      r->len);
	}
	if (model_flat_root(t) >= 0)
		model_bounds(t, model_flat_root(t), 0, 0, BIG, s, &budget);
	for (i = 0; i < 24; i++) {
		add_sample(s, rand64(t->rand));
		add_sample(s, g_rand_int_range(t->rand, 0, 0x30000));
		add_sample(s, -(s128)g_rand_int_range(t->rand, 1, 0x20000) + BIG);
	}
	for (i = 0; i < s->len; i++) {
		samples_checked++;
		if (!check_sample(t, ranges, g_array_index(s, uint64_t, i),
				  stage))
			break;
	}
out:
	g_array_free(s, TRUE);
	g_array_free(ranges, TRUE);
}

/* ---- mutations ---- */

static void mutate_once(Tree *t)
{
	GRand *r = t->rand;
	int i = g_rand_int_range(r, 0, t->nr);
	Node *n = &t->n[i];
	int p;

	switch (g_rand_int_range(r, 0, 8)) {
	case 0:
		n->enabled = !n->enabled;
		memory_region_set_enabled(n->mr, n->enabled);
		updated(t, true);
		break;
	case 1: {
		hwaddr a = n->parent >= 0 ?
			   rand_child_addr(r, t, n->parent, n->size) :
			   rand_addr(r, t, n->size);

		if (i == t->root || a == n->addr)
			break;
		/* a real move re-adds: in front of its equal-priority siblings */
		memory_region_set_address(n->mr, a);
		if (n->parent >= 0) {
			p = n->parent;
			model_remove(t, i);
			n->addr = a;
			model_insert(t, p, i);
			updated(t, t->n[p].enabled && n->enabled);
		} else {
			/* no container: nothing is re-rendered */
			n->addr = a;
		}
		break;
	}
	case 2: {
		uint64_t size = rand_size(r, false);

		memory_region_set_size(n->mr, size);
		if (api_size(size) != n->size) {
			n->size = api_size(size);
			updated(t, true);
		}
		break;
	}
	case 3: {
		hwaddr off;

		if (n->alias < 0)
			break;
		off = rand_alias_offset(r, t->n[n->alias].size);
		memory_region_set_alias_offset(n->mr, off);
		if (off != n->alias_offset) {
			n->alias_offset = off;
			updated(t, n->enabled);
		}
		break;
	}
	case 4:
		n->readonly = !n->readonly;
		memory_region_set_readonly(n->mr, n->readonly);
		updated(t, n->enabled);
		break;
	case 5:
		n->nonvolatile = !n->nonvolatile;
		memory_region_set_nonvolatile(n->mr, n->nonvolatile);
		updated(t, n->enabled);
		break;
	case 6:
		if (n->parent < 0)
			break;
		p = n->parent;
		memory_region_del_subregion(t->n[p].mr, n->mr);
		model_remove(t, i);
		updated(t, t->n[p].enabled && n->enabled);
		break;
	default:
		if (n->parent >= 0 || i == t->root)
			break;
		p = pick_parent(t, i);
		if (p >= 0)
			do_add(t, p, i, rand_child_addr(r, t, p, n->size),
			       rand_prio(r), chance(r, 30));
		break;
	}
}

static void tree_mutate(Tree *t)
{
	int k, count = g_rand_int_range(t->rand, 1, 5);
	bool txn = chance(t->rand, 40);

	if (txn) {
		memory_region_transaction_begin();
		t->in_txn = true;
	}
	for (k = 0; k < count; k++)
		mutate_once(t);
	if (txn) {
		memory_region_transaction_commit();
		t->in_txn = false;
		updated(t, false);
	}
}

/* ---- the test ---- */

static guint32 env_u32(const char *name, guint32 dflt, bool *set)
{
	const char *v = g_getenv(name);

	if (set)
		*set = v && *v;
	return v && *v ? (guint32)strtoul(v, NULL, 0) : dflt;
}

static void test_random_trees(void)
{
	bool seed_set, one_set;
	guint32 seed = env_u32("LOOPBACK_TEST_SEED", 0, &seed_set);
	guint32 trees = env_u32("LOOPBACK_TEST_TREES", 10000, NULL);
	guint32 only = env_u32("LOOPBACK_TEST_TREE", 0, &one_set);
	unsigned int live = lbt_live(), done = 0, round;
	guint32 k;

	if (!seed_set)
		seed = g_test_rand_int();
	g_test_message("seed %" G_GUINT32_FORMAT " (replay: LOOPBACK_TEST_SEED=%"
		       G_GUINT32_FORMAT "), %" G_GUINT32_FORMAT " trees",
		       seed, seed, trees);
	failures = 0;
	for (k = 0; k < trees && failures == 0; k++) {
		Tree t;

		if (one_set && k != only)
			continue;
		memset(&t, 0, sizeof(t));
		t.index = k;
		t.seed = seed;
		/* one stream per tree, so that a single tree replays alone */
		t.rand = g_rand_new_with_seed(seed ^ (k * 0x9e3779b9u));
		tree_build(&t);
		tree_check(&t, "after build");
		for (round = 0; round < 4 && failures == 0; round++) {
			char stage[32];

			tree_mutate(&t);
			g_snprintf(stage, sizeof(stage), "after mutation %u",
				   round + 1);
			tree_check(&t, stage);
		}
		if (k % 16 == 0) {
			/* printing must cope with any tree */
			char *tree = lbt_mtree_string(false, true);
			char *flat = lbt_mtree_string(true, false);

			g_assert_nonnull(strstr(flat, "random"));
			g_assert_cmpuint(strlen(tree), >, 0);
			free(tree);
			free(flat);
		}
		tree_free(&t);
		g_rand_free(t.rand);
		done++;
		if (k % 256 == 255)
			lbt_drain();
	}
	lbt_drain();
	g_test_message("%u trees, %lu samples, %u mismatches", done,
		       samples_checked, failures);
	g_assert_cmpuint(done, >, 0);
	g_assert_cmpuint(samples_checked, >, 0);
	g_assert_cmpuint(failures, ==, 0);
	/* every region of every tree was finalised */
	g_assert_cmpuint(lbt_live(), ==, live);
}

/* The model against the worked example of the page, so a broken model
 * cannot pass silently. */
static void test_model_self_check(void)
{
	Tree t;
	Hit h;

	memset(&t, 0, sizeof(t));
	t.nr = 5;
	t.root = 4;
	/* A container 0x8000; C io @0 prio 1; B container @0x2000 prio 2
	 * holding D @0 and E @0x2000 */
	t.n[0] = (Node){ .type = T_IO, .size = 0x1000, .enabled = true,
			 .alias = -1, .parent = 1 };
	t.n[3] = (Node){ .type = T_IO, .size = 0x1000, .addr = 0x2000,
			 .enabled = true, .alias = -1, .parent = 1 };
	t.n[1] = (Node){ .type = T_CONTAINER, .size = 0x4000, .addr = 0x2000,
			 .prio = 2, .enabled = true, .alias = -1, .parent = 4,
			 .kids = { 3, 0 }, .nkids = 2 };
	t.n[2] = (Node){ .type = T_IO, .size = 0x6000, .prio = 1,
			 .enabled = true, .alias = -1, .parent = 4 };
	t.n[4] = (Node){ .type = T_CONTAINER, .size = 0x8000, .enabled = true,
			 .alias = -1, .parent = -1, .kids = { 1, 2 },
			 .nkids = 2 };
	memcpy(t.shown, t.n, sizeof(t.shown));
	h = model_at(&t, 0x3800);
	g_assert_cmpint(h.node, ==, 2);
	g_assert_cmphex(h.offset, ==, 0x3800);
	h = model_at(&t, 0x4800);
	g_assert_cmpint(h.node, ==, 3);
	g_assert_cmphex(h.offset, ==, 0x800);
	h = model_at(&t, 0x6000);
	g_assert_cmpint(h.node, ==, -1);
	/* B an io region: it fills its own gaps */
	t.shown[1].type = T_IO;
	h = model_at(&t, 0x3800);
	g_assert_cmpint(h.node, ==, 1);
	g_assert_cmphex(h.offset, ==, 0x1800);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	lbt_ops_init(&dummy_ops, false, DEVICE_LITTLE_ENDIAN);
	g_test_add_func("/random-render/model-self-check", test_model_self_check);
	g_test_add_func("/random-render/trees", test_random_trees);
	return g_test_run();
}
