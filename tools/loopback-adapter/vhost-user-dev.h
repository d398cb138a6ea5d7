/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The adapter's vhost-user device core: what every vhost-user device type
 * (vhost-user-blk.c, ...) shares.  The core connects and negotiates,
 * creates the loopback device with the allowed features, hands the
 * backend the memory and the rings at DRIVER_OK, takes them back at a
 * reset, and removes the device when the backend goes away.  A class
 * (LbVuClass) says only what differs: its config space, how many queues,
 * which device feature bits, what a config change means.
 *
 * Life of a device (on top of devices.h's):
 *   create:  lb_vu_dev_new(), then per key lb_vu_dev_option() or the
 *            class's own, then lb_vu_dev_check()
 *   connect: lb_vu_dev_connect(); its vu_session() is the one place
 *            the session is set up, calling the class's queues() and
 *            config()
 *   DRIVER_OK: vu_rings_start(); reset or removal: vu_rings_stop(), the
 *            one place queues start and stop
 */
#ifndef LOOPBACK_ADAPTER_VHOST_USER_DEV_H
#define LOOPBACK_ADAPTER_VHOST_USER_DEV_H

#include <loopback/vhost-user.h>

#include "devices.h"

#define LB_VU_F(bit) (1ULL << (bit))

/*
 * Transport bits any class may pass from the backend to the driver: they
 * change only how the rings are used, which the backend implements.
 * Not RING_PACKED (the virtio layer models split rings only), IN_ORDER,
 * NOTIFICATION_DATA, RING_RESET, SR_IOV: not supported by the layer.
 */
#define LB_VU_TRANSPORT_FEATURES \
	(LB_VU_F(LOOPBACK_VIRTIO_F_VERSION_1) | \
	 LB_VU_F(LOOPBACK_VIRTIO_F_EVENT_IDX) | \
	 LB_VU_F(LOOPBACK_VIRTIO_F_INDIRECT_DESC))

typedef struct LbVuDev LbVuDev;

typedef struct LbVuClass {
	const char *name;		/* the device type, for messages */
	uint32_t device_id;
	/*
	 * Required: the number of queues, from the backend's GET_QUEUE_NUM
	 * answer (0 without PROTOCOL_F_MQ) and the options; false with
	 * @error if they do not fit.
	 */
	bool (*queues)(LbVuDev *d, unsigned int backend_queues,
		       GError **error);
	/*
	 * Required: fills d->config (d->config_size bytes, zeroed) and may
	 * adjust d->allowlist; the queue count is known.
	 */
	bool (*config)(LbVuDev *d, GError **error);
	/* Optional: the backend's config-change message. */
	void (*config_changed)(LbVuDev *d);
	/* Optional: window bytes (default: lb_vu_dev_window_default). */
	uint64_t (*window_size)(LbVuDev *d);
	/* Optional: frees d->priv. */
	void (*free)(LbVuDev *d);
} LbVuClass;

struct LbVuDev {
	LbAdapterDevice base;
	const LbVuClass *cls;
	void *priv;			/* the class's */

	/* options (lb_vu_dev_option) */
	char *socket;
	unsigned int want_queues;	/* num-queues=, 0: not given */
	unsigned int reconnect_s;	/* reconnect=, 0: not at all */

	/* set by the class before or during lb_vu_dev_session() */
	uint64_t allowlist;		/* device bits the driver may see */
	/*
	 * Bits offered to the driver whatever the backend offers, because
	 * the adapter fulfils them itself (blk's limits); they reach the
	 * backend only if it offered them.
	 */
	uint64_t own_features;
	bool drain;			/* wait for every request at a stop */
	unsigned int queue_size;
	unsigned int num_queues;
	unsigned int config_size;
	uint8_t *config;

	/* the session */
	loopback_vhost_user *vu;
	GSource *source;
	bool memory_given;		/* following the device's memory */
	bool *running;			/* per queue: handed to the backend */
	bool gone;			/* the backend went away */
};

#define LB_VU_QUEUE_SIZE 256

/* A device of @cls with @ops, its common fields defaulted. */
LbVuDev *lb_vu_dev_new(const LbVuClass *cls, const LbAdapterDeviceOps *ops);
/*
 * The keys every vhost-user type takes (socket, num-queues, reconnect;
 * LB_VU_DEV_KEYS): true with
 * *@handled set if @o is one of them, false with @error if its value is
 * bad.
 */
#define LB_VU_DEV_KEYS "socket, num-queues, reconnect"
#define LB_VU_RECONNECT_MAX_S 86400
bool lb_vu_dev_option(LbVuDev *d, const LbDeviceOption *o, bool *handled,
		      GError **error);
/* After the options: the required ones are there. */
bool lb_vu_dev_check(LbVuDev *d, GError **error);
/* Always false: "TYPE: KEY: missing (KEY=FORM is required)". */
bool lb_vu_dev_missing(LbVuDev *d, const char *key, const char *form,
		       GError **error);

/* The device type's connect, window_size, start, stop and free. */
bool lb_vu_dev_connect(LbAdapterDevice *dev, GError **error);
uint64_t lb_vu_dev_window_size(LbAdapterDevice *dev);
bool lb_vu_dev_start(LbAdapterDevice *dev, LoopbackVirtio *vdev,
		     GMainContext *ctx, GError **error);
void lb_vu_dev_stop(LbAdapterDevice *dev);
void lb_vu_dev_free(LbAdapterDevice *dev);

/* Ops of a vhost-user type whose create is @create_. */
#define LB_VU_OPS(name_, usage_, create_) {	\
	.name = name_,				\
	.usage = usage_,			\
	.create = create_,			\
	.connect = lb_vu_dev_connect,		\
	.window_size = lb_vu_dev_window_size,	\
	.start = lb_vu_dev_start,		\
	.stop = lb_vu_dev_stop,			\
	.free = lb_vu_dev_free,			\
}

/* Rings of every queue plus one request of @segs pages per queue. */
uint64_t lb_vu_dev_window_default(LbVuDev *d);

/* Config space fields, little endian. */
uint32_t lb_vu_dev_get32(const LbVuDev *d, unsigned int off);
void lb_vu_dev_set32(LbVuDev *d, unsigned int off, uint32_t x);
void lb_vu_dev_set16(LbVuDev *d, unsigned int off, uint16_t x);

/* Requires PROTOCOL_F_CONFIG, then GET_CONFIG of all of d->config. */
bool lb_vu_dev_get_config(LbVuDev *d, const char *what, GError **error);

#endif /* LOOPBACK_ADAPTER_VHOST_USER_DEV_H */
