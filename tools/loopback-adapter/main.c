// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * loopback-adapter: serves the devices of its --device options to this
 * host's drivers.  One GMainLoop serves them all; each device type runs
 * its own queue threads if it wants them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify.h"
#include "options.h"
#include "sysfs.h"

#define BIND_TIMEOUT_S 10
#define REMOVE_TIMEOUT_S 60

typedef struct Served {
	const AdapterDeviceType *type;
	AdapterDeviceOpts *opts;	/* the options' */
	AdapterDevice *inst;
	LoopbackDevice *dev;		/* the type's, from start */
	bool reported;			/* its line was printed */
	bool gone;			/* removed or broken */
	struct Adapter *a;
} Served;

typedef struct Adapter {
	AdapterOptions opts;
	GPtrArray *served;		/* Served *, in --device order */
	GMainLoop *loop;
	bool stopping;
	int status;
	int ready_fd;			/* --daemonize: to the parent, else -1 */
	gint64 bind_deadline;
	bool bind_warned;
	GString *lines;			/* the devices' lines, for systemd */
} Adapter;

static void say(Adapter *a, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void say(Adapter *a, const char *fmt, ...)
{
	va_list ap;

	if (!a->opts.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, ADAPTER_PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void served_free(Served *s)
{
	if (s->inst)
		s->type->free(s->inst);
	g_free(s);
}

static bool all_gone(Adapter *a)
{
	for (guint i = 0; i < a->served->len; i++)
		if (!((Served *)a->served->pdata[i])->gone)
			return false;
	return true;
}

/* ---- startup: the lines of `losetup --show` style ---- */

static void write_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

/* --daemonize: the parent exits 0 on this byte; stdio goes away. */
static void ready(Adapter *a)
{
	int null;

	if (a->ready_fd < 0)
		return;
	write_all(a->ready_fd, "", 1);
	close(a->ready_fd);
	a->ready_fd = -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		close(null);
	}
}

static void report(Adapter *a, Served *s, const char *node)
{
	g_autofree char *line = g_strdup_printf(
		"%s %s %s\n", loopback_device_get_name(s->dev), s->type->name,
		node);

	g_string_append_printf(a->lines, "%s%s %s", a->lines->len ? ", " : "",
			       loopback_device_get_name(s->dev), node);
	if (a->ready_fd >= 0) {
		write_all(a->ready_fd, line, strlen(line));
	} else {
		fputs(line, stdout);
		fflush(stdout);
	}
	s->reported = true;
}

static void warn_unbound(Adapter *a, Served *s, unsigned int id)
{
	const char *drv = adapter_driver_for(id);
	const char *name = loopback_device_get_name(s->dev);
	g_autofree char *what = drv ?
		g_strdup_printf("load %s (modprobe %s)", drv, drv) :
		g_strdup_printf("load the driver of virtio device id %u", id);

	fprintf(stderr, ADAPTER_PROG ": %s: no driver bound within %d s: %s\n",
		name, BIND_TIMEOUT_S, what);
	adapter_notify("STATUS=%s: no driver bound yet: %s", name, what);
}

static gboolean check_bound(void *data)
{
	Adapter *a = data;
	bool late = g_get_monotonic_time() > a->bind_deadline;
	bool waiting = false;

	for (guint i = 0; i < a->served->len; i++) {
		Served *s = a->served->pdata[i];
		g_autofree char *node = NULL;
		unsigned int id;

		if (s->reported || s->gone)
			continue;
		node = adapter_sysfs_node(loopback_device_get_name(s->dev),
					  &id);
		if (node)
			report(a, s, node);
		else if (late && !a->bind_warned)
			warn_unbound(a, s, id);
		waiting |= !node;
	}
	if (late)
		a->bind_warned = true;
	/* a daemon does not hold its caller longer than the bind timeout */
	if (!waiting || late)
		ready(a);
	/* systemd's start job ends when every device is usable */
	if (!waiting)
		adapter_notify("READY=1\nSTATUS=Serving %s", a->lines->len ?
			       a->lines->str : "no device (all broke)");
	return waiting ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- the end: removal, signals ---- */

static void on_event(LoopbackDevice *dev, LoopbackDeviceEvent event,
		     const GError *error, void *data)
{
	Served *s = data;
	Adapter *a = s->a;

	s->gone = true;
	if (event == LOOPBACK_DEVICE_EVENT_BROKEN) {
		fprintf(stderr, ADAPTER_PROG ": %s\n", error->message);
		a->status = 1;
	} else {
		say(a, "%s removed", loopback_device_get_name(dev));
	}
	if (s->type->stop)
		s->type->stop(s->inst);
	if (all_gone(a))
		g_main_loop_quit(a->loop);
}

static gboolean remove_timeout(void *data)
{
	Adapter *a = data;

	fprintf(stderr, ADAPTER_PROG ": the devices were not removed within "
		"%d s; closing them\n", REMOVE_TIMEOUT_S);
	a->status = 1;
	g_main_loop_quit(a->loop);
	return G_SOURCE_REMOVE;
}

static gboolean on_stop(void *data)
{
	Adapter *a = data;

	if (a->stopping) {
		/* a second signal: close them all now, the kernel breaks them */
		g_main_loop_quit(a->loop);
		return G_SOURCE_CONTINUE;
	}
	a->stopping = true;
	adapter_notify("STOPPING=1\nSTATUS=Removing %u device(s)",
		       a->served->len);
	say(a, "removing %u device(s)", a->served->len);
	for (guint i = 0; i < a->served->len; i++) {
		Served *s = a->served->pdata[i];
		g_autoptr(GError) err = NULL;

		if (s->gone)
			continue;
		if (!loopback_device_remove(s->dev, 0, &err)) {
			fprintf(stderr, ADAPTER_PROG ": %s\n", err->message);
			s->gone = true;
		}
	}
	if (all_gone(a))
		g_main_loop_quit(a->loop);
	else
		g_timeout_add_seconds(REMOVE_TIMEOUT_S, remove_timeout, a);
	return G_SOURCE_CONTINUE;
}

static gboolean on_reload(void *data)
{
	Adapter *a = data;

	for (guint i = 0; i < a->served->len; i++) {
		Served *s = a->served->pdata[i];
		g_autoptr(GError) err = NULL;

		if (s->gone || !s->type->reload)
			continue;
		if (!s->type->reload(s->inst, &err))
			fprintf(stderr, ADAPTER_PROG ": %s: reload: %s\n",
				loopback_device_get_name(s->dev),
				err->message);
		else
			say(a, "%s reloaded", loopback_device_get_name(s->dev));
	}
	return G_SOURCE_CONTINUE;
}

/* ---- setup ---- */

/* Every --device's type and keys, before any kernel call: exit 2 on error. */
static bool create_all(Adapter *a, GError **error)
{
	for (guint i = 0; i < a->opts.devices->len; i++) {
		AdapterDeviceOpts *o = a->opts.devices->pdata[i];
		const AdapterDeviceType *t = adapter_device_type_find(o->type);
		Served *s;

		if (!t) {
			g_autofree char *names = adapter_device_type_names();

			g_set_error(error, G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "%s%s--device %s: unknown device type '%s' "
				    "(known: %s)", o->where ? o->where : "",
				    o->where ? ": " : "", o->text, o->type,
				    names);
			return false;
		}
		s = g_new0(Served, 1);
		s->type = t;
		s->opts = o;
		s->a = a;
		g_ptr_array_add(a->served, s);
		s->inst = t->create(o, error);
		if (!s->inst || !adapter_device_opts_check_used(o, error)) {
			if (o->where)
				g_prefix_error(error, "%s: ", o->where);
			return false;
		}
	}
	return true;
}

static bool start_all(Adapter *a, GError **error)
{
	for (guint i = 0; i < a->served->len; i++) {
		Served *s = a->served->pdata[i];

		/* a real context: NULL means "none" to some APIs */
		s->dev = s->type->start(s->inst, g_main_context_default(),
					 error);
		if (!s->dev) {
			g_prefix_error(error, "--device %s: ", s->opts->text);
			if (s->opts->where)
				g_prefix_error(error, "%s: ", s->opts->where);
			return false;
		}
		loopback_device_set_event_func(s->dev, on_event, s);
		say(a, "%s: %s", loopback_device_get_name(s->dev),
		    s->opts->text);
	}
	return true;
}

/*
 * --daemonize: the parent relays the device lines and exits when the
 * daemon says it is ready (0) or dies first (its status).
 */
static int daemonize(Adapter *a)
{
	int p[2], st;
	pid_t pid;
	char buf[512];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(p[0]);
		a->ready_fd = p[1];
		setsid();
		return -1;
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		char *nul;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		nul = memchr(buf, 0, (size_t)n);
		write_all(STDOUT_FILENO, buf, nul ? (size_t)(nul - buf) :
						    (size_t)n);
		if (nul)
			return 0;
	}
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		return WEXITSTATUS(st) ? WEXITSTATUS(st) : 1;
	return 1;
}

static int run(Adapter *a)
{
	g_autoptr(GError) err = NULL;
	int ret;

	if (!create_all(a, &err)) {
		fprintf(stderr, ADAPTER_PROG ": %s\n", err->message);
		return ADAPTER_EXIT_USAGE;
	}
	if (a->opts.daemonize && (ret = daemonize(a)) >= 0)
		return ret;
	if (a->opts.pid_file) {
		g_autofree char *pid = g_strdup_printf("%d\n", getpid());

		if (!g_file_set_contents(a->opts.pid_file, pid, -1, &err)) {
			fprintf(stderr, ADAPTER_PROG ": --pid-file: %s\n",
				err->message);
			return 1;
		}
	}
	a->loop = g_main_loop_new(NULL, false);
	g_unix_signal_add(SIGINT, on_stop, a);
	g_unix_signal_add(SIGTERM, on_stop, a);
	g_unix_signal_add(SIGHUP, on_reload, a);
	if (!start_all(a, &err)) {
		fprintf(stderr, ADAPTER_PROG ": %s\n", err->message);
		a->status = 1;
	} else {
		a->bind_deadline = g_get_monotonic_time() +
				   BIND_TIMEOUT_S * G_USEC_PER_SEC;
		g_timeout_add(100, check_bound, a);
		g_main_loop_run(a->loop);
	}
	if (a->opts.pid_file)
		unlink(a->opts.pid_file);
	return a->status;
}

int main(int argc, char **argv)
{
	Adapter a = { .ready_fd = -1 };
	g_autoptr(GError) err = NULL;
	int ret;

	/* the library's warnings then say whose they are, not "process" */
	g_set_prgname(ADAPTER_PROG);
	if (!adapter_options_parse(&a.opts, argc, argv, &err)) {
		fprintf(stderr, ADAPTER_PROG ": %s\n", err->message);
		adapter_options_clear(&a.opts);
		return ADAPTER_EXIT_USAGE;
	}
	if (a.opts.help) {
		print_help(stdout);
		ret = 0;
	} else if (a.opts.version) {
		printf("%s (%s) %s\n", ADAPTER_PROG, PACKAGE_NAME,
		       PACKAGE_VERSION);
		ret = 0;
	} else {
		a.served = g_ptr_array_new_with_free_func(
			(GDestroyNotify)served_free);
		a.lines = g_string_new(NULL);
		ret = run(&a);
		/* the types free their devices: the kernel removes what is left */
		g_ptr_array_unref(a.served);
		g_string_free(a.lines, true);
		if (a.loop)
			g_main_loop_unref(a.loop);
	}
	adapter_options_clear(&a.opts);
	return ret;
}
