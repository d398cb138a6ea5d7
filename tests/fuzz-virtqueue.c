/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzzing the virtqueue parser.  One input is a header and the first
 * bytes of a 64 KiB window holding a queue's descriptor table, driver ring
 * and buffers; the driver publishes up to three available indexes and the
 * device pops and completes whatever the layer accepts.  Checked: every
 * mapped buffer lies inside the window, a refused ring leaves the device
 * in NEEDS_RESET, and the used index counts the completions.
 *
 * make check runs a seeded random mode (the seed is printed; --seed N
 * replays it) and replays tests/data/virtqueue-corpus/.  With
 * ./configure --enable-fuzzer CC=clang the same entry point is built as
 * tests/fuzz-virtqueue-libfuzzer (-fsanitize=fuzzer); give it a copy of
 * the corpus directory, which libFuzzer writes new inputs into.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "virtio-driver.h"

#define WIN 0x10000
#define PAYLOAD 0x2000		/* window bytes an input may set */
#define DESC_OFF 0x0
#define AVAIL_OFF 0x200
#define USED_OFF 0x300
#define DATA_OFF 0x400
#define HDR 8
#define R_(x) LOOPBACK_VIRTIO_MMIO_##x
#define F(b) (1ULL << (b))

/* header byte 0 */
#define IN_EVENT_IDX	0x1
#define IN_INDIRECT	0x2
#define IN_REVERSE	0x4	/* complete in reverse order */

typedef struct FuzzWorld {
	Vdrv *d;
	VdrvEcho *e;
	unsigned int completed;	/* chains, over all inputs */
	unsigned int broken;	/* inputs that broke the queue */
	bool clobbered;		/* a buffer overlapped the used ring */
} FuzzWorld;

static FuzzWorld *world(void)
{
	static FuzzWorld w;

	if (!w.d) {
		w.d = vdrv_new(WIN);
		w.e = vdrv_echo_new(w.d, F(LOOPBACK_VIRTIO_F_EVENT_IDX) |
				    F(LOOPBACK_VIRTIO_F_INDIRECT_DESC));
		loopback_virtio_attach_context(w.e->vdev, NULL);
		w.e->hold = true;
	}
	return &w;
}

static void check_inside(Vdrv *d, const struct iovec *v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = v[i].iov_base;

		g_assert_true(p >= d->win && p <= d->win + WIN);
		g_assert_cmpuint(v[i].iov_len, <=, (size_t)(d->win + WIN - p));
	}
}

/* Pops what the layer gives, checks it, completes it. */
static unsigned int serve(FuzzWorld *w, bool reverse)
{
	LoopbackVirtqueue *vq = loopback_virtio_get_queue(w->e->vdev, 0);
	GPtrArray *held = w->e->held;
	unsigned int n;

	vdrv_echo_handle(w->e, vq);
	n = held->len;
	for (guint i = 0; i < n; i++) {
		LoopbackVirtqueueElement *el = g_ptr_array_index(held, i);

		check_inside(w->d, el->out_sg, el->out_num);
		check_inside(w->d, el->in_sg, el->in_num);
		for (unsigned int j = 0; j < el->in_num; j++) {
			uint8_t *p = el->in_sg[j].iov_base;

			if (p < w->d->win + DATA_OFF)
				w->clobbered = true;
			memset(p, 0xa5, el->in_sg[j].iov_len);
		}
	}
	for (guint i = 0; i < n; i++) {
		LoopbackVirtqueueElement *el =
			g_ptr_array_index(held, reverse ? n - 1 - i : i);

		loopback_virtqueue_push(vq, el, el->in_len);
	}
	g_ptr_array_set_size(held, 0);
	loopback_virtqueue_notify(vq);
	return n;
}

static void run_one(const uint8_t *data, size_t size)
{
	FuzzWorld *w = world();
	Vdrv *d = w->d;
	uint64_t features = F(LOOPBACK_VIRTIO_F_VERSION_1) |
			    F(LOOPBACK_VIRTIO_F_ACCESS_PLATFORM);
	unsigned int num, done = 0;
	VdrvQueue *q = &d->q[0];

	if (size < HDR)
		return;
	if (data[0] & IN_EVENT_IDX)
		features |= F(LOOPBACK_VIRTIO_F_EVENT_IDX);
	if (data[0] & IN_INDIRECT)
		features |= F(LOOPBACK_VIRTIO_F_INDIRECT_DESC);
	num = 2u << (data[1] % 4);	/* 2 ... 16, the echo device's max */
	memset(d->win, 0, PAYLOAD);
	memcpy(d->win, data + HDR, MIN(size - HDR, PAYLOAD));
	/* the driver's part of the setup: a zeroed used ring */
	memset(d->win + USED_OFF, 0, DATA_OFF - USED_OFF);
	w->clobbered = false;
	g_assert_true(vdrv_negotiate(d, features));
	/* the rings at fixed places: the payload already holds them */
	q->num = num;
	q->desc = VDRV_WINDOW + DESC_OFF;
	q->avail = VDRV_WINDOW + AVAIL_OFF;
	q->used = VDRV_WINDOW + USED_OFF;
	vdrv_write(d, R_(QUEUE_SEL), 0);
	vdrv_write(d, R_(QUEUE_NUM), num);
	vdrv_write(d, R_(QUEUE_DESC_LOW), (uint32_t)q->desc);
	vdrv_write(d, R_(QUEUE_DESC_HIGH), q->desc >> 32);
	vdrv_write(d, R_(QUEUE_AVAIL_LOW), (uint32_t)q->avail);
	vdrv_write(d, R_(QUEUE_AVAIL_HIGH), q->avail >> 32);
	vdrv_write(d, R_(QUEUE_USED_LOW), (uint32_t)q->used);
	vdrv_write(d, R_(QUEUE_USED_HIGH), q->used >> 32);
	vdrv_write(d, R_(QUEUE_READY), 1);
	g_assert_cmpuint(vdrv_read(d, R_(QUEUE_READY)), ==, 1);
	vdrv_driver_ok(d);
	for (unsigned int r = 0; r < 3; r++) {
		uint16_t idx = data[2 + 2 * r] | data[3 + 2 * r] << 8;

		vdrv_set_avail_idx(d, 0, idx);
		done += serve(w, data[0] & IN_REVERSE);
	}
	w->completed += done;
	if (loopback_virtqueue_is_broken(loopback_virtio_get_queue(w->e->vdev,
								   0)) &&
	    ++w->broken)
		g_assert_true(vdrv_read(d, R_(STATUS)) &
			      LOOPBACK_VIRTIO_S_NEEDS_RESET);
	else if (!w->clobbered)
		g_assert_cmpuint(vdrv_used_idx(d, 0), ==, (uint16_t)done);
	g_ptr_array_set_size(d->log, 0);
	vdrv_write(d, R_(STATUS), 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_one(data, size);
	return 0;
}

#ifndef LB_LIBFUZZER

#define ITERATIONS 20000

static void world_free(void)
{
	FuzzWorld *w = world();

	vdrv_free(w->d);
	vdrv_echo_free(w->e);
	w->d = NULL;
}

static guint64 seed;
/* half the inputs are well formed; the rest get a few faults */
static bool noisy;

/* A fault one time in @n when noisy. */
static bool fault(GRand *r, int n)
{
	return noisy && g_rand_int_range(r, 0, n) == 0;
}

/* An address: mostly a buffer in the data area, sometimes anything. */
static uint64_t rand_addr(GRand *r, uint32_t len)
{
	switch (noisy ? g_rand_int_range(r, 0, 24) : 3) {
	case 0:
		return ((uint64_t)g_rand_int(r) << 32) | g_rand_int(r);
	case 1:
		return VDRV_WINDOW + WIN - g_rand_int_range(r, 0, 64);
	case 2:
		return 0x10000000;
	default:
		if (len > WIN - DATA_OFF)
			return VDRV_WINDOW + DATA_OFF;
		return VDRV_WINDOW + DATA_OFF +
		       g_rand_int_range(r, 0, WIN - DATA_OFF - len + 1);
	}
}

static uint32_t rand_len(GRand *r)
{
	switch (g_rand_int_range(r, 0, 16)) {
	case 0:
		return noisy ? g_rand_int(r) : 0;
	case 1:
		return 0;
	default:
		return g_rand_int_range(r, 1, 512);
	}
}

/* A mostly sensible ring of @num entries, then a few random changes. */
static GByteArray *generate(GRand *r)
{
	uint8_t in[HDR + PAYLOAD] = { 0 };
	uint8_t *win = in + HDR;
	unsigned int qlog = g_rand_int_range(r, 0, 4);
	unsigned int num = 2u << qlog;
	unsigned int chains = g_rand_int_range(r, 0, num + 1);
	unsigned int next = 0, published = 0;
	uint64_t table = DATA_OFF;	/* indirect tables grow from here */
	GByteArray *out;

	noisy = g_rand_boolean(r);
	in[0] = g_rand_int_range(r, 0, 8) | (noisy ? 0 : IN_INDIRECT);
	in[1] = qlog | (g_rand_int(r) & 0xfc);
	for (unsigned int c = 0; c < chains; c++) {
		unsigned int len = g_rand_int_range(r, 1, MIN(num, 4) + 1);
		/* a direct chain that would not fit goes indirect */
		bool indirect = g_rand_boolean(r) || next + len > num;

		if (next >= num)
			break;
		unsigned int head = next % num;
		uint8_t *base = win + DESC_OFF;
		unsigned int first = head;

		if (indirect) {
			vdrv_encode_desc(win + DESC_OFF + 16 * head, VDRV_WINDOW + table,
				 16 * len, LOOPBACK_VRING_DESC_F_INDIRECT, 0);
			base = win + table;
			first = 0;
			table += 16 * len;
			next++;
		}
		for (unsigned int i = 0; i < len; i++) {
			uint32_t l = rand_len(r);
			uint16_t fl = (i + 1 < len ? 1 : 0) |
				      (i * 2 >= len ? 2 : 0);
			unsigned int at = indirect ? i : (first + i) % num;
			unsigned int nx = indirect ? i + 1 : (at + 1) % num;

			if (fault(r, 24))
				fl ^= 1u << g_rand_int_range(r, 0, 3);
			if (fault(r, 24))
				nx = g_rand_int_range(r, 0, num + 2);
			vdrv_encode_desc(base + 16 * at, rand_addr(r, l), l, fl, nx);
		}
		if (!indirect)
			next += len;
		win[AVAIL_OFF + 4 + 2 * (c % num)] = head;
		published++;
	}
	/* the three available indexes: rising, or anything */
	for (unsigned int i = 0; i < 3; i++) {
		uint16_t idx = fault(r, 24) ? g_rand_int(r) :
			       published * (i + 1) / 3;

		in[2 + 2 * i] = idx;
		in[3 + 2 * i] = idx >> 8;
	}
	for (int flips = noisy ? g_rand_int_range(r, -6, 3) : 0; flips > 0;
	     flips--)
		win[g_rand_int_range(r, 0, DATA_OFF + 0x100)] ^=
			1u << g_rand_int_range(r, 0, 8);
	out = g_byte_array_new();
	g_byte_array_append(out, in, HDR + MAX(table, (uint64_t)DATA_OFF));
	return out;
}

static void test_random(void)
{
	g_autoptr(GRand) r = g_rand_new_with_seed_array((guint32 *)&seed, 2);

	g_test_message("seed %" G_GUINT64_FORMAT " (replay: --seed %"
		       G_GUINT64_FORMAT ")", seed, seed);
	for (unsigned int i = 0; i < ITERATIONS; i++) {
		g_autoptr(GByteArray) in = generate(r);

		run_one(in->data, in->len);
	}
	/* both outcomes must be common, or the generator is off */
	g_test_message("%u chains completed, %u of %u inputs refused",
		       world()->completed, world()->broken, ITERATIONS);
	g_assert_cmpuint(world()->completed, >, ITERATIONS);
	g_assert_cmpuint(world()->broken, >, ITERATIONS / 10);
	world_free();
}

static void test_corpus(void)
{
	const char *top = g_getenv("top_srcdir");
	g_autofree char *dir = g_build_filename(top ? top : ".", "tests", "data",
					       "virtqueue-corpus", NULL);
	g_autoptr(GDir) gd = g_dir_open(dir, 0, NULL);
	const char *name;
	unsigned int n = 0;

	g_assert_nonnull(gd);
	while ((name = g_dir_read_name(gd))) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autofree char *data = NULL;
		gsize len;

		g_assert_true(g_file_get_contents(path, &data, &len, NULL));
		run_one((uint8_t *)data, len);
		n++;
	}
	g_test_message("%u corpus inputs", n);
	g_assert_cmpuint(n, >, 0);
	world_free();
}

/* Writes the random mode's first @n inputs into @dir (corpus seeding). */
static void write_corpus(const char *dir, unsigned int n)
{
	g_autoptr(GRand) r = g_rand_new_with_seed_array((guint32 *)&seed, 2);

	for (unsigned int i = 0; i < n; i++) {
		g_autoptr(GByteArray) in = generate(r);
		g_autofree char *path = g_strdup_printf("%s/gen-%02u", dir, i);

		g_assert_true(g_file_set_contents(path, (char *)in->data,
						  in->len, NULL));
	}
}

int main(int argc, char **argv)
{
	const char *corpus_out = NULL;
	int j = 1;

	seed = g_get_real_time() ^ ((guint64)getpid() << 32);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = g_ascii_strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--write-corpus") && i + 1 < argc)
			corpus_out = argv[++i];
		else
			argv[j++] = argv[i];
	}
	argc = j;
	argv[argc] = NULL;
	if (corpus_out) {
		write_corpus(corpus_out, 16);
		return 0;
	}
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fuzz/virtqueue/seeded-random-inputs", test_random);
	g_test_add_func("/fuzz/virtqueue/corpus-replays", test_corpus);
	return g_test_run();
}
#endif /* LB_LIBFUZZER */
