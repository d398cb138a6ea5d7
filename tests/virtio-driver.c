/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tests' virtio driver: see virtio-driver.h. */
#include "config.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virtio-driver.h"

#define A_ MEMTXATTRS_UNSPECIFIED
#define S_(x) LOOPBACK_VIRTIO_S_##x
#define R_(x) LOOPBACK_VIRTIO_MMIO_##x

static void vdrv_log(const gchar *domain, GLogLevelFlags level,
		     const gchar *message, gpointer data)
{
	Vdrv *d = data;

	if (g_test_verbose())
		g_printerr("# log: %s\n", message);
	g_mutex_lock(&d->lock);
	g_ptr_array_add(d->log, g_strdup(message));
	g_mutex_unlock(&d->lock);
}

static guint vdrv_log_id;

Vdrv *vdrv_new(uint64_t window_size)
{
	g_autoptr(GError) error = NULL;
	Vdrv *d = g_new0(Vdrv, 1);
	int fd = memfd_create("vdrv-window", MFD_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, window_size), ==, 0);
	d->w = lbt_world_new(UINT64_MAX);
	d->window = lbt_region_alloc();
	g_assert_true(memory_region_init_ram_from_fd(d->window, NULL, "window",
						     window_size, RAM_SHARED,
						     fd, 0, &error));
	g_assert_no_error(error);
	close(fd);	/* the mapping stays */
	lbt_world_keep(d->w, d->window);
	memory_region_add_subregion(d->w->root, VDRV_WINDOW, d->window);
	d->win = memory_region_get_ram_ptr(d->window);
	d->window_size = window_size;
	g_mutex_init(&d->lock);
	g_cond_init(&d->cond);
	d->log = g_ptr_array_new_with_free_func(g_free);
	/* the layer's warnings are expected here: record, do not abort */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	vdrv_log_id = g_log_set_handler("loopback-virtio",
					G_LOG_LEVEL_WARNING |
					G_LOG_LEVEL_MESSAGE, vdrv_log, d);
	return d;
}

static void vdrv_irq(LoopbackVirtio *vdev, int queue, void *data)
{
	Vdrv *d = data;

	g_mutex_lock(&d->lock);
	if (queue == LOOPBACK_VIRTIO_CONFIG_IRQ) {
		d->config_irqs++;
	} else {
		d->irqs[queue]++;
		/* read here, on the device's thread, right after its write */
		d->seen_used[queue] = vdrv_used_idx(d, queue);
	}
	g_cond_broadcast(&d->cond);
	g_mutex_unlock(&d->lock);
}

void vdrv_attach(Vdrv *d, LoopbackVirtio *vdev)
{
	d->vdev = vdev;
	loopback_virtio_set_irq_func(vdev, vdrv_irq, d);
	memory_region_add_subregion(d->w->root, VDRV_REGS,
				    loopback_virtio_get_region(vdev));
}

void vdrv_free(Vdrv *d)
{
	if (d->vdev) {
		memory_region_del_subregion(d->w->root,
					    loopback_virtio_get_region(d->vdev));
		loopback_virtio_free(d->vdev);
	}
	lbt_world_free(d->w);
	g_log_remove_handler("loopback-virtio", vdrv_log_id);
	g_ptr_array_unref(d->log);
	g_mutex_clear(&d->lock);
	g_cond_clear(&d->cond);
	g_free(d);
}

uint32_t vdrv_read(Vdrv *d, hwaddr reg)
{
	MemTxResult r = ~0u;
	uint32_t v = address_space_ldl_le(d->w->as, VDRV_REGS + reg, A_, &r);

	g_assert_cmpuint(r, ==, MEMTX_OK);
	return v;
}

void vdrv_write(Vdrv *d, hwaddr reg, uint32_t v)
{
	MemTxResult r = ~0u;

	address_space_stl_le(d->w->as, VDRV_REGS + reg, v, A_, &r);
	g_assert_cmpuint(r, ==, MEMTX_OK);
}

bool vdrv_negotiate(Vdrv *d, uint64_t features)
{
	vdrv_write(d, R_(STATUS), 0);
	vdrv_write(d, R_(STATUS), S_(ACKNOWLEDGE));
	vdrv_write(d, R_(STATUS), S_(ACKNOWLEDGE) | S_(DRIVER));
	for (unsigned int i = 0; i < 2; i++) {
		vdrv_write(d, R_(DRIVER_FEATURES_SEL), i);
		vdrv_write(d, R_(DRIVER_FEATURES), features >> (32 * i));
	}
	vdrv_write(d, R_(STATUS),
		   S_(ACKNOWLEDGE) | S_(DRIVER) | S_(FEATURES_OK));
	return vdrv_read(d, R_(STATUS)) & S_(FEATURES_OK);
}

uint64_t vdrv_alloc(Vdrv *d, uint64_t len, uint64_t align)
{
	uint64_t off = (d->brk + align - 1) & ~(align - 1);

	g_assert_cmpuint(off + len, <=, d->window_size);
	d->brk = off + len;
	memset(d->win + off, 0, len);
	return VDRV_WINDOW + off;
}

void *vdrv_ptr(Vdrv *d, uint64_t gpa)
{
	g_assert_cmpuint(gpa, >=, VDRV_WINDOW);
	g_assert_cmpuint(gpa - VDRV_WINDOW, <, d->window_size);
	return d->win + (gpa - VDRV_WINDOW);
}

static void vdrv_write64(Vdrv *d, hwaddr lo, uint64_t v)
{
	vdrv_write(d, lo, (uint32_t)v);
	vdrv_write(d, lo + 4, v >> 32);
}

bool vdrv_setup_queue(Vdrv *d, unsigned int qi, unsigned int num)
{
	VdrvQueue *q = &d->q[qi];

	memset(q, 0, sizeof(*q));
	q->num = num;
	q->desc = vdrv_alloc(d, 16 * num, 16);
	q->avail = vdrv_alloc(d, 6 + 2 * num, 2);
	q->used = vdrv_alloc(d, 6 + 8 * num, 4);
	vdrv_write(d, R_(QUEUE_SEL), qi);
	vdrv_write(d, R_(QUEUE_NUM), num);
	vdrv_write64(d, R_(QUEUE_DESC_LOW), q->desc);
	vdrv_write64(d, R_(QUEUE_AVAIL_LOW), q->avail);
	vdrv_write64(d, R_(QUEUE_USED_LOW), q->used);
	vdrv_write(d, R_(QUEUE_READY), 1);
	return vdrv_read(d, R_(QUEUE_READY)) == 1;
}

void vdrv_driver_ok(Vdrv *d)
{
	vdrv_write(d, R_(STATUS), vdrv_read(d, R_(STATUS)) | S_(DRIVER_OK));
}

void vdrv_bring_up(Vdrv *d, uint64_t features, unsigned int nq,
		   unsigned int num)
{
	g_assert_true(vdrv_negotiate(d, features));
	for (unsigned int i = 0; i < nq; i++)
		g_assert_true(vdrv_setup_queue(d, i, num));
	vdrv_driver_ok(d);
	g_assert_cmphex(vdrv_read(d, R_(STATUS)) & S_(DRIVER_OK), ==,
			S_(DRIVER_OK));
}

static void vdrv_put16(void *p, uint16_t v)
{
	v = GUINT16_TO_LE(v);
	memcpy(p, &v, 2);
}

static uint16_t vdrv_get16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return GUINT16_FROM_LE(v);
}

void vdrv_encode_desc(uint8_t *p, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	uint64_t a = GUINT64_TO_LE(addr);
	uint32_t l = GUINT32_TO_LE(len);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	vdrv_put16(p + 12, flags);
	vdrv_put16(p + 14, next);
}

void vdrv_set_desc(Vdrv *d, unsigned int q, uint64_t table, unsigned int i,
		   uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vdrv_encode_desc(vdrv_ptr(d, (table ? table : d->q[q].desc) + 16 * i),
			 addr, len, flags, next);
}

static uint16_t vdrv_flags(const VdrvBuf *b, bool more)
{
	return (b->write ? LOOPBACK_VRING_DESC_F_WRITE : 0) |
	       (more ? LOOPBACK_VRING_DESC_F_NEXT : 0);
}

unsigned int vdrv_chain(Vdrv *d, unsigned int qi, const VdrvBuf *b,
			unsigned int n)
{
	VdrvQueue *q = &d->q[qi];
	unsigned int head = q->next_desc % q->num;

	for (unsigned int i = 0; i < n; i++) {
		unsigned int at = (head + i) % q->num;

		vdrv_set_desc(d, qi, 0, at, b[i].addr, b[i].len,
			      vdrv_flags(&b[i], i + 1 < n), (at + 1) % q->num);
	}
	q->next_desc += n;
	return head;
}

unsigned int vdrv_chain_indirect(Vdrv *d, unsigned int qi, const VdrvBuf *b,
				 unsigned int n)
{
	VdrvQueue *q = &d->q[qi];
	uint64_t table = vdrv_alloc(d, 16 * n, 16);
	unsigned int head = q->next_desc++ % q->num;

	for (unsigned int i = 0; i < n; i++)
		vdrv_set_desc(d, qi, table, i, b[i].addr, b[i].len,
			      vdrv_flags(&b[i], i + 1 < n), i + 1);
	vdrv_set_desc(d, qi, 0, head, table, 16 * n,
		      LOOPBACK_VRING_DESC_F_INDIRECT, 0);
	return head;
}

void vdrv_publish(Vdrv *d, unsigned int qi, unsigned int head)
{
	VdrvQueue *q = &d->q[qi];
	uint8_t *avail = vdrv_ptr(d, q->avail);

	vdrv_put16(avail + 4 + 2 * (q->avail_idx % q->num), head);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->avail_idx++;
	vdrv_put16(avail + 2, q->avail_idx);
}

void vdrv_set_avail_idx(Vdrv *d, unsigned int qi, uint16_t v)
{
	d->q[qi].avail_idx = v;
	vdrv_put16((uint8_t *)vdrv_ptr(d, d->q[qi].avail) + 2, v);
}

void vdrv_kick(Vdrv *d, unsigned int q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vdrv_write(d, R_(QUEUE_NOTIFY), q);
}

uint16_t vdrv_used_idx(Vdrv *d, unsigned int q)
{
	return vdrv_get16((uint8_t *)vdrv_ptr(d, d->q[q].used) + 2);
}

bool vdrv_get_used(Vdrv *d, unsigned int qi, uint32_t *id, uint32_t *len)
{
	VdrvQueue *q = &d->q[qi];
	uint8_t *used = vdrv_ptr(d, q->used);
	uint8_t *e;
	uint32_t v;

	if (vdrv_used_idx(d, qi) == q->last_used)
		return false;
	e = used + 4 + 8 * (q->last_used % q->num);
	memcpy(&v, e, 4);
	*id = GUINT32_FROM_LE(v);
	memcpy(&v, e + 4, 4);
	*len = GUINT32_FROM_LE(v);
	q->last_used++;
	return true;
}

void vdrv_wait_used(Vdrv *d, unsigned int q, uint16_t idx)
{
	gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;

	g_mutex_lock(&d->lock);
	while (d->seen_used[q] != idx)
		if (!g_cond_wait_until(&d->cond, &d->lock, end))
			break;
	g_assert_cmpuint(d->seen_used[q], ==, idx);
	g_mutex_unlock(&d->lock);
}

unsigned int vdrv_irqs(Vdrv *d, int q)
{
	unsigned int n;

	g_mutex_lock(&d->lock);
	n = q == LOOPBACK_VIRTIO_CONFIG_IRQ ? d->config_irqs : d->irqs[q];
	g_mutex_unlock(&d->lock);
	return n;
}

void vdrv_set_used_event(Vdrv *d, unsigned int q, uint16_t v)
{
	uint8_t *avail = vdrv_ptr(d, d->q[q].avail);

	vdrv_put16(avail + 4 + 2 * d->q[q].num, v);
}

void vdrv_set_avail_flags(Vdrv *d, unsigned int q, uint16_t v)
{
	vdrv_put16(vdrv_ptr(d, d->q[q].avail), v);
}

uint16_t vdrv_avail_event(Vdrv *d, unsigned int q)
{
	uint8_t *used = vdrv_ptr(d, d->q[q].used);

	return vdrv_get16(used + 4 + 8 * d->q[q].num);
}

uint16_t vdrv_used_flags(Vdrv *d, unsigned int q)
{
	return vdrv_get16(vdrv_ptr(d, d->q[q].used));
}

void vdrv_assert_log(Vdrv *d, const char *part)
{
	g_mutex_lock(&d->lock);
	if (d->log->len != 1 ||
	    !strstr(g_ptr_array_index(d->log, 0), part)) {
		for (guint i = 0; i < d->log->len; i++)
			g_printerr("# log line: %s\n",
				   (char *)g_ptr_array_index(d->log, i));
		g_error("expected one log line with \"%s\", got %u lines",
			part, d->log->len);
	}
	g_ptr_array_set_size(d->log, 0);
	g_mutex_unlock(&d->lock);
}

static void echo_one(VdrvEcho *e, LoopbackVirtqueue *vq,
		     LoopbackVirtqueueElement *elem)
{
	g_autofree uint8_t *buf = g_malloc(elem->out_len + 1);
	size_t n = loopback_virtio_iov_to_buf(elem->out_sg, elem->out_num, 0,
					      buf, elem->out_len);

	n = loopback_virtio_iov_from_buf(elem->in_sg, elem->in_num, 0, buf, n);
	loopback_virtqueue_push(vq, elem, n);
}

void vdrv_echo_handle(void *opaque, LoopbackVirtqueue *vq)
{
	VdrvEcho *e = opaque;
	LoopbackVirtqueueElement *elem;
	unsigned int pushed = 0;

	__atomic_fetch_add(&e->handled, 1, __ATOMIC_RELAXED);
	do {
		loopback_virtqueue_set_notification(vq, false);
		while ((elem = loopback_virtqueue_pop(vq))) {
			if (e->hold) {
				g_ptr_array_add(e->held, elem);
				continue;
			}
			echo_one(e, vq, elem);
			pushed++;
		}
		loopback_virtqueue_set_notification(vq, true);
	} while (!loopback_virtqueue_empty(vq));
	if (pushed)
		loopback_virtqueue_notify(vq);
}

static void echo_config_read(void *opaque, unsigned int off, void *buf,
			     unsigned int len)
{
	VdrvEcho *e = opaque;

	memcpy(buf, e->config + off, len);
}

static void echo_config_write(void *opaque, unsigned int off,
			      const void *buf, unsigned int len)
{
	VdrvEcho *e = opaque;

	memcpy(e->config + off, buf, len);
}

static bool echo_set_features(void *opaque, uint64_t f)
{
	VdrvEcho *e = opaque;

	e->features = f;
	return true;
}

static bool echo_start(void *opaque, LoopbackVirtio *vdev, GError **error)
{
	VdrvEcho *e = opaque;

	e->starts++;
	if (e->fail_start) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "told to fail");
		return false;
	}
	return true;
}

static void echo_stop(void *opaque, LoopbackVirtio *vdev)
{
	VdrvEcho *e = opaque;

	e->stops++;
	/* held elements go back unreturned, as a device's reset does */
	while (e->held->len) {
		LoopbackVirtqueueElement *el = g_ptr_array_steal_index(e->held, 0);

		loopback_virtqueue_element_free(
			loopback_virtio_get_queue(vdev, 0), el);
	}
}

static void echo_reset(void *opaque)
{
	VdrvEcho *e = opaque;

	e->resets++;
}

VdrvEcho *vdrv_echo_new(Vdrv *d, uint64_t device_features)
{
	VdrvEcho *e = g_new0(VdrvEcho, 1);
	g_autoptr(GError) error = NULL;

	e->klass = (LoopbackVirtioDeviceClass) {
		.name = "echo",
		.device_id = 0x4c42,
		.vendor_id = 0x1af4,
		.features = device_features,
		.num_queues = 2,
		.queue_size_max = 16,
		.config_size = sizeof(e->config),
		.config_read = echo_config_read,
		.config_write = echo_config_write,
		.set_features = echo_set_features,
		.handle_queue = vdrv_echo_handle,
		.start = echo_start,
		.stop = echo_stop,
		.reset = echo_reset,
	};
	memcpy(e->config, "echo-cfg", 8);
	e->held = g_ptr_array_new();
	e->vdev = loopback_virtio_new(&e->klass, e, d->w->as, &error);
	g_assert_no_error(error);
	loopback_virtio_attach_context(e->vdev, NULL);
	loopback_virtio_attach_context(e->vdev, g_main_context_default());
	vdrv_attach(d, e->vdev);
	return e;
}

void vdrv_echo_free(VdrvEcho *e)
{
	g_assert_cmpuint(e->held->len, ==, 0);
	g_ptr_array_unref(e->held);
	g_free(e);
}

void vdrv_iterate(void)
{
	while (g_main_context_iteration(NULL, FALSE))
		;
}
