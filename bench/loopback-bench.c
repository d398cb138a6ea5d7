/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-bench: micro-benchmarks for libloopback.
 *
 *   loopback-bench SUBCOMMAND [options]
 *
 * Each subcommand prints a table on stdout; see bench/README.md and
 * Documentation/performance.md for how to read it.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct bench_command {
	const char *name;
	int (*run)(const struct bench_options *opts);
	const char *summary;
};

static const struct bench_command commands[] = {
	{ "memory", bench_memory,
	  "memory API: translate/read cost vs. region count, commit cost" },
};

static const unsigned int default_regions[] = { 8, 64, 1000, 100000 };

static void print_help(FILE *out, const char *prog)
{
	size_t i;

	fprintf(out,
		"Usage: %s SUBCOMMAND [options]\n"
		"\n"
		"Subcommands:\n", prog);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "  %-10s %s\n", "blk",
		"block I/O with fio in one VM: loopback, loop, VDUSE, null_blk\n"
		"             (runs bench/blk-vm.sh; its options: blk --help)");
	fprintf(out,
		"\n"
		"Options:\n"
		"  -s, --seed N          seed of the random layouts (default %d)\n"
		"  -i, --iterations N    timed batches per measurement (default %d)\n"
		"  -b, --batch N         operations per timed batch (default %d)\n"
		"  -a, --addresses N     random addresses generated per layout\n"
		"                        (default %u)\n"
		"  -r, --regions LIST    comma-separated region counts\n"
		"                        (default 8,64,1000,100000)\n"
		"  -f, --full            also run the slow cases (100,000 single\n"
		"                        commits: O(n^2), minutes)\n"
		"  -o, --only PART       run one part of the subcommand\n"
		"                        (memory: lookup or commit)\n"
		"  -t, --threads N       memory: only the concurrency part, with\n"
		"                        1, 2, 4 ... N readers and a writer\n"
		"                        committing 1,000 times a second\n"
		"                        (--iterations: batches of 1024 reads per\n"
		"                        reader, default 50000)\n"
		"  -h, --help            show this help\n"
		"\n"
		"Timings are medians (and 99th percentiles) over batches; no\n"
		"result is ever compared against a threshold to fail.\n",
		BENCH_DEFAULT_SEED, BENCH_DEFAULT_ITERATIONS,
		BENCH_DEFAULT_BATCH, BENCH_DEFAULT_ADDRESSES);
}

static bool parse_uint(const char *s, unsigned long long max,
		       unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* "8,64,1000" -> array; region counts must be >= 1. */
static bool parse_regions(const char *s, unsigned int **plist,
			  unsigned int *pn)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned int *list = NULL, n = 0;
	bool ok = true;

	if (!copy)
		return false;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long long v;
		unsigned int *grown;

		if (!parse_uint(tok, 10000000, &v) || v == 0) {
			ok = false;
			break;
		}
		grown = realloc(list, (n + 1) * sizeof(*list));
		if (!grown) {
			ok = false;
			break;
		}
		list = grown;
		list[n++] = (unsigned int)v;
	}
	free(copy);
	if (!ok || n == 0) {
		free(list);
		return false;
	}
	*plist = list;
	*pn = n;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "batch", required_argument, NULL, 'b' },
		{ "addresses", required_argument, NULL, 'a' },
		{ "regions", required_argument, NULL, 'r' },
		{ "full", no_argument, NULL, 'f' },
		{ "only", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_options opts = {
		.seed = BENCH_DEFAULT_SEED,
		.iterations = BENCH_DEFAULT_ITERATIONS,
		.batch = BENCH_DEFAULT_BATCH,
		.addresses = BENCH_DEFAULT_ADDRESSES,
	};
	const struct bench_command *cmd = NULL;
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 :
			   argv[0];
	unsigned int *own_regions = NULL;
	unsigned long long v;
	size_t i;
	int c, ret;

	if (argc < 2) {
		print_help(stderr, prog);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		print_help(stdout, prog);
		return 0;
	}
	/* a VM run, driven by a script of its own */
	if (!strcmp(argv[1], "blk")) {
		argv[1] = LOOPBACK_SRCDIR "/bench/blk-vm.sh";
		execv(argv[1], argv + 1);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[1],
			strerror(errno));
		return 1;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "%s: unknown subcommand '%s'\n", prog, argv[1]);
		print_help(stderr, prog);
		return 2;
	}

	/* options follow the subcommand: shift it away for getopt */
	argv[1] = argv[0];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "s:i:b:a:r:fo:t:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_uint(optarg, ULLONG_MAX, &v))
				goto bad;
			opts.seed = v;
			break;
		case 'i':
			if (!parse_uint(optarg, 100000000, &v) || v == 0)
				goto bad;
			opts.iterations = (unsigned int)v;
			opts.iterations_set = true;
			break;
		case 'b':
			if (!parse_uint(optarg, 1000000, &v) || v == 0)
				goto bad;
			opts.batch = (unsigned int)v;
			break;
		case 'a':
			if (!parse_uint(optarg, 1u << 26, &v) || v == 0)
				goto bad;
			opts.addresses = (unsigned int)v;
			break;
		case 'r':
			free(own_regions);
			own_regions = NULL;
			if (!parse_regions(optarg, &own_regions,
					   &opts.nregions))
				goto bad;
			opts.regions = own_regions;
			break;
		case 'f':
			opts.full = true;
			break;
		case 'o':
			opts.only = optarg;
			break;
		case 't':
			if (!parse_uint(optarg, 64, &v) || v == 0)
				goto bad;
			opts.threads = (unsigned int)v;
			break;
		case 'h':
			print_help(stdout, prog);
			return 0;
		default:
			print_help(stderr, prog);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
			argv[optind]);
		return 2;
	}
	if (!own_regions) {
		opts.regions = default_regions;
		opts.nregions = ARRAY_SIZE(default_regions);
	}

	ret = cmd->run(&opts);
	free(own_regions);
	return ret;

bad:
	fprintf(stderr, "%s: invalid value '%s' for -%c\n", prog, optarg, c);
	return 2;
}
