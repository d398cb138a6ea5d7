/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LOOPBACK_VIRTIO_H
#define LOOPBACK_VIRTIO_H

#include <loopback/memory.h>

#endif /* LOOPBACK_VIRTIO_H */
