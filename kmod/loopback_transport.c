// SPDX-License-Identifier: GPL-2.0-only
/*
 * loopback.ko: the virtio transport.
 *
 * The host's virtio driver sees a virtio device whose register accesses
 * follow virtio-mmio (version 2).  What the kernel can answer it answers
 * itself: device features, QueueNumMax, config reads (from a kernel copy)
 * and ConfigGeneration.  Accesses that need the device model become traps:
 * a struct loopback_wait on the caller's stack, queued on the device, read()
 * by user space as a struct loopback_trap and answered by a write() of a
 * struct loopback_reply.  The caller sleeps until then, or until the trap
 * timeout breaks the device.
 *
 * Kicks never wait: a matching ioeventfd is signalled, or the kick is
 * recorded in a bitmap that read() reports as a posted QueueNotify trap.
 * Interrupts come from irqfds or LOOPBACK_DEV_INTERRUPT and are delivered
 * through an irq_work, so drivers see them in hard-IRQ context as they
 * would from real hardware.
 */
#include <linux/bitops.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/nospec.h>
#include <linux/poll.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/task_work.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "loopback_compat.h"
#include "loopback_priv.h"

/* A trap in flight: lives on the stack of the task that waits for it. */
struct loopback_wait {
	struct list_head node;	/* in ldev->pending or ldev->awaited */
	struct completion done;
	u64 id;
	u64 data;		/* the value written, or the value read */
	u32 offset;		/* register offset */
	u32 size;
	u32 flags;		/* LOOPBACK_TRAP_* */
	int result;
	bool finished;		/* under trap_lock: result is final */
};

/* An ioeventfd binding; see LOOPBACK_DEV_IOEVENTFD. */
struct loopback_ioeventfd_entry {
	struct list_head node;	/* in ldev->ioeventfds (RCU) */
	struct eventfd_ctx *ctx;
	u64 datamatch;
	u32 len;
	bool wildcard;		/* no LOOPBACK_IOEVENTFD_DATAMATCH */
};

/* An irqfd binding; see LOOPBACK_DEV_IRQFD. */
struct loopback_irqfd_entry {
	struct loopback_device *ldev;
	struct eventfd_ctx *ctx;
	unsigned int slot;	/* queue index, or num_queues for config */
	wait_queue_entry_t wait;
	poll_table pt;
	struct work_struct shutdown;	/* after EPOLLHUP */
};

static inline struct loopback_device *to_ldev(struct virtio_device *vdev)
{
	return container_of(vdev, struct loopback_device, vdev);
}

/* ---- breaking ---- */

/* Completes a trap; the waiter may return as soon as trap_lock is free. */
static void loopback_wait_finish(struct loopback_device *ldev,
				 struct loopback_wait *w, int result)
{
	lockdep_assert_held(&ldev->trap_lock);
	list_del_init(&w->node);
	w->result = result;
	w->finished = true;
	complete(&w->done);
}

/*
 * Marks the device broken and fails every trap, queued or read.  Returns
 * true if this call broke it.  Later traps fail at once.
 */
static bool loopback_mark_broken(struct loopback_device *ldev)
{
	struct loopback_wait *w, *tmp;

	lockdep_assert_held(&ldev->trap_lock);
	if (ldev->broken)
		return false;
	WRITE_ONCE(ldev->broken, true);
	list_for_each_entry_safe(w, tmp, &ldev->pending, node)
		loopback_wait_finish(ldev, w, -EIO);
	list_for_each_entry_safe(w, tmp, &ldev->awaited, node)
		loopback_wait_finish(ldev, w, -EIO);
	bitmap_zero(ldev->kick_posted, LOOPBACK_MAX_QUEUES);
	return true;
}

/*
 * After the device is marked broken: poll() reports it, user space loses
 * the window (every mapping is revoked), and only then does the kernel
 * play the failing device, so that what it reads from the rings is what
 * the driver wrote, not what a process keeps writing.  Process context.
 */
static void loopback_after_break(struct loopback_device *ldev)
{
	wake_up_interruptible_poll(&ldev->readq, EPOLLERR);
	loopback_window_revoke(ldev->window);
	loopback_fail_takeover(ldev);
}

/*
 * Breaks the device (close, process death): no warning.  The kernel
 * becomes a device that fails every buffer (loopback_fail.c), so that the
 * driver's requests end with an error and nothing waits for a reply.
 */
void loopback_vdev_break(struct loopback_device *ldev)
{
	spin_lock(&ldev->trap_lock);
	loopback_mark_broken(ldev);
	spin_unlock(&ldev->trap_lock);
	loopback_after_break(ldev);
}

static const char *loopback_reg_name(u32 offset)
{
	switch (offset) {
	case VIRTIO_MMIO_DRIVER_FEATURES:
		return "DriverFeatures";
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		return "DriverFeaturesSel";
	case VIRTIO_MMIO_QUEUE_SEL:
		return "QueueSel";
	case VIRTIO_MMIO_QUEUE_NUM:
		return "QueueNum";
	case VIRTIO_MMIO_QUEUE_READY:
		return "QueueReady";
	case VIRTIO_MMIO_STATUS:
		return "Status";
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return "QueueDescLow";
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return "QueueDescHigh";
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return "QueueDriverLow";
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return "QueueDriverHigh";
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return "QueueDeviceLow";
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return "QueueDeviceHigh";
	}
	return offset >= VIRTIO_MMIO_CONFIG ? "Config" : "register";
}

/* ---- traps ---- */

/*
 * Queues a trap for user space and sleeps until it is answered, the
 * device breaks, or the trap timeout expires (which breaks the device).
 * Called only from virtio_config_ops, in process context.  A user task
 * (a sysfs read, an unbind) can be killed while it waits; it breaks the
 * device as a timeout does, since the driver cannot cope with a config
 * access that failed while the device goes on.  A kernel thread (the
 * probe on loopback_ctl_wq) takes no signals and waits for the timeout.
 */
static int loopback_trap(struct loopback_device *ldev, u32 offset, u32 size,
			 u32 flags, u64 *data)
{
	unsigned int timeout_ms = READ_ONCE(loopback_trap_timeout_ms);
	struct loopback_wait w = {
		.offset = offset,
		.size = size,
		.flags = flags,
		.data = (flags & LOOPBACK_TRAP_WRITE) ? *data : 0,
	};
	unsigned long timeout = msecs_to_jiffies(timeout_ms);
	const char *op = (flags & LOOPBACK_TRAP_WRITE) ? "write" : "read";
	bool timed_out = false;
	long left;

	might_sleep();
	init_completion(&w.done);

	spin_lock(&ldev->trap_lock);
	if (ldev->broken) {
		spin_unlock(&ldev->trap_lock);
		return -EIO;
	}
	w.id = ++ldev->next_id;
	list_add_tail(&w.node, &ldev->pending);
	spin_unlock(&ldev->trap_lock);
	wake_up_interruptible_poll(&ldev->readq, EPOLLIN | EPOLLRDNORM);

	left = wait_for_completion_killable_timeout(&w.done, timeout);

	spin_lock(&ldev->trap_lock);
	if (!w.finished) {
		/* Not answered in time: still on one of the lists. */
		list_del(&w.node);
		w.result = -EIO;
		timed_out = loopback_mark_broken(ldev);
	}
	spin_unlock(&ldev->trap_lock);

	if (timed_out) {
		if (left < 0)
			dev_warn(&ldev->parent,
				 "the task waiting for the %s of %s (offset 0x%03x) was killed: device broken\n",
				 op, loopback_reg_name(offset), offset);
		else
			dev_warn(&ldev->parent,
				 "no reply to the %s of %s (offset 0x%03x) within %u ms: device broken\n",
				 op, loopback_reg_name(offset), offset,
				 timeout_ms);
		loopback_after_break(ldev);
	}

	if (!w.result && !(flags & LOOPBACK_TRAP_WRITE))
		*data = w.data;
	return w.result;
}

static int loopback_reg_write(struct loopback_device *ldev, u32 offset,
			      u32 value)
{
	u64 data = value;

	return loopback_trap(ldev, offset, 4, LOOPBACK_TRAP_WRITE, &data);
}

/* True if user space can read() something. */
static bool loopback_readable(struct loopback_device *ldev)
{
	return !list_empty(&ldev->pending) ||
	       !bitmap_empty(ldev->kick_posted, ldev->num_queues);
}

/*
 * Takes up to @max messages for read(): posted kicks first, then traps,
 * which move to the awaited list.  Returns how many were stored in @out.
 */
static unsigned int loopback_take(struct loopback_device *ldev,
				  struct loopback_trap *out, unsigned int max)
{
	struct loopback_wait *w;
	unsigned int n = 0, q;

	lockdep_assert_held(&ldev->trap_lock);
	/*
	 * loopback_vq_notify() sets bits without trap_lock.  The fully
	 * ordered test_and_clear_bit() takes each kick once, and orders it
	 * before whatever user space reads in the ring afterwards (the
	 * driver's full barrier before its kick orders the ring first).
	 */
	for_each_set_bit(q, ldev->kick_posted, ldev->num_queues) {
		if (n == max)
			return n;
		if (!test_and_clear_bit(q, ldev->kick_posted))
			continue;
		out[n++] = (struct loopback_trap) {
			.id = ++ldev->next_id,
			.addr = LOOPBACK_REGS_BASE + VIRTIO_MMIO_QUEUE_NOTIFY,
			.data = q,
			.size = 4,
			.flags = LOOPBACK_TRAP_WRITE | LOOPBACK_TRAP_POSTED,
		};
	}
	while (n < max && !list_empty(&ldev->pending)) {
		w = list_first_entry(&ldev->pending, struct loopback_wait, node);
		list_move_tail(&w->node, &ldev->awaited);
		out[n++] = (struct loopback_trap) {
			.id = w->id,
			.addr = LOOPBACK_REGS_BASE + w->offset,
			.data = w->data,
			.size = w->size,
			.flags = w->flags,
		};
	}
	return n;
}

/* Gives back messages that could not be copied to user space. */
static void loopback_untake(struct loopback_device *ldev,
			    const struct loopback_trap *msgs, unsigned int n)
{
	struct loopback_wait *w;

	lockdep_assert_held(&ldev->trap_lock);
	if (ldev->broken)
		return;
	/* In reverse, so that the traps return to the head in order. */
	while (n--) {
		const struct loopback_trap *m = &msgs[n];

		if (m->flags & LOOPBACK_TRAP_POSTED) {
			set_bit(m->data, ldev->kick_posted);
			continue;
		}
		list_for_each_entry(w, &ldev->awaited, node) {
			if (w->id == m->id) {
				list_move(&w->node, &ldev->pending);
				break;
			}
		}
	}
}

#define LOOPBACK_READ_BATCH 8

/*
 * Copies @n messages to user space as records of ldev->trap_size bytes,
 * the bytes past struct loopback_trap zeroed.  0 or -EFAULT.
 */
static int loopback_copy_traps(struct loopback_device *ldev, char __user *buf,
			       const struct loopback_trap *msgs, unsigned int n)
{
	size_t rec = ldev->trap_size, tail = rec - sizeof(*msgs);
	unsigned int i;

	if (!tail)
		return copy_to_user(buf, msgs, n * rec) ? -EFAULT : 0;
	for (i = 0; i < n; i++, buf += rec) {
		if (copy_to_user(buf, &msgs[i], sizeof(*msgs)) ||
		    clear_user(buf + sizeof(*msgs), tail))
			return -EFAULT;
	}
	return 0;
}

ssize_t loopback_vdev_read(struct loopback_device *ldev, char __user *buf,
			   size_t count, bool nonblock)
{
	struct loopback_trap batch[LOOPBACK_READ_BATCH];
	size_t rec = ldev->trap_size;
	size_t max = count / rec;
	size_t done = 0;
	unsigned int n;
	int ret;

	if (max == 0)
		return -EINVAL;

	for (;;) {
		if (loopback_vdev_broken(ldev))
			return -EIO;
		spin_lock(&ldev->trap_lock);
		n = loopback_take(ldev, batch, min_t(size_t, max - done,
						     LOOPBACK_READ_BATCH));
		spin_unlock(&ldev->trap_lock);
		if (n)
			break;
		/* Removed: no trap can come any more. */
		if (loopback_vdev_removed(ldev))
			return 0;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(ldev->readq,
					       loopback_readable(ldev) ||
					       loopback_vdev_broken(ldev) ||
					       loopback_vdev_removed(ldev));
		if (ret)
			return ret;
	}

	for (;;) {
		if (loopback_copy_traps(ldev, buf + done * rec, batch, n)) {
			spin_lock(&ldev->trap_lock);
			loopback_untake(ldev, batch, n);
			spin_unlock(&ldev->trap_lock);
			if (!done)
				return -EFAULT;
			break;
		}
		done += n;
		if (done == max)
			break;
		spin_lock(&ldev->trap_lock);
		n = loopback_take(ldev, batch, min_t(size_t, max - done,
						     LOOPBACK_READ_BATCH));
		spin_unlock(&ldev->trap_lock);
		if (!n)
			break;
	}
	return done * rec;
}

/* Completes the awaited trap that @reply answers. */
static int loopback_reply(struct loopback_device *ldev,
			  const struct loopback_reply *reply)
{
	struct loopback_wait *w;
	int ret = -ENOENT;

	if (reply->flags || reply->reserved)
		return -EINVAL;

	spin_lock(&ldev->trap_lock);
	if (ldev->broken) {
		ret = -EIO;
		goto out;
	}
	list_for_each_entry(w, &ldev->awaited, node) {
		if (w->id != reply->id)
			continue;
		if (w->flags & LOOPBACK_TRAP_WRITE) {
			if (reply->data) {
				ret = -EINVAL;
				goto out;
			}
		} else {
			w->data = reply->data;
			if (w->size < 8)
				w->data &= BIT_ULL(w->size * 8) - 1;
		}
		loopback_wait_finish(ldev, w, 0);
		ret = 0;
		break;
	}
out:
	spin_unlock(&ldev->trap_lock);
	return ret;
}

ssize_t loopback_vdev_write(struct loopback_device *ldev,
			    const char __user *buf, size_t count)
{
	struct loopback_reply reply;
	size_t i, n = count / sizeof(reply);
	int ret = 0;

	if (n == 0 || count % sizeof(reply))
		return -EINVAL;
	if (loopback_vdev_broken(ldev))
		return -EIO;

	for (i = 0; i < n; i++) {
		if (copy_from_user(&reply, buf + i * sizeof(reply),
				   sizeof(reply))) {
			ret = -EFAULT;
			break;
		}
		ret = loopback_reply(ldev, &reply);
		if (ret)
			break;
	}
	/* The bytes of the records consumed, or the first record's error. */
	return i ? i * sizeof(reply) : ret;
}

__poll_t loopback_vdev_poll(struct loopback_device *ldev, struct file *file,
			    struct poll_table_struct *wait)
{
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &ldev->readq, wait);
	if (loopback_vdev_broken(ldev))
		return EPOLLERR |
		       (loopback_vdev_removed(ldev) ? EPOLLHUP : 0);
	if (loopback_readable(ldev))
		mask |= EPOLLIN | EPOLLRDNORM;
	else if (loopback_vdev_removed(ldev))
		mask |= EPOLLHUP;
	return mask;
}

/* ---- kicks ---- */

/*
 * Signals the ioeventfd bound to queue @q; false if there is none.  With
 * !@in_place (inside an eventfd wake-up) the signal is left to kick_work.
 */
static bool loopback_kick_ioeventfd(struct loopback_device *ldev,
				    unsigned int q, bool in_place)
{
	struct loopback_ioeventfd_entry *e;
	bool found = false;

	rcu_read_lock();
	list_for_each_entry_rcu(e, &ldev->ioeventfds, node) {
		if (!e->wildcard && e->datamatch != q)
			continue;
		found = true;
		if (in_place) {
			loopback_eventfd_signal(e->ctx);
		} else {
			set_bit(q, ldev->kick_deferred);
			queue_work(loopback_wq, &ldev->kick_work);
		}
		break;
	}
	rcu_read_unlock();
	return found;
}

/*
 * virtqueue notify: may run in atomic context, even in hard-IRQ context
 * from a driver's callback.  Never sleeps, allocates or waits.
 */
static bool loopback_vq_notify(struct virtqueue *vq)
{
	struct loopback_device *ldev = to_ldev(vq->vdev);
	unsigned int q = vq->index;

	loopback_fail_track(ldev, q);
	/*
	 * Store-buffer pattern with a break: the driver stored avail->idx,
	 * this loads ->broken; loopback_fail_takeover() stores ->broken and
	 * then loads avail->idx.  Pairs with the smp_mb() there: either this
	 * sees the device broken and fails the buffer itself, or the
	 * takeover sees the new index.  Without both barriers each side
	 * could miss the other's store and the buffer would wait forever.
	 */
	smp_mb();
	/*
	 * Not false, which would break the queue and hide the completions
	 * the kernel writes for the broken device.
	 */
	if (loopback_vdev_broken(ldev)) {
		loopback_fail_kick(ldev, q);
		return true;
	}
	if (loopback_kick_ioeventfd(ldev, q,
				    loopback_eventfd_signal_allowed()))
		return true;
	set_bit(q, ldev->kick_posted);
	wake_up_interruptible_poll(&ldev->readq, EPOLLIN | EPOLLRDNORM);
	return true;
}

static void loopback_kick_work(struct work_struct *work)
{
	struct loopback_device *ldev =
		container_of(work, struct loopback_device, kick_work);
	unsigned int q;

	for_each_set_bit(q, ldev->kick_deferred, ldev->num_queues) {
		if (!test_and_clear_bit(q, ldev->kick_deferred))
			continue;
		if (loopback_kick_ioeventfd(ldev, q, true))
			continue;
		/* Unbound meanwhile: report it as a posted trap. */
		set_bit(q, ldev->kick_posted);
		wake_up_interruptible_poll(&ldev->readq, EPOLLIN | EPOLLRDNORM);
	}
}

/* ---- interrupts ---- */

static void loopback_vq_deliver(struct loopback_vq *lvq)
{
	unsigned long flags;

	spin_lock_irqsave(&lvq->lock, flags);
	/* What the device returned is accounted before the driver sees it. */
	if (lvq->vq && !lvq->quiesced &&
	    loopback_fail_deliver(lvq->ldev, lvq->vq->index))
		vring_interrupt(0, lvq->vq);
	spin_unlock_irqrestore(&lvq->lock, flags);
}

static void loopback_vq_irq(struct irq_work *work)
{
	loopback_vq_deliver(container_of(work, struct loopback_vq, irq));
}

static void loopback_vq_irq_later(struct work_struct *work)
{
	loopback_vq_deliver(container_of(work, struct loopback_vq,
					 irq_later));
}

static void loopback_vq_yield(struct callback_head *head)
{
	struct loopback_vq *lvq = container_of(head, struct loopback_vq, yield);

	clear_bit(0, &lvq->yield_queued);
	yield();
	loopback_dev_put_released(lvq->ldev);
}

/*
 * After an irqfd signal whose interrupt runs at once, the signalling task
 * yields the CPU once, on its way back to user space.  The interrupt woke
 * the driver's side (the task that waits for the request, say), which then
 * runs before the device process goes back to sleep: its next request's
 * kick finds the device process runnable instead of having to wake it.
 * VDUSE gets that order from its interrupt worker, which preempts the
 * device process.  Without another runnable task the yield does nothing.
 * It is an ordering hint, not a way to wait: nothing depends on it.  Only
 * a user task runs the work, and a task that signals again before it ran
 * queues nothing more.
 */
static void loopback_vq_yield_later(struct loopback_device *ldev,
				    unsigned int q)
{
	struct loopback_vq *lvq = &ldev->vqs[q];

	if (in_interrupt() ||
	    (current->flags & (LOOPBACK_PF_NO_RESUME | PF_EXITING)) ||
	    test_and_set_bit(0, &lvq->yield_queued))
		return;
	kref_get(&ldev->kref);
	if (task_work_add(current, &lvq->yield, TWA_RESUME)) {
		clear_bit(0, &lvq->yield_queued);
		loopback_dev_put(ldev);
	}
}

static void loopback_config_irq(struct irq_work *work)
{
	struct loopback_device *ldev =
		container_of(work, struct loopback_device, config_irq);
	unsigned long flags;

	spin_lock_irqsave(&ldev->irq_lock, flags);
	if (ldev->vdev_live)
		virtio_config_changed(&ldev->vdev);
	else
		ldev->config_irq_pending = true;
	spin_unlock_irqrestore(&ldev->irq_lock, flags);
}

/* Raises the interrupt of irqfd slot @slot; any context, never sleeps. */
static void loopback_raise(struct loopback_device *ldev, unsigned int slot)
{
	if (slot < ldev->num_queues)
		irq_work_queue(&ldev->vqs[slot].irq);
	else
		irq_work_queue(&ldev->config_irq);
}

void loopback_vdev_raise_queue(struct loopback_device *ldev, unsigned int q)
{
	irq_work_queue(&ldev->vqs[q].irq);
}

/*
 * Waits for the interrupts in flight.  New ones may be raised meanwhile;
 * callers make sure those find nothing to call.
 */
void loopback_vdev_sync_irqs(struct loopback_device *ldev)
{
	unsigned int i;

	for (i = 0; i < ldev->num_queues; i++) {
		flush_work(&ldev->vqs[i].irq_later);
		irq_work_sync(&ldev->vqs[i].irq);
	}
	irq_work_sync(&ldev->config_irq);
}

/* Maps a uapi queue index (or LOOPBACK_CONFIG_IRQ) to an irqfd slot. */
static int loopback_irq_slot(struct loopback_device *ldev, u32 queue)
{
	if (queue == LOOPBACK_CONFIG_IRQ)
		return ldev->num_queues;
	if (queue >= ldev->num_queues)
		return -EINVAL;
	return array_index_nospec(queue, ldev->num_queues);
}

int loopback_vdev_interrupt(struct loopback_device *ldev,
			    const struct loopback_interrupt *arg)
{
	int slot;

	if (arg->reserved)
		return -EINVAL;
	slot = loopback_irq_slot(ldev, arg->queue);
	if (slot < 0)
		return slot;
	loopback_raise(ldev, slot);
	return 0;
}

/* ---- irqfd ---- */

static void loopback_irqfd_free(struct loopback_irqfd_entry *irqfd)
{
	u64 cnt;

	/* Waits for a wake-up in progress; none can start after it. */
	eventfd_ctx_remove_wait_queue(irqfd->ctx, &irqfd->wait, &cnt);
	eventfd_ctx_put(irqfd->ctx);
	kfree(irqfd);
}

static void loopback_irqfd_shutdown(struct work_struct *work)
{
	struct loopback_irqfd_entry *irqfd =
		container_of(work, struct loopback_irqfd_entry, shutdown);
	struct loopback_device *ldev = irqfd->ldev;

	loopback_irqfd_free(irqfd);
	/* Taken when the EPOLLHUP queued this work. */
	loopback_dev_put(ldev);
}

/*
 * Wake-up of the eventfd: runs under its wait-queue lock with IRQs off,
 * possibly in hard-IRQ context.  Consumes the count and raises the
 * interrupt; on EPOLLHUP (the eventfd is being closed) hands the binding
 * to a work item, since removing it here would take the same lock.
 */
static int loopback_irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode,
				 int sync, void *key)
{
	struct loopback_irqfd_entry *irqfd =
		container_of(wait, struct loopback_irqfd_entry, wait);
	struct loopback_device *ldev = irqfd->ldev;
	__poll_t events = key_to_poll(key);

	if (events & EPOLLIN) {
		u64 cnt;

		eventfd_ctx_do_read(irqfd->ctx, &cnt);
		/*
		 * Run at once, the interrupt would take one completion inside
		 * the device's write and re-arm the driver's used_event: each
		 * completion of a batch would cost the device a signal and the
		 * driver an interrupt.  While the device still holds buffers,
		 * the driver's callback waits for a worker instead, as VDUSE's
		 * does: the device finishes its batch unsignalled, the driver
		 * takes it in one call.  The last buffer's interrupt (QD1's
		 * every one) goes at once.
		 */
		if (irqfd->slot >= ldev->num_queues) {
			loopback_raise(ldev, irqfd->slot);
		} else if (loopback_fail_busy(ldev, irqfd->slot)) {
			queue_work(loopback_irq_wq,
				   &ldev->vqs[irqfd->slot].irq_later);
		} else {
			loopback_raise(ldev, irqfd->slot);
			loopback_vq_yield_later(ldev, irqfd->slot);
		}
	}
	if (events & EPOLLHUP) {
		spin_lock(&ldev->irqfd_lock);
		if (ldev->irqfds[irqfd->slot] == irqfd) {
			ldev->irqfds[irqfd->slot] = NULL;
			kref_get(&ldev->kref);
			queue_work(loopback_wq, &irqfd->shutdown);
		}
		spin_unlock(&ldev->irqfd_lock);
	}
	return 0;
}

static void loopback_irqfd_queue_proc(struct file *file,
				      wait_queue_head_t *wqh, poll_table *pt)
{
	struct loopback_irqfd_entry *irqfd =
		container_of(pt, struct loopback_irqfd_entry, pt);

	add_wait_queue(wqh, &irqfd->wait);
}

static int loopback_irqfd_assign(struct loopback_device *ldev,
				 unsigned int slot, struct file *file,
				 struct eventfd_ctx *ctx)
{
	struct loopback_irqfd_entry *irqfd;
	__poll_t events;
	int ret = 0;

	lockdep_assert_held(&ldev->fd_lock);
	irqfd = kzalloc(sizeof(*irqfd), GFP_KERNEL);
	if (!irqfd)
		return -ENOMEM;
	irqfd->ldev = ldev;
	irqfd->ctx = ctx;
	irqfd->slot = slot;
	INIT_WORK(&irqfd->shutdown, loopback_irqfd_shutdown);
	init_waitqueue_func_entry(&irqfd->wait, loopback_irqfd_wakeup);
	init_poll_funcptr(&irqfd->pt, loopback_irqfd_queue_proc);

	spin_lock_irq(&ldev->irqfd_lock);
	if (ldev->irqfds[slot])
		ret = -EEXIST;
	else
		ldev->irqfds[slot] = irqfd;
	spin_unlock_irq(&ldev->irqfd_lock);
	if (ret) {
		kfree(irqfd);
		return ret;
	}

	/* Our file reference keeps EPOLLHUP away until this returns. */
	events = vfs_poll(file, &irqfd->pt);
	if (events & EPOLLIN)
		loopback_raise(ldev, slot);
	return 0;
}

static int loopback_irqfd_deassign(struct loopback_device *ldev,
				   unsigned int slot, struct eventfd_ctx *ctx)
{
	struct loopback_irqfd_entry *irqfd;

	lockdep_assert_held(&ldev->fd_lock);
	/* While in its slot, the binding cannot be freed by EPOLLHUP. */
	spin_lock_irq(&ldev->irqfd_lock);
	irqfd = ldev->irqfds[slot];
	if (irqfd && irqfd->ctx == ctx)
		ldev->irqfds[slot] = NULL;
	else
		irqfd = NULL;
	spin_unlock_irq(&ldev->irqfd_lock);

	if (!irqfd)
		return -ENOENT;
	loopback_irqfd_free(irqfd);
	return 0;
}

int loopback_vdev_irqfd(struct loopback_device *ldev,
			const struct loopback_irqfd *arg)
{
	struct eventfd_ctx *ctx;
	struct file *file;
	int slot, ret;

	if (arg->flags & ~LOOPBACK_IRQFD_DEASSIGN || arg->reserved)
		return -EINVAL;
	slot = loopback_irq_slot(ldev, arg->queue);
	if (slot < 0)
		return slot;

	file = eventfd_fget(arg->fd);
	if (IS_ERR(file))
		return PTR_ERR(file);
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx)) {
		ret = PTR_ERR(ctx);
		goto out_fput;
	}

	mutex_lock(&ldev->fd_lock);
	if (arg->flags & LOOPBACK_IRQFD_DEASSIGN)
		ret = loopback_irqfd_deassign(ldev, slot, ctx);
	else
		ret = loopback_irqfd_assign(ldev, slot, file, ctx);
	mutex_unlock(&ldev->fd_lock);

	/* On success the binding keeps the reference it was given. */
	if (ret || (arg->flags & LOOPBACK_IRQFD_DEASSIGN))
		eventfd_ctx_put(ctx);
out_fput:
	fput(file);
	return ret;
}

static void loopback_irqfd_release_all(struct loopback_device *ldev)
{
	struct loopback_irqfd_entry *irqfd;
	unsigned int slot;

	mutex_lock(&ldev->fd_lock);
	for (slot = 0; slot <= ldev->num_queues; slot++) {
		spin_lock_irq(&ldev->irqfd_lock);
		irqfd = ldev->irqfds[slot];
		ldev->irqfds[slot] = NULL;
		spin_unlock_irq(&ldev->irqfd_lock);
		if (irqfd)
			loopback_irqfd_free(irqfd);
	}
	mutex_unlock(&ldev->fd_lock);
}

/* ---- ioeventfd ---- */

int loopback_vdev_ioeventfd(struct loopback_device *ldev,
			    const struct loopback_ioeventfd *arg)
{
	const u32 known = LOOPBACK_IOEVENTFD_DATAMATCH |
			  LOOPBACK_IOEVENTFD_DEASSIGN;
	bool wildcard = !(arg->flags & LOOPBACK_IOEVENTFD_DATAMATCH);
	struct loopback_ioeventfd_entry *e, *found = NULL;
	struct eventfd_ctx *ctx;
	int ret = 0;

	if (arg->flags & ~known || arg->reserved)
		return -EINVAL;
	if (arg->addr != LOOPBACK_REGS_BASE + VIRTIO_MMIO_QUEUE_NOTIFY)
		return -EINVAL;
	if (arg->len != 0 && arg->len != 4)
		return -EINVAL;
	if (wildcard ? arg->datamatch != 0 : arg->datamatch >= ldev->num_queues)
		return -EINVAL;

	ctx = eventfd_ctx_fdget(arg->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	mutex_lock(&ldev->fd_lock);
	list_for_each_entry(e, &ldev->ioeventfds, node) {
		if (arg->flags & LOOPBACK_IOEVENTFD_DEASSIGN) {
			if (e->ctx == ctx && e->len == arg->len &&
			    e->wildcard == wildcard &&
			    e->datamatch == arg->datamatch) {
				found = e;
				break;
			}
		} else if (e->wildcard || wildcard ||
			   e->datamatch == arg->datamatch) {
			/* Every kick is 4 bytes: any len overlaps. */
			ret = -EEXIST;
			break;
		}
	}

	if (arg->flags & LOOPBACK_IOEVENTFD_DEASSIGN) {
		if (found)
			list_del_rcu(&found->node);
		else
			ret = -ENOENT;
	} else if (!ret) {
		e = kzalloc(sizeof(*e), GFP_KERNEL);
		if (e) {
			e->ctx = ctx;
			e->len = arg->len;
			e->wildcard = wildcard;
			e->datamatch = arg->datamatch;
			list_add_tail_rcu(&e->node, &ldev->ioeventfds);
			ctx = NULL;	/* the binding keeps the reference */
		} else {
			ret = -ENOMEM;
		}
	}
	mutex_unlock(&ldev->fd_lock);

	if (found) {
		/* Kicks and kick_work look entries up under RCU. */
		synchronize_rcu();
		eventfd_ctx_put(found->ctx);
		kfree(found);
	}
	if (ctx)
		eventfd_ctx_put(ctx);
	return ret;
}

static void loopback_ioeventfd_release_all(struct loopback_device *ldev)
{
	struct loopback_ioeventfd_entry *e, *tmp;
	LIST_HEAD(dead);

	mutex_lock(&ldev->fd_lock);
	/* Waits for a grace period before it touches the entries. */
	list_splice_init_rcu(&ldev->ioeventfds, &dead, synchronize_rcu);
	mutex_unlock(&ldev->fd_lock);

	list_for_each_entry_safe(e, tmp, &dead, node) {
		eventfd_ctx_put(e->ctx);
		kfree(e);
	}
}

/* ---- config space ---- */

int loopback_vdev_set_config(struct loopback_device *ldev,
			     const struct loopback_config *arg)
{
	unsigned long flags;
	void *buf = NULL;

	if (arg->flags & ~LOOPBACK_CONFIG_NOTIFY || arg->reserved)
		return -EINVAL;
	if (arg->length > ldev->config_size ||
	    arg->offset > ldev->config_size - arg->length)
		return -EINVAL;

	if (arg->length) {
		buf = memdup_user(u64_to_user_ptr(arg->data), arg->length);
		if (IS_ERR(buf))
			return PTR_ERR(buf);
	}

	spin_lock_irqsave(&ldev->config_lock, flags);
	if (arg->length)
		memcpy(ldev->config + arg->offset, buf, arg->length);
	ldev->generation++;
	spin_unlock_irqrestore(&ldev->config_lock, flags);
	kfree(buf);

	if (arg->flags & LOOPBACK_CONFIG_NOTIFY)
		irq_work_queue(&ldev->config_irq);
	return 0;
}

/* ---- virtio_config_ops ---- */

/*
 * 6.1's virtio_net acts on VIRTIO_NET_S_ANNOUNCE in the status field
 * whenever it negotiated VIRTIO_NET_F_STATUS, and acknowledges it on the
 * control queue: without one, virtnet_send_command() BUG()s.  A network
 * device without a control queue cannot ask for an announcement, so its
 * driver never reads that bit set.
 */
static void loopback_config_filter(struct loopback_device *ldev,
				   unsigned int offset, u8 *buf, unsigned int n)
{
	const unsigned int at = offsetof(struct virtio_net_config, status);

	if (ldev->device_id != VIRTIO_ID_NET ||
	    (ldev->features & BIT_ULL(VIRTIO_NET_F_CTRL_VQ)))
		return;
	/* le16: the bit is in the low byte */
	if (offset <= at && at < offset + n)
		buf[at - offset] &= ~VIRTIO_NET_S_ANNOUNCE;
}

/*
 * Config reads come from the kernel's copy; bytes beyond it read as 0.
 * A block device's seg_max reads as what its window can take.
 */
static void loopback_vdev_get(struct virtio_device *vdev, unsigned int offset,
			      void *buf, unsigned int len)
{
	struct loopback_device *ldev = to_ldev(vdev);
	unsigned int n = 0;
	unsigned long flags;

	if (offset < ldev->config_size)
		n = min(len, ldev->config_size - offset);
	if (n) {
		spin_lock_irqsave(&ldev->config_lock, flags);
		memcpy(buf, ldev->config + offset, n);
		loopback_blk_get_config(ldev, offset, buf, n);
		spin_unlock_irqrestore(&ldev->config_lock, flags);
		loopback_config_filter(ldev, offset, buf, n);
	}
	memset(buf + n, 0, len - n);
}

/* One config write trap of @size bytes (1, 2, 4 or 8) from @src. */
static void loopback_config_trap(struct loopback_device *ldev,
				 unsigned int offset, const void *src,
				 unsigned int size)
{
	__le64 v = 0;
	u64 data;

	/* Config space is little endian: byte 0 is the low byte. */
	memcpy(&v, src, size);
	data = le64_to_cpu(v);
	loopback_trap(ldev, VIRTIO_MMIO_CONFIG + offset, size,
		      LOOPBACK_TRAP_WRITE, &data);
}

/* Config writes update the kernel's copy and trap. */
static void loopback_vdev_set(struct virtio_device *vdev, unsigned int offset,
			      const void *buf, unsigned int len)
{
	struct loopback_device *ldev = to_ldev(vdev);
	unsigned int i, n = 0;
	unsigned long flags;

	if (offset < ldev->config_size)
		n = min(len, ldev->config_size - offset);
	if (n) {
		spin_lock_irqsave(&ldev->config_lock, flags);
		memcpy(ldev->config + offset, buf, n);
		spin_unlock_irqrestore(&ldev->config_lock, flags);
	}

	if (len == 1 || len == 2 || len == 4 || len == 8) {
		loopback_config_trap(ldev, offset, buf, len);
		return;
	}
	for (i = 0; i < len; i++)
		loopback_config_trap(ldev, offset + i, buf + i, 1);
}

static u32 loopback_vdev_generation(struct virtio_device *vdev)
{
	struct loopback_device *ldev = to_ldev(vdev);
	unsigned long flags;
	u32 gen;

	spin_lock_irqsave(&ldev->config_lock, flags);
	gen = ldev->generation;
	spin_unlock_irqrestore(&ldev->config_lock, flags);
	return gen;
}

/*
 * The device may clear FEATURES_OK (refusing the features) or add
 * NEEDS_RESET, nothing else: after a reset it reads 0, it never claims
 * DRIVER_OK before the driver set it (the virtio core BUG()s on that), and
 * it cannot take DRIVER_OK back either: virtio_dev_probe() reads the status
 * after the driver's probe and calls virtio_device_ready() if DRIVER_OK is
 * missing, which WARNs when the next read shows it.  A broken device reads
 * NEEDS_RESET without FEATURES_OK, so that a probe fails, and still 0 after
 * a reset, as the core expects on removal.
 */
static u8 loopback_vdev_get_status(struct virtio_device *vdev)
{
	struct loopback_device *ldev = to_ldev(vdev);
	u8 status = READ_ONCE(ldev->status);
	u64 data;

	if (!status)
		return 0;
	if (loopback_trap(ldev, VIRTIO_MMIO_STATUS, 4, 0, &data))
		return (status & ~VIRTIO_CONFIG_S_FEATURES_OK) |
		       VIRTIO_CONFIG_S_NEEDS_RESET;
	return (data & (status | VIRTIO_CONFIG_S_NEEDS_RESET)) |
	       (status & ~VIRTIO_CONFIG_S_FEATURES_OK);
}

/*
 * Lets queue interrupts reach a driver that set DRIVER_OK, and delivers
 * what the device completed before: a driver that added buffers early
 * (the spec does not forbid it) still gets its callback.
 */
static void loopback_vdev_unquiesce(struct loopback_device *ldev)
{
	struct loopback_vq *lvq;
	unsigned long flags;
	unsigned int i;
	bool raise;

	for (i = 0; i < ldev->num_queues; i++) {
		lvq = &ldev->vqs[i];
		spin_lock_irqsave(&lvq->lock, flags);
		raise = lvq->vq && lvq->quiesced;
		lvq->quiesced = false;
		spin_unlock_irqrestore(&lvq->lock, flags);
		if (raise)
			loopback_vdev_raise_queue(ldev, i);
	}
}

static void loopback_vdev_set_status(struct virtio_device *vdev, u8 status)
{
	struct loopback_device *ldev = to_ldev(vdev);

	WRITE_ONCE(ldev->status, status);
	loopback_reg_write(ldev, VIRTIO_MMIO_STATUS, status);
	/*
	 * Until DRIVER_OK a callback may find the driver half set up:
	 * virtio-rng's has no queue pointer until find_vqs() returns, and a
	 * device can return a used entry in between.  virtio_ring's own
	 * guard (VIRTIO_HARDEN_NOTIFICATION) is not built in Debian's
	 * kernels.  Whatever the write's outcome: a broken device's buffers
	 * are failed through these interrupts.
	 */
	if (status & VIRTIO_CONFIG_S_DRIVER_OK)
		loopback_vdev_unquiesce(ldev);
}

/*
 * After a reset the driver may free what its callbacks use, as it may
 * after virtio-pci's reset, which ends by waiting for its interrupt
 * handlers.  So no queue interrupt reaches the driver from the moment the
 * reset starts until it sets DRIVER_OK again, whatever raises it (an
 * irqfd, LOOPBACK_DEV_INTERRUPT, the failing device), and the interrupts
 * already on their way have run when this returns.
 */
static void loopback_vdev_reset(struct virtio_device *vdev)
{
	struct loopback_device *ldev = to_ldev(vdev);
	unsigned long flags;
	unsigned int i;

	WRITE_ONCE(ldev->status, 0);
	bitmap_zero(ldev->kick_posted, LOOPBACK_MAX_QUEUES);
	for (i = 0; i < ldev->num_queues; i++) {
		spin_lock_irqsave(&ldev->vqs[i].lock, flags);
		ldev->vqs[i].quiesced = true;
		spin_unlock_irqrestore(&ldev->vqs[i].lock, flags);
	}
	/* The reply says the reset is complete. */
	loopback_reg_write(ldev, VIRTIO_MMIO_STATUS, 0);
	loopback_vdev_sync_irqs(ldev);
	loopback_window_reset(ldev->window);
	/* A reset device holds nothing, and the kernel fails nothing more. */
	for (i = 0; i < ldev->num_queues; i++)
		loopback_fail_ring_stop(ldev, i);
}

static u64 loopback_vdev_get_features(struct virtio_device *vdev)
{
	return to_ldev(vdev)->features;
}

/*
 * Transport features this transport implements, on top of what the ring
 * code keeps: not NOTIFICATION_DATA (a kick carries the queue index only),
 * RING_RESET (no per-queue reset), RING_PACKED (the kernel fails the
 * buffers of a dead device through split rings only), IN_ORDER (one used
 * entry may then stand for several heads, which the kernel's account of
 * what the device holds cannot follow; 6.1's and 6.12's ring code clear it
 * anyway), SR_IOV or anything newer.
 */
#define LOOPBACK_TRANSPORT_FEATURES					\
	(BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |				\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |				\
	 BIT_ULL(VIRTIO_F_VERSION_1) |					\
	 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |				\
	 BIT_ULL(VIRTIO_F_ORDER_PLATFORM))

static int loopback_vdev_finalize_features(struct virtio_device *vdev)
{
	struct loopback_device *ldev = to_ldev(vdev);
	unsigned int i;
	int ret;

	vring_transport_features(vdev);
	for (i = VIRTIO_TRANSPORT_F_START; i < VIRTIO_TRANSPORT_F_END; i++)
		if (!(LOOPBACK_TRANSPORT_FEATURES & BIT_ULL(i)))
			__virtio_clear_bit(vdev, i);

	/* Modern only, and always through the DMA API (the window). */
	if (!__virtio_test_bit(vdev, VIRTIO_F_VERSION_1) ||
	    !__virtio_test_bit(vdev, VIRTIO_F_ACCESS_PLATFORM)) {
		dev_err(&ldev->parent,
			"the driver must accept VERSION_1 and ACCESS_PLATFORM\n");
		return -EINVAL;
	}

	mutex_lock(&ldev->sel_lock);
	ret = loopback_reg_write(ldev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	if (!ret)
		ret = loopback_reg_write(ldev, VIRTIO_MMIO_DRIVER_FEATURES,
					 upper_32_bits(vdev->features));
	if (!ret)
		ret = loopback_reg_write(ldev, VIRTIO_MMIO_DRIVER_FEATURES_SEL,
					 0);
	if (!ret)
		ret = loopback_reg_write(ldev, VIRTIO_MMIO_DRIVER_FEATURES,
					 lower_32_bits(vdev->features));
	mutex_unlock(&ldev->sel_lock);
	return ret;
}

/* The queue-setup writes for queue @index, then QueueReady = 1. */
static int loopback_vq_activate(struct loopback_device *ldev,
				unsigned int index, struct virtqueue *vq)
{
	const struct {
		u32 low, high;
		dma_addr_t addr;
	} regs[] = {
		{ VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH,
		  virtqueue_get_desc_addr(vq) },
		{ VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
		  virtqueue_get_avail_addr(vq) },
		{ VIRTIO_MMIO_QUEUE_USED_LOW, VIRTIO_MMIO_QUEUE_USED_HIGH,
		  virtqueue_get_used_addr(vq) },
	};
	unsigned int i;
	int ret;

	lockdep_assert_held(&ldev->sel_lock);
	ret = loopback_reg_write(ldev, VIRTIO_MMIO_QUEUE_SEL, index);
	if (ret)
		return ret;
	ret = loopback_reg_write(ldev, VIRTIO_MMIO_QUEUE_NUM,
				 virtqueue_get_vring_size(vq));
	for (i = 0; !ret && i < ARRAY_SIZE(regs); i++) {
		ret = loopback_reg_write(ldev, regs[i].low,
					 lower_32_bits(regs[i].addr));
		if (!ret)
			ret = loopback_reg_write(ldev, regs[i].high,
						 upper_32_bits(regs[i].addr));
	}
	if (!ret)
		ret = loopback_reg_write(ldev, VIRTIO_MMIO_QUEUE_READY, 1);
	return ret;
}

/*
 * The ring of @vq as vring_create_virtqueue() laid it out with a page as
 * vring_align: descriptor table and available ring on the first pages of
 * the allocation, the used ring from the next page boundary to the end.
 * The allocation is read-only to user space (ring mode); this makes the
 * used ring's pages writable, after checking that they hold nothing else.
 */
static int loopback_vq_protect(struct loopback_device *ldev,
			       struct virtqueue *vq)
{
	u64 num = virtqueue_get_vring_size(vq);
	dma_addr_t desc = virtqueue_get_desc_addr(vq);
	dma_addr_t avail = virtqueue_get_avail_addr(vq);
	dma_addr_t used = virtqueue_get_used_addr(vq);
	u64 avail_end = avail + struct_size_t(struct vring_avail, ring, num) +
			sizeof(__virtio16);
	u64 used_len = struct_size_t(struct vring_used, ring, num) +
		       sizeof(__virtio16);

	if (WARN_ON_ONCE(!PAGE_ALIGNED(desc) || !PAGE_ALIGNED(used) ||
			 avail != desc + num * sizeof(struct vring_desc) ||
			 avail_end > used))
		return -EINVAL;
	return loopback_window_set_ro(ldev->window, used, used_len, false);
}

struct virtqueue *loopback_vdev_setup_vq(struct virtio_device *vdev,
					 unsigned int index,
					 vq_callback_t *callback,
					 const char *name, bool ctx)
{
	struct loopback_device *ldev = to_ldev(vdev);
	struct loopback_vq *lvq;
	struct virtqueue *vq;
	unsigned long flags;
	int ret;

	if (index >= ldev->num_queues)
		return ERR_PTR(-ENOENT);
	lvq = &ldev->vqs[index];
	if (lvq->vq)
		return ERR_PTR(-EBUSY);
	if (loopback_vdev_broken(ldev))
		return ERR_PTR(-EIO);

	/*
	 * The ring lives in the window: the parent's DMA ops allocate it, in
	 * ring mode.  Aligned to a page, the used ring starts on a page of
	 * its own: only those pages become writable to the device.
	 */
	loopback_window_ring_alloc(ldev->window, true);
	vq = vring_create_virtqueue(index, ldev->max_queue_size, PAGE_SIZE,
				    vdev, true, true, ctx, loopback_vq_notify,
				    callback, name);
	loopback_window_ring_alloc(ldev->window, false);
	if (!vq)
		return ERR_PTR(-ENOMEM);

	ret = loopback_vq_protect(ldev, vq);
	if (!ret) {
		mutex_lock(&ldev->sel_lock);
		ret = loopback_vq_activate(ldev, index, vq);
		mutex_unlock(&ldev->sel_lock);
	}
	if (ret) {
		vring_del_virtqueue(vq);
		return ERR_PTR(ret);
	}

	/* Quiet until DRIVER_OK: see loopback_vdev_set_status(). */
	spin_lock_irqsave(&lvq->lock, flags);
	lvq->vq = vq;
	lvq->quiesced = true;
	spin_unlock_irqrestore(&lvq->lock, flags);
	/* After @vq: failing the ring at once raises its interrupt. */
	loopback_fail_ring_start(ldev, index, vq);
	return vq;
}

void loopback_vdev_del_vqs(struct virtio_device *vdev)
{
	struct loopback_device *ldev = to_ldev(vdev);
	struct virtqueue *vq, *tmp;
	struct loopback_vq *lvq;
	unsigned long flags;

	list_for_each_entry_safe(vq, tmp, &vdev->vqs, list) {
		lvq = &ldev->vqs[vq->index];
		loopback_fail_ring_stop(ldev, vq->index);

		/* Failures are ignored: the queue goes away regardless. */
		mutex_lock(&ldev->sel_lock);
		if (!loopback_reg_write(ldev, VIRTIO_MMIO_QUEUE_SEL, vq->index))
			loopback_reg_write(ldev, VIRTIO_MMIO_QUEUE_READY, 0);
		mutex_unlock(&ldev->sel_lock);

		/* No vring_interrupt() on it after this. */
		spin_lock_irqsave(&lvq->lock, flags);
		lvq->vq = NULL;
		spin_unlock_irqrestore(&lvq->lock, flags);

		/*
		 * Buffers a driver leaves posted (virtio-rng's pending read,
		 * for one) still hold bounce pages of the window: detaching
		 * unmaps them.  The tokens stay the driver's.
		 */
		while (virtqueue_detach_unused_buf(vq))
			;
		vring_del_virtqueue(vq);
	}
}

/* Callbacks in progress finish; later ones see what was changed before. */
static void loopback_vdev_synchronize_cbs(struct virtio_device *vdev)
{
	struct loopback_device *ldev = to_ldev(vdev);
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < ldev->num_queues; i++) {
		spin_lock_irqsave(&ldev->vqs[i].lock, flags);
		spin_unlock_irqrestore(&ldev->vqs[i].lock, flags);
	}
	spin_lock_irqsave(&ldev->irq_lock, flags);
	spin_unlock_irqrestore(&ldev->irq_lock, flags);
}

static const char *loopback_vdev_bus_name(struct virtio_device *vdev)
{
	return to_ldev(vdev)->name;
}

static const struct virtio_config_ops loopback_vdev_config_ops = {
	.get = loopback_vdev_get,
	.set = loopback_vdev_set,
	.generation = loopback_vdev_generation,
	.get_status = loopback_vdev_get_status,
	.set_status = loopback_vdev_set_status,
	.reset = loopback_vdev_reset,
	.find_vqs = loopback_vdev_find_vqs,
	.del_vqs = loopback_vdev_del_vqs,
	.synchronize_cbs = loopback_vdev_synchronize_cbs,
	.get_features = loopback_vdev_get_features,
	.finalize_features = loopback_vdev_finalize_features,
	.bus_name = loopback_vdev_bus_name,
};

/* ---- the device's life ---- */

struct loopback_window *loopback_dma_dev_window(struct device *dma_dev)
{
	return container_of(dma_dev, struct loopback_device, parent)->window;
}

size_t loopback_dma_dev_max_mapping(struct device *dma_dev)
{
	return loopback_blk_max_mapping(container_of(dma_dev,
						     struct loopback_device,
						     parent));
}

void loopback_dma_dev_track(struct device *dma_dev)
{
	loopback_fail_track_map(container_of(dma_dev, struct loopback_device,
					     parent));
}

static void loopback_vdev_release(struct device *dev)
{
	struct virtio_device *vdev = dev_to_virtio(dev);

	/* Taken by loopback_register_work(). */
	loopback_dev_put_released(to_ldev(vdev));
}

static void loopback_register_work(struct work_struct *work)
{
	struct loopback_device *ldev =
		container_of(work, struct loopback_device, register_work);
	unsigned long flags;
	int ret;

	kref_get(&ldev->kref);	/* dropped by loopback_vdev_release() */
	ret = register_virtio_device(&ldev->vdev);
	if (ret) {
		dev_err(&ldev->parent,
			"registering the virtio device failed: %d\n", ret);
		put_device(&ldev->vdev.dev);
		return;
	}

	spin_lock_irqsave(&ldev->irq_lock, flags);
	ldev->vdev_live = true;
	if (ldev->config_irq_pending) {
		ldev->config_irq_pending = false;
		irq_work_queue(&ldev->config_irq);
	}
	spin_unlock_irqrestore(&ldev->irq_lock, flags);
	ldev->registered = true;
}

/* ---- orderly removal (LOOPBACK_DEV_REMOVE) ---- */

/* Removes the virtio device if it is registered: its driver's remove runs. */
static void loopback_vdev_unregister(struct loopback_device *ldev)
{
	unsigned long flags;

	if (!ldev->registered)
		return;
	spin_lock_irqsave(&ldev->irq_lock, flags);
	ldev->vdev_live = false;
	spin_unlock_irqrestore(&ldev->irq_lock, flags);
	unregister_virtio_device(&ldev->vdev);
	ldev->registered = false;
}

/*
 * The driver's remove runs here while user space still serves the device,
 * so that what it does on the way out (a disk's writeback) completes.
 */
static void loopback_remove_work(struct work_struct *work)
{
	struct loopback_device *ldev =
		container_of(work, struct loopback_device, remove_work);

	/* Asked for while the driver probes: the probe finishes first. */
	flush_work(&ldev->register_work);
	loopback_vdev_unregister(ldev);
	/* Either the timeout never breaks the device, or it has broken it. */
	cancel_delayed_work_sync(&ldev->remove_timeout);
	WRITE_ONCE(ldev->remove_state, LOOPBACK_REMOVE_DONE);
	wake_up_interruptible_poll(&ldev->readq, EPOLLHUP);
}

/*
 * The removal takes too long: break the device, which fails every trap
 * and buffer, so that the driver's remove finishes as on close().
 */
static void loopback_remove_timeout(struct work_struct *work)
{
	struct loopback_device *ldev =
		container_of(to_delayed_work(work), struct loopback_device,
			     remove_timeout);

	dev_warn(&ldev->parent,
		 "the driver's removal did not finish within %u ms: device broken\n",
		 ldev->remove_ms);
	loopback_vdev_break(ldev);
}

int loopback_vdev_remove(struct loopback_device *ldev,
			 const struct loopback_remove *arg)
{
	unsigned int ms;

	if (arg->flags || arg->reserved)
		return -EINVAL;
	if (cmpxchg(&ldev->remove_state, LOOPBACK_REMOVE_NONE,
		    LOOPBACK_REMOVE_RUNNING) != LOOPBACK_REMOVE_NONE)
		return -EALREADY;
	ms = arg->timeout_ms ?: READ_ONCE(loopback_trap_timeout_ms);
	ldev->remove_ms = ms;
	/* Not on loopback_ctl_wq: it ends a remove_work stuck there. */
	queue_delayed_work(loopback_wq, &ldev->remove_timeout,
			   msecs_to_jiffies(ms));
	queue_work(loopback_ctl_wq, &ldev->remove_work);
	return 0;
}

void loopback_vdev_init(struct loopback_device *ldev)
{
	unsigned int i;

	ldev->vdev.dev.parent = &ldev->parent;
	ldev->vdev.dev.release = loopback_vdev_release;
	ldev->vdev.id.device = ldev->device_id;
	ldev->vdev.id.vendor = ldev->vendor_id;
	ldev->vdev.config = &loopback_vdev_config_ops;

	spin_lock_init(&ldev->trap_lock);
	INIT_LIST_HEAD(&ldev->pending);
	INIT_LIST_HEAD(&ldev->awaited);
	init_waitqueue_head(&ldev->readq);
	INIT_WORK(&ldev->kick_work, loopback_kick_work);
	mutex_init(&ldev->sel_lock);
	spin_lock_init(&ldev->config_lock);
	spin_lock_init(&ldev->irq_lock);
	init_irq_work(&ldev->config_irq, loopback_config_irq);
	mutex_init(&ldev->fd_lock);
	INIT_LIST_HEAD(&ldev->ioeventfds);
	spin_lock_init(&ldev->irqfd_lock);
	INIT_WORK(&ldev->register_work, loopback_register_work);
	INIT_WORK(&ldev->remove_work, loopback_remove_work);
	INIT_DELAYED_WORK(&ldev->remove_timeout, loopback_remove_timeout);
	loopback_fail_init(ldev);

	for (i = 0; i < ldev->num_queues; i++) {
		spin_lock_init(&ldev->vqs[i].lock);
		init_irq_work(&ldev->vqs[i].irq, loopback_vq_irq);
		INIT_WORK(&ldev->vqs[i].irq_later, loopback_vq_irq_later);
		init_task_work(&ldev->vqs[i].yield, loopback_vq_yield);
		ldev->vqs[i].ldev = ldev;
	}
}

/* Registers the virtio device (and lets the driver probe) from a worker. */
void loopback_vdev_start(struct loopback_device *ldev)
{
	queue_work(loopback_ctl_wq, &ldev->register_work);
}

/*
 * Close or process death: break the device so that every trap fails at
 * once and the kernel fails every buffer, remove the virtio device (its
 * driver's remove path finds nothing in flight and fails fast), then drop
 * the eventfd bindings.  An orderly removal still running ends fast too.
 */
void loopback_vdev_stop(struct loopback_device *ldev)
{
	loopback_vdev_break(ldev);
	cancel_work_sync(&ldev->register_work);
	cancel_work_sync(&ldev->remove_work);
	cancel_delayed_work_sync(&ldev->remove_timeout);

	loopback_vdev_unregister(ldev);
	loopback_fail_sync(ldev);

	loopback_irqfd_release_all(ldev);
	/* No kicks after the removal: kick_work is the last user. */
	cancel_work_sync(&ldev->kick_work);
	loopback_ioeventfd_release_all(ldev);
}
