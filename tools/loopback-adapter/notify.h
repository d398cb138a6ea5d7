/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loopback-adapter's messages to systemd (a Type=notify service):
 * READY=1 once every driver has bound, STATUS= lines, STOPPING=1.
 */
#ifndef LOOPBACK_ADAPTER_NOTIFY_H
#define LOOPBACK_ADAPTER_NOTIFY_H

#include <glib.h>

/*
 * Sends the formatted state ("KEY=VALUE" lines) to $NOTIFY_SOCKET with
 * sd_notify(3): > 0 when sent, 0 when there is no NOTIFY_SOCKET (not
 * under systemd: nothing happens), -errno on failure.
 */
int adapter_notify(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif /* LOOPBACK_ADAPTER_NOTIFY_H */
