// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-rng: plays a virtio entropy device by hand, through the uapi only
 * (no libloopback): creates device id 4 with one queue, maps the DMA
 * window, answers the register traps, walks the split virtqueue in the
 * window on every kick and fills the driver's buffers with a known byte
 * stream, then raises the interrupt.  Meanwhile it reads /dev/hwrng and
 * checks that it returns exactly the bytes the device put in.
 *
 * The device model itself is in lbtest.c (lbdev_*, process_queue()).
 * Variants: kick by posted QueueNotify trap or by ioeventfd; interrupt by
 * LOOPBACK_DEV_INTERRUPT or by irqfd; buffers filled completely or
 * partially (used.len shorter than the buffer).
 *
 * Partial fills use 32 or 16 bytes of the driver's 64-byte buffer: lengths
 * that divide the 64-byte reads of the hwrng core.  Other lengths hang the
 * reader in the guest's driver, not in loopback.ko: Debian 6.1.192's
 * virtio-rng copy_data() clamps with `avail - data_idx` where data_avail
 * already counts only the bytes left, so after a fill is consumed in part
 * it copies too little, data_avail never reaches 0, no new buffer is
 * posted, and virtio_read() waits forever for a completion.
 *
 *   test-rng [-s BYTES]   bytes to read per variant (multiple of 64; 32768)
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t nbytes = 32768;

struct variant {
	const char *name;
	bool ioeventfd, irqfd;
	enum lbdev_fill fill;
	uint32_t fill_len;
	bool close_ctl;		/* close /dev/loopback right after CREATE */
	uint32_t qsize;
};

static void run_variant(const struct variant *v)
{
	struct lbdev_opts o = {
		.ioeventfd = v->ioeventfd,
		.irqfd = v->irqfd,
		.fill = v->fill,
		.fill_len = v->fill_len,
		.max_queue_size = v->qsize,
	};
	char name[LOOPBACK_NAME_LEN + 1], vdev[64], rng[64];
	uint8_t *buf = malloc(nbytes);
	struct lb_match m;
	struct lbdev *d;
	uint64_t t0, t1;
	ssize_t n;
	int ctl, rc;

	if (!buf)
		tap_bail("malloc");
	tap_diag("variant: %s", v->name);
	ctl = lb_open_ctl();
	d = lbdev_create(ctl, &o);
	if (v->close_ctl || !d)
		close(ctl);
	if (!d) {
		tap_ok(false, "%s: CREATE (and bind eventfds, map the window): %s", v->name, strerror(errno));
		free(buf);
		return;
	}
	memcpy(name, d->info.name, LOOPBACK_NAME_LEN);
	name[LOOPBACK_NAME_LEN] = 0;

	rc = lb_wait_bound(name, "virtio_rng", vdev, sizeof(vdev), 20000);
	tap_ok(rc == 0, "%s: %s bound to virtio_rng (%s)%s", v->name, name, rc ? "no" : vdev,
	       v->close_ctl ? " with /dev/loopback closed" : "");
	if (rc) {
		lb_list_virtio();
		goto out;
	}
	rc = lbdev_wait_status(d, VS_DRIVER_OK, 10000);
	tap_diag("device model: status %#x after bind%s", d->status,
		 rc ? " (no DRIVER_OK seen: does the kernel answer Status itself?)" : "");
	rc = lb_rng_wait_single(rng, sizeof(rng), 10000);
	tap_ok(rc == 0, "%s: hwrng %s registered", v->name, rc ? "none" : rng);
	if (rc)
		goto out;
	rc = lb_rng_set_current(rng);
	tap_ok(rc == 0, "%s: rng_current = %s%s%s", v->name, rng, rc ? ": " : "", rc ? strerror(errno) : "");
	if (rc)
		goto out;

	t0 = lb_now_ns();
	n = lb_hwrng_read(buf, nbytes, 4096, 60000);
	t1 = lb_now_ns();
	tap_ok(n == (ssize_t)nbytes, "%s: read %zu bytes from /dev/hwrng: %zd%s%s", v->name, nbytes, n,
	       n < 0 ? " " : "", n < 0 ? strerror((int)-n) : "");
	if (n > 0) {
		uint64_t produced = lbdev_produced(d);

		tap_diag("%zd bytes in %.1f ms (%.0f KiB/s); device produced %llu bytes in %llu fills",
			 n, (t1 - t0) / 1e6, n / 1024.0 / ((t1 - t0) / 1e9 + 1e-9),
			 (unsigned long long)produced, (unsigned long long)d->fills);
		rc = lb_stream_match(d->o.seed, produced, buf, (size_t)n, 16, &m);
		tap_ok(rc == 0, "%s: /dev/hwrng returned exactly the device's bytes, in order "
		       "(stream %llu..%llu, %u run%s, %llu bytes taken by other readers)%s",
		       v->name, (unsigned long long)m.first, (unsigned long long)m.last, m.runs,
		       m.runs == 1 ? "" : "s", (unsigned long long)m.skipped,
		       rc ? "" : "");
		if (rc) {
			size_t i, at = m.bad_at;

			tap_diag("mismatch at data offset %zu (runs so far %u); data there:", at, m.runs);
			for (i = at; i < at + 32 && i < (size_t)n; i += 16) {
				char hex[64] = "";
				size_t j;

				for (j = i; j < i + 16 && j < (size_t)n; j++)
					snprintf(hex + strlen(hex), sizeof(hex) - strlen(hex), "%02x", buf[j]);
				tap_diag("  %06zx: %s", i, hex);
			}
		}
	}
	pthread_mutex_lock(&d->lock);
	tap_diag("traps %llu (posted %llu), replies %llu, QueueNotify traps %llu, ioeventfd kicks %llu, "
		 "interrupts %llu, resets %u, unknown reads %llu writes %llu",
		 (unsigned long long)d->traps, (unsigned long long)d->posted,
		 (unsigned long long)d->replies, (unsigned long long)d->notify_traps,
		 (unsigned long long)d->eventfd_kicks, (unsigned long long)d->interrupts, d->resets,
		 (unsigned long long)d->unknown_reads, (unsigned long long)d->unknown_writes);
	if (v->ioeventfd)
		tap_ok(d->eventfd_kicks > 0 && d->notify_traps == 0,
		       "%s: kicks came through the ioeventfd only (%llu kicks, %llu QueueNotify traps)", v->name,
		       (unsigned long long)d->eventfd_kicks, (unsigned long long)d->notify_traps);
	else
		tap_ok(d->notify_traps > 0 && d->eventfd_kicks == 0,
		       "%s: kicks came as posted QueueNotify traps (%llu)", v->name,
		       (unsigned long long)d->notify_traps);
	tap_ok(d->interrupts > 0 && !d->interrupt_errors, "%s: %llu interrupts raised through %s, %llu failed",
	       v->name, (unsigned long long)d->interrupts, v->irqfd ? "the irqfd" : "LOOPBACK_DEV_INTERRUPT",
	       (unsigned long long)d->interrupt_errors);
	tap_ok(!d->errmsg[0] && !d->reply_errors && !d->ring_errors,
	       "%s: the device model saw no protocol error%s%s", v->name, d->errmsg[0] ? ": " : "", d->errmsg);
	pthread_mutex_unlock(&d->lock);
out:
	lbdev_destroy(d, false);
	tap_ok(lb_wait_gone(name, 10000) == 0, "%s: the virtio device is gone after close", v->name);
	{
		char avail[256];

		lb_rng_available(avail, sizeof(avail));
		tap_ok(!avail[0], "%s: its hwrng is unregistered (rng_available virtio: '%s')", v->name, avail);
	}
	if (!v->close_ctl)
		close(ctl);
	free(buf);
}

int main(int argc, char **argv)
{
	static const struct variant variants[] = {
		{ "trap kick + INTERRUPT ioctl", false, false, LB_FILL_FULL, 0, true, 0 },
		{ "ioeventfd kick + INTERRUPT ioctl", true, false, LB_FILL_FULL, 0, false, 0 },
		{ "trap kick + irqfd", false, true, LB_FILL_FULL, 0, false, 0 },
		{ "ioeventfd kick + irqfd", true, true, LB_FILL_FULL, 0, false, 0 },
		{ "32-byte fills (used.len < buffer), trap kick", false, false, LB_FILL_PARTIAL, 32, false, 0 },
		{ "16-byte fills, ioeventfd + irqfd, 2-entry ring", true, true, LB_FILL_PARTIAL, 16, false, 2 },
	};
	unsigned int i;
	int opt;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		switch (opt) {
		case 's':
			nbytes = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-s BYTES]\n", argv[0]);
			return 2;
		}
	}
	if (!nbytes || nbytes % 64) {
		fprintf(stderr, "-s: a multiple of 64, please\n");
		return 2;
	}
	tap_init("test-rng");
	close(lb_open_ctl());	/* skips when there is no /dev/loopback */
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		tap_watchdog(120);
		run_variant(&variants[i]);
	}
	return tap_finish();
}
