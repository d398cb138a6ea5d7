// SPDX-License-Identifier: LGPL-2.1-or-later
/* Framing of vhost-user messages and their fds, every wait bounded. */

#include "vhost-user-internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const request_names[] = {
	[LB_VU_GET_FEATURES] = "GET_FEATURES",
	[LB_VU_SET_FEATURES] = "SET_FEATURES",
	[LB_VU_SET_OWNER] = "SET_OWNER",
	[LB_VU_RESET_OWNER] = "RESET_OWNER",
	[LB_VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[LB_VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[LB_VU_SET_LOG_FD] = "SET_LOG_FD",
	[LB_VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[LB_VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[LB_VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[LB_VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[LB_VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[LB_VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[LB_VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[LB_VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[LB_VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[LB_VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[LB_VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[LB_VU_SEND_RARP] = "SEND_RARP",
	[LB_VU_NET_SET_MTU] = "NET_SET_MTU",
	[LB_VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[LB_VU_IOTLB_MSG] = "IOTLB_MSG",
	[LB_VU_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[LB_VU_GET_CONFIG] = "GET_CONFIG",
	[LB_VU_SET_CONFIG] = "SET_CONFIG",
	[LB_VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[LB_VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[LB_VU_RESET_DEVICE] = "RESET_DEVICE",
	[LB_VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[LB_VU_ADD_MEM_REG] = "ADD_MEM_REG",
	[LB_VU_REM_MEM_REG] = "REM_MEM_REG",
	[LB_VU_SET_STATUS] = "SET_STATUS",
	[LB_VU_GET_STATUS] = "GET_STATUS",
};

const char *lb_vu_request_name(uint32_t request)
{
	if (request < G_N_ELEMENTS(request_names) && request_names[request])
		return request_names[request];
	return "an unknown request";
}

const char *lb_vu_backend_request_name(uint32_t request)
{
	switch (request) {
	case LB_VU_BACKEND_IOTLB_MSG:
		return "IOTLB_MSG";
	case LB_VU_BACKEND_CONFIG_CHANGE_MSG:
		return "CONFIG_CHANGE_MSG";
	case LB_VU_BACKEND_VRING_HOST_NOTIFIER_MSG:
		return "VRING_HOST_NOTIFIER_MSG";
	default:
		return "an unknown backend request";
	}
}

void lb_vu_msg_init(struct lb_vu_msg *msg, uint32_t request, uint32_t size)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.request = request;
	msg->hdr.flags = LB_VU_VERSION;
	msg->hdr.size = size;
}

gint64 lb_vu_deadline(unsigned int timeout_ms)
{
	return g_get_monotonic_time() + (gint64)timeout_ms * 1000;
}

void lb_vu_close_fds(int *fds, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Waits for @events on @sock until @deadline; false with the error. */
static bool wait_for(int sock, short events, gint64 deadline,
		     const char *what, GError **error)
{
	for (;;) {
		gint64 left = deadline - g_get_monotonic_time();
		struct pollfd pfd = { .fd = sock, .events = events };
		int n;

		if (left <= 0) {
			g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
				    LOOPBACK_VHOST_USER_ERROR_TIMEOUT,
				    "vhost-user: timed out %s: the backend is stuck, or slower than the session's timeout allows",
				    what);
			return false;
		}
		n = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR) {
			g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
				    LOOPBACK_VHOST_USER_ERROR_FAILED,
				    "vhost-user: poll on the socket failed: %s",
				    g_strerror(errno));
			return false;
		}
	}
}

bool lb_vu_send(int sock, const struct lb_vu_msg *msg, const int *fds,
		size_t nfds, gint64 deadline, GError **error)
{
	const char *buf = (const char *)msg;
	size_t len = sizeof(msg->hdr) + msg->hdr.size;
	size_t done = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int) * LB_VU_MAX_FDS)];
		struct cmsghdr align;
	} control;

	g_return_val_if_fail(nfds <= LB_VU_MAX_FDS, false);
	g_return_val_if_fail(msg->hdr.size <= LB_VU_PAYLOAD_MAX, false);

	while (done < len) {
		struct iovec iov = {
			.iov_base = (void *)(buf + done),
			.iov_len = len - done,
		};
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		/* the fds travel with the first byte only */
		if (done == 0 && nfds > 0) {
			struct cmsghdr *cm;

			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(sock, POLLOUT, deadline,
				      "sending to the backend", error))
				return false;
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
				    LOOPBACK_VHOST_USER_ERROR_DISCONNECTED,
				    "vhost-user: the backend closed the connection before %s: see its log, restart it and connect again",
				    lb_vu_request_name(msg->hdr.request));
			return false;
		}
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_FAILED,
			    "vhost-user: sending %s failed: %s",
			    lb_vu_request_name(msg->hdr.request),
			    n < 0 ? g_strerror(errno) : "nothing sent");
		return false;
	}
	return true;
}

/* Keeps what fits in @fds, closes the rest; false when some did not fit. */
static bool take_fds(struct msghdr *mh, int *fds, size_t max_fds,
		     size_t *nfds)
{
	bool fit = true;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int got[LB_VU_MAX_FDS * 2];

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		n = MIN(n, G_N_ELEMENTS(got));
		memcpy(got, CMSG_DATA(cm), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (*nfds < max_fds) {
				fds[(*nfds)++] = got[i];
			} else {
				close(got[i]);
				fit = false;
			}
		}
	}
	return fit;
}

/* Reads exactly @len bytes into @buf (fds only with the first byte). */
static bool recv_all(int sock, void *buf, size_t len, int *fds,
		     size_t max_fds, size_t *nfds, gint64 deadline,
		     const char *what, GError **error)
{
	size_t done = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int) * LB_VU_MAX_FDS * 2)];
		struct cmsghdr align;
	} control;

	while (done < len) {
		struct iovec iov = {
			.iov_base = (char *)buf + done,
			.iov_len = len - done,
		};
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n > 0) {
			bool fit = take_fds(&mh, fds, max_fds, nfds);

			done += (size_t)n;
			if (!fit || (mh.msg_flags & MSG_CTRUNC)) {
				g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
					    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
					    "vhost-user: the backend sent more file descriptors than %s carries: it does not follow the protocol",
					    what);
				return false;
			}
			continue;
		}
		if (n == 0) {
			g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
				    LOOPBACK_VHOST_USER_ERROR_DISCONNECTED,
				    "vhost-user: the backend closed the connection while %s was expected: see its log, restart it and connect again",
				    what);
			return false;
		}
		if (errno == EAGAIN || errno == EINTR) {
			g_autofree char *waiting =
				g_strdup_printf("waiting for %s", what);

			if (!wait_for(sock, POLLIN, deadline, waiting, error))
				return false;
			continue;
		}
		if (errno == ECONNRESET) {
			/* a close with our request still unread */
			g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
				    LOOPBACK_VHOST_USER_ERROR_DISCONNECTED,
				    "vhost-user: the backend closed the connection (reset) while %s was expected: see its log, restart it and connect again",
				    what);
			return false;
		}
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_FAILED,
			    "vhost-user: reading %s failed: %s", what,
			    g_strerror(errno));
		return false;
	}
	return true;
}

bool lb_vu_recv(int sock, struct lb_vu_msg *msg, int *fds, size_t max_fds,
		size_t *nfds, gint64 deadline, lb_vu_namer name,
		GError **error)
{
	*nfds = 0;
	if (!recv_all(sock, &msg->hdr, sizeof(msg->hdr), fds, max_fds, nfds,
		      deadline, "a message header", error))
		goto fail;
	if ((msg->hdr.flags & LB_VU_VERSION_MASK) != LB_VU_VERSION) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: the backend sent a message of version %u to %s, only version 1 exists",
			    msg->hdr.flags & LB_VU_VERSION_MASK,
			    name(msg->hdr.request));
		goto fail;
	}
	if (msg->hdr.size > LB_VU_PAYLOAD_MAX) {
		g_set_error(error, LOOPBACK_VHOST_USER_ERROR,
			    LOOPBACK_VHOST_USER_ERROR_PROTOCOL,
			    "vhost-user: the backend's message (%s) says its payload has %u bytes, no message has more than %zu: it does not follow the protocol",
			    name(msg->hdr.request),
			    msg->hdr.size, LB_VU_PAYLOAD_MAX);
		goto fail;
	}
	if (!recv_all(sock, &msg->p, msg->hdr.size, fds, max_fds, nfds,
		      deadline, "a message payload", error))
		goto fail;
	return true;
fail:
	lb_vu_close_fds(fds, *nfds);
	*nfds = 0;
	return false;
}
