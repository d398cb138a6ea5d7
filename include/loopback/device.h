/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libloopback device layer: one loopback.ko device and its memory map.
 *
 * loopback_device_new() finds /dev/loopback, creates a device and builds
 * an AddressSpace holding the DMA window (RAM, from the kernel's window fd)
 * and the virtio-mmio register block (an io region whose MemoryRegionOps
 * the caller gives).  Register accesses the kernel traps become
 * address_space_read/write on that AddressSpace; ioeventfds added on the
 * register block with memory_region_add_eventfd() become the kernel's.
 * Documentation/device-api.md is the full reference: lifetime, threads,
 * error codes.
 */
#ifndef LOOPBACK_DEVICE_H
#define LOOPBACK_DEVICE_H

#include <loopback/memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Errors of the device layer: GError domain LOOPBACK_ERROR. */
#define LOOPBACK_ERROR (loopback_error_quark())
GQuark loopback_error_quark(void);

typedef enum {
	LOOPBACK_ERROR_FAILED,		/* anything else; the message says what */
	LOOPBACK_ERROR_NOT_FOUND,	/* no /dev/loopback: module not loaded */
	LOOPBACK_ERROR_PERMISSION,	/* /dev/loopback may not be opened */
	LOOPBACK_ERROR_VERSION,		/* the module is too old for this library */
	LOOPBACK_ERROR_INVALID,		/* a parameter the module refused */
	LOOPBACK_ERROR_NOT_ALLOWED,	/* device class not allowed (extra_device_ids) */
	LOOPBACK_ERROR_BUSY,		/* already bound, or removal already started */
	LOOPBACK_ERROR_BROKEN,		/* the device is broken (EPOLLERR, EIO) */
	LOOPBACK_ERROR_REMOVED,		/* the device was removed (orderly) */
	LOOPBACK_ERROR_UDEV,		/* libudev could not be used */
} LoopbackError;

/* Guest-physical layout, the same for every device (uapi). */
#define LOOPBACK_DEVICE_REGS_SIZE	0x1000
#define LOOPBACK_DEVICE_QUEUE_NOTIFY	0x050	/* register offset */
/* The queue index that stands for the configuration-change interrupt. */
#define LOOPBACK_DEVICE_CONFIG_IRQ	0xffffffffU

typedef struct LoopbackDevice LoopbackDevice;

/*
 * What loopback_device_new() creates.  VIRTIO_F_VERSION_1 and
 * VIRTIO_F_ACCESS_PLATFORM are added to @features.  @ops/@opaque answer
 * the register block (offsets 0..0xfff; virtio-mmio is little-endian, so
 * DEVICE_LITTLE_ENDIAN); with @ops NULL the caller maps a region of its own
 * with loopback_device_map_regs() before serving the device.  @wait_ms:
 * how long to wait for /dev/loopback to appear when the module was only
 * just loaded (0: not at all).
 */
typedef struct LoopbackDeviceConfig {
	uint32_t device_id;		/* virtio device id: 2 block, 4 entropy, ... */
	uint32_t vendor_id;
	uint64_t features;
	uint32_t num_queues;
	uint32_t max_queue_size;	/* a power of two */
	const void *config;		/* initial config space, @config_size bytes */
	uint32_t config_size;
	uint64_t window_size;		/* DMA window bytes, multiple of the page size */
	const MemoryRegionOps *ops;
	void *opaque;
	unsigned int wait_ms;
} LoopbackDeviceConfig;

LoopbackDevice *loopback_device_new(const LoopbackDeviceConfig *config,
				    GError **error);
/*
 * Closes the device fd (the kernel breaks and removes the device if it is
 * still there) and tears down the AddressSpace.  No callback runs after it
 * returns.  NULL is ignored.
 */
void loopback_device_free(LoopbackDevice *dev);

/* "loopback0": the name of /sys/class/loopback/NAME. */
const char *loopback_device_get_name(LoopbackDevice *dev);
AddressSpace *loopback_device_get_address_space(LoopbackDevice *dev);
/*
 * Maps @regs (e.g. the virtio layer's register block, which needs this
 * device's AddressSpace first) as the register block of a device created
 * without @ops.  Call it before serving: traps find nothing there until
 * then.  The device holds a reference on @regs until it is freed.
 */
bool loopback_device_map_regs(LoopbackDevice *dev, MemoryRegion *regs,
			      GError **error);
/* The register block, for memory_region_add_eventfd() on QueueNotify. */
MemoryRegion *loopback_device_get_regs(LoopbackDevice *dev);
hwaddr loopback_device_get_regs_base(LoopbackDevice *dev);
/*
 * The DMA window: a memory-only fd (valid until loopback_device_free(),
 * dup it to keep it), its guest-physical base and size, and its region.
 */
int loopback_device_get_window_fd(LoopbackDevice *dev);
hwaddr loopback_device_get_window_base(LoopbackDevice *dev);
uint64_t loopback_device_get_window_size(LoopbackDevice *dev);
MemoryRegion *loopback_device_get_window(LoopbackDevice *dev);

/* ---- serving traps ---- */

/* Serves the device from @context (NULL: the default one).  Once only. */
void loopback_device_attach(LoopbackDevice *dev, GMainContext *context);
/*
 * Or from a thread of the caller's: poll loopback_device_get_fd() for
 * POLLIN and call loopback_device_dispatch(), which answers every pending
 * trap and returns how many it handled (0: none pending), or -1 with
 * LOOPBACK_ERROR_REMOVED or LOOPBACK_ERROR_BROKEN once the device is gone.
 * One dispatcher at a time.
 */
int loopback_device_get_fd(LoopbackDevice *dev);
int loopback_device_dispatch(LoopbackDevice *dev, GError **error);

typedef enum {
	LOOPBACK_DEVICE_EVENT_REMOVED,	/* the orderly removal is over (EPOLLHUP) */
	LOOPBACK_DEVICE_EVENT_BROKEN,	/* the device broke (EPOLLERR, EIO) */
} LoopbackDeviceEvent;

/*
 * Called once, from the dispatcher (the GSource or the caller's thread),
 * when the device goes; @error says why.  The callback may free @dev.
 */
typedef void (*LoopbackDeviceEventFunc)(LoopbackDevice *dev,
					LoopbackDeviceEvent event,
					const GError *error, void *user_data);
void loopback_device_set_event_func(LoopbackDevice *dev,
				    LoopbackDeviceEventFunc func,
				    void *user_data);

/* ---- interrupts, config space, removal ---- */

/*
 * Binds @e so that each signal raises @queue's interrupt (or, with
 * LOOPBACK_DEVICE_CONFIG_IRQ, the config interrupt); NULL unbinds.
 */
bool loopback_device_set_irqfd(LoopbackDevice *dev, uint32_t queue,
			       EventNotifier *e, GError **error);
/* Raises @queue's interrupt (or LOOPBACK_DEVICE_CONFIG_IRQ's) now. */
bool loopback_device_interrupt(LoopbackDevice *dev, uint32_t queue,
			       GError **error);
/* Updates config space bytes; @notify raises the config interrupt. */
bool loopback_device_set_config(LoopbackDevice *dev, uint32_t offset,
				const void *data, uint32_t length, bool notify,
				GError **error);
/*
 * Starts an orderly removal: the driver's teardown runs while the device
 * is still served; LOOPBACK_DEVICE_EVENT_REMOVED follows when it is over,
 * or LOOPBACK_DEVICE_EVENT_BROKEN after @timeout_ms (0: the module's
 * trap timeout).
 */
bool loopback_device_remove(LoopbackDevice *dev, unsigned int timeout_ms,
			    GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(LoopbackDevice, loopback_device_free)

#ifdef __cplusplus
}
#endif

#endif /* LOOPBACK_DEVICE_H */
