// SPDX-License-Identifier: LGPL-2.1-or-later
/* The in-flight buffer (INFLIGHT_SHMFD), kept for a reconnect. */

#include "vhost-user-internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

/* a sane bound: 4 KiB per queue of 32768 entries is far below it */
#define LB_VU_INFLIGHT_MAX (1ULL << 30)

void lb_vu_inflight_release(loopback_vhost_user *vu)
{
	if (vu->inflight_map)
		munmap(vu->inflight_map, vu->inflight_size);
	if (vu->inflight_fd >= 0)
		close(vu->inflight_fd);
	vu->inflight_map = NULL;
	vu->inflight_fd = -1;
	vu->inflight_size = 0;
	vu->inflight_offset = 0;
}

static bool setup_locked(loopback_vhost_user *vu, unsigned int num_queues,
			 unsigned int queue_size, GError **error)
{
	struct lb_vu_msg msg, got;
	int fd = -1;
	size_t nfds = 0;
	void *map;

	if (!lb_vu_usable_locked(vu, error))
		return false;
	if (!vu->negotiated ||
	    !lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: the backend did not offer INFLIGHT_SHMFD (or negotiate was not called)");
		return false;
	}
	if (num_queues == 0 || num_queues > 0xffff || queue_size == 0 ||
	    queue_size > 0xffff) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_INVALID,
			    "vhost-user: %u queues of %u entries cannot be tracked in flight",
			    num_queues, queue_size);
		return false;
	}
	lb_vu_msg_init(&msg, LB_VU_GET_INFLIGHT_FD, LB_VU_INFLIGHT_SIZE);
	msg.p.inflight.num_queues = (uint16_t)num_queues;
	msg.p.inflight.queue_size = (uint16_t)queue_size;
	if (!lb_vu_exchange_locked(vu, &msg, NULL, 0, &got,
				   LB_VU_INFLIGHT_SIZE, &fd, 1, &nfds, error))
		return false;
	if (nfds != 1 || got.p.inflight.mmap_size == 0 ||
	    got.p.inflight.mmap_size > LB_VU_INFLIGHT_MAX ||
	    got.p.inflight.mmap_offset > LB_VU_INFLIGHT_MAX) {
		lb_vu_close_fds(&fd, nfds);
		lb_vu_break_locked(vu, g_error_new(
			LOOPBACK_VHOST_USER_ERROR,
			LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			"vhost-user: GET_INFLIGHT_FD answered %zu fds, %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT ": one fd and at most 1 GiB expected",
			nfds, (guint64)got.p.inflight.mmap_size,
			(guint64)got.p.inflight.mmap_offset));
		return lb_vu_usable_locked(vu, error);
	}
	map = mmap(NULL, got.p.inflight.mmap_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, (off_t)got.p.inflight.mmap_offset);
	if (map == MAP_FAILED) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_FAILED,
			    "vhost-user: cannot map the backend's in-flight buffer: %s",
			    g_strerror(errno));
		close(fd);
		return false;
	}
	lb_vu_inflight_release(vu);
	vu->inflight_fd = fd;
	vu->inflight_map = map;
	vu->inflight_size = got.p.inflight.mmap_size;
	vu->inflight_offset = got.p.inflight.mmap_offset;
	vu->inflight_queues = num_queues;
	vu->inflight_qsize = queue_size;

	got.hdr.request = LB_VU_SET_INFLIGHT_FD;
	got.hdr.flags = LB_VU_VERSION;
	got.p.inflight.num_queues = (uint16_t)num_queues;
	got.p.inflight.queue_size = (uint16_t)queue_size;
	return lb_vu_exchange_locked(vu, &got, &fd, 1, NULL, 0, NULL, 0, NULL,
				     error);
}

bool lb_vu_inflight_restore_locked(loopback_vhost_user *vu, GError **error)
{
	struct lb_vu_msg msg;

	if (!vu->inflight_queues)
		return true;
	if (!lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) {
		/* checked before: only a backend without it gets here */
		lb_vu_inflight_release(vu);
		return true;
	}
	if (vu->inflight_fd < 0)
		return setup_locked(vu, vu->inflight_queues, vu->inflight_qsize,
				    error);
	/* the buffer survived: the new backend resubmits what it holds */
	lb_vu_msg_init(&msg, LB_VU_SET_INFLIGHT_FD, LB_VU_INFLIGHT_SIZE);
	msg.p.inflight.mmap_size = vu->inflight_size;
	msg.p.inflight.mmap_offset = vu->inflight_offset;
	msg.p.inflight.num_queues = (uint16_t)vu->inflight_queues;
	msg.p.inflight.queue_size = (uint16_t)vu->inflight_qsize;
	return lb_vu_exchange_locked(vu, &msg, &vu->inflight_fd, 1, NULL, 0,
				     NULL, 0, NULL, error);
}

LB_VU_EXPORT bool loopback_vhost_user_setup_inflight(loopback_vhost_user *vu,
						     unsigned int num_queues,
						     unsigned int queue_size,
						     GError **error)
{
	bool ok;

	g_mutex_lock(&vu->lock);
	if (lb_vu_down_locked(vu)) {
		/* a fresh buffer from the backend that comes next */
		lb_vu_inflight_release(vu);
		vu->inflight_queues = num_queues;
		vu->inflight_qsize = queue_size;
		ok = num_queues && num_queues <= 0xffff && queue_size &&
			queue_size <= 0xffff;
		if (!ok)
			vu->inflight_queues = 0;
	} else {
		ok = setup_locked(vu, num_queues, queue_size, error);
	}
	g_mutex_unlock(&vu->lock);
	return ok;
}
