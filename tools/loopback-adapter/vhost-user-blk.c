// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vhost-user-blk: the disk of an unmodified vhost-user backend
 * (qemu-storage-daemon's vhost-user-blk export, ...).  The adapter only
 * sets things up: the virtio model serves the registers and the status,
 * the backend is handed the DMA window's fd, the rings' addresses, each
 * queue's kick notifier (the kernel's ioeventfd) and interrupt notifier
 * (the kernel's irqfd), and then serves the rings without the adapter.
 *
 * A backend that goes away removes the device; reconnecting is not
 * implemented (Documentation/vhost-user.md).
 */
#include "config.h"

#include <string.h>

#include <loopback/vhost-user.h>

#include "devices.h"

#define NAME "vhost-user-blk"
#define F(bit) (1ULL << (bit))

/* What the driver may see of the backend's features. */
#define VUB_ALLOWLIST \
	(F(BLK_F_SIZE_MAX) | F(BLK_F_SEG_MAX) | F(BLK_F_BLK_SIZE) | \
	 F(BLK_F_FLUSH) | F(BLK_F_TOPOLOGY) | F(BLK_F_MQ) | \
	 F(BLK_F_DISCARD) | F(BLK_F_WRITE_ZEROES) | F(BLK_F_RO) | \
	 F(LOOPBACK_VIRTIO_F_EVENT_IDX) | F(LOOPBACK_VIRTIO_F_INDIRECT_DESC) | \
	 F(LOOPBACK_VIRTIO_F_VERSION_1))
/*
 * The window is sized from seg_max and size_max, so the driver always
 * gets both; they only bound the driver's requests, so a backend that
 * does not offer them is not told the driver accepted them.
 */
#define VUB_LIMITS (F(BLK_F_SIZE_MAX) | F(BLK_F_SEG_MAX))

#define VUB_QUEUE_SIZE 256
#define VUB_SIZE_MAX (128 * 1024)
#define VUB_WINDOW_MAX (1ULL << 30)	/* the kernel's largest */
#define REMOVE_TIMEOUT_MS 2000

typedef struct LbVub {
	LbAdapterDevice base;
	char *socket;
	unsigned int want_queues;	/* num-queues=, 0: the backend's */
	unsigned int num_queues;
	unsigned int queue_size;
	uint32_t seg_max;
	uint32_t size_max;
	uint8_t config[BLK_CONFIG_SIZE];
	loopback_vhost_user *vu;
	GSource *source;
	bool memory_given;		/* following the device's AddressSpace */
	bool *running;			/* per queue: handed to the backend */
	bool gone;			/* the backend went away */
} LbVub;

static uint32_t vub_get32(const LbVub *v, unsigned int off)
{
	uint32_t x;

	memcpy(&x, v->config + off, 4);
	return GUINT32_FROM_LE(x);
}

static void vub_set32(LbVub *v, unsigned int off, uint32_t x)
{
	x = GUINT32_TO_LE(x);
	memcpy(v->config + off, &x, 4);
}

/* ---- the class: what the virtio model asks ---- */

static void vub_config_read(void *opaque, unsigned int off, void *buf,
			    unsigned int len)
{
	LbVub *v = opaque;

	memcpy(buf, v->config + off, len);	/* the layer keeps it inside */
}

/* Every ring handed to the backend comes back: drained, then stopped. */
static void vub_stop_rings(void *opaque, LoopbackVirtio *vdev)
{
	LbVub *v = opaque;
	bool any = false;

	for (unsigned int i = 0; i < v->num_queues; i++) {
		g_autoptr(GError) err = NULL;
		uint16_t base;

		if (!v->running[i])
			continue;
		v->running[i] = false;
		any = true;
		if (!loopback_vhost_user_is_usable(v->vu))
			continue;
		/* a ring that does not drain in time is stopped all the same */
		if (!loopback_vhost_user_vring_drain(v->vu, i, &err)) {
			g_warning(NAME ": queue %u: %s", i, err->message);
			g_clear_error(&err);
		}
		if (!loopback_vhost_user_vring_stop(v->vu, i, &base, &err))
			g_warning(NAME ": queue %u: %s", i, err->message);
	}
	if (any && loopback_vhost_user_is_usable(v->vu)) {
		g_autoptr(GError) err = NULL;

		if (!loopback_vhost_user_reset_device(v->vu, &err))
			g_warning(NAME ": %s", err->message);
	}
}

/* DRIVER_OK: features, memory, the rings, the status. */
static bool vub_start_rings(void *opaque, LoopbackVirtio *vdev,
			    GError **error)
{
	LbVub *v = opaque;
	uint64_t backend = loopback_vhost_user_get_backend_features(v->vu);
	uint64_t features = loopback_virtio_get_features(vdev);

	features &= ~(VUB_LIMITS & ~backend);
	if (!loopback_vhost_user_set_features(v->vu, features, error))
		return false;
	if (!v->memory_given) {
		AddressSpace *as = loopback_device_get_address_space(v->base.dev);

		if (!loopback_vhost_user_set_address_space(v->vu, as, error))
			return false;
		v->memory_given = true;
	}
	for (unsigned int i = 0; i < v->num_queues; i++) {
		LoopbackVirtqueue *vq = loopback_virtio_get_queue(vdev, i);
		EventNotifier *irq = loopback_virtqueue_get_irq_notifier(vq);
		loopback_vhost_user_vring r = {
			.num = loopback_virtqueue_get_size(vq),
			.kick_fd = event_notifier_get_fd(
				loopback_virtqueue_get_kick_notifier(vq)),
			.call_fd = irq ? event_notifier_get_fd(irq) : -1,
		};

		if (!loopback_virtqueue_is_ready(vq))
			continue;	/* the driver uses fewer queues */
		loopback_virtqueue_get_rings(vq, &r.desc, &r.avail, &r.used);
		if (!loopback_vhost_user_vring_start(v->vu, i, &r, error)) {
			/* the layer calls stop only after a start that worked */
			vub_stop_rings(v, vdev);
			return false;
		}
		v->running[i] = true;
	}
	if (!loopback_vhost_user_set_status(v->vu,
					    loopback_virtio_get_status(vdev),
					    error)) {
		vub_stop_rings(v, vdev);
		return false;
	}
	return true;
}

/* ---- the backend ---- */

static void vub_disconnected(loopback_vhost_user *vu, const GError *error,
			     void *data)
{
	LbVub *v = data;

	if (v->gone)
		return;
	v->gone = true;
	g_printerr("loopback-adapter: %s: " NAME ": the backend at %s went "
		   "away (%s): removing the device (reconnect is not "
		   "supported)\n",
		   v->base.dev ? loopback_device_get_name(v->base.dev) : "-",
		   v->socket, error ? error->message : "closed");
	/* requests the backend took are lost: the removal breaks it if so */
	if (v->base.dev)
		loopback_device_remove(v->base.dev, REMOVE_TIMEOUT_MS, NULL);
}

static void vub_config_changed(loopback_vhost_user *vu, void *data)
{
	LbVub *v = data;
	uint8_t c[BLK_CONFIG_SIZE];
	g_autoptr(GError) err = NULL;

	if (!loopback_vhost_user_get_config(vu, 0, c, sizeof(c), &err)) {
		g_warning(NAME ": config change: %s", err->message);
		return;
	}
	/* only the capacity may change under the driver */
	memcpy(v->config, c, 8);
	if (v->base.vdev)
		loopback_virtio_config_changed(v->base.vdev);
}

static uint64_t vub_window(LbVub *v)
{
	return lb_device_window_size(v->num_queues, v->queue_size,
				     v->seg_max, v->size_max);
}

/* seg_max and size_max: the backend's, within what the window can take. */
static void vub_limits(LbVub *v, uint64_t backend)
{
	uint32_t seg = backend & F(BLK_F_SEG_MAX) ?
		       vub_get32(v, BLK_CONFIG_SEG_MAX) : 0;
	uint32_t size = backend & F(BLK_F_SIZE_MAX) ?
			vub_get32(v, BLK_CONFIG_SIZE_MAX) : 0;

	/* a request with its header and status fits in the queue */
	v->seg_max = MIN(v->queue_size - 2, 254);
	if (seg)
		v->seg_max = MIN(v->seg_max, seg);
	v->size_max = VUB_SIZE_MAX;
	if (size >= 4096)
		v->size_max = MIN(v->size_max, size);
	while (v->size_max > 4096 && vub_window(v) > VUB_WINDOW_MAX)
		v->size_max /= 2;
	vub_set32(v, BLK_CONFIG_SEG_MAX, v->seg_max);
	vub_set32(v, BLK_CONFIG_SIZE_MAX, v->size_max);
}

static bool vub_connect(LbAdapterDevice *dev, GError **error)
{
	LbVub *v = (LbVub *)dev;
	uint64_t backend, features;
	unsigned int qn;
	uint16_t nq;

	v->vu = loopback_vhost_user_connect(v->socket, error);
	if (!v->vu ||
	    !loopback_vhost_user_negotiate(v->vu, ~F(
			LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), error))
		return false;
	if (!loopback_vhost_user_has_protocol_feature(v->vu,
			LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIG)) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
			    NAME ": the backend at %s does not offer "
			    "PROTOCOL_F_CONFIG: its capacity is unknown",
			    v->socket);
		return false;
	}
	if (!loopback_vhost_user_get_config(v->vu, 0, v->config,
					    sizeof(v->config), error))
		return false;
	backend = loopback_vhost_user_get_backend_features(v->vu);
	qn = MAX(loopback_vhost_user_get_queue_num(v->vu), 1);
	v->num_queues = MIN(qn, LOOPBACK_VIRTIO_MAX_QUEUES);
	if (v->want_queues)
		v->num_queues = MIN(v->num_queues, v->want_queues);
	nq = GUINT16_TO_LE(v->num_queues);
	memcpy(v->config + BLK_CONFIG_NUM_QUEUES, &nq, 2);
	vub_limits(v, backend);
	features = loopback_vhost_user_device_features(v->vu, VUB_ALLOWLIST) |
		   VUB_LIMITS;
	v->running = g_new0(bool, v->num_queues);
	v->base.klass = (LoopbackVirtioDeviceClass) {
		.name = NAME,
		.device_id = 2,
		.vendor_id = 0x4c42,	/* "LB" */
		.features = features,
		.num_queues = v->num_queues,
		.queue_size_max = v->queue_size,
		.config_size = BLK_CONFIG_SIZE,
		.config_read = vub_config_read,
		.start = vub_start_rings,
		.stop = vub_stop_rings,
	};
	loopback_vhost_user_set_disconnected_cb(v->vu, vub_disconnected, v);
	loopback_vhost_user_set_config_changed_cb(v->vu, vub_config_changed,
						  v);
	return true;
}

/* ---- the device type ---- */

static const char vub_keys[] = "socket, num-queues";

static void vub_free(LbAdapterDevice *dev)
{
	LbVub *v = (LbVub *)dev;

	if (!v)
		return;
	if (v->source) {
		g_source_destroy(v->source);
		g_source_unref(v->source);
	}
	loopback_vhost_user_free(v->vu);
	g_free(v->running);
	g_free(v->socket);
	g_free(v);
}

static LbAdapterDevice *vub_create(const LbDeviceOption *opts, size_t n,
				   GError **error)
{
	LbVub *v = g_new0(LbVub, 1);
	bool ok = true;

	v->base.ops = &lb_vhost_user_blk_ops;
	v->queue_size = VUB_QUEUE_SIZE;
	for (size_t i = 0; i < n && ok; i++) {
		const LbDeviceOption *o = &opts[i];

		if (!strcmp(o->key, "socket"))
			ok = lb_opt_string(NAME, o, &v->socket, error);
		else if (!strcmp(o->key, "num-queues"))
			ok = lb_opt_uint(NAME, o, 1, LOOPBACK_VIRTIO_MAX_QUEUES,
					 &v->want_queues, error);
		else {
			lb_opt_unknown(NAME, o, vub_keys, error);
			ok = false;
		}
	}
	if (ok && !v->socket) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    NAME ": socket: missing (socket=PATH is required)");
		ok = false;
	}
	if (!ok) {
		vub_free(&v->base);
		return NULL;
	}
	return &v->base;
}

static uint64_t vub_window_size(LbAdapterDevice *dev)
{
	return vub_window((LbVub *)dev);
}

static bool vub_start(LbAdapterDevice *dev, LoopbackVirtio *vdev,
		      GMainContext *ctx, GError **error)
{
	LbVub *v = (LbVub *)dev;

	dev->vdev = vdev;	/* the backend serves the queues */
	v->source = loopback_vhost_user_source_new(v->vu);
	g_source_attach(v->source, ctx);
	return true;
}

/* The device is gone: the rings come back before the window goes. */
static void vub_stop(LbAdapterDevice *dev)
{
	LbVub *v = (LbVub *)dev;

	if (dev->vdev)
		vub_stop_rings(v, dev->vdev);
	if (v->memory_given)
		loopback_vhost_user_set_address_space(v->vu, NULL, NULL);
	v->memory_given = false;
	if (v->source) {
		g_source_destroy(v->source);
		g_source_unref(v->source);
		v->source = NULL;
	}
	dev->vdev = NULL;
}

const LbAdapterDeviceOps lb_vhost_user_blk_ops = {
	.name = NAME,
	.usage = "socket=PATH[,num-queues=N]",
	.create = vub_create,
	.connect = vub_connect,
	.window_size = vub_window_size,
	.start = vub_start,
	.stop = vub_stop,
	.free = vub_free,
};
