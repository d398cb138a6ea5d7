/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Event notifiers and ioeventfds: the match rules at dispatch and what
 * listeners hear.
 *
 * The rules are QEMU's (system/memory.c): memory_region_dispatch_write()
 * does the endianness fix-up, then memory_region_dispatch_write_eventfds()
 * compares each registered ioeventfd with memory_region_ioeventfd_equal():
 * same address, and registered size 0, or same size and (no match_data, or
 * same data).  A match signals the notifier, returns MEMTX_OK and skips the
 * device.  memory_region_add_eventfd() fixes @data up to the device's order
 * as a target-order (here: host-order) store of @size bytes.  The listener
 * side is address_space_update_ioeventfds() and
 * address_space_add_del_ioeventfds(): a sorted diff, eventfd_del forward,
 * eventfd_add in reverse, only for enabled regions.
 */
#include "config.h"

#include <poll.h>
#include <string.h>

#include "trace-listener.h"

#define ATTRS MEMTXATTRS_UNSPECIFIED

static bool fd_readable(EventNotifier *e)
{
	struct pollfd p = { .fd = event_notifier_get_fd(e), .events = POLLIN };

	/* timeout 0: only the current state matters */
	g_assert_cmpint(poll(&p, 1, 0), >=, 0);
	return p.revents & POLLIN;
}

static void test_notifier(void)
{
	EventNotifier e, f;

	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	g_assert_cmpint(event_notifier_get_fd(&e), >=, 0);
	g_assert_false(fd_readable(&e));
	g_assert_cmpint(event_notifier_test_and_clear(&e), ==, 0);
	g_assert_cmpint(event_notifier_set(&e), ==, 0);
	g_assert_cmpint(event_notifier_set(&e), ==, 0);
	g_assert_true(fd_readable(&e));
	g_assert_cmpint(event_notifier_test_and_clear(&e), ==, 1);
	g_assert_false(fd_readable(&e));
	g_assert_cmpint(event_notifier_test_and_clear(&e), ==, 0);

	/* active: starts signalled */
	g_assert_cmpint(event_notifier_init(&f, 1), ==, 0);
	g_assert_true(fd_readable(&f));

	/* a wrapped fd is not closed by cleanup */
	EventNotifier w;

	event_notifier_init_fd(&w, event_notifier_get_fd(&f));
	event_notifier_cleanup(&w);
	g_assert_cmpint(event_notifier_test_and_clear(&f), ==, 1);

	event_notifier_cleanup(&e);
	event_notifier_cleanup(&f);
	g_assert_cmpint(e.rfd, ==, -1);
}

/* An io device "dev" at 0x10000 of a world, and one notifier. */
typedef struct Fix {
	LbtWorld *w;
	MemoryRegion *dev;
	EventNotifier e;
	MemoryRegionOps be_ops;
} Fix;

static void fix_init(Fix *f, enum device_endian end)
{
	f->w = lbt_world_new(UINT64_MAX);
	if (end == DEVICE_LITTLE_ENDIAN) {
		f->dev = lbt_new_io(f->w, "dev", 0x100);
	} else {
		lbt_ops_init(&f->be_ops, false, end);
		f->dev = lbt_region_alloc();
		memory_region_init_io(f->dev, NULL, &f->be_ops, &f->w->dev,
				      "dev", 0x100);
		lbt_world_keep(f->w, f->dev);
	}
	memory_region_add_subregion(f->w->root, 0x10000, f->dev);
	g_assert_cmpint(event_notifier_init(&f->e, 0), ==, 0);
}

static void fix_free(Fix *f)
{
	lbt_world_free(f->w);
	event_notifier_cleanup(&f->e);
	g_assert_cmpuint(lbt_live(), ==, 0);
}

/* Writes @size bytes of @v in host order at @addr; true if signalled. */
static bool write_signals(Fix *f, hwaddr addr, uint64_t v, unsigned size)
{
	uint8_t buf[8];
	uint16_t v16 = v;
	uint32_t v32 = v;
	uint8_t v8 = v;

	switch (size) {
	case 1: memcpy(buf, &v8, 1); break;
	case 2: memcpy(buf, &v16, 2); break;
	case 4: memcpy(buf, &v32, 4); break;
	default: memcpy(buf, &v, 8); break;
	}
	lbt_dev_reset(&f->w->dev);
	g_assert_cmphex(address_space_write(f->w->as, addr, ATTRS, buf, size),
			==, MEMTX_OK);
	if (event_notifier_test_and_clear(&f->e)) {
		/* a match skips the device */
		g_assert_cmpstr(f->w->dev.trace->str, ==, "");
		return true;
	}
	return false;
}

static void test_size_zero_matches_any_size(void)
{
	Fix f;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	f.w->ops.valid.max_access_size = 8;
	f.w->ops.impl.max_access_size = 8;
	memory_region_add_eventfd(f.dev, 0x10, 0, false, 0, &f.e);
	g_assert_true(write_signals(&f, 0x10010, 0xab, 1));
	g_assert_true(write_signals(&f, 0x10010, 0xabcd, 2));
	g_assert_true(write_signals(&f, 0x10010, 0x12345678, 4));
	g_assert_true(write_signals(&f, 0x10010, 0x1122334455667788ull, 8));
	/* another address reaches the device */
	g_assert_false(write_signals(&f, 0x10014, 1, 4));
	g_assert_cmpstr(f.w->dev.trace->str, ==, "w 14 4 1\n");
	/* reads are never matched */
	lbt_dev_reset(&f.w->dev);
	g_assert_cmphex(address_space_ldl_le(f.w->as, 0x10010, ATTRS, NULL),
			!=, 0);
	g_assert_cmpuint(f.w->dev.calls, ==, 1);
	g_assert_false(fd_readable(&f.e));
	memory_region_del_eventfd(f.dev, 0x10, 0, false, 0, &f.e);
	fix_free(&f);
}

static void test_size_mismatch(void)
{
	Fix f;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	memory_region_add_eventfd(f.dev, 0x10, 4, false, 0, &f.e);
	g_assert_false(write_signals(&f, 0x10010, 0xabcd, 2));
	g_assert_cmpstr(f.w->dev.trace->str, ==, "w 10 2 abcd\n");
	/* without match_data any value of the right size */
	g_assert_true(write_signals(&f, 0x10010, 0xdeadbeef, 4));
	g_assert_true(write_signals(&f, 0x10010, 0, 4));
	memory_region_del_eventfd(f.dev, 0x10, 4, false, 0, &f.e);
	fix_free(&f);
}

static void test_data(void)
{
	Fix f;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	memory_region_add_eventfd(f.dev, 0x10, 4, true, 0x1234, &f.e);
	g_assert_true(write_signals(&f, 0x10010, 0x1234, 4));
	g_assert_false(write_signals(&f, 0x10010, 0x1235, 4));
	g_assert_cmpstr(f.w->dev.trace->str, ==, "w 10 4 1235\n");
	/* the ld/st path and dispatch itself match the same way */
	address_space_stl_le(f.w->as, 0x10010, 0x1234, ATTRS, NULL);
	g_assert_cmpint(event_notifier_test_and_clear(&f.e), ==, 1);
	g_assert_cmphex(memory_region_dispatch_write(f.dev, 0x10, 0x1234,
						     MO_LEUL, ATTRS), ==,
			MEMTX_OK);
	g_assert_cmpint(event_notifier_test_and_clear(&f.e), ==, 1);
	memory_region_del_eventfd(f.dev, 0x10, 4, true, 0x1234, &f.e);
	/* deleted: the device gets the write again */
	g_assert_false(write_signals(&f, 0x10010, 0x1234, 4));
	g_assert_cmpstr(f.w->dev.trace->str, ==, "w 10 4 1234\n");
	fix_free(&f);
}

/*
 * A big-endian device: QEMU fixes the registered data up as a
 * target-order store (host order here) would arrive at the device, and
 * compares it with the written value after the same fix-up.  So a
 * host-order store of the value matches; the same value stored big-endian
 * arrives byte-swapped relative to that (on a little-endian host) and
 * reaches the device.
 */
static void test_big_endian_device(void)
{
	Fix f;
	const bool host_big = G_BYTE_ORDER == G_BIG_ENDIAN;

	fix_init(&f, DEVICE_BIG_ENDIAN);
	memory_region_add_eventfd(f.dev, 0x20, 2, true, 0x1234, &f.e);
	g_assert_true(write_signals(&f, 0x10020, 0x1234, 2));
	address_space_stw_be(f.w->as, 0x10020, 0x1234, ATTRS, NULL);
	g_assert_cmpint(event_notifier_test_and_clear(&f.e), ==, host_big);
	address_space_stw_le(f.w->as, 0x10020, 0x1234, ATTRS, NULL);
	g_assert_cmpint(event_notifier_test_and_clear(&f.e), ==, !host_big);
	/* and the device saw exactly the write that did not match */
	g_assert_cmpstr(f.w->dev.trace->str, ==, "w 20 2 1234\n");
	memory_region_del_eventfd(f.dev, 0x20, 2, true, 0x1234, &f.e);
	fix_free(&f);
}

/* Dispatch follows an alias to the region that holds the ioeventfd. */
static void test_through_alias(void)
{
	Fix f;
	MemoryRegion *al;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	al = lbt_new_alias(f.w, "al", f.dev, 0x80, 0x80);
	memory_region_add_subregion(f.w->root, 0x20000, al);
	memory_region_add_eventfd(f.dev, 0x88, 1, false, 0, &f.e);
	g_assert_true(write_signals(&f, 0x20008, 0x5a, 1));
	g_assert_true(write_signals(&f, 0x10088, 0x5a, 1));
	memory_region_del_eventfd(f.dev, 0x88, 1, false, 0, &f.e);
	fix_free(&f);
}

/* The first match in sorted order wins; two notifiers at one address. */
static void test_two_notifiers(void)
{
	Fix f;
	EventNotifier e2;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	g_assert_cmpint(event_notifier_init(&e2, 0), ==, 0);
	memory_region_add_eventfd(f.dev, 0x10, 4, true, 1, &f.e);
	memory_region_add_eventfd(f.dev, 0x10, 4, true, 2, &e2);
	g_assert_true(write_signals(&f, 0x10010, 1, 4));
	g_assert_false(fd_readable(&e2));
	g_assert_false(write_signals(&f, 0x10010, 2, 4));
	g_assert_cmpint(event_notifier_test_and_clear(&e2), ==, 1);
	g_assert_cmpstr(f.w->dev.trace->str, ==, "");
	memory_region_del_eventfd(f.dev, 0x10, 4, true, 1, &f.e);
	memory_region_del_eventfd(f.dev, 0x10, 4, true, 2, &e2);
	fix_free(&f);
	event_notifier_cleanup(&e2);
}

/*
 * What listeners hear: an ioeventfd-only change is only the diff (no
 * begin/commit); several changes in one transaction arrive sorted by
 * address; a disabled region's ioeventfds are not heard until it shows.
 */
static void test_listener_diff(void)
{
	Fix f;
	GString *tr = g_string_new(NULL);
	TraceListener l;
	EventNotifier e2;
	EventNotifier *es[2] = { &f.e, &e2 };
	MemoryRegion *off;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	g_assert_cmpint(event_notifier_init(&e2, 0), ==, 0);
	tl_init(&l, "L", tr, 0);
	l.notifiers = es;
	l.nr_notifiers = 2;
	memory_listener_register(&l.l, f.w->as);
	g_string_truncate(tr, 0);

	memory_region_transaction_begin();
	memory_region_add_eventfd(f.dev, 0x40, 4, true, 9, &e2);
	memory_region_add_eventfd(f.dev, 0x8, 2, false, 0, &f.e);
	memory_region_add_eventfd(f.dev, 0x40, 4, true, 3, &f.e);
	tl_assert(tr, "");
	memory_region_transaction_commit();
	tl_assert(tr, "L eventfd_add [10008+2] 0 0 e0",
		  "L eventfd_add [10040+4] 1 3 e0",
		  "L eventfd_add [10040+4] 1 9 e1");

	/* moving the region: passes, then the diff, inside begin/commit */
	memory_region_set_address(f.dev, 0x30000);
	tl_assert(tr, "L begin", "L del dev[10000,10100)@0",
		  "L add dev[30000,30100)@0",
		  "L eventfd_del [10008+2] 0 0 e0",
		  "L eventfd_del [10040+4] 1 3 e0",
		  "L eventfd_del [10040+4] 1 9 e1",
		  "L eventfd_add [30008+2] 0 0 e0",
		  "L eventfd_add [30040+4] 1 3 e0",
		  "L eventfd_add [30040+4] 1 9 e1", "L commit");

	memory_region_del_eventfd(f.dev, 0x40, 4, true, 3, &f.e);
	tl_assert(tr, "L eventfd_del [30040+4] 1 3 e0");

	/* disabled: no diff now (QEMU: ioeventfd_update_pending |= enabled) */
	off = lbt_new_io(f.w, "off", 0x10);
	memory_region_set_enabled(off, false);
	memory_region_add_subregion(f.w->root, 0x50000, off);
	/* set_enabled commits even for a region in no container */
	tl_assert(tr, "L begin", "L nop dev[30000,30100)@0", "L commit");
	memory_region_add_eventfd(off, 0, 1, false, 0, &f.e);
	tl_assert(tr, "");
	memory_region_set_enabled(off, true);
	tl_assert(tr, "L begin", "L nop dev[30000,30100)@0",
		  "L add off[50000,50010)@0",
		  "L eventfd_add [50000+1] 0 0 e0", "L commit");

	memory_listener_unregister(&l.l);
	tl_assert(tr, "L begin", "L del dev[30000,30100)@0",
		  "L del off[50000,50010)@0",
		  "L eventfd_del [30008+2] 0 0 e0",
		  "L eventfd_del [30040+4] 1 9 e1",
		  "L eventfd_del [50000+1] 0 0 e0", "L commit");
	memory_region_del_eventfd(f.dev, 0x8, 2, false, 0, &f.e);
	memory_region_del_eventfd(f.dev, 0x40, 4, true, 9, &e2);
	memory_region_del_eventfd(off, 0, 1, false, 0, &f.e);
	fix_free(&f);
	event_notifier_cleanup(&e2);
	g_string_free(tr, TRUE);
}

/* A region freed with ioeventfds still registered leaks nothing. */
static void test_freed_with_eventfds(void)
{
	Fix f;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	memory_region_add_eventfd(f.dev, 0x10, 4, false, 0, &f.e);
	memory_region_add_eventfd(f.dev, 0x20, 4, false, 0, &f.e);
	fix_free(&f);
}

/* ---- misuse ---- */

static void misuse_bad_sizes(void)
{
	Fix f;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	memory_region_add_eventfd(f.dev, 0x10, 3, false, 0, &f.e);
	memory_region_add_eventfd(f.dev, 0x10, 16, false, 0, &f.e);
	/* past the end of the 0x100-byte region */
	memory_region_add_eventfd(f.dev, 0xfc, 8, false, 0, &f.e);
	memory_region_add_eventfd(f.dev, 0x100, 0, false, 0, &f.e);
	/* nothing was registered */
	g_assert_false(write_signals(&f, 0x10010, 0, 1));
	g_assert_false(write_signals(&f, 0x100fc, 0, 4));
	fix_free(&f);
}

static void misuse_del_unknown(void)
{
	Fix f;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	memory_region_del_eventfd(f.dev, 0x10, 4, false, 0, &f.e);
	memory_region_add_eventfd(f.dev, 0x10, 4, true, 1, &f.e);
	/* other data: not the one registered */
	memory_region_del_eventfd(f.dev, 0x10, 4, true, 2, &f.e);
	g_assert_true(write_signals(&f, 0x10010, 1, 4));
	memory_region_del_eventfd(f.dev, 0x10, 4, true, 1, &f.e);
	fix_free(&f);
}

static void misuse_duplicate(void)
{
	Fix f;
	GString *tr = g_string_new(NULL);
	TraceListener l;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	tl_init(&l, "L", tr, 0);
	memory_listener_register(&l.l, f.w->as);
	memory_region_add_eventfd(f.dev, 0x10, 4, true, 1, &f.e);
	g_string_truncate(tr, 0);
	memory_region_add_eventfd(f.dev, 0x10, 4, true, 1, &f.e);
	tl_assert(tr, "");
	/* one del removes it: there was only one */
	memory_region_del_eventfd(f.dev, 0x10, 4, true, 1, &f.e);
	g_assert_false(write_signals(&f, 0x10010, 1, 4));
	memory_listener_unregister(&l.l);
	fix_free(&f);
	g_string_free(tr, TRUE);
}

static void misuse_alias(void)
{
	Fix f;
	MemoryRegion *al;

	fix_init(&f, DEVICE_LITTLE_ENDIAN);
	al = lbt_new_alias(f.w, "al", f.dev, 0, 0x100);
	memory_region_add_eventfd(al, 0x10, 4, false, 0, &f.e);
	memory_region_add_eventfd(f.dev, 0x10, 4, false, 0, NULL);
	fix_free(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/ioeventfd/notifier/init-set-test-and-clear",
			test_notifier);
	g_test_add_func("/ioeventfd/match/size-zero-matches-any-size",
			test_size_zero_matches_any_size);
	g_test_add_func("/ioeventfd/match/size-mismatch-reaches-device",
			test_size_mismatch);
	g_test_add_func("/ioeventfd/match/data-match-and-mismatch", test_data);
	g_test_add_func("/ioeventfd/match/big-endian-device-data-after-fix-up",
			test_big_endian_device);
	g_test_add_func("/ioeventfd/match/through-alias", test_through_alias);
	g_test_add_func("/ioeventfd/match/first-of-two-notifiers",
			test_two_notifiers);
	g_test_add_func("/ioeventfd/listener/sorted-diff-and-order",
			test_listener_diff);
	g_test_add_func("/ioeventfd/region-freed-with-ioeventfds",
			test_freed_with_eventfds);
	tl_add_misuse("/ioeventfd/misuse/bad-sizes", misuse_bad_sizes);
	tl_add_misuse("/ioeventfd/misuse/del-unknown", misuse_del_unknown);
	tl_add_misuse("/ioeventfd/misuse/duplicate-add", misuse_duplicate);
	tl_add_misuse("/ioeventfd/misuse/alias-or-null-notifier", misuse_alias);
	return g_test_run();
}
