/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-adapter's built-in devices: one file each (blk.c, rng.c, and
 * the vhost-user types on the core of vhost-user-dev.h) behind
 * LbAdapterDeviceOps.  Documentation/adapter.md, "Built-in devices", lists
 * their options.
 *
 * Life of a device, as main.c drives it:
 *   dev = ops->create(opts, n, &error);       options checked, files opened
 *   ops->connect(dev, &error);                if any: a backend reached
 *   vdev = loopback_virtio_new(&dev->klass, dev, as, &error);
 *   ops->start(dev, vdev, ctx, &error);       bound to its model
 *   ... the kernel device, sized by ops->window_size(dev) ...
 *   ops->reload(dev, &error);                 on SIGHUP, any thread
 *   ops->stop(dev); loopback_virtio_free(vdev); ops->free(dev);
 */
#ifndef LOOPBACK_ADAPTER_DEVICES_H
#define LOOPBACK_ADAPTER_DEVICES_H

#include <loopback/device.h>
#include <loopback/virtio.h>

/* virtio-blk feature bits (virtio 1.2, 5.2.3), for blk and vhost-user-blk */
#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_TOPOLOGY 10
#define BLK_F_MQ 12
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14
/* virtio_blk_config: its size and the fields the adapter sets */
#define BLK_CONFIG_SIZE 60
#define BLK_CONFIG_SIZE_MAX 8
#define BLK_CONFIG_SEG_MAX 12
#define BLK_CONFIG_NUM_QUEUES 34

/* One key=value of --device TYPE,key=value,...; value may be NULL. */
typedef struct LbDeviceOption {
	const char *key;
	const char *value;
} LbDeviceOption;

typedef struct LbAdapterDevice LbAdapterDevice;

typedef struct LbAdapterDeviceOps {
	const char *name;		/* the TYPE of --device */
	const char *usage;		/* one line: the keys it takes */
	/* NULL with a one-line @error that names the bad key */
	LbAdapterDevice *(*create)(const LbDeviceOption *opts, size_t n,
				   GError **error);
	/*
	 * Optional, first thing at start, before the kernel device: reach
	 * what the device stands for (a vhost-user backend); the class and
	 * the window size may depend on it.
	 */
	bool (*connect)(LbAdapterDevice *dev, GError **error);
	/* a window in which the rings and a maximal request always fit */
	uint64_t (*window_size)(LbAdapterDevice *dev);
	/*
	 * Binds @dev to its model; queue handlers that do not have threads
	 * of their own run in @ctx.
	 */
	bool (*start)(LbAdapterDevice *dev, LoopbackVirtio *vdev,
		      GMainContext *ctx, GError **error);
	/*
	 * Unbinds, stopping any queue threads.  Call it once no register
	 * access can come any more (the trap loop has stopped): a driver
	 * reset would stop the same threads.  Free the model next.
	 */
	void (*stop)(LbAdapterDevice *dev);
	/* SIGHUP: re-reads what may have changed (an image's size). */
	bool (*reload)(LbAdapterDevice *dev, GError **error);
	void (*free)(LbAdapterDevice *dev);
} LbAdapterDeviceOps;

/* The base of every device object. */
struct LbAdapterDevice {
	const LbAdapterDeviceOps *ops;
	LoopbackVirtioDeviceClass klass;	/* for loopback_virtio_new() */
	LoopbackVirtio *vdev;			/* from start to stop */
	LoopbackDevice *dev;			/* the kernel's, from start */
};

extern const LbAdapterDeviceOps lb_blk_ops;
extern const LbAdapterDeviceOps lb_rng_ops;
extern const LbAdapterDeviceOps lb_vhost_user_blk_ops;
extern const LbAdapterDeviceOps lb_vhost_user_net_ops;
extern const LbAdapterDeviceOps lb_vhost_user_fs_ops;
extern const LbAdapterDeviceOps lb_vhost_user_ops;

/* The ops of device type @name, or NULL. */
const LbAdapterDeviceOps *lb_device_find(const char *name);

/*
 * Window bytes for @num_queues split rings of @queue_size entries plus,
 * per queue, one request of @segs segments of up to @seg_size bytes: a
 * streaming mapping takes whole pages of the window, at least one.
 */
uint64_t lb_device_window_size(unsigned int num_queues,
			       unsigned int queue_size, unsigned int segs,
			       uint64_t seg_size);

/* Option helpers: false with "DEV: KEY: why" in @error. */
bool lb_opt_bool(const char *dev, const LbDeviceOption *o, bool *out,
		 GError **error);
bool lb_opt_uint(const char *dev, const LbDeviceOption *o, unsigned int min,
		 unsigned int max, unsigned int *out, GError **error);
bool lb_opt_choice(const char *dev, const LbDeviceOption *o,
		   const char *const *choices, unsigned int *out,
		   GError **error);
bool lb_opt_string(const char *dev, const LbDeviceOption *o, char **out,
		   GError **error);
void lb_opt_unknown(const char *dev, const LbDeviceOption *o,
		    const char *known, GError **error);

/* The domain of the devices' GErrors. */
#define LB_DEVICE_ERROR (lb_device_error_quark())
GQuark lb_device_error_quark(void);
enum {
	LB_DEVICE_ERROR_OPTION,		/* a bad key or value */
	LB_DEVICE_ERROR_IO,		/* a file could not be used */
};

#endif /* LOOPBACK_ADAPTER_DEVICES_H */
