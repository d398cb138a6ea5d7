// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * One access to one region: validity, splitting or widening to what the
 * callbacks implement, byte order, and the re-entrancy guard.
 */

/*
 * Devices (owners, or regions without one) this thread is inside of.
 * Re-entrancy is a property of one thread's call chain, so no lock.  A
 * refusal is only a debug message: a misbehaving device can cause it at
 * will, and a warning would abort programs run with fatal warnings.
 */
#include "internal.h"

#define LB_GUARD_DEPTH 16
static __thread const void *lb_guard[LB_GUARD_DEPTH];
static __thread unsigned int lb_guard_depth;

static const void *lb_guard_key(const MemoryRegion *mr)
{
	return mr->owner ? mr->owner : (const void *)mr;
}

static bool lb_guard_enter(const MemoryRegion *mr)
{
	const void *key = lb_guard_key(mr);

	for (unsigned int i = 0; i < lb_guard_depth; i++) {
		if (lb_guard[i] == key) {
			g_debug("re-entrant access to %s refused", mr->name);
			return false;
		}
	}
	if (lb_guard_depth == LB_GUARD_DEPTH) {
		g_debug("access to %s nested %d devices deep, refused",
			mr->name, LB_GUARD_DEPTH);
		return false;
	}
	lb_guard[lb_guard_depth++] = key;
	return true;
}

static void lb_guard_leave(void)
{
	lb_guard_depth--;
}

LOOPBACK_API bool memory_region_access_valid(MemoryRegion *mr, hwaddr addr,
					     unsigned size, bool is_write,
					     MemTxAttrs attrs)
{
	const MemoryRegionOps *ops = mr->ops;

	if (ops->valid.accepts &&
	    !ops->valid.accepts(mr->opaque, addr, size, is_write, attrs))
		return false;
	if (!ops->valid.unaligned && (addr & (size - 1)))
		return false;
	/* No maximum: any size goes (the callbacks see impl-sized pieces). */
	if (!ops->valid.max_access_size)
		return true;
	return size <= ops->valid.max_access_size &&
	       size >= ops->valid.min_access_size;
}

static MemTxResult lb_read_piece(MemoryRegion *mr, hwaddr addr,
				 uint64_t *value, unsigned size, int shift,
				 uint64_t mask, MemTxAttrs attrs)
{
	const MemoryRegionOps *ops = mr->ops;
	MemTxResult r = MEMTX_OK;
	uint64_t tmp = 0;

	if (ops->read)
		tmp = ops->read(mr->opaque, addr, size);
	else
		r = ops->read_with_attrs(mr->opaque, addr, &tmp, size, attrs);
	tmp &= mask;
	*value |= shift >= 0 ? tmp << shift : tmp >> -shift;
	return r;
}

static MemTxResult lb_write_piece(MemoryRegion *mr, hwaddr addr,
				  uint64_t *value, unsigned size, int shift,
				  uint64_t mask, MemTxAttrs attrs)
{
	const MemoryRegionOps *ops = mr->ops;
	uint64_t tmp = (shift >= 0 ? *value >> shift : *value << -shift) & mask;

	if (ops->write) {
		ops->write(mr->opaque, addr, tmp, size);
		return MEMTX_OK;
	}
	return ops->write_with_attrs(mr->opaque, addr, tmp, size, attrs);
}

typedef MemTxResult (*lb_piece_fn)(MemoryRegion *mr, hwaddr addr,
				   uint64_t *value, unsigned size, int shift,
				   uint64_t mask, MemTxAttrs attrs);

static bool lb_big_endian(const MemoryRegion *mr)
{
#if G_BYTE_ORDER == G_BIG_ENDIAN
	return mr->ops->endianness != DEVICE_LITTLE_ENDIAN;
#else
	return mr->ops->endianness == DEVICE_BIG_ENDIAN;
#endif
}

/*
 * Calls the device with sizes it implements: a larger access becomes
 * several, in address order; a smaller one becomes one wider access at the
 * same address.  Pieces land in @value by the device's byte order.
 */
static MemTxResult lb_access_adjusted(MemoryRegion *mr, hwaddr addr,
				      uint64_t *value, unsigned size,
				      lb_piece_fn fn, MemTxAttrs attrs)
{
	unsigned min = mr->ops->impl.min_access_size ?: 1;
	unsigned max = mr->ops->impl.max_access_size ?: 4;
	unsigned as = MAX(MIN(size, max), min);
	uint64_t mask = as >= 8 ? UINT64_MAX : (1ull << (as * 8)) - 1;
	bool be = lb_big_endian(mr);
	MemTxResult r = MEMTX_OK;

	if (!mr->ram_device && !lb_guard_enter(mr))
		return MEMTX_ACCESS_ERROR;
	for (unsigned i = 0; i < size; i += as) {
		int shift = be ? ((int)size - (int)as - (int)i) * 8 : (int)i * 8;

		r |= fn(mr, addr + i, value, as, shift, mask, attrs);
	}
	if (!mr->ram_device)
		lb_guard_leave();
	return r;
}

static MemOp lb_device_memop(const MemoryRegion *mr)
{
	return lb_big_endian(mr) ? MO_BE : MO_LE;
}

uint64_t lb_adjust_endianness(const MemoryRegion *mr, uint64_t v, MemOp op)
{
	if ((op & MO_BSWAP) != lb_device_memop(mr))
		v = lb_bswap(v, memop_size(op));
	return v;
}

static bool lb_op_ok(MemOp op, const char *func)
{
	if (G_UNLIKELY(op & ~(MO_SIZE | MO_BSWAP))) {
		g_critical("%s: unsupported MemOp %#x", func, op);
		return false;
	}
	return true;
}

LOOPBACK_API MemTxResult memory_region_dispatch_read(MemoryRegion *mr,
						     hwaddr addr,
						     uint64_t *pval, MemOp op,
						     MemTxAttrs attrs)
{
	unsigned size = memop_size(op);
	MemTxResult r;

	*pval = 0;
	if (!lb_op_ok(op, __func__))
		return MEMTX_DECODE_ERROR;
	while (mr->alias) {
		addr += mr->alias_offset;
		mr = mr->alias;
	}
	/* QEMU's prepare_mmio_access() */
	if (G_UNLIKELY(lb_region_flushes_coalesced(mr)))
		qemu_flush_coalesced_mmio_buffer();
	if (!memory_region_access_valid(mr, addr, size, false, attrs))
		return MEMTX_DECODE_ERROR;
	r = lb_access_adjusted(mr, addr, pval, size, lb_read_piece, attrs);
	/* A widened access may bring neighbouring bytes: keep @size of them. */
	if (size < 8)
		*pval &= (1ull << (size * 8)) - 1;
	*pval = lb_adjust_endianness(mr, *pval, op);
	return r;
}

LOOPBACK_API MemTxResult memory_region_dispatch_write(MemoryRegion *mr,
						      hwaddr addr,
						      uint64_t data, MemOp op,
						      MemTxAttrs attrs)
{
	unsigned size = memop_size(op);

	if (!lb_op_ok(op, __func__))
		return MEMTX_DECODE_ERROR;
	while (mr->alias) {
		addr += mr->alias_offset;
		mr = mr->alias;
	}
	if (G_UNLIKELY(lb_region_flushes_coalesced(mr)))
		qemu_flush_coalesced_mmio_buffer();
	if (!memory_region_access_valid(mr, addr, size, true, attrs))
		return MEMTX_DECODE_ERROR;
	if (size < 8)
		data &= (1ull << (size * 8)) - 1;
	data = lb_adjust_endianness(mr, data, op);
	/* a matching ioeventfd takes the write instead of the device */
	if (lb_ioeventfd_signal(mr, addr, data, size))
		return MEMTX_OK;
	return lb_access_adjusted(mr, addr, &data, size, lb_write_piece,
				  attrs);
}
