// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The memory table: a MemoryListener on the caller's AddressSpace turns
 * every RAM section into a region for the backend (the fd of the section's
 * region, the section's offset in that fd, and our own mapping's address
 * as the user address that ring addresses are given in).
 */

#include "vhost-user-internal.h"

#include <inttypes.h>
#include <stdio.h>

struct lb_vu_mem_entry {
	MemoryRegion *mr;	/* referenced in pending, not in sent */
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t fd_offset;
	int fd;
};

struct lb_vu_memtable {
	MemoryListener listener;
	loopback_vhost_user *vu;
	bool registered;
	bool registering;	/* errors go to the caller, not the session */
	bool detaching;		/* unregistering: nothing to send */
	bool dirty;
	GError *error;
	/* what the listener sees (changed under the memory writers' lock) */
	GArray *pending;
	/* what the backend was given (under vu->lock) */
	GArray *sent;
};

/*
 * The offset in its file of our mapping at @host: the kernel knows it,
 * the memory API does not export it, so ask /proc/self/maps.
 */
static bool fd_offset_of(const void *host, uint64_t *offset, GError **error)
{
	g_autofree char *maps = NULL;
	g_autoptr(GError) err = NULL;
	uintptr_t a = (uintptr_t)host;

	if (!g_file_get_contents("/proc/self/maps", &maps, NULL, &err)) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_FAILED,
			    "vhost-user: cannot read /proc/self/maps to find the memory's offsets: %s (is /proc mounted?)",
			    err->message);
		return false;
	}
	for (char *line = maps; line && *line;) {
		char *next = strchr(line, '\n');
		uint64_t start, end, off;

		if (next)
			*next++ = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64,
			   &start, &end, &off) == 3 &&
		    start <= a && a < end) {
			*offset = off + (a - start);
			return true;
		}
		line = next;
	}
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_FAILED,
		    "vhost-user: RAM at %p is not mapped in this process", host);
	return false;
}

static struct lb_vu_memtable *of(MemoryListener *l)
{
	return container_of(l, struct lb_vu_memtable, listener);
}

static void set_error(struct lb_vu_memtable *mt, GError *err)
{
	if (mt->error)
		g_error_free(err);
	else
		mt->error = err;
}

static void region_add(MemoryListener *l, MemoryRegionSection *s)
{
	struct lb_vu_memtable *mt = of(l);
	struct lb_vu_mem_entry e = { 0 };
	GError *err = NULL;

	if (!memory_region_is_ram(s->mr))
		return;		/* the register block: the kernel's to serve */
	e.gpa = s->offset_within_address_space;
	e.size = int128_get64(s->size);
	e.fd = memory_region_get_fd(s->mr);
	if (e.fd < 0) {
		set_error(mt, g_error_new(LOOPBACK_VHOST_USER_ERROR,
					  LOOPBACK_VHOST_USER_ERROR_INVALID,
					  "vhost-user: RAM %s at 0x%" G_GINT64_MODIFIER "x has no fd, so the backend cannot map it: create it with memory_region_init_ram_from_fd (a memfd, RAM_SHARED)",
					  memory_region_name(s->mr), e.gpa));
		return;
	}
	e.uaddr = (uintptr_t)memory_region_get_ram_ptr(s->mr) +
		s->offset_within_region;
	if (!fd_offset_of((void *)(uintptr_t)e.uaddr, &e.fd_offset, &err)) {
		set_error(mt, err);
		return;
	}
	e.mr = s->mr;
	memory_region_ref(e.mr);
	g_array_append_val(mt->pending, e);
	mt->dirty = true;
}

static void region_del(MemoryListener *l, MemoryRegionSection *s)
{
	struct lb_vu_memtable *mt = of(l);
	uint64_t gpa = s->offset_within_address_space;

	for (guint i = 0; i < mt->pending->len; i++) {
		struct lb_vu_mem_entry *e =
			&g_array_index(mt->pending, struct lb_vu_mem_entry, i);

		if (e->mr == s->mr && e->gpa == gpa &&
		    e->size == int128_get64(s->size)) {
			memory_region_unref(e->mr);
			g_array_remove_index(mt->pending, i);
			mt->dirty = true;
			return;
		}
	}
}

static bool same(const struct lb_vu_mem_entry *a,
		 const struct lb_vu_mem_entry *b)
{
	return a->gpa == b->gpa && a->size == b->size &&
		a->uaddr == b->uaddr && a->fd_offset == b->fd_offset;
}

static bool contains(GArray *table, const struct lb_vu_mem_entry *e)
{
	for (guint i = 0; i < table->len; i++)
		if (same(&g_array_index(table, struct lb_vu_mem_entry, i), e))
			return true;
	return false;
}

static void fill_region(struct lb_vu_region *r, const struct lb_vu_mem_entry *e)
{
	r->gpa = e->gpa;
	r->size = e->size;
	r->uaddr = e->uaddr;
	r->mmap_offset = e->fd_offset;
}

static bool mem_reg_locked(loopback_vhost_user *vu, uint32_t request,
			   const struct lb_vu_mem_entry *e, GError **error)
{
	struct lb_vu_msg msg;

	lb_vu_msg_init(&msg, request, LB_VU_MEM_REG_SIZE);
	fill_region(&msg.p.mem_reg.region, e);
	/* REM_MEM_REG goes without an fd, as the spec says it should */
	return lb_vu_exchange_locked(vu, &msg, &e->fd,
				     request == LB_VU_ADD_MEM_REG ? 1 : 0,
				     NULL, 0, NULL, 0, NULL, error);
}

/* Brings the backend's table to @mt->pending. */
static bool sync_locked(loopback_vhost_user *vu, struct lb_vu_memtable *mt,
			GError **error)
{
	GArray *want = mt->pending;
	unsigned int limit = vu->max_mem_slots;

	/* the backend is away: the reconnect sends the whole table */
	if (lb_vu_down_locked(vu))
		return true;

	if (want->len > limit) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: the address space has %u RAM sections, the backend takes at most %u: use fewer, larger RAM regions",
			    want->len, limit);
		return false;
	}
	if (lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		for (guint i = 0; i < mt->sent->len;) {
			struct lb_vu_mem_entry *e = &g_array_index(
				mt->sent, struct lb_vu_mem_entry, i);

			if (contains(want, e)) {
				i++;
				continue;
			}
			if (!mem_reg_locked(vu, LB_VU_REM_MEM_REG, e, error))
				return false;
			g_array_remove_index(mt->sent, i);
		}
		for (guint i = 0; i < want->len; i++) {
			struct lb_vu_mem_entry e = g_array_index(
				want, struct lb_vu_mem_entry, i);

			if (contains(mt->sent, &e))
				continue;
			if (!mem_reg_locked(vu, LB_VU_ADD_MEM_REG, &e, error))
				return false;
			e.mr = NULL;
			g_array_append_val(mt->sent, e);
		}
		return true;
	}

	struct lb_vu_msg msg;
	int fds[LB_VU_MEM_TABLE_MAX];

	if (want->len == 0 && mt->sent->len == 0)
		return true;
	lb_vu_msg_init(&msg, LB_VU_SET_MEM_TABLE,
		       8 + want->len * sizeof(struct lb_vu_region));
	msg.p.memory.nregions = want->len;
	for (guint i = 0; i < want->len; i++) {
		struct lb_vu_mem_entry *e =
			&g_array_index(want, struct lb_vu_mem_entry, i);

		fill_region(&msg.p.memory.regions[i], e);
		fds[i] = e->fd;
	}
	if (!lb_vu_exchange_locked(vu, &msg, fds, want->len, NULL, 0, NULL, 0,
				   NULL, error))
		return false;
	g_array_set_size(mt->sent, 0);
	for (guint i = 0; i < want->len; i++) {
		struct lb_vu_mem_entry e =
			g_array_index(want, struct lb_vu_mem_entry, i);

		e.mr = NULL;
		g_array_append_val(mt->sent, e);
	}
	return true;
}

static void commit(MemoryListener *l)
{
	struct lb_vu_memtable *mt = of(l);
	loopback_vhost_user *vu = mt->vu;
	GError *err = NULL;

	if (mt->detaching || (!mt->dirty && !mt->error))
		return;
	mt->dirty = false;
	g_mutex_lock(&vu->lock);
	if (!mt->error && !sync_locked(vu, mt, &err))
		set_error(mt, err);
	if (mt->error && !mt->registering) {
		/* nobody to return it to: the session carries it */
		lb_vu_break_locked(vu, mt->error);
		mt->error = NULL;
	}
	g_mutex_unlock(&vu->lock);
}

static void release_pending(struct lb_vu_memtable *mt)
{
	for (guint i = 0; i < mt->pending->len; i++)
		memory_region_unref(g_array_index(mt->pending,
						  struct lb_vu_mem_entry, i).mr);
	g_array_set_size(mt->pending, 0);
}

static void detach(struct lb_vu_memtable *mt)
{
	if (!mt->registered)
		return;
	mt->detaching = true;
	memory_listener_unregister(&mt->listener);
	mt->detaching = false;
	mt->registered = false;
	release_pending(mt);
	g_clear_error(&mt->error);
}

LB_VU_EXPORT bool loopback_vhost_user_set_address_space(loopback_vhost_user *vu,
							 AddressSpace *as,
							 GError **error)
{
	struct lb_vu_memtable *mt = vu->mt;

	if (mt)
		detach(mt);
	if (!as)
		return true;
	g_mutex_lock(&vu->lock);
	if (!vu->negotiated) {
		g_mutex_unlock(&vu->lock);
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_INVALID,
			    "vhost-user: call loopback_vhost_user_negotiate before giving the memory");
		return false;
	}
	if (!lb_vu_down_locked(vu) && !lb_vu_usable_locked(vu, error)) {
		g_mutex_unlock(&vu->lock);
		return false;
	}
	g_mutex_unlock(&vu->lock);
	if (!mt) {
		mt = g_new0(struct lb_vu_memtable, 1);
		mt->vu = vu;
		mt->pending = g_array_new(FALSE, TRUE,
					  sizeof(struct lb_vu_mem_entry));
		mt->sent = g_array_new(FALSE, TRUE,
				       sizeof(struct lb_vu_mem_entry));
		mt->listener.name = "vhost-user";
		mt->listener.region_add = region_add;
		mt->listener.region_del = region_del;
		mt->listener.commit = commit;
		/* after the device's own listeners, like QEMU's vhost */
		mt->listener.priority = 10;
		g_mutex_lock(&vu->lock);
		vu->mt = mt;
		g_mutex_unlock(&vu->lock);
	}
	mt->registering = true;
	memory_listener_register(&mt->listener, as);
	mt->registered = true;
	mt->registering = false;
	if (mt->error) {
		GError *err = mt->error;

		mt->error = NULL;
		detach(mt);
		g_propagate_error(error, err);
		return false;
	}
	return true;
}

bool lb_vu_memtable_resend_locked(loopback_vhost_user *vu, GError **error)
{
	struct lb_vu_memtable *mt = vu->mt;

	if (!mt || !mt->registered)
		return true;
	g_array_set_size(mt->sent, 0);
	return sync_locked(vu, mt, error);
}

void lb_vu_memtable_free(struct lb_vu_memtable *mt)
{
	if (!mt)
		return;
	detach(mt);
	g_array_unref(mt->pending);
	g_array_unref(mt->sent);
	g_free(mt);
}

LB_VU_EXPORT unsigned int loopback_vhost_user_get_mem_region_count(
	loopback_vhost_user *vu)
{
	unsigned int n;

	g_mutex_lock(&vu->lock);
	n = vu->mt ? vu->mt->sent->len : 0;
	g_mutex_unlock(&vu->lock);
	return n;
}

bool lb_vu_memtable_translate_locked(loopback_vhost_user *vu, uint64_t gpa,
				     uint64_t len, uint64_t *uaddr,
				     GError **error)
{
	GArray *sent = vu->mt ? vu->mt->sent : NULL;

	for (guint i = 0; sent && i < sent->len; i++) {
		struct lb_vu_mem_entry *e =
			&g_array_index(sent, struct lb_vu_mem_entry, i);

		if (gpa >= e->gpa && gpa - e->gpa <= e->size &&
		    len <= e->size - (gpa - e->gpa)) {
			*uaddr = e->uaddr + (gpa - e->gpa);
			return true;
		}
	}
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_INVALID,
		    "vhost-user: [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER "x) is not inside one RAM section the backend was given: place the ring in the window's RAM, after loopback_vhost_user_set_address_space",
		    gpa, len);
	return false;
}
