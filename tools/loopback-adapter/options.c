// SPDX-License-Identifier: LGPL-2.1-or-later
/* loopback-adapter's option parser and help text. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "options.h"

#define BAD(error, ...) \
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, __VA_ARGS__)

void print_help(FILE *out)
{
	fprintf(out,
"Usage: " ADAPTER_PROG " --device TYPE[,KEY=VALUE...] [--device ...]\n"
"                        [--config FILE] [--daemonize] [--pid-file FILE]\n"
"                        [--verbose]\n"
"       " ADAPTER_PROG " --help | --version\n"
"\n"
"Serves virtio devices to this host's own drivers through loopback.ko.\n"
"\n"
"  --device TYPE[,KEY=VALUE...]  a device; repeat for more.  A comma inside\n"
"                        a value is written twice (path=a,,b); booleans\n"
"                        are on or off\n"
"  --config FILE         read devices from FILE: one TYPE[,KEY=VALUE...]\n"
"                        per line, \"--device \" before it optional; blank\n"
"                        lines and lines starting with # are skipped\n"
"  --daemonize           go to the background once every device is up\n"
"  --pid-file FILE       write the process id to FILE\n"
"  --verbose             say what happens on stderr\n"
"  -h, --help            print this help and exit\n"
"  -V, --version         print the version and exit\n"
"\n"
"Once a driver has bound, one line per device goes to stdout:\n"
"NAME TYPE NODE (e.g. \"loopback0 blk /dev/vda\").  SIGINT or SIGTERM\n"
"removes every device and exits 0; SIGHUP reloads them.  Exit status 2:\n"
"bad options; 1: a device failed.  Under systemd (Type=notify) it sends\n"
"READY=1 once every driver has bound.\n"
"\n"
"Device types:\n");
	adapter_device_types_help(out);
	fprintf(out, "\nSee " ADAPTER_PROG "(1).\n");
}

/* ---- one --device ---- */

void adapter_device_opts_free(AdapterDeviceOpts *d)
{
	if (!d)
		return;
	g_free(d->text);
	g_free(d->where);
	g_free(d->type);
	if (d->keys)
		g_ptr_array_unref(d->keys);
	if (d->values)
		g_ptr_array_unref(d->values);
	g_free(d->used);
	g_free(d);
}

/* QEMU's key characters: letters, digits, '-', '_', '.'. */
static bool key_ok(const char *key)
{
	if (!*key)
		return false;
	for (const char *p = key; *p; p++)
		if (!g_ascii_isalnum(*p) && !strchr("-_.", *p))
			return false;
	return true;
}

/* The next item up to a single comma, ",," unescaped; NULL at the end. */
static char *next_item(const char **pos)
{
	const char *p = *pos;
	GString *s;

	if (!p)
		return NULL;
	s = g_string_new(NULL);
	for (; *p; p++) {
		if (*p == ',' && p[1] == ',') {
			g_string_append_c(s, ',');
			p++;
		} else if (*p == ',') {
			break;
		} else {
			g_string_append_c(s, *p);
		}
	}
	*pos = *p ? p + 1 : NULL;
	return g_string_free(s, false);
}

static bool add_pair(AdapterDeviceOpts *d, char *item, GError **error)
{
	char *eq = strchr(item, '=');

	if (!eq) {
		BAD(error, "--device %s: '%s' has no value: write %s=VALUE",
		    d->text, item, item);
		return false;
	}
	*eq = 0;
	if (!key_ok(item)) {
		BAD(error, "--device %s: '%s' is not a parameter name",
		    d->text, item);
		return false;
	}
	if (g_strcmp0(item, "type") == 0 && d->type) {
		BAD(error, "--device %s: the type is given twice", d->text);
		return false;
	}
	if (g_strcmp0(item, "type") == 0) {
		d->type = g_strdup(eq + 1);
		return true;
	}
	for (guint i = 0; i < d->keys->len; i++)
		if (strcmp(d->keys->pdata[i], item) == 0) {
			BAD(error, "--device %s: '%s' is given twice", d->text,
			    item);
			return false;
		}
	g_ptr_array_add(d->keys, g_strdup(item));
	g_ptr_array_add(d->values, g_strdup(eq + 1));
	return true;
}

AdapterDeviceOpts *adapter_device_opts_parse(const char *text,
					     GError **error)
{
	g_autoptr(AdapterDeviceOpts) d = g_new0(AdapterDeviceOpts, 1);
	const char *pos = text;
	bool first = true;
	char *item;

	if (!*text) {
		BAD(error, "--device '': no device type: write "
		    "--device TYPE[,KEY=VALUE...]");
		return NULL;
	}
	d->text = g_strdup(text);
	d->keys = g_ptr_array_new_with_free_func(g_free);
	d->values = g_ptr_array_new_with_free_func(g_free);
	while ((item = next_item(&pos))) {
		g_autofree char *owned = item;

		if (!*item) {
			BAD(error, "--device %s: an empty parameter (a stray "
			    "comma?)", text);
			return NULL;
		}
		/* the implied key: a first item without '=' is the type */
		if (first && !strchr(item, '='))
			d->type = g_strdup(item);
		else if (!add_pair(d, item, error))
			return NULL;
		first = false;
	}
	if (!d->type || !*d->type) {
		BAD(error, "--device %s: no device type: write "
		    "--device TYPE[,KEY=VALUE...]", text);
		return NULL;
	}
	d->used = g_new0(bool, d->keys->len ? d->keys->len : 1);
	return g_steal_pointer(&d);
}

static int find_key(AdapterDeviceOpts *d, const char *key)
{
	for (guint i = 0; i < d->keys->len; i++)
		if (strcmp(d->keys->pdata[i], key) == 0) {
			d->used[i] = true;
			return (int)i;
		}
	return -1;
}

const char *adapter_opt_string(AdapterDeviceOpts *d, const char *key,
			       const char *def)
{
	int i = find_key(d, key);

	return i < 0 ? def : d->values->pdata[i];
}

bool adapter_opt_bool(AdapterDeviceOpts *d, const char *key, bool def,
		      bool *value, GError **error)
{
	const char *v = adapter_opt_string(d, key, NULL);

	if (!v)
		*value = def;
	else if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
		*value = true;
	else if (!strcmp(v, "off") || !strcmp(v, "no") ||
		 !strcmp(v, "false"))
		*value = false;
	else {
		BAD(error, "--device %s: %s=%s: write %s=on or %s=off",
		    d->text, key, v, key, key);
		return false;
	}
	return true;
}

bool adapter_opt_uint(AdapterDeviceOpts *d, const char *key, uint64_t def,
		      uint64_t *value, GError **error)
{
	const char *v = adapter_opt_string(d, key, NULL);
	char *end;

	*value = def;
	if (!v)
		return true;
	errno = 0;
	*value = g_ascii_strtoull(v, &end, 0);
	if (!*v || *end || errno || *v == '-') {
		BAD(error, "--device %s: %s=%s is not a number", d->text,
		    key, v);
		return false;
	}
	return true;
}

bool adapter_device_opts_check_used(AdapterDeviceOpts *d, GError **error)
{
	for (guint i = 0; i < d->keys->len; i++)
		if (!d->used[i]) {
			BAD(error, "--device %s: device type %s has no "
			    "parameter '%s'", d->text, d->type,
			    (char *)d->keys->pdata[i]);
			return false;
		}
	return true;
}

/* ---- --config FILE ---- */

/*
 * One line of a config file: NULL for a blank or comment line, else the
 * device text (a leading "--device " or "--device=" dropped).  @line is
 * trimmed in place.
 */
static const char *config_line_device(char *line, GError **error)
{
	char *t = g_strstrip(line);

	if (!*t || *t == '#')
		return NULL;
	if (g_str_has_prefix(t, "--device=")) {
		t += strlen("--device=");
	} else if (g_str_has_prefix(t, "--device") &&
		   g_ascii_isspace(t[strlen("--device")])) {
		t = g_strchug(t + strlen("--device"));
	} else if (g_str_has_prefix(t, "-")) {
		BAD(error, "only devices belong in a config file: write "
		    "TYPE[,KEY=VALUE...] or --device TYPE[,KEY=VALUE...]");
		return NULL;
	}
	return t;
}

bool adapter_options_read_config(AdapterOptions *opts, const char *path,
				 GError **error)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(GError) err = NULL;

	if (!*path) {
		BAD(error, "--config needs a file name");
		return false;
	}
	if (!g_file_get_contents(path, &text, NULL, &err)) {
		BAD(error, "--config: %s", err->message);
		return false;
	}
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		const char *dev = config_line_device(lines[i], &err);
		AdapterDeviceOpts *d = dev ? adapter_device_opts_parse(dev, &err)
					   : NULL;

		if (err) {
			BAD(error, "%s:%u: %s", path, i + 1, err->message);
			return false;
		}
		if (!d)
			continue;
		d->where = g_strdup_printf("%s:%u", path, i + 1);
		g_ptr_array_add(opts->devices, d);
	}
	return true;
}

/* ---- the command line ---- */

enum {
	OPT_DEVICE = 256, OPT_CONFIG, OPT_DAEMONIZE, OPT_PID_FILE,
	OPT_VERBOSE
};

static const struct option long_options[] = {
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "daemonize", no_argument, NULL, OPT_DAEMONIZE },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void adapter_options_clear(AdapterOptions *opts)
{
	g_clear_pointer(&opts->devices, g_ptr_array_unref);
	g_clear_pointer(&opts->pid_file, g_free);
}

/* getopt's complaint about argv[optind - 1], in our words. */
static void bad_option(int c, char **argv, GError **error)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		BAD(error, "%s needs a value", arg);
	else if (optopt && optopt < 256)
		BAD(error, "unknown option -%c (see --help)", optopt);
	else if (optopt)
		BAD(error, "%s takes no value", arg);
	else
		BAD(error, "unknown option %s (see --help)", arg);
}

bool adapter_options_parse(AdapterOptions *opts, int argc, char **argv,
			   GError **error)
{
	int c;

	memset(opts, 0, sizeof(*opts));
	opts->devices = g_ptr_array_new_with_free_func(
		(GDestroyNotify)adapter_device_opts_free);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
		AdapterDeviceOpts *d;

		switch (c) {
		case OPT_DEVICE:
			d = adapter_device_opts_parse(optarg, error);
			if (!d)
				return false;
			g_ptr_array_add(opts->devices, d);
			break;
		case OPT_CONFIG:
			if (!adapter_options_read_config(opts, optarg, error))
				return false;
			break;
		case OPT_DAEMONIZE:
			opts->daemonize = true;
			break;
		case OPT_PID_FILE:
			if (!*optarg) {
				BAD(error, "--pid-file needs a file name");
				return false;
			}
			g_free(opts->pid_file);
			opts->pid_file = g_strdup(optarg);
			break;
		case OPT_VERBOSE:
			opts->verbose = true;
			break;
		case 'h':
			opts->help = true;
			break;
		case 'V':
			opts->version = true;
			break;
		default:
			bad_option(c, argv, error);
			return false;
		}
	}
	if (optind < argc) {
		BAD(error, "unexpected argument '%s': devices are given with "
		    "--device TYPE[,KEY=VALUE...]", argv[optind]);
		return false;
	}
	if (!opts->help && !opts->version && !opts->devices->len) {
		BAD(error, "no --device given: write --device "
		    "TYPE[,KEY=VALUE...] or --config FILE (see --help)");
		return false;
	}
	return true;
}
