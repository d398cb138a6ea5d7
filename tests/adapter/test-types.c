// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The device types of the adapter's test build (loopback-adapter-test), in
 * place of adapter-devices.c: "test-rng", the tests' entropy model
 * (tests/device/rng-model.c), and "demo", which only reads options.
 */
#include "config.h"

#include "../../tools/loopback-adapter/types.h"
#include "../device/rng-model.h"

struct AdapterDevice {
	bool eventfds;
	RngModel *m;
	const char *path;
	bool readonly;
	uint64_t count;
};

static AdapterDevice *rng_create(AdapterDeviceOpts *o, GError **error)
{
	g_autofree AdapterDevice *d = g_new0(AdapterDevice, 1);

	if (!adapter_opt_bool(o, "eventfds", true, &d->eventfds, error))
		return NULL;
	return g_steal_pointer(&d);
}

static LoopbackDevice *rng_start(AdapterDevice *d, GMainContext *ctx,
				 GError **error)
{
	d->m = rng_model_new(d->eventfds, error);
	if (!d->m)
		return NULL;
	rng_model_attach(d->m, ctx);
	return rng_model_device(d->m);
}

static bool rng_reload(AdapterDevice *d, GError **error)
{
	return true;
}

static void rng_free(AdapterDevice *d)
{
	rng_model_free(d->m);
	g_free(d);
}

static const AdapterDeviceType test_rng = {
	.name = "test-rng",
	.summary = "the tests' entropy device (eventfds=on|off)",
	.create = rng_create,
	.start = rng_start,
	.reload = rng_reload,
	.free = rng_free,
};

static AdapterDevice *demo_create(AdapterDeviceOpts *o, GError **error)
{
	g_autofree AdapterDevice *d = g_new0(AdapterDevice, 1);

	d->path = adapter_opt_string(o, "path", NULL);
	if (!adapter_opt_bool(o, "readonly", false, &d->readonly, error) ||
	    !adapter_opt_uint(o, "count", 1, &d->count, error))
		return NULL;
	return g_steal_pointer(&d);
}

static LoopbackDevice *demo_start(AdapterDevice *d, GMainContext *ctx,
				  GError **error)
{
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
		    "demo devices only read their options");
	return NULL;
}

static const AdapterDeviceType demo = {
	.name = "demo",
	.summary = "options only (path=, readonly=on|off, count=)",
	.create = demo_create,
	.start = demo_start,
	.free = (void (*)(AdapterDevice *))g_free,
};

const AdapterDeviceType *const adapter_device_types[] = {
	&test_rng,
	&demo,
	NULL,
};
