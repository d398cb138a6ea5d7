// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * RAM discard managers: who may tell which parts of a RAM region are
 * populated.  As in QEMU the library only attaches a manager to a region
 * and forwards to its methods; the manager (virtio-mem, say) keeps its
 * listeners and replays or discards their populated parts itself.
 */
#include "internal.h"

#include <errno.h>

static bool lb_rdm_check(const RamDiscardManager *rdm, const char *func)
{
	const RamDiscardManagerOps *ops = rdm ? rdm->ops : NULL;

	if (G_UNLIKELY(!rdm)) {
		g_critical("%s: NULL RAM discard manager", func);
		return false;
	}
	if (G_UNLIKELY(!ops || !ops->get_min_granularity ||
		       !ops->is_populated || !ops->replay_populated ||
		       !ops->replay_discarded || !ops->register_listener ||
		       !ops->unregister_listener)) {
		g_critical("%s: RAM discard manager %p lacks a method", func,
			   (const void *)rdm);
		return false;
	}
	return true;
}

static bool lb_section_check(const MemoryRegionSection *section,
			     const char *func)
{
	if (G_UNLIKELY(!section || !section->mr)) {
		g_critical("%s: a section of a region is required", func);
		return false;
	}
	return true;
}

LOOPBACK_API int memory_region_set_ram_discard_manager(MemoryRegion *mr,
						       RamDiscardManager *rdm)
{
	int ret = 0;

	if (!lb_region_check(mr, __func__))
		return -EINVAL;
	if (!mr->ram) {
		g_critical("%s: %s is not RAM", __func__, mr->name);
		return -EINVAL;
	}
	if (rdm && !lb_rdm_check(rdm, __func__))
		return -EINVAL;
	lb_memory_lock();
	/* QEMU: replacing one manager by another is refused, NULL clears */
	if (mr->rdm && rdm)
		ret = -EBUSY;
	else
		mr->rdm = rdm;
	lb_memory_unlock();
	return ret;
}

LOOPBACK_API RamDiscardManager *
memory_region_get_ram_discard_manager(MemoryRegion *mr)
{
	if (!lb_region_check(mr, __func__) || !mr->ram)
		return NULL;
	return mr->rdm;
}

LOOPBACK_API bool memory_region_has_ram_discard_manager(MemoryRegion *mr)
{
	return memory_region_get_ram_discard_manager(mr) != NULL;
}

LOOPBACK_API void ram_discard_listener_init(RamDiscardListener *rdl,
					    NotifyRamPopulate populate_fn,
					    NotifyRamDiscard discard_fn,
					    bool double_discard_supported)
{
	g_return_if_fail(rdl != NULL);
	rdl->notify_populate = populate_fn;
	rdl->notify_discard = discard_fn;
	rdl->double_discard_supported = double_discard_supported;
	rdl->section = NULL;
	rdl->next = NULL;
}

LOOPBACK_API uint64_t
ram_discard_manager_get_min_granularity(const RamDiscardManager *rdm,
					const MemoryRegion *mr)
{
	if (!lb_rdm_check(rdm, __func__) || !lb_region_check(mr, __func__))
		return 0;
	return rdm->ops->get_min_granularity(rdm, mr);
}

LOOPBACK_API bool
ram_discard_manager_is_populated(const RamDiscardManager *rdm,
				 const MemoryRegionSection *section)
{
	if (!lb_rdm_check(rdm, __func__) || !lb_section_check(section, __func__))
		return false;
	return rdm->ops->is_populated(rdm, section);
}

LOOPBACK_API int
ram_discard_manager_replay_populated(const RamDiscardManager *rdm,
				     MemoryRegionSection *section,
				     ReplayRamPopulate replay_fn, void *opaque)
{
	if (!lb_rdm_check(rdm, __func__) ||
	    !lb_section_check(section, __func__))
		return -EINVAL;
	if (!replay_fn) {
		g_critical("%s: NULL replay function", __func__);
		return -EINVAL;
	}
	return rdm->ops->replay_populated(rdm, section, replay_fn, opaque);
}

LOOPBACK_API void
ram_discard_manager_replay_discarded(const RamDiscardManager *rdm,
				     MemoryRegionSection *section,
				     ReplayRamDiscard replay_fn, void *opaque)
{
	if (!lb_rdm_check(rdm, __func__) ||
	    !lb_section_check(section, __func__))
		return;
	if (!replay_fn) {
		g_critical("%s: NULL replay function", __func__);
		return;
	}
	rdm->ops->replay_discarded(rdm, section, replay_fn, opaque);
}

LOOPBACK_API void
ram_discard_manager_register_listener(RamDiscardManager *rdm,
				      RamDiscardListener *rdl,
				      MemoryRegionSection *section)
{
	if (!lb_rdm_check(rdm, __func__) ||
	    !lb_section_check(section, __func__))
		return;
	if (!rdl || !rdl->notify_populate || !rdl->notify_discard) {
		g_critical("%s: listener without both notify callbacks",
			   __func__);
		return;
	}
	rdm->ops->register_listener(rdm, rdl, section);
}

LOOPBACK_API void
ram_discard_manager_unregister_listener(RamDiscardManager *rdm,
					RamDiscardListener *rdl)
{
	if (!lb_rdm_check(rdm, __func__))
		return;
	g_return_if_fail(rdl != NULL);
	rdm->ops->unregister_listener(rdm, rdl);
}
