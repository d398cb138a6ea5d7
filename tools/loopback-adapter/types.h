/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device types this adapter knows, NULL-terminated. */
#ifndef LOOPBACK_ADAPTER_TYPES_H
#define LOOPBACK_ADAPTER_TYPES_H

#include "options.h"

/*
 * Defined by adapter-devices.c, the one place that knows the built-in
 * devices (devices.h); a test build links a table of its own instead.
 */
extern const AdapterDeviceType *const adapter_device_types[];

#endif
