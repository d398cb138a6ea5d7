// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The backend channel (BACKEND_REQ: config-change messages) and the
 * noticing of a backend that went away, as a GSource.
 */

#include "vhost-user-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The spec lets us refuse, but a user should see what the backend wanted:
 * once per request, so that one that keeps asking cannot flood the log.
 */
static void refused_aloud(loopback_vhost_user *vu, uint32_t request)
{
	if (request < 64) {
		if (vu->refused_logged & (1ULL << request))
			return;
		vu->refused_logged |= 1ULL << request;
	}
	g_message("vhost-user: the backend asked for %s (%u) on its channel; "
		  "it is not served here and was refused",
		  lb_vu_backend_request_name(request), request);
}

bool lb_vu_backend_setup_locked(loopback_vhost_user *vu, GError **error)
{
	struct lb_vu_msg msg;
	int sv[2];
	bool ok;

	/* only our end is non-blocking: backends read theirs blocking */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_FAILED,
			    "vhost-user: socketpair for the backend channel: %s",
			    g_strerror(errno));
		return false;
	}
	lb_vu_msg_init(&msg, LB_VU_SET_BACKEND_REQ_FD, 0);
	ok = lb_vu_exchange_locked(vu, &msg, &sv[1], 1, NULL, 0, NULL, 0, NULL,
				   error);
	close(sv[1]);
	if (!ok) {
		close(sv[0]);
		return false;
	}
	vu->backend_fd = sv[0];
	return true;
}

void lb_vu_backend_close(loopback_vhost_user *vu)
{
	if (vu->backend_fd >= 0)
		close(vu->backend_fd);
	vu->backend_fd = -1;
}

LB_VU_EXPORT void loopback_vhost_user_set_config_changed_cb(
	loopback_vhost_user *vu, loopback_vhost_user_config_changed_cb cb,
	void *data)
{
	g_mutex_lock(&vu->lock);
	vu->config_cb = cb;
	vu->config_data = data;
	g_mutex_unlock(&vu->lock);
}

LB_VU_EXPORT void loopback_vhost_user_set_disconnected_cb(
	loopback_vhost_user *vu, loopback_vhost_user_disconnected_cb cb,
	void *data)
{
	g_mutex_lock(&vu->lock);
	vu->disc_cb = cb;
	vu->disc_data = data;
	g_mutex_unlock(&vu->lock);
}

/* Answers a request on the backend channel that asked for it. */
static bool reply(loopback_vhost_user *vu, const struct lb_vu_msg *req,
		  uint64_t result, GError **error)
{
	struct lb_vu_msg msg;

	if (!(req->hdr.flags & LB_VU_FLAG_NEED_REPLY))
		return true;
	lb_vu_msg_init(&msg, req->hdr.request, sizeof(uint64_t));
	msg.hdr.flags |= LB_VU_FLAG_REPLY;
	msg.p.u64 = result;
	return lb_vu_send(vu->backend_fd, &msg, NULL, 0,
			  lb_vu_deadline(vu->timeout_ms), error);
}

/* One request from the backend; false (with the error) breaks the session. */
static bool serve_one(loopback_vhost_user *vu, bool *config_changed,
		      GError **error)
{
	struct lb_vu_msg msg;
	int fds[LB_VU_MAX_FDS];
	size_t nfds = 0;

	if (!lb_vu_recv(vu->backend_fd, &msg, fds, G_N_ELEMENTS(fds), &nfds,
			lb_vu_deadline(vu->timeout_ms),
			lb_vu_backend_request_name, error)) {
		g_prefix_error(error, "backend channel: ");
		return false;
	}
	/* no request we serve takes an fd (host notifiers are not ours) */
	lb_vu_close_fds(fds, nfds);
	if (msg.hdr.flags & LB_VU_FLAG_REPLY) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: the backend sent a reply (request %u) on its channel, where it makes requests: it does not follow the protocol",
			    msg.hdr.request);
		return false;
	}
	if (msg.hdr.request != LB_VU_BACKEND_CONFIG_CHANGE_MSG) {
		refused_aloud(vu, msg.hdr.request);
		return reply(vu, &msg, 1, error);
	}
	/* no payload; tolerate a u64, as some backends send one */
	if (msg.hdr.size != 0 && msg.hdr.size != sizeof(uint64_t)) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: the backend's CONFIG_CHANGE_MSG has %u bytes of payload, it has none: it does not follow the protocol",
			    msg.hdr.size);
		return false;
	}
	*config_changed = true;
	/* answer first: the backend may wait for it before serving GET_CONFIG */
	return reply(vu, &msg, 0, error);
}

/* first retry after 50 ms, doubling up to 1 s */
#define RETRY_FIRST_US (50 * 1000)
#define RETRY_MAX_US G_USEC_PER_SEC

typedef struct {
	GSource source;
	loopback_vhost_user *vu;
	gpointer sock_tag;
	gpointer backend_tag;
	bool away;		/* reconnecting */
	gint64 deadline;	/* when it gives up */
	gint64 next;		/* the next attempt */
	gint64 delay;
} VuSource;

/* no G_IO_IN on the main socket: replies are read where awaited */
static void watch(VuSource *s)
{
	s->sock_tag = g_source_add_unix_fd(&s->source, s->vu->sock,
					   G_IO_HUP | G_IO_ERR);
	if (s->vu->backend_fd >= 0)
		s->backend_tag = g_source_add_unix_fd(&s->source,
						      s->vu->backend_fd,
						      G_IO_IN | G_IO_HUP |
						      G_IO_ERR);
}

static void unwatch(VuSource *s)
{
	if (s->sock_tag)
		g_source_remove_unix_fd(&s->source, s->sock_tag);
	if (s->backend_tag)
		g_source_remove_unix_fd(&s->source, s->backend_tag);
	s->sock_tag = s->backend_tag = NULL;
}

/* The limit passed: the disconnect is final. */
static void give_up(VuSource *s, const GError *last)
{
	loopback_vhost_user *vu = s->vu;

	g_mutex_lock(&vu->lock);
	if (lb_vu_down_locked(vu)) {
		GError *err = g_error_new(
			LOOPBACK_VHOST_USER_ERROR,
			LOOPBACK_VHOST_USER_ERROR_DISCONNECTED,
			"vhost-user: the backend went away and did not come back at %s within %u ms (%s)",
			vu->path, vu->reconnect_ms,
			last ? last->message : "no attempt");

		g_error_free(vu->broken);
		vu->broken = err;
		vu->gave_up = true;
	}
	g_mutex_unlock(&vu->lock);
	s->away = false;
}

/* One attempt when it is due; the next one, or the end, from there. */
static void try_reconnect(VuSource *s, loopback_vhost_user_reconnect_cb cb,
			  void *data)
{
	gint64 now = g_get_monotonic_time();
	g_autoptr(GError) err = NULL;

	if (now < s->next)
		return;
	if (loopback_vhost_user_reconnect(s->vu, &err)) {
		s->away = false;
		watch(s);
		if (cb)
			cb(s->vu, LOOPBACK_VHOST_USER_RECONNECTED, NULL, data);
		return;
	}
	g_debug("%s", err->message);
	if (!loopback_vhost_user_is_reconnecting(s->vu)) {
		s->away = false;	/* this backend cannot take over */
		return;
	}
	if (now >= s->deadline) {
		give_up(s, err);
		return;
	}
	s->next = MIN(now + s->delay, s->deadline);
	s->delay = MIN(s->delay * 2, RETRY_MAX_US);
}

static gboolean vu_source_dispatch(GSource *source, GSourceFunc callback,
				   gpointer user_data)
{
	VuSource *s = (VuSource *)source;
	loopback_vhost_user *vu = s->vu;
	bool config_changed = false, lost = false;
	GError *err = NULL;
	g_autoptr(GError) why = NULL;
	const GError *broken = NULL;
	loopback_vhost_user_config_changed_cb config_cb;
	loopback_vhost_user_disconnected_cb disc_cb;
	loopback_vhost_user_reconnect_cb rc_cb;
	void *config_data, *disc_data, *rc_data;

	if (s->backend_tag &&
	    g_source_query_unix_fd(source, s->backend_tag) &&
	    !serve_one(vu, &config_changed, &err)) {
		g_source_remove_unix_fd(source, s->backend_tag);
		s->backend_tag = NULL;
		g_mutex_lock(&vu->lock);
		lb_vu_break_locked(vu, err);
		g_mutex_unlock(&vu->lock);
	}
	if (s->sock_tag && g_source_query_unix_fd(source, s->sock_tag)) {
		g_mutex_lock(&vu->lock);
		lb_vu_break_locked(vu, g_error_new(
			LOOPBACK_VHOST_USER_ERROR,
			LOOPBACK_VHOST_USER_ERROR_DISCONNECTED,
			"vhost-user: the backend closed the connection: see its log, restart it and connect again"));
		g_mutex_unlock(&vu->lock);
	}

	g_mutex_lock(&vu->lock);
	config_cb = vu->config_cb;
	config_data = vu->config_data;
	disc_cb = vu->disc_cb;
	disc_data = vu->disc_data;
	rc_cb = vu->reconnect_cb;
	rc_data = vu->reconnect_data;
	if (vu->broken)
		unwatch(s);	/* the shut down sockets would wake us for ever */
	if (lb_vu_down_locked(vu) && !s->away) {
		gint64 now = g_get_monotonic_time();

		s->away = lost = true;
		s->deadline = now + (gint64)vu->reconnect_ms * 1000;
		s->next = now;
		s->delay = RETRY_FIRST_US;
		why = g_error_copy(vu->broken);
	}
	g_mutex_unlock(&vu->lock);

	if (lost && rc_cb)
		rc_cb(vu, LOOPBACK_VHOST_USER_RECONNECTING, why, rc_data);
	if (s->away)
		try_reconnect(s, rc_cb, rc_data);
	g_source_set_ready_time(source, s->away ? s->next : -1);

	g_mutex_lock(&vu->lock);
	if (vu->broken && !lb_vu_down_locked(vu) && !vu->disc_reported) {
		vu->disc_reported = true;
		broken = vu->broken;
	}
	config_changed = config_changed && !vu->broken;
	g_mutex_unlock(&vu->lock);

	if (config_changed && config_cb)
		config_cb(vu, config_data);
	if (broken && disc_cb)
		disc_cb(vu, broken, disc_data);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs vu_source_funcs = {
	.dispatch = vu_source_dispatch,
};

LB_VU_EXPORT GSource *loopback_vhost_user_source_new(loopback_vhost_user *vu)
{
	VuSource *s = (VuSource *)g_source_new(&vu_source_funcs,
					       sizeof(VuSource));

	g_source_set_name(&s->source, "loopback-vhost-user");
	s->vu = vu;
	watch(s);
	return &s->source;
}
