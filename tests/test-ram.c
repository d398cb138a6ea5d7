/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RAM blocks: resizeable RAM, syncing to the backing file, protection.
 *
 * Expectations come from QEMU 7.2-9.x: system/memory.c
 * (memory_region_init_resizeable_ram, memory_region_ram_resize,
 * memory_region_msync, memory_region_writeback,
 * memory_region_is_protected) and system/physmem.c (qemu_ram_resize:
 * used_length in whole host pages, the unaligned size for the region and
 * the callback, DIRTY_CLIENTS_ALL over the new used length, then
 * memory_region_set_size and the resized callback; qemu_ram_msync: only
 * fd-backed blocks, an msync of the pages the range touches).
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "trace-listener.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define BASE 0x100000
#define PG TARGET_PAGE_SIZE

typedef struct Fix {
	LbtWorld *w;
	GString *tr;
	TraceListener l;
	MemoryRegion *ram;
} Fix;

/* The resized callback writes into the listener's trace: one order. */
static GString *resized_trace;

static void record_resized(const char *name, uint64_t length, void *host)
{
	g_string_append_printf(resized_trace, "resized %s %" PRIx64 " %p\n",
			       name, length, host);
}

/* Resizeable RAM of @size (max @max) at BASE, and a listener on it. */
static Fix *fix_new(uint64_t size, uint64_t max)
{
	Fix *f = g_new0(Fix, 1);
	GError *err = NULL;

	f->w = lbt_world_new(UINT64_MAX);
	f->tr = g_string_new("");
	resized_trace = f->tr;
	f->ram = lbt_region_alloc();
	g_assert_true(memory_region_init_resizeable_ram(f->ram, NULL, "rram",
							size, max,
							record_resized, &err));
	g_assert_no_error(err);
	lbt_world_keep(f->w, f->ram);
	memory_region_add_subregion(f->w->root, BASE, f->ram);
	tl_init(&f->l, "L", f->tr, 0);
	memory_listener_register(&f->l.l, f->w->as);
	g_string_truncate(f->tr, 0);
	return f;
}

static void fix_free(Fix *f)
{
	memory_listener_unregister(&f->l.l);
	lbt_world_free(f->w);
	g_string_free(f->tr, TRUE);
	resized_trace = NULL;
	g_free(f);
}

/*
 * Resizes from @old to @new successfully and checks what the listener and
 * the callback heard, in one trace: the old range goes, the new one comes,
 * then the callback with the size asked for and the host address.
 */
static void resize_and_check(Fix *f, uint64_t old, uint64_t new)
{
	GError *err = NULL;
	char *del, *add, *cb;

	memory_region_ram_resize(f->ram, new, &err);
	g_assert_no_error(err);
	del = g_strdup_printf("L del rram[%x,%" PRIx64 ")@0", BASE,
			      BASE + old);
	add = g_strdup_printf("L add rram[%x,%" PRIx64 ")@0", BASE,
			      BASE + new);
	cb = g_strdup_printf("resized rram %" PRIx64 " %p", new,
			     memory_region_get_ram_ptr(f->ram));
	tl_assert(f->tr, "L begin", del, add, "L commit", cb);
	g_free(del);
	g_free(add);
	g_free(cb);
}

/*
 * The region takes the size asked for; the block's used length is whole
 * host pages, and the dirty functions accept exactly that much.  The host
 * memory does not move.
 */
static void test_resize_region_size_and_used_length(void)
{
	Fix *f = fix_new(0x3000, 0x10000);
	void *host = memory_region_get_ram_ptr(f->ram);
	GError *err = NULL;

	g_assert_cmphex(memory_region_size(f->ram), ==, 0x3000);
	memory_region_ram_resize(f->ram, 0x5800, &err);
	g_assert_no_error(err);
	g_assert_cmphex(memory_region_size(f->ram), ==, 0x5800);
	lbt_world_assert(f->w, "rram[100000,105800)@0");
	g_assert_true(memory_region_get_ram_ptr(f->ram) == host);
	/* used_length is 0x6000: its last page is inside, the next is not */
	g_assert_true(memory_region_get_dirty(f->ram, 0x5000, PG,
					      DIRTY_MEMORY_VGA));
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*outside rram*");
	g_assert_false(memory_region_get_dirty(f->ram, 0x6000, PG,
					       DIRTY_MEMORY_VGA));
	g_test_assert_expected_messages();
	/* the new bytes are RAM like the old ones */
	address_space_stl_le(f->w->as, BASE + 0x57fc, 0x11223344, ATTRS, NULL);
	g_assert_cmphex(*(uint32_t *)((uint8_t *)host + 0x57fc), ==,
			GUINT32_TO_LE(0x11223344));
	fix_free(f);
}

/*
 * Growing: listeners hear the old range go and the new one come, then the
 * resized callback runs with the unaligned size and the host address.
 */
static void test_resize_listeners_then_callback(void)
{
	Fix *f = fix_new(0x3000, 0x10000);

	resize_and_check(f, 0x3000, 0x4800);
	/* shrinking is the same */
	resize_and_check(f, 0x4800, 0x1000);
	fix_free(f);
}

/*
 * Within the same host pages the block stays, but the region still takes
 * the new size and the callback still hears it; the same size again does
 * nothing at all.
 */
static void test_resize_within_page(void)
{
	Fix *f = fix_new(0x2800, 0x10000);
	GError *err = NULL;

	resize_and_check(f, 0x2800, 0x2c00);
	memory_region_ram_resize(f->ram, 0x2c00, &err);
	g_assert_no_error(err);
	tl_assert(f->tr, "");
	fix_free(f);
}

/* Past max_length: an error, and nothing changes or is told. */
static void test_resize_beyond_max_fails(void)
{
	Fix *f = fix_new(0x3000, 0x8000);
	GError *err = NULL;

	memory_region_ram_resize(f->ram, 0x8001, &err);
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_assert_nonnull(strstr(err->message, "Size too large"));
	g_clear_error(&err);
	g_assert_cmphex(memory_region_size(f->ram), ==, 0x3000);
	tl_assert(f->tr, "");
	/* max_length itself is fine */
	memory_region_ram_resize(f->ram, 0x8000, &err);
	g_assert_no_error(err);
	g_assert_cmphex(memory_region_size(f->ram), ==, 0x8000);
	fix_free(f);
}

/*
 * RAM that is not resizeable: QEMU still lets the size change inside the
 * block's host pages, and refuses anything else ("Size mismatch").
 */
static void test_resize_fixed_ram(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x2800);
	GError *err = NULL;

	memory_region_add_subregion(w->root, BASE, ram);
	memory_region_ram_resize(ram, 0x3000, &err);
	g_assert_no_error(err);
	lbt_world_assert(w, "ram[100000,103000)@0");
	memory_region_ram_resize(ram, 0x3001, &err);
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_assert_nonnull(strstr(err->message, "Size mismatch"));
	g_clear_error(&err);
	lbt_world_assert(w, "ram[100000,103000)@0");
	lbt_world_free(w);
}

/* "0110...": page i dirty for @client. */
static char *pages(MemoryRegion *mr, uint64_t npages, unsigned int client)
{
	GString *s = g_string_new(NULL);

	for (uint64_t i = 0; i < npages; i++)
		g_string_append_c(s, memory_region_get_dirty(mr, i * PG, PG,
							     client) ?
				  '1' : '0');
	return g_string_free(s, FALSE);
}

#define assert_pages(mr, n, client, expected) do {				char *s_ = pages((mr), (n), (client));					g_assert_cmpstr(s_, ==, (expected));					g_free(s_);							} while (0)

/*
 * Every page of the new used length is dirty for every client (QEMU's
 * DIRTY_CLIENTS_ALL), whether or not anyone logs; bits past it go.
 */
static void test_resize_marks_used_length_dirty(void)
{
	Fix *f = fix_new(0x3000, 0x10000);
	GError *err = NULL;

	for (unsigned int c = 0; c < DIRTY_MEMORY_NUM; c++)
		memory_region_reset_dirty(f->ram, 0, 0x3000, c);
	assert_pages(f->ram, 3, DIRTY_MEMORY_VGA, "000");
	memory_region_ram_resize(f->ram, 0x4800, &err);
	g_assert_no_error(err);
	for (unsigned int c = 0; c < DIRTY_MEMORY_NUM; c++)
		assert_pages(f->ram, 5, c, "11111");

	for (unsigned int c = 0; c < DIRTY_MEMORY_NUM; c++)
		memory_region_reset_dirty(f->ram, 0, 0x5000, c);
	memory_region_ram_resize(f->ram, 0x2000, &err);
	g_assert_no_error(err);
	memory_region_ram_resize(f->ram, 0x5000, &err);
	g_assert_no_error(err);
	/* the shrink marked two pages; the growth all five again */
	assert_pages(f->ram, 5, DIRTY_MEMORY_MIGRATION, "11111");
	fix_free(f);
}

/* A size above the maximum is refused at init, like QEMU's assertion. */
static void test_init_size_above_max_fails(void)
{
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;

	g_assert_false(memory_region_init_resizeable_ram(mr, NULL, "big",
							 0x3000, 0x2000, NULL,
							 &err));
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_clear_error(&err);
	g_assert_false(memory_region_is_ram(mr));
	lbt_track(mr);
	memory_region_unref(mr);
	lbt_drain();
	g_assert_cmpuint(lbt_live(), ==, 0);
}

static void test_resize_non_ram_critical(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *io = lbt_new_io(w, "io", 0x1000);
	GError *err = NULL;

	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*io is not a RAM region*");
	memory_region_ram_resize(io, 0x2000, &err);
	g_test_assert_expected_messages();
	g_assert_no_error(err);
	g_assert_cmphex(memory_region_size(io), ==, 0x1000);
	lbt_world_free(w);
}

/* ---- msync and writeback ---- */

#define TMPFS_MAGIC_ 0x01021994

/*
 * Dirty kB of the mapping that holds @p, from /proc/self/smaps: pages
 * written and not yet written back to the file.  -1 when unknown.
 */
static long dirty_kb(const void *p)
{
	char *text = NULL, **lines;
	uintptr_t a = (uintptr_t)p;
	bool in = false;
	long kb = -1;

	if (!g_file_get_contents("/proc/self/smaps", &text, NULL, NULL))
		return -1;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		unsigned long lo, hi, v;

		if (sscanf(*l, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(*l, ' ') && !g_str_has_suffix(*l, ":")) {
			in = a >= lo && a < hi;
			if (in)
				kb = 0;
			continue;
		}
		if (in && (sscanf(*l, "Shared_Dirty: %lu kB", &v) == 1 ||
			   sscanf(*l, "Private_Dirty: %lu kB", &v) == 1))
			kb += (long)v;
	}
	g_strfreev(lines);
	g_free(text);
	return kb;
}

typedef struct FileFix {
	char *path;
	LbtWorld *w;
	MemoryRegion *ram;
	uint8_t *host;
} FileFix;

#define FILE_PAGES 4

/*
 * File-backed RAM of FILE_PAGES pages, every page written.  NULL (test
 * skipped) when the file system does not write pages back (tmpfs), so
 * that msync leaves nothing to see.
 */
static FileFix *file_fix_new(void)
{
	FileFix *f = g_new0(FileFix, 1);
	GError *err = NULL;
	struct statfs st;
	int fd;

	/* the build directory: /tmp may be a tmpfs */
	f->path = g_strdup("test-ram-msync.XXXXXX");
	fd = g_mkstemp(f->path);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	if (statfs(f->path, &st) < 0 || st.f_type == TMPFS_MAGIC_) {
		unlink(f->path);
		g_free(f->path);
		g_free(f);
		g_test_skip("the build directory is on tmpfs: no writeback");
		return NULL;
	}
	f->w = lbt_world_new(UINT64_MAX);
	f->ram = lbt_region_alloc();
	g_assert_true(memory_region_init_ram_from_file(f->ram, NULL, "fram",
						       FILE_PAGES * PG, 0,
						       RAM_SHARED, f->path, 0,
						       &err));
	g_assert_no_error(err);
	lbt_world_keep(f->w, f->ram);
	memory_region_add_subregion(f->w->root, BASE, f->ram);
	f->host = memory_region_get_ram_ptr(f->ram);
	for (unsigned int i = 0; i < FILE_PAGES; i++)
		f->host[i * PG] = (uint8_t)(i + 1);
	if (dirty_kb(f->host) != FILE_PAGES * (long)PG / 1024) {
		g_test_skip("smaps does not show the written pages dirty");
		lbt_world_free(f->w);
		unlink(f->path);
		g_free(f->path);
		g_free(f);
		return NULL;
	}
	return f;
}

static void file_fix_free(FileFix *f)
{
	lbt_world_free(f->w);
	unlink(f->path);
	g_free(f->path);
	g_free(f);
}

/* The file's byte at @off, read through the file, not the mapping. */
static uint8_t file_byte(FileFix *f, off_t off)
{
	uint8_t b = 0;
	int fd = open(f->path, O_RDONLY);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pread(fd, &b, 1, off), ==, 1);
	close(fd);
	return b;
}

/*
 * msync writes back the pages the range touches, and only those: an
 * unaligned range in pages 1 and 2 leaves pages 0 and 3 dirty.
 */
static void test_msync_writes_back_touched_pages(void)
{
	FileFix *f = file_fix_new();

	if (!f)
		return;
	memory_region_msync(f->ram, PG + 0x800, PG);
	g_assert_cmpint(dirty_kb(f->host), ==, 2 * PG / 1024);
	g_assert_cmpuint(file_byte(f, PG), ==, 2);
	memory_region_msync(f->ram, 0, FILE_PAGES * PG);
	g_assert_cmpint(dirty_kb(f->host), ==, 0);
	file_fix_free(f);
}

/*
 * writeback syncs only a region with a set_log client (its own mask:
 * global dirty tracking does not count).
 */
static void test_writeback_only_when_logging(void)
{
	FileFix *f = file_fix_new();
	GError *err = NULL;

	if (!f)
		return;
	memory_region_writeback(f->ram, 0, FILE_PAGES * PG);
	g_assert_cmpint(dirty_kb(f->host), ==, FILE_PAGES * PG / 1024);
	g_assert_true(memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION,
						    &err));
	g_assert_no_error(err);
	g_assert_true(memory_region_is_logging(f->ram,
					       DIRTY_MEMORY_MIGRATION));
	memory_region_writeback(f->ram, 0, FILE_PAGES * PG);
	g_assert_cmpint(dirty_kb(f->host), ==, FILE_PAGES * PG / 1024);
	memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);

	memory_region_set_log(f->ram, true, DIRTY_MEMORY_VGA);
	memory_region_writeback(f->ram, 0, FILE_PAGES * PG);
	g_assert_cmpint(dirty_kb(f->host), ==, 0);
	memory_region_set_log(f->ram, false, DIRTY_MEMORY_VGA);
	file_fix_free(f);
}

/*
 * RAM without a file descriptor is not synced, even when its pointer is a
 * shared mapping of a file (QEMU: block->fd < 0); neither is an alias
 * (it has no block of its own).
 */
static void test_msync_skips_pointer_ram_and_aliases(void)
{
	FileFix *f = file_fix_new();
	LbtWorld *w;
	MemoryRegion *ptr, *alias;
	uint8_t *map;
	int fd;

	if (!f)
		return;
	alias = lbt_new_alias(f->w, "alias", f->ram, 0, FILE_PAGES * PG);
	memory_region_msync(alias, 0, FILE_PAGES * PG);
	g_assert_cmpint(dirty_kb(f->host), ==, FILE_PAGES * PG / 1024);

	fd = open(f->path, O_RDWR);
	g_assert_cmpint(fd, >=, 0);
	map = mmap(NULL, FILE_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	g_assert_true(map != MAP_FAILED);
	close(fd);
	w = lbt_world_new(UINT64_MAX);
	ptr = lbt_region_alloc();
	memory_region_init_ram_ptr(ptr, NULL, "ptr", FILE_PAGES * PG, map);
	lbt_world_keep(w, ptr);
	memset(map, 0x5a, FILE_PAGES * PG);
	g_assert_cmpint(dirty_kb(map), ==, FILE_PAGES * PG / 1024);
	memory_region_msync(ptr, 0, FILE_PAGES * PG);
	g_assert_cmpint(dirty_kb(map), ==, FILE_PAGES * PG / 1024);
	lbt_world_free(w);
	munmap(map, FILE_PAGES * PG);
	file_fix_free(f);
}

/* Past the used length: QEMU asserts, here a critical and no sync. */
static void test_msync_outside_critical(void)
{
	FileFix *f = file_fix_new();

	if (!f)
		return;
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*outside*");
	memory_region_msync(f->ram, PG, FILE_PAGES * PG);
	g_test_assert_expected_messages();
	g_assert_cmpint(dirty_kb(f->host), ==, FILE_PAGES * PG / 1024);
	file_fix_free(f);
}

/* ---- protection ---- */

/*
 * RAM_PROTECTED RAM answers true; other RAM, aliases of it (no block of
 * their own), io and ROM devices false.
 */
static void test_is_protected_only_for_protected_ram(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *prot = lbt_region_alloc(), *rd = lbt_region_alloc();
	GError *err = NULL;
	int fd = memfd_create("prot", MFD_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, 0x2000), ==, 0);
	g_assert_true(memory_region_init_ram_from_fd(prot, NULL, "prot",
						     0x2000,
						     RAM_SHARED |
						     RAM_PROTECTED,
						     fd, 0, &err));
	g_assert_no_error(err);
	lbt_world_keep(w, prot);
	g_assert_true(memory_region_init_rom_device(rd, NULL, &w->ops,
						    &w->dev, "romd", 0x1000,
						    &err));
	g_assert_no_error(err);
	lbt_world_keep(w, rd);

	g_assert_true(memory_region_is_protected(prot));
	g_assert_false(memory_region_is_protected(
		lbt_new_alias(w, "alias", prot, 0, 0x1000)));
	g_assert_false(memory_region_is_protected(lbt_new_ram(w, "ram",
							      0x1000)));
	g_assert_false(memory_region_is_protected(lbt_new_io(w, "io",
							     0x1000)));
	g_assert_false(memory_region_is_protected(rd));
	lbt_world_free(w);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();

	g_test_add_func("/ram/resize/region-size-and-whole-page-used-length",
			test_resize_region_size_and_used_length);
	g_test_add_func("/ram/resize/listeners-see-new-size-then-callback",
			test_resize_listeners_then_callback);
	g_test_add_func("/ram/resize/within-page-resizes-region-only",
			test_resize_within_page);
	g_test_add_func("/ram/resize/beyond-max-length-fails",
			test_resize_beyond_max_fails);
	g_test_add_func("/ram/resize/fixed-ram-only-within-its-pages",
			test_resize_fixed_ram);
	g_test_add_func("/ram/resize/new-used-length-dirty-for-all-clients",
			test_resize_marks_used_length_dirty);
	g_test_add_func("/ram/resize/init-size-above-max-fails",
			test_init_size_above_max_fails);
	g_test_add_func("/ram/resize/non-ram-critical",
			test_resize_non_ram_critical);
	g_test_add_func("/ram/msync/writes-back-touched-pages",
			test_msync_writes_back_touched_pages);
	g_test_add_func("/ram/writeback/only-with-set-log-client",
			test_writeback_only_when_logging);
	g_test_add_func("/ram/msync/skips-pointer-ram-and-aliases",
			test_msync_skips_pointer_ram_and_aliases);
	g_test_add_func("/ram/msync/outside-used-length-critical",
			test_msync_outside_critical);
	g_test_add_func("/ram/protected/only-ram-protected-ram",
			test_is_protected_only_for_protected_ram);
	return g_test_run();
}
