# Every test prints TAP; tests/run-tap.sh adds --tap for GLib test binaries.
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)

TESTS += \
	tests/mtree-qemu.sh \
	tests/mtree-bad-input.sh

EXTRA_DIST += tests/run-tap.sh tests/mtree-qemu.sh tests/mtree-bad-input.sh \
	tests/data
