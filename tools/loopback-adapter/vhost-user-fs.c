// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vhost-user-fs: a virtio-fs backend (virtiofsd) on the vhost-user device
 * core (vhost-user-dev.c).  The adapter builds the config space itself
 * (the tag and the request queue count), as virtiofsd has none to give.
 * loopback.ko allows class 26 only when extra_device_ids lists it.
 */
#include "config.h"

#include <string.h>

#include "vhost-user-dev.h"

#define NAME "vhost-user-fs"
#define FS_DEVICE_ID 26
/* struct virtio_fs_config: tag[36], then le32 num_request_queues */
#define FS_TAG_SIZE 36
#define FS_CONFIG_NUM_QUEUES 36
#define FS_CONFIG_SIZE 40
/* FUSE's largest request: 256 pages of data, plus headers */
#define FS_REQUEST_SEGS 260

typedef struct LbVuFs {
	char *tag;
} LbVuFs;

/* The hiprio queue, then the request queues. */
static bool fs_queues(LbVuDev *d, unsigned int backend_queues,
		      GError **error)
{
	unsigned int requests = d->want_queues ? d->want_queues : 1;

	if (requests + 1 > LOOPBACK_VIRTIO_MAX_QUEUES) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    NAME ": num-queues=%u: at most %u request queues",
			    requests, LOOPBACK_VIRTIO_MAX_QUEUES - 1);
		return false;
	}
	if (backend_queues && requests + 1 > backend_queues) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
			    NAME ": num-queues=%u: the backend at %s has %u "
			    "queues, so at most %u request queues", requests,
			    d->socket, backend_queues, backend_queues - 1);
		return false;
	}
	d->num_queues = requests + 1;
	return true;
}

static bool fs_config(LbVuDev *d, GError **error)
{
	LbVuFs *f = d->priv;

	memcpy(d->config, f->tag, strlen(f->tag));	/* not NUL-terminated */
	lb_vu_dev_set32(d, FS_CONFIG_NUM_QUEUES, d->num_queues - 1);
	return true;
}

/* Rings, plus per queue four requests of the largest size. */
static uint64_t fs_window(LbVuDev *d)
{
	return MIN(lb_device_window_size(d->num_queues, d->queue_size,
					 4 * FS_REQUEST_SEGS, 4096),
		   1ULL << 30);
}

static void fs_free(LbVuDev *d)
{
	LbVuFs *f = d->priv;

	if (f)
		g_free(f->tag);
	g_free(f);
}

static const LbVuClass fs_class = {
	.name = NAME,
	.device_id = FS_DEVICE_ID,
	.queues = fs_queues,
	.config = fs_config,
	.window_size = fs_window,
	.free = fs_free,
};

static const char fs_keys[] = "socket, tag, num-queues";

static bool fs_tag(const LbDeviceOption *o, char **tag, GError **error)
{
	const char *why = NULL;

	if (!o->value || !*o->value)
		why = "empty";
	else if (strlen(o->value) > FS_TAG_SIZE)
		why = "longer than 36 bytes";
	else if (!g_utf8_validate(o->value, -1, NULL))
		why = "not UTF-8";
	if (why) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    NAME ": tag=%s: %s (1 to 36 bytes of UTF-8, the "
			    "name given to mount -t virtiofs)",
			    o->value ? o->value : "", why);
		return false;
	}
	g_free(*tag);
	*tag = g_strdup(o->value);
	return true;
}

static LbAdapterDevice *fs_create(const LbDeviceOption *opts, size_t n,
				  GError **error)
{
	LbVuDev *d = lb_vu_dev_new(&fs_class, &lb_vhost_user_fs_ops);
	LbVuFs *f = g_new0(LbVuFs, 1);
	bool ok = true;

	d->priv = f;
	d->config_size = FS_CONFIG_SIZE;
	/* FUSE requests complete; a ring that does not is stopped anyway */
	d->drain = true;
	for (size_t i = 0; i < n && ok; i++) {
		bool handled;

		ok = lb_vu_dev_option(d, &opts[i], &handled, error);
		if (!ok || handled)
			continue;
		if (!strcmp(opts[i].key, "tag"))
			ok = fs_tag(&opts[i], &f->tag, error);
		else {
			lb_opt_unknown(NAME, &opts[i], fs_keys, error);
			ok = false;
		}
	}
	if (ok && d->reconnect_s) {
		/* the kernel's FUSE session holds the old daemon's inodes */
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    NAME ": reconnect=%u: not for virtio-fs (a new "
			    "virtiofsd does not know the files the host has "
			    "open)", d->reconnect_s);
		ok = false;
	}
	if (!ok || !lb_vu_dev_check(d, error) ||
	    (!f->tag && !lb_vu_dev_missing(d, "tag", "NAME", error))) {
		lb_vu_dev_free(&d->base);
		return NULL;
	}
	return &d->base;
}

const LbAdapterDeviceOps lb_vhost_user_fs_ops =
	LB_VU_OPS(NAME, "socket=PATH,tag=T[,num-queues=N]", fs_create);
