// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Queue setup: QueueReady checks the driver's layout, opens the ring
 * caches and registers the kick notifier as an ioeventfd on QueueNotify;
 * a reset undoes all of it.  Register thread, vdev->lock held.
 */
#include "virtio-internal.h"

#include <errno.h>

#define NOTIFY LOOPBACK_VIRTIO_MMIO_QUEUE_NOTIFY

void lb_vq_init(LoopbackVirtio *vdev, LoopbackVirtqueue *vq,
		unsigned int index)
{
	int r;

	vq->vdev = vdev;
	vq->index = index;
	vq->desc = MEMORY_REGION_CACHE_INVALID;
	vq->avail = MEMORY_REGION_CACHE_INVALID;
	vq->used = MEMORY_REGION_CACHE_INVALID;
	r = event_notifier_init(&vq->kick, 0);
	if (r < 0)
		g_error("virtio: no eventfd for a kick notifier: %s",
			g_strerror(-r));
}

void lb_vq_destroy(LoopbackVirtqueue *vq)
{
	event_notifier_cleanup(&vq->kick);
}

bool lb_vq_is_ram(AddressSpace *as, uint64_t addr, uint64_t len,
		  bool is_write)
{
	if (len && addr > UINT64_MAX - (len - 1))
		return false;
	while (len) {
		MemoryRegion *mr;
		hwaddr xlat, l = len;
		bool ok;

		loopback_rcu_read_lock();
		mr = address_space_translate(as, addr, &xlat, &l, is_write,
					     LB_VIRTIO_ATTRS);
		ok = mr && memory_region_is_ram(mr) &&
		     !memory_region_is_ram_device(mr) &&
		     !(is_write && memory_region_is_readonly(mr)) && l;
		loopback_rcu_read_unlock();
		if (!ok)
			return false;
		l = MIN(l, len);
		addr += l;
		len -= l;
	}
	return true;
}

static bool lb_vq_cache(LoopbackVirtqueue *vq, MemoryRegionCache *c,
			const char *what, uint64_t addr, uint64_t len,
			unsigned int align, bool is_write)
{
	AddressSpace *as = vq->vdev->dma;

	if (addr % align) {
		g_warning("virtio %s: queue %u: the %s ring at %#" PRIx64
			  " is not %u-byte aligned; not ready",
			  vq->vdev->klass->name, vq->index, what, addr, align);
		return false;
	}
	if (!lb_vq_is_ram(as, addr, len, is_write) ||
	    address_space_cache_init(c, as, addr, len, is_write) !=
	    (int64_t)len) {
		address_space_cache_destroy(c);
		g_warning("virtio %s: queue %u: the %s ring at %#" PRIx64
			  "+%#" PRIx64 " is outside the window; not ready",
			  vq->vdev->klass->name, vq->index, what, addr, len);
		return false;
	}
	return true;
}

static bool lb_vq_open(LoopbackVirtqueue *vq)
{
	LoopbackVirtio *vdev = vq->vdev;
	uint64_t n = vq->num;

	if (!n || n > vdev->klass->queue_size_max || (n & (n - 1))) {
		g_warning("virtio %s: queue %u: size %" PRIu64 " is not a power "
			  "of two up to %u; not ready", vdev->klass->name,
			  vq->index, n, vdev->klass->queue_size_max);
		return false;
	}
	if (!vdev->dma) {
		g_warning("virtio %s: no DMA address space", vdev->klass->name);
		return false;
	}
	if (!lb_vq_cache(vq, &vq->desc, "descriptor", vq->desc_addr, 16 * n,
			 16, false) ||
	    !lb_vq_cache(vq, &vq->avail, "driver", vq->avail_addr, 6 + 2 * n,
			 2, false) ||
	    !lb_vq_cache(vq, &vq->used, "device", vq->used_addr, 6 + 8 * n,
			 4, true)) {
		address_space_cache_destroy(&vq->desc);
		address_space_cache_destroy(&vq->avail);
		return false;
	}
	return true;
}

void lb_vq_set_ready(LoopbackVirtqueue *vq, bool ready)
{
	LoopbackVirtio *vdev = vq->vdev;

	if (ready == loopback_virtqueue_is_ready(vq))
		return;
	if (!ready) {
		if (loopback_virtio_get_status(vdev) &
		    LOOPBACK_VIRTIO_S_DRIVER_OK) {
			g_warning("virtio %s: queue %u: QueueReady cleared "
				  "after DRIVER_OK; ignored",
				  vdev->klass->name, vq->index);
			return;
		}
		lb_vq_reset(vq);
		return;
	}
	if (!lb_vq_open(vq))
		return;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used_valid = false;
	vq->event_idx = loopback_virtio_has_feature(vdev,
						    LOOPBACK_VIRTIO_F_EVENT_IDX);
	vq->indirect = loopback_virtio_has_feature(vdev,
					LOOPBACK_VIRTIO_F_INDIRECT_DESC);
	__atomic_store_n(&vq->broken, 0, __ATOMIC_RELEASE);
	memory_region_add_eventfd(&vdev->mmio, NOTIFY, 4, true, vq->index,
				  &vq->kick);
	vq->ioeventfd = true;
	__atomic_store_n(&vq->ready, 1, __ATOMIC_RELEASE);
}

void lb_vq_reset(LoopbackVirtqueue *vq)
{
	__atomic_store_n(&vq->ready, 0, __ATOMIC_RELEASE);
	if (vq->ioeventfd) {
		memory_region_del_eventfd(&vq->vdev->mmio, NOTIFY, 4, true,
					  vq->index, &vq->kick);
		vq->ioeventfd = false;
	}
	address_space_cache_destroy(&vq->desc);
	address_space_cache_destroy(&vq->avail);
	address_space_cache_destroy(&vq->used);
	/* a stale kick must not run a handler on the next setup */
	event_notifier_test_and_clear(&vq->kick);
	vq->num = 0;
	vq->desc_addr = vq->avail_addr = vq->used_addr = 0;
	vq->last_avail_idx = vq->used_idx = 0;
	vq->signalled_used_valid = false;
	__atomic_store_n(&vq->broken, 0, __ATOMIC_RELEASE);
}

LOOPBACK_API LoopbackVirtio *loopback_virtqueue_get_device(LoopbackVirtqueue *vq)
{
	return vq->vdev;
}

LOOPBACK_API unsigned int loopback_virtqueue_get_index(LoopbackVirtqueue *vq)
{
	return vq->index;
}

LOOPBACK_API unsigned int loopback_virtqueue_get_size(LoopbackVirtqueue *vq)
{
	return vq->num;
}

LOOPBACK_API bool loopback_virtqueue_is_ready(LoopbackVirtqueue *vq)
{
	return __atomic_load_n(&vq->ready, __ATOMIC_ACQUIRE);
}

LOOPBACK_API EventNotifier *
loopback_virtqueue_get_kick_notifier(LoopbackVirtqueue *vq)
{
	return &vq->kick;
}

LOOPBACK_API void loopback_virtqueue_get_rings(LoopbackVirtqueue *vq,
					       uint64_t *desc, uint64_t *avail,
					       uint64_t *used)
{
	bool ready = loopback_virtqueue_is_ready(vq);

	*desc = ready ? vq->desc_addr : 0;
	*avail = ready ? vq->avail_addr : 0;
	*used = ready ? vq->used_addr : 0;
}

LOOPBACK_API EventNotifier *
loopback_virtqueue_get_irq_notifier(LoopbackVirtqueue *vq)
{
	return __atomic_load_n(&vq->irq, __ATOMIC_ACQUIRE);
}

LOOPBACK_API bool loopback_virtqueue_is_broken(LoopbackVirtqueue *vq)
{
	return __atomic_load_n(&vq->broken, __ATOMIC_ACQUIRE);
}
