// SPDX-License-Identifier: LGPL-2.1-or-later
/* Changing the region tree: subregions, the setters, finalisation. */
#include "internal.h"

/* Whether @to can be reached from @from through subregions and aliases. */
static bool lb_reaches(MemoryRegion *from, MemoryRegion *to, GHashTable *seen)
{
	if (from == to)
		return true;
	if (!g_hash_table_add(seen, from))
		return false;
	if (from->alias && lb_reaches(from->alias, to, seen))
		return true;
	for (MemoryRegion *c = from->subregions_first; c; c = c->sibling_next)
		if (lb_reaches(c, to, seen))
			return true;
	return false;
}

static bool lb_would_cycle(MemoryRegion *mr, MemoryRegion *subregion)
{
	GHashTable *seen;
	bool cycle;

	/* Cheap answer for the common case of adding a leaf. */
	if (!subregion->alias && !subregion->subregions_first)
		return subregion == mr;
	seen = g_hash_table_new(NULL, NULL);
	cycle = lb_reaches(subregion, mr, seen);
	g_hash_table_destroy(seen);
	return cycle;
}

/* Highest priority first; a newcomer goes before its equals. */
static void lb_link_subregion(MemoryRegion *mr, MemoryRegion *sub)
{
	MemoryRegion *pos = mr->subregions_first;

	while (pos && pos->priority > sub->priority)
		pos = pos->sibling_next;
	sub->sibling_next = pos;
	sub->sibling_prev = pos ? pos->sibling_prev : mr->subregions_last;
	if (sub->sibling_prev)
		sub->sibling_prev->sibling_next = sub;
	else
		mr->subregions_first = sub;
	if (pos)
		pos->sibling_prev = sub;
	else
		mr->subregions_last = sub;
}

static void lb_unlink_subregion(MemoryRegion *mr, MemoryRegion *sub)
{
	if (sub->sibling_prev)
		sub->sibling_prev->sibling_next = sub->sibling_next;
	else
		mr->subregions_first = sub->sibling_next;
	if (sub->sibling_next)
		sub->sibling_next->sibling_prev = sub->sibling_prev;
	else
		mr->subregions_last = sub->sibling_prev;
	sub->sibling_prev = sub->sibling_next = NULL;
}

static void lb_add_subregion(MemoryRegion *mr, hwaddr offset,
			     MemoryRegion *sub, int priority,
			     const char *func)
{
	if (!lb_region_check(mr, func) || !lb_region_check(sub, func))
		return;
	memory_region_transaction_begin();
	if (mr->alias) {
		g_critical("%s: %s is an alias and cannot hold subregion %s",
			   func, mr->name, sub->name);
	} else if (sub->container) {
		g_critical("%s: %s is already a subregion of %s", func,
			   sub->name, sub->container->name);
	} else if (lb_would_cycle(mr, sub)) {
		g_critical("%s: adding %s to %s would make a cycle", func,
			   sub->name, mr->name);
	} else if (mr->enabled && sub->enabled &&
		   !lb_memory_change_allowed(func)) {
		/* refused: a listener callback */
	} else {
		memory_region_ref(sub);
		sub->container = mr;
		sub->addr = offset;
		sub->priority = priority;
		lb_link_subregion(mr, sub);
		/* every region down the alias chain is now reachable */
		for (MemoryRegion *a = sub->alias; a; a = a->alias)
			a->mapped_via_alias++;
		if (mr->enabled && sub->enabled)
			lb_memory_update_pending();
	}
	memory_region_transaction_commit();
}

LOOPBACK_API void memory_region_add_subregion(MemoryRegion *mr, hwaddr offset,
					      MemoryRegion *subregion)
{
	lb_add_subregion(mr, offset, subregion, 0, __func__);
}

LOOPBACK_API void memory_region_add_subregion_overlap(MemoryRegion *mr,
						      hwaddr offset,
						      MemoryRegion *subregion,
						      int priority)
{
	lb_add_subregion(mr, offset, subregion, priority, __func__);
}

LOOPBACK_API void memory_region_del_subregion(MemoryRegion *mr,
					      MemoryRegion *subregion)
{
	if (!lb_region_check(mr, __func__) ||
	    !lb_region_check(subregion, __func__))
		return;
	memory_region_transaction_begin();
	if (subregion->container != mr) {
		g_critical("%s: %s is not a subregion of %s", __func__,
			   subregion->name, mr->name);
		memory_region_transaction_commit();
		return;
	}
	if (mr->enabled && subregion->enabled &&
	    !lb_memory_change_allowed(__func__)) {
		memory_region_transaction_commit();
		return;
	}
	lb_unlink_subregion(mr, subregion);
	subregion->container = NULL;
	for (MemoryRegion *a = subregion->alias; a; a = a->alias)
		a->mapped_via_alias--;
	if (mr->enabled && subregion->enabled)
		lb_memory_update_pending();
	memory_region_unref(subregion);
	memory_region_transaction_commit();
}

/* Sets a field under the lock; a change marks an update when it can show. */
#define LB_SET_FIELD(mr, field, value, always)				\
	do {								\
		if (!lb_region_check(mr, __func__))			\
			return;						\
		memory_region_transaction_begin();			\
		if ((mr)->field != (value) &&				\
		    (!((always) || (mr)->enabled) ||			\
		     lb_memory_change_allowed(__func__))) {		\
			(mr)->field = (value);				\
			if ((always) || (mr)->enabled)			\
				lb_memory_update_pending();		\
		}							\
		memory_region_transaction_commit();			\
	} while (0)

LOOPBACK_API void memory_region_set_enabled(MemoryRegion *mr, bool enabled)
{
	LB_SET_FIELD(mr, enabled, enabled, true);
}

LOOPBACK_API void memory_region_set_size(MemoryRegion *mr, uint64_t size)
{
	Int128 s = size == UINT64_MAX ? int128_2_64() : int128_make64(size);

	LB_SET_FIELD(mr, size, s, true);
}

LOOPBACK_API void memory_region_set_alias_offset(MemoryRegion *mr,
						 hwaddr offset)
{
	if (mr && mr->initialized && !mr->alias) {
		g_critical("%s: %s is not an alias", __func__, mr->name);
		return;
	}
	LB_SET_FIELD(mr, alias_offset, offset, false);
}

LOOPBACK_API void memory_region_set_readonly(MemoryRegion *mr, bool readonly)
{
	LB_SET_FIELD(mr, readonly, readonly, false);
}

LOOPBACK_API void memory_region_set_nonvolatile(MemoryRegion *mr,
						bool nonvolatile)
{
	LB_SET_FIELD(mr, nonvolatile, nonvolatile, false);
}

LOOPBACK_API void memory_region_set_unmergeable(MemoryRegion *mr,
						bool unmergeable)
{
	LB_SET_FIELD(mr, unmergeable, unmergeable, false);
}

LOOPBACK_API void memory_region_rom_device_set_romd(MemoryRegion *mr,
						    bool romd_mode)
{
	LB_SET_FIELD(mr, romd_mode, romd_mode, false);
}

LOOPBACK_API void memory_region_set_address(MemoryRegion *mr, hwaddr addr)
{
	MemoryRegion *container;

	if (!lb_region_check(mr, __func__))
		return;
	memory_region_transaction_begin();
	container = mr->container;
	if (addr != mr->addr && container && container->enabled &&
	    mr->enabled && !lb_memory_change_allowed(__func__)) {
		/* refused: a listener callback */
	} else if (addr != mr->addr && container) {
		/* Re-adding puts it first among its equal-priority siblings. */
		memory_region_ref(mr);
		memory_region_del_subregion(container, mr);
		lb_add_subregion(container, addr, mr, mr->priority, __func__);
		memory_region_unref(mr);
	} else {
		mr->addr = addr;
	}
	memory_region_transaction_commit();
}

void lb_region_finalize(MemoryRegion *mr)
{
	MemoryRegion *alias = mr->alias;
	GDestroyNotify notify = mr->free_notify;
	void *data = mr->free_data;

	memory_region_transaction_begin();
	if (mr->container)
		g_critical("%s: %s freed while still in %s", __func__,
			   mr->name, mr->container->name);
	mr->enabled = false;
	while (mr->subregions_first)
		memory_region_del_subregion(mr, mr->subregions_first);
	memory_region_transaction_commit();

	lb_ioeventfd_free_all(mr);
	lb_coalesced_free_all(mr);
	if (mr->ram_block)
		lb_ram_block_free(mr->ram_block);
	g_free(mr->name);
	mr->name = NULL;
	mr->ram_block = NULL;
	mr->alias = NULL;
	mr->initialized = false;
	if (alias)
		memory_region_unref(alias);
	if (notify)
		notify(data);
}
