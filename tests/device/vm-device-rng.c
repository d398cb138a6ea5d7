// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The device layer against the real loopback.ko, in a QEMU guest
 * (tests/kmod/vm-device.sh): a virtio entropy device made with
 * loopback_device_new(), its register block a small MemoryRegionOps model
 * of virtio-mmio, its queue walked through the device's AddressSpace,
 * served by the GSource on a thread of its own; the host's virtio-rng
 * driver reads it through /dev/hwrng and must get exactly its bytes.
 *
 *   vm-device-rng --tap [-p /device-vm/CASE]
 *
 * Exit status 4 (kselftest's skip) when the module is too old for the
 * library: the cases cannot run, and that must not read as a pass.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include <loopback/device.h>

#include "../../tools/loopback-adapter/sysfs.h"

#define VIRTIO_ID_ENTROPY 4
#define SYS_CLASS "/sys/class/loopback"
#define HWRNG "/sys/class/misc/hw_random"
/* every 8-byte word of the stream says where it is: o ^ STREAM_KEY */
#define STREAM_KEY 0x5eed0f10b4c4a11cULL

static bool module_too_old;

/* ---- the virtio-mmio register model (what loopback.ko traps) ---- */

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008,
	R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050, R_STATUS = 0x070,
	R_DESC_LO = 0x080, R_DESC_HI = 0x084, R_AVAIL_LO = 0x090,
	R_AVAIL_HI = 0x094, R_USED_LO = 0x0a0, R_USED_HI = 0x0a4,
};

typedef struct Rng {
	LoopbackDevice *dev;
	AddressSpace *as;
	bool eventfds;		/* kicks by ioeventfd, interrupts by irqfd */
	EventNotifier kick, irq;
	GSource *kick_source;

	uint32_t status, queue_sel, features_sel;
	uint64_t driver_features;
	uint32_t num;
	bool ready;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx;
	uint64_t produced;	/* stream bytes handed out; atomic reads */
	unsigned int bad;	/* ring errors seen; atomic reads */

	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	unsigned int removed, broken;	/* events; atomic */
} Rng;

static void set_lo(uint64_t *r, uint64_t v)
{
	*r = (*r & ~0xffffffffULL) | (uint32_t)v;
}

static void set_hi(uint64_t *r, uint64_t v)
{
	*r = (*r & 0xffffffffULL) | (v << 32);
}

static void stream_fill(uint64_t off, uint8_t *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i, word = (o & ~7ULL) ^ STREAM_KEY;

		buf[i] = (uint8_t)(word >> (8 * (o & 7)));
	}
}

/* Fills every device-writable buffer of the chain that starts at @head. */
static uint32_t fill_chain(Rng *r, uint16_t head)
{
	MemTxAttrs a = MEMTXATTRS_UNSPECIFIED;
	uint32_t total = 0;
	uint16_t i = head;

	for (unsigned int n = 0; n < r->num; n++) {
		hwaddr d = r->desc + 16ULL * i;
		uint64_t addr = address_space_ldq_le(r->as, d, a, NULL);
		uint32_t len = address_space_ldl_le(r->as, d + 8, a, NULL);
		uint16_t flags = address_space_lduw_le(r->as, d + 12, a, NULL);
		g_autofree uint8_t *buf = g_malloc(len ? len : 1);

		if (flags & 2) {	/* VRING_DESC_F_WRITE */
			stream_fill(r->produced + total, buf, len);
			if (address_space_write(r->as, addr, a, buf, len))
				g_atomic_int_inc(&r->bad);
			total += len;
		}
		if (!(flags & 1))	/* VRING_DESC_F_NEXT */
			return total;
		i = address_space_lduw_le(r->as, d + 14, a, NULL);
	}
	g_atomic_int_inc(&r->bad);
	return total;
}

static void process_queue(Rng *r)
{
	MemTxAttrs a = MEMTXATTRS_UNSPECIFIED;
	bool any = false;

	if (!r->ready)
		return;
	for (;;) {
		uint16_t idx = address_space_lduw_le(r->as, r->avail + 2, a,
						     NULL);
		uint16_t head;
		uint32_t len;
		hwaddr e;

		if (idx == r->last_avail)
			break;
		head = address_space_lduw_le(r->as, r->avail + 4 +
					     2ULL * (r->last_avail % r->num),
					     a, NULL);
		r->last_avail++;
		len = fill_chain(r, head);
		e = r->used + 4 + 8ULL * (r->used_idx % r->num);
		address_space_stl_le(r->as, e, head, a, NULL);
		address_space_stl_le(r->as, e + 4, len, a, NULL);
		/* the element before the index that publishes it */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		address_space_stw_le(r->as, r->used + 2, ++r->used_idx, a,
				     NULL);
		__atomic_fetch_add(&r->produced, len, __ATOMIC_RELEASE);
		any = true;
	}
	if (!any)
		return;
	if (r->eventfds)
		event_notifier_set(&r->irq);
	else if (!loopback_device_interrupt(r->dev, 0, NULL))
		g_atomic_int_inc(&r->bad);
}

static gboolean on_kick(int fd, GIOCondition cond, void *data)
{
	Rng *r = data;

	event_notifier_test_and_clear(&r->kick);
	process_queue(r);
	return G_SOURCE_CONTINUE;
}

static void queue_eventfds(Rng *r, bool on)
{
	MemoryRegion *regs = loopback_device_get_regs(r->dev);

	if (!r->eventfds)
		return;
	/* QEMU's way: the listener hands it to the kernel */
	if (on)
		memory_region_add_eventfd(regs, R_QUEUE_NOTIFY, 4, true, 0,
					  &r->kick);
	else
		memory_region_del_eventfd(regs, R_QUEUE_NOTIFY, 4, true, 0,
					  &r->kick);
}

static void reset(Rng *r)
{
	if (r->ready)
		queue_eventfds(r, false);
	r->status = r->queue_sel = r->features_sel = 0;
	r->driver_features = 0;
	r->num = 0;
	r->ready = false;
	r->desc = r->avail = r->used = 0;
	r->last_avail = r->used_idx = 0;
}

static uint64_t rng_read(void *opaque, hwaddr off, unsigned size)
{
	Rng *r = opaque;

	switch (off) {
	case R_MAGIC: return 0x74726976;
	case R_VERSION: return 2;
	case R_DEVICE_ID: return VIRTIO_ID_ENTROPY;
	case R_STATUS: return r->status;
	case R_QUEUE_NUM: return r->num;
	case R_QUEUE_READY: return r->ready;
	default: return 0;
	}
}

static void rng_write(void *opaque, hwaddr off, uint64_t v, unsigned size)
{
	Rng *r = opaque;

	switch (off) {
	case R_STATUS:
		if (v == 0)
			reset(r);
		else
			r->status = (uint32_t)v;
		break;
	case R_DRV_FEATURES_SEL: r->features_sel = (uint32_t)v; break;
	case R_DRV_FEATURES:
		if (r->features_sel < 2)
			r->driver_features |= v << (32 * r->features_sel);
		break;
	case R_QUEUE_SEL: r->queue_sel = (uint32_t)v; break;
	case R_QUEUE_NUM: r->num = (uint32_t)v; break;
	case R_DESC_LO: set_lo(&r->desc, v); break;
	case R_DESC_HI: set_hi(&r->desc, v); break;
	case R_AVAIL_LO: set_lo(&r->avail, v); break;
	case R_AVAIL_HI: set_hi(&r->avail, v); break;
	case R_USED_LO: set_lo(&r->used, v); break;
	case R_USED_HI: set_hi(&r->used, v); break;
	case R_QUEUE_READY:
		if ((v & 1) && !r->ready && r->queue_sel == 0 && r->num) {
			r->ready = true;
			queue_eventfds(r, true);
		}
		break;
	case R_QUEUE_NOTIFY:	/* a posted trap: no ioeventfd */
		process_queue(r);
		break;
	}
}

static const MemoryRegionOps rng_ops = {
	.read = rng_read,
	.write = rng_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 4, .max_access_size = 4 },
};

/* ---- serving, on a thread of its own ---- */

static void on_event(LoopbackDevice *dev, LoopbackDeviceEvent event,
		     const GError *error, void *data)
{
	Rng *r = data;

	g_test_message("%s: event %s: %s", loopback_device_get_name(dev),
		       event == LOOPBACK_DEVICE_EVENT_REMOVED ? "removed" :
							       "broken",
		       error->message);
	g_atomic_int_inc(event == LOOPBACK_DEVICE_EVENT_REMOVED ?
			 &r->removed : &r->broken);
}

static void *serve(void *data)
{
	Rng *r = data;

	g_main_context_push_thread_default(r->ctx);
	g_main_loop_run(r->loop);
	g_main_context_pop_thread_default(r->ctx);
	return NULL;
}

static LoopbackDeviceConfig rng_config(Rng *r)
{
	return (LoopbackDeviceConfig) {
		.device_id = VIRTIO_ID_ENTROPY,
		.num_queues = 1,
		.max_queue_size = 64,
		.window_size = 256 * 1024,
		.ops = &rng_ops,
		.opaque = r,
	};
}

/* NULL (and the case skipped) when the module is too old. */
static Rng *rng_new(bool eventfds, bool start)
{
	Rng *r = g_new0(Rng, 1);
	LoopbackDeviceConfig c = rng_config(r);
	g_autoptr(GError) err = NULL;

	r->eventfds = eventfds;
	r->dev = loopback_device_new(&c, &err);
	if (g_error_matches(err, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION)) {
		module_too_old = true;
		g_test_skip(err->message);
		g_free(r);
		return NULL;
	}
	g_assert_no_error(err);
	r->as = loopback_device_get_address_space(r->dev);
	r->ctx = g_main_context_new();
	r->loop = g_main_loop_new(r->ctx, false);
	loopback_device_set_event_func(r->dev, on_event, r);
	if (eventfds) {
		g_assert_cmpint(event_notifier_init(&r->kick, 0), ==, 0);
		g_assert_cmpint(event_notifier_init(&r->irq, 0), ==, 0);
		g_assert_true(loopback_device_set_irqfd(r->dev, 0, &r->irq,
							NULL));
		r->kick_source = g_unix_fd_source_new(
			event_notifier_get_fd(&r->kick), G_IO_IN);
		g_source_set_callback(r->kick_source, G_SOURCE_FUNC(on_kick),
				      r, NULL);
		g_source_attach(r->kick_source, r->ctx);
	}
	if (start) {
		loopback_device_attach(r->dev, r->ctx);
		r->thread = g_thread_new("serve", serve, r);
	}
	return r;
}

static void rng_stop(Rng *r)
{
	if (r->thread) {
		g_main_loop_quit(r->loop);
		g_thread_join(r->thread);
		r->thread = NULL;
	}
}

static void rng_free(Rng *r)
{
	rng_stop(r);
	/* the model's eventfd goes with the device */
	if (r->dev && r->ready)
		queue_eventfds(r, false);
	loopback_device_free(r->dev);
	if (r->kick_source) {
		g_source_destroy(r->kick_source);
		g_source_unref(r->kick_source);
	}
	g_main_loop_unref(r->loop);
	g_main_context_unref(r->ctx);
	if (r->eventfds) {
		loopback_memory_drain();
		event_notifier_cleanup(&r->kick);
		event_notifier_cleanup(&r->irq);
	}
	g_free(r);
}

/* ---- sysfs ---- */

static bool wait_for(bool (*cond)(const char *arg), const char *arg,
		     unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (!cond(arg)) {
		if (g_get_monotonic_time() > end)
			return false;
		g_usleep(10 * 1000);
	}
	return true;
}

static bool class_gone(const char *name)
{
	g_autofree char *dir = g_build_filename(SYS_CLASS, name, NULL);

	return !g_file_test(dir, G_FILE_TEST_EXISTS);
}

/* virtio_rng.N of our device registered with the hwrng core */
static bool rng_registered(const char *name)
{
	g_autofree char *avail = NULL;

	return g_file_get_contents(HWRNG "/rng_available", &avail, NULL,
				   NULL) && strstr(avail, "virtio_rng.");
}

static void use_virtio_rng(void)
{
	g_autofree char *avail = NULL;
	g_auto(GStrv) names = NULL;

	g_assert_true(g_file_get_contents(HWRNG "/rng_available", &avail,
					  NULL, NULL));
	names = g_strsplit_set(g_strstrip(avail), " ", -1);
	for (char **n = names; *n; n++)
		if (g_str_has_prefix(*n, "virtio_rng.")) {
			/* sysfs: no g_file_set_contents, it renames a temp file */
			int fd = open(HWRNG "/rng_current", O_WRONLY | O_CLOEXEC);

			g_assert_cmpint(fd, >=, 0);
			g_assert_cmpint(write(fd, *n, strlen(*n)), ==,
					(ssize_t)strlen(*n));
			close(fd);
			return;
		}
	g_assert_not_reached();
}

/*
 * Reads @n bytes from /dev/hwrng in 64-byte reads (the core's buffer) and
 * checks each is a piece of the stream, later than the one before: the
 * core's own reads for the entropy pool make gaps, nothing else may.
 */
static void read_and_check_hwrng(size_t n)
{
	int fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
	uint64_t next = 0;

	g_assert_cmpint(fd, >=, 0);
	for (size_t done = 0; done < n; done += 64) {
		uint8_t buf[64], want[64];
		uint64_t word, off;

		g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, sizeof(buf));
		memcpy(&word, buf, 8);
		off = GUINT64_FROM_LE(word) ^ STREAM_KEY;
		g_assert_cmpuint(off % 8, ==, 0);
		g_assert_cmpuint(off, >=, next);
		stream_fill(off, want, sizeof(want));
		g_assert_cmpmem(buf, sizeof(buf), want, sizeof(want));
		next = off + sizeof(buf);
	}
	close(fd);
}

/* ---- the cases ---- */

static void test_module_not_loaded(void)
{
	LoopbackDeviceConfig c = rng_config(NULL);
	g_autoptr(GError) err = NULL;

	if (g_file_test("/sys/module/loopback", G_FILE_TEST_EXISTS)) {
		g_test_skip("loopback.ko is loaded; the scenario runs this "
			    "case before modprobe");
		return;
	}
	g_assert_null(loopback_device_new(&c, &err));
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_NOT_FOUND);
	g_assert_cmpstr(err->message, ==, "/dev/loopback not found: load the "
			"module (modprobe loopback)");
}

/* The scenario runs modprobe in the background just before this case. */
static void test_waits_for_module_just_loaded(void)
{
	Rng *r = g_new0(Rng, 1);
	LoopbackDeviceConfig c = rng_config(r);
	g_autoptr(GError) err = NULL;
	LoopbackDevice *dev;

	c.wait_ms = 20000;
	dev = loopback_device_new(&c, &err);
	if (g_error_matches(err, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION)) {
		module_too_old = true;
		g_test_skip(err->message);
		g_free(r);
		return;
	}
	g_assert_no_error(err);
	g_test_message("created %s", loopback_device_get_name(dev));
	loopback_device_free(dev);
	g_free(r);
}

static void serve_and_read(bool eventfds)
{
	Rng *r = rng_new(eventfds, true);
	g_autofree char *name = NULL;

	if (!r)
		return;
	/* it must outlive the device */
	name = g_strdup(loopback_device_get_name(r->dev));
	g_assert_true(wait_for(rng_registered, name, 20000));
	use_virtio_rng();
	read_and_check_hwrng(16384);
	g_assert_cmpuint(g_atomic_int_get(&r->bad), ==, 0);
	g_assert_cmpuint(__atomic_load_n(&r->produced, __ATOMIC_ACQUIRE), >=,
			 16384);
	rng_free(r);
	g_assert_true(wait_for(class_gone, name, 20000));
}

static void test_hwrng_reads_eventfds(void)
{
	serve_and_read(true);
}

static void test_hwrng_reads_traps(void)
{
	serve_and_read(false);
}

static void test_orderly_removal(void)
{
	Rng *r = rng_new(true, true);
	g_autoptr(GError) err = NULL;
	g_autoptr(GError) again = NULL;
	g_autofree char *name = NULL;
	gint64 end;

	if (!r)
		return;
	name = g_strdup(loopback_device_get_name(r->dev));
	g_assert_true(wait_for(rng_registered, name, 20000));
	read_and_check_hwrng(1024);
	if (!loopback_device_remove(r->dev, 10000, &err) &&
	    g_error_matches(err, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION)) {
		g_test_skip(err->message);
		rng_free(r);
		return;
	}
	g_assert_no_error(err);
	end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	while (!g_atomic_int_get(&r->removed) &&
	       !g_atomic_int_get(&r->broken) && g_get_monotonic_time() < end)
		g_usleep(10 * 1000);
	g_assert_cmpuint(g_atomic_int_get(&r->removed), ==, 1);
	g_assert_cmpuint(g_atomic_int_get(&r->broken), ==, 0);
	/* the virtio device went while the model still answered */
	g_assert_null(adapter_sysfs_virtio(name));
	/* a second removal is refused */
	g_assert_false(loopback_device_remove(r->dev, 0, &again));
	g_assert_nonnull(again);
	g_test_message("second removal: %s", again->message);
	rng_free(r);
	g_assert_true(wait_for(class_gone, name, 20000));
}

/* Not served for longer than trap_timeout_ms: broken, reported once. */
static void test_unserved_device_breaks_once(void)
{
	Rng *r = rng_new(false, false);
	g_autofree char *tmo = NULL;
	g_autoptr(GError) err = NULL;
	unsigned int ms;

	if (!r)
		return;
	g_assert_true(g_file_get_contents("/sys/module/loopback/parameters/"
					  "trap_timeout_ms", &tmo, NULL,
					  NULL));
	ms = (unsigned int)g_ascii_strtoull(tmo, NULL, 10);
	if (ms > 5000) {
		g_test_skip("trap_timeout_ms is over 5 s: the scenario loads "
			    "the module with 2000");
		rng_free(r);
		return;
	}
	g_usleep((ms + 1500) * 1000ULL);
	loopback_device_attach(r->dev, r->ctx);
	r->thread = g_thread_new("serve", serve, r);
	for (int i = 0; i < 500 && !g_atomic_int_get(&r->broken); i++)
		g_usleep(10 * 1000);
	g_usleep(200 * 1000);
	g_assert_cmpuint(g_atomic_int_get(&r->broken), ==, 1);
	g_assert_cmpuint(g_atomic_int_get(&r->removed), ==, 0);
	rng_stop(r);
	g_assert_cmpint(loopback_device_dispatch(r->dev, &err), ==, -1);
	g_assert_error(err, LOOPBACK_ERROR, LOOPBACK_ERROR_BROKEN);
	g_test_message("%s", err->message);
	rng_free(r);
}

/* The serving process dies: the kernel removes the device. */
static void test_killed_process_device_gone(void)
{
	int p[2];
	char name[64] = "";
	ssize_t n;
	pid_t pid;
	int st;

	g_assert_cmpint(pipe(p), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		Rng *r = rng_new(true, true);

		close(p[0]);
		if (!r)
			_exit(4);
		if (write(p[1], loopback_device_get_name(r->dev),
			  strlen(loopback_device_get_name(r->dev))) < 0)
			_exit(1);
		close(p[1]);
		pause();
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], name, sizeof(name) - 1);
	close(p[0]);
	if (n <= 0) {
		g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 4) {
			module_too_old = true;
			g_test_skip("the module is too old for the library");
			return;
		}
		g_assert_not_reached();
	}
	name[n] = 0;
	g_assert_true(wait_for(rng_registered, name, 20000));
	g_assert_nonnull(adapter_sysfs_virtio(name));
	kill(pid, SIGKILL);
	g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
	g_assert_true(wait_for(class_gone, name, 20000));
}

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	/* a hang fails the case instead of the whole guest run */
	alarm(240);
	g_test_add_func("/device-vm/module-not-loaded-says-modprobe",
			test_module_not_loaded);
	g_test_add_func("/device-vm/waits-for-module-just-loaded",
			test_waits_for_module_just_loaded);
	g_test_add_func("/device-vm/hwrng-bytes-ioeventfd-irqfd",
			test_hwrng_reads_eventfds);
	g_test_add_func("/device-vm/hwrng-bytes-posted-traps-interrupt-ioctl",
			test_hwrng_reads_traps);
	g_test_add_func("/device-vm/orderly-removal-reports-removed",
			test_orderly_removal);
	g_test_add_func("/device-vm/unserved-device-breaks-once",
			test_unserved_device_breaks_once);
	g_test_add_func("/device-vm/killed-process-device-gone",
			test_killed_process_device_gone);
	ret = g_test_run();
	if (ret == 0 && module_too_old) {
		printf("# SKIP: loopback.ko is older than the library's API\n");
		return 4;
	}
	return ret;
}
