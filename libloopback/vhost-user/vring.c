// SPDX-License-Identifier: LGPL-2.1-or-later
/* Starting and stopping the backend's rings (split layout). */

#include "vhost-user-internal.h"

#include <string.h>

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

static bool start_locked(loopback_vhost_user *vu, unsigned int index,
			 const loopback_vhost_user_vring *r, GError **error)
{
	uint64_t n = r->num;
	struct lb_vu_msg msg;
	uint64_t desc, avail, used;

	if (r->num == 0 || r->num > 32768 || (r->num & (r->num - 1))) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_INVALID,
			    "vhost-user: ring %u: size %u is not a power of 2 up to 32768",
			    index, r->num);
		return false;
	}
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
	vu->vrings[index].started = true;
	vu->vrings[index].num = r->num;
	vu->vrings[index].avail_gpa = r->avail;
	vu->vrings[index].used_gpa = r->used;
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
	bool ok;

	if (!index_ok(vu, index, error))
		return false;
	g_mutex_lock(&vu->lock);
	ok = lb_vu_negotiated_locked(vu, error) &&
		start_locked(vu, index, vring, error);
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

LB_VU_EXPORT bool loopback_vhost_user_vring_stop(loopback_vhost_user *vu,
						 unsigned int index,
						 uint16_t *base,
						 GError **error)
{
	uint16_t b = 0;
	bool ok;

	if (!index_ok(vu, index, error))
		return false;
	g_mutex_lock(&vu->lock);
	ok = lb_vu_negotiated_locked(vu, error) && stop_locked(vu, index, &b, error);
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
	ok = lb_vu_negotiated_locked(vu, error) &&
		started_ok(vu, index, error);
	avail = ok ? ring_idx_locked(vu, index, vu->vrings[index].avail_gpa,
				     error) : NULL;
	ok = avail && wait_used_locked(vu, index, avail, 0, error);
	g_mutex_unlock(&vu->lock);
	return ok;
}
