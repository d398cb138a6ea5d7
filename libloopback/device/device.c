// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A device's AddressSpace and lifetime: the root region holds the register
 * block (the caller's ops) and the DMA window (RAM mapped from the window
 * fd, never from the device fd, so memory_region_get_fd() hands out only
 * the window).  The struct is freed when the last of its regions is
 * finalised, which may be after loopback_device_free() returns: flat views
 * keep regions until an RCU grace period has passed.
 */
#include "device-internal.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int lb_sys_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

const struct lb_kernel_ops lb_kernel_default = {
	.ioctl = lb_sys_ioctl,
	.read = read,
	.write = write,
};

static void lb_device_release(LoopbackDevice *dev)
{
	g_clear_error(&dev->end_error);
	g_mutex_clear(&dev->lock);
	g_free(dev->irqfds);
	g_free(dev->traps);
	g_free(dev->replies);
	g_free(dev);
}

static void lb_region_finalised(void *data)
{
	LoopbackDevice *dev = data;

	if (g_atomic_int_dec_and_test(&dev->regions))
		lb_device_release(dev);
}

static void lb_region_track(LoopbackDevice *dev, MemoryRegion *mr)
{
	g_atomic_int_inc(&dev->regions);
	loopback_memory_region_set_free_notify(mr, lb_region_finalised, dev);
}

/* Drops the caller's references; the last finalisation frees @dev. */
static void lb_regions_unref(LoopbackDevice *dev)
{
	if (dev->own_regs)
		memory_region_unref(&dev->regs);
	memory_region_unref(&dev->window);
	memory_region_unref(&dev->root);
}

static bool lb_device_map(LoopbackDevice *dev, int window_fd,
			  const MemoryRegionOps *ops, void *opaque,
			  GError **error)
{
	const char *name = dev->layout.name;
	g_autofree char *regs = g_strdup_printf("%s.regs", name);
	g_autofree char *window = g_strdup_printf("%s.window", name);
	bool ok;

	/* the root and the regs first: the regions counter frees @dev */
	memory_region_init(&dev->root, dev, name, UINT64_MAX);
	lb_region_track(dev, &dev->root);
	if (ops) {
		memory_region_init_io(&dev->regs, dev, ops, opaque, regs,
				      LOOPBACK_DEVICE_REGS_SIZE);
		lb_region_track(dev, &dev->regs);
		dev->own_regs = true;
	}
	/* a failed init leaves an empty region, which needs its unref too */
	ok = memory_region_init_ram_from_fd(&dev->window, dev, window,
					    dev->layout.window_size,
					    RAM_SHARED, window_fd, 0, error);
	lb_region_track(dev, &dev->window);
	if (!ok)
		return false;

	memory_region_transaction_begin();
	if (ops)
		memory_region_add_subregion(&dev->root, dev->layout.regs_base,
					    &dev->regs);
	memory_region_add_subregion(&dev->root, dev->layout.window_base,
				    &dev->window);
	memory_region_transaction_commit();
	dev->regs_mr = ops ? &dev->regs : NULL;
	address_space_init(&dev->as, &dev->root, name);
	return true;
}

LOOPBACK_API bool loopback_device_map_regs(LoopbackDevice *dev,
					   MemoryRegion *regs,
					   GError **error)
{
	g_return_val_if_fail(dev != NULL && regs != NULL, false);
	if (dev->regs_mr) {
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_BUSY,
			    "%s already has its register block (%s)",
			    dev->layout.name, memory_region_name(dev->regs_mr));
		return false;
	}
	if (memory_region_size(regs) < LOOPBACK_DEVICE_REGS_SIZE) {
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_INVALID,
			    "%s: register block %s is %#" PRIx64 " bytes, "
			    "not %#x", dev->layout.name,
			    memory_region_name(regs), memory_region_size(regs),
			    LOOPBACK_DEVICE_REGS_SIZE);
		return false;
	}
	/* the container's reference keeps it while mapped */
	memory_region_add_subregion(&dev->root, dev->layout.regs_base, regs);
	dev->regs_mr = regs;
	return true;
}

/*
 * Takes @fd; takes @window_fd only on success.  The layer's constructor
 * below the kernel calls: the unit tests give it a socketpair.
 */
LoopbackDevice *lb_device_new_from_fd(int fd, const struct lb_layout *layout,
				      int window_fd,
				      const MemoryRegionOps *ops, void *opaque,
				      const struct lb_kernel_ops *k,
				      GError **error)
{
	LoopbackDevice *dev = g_new0(LoopbackDevice, 1);
	uint32_t nirq = layout->num_queues + 1;

	dev->fd = fd;
	dev->k = k;
	dev->layout = *layout;
	g_mutex_init(&dev->lock);
	dev->irqfds = g_new(int, nirq);
	for (uint32_t i = 0; i < nirq; i++)
		dev->irqfds[i] = -1;
	dev->traps = g_new(struct loopback_trap, LB_TRAP_BATCH);
	dev->replies = g_new(struct loopback_reply, LB_TRAP_BATCH);

	if (!lb_device_map(dev, window_fd, ops, opaque, error)) {
		close(fd);
		lb_regions_unref(dev);
		return NULL;
	}
	lb_device_listener_init(dev);
	return dev;
}

LOOPBACK_API void loopback_device_free(LoopbackDevice *dev)
{
	if (!dev)
		return;
	if (dev->source) {
		g_source_destroy(dev->source);
		g_clear_pointer(&dev->source, g_source_unref);
	}
	/* the kernel drops the ioeventfds itself when the fd goes */
	g_atomic_int_set(&dev->closing, 1);
	memory_listener_unregister(&dev->listener);
	close(dev->fd);
	dev->fd = -1;

	memory_region_transaction_begin();
	if (dev->regs_mr)
		memory_region_del_subregion(&dev->root, dev->regs_mr);
	memory_region_del_subregion(&dev->root, &dev->window);
	memory_region_transaction_commit();
	address_space_destroy(&dev->as);
	lb_regions_unref(dev);
}

/* ---- the end of a device: reported once ---- */

void lb_device_end(LoopbackDevice *dev, LoopbackDeviceEvent event,
		   GError *err)
{
	LoopbackDeviceEventFunc func;
	void *data;

	g_mutex_lock(&dev->lock);
	if (dev->end_error) {
		g_mutex_unlock(&dev->lock);
		g_error_free(err);
		return;
	}
	dev->end_error = err;
	dev->end_event = event;
	func = dev->event_func;
	data = dev->event_data;
	g_mutex_unlock(&dev->lock);
	/* last: the callback may free @dev */
	if (func)
		func(dev, event, err, data);
}

/* True, with @error set to why, once the device is gone. */
bool lb_device_ended(LoopbackDevice *dev, GError **error)
{
	bool ended;

	g_mutex_lock(&dev->lock);
	ended = dev->end_error != NULL;
	if (ended && error)
		*error = g_error_copy(dev->end_error);
	g_mutex_unlock(&dev->lock);
	return ended;
}

LOOPBACK_API void loopback_device_set_event_func(LoopbackDevice *dev,
						 LoopbackDeviceEventFunc func,
						 void *user_data)
{
	g_return_if_fail(dev != NULL);
	g_mutex_lock(&dev->lock);
	dev->event_func = func;
	dev->event_data = user_data;
	g_mutex_unlock(&dev->lock);
}

/* ---- getters ---- */

LOOPBACK_API const char *loopback_device_get_name(LoopbackDevice *dev)
{
	return dev->layout.name;
}

LOOPBACK_API AddressSpace *loopback_device_get_address_space(LoopbackDevice *dev)
{
	return &dev->as;
}

LOOPBACK_API MemoryRegion *loopback_device_get_regs(LoopbackDevice *dev)
{
	return dev->regs_mr;
}

LOOPBACK_API hwaddr loopback_device_get_regs_base(LoopbackDevice *dev)
{
	return dev->layout.regs_base;
}

LOOPBACK_API int loopback_device_get_window_fd(LoopbackDevice *dev)
{
	return memory_region_get_fd(&dev->window);
}

LOOPBACK_API hwaddr loopback_device_get_window_base(LoopbackDevice *dev)
{
	return dev->layout.window_base;
}

LOOPBACK_API uint64_t loopback_device_get_window_size(LoopbackDevice *dev)
{
	return dev->layout.window_size;
}

LOOPBACK_API MemoryRegion *loopback_device_get_window(LoopbackDevice *dev)
{
	return &dev->window;
}

LOOPBACK_API int loopback_device_get_fd(LoopbackDevice *dev)
{
	return dev->fd;
}
