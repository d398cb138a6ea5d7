// SPDX-License-Identifier: LGPL-2.1-or-later
/* Starting and stopping the backend's rings (split layout). */

#include "vhost-user-internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static bool state_locked(loopback_vhost_user *vu, uint32_t request,
			 unsigned int index, unsigned int num, GError **error)
{
	struct lb_vu_msg msg;

	lb_vu_msg_init(&msg, request, LB_VU_STATE_SIZE);
	msg.p.state.index = index;
	msg.p.state.num = num;
	return lb_vu_exchange_locked(vu, &msg, NULL, 0, NULL, 0, NULL, 0, NULL,
				     error);
}

/* SET_VRING_KICK or CALL: the fd, or polling when there is none */
static bool vring_fd_locked(loopback_vhost_user *vu, uint32_t request,
			    unsigned int index, int fd, GError **error)
{
	struct lb_vu_msg msg;

	lb_vu_msg_init(&msg, request, sizeof(uint64_t));
	msg.p.u64 = index & LB_VU_VRING_IDX_MASK;
	if (fd < 0)
		msg.p.u64 |= LB_VU_VRING_NOFD;
	return lb_vu_exchange_locked(vu, &msg, &fd, fd < 0 ? 0 : 1, NULL, 0,
				     NULL, 0, NULL, error);
}

static bool index_ok(loopback_vhost_user *vu, unsigned int index,
		     GError **error)
{
	unsigned int max = LB_VU_MAX_VRINGS;

	if (index < max)
		return true;
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_INVALID,
		    "vhost-user: ring %u does not exist: vhost-user numbers rings 0 to %u",
		    index, max - 1);
	return false;
}

static bool size_ok(unsigned int index, unsigned int num, GError **error)
{
	if (num && num <= 32768 && !(num & (num - 1)))
		return true;
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_INVALID,
		    "vhost-user: ring %u: size %u is not a power of 2 up to 32768",
		    index, num);
	return false;
}

/* What a reconnect needs to start the ring again. */
static void record_started(loopback_vhost_user *vu, unsigned int index,
			   const loopback_vhost_user_vring *r)
{
	vu->vrings[index].started = true;
	vu->vrings[index].num = r->num;
	vu->vrings[index].avail_gpa = r->avail;
	vu->vrings[index].used_gpa = r->used;
	vu->vrings[index].cfg = *r;
}

static bool start_locked(loopback_vhost_user *vu, unsigned int index,
			 const loopback_vhost_user_vring *r, GError **error)
{
	uint64_t n = r->num;
	struct lb_vu_msg msg;
	uint64_t desc, avail, used;

	if (!size_ok(index, r->num, error))
		return false;
	/* split ring sizes, with the event index fields */
	if (!lb_vu_memtable_translate_locked(vu, r->desc, 16 * n, &desc,
					     error) ||
	    !lb_vu_memtable_translate_locked(vu, r->avail, 6 + 2 * n, &avail,
					     error) ||
	    !lb_vu_memtable_translate_locked(vu, r->used, 6 + 8 * n, &used,
					     error)) {
		g_prefix_error(error, "ring %u: ", index);
		return false;
	}
	if (!state_locked(vu, LB_VU_SET_VRING_NUM, index, r->num, error) ||
	    !state_locked(vu, LB_VU_SET_VRING_BASE, index, r->base, error))
		return false;
	lb_vu_msg_init(&msg, LB_VU_SET_VRING_ADDR, LB_VU_ADDR_SIZE);
	msg.p.addr.index = index;
	/* user addresses: we do not negotiate ACCESS_PLATFORM with it */
	msg.p.addr.desc = desc;
	msg.p.addr.avail = avail;
	msg.p.addr.used = used;
	if (!lb_vu_exchange_locked(vu, &msg, NULL, 0, NULL, 0, NULL, 0, NULL,
				   error) ||
	    !vring_fd_locked(vu, LB_VU_SET_VRING_KICK, index, r->kick_fd,
			     error) ||
	    !vring_fd_locked(vu, LB_VU_SET_VRING_CALL, index, r->call_fd,
			     error))
		return false;
	record_started(vu, index, r);
	/* rings start disabled once PROTOCOL_FEATURES is negotiated */
	if (vu->backend_features &
	    (1ULL << LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES))
		return state_locked(vu, LB_VU_SET_VRING_ENABLE, index, 1,
				    error);
	return true;
}

LB_VU_EXPORT bool loopback_vhost_user_vring_start(
	loopback_vhost_user *vu, unsigned int index,
	const loopback_vhost_user_vring *vring, GError **error)
{
	GError *err = NULL;
	bool ok = false, away;

	if (!index_ok(vu, index, error) || !size_ok(index, vring->num, error))
		return false;
	g_mutex_lock(&vu->lock);
	away = lb_vu_down_locked(vu);
	if (!away)
		ok = lb_vu_negotiated_locked(vu, error) &&
			start_locked(vu, index, vring, &err);
	/* the backend is, or just went, away: the reconnect starts it */
	if (away || (!ok && lb_vu_deferred_locked(vu, &err))) {
		record_started(vu, index, vring);
		ok = true;
	}
	if (err)
		g_propagate_error(error, err);
	g_mutex_unlock(&vu->lock);
	return ok;
}

LB_VU_EXPORT bool loopback_vhost_user_vring_enable(loopback_vhost_user *vu,
						   unsigned int index,
						   bool enable, GError **error)
{
	bool ok;

	if (!index_ok(vu, index, error))
		return false;
	g_mutex_lock(&vu->lock);
	if (lb_vu_down_locked(vu)) {
		/* the reconnect enables every started ring */
		g_mutex_unlock(&vu->lock);
		return true;
	}
	ok = lb_vu_negotiated_locked(vu, error);
	if (ok && !(vu->backend_features &
		    (1ULL << LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES))) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: SET_VRING_ENABLE needs PROTOCOL_FEATURES, which the backend does not offer: its rings are always enabled");
		ok = false;
	}
	ok = ok &&
		state_locked(vu, LB_VU_SET_VRING_ENABLE, index, enable, error);
	g_mutex_unlock(&vu->lock);
	return ok;
}

/* Our mapping of the 16-bit index at @gpa + 2 (avail->idx, used->idx). */
static const uint16_t *ring_idx_locked(loopback_vhost_user *vu,
				       unsigned int index, uint64_t gpa,
				       GError **error)
{
	uint64_t uaddr;

	/* through today's table: the memory may have moved since the start */
	if (!lb_vu_memtable_translate_locked(vu, gpa, 4, &uaddr, error)) {
		g_prefix_error(error, "ring %u: ", index);
		return NULL;
	}
	return (const uint16_t *)(uintptr_t)(uaddr + 2);
}

static uint16_t load_idx(const uint16_t *idx)
{
	return GUINT16_FROM_LE(__atomic_load_n(idx, __ATOMIC_ACQUIRE));
}

/* Waits until the used index equals @want (or *@avail when given). */
static bool wait_used_locked(loopback_vhost_user *vu, unsigned int index,
			     const uint16_t *avail, uint16_t want,
			     GError **error)
{
	gint64 deadline = lb_vu_deadline(vu->timeout_ms);
	const uint16_t *used = ring_idx_locked(vu, index,
					       vu->vrings[index].used_gpa,
					       error);
	uint16_t now = 0;

	if (!used)
		return false;
	for (;;) {
		if (avail)
			want = load_idx(avail);
		now = load_idx(used);
		if (now == want)
			return true;
		if (g_get_monotonic_time() >= deadline)
			break;
		g_usleep(100);
	}
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_TIMEOUT,
		    "vhost-user: ring %u: the used index is still %u after %u ms, %u expected: the backend did not complete its requests",
		    index, now, vu->timeout_ms, want);
	return false;
}

static bool started_ok(loopback_vhost_user *vu, unsigned int index,
		       GError **error)
{
	if (vu->vrings[index].started)
		return true;
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_INVALID,
		    "vhost-user: ring %u was not started", index);
	return false;
}

static bool stop_locked(loopback_vhost_user *vu, unsigned int index,
			uint16_t *base, GError **error)
{
	struct lb_vu_msg msg, reply;

	if (!started_ok(vu, index, error))
		return false;
	/*
	 * The backend answers GET_VRING_BASE and may still complete a request
	 * (qemu-storage-daemon 7.2 does): the used index must catch up.
	 */
	if ((vu->backend_features &
	     (1ULL << LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES)) &&
	    !state_locked(vu, LB_VU_SET_VRING_ENABLE, index, 0, error))
		return false;
	lb_vu_msg_init(&msg, LB_VU_GET_VRING_BASE, LB_VU_STATE_SIZE);
	msg.p.state.index = index;
	if (!lb_vu_exchange_locked(vu, &msg, NULL, 0, &reply, LB_VU_STATE_SIZE,
				   NULL, 0, NULL, error))
		return false;
	vu->vrings[index].started = false;
	if (reply.p.state.index != index || reply.p.state.num > 0xffff) {
		lb_vu_break_locked(vu, g_error_new(
			LOOPBACK_VHOST_USER_ERROR,
			LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			"vhost-user: GET_VRING_BASE of ring %u answered ring %u, base %u: it does not follow the protocol",
			index, reply.p.state.index, reply.p.state.num));
		return lb_vu_usable_locked(vu, error);
	}
	*base = (uint16_t)reply.p.state.num;
	return wait_used_locked(vu, index, NULL, *base, error);
}

/* With the backend away: the ring is the driver's again, as the used index says. */
static void stop_away_locked(loopback_vhost_user *vu, unsigned int index,
			     uint16_t *base)
{
	const uint16_t *used = ring_idx_locked(vu, index,
					       vu->vrings[index].used_gpa, NULL);

	vu->vrings[index].started = false;
	*base = used ? load_idx(used) : 0;
}

LB_VU_EXPORT bool loopback_vhost_user_vring_stop(loopback_vhost_user *vu,
						 unsigned int index,
						 uint16_t *base,
						 GError **error)
{
	GError *err = NULL;
	uint16_t b = 0;
	bool ok = false, away;

	if (!index_ok(vu, index, error))
		return false;
	g_mutex_lock(&vu->lock);
	away = lb_vu_down_locked(vu);
	if (!away)
		ok = lb_vu_negotiated_locked(vu, error) &&
			stop_locked(vu, index, &b, &err);
	/* the backend is, or went during the stop, away: nothing to stop */
	if (away || (!ok && vu->vrings[index].started &&
		     lb_vu_deferred_locked(vu, &err))) {
		stop_away_locked(vu, index, &b);
		ok = true;
	}
	if (err)
		g_propagate_error(error, err);
	g_mutex_unlock(&vu->lock);
	if (base)
		*base = b;
	return ok;
}

LB_VU_EXPORT bool loopback_vhost_user_vring_drain(loopback_vhost_user *vu,
						  unsigned int index,
						  GError **error)
{
	const uint16_t *avail;
	bool ok;

	if (!index_ok(vu, index, error))
		return false;
	g_mutex_lock(&vu->lock);
	if (lb_vu_down_locked(vu)) {
		/* nobody serves the ring: do not wait for the timeout */
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_DISCONNECTED,
			    "vhost-user: ring %u cannot drain: the backend went away (a reconnect is pending)",
			    index);
		g_mutex_unlock(&vu->lock);
		return false;
	}
	ok = lb_vu_negotiated_locked(vu, error) &&
		started_ok(vu, index, error);
	avail = ok ? ring_idx_locked(vu, index, vu->vrings[index].avail_gpa,
				     error) : NULL;
	ok = avail && wait_used_locked(vu, index, avail, 0, error);
	g_mutex_unlock(&vu->lock);
	return ok;
}

static void poke(int fd)
{
	uint64_t one = 1;

	/* a full counter (EAGAIN) is a pending signal all the same */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		g_debug("vhost-user: eventfd %d: %s", fd, g_strerror(errno));
}

/*
 * Without in-flight tracking the new backend takes every available entry
 * from the used index on.  A head found twice there can only be an entry
 * the old backend completed out of order and the driver reused: running
 * it again would run whatever the head describes now.
 */
static bool heads_distinct(loopback_vhost_user *vu, unsigned int index,
			   uint16_t used, uint16_t avail, GError **error)
{
	struct lb_vu_vring_state *st = &vu->vrings[index];
	g_autofree uint8_t *seen = g_malloc0(st->num);
	uint64_t ring;

	if (!lb_vu_memtable_translate_locked(vu, st->avail_gpa, 4 + 2 * st->num,
					     &ring, error))
		return false;
	for (uint16_t p = used; p != avail; p++) {
		const uint16_t *e = (const uint16_t *)(uintptr_t)
			(ring + 4 + 2 * (p % st->num));
		uint16_t head = GUINT16_FROM_LE(__atomic_load_n(e,
							__ATOMIC_RELAXED));

		if (head < st->num && !seen[head]++)
			continue;
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: ring %u: head %u is %s between the used index %u and the available index %u: the old backend completed requests out of order, so the ring cannot be restored from the used index",
			    index, head, head < st->num ? "available twice" :
			    "out of range", used, avail);
		return false;
	}
	return true;
}

bool lb_vu_vring_restore_locked(loopback_vhost_user *vu, unsigned int index,
				bool inflight, GError **error)
{
	struct lb_vu_vring_state *st = &vu->vrings[index];
	loopback_vhost_user_vring r = st->cfg;
	const uint16_t *used = ring_idx_locked(vu, index, st->used_gpa, error);
	const uint16_t *avail = used ? ring_idx_locked(vu, index, st->avail_gpa,
						       error) : NULL;
	uint16_t u, a;

	if (!avail)
		return false;
	/* the old backend is gone: its last used index is final */
	u = load_idx(used);
	a = load_idx(avail);
	if ((uint16_t)(a - u) > st->num) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: ring %u: used index %u and available index %u are more than the ring's %u entries apart",
			    index, u, a, st->num);
		return false;
	}
	if (!inflight && !heads_distinct(vu, index, u, a, error))
		return false;
	r.base = u;
	if (!start_locked(vu, index, &r, error))
		return false;
	/*
	 * The old backend may have taken the last kick, or published a
	 * completion without signalling it: one of each, both harmless.
	 */
	poke(r.kick_fd);
	poke(r.call_fd);
	return true;
}
