# The vhost-user frontend's tests: qemu-storage-daemon and dpdk-testpmd run
# as child processes (each test skips, naming the package, when its binary
# is missing), and a scripted fake backend for every misbehaviour.
VUT_SOURCES = tests/vhost-user-harness.c tests/vhost-user-harness.h
check_PROGRAMS += \
	tests/test-vhost-user-qsd \
	tests/test-vhost-user-dpdk \
	tests/test-vhost-user-fake \
	tests/test-adapter-vhost-user \
	tests/test-adapter-vhost-net
tests_test_vhost_user_qsd_SOURCES = tests/test-vhost-user-qsd.c $(VUT_SOURCES)
tests_test_vhost_user_dpdk_SOURCES = tests/test-vhost-user-dpdk.c $(VUT_SOURCES)
tests_test_vhost_user_fake_SOURCES = tests/test-vhost-user-fake.c $(VUT_SOURCES)
# the adapter's vhost-user device types (options; connect to qsd)
tests_test_adapter_vhost_user_SOURCES = tests/test-adapter-vhost-user.c \
	$(VUT_SOURCES)
tests_test_adapter_vhost_user_LDADD = \
	tools/loopback-adapter/libadapter-devices.la $(LDADD)
# vhost-user-net against dpdk-testpmd (skipped without it)
tests_test_adapter_vhost_net_SOURCES = tests/test-adapter-vhost-net.c \
	$(VUT_SOURCES)
tests_test_adapter_vhost_net_LDADD = \
	tools/loopback-adapter/libadapter-devices.la $(LDADD)
TESTS += \
	tests/test-adapter-vhost-user \
	tests/test-adapter-vhost-net \
	tests/test-vhost-user-qsd \
	tests/test-vhost-user-dpdk \
	tests/test-vhost-user-fake
