// SPDX-License-Identifier: LGPL-2.1-or-later
/* loopback-adapter's messages to systemd, through libsystemd. */
#include "config.h"

#include <stdarg.h>
#include <systemd/sd-daemon.h>

#include "notify.h"

int adapter_notify(const char *fmt, ...)
{
	g_autofree char *state = NULL;
	va_list ap;

	/* outside systemd: not even the formatting */
	if (!g_getenv("NOTIFY_SOCKET"))
		return 0;
	va_start(ap, fmt);
	state = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return sd_notify(0, state);
}
