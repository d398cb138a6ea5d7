// SPDX-License-Identifier: GPL-2.0-only
/*
 * loopback.ko: the bounds that keep one virtio-blk request inside its
 * device's DMA window.
 *
 * virtio_blk sets no sector limit (max_hw_sectors is UINT_MAX): a request
 * has up to seg_max segments (the device's config field, 1 without
 * VIRTIO_BLK_F_SEG_MAX) of up to max_segment_size bytes, which is
 * virtio_max_dma_size(), this module's .max_mapping_size, unless size_max
 * is smaller.  Every mapping takes whole pages of the window.  A request
 * that cannot be mapped makes virtqueue_add_sgs() fail with -ENOMEM (6.1
 * and 6.12 alike, whatever the DMA ops return), which virtio_blk turns
 * into BLK_STS_RESOURCE: blk-mq requeues it forever and its I/O hangs.
 * Without indirect descriptors a request of more than the ring's size
 * minus two segments fails with -ENOSPC and hangs the same way.
 *
 * So the driver reads a seg_max no larger than what the window and the
 * ring can take (loopback_blk_get_config()), and .max_mapping_size then
 * gives segments small enough that a request of that many fits
 * (loopback_blk_max_mapping()).  Documentation/uapi.md states the rule.
 */
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "loopback_priv.h"

/* virtio_blk's own cap (VIRTIO_BLK_MAX_SG_ELEMS - 2) */
#define LOOPBACK_BLK_MAX_SEGS	32766U

#define LOOPBACK_SEG_MAX_OFF	offsetof(struct virtio_blk_config, seg_max)

static unsigned long loopback_blk_pages(unsigned long bytes)
{
	return DIV_ROUND_UP(bytes, PAGE_SIZE);
}

/*
 * Window pages the rings take at the largest queue size: one coherent
 * allocation per queue (descriptors and available ring, then the used
 * ring on a page of its own), aligned to its order.
 */
static unsigned long loopback_blk_ring_pages(struct loopback_device *ldev)
{
	unsigned long q = ldev->max_queue_size;
	unsigned long ring = loopback_blk_pages(18 * q + 6) +
			     loopback_blk_pages(8 * q + 6);

	return ldev->num_queues * roundup_pow_of_two(ring);
}

/*
 * Pages a request of @segs segments of up to @seg pages each may take,
 * plus what placement may leave unused: the header and the status (two
 * pages each: they may straddle a page boundary), the indirect table,
 * every segment one page more than its size (its offset), and less than
 * a segment at the end of each free run.  The rings split the free pages
 * into at most one run more than there are queues (they go to pages the
 * device never wrote, which need not be the first); one segment more is
 * slack, from when the search for a bounce buffer started where the last
 * one ended and split one run in two.
 */
static unsigned long loopback_blk_cost(struct loopback_device *ldev,
				       bool indirect, unsigned long segs,
				       unsigned long seg)
{
	unsigned long pages = 4 + segs * (seg + 1) +
			      (ldev->num_queues + 1) * seg;

	if (indirect)
		pages += loopback_blk_pages((segs + 2) *
					    sizeof(struct vring_desc)) + 1;
	return pages;
}

/* Window pages one request may take: all that the rings leave. */
static unsigned long loopback_blk_budget(struct loopback_device *ldev)
{
	unsigned long window = ldev->window_size >> PAGE_SHIFT;
	unsigned long rings = loopback_blk_ring_pages(ldev);

	return window > rings ? window - rings : 0;
}

/* The seg_max the driver reads, for the device's @offered (0: none). */
static u32 loopback_blk_seg_max(struct loopback_device *ldev, u32 offered)
{
	bool indirect = virtio_has_feature(&ldev->vdev,
					   VIRTIO_RING_F_INDIRECT_DESC);
	unsigned long budget = loopback_blk_budget(ldev);
	unsigned long lo = 1, hi = LOOPBACK_BLK_MAX_SEGS, mid;

	/* Without indirect descriptors the chain must fit the ring. */
	if (!indirect)
		hi = min_t(unsigned long, hi,
			   max(ldev->max_queue_size, 3U) - 2);
	hi = min_t(unsigned long, hi, max(offered, 1U));
	/* The most segments of a page each that fit the budget. */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (loopback_blk_cost(ldev, indirect, mid, 1) <= budget)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * A config read of a block device: the bytes of seg_max say at most
 * what the window takes.  The value of a whole read of the field is what
 * the driver uses from then on, and sizes its segments.  Called with
 * @ldev->config_lock held, after @buf got the device's bytes.
 */
void loopback_blk_get_config(struct loopback_device *ldev,
			     unsigned int offset, void *buf, unsigned int len)
{
	unsigned int start, end, i;
	__le32 field;
	u32 segs;

	lockdep_assert_held(&ldev->config_lock);
	if (ldev->device_id != VIRTIO_ID_BLOCK ||
	    offset >= LOOPBACK_SEG_MAX_OFF + sizeof(field) ||
	    offset + len <= LOOPBACK_SEG_MAX_OFF ||
	    ldev->config_size < LOOPBACK_SEG_MAX_OFF + sizeof(field))
		return;

	memcpy(&field, ldev->config + LOOPBACK_SEG_MAX_OFF, sizeof(field));
	segs = loopback_blk_seg_max(ldev, le32_to_cpu(field));
	field = cpu_to_le32(segs);
	start = max_t(unsigned int, offset, LOOPBACK_SEG_MAX_OFF);
	end = min_t(unsigned int, offset + len,
		    LOOPBACK_SEG_MAX_OFF + sizeof(field));
	for (i = start; i < end; i++)
		((u8 *)buf)[i - offset] =
			((u8 *)&field)[i - LOOPBACK_SEG_MAX_OFF];
	if (start == LOOPBACK_SEG_MAX_OFF &&
	    end == LOOPBACK_SEG_MAX_OFF + sizeof(field))
		WRITE_ONCE(ldev->blk_segs, segs);
}

/*
 * .max_mapping_size of a block device, in bytes (0: not a block device):
 * the largest segment with which a request of as many segments as the
 * driver last read still fits, at most half the window as for any device.
 */
size_t loopback_blk_max_mapping(struct loopback_device *ldev)
{
	unsigned long half = max_t(unsigned long,
				   (ldev->window_size >> PAGE_SHIFT) / 2, 1);
	unsigned long budget, segs, fixed, seg = 1;
	bool indirect;

	if (ldev->device_id != VIRTIO_ID_BLOCK)
		return 0;
	indirect = virtio_has_feature(&ldev->vdev,
				      VIRTIO_RING_F_INDIRECT_DESC);
	budget = loopback_blk_budget(ldev);
	segs = max(READ_ONCE(ldev->blk_segs), 1U);
	/* cost(segs, seg) = fixed + (segs + num_queues + 1) * seg */
	fixed = loopback_blk_cost(ldev, indirect, segs, 0);
	if (budget > fixed)
		seg = max((budget - fixed) / (segs + ldev->num_queues + 1),
			  1UL);
	return min(seg, half) << PAGE_SHIFT;
}
