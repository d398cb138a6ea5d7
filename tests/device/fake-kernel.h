/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device layer without a kernel: a SOCK_SEQPACKET socketpair stands in
 * for the device fd (one message = what one read() of the real fd returns),
 * a memfd for the window, and a recorder for the ioctls.  The tests are
 * built with the layer's sources (device-internal.h is not exported).
 */
#ifndef LOOPBACK_TESTS_FAKE_KERNEL_H
#define LOOPBACK_TESTS_FAKE_KERNEL_H

#include "../../libloopback/device/device-internal.h"

#define FK_REGS_BASE	LOOPBACK_REGS_BASE
#define FK_WINDOW_BASE	LOOPBACK_WINDOW_BASE
#define FK_WINDOW_SIZE	(64 * 1024)

typedef struct FakeDev {
	LoopbackDevice *dev;
	int peer;		/* the kernel's end of the socketpair */
	int window_fd;		/* the memfd behind the window (not ours) */
	uint8_t regs[LOOPBACK_DEVICE_REGS_SIZE];	/* register block bytes */
	GString *trace;		/* "r OFF SIZE" and "w OFF SIZE VALUE" lines */
	MemoryRegionOps ops;
	struct lb_kernel_ops k;
	/* the ioctls the layer made: one line each (fk_ioctl) */
	GString *ioctls;
	int ioctl_errno;	/* non-zero: every ioctl fails with it */
	int read_errno;		/* non-zero: read() fails with it */
	int stale_replies;	/* this many writes fail with ENOENT first */
} FakeDev;

FakeDev *fk_new(uint32_t num_queues);
/* Without @with_ops, no register block: loopback_device_map_regs() maps one. */
FakeDev *fk_new_full(uint32_t num_queues, bool with_ops);
/* Frees the device (if any left) and the fake. */
void fk_free(FakeDev *f);
/* Sends @n traps as one message, as one read() would return them. */
void fk_send(FakeDev *f, const struct loopback_trap *t, unsigned int n);
/* Receives one message of replies: how many (0 when none is waiting). */
unsigned int fk_recv(FakeDev *f, struct loopback_reply *r, unsigned int max);

static inline struct loopback_trap fk_trap(uint64_t id, uint64_t off,
					   unsigned int size, bool is_write,
					   uint64_t data)
{
	return (struct loopback_trap) {
		.id = id,
		.addr = FK_REGS_BASE + off,
		.size = size,
		.data = data,
		.flags = is_write ? LOOPBACK_TRAP_WRITE : 0,
	};
}

#endif
