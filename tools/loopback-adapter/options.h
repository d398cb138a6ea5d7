/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-adapter's command line: the options, each --device's
 * TYPE,KEY=VALUE... list (QEMU's key=value syntax: ",," is a comma inside
 * a value, booleans are on/off), and the small interface a device type
 * offers the adapter.
 */
#ifndef LOOPBACK_ADAPTER_OPTIONS_H
#define LOOPBACK_ADAPTER_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include <glib.h>
#include <loopback/device.h>

#define ADAPTER_PROG "loopback-adapter"

/* Bad options: one line on stderr and this exit status. */
#define ADAPTER_EXIT_USAGE 2

/* One --device: its type and its KEY=VALUE pairs in the order given. */
typedef struct AdapterDeviceOpts {
	char *text;		/* as given, for messages */
	char *where;		/* "FILE:LINE" of --config, else NULL */
	char *type;
	GPtrArray *keys;	/* char * */
	GPtrArray *values;	/* char *, unescaped */
	bool *used;		/* per key: a getter asked for it */
} AdapterDeviceOpts;

typedef struct AdapterOptions {
	GPtrArray *devices;	/* AdapterDeviceOpts * */
	bool daemonize;
	char *pid_file;
	bool verbose;
	bool help;
	bool version;
} AdapterOptions;

/* Parses argv; false with one line in @error (then exit 2). */
bool adapter_options_parse(AdapterOptions *opts, int argc, char **argv,
			   GError **error);
void adapter_options_clear(AdapterOptions *opts);
/*
 * --config FILE: appends its devices to @opts->devices; false with one
 * line "FILE:LINE: ..." in @error (then exit 2).
 */
bool adapter_options_read_config(AdapterOptions *opts, const char *path,
				 GError **error);
void print_help(FILE *out);

AdapterDeviceOpts *adapter_device_opts_parse(const char *text,
					     GError **error);
void adapter_device_opts_free(AdapterDeviceOpts *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AdapterDeviceOpts, adapter_device_opts_free)

/*
 * The getters a device type uses: absent keys give @def.  Each marks its
 * key used; adapter_device_opts_check_used() then refuses the rest.
 */
const char *adapter_opt_string(AdapterDeviceOpts *d, const char *key,
			       const char *def);
bool adapter_opt_bool(AdapterDeviceOpts *d, const char *key, bool def,
		      bool *value, GError **error);
bool adapter_opt_uint(AdapterDeviceOpts *d, const char *key, uint64_t def,
		      uint64_t *value, GError **error);
bool adapter_device_opts_check_used(AdapterDeviceOpts *d, GError **error);

/*
 * A device type as the adapter sees it.  adapter-devices.c is the only
 * place that maps the built-in devices (devices.h) onto it.
 */
typedef struct AdapterDevice AdapterDevice;
typedef struct AdapterDeviceType {
	const char *name;
	const char *summary;	/* one line for --help */
	const char *const *usage;	/* its keys, for --help; may be NULL */
	/* reads and checks the keys; no kernel yet */
	AdapterDevice *(*create)(AdapterDeviceOpts *opts, GError **error);
	/* creates the loopback device, serves it from @ctx */
	LoopbackDevice *(*start)(AdapterDevice *d, GMainContext *ctx,
				 GError **error);
	/* after the device was removed (or broke): stop using it */
	void (*stop)(AdapterDevice *d);
	/* SIGHUP: reopen files, re-read settings */
	bool (*reload)(AdapterDevice *d, GError **error);
	void (*free)(AdapterDevice *d);
} AdapterDeviceType;

const AdapterDeviceType *adapter_device_type_find(const char *name);
/* "blk, rng", or "none" */
char *adapter_device_type_names(void);
void adapter_device_types_help(FILE *out);

#endif /* LOOPBACK_ADAPTER_OPTIONS_H */
