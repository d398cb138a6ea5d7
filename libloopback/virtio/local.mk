# libloopback/virtio/: the virtio-mmio model and virtqueues
libloopback_libloopback_la_SOURCES += \
	libloopback/virtio/virtio-internal.h \
	libloopback/virtio/device.c \
	libloopback/virtio/mmio.c \
	libloopback/virtio/status.c \
	libloopback/virtio/queue.c \
	libloopback/virtio/element.c \
	libloopback/virtio/vring.c \
	libloopback/virtio/kick.c \
	libloopback/virtio/iov.c
