// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vhost-user: any device class, on the vhost-user device core
 * (vhost-user-dev.c).  The user names the class, the queue count and the
 * config size; the config space is the backend's (GET_CONFIG) and the
 * driver sees the backend's features through a conservative allowlist:
 * the core's transport bits, and device bits only as loopback.ko lets the
 * class have them (Documentation/uapi.md, "Device classes").
 */
#include "config.h"

#include <string.h>

#include "vhost-user-dev.h"

#define NAME "vhost-user"
#define F LB_VU_F
#define CONFIG_SIZE_MAX 3840	/* the virtio layer's */
#define DEVICE_ID_MAX 0xffff

#define ID_NET 1
#define ID_BLK 2
#define ID_RNG 4

/* virtio-blk: everything the driver may use without our help */
#define GEN_BLK_FEATURES \
	(F(BLK_F_SIZE_MAX) | F(BLK_F_SEG_MAX) | F(BLK_F_BLK_SIZE) | \
	 F(BLK_F_FLUSH) | F(BLK_F_TOPOLOGY) | F(BLK_F_MQ) | \
	 F(BLK_F_DISCARD) | F(BLK_F_WRITE_ZEROES) | F(BLK_F_RO))
/*
 * virtio-net without a control queue (the kernel refuses CTRL_VQ and what
 * needs it): checksums, segmentation offloads, MTU, MAC, MRG_RXBUF, STATUS.
 */
#define GEN_NET_FEATURES \
	(F(0) | F(1) | F(3) | F(5) | F(7) | F(8) | F(9) | F(10) | \
	 F(11) | F(12) | F(13) | F(14) | F(15) | F(16))
/*
 * A class allowed by extra_device_ids has no feature restriction in the
 * kernel: its device-type bits (0 to 23, 50 to 63) pass.
 */
#define GEN_OTHER_FEATURES \
	(((1ULL << 24) - 1) | ~((1ULL << 50) - 1))

/* blk's num_queues is ours, if the config space reaches it */
static bool gen_blk_queues(LbVuDev *d, unsigned int device_id)
{
	return device_id == ID_BLK &&
	       d->config_size >= BLK_CONFIG_NUM_QUEUES + 2;
}

typedef struct LbVuGen {
	unsigned int device_id;
	LbVuClass cls;		/* a copy naming the chosen device id */
} LbVuGen;

static bool gen_queues(LbVuDev *d, unsigned int backend_queues,
		       GError **error)
{
	if (backend_queues && d->want_queues > backend_queues) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
			    NAME ": num-queues=%u: the backend at %s has only "
			    "%u", d->want_queues, d->socket, backend_queues);
		return false;
	}
	d->num_queues = d->want_queues;
	return true;
}

static bool gen_config(LbVuDev *d, GError **error)
{
	LbVuGen *g = d->priv;

	if (!d->config_size)
		return true;
	if (!lb_vu_dev_get_config(d, "config-size must be 0", error))
		return false;
	/* a blk backend's own queue count would make the driver use more */
	if (gen_blk_queues(d, g->device_id))
		lb_vu_dev_set16(d, BLK_CONFIG_NUM_QUEUES, d->num_queues);
	return true;
}

/* The whole config space may have changed: read it again. */
static void gen_config_changed(LbVuDev *d)
{
	LbVuGen *g = d->priv;
	g_autofree uint8_t *c = g_malloc0(MAX(d->config_size, 1));
	g_autoptr(GError) err = NULL;

	if (!d->config_size)
		return;
	if (!loopback_vhost_user_get_config(d->vu, 0, c, d->config_size,
					    &err)) {
		g_warning(NAME ": config change: %s", err->message);
		return;
	}
	if (gen_blk_queues(d, g->device_id))
		memcpy(c + BLK_CONFIG_NUM_QUEUES,
		       d->config + BLK_CONFIG_NUM_QUEUES, 2);
	memcpy(d->config, c, d->config_size);
}

/* Rings, plus one request per queue of a full ring of 64 KiB buffers. */
static uint64_t gen_window(LbVuDev *d)
{
	return MIN(lb_device_window_size(d->num_queues, d->queue_size,
					 d->queue_size, 64 * 1024),
		   1ULL << 30);
}

static void gen_free(LbVuDev *d)
{
	g_free(d->priv);
}

static const LbVuClass gen_class = {
	.name = NAME,
	.queues = gen_queues,
	.config = gen_config,
	.config_changed = gen_config_changed,
	.window_size = gen_window,
	.free = gen_free,
};

static const char gen_keys[] =
	"socket, device-id, num-queues, config-size, reconnect";

/* The class's rules: the kernel's allowlist and the driver's queues. */
static bool gen_class_check(LbVuDev *d, LbVuGen *g, GError **error)
{
	const char *why = NULL;

	switch (g->device_id) {
	case ID_NET:
		d->allowlist = GEN_NET_FEATURES;
		/* an RX receive ring holds buffers until a packet comes */
		if (d->want_queues != 2)
			why = "virtio-net without a control queue has 2 "
			      "queues (receive, transmit)";
		break;
	case ID_BLK:
		d->allowlist = GEN_BLK_FEATURES;
		d->drain = true;
		break;
	case ID_RNG:
		d->drain = true;
		if (d->want_queues != 1)
			why = "virtio-rng has 1 queue";
		break;
	default:
		d->allowlist = GEN_OTHER_FEATURES;
		break;
	}
	if (why) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    NAME ": num-queues=%u: %s", d->want_queues, why);
		return false;
	}
	return true;
}

static LbAdapterDevice *gen_create(const LbDeviceOption *opts, size_t n,
				   GError **error)
{
	LbVuGen *g = g_new0(LbVuGen, 1);
	LbVuDev *d = lb_vu_dev_new(&g->cls, &lb_vhost_user_ops);
	bool have_size = false;
	bool ok = true;

	g->cls = gen_class;
	d->priv = g;
	for (size_t i = 0; i < n && ok; i++) {
		const LbDeviceOption *o = &opts[i];
		bool handled;

		ok = lb_vu_dev_option(d, o, &handled, error);
		if (!ok || handled)
			continue;
		if (!strcmp(o->key, "device-id"))
			ok = lb_opt_uint(NAME, o, 1, DEVICE_ID_MAX,
					 &g->device_id, error);
		else if (!strcmp(o->key, "config-size"))
			ok = have_size = lb_opt_uint(NAME, o, 0,
						     CONFIG_SIZE_MAX,
						     &d->config_size, error);
		else {
			lb_opt_unknown(NAME, o, gen_keys, error);
			ok = false;
		}
	}
	if (!ok || !lb_vu_dev_check(d, error) ||
	    (!g->device_id && !lb_vu_dev_missing(d, "device-id", "N", error)) ||
	    (!d->want_queues &&
	     !lb_vu_dev_missing(d, "num-queues", "N", error)) ||
	    (!have_size &&
	     !lb_vu_dev_missing(d, "config-size", "BYTES", error)) ||
	    !gen_class_check(d, g, error)) {
		lb_vu_dev_free(&d->base);
		return NULL;
	}
	g->cls.device_id = g->device_id;
	return &d->base;
}

const LbAdapterDeviceOps lb_vhost_user_ops =
	LB_VU_OPS(NAME, "socket=PATH,device-id=N,num-queues=N,config-size=N"
		  "[,reconnect=SECONDS]", gen_create);
