# libloopback/virtio/: the virtio-mmio model and virtqueues
libloopback_libloopback_la_SOURCES +=
