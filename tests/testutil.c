/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the memory API tests; see testutil.h. */
#include "config.h"

#include <string.h>

#include "testutil.h"

/* ---- recording device ---- */

void lbt_trace_add(GString *trace, char kind, hwaddr addr, unsigned size,
		   uint64_t value)
{
	g_string_append_printf(trace, "%c %" PRIx64 " %u %" PRIx64 "\n",
			       kind, addr, size, value);
}

uint64_t lbt_dev_value(LbtDev *dev, hwaddr addr, unsigned size)
{
	uint64_t v = 0;
	unsigned int i;

	/*
	 * Every byte depends on addr, size and its position, and the bytes
	 * above @size are garbage on purpose: the library must mask them.
	 */
	for (i = 0; i < 8; i++)
		v |= (uint64_t)((addr * 7 + size * 0x31 + i * 0x1d + 0x5a) &
				0xff) << (i * 8);
	return v;
}

static uint64_t dev_read_value(LbtDev *dev, hwaddr addr, unsigned size)
{
	return dev->value ? dev->value(dev, addr, size) :
			    lbt_dev_value(dev, addr, size);
}

static uint64_t lbt_read(void *opaque, hwaddr addr, unsigned size)
{
	LbtDev *dev = opaque;
	uint64_t v = dev_read_value(dev, addr, size);

	dev->calls++;
	lbt_trace_add(dev->trace, 'r', addr, size, v);
	if (dev->hook)
		dev->hook(dev, addr, size, false);
	return v;
}

static void lbt_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
	LbtDev *dev = opaque;

	dev->calls++;
	lbt_trace_add(dev->trace, 'w', addr, size, data);
	if (dev->hook)
		dev->hook(dev, addr, size, true);
}

static MemTxResult lbt_read_attrs(void *opaque, hwaddr addr, uint64_t *data,
				  unsigned size, MemTxAttrs attrs)
{
	LbtDev *dev = opaque;

	*data = lbt_read(opaque, addr, size);
	return dev->result;
}

static MemTxResult lbt_write_attrs(void *opaque, hwaddr addr, uint64_t data,
				   unsigned size, MemTxAttrs attrs)
{
	LbtDev *dev = opaque;

	lbt_write(opaque, addr, data, size);
	return dev->result;
}

static bool lbt_accepts(void *opaque, hwaddr addr, unsigned size,
			bool is_write, MemTxAttrs attrs)
{
	LbtDev *dev = opaque;

	g_string_append_printf(dev->accepts_trace, "a %" PRIx64 " %u %d\n",
			       addr, size, is_write);
	return dev->accepts ? dev->accepts(dev, addr, size, is_write) : true;
}

void lbt_dev_init(LbtDev *dev)
{
	memset(dev, 0, sizeof(*dev));
	dev->trace = g_string_new(NULL);
	dev->accepts_trace = g_string_new(NULL);
}

void lbt_dev_destroy(LbtDev *dev)
{
	g_string_free(dev->trace, TRUE);
	g_string_free(dev->accepts_trace, TRUE);
	dev->trace = NULL;
	dev->accepts_trace = NULL;
}

void lbt_dev_reset(LbtDev *dev)
{
	g_string_truncate(dev->trace, 0);
	g_string_truncate(dev->accepts_trace, 0);
	dev->calls = 0;
}

void lbt_ops_init(MemoryRegionOps *ops, bool with_attrs,
		  enum device_endian end)
{
	memset(ops, 0, sizeof(*ops));
	if (with_attrs) {
		ops->read_with_attrs = lbt_read_attrs;
		ops->write_with_attrs = lbt_write_attrs;
	} else {
		ops->read = lbt_read;
		ops->write = lbt_write;
	}
	ops->endianness = end;
	ops->valid.accepts = lbt_accepts;
}

/* ---- flat views ---- */

static bool collect_range(Int128 start, Int128 len, const MemoryRegion *mr,
			  hwaddr offset_in_region, void *opaque)
{
	GArray *a = opaque;
	LbtRange r = {
		.start = (lbt_u128)start,
		.len = (lbt_u128)len,
		.mr = mr,
		.offset = offset_in_region,
	};

	g_array_append_val(a, r);
	return false;
}

GArray *lbt_flat_ranges(AddressSpace *as)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(LbtRange));

	loopback_rcu_read_lock();
	flatview_for_each_range(address_space_to_flatview(as), collect_range, a);
	loopback_rcu_read_unlock();
	return a;
}

char *lbt_u128_hex(lbt_u128 v, char *buf)
{
	uint64_t hi = (uint64_t)(v >> 64);

	if (hi)
		sprintf(buf, "%" PRIx64 "%016" PRIx64, hi, (uint64_t)v);
	else
		sprintf(buf, "%" PRIx64, (uint64_t)v);
	return buf;
}

char *lbt_flat_string(AddressSpace *as, MemoryRegion *root)
{
	GArray *a = lbt_flat_ranges(as);
	GString *s = g_string_new(NULL);
	char b1[40], b2[40];
	guint i;

	for (i = 0; i < a->len; i++) {
		LbtRange *r = &g_array_index(a, LbtRange, i);

		if (i)
			g_string_append_c(s, ' ');
		g_string_append_printf(s, "%s[%s,%s)@%" PRIx64,
				       memory_region_name(r->mr),
				       lbt_u128_hex(r->start, b1),
				       lbt_u128_hex(r->start + r->len, b2),
				       r->offset);
		if (root) {
			MemoryRegionSection sec;

			sec = memory_region_find(root, (hwaddr)r->start, 1);
			if (sec.mr != r->mr)
				g_string_append(s, ":find-disagrees");
			if (sec.readonly)
				g_string_append(s, ":ro");
			if (sec.nonvolatile)
				g_string_append(s, ":nv");
			if (sec.mr)
				memory_region_unref(sec.mr);
		}
	}
	g_array_free(a, TRUE);
	return g_string_free(s, FALSE);
}

char *lbt_mtree_string(bool flatview, bool disabled)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	g_assert_nonnull(f);
	loopback_mtree_print(f, flatview, disabled);
	g_assert_cmpint(fclose(f), ==, 0);
	return buf;
}

char *lbt_map_snapshot(void)
{
	char *tree = lbt_mtree_string(false, true);
	char *flat = lbt_mtree_string(true, false);
	char *all = g_strconcat(tree, "\n----\n", flat, NULL);

	free(tree);
	free(flat);
	return all;
}

/* ---- region storage and lifetime ---- */

/* atomic: free notifies may run on the library's RCU thread */
static gint live_regions;
static GPtrArray *dead_as;

MemoryRegion *lbt_region_alloc(void)
{
	return g_new0(MemoryRegion, 1);
}

static void free_tracked(void *data)
{
	g_assert_cmpint(g_atomic_int_add(&live_regions, -1), >, 0);
	/* poison first so that a use after finalisation shows up under ASan too */
	memset(data, 0x6b, sizeof(MemoryRegion));
	g_free(data);
}

void lbt_track(MemoryRegion *mr)
{
	g_atomic_int_inc(&live_regions);
	loopback_memory_region_set_free_notify(mr, free_tracked, mr);
}

unsigned int lbt_live(void)
{
	return g_atomic_int_get(&live_regions);
}

void lbt_count_notify(void *data)
{
	g_atomic_int_inc((gint *)data);
}

AddressSpace *lbt_as_new(MemoryRegion *root, const char *name)
{
	AddressSpace *as = g_new0(AddressSpace, 1);

	address_space_init(as, root, name);
	return as;
}

void lbt_as_free(AddressSpace *as)
{
	address_space_destroy(as);
	if (!dead_as)
		dead_as = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(dead_as, as);
}

void lbt_drain(void)
{
	loopback_memory_drain();
	if (dead_as)
		g_ptr_array_set_size(dead_as, 0);
}

void lbt_init_fake_ram(MemoryRegion *mr, const char *name, uint64_t size)
{
	static uint64_t backing[2];

	memory_region_init_ram_ptr(mr, NULL, name, size, backing);
}

/* ---- fixture ---- */

MemoryRegion *lbt_world_keep(LbtWorld *w, MemoryRegion *mr)
{
	lbt_track(mr);
	g_ptr_array_add(w->regions, mr);
	return mr;
}

LbtWorld *lbt_world_new(uint64_t root_size)
{
	LbtWorld *w = g_new0(LbtWorld, 1);

	w->regions = g_ptr_array_new();
	lbt_dev_init(&w->dev);
	lbt_ops_init(&w->ops, false, DEVICE_LITTLE_ENDIAN);
	w->root = lbt_new_container(w, "root", root_size);
	w->as = lbt_as_new(w->root, "test");
	return w;
}

void lbt_world_free(LbtWorld *w)
{
	guint i;

	lbt_as_free(w->as);
	for (i = 0; i < w->regions->len; i++)
		memory_region_unref(g_ptr_array_index(w->regions, i));
	g_ptr_array_free(w->regions, TRUE);
	lbt_drain();
	lbt_dev_destroy(&w->dev);
	g_free(w);
}

MemoryRegion *lbt_new_container(LbtWorld *w, const char *name, uint64_t size)
{
	MemoryRegion *mr = lbt_region_alloc();

	memory_region_init(mr, NULL, name, size);
	return lbt_world_keep(w, mr);
}

MemoryRegion *lbt_new_io(LbtWorld *w, const char *name, uint64_t size)
{
	MemoryRegion *mr = lbt_region_alloc();

	memory_region_init_io(mr, NULL, &w->ops, &w->dev, name, size);
	return lbt_world_keep(w, mr);
}

MemoryRegion *lbt_new_ram(LbtWorld *w, const char *name, uint64_t size)
{
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;

	g_assert_true(memory_region_init_ram(mr, NULL, name, size, &err));
	g_assert_no_error(err);
	return lbt_world_keep(w, mr);
}

MemoryRegion *lbt_new_rom(LbtWorld *w, const char *name, uint64_t size)
{
	MemoryRegion *mr = lbt_region_alloc();
	GError *err = NULL;

	g_assert_true(memory_region_init_rom(mr, NULL, name, size, &err));
	g_assert_no_error(err);
	return lbt_world_keep(w, mr);
}

MemoryRegion *lbt_new_alias(LbtWorld *w, const char *name, MemoryRegion *orig,
			    hwaddr offset, uint64_t size)
{
	MemoryRegion *mr = lbt_region_alloc();

	memory_region_init_alias(mr, NULL, name, orig, offset, size);
	return lbt_world_keep(w, mr);
}
