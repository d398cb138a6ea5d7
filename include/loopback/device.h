/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LOOPBACK_DEVICE_H
#define LOOPBACK_DEVICE_H

#include <loopback/memory.h>

#endif /* LOOPBACK_DEVICE_H */
