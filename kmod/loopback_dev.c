// SPDX-License-Identifier: GPL-2.0-only
/*
 * loopback.ko: a device and its file descriptor (an anonymous inode):
 * read/write carry traps and replies, poll, the LOOPBACK_DEV_* ioctls,
 * mmap of the DMA window, and release, which tears the device down.
 */
#include <linux/anon_inodes.h>
#include <linux/compat.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "loopback_priv.h"

/* Names "loopbackN" of the parent devices. */
static DEFINE_IDA(loopback_ida);

static void loopback_dev_free_work(struct work_struct *work)
{
	struct loopback_device *ldev =
		container_of(to_rcu_work(work), struct loopback_device,
			     free_rwork);

	loopback_vdev_sync_irqs(ldev);
	loopback_window_put(ldev->window);
	ida_free(&loopback_ida, ldev->index);
	kfree(ldev->config);
	kfree(ldev);
	/*
	 * Taken in loopback_dev_create().  The module's exit drains
	 * loopback_wq, so this function returns before its code goes away.
	 */
	module_put(THIS_MODULE);
}

/*
 * The last reference frees the device from loopback_wq, whose draining
 * the module's exit waits for, after an RCU grace period: see
 * loopback_dev_put_released().
 */
static void loopback_dev_free(struct kref *kref)
{
	struct loopback_device *ldev =
		container_of(kref, struct loopback_device, kref);

	queue_rcu_work(loopback_wq, &ldev->free_rwork);
}

void loopback_dev_put(struct loopback_device *ldev)
{
	kref_put(&ldev->kref, loopback_dev_free);
}

/*
 * The reference of a struct device whose release is this function's
 * caller: the parent's or the virtio device's.  The driver core calls a
 * release whenever the device's last reference goes, which may be after
 * the device fd closed (whoever walks the bus or the class holds one for
 * a moment; CONFIG_DEBUG_KOBJECT_RELEASE delays every release by seconds)
 * and in any task.  Until then the module reference of the
 * device pins loopback.ko, but the put below may drop it: free_rwork's
 * module_put() lets rmmod finish while the release still has to return
 * through this module's text.
 *
 * So the put runs inside an RCU read-side critical section, and the free
 * (and its module_put()) waits for a grace period: it cannot start before
 * the release left the critical section, and free_module() waits for a
 * further grace period before it frees the text.  What remains after the
 * critical section is the release's return; rcu_read_unlock() is its
 * last call, a tail call where the compiler makes one.  A task preempted
 * exactly there (preempt=full) for two grace periods and a whole rmmod
 * is the one window left: making no module function run late at all
 * would need release functions in the core, which the driver core has
 * for class devices but not for a virtio device.
 */
void loopback_dev_put_released(struct loopback_device *ldev)
{
	rcu_read_lock();
	loopback_dev_put(ldev);
	rcu_read_unlock();
}

static void loopback_dev_parent_release(struct device *dev)
{
	loopback_dev_put_released(container_of(dev, struct loopback_device,
					       parent));
}

/* Undoes loopback_dev_create() and loopback_vdev_start(). */
static void loopback_dev_teardown(struct loopback_device *ldev)
{
	loopback_vdev_stop(ldev);
	device_del(&ldev->parent);
	put_device(&ldev->parent);
}

/* Destroys a device that has no file yet (a failed LOOPBACK_CREATE). */
void loopback_dev_destroy(struct loopback_device *ldev)
{
	loopback_dev_teardown(ldev);
	loopback_dev_put(ldev);
}

static void loopback_dev_destroy_work(struct work_struct *work)
{
	struct loopback_device *ldev =
		container_of(work, struct loopback_device, destroy_work);

	loopback_dev_teardown(ldev);
	complete(&ldev->destroyed);
	loopback_dev_put(ldev);		/* the file's reference */
}

/*
 * Allocates a device from a validated request, copies its initial config
 * space from user space and adds the parent device.  The virtio device is
 * registered later, by loopback_vdev_start().
 */
struct loopback_device *loopback_dev_create(const struct loopback_create *req)
{
	struct loopback_device *ldev;
	int ret;

	ldev = kzalloc(struct_size(ldev, vqs, req->num_queues), GFP_KERNEL);
	if (!ldev)
		return ERR_PTR(-ENOMEM);

	ldev->features = req->features;
	ldev->window_size = req->window_size;
	ldev->device_id = req->device_id;
	ldev->vendor_id = req->vendor_id;
	ldev->num_queues = req->num_queues;
	ldev->max_queue_size = req->max_queue_size;
	ldev->config_size = req->config_size;
	ldev->trap_size = req->trap_size ?: sizeof(struct loopback_trap);

	if (req->config_size) {
		ldev->config = memdup_user(u64_to_user_ptr(req->config),
					   req->config_size);
		if (IS_ERR(ldev->config)) {
			ret = PTR_ERR(ldev->config);
			goto err_free;
		}
	}

	ret = ida_alloc(&loopback_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_free_config;
	ldev->index = ret;
	snprintf(ldev->name, sizeof(ldev->name), "loopback%d", ldev->index);

	ldev->window = loopback_window_create(LOOPBACK_WINDOW_BASE,
					      req->window_size);
	if (IS_ERR(ldev->window)) {
		ret = PTR_ERR(ldev->window);
		goto err_free_index;
	}
	ret = loopback_window_attach(ldev->window);
	if (ret)
		goto err_put_window;

	loopback_vdev_init(ldev);
	INIT_WORK(&ldev->destroy_work, loopback_dev_destroy_work);
	INIT_RCU_WORK(&ldev->free_rwork, loopback_dev_free_work);
	init_completion(&ldev->destroyed);

	/*
	 * From here on loopback_dev_free() undoes all of the above.  The
	 * module stays loaded until then, whatever still holds the memory.
	 */
	__module_get(THIS_MODULE);
	kref_init(&ldev->kref);

	kref_get(&ldev->kref);	/* dropped by loopback_dev_parent_release() */
	device_initialize(&ldev->parent);
	ldev->parent.class = &loopback_class;
	ldev->parent.release = loopback_dev_parent_release;
	ret = dev_set_name(&ldev->parent, "%s", ldev->name);
	if (ret)
		goto err_put_parent;
	loopback_window_bind(ldev->window, &ldev->parent);
	ret = device_add(&ldev->parent);
	if (ret)
		goto err_put_parent;

	return ldev;

err_put_parent:
	put_device(&ldev->parent);
	loopback_dev_put(ldev);
	return ERR_PTR(ret);

err_put_window:
	loopback_window_put(ldev->window);
err_free_index:
	ida_free(&loopback_ida, ldev->index);
err_free_config:
	kfree(ldev->config);
err_free:
	kfree(ldev);
	return ERR_PTR(ret);
}

static ssize_t loopback_dev_read(struct file *file, char __user *buf,
				 size_t count, loff_t *ppos)
{
	return loopback_vdev_read(file->private_data, buf, count,
				  file->f_flags & O_NONBLOCK);
}

static ssize_t loopback_dev_write(struct file *file, const char __user *buf,
				  size_t count, loff_t *ppos)
{
	return loopback_vdev_write(file->private_data, buf, count);
}

static __poll_t loopback_dev_poll(struct file *file,
				  struct poll_table_struct *wait)
{
	return loopback_vdev_poll(file->private_data, file, wait);
}

static long loopback_dev_get_info(struct loopback_device *ldev,
				  struct loopback_dev_info __user *argp)
{
	struct loopback_dev_info info = {
		.api_version = LOOPBACK_API_VERSION,
		.device_id = ldev->device_id,
		.vendor_id = ldev->vendor_id,
		.num_queues = ldev->num_queues,
		.features = ldev->features,
		.regs_base = LOOPBACK_REGS_BASE,
		.window_base = LOOPBACK_WINDOW_BASE,
		.window_size = ldev->window_size,
		.max_queue_size = ldev->max_queue_size,
		.config_size = ldev->config_size,
	};

	strscpy(info.name, ldev->name, sizeof(info.name));
	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/*
 * A new fd that maps only the window, for a process that may touch the
 * window and nothing else (a vhost-user back end).
 */
static long loopback_dev_window_fd(struct loopback_device *ldev,
				   struct loopback_window_fd __user *argp)
{
	struct loopback_window_fd arg;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~LOOPBACK_WINDOW_FD_CLOEXEC || arg.reserved0 ||
	    arg.window_base || arg.window_size ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;

	fd = get_unused_fd_flags((arg.flags & LOOPBACK_WINDOW_FD_CLOEXEC) ?
				 O_CLOEXEC : 0);
	if (fd < 0)
		return fd;
	file = loopback_window_file(ldev->window);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_put_fd;
	}

	arg.window_base = LOOPBACK_WINDOW_BASE;
	arg.window_size = ldev->window_size;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		ret = -EFAULT;
		goto err_fput;
	}
	fd_install(fd, file);
	return fd;

err_fput:
	fput(file);
err_put_fd:
	put_unused_fd(fd);
	return ret;
}

static long loopback_dev_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	struct loopback_device *ldev = file->private_data;
	void __user *argp = (void __user *)arg;
	union {
		struct loopback_ioeventfd ioeventfd;
		struct loopback_irqfd irqfd;
		struct loopback_interrupt interrupt;
		struct loopback_config config;
		struct loopback_remove remove;
	} u;

	switch (cmd) {
	case LOOPBACK_DEV_GET_INFO:
		return loopback_dev_get_info(ldev, argp);
	case LOOPBACK_DEV_IOEVENTFD:
	case LOOPBACK_DEV_IRQFD:
	case LOOPBACK_DEV_INTERRUPT:
	case LOOPBACK_DEV_SET_CONFIG:
	case LOOPBACK_DEV_WINDOW_FD:
	case LOOPBACK_DEV_REMOVE:
		break;
	default:
		return -ENOTTY;
	}

	/* Everything but GET_INFO fails once the device is broken. */
	if (loopback_vdev_broken(ldev))
		return -EIO;
	if (cmd == LOOPBACK_DEV_WINDOW_FD)
		return loopback_dev_window_fd(ldev, argp);
	if (copy_from_user(&u, argp, _IOC_SIZE(cmd)))
		return -EFAULT;
	if (cmd == LOOPBACK_DEV_REMOVE)
		return loopback_vdev_remove(ldev, &u.remove);
	/* Nothing left to bind, raise or configure once the removal is over. */
	if (loopback_vdev_removed(ldev))
		return -ENODEV;

	switch (cmd) {
	case LOOPBACK_DEV_IOEVENTFD:
		return loopback_vdev_ioeventfd(ldev, &u.ioeventfd);
	case LOOPBACK_DEV_IRQFD:
		return loopback_vdev_irqfd(ldev, &u.irqfd);
	case LOOPBACK_DEV_INTERRUPT:
		return loopback_vdev_interrupt(ldev, &u.interrupt);
	default:
		return loopback_vdev_set_config(ldev, &u.config);
	}
}

static int loopback_dev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct loopback_device *ldev = file->private_data;

	return loopback_window_mmap(ldev->window, vma);
}

/*
 * Close or process death.  The device breaks at once, so that every trap
 * and every buffer in flight fails; the teardown runs in a work item that
 * this waits for, up to the trap timeout.  Normally it is done by then.
 * A driver still waiting for I/O the kernel could not fail (a malformed
 * ring, see loopback_fail.c) leaves it running in the background instead
 * of blocking the closing (or dying) process forever; the module stays
 * loaded until it ends.
 */
static int loopback_dev_release(struct inode *inode, struct file *file)
{
	struct loopback_device *ldev = file->private_data;
	unsigned int timeout_ms = READ_ONCE(loopback_trap_timeout_ms);

	loopback_vdev_break(ldev);
	/* The completion lives in ldev: keep it until the wait is over. */
	kref_get(&ldev->kref);
	queue_work(loopback_ctl_wq, &ldev->destroy_work);
	/*
	 * Not killable: the release of a dying process runs with the fatal
	 * signal pending, so a killable wait would not wait at all.  It is
	 * bounded by trap_timeout_ms (at most ten minutes).
	 */
	if (!wait_for_completion_timeout(&ldev->destroyed,
					 msecs_to_jiffies(timeout_ms)))
		dev_warn(&ldev->parent,
			 "removal still waits for its driver after %u ms; continuing in the background\n",
			 timeout_ms);
	loopback_dev_put(ldev);
	return 0;
}

static const struct file_operations loopback_dev_fops = {
	.owner = THIS_MODULE,
	.read = loopback_dev_read,
	.write = loopback_dev_write,
	.poll = loopback_dev_poll,
	.unlocked_ioctl = loopback_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = loopback_dev_mmap,
	.release = loopback_dev_release,
	.llseek = noop_llseek,
};

/*
 * The device's file: an anonymous inode whose .owner pins the module for
 * as long as the file (and so any mapping of it) exists.
 */
struct file *loopback_dev_getfile(struct loopback_device *ldev)
{
	return anon_inode_getfile("[loopback]", &loopback_dev_fops, ldev,
				  O_RDWR);
}
