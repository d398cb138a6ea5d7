// SPDX-License-Identifier: LGPL-2.1-or-later
/* Interrupts, irqfds, config space updates and orderly removal. */
#include "device-internal.h"

#include <errno.h>

/* A failed ioctl in the device's words. */
static bool lb_dev_error(LoopbackDevice *dev, int err, const char *what,
			 GError **error)
{
	if (err == EIO)
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN,
			    "%s: %s: the device is broken; free it and create "
			    "it again", dev->layout.name, what);
	else
		lb_set_error_errno(error, err, "%s: %s", dev->layout.name,
				   what);
	return false;
}

static bool lb_dev_ioctl(LoopbackDevice *dev, unsigned long request,
			 void *arg, const char *what, GError **error)
{
	if (dev->k->ioctl(dev->fd, request, arg) == 0)
		return true;
	return lb_dev_error(dev, errno, what, error);
}

/* Index into dev->irqfds, or -1 with @error set. */
static int lb_irq_index(LoopbackDevice *dev, uint32_t queue, GError **error)
{
	if (queue == LOOPBACK_DEVICE_CONFIG_IRQ)
		return (int)dev->layout.num_queues;
	if (queue < dev->layout.num_queues)
		return (int)queue;
	g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_INVALID,
		    "%s has %u queues: there is no queue %u",
		    dev->layout.name, dev->layout.num_queues, queue);
	return -1;
}

static bool lb_irqfd(LoopbackDevice *dev, uint32_t queue, int fd,
		     bool assign, GError **error)
{
	struct loopback_irqfd arg = {
		.queue = queue,
		.fd = fd,
		.flags = assign ? 0 : LOOPBACK_IRQFD_DEASSIGN,
	};

	return lb_dev_ioctl(dev, LOOPBACK_DEV_IRQFD, &arg,
			    assign ? "bind irqfd" : "unbind irqfd", error);
}

LOOPBACK_API bool loopback_device_set_irqfd(LoopbackDevice *dev,
					    uint32_t queue, EventNotifier *e,
					    GError **error)
{
	int fd = e ? event_notifier_get_fd(e) : -1;
	bool ok = true;
	int i;

	g_return_val_if_fail(dev != NULL, false);
	i = lb_irq_index(dev, queue, error);
	if (i < 0)
		return false;
	g_mutex_lock(&dev->lock);
	if (dev->irqfds[i] != fd) {
		if (dev->irqfds[i] >= 0)
			ok = lb_irqfd(dev, queue, dev->irqfds[i], false,
				      error);
		if (ok)
			dev->irqfds[i] = -1;
		if (ok && fd >= 0)
			ok = lb_irqfd(dev, queue, fd, true, error);
		if (ok)
			dev->irqfds[i] = fd;
	}
	g_mutex_unlock(&dev->lock);
	return ok;
}

LOOPBACK_API bool loopback_device_interrupt(LoopbackDevice *dev,
					    uint32_t queue, GError **error)
{
	struct loopback_interrupt arg = { .queue = queue };

	g_return_val_if_fail(dev != NULL, false);
	if (lb_irq_index(dev, queue, error) < 0)
		return false;
	return lb_dev_ioctl(dev, LOOPBACK_DEV_INTERRUPT, &arg, "interrupt",
			    error);
}

LOOPBACK_API bool loopback_device_set_config(LoopbackDevice *dev,
					     uint32_t offset,
					     const void *data,
					     uint32_t length, bool notify,
					     GError **error)
{
	struct loopback_config arg = {
		.offset = offset,
		.length = length,
		.data = (uintptr_t)data,
		.flags = notify ? LOOPBACK_CONFIG_NOTIFY : 0,
	};

	g_return_val_if_fail(dev != NULL, false);
	return lb_dev_ioctl(dev, LOOPBACK_DEV_SET_CONFIG, &arg,
			    "config space update", error);
}

LOOPBACK_API bool loopback_device_remove(LoopbackDevice *dev,
					 unsigned int timeout_ms,
					 GError **error)
{
	struct loopback_remove arg = { .timeout_ms = timeout_ms };

	g_return_val_if_fail(dev != NULL, false);
	if (dev->k->ioctl(dev->fd, LOOPBACK_DEV_REMOVE, &arg) == 0) {
		/* so that a break from here on is named for what it is */
		g_atomic_int_set(&dev->removing, 1);
		return true;
	}
	if (errno == ENOTTY)
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION,
			    "%s: loopback.ko has no orderly removal "
			    "(LOOPBACK_F_REMOVE): update the module, or free "
			    "the device", dev->layout.name);
	else if (errno == EALREADY)
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_BUSY,
			    "%s: its removal has already started",
			    dev->layout.name);
	else
		lb_dev_error(dev, errno, "remove", error);
	return false;
}
