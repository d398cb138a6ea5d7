/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private to libloopback/virtio/: the model's state.  Uses only the public
 * memory API (loopback/memory.h).
 */
#ifndef LOOPBACK_VIRTIO_INTERNAL_H
#define LOOPBACK_VIRTIO_INTERNAL_H

#include "config.h"

/* one domain for the layer's log lines, which tests capture */
#define G_LOG_DOMAIN "loopback-virtio"

#include <loopback/virtio.h>

#include "../tsan.h"

#define LOOPBACK_API __attribute__((visibility("default")))

#define LB_VIRTIO_ATTRS MEMTXATTRS_UNSPECIFIED
/* the features the layer always offers and requires */
#define LB_VIRTIO_TRANSPORT_FEATURES \
	((1ULL << LOOPBACK_VIRTIO_F_VERSION_1) | \
	 (1ULL << LOOPBACK_VIRTIO_F_ACCESS_PLATFORM))
/* bits 24 ... 40 are the transport's (virtio 1.2, 6) */
#define LB_VIRTIO_TRANSPORT_RANGE (((1ULL << 41) - 1) & ~((1ULL << 24) - 1))
/* the ring features the layer implements */
#define LB_VIRTIO_RING_FEATURES \
	((1ULL << LOOPBACK_VIRTIO_F_INDIRECT_DESC) | \
	 (1ULL << LOOPBACK_VIRTIO_F_EVENT_IDX))

struct LoopbackVirtqueue {
	LoopbackVirtio *vdev;
	unsigned int index;
	EventNotifier kick;
	EventNotifier *irq;		/* the user's; atomic */
	GSource *source;		/* kick watch in the attached context */

	/* set up through the registers while not ready */
	unsigned int num;
	uint64_t desc_addr;
	uint64_t avail_addr;
	uint64_t used_addr;
	int ready;			/* atomic */
	bool ioeventfd;			/* added to the register block */

	/* the ring state: the queue's thread only, between start and stop */
	MemoryRegionCache desc;
	MemoryRegionCache avail;
	MemoryRegionCache used;
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool event_idx;			/* negotiated, copied at ready */
	bool indirect;
	int broken;			/* atomic */
};

struct LoopbackVirtio {
	MemoryRegion mmio;		/* freed by its free notify */
	const LoopbackVirtioDeviceClass *klass;
	void *opaque;
	AddressSpace *dma;
	GMutex lock;			/* register accesses */

	uint64_t device_features;
	uint64_t driver_features;	/* accepted at FEATURES_OK */
	bool driver_features_high;	/* a bit above 63 was written */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	bool started;			/* start succeeded, stop not yet run */

	uint32_t status;		/* atomic: queue threads set NEEDS_RESET */
	uint32_t isr;			/* atomic */
	uint32_t generation;		/* atomic */
	int reset_reported;		/* atomic: one log line per reset */

	EventNotifier *config_irq;	/* atomic */
	LoopbackVirtioIrqFunc irq_func;
	void *irq_data;
	GMainContext *ctx;

	unsigned int num_queues;
	LoopbackVirtqueue *vqs;
};

/* mmio.c */
extern const MemoryRegionOps lb_virtio_mmio_ops;

/* device.c */
void lb_virtio_raise(LoopbackVirtio *vdev, int queue);

/* status.c */
void lb_virtio_write_status(LoopbackVirtio *vdev, uint32_t value);
void lb_virtio_reset(LoopbackVirtio *vdev);

/* queue.c */
void lb_vq_init(LoopbackVirtio *vdev, LoopbackVirtqueue *vq,
		unsigned int index);
void lb_vq_set_ready(LoopbackVirtqueue *vq, bool ready);
void lb_vq_reset(LoopbackVirtqueue *vq);
void lb_vq_destroy(LoopbackVirtqueue *vq);
/* Whether [addr, addr + len) is RAM of the address space (writable). */
bool lb_vq_is_ram(AddressSpace *as, uint64_t addr, uint64_t len,
		  bool is_write);

/* vring.c */
void lb_vq_break(LoopbackVirtqueue *vq, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

/* element.c: the chain from @head, mapped; NULL after lb_vq_break() */
LoopbackVirtqueueElement *lb_vq_map_chain(LoopbackVirtqueue *vq,
					  unsigned int head);
/* Unmaps @e's buffers, @written bytes of the in ones marked written. */
void lb_vq_unmap_element(LoopbackVirtqueue *vq, LoopbackVirtqueueElement *e,
			 uint64_t written);

/* kick.c */
void lb_vq_watch(LoopbackVirtqueue *vq, GMainContext *ctx);

#endif /* LOOPBACK_VIRTIO_INTERNAL_H */
