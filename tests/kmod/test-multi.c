// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-multi: 16 entropy devices at once, each served by its own thread
 * with its own byte stream.  All must bind to virtio_rng; every hwrng they
 * register, once made current, must deliver the stream of exactly one of
 * them, and each device's stream must turn up exactly once.  Half of the
 * devices use ioeventfd + irqfd, half traps + the INTERRUPT ioctl.
 *
 *   test-multi [-n DEVICES]   (default 16)
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXDEV 64

int main(int argc, char **argv)
{
	struct lbdev *d[MAXDEV] = { 0 };
	char avail[4096], *tok, *save = NULL;
	int n = 16, i, opt, ctl, base, bound = 0, rngs = 0, claimed[MAXDEV] = { 0 };
	bool all_ok = true;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt == 'n') {
			n = atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-n DEVICES]\n", argv[0]);
			return 2;
		}
	}
	if (n < 1 || n > MAXDEV)
		n = 16;
	tap_init("test-multi");
	tap_watchdog(200);
	ctl = lb_open_ctl();
	base = lb_virtio_count();

	for (i = 0; i < n; i++) {
		struct lbdev_opts o = {
			.seed = 0xabc000 + (uint64_t)i * 7919,
			.ioeventfd = i & 1,
			.irqfd = i & 1,
			.window_size = 128 << 10,
		};

		d[i] = lbdev_create(ctl, &o);
		if (!d[i]) {
			tap_ok(false, "CREATE device %d: %s", i, strerror(errno));
			break;
		}
	}
	tap_ok(i == n, "created %d devices", n);
	n = i;
	for (i = 0; i < n; i++)
		if (lb_wait_bound(d[i]->info.name, "virtio_rng", NULL, 0, 30000) == 0)
			bound++;
	tap_ok(bound == n, "%d of %d devices bound to virtio_rng", bound, n);
	if (bound != n)
		lb_list_virtio();
	tap_ok(lb_virtio_count() == base + n, "%d virtio devices (was %d)", lb_virtio_count(), base);

	/* wait until every hwrng is registered */
	{
		uint64_t end = lb_now_ms() + 10000;

		do {
			lb_rng_available(avail, sizeof(avail));
			rngs = 0;
			for (tok = avail; tok && *tok; tok = strchr(tok + 1, ' '))
				rngs++;
			if (rngs >= n)
				break;
			lb_sleep_ms(20);
		} while (lb_now_ms() < end);
	}
	tap_ok(rngs == n, "%d virtio hwrngs registered: %s", rngs, avail);

	for (tok = strtok_r(avail, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		uint8_t buf[1024];
		struct lb_match m;
		ssize_t got;
		int owner = -1, matches = 0;

		if (lb_rng_set_current(tok) < 0) {
			tap_ok(false, "rng_current = %s: %s", tok, strerror(errno));
			all_ok = false;
			continue;
		}
		got = lb_hwrng_read(buf, sizeof(buf), sizeof(buf), 20000);
		if (got != (ssize_t)sizeof(buf)) {
			tap_ok(false, "%s: read %zu bytes: %zd", tok, sizeof(buf), got);
			all_ok = false;
			continue;
		}
		for (i = 0; i < n; i++) {
			if (lb_stream_match(d[i]->o.seed, lbdev_produced(d[i]), buf, sizeof(buf), 4, &m) == 0) {
				owner = i;
				matches++;
			}
		}
		if (!tap_ok(matches == 1 && !claimed[owner], "%s delivers the stream of device %d (%s)", tok, owner,
			    owner >= 0 ? d[owner]->info.name : "none"))
			all_ok = false;
		if (owner >= 0)
			claimed[owner]++;
	}
	for (i = 0; i < n; i++)
		if (claimed[i] != 1)
			all_ok = false;
	tap_ok(all_ok, "each of the %d devices delivered its own stream through exactly one hwrng", n);
	for (i = 0; i < n; i++) {
		if (d[i]->errmsg[0]) {
			tap_diag("device %d model error: %s", i, d[i]->errmsg);
			all_ok = false;
		}
	}
	tap_ok(all_ok, "no device model saw a protocol error");

	/* close them all at once, from the last */
	for (i = n - 1; i >= 0; i--)
		lbdev_destroy(d[i], i & 1);
	tap_ok(lb_wait_count(base, 20000) == 0, "all %d virtio devices gone after close (%d left)", n,
	       lb_virtio_count() - base);
	lb_rng_available(avail, sizeof(avail));
	tap_ok(!avail[0], "no virtio hwrng left ('%s')", avail);
	close(ctl);
	return tap_finish();
}
