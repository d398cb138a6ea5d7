// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio-blk (virtio 1.2, 5.2) on a file or block device, through
 * io_uring.  Each queue has a thread and a ring: the thread waits on the
 * queue's kick notifier (a poll request in its own ring), submits the
 * requests it pops, and completes them as the ring reports them, in any
 * order, signalling the queue's interrupt notifier.  No trap, no lock, no
 * other thread on the data path.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include <liburing.h>

#include "devices.h"

#define SECTOR 512ULL
#define ID_BYTES 20
#define HDR_BYTES 16
#define DWZ_BYTES 16	/* one discard / write zeroes segment */
#define MAX_DWZ_SECTORS 0x3fffffu

/* virtio-blk request types, status values (feature bits: devices.h) */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_DISCARD 11
#define BLK_T_WRITE_ZEROES 13
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2

#define TAG_KICK 1
#define TAG_STOP 2

typedef struct LbBlk LbBlk;

typedef struct LbBlkQueue {
	LbBlk *blk;
	LoopbackVirtqueue *vq;
	GThread *thread;
	struct io_uring ring;
	EventNotifier stop;
	unsigned int inflight;
	bool pushed;		/* since the last notify */
} LbBlkQueue;

struct LbBlk {
	LbAdapterDevice base;
	char *file;
	bool readonly;
	bool direct;
	bool discard;
	char *serial;
	unsigned int num_queues;
	unsigned int queue_size;
	uint32_t seg_max;
	uint32_t size_max;
	int fd;
	bool blockdev;
	uint32_t blk_size;
	uint64_t capacity;	/* sectors; atomic: reload changes it */
	LbBlkQueue *queues;
};

typedef struct LbBlkReq {
	LbBlkQueue *q;
	LoopbackVirtqueueElement *elem;
	uint8_t *status;
	uint32_t used;		/* bytes written into the chain */
	int fallocate_mode;	/* to retry WRITE_ZEROES as a punched hole */
	uint64_t off, len;
	struct iovec iov[];	/* the data part of the chain */
} LbBlkReq;

/* ---- requests ---- */

static void lb_blk_done(LbBlkReq *r, uint8_t status)
{
	*r->status = status;
	loopback_virtqueue_push(r->q->vq, r->elem, r->used);
	r->q->pushed = true;
	g_free(r);
}

/* @len bytes of @v[@n] from byte @off into r->iov; the count. */
static unsigned int lb_blk_slice(LbBlkReq *r, const struct iovec *v,
				 unsigned int n, uint64_t off, uint64_t len)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t l = v[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = MIN(l - off, len);
		r->iov[k++] = (struct iovec) {
			(uint8_t *)v[i].iov_base + off, l };
		len -= l;
		off = 0;
	}
	return k;
}

static bool lb_blk_in_range(LbBlk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t cap = __atomic_load_n(&b->capacity, __ATOMIC_ACQUIRE);

	return sector <= cap && bytes / SECTOR <= cap - sector &&
	       !(bytes % SECTOR);
}

static struct io_uring_sqe *lb_blk_sqe(LbBlkQueue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

static void lb_blk_rw(LbBlkReq *r, bool write, uint64_t sector,
		      unsigned int niov, uint64_t bytes)
{
	LbBlk *b = r->q->blk;
	struct io_uring_sqe *sqe;

	if ((write && b->readonly) || !lb_blk_in_range(b, sector, bytes)) {
		lb_blk_done(r, BLK_S_IOERR);
		return;
	}
	r->len = bytes;
	sqe = lb_blk_sqe(r->q);
	if (write)
		io_uring_prep_writev(sqe, b->fd, r->iov, niov, sector * SECTOR);
	else
		io_uring_prep_readv(sqe, b->fd, r->iov, niov, sector * SECTOR);
	io_uring_sqe_set_data(sqe, r);
	r->q->inflight++;
}

static void lb_blk_fallocate(LbBlkReq *r, int mode)
{
	struct io_uring_sqe *sqe = lb_blk_sqe(r->q);

	r->fallocate_mode = mode;
	io_uring_prep_fallocate(sqe, r->q->blk->fd, mode, r->off, r->len);
	io_uring_sqe_set_data(sqe, r);
	r->q->inflight++;
}

/* DISCARD and WRITE_ZEROES: one segment, as the config space says. */
static void lb_blk_dwz(LbBlkReq *r, uint32_t type)
{
	LbBlk *b = r->q->blk;
	LoopbackVirtqueueElement *e = r->elem;
	uint8_t seg[DWZ_BYTES];
	uint64_t sector;
	uint32_t sectors, flags;
	bool unmap;

	if (b->readonly || (type == BLK_T_DISCARD && !b->discard) ||
	    e->out_len != HDR_BYTES + DWZ_BYTES) {
		lb_blk_done(r, b->readonly ? BLK_S_IOERR : BLK_S_UNSUPP);
		return;
	}
	loopback_virtio_iov_to_buf(e->out_sg, e->out_num, HDR_BYTES, seg,
				   DWZ_BYTES);
	memcpy(&sector, seg, 8);
	memcpy(&sectors, seg + 8, 4);
	memcpy(&flags, seg + 12, 4);
	sector = GUINT64_FROM_LE(sector);
	sectors = GUINT32_FROM_LE(sectors);
	flags = GUINT32_FROM_LE(flags);
	unmap = flags & 1;
	if ((flags & ~1u) || (type == BLK_T_DISCARD && unmap)) {
		lb_blk_done(r, BLK_S_UNSUPP);
		return;
	}
	if (sectors > MAX_DWZ_SECTORS ||
	    !lb_blk_in_range(b, sector, (uint64_t)sectors * SECTOR)) {
		lb_blk_done(r, BLK_S_IOERR);
		return;
	}
	r->off = sector * SECTOR;
	r->len = (uint64_t)sectors * SECTOR;
	if (type == BLK_T_DISCARD || unmap)
		lb_blk_fallocate(r, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
	else
		lb_blk_fallocate(r, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
}

static void lb_blk_request(LbBlkQueue *q, LoopbackVirtqueueElement *e)
{
	LbBlk *b = q->blk;
	uint8_t hdr[HDR_BYTES];
	uint32_t type;
	uint64_t sector, in_data;
	struct iovec *last;
	unsigned int n;
	LbBlkReq *r;

	last = e->in_num ? &e->in_sg[e->in_num - 1] : NULL;
	if (e->out_len < HDR_BYTES || !last || !last->iov_len) {
		/* no header or no status byte: nothing to answer with */
		loopback_virtqueue_element_free(q->vq, e);
		loopback_virtio_needs_reset(b->base.vdev, "blk: a request "
					    "without header or status byte");
		return;
	}
	loopback_virtio_iov_to_buf(e->out_sg, e->out_num, 0, hdr, HDR_BYTES);
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = GUINT32_FROM_LE(type);
	sector = GUINT64_FROM_LE(sector);
	r = g_malloc0(sizeof(*r) +
		      (e->in_num + e->out_num) * sizeof(struct iovec));
	r->q = q;
	r->elem = e;
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used = 1;
	in_data = e->in_len - 1;
	switch (type) {
	case BLK_T_IN:
		n = lb_blk_slice(r, e->in_sg, e->in_num, 0, in_data);
		r->used += in_data;
		lb_blk_rw(r, false, sector, n, in_data);
		break;
	case BLK_T_OUT:
		n = lb_blk_slice(r, e->out_sg, e->out_num, HDR_BYTES,
				 e->out_len - HDR_BYTES);
		lb_blk_rw(r, true, sector, n, e->out_len - HDR_BYTES);
		break;
	case BLK_T_FLUSH: {
		struct io_uring_sqe *sqe = lb_blk_sqe(q);

		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data(sqe, r);
		q->inflight++;
		break;
	}
	case BLK_T_GET_ID: {
		char id[ID_BYTES] = { 0 };

		/* NUL-padded; serial= was checked to fit */
		memcpy(id, b->serial, strlen(b->serial));
		r->used += loopback_virtio_iov_from_buf(e->in_sg, e->in_num,
							0, id,
							MIN(in_data, ID_BYTES));
		lb_blk_done(r, BLK_S_OK);
		break;
	}
	case BLK_T_DISCARD:
	case BLK_T_WRITE_ZEROES:
		lb_blk_dwz(r, type);
		break;
	default:
		lb_blk_done(r, BLK_S_UNSUPP);
	}
}

static void lb_blk_complete(LbBlkQueue *q, LbBlkReq *r, int res)
{
	q->inflight--;
	/* tmpfs and others zero a range only by punching a hole */
	if (res == -EOPNOTSUPP && (r->fallocate_mode & FALLOC_FL_ZERO_RANGE)) {
		lb_blk_fallocate(r, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		return;
	}
	if (res < 0 || (r->len && !r->fallocate_mode &&
			(uint64_t)res != r->len)) {
		if (res < 0)
			g_debug("blk: request failed: %s", g_strerror(-res));
		r->used = 1;
		lb_blk_done(r, BLK_S_IOERR);
		return;
	}
	lb_blk_done(r, BLK_S_OK);
}

/* ---- the queue thread ---- */

static void lb_blk_poll(LbBlkQueue *q, int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = lb_blk_sqe(q);

	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag);
}

static void lb_blk_serve(LbBlkQueue *q)
{
	LoopbackVirtqueueElement *e;

	do {
		loopback_virtqueue_set_notification(q->vq, false);
		while ((e = loopback_virtqueue_pop(q->vq)))
			lb_blk_request(q, e);
		loopback_virtqueue_set_notification(q->vq, true);
	} while (!loopback_virtqueue_empty(q->vq));
}

static gpointer lb_blk_thread(gpointer data)
{
	LbBlkQueue *q = data;
	EventNotifier *kick = loopback_virtqueue_get_kick_notifier(q->vq);
	bool stopping = false;

	lb_blk_poll(q, event_notifier_get_fd(kick), TAG_KICK);
	/* a kick that came before the thread did is still pending there */
	lb_blk_poll(q, event_notifier_get_fd(&q->stop), TAG_STOP);
	while (!stopping || q->inflight) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		bool kicked = false;

		io_uring_submit_and_wait(&q->ring, 1);
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			uint64_t tag = io_uring_cqe_get_data64(cqe);

			seen++;
			if (tag == TAG_KICK)
				kicked = true;
			else if (tag == TAG_STOP)
				stopping = true;
			else
				lb_blk_complete(q, (LbBlkReq *)(uintptr_t)tag,
						cqe->res);
		}
		io_uring_cq_advance(&q->ring, seen);
		if (kicked && !stopping) {
			event_notifier_test_and_clear(kick);
			lb_blk_serve(q);
			lb_blk_poll(q, event_notifier_get_fd(kick), TAG_KICK);
		}
		if (q->pushed) {
			q->pushed = false;
			loopback_virtqueue_notify(q->vq);
		}
	}
	return NULL;
}

static void lb_blk_stop_queues(void *opaque, LoopbackVirtio *vdev);

static bool lb_blk_start_queues(void *opaque, LoopbackVirtio *vdev,
				GError **error)
{
	LbBlk *b = opaque;

	for (unsigned int i = 0; i < b->num_queues; i++) {
		LbBlkQueue *q = &b->queues[i];
		int r;

		q->vq = loopback_virtio_get_queue(vdev, i);
		if (!loopback_virtqueue_is_ready(q->vq))
			continue;	/* the driver uses fewer queues */
		r = io_uring_queue_init(2 * b->queue_size + 4, &q->ring, 0);
		if (r < 0) {
			g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
				    "blk: io_uring: %s", g_strerror(-r));
			/* the layer calls stop only after a start that worked */
			lb_blk_stop_queues(b, vdev);
			return false;
		}
		q->thread = g_thread_new("blk-queue", lb_blk_thread, q);
	}
	return true;
}

/* Runs before a reset: every request in flight completes first. */
static void lb_blk_stop_queues(void *opaque, LoopbackVirtio *vdev)
{
	LbBlk *b = opaque;

	for (unsigned int i = 0; i < b->num_queues; i++) {
		LbBlkQueue *q = &b->queues[i];

		if (!q->thread)
			continue;
		event_notifier_set(&q->stop);
		g_thread_join(q->thread);
		q->thread = NULL;
		event_notifier_test_and_clear(&q->stop);
		io_uring_queue_exit(&q->ring);
	}
}

/* ---- config space ---- */

static void lb_put32(uint8_t *c, unsigned int off, uint32_t v)
{
	v = GUINT32_TO_LE(v);
	memcpy(c + off, &v, 4);
}

static void lb_blk_config_read(void *opaque, unsigned int off, void *buf,
			       unsigned int len)
{
	LbBlk *b = opaque;
	uint8_t c[60] = { 0 };
	uint64_t cap = GUINT64_TO_LE(__atomic_load_n(&b->capacity,
						     __ATOMIC_ACQUIRE));
	uint16_t nq = GUINT16_TO_LE(b->num_queues);
	memcpy(c, &cap, 8);
	lb_put32(c, 8, b->size_max);
	lb_put32(c, 12, b->seg_max);
	lb_put32(c, 20, b->blk_size);
	memcpy(c + 34, &nq, 2);
	lb_put32(c, 36, MAX_DWZ_SECTORS);
	lb_put32(c, 40, 1);
	lb_put32(c, 44, b->blk_size / SECTOR);
	lb_put32(c, 48, MAX_DWZ_SECTORS);
	lb_put32(c, 52, 1);
	c[56] = 1;	/* write_zeroes_may_unmap */
	memcpy(buf, c + off, len);	/* the layer keeps it inside */
}

/* ---- the image ---- */

static bool lb_blk_size(LbBlk *b, uint64_t *sectors, GError **error)
{
	struct stat st;
	uint64_t bytes;

	if (fstat(b->fd, &st) < 0)
		goto fail;
	b->blockdev = S_ISBLK(st.st_mode);
	bytes = st.st_size;
	if (b->blockdev && ioctl(b->fd, BLKGETSIZE64, &bytes) < 0)
		goto fail;
	*sectors = bytes / SECTOR;
	return true;
fail:
	g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
		    "blk: file=%s: %s", b->file, g_strerror(errno));
	return false;
}

static bool lb_blk_open(LbBlk *b, GError **error)
{
	int flags = (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    (b->direct ? O_DIRECT : 0);
	int ssz = 0;

	b->fd = open(b->file, flags);
	if (b->fd < 0) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
			    "blk: file=%s: %s", b->file, g_strerror(errno));
		return false;
	}
	if (!lb_blk_size(b, &b->capacity, error))
		return false;
	b->blk_size = 512;
	if (b->blockdev && ioctl(b->fd, BLKSSZGET, &ssz) == 0 && ssz > 512)
		b->blk_size = ssz;
	return true;
}

static const char lb_blk_keys[] = "file, readonly, num-queues, queue-size, "
				  "serial, cache, discard";

static bool lb_blk_option(LbBlk *b, const LbDeviceOption *o, GError **error)
{
	static const char *const cache[] = { "writeback", "none", NULL };
	unsigned int v;

	if (!strcmp(o->key, "file"))
		return lb_opt_string("blk", o, &b->file, error);
	if (!strcmp(o->key, "serial")) {
		if (o->value && strlen(o->value) > ID_BYTES) {
			g_set_error(error, LB_DEVICE_ERROR,
				    LB_DEVICE_ERROR_OPTION, "blk: serial=%s: "
				    "longer than 20 bytes", o->value);
			return false;
		}
		return lb_opt_string("blk", o, &b->serial, error);
	}
	if (!strcmp(o->key, "readonly"))
		return lb_opt_bool("blk", o, &b->readonly, error);
	if (!strcmp(o->key, "discard"))
		return lb_opt_bool("blk", o, &b->discard, error);
	if (!strcmp(o->key, "num-queues"))
		return lb_opt_uint("blk", o, 1, LOOPBACK_VIRTIO_MAX_QUEUES,
				   &b->num_queues, error);
	if (!strcmp(o->key, "cache")) {
		if (!lb_opt_choice("blk", o, cache, &v, error))
			return false;
		b->direct = v;
		return true;
	}
	if (!strcmp(o->key, "queue-size")) {
		if (!lb_opt_uint("blk", o, 4, LOOPBACK_VIRTIO_MAX_QUEUE_SIZE,
				 &b->queue_size, error))
			return false;
		if (b->queue_size & (b->queue_size - 1)) {
			g_set_error(error, LB_DEVICE_ERROR,
				    LB_DEVICE_ERROR_OPTION, "blk: queue-size="
				    "%s: not a power of two", o->value);
			return false;
		}
		return true;
	}
	lb_opt_unknown("blk", o, lb_blk_keys, error);
	return false;
}

static void lb_blk_free(LbAdapterDevice *dev)
{
	LbBlk *b = (LbBlk *)dev;

	if (!b)
		return;
	for (unsigned int i = 0; b->queues && i < b->num_queues; i++)
		event_notifier_cleanup(&b->queues[i].stop);
	if (b->fd >= 0)
		close(b->fd);
	g_free(b->queues);
	g_free(b->file);
	g_free(b->serial);
	g_free(b);
}

static uint64_t lb_blk_window(LbBlk *b)
{
	return lb_device_window_size(b->num_queues, b->queue_size,
				     b->seg_max, b->size_max);
}

static void lb_blk_init_class(LbBlk *b)
{
	uint64_t f = 1ULL << BLK_F_SIZE_MAX | 1ULL << BLK_F_SEG_MAX |
		     1ULL << BLK_F_BLK_SIZE | 1ULL << BLK_F_FLUSH |
		     1ULL << LOOPBACK_VIRTIO_F_EVENT_IDX |
		     1ULL << LOOPBACK_VIRTIO_F_INDIRECT_DESC;

	if (b->num_queues > 1)
		f |= 1ULL << BLK_F_MQ;
	if (b->readonly)
		f |= 1ULL << BLK_F_RO;
	else
		f |= 1ULL << BLK_F_WRITE_ZEROES |
		     (b->discard ? 1ULL << BLK_F_DISCARD : 0);
	b->base.klass = (LoopbackVirtioDeviceClass) {
		.name = "blk",
		.device_id = 2,
		.vendor_id = 0x4c42,	/* "LB" */
		.features = f,
		.num_queues = b->num_queues,
		.queue_size_max = b->queue_size,
		.config_size = 60,
		.config_read = lb_blk_config_read,
		.start = lb_blk_start_queues,
		.stop = lb_blk_stop_queues,
	};
	/*
	 * virtio_blk sizes its indirect tables from seg_max: with the header
	 * and the status a request must fit in the queue (QEMU's
	 * seg-max-adjust).  Then the largest segment whose maximal request
	 * fits a 1 GiB window, the kernel's largest.
	 */
	b->seg_max = MIN(b->queue_size - 2, 254);
	b->size_max = 128 * 1024;
	while (b->size_max > 4096 && lb_blk_window(b) > (1ULL << 30))
		b->size_max /= 2;
}

static LbAdapterDevice *lb_blk_create(const LbDeviceOption *opts, size_t n,
				      GError **error)
{
	LbBlk *b = g_new0(LbBlk, 1);

	b->base.ops = &lb_blk_ops;
	b->fd = -1;
	b->num_queues = 1;
	b->queue_size = 256;
	b->serial = g_strdup("");
	for (size_t i = 0; i < n; i++)
		if (!lb_blk_option(b, &opts[i], error))
			goto fail;
	if (!b->file) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    "blk: file: missing (file=PATH is required)");
		goto fail;
	}
	if (!lb_blk_open(b, error))
		goto fail;
	b->queues = g_new0(LbBlkQueue, b->num_queues);
	for (unsigned int i = 0; i < b->num_queues; i++) {
		b->queues[i].blk = b;
		event_notifier_init(&b->queues[i].stop, 0);
	}
	lb_blk_init_class(b);
	return &b->base;
fail:
	lb_blk_free(&b->base);
	return NULL;
}

static uint64_t lb_blk_window_size(LbAdapterDevice *dev)
{
	return lb_blk_window((LbBlk *)dev);
}

static bool lb_blk_start(LbAdapterDevice *dev, LoopbackVirtio *vdev,
			 GMainContext *ctx, GError **error)
{
	dev->vdev = vdev;	/* queues are served by threads, not @ctx */
	return true;
}

static void lb_blk_stop(LbAdapterDevice *dev)
{
	lb_blk_stop_queues(dev, dev->vdev);
	dev->vdev = NULL;
}

static bool lb_blk_reload(LbAdapterDevice *dev, GError **error)
{
	LbBlk *b = (LbBlk *)dev;
	uint64_t sectors;

	if (!lb_blk_size(b, &sectors, error))
		return false;
	if (__atomic_exchange_n(&b->capacity, sectors, __ATOMIC_ACQ_REL) !=
	    sectors && dev->vdev)
		loopback_virtio_config_changed(dev->vdev);
	return true;
}

const LbAdapterDeviceOps lb_blk_ops = {
	.name = "blk",
	.usage = "file=PATH[,readonly=on|off][,num-queues=N][,queue-size=N]"
		 "[,serial=STR][,cache=none|writeback][,discard=on|off]",
	.create = lb_blk_create,
	.window_size = lb_blk_window_size,
	.start = lb_blk_start,
	.stop = lb_blk_stop,
	.reload = lb_blk_reload,
	.free = lb_blk_free,
};
