// SPDX-License-Identifier: LGPL-2.1-or-later
/* The table of the adapter's device types and the option helpers they share. */
#include "config.h"

#include <string.h>

#include "devices.h"

G_DEFINE_QUARK(lb-device-error-quark, lb_device_error)

static const LbAdapterDeviceOps *const lb_devices[] = {
	&lb_blk_ops,
	&lb_rng_ops,
	&lb_vhost_user_blk_ops,
	&lb_vhost_user_net_ops,
	&lb_vhost_user_fs_ops,
	&lb_vhost_user_ops,
};

const LbAdapterDeviceOps *lb_device_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(lb_devices); i++)
		if (!g_strcmp0(lb_devices[i]->name, name))
			return lb_devices[i];
	return NULL;
}

#define PAGE 4096ULL

static uint64_t lb_pages(uint64_t bytes)
{
	return (bytes + PAGE - 1) / PAGE;
}

uint64_t lb_device_window_size(unsigned int num_queues,
			       unsigned int queue_size, unsigned int segs,
			       uint64_t seg_size)
{
	uint64_t q = queue_size, seg = lb_pages(seg_size), ring = 1;
	/*
	 * The sum loopback.ko bounds a block request by (kmod/loopback_blk.c):
	 * each queue's rings take a power of two of pages; a request takes
	 * its header and status (two pages each, they may straddle), an
	 * indirect table, each segment one page more than its size, and up
	 * to a segment lost at the end of each free run.  Less, and the
	 * kernel offers the driver smaller segments than @seg_size.
	 */
	uint64_t need = lb_pages(16 * q + 6 + 2 * q) + lb_pages(6 + 8 * q);
	uint64_t request = 4 + segs * (seg + 1) + (num_queues + 1) * seg +
			   lb_pages((segs + 2) * 16ULL) + 1;
	uint64_t bytes;

	while (ring < need)
		ring <<= 1;
	bytes = num_queues * (ring + request) * PAGE;
	/* the kernel's minimum, and whole 64 KiB */
	return MAX((bytes + 0xffff) & ~0xffffULL, 0x10000);
}

static void lb_opt_error(GError **error, const char *dev,
			 const LbDeviceOption *o, const char *why)
{
	g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
		    "%s: %s=%s: %s", dev, o->key, o->value ? o->value : "",
		    why);
}

bool lb_opt_bool(const char *dev, const LbDeviceOption *o, bool *out,
		 GError **error)
{
	static const char *const onoff[] = { "off", "on", NULL };
	unsigned int v;

	if (!lb_opt_choice(dev, o, onoff, &v, error))
		return false;
	*out = v;
	return true;
}

bool lb_opt_uint(const char *dev, const LbDeviceOption *o, unsigned int min,
		 unsigned int max, unsigned int *out, GError **error)
{
	g_autofree char *why = NULL;
	guint64 v;

	if (!o->value || !g_ascii_string_to_unsigned(o->value, 10, min, max,
						     &v, NULL)) {
		why = g_strdup_printf("not a number from %u to %u", min, max);
		lb_opt_error(error, dev, o, why);
		return false;
	}
	*out = v;
	return true;
}

bool lb_opt_choice(const char *dev, const LbDeviceOption *o,
		   const char *const *choices, unsigned int *out,
		   GError **error)
{
	g_autofree char *list = NULL;
	g_autofree char *why = NULL;

	for (unsigned int i = 0; choices[i]; i++) {
		if (!g_strcmp0(o->value, choices[i])) {
			*out = i;
			return true;
		}
	}
	list = g_strjoinv(" or ", (char **)choices);
	why = g_strdup_printf("must be %s", list);
	lb_opt_error(error, dev, o, why);
	return false;
}

bool lb_opt_string(const char *dev, const LbDeviceOption *o, char **out,
		   GError **error)
{
	if (!o->value || !*o->value) {
		lb_opt_error(error, dev, o, "needs a value");
		return false;
	}
	g_free(*out);
	*out = g_strdup(o->value);
	return true;
}

void lb_opt_unknown(const char *dev, const LbDeviceOption *o,
		    const char *known, GError **error)
{
	g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
		    "%s: unknown option '%s' (known: %s)", dev, o->key, known);
}
