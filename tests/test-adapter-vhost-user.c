// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The adapter's vhost-user device types without a kernel: their options
 * (vhost-user-blk, vhost-user-fs, the generic vhost-user), and the generic
 * type's connect against qemu-storage-daemon (skipped, naming the
 * package, when it is not installed).
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "../tools/loopback-adapter/vhost-user-dev.h"
#include "vhost-user-harness.h"

/* "a=1,b=2" as options (at most 8); the strings live in @kv */
static size_t split(const char *text, GStrv *kv, LbDeviceOption *opts)
{
	size_t n = 0;

	*kv = g_strsplit(text, ",", -1);
	for (size_t i = 0; (*kv)[i] && n < 8; i++) {
		char *eq = strchr((*kv)[i], '=');

		if (eq)
			*eq = 0;
		opts[n++] = (LbDeviceOption) { (*kv)[i], eq ? eq + 1 : NULL };
	}
	return n;
}

static LbAdapterDevice *create(const char *type, const char *text,
			       GError **error)
{
	const LbAdapterDeviceOps *ops = lb_device_find(type);
	g_auto(GStrv) kv = NULL;
	LbDeviceOption opts[8];
	size_t n = split(text, &kv, opts);

	g_assert_nonnull(ops);
	return ops->create(opts, n, error);
}

/* @text is refused with one line that holds @part */
static void expect_error(const char *type, const char *text, const char *part)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(create(type, text, &error));
	g_assert_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION);
	if (!strstr(error->message, part))
		g_error("%s,%s: '%s' lacks '%s'", type, text, error->message,
			part);
	g_assert_null(strchr(error->message, '\n'));
}

static LbVuDev *expect_ok(const char *type, const char *text)
{
	g_autoptr(GError) error = NULL;
	LbAdapterDevice *d = create(type, text, &error);

	g_assert_no_error(error);
	g_assert_nonnull(d);
	return (LbVuDev *)d;
}

static void test_blk_options(void)
{
	LbVuDev *d = expect_ok("vhost-user-blk", "socket=/s,num-queues=4");

	g_assert_cmpstr(d->socket, ==, "/s");
	g_assert_cmpuint(d->want_queues, ==, 4);
	lb_vu_dev_free(&d->base);
	expect_error("vhost-user-blk", "num-queues=2",
		     "vhost-user-blk: socket: missing (socket=PATH");
	expect_error("vhost-user-blk", "socket=/s,num-queues=65",
		     "vhost-user-blk: num-queues=65: not a number from 1 "
		     "to 64");
	expect_error("vhost-user-blk", "socket=/s,tag=x",
		     "vhost-user-blk: unknown option 'tag'");
	expect_error("vhost-user-blk", "socket", "socket=: needs a value");
}

static void test_fs_options(void)
{
	LbVuDev *d = expect_ok("vhost-user-fs", "socket=/s,tag=share");

	g_assert_cmpuint(d->cls->device_id, ==, 26);
	g_assert_cmpuint(d->config_size, ==, 40);
	g_assert_cmpuint(d->want_queues, ==, 0);
	lb_vu_dev_free(&d->base);
	/* 36 bytes is the whole field */
	d = expect_ok("vhost-user-fs",
		      "tag=abcdefghijklmnopqrstuvwxyz0123456789,socket=/s,"
		      "num-queues=2");
	lb_vu_dev_free(&d->base);
	expect_error("vhost-user-fs", "socket=/s",
		     "vhost-user-fs: tag: missing (tag=NAME is required)");
	expect_error("vhost-user-fs", "tag=x",
		     "vhost-user-fs: socket: missing");
	expect_error("vhost-user-fs",
		     "socket=/s,tag=abcdefghijklmnopqrstuvwxyz0123456789X",
		     "tag=abcdefghijklmnopqrstuvwxyz0123456789X: longer than "
		     "36 bytes");
	expect_error("vhost-user-fs", "socket=/s,tag=", "tag=: empty");
	expect_error("vhost-user-fs", "socket=/s,tag=\xff\xfe",
		     "not UTF-8");
	expect_error("vhost-user-fs", "socket=/s,tag=t,num-queues=0",
		     "num-queues=0: not a number from 1 to 64");
	expect_error("vhost-user-fs", "socket=/s,tag=t,cache=none",
		     "vhost-user-fs: unknown option 'cache' (known: socket, "
		     "tag, num-queues)");
}

static void test_generic_options(void)
{
	LbVuDev *d = expect_ok("vhost-user", "socket=/s,device-id=2,"
			       "num-queues=3,config-size=60");

	g_assert_cmpuint(d->cls->device_id, ==, 2);
	g_assert_cmpuint(d->want_queues, ==, 3);
	g_assert_cmpuint(d->config_size, ==, 60);
	g_assert_true(d->drain);
	/* blk's device bits, not net's or unknown ones */
	g_assert_cmpuint(d->allowlist & LB_VU_F(BLK_F_SEG_MAX), !=, 0);
	g_assert_cmpuint(d->allowlist & LB_VU_F(17), ==, 0);
	lb_vu_dev_free(&d->base);

	d = expect_ok("vhost-user", "socket=/s,device-id=1,num-queues=2,"
		      "config-size=0");
	/* no control queue, nor what needs it (MQ, CTRL_RX, ...) */
	for (unsigned int bit = 17; bit <= 23; bit++)
		g_assert_cmpuint(d->allowlist & LB_VU_F(bit), ==, 0);
	g_assert_cmpuint(d->allowlist & LB_VU_F(62), ==, 0);	/* STANDBY */
	g_assert_cmpuint(d->allowlist & LB_VU_F(5), !=, 0);	/* MAC */
	g_assert_false(d->drain);	/* receive buffers wait for packets */
	lb_vu_dev_free(&d->base);

	/* a class beyond the kernel's defaults: its device bits only */
	d = expect_ok("vhost-user", "socket=/s,device-id=26,num-queues=2,"
		      "config-size=40");
	g_assert_cmpuint(d->allowlist & LB_VU_F(0), !=, 0);
	g_assert_cmpuint(d->allowlist & LB_VU_F(LOOPBACK_VHOST_F_LOG_ALL), ==,
			 0);
	g_assert_cmpuint(d->allowlist &
			 LB_VU_F(LOOPBACK_VIRTIO_F_ACCESS_PLATFORM), ==, 0);
	lb_vu_dev_free(&d->base);

	expect_error("vhost-user", "device-id=2,num-queues=1,config-size=60",
		     "vhost-user: socket: missing (socket=PATH is required)");
	expect_error("vhost-user", "socket=/s,num-queues=1,config-size=60",
		     "vhost-user: device-id: missing (device-id=N is "
		     "required)");
	expect_error("vhost-user", "socket=/s,device-id=2,config-size=60",
		     "vhost-user: num-queues: missing (num-queues=N is "
		     "required)");
	expect_error("vhost-user", "socket=/s,device-id=2,num-queues=1",
		     "vhost-user: config-size: missing (config-size=BYTES is "
		     "required)");
	expect_error("vhost-user", "socket=/s,device-id=0,num-queues=1,"
		     "config-size=0", "device-id=0: not a number from 1 to "
		     "65535");
	expect_error("vhost-user", "socket=/s,device-id=0x1a,num-queues=1,"
		     "config-size=0", "device-id=0x1a: not a number");
	expect_error("vhost-user", "socket=/s,device-id=2,num-queues=1,"
		     "config-size=3841", "config-size=3841: not a number from "
		     "0 to 3840");
	expect_error("vhost-user", "socket=/s,device-id=2,num-queues=65,"
		     "config-size=60", "num-queues=65: not a number");
	expect_error("vhost-user", "socket=/s,device-id=1,num-queues=3,"
		     "config-size=0", "num-queues=3: virtio-net without a "
		     "control queue has 2 queues");
	expect_error("vhost-user", "socket=/s,device-id=4,num-queues=2,"
		     "config-size=0", "num-queues=2: virtio-rng has 1 queue");
	expect_error("vhost-user", "socket=/s,device-id=2,num-queues=1,"
		     "config-size=60,tag=x", "vhost-user: unknown option 'tag' "
		     "(known: socket, device-id, num-queues, config-size, "
		     "reconnect)");
}

/* qemu-storage-daemon exporting a 1 MiB image with @queues queues */
static bool qsd_start(VutProcess *p, unsigned int queues, char **sock)
{
	g_autofree char *qsd = vut_find_program("qemu-storage-daemon");
	g_autofree char *img = NULL;
	g_autofree char *dev = NULL;
	g_autofree char *exp = NULL;
	g_autofree char *why = NULL;
	char *argv[6];

	if (!qsd) {
		g_test_skip("no qemu-storage-daemon: install "
			    "qemu-system-common");
		return false;
	}
	p->dir = vut_tmpdir();
	p->stdin_fd = -1;
	img = g_build_filename(p->dir, "d.img", NULL);
	*sock = g_build_filename(p->dir, "vub.sock", NULL);
	g_assert_true(g_file_set_contents(img, "", 0, NULL));
	g_assert_cmpint(truncate(img, 1 << 20), ==, 0);
	dev = g_strdup_printf("driver=file,node-name=f0,filename=%s", img);
	exp = g_strdup_printf("type=vhost-user-blk,id=e0,node-name=f0,"
			      "addr.type=unix,addr.path=%s,writable=on,"
			      "num-queues=%u", *sock, queues);
	argv[0] = qsd;
	argv[1] = "--blockdev";
	argv[2] = dev;
	argv[3] = "--export";
	argv[4] = exp;
	argv[5] = NULL;
	if (!vut_process_start(p, argv, *sock, 10000, &why))
		g_error("qemu-storage-daemon: %s", why);
	return true;
}

static void qsd_clean(VutProcess *p)
{
	g_autoptr(GDir) dir = g_dir_open(p->dir, 0, NULL);
	const char *e;

	while (dir && (e = g_dir_read_name(dir))) {
		g_autofree char *path = g_build_filename(p->dir, e, NULL);

		unlink(path);
	}
	rmdir(p->dir);
	g_free(p->dir);
	g_free(p->log);
}

/* The generic type takes blk's config and features from the backend. */
static void test_generic_connect_qsd(void)
{
	VutProcess p = { 0 };
	g_autofree char *sock = NULL;
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	uint64_t features, capacity, allowed;
	LbVuDev *d;

	if (!qsd_start(&p, 2, &sock))
		return;
	text = g_strdup_printf("socket=%s,device-id=2,num-queues=1,"
			       "config-size=60", sock);
	d = expect_ok("vhost-user", text);
	g_assert_true(d->base.ops->connect(&d->base, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(d->base.klass.device_id, ==, 2);
	g_assert_cmpuint(d->base.klass.num_queues, ==, 1);
	g_assert_cmpuint(d->base.klass.config_size, ==, 60);
	memcpy(&capacity, d->config, 8);
	g_assert_cmpuint(GUINT64_FROM_LE(capacity), ==, 2048);
	/* the export's 2 queues are overridden with ours */
	g_assert_cmpuint(d->config[BLK_CONFIG_NUM_QUEUES], ==, 1);
	features = d->base.klass.features;
	g_assert_cmpuint(features & LB_VU_F(LOOPBACK_VIRTIO_F_VERSION_1), !=,
			 0);
	g_assert_cmpuint(features & LB_VU_F(BLK_F_FLUSH), !=, 0);
	/* the vhost-user bits are hidden; nothing outside the allowlist */
	g_assert_cmpuint(features & LB_VU_F(LOOPBACK_VHOST_F_LOG_ALL), ==, 0);
	g_assert_cmpuint(features &
			 LB_VU_F(LOOPBACK_VHOST_USER_F_PROTOCOL_FEATURES), ==,
			 0);
	allowed = d->allowlist | LB_VU_TRANSPORT_FEATURES |
		  LB_VU_F(LOOPBACK_VIRTIO_F_ACCESS_PLATFORM);
	g_assert_cmpuint(features & ~allowed, ==, 0);
	g_assert_cmpuint(d->base.ops->window_size(&d->base), >=, 0x10000);
	lb_vu_dev_free(&d->base);

	/* more queues than the export has */
	g_free(text);
	text = g_strdup_printf("socket=%s,device-id=2,num-queues=3,"
			       "config-size=60", sock);
	d = expect_ok("vhost-user", text);
	g_assert_false(d->base.ops->connect(&d->base, &error));
	g_assert_nonnull(strstr(error->message,
				"num-queues=3: the backend at"));
	g_assert_nonnull(strstr(error->message, "has only 2"));
	lb_vu_dev_free(&d->base);
	vut_process_stop(&p);
	qsd_clean(&p);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/adapter/vhost-user/blk-options", test_blk_options);
	g_test_add_func("/adapter/vhost-user/fs-options", test_fs_options);
	g_test_add_func("/adapter/vhost-user/generic-options",
			test_generic_options);
	g_test_add_func("/adapter/vhost-user/generic-connect-qsd",
			test_generic_connect_qsd);
	return g_test_run();
}
