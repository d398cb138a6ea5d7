/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lbtest: shared helpers of the loopback.ko tests (tests/kmod/).
 *
 *  - TAP output (kselftest style: "TAP version 13", "ok N - name",
 *    "not ok N - name", "1..N" at the end, exit 0 / 1 / 4 for skip);
 *  - /dev/loopback and sysfs helpers;
 *  - a minimal device model: a virtio-mmio (version 2) register block and
 *    an entropy device (virtio-rng) that fills the buffers of its split
 *    virtqueues with a known, seekable byte stream, or a block device
 *    (virtio-blk) that serves reads and writes from memory.  It talks to the
 *    kernel through the uapi only (include/uapi/linux/loopback.h), not
 *    through libloopback.
 *
 * Every helper has a timeout: a broken module fails a test instead of
 * hanging the guest.
 */
#ifndef LBTEST_H
#define LBTEST_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <linux/loopback.h>

#define LB_CTL_PATH "/dev/loopback"
#define LB_VIRTIO_DEVICES "/sys/bus/virtio/devices"
#define LB_HWRNG_SYSFS "/sys/class/misc/hw_random"

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_ENTROPY 4
#define VF_VERSION_1 (1ULL << 32)
#define VF_ACCESS_PLATFORM (1ULL << 33)

/* virtio-mmio (version 2) register offsets */
#define VM_MAGIC 0x000
#define VM_VERSION 0x004
#define VM_DEVICE_ID 0x008
#define VM_VENDOR_ID 0x00c
#define VM_DEV_FEATURES 0x010
#define VM_DEV_FEATURES_SEL 0x014
#define VM_DRV_FEATURES 0x020
#define VM_DRV_FEATURES_SEL 0x024
#define VM_QUEUE_SEL 0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM 0x038
#define VM_QUEUE_READY 0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_INTERRUPT_STATUS 0x060
#define VM_INTERRUPT_ACK 0x064
#define VM_STATUS 0x070
#define VM_QUEUE_DESC_LOW 0x080
#define VM_QUEUE_DESC_HIGH 0x084
#define VM_QUEUE_DRIVER_LOW 0x090
#define VM_QUEUE_DRIVER_HIGH 0x094
#define VM_QUEUE_DEVICE_LOW 0x0a0
#define VM_QUEUE_DEVICE_HIGH 0x0a4
#define VM_SHM_SEL 0x0ac
#define VM_SHM_LEN_LOW 0x0b0
#define VM_SHM_LEN_HIGH 0x0b4
#define VM_SHM_BASE_LOW 0x0b8
#define VM_SHM_BASE_HIGH 0x0bc
#define VM_QUEUE_RESET 0x0c0
#define VM_CONFIG_GENERATION 0x0fc
#define VM_CONFIG 0x100

/* device status bits */
#define VS_ACKNOWLEDGE 1
#define VS_DRIVER 2
#define VS_DRIVER_OK 4
#define VS_FEATURES_OK 8
#define VS_NEEDS_RESET 64
#define VS_FAILED 128

/* virtio-blk request types and status values */
#define VBLK_T_IN 0
#define VBLK_T_OUT 1
#define VBLK_T_GET_ID 8
#define VBLK_S_OK 0
#define VBLK_S_IOERR 1
#define VBLK_S_UNSUPP 2
#define VBLK_SECTOR 512

/* split virtqueue descriptor flags */
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4

/* a split virtqueue descriptor, as the window holds it (little endian) */
struct lb_vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

/* ------------------------------------------------------------------ TAP */

void tap_init(const char *prog);	/* prints "TAP version 13", arms the watchdog */
int tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int tap_finish(void);		/* prints the plan; returns the exit status */
int tap_failures(void);
/* re-arms the whole-program watchdog (SIGALRM: "Bail out!") */
void tap_watchdog(unsigned int seconds);

/* expect a failed call with one of the listed errnos (0-terminated) */
#define EXPECT_ERR(ret, name, ...)                                           \
	({                                                                   \
		long ret_ = (long)(ret);                                     \
		int err_ = errno;                                            \
		lb_expect_err(ret_, err_, name, (const int[]){ __VA_ARGS__, 0 }); \
	})
int lb_expect_err(long ret, int err, const char *name, const int *allowed);
#define EXPECT_OK(ret, name)                                                 \
	({                                                                   \
		long ret_ = (long)(ret);                                     \
		int err_ = errno;                                            \
		lb_expect_ok(ret_, err_, name);                              \
	})
int lb_expect_ok(long ret, int err, const char *name);

/* --------------------------------------------------------------- utility */

uint64_t lb_now_ns(void);
uint64_t lb_now_ms(void);
void lb_sleep_ms(unsigned int ms);
/* reads a small text file into buf (NUL-terminated, trailing newline cut) */
int lb_read_file(const char *path, char *buf, size_t len);
int lb_write_file(const char *path, const char *text);
/* waits until a child exits, up to timeout_ms; -1 (ETIMEDOUT) if it did not */
int lb_wait_child(pid_t pid, int *status, unsigned int timeout_ms);
/* true if the kernel log holds needle (reads /dev/kmsg from the start) */
bool lb_kmsg_contains(const char *needle);
/* how many kernel log records contain @needle */
int lb_kmsg_count(const char *needle);
/* dumps /proc/PID/stack and wchan as TAP diagnostics (for hangs) */
void lb_dump_task(pid_t pid, const char *what);

/* ---------------------------------------------- memory access and fds */

/* touches *p (read, or write when wr); returns the signal it raised, or 0 */
int lb_touch(volatile uint8_t *p, bool wr);
/* "SIGBUS", "SIGSEGV", "no signal", ... */
const char *lb_signame(int sig);
/* passes fd over a unix socket (SCM_RIGHTS, one byte); 0 or -1 */
int lb_send_fd(int sock, int fd);
/* receives one (O_CLOEXEC); the fd or -1 */
int lb_recv_fd(int sock);

/* ------------------------------------------------------ /dev/loopback */

/* opens /dev/loopback, or ends the program with "skip" when it is missing */
int lb_open_ctl(void);
/* a valid CREATE argument: entropy device, VERSION_1|ACCESS_PLATFORM */
void lb_create_defaults(struct loopback_create *c);

/* ------------------------------------------------------------- sysfs */

int lb_virtio_count(void);
/*
 * Finds the virtio device of the loopback device NAME (create.name):
 * /sys/bus/virtio/devices/X whose basename is NAME or whose real path has
 * a component NAME.  Writes "virtioN" to out.  0 or -1.
 */
int lb_find_virtio(const char *name, char *out, size_t outlen);
/* the bound driver's name of virtio device VDEV ("" when unbound) */
int lb_virtio_driver(const char *vdev, char *out, size_t outlen);
/*
 * waits until NAME's virtio device is bound to DRIVER; fills vdev.  The
 * driver core creates the "driver" link before it calls the driver's probe
 * (and removes it when the probe fails): this says the probe started.  For
 * virtio_rng, lb_rng_wait_single() says that it reached hwrng_register().
 */
int lb_wait_bound(const char *name, const char *driver, char *vdev,
		  size_t vlen, unsigned int timeout_ms);
/* waits until NAME has no virtio device any more */
int lb_wait_gone(const char *name, unsigned int timeout_ms);
/* waits until /sys/bus/virtio/devices holds COUNT entries */
int lb_wait_count(int count, unsigned int timeout_ms);
void lb_list_virtio(void);	/* diagnostics */

/* --------------------------------------------------------------- hwrng */

/* the virtio_rng.N names in rng_available, space separated, into out */
int lb_rng_available(char *out, size_t len);
/* waits until exactly one virtio_rng.* is available, returns its name */
int lb_rng_wait_single(char *name, size_t len, unsigned int timeout_ms);
int lb_rng_set_current(const char *name);
/* lb_rng_wait_single() then lb_rng_set_current(): 0, or -1 (errno set) */
int lb_rng_use_single(char *name, size_t len, unsigned int timeout_ms);
/*
 * Reads n bytes (n a multiple of 64, read in chunks of `chunk` bytes, also a
 * multiple of 64: the hwrng core hands out its 64-byte buffer tail first
 * otherwise) from /dev/hwrng in a helper thread; gives up after
 * timeout_ms.  Returns the bytes read, or -errno.
 */
ssize_t lb_hwrng_read(void *buf, size_t n, size_t chunk, unsigned int timeout_ms);

/* ------------------------------------------------------- the byte stream */

/* byte `off` of the stream of SEED */
uint8_t lb_stream_byte(uint64_t seed, uint64_t off);
void lb_stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len);
struct lb_match {
	uint64_t first;		/* stream offset of the first byte read */
	uint64_t last;		/* stream offset after the last byte read */
	unsigned int runs;	/* contiguous runs (1 = no gap) */
	uint64_t skipped;	/* stream bytes between runs (others read them) */
	size_t bad_at;		/* on failure: offset in data */
};
/*
 * Checks that DATA is made of the stream of SEED (first PRODUCED bytes) in
 * order: contiguous runs, each later in the stream than the one before, no
 * byte twice, no foreign byte.  Gaps are bytes other readers of the same
 * hwrng took (the core's early read, its hwrng kthread); every run but the
 * last must be at least 16 bytes and there may be at most max_runs runs.
 * 0 when it holds.
 */
int lb_stream_match(uint64_t seed, uint64_t produced, const uint8_t *data,
		    size_t n, unsigned int max_runs, struct lb_match *m);

/* ------------------------------------------------------ the device model */

enum lbdev_fill {
	LB_FILL_FULL,		/* fill every device-writable buffer completely */
	LB_FILL_PARTIAL,	/* fill fill_len bytes per buffer, used.len says so */
	LB_FILL_NONE,		/* never complete a buffer (I/O stays pending) */
	LB_FILL_HOLD,		/* take buffers off the ring, never return them */
	LB_FILL_REVERSE,	/* hold buffers; every fill_len of them, return all, newest first */
};

/* requests of a queue the model holds and remembers (LB_FILL_HOLD, _REVERSE) */
#define LB_MAX_HELD 256

struct lbdev_opts {
	uint32_t device_id;	/* default 4 (entropy); VIRTIO_ID_BLOCK: a disk */
	uint64_t blk_sectors;	/* block device: capacity (default 2048) */
	uint32_t blk_seg_max;	/* block device: offer SEG_MAX with this seg_max (0: no) */
	uint32_t num_queues;	/* default 1 */
	uint32_t max_queue_size; /* default 256 */
	uint32_t config_size;	/* default 0 */
	uint64_t window_size;	/* default 256 KiB */
	uint32_t trap_size;	/* create's trap_size (default 0: 32-byte records) */
	uint64_t seed;		/* stream seed; default from the device number */
	enum lbdev_fill fill;
	uint32_t fill_len;	/* LB_FILL_PARTIAL: bytes per used element */
	bool ioeventfd;		/* kicks through ioeventfds (bound before any trap is answered) */
	bool irqfd;		/* interrupts through irqfds, else LOOPBACK_DEV_INTERRUPT */
	bool manual;		/* no serving thread: the test calls lbdev_serve() */
	/* asks for no kicks (VRING_USED_F_NO_NOTIFY); the thread polls the rings */
	bool no_kicks;
	bool no_mmap;		/* do not map the window */
	/* stop answering at the first Status access (any, or once DRIVER is set) */
	bool stall_first_status;
	bool stall_status_after_driver;
	uint64_t features;	/* create's features (default VERSION_1 | ACCESS_PLATFORM) */
	uint32_t api_version;	/* create's api_version (default LOOPBACK_API_VERSION) */
};

struct lbq {
	uint32_t num;
	bool ready;
	uint64_t desc, driver, device;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t held_head[LB_MAX_HELD];	/* held requests, oldest first */
	uint32_t nheld;
};

struct lbdev {
	int fd;
	struct lbdev_opts o;
	struct loopback_create cr;
	struct loopback_dev_info info;
	uint8_t *win;			/* the window, mapped at info.window_base */
	int kick_fd[LOOPBACK_MAX_QUEUES];	/* ioeventfds (-1 none) */
	int irq_fd[LOOPBACK_MAX_QUEUES];	/* irqfds (-1 none) */
	int stop_fd;
	pthread_t thread;
	bool thread_running;

	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t cond;		/* broadcast on any change */
	uint32_t status;
	uint32_t status_seen;		/* every status bit ever written */
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t drv_features;
	uint32_t queue_sel;
	uint32_t isr;
	uint32_t config_gen;
	uint8_t config[LOOPBACK_MAX_CONFIG_SIZE];
	struct lbq q[LOOPBACK_MAX_QUEUES];
	uint8_t *disk;			/* block device: blk_sectors * 512 bytes */
	uint64_t blk_requests, blk_errors;	/* requests served, failed */
	uint64_t held;			/* LB_FILL_HOLD: buffers taken, never returned */
	uint64_t produced;		/* stream bytes handed out */
	uint64_t fills;			/* used elements written */
	uint64_t traps, posted, replies, reply_errors;
	uint64_t notify_traps, eventfd_kicks, interrupts, interrupt_errors;
	uint64_t unknown_reads, unknown_writes, ring_errors;
	uint32_t resets;
	bool broken;			/* poll said EPOLLERR/EPOLLHUP */
	bool removed;			/* ... EPOLLHUP alone, or read() 0: REMOVE finished */
	bool stalled;			/* stopped answering (stall option) */
	bool stall_next_status;		/* set by the test: stall at the next Status access */
	struct loopback_trap stall_trap;
	char errmsg[256];		/* first protocol error the model saw */
};

/* creates a device (model state initialised, window mapped, eventfds bound,
 * thread started unless manual).  NULL with errno on failure. */
struct lbdev *lbdev_create(int ctl, const struct lbdev_opts *o);
/* bytes of each record read() returns on d->fd */
size_t lbdev_trap_size(const struct lbdev *d);
/* answers one batch: poll up to timeout_ms, handle traps and kicks.
 * 1 if it did something, 0 on timeout, -1 when the fd is broken/closed */
int lbdev_serve(struct lbdev *d, int timeout_ms);
/* serves queue qi as a kick would (manual mode: an ioeventfd the caller
 * polls itself) */
void lbdev_kick(struct lbdev *d, uint32_t qi);
/* handles one trap (answers it unless posted); 0 or -1 */
int lbdev_handle_trap(struct lbdev *d, const struct loopback_trap *t);
/* the reply the register model gives for a trap (no write) */
uint64_t lbdev_model(struct lbdev *d, const struct loopback_trap *t, bool *reply);
void lbdev_start(struct lbdev *d);
void lbdev_stop(struct lbdev *d);
/* waits until (status & mask) == mask, or the device is broken/stalled */
int lbdev_wait_status(struct lbdev *d, uint32_t mask, unsigned int timeout_ms);
/* waits until the model produced at least `bytes` stream bytes */
int lbdev_wait_produced(struct lbdev *d, uint64_t bytes, unsigned int timeout_ms);
int lbdev_wait_stalled(struct lbdev *d, unsigned int timeout_ms);
uint64_t lbdev_produced(struct lbdev *d);
/* buffers of queue qi the driver made available and the model did not
 * return (avail idx - used idx, read from the ring); 0 without a ring */
uint32_t lbdev_in_flight(struct lbdev *d, uint32_t qi);
/* requests of queue qi the model holds (LB_FILL_HOLD, LB_FILL_REVERSE) */
uint32_t lbdev_held(struct lbdev *d, uint32_t qi);
/* serves and returns the held request at position pos (0 = oldest) of
 * queue qi and raises its interrupt: out of order; 0 or -1 */
int lbdev_complete_held(struct lbdev *d, uint32_t qi, uint32_t pos);
/* the same without the interrupt (lbdev_raise() raises it later) */
int lbdev_complete_held_quiet(struct lbdev *d, uint32_t qi, uint32_t pos);
/* raises queue qi's interrupt */
void lbdev_raise(struct lbdev *d, uint32_t qi);
/* publishes a used element for head (length 0) that no request asked for
 * and raises the interrupt (a device returning what it does not hold) */
int lbdev_push_used(struct lbdev *d, uint32_t qi, uint16_t head);
/* queue qi's descriptor table, available and used rings in the window */
int lbdev_rings(struct lbdev *d, uint32_t qi, void **desc, void **avail, void **used);
/* sets the fill mode (e.g. to stop completing mid-run) */
void lbdev_set_fill(struct lbdev *d, enum lbdev_fill fill);
/* stops the thread, unmaps, closes (unmap_first: munmap before close) */
void lbdev_destroy(struct lbdev *d, bool unmap_first);
/* closes the fd but keeps the window mapped; returns the mapping */
void *lbdev_close_keep_map(struct lbdev *d, size_t *len);

/* ------------------------------------- messages from a forked device process */

/* One fixed-size message on a pipe: what the child did, for which device. */
struct lb_msg {
	char tag[16];
	char name[LOOPBACK_NAME_LEN + 1];
	char extra[95];
};

/* Sends one message; a short write ends the (child) process with 90. */
void lb_msg_send(int fd, const char *tag, const char *name, const char *extra);
/* 0 with *@m filled, or -1 when nothing whole came within @timeout ms. */
int lb_msg_recv(int fd, struct lb_msg *m, int timeout);

#endif /* LBTEST_H */
