// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kicks: a queue's notifier runs its handler in a GMainContext, or a
 * queue's own thread waits on it.
 */
#include "virtio-internal.h"

#include <errno.h>
#include <poll.h>

#include <glib-unix.h>

static gboolean lb_vq_kicked(gint fd, GIOCondition cond, gpointer data)
{
	LoopbackVirtqueue *vq = data;
	LoopbackVirtio *vdev = vq->vdev;

	event_notifier_test_and_clear(&vq->kick);
	if (loopback_virtqueue_is_ready(vq) && vdev->klass->handle_queue)
		vdev->klass->handle_queue(vdev->opaque, vq);
	return G_SOURCE_CONTINUE;
}

void lb_vq_watch(LoopbackVirtqueue *vq, GMainContext *ctx)
{
	if (vq->source) {
		g_source_destroy(vq->source);
		g_source_unref(vq->source);
		vq->source = NULL;
	}
	if (!ctx)
		return;
	vq->source = g_unix_fd_source_new(event_notifier_get_fd(&vq->kick),
					  G_IO_IN);
	g_source_set_callback(vq->source, G_SOURCE_FUNC(lb_vq_kicked), vq,
			      NULL);
	g_source_attach(vq->source, ctx);
}

LOOPBACK_API void loopback_virtio_attach_context(LoopbackVirtio *vdev,
						 GMainContext *ctx)
{
	for (unsigned int i = 0; i < vdev->num_queues; i++)
		lb_vq_watch(&vdev->vqs[i], ctx);
	vdev->ctx = ctx;
}

LOOPBACK_API bool loopback_virtqueue_wait_kick(LoopbackVirtqueue *vq,
					       int stop_fd)
{
	struct pollfd p[2] = {
		{ .fd = event_notifier_get_fd(&vq->kick), .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, stop_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			g_critical("%s: poll: %s", __func__, g_strerror(errno));
			return false;
		}
		if (stop_fd >= 0 && p[1].revents)
			return false;
		if (p[0].revents && event_notifier_test_and_clear(&vq->kick))
			return true;
	}
}
