/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * loopback.ko: every kernel API that changed between 6.1 (the target,
 * Debian 12) and newer kernels is wrapped here, so that a new kernel only
 * needs this file touched.  (checkpatch's LINUX_VERSION_CODE warnings are
 * expected here and only here.)
 */
#ifndef LOOPBACK_COMPAT_H
#define LOOPBACK_COMPAT_H

#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/version.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

/* virtio-net feature bits that 6.1's <linux/virtio_net.h> may lack. */
#define LOOPBACK_NET_F_VQ_NOTF_COAL	52
#define LOOPBACK_NET_F_NOTF_COAL	53

/* eventfd_signal() lost its count argument in 6.8. */
static inline void loopback_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * Tasks that never return to user space although they have an mm, so
 * never run task work queued with TWA_RESUME: io_uring's workers, and
 * since 6.4 vhost's (PF_USER_WORKER, which io_uring's have as well).
 */
#ifdef PF_USER_WORKER
#define LOOPBACK_PF_NO_RESUME	(PF_KTHREAD | PF_IO_WORKER | PF_USER_WORKER)
#else
#define LOOPBACK_PF_NO_RESUME	(PF_KTHREAD | PF_IO_WORKER)
#endif

/*
 * False while the current task is inside an eventfd wake-up, where
 * signalling another eventfd could recurse (6.1 warns and drops it).
 */
static inline bool loopback_eventfd_signal_allowed(void)
{
	return eventfd_signal_allowed();
}

/* vma->vm_flags became read-only in 6.3, with vm_flags_set() to change it. */
#define LOOPBACK_HAVE_VM_FLAGS_SET
static inline void loopback_vm_flags_set(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * find_vqs() took parallel arrays of callbacks, names and ctx flags until
 * 6.11 and an array of struct virtqueue_info after.  The transport sets up
 * one queue at a time with loopback_vdev_setup_vq(); on error the caller
 * undoes what was set up with the transport's del_vqs.
 */
struct virtqueue *loopback_vdev_setup_vq(struct virtio_device *vdev,
					 unsigned int index,
					 vq_callback_t *callback,
					 const char *name, bool ctx);
void loopback_vdev_del_vqs(struct virtio_device *vdev);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static inline int loopback_vdev_find_vqs(struct virtio_device *vdev,
					 unsigned int nvqs,
					 struct virtqueue *vqs[],
					 struct virtqueue_info vqs_info[],
					 struct irq_affinity *desc)
{
	unsigned int i, index = 0;

	for (i = 0; i < nvqs; i++) {
		struct virtqueue_info *info = &vqs_info[i];

		if (!info->name) {
			vqs[i] = NULL;
			continue;
		}
		vqs[i] = loopback_vdev_setup_vq(vdev, index++, info->callback,
						info->name, info->ctx);
		if (IS_ERR(vqs[i])) {
			int err = PTR_ERR(vqs[i]);

			loopback_vdev_del_vqs(vdev);
			return err;
		}
	}
	return 0;
}
#else
static inline int loopback_vdev_find_vqs(struct virtio_device *vdev,
					 unsigned int nvqs,
					 struct virtqueue *vqs[],
					 vq_callback_t *callbacks[],
					 const char * const names[],
					 const bool *ctx,
					 struct irq_affinity *desc)
{
	unsigned int i, index = 0;

	for (i = 0; i < nvqs; i++) {
		if (!names[i]) {
			vqs[i] = NULL;
			continue;
		}
		vqs[i] = loopback_vdev_setup_vq(vdev, index++, callbacks[i],
						names[i], ctx ? ctx[i] : false);
		if (IS_ERR(vqs[i])) {
			int err = PTR_ERR(vqs[i]);

			loopback_vdev_del_vqs(vdev);
			return err;
		}
	}
	return 0;
}
#endif

#endif /* LOOPBACK_COMPAT_H */
