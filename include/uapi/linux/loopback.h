/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * loopback: virtio devices emulated by a user-space process on the same
 * host, driven by the host's own virtio drivers.
 *
 * /dev/loopback is the control node: LOOPBACK_GET_API_VERSION and
 * LOOPBACK_CREATE, which returns a device fd.  On the device fd:
 *
 *  - read() returns struct loopback_trap messages: register accesses in
 *    virtio-mmio (version 2) terms that need the device model; write()
 *    takes struct loopback_reply messages answering them by id; poll()
 *    says when a message is pending (EPOLLIN) or the device is broken
 *    (EPOLLERR);
 *  - the LOOPBACK_DEV_* ioctls below bind eventfds for kicks and
 *    interrupts, raise interrupts, update the config space and report the
 *    device's layout;
 *  - mmap(offset = guest-physical address, MAP_SHARED) maps the DMA window.
 *
 * Every struct has fixed-width fields, no implicit padding, and reserved
 * fields that must be zero.  Documentation/uapi.md is the full reference.
 */
#ifndef _UAPI_LINUX_LOOPBACK_H
#define _UAPI_LINUX_LOOPBACK_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * 2: LOOPBACK_GET_FEATURES, trap_size, LOOPBACK_DEV_WINDOW_FD,
 *    LOOPBACK_DEV_REMOVE; the output fields of struct loopback_create must
 *    be 0 on input.  LOOPBACK_CREATE accepts any version from 1 to this.
 */
#define LOOPBACK_API_VERSION		2

/* ioctl type byte; unused by the kernel's drivers as of 6.12 */
#define LOOPBACK_IOCTL_TYPE		0xBE

/* Bounds checked by LOOPBACK_CREATE. */
#define LOOPBACK_MAX_QUEUES		64
#define LOOPBACK_MAX_QUEUE_SIZE		32768	/* a power of two */
#define LOOPBACK_MAX_CONFIG_SIZE	3840	/* REGS_SIZE - 0x100 */
#define LOOPBACK_MIN_WINDOW_SIZE	(64ULL << 10)
#define LOOPBACK_MAX_WINDOW_SIZE	(1ULL << 30)
#define LOOPBACK_NAME_LEN		32
#define LOOPBACK_MAX_TRAP_SIZE		256	/* struct loopback_create.trap_size */

/*
 * Guest-physical layout of every device: the virtio-mmio register block
 * (config space at +0x100) and the DMA window.  Addresses in trap messages,
 * DMA addresses the driver puts in the rings, and mmap offsets all use it.
 */
#define LOOPBACK_REGS_BASE		0x10000000ULL
#define LOOPBACK_REGS_SIZE		0x1000ULL
#define LOOPBACK_WINDOW_BASE		0x100000000ULL

/**
 * LOOPBACK_GET_API_VERSION - the API version the module speaks
 *
 * Writes LOOPBACK_API_VERSION of the running module to the __u64 argument.
 */
#define LOOPBACK_GET_API_VERSION	_IOR(LOOPBACK_IOCTL_TYPE, 0x00, __u64)

/* LOOPBACK_GET_FEATURES bits: what this module implements. */
#define LOOPBACK_F_WINDOW_FD	(1ULL << 0)	/* LOOPBACK_DEV_WINDOW_FD */
#define LOOPBACK_F_REMOVE	(1ULL << 1)	/* LOOPBACK_DEV_REMOVE */
#define LOOPBACK_F_TRAP_SIZE	(1ULL << 2)	/* loopback_create.trap_size */
#define LOOPBACK_F_RO_RINGS	(1ULL << 3)	/* see below */
#define LOOPBACK_F_INFLIGHT	(1ULL << 4)	/* see below */

/**
 * LOOPBACK_GET_FEATURES - the LOOPBACK_F_* bits the running module offers
 *
 * Writes a __u64 of LOOPBACK_F_* bits.  LOOPBACK_F_RO_RINGS: descriptor
 * tables and available rings are read-only in every user mapping, and each
 * used ring has pages of its own.  LOOPBACK_F_INFLIGHT: when a device
 * breaks, the kernel fails exactly the buffers it had not returned, in any
 * completion order.  Bits the caller does not know must be ignored.
 */
#define LOOPBACK_GET_FEATURES		_IOR(LOOPBACK_IOCTL_TYPE, 0x02, __u64)

/**
 * struct loopback_create - argument of LOOPBACK_CREATE
 * @api_version: in: LOOPBACK_API_VERSION the caller was built for,
 *	1..LOOPBACK_API_VERSION of the module
 * @flags: in: none defined yet, must be 0
 * @device_id: in: virtio device id (1 net, 2 block, 4 entropy, ...), not 0
 * @vendor_id: in: virtio vendor id reported to the driver
 * @features: in: device feature bits; VIRTIO_F_VERSION_1 (32) and
 *	VIRTIO_F_ACCESS_PLATFORM (33) are required
 * @num_queues: in: 1..LOOPBACK_MAX_QUEUES
 * @max_queue_size: in: power of two, 2..LOOPBACK_MAX_QUEUE_SIZE
 * @config_size: in: bytes of device config space, 0..LOOPBACK_MAX_CONFIG_SIZE
 * @trap_size: in: bytes of each struct loopback_trap record that read()
 *	returns: 0 for 32 (API 1's record), else a multiple of 8 from 32 to
 *	LOOPBACK_MAX_TRAP_SIZE; bytes past the module's record read as 0
 * @config: in: user pointer to @config_size bytes of initial config space
 * @window_size: in: DMA window bytes, a multiple of the page size,
 *	LOOPBACK_MIN_WINDOW_SIZE..LOOPBACK_MAX_WINDOW_SIZE
 * @regs_base: out (0 on input): guest-physical base of the register block
 * @window_base: out (0 on input): guest-physical base of the DMA window
 * @name: out (all 0 on input): NUL-terminated name of the virtio device
 *	("loopback0", ...)
 * @reserved: must be 0
 *
 * Device classes: entropy (4), block (2) and network (1) without a
 * control queue (none of the features that need VIRTIO_NET_F_CTRL_VQ) and
 * without VIRTIO_NET_F_STANDBY are allowed; any other @device_id, or such
 * a network device, fails with -EPERM unless the administrator allowed
 * the class with the module parameter extra_device_ids.
 *
 * Creates a device owned by the returned file descriptor (O_CLOEXEC; the
 * ioctl's return value).  The virtio device is registered, and the host's
 * driver probes it, in a separate context once the ioctl returns: the
 * caller must be ready to answer traps.
 */
struct loopback_create {
	__u32 api_version;
	__u32 flags;
	__u32 device_id;
	__u32 vendor_id;
	__u64 features;
	__u32 num_queues;
	__u32 max_queue_size;
	__u32 config_size;
	__u32 trap_size;
	__u64 config;
	__u64 window_size;
	__u64 regs_base;
	__u64 window_base;
	char name[LOOPBACK_NAME_LEN];
	__u64 reserved[4];
};

#define LOOPBACK_CREATE		_IOWR(LOOPBACK_IOCTL_TYPE, 0x01, struct loopback_create)

/* struct loopback_trap.flags */
#define LOOPBACK_TRAP_WRITE	(1U << 0)	/* a write; else a read */
#define LOOPBACK_TRAP_POSTED	(1U << 1)	/* needs no reply */

/**
 * struct loopback_trap - a register access for the device model (read())
 * @id: non-zero, unique on this device fd; echo it in the reply
 * @addr: guest-physical address: @regs_base + virtio-mmio register offset
 * @data: the value written (LOOPBACK_TRAP_WRITE), else 0
 * @size: access size in bytes: 1, 2, 4 or 8
 * @flags: LOOPBACK_TRAP_*
 *
 * Every trap except a posted one waits for a reply: the driver sleeps until
 * then, or until the module's trap timeout breaks the device.  QueueNotify
 * writes without an ioeventfd arrive posted.  read() returns whole records
 * of the trap_size agreed at create; this struct is their first 32 bytes.
 */
struct loopback_trap {
	__u64 id;
	__u64 addr;
	__u64 data;
	__u32 size;
	__u32 flags;
};

/**
 * struct loopback_reply - the answer to a trap (write())
 * @id: the trap's id
 * @data: for a read, the value read (the low @size bytes count); else 0
 * @flags: must be 0
 * @reserved: must be 0
 */
struct loopback_reply {
	__u64 id;
	__u64 data;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct loopback_dev_info - argument of LOOPBACK_DEV_GET_INFO
 * @api_version: out: LOOPBACK_API_VERSION
 * @device_id: out
 * @vendor_id: out
 * @num_queues: out
 * @features: out: device features as created
 * @regs_base: out
 * @window_base: out
 * @window_size: out
 * @max_queue_size: out
 * @config_size: out
 * @name: out: the virtio device's name
 * @reserved: out: 0
 *
 * Lets any holder of the device fd (a backend that received it over a
 * socket, say) learn the layout it must map.
 */
struct loopback_dev_info {
	__u32 api_version;
	__u32 device_id;
	__u32 vendor_id;
	__u32 num_queues;
	__u64 features;
	__u64 regs_base;
	__u64 window_base;
	__u64 window_size;
	__u32 max_queue_size;
	__u32 config_size;
	char name[LOOPBACK_NAME_LEN];
	__u64 reserved[4];
};

#define LOOPBACK_DEV_GET_INFO	_IOR(LOOPBACK_IOCTL_TYPE, 0x10, struct loopback_dev_info)

/* struct loopback_ioeventfd.flags */
#define LOOPBACK_IOEVENTFD_DATAMATCH	(1U << 0)
#define LOOPBACK_IOEVENTFD_DEASSIGN	(1U << 1)

/**
 * struct loopback_ioeventfd - argument of LOOPBACK_DEV_IOEVENTFD
 * @addr: must be @regs_base + 0x050 (QueueNotify)
 * @datamatch: with LOOPBACK_IOEVENTFD_DATAMATCH, the value written (the
 *	queue index, < num_queues) that selects this eventfd
 * @len: 0 (any size) or 4
 * @fd: an eventfd
 * @flags: LOOPBACK_IOEVENTFD_*
 * @reserved: must be 0
 *
 * Binds, or with DEASSIGN unbinds (same addr, len, datamatch, fd), an
 * eventfd signalled by matching QueueNotify writes instead of a posted
 * trap.  A kick never sleeps.  -EEXIST for a duplicate binding, -ENOENT
 * when unbinding one that does not exist.
 */
struct loopback_ioeventfd {
	__u64 addr;
	__u64 datamatch;
	__u32 len;
	__s32 fd;
	__u32 flags;
	__u32 reserved;
};

#define LOOPBACK_DEV_IOEVENTFD	_IOW(LOOPBACK_IOCTL_TYPE, 0x11, struct loopback_ioeventfd)

/* A queue index that stands for the configuration-change interrupt. */
#define LOOPBACK_CONFIG_IRQ	0xffffffffU

/* struct loopback_irqfd.flags */
#define LOOPBACK_IRQFD_DEASSIGN	(1U << 0)

/**
 * struct loopback_irqfd - argument of LOOPBACK_DEV_IRQFD
 * @queue: queue index, or LOOPBACK_CONFIG_IRQ
 * @fd: an eventfd; a signal raises the interrupt, and signals made before
 *	it runs raise it once
 * @flags: LOOPBACK_IRQFD_*
 * @reserved: must be 0
 *
 * One eventfd per queue: assigning over an existing one is -EEXIST.  While
 * the device holds buffers of the queue, its interrupt runs from a kernel
 * worker, not inside the signal; otherwise it runs inside the signal, and
 * the signalling task yields the CPU once on its return to user space
 * (Documentation/uapi.md).
 */
struct loopback_irqfd {
	__u32 queue;
	__s32 fd;
	__u32 flags;
	__u32 reserved;
};

#define LOOPBACK_DEV_IRQFD	_IOW(LOOPBACK_IOCTL_TYPE, 0x12, struct loopback_irqfd)

/**
 * struct loopback_interrupt - argument of LOOPBACK_DEV_INTERRUPT
 * @queue: queue index (used-buffer interrupt) or LOOPBACK_CONFIG_IRQ
 * @reserved: must be 0
 */
struct loopback_interrupt {
	__u32 queue;
	__u32 reserved;
};

#define LOOPBACK_DEV_INTERRUPT	_IOW(LOOPBACK_IOCTL_TYPE, 0x13, struct loopback_interrupt)

/* struct loopback_config.flags */
#define LOOPBACK_CONFIG_NOTIFY	(1U << 0)	/* raise the config interrupt */

/**
 * struct loopback_config - argument of LOOPBACK_DEV_SET_CONFIG
 * @offset: first byte to change in the config space
 * @length: bytes to change; @offset + @length <= config_size
 * @data: user pointer to @length bytes
 * @flags: LOOPBACK_CONFIG_*
 * @reserved: must be 0
 *
 * Updates the kernel's copy of the config space, which serves the
 * driver's config reads, and bumps the config generation.
 */
struct loopback_config {
	__u32 offset;
	__u32 length;
	__u64 data;
	__u32 flags;
	__u32 reserved;
};

#define LOOPBACK_DEV_SET_CONFIG	_IOW(LOOPBACK_IOCTL_TYPE, 0x14, struct loopback_config)

/* struct loopback_window_fd.flags */
#define LOOPBACK_WINDOW_FD_CLOEXEC	(1U << 0)	/* O_CLOEXEC on the new fd */

/**
 * struct loopback_window_fd - argument of LOOPBACK_DEV_WINDOW_FD
 * @flags: in: LOOPBACK_WINDOW_FD_*
 * @reserved0: must be 0
 * @window_base: out (0 on input): guest-physical address of file offset 0
 * @window_size: out (0 on input): bytes of the window (also the file's
 *	st_size)
 * @reserved: must be 0
 *
 * Returns a new fd (the ioctl's return value) that maps the DMA window
 * and nothing else: mmap(MAP_SHARED) at file offset 0 maps the window's
 * first byte.  It answers no trap and takes no ioctl, so it can be handed
 * to a process (a vhost-user back end) that may only touch the window.
 * It does not keep the device alive.  When the device breaks or goes,
 * every mapping of its window is revoked: in the process that created the
 * device a later access raises SIGBUS; in any other process the window's
 * pages are replaced by a scratch page, so its accesses reach nothing.
 */
struct loopback_window_fd {
	__u32 flags;
	__u32 reserved0;
	__u64 window_base;
	__u64 window_size;
	__u64 reserved[2];
};

#define LOOPBACK_DEV_WINDOW_FD	_IOWR(LOOPBACK_IOCTL_TYPE, 0x15, struct loopback_window_fd)

/**
 * struct loopback_remove - argument of LOOPBACK_DEV_REMOVE
 * @timeout_ms: in: how long the driver's removal may take before the
 *	device breaks; 0 for the module's trap_timeout_ms
 * @flags: in: none defined yet, must be 0
 * @reserved: must be 0
 *
 * Orderly unplug: removes the virtio device while the device model keeps
 * serving it, so that the driver's own teardown (a file system's
 * writeback in del_gendisk, say) still completes.  The ioctl starts the
 * removal and returns; traps keep arriving until it is over.  Then poll()
 * reports EPOLLHUP and read() returns 0.  If the driver has not finished
 * within @timeout_ms, the device breaks (EPOLLERR) and the removal ends
 * as on close().  -EALREADY if a removal was already started, -EIO if the
 * device is broken.  While it runs every ioctl works (the model may need
 * LOOPBACK_DEV_INTERRUPT to complete the driver's last requests); once it
 * is over only GET_INFO and WINDOW_FD still work, the others fail with
 * -ENODEV.  The window stays mapped until the device fd is closed.
 */
struct loopback_remove {
	__u32 timeout_ms;
	__u32 flags;
	__u64 reserved;
};

#define LOOPBACK_DEV_REMOVE	_IOW(LOOPBACK_IOCTL_TYPE, 0x16, struct loopback_remove)

/* Sizes are part of the ABI. */
#if defined(__KERNEL__)
#define __LOOPBACK_ASSERT(expr, msg) static_assert(expr, msg)
#elif defined(__cplusplus)
#define __LOOPBACK_ASSERT(expr, msg) static_assert(expr, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define __LOOPBACK_ASSERT(expr, msg) _Static_assert(expr, msg)
#endif
#ifdef __LOOPBACK_ASSERT
__LOOPBACK_ASSERT(sizeof(struct loopback_create) == 136, "loopback_create");
__LOOPBACK_ASSERT(sizeof(struct loopback_trap) == 32, "loopback_trap");
__LOOPBACK_ASSERT(sizeof(struct loopback_reply) == 24, "loopback_reply");
__LOOPBACK_ASSERT(sizeof(struct loopback_dev_info) == 120, "loopback_dev_info");
__LOOPBACK_ASSERT(sizeof(struct loopback_ioeventfd) == 32, "loopback_ioeventfd");
__LOOPBACK_ASSERT(sizeof(struct loopback_irqfd) == 16, "loopback_irqfd");
__LOOPBACK_ASSERT(sizeof(struct loopback_interrupt) == 8, "loopback_interrupt");
__LOOPBACK_ASSERT(sizeof(struct loopback_config) == 24, "loopback_config");
__LOOPBACK_ASSERT(sizeof(struct loopback_window_fd) == 40, "loopback_window_fd");
__LOOPBACK_ASSERT(sizeof(struct loopback_remove) == 16, "loopback_remove");
#undef __LOOPBACK_ASSERT
#endif

#endif /* _UAPI_LINUX_LOOPBACK_H */
