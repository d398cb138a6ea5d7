# Every test prints TAP; tests/run-tap.sh adds --tap for GLib test binaries.
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)

check_PROGRAMS += \
	tests/test-region \
	tests/test-render \
	tests/test-access \
	tests/test-random-render \
	tests/test-misuse \
	tests/test-iommu \
	tests/test-ram-discard \
	tests/test-dirty \
	tests/test-map \
	tests/test-cache \
	tests/test-listener \
	tests/test-ioeventfd \
	tests/test-coalesced \
	tests/test-ram \
	tests/test-stress \
	tests/test-stress-features \
	tests/test-fork \
	tests/test-virtio \
	tests/test-virtqueue \
	tests/fuzz-virtqueue \
	tests/test-adapter-blk \
	tests/test-adapter-rng

tests_test_region_SOURCES = tests/test-region.c tests/testutil.c tests/testutil.h
tests_test_render_SOURCES = tests/test-render.c tests/testutil.c tests/testutil.h
tests_test_access_SOURCES = tests/test-access.c tests/testutil.c tests/testutil.h
tests_test_random_render_SOURCES = tests/test-random-render.c tests/testutil.c tests/testutil.h
tests_test_misuse_SOURCES = tests/test-misuse.c tests/testutil.c tests/testutil.h
tests_test_iommu_SOURCES = tests/test-iommu.c tests/testutil.c tests/testutil.h
tests_test_ram_discard_SOURCES = tests/test-ram-discard.c tests/testutil.c tests/testutil.h
tests_test_dirty_SOURCES = tests/test-dirty.c tests/testutil.c tests/testutil.h
tests_test_map_SOURCES = tests/test-map.c tests/testutil.c tests/testutil.h
tests_test_cache_SOURCES = tests/test-cache.c tests/testutil.c tests/testutil.h
tests_test_listener_SOURCES = tests/test-listener.c tests/trace-listener.h tests/testutil.c tests/testutil.h
tests_test_ioeventfd_SOURCES = tests/test-ioeventfd.c tests/trace-listener.h tests/testutil.c tests/testutil.h
tests_test_coalesced_SOURCES = tests/test-coalesced.c tests/trace-listener.h tests/testutil.c tests/testutil.h
tests_test_ram_SOURCES = tests/test-ram.c tests/trace-listener.h tests/testutil.c tests/testutil.h
tests_test_stress_SOURCES = tests/test-stress.c tests/stress-util.h
tests_test_stress_features_SOURCES = tests/test-stress-features.c tests/stress-util.h
tests_test_fork_SOURCES = tests/test-fork.c tests/testutil.c tests/testutil.h
VDRV_SOURCES = tests/virtio-driver.c tests/virtio-driver.h tests/testutil.c tests/testutil.h
tests_test_virtio_SOURCES = tests/test-virtio.c $(VDRV_SOURCES)
tests_test_virtqueue_SOURCES = tests/test-virtqueue.c $(VDRV_SOURCES)
tests_fuzz_virtqueue_SOURCES = tests/fuzz-virtqueue.c $(VDRV_SOURCES)
# the adapter's built-in devices, linked from their convenience library
tests_test_adapter_blk_SOURCES = tests/test-adapter-blk.c $(VDRV_SOURCES)
tests_test_adapter_blk_LDADD = tools/loopback-adapter/libadapter-devices.la $(LDADD)
tests_test_adapter_rng_SOURCES = tests/test-adapter-rng.c $(VDRV_SOURCES)
tests_test_adapter_rng_LDADD = tools/loopback-adapter/libadapter-devices.la $(LDADD)

# ./configure --enable-fuzzer CC=clang: the same parser fuzz as a libFuzzer
# target (run: tests/fuzz-virtqueue-libfuzzer tests/data/virtqueue-corpus)
if ENABLE_FUZZER
noinst_PROGRAMS += tests/fuzz-virtqueue-libfuzzer
tests_fuzz_virtqueue_libfuzzer_SOURCES = tests/fuzz-virtqueue.c $(VDRV_SOURCES)
tests_fuzz_virtqueue_libfuzzer_CPPFLAGS = $(AM_CPPFLAGS) -DLB_LIBFUZZER
tests_fuzz_virtqueue_libfuzzer_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
tests_fuzz_virtqueue_libfuzzer_LDFLAGS = -fsanitize=fuzzer
endif

TESTS += \
	tests/test-region \
	tests/test-render \
	tests/test-access \
	tests/test-random-render \
	tests/test-misuse \
	tests/test-iommu \
	tests/test-ram-discard \
	tests/test-dirty \
	tests/test-map \
	tests/test-cache \
	tests/test-listener \
	tests/test-ioeventfd \
	tests/test-coalesced \
	tests/test-ram \
	tests/test-stress \
	tests/test-stress-features \
	tests/test-fork \
	tests/test-virtio \
	tests/test-virtqueue \
	tests/fuzz-virtqueue \
	tests/test-adapter-blk \
	tests/test-adapter-rng \
	tests/mtree-qemu.sh \
	tests/mtree-bad-input.sh \
	tests/adapter-options.sh \
	$(VM_TESTS)

# the runners that boot a guest (check-vm runs only these)
VM_TESTS = \
	tests/kmod/run-vm.sh \
	tests/adapter/run-vm.sh \
	tests/adapter/run-vm-vhost.sh \
	tests/adapter/run-vm-vhost-fake.sh \
	tests/adapter/run-vm-vhost-types.sh \
	tests/adapter/run-vm-vhost-net.sh

EXTRA_DIST += tests/run-tap.sh tests/mtree-qemu.sh tests/mtree-bad-input.sh \
	tests/adapter-options.sh tests/adapter/run-vm.sh tests/adapter/vm-builtin.sh \
	tests/adapter/run-vm-vhost.sh tests/adapter/vm-vhost-user.sh tests/adapter/vm-lib.sh \
	tests/adapter/run-vm-vhost-fake.sh tests/adapter/vm-vhost-fake.sh \
	tests/adapter/run-vm-vhost-types.sh tests/adapter/vm-vhost-user-types.sh \
	tests/adapter/run-vm-vhost-net.sh tests/adapter/vm-vhost-net.sh \
	tests/data tests/vm tests/kmod

# The kernel-side tests alone: loopback.ko and its test programs in QEMU.
check-vm:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(VM_TESTS)'

# The device layer without a kernel: built with its sources, since the
# fakes reach below the exported API (tests/device/fake-kernel.h).
LB_DEVICE_TEST_SOURCES = $(LB_DEVICE_SOURCES) \
	tests/device/fake-kernel.c tests/device/fake-kernel.h
LB_DEVICE_TEST_CFLAGS = $(AM_CFLAGS) $(UDEV_CFLAGS) -I$(top_srcdir)/include/uapi
LB_DEVICE_TEST_LIBS = libloopback/libloopback.la $(GLIB_LIBS) $(UDEV_LIBS)
check_PROGRAMS += \
	tests/device/test-device-trap \
	tests/device/test-device-ioctls \
	tests/device/test-device-create
tests_device_test_device_trap_SOURCES = tests/device/test-device-trap.c $(LB_DEVICE_TEST_SOURCES)
tests_device_test_device_trap_CFLAGS = $(LB_DEVICE_TEST_CFLAGS)
tests_device_test_device_trap_LDADD = $(LB_DEVICE_TEST_LIBS)
tests_device_test_device_ioctls_SOURCES = tests/device/test-device-ioctls.c $(LB_DEVICE_TEST_SOURCES)
tests_device_test_device_ioctls_CFLAGS = $(LB_DEVICE_TEST_CFLAGS)
tests_device_test_device_ioctls_LDADD = $(LB_DEVICE_TEST_LIBS)
tests_device_test_device_create_SOURCES = tests/device/test-device-create.c $(LB_DEVICE_TEST_SOURCES)
tests_device_test_device_create_CFLAGS = $(LB_DEVICE_TEST_CFLAGS)
tests_device_test_device_create_LDADD = $(LB_DEVICE_TEST_LIBS)
TESTS += \
	tests/device/test-device-trap \
	tests/device/test-device-ioctls \
	tests/device/test-device-create

# Run in a QEMU guest by tests/kmod/vm-device.sh, not on the host.
check_PROGRAMS += tests/device/vm-device-rng
tests_device_vm_device_rng_SOURCES = tests/device/vm-device-rng.c \
	tests/device/rng-model.c tests/device/rng-model.h \
	tools/loopback-adapter/sysfs.c tools/loopback-adapter/sysfs.h
tests_device_vm_device_rng_CFLAGS = $(AM_CFLAGS) $(UDEV_CFLAGS)
tests_device_vm_device_rng_LDADD = $(LDADD) $(UDEV_LIBS)

# loopback-adapter: its parser, and a build of it whose device types are
# the tests' (tests/adapter/test-types.c) for tests/kmod/vm-adapter.sh
LB_ADAPTER_TEST_SOURCES = tests/adapter/test-types.c \
	tests/device/rng-model.c tests/device/rng-model.h
check_PROGRAMS += tests/adapter/test-adapter-options tests/adapter/loopback-adapter-test
tests_adapter_test_adapter_options_SOURCES = tests/adapter/test-adapter-options.c \
	tools/loopback-adapter/options.c tools/loopback-adapter/options.h \
	tools/loopback-adapter/types.c $(LB_ADAPTER_TEST_SOURCES)
tests_adapter_loopback_adapter_test_SOURCES = $(LB_ADAPTER_SOURCES) $(LB_ADAPTER_TEST_SOURCES)
tests_adapter_loopback_adapter_test_CFLAGS = $(AM_CFLAGS) $(UDEV_CFLAGS) \
	$(SYSTEMD_CFLAGS)
tests_adapter_loopback_adapter_test_LDADD = $(LDADD) $(UDEV_LIBS) $(SYSTEMD_LIBS)
TESTS += tests/adapter/test-adapter-options

# its messages to systemd, received on a socket of the test's
check_PROGRAMS += tests/adapter/test-adapter-notify
tests_adapter_test_adapter_notify_SOURCES = tests/adapter/test-adapter-notify.c \
	tools/loopback-adapter/notify.c tools/loopback-adapter/notify.h
tests_adapter_test_adapter_notify_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
tests_adapter_test_adapter_notify_LDADD = $(GLIB_LIBS) $(SYSTEMD_LIBS)
TESTS += tests/adapter/test-adapter-notify

# a scripted, misbehaving vhost-user-blk backend, run in the guest by
# tests/adapter/vm-vhost-fake.sh; libc only, its own wire definitions
check_PROGRAMS += tests/adapter/fake-vhost-blk
tests_adapter_fake_vhost_blk_SOURCES = tests/adapter/fake-vhost-blk.c
tests_adapter_fake_vhost_blk_CFLAGS = $(WARN_CFLAGS)
tests_adapter_fake_vhost_blk_LDADD =

# the vhost-user frontend against real and scripted backends
include $(srcdir)/tests/vhost-user.mk
