// SPDX-License-Identifier: GPL-2.0-only
/*
 * loopback: the DMA window.
 *
 * Every device owns one window: @size bytes of vmalloc memory that user
 * space maps through the device fd, at guest-physical (and DMA) address
 * @base.  The device's dma_map_ops hand out coherent memory straight from
 * the window and bounce streaming mappings through it, so the driver never
 * gives the device a DMA address outside the window and user space never
 * sees any other kernel memory.
 *
 * The window is managed in pages: a bitmap says which pages are in use and
 * a kernel-side array (never the window itself, which user space can
 * write) says what each page holds.  Both are protected by a spinlock taken
 * with interrupts disabled, because drivers map and unmap buffers from any
 * context.  Copies between the window and the driver's buffers happen
 * outside the lock.
 *
 * A streaming mapping keeps the buffer's offset within its page:
 * dma = base + first_page * PAGE_SIZE + offset_in_page(buffer).
 *
 * Read-only pages.  The descriptor table and the available ring of a vring
 * are the driver's: virtio_ring trusts what it reads back from them (the
 * NEXT flags that end a chain, for one), so the device must not be able to
 * write them.  The transport allocates its rings with the window in ring
 * mode (loopback_window_ring_alloc()): such an allocation is read-only for
 * user space from the moment it exists, and the transport then makes the
 * used ring, which has pages of its own, writable again.  User mappings
 * are write-notify mappings (the VMA has a page_mkwrite): every PTE starts
 * read-only and the first write to a page asks lbdma_page_mkwrite(),
 * which refuses a read-only page with SIGBUS (and GUP for writing, so
 * process_vm_writev(), O_DIRECT reads into the page and the like, with
 * EFAULT).  Both kinds of mapping, the device fd's and the window fd's,
 * have it.  A page it lets through stays writable for good: a ring's
 * descriptor table and available ring only ever go to pages that were
 * never made writable (@wrote), and a page of a live ring's descriptor
 * table or available ring never has a writable PTE.  (A ring freed and
 * allocated again, say when the driver is bound anew, finds its old
 * pages: they stayed clean.)
 *
 * Why not zap the PTEs instead, now that every mapping is one of the
 * window inode's (unmap_mapping_range() reaches them all)?  A zap removes
 * PTEs, not the references taken through them: a page that GUP got for
 * writing before the ring went there (an O_DIRECT read into it that the
 * back end keeps in flight, say from a disk it serves itself) would be
 * written by the kernel after the ring landed.  GUP for writing goes
 * through page_mkwrite, so @wrote marks such pages, and the ring avoids
 * them.
 */

#include <linux/bitmap.h>
#include <linux/dma-map-ops.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/virtio_ring.h>
#include <linux/vmalloc.h>

#include "loopback_compat.h"
#include "loopback_internal.h"

/*
 * Without per-device DMA ops (CONFIG_DMA_OPS, called ARCH_HAS_DMA_OPS
 * since 6.12) set_dma_ops() does nothing: the rings and every buffer
 * would come from dma-direct, outside the window, and the device process
 * would see none of them.  Every Debian x86 kernel has them (the IOMMU
 * drivers need them), so this is a build-time check, not a test.
 */
#if !defined(CONFIG_DMA_OPS) && !defined(CONFIG_ARCH_HAS_DMA_OPS)
#error "loopback.ko needs per-device DMA ops: CONFIG_DMA_OPS (ARCH_HAS_DMA_OPS since 6.12)"
#endif

/* What a page of the window holds. */
enum lbdma_kind {
	LBDMA_FREE = 0,
	LBDMA_COHERENT,		/* dma_alloc_coherent() memory */
	LBDMA_STREAM,		/* a bounce buffer of a streaming mapping */
	LBDMA_RELEASING,	/* head of a mapping being unmapped */
};

/*
 * Per-page record.  @kind and @head are set on every page of an
 * allocation; the other fields only on its first page (the head).
 */
struct lbdma_slot {
	phys_addr_t orig;	/* stream: physical address of the buffer */
	u32 head;		/* index of the allocation's first page */
	u32 npages;		/* head: pages of the allocation */
	u32 len;		/* head: bytes mapped or allocated */
	u8 kind;		/* enum lbdma_kind */
	u8 dir;			/* head, stream: enum dma_data_direction */
	bool ro;		/* user mappings may not write the page */
	bool reset;		/* head, stream: mapped before a reset */
};

struct loopback_window {
	struct kref ref;
	u64 base;		/* guest-physical address of the first byte */
	u64 size;		/* bytes, a page multiple */
	void *vaddr;		/* the window's memory (vmalloc) */
	unsigned long npages;

	spinlock_t lock;	/* protects the fields below up to @used */
	unsigned long *map;	/* one bit per page: in use */
	/* one bit per page: user space may hold a writable PTE of it */
	unsigned long *wrote;
	struct lbdma_slot *slots;
	unsigned long used;	/* pages in use */
	bool ring_alloc;	/* coherent allocations are vrings */

	/*
	 * User mappings (see "the window's files" below).  Every file that
	 * maps the window is a file of @inode, so that its address space
	 * lists every mapping.  @owner_mm: the creating process's, held with
	 * mmgrab().  @revoke_lock serialises revocations; @revoked is set
	 * once (under it) and read by faults under the page lock.
	 * @scratch is set once, by cmpxchg().
	 */
	struct inode *inode;
	struct mm_struct *owner_mm;
	struct mutex revoke_lock;
	bool revoked;
	struct page *scratch;
};

#define LBDMA_GFP		(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

/* Coherent allocations are aligned to their order, up to this one. */
#define LBDMA_MAX_ALIGN_ORDER	10

static void lbdma_release(struct kref *ref)
{
	struct loopback_window *win =
		container_of(ref, struct loopback_window, ref);

	if (win->scratch)
		__free_page(win->scratch);
	if (win->owner_mm)
		mmdrop(win->owner_mm);
	iput(win->inode);
	vfree(win->vaddr);
	kvfree(win->slots);
	kvfree(win->wrote);
	kvfree(win->map);
	kfree(win);
}

struct loopback_window *loopback_window_create(u64 base, u64 size)
{
	struct loopback_window *win;

	/* Every address of the window must be a dma_addr_t, not the error. */
	if (!size || !PAGE_ALIGNED(size) || !PAGE_ALIGNED(base) ||
	    size > LOOPBACK_MAX_WINDOW_SIZE || size > U64_MAX - base ||
	    base + size - 1 >= (dma_addr_t)DMA_MAPPING_ERROR)
		return ERR_PTR(-EINVAL);

	win = kzalloc(sizeof(*win), GFP_KERNEL);
	if (!win)
		return ERR_PTR(-ENOMEM);
	kref_init(&win->ref);
	spin_lock_init(&win->lock);
	mutex_init(&win->revoke_lock);
	win->base = base;
	win->size = size;
	win->npages = size >> PAGE_SHIFT;

	/*
	 * User space asks for up to LOOPBACK_MAX_WINDOW_SIZE: charge it to
	 * the caller and fail quietly.  Faults map the pages one by one, so
	 * the window needs no VM_USERMAP (vmalloc_user()).
	 */
	win->map = kvcalloc(BITS_TO_LONGS(win->npages), sizeof(long),
			    LBDMA_GFP);
	win->wrote = kvcalloc(BITS_TO_LONGS(win->npages), sizeof(long),
			      LBDMA_GFP);
	win->slots = kvcalloc(win->npages, sizeof(*win->slots), LBDMA_GFP);
	win->vaddr = __vmalloc(size, LBDMA_GFP | __GFP_ZERO);
	if (!win->map || !win->wrote || !win->slots || !win->vaddr) {
		lbdma_release(&win->ref);
		return ERR_PTR(-ENOMEM);
	}
	return win;
}

void loopback_window_get(struct loopback_window *win)
{
	kref_get(&win->ref);
}

/* May sleep: the last reference frees the window with vfree(). */
void loopback_window_put(struct loopback_window *win)
{
	if (!IS_ERR_OR_NULL(win))
		kref_put(&win->ref, lbdma_release);
}

u64 loopback_window_used(struct loopback_window *win)
{
	unsigned long flags;
	u64 used;

	spin_lock_irqsave(&win->lock, flags);
	used = (u64)win->used << PAGE_SHIFT;
	spin_unlock_irqrestore(&win->lock, flags);
	return used;
}

void *loopback_window_ptr(struct loopback_window *win, u64 dma, u64 len)
{
	u64 off = dma - win->base;

	if (dma < win->base || off > win->size || len > win->size - off)
		return NULL;
	return win->vaddr + off;
}

/* ---- the allocator ---- */

static bool lbdma_search(struct loopback_window *win, unsigned long start,
			 unsigned long npages, unsigned long align_mask,
			 unsigned long *idx)
{
	unsigned long i;

	lockdep_assert_held(&win->lock);
	i = bitmap_find_next_zero_area(win->map, win->npages, start, npages,
				       align_mask);
	if (i >= win->npages || win->npages - i < npages)
		return false;
	*idx = i;
	return true;
}

/*
 * The pages of a ring allocation of @size bytes that stay read-only: the
 * descriptor table and the available ring of a split vring laid out with a
 * page as alignment, whose used ring starts the page after them.  All of
 * them when @size is no such vring.
 */
static unsigned long lbdma_ring_ro_pages(size_t size)
{
	unsigned int num;

	for (num = 1; num <= LOOPBACK_MAX_QUEUE_SIZE; num *= 2)
		if (vring_size(num, PAGE_SIZE) == size)
			return PAGE_ALIGN(vring_size(num, PAGE_SIZE) -
					  struct_size_t(struct vring_used,
							ring, num) -
					  sizeof(__virtio16)) >> PAGE_SHIFT;
	return PAGE_ALIGN(size) >> PAGE_SHIFT;
}

/*
 * As lbdma_search(), for an area whose first @nclean pages never had a
 * writable user PTE.
 */
static bool lbdma_search_clean(struct loopback_window *win,
			       unsigned long start, unsigned long npages,
			       unsigned long nclean, unsigned long align_mask,
			       unsigned long *idx)
{
	unsigned long dirty;

	lockdep_assert_held(&win->lock);
	while (lbdma_search(win, start, npages, align_mask, idx)) {
		dirty = find_next_bit(win->wrote, *idx + nclean, *idx);
		if (dirty >= *idx + nclean)
			return true;
		start = dirty + 1;
	}
	return false;
}

/*
 * Takes @npages free pages aligned to @align_mask + 1 pages and records
 * what they hold.  Returns false when the window has no room.  In ring
 * mode a coherent allocation takes clean pages only and is read-only.
 *
 * First fit: a bounce buffer goes to the lowest free pages, most often
 * those a request just gave back, so the device and the copies here work
 * on a few pages that stay in the TLBs and caches, as VDUSE's recycled
 * IOVAs do.  Searching on from the last allocation cycled the requests
 * through the whole window: qemu-storage-daemon's 4 KiB pread() into it
 * took up to 30 us more than into VDUSE's bounce pages under TCG, and
 * about as long with first fit (Documentation/performance.md).
 */
static bool lbdma_get_area(struct loopback_window *win, unsigned long npages,
			   unsigned long align_mask, enum lbdma_kind kind,
			   phys_addr_t orig, size_t len,
			   enum dma_data_direction dir, unsigned long *idx)
{
	struct lbdma_slot *slot;
	unsigned long flags, i;
	bool found, ring;

	spin_lock_irqsave(&win->lock, flags);
	ring = kind == LBDMA_COHERENT && win->ring_alloc;
	if (ring)
		found = lbdma_search_clean(win, 0, npages,
					   min(npages, lbdma_ring_ro_pages(len)),
					   align_mask, idx);
	else
		found = lbdma_search(win, 0, npages, align_mask, idx);
	if (found) {
		bitmap_set(win->map, *idx, npages);
		for (i = *idx; i < *idx + npages; i++) {
			win->slots[i].kind = kind;
			win->slots[i].head = *idx;
			win->slots[i].ro = ring;
		}
		slot = &win->slots[*idx];
		slot->orig = orig;
		slot->npages = npages;
		slot->len = len;
		slot->dir = dir;
		win->used += npages;
	}
	spin_unlock_irqrestore(&win->lock, flags);
	return found;
}

static void lbdma_put_area_locked(struct loopback_window *win,
				  unsigned long head)
{
	unsigned long i, npages = win->slots[head].npages;

	lockdep_assert_held(&win->lock);
	for (i = head; i < head + npages; i++)
		win->slots[i] = (struct lbdma_slot){ };
	bitmap_clear(win->map, head, npages);
	win->used -= npages;
}

void loopback_window_ring_alloc(struct loopback_window *win, bool on)
{
	unsigned long flags;

	spin_lock_irqsave(&win->lock, flags);
	win->ring_alloc = on;
	spin_unlock_irqrestore(&win->lock, flags);
}

int loopback_window_set_ro(struct loopback_window *win, u64 dma, u64 len,
			   bool ro)
{
	unsigned long flags, first, last, i;
	int ret = 0;

	if (!len || dma < win->base || dma - win->base >= win->size ||
	    len > win->size - (dma - win->base))
		return -EINVAL;
	first = (dma - win->base) >> PAGE_SHIFT;
	last = (dma - win->base + len - 1) >> PAGE_SHIFT;

	spin_lock_irqsave(&win->lock, flags);
	for (i = first; i <= last; i++) {
		if (win->slots[i].kind != LBDMA_COHERENT ||
		    (ro && test_bit(i, win->wrote))) {
			ret = -EBUSY;
			goto out;
		}
	}
	for (i = first; i <= last; i++)
		win->slots[i].ro = ro;
out:
	spin_unlock_irqrestore(&win->lock, flags);
	return ret;
}

/* First DMA address of the allocation whose first page is @head. */
static u64 lbdma_start(struct loopback_window *win, unsigned long head)
{
	struct lbdma_slot *slot = &win->slots[head];
	u64 start = win->base + ((u64)head << PAGE_SHIFT);

	if (slot->kind != LBDMA_COHERENT)
		start += offset_in_page(slot->orig);
	return start;
}

/*
 * The first page of the @kind allocation that [@dma, @dma + @len) lies in,
 * or -1.  With @exact, @dma must be the allocation's first address.
 */
static long lbdma_find_locked(struct loopback_window *win, dma_addr_t dma,
			      size_t len, enum lbdma_kind kind, bool exact)
{
	unsigned long idx, head;
	u64 start, end;

	lockdep_assert_held(&win->lock);
	if (dma < win->base || dma - win->base >= win->size)
		return -1;
	idx = (dma - win->base) >> PAGE_SHIFT;
	if (win->slots[idx].kind != kind)
		return -1;
	head = win->slots[idx].head;
	if (head > idx || win->slots[head].kind != kind)
		return -1;
	start = lbdma_start(win, head);
	end = start + win->slots[head].len;
	if (exact)
		return dma == start ? head : -1;
	if (dma < start || dma > end || len > end - dma)
		return -1;
	return head;
}

/* ---- copies between buffers and the window ---- */

/* @len bytes at physical @phys to the window at offset @woff. */
static void lbdma_copy_in(struct loopback_window *win, u64 woff,
			  phys_addr_t phys, size_t len)
{
	char *dst = win->vaddr + woff;
	size_t poff, n;

	while (len) {
		poff = offset_in_page(phys);
		n = min_t(size_t, len, PAGE_SIZE - poff);
		memcpy_from_page(dst, pfn_to_page(PHYS_PFN(phys)), poff, n);
		dst += n;
		phys += n;
		len -= n;
	}
}

/* @len bytes of the window at offset @woff to physical @phys. */
static void lbdma_copy_out(struct loopback_window *win, u64 woff,
			   phys_addr_t phys, size_t len)
{
	const char *src = win->vaddr + woff;
	size_t poff, n;

	while (len) {
		poff = offset_in_page(phys);
		n = min_t(size_t, len, PAGE_SIZE - poff);
		memcpy_to_page(pfn_to_page(PHYS_PFN(phys)), poff, src, n);
		src += n;
		phys += n;
		len -= n;
	}
}

static bool lbdma_to_device(enum dma_data_direction dir)
{
	return dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL;
}

static bool lbdma_from_device(enum dma_data_direction dir)
{
	return dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL;
}

/* ---- dma_map_ops ---- */

static struct loopback_window *lbdma_window(struct device *dev)
{
	struct loopback_window *win = loopback_dma_dev_window(dev);

	if (unlikely(!win))
		dev_err_ratelimited(dev, "DMA request without a window\n");
	return win;
}

static void *lbdma_alloc(struct device *dev, size_t size,
			 dma_addr_t *dma_handle, gfp_t gfp,
			 unsigned long attrs)
{
	struct loopback_window *win = lbdma_window(dev);
	unsigned long npages, idx;
	unsigned int order;
	void *vaddr;

	if (!win || !size || size > win->size)
		return NULL;
	npages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	order = min_t(unsigned int, get_order(size), LBDMA_MAX_ALIGN_ORDER);
	if (!lbdma_get_area(win, npages, (1UL << order) - 1, LBDMA_COHERENT,
			    0, size, DMA_BIDIRECTIONAL, &idx))
		return NULL;

	/* User space may have written to these pages while they were free. */
	vaddr = win->vaddr + (idx << PAGE_SHIFT);
	memset(vaddr, 0, npages << PAGE_SHIFT);
	*dma_handle = win->base + ((u64)idx << PAGE_SHIFT);
	return vaddr;
}

static void lbdma_free(struct device *dev, size_t size, void *vaddr,
		       dma_addr_t dma, unsigned long attrs)
{
	struct loopback_window *win = lbdma_window(dev);
	unsigned long flags;
	long head;

	if (!win)
		return;
	spin_lock_irqsave(&win->lock, flags);
	head = lbdma_find_locked(win, dma, 0, LBDMA_COHERENT, true);
	if (head >= 0 && vaddr == win->vaddr + (head << PAGE_SHIFT))
		lbdma_put_area_locked(win, head);
	else
		head = -1;
	spin_unlock_irqrestore(&win->lock, flags);
	if (head < 0)
		dev_err_ratelimited(dev, "free of %pad (%zu bytes): not coherent memory of the window\n",
				    &dma, size);
}

/*
 * Bounces [@phys, @phys + @size) into the window.  Returns the DMA address,
 * or DMA_MAPPING_ERROR with *@err = -ENOMEM (the window is full for now)
 * or -EINVAL (the buffer can never fit).
 */
static dma_addr_t lbdma_map(struct loopback_window *win, phys_addr_t phys,
			    size_t size, enum dma_data_direction dir,
			    unsigned long attrs, int *err)
{
	unsigned long npages, idx;
	size_t off = offset_in_page(phys);
	u64 woff;

	if (size > win->size - off) {
		*err = -EINVAL;
		return DMA_MAPPING_ERROR;
	}
	npages = max_t(unsigned long, PAGE_ALIGN(off + size) >> PAGE_SHIFT, 1);
	if (!lbdma_get_area(win, npages, 0, LBDMA_STREAM, phys, size, dir,
			    &idx)) {
		*err = -ENOMEM;
		return DMA_MAPPING_ERROR;
	}

	woff = ((u64)idx << PAGE_SHIFT) + off;
	if (lbdma_to_device(dir) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		lbdma_copy_in(win, woff, phys, size);
	else
		/*
		 * What the device does not write must not come back to the
		 * buffer as stale data of an earlier mapping.
		 */
		memset(win->vaddr + woff, 0, size);
	return win->base + woff;
}

static void lbdma_unmap(struct device *dev, struct loopback_window *win,
			dma_addr_t dma, size_t size, unsigned long attrs)
{
	struct lbdma_slot *slot;
	unsigned long flags;
	phys_addr_t orig = 0;
	size_t len = 0;
	bool copy = false;
	long head;

	spin_lock_irqsave(&win->lock, flags);
	head = lbdma_find_locked(win, dma, 0, LBDMA_STREAM, true);
	if (head >= 0) {
		slot = &win->slots[head];
		orig = slot->orig;
		len = slot->len;
		/*
		 * A buffer mapped before the device was reset is one the
		 * driver detaches unused (virtqueue_detach_unused_buf(), which
		 * unmaps without DMA_ATTR_SKIP_CPU_SYNC): what the device wrote
		 * into it is not data, and is not copied back.
		 */
		copy = lbdma_from_device(slot->dir) && !slot->reset &&
		       !(attrs & DMA_ATTR_SKIP_CPU_SYNC);
		if (copy)
			/* Rejects a second unmap or a sync while we copy. */
			slot->kind = LBDMA_RELEASING;
		else
			lbdma_put_area_locked(win, head);
	}
	spin_unlock_irqrestore(&win->lock, flags);
	if (head < 0) {
		dev_err_ratelimited(dev, "unmap of %pad (%zu bytes): not a mapping of the window\n",
				    &dma, size);
		return;
	}
	if (size != len)
		dev_err_ratelimited(dev, "unmap of %pad: %zu bytes, mapped %zu\n",
				    &dma, size, len);
	if (!copy)
		return;

	lbdma_copy_out(win, dma - win->base, orig, len);
	spin_lock_irqsave(&win->lock, flags);
	lbdma_put_area_locked(win, head);
	spin_unlock_irqrestore(&win->lock, flags);
}

static void lbdma_sync(struct device *dev, dma_addr_t dma, size_t size,
		       bool for_cpu)
{
	struct loopback_window *win = lbdma_window(dev);
	struct lbdma_slot *slot;
	unsigned long flags;
	phys_addr_t orig = 0;
	u8 dir = DMA_NONE;
	long head;

	if (!win)
		return;
	spin_lock_irqsave(&win->lock, flags);
	head = lbdma_find_locked(win, dma, size, LBDMA_STREAM, false);
	if (head >= 0) {
		slot = &win->slots[head];
		orig = slot->orig + (dma - lbdma_start(win, head));
		dir = slot->dir;
	}
	spin_unlock_irqrestore(&win->lock, flags);
	if (head < 0) {
		dev_err_ratelimited(dev, "sync of %pad (%zu bytes): not a mapping of the window\n",
				    &dma, size);
		return;
	}

	/* The mapping's direction decides, whatever the caller passed. */
	if (for_cpu && lbdma_from_device(dir))
		lbdma_copy_out(win, dma - win->base, orig, size);
	else if (!for_cpu && lbdma_to_device(dir))
		lbdma_copy_in(win, dma - win->base, orig, size);
}

static dma_addr_t lbdma_map_page(struct device *dev, struct page *page,
				 unsigned long offset, size_t size,
				 enum dma_data_direction dir,
				 unsigned long attrs)
{
	struct loopback_window *win = lbdma_window(dev);
	int err;

	if (!win)
		return DMA_MAPPING_ERROR;
	loopback_dma_dev_track(dev);
	return lbdma_map(win, page_to_phys(page) + offset, size, dir, attrs,
			 &err);
}

static void lbdma_unmap_page(struct device *dev, dma_addr_t dma, size_t size,
			     enum dma_data_direction dir, unsigned long attrs)
{
	struct loopback_window *win = lbdma_window(dev);

	if (win)
		lbdma_unmap(dev, win, dma, size, attrs);
}

static int lbdma_map_sg(struct device *dev, struct scatterlist *sgl,
			int nents, enum dma_data_direction dir,
			unsigned long attrs)
{
	struct loopback_window *win = lbdma_window(dev);
	struct scatterlist *sg;
	int i, j, err = -EIO;

	if (!win)
		return -EIO;
	loopback_dma_dev_track(dev);
	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = lbdma_map(win, sg_phys(sg), sg->length, dir,
					    attrs, &err);
		if (sg->dma_address == DMA_MAPPING_ERROR)
			goto unwind;
		sg_dma_len(sg) = sg->length;
	}
	return nents;

unwind:
	for_each_sg(sgl, sg, i, j)
		lbdma_unmap(dev, win, sg->dma_address, sg_dma_len(sg),
			    attrs | DMA_ATTR_SKIP_CPU_SYNC);
	return err;
}

static void lbdma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			   int nents, enum dma_data_direction dir,
			   unsigned long attrs)
{
	struct loopback_window *win = lbdma_window(dev);
	struct scatterlist *sg;
	int i;

	if (!win)
		return;
	for_each_sg(sgl, sg, nents, i)
		lbdma_unmap(dev, win, sg->dma_address, sg_dma_len(sg), attrs);
}

static void lbdma_sync_single_for_cpu(struct device *dev, dma_addr_t dma,
				      size_t size, enum dma_data_direction dir)
{
	lbdma_sync(dev, dma, size, true);
}

static void lbdma_sync_single_for_device(struct device *dev, dma_addr_t dma,
					 size_t size,
					 enum dma_data_direction dir)
{
	lbdma_sync(dev, dma, size, false);
}

static void lbdma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
				  int nents, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		lbdma_sync(dev, sg->dma_address, sg_dma_len(sg), true);
}

static void lbdma_sync_sg_for_device(struct device *dev,
				     struct scatterlist *sgl, int nents,
				     enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		lbdma_sync(dev, sg->dma_address, sg_dma_len(sg), false);
}

/* The device reaches every address of its window, and nothing else. */
static int lbdma_dma_supported(struct device *dev, u64 mask)
{
	struct loopback_window *win = loopback_dma_dev_window(dev);

	return win && mask >= win->base + win->size - 1;
}

static u64 lbdma_get_required_mask(struct device *dev)
{
	struct loopback_window *win = loopback_dma_dev_window(dev);

	if (!win)
		return DMA_BIT_MASK(64);
	return DMA_BIT_MASK(fls64(win->base + win->size - 1));
}

/*
 * Half the window: a mapping this big still fits while the rings and
 * other mappings hold the rest, unless the device sets a smaller limit (a
 * block device's, loopback_blk.c).  This is the only size limit drivers
 * see: virtio_max_dma_size() reads it through dma_max_mapping_size(), and
 * virtio_blk makes it the disk's max_segment_size (test-blk A checks).
 * The parent has no dma_parms: a segment limit there would only matter
 * to an IOMMU merging scatterlists, which this window does not do.
 */
static size_t lbdma_max_mapping_size(struct device *dev)
{
	struct loopback_window *win = loopback_dma_dev_window(dev);
	size_t limit;

	if (!win)
		return PAGE_SIZE;
	limit = loopback_dma_dev_max_mapping(dev);
	if (limit)
		return limit;
	return max_t(size_t, PAGE_SIZE, (win->size / 2) & PAGE_MASK);
}

static const struct dma_map_ops loopback_dma_ops = {
	.alloc			= lbdma_alloc,
	.free			= lbdma_free,
	.map_page		= lbdma_map_page,
	.unmap_page		= lbdma_unmap_page,
	.map_sg			= lbdma_map_sg,
	.unmap_sg		= lbdma_unmap_sg,
	.sync_single_for_cpu	= lbdma_sync_single_for_cpu,
	.sync_single_for_device	= lbdma_sync_single_for_device,
	.sync_sg_for_cpu	= lbdma_sync_sg_for_cpu,
	.sync_sg_for_device	= lbdma_sync_sg_for_device,
	.dma_supported		= lbdma_dma_supported,
	.get_required_mask	= lbdma_get_required_mask,
	.max_mapping_size	= lbdma_max_mapping_size,
};

void loopback_window_reset(struct loopback_window *win)
{
	unsigned long flags, i;

	spin_lock_irqsave(&win->lock, flags);
	for (i = 0; i < win->npages; i++)
		if (win->slots[i].kind == LBDMA_STREAM &&
		    win->slots[i].head == i)
			win->slots[i].reset = true;
	spin_unlock_irqrestore(&win->lock, flags);
}

void loopback_window_bind(struct loopback_window *win, struct device *dma_dev)
{
	set_dma_ops(dma_dev, &loopback_dma_ops);
	dma_dev->coherent_dma_mask = DMA_BIT_MASK(64);
	if (!dma_dev->dma_mask)
		dma_dev->dma_mask = &dma_dev->coherent_dma_mask;
	*dma_dev->dma_mask = DMA_BIT_MASK(64);
}

/* ---- the window's files and mappings ---- */

/*
 * Every window has an inode of its own on a small pseudo file system of
 * the module (anon_inode_getfile() would share one inode system-wide).
 * The device fd's mappings and the window fds are files of that inode, so
 * its address space holds every user mapping of the window, and one
 * unmap_mapping_range() revokes them all.  The files hold a window
 * reference each, the inode none: the window holds the inode.
 */
#define LOOPBACK_WINDOW_FS_MAGIC	0x6c627766	/* "lbwf" */

static struct vfsmount *lbdma_mnt;

static int lbdma_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, LOOPBACK_WINDOW_FS_MAGIC) ? 0 : -ENOMEM;
}

/* No .owner: the module's own mount must not pin it. */
static struct file_system_type lbdma_fs_type = {
	.name		= "loopback_window",
	.init_fs_context = lbdma_init_fs_context,
	.kill_sb	= kill_anon_super,
};

int loopback_window_fs_init(void)
{
	lbdma_mnt = kern_mount(&lbdma_fs_type);
	return PTR_ERR_OR_ZERO(lbdma_mnt);
}

/*
 * Module exit: no window (and so no inode) is left, since every window
 * belongs to a device or a mapping, and both pin the module.
 */
void loopback_window_fs_exit(void)
{
	kern_unmount(lbdma_mnt);
}

int loopback_window_attach(struct loopback_window *win)
{
	struct inode *inode;

	inode = alloc_anon_inode(lbdma_mnt->mnt_sb);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	/* fstat(): st_size is the window, st_blksize the page size. */
	i_size_write(inode, win->size);
	win->inode = inode;
	mmgrab(current->mm);
	win->owner_mm = current->mm;
	return 0;
}

/* The page that stands for the whole window in other processes once revoked. */
static struct page *lbdma_scratch(struct loopback_window *win)
{
	struct page *page = READ_ONCE(win->scratch);

	if (page)
		return page;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return NULL;
	if (cmpxchg(&win->scratch, NULL, page)) {
		__free_page(page);
		page = READ_ONCE(win->scratch);
	}
	return page;
}

void loopback_window_revoke(struct loopback_window *win)
{
	unsigned long i;

	if (!win->inode)
		return;
	mutex_lock(&win->revoke_lock);
	if (win->revoked)
		goto out;
	WRITE_ONCE(win->revoked, true);
	/*
	 * A fault maps a window page with the page locked, after it saw
	 * @revoked false (lbdma_fault_page()).  Taking every page's lock once
	 * waits for those still installing their entry, which the unmap below
	 * then removes; later faults see @revoked.
	 */
	for (i = 0; i < win->npages; i++) {
		struct page *page = vmalloc_to_page(win->vaddr +
						    (i << PAGE_SHIFT));

		lock_page(page);
		unlock_page(page);
		if (!(i % 1024))
			cond_resched();
	}
	unmap_mapping_range(win->inode->i_mapping, 0, 0, 1);
out:
	mutex_unlock(&win->revoke_lock);
}

static void lbdma_vm_open(struct vm_area_struct *vma)
{
	loopback_window_get(vma->vm_private_data);
}

static void lbdma_vm_close(struct vm_area_struct *vma)
{
	loopback_window_put(vma->vm_private_data);
}

/*
 * After the revocation: the owner's accesses raise SIGBUS; any other
 * process (a back end serving other devices too) gets the scratch page,
 * so that it neither dies nor reaches the window.
 */
static vm_fault_t lbdma_fault_revoked(struct vm_fault *vmf)
{
	struct loopback_window *win = vmf->vma->vm_private_data;
	struct page *page;

	if (vmf->vma->vm_mm == win->owner_mm)
		return VM_FAULT_SIGBUS;
	page = lbdma_scratch(win);
	if (!page)
		return VM_FAULT_OOM;
	get_page(page);
	vmf->page = page;
	return 0;
}

/* Page @idx of the window, or what replaces it once revoked. */
static vm_fault_t lbdma_fault_page(struct vm_fault *vmf, unsigned long idx)
{
	struct loopback_window *win = vmf->vma->vm_private_data;
	struct page *page;

	if (idx >= win->npages)
		return VM_FAULT_SIGBUS;
	page = vmalloc_to_page(win->vaddr + (idx << PAGE_SHIFT));
	/* Held until the entry is in place; see loopback_window_revoke(). */
	lock_page(page);
	if (READ_ONCE(win->revoked)) {
		unlock_page(page);
		return lbdma_fault_revoked(vmf);
	}
	get_page(page);
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/*
 * The first write to a page through a user mapping (a write fault, or GUP
 * for writing) at window page @idx.  Read-only pages refuse it; any other
 * page is let through and noted as written for good.  The page has no
 * ->mapping: returning it locked is what keeps the fault code from
 * retrying for ever.
 *
 * @revoked is checked under the page lock, as in lbdma_fault_page(): a
 * write let through before the revocation locks the page has its entry in
 * place when the revocation's unmap runs.  Once revoked, the page is the
 * scratch page (a process other than the owner faulted it in after the
 * revocation), which no ring lives on and which takes any write; or a
 * window page whose read-only entry the revocation is about to remove:
 * the owner gets SIGBUS, anyone else retries and then faults in the
 * scratch page.
 */
static vm_fault_t lbdma_page_mkwrite(struct vm_fault *vmf, unsigned long idx)
{
	struct loopback_window *win = vmf->vma->vm_private_data;
	bool owner = vmf->vma->vm_mm == win->owner_mm;
	struct page *page = vmf->page;
	unsigned long flags;
	bool ro;

	if (idx >= win->npages)
		return VM_FAULT_SIGBUS;
	lock_page(page);
	if (READ_ONCE(win->revoked)) {
		if (!owner && page == READ_ONCE(win->scratch))
			return VM_FAULT_LOCKED;
		unlock_page(page);
		return owner ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
	}
	spin_lock_irqsave(&win->lock, flags);
	ro = win->slots[idx].ro;
	if (!ro)
		__set_bit(idx, win->wrote);
	spin_unlock_irqrestore(&win->lock, flags);
	if (ro) {
		unlock_page(page);
		return VM_FAULT_SIGBUS;
	}
	return VM_FAULT_LOCKED;
}

/*
 * Device fd: vmf->pgoff is the guest-physical page number.  The window
 * page, or npages below the window.
 */
static unsigned long lbdma_dev_fd_idx(struct vm_fault *vmf)
{
	struct loopback_window *win = vmf->vma->vm_private_data;
	unsigned long first = win->base >> PAGE_SHIFT;

	return vmf->pgoff < first ? win->npages : vmf->pgoff - first;
}

static vm_fault_t lbdma_vm_fault(struct vm_fault *vmf)
{
	return lbdma_fault_page(vmf, lbdma_dev_fd_idx(vmf));
}

static vm_fault_t lbdma_vm_page_mkwrite(struct vm_fault *vmf)
{
	return lbdma_page_mkwrite(vmf, lbdma_dev_fd_idx(vmf));
}

/* Window fd: file offset 0 is the window's first byte. */
static vm_fault_t lbdma_window_fd_fault(struct vm_fault *vmf)
{
	return lbdma_fault_page(vmf, vmf->pgoff);
}

static vm_fault_t lbdma_window_fd_page_mkwrite(struct vm_fault *vmf)
{
	return lbdma_page_mkwrite(vmf, vmf->pgoff);
}

static const struct vm_operations_struct lbdma_vm_ops = {
	.open		= lbdma_vm_open,
	.close		= lbdma_vm_close,
	.fault		= lbdma_vm_fault,
	.page_mkwrite	= lbdma_vm_page_mkwrite,
};

static const struct vm_operations_struct lbdma_window_fd_vm_ops = {
	.open		= lbdma_vm_open,
	.close		= lbdma_vm_close,
	.fault		= lbdma_window_fd_fault,
	.page_mkwrite	= lbdma_window_fd_page_mkwrite,
};

/* MAP_SHARED only, also of a read-only fd (VM_MAYSHARE without VM_SHARED). */
static int lbdma_mmap_setup(struct loopback_window *win,
			    struct vm_area_struct *vma,
			    const struct vm_operations_struct *ops)
{
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	loopback_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = ops;
	vma->vm_private_data = win;
	loopback_window_get(win);
	return 0;
}

static int lbdma_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	return lbdma_mmap_setup(file->private_data, vma,
				&lbdma_window_fd_vm_ops);
}

static int lbdma_file_release(struct inode *inode, struct file *file)
{
	loopback_window_put(file->private_data);
	return 0;
}

/* Pins the module: rmmod waits for the last mapping too. */
static const struct file_operations lbdma_file_fops = {
	.owner		= THIS_MODULE,
	.mmap		= lbdma_file_mmap,
	.release	= lbdma_file_release,
	.llseek		= noop_llseek,
};

struct file *loopback_window_file(struct loopback_window *win)
{
	struct file *file;

	/*
	 * alloc_file_pseudo() takes over the inode reference, and the
	 * file's release drops the module reference of its fops, only on
	 * success.
	 */
	__module_get(THIS_MODULE);
	ihold(win->inode);
	file = alloc_file_pseudo(win->inode, lbdma_mnt, "[loopback-window]",
				 O_RDWR, &lbdma_file_fops);
	if (IS_ERR(file)) {
		iput(win->inode);
		module_put(THIS_MODULE);
		return file;
	}
	file->private_data = win;
	loopback_window_get(win);	/* dropped at the file's release */
	return file;
}

int loopback_window_mmap(struct loopback_window *win,
			 struct vm_area_struct *vma)
{
	struct file *file;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/*
	 * The mapping must not keep the device fd's file alive: closing the
	 * last fd has to break and remove the device even while user space
	 * (or a backend it passed the fd to) still maps the window.  So the
	 * VMA gets a file of the window's inode, which holds only the window.
	 */
	file = loopback_window_file(win);
	if (IS_ERR(file))
		return PTR_ERR(file);
	vma_set_file(vma, file);
	fput(file);			/* vma_set_file took its own */
	return lbdma_mmap_setup(win, vma, &lbdma_vm_ops);
}
