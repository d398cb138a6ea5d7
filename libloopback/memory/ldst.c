// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * address_space_ld*_* and st*_*: one access of 1, 2, 4 or 8 bytes.  When it
 * cannot be a plain RAM copy, or does not fit in the range it starts in, the
 * whole access goes to the region holding its first byte.
 */
#include "internal.h"

#include <string.h>

static uint64_t lb_ld(AddressSpace *as, hwaddr addr, MemTxAttrs attrs,
		      MemTxResult *result, unsigned size, MemOp end)
{
	const FlatRange *fr;
	hwaddr xlat, l = size;
	MemoryRegion *mr;
	MemTxResult r = MEMTX_OK;
	uint64_t val = 0;

	lb_rcu_read_lock();
	mr = lb_translate_attrs(rcu_dereference(as->current_map), addr, &xlat,
				&l, &fr, false, attrs);
	if (l < size || !lb_access_is_direct(fr, false)) {
		r = memory_region_dispatch_read(mr, xlat, &val,
						size_memop(size) | end, attrs);
	} else {
		memcpy(&val, fr->host + xlat, size);
#if G_BYTE_ORDER == G_BIG_ENDIAN
		val >>= 64 - size * 8;
#endif
		if (end != MO_TE)
			val = lb_bswap(val, size);
	}
	lb_rcu_read_unlock();
	if (result)
		*result = r;
	return val;
}

static void lb_st(AddressSpace *as, hwaddr addr, uint64_t val,
		  MemTxAttrs attrs, MemTxResult *result, unsigned size,
		  MemOp end)
{
	const FlatRange *fr;
	hwaddr xlat, l = size;
	MemoryRegion *mr;
	MemTxResult r = MEMTX_OK;

	lb_rcu_read_lock();
	mr = lb_translate_attrs(rcu_dereference(as->current_map), addr, &xlat,
				&l, &fr, true, attrs);
	if (l < size || !lb_access_is_direct(fr, true)) {
		if (fr && fr->readonly && mr->ram)
			r = MEMTX_DECODE_ERROR;
		else
			r = memory_region_dispatch_write(mr, xlat, val,
							 size_memop(size) | end,
							 attrs);
	} else {
		if (end != MO_TE)
			val = lb_bswap(val, size);
#if G_BYTE_ORDER == G_BIG_ENDIAN
		val <<= 64 - size * 8;
#endif
		memcpy(fr->host + xlat, &val, size);
		if (G_UNLIKELY(fr->dirty_log_mask))
			lb_dirty_mark(mr, xlat, size, fr->dirty_log_mask);
	}
	lb_rcu_read_unlock();
	if (result)
		*result = r;
}

#define LB_LD(name, type, size, end)					\
LOOPBACK_API type address_space_##name(AddressSpace *as, hwaddr addr,	\
				       MemTxAttrs attrs,		\
				       MemTxResult *result)		\
{									\
	return lb_ld(as, addr, attrs, result, size, end);		\
}

#define LB_ST(name, type, size, end)					\
LOOPBACK_API void address_space_##name(AddressSpace *as, hwaddr addr,	\
				       type val, MemTxAttrs attrs,	\
				       MemTxResult *result)		\
{									\
	lb_st(as, addr, val, attrs, result, size, end);			\
}

LB_LD(ldub, uint8_t, 1, MO_TE)
LB_LD(lduw_le, uint16_t, 2, MO_LE)
LB_LD(lduw_be, uint16_t, 2, MO_BE)
LB_LD(ldl_le, uint32_t, 4, MO_LE)
LB_LD(ldl_be, uint32_t, 4, MO_BE)
LB_LD(ldq_le, uint64_t, 8, MO_LE)
LB_LD(ldq_be, uint64_t, 8, MO_BE)
LB_ST(stb, uint8_t, 1, MO_TE)
LB_ST(stw_le, uint16_t, 2, MO_LE)
LB_ST(stw_be, uint16_t, 2, MO_BE)
LB_ST(stl_le, uint32_t, 4, MO_LE)
LB_ST(stl_be, uint32_t, 4, MO_BE)
LB_ST(stq_le, uint64_t, 8, MO_LE)
LB_ST(stq_be, uint64_t, 8, MO_BE)
