// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio-rng (virtio 1.2, 5.4): one queue whose writable buffers are
 * filled from getrandom() or from a file, in the adapter's main context.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "devices.h"

#define RNG_QUEUE_SIZE 64

typedef struct LbRng {
	LbAdapterDevice base;
	char *file;		/* NULL: getrandom() */
	int fd;
} LbRng;

/*
 * Fills @len bytes at @p; the count.  Only a full buffer is safe: 6.1's
 * virtio-rng asks for no more entropy after a completion of 0 bytes (its
 * reader then waits for ever) and mishandles one that does not divide its
 * 64-byte reads.  So getrandom() blocks until the kernel's pool is ready
 * (seconds after boot at most; never later), and a file starts over at
 * its end.
 */
static size_t lb_rng_fill(LbRng *r, uint8_t *p, size_t len)
{
	size_t done = 0;
	bool rewound = false;

	while (done < len) {
		ssize_t n = r->fd >= 0 ? read(r->fd, p + done, len - done) :
			    getrandom(p + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && r->fd >= 0 && !rewound &&
		    lseek(r->fd, 0, SEEK_SET) == 0) {
			rewound = true;
			continue;
		}
		if (n <= 0)
			break;
		rewound = false;
		done += n;
	}
	return done;
}

static void lb_rng_handle(void *opaque, LoopbackVirtqueue *vq)
{
	LbRng *r = opaque;
	LoopbackVirtqueueElement *e;
	bool pushed = false;

	do {
		loopback_virtqueue_set_notification(vq, false);
		while ((e = loopback_virtqueue_pop(vq))) {
			size_t done = 0;

			for (unsigned int i = 0; i < e->in_num; i++) {
				size_t n = lb_rng_fill(r, e->in_sg[i].iov_base,
						       e->in_sg[i].iov_len);

				done += n;
				if (n < e->in_sg[i].iov_len)
					break;
			}
			loopback_virtqueue_push(vq, e, done);
			pushed = true;
		}
		loopback_virtqueue_set_notification(vq, true);
	} while (!loopback_virtqueue_empty(vq));
	if (pushed)
		loopback_virtqueue_notify(vq);
}

static bool lb_rng_open(LbRng *r, GError **error)
{
	int fd;

	if (!r->file)
		return true;
	fd = open(r->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
			    "rng: file=%s: %s", r->file, g_strerror(errno));
		return false;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	return true;
}

static void lb_rng_free(LbAdapterDevice *dev)
{
	LbRng *r = (LbRng *)dev;

	if (r->fd >= 0)
		close(r->fd);
	g_free(r->file);
	g_free(r);
}

static LbAdapterDevice *lb_rng_create(const LbDeviceOption *opts, size_t n,
				      GError **error)
{
	static const char *const sources[] = { "getrandom", NULL };
	LbRng *r = g_new0(LbRng, 1);
	unsigned int v;

	r->base.ops = &lb_rng_ops;
	r->fd = -1;
	for (size_t i = 0; i < n; i++) {
		const LbDeviceOption *o = &opts[i];
		bool ok;

		if (!strcmp(o->key, "source"))
			ok = lb_opt_choice("rng", o, sources, &v, error);
		else if (!strcmp(o->key, "file"))
			ok = lb_opt_string("rng", o, &r->file, error);
		else {
			lb_opt_unknown("rng", o, "source, file", error);
			ok = false;
		}
		if (!ok)
			goto fail;
	}
	if (!lb_rng_open(r, error))
		goto fail;
	r->base.klass = (LoopbackVirtioDeviceClass) {
		.name = "rng",
		.device_id = 4,
		.vendor_id = 0x4c42,
		.features = 1ULL << LOOPBACK_VIRTIO_F_EVENT_IDX |
			    1ULL << LOOPBACK_VIRTIO_F_INDIRECT_DESC,
		.num_queues = 1,
		.queue_size_max = RNG_QUEUE_SIZE,
		.handle_queue = lb_rng_handle,
	};
	return &r->base;
fail:
	lb_rng_free(&r->base);
	return NULL;
}

static uint64_t lb_rng_window_size(LbAdapterDevice *dev)
{
	/* every entry may hold a one-page buffer */
	return lb_device_window_size(1, RNG_QUEUE_SIZE, RNG_QUEUE_SIZE, 4096);
}

static bool lb_rng_start(LbAdapterDevice *dev, LoopbackVirtio *vdev,
			 GMainContext *ctx, GError **error)
{
	dev->vdev = vdev;
	loopback_virtio_attach_context(vdev, ctx);
	return true;
}

static void lb_rng_stop(LbAdapterDevice *dev)
{
	loopback_virtio_attach_context(dev->vdev, NULL);
	dev->vdev = NULL;
}

/* SIGHUP: a file source is opened again (a rotated or replaced file). */
static bool lb_rng_reload(LbAdapterDevice *dev, GError **error)
{
	return lb_rng_open((LbRng *)dev, error);
}

const LbAdapterDeviceOps lb_rng_ops = {
	.name = "rng",
	.usage = "[source=getrandom|file=PATH]",
	.create = lb_rng_create,
	.window_size = lb_rng_window_size,
	.start = lb_rng_start,
	.stop = lb_rng_stop,
	.reload = lb_rng_reload,
	.free = lb_rng_free,
};
