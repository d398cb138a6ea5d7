/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-adapter's blk device (virtio 1.2, 5.2) with no kernel: a driver
 * played over a memfd window, an image in a temporary directory, the
 * device's io_uring queue threads.
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../tools/loopback-adapter/devices.h"
#include "virtio-driver.h"

#define F(b) (1ULL << (b))
#define TRANSPORT (F(LOOPBACK_VIRTIO_F_VERSION_1) | \
		   F(LOOPBACK_VIRTIO_F_ACCESS_PLATFORM))
#define INDIRECT F(LOOPBACK_VIRTIO_F_INDIRECT_DESC)
#define EVENT_IDX F(LOOPBACK_VIRTIO_F_EVENT_IDX)
#define IMAGE_SIZE (1024 * 1024)
#define QSIZE 16

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11,
       T_WRITE_ZEROES = 13 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

typedef struct Fix {
	char *dir;
	char *image;
	Vdrv *d;
	LbAdapterDevice *dev;
	uint64_t features;
} Fix;

static char *make_image(const char *dir, size_t size)
{
	char *path = g_build_filename(dir, "disk.img", NULL);
	g_autofree uint8_t *data = g_malloc(size);

	for (size_t i = 0; i < size; i++)
		data[i] = (i / 512) ^ i;
	g_assert_true(g_file_set_contents(path, (char *)data, size, NULL));
	return path;
}

/* The device from @opts (file= added), on a driver, not yet negotiated. */
static Fix fix_new(const char *opts_text)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) kv = g_strsplit(opts_text, ",", -1);
	LbDeviceOption opts[16];
	size_t n = 0;
	Fix f = { 0 };
	LoopbackVirtio *vdev;

	f.dir = g_dir_make_tmp("lb-blk-XXXXXX", NULL);
	g_assert_nonnull(f.dir);
	f.image = make_image(f.dir, IMAGE_SIZE);
	opts[n++] = (LbDeviceOption) { "file", f.image };
	for (size_t i = 0; kv[i] && *kv[i]; i++) {
		char *eq = strchr(kv[i], '=');

		*eq = 0;
		opts[n++] = (LbDeviceOption) { kv[i], eq + 1 };
	}
	f.dev = lb_blk_ops.create(opts, n, &error);
	g_assert_no_error(error);
	f.d = vdrv_new(lb_blk_ops.window_size(f.dev));
	vdev = loopback_virtio_new(&f.dev->klass, f.dev, f.d->w->as, &error);
	g_assert_no_error(error);
	g_assert_true(lb_blk_ops.start(f.dev, vdev, NULL, &error));
	vdrv_attach(f.d, vdev);
	return f;
}

static void fix_up(Fix *f, uint64_t features, unsigned int nq)
{
	f->features = TRANSPORT | features;
	vdrv_bring_up(f->d, f->features, nq, QSIZE);
}

static void fix_free(Fix f)
{
	lb_blk_ops.stop(f.dev);
	vdrv_free(f.d);
	lb_blk_ops.free(f.dev);
	unlink(f.image);
	rmdir(f.dir);
	g_free(f.image);
	g_free(f.dir);
}

typedef struct Req {
	unsigned int head;
	uint64_t data;		/* the device-writable data, if any */
	uint64_t status;
} Req;

/*
 * Publishes a request: header, @out (out_len bytes), @in_len writable
 * bytes, status.  Not kicked.
 */
static Req req(Fix *f, unsigned int q, uint32_t type, uint64_t sector,
	       const void *out, uint32_t out_len, uint32_t in_len,
	       bool indirect)
{
	Vdrv *d = f->d;
	VdrvBuf b[4];
	unsigned int n = 0;
	uint64_t hdr = vdrv_alloc(d, 16, 16);
	uint32_t t = GUINT32_TO_LE(type);
	uint64_t s = GUINT64_TO_LE(sector);
	Req r = { 0 };

	memcpy(vdrv_ptr(d, hdr), &t, 4);
	memcpy((uint8_t *)vdrv_ptr(d, hdr) + 8, &s, 8);
	b[n++] = (VdrvBuf) { hdr, 16, false };
	if (out_len) {
		uint64_t a = vdrv_alloc(d, out_len, 4096);

		memcpy(vdrv_ptr(d, a), out, out_len);
		b[n++] = (VdrvBuf) { a, out_len, false };
	}
	if (in_len) {
		r.data = vdrv_alloc(d, in_len, 4096);
		b[n++] = (VdrvBuf) { r.data, in_len, true };
	}
	r.status = vdrv_alloc(d, 1, 1);
	*(uint8_t *)vdrv_ptr(d, r.status) = 0xff;
	b[n++] = (VdrvBuf) { r.status, 1, true };
	r.head = indirect ? vdrv_chain_indirect(d, q, b, n) :
			    vdrv_chain(d, q, b, n);
	vdrv_publish(d, q, r.head);
	return r;
}

/* Kicks @q and waits for its used index to reach @idx. */
static void run(Fix *f, unsigned int q)
{
	Vdrv *d = f->d;

	/* interrupt me once all are done (Linux's delayed callback) */
	if (f->features & EVENT_IDX)
		vdrv_set_used_event(d, q, d->q[q].avail_idx - 1);
	vdrv_kick(d, q);
	vdrv_wait_used(d, q, d->q[q].avail_idx);
}

static uint8_t status_of(Fix *f, const Req *r, uint32_t *used_len)
{
	uint32_t id, len;

	g_assert_true(vdrv_get_used(f->d, 0, &id, &len));
	g_assert_cmpuint(id, ==, r->head);
	if (used_len)
		*used_len = len;
	return *(uint8_t *)vdrv_ptr(f->d, r->status);
}

/* One request on queue 0, run to completion: its status. */
static uint8_t do_req(Fix *f, uint32_t type, uint64_t sector,
		      const void *out, uint32_t out_len, uint32_t in_len,
		      Req *r_out)
{
	Req r = req(f, 0, type, sector, out, out_len, in_len, false);

	run(f, 0);
	if (r_out)
		*r_out = r;
	return status_of(f, &r, NULL);
}

static uint32_t cfg32(Fix *f, unsigned int off)
{
	return vdrv_read(f->d, LOOPBACK_VIRTIO_CONFIG_OFFSET + off);
}

static uint64_t capacity(Fix *f)
{
	return cfg32(f, 0) | (uint64_t)cfg32(f, 4) << 32;
}

static uint64_t device_features(Vdrv *d)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < 2; i++) {
		vdrv_write(d, LOOPBACK_VIRTIO_MMIO_DEVICE_FEATURES_SEL, i);
		v |= (uint64_t)vdrv_read(d, LOOPBACK_VIRTIO_MMIO_DEVICE_FEATURES)
		     << (32 * i);
	}
	return v;
}

static void test_features_and_config(void)
{
	Fix f = fix_new("queue-size=16,num-queues=2,discard=on");
	uint64_t feat = device_features(f.d);

	g_assert_cmphex(feat & 0xffffff, ==,
			F(1) | F(2) | F(6) | F(9) | F(12) | F(13) | F(14));
	g_assert_true(feat & EVENT_IDX);
	g_assert_true(feat & INDIRECT);
	g_assert_cmpuint(vdrv_read(f.d, LOOPBACK_VIRTIO_MMIO_DEVICE_ID), ==, 2);
	g_assert_cmpuint(capacity(&f), ==, IMAGE_SIZE / 512);
	g_assert_cmpuint(cfg32(&f, 8), ==, 128 * 1024);	/* size_max */
	g_assert_cmpuint(cfg32(&f, 12), ==, QSIZE - 2);	/* seg_max */
	g_assert_cmpuint(cfg32(&f, 20), ==, 512);	/* blk_size */
	g_assert_cmpuint(cfg32(&f, 32) >> 16, ==, 2);	/* num_queues */
	g_assert_cmpuint(cfg32(&f, 40), ==, 1);		/* max_discard_seg */
	g_assert_cmpuint(cfg32(&f, 52), ==, 1);		/* max_write_zeroes_seg */
	fix_free(f);
}

static void test_window_fits_a_maximal_request(void)
{
	Fix f = fix_new("queue-size=256");
	uint64_t w = lb_blk_ops.window_size(f.dev);
	/* 254 segments of 128 KiB, each maybe one page more, and the rings */
	uint64_t need = 254ULL * (128 * 1024 + 4096) + 3 * 4096;

	g_assert_cmpuint(w, >=, need);
	g_assert_cmpuint(w % 0x10000, ==, 0);
	fix_free(f);
	/* the largest queues still get a window the kernel accepts */
	f = fix_new("queue-size=32768,num-queues=64");
	w = lb_blk_ops.window_size(f.dev);
	g_assert_cmpuint(w, <=, 1ULL << 30);
	g_assert_cmpuint(cfg32(&f, 12), ==, 254);
	g_assert_cmpuint(w, >=, 64ULL * 254 * (cfg32(&f, 8) + 4096));
	fix_free(f);
}

static void test_write_then_read_back(void)
{
	Fix f = fix_new("queue-size=16");
	uint8_t data[2048];
	uint32_t used;
	Req r;

	fix_up(&f, INDIRECT, 1);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = i * 7;
	g_assert_cmpuint(do_req(&f, T_OUT, 8, data, sizeof(data), 0, NULL),
			 ==, S_OK);
	r = req(&f, 0, T_IN, 8, NULL, 0, sizeof(data), true);
	run(&f, 0);
	g_assert_cmpuint(status_of(&f, &r, &used), ==, S_OK);
	g_assert_cmpuint(used, ==, sizeof(data) + 1);
	g_assert_cmpmem(vdrv_ptr(f.d, r.data), sizeof(data), data,
			sizeof(data));
	g_assert_cmpuint(do_req(&f, T_FLUSH, 0, NULL, 0, 0, NULL), ==, S_OK);
	fix_free(f);
}

static void test_get_id_returns_serial(void)
{
	Fix f = fix_new("serial=lb-disk-0001");
	Req r;

	fix_up(&f, 0, 1);
	g_assert_cmpuint(do_req(&f, T_GET_ID, 0, NULL, 0, 20, &r), ==, S_OK);
	g_assert_cmpmem(vdrv_ptr(f.d, r.data), 13, "lb-disk-0001", 13);
	fix_free(f);
}

static void dwz_seg(uint8_t *seg, uint64_t sector, uint32_t n, uint32_t fl)
{
	sector = GUINT64_TO_LE(sector);
	n = GUINT32_TO_LE(n);
	fl = GUINT32_TO_LE(fl);
	memcpy(seg, &sector, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(seg + 12, &fl, 4);
}

static void expect_zero_sectors(Fix *f, uint64_t sector, unsigned int n)
{
	g_autofree uint8_t *zero = g_malloc0(n * 512);
	Req r;

	g_assert_cmpuint(do_req(f, T_IN, sector, NULL, 0, n * 512, &r), ==,
			 S_OK);
	g_assert_cmpmem(vdrv_ptr(f->d, r.data), n * 512, zero, n * 512);
}

static void test_discard_and_write_zeroes_read_back_zero(void)
{
	Fix f = fix_new("discard=on");
	uint8_t seg[16];

	fix_up(&f, F(13) | F(14), 1);
	dwz_seg(seg, 16, 8, 0);
	g_assert_cmpuint(do_req(&f, T_DISCARD, 0, seg, 16, 0, NULL), ==, S_OK);
	expect_zero_sectors(&f, 16, 8);
	dwz_seg(seg, 40, 3, 0);
	g_assert_cmpuint(do_req(&f, T_WRITE_ZEROES, 0, seg, 16, 0, NULL), ==,
			 S_OK);
	expect_zero_sectors(&f, 40, 3);
	dwz_seg(seg, 60, 2, 1);		/* unmap allowed */
	g_assert_cmpuint(do_req(&f, T_WRITE_ZEROES, 0, seg, 16, 0, NULL), ==,
			 S_OK);
	expect_zero_sectors(&f, 60, 2);
	/* discard has no flags; a range past the end fails */
	dwz_seg(seg, 0, 1, 1);
	g_assert_cmpuint(do_req(&f, T_DISCARD, 0, seg, 16, 0, NULL), ==,
			 S_UNSUPP);
	dwz_seg(seg, IMAGE_SIZE / 512 - 1, 2, 0);
	g_assert_cmpuint(do_req(&f, T_WRITE_ZEROES, 0, seg, 16, 0, NULL), ==,
			 S_IOERR);
	fix_free(f);
}

static void test_discard_off_is_unsupported(void)
{
	Fix f = fix_new("discard=off");
	uint8_t seg[16];

	g_assert_cmphex(device_features(f.d) & F(13), ==, 0);
	fix_up(&f, 0, 1);
	dwz_seg(seg, 0, 1, 0);
	g_assert_cmpuint(do_req(&f, T_DISCARD, 0, seg, 16, 0, NULL), ==,
			 S_UNSUPP);
	fix_free(f);
}

static void test_readonly_offers_ro_and_fails_writes(void)
{
	Fix f = fix_new("readonly=on,discard=on");
	uint8_t data[512] = { 1 }, seg[16];
	uint64_t feat = device_features(f.d);

	g_assert_true(feat & F(5));
	g_assert_false(feat & (F(13) | F(14)));
	fix_up(&f, F(5), 1);
	g_assert_cmpuint(do_req(&f, T_OUT, 0, data, 512, 0, NULL), ==,
			 S_IOERR);
	dwz_seg(seg, 0, 1, 0);
	g_assert_cmpuint(do_req(&f, T_WRITE_ZEROES, 0, seg, 16, 0, NULL), ==,
			 S_IOERR);
	g_assert_cmpuint(do_req(&f, T_IN, 0, NULL, 0, 512, NULL), ==, S_OK);
	g_assert_cmpuint(do_req(&f, T_FLUSH, 0, NULL, 0, 0, NULL), ==, S_OK);
	fix_free(f);
}

static void test_bad_requests_fail_cleanly(void)
{
	Fix f = fix_new("");
	uint8_t data[512] = { 0 };

	fix_up(&f, 0, 1);
	g_assert_cmpuint(do_req(&f, T_IN, IMAGE_SIZE / 512, NULL, 0, 512,
				NULL), ==, S_IOERR);
	g_assert_cmpuint(do_req(&f, T_IN, UINT64_MAX, NULL, 0, 512, NULL), ==,
			 S_IOERR);
	g_assert_cmpuint(do_req(&f, T_OUT, 0, data, 100, 0, NULL), ==,
			 S_IOERR);
	g_assert_cmpuint(do_req(&f, 99, 0, NULL, 0, 0, NULL), ==, S_UNSUPP);
	fix_free(f);
}

static void test_request_without_header_needs_reset(void)
{
	Fix f = fix_new("");
	VdrvBuf b = { vdrv_alloc(f.d, 1, 1), 1, true };

	fix_up(&f, 0, 1);
	vdrv_publish(f.d, 0, vdrv_chain(f.d, 0, &b, 1));
	vdrv_kick(f.d, 0);
	/* the config interrupt comes from the queue thread */
	g_mutex_lock(&f.d->lock);
	while (!f.d->config_irqs)
		g_cond_wait(&f.d->cond, &f.d->lock);
	g_mutex_unlock(&f.d->lock);
	g_assert_true(vdrv_read(f.d, LOOPBACK_VIRTIO_MMIO_STATUS) &
		      LOOPBACK_VIRTIO_S_NEEDS_RESET);
	vdrv_assert_log(f.d, "without header or status byte");
	fix_free(f);
}

static void test_many_requests_on_two_queues(void)
{
	Fix f = fix_new("num-queues=2,queue-size=16");
	Req r[2][8];

	fix_up(&f, EVENT_IDX | INDIRECT, 2);
	for (unsigned int round = 0; round < 4; round++) {
		for (unsigned int q = 0; q < 2; q++) {
			/* 4 direct chains of 3 and 4 indirect ones: 16 */
			for (unsigned int i = 0; i < 8; i++) {
				uint8_t data[1024];
				uint64_t sector = (q * 8 + i) * 2;

				memset(data, round * 16 + q * 8 + i, 1024);
				r[q][i] = round % 2 ?
					req(&f, q, T_IN, sector, NULL, 0, 1024,
					    i % 2) :
					req(&f, q, T_OUT, sector, data, 1024, 0,
					    i % 2);
			}
			vdrv_set_used_event(f.d, q, f.d->q[q].avail_idx - 1);
			vdrv_kick(f.d, q);
		}
		for (unsigned int q = 0; q < 2; q++) {
			vdrv_wait_used(f.d, q, f.d->q[q].avail_idx);
			/* any order: each head once */
			for (unsigned int i = 0; i < 8; i++) {
				uint32_t id, len;

				g_assert_true(vdrv_get_used(f.d, q, &id, &len));
				g_assert_cmpuint(id, <, QSIZE);
			}
			for (unsigned int i = 0; i < 8; i++) {
				uint8_t want = (round - round % 2) * 16 +
					       q * 8 + i;
				Req *x = &r[q][i];

				g_assert_cmpuint(*(uint8_t *)vdrv_ptr(
					f.d, x->status), ==, S_OK);
				if (round % 2)
					g_assert_cmpuint(*(uint8_t *)vdrv_ptr(
						f.d, x->data + 1023), ==, want);
			}
		}
		f.d->brk = f.d->q[1].used - VDRV_WINDOW + 6 + 8 * QSIZE;
	}
	fix_free(f);
}

static void test_reload_updates_capacity(void)
{
	Fix f = fix_new("");
	g_autoptr(GError) error = NULL;
	int fd;

	fix_up(&f, 0, 1);
	g_assert_true(lb_blk_ops.reload(f.dev, &error));
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 0);
	fd = open(f.image, O_WRONLY);
	g_assert_cmpint(ftruncate(fd, 2 * IMAGE_SIZE), ==, 0);
	close(fd);
	g_assert_true(lb_blk_ops.reload(f.dev, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(capacity(&f), ==, 2 * IMAGE_SIZE / 512);
	g_assert_cmpuint(vdrv_irqs(f.d, LOOPBACK_VIRTIO_CONFIG_IRQ), ==, 1);
	g_assert_cmpuint(do_req(&f, T_IN, IMAGE_SIZE / 512, NULL, 0, 512,
				NULL), ==, S_OK);
	fix_free(f);
}

static void test_cache_none_round_trip(void)
{
	g_autofree char *dir = g_dir_make_tmp("lb-blk-XXXXXX", NULL);
	g_autofree char *img = make_image(dir, IMAGE_SIZE);
	int fd = open(img, O_RDWR | O_DIRECT);
	uint8_t data[4096];
	Fix f;
	Req r;

	unlink(img);
	rmdir(dir);
	if (fd < 0) {
		g_test_skip("O_DIRECT is not supported on the temporary "
			    "directory");
		return;
	}
	close(fd);
	f = fix_new("cache=none");
	fix_up(&f, 0, 1);
	memset(data, 0x3c, sizeof(data));
	g_assert_cmpuint(do_req(&f, T_OUT, 64, data, 4096, 0, NULL), ==, S_OK);
	g_assert_cmpuint(do_req(&f, T_IN, 64, NULL, 0, 4096, &r), ==, S_OK);
	g_assert_cmpmem(vdrv_ptr(f.d, r.data), 4096, data, 4096);
	fix_free(f);
}

static void expect_option_error(const char *type_opts, const char *part)
{
	g_auto(GStrv) kv = g_strsplit(type_opts, ",", -1);
	g_autoptr(GError) error = NULL;
	LbDeviceOption opts[8];
	size_t n = 0;

	for (size_t i = 0; kv[i]; i++) {
		char *eq = strchr(kv[i], '=');

		if (eq)
			*eq = 0;
		opts[n++] = (LbDeviceOption) { kv[i], eq ? eq + 1 : NULL };
	}
	g_assert_null(lb_blk_ops.create(opts, n, &error));
	g_assert_error(error, LB_DEVICE_ERROR, error->code);
	g_assert_nonnull(strstr(error->message, part));
	g_assert_null(strchr(error->message, '\n'));
}

static void test_bad_options_name_the_key(void)
{
	expect_option_error("file=/dev/null,colour=blue",
			    "unknown option 'colour'");
	expect_option_error("file=/dev/null,readonly=maybe",
			    "readonly=maybe: must be off or on");
	expect_option_error("file=/dev/null,cache=lots",
			    "cache=lots: must be writeback or none");
	expect_option_error("file=/dev/null,queue-size=100",
			    "queue-size=100: not a power of two");
	expect_option_error("file=/dev/null,queue-size=2",
			    "queue-size=2: not a number from 4");
	expect_option_error("file=/dev/null,num-queues=0", "num-queues=0");
	expect_option_error("file=/dev/null,num-queues=x", "num-queues=x");
	expect_option_error("file=/dev/null,serial=123456789012345678901",
			    "serial=123456789012345678901: longer than 20");
	expect_option_error("readonly=on", "blk: file: missing");
	expect_option_error("file=/nonexistent/disk.img",
			    "file=/nonexistent/disk.img: No such file");
	expect_option_error("file", "file=: needs a value");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/adapter/blk/features-and-config",
			test_features_and_config);
	g_test_add_func("/adapter/blk/window-fits-a-maximal-request",
			test_window_fits_a_maximal_request);
	g_test_add_func("/adapter/blk/write-then-read-back",
			test_write_then_read_back);
	g_test_add_func("/adapter/blk/get-id-returns-serial",
			test_get_id_returns_serial);
	g_test_add_func("/adapter/blk/discard-and-write-zeroes-read-back-zero",
			test_discard_and_write_zeroes_read_back_zero);
	g_test_add_func("/adapter/blk/discard-off-is-unsupported",
			test_discard_off_is_unsupported);
	g_test_add_func("/adapter/blk/readonly-offers-ro-and-fails-writes",
			test_readonly_offers_ro_and_fails_writes);
	g_test_add_func("/adapter/blk/bad-requests-fail-cleanly",
			test_bad_requests_fail_cleanly);
	g_test_add_func("/adapter/blk/request-without-header-needs-reset",
			test_request_without_header_needs_reset);
	g_test_add_func("/adapter/blk/many-requests-on-two-queues",
			test_many_requests_on_two_queues);
	g_test_add_func("/adapter/blk/reload-updates-capacity",
			test_reload_updates_capacity);
	g_test_add_func("/adapter/blk/cache-none-round-trip",
			test_cache_none_round_trip);
	g_test_add_func("/adapter/blk/bad-options-name-the-key",
			test_bad_options_name_the_key);
	return g_test_run();
}
