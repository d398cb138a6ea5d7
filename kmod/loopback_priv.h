/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * loopback.ko: state shared by loopback_main.c, loopback_dev.c and
 * loopback_transport.c.  loopback_dma.c only sees loopback_internal.h.
 */
#ifndef LOOPBACK_PRIV_H
#define LOOPBACK_PRIV_H

#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/virtio.h>
#include <linux/virtio_ring.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "loopback_internal.h"

/* Module-wide objects (loopback_main.c). */
/* Kicks, failing buffers, irqfd shutdown, frees: never wait for a driver. */
extern struct workqueue_struct *loopback_wq;
/* A driver's probe and removal: may wait for loopback_wq's work. */
extern struct workqueue_struct *loopback_ctl_wq;
/* Interrupts that wait for the device's batch: loopback_irqfd_wakeup(). */
extern struct workqueue_struct *loopback_irq_wq;
extern struct class loopback_class;
extern unsigned int loopback_trap_timeout_ms;

/* LOOPBACK_DEV_REMOVE: where an orderly removal is. */
enum loopback_remove_state {
	LOOPBACK_REMOVE_NONE,		/* not asked for */
	LOOPBACK_REMOVE_RUNNING,	/* the driver's remove runs */
	LOOPBACK_REMOVE_DONE,		/* the virtio device is gone */
};

/* The state of a queue's split ring as the kernel sees it. */
enum loopback_ring_state {
	LOOPBACK_RING_NONE,	/* no ring: before find_vqs, after del_vqs */
	LOOPBACK_RING_USER,	/* user space plays the device */
	LOOPBACK_RING_FAILING,	/* the kernel does: every buffer fails */
	LOOPBACK_RING_BAD,	/* the kernel gave up on a malformed ring */
	LOOPBACK_RING_UNHELD,	/* user space returned a head it did not hold */
};

/*
 * A ring as its device sees it (loopback_fail.c): where it is, which heads
 * the device holds while user space plays it, and the kernel's
 * device-side indices once it fails the buffers itself.  The pointers lead
 * into the window: user space can write the used ring at any time, the
 * descriptor table and available ring never (they are read-only to it).
 * @state, @avail, @used, @avail_seen and @used_seen are also read without
 * the lock, as a hint (WRITE_ONCE under it).
 */
struct loopback_ring {
	enum loopback_ring_state state;
	u32 num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	/*
	 * Per head: times the driver made it available minus times the
	 * device returned it, over the entries accounted so far.  NULL, or
	 * @inexact, when the kernel does not know (then the old rule holds:
	 * the outstanding heads are avail[used->idx .. avail->idx)).
	 */
	u16 *pending;
	/*
	 * With @pending: the used entries accounted, as the kernel read them,
	 * by position.  Those from @delivered to @used_seen are written back
	 * before an interrupt shows them to the driver: a device that changed
	 * one after the kernel counted it would otherwise make the driver
	 * complete another head (virtio_ring then breaks the queue, and its
	 * requests wait for ever).
	 */
	struct vring_used_elem *seen;
	u16 delivered;		/* used entries an interrupt showed the driver */
	u16 avail_seen;		/* available entries accounted */
	u16 used_seen;		/* used entries accounted */
	bool inexact;
	u32 next_head;		/* failing: the next head of @pending to check */
	u16 next_avail;		/* the next available entry to return */
	u16 used_idx;		/* the next used entry to write */
};

/* One virtqueue slot of a device. */
struct loopback_vq {
	/*
	 * Protects @vq and @quiesced: find_vqs/del_vqs change @vq; setting
	 * the queue up and a reset set @quiesced, the driver's DRIVER_OK
	 * clears it; the interrupt path (@irq) calls vring_interrupt() on
	 * @vq unless @quiesced.  Taken with IRQs off.
	 */
	spinlock_t lock;
	struct virtqueue *vq;
	bool quiesced;
	/* Raises the used-buffer interrupt in hard-IRQ context. */
	struct irq_work irq;
	/* Or from a worker, on loopback_irq_wq: loopback_irqfd_wakeup(). */
	struct work_struct irq_later;
	/*
	 * Task work that makes the task that signalled the irqfd yield
	 * (loopback_vq_yield_later()); bit 0 of @yield_queued is set while
	 * it is queued, and the queued work holds a reference of @ldev.
	 */
	struct callback_head yield;
	unsigned long yield_queued;
	struct loopback_device *ldev;	/* the device; set once */
	/*
	 * Protects @ring.  Taken with IRQs off, also inside @lock: a driver
	 * may kick from its interrupt callback.
	 */
	spinlock_t ring_lock;
	struct loopback_ring ring;
};

struct loopback_irqfd_entry;

/*
 * A device: created by LOOPBACK_CREATE, owned by the file it returns.
 *
 * Lifetime: @kref counts the file (dropped at the end of the teardown),
 * release() while it waits for the teardown, the parent device (dropped by
 * its release), the virtio device once its registration started (dropped
 * by its release) and irqfds being shut down after EPOLLHUP.  The last
 * reference frees the structure, the window reference and the name, and
 * drops the module reference taken at create.
 */
struct loopback_device {
	struct kref kref;
	/* The DMA device and sysfs parent of @vdev ("loopbackN"). */
	struct device parent;
	struct virtio_device vdev;
	struct loopback_window *window;
	int index;
	char name[LOOPBACK_NAME_LEN];

	/* Fixed at create. */
	u64 features;
	u64 window_size;
	u32 device_id;
	u32 vendor_id;
	u32 num_queues;
	u32 max_queue_size;
	u32 config_size;
	u32 trap_size;		/* bytes of each record read() returns */

	/*
	 * Traps.  @trap_lock protects @pending (traps not yet read), @awaited
	 * (read, waiting for a reply), @next_id, and the transition of
	 * @broken to true.  @broken is read without the lock where a stale
	 * value is harmless.  Never taken from IRQ context.
	 */
	spinlock_t trap_lock;
	struct list_head pending;
	struct list_head awaited;
	u64 next_id;
	bool broken;
	/* read() and poll() wait here. */
	wait_queue_head_t readq;
	/* Kicks without an ioeventfd, reported as posted traps (atomic). */
	DECLARE_BITMAP(kick_posted, LOOPBACK_MAX_QUEUES);
	/* Kicks whose eventfd could not be signalled in place (atomic). */
	DECLARE_BITMAP(kick_deferred, LOOPBACK_MAX_QUEUES);
	struct work_struct kick_work;
	/* Serialises the select-register sequences (QueueSel, ...). */
	struct mutex sel_lock;
	/* Status as last written by the driver (0 after a reset). */
	u8 status;

	/* @config_lock protects @config and @generation. */
	spinlock_t config_lock;
	u8 *config;
	u32 generation;
	/*
	 * A block device: the seg_max the driver last read in full (written
	 * under @config_lock, read without it; 0 before the first read).
	 */
	u32 blk_segs;

	/*
	 * @irq_lock protects @vdev_live (the virtio device is registered, so
	 * virtio_config_changed() may be called) and @config_irq_pending (a
	 * configuration interrupt arrived before that).  Taken with IRQs off.
	 */
	spinlock_t irq_lock;
	bool vdev_live;
	bool config_irq_pending;
	struct irq_work config_irq;

	/* @fd_lock serialises ioeventfd and irqfd (de)assignment. */
	struct mutex fd_lock;
	/* struct loopback_ioeventfd_entry: RCU readers, written under @fd_lock. */
	struct list_head ioeventfds;
	/*
	 * @irqfd_lock protects @irqfds against the EPOLLHUP path, which runs
	 * under the eventfd's wait-queue lock with IRQs off.  Slot
	 * @num_queues is the configuration interrupt.
	 */
	spinlock_t irqfd_lock;
	struct loopback_irqfd_entry *irqfds[LOOPBACK_MAX_QUEUES + 1];

	/* register_virtio_device() runs here, never in the CREATE ioctl. */
	struct work_struct register_work;
	/*
	 * Set by register_work once registered, cleared by whoever
	 * unregisters (remove_work, or the teardown after it cancelled
	 * remove_work); read after register_work finished.
	 */
	bool registered;

	/*
	 * LOOPBACK_DEV_REMOVE: @remove_state (enum loopback_remove_state)
	 * moves forward only, by cmpxchg() and WRITE_ONCE(); @remove_work
	 * unregisters the virtio device, @remove_timeout breaks the device if
	 * that takes longer than @remove_ms.
	 */
	int remove_state;
	unsigned int remove_ms;
	struct work_struct remove_work;
	struct delayed_work remove_timeout;

	/*
	 * Failing the buffers of a broken device (loopback_fail.c): queues
	 * with more than one pass can do in atomic context, and whether a
	 * malformed ring asks for virtio_break_device().  @taken_over: set
	 * once by loopback_fail_takeover(), after the window was revoked;
	 * from then on a ring the driver sets up is failed at once.
	 */
	DECLARE_BITMAP(fail_pending, LOOPBACK_MAX_QUEUES);
	unsigned long fail_flags;
	bool taken_over;
	struct work_struct fail_work;

	/* release() hands the teardown to this work and waits for it. */
	struct work_struct destroy_work;
	struct completion destroyed;
	/* The last reference frees the device from here. */
	struct rcu_work free_rwork;

	struct loopback_vq vqs[];
};

/* loopback_dev.c */
struct loopback_device *loopback_dev_create(const struct loopback_create *req);
void loopback_dev_destroy(struct loopback_device *ldev);
struct file *loopback_dev_getfile(struct loopback_device *ldev);
void loopback_dev_put(struct loopback_device *ldev);
void loopback_dev_put_released(struct loopback_device *ldev);

/* loopback_blk.c */
void loopback_blk_get_config(struct loopback_device *ldev,
			     unsigned int offset, void *buf, unsigned int len);
size_t loopback_blk_max_mapping(struct loopback_device *ldev);

/* loopback_fail.c */
void loopback_fail_init(struct loopback_device *ldev);
void loopback_fail_ring_start(struct loopback_device *ldev, unsigned int index,
			      struct virtqueue *vq);
void loopback_fail_ring_stop(struct loopback_device *ldev, unsigned int index);
void loopback_fail_takeover(struct loopback_device *ldev);
void loopback_fail_kick(struct loopback_device *ldev, unsigned int index);
void loopback_fail_sync(struct loopback_device *ldev);
bool loopback_fail_track(struct loopback_device *ldev, unsigned int index);
bool loopback_fail_deliver(struct loopback_device *ldev, unsigned int index);
bool loopback_fail_busy(struct loopback_device *ldev, unsigned int index);
void loopback_fail_track_map(struct loopback_device *ldev);

/* loopback_transport.c */
void loopback_vdev_init(struct loopback_device *ldev);
void loopback_vdev_raise_queue(struct loopback_device *ldev, unsigned int q);
void loopback_vdev_start(struct loopback_device *ldev);
void loopback_vdev_break(struct loopback_device *ldev);
void loopback_vdev_stop(struct loopback_device *ldev);
void loopback_vdev_sync_irqs(struct loopback_device *ldev);
ssize_t loopback_vdev_read(struct loopback_device *ldev, char __user *buf,
			   size_t count, bool nonblock);
ssize_t loopback_vdev_write(struct loopback_device *ldev,
			    const char __user *buf, size_t count);
__poll_t loopback_vdev_poll(struct loopback_device *ldev, struct file *file,
			    struct poll_table_struct *wait);
int loopback_vdev_ioeventfd(struct loopback_device *ldev,
			    const struct loopback_ioeventfd *arg);
int loopback_vdev_irqfd(struct loopback_device *ldev,
			const struct loopback_irqfd *arg);
int loopback_vdev_interrupt(struct loopback_device *ldev,
			    const struct loopback_interrupt *arg);
int loopback_vdev_set_config(struct loopback_device *ldev,
			     const struct loopback_config *arg);
int loopback_vdev_remove(struct loopback_device *ldev,
			 const struct loopback_remove *arg);

static inline bool loopback_vdev_broken(struct loopback_device *ldev)
{
	return READ_ONCE(ldev->broken);
}

/* The orderly removal (LOOPBACK_DEV_REMOVE) finished. */
static inline bool loopback_vdev_removed(struct loopback_device *ldev)
{
	return READ_ONCE(ldev->remove_state) == LOOPBACK_REMOVE_DONE;
}

#endif /* LOOPBACK_PRIV_H */
