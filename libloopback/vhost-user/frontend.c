// SPDX-License-Identifier: LGPL-2.1-or-later
/* The session: connection, exchanges, negotiation, features, config. */

#include "vhost-user-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

LB_VU_EXPORT GQuark loopback_vhost_user_error_quark(void);
G_DEFINE_QUARK(loopback-vhost-user-error-quark, loopback_vhost_user_error)

LB_VU_EXPORT loopback_vhost_user *loopback_vhost_user_new_from_fd(int fd,
								  GError **error)
{
	loopback_vhost_user *vu;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_INVALID,
			    "vhost-user: fd %d is not a usable socket: %s", fd,
			    g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	vu = g_new0(loopback_vhost_user, 1);
	g_mutex_init(&vu->lock);
	vu->sock = fd;
	vu->timeout_ms = LOOPBACK_VHOST_USER_DEFAULT_TIMEOUT_MS;
	vu->backend_fd = -1;
	vu->inflight_fd = -1;
	vu->max_mem_slots = LB_VU_MEM_TABLE_MAX;
	return vu;
}

LB_VU_EXPORT loopback_vhost_user *loopback_vhost_user_connect(const char *path,
							      GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	loopback_vhost_user *vu;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_INVALID,
			    "vhost-user: socket path %s is longer than %zu bytes: use a shorter one",
			    path, sizeof(sun.sun_path) - 1);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_FAILED,
			    "vhost-user: socket: %s", g_strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    e == ECONNREFUSED || e == ENOENT ?
			    LOOPBACK_VHOST_USER_ERROR_DISCONNECTED :
			    LOOPBACK_VHOST_USER_ERROR_FAILED,
			    "vhost-user: cannot connect to %s: %s (is the backend running and listening there?)",
			    path, g_strerror(e));
		return NULL;
	}
	vu = loopback_vhost_user_new_from_fd(fd, error);
	if (vu)
		vu->path = g_strdup(path);
	return vu;
}

LB_VU_EXPORT void loopback_vhost_user_free(loopback_vhost_user *vu)
{
	if (!vu)
		return;
	/* stops following the address space before the table goes */
	lb_vu_memtable_free(vu->mt);
	lb_vu_backend_close(vu);
	lb_vu_inflight_release(vu);
	if (vu->sock >= 0)
		close(vu->sock);
	g_clear_error(&vu->broken);
	g_free(vu->path);
	g_mutex_clear(&vu->lock);
	g_free(vu);
}

LB_VU_EXPORT void loopback_vhost_user_set_timeout(loopback_vhost_user *vu,
						  unsigned int timeout_ms)
{
	g_return_if_fail(timeout_ms > 0);
	g_mutex_lock(&vu->lock);
	vu->timeout_ms = timeout_ms;
	g_mutex_unlock(&vu->lock);
}

void lb_vu_break_locked(loopback_vhost_user *vu, GError *err)
{
	if (vu->broken) {
		g_error_free(err);
		return;
	}
	vu->broken = err;
	/* the spec's answer to a wrong reply: the backend sees the close */
	shutdown(vu->sock, SHUT_RDWR);
	if (vu->backend_fd >= 0)
		shutdown(vu->backend_fd, SHUT_RDWR);
}

LB_VU_EXPORT bool loopback_vhost_user_is_usable(loopback_vhost_user *vu)
{
	bool usable;

	g_mutex_lock(&vu->lock);
	usable = vu->broken == NULL;
	g_mutex_unlock(&vu->lock);
	return usable;
}

LB_VU_EXPORT const GError *loopback_vhost_user_get_error(
	loopback_vhost_user *vu)
{
	const GError *err;

	/* set once and never freed before the session: safe to hand out */
	g_mutex_lock(&vu->lock);
	err = vu->broken;
	g_mutex_unlock(&vu->lock);
	return err;
}

/* With vu->lock held: false (and the session's error) once broken. */
bool lb_vu_usable_locked(loopback_vhost_user *vu, GError **error)
{
	if (!vu->broken)
		return true;
	g_set_error(error, vu->broken->domain, vu->broken->code,
		    "vhost-user: the session is broken (%s): free it and connect again",
		    vu->broken->message);
	return false;
}

bool lb_vu_usable(loopback_vhost_user *vu, GError **error)
{
	bool ok;

	g_mutex_lock(&vu->lock);
	ok = lb_vu_usable_locked(vu, error);
	g_mutex_unlock(&vu->lock);
	return ok;
}

bool lb_vu_down_locked(loopback_vhost_user *vu)
{
	return vu->reconnect_ms > 0 && !vu->gave_up && vu->broken &&
		g_error_matches(vu->broken, LOOPBACK_VHOST_USER_ERROR,
				LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
}

bool lb_vu_deferred_locked(loopback_vhost_user *vu, GError **err)
{
	if (!lb_vu_down_locked(vu))
		return false;
	g_clear_error(err);
	return true;
}

/* Recorded while the backend is away: true, or false with @error. */
static bool record_only(loopback_vhost_user *vu, bool ok, GError **err,
			GError **error)
{
	if (ok || lb_vu_deferred_locked(vu, err))
		return true;
	g_propagate_error(error, *err);
	*err = NULL;
	return false;
}

bool lb_vu_has(loopback_vhost_user *vu, unsigned int bit)
{
	return vu->protocol & (1ULL << bit);
}

/* Breaks the session with @err, and hands a copy to the caller. */
static bool fail_locked(loopback_vhost_user *vu, GError *err, GError **error)
{
	if (error)
		*error = g_error_copy(err);
	lb_vu_break_locked(vu, err);
	return false;
}

static bool check_reply(const struct lb_vu_msg *msg,
			const struct lb_vu_msg *reply, size_t reply_size,
			GError **error)
{
	const char *name = lb_vu_request_name(msg->hdr.request);

	if (reply->hdr.request != msg->hdr.request) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: the backend answered %s (%u) with a reply to %s (%u): it does not follow the protocol",
			    name, msg->hdr.request,
			    lb_vu_request_name(reply->hdr.request),
			    reply->hdr.request);
		return false;
	}
	if (!(reply->hdr.flags & LB_VU_FLAG_REPLY)) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: the backend's answer to %s lacks the reply flag: it does not follow the protocol",
			    name);
		return false;
	}
	if (reply_size != G_MAXSIZE && reply->hdr.size != reply_size) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: the backend's reply to %s has %u bytes of payload, %zu expected: it does not follow the protocol",
			    name, reply->hdr.size, reply_size);
		return false;
	}
	return true;
}

bool lb_vu_exchange_locked(loopback_vhost_user *vu, struct lb_vu_msg *msg,
			   const int *fds, size_t nfds,
			   struct lb_vu_msg *reply, size_t reply_size,
			   int *rfds, size_t max_rfds, size_t *nrfds,
			   GError **error)
{
	gint64 deadline = lb_vu_deadline(vu->timeout_ms);
	struct lb_vu_msg ack;
	GError *err = NULL;
	size_t got = 0;
	bool want_ack = !reply &&
		lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_REPLY_ACK);

	if (nrfds)
		*nrfds = 0;
	if (!lb_vu_usable_locked(vu, error))
		return false;
	if (want_ack)
		msg->hdr.flags |= LB_VU_FLAG_NEED_REPLY;
	if (!lb_vu_send(vu->sock, msg, fds, nfds, deadline, &err))
		return fail_locked(vu, err, error);
	if (!reply && !want_ack)
		return true;
	if (!reply) {
		reply = &ack;
		reply_size = sizeof(uint64_t);
		max_rfds = 0;
	}
	if (!lb_vu_recv(vu->sock, reply, rfds, max_rfds, &got, deadline,
			lb_vu_request_name, &err)) {
		g_prefix_error(&err, "after %s: ",
			       lb_vu_request_name(msg->hdr.request));
		return fail_locked(vu, err, error);
	}
	if (!check_reply(msg, reply, reply_size, &err)) {
		lb_vu_close_fds(rfds, got);
		return fail_locked(vu, err, error);
	}
	if (reply == &ack && ack.p.u64 != 0) {
		/* a refusal: the session stays, the caller decides */
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_REFUSED,
			    "vhost-user: the backend refused %s (status %" G_GUINT64_FORMAT "): see its log",
			    lb_vu_request_name(msg->hdr.request), ack.p.u64);
		return false;
	}
	if (nrfds)
		*nrfds = got;
	return true;
}

bool lb_vu_simple_locked(loopback_vhost_user *vu, uint32_t request,
			 uint64_t value, bool has_value, GError **error)
{
	struct lb_vu_msg msg;

	lb_vu_msg_init(&msg, request, has_value ? sizeof(uint64_t) : 0);
	msg.p.u64 = value;
	return lb_vu_exchange_locked(vu, &msg, NULL, 0, NULL, 0, NULL, 0,
				     NULL, error);
}

bool lb_vu_get_u64_locked(loopback_vhost_user *vu, uint32_t request,
			  uint64_t *value, GError **error)
{
	struct lb_vu_msg msg, reply;

	lb_vu_msg_init(&msg, request, 0);
	if (!lb_vu_exchange_locked(vu, &msg, NULL, 0, &reply, sizeof(uint64_t),
				   NULL, 0, NULL, error))
		return false;
	*value = reply.p.u64;
	return true;
}

/* A well-formed reply whose value makes no sense also breaks the session. */
static bool bad_value_locked(loopback_vhost_user *vu, GError **error,
			     const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool bad_value_locked(loopback_vhost_user *vu, GError **error,
			     const char *fmt, ...)
{
	va_list ap;
	g_autofree char *text = NULL;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return fail_locked(vu, g_error_new(LOOPBACK_VHOST_USER_ERROR,
					   LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
					   "vhost-user: %s", text), error);
}

bool lb_vu_negotiate_locked(loopback_vhost_user *vu, GError **error)
{
	uint64_t protocol_mask = vu->protocol_mask;
	uint64_t v;

	if (!lb_vu_simple_locked(vu, LB_VU_SET_OWNER, 0, false, error) ||
	    !lb_vu_get_u64_locked(vu, LB_VU_GET_FEATURES,
				  &vu->backend_features, error))
		return false;
	if (vu->backend_features &
	    (1ULL << LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES)) {
		if (!lb_vu_get_u64_locked(vu, LB_VU_GET_PROTOCOL_FEATURES,
					  &vu->backend_protocol, error))
			return false;
		v = vu->backend_protocol & protocol_mask &
			LOOPBACK_VHOST_USER_PROTOCOL_FEATURES_IMPLEMENTED;
		if (!lb_vu_simple_locked(vu, LB_VU_SET_PROTOCOL_FEATURES, v,
					 true, error))
			return false;
		vu->protocol = v;
	}
	if (lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_MQ)) {
		if (!lb_vu_get_u64_locked(vu, LB_VU_GET_QUEUE_NUM, &v, error))
			return false;
		if (v == 0 || v > 0xffff)
			return bad_value_locked(vu, error,
						"GET_QUEUE_NUM answered %" G_GUINT64_FORMAT ": the backend is broken",
						v);
		vu->queue_num = (unsigned int)v;
	}
	if (lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		if (!lb_vu_get_u64_locked(vu, LB_VU_GET_MAX_MEM_SLOTS, &v,
					  error))
			return false;
		if (v == 0)
			return bad_value_locked(vu, error,
						"GET_MAX_MEM_SLOTS answered 0: the backend cannot map any memory");
		vu->max_mem_slots = (unsigned int)MIN(v, 4096);
	}
	if (lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_BACKEND_REQ) &&
	    !lb_vu_backend_setup_locked(vu, error))
		return false;
	vu->negotiated = true;
	return true;
}

LB_VU_EXPORT bool loopback_vhost_user_negotiate(loopback_vhost_user *vu,
						uint64_t protocol_mask,
						GError **error)
{
	bool ok;

	g_mutex_lock(&vu->lock);
	if (vu->negotiated) {
		g_mutex_unlock(&vu->lock);
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_INVALID,
			    "vhost-user: already negotiated: a new negotiation needs a new session");
		return false;
	}
	vu->protocol_mask = protocol_mask;
	ok = lb_vu_negotiate_locked(vu, error);
	g_mutex_unlock(&vu->lock);
	return ok;
}

bool lb_vu_negotiated_locked(loopback_vhost_user *vu, GError **error)
{
	if (!lb_vu_usable_locked(vu, error))
		return false;
	if (vu->negotiated)
		return true;
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_INVALID,
		    "vhost-user: call loopback_vhost_user_negotiate first");
	return false;
}

LB_VU_EXPORT uint64_t loopback_vhost_user_get_backend_features(
	loopback_vhost_user *vu)
{
	return vu->backend_features;
}

LB_VU_EXPORT uint64_t loopback_vhost_user_get_protocol_features(
	loopback_vhost_user *vu)
{
	return vu->protocol;
}

LB_VU_EXPORT uint64_t loopback_vhost_user_get_backend_protocol_features(
	loopback_vhost_user *vu)
{
	return vu->backend_protocol;
}

LB_VU_EXPORT bool loopback_vhost_user_has_protocol_feature(
	loopback_vhost_user *vu, unsigned int bit)
{
	return bit < 64 && lb_vu_has(vu, bit);
}

LB_VU_EXPORT unsigned int loopback_vhost_user_get_queue_num(
	loopback_vhost_user *vu)
{
	return vu->queue_num;
}

LB_VU_EXPORT unsigned int loopback_vhost_user_get_max_mem_slots(
	loopback_vhost_user *vu)
{
	return vu->max_mem_slots;
}

/* vhost-user's own bits, which a virtio driver must never see */
#define LB_VU_TRANSPORT_BITS \
	((1ULL << LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES) | \
	 (1ULL << LOOPBACK_VHOST_F_LOG_ALL))

LB_VU_EXPORT uint64_t loopback_vhost_user_device_features(
	loopback_vhost_user *vu, uint64_t allowlist)
{
	uint64_t f = allowlist & vu->backend_features & ~LB_VU_TRANSPORT_BITS;

	/* a backend that replaces this one must offer them all */
	g_mutex_lock(&vu->lock);
	vu->promised |= f;
	g_mutex_unlock(&vu->lock);
	return f | (1ULL << LOOPBACK_VIRTIO_F_ACCESS_PLATFORM);
}

LB_VU_EXPORT bool loopback_vhost_user_set_features(loopback_vhost_user *vu,
						   uint64_t driver_features,
						   GError **error)
{
	uint64_t f = driver_features &
		~(LB_VU_TRANSPORT_BITS |
		  (1ULL << LOOPBACK_VIRTIO_F_ACCESS_PLATFORM));
	GError *err = NULL;
	bool ok;

	g_mutex_lock(&vu->lock);
	if (!lb_vu_down_locked(vu) && !lb_vu_negotiated_locked(vu, error)) {
		ok = false;
	} else if (f & ~vu->backend_features) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: the backend does not offer features 0x%" G_GINT64_MODIFIER "x that the driver acked (it offers 0x%" G_GINT64_MODIFIER "x): start it with the options it had when the device was created",
			    f & ~vu->backend_features, vu->backend_features);
		ok = false;
	} else if (!(f & (1ULL << LOOPBACK_VIRTIO_F_VERSION_1))) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
			    "vhost-user: the driver did not ack VERSION_1: legacy devices are not supported");
		ok = false;
	} else {
		f |= vu->backend_features &
			(1ULL << LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES);
		vu->acked = f;
		ok = lb_vu_down_locked(vu) ||
			lb_vu_simple_locked(vu, LB_VU_SET_FEATURES, f, true,
					    &err);
		ok = record_only(vu, ok, &err, error);
	}
	g_mutex_unlock(&vu->lock);
	return ok;
}

static bool need_protocol_locked(loopback_vhost_user *vu, unsigned int bit,
				 const char *what, GError **error)
{
	if (!lb_vu_negotiated_locked(vu, error))
		return false;
	if (lb_vu_has(vu, bit))
		return true;
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,
		    "vhost-user: %s needs protocol feature %u, which the backend did not offer (or it was masked)",
		    what, bit);
	return false;
}

static bool config_args_ok(uint32_t offset, uint32_t size, GError **error)
{
	if (size > 0 && size <= LB_VU_CONFIG_MAX &&
	    offset <= LB_VU_CONFIG_MAX - size)
		return true;
	g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
		    LOOPBACK_VHOST_USER_ERROR_INVALID,
		    "vhost-user: config access of %u bytes at %u is outside the %u bytes vhost-user carries",
		    size, offset, LB_VU_CONFIG_MAX);
	return false;
}

LB_VU_EXPORT bool loopback_vhost_user_get_config(loopback_vhost_user *vu,
						 uint32_t offset, void *buf,
						 uint32_t size, GError **error)
{
	struct lb_vu_msg msg, reply;
	bool ok = false;

	if (!config_args_ok(offset, size, error))
		return false;
	g_mutex_lock(&vu->lock);
	if (!need_protocol_locked(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIG,
				  "GET_CONFIG", error))
		goto out;
	/*
	 * Always from offset 0, as QEMU asks: qemu-storage-daemon 7.2 copies
	 * from the start of its config space whatever the offset says.
	 */
	lb_vu_msg_init(&msg, LB_VU_GET_CONFIG,
		       LB_VU_CONFIG_HDR + offset + size);
	msg.p.config.size = offset + size;
	if (!lb_vu_exchange_locked(vu, &msg, NULL, 0, &reply, G_MAXSIZE, NULL,
				   0, NULL, error))
		goto out;
	if (reply.hdr.size == 0) {
		/* the spec's way of saying no: the session goes on */
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_REFUSED,
			    "vhost-user: the backend refused GET_CONFIG of %u bytes: see its log",
			    offset + size);
		goto out;
	}
	if (reply.hdr.size != msg.hdr.size ||
	    reply.p.config.size != offset + size ||
	    reply.p.config.offset != 0) {
		ok = bad_value_locked(vu, error,
				      "the backend answered GET_CONFIG of %u bytes with %u bytes (payload %u) at %u: it does not follow the protocol",
				      offset + size, reply.p.config.size,
				      reply.hdr.size, reply.p.config.offset);
		goto out;
	}
	memcpy(buf, reply.p.config.data + offset, size);
	ok = true;
out:
	g_mutex_unlock(&vu->lock);
	return ok;
}

LB_VU_EXPORT bool loopback_vhost_user_set_config(loopback_vhost_user *vu,
						 uint32_t offset,
						 const void *buf,
						 uint32_t size, GError **error)
{
	struct lb_vu_msg msg;
	bool ok = false;

	if (!config_args_ok(offset, size, error))
		return false;
	g_mutex_lock(&vu->lock);
	if (need_protocol_locked(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIG,
				 "SET_CONFIG", error)) {
		lb_vu_msg_init(&msg, LB_VU_SET_CONFIG, LB_VU_CONFIG_HDR + size);
		msg.p.config.offset = offset;
		msg.p.config.size = size;
		memcpy(msg.p.config.data, buf, size);
		ok = lb_vu_exchange_locked(vu, &msg, NULL, 0, NULL, 0, NULL, 0,
					   NULL, error);
	}
	g_mutex_unlock(&vu->lock);
	return ok;
}

LB_VU_EXPORT bool loopback_vhost_user_set_status(loopback_vhost_user *vu,
						 uint8_t status,
						 GError **error)
{
	GError *err = NULL;
	bool ok;

	g_mutex_lock(&vu->lock);
	ok = lb_vu_down_locked(vu) || lb_vu_negotiated_locked(vu, error);
	if (ok) {
		vu->status = status;
		vu->status_set = true;
	}
	if (ok && !lb_vu_down_locked(vu) &&
	    lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_STATUS))
		ok = record_only(vu, lb_vu_simple_locked(vu, LB_VU_SET_STATUS,
							 status, true, &err),
				 &err, error);
	g_mutex_unlock(&vu->lock);
	return ok;
}

LB_VU_EXPORT bool loopback_vhost_user_reset_device(loopback_vhost_user *vu,
						   GError **error)
{
	GError *err = NULL;
	bool ok, down;

	g_mutex_lock(&vu->lock);
	down = lb_vu_down_locked(vu);
	ok = down || lb_vu_negotiated_locked(vu, error);
	if (ok && !down &&
	    lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_RESET_DEVICE))
		ok = lb_vu_simple_locked(vu, LB_VU_RESET_DEVICE, 0, false,
					 &err);
	else if (ok && !down &&
		 lb_vu_has(vu, LOOPBACK_VHOST_USER_PROTOCOL_F_STATUS))
		ok = lb_vu_simple_locked(vu, LB_VU_SET_STATUS, 0, true, &err);
	if (!ok && err)
		ok = record_only(vu, false, &err, error);
	if (ok) {
		/* nothing of the old device is restored after a reconnect */
		for (unsigned int i = 0; i < LB_VU_MAX_VRINGS; i++)
			vu->vrings[i].started = false;
		vu->status_set = false;
		vu->inflight_queues = 0;
		lb_vu_inflight_release(vu);
	}
	g_mutex_unlock(&vu->lock);
	return ok;
}
