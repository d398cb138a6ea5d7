// SPDX-License-Identifier: LGPL-2.1-or-later
/* memory_region_find and memory_region_present. */
#include "internal.h"

LOOPBACK_API MemoryRegionSection memory_region_find(MemoryRegion *mr,
						    hwaddr addr,
						    uint64_t size)
{
	MemoryRegionSection ret = { .mr = NULL };
	MemoryRegion *root;
	AddressSpace *as;
	FlatView *fv;
	Int128 start, end;
	unsigned int i;

	if (!lb_region_check(mr, __func__))
		return ret;
	/* The tree and the address-space list are the writers' data. */
	lb_memory_lock();
	addr += mr->addr;
	for (root = mr; root->container; root = root->container)
		addr += root->container->addr;
	for (as = lb_address_spaces(); as && as->root != root; as = as->next)
		;
	if (!as)
		goto out;
	fv = as->current_map;
	start = addr;
	end = start + (Int128)size;
	if (!fv || !fv->nr)
		goto out;
	/* The first range that ends after @start, if it begins before @end. */
	i = lb_flatview_lower_bound(fv, addr);
	if (i >= fv->nr || (Int128)fv->ranges[i].start >= end)
		goto out;

	const FlatRange *fr = &fv->ranges[i];
	Int128 s = MAX(start, (Int128)fr->start);
	Int128 e = MIN(end, (Int128)fr->last + 1);

	ret.mr = fr->mr;
	ret.fv = fv;
	ret.offset_within_region = fr->offset_in_region +
				   (hwaddr)(s - (Int128)fr->start);
	ret.offset_within_address_space = (hwaddr)s;
	ret.size = e - s;
	ret.readonly = fr->readonly;
	ret.nonvolatile = fr->nonvolatile;
	memory_region_ref(ret.mr);
out:
	lb_memory_unlock();
	return ret;
}

LOOPBACK_API bool memory_region_present(MemoryRegion *container, hwaddr addr)
{
	MemoryRegionSection s = memory_region_find(container, addr, 1);
	bool present = s.mr && s.mr != container;

	if (s.mr)
		memory_region_unref(s.mr);
	return present;
}

LOOPBACK_API MemoryRegionSection *
memory_region_section_new_copy(MemoryRegionSection *s)
{
	MemoryRegionSection *copy;

	g_return_val_if_fail(s != NULL, NULL);
	copy = g_new(MemoryRegionSection, 1);
	*copy = *s;
	if (copy->mr)
		memory_region_ref(copy->mr);
	if (copy->fv) {
		/* view counts change under the writers' lock */
		lb_memory_lock();
		if (copy->fv->refcount) {
			lb_flatview_ref(copy->fv);
		} else {
			/* QEMU asserts: the view is already on its way out */
			g_critical("%s: the section's flat view has been "
				   "replaced and released; the copy has none",
				   __func__);
			copy->fv = NULL;
		}
		lb_memory_unlock();
	}
	return copy;
}

LOOPBACK_API void memory_region_section_free_copy(MemoryRegionSection *s)
{
	if (!s)
		return;
	if (s->fv) {
		lb_memory_lock();
		lb_flatview_unref(s->fv);
		lb_memory_unlock();
	}
	if (s->mr)
		memory_region_unref(s->mr);
	g_free(s);
}
