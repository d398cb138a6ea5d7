/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libloopback virtio layer: the virtio-mmio (version 2) register block as
 * an io MemoryRegion over a device class, and split virtqueues read from
 * an AddressSpace.  Documentation/device-api.md, "Virtio layer", has the
 * lifetime, threading and error rules.
 */
#ifndef LOOPBACK_VIRTIO_H
#define LOOPBACK_VIRTIO_H

#include <sys/uio.h>

#include <loopback/memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The register block: 0x1000 bytes, device config space from +0x100. */
#define LOOPBACK_VIRTIO_MMIO_SIZE	0x1000
#define LOOPBACK_VIRTIO_CONFIG_OFFSET	0x100
#define LOOPBACK_VIRTIO_MAX_CONFIG_SIZE	\
	(LOOPBACK_VIRTIO_MMIO_SIZE - LOOPBACK_VIRTIO_CONFIG_OFFSET)
#define LOOPBACK_VIRTIO_MAX_QUEUES	64
#define LOOPBACK_VIRTIO_MAX_QUEUE_SIZE	32768

/* virtio-mmio register offsets (virtio 1.2, 4.2.2). */
#define LOOPBACK_VIRTIO_MMIO_MAGIC_VALUE	0x000
#define LOOPBACK_VIRTIO_MMIO_VERSION		0x004
#define LOOPBACK_VIRTIO_MMIO_DEVICE_ID		0x008
#define LOOPBACK_VIRTIO_MMIO_VENDOR_ID		0x00c
#define LOOPBACK_VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define LOOPBACK_VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define LOOPBACK_VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define LOOPBACK_VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define LOOPBACK_VIRTIO_MMIO_QUEUE_SEL		0x030
#define LOOPBACK_VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define LOOPBACK_VIRTIO_MMIO_QUEUE_NUM		0x038
#define LOOPBACK_VIRTIO_MMIO_QUEUE_READY	0x044
#define LOOPBACK_VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define LOOPBACK_VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define LOOPBACK_VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define LOOPBACK_VIRTIO_MMIO_STATUS		0x070
#define LOOPBACK_VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define LOOPBACK_VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define LOOPBACK_VIRTIO_MMIO_QUEUE_AVAIL_LOW	0x090
#define LOOPBACK_VIRTIO_MMIO_QUEUE_AVAIL_HIGH	0x094
#define LOOPBACK_VIRTIO_MMIO_QUEUE_USED_LOW	0x0a0
#define LOOPBACK_VIRTIO_MMIO_QUEUE_USED_HIGH	0x0a4
#define LOOPBACK_VIRTIO_MMIO_SHM_SEL		0x0ac
#define LOOPBACK_VIRTIO_MMIO_SHM_LEN_LOW	0x0b0
#define LOOPBACK_VIRTIO_MMIO_SHM_LEN_HIGH	0x0b4
#define LOOPBACK_VIRTIO_MMIO_SHM_BASE_LOW	0x0b8
#define LOOPBACK_VIRTIO_MMIO_SHM_BASE_HIGH	0x0bc
#define LOOPBACK_VIRTIO_MMIO_CONFIG_GENERATION	0x0fc

#define LOOPBACK_VIRTIO_MMIO_MAGIC	0x74726976	/* "virt" */

/* Device status bits. */
#define LOOPBACK_VIRTIO_S_ACKNOWLEDGE	0x01
#define LOOPBACK_VIRTIO_S_DRIVER	0x02
#define LOOPBACK_VIRTIO_S_DRIVER_OK	0x04
#define LOOPBACK_VIRTIO_S_FEATURES_OK	0x08
#define LOOPBACK_VIRTIO_S_NEEDS_RESET	0x40
#define LOOPBACK_VIRTIO_S_FAILED	0x80

/* InterruptStatus bits. */
#define LOOPBACK_VIRTIO_INT_VRING	0x1
#define LOOPBACK_VIRTIO_INT_CONFIG	0x2

/* Transport feature bits. */
#define LOOPBACK_VIRTIO_F_INDIRECT_DESC	28
#define LOOPBACK_VIRTIO_F_EVENT_IDX	29
#define LOOPBACK_VIRTIO_F_VERSION_1	32
#define LOOPBACK_VIRTIO_F_ACCESS_PLATFORM 33

/* Split ring descriptor flags. */
#define LOOPBACK_VRING_DESC_F_NEXT	1
#define LOOPBACK_VRING_DESC_F_WRITE	2
#define LOOPBACK_VRING_DESC_F_INDIRECT	4
#define LOOPBACK_VRING_USED_F_NO_NOTIFY	1
#define LOOPBACK_VRING_AVAIL_F_NO_INTERRUPT 1

/* The "queue" of the configuration-change interrupt. */
#define LOOPBACK_VIRTIO_CONFIG_IRQ	(-1)

typedef struct LoopbackVirtio LoopbackVirtio;
typedef struct LoopbackVirtqueue LoopbackVirtqueue;

/*
 * A device class: what the register block asks the device model.  Every
 * callback gets the @opaque given to loopback_virtio_new() and may be NULL.
 * They run on the thread that dispatches the register access, except
 * handle_queue (see loopback_virtio_attach_context()).
 */
typedef struct LoopbackVirtioDeviceClass {
	const char *name;
	uint32_t device_id;
	uint32_t vendor_id;
	/* offered; VERSION_1 and ACCESS_PLATFORM are added by the layer */
	uint64_t features;
	unsigned int num_queues;		/* 1 ... 64 */
	unsigned int queue_size_max;	/* a power of two, 2 ... 32768 */
	unsigned int config_size;	/* 0 ... 3840 */

	/* @len bytes of config space at @offset into @buf (zeroes if NULL) */
	void (*config_read)(void *opaque, unsigned int offset, void *buf,
			    unsigned int len);
	/* a driver write; ignored if NULL */
	void (*config_write)(void *opaque, unsigned int offset,
			     const void *buf, unsigned int len);
	/* FEATURES_OK: false refuses the driver's choice */
	bool (*set_features)(void *opaque, uint64_t features);
	/* a kick of @vq (from the GSource of loopback_virtio_attach_context) */
	void (*handle_queue)(void *opaque, LoopbackVirtqueue *vq);
	/* DRIVER_OK: the queues are set up; false (with @error) breaks */
	bool (*start)(void *opaque, LoopbackVirtio *vdev, GError **error);
	/*
	 * Before a reset or FAILED after start: when it returns, nothing may
	 * use a queue any more (join the queue threads).
	 */
	void (*stop)(void *opaque, LoopbackVirtio *vdev);
	/* after the layer's own reset (status 0 written) */
	void (*reset)(void *opaque);
} LoopbackVirtioDeviceClass;

/*
 * A new device model; @klass must outlive it.  @dma is the address space
 * that the rings and buffers are read from; it is first used at a
 * QueueReady write, so it may be initialised after this call.
 */
LoopbackVirtio *loopback_virtio_new(const LoopbackVirtioDeviceClass *klass,
				    void *opaque, AddressSpace *dma,
				    GError **error);
/* Stops a started device, removes the ioeventfds, frees everything. */
void loopback_virtio_free(LoopbackVirtio *vdev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LoopbackVirtio, loopback_virtio_free)

/* The register block (LOOPBACK_VIRTIO_MMIO_SIZE bytes); vdev holds it. */
MemoryRegion *loopback_virtio_get_region(LoopbackVirtio *vdev);
const LoopbackVirtioDeviceClass *loopback_virtio_get_class(LoopbackVirtio *vdev);
/* All offered features, transport bits included. */
uint64_t loopback_virtio_get_device_features(LoopbackVirtio *vdev);
/* The features the driver accepted (valid from FEATURES_OK). */
uint64_t loopback_virtio_get_features(LoopbackVirtio *vdev);
bool loopback_virtio_has_feature(LoopbackVirtio *vdev, unsigned int bit);
uint8_t loopback_virtio_get_status(LoopbackVirtio *vdev);
uint32_t loopback_virtio_get_config_generation(LoopbackVirtio *vdev);
/* Fills @buf with the whole config space through config_read. */
void loopback_virtio_read_config(LoopbackVirtio *vdev, void *buf);

/* Interrupts. */
typedef void (*LoopbackVirtioIrqFunc)(LoopbackVirtio *vdev, int queue,
				      void *data);
/*
 * Queue @queue's interrupt (or LOOPBACK_VIRTIO_CONFIG_IRQ's) signals @e
 * (the caller's; NULL unbinds).  A bound notifier wins over the function.
 */
void loopback_virtio_set_irq_notifier(LoopbackVirtio *vdev, int queue,
				      EventNotifier *e);
/* Called for interrupts that have no notifier bound; NULL: none. */
void loopback_virtio_set_irq_func(LoopbackVirtio *vdev,
				  LoopbackVirtioIrqFunc func, void *data);
/* Config space changed: bumps ConfigGeneration, raises the config irq. */
void loopback_virtio_config_changed(LoopbackVirtio *vdev);
/*
 * The device gives up on the driver (after DRIVER_OK): sets NEEDS_RESET,
 * logs @reason once, raises the config interrupt, stops every queue.
 */
void loopback_virtio_needs_reset(LoopbackVirtio *vdev, const char *reason);

/* Queue kicks in a GMainContext: handle_queue runs there; NULL detaches. */
void loopback_virtio_attach_context(LoopbackVirtio *vdev, GMainContext *ctx);

/* Queues. */
unsigned int loopback_virtio_get_num_queues(LoopbackVirtio *vdev);
LoopbackVirtqueue *loopback_virtio_get_queue(LoopbackVirtio *vdev,
					     unsigned int index);
LoopbackVirtio *loopback_virtqueue_get_device(LoopbackVirtqueue *vq);
unsigned int loopback_virtqueue_get_index(LoopbackVirtqueue *vq);
/* The size the driver chose (0 before QueueNum is written). */
unsigned int loopback_virtqueue_get_size(LoopbackVirtqueue *vq);
bool loopback_virtqueue_is_ready(LoopbackVirtqueue *vq);
/* The kick notifier: registered as the ioeventfd while the queue is ready. */
EventNotifier *loopback_virtqueue_get_kick_notifier(LoopbackVirtqueue *vq);
/*
 * The guest-physical addresses of the descriptor table, driver (avail) and
 * device (used) areas the driver set up; zeroes while the queue is not
 * ready.  For a device whose rings another process serves (vhost-user).
 */
void loopback_virtqueue_get_rings(LoopbackVirtqueue *vq, uint64_t *desc,
				  uint64_t *avail, uint64_t *used);
/* The queue interrupt's notifier bound by set_irq_notifier, or NULL. */
EventNotifier *loopback_virtqueue_get_irq_notifier(LoopbackVirtqueue *vq);
/*
 * For a queue's own thread: waits until a kick (cleared, true) or until
 * @stop_fd (-1: none) is readable (false).
 */
bool loopback_virtqueue_wait_kick(LoopbackVirtqueue *vq, int stop_fd);

/*
 * One popped chain.  out_* are the device-readable buffers, in_* the
 * device-writable ones, as host pointers into the window (a descriptor
 * may give several iovecs when it spans regions).
 */
typedef struct LoopbackVirtqueueElement {
	unsigned int index;	/* the head: what the used ring returns */
	unsigned int out_num;
	unsigned int in_num;
	struct iovec *out_sg;
	struct iovec *in_sg;
	uint64_t out_len;	/* sums of the iovecs */
	uint64_t in_len;
} LoopbackVirtqueueElement;

/*
 * The next available chain, mapped, or NULL: empty, not ready, or broken.
 * A malformed ring calls loopback_virtio_needs_reset() and returns NULL
 * from then on until reset.  Thread: the queue's; no lock is taken.
 */
LoopbackVirtqueueElement *loopback_virtqueue_pop(LoopbackVirtqueue *vq);
/*
 * Returns @elem to the driver with @len bytes written, unmaps and frees
 * it.  Any order.  Call loopback_virtqueue_notify() after a batch.
 */
void loopback_virtqueue_push(LoopbackVirtqueue *vq,
			     LoopbackVirtqueueElement *elem, uint32_t len);
/* Unmaps and frees @elem without returning it (reset, device errors). */
void loopback_virtqueue_element_free(LoopbackVirtqueue *vq,
				     LoopbackVirtqueueElement *elem);
/* Raises the queue interrupt unless the driver suppressed it (EVENT_IDX). */
void loopback_virtqueue_notify(LoopbackVirtqueue *vq);
/*
 * Asks the driver for kicks (true) or not; with EVENT_IDX it publishes
 * the next index.  After enabling, check loopback_virtqueue_empty().
 */
void loopback_virtqueue_set_notification(LoopbackVirtqueue *vq, bool enable);
bool loopback_virtqueue_empty(LoopbackVirtqueue *vq);
/* Whether the queue has hit a malformed ring since the last reset. */
bool loopback_virtqueue_is_broken(LoopbackVirtqueue *vq);

/* Copies between an iovec array and a flat buffer; the bytes copied. */
size_t loopback_virtio_iov_to_buf(const struct iovec *iov, unsigned int n,
				  size_t offset, void *buf, size_t len);
size_t loopback_virtio_iov_from_buf(const struct iovec *iov, unsigned int n,
				    size_t offset, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* LOOPBACK_VIRTIO_H */
