// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The vhost-user device core (vhost-user-dev.h): an unmodified vhost-user
 * backend serves a loopback device.  The adapter only sets things up: the
 * virtio model serves the registers and the status, the backend is handed
 * the DMA window's fd, the rings' addresses, each queue's kick notifier
 * (the kernel's ioeventfd) and interrupt notifier (the kernel's irqfd),
 * and then serves the rings without the adapter.
 *
 * A backend that goes away removes the device, or with reconnect=S the
 * session waits up to S seconds for a new one on the same socket and
 * hands it the rings (Documentation/vhost-user.md, "Reconnect").
 */
#include "config.h"

#include <string.h>

#include "vhost-user-dev.h"

#define VU_WINDOW_MAX (1ULL << 30)	/* the kernel's largest */
#define REMOVE_TIMEOUT_MS 2000

LbVuDev *lb_vu_dev_new(const LbVuClass *cls, const LbAdapterDeviceOps *ops)
{
	LbVuDev *d = g_new0(LbVuDev, 1);

	d->base.ops = ops;
	d->cls = cls;
	d->queue_size = LB_VU_QUEUE_SIZE;
	return d;
}

bool lb_vu_dev_option(LbVuDev *d, const LbDeviceOption *o, bool *handled,
		      GError **error)
{
	*handled = true;
	if (!strcmp(o->key, "socket"))
		return lb_opt_string(d->cls->name, o, &d->socket, error);
	if (!strcmp(o->key, "num-queues"))
		return lb_opt_uint(d->cls->name, o, 1,
				   LOOPBACK_VIRTIO_MAX_QUEUES, &d->want_queues,
				   error);
	if (!strcmp(o->key, "reconnect"))
		return lb_opt_uint(d->cls->name, o, 0, LB_VU_RECONNECT_MAX_S,
				   &d->reconnect_s, error);
	*handled = false;
	return true;
}

bool lb_vu_dev_missing(LbVuDev *d, const char *key, const char *form,
		       GError **error)
{
	g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
		    "%s: %s: missing (%s=%s is required)", d->cls->name, key,
		    key, form);
	return false;
}

bool lb_vu_dev_check(LbVuDev *d, GError **error)
{
	return d->socket || lb_vu_dev_missing(d, "socket", "PATH", error);
}

uint32_t lb_vu_dev_get32(const LbVuDev *d, unsigned int off)
{
	uint32_t x;

	memcpy(&x, d->config + off, 4);
	return GUINT32_FROM_LE(x);
}

void lb_vu_dev_set32(LbVuDev *d, unsigned int off, uint32_t x)
{
	x = GUINT32_TO_LE(x);
	memcpy(d->config + off, &x, 4);
}

void lb_vu_dev_set16(LbVuDev *d, unsigned int off, uint16_t x)
{
	x = GUINT16_TO_LE(x);
	memcpy(d->config + off, &x, 2);
}

bool lb_vu_dev_get_config(LbVuDev *d, const char *what, GError **error)
{
	if (!loopback_vhost_user_has_protocol_feature(d->vu,
			LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIG)) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
			    "%s: the backend at %s does not offer "
			    "PROTOCOL_F_CONFIG: %s", d->cls->name, d->socket,
			    what);
		return false;
	}
	return loopback_vhost_user_get_config(d->vu, 0, d->config,
					      d->config_size, error);
}

uint64_t lb_vu_dev_window_default(LbVuDev *d)
{
	unsigned int segs = d->queue_size;
	uint64_t w = lb_device_window_size(d->num_queues, d->queue_size,
					   segs, 4096);

	return MIN(w, VU_WINDOW_MAX);
}

/* ---- what the virtio model asks ---- */

static void vu_config_read(void *opaque, unsigned int off, void *buf,
			   unsigned int len)
{
	LbVuDev *d = opaque;

	memcpy(buf, d->config + off, len);	/* the layer keeps it inside */
}

/*
 * The one place queues stop: every ring handed to the backend comes back
 * (drained first if the class completes every request), then the backend
 * is reset.
 */
static void vu_rings_stop(void *opaque, LoopbackVirtio *vdev)
{
	LbVuDev *d = opaque;
	const char *name = d->cls->name;
	bool any = false;
	/* while reconnecting, the session records the stop for the next one */
	bool away = loopback_vhost_user_is_reconnecting(d->vu);

	for (unsigned int i = 0; i < d->num_queues; i++) {
		g_autoptr(GError) err = NULL;
		uint16_t base;

		if (!d->running[i])
			continue;
		d->running[i] = false;
		any = true;
		if (!away && !loopback_vhost_user_is_usable(d->vu))
			continue;
		/* a ring that does not drain in time is stopped all the same */
		if (d->drain && !away &&
		    !loopback_vhost_user_vring_drain(d->vu, i, &err)) {
			g_warning("%s: queue %u: %s", name, i, err->message);
			g_clear_error(&err);
		}
		if (!loopback_vhost_user_vring_stop(d->vu, i, &base, &err))
			g_warning("%s: queue %u: %s", name, i, err->message);
	}
	if (any && (away || loopback_vhost_user_is_usable(d->vu))) {
		g_autoptr(GError) err = NULL;

		if (!loopback_vhost_user_reset_device(d->vu, &err))
			g_warning("%s: %s", name, err->message);
	}
}

/* The one place queues start, at DRIVER_OK: features, memory, rings, status. */
static bool vu_rings_start(void *opaque, LoopbackVirtio *vdev, GError **error)
{
	LbVuDev *d = opaque;
	uint64_t backend = loopback_vhost_user_get_backend_features(d->vu);
	uint64_t features = loopback_virtio_get_features(vdev);

	features &= ~(d->own_features & ~backend);
	if (!loopback_vhost_user_set_features(d->vu, features, error))
		return false;
	/* negotiated with reconnect= only: a new backend resubmits from it */
	if (loopback_vhost_user_has_protocol_feature(d->vu,
			LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) &&
	    !loopback_vhost_user_setup_inflight(d->vu, d->num_queues,
						d->queue_size, error))
		return false;
	if (!d->memory_given) {
		AddressSpace *as =
			loopback_device_get_address_space(d->base.dev);

		if (!loopback_vhost_user_set_address_space(d->vu, as, error))
			return false;
		d->memory_given = true;
	}
	for (unsigned int i = 0; i < d->num_queues; i++) {
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
		if (!loopback_vhost_user_vring_start(d->vu, i, &r, error)) {
			/* the layer stops only what started */
			vu_rings_stop(d, vdev);
			return false;
		}
		d->running[i] = true;
	}
	if (!loopback_vhost_user_set_status(d->vu,
					    loopback_virtio_get_status(vdev),
					    error)) {
		vu_rings_stop(d, vdev);
		return false;
	}
	return true;
}

/* ---- the backend ---- */

static void vu_disconnected(loopback_vhost_user *vu, const GError *error,
			    void *data)
{
	LbVuDev *d = data;
	/* a backend that broke the protocol may still be running */
	bool left = !error || g_error_matches(error, LOOPBACK_VHOST_USER_ERROR,
					      LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);

	if (d->gone)
		return;
	d->gone = true;
	g_printerr("loopback-adapter: %s: %s: the backend at %s %s (%s): "
		   "removing the device%s\n",
		   d->base.dev ? loopback_device_get_name(d->base.dev) : "-",
		   d->cls->name, d->socket,
		   left ? "went away" : "failed",
		   error ? error->message : "closed",
		   d->reconnect_s ? "" : " (reconnect=SECONDS waits for a "
		   "new backend)");
	/* requests the backend took are lost: the removal breaks it if so */
	if (d->base.dev)
		loopback_device_remove(d->base.dev, REMOVE_TIMEOUT_MS, NULL);
}

static void vu_config_changed(loopback_vhost_user *vu, void *data)
{
	LbVuDev *d = data;

	if (!d->cls->config_changed) {
		g_message("%s: the backend's config-change message is ignored",
			  d->cls->name);
		return;
	}
	d->cls->config_changed(d);
	if (d->base.vdev)
		loopback_virtio_config_changed(d->base.vdev);
}

#define EXTRA_IDS "/sys/module/loopback/parameters/extra_device_ids"

/*
 * Before the backend is reached (virtiofsd exits when its frontend goes):
 * a class beyond the kernel's default ones must be listed in
 * extra_device_ids.  If the list cannot be read, the kernel decides.
 */
static bool vu_class_allowed(LbVuDev *d, GError **error)
{
	uint32_t id = d->cls->device_id;
	g_autofree char *list = NULL;
	g_auto(GStrv) ids = NULL;

	if (id == 1 || id == 2 || id == 4 ||
	    !g_file_get_contents(EXTRA_IDS, &list, NULL, NULL))
		return true;
	ids = g_strsplit(g_strstrip(list), ",", -1);
	for (unsigned int i = 0; ids[i]; i++)
		if (g_ascii_strtoull(ids[i], NULL, 0) == id)
			return true;
	g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
		    "%s: loopback.ko does not allow virtio device id %u: load "
		    "it with extra_device_ids=%u (or, as root, write %u to "
		    EXTRA_IDS ")", d->cls->name, id, id, id);
	return false;
}

static void vu_reconnect_event(loopback_vhost_user *vu,
			       LoopbackVhostUserReconnectEvent event,
			       const GError *error, void *data)
{
	LbVuDev *d = data;
	const char *dev = d->base.dev ? loopback_device_get_name(d->base.dev) :
			  "-";

	if (event == LOOPBACK_VHOST_USER_RECONNECTING) {
		g_printerr("loopback-adapter: %s: %s: the backend at %s went "
			   "away (%s): reconnecting for up to %u s\n", dev,
			   d->cls->name, d->socket, error->message,
			   d->reconnect_s);
		return;
	}
	g_printerr("loopback-adapter: %s: %s: reconnected to the backend at "
		   "%s\n", dev, d->cls->name, d->socket);
	/* the new backend may have another config space (a resized image) */
	if (d->cls->config_changed)
		vu_config_changed(vu, d);
}

/*
 * The one place the session is established: connect, negotiate, the
 * class's queues and config, the features the driver will be offered.
 */
static bool vu_session(LbVuDev *d, GError **error)
{
	/* in-flight tracking only serves a reconnect */
	uint64_t mask = d->reconnect_s ? ~0ULL : ~LB_VU_F(
		LOOPBACK_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);

	if (!vu_class_allowed(d, error))
		return false;
	d->vu = loopback_vhost_user_connect(d->socket, error);
	if (!d->vu || !loopback_vhost_user_negotiate(d->vu, mask, error))
		return false;
	if (!d->cls->queues(d, loopback_vhost_user_get_queue_num(d->vu),
			    error))
		return false;
	g_free(d->config);
	d->config = g_malloc0(MAX(d->config_size, 1));
	if (!d->cls->config(d, error))
		return false;
	loopback_vhost_user_set_disconnected_cb(d->vu, vu_disconnected, d);
	loopback_vhost_user_set_config_changed_cb(d->vu, vu_config_changed, d);
	loopback_vhost_user_set_reconnect(d->vu, d->reconnect_s * 1000);
	loopback_vhost_user_set_reconnect_cb(d->vu, vu_reconnect_event, d);
	return true;
}

bool lb_vu_dev_connect(LbAdapterDevice *dev, GError **error)
{
	LbVuDev *d = (LbVuDev *)dev;
	uint64_t features;

	if (!vu_session(d, error))
		return false;
	features = loopback_vhost_user_device_features(d->vu,
			d->allowlist | LB_VU_TRANSPORT_FEATURES) |
		   d->own_features;
	g_free(d->running);
	d->running = g_new0(bool, d->num_queues);
	d->base.klass = (LoopbackVirtioDeviceClass) {
		.name = d->cls->name,
		.device_id = d->cls->device_id,
		.vendor_id = 0x4c42,	/* "LB" */
		.features = features,
		.num_queues = d->num_queues,
		.queue_size_max = d->queue_size,
		.config_size = d->config_size,
		.config_read = vu_config_read,
		.start = vu_rings_start,
		.stop = vu_rings_stop,
	};
	return true;
}

uint64_t lb_vu_dev_window_size(LbAdapterDevice *dev)
{
	LbVuDev *d = (LbVuDev *)dev;

	if (d->cls->window_size)
		return d->cls->window_size(d);
	return lb_vu_dev_window_default(d);
}

bool lb_vu_dev_start(LbAdapterDevice *dev, LoopbackVirtio *vdev,
		     GMainContext *ctx, GError **error)
{
	LbVuDev *d = (LbVuDev *)dev;

	dev->vdev = vdev;	/* the backend serves the queues */
	d->source = loopback_vhost_user_source_new(d->vu);
	g_source_attach(d->source, ctx);
	return true;
}

static void vu_source_drop(LbVuDev *d)
{
	if (!d->source)
		return;
	g_source_destroy(d->source);
	g_source_unref(d->source);
	d->source = NULL;
}

/* The device is gone: the rings come back before the window goes. */
void lb_vu_dev_stop(LbAdapterDevice *dev)
{
	LbVuDev *d = (LbVuDev *)dev;

	if (dev->vdev)
		vu_rings_stop(d, dev->vdev);
	if (d->memory_given)
		loopback_vhost_user_set_address_space(d->vu, NULL, NULL);
	d->memory_given = false;
	vu_source_drop(d);
	dev->vdev = NULL;
}

void lb_vu_dev_free(LbAdapterDevice *dev)
{
	LbVuDev *d = (LbVuDev *)dev;

	if (!d)
		return;
	vu_source_drop(d);
	loopback_vhost_user_free(d->vu);
	if (d->cls->free)
		d->cls->free(d);
	g_free(d->config);
	g_free(d->running);
	g_free(d->socket);
	g_free(d);
}
