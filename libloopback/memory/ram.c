// SPDX-License-Identifier: LGPL-2.1-or-later
/* RAM blocks: memfd-, fd- and pointer-backed host memory of RAM regions. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Protects the block list and the ram_addr_t allocator. */
static GMutex lb_ram_lock;
static RAMBlock *lb_ram_blocks;
static ram_addr_t lb_ram_next_offset;

static bool lb_size_ok(uint64_t size, GError **error)
{
	/* mmap cannot map more than the address space; 2^64 is UINT64_MAX. */
	if (size > (uint64_t)PTRDIFF_MAX) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "RAM size %#" PRIx64 " is larger than %#tx",
			    size, (ptrdiff_t)PTRDIFF_MAX);
		return false;
	}
	return true;
}

static RAMBlock *lb_ram_block_map(uint64_t size, uint32_t flags, int fd,
				  ram_addr_t offset, bool owns_fd,
				  GError **error)
{
	bool ro = flags & RAM_READONLY;
	int prot = PROT_READ | (ro ? 0 : PROT_WRITE);
	int mflags = (flags & RAM_SHARED || fd >= 0) ? MAP_SHARED : MAP_PRIVATE;
	RAMBlock *rb;
	void *host;

	if (flags & RAM_NORESERVE)
		mflags |= MAP_NORESERVE;
	/* An empty region has nothing to map, and mmap refuses length 0. */
	host = size ? mmap(NULL, size, prot, mflags, fd, offset) : NULL;
	if (host == MAP_FAILED) {
		int err = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "cannot map %#" PRIx64 " bytes at offset %#" PRIx64
			    ": %s", size, offset, g_strerror(err));
		return NULL;
	}
	rb = g_new0(RAMBlock, 1);
	rb->host = host;
	rb->size = size;
	rb->max_size = size;
	rb->mapped_len = size;
	rb->fd = fd;
	rb->fd_offset = offset;
	rb->flags = flags;
	rb->owns_fd = owns_fd;
	return rb;
}

/* A memfd of @size bytes, mapped; NULL with @error set on failure. */
static RAMBlock *lb_ram_block_memfd(const char *name, uint64_t size,
				    uint32_t flags, GError **error)
{
	RAMBlock *rb;
	int fd;

	if (!lb_size_ok(size, error))
		return NULL;
	fd = memfd_create(name ? name : "loopback-ram", MFD_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "memfd_create: %s", g_strerror(err));
		return NULL;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		int err = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "cannot size memfd to %#" PRIx64 ": %s", size,
			    g_strerror(err));
		close(fd);
		return NULL;
	}
	rb = lb_ram_block_map(size, flags | RAM_SHARED, fd, 0, true, error);
	if (!rb)
		close(fd);
	return rb;
}

RAMBlock *lb_ram_block_new_memfd(const char *name, uint64_t size,
				 uint32_t flags, GError **error)
{
	return lb_ram_block_memfd(name, size, flags, error);
}

static uint64_t lb_host_page_align(uint64_t size)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) & ~(page - 1);
}

RAMBlock *lb_ram_block_new_resizeable(const char *name, uint64_t size,
				      uint64_t max_size, GError **error)
{
	RAMBlock *rb;

	/* QEMU keeps both lengths in whole host pages */
	if (size > max_size || !lb_size_ok(max_size, error) ||
	    lb_host_page_align(max_size) < max_size) {
		if (size > max_size)
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: size %#" PRIx64 " is larger than the "
				    "maximum %#" PRIx64, name, size, max_size);
		else if (error && !*error)
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "%s: maximum %#" PRIx64 " is too large",
				    name, max_size);
		return NULL;
	}
	rb = lb_ram_block_memfd(name, lb_host_page_align(max_size),
				RAM_RESIZEABLE, error);
	if (rb)
		rb->size = lb_host_page_align(size);
	return rb;
}

RAMBlock *lb_ram_block_new_fd(uint64_t size, uint32_t flags, int fd,
			      ram_addr_t offset, bool owns_fd, GError **error)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;

	if (!lb_size_ok(size, error))
		return NULL;
	if (fd < 0 || fstat(fd, &st) < 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_BADF,
			    "invalid file descriptor %d", fd);
		return NULL;
	}
	if (offset % (uint64_t)page) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "offset %#" PRIx64 " is not page aligned", offset);
		return NULL;
	}
	if (offset > UINT64_MAX - size) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "offset %#" PRIx64 " + size %#" PRIx64 " overflows",
			    offset, size);
		return NULL;
	}
	/* A regular file too short would SIGBUS on access: grow or refuse. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < offset + size) {
		if ((flags & RAM_READONLY) ||
		    ftruncate(fd, (off_t)(offset + size)) < 0) {
			g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				    "file is %jd bytes, %#" PRIx64
				    " needed and it cannot grow",
				    (intmax_t)st.st_size, offset + size);
			return NULL;
		}
	}
	return lb_ram_block_map(size, flags | RAM_SHARED, fd, offset, owns_fd,
				error);
}

RAMBlock *lb_ram_block_new_ptr(uint64_t size, void *ptr)
{
	RAMBlock *rb = g_new0(RAMBlock, 1);

	rb->host = ptr;
	rb->size = size;
	rb->max_size = size;
	rb->fd = -1;
	rb->flags = RAM_PREALLOC;
	return rb;
}

void lb_ram_block_attach(RAMBlock *rb, MemoryRegion *mr)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	rb->mr = mr;
	mr->ram_block = rb;
	g_mutex_lock(&lb_ram_lock);
	rb->offset = lb_ram_next_offset;
	/* ram_addr_t space only grows; wrap-around would take 2^64 bytes. */
	lb_ram_next_offset += (rb->max_size + page - 1) & ~(page - 1);
	rb->next = lb_ram_blocks;
	if (rb->next)
		rb->next->prev = rb;
	/* memory_region_from_host() walks the list without the lock */
	rcu_assign_pointer(lb_ram_blocks, rb);
	g_mutex_unlock(&lb_ram_lock);
}

void lb_ram_block_free(RAMBlock *rb)
{
	/* blocks never attached to a region are not on the list */
	g_mutex_lock(&lb_ram_lock);
	/*
	 * A reader still on this block after the unlink must not match an
	 * address that a later mapping reuses: it sees an empty block.
	 */
	__atomic_store_n(&rb->max_size, 0, __ATOMIC_RELAXED);
	if (rb->prev)
		rcu_assign_pointer(rb->prev->next, rb->next);
	else if (lb_ram_blocks == rb)
		rcu_assign_pointer(lb_ram_blocks, rb->next);
	if (rb->next)
		rb->next->prev = rb->prev;
	g_mutex_unlock(&lb_ram_lock);
	if (rb->mapped_len)
		munmap(rb->host, rb->mapped_len);
	if (rb->owns_fd && rb->fd >= 0)
		close(rb->fd);
	for (unsigned int c = 0; c < DIRTY_MEMORY_NUM; c++)
		g_free(rb->dirty[c]);
	/* readers may still be on it, and follow its ->next */
	lb_call_rcu(g_free, rb);
}

LOOPBACK_API MemoryRegion *memory_region_from_host(void *ptr,
						   ram_addr_t *offset)
{
	MemoryRegion *mr = NULL;
	uint8_t *p = ptr;

	/* on every virtqueue buffer's unmap: no lock, as QEMU's RCU list */
	lb_rcu_read_lock();
	for (RAMBlock *rb = rcu_dereference(lb_ram_blocks); rb;
	     rb = rcu_dereference(rb->next)) {
		uint64_t max = __atomic_load_n(&rb->max_size, __ATOMIC_RELAXED);

		/* QEMU looks up the whole reservation, not the used part */
		if (p >= rb->host && (uint64_t)(p - rb->host) < max) {
			mr = rb->mr;
			if (offset)
				*offset = (ram_addr_t)(p - rb->host);
			break;
		}
	}
	lb_rcu_read_unlock();
	return mr;
}

/* ---- resizing, syncing to the backing file, protection ---- */

/* @mr's RAM block, with a critical naming @func when it has none. */
static RAMBlock *lb_ram_block_of(MemoryRegion *mr, const char *func)
{
	if (!lb_region_check(mr, func))
		return NULL;
	if (!mr->ram_block) {
		g_critical("%s: %s is not a RAM region", func, mr->name);
		return NULL;
	}
	return mr->ram_block;
}

LOOPBACK_API void memory_region_ram_resize(MemoryRegion *mr,
					   ram_addr_t newsize,
					   GError **error)
{
	RAMBlock *rb = lb_ram_block_of(mr, __func__);
	uint64_t used, old;
	void (*resized)(const char *, uint64_t, void *);

	if (!rb)
		return;
	used = lb_host_page_align(newsize);
	lb_memory_lock();
	if (!lb_memory_change_allowed(__func__)) {
		lb_memory_unlock();
		return;
	}
	old = rb->size;
	/* a block that is not resizeable may be used in part of a page */
	if (used == lb_host_page_align(old)) {
		/*
		 * The block (whole pages) stays; the region follows the
		 * unaligned size, and the callback hears of it.
		 */
		if (newsize == memory_region_size(mr)) {
			lb_memory_unlock();
			return;
		}
	} else if (!(rb->flags & RAM_RESIZEABLE)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "Size mismatch: %s: %#" PRIx64 " != %#" PRIx64,
			    mr->name, used, old);
		lb_memory_unlock();
		return;
	} else if (used > rb->max_size || used < newsize) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "Size too large: %s: %#" PRIx64 " > %#" PRIx64,
			    mr->name, used, rb->max_size);
		lb_memory_unlock();
		return;
	} else {
		/* every page of the new length is dirty for every client */
		lb_dirty_clear_all(rb, old);
		__atomic_store_n(&rb->size, used, __ATOMIC_RELAXED);
		lb_dirty_mark(mr, 0, used, (1u << DIRTY_MEMORY_NUM) - 1);
	}
	memory_region_set_size(mr, newsize);
	resized = rb->resized;
	lb_memory_unlock();
	if (resized)
		resized(mr->name, newsize, rb->host);
}

LOOPBACK_API void memory_region_msync(MemoryRegion *mr, hwaddr addr,
				      hwaddr size)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	RAMBlock *rb;
	uint64_t used, start, end;

	if (!lb_region_check(mr, __func__))
		return;
	rb = mr->ram_block;
	if (!rb)
		return;
	used = lb_ram_used(rb);
	if (addr > used || size > used - addr) {
		/* QEMU asserts */
		g_critical("%s: [%#" PRIx64 ", +%#" PRIx64 ") is outside the "
			   "%#" PRIx64 " bytes of %s", __func__, addr, size,
			   used, mr->name);
		return;
	}
	if (rb->fd < 0 || !size)
		return;
	/* msync wants whole pages: widen to those the range touches */
	start = ((uintptr_t)rb->host + addr) & ~(page - 1);
	end = ((uintptr_t)rb->host + addr + size + page - 1) & ~(page - 1);
	if (msync((void *)(uintptr_t)start, end - start, MS_SYNC) < 0)
		g_warning("%s: %s: cannot sync [%#" PRIx64 ", +%#" PRIx64
			  "): %s", __func__, mr->name, addr, size,
			  g_strerror(errno));
}

LOOPBACK_API void memory_region_writeback(MemoryRegion *mr, hwaddr addr,
					  hwaddr size)
{
	if (!lb_region_check(mr, __func__))
		return;
	/* the region's own clients: global tracking does not count */
	if (__atomic_load_n(&mr->dirty_log_mask, __ATOMIC_RELAXED))
		memory_region_msync(mr, addr, size);
}

LOOPBACK_API bool memory_region_is_protected(MemoryRegion *mr)
{
	if (!lb_region_check(mr, __func__))
		return false;
	return mr->ram && (mr->ram_block->flags & RAM_PROTECTED);
}
