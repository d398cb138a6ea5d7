// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * adapter_notify(): what systemd would receive on $NOTIFY_SOCKET, here a
 * datagram socket of the test's own; and nothing without NOTIFY_SOCKET.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../tools/loopback-adapter/notify.h"

typedef struct Listener {
	char *dir;
	char *path;
	int fd;
} Listener;

/* A unix datagram socket in a new directory, named by NOTIFY_SOCKET. */
static void listener_open(Listener *l)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	l->dir = g_dir_make_tmp("lb-notify-XXXXXX", NULL);
	g_assert_nonnull(l->dir);
	l->path = g_build_filename(l->dir, "notify", NULL);
	g_assert_cmpuint(strlen(l->path), <, sizeof(addr.sun_path));
	strcpy(addr.sun_path, l->path);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(l->fd, >=, 0);
	g_assert_cmpint(bind(l->fd, (struct sockaddr *)&addr, sizeof(addr)),
			==, 0);
	g_assert_true(g_setenv("NOTIFY_SOCKET", l->path, TRUE));
}

/* The next datagram, or NULL when none is waiting. */
static char *listener_take(Listener *l)
{
	char buf[4096];
	ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0) {
		g_assert_cmpint(errno, ==, EAGAIN);
		return NULL;
	}
	buf[n] = 0;
	return g_strdup(buf);
}

static void listener_close(Listener *l)
{
	g_unsetenv("NOTIFY_SOCKET");
	close(l->fd);
	unlink(l->path);
	rmdir(l->dir);
	g_free(l->path);
	g_free(l->dir);
}

static void test_ready_and_status(void)
{
	Listener l;
	g_autofree char *msg = NULL;

	listener_open(&l);
	g_assert_cmpint(adapter_notify("READY=1\nSTATUS=Serving %s",
				       "loopback0 /dev/vda"), >, 0);
	msg = listener_take(&l);
	g_assert_cmpstr(msg, ==, "READY=1\nSTATUS=Serving loopback0 /dev/vda");
	/* one datagram per call, nothing more */
	g_assert_null(listener_take(&l));
	g_assert_cmpint(adapter_notify("STOPPING=1"), >, 0);
	g_free(msg);
	msg = listener_take(&l);
	g_assert_cmpstr(msg, ==, "STOPPING=1");
	listener_close(&l);
}

/* Outside systemd nothing is sent, and that is no error. */
static void test_no_notify_socket(void)
{
	Listener l;

	listener_open(&l);
	g_unsetenv("NOTIFY_SOCKET");
	g_assert_cmpint(adapter_notify("READY=1"), ==, 0);
	g_assert_null(listener_take(&l));
	listener_close(&l);
}

/* A socket that is gone: an error for the caller, no crash. */
static void test_socket_gone(void)
{
	Listener l;

	listener_open(&l);
	close(l.fd);
	unlink(l.path);
	g_assert_cmpint(adapter_notify("READY=1"), <, 0);
	l.fd = -1;
	listener_close(&l);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/adapter/notify/ready-and-status",
			test_ready_and_status);
	g_test_add_func("/adapter/notify/no-notify-socket",
			test_no_notify_socket);
	g_test_add_func("/adapter/notify/socket-gone", test_socket_gone);
	return g_test_run();
}
