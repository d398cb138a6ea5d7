/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vhost-user frontend: drives an unmodified vhost-user backend
 * (qemu-storage-daemon, dpdk-testpmd, ...) over its unix socket.
 *
 * The frontend only sets things up: the rings' kick and call eventfds and
 * the memory are handed to the backend, which then works on the rings
 * without the frontend.  Setup calls block, each message bounded by the
 * session's timeout; the backend channel (config changes) and disconnect
 * detection run in a GSource.  Any failure breaks the session: every later
 * call fails with the same error.  See Documentation/vhost-user.md.
 */
#ifndef LOOPBACK_VHOST_USER_H
#define LOOPBACK_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <loopback/memory.h>

G_BEGIN_DECLS

#define LOOPBACK_VHOST_USER_ERROR (loopback_vhost_user_error_quark())
GQuark loopback_vhost_user_error_quark(void);

typedef enum {
	LOOPBACK_VHOST_USER_ERROR_FAILED,	/* a system call failed */
	LOOPBACK_VHOST_USER_ERROR_TIMEOUT,	/* no (complete) reply in time */
	LOOPBACK_VHOST_USER_ERROR_DISCONNECTED,	/* the backend closed */
	LOOPBACK_VHOST_USER_ERROR_PROTOCOL,	/* a malformed or wrong reply */
	LOOPBACK_VHOST_USER_ERROR_REFUSED,	/* the backend answered "no" */
	LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED,	/* not offered or negotiated */
	LOOPBACK_VHOST_USER_ERROR_INVALID,	/* a bad argument or state */
} LoopbackVhostUserError;

/* Virtio feature bits the frontend itself uses (as in virtio.h). */
#ifndef LOOPBACK_VIRTIO_F_VERSION_1
#define LOOPBACK_VIRTIO_F_VERSION_1		32
#endif
#ifndef LOOPBACK_VIRTIO_F_ACCESS_PLATFORM
#define LOOPBACK_VIRTIO_F_ACCESS_PLATFORM	33
#endif
#define LOOPBACK_VHOST_F_LOG_ALL		26
#define LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES	30

/* Protocol feature bits (VHOST_USER_PROTOCOL_F_*). */
enum {
	LOOPBACK_VHOST_USER_PROTOCOL_F_MQ = 0,
	LOOPBACK_VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	LOOPBACK_VHOST_USER_PROTOCOL_F_RARP = 2,
	LOOPBACK_VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	LOOPBACK_VHOST_USER_PROTOCOL_F_NET_MTU = 4,
	LOOPBACK_VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
	LOOPBACK_VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
	LOOPBACK_VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
	LOOPBACK_VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
	LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIG = 9,
	LOOPBACK_VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
	LOOPBACK_VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
	LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	LOOPBACK_VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
	LOOPBACK_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
	LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	LOOPBACK_VHOST_USER_PROTOCOL_F_STATUS = 16,
};

/* The protocol features this frontend implements (and so may ack). */
#define LOOPBACK_VHOST_USER_PROTOCOL_FEATURES_IMPLEMENTED \
	((1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_MQ) | \
	 (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_BACKEND_REQ) | \
	 (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIG) | \
	 (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) | \
	 (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_RESET_DEVICE) | \
	 (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | \
	 (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_STATUS))

/* Default bound on any one exchange with the backend. */
#define LOOPBACK_VHOST_USER_DEFAULT_TIMEOUT_MS 5000

typedef struct loopback_vhost_user loopback_vhost_user;

/* ---- session ---- */

/* Connects to a backend listening on @path (the frontend is the client). */
loopback_vhost_user *loopback_vhost_user_connect(const char *path,
						 GError **error);
/* Takes over @fd, a connected unix stream socket (closed on failure too). */
loopback_vhost_user *loopback_vhost_user_new_from_fd(int fd, GError **error);
/* Closes the sockets and forgets the memory table; the backend sees EOF. */
void loopback_vhost_user_free(loopback_vhost_user *vu);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(loopback_vhost_user, loopback_vhost_user_free)

/* Bounds every exchange that follows (milliseconds, > 0). */
void loopback_vhost_user_set_timeout(loopback_vhost_user *vu,
				     unsigned int timeout_ms);
/* false once any exchange failed or the backend went away. */
bool loopback_vhost_user_is_usable(loopback_vhost_user *vu);
/* The error that broke the session, or NULL; owned by the session. */
const GError *loopback_vhost_user_get_error(loopback_vhost_user *vu);

/*
 * SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES (acking the offered
 * part of LOOPBACK_VHOST_USER_PROTOCOL_FEATURES_IMPLEMENTED & @protocol_mask),
 * GET_QUEUE_NUM (MQ), GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS) and the
 * backend channel (BACKEND_REQ).  Call once, first.
 */
bool loopback_vhost_user_negotiate(loopback_vhost_user *vu,
				   uint64_t protocol_mask, GError **error);
uint64_t loopback_vhost_user_get_backend_features(loopback_vhost_user *vu);
/* The protocol features acked (0 without PROTOCOL_FEATURES). */
uint64_t loopback_vhost_user_get_protocol_features(loopback_vhost_user *vu);
/* What the backend offered, before masking. */
uint64_t loopback_vhost_user_get_backend_protocol_features(
	loopback_vhost_user *vu);
bool loopback_vhost_user_has_protocol_feature(loopback_vhost_user *vu,
					      unsigned int bit);
/* GET_QUEUE_NUM's answer, 0 when MQ was not negotiated. */
unsigned int loopback_vhost_user_get_queue_num(loopback_vhost_user *vu);
/* GET_MAX_MEM_SLOTS's answer, or 8 (SET_MEM_TABLE's limit). */
unsigned int loopback_vhost_user_get_max_mem_slots(loopback_vhost_user *vu);

/* ---- features ---- */

/*
 * The features to offer the driver: @allowlist & the backend's, without
 * the vhost-user bits (PROTOCOL_FEATURES, LOG_ALL), with ACCESS_PLATFORM:
 * the driver's buffers live in the DMA window.
 */
uint64_t loopback_vhost_user_device_features(loopback_vhost_user *vu,
					     uint64_t allowlist);
/*
 * SET_FEATURES with what the driver acked (ACCESS_PLATFORM is the
 * transport's and is not passed on; PROTOCOL_FEATURES is added back).
 * Fails if the backend does not offer all of them (a restarted backend
 * that lost a feature) or VERSION_1 is missing.
 */
bool loopback_vhost_user_set_features(loopback_vhost_user *vu,
				      uint64_t driver_features,
				      GError **error);

/* ---- config space (PROTOCOL_F_CONFIG) ---- */

bool loopback_vhost_user_get_config(loopback_vhost_user *vu, uint32_t offset,
				    void *buf, uint32_t size, GError **error);
bool loopback_vhost_user_set_config(loopback_vhost_user *vu, uint32_t offset,
				    const void *buf, uint32_t size,
				    GError **error);

/* ---- device status (PROTOCOL_F_STATUS; a no-op without it) ---- */

bool loopback_vhost_user_set_status(loopback_vhost_user *vu, uint8_t status,
				    GError **error);
/* RESET_DEVICE when negotiated, else SET_STATUS 0 when STATUS is. */
bool loopback_vhost_user_reset_device(loopback_vhost_user *vu,
				      GError **error);

/* ---- memory ---- */

/*
 * Follows @as with a MemoryListener: every RAM section it sees goes to the
 * backend (SET_MEM_TABLE, or ADD/REM_MEM_REG with CONFIGURE_MEM_SLOTS) as
 * the fd of its region and the section's offset in that fd.  io sections
 * are skipped; a RAM section without an fd is an error.  Later changes of
 * @as are sent at each commit (a failure then breaks the session).  @as
 * must outlive the session or a call with NULL, which stops following.
 */
bool loopback_vhost_user_set_address_space(loopback_vhost_user *vu,
					   AddressSpace *as, GError **error);
/* The regions the backend was given. */
unsigned int loopback_vhost_user_get_mem_region_count(loopback_vhost_user *vu);

/* ---- rings ---- */

typedef struct {
	unsigned int num;	/* queue size */
	uint16_t base;		/* next available index to process */
	/* guest-physical addresses, in the address space's RAM */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	int kick_fd;		/* eventfd the backend waits on (borrowed) */
	int call_fd;		/* eventfd the backend signals (borrowed) */
} loopback_vhost_user_vring;

/*
 * SET_VRING_NUM, BASE, ADDR (user addresses of the rings, through the
 * memory table), KICK, CALL and, with PROTOCOL_FEATURES, ENABLE 1.
 */
bool loopback_vhost_user_vring_start(loopback_vhost_user *vu,
				     unsigned int index,
				     const loopback_vhost_user_vring *vring,
				     GError **error);
/*
 * SET_VRING_ENABLE 0, GET_VRING_BASE, then waits (within the timeout)
 * until the used index in memory reaches the returned base: a backend may
 * still complete a request after answering.  @base: where to restart.
 */
bool loopback_vhost_user_vring_stop(loopback_vhost_user *vu,
				    unsigned int index, uint16_t *base,
				    GError **error);
/*
 * Waits (within the timeout) until the backend has used every buffer the
 * driver made available: for devices that complete every request (blk),
 * before vring_stop.  qemu-storage-daemon 7.2 drops the connection when it
 * completes a request after GET_VRING_BASE; draining first avoids that.
 * Not for rings whose buffers wait for the outside (a net receive ring).
 */
bool loopback_vhost_user_vring_drain(loopback_vhost_user *vu,
				     unsigned int index, GError **error);
/* SET_VRING_ENABLE alone (e.g. virtio-net's queue pairs). */
bool loopback_vhost_user_vring_enable(loopback_vhost_user *vu,
				      unsigned int index, bool enable,
				      GError **error);

/* ---- in-flight tracking (PROTOCOL_F_INFLIGHT_SHMFD) ---- */

/*
 * GET_INFLIGHT_FD for @num_queues queues of @queue_size, then
 * SET_INFLIGHT_FD with the same buffer: call before the rings start.  The
 * session keeps the buffer for a reconnect.
 */
bool loopback_vhost_user_setup_inflight(loopback_vhost_user *vu,
					unsigned int num_queues,
					unsigned int queue_size,
					GError **error);

/* ---- reconnect (Documentation/vhost-user.md, "Reconnect") ---- */

typedef enum {
	LOOPBACK_VHOST_USER_RECONNECTING,	/* the backend went away */
	LOOPBACK_VHOST_USER_RECONNECTED,	/* a new one took over */
} LoopbackVhostUserReconnectEvent;

/* @error: why the backend went (RECONNECTING), NULL for RECONNECTED. */
typedef void (*loopback_vhost_user_reconnect_cb)(
	loopback_vhost_user *vu, LoopbackVhostUserReconnectEvent event,
	const GError *error, void *data);

/*
 * With @limit_ms > 0, the source answers a backend that closes the
 * connection by connecting to the same path again (with backoff) until
 * @limit_ms have passed, restoring the session each time with
 * loopback_vhost_user_reconnect().  Only then, or when the new backend
 * cannot take over (fewer features), does the disconnected callback run.
 * Until the reconnect, ring, feature and status calls are recorded and
 * succeed; they reach the new backend.  A session from _connect only.
 */
void loopback_vhost_user_set_reconnect(loopback_vhost_user *vu,
				       unsigned int limit_ms);
void loopback_vhost_user_set_reconnect_cb(loopback_vhost_user *vu,
					  loopback_vhost_user_reconnect_cb cb,
					  void *data);
/* true from the disconnect until a reconnect, or until giving up. */
bool loopback_vhost_user_is_reconnecting(loopback_vhost_user *vu);
/*
 * One attempt, for a session whose backend went away: connects to the
 * path again, negotiates with the same mask, checks the new backend
 * offers every feature and protocol feature the session used, sends
 * SET_FEATURES, the memory table, SET_INFLIGHT_FD (the buffer kept, so the
 * backend resubmits what it had in flight) and restarts each started ring
 * with SET_VRING_BASE = its used index in memory; then kicks it and
 * signals its call fd once.  DISCONNECTED: nobody there yet (try later);
 * any other code: this backend cannot take over.  The source calls it;
 * call it yourself only for a session without a source.
 */
bool loopback_vhost_user_reconnect(loopback_vhost_user *vu, GError **error);

/* ---- the backend channel and disconnects ---- */

/* Runs when the backend says the config space changed (re-read it). */
typedef void (*loopback_vhost_user_config_changed_cb)(loopback_vhost_user *vu,
						      void *data);
/*
 * Runs once when the session breaks for good: the backend closed (after
 * the reconnect limit, when one is set), or misbehaved.
 */
typedef void (*loopback_vhost_user_disconnected_cb)(loopback_vhost_user *vu,
						    const GError *error,
						    void *data);

void loopback_vhost_user_set_config_changed_cb(
	loopback_vhost_user *vu, loopback_vhost_user_config_changed_cb cb,
	void *data);
void loopback_vhost_user_set_disconnected_cb(
	loopback_vhost_user *vu, loopback_vhost_user_disconnected_cb cb,
	void *data);
/*
 * A source that serves the backend channel and notices the backend
 * closing; attach it to the adapter's context.  The session must outlive
 * it (destroy the source first).
 */
GSource *loopback_vhost_user_source_new(loopback_vhost_user *vu);

G_END_DECLS

#endif /* LOOPBACK_VHOST_USER_H */
