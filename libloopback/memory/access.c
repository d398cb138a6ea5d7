// SPDX-License-Identifier: LGPL-2.1-or-later
/* Address-space accesses: translation, buffer reads and writes. */
#include "internal.h"

#include <string.h>

static hwaddr lb_pow2floor(hwaddr v)
{
	return v ? (hwaddr)1 << (63 - __builtin_clzll(v)) : 0;
}

/* The largest piece the region accepts at @addr: valid.max and alignment. */
hwaddr lb_access_size(const MemoryRegion *mr, hwaddr l, hwaddr addr)
{
	hwaddr max = mr->ops->valid.max_access_size ?: 4;

	if (!mr->ops->impl.unaligned) {
		hwaddr align = addr & -addr;

		if (align && align < max)
			max = align;
	}
	return lb_pow2floor(MIN(l, max));
}

LOOPBACK_API bool memory_access_is_direct(MemoryRegion *mr, bool is_write)
{
	if (!lb_region_check(mr, __func__))
		return false;
	return lb_region_is_direct(mr, is_write);
}

/* Inlined into its one caller: a call here is measurable on small reads. */
static inline __attribute__((always_inline)) MemTxResult
lb_flatview_read(FlatView *fv, hwaddr addr, MemTxAttrs attrs, uint8_t *buf,
		 hwaddr len)
{
	MemTxResult r = MEMTX_OK;

	while (len) {
		const FlatRange *fr;
		hwaddr xlat, l = len;
		MemoryRegion *mr = lb_translate_attrs(fv, addr, &xlat, &l, &fr,
						      false, attrs);

		if (lb_access_is_direct(fr, false)) {
			memcpy(buf, fr->host + xlat, l);
		} else {
			uint64_t val;

			l = lb_access_size(mr, l, xlat);
			r |= memory_region_dispatch_read(mr, xlat, &val,
							 size_memop(l), attrs);
			lb_store_he(buf, l, val);
		}
		len -= l;
		buf += l;
		addr += l;
	}
	return r;
}

static inline __attribute__((always_inline)) MemTxResult
lb_flatview_write(FlatView *fv, hwaddr addr, MemTxAttrs attrs,
		  const uint8_t *buf, hwaddr len)
{
	MemTxResult r = MEMTX_OK;

	while (len) {
		const FlatRange *fr;
		hwaddr xlat, l = len;
		MemoryRegion *mr = lb_translate_attrs(fv, addr, &xlat, &l, &fr,
						      true, attrs);

		if (lb_access_is_direct(fr, true)) {
			memcpy(fr->host + xlat, buf, l);
			if (G_UNLIKELY(fr->dirty_log_mask))
				lb_dirty_mark(mr, xlat, l, fr->dirty_log_mask);
		} else if (fr && fr->readonly && mr->ram) {
			/* RAM behind a readonly alias: dropped like a ROM write. */
			r |= MEMTX_DECODE_ERROR;
		} else {
			l = lb_access_size(mr, l, xlat);
			r |= memory_region_dispatch_write(mr, xlat,
							  lb_load_he(buf, l),
							  size_memop(l), attrs);
		}
		len -= l;
		buf += l;
		addr += l;
	}
	return r;
}

/*
 * The IOMMU path of flatview_translate(), out of line.  The arguments it
 * needs beyond the lookup's come packed in one word (bit 0 is_write, bit 1
 * "no len", attrs above): with more live registers the lookup no longer
 * fits in the call-clobbered ones, and every translation would pay for
 * saving the others.
 */
#define LB_PACK_WRITE	1u
#define LB_PACK_NOLEN	2u
#define LB_PACK_SHIFT	2

static __attribute__((noinline)) MemoryRegion *
lb_translate_iommu_tail(MemoryRegion *mr, hwaddr *xlat, hwaddr *len,
			uint64_t packed)
{
	const FlatRange *fr;
	hwaddr dummy = 1;
	uint32_t bits = packed >> LB_PACK_SHIFT;
	MemTxAttrs attrs;

	memcpy(&attrs, &bits, sizeof(attrs));
	return lb_translate_iommu(mr, xlat,
				  packed & LB_PACK_NOLEN ? &dummy : len, &fr,
				  packed & LB_PACK_WRITE, attrs, NULL, NULL);
}

LOOPBACK_API MemoryRegion *flatview_translate(FlatView *fv, hwaddr addr,
					      hwaddr *xlat, hwaddr *len,
					      bool is_write, MemTxAttrs attrs)
{
	const FlatRange *fr;
	hwaddr dummy = 1;
	uint32_t bits;
	uint64_t packed;
	MemoryRegion *mr;

	G_STATIC_ASSERT(sizeof(attrs) == sizeof(bits));
	memcpy(&bits, &attrs, sizeof(bits));
	packed = (uint64_t)bits << LB_PACK_SHIFT |
		 (is_write ? LB_PACK_WRITE : 0) | (len ? 0 : LB_PACK_NOLEN);
	/* pack now: is_write, attrs and len must not stay live below */
	__asm__("" : "+r"(packed));
	if (!len)
		len = &dummy;
	mr = lb_translate(fv, addr, xlat, len, &fr);
	/* len may point at this frame's dummy: the tail does not use it then */
	if (G_UNLIKELY(fr && fr->iommu))
		return lb_translate_iommu_tail(mr, xlat, len, packed);
	return mr;
}

LOOPBACK_API MemoryRegion *address_space_translate(AddressSpace *as,
						   hwaddr addr, hwaddr *xlat,
						   hwaddr *len, bool is_write,
						   MemTxAttrs attrs)
{
	return flatview_translate(rcu_dereference(as->current_map), addr, xlat,
				  len, is_write, attrs);
}

LOOPBACK_API MemTxResult address_space_read_full(AddressSpace *as,
						 hwaddr addr,
						 MemTxAttrs attrs, void *buf,
						 hwaddr len)
{
	MemTxResult r;

	if (!len)
		return MEMTX_OK;
	lb_rcu_read_lock();
	r = lb_flatview_read(rcu_dereference(as->current_map), addr, attrs,
			     buf, len);
	lb_rcu_read_unlock();
	return r;
}

LOOPBACK_API MemTxResult address_space_read(AddressSpace *as, hwaddr addr,
					    MemTxAttrs attrs, void *buf,
					    hwaddr len)
{
	return address_space_read_full(as, addr, attrs, buf, len);
}

LOOPBACK_API MemTxResult address_space_write(AddressSpace *as, hwaddr addr,
					     MemTxAttrs attrs,
					     const void *buf, hwaddr len)
{
	MemTxResult r;

	if (!len)
		return MEMTX_OK;
	lb_rcu_read_lock();
	r = lb_flatview_write(rcu_dereference(as->current_map), addr, attrs,
			      buf, len);
	lb_rcu_read_unlock();
	return r;
}

LOOPBACK_API MemTxResult address_space_rw(AddressSpace *as, hwaddr addr,
					  MemTxAttrs attrs, void *buf,
					  hwaddr len, bool is_write)
{
	if (is_write)
		return address_space_write(as, addr, attrs, buf, len);
	return address_space_read_full(as, addr, attrs, buf, len);
}

LOOPBACK_API MemTxResult address_space_write_rom(AddressSpace *as,
						 hwaddr addr,
						 MemTxAttrs attrs,
						 const void *buf, hwaddr len)
{
	const uint8_t *p = buf;
	FlatView *fv;

	lb_rcu_read_lock();
	fv = rcu_dereference(as->current_map);
	while (len) {
		const FlatRange *fr;
		hwaddr xlat, l = len;
		MemoryRegion *mr = lb_translate_attrs(fv, addr, &xlat, &l, &fr,
						      true, attrs);

		/* fr's copy of romd_mode: the region's may change meanwhile */
		if (mr->ram || (fr && fr->romd_mode && mr->rom_device)) {
			/*
			 * A ROM device's RAM is not clamped by translation.
			 * Measured from xlat: an IOMMU may have moved us.
			 */
			hwaddr left = fr->last - fr->start -
				      (xlat - fr->offset_in_region);

			if (!mr->ram && l - 1 > left)
				l = left + 1;
			memcpy(fr->host + xlat, p, l);
			if (G_UNLIKELY(fr->dirty_log_mask))
				lb_dirty_mark(mr, xlat, l, fr->dirty_log_mask);
		} else {
			l = lb_access_size(mr, l, xlat);
		}
		len -= l;
		p += l;
		addr += l;
	}
	lb_rcu_read_unlock();
	return MEMTX_OK;
}

LOOPBACK_API bool address_space_access_valid(AddressSpace *as, hwaddr addr,
					     hwaddr len, bool is_write,
					     MemTxAttrs attrs)
{
	bool ok = true;
	FlatView *fv;

	lb_rcu_read_lock();
	fv = rcu_dereference(as->current_map);
	while (len && ok) {
		const FlatRange *fr;
		hwaddr xlat, l = len;
		MemoryRegion *mr = lb_translate_attrs(fv, addr, &xlat, &l, &fr,
						      is_write, attrs);

		if (!lb_access_is_direct(fr, is_write)) {
			l = lb_access_size(mr, l, addr);
			ok = memory_region_access_valid(mr, xlat, l, is_write,
							attrs);
		}
		len -= l;
		addr += l;
	}
	lb_rcu_read_unlock();
	return ok;
}
