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
	MemoryRegion *mr;
	bool readonly, nonvolatile, unmergeable;
} Piece;

typedef struct Event {
	Int128 addr;
	uint32_t piece;
	bool start;
} Event;

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
		Piece p = {
			.start = start, .end = end, .base = base, .mr = mr,
			.readonly = readonly, .nonvolatile = nonvolatile,
			.unmergeable = unmergeable,
		};
		g_array_append_val(pieces, p);
	}
}

static int lb_event_cmp(const void *a, const void *b)
{
	const Event *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
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

static void lb_emit(GArray *out, const Piece *p, uint32_t idx,
		    uint32_t *last_idx, Int128 from, Int128 to)
{
	FlatRange *prev = out->len ?
		&g_array_index(out, FlatRange, out->len - 1) : NULL;
	FlatRange fr;

	/* The same piece split only by events of hidden pieces stays one. */
	if (prev && *last_idx == idx && (Int128)(prev->start + prev->size) == from) {
		prev->size += (u128)(to - from);
		return;
	}
	fr = (FlatRange) {
		.mr = p->mr,
		.offset_in_region = (hwaddr)(from - p->base),
		.start = (u128)from,
		.size = (u128)(to - from),
		.dirty_log_mask = p->mr->dirty_log_mask,
		.romd_mode = p->mr->romd_mode,
		.readonly = p->readonly,
		.nonvolatile = p->nonvolatile,
		.unmergeable = p->unmergeable,
	};
	g_array_append_val(out, fr);
	*last_idx = idx;
}

static GArray *lb_sweep(GArray *pieces)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(FlatRange));
	size_t n = pieces->len, nev = 2 * n;
	Event *ev = g_new(Event, nev ? nev : 1);
	bool *gone = g_new0(bool, n ? n : 1);
	Heap heap = { .v = g_new(uint32_t, n ? n : 1), .n = 0 };
	uint32_t last_idx = UINT32_MAX;
	Int128 pos = 0;

	for (size_t i = 0; i < n; i++) {
		const Piece *p = &g_array_index(pieces, Piece, i);

		ev[2 * i] = (Event){ .addr = p->start, .piece = i, .start = true };
		ev[2 * i + 1] = (Event){ .addr = p->end, .piece = i };
	}
	qsort(ev, nev, sizeof(*ev), lb_event_cmp);

	for (size_t e = 0; e < nev;) {
		Int128 at = ev[e].addr;

		if (heap.n && pos < at)
			lb_emit(out, &g_array_index(pieces, Piece, heap.v[0]),
				heap.v[0], &last_idx, pos, at);
		for (; e < nev && ev[e].addr == at; e++) {
			if (ev[e].start)
				lb_heap_push(&heap, ev[e].piece);
			else
				gone[ev[e].piece] = true;
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

static bool lb_can_merge(const FlatRange *a, const FlatRange *b)
{
	return a->start + a->size == b->start &&
	       a->mr == b->mr &&
	       (u128)a->offset_in_region + a->size == b->offset_in_region &&
	       a->dirty_log_mask == b->dirty_log_mask &&
	       a->romd_mode == b->romd_mode &&
	       a->readonly == b->readonly &&
	       a->nonvolatile == b->nonvolatile &&
	       !a->unmergeable && !b->unmergeable;
}

static void lb_simplify(GArray *ranges)
{
	FlatRange *r = (FlatRange *)ranges->data;
	guint out = 0;

	for (guint i = 0; i < ranges->len; i++) {
		if (out && lb_can_merge(&r[out - 1], &r[i]))
			r[out - 1].size += r[i].size;
		else
			r[out++] = r[i];
	}
	g_array_set_size(ranges, out);
}

#define LB_MAX_BUCKETS (1u << 20)

static void lb_build_index(FlatView *fv)
{
	uint64_t span;
	unsigned int shift = 0;
	uint32_t i = 0;

	fv->last = g_new(uint64_t, fv->nr ? fv->nr : 1);
	for (uint32_t k = 0; k < fv->nr; k++)
		fv->last[k] = (uint64_t)(fv->ranges[k].start +
					 fv->ranges[k].size - 1);
	fv->nbuckets = 1;
	while (fv->nbuckets < 2ull * fv->nr && fv->nbuckets < LB_MAX_BUCKETS)
		fv->nbuckets <<= 1;
	fv->index_base = fv->nr ? (uint64_t)fv->ranges[0].start : 0;
	span = fv->nr ? fv->last[fv->nr - 1] - fv->index_base : 0;
	while ((span >> shift) >= fv->nbuckets)
		shift++;
	fv->index_shift = shift;
	fv->bucket = g_new(uint32_t, fv->nbuckets + 1);
	for (uint64_t b = 0; b <= fv->nbuckets; b++) {
		u128 at = (u128)fv->index_base + ((u128)b << shift);

		while (i < fv->nr && (u128)fv->last[i] < at)
			i++;
		fv->bucket[b] = i;
	}
}

FlatView *lb_flatview_render(MemoryRegion *root)
{
	FlatView *fv = g_new0(FlatView, 1);
	GArray *pieces = g_array_new(FALSE, FALSE, sizeof(Piece));
	GArray *ranges;

	fv->refcount = 1;
	if (root) {
		memory_region_ref(root);
		fv->root = root;
		lb_collect(pieces, root, 0, 0, int128_2_64(), false, false,
			   false, 0);
	}
	ranges = lb_sweep(pieces);
	g_array_free(pieces, TRUE);
	lb_simplify(ranges);
	fv->nr = ranges->len;
	fv->ranges = (FlatRange *)g_array_free(ranges, FALSE);
	for (uint32_t k = 0; k < fv->nr; k++)
		memory_region_ref(fv->ranges[k].mr);
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

	for (uint32_t k = 0; k < fv->nr; k++)
		memory_region_unref(fv->ranges[k].mr);
	if (fv->root)
		memory_region_unref(fv->root);
	g_free(fv->ranges);
	g_free(fv->last);
	g_free(fv->bucket);
	g_free(fv);
}

void lb_flatview_unref(FlatView *fv)
{
	g_assert(lb_memory_locked());
	if (--fv->refcount == 0)
		lb_call_rcu(lb_flatview_free, fv);
}

unsigned int lb_flatview_lower_bound(const FlatView *fv, hwaddr addr)
{
	uint32_t lo, hi;

	if (addr < fv->index_base) {
		lo = 0;
		hi = fv->bucket[0];
	} else {
		uint64_t b = (addr - fv->index_base) >> fv->index_shift;

		if (b >= fv->nbuckets) {
			lo = fv->bucket[fv->nbuckets];
			hi = fv->nr;
		} else {
			lo = fv->bucket[b];
			hi = fv->bucket[b + 1];
		}
	}
	/* The answer is in [lo, hi]; with a good bucket table lo == hi. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (fv->last[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const FlatRange *lb_flatview_lookup(const FlatView *fv, hwaddr addr)
{
	unsigned int i;

	if (G_UNLIKELY(!fv || !fv->nr))
		return NULL;
	i = lb_flatview_lower_bound(fv, addr);
	if (i < fv->nr && fv->ranges[i].start <= addr)
		return &fv->ranges[i];
	return NULL;
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

		for (MemoryRegion *c = mr->subregions_first; c;
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

		if (cb((Int128)fr->start, (Int128)fr->size, fr->mr,
		       fr->offset_in_region, opaque))
			break;
	}
}
