// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * address_space_map/unmap: host pointers into RAM, bounce buffers from a
 * per-address-space byte budget for everything else, and the map clients
 * told when bounce space comes back (QEMU 9.1's system/physmem.c rules).
 */
#include "internal.h"

typedef struct LbBounce {
	AddressSpace *as;	/* NULL once the address space is destroyed */
	MemoryRegion *mr;	/* referenced, as QEMU does */
	hwaddr addr;
	hwaddr len;
	MemTxAttrs attrs;
	uint8_t buffer[];
} LbBounce;

typedef struct LbMapClient {
	void (*cb)(void *opaque);
	void *opaque;
} LbMapClient;

/*
 * Live bounce buffers by buffer address, so that unmap recognises them
 * without reading memory in front of a pointer it does not know.
 */
static GMutex lb_bounce_lock;
static GHashTable *lb_bounces;
/*
 * Bounce buffers in lb_bounces, read without the lock: an unmap of a
 * direct mapping (every virtqueue buffer in RAM) skips the lock while
 * there is none.  A bounce buffer's insertion happens before its map
 * returns, so the unmap that follows sees the count non-zero.
 */
static unsigned int lb_bounces_live;

void lb_map_init(AddressSpace *as)
{
	g_mutex_init(&as->map_lock);
	as->max_bounce_buffer_size = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
	as->bounce_buffer_size = 0;
	as->map_clients = NULL;
}

void lb_map_destroy(AddressSpace *as)
{
	uint64_t used = __atomic_load_n(&as->bounce_buffer_size,
					__ATOMIC_SEQ_CST);
	GHashTableIter it;
	gpointer value;

	if (used) {
		g_critical("address_space_destroy: %s still has %" PRIu64
			   " bytes of bounce buffers mapped", as->name, used);
		/* Their unmap must not touch this address space any more. */
		g_mutex_lock(&lb_bounce_lock);
		if (lb_bounces) {
			g_hash_table_iter_init(&it, lb_bounces);
			while (g_hash_table_iter_next(&it, NULL, &value)) {
				LbBounce *b = value;

				if (b->as == as)
					b->as = NULL;
			}
		}
		g_mutex_unlock(&lb_bounce_lock);
	}
	g_mutex_lock(&as->map_lock);
	if (as->map_clients)
		g_critical("address_space_destroy: %s still has %u map "
			   "clients; they will not be called", as->name,
			   g_slist_length(as->map_clients));
	g_slist_free_full(as->map_clients, g_free);
	as->map_clients = NULL;
	g_mutex_unlock(&as->map_lock);
	g_mutex_clear(&as->map_lock);
}

static bool lb_as_ok(AddressSpace *as, const char *func)
{
	if (G_UNLIKELY(!as || !as->root)) {
		g_critical("%s: address space %p is not initialised", func,
			   (void *)as);
		return false;
	}
	return true;
}

/*
 * How much of a direct access at offset @xlat of @fr's region stays inside
 * @fr and its block.  @fr may lie in an IOMMU's target view, so its own
 * address is worked out from @xlat, not taken from the caller.
 */
static hwaddr lb_direct_len(const FlatRange *fr, hwaddr xlat, hwaddr len)
{
	const RAMBlock *rb = fr->mr->ram_block;
	hwaddr at = fr->start + (xlat - fr->offset_in_region);
	uint64_t used = rb ? lb_ram_used(rb) : 0;

	/* Translation clamps RAM but not a ROM device's RAM. */
	if (len - 1 > fr->last - at)
		len = fr->last - at + 1;
	if (rb && xlat < used && len > used - xlat)
		len = used - xlat;
	return len;
}

hwaddr lb_map_extend(const FlatView *fv, const FlatRange *fr, hwaddr addr,
		     hwaddr xlat, hwaddr l, hwaddr len, bool is_write,
		     MemTxAttrs attrs)
{
	hwaddr done = MIN(l, lb_direct_len(fr, xlat, len));

	/*
	 * QEMU's rule (flatview_extend_translation): translate the next
	 * piece, IOMMUs included; same region, no gap.
	 * The caller keeps addr + len - 1 from wrapping.
	 */
	while (done < len) {
		const FlatRange *next;
		hwaddr nx, nl = len - done;
		MemoryRegion *mr = lb_translate_attrs(fv, addr + done, &nx, &nl,
						      &next, is_write, attrs);

		/* And direct: RAM behind a readonly alias stays readonly. */
		if (mr != fr->mr || nx != xlat + done ||
		    !lb_access_is_direct(next, is_write))
			break;
		done += MIN(nl, lb_direct_len(next, nx, len - done));
	}
	return done;
}

/* Takes up to @want bytes of @as's bounce budget; returns how many. */
static hwaddr lb_budget_take(AddressSpace *as, hwaddr want)
{
	uint64_t used = __atomic_load_n(&as->bounce_buffer_size,
					__ATOMIC_RELAXED);
	uint64_t max, take;

	do {
		max = __atomic_load_n(&as->max_bounce_buffer_size,
				      __ATOMIC_RELAXED);
		/* A lowered maximum may be below what is in use. */
		take = used < max ? MIN(max - used, want) : 0;
		if (!take)
			return 0;
	} while (!__atomic_compare_exchange_n(&as->bounce_buffer_size, &used,
					      used + take, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	return take;
}

static void lb_budget_give(AddressSpace *as, hwaddr len)
{
	__atomic_fetch_sub(&as->bounce_buffer_size, len, __ATOMIC_SEQ_CST);
}

/*
 * Calls and forgets every map client.  The list is taken under map_lock
 * and the callbacks run without it: a callback may map, or register again.
 *
 * No wake-up is lost: unmap gives the budget back before it takes the
 * list under map_lock, and register adds under map_lock before it reads
 * the budget; whichever takes the lock second sees the other's change.
 */
static void lb_notify_map_clients(AddressSpace *as)
{
	GSList *list;

	g_mutex_lock(&as->map_lock);
	list = as->map_clients;
	as->map_clients = NULL;
	g_mutex_unlock(&as->map_lock);
	/* Prepended on register: reversed, they run in registration order. */
	list = g_slist_reverse(list);
	for (GSList *l = list; l; l = l->next) {
		LbMapClient *c = l->data;

		c->cb(c->opaque);
	}
	g_slist_free_full(list, g_free);
}

static void *lb_map_bounce(AddressSpace *as, MemoryRegion *mr, hwaddr addr,
			   hwaddr *plen, bool is_write, MemTxAttrs attrs)
{
	hwaddr l = lb_budget_take(as, *plen);
	LbBounce *b;

	if (!l) {
		memory_region_unref(mr);
		*plen = 0;
		return NULL;
	}
	/* The budget bounds the size, but a raised maximum may be huge. */
	b = l <= G_MAXSIZE - sizeof(*b) ? g_try_malloc0(sizeof(*b) + l) : NULL;
	if (!b) {
		g_critical("address_space_map: no memory for a %#" PRIx64
			   "-byte bounce buffer", l);
		lb_budget_give(as, l);
		memory_region_unref(mr);
		*plen = 0;
		return NULL;
	}
	b->as = as;
	b->mr = mr;
	b->addr = addr;
	b->len = l;
	b->attrs = attrs;
	if (!is_write)
		address_space_read(as, addr, attrs, b->buffer, l);
	g_mutex_lock(&lb_bounce_lock);
	if (!lb_bounces)
		lb_bounces = g_hash_table_new(NULL, NULL);
	g_hash_table_insert(lb_bounces, b->buffer, b);
	__atomic_add_fetch(&lb_bounces_live, 1, __ATOMIC_RELEASE);
	g_mutex_unlock(&lb_bounce_lock);
	*plen = l;
	return b->buffer;
}

LOOPBACK_API void *address_space_map(AddressSpace *as, hwaddr addr,
				     hwaddr *plen, bool is_write,
				     MemTxAttrs attrs)
{
	const FlatRange *fr;
	MemoryRegion *mr;
	FlatView *fv;
	hwaddr xlat, len, l;
	void *ptr;

	if (!lb_as_ok(as, __func__))
		return NULL;
	if (!plen) {
		g_critical("%s: NULL length pointer", __func__);
		return NULL;
	}
	len = *plen;
	if (!len)
		return NULL;
	/* A range may not wrap around the end of the address space. */
	if (len - 1 > HWADDR_MAX - addr)
		len = HWADDR_MAX - addr + 1;
	l = len;
	lb_rcu_read_lock();
	fv = rcu_dereference(as->current_map);
	/* QEMU's flatview_translate: through IOMMUs to what they map */
	mr = lb_translate_attrs(fv, addr, &xlat, &l, &fr, is_write, attrs);
	if (!lb_access_is_direct(fr, is_write)) {
		/* The view holds a reference until we leave the section. */
		memory_region_ref(mr);
		lb_rcu_read_unlock();
		/* QEMU bounces what translation left: RAM (a ROM) is cut */
		*plen = l;
		return lb_map_bounce(as, mr, addr, plen, is_write, attrs);
	}
	*plen = lb_map_extend(fv, fr, addr, xlat, l, len, is_write, attrs);
	ptr = fr->host + xlat;
	memory_region_ref(mr);
	__atomic_fetch_add(&mr->ram_block->maps, 1, __ATOMIC_RELAXED);
	lb_rcu_read_unlock();
	return ptr;
}

static void lb_unmap_bounce(AddressSpace *as, LbBounce *b, bool is_write,
			    hwaddr access_len)
{
	AddressSpace *owner = b->as;

	if (access_len > b->len) {
		g_critical("address_space_unmap: access_len %#" PRIx64
			   " is beyond the %#" PRIx64 "-byte mapping",
			   access_len, b->len);
		access_len = b->len;
	}
	if (owner && owner != as)
		g_critical("address_space_unmap: buffer was mapped in %s, not "
			   "%s", owner->name, as ? as->name : "(null)");
	if (!owner) {
		g_critical("address_space_unmap: the address space of this "
			   "buffer was destroyed; nothing written back");
	} else {
		if (is_write && access_len)
			address_space_write(owner, b->addr, b->attrs,
					    b->buffer, access_len);
		lb_budget_give(owner, b->len);
	}
	memory_region_unref(b->mr);
	g_free(b);
	if (owner)
		lb_notify_map_clients(owner);
}

LOOPBACK_API void address_space_unmap(AddressSpace *as, void *buffer,
				      hwaddr len, bool is_write,
				      hwaddr access_len)
{
	LbBounce *b = NULL;
	MemoryRegion *mr;
	ram_addr_t offset;
	unsigned int maps;

	if (!buffer) {
		g_critical("%s: NULL buffer", __func__);
		return;
	}
	if (__atomic_load_n(&lb_bounces_live, __ATOMIC_ACQUIRE)) {
		g_mutex_lock(&lb_bounce_lock);
		b = g_hash_table_lookup(lb_bounces, buffer);
		if (b) {
			g_hash_table_remove(lb_bounces, buffer);
			__atomic_sub_fetch(&lb_bounces_live, 1,
					   __ATOMIC_RELAXED);
		}
		g_mutex_unlock(&lb_bounce_lock);
	}
	if (b) {
		lb_unmap_bounce(as, b, is_write, access_len);
		return;
	}

	mr = memory_region_from_host(buffer, &offset);
	maps = mr ? __atomic_load_n(&mr->ram_block->maps, __ATOMIC_RELAXED) : 0;
	do {
		if (!maps) {
			g_critical("%s: %p was not returned by "
				   "address_space_map", __func__, buffer);
			return;
		}
	} while (!__atomic_compare_exchange_n(&mr->ram_block->maps, &maps,
					      maps - 1, false,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if (access_len > len) {
		g_critical("%s: access_len %#" PRIx64 " is beyond the %#"
			   PRIx64 "-byte mapping", __func__, access_len, len);
		access_len = len;
	}
	if (is_write && access_len) {
		uint8_t mask = memory_region_get_dirty_log_mask(mr);

		if (mask)
			lb_dirty_mark(mr, offset, access_len, mask);
	}
	memory_region_unref(mr);
}

LOOPBACK_API void address_space_register_map_client(AddressSpace *as,
						     void (*cb)(void *opaque),
						     void *opaque)
{
	LbMapClient *c;
	uint64_t used, max;

	if (!lb_as_ok(as, __func__))
		return;
	if (!cb) {
		g_critical("%s: NULL callback", __func__);
		return;
	}
	c = g_new(LbMapClient, 1);
	c->cb = cb;
	c->opaque = opaque;
	g_mutex_lock(&as->map_lock);
	as->map_clients = g_slist_prepend(as->map_clients, c);
	g_mutex_unlock(&as->map_lock);
	/* QEMU 9.1: if a mapping may succeed now, notify at once. */
	used = __atomic_load_n(&as->bounce_buffer_size, __ATOMIC_SEQ_CST);
	max = __atomic_load_n(&as->max_bounce_buffer_size, __ATOMIC_RELAXED);
	if (used < max)
		lb_notify_map_clients(as);
}

LOOPBACK_API void address_space_unregister_map_client(AddressSpace *as,
						       void (*cb)(void *opaque),
						       void *opaque)
{
	if (!lb_as_ok(as, __func__))
		return;
	g_mutex_lock(&as->map_lock);
	for (GSList *l = as->map_clients; l; l = l->next) {
		LbMapClient *c = l->data;

		/* Already notified (and so gone) is not an error: QEMU too. */
		if (c->cb == cb && c->opaque == opaque) {
			as->map_clients = g_slist_delete_link(as->map_clients,
							      l);
			g_free(c);
			break;
		}
	}
	g_mutex_unlock(&as->map_lock);
}

LOOPBACK_API void
loopback_address_space_set_max_bounce_buffer_size(AddressSpace *as,
						   uint64_t size)
{
	uint64_t used;

	if (!lb_as_ok(as, __func__))
		return;
	__atomic_store_n(&as->max_bounce_buffer_size, size, __ATOMIC_SEQ_CST);
	/* More room may let a waiting client map now. */
	used = __atomic_load_n(&as->bounce_buffer_size, __ATOMIC_SEQ_CST);
	if (used < size)
		lb_notify_map_clients(as);
}
