// SPDX-License-Identifier: LGPL-2.1-or-later
/* Region initialisation, references and queries. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Reads as zero with MEMTX_DECODE_ERROR: accepts nothing. */
static bool lb_unassigned_accepts(void *opaque, hwaddr addr, unsigned size,
				  bool is_write, MemTxAttrs attrs)
{
	return false;
}

const MemoryRegionOps lb_unassigned_ops = {
	.valid.accepts = lb_unassigned_accepts,
	.endianness = DEVICE_NATIVE_ENDIAN,
};

/* What translation returns for an address nothing is mapped at. */
MemoryRegion lb_io_mem_unassigned = {
	.ops = &lb_unassigned_ops,
	.name = (char *)"unassigned",
	.size = (Int128)1 << 64,
	.refcount = 1,
	.initialized = true,
	.enabled = true,
	.terminates = true,
	.romd_mode = true,
};

bool lb_region_check(const MemoryRegion *mr, const char *func)
{
	if (G_UNLIKELY(!mr || !mr->initialized)) {
		g_critical("%s: memory region %p is not initialised", func,
			   (const void *)mr);
		return false;
	}
	return true;
}

static Int128 lb_size128(uint64_t size)
{
	/* QEMU's convention: UINT64_MAX stands for 2^64. */
	return size == UINT64_MAX ? int128_2_64() : int128_make64(size);
}

void lb_region_init_common(MemoryRegion *mr, void *owner, const char *name,
			   uint64_t size)
{
	memset(mr, 0, sizeof(*mr));
	mr->initialized = true;
	mr->enabled = true;
	mr->romd_mode = true;
	mr->refcount = 1;
	mr->owner = owner;
	mr->name = g_strdup(name ? name : "anonymous");
	mr->size = lb_size128(size);
	mr->ops = &lb_unassigned_ops;
}

LOOPBACK_API void memory_region_init(MemoryRegion *mr, void *owner,
				     const char *name, uint64_t size)
{
	g_return_if_fail(mr != NULL);
	lb_region_init_common(mr, owner, name, size);
}

static bool lb_ops_check(const MemoryRegionOps *ops, const char *name)
{
	if (ops->impl.unaligned && !ops->valid.unaligned) {
		g_critical("memory region %s: impl.unaligned requires valid.unaligned",
			   name);
		return false;
	}
	if (!ops->read && !ops->read_with_attrs) {
		g_critical("memory region %s: ops have no read callback", name);
		return false;
	}
	if (!ops->write && !ops->write_with_attrs) {
		g_critical("memory region %s: ops have no write callback", name);
		return false;
	}
	return true;
}

LOOPBACK_API void memory_region_init_io(MemoryRegion *mr, void *owner,
					const MemoryRegionOps *ops,
					void *opaque, const char *name,
					uint64_t size)
{
	g_return_if_fail(mr != NULL);
	/* A rejected ops struct leaves a reservation rather than a half region. */
	lb_region_init_common(mr, owner, name, size);
	mr->terminates = true;
	if (ops && lb_ops_check(ops, mr->name)) {
		mr->ops = ops;
		mr->opaque = opaque;
	}
}

static bool lb_init_ram_block(MemoryRegion *mr, void *owner, const char *name,
			      uint64_t size, RAMBlock *rb)
{
	lb_region_init_common(mr, owner, name, size);
	if (!rb) {
		/* Keep it a valid, empty reservation so that unref works. */
		mr->terminates = true;
		return false;
	}
	mr->ram = true;
	mr->terminates = true;
	/* a read-only mapping must never be a target of direct writes */
	mr->readonly = rb->flags & RAM_READONLY;
	mr->align = (uint64_t)sysconf(_SC_PAGESIZE);
	lb_ram_block_attach(rb, mr);
	return true;
}

LOOPBACK_API bool memory_region_init_ram_flags_nomigrate(MemoryRegion *mr,
							 void *owner,
							 const char *name,
							 uint64_t size,
							 uint32_t ram_flags,
							 GError **error)
{
	g_return_val_if_fail(mr != NULL, false);
	return lb_init_ram_block(mr, owner, name, size,
				 lb_ram_block_new_memfd(name, size, ram_flags,
							error));
}

LOOPBACK_API bool memory_region_init_ram_nomigrate(MemoryRegion *mr,
						   void *owner,
						   const char *name,
						   uint64_t size,
						   GError **error)
{
	return memory_region_init_ram_flags_nomigrate(mr, owner, name, size,
						      RAM_SHARED, error);
}

LOOPBACK_API bool memory_region_init_ram(MemoryRegion *mr, void *owner,
					 const char *name, uint64_t size,
					 GError **error)
{
	return memory_region_init_ram_nomigrate(mr, owner, name, size, error);
}

LOOPBACK_API bool memory_region_init_resizeable_ram(MemoryRegion *mr,
						    void *owner,
						    const char *name,
						    uint64_t size,
						    uint64_t max_size,
						    void (*resized)(const char *,
								    uint64_t,
								    void *),
						    GError **error)
{
	g_return_val_if_fail(mr != NULL, false);
	if (!lb_init_ram_block(mr, owner, name, size,
			       lb_ram_block_new_resizeable(name, size,
							   max_size, error)))
		return false;
	mr->ram_block->resized = resized;
	return true;
}

LOOPBACK_API void memory_region_init_ram_ptr(MemoryRegion *mr, void *owner,
					     const char *name, uint64_t size,
					     void *ptr)
{
	g_return_if_fail(mr != NULL);
	if (!ptr && size) {
		g_critical("%s: %s: NULL pointer", __func__, name);
		lb_region_init_common(mr, owner, name, size);
		mr->terminates = true;
		return;
	}
	lb_init_ram_block(mr, owner, name, size, lb_ram_block_new_ptr(size, ptr));
	mr->align = 0;
}

static uint64_t lb_ram_device_read(void *opaque, hwaddr addr, unsigned size)
{
	MemoryRegion *mr = opaque;

	return lb_load_he(mr->ram_block->host + addr, size);
}

static void lb_ram_device_write(void *opaque, hwaddr addr, uint64_t data,
				unsigned size)
{
	MemoryRegion *mr = opaque;

	lb_store_he(mr->ram_block->host + addr, size, data);
}

/* Device memory: accessed with exactly the guest's access size, never copied. */
static const MemoryRegionOps lb_ram_device_ops = {
	.read = lb_ram_device_read,
	.write = lb_ram_device_write,
	.endianness = DEVICE_NATIVE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8,
		   .unaligned = true },
	.impl = { .min_access_size = 1, .max_access_size = 8,
		  .unaligned = true },
};

LOOPBACK_API void memory_region_init_ram_device_ptr(MemoryRegion *mr,
						    void *owner,
						    const char *name,
						    uint64_t size, void *ptr)
{
	memory_region_init_ram_ptr(mr, owner, name, size, ptr);
	if (!mr->ram)
		return;
	mr->ram_device = true;
	mr->ops = &lb_ram_device_ops;
	mr->opaque = mr;
}

LOOPBACK_API bool memory_region_init_ram_from_fd(MemoryRegion *mr,
						 void *owner,
						 const char *name,
						 uint64_t size,
						 uint32_t ram_flags, int fd,
						 ram_addr_t offset,
						 GError **error)
{
	g_return_val_if_fail(mr != NULL, false);
	return lb_init_ram_block(mr, owner, name, size,
				 lb_ram_block_new_fd(size, ram_flags, fd,
						     offset, true, error));
}

LOOPBACK_API bool memory_region_init_ram_from_file(MemoryRegion *mr,
						   void *owner,
						   const char *name,
						   uint64_t size,
						   uint64_t align,
						   uint32_t ram_flags,
						   const char *path,
						   ram_addr_t offset,
						   GError **error)
{
	bool ro = ram_flags & RAM_READONLY;
	RAMBlock *rb = NULL;
	int fd;

	g_return_val_if_fail(mr != NULL && path != NULL, false);
	if (align & (align - 1)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s: alignment %" PRIu64 " is not a power of two",
			    name, align);
		goto out;
	}
	fd = open(path, (ro ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "%s: cannot open %s: %s", name, path,
			    g_strerror(err));
		goto out;
	}
	rb = lb_ram_block_new_fd(size, ram_flags, fd, offset, true, error);
	if (!rb)
		close(fd);
out:
	if (!lb_init_ram_block(mr, owner, name, size, rb))
		return false;
	if (align > mr->align)
		mr->align = align;
	return true;
}

LOOPBACK_API bool memory_region_init_rom_nomigrate(MemoryRegion *mr,
						   void *owner,
						   const char *name,
						   uint64_t size,
						   GError **error)
{
	if (!memory_region_init_ram_nomigrate(mr, owner, name, size, error))
		return false;
	mr->readonly = true;
	return true;
}

LOOPBACK_API bool memory_region_init_rom(MemoryRegion *mr, void *owner,
					 const char *name, uint64_t size,
					 GError **error)
{
	return memory_region_init_rom_nomigrate(mr, owner, name, size, error);
}

LOOPBACK_API bool memory_region_init_rom_device_nomigrate(MemoryRegion *mr,
							  void *owner,
							  const MemoryRegionOps *ops,
							  void *opaque,
							  const char *name,
							  uint64_t size,
							  GError **error)
{
	g_return_val_if_fail(mr != NULL && ops != NULL, false);
	if (!memory_region_init_ram_nomigrate(mr, owner, name, size, error))
		return false;
	/* Reads come from the RAM in ROMD mode; writes always trap. */
	mr->ram = false;
	mr->rom_device = true;
	if (lb_ops_check(ops, mr->name)) {
		mr->ops = ops;
		mr->opaque = opaque;
	}
	return true;
}

LOOPBACK_API bool memory_region_init_rom_device(MemoryRegion *mr, void *owner,
						const MemoryRegionOps *ops,
						void *opaque, const char *name,
						uint64_t size, GError **error)
{
	return memory_region_init_rom_device_nomigrate(mr, owner, ops, opaque,
						       name, size, error);
}

LOOPBACK_API void memory_region_init_alias(MemoryRegion *mr, void *owner,
					   const char *name,
					   MemoryRegion *orig, hwaddr offset,
					   uint64_t size)
{
	g_return_if_fail(mr != NULL);
	lb_region_init_common(mr, owner, name, size);
	if (!lb_region_check(orig, __func__))
		return;
	if (orig == mr) {
		g_critical("%s: %s cannot alias itself", __func__, mr->name);
		return;
	}
	memory_region_ref(orig);
	mr->alias = orig;
	mr->alias_offset = offset;
}

LOOPBACK_API void memory_region_ref(MemoryRegion *mr)
{
	if (!lb_region_check(mr, __func__))
		return;
	g_atomic_int_inc(&mr->refcount);
}

LOOPBACK_API void memory_region_unref(MemoryRegion *mr)
{
	int old;

	if (!lb_region_check(mr, __func__))
		return;
	/*
	 * Sequentially consistent: every thread's use of @mr before its
	 * unref happens-before the finalisation of the one that drops it
	 * to zero.
	 */
	do {
		old = g_atomic_int_get(&mr->refcount);
		if (old <= 0) {
			g_critical("%s: %s has no reference left", __func__,
				   mr->name);
			return;
		}
	} while (!g_atomic_int_compare_and_exchange(&mr->refcount, old,
						    old - 1));
	if (old == 1)
		lb_region_finalize(mr);
}

LOOPBACK_API void loopback_memory_region_set_free_notify(MemoryRegion *mr,
							 GDestroyNotify notify,
							 void *data)
{
	if (!lb_region_check(mr, __func__))
		return;
	mr->free_notify = notify;
	mr->free_data = data;
}

/* ---- queries ---- */

LOOPBACK_API const char *memory_region_name(const MemoryRegion *mr)
{
	return mr->name;
}

LOOPBACK_API uint64_t memory_region_size(MemoryRegion *mr)
{
	if (mr->size == int128_2_64())
		return UINT64_MAX;
	return (uint64_t)mr->size;
}

LOOPBACK_API void *memory_region_owner(MemoryRegion *mr)
{
	return mr->owner;
}

LOOPBACK_API bool memory_region_is_ram(MemoryRegion *mr)
{
	return mr->ram;
}

LOOPBACK_API bool memory_region_is_ram_device(MemoryRegion *mr)
{
	return mr->ram_device;
}

LOOPBACK_API bool memory_region_is_rom(MemoryRegion *mr)
{
	return mr->ram && mr->readonly;
}

LOOPBACK_API bool memory_region_is_romd(MemoryRegion *mr)
{
	return lb_region_is_romd(mr);
}

LOOPBACK_API bool memory_region_is_nonvolatile(MemoryRegion *mr)
{
	return mr->nonvolatile;
}

LOOPBACK_API bool memory_region_is_iommu(MemoryRegion *mr)
{
	return memory_region_get_iommu(mr) != NULL;
}

LOOPBACK_API bool memory_region_is_mapped(MemoryRegion *mr)
{
	return mr->container || mr->mapped_via_alias;
}

LOOPBACK_API bool memory_region_is_enabled(MemoryRegion *mr)
{
	return mr->enabled;
}

LOOPBACK_API bool memory_region_is_readonly(MemoryRegion *mr)
{
	return mr->readonly;
}

LOOPBACK_API bool memory_region_is_logging(MemoryRegion *mr, uint8_t client)
{
	return client < 8 && (lb_region_dirty_log_mask(mr) & (1u << client));
}

LOOPBACK_API uint8_t memory_region_get_dirty_log_mask(MemoryRegion *mr)
{
	return lb_region_dirty_log_mask(mr);
}

LOOPBACK_API MemoryRegion *memory_region_get_container(MemoryRegion *mr)
{
	return mr->container;
}

LOOPBACK_API MemoryRegion *memory_region_get_alias(MemoryRegion *mr)
{
	return mr->alias;
}

LOOPBACK_API hwaddr memory_region_get_alias_offset(MemoryRegion *mr)
{
	return mr->alias_offset;
}

LOOPBACK_API hwaddr memory_region_get_address(MemoryRegion *mr)
{
	return mr->addr;
}

LOOPBACK_API int memory_region_get_priority(MemoryRegion *mr)
{
	return mr->priority;
}

/* Follows aliases down to the region that owns the RAM. */
static MemoryRegion *lb_ram_owner(MemoryRegion *mr, hwaddr *offset)
{
	*offset = 0;
	while (mr->alias) {
		*offset += mr->alias_offset;
		mr = mr->alias;
	}
	return mr;
}

LOOPBACK_API void *memory_region_get_ram_ptr(MemoryRegion *mr)
{
	hwaddr offset;

	mr = lb_ram_owner(mr, &offset);
	if (!mr->ram_block) {
		g_critical("%s: %s has no RAM", __func__, mr->name);
		return NULL;
	}
	return mr->ram_block->host + offset;
}

LOOPBACK_API int memory_region_get_fd(MemoryRegion *mr)
{
	hwaddr offset;

	mr = lb_ram_owner(mr, &offset);
	return mr->ram_block ? mr->ram_block->fd : -1;
}

LOOPBACK_API uint64_t memory_region_get_alignment(const MemoryRegion *mr)
{
	return mr->ram_block ? mr->align : 0;
}

LOOPBACK_API ram_addr_t memory_region_get_ram_addr(MemoryRegion *mr)
{
	return mr->ram_block ? mr->ram_block->offset : ~(ram_addr_t)0;
}

const char *lb_region_type(const MemoryRegion *mr)
{
	while (mr->alias)
		mr = mr->alias;
	if (mr->ram_device)
		return "ramd";
	if (lb_region_is_romd(mr))
		return "romd";
	if (mr->ram && mr->readonly)
		return "rom";
	if (mr->ram)
		return "ram";
	return "i/o";
}
