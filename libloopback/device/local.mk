# libloopback/device/: the device's link to the kernel (loopback_device_*)
libloopback_libloopback_la_SOURCES +=
