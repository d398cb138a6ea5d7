// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * loopback_device_new(): the parameters are checked here first, so that a
 * mistake gets a message naming the field instead of the module's EINVAL.
 */
#include "device-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static bool lb_invalid(GError **error, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

static bool lb_invalid(GError **error, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_INVALID,
		    "invalid device parameters: %s", msg);
	return false;
}

bool lb_config_valid(const LoopbackDeviceConfig *c, GError **error)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (c->device_id == 0 || c->device_id == 0xffffffffU)
		return lb_invalid(error, "device id %u is not a virtio device "
				  "id", c->device_id);
	if (c->num_queues < 1 || c->num_queues > LOOPBACK_MAX_QUEUES)
		return lb_invalid(error, "%u queues; 1 to %d are possible",
				  c->num_queues, LOOPBACK_MAX_QUEUES);
	if (c->max_queue_size < 2 ||
	    c->max_queue_size > LOOPBACK_MAX_QUEUE_SIZE ||
	    (c->max_queue_size & (c->max_queue_size - 1)))
		return lb_invalid(error, "queue size %u; a power of two from 2 "
				  "to %d is needed", c->max_queue_size,
				  LOOPBACK_MAX_QUEUE_SIZE);
	if (c->config_size > LOOPBACK_MAX_CONFIG_SIZE ||
	    (c->config_size && !c->config))
		return lb_invalid(error, "config space of %u bytes; up to %d, "
				  "with its contents", c->config_size,
				  LOOPBACK_MAX_CONFIG_SIZE);
	if (c->window_size < LOOPBACK_MIN_WINDOW_SIZE ||
	    c->window_size > LOOPBACK_MAX_WINDOW_SIZE ||
	    c->window_size % page)
		return lb_invalid(error, "window of %" PRIu64 " bytes; a "
				  "multiple of %" PRIu64 " from %llu to %llu "
				  "is needed", c->window_size, page,
				  LOOPBACK_MIN_WINDOW_SIZE,
				  LOOPBACK_MAX_WINDOW_SIZE);
	return true;
}

static int lb_create(int ctl, const LoopbackDeviceConfig *c,
		     struct lb_layout *layout, GError **error)
{
	struct loopback_create cr = {
		.api_version = LOOPBACK_API_VERSION,
		.device_id = c->device_id,
		.vendor_id = c->vendor_id,
		.features = c->features | VIRTIO_F_VERSION_1 |
			    VIRTIO_F_ACCESS_PLATFORM,
		.num_queues = c->num_queues,
		.max_queue_size = c->max_queue_size,
		.config_size = c->config_size,
		.trap_size = sizeof(struct loopback_trap),
		.config = (uintptr_t)c->config,
		.window_size = c->window_size,
	};
	int fd = ioctl(ctl, LOOPBACK_CREATE, &cr);

	if (fd < 0) {
		if (errno == EPERM)
			g_set_error(error, LOOPBACK_ERROR,
				    LOOPBACK_ERROR_NOT_ALLOWED,
				    "loopback.ko does not allow virtio device "
				    "id %u: load it with extra_device_ids=%u",
				    c->device_id, c->device_id);
		else
			lb_set_error_errno(error, errno, "loopback.ko refused "
					   "to create the device");
		return -1;
	}
	memcpy(layout->name, cr.name, LOOPBACK_NAME_LEN);
	layout->name[LOOPBACK_NAME_LEN] = 0;
	layout->regs_base = cr.regs_base;
	layout->num_queues = c->num_queues;
	return fd;
}

/* Non-blocking: the dispatcher reads until EAGAIN. */
static bool lb_set_nonblock(int fd, GError **error)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		lb_set_error_errno(error, errno, "device fd");
		return false;
	}
	return true;
}

static int lb_window_fd(int fd, struct lb_layout *layout, GError **error)
{
	struct loopback_window_fd w = { .flags = LOOPBACK_WINDOW_FD_CLOEXEC };
	int wfd = ioctl(fd, LOOPBACK_DEV_WINDOW_FD, &w);

	if (wfd < 0) {
		lb_set_error_errno(error, errno, "%s: LOOPBACK_DEV_WINDOW_FD",
				   layout->name);
		return -1;
	}
	layout->window_base = w.window_base;
	layout->window_size = w.window_size;
	return wfd;
}

LOOPBACK_API LoopbackDevice *loopback_device_new(const LoopbackDeviceConfig *config,
						 GError **error)
{
	struct lb_layout layout = { 0 };
	LoopbackDevice *dev;
	int ctl, fd, wfd;

	g_return_val_if_fail(config != NULL, NULL);
	if (!lb_config_valid(config, error))
		return NULL;
	ctl = lb_control_open(config->wait_ms, &layout.module_features,
			      error);
	if (ctl < 0)
		return NULL;
	fd = lb_create(ctl, config, &layout, error);
	close(ctl);
	if (fd < 0)
		return NULL;
	wfd = -1;
	if (!lb_set_nonblock(fd, error) ||
	    (wfd = lb_window_fd(fd, &layout, error)) < 0) {
		close(fd);
		return NULL;
	}
	dev = lb_device_new_from_fd(fd, &layout, wfd, config->ops,
				    config->opaque, &lb_kernel_default, error);
	if (!dev)
		close(wfd);
	return dev;
}
