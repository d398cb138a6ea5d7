// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ioeventfds: a MemoryListener on the device's AddressSpace hands every
 * memory_region_add_eventfd() on QueueNotify to the kernel, so a virtio
 * model written the QEMU way gets kicks that never trap.  An ioeventfd the
 * kernel does not take still works: the kick then arrives as a posted
 * trap, and the memory API's own dispatch signals the same eventfd.
 */
#include "device-internal.h"

#include <errno.h>

static void lb_ioeventfd(MemoryListener *l, MemoryRegionSection *s,
			 bool match_data, uint64_t data, EventNotifier *e,
			 bool assign)
{
	LoopbackDevice *dev = container_of(l, LoopbackDevice, listener);
	hwaddr notify = dev->layout.regs_base + LOOPBACK_DEVICE_QUEUE_NOTIFY;
	struct loopback_ioeventfd io = {
		.addr = s->offset_within_address_space,
		.datamatch = match_data ? data : 0,
		.len = (uint32_t)int128_get64(s->size),
		.fd = event_notifier_get_fd(e),
		.flags = (match_data ? LOOPBACK_IOEVENTFD_DATAMATCH : 0) |
			 (assign ? 0 : LOOPBACK_IOEVENTFD_DEASSIGN),
	};

	if (g_atomic_int_get(&dev->closing))
		return;
	if (io.addr != notify) {
		if (assign)
			g_debug("%s: ioeventfd at %#" PRIx64 " stays in user "
				"space: loopback.ko takes QueueNotify only",
				dev->layout.name, (uint64_t)io.addr);
		return;
	}
	if (dev->k->ioctl(dev->fd, LOOPBACK_DEV_IOEVENTFD, &io) == 0 ||
	    errno == EIO)
		return;
	if (assign)
		g_warning("%s: loopback.ko did not take the ioeventfd for "
			  "queue %" PRIu64 " (%s): its kicks will trap",
			  dev->layout.name, data, g_strerror(errno));
}

static void lb_eventfd_add(MemoryListener *l, MemoryRegionSection *s,
			   bool match_data, uint64_t data, EventNotifier *e)
{
	lb_ioeventfd(l, s, match_data, data, e, true);
}

static void lb_eventfd_del(MemoryListener *l, MemoryRegionSection *s,
			   bool match_data, uint64_t data, EventNotifier *e)
{
	lb_ioeventfd(l, s, match_data, data, e, false);
}

void lb_device_listener_init(LoopbackDevice *dev)
{
	dev->listener = (MemoryListener) {
		.eventfd_add = lb_eventfd_add,
		.eventfd_del = lb_eventfd_del,
		.name = "loopback-device",
	};
	memory_listener_register(&dev->listener, &dev->as);
}
