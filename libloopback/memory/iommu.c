// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * IOMMU regions: translation through them, their notifiers, and the IOTLB
 * entries a vhost-style consumer asks for.
 *
 * An IOMMU region renders as a leaf like an io region, with the range's
 * iommu flag set; dispatch never reads or writes it but asks ->translate()
 * where the access goes and continues in the target address space.
 */
#include "internal.h"

#include <errno.h>

/*
 * QEMU follows IOMMU targets without a bound; a guest-programmed cycle
 * would hang the thread.  Real systems nest two or three deep.
 */
#define LB_IOMMU_MAX_HOPS 32

static bool lb_iommu_check(IOMMUMemoryRegion *iommu_mr, const char *func)
{
	if (!lb_region_check(iommu_mr ? &iommu_mr->parent_obj : NULL, func))
		return false;
	if (G_UNLIKELY(!iommu_mr->parent_obj.is_iommu)) {
		g_critical("%s: %s is not an IOMMU region", func,
			   iommu_mr->parent_obj.name);
		return false;
	}
	return true;
}

LOOPBACK_API void memory_region_init_iommu(IOMMUMemoryRegion *iommu_mr,
					   void *owner,
					   const IOMMUMemoryRegionOps *ops,
					   const char *name, uint64_t size)
{
	MemoryRegion *mr;

	g_return_if_fail(iommu_mr != NULL);
	mr = &iommu_mr->parent_obj;
	lb_region_init_common(mr, owner, name, size);
	iommu_mr->ops = NULL;
	iommu_mr->notifiers = NULL;
	iommu_mr->notify_flags = IOMMU_NOTIFIER_NONE;
	/* A leaf either way; without a translate it stays a reservation. */
	mr->terminates = true;
	if (!ops || !ops->translate) {
		g_critical("%s: %s: ops without a translate callback",
			   __func__, mr->name);
		return;
	}
	iommu_mr->ops = ops;
	mr->is_iommu = true;
}

LOOPBACK_API IOMMUMemoryRegion *memory_region_get_iommu(MemoryRegion *mr)
{
	if (!lb_region_check(mr, __func__))
		return NULL;
	while (mr->alias)
		mr = mr->alias;
	return mr->is_iommu ? IOMMU_MEMORY_REGION(mr) : NULL;
}

LOOPBACK_API uint64_t
memory_region_iommu_get_min_page_size(IOMMUMemoryRegion *iommu_mr)
{
	if (!lb_iommu_check(iommu_mr, __func__))
		return TARGET_PAGE_SIZE;
	if (iommu_mr->ops->get_min_page_size)
		return iommu_mr->ops->get_min_page_size(iommu_mr);
	return TARGET_PAGE_SIZE;
}

LOOPBACK_API int memory_region_iommu_attrs_to_index(IOMMUMemoryRegion *iommu_mr,
						    MemTxAttrs attrs)
{
	if (!lb_iommu_check(iommu_mr, __func__))
		return 0;
	if (iommu_mr->ops->attrs_to_index)
		return iommu_mr->ops->attrs_to_index(iommu_mr, attrs);
	return 0;
}

LOOPBACK_API int memory_region_iommu_num_indexes(IOMMUMemoryRegion *iommu_mr)
{
	if (!lb_iommu_check(iommu_mr, __func__))
		return 1;
	if (iommu_mr->ops->num_indexes)
		return iommu_mr->ops->num_indexes(iommu_mr);
	return 1;
}

LOOPBACK_API int memory_region_iommu_get_attr(IOMMUMemoryRegion *iommu_mr,
					      enum IOMMUMemoryRegionAttr attr,
					      void *data)
{
	if (!lb_iommu_check(iommu_mr, __func__))
		return -EINVAL;
	if (!iommu_mr->ops->get_attr)
		return -EINVAL;
	return iommu_mr->ops->get_attr(iommu_mr, attr, data);
}

/*
 * No library lock is held while the method runs: an IOMMU that drops its
 * mappings when the page sizes change may notify from it.
 */
LOOPBACK_API int memory_region_iommu_set_page_size_mask(
	IOMMUMemoryRegion *iommu_mr, uint64_t page_size_mask, GError **errp)
{
	if (!lb_iommu_check(iommu_mr, __func__)) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "not an IOMMU region");
		return -EINVAL;
	}
	if (!iommu_mr->ops->iommu_set_page_size_mask)
		return 0;
	return iommu_mr->ops->iommu_set_page_size_mask(iommu_mr,
						       page_size_mask, errp);
}

/* ---- translation ---- */

MemoryRegion *lb_translate_iommu(MemoryRegion *mr, hwaddr *xlat, hwaddr *plen,
				 const FlatRange **pfr, bool is_write,
				 MemTxAttrs attrs, hwaddr *page_mask,
				 AddressSpace **as)
{
	hwaddr mask = HWADDR_MAX;

	for (unsigned int hop = 0; hop < LB_IOMMU_MAX_HOPS; hop++) {
		IOMMUMemoryRegion *iommu = IOMMU_MEMORY_REGION(mr);
		const IOMMUMemoryRegionOps *ops = iommu->ops;
		int idx = ops->attrs_to_index ?
			  ops->attrs_to_index(iommu, attrs) : 0;
		IOMMUTLBEntry e = ops->translate(iommu, *xlat,
						 is_write ? IOMMU_WO : IOMMU_RO,
						 idx);
		hwaddr addr, left;

		if (!(e.perm & (1u << is_write)))
			goto unassigned;
		if (G_UNLIKELY(!e.target_as)) {
			g_critical("IOMMU %s: translation of %#" PRIx64
				   " grants access but has no target_as",
				   mr->name, *xlat);
			goto unassigned;
		}
		addr = (e.translated_addr & ~e.addr_mask) |
		       (*xlat & e.addr_mask);
		mask &= e.addr_mask;
		/* Not past the end of this IOMMU page, wherever it lands. */
		left = (addr | e.addr_mask) - addr;
		if (*plen && *plen - 1 > left)
			*plen = left + 1;
		if (as)
			*as = e.target_as;
		/* Still in the caller's read-side section: the view is safe. */
		mr = lb_translate(rcu_dereference(e.target_as->current_map),
				  addr, xlat, plen, pfr);
		if (!*pfr || !(*pfr)->iommu) {
			if (page_mask)
				*page_mask = mask;
			return mr;
		}
	}
	/* A guest can build this with its page tables: not a program bug. */
	g_debug("IOMMU translation reached %s after %d IOMMUs, refused",
		mr->name, LB_IOMMU_MAX_HOPS);
unassigned:
	*pfr = NULL;
	return &lb_io_mem_unassigned;
}

LOOPBACK_API IOMMUTLBEntry address_space_get_iotlb_entry(AddressSpace *as,
							 hwaddr addr,
							 bool is_write,
							 MemTxAttrs attrs)
{
	IOMMUTLBEntry ret = { .perm = IOMMU_NONE };
	/* QEMU's page mask when no IOMMU is on the way. */
	hwaddr xlat, len = HWADDR_MAX, mask = ~TARGET_PAGE_MASK;
	const FlatRange *fr;
	MemoryRegion *mr;

	if (G_UNLIKELY(!as)) {
		g_critical("%s: NULL address space", __func__);
		return ret;
	}
	lb_rcu_read_lock();
	mr = lb_translate(rcu_dereference(as->current_map), addr, &xlat, &len,
			  &fr);
	if (fr && fr->iommu)
		mr = lb_translate_iommu(mr, &xlat, &len, &fr, is_write, attrs,
					&mask, &as);
	if (mr != &lb_io_mem_unassigned) {
		/* the address in the last address space, not in the region */
		hwaddr out = fr->start + (xlat - fr->offset_in_region);

		ret = (IOMMUTLBEntry) {
			.target_as = as,
			.iova = addr & ~mask,
			.translated_addr = out & ~mask,
			.addr_mask = mask,
			/* QEMU: IOTLB entries are for DMA, which goes to RAM */
			.perm = IOMMU_RW,
		};
	}
	lb_rcu_read_unlock();
	return ret;
}

/* ---- notifiers ---- */

LOOPBACK_API void iommu_notifier_init(IOMMUNotifier *n, IOMMUNotify fn,
				      IOMMUNotifierFlag flags, hwaddr start,
				      hwaddr end, int iommu_idx)
{
	g_return_if_fail(n != NULL);
	n->notify = fn;
	n->notifier_flags = flags;
	n->start = start;
	n->end = end;
	n->iommu_idx = iommu_idx;
	n->next = NULL;
}

/*
 * Recomputes the union of the notifiers' flags and tells the IOMMU when it
 * changed.  Under the writers' lock.
 */
static int lb_iommu_update_flags(IOMMUMemoryRegion *iommu_mr, GError **errp)
{
	IOMMUNotifierFlag flags = IOMMU_NOTIFIER_NONE;
	int ret = 0;

	for (IOMMUNotifier *n = iommu_mr->notifiers; n; n = n->next)
		flags |= n->notifier_flags;
	if (flags != iommu_mr->notify_flags &&
	    iommu_mr->ops->notify_flag_changed)
		ret = iommu_mr->ops->notify_flag_changed(iommu_mr,
							 iommu_mr->notify_flags,
							 flags, errp);
	if (!ret)
		iommu_mr->notify_flags = flags;
	return ret;
}

static IOMMUNotifier **lb_notifier_link(IOMMUMemoryRegion *iommu_mr,
					IOMMUNotifier *n)
{
	IOMMUNotifier **p = &iommu_mr->notifiers;

	while (*p && *p != n)
		p = &(*p)->next;
	return p;
}

/* The IOMMU behind @mr for the notifier calls, with a critical if none. */
static IOMMUMemoryRegion *lb_notifier_iommu(MemoryRegion *mr,
					    const char *func)
{
	IOMMUMemoryRegion *iommu_mr;

	if (!lb_region_check(mr, func))
		return NULL;
	iommu_mr = memory_region_get_iommu(mr);
	if (!iommu_mr)
		g_critical("%s: %s is not an IOMMU region", func, mr->name);
	return iommu_mr;
}

LOOPBACK_API int memory_region_register_iommu_notifier(MemoryRegion *mr,
						       IOMMUNotifier *n,
						       GError **errp)
{
	IOMMUMemoryRegion *iommu_mr = lb_notifier_iommu(mr, __func__);
	int ret;

	if (!iommu_mr) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s is not an IOMMU region",
			    mr ? mr->name : "(null)");
		return -EINVAL;
	}
	if (!n || !n->notify) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "IOMMU %s: notifier without a notify callback",
			    iommu_mr->parent_obj.name);
		return -EINVAL;
	}
	if (n->notifier_flags == IOMMU_NOTIFIER_NONE ||
	    (n->notifier_flags & ~IOMMU_NOTIFIER_ALL)) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "IOMMU %s: bad notifier flags %#x",
			    iommu_mr->parent_obj.name, n->notifier_flags);
		return -EINVAL;
	}
	if (n->start > n->end) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "IOMMU %s: notifier range [%#" PRIx64 ", %#"
			    PRIx64 "] is empty", iommu_mr->parent_obj.name,
			    n->start, n->end);
		return -EINVAL;
	}
	if (n->iommu_idx < 0 ||
	    n->iommu_idx >= memory_region_iommu_num_indexes(iommu_mr)) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "IOMMU %s: no index %d", iommu_mr->parent_obj.name,
			    n->iommu_idx);
		return -EINVAL;
	}

	lb_memory_lock();
	if (*lb_notifier_link(iommu_mr, n)) {
		lb_memory_unlock();
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_EXIST,
			    "IOMMU %s: notifier already registered",
			    iommu_mr->parent_obj.name);
		return -EBUSY;
	}
	/* At the head, as QEMU does: the newest is notified first. */
	n->next = iommu_mr->notifiers;
	iommu_mr->notifiers = n;
	ret = lb_iommu_update_flags(iommu_mr, errp);
	if (ret) {
		iommu_mr->notifiers = n->next;
		n->next = NULL;
		if (ret > 0)
			ret = -EINVAL;	/* the contract is -errno */
		if (errp && !*errp)
			g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_FAILED,
				    "IOMMU %s refused notifier flags %#x",
				    iommu_mr->parent_obj.name,
				    n->notifier_flags);
	}
	lb_memory_unlock();
	return ret;
}

LOOPBACK_API void memory_region_unregister_iommu_notifier(MemoryRegion *mr,
							  IOMMUNotifier *n)
{
	IOMMUMemoryRegion *iommu_mr = lb_notifier_iommu(mr, __func__);
	IOMMUNotifier **p;

	if (!iommu_mr)
		return;
	g_return_if_fail(n != NULL);
	lb_memory_lock();
	p = lb_notifier_link(iommu_mr, n);
	if (!*p) {
		g_critical("%s: notifier %p is not registered on %s", __func__,
			   (void *)n, iommu_mr->parent_obj.name);
	} else {
		*p = n->next;
		n->next = NULL;
		/* QEMU ignores a refusal here: the notifier is gone anyway. */
		lb_iommu_update_flags(iommu_mr, NULL);
	}
	lb_memory_unlock();
}

static bool lb_event_check(const IOMMUTLBEntry *e, const char *func)
{
	if (G_LIKELY(e->addr_mask <= HWADDR_MAX - e->iova))
		return true;
	/* QEMU's end would wrap and the crop make a huge mask */
	g_critical("%s: event %#" PRIx64 "+%#" PRIx64 " runs past 2^64",
		   func, e->iova, e->addr_mask);
	return false;
}

LOOPBACK_API void memory_region_notify_iommu_one(IOMMUNotifier *notifier,
						 IOMMUTLBEvent *event)
{
	IOMMUTLBEntry tmp;
	hwaddr end;

	g_return_if_fail(notifier != NULL && event != NULL);
	tmp = event->entry;
	if (!lb_event_check(&tmp, __func__))
		return;
	end = tmp.iova + tmp.addr_mask;
	if (event->type == IOMMU_NOTIFIER_UNMAP && tmp.perm != IOMMU_NONE) {
		g_critical("%s: an UNMAP event must have perm IOMMU_NONE",
			   __func__);
		return;
	}
	if (notifier->start > end || notifier->end < tmp.iova)
		return;
	/* Cropped to the notifier's range (QEMU 7.2: DEVIOTLB ones only). */
	tmp.iova = MAX(tmp.iova, notifier->start);
	tmp.addr_mask = MIN(end, notifier->end) - tmp.iova;
	if (event->type & notifier->notifier_flags)
		notifier->notify(notifier, &tmp);
}

LOOPBACK_API void memory_region_notify_iommu(IOMMUMemoryRegion *iommu_mr,
					     int iommu_idx,
					     IOMMUTLBEvent event)
{
	IOMMUNotifier *stack[16], **snap = stack, *n;
	unsigned int nr = 0, i;

	if (!lb_iommu_check(iommu_mr, __func__) ||
	    !lb_event_check(&event.entry, __func__))
		return;
	lb_memory_lock();
	/*
	 * A callback may unregister (and free) any notifier, not only its
	 * own: walk a copy, and call only those still registered.  Those
	 * registered meanwhile go first in the list and are not called, as
	 * in QEMU.
	 */
	for (n = iommu_mr->notifiers; n; n = n->next)
		nr++;
	if (nr > G_N_ELEMENTS(stack))
		snap = g_new(IOMMUNotifier *, nr);
	for (n = iommu_mr->notifiers, i = 0; n; n = n->next)
		snap[i++] = n;
	for (i = 0; i < nr; i++) {
		n = snap[i];
		/* compares pointers only: n may be freed memory by now */
		if (i && !*lb_notifier_link(iommu_mr, n))
			continue;
		if (n->iommu_idx == iommu_idx)
			memory_region_notify_iommu_one(n, &event);
	}
	if (snap != stack)
		g_free(snap);
	lb_memory_unlock();
}

LOOPBACK_API void memory_region_iommu_replay(IOMMUMemoryRegion *iommu_mr,
					     IOMMUNotifier *n)
{
	MemoryRegion *mr;
	uint64_t gran, size;

	if (!lb_iommu_check(iommu_mr, __func__))
		return;
	g_return_if_fail(n != NULL && n->notify != NULL);
	if (iommu_mr->ops->replay) {
		iommu_mr->ops->replay(iommu_mr, n);
		return;
	}
	mr = &iommu_mr->parent_obj;
	gran = memory_region_iommu_get_min_page_size(iommu_mr);
	if (!gran) {
		g_critical("%s: %s: minimum page size 0", __func__, mr->name);
		return;
	}
	size = memory_region_size(mr);
	/* QEMU notifies @n directly: no range or flag filter here. */
	for (hwaddr addr = 0; addr < size; addr += gran) {
		IOMMUTLBEntry e = iommu_mr->ops->translate(iommu_mr, addr,
							   IOMMU_NONE,
							   n->iommu_idx);

		if (e.perm != IOMMU_NONE)
			n->notify(n, &e);
		if (addr + gran < addr)
			break;
	}
}
