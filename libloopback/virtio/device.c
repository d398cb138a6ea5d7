// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The device model object: creation, teardown, accessors and interrupts.
 */
#include "virtio-internal.h"

static bool lb_virtio_check_class(const LoopbackVirtioDeviceClass *k,
				  GError **error)
{
	const char *bad = NULL;

	if (!k)
		bad = "no device class";
	else if (!k->device_id || k->device_id == 0xffffffff)
		bad = "device_id 0 and 0xffffffff are reserved";
	else if (k->num_queues < 1 ||
		 k->num_queues > LOOPBACK_VIRTIO_MAX_QUEUES)
		bad = "num_queues must be 1 ... 64";
	else if (k->queue_size_max < 2 ||
		 k->queue_size_max > LOOPBACK_VIRTIO_MAX_QUEUE_SIZE ||
		 (k->queue_size_max & (k->queue_size_max - 1)))
		bad = "queue_size_max must be a power of two, 2 ... 32768";
	else if (k->config_size > LOOPBACK_VIRTIO_MAX_CONFIG_SIZE)
		bad = "config_size must be at most 3840";
	if (!bad)
		return true;
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		    "virtio device class %s: %s",
		    k && k->name ? k->name : "?", bad);
	return false;
}

LOOPBACK_API LoopbackVirtio *
loopback_virtio_new(const LoopbackVirtioDeviceClass *klass, void *opaque,
		    AddressSpace *dma, GError **error)
{
	LoopbackVirtio *vdev;
	g_autofree char *name = NULL;

	if (!lb_virtio_check_class(klass, error))
		return NULL;
	vdev = g_new0(LoopbackVirtio, 1);
	vdev->klass = klass;
	vdev->opaque = opaque;
	vdev->dma = dma;
	g_mutex_init(&vdev->lock);
	/* the layer parses rings itself, so only these transport bits */
	vdev->device_features = (klass->features & ~LB_VIRTIO_TRANSPORT_RANGE) |
				(klass->features & LB_VIRTIO_RING_FEATURES) |
				LB_VIRTIO_TRANSPORT_FEATURES;
	vdev->num_queues = klass->num_queues;
	vdev->vqs = g_new0(LoopbackVirtqueue, klass->num_queues);
	for (unsigned int i = 0; i < klass->num_queues; i++)
		lb_vq_init(vdev, &vdev->vqs[i], i);
	name = g_strdup_printf("virtio-mmio-%s",
			       klass->name ? klass->name : "device");
	memory_region_init_io(&vdev->mmio, vdev, &lb_virtio_mmio_ops, vdev,
			      name, LOOPBACK_VIRTIO_MMIO_SIZE);
	return vdev;
}

static void lb_virtio_release(void *data)
{
	LoopbackVirtio *vdev = data;

	for (unsigned int i = 0; i < vdev->num_queues; i++)
		lb_vq_destroy(&vdev->vqs[i]);
	g_free(vdev->vqs);
	g_mutex_clear(&vdev->lock);
	g_free(vdev);
}

LOOPBACK_API void loopback_virtio_free(LoopbackVirtio *vdev)
{
	if (!vdev)
		return;
	loopback_virtio_attach_context(vdev, NULL);
	g_mutex_lock(&vdev->lock);
	lb_virtio_reset(vdev);
	g_mutex_unlock(&vdev->lock);
	/* a dispatcher may still signal a kick notifier until then */
	loopback_memory_drain();
	loopback_memory_region_set_free_notify(&vdev->mmio, lb_virtio_release,
					       vdev);
	memory_region_unref(&vdev->mmio);
}

LOOPBACK_API MemoryRegion *loopback_virtio_get_region(LoopbackVirtio *vdev)
{
	return &vdev->mmio;
}

LOOPBACK_API const LoopbackVirtioDeviceClass *
loopback_virtio_get_class(LoopbackVirtio *vdev)
{
	return vdev->klass;
}

LOOPBACK_API uint64_t loopback_virtio_get_device_features(LoopbackVirtio *vdev)
{
	return vdev->device_features;
}

LOOPBACK_API uint64_t loopback_virtio_get_features(LoopbackVirtio *vdev)
{
	return __atomic_load_n(&vdev->driver_features, __ATOMIC_ACQUIRE);
}

LOOPBACK_API bool loopback_virtio_has_feature(LoopbackVirtio *vdev,
					      unsigned int bit)
{
	return bit < 64 && (loopback_virtio_get_features(vdev) >> bit) & 1;
}

LOOPBACK_API uint8_t loopback_virtio_get_status(LoopbackVirtio *vdev)
{
	return (uint8_t)__atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

LOOPBACK_API uint32_t loopback_virtio_get_config_generation(LoopbackVirtio *vdev)
{
	return __atomic_load_n(&vdev->generation, __ATOMIC_ACQUIRE);
}

LOOPBACK_API void loopback_virtio_read_config(LoopbackVirtio *vdev, void *buf)
{
	const LoopbackVirtioDeviceClass *k = vdev->klass;

	if (k->config_read)
		k->config_read(vdev->opaque, 0, buf, k->config_size);
	else
		memset(buf, 0, k->config_size);
}

LOOPBACK_API unsigned int loopback_virtio_get_num_queues(LoopbackVirtio *vdev)
{
	return vdev->num_queues;
}

LOOPBACK_API LoopbackVirtqueue *loopback_virtio_get_queue(LoopbackVirtio *vdev,
							  unsigned int index)
{
	return index < vdev->num_queues ? &vdev->vqs[index] : NULL;
}

LOOPBACK_API void loopback_virtio_set_irq_notifier(LoopbackVirtio *vdev,
						   int queue, EventNotifier *e)
{
	if (queue == LOOPBACK_VIRTIO_CONFIG_IRQ)
		__atomic_store_n(&vdev->config_irq, e, __ATOMIC_RELEASE);
	else if (queue >= 0 && (unsigned int)queue < vdev->num_queues)
		__atomic_store_n(&vdev->vqs[queue].irq, e, __ATOMIC_RELEASE);
	else
		g_critical("%s: no queue %d", __func__, queue);
}

LOOPBACK_API void loopback_virtio_set_irq_func(LoopbackVirtio *vdev,
					       LoopbackVirtioIrqFunc func,
					       void *data)
{
	vdev->irq_func = func;
	vdev->irq_data = data;
}

void lb_virtio_raise(LoopbackVirtio *vdev, int queue)
{
	EventNotifier *e;

	if (queue == LOOPBACK_VIRTIO_CONFIG_IRQ) {
		__atomic_fetch_or(&vdev->isr, LOOPBACK_VIRTIO_INT_CONFIG,
				  __ATOMIC_SEQ_CST);
		e = __atomic_load_n(&vdev->config_irq, __ATOMIC_ACQUIRE);
	} else {
		__atomic_fetch_or(&vdev->isr, LOOPBACK_VIRTIO_INT_VRING,
				  __ATOMIC_SEQ_CST);
		e = __atomic_load_n(&vdev->vqs[queue].irq, __ATOMIC_ACQUIRE);
	}
	if (e)
		event_notifier_set(e);
	else if (vdev->irq_func)
		vdev->irq_func(vdev, queue, vdev->irq_data);
}

LOOPBACK_API void loopback_virtio_config_changed(LoopbackVirtio *vdev)
{
	__atomic_fetch_add(&vdev->generation, 1, __ATOMIC_SEQ_CST);
	if (loopback_virtio_get_status(vdev) & LOOPBACK_VIRTIO_S_DRIVER_OK)
		lb_virtio_raise(vdev, LOOPBACK_VIRTIO_CONFIG_IRQ);
}

LOOPBACK_API void loopback_virtio_needs_reset(LoopbackVirtio *vdev,
					      const char *reason)
{
	uint32_t old;

	for (unsigned int i = 0; i < vdev->num_queues; i++)
		__atomic_store_n(&vdev->vqs[i].broken, 1, __ATOMIC_RELEASE);
	old = __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
	/* before DRIVER_OK there is nothing to notify; the queue stays stopped */
	if (!(old & LOOPBACK_VIRTIO_S_DRIVER_OK) ||
	    __atomic_exchange_n(&vdev->reset_reported, 1, __ATOMIC_SEQ_CST)) {
		g_debug("virtio %s: %s", vdev->klass->name, reason);
		return;
	}
	g_warning("virtio %s: %s; device needs reset", vdev->klass->name,
		  reason);
	__atomic_fetch_or(&vdev->status, LOOPBACK_VIRTIO_S_NEEDS_RESET,
			  __ATOMIC_SEQ_CST);
	lb_virtio_raise(vdev, LOOPBACK_VIRTIO_CONFIG_IRQ);
}
