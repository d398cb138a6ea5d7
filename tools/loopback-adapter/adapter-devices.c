// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The built-in device types (devices.h: blk, rng, vhost-user-blk,
 * vhost-user-net, vhost-user-fs, vhost-user), mapped onto the
 * adapter's AdapterDeviceType (options.h).  This is the only file that
 * knows them.  Each device is three objects: the type's LbAdapterDevice,
 * its virtio model (LoopbackVirtio, whose register block is mapped into
 * the device's address space) and the LoopbackDevice.
 */
#include "config.h"

#include "types.h"

#include "devices.h"

struct AdapterDevice {
	const LbAdapterDeviceOps *ops;
	LbAdapterDevice *lb;
	LoopbackVirtio *vdev;
	LoopbackDevice *dev;
	EventNotifier *irq;	/* one irqfd per queue */
	unsigned int nirq;
	bool started;
};

static AdapterDevice *wrap_create(AdapterDeviceOpts *o, GError **error)
{
	const LbAdapterDeviceOps *ops = lb_device_find(o->type);
	guint n = o->keys->len;
	g_autofree LbDeviceOption *opts = g_new0(LbDeviceOption, n + 1);
	AdapterDevice *d;
	LbAdapterDevice *lb;

	/* the type checks its keys itself: every one counts as read */
	for (guint i = 0; i < n; i++) {
		opts[i].key = o->keys->pdata[i];
		opts[i].value = adapter_opt_string(o, opts[i].key, NULL);
	}
	lb = ops->create(opts, n, error);
	if (!lb)
		return NULL;
	d = g_new0(AdapterDevice, 1);
	d->ops = ops;
	d->lb = lb;
	return d;
}

/*
 * The kernel serves config reads from its copy: a config change goes
 * there, with the config interrupt.  Queue interrupts have irqfds.
 */
static void wrap_irq(LoopbackVirtio *vdev, int queue, void *data)
{
	AdapterDevice *d = data;
	const LoopbackVirtioDeviceClass *k = &d->lb->klass;
	g_autofree uint8_t *config = NULL;

	if (queue != LOOPBACK_VIRTIO_CONFIG_IRQ) {
		loopback_device_interrupt(d->dev, (uint32_t)queue, NULL);
		return;
	}
	config = g_malloc0(k->config_size ? k->config_size : 1);
	loopback_virtio_read_config(vdev, config);
	loopback_device_set_config(d->dev, 0, config, k->config_size, true,
				   NULL);
}

static bool wrap_irqfds(AdapterDevice *d, GError **error)
{
	d->nirq = d->lb->klass.num_queues;
	d->irq = g_new0(EventNotifier, d->nirq);
	for (unsigned int q = 0; q < d->nirq; q++) {
		if (event_notifier_init(&d->irq[q], 0) < 0) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
				    "no eventfd for queue %u", q);
			return false;
		}
		if (!loopback_device_set_irqfd(d->dev, q, &d->irq[q], error))
			return false;
		loopback_virtio_set_irq_notifier(d->vdev, (int)q, &d->irq[q]);
	}
	loopback_virtio_set_irq_func(d->vdev, wrap_irq, d);
	return true;
}

static LoopbackDevice *wrap_start(AdapterDevice *d, GMainContext *ctx,
				  GError **error)
{
	const LoopbackVirtioDeviceClass *k = &d->lb->klass;
	g_autofree uint8_t *config = NULL;
	LoopbackDeviceConfig c = { 0 };

	if (d->ops->connect && !d->ops->connect(d->lb, error))
		return NULL;
	/* the class is final now: connect may have filled it in */
	config = g_malloc0(k->config_size ? k->config_size : 1);
	c.device_id = k->device_id;
	c.vendor_id = k->vendor_id;
	c.features = k->features;
	c.num_queues = k->num_queues;
	c.max_queue_size = k->queue_size_max;
	c.config = config;
	c.config_size = k->config_size;
	c.window_size = d->ops->window_size(d->lb);
	if (k->config_read)
		k->config_read(d->lb, 0, config, k->config_size);
	/* the model needs the address space, the device needs the model */
	d->dev = loopback_device_new(&c, error);
	if (!d->dev)
		return NULL;
	d->lb->dev = d->dev;
	d->vdev = loopback_virtio_new(k, d->lb,
				      loopback_device_get_address_space(d->dev),
				      error);
	if (!d->vdev ||
	    !loopback_device_map_regs(d->dev,
				      loopback_virtio_get_region(d->vdev),
				      error) ||
	    !wrap_irqfds(d, error) ||
	    !d->ops->start(d->lb, d->vdev, ctx, error))
		return NULL;
	d->started = true;
	loopback_device_attach(d->dev, ctx);
	return d->dev;
}

/* The device is gone: no register access can come any more. */
static void wrap_stop(AdapterDevice *d)
{
	if (d->started)
		d->ops->stop(d->lb);
	d->started = false;
}

static bool wrap_reload(AdapterDevice *d, GError **error)
{
	return !d->ops->reload || d->ops->reload(d->lb, error);
}

static void wrap_free(AdapterDevice *d)
{
	wrap_stop(d);
	/* unmaps the model's register block before the model goes */
	loopback_device_free(d->dev);
	loopback_memory_drain();
	if (d->vdev)
		loopback_virtio_free(d->vdev);
	for (unsigned int q = 0; q < d->nirq; q++)
		event_notifier_cleanup(&d->irq[q]);
	g_free(d->irq);
	d->ops->free(d->lb);
	g_free(d);
}

/* Every built-in type goes through the same wrappers. */
#define LB_WRAPPED(name_, ops_, summary_) {	\
	.name = name_,				\
	.summary = summary_,			\
	.usage = &ops_.usage,			\
	.create = wrap_create,			\
	.start = wrap_start,			\
	.stop = wrap_stop,			\
	.reload = wrap_reload,			\
	.free = wrap_free,			\
}

static const AdapterDeviceType blk =
	LB_WRAPPED("blk", lb_blk_ops,
		   "a disk image through io_uring");
static const AdapterDeviceType rng =
	LB_WRAPPED("rng", lb_rng_ops,
		   "entropy from getrandom() or a file");
static const AdapterDeviceType vhost_user_blk =
	LB_WRAPPED("vhost-user-blk", lb_vhost_user_blk_ops,
		   "a vhost-user-blk backend's disk, e.g. "
		   "qemu-storage-daemon's");
static const AdapterDeviceType vhost_user_net =
	LB_WRAPPED("vhost-user-net", lb_vhost_user_net_ops,
		   "a vhost-user-net backend's interface, e.g. "
		   "dpdk-testpmd's");
static const AdapterDeviceType vhost_user_fs =
	LB_WRAPPED("vhost-user-fs", lb_vhost_user_fs_ops,
		   "a virtio-fs backend, e.g. virtiofsd "
		   "(loopback.ko: extra_device_ids=26)");
static const AdapterDeviceType vhost_user =
	LB_WRAPPED("vhost-user", lb_vhost_user_ops,
		   "any vhost-user backend of a class loopback.ko "
		   "allows");

const AdapterDeviceType *const adapter_device_types[] = {
	&blk,
	&rng,
	&vhost_user_blk,
	&vhost_user_net,
	&vhost_user_fs,
	&vhost_user,
	NULL,
};
