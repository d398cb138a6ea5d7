// SPDX-License-Identifier: LGPL-2.1-or-later
/* The LOOPBACK_ERROR domain, and errno values mapped into it. */
#include "device-internal.h"

#include <errno.h>
#include <stdarg.h>

LOOPBACK_API GQuark loopback_error_quark(void)
{
	return g_quark_from_static_string("loopback-error-quark");
}

static LoopbackError lb_error_code(int err)
{
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return LOOPBACK_ERROR_NOT_FOUND;
	case EACCES:
		return LOOPBACK_ERROR_PERMISSION;
	case EPERM:
		return LOOPBACK_ERROR_NOT_ALLOWED;
	case EINVAL:
	case EBADF:
		return LOOPBACK_ERROR_INVALID;
	case EEXIST:
	case EALREADY:
		return LOOPBACK_ERROR_BUSY;
	case EIO:
		return LOOPBACK_ERROR_BROKEN;
	case ENOTTY:
		return LOOPBACK_ERROR_VERSION;
	default:
		return LOOPBACK_ERROR_FAILED;
	}
}

/* "@fmt: strerror(err)", with the code errno suggests. */
void lb_set_error_errno(GError **error, int err, const char *fmt, ...)
{
	g_autofree char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, LOOPBACK_ERROR, lb_error_code(err), "%s: %s", what,
		    g_strerror(err));
}
