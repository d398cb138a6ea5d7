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
	tests/test-stress \
	tests/test-stress-features

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
tests_test_stress_SOURCES = tests/test-stress.c tests/stress-util.h
tests_test_stress_features_SOURCES = tests/test-stress-features.c tests/stress-util.h

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
	tests/test-stress \
	tests/test-stress-features \
	tests/mtree-qemu.sh \
	tests/mtree-bad-input.sh \
	tests/kmod/run-vm.sh

EXTRA_DIST += tests/run-tap.sh tests/mtree-qemu.sh tests/mtree-bad-input.sh \
	tests/data tests/vm tests/kmod

# The kernel-side tests alone: loopback.ko and its test programs in QEMU.
check-vm:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/kmod/run-vm.sh

# the vhost-user frontend against real and scripted backends
include $(srcdir)/tests/vhost-user.mk
