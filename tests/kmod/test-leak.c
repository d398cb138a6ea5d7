// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-leak: creates and destroys an entropy device N times (default 200)
 * and checks that the kernel's memory comes back.  Every device is
 * answered (the guest's virtio_rng probes it) and torn down in a different
 * way, in two phases measured separately, so that a leak is attributed:
 *  phase 1 (60% of N): closed once bound, or once the first buffer was
 *          filled; munmap before or after close; with and without
 *          ioeventfds and irqfds;
 *  phase 2 (40% of N): closed right after CREATE, while the registration
 *          or the driver's probe still runs (the probe fails with -EIO).
 *
 * Measures, after a settling step, before and after the N cycles (and after
 * a warm-up that fills the caches a first device allocates once):
 *  - the active objects of every slab cache (/proc/slabinfo), after
 *    flushing the per-CPU slabs of every cache (/sys/kernel/slab/X/shrink);
 *  - the objects still allocated from loopback.ko's own functions, from
 *    SLUB's allocation tracking (/sys/kernel/debug/slab/X/alloc_traces,
 *    when booted with slub_debug=U, as tests/vm/run does);
 *  - free memory (the DMA windows are pages, not slab objects).
 *
 * Tolerances (why these numbers):
 *  - one slab cache may grow by fewer than P/2 objects over a phase of P
 *    cycles.  A leak of a single object per cycle grows its cache by P
 *    (and then SLUB's alloc_traces of that cache are printed: they name
 *    the allocating function); an idle busybox guest allocates
 *    a few dozen objects in the seconds of a run (printk, timers, sysfs
 *    lookups of this test), and per-CPU slabs are flushed before counting,
 *    so their free objects do not count as active;
 *  - all caches together may grow by less than P * 512 bytes: a leak of a
 *    few hundred bytes per device is caught even when spread over caches;
 *  - objects allocated by loopback's own functions may grow by fewer than
 *    P/4: the module allocates nothing per module lifetime after the
 *    warm-up, so anything per device shows up P times;
 *  - free memory (MemFree plus the pages parked in the per-CPU page
 *    lists, /proc/zoneinfo "count:", which alone move by up to 3 MiB) may
 *    drop by less than 2 MiB per phase: each device has a 64 KiB window,
 *    so leaking windows loses 7.5 MiB (phase 1) or 5 MiB (phase 2) at
 *    N=200; what else moves in an idle guest is a few hundred KiB.
 *
 *   test-leak [-n CYCLES]
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CACHES 1024

struct cache {
	char name[64];
	long active;
	long objsize;
};

struct snap {
	struct cache c[MAX_CACHES];
	int n;
	long memfree_kb;
	long lb_objs;		/* -1 when alloc_traces is not available */
	int fds;
};

static int ctl;

/* open fds, without reading /proc/self/fd (that would allocate dentries) */
static int count_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/*
 * Flushes the per-CPU slabs of every cache.  The shrink files stay open
 * from the first call on: closing a sysfs file frees its kernfs open node
 * with kfree_rcu(), whose batches drain up to 5 s later, and those would
 * count in one snapshot and not in the other.
 */
static void shrink_all(void)
{
	static int fds[MAX_CACHES], nfds = -1;
	char path[512];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int i;

	if (nfds < 0) {
		nfds = 0;
		d = opendir("/sys/kernel/slab");
		if (!d)
			return;
		while ((e = readdir(d)) && nfds < MAX_CACHES) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s", e->d_name);
			if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
				continue;	/* an alias */
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
			fds[nfds] = open(path, O_WRONLY | O_CLOEXEC);
			if (fds[nfds] >= 0)
				nfds++;
		}
		closedir(d);
	}
	for (i = 0; i < nfds; i++)
		if (pwrite(fds[i], "1", 1, 0) != 1)
			tap_diag("shrink: %s", strerror(errno));
}

static long loopback_objects(void)
{
	char path[512], line[512];
	struct dirent *e;
	long total = 0;
	DIR *d = opendir("/sys/kernel/debug/slab");
	bool any = false;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/slab/%s/alloc_traces", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		any = true;
		while (fgets(line, sizeof(line), f)) {
			if (strstr(line, "[loopback]"))
				total += strtol(line, NULL, 10);
		}
		fclose(f);
	}
	closedir(d);
	return any ? total : -1;
}

/*
 * Lets the kernel finish freeing, in the same order every time:
 *  - wait for RCU callbacks, delayed fputs and work items;
 *  - drop_caches runs the shrinkers: dentries and inodes of removed sysfs
 *    entries go, and kfree_rcu()'s batches are drained (they would
 *    otherwise wait up to 5 s);
 *  - writing /sys/kernel/slab/X/shrink flushes the per-CPU slabs, so that
 *    their free objects stop counting as active.
 */
static void settle(void)
{
	int round;

	lb_sleep_ms(1000);
	for (round = 0; round < 2; round++) {
		lb_write_file("/proc/sys/vm/drop_caches", "3");
		lb_sleep_ms(300);
		shrink_all();
	}
}

/*
 * /proc/slabinfo stays open (and its seq_file buffer allocated) from the
 * first snapshot on: opening it after the flush would take a partial slab
 * of "filp" as the CPU slab again, and its free objects count as active.
 */
static int slabinfo_fd = -1;

static int read_slabinfo(char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	if (slabinfo_fd < 0)
		slabinfo_fd = open("/proc/slabinfo", O_RDONLY | O_CLOEXEC);
	if (slabinfo_fd < 0 || lseek(slabinfo_fd, 0, SEEK_SET) < 0)
		return -1;
	while (got + 1 < len && (n = read(slabinfo_fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	return 0;
}

static void snapshot(struct snap *s)
{
	static char text[512 << 10];
	char line[512], *l, *save = NULL;
	FILE *f;

	memset(s, 0, sizeof(*s));
	/* debugfs reads first: they open and close a file per cache */
	s->lb_objs = loopback_objects();
	settle();
	if (read_slabinfo(text, sizeof(text)) == 0) {
		for (l = strtok_r(text, "\n", &save); l && s->n < MAX_CACHES; l = strtok_r(NULL, "\n", &save)) {
			struct cache *c = &s->c[s->n];
			long num, per, pages;

			if (l[0] == '#' || !strncmp(l, "slabinfo", 8))
				continue;
			if (sscanf(l, "%63s %ld %ld %ld %ld %ld", c->name, &c->active, &num, &c->objsize, &per,
				   &pages) == 6)
				s->n++;
		}
	}
	f = fopen("/proc/meminfo", "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemFree: %ld kB", &s->memfree_kb) == 1)
				break;
		fclose(f);
	}
	/* free pages parked in the per-CPU page lists are not in MemFree */
	f = fopen("/proc/zoneinfo", "re");
	if (f) {
		long cnt;

		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " count: %ld", &cnt) == 1)
				s->memfree_kb += cnt * (sysconf(_SC_PAGESIZE) / 1024);
		fclose(f);
	}
	s->fds = count_fds();
}

static int cycle(int i, bool immediate, const char **failure)
{
	struct lbdev_opts o = {
		.window_size = LOOPBACK_MIN_WINDOW_SIZE,
		.max_queue_size = 64,
		.ioeventfd = i % 3 == 0,
		.irqfd = i % 3 == 0,
	};
	char name[LOOPBACK_NAME_LEN + 1];
	struct lbdev *d = lbdev_create(ctl, &o);

	if (!d) {
		*failure = "CREATE failed";
		return -1;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;
	if (!immediate) {
		char rng[64];

		if (lb_wait_bound(name, "virtio_rng", NULL, 0, 20000) < 0 ||
		    lb_rng_wait_single(rng, sizeof(rng), 10000) < 0) {
			*failure = "not bound to virtio_rng (hwrng registered) within 20 s";
			lb_list_virtio();
			lbdev_destroy(d, false);
			return -1;
		}
		if (i % 4 == 1 && lbdev_wait_produced(d, 1, 10000) < 0) {
			*failure = "the driver never posted a buffer";
			lbdev_destroy(d, false);
			return -1;
		}
	}
	if (d->errmsg[0]) {
		tap_diag("cycle %d: device model: %s", i, d->errmsg);
	}
	lbdev_destroy(d, i & 1);
	if (lb_wait_gone(name, 10000) < 0) {
		*failure = "the virtio device stayed after close";
		lb_list_virtio();
		return -1;
	}
	return 0;
}

/* the allocation sites of the objects alive in cache NAME, biggest first */
static void show_traces(const char *name)
{
	char path[512], line[512], top[5][512];
	long cnt[5] = { 0 };
	FILE *f;
	int i, k;

	snprintf(path, sizeof(path), "/sys/kernel/debug/slab/%s/alloc_traces", name);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long c = strtol(line, NULL, 10);

		if (c <= 0)
			continue;
		for (i = 0; i < 5; i++) {
			if (c > cnt[i]) {
				for (k = 4; k > i; k--) {
					cnt[k] = cnt[k - 1];
					memcpy(top[k], top[k - 1], sizeof(top[k]));
				}
				cnt[i] = c;
				snprintf(top[i], sizeof(top[i]), "%s", line);
				break;
			}
		}
	}
	fclose(f);
	tap_diag("alloc_traces of %s (the biggest allocation sites alive now):", name);
	for (i = 0; i < 5 && cnt[i]; i++) {
		char *nl = strchr(top[i], '\n');

		if (nl)
			*nl = 0;
		tap_diag("  %s", top[i]);
	}
}

static void compare(const struct snap *a, const struct snap *b, int n, const char *phase)
{
	long total = 0, worst = 0;
	const char *worst_name = "-";
	int i, j, shown = 0;

	for (j = 0; j < b->n; j++) {
		long before = 0, delta;

		for (i = 0; i < a->n; i++)
			if (!strcmp(a->c[i].name, b->c[j].name)) {
				before = a->c[i].active;
				break;
			}
		delta = b->c[j].active - before;
		total += delta * b->c[j].objsize;
		if (delta > worst) {
			worst = delta;
			worst_name = b->c[j].name;
		}
		if (delta >= 8 || delta <= -8) {
			if (shown++ < 20)
				tap_diag("%s: slab %-24s %+6ld objects (%ld -> %ld, %ld bytes each)", phase,
					 b->c[j].name, delta, before, b->c[j].active, b->c[j].objsize);
		}
		if (delta >= n / 2)
			show_traces(b->c[j].name);
	}
	tap_ok(a->n > 0 && b->n > 0, "%s: read /proc/slabinfo (%d caches)", phase, b->n);
	tap_ok(worst < n / 2, "%s: no slab cache grew by %d objects or more over %d cycles (most: %s %+ld)", phase,
	       n / 2, n, worst_name, worst);
	tap_ok(total < (long)n * 512, "%s: all slab caches together grew by less than %d bytes (%+ld)", phase,
	       n * 512, total);
	if (a->lb_objs >= 0 && b->lb_objs >= 0)
		tap_ok(b->lb_objs - a->lb_objs < n / 4,
		       "%s: objects allocated by loopback.ko's functions: %ld before, %ld after (tolerance %d)", phase,
		       a->lb_objs, b->lb_objs, n / 4);
	else
		tap_skip("%s: objects allocated by loopback.ko: no /sys/kernel/debug/slab/*/alloc_traces (slub_debug=U)",
			 phase);
	tap_ok(a->memfree_kb - b->memfree_kb < 2048, "%s: free memory dropped by less than 2 MiB (%ld kB -> %ld kB)",
	       phase, a->memfree_kb, b->memfree_kb);
	tap_ok(a->fds == b->fds, "%s: this process's open fds: %d before, %d after", phase, a->fds, b->fds);
}

static bool run_phase(int n, bool immediate, const char *phase, int base)
{
	static struct snap before, after;
	const char *failure = NULL;
	uint64_t t0;
	int i;

	snapshot(&before);
	tap_diag("%s: before: free %ld kB, loopback objects %ld", phase, before.memfree_kb, before.lb_objs);
	t0 = lb_now_ms();
	for (i = 0; i < n; i++) {
		if (cycle(i, immediate, &failure) < 0)
			break;
		if (lb_virtio_count() != base) {
			failure = "virtio device count changed";
			break;
		}
	}
	tap_ok(i == n, "%s: %d create/destroy cycles (%d done in %llu ms)%s%s", phase, n, i,
	       (unsigned long long)(lb_now_ms() - t0), failure ? ": " : "", failure ? failure : "");
	snapshot(&after);
	tap_diag("%s: after: free %ld kB, loopback objects %ld", phase, after.memfree_kb, after.lb_objs);
	compare(&before, &after, n, phase);
	return i == n;
}

int main(int argc, char **argv)
{
	const char *failure = NULL;
	int n = 200, warm = 16, i, base, opt, n1;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt == 'n') {
			n = atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-n CYCLES]\n", argv[0]);
			return 2;
		}
	}
	if (n < 8)
		n = 8;
	tap_init("test-leak");
	tap_watchdog(280);
	ctl = lb_open_ctl();
	base = lb_virtio_count();
	/* debugfs allocates per file on its first open: do that before measuring;
	 * the shrink files stay open from here on */
	loopback_objects();
	shrink_all();
	{
		static char text[512 << 10];

		read_slabinfo(text, sizeof(text));
	}

	for (i = 0; i < warm; i++)
		if (cycle(i, i % 4 == 3, &failure) < 0)
			break;
	tap_ok(i == warm, "warm-up: %d create/destroy cycles%s%s", warm, failure ? ": " : "", failure ? failure : "");
	if (i != warm)
		return tap_finish();
	/* the allocation tracking must see a live device, or it proves nothing */
	{
		struct lbdev_opts o = { .window_size = LOOPBACK_MIN_WINDOW_SIZE };
		struct lbdev *d = lbdev_create(ctl, &o);
		long live;

		if (d && lb_wait_bound(d->info.name, "virtio_rng", NULL, 0, 20000) == 0) {
			live = loopback_objects();
			if (live < 0)
				tap_skip("alloc_traces: not available (boot with slub_debug=U)");
			else
				tap_ok(live > 0, "alloc_traces sees the objects of a live device (%ld from loopback.ko)",
				       live);
		} else {
			tap_ok(false, "a device for the tracking check: %s", d ? "not bound" : strerror(errno));
		}
		if (d) {
			char name[LOOPBACK_NAME_LEN + 1];

			memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
			name[LOOPBACK_NAME_LEN] = 0;
			lbdev_destroy(d, false);
			lb_wait_gone(name, 10000);
		}
	}
	n1 = n * 3 / 5;
	if (run_phase(n1, false, "phase 1 (close once bound)", base))
		run_phase(n - n1, true, "phase 2 (close right after CREATE)", base);
	close(ctl);
	return tap_finish();
}
