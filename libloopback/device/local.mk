# libloopback/device/: the device's link to the kernel (loopback_device_*)
LB_DEVICE_SOURCES = \
	libloopback/device/device-internal.h \
	libloopback/device/error.c \
	libloopback/device/control-node.c \
	libloopback/device/create.c \
	libloopback/device/device.c \
	libloopback/device/trap.c \
	libloopback/device/listener.c \
	libloopback/device/control.c \
	libloopback/device/source.c
libloopback_libloopback_la_SOURCES += $(LB_DEVICE_SOURCES)
# <linux/loopback.h>: the uapi header of this tree, not an installed one
libloopback_libloopback_la_CFLAGS += -I$(top_srcdir)/include/uapi
