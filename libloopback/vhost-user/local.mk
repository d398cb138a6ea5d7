# libloopback/vhost-user/: the vhost-user frontend (loopback_vhost_user_*)
libloopback_libloopback_la_SOURCES += \
	libloopback/vhost-user/vhost-user-internal.h \
	libloopback/vhost-user/message.c \
	libloopback/vhost-user/frontend.c \
	libloopback/vhost-user/memtable.c \
	libloopback/vhost-user/vring.c \
	libloopback/vhost-user/backend.c \
	libloopback/vhost-user/inflight.c \
	libloopback/vhost-user/reconnect.c
