// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The vhost-user frontend against a real dpdk-testpmd (net_vhost, server
 * mode, macswap): STATUS and DRIVER_OK, and a frame sent on TX coming back
 * MAC-swapped on RX.  No kernel.
 */

#include "config.h"

#include "vhost-user-harness.h"

#include <string.h>
#include <unistd.h>

#define RING_NUM 256
#define TIMEOUT_MS 10000
#define NET_HDR 12		/* virtio_net_hdr with num_buffers (VERSION_1) */
#define FRAME 60
#define RX_BUF 2048
#define STATUS_DRIVER_OK_ALL 0x0f

static const uint8_t mac_a[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };
static const uint8_t mac_b[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x02 };

static void test_macswap(void)
{
	g_autofree char *testpmd = vut_find_program("dpdk-testpmd");
	g_autofree char *sock = NULL, *vdev = NULL, *why = NULL;
	VutProcess p = { .stdin_fd = -1 };
	VutWindow w;
	VutRing rx, tx;
	loopback_vhost_user *vu;
	loopback_vhost_user_vring cfg;
	GError *err = NULL;
	uint64_t frame, f, pf;
	uint8_t *out, *in;
	uint64_t rxbufs[16];
	uint16_t id, base;
	uint32_t len;

	if (!testpmd) {
		g_test_skip("dpdk-testpmd is not installed (Debian: dpdk-dev)");
		return;
	}
	p.dir = vut_tmpdir();
	sock = g_build_filename(p.dir, "vhn.sock", NULL);
	vdev = g_strdup_printf("net_vhost0,iface=%s,client=0,queues=1", sock);
	/*
	 * Two lcores on CPU 0: testpmd wants a forwarding lcore besides its
	 * main one (-l 0 alone is refused); that one busy-polls.  -m 256
	 * leaves room for 8192 mbufs, not for the default pool.
	 */
	char *argv[] = {
		testpmd, "--lcores", "0@0,1@0", "--no-huge", "-m", "256",
		"--no-shconf", "--no-pci", "--vdev", vdev, "--",
		"--forward-mode=macswap", "--port-topology=loop",
		"--total-num-mbufs=8192", "-a", NULL,
	};
	if (!vut_process_start(&p, argv, sock, TIMEOUT_MS, &why)) {
		g_autofree char *msg =
			g_strdup_printf("dpdk-testpmd cannot run here: %s",
					why);

		g_test_skip(msg);
		goto out;
	}

	vut_window_init(&w, 8 << 20, 0);
	vu = vut_connect(sock, TIMEOUT_MS);
	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	f = loopback_vhost_user_get_backend_features(vu);
	pf = loopback_vhost_user_get_backend_protocol_features(vu);
	g_test_message("dpdk-testpmd offers features 0x%" G_GINT64_MODIFIER "x, protocol features 0x%" G_GINT64_MODIFIER "x, GET_QUEUE_NUM %u",
		       f, pf, loopback_vhost_user_get_queue_num(vu));
	/* as measured on 22.11 (shared/reference/vhost-user-peers.md) */
	g_assert_cmphex(f & 0xd7c66e7cbULL, ==, 0xd7c66e7cbULL);
	g_assert_cmphex(pf & 0x10cbfULL, ==, 0x10cbfULL);
	g_assert_true(loopback_vhost_user_has_protocol_feature(
		vu, LOOPBACK_VHOST_USER_PROTOCOL_F_STATUS));
	g_assert_false(loopback_vhost_user_has_protocol_feature(
		vu, LOOPBACK_VHOST_USER_PROTOCOL_F_CONFIG));
	g_assert_cmpuint(loopback_vhost_user_get_max_mem_slots(vu), ==, 8);

	g_assert_true(loopback_vhost_user_set_features(
		vu, loopback_vhost_user_device_features(
			vu, 1ULL << LOOPBACK_VIRTIO_F_VERSION_1), &err));
	g_assert_no_error(err);
	g_assert_true(loopback_vhost_user_set_address_space(vu, w.as, &err));
	g_assert_no_error(err);

	/* queue 0 receives, queue 1 transmits */
	vut_ring_init(&rx, &w, RING_NUM);
	vut_ring_init(&tx, &w, RING_NUM);
	for (unsigned int i = 0; i < G_N_ELEMENTS(rxbufs); i++) {
		VutBuf b = { vut_alloc(&w, RX_BUF, 64), RX_BUF, true };

		rxbufs[i] = b.gpa;
		vut_ring_add(&rx, &b, 1);
	}
	cfg = vut_ring_config(&rx);
	cfg.base = 0;
	g_assert_true(loopback_vhost_user_vring_start(vu, 0, &cfg, &err));
	g_assert_no_error(err);
	cfg = vut_ring_config(&tx);
	g_assert_true(loopback_vhost_user_vring_start(vu, 1, &cfg, &err));
	g_assert_no_error(err);
	/* without DRIVER_OK DPDK moves nothing */
	g_assert_true(loopback_vhost_user_set_status(vu, STATUS_DRIVER_OK_ALL,
						     &err));
	g_assert_no_error(err);

	frame = vut_alloc(&w, NET_HDR + FRAME, 64);
	out = vut_host(&w, frame);
	memcpy(out + NET_HDR, mac_b, 6);	/* destination */
	memcpy(out + NET_HDR + 6, mac_a, 6);	/* source */
	out[NET_HDR + 12] = 0x88;		/* local experimental type */
	out[NET_HDR + 13] = 0xb5;
	for (unsigned int i = 14; i < FRAME; i++)
		out[NET_HDR + i] = (uint8_t)i;
	{
		VutBuf b = { frame, NET_HDR + FRAME, false };

		vut_ring_add(&tx, &b, 1);
	}
	vut_ring_kick(&tx);

	g_assert_true(vut_ring_get_used(&rx, TIMEOUT_MS, &id, &len));
	g_assert_cmpuint(id, <, G_N_ELEMENTS(rxbufs));
	g_assert_cmpuint(len, ==, NET_HDR + FRAME);
	in = vut_host(&w, rxbufs[id]);
	g_assert_cmpmem(in + NET_HDR, 6, mac_a, 6);
	g_assert_cmpmem(in + NET_HDR + 6, 6, mac_b, 6);
	g_assert_cmpmem(in + NET_HDR + 12, FRAME - 12, out + NET_HDR + 12,
			FRAME - 12);
	g_assert_true(vut_ring_get_used(&tx, TIMEOUT_MS, &id, &len));

	g_assert_true(loopback_vhost_user_vring_stop(vu, 1, &base, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(base, ==, 1);
	g_assert_true(loopback_vhost_user_vring_stop(vu, 0, &base, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(base, ==, vut_ring_used_idx(&rx));

	loopback_vhost_user_free(vu);
	vut_ring_destroy(&rx);
	vut_ring_destroy(&tx);
	vut_window_destroy(&w);
out:
	vut_process_stop(&p);
	unlink(sock);
	if (p.log)
		unlink(p.log);
	rmdir(p.dir);
	g_free(p.log);
	g_free(p.dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vhost-user/dpdk/macswap", test_macswap);
	return g_test_run();
}
