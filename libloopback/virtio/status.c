// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The device status state machine (virtio 1.2, 2.1 and 3.1) and reset.
 * Called with vdev->lock held.
 */
#include "virtio-internal.h"

#define S_(x) LOOPBACK_VIRTIO_S_##x

static bool lb_virtio_features_ok(LoopbackVirtio *vdev)
{
	const LoopbackVirtioDeviceClass *k = vdev->klass;
	uint64_t f = vdev->driver_features;
	uint64_t extra = f & ~vdev->device_features;

	if (vdev->driver_features_high) {
		g_warning("virtio %s: FEATURES_OK refused: the driver accepted "
			  "features above bit 63", k->name);
		return false;
	}
	if (extra) {
		g_warning("virtio %s: FEATURES_OK refused: the driver accepted "
			  "features %#" PRIx64 " that were not offered",
			  k->name, extra);
		return false;
	}
	if ((f & LB_VIRTIO_TRANSPORT_FEATURES) != LB_VIRTIO_TRANSPORT_FEATURES) {
		g_warning("virtio %s: FEATURES_OK refused: the driver must "
			  "accept VERSION_1 and ACCESS_PLATFORM", k->name);
		return false;
	}
	if (k->set_features && !k->set_features(vdev->opaque, f)) {
		g_warning("virtio %s: FEATURES_OK refused by the device for "
			  "features %#" PRIx64, k->name, f);
		return false;
	}
	return true;
}

static void lb_virtio_stop(LoopbackVirtio *vdev)
{
	if (!vdev->started)
		return;
	vdev->started = false;
	if (vdev->klass->stop)
		vdev->klass->stop(vdev->opaque, vdev);
}

static void lb_virtio_start(LoopbackVirtio *vdev)
{
	const LoopbackVirtioDeviceClass *k = vdev->klass;
	g_autoptr(GError) error = NULL;
	g_autofree char *reason = NULL;

	if (!k->start || k->start(vdev->opaque, vdev, &error)) {
		vdev->started = true;
		return;
	}
	reason = g_strdup_printf("start failed: %s",
				 error ? error->message : "no reason given");
	loopback_virtio_needs_reset(vdev, reason);
}

void lb_virtio_write_status(LoopbackVirtio *vdev, uint32_t value)
{
	uint32_t old = loopback_virtio_get_status(vdev);
	uint32_t set = value & 0xff & ~S_(NEEDS_RESET);
	uint32_t added;

	if (!set) {
		lb_virtio_reset(vdev);
		return;
	}
	if (old & ~set & ~S_(NEEDS_RESET)) {
		g_warning("virtio %s: status %#x clears bits of %#x without a "
			  "reset; ignored", vdev->klass->name, set, old);
		return;
	}
	added = set & ~old;
	if ((added & S_(FEATURES_OK)) && !lb_virtio_features_ok(vdev))
		set &= ~S_(FEATURES_OK);
	if ((added & S_(DRIVER_OK)) && !(set & S_(FEATURES_OK))) {
		g_warning("virtio %s: DRIVER_OK without FEATURES_OK; ignored",
			  vdev->klass->name);
		set &= ~S_(DRIVER_OK);
	}
	/* keep NEEDS_RESET, which a queue thread may be setting right now */
	__atomic_fetch_or(&vdev->status, set, __ATOMIC_SEQ_CST);
	if ((added & S_(DRIVER_OK)) && (set & S_(DRIVER_OK)))
		lb_virtio_start(vdev);
	if (added & S_(FAILED))
		lb_virtio_stop(vdev);
}

void lb_virtio_reset(LoopbackVirtio *vdev)
{
	lb_virtio_stop(vdev);
	memory_region_transaction_begin();
	for (unsigned int i = 0; i < vdev->num_queues; i++)
		lb_vq_reset(&vdev->vqs[i]);
	memory_region_transaction_commit();
	__atomic_store_n(&vdev->driver_features, 0, __ATOMIC_RELEASE);
	vdev->driver_features_high = false;
	vdev->device_features_sel = 0;
	vdev->driver_features_sel = 0;
	vdev->queue_sel = 0;
	vdev->shm_sel = 0;
	__atomic_store_n(&vdev->isr, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vdev->reset_reported, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vdev->status, 0, __ATOMIC_RELEASE);
	if (vdev->klass->reset)
		vdev->klass->reset(vdev->opaque);
}
