/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private to libloopback/vhost-user/: the wire format, the session and the
 * helpers the files share.
 */
#ifndef LOOPBACK_VHOST_USER_INTERNAL_H
#define LOOPBACK_VHOST_USER_INTERNAL_H

#include "config.h"

#include <loopback/vhost-user.h>

#include <stddef.h>

#include "../tsan.h"

#define LB_VU_EXPORT __attribute__((visibility("default")))

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* ---- the wire format (docs/interop/vhost-user.rst in QEMU) ---- */

enum {
	LB_VU_GET_FEATURES = 1,
	LB_VU_SET_FEATURES = 2,
	LB_VU_SET_OWNER = 3,
	LB_VU_RESET_OWNER = 4,
	LB_VU_SET_MEM_TABLE = 5,
	LB_VU_SET_LOG_BASE = 6,
	LB_VU_SET_LOG_FD = 7,
	LB_VU_SET_VRING_NUM = 8,
	LB_VU_SET_VRING_ADDR = 9,
	LB_VU_SET_VRING_BASE = 10,
	LB_VU_GET_VRING_BASE = 11,
	LB_VU_SET_VRING_KICK = 12,
	LB_VU_SET_VRING_CALL = 13,
	LB_VU_SET_VRING_ERR = 14,
	LB_VU_GET_PROTOCOL_FEATURES = 15,
	LB_VU_SET_PROTOCOL_FEATURES = 16,
	LB_VU_GET_QUEUE_NUM = 17,
	LB_VU_SET_VRING_ENABLE = 18,
	LB_VU_SEND_RARP = 19,
	LB_VU_NET_SET_MTU = 20,
	LB_VU_SET_BACKEND_REQ_FD = 21,
	LB_VU_IOTLB_MSG = 22,
	LB_VU_SET_VRING_ENDIAN = 23,
	LB_VU_GET_CONFIG = 24,
	LB_VU_SET_CONFIG = 25,
	LB_VU_GET_INFLIGHT_FD = 31,
	LB_VU_SET_INFLIGHT_FD = 32,
	LB_VU_RESET_DEVICE = 34,
	LB_VU_GET_MAX_MEM_SLOTS = 36,
	LB_VU_ADD_MEM_REG = 37,
	LB_VU_REM_MEM_REG = 38,
	LB_VU_SET_STATUS = 39,
	LB_VU_GET_STATUS = 40,
};

/* requests on the backend channel (backend to frontend) */
enum {
	LB_VU_BACKEND_IOTLB_MSG = 1,
	LB_VU_BACKEND_CONFIG_CHANGE_MSG = 2,
	LB_VU_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
};

#define LB_VU_VERSION		0x1u
#define LB_VU_VERSION_MASK	0x3u
#define LB_VU_FLAG_REPLY	(1u << 2)
#define LB_VU_FLAG_NEED_REPLY	(1u << 3)

#define LB_VU_VRING_IDX_MASK	0xffu
#define LB_VU_VRING_NOFD	(1u << 8)
#define LB_VU_MAX_VRINGS	256

/* SET_MEM_TABLE carries at most this many regions (one fd each) */
#define LB_VU_MEM_TABLE_MAX	8
#define LB_VU_MAX_FDS		8
#define LB_VU_CONFIG_MAX	256
#define LB_VU_CONFIG_HDR	12

struct lb_vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct lb_vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct lb_vu_msg {
	struct lb_vu_hdr hdr;
	union {
		uint64_t u64;
		struct {
			uint32_t index;
			uint32_t num;
		} __attribute__((packed)) state;
		struct {
			uint32_t index;
			uint32_t flags;
			uint64_t desc;
			uint64_t used;
			uint64_t avail;
			uint64_t log;
		} __attribute__((packed)) addr;
		struct {
			uint32_t nregions;
			uint32_t padding;
			struct lb_vu_region regions[LB_VU_MEM_TABLE_MAX];
		} __attribute__((packed)) memory;
		struct {
			uint64_t padding;
			struct lb_vu_region region;
		} __attribute__((packed)) mem_reg;
		struct {
			uint32_t offset;
			uint32_t size;
			uint32_t flags;
			uint8_t data[LB_VU_CONFIG_MAX];
		} __attribute__((packed)) config;
		struct {
			uint64_t mmap_size;
			uint64_t mmap_offset;
			uint16_t num_queues;
			uint16_t queue_size;
		} __attribute__((packed)) inflight;
		uint8_t raw[LB_VU_CONFIG_HDR + LB_VU_CONFIG_MAX];
	} __attribute__((packed)) p;
} __attribute__((packed));

#define LB_VU_PAYLOAD_MAX	sizeof(((struct lb_vu_msg *)0)->p)
#define LB_VU_STATE_SIZE	sizeof(((struct lb_vu_msg *)0)->p.state)
#define LB_VU_ADDR_SIZE		sizeof(((struct lb_vu_msg *)0)->p.addr)
#define LB_VU_MEM_REG_SIZE	sizeof(((struct lb_vu_msg *)0)->p.mem_reg)
#define LB_VU_INFLIGHT_SIZE	sizeof(((struct lb_vu_msg *)0)->p.inflight)

/* message.c: framing with fds, every wait bounded by @deadline (µs) */
const char *lb_vu_request_name(uint32_t request);
/* The same for the backend channel's requests, which number their own. */
const char *lb_vu_backend_request_name(uint32_t request);
typedef const char *(*lb_vu_namer)(uint32_t request);
void lb_vu_msg_init(struct lb_vu_msg *msg, uint32_t request, uint32_t size);
bool lb_vu_send(int sock, const struct lb_vu_msg *msg, const int *fds,
		size_t nfds, gint64 deadline, GError **error);
/*
 * Reads one message.  Up to @max_fds received fds land in @fds (the count
 * in @nfds), any beyond are closed and make it fail.  A size above what
 * struct lb_vu_msg holds is an error, the payload is not read.
 */
bool lb_vu_recv(int sock, struct lb_vu_msg *msg, int *fds, size_t max_fds,
		size_t *nfds, gint64 deadline, lb_vu_namer name,
		GError **error);
void lb_vu_close_fds(int *fds, size_t nfds);
gint64 lb_vu_deadline(unsigned int timeout_ms);

/* ---- the session ---- */

struct lb_vu_memtable;

struct lb_vu_vring_state {
	bool started;
	unsigned int num;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	/* what vring_start was given, to start it again after a reconnect */
	loopback_vhost_user_vring cfg;
};

struct loopback_vhost_user {
	/* serialises exchanges on @sock and guards what they change */
	GMutex lock;
	int sock;
	unsigned int timeout_ms;
	GError *broken;		/* set once; every later call fails with it */
	bool negotiated;

	uint64_t backend_features;
	uint64_t backend_protocol;	/* as offered */
	uint64_t protocol;		/* as acked */
	unsigned int queue_num;
	unsigned int max_mem_slots;

	struct lb_vu_memtable *mt;
	struct lb_vu_vring_state vrings[LB_VU_MAX_VRINGS];

	/* the backend channel: our end of the socketpair, or -1 */
	int backend_fd;
	uint64_t refused_logged;	/* backend requests < 64 refused aloud */
	loopback_vhost_user_config_changed_cb config_cb;
	void *config_data;
	loopback_vhost_user_disconnected_cb disc_cb;
	void *disc_data;
	bool disc_reported;

	/* in-flight buffer (inflight.c) */
	int inflight_fd;
	void *inflight_map;
	uint64_t inflight_size;
	uint64_t inflight_offset;
	unsigned int inflight_queues;	/* asked for; 0: none */
	unsigned int inflight_qsize;

	/* what a reconnect restores (reconnect.c) */
	char *path;			/* from _connect, or NULL */
	uint64_t protocol_mask;		/* as given to _negotiate */
	uint64_t promised;		/* device features offered (_device_features) */
	uint64_t acked;			/* last SET_FEATURES, 0 before */
	bool status_set;
	uint8_t status;
	unsigned int reconnect_ms;	/* 0: a disconnect is final */
	bool gave_up;			/* the limit passed: final */
	loopback_vhost_user_reconnect_cb reconnect_cb;
	void *reconnect_data;
};

/* frontend.c */
bool lb_vu_usable(loopback_vhost_user *vu, GError **error);
bool lb_vu_usable_locked(loopback_vhost_user *vu, GError **error);
/* With vu->lock held: usable and negotiated, else false with why. */
bool lb_vu_negotiated_locked(loopback_vhost_user *vu, GError **error);
/* Breaks the session with @err (taken): shuts the sockets down. */
void lb_vu_break_locked(loopback_vhost_user *vu, GError *err);
bool lb_vu_has(loopback_vhost_user *vu, unsigned int bit);
/*
 * One exchange, with vu->lock held: sends @msg (and @fds); with @reply,
 * reads the reply to it, which must be @reply_size bytes (any size when
 * G_MAXSIZE); without, waits for REPLY_ACK's ack when negotiated.  Any
 * failure breaks the session.  Received fds go to @rfds (up to @max_rfds).
 */
bool lb_vu_exchange_locked(loopback_vhost_user *vu, struct lb_vu_msg *msg,
			   const int *fds, size_t nfds,
			   struct lb_vu_msg *reply, size_t reply_size,
			   int *rfds, size_t max_rfds, size_t *nrfds,
			   GError **error);
/*
 * With vu->lock held: the backend went away and a reconnect is to come.
 * Ring, feature and status changes are then recorded, not sent.
 */
bool lb_vu_down_locked(loopback_vhost_user *vu);
/*
 * After a call failed with @err (taken): true, and @err dropped, when the
 * failure was the backend going away and a reconnect is to come.
 */
bool lb_vu_deferred_locked(loopback_vhost_user *vu, GError **err);
bool lb_vu_negotiate_locked(loopback_vhost_user *vu, GError **error);
/* The same for a request without a payload in reply, or a u64 one. */
bool lb_vu_simple_locked(loopback_vhost_user *vu, uint32_t request,
			 uint64_t value, bool has_value, GError **error);
bool lb_vu_get_u64_locked(loopback_vhost_user *vu, uint32_t request,
			  uint64_t *value, GError **error);

/* memtable.c */
void lb_vu_memtable_free(struct lb_vu_memtable *mt);
/* The user address of [gpa, gpa + len), which must be in one region. */
bool lb_vu_memtable_translate_locked(loopback_vhost_user *vu, uint64_t gpa,
				     uint64_t len, uint64_t *uaddr,
				     GError **error);

/* Sends the whole table again (a new backend knows nothing of it). */
bool lb_vu_memtable_resend_locked(loopback_vhost_user *vu, GError **error);

/* vring.c */
/* Starts ring @index again from the used index in memory. */
bool lb_vu_vring_restore_locked(loopback_vhost_user *vu, unsigned int index,
				bool inflight, GError **error);

/* inflight.c */
void lb_vu_inflight_release(loopback_vhost_user *vu);
/* SET_INFLIGHT_FD with the buffer kept, or a new one if none is kept. */
bool lb_vu_inflight_restore_locked(loopback_vhost_user *vu, GError **error);

/* backend.c */
void lb_vu_backend_close(loopback_vhost_user *vu);
bool lb_vu_backend_setup_locked(loopback_vhost_user *vu, GError **error);

#endif /* LOOPBACK_VHOST_USER_INTERNAL_H */
