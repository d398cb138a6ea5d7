// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reconnect: a new backend on the same socket path takes over the rings
 * of one that went away.  Documentation/vhost-user.md, "Reconnect", says
 * what is guaranteed.
 */

#include "vhost-user-internal.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

LB_VU_EXPORT void loopback_vhost_user_set_reconnect(loopback_vhost_user *vu,
						    unsigned int limit_ms)
{
	g_mutex_lock(&vu->lock);
	vu->reconnect_ms = vu->path ? limit_ms : 0;
	g_mutex_unlock(&vu->lock);
	if (limit_ms && !vu->path)
		g_warning("vhost-user: a session made from an fd cannot reconnect: no path to connect to");
}

LB_VU_EXPORT void loopback_vhost_user_set_reconnect_cb(
	loopback_vhost_user *vu, loopback_vhost_user_reconnect_cb cb,
	void *data)
{
	g_mutex_lock(&vu->lock);
	vu->reconnect_cb = cb;
	vu->reconnect_data = data;
	g_mutex_unlock(&vu->lock);
}

LB_VU_EXPORT bool loopback_vhost_user_is_reconnecting(loopback_vhost_user *vu)
{
	bool down;

	g_mutex_lock(&vu->lock);
	down = lb_vu_down_locked(vu);
	g_mutex_unlock(&vu->lock);
	return down;
}

/* The new backend must serve everything the old one was asked to. */
static bool can_take_over(loopback_vhost_user *vu, uint64_t old_protocol,
			  GError **error)
{
	uint64_t need = (vu->promised | vu->acked) &
		~(1ULL << LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES);
	/* in-flight tracking is welcome but not needed */
	uint64_t pneed = old_protocol &
		~(1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	unsigned int rings = 0;

	for (unsigned int i = 0; i < LB_VU_MAX_VRINGS; i++)
		if (vu->vrings[i].started)
			rings = i + 1;
	if (need & ~vu->backend_features) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: the new backend at %s lacks features 0x%" G_GINT64_MODIFIER "x that the device was created with: start it with the options the old one had",
			    vu->path, need & ~vu->backend_features);
		return false;
	}
	if (pneed & ~vu->protocol) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: the new backend at %s lacks protocol features 0x%" G_GINT64_MODIFIER "x that the old one had: start it with the options the old one had",
			    vu->path, pneed & ~vu->protocol);
		return false;
	}
	if (lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_MQ) &&
	    vu->queue_num < rings) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: the new backend at %s has %u queues, the device uses %u: start it with num-queues=%u or more",
			    vu->path, vu->queue_num, rings, rings);
		return false;
	}
	return true;
}

static int dial(const char *path, GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    fd >= 0 && (errno == ECONNREFUSED || errno == ENOENT ||
				errno == EAGAIN) ?
		    LOOPBACK_VHOST_USER_ERROR_DISCONNECTED :
		    LOOPBACK_VHOST_USER_ERROR_FAILED,
		    "vhost-user: cannot connect to %s again: %s", path,
		    g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static bool restore_locked(loopback_vhost_user *vu, GError **error)
{
	uint64_t old_features = vu->backend_features;
	uint64_t old_protocol = vu->protocol;
	bool inflight;

	vu->negotiated = false;
	if (!lb_vu_negotiate_locked(vu, error) ||
	    !can_take_over(vu, old_protocol, error))
		goto fail;
	if (vu->acked && !lb_vu_simple_locked(vu, LB_VU_SET_FEATURES,
					     vu->acked, true, error))
		goto fail;
	if (!lb_vu_memtable_resend_locked(vu, error) ||
	    !lb_vu_inflight_restore_locked(vu, error))
		goto fail;
	inflight = vu->inflight_fd >= 0;
	for (unsigned int i = 0; i < LB_VU_MAX_VRINGS; i++)
		if (vu->vrings[i].started &&
		    !lb_vu_vring_restore_locked(vu, i, inflight, error))
			goto fail;
	if (vu->status_set &&
	    lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_STATUS) &&
	    !lb_vu_simple_locked(vu, LB_VU_SET_STATUS, vu->status, true,
				 error))
		goto fail;
	return true;
fail:
	/* what the next attempt checks against */
	vu->backend_features = old_features;
	vu->protocol = old_protocol;
	return false;
}

LB_VU_EXPORT bool loopback_vhost_user_reconnect(loopback_vhost_user *vu,
						GError **error)
{
	GError *err = NULL;
	bool ok = false;
	int fd;

	g_mutex_lock(&vu->lock);
	if (!lb_vu_down_locked(vu)) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_INVALID,
			    "vhost-user: nothing to reconnect: %s",
			    !vu->path ? "the session has no socket path" :
			    !vu->reconnect_ms ? "reconnect is off" :
			    vu->broken ? "the session broke for another reason" :
			    "the backend is still there");
		goto out;
	}
	fd = dial(vu->path, &err);
	if (fd < 0)
		goto out;
	/* a fresh connection, and the old session's state */
	lb_vu_backend_close(vu);
	close(vu->sock);
	vu->sock = fd;
	g_clear_error(&vu->broken);
	vu->disc_reported = false;
	if (restore_locked(vu, &err)) {
		ok = true;
		goto out;
	}
	/* a check that failed: the session goes down with it */
	if (!vu->broken)
		lb_vu_break_locked(vu, g_error_copy(err));
out:
	/* nobody there yet is worth another try; anything else is final */
	if (err && !g_error_matches(err, LOOPBACK_VHOST_USER_ERROR,
				    LOOPBACK_VHOST_USER_ERROR_DISCONNECTED) &&
	    vu->broken)
		vu->gave_up = true;
	if (err)
		g_propagate_prefixed_error(error, err, "reconnect: ");
	g_mutex_unlock(&vu->lock);
	return ok;
}
