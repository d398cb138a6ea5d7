// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vhost-user-blk: the disk of an unmodified vhost-user backend
 * (qemu-storage-daemon's vhost-user-blk export, ...), a class of the
 * vhost-user device core (vhost-user-dev.c).  The config space is the
 * backend's (GET_CONFIG), with our queue count and the limits the window
 * is sized for.
 */
#include "config.h"

#include <string.h>

#include "vhost-user-dev.h"

#define NAME "vhost-user-blk"
#define F LB_VU_F

/* What the driver may see of the backend's device features. */
#define VUB_ALLOWLIST \
	(F(BLK_F_SIZE_MAX) | F(BLK_F_SEG_MAX) | F(BLK_F_BLK_SIZE) | \
	 F(BLK_F_FLUSH) | F(BLK_F_TOPOLOGY) | F(BLK_F_MQ) | \
	 F(BLK_F_DISCARD) | F(BLK_F_WRITE_ZEROES) | F(BLK_F_RO))
/*
 * The window is sized from seg_max and size_max, so the driver always
 * gets both; they only bound the driver's requests, so a backend that
 * does not offer them is not told the driver accepted them.
 */
#define VUB_LIMITS (F(BLK_F_SIZE_MAX) | F(BLK_F_SEG_MAX))

#define VUB_SIZE_MAX (128 * 1024)
#define VUB_WINDOW_MAX (1ULL << 30)	/* the kernel's largest */

typedef struct LbVub {
	uint32_t seg_max;
	uint32_t size_max;
} LbVub;

static uint64_t vub_window(LbVuDev *d)
{
	LbVub *v = d->priv;

	return lb_device_window_size(d->num_queues, d->queue_size,
				     v->seg_max, v->size_max);
}

/* seg_max and size_max: the backend's, within what the window can take. */
static void vub_limits(LbVuDev *d, uint64_t backend)
{
	LbVub *v = d->priv;
	uint32_t seg = backend & F(BLK_F_SEG_MAX) ?
		       lb_vu_dev_get32(d, BLK_CONFIG_SEG_MAX) : 0;
	uint32_t size = backend & F(BLK_F_SIZE_MAX) ?
			lb_vu_dev_get32(d, BLK_CONFIG_SIZE_MAX) : 0;

	/* a request with its header and status fits in the queue */
	v->seg_max = MIN(d->queue_size - 2, 254);
	if (seg)
		v->seg_max = MIN(v->seg_max, seg);
	v->size_max = VUB_SIZE_MAX;
	if (size >= 4096)
		v->size_max = MIN(v->size_max, size);
	while (v->size_max > 4096 && vub_window(d) > VUB_WINDOW_MAX)
		v->size_max /= 2;
	lb_vu_dev_set32(d, BLK_CONFIG_SEG_MAX, v->seg_max);
	lb_vu_dev_set32(d, BLK_CONFIG_SIZE_MAX, v->size_max);
}

static bool vub_queues(LbVuDev *d, unsigned int backend_queues,
		       GError **error)
{
	d->num_queues = MIN(MAX(backend_queues, 1),
			    LOOPBACK_VIRTIO_MAX_QUEUES);
	if (d->want_queues)
		d->num_queues = MIN(d->num_queues, d->want_queues);
	return true;
}

static bool vub_config(LbVuDev *d, GError **error)
{
	if (!lb_vu_dev_get_config(d, "its capacity is unknown", error))
		return false;
	lb_vu_dev_set16(d, BLK_CONFIG_NUM_QUEUES, d->num_queues);
	vub_limits(d, loopback_vhost_user_get_backend_features(d->vu));
	return true;
}

static void vub_config_changed(LbVuDev *d)
{
	uint8_t c[BLK_CONFIG_SIZE];
	g_autoptr(GError) err = NULL;

	if (!loopback_vhost_user_get_config(d->vu, 0, c, sizeof(c), &err)) {
		g_warning(NAME ": config change: %s", err->message);
		return;
	}
	/* only the capacity may change under the driver */
	memcpy(d->config, c, 8);
}

static void vub_free(LbVuDev *d)
{
	g_free(d->priv);
}

static const LbVuClass vub_class = {
	.name = NAME,
	.device_id = 2,
	.queues = vub_queues,
	.config = vub_config,
	.config_changed = vub_config_changed,
	.window_size = vub_window,
	.free = vub_free,
};

static const char vub_keys[] = LB_VU_DEV_KEYS;

static LbAdapterDevice *vub_create(const LbDeviceOption *opts, size_t n,
				   GError **error)
{
	LbVuDev *d = lb_vu_dev_new(&vub_class, &lb_vhost_user_blk_ops);
	bool ok = true;

	d->priv = g_new0(LbVub, 1);
	d->allowlist = VUB_ALLOWLIST;
	d->own_features = VUB_LIMITS;
	d->config_size = BLK_CONFIG_SIZE;
	d->drain = true;	/* every request completes */
	for (size_t i = 0; i < n && ok; i++) {
		bool handled;

		ok = lb_vu_dev_option(d, &opts[i], &handled, error);
		if (ok && !handled) {
			lb_opt_unknown(NAME, &opts[i], vub_keys, error);
			ok = false;
		}
	}
	if (!ok || !lb_vu_dev_check(d, error)) {
		lb_vu_dev_free(&d->base);
		return NULL;
	}
	return &d->base;
}

const LbAdapterDeviceOps lb_vhost_user_blk_ops =
	LB_VU_OPS(NAME, "socket=PATH[,num-queues=N][,reconnect=SECONDS]",
		  vub_create);
