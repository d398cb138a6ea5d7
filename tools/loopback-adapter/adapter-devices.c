// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The built-in device types, mapped onto the adapter's AdapterDeviceType
 * (options.h).  This is the only file that knows them: when the devices
 * of devices.h (blk, rng) arrive, each gets an entry here that wraps its
 * ops (create from the key/value list, start, stop, reload).
 */
#include "config.h"

#include "types.h"

const AdapterDeviceType *const adapter_device_types[] = {
	NULL,
};
