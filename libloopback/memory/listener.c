// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory listeners and global dirty tracking.
 *
 * The call sequences are QEMU's (system/memory.c): a commit calls begin on
 * every listener, then for each address space a del pass and an add pass
 * over its old and new flat views and the ioeventfd diff, then commit.
 * Every callback runs on the committing thread with the writers' lock
 * held.  A callback may not change the map, register or unregister a
 * listener, or start or stop dirty tracking: QEMU forbids it, and here
 * such a call is refused with a critical instead of recursing.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Every registered listener, in call order: ascending priority, then age. */
static GPtrArray *lb_listeners;
/* Non-zero while this (the lock-owning) thread runs listener callbacks. */
static unsigned int lb_callback_depth;

unsigned int lb_global_dirty_tracking;

#define LB_NLISTENERS (lb_listeners ? lb_listeners->len : 0u)
#define LB_LISTENER(i) ((MemoryListener *)g_ptr_array_index(lb_listeners, (i)))

/* Forward: ascending priority.  The array cannot change during callbacks. */
#define LB_FORWARD(l, i)						\
	for (guint i = 0; i < LB_NLISTENERS && ((l) = LB_LISTENER(i)); i++)
#define LB_REVERSE(l, i)						\
	for (guint i = LB_NLISTENERS; i-- > 0 && ((l) = LB_LISTENER(i));)

static bool lb_listener_sees(const MemoryListener *l, const AddressSpace *as)
{
	return !l->address_space || l->address_space == as;
}

/* Calls @cb(l, args) on every listener of @as, in direction @fwd. */
#define LB_CALL_AS(as, fwd, cb, ...)					\
	do {								\
		MemoryListener *l_;					\
		if (fwd) {						\
			LB_FORWARD(l_, i_)				\
				if (l_->cb && lb_listener_sees(l_, (as))) \
					l_->cb(l_, __VA_ARGS__);	\
		} else {						\
			LB_REVERSE(l_, i_)				\
				if (l_->cb && lb_listener_sees(l_, (as))) \
					l_->cb(l_, __VA_ARGS__);	\
		}							\
	} while (0)

bool lb_listeners_running(void)
{
	return lb_memory_locked() && lb_callback_depth > 0;
}

bool lb_memory_change_allowed(const char *func)
{
	if (G_LIKELY(!lb_listeners_running()))
		return true;
	g_critical("%s: called from a memory listener callback; the map cannot "
		   "change while listeners are told about a change", func);
	return false;
}

static bool lb_as_has_listeners(const AddressSpace *as)
{
	MemoryListener *l;

	LB_FORWARD(l, i)
		if (lb_listener_sees(l, as))
			return true;
	return false;
}

static MemoryRegionSection lb_section(const FlatRange *fr, FlatView *fv)
{
	return (MemoryRegionSection) {
		.size = (Int128)lb_range_size(fr),
		.mr = fr->mr,
		.fv = fv,
		.offset_within_region = fr->offset_in_region,
		.offset_within_address_space = fr->start,
		.readonly = fr->readonly,
		.nonvolatile = fr->nonvolatile,
	};
}

/* QEMU's flatrange_equal(): everything but the dirty-log mask. */
static bool lb_range_same(const FlatRange *a, const FlatRange *b)
{
	return a->mr == b->mr && a->start == b->start && a->last == b->last &&
	       a->offset_in_region == b->offset_in_region &&
	       a->romd_mode == b->romd_mode && a->readonly == b->readonly &&
	       a->nonvolatile == b->nonvolatile &&
	       a->unmergeable == b->unmergeable;
}

/* ---- coalesced ranges ---- */

/*
 * The part of @cmr that @fr shows, in absolute addresses; false when they
 * do not meet.  Intersection as QEMU's addrrange_intersects() decides it,
 * so an empty range inside @fr still counts.
 */
static bool lb_coalesced_part(const FlatRange *fr,
			      const struct lb_coalesced_range *cmr,
			      hwaddr *addr, hwaddr *len)
{
	Int128 fs = fr->start, fe = fs + (Int128)lb_range_size(fr);
	Int128 cs = (Int128)cmr->start + fs - (Int128)fr->offset_in_region;
	Int128 ce = cs + (Int128)cmr->size;

	if (!((cs >= fs && cs < fe) || (fs >= cs && fs < ce)))
		return false;
	cs = MAX(cs, fs);
	ce = MIN(ce, fe);
	*addr = (hwaddr)cs;
	/* a 2^64-byte part reads as 0: the callback's length is 64-bit */
	*len = (hwaddr)(ce - cs);
	return true;
}

void lb_listeners_coalesced(AddressSpace *as, const FlatRange *fr,
			    const struct lb_coalesced_range *cmr, bool add)
{
	MemoryRegionSection s = lb_section(fr, as->current_map);
	hwaddr addr, len;

	if (!lb_coalesced_part(fr, cmr, &addr, &len))
		return;
	lb_callback_depth++;
	if (add)
		LB_CALL_AS(as, true, coalesced_io_add, &s, addr, len);
	else
		LB_CALL_AS(as, false, coalesced_io_del, &s, addr, len);
	lb_callback_depth--;
}

static void lb_coalesced_range_all(AddressSpace *as, const FlatRange *fr,
				   bool add)
{
	for (const struct lb_coalesced_range *c = fr->mr->coalesced; c;
	     c = c->next)
		lb_listeners_coalesced(as, fr, c, add);
}

/* The same for one listener: register and unregister. */
static void lb_coalesced_one(MemoryListener *l, MemoryRegionSection *s,
			     const FlatRange *fr, bool add)
{
	for (const struct lb_coalesced_range *c = fr->mr->coalesced; c;
	     c = c->next) {
		hwaddr addr, len;

		if (!lb_coalesced_part(fr, c, &addr, &len))
			continue;
		if (add && l->coalesced_io_add)
			l->coalesced_io_add(l, s, addr, len);
		else if (!add && l->coalesced_io_del)
			l->coalesced_io_del(l, s, addr, len);
	}
}

/* ---- the commit sequence ---- */

void lb_listeners_begin(AddressSpace *only)
{
	MemoryListener *l;

	lb_callback_depth++;
	LB_FORWARD(l, i)
		if (l->begin && (!only || lb_listener_sees(l, only)))
			l->begin(l);
}

void lb_listeners_commit(AddressSpace *only)
{
	MemoryListener *l;

	LB_FORWARD(l, i)
		if (l->commit && (!only || lb_listener_sees(l, only)))
			l->commit(l);
	lb_callback_depth--;
}

/*
 * QEMU's address_space_update_topology_pass().  Sections carry the view
 * the address space shows while the passes run: the old one.
 */
static void lb_topology_pass(AddressSpace *as, const FlatView *old,
			     const FlatView *new, bool adding)
{
	uint32_t io = 0, in = 0;
	uint32_t on = old ? old->nr : 0, nn = new ? new->nr : 0;
	FlatView *fv = as->current_map;

	while (io < on || in < nn) {
		const FlatRange *fo = io < on ? &old->ranges[io] : NULL;
		const FlatRange *fn = in < nn ? &new->ranges[in] : NULL;
		MemoryRegionSection s;

		if (fo && (!fn || fo->start < fn->start ||
			   (fo->start == fn->start && !lb_range_same(fo, fn)))) {
			/* gone, or changed beyond its dirty-log mask */
			if (!adding) {
				lb_coalesced_range_all(as, fo, false);
				s = lb_section(fo, fv);
				LB_CALL_AS(as, false, region_del, &s);
			}
			io++;
		} else if (fo && fn && lb_range_same(fo, fn)) {
			if (adding) {
				int om = fo->dirty_log_mask;
				int nm = fn->dirty_log_mask;

				s = lb_section(fn, fv);
				LB_CALL_AS(as, true, region_nop, &s);
				if (nm & ~om)
					LB_CALL_AS(as, true, log_start, &s,
						   om, nm);
				if (om & ~nm)
					LB_CALL_AS(as, false, log_stop, &s,
						   om, nm);
			}
			io++;
			in++;
		} else {
			if (adding) {
				s = lb_section(fn, fv);
				LB_CALL_AS(as, true, region_add, &s);
				lb_coalesced_range_all(as, fn, true);
			}
			in++;
		}
	}
}

void lb_listeners_topology(AddressSpace *as, FlatView *old, FlatView *new)
{
	if (old == new || !lb_as_has_listeners(as))
		return;
	lb_callback_depth++;
	lb_topology_pass(as, old, new, false);
	lb_topology_pass(as, old, new, true);
	lb_callback_depth--;
}

static int lb_ioeventfd_qsort_cmp(const void *a, const void *b)
{
	return lb_ioeventfd_cmp(a, b);
}

/*
 * QEMU's address_space_update_ioeventfds(): every ioeventfd of a region
 * shown by a flat range, moved to its absolute address, when it meets the
 * range.  Sorted, without exact duplicates (one ioeventfd meeting two
 * ranges of its region).
 */
static struct lb_as_ioeventfds *lb_ioeventfds_collect(const FlatView *fv)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct lb_ioeventfd));
	struct lb_as_ioeventfds *set;
	guint out = 0;

	for (uint32_t r = 0; fv && r < fv->nr; r++) {
		const FlatRange *fr = &fv->ranges[r];
		const struct lb_ioeventfd_set *fds = fr->mr->ioeventfds;
		Int128 fs = fr->start, fe = fs + (Int128)lb_range_size(fr);

		for (unsigned int i = 0; fds && i < fds->nr; i++) {
			struct lb_ioeventfd fd = fds->fd[i];
			Int128 s = (Int128)fd.addr + fs -
				   (Int128)fr->offset_in_region;

			if (!((s >= fs && s < fe) ||
			      (fs >= s && fs < s + fd.size)))
				continue;
			fd.addr = (hwaddr)s;
			g_array_append_val(a, fd);
		}
	}
	if (a->len > 1)
		qsort(a->data, a->len, sizeof(struct lb_ioeventfd),
		      lb_ioeventfd_qsort_cmp);
	set = g_malloc(sizeof(*set) + a->len * sizeof(set->fd[0]));
	for (guint i = 0; i < a->len; i++) {
		const struct lb_ioeventfd *fd =
			&g_array_index(a, struct lb_ioeventfd, i);

		if (out && lb_ioeventfd_cmp(&set->fd[out - 1], fd) == 0)
			continue;
		set->fd[out++] = *fd;
	}
	set->nr = out;
	g_array_free(a, TRUE);
	return set;
}

static MemoryRegionSection lb_eventfd_section(const struct lb_ioeventfd *fd,
					      FlatView *fv)
{
	return (MemoryRegionSection) {
		.fv = fv,
		.offset_within_address_space = fd->addr,
		.size = fd->size,
	};
}

void lb_listeners_ioeventfds(AddressSpace *as)
{
	struct lb_as_ioeventfds *new, *old = as->ioeventfds;
	unsigned int io = 0, in = 0, on = old ? old->nr : 0, nn;

	/* nothing before, nothing anywhere: spare large maps the scan */
	if (!on && !g_atomic_int_get(&lb_ioeventfd_regions))
		return;
	new = lb_ioeventfds_collect(as->current_map);
	nn = new->nr;

	lb_callback_depth++;
	/* QEMU's inverted order: eventfd_del forward, eventfd_add reverse. */
	while (io < on || in < nn) {
		int c = io == on ? 1 : in == nn ? -1 :
			lb_ioeventfd_cmp(&old->fd[io], &new->fd[in]);
		const struct lb_ioeventfd *fd;
		MemoryRegionSection s;

		if (c < 0) {
			fd = &old->fd[io++];
			s = lb_eventfd_section(fd, as->current_map);
			LB_CALL_AS(as, true, eventfd_del, &s, fd->match_data,
				   fd->data, fd->e);
		} else if (c > 0) {
			fd = &new->fd[in++];
			s = lb_eventfd_section(fd, as->current_map);
			LB_CALL_AS(as, false, eventfd_add, &s, fd->match_data,
				   fd->data, fd->e);
		} else {
			io++;
			in++;
		}
	}
	lb_callback_depth--;
	g_free(old);
	as->ioeventfds = new;
}

/* ---- registration ---- */

static bool lb_as_registered(const AddressSpace *as)
{
	for (AddressSpace *a = lb_address_spaces(); a; a = a->next)
		if (a == as)
			return true;
	return false;
}

static void lb_global_start_one(MemoryListener *l)
{
	GError *err = NULL;

	/* QEMU treats a refusal here as fatal (error_abort); we report it */
	if (l->log_global_start && !l->log_global_start(l, &err)) {
		g_critical("memory listener %s refused to start dirty tracking: %s",
			   l->name ? l->name : "(unnamed)",
			   err ? err->message : "no reason given");
		g_clear_error(&err);
	}
}

/* QEMU's listener_add_address_space(). */
static void lb_replay_add(MemoryListener *l, AddressSpace *as,
			  bool global_start)
{
	FlatView *fv = as->current_map;

	if (l->begin)
		l->begin(l);
	if (global_start)
		lb_global_start_one(l);
	for (uint32_t i = 0; fv && i < fv->nr; i++) {
		const FlatRange *fr = &fv->ranges[i];
		MemoryRegionSection s = lb_section(fr, fv);

		if (l->region_add)
			l->region_add(l, &s);
		lb_coalesced_one(l, &s, fr, true);
		if (fr->dirty_log_mask && l->log_start)
			l->log_start(l, &s, 0, fr->dirty_log_mask);
	}
	for (unsigned int i = 0; as->ioeventfds && i < as->ioeventfds->nr;
	     i++) {
		const struct lb_ioeventfd *fd = &as->ioeventfds->fd[i];
		MemoryRegionSection s = lb_eventfd_section(fd, fv);

		if (l->eventfd_add)
			l->eventfd_add(l, &s, fd->match_data, fd->data, fd->e);
	}
	if (l->commit)
		l->commit(l);
}

/* QEMU's listener_del_address_space(): the mirror, ranges in order. */
static void lb_replay_del(MemoryListener *l, AddressSpace *as)
{
	FlatView *fv = as->current_map;

	if (l->begin)
		l->begin(l);
	for (uint32_t i = 0; fv && i < fv->nr; i++) {
		const FlatRange *fr = &fv->ranges[i];
		MemoryRegionSection s = lb_section(fr, fv);

		if (fr->dirty_log_mask && l->log_stop)
			l->log_stop(l, &s, fr->dirty_log_mask, 0);
		lb_coalesced_one(l, &s, fr, false);
		if (l->region_del)
			l->region_del(l, &s);
	}
	for (unsigned int i = 0; as->ioeventfds && i < as->ioeventfds->nr;
	     i++) {
		const struct lb_ioeventfd *fd = &as->ioeventfds->fd[i];
		MemoryRegionSection s = lb_eventfd_section(fd, fv);

		if (l->eventfd_del)
			l->eventfd_del(l, &s, fd->match_data, fd->data, fd->e);
	}
	if (l->commit)
		l->commit(l);
}

static bool lb_listener_find(const MemoryListener *listener, guint *index)
{
	return lb_listeners &&
	       g_ptr_array_find(lb_listeners, listener, index);
}

LOOPBACK_API void memory_listener_register(MemoryListener *listener,
					   AddressSpace *filter)
{
	bool global_start;
	guint pos;

	g_return_if_fail(listener != NULL);
	lb_memory_lock();
	if (!lb_memory_change_allowed(__func__))
		goto out;
	if (lb_listener_find(listener, NULL)) {
		g_critical("%s: listener %s is already registered", __func__,
			   listener->name ? listener->name : "(unnamed)");
		goto out;
	}
	if (filter && !lb_as_registered(filter)) {
		g_critical("%s: address space %p is not initialised", __func__,
			   (void *)filter);
		goto out;
	}
	if (listener->log_sync && listener->log_sync_global) {
		g_critical("%s: listener %s has both log_sync and "
			   "log_sync_global", __func__,
			   listener->name ? listener->name : "(unnamed)");
		goto out;
	}
	if (!lb_listeners)
		lb_listeners = g_ptr_array_new();
	/* after every listener of the same or a lower priority */
	for (pos = lb_listeners->len; pos > 0; pos--)
		if (LB_LISTENER(pos - 1)->priority <= listener->priority)
			break;
	g_ptr_array_insert(lb_listeners, pos, listener);
	listener->address_space = filter;
	listener->registered = true;

	global_start = lb_global_dirty_tracking != 0;
	lb_callback_depth++;
	for (AddressSpace *as = lb_address_spaces(); as; as = as->next) {
		if (!lb_listener_sees(listener, as))
			continue;
		lb_replay_add(listener, as, global_start);
		global_start = false;
	}
	/* a catch-all listener with no address space yet */
	if (global_start)
		lb_global_start_one(listener);
	lb_callback_depth--;
out:
	lb_memory_unlock();
}

static void lb_unregister(MemoryListener *listener, guint index)
{
	lb_callback_depth++;
	for (AddressSpace *as = lb_address_spaces(); as; as = as->next)
		if (lb_listener_sees(listener, as))
			lb_replay_del(listener, as);
	lb_callback_depth--;
	g_ptr_array_remove_index(lb_listeners, index);
	listener->address_space = NULL;
	listener->registered = false;
}

LOOPBACK_API void memory_listener_unregister(MemoryListener *listener)
{
	guint index;

	g_return_if_fail(listener != NULL);
	lb_memory_lock();
	if (!lb_memory_change_allowed(__func__))
		goto out;
	if (!lb_listener_find(listener, &index)) {
		g_critical("%s: listener %s is not registered", __func__,
			   listener->name ? listener->name : "(unnamed)");
		goto out;
	}
	lb_unregister(listener, index);
out:
	lb_memory_unlock();
}

/* Unregisters, in call order, every listener whose filter is @as. */
static void lb_unregister_bound(AddressSpace *as, bool complain)
{
	guint i = 0;

	while (i < LB_NLISTENERS) {
		MemoryListener *l = LB_LISTENER(i);

		if (l->address_space != as) {
			i++;
			continue;
		}
		/* QEMU asserts; unregistering keeps the listener consistent */
		if (complain)
			g_critical("address_space_destroy: listener %s is "
				   "still registered on %s; unregistering it",
				   l->name ? l->name : "(unnamed)", as->name);
		lb_unregister(l, i);
	}
}

void lb_listeners_as_destroy(AddressSpace *as)
{
	lb_unregister_bound(as, true);
}

LOOPBACK_API void address_space_remove_listeners(AddressSpace *as)
{
	g_return_if_fail(as != NULL);
	lb_memory_lock();
	if (!lb_memory_change_allowed(__func__))
		goto out;
	if (!lb_as_registered(as)) {
		g_critical("%s: address space %p is not initialised", __func__,
			   (void *)as);
		goto out;
	}
	lb_unregister_bound(as, false);
out:
	lb_memory_unlock();
}

/* ---- dirty logging ---- */

/*
 * Takes the lock to call listeners from outside a commit; false (unlocked
 * again) when the caller is itself inside a callback.
 */
static bool lb_callbacks_enter(const char *func)
{
	lb_memory_lock();
	if (!lb_memory_change_allowed(func)) {
		lb_memory_unlock();
		return false;
	}
	lb_callback_depth++;
	return true;
}

static void lb_callbacks_leave(void)
{
	lb_callback_depth--;
	lb_memory_unlock();
}

typedef void (*lb_logged_fn)(MemoryListener *l, const FlatRange *fr,
			     FlatView *fv, void *data);

/*
 * Calls @fn for every range of @mr (of any region when NULL) that is being
 * logged, in every address space @l sees.  Under the lock, in callbacks.
 */
static void lb_each_logged_range(MemoryListener *l, const MemoryRegion *mr,
				 lb_logged_fn fn, void *data)
{
	for (AddressSpace *as = lb_address_spaces(); as; as = as->next) {
		FlatView *fv = as->current_map;

		if (!lb_listener_sees(l, as))
			continue;
		for (uint32_t r = 0; fv && r < fv->nr; r++) {
			const FlatRange *fr = &fv->ranges[r];

			if (fr->dirty_log_mask && (!mr || fr->mr == mr))
				fn(l, fr, fv, data);
		}
	}
}

static void lb_sync_range(MemoryListener *l, const FlatRange *fr,
			  FlatView *fv, void *data)
{
	MemoryRegionSection s = lb_section(fr, fv);

	l->log_sync(l, &s);
}

LOOPBACK_API void memory_region_sync_dirty_bitmap(MemoryRegion *mr,
						  bool last_stage)
{
	MemoryListener *l;

	if ((mr && !lb_region_check(mr, __func__)) ||
	    !lb_callbacks_enter(__func__))
		return;
	LB_FORWARD(l, i) {
		if (l->log_sync) {
			lb_each_logged_range(l, mr, lb_sync_range, NULL);
		} else if (l->log_sync_global) {
			/* it cannot sync less than everything */
			l->log_sync_global(l, last_stage);
		}
	}
	lb_callbacks_leave();
}

LOOPBACK_API void memory_global_dirty_log_sync(bool last_stage)
{
	memory_region_sync_dirty_bitmap(NULL, last_stage);
}

LOOPBACK_API void memory_global_after_dirty_log_sync(void)
{
	MemoryListener *l;

	lb_memory_lock();
	if (lb_memory_change_allowed(__func__)) {
		lb_callback_depth++;
		LB_FORWARD(l, i)
			if (l->log_global_after_sync)
				l->log_global_after_sync(l);
		lb_callback_depth--;
	}
	lb_memory_unlock();
}

LOOPBACK_API unsigned int loopback_global_dirty_tracking(void)
{
	return __atomic_load_n(&lb_global_dirty_tracking, __ATOMIC_RELAXED);
}

/* Re-renders every view: the MIGRATION bit shows up or goes in the ranges. */
static void lb_dirty_tracking_changed(void)
{
	memory_region_transaction_begin();
	lb_memory_update_pending();
	memory_region_transaction_commit();
}

/*
 * log_global_start on every listener, forward; when one refuses, those
 * already started get log_global_stop in reverse and its error goes up.
 */
static bool lb_global_start_all(GError **errp)
{
	MemoryListener *l;
	bool ok = true;

	lb_callback_depth++;
	LB_FORWARD(l, i) {
		GError *err = NULL;

		if (!l->log_global_start || l->log_global_start(l, &err))
			continue;
		if (!err)
			err = g_error_new(G_FILE_ERROR, G_FILE_ERROR_FAILED,
					  "memory listener %s refused to start "
					  "dirty tracking",
					  l->name ? l->name : "(unnamed)");
		g_propagate_error(errp, err);
		while (i-- > 0) {
			l = LB_LISTENER(i);
			if (l->log_global_stop)
				l->log_global_stop(l);
		}
		ok = false;
		break;
	}
	lb_callback_depth--;
	return ok;
}

LOOPBACK_API bool memory_global_dirty_log_start(unsigned int flags,
						GError **errp)
{
	unsigned int old;
	bool ok = true;

	if (!flags || (flags & ~GLOBAL_DIRTY_MASK)) {
		g_critical("%s: invalid flags 0x%x", __func__, flags);
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "invalid global dirty tracking flags 0x%x", flags);
		return false;
	}
	lb_memory_lock();
	if (!lb_memory_change_allowed(__func__)) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
			    "dirty tracking cannot start from a memory "
			    "listener callback");
		ok = false;
		goto out;
	}
	flags &= ~lb_global_dirty_tracking;
	if (!flags)
		goto out;
	old = lb_global_dirty_tracking;
	/* atomic: read without the lock (lb_region_dirty_log_mask) */
	__atomic_store_n(&lb_global_dirty_tracking, old | flags,
			 __ATOMIC_RELAXED);
	if (old)
		goto out;
	if (!lb_global_start_all(errp)) {
		__atomic_store_n(&lb_global_dirty_tracking, old,
				 __ATOMIC_RELAXED);
		ok = false;
		goto out;
	}
	lb_dirty_tracking_changed();
out:
	lb_memory_unlock();
	return ok;
}

LOOPBACK_API void memory_global_dirty_log_stop(unsigned int flags)
{
	MemoryListener *l;

	if (!flags || (flags & ~GLOBAL_DIRTY_MASK)) {
		g_critical("%s: invalid flags 0x%x", __func__, flags);
		return;
	}
	lb_memory_lock();
	if (!lb_memory_change_allowed(__func__))
		goto out;
	if ((lb_global_dirty_tracking & flags) != flags) {
		g_critical("%s: flags 0x%x were not started (active: 0x%x)",
			   __func__, flags, lb_global_dirty_tracking);
		goto out;
	}
	__atomic_store_n(&lb_global_dirty_tracking,
			 lb_global_dirty_tracking & ~flags, __ATOMIC_RELAXED);
	if (lb_global_dirty_tracking)
		goto out;
	lb_dirty_tracking_changed();
	lb_callback_depth++;
	LB_REVERSE(l, i)
		if (l->log_global_stop)
			l->log_global_stop(l);
	lb_callback_depth--;
out:
	lb_memory_unlock();
}

/* Offsets [start, end) in the region whose bits are being cleared. */
struct lb_clear_range {
	u128 start, end;
};

/* log_clear for the part of @fr's section that shows the range, if any. */
static void lb_clear_range(MemoryListener *l, const FlatRange *fr,
			   FlatView *fv, void *data)
{
	const struct lb_clear_range *c = data;
	u128 from = MAX(c->start, (u128)fr->offset_in_region);
	u128 to = MIN(c->end, (u128)fr->offset_in_region + lb_range_size(fr));
	MemoryRegionSection s;

	if (from >= to)
		return;
	s = lb_section(fr, fv);
	s.offset_within_address_space += (hwaddr)(from - fr->offset_in_region);
	s.offset_within_region = (hwaddr)from;
	s.size = (Int128)(to - from);
	l->log_clear(l, &s);
}

LOOPBACK_API void memory_region_clear_dirty_bitmap(MemoryRegion *mr,
						   hwaddr start, hwaddr len)
{
	/* 65 bits: a range may end at 2^64 */
	struct lb_clear_range c = { start, (u128)start + len };
	MemoryListener *l;

	if (!lb_region_check(mr, __func__) || !lb_callbacks_enter(__func__))
		return;
	/* only ranges that are being logged */
	LB_FORWARD(l, i)
		if (l->log_clear)
			lb_each_logged_range(l, mr, lb_clear_range, &c);
	lb_callbacks_leave();
}
