// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the device layer asks of the kernel, without a kernel: ioeventfds
 * from memory_region_add_eventfd() on QueueNotify, irqfds, interrupts,
 * config updates and removal, and how their failures read.
 */
#include "fake-kernel.h"

#include <errno.h>
#include <poll.h>

#define NOTIFY LOOPBACK_DEVICE_QUEUE_NOTIFY

static bool signalled(EventNotifier *e)
{
	struct pollfd p = { .fd = event_notifier_get_fd(e), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void test_add_eventfd_on_queue_notify_binds_with_datamatch(void)
{
	FakeDev *f = fk_new(4);
	MemoryRegion *regs = loopback_device_get_regs(f->dev);
	EventNotifier e;

	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	memory_region_add_eventfd(regs, NOTIFY, 4, true, 2, &e);
	g_assert_cmpstr(f->ioctls->str, ==,
			"ioeventfd addr=0x10000050 len=4 datamatch=2 "
			"flags=0x1\n");
	g_string_truncate(f->ioctls, 0);
	memory_region_del_eventfd(regs, NOTIFY, 4, true, 2, &e);
	g_assert_cmpstr(f->ioctls->str, ==,
			"ioeventfd addr=0x10000050 len=4 datamatch=2 "
			"flags=0x3\n");
	fk_free(f);
	event_notifier_cleanup(&e);
}

static void test_add_eventfd_any_size_any_data(void)
{
	FakeDev *f = fk_new(1);
	MemoryRegion *regs = loopback_device_get_regs(f->dev);
	EventNotifier e;

	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	memory_region_add_eventfd(regs, NOTIFY, 0, false, 0, &e);
	g_assert_cmpstr(f->ioctls->str, ==,
			"ioeventfd addr=0x10000050 len=0 datamatch=0 "
			"flags=0\n");
	memory_region_del_eventfd(regs, NOTIFY, 0, false, 0, &e);
	fk_free(f);
	event_notifier_cleanup(&e);
}

/* Only QueueNotify goes to the kernel; elsewhere the memory API kicks. */
static void test_other_address_stays_in_user_space(void)
{
	FakeDev *f = fk_new(1);
	MemoryRegion *regs = loopback_device_get_regs(f->dev);
	struct loopback_trap t = fk_trap(1, 0x100, 4, true, 7);
	EventNotifier e;

	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	memory_region_add_eventfd(regs, 0x100, 4, true, 7, &e);
	g_assert_cmpstr(f->ioctls->str, ==, "");
	fk_send(f, &t, 1);
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 1);
	g_assert_true(signalled(&e));
	/* the ioeventfd took the write: the ops never saw it */
	g_assert_cmpstr(f->trace->str, ==, "");
	memory_region_del_eventfd(regs, 0x100, 4, true, 7, &e);
	fk_free(f);
	event_notifier_cleanup(&e);
}

/* A binding the kernel refuses still kicks, through the posted trap. */
static void test_refused_binding_kicks_through_the_trap(void)
{
	FakeDev *f = fk_new(2);
	MemoryRegion *regs = loopback_device_get_regs(f->dev);
	struct loopback_trap t = fk_trap(1, NOTIFY, 4, true, 1);
	EventNotifier e;

	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	f->ioctl_errno = EEXIST;
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "*did not take the ioeventfd for queue 1*");
	memory_region_add_eventfd(regs, NOTIFY, 4, true, 1, &e);
	g_test_assert_expected_messages();
	f->ioctl_errno = 0;
	t.flags |= LOOPBACK_TRAP_POSTED;
	fk_send(f, &t, 1);
	g_assert_cmpint(loopback_device_dispatch(f->dev, NULL), ==, 1);
	g_assert_true(signalled(&e));
	memory_region_del_eventfd(regs, NOTIFY, 4, true, 1, &e);
	fk_free(f);
	event_notifier_cleanup(&e);
}

/* Closing the fd drops the kernel's bindings: free unbinds nothing. */
static void test_free_does_not_unbind(void)
{
	FakeDev *f = fk_new(1);
	EventNotifier e;

	g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
	memory_region_add_eventfd(loopback_device_get_regs(f->dev), NOTIFY,
				  4, true, 0, &e);
	g_string_truncate(f->ioctls, 0);
	loopback_device_free(f->dev);
	f->dev = NULL;
	g_assert_cmpstr(f->ioctls->str, ==, "");
	fk_free(f);
	event_notifier_cleanup(&e);
}

static void test_irqfd_bind_rebind_unbind(void)
{
	FakeDev *f = fk_new(2);
	g_autoptr(GError) err = NULL;
	EventNotifier a, b;

	g_assert_cmpint(event_notifier_init(&a, 0), ==, 0);
	g_assert_cmpint(event_notifier_init(&b, 0), ==, 0);
	g_assert_true(loopback_device_set_irqfd(f->dev, 1, &a, NULL));
	g_assert_true(loopback_device_set_irqfd(f->dev, 1, &a, NULL));
	g_assert_true(loopback_device_set_irqfd(f->dev, 1, &b, NULL));
	g_assert_true(loopback_device_set_irqfd(f->dev, 1, NULL, NULL));
	g_assert_true(loopback_device_set_irqfd(f->dev,
						LOOPBACK_DEVICE_CONFIG_IRQ,
						&a, NULL));
	g_assert_cmpstr(f->ioctls->str, ==,
			"irqfd queue=0x1 flags=0\n"
			"irqfd queue=0x1 flags=0x1\n"
			"irqfd queue=0x1 flags=0\n"
			"irqfd queue=0x1 flags=0x1\n"
			"irqfd queue=0xffffffff flags=0\n");
	g_assert_false(loopback_device_set_irqfd(f->dev, 2, &a, &err));
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_INVALID);
	g_assert_cmpstr(err->message, ==,
			"loopback7 has 2 queues: there is no queue 2");
	fk_free(f);
	event_notifier_cleanup(&a);
	event_notifier_cleanup(&b);
}

static void test_interrupt_config_remove(void)
{
	FakeDev *f = fk_new(1);
	uint8_t cfg[8] = { 0 };

	g_assert_true(loopback_device_interrupt(f->dev, 0, NULL));
	g_assert_true(loopback_device_interrupt(f->dev,
						LOOPBACK_DEVICE_CONFIG_IRQ,
						NULL));
	g_assert_true(loopback_device_set_config(f->dev, 4, cfg, 8, true,
						 NULL));
	g_assert_true(loopback_device_set_config(f->dev, 0, cfg, 2, false,
						 NULL));
	g_assert_true(loopback_device_remove(f->dev, 2500, NULL));
	g_assert_cmpstr(f->ioctls->str, ==,
			"interrupt queue=0\n"
			"interrupt queue=0xffffffff\n"
			"config offset=4 length=8 flags=0x1\n"
			"config offset=0 length=2 flags=0\n"
			"remove timeout=2500\n");
	fk_free(f);
}

/* What each failure of the kernel reads as. */
static void test_errors_map_to_codes(void)
{
	static const struct {
		int err;
		LoopbackError code;
	} map[] = {
		{ EIO, LOOPBACK_ERROR_BROKEN },
		{ EALREADY, LOOPBACK_ERROR_BUSY },
		{ ENOTTY, LOOPBACK_ERROR_VERSION },
		{ EINVAL, LOOPBACK_ERROR_INVALID },
		{ ENOMEM, LOOPBACK_ERROR_FAILED },
	};
	FakeDev *f = fk_new(1);

	for (unsigned int i = 0; i < G_N_ELEMENTS(map); i++) {
		g_autoptr(GError) err = NULL;

		f->ioctl_errno = map[i].err;
		g_assert_false(loopback_device_remove(f->dev, 0, &err));
		g_assert_error(err, LOOPBACK_ERROR, (int)map[i].code);
		g_assert_true(g_str_has_prefix(err->message, "loopback7: "));
	}
	{
		g_autoptr(GError) err = NULL;

		f->ioctl_errno = EIO;
		g_assert_false(loopback_device_interrupt(f->dev, 0, &err));
		g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN);
		g_assert_cmpstr(err->message, ==,
				"loopback7: interrupt: the device is broken; "
				"free it and create it again");
	}
	f->ioctl_errno = 0;
	fk_free(f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/device/ioeventfd/queue-notify-binds-with-datamatch",
			test_add_eventfd_on_queue_notify_binds_with_datamatch);
	g_test_add_func("/device/ioeventfd/size-0-no-match-binds-any",
			test_add_eventfd_any_size_any_data);
	g_test_add_func("/device/ioeventfd/other-address-stays-in-user-space",
			test_other_address_stays_in_user_space);
	g_test_add_func("/device/ioeventfd/refused-binding-kicks-through-trap",
			test_refused_binding_kicks_through_the_trap);
	g_test_add_func("/device/ioeventfd/free-does-not-unbind",
			test_free_does_not_unbind);
	g_test_add_func("/device/irqfd/bind-rebind-unbind",
			test_irqfd_bind_rebind_unbind);
	g_test_add_func("/device/ioctl/interrupt-config-remove",
			test_interrupt_config_remove);
	g_test_add_func("/device/ioctl/errors-map-to-codes",
			test_errors_map_to_codes);
	return g_test_run();
}
