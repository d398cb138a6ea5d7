/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IOMMU regions.
 *
 * The expectations come from QEMU's system/physmem.c
 * (flatview_do_translate, address_space_translate_iommu,
 * address_space_get_iotlb_entry, and the read/write/ld/st loops that call
 * flatview_translate once per piece) and system/memory.c (the notifier
 * functions and memory_region_iommu_replay); each test says which rule it
 * pins down.
 *
 * The world: a "test" address space (RAM at 0, a recording io device at
 * 0x20000) reached from a "dma" address space whose only region is an
 * IOMMU, 1 MiB at 0, driven by a table of mappings.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "testutil.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define RAM_SIZE 0x10000
#define IO_BASE 0x20000
#define IOMMU_SIZE 0x100000

typedef struct Map {
	hwaddr iova;		/* page base */
	hwaddr mask;
	hwaddr target;
	IOMMUAccessFlags perm;
	int idx;
	AddressSpace *as;	/* NULL: the IOMMU's default target */
} Map;

typedef struct TestIommu {
	IOMMUMemoryRegion iommu;	/* first: freed through its address */
	IOMMUMemoryRegionOps ops;
	GArray *maps;
	AddressSpace *target;
	/* "t NAME ADDR FLAG IDX" per translate call */
	GString *trace;
	unsigned int translations;
	/* "f OLD NEW" per notify_flag_changed call */
	GString *flags;
	/* notify_flag_changed refuses a new set with any of these bits */
	IOMMUNotifierFlag refuse;
	unsigned int replays;
	int num_indexes;
	uint64_t min_page;
} TestIommu;

static int live_iommus;

static TestIommu *ti_of(IOMMUMemoryRegion *iommu)
{
	return (TestIommu *)iommu;
}

static IOMMUTLBEntry ti_translate(IOMMUMemoryRegion *iommu, hwaddr addr,
				  IOMMUAccessFlags flag, int idx)
{
	TestIommu *ti = ti_of(iommu);

	ti->translations++;
	g_string_append_printf(ti->trace, "t %s %" PRIx64 " %d %d\n",
			       memory_region_name(&iommu->parent_obj), addr,
			       flag, idx);
	for (guint i = 0; i < ti->maps->len; i++) {
		const Map *m = &g_array_index(ti->maps, Map, i);

		if (m->idx == idx && (addr & ~m->mask) == m->iova)
			return (IOMMUTLBEntry) {
				.target_as = m->as ? m->as : ti->target,
				.iova = m->iova,
				.translated_addr = m->target,
				.addr_mask = m->mask,
				.perm = m->perm,
			};
	}
	return (IOMMUTLBEntry) {
		.target_as = ti->target,
		.iova = addr & ~(hwaddr)0xfff,
		.addr_mask = 0xfff,
		.perm = IOMMU_NONE,
	};
}

static int ti_flag_changed(IOMMUMemoryRegion *iommu, IOMMUNotifierFlag old,
			   IOMMUNotifierFlag new, GError **errp)
{
	TestIommu *ti = ti_of(iommu);

	g_string_append_printf(ti->flags, "f %x %x\n", old, new);
	if (new & ti->refuse) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
			    "flags %#x not supported", new);
		return -ENOTSUP;
	}
	return 0;
}

static int ti_num_indexes(IOMMUMemoryRegion *iommu)
{
	return ti_of(iommu)->num_indexes;
}

/* index = the secure bit */
static int ti_attrs_to_index(IOMMUMemoryRegion *iommu, MemTxAttrs attrs)
{
	return attrs.secure;
}

static uint64_t ti_min_page(IOMMUMemoryRegion *iommu)
{
	return ti_of(iommu)->min_page;
}

static void ti_replay(IOMMUMemoryRegion *iommu, IOMMUNotifier *n)
{
	IOMMUTLBEntry e = {
		.target_as = ti_of(iommu)->target,
		.iova = 0x7000,
		.translated_addr = 0x1000,
		.addr_mask = 0xfff,
		.perm = IOMMU_RO,
	};

	ti_of(iommu)->replays++;
	n->notify(n, &e);
}

static void ti_free(void *data)
{
	TestIommu *ti = data;

	g_array_free(ti->maps, TRUE);
	g_string_free(ti->trace, TRUE);
	g_string_free(ti->flags, TRUE);
	memset(ti, 0x6b, sizeof(*ti));
	g_free(ti);
	g_atomic_int_add(&live_iommus, -1);
}

/* @customise may set ti->ops fields before the region is initialised. */
static TestIommu *ti_new(const char *name, uint64_t size, AddressSpace *target,
			 void (*customise)(TestIommu *ti))
{
	TestIommu *ti = g_new0(TestIommu, 1);

	ti->maps = g_array_new(FALSE, FALSE, sizeof(Map));
	ti->trace = g_string_new("");
	ti->flags = g_string_new("");
	ti->target = target;
	ti->num_indexes = 1;
	ti->ops.translate = ti_translate;
	ti->ops.notify_flag_changed = ti_flag_changed;
	if (customise)
		customise(ti);
	memory_region_init_iommu(&ti->iommu, NULL, &ti->ops, name, size);
	loopback_memory_region_set_free_notify(&ti->iommu.parent_obj, ti_free,
					       ti);
	g_atomic_int_inc(&live_iommus);
	return ti;
}

static void ti_map(TestIommu *ti, hwaddr iova, hwaddr mask, hwaddr target,
		   IOMMUAccessFlags perm)
{
	Map m = { .iova = iova, .mask = mask, .target = target, .perm = perm };

	g_array_append_val(ti->maps, m);
}

static MemoryRegion *ti_mr(TestIommu *ti)
{
	return &ti->iommu.parent_obj;
}

static void ti_reset(TestIommu *ti)
{
	g_string_truncate(ti->trace, 0);
	g_string_truncate(ti->flags, 0);
	ti->translations = 0;
}

typedef struct Fix {
	LbtWorld *w;
	MemoryRegion *ram;
	MemoryRegion *io;
	MemoryRegion *dma_root;
	AddressSpace *dma;
	TestIommu *ti;
	uint8_t *host;		/* the RAM's bytes */
} Fix;

static Fix *fix_new_custom(void (*customise)(TestIommu *ti))
{
	Fix *f = g_new0(Fix, 1);

	f->w = lbt_world_new(UINT64_MAX);
	f->ram = lbt_new_ram(f->w, "ram", RAM_SIZE);
	memory_region_add_subregion(f->w->root, 0, f->ram);
	f->io = lbt_new_io(f->w, "dev", 0x1000);
	memory_region_add_subregion(f->w->root, IO_BASE, f->io);
	f->host = memory_region_get_ram_ptr(f->ram);
	for (unsigned int i = 0; i < RAM_SIZE; i++)
		f->host[i] = (uint8_t)(i * 13 + 7);

	f->dma_root = lbt_new_container(f->w, "dma-root", UINT64_MAX);
	f->ti = ti_new("iommu", IOMMU_SIZE, f->w->as, customise);
	memory_region_add_subregion(f->dma_root, 0, ti_mr(f->ti));
	f->dma = lbt_as_new(f->dma_root, "dma");
	return f;
}

static Fix *fix_new(void)
{
	return fix_new_custom(NULL);
}

static void fix_free(Fix *f)
{
	lbt_as_free(f->dma);
	memory_region_unref(ti_mr(f->ti));
	lbt_world_free(f->w);
	g_assert_cmpint(g_atomic_int_get(&live_iommus), ==, 0);
	g_assert_cmpuint(lbt_live(), ==, 0);
	g_free(f);
}

/* ---- regions ---- */

static void test_is_iommu_follows_alias(void)
{
	Fix *f = fix_new();
	MemoryRegion *alias = lbt_new_alias(f->w, "a", ti_mr(f->ti), 0x1000,
					    0x1000);

	g_assert_true(memory_region_is_iommu(ti_mr(f->ti)));
	g_assert_true(memory_region_is_iommu(alias));
	g_assert_false(memory_region_is_iommu(f->ram));
	g_assert_false(memory_region_is_iommu(f->io));
	g_assert_false(memory_region_is_iommu(f->dma_root));
	g_assert_true(memory_region_get_iommu(alias) == &f->ti->iommu);
	g_assert_null(memory_region_get_iommu(f->ram));
	/* neither RAM nor io */
	g_assert_false(memory_region_is_ram(ti_mr(f->ti)));
	fix_free(f);
}

/* QEMU's defaults without the optional methods. */
static void test_defaults(void)
{
	Fix *f = fix_new();
	MemTxAttrs secure = { .secure = 1 };

	g_assert_cmpuint(memory_region_iommu_get_min_page_size(&f->ti->iommu),
			 ==, TARGET_PAGE_SIZE);
	g_assert_cmpint(memory_region_iommu_attrs_to_index(&f->ti->iommu,
							   secure), ==, 0);
	g_assert_cmpint(memory_region_iommu_num_indexes(&f->ti->iommu), ==, 1);
	fix_free(f);
}

static void custom_all(TestIommu *ti)
{
	ti->ops.get_min_page_size = ti_min_page;
	ti->ops.attrs_to_index = ti_attrs_to_index;
	ti->ops.num_indexes = ti_num_indexes;
	ti->min_page = 0x2000;
	ti->num_indexes = 2;
}

static void test_methods_called(void)
{
	Fix *f = fix_new_custom(custom_all);
	MemTxAttrs secure = { .secure = 1 };

	g_assert_cmpuint(memory_region_iommu_get_min_page_size(&f->ti->iommu),
			 ==, 0x2000);
	g_assert_cmpint(memory_region_iommu_attrs_to_index(&f->ti->iommu,
							   secure), ==, 1);
	g_assert_cmpint(memory_region_iommu_attrs_to_index(&f->ti->iommu,
							   ATTRS), ==, 0);
	g_assert_cmpint(memory_region_iommu_num_indexes(&f->ti->iommu), ==, 2);
	fix_free(f);
}

/* An IOMMU region terminates: it hides what lies below it, like io. */
static void test_renders_as_leaf(void)
{
	Fix *f = fix_new();
	MemoryRegion *under = lbt_new_ram(f->w, "under", 0x200000);

	memory_region_add_subregion_overlap(f->dma_root, 0, under, -1);
	lbt_assert_flat(f->dma, NULL,
			"iommu[0,100000)@0 under[100000,200000)@100000");
	fix_free(f);
}

/* Never accessed itself: a direct dispatch reads 0, decode error. */
static void test_direct_dispatch_refused(void)
{
	Fix *f = fix_new();
	uint64_t v = 1;

	g_assert_cmpuint(memory_region_dispatch_read(ti_mr(f->ti), 0, &v, MO_32,
						     ATTRS), ==,
			 MEMTX_DECODE_ERROR);
	g_assert_cmphex(v, ==, 0);
	g_assert_cmpuint(memory_region_dispatch_write(ti_mr(f->ti), 0, 5, MO_32,
						      ATTRS), ==,
			 MEMTX_DECODE_ERROR);
	g_assert_cmpuint(f->ti->translations, ==, 0);
	fix_free(f);
}

static void test_init_without_translate(void)
{
	IOMMUMemoryRegionOps ops = { 0 };
	IOMMUMemoryRegion *iommu = g_new0(IOMMUMemoryRegion, 1);
	unsigned int freed = 0;

	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*without a translate*");
	memory_region_init_iommu(iommu, NULL, &ops, "bad", 0x1000);
	g_test_assert_expected_messages();
	g_assert_false(memory_region_is_iommu(&iommu->parent_obj));
	loopback_memory_region_set_free_notify(&iommu->parent_obj,
					       lbt_count_notify, &freed);
	memory_region_unref(&iommu->parent_obj);
	g_assert_cmpuint(freed, ==, 1);
	g_free(iommu);
}

/* ---- translation ---- */

/* A RW page: reads and writes reach RAM at the translated address. */
static void test_rw_reaches_ram(void)
{
	Fix *f = fix_new();
	uint8_t buf[4], want[4] = { 1, 2, 3, 4 };

	ti_map(f->ti, 0x1000, 0xfff, 0x3000, IOMMU_RW);
	g_assert_cmpuint(address_space_write(f->dma, 0x1010, ATTRS, want, 4),
			 ==, MEMTX_OK);
	g_assert_cmpmem(f->host + 0x3010, 4, want, 4);
	/* QEMU passes IOMMU_WO for a write, IOMMU_RO for a read, index 0 */
	g_assert_cmpstr(f->ti->trace->str, ==, "t iommu 1010 2 0\n");
	ti_reset(f->ti);
	memset(buf, 0, 4);
	g_assert_cmpuint(address_space_read(f->dma, 0x1010, ATTRS, buf, 4),
			 ==, MEMTX_OK);
	g_assert_cmpmem(buf, 4, want, 4);
	g_assert_cmpstr(f->ti->trace->str, ==, "t iommu 1010 1 0\n");
	fix_free(f);
}

typedef struct PermCase {
	IOMMUAccessFlags perm;
	bool read_ok, write_ok;
} PermCase;

/*
 * address_space_translate_iommu: !(perm & (1 << is_write)) gives the
 * unassigned region: reads 0, writes dropped, MEMTX_DECODE_ERROR, and the
 * target (RAM or a device) is never touched.
 */
static void test_permission(gconstpointer data)
{
	const PermCase *c = data;
	Fix *f = fix_new();
	uint8_t before[8], buf[8], val[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	MemTxResult r;

	ti_map(f->ti, 0x1000, 0xfff, 0x3000, c->perm);
	ti_map(f->ti, 0x2000, 0xfff, IO_BASE, c->perm);
	memcpy(before, f->host + 0x3000, 8);

	memset(buf, 0xff, 8);
	r = address_space_read(f->dma, 0x1000, ATTRS, buf, 8);
	if (c->read_ok) {
		g_assert_cmpuint(r, ==, MEMTX_OK);
		g_assert_cmpmem(buf, 8, before, 8);
	} else {
		g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
		g_assert_cmpmem(buf, 8, "\0\0\0\0\0\0\0\0", 8);
	}
	r = address_space_write(f->dma, 0x1000, ATTRS, val, 8);
	g_assert_cmpuint(r, ==, c->write_ok ? MEMTX_OK : MEMTX_DECODE_ERROR);
	g_assert_cmpmem(f->host + 0x3000, 8, c->write_ok ? val : before, 8);

	/* the device behind the second page */
	r = address_space_read(f->dma, 0x2000, ATTRS, buf, 4);
	g_assert_cmpuint(r, ==, c->read_ok ? MEMTX_OK : MEMTX_DECODE_ERROR);
	r = address_space_write(f->dma, 0x2000, ATTRS, val, 4);
	g_assert_cmpuint(r, ==, c->write_ok ? MEMTX_OK : MEMTX_DECODE_ERROR);
	g_assert_cmpuint(f->w->dev.calls, ==, c->read_ok + c->write_ok);
	fix_free(f);
}

/*
 * The page is [iova, iova | addr_mask]: the translated address keeps the
 * low bits of the input and the high bits of translated_addr (its own low
 * bits are ignored).
 */
static void test_addr_mask(void)
{
	Fix *f = fix_new();
	hwaddr xlat, len = 4;
	MemoryRegion *mr;

	ti_map(f->ti, 0x50000, 0xffff, 0xabcd, IOMMU_RW);
	loopback_rcu_read_lock();
	mr = address_space_translate(f->dma, 0x51234, &xlat, &len, false,
				     ATTRS);
	loopback_rcu_read_unlock();
	g_assert_true(mr == f->ram);
	g_assert_cmphex(xlat, ==, 0x1234);
	g_assert_cmphex(len, ==, 4);
	fix_free(f);
}

/*
 * *plen is cut at the end of the IOMMU page, (addr | mask) - addr + 1,
 * for RAM and io targets alike; RAM then also at its range's end.
 */
static void test_length_clamp(void)
{
	Fix *f = fix_new();
	hwaddr xlat, len;
	MemoryRegion *mr;

	ti_map(f->ti, 0x1000, 0xfff, 0x4000, IOMMU_RW);
	ti_map(f->ti, 0x2000, 0xfff, IO_BASE, IOMMU_RW);
	ti_map(f->ti, 0x20000, 0x1ffff, 0, IOMMU_RW);
	loopback_rcu_read_lock();
	len = 0x10000;
	mr = address_space_translate(f->dma, 0x1ff0, &xlat, &len, false,
				     ATTRS);
	g_assert_true(mr == f->ram);
	g_assert_cmphex(xlat, ==, 0x4ff0);
	g_assert_cmphex(len, ==, 0x10);
	len = 0x10000;
	mr = address_space_translate(f->dma, 0x2000, &xlat, &len, false,
				     ATTRS);
	g_assert_true(mr == f->io);
	g_assert_cmphex(len, ==, 0x1000);
	/* 4 KiB before the end of RAM, 68 KiB before the page's: RAM cuts */
	len = 0x10000;
	mr = address_space_translate(f->dma, 0x2f000, &xlat, &len, false,
				     ATTRS);
	g_assert_true(mr == f->ram);
	g_assert_cmphex(xlat, ==, 0xf000);
	g_assert_cmphex(len, ==, 0x1000);
	loopback_rcu_read_unlock();
	fix_free(f);
}

/* A read across two IOMMU pages gathers from two places. */
static void test_read_across_pages(void)
{
	Fix *f = fix_new();
	uint8_t buf[0x20], want[0x20];

	ti_map(f->ti, 0x1000, 0xfff, 0x8000, IOMMU_RW);
	ti_map(f->ti, 0x2000, 0xfff, 0x3000, IOMMU_RW);
	memcpy(want, f->host + 0x8ff0, 0x10);
	memcpy(want + 0x10, f->host + 0x3000, 0x10);
	g_assert_cmpuint(address_space_read(f->dma, 0x1ff0, ATTRS, buf, 0x20),
			 ==, MEMTX_OK);
	g_assert_cmpmem(buf, 0x20, want, 0x20);
	g_assert_cmpstr(f->ti->trace->str, ==,
			"t iommu 1ff0 1 0\nt iommu 2000 1 0\n");
	fix_free(f);
}

/* An IOMMU whose target holds another: the loop goes on until a leaf. */
static void test_nested(void)
{
	Fix *f = fix_new();
	MemoryRegion *mid_root = lbt_new_container(f->w, "mid-root",
						   UINT64_MAX);
	TestIommu *inner = ti_new("inner", IOMMU_SIZE, f->w->as, NULL);
	AddressSpace *mid;
	IOMMUTLBEntry e;
	hwaddr xlat, len = 0x10000;
	MemoryRegion *mr;
	uint8_t buf[4];

	memory_region_add_subregion(mid_root, 0x100000, ti_mr(inner));
	mid = lbt_as_new(mid_root, "mid");
	/* outer: 64 KiB page at 0x40000 -> mid 0x120000 (inner, +0x20000) */
	Map m = { .iova = 0x40000, .mask = 0xffff, .target = 0x120000,
		  .perm = IOMMU_RW, .as = mid };
	g_array_append_val(f->ti->maps, m);
	/* inner: 4 KiB page at 0x25000 -> RAM 0x6000, read only */
	ti_map(inner, 0x25000, 0xfff, 0x6000, IOMMU_RO);

	loopback_rcu_read_lock();
	mr = address_space_translate(f->dma, 0x45010, &xlat, &len, false,
				     ATTRS);
	loopback_rcu_read_unlock();
	g_assert_true(mr == f->ram);
	g_assert_cmphex(xlat, ==, 0x6010);
	/* cut by the smaller page on the way */
	g_assert_cmphex(len, ==, 0xff0);
	g_assert_cmpstr(f->ti->trace->str, ==, "t iommu 45010 1 0\n");
	g_assert_cmpstr(inner->trace->str, ==, "t inner 25010 1 0\n");

	g_assert_cmpuint(address_space_read(f->dma, 0x45010, ATTRS, buf, 4),
			 ==, MEMTX_OK);
	g_assert_cmpmem(buf, 4, f->host + 0x6010, 4);
	/* the inner IOMMU refuses writes: so does the whole path */
	g_assert_cmpuint(address_space_write(f->dma, 0x45010, ATTRS, buf, 4),
			 ==, MEMTX_DECODE_ERROR);

	/* the IOTLB entry: the AND of the masks, in the last space */
	e = address_space_get_iotlb_entry(f->dma, 0x45010, false, ATTRS);
	g_assert_true(e.target_as == f->w->as);
	g_assert_cmphex(e.iova, ==, 0x45000);
	g_assert_cmphex(e.translated_addr, ==, 0x6000);
	g_assert_cmphex(e.addr_mask, ==, 0xfff);
	g_assert_cmpint(e.perm, ==, IOMMU_RW);

	lbt_as_free(mid);
	memory_region_unref(ti_mr(inner));
	fix_free(f);
}

/*
 * An IOMMU that maps onto itself.  QEMU would loop for ever; the library
 * gives up after 32 IOMMUs (Documentation/memory-api.md) with the
 * unassigned result.
 */
static void test_cycle_terminates(void)
{
	Fix *f = fix_new();
	Map m = { .iova = 0x1000, .mask = 0xfff, .target = 0x1000,
		  .perm = IOMMU_RW, .as = f->dma };
	uint8_t buf[4] = { 1, 1, 1, 1 };
	IOMMUTLBEntry e;

	g_array_append_val(f->ti->maps, m);
	g_assert_cmpuint(address_space_read(f->dma, 0x1000, ATTRS, buf, 4),
			 ==, MEMTX_DECODE_ERROR);
	g_assert_cmpmem(buf, 4, "\0\0\0\0", 4);
	g_assert_cmpuint(f->ti->translations, ==, 32);
	e = address_space_get_iotlb_entry(f->dma, 0x1000, false, ATTRS);
	g_assert_cmpint(e.perm, ==, IOMMU_NONE);
	g_assert_null(e.target_as);
	fix_free(f);
}

/* attrs_to_index picks the index translate() sees, hence the mapping. */
static void test_attrs_to_index(void)
{
	Fix *f = fix_new_custom(custom_all);
	MemTxAttrs secure = { .secure = 1 };
	Map m = { .iova = 0x1000, .mask = 0xfff, .target = 0x5000,
		  .perm = IOMMU_RW, .idx = 1 };
	uint8_t buf[4];

	ti_map(f->ti, 0x1000, 0xfff, 0x3000, IOMMU_RW);
	g_array_append_val(f->ti->maps, m);
	g_assert_cmpuint(address_space_read(f->dma, 0x1004, ATTRS, buf, 4),
			 ==, MEMTX_OK);
	g_assert_cmpmem(buf, 4, f->host + 0x3004, 4);
	g_assert_cmpuint(address_space_read(f->dma, 0x1004, secure, buf, 4),
			 ==, MEMTX_OK);
	g_assert_cmpmem(buf, 4, f->host + 0x5004, 4);
	g_assert_cmpstr(f->ti->trace->str, ==,
			"t iommu 1004 1 0\nt iommu 1004 1 1\n");
	fix_free(f);
}

/* ld/st: one access through the IOMMU; a refusal is a decode error. */
static void test_ldst(void)
{
	Fix *f = fix_new();
	MemTxResult r = MEMTX_ERROR;

	ti_map(f->ti, 0x1000, 0xfff, 0x3000, IOMMU_RW);
	ti_map(f->ti, 0x2000, 0xfff, 0x3000, IOMMU_RO);
	ti_map(f->ti, 0x4000, 0xfff, IO_BASE, IOMMU_RW);
	address_space_stl_le(f->dma, 0x1008, 0x11223344, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmphex(address_space_ldl_le(f->dma, 0x2008, ATTRS, &r), ==,
			0x11223344);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	address_space_stl_le(f->dma, 0x2008, 0x55667788, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(address_space_ldl_le(f->dma, 0x1008, ATTRS, &r), ==,
			0x11223344);
	/* unmapped */
	g_assert_cmphex(address_space_ldl_le(f->dma, 0x3008, ATTRS, &r), ==, 0);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	/* a device behind the IOMMU sees one access at its offset */
	address_space_stw_le(f->dma, 0x4002, 0xbeef, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmpstr(f->w->dev.trace->str, ==, "w 2 2 beef\n");
	fix_free(f);
}

static void test_access_valid(void)
{
	Fix *f = fix_new();

	ti_map(f->ti, 0x1000, 0xfff, 0x3000, IOMMU_RW);
	ti_map(f->ti, 0x2000, 0xfff, 0x3000, IOMMU_RO);
	g_assert_true(address_space_access_valid(f->dma, 0x1000, 0x1000, true,
						 ATTRS));
	g_assert_true(address_space_access_valid(f->dma, 0x2000, 8, false,
						 ATTRS));
	g_assert_false(address_space_access_valid(f->dma, 0x2000, 8, true,
						  ATTRS));
	/* the second page of the range is refused */
	g_assert_false(address_space_access_valid(f->dma, 0x1ffc, 8, true,
						  ATTRS));
	g_assert_false(address_space_access_valid(f->dma, 0x3000, 4, false,
						  ATTRS));
	fix_free(f);
}

/* write_rom translates like a write (IOMMU_WO) and then writes a ROM. */
static void test_write_rom(void)
{
	Fix *f = fix_new();
	MemoryRegion *rom = lbt_new_rom(f->w, "rom", 0x1000);
	uint8_t *host = memory_region_get_ram_ptr(rom);

	memory_region_add_subregion(f->w->root, 0x40000, rom);
	ti_map(f->ti, 0x1000, 0xfff, 0x40000, IOMMU_RW);
	ti_map(f->ti, 0x2000, 0xfff, 0x40000, IOMMU_RO);
	g_assert_cmpuint(address_space_write_rom(f->dma, 0x1010, ATTRS, "ab",
						 2), ==, MEMTX_OK);
	g_assert_cmpmem(host + 0x10, 2, "ab", 2);
	/* refused by the IOMMU: skipped, still MEMTX_OK */
	g_assert_cmpuint(address_space_write_rom(f->dma, 0x2010, ATTRS, "cd",
						 2), ==, MEMTX_OK);
	g_assert_cmpmem(host + 0x10, 2, "ab", 2);
	g_assert_cmpstr(f->ti->trace->str, ==,
			"t iommu 1010 2 0\nt iommu 2010 2 0\n");
	fix_free(f);
}

/* ---- IOTLB entries ---- */

static void test_iotlb_through_iommu(void)
{
	Fix *f = fix_new();
	IOMMUTLBEntry e;

	ti_map(f->ti, 0x10000, 0xffff, 0x0, IOMMU_RO);
	e = address_space_get_iotlb_entry(f->dma, 0x12345, false, ATTRS);
	g_assert_true(e.target_as == f->w->as);
	g_assert_cmphex(e.iova, ==, 0x10000);
	g_assert_cmphex(e.translated_addr, ==, 0);
	g_assert_cmphex(e.addr_mask, ==, 0xffff);
	/* QEMU reports RW whatever the IOMMU granted */
	g_assert_cmpint(e.perm, ==, IOMMU_RW);
	/* refused */
	e = address_space_get_iotlb_entry(f->dma, 0x12345, true, ATTRS);
	g_assert_cmpint(e.perm, ==, IOMMU_NONE);
	g_assert_null(e.target_as);
	g_assert_cmphex(e.iova | e.translated_addr | e.addr_mask, ==, 0);
	fix_free(f);
}

/* No IOMMU on the way: QEMU's default page, perm RW, the same space. */
static void test_iotlb_without_iommu(void)
{
	Fix *f = fix_new();
	IOMMUTLBEntry e;

	e = address_space_get_iotlb_entry(f->w->as, 0x3456, true, ATTRS);
	g_assert_true(e.target_as == f->w->as);
	g_assert_cmphex(e.iova, ==, 0x3000);
	g_assert_cmphex(e.translated_addr, ==, 0x3000);
	g_assert_cmphex(e.addr_mask, ==, 0xfff);
	g_assert_cmpint(e.perm, ==, IOMMU_RW);
	/* nothing mapped there: the unassigned region, a zero entry */
	e = address_space_get_iotlb_entry(f->w->as, 0x80000, false, ATTRS);
	g_assert_cmpint(e.perm, ==, IOMMU_NONE);
	g_assert_null(e.target_as);
	fix_free(f);
}

/* ---- notifiers ---- */

typedef struct Rec {
	IOMMUNotifier n;
	GString *log;	/* shared: "NAME IOVA MASK PERM" */
	const char *name;
} Rec;

static void rec_notify(IOMMUNotifier *n, IOMMUTLBEntry *e)
{
	Rec *r = (Rec *)n;

	g_string_append_printf(r->log, "%s %" PRIx64 " %" PRIx64 " %d\n",
			       r->name, e->iova, e->addr_mask, e->perm);
}

static void rec_init(Rec *r, GString *log, const char *name,
		     IOMMUNotifierFlag flags, hwaddr start, hwaddr end, int idx)
{
	iommu_notifier_init(&r->n, rec_notify, flags, start, end, idx);
	r->log = log;
	r->name = name;
}

static void rec_register(Fix *f, Rec *r)
{
	GError *err = NULL;

	g_assert_cmpint(memory_region_register_iommu_notifier(ti_mr(f->ti),
							      &r->n, &err),
			==, 0);
	g_assert_no_error(err);
}

static IOMMUTLBEvent event(IOMMUNotifierFlag type, hwaddr iova, hwaddr mask,
			   IOMMUAccessFlags perm)
{
	return (IOMMUTLBEvent) {
		.type = type,
		.entry = { .iova = iova, .addr_mask = mask, .perm = perm,
			   .translated_addr = 0x9000 },
	};
}

/* An event reaches the notifiers whose flags include its type. */
static void test_notify_flag_filter(void)
{
	Fix *f = fix_new();
	GString *log = g_string_new("");
	Rec map, unmap, all;

	rec_init(&map, log, "map", IOMMU_NOTIFIER_MAP, 0, HWADDR_MAX, 0);
	rec_init(&unmap, log, "unmap", IOMMU_NOTIFIER_UNMAP, 0, HWADDR_MAX, 0);
	rec_init(&all, log, "all", IOMMU_NOTIFIER_ALL, 0, HWADDR_MAX, 0);
	rec_register(f, &map);
	rec_register(f, &unmap);
	rec_register(f, &all);
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_MAP, 0x1000, 0xfff,
					 IOMMU_RW));
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP, 0x2000, 0xfff,
					 IOMMU_NONE));
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_DEVIOTLB_UNMAP, 0x3000,
					 0xfff, IOMMU_NONE));
	/* newest registered first, as QEMU's list head insertion gives */
	g_assert_cmpstr(log->str, ==,
			"all 1000 fff 3\nmap 1000 fff 3\n"
			"all 2000 fff 0\nunmap 2000 fff 0\n"
			"all 3000 fff 0\n");
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &map.n);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &unmap.n);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &all.n);
	g_string_free(log, TRUE);
	fix_free(f);
}

/*
 * memory_region_notify_iommu_one: skipped when [iova, iova + mask] misses
 * [start, end]; otherwise cropped to it.
 */
static void test_notify_range(void)
{
	Fix *f = fix_new();
	GString *log = g_string_new("");
	Rec r;

	rec_init(&r, log, "r", IOMMU_NOTIFIER_ALL, 0x2000, 0x2fff, 0);
	rec_register(f, &r);
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP, 0x4000, 0xfff,
					 IOMMU_NONE));
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP, 0x1000, 0xfff,
					 IOMMU_NONE));
	g_assert_cmpstr(log->str, ==, "");
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_MAP, 0x2800, 0x7ff,
					 IOMMU_RO));
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP, 0, 0xffff,
					 IOMMU_NONE));
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_DEVIOTLB_UNMAP, 0x2fff,
					 0xffff, IOMMU_NONE));
	g_assert_cmpstr(log->str, ==,
			"r 2800 7ff 1\nr 2000 fff 0\nr 2fff 0 0\n");
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &r.n);
	g_string_free(log, TRUE);
	fix_free(f);
}

/*
 * The last page of the 64-bit space is an event like any other; one whose
 * iova + addr_mask wraps is a caller bug.  QEMU would compute a wrapped
 * end (0xfff below), find it overlapping [0, 0xffff] and hand the
 * notifier a cropped mask of end - iova, i.e. 0x1fff going backwards.
 */
static void test_notify_at_2_64(void)
{
	Fix *f = fix_new();
	GString *log = g_string_new("");
	Rec lo, hi;

	rec_init(&lo, log, "lo", IOMMU_NOTIFIER_ALL, 0, 0xffff, 0);
	rec_init(&hi, log, "hi", IOMMU_NOTIFIER_ALL, 0xfffffffffffff000ULL,
		 HWADDR_MAX, 0);
	rec_register(f, &lo);
	rec_register(f, &hi);
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP,
					 0xfffffffffffff000ULL, 0xfff,
					 IOMMU_NONE));
	g_assert_cmpstr(log->str, ==, "hi fffffffffffff000 fff 0\n");
	g_string_truncate(log, 0);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*fffffffffffff000+0x1fff runs past 2^64*");
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP,
					 0xfffffffffffff000ULL, 0x1fff,
					 IOMMU_NONE));
	g_test_assert_expected_messages();
	g_assert_cmpstr(log->str, ==, "");
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &lo.n);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &hi.n);
	g_string_free(log, TRUE);
	fix_free(f);
}

/* Only the notifiers of the event's index. */
static void test_notify_index(void)
{
	Fix *f = fix_new_custom(custom_all);
	GString *log = g_string_new("");
	Rec a, b;

	rec_init(&a, log, "idx0", IOMMU_NOTIFIER_ALL, 0, HWADDR_MAX, 0);
	rec_init(&b, log, "idx1", IOMMU_NOTIFIER_ALL, 0, HWADDR_MAX, 1);
	rec_register(f, &a);
	rec_register(f, &b);
	memory_region_notify_iommu(&f->ti->iommu, 1,
				   event(IOMMU_NOTIFIER_MAP, 0x1000, 0xfff,
					 IOMMU_RW));
	g_assert_cmpstr(log->str, ==, "idx1 1000 fff 3\n");
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &a.n);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &b.n);
	g_string_free(log, TRUE);
	fix_free(f);
}

/* A notifier whose callback unregisters itself, and maybe another one. */
typedef struct Unreg {
	Rec r;
	Fix *f;
	IOMMUNotifier *victim;
} Unreg;

static void unreg_notify(IOMMUNotifier *n, IOMMUTLBEntry *e)
{
	Unreg *u = (Unreg *)n;

	rec_notify(n, e);
	memory_region_unregister_iommu_notifier(ti_mr(u->f->ti), n);
	if (u->victim)
		memory_region_unregister_iommu_notifier(ti_mr(u->f->ti),
							u->victim);
}

/*
 * QEMU walks the list with QLIST_FOREACH and has no rule for a callback
 * that unregisters; the library promises that a callback may.  Once
 * unregistered a notifier is not called (its owner may have freed it),
 * and the walk still reaches the others.
 */
static void test_notify_callback_unregisters(void)
{
	Fix *f = fix_new();
	GString *log = g_string_new("");
	Unreg a = { .f = f }, b = { .f = f };
	Rec c;

	rec_init(&a.r, log, "a", IOMMU_NOTIFIER_ALL, 0, HWADDR_MAX, 0);
	rec_init(&b.r, log, "b", IOMMU_NOTIFIER_ALL, 0, HWADDR_MAX, 0);
	rec_init(&c, log, "c", IOMMU_NOTIFIER_ALL, 0, HWADDR_MAX, 0);
	a.r.n.notify = unreg_notify;
	b.r.n.notify = unreg_notify;
	a.victim = &b.r.n;
	/* the list is a, b, c: the newest first */
	rec_register(f, &c);
	rec_register(f, &b.r);
	rec_register(f, &a.r);
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP, 0x1000, 0xfff,
					 IOMMU_NONE));
	g_assert_cmpstr(log->str, ==, "a 1000 fff 0\nc 1000 fff 0\n");
	g_string_truncate(log, 0);
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_UNMAP, 0x2000, 0xfff,
					 IOMMU_NONE));
	g_assert_cmpstr(log->str, ==, "c 2000 fff 0\n");
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &c.n);
	g_string_free(log, TRUE);
	fix_free(f);
}

/* notify_flag_changed sees the union of the flags, only when it changes. */
static void test_flag_changed(void)
{
	Fix *f = fix_new();
	GString *log = g_string_new("");
	Rec m1, m2, u;

	rec_init(&m1, log, "m1", IOMMU_NOTIFIER_MAP, 0, HWADDR_MAX, 0);
	rec_init(&m2, log, "m2", IOMMU_NOTIFIER_MAP, 0, 0xfff, 0);
	rec_init(&u, log, "u", IOMMU_NOTIFIER_UNMAP, 0, HWADDR_MAX, 0);
	rec_register(f, &m1);
	rec_register(f, &u);
	rec_register(f, &m2);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &u.n);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &m1.n);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &m2.n);
	g_assert_cmpstr(f->ti->flags->str, ==,
			"f 0 2\nf 2 3\nf 3 2\nf 2 0\n");
	g_string_free(log, TRUE);
	fix_free(f);
}

/* A refusal: the error and return value are the IOMMU's, no notifier. */
static void test_flag_changed_refused(void)
{
	Fix *f = fix_new();
	GString *log = g_string_new("");
	GError *err = NULL;
	Rec m, d;

	f->ti->refuse = IOMMU_NOTIFIER_DEVIOTLB_UNMAP;
	rec_init(&m, log, "m", IOMMU_NOTIFIER_MAP, 0, HWADDR_MAX, 0);
	rec_init(&d, log, "d", IOMMU_NOTIFIER_DEVIOTLB_UNMAP, 0, HWADDR_MAX,
		 0);
	rec_register(f, &m);
	g_assert_cmpint(memory_region_register_iommu_notifier(ti_mr(f->ti),
							      &d.n, &err),
			==, -ENOTSUP);
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_NOSYS);
	g_clear_error(&err);
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_DEVIOTLB_UNMAP, 0,
					 0xfff, IOMMU_NONE));
	g_assert_cmpstr(log->str, ==, "");
	/* the stored union did not change: removing m goes MAP -> NONE */
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &m.n);
	g_assert_cmpstr(f->ti->flags->str, ==, "f 0 2\nf 2 6\nf 2 0\n");
	g_string_free(log, TRUE);
	fix_free(f);
}

static void test_register_invalid(void)
{
	Fix *f = fix_new_custom(custom_all);
	GString *log = g_string_new("");
	GError *err = NULL;
	Rec r;
	struct {
		IOMMUNotifierFlag flags;
		hwaddr start, end;
		int idx;
	} bad[] = {
		{ IOMMU_NOTIFIER_NONE, 0, 0xfff, 0 },
		{ 0x8, 0, 0xfff, 0 },
		{ IOMMU_NOTIFIER_MAP, 0x2000, 0x1fff, 0 },
		{ IOMMU_NOTIFIER_MAP, 0, 0xfff, 2 },
		{ IOMMU_NOTIFIER_MAP, 0, 0xfff, -1 },
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(bad); i++) {
		rec_init(&r, log, "r", bad[i].flags, bad[i].start, bad[i].end,
			 bad[i].idx);
		g_assert_cmpint(memory_region_register_iommu_notifier(
					ti_mr(f->ti), &r.n, &err), ==,
				-EINVAL);
		g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
		g_clear_error(&err);
	}
	/* none of them was added: no flag change was ever asked for */
	g_assert_cmpstr(f->ti->flags->str, ==, "");

	/* twice the same notifier */
	rec_init(&r, log, "r", IOMMU_NOTIFIER_MAP, 0, 0xfff, 1);
	rec_register(f, &r);
	g_assert_cmpint(memory_region_register_iommu_notifier(ti_mr(f->ti),
							      &r.n, &err),
			==, -EBUSY);
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_EXIST);
	g_clear_error(&err);
	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &r.n);

	/* not an IOMMU */
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*not an IOMMU region*");
	g_assert_cmpint(memory_region_register_iommu_notifier(f->ram, &r.n,
							      &err), ==,
			-EINVAL);
	g_test_assert_expected_messages();
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_clear_error(&err);
	g_string_free(log, TRUE);
	fix_free(f);
}

/* Registration through an alias lands on the IOMMU itself. */
static void test_register_via_alias(void)
{
	Fix *f = fix_new();
	MemoryRegion *alias = lbt_new_alias(f->w, "a", ti_mr(f->ti), 0,
					    IOMMU_SIZE);
	GString *log = g_string_new("");
	GError *err = NULL;
	Rec r;

	rec_init(&r, log, "r", IOMMU_NOTIFIER_MAP, 0, HWADDR_MAX, 0);
	g_assert_cmpint(memory_region_register_iommu_notifier(alias, &r.n,
							      &err), ==, 0);
	g_assert_no_error(err);
	memory_region_notify_iommu(&f->ti->iommu, 0,
				   event(IOMMU_NOTIFIER_MAP, 0x1000, 0xfff,
					 IOMMU_RW));
	g_assert_cmpstr(log->str, ==, "r 1000 fff 3\n");
	memory_region_unregister_iommu_notifier(alias, &r.n);
	g_assert_cmpstr(f->ti->flags->str, ==, "f 0 2\nf 2 0\n");
	g_string_free(log, TRUE);
	fix_free(f);
}

/*
 * The default replay translates every min-page-size granule with
 * IOMMU_NONE and the notifier's index, and hands each entry with a
 * permission to the notifier directly (no range filter).
 */
static void test_replay_default(void)
{
	Fix *f = fix_new();
	TestIommu *small = ti_new("small", 0x4000, f->w->as, NULL);
	GString *log = g_string_new("");
	Rec r;

	ti_map(small, 0x1000, 0xfff, 0x3000, IOMMU_RO);
	ti_map(small, 0x3000, 0xfff, 0x8000, IOMMU_RW);
	rec_init(&r, log, "r", IOMMU_NOTIFIER_MAP, 0, 0xfff, 0);
	memory_region_iommu_replay(&small->iommu, &r.n);
	g_assert_cmpstr(small->trace->str, ==,
			"t small 0 0 0\nt small 1000 0 0\n"
			"t small 2000 0 0\nt small 3000 0 0\n");
	g_assert_cmpstr(log->str, ==, "r 1000 fff 1\nr 3000 fff 3\n");
	memory_region_unref(ti_mr(small));
	g_string_free(log, TRUE);
	fix_free(f);
}

static void custom_page(TestIommu *ti)
{
	ti->ops.get_min_page_size = ti_min_page;
	ti->min_page = 0x40000;
}

static void test_replay_min_page_size(void)
{
	Fix *f = fix_new_custom(custom_page);
	GString *log = g_string_new("");
	Rec r;

	rec_init(&r, log, "r", IOMMU_NOTIFIER_MAP, 0, HWADDR_MAX, 0);
	memory_region_iommu_replay(&f->ti->iommu, &r.n);
	g_assert_cmpstr(f->ti->trace->str, ==,
			"t iommu 0 0 0\nt iommu 40000 0 0\n"
			"t iommu 80000 0 0\nt iommu c0000 0 0\n");
	g_string_free(log, TRUE);
	fix_free(f);
}

static void custom_replay(TestIommu *ti)
{
	ti->ops.replay = ti_replay;
}

static void test_replay_custom(void)
{
	Fix *f = fix_new_custom(custom_replay);
	GString *log = g_string_new("");
	Rec r;

	rec_init(&r, log, "r", IOMMU_NOTIFIER_MAP, 0, HWADDR_MAX, 0);
	memory_region_iommu_replay(&f->ti->iommu, &r.n);
	g_assert_cmpuint(f->ti->replays, ==, 1);
	g_assert_cmpuint(f->ti->translations, ==, 0);
	g_assert_cmpstr(log->str, ==, "r 7000 fff 1\n");
	g_string_free(log, TRUE);
	fix_free(f);
}

/*
 * address_space_map and region caches behind an IOMMU.  QEMU's
 * address_space_map translates through it (flatview_translate) and, the
 * target being RAM, returns a host pointer into it; a region cache
 * dispatches.  A write reaching RAM through the IOMMU marks the target's
 * pages dirty.
 */
static void test_map_cache_dirty_through_iommu(void)
{
	Fix *f = fix_new();
	uint8_t out[16];
	MemoryRegionCache c = MEMORY_REGION_CACHE_INVALID;
	MemTxResult r = MEMTX_ERROR;
	hwaddr len = sizeof(out);
	uint8_t *p;

	ti_map(f->ti, 0x1000, 0xfff, 0x3000, IOMMU_RW);
	p = address_space_map(f->dma, 0x1008, &len, false, ATTRS);
	g_assert_true(p == f->host + 0x3008);
	g_assert_cmpuint(len, ==, sizeof(out));
	address_space_unmap(f->dma, p, len, false, len);
	g_assert_cmpuint(f->dma->bounce_buffer_size, ==, 0);

	memory_region_set_log(f->ram, true, DIRTY_MEMORY_VGA);
	memset(out, 0xa5, sizeof(out));
	len = sizeof(out);
	p = address_space_map(f->dma, 0x1010, &len, true, ATTRS);
	g_assert_true(p == f->host + 0x3010);
	memcpy(p, out, len);
	address_space_unmap(f->dma, p, len, true, len);
	g_assert_cmpmem(f->host + 0x3010, sizeof(out), out, sizeof(out));
	g_assert_true(memory_region_get_dirty(f->ram, 0x3000, 0x1000,
					      DIRTY_MEMORY_VGA));
	g_assert_false(memory_region_get_dirty(f->ram, 0x1000, 0x1000,
					       DIRTY_MEMORY_VGA));

	g_assert_cmpint(address_space_cache_init(&c, f->dma, 0x1000, 0x100,
						 false), >, 0);
	g_assert_cmphex(address_space_ldl_le_cached(&c, 0x10, ATTRS, &r), ==,
			0xa5a5a5a5);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmphex(address_space_ldub_cached(&c, 0x20, ATTRS, &r), ==,
			f->host[0x3020]);
	address_space_cache_destroy(&c);
	memory_region_set_log(f->ram, false, DIRTY_MEMORY_VGA);
	fix_free(f);
}

/*
 * QEMU's flatview_translate cuts the length at the end of the IOMMU page;
 * flatview_extend_translation then translates the next page and goes on
 * while it lands in the same region at the next offset.
 */
static void test_map_extends_over_contiguous_iommu_pages(void)
{
	Fix *f = fix_new();
	hwaddr len = 0x20;
	uint8_t *p;

	ti_map(f->ti, 0x1000, 0xfff, 0x3000, IOMMU_RW);
	ti_map(f->ti, 0x2000, 0xfff, 0x4000, IOMMU_RW);
	ti_map(f->ti, 0x3000, 0xfff, 0x7000, IOMMU_RW);
	p = address_space_map(f->dma, 0x1ff0, &len, true, ATTRS);
	g_assert_true(p == f->host + 0x3ff0);
	g_assert_cmphex(len, ==, 0x20);
	address_space_unmap(f->dma, p, len, true, 0);
	/* 0x2000 -> 0x4000, then 0x3000 -> 0x7000: not contiguous */
	len = 0x20;
	p = address_space_map(f->dma, 0x2ff0, &len, false, ATTRS);
	g_assert_true(p == f->host + 0x4ff0);
	g_assert_cmphex(len, ==, 0x10);
	address_space_unmap(f->dma, p, len, false, 0);
	g_assert_cmpuint(f->dma->bounce_buffer_size, ==, 0);
	fix_free(f);
}

/* ---- attributes and page sizes (QEMU 7.2-9.0) ---- */

/* The SPAPR TCE fd this IOMMU reports; "g ATTR" per get_attr call. */
#define TI_TCE_FD 42

static int ti_get_attr(IOMMUMemoryRegion *iommu,
		       enum IOMMUMemoryRegionAttr attr, void *data)
{
	TestIommu *ti = ti_of(iommu);

	g_string_append_printf(ti->trace, "g %d\n", attr);
	if (attr != IOMMU_ATTR_SPAPR_TCE_FD)
		return -EINVAL;
	*(int *)data = TI_TCE_FD;
	return 0;
}

/*
 * Takes page sizes of 4 KiB and up; a new mask drops every mapping, which
 * the notifiers hear as one UNMAP of the whole IOMMU (what virtio-iommu
 * does when the host narrows the sizes).
 */
static int ti_set_page_size_mask(IOMMUMemoryRegion *iommu, uint64_t mask,
				 GError **errp)
{
	TestIommu *ti = ti_of(iommu);
	IOMMUTLBEvent unmap = {
		.type = IOMMU_NOTIFIER_UNMAP,
		.entry = { .iova = 0, .addr_mask = IOMMU_SIZE - 1,
			   .perm = IOMMU_NONE },
	};

	g_string_append_printf(ti->trace, "m %" PRIx64 "\n", mask);
	if (!(mask & ~(TARGET_PAGE_SIZE - 1))) {
		g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "no page size of 4 KiB or more in %#" PRIx64, mask);
		return -EINVAL;
	}
	g_array_set_size(ti->maps, 0);
	memory_region_notify_iommu(iommu, 0, unmap);
	return 0;
}

static void custom_attr(TestIommu *ti)
{
	ti->ops.get_attr = ti_get_attr;
	ti->ops.iommu_set_page_size_mask = ti_set_page_size_mask;
}

/* memory_region_iommu_get_attr: the method's answer, -EINVAL without it. */
static void test_get_attr_reaches_method(void)
{
	Fix *f = fix_new_custom(custom_attr);
	Fix *plain;
	int fd = -1;

	g_assert_cmpint(memory_region_iommu_get_attr(&f->ti->iommu,
						     IOMMU_ATTR_SPAPR_TCE_FD,
						     &fd), ==, 0);
	g_assert_cmpint(fd, ==, TI_TCE_FD);
	g_assert_cmpstr(f->ti->trace->str, ==, "g 0\n");
	fix_free(f);

	plain = fix_new();
	fd = -1;
	g_assert_cmpint(memory_region_iommu_get_attr(&plain->ti->iommu,
						     IOMMU_ATTR_SPAPR_TCE_FD,
						     &fd), ==, -EINVAL);
	g_assert_cmpint(fd, ==, -1);
	fix_free(plain);
}

/*
 * memory_region_iommu_set_page_size_mask: the method's answer and error;
 * 0 without the method.  The method may notify: the registered notifiers
 * hear it during the call.
 */
static void test_page_size_mask_reaches_method_and_notifiers(void)
{
	Fix *f = fix_new_custom(custom_attr);
	Fix *plain;
	GString *log = g_string_new("");
	GError *err = NULL;
	Rec unmap;

	rec_init(&unmap, log, "unmap", IOMMU_NOTIFIER_UNMAP, 0, HWADDR_MAX, 0);
	rec_register(f, &unmap);
	ti_map(f->ti, 0x1000, 0xfff, 0x2000, IOMMU_RW);

	g_assert_cmpint(memory_region_iommu_set_page_size_mask(
				&f->ti->iommu, 0xfff, &err), ==, -EINVAL);
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_clear_error(&err);
	g_assert_cmpstr(log->str, ==, "");
	g_assert_cmpuint(f->ti->maps->len, ==, 1);

	g_assert_cmpint(memory_region_iommu_set_page_size_mask(
				&f->ti->iommu, 0x40201000, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(f->ti->trace->str, ==, "m fff\nm 40201000\n");
	g_assert_cmpstr(log->str, ==, "unmap 0 fffff 0\n");
	/* the mapping is gone: a read through the IOMMU now faults */
	g_assert_cmphex(address_space_ldl_le(f->dma, 0x1000, ATTRS, NULL), ==,
			0);

	memory_region_unregister_iommu_notifier(ti_mr(f->ti), &unmap.n);
	g_string_free(log, TRUE);
	fix_free(f);

	plain = fix_new();
	g_assert_cmpint(memory_region_iommu_set_page_size_mask(
				&plain->ti->iommu, 0xfff, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(plain->ti->trace->str, ==, "");
	fix_free(plain);
}

/* QEMU's class cast would abort; here a critical and -EINVAL. */
static void test_attr_calls_on_non_iommu_refused(void)
{
	MemoryRegion io;
	GError *err = NULL;
	int fd = -1;

	memory_region_init_io(&io, NULL, NULL, NULL, "io", 0x1000);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*io is not an IOMMU region*");
	g_assert_cmpint(memory_region_iommu_get_attr(IOMMU_MEMORY_REGION(&io),
						     IOMMU_ATTR_SPAPR_TCE_FD,
						     &fd), ==, -EINVAL);
	g_test_assert_expected_messages();
	g_assert_cmpint(fd, ==, -1);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*io is not an IOMMU region*");
	g_assert_cmpint(memory_region_iommu_set_page_size_mask(
				IOMMU_MEMORY_REGION(&io), 0x1000, &err), ==,
			-EINVAL);
	g_test_assert_expected_messages();
	g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_clear_error(&err);
	memory_region_unref(&io);
}

int main(int argc, char **argv)
{
	static const PermCase ro = { IOMMU_RO, true, false };
	static const PermCase wo = { IOMMU_WO, false, true };
	static const PermCase rw = { IOMMU_RW, true, true };
	static const PermCase none = { IOMMU_NONE, false, false };

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/iommu/region/is-iommu-follows-alias",
			test_is_iommu_follows_alias);
	g_test_add_func("/iommu/region/defaults-without-methods",
			test_defaults);
	g_test_add_func("/iommu/region/methods-called", test_methods_called);
	g_test_add_func("/iommu/region/renders-as-leaf", test_renders_as_leaf);
	g_test_add_func("/iommu/region/direct-dispatch-decode-error",
			test_direct_dispatch_refused);
	g_test_add_func("/iommu/region/init-without-translate-critical",
			test_init_without_translate);
	g_test_add_func("/iommu/translate/rw-reaches-ram", test_rw_reaches_ram);
	g_test_add_data_func("/iommu/permission/ro-refuses-write", &ro,
			     test_permission);
	g_test_add_data_func("/iommu/permission/wo-refuses-read", &wo,
			     test_permission);
	g_test_add_data_func("/iommu/permission/rw-allows-both", &rw,
			     test_permission);
	g_test_add_data_func("/iommu/permission/none-refuses-both", &none,
			     test_permission);
	g_test_add_func("/iommu/translate/addr-mask-granularity",
			test_addr_mask);
	g_test_add_func("/iommu/translate/length-clamped-to-iommu-page",
			test_length_clamp);
	g_test_add_func("/iommu/translate/read-across-pages",
			test_read_across_pages);
	g_test_add_func("/iommu/translate/nested", test_nested);
	g_test_add_func("/iommu/translate/cycle-terminates",
			test_cycle_terminates);
	g_test_add_func("/iommu/translate/attrs-to-index-selects-mapping",
			test_attrs_to_index);
	g_test_add_func("/iommu/ldst/through-iommu", test_ldst);
	g_test_add_func("/iommu/access-valid/through-iommu", test_access_valid);
	g_test_add_func("/iommu/map-cache-dirty/through-iommu",
			test_map_cache_dirty_through_iommu);
	g_test_add_func("/iommu/map/extends-over-contiguous-iommu-pages",
			test_map_extends_over_contiguous_iommu_pages);
	g_test_add_func("/iommu/write-rom/through-iommu", test_write_rom);
	g_test_add_func("/iommu/iotlb-entry/through-iommu",
			test_iotlb_through_iommu);
	g_test_add_func("/iommu/iotlb-entry/without-iommu",
			test_iotlb_without_iommu);
	g_test_add_func("/iommu/notifier/flag-filter", test_notify_flag_filter);
	g_test_add_func("/iommu/notifier/range-skip-and-crop",
			test_notify_range);
	g_test_add_func("/iommu/notifier/index-filter", test_notify_index);
	g_test_add_func("/iommu/notifier/event-at-2-64-end", test_notify_at_2_64);
	g_test_add_func("/iommu/notifier/callback-may-unregister-any",
			test_notify_callback_unregisters);
	g_test_add_func("/iommu/notifier/flag-changed-union",
			test_flag_changed);
	g_test_add_func("/iommu/notifier/flag-changed-refusal",
			test_flag_changed_refused);
	g_test_add_func("/iommu/notifier/invalid-registration",
			test_register_invalid);
	g_test_add_func("/iommu/notifier/register-via-alias",
			test_register_via_alias);
	g_test_add_func("/iommu/replay/default-every-page",
			test_replay_default);
	g_test_add_func("/iommu/replay/default-min-page-size",
			test_replay_min_page_size);
	g_test_add_func("/iommu/replay/custom", test_replay_custom);
	g_test_add_func("/iommu/get-attr/reaches-method-or-einval",
			test_get_attr_reaches_method);
	g_test_add_func("/iommu/page-size-mask/reaches-method-and-notifiers",
			test_page_size_mask_reaches_method_and_notifiers);
	g_test_add_func("/iommu/get-attr/non-iommu-critical",
			test_attr_calls_on_non_iommu_refused);
	return g_test_run();
}
