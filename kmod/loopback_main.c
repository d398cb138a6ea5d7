// SPDX-License-Identifier: GPL-2.0-only
/*
 * loopback.ko: module init/exit and the control node /dev/loopback
 * (LOOPBACK_GET_API_VERSION, LOOPBACK_GET_FEATURES, LOOPBACK_CREATE).
 */
#include <linux/compat.h>
#include <linux/device.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/workqueue.h>

#include "loopback_compat.h"
#include "loopback_priv.h"

struct workqueue_struct *loopback_wq;
struct workqueue_struct *loopback_irq_wq;
struct workqueue_struct *loopback_ctl_wq;

/* Parent devices appear as /sys/class/loopback/loopbackN. */
struct class loopback_class = {
	.name = "loopback",
};

unsigned int loopback_trap_timeout_ms = 30000;

/*
 * A trap's wait is killable only in user tasks; a driver's probe or
 * removal in a kernel thread, and close(), wait for the whole timeout.
 * Ten minutes bounds what a silent device can hold them up.
 */
#define LOOPBACK_TRAP_TIMEOUT_MAX_MS	(10 * 60 * 1000)

static int loopback_set_trap_timeout(const char *val,
				     const struct kernel_param *kp)
{
	unsigned int ms;
	int ret;

	ret = kstrtouint(val, 0, &ms);
	if (ret)
		return ret;
	if (ms == 0 || ms > LOOPBACK_TRAP_TIMEOUT_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(loopback_trap_timeout_ms, ms);
	return 0;
}

static const struct kernel_param_ops loopback_trap_timeout_ops = {
	.set = loopback_set_trap_timeout,
	.get = param_get_uint,
};

module_param_cb(trap_timeout_ms, &loopback_trap_timeout_ops,
		&loopback_trap_timeout_ms, 0644);
MODULE_PARM_DESC(trap_timeout_ms,
		 "milliseconds a trap waits for its reply before the device is broken (1 to 600000, default 30000)");

/*
 * Device classes an administrator allows beyond the default ones (see
 * loopback_ctrl_allowed()): a list of virtio device ids, read and written
 * under kernel_param_lock().  A listed class has no feature restrictions.
 */
#define LOOPBACK_MAX_EXTRA_IDS	16
static unsigned int loopback_extra_ids[LOOPBACK_MAX_EXTRA_IDS];
static unsigned int loopback_num_extra_ids;
module_param_array_named(extra_device_ids, loopback_extra_ids, uint,
			 &loopback_num_extra_ids, 0644);
MODULE_PARM_DESC(extra_device_ids,
		 "virtio device ids allowed beyond entropy (4), block (2) and network (1) without a control queue; listing 1 allows the control queue (comma-separated, at most 16)");

static bool loopback_extra_allowed(u32 device_id)
{
	bool found = false;
	unsigned int i;

	kernel_param_lock(THIS_MODULE);
	for (i = 0; i < loopback_num_extra_ids; i++)
		found |= loopback_extra_ids[i] == device_id;
	kernel_param_unlock(THIS_MODULE);
	return found;
}

/*
 * virtio-net features a device may not offer by default.  The control
 * queue (CTRL_VQ) and everything that needs it: 6.1's
 * virtnet_send_command() busy-waits for the device under RTNL without
 * yielding, so on one CPU the device process never runs again, and
 * without CTRL_VQ the driver BUG()s on a command (CTRL_GUEST_OFFLOADS has
 * one on an XDP or ethtool -K change).  STANDBY: net_failover enslaves
 * whatever host interface has the MAC address the device chose.
 */
#define LOOPBACK_NET_DENIED						\
	(BIT_ULL(VIRTIO_NET_F_CTRL_VQ) |				\
	 BIT_ULL(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |			\
	 BIT_ULL(VIRTIO_NET_F_CTRL_RX) |				\
	 BIT_ULL(VIRTIO_NET_F_CTRL_VLAN) |				\
	 BIT_ULL(VIRTIO_NET_F_CTRL_RX_EXTRA) |				\
	 BIT_ULL(VIRTIO_NET_F_GUEST_ANNOUNCE) |				\
	 BIT_ULL(VIRTIO_NET_F_MQ) |					\
	 BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR) |				\
	 BIT_ULL(LOOPBACK_NET_F_VQ_NOTF_COAL) |				\
	 BIT_ULL(LOOPBACK_NET_F_NOTF_COAL) |				\
	 BIT_ULL(VIRTIO_NET_F_HASH_REPORT) |				\
	 BIT_ULL(VIRTIO_NET_F_RSS) |					\
	 BIT_ULL(VIRTIO_NET_F_STANDBY))

/*
 * The class allowlist: entropy, block, and network without a control
 * queue; any other class only if the administrator listed it in
 * extra_device_ids.  Documentation/uapi.md gives the reasons.
 */
static int loopback_ctrl_allowed(const struct loopback_create *req)
{
	switch (req->device_id) {
	case VIRTIO_ID_RNG:
	case VIRTIO_ID_BLOCK:
		return 0;
	case VIRTIO_ID_NET:
		if (!(req->features & LOOPBACK_NET_DENIED))
			return 0;
		break;
	}
	return loopback_extra_allowed(req->device_id) ? 0 : -EPERM;
}

/*
 * The LOOPBACK_F_* bits this module implements: read-only descriptor
 * tables and available rings (loopback_dma.c) and the exact failing of
 * what a dead device held (loopback_fail.c) too.
 */
#define LOOPBACK_FEATURES	(LOOPBACK_F_TRAP_SIZE | LOOPBACK_F_WINDOW_FD | \
				 LOOPBACK_F_REMOVE | LOOPBACK_F_RO_RINGS | \
				 LOOPBACK_F_INFLIGHT)

/*
 * trap_size: 0 (API 1's 32-byte record), or a multiple of 8 from the
 * record's size up to LOOPBACK_MAX_TRAP_SIZE.  API 1 callers had a
 * reserved field there, which had to be 0.
 */
static int loopback_ctrl_validate_trap_size(const struct loopback_create *req)
{
	u32 size = req->trap_size;

	if (!size)
		return 0;
	if (req->api_version < 2 || size < sizeof(struct loopback_trap) ||
	    size > LOOPBACK_MAX_TRAP_SIZE || !IS_ALIGNED(size, 8))
		return -EINVAL;
	return 0;
}

/*
 * From API 2 on, the output fields must be 0 on input, so that a later
 * version can turn them into inputs.  API 1 callers may pass a struct a
 * previous CREATE filled in, as API 1 allowed.
 */
static int loopback_ctrl_validate_outputs(const struct loopback_create *req)
{
	if (req->api_version < 2)
		return 0;
	if (req->regs_base || req->window_base ||
	    memchr_inv(req->name, 0, sizeof(req->name)))
		return -EINVAL;
	return 0;
}

static int loopback_ctrl_validate(const struct loopback_create *req)
{
	const u64 required = BIT_ULL(VIRTIO_F_VERSION_1) |
			     BIT_ULL(VIRTIO_F_ACCESS_PLATFORM);
	unsigned int i;

	if (req->api_version < 1 || req->api_version > LOOPBACK_API_VERSION ||
	    req->flags)
		return -EINVAL;
	if (loopback_ctrl_validate_trap_size(req) ||
	    loopback_ctrl_validate_outputs(req))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(req->reserved); i++)
		if (req->reserved[i])
			return -EINVAL;
	if (req->device_id == 0 || req->device_id == VIRTIO_DEV_ANY_ID)
		return -EINVAL;
	if ((req->features & required) != required)
		return -EINVAL;
	if (req->num_queues < 1 || req->num_queues > LOOPBACK_MAX_QUEUES)
		return -EINVAL;
	if (req->max_queue_size < 2 ||
	    req->max_queue_size > LOOPBACK_MAX_QUEUE_SIZE ||
	    !is_power_of_2(req->max_queue_size))
		return -EINVAL;
	if (req->config_size > LOOPBACK_MAX_CONFIG_SIZE)
		return -EINVAL;
	if (req->window_size < LOOPBACK_MIN_WINDOW_SIZE ||
	    req->window_size > LOOPBACK_MAX_WINDOW_SIZE ||
	    !PAGE_ALIGNED(req->window_size))
		return -EINVAL;
	return 0;
}

static long loopback_ctrl_create(struct loopback_create __user *argp)
{
	struct loopback_create req;
	struct loopback_device *ldev;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	ret = loopback_ctrl_validate(&req);
	if (ret)
		return ret;
	ret = loopback_ctrl_allowed(&req);
	if (ret)
		return ret;

	ldev = loopback_dev_create(&req);
	if (IS_ERR(ldev))
		return PTR_ERR(ldev);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_destroy;
	}
	file = loopback_dev_getfile(ldev);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_put_fd;
	}
	/* From here on the file owns the device: fput() destroys it. */

	req.regs_base = LOOPBACK_REGS_BASE;
	req.window_base = LOOPBACK_WINDOW_BASE;
	strscpy(req.name, ldev->name, sizeof(req.name));
	if (copy_to_user(argp, &req, sizeof(req))) {
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}

	/*
	 * The driver's probe traps to user space, so the virtio device is
	 * registered from a work item: this ioctl returns first.  Queue it
	 * before fd_install() so that a racing close() finds it to cancel.
	 */
	loopback_vdev_start(ldev);
	fd_install(fd, file);
	return fd;

err_put_fd:
	put_unused_fd(fd);
err_destroy:
	loopback_dev_destroy(ldev);
	return ret;
}

static long loopback_ctrl_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case LOOPBACK_GET_API_VERSION:
		return put_user((u64)LOOPBACK_API_VERSION, (u64 __user *)argp);
	case LOOPBACK_GET_FEATURES:
		return put_user((u64)LOOPBACK_FEATURES, (u64 __user *)argp);
	case LOOPBACK_CREATE:
		return loopback_ctrl_create(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations loopback_ctrl_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = loopback_ctrl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice loopback_ctrl_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "loopback",
	.fops = &loopback_ctrl_fops,
	.mode = 0600,
};

static int __init loopback_init(void)
{
	int ret;

	/*
	 * WQ_MEM_RECLAIM: deferred kicks may be on the path that frees
	 * memory (a virtio-blk device doing writeback).
	 */
	loopback_wq = alloc_workqueue("loopback", WQ_MEM_RECLAIM, 0);
	if (!loopback_wq)
		return -ENOMEM;
	/*
	 * The driver's probe and removal (register, remove and destroy
	 * work) wait for the driver, which may wait for I/O that only
	 * loopback_wq's work completes: del_gendisk() writes back dirty
	 * pages, which a broken device fails from fail_work.  Under memory
	 * pressure a WQ_MEM_RECLAIM queue may be down to its one rescuer,
	 * which runs one item at a time; on the same queue a blocked
	 * destroy_work would keep fail_work from ever running.  Nothing
	 * reclaims memory through this queue, so it needs no rescuer.
	 */
	loopback_ctl_wq = alloc_workqueue("loopback_ctl", 0, 0);
	if (!loopback_ctl_wq) {
		ret = -ENOMEM;
		goto err_destroy_wq;
	}

	/*
	 * High priority and unbound as VDUSE's interrupt queue: a
	 * completion is latency.  WQ_MEM_RECLAIM: writeback needs its
	 * completions to free memory, and loopback_wq's free work flushes
	 * this queue's.
	 */
	loopback_irq_wq = alloc_workqueue("loopback_irq",
					  WQ_HIGHPRI | WQ_UNBOUND |
					  WQ_MEM_RECLAIM, 0);
	if (!loopback_irq_wq) {
		ret = -ENOMEM;
		goto err_destroy_ctl_wq;
	}

	ret = class_register(&loopback_class);
	if (ret)
		goto err_destroy_irq_wq;

	ret = loopback_window_fs_init();
	if (ret)
		goto err_unregister_class;

	ret = misc_register(&loopback_ctrl_misc);
	if (ret)
		goto err_window_fs_exit;

	return 0;

err_window_fs_exit:
	loopback_window_fs_exit();
err_unregister_class:
	class_unregister(&loopback_class);
err_destroy_irq_wq:
	destroy_workqueue(loopback_irq_wq);
err_destroy_ctl_wq:
	destroy_workqueue(loopback_ctl_wq);
err_destroy_wq:
	destroy_workqueue(loopback_wq);
	return ret;
}

static void __exit loopback_exit(void)
{
	misc_deregister(&loopback_ctrl_misc);
	/*
	 * Wait for the work that dropped the last device's module ref:
	 * destroy_work (loopback_ctl_wq) queues free_rwork (loopback_wq).
	 */
	destroy_workqueue(loopback_ctl_wq);
	destroy_workqueue(loopback_wq);
	destroy_workqueue(loopback_irq_wq);
	loopback_window_fs_exit();
	class_unregister(&loopback_class);
}

module_init(loopback_init);
module_exit(loopback_exit);

MODULE_DESCRIPTION("virtio devices emulated by user space on the same host");
MODULE_LICENSE("GPL");
