// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Split rings (virtio 1.2, 2.7): the available ring in, the used ring
 * out, EVENT_IDX suppression both ways.  Each queue is driven by one
 * thread at a time and takes no lock; the register thread only touches
 * the ring state while the device is stopped.
 */
#include "virtio-internal.h"

#include <stdarg.h>

#define A_ LB_VIRTIO_ATTRS

/* offsets in the rings */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING(i) (4 + 2 * (hwaddr)(i))
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING(i) (4 + 8 * (hwaddr)(i))

void lb_vq_break(LoopbackVirtqueue *vq, const char *fmt, ...)
{
	g_autofree char *what = NULL;
	g_autofree char *reason = NULL;
	va_list ap;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	reason = g_strdup_printf("queue %u: %s", vq->index, what);
	loopback_virtio_needs_reset(vq->vdev, reason);
}

static bool lb_vq_usable(LoopbackVirtqueue *vq)
{
	return loopback_virtqueue_is_ready(vq) &&
	       !loopback_virtqueue_is_broken(vq);
}

static uint16_t lb_avail_idx(LoopbackVirtqueue *vq)
{
	return address_space_lduw_le_cached(&vq->avail, AVAIL_IDX, A_, NULL);
}

static void lb_set_avail_event(LoopbackVirtqueue *vq, uint16_t v)
{
	address_space_stw_le_cached(&vq->used, USED_RING(vq->num), v, A_,
				    NULL);
}

LOOPBACK_API bool loopback_virtqueue_empty(LoopbackVirtqueue *vq)
{
	if (!lb_vq_usable(vq))
		return true;
	return lb_avail_idx(vq) == vq->last_avail_idx;
}

LOOPBACK_API LoopbackVirtqueueElement *
loopback_virtqueue_pop(LoopbackVirtqueue *vq)
{
	LoopbackVirtqueueElement *elem;
	uint16_t idx, pending, head;

	if (!lb_vq_usable(vq))
		return NULL;
	idx = lb_avail_idx(vq);
	pending = idx - vq->last_avail_idx;
	if (pending > vq->num) {
		lb_vq_break(vq, "the available index %u is %u entries ahead of "
			    "the device's %u, more than the queue size %u",
			    idx, pending, vq->last_avail_idx, vq->num);
		return NULL;
	}
	if (!pending)
		return NULL;
	/* the entry and its descriptors are read after the index */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = address_space_lduw_le_cached(&vq->avail,
			AVAIL_RING(vq->last_avail_idx % vq->num), A_, NULL);
	if (head >= vq->num) {
		lb_vq_break(vq, "available head %u is outside the queue of %u",
			    head, vq->num);
		return NULL;
	}
	elem = lb_vq_map_chain(vq, head);
	if (!elem)
		return NULL;
	vq->last_avail_idx++;
	return elem;
}

LOOPBACK_API void loopback_virtqueue_element_free(LoopbackVirtqueue *vq,
						  LoopbackVirtqueueElement *elem)
{
	if (!elem)
		return;
	lb_vq_unmap_element(vq, elem, 0);
	g_free(elem);
}

LOOPBACK_API void loopback_virtqueue_push(LoopbackVirtqueue *vq,
					  LoopbackVirtqueueElement *elem,
					  uint32_t len)
{
	hwaddr slot;

	if (len > elem->in_len)
		len = elem->in_len;	/* never claim more than was given */
	lb_vq_unmap_element(vq, elem, len);
	if (lb_vq_usable(vq)) {
		slot = USED_RING(vq->used_idx % vq->num);
		address_space_stl_le_cached(&vq->used, slot, elem->index, A_,
					    NULL);
		address_space_stl_le_cached(&vq->used, slot + 4, len, A_, NULL);
		/* the entry before the index that publishes it */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		vq->used_idx++;
		address_space_stw_le_cached(&vq->used, USED_IDX, vq->used_idx,
					    A_, NULL);
	}
	g_free(elem);
}

/* virtio 1.2, 2.7.10: whether @new passed @event since @old */
static bool lb_need_event(uint16_t event, uint16_t new, uint16_t old)
{
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

LOOPBACK_API void loopback_virtqueue_notify(LoopbackVirtqueue *vq)
{
	uint16_t old, event;
	bool valid;

	if (!lb_vq_usable(vq))
		return;
	/* the used index is visible before the driver's flags are read */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		old = vq->signalled_used;
		valid = vq->signalled_used_valid;
		vq->signalled_used = vq->used_idx;
		vq->signalled_used_valid = true;
		event = address_space_lduw_le_cached(&vq->avail,
					AVAIL_RING(vq->num), A_, NULL);
		if (valid && !lb_need_event(event, vq->used_idx, old))
			return;
	} else if (address_space_lduw_le_cached(&vq->avail, AVAIL_FLAGS, A_,
						NULL) &
		   LOOPBACK_VRING_AVAIL_F_NO_INTERRUPT) {
		return;
	}
	lb_virtio_raise(vq->vdev, vq->index);
}

LOOPBACK_API void loopback_virtqueue_set_notification(LoopbackVirtqueue *vq,
						      bool enable)
{
	if (!lb_vq_usable(vq))
		return;
	if (vq->event_idx) {
		/* kick me once you go past what I have seen */
		if (enable)
			lb_set_avail_event(vq, lb_avail_idx(vq));
	} else {
		address_space_stw_le_cached(&vq->used, USED_FLAGS,
				enable ? 0 : LOOPBACK_VRING_USED_F_NO_NOTIFY,
				A_, NULL);
	}
	/* the flag is visible before the caller checks for more work */
	if (enable)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
