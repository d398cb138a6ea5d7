// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vhost-user-net: the network interface of an unmodified vhost-user
 * backend (dpdk-testpmd's net_vhost port, ...), a class of the vhost-user
 * device core (vhost-user-dev.c).  The adapter builds the config space
 * itself (MAC, link up, MTU): backends such as DPDK offer no
 * PROTOCOL_F_CONFIG.  One queue pair, no control queue: loopback.ko
 * refuses CTRL_VQ and every feature that needs it (Documentation/uapi.md).
 */
#include "config.h"

#include <string.h>

#include "vhost-user-dev.h"

#define NAME "vhost-user-net"
#define F LB_VU_F

/* virtio-net feature bits (virtio 1.2, 5.1.3) */
#define NET_F_CSUM 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MTU 3
#define NET_F_MAC 5
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16

/* virtio_net_config up to mtu; max_virtqueue_pairs stays 0 (no MQ) */
#define NET_CONFIG_MAC 0
#define NET_CONFIG_STATUS 6
#define NET_CONFIG_MTU 10
#define NET_CONFIG_SIZE 12
#define NET_S_LINK_UP 1

/*
 * What the driver may see of the backend's device features.  Not the
 * GSO bits (GUEST_TSO*, HOST_TSO*, *_ECN, *_UFO): a GSO frame crosses a
 * forwarding backend intact only if the backend's application segments or
 * re-offloads it, which dpdk-testpmd's io forwarding does not (its vhost
 * port disables HOST_TSO unless tso=1), so they were not verified end to
 * end.  MTU only with mtu= (vun_config).
 */
#define VUN_ALLOWLIST \
	(F(NET_F_CSUM) | F(NET_F_GUEST_CSUM) | F(NET_F_MRG_RXBUF))
/* The config space is the adapter's: offered whatever the backend says. */
#define VUN_OWN (F(NET_F_MAC) | F(NET_F_STATUS))

/*
 * Window pages per ring entry (the window is vmalloc'ed memory: sized for
 * the MTU, 1500 without mtu=).  A receive buffer: a mergeable one is at
 * most a page, perhaps straddling two; without MRG_RXBUF and above 1500,
 * one MTU of whole pages and its header.  A transmitted frame (no GSO, so
 * at most one MTU of data): its header, an indirect table, and its data
 * in a few pieces, each perhaps straddling one more page.
 */
#define VUN_PAGES(mtu) (((mtu) + 4095) / 4096)
#define VUN_RX_PAGES(mtu) (2 + VUN_PAGES(mtu))
#define VUN_TX_PAGES(mtu) (6 + 2 * VUN_PAGES(mtu))
#define VUN_DEFAULT_MTU 1500
#define VUN_WINDOW_MAX (1ULL << 30)	/* the kernel's largest */

typedef struct LbVun {
	uint8_t mac[6];
	bool mac_given;
	unsigned int mtu;		/* 0: not given, no F_MTU */
} LbVun;

/* rx and tx: one queue pair whatever the backend takes (no MQ) */
static bool vun_queues(LbVuDev *d, unsigned int backend_queues,
		       GError **error)
{
	if (backend_queues == 1) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
			    NAME ": the backend at %s has 1 queue: a queue "
			    "pair needs 2", d->socket);
		return false;
	}
	d->num_queues = 2;
	return true;
}

/* A locally administered unicast address, the same for the same socket. */
static void vun_default_mac(const char *socket, uint8_t mac[6])
{
	g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
	uint8_t digest[32];
	gsize len = sizeof(digest);

	g_checksum_update(c, (const guchar *)socket, -1);
	g_checksum_get_digest(c, digest, &len);
	memcpy(mac, digest, 6);
	mac[0] = (mac[0] & 0xfc) | 0x02;
}

static bool vun_config(LbVuDev *d, GError **error)
{
	LbVun *v = d->priv;
	uint64_t backend = loopback_vhost_user_get_backend_features(d->vu);

	if (!v->mac_given)
		vun_default_mac(d->socket, v->mac);
	memcpy(d->config + NET_CONFIG_MAC, v->mac, 6);
	lb_vu_dev_set16(d, NET_CONFIG_STATUS, NET_S_LINK_UP);
	if (v->mtu) {
		/* the driver then keeps to it; the backend must accept it */
		if (!(backend & F(NET_F_MTU))) {
			g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_IO,
				    NAME ": mtu=%u: the backend at %s does not "
				    "offer VIRTIO_NET_F_MTU", v->mtu,
				    d->socket);
			return false;
		}
		lb_vu_dev_set16(d, NET_CONFIG_MTU, v->mtu);
		d->allowlist |= F(NET_F_MTU);
	}
	return true;
}

static uint64_t vun_window(LbVuDev *d)
{
	LbVun *v = d->priv;
	unsigned int mtu = v->mtu ? v->mtu : VUN_DEFAULT_MTU;
	uint64_t rings = lb_device_window_size(d->num_queues, d->queue_size,
					       0, 0);
	uint64_t bufs = (uint64_t)d->queue_size *
			(VUN_RX_PAGES(mtu) + VUN_TX_PAGES(mtu)) * 4096;

	return MIN((rings + bufs + 0xffff) & ~0xffffULL, VUN_WINDOW_MAX);
}

static void vun_free(LbVuDev *d)
{
	g_free(d->priv);
}

static const LbVuClass vun_class = {
	.name = NAME,
	.device_id = 1,
	.queues = vun_queues,
	.config = vun_config,
	.window_size = vun_window,
	.free = vun_free,
};

static const char vun_keys[] = "socket, reconnect, mac, mtu";

static bool vun_opt_mac(const LbDeviceOption *o, uint8_t mac[6],
			GError **error)
{
	unsigned int b[6];
	char end;

	if (!o->value ||
	    sscanf(o->value, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
		   &b[3], &b[4], &b[5], &end) != 6 || strlen(o->value) != 17) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    NAME ": mac=%s: not of the form XX:XX:XX:XX:XX:XX",
			    o->value ? o->value : "");
		return false;
	}
	if (b[0] & 1) {
		g_set_error(error, LB_DEVICE_ERROR, LB_DEVICE_ERROR_OPTION,
			    NAME ": mac=%s: a multicast address", o->value);
		return false;
	}
	for (unsigned int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

/* One key: the class's own, then the core's; num-queues is not for net. */
static bool vun_option(LbVuDev *d, const LbDeviceOption *o, GError **error)
{
	LbVun *v = d->priv;
	bool handled = false;

	if (!strcmp(o->key, "mac")) {
		v->mac_given = true;
		return vun_opt_mac(o, v->mac, error);
	}
	if (!strcmp(o->key, "mtu"))
		return lb_opt_uint(NAME, o, 68, 65535, &v->mtu, error);
	if (strcmp(o->key, "num-queues") &&
	    !lb_vu_dev_option(d, o, &handled, error))
		return false;
	if (!handled)
		lb_opt_unknown(NAME, o, vun_keys, error);
	return handled;
}

static LbAdapterDevice *vun_create(const LbDeviceOption *opts, size_t n,
				   GError **error)
{
	LbVuDev *d = lb_vu_dev_new(&vun_class, &lb_vhost_user_net_ops);
	bool ok = true;

	d->priv = g_new0(LbVun, 1);
	d->allowlist = VUN_ALLOWLIST;
	d->own_features = VUN_OWN;
	d->config_size = NET_CONFIG_SIZE;
	d->drain = false;	/* receive buffers wait for traffic */
	for (size_t i = 0; i < n && ok; i++)
		ok = vun_option(d, &opts[i], error);
	if (!ok || !lb_vu_dev_check(d, error)) {
		lb_vu_dev_free(&d->base);
		return NULL;
	}
	return &d->base;
}

const LbAdapterDeviceOps lb_vhost_user_net_ops =
	LB_VU_OPS(NAME, "socket=PATH[,mac=XX:XX:XX:XX:XX:XX][,mtu=N]"
		  "[,reconnect=SECONDS]", vun_create);
