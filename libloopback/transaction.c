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
	lb_update_pending = true;
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

/* Renders one view per distinct flat-view root and gives it to its users. */
static void lb_rebuild_views(void)
{
	GHashTable *views = g_hash_table_new(NULL, NULL);
	FlatView *empty = NULL;

	for (AddressSpace *as = lb_as_first; as; as = as->next) {
		MemoryRegion *root = lb_flatview_root(as->root);
		FlatView *fv;

		if (!root) {
			if (!empty)
				empty = lb_flatview_render(NULL);
			lb_publish(as, empty);
			continue;
		}
		fv = g_hash_table_lookup(views, root);
		if (!fv) {
			fv = lb_flatview_render(root);
			g_hash_table_insert(views, root, fv);
		}
		lb_publish(as, fv);
	}
	/* Drop the render references: the address spaces hold their own. */
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, views);
	while (g_hash_table_iter_next(&it, &key, &value))
		lb_flatview_unref(value);
	g_hash_table_destroy(views);
	if (empty)
		lb_flatview_unref(empty);
}

LOOPBACK_API void memory_region_transaction_begin(void)
{
	lb_memory_lock();
	lb_transaction_depth++;
}

LOOPBACK_API void memory_region_transaction_commit(void)
{
	if (!lb_memory_locked() || lb_transaction_depth == 0) {
		g_critical("%s: no transaction is open in this thread", __func__);
		return;
	}
	if (--lb_transaction_depth == 0 && lb_update_pending) {
		lb_update_pending = false;
		lb_rebuild_views();
	}
	lb_memory_unlock();
}

LOOPBACK_API void address_space_init(AddressSpace *as, MemoryRegion *root,
				     const char *name)
{
	g_return_if_fail(as != NULL);
	if (!lb_region_check(root, __func__))
		return;

	memory_region_transaction_begin();
	memset(as, 0, sizeof(*as));
	memory_region_ref(root);
	as->root = root;
	as->name = g_strdup(name ? name : "anonymous");
	if (lb_as_last)
		lb_as_last->next = as;
	else
		lb_as_first = as;
	lb_as_last = as;
	/* Only this address space needs a view, but a full rebuild is simple. */
	lb_memory_update_pending();
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
	*pp = as->next;
	if (lb_as_last == as)
		lb_as_last = prev;
	old = as->current_map;
	rcu_assign_pointer(as->current_map, NULL);
	/* Readers may still hold the view; it goes after a grace period. */
	if (old)
		lb_flatview_unref(old);
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
