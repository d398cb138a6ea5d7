/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A virtio driver played by the tests, with no kernel: a memfd window at
 * 0x100000000 and a device's register block at 0x10000000 in one
 * AddressSpace.  Rings live in the window and are built by hand, so that
 * the tests can break them in every way a driver could.
 */
#ifndef LOOPBACK_VIRTIO_DRIVER_H
#define LOOPBACK_VIRTIO_DRIVER_H

#include <loopback/virtio.h>

#include "testutil.h"

#define VDRV_REGS 0x10000000ULL
#define VDRV_WINDOW 0x100000000ULL
#define VDRV_MAX_QUEUES 4

typedef struct VdrvQueue {
	unsigned int num;
	uint64_t desc;		/* guest-physical addresses */
	uint64_t avail;
	uint64_t used;
	uint16_t avail_idx;	/* the driver's next available index */
	uint16_t last_used;	/* the next used entry to read */
	unsigned int next_desc;	/* a simple rotating descriptor allocator */
} VdrvQueue;

typedef struct Vdrv {
	LbtWorld *w;
	MemoryRegion *window;
	uint8_t *win;		/* host view of the window */
	uint64_t window_size;
	uint64_t brk;		/* bump allocator offset */
	LoopbackVirtio *vdev;
	VdrvQueue q[VDRV_MAX_QUEUES];

	/* interrupts, counted by an irq function (any thread) */
	GMutex lock;
	GCond cond;
	unsigned int irqs[VDRV_MAX_QUEUES];
	unsigned int config_irqs;
	uint16_t seen_used[VDRV_MAX_QUEUES];	/* used->idx at the irq */

	/* the layer's log lines (warnings and messages) */
	GPtrArray *log;
} Vdrv;

/* A window of @window_size bytes and @vdev's registers; owns @vdev. */
Vdrv *vdrv_new(uint64_t window_size);
void vdrv_attach(Vdrv *d, LoopbackVirtio *vdev);
void vdrv_free(Vdrv *d);

uint32_t vdrv_read(Vdrv *d, hwaddr reg);
void vdrv_write(Vdrv *d, hwaddr reg, uint32_t v);
/* reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK: whether it stuck */
bool vdrv_negotiate(Vdrv *d, uint64_t features);
/* rings of @num entries in the window, QueueReady = 1: whether it stuck */
bool vdrv_setup_queue(Vdrv *d, unsigned int q, unsigned int num);
void vdrv_driver_ok(Vdrv *d);
/* negotiate @features, set up @nq queues of @num, DRIVER_OK */
void vdrv_bring_up(Vdrv *d, uint64_t features, unsigned int nq,
		   unsigned int num);

/* window memory: guest address of @len bytes, and its host pointer */
uint64_t vdrv_alloc(Vdrv *d, uint64_t len, uint64_t align);
void *vdrv_ptr(Vdrv *d, uint64_t gpa);

typedef struct VdrvBuf {
	uint64_t addr;
	uint32_t len;
	bool write;		/* device-writable */
} VdrvBuf;

/* A descriptor's 16 bytes at @p. */
void vdrv_encode_desc(uint8_t *p, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next);
/* Writes descriptor @i of queue @q (or of the table at @table if not 0). */
void vdrv_set_desc(Vdrv *d, unsigned int q, uint64_t table, unsigned int i,
		   uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
/* A chain of @n buffers, direct; its head. */
unsigned int vdrv_chain(Vdrv *d, unsigned int q, const VdrvBuf *b,
			unsigned int n);
/* The same through one indirect descriptor; its head. */
unsigned int vdrv_chain_indirect(Vdrv *d, unsigned int q, const VdrvBuf *b,
				 unsigned int n);
/* Makes @head available (not kicked). */
void vdrv_publish(Vdrv *d, unsigned int q, unsigned int head);
void vdrv_kick(Vdrv *d, unsigned int q);
/* The next used entry, if any. */
bool vdrv_get_used(Vdrv *d, unsigned int q, uint32_t *id, uint32_t *len);
uint16_t vdrv_used_idx(Vdrv *d, unsigned int q);
/* Waits (5 s at most) until queue @q's irq saw used->idx == @idx. */
void vdrv_wait_used(Vdrv *d, unsigned int q, uint16_t idx);
unsigned int vdrv_irqs(Vdrv *d, int q);

/* ring fields the driver owns or reads */
void vdrv_set_used_event(Vdrv *d, unsigned int q, uint16_t v);
void vdrv_set_avail_flags(Vdrv *d, unsigned int q, uint16_t v);
void vdrv_set_avail_idx(Vdrv *d, unsigned int q, uint16_t v);
uint16_t vdrv_avail_event(Vdrv *d, unsigned int q);
uint16_t vdrv_used_flags(Vdrv *d, unsigned int q);

/* Asserts that one log line came and contains @part; forgets the lines. */
void vdrv_assert_log(Vdrv *d, const char *part);

#endif /* LOOPBACK_VIRTIO_DRIVER_H */

/*
 * A test device (id 0x4c42, 2 queues of up to 16, 8 bytes of config):
 * each chain's readable bytes are copied into its writable ones and
 * returned with that length; with @hold, popped elements are kept in
 * held[] instead, for the test to push in any order.
 */
typedef struct VdrvEcho {
	LoopbackVirtioDeviceClass klass;
	LoopbackVirtio *vdev;
	uint8_t config[8];
	bool hold;
	GPtrArray *held;	/* LoopbackVirtqueueElement */
	unsigned int handled;	/* handler runs */
	unsigned int starts, stops, resets;
	bool fail_start;
	uint64_t features;	/* as set at FEATURES_OK */
} VdrvEcho;

VdrvEcho *vdrv_echo_new(Vdrv *d, uint64_t device_features);
void vdrv_echo_free(VdrvEcho *e);
/* The echo device's queue handler (for a test's own queue threads). */
void vdrv_echo_handle(void *opaque, LoopbackVirtqueue *vq);
/* Runs the attached context until nothing is pending. */
void vdrv_iterate(void);
