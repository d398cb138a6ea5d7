/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dispatch from several threads while one thread changes the map.
 *
 * The rule checked is QEMU's (docs/devel/rcu.rst, system/memory.c): a
 * reader works on one immutable flat view for the whole of its read-side
 * section, and a region that a commit removed stays usable, callbacks
 * included, until the grace period that follows that commit has ended;
 * only then is its last reference dropped.
 *
 * Every byte a reader can see encodes where it comes from: RAM regions are
 * filled, and io callbacks answer, with pat(key, offset) for the region's
 * key and the byte's offset in it.  The writer only ever puts regions at
 * the places listed in places[], so for an address A the reader knows
 * every (key, offset) it may legitimately get, plus "unassigned" (zeros
 * and MEMTX_DECODE_ERROR).  An access whose bytes do not all belong to one
 * such candidate is torn, or came from a stale or half-built view.
 * Placements are 0x800-aligned and accesses naturally aligned, so no
 * access straddles two ranges of any view.
 *
 * io callbacks check that their region's free notify has not run; regions
 * and RAM blocks that the writer drops are really freed (storage in the
 * notify, memfd mappings at finalisation), so a use after free is also a
 * crash, or an AddressSanitizer or ThreadSanitizer report.
 *
 * The amount of work is an iteration count (WRITER_STEPS commits, at
 * least READER_MIN_OPS accesses per reader); nothing depends on time.
 */
#include "config.h"

#include <string.h>

#include <loopback/memory.h>

#include "stress-util.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED

#define NREADERS	4
#define WRITER_STEPS	3000
#define READER_MIN_OPS	20000

/* Where readers read and translate: [0, READ_END). */
#define READ_END	0x13000
/* Where readers write io regions: [IO_WRITE_START, READ_END). */
#define IO_WRITE_START	0x10000
/* Reader t's own RAM, which only it writes. */
#define W_BASE		0x20000
#define W_SIZE		0x1000

enum key {
	KEY_R0 = 1,		/* RAM, moved, re-added with another priority */
	KEY_R1,			/* RAM, moved, toggled; target of alias a0 */
	KEY_DIO,		/* io, replaced by a new region, moved */
	KEY_IO4,		/* io with impl.max_access_size 4, toggled */
	KEY_OVL,		/* io over r0/r1 at priority 2, added/removed */
	KEY_DRAM,		/* memfd RAM, replaced by a new region */
	KEY_W = 100,		/* + reader number: the readers' own RAM */
};

typedef struct Place {
	unsigned int key;
	hwaddr addr;
	hwaddr size;
	hwaddr offset;		/* of addr in the region */
} Place;

/* Every place where the writer may put each key, and nothing else. */
static const Place places[] = {
	{ KEY_R0, 0x0000, 0x2000, 0 },
	{ KEY_R0, 0x2000, 0x2000, 0 },
	{ KEY_R1, 0x2000, 0x2000, 0 },
	{ KEY_R1, 0x4000, 0x2000, 0 },
	/* alias a0 of r1, 0x1000 bytes at 0x8000, three alias offsets */
	{ KEY_R1, 0x8000, 0x1000, 0 },
	{ KEY_R1, 0x8000, 0x1000, 0x800 },
	{ KEY_R1, 0x8000, 0x1000, 0x1000 },
	{ KEY_OVL, 0x1000, 0x1000, 0 },
	{ KEY_DRAM, 0x6000, 0x2000, 0 },
	{ KEY_DIO, 0x10000, 0x1000, 0 },
	{ KEY_DIO, 0x11000, 0x1000, 0 },
	{ KEY_IO4, 0x12000, 0x1000, 0 },
	{ KEY_W + 0, W_BASE + 0 * W_SIZE, W_SIZE, 0 },
	{ KEY_W + 1, W_BASE + 1 * W_SIZE, W_SIZE, 0 },
	{ KEY_W + 2, W_BASE + 2 * W_SIZE, W_SIZE, 0 },
	{ KEY_W + 3, W_BASE + 3 * W_SIZE, W_SIZE, 0 },
};

/* Byte @off of the region with @key: its 8-byte word says key and offset. */
static uint8_t pat(unsigned int key, hwaddr off)
{
	uint64_t word = ((uint64_t)key << 56) | ((off & ~(hwaddr)7) << 8) |
			0x5a;

	return (uint8_t)(word >> ((off & 7) * 8));
}

static void fill_pattern(uint8_t *p, unsigned int key, hwaddr size)
{
	for (hwaddr i = 0; i < size; i++)
		p[i] = pat(key, i);
}

/* ---- objects: the owner and opaque of every region ---- */

typedef struct Obj {
	unsigned int key;
	MemoryRegion *mr;	/* heap storage, freed by the free notify */
	gint freed;		/* the free notify ran */
	gint late_calls;	/* callbacks after that: must stay 0 */
	gint calls;
} Obj;

static void obj_free_notify(void *data)
{
	Obj *o = data;

	g_atomic_int_set(&o->freed, 1);
	g_free(o->mr);
}

static Obj *obj_new(unsigned int key)
{
	Obj *o = g_new0(Obj, 1);

	o->key = key;
	o->mr = g_new0(MemoryRegion, 1);
	return o;
}

static void obj_track(Obj *o)
{
	loopback_memory_region_set_free_notify(o->mr, obj_free_notify, o);
}

static bool obj_alive(Obj *o, hwaddr addr)
{
	g_atomic_int_inc(&o->calls);
	if (g_atomic_int_get(&o->freed)) {
		g_atomic_int_inc(&o->late_calls);
		fail("key %u: callback at 0x%" HWADDR_PRIx " after its free "
		     "notify ran", o->key, addr);
		return false;
	}
	return true;
}

/* Bases where the region with @key may be: base = addr - offset. */
static bool base_possible(unsigned int key, hwaddr base)
{
	for (size_t i = 0; i < G_N_ELEMENTS(places); i++)
		if (places[i].key == key &&
		    places[i].addr - places[i].offset == base)
			return true;
	return false;
}

static uint64_t io_read(void *opaque, hwaddr addr, unsigned size)
{
	Obj *o = opaque;
	uint64_t v = 0;

	if (!obj_alive(o, addr))
		return 0;
	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)pat(o->key, addr + i) << (i * 8);
	return v;
}

/* Readers write 4 bytes, the value being the address they wrote to. */
static void io_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
	Obj *o = opaque;

	if (!obj_alive(o, addr))
		return;
	if (size != 4 || !base_possible(o->key, (uint32_t)data - addr))
		fail("key %u: write of %#" PRIx64 " (size %u) at offset 0x%"
		     HWADDR_PRIx " came from an address where this region "
		     "never is", o->key, data, size, addr);
}

static const MemoryRegionOps io8_ops = {
	.read = io_read,
	.write = io_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 8 },
};

static const MemoryRegionOps io4_ops = {
	.read = io_read,
	.write = io_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* ---- the map ---- */

typedef struct Map {
	AddressSpace as;
	Obj *root, *r0, *r1, *a0, *ovl, *io4, *dio, *dram;
	Obj *w[NREADERS];
	uint8_t *r0_ram, *r1_ram, *w_ram[NREADERS];
	/* where things are now (writer's view) */
	hwaddr r0_addr, r1_addr, dio_addr;
	int r0_prio;
	bool ovl_in, dio_in, dram_in;
	GPtrArray *objs;	/* every Obj ever made, freed at the end */
	uint64_t rng;
} Map;

static Obj *map_obj(Map *m, unsigned int key)
{
	Obj *o = obj_new(key);

	g_ptr_array_add(m->objs, o);
	return o;
}

static Obj *ram_obj(Map *m, unsigned int key, const char *name,
		    hwaddr size, uint8_t **host)
{
	Obj *o = map_obj(m, key);
	g_autoptr(GError) err = NULL;

	if (!memory_region_init_ram(o->mr, o, name, size, &err))
		g_error("%s: %s", name, err->message);
	obj_track(o);
	*host = memory_region_get_ram_ptr(o->mr);
	return o;
}

static Obj *io_obj(Map *m, unsigned int key, const MemoryRegionOps *ops,
		   const char *name)
{
	Obj *o = map_obj(m, key);

	memory_region_init_io(o->mr, o, ops, o, name, 0x1000);
	obj_track(o);
	return o;
}

static Obj *new_dram(Map *m)
{
	uint8_t *host;
	Obj *o = ram_obj(m, KEY_DRAM, "dram", 0x2000, &host);

	fill_pattern(host, KEY_DRAM, 0x2000);
	return o;
}

static void map_init(Map *m, uint64_t seed)
{
	MemoryRegion *root;

	memset(m, 0, sizeof(*m));
	m->objs = g_ptr_array_new_with_free_func(g_free);
	m->rng = seed;
	m->root = map_obj(m, 0);
	root = m->root->mr;
	memory_region_init(root, m->root, "root", UINT64_MAX);
	obj_track(m->root);

	m->r0 = ram_obj(m, KEY_R0, "r0", 0x2000, &m->r0_ram);
	m->r1 = ram_obj(m, KEY_R1, "r1", 0x2000, &m->r1_ram);
	fill_pattern(m->r0_ram, KEY_R0, 0x2000);
	fill_pattern(m->r1_ram, KEY_R1, 0x2000);
	m->a0 = map_obj(m, KEY_R1);
	memory_region_init_alias(m->a0->mr, m->a0, "a0", m->r1->mr, 0, 0x1000);
	obj_track(m->a0);
	m->ovl = io_obj(m, KEY_OVL, &io8_ops, "ovl");
	m->io4 = io_obj(m, KEY_IO4, &io4_ops, "io4");
	m->dio = io_obj(m, KEY_DIO, &io8_ops, "dio");
	m->dram = new_dram(m);
	for (unsigned int t = 0; t < NREADERS; t++) {
		char name[8];

		snprintf(name, sizeof(name), "w%u", t);
		m->w[t] = ram_obj(m, KEY_W + t, name, W_SIZE, &m->w_ram[t]);
	}

	memory_region_transaction_begin();
	memory_region_add_subregion(root, 0x0000, m->r0->mr);
	memory_region_add_subregion(root, 0x4000, m->r1->mr);
	memory_region_add_subregion(root, 0x8000, m->a0->mr);
	memory_region_add_subregion(root, 0x6000, m->dram->mr);
	memory_region_add_subregion(root, 0x10000, m->dio->mr);
	memory_region_add_subregion(root, 0x12000, m->io4->mr);
	for (unsigned int t = 0; t < NREADERS; t++)
		memory_region_add_subregion(root, W_BASE + t * W_SIZE,
					    m->w[t]->mr);
	memory_region_transaction_commit();
	m->r0_addr = 0;
	m->r1_addr = 0x4000;
	m->dio_addr = 0x10000;
	m->dio_in = m->dram_in = true;
	address_space_init(&m->as, root, "stress");
}

/* Drops a region the map no longer uses: freed after a grace period. */
static void drop(Map *m, Obj *o)
{
	memory_region_del_subregion(m->root->mr, o->mr);
	memory_region_unref(o->mr);
}

/* One change of the map, as the writer makes them. */
static void writer_op(Map *m, unsigned int op)
{
	MemoryRegion *root = m->root->mr;
	static const hwaddr alias_offsets[] = { 0, 0x800, 0x1000 };

	switch (op) {
	case 0:
		m->r0_addr = m->r0_addr ? 0 : 0x2000;
		memory_region_set_address(m->r0->mr, m->r0_addr);
		break;
	case 1:
		m->r1_addr = m->r1_addr == 0x2000 ? 0x4000 : 0x2000;
		memory_region_set_address(m->r1->mr, m->r1_addr);
		break;
	case 2:
		/* same place, other priority: over or under its neighbours */
		m->r0_prio = !m->r0_prio;
		memory_region_ref(m->r0->mr);
		memory_region_del_subregion(root, m->r0->mr);
		memory_region_add_subregion_overlap(root, m->r0_addr,
						    m->r0->mr, m->r0_prio);
		memory_region_unref(m->r0->mr);
		break;
	case 3:
		memory_region_set_enabled(m->r1->mr,
					  !memory_region_is_enabled(m->r1->mr));
		break;
	case 4:
		memory_region_set_alias_offset(m->a0->mr,
					       alias_offsets[rnd(&m->rng) % 3]);
		break;
	case 5:
		if (m->ovl_in)
			memory_region_del_subregion(root, m->ovl->mr);
		else
			memory_region_add_subregion_overlap(root, 0x1000,
							    m->ovl->mr, 2);
		m->ovl_in = !m->ovl_in;
		break;
	case 6:
		/* a new device replaces the old, which is freed */
		if (m->dio_in)
			drop(m, m->dio);
		else
			memory_region_unref(m->dio->mr);
		m->dio = io_obj(m, KEY_DIO, &io8_ops, "dio");
		m->dio_addr = rnd(&m->rng) & 1 ? 0x11000 : 0x10000;
		memory_region_add_subregion(root, m->dio_addr, m->dio->mr);
		m->dio_in = true;
		break;
	case 7:
		if (m->dram_in)
			drop(m, m->dram);
		else
			memory_region_unref(m->dram->mr);
		m->dram = new_dram(m);
		m->dram_in = rnd(&m->rng) % 4 != 0;
		if (m->dram_in)
			memory_region_add_subregion(root, 0x6000, m->dram->mr);
		break;
	case 8:
		memory_region_set_enabled(m->io4->mr,
					  !memory_region_is_enabled(m->io4->mr));
		break;
	case 9: {
		MemoryRegion *w = m->w[rnd(&m->rng) % NREADERS]->mr;

		memory_region_set_enabled(w, !memory_region_is_enabled(w));
		break;
	}
	case 10:
		if (!m->dio_in)
			break;
		m->dio_addr = m->dio_addr == 0x10000 ? 0x11000 : 0x10000;
		memory_region_set_address(m->dio->mr, m->dio_addr);
		break;
	case 11:
		/* take the device out; the next replacement frees it */
		if (m->dio_in)
			memory_region_del_subregion(root, m->dio->mr);
		m->dio_in = false;
		break;
	}
}

#define WRITER_OPS 12

static void writer_step(Map *m)
{
	unsigned int n = 1;

	/* one in four steps is a transaction of 2 to 4 changes */
	if (rnd(&m->rng) % 4 == 0)
		n = 2 + rnd(&m->rng) % 3;
	memory_region_transaction_begin();
	for (unsigned int i = 0; i < n; i++)
		writer_op(m, rnd(&m->rng) % WRITER_OPS);
	memory_region_transaction_commit();
}

static void map_free(Map *m)
{
	Obj *in[] = { m->r0, m->r1, m->a0, m->io4, m->w[0], m->w[1],
		      m->w[2], m->w[3], m->ovl_in ? m->ovl : NULL,
		      m->dio_in ? m->dio : NULL, m->dram_in ? m->dram : NULL };
	Obj *out[] = { m->ovl_in ? NULL : m->ovl, m->dio_in ? NULL : m->dio,
		       m->dram_in ? NULL : m->dram, m->root };

	G_STATIC_ASSERT(NREADERS == 4);
	address_space_destroy(&m->as);
	memory_region_transaction_begin();
	for (size_t i = 0; i < G_N_ELEMENTS(in); i++)
		if (in[i])
			drop(m, in[i]);
	memory_region_transaction_commit();
	for (size_t i = 0; i < G_N_ELEMENTS(out); i++)
		if (out[i])
			memory_region_unref(out[i]->mr);
	loopback_memory_drain();
}

/* ---- readers ---- */

enum {
	OP_READ8, OP_READ64, OP_LDQ, OP_LDL, OP_LDUB, OP_TRANSLATE,
	OP_IO_WRITE, OP_IO_STL, OP_RAM_WRITE, OP_RAM_STQ, NOPS
};

static const char *const op_names[NOPS] = {
	"read 8", "read 64", "ldq", "ldl", "ldub", "translate",
	"io write", "io stl", "ram write", "ram stq",
};

typedef struct Reader {
	Map *m;
	unsigned int t;
	uint64_t rng;
	GThread *thread;
	uint64_t ops[NOPS];
	uint64_t unassigned;	/* reads that found nothing mapped */
	uint64_t dropped;	/* writes to its RAM while unmapped */
} Reader;

static gint writer_done;

/*
 * Whether @n bytes read at @a with result @r are whole: all from one
 * candidate region at the right offsets, or unassigned.
 */
static bool whole(hwaddr a, const uint8_t *buf, unsigned int n, MemTxResult r)
{
	if (r == MEMTX_DECODE_ERROR) {
		for (unsigned int i = 0; i < n; i++)
			if (buf[i])
				return false;
		return true;
	}
	if (r != MEMTX_OK)
		return false;
	for (size_t k = 0; k < G_N_ELEMENTS(places); k++) {
		const Place *p = &places[k];
		unsigned int i;

		if (a < p->addr || a + n > p->addr + p->size)
			continue;
		for (i = 0; i < n; i++)
			if (buf[i] != pat(p->key, a - p->addr + p->offset + i))
				break;
		if (i == n)
			return true;
	}
	return false;
}

static void check_read(Reader *rd, const char *what, hwaddr a,
		       const uint8_t *buf, unsigned int n, MemTxResult r)
{
	if (r == MEMTX_DECODE_ERROR)
		rd->unassigned++;
	if (!whole(a, buf, n, r)) {
		GString *s = g_string_new(NULL);

		for (unsigned int i = 0; i < n && i < 16; i++)
			g_string_append_printf(s, "%02x", buf[i]);
		fail("reader %u: %s of %u bytes at 0x%" HWADDR_PRIx
		     " (result %d) gave %s, not one region's bytes", rd->t,
		     what, n, a, r, s->str);
		g_string_free(s, TRUE);
	}
}

static void le_bytes(uint8_t *buf, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		buf[i] = (uint8_t)(v >> (i * 8));
}

/* Translation must give a live candidate region at the right offset. */
static void check_translate(Reader *rd, hwaddr a)
{
	hwaddr xlat = 0, len = 8;
	MemoryRegion *mr;
	Obj *o;

	loopback_rcu_read_lock();
	mr = address_space_translate(&rd->m->as, a, &xlat, &len, false,
				     ATTRS);
	o = memory_region_owner(mr);
	if (!o) {
		/* the library's unassigned region has no owner */
		rd->unassigned++;
	} else if (g_atomic_int_get(&o->freed)) {
		fail("reader %u: translate 0x%" HWADDR_PRIx " gave a region "
		     "already freed, inside the read section", rd->t, a);
	} else if (!base_possible(o->key, a - xlat)) {
		fail("reader %u: translate 0x%" HWADDR_PRIx " gave key %u at "
		     "offset 0x%" HWADDR_PRIx ": never there", rd->t, a,
		     o->key, xlat);
	} else if (memory_region_is_ram(mr)) {
		/* the mapping must still be there: memfd RAM is unmapped */
		const uint8_t *host = memory_region_get_ram_ptr(mr);
		uint8_t buf[8];

		memcpy(buf, host + xlat, sizeof(buf));
		for (unsigned int i = 0; i < sizeof(buf); i++)
			if (buf[i] != pat(o->key, xlat + i))
				fail("reader %u: RAM of key %u at 0x%"
				     HWADDR_PRIx " does not hold its pattern",
				     rd->t, o->key, xlat + i);
	}
	loopback_rcu_read_unlock();
}

/* An OK write is in the RAM, whole; a refused one left it unchanged. */
static void ram_write(Reader *rd, bool stq)
{
	hwaddr off = (rnd(&rd->rng) % (W_SIZE / 8)) * 8;
	hwaddr a = W_BASE + rd->t * W_SIZE + off;
	uint8_t *host = rd->m->w_ram[rd->t] + off;
	uint64_t before, after, v;
	MemTxResult r;

	v = ((uint64_t)(rd->t + 1) << 56) | (rnd(&rd->rng) >> 8);
	memcpy(&before, host, 8);
	if (stq) {
		address_space_stq_le(&rd->m->as, a, v, ATTRS, &r);
	} else {
		uint8_t buf[8];

		le_bytes(buf, v, 8);
		r = address_space_write(&rd->m->as, a, ATTRS, buf, 8);
	}
	memcpy(&after, host, 8);
	after = GUINT64_FROM_LE(after);
	before = GUINT64_FROM_LE(before);
	if (r == MEMTX_DECODE_ERROR)
		rd->dropped++;
	if (!(r == MEMTX_OK && after == v) &&
	    !(r == MEMTX_DECODE_ERROR && after == before))
		fail("reader %u: write of %#" PRIx64 " to its RAM at 0x%"
		     HWADDR_PRIx " gave result %d and left %#" PRIx64
		     " (was %#" PRIx64 ")", rd->t, v, a, r, after, before);
}

static void reader_op(Reader *rd, unsigned int op)
{
	AddressSpace *as = &rd->m->as;
	hwaddr a = (rnd(&rd->rng) % READ_END) & ~(hwaddr)7;
	hwaddr io = IO_WRITE_START +
		    ((rnd(&rd->rng) % (READ_END - IO_WRITE_START)) & ~(hwaddr)3);
	uint8_t buf[64];
	MemTxResult r;

	switch (op) {
	case OP_READ8:
		r = address_space_read(as, a, ATTRS, buf, 8);
		check_read(rd, "read", a, buf, 8, r);
		break;
	case OP_READ64:
		a &= ~(hwaddr)63;
		r = address_space_read(as, a, ATTRS, buf, 64);
		check_read(rd, "read", a, buf, 64, r);
		break;
	case OP_LDQ:
		le_bytes(buf, address_space_ldq_le(as, a, ATTRS, &r), 8);
		check_read(rd, "ldq", a, buf, 8, r);
		break;
	case OP_LDL:
		a += rnd(&rd->rng) & 4;
		le_bytes(buf, address_space_ldl_le(as, a, ATTRS, &r), 4);
		check_read(rd, "ldl", a, buf, 4, r);
		break;
	case OP_LDUB:
		a += rnd(&rd->rng) & 7;
		buf[0] = address_space_ldub(as, a, ATTRS, &r);
		check_read(rd, "ldub", a, buf, 1, r);
		break;
	case OP_TRANSLATE:
		check_translate(rd, a);
		break;
	case OP_IO_WRITE:
		le_bytes(buf, (uint32_t)io, 4);
		r = address_space_write(as, io, ATTRS, buf, 4);
		if (r != MEMTX_OK && r != MEMTX_DECODE_ERROR)
			fail("reader %u: io write at 0x%" HWADDR_PRIx
			     ": result %d", rd->t, io, r);
		break;
	case OP_IO_STL:
		address_space_stl_le(as, io, (uint32_t)io, ATTRS, &r);
		if (r != MEMTX_OK && r != MEMTX_DECODE_ERROR)
			fail("reader %u: io stl at 0x%" HWADDR_PRIx
			     ": result %d", rd->t, io, r);
		break;
	case OP_RAM_WRITE:
	case OP_RAM_STQ:
		ram_write(rd, op == OP_RAM_STQ);
		break;
	}
	rd->ops[op]++;
}

static gpointer reader_main(gpointer data)
{
	Reader *rd = data;
	uint64_t n = 0;

	while (!g_atomic_int_get(&writer_done) || n < READER_MIN_OPS) {
		reader_op(rd, rnd(&rd->rng) % NOPS);
		n++;
	}
	return NULL;
}

/* ---- tests ---- */

static void test_churn(void)
{
	uint64_t seed = g_test_rand_int();
	Reader rd[NREADERS];
	Map m;

	g_test_message("seed %" PRIu64, seed);
	errors_reset();
	map_init(&m, seed);
	g_atomic_int_set(&writer_done, 0);
	for (unsigned int t = 0; t < NREADERS; t++) {
		rd[t] = (Reader) { .m = &m, .t = t, .rng = seed + t + 1 };
		rd[t].thread = g_thread_new("reader", reader_main, &rd[t]);
	}
	for (unsigned int i = 0; i < WRITER_STEPS; i++)
		writer_step(&m);
	g_atomic_int_set(&writer_done, 1);
	for (unsigned int t = 0; t < NREADERS; t++) {
		GString *s = g_string_new(NULL);

		g_thread_join(rd[t].thread);
		for (unsigned int k = 0; k < NOPS; k++)
			g_string_append_printf(s, " %s %" PRIu64, op_names[k],
					       rd[t].ops[k]);
		g_test_message("reader %u:%s; unassigned %" PRIu64
			       ", dropped writes %" PRIu64, t, s->str,
			       rd[t].unassigned, rd[t].dropped);
		g_string_free(s, TRUE);
	}
	map_free(&m);

	/* after drain, every region is finalised, and none was called late */
	for (guint i = 0; i < m.objs->len; i++) {
		Obj *o = g_ptr_array_index(m.objs, i);

		if (!g_atomic_int_get(&o->freed))
			fail("key %u: not finalised after drain", o->key);
		g_assert_cmpint(o->late_calls, ==, 0);
	}
	g_test_message("%u regions made and freed", m.objs->len);
	assert_no_errors();
	g_ptr_array_free(m.objs, TRUE);
}

/*
 * A region removed while this thread is inside a read section stays
 * usable through the view taken before the removal, and its free notify
 * runs only after the section ends (QEMU: flatview_unref and the region's
 * unref are deferred with call_rcu).
 */
static void test_removed_inside_read_section(void)
{
	Map m;
	FlatView *fv;
	MemoryRegion *mr;
	hwaddr xlat, len = 4;
	uint64_t v = 0;
	Obj *dio;
	MemTxResult r;

	errors_reset();
	map_init(&m, 1);
	dio = m.dio;
	loopback_rcu_read_lock();
	fv = address_space_to_flatview(&m.as);
	/* remove the device and drop the last reference the test holds */
	drop(&m, dio);
	m.dio_in = false;
	g_assert_cmpint(g_atomic_int_get(&dio->freed), ==, 0);

	/* the new view no longer has it; the old one still does */
	mr = address_space_translate(&m.as, 0x10000, &xlat, &len, false, ATTRS);
	g_assert_null(memory_region_owner(mr));
	mr = flatview_translate(fv, 0x10008, &xlat, &len, false, ATTRS);
	g_assert_true(mr == dio->mr);
	g_assert_cmpuint(xlat, ==, 8);
	r = memory_region_dispatch_read(mr, xlat, &v, MO_32 | MO_LE, ATTRS);
	g_assert_cmpint(r, ==, MEMTX_OK);
	g_assert_cmphex(v, ==, (uint32_t)(((uint64_t)8 << 8) | 0x5a));
	g_assert_cmpint(g_atomic_int_get(&dio->calls), ==, 1);
	g_assert_cmpint(g_atomic_int_get(&dio->freed), ==, 0);
	loopback_rcu_read_unlock();

	/* a replacement for map_free() to drop */
	m.dio = io_obj(&m, KEY_DIO, &io8_ops, "dio");
	loopback_memory_drain();
	g_assert_cmpint(g_atomic_int_get(&dio->freed), ==, 1);
	map_free(&m);
	assert_no_errors();
	g_ptr_array_free(m.objs, TRUE);
}

static void test_drain_in_read_section(void)
{
	MemoryRegion *mr = g_new0(MemoryRegion, 1);

	memory_region_init(mr, NULL, "x", 0x1000);
	loopback_memory_region_set_free_notify(mr, g_free, mr);
	loopback_rcu_read_lock();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*inside an RCU read-side section*");
	loopback_memory_drain();
	g_test_assert_expected_messages();
	loopback_rcu_read_unlock();
	memory_region_unref(mr);
	loopback_memory_drain();
}

static void test_drain_in_transaction(void)
{
	memory_region_transaction_begin();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*inside a transaction*");
	loopback_memory_drain();
	g_test_assert_expected_messages();
	memory_region_transaction_commit();
}

static void drain_notify(void *data)
{
	loopback_memory_drain();
	g_atomic_int_set((gint *)data, 1);
}

static void test_drain_in_free_notify(void)
{
	MemoryRegion mr;
	AddressSpace as;
	gint done = 0;

	/*
	 * A terminating root (a reservation) is in its view, and the view's
	 * reference, dropped last, makes the notify run on the RCU thread.
	 */
	memory_region_init_io(&mr, NULL, NULL, NULL, "x", 0x1000);
	loopback_memory_region_set_free_notify(&mr, drain_notify, &done);
	address_space_init(&as, &mr, "x");
	memory_region_unref(&mr);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL,
			      "*called from an RCU callback*");
	address_space_destroy(&as);
	loopback_memory_drain();
	g_test_assert_expected_messages();
	g_assert_cmpint(done, ==, 1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/stress/readers-see-whole-regions-while-writer-churns",
			test_churn);
	g_test_add_func("/rcu/removed-region-usable-until-read-section-ends",
			test_removed_inside_read_section);
	g_test_add_func("/rcu/drain-refused-inside-read-section",
			test_drain_in_read_section);
	g_test_add_func("/rcu/drain-refused-inside-transaction",
			test_drain_in_transaction);
	g_test_add_func("/rcu/drain-refused-in-free-notify",
			test_drain_in_free_notify);
	return g_test_run();
}
