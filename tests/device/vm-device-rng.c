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
#include "rng-model.h"

#define SYS_CLASS "/sys/class/loopback"
#define HWRNG "/sys/class/misc/hw_random"

static bool module_too_old;

typedef struct Rng {
	RngModel *m;
	LoopbackDevice *dev;
	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	unsigned int removed, broken;	/* events; atomic */
} Rng;

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

static void rng_start(Rng *r)
{
	rng_model_attach(r->m, r->ctx);
	r->thread = g_thread_new("serve", serve, r);
}

/* NULL (and the case skipped) when the module is too old. */
static Rng *rng_new(bool eventfds, bool start)
{
	Rng *r = g_new0(Rng, 1);
	g_autoptr(GError) err = NULL;

	r->m = rng_model_new(eventfds, &err);
	if (g_error_matches(err, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION)) {
		module_too_old = true;
		g_test_skip(err->message);
		g_free(r);
		return NULL;
	}
	g_assert_no_error(err);
	r->dev = rng_model_device(r->m);
	r->ctx = g_main_context_new();
	r->loop = g_main_loop_new(r->ctx, false);
	loopback_device_set_event_func(r->dev, on_event, r);
	if (start)
		rng_start(r);
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
	rng_model_free(r->m);
	g_main_loop_unref(r->loop);
	g_main_context_unref(r->ctx);
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
		off = GUINT64_FROM_LE(word) ^ RNG_STREAM_KEY;
		g_assert_cmpuint(off % 8, ==, 0);
		g_assert_cmpuint(off, >=, next);
		rng_stream_fill(off, want, sizeof(want));
		g_assert_cmpmem(buf, sizeof(buf), want, sizeof(want));
		next = off + sizeof(buf);
	}
	close(fd);
}

/* ---- the cases ---- */

static void test_module_not_loaded(void)
{
	LoopbackDeviceConfig c = rng_model_config(NULL);
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
	LoopbackDeviceConfig c = rng_model_config(NULL);
	g_autoptr(GError) err = NULL;
	LoopbackDevice *dev;

	c.wait_ms = 20000;
	dev = loopback_device_new(&c, &err);
	if (g_error_matches(err, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION)) {
		module_too_old = true;
		g_test_skip(err->message);
		return;
	}
	g_assert_no_error(err);
	g_test_message("created %s", loopback_device_get_name(dev));
	loopback_device_free(dev);
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
	g_assert_cmpuint(rng_model_errors(r->m), ==, 0);
	g_assert_cmpuint(rng_model_produced(r->m), >=,
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
	rng_start(r);
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
