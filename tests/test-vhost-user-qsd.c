// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The vhost-user frontend against a real qemu-storage-daemon (vhost-user-blk
 * export), no kernel: negotiation, config, I/O through the rings on two
 * queues, the stop sequence, a second connection and config changes.
 */

#include "config.h"

#include "vhost-user-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define IMG_SIZE (64ULL << 20)
#define SECTOR 512
#define RING_NUM 128
#define TIMEOUT_MS 5000

/* virtio-blk */
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_S_OK 0
#define BLK_CONFIG_SIZE 60
#define BLK_CONFIG_NUM_QUEUES 34

/* Status bits SET_STATUS carries (virtio 1.x) */
#define STATUS_DRIVER_OK_ALL 0x0f

typedef struct {
	VutProcess proc;
	char *sock;
	char *qmp;
	char *img;
	int img_fd;
} Qsd;

static char *qsd_path;

/* Starts the daemon on q's image and sockets (again after a kill). */
static void qsd_spawn(Qsd *q)
{
	g_autofree char *blockdev = NULL, *export = NULL, *chardev = NULL;
	g_autofree char *why = NULL;

	unlink(q->sock);
	g_clear_pointer(&q->proc.log, g_free);
	blockdev = g_strdup_printf("driver=file,node-name=f0,filename=%s",
				   q->img);
	export = g_strdup_printf("type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=%s,writable=on,num-queues=2",
				 q->sock);
	chardev = g_strdup_printf("socket,id=m,path=%s,server=on,wait=off",
				  q->qmp);
	char *argv[] = {
		qsd_path, "--blockdev", blockdev, "--export", export,
		"--chardev", chardev, "--monitor", "chardev=m", NULL,
	};
	if (!vut_process_start(&q->proc, argv, q->sock, TIMEOUT_MS, &why))
		g_error("%s", why);
}

static bool qsd_start(Qsd *q)
{
	memset(q, 0, sizeof(*q));
	if (!qsd_path) {
		g_test_skip("qemu-storage-daemon is not installed (Debian: qemu-system-common)");
		return false;
	}
	q->proc.dir = vut_tmpdir();
	q->proc.stdin_fd = -1;
	q->sock = g_build_filename(q->proc.dir, "vub.sock", NULL);
	q->qmp = g_build_filename(q->proc.dir, "qmp.sock", NULL);
	q->img = g_build_filename(q->proc.dir, "disk.img", NULL);
	q->img_fd = open(q->img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	g_assert_cmpint(q->img_fd, >=, 0);
	g_assert_cmpint(ftruncate(q->img_fd, IMG_SIZE), ==, 0);
	qsd_spawn(q);
	return true;
}

static void qsd_stop(Qsd *q)
{
	vut_process_stop(&q->proc);
	close(q->img_fd);
	unlink(q->img);
	unlink(q->sock);
	unlink(q->qmp);
	unlink(q->proc.log);
	rmdir(q->proc.dir);
	g_free(q->sock);
	g_free(q->qmp);
	g_free(q->img);
	g_free(q->proc.log);
	g_free(q->proc.dir);
}

static loopback_vhost_user *qsd_connect(Qsd *q)
{
	GError *err = NULL;
	loopback_vhost_user *vu = vut_connect(q->sock, TIMEOUT_MS);

	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	return vu;
}

/* features, addresses, rings, DRIVER_OK: what a driver's probe leads to */
static void qsd_start_device(loopback_vhost_user *vu, VutWindow *w,
			     VutRing *rings, unsigned int nq)
{
	GError *err = NULL;
	uint64_t want = (1ULL << LOOPBACK_VIRTIO_F_VERSION_1) |
		(1ULL << VIRTIO_BLK_F_MQ);
	uint64_t dev = loopback_vhost_user_device_features(vu, want);

	g_assert_cmphex(dev, ==, want | (1ULL << LOOPBACK_VIRTIO_F_ACCESS_PLATFORM));
	g_assert_true(loopback_vhost_user_set_features(vu, dev, &err));
	g_assert_no_error(err);
	g_assert_true(loopback_vhost_user_set_address_space(vu, w->as, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(loopback_vhost_user_get_mem_region_count(vu), ==, 1);
	for (unsigned int i = 0; i < nq; i++) {
		loopback_vhost_user_vring cfg;

		vut_ring_init(&rings[i], w, RING_NUM);
		cfg = vut_ring_config(&rings[i]);
		g_assert_true(loopback_vhost_user_vring_start(vu, i, &cfg,
							      &err));
		g_assert_no_error(err);
	}
	g_assert_true(loopback_vhost_user_set_status(vu, STATUS_DRIVER_OK_ALL,
						     &err));
	g_assert_no_error(err);
}

typedef struct {
	uint64_t hdr;
	uint64_t data;
	uint64_t status;
	uint32_t len;
} BlkReq;

static void blk_req_init(BlkReq *req, VutWindow *w, uint32_t len)
{
	req->hdr = vut_alloc(w, 16, 16);
	req->data = vut_alloc(w, len, 512);
	req->status = vut_alloc(w, 1, 1);
	req->len = len;
}

static uint16_t blk_submit(VutRing *r, BlkReq *req, uint32_t type,
			   uint64_t sector)
{
	uint8_t *hdr = vut_host(r->w, req->hdr);
	VutBuf bufs[3] = {
		{ req->hdr, 16, false },
		{ req->data, req->len, type == VIRTIO_BLK_T_IN },
		{ req->status, 1, true },
	};

	memcpy(hdr, &type, 4);
	memset(hdr + 4, 0, 4);
	memcpy(hdr + 8, &sector, 8);
	*(uint8_t *)vut_host(r->w, req->status) = 0xff;
	return vut_ring_add(r, bufs, 3);
}

static void blk_wait(VutRing *r, uint16_t *id)
{
	uint32_t len;

	if (!vut_ring_get_used(r, TIMEOUT_MS, id, &len))
		g_error("no completion from qemu-storage-daemon in %u ms",
			TIMEOUT_MS);
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void test_negotiate(void)
{
	Qsd q;
	g_autoptr(loopback_vhost_user) vu = NULL;
	GError *err = NULL;
	uint8_t cfg[BLK_CONFIG_SIZE];
	uint64_t f, pf, capacity;
	uint16_t nq;
	/* measured against 7.2 (shared/reference/vhost-user-peers.md) */
	const uint64_t must = 0x175007e46;
	const uint64_t pmust = 0x8f2b;
	const uint64_t pabsent = (1ULL << 12) | (1ULL << 13) | (1ULL << 16);

	if (!qsd_start(&q))
		return;
	vu = qsd_connect(&q);
	f = loopback_vhost_user_get_backend_features(vu);
	pf = loopback_vhost_user_get_backend_protocol_features(vu);
	g_test_message("qemu-storage-daemon offers features 0x%" G_GINT64_MODIFIER "x, protocol features 0x%" G_GINT64_MODIFIER "x, %u queues, %u memory slots",
		       f, pf, loopback_vhost_user_get_queue_num(vu),
		       loopback_vhost_user_get_max_mem_slots(vu));
	g_assert_cmphex(f & must, ==, must);
	g_assert_cmphex(pf & pmust, ==, pmust);
	g_assert_cmphex(pf & pabsent, ==, 0);
	/* acked: the offered part of what is implemented */
	g_assert_cmphex(loopback_vhost_user_get_protocol_features(vu), ==,
			pf & LOOPBACK_VHOST_USER_PROTOCOL_FEATURES_IMPLEMENTED);
	g_assert_cmpuint(loopback_vhost_user_get_queue_num(vu), ==, 2);
	g_assert_cmpuint(loopback_vhost_user_get_max_mem_slots(vu), >, 8);
	/* the driver sees neither LOG_ALL nor PROTOCOL_FEATURES */
	f = loopback_vhost_user_device_features(vu, UINT64_MAX);
	g_assert_cmphex(f & ((1ULL << 26) | (1ULL << 30)), ==, 0);
	g_assert_true(f & (1ULL << LOOPBACK_VIRTIO_F_ACCESS_PLATFORM));

	g_assert_true(loopback_vhost_user_get_config(vu, 0, cfg, sizeof(cfg),
						     &err));
	g_assert_no_error(err);
	memcpy(&capacity, cfg, 8);
	memcpy(&nq, cfg + BLK_CONFIG_NUM_QUEUES, 2);
	g_assert_cmpuint(capacity, ==, IMG_SIZE / SECTOR);
	g_assert_cmpuint(nq, ==, 2);
	/*
	 * A part of it, at an offset: 7.2 copies from the start of its
	 * config space whatever the offset, the frontend hides that.
	 */
	g_assert_true(loopback_vhost_user_get_config(vu, 0, &capacity, 8,
						     &err));
	g_assert_no_error(err);
	g_assert_cmpuint(capacity, ==, IMG_SIZE / SECTOR);
	nq = 0;
	g_assert_true(loopback_vhost_user_get_config(vu, BLK_CONFIG_NUM_QUEUES,
						     &nq, 2, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(nq, ==, 2);
	/* a restarted backend that lost a feature is refused */
	g_assert_false(loopback_vhost_user_set_features(vu,
		(1ULL << LOOPBACK_VIRTIO_F_VERSION_1) | (1ULL << 27), &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED);
	g_clear_error(&err);
	g_assert_true(loopback_vhost_user_is_usable(vu));
	g_clear_pointer(&vu, loopback_vhost_user_free);
	qsd_stop(&q);
}

static void test_io(void)
{
	Qsd q;
	VutWindow w;
	VutRing rings[2];
	BlkReq wr, rd, many[32];
	g_autoptr(loopback_vhost_user) vu = NULL;
	GError *err = NULL;
	uint8_t expect[4096], file[4096];
	uint16_t id, base;
	bool seen[32] = { false }, out_of_order = false;
	unsigned int done;

	if (!qsd_start(&q))
		return;
	vut_window_init(&w, 16 << 20, 0);
	vu = qsd_connect(&q);
	qsd_start_device(vu, &w, rings, 2);

	/* a write on queue 0 reaches the image */
	blk_req_init(&wr, &w, 4096);
	fill(vut_host(&w, wr.data), 4096, 1);
	memcpy(expect, vut_host(&w, wr.data), 4096);
	g_assert_cmpuint(blk_submit(&rings[0], &wr, VIRTIO_BLK_T_OUT, 8), ==,
			 0);
	vut_ring_kick(&rings[0]);
	blk_wait(&rings[0], &id);
	g_assert_cmpuint(id, ==, 0);
	g_assert_cmpuint(*(uint8_t *)vut_host(&w, wr.status), ==,
			 VIRTIO_BLK_S_OK);
	g_assert_cmpint(pread(q.img_fd, file, 4096, 8 * SECTOR), ==, 4096);
	g_assert_cmpmem(file, 4096, expect, 4096);

	/* a read on queue 0 brings back what the file holds */
	fill(file, 4096, 2);
	g_assert_cmpint(pwrite(q.img_fd, file, 4096, 1000 * SECTOR), ==, 4096);
	blk_req_init(&rd, &w, 4096);
	blk_submit(&rings[0], &rd, VIRTIO_BLK_T_IN, 1000);
	vut_ring_kick(&rings[0]);
	blk_wait(&rings[0], &id);
	g_assert_cmpuint(*(uint8_t *)vut_host(&w, rd.status), ==,
			 VIRTIO_BLK_S_OK);
	g_assert_cmpmem(vut_host(&w, rd.data), 4096, file, 4096);

	/* queue 1: 32 requests at once, completions in any order */
	for (unsigned int i = 0; i < G_N_ELEMENTS(many); i++) {
		blk_req_init(&many[i], &w, 4096);
		if (i % 2) {
			fill(vut_host(&w, many[i].data), 4096, 100 + i);
			blk_submit(&rings[1], &many[i], VIRTIO_BLK_T_OUT,
				   2048 + 8 * i);
		} else {
			fill(file, 4096, 200 + i);
			g_assert_cmpint(pwrite(q.img_fd, file, 4096,
					       (4096 + 8 * i) * SECTOR), ==,
					4096);
			blk_submit(&rings[1], &many[i], VIRTIO_BLK_T_IN,
				   4096 + 8 * i);
		}
	}
	vut_ring_kick(&rings[1]);
	for (done = 0; done < G_N_ELEMENTS(many); done++) {
		unsigned int i;

		blk_wait(&rings[1], &id);
		/* heads: 3 descriptors per request, handed out in order */
		i = id / 3;
		g_assert_cmpuint(id % 3, ==, 0);
		g_assert_cmpuint(i, <, G_N_ELEMENTS(many));
		g_assert_false(seen[i]);
		seen[i] = true;
		if (i != done)
			out_of_order = true;
		g_assert_cmpuint(*(uint8_t *)vut_host(&w, many[i].status), ==,
				 VIRTIO_BLK_S_OK);
	}
	g_test_message("32 requests at depth 32: completions %s",
		       out_of_order ? "came out of order" : "came in order");
	for (unsigned int i = 0; i < G_N_ELEMENTS(many); i++) {
		if (i % 2) {
			fill(expect, 4096, 100 + i);
			g_assert_cmpint(pread(q.img_fd, file, 4096,
					      (2048 + 8 * i) * SECTOR), ==,
					4096);
			g_assert_cmpmem(file, 4096, expect, 4096);
		} else {
			fill(expect, 4096, 200 + i);
			g_assert_cmpmem(vut_host(&w, many[i].data), 4096,
					expect, 4096);
		}
	}

	/*
	 * A write kicked just before the stop: drain first.  7.2 answers
	 * GET_VRING_BASE at once and, if it then completes a request, finds
	 * its call fd closed and drops the connection (vu_panic).
	 */
	blk_submit(&rings[0], &wr, VIRTIO_BLK_T_OUT, 8);
	vut_ring_kick(&rings[0]);
	for (unsigned int i = 0; i < 2; i++) {
		g_assert_true(loopback_vhost_user_vring_drain(vu, i, &err));
		g_assert_no_error(err);
		g_assert_true(loopback_vhost_user_vring_stop(vu, i, &base,
							     &err));
		g_assert_no_error(err);
		g_assert_cmpuint(base, ==, rings[i].avail_idx);
		g_assert_cmpuint(vut_ring_used_idx(&rings[i]), ==, base);
	}
	/* stopping a stopped ring is the caller's mistake, not a break */
	g_assert_false(loopback_vhost_user_vring_stop(vu, 0, &base, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_clear_error(&err);
	g_assert_true(loopback_vhost_user_is_usable(vu));

	g_clear_pointer(&vu, loopback_vhost_user_free);
	vut_ring_destroy(&rings[0]);
	vut_ring_destroy(&rings[1]);
	vut_window_destroy(&w);
	qsd_stop(&q);
}

/* qsd takes a new frontend once the first one has gone */
static void test_reconnect(void)
{
	Qsd q;
	VutWindow w;
	VutRing rings[1];
	BlkReq rd;
	loopback_vhost_user *vu;
	GError *err = NULL;
	uint8_t file[512];
	uint16_t id, base;

	if (!qsd_start(&q))
		return;
	for (unsigned int round = 0; round < 2; round++) {
		vut_window_init(&w, 4 << 20, 0);
		vu = qsd_connect(&q);
		qsd_start_device(vu, &w, rings, 1);
		fill(file, sizeof(file), 9 + round);
		g_assert_cmpint(pwrite(q.img_fd, file, 512, 77 * SECTOR), ==,
				512);
		blk_req_init(&rd, &w, 512);
		blk_submit(&rings[0], &rd, VIRTIO_BLK_T_IN, 77);
		vut_ring_kick(&rings[0]);
		blk_wait(&rings[0], &id);
		g_assert_cmpmem(vut_host(&w, rd.data), 512, file, 512);
		g_assert_true(loopback_vhost_user_vring_stop(vu, 0, &base,
							     &err));
		g_assert_no_error(err);
		/* the second round connects after this one closed */
		loopback_vhost_user_free(vu);
		vut_ring_destroy(&rings[0]);
		vut_window_destroy(&w);
	}
	qsd_stop(&q);
}

/*
 * RAM that appears and goes while the rings run: ADD_MEM_REG and
 * REM_MEM_REG (without an fd) to a real libvhost-user.
 */
static void test_memory_change(void)
{
	Qsd q;
	VutWindow w;
	VutRing rings[1];
	BlkReq req;
	g_autoptr(loopback_vhost_user) vu = NULL;
	MemoryRegion *extra;
	GError *err = NULL;
	uint8_t file[4096], *data;
	uint16_t id, base;

	if (!qsd_start(&q))
		return;
	vut_window_init(&w, 4 << 20, 0);
	vu = qsd_connect(&q);
	qsd_start_device(vu, &w, rings, 1);

	extra = vut_add_ram(&w, 0x200000000ULL, 1 << 20);
	g_assert_true(loopback_vhost_user_is_usable(vu));
	g_assert_cmpuint(loopback_vhost_user_get_mem_region_count(vu), ==, 2);

	/* a read whose data buffer is in the new RAM */
	fill(file, sizeof(file), 5);
	g_assert_cmpint(pwrite(q.img_fd, file, 4096, 300 * SECTOR), ==, 4096);
	blk_req_init(&req, &w, 16);
	req.data = 0x200000000ULL + 0x1000;
	req.len = 4096;
	blk_submit(&rings[0], &req, VIRTIO_BLK_T_IN, 300);
	vut_ring_kick(&rings[0]);
	blk_wait(&rings[0], &id);
	g_assert_cmpuint(*(uint8_t *)vut_host(&w, req.status), ==,
			 VIRTIO_BLK_S_OK);
	data = (uint8_t *)memory_region_get_ram_ptr(extra) + 0x1000;
	g_assert_cmpmem(data, 4096, file, 4096);

	vut_del_ram(&w, extra);
	if (!loopback_vhost_user_is_usable(vu))
		g_error("after REM_MEM_REG: %s",
			loopback_vhost_user_get_error(vu)->message);
	g_assert_cmpuint(loopback_vhost_user_get_mem_region_count(vu), ==, 1);
	/* and the window still works */
	blk_req_init(&req, &w, 4096);
	blk_submit(&rings[0], &req, VIRTIO_BLK_T_IN, 300);
	vut_ring_kick(&rings[0]);
	blk_wait(&rings[0], &id);
	g_assert_cmpmem(vut_host(&w, req.data), 4096, file, 4096);
	g_assert_true(loopback_vhost_user_vring_stop(vu, 0, &base, &err));
	g_assert_no_error(err);

	g_clear_pointer(&vu, loopback_vhost_user_free);
	vut_ring_destroy(&rings[0]);
	vut_window_destroy(&w);
	qsd_stop(&q);
}

typedef struct {
	int count;
	int code;
} Disconnect;

static void on_disconnected(loopback_vhost_user *vu, const GError *error,
			    void *data)
{
	Disconnect *d = data;

	d->count++;
	d->code = error->code;
}

/* The daemon goes away: the source notices and says so once. */
static void test_backend_exit(void)
{
	Qsd q;
	g_autoptr(loopback_vhost_user) vu = NULL;
	GMainContext *ctx;
	GSource *src;
	Disconnect d = { 0 };
	GError *err = NULL;
	uint64_t capacity;

	if (!qsd_start(&q))
		return;
	vu = qsd_connect(&q);
	ctx = g_main_context_new();
	src = loopback_vhost_user_source_new(vu);
	g_source_attach(src, ctx);
	loopback_vhost_user_set_disconnected_cb(vu, on_disconnected, &d);
	vut_process_stop(&q.proc);
	vut_iterate_until(ctx, &d.count, 1, TIMEOUT_MS);
	g_assert_cmpint(d.count, ==, 1);
	g_assert_cmpint(d.code, ==, LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
	g_assert_false(loopback_vhost_user_get_config(vu, 0, &capacity, 8,
						      &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
	g_clear_error(&err);
	g_source_destroy(src);
	g_source_unref(src);
	g_main_context_unref(ctx);
	g_clear_pointer(&vu, loopback_vhost_user_free);
	qsd_stop(&q);
}

static void on_reconnect(loopback_vhost_user *vu,
			 LoopbackVhostUserReconnectEvent event,
			 const GError *error, void *data)
{
	int *back = data;

	if (event == LOOPBACK_VHOST_USER_RECONNECTED)
		(*back)++;
}

/*
 * SIGKILL in the middle of writes at depth 1, the daemon started again on
 * the same socket: every write completes without error and is in the
 * image, whether the kill came before the daemon took the request, while
 * it ran, or after it completed.
 */
static void test_kill_restart(void)
{
	enum { ROUNDS = 24 };
	Qsd q;
	VutWindow w;
	VutRing rings[1];
	BlkReq req[ROUNDS];
	g_autoptr(loopback_vhost_user) vu = NULL;
	GMainContext *ctx;
	GSource *src;
	Disconnect d = { 0 };
	int back = 0;
	uint8_t expect[4096], file[4096];
	uint16_t id;

	if (!qsd_start(&q))
		return;
	vut_window_init(&w, 4 << 20, 0);
	vu = qsd_connect(&q);
	loopback_vhost_user_set_reconnect(vu, 10000);
	loopback_vhost_user_set_reconnect_cb(vu, on_reconnect, &back);
	loopback_vhost_user_set_disconnected_cb(vu, on_disconnected, &d);
	ctx = g_main_context_new();
	src = loopback_vhost_user_source_new(vu);
	g_source_attach(src, ctx);
	qsd_start_device(vu, &w, rings, 1);

	for (unsigned int i = 0; i < ROUNDS; i++) {
		blk_req_init(&req[i], &w, 4096);
		fill(vut_host(&w, req[i].data), 4096, 40 + i);
		blk_submit(&rings[0], &req[i], VIRTIO_BLK_T_OUT, 16 * i);
		vut_ring_kick(&rings[0]);
		if (i % 3 == 1) {
			/* a little later each time: before, during, after */
			g_usleep(100 * (i % 7));
			vut_process_kill(&q.proc);
			qsd_spawn(&q);
			vut_iterate_until(ctx, &back, (int)(i / 3 + 1),
					  TIMEOUT_MS);
			g_assert_cmpint(d.count, ==, 0);
			g_assert_cmpint(back, ==, (int)(i / 3 + 1));
		}
		blk_wait(&rings[0], &id);
		g_assert_cmpuint(id, ==, 0);
		g_assert_cmpuint(*(uint8_t *)vut_host(&w, req[i].status), ==,
				 VIRTIO_BLK_S_OK);
	}
	for (unsigned int i = 0; i < ROUNDS; i++) {
		fill(expect, 4096, 40 + i);
		g_assert_cmpint(pread(q.img_fd, file, 4096, 16 * i * SECTOR),
				==, 4096);
		g_assert_cmpmem(file, 4096, expect, 4096);
	}
	g_test_message("%d reconnects, every write in the image", back);

	g_source_destroy(src);
	g_source_unref(src);
	g_main_context_unref(ctx);
	g_clear_pointer(&vu, loopback_vhost_user_free);
	vut_ring_destroy(&rings[0]);
	vut_window_destroy(&w);
	qsd_stop(&q);
}

/* ---- QMP, just enough for block_resize ---- */

static bool qmp_read_until(FILE *f, const char *key, char **line_out)
{
	char line[4096];

	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "\"error\"")) {
			*line_out = g_strdup(line);
			return false;
		}
		if (strstr(line, key)) {
			*line_out = g_strdup(line);
			return true;
		}
	}
	*line_out = g_strdup("(QMP closed)");
	return false;
}

static gpointer qmp_resize_thread(gpointer data)
{
	const char *path = data;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FILE *f;
	char *line = NULL;
	bool ok;

	g_assert_cmpint(fd, >=, 0);
	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==,
			0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	f = fdopen(fd, "r+");
	ok = qmp_read_until(f, "\"QMP\"", &line);
	g_free(line);
	fputs("{\"execute\":\"qmp_capabilities\"}\n", f);
	fflush(f);
	ok = ok && qmp_read_until(f, "\"return\"", &line);
	g_free(line);
	fputs("{\"execute\":\"block_resize\",\"arguments\":{\"node-name\":\"f0\",\"size\":134217728}}\n",
	      f);
	fflush(f);
	ok = ok && qmp_read_until(f, "\"return\"", &line);
	fclose(f);
	if (!ok) {
		g_test_message("QMP block_resize: %s", line);
		g_free(line);
		return GINT_TO_POINTER(0);
	}
	g_free(line);
	return GINT_TO_POINTER(1);
}

typedef struct {
	int changed;
	uint64_t capacity;
} ConfigWatch;

static void on_config_changed(loopback_vhost_user *vu, void *data)
{
	ConfigWatch *cw = data;
	GError *err = NULL;

	g_assert_true(loopback_vhost_user_get_config(vu, 0, &cw->capacity, 8,
						     &err));
	g_assert_no_error(err);
	cw->changed++;
}

static void test_config_change(void)
{
	Qsd q;
	g_autoptr(loopback_vhost_user) vu = NULL;
	GMainContext *ctx;
	GSource *src;
	GThread *qmp;
	ConfigWatch cw = { 0 };
	bool resized;
	uint64_t capacity;
	GError *err = NULL;

	if (!qsd_start(&q))
		return;
	vu = qsd_connect(&q);
	g_assert_true(loopback_vhost_user_has_protocol_feature(
		vu, LOOPBACK_VHOST_USER_PROTOCOL_F_BACKEND_REQ));
	ctx = g_main_context_new();
	src = loopback_vhost_user_source_new(vu);
	g_source_attach(src, ctx);
	loopback_vhost_user_set_config_changed_cb(vu, on_config_changed, &cw);

	/* qsd waits for our answer inside block_resize: QMP from a thread */
	qmp = g_thread_new("qmp", qmp_resize_thread, q.qmp);
	vut_iterate_until(ctx, &cw.changed, 1, TIMEOUT_MS);
	resized = GPOINTER_TO_INT(g_thread_join(qmp));
	g_assert_true(resized);
	g_assert_true(loopback_vhost_user_get_config(vu, 0, &capacity, 8,
						     &err));
	g_assert_no_error(err);
	if (cw.changed) {
		g_assert_cmpint(cw.changed, ==, 1);
		g_assert_cmpuint(cw.capacity, ==, (128ULL << 20) / SECTOR);
		g_assert_cmpuint(capacity, ==, (128ULL << 20) / SECTOR);
	} else {
		/*
		 * 7.2 neither tells nor changes its config space: the export's
		 * capacity is fixed when it is created.  A backend that changed
		 * it silently would be a bug.
		 */
		g_test_message("qemu-storage-daemon sent no config-change message after block_resize and its capacity stays %" G_GUINT64_FORMAT " sectors",
			       capacity);
		g_assert_cmpuint(capacity, ==, IMG_SIZE / SECTOR);
	}
	g_assert_true(loopback_vhost_user_is_usable(vu));

	g_source_destroy(src);
	g_source_unref(src);
	g_main_context_unref(ctx);
	g_clear_pointer(&vu, loopback_vhost_user_free);
	qsd_stop(&q);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	qsd_path = vut_find_program("qemu-storage-daemon");
	g_test_add_func("/vhost-user/qsd/negotiate", test_negotiate);
	g_test_add_func("/vhost-user/qsd/io", test_io);
	g_test_add_func("/vhost-user/qsd/reconnect", test_reconnect);
	g_test_add_func("/vhost-user/qsd/memory-change", test_memory_change);
	g_test_add_func("/vhost-user/qsd/backend-exit", test_backend_exit);
	g_test_add_func("/vhost-user/qsd/config-change", test_config_change);
	g_test_add_func("/vhost-user/qsd/kill-restart", test_kill_restart);
	return g_test_run();
}
