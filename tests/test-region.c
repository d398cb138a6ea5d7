/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Regions: the init variants and their queries, RAM backed by memfd, fd,
 * file or pointer, sizes 0 and 2^64, setters, and the reference counting
 * and free notify of the header's "Lifetime" paragraph.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED

static int owner_token;

/* Drops the last reference of heap region @mr: it must be finalised. */
static void unref_expect_finalised(MemoryRegion *mr)
{
	unsigned int n = 0;

	loopback_memory_region_set_free_notify(mr, lbt_count_notify, &n);
	memory_region_unref(mr);
	loopback_memory_drain();
	g_assert_cmpuint(n, ==, 1);
	g_free(mr);
}

/* What every freshly initialised, unmapped region answers. */
static void check_fresh(MemoryRegion *mr, const char *name, uint64_t size)
{
	g_assert_cmpstr(memory_region_name(mr), ==, name);
	g_assert_cmphex(memory_region_size(mr), ==, size);
	g_assert_false(memory_region_is_mapped(mr));
	g_assert_true(memory_region_is_enabled(mr));
	g_assert_null(memory_region_get_container(mr));
	g_assert_cmphex(memory_region_get_address(mr), ==, 0);
	g_assert_cmpint(memory_region_get_priority(mr), ==, 0);
	g_assert_false(memory_region_is_iommu(mr));
	g_assert_false(memory_region_is_nonvolatile(mr));
	g_assert_cmpuint(memory_region_get_dirty_log_mask(mr), ==, 0);
}

/* A container or io region owned by owner_token: no kind of memory. */
static void check_not_memory(MemoryRegion *mr)
{
	g_assert_true(memory_region_owner(mr) == &owner_token);
	g_assert_false(memory_region_is_ram(mr));
	g_assert_false(memory_region_is_rom(mr));
	g_assert_false(memory_region_is_romd(mr));
	g_assert_false(memory_region_is_ram_device(mr));
}

static void test_init_container(void)
{
	MemoryRegion mr;

	memory_region_init(&mr, &owner_token, "cont", 0x1000);
	check_fresh(&mr, "cont", 0x1000);
	check_not_memory(&mr);
	g_assert_false(memory_region_is_readonly(&mr));
	g_assert_null(memory_region_get_alias(&mr));
	g_assert_cmpuint(memory_region_get_alignment(&mr), ==, 0);
	memory_region_unref(&mr);
	loopback_memory_drain();
}

static void test_init_io(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion mr;

	memory_region_init_io(&mr, &owner_token, &w->ops, &w->dev, "io", 0x10);
	check_fresh(&mr, "io", 0x10);
	check_not_memory(&mr);
	g_assert_cmpuint(memory_region_get_alignment(&mr), ==, 0);
	memory_region_unref(&mr);
	lbt_world_free(w);
}

typedef bool (*ram_init_fn)(MemoryRegion *mr, const char *name, uint64_t size,
			    GError **error);

static bool init_ram(MemoryRegion *mr, const char *name, uint64_t size,
		     GError **error)
{
	return memory_region_init_ram(mr, &owner_token, name, size, error);
}

static bool init_ram_nomigrate(MemoryRegion *mr, const char *name,
			       uint64_t size, GError **error)
{
	return memory_region_init_ram_nomigrate(mr, &owner_token, name, size,
						error);
}

static bool init_ram_flags(MemoryRegion *mr, const char *name, uint64_t size,
			   GError **error)
{
	return memory_region_init_ram_flags_nomigrate(mr, &owner_token, name,
						      size, RAM_SHARED, error);
}

/* RAM: zero-filled host memory, an fd, readable through an address space. */
static void test_init_ram(gconstpointer data)
{
	ram_init_fn fn = (ram_init_fn)data;
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;
	ram_addr_t off = 1;
	uint8_t *p, buf[4];
	unsigned int i;

	g_assert_true(fn(mr, "ram", 0x3000, &err));
	g_assert_no_error(err);
	lbt_world_keep(w, mr);
	check_fresh(mr, "ram", 0x3000);
	g_assert_true(memory_region_owner(mr) == &owner_token);
	g_assert_true(memory_region_is_ram(mr));
	g_assert_false(memory_region_is_rom(mr));
	g_assert_false(memory_region_is_romd(mr));
	g_assert_false(memory_region_is_ram_device(mr));
	g_assert_false(memory_region_is_readonly(mr));
	g_assert_cmpint(memory_region_get_fd(mr), >=, 0);
	p = memory_region_get_ram_ptr(mr);
	g_assert_nonnull(p);
	for (i = 0; i < 0x3000; i++)
		if (p[i])
			g_assert_cmphex(p[i], ==, 0);
	g_assert_true(memory_region_from_host(p + 0x1234, &off) == mr);
	g_assert_cmphex(off, ==, 0x1234);

	memory_region_add_subregion(w->root, 0x100000, mr);
	memcpy(p + 0x10, "\x01\x02\x03\x04", 4);
	g_assert_cmpuint(address_space_read(w->as, 0x100010, ATTRS, buf, 4), ==,
			 MEMTX_OK);
	g_assert_cmpmem(buf, 4, "\x01\x02\x03\x04", 4);
	lbt_world_free(w);
}

/* The memfd behind RAM is the same memory: a mapping of it sees both ways. */
static void test_ram_fd_shared(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_new_ram(w, "ram", 0x2000);
	int fd = memory_region_get_fd(mr);
	uint8_t *map, buf[8];

	g_assert_cmpint(fd, >=, 0);
	memory_region_add_subregion(w->root, 0x4000, mr);
	map = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	g_assert_true(map != MAP_FAILED);
	memcpy(map + 0x1ff8, "fdwrites", 8);
	g_assert_cmpuint(address_space_read(w->as, 0x5ff8, ATTRS, buf, 8), ==,
			 MEMTX_OK);
	g_assert_cmpmem(buf, 8, "fdwrites", 8);
	g_assert_cmpuint(address_space_write(w->as, 0x4000, ATTRS, "aswrites", 8),
			 ==, MEMTX_OK);
	g_assert_cmpmem(map, 8, "aswrites", 8);
	munmap(map, 0x2000);
	lbt_world_free(w);
}

static void test_init_ram_ptr(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_region_alloc();
	static uint8_t mem[0x1000];
	uint8_t buf[4];

	memory_region_init_ram_ptr(mr, &owner_token, "ptr", sizeof(mem), mem);
	lbt_world_keep(w, mr);
	check_fresh(mr, "ptr", sizeof(mem));
	g_assert_true(memory_region_is_ram(mr));
	g_assert_false(memory_region_is_ram_device(mr));
	g_assert_true(memory_region_get_ram_ptr(mr) == mem);
	g_assert_cmpint(memory_region_get_fd(mr), ==, -1);
	memory_region_add_subregion(w->root, 0x2000, mr);
	memcpy(mem + 0x800, "\xaa\xbb\xcc\xdd", 4);
	g_assert_cmpuint(address_space_read(w->as, 0x2800, ATTRS, buf, 4), ==,
			 MEMTX_OK);
	g_assert_cmpmem(buf, 4, mem + 0x800, 4);
	g_assert_cmpuint(address_space_write(w->as, 0x2ffe, ATTRS, "zz", 2), ==,
			 MEMTX_OK);
	g_assert_cmpmem(mem + 0xffe, 2, "zz", 2);
	lbt_world_free(w);
}

/* ram_device: RAM that is accessed through callbacks, never directly;
 * bytes still read and write in memory order. */
static void test_init_ram_device_ptr(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_region_alloc();
	static uint8_t mem[0x100];
	uint8_t buf[8];
	unsigned int i;

	for (i = 0; i < sizeof(mem); i++)
		mem[i] = i;
	memory_region_init_ram_device_ptr(mr, &owner_token, "dev", sizeof(mem),
					  mem);
	lbt_world_keep(w, mr);
	check_fresh(mr, "dev", sizeof(mem));
	g_assert_true(memory_region_is_ram(mr));
	g_assert_true(memory_region_is_ram_device(mr));
	g_assert_true(memory_region_get_ram_ptr(mr) == mem);
	memory_region_add_subregion(w->root, 0x3000, mr);
	g_assert_cmpuint(address_space_read(w->as, 0x3003, ATTRS, buf, 8), ==,
			 MEMTX_OK);
	g_assert_cmpmem(buf, 8, mem + 3, 8);
	g_assert_cmpuint(address_space_write(w->as, 0x3011, ATTRS, "ramdevic", 8),
			 ==, MEMTX_OK);
	g_assert_cmpmem(mem + 0x11, 8, "ramdevic", 8);
	g_assert_cmphex(address_space_ldl_le(w->as, 0x3020, ATTRS, NULL), ==,
			0x23222120);
	lbt_world_free(w);
}

static void test_init_rom(gconstpointer data)
{
	bool nomigrate = GPOINTER_TO_INT(data);
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;
	bool ok;

	if (nomigrate)
		ok = memory_region_init_rom_nomigrate(mr, &owner_token, "rom",
						      0x1000, &err);
	else
		ok = memory_region_init_rom(mr, &owner_token, "rom", 0x1000, &err);
	g_assert_true(ok);
	g_assert_no_error(err);
	check_fresh(mr, "rom", 0x1000);
	g_assert_true(memory_region_is_ram(mr));
	g_assert_true(memory_region_is_rom(mr));
	g_assert_true(memory_region_is_readonly(mr));
	g_assert_false(memory_region_is_romd(mr));
	g_assert_nonnull(memory_region_get_ram_ptr(mr));
	unref_expect_finalised(mr);
}

static void test_init_rom_device(gconstpointer data)
{
	bool nomigrate = GPOINTER_TO_INT(data);
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;
	bool ok;

	if (nomigrate)
		ok = memory_region_init_rom_device_nomigrate(mr, &owner_token,
							     &w->ops, &w->dev,
							     "romd", 0x1000,
							     &err);
	else
		ok = memory_region_init_rom_device(mr, &owner_token, &w->ops,
						   &w->dev, "romd", 0x1000,
						   &err);
	g_assert_true(ok);
	g_assert_no_error(err);
	lbt_world_keep(w, mr);
	check_fresh(mr, "romd", 0x1000);
	g_assert_true(memory_region_owner(mr) == &owner_token);
	g_assert_false(memory_region_is_ram(mr));
	g_assert_false(memory_region_is_rom(mr));
	g_assert_true(memory_region_is_romd(mr));
	g_assert_nonnull(memory_region_get_ram_ptr(mr));
	memory_region_rom_device_set_romd(mr, false);
	g_assert_false(memory_region_is_romd(mr));
	memory_region_rom_device_set_romd(mr, true);
	g_assert_true(memory_region_is_romd(mr));
	lbt_world_free(w);
}

static void test_init_alias(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x4000);
	MemoryRegion *a = lbt_region_alloc();

	memory_region_init_alias(a, &owner_token, "alias", ram, 0x1000, 0x800);
	lbt_world_keep(w, a);
	check_fresh(a, "alias", 0x800);
	g_assert_true(memory_region_owner(a) == &owner_token);
	g_assert_true(memory_region_get_alias(a) == ram);
	g_assert_cmphex(memory_region_get_alias_offset(a), ==, 0x1000);
	g_assert_null(memory_region_get_alias(ram));
	lbt_world_free(w);
}

/* Size 0 is legal and renders nothing; UINT64_MAX means 2^64. */
static void test_size_zero(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *z = lbt_new_io(w, "z", 0);
	MemoryRegion *c = lbt_new_container(w, "c", 0);

	g_assert_cmphex(memory_region_size(z), ==, 0);
	g_assert_cmphex(memory_region_size(c), ==, 0);
	memory_region_add_subregion(w->root, 0x1000, z);
	memory_region_add_subregion(w->root, 0x2000, c);
	g_assert_true(memory_region_is_mapped(z));
	lbt_assert_flat(w->as, NULL, "");
	lbt_world_free(w);
}

static void test_size_2_64(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *big = lbt_new_io(w, "big", UINT64_MAX);
	MemoryRegion *a = lbt_new_alias(w, "a", big, 0, UINT64_MAX);
	GArray *r;

	g_assert_cmphex(memory_region_size(w->root), ==, UINT64_MAX);
	g_assert_cmphex(memory_region_size(big), ==, UINT64_MAX);
	g_assert_cmphex(memory_region_size(a), ==, UINT64_MAX);
	memory_region_add_subregion(w->root, 0, a);
	r = lbt_flat_ranges(w->as);
	g_assert_cmpuint(r->len, ==, 1);
	g_assert_true(g_array_index(r, LbtRange, 0).mr == big);
	g_assert_true(g_array_index(r, LbtRange, 0).start == 0);
	g_assert_true(g_array_index(r, LbtRange, 0).len == LBT_2_64);
	g_array_free(r, TRUE);
	lbt_assert_flat(w->as, NULL, "big[0,10000000000000000)@0");
	lbt_world_free(w);
}

static void test_set_size(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_set_size(x, 0x3000);
	g_assert_cmphex(memory_region_size(x), ==, 0x3000);
	memory_region_add_subregion(w->root, 0x10000, x);
	lbt_assert_flat(w->as, NULL, "x[10000,13000)@0");
	memory_region_set_size(x, UINT64_MAX);
	g_assert_cmphex(memory_region_size(x), ==, UINT64_MAX);
	lbt_assert_flat(w->as, NULL, "x[10000,10000000000000000)@0");
	memory_region_set_size(x, 0);
	g_assert_cmphex(memory_region_size(x), ==, 0);
	lbt_assert_flat(w->as, NULL, "");
	lbt_world_free(w);
}

static void test_set_address(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	/* outside a container the address is only remembered */
	memory_region_set_address(x, 0x5000);
	g_assert_cmphex(memory_region_get_address(x), ==, 0x5000);
	memory_region_add_subregion(w->root, 0x8000, x);
	g_assert_cmphex(memory_region_get_address(x), ==, 0x8000);
	lbt_assert_flat(w->as, NULL, "x[8000,9000)@0");
	memory_region_set_address(x, 0x9000);
	g_assert_cmphex(memory_region_get_address(x), ==, 0x9000);
	lbt_assert_flat(w->as, NULL, "x[9000,a000)@0");
	lbt_world_free(w);
}

static void test_setters_and_getters(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *c = lbt_new_container(w, "c", 0x10000);
	MemoryRegion *x = lbt_new_io(w, "x", 0x1000);

	memory_region_add_subregion_overlap(c, 0x2000, x, -3);
	memory_region_add_subregion(w->root, 0, c);
	g_assert_true(memory_region_get_container(x) == c);
	g_assert_true(memory_region_get_container(c) == w->root);
	g_assert_cmpint(memory_region_get_priority(x), ==, -3);
	g_assert_cmphex(memory_region_get_address(x), ==, 0x2000);
	g_assert_true(memory_region_is_mapped(x));

	memory_region_set_readonly(x, true);
	g_assert_true(memory_region_is_readonly(x));
	memory_region_set_readonly(x, false);
	g_assert_false(memory_region_is_readonly(x));
	memory_region_set_nonvolatile(x, true);
	g_assert_true(memory_region_is_nonvolatile(x));
	memory_region_set_enabled(x, false);
	g_assert_false(memory_region_is_enabled(x));
	memory_region_set_enabled(x, true);
	g_assert_true(memory_region_is_enabled(x));
	g_assert_false(memory_region_is_logging(x, 0));

	memory_region_del_subregion(c, x);
	g_assert_null(memory_region_get_container(x));
	g_assert_false(memory_region_is_mapped(x));
	/* add_subregion (no overlap) gives priority 0 again */
	memory_region_add_subregion(c, 0x3000, x);
	g_assert_cmpint(memory_region_get_priority(x), ==, 0);
	lbt_world_free(w);
}

/* A temporary file of @len bytes, byte i = i * 7; returns its fd. */
static int temp_file(gsize len, char **path)
{
	GError *err = NULL;
	uint8_t *data = g_malloc(len);
	gsize i;
	int fd;

	fd = g_file_open_tmp("loopback-test-XXXXXX", path, &err);
	g_assert_no_error(err);
	g_assert_cmpint(fd, >=, 0);
	for (i = 0; i < len; i++)
		data[i] = i * 7;
	g_assert_cmpint(pwrite(fd, data, len, 0), ==, (ssize_t)len);
	g_free(data);
	return fd;
}

static void temp_file_remove(int fd, char *path)
{
	close(fd);
	unlink(path);
	g_free(path);
}

/* File content at @off as the file has it. */
static void assert_file_bytes(int fd, off_t off, const void *expected,
			      size_t len)
{
	uint8_t buf[64];

	g_assert_cmpuint(len, <=, sizeof(buf));
	g_assert_cmpint(pread(fd, buf, len, off), ==, (ssize_t)len);
	g_assert_cmpmem(buf, len, expected, len);
}

/* init_ram_from_fd at a file offset, RAM_SHARED: writes reach the file. */
static void test_ram_from_fd(void)
{
	long page = sysconf(_SC_PAGESIZE);
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;
	char *path;
	int fd = temp_file(3 * page, &path);
	int rfd = dup(fd);
	uint8_t buf[4], want[4];
	unsigned int i;

	g_assert_true(memory_region_init_ram_from_fd(mr, NULL, "fdram", 2 * page,
						     RAM_SHARED, rfd, page,
						     &err));
	g_assert_no_error(err);
	lbt_world_keep(w, mr);
	g_assert_true(memory_region_is_ram(mr));
	g_assert_cmphex(memory_region_size(mr), ==, 2 * page);
	g_assert_cmpint(memory_region_get_fd(mr), ==, rfd);
	memory_region_add_subregion(w->root, 0x100000, mr);
	/* region offset 0 is file offset page */
	g_assert_cmpuint(address_space_read(w->as, 0x100010, ATTRS, buf, 4), ==,
			 MEMTX_OK);
	for (i = 0; i < 4; i++)
		want[i] = (page + 0x10 + i) * 7;
	g_assert_cmpmem(buf, 4, want, 4);
	g_assert_cmpuint(address_space_write(w->as, 0x100020, ATTRS, "fdrw", 4),
			 ==, MEMTX_OK);
	assert_file_bytes(fd, page + 0x20, "fdrw", 4);
	lbt_world_free(w);
	temp_file_remove(fd, path);
}

static void test_ram_from_file(void)
{
	long page = sysconf(_SC_PAGESIZE);
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;
	char *path;
	int fd = temp_file(4 * page, &path);
	uint8_t b = 0;

	g_assert_true(memory_region_init_ram_from_file(mr, NULL, "file",
						       2 * page, 4 * page,
						       RAM_SHARED, path,
						       2 * page, &err));
	g_assert_no_error(err);
	lbt_world_keep(w, mr);
	g_assert_true(memory_region_is_ram(mr));
	g_assert_false(memory_region_is_rom(mr));
	g_assert_cmpint(memory_region_get_fd(mr), >=, 0);
	g_assert_cmphex(memory_region_get_alignment(mr), ==, 4 * page);
	memory_region_add_subregion(w->root, 0x200000, mr);
	g_assert_cmphex(address_space_ldub(w->as, 0x200005, ATTRS, NULL), ==,
			(uint8_t)((2 * page + 5) * 7));
	address_space_stb(w->as, 0x200006, 0xee, ATTRS, NULL);
	b = 0xee;
	assert_file_bytes(fd, 2 * page + 6, &b, 1);
	lbt_world_free(w);
	temp_file_remove(fd, path);
}

/* QEMU: the alignment of file RAM is at least the file's page size. */
static void test_ram_from_file_default_alignment(void)
{
	long page = sysconf(_SC_PAGESIZE);
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;
	char *path;
	int fd = temp_file(page, &path);

	g_assert_true(memory_region_init_ram_from_file(mr, NULL, "file", page,
						       0, RAM_SHARED, path, 0,
						       &err));
	g_assert_no_error(err);
	g_assert_cmphex(memory_region_get_alignment(mr), ==, page);
	unref_expect_finalised(mr);
	temp_file_remove(fd, path);
}

/*
 * A failed init still leaves an initialised (empty, non-RAM) region that
 * holds the caller's reference, like a successful one: unref releases it.
 */
static void test_ram_from_file_missing(void)
{
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;

	g_assert_false(memory_region_init_ram_from_file(mr, NULL, "nofile",
							0x1000, 0, RAM_SHARED,
							"/nonexistent/loopback/x",
							0, &err));
	g_assert_nonnull(err);
	g_clear_error(&err);
	g_assert_false(memory_region_is_ram(mr));
	g_assert_false(memory_region_is_mapped(mr));
	unref_expect_finalised(mr);
}

/*
 * RAM_READONLY maps the file read-only: the region is a ROM, so a write is
 * refused (not direct) instead of faulting.  Run in a subprocess: a library
 * that writes through the read-only mapping dies of SIGSEGV.
 */
static void test_ram_from_file_readonly(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t want = 3 * 7;

	if (g_test_subprocess()) {
		LbtWorld *w = lbt_world_new(UINT64_MAX);
		MemoryRegion *mr = lbt_region_alloc();
		GError *err = NULL;
		char *path;
		int fd = temp_file(page, &path);

		g_assert_true(memory_region_init_ram_from_file(mr, NULL, "ro",
							       page, 0,
							       RAM_SHARED |
							       RAM_READONLY,
							       path, 0, &err));
		g_assert_no_error(err);
		/* the region has the file open; a crash leaves nothing behind */
		unlink(path);
		lbt_world_keep(w, mr);
		g_assert_true(memory_region_is_rom(mr));
		memory_region_add_subregion(w->root, 0x1000, mr);
		g_assert_cmphex(address_space_ldub(w->as, 0x1003, ATTRS, NULL),
				==, want);
		g_assert_cmpuint(address_space_write(w->as, 0x1003, ATTRS,
						     "x", 1), ==,
				 MEMTX_DECODE_ERROR);
		assert_file_bytes(fd, 3, &want, 1);
		lbt_world_free(w);
		temp_file_remove(fd, path);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
}

static void test_from_host_unknown(void)
{
	int local;
	ram_addr_t off;

	g_assert_null(memory_region_from_host(&local, &off));
}

/* ---- lifetime ---- */

/* The free notify runs once, after the last reference goes. */
static void test_notify_after_last_unref(void)
{
	MemoryRegion *mr = lbt_region_alloc();
	unsigned int n = 0;

	memory_region_init(mr, NULL, "c", 0x1000);
	loopback_memory_region_set_free_notify(mr, lbt_count_notify, &n);
	memory_region_ref(mr);
	memory_region_unref(mr);
	loopback_memory_drain();
	g_assert_cmpuint(n, ==, 0);
	g_assert_cmpstr(memory_region_name(mr), ==, "c");
	memory_region_unref(mr);
	loopback_memory_drain();
	g_assert_cmpuint(n, ==, 1);
	g_free(mr);
}

/* io region x at 0x1000 in w's root, counted by @n; the caller's ref dropped. */
static MemoryRegion *map_counted_io(LbtWorld *w, unsigned int *n)
{
	MemoryRegion *x = lbt_region_alloc();

	memory_region_init_io(x, NULL, &w->ops, &w->dev, "x", 0x1000);
	loopback_memory_region_set_free_notify(x, lbt_count_notify, n);
	memory_region_add_subregion(w->root, 0x1000, x);
	memory_region_unref(x);
	return x;
}

/* A container holds a reference on each subregion. */
static void test_container_holds_child(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	unsigned int n = 0;
	MemoryRegion *x = map_counted_io(w, &n);

	loopback_memory_drain();
	g_assert_cmpuint(n, ==, 0);
	g_assert_true(memory_region_is_mapped(x));
	lbt_assert_flat(w->as, NULL, "x[1000,2000)@0");
	memory_region_del_subregion(w->root, x);
	loopback_memory_drain();
	g_assert_cmpuint(n, ==, 1);
	lbt_assert_flat(w->as, NULL, "");
	g_free(x);
	lbt_world_free(w);
}

typedef struct Reader {
	AddressSpace *as;
	GMutex lock;
	GCond cond;
	int stage;		/* 1: holding the old view, 2: may release it */
	char *seen;
} Reader;

static void reader_set(Reader *r, int stage)
{
	g_mutex_lock(&r->lock);
	r->stage = stage;
	g_cond_broadcast(&r->cond);
	g_mutex_unlock(&r->lock);
}

static void reader_wait(Reader *r, int stage)
{
	g_mutex_lock(&r->lock);
	while (r->stage < stage)
		g_cond_wait(&r->cond, &r->lock);
	g_mutex_unlock(&r->lock);
}

static bool first_name(Int128 start, Int128 len, const MemoryRegion *mr,
		       hwaddr off, void *opaque)
{
	char **seen = opaque;

	*seen = g_strdup(memory_region_name((MemoryRegion *)mr));
	return true;
}

static gpointer reader_thread(gpointer data)
{
	Reader *r = data;
	FlatView *fv;

	loopback_rcu_read_lock();
	fv = address_space_to_flatview(r->as);
	reader_set(r, 1);
	reader_wait(r, 2);
	/* the replaced view and its regions are still valid here */
	flatview_for_each_range(fv, first_name, &r->seen);
	loopback_rcu_read_unlock();
	return NULL;
}

/*
 * A flat view holds its regions until the grace period after the commit
 * that replaced it: a reader that still has the old view keeps them alive.
 */
static void test_flat_view_holds_region(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	Reader r = { .as = w->as };
	unsigned int n = 0;
	MemoryRegion *x = map_counted_io(w, &n);
	GThread *t;

	g_mutex_init(&r.lock);
	g_cond_init(&r.cond);

	t = g_thread_new("reader", reader_thread, &r);
	reader_wait(&r, 1);
	memory_region_del_subregion(w->root, x);
	lbt_assert_flat(w->as, NULL, "");
	g_assert_cmpuint(n, ==, 0);
	reader_set(&r, 2);
	g_thread_join(t);
	g_assert_cmpstr(r.seen, ==, "x");
	loopback_memory_drain();
	g_assert_cmpuint(n, ==, 1);
	g_free(r.seen);
	g_free(x);
	g_mutex_clear(&r.lock);
	g_cond_clear(&r.cond);
	lbt_world_free(w);
}

/* An alias holds a reference on its target. */
static void test_alias_holds_target(void)
{
	MemoryRegion *t = lbt_region_alloc(), *a = lbt_region_alloc();
	unsigned int nt = 0, na = 0;

	memory_region_init(t, NULL, "t", 0x1000);
	memory_region_init_alias(a, NULL, "a", t, 0, 0x1000);
	loopback_memory_region_set_free_notify(t, lbt_count_notify, &nt);
	loopback_memory_region_set_free_notify(a, lbt_count_notify, &na);
	memory_region_unref(t);
	loopback_memory_drain();
	g_assert_cmpuint(nt, ==, 0);
	g_assert_true(memory_region_get_alias(a) == t);
	memory_region_unref(a);
	loopback_memory_drain();
	g_assert_cmpuint(na, ==, 1);
	g_assert_cmpuint(nt, ==, 1);
	g_free(a);
	g_free(t);
}

/* Finalising a container detaches (and so releases) its subregions. */
static void test_container_finalize_detaches(void)
{
	MemoryRegion *c = lbt_region_alloc(), *x = lbt_region_alloc();
	unsigned int nc = 0, nx = 0;

	memory_region_init(c, NULL, "c", 0x1000);
	memory_region_init(x, NULL, "x", 0x100);
	loopback_memory_region_set_free_notify(c, lbt_count_notify, &nc);
	loopback_memory_region_set_free_notify(x, lbt_count_notify, &nx);
	memory_region_add_subregion(c, 0, x);
	memory_region_ref(x);
	memory_region_unref(x);
	memory_region_unref(x);
	loopback_memory_drain();
	g_assert_cmpuint(nx, ==, 0);
	memory_region_unref(c);
	loopback_memory_drain();
	g_assert_cmpuint(nc, ==, 1);
	g_assert_cmpuint(nx, ==, 1);
	g_free(c);
	g_free(x);
}

/* The notify may free the storage; ASan sees any later use. */
static void test_notify_may_free(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	unsigned int live = lbt_live();
	MemoryRegion *ram = lbt_region_alloc();
	MemoryRegion *a = lbt_region_alloc();
	GError *err = NULL;

	g_assert_true(memory_region_init_ram(ram, NULL, "ram", 0x2000, &err));
	g_assert_no_error(err);
	lbt_track(ram);
	memory_region_init_alias(a, NULL, "a", ram, 0x1000, 0x1000);
	lbt_track(a);
	memory_region_add_subregion(w->root, 0, ram);
	memory_region_add_subregion(w->root, 0x4000, a);
	g_assert_cmpuint(lbt_live(), ==, live + 2);
	memory_region_unref(ram);
	memory_region_unref(a);
	memory_region_del_subregion(w->root, ram);
	lbt_assert_flat(w->as, NULL, "ram[4000,5000)@1000");
	memory_region_del_subregion(w->root, a);
	lbt_drain();
	g_assert_cmpuint(lbt_live(), ==, live);
	lbt_world_free(w);
}

/* Everything a world made is gone after lbt_world_free(). */
static void test_world_leaves_nothing(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *c = lbt_new_container(w, "c", 0x10000);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x1000);

	memory_region_add_subregion(c, 0x100, lbt_new_io(w, "x", 0x10));
	memory_region_add_subregion(c, 0x1000, ram);
	memory_region_add_subregion(w->root, 0, c);
	memory_region_add_subregion(w->root, 0x20000,
				    lbt_new_alias(w, "a", ram, 0, 0x1000));
	g_assert_cmpuint(lbt_live(), >=, 5);
	lbt_world_free(w);
	g_assert_cmpuint(lbt_live(), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* report every failing test, not only the first */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/region/init/container", test_init_container);
	g_test_add_func("/region/init/io", test_init_io);
	g_test_add_data_func("/region/init/ram", init_ram, test_init_ram);
	g_test_add_data_func("/region/init/ram-nomigrate", init_ram_nomigrate,
			     test_init_ram);
	g_test_add_data_func("/region/init/ram-flags-nomigrate", init_ram_flags,
			     test_init_ram);
	g_test_add_func("/region/init/ram-ptr", test_init_ram_ptr);
	g_test_add_func("/region/init/ram-device-ptr", test_init_ram_device_ptr);
	g_test_add_data_func("/region/init/rom", GINT_TO_POINTER(0), test_init_rom);
	g_test_add_data_func("/region/init/rom-nomigrate", GINT_TO_POINTER(1),
			     test_init_rom);
	g_test_add_data_func("/region/init/rom-device", GINT_TO_POINTER(0),
			     test_init_rom_device);
	g_test_add_data_func("/region/init/rom-device-nomigrate",
			     GINT_TO_POINTER(1), test_init_rom_device);
	g_test_add_func("/region/init/alias", test_init_alias);
	g_test_add_func("/region/size/zero", test_size_zero);
	g_test_add_func("/region/size/2-64", test_size_2_64);
	g_test_add_func("/region/set-size", test_set_size);
	g_test_add_func("/region/set-address", test_set_address);
	g_test_add_func("/region/setters-and-getters", test_setters_and_getters);
	g_test_add_func("/region/ram/memfd-fd-is-the-memory", test_ram_fd_shared);
	g_test_add_func("/region/ram/from-fd", test_ram_from_fd);
	g_test_add_func("/region/ram/from-file", test_ram_from_file);
	g_test_add_func("/region/ram/from-file-default-alignment",
			test_ram_from_file_default_alignment);
	g_test_add_func("/region/ram/from-file-missing-path-fails",
			test_ram_from_file_missing);
	g_test_add_func("/region/ram/from-file-readonly-is-rom",
			test_ram_from_file_readonly);
	g_test_add_func("/region/ram/from-host-unknown-pointer", test_from_host_unknown);
	g_test_add_func("/region/lifetime/notify-after-last-unref",
			test_notify_after_last_unref);
	g_test_add_func("/region/lifetime/container-holds-child",
			test_container_holds_child);
	g_test_add_func("/region/lifetime/flat-view-holds-region-until-grace-period",
			test_flat_view_holds_region);
	g_test_add_func("/region/lifetime/alias-holds-target",
			test_alias_holds_target);
	g_test_add_func("/region/lifetime/container-finalize-detaches-children",
			test_container_finalize_detaches);
	g_test_add_func("/region/lifetime/notify-may-free-storage",
			test_notify_may_free);
	g_test_add_func("/region/lifetime/world-leaves-nothing",
			test_world_leaves_nothing);

	return g_test_run();
}
