/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dispatch (section 2 of the memory API semantics).
 *
 * The matrix tests compute, for every combination of access size, address
 * alignment, device byte order and valid/impl constraints, the exact
 * sequence of device callbacks, the resulting bytes and the MemTxResult with
 * a reference model written here from the semantics page, and compare that
 * with what the library does.  The other tests check the worked examples and
 * the special paths (unassigned, ROM, ld/st, write_rom, access_valid,
 * re-entrancy, ROM devices) one by one.
 */
#include "config.h"

#include <string.h>

#include "testutil.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED
#define BASE 0x10000		/* where the device under test is mapped */
#define DEV_SIZE 0x100

static const bool host_big = G_BYTE_ORDER == G_BIG_ENDIAN;

/* ------------------------------------------------------------------ */
/* Reference model                                                     */
/* ------------------------------------------------------------------ */

typedef struct Cfg {
	enum device_endian end;
	unsigned int vmin, vmax;
	bool vunaligned;
	unsigned int imin, imax;
	bool iunaligned;
	bool attrs;		/* *_with_attrs callbacks */
} Cfg;

static char *cfg_describe(const Cfg *c)
{
	static const char *const ends[] = { "native", "big", "little" };

	return g_strdup_printf("%s-endian valid{min %u max %u unaligned %d} "
			       "impl{min %u max %u unaligned %d}%s",
			       ends[c->end], c->vmin, c->vmax, c->vunaligned,
			       c->imin, c->imax, c->iunaligned,
			       c->attrs ? " with_attrs" : "");
}

static bool dev_big(const Cfg *c)
{
	return c->end == DEVICE_BIG_ENDIAN ||
	       (c->end == DEVICE_NATIVE_ENDIAN && host_big);
}

static uint64_t mask_of(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static uint64_t swap_n(uint64_t v, unsigned int size)
{
	switch (size) {
	case 2:
		return GUINT16_SWAP_LE_BE((uint16_t)v);
	case 4:
		return GUINT32_SWAP_LE_BE((uint32_t)v);
	case 8:
		return GUINT64_SWAP_LE_BE(v);
	}
	return v;
}

/* host-order load/store of 1, 2, 4 or 8 bytes (QEMU's ldn_he_p/stn_he_p) */
static uint64_t ld_he(const uint8_t *p, unsigned int l)
{
	uint8_t b;
	uint16_t w;
	uint32_t d;
	uint64_t q;

	switch (l) {
	case 1:
		memcpy(&b, p, 1);
		return b;
	case 2:
		memcpy(&w, p, 2);
		return w;
	case 4:
		memcpy(&d, p, 4);
		return d;
	}
	memcpy(&q, p, 8);
	return q;
}

static void st_he(uint8_t *p, unsigned int l, uint64_t v)
{
	uint8_t b = v;
	uint16_t w = v;
	uint32_t d = v;

	switch (l) {
	case 1:
		memcpy(p, &b, 1);
		return;
	case 2:
		memcpy(p, &w, 2);
		return;
	case 4:
		memcpy(p, &d, 4);
		return;
	}
	memcpy(p, &v, 8);
}

static unsigned int pow2floor(unsigned int v)
{
	unsigned int p = 1;

	while (p * 2 <= v)
		p *= 2;
	return p;
}

/* memory_region_access_valid, without valid.accepts (always true here) */
static bool model_valid(const Cfg *c, hwaddr addr, unsigned int size)
{
	if (!c->vunaligned && (addr & (size - 1)))
		return false;
	if (!c->vmax)
		return true;
	return size <= c->vmax && size >= c->vmin;
}

/* access_with_adjusted_size: the device calls, into @trace */
static void model_adjusted(const Cfg *c, hwaddr addr, unsigned int size,
			   bool is_write, uint64_t *val, GString *trace)
{
	unsigned int amin = c->imin ? c->imin : 1;
	unsigned int amax = c->imax ? c->imax : 4;
	unsigned int as = MAX(MIN(size, amax), amin);
	uint64_t mask = mask_of(as);
	unsigned int i;

	for (i = 0; i < size; i += as) {
		int shift = dev_big(c) ? ((int)size - (int)as - (int)i) * 8 :
					 (int)i * 8;
		uint64_t piece;

		if (is_write) {
			piece = shift >= 0 ? (*val >> shift) & mask :
					     (*val << -shift) & mask;
			lbt_trace_add(trace, 'w', addr + i, as, piece);
		} else {
			piece = lbt_dev_value(NULL, addr + i, as);
			lbt_trace_add(trace, 'r', addr + i, as, piece);
			piece &= mask;
			*val |= shift >= 0 ? piece << shift : piece >> -shift;
		}
	}
}

/* memory_region_dispatch_read/write with an access in @op_big order */
static MemTxResult model_dispatch(const Cfg *c, hwaddr addr, unsigned int size,
				  bool op_big, bool is_write, uint64_t *val,
				  GString *trace)
{
	bool swap = op_big != dev_big(c);
	uint64_t v;

	if (!model_valid(c, addr, size)) {
		if (!is_write)
			*val = 0;
		return MEMTX_DECODE_ERROR;
	}
	if (is_write) {
		v = swap ? swap_n(*val, size) : *val;
		model_adjusted(c, addr, size, true, &v, trace);
	} else {
		v = 0;
		model_adjusted(c, addr, size, false, &v, trace);
		*val = swap ? swap_n(v, size) : v;
	}
	return MEMTX_OK;
}

/* memory_access_size: the piece address_space_rw hands to dispatch */
static unsigned int model_access_size(const Cfg *c, hwaddr addr,
				      unsigned int l)
{
	unsigned int max = c->vmax ? c->vmax : 4;

	if (!c->iunaligned) {
		hwaddr low = addr & -addr;

		if (low && low < max)
			max = low;
	}
	return pow2floor(MIN(l, max));
}

/* address_space_read/write over the device at region offset @off */
static MemTxResult model_as_rw(const Cfg *c, hwaddr off, uint8_t *buf,
			       unsigned int len, bool is_write, GString *trace)
{
	MemTxResult r = MEMTX_OK;
	unsigned int done = 0;

	while (done < len) {
		unsigned int l = model_access_size(c, off + done, len - done);
		uint64_t v = 0;

		if (is_write)
			v = ld_he(buf + done, l);
		r |= model_dispatch(c, off + done, l, host_big, is_write, &v,
				    trace);
		if (!is_write)
			st_he(buf + done, l, v);
		done += l;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Checking the library against the model                              */
/* ------------------------------------------------------------------ */

typedef struct Rig {
	LbtWorld *w;
	MemoryRegion *mr;
	LbtDev *dev;
	GPtrArray *ops;		/* freed after the regions are finalised */
	unsigned int failures;
	unsigned int checks;
} Rig;

static void bytes_hex(GString *s, const uint8_t *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		g_string_append_printf(s, "%02x", b[i]);
}

/* Records one mismatch; the first ones are printed as TAP comments. */
static void report(Rig *rig, const Cfg *c, const char *what,
		   const char *exp_trace, const char *got_trace,
		   const char *exp_data, const char *got_data,
		   MemTxResult er, MemTxResult gr)
{
	char *cs;

	if (rig->failures++ >= 12)
		return;
	cs = cfg_describe(c);
	g_test_message("MISMATCH %s, %s\n  expected: result %u data %s calls:\n%s"
		       "  got:      result %u data %s calls:\n%s",
		       cs, what, er, exp_data, exp_trace, gr, got_data,
		       got_trace);
	g_free(cs);
}

static void check_as(Rig *rig, const Cfg *c, hwaddr off, unsigned int size,
		     bool is_write)
{
	uint8_t exp[8], got[8];
	GString *et = g_string_new(NULL);
	GString *ed = g_string_new(NULL), *gd = g_string_new(NULL);
	MemTxResult er, gr;
	unsigned int i;

	rig->checks++;
	for (i = 0; i < 8; i++)
		exp[i] = got[i] = 0xa0 + i * 3 + off;
	er = model_as_rw(c, off, exp, size, is_write, et);
	lbt_dev_reset(rig->dev);
	if (is_write)
		gr = address_space_write(rig->w->as, BASE + off, ATTRS, got, size);
	else
		gr = address_space_read(rig->w->as, BASE + off, ATTRS, got, size);
	if (!is_write) {
		bytes_hex(ed, exp, size);
		bytes_hex(gd, got, size);
	}
	if (er != gr || strcmp(et->str, rig->dev->trace->str) ||
	    strcmp(ed->str, gd->str)) {
		char *what = g_strdup_printf("address_space_%s(BASE+%#" PRIx64
					     ", %u)", is_write ? "write" : "read",
					     off, size);

		report(rig, c, what, et->str, rig->dev->trace->str, ed->str,
		       gd->str, er, gr);
		g_free(what);
	}
	g_string_free(et, TRUE);
	g_string_free(ed, TRUE);
	g_string_free(gd, TRUE);
}

static void check_dispatch(Rig *rig, const Cfg *c, hwaddr off,
			   unsigned int size, bool op_big, bool is_write)
{
	MemOp op = size_memop(size) | (op_big ? MO_BE : MO_LE);
	GString *et = g_string_new(NULL);
	uint64_t wval = 0x8877665544332211ULL ^ (off * 0x0101010101010101ULL);
	uint64_t ev = wval & mask_of(size), gv = ev;
	MemTxResult er, gr;

	rig->checks++;
	er = model_dispatch(c, off, size, op_big, is_write, &ev, et);
	lbt_dev_reset(rig->dev);
	if (is_write)
		gr = memory_region_dispatch_write(rig->mr, off, gv, op, ATTRS);
	else
		gr = memory_region_dispatch_read(rig->mr, off, &gv, op, ATTRS);
	/*
	 * Only the low @size bytes of a read are compared: above them the
	 * page leaves a widened (impl.min > size) read undefined.
	 */
	if (!is_write) {
		ev &= mask_of(size);
		gv &= mask_of(size);
	}
	if (er != gr || strcmp(et->str, rig->dev->trace->str) ||
	    (!is_write && ev != gv)) {
		char *what = g_strdup_printf("memory_region_dispatch_%s(%#" PRIx64
					     ", size %u, %s)",
					     is_write ? "write" : "read", off,
					     size, op_big ? "MO_BE" : "MO_LE");
		char *eds = g_strdup_printf("%" PRIx64, ev);
		char *gds = g_strdup_printf("%" PRIx64, gv);

		report(rig, c, what, et->str, rig->dev->trace->str,
		       is_write ? "-" : eds, is_write ? "-" : gds, er, gr);
		g_free(what);
		g_free(eds);
		g_free(gds);
	}
	g_string_free(et, TRUE);
}

static const hwaddr offsets[] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x16, 0x18 };
static const unsigned int sizes[] = { 1, 2, 4, 8 };
static const unsigned int access_sizes[] = { 0, 1, 2, 4, 8 };

static void run_cfg(Rig *rig, const Cfg *c)
{
	MemoryRegionOps *ops = g_new0(MemoryRegionOps, 1);
	unsigned int s, o;

	lbt_ops_init(ops, c->attrs, c->end);
	ops->valid.min_access_size = c->vmin;
	ops->valid.max_access_size = c->vmax;
	ops->valid.unaligned = c->vunaligned;
	ops->impl.min_access_size = c->imin;
	ops->impl.max_access_size = c->imax;
	ops->impl.unaligned = c->iunaligned;
	/* the region may use its ops until it is finalised: free them last */
	g_ptr_array_add(rig->ops, ops);

	rig->mr = lbt_region_alloc();
	memory_region_init_io(rig->mr, NULL, ops, rig->dev, "dev", DEV_SIZE);
	lbt_track(rig->mr);
	memory_region_add_subregion(rig->w->root, BASE, rig->mr);

	for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
		for (o = 0; o < G_N_ELEMENTS(offsets); o++) {
			check_as(rig, c, offsets[o], sizes[s], false);
			check_as(rig, c, offsets[o], sizes[s], true);
			check_dispatch(rig, c, offsets[o], sizes[s], false, false);
			check_dispatch(rig, c, offsets[o], sizes[s], true, false);
			check_dispatch(rig, c, offsets[o], sizes[s], false, true);
			check_dispatch(rig, c, offsets[o], sizes[s], true, true);
		}
	}
	memory_region_del_subregion(rig->w->root, rig->mr);
	memory_region_unref(rig->mr);
	rig->mr = NULL;
}

/*
 * Every valid/impl combination for one device byte order: impl min <= max
 * (after the 0 defaults), valid min <= max unless max is 0 (then min is
 * ignored), and no impl.unaligned without valid.unaligned (a misuse).
 */
static void test_matrix(gconstpointer data)
{
	enum device_endian end = GPOINTER_TO_INT(data);
	Rig rig = { 0 };
	LbtDev dev;
	unsigned int a, b, c2, d, cfgs = 0;
	int vu, iu, at;

	lbt_dev_init(&dev);
	rig.dev = &dev;
	rig.w = lbt_world_new(UINT64_MAX);
	rig.ops = g_ptr_array_new_with_free_func(g_free);
	for (a = 0; a < G_N_ELEMENTS(access_sizes); a++)
	for (b = 0; b < G_N_ELEMENTS(access_sizes); b++)
	for (c2 = 0; c2 < G_N_ELEMENTS(access_sizes); c2++)
	for (d = 0; d < G_N_ELEMENTS(access_sizes); d++)
	for (vu = 0; vu < 2; vu++)
	for (iu = 0; iu < 2; iu++)
	for (at = 0; at < 2; at++) {
		Cfg c = {
			.end = end,
			.imin = access_sizes[a], .imax = access_sizes[b],
			.vmin = access_sizes[c2], .vmax = access_sizes[d],
			.vunaligned = vu, .iunaligned = iu, .attrs = at,
		};

		if ((c.imin ? c.imin : 1) > (c.imax ? c.imax : 4))
			continue;
		if (c.vmax && c.vmin > c.vmax)
			continue;
		if (c.iunaligned && !c.vunaligned)
			continue;
		run_cfg(&rig, &c);
		cfgs++;
	}
	g_test_message("%u configurations, %u accesses, %u mismatches",
		       cfgs, rig.checks, rig.failures);
	lbt_world_free(rig.w);
	g_ptr_array_free(rig.ops, TRUE);
	lbt_dev_destroy(&dev);
	g_assert_cmpuint(cfgs, >, 1000);
	g_assert_cmpuint(rig.failures, ==, 0);
}

/* ------------------------------------------------------------------ */
/* Worked examples and special paths                                   */
/* ------------------------------------------------------------------ */

/* A recording device at BASE with the given constraints. */
typedef struct Fix {
	LbtWorld *w;
	MemoryRegionOps ops;
	MemoryRegion *mr;
} Fix;

static Fix *fix_new(enum device_endian end, bool with_attrs)
{
	Fix *f = g_new0(Fix, 1);

	f->w = lbt_world_new(UINT64_MAX);
	lbt_ops_init(&f->ops, with_attrs, end);
	return f;
}

/* Maps the device once f->ops is filled in. */
static void fix_map(Fix *f, hwaddr base)
{
	f->mr = lbt_region_alloc();
	memory_region_init_io(f->mr, NULL, &f->ops, &f->w->dev, "dev", DEV_SIZE);
	lbt_world_keep(f->w, f->mr);
	memory_region_add_subregion(f->w->root, base, f->mr);
}

static void fix_free(Fix *f)
{
	lbt_world_free(f->w);
	g_free(f);
}

/* The trace line the recording device writes for a read at @addr. */
static void expect_read(GString *t, hwaddr addr, unsigned int size)
{
	lbt_trace_add(t, 'r', addr, size, lbt_dev_value(NULL, addr, size));
}

static void assert_trace(Fix *f, GString *expected)
{
	g_assert_cmpstr(f->w->dev.trace->str, ==, expected->str);
	g_string_truncate(expected, 0);
	lbt_dev_reset(&f->w->dev);
}

static void test_split_8_at_2(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	GString *t = g_string_new(NULL);
	uint8_t buf[8];

	fix_map(f, BASE);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 2, ATTRS, buf, 8),
			 ==, MEMTX_OK);
	expect_read(t, 2, 2);
	expect_read(t, 4, 4);
	expect_read(t, 8, 2);
	assert_trace(f, t);
	g_string_free(t, TRUE);
	fix_free(f);
}

static void test_split_4_at_1(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	GString *t = g_string_new(NULL);
	uint8_t buf[4] = { 1, 2, 3, 4 };

	fix_map(f, BASE);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 1, ATTRS, buf, 4),
			 ==, MEMTX_OK);
	expect_read(t, 1, 1);
	expect_read(t, 2, 2);
	expect_read(t, 4, 1);
	assert_trace(f, t);
	memcpy(buf, "\x01\x02\x03\x04", 4);
	g_assert_cmpuint(address_space_write(f->w->as, BASE + 1, ATTRS, buf, 4),
			 ==, MEMTX_OK);
	lbt_trace_add(t, 'w', 1, 1, 1);
	lbt_trace_add(t, 'w', 2, 2, host_big ? 0x0203 : 0x0302);
	lbt_trace_add(t, 'w', 4, 1, 4);
	assert_trace(f, t);
	g_string_free(t, TRUE);
	fix_free(f);
}

/* The alignment that limits a piece is the region offset's, not the
 * absolute address's. */
static void test_split_uses_region_offset(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	GString *t = g_string_new(NULL);
	uint8_t buf[4];

	fix_map(f, BASE + 1);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 1, ATTRS, buf, 4),
			 ==, MEMTX_OK);
	expect_read(t, 0, 4);
	assert_trace(f, t);
	g_string_free(t, TRUE);
	fix_free(f);
}

/* impl.max 1: four 1-byte reads; byte i of the buffer is the device's
 * byte at a+i whatever the device's byte order. */
static void test_impl_max_1(gconstpointer data)
{
	Fix *f = fix_new(GPOINTER_TO_INT(data), false);
	GString *t = g_string_new(NULL);
	uint8_t buf[4];
	unsigned int i;

	f->ops.impl.max_access_size = 1;
	fix_map(f, BASE);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 0x20, ATTRS, buf, 4),
			 ==, MEMTX_OK);
	for (i = 0; i < 4; i++) {
		expect_read(t, 0x20 + i, 1);
		g_assert_cmphex(buf[i], ==, lbt_dev_value(NULL, 0x20 + i, 1) & 0xff);
	}
	assert_trace(f, t);
	g_string_free(t, TRUE);
	fix_free(f);
}

/*
 * impl.min 4, 1-byte access at an unaligned address: one 4-byte device
 * access at that very address; a write sends the byte with the rest zero
 * (placed by the big-endian shift for a big-endian device).
 */
static void test_impl_min_4(gconstpointer data)
{
	bool big = GPOINTER_TO_INT(data) == DEVICE_BIG_ENDIAN;
	Fix *f = fix_new(GPOINTER_TO_INT(data), false);
	GString *t = g_string_new(NULL);
	uint64_t v = lbt_dev_value(NULL, 0x13, 4) & 0xffffffff;
	uint8_t b = 0x5c;

	f->ops.impl.min_access_size = 4;
	fix_map(f, BASE);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 0x13, ATTRS, &b, 1),
			 ==, MEMTX_OK);
	expect_read(t, 0x13, 4);
	assert_trace(f, t);
	g_assert_cmphex(b, ==, big ? v >> 24 : v & 0xff);

	b = 0x5c;
	g_assert_cmpuint(address_space_write(f->w->as, BASE + 0x13, ATTRS, &b, 1),
			 ==, MEMTX_OK);
	lbt_trace_add(t, 'w', 0x13, 4, big ? 0x5c000000 : 0x5c);
	assert_trace(f, t);
	g_string_free(t, TRUE);
	fix_free(f);
}

static bool reject_0x20(LbtDev *dev, hwaddr addr, unsigned int size,
			bool is_write)
{
	return addr != 0x20;
}

/* valid.accepts false: the callbacks never run, reads give 0. */
static void test_accepts_false(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	uint32_t v = 0xffffffff;
	uint64_t q = 0x1234;

	f->w->dev.accepts = reject_0x20;
	fix_map(f, BASE);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 0x20, ATTRS, &v, 4),
			 ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(v, ==, 0);
	g_assert_cmpstr(f->w->dev.accepts_trace->str, ==, "a 20 4 0\n");
	g_assert_cmpuint(address_space_write(f->w->as, BASE + 0x20, ATTRS, &v, 4),
			 ==, MEMTX_DECODE_ERROR);
	g_assert_cmpuint(memory_region_dispatch_read(f->mr, 0x20, &q, MO_32,
						     ATTRS), ==,
			 MEMTX_DECODE_ERROR);
	g_assert_cmphex(q, ==, 0);
	g_assert_cmpuint(memory_region_dispatch_write(f->mr, 0x20, 1, MO_32,
						      ATTRS), ==,
			 MEMTX_DECODE_ERROR);
	g_assert_false(memory_region_access_valid(f->mr, 0x20, 4, false, ATTRS));
	g_assert_true(memory_region_access_valid(f->mr, 0x24, 4, false, ATTRS));
	g_assert_cmpstr(f->w->dev.trace->str, ==, "");
	/* the neighbour is still served */
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 0x24, ATTRS, &v, 4),
			 ==, MEMTX_OK);
	g_assert_cmpuint(f->w->dev.calls, ==, 1);
	fix_free(f);
}

/* MEMTX_ERROR comes from *_with_attrs, and the split loop goes on. */
static void test_attrs_error(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, true);
	GString *t = g_string_new(NULL);
	uint64_t q = 0;

	f->w->dev.result = MEMTX_ERROR;
	fix_map(f, BASE);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 0x10, ATTRS, &q, 8),
			 ==, MEMTX_ERROR);
	expect_read(t, 0x10, 4);
	expect_read(t, 0x14, 4);
	assert_trace(f, t);
	g_assert_cmpuint(address_space_write(f->w->as, BASE + 0x10, ATTRS, &q, 4),
			 ==, MEMTX_ERROR);
	g_assert_cmpuint(f->w->dev.calls, ==, 1);
	g_assert_cmpuint(memory_region_dispatch_read(f->mr, 0x10, &q, MO_32,
						     ATTRS), ==, MEMTX_ERROR);
	g_string_free(t, TRUE);
	fix_free(f);
}

static bool reject_0x14(LbtDev *dev, hwaddr addr, unsigned int size,
			bool is_write)
{
	return addr != 0x14;
}

/* Results of the pieces are OR-ed: ERROR from one, DECODE_ERROR from another. */
static void test_results_ored(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, true);
	GString *t = g_string_new(NULL);
	uint8_t buf[8];

	f->w->dev.result = MEMTX_ERROR;
	f->w->dev.accepts = reject_0x14;
	fix_map(f, BASE);
	g_assert_cmpuint(address_space_read(f->w->as, BASE + 0x10, ATTRS, buf, 8),
			 ==, MEMTX_ERROR | MEMTX_DECODE_ERROR);
	expect_read(t, 0x10, 4);
	assert_trace(f, t);
	g_assert_cmphex(ld_he(buf + 4, 4), ==, 0);
	g_string_free(t, TRUE);
	fix_free(f);
}

static void test_unassigned(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	uint8_t buf[8];
	MemTxResult r = MEMTX_OK;

	memset(buf, 0xaa, sizeof(buf));
	g_assert_cmpuint(address_space_read(w->as, 0x1000, ATTRS, buf, 8),
			 ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(ld_he(buf, 8), ==, 0);
	g_assert_cmpuint(address_space_write(w->as, 0x1000, ATTRS, buf, 8),
			 ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(address_space_ldl_le(w->as, 0x1000, ATTRS, &r), ==, 0);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	r = MEMTX_OK;
	address_space_stq_be(w->as, 0x1000, 1, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	g_assert_false(address_space_access_valid(w->as, 0x1000, 4, false, ATTRS));
	lbt_world_free(w);
}

/* A ROM: direct reads, writes are not direct and get DECODE_ERROR. */
static void test_rom_write(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *rom = lbt_new_rom(w, "rom", 0x1000);
	uint8_t *p = memory_region_get_ram_ptr(rom);
	uint32_t v = 0x11223344, r = 0;
	MemTxResult res = MEMTX_OK;

	memory_region_add_subregion(w->root, 0x4000, rom);
	memset(p, 0x5a, 0x1000);
	g_assert_cmpuint(address_space_write(w->as, 0x4010, ATTRS, &v, 4),
			 ==, MEMTX_DECODE_ERROR);
	g_assert_cmpuint(address_space_read(w->as, 0x4010, ATTRS, &r, 4),
			 ==, MEMTX_OK);
	g_assert_cmphex(r, ==, 0x5a5a5a5a);
	address_space_stl_le(w->as, 0x4010, 0, ATTRS, &res);
	g_assert_cmpuint(res, ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(p[0x10], ==, 0x5a);
	g_assert_true(address_space_access_valid(w->as, 0x4010, 4, false, ATTRS));
	g_assert_false(address_space_access_valid(w->as, 0x4010, 4, true, ATTRS));
	lbt_world_free(w);
}

/* write_rom writes RAM, ROM and ROMD, skips io silently and returns OK. */
static void test_write_rom(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	MemoryRegion *rom = lbt_new_rom(f->w, "rom", 0x1000);
	MemoryRegion *ram = lbt_new_ram(f->w, "ram", 0x1000);
	uint8_t data[0x40], back[0x40];
	unsigned int i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = 0x80 + i;
	fix_map(f, 0x3000 - DEV_SIZE);
	memory_region_add_subregion(f->w->root, 0x2000, rom);
	memory_region_add_subregion(f->w->root, 0x3000, ram);
	/* ROM, then the io device, then RAM, then nothing */
	g_assert_cmpuint(address_space_write_rom(f->w->as, 0x2fe0, ATTRS, data,
						 0x40), ==, MEMTX_OK);
	g_assert_cmpuint(address_space_write_rom(f->w->as, 0x2ff0 - DEV_SIZE,
						 ATTRS, data, 0x20), ==,
			 MEMTX_OK);
	g_assert_cmpuint(address_space_write_rom(f->w->as, 0x3fe0, ATTRS, data,
						 0x40), ==, MEMTX_OK);
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	g_assert_cmpmem(memory_region_get_ram_ptr(rom) + 0xff0 - DEV_SIZE, 0x10,
			data, 0x10);
	g_assert_cmpmem(memory_region_get_ram_ptr(ram), 0x20, data + 0x20, 0x20);
	g_assert_cmpmem(memory_region_get_ram_ptr(ram) + 0xfe0, 0x20, data, 0x20);
	g_assert_cmpuint(address_space_read(f->w->as, 0x3000, ATTRS, back, 0x20),
			 ==, MEMTX_OK);
	g_assert_cmpmem(back, 0x20, data + 0x20, 0x20);
	fix_free(f);
}

static void test_ldst_ram(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x1000);
	uint8_t *p = memory_region_get_ram_ptr(ram);
	static const uint8_t q[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	MemTxResult r = ~0u;

	memory_region_add_subregion(w->root, 0x8000, ram);
	memcpy(p + 0x101, q, 8);
	g_assert_cmphex(address_space_ldub(w->as, 0x8101, ATTRS, &r), ==, 0x11);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmphex(address_space_lduw_le(w->as, 0x8101, ATTRS, NULL), ==, 0x2211);
	g_assert_cmphex(address_space_lduw_be(w->as, 0x8101, ATTRS, NULL), ==, 0x1122);
	g_assert_cmphex(address_space_ldl_le(w->as, 0x8101, ATTRS, NULL), ==, 0x44332211);
	g_assert_cmphex(address_space_ldl_be(w->as, 0x8101, ATTRS, NULL), ==, 0x11223344);
	g_assert_cmphex(address_space_ldq_le(w->as, 0x8101, ATTRS, NULL), ==,
			0x8877665544332211ULL);
	g_assert_cmphex(address_space_ldq_be(w->as, 0x8101, ATTRS, NULL), ==,
			0x1122334455667788ULL);

	address_space_stb(w->as, 0x8200, 0xab, ATTRS, &r);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	g_assert_cmphex(p[0x200], ==, 0xab);
	address_space_stw_le(w->as, 0x8210, 0x1122, ATTRS, NULL);
	g_assert_cmpmem(p + 0x210, 2, "\x22\x11", 2);
	address_space_stw_be(w->as, 0x8220, 0x1122, ATTRS, NULL);
	g_assert_cmpmem(p + 0x220, 2, "\x11\x22", 2);
	address_space_stl_le(w->as, 0x8230, 0x11223344, ATTRS, NULL);
	g_assert_cmpmem(p + 0x230, 4, "\x44\x33\x22\x11", 4);
	address_space_stl_be(w->as, 0x8240, 0x11223344, ATTRS, NULL);
	g_assert_cmpmem(p + 0x240, 4, "\x11\x22\x33\x44", 4);
	address_space_stq_le(w->as, 0x8250, 0x1122334455667788ULL, ATTRS, NULL);
	g_assert_cmpmem(p + 0x250, 8, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	address_space_stq_be(w->as, 0x8261, 0x1122334455667788ULL, ATTRS, &r);
	g_assert_cmpmem(p + 0x261, 8, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	lbt_world_free(w);
}

/* ld/st on io: one dispatch of the whole size, in the helper's byte order. */
static void test_ldst_io(gconstpointer data)
{
	Cfg c = { .end = GPOINTER_TO_INT(data), .vmin = 1, .vmax = 8,
		  .imin = 1, .imax = 8 };
	Fix *f = fix_new(c.end, false);
	GString *t = g_string_new(NULL);
	MemTxResult r;
	uint64_t v;
	int big;

	f->ops.valid.min_access_size = 1;
	f->ops.valid.max_access_size = 8;
	f->ops.impl.min_access_size = 1;
	f->ops.impl.max_access_size = 8;
	fix_map(f, BASE);

	/* loads: the model's dispatch in the helper's order */
#define LD(fn, size, is_big) do {					\
	v = 0;								\
	g_assert_cmpuint(model_dispatch(&c, 0x18, size, is_big, false,	\
					&v, t), ==, MEMTX_OK);		\
	r = ~0u;							\
	g_assert_cmphex(fn(f->w->as, BASE + 0x18, ATTRS, &r), ==,	\
			v & mask_of(size));				\
	g_assert_cmpuint(r, ==, MEMTX_OK);				\
	assert_trace(f, t);						\
} while (0)
	LD(address_space_ldub, 1, false);
	LD(address_space_lduw_le, 2, false);
	LD(address_space_lduw_be, 2, true);
	LD(address_space_ldl_le, 4, false);
	LD(address_space_ldl_be, 4, true);
	LD(address_space_ldq_le, 8, false);
	LD(address_space_ldq_be, 8, true);
#undef LD

#define ST(fn, size, is_big) do {					\
	v = 0x0807060504030201ULL & mask_of(size);			\
	g_assert_cmpuint(model_dispatch(&c, 0x18, size, is_big, true,	\
					&v, t), ==, MEMTX_OK);		\
	r = ~0u;							\
	fn(f->w->as, BASE + 0x18, 0x0807060504030201ULL & mask_of(size), \
	   ATTRS, &r);							\
	g_assert_cmpuint(r, ==, MEMTX_OK);				\
	assert_trace(f, t);						\
} while (0)
	ST(address_space_stb, 1, false);
	ST(address_space_stw_le, 2, false);
	ST(address_space_stw_be, 2, true);
	ST(address_space_stl_le, 4, false);
	ST(address_space_stl_be, 4, true);
	ST(address_space_stq_le, 8, false);
	ST(address_space_stq_be, 8, true);
#undef ST

	/* and the plain meaning: the le load of a le device is its value */
	big = c.end == DEVICE_BIG_ENDIAN;
	v = lbt_dev_value(NULL, 0x20, 4) & 0xffffffff;
	g_assert_cmphex(big ? address_space_ldl_be(f->w->as, BASE + 0x20, ATTRS, NULL) :
			      address_space_ldl_le(f->w->as, BASE + 0x20, ATTRS, NULL),
			==, v);
	g_string_free(t, TRUE);
	fix_free(f);
}

/*
 * An ld/st that does not fit in its RAM range goes wholly to the RAM
 * region's dispatch: the io region after it is never called and the RAM
 * is not written.  QEMU answers such a dispatch like unassigned memory.
 */
static void test_ldst_crossing_ram_end(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	MemoryRegion *ram = lbt_new_ram(f->w, "ram", 0x1000);
	uint8_t *p = memory_region_get_ram_ptr(ram);
	MemTxResult r = MEMTX_OK;
	uint32_t v;

	f->ops.valid.unaligned = true;
	f->ops.impl.unaligned = true;
	memory_region_add_subregion(f->w->root, 0x1000, ram);
	fix_map(f, 0x2000);
	memset(p, 0x77, 0x1000);
	v = address_space_ldl_le(f->w->as, 0x1ffe, ATTRS, &r);
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(v, ==, 0);
	r = MEMTX_OK;
	address_space_stl_le(f->w->as, 0x1ffe, 0, ATTRS, &r);
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	g_assert_cmphex(p[0xffe], ==, 0x77);
	g_assert_cmphex(p[0xfff], ==, 0x77);
	fix_free(f);
}

/* ... and one crossing the end of an io range goes wholly to that device. */
static void test_ldst_crossing_io_end(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	MemoryRegion *ram = lbt_new_ram(f->w, "ram", 0x1000);
	GString *t = g_string_new(NULL);
	MemTxResult r = ~0u;

	f->ops.valid.unaligned = true;
	f->ops.impl.unaligned = true;
	fix_map(f, 0x1000);
	memory_region_add_subregion(f->w->root, 0x1000 + DEV_SIZE, ram);
	g_assert_cmphex(address_space_ldl_le(f->w->as, 0x1000 + DEV_SIZE - 2,
					     ATTRS, &r), ==,
			lbt_dev_value(NULL, DEV_SIZE - 2, 4) & 0xffffffff);
	g_assert_cmpuint(r, ==, MEMTX_OK);
	expect_read(t, DEV_SIZE - 2, 4);
	assert_trace(f, t);
	address_space_stl_le(f->w->as, 0x1000 + DEV_SIZE - 2, 0xa1b2c3d4, ATTRS, &r);
	lbt_trace_add(t, 'w', DEV_SIZE - 2, 4, 0xa1b2c3d4);
	assert_trace(f, t);
	g_assert_cmphex(((uint8_t *)memory_region_get_ram_ptr(ram))[0], ==, 0);
	g_string_free(t, TRUE);
	fix_free(f);
}

/*
 * MMIO lengths are not clamped at the end of the flat range: a piece that
 * starts in the device goes wholly to it, even past its end; an aligned
 * device gets its pieces cut by alignment instead.
 */
static void test_mmio_piece_not_clamped(gconstpointer data)
{
	bool unaligned = GPOINTER_TO_INT(data);
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	MemoryRegion *ram = lbt_new_ram(f->w, "ram", 0x1000);
	uint8_t *p = memory_region_get_ram_ptr(ram);
	GString *t = g_string_new(NULL);
	uint8_t buf[4];
	uint64_t v;

	f->ops.valid.unaligned = unaligned;
	f->ops.impl.unaligned = unaligned;
	fix_map(f, 0x1000);
	memory_region_add_subregion(f->w->root, 0x1000 + DEV_SIZE, ram);
	memcpy(p, "\xa1\xa2", 2);
	g_assert_cmpuint(address_space_read(f->w->as, 0x1000 + DEV_SIZE - 2,
					    ATTRS, buf, 4), ==, MEMTX_OK);
	if (unaligned) {
		expect_read(t, DEV_SIZE - 2, 4);
		v = lbt_dev_value(NULL, DEV_SIZE - 2, 4);
		g_assert_cmphex(ld_he(buf, 4), ==, v & 0xffffffff);
	} else {
		expect_read(t, DEV_SIZE - 2, 2);
		v = lbt_dev_value(NULL, DEV_SIZE - 2, 2);
		g_assert_cmphex(ld_he(buf, 2), ==, v & 0xffff);
		g_assert_cmpmem(buf + 2, 2, "\xa1\xa2", 2);
	}
	assert_trace(f, t);
	g_string_free(t, TRUE);
	fix_free(f);
}

static void test_access_valid(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	MemoryRegion *ram = lbt_new_ram(f->w, "ram", 0x1000);

	f->ops.valid.min_access_size = 4;
	f->ops.valid.max_access_size = 4;
	f->w->dev.accepts = reject_0x20;
	fix_map(f, BASE);
	memory_region_add_subregion(f->w->root, 0x1000, ram);

	g_assert_true(address_space_access_valid(f->w->as, 0x1000, 0x1000, true, ATTRS));
	g_assert_true(address_space_access_valid(f->w->as, 0x1001, 7, false, ATTRS));
	g_assert_false(address_space_access_valid(f->w->as, 0x1ff0, 0x20, false, ATTRS));
	g_assert_true(address_space_access_valid(f->w->as, BASE + 0x10, 4, false, ATTRS));
	/* split into 4 + 4 */
	g_assert_true(address_space_access_valid(f->w->as, BASE + 0x10, 8, true, ATTRS));
	/* a 2-byte piece is below valid.min */
	g_assert_false(address_space_access_valid(f->w->as, BASE + 0x10, 2, false, ATTRS));
	/* valid.accepts says no */
	g_assert_false(address_space_access_valid(f->w->as, BASE + 0x20, 4, false, ATTRS));
	g_assert_false(address_space_access_valid(f->w->as, BASE + 0x1c, 8, false, ATTRS));
	/* nothing was dispatched */
	g_assert_cmpuint(f->w->dev.calls, ==, 0);
	fix_free(f);
}

typedef struct Reenter {
	AddressSpace *as;
	hwaddr target;		/* absolute address the callback accesses */
	MemoryRegion *target_mr;
	MemTxResult as_read, as_write, dispatch;
	int depth;
	unsigned int probes;
} Reenter;

static void reenter_hook(LbtDev *dev, hwaddr addr, unsigned int size,
			 bool is_write)
{
	Reenter *re = dev->data;
	uint32_t v = 0;
	uint64_t q = 0;

	/* probe once, even if the library lets the access through */
	if (re->depth++ == 0) {
		re->probes++;
		re->as_read = address_space_read(re->as, re->target, ATTRS, &v, 4);
		re->as_write = address_space_write(re->as, re->target, ATTRS, &v, 4);
		re->dispatch = memory_region_dispatch_read(re->target_mr, 0, &q,
							   MO_32, ATTRS);
	}
	re->depth--;
}

/* Makes f's callbacks probe @target, then reads f's device once. */
static void reenter_arm(Fix *f, Reenter *re, hwaddr target,
			MemoryRegion *target_mr)
{
	uint32_t v;

	re->as = f->w->as;
	re->target = target;
	re->target_mr = target_mr;
	f->w->dev.data = re;
	f->w->dev.hook = reenter_hook;
	g_assert_cmpuint(address_space_read(f->w->as, BASE, ATTRS, &v, 4), ==,
			 MEMTX_OK);
}

/* A callback accessing its own region gets MEMTX_ACCESS_ERROR. */
static void test_reentrancy_own_region(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	Reenter re = { 0 };
	uint32_t v;
	/*
	 * The page does not say how a refused access is logged; a guest can
	 * trigger it, so a warning must not abort the test program.
	 */
	GLogLevelFlags fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK |
						      G_LOG_LEVEL_CRITICAL);

	fix_map(f, BASE);
	reenter_arm(f, &re, BASE + 0x40, f->mr);
	g_assert_cmpuint(re.probes, ==, 1);
	g_assert_cmpuint(re.as_read, ==, MEMTX_ACCESS_ERROR);
	g_assert_cmpuint(re.as_write, ==, MEMTX_ACCESS_ERROR);
	g_assert_cmpuint(re.dispatch, ==, MEMTX_ACCESS_ERROR);
	g_assert_cmpuint(f->w->dev.calls, ==, 1);
	/* from a write callback too, and the guard is released afterwards */
	g_assert_cmpuint(address_space_write(f->w->as, BASE, ATTRS, &v, 4), ==,
			 MEMTX_OK);
	g_assert_cmpuint(re.as_read, ==, MEMTX_ACCESS_ERROR);
	g_assert_cmpuint(f->w->dev.calls, ==, 2);
	f->w->dev.hook = NULL;
	g_assert_cmpuint(address_space_read(f->w->as, BASE, ATTRS, &v, 4), ==,
			 MEMTX_OK);
	g_assert_cmpuint(f->w->dev.calls, ==, 3);
	g_log_set_always_fatal(fatal);
	fix_free(f);
}

/* Another device (other owner, other region) may be accessed. */
static void test_reentrancy_other_region(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	MemoryRegionOps ops2;
	LbtDev dev2;
	MemoryRegion *mr2 = lbt_region_alloc();
	Reenter re = { 0 };

	lbt_dev_init(&dev2);
	lbt_ops_init(&ops2, false, DEVICE_LITTLE_ENDIAN);
	memory_region_init_io(mr2, &dev2, &ops2, &dev2, "other", DEV_SIZE);
	lbt_world_keep(f->w, mr2);
	memory_region_add_subregion(f->w->root, 2 * BASE, mr2);
	fix_map(f, BASE);
	reenter_arm(f, &re, 2 * BASE + 0x40, mr2);
	g_assert_cmpuint(re.as_read, ==, MEMTX_OK);
	g_assert_cmpuint(re.as_write, ==, MEMTX_OK);
	g_assert_cmpuint(re.dispatch, ==, MEMTX_OK);
	g_assert_cmpuint(dev2.calls, ==, 3);
	fix_free(f);
	lbt_dev_destroy(&dev2);
}

/* dispatch on an alias goes to the target at alias_offset + addr. */
static void test_dispatch_alias(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	GString *t = g_string_new(NULL);
	MemoryRegion *a;
	uint64_t q = 0;

	fix_map(f, BASE);
	a = lbt_new_alias(f->w, "a", f->mr, 0x40, 0x40);
	g_assert_cmpuint(memory_region_dispatch_read(a, 4, &q, MO_32, ATTRS), ==,
			 MEMTX_OK);
	g_assert_cmphex(q, ==, lbt_dev_value(NULL, 0x44, 4) & 0xffffffff);
	expect_read(t, 0x44, 4);
	assert_trace(f, t);
	g_assert_cmpuint(memory_region_dispatch_write(a, 8, 0x99, MO_8, ATTRS), ==,
			 MEMTX_OK);
	lbt_trace_add(t, 'w', 0x48, 1, 0x99);
	assert_trace(f, t);
	/* through an address space */
	memory_region_add_subregion(f->w->root, 0x100000, a);
	g_assert_cmpuint(address_space_read(f->w->as, 0x100010, ATTRS, &q, 2), ==,
			 MEMTX_OK);
	expect_read(t, 0x50, 2);
	assert_trace(f, t);
	g_string_free(t, TRUE);
	fix_free(f);
}

/* A ROM device: ROMD mode reads RAM directly, writes go to the callback. */
static void test_rom_device(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *mr = lbt_region_alloc();
	GString *t = g_string_new(NULL);
	GError *err = NULL;
	uint32_t v = 0, data = 0x01020304;
	uint8_t *p;

	g_assert_true(memory_region_init_rom_device(mr, NULL, &w->ops, &w->dev,
						    "romd", 0x1000, &err));
	g_assert_no_error(err);
	lbt_world_keep(w, mr);
	memory_region_add_subregion(w->root, 0x4000, mr);
	p = memory_region_get_ram_ptr(mr);
	g_assert_nonnull(p);
	g_assert_cmpuint(address_space_write_rom(w->as, 0x4010, ATTRS, &data, 4),
			 ==, MEMTX_OK);
	g_assert_cmpmem(p + 0x10, 4, &data, 4);

	g_assert_cmpuint(address_space_read(w->as, 0x4010, ATTRS, &v, 4), ==,
			 MEMTX_OK);
	g_assert_cmphex(v, ==, data);
	g_assert_cmpuint(w->dev.calls, ==, 0);
	g_assert_cmpuint(address_space_write(w->as, 0x4020, ATTRS, &data, 4), ==,
			 MEMTX_OK);
	lbt_trace_add(t, 'w', 0x20, 4, 0x01020304);
	g_assert_cmpstr(w->dev.trace->str, ==, t->str);
	g_assert_cmpmem(p + 0x20, 4, "\0\0\0\0", 4);

	/* ROMD off: reads go to the callback as well */
	lbt_dev_reset(&w->dev);
	g_string_truncate(t, 0);
	memory_region_rom_device_set_romd(mr, false);
	g_assert_false(memory_region_is_romd(mr));
	g_assert_cmpuint(address_space_read(w->as, 0x4010, ATTRS, &v, 4), ==,
			 MEMTX_OK);
	expect_read(t, 0x10, 4);
	g_assert_cmpstr(w->dev.trace->str, ==, t->str);
	g_assert_cmphex(v, ==, lbt_dev_value(NULL, 0x10, 4) & 0xffffffff);
	g_string_free(t, TRUE);
	lbt_world_free(w);
}

/* Direct RAM access spanning two regions and a hole. */
static void test_ram_direct_span(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *r1 = lbt_new_ram(w, "r1", 0x1000);
	MemoryRegion *r2 = lbt_new_ram(w, "r2", 0x1000);
	uint8_t buf[0x30], back[0x30];
	unsigned int i;

	memory_region_add_subregion(w->root, 0x1000, r1);
	memory_region_add_subregion(w->root, 0x2000, r2);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i + 1;
	g_assert_cmpuint(address_space_write(w->as, 0x1ff0, ATTRS, buf, 0x20), ==,
			 MEMTX_OK);
	g_assert_cmpmem((uint8_t *)memory_region_get_ram_ptr(r1) + 0xff0, 0x10,
			buf, 0x10);
	g_assert_cmpmem(memory_region_get_ram_ptr(r2), 0x10, buf + 0x10, 0x10);
	g_assert_cmpuint(address_space_read(w->as, 0x1ff0, ATTRS, back, 0x20), ==,
			 MEMTX_OK);
	g_assert_cmpmem(back, 0x20, buf, 0x20);
	/* running into the hole after r2 */
	memset(back, 0xee, sizeof(back));
	g_assert_cmpuint(address_space_write(w->as, 0x2ff0, ATTRS, buf, 0x30), ==,
			 MEMTX_DECODE_ERROR);
	g_assert_cmpuint(address_space_rw(w->as, 0x2ff0, ATTRS, back, 0x30, false),
			 ==, MEMTX_DECODE_ERROR);
	g_assert_cmpmem(back, 0x10, buf, 0x10);
	for (i = 0x10; i < 0x30; i++)
		g_assert_cmphex(back[i], ==, 0);
	lbt_world_free(w);
}

/* translate: the region and offset of an address; length clamped for RAM only. */
static void test_translate(void)
{
	Fix *f = fix_new(DEVICE_LITTLE_ENDIAN, false);
	MemoryRegion *ram = lbt_new_ram(f->w, "ram", 0x1000);
	hwaddr xlat = 0, len;

	fix_map(f, BASE);
	memory_region_add_subregion(f->w->root, 0x1000, ram);
	len = 0x2000;
	g_assert_true(address_space_translate(f->w->as, 0x1800, &xlat, &len,
					      false, ATTRS) == ram);
	g_assert_cmphex(xlat, ==, 0x800);
	g_assert_cmphex(len, ==, 0x800);
	len = 0x2000;
	g_assert_true(address_space_translate(f->w->as, BASE + 0x10, &xlat, &len,
					      true, ATTRS) == f->mr);
	g_assert_cmphex(xlat, ==, 0x10);
	g_assert_cmphex(len, ==, 0x2000);
	fix_free(f);
}

/* "rw", "r-", "--": memory_access_is_direct for a read, then a write. */
static char *direct(MemoryRegion *mr)
{
	return g_strdup_printf("%c%c", memory_access_is_direct(mr, false) ?
			       'r' : '-',
			       memory_access_is_direct(mr, true) ? 'w' : '-');
}

#define assert_direct(mr, expected) do {					char *d_ = direct(mr);							g_assert_cmpstr(d_, ==, (expected));					g_free(d_);							} while (0)

/*
 * memory_access_is_direct (include/exec/memory.h, QEMU 7.2-9.2): reads of
 * RAM that is not device RAM and of a ROM device in ROMD mode; writes of
 * RAM that is not read-only, not a ROM device and not device RAM.  It
 * looks at the region only: an alias (not RAM itself) is never direct.
 */
static void test_access_is_direct(void)
{
	LbtWorld *w = lbt_world_new(UINT64_MAX);
	MemoryRegion *ram = lbt_new_ram(w, "ram", 0x1000);
	MemoryRegion *ro = lbt_new_ram(w, "ro", 0x1000);
	MemoryRegion *rd = lbt_region_alloc(), *dev = lbt_region_alloc();
	static uint8_t dev_mem[0x1000];
	GError *err = NULL;

	g_assert_true(memory_region_init_rom_device(rd, NULL, &w->ops, &w->dev,
						    "romd", 0x1000, &err));
	g_assert_no_error(err);
	lbt_world_keep(w, rd);
	memory_region_init_ram_device_ptr(dev, NULL, "dev", sizeof(dev_mem),
					  dev_mem);
	lbt_world_keep(w, dev);
	memory_region_set_readonly(ro, true);

	assert_direct(ram, "rw");
	assert_direct(lbt_new_rom(w, "rom", 0x1000), "r-");
	assert_direct(ro, "r-");
	assert_direct(rd, "r-");
	memory_region_rom_device_set_romd(rd, false);
	assert_direct(rd, "--");
	assert_direct(dev, "--");
	assert_direct(lbt_new_io(w, "io", 0x1000), "--");
	assert_direct(lbt_new_container(w, "c", 0x1000), "--");
	assert_direct(lbt_new_alias(w, "alias", ram, 0, 0x1000), "--");
	lbt_world_free(w);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* report every failing test, not only the first */
	g_test_set_nonfatal_assertions();

	g_test_add_data_func("/access/matrix/little-endian",
			     GINT_TO_POINTER(DEVICE_LITTLE_ENDIAN), test_matrix);
	g_test_add_data_func("/access/matrix/big-endian",
			     GINT_TO_POINTER(DEVICE_BIG_ENDIAN), test_matrix);
	g_test_add_data_func("/access/matrix/native-endian",
			     GINT_TO_POINTER(DEVICE_NATIVE_ENDIAN), test_matrix);

	g_test_add_func("/access/split/8-byte-at-offset-2-is-2-4-2", test_split_8_at_2);
	g_test_add_func("/access/split/4-byte-at-offset-1-is-1-2-1", test_split_4_at_1);
	g_test_add_func("/access/split/alignment-of-region-offset", test_split_uses_region_offset);
	g_test_add_data_func("/access/impl-max-1/four-1-byte-reads/little-endian",
			     GINT_TO_POINTER(DEVICE_LITTLE_ENDIAN), test_impl_max_1);
	g_test_add_data_func("/access/impl-max-1/four-1-byte-reads/big-endian",
			     GINT_TO_POINTER(DEVICE_BIG_ENDIAN), test_impl_max_1);
	g_test_add_data_func("/access/impl-min-4/one-unaligned-4-byte-access/little-endian",
			     GINT_TO_POINTER(DEVICE_LITTLE_ENDIAN), test_impl_min_4);
	g_test_add_data_func("/access/impl-min-4/one-unaligned-4-byte-access/big-endian",
			     GINT_TO_POINTER(DEVICE_BIG_ENDIAN), test_impl_min_4);
	g_test_add_func("/access/valid/accepts-false-never-calls-device", test_accepts_false);
	g_test_add_func("/access/attrs/memtx-error-from-callback", test_attrs_error);
	g_test_add_func("/access/attrs/results-of-pieces-ored", test_results_ored);
	g_test_add_func("/access/unassigned/reads-zero-decode-error", test_unassigned);
	g_test_add_func("/access/rom/write-decode-error-data-unchanged", test_rom_write);
	g_test_add_func("/access/write-rom/writes-rom-ram-skips-io", test_write_rom);
	g_test_add_func("/access/ldst/ram", test_ldst_ram);
	g_test_add_data_func("/access/ldst/io/little-endian",
			     GINT_TO_POINTER(DEVICE_LITTLE_ENDIAN), test_ldst_io);
	g_test_add_data_func("/access/ldst/io/big-endian",
			     GINT_TO_POINTER(DEVICE_BIG_ENDIAN), test_ldst_io);
	g_test_add_func("/access/ldst/crossing-ram-end-goes-to-first-region", test_ldst_crossing_ram_end);
	g_test_add_func("/access/ldst/crossing-io-end-goes-to-first-region", test_ldst_crossing_io_end);
	g_test_add_data_func("/access/split/mmio-piece-not-clamped-at-range-end",
			     GINT_TO_POINTER(1), test_mmio_piece_not_clamped);
	g_test_add_data_func("/access/split/aligned-mmio-piece-cut-by-alignment",
			     GINT_TO_POINTER(0), test_mmio_piece_not_clamped);
	g_test_add_func("/access/access-valid", test_access_valid);
	g_test_add_func("/access/reentrancy/own-region-access-error", test_reentrancy_own_region);
	g_test_add_func("/access/reentrancy/other-region-allowed", test_reentrancy_other_region);
	g_test_add_func("/access/dispatch/follows-alias", test_dispatch_alias);
	g_test_add_func("/access/rom-device/romd-mode", test_rom_device);
	g_test_add_func("/access/direct/ram-romd-reads-writable-ram-writes",
			test_access_is_direct);
	g_test_add_func("/access/ram/direct-span-and-hole", test_ram_direct_span);
	g_test_add_func("/access/translate/ram-clamps-io-does-not", test_translate);

	return g_test_run();
}
