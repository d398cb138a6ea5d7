// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * MemoryRegionCache: one translation kept for repeated access to a range.
 * Direct RAM keeps a host pointer; anything else (MMIO, an IOMMU, a ROM
 * for writing) goes through the normal dispatch of the address space, so
 * every rule of that path applies.  Accesses outside the cached length are
 * refused with a critical (QEMU asserts).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

LOOPBACK_API int64_t address_space_cache_init(MemoryRegionCache *cache,
					      AddressSpace *as, hwaddr addr,
					      hwaddr len, bool is_write)
{
	const FlatRange *fr;
	MemoryRegion *mr;
	FlatView *fv;
	hwaddr xlat, l;

	if (!cache) {
		g_critical("%s: NULL cache", __func__);
		return -EINVAL;
	}
	/* A failed init leaves a cache that destroy accepts. */
	*cache = MEMORY_REGION_CACHE_INVALID;
	if (!as || !as->root) {
		g_critical("%s: address space %p is not initialised", __func__,
			   (void *)as);
		return -EINVAL;
	}
	if (!len) {
		g_critical("%s: empty range at %#" PRIx64, __func__, addr);
		return -EINVAL;
	}
	if (len - 1 > HWADDR_MAX - addr)
		len = HWADDR_MAX - addr + 1;
	l = len;
	lb_rcu_read_lock();
	fv = rcu_dereference(as->current_map);
	mr = lb_translate(fv, addr, &xlat, &l, &fr);
	if (!fr) {
		lb_rcu_read_unlock();
		return -EFAULT;
	}
	if (lb_access_is_direct(fr, is_write)) {
		l = lb_map_extend(fv, fr, addr, xlat, l, len, is_write,
				  MEMTXATTRS_UNSPECIFIED);
		cache->ptr = fr->host + xlat;
	} else if (l - 1 > fr->last - addr) {
		/* QEMU: the cache ends with the section it starts in. */
		l = fr->last - addr + 1;
	}
	memory_region_ref(mr);
	cache->mrs = (MemoryRegionSection) {
		.size = l,
		.mr = mr,
		.offset_within_region = xlat,
		.offset_within_address_space = addr,
		.readonly = fr->readonly,
		.nonvolatile = fr->nonvolatile,
	};
	lb_rcu_read_unlock();
	cache->xlat = xlat;
	cache->len = l;
	cache->as = as;
	cache->addr = addr;
	cache->is_write = is_write;
	return (int64_t)l;
}

LOOPBACK_API void address_space_cache_destroy(MemoryRegionCache *cache)
{
	MemoryRegion *mr;

	if (!cache) {
		g_critical("%s: NULL cache", __func__);
		return;
	}
	mr = cache->mrs.mr;
	if (!mr)
		return;
	/* Later accesses find an empty cache, not a stale pointer. */
	*cache = MEMORY_REGION_CACHE_INVALID;
	memory_region_unref(mr);
}

static bool lb_cache_range(const MemoryRegionCache *cache, hwaddr addr,
			   hwaddr len, const char *func)
{
	/* mrs.mr first: an invalid cache has length 0, which 0 bytes fit */
	if (G_LIKELY(cache && cache->mrs.mr && addr <= cache->len &&
		     len <= cache->len - addr))
		return true;
	if (!cache)
		g_critical("%s: NULL cache", func);
	else if (!cache->mrs.mr)
		g_critical("%s: the cache is not initialised", func);
	else
		g_critical("%s: %#" PRIx64 "+%#" PRIx64 " is outside the "
			   "%#" PRIx64 "-byte cache", func, addr, len,
			   cache->len);
	return false;
}

static bool lb_cache_writable(const MemoryRegionCache *cache,
			      const char *func)
{
	if (G_LIKELY(cache->is_write))
		return true;
	g_critical("%s: the cache was initialised for reading", func);
	return false;
}

static void lb_cache_dirty(const MemoryRegionCache *cache, hwaddr addr,
			   hwaddr len)
{
	uint8_t mask = memory_region_get_dirty_log_mask(cache->mrs.mr);

	if (G_UNLIKELY(mask))
		lb_dirty_mark(cache->mrs.mr, cache->xlat + addr, len, mask);
}

LOOPBACK_API void address_space_cache_invalidate(MemoryRegionCache *cache,
						 hwaddr addr,
						 hwaddr access_len)
{
	if (!lb_cache_range(cache, addr, access_len, __func__) ||
	    !lb_cache_writable(cache, __func__))
		return;
	/* Dispatched writes have marked their pages already. */
	if (cache->ptr && access_len)
		lb_cache_dirty(cache, addr, access_len);
}

LOOPBACK_API MemTxResult address_space_read_cached(MemoryRegionCache *cache,
						   hwaddr addr, void *buf,
						   hwaddr len)
{
	if (!lb_cache_range(cache, addr, len, __func__))
		return MEMTX_DECODE_ERROR;
	if (G_LIKELY(cache->ptr)) {
		memcpy(buf, cache->ptr + addr, len);
		return MEMTX_OK;
	}
	return address_space_read(cache->as, cache->addr + addr,
				  MEMTXATTRS_UNSPECIFIED, buf, len);
}

LOOPBACK_API MemTxResult address_space_write_cached(MemoryRegionCache *cache,
						    hwaddr addr,
						    const void *buf,
						    hwaddr len)
{
	if (!lb_cache_range(cache, addr, len, __func__) ||
	    !lb_cache_writable(cache, __func__))
		return MEMTX_DECODE_ERROR;
	if (G_LIKELY(cache->ptr)) {
		memcpy(cache->ptr + addr, buf, len);
		if (len)
			lb_cache_dirty(cache, addr, len);
		return MEMTX_OK;
	}
	return address_space_write(cache->as, cache->addr + addr,
				   MEMTXATTRS_UNSPECIFIED, buf, len);
}

/* @v in host order to (@be ? big : little) endian order, or back. */
static uint64_t lb_order(uint64_t v, unsigned int size, bool be)
{
	return be == (G_BYTE_ORDER == G_BIG_ENDIAN) ? v : lb_bswap(v, size);
}

/* The slow paths: the address space's own ld/st, whole op to one region. */
static uint64_t lb_ld_dispatch(const MemoryRegionCache *cache, hwaddr addr,
			       unsigned int size, bool be, MemTxAttrs attrs,
			       MemTxResult *result)
{
	AddressSpace *as = cache->as;

	addr += cache->addr;
	switch (size) {
	case 1:
		return address_space_ldub(as, addr, attrs, result);
	case 2:
		return be ? address_space_lduw_be(as, addr, attrs, result) :
			    address_space_lduw_le(as, addr, attrs, result);
	case 4:
		return be ? address_space_ldl_be(as, addr, attrs, result) :
			    address_space_ldl_le(as, addr, attrs, result);
	default:
		return be ? address_space_ldq_be(as, addr, attrs, result) :
			    address_space_ldq_le(as, addr, attrs, result);
	}
}

static void lb_st_dispatch(const MemoryRegionCache *cache, hwaddr addr,
			   uint64_t val, unsigned int size, bool be,
			   MemTxAttrs attrs, MemTxResult *result)
{
	AddressSpace *as = cache->as;

	addr += cache->addr;
	switch (size) {
	case 1:
		address_space_stb(as, addr, val, attrs, result);
		break;
	case 2:
		if (be)
			address_space_stw_be(as, addr, val, attrs, result);
		else
			address_space_stw_le(as, addr, val, attrs, result);
		break;
	case 4:
		if (be)
			address_space_stl_be(as, addr, val, attrs, result);
		else
			address_space_stl_le(as, addr, val, attrs, result);
		break;
	default:
		if (be)
			address_space_stq_be(as, addr, val, attrs, result);
		else
			address_space_stq_le(as, addr, val, attrs, result);
		break;
	}
}

static uint64_t lb_ld_cached(MemoryRegionCache *cache, hwaddr addr,
			     unsigned int size, bool be, MemTxAttrs attrs,
			     MemTxResult *result, const char *func)
{
	if (!lb_cache_range(cache, addr, size, func)) {
		if (result)
			*result = MEMTX_DECODE_ERROR;
		return 0;
	}
	if (G_LIKELY(cache->ptr)) {
		if (result)
			*result = MEMTX_OK;
		return lb_order(lb_load_he(cache->ptr + addr, size), size, be);
	}
	return lb_ld_dispatch(cache, addr, size, be, attrs, result);
}

static void lb_st_cached(MemoryRegionCache *cache, hwaddr addr, uint64_t val,
			 unsigned int size, bool be, MemTxAttrs attrs,
			 MemTxResult *result, const char *func)
{
	if (!lb_cache_range(cache, addr, size, func) ||
	    !lb_cache_writable(cache, func)) {
		if (result)
			*result = MEMTX_DECODE_ERROR;
		return;
	}
	if (G_LIKELY(cache->ptr)) {
		lb_store_he(cache->ptr + addr, size, lb_order(val, size, be));
		lb_cache_dirty(cache, addr, size);
		if (result)
			*result = MEMTX_OK;
		return;
	}
	lb_st_dispatch(cache, addr, val, size, be, attrs, result);
}

#define LB_LD_CACHED(name, type, size, be)				\
LOOPBACK_API type address_space_##name##_cached(MemoryRegionCache *cache, \
						hwaddr addr,		\
						MemTxAttrs attrs,	\
						MemTxResult *result)	\
{									\
	return lb_ld_cached(cache, addr, size, be, attrs, result,	\
			    __func__);					\
}

#define LB_ST_CACHED(name, type, size, be)				\
LOOPBACK_API void address_space_##name##_cached(MemoryRegionCache *cache, \
						hwaddr addr, type val,	\
						MemTxAttrs attrs,	\
						MemTxResult *result)	\
{									\
	lb_st_cached(cache, addr, val, size, be, attrs, result,	\
		     __func__);						\
}

LB_LD_CACHED(ldub, uint8_t, 1, false)
LB_LD_CACHED(lduw_le, uint16_t, 2, false)
LB_LD_CACHED(lduw_be, uint16_t, 2, true)
LB_LD_CACHED(ldl_le, uint32_t, 4, false)
LB_LD_CACHED(ldl_be, uint32_t, 4, true)
LB_LD_CACHED(ldq_le, uint64_t, 8, false)
LB_LD_CACHED(ldq_be, uint64_t, 8, true)
LB_ST_CACHED(stb, uint8_t, 1, false)
LB_ST_CACHED(stw_le, uint16_t, 2, false)
LB_ST_CACHED(stw_be, uint16_t, 2, true)
LB_ST_CACHED(stl_le, uint32_t, 4, false)
LB_ST_CACHED(stl_be, uint32_t, 4, true)
LB_ST_CACHED(stq_le, uint64_t, 8, false)
LB_ST_CACHED(stq_be, uint64_t, 8, true)
