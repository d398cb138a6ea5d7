// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The trap path without a kernel: traps written to the fake device fd
 * become address_space_read/write on the device's AddressSpace, replies
 * come back batched, the GSource serves them, and the end of the device
 * (EOF = removed, EIO = broken) is reported once.
 */
#include "fake-kernel.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_read_write_reach_the_register_ops(void)
{
	FakeDev *f = fk_new(1);
	struct loopback_trap t[] = {
		fk_trap(1, 0x70, 4, true, 0x0f),
		fk_trap(2, 0x70, 4, false, 0),
		fk_trap(3, 0x50, 4, true, 0),
	};
	struct loopback_reply r[4];

	t[2].flags |= LOOPBACK_TRAP_POSTED;
	fk_send(f, t, G_N_ELEMENTS(t));
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 3);
	g_assert_cmpstr(f->trace->str, ==,
			"w 070 4 f\n"
			"r 070 4\n"
			"w 050 4 0\n");
	/* the posted kick gets no reply */
	g_assert_cmpuint(fk_recv(f, r, 4), ==, 2);
	g_assert_cmpuint(r[0].id, ==, 1);
	g_assert_cmpuint(r[0].data, ==, 0);
	g_assert_cmpuint(r[1].id, ==, 2);
	g_assert_cmpuint(r[1].data, ==, 0x0f);
	g_assert_cmpuint(r[1].flags | r[1].reserved, ==, 0);
	fk_free(f);
}

/* The trap's value is the driver's writel() value: little-endian bytes. */
static void test_sizes_are_little_endian(void)
{
	FakeDev *f = fk_new(1);
	struct loopback_trap t[] = {
		fk_trap(1, 0x100, 8, true, 0x0807060504030201ULL),
		fk_trap(2, 0x101, 1, false, 0),
		fk_trap(3, 0x102, 2, false, 0),
		fk_trap(4, 0x104, 4, false, 0),
		fk_trap(5, 0x100, 8, false, 0),
	};
	struct loopback_reply r[8];

	fk_send(f, t, G_N_ELEMENTS(t));
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 5);
	g_assert_cmpuint(f->regs[0x100], ==, 1);
	g_assert_cmpuint(f->regs[0x107], ==, 8);
	g_assert_cmpuint(fk_recv(f, r, 8), ==, 5);
	g_assert_cmpuint(r[1].data, ==, 0x02);
	g_assert_cmpuint(r[2].data, ==, 0x0403);
	g_assert_cmpuint(r[3].data, ==, 0x08070605);
	g_assert_cmpuint(r[4].data, ==, 0x0807060504030201ULL);
	fk_free(f);
}

static void test_unassigned_address_is_answered_with_zero(void)
{
	FakeDev *f = fk_new(1);
	struct loopback_trap t = fk_trap(9, 0, 4, false, 0);
	struct loopback_reply r;

	t.addr = 0x20000000;	/* nothing there */
	fk_send(f, &t, 1);
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 1);
	g_assert_cmpuint(fk_recv(f, &r, 1), ==, 1);
	g_assert_cmpuint(r.id, ==, 9);
	g_assert_cmpuint(r.data, ==, 0);
	g_assert_cmpstr(f->trace->str, ==, "");
	fk_free(f);
}

/* One write of replies per read of traps, however many traps. */
static void test_replies_are_batched(void)
{
	FakeDev *f = fk_new(1);
	struct loopback_trap t[LB_TRAP_BATCH];
	struct loopback_reply r[LB_TRAP_BATCH];

	for (unsigned int i = 0; i < LB_TRAP_BATCH; i++)
		t[i] = fk_trap(i + 1, 0x70, 4, false, 0);
	fk_send(f, t, LB_TRAP_BATCH);
	fk_send(f, t, 36);
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==,
			LB_TRAP_BATCH + 36);
	g_assert_cmpuint(fk_recv(f, r, LB_TRAP_BATCH), ==, LB_TRAP_BATCH);
	g_assert_cmpuint(fk_recv(f, r, LB_TRAP_BATCH), ==, 36);
	g_assert_cmpuint(fk_recv(f, r, LB_TRAP_BATCH), ==, 0);
	/* nothing pending: 0, not an error */
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 0);
	fk_free(f);
}

/* ENOENT: the kernel gave up on the first trap; the rest still go. */
static void test_stale_reply_is_skipped(void)
{
	FakeDev *f = fk_new(1);
	struct loopback_trap t[] = {
		fk_trap(1, 0x70, 4, false, 0),
		fk_trap(2, 0x74, 4, false, 0),
		fk_trap(3, 0x78, 4, false, 0),
	};
	struct loopback_reply r[4];

	f->stale_replies = 1;
	fk_send(f, t, G_N_ELEMENTS(t));
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 3);
	g_assert_cmpuint(fk_recv(f, r, 4), ==, 2);
	g_assert_cmpuint(r[0].id, ==, 2);
	g_assert_cmpuint(r[1].id, ==, 3);
	fk_free(f);
}

static void test_window_is_ram_from_the_window_fd(void)
{
	FakeDev *f = fk_new(1);
	AddressSpace *as = loopback_device_get_address_space(f->dev);
	MemoryRegion *win = loopback_device_get_window(f->dev);
	uint32_t v = 0x12345678, back = 0;

	g_assert_true(memory_region_is_ram(win));
	g_assert_cmpint(memory_region_get_fd(win), !=,
			loopback_device_get_fd(f->dev));
	g_assert_cmpint(loopback_device_get_window_fd(f->dev), ==,
			memory_region_get_fd(win));
	g_assert_cmpuint(loopback_device_get_window_base(f->dev), ==,
			 FK_WINDOW_BASE);
	g_assert_cmpuint(loopback_device_get_window_size(f->dev), ==,
			 FK_WINDOW_SIZE);
	g_assert_cmpint(address_space_write(as, FK_WINDOW_BASE + 0x1000,
					    MEMTXATTRS_UNSPECIFIED, &v,
					    sizeof(v)), ==, MEMTX_OK);
	/* MAP_SHARED: the bytes are in the file */
	g_assert_cmpint(pread(f->window_fd, &back, sizeof(back), 0x1000), ==,
			sizeof(back));
	g_assert_cmpuint(back, ==, v);
	g_assert_cmpuint(loopback_device_get_regs_base(f->dev), ==,
			 FK_REGS_BASE);
	g_assert_cmpstr(loopback_device_get_name(f->dev), ==, "loopback7");
	fk_free(f);
}

/* A register block of the caller's (the virtio layer's) instead of ops. */
static void test_caller_region_as_register_block(void)
{
	FakeDev *f = fk_new_full(1, false);
	MemoryRegion *mine = g_new0(MemoryRegion, 1), small;
	struct loopback_trap t = fk_trap(3, 0x70, 4, false, 0);
	struct loopback_reply r;
	g_autoptr(GError) busy = NULL;
	g_autoptr(GError) invalid = NULL;

	g_assert_null(loopback_device_get_regs(f->dev));
	memory_region_init_io(&small, NULL, &f->ops, f, "small", 0x100);
	g_assert_false(loopback_device_map_regs(f->dev, &small, &invalid));
	g_assert_error(invalid, LOOPBACK_ERROR, LOOPBACK_ERROR_INVALID);
	memory_region_init_io(mine, NULL, &f->ops, f, "mine",
			      LOOPBACK_DEVICE_REGS_SIZE);
	loopback_memory_region_set_free_notify(mine, g_free, mine);
	g_assert_true(loopback_device_map_regs(f->dev, mine, NULL));
	g_assert_true(loopback_device_get_regs(f->dev) == mine);
	g_assert_false(loopback_device_map_regs(f->dev, mine, &busy));
	g_assert_error(busy, LOOPBACK_ERROR, LOOPBACK_ERROR_BUSY);
	f->regs[0x70] = 0x0f;
	fk_send(f, &t, 1);
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 1);
	g_assert_cmpuint(fk_recv(f, &r, 1), ==, 1);
	g_assert_cmpuint(r.data, ==, 0x0f);
	/* the device's reference goes with it; ours now */
	memory_region_unref(mine);
	memory_region_unref(&small);
	fk_free(f);
}

/* ---- a dispatcher thread of the caller's ---- */

static void *dispatcher(void *data)
{
	LoopbackDevice *dev = data;
	GError *err = NULL;
	int n = 0;

	while (n >= 0) {
		struct pollfd p = { .fd = loopback_device_get_fd(dev),
				    .events = POLLIN };

		if (poll(&p, 1, 1000) < 0)
			break;
		n = loopback_device_dispatch(dev, &err);
	}
	return err;
}

static void test_own_thread_dispatches_until_removed(void)
{
	FakeDev *f = fk_new(2);
	struct loopback_trap t[16];
	struct loopback_reply r[16];
	unsigned int got = 0;
	GThread *thread;
	GError *end;

	for (unsigned int i = 0; i < G_N_ELEMENTS(t); i++)
		t[i] = fk_trap(i + 1, 0x70, 4, false, 0);
	thread = g_thread_new("dispatcher", dispatcher, f->dev);
	for (int round = 0; round < 20; round++) {
		fk_send(f, t, G_N_ELEMENTS(t));
		/* control calls from another thread than the dispatcher */
		g_assert_true(loopback_device_interrupt(f->dev, 1, NULL));
		for (gint64 end_t = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
		     got < 16u * (round + 1) && g_get_monotonic_time() < end_t;)
			got += fk_recv(f, r, G_N_ELEMENTS(r));
	}
	g_assert_cmpuint(got, ==, 16 * 20);
	close(f->peer);
	f->peer = -1;
	end = g_thread_join(thread);
	g_assert_error(end, LOOPBACK_ERROR, LOOPBACK_ERROR_REMOVED);
	g_error_free(end);
	fk_free(f);
}

/* ---- the GSource and the end of a device ---- */

typedef struct {
	FakeDev *f;
	unsigned int removed, broken;
	LoopbackError code;
	char *message;
	bool free_in_callback;
} Events;

static void on_event(LoopbackDevice *dev, LoopbackDeviceEvent event,
		     const GError *error, void *data)
{
	Events *ev = data;

	g_assert_true(dev == ev->f->dev);
	g_assert_error(error, LOOPBACK_ERROR, (int)error->code);
	if (event == LOOPBACK_DEVICE_EVENT_REMOVED)
		ev->removed++;
	else
		ev->broken++;
	ev->code = (LoopbackError)error->code;
	g_free(ev->message);
	ev->message = g_strdup(error->message);
	if (ev->free_in_callback) {
		loopback_device_free(dev);
		ev->f->dev = NULL;
	}
}

static void iterate_until(GMainContext *ctx, unsigned int *counter)
{
	gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	while (!*counter && g_get_monotonic_time() < end)
		g_main_context_iteration(ctx, false);
}

static void test_gsource_serves_traps_and_reports_removal_once(void)
{
	g_autoptr(GMainContext) ctx = g_main_context_new();
	FakeDev *f = fk_new(1);
	Events ev = { .f = f };
	struct loopback_trap t = fk_trap(5, 0x70, 4, false, 0);
	struct loopback_reply r;
	unsigned int got = 0;
	g_autoptr(GError) err = NULL;

	loopback_device_set_event_func(f->dev, on_event, &ev);
	loopback_device_attach(f->dev, ctx);
	fk_send(f, &t, 1);
	for (int i = 0; i < 500 && !got; i++) {
		g_main_context_iteration(ctx, false);
		got = fk_recv(f, &r, 1);
		if (!got)
			g_usleep(1000);
	}
	g_assert_cmpuint(got, ==, 1);
	g_assert_cmpuint(r.id, ==, 5);

	/* the kernel's end closes: read() returns 0, as after EPOLLHUP */
	close(f->peer);
	f->peer = -1;
	iterate_until(ctx, &ev.removed);
	g_assert_cmpuint(ev.removed, ==, 1);
	g_assert_cmpuint(ev.broken, ==, 0);
	g_assert_cmpint(ev.code, ==, LOOPBACK_ERROR_REMOVED);
	g_assert_cmpint(loopback_device_dispatch(f->dev, &err), ==, -1);
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_REMOVED);
	/* the source stopped: nothing is reported again */
	for (int i = 0; i < 10; i++)
		g_main_context_iteration(ctx, false);
	g_assert_cmpuint(ev.removed, ==, 1);
	g_free(ev.message);
	fk_free(f);
}

static void test_eio_is_broken_once(void)
{
	FakeDev *f = fk_new(1);
	Events ev = { .f = f };
	g_autoptr(GError) err = NULL;
	g_autoptr(GError) again = NULL;

	loopback_device_set_event_func(f->dev, on_event, &ev);
	f->read_errno = EIO;
	g_assert_cmpint(loopback_device_dispatch(f->dev, &err), ==, -1);
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN);
	g_assert_nonnull(strstr(err->message, "loopback7 is broken"));
	g_assert_cmpint(loopback_device_dispatch(f->dev, &again), ==, -1);
	g_assert_error(again, LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN);
	g_assert_cmpuint(ev.broken, ==, 1);
	g_assert_cmpuint(ev.removed, ==, 0);
	g_assert_cmpstr(ev.message, ==, err->message);
	g_free(ev.message);
	fk_free(f);
}

static void test_break_after_remove_names_the_removal(void)
{
	FakeDev *f = fk_new(1);
	g_autoptr(GError) before = NULL;
	g_autoptr(GError) err = NULL;

	f->read_errno = EIO;
	g_assert_cmpint(loopback_device_dispatch(f->dev, &before), ==, -1);
	g_assert_null(strstr(before->message, "removal"));
	fk_free(f);

	f = fk_new(1);
	g_assert_true(loopback_device_remove(f->dev, 2000, NULL));
	f->read_errno = EIO;
	g_assert_cmpint(loopback_device_dispatch(f->dev, &err), ==, -1);
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN);
	g_assert_nonnull(strstr(err->message,
				"loopback7 is broken (its removal timed out"));
	fk_free(f);
}

static void test_event_callback_may_free_the_device(void)
{
	g_autoptr(GMainContext) ctx = g_main_context_new();
	FakeDev *f = fk_new(1);
	Events ev = { .f = f, .free_in_callback = true };

	loopback_device_set_event_func(f->dev, on_event, &ev);
	loopback_device_attach(f->dev, ctx);
	close(f->peer);
	f->peer = -1;
	iterate_until(ctx, &ev.removed);
	g_assert_cmpuint(ev.removed, ==, 1);
	g_assert_null(f->dev);
	g_free(ev.message);
	fk_free(f);
}

static void test_free_with_source_attached(void)
{
	g_autoptr(GMainContext) ctx = g_main_context_new();
	FakeDev *f = fk_new(2);
	Events ev = { .f = f };

	loopback_device_set_event_func(f->dev, on_event, &ev);
	loopback_device_attach(f->dev, ctx);
	g_main_context_iteration(ctx, false);
	loopback_device_free(f->dev);
	f->dev = NULL;
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(ctx, false);
	/* freeing is not an event */
	g_assert_cmpuint(ev.removed + ev.broken, ==, 0);
	fk_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/device/trap/read-write-reach-the-register-ops",
			test_read_write_reach_the_register_ops);
	g_test_add_func("/device/trap/sizes-1-2-4-8-are-little-endian",
			test_sizes_are_little_endian);
	g_test_add_func("/device/trap/unassigned-address-answered-with-zero",
			test_unassigned_address_is_answered_with_zero);
	g_test_add_func("/device/trap/one-write-of-replies-per-read",
			test_replies_are_batched);
	g_test_add_func("/device/trap/stale-reply-skipped-rest-answered",
			test_stale_reply_is_skipped);
	g_test_add_func("/device/window/ram-from-the-window-fd",
			test_window_is_ram_from_the_window_fd);
	g_test_add_func("/device/regs/caller-region-as-register-block",
			test_caller_region_as_register_block);
	g_test_add_func("/device/thread/own-thread-dispatches-until-removed",
			test_own_thread_dispatches_until_removed);
	g_test_add_func("/device/source/serves-traps-and-reports-removal-once",
			test_gsource_serves_traps_and_reports_removal_once);
	g_test_add_func("/device/end/eio-is-broken-once",
			test_eio_is_broken_once);
	g_test_add_func("/device/end/break-after-remove-names-the-removal",
			test_break_after_remove_names_the_removal);
	g_test_add_func("/device/end/event-callback-may-free-the-device",
			test_event_callback_may_free_the_device);
	g_test_add_func("/device/end/free-with-source-attached-is-silent",
			test_free_with_source_attached);
	return g_test_run();
}
