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
	rb->mapped_len = size;
	rb->fd = fd;
	rb->fd_offset = offset;
	rb->flags = flags;
	rb->owns_fd = owns_fd;
	return rb;
}

RAMBlock *lb_ram_block_new_memfd(const char *name, uint64_t size,
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
	lb_ram_next_offset += (rb->size + page - 1) & ~(page - 1);
	rb->next = lb_ram_blocks;
	if (rb->next)
		rb->next->prev = rb;
	lb_ram_blocks = rb;
	g_mutex_unlock(&lb_ram_lock);
}

void lb_ram_block_free(RAMBlock *rb)
{
	/* blocks never attached to a region are not on the list */
	g_mutex_lock(&lb_ram_lock);
	if (rb->prev)
		rb->prev->next = rb->next;
	else if (lb_ram_blocks == rb)
		lb_ram_blocks = rb->next;
	if (rb->next)
		rb->next->prev = rb->prev;
	g_mutex_unlock(&lb_ram_lock);
	if (rb->mapped_len)
		munmap(rb->host, rb->mapped_len);
	if (rb->owns_fd && rb->fd >= 0)
		close(rb->fd);
	for (unsigned int c = 0; c < DIRTY_MEMORY_NUM; c++)
		g_free(rb->dirty[c]);
	g_free(rb);
}

LOOPBACK_API MemoryRegion *memory_region_from_host(void *ptr,
						   ram_addr_t *offset)
{
	MemoryRegion *mr = NULL;
	uint8_t *p = ptr;

	g_mutex_lock(&lb_ram_lock);
	for (RAMBlock *rb = lb_ram_blocks; rb; rb = rb->next) {
		if (p >= rb->host && (uint64_t)(p - rb->host) < rb->size) {
			mr = rb->mr;
			if (offset)
				*offset = (ram_addr_t)(p - rb->host);
			break;
		}
	}
	g_mutex_unlock(&lb_ram_lock);
	return mr;
}
