// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * loopback-adapter's parser: QEMU's key=value syntax (doubled commas,
 * the implied type, on/off), the value getters, and keys nobody asked for.
 */
#include "config.h"

#include <unistd.h>

#include "../../tools/loopback-adapter/options.h"

static AdapterDeviceOpts *parse_ok(const char *text)
{
	g_autoptr(GError) err = NULL;
	AdapterDeviceOpts *d = adapter_device_opts_parse(text, &err);

	g_assert_no_error(err);
	g_assert_nonnull(d);
	return d;
}

static char *parse_error(const char *text)
{
	g_autoptr(GError) err = NULL;

	g_assert_null(adapter_device_opts_parse(text, &err));
	g_assert_nonnull(err);
	return g_strdup(err->message);
}

static void test_doubled_comma_is_a_comma_in_a_value(void)
{
	g_autoptr(AdapterDeviceOpts) d = parse_ok("blk,path=/tmp/a,,b,,,x=1");

	g_assert_cmpstr(d->type, ==, "blk");
	g_assert_cmpstr(adapter_opt_string(d, "path", NULL), ==, "/tmp/a,b,");
	g_assert_cmpstr(adapter_opt_string(d, "x", NULL), ==, "1");
	g_assert_cmpstr(adapter_opt_string(d, "y", "dflt"), ==, "dflt");
	g_assert_true(adapter_device_opts_check_used(d, NULL));
}

static void test_type_key_anywhere(void)
{
	g_autoptr(AdapterDeviceOpts) a = parse_ok("type=rng,x=1");
	g_autoptr(AdapterDeviceOpts) b = parse_ok("x=1,type=rng");
	g_autofree char *twice = parse_error("rng,type=blk");

	g_assert_cmpstr(a->type, ==, "rng");
	g_assert_cmpstr(b->type, ==, "rng");
	g_assert_cmpstr(twice, ==, "--device rng,type=blk: the type is given "
			"twice");
}

static void test_booleans_on_off(void)
{
	static const struct {
		const char *text;
		bool value;
	} ok[] = {
		{ "t,ro=on", true }, { "t,ro=off", false },
		{ "t,ro=yes", true }, { "t,ro=no", false },
		{ "t,ro=true", true }, { "t,ro=false", false },
		{ "t", true },	/* the default */
	};
	g_autoptr(AdapterDeviceOpts) bad = parse_ok("t,ro=maybe");
	g_autoptr(GError) err = NULL;
	bool v;

	for (unsigned int i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autoptr(AdapterDeviceOpts) d = parse_ok(ok[i].text);

		g_assert_true(adapter_opt_bool(d, "ro", true, &v, NULL));
		g_assert_cmpint(v, ==, ok[i].value);
	}
	g_assert_false(adapter_opt_bool(bad, "ro", false, &v, &err));
	g_assert_cmpstr(err->message, ==, "--device t,ro=maybe: ro=maybe: "
			"write ro=on or ro=off");
}

static void test_numbers(void)
{
	g_autoptr(AdapterDeviceOpts) d = parse_ok("t,a=0x10,b=12,c=-1,e=3k");
	g_autoptr(GError) neg = NULL;
	g_autoptr(GError) suffix = NULL;
	uint64_t v;

	g_assert_true(adapter_opt_uint(d, "a", 0, &v, NULL));
	g_assert_cmpuint(v, ==, 16);
	g_assert_true(adapter_opt_uint(d, "b", 0, &v, NULL));
	g_assert_cmpuint(v, ==, 12);
	g_assert_true(adapter_opt_uint(d, "z", 7, &v, NULL));
	g_assert_cmpuint(v, ==, 7);
	g_assert_false(adapter_opt_uint(d, "c", 0, &v, &neg));
	g_assert_cmpstr(neg->message, ==, "--device t,a=0x10,b=12,c=-1,e=3k: "
			"c=-1 is not a number");
	g_assert_false(adapter_opt_uint(d, "e", 0, &v, &suffix));
	g_assert_nonnull(suffix);
}

static void test_key_nobody_asked_for(void)
{
	g_autoptr(AdapterDeviceOpts) d = parse_ok("blk,path=x,colour=red");
	g_autoptr(GError) err = NULL;

	g_assert_cmpstr(adapter_opt_string(d, "path", NULL), ==, "x");
	g_assert_false(adapter_device_opts_check_used(d, &err));
	g_assert_cmpstr(err->message, ==, "--device blk,path=x,colour=red: "
			"device type blk has no parameter 'colour'");
}

static void test_command_line(void)
{
	char *argv[] = {
		"loopback-adapter", "--device", "a,k=v", "--verbose",
		"--device=b", "--pid-file", "/run/x.pid", "--daemonize", NULL,
	};
	AdapterOptions o;
	g_autoptr(GError) err = NULL;

	g_assert_true(adapter_options_parse(&o, G_N_ELEMENTS(argv) - 1, argv,
					    &err));
	g_assert_no_error(err);
	g_assert_cmpuint(o.devices->len, ==, 2);
	g_assert_cmpstr(((AdapterDeviceOpts *)o.devices->pdata[0])->type, ==,
			"a");
	g_assert_cmpstr(((AdapterDeviceOpts *)o.devices->pdata[1])->type, ==,
			"b");
	g_assert_true(o.verbose && o.daemonize);
	g_assert_false(o.help || o.version);
	g_assert_cmpstr(o.pid_file, ==, "/run/x.pid");
	adapter_options_clear(&o);
}

static char *write_config(const char *text)
{
	g_autoptr(GError) err = NULL;
	char *path = NULL;
	int fd = g_file_open_tmp("adapter-config-XXXXXX", &path, &err);

	g_assert_no_error(err);
	close(fd);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return path;
}

/* --config between --device options: the devices in the order given. */
static void test_config_file(void)
{
	g_autofree char *path = write_config(
		"# the disks\n"
		"\n"
		"blk,path=/var/lib/loopback/a,,b.img\n"
		"  --device   rng,k=v  \n"
		"\t# an indented comment\n"
		"--device=x");
	char *argv[] = {
		"loopback-adapter", "--device", "first", "--config", path,
		"--device", "last", NULL,
	};
	static const char *const types[] = { "first", "blk", "rng", "x",
					     "last" };
	static const char *const where[] = { NULL, ":3", ":4", ":6", NULL };
	AdapterOptions o;
	g_autoptr(GError) err = NULL;

	g_assert_true(adapter_options_parse(&o, G_N_ELEMENTS(argv) - 1, argv,
					    &err));
	g_assert_no_error(err);
	g_assert_cmpuint(o.devices->len, ==, G_N_ELEMENTS(types));
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		AdapterDeviceOpts *d = o.devices->pdata[i];

		g_assert_cmpstr(d->type, ==, types[i]);
		if (!where[i]) {
			g_assert_null(d->where);
		} else {
			g_autofree char *w = g_strconcat(path, where[i], NULL);

			g_assert_cmpstr(d->where, ==, w);
		}
	}
	g_assert_cmpstr(adapter_opt_string(o.devices->pdata[1], "path", NULL),
			==, "/var/lib/loopback/a,b.img");
	g_assert_cmpstr(adapter_opt_string(o.devices->pdata[2], "k", NULL),
			==, "v");
	adapter_options_clear(&o);
	unlink(path);
}

/* adapter_options_parse()'s error for --config of @text */
static char *config_error(const char *text, char **path)
{
	char *argv[] = { "loopback-adapter", "--config", NULL, NULL };
	AdapterOptions o;
	g_autoptr(GError) err = NULL;

	*path = write_config(text);
	argv[2] = *path;
	g_assert_false(adapter_options_parse(&o, G_N_ELEMENTS(argv) - 1, argv,
					     &err));
	g_assert_nonnull(err);
	adapter_options_clear(&o);
	unlink(*path);
	return g_strdup(err->message);
}

/* A bad line: FILE:LINE and the parser's message, nothing else. */
static void test_config_file_bad_line(void)
{
	g_autofree char *path = NULL;
	g_autofree char *msg = config_error("rng\n# fine\nrng,k\nrng\n",
					    &path);
	g_autofree char *want = g_strdup_printf(
		"%s:3: --device rng,k: 'k' has no value: write k=VALUE", path);

	g_assert_cmpstr(msg, ==, want);
}

/* Comments only: no device, the usual complaint. */
static void test_config_file_empty(void)
{
	g_autofree char *path = NULL;
	g_autofree char *msg = config_error("# nothing yet\n\n", &path);

	g_assert_true(g_str_has_prefix(msg, "no --device given"));
}

static void test_type_lookup(void)
{
	g_autofree char *names = adapter_device_type_names();

	g_assert_cmpstr(names, ==, "test-rng, demo");
	g_assert_nonnull(adapter_device_type_find("demo"));
	g_assert_null(adapter_device_type_find("dem"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/adapter/options/doubled-comma-is-a-comma",
			test_doubled_comma_is_a_comma_in_a_value);
	g_test_add_func("/adapter/options/type-key-anywhere-once",
			test_type_key_anywhere);
	g_test_add_func("/adapter/options/booleans-on-off",
			test_booleans_on_off);
	g_test_add_func("/adapter/options/numbers", test_numbers);
	g_test_add_func("/adapter/options/key-nobody-asked-for-is-refused",
			test_key_nobody_asked_for);
	g_test_add_func("/adapter/options/command-line", test_command_line);
	g_test_add_func("/adapter/options/config-file", test_config_file);
	g_test_add_func("/adapter/options/config-file-bad-line",
			test_config_file_bad_line);
	g_test_add_func("/adapter/options/config-file-empty",
			test_config_file_empty);
	g_test_add_func("/adapter/options/type-lookup", test_type_lookup);
	return g_test_run();
}
