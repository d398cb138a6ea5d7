/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-bench: shared options, timing and statistics helpers.
 *
 * Everything here is static inline so that each subcommand's file can use
 * what it needs without a separate object.
 */
#ifndef LOOPBACK_BENCH_H
#define LOOPBACK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Options common to all subcommands (not all of them use every field). */
struct bench_options {
	uint64_t seed;			/* --seed: every random layout derives from it */
	unsigned int iterations;	/* --iterations: timed batches per measurement */
	unsigned int batch;		/* --batch: operations per timed batch */
	unsigned int addresses;		/* --addresses: length of the address list */
	bool full;			/* --full: also run the very slow cases */
	const char *only;		/* --only: run just this part, or NULL */
	const unsigned int *regions;	/* --regions: region counts to measure */
	unsigned int nregions;
	unsigned int threads;		/* --threads: most reader threads, or 0 */
	bool iterations_set;		/* --iterations given */
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define BENCH_DEFAULT_SEED		1
#define BENCH_DEFAULT_ITERATIONS	2000
#define BENCH_DEFAULT_BATCH		1000
/*
 * Long enough that a branch predictor cannot learn the sequence: with
 * 16,384 addresses replayed 120 times, a linear scan over 8 regions ran
 * 4x faster than on fresh addresses.
 */
#define BENCH_DEFAULT_ADDRESSES		(1u << 20)

int bench_memory(const struct bench_options *opts);

/* ---- time ---- */

/* CLOCK_MONOTONIC in ns: the clock is read once per batch, never per op. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- statistics over per-batch samples ---- */

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static inline void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
}

/*
 * Percentile @p (0..100) of sorted @v by linear interpolation between the
 * two nearest ranks, so that the median of an even count is the mean of
 * the middle pair.
 */
static inline double bench_percentile(const double *v, size_t n, double p)
{
	double rank, frac;
	size_t lo;

	if (n == 0)
		return 0.0;
	rank = p / 100.0 * (double)(n - 1);
	lo = (size_t)rank;
	if (lo >= n - 1)
		return v[n - 1];
	frac = rank - (double)lo;
	return v[lo] + (v[lo + 1] - v[lo]) * frac;
}

struct bench_stats {
	double median;
	double p99;
	double min;
	unsigned int samples;
};

/* Sorts @v in place. */
static inline struct bench_stats bench_summarise(double *v, size_t n)
{
	struct bench_stats s = { 0 };

	if (n == 0)
		return s;
	bench_sort(v, n);
	s.median = bench_percentile(v, n, 50.0);
	s.p99 = bench_percentile(v, n, 99.0);
	s.min = v[0];
	s.samples = (unsigned int)n;
	return s;
}

/* ---- random numbers ---- */

/*
 * splitmix64: tiny, and its output for a given seed never changes with the
 * libc or GLib version, so a printed seed reproduces a layout anywhere.
 */
static inline uint64_t bench_rand64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); the modulo bias is irrelevant for n far below 2^64. */
static inline uint64_t bench_rand_below(uint64_t *state, uint64_t n)
{
	return n ? bench_rand64(state) % n : 0;
}

#endif /* LOOPBACK_BENCH_H */
