// SPDX-License-Identifier: LGPL-2.1-or-later
/* The fake kernel of fake-kernel.h. */
#include "fake-kernel.h"

#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* The register block: little-endian bytes, any size from 1 to 8. */
static uint64_t fk_read(void *opaque, hwaddr addr, unsigned size)
{
	FakeDev *f = opaque;
	uint64_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)f->regs[addr + i] << (8 * i);
	g_string_append_printf(f->trace, "r %03" PRIx64 " %u\n", addr, size);
	return v;
}

static void fk_write(void *opaque, hwaddr addr, uint64_t v, unsigned size)
{
	FakeDev *f = opaque;

	for (unsigned int i = 0; i < size; i++)
		f->regs[addr + i] = (uint8_t)(v >> (8 * i));
	g_string_append_printf(f->trace, "w %03" PRIx64 " %u %" PRIx64 "\n",
			       addr, size, v);
}

/* One fake at a time: the ioctl hook has no context pointer. */
static FakeDev *fk_current;

static int fk_ioctl(int fd, unsigned long request, void *arg)
{
	FakeDev *f = fk_current;
	GString *s = f->ioctls;

	if (request == LOOPBACK_DEV_IOEVENTFD) {
		struct loopback_ioeventfd *a = arg;

		g_string_append_printf(s, "ioeventfd addr=%#" PRIx64 " len=%u "
				       "datamatch=%" PRIu64 " flags=%#x\n",
				       (uint64_t)a->addr, a->len,
				       (uint64_t)a->datamatch, a->flags);
	} else if (request == LOOPBACK_DEV_IRQFD) {
		struct loopback_irqfd *a = arg;

		g_string_append_printf(s, "irqfd queue=%#x flags=%#x\n",
				       a->queue, a->flags);
	} else if (request == LOOPBACK_DEV_INTERRUPT) {
		g_string_append_printf(s, "interrupt queue=%#x\n",
				       ((struct loopback_interrupt *)arg)->queue);
	} else if (request == LOOPBACK_DEV_SET_CONFIG) {
		struct loopback_config *a = arg;

		g_string_append_printf(s, "config offset=%u length=%u "
				       "flags=%#x\n", a->offset, a->length,
				       a->flags);
	} else if (request == LOOPBACK_DEV_REMOVE) {
		g_string_append_printf(s, "remove timeout=%u\n",
				       ((struct loopback_remove *)arg)->timeout_ms);
	} else {
		g_string_append_printf(s, "ioctl %#lx\n", request);
	}
	if (f->ioctl_errno) {
		errno = f->ioctl_errno;
		return -1;
	}
	return 0;
}

static ssize_t fk_sys_read(int fd, void *buf, size_t len)
{
	if (fk_current->read_errno) {
		errno = fk_current->read_errno;
		return -1;
	}
	return read(fd, buf, len);
}

/* A write the kernel refuses at its first record: a trap that timed out. */
static ssize_t fk_sys_write(int fd, const void *buf, size_t len)
{
	if (fk_current->stale_replies > 0) {
		fk_current->stale_replies--;
		errno = ENOENT;
		return -1;
	}
	return write(fd, buf, len);
}

FakeDev *fk_new(uint32_t num_queues)
{
	return fk_new_full(num_queues, true);
}

FakeDev *fk_new_full(uint32_t num_queues, bool with_ops)
{
	FakeDev *f = g_new0(FakeDev, 1);
	struct lb_layout layout = {
		.name = "loopback7",
		.regs_base = FK_REGS_BASE,
		.window_base = FK_WINDOW_BASE,
		.window_size = FK_WINDOW_SIZE,
		.num_queues = num_queues,
	};
	g_autoptr(GError) err = NULL;
	int sv[2];

	g_assert_null(fk_current);
	fk_current = f;
	f->trace = g_string_new("");
	f->ioctls = g_string_new("");
	f->ops = (MemoryRegionOps) {
		.read = fk_read,
		.write = fk_write,
		.endianness = DEVICE_LITTLE_ENDIAN,
		.valid = { .min_access_size = 1, .max_access_size = 8 },
		.impl = { .min_access_size = 1, .max_access_size = 8 },
	};
	f->k = (struct lb_kernel_ops) {
		.ioctl = fk_ioctl,
		.read = fk_sys_read,
		.write = fk_sys_write,
	};
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
				   SOCK_CLOEXEC, 0, sv), ==, 0);
	f->peer = sv[1];
	f->window_fd = memfd_create("fake-window", MFD_CLOEXEC);
	g_assert_cmpint(f->window_fd, >=, 0);
	g_assert_cmpint(ftruncate(f->window_fd, FK_WINDOW_SIZE), ==, 0);
	/* the layer takes the window fd: keep a copy to look through */
	f->dev = lb_device_new_from_fd(sv[0], &layout, dup(f->window_fd),
				       with_ops ? &f->ops : NULL, f, &f->k,
				       &err);
	g_assert_no_error(err);
	g_assert_nonnull(f->dev);
	return f;
}

void fk_free(FakeDev *f)
{
	loopback_device_free(f->dev);
	/* the regions (and the window mapping) go after a grace period */
	loopback_memory_drain();
	if (f->peer >= 0)
		close(f->peer);
	close(f->window_fd);
	g_string_free(f->trace, true);
	g_string_free(f->ioctls, true);
	fk_current = NULL;
	g_free(f);
}

void fk_send(FakeDev *f, const struct loopback_trap *t, unsigned int n)
{
	ssize_t len = (ssize_t)(n * sizeof(*t));

	g_assert_cmpint(send(f->peer, t, (size_t)len, 0), ==, len);
}

unsigned int fk_recv(FakeDev *f, struct loopback_reply *r, unsigned int max)
{
	ssize_t n = recv(f->peer, r, max * sizeof(*r), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	g_assert_cmpint(n, >=, 0);
	g_assert_cmpint(n % (ssize_t)sizeof(*r), ==, 0);
	return (unsigned int)(n / (ssize_t)sizeof(*r));
}
