// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Walking one descriptor chain into a mapped element.  Every descriptor is
 * read once into local memory and checked before use: the driver (or
 * anything else with the window mapped) may change the table meanwhile.
 */
#include "virtio-internal.h"

#include <string.h>

typedef struct LbDesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} LbDesc;

/*
 * Growing iovecs.  Plain malloc, not GArray: GSlice hands blocks from one
 * thread to another behind ThreadSanitizer's back.
 */
typedef struct LbIov {
	struct iovec *v;
	unsigned int len;
	unsigned int cap;
} LbIov;

/* The element being built; iovecs grow as descriptors are mapped. */
typedef struct LbChain {
	LoopbackVirtqueue *vq;
	LbIov out;
	LbIov in;
	uint64_t total;		/* all lengths so far, checked against 4 GiB */
} LbChain;

static void lb_iov_append(LbIov *iov, void *base, size_t len)
{
	if (iov->len == iov->cap) {
		iov->cap = iov->cap ? 2 * iov->cap : 8;
		iov->v = g_renew(struct iovec, iov->v, iov->cap);
	}
	iov->v[iov->len++] = (struct iovec) { base, len };
}

static uint64_t lb_iov_sum(const LbIov *iov)
{
	uint64_t s = 0;

	for (unsigned int i = 0; i < iov->len; i++)
		s += iov->v[i].iov_len;
	return s;
}

static bool lb_desc_read(MemoryRegionCache *c, unsigned int i, LbDesc *d)
{
	uint8_t raw[16];

	if (address_space_read_cached(c, (hwaddr)i * 16, raw, 16) != MEMTX_OK)
		return false;
	memcpy(&d->addr, raw, 8);
	memcpy(&d->len, raw + 8, 4);
	memcpy(&d->flags, raw + 12, 2);
	memcpy(&d->next, raw + 14, 2);
	d->addr = GUINT64_FROM_LE(d->addr);
	d->len = GUINT32_FROM_LE(d->len);
	d->flags = GUINT16_FROM_LE(d->flags);
	d->next = GUINT16_FROM_LE(d->next);
	return true;
}

static void lb_iov_unmap(AddressSpace *as, LbIov *iov, bool is_write)
{
	for (unsigned int i = 0; i < iov->len; i++)
		address_space_unmap(as, iov->v[i].iov_base, iov->v[i].iov_len,
				    is_write, is_write ? iov->v[i].iov_len : 0);
	iov->len = 0;
}

static bool lb_chain_map(LbChain *ch, const LbDesc *d)
{
	AddressSpace *as = ch->vq->vdev->dma;
	bool is_write = d->flags & LOOPBACK_VRING_DESC_F_WRITE;
	LbIov *iov = is_write ? &ch->in : &ch->out;
	uint64_t addr = d->addr, len = d->len;

	if (!is_write && ch->in.len) {
		lb_vq_break(ch->vq, "a device-readable descriptor follows a "
			    "device-writable one");
		return false;
	}
	ch->total += len;
	if (ch->total > UINT32_MAX) {
		lb_vq_break(ch->vq, "the chain's lengths add up past 4 GiB");
		return false;
	}
	if (!lb_vq_is_ram(as, addr, len, is_write)) {
		lb_vq_break(ch->vq, "buffer %#" PRIx64 "+%#" PRIx64 " is "
			    "outside the window", addr, len);
		return false;
	}
	while (len) {
		hwaddr l = len;
		void *p = address_space_map(as, addr, &l, is_write,
					    LB_VIRTIO_ATTRS);

		if (!p || !l) {
			lb_vq_break(ch->vq, "buffer %#" PRIx64 " cannot be "
				    "mapped", addr);
			return false;
		}
		lb_iov_append(iov, p, l);
		addr += l;
		len -= l;
	}
	return true;
}

/*
 * Walks the chain from @head in the table @c of @size descriptors; @nested
 * says it is an indirect table.
 */
static bool lb_chain_walk(LbChain *ch, MemoryRegionCache *c,
			  unsigned int size, unsigned int head, bool nested);

static bool lb_chain_indirect(LbChain *ch, const LbDesc *d)
{
	LoopbackVirtqueue *vq = ch->vq;
	MemoryRegionCache table = MEMORY_REGION_CACHE_INVALID;
	bool ok;

	if (!vq->indirect) {
		lb_vq_break(vq, "an indirect descriptor, but INDIRECT_DESC was "
			    "not negotiated");
		return false;
	}
	if (d->flags & LOOPBACK_VRING_DESC_F_NEXT) {
		lb_vq_break(vq, "an indirect descriptor with NEXT set");
		return false;
	}
	if (!d->len || d->len % 16 || d->len / 16 > vq->num) {
		lb_vq_break(vq, "an indirect table of %u bytes (not a multiple "
			    "of 16 up to the queue's %u descriptors)", d->len,
			    vq->num);
		return false;
	}
	if (!lb_vq_is_ram(vq->vdev->dma, d->addr, d->len, false) ||
	    address_space_cache_init(&table, vq->vdev->dma, d->addr, d->len,
				     false) != d->len) {
		address_space_cache_destroy(&table);
		lb_vq_break(vq, "indirect table %#" PRIx64 "+%#x is outside "
			    "the window", d->addr, d->len);
		return false;
	}
	ok = lb_chain_walk(ch, &table, d->len / 16, 0, true);
	address_space_cache_destroy(&table);
	return ok;
}

static bool lb_chain_walk(LbChain *ch, MemoryRegionCache *c,
			  unsigned int size, unsigned int i, bool nested)
{
	LoopbackVirtqueue *vq = ch->vq;
	unsigned int count = 0;
	LbDesc d;

	for (;;) {
		/* the table has @size entries: one more means a loop */
		if (++count > size) {
			lb_vq_break(vq, "%s chain longer than its table of %u "
				    "descriptors, or a loop",
				    nested ? "an indirect" : "a", size);
			return false;
		}
		if (!lb_desc_read(c, i, &d)) {
			lb_vq_break(vq, "descriptor %u cannot be read", i);
			return false;
		}
		if (d.flags & LOOPBACK_VRING_DESC_F_INDIRECT) {
			if (nested) {
				lb_vq_break(vq, "an indirect descriptor inside "
					    "an indirect table");
				return false;
			}
			return lb_chain_indirect(ch, &d);
		}
		if (!lb_chain_map(ch, &d))
			return false;
		if (!(d.flags & LOOPBACK_VRING_DESC_F_NEXT))
			return true;
		if (d.next >= size) {
			lb_vq_break(vq, "descriptor %u's next %u is outside the "
				    "table of %u", i, d.next, size);
			return false;
		}
		i = d.next;
	}
}

LoopbackVirtqueueElement *lb_vq_map_chain(LoopbackVirtqueue *vq,
					  unsigned int head)
{
	LbChain ch = { .vq = vq };
	LoopbackVirtqueueElement *elem = NULL;
	size_t no, ni;

	if (!lb_chain_walk(&ch, &vq->desc, vq->num, head, false)) {
		lb_iov_unmap(vq->vdev->dma, &ch.out, false);
		lb_iov_unmap(vq->vdev->dma, &ch.in, true);
		goto out;
	}
	/* one allocation: the element, then its out and in iovecs */
	no = ch.out.len;
	ni = ch.in.len;
	elem = g_malloc0(sizeof(*elem) + (no + ni) * sizeof(struct iovec));
	elem->index = head;
	elem->out_num = no;
	elem->in_num = ni;
	elem->out_sg = (struct iovec *)(elem + 1);
	elem->in_sg = elem->out_sg + no;
	if (no)
		memcpy(elem->out_sg, ch.out.v, no * sizeof(struct iovec));
	if (ni)
		memcpy(elem->in_sg, ch.in.v, ni * sizeof(struct iovec));
	elem->out_len = lb_iov_sum(&ch.out);
	elem->in_len = lb_iov_sum(&ch.in);
out:
	g_free(ch.out.v);
	g_free(ch.in.v);
	return elem;
}

void lb_vq_unmap_element(LoopbackVirtqueue *vq, LoopbackVirtqueueElement *e,
			 uint64_t written)
{
	AddressSpace *as = vq->vdev->dma;

	for (unsigned int i = 0; i < e->out_num; i++)
		address_space_unmap(as, e->out_sg[i].iov_base,
				    e->out_sg[i].iov_len, false, 0);
	for (unsigned int i = 0; i < e->in_num; i++) {
		size_t l = MIN(written, e->in_sg[i].iov_len);

		address_space_unmap(as, e->in_sg[i].iov_base,
				    e->in_sg[i].iov_len, true, l);
		written -= l;
	}
}
