/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* loopback-adapter's rng device (virtio 1.2, 5.4) with no kernel. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "../tools/loopback-adapter/devices.h"
#include "virtio-driver.h"

#define TRANSPORT ((1ULL << LOOPBACK_VIRTIO_F_VERSION_1) | \
		   (1ULL << LOOPBACK_VIRTIO_F_ACCESS_PLATFORM))

typedef struct Fix {
	Vdrv *d;
	LbAdapterDevice *dev;
} Fix;

static Fix fix_new(const LbDeviceOption *opts, size_t n)
{
	g_autoptr(GError) error = NULL;
	LoopbackVirtio *vdev;
	Fix f;

	f.dev = lb_rng_ops.create(opts, n, &error);
	g_assert_no_error(error);
	f.d = vdrv_new(lb_rng_ops.window_size(f.dev));
	vdev = loopback_virtio_new(&f.dev->klass, f.dev, f.d->w->as, &error);
	g_assert_no_error(error);
	g_assert_true(lb_rng_ops.start(f.dev, vdev, g_main_context_default(),
				       &error));
	vdrv_attach(f.d, vdev);
	g_assert_cmpuint(vdrv_read(f.d, LOOPBACK_VIRTIO_MMIO_DEVICE_ID), ==, 4);
	vdrv_bring_up(f.d, TRANSPORT, 1, 8);
	return f;
}

static void fix_free(Fix f)
{
	lb_rng_ops.stop(f.dev);
	vdrv_free(f.d);
	lb_rng_ops.free(f.dev);
}

/* Asks for @len bytes; returns the used length and the buffer. */
static uint32_t ask(Fix *f, uint32_t len, uint8_t **data)
{
	VdrvBuf b = { vdrv_alloc(f->d, len, 8), len, true };
	unsigned int head = vdrv_chain(f->d, 0, &b, 1);
	uint32_t id, used;

	vdrv_publish(f->d, 0, head);
	vdrv_kick(f->d, 0);
	vdrv_iterate();
	g_assert_true(vdrv_get_used(f->d, 0, &id, &used));
	g_assert_cmpuint(id, ==, head);
	*data = vdrv_ptr(f->d, b.addr);
	return used;
}

static void test_getrandom_fills_the_buffer(void)
{
	LbDeviceOption o = { "source", "getrandom" };
	Fix f = fix_new(&o, 1);
	uint8_t *p, zero[64] = { 0 };

	g_assert_cmpuint(ask(&f, 64, &p), ==, 64);
	g_assert_true(memcmp(p, zero, 64) != 0);
	g_assert_cmpuint(vdrv_irqs(f.d, 0), ==, 1);
	fix_free(f);
}

static void test_file_source_and_reload(void)
{
	g_autofree char *dir = g_dir_make_tmp("lb-rng-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "entropy", NULL);
	g_autoptr(GError) error = NULL;
	LbDeviceOption o;
	uint8_t *p;
	Fix f;

	g_assert_true(g_file_set_contents(path, "0123456789", 10, NULL));
	o = (LbDeviceOption) { "file", path };
	f = fix_new(&o, 1);
	g_assert_cmpuint(ask(&f, 4, &p), ==, 4);
	g_assert_cmpmem(p, 4, "0123", 4);
	/* the file starts over at its end: every buffer comes back full */
	g_assert_cmpuint(ask(&f, 16, &p), ==, 16);
	g_assert_cmpmem(p, 16, "4567890123456789", 16);
	/* SIGHUP opens it again */
	g_assert_true(lb_rng_ops.reload(f.dev, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ask(&f, 2, &p), ==, 2);
	g_assert_cmpmem(p, 2, "01", 2);
	fix_free(f);
	unlink(path);
	rmdir(dir);
}

static void expect_error(const char *key, const char *value, const char *part)
{
	LbDeviceOption o = { key, value };
	g_autoptr(GError) error = NULL;

	g_assert_null(lb_rng_ops.create(&o, 1, &error));
	g_assert_error(error, LB_DEVICE_ERROR, error->code);
	g_assert_nonnull(strstr(error->message, part));
	g_assert_null(strchr(error->message, '\n'));
}

static void test_bad_options_name_the_key(void)
{
	expect_error("source", "dice", "rng: source=dice: must be getrandom");
	expect_error("speed", "fast", "rng: unknown option 'speed'");
	expect_error("file", "/nonexistent/x", "rng: file=/nonexistent/x:");
	expect_error("file", NULL, "rng: file=: needs a value");
	g_assert_true(lb_device_find("rng") == &lb_rng_ops);
	g_assert_true(lb_device_find("blk") == &lb_blk_ops);
	g_assert_null(lb_device_find("net"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/adapter/rng/getrandom-fills-the-buffer",
			test_getrandom_fills_the_buffer);
	g_test_add_func("/adapter/rng/file-source-and-reload",
			test_file_source_and_reload);
	g_test_add_func("/adapter/rng/bad-options-name-the-key",
			test_bad_options_name_the_key);
	return g_test_run();
}
