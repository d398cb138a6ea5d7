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
	tests/test-virtio \
	tests/test-virtqueue \
	tests/fuzz-virtqueue \
	tests/test-adapter-blk \
	tests/test-adapter-rng \
	tests/mtree-qemu.sh \
	tests/mtree-bad-input.sh \
	tests/kmod/run-vm.sh

EXTRA_DIST += tests/run-tap.sh tests/mtree-qemu.sh tests/mtree-bad-input.sh \
	tests/data tests/vm tests/kmod

# The kernel-side tests alone: loopback.ko and its test programs in QEMU.
check-vm:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/kmod/run-vm.sh
