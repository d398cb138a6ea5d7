/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Split virtqueues through the register block and a memfd window: chains,
 * indirect tables, EVENT_IDX both ways, out-of-order completion, queue
 * threads, and every malformed ring the layer must refuse (virtio 1.2,
 * 2.7) with NEEDS_RESET, the config interrupt and one log line.
 */
#include "config.h"

#include <string.h>

#include "virtio-driver.h"

#define R_(x) LOOPBACK_VIRTIO_MMIO_##x
#define S_(x) LOOPBACK_VIRTIO_S_##x
#define F(b) (1ULL << (b))
#define TRANSPORT (F(LOOPBACK_VIRTIO_F_VERSION_1) | \
		   F(LOOPBACK_VIRTIO_F_ACCESS_PLATFORM))
#define EVENT_IDX F(LOOPBACK_VIRTIO_F_EVENT_IDX)
#define INDIRECT F(LOOPBACK_VIRTIO_F_INDIRECT_DESC)
#define WINDOW_SIZE 0x40000
#define QSIZE 8
#define W_ true		/* device-writable */

typedef struct Fix {
	Vdrv *d;
	VdrvEcho *e;
} Fix;

static Fix fix_up(uint64_t features)
{
	Fix f;

	f.d = vdrv_new(WINDOW_SIZE);
	f.e = vdrv_echo_new(f.d, EVENT_IDX | INDIRECT);
	vdrv_bring_up(f.d, TRANSPORT | features, 2, QSIZE);
	return f;
}

static void fix_free(Fix f)
{
	vdrv_free(f.d);
	vdrv_echo_free(f.e);
}

/* A buffer in the window holding @s (or @len zero bytes when @s is NULL). */
static VdrvBuf buf(Vdrv *d, const char *s, uint32_t len, bool write)
{
	uint64_t a = vdrv_alloc(d, len ? len : 1, 8);

	if (s)
		memcpy(vdrv_ptr(d, a), s, len);
	return (VdrvBuf) { a, len, write };
}

static void expect_used(Vdrv *d, unsigned int q, uint32_t id, uint32_t len)
{
	uint32_t got_id, got_len;

	g_assert_true(vdrv_get_used(d, q, &got_id, &got_len));
	g_assert_cmpuint(got_id, ==, id);
	g_assert_cmpuint(got_len, ==, len);
}

static void submit(Vdrv *d, unsigned int q, unsigned int head)
{
	vdrv_publish(d, q, head);
	vdrv_kick(d, q);
	vdrv_iterate();
}

static void test_request_round_trip(void)
{
	Fix f = fix_up(0);
	VdrvBuf b[2];
	unsigned int head;

	b[0] = buf(f.d, "hello, virtio", 13, false);
	b[1] = buf(f.d, NULL, 32, W_);
	head = vdrv_chain(f.d, 0, b, 2);
	submit(f.d, 0, head);
	expect_used(f.d, 0, head, 13);
	g_assert_cmpmem(vdrv_ptr(f.d, b[1].addr), 13, "hello, virtio", 13);
	g_assert_cmpuint(vdrv_irqs(f.d, 0), ==, 1);
	g_assert_cmphex(vdrv_read(f.d, R_(INTERRUPT_STATUS)), ==,
			LOOPBACK_VIRTIO_INT_VRING);
	g_assert_cmpuint(f.d->log->len, ==, 0);
	fix_free(f);
}

static void test_chain_of_many_descriptors(void)
{
	Fix f = fix_up(0);
	VdrvBuf b[6];
	unsigned int head;

	b[0] = buf(f.d, "ab", 2, false);
	b[1] = buf(f.d, "", 0, false);
	b[2] = buf(f.d, "cdef", 4, false);
	b[3] = buf(f.d, "g", 1, false);
	b[4] = buf(f.d, NULL, 3, W_);
	b[5] = buf(f.d, NULL, 8, W_);
	head = vdrv_chain(f.d, 0, b, 6);
	submit(f.d, 0, head);
	expect_used(f.d, 0, head, 7);
	g_assert_cmpmem(vdrv_ptr(f.d, b[4].addr), 3, "abc", 3);
	g_assert_cmpmem(vdrv_ptr(f.d, b[5].addr), 4, "defg", 4);
	fix_free(f);
}

static void test_indirect_chain(void)
{
	Fix f = fix_up(INDIRECT);
	VdrvBuf b[3];
	unsigned int head;

	b[0] = buf(f.d, "indi", 4, false);
	b[1] = buf(f.d, "rect", 4, false);
	b[2] = buf(f.d, NULL, 8, W_);
	head = vdrv_chain_indirect(f.d, 0, b, 3);
	submit(f.d, 0, head);
	expect_used(f.d, 0, head, 8);
	g_assert_cmpmem(vdrv_ptr(f.d, b[2].addr), 8, "indirect", 8);
	fix_free(f);
}

static void test_indirect_table_as_long_as_the_queue(void)
{
	Fix f = fix_up(INDIRECT);
	VdrvBuf b[QSIZE];
	unsigned int head;

	for (unsigned int i = 0; i < QSIZE - 1; i++)
		b[i] = buf(f.d, "x", 1, false);
	b[QSIZE - 1] = buf(f.d, NULL, 16, W_);
	head = vdrv_chain_indirect(f.d, 0, b, QSIZE);
	submit(f.d, 0, head);
	expect_used(f.d, 0, head, QSIZE - 1);
	fix_free(f);
}

static void test_completions_out_of_order(void)
{
	Fix f = fix_up(0);
	LoopbackVirtqueue *vq = loopback_virtio_get_queue(f.e->vdev, 0);
	unsigned int heads[3];

	f.e->hold = true;
	for (unsigned int i = 0; i < 3; i++) {
		VdrvBuf b[2] = { buf(f.d, "r", 1, false),
				 buf(f.d, NULL, 4, W_) };

		heads[i] = vdrv_chain(f.d, 0, b, 2);
		vdrv_publish(f.d, 0, heads[i]);
	}
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	g_assert_cmpuint(f.e->held->len, ==, 3);
	for (int i = 2; i >= 0; i--) {
		LoopbackVirtqueueElement *el = g_ptr_array_index(f.e->held, i);

		g_assert_cmpuint(el->index, ==, heads[i]);
		loopback_virtqueue_push(vq, el, 1);
	}
	g_ptr_array_set_size(f.e->held, 0);
	loopback_virtqueue_notify(vq);
	for (int i = 2; i >= 0; i--)
		expect_used(f.d, 0, heads[i], 1);
	g_assert_cmpuint(vdrv_irqs(f.d, 0), ==, 1);
	fix_free(f);
}

static void test_reset_drops_chains_in_flight(void)
{
	Fix f = fix_up(INDIRECT);
	uint32_t id, len;

	f.e->hold = true;
	for (unsigned int i = 0; i < 2; i++) {
		VdrvBuf b[2] = { buf(f.d, "held", 4, false),
				 buf(f.d, NULL, 4, W_) };

		vdrv_publish(f.d, 0, vdrv_chain_indirect(f.d, 0, b, 2));
	}
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	g_assert_cmpuint(f.e->held->len, ==, 2);
	/* stop gives the elements back unreturned; the rings are forgotten */
	vdrv_write(f.d, R_(STATUS), 0);
	g_assert_cmpuint(f.e->held->len, ==, 0);
	g_assert_false(vdrv_get_used(f.d, 0, &id, &len));
	g_assert_false(loopback_virtqueue_is_ready(
		loopback_virtio_get_queue(f.e->vdev, 0)));
	g_assert_null(loopback_virtqueue_pop(
		loopback_virtio_get_queue(f.e->vdev, 0)));
	fix_free(f);
}

static void test_indexes_wrap_around_the_ring(void)
{
	Fix f = fix_up(0);

	for (unsigned int i = 0; i < 5 * QSIZE; i++) {
		VdrvBuf b[2] = { buf(f.d, "wrap", 4, false),
				 buf(f.d, NULL, 4, W_) };
		unsigned int head = vdrv_chain(f.d, 0, b, 2);

		submit(f.d, 0, head);
		expect_used(f.d, 0, head, 4);
		f.d->brk -= 16;	/* reuse the window space */
	}
	g_assert_cmpuint(vdrv_used_idx(f.d, 0), ==, 5 * QSIZE);
	fix_free(f);
}

static void test_event_idx_suppresses_interrupts(void)
{
	Fix f = fix_up(EVENT_IDX);
	LoopbackVirtqueue *vq = loopback_virtio_get_queue(f.e->vdev, 0);
	unsigned int expect[4] = { 1, 1, 2, 2 };

	f.e->hold = true;
	for (unsigned int i = 0; i < 4; i++) {
		VdrvBuf b = buf(f.d, NULL, 4, W_);

		vdrv_publish(f.d, 0, vdrv_chain(f.d, 0, &b, 1));
	}
	/* interrupt me once the device has used three buffers */
	vdrv_set_used_event(f.d, 0, 2);
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	g_assert_cmpuint(f.e->held->len, ==, 4);
	for (unsigned int i = 0; i < 4; i++) {
		loopback_virtqueue_push(vq, g_ptr_array_index(f.e->held, i), 0);
		loopback_virtqueue_notify(vq);
		/* the first notify always goes out: nothing was signalled */
		g_assert_cmpuint(vdrv_irqs(f.d, 0), ==, expect[i]);
	}
	g_ptr_array_set_size(f.e->held, 0);
	fix_free(f);
}

static void test_event_idx_publishes_avail_event(void)
{
	Fix f = fix_up(EVENT_IDX);

	for (unsigned int i = 0; i < 3; i++) {
		VdrvBuf b = buf(f.d, NULL, 4, W_);

		vdrv_publish(f.d, 0, vdrv_chain(f.d, 0, &b, 1));
	}
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	/* kick me again when you go past index 3 */
	g_assert_cmpuint(vdrv_avail_event(f.d, 0), ==, 3);
	g_assert_cmpuint(vdrv_used_flags(f.d, 0), ==, 0);
	fix_free(f);
}

static void test_no_interrupt_flag_without_event_idx(void)
{
	Fix f = fix_up(0);
	VdrvBuf b = buf(f.d, NULL, 4, W_);
	unsigned int head = vdrv_chain(f.d, 0, &b, 1);

	vdrv_set_avail_flags(f.d, 0, LOOPBACK_VRING_AVAIL_F_NO_INTERRUPT);
	submit(f.d, 0, head);
	expect_used(f.d, 0, head, 0);
	g_assert_cmpuint(vdrv_irqs(f.d, 0), ==, 0);
	fix_free(f);
}

static void test_no_notify_flag_without_event_idx(void)
{
	Fix f = fix_up(0);
	LoopbackVirtqueue *vq = loopback_virtio_get_queue(f.e->vdev, 1);

	loopback_virtqueue_set_notification(vq, false);
	g_assert_cmpuint(vdrv_used_flags(f.d, 1), ==,
			 LOOPBACK_VRING_USED_F_NO_NOTIFY);
	loopback_virtqueue_set_notification(vq, true);
	g_assert_cmpuint(vdrv_used_flags(f.d, 1), ==, 0);
	g_assert_true(loopback_virtqueue_empty(vq));
	fix_free(f);
}

/* ---- queue threads ---- */

typedef struct Threads {
	VdrvEcho *e;
	EventNotifier stop;
	GThread *t[2];
} Threads;

static Threads *threads;

static gpointer echo_thread(gpointer data)
{
	LoopbackVirtqueue *vq = data;

	while (loopback_virtqueue_wait_kick(vq,
				event_notifier_get_fd(&threads->stop)))
		vdrv_echo_handle(threads->e, vq);
	return NULL;
}

static bool threads_start(void *opaque, LoopbackVirtio *vdev, GError **err)
{
	for (unsigned int i = 0; i < 2; i++)
		threads->t[i] = g_thread_new("queue", echo_thread,
					     loopback_virtio_get_queue(vdev, i));
	return true;
}

static void threads_stop(void *opaque, LoopbackVirtio *vdev)
{
	event_notifier_set(&threads->stop);
	for (unsigned int i = 0; i < 2; i++)
		g_thread_join(threads->t[i]);
	event_notifier_test_and_clear(&threads->stop);
}

static void test_queues_served_by_their_own_threads(void)
{
	Vdrv *d = vdrv_new(WINDOW_SIZE);
	VdrvEcho *e;
	Threads th = { 0 };

	threads = &th;
	g_assert_cmpint(event_notifier_init(&th.stop, 0), ==, 0);
	e = vdrv_echo_new(d, EVENT_IDX);
	th.e = e;
	loopback_virtio_attach_context(e->vdev, NULL);
	e->klass.start = threads_start;
	e->klass.stop = threads_stop;
	vdrv_bring_up(d, TRANSPORT | EVENT_IDX, 2, QSIZE);
	for (unsigned int round = 0; round < 50; round++) {
		uint64_t brk = d->brk;

		for (unsigned int q = 0; q < 2; q++) {
			for (unsigned int i = 0; i < 3; i++) {
				VdrvBuf b[2] = { buf(d, "thread", 6, false),
						 buf(d, NULL, 6, W_) };

				vdrv_publish(d, q, vdrv_chain(d, q, b, 2));
			}
			/* interrupt me once all are done (a delayed callback) */
			vdrv_set_used_event(d, q, d->q[q].avail_idx - 1);
			vdrv_kick(d, q);
		}
		for (unsigned int q = 0; q < 2; q++) {
			vdrv_wait_used(d, q, 3 * (round + 1));
			for (unsigned int i = 0; i < 3; i++) {
				uint32_t id, len;

				g_assert_true(vdrv_get_used(d, q, &id, &len));
				g_assert_cmpuint(len, ==, 6);
			}
		}
		d->brk = brk;
	}
	vdrv_free(d);
	vdrv_echo_free(e);
	event_notifier_cleanup(&th.stop);
	threads = NULL;
}

/* ---- malformed rings ---- */

typedef struct Bad {
	const char *name;
	uint64_t features;
	/* builds the bad ring on queue 0; returns false if it set avail idx */
	void (*build)(Vdrv *d);
	const char *log;
} Bad;

static void bad_loop(Vdrv *d)
{
	VdrvBuf b = buf(d, NULL, 4, W_);

	vdrv_set_desc(d, 0, 0, 0, b.addr, 4, 3, 1);
	vdrv_set_desc(d, 0, 0, 1, b.addr, 4, 3, 0);
	vdrv_publish(d, 0, 0);
}

static void bad_next(Vdrv *d)
{
	VdrvBuf b = buf(d, NULL, 4, W_);

	vdrv_set_desc(d, 0, 0, 0, b.addr, 4, 3, QSIZE);
	vdrv_publish(d, 0, 0);
}

static void bad_head(Vdrv *d)
{
	vdrv_publish(d, 0, QSIZE);
}

static void bad_avail_idx(Vdrv *d)
{
	vdrv_set_avail_idx(d, 0, QSIZE + 1);
}

static void indirect_table(Vdrv *d, uint16_t flags, uint32_t len,
			   uint16_t inner_flags)
{
	uint64_t t = vdrv_alloc(d, 16 * (QSIZE + 2), 16);
	VdrvBuf b = buf(d, NULL, 4, W_);

	for (unsigned int i = 0; i < QSIZE + 2; i++)
		vdrv_set_desc(d, 0, t, i, b.addr, 4, inner_flags, i + 1);
	vdrv_set_desc(d, 0, 0, 0, t, len, flags, 0);
	vdrv_publish(d, 0, 0);
}

static void bad_nested(Vdrv *d)
{
	indirect_table(d, LOOPBACK_VRING_DESC_F_INDIRECT, 32,
		       LOOPBACK_VRING_DESC_F_INDIRECT);
}

static void bad_indirect_next(Vdrv *d)
{
	indirect_table(d, LOOPBACK_VRING_DESC_F_INDIRECT |
		       LOOPBACK_VRING_DESC_F_NEXT, 32, 2);
}

static void bad_indirect_len(Vdrv *d)
{
	indirect_table(d, LOOPBACK_VRING_DESC_F_INDIRECT, 24, 2);
}

static void bad_indirect_long(Vdrv *d)
{
	indirect_table(d, LOOPBACK_VRING_DESC_F_INDIRECT, 16 * (QSIZE + 1), 2);
}

static void bad_indirect_loop(Vdrv *d)
{
	uint64_t t = vdrv_alloc(d, 32, 16);
	VdrvBuf b = buf(d, NULL, 4, W_);

	vdrv_set_desc(d, 0, t, 0, b.addr, 4, 3, 1);
	vdrv_set_desc(d, 0, t, 1, b.addr, 4, 3, 0);
	vdrv_set_desc(d, 0, 0, 0, t, 32, LOOPBACK_VRING_DESC_F_INDIRECT, 0);
	vdrv_publish(d, 0, 0);
}

static void bad_indirect_window(Vdrv *d)
{
	vdrv_set_desc(d, 0, 0, 0, VDRV_WINDOW + WINDOW_SIZE - 16, 32,
		      LOOPBACK_VRING_DESC_F_INDIRECT, 0);
	vdrv_publish(d, 0, 0);
}

static void bad_4g(Vdrv *d)
{
	VdrvBuf b = buf(d, NULL, 0x1000, false);

	vdrv_set_desc(d, 0, 0, 0, b.addr, 0x1000, 1, 1);
	vdrv_set_desc(d, 0, 0, 1, b.addr, 0xffffffff, 0, 0);
	vdrv_publish(d, 0, 0);
}

static void one_desc(Vdrv *d, uint64_t addr, uint32_t len, uint16_t flags)
{
	vdrv_set_desc(d, 0, 0, 0, addr, len, flags, 0);
	vdrv_publish(d, 0, 0);
}

static void bad_window_end(Vdrv *d)
{
	one_desc(d, VDRV_WINDOW + WINDOW_SIZE - 4, 16, 2);
}

static void bad_mmio(Vdrv *d)
{
	one_desc(d, VDRV_REGS, 4, 0);
}

static void bad_below(Vdrv *d)
{
	one_desc(d, 0x1000, 4, 2);
}

static void bad_wrap(Vdrv *d)
{
	one_desc(d, 0xfffffffffffffff0ULL, 0x20, 0);
}

static void bad_order(Vdrv *d)
{
	VdrvBuf b[2] = { buf(d, NULL, 4, W_), buf(d, "x", 1, false) };

	vdrv_publish(d, 0, vdrv_chain(d, 0, b, 2));
}

static const Bad bad_cases[] = {
	{ "loop-in-chain", 0, bad_loop, "or a loop" },
	{ "next-outside-table", 0, bad_next, "is outside the table of 8" },
	{ "head-outside-queue", 0, bad_head, "head 8 is outside the queue" },
	{ "avail-index-too-far-ahead", 0, bad_avail_idx,
	  "is 9 entries ahead" },
	{ "indirect-inside-indirect", INDIRECT, bad_nested,
	  "inside an indirect table" },
	{ "indirect-with-next", INDIRECT, bad_indirect_next, "with NEXT set" },
	{ "indirect-length-not-multiple-of-16", INDIRECT, bad_indirect_len,
	  "indirect table of 24 bytes" },
	{ "indirect-table-longer-than-queue", INDIRECT, bad_indirect_long,
	  "indirect table of 144 bytes" },
	{ "loop-in-indirect-table", INDIRECT, bad_indirect_loop,
	  "indirect chain longer than its table of 2" },
	{ "indirect-table-outside-window", INDIRECT, bad_indirect_window,
	  "is outside the window" },
	{ "indirect-not-negotiated", 0, bad_indirect_loop,
	  "INDIRECT_DESC was not negotiated" },
	{ "lengths-past-4-gib", 0, bad_4g, "past 4 GiB" },
	{ "buffer-past-window-end", 0, bad_window_end,
	  "is outside the window" },
	{ "buffer-in-register-block", 0, bad_mmio, "is outside the window" },
	{ "buffer-below-window", 0, bad_below, "is outside the window" },
	{ "buffer-address-wraps", 0, bad_wrap, "is outside the window" },
	{ "readable-after-writable", 0, bad_order,
	  "device-readable descriptor follows" },
};

static void test_malformed(gconstpointer data)
{
	const Bad *bad = data;
	Fix f = fix_up(bad->features);
	LoopbackVirtqueue *vq = loopback_virtio_get_queue(f.e->vdev, 0);
	uint32_t id, len;

	bad->build(f.d);
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	vdrv_assert_log(f.d, bad->log);
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)) & S_(NEEDS_RESET), ==,
			S_(NEEDS_RESET));
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 1);
	g_assert_false(vdrv_get_used(f.d, 0, &id, &len));
	g_assert_true(loopback_virtqueue_is_broken(vq));
	g_assert_null(loopback_virtqueue_pop(vq));
	/* a second kick: no new log line, no second config interrupt */
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	g_assert_cmpuint(f.d->log->len, ==, 0);
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 1);
	fix_free(f);
}

static void test_reset_recovers_from_needs_reset(void)
{
	Fix f = fix_up(0);
	VdrvBuf b[2];
	unsigned int head;

	bad_head(f.d);
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	vdrv_assert_log(f.d, "outside the queue");
	f.d->brk = 0;
	vdrv_bring_up(f.d, TRANSPORT, 2, QSIZE);
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)) & S_(NEEDS_RESET), ==, 0);
	b[0] = buf(f.d, "again", 5, false);
	b[1] = buf(f.d, NULL, 5, W_);
	head = vdrv_chain(f.d, 0, b, 2);
	submit(f.d, 0, head);
	expect_used(f.d, 0, head, 5);
	fix_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/virtqueue/request-round-trip", test_request_round_trip);
	g_test_add_func("/virtqueue/chain-of-many-descriptors",
			test_chain_of_many_descriptors);
	g_test_add_func("/virtqueue/indirect-chain", test_indirect_chain);
	g_test_add_func("/virtqueue/indirect-table-as-long-as-the-queue",
			test_indirect_table_as_long_as_the_queue);
	g_test_add_func("/virtqueue/completions-out-of-order",
			test_completions_out_of_order);
	g_test_add_func("/virtqueue/reset-drops-chains-in-flight",
			test_reset_drops_chains_in_flight);
	g_test_add_func("/virtqueue/indexes-wrap-around-the-ring",
			test_indexes_wrap_around_the_ring);
	g_test_add_func("/virtqueue/event-idx/suppresses-interrupts",
			test_event_idx_suppresses_interrupts);
	g_test_add_func("/virtqueue/event-idx/publishes-avail-event",
			test_event_idx_publishes_avail_event);
	g_test_add_func("/virtqueue/flags/no-interrupt-without-event-idx",
			test_no_interrupt_flag_without_event_idx);
	g_test_add_func("/virtqueue/flags/no-notify-without-event-idx",
			test_no_notify_flag_without_event_idx);
	g_test_add_func("/virtqueue/threads/queues-served-by-own-threads",
			test_queues_served_by_their_own_threads);
	for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		g_autofree char *path = g_strdup_printf(
			"/virtqueue/malformed/%s", bad_cases[i].name);

		g_test_add_data_func(path, &bad_cases[i], test_malformed);
	}
	g_test_add_func("/virtqueue/malformed/reset-recovers",
			test_reset_recovers_from_needs_reset);
	return g_test_run();
}
