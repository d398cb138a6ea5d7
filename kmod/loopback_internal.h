/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * loopback.ko internals shared by its files:
 *
 *   loopback_main.c       module init/exit, /dev/loopback (loopback_ctrl_*)
 *   loopback_dev.c        the device fd: read/write/poll/ioctl/mmap/release
 *                         (loopback_dev_*)
 *   loopback_transport.c  the virtio transport: virtio_config_ops, vrings,
 *                         traps, kicks and interrupts (loopback_vdev_*)
 *   loopback_fail.c       the kernel as a failing device once the owner is
 *                         gone (loopback_fail_*)
 *   loopback_dma.c        the DMA window: allocator, dma_map_ops, mmap
 *                         (loopback_window_*)
 *   loopback_blk.c        a block device's request bounds (loopback_blk_*)
 *   loopback_compat.h     kernel API differences across versions
 */
#ifndef LOOPBACK_INTERNAL_H
#define LOOPBACK_INTERNAL_H

#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/mm.h>
#include <linux/types.h>

#include <linux/loopback.h>	/* include/uapi/linux/loopback.h */

/* ---- the DMA window (loopback_dma.c) ---- */

struct loopback_window;

/*
 * A window of @size bytes (page multiple) at guest-physical @base: the only
 * memory the device can reach.  Returns ERR_PTR on failure.  The window is
 * reference counted: the device holds one reference, every VMA mapping it
 * another, so it outlives the device while user space still maps it.
 */
struct loopback_window *loopback_window_create(u64 base, u64 size);
void loopback_window_get(struct loopback_window *win);
void loopback_window_put(struct loopback_window *win);

/*
 * Makes @dma_dev's DMA API allocate coherent memory from @win and bounce
 * streaming mappings through it: sets dma_map_ops and 64-bit masks.  The
 * ops find the window with loopback_dma_dev_window().
 */
void loopback_window_bind(struct loopback_window *win, struct device *dma_dev);

/*
 * The device was reset: the streaming mappings made before are buffers
 * the driver will detach unused, and their unmaps copy nothing back.
 */
void loopback_window_reset(struct loopback_window *win);

/*
 * mmap of the device fd: MAP_SHARED only; offset = guest-physical address.
 * Pages inside the window map the window; any other page faults SIGBUS.
 */
int loopback_window_mmap(struct loopback_window *win,
			 struct vm_area_struct *vma);

/*
 * Ring mode: while @on, coherent allocations are vrings: they come from
 * pages user space never wrote and are read-only to every user mapping
 * (a write faults SIGBUS, GUP for writing fails).  The caller then makes
 * the used ring writable with loopback_window_set_ro().  The marks go when
 * the memory is freed.
 */
void loopback_window_ring_alloc(struct loopback_window *win, bool on);

/*
 * Makes the pages of coherent memory that [@dma, @dma + @len) touches
 * read-only (@ro) or writable for user mappings.  -EINVAL outside the
 * window, -EBUSY for pages that are not coherent memory or (@ro) that user
 * space may have a writable mapping of.
 */
int loopback_window_set_ro(struct loopback_window *win, u64 dma, u64 len,
			   bool ro);

/* The pseudo file system of the windows' inodes: module init and exit. */
int loopback_window_fs_init(void);
void loopback_window_fs_exit(void);

/*
 * Gives a new window its inode and makes the calling process its owner
 * (see loopback_window_revoke()).  0 or -errno; the window's release
 * undoes it.
 */
int loopback_window_attach(struct loopback_window *win);

/*
 * A new file that maps the window and nothing else: mmap(MAP_SHARED) at
 * offset 0 maps its first byte; fstat() gives its size.  It holds a
 * window reference, not the device.  ERR_PTR on failure.
 */
struct file *loopback_window_file(struct loopback_window *win);

/*
 * Revokes every user mapping of the window, through any file: later
 * accesses raise SIGBUS in the owner and map a scratch page in any other
 * process.  New mappings get the same.  Sleeps; idempotent.
 */
void loopback_window_revoke(struct loopback_window *win);

/* Bytes of the window in use by DMA (coherent + bounce), for debugging. */
u64 loopback_window_used(struct loopback_window *win);

/*
 * The kernel address of [@dma, @dma + @len) when the window holds all of
 * it, else NULL.  User space can write that memory at any time.
 */
void *loopback_window_ptr(struct loopback_window *win, u64 dma, u64 len);

/* ---- provided by the transport for the DMA ops ---- */

/* The window of the device whose DMA parent is @dma_dev. */
struct loopback_window *loopback_dma_dev_window(struct device *dma_dev);

/* The device's own largest mapping in bytes, or 0 for the default. */
size_t loopback_dma_dev_max_mapping(struct device *dma_dev);

/*
 * Called by every mapping of @dma_dev before it touches the window: the
 * transport accounts what the driver made available (it maps every buffer
 * before it publishes it) and what the device returned.  Any context.
 */
void loopback_dma_dev_track(struct device *dma_dev);

#endif /* LOOPBACK_INTERNAL_H */
