// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The writers' side: one recursive lock, nested transactions, the list of
 * address spaces, and the rebuild of their flat views at the outermost
 * commit.
 */
#include "internal.h"

/* Protects the region tree, the fields below and every AddressSpace. */
static GRecMutex lb_lock;
/* Owner of lb_lock and its depth, so that lb_memory_locked() can answer. */
static GThread *lb_lock_owner;
static unsigned int lb_lock_depth;

static unsigned int lb_transaction_depth;
static bool lb_update_pending;
static bool lb_ioeventfd_pending;
static AddressSpace *lb_as_first;
static AddressSpace *lb_as_last;

void lb_memory_lock(void)
{
	g_rec_mutex_lock(&lb_lock);
	/* atomic: lb_memory_locked() reads it without the lock */
	g_atomic_pointer_set(&lb_lock_owner, g_thread_self());
	lb_lock_depth++;
}

void lb_memory_unlock(void)
{
	g_assert(lb_memory_locked());
	if (--lb_lock_depth == 0)
		g_atomic_pointer_set(&lb_lock_owner, NULL);
	g_rec_mutex_unlock(&lb_lock);
}

bool lb_memory_locked(void)
{
	/*
	 * Only the owner stores its own value, so only the owner can see it;
	 * another thread may read a stale value, but never its own.
	 */
	return g_atomic_pointer_get(&lb_lock_owner) == g_thread_self();
}

void lb_memory_update_pending(void)
{
	g_assert(lb_memory_locked());
	/* callers check lb_memory_change_allowed(); this catches the others */
	if (G_UNLIKELY(lb_listeners_running()))
		g_critical("the map changed inside a memory listener callback; "
			   "the change waits for the next commit");
	lb_update_pending = true;
}

void lb_memory_ioeventfd_update_pending(void)
{
	g_assert(lb_memory_locked());
	if (G_UNLIKELY(lb_listeners_running()))
		g_critical("ioeventfds changed inside a memory listener "
			   "callback; the change waits for the next commit");
	lb_ioeventfd_pending = true;
}

AddressSpace *lb_address_spaces(void)
{
	return lb_as_first;
}

static void lb_publish(AddressSpace *as, FlatView *fv)
{
	FlatView *old = as->current_map;

	lb_flatview_ref(fv);
	/* a release: a reader that loads fv sees it fully rendered */
	rcu_assign_pointer(as->current_map, fv);
	if (old)
		lb_flatview_unref(old);
}

/*
 * QEMU's commit: render every view first, so that listeners only ever see
 * finished views; then begin, per address space the topology passes
 * (against the view it still shows), the new view published and the
 * ioeventfd diff; then commit.
 */
static void lb_rebuild_views(void)
{
	GHashTable *views = g_hash_table_new(NULL, NULL);
	GHashTableIter it;
	gpointer key, value;

	/* the key NULL stands for the empty view */
	for (AddressSpace *as = lb_as_first; as; as = as->next) {
		MemoryRegion *root = lb_flatview_root(as->root);

		if (!g_hash_table_contains(views, root))
			g_hash_table_insert(views, root,
					    lb_flatview_render(root));
	}
	lb_listeners_begin(NULL);
	for (AddressSpace *as = lb_as_first; as; as = as->next) {
		FlatView *fv = g_hash_table_lookup(views,
						   lb_flatview_root(as->root));

		lb_listeners_topology(as, as->current_map, fv);
		lb_publish(as, fv);
		lb_listeners_ioeventfds(as);
	}
	lb_listeners_commit(NULL);
	/* Drop the render references: the address spaces hold their own. */
	g_hash_table_iter_init(&it, views);
	while (g_hash_table_iter_next(&it, &key, &value))
		lb_flatview_unref(value);
	g_hash_table_destroy(views);
}

LOOPBACK_API void memory_region_transaction_begin(void)
{
	/* QEMU flushes here: buffered writes land on the map they were made on */
	qemu_flush_coalesced_mmio_buffer();
	lb_memory_lock();
	lb_transaction_depth++;
}

LOOPBACK_API void memory_region_transaction_commit(void)
{
	if (!lb_memory_locked() || lb_transaction_depth == 0) {
		g_critical("%s: no transaction is open in this thread", __func__);
		return;
	}
	/* inside listener callbacks nothing may recurse into another commit */
	if (--lb_transaction_depth == 0 && !lb_listeners_running()) {
		if (lb_update_pending) {
			lb_update_pending = false;
			lb_ioeventfd_pending = false;
			lb_rebuild_views();
		} else if (lb_ioeventfd_pending) {
			lb_ioeventfd_pending = false;
			for (AddressSpace *as = lb_as_first; as; as = as->next)
				lb_listeners_ioeventfds(as);
		}
	}
	lb_memory_unlock();
}

/* The view @as shows now: another space's with the same root, or a new one. */
static FlatView *lb_view_for(AddressSpace *as)
{
	MemoryRegion *root = lb_flatview_root(as->root);

	for (AddressSpace *o = lb_as_first; o; o = o->next)
		if (o != as && o->current_map &&
		    lb_flatview_root(o->root) == root) {
			lb_flatview_ref(o->current_map);
			return o->current_map;
		}
	return lb_flatview_render(root);
}

LOOPBACK_API void address_space_init(AddressSpace *as, MemoryRegion *root,
				     const char *name)
{
	FlatView *fv;

	g_return_if_fail(as != NULL);
	if (!lb_region_check(root, __func__))
		return;

	memory_region_transaction_begin();
	if (!lb_memory_change_allowed(__func__))
		goto out;
	memset(as, 0, sizeof(*as));
	lb_map_init(as);
	memory_region_ref(root);
	as->root = root;
	as->name = g_strdup(name ? name : "anonymous");
	if (lb_as_last)
		lb_as_last->next = as;
	else
		lb_as_first = as;
	lb_as_last = as;
	/*
	 * As QEMU: only this space gets a view, the others keep theirs.  Only
	 * catch-all listeners can see it yet; they hear it as one commit.
	 */
	fv = lb_view_for(as);
	lb_listeners_begin(as);
	lb_listeners_topology(as, NULL, fv);
	lb_publish(as, fv);
	lb_flatview_unref(fv);
	lb_listeners_ioeventfds(as);
	lb_listeners_commit(as);
out:
	memory_region_transaction_commit();
}

LOOPBACK_API void address_space_destroy(AddressSpace *as)
{
	AddressSpace **pp, *prev = NULL;
	FlatView *old;

	g_return_if_fail(as != NULL);
	memory_region_transaction_begin();
	for (pp = &lb_as_first; *pp && *pp != as; pp = &(*pp)->next)
		prev = *pp;
	if (!*pp) {
		g_critical("%s: address space %p is not initialised", __func__,
			   (void *)as);
		memory_region_transaction_commit();
		return;
	}
	if (!lb_memory_change_allowed(__func__)) {
		memory_region_transaction_commit();
		return;
	}
	lb_listeners_as_destroy(as);
	/* Catch-all listeners hear everything go, as one commit. */
	old = as->current_map;
	lb_listeners_begin(as);
	lb_listeners_topology(as, old, NULL);
	rcu_assign_pointer(as->current_map, NULL);
	lb_listeners_ioeventfds(as);
	lb_listeners_commit(as);
	g_free(as->ioeventfds);
	as->ioeventfds = NULL;
	*pp = as->next;
	if (lb_as_last == as)
		lb_as_last = prev;
	/* Readers may still hold the view; it goes after a grace period. */
	if (old)
		lb_flatview_unref(old);
	lb_map_destroy(as);
	memory_region_unref(as->root);
	g_free(as->name);
	as->name = NULL;
	as->root = NULL;
	memory_region_transaction_commit();
}

LOOPBACK_API FlatView *address_space_to_flatview(AddressSpace *as)
{
	return rcu_dereference(as->current_map);
}
