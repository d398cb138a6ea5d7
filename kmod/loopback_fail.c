// SPDX-License-Identifier: GPL-2.0-only
/*
 * loopback.ko: the failing device.
 *
 * When a device's owner goes away (its fd is closed, its process dies) or
 * is declared dead (a trap timed out), the kernel plays the device side of
 * every split ring itself, as a device that fails everything: each buffer
 * the driver made available and the device did not return comes back with
 * used length 0, and for a block device with VIRTIO_BLK_S_IOERR in its
 * status byte.  The driver completes its requests with an error, as it
 * would with real hardware that fails, and its remove path finds nothing
 * in flight.  virtio_break_device() could not do this: a broken queue
 * hides every later completion, and 6.1's virtio_blk waits in
 * del_gendisk() for requests only a completion ends.
 *
 * Which buffers the dead device still held, the kernel knows exactly: it
 * keeps its own account, per head, of how often the driver made it
 * available and the device returned it (struct loopback_ring.pending).
 * The account is exact because of two facts:
 *
 *  - the available ring and the descriptor table are read-only to the
 *    device (loopback_dma.c), so what they say is what the driver wrote;
 *  - the kernel reads them often enough that no entry is overwritten
 *    before it was counted.  virtio_ring DMA-maps every buffer (and every
 *    indirect table) through this module before it publishes its
 *    available entry, so each add finds the previous one published: the
 *    account is brought up to date at the first mapping after each add
 *    (loopback_fail_track_map()), every kick and every interrupt the
 *    kernel delivers.  A device that suppresses kicks and a driver that
 *    polls the used ring without interrupts change nothing: the mappings
 *    remain.
 *
 * Each update reads used->idx, then avail->idx, then the entries: every
 * used entry counted refers to a head made available no later than the
 * available entries counted with it, so an honest device never returns a
 * head the account does not hold.  A device that does (out of range,
 * never available, returned twice) is caught before the interrupt reaches
 * the driver and broken as if it died: once the window is revoked, the
 * kernel takes the ring over from the last used entry it verified,
 * writing over the bad ones, and fails the heads the device held like a
 * dead device's.  Not virtio_break_device(), for the reason above.
 *
 * What the driver may already have consumed does not matter: the driver
 * makes a head available again only after it took the head's used entry
 * off the used ring, and that entry is below used->idx, which the kernel
 * reads before the available index that shows the head again; so a head
 * the driver reused is counted once for its old life (made available and
 * returned) and once for its new one.  The used entries between what the
 * driver consumed and used->idx are completions the driver still reads;
 * the kernel appends after them.  (Between two updates a head may count
 * twice, when the device returned it after the kernel read used->idx and
 * the driver made it available again before the kernel read avail->idx;
 * the next update counts the return.)  At the takeover the dead device
 * writes no more, so used->idx is final: the account is brought up to
 * date one last time, and the heads still held are returned, each once,
 * in head order; the ones made available later come back from the
 * kicks.  A device completing out of order (io_uring, qemu-storage-daemon
 * above QD1) thus gets every request failed once, not a head twice.
 *
 * Limits, each falling back to the old rule (return avail[used->idx ..
 * avail->idx), exact for a device that completes in order, which QEMU
 * applies when a vhost back end's state is lost) with one line in the log:
 * buffers made available without a DMA mapping (6.12's premapped mode,
 * virtio_net's receive queues) can let the available ring run more than
 * half a ring ahead of the account, which then gives up on that ring
 * (65536 entries or more unseen would go unnoticed: the indices are 16
 * bits; virtio_net maps the page the buffers are cut from every few
 * buffers, and each such mapping brings the account up to date); and
 * without memory for the account there is none.
 *
 * A device may write over a used entry after the kernel counted it (at a
 * kick, say) and before the interrupt shows it to the driver: the driver
 * would then complete another head, or none, and virtio_ring breaks the
 * queue for good.  So the kernel keeps each entry as it counted it and
 * writes the ones not yet shown back just before it delivers an
 * interrupt, and at the takeover.  With one CPU nothing can come between
 * that and the driver's read; with more, a device writing in that short
 * window, or over entries a driver reads later than its interrupt (NAPI),
 * still can.  A process still mapping the window cannot
 * write the used ring once the kernel plays the device: the takeover
 * runs after every user mapping of the window was revoked (only a write
 * into a page pinned before, still in flight, can land).
 *
 * Like a real device, the kernel writes only what a device may write: the
 * used ring (elements, index, flags, avail_event) and, for a block
 * request, the status byte, the last byte of the chain's last, device-
 * writable descriptor.  The status byte lives in a bounce page of the
 * window; the driver's unmap copies it to the request.  Everything read
 * from the window is read once and checked: an index or address that does
 * not fit ends the kernel's work on that ring and breaks the device.
 *
 * Buffers made available later are returned from the kick, which the
 * kernel asks for by clearing used->flags and setting avail_event, since
 * the dead device may have suppressed kicks.  A kick may come in atomic
 * context; a pass returns a bounded number of buffers and leaves the rest
 * to a work item.
 */
#include <linux/bitops.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <linux/workqueue.h>

#include "loopback_priv.h"

/* Descriptors one pass may read, in whatever context it runs. */
#define LOOPBACK_FAIL_BUDGET	256

/* The longest indirect table the kernel walks (the driver's are small). */
#define LOOPBACK_FAIL_MAX_INDIRECT	4096

/* Why a ring a device played goes bad. */
static const char loopback_fail_unheld[] =
	"the device returned a buffer it did not hold";

/* fail_flags */
#define LOOPBACK_FAIL_BREAK	0	/* virtio_break_device(), then takeover */
#define LOOPBACK_FAIL_TAKEOVER	1	/* the takeover alone */

enum loopback_fail_result {
	LOOPBACK_FAIL_DONE,	/* nothing more is available */
	LOOPBACK_FAIL_MORE,	/* out of budget: more is available */
	LOOPBACK_FAIL_BAD,	/* the ring is malformed */
};

static struct loopback_ring *ring_of(struct loopback_device *ldev,
				     unsigned int index)
{
	return &ldev->vqs[index].ring;
}

static u16 loopback_fail_avail_idx(struct loopback_device *ldev,
				   struct loopback_ring *r)
{
	return virtio16_to_cpu(&ldev->vdev, READ_ONCE(r->avail->idx));
}

/* The head of the next available entry the kernel returns. */
static u16 loopback_fail_avail_head(struct loopback_device *ldev,
				    struct loopback_ring *r)
{
	__virtio16 head = READ_ONCE(r->avail->ring[r->next_avail &
						   (r->num - 1)]);

	return virtio16_to_cpu(&ldev->vdev, head);
}

/*
 * The status byte of the block request at @head: the last byte of the
 * chain's last descriptor, which must be device-writable.  Walks at most
 * the queue size (direct) or the table size (indirect) descriptors.
 * Returns a window pointer, or NULL for a malformed chain; adds the
 * descriptors read to *@cost.
 */
static u8 *loopback_fail_blk_status(struct loopback_device *ldev,
				    struct loopback_ring *r, u16 head,
				    unsigned int *cost)
{
	struct virtio_device *vdev = &ldev->vdev;
	struct vring_desc *table = r->desc;
	u32 size = r->num, i = head, left = r->num;
	u16 flags, next;
	u64 addr;
	u32 len;

	for (;;) {
		/* User space may change the table: read every field once. */
		addr = virtio64_to_cpu(vdev, READ_ONCE(table[i].addr));
		len = virtio32_to_cpu(vdev, READ_ONCE(table[i].len));
		flags = virtio16_to_cpu(vdev, READ_ONCE(table[i].flags));
		next = virtio16_to_cpu(vdev, READ_ONCE(table[i].next));
		(*cost)++;

		if (flags & VRING_DESC_F_INDIRECT) {
			/* Only in the ring itself, and it ends the chain. */
			if (table != r->desc || (flags & VRING_DESC_F_NEXT) ||
			    !len || len % sizeof(*table) ||
			    len / sizeof(*table) > LOOPBACK_FAIL_MAX_INDIRECT ||
			    !IS_ALIGNED(addr, sizeof(u64)))
				return NULL;
			table = loopback_window_ptr(ldev->window, addr, len);
			if (!table)
				return NULL;
			size = len / sizeof(*table);
			left = size;
			i = 0;
			continue;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (next >= size || !--left)
			return NULL;
		i = next;
	}
	if (!(flags & VRING_DESC_F_WRITE) || !len)
		return NULL;
	return loopback_window_ptr(ldev->window, addr + len - 1, 1);
}

/* Writes the used element for @head; 0, or -EINVAL for a bad chain. */
static int loopback_fail_return(struct loopback_device *ldev,
				struct loopback_ring *r, u16 head,
				unsigned int *cost)
{
	struct virtio_device *vdev = &ldev->vdev;
	struct vring_used_elem *elem;
	u8 *status;

	if (head >= r->num)
		return -EINVAL;
	(*cost)++;
	if (ldev->device_id == VIRTIO_ID_BLOCK) {
		status = loopback_fail_blk_status(ldev, r, head, cost);
		if (!status)
			return -EINVAL;
		WRITE_ONCE(*status, VIRTIO_BLK_S_IOERR);
	}
	elem = &r->used->ring[r->used_idx & (r->num - 1)];
	WRITE_ONCE(elem->id, cpu_to_virtio32(vdev, head));
	WRITE_ONCE(elem->len, 0);
	r->used_idx++;
	return 0;
}

/*
 * Publishes the used elements written so far, and asks the driver to kick
 * for whatever it makes available next.
 */
static void loopback_fail_publish(struct loopback_device *ldev,
				  struct loopback_ring *r)
{
	struct virtio_device *vdev = &ldev->vdev;

	/* Status bytes and elements before the index that covers them. */
	smp_wmb();
	WRITE_ONCE(r->used->idx, cpu_to_virtio16(vdev, r->used_idx));
	WRITE_ONCE(r->used->flags, 0);
	/* avail_event follows the used ring's num elements. */
	WRITE_ONCE(*(__virtio16 *)&r->used->ring[r->num],
		   cpu_to_virtio16(vdev, r->next_avail));
}

/*
 * One pass over a failing ring: returns available buffers until none is
 * left or the budget is spent.  *@returned says whether it returned any.
 */
static enum loopback_fail_result
loopback_fail_pass(struct loopback_device *ldev, struct loopback_ring *r,
		   bool *returned)
{
	unsigned int cost = 0;
	u16 avail_idx, head;

	lockdep_assert_held(&container_of(r, struct loopback_vq,
					  ring)->ring_lock);
	if (r->state != LOOPBACK_RING_FAILING)
		return LOOPBACK_FAIL_DONE;
	/* First the heads the dead device held, once each. */
	while (r->pending && r->next_head < r->num) {
		if (cost >= LOOPBACK_FAIL_BUDGET) {
			loopback_fail_publish(ldev, r);
			return LOOPBACK_FAIL_MORE;
		}
		head = r->next_head;
		if (r->pending[head]) {
			if (loopback_fail_return(ldev, r, head, &cost))
				goto bad;
			r->pending[head] = 0;
			*returned = true;
		} else if (!(head % 64)) {
			cost++;
		}
		r->next_head++;
	}
	for (;;) {
		avail_idx = loopback_fail_avail_idx(ldev, r);
		if ((u16)(avail_idx - r->next_avail) > r->num)
			goto bad;
		/* The entries and descriptors the index covers, after it. */
		smp_rmb();
		while (r->next_avail != avail_idx) {
			if (cost >= LOOPBACK_FAIL_BUDGET) {
				loopback_fail_publish(ldev, r);
				return LOOPBACK_FAIL_MORE;
			}
			head = loopback_fail_avail_head(ldev, r);
			if (loopback_fail_return(ldev, r, head, &cost))
				goto bad;
			r->next_avail++;
			*returned = true;
		}
		loopback_fail_publish(ldev, r);
		/*
		 * Pairs with the barrier between the driver's avail->idx
		 * update and its check of avail_event: either it kicks, or
		 * this sees the new index.
		 */
		smp_mb();
		if (loopback_fail_avail_idx(ldev, r) == r->next_avail)
			return LOOPBACK_FAIL_DONE;
	}
bad:
	loopback_fail_publish(ldev, r);
	WRITE_ONCE(r->state, LOOPBACK_RING_BAD);
	return LOOPBACK_FAIL_BAD;
}

static void loopback_fail_log(struct loopback_device *ldev, unsigned int index,
			      const char *why)
{
	dev_err_ratelimited(&ldev->parent, "queue %u: malformed ring (%s); breaking the device\n",
			    index, why);
}

/* Gives up on queue @index: breaks the device from a work item. */
static void loopback_fail_bad(struct loopback_device *ldev, unsigned int index,
			      const char *why)
{
	loopback_fail_log(ldev, index, why);
	/* virtio_break_device() takes a lock not meant for IRQs. */
	set_bit(LOOPBACK_FAIL_BREAK, &ldev->fail_flags);
	queue_work(loopback_wq, &ldev->fail_work);
}

/* Runs a pass on queue @index and deals with its outcome. */
static void loopback_fail_run(struct loopback_device *ldev, unsigned int index,
			      bool raise)
{
	struct loopback_vq *lvq = &ldev->vqs[index];
	enum loopback_fail_result res;
	bool returned = false;
	unsigned long flags;

	spin_lock_irqsave(&lvq->ring_lock, flags);
	res = loopback_fail_pass(ldev, &lvq->ring, &returned);
	spin_unlock_irqrestore(&lvq->ring_lock, flags);

	if (returned || raise)
		loopback_vdev_raise_queue(ldev, index);
	if (res == LOOPBACK_FAIL_MORE) {
		set_bit(index, ldev->fail_pending);
		queue_work(loopback_wq, &ldev->fail_work);
	} else if (res == LOOPBACK_FAIL_BAD) {
		loopback_fail_bad(ldev, index, "cannot fail its buffers");
	}
}

static void loopback_fail_work(struct work_struct *work)
{
	struct loopback_device *ldev =
		container_of(work, struct loopback_device, fail_work);
	unsigned int q;

	for_each_set_bit(q, ldev->fail_pending, ldev->num_queues) {
		if (!test_and_clear_bit(q, ldev->fail_pending))
			continue;
		/* Queues itself again while there is more. */
		loopback_fail_run(ldev, q, false);
		cond_resched();
	}
	/*
	 * A device that returned what it did not hold is broken as if its
	 * owner died: the window is revoked, then the kernel fails every
	 * ring, that one from the last used entry it verified.  Not
	 * virtio_break_device(): the driver would ignore those completions
	 * and wait for ever for the buffers the device held.
	 */
	if (test_and_clear_bit(LOOPBACK_FAIL_TAKEOVER, &ldev->fail_flags))
		loopback_vdev_break(ldev);
	/*
	 * A ring the kernel cannot fail (only rings that existed go bad:
	 * the virtio device is registered); the kernel fails the others.
	 */
	if (test_and_clear_bit(LOOPBACK_FAIL_BREAK, &ldev->fail_flags)) {
		virtio_break_device(&ldev->vdev);
		loopback_vdev_break(ldev);
	}
}

/* ---- what the device holds while user space plays it ---- */

/*
 * Accounts the available and used entries added since the last call, in
 * this order: used->idx, then avail->idx, so that every used entry counted
 * refers to an available entry counted before it.  The available ring is
 * the driver's (read-only to the device): what it says is true.  The used
 * ring is the device's: an entry whose head the device does not hold
 * (out of range, never made available, returned already) makes this
 * return false.  More available entries than the kernel can have missed
 * safely mean it lost track (buffers added without a DMA mapping, 6.12's
 * premapped mode): from then on the ring falls back to the old rule.
 */
static void loopback_track_avail_locked(struct loopback_device *ldev,
					unsigned int index,
					struct loopback_ring *r, u16 avail_idx)
{
	struct virtio_device *vdev = &ldev->vdev;
	u16 seen = r->avail_seen, head;

	lockdep_assert_held(&ldev->vqs[index].ring_lock);
	if ((u16)(avail_idx - seen) > max(r->num / 2, 1U))
		goto lost;
	for (; seen != avail_idx; seen++) {
		head = virtio16_to_cpu(vdev, READ_ONCE(r->avail->ring[seen &
							(r->num - 1)]));
		if (head >= r->num || r->pending[head] == U16_MAX)
			goto lost;
		r->pending[head]++;
	}
	WRITE_ONCE(r->avail_seen, seen);
	return;

lost:
	r->inexact = true;
	dev_info(&ldev->parent,
		 "queue %u: buffers were made available without a DMA mapping; if the device dies, the kernel assumes it completed in order\n",
		 index);
}

static bool loopback_track_locked(struct loopback_device *ldev,
				  unsigned int index, struct loopback_ring *r)
{
	struct virtio_device *vdev = &ldev->vdev;
	u16 used_idx, avail_idx, seen;
	u32 id;

	lockdep_assert_held(&ldev->vqs[index].ring_lock);
	if (!r->pending || r->inexact)
		return true;
	used_idx = virtio16_to_cpu(vdev, READ_ONCE(r->used->idx));
	/* used->idx before avail->idx: see the header comment. */
	smp_rmb();
	avail_idx = virtio16_to_cpu(vdev, READ_ONCE(r->avail->idx));
	/* The entries the indices cover, after them. */
	smp_rmb();

	loopback_track_avail_locked(ldev, index, r, avail_idx);
	if (r->inexact)
		return true;
	seen = r->used_seen;
	if ((u16)(used_idx - seen) > r->num)
		return false;
	for (; seen != used_idx; seen++) {
		struct vring_used_elem *e = &r->used->ring[seen & (r->num - 1)];
		__virtio32 raw = READ_ONCE(e->id);

		id = virtio32_to_cpu(vdev, raw);
		if (id >= r->num || !r->pending[id]) {
			WRITE_ONCE(r->used_seen, seen);
			return false;
		}
		r->pending[id]--;
		r->seen[seen & (r->num - 1)].id = raw;
		r->seen[seen & (r->num - 1)].len = READ_ONCE(e->len);
	}
	WRITE_ONCE(r->used_seen, seen);
	return true;
}

/*
 * Writes back the entries accounted since the last delivery, as the
 * kernel read them: the driver reads what the kernel counted, whatever
 * the device wrote over them since.  Never a slot an honest device may be
 * filling: it returns only heads made available, so its next entries stay
 * below avail->idx, whose slots are those of positions from avail->idx
 * minus the ring size on.  A driver that takes entries off the ring only
 * in its interrupt callback (virtio_blk, virtio_rng) has not taken these
 * yet, and then that bound never cuts them short.  The available index
 * cannot move meanwhile: the driver maps a buffer, which takes ring_lock,
 * before it publishes it.
 */
static void loopback_restore_locked(struct loopback_device *ldev,
				    unsigned int index, struct loopback_ring *r)
{
	u16 avail_idx = virtio16_to_cpu(&ldev->vdev, READ_ONCE(r->avail->idx));
	u16 pos = r->delivered, from = avail_idx - r->num;

	lockdep_assert_held(&ldev->vqs[index].ring_lock);
	if (!r->pending || r->inexact) {
		WRITE_ONCE(r->delivered, r->used_seen);
		return;
	}
	if ((u16)(r->used_seen - from) > r->num)
		from = r->used_seen - r->num;
	if ((u16)(r->used_seen - pos) > (u16)(r->used_seen - from))
		pos = from;
	for (; pos != r->used_seen; pos++) {
		struct vring_used_elem *e = &r->used->ring[pos & (r->num - 1)];

		WRITE_ONCE(e->id, r->seen[pos & (r->num - 1)].id);
		WRITE_ONCE(e->len, r->seen[pos & (r->num - 1)].len);
	}
	WRITE_ONCE(r->delivered, pos);
}

/*
 * Accounts what the driver and the device added to queue @index since the
 * last call.  The kernel calls it wherever it gets control on the way of
 * a buffer: every DMA (un)mapping of the device, every kick, every
 * interrupt it delivers.  Returns false if the ring is bad (the device
 * returned a head it did not hold, now or before): the device is being
 * broken and the interrupt should not reach the driver.  With @deliver
 * (an interrupt is about to reach the driver, IRQs off), the entries
 * counted and not yet shown are also written back as the kernel read
 * them, under the same lock.  With one CPU the device cannot write
 * between this and the driver's read; with more, it can only in that
 * short window.  Any context.
 */
static bool loopback_fail_account(struct loopback_device *ldev,
				  unsigned int index, bool deliver)
{
	struct loopback_vq *lvq = &ldev->vqs[index];
	struct loopback_ring *r = &lvq->ring;
	struct virtio_device *vdev = &ldev->vdev;
	enum loopback_ring_state state = READ_ONCE(r->state);
	struct vring_avail *avail = READ_ONCE(r->avail);
	struct vring_used *used = READ_ONCE(r->used);
	unsigned long flags;
	bool ok = true;

	/*
	 * Without the lock: the pointers lead into the window or are NULL.
	 * A ring the kernel does not know yet (NONE) holds nothing the
	 * device may return.
	 */
	if (state != LOOPBACK_RING_USER || !avail || !used)
		return state == LOOPBACK_RING_FAILING;
	/* A hint: the indices and @delivered change under ring_lock. */
	if (READ_ONCE(avail->idx) ==
	    cpu_to_virtio16(vdev, READ_ONCE(r->avail_seen)) &&
	    READ_ONCE(used->idx) ==
	    cpu_to_virtio16(vdev, READ_ONCE(r->used_seen)) &&
	    (!deliver || READ_ONCE(r->delivered) == READ_ONCE(r->used_seen)))
		return true;

	spin_lock_irqsave(&lvq->ring_lock, flags);
	if (r->state == LOOPBACK_RING_USER) {
		if (!loopback_track_locked(ldev, index, r)) {
			/* The kernel fails the ring once the window is revoked. */
			WRITE_ONCE(r->state, LOOPBACK_RING_UNHELD);
			ok = false;
		} else if (deliver && r->delivered != r->used_seen) {
			loopback_restore_locked(ldev, index, r);
		}
	}
	spin_unlock_irqrestore(&lvq->ring_lock, flags);
	if (!ok) {
		loopback_fail_log(ldev, index, loopback_fail_unheld);
		/* The revocation sleeps. */
		set_bit(LOOPBACK_FAIL_TAKEOVER, &ldev->fail_flags);
		queue_work(loopback_wq, &ldev->fail_work);
	}
	return ok;
}

bool loopback_fail_track(struct loopback_device *ldev, unsigned int index)
{
	return loopback_fail_account(ldev, index, false);
}

bool loopback_fail_deliver(struct loopback_device *ldev, unsigned int index)
{
	return loopback_fail_account(ldev, index, true);
}

/*
 * Whether the device of queue @index holds buffers: the driver made more
 * available than the device returned.  A hint for timing only, read
 * without the lock from what the device may write; any context.
 */
bool loopback_fail_busy(struct loopback_device *ldev, unsigned int index)
{
	struct loopback_ring *r = ring_of(ldev, index);
	struct vring_avail *avail = READ_ONCE(r->avail);
	struct vring_used *used = READ_ONCE(r->used);

	if (READ_ONCE(r->state) != LOOPBACK_RING_USER || !avail || !used)
		return false;
	return READ_ONCE(avail->idx) != READ_ONCE(used->idx);
}

/*
 * Before a DMA mapping, that is before the driver adds a buffer: the
 * account needs an update only if an available entry was published since
 * the last one.  Then at most one entry is ever unseen, as if every
 * mapping updated it (see the header comment).  The used side needs no
 * update either while avail->idx is less than half a ring ahead of the
 * account's used index: the device can return only what was made
 * available, so it cannot get a ring past the account (and overwrite
 * used entries unread) before the next update, even when the driver adds
 * half a ring of premapped buffers after this mapping (more, and the
 * account gives up on the ring anyway).  virtio_ring maps a request's
 * buffers one by one: the first mapping pays for the update, the others
 * skip it.  Unmappings do not update: they add nothing the next mapping
 * does not see, and a used entry the driver took off the ring is, at
 * most, verified later.
 */
void loopback_fail_track_map(struct loopback_device *ldev)
{
	struct virtio_device *vdev = &ldev->vdev;
	struct vring_avail *avail;
	struct loopback_ring *r;
	unsigned int i;
	u16 idx;

	for (i = 0; i < ldev->num_queues; i++) {
		r = ring_of(ldev, i);
		avail = READ_ONCE(r->avail);
		if (READ_ONCE(r->state) == LOOPBACK_RING_USER && avail) {
			/*
			 * Without the lock: if this mapping is for queue @i,
			 * the driver holds it and avail->idx stays; if not,
			 * queue @i's own mappings decide.  The indices seen
			 * only move forward.
			 */
			idx = virtio16_to_cpu(vdev, READ_ONCE(avail->idx));
			if (idx == READ_ONCE(r->avail_seen) &&
			    (u16)(idx - READ_ONCE(r->used_seen)) <
			    READ_ONCE(r->num) / 2)
				continue;
		}
		loopback_fail_track(ldev, i);
	}
}

/*
 * With ring_lock held, the window revoked: the kernel becomes the device
 * of this ring.  What the dead device returned stays, up to its first
 * used entry for a head it did not hold: the kernel writes over that one
 * and the rest, which the driver has not seen (their interrupt was not
 * delivered).  Then it returns the heads the device still held, each
 * once, and what the driver makes available later.  Returns false if
 * this finds the device returned a head it did not hold.
 */
static bool loopback_fail_start_locked(struct loopback_device *ldev,
				       unsigned int index,
				       struct loopback_ring *r)
{
	bool unheld = r->state == LOOPBACK_RING_UNHELD, held = true;
	u16 avail_idx;

	lockdep_assert_held(&ldev->vqs[index].ring_lock);
	if (!unheld) {
		held = loopback_track_locked(ldev, index, r);
	} else if (r->pending && !r->inexact) {
		/* The used ring is wrong from used_seen on: not read. */
		avail_idx = loopback_fail_avail_idx(ldev, r);
		/* The entries the index covers, after it. */
		smp_rmb();
		loopback_track_avail_locked(ldev, index, r, avail_idx);
	}
	if (r->pending && !r->inexact) {
		/* What the driver has not been shown yet, as counted. */
		loopback_restore_locked(ldev, index, r);
		r->used_idx = r->used_seen;
		r->next_avail = r->avail_seen;
		r->next_head = 0;
	} else {
		/* The old rule: the device completed in order. */
		kfree(r->pending);
		r->pending = NULL;
		kfree(r->seen);
		r->seen = NULL;
		r->used_idx = held && !unheld ?
			      virtio16_to_cpu(&ldev->vdev,
					      READ_ONCE(r->used->idx)) :
			      r->used_seen;
		r->next_avail = r->used_idx;
	}
	WRITE_ONCE(r->state, LOOPBACK_RING_FAILING);
	return held;
}

/*
 * The driver set up queue @index (its registers were written): from now
 * on the kernel knows where the ring is.  A device taken over meanwhile
 * fails it at once.  Not merely a broken one: between the break and the
 * takeover the window is being revoked, and until that is over a process
 * may still write the used ring, which the kernel must read only once it
 * is stable.
 */
void loopback_fail_ring_start(struct loopback_device *ldev, unsigned int index,
			      struct virtqueue *vq)
{
	struct loopback_ring *r = ring_of(ldev, index);
	struct loopback_window *win = ldev->window;
	u32 num = virtqueue_get_vring_size(vq);
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	unsigned long flags;
	struct vring_used_elem *seen;
	bool failing, held = true;
	u16 *pending;

	/* The ring comes from the window (coherent memory): sizes as vring_size(). */
	desc = loopback_window_ptr(win, virtqueue_get_desc_addr(vq),
				   sizeof(*desc) * num);
	avail = loopback_window_ptr(win, virtqueue_get_avail_addr(vq),
				    struct_size(avail, ring, num + 1));
	used = loopback_window_ptr(win, virtqueue_get_used_addr(vq),
				   struct_size(used, ring, num) +
				   sizeof(__virtio16));
	if (WARN_ON_ONCE(!desc || !avail || !used || !is_power_of_2(num)))
		return;
	/* Without it, the old rule (the device completes in order). */
	pending = kcalloc(num, sizeof(*pending), GFP_KERNEL);
	seen = kcalloc(num, sizeof(*seen), GFP_KERNEL);
	if (!pending || !seen) {
		kfree(pending);
		kfree(seen);
		pending = NULL;
		seen = NULL;
	}

	spin_lock_irqsave(&ldev->vqs[index].ring_lock, flags);
	r->num = num;
	r->desc = desc;
	r->pending = pending;
	r->seen = seen;
	r->inexact = false;
	/* Where virtio_ring starts, whatever the device wrote meanwhile. */
	r->avail_seen = 0;
	r->used_seen = 0;
	r->delivered = 0;
	WRITE_ONCE(r->avail, avail);
	WRITE_ONCE(r->used, used);
	WRITE_ONCE(r->state, LOOPBACK_RING_USER);
	/* Pairs with loopback_fail_takeover(), through ring_lock. */
	failing = READ_ONCE(ldev->taken_over);
	if (failing)
		held = loopback_fail_start_locked(ldev, index, r);
	spin_unlock_irqrestore(&ldev->vqs[index].ring_lock, flags);
	if (!held)
		loopback_fail_log(ldev, index, loopback_fail_unheld);
	if (failing)
		loopback_fail_run(ldev, index, true);
}

/*
 * A reset, or del_vqs (the ring is about to be freed): the kernel forgets
 * the ring.  Process context.
 */
void loopback_fail_ring_stop(struct loopback_device *ldev, unsigned int index)
{
	struct loopback_ring *r = ring_of(ldev, index);
	struct vring_used_elem *seen;
	unsigned long flags;
	u16 *pending;

	spin_lock_irqsave(&ldev->vqs[index].ring_lock, flags);
	pending = r->pending;
	seen = r->seen;
	WRITE_ONCE(r->state, LOOPBACK_RING_NONE);
	WRITE_ONCE(r->avail, NULL);
	WRITE_ONCE(r->used, NULL);
	r->desc = NULL;
	r->pending = NULL;
	r->seen = NULL;
	r->num = 0;
	spin_unlock_irqrestore(&ldev->vqs[index].ring_lock, flags);
	kfree(pending);
	kfree(seen);
}

/*
 * The owner is gone (or declared dead), the device is marked broken and
 * every user mapping of the window is revoked (loopback_after_break()),
 * so the used ring holds what the dead device wrote, for good: the kernel
 * fails every ring, returning what is available now.  The interrupt is
 * raised even when nothing is: the dead device may have returned buffers
 * without telling the driver.  May be called more than once; any context.
 */
void loopback_fail_takeover(struct loopback_device *ldev)
{
	struct loopback_ring *r;
	unsigned long flags;
	unsigned int i;
	bool start, held;

	/* Before any ring's lock: see loopback_fail_ring_start(). */
	WRITE_ONCE(ldev->taken_over, true);
	/*
	 * Orders the store of ->broken (loopback_mark_broken(), earlier in
	 * this thread) before the loads of avail->idx below; pairs with the
	 * smp_mb() in loopback_vq_notify(), which orders the driver's store
	 * of avail->idx before its load of ->broken.  ring_lock alone does
	 * not: an unlock and a lock of another lock are not a full barrier.
	 * Not testable here: x86 keeps this order through the locked
	 * instructions of spin_lock(), and the test guest has one vCPU.
	 */
	smp_mb();
	for (i = 0; i < ldev->num_queues; i++) {
		r = ring_of(ldev, i);
		held = true;
		spin_lock_irqsave(&ldev->vqs[i].ring_lock, flags);
		start = r->state == LOOPBACK_RING_USER ||
			r->state == LOOPBACK_RING_UNHELD;
		if (start)
			held = loopback_fail_start_locked(ldev, i, r);
		spin_unlock_irqrestore(&ldev->vqs[i].ring_lock, flags);
		if (!held)
			loopback_fail_log(ldev, i, loopback_fail_unheld);
		if (start)
			loopback_fail_run(ldev, i, true);
	}
}

/* A kick of a broken device: any context, never sleeps. */
void loopback_fail_kick(struct loopback_device *ldev, unsigned int index)
{
	loopback_fail_run(ldev, index, false);
}

void loopback_fail_init(struct loopback_device *ldev)
{
	unsigned int i;

	for (i = 0; i < ldev->num_queues; i++)
		spin_lock_init(&ldev->vqs[i].ring_lock);
	INIT_WORK(&ldev->fail_work, loopback_fail_work);
}

/* The virtio device is gone: nothing kicks or queues the work any more. */
void loopback_fail_sync(struct loopback_device *ldev)
{
	cancel_work_sync(&ldev->fail_work);
}
