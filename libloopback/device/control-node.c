// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Finding and opening /dev/loopback: its node comes from udev (the misc
 * device "loopback"), so a renamed or relocated node still works.  When the
 * module was only just loaded the node may not exist yet: a udev monitor
 * (not a poll of a path) waits for it.
 */
#include "device-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <libudev.h>

typedef struct udev LbUdev;
typedef struct udev_device LbUdevDevice;
typedef struct udev_monitor LbUdevMonitor;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LbUdev, udev_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LbUdevDevice, udev_device_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LbUdevMonitor, udev_monitor_unref)

#define LB_MISC_NAME "loopback"

static char *lb_node_of(struct udev_device *d)
{
	const char *node = udev_device_get_devnode(d);

	return node ? g_strdup(node) : NULL;
}

static char *lb_find_node(struct udev *udev)
{
	g_autoptr(LbUdevDevice) d =
		udev_device_new_from_subsystem_sysname(udev, "misc",
						       LB_MISC_NAME);

	return d ? lb_node_of(d) : NULL;
}

/*
 * With udevd running, its events come after the node got its owner and
 * mode; without it (an initramfs) the kernel's own events, whose node
 * devtmpfs made before sending them.
 */
static struct udev_monitor *lb_monitor_new(struct udev *udev, GError **error)
{
	bool udevd = g_file_test("/run/udev/control", G_FILE_TEST_EXISTS);
	g_autoptr(LbUdevMonitor) mon =
		udev_monitor_new_from_netlink(udev, udevd ? "udev" : "kernel");

	if (!mon ||
	    udev_monitor_filter_add_match_subsystem_devtype(mon, "misc",
							    NULL) < 0 ||
	    udev_monitor_enable_receiving(mon) < 0) {
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_UDEV,
			    "cannot watch udev events for /dev/%s: %s; "
			    "load the module before starting this program",
			    LB_MISC_NAME, g_strerror(errno));
		return NULL;
	}
	return g_steal_pointer(&mon);
}

static char *lb_wait_node(struct udev_monitor *mon,
			  unsigned int wait_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)wait_ms * 1000;
	struct pollfd p = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };

	for (;;) {
		gint64 left = end - g_get_monotonic_time();
		g_autoptr(LbUdevDevice) d = NULL;
		int n;

		if (left <= 0)
			return NULL;
		n = poll(&p, 1, (int)((left + 999) / 1000));
		if (n < 0 && errno != EINTR)
			return NULL;
		if (n <= 0)
			continue;
		d = udev_monitor_receive_device(mon);
		if (d && g_strcmp0(udev_device_get_sysname(d),
				   LB_MISC_NAME) == 0 &&
		    g_strcmp0(udev_device_get_action(d), "add") == 0)
			return lb_node_of(d);
	}
}

static char *lb_control_node(unsigned int wait_ms, GError **error)
{
	g_autoptr(LbUdev) udev = udev_new();
	g_autoptr(LbUdevMonitor) mon = NULL;
	char *node;

	if (!udev) {
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_UDEV,
			    "cannot use libudev: %s", g_strerror(errno));
		return NULL;
	}
	/* watch before looking, or an add between the two is missed */
	if (wait_ms) {
		mon = lb_monitor_new(udev, error);
		if (!mon)
			return NULL;
	}
	node = lb_find_node(udev);
	if (!node && mon)
		node = lb_wait_node(mon, wait_ms);
	if (node)
		return node;
	if (wait_ms)
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_NOT_FOUND,
			    "/dev/%s did not appear within %u ms: load the "
			    "module (modprobe loopback)", LB_MISC_NAME,
			    wait_ms);
	else
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_NOT_FOUND,
			    "/dev/%s not found: load the module (modprobe "
			    "loopback)", LB_MISC_NAME);
	return NULL;
}

/* The module speaks API 2 and hands out window fds. */
bool lb_control_check(int ctl, const struct lb_kernel_ops *k,
		      uint64_t *features, GError **error)
{
	uint64_t version = 0;

	*features = 0;
	if (k->ioctl(ctl, LOOPBACK_GET_API_VERSION, &version) < 0) {
		lb_set_error_errno(error, errno, "the control node does not "
				   "answer LOOPBACK_GET_API_VERSION; is it "
				   "loopback.ko's?");
		return false;
	}
	if (version < LOOPBACK_API_VERSION) {
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION,
			    "loopback.ko offers API %" PRIu64 ", this library "
			    "needs %d: update the module", version,
			    LOOPBACK_API_VERSION);
		return false;
	}
	if (k->ioctl(ctl, LOOPBACK_GET_FEATURES, features) < 0) {
		if (errno == ENOTTY)
			g_set_error(error, LOOPBACK_ERROR,
				    LOOPBACK_ERROR_VERSION, "loopback.ko (API "
				    "%" PRIu64 ") has no LOOPBACK_GET_FEATURES: "
				    "update the module", version);
		else
			lb_set_error_errno(error, errno, "LOOPBACK_GET_FEATURES");
		return false;
	}
	if (!(*features & LOOPBACK_F_WINDOW_FD)) {
		g_set_error(error, LOOPBACK_ERROR, LOOPBACK_ERROR_VERSION,
			    "loopback.ko has no window fd "
			    "(LOOPBACK_F_WINDOW_FD): update the module");
		return false;
	}
	return true;
}

int lb_control_open(unsigned int wait_ms, uint64_t *features, GError **error)
{
	g_autofree char *node = lb_control_node(wait_ms, error);
	int ctl;

	if (!node)
		return -1;
	ctl = open(node, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		int err = errno;

		if (err == EACCES || err == EPERM)
			g_set_error(error, LOOPBACK_ERROR,
				    LOOPBACK_ERROR_PERMISSION,
				    "permission denied on %s: run as root, or "
				    "give your user access to it with a udev "
				    "rule (GROUP, MODE)", node);
		else
			lb_set_error_errno(error, err, "cannot open %s", node);
		return -1;
	}
	if (!lb_control_check(ctl, &lb_kernel_default, features, error)) {
		close(ctl);
		return -1;
	}
	return ctl;
}
