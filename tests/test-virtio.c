/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtio-mmio register block and the status state machine, with a
 * driver played over a memfd window (virtio 1.2, 2.1, 3.1 and 4.2.2).
 */
#include "config.h"

#include <string.h>

#include "virtio-driver.h"

#define R_(x) LOOPBACK_VIRTIO_MMIO_##x
#define S_(x) LOOPBACK_VIRTIO_S_##x
#define F(b) (1ULL << (b))
#define TRANSPORT (F(LOOPBACK_VIRTIO_F_VERSION_1) | \
		   F(LOOPBACK_VIRTIO_F_ACCESS_PLATFORM))
#define RINGS (F(LOOPBACK_VIRTIO_F_EVENT_IDX) | \
	       F(LOOPBACK_VIRTIO_F_INDIRECT_DESC))
#define DEV_F 0x5ULL		/* two device bits of the echo device */
#define WINDOW_SIZE 0x40000

typedef struct Fix {
	Vdrv *d;
	VdrvEcho *e;
} Fix;

static Fix fix_new(void)
{
	Fix f;

	f.d = vdrv_new(WINDOW_SIZE);
	f.e = vdrv_echo_new(f.d, DEV_F | RINGS);
	return f;
}

static void fix_free(Fix f)
{
	vdrv_free(f.d);
	vdrv_echo_free(f.e);
}

static uint64_t device_features(Vdrv *d)
{
	uint64_t f = 0;

	for (unsigned int i = 0; i < 2; i++) {
		vdrv_write(d, R_(DEVICE_FEATURES_SEL), i);
		f |= (uint64_t)vdrv_read(d, R_(DEVICE_FEATURES)) << (32 * i);
	}
	return f;
}

static void test_probe_identity(void)
{
	Fix f = fix_new();

	g_assert_cmphex(vdrv_read(f.d, R_(MAGIC_VALUE)), ==, 0x74726976);
	g_assert_cmpuint(vdrv_read(f.d, R_(VERSION)), ==, 2);
	g_assert_cmphex(vdrv_read(f.d, R_(DEVICE_ID)), ==, 0x4c42);
	g_assert_cmphex(vdrv_read(f.d, R_(VENDOR_ID)), ==, 0x1af4);
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)), ==, 0);
	g_assert_cmphex(device_features(f.d), ==, DEV_F | RINGS | TRANSPORT);
	vdrv_write(f.d, R_(DEVICE_FEATURES_SEL), 2);
	g_assert_cmphex(vdrv_read(f.d, R_(DEVICE_FEATURES)), ==, 0);
	vdrv_write(f.d, R_(QUEUE_SEL), 1);
	g_assert_cmpuint(vdrv_read(f.d, R_(QUEUE_NUM_MAX)), ==, 16);
	vdrv_write(f.d, R_(QUEUE_SEL), 2);
	g_assert_cmpuint(vdrv_read(f.d, R_(QUEUE_NUM_MAX)), ==, 0);
	g_assert_cmphex(vdrv_read(f.d, R_(SHM_LEN_LOW)), ==, 0xffffffff);
	fix_free(f);
}

static void test_transport_bits_are_offered_and_others_dropped(void)
{
	Vdrv *d = vdrv_new(WINDOW_SIZE);
	/* a transport bit the layer does not implement (RING_PACKED, 34) */
	VdrvEcho *e = vdrv_echo_new(d, DEV_F | F(34));

	g_assert_cmphex(device_features(d), ==, DEV_F | TRANSPORT);
	vdrv_free(d);
	vdrv_echo_free(e);
}

static void test_registers_refuse_narrow_access(void)
{
	Fix f = fix_new();
	MemTxResult r = 0;

	address_space_lduw_le(f.d->w->as, VDRV_REGS + R_(MAGIC_VALUE),
			      MEMTXATTRS_UNSPECIFIED, &r);
	g_assert_cmpuint(r, ==, MEMTX_DECODE_ERROR);
	fix_free(f);
}

static void test_features_ok_accepted(void)
{
	Fix f = fix_new();

	g_assert_true(vdrv_negotiate(f.d, TRANSPORT | 0x1));
	g_assert_cmphex(f.e->features, ==, TRANSPORT | 0x1);
	g_assert_cmphex(loopback_virtio_get_features(f.e->vdev), ==,
			TRANSPORT | 0x1);
	g_assert_true(loopback_virtio_has_feature(f.e->vdev, 32));
	g_assert_false(loopback_virtio_has_feature(f.e->vdev, 2));
	g_assert_cmpuint(f.d->log->len, ==, 0);
	fix_free(f);
}

static void test_features_ok_refused_for_unoffered_features(void)
{
	Fix f = fix_new();

	g_assert_false(vdrv_negotiate(f.d, TRANSPORT | 0x2));
	vdrv_assert_log(f.d, "not offered");
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)), ==,
			S_(ACKNOWLEDGE) | S_(DRIVER));
	/* a word above the two the device has */
	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	vdrv_write(f.d, R_(STATUS), 0);
	vdrv_write(f.d, R_(DRIVER_FEATURES_SEL), 2);
	vdrv_write(f.d, R_(DRIVER_FEATURES), 1);
	vdrv_write(f.d, R_(DRIVER_FEATURES_SEL), 1);
	vdrv_write(f.d, R_(DRIVER_FEATURES), TRANSPORT >> 32);
	vdrv_write(f.d, R_(STATUS), S_(ACKNOWLEDGE) | S_(DRIVER) |
		   S_(FEATURES_OK));
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)) & S_(FEATURES_OK), ==, 0);
	g_assert_cmpuint(f.d->log->len, ==, 2);
	fix_free(f);
}

static void test_features_ok_refused_without_version_1(void)
{
	Fix f = fix_new();

	g_assert_false(vdrv_negotiate(f.d, F(33)));
	vdrv_assert_log(f.d, "VERSION_1 and ACCESS_PLATFORM");
	g_assert_false(vdrv_negotiate(f.d, F(32)));
	vdrv_assert_log(f.d, "VERSION_1 and ACCESS_PLATFORM");
	fix_free(f);
}

static void test_driver_features_frozen_after_features_ok(void)
{
	Fix f = fix_new();

	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	vdrv_write(f.d, R_(DRIVER_FEATURES_SEL), 0);
	vdrv_write(f.d, R_(DRIVER_FEATURES), 1);
	vdrv_assert_log(f.d, "after FEATURES_OK");
	g_assert_cmphex(loopback_virtio_get_features(f.e->vdev), ==,
			TRANSPORT);
	fix_free(f);
}

static void test_driver_ok_needs_features_ok(void)
{
	Fix f = fix_new();

	vdrv_write(f.d, R_(STATUS), S_(ACKNOWLEDGE) | S_(DRIVER));
	vdrv_write(f.d, R_(STATUS), S_(ACKNOWLEDGE) | S_(DRIVER) |
		   S_(DRIVER_OK));
	vdrv_assert_log(f.d, "DRIVER_OK without FEATURES_OK");
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)), ==,
			S_(ACKNOWLEDGE) | S_(DRIVER));
	g_assert_cmpuint(f.e->starts, ==, 0);
	fix_free(f);
}

static void test_status_bits_cannot_be_cleared_without_reset(void)
{
	Fix f = fix_new();

	vdrv_write(f.d, R_(STATUS), S_(ACKNOWLEDGE) | S_(DRIVER));
	vdrv_write(f.d, R_(STATUS), S_(ACKNOWLEDGE));
	vdrv_assert_log(f.d, "without a reset");
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)), ==,
			S_(ACKNOWLEDGE) | S_(DRIVER));
	fix_free(f);
}

static void test_driver_ok_starts_and_reset_stops(void)
{
	Fix f = fix_new();

	unsigned int resets;

	vdrv_bring_up(f.d, TRANSPORT, 2, 8);
	g_assert_cmpuint(f.e->starts, ==, 1);
	g_assert_cmpuint(f.e->stops, ==, 0);
	resets = f.e->resets;
	vdrv_write(f.d, R_(STATUS), 0);
	g_assert_cmpuint(f.e->stops, ==, 1);
	g_assert_cmpuint(f.e->resets, ==, resets + 1);
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)), ==, 0);
	g_assert_cmphex(loopback_virtio_get_features(f.e->vdev), ==, 0);
	vdrv_write(f.d, R_(QUEUE_SEL), 0);
	g_assert_cmpuint(vdrv_read(f.d, R_(QUEUE_READY)), ==, 0);
	g_assert_cmpuint(vdrv_read(f.d, R_(QUEUE_DESC_LOW)), ==, 0);
	g_assert_false(loopback_virtqueue_is_ready(
		loopback_virtio_get_queue(f.e->vdev, 1)));
	fix_free(f);
}

static void test_failed_status_stops(void)
{
	Fix f = fix_new();

	vdrv_bring_up(f.d, TRANSPORT, 1, 8);
	vdrv_write(f.d, R_(STATUS), vdrv_read(f.d, R_(STATUS)) | S_(FAILED));
	g_assert_cmpuint(f.e->stops, ==, 1);
	fix_free(f);
}

static void test_start_failure_sets_needs_reset(void)
{
	Fix f = fix_new();

	f.e->fail_start = true;
	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	g_assert_true(vdrv_setup_queue(f.d, 0, 8));
	vdrv_driver_ok(f.d);
	vdrv_assert_log(f.d, "start failed: told to fail");
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)) & S_(NEEDS_RESET), ==,
			S_(NEEDS_RESET));
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 1);
	g_assert_cmphex(vdrv_read(f.d, R_(INTERRUPT_STATUS)), ==,
			LOOPBACK_VIRTIO_INT_CONFIG);
	vdrv_write(f.d, R_(STATUS), 0);
	g_assert_cmphex(vdrv_read(f.d, R_(STATUS)), ==, 0);
	fix_free(f);
}

static void test_queue_ready_refuses_bad_layouts(void)
{
	Fix f = fix_new();
	uint64_t ok = VDRV_WINDOW + 0x1000;
	struct {
		unsigned int num;
		uint64_t desc;
		const char *log;
	} cases[] = {
		{ 0, ok, "not a power of two" },
		{ 6, ok, "not a power of two" },
		{ 32, ok, "not a power of two" },
		{ 8, ok + 8, "not 16-byte aligned" },
		{ 8, VDRV_WINDOW + WINDOW_SIZE - 64, "outside the window" },
		{ 8, VDRV_REGS, "outside the window" },
		{ 8, 0x7000, "outside the window" },
	};

	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		vdrv_write(f.d, R_(QUEUE_SEL), 0);
		vdrv_write(f.d, R_(QUEUE_NUM), cases[i].num);
		vdrv_write(f.d, R_(QUEUE_DESC_LOW), (uint32_t)cases[i].desc);
		vdrv_write(f.d, R_(QUEUE_DESC_HIGH), cases[i].desc >> 32);
		vdrv_write(f.d, R_(QUEUE_AVAIL_LOW), (uint32_t)ok + 0x400);
		vdrv_write(f.d, R_(QUEUE_AVAIL_HIGH), ok >> 32);
		vdrv_write(f.d, R_(QUEUE_USED_LOW), (uint32_t)ok + 0x800);
		vdrv_write(f.d, R_(QUEUE_USED_HIGH), ok >> 32);
		vdrv_write(f.d, R_(QUEUE_READY), 1);
		g_assert_cmpuint(vdrv_read(f.d, R_(QUEUE_READY)), ==, 0);
		vdrv_assert_log(f.d, cases[i].log);
	}
	fix_free(f);
}

static void test_queue_registers_frozen_while_ready(void)
{
	Fix f = fix_new();

	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	g_assert_true(vdrv_setup_queue(f.d, 0, 8));
	vdrv_write(f.d, R_(QUEUE_NUM), 4);
	vdrv_assert_log(f.d, "while the queue is ready");
	g_assert_cmpuint(loopback_virtqueue_get_size(
		loopback_virtio_get_queue(f.e->vdev, 0)), ==, 8);
	g_assert_cmphex(vdrv_read(f.d, R_(QUEUE_DESC_LOW)), ==,
			(uint32_t)f.d->q[0].desc);
	g_assert_cmphex(vdrv_read(f.d, R_(QUEUE_DESC_HIGH)), ==, 1);
	fix_free(f);
}

/* A device whose rings another process serves finds them here. */
static void test_rings_and_irq_notifier_are_exposed(void)
{
	Fix f = fix_new();
	LoopbackVirtqueue *vq = loopback_virtio_get_queue(f.e->vdev, 1);
	uint64_t desc, avail, used;
	EventNotifier irq;

	loopback_virtqueue_get_rings(vq, &desc, &avail, &used);
	g_assert_cmphex(desc | avail | used, ==, 0);
	g_assert_null(loopback_virtqueue_get_irq_notifier(vq));
	g_assert_cmpint(event_notifier_init(&irq, 0), ==, 0);
	loopback_virtio_set_irq_notifier(f.e->vdev, 1, &irq);
	g_assert_true(loopback_virtqueue_get_irq_notifier(vq) == &irq);
	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	g_assert_true(vdrv_setup_queue(f.d, 1, 8));
	loopback_virtqueue_get_rings(vq, &desc, &avail, &used);
	g_assert_cmphex(desc, ==, f.d->q[1].desc);
	g_assert_cmphex(avail, ==, f.d->q[1].avail);
	g_assert_cmphex(used, ==, f.d->q[1].used);
	vdrv_write(f.d, R_(STATUS), 0);
	loopback_virtqueue_get_rings(vq, &desc, &avail, &used);
	g_assert_cmphex(desc | avail | used, ==, 0);
	loopback_virtio_set_irq_notifier(f.e->vdev, 1, NULL);
	g_assert_null(loopback_virtqueue_get_irq_notifier(vq));
	event_notifier_cleanup(&irq);
	fix_free(f);
}

/* A listener that counts the ioeventfds of the register block. */
typedef struct EvCount {
	MemoryListener l;
	int fds;
	uint64_t last_data;
	hwaddr last_addr;
} EvCount;

static void ev_add(MemoryListener *l, MemoryRegionSection *s, bool match,
		   uint64_t data, EventNotifier *e)
{
	EvCount *c = (EvCount *)l;

	g_assert_true(match);
	c->fds++;
	c->last_data = data;
	c->last_addr = s->offset_within_address_space;
}

static void ev_del(MemoryListener *l, MemoryRegionSection *s, bool match,
		   uint64_t data, EventNotifier *e)
{
	((EvCount *)l)->fds--;
}

static void test_ready_queue_registers_its_kick_ioeventfd(void)
{
	Fix f = fix_new();
	EvCount c = { .l = { .eventfd_add = ev_add, .eventfd_del = ev_del,
			     .name = "count" } };

	memory_listener_register(&c.l, f.d->w->as);
	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	g_assert_true(vdrv_setup_queue(f.d, 1, 8));
	g_assert_cmpint(c.fds, ==, 1);
	g_assert_cmpuint(c.last_data, ==, 1);
	g_assert_cmphex(c.last_addr, ==, VDRV_REGS + R_(QUEUE_NOTIFY));
	g_assert_true(vdrv_setup_queue(f.d, 0, 8));
	g_assert_cmpint(c.fds, ==, 2);
	vdrv_write(f.d, R_(STATUS), 0);
	g_assert_cmpint(c.fds, ==, 0);
	memory_listener_unregister(&c.l);
	fix_free(f);
}

static void test_kick_runs_the_handler_in_the_context(void)
{
	Fix f = fix_new();
	LoopbackVirtqueue *vq = loopback_virtio_get_queue(f.e->vdev, 0);

	vdrv_bring_up(f.d, TRANSPORT, 1, 8);
	vdrv_iterate();
	g_assert_cmpuint(f.e->handled, ==, 0);
	vdrv_kick(f.d, 0);
	vdrv_iterate();
	g_assert_cmpuint(f.e->handled, ==, 1);
	/* a queue thread's wait, with the stop fd already readable */
	vdrv_kick(f.d, 0);
	g_assert_true(loopback_virtqueue_wait_kick(vq, -1));
	{
		EventNotifier stop;

		g_assert_cmpint(event_notifier_init(&stop, 1), ==, 0);
		g_assert_false(loopback_virtqueue_wait_kick(
			vq, event_notifier_get_fd(&stop)));
		event_notifier_cleanup(&stop);
	}
	fix_free(f);
}

static void test_kick_of_a_queue_that_is_not_ready_is_dropped(void)
{
	Fix f = fix_new();

	g_assert_true(vdrv_negotiate(f.d, TRANSPORT));
	vdrv_kick(f.d, 1);
	vdrv_kick(f.d, 7);
	vdrv_iterate();
	g_assert_cmpuint(f.e->handled, ==, 0);
	fix_free(f);
}

static void test_config_space_reads_and_writes(void)
{
	Fix f = fix_new();
	AddressSpace *as = f.d->w->as;
	hwaddr cfg = VDRV_REGS + LOOPBACK_VIRTIO_CONFIG_OFFSET;
	uint8_t buf[8];

	g_assert_cmphex(address_space_ldub(as, cfg, MEMTXATTRS_UNSPECIFIED,
					   NULL), ==, 'e');
	g_assert_cmphex(address_space_lduw_le(as, cfg + 1,
					      MEMTXATTRS_UNSPECIFIED, NULL),
			==, 'c' | 'h' << 8);
	g_assert_cmphex(address_space_ldq_le(as, cfg, MEMTXATTRS_UNSPECIFIED,
					     NULL), ==, 0x6766632d6f686365ULL);
	/* past config_size: zeroes, and writes go nowhere */
	g_assert_cmphex(address_space_ldl_le(as, cfg + 6,
					     MEMTXATTRS_UNSPECIFIED, NULL),
			==, 0);
	address_space_stl_le(as, cfg + 6, 0x11223344, MEMTXATTRS_UNSPECIFIED,
			     NULL);
	address_space_stw_le(as, cfg + 2, 0x5a5a, MEMTXATTRS_UNSPECIFIED, NULL);
	g_assert_cmpmem(f.e->config, 8, "ecZZ-cfg", 8);
	loopback_virtio_read_config(f.e->vdev, buf);
	g_assert_cmpmem(buf, 8, "ecZZ-cfg", 8);
	fix_free(f);
}

static void test_config_change_interrupt_and_ack(void)
{
	Fix f = fix_new();
	uint32_t gen = vdrv_read(f.d, R_(CONFIG_GENERATION));

	/* before DRIVER_OK: the generation moves, no interrupt */
	loopback_virtio_config_changed(f.e->vdev);
	g_assert_cmpuint(vdrv_read(f.d, R_(CONFIG_GENERATION)), ==, gen + 1);
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 0);
	vdrv_bring_up(f.d, TRANSPORT, 1, 8);
	loopback_virtio_config_changed(f.e->vdev);
	g_assert_cmpuint(vdrv_read(f.d, R_(CONFIG_GENERATION)), ==, gen + 2);
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 1);
	g_assert_cmphex(vdrv_read(f.d, R_(INTERRUPT_STATUS)), ==,
			LOOPBACK_VIRTIO_INT_CONFIG);
	vdrv_write(f.d, R_(INTERRUPT_ACK), LOOPBACK_VIRTIO_INT_CONFIG);
	g_assert_cmphex(vdrv_read(f.d, R_(INTERRUPT_STATUS)), ==, 0);
	fix_free(f);
}

static void test_irq_notifier_wins_over_the_function(void)
{
	Fix f = fix_new();
	EventNotifier cfg;

	g_assert_cmpint(event_notifier_init(&cfg, 0), ==, 0);
	loopback_virtio_set_irq_notifier(f.e->vdev, LOOPBACK_VIRTIO_CONFIG_IRQ,
					 &cfg);
	vdrv_bring_up(f.d, TRANSPORT, 1, 8);
	loopback_virtio_config_changed(f.e->vdev);
	g_assert_cmpint(event_notifier_test_and_clear(&cfg), ==, 1);
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 0);
	loopback_virtio_set_irq_notifier(f.e->vdev, LOOPBACK_VIRTIO_CONFIG_IRQ,
					 NULL);
	loopback_virtio_config_changed(f.e->vdev);
	g_assert_cmpint(event_notifier_test_and_clear(&cfg), ==, 0);
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 1);
	event_notifier_cleanup(&cfg);
	fix_free(f);
}

static void test_new_refuses_bad_classes(void)
{
	LoopbackVirtioDeviceClass k = {
		.name = "bad", .device_id = 1, .num_queues = 1,
		.queue_size_max = 12,
	};
	g_autoptr(GError) error = NULL;

	g_assert_null(loopback_virtio_new(&k, NULL, NULL, &error));
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
	g_assert_nonnull(strstr(error->message, "queue_size_max"));
	g_clear_error(&error);
	k.queue_size_max = 8;
	k.num_queues = 65;
	g_assert_null(loopback_virtio_new(&k, NULL, NULL, &error));
	g_assert_nonnull(strstr(error->message, "num_queues"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/virtio/mmio/probe-reads-identity-and-features",
			test_probe_identity);
	g_test_add_func("/virtio/mmio/only-implemented-transport-bits-offered",
			test_transport_bits_are_offered_and_others_dropped);
	g_test_add_func("/virtio/mmio/registers-refuse-narrow-access",
			test_registers_refuse_narrow_access);
	g_test_add_func("/virtio/status/features-ok-accepted",
			test_features_ok_accepted);
	g_test_add_func("/virtio/status/features-ok-refused-for-unoffered",
			test_features_ok_refused_for_unoffered_features);
	g_test_add_func("/virtio/status/features-ok-refused-without-version-1",
			test_features_ok_refused_without_version_1);
	g_test_add_func("/virtio/status/driver-features-frozen-after-features-ok",
			test_driver_features_frozen_after_features_ok);
	g_test_add_func("/virtio/status/driver-ok-needs-features-ok",
			test_driver_ok_needs_features_ok);
	g_test_add_func("/virtio/status/bits-not-cleared-without-reset",
			test_status_bits_cannot_be_cleared_without_reset);
	g_test_add_func("/virtio/status/driver-ok-starts-reset-stops",
			test_driver_ok_starts_and_reset_stops);
	g_test_add_func("/virtio/status/failed-stops",
			test_failed_status_stops);
	g_test_add_func("/virtio/status/start-failure-sets-needs-reset",
			test_start_failure_sets_needs_reset);
	g_test_add_func("/virtio/queue/ready-refuses-bad-layouts",
			test_queue_ready_refuses_bad_layouts);
	g_test_add_func("/virtio/queue/registers-frozen-while-ready",
			test_queue_registers_frozen_while_ready);
	g_test_add_func("/virtio/queue/rings-and-irq-notifier-exposed",
			test_rings_and_irq_notifier_are_exposed);
	g_test_add_func("/virtio/queue/ready-registers-kick-ioeventfd",
			test_ready_queue_registers_its_kick_ioeventfd);
	g_test_add_func("/virtio/queue/kick-runs-handler-in-context",
			test_kick_runs_the_handler_in_the_context);
	g_test_add_func("/virtio/queue/kick-of-unready-queue-dropped",
			test_kick_of_a_queue_that_is_not_ready_is_dropped);
	g_test_add_func("/virtio/config/reads-and-writes",
			test_config_space_reads_and_writes);
	g_test_add_func("/virtio/config/change-interrupt-and-ack",
			test_config_change_interrupt_and_ack);
	g_test_add_func("/virtio/irq/notifier-wins-over-function",
			test_irq_notifier_wins_over_the_function);
	g_test_add_func("/virtio/new-refuses-bad-classes",
			test_new_refuses_bad_classes);
	return g_test_run();
}
