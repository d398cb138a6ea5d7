// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The virtio-mmio version 2 register block (virtio 1.2, 4.2.2) as
 * MemoryRegionOps.  Registers are 32-bit; config space takes 1, 2, 4 and
 * 8-byte accesses.  Accesses are serialised by vdev->lock.
 */
#include "virtio-internal.h"

#include <string.h>

#define R_(x) LOOPBACK_VIRTIO_MMIO_##x
#define CFG LOOPBACK_VIRTIO_CONFIG_OFFSET

/* The registers of the queue QueueSel selects. */
static bool lb_is_queue_reg(hwaddr addr)
{
	return addr == R_(QUEUE_NUM_MAX) || addr == R_(QUEUE_NUM) ||
	       addr == R_(QUEUE_READY) ||
	       (addr >= R_(QUEUE_DESC_LOW) && addr <= R_(QUEUE_USED_HIGH) &&
		(addr & 0xf) < 8);
}

static LoopbackVirtqueue *lb_sel_queue(LoopbackVirtio *vdev)
{
	return vdev->queue_sel < vdev->num_queues ?
	       &vdev->vqs[vdev->queue_sel] : NULL;
}

static uint64_t lb_config_read(LoopbackVirtio *vdev, hwaddr off,
			       unsigned size)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	if (off + size > vdev->klass->config_size || !vdev->klass->config_read)
		return 0;
	vdev->klass->config_read(vdev->opaque, off, b, size);
	/* config space is little-endian bytes; so is the region */
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void lb_config_write(LoopbackVirtio *vdev, hwaddr off, uint64_t v,
			    unsigned size)
{
	uint8_t b[8];

	if (off + size > vdev->klass->config_size ||
	    !vdev->klass->config_write)
		return;
	for (unsigned i = 0; i < size; i++)
		b[i] = v >> (8 * i);
	vdev->klass->config_write(vdev->opaque, off, b, size);
}

static uint32_t lb_queue_reg_read(LoopbackVirtio *vdev, hwaddr addr)
{
	LoopbackVirtqueue *vq = lb_sel_queue(vdev);

	if (!vq)
		return 0;	/* QueueNumMax 0: no such queue */
	switch (addr) {
	case R_(QUEUE_NUM_MAX):
		return vdev->klass->queue_size_max;
	case R_(QUEUE_READY):
		return loopback_virtqueue_is_ready(vq);
	case R_(QUEUE_DESC_LOW):
		return (uint32_t)vq->desc_addr;
	case R_(QUEUE_DESC_HIGH):
		return vq->desc_addr >> 32;
	case R_(QUEUE_AVAIL_LOW):
		return (uint32_t)vq->avail_addr;
	case R_(QUEUE_AVAIL_HIGH):
		return vq->avail_addr >> 32;
	case R_(QUEUE_USED_LOW):
		return (uint32_t)vq->used_addr;
	case R_(QUEUE_USED_HIGH):
		return vq->used_addr >> 32;
	}
	return 0;
}

static uint64_t lb_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
	LoopbackVirtio *vdev = opaque;
	uint64_t f = vdev->device_features;
	uint64_t v = 0;

	if (addr >= CFG)
		return lb_config_read(vdev, addr - CFG, size);
	if (lb_is_queue_reg(addr))
		return lb_queue_reg_read(vdev, addr);
	switch (addr) {
	case R_(MAGIC_VALUE):
		return LOOPBACK_VIRTIO_MMIO_MAGIC;
	case R_(VERSION):
		return 2;
	case R_(DEVICE_ID):
		return vdev->klass->device_id;
	case R_(VENDOR_ID):
		return vdev->klass->vendor_id;
	case R_(DEVICE_FEATURES):
		return vdev->device_features_sel > 1 ? 0 :
		       (uint32_t)(f >> (32 * vdev->device_features_sel));
	case R_(INTERRUPT_STATUS):
		return __atomic_load_n(&vdev->isr, __ATOMIC_ACQUIRE);
	case R_(STATUS):
		return loopback_virtio_get_status(vdev);
	case R_(SHM_LEN_LOW):
	case R_(SHM_LEN_HIGH):
	case R_(SHM_BASE_LOW):
	case R_(SHM_BASE_HIGH):
		return 0xffffffff;	/* no shared memory regions */
	case R_(CONFIG_GENERATION):
		return loopback_virtio_get_config_generation(vdev);
	default:
		g_debug("virtio %s: read of write-only or unknown register "
			"%#" PRIx64, vdev->klass->name, addr);
	}
	return v;
}

static void lb_set_addr(uint64_t *reg, bool high, uint32_t v)
{
	if (high)
		*reg = (*reg & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*reg = (*reg & ~0xffffffffULL) | v;
}

static void lb_queue_reg_write(LoopbackVirtio *vdev, hwaddr addr, uint32_t v)
{
	LoopbackVirtqueue *vq = lb_sel_queue(vdev);

	if (!vq) {
		g_warning("virtio %s: queue register %#" PRIx64 " written for "
			  "queue %u, which does not exist", vdev->klass->name,
			  addr, vdev->queue_sel);
		return;
	}
	if (addr == R_(QUEUE_READY)) {
		lb_vq_set_ready(vq, v & 1);
		return;
	}
	if (loopback_virtqueue_is_ready(vq)) {
		g_warning("virtio %s: queue %u: register %#" PRIx64 " written "
			  "while the queue is ready; ignored",
			  vdev->klass->name, vq->index, addr);
		return;
	}
	switch (addr) {
	case R_(QUEUE_NUM):
		vq->num = v;	/* checked when the queue is made ready */
		break;
	case R_(QUEUE_DESC_LOW):
	case R_(QUEUE_DESC_HIGH):
		lb_set_addr(&vq->desc_addr, addr & 4, v);
		break;
	case R_(QUEUE_AVAIL_LOW):
	case R_(QUEUE_AVAIL_HIGH):
		lb_set_addr(&vq->avail_addr, addr & 4, v);
		break;
	case R_(QUEUE_USED_LOW):
	case R_(QUEUE_USED_HIGH):
		lb_set_addr(&vq->used_addr, addr & 4, v);
		break;
	}
}

static void lb_notify_write(LoopbackVirtio *vdev, uint32_t v)
{
	/* a kick that no ioeventfd caught: deliver it the same way */
	if (v < vdev->num_queues &&
	    loopback_virtqueue_is_ready(&vdev->vqs[v]))
		event_notifier_set(&vdev->vqs[v].kick);
	else
		g_debug("virtio %s: kick of queue %u, which is not ready",
			vdev->klass->name, v);
}

static void lb_mmio_write(void *opaque, hwaddr addr, uint64_t data,
			  unsigned size)
{
	LoopbackVirtio *vdev = opaque;
	uint32_t v = (uint32_t)data;
	bool features_ok = loopback_virtio_get_status(vdev) &
			   LOOPBACK_VIRTIO_S_FEATURES_OK;

	if (addr >= CFG) {
		lb_config_write(vdev, addr - CFG, data, size);
		return;
	}
	if (lb_is_queue_reg(addr) && addr != R_(QUEUE_NUM_MAX)) {
		lb_queue_reg_write(vdev, addr, v);
		return;
	}
	switch (addr) {
	case R_(DEVICE_FEATURES_SEL):
		vdev->device_features_sel = v;
		break;
	case R_(DRIVER_FEATURES_SEL):
		vdev->driver_features_sel = v;
		break;
	case R_(DRIVER_FEATURES):
		if (features_ok) {
			g_warning("virtio %s: DriverFeatures written after "
				  "FEATURES_OK; ignored", vdev->klass->name);
		} else if (vdev->driver_features_sel < 2) {
			uint64_t f = vdev->driver_features;

			lb_set_addr(&f, vdev->driver_features_sel, v);
			__atomic_store_n(&vdev->driver_features, f,
					 __ATOMIC_RELEASE);
		} else if (v) {
			g_warning("virtio %s: DriverFeatures word %u: %#x "
				  "offered nothing there", vdev->klass->name,
				  vdev->driver_features_sel, v);
			vdev->driver_features_high = true;	/* refused */
		}
		break;
	case R_(QUEUE_SEL):
		vdev->queue_sel = v;
		break;
	case R_(QUEUE_NOTIFY):
		lb_notify_write(vdev, v);
		break;
	case R_(INTERRUPT_ACK):
		__atomic_fetch_and(&vdev->isr, ~v, __ATOMIC_SEQ_CST);
		break;
	case R_(STATUS):
		lb_virtio_write_status(vdev, v);
		break;
	case R_(SHM_SEL):
		vdev->shm_sel = v;
		break;
	default:
		g_debug("virtio %s: write of read-only or unknown register "
			"%#" PRIx64, vdev->klass->name, addr);
	}
}

static uint64_t lb_mmio_read_locked(void *opaque, hwaddr addr, unsigned size)
{
	LoopbackVirtio *vdev = opaque;
	uint64_t v;

	g_mutex_lock(&vdev->lock);
	v = lb_mmio_read(vdev, addr, size);
	g_mutex_unlock(&vdev->lock);
	return v;
}

static void lb_mmio_write_locked(void *opaque, hwaddr addr, uint64_t data,
				 unsigned size)
{
	LoopbackVirtio *vdev = opaque;

	g_mutex_lock(&vdev->lock);
	lb_mmio_write(vdev, addr, data, size);
	g_mutex_unlock(&vdev->lock);
}

/* Registers: aligned 32-bit only; config space: anything up to 8 bytes. */
static bool lb_mmio_accepts(void *opaque, hwaddr addr, unsigned size,
			    bool is_write, MemTxAttrs attrs)
{
	if (addr >= CFG)
		return true;
	return size == 4 && !(addr & 3);
}

const MemoryRegionOps lb_virtio_mmio_ops = {
	.read = lb_mmio_read_locked,
	.write = lb_mmio_write_locked,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = {
		.min_access_size = 1,
		.max_access_size = 8,
		.unaligned = true,
		.accepts = lb_mmio_accepts,
	},
	.impl = {
		.min_access_size = 1,
		.max_access_size = 8,
		.unaligned = true,
	},
};
