# loopback-adapter: serves devices to the host's drivers through loopback.ko
LB_ADAPTER_SOURCES = \
	tools/loopback-adapter/main.c \
	tools/loopback-adapter/notify.c \
	tools/loopback-adapter/notify.h \
	tools/loopback-adapter/options.c \
	tools/loopback-adapter/options.h \
	tools/loopback-adapter/sysfs.c \
	tools/loopback-adapter/sysfs.h \
	tools/loopback-adapter/types.c \
	tools/loopback-adapter/types.h
bin_PROGRAMS += tools/loopback-adapter/loopback-adapter
tools_loopback_adapter_loopback_adapter_SOURCES = $(LB_ADAPTER_SOURCES) \
	tools/loopback-adapter/adapter-devices.c
tools_loopback_adapter_loopback_adapter_CFLAGS = $(AM_CFLAGS) $(UDEV_CFLAGS) \
	$(SYSTEMD_CFLAGS)
tools_loopback_adapter_loopback_adapter_LDADD = \
	tools/loopback-adapter/libadapter-devices.la $(LDADD) $(UDEV_LIBS) \
	$(SYSTEMD_LIBS)
dist_man1_MANS += tools/loopback-adapter/loopback-adapter.1
# The built-in devices (blk, rng) come from devices.mk, which tools/local.mk
# includes first: adapter-devices.c wraps them.
