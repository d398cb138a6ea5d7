// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * loopback_device_new() before any device exists: bad parameters name the
 * field, an absent module says how to load it (at once, or after waiting
 * on udev), and an old module says to update it.
 */
#include "fake-kernel.h"

#include <errno.h>

static uint64_t noop_read(void *opaque, hwaddr addr, unsigned size)
{
	return 0;
}

static void noop_write(void *opaque, hwaddr addr, uint64_t v, unsigned size)
{
}

static const MemoryRegionOps noop_ops = {
	.read = noop_read,
	.write = noop_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
};

static LoopbackDeviceConfig rng_config(void)
{
	return (LoopbackDeviceConfig) {
		.device_id = 4,
		.num_queues = 1,
		.max_queue_size = 64,
		.window_size = 256 * 1024,
		.ops = &noop_ops,
	};
}

static void expect_invalid(const LoopbackDeviceConfig *c, const char *msg)
{
	g_autoptr(GError) err = NULL;

	g_assert_null(loopback_device_new(c, &err));
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_INVALID);
	g_assert_cmpstr(err->message, ==, msg);
}

static void test_invalid_parameters_name_the_field(void)
{
	LoopbackDeviceConfig c;

	c = rng_config();
	c.device_id = 0;
	expect_invalid(&c, "invalid device parameters: device id 0 is not a "
		       "virtio device id");
	c = rng_config();
	c.num_queues = 65;
	expect_invalid(&c, "invalid device parameters: 65 queues; 1 to 64 "
		       "are possible");
	c = rng_config();
	c.max_queue_size = 96;
	expect_invalid(&c, "invalid device parameters: queue size 96; a "
		       "power of two from 2 to 32768 is needed");
	c = rng_config();
	c.config_size = 8;
	expect_invalid(&c, "invalid device parameters: config space of 8 "
		       "bytes; up to 3840, with its contents");
	c = rng_config();
	c.window_size = 4096;
	expect_invalid(&c, "invalid device parameters: window of 4096 bytes; "
		       "a multiple of 4096 from 65536 to 1073741824 is "
		       "needed");
}

static bool module_loaded(void)
{
	return g_file_test("/sys/class/misc/loopback", G_FILE_TEST_EXISTS);
}

static void test_module_not_loaded(void)
{
	LoopbackDeviceConfig c = rng_config();
	g_autoptr(GError) err = NULL;

	if (module_loaded()) {
		g_test_skip("loopback.ko is loaded on this host");
		return;
	}
	g_assert_null(loopback_device_new(&c, &err));
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_NOT_FOUND);
	g_assert_cmpstr(err->message, ==, "/dev/loopback not found: load the "
			"module (modprobe loopback)");
}

/* The wait is a udev monitor with a deadline, not a poll of a path. */
static void test_module_not_loaded_wait_times_out(void)
{
	LoopbackDeviceConfig c = rng_config();
	g_autoptr(GError) err = NULL;
	gint64 t0;

	if (module_loaded()) {
		g_test_skip("loopback.ko is loaded on this host");
		return;
	}
	c.wait_ms = 300;
	t0 = g_get_monotonic_time();
	g_assert_null(loopback_device_new(&c, &err));
	if (g_error_matches(err, LOOPBACK_ERROR, LOOPBACK_ERROR_UDEV)) {
		g_test_skip(err->message);
		return;
	}
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_NOT_FOUND);
	g_assert_cmpstr(err->message, ==, "/dev/loopback did not appear "
			"within 300 ms: load the module (modprobe loopback)");
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 300 * 1000);
}

/* ---- the module's version and features, through a fake ioctl ---- */

static uint64_t fake_version, fake_features;
static int fake_features_errno;

static int version_ioctl(int fd, unsigned long request, void *arg)
{
	if (request == LOOPBACK_GET_API_VERSION) {
		*(uint64_t *)arg = fake_version;
		return 0;
	}
	if (request == LOOPBACK_GET_FEATURES && !fake_features_errno) {
		*(uint64_t *)arg = fake_features;
		return 0;
	}
	errno = fake_features_errno ? fake_features_errno : ENOTTY;
	return -1;
}

static const struct lb_kernel_ops version_kernel = { .ioctl = version_ioctl };

static void test_api_1_module_says_update(void)
{
	g_autoptr(GError) err = NULL;
	uint64_t features;

	fake_version = 1;
	g_assert_false(lb_control_check(-1, &version_kernel, &features,
					&err));
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION);
	g_assert_cmpstr(err->message, ==, "loopback.ko offers API 1, this "
			"library needs 2: update the module");
}

static void test_no_window_fd_feature_says_update(void)
{
	g_autoptr(GError) err = NULL;
	uint64_t features;

	fake_version = 2;
	fake_features = LOOPBACK_F_REMOVE;
	fake_features_errno = 0;
	g_assert_false(lb_control_check(-1, &version_kernel, &features,
					&err));
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION);
	g_assert_cmpstr(err->message, ==, "loopback.ko has no window fd "
			"(LOOPBACK_F_WINDOW_FD): update the module");
}

static void test_api_2_with_window_fd_passes(void)
{
	uint64_t features = 0;

	fake_version = 3;	/* newer modules are fine */
	fake_features = LOOPBACK_F_WINDOW_FD | (1ULL << 40);
	fake_features_errno = 0;
	g_assert_true(lb_control_check(-1, &version_kernel, &features, NULL));
	g_assert_cmpuint(features, ==, fake_features);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/device/new/invalid-parameters-name-the-field",
			test_invalid_parameters_name_the_field);
	g_test_add_func("/device/new/module-not-loaded-says-modprobe",
			test_module_not_loaded);
	g_test_add_func("/device/new/wait-for-node-times-out",
			test_module_not_loaded_wait_times_out);
	g_test_add_func("/device/check/api-1-module-says-update",
			test_api_1_module_says_update);
	g_test_add_func("/device/check/no-window-fd-says-update",
			test_no_window_fd_feature_says_update);
	g_test_add_func("/device/check/api-2-with-window-fd-passes",
			test_api_2_with_window_fd_passes);
	return g_test_run();
}
