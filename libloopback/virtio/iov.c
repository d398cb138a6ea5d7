// SPDX-License-Identifier: LGPL-2.1-or-later
/* Copies between iovec arrays and flat buffers. */
#include "virtio-internal.h"

#include <string.h>

static size_t lb_iov_copy(const struct iovec *iov, unsigned int n,
			  size_t offset, void *buf, size_t len, bool to_buf)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *p = iov[i].iov_base;

		if (offset >= l) {
			offset -= l;
			continue;
		}
		l = MIN(l - offset, len - done);
		if (to_buf)
			memcpy((uint8_t *)buf + done, p + offset, l);
		else
			memcpy(p + offset, (uint8_t *)buf + done, l);
		done += l;
		offset = 0;
	}
	return done;
}

LOOPBACK_API size_t loopback_virtio_iov_to_buf(const struct iovec *iov,
					       unsigned int n, size_t offset,
					       void *buf, size_t len)
{
	return lb_iov_copy(iov, n, offset, buf, len, true);
}

LOOPBACK_API size_t loopback_virtio_iov_from_buf(const struct iovec *iov,
						 unsigned int n, size_t offset,
						 const void *buf, size_t len)
{
	return lb_iov_copy(iov, n, offset, (void *)buf, len, false);
}
