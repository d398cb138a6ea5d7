// SPDX-License-Identifier: LGPL-2.1-or-later
/* `info mtree` text, exactly as QEMU 7.2 prints it. */

#include "internal.h"

#include <string.h>

#define INDENT "  "

static uint64_t lb_last(Int128 start, Int128 size)
{
	/* A size-0 region prints its start twice, like a 1-byte one. */
	return (uint64_t)(size ? start + size - 1 : start);
}

static int lb_print_order(const void *a, const void *b)
{
	const MemoryRegion *x = *(MemoryRegion *const *)a;
	const MemoryRegion *y = *(MemoryRegion *const *)b;

	/* by address, then higher priority first; equals keep list order */
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return 0;
}

static int lb_name_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Alias targets met while printing, each once, in order of meeting. */
typedef struct AliasQueue {
	GPtrArray *list;
	GHashTable *seen;
} AliasQueue;

static void lb_print_mr(FILE *out, const MemoryRegion *mr, unsigned int level,
			uint64_t base, AliasQueue *q, bool disabled)
{
	uint64_t start = base + mr->addr;
	uint64_t last = (uint64_t)lb_last(start, mr->size);
	GPtrArray *children;

	if (start < base || last < start)
		fputs("[DETECTED OVERFLOW!] ", out);
	if (mr->alias && g_hash_table_add(q->seen, mr->alias))
		g_ptr_array_add(q->list, mr->alias);
	/* A hidden disabled region still lets its children print. */
	if (mr->enabled || disabled) {
		for (unsigned int i = 0; i < level; i++)
			fputs(INDENT, out);
		fprintf(out, "%016" PRIx64 "-%016" PRIx64 " (prio %d, %s%s): ",
			start, last, mr->priority, mr->nonvolatile ? "nv-" : "",
			lb_region_type(mr));
		if (mr->alias)
			fprintf(out, "alias %s @%s %016" PRIx64 "-%016" PRIx64,
				mr->name, mr->alias->name, mr->alias_offset,
				mr->alias_offset +
				(uint64_t)lb_last(0, mr->size));
		else
			fputs(mr->name, out);
		fprintf(out, "%s\n", mr->enabled ? "" : " [disabled]");
	}

	children = g_ptr_array_new();
	for (MemoryRegion *c = mr->subregions_first; c; c = c->sibling_next)
		g_ptr_array_add(children, c);
	/* GLib's sort is stable: equal keys keep list order */
	g_ptr_array_sort(children, lb_print_order);
	for (guint i = 0; i < children->len; i++)
		lb_print_mr(out, children->pdata[i], level + 1, start, q,
			    disabled);
	g_ptr_array_free(children, TRUE);
}

static void lb_print_trees(FILE *out, bool disabled)
{
	AliasQueue q = {
		.list = g_ptr_array_new(),
		.seen = g_hash_table_new(NULL, NULL),
	};
	GPtrArray *roots = g_ptr_array_new();

	for (AddressSpace *as = lb_address_spaces(); as; as = as->next)
		if (!g_ptr_array_find(roots, as->root, NULL))
			g_ptr_array_add(roots, as->root);
	for (guint r = 0; r < roots->len; r++) {
		MemoryRegion *root = roots->pdata[r];
		GPtrArray *names = g_ptr_array_new();

		for (AddressSpace *as = lb_address_spaces(); as; as = as->next)
			if (as->root == root)
				g_ptr_array_add(names, as->name);
		g_ptr_array_sort(names, lb_name_order);
		for (guint i = 0; i < names->len; i++)
			fprintf(out, "address-space: %s\n",
				(char *)names->pdata[i]);
		g_ptr_array_free(names, TRUE);
		lb_print_mr(out, root, 1, 0, &q, disabled);
		fputc('\n', out);
	}
	/* The queue grows while it is printed: targets inside targets. */
	for (guint i = 0; i < q.list->len; i++) {
		const MemoryRegion *mr = q.list->pdata[i];

		fprintf(out, "memory-region: %s\n", mr->name);
		lb_print_mr(out, mr, 1, 0, &q, disabled);
		fputc('\n', out);
	}
	g_ptr_array_free(roots, TRUE);
	g_ptr_array_free(q.list, TRUE);
	g_hash_table_destroy(q.seen);
}

static void lb_print_flatviews(FILE *out)
{
	GPtrArray *views = g_ptr_array_new();

	for (AddressSpace *as = lb_address_spaces(); as; as = as->next)
		if (!g_ptr_array_find(views, as->current_map, NULL))
			g_ptr_array_add(views, as->current_map);
	for (guint v = 0; v < views->len; v++) {
		FlatView *fv = views->pdata[v];

		fprintf(out, "FlatView #%u\n", v);
		for (AddressSpace *as = lb_address_spaces(); as; as = as->next) {
			if (as->current_map != fv)
				continue;
			fprintf(out, " AS \"%s\", root: %s", as->name,
				as->root->name);
			if (as->root->alias)
				fprintf(out, ", alias %s", as->root->alias->name);
			fputc('\n', out);
		}
		fprintf(out, " Root memory region: %s\n",
			fv->root ? fv->root->name : "(none)");
		if (!fv->nr) {
			fputs(INDENT "No rendered FlatView\n\n", out);
			continue;
		}
		for (uint32_t k = 0; k < fv->nr; k++) {
			const FlatRange *fr = &fv->ranges[k];

			fprintf(out, INDENT "%016" PRIx64 "-%016" PRIx64
				" (prio %d, %s%s): %s",
				fr->start, fr->last,
				fr->mr->priority, fr->nonvolatile ? "nv-" : "",
				fr->readonly ? "rom" : lb_region_type(fr->mr),
				fr->mr->name);
			if (fr->offset_in_region)
				fprintf(out, " @%016" PRIx64,
					fr->offset_in_region);
			fputc('\n', out);
		}
		fputc('\n', out);
	}
	g_ptr_array_free(views, TRUE);
}

LOOPBACK_API void loopback_mtree_print(FILE *out, bool flatview,
				       bool disabled)
{
	lb_memory_lock();
	if (flatview)
		lb_print_flatviews(out);
	else
		lb_print_trees(out, disabled);
	lb_memory_unlock();
}

LOOPBACK_API void mtree_info(bool flatview, bool dispatch_tree, bool owner,
			     bool disabled)
{
	loopback_mtree_print(stdout, flatview, disabled);
}
