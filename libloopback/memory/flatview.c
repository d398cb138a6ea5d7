// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Rendering a region tree into a flat view, and looking addresses up in it.
 *
 * QEMU renders depth-first and lets each terminating region fill the gaps
 * that earlier ones left, which costs O(n^2) for n siblings.  The result is
 * the same as giving every address to the first piece, in depth-first
 * order, that covers it; so this file collects the pieces in that order and
 * sweeps their end points with a min-heap keyed by order: O(n log n).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* One terminating region's visible part, before others hide bits of it. */
typedef struct Piece {
	Int128 start, end;	/* clipped, absolute, [start, end) */
	Int128 base;		/* absolute address of the region's offset 0 */
	/*
	 * What its ranges will carry, filled while the region is in cache:
	 * on a large map, touching every region again later costs a miss.
	 */
	FlatRange tmpl;
} Piece;

/*
 * A sweep event packed in one integer, so that sorting is a radix sort:
 * the address (up to 2^64, 65 bits) above bit 33, "a piece starts here" in
 * bit 32, the piece number below.
 */
#define LB_EV_ADDR_SHIFT 33
#define LB_EV_START ((u128)1 << 32)

static inline u128 lb_event(Int128 addr, uint32_t piece, bool start)
{
	return ((u128)addr << LB_EV_ADDR_SHIFT) | (start ? LB_EV_START : 0) |
	       piece;
}

static inline Int128 lb_event_addr(u128 ev)
{
	return (Int128)(ev >> LB_EV_ADDR_SHIFT);
}

static void lb_range_template(FlatRange *fr, MemoryRegion *mr, bool readonly,
			      bool nonvolatile, bool unmergeable)
{
	*fr = (FlatRange) {
		.mr = mr,
		.host = mr->ram_block ? mr->ram_block->host : NULL,
		/* with the global MIGRATION bit: log_start sees it come */
		.dirty_log_mask = lb_region_dirty_log_mask(mr),
		.romd_mode = mr->romd_mode,
		.readonly = readonly,
		.nonvolatile = nonvolatile,
		.unmergeable = unmergeable,
		.ram = mr->ram,
		/* writes not through a readonly alias either */
		.direct_read = lb_region_is_direct(mr, false),
		.direct_write = lb_region_is_direct(mr, true) && !readonly,
		.iommu = mr->is_iommu,
	};
}

/* Deep alias chains are legal, but a bound keeps a bad tree from the stack. */
#define LB_RENDER_MAX_DEPTH 4096

static void lb_collect(GArray *pieces, MemoryRegion *mr, Int128 base,
		       Int128 clip_start, Int128 clip_end, bool readonly,
		       bool nonvolatile, bool unmergeable, unsigned int depth)
{
	Int128 start, end;

	if (!mr->enabled)
		return;
	if (depth > LB_RENDER_MAX_DEPTH) {
		g_critical("rendering %s: tree deeper than %d levels, cut",
			   mr->name, LB_RENDER_MAX_DEPTH);
		return;
	}
	base += mr->addr;
	start = MAX(clip_start, base);
	end = MIN(clip_end, base + mr->size);
	if (start >= end)
		return;
	readonly |= mr->readonly;
	nonvolatile |= mr->nonvolatile;
	unmergeable |= mr->unmergeable;

	if (mr->alias) {
		/* The target's own address cancels out when it adds it back. */
		lb_collect(pieces, mr->alias,
			   base - (Int128)mr->alias->addr - mr->alias_offset,
			   start, end, readonly, nonvolatile, unmergeable,
			   depth + 1);
		return;
	}
	for (MemoryRegion *c = mr->subregions_first; c; c = c->sibling_next)
		lb_collect(pieces, c, base, start, end, readonly, nonvolatile,
			   unmergeable, depth + 1);
	if (mr->terminates) {
		Piece p = { .start = start, .end = end, .base = base };

		lb_range_template(&p.tmpl, mr, readonly, nonvolatile,
				  unmergeable);
		/* the view's reference, taken now while mr is hot */
		memory_region_ref(mr);
		g_array_append_val(pieces, p);
	}
}

#define LB_RADIX_BITS 11
#define LB_RADIX_PASSES 6	/* 66 bits >= the 65 of an address */

/*
 * LSD radix sort of events by address: linear, where a comparison sort of
 * 2n events was half of a 100,000-region commit.  Passes whose digit is
 * the same for every event (the high bits, usually) are skipped.
 */
static void lb_sort_events(u128 *ev, size_t n)
{
	size_t (*count)[1u << LB_RADIX_BITS];
	u128 *tmp, *src = ev, *dst;

	if (n < 2)
		return;
	count = g_malloc0(sizeof(*count) * LB_RADIX_PASSES);
	tmp = g_new(u128, n);
	dst = tmp;
	for (size_t i = 0; i < n; i++)
		for (unsigned int p = 0; p < LB_RADIX_PASSES; p++)
			count[p][(ev[i] >> (LB_EV_ADDR_SHIFT + p * LB_RADIX_BITS)) &
				 ((1u << LB_RADIX_BITS) - 1)]++;
	for (unsigned int p = 0; p < LB_RADIX_PASSES; p++) {
		unsigned int shift = LB_EV_ADDR_SHIFT + p * LB_RADIX_BITS;
		size_t sum = 0;

		if (count[p][(src[0] >> shift) & ((1u << LB_RADIX_BITS) - 1)] == n)
			continue;
		for (unsigned int d = 0; d < (1u << LB_RADIX_BITS); d++) {
			size_t c = count[p][d];

			count[p][d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[p][(src[i] >> shift) &
				     ((1u << LB_RADIX_BITS) - 1)]++] = src[i];
		u128 *t = src;

		src = dst;
		dst = t;
	}
	if (src != ev)
		memcpy(ev, src, n * sizeof(*ev));
	g_free(tmp);
	g_free(count);
}

/* Min-heap of piece numbers: the lowest number is the one that shows. */
typedef struct Heap {
	uint32_t *v;
	size_t n;
} Heap;

static void lb_heap_push(Heap *h, uint32_t x)
{
	size_t i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2] > x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static void lb_heap_pop(Heap *h)
{
	uint32_t x = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1] < h->v[c])
			c++;
		if (h->v[c] >= x)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = x;
}

/* A range while the view is built: sizes may reach 2^64. */
typedef struct Seg {
	u128 start;
	u128 size;
	const Piece *piece;
} Seg;

static void lb_emit(GArray *out, const Piece *p, Int128 from, Int128 to)
{
	Seg *prev = out->len ? &g_array_index(out, Seg, out->len - 1) : NULL;
	Seg seg = { .start = (u128)from, .size = (u128)(to - from), .piece = p };

	/* The same piece split only by events of hidden pieces stays one. */
	if (prev && prev->piece == p && prev->start + prev->size == seg.start) {
		prev->size += seg.size;
		return;
	}
	g_array_append_val(out, seg);
}

static GArray *lb_sweep(GArray *pieces)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(Seg));
	size_t n = pieces->len, nev = 2 * n;
	u128 *ev = g_new(u128, nev ? nev : 1);
	bool *gone = g_new0(bool, n ? n : 1);
	Heap heap = { .v = g_new(uint32_t, n ? n : 1), .n = 0 };
	Int128 pos = 0;

	for (size_t i = 0; i < n; i++) {
		const Piece *p = &g_array_index(pieces, Piece, i);

		ev[2 * i] = lb_event(p->start, i, true);
		ev[2 * i + 1] = lb_event(p->end, i, false);
	}
	lb_sort_events(ev, nev);

	for (size_t e = 0; e < nev;) {
		Int128 at = lb_event_addr(ev[e]);

		if (heap.n && pos < at)
			lb_emit(out, &g_array_index(pieces, Piece, heap.v[0]),
				pos, at);
		for (; e < nev && lb_event_addr(ev[e]) == at; e++) {
			uint32_t piece = (uint32_t)ev[e];

			if (ev[e] & LB_EV_START)
				lb_heap_push(&heap, piece);
			else
				gone[piece] = true;
		}
		while (heap.n && gone[heap.v[0]])
			lb_heap_pop(&heap);
		pos = at;
	}
	g_free(heap.v);
	g_free(gone);
	g_free(ev);
	return out;
}

static void lb_range_init(FlatRange *fr, const Seg *seg)
{
	const Piece *p = seg->piece;

	*fr = p->tmpl;
	fr->start = (uint64_t)seg->start;
	fr->last = (uint64_t)(seg->start + seg->size - 1);
	fr->offset_in_region = (hwaddr)((Int128)seg->start - p->base);
}

static bool lb_can_merge(const FlatRange *a, const FlatRange *b)
{
	return a->last + 1 == b->start &&
	       a->mr == b->mr &&
	       (u128)a->offset_in_region + lb_range_size(a) == b->offset_in_region &&
	       a->dirty_log_mask == b->dirty_log_mask &&
	       a->romd_mode == b->romd_mode &&
	       a->readonly == b->readonly &&
	       a->nonvolatile == b->nonvolatile &&
	       !a->unmergeable && !b->unmergeable;
}

/* Fills fv->ranges from the segments, merging what QEMU would merge. */
static void lb_simplify(FlatView *fv, GArray *segs)
{
	uint32_t out = 0;

	fv->ranges = g_new(FlatRange, segs->len ? segs->len : 1);
	for (guint i = 0; i < segs->len; i++) {
		FlatRange fr;

		lb_range_init(&fr, &g_array_index(segs, Seg, i));
		if (out && lb_can_merge(&fv->ranges[out - 1], &fr))
			fv->ranges[out - 1].last = fr.last;
		else
			fv->ranges[out++] = fr;
	}
	fv->nr = out;
}

#define LB_MIN_BUCKETS 256u
#define LB_MAX_BUCKETS (1u << 20)

static void lb_build_index(FlatView *fv)
{
	uint64_t span;
	unsigned int shift = 0;
	uint32_t i = 0;

	/*
	 * Enough buckets that a random address rarely lands in one that
	 * straddles a range boundary: that is what costs a mispredicted
	 * branch.  Small views get at least one KiB of table, it fits L1.
	 */
	fv->nbuckets = fv->nr ? LB_MIN_BUCKETS : 1;
	while (fv->nbuckets < 4ull * fv->nr && fv->nbuckets < LB_MAX_BUCKETS)
		fv->nbuckets <<= 1;
	fv->index_base = fv->nr ? fv->ranges[0].start : 0;
	span = fv->nr ? fv->ranges[fv->nr - 1].last - fv->index_base : 0;
	while ((span >> shift) >= fv->nbuckets)
		shift++;
	fv->index_shift = shift;
	fv->bucket = g_new(uint32_t, fv->nbuckets + 1);
	for (uint64_t b = 0; b <= fv->nbuckets; b++) {
		u128 at = (u128)fv->index_base + ((u128)b << shift);

		while (i < fv->nr && fv->ranges[i].last < at)
			i++;
		fv->bucket[b] = i;
	}
}

FlatView *lb_flatview_render(MemoryRegion *root)
{
	FlatView *fv = g_new0(FlatView, 1);
	GArray *pieces = g_array_new(FALSE, FALSE, sizeof(Piece));
	GArray *segs;

	fv->refcount = 1;
	if (root) {
		memory_region_ref(root);
		fv->root = root;
		lb_collect(pieces, root, 0, 0, int128_2_64(), false, false,
			   false, 0);
	}
	segs = lb_sweep(pieces);
	lb_simplify(fv, segs);
	g_array_free(segs, TRUE);
	fv->nrefs = pieces->len;
	fv->refs = g_new(MemoryRegion *, fv->nrefs ? fv->nrefs : 1);
	for (uint32_t k = 0; k < fv->nrefs; k++)
		fv->refs[k] = g_array_index(pieces, Piece, k).tmpl.mr;
	g_array_free(pieces, TRUE);
	fv->ranges = g_renew(FlatRange, fv->ranges, fv->nr ? fv->nr : 1);
	lb_build_index(fv);
	return fv;
}

void lb_flatview_ref(FlatView *fv)
{
	g_assert(lb_memory_locked());
	fv->refcount++;
}

static void lb_flatview_free(void *data)
{
	FlatView *fv = data;

	for (uint32_t k = 0; k < fv->nrefs; k++)
		memory_region_unref(fv->refs[k]);
	g_free(fv->refs);
	if (fv->root)
		memory_region_unref(fv->root);
	g_free(fv->ranges);
	g_free(fv->bucket);
	g_free(fv);
}

void lb_flatview_unref(FlatView *fv)
{
	g_assert(lb_memory_locked());
	if (--fv->refcount == 0)
		lb_call_rcu(lb_flatview_free, fv);
}

/*
 * The region a view is rendered from: full-size aliases at offset 0 and
 * containers whose only enabled child covers them from 0 are skipped, so
 * that address spaces reaching the same region share one view.
 */
MemoryRegion *lb_flatview_root(MemoryRegion *mr)
{
	while (mr && mr->enabled) {
		if (mr->alias) {
			if (mr->alias_offset || mr->size < mr->alias->size)
				return mr;
			mr = mr->alias;
			continue;
		}
		if (mr->terminates)
			return mr;

		MemoryRegion *only = NULL;
		unsigned int enabled = 0;

		/* a second enabled child settles it: no need to count on */
		for (MemoryRegion *c = mr->subregions_first; c && enabled < 2;
		     c = c->sibling_next) {
			if (c->enabled && ++enabled == 1)
				only = c;
		}
		if (enabled == 0)
			return NULL;
		if (enabled > 1 || only->addr || only->size > mr->size)
			return mr;
		mr = only;
	}
	return NULL;
}

LOOPBACK_API void flatview_for_each_range(FlatView *fv, flatview_cb cb,
					  void *opaque)
{
	if (!fv || !cb)
		return;
	for (uint32_t k = 0; k < fv->nr; k++) {
		const FlatRange *fr = &fv->ranges[k];

		if (cb((Int128)fr->start, (Int128)lb_range_size(fr), fr->mr,
		       fr->offset_in_region, opaque))
			break;
	}
}
