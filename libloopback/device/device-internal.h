/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device layer's private declarations: nothing here is exported. */
#ifndef LOOPBACK_DEVICE_INTERNAL_H
#define LOOPBACK_DEVICE_INTERNAL_H

#include "config.h"

#include <glib.h>
#include <stddef.h>
#include <sys/types.h>

#include "../tsan.h"

#include <linux/loopback.h>
#include <loopback/device.h>

#define LOOPBACK_API __attribute__((visibility("default")))

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Traps read (and replies written) per system call. */
#define LB_TRAP_BATCH 64

#define VIRTIO_F_VERSION_1		(1ULL << 32)
#define VIRTIO_F_ACCESS_PLATFORM	(1ULL << 33)

/*
 * The system calls the layer makes on the control node and the device fd.
 * Real ones by default; the unit tests put a socketpair and fakes there.
 */
struct lb_kernel_ops {
	int (*ioctl)(int fd, unsigned long request, void *arg);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*write)(int fd, const void *buf, size_t len);
};

extern const struct lb_kernel_ops lb_kernel_default;

/* What loopback_device_new() learned from the kernel. */
struct lb_layout {
	char name[LOOPBACK_NAME_LEN + 1];
	hwaddr regs_base;
	hwaddr window_base;
	uint64_t window_size;
	uint32_t num_queues;
	uint64_t module_features;	/* LOOPBACK_F_* */
};

struct LoopbackDevice {
	int fd;
	const struct lb_kernel_ops *k;
	struct lb_layout layout;

	AddressSpace as;
	MemoryRegion root;	/* the whole guest-physical space */
	MemoryRegion regs;	/* the caller's ops, when given */
	bool own_regs;		/* regs is initialised */
	MemoryRegion *regs_mr;	/* what is mapped: &regs, the caller's, NULL */
	MemoryRegion window;	/* RAM from the window fd */
	int regions;		/* initialised regions not yet finalised; atomic */
	MemoryListener listener;
	int closing;		/* loopback_device_free() began; atomic */
	int removing;		/* the kernel took our REMOVE; atomic */

	GSource *source;

	GMutex lock;		/* protects the fields below */
	int *irqfds;		/* per queue, then the config irq; -1 unbound */
	LoopbackDeviceEventFunc event_func;
	void *event_data;
	GError *end_error;	/* set once the device is gone */
	LoopbackDeviceEvent end_event;

	/* the dispatcher's own buffers */
	struct loopback_trap *traps;
	struct loopback_reply *replies;
};

/* error.c */
void lb_set_error_errno(GError **error, int err, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

/* control-node.c: opens the control node and checks the module. */
int lb_control_open(unsigned int wait_ms, uint64_t *features, GError **error);
bool lb_control_check(int ctl, const struct lb_kernel_ops *k,
		      uint64_t *features, GError **error);

/* device.c */
bool lb_config_valid(const LoopbackDeviceConfig *config, GError **error);
LoopbackDevice *lb_device_new_from_fd(int fd, const struct lb_layout *layout,
				      int window_fd,
				      const MemoryRegionOps *ops, void *opaque,
				      const struct lb_kernel_ops *k,
				      GError **error);
/* Reports the end once: stores @err (taken), calls the event func. */
void lb_device_end(LoopbackDevice *dev, LoopbackDeviceEvent event,
		   GError *err);
bool lb_device_ended(LoopbackDevice *dev, GError **error);

/* listener.c */
void lb_device_listener_init(LoopbackDevice *dev);

/* source.c */
GSource *lb_device_source_new(LoopbackDevice *dev);

#endif /* LOOPBACK_DEVICE_INTERNAL_H */
