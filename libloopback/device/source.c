// SPDX-License-Identifier: LGPL-2.1-or-later
/* A GSource that serves a device from a GMainContext. */
#include "device-internal.h"

typedef struct {
	GSource source;
	LoopbackDevice *dev;
	void *tag;
} LbDeviceSource;

static gboolean lb_source_dispatch(GSource *source, GSourceFunc callback,
				   void *user_data)
{
	LbDeviceSource *s = (LbDeviceSource *)source;

	if (!g_source_query_unix_fd(source, s->tag))
		return G_SOURCE_CONTINUE;
	/* the end was reported (and @dev may be gone): stop watching */
	return loopback_device_dispatch(s->dev, NULL) < 0 ? G_SOURCE_REMOVE :
							    G_SOURCE_CONTINUE;
}

static GSourceFuncs lb_source_funcs = {
	.dispatch = lb_source_dispatch,
};

GSource *lb_device_source_new(LoopbackDevice *dev)
{
	GSource *source = g_source_new(&lb_source_funcs,
				       sizeof(LbDeviceSource));
	LbDeviceSource *s = (LbDeviceSource *)source;

	s->dev = dev;
	s->tag = g_source_add_unix_fd(source, dev->fd,
				      G_IO_IN | G_IO_ERR | G_IO_HUP);
	g_source_set_name(source, dev->layout.name);
	return source;
}

LOOPBACK_API void loopback_device_attach(LoopbackDevice *dev,
					 GMainContext *context)
{
	g_return_if_fail(dev != NULL);
	g_return_if_fail(dev->source == NULL);
	dev->source = lb_device_source_new(dev);
	g_source_attach(dev->source, context);
}
