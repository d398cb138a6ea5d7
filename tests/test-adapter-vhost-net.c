// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The adapter's vhost-user-net type without a kernel: connected to a real
 * dpdk-testpmd (net_vhost, server mode), the device it would create: its
 * class, its config space (the MAC, stable per socket; link up; mtu=)
 * and the features the driver would be offered.  Skipped, naming the
 * package, when dpdk-testpmd is not installed.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "../tools/loopback-adapter/vhost-user-dev.h"
#include "vhost-user-harness.h"

#define F LB_VU_F
#define TIMEOUT_MS 10000

static LbVuDev *create(const char *socket, const char *mac, const char *mtu)
{
	const LbAdapterDeviceOps *ops = lb_device_find("vhost-user-net");
	LbDeviceOption opts[3] = { { "socket", socket } };
	g_autoptr(GError) error = NULL;
	size_t n = 1;
	LbAdapterDevice *d;

	if (mac)
		opts[n++] = (LbDeviceOption) { "mac", mac };
	if (mtu)
		opts[n++] = (LbDeviceOption) { "mtu", mtu };
	g_assert_nonnull(ops);
	d = ops->create(opts, n, &error);
	g_assert_no_error(error);
	g_assert_nonnull(d);
	return (LbVuDev *)d;
}

static LbVuDev *connected(const char *socket, const char *mac,
			  const char *mtu)
{
	LbVuDev *d = create(socket, mac, mtu);
	g_autoptr(GError) error = NULL;

	g_assert_true(d->base.ops->connect(&d->base, &error));
	g_assert_no_error(error);
	return d;
}

static uint16_t config16(const LbVuDev *d, unsigned int off)
{
	uint16_t x;

	memcpy(&x, d->config + off, 2);
	return GUINT16_FROM_LE(x);
}

static void test_class(void)
{
	LbVuDev *d = create("/s", NULL, NULL);

	g_assert_cmpuint(d->cls->device_id, ==, 1);
	g_assert_cmpuint(d->config_size, ==, 12);
	g_assert_false(d->drain);	/* receive buffers wait for traffic */
	g_assert_cmphex(d->allowlist, ==, F(0) | F(1) | F(15));
	g_assert_cmphex(d->own_features, ==, F(5) | F(16));
	lb_vu_dev_free(&d->base);
}

/* testpmd with two vhost ports, listening on @sock and @sock2 */
static bool testpmd_start(VutProcess *p, char **sock, char **sock2)
{
	g_autofree char *testpmd = vut_find_program("dpdk-testpmd");
	g_autofree char *vdev = NULL;
	g_autofree char *vdev2 = NULL;
	g_autofree char *why = NULL;

	if (!testpmd) {
		g_test_skip("dpdk-testpmd is not installed (Debian: dpdk-dev)");
		return false;
	}
	p->dir = vut_tmpdir();
	p->stdin_fd = -1;
	*sock = g_build_filename(p->dir, "vn0.sock", NULL);
	*sock2 = g_build_filename(p->dir, "vn1.sock", NULL);
	vdev = g_strdup_printf("net_vhost0,iface=%s,client=0,queues=1", *sock);
	vdev2 = g_strdup_printf("net_vhost1,iface=%s,client=0,queues=1",
				*sock2);
	/* as in test-vhost-user-dpdk.c: two lcores on CPU 0 */
	char *argv[] = {
		testpmd, "--lcores", "0@0,1@0", "--no-huge", "-m", "256",
		"--no-shconf", "--no-pci", "--vdev", vdev, "--vdev", vdev2,
		"--", "--forward-mode=io", "--total-num-mbufs=8192", NULL,
	};
	/* the ports start in order: the second socket comes last */
	if (!vut_process_start(p, argv, *sock2, TIMEOUT_MS, &why) ||
	    !g_file_test(*sock, G_FILE_TEST_EXISTS)) {
		g_autofree char *msg =
			g_strdup_printf("dpdk-testpmd cannot run here: %s",
					why);

		g_test_skip(msg);
		return false;
	}
	return true;
}

static void testpmd_clean(VutProcess *p, const char *sock, const char *sock2)
{
	vut_process_stop(p);
	if (sock)
		unlink(sock);
	if (sock2)
		unlink(sock2);
	if (p->log)
		unlink(p->log);
	if (p->dir)
		rmdir(p->dir);
	g_free(p->log);
	g_free(p->dir);
}

static void test_connect_dpdk(void)
{
	VutProcess p = { .stdin_fd = -1 };
	g_autofree char *sock = NULL;
	g_autofree char *sock2 = NULL;
	uint8_t mac[6];
	uint64_t f, w1500;
	LbVuDev *d;

	if (!testpmd_start(&p, &sock, &sock2))
		goto out;

	d = connected(sock, NULL, NULL);
	g_assert_cmpuint(d->base.klass.device_id, ==, 1);
	g_assert_cmpuint(d->base.klass.num_queues, ==, 2);
	g_assert_cmpuint(d->base.klass.config_size, ==, 12);
	/* a locally administered unicast address; link up; no mtu */
	memcpy(mac, d->config, 6);
	g_assert_cmpuint(mac[0] & 3, ==, 2);
	g_assert_cmpuint(config16(d, 6), ==, 1);
	g_assert_cmpuint(config16(d, 8), ==, 0);
	g_assert_cmpuint(config16(d, 10), ==, 0);
	f = d->base.klass.features;
	/* what testpmd 22.11 offers of the allowlist, and ours */
	for (unsigned int bit = 0; bit < 64; bit++) {
		static const unsigned int want[] = {
			0, 1, 5, 15, 16, 28, 29, 32, 33,
		};
		bool wanted = false;

		for (unsigned int i = 0; i < G_N_ELEMENTS(want); i++)
			wanted |= want[i] == bit;
		if (wanted != !!(f & F(bit)))
			g_error("feature bit %u: %s", bit,
				wanted ? "missing" : "offered");
	}
	w1500 = d->base.ops->window_size(&d->base);
	lb_vu_dev_free(&d->base);

	/* the same socket, the same address */
	d = connected(sock, NULL, NULL);
	g_assert_cmpmem(d->config, 6, mac, 6);
	lb_vu_dev_free(&d->base);
	/* another socket, another address */
	d = connected(sock2, NULL, NULL);
	g_assert_cmpuint(d->config[0] & 3, ==, 2);
	g_assert_true(memcmp(d->config, mac, 6) != 0);
	lb_vu_dev_free(&d->base);

	d = connected(sock, "02:4c:42:00:00:07", "9000");
	g_assert_cmpmem(d->config, 6, "\x02\x4c\x42\x00\x00\x07", 6);
	g_assert_cmpuint(config16(d, 10), ==, 9000);
	g_assert_cmphex(d->base.klass.features & F(3), ==, F(3));
	g_assert_cmpuint(d->base.ops->window_size(&d->base), >, w1500);
	lb_vu_dev_free(&d->base);
out:
	testpmd_clean(&p, sock, sock2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/adapter/vhost-user-net/class", test_class);
	g_test_add_func("/adapter/vhost-user-net/connect-dpdk",
			test_connect_dpdk);
	return g_test_run();
}
