// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lbtest: shared helpers of the loopback.ko tests.  See lbtest.h.
 */
#define _GNU_SOURCE
#include "lbtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ TAP */

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static int tap_n, tap_fail, tap_skipped;
static const char *tap_prog = "lbtest";

static void watchdog_fired(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test program hung (a kernel call never returned?)\n";
	ssize_t r;

	(void)sig;
	r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

void tap_watchdog(unsigned int seconds)
{
	alarm(seconds);
}

void tap_init(const char *prog)
{
	struct sigaction sa;

	tap_prog = prog;
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog_fired;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	tap_watchdog(240);
	printf("TAP version 13\n");
	printf("# %s\n", prog);
}

static void vdiag(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void vdiag(const char *fmt, va_list ap)
{
	char buf[2048], *line, *save = NULL;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
}

int tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	tap_n++;
	if (!cond)
		tap_fail++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return cond;
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	tap_n++;
	tap_skipped++;
	printf("ok %d - ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # SKIP\n");
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("1..0 # SKIP ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	_exit(4);
}

void tap_bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("Bail out! ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	_exit(1);
}

int tap_failures(void)
{
	return tap_fail;
}

int tap_finish(void)
{
	alarm(0);
	printf("1..%d\n", tap_n);
	printf("# %s: %d passed, %d failed, %d skipped\n", tap_prog,
	       tap_n - tap_fail - tap_skipped, tap_fail, tap_skipped);
	fflush(stdout);
	if (tap_fail)
		return 1;
	if (tap_n > 0 && tap_skipped == tap_n)
		return 4;
	return 0;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ENOTTY: return "ENOTTY";
	case E2BIG: return "E2BIG";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOVERFLOW: return "EOVERFLOW";
	case ESHUTDOWN: return "ESHUTDOWN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ENXIO: return "ENXIO";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ECANCELED: return "ECANCELED";
	case ENOTCONN: return "ENOTCONN";
	case EPIPE: return "EPIPE";
	default: return strerror(e);
	}
}

int lb_expect_err(long ret, int err, const char *name, const int *allowed)
{
	char want[128] = "";
	bool ok = false;
	int i;

	for (i = 0; allowed[i]; i++) {
		if (ret == -1 && err == allowed[i])
			ok = true;
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
			 i ? "/" : "", errname(allowed[i]));
	}
	if (ret == -1)
		return tap_ok(ok, "%s: %s (want %s)", name, errname(err), want);
	return tap_ok(false, "%s: returned %ld, want -1 %s", name, ret, want);
}

int lb_expect_ok(long ret, int err, const char *name)
{
	if (ret >= 0)
		return tap_ok(true, "%s", name);
	return tap_ok(false, "%s: failed with %s", name, errname(err));
}

/* --------------------------------------------------------------- utility */

uint64_t lb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t lb_now_ms(void)
{
	return lb_now_ns() / 1000000ULL;
}

void lb_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int lb_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if (!len)
		return -1;
	buf[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

int lb_write_file(const char *path, const char *text)
{
	ssize_t n;
	int fd, e;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

int lb_wait_child(pid_t pid, int *status, unsigned int timeout_ms)
{
	uint64_t end = lb_now_ms() + timeout_ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (lb_now_ms() >= end) {
			errno = ETIMEDOUT;
			return -1;
		}
		lb_sleep_ms(10);
	}
}

void lb_dump_task(pid_t pid, const char *what)
{
	char path[64], buf[4096], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	if (lb_read_file(path, buf, sizeof(buf)) == 0)
		tap_diag("%s (pid %d) wchan: %s", what, (int)pid, buf);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "State:", 6))
				tap_diag("%s (pid %d) %s", what, (int)pid, strtok(line, "\n"));
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
	if (lb_read_file(path, buf, sizeof(buf)) == 0)
		tap_diag("%s (pid %d) kernel stack:\n%s", what, (int)pid, buf);
}

int lb_kmsg_count(const char *needle)
{
	char rec[2048];
	int found = 0;
	ssize_t n;
	int fd;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			break;
		rec[n] = 0;
		if (strstr(rec, needle))
			found++;
	}
	close(fd);
	return found;
}

bool lb_kmsg_contains(const char *needle)
{
	return lb_kmsg_count(needle) > 0;
}

/* ---------------------------------------------- memory access and fds */

static sigjmp_buf touch_jb;
static volatile sig_atomic_t touch_sig;

static void touch_fault(int sig)
{
	touch_sig = sig;
	siglongjmp(touch_jb, 1);
}

int lb_touch(volatile uint8_t *p, bool wr)
{
	struct sigaction sa, obus, osegv;
	int r = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = touch_fault;
	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	touch_sig = 0;
	if (sigsetjmp(touch_jb, 1) == 0) {
		if (wr)
			*p = 0x42;
		else
			(void)*p;
	} else {
		r = touch_sig;
	}
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return r;
}

const char *lb_signame(int s)
{
	return s == SIGBUS ? "SIGBUS" : s == SIGSEGV ? "SIGSEGV" : s ? "a signal" : "no signal";
}

/* a one-byte message with room for one passed fd */
struct fd_msg {
	char c;
	struct iovec iov;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg;
};

static void fd_msg_init(struct fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->c = 'F';
	m->iov.iov_base = &m->c;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->u.b;
	m->msg.msg_controllen = sizeof(m->u.b);
}

int lb_send_fd(int sock, int fd)
{
	struct fd_msg m;
	struct cmsghdr *cm;

	fd_msg_init(&m);
	cm = CMSG_FIRSTHDR(&m.msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m.msg, 0) == 1 ? 0 : -1;
}

int lb_recv_fd(int sock)
{
	struct fd_msg m;
	struct cmsghdr *cm;
	int fd = -1;

	fd_msg_init(&m);
	if (recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&m.msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* ------------------------------------------------------ /dev/loopback */

int lb_open_ctl(void)
{
	int fd = open(LB_CTL_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
			tap_skip_all("%s: %s (is loopback.ko loaded?)", LB_CTL_PATH, strerror(errno));
		tap_bail("open %s: %s", LB_CTL_PATH, strerror(errno));
	}
	return fd;
}

void lb_create_defaults(struct loopback_create *c)
{
	memset(c, 0, sizeof(*c));
	c->api_version = LOOPBACK_API_VERSION;
	c->device_id = VIRTIO_ID_ENTROPY;
	c->vendor_id = 0x4c425453;
	c->features = VF_VERSION_1 | VF_ACCESS_PLATFORM;
	c->num_queues = 1;
	c->max_queue_size = 256;
	c->config_size = 0;
	c->window_size = 256 << 10;
}

/* ------------------------------------------------------------- sysfs */

int lb_virtio_count(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	d = opendir(LB_VIRTIO_DEVICES);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool path_has_component(const char *path, const char *name)
{
	size_t l = strlen(name);
	const char *p = path;

	while ((p = strstr(p, name))) {
		if (p > path && p[-1] == '/' && (p[l] == '/' || p[l] == 0))
			return true;
		p++;
	}
	return false;
}

int lb_find_virtio(const char *name, char *out, size_t outlen)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = -1;

	if (!name || !name[0])
		return -1;
	d = opendir(LB_VIRTIO_DEVICES);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", LB_VIRTIO_DEVICES, e->d_name);
		if (!strcmp(e->d_name, name) ||
		    (realpath(path, real) && path_has_component(real, name))) {
			snprintf(out, outlen, "%s", e->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

int lb_virtio_driver(const char *vdev, char *out, size_t outlen)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	char *b;

	out[0] = 0;
	snprintf(path, sizeof(path), "%s/%s/driver", LB_VIRTIO_DEVICES, vdev);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	link[n] = 0;
	b = strrchr(link, '/');
	snprintf(out, outlen, "%s", b ? b + 1 : link);
	return 0;
}

int lb_wait_bound(const char *name, const char *driver, char *vdev,
		  size_t vlen, unsigned int timeout_ms)
{
	uint64_t end = lb_now_ms() + timeout_ms;
	char v[64], drv[64];

	for (;;) {
		if (lb_find_virtio(name, v, sizeof(v)) == 0 &&
		    lb_virtio_driver(v, drv, sizeof(drv)) == 0 &&
		    !strcmp(drv, driver)) {
			if (vdev)
				snprintf(vdev, vlen, "%s", v);
			return 0;
		}
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(5);
	}
}

int lb_wait_gone(const char *name, unsigned int timeout_ms)
{
	uint64_t end = lb_now_ms() + timeout_ms;
	char v[64];

	for (;;) {
		if (lb_find_virtio(name, v, sizeof(v)) < 0)
			return 0;
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(5);
	}
}

int lb_wait_count(int count, unsigned int timeout_ms)
{
	uint64_t end = lb_now_ms() + timeout_ms;

	for (;;) {
		if (lb_virtio_count() == count)
			return 0;
		if (lb_now_ms() >= end)
			return -1;
		lb_sleep_ms(5);
	}
}

void lb_list_virtio(void)
{
	char path[PATH_MAX], real[PATH_MAX], drv[64];
	struct dirent *e;
	DIR *d;

	d = opendir(LB_VIRTIO_DEVICES);
	if (!d) {
		tap_diag("no %s", LB_VIRTIO_DEVICES);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", LB_VIRTIO_DEVICES, e->d_name);
		if (!realpath(path, real))
			snprintf(real, sizeof(real), "?");
		lb_virtio_driver(e->d_name, drv, sizeof(drv));
		tap_diag("virtio device %s -> %s (driver: %s)", e->d_name, real,
			 drv[0] ? drv : "none");
	}
	closedir(d);
}

/* --------------------------------------------------------------- hwrng */

int lb_rng_available(char *out, size_t len)
{
	char buf[4096], *tok, *save = NULL;

	out[0] = 0;
	if (lb_read_file(LB_HWRNG_SYSFS "/rng_available", buf, sizeof(buf)) < 0)
		return -1;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (strncmp(tok, "virtio_rng.", 11))
			continue;
		if (strlen(out) + strlen(tok) + 2 > len)
			break;
		if (out[0])
			strcat(out, " ");
		strcat(out, tok);
	}
	return 0;
}

int lb_rng_wait_single(char *name, size_t len, unsigned int timeout_ms)
{
	uint64_t end = lb_now_ms() + timeout_ms;
	char avail[4096];

	for (;;) {
		if (lb_rng_available(avail, sizeof(avail)) == 0 && avail[0] &&
		    !strchr(avail, ' ')) {
			snprintf(name, len, "%s", avail);
			return 0;
		}
		if (lb_now_ms() >= end) {
			tap_diag("rng_available: '%s'", avail);
			return -1;
		}
		lb_sleep_ms(5);
	}
}

int lb_rng_use_single(char *name, size_t len, unsigned int timeout_ms)
{
	if (lb_rng_wait_single(name, len, timeout_ms) < 0)
		return -1;
	return lb_rng_set_current(name);
}

int lb_rng_set_current(const char *name)
{
	char cur[128];

	if (lb_write_file(LB_HWRNG_SYSFS "/rng_current", name) < 0)
		return -1;
	if (lb_read_file(LB_HWRNG_SYSFS "/rng_current", cur, sizeof(cur)) < 0)
		return -1;
	if (strcmp(cur, name)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

struct hwrng_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	uint8_t *buf;
	size_t n, chunk;
	ssize_t result;
};

static void hwrng_job_put(struct hwrng_job *j)
{
	bool last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (last) {
		free(j->buf);
		free(j);
	}
}

static void *hwrng_reader(void *arg)
{
	struct hwrng_job *j = arg;
	size_t got = 0;
	ssize_t r = 0;
	int fd;

	fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
	} else {
		while (got < j->n) {
			size_t want = j->n - got < j->chunk ? j->n - got : j->chunk;

			r = read(fd, j->buf + got, want);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				r = -errno;
				break;
			}
			if (r == 0)
				break;
			got += (size_t)r;
		}
		close(fd);
		if (r >= 0 || got)
			r = (ssize_t)got;
	}
	pthread_mutex_lock(&j->lock);
	j->result = r;
	j->done = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	hwrng_job_put(j);
	return NULL;
}

static void deadline(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

ssize_t lb_hwrng_read(void *buf, size_t n, size_t chunk, unsigned int timeout_ms)
{
	struct hwrng_job *j = calloc(1, sizeof(*j));
	struct timespec ts;
	pthread_t t;
	ssize_t r;

	if (!j)
		return -ENOMEM;
	j->buf = malloc(n ? n : 1);
	if (!j->buf) {
		free(j);
		return -ENOMEM;
	}
	pthread_mutex_init(&j->lock, NULL);
	cond_init_mono(&j->cond);
	j->refs = 2;
	j->n = n;
	j->chunk = chunk ? chunk : 4096;
	if (pthread_create(&t, NULL, hwrng_reader, j)) {
		free(j->buf);
		free(j);
		return -EAGAIN;
	}
	pthread_detach(t);
	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT)
			break;
	if (j->done) {
		r = j->result;
		if (r > 0)
			memcpy(buf, j->buf, (size_t)r);
	} else {
		r = -ETIMEDOUT;	/* the reader stays blocked; it frees the job */
	}
	pthread_mutex_unlock(&j->lock);
	hwrng_job_put(j);
	return r;
}

/* ------------------------------------------------------- the byte stream */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint8_t lb_stream_byte(uint64_t seed, uint64_t off)
{
	return (uint8_t)(mix64(seed * 0x100000001b3ULL ^ (off >> 3)) >> ((off & 7) * 8));
}

void lb_stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t w = mix64(seed * 0x100000001b3ULL ^ ((off + i) >> 3));
		unsigned int b;

		for (b = (unsigned int)((off + i) & 7); b < 8 && i < len; b++, i++)
			buf[i] = (uint8_t)(w >> (b * 8));
	}
}

int lb_stream_match(uint64_t seed, uint64_t produced, const uint8_t *data,
		    size_t n, unsigned int max_runs, struct lb_match *m)
{
	uint8_t *s;
	uint64_t pos = 0, p;
	size_t r = 0;

	memset(m, 0, sizeof(*m));
	if (!n)
		return 0;
	if (produced > (1ULL << 30))
		return -1;
	s = malloc(produced ? produced : 1);
	if (!s)
		return -1;
	lb_stream_fill(seed, 0, s, produced);
	while (r < n) {
		uint64_t best_p = 0, best_len = 0;

		for (p = pos; p < produced; p++) {
			uint64_t l = 0, lim = n - r;

			if (s[p] != data[r])
				continue;
			if (lim > produced - p)
				lim = produced - p;
			while (l < lim && s[p + l] == data[r + l])
				l++;
			if (l > best_len) {
				best_len = l;
				best_p = p;
				if (l == lim)
					break;
			}
		}
		if (!best_len ||
		    (r + best_len < n && best_len < 16) ||
		    m->runs + 1 > max_runs) {
			m->bad_at = r;
			free(s);
			return -1;
		}
		if (m->runs == 0)
			m->first = best_p;
		else
			m->skipped += best_p - pos;
		m->runs++;
		r += best_len;
		pos = best_p + best_len;
	}
	m->last = pos;
	free(s);
	return 0;
}

/* ------------------------------------------------------ the device model */

struct vused_elem {
	uint32_t id;
	uint32_t len;
};

static void model_error(struct lbdev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void model_error(struct lbdev *d, const char *fmt, ...)
{
	va_list ap;

	if (d->errmsg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(d->errmsg, sizeof(d->errmsg), fmt, ap);
	va_end(ap);
}

/* window pointer of guest-physical [gpa, gpa+len), or NULL */
static void *xlate(struct lbdev *d, uint64_t gpa, uint64_t len)
{
	uint64_t off;

	if (!d->win || gpa < d->info.window_base)
		return NULL;
	off = gpa - d->info.window_base;
	if (off > d->info.window_size || len > d->info.window_size - off)
		return NULL;
	return d->win + off;
}

static void raise_irq(struct lbdev *d, uint32_t q)
{
	struct loopback_interrupt irq = { .queue = q };
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->isr |= 1;
	if (d->irq_fd[q] >= 0) {
		if (write(d->irq_fd[q], &one, sizeof(one)) != sizeof(one)) {
			d->interrupt_errors++;
			model_error(d, "irqfd write: %s", strerror(errno));
			return;
		}
	} else if (ioctl(d->fd, LOOPBACK_DEV_INTERRUPT, &irq) < 0) {
		d->interrupt_errors++;
		model_error(d, "LOOPBACK_DEV_INTERRUPT(%u): %s", q, strerror(errno));
		return;
	}
	d->interrupts++;
}

/*
 * One virtio-blk request: a 16-byte header {type, reserved, sector} in
 * device-readable descriptors, data, and a status byte, the last byte of
 * the last (device-writable) descriptor.  Returns the used length, or -1
 * for a malformed chain.  Called with d->lock held.
 */
#define BLK_MAX_SEGS 64
static int64_t blk_request(struct lbdev *d, uint32_t qi, struct lb_vdesc *desc,
			   uint32_t num, uint16_t head)
{
	struct { uint8_t *p; uint32_t len; bool wr; } seg[BLK_MAX_SEGS];
	uint8_t hdr[16], *status;
	unsigned int n = 0, i;
	uint64_t sector, off, len, done, size = d->o.blk_sectors * VBLK_SECTOR;
	uint32_t type, hdr_got = 0, skip;
	uint16_t idx = head;
	int64_t written = 1;
	uint8_t st = VBLK_S_OK;

	for (;;) {
		uint64_t addr = le64toh(desc[idx].addr);
		uint32_t l = le32toh(desc[idx].len);
		uint16_t fl = le16toh(desc[idx].flags);

		if (n == BLK_MAX_SEGS || (fl & VRING_DESC_F_INDIRECT)) {
			model_error(d, "queue %u: blk chain at %u: too long or indirect", qi, head);
			return -1;
		}
		seg[n].p = xlate(d, addr, l);
		seg[n].len = l;
		seg[n].wr = fl & VRING_DESC_F_WRITE;
		if (!seg[n].p) {
			model_error(d, "queue %u desc %u: buffer %#llx+%u outside the window",
				    qi, idx, (unsigned long long)addr, l);
			return -1;
		}
		n++;
		if (!(fl & VRING_DESC_F_NEXT))
			break;
		idx = le16toh(desc[idx].next);
		if (idx >= num || n >= num) {
			model_error(d, "queue %u: bad descriptor chain", qi);
			return -1;
		}
	}
	if (!seg[n - 1].wr || !seg[n - 1].len) {
		model_error(d, "queue %u: blk chain at %u has no status byte", qi, head);
		return -1;
	}
	status = seg[n - 1].p + seg[n - 1].len - 1;
	seg[n - 1].len--;
	for (i = 0; i < n && !seg[i].wr && hdr_got < sizeof(hdr); i++) {
		uint32_t c = seg[i].len < sizeof(hdr) - hdr_got ? seg[i].len : sizeof(hdr) - hdr_got;

		memcpy(hdr + hdr_got, seg[i].p, c);
		hdr_got += c;
	}
	if (hdr_got < sizeof(hdr)) {
		model_error(d, "queue %u: blk request at %u: short header", qi, head);
		return -1;
	}
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);
	/* the data: readable bytes after the header, or writable ones */
	len = 0;
	for (i = 0; i < n; i++)
		len += seg[i].len;
	len -= sizeof(hdr);
	off = sector * VBLK_SECTOR;
	d->blk_requests++;
	switch (type) {
	case VBLK_T_IN:
	case VBLK_T_OUT:
		if (sector > size / VBLK_SECTOR || len > size - off) {
			st = VBLK_S_IOERR;
			break;
		}
		skip = sizeof(hdr);
		done = 0;
		for (i = 0; i < n; i++) {
			uint32_t s0 = 0;

			if (!seg[i].wr && skip) {
				s0 = seg[i].len < skip ? seg[i].len : skip;
				skip -= s0;
			}
			if (type == VBLK_T_IN && seg[i].wr) {
				memcpy(seg[i].p, d->disk + off + done, seg[i].len);
				done += seg[i].len;
			} else if (type == VBLK_T_OUT && !seg[i].wr && seg[i].len > s0) {
				memcpy(d->disk + off + done, seg[i].p + s0, seg[i].len - s0);
				done += seg[i].len - s0;
			}
		}
		if (type == VBLK_T_IN)
			written += (int64_t)done;
		break;
	case VBLK_T_GET_ID:
		for (i = 0; i < n; i++) {
			if (seg[i].wr) {
				static const char id[] = "lbtest-blk";
				uint32_t c = seg[i].len < sizeof(id) ? seg[i].len : sizeof(id);

				memcpy(seg[i].p, id, c);
				written += c;
				break;
			}
		}
		break;
	default:
		st = VBLK_S_UNSUPP;
		break;
	}
	if (st != VBLK_S_OK)
		d->blk_errors++;
	*status = st;
	return written;
}

/* queue qi's rings in the window */
struct qrings {
	struct lb_vdesc *desc;
	uint16_t *avail;		/* {flags, idx, ring[]} */
	uint16_t *used_idx;
	struct vused_elem *used_ring;
};

/* called with d->lock held; 0, or -1 (a model error) */
static int queue_rings(struct lbdev *d, uint32_t qi, struct qrings *r)
{
	struct lbq *q = &d->q[qi];
	uint16_t *used;

	if (!q->ready) {
		model_error(d, "kick of queue %u, which is not ready", qi);
		d->ring_errors++;
		return -1;
	}
	r->desc = xlate(d, q->desc, 16ULL * q->num);
	r->avail = xlate(d, q->driver, 6 + 2ULL * q->num);
	used = xlate(d, q->device, 6 + 8ULL * q->num);
	if (!r->desc || !r->avail || !used) {
		model_error(d, "queue %u rings outside the window", qi);
		d->ring_errors++;
		return -1;
	}
	r->used_idx = used + 1;
	r->used_ring = (struct vused_elem *)(used + 2);
	return 0;
}

/*
 * Serves the request at head: fills an entropy buffer, or runs a block
 * request.  Returns the used length, or -1 for a malformed chain.  Called
 * with d->lock held.
 */
static int64_t serve_head(struct lbdev *d, uint32_t qi, struct qrings *r, uint16_t head)
{
	struct lbq *q = &d->q[qi];
	uint32_t total = 0, budget = UINT32_MAX, steps = 0;
	uint16_t i = head;

	if (d->info.device_id == VIRTIO_ID_BLOCK)
		return blk_request(d, qi, r->desc, q->num, head);
	if (d->o.fill == LB_FILL_PARTIAL)
		budget = d->o.fill_len ? d->o.fill_len : 1;
	for (;;) {
		uint64_t addr = le64toh(r->desc[i].addr);
		uint32_t len = le32toh(r->desc[i].len);
		uint16_t fl = le16toh(r->desc[i].flags);
		uint8_t *p;
		uint32_t nfill;

		if (!(fl & VRING_DESC_F_WRITE) || (fl & VRING_DESC_F_INDIRECT)) {
			model_error(d, "queue %u desc %u: flags %#x (want WRITE)", qi, i, fl);
			return -1;
		}
		p = xlate(d, addr, len);
		if (!p) {
			model_error(d, "queue %u desc %u: buffer %#llx+%u outside the window",
				    qi, i, (unsigned long long)addr, len);
			return -1;
		}
		nfill = len < budget ? len : budget;
		lb_stream_fill(d->o.seed, d->produced, p, nfill);
		d->produced += nfill;
		total += nfill;
		budget -= nfill;
		if (!(fl & VRING_DESC_F_NEXT))
			return total;
		i = le16toh(r->desc[i].next);
		if (i >= q->num || ++steps >= q->num) {
			model_error(d, "queue %u: bad descriptor chain", qi);
			return -1;
		}
	}
}

/* publishes one used element; called with d->lock held */
static void push_used(struct lbdev *d, uint32_t qi, struct qrings *r, uint16_t head, uint32_t len)
{
	struct lbq *q = &d->q[qi];

	r->used_ring[q->used_idx % q->num].id = htole32(head);
	r->used_ring[q->used_idx % q->num].len = htole32(len);
	q->used_idx++;
	__atomic_store_n(r->used_idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	d->fills++;
}

/* serves and returns the held request at position pos; d->lock held */
static int complete_held(struct lbdev *d, uint32_t qi, struct qrings *r, uint32_t pos)
{
	struct lbq *q = &d->q[qi];
	uint16_t head = q->held_head[pos];
	int64_t w;

	memmove(&q->held_head[pos], &q->held_head[pos + 1],
		(q->nheld - pos - 1) * sizeof(q->held_head[0]));
	q->nheld--;
	d->held--;
	w = serve_head(d, qi, r, head);
	if (w < 0) {
		d->ring_errors++;
		return -1;
	}
	push_used(d, qi, r, head, (uint32_t)w);
	return 0;
}

/* called with d->lock held */
static void process_queue(struct lbdev *d, uint32_t qi)
{
	struct lbq *q;
	struct qrings r;
	uint16_t aidx;
	bool filled = false;
	int64_t w;

	if (qi >= d->info.num_queues) {
		model_error(d, "kick of queue %u (only %u)", qi, d->info.num_queues);
		d->ring_errors++;
		return;
	}
	q = &d->q[qi];
	if (d->o.fill == LB_FILL_NONE || queue_rings(d, qi, &r) < 0)
		return;
	aidx = le16toh(__atomic_load_n(&r.avail[1], __ATOMIC_ACQUIRE));
	if ((uint16_t)(aidx - q->last_avail) > q->num) {
		model_error(d, "queue %u: avail idx %u, last seen %u, num %u",
			    qi, aidx, q->last_avail, q->num);
		d->ring_errors++;
		return;
	}
	while (q->last_avail != aidx) {
		uint16_t head = le16toh(r.avail[2 + q->last_avail % q->num]);

		if (head >= q->num) {
			model_error(d, "queue %u: avail head %u >= num %u", qi, head, q->num);
			d->ring_errors++;
			return;
		}
		if (d->o.fill == LB_FILL_HOLD || d->o.fill == LB_FILL_REVERSE) {
			q->last_avail++;
			d->held++;
			if (q->nheld < LB_MAX_HELD)
				q->held_head[q->nheld++] = head;
			continue;
		}
		w = serve_head(d, qi, &r, head);
		if (w < 0) {
			d->ring_errors++;
			return;
		}
		push_used(d, qi, &r, head, (uint32_t)w);
		q->last_avail++;
		filled = true;
	}
	/* a batch of held requests, newest first */
	if (d->o.fill == LB_FILL_REVERSE && q->nheld >= (d->o.fill_len ? d->o.fill_len : 1)) {
		while (q->nheld)
			if (complete_held(d, qi, &r, q->nheld - 1) < 0)
				return;
		filled = true;
	}
	if (filled)
		raise_irq(d, qi);
}

static void reset_model(struct lbdev *d)
{
	d->status = 0;
	d->dev_features_sel = d->drv_features_sel = 0;
	d->drv_features = 0;
	d->queue_sel = 0;
	d->isr = 0;
	memset(d->q, 0, sizeof(d->q));
	d->resets++;
}

static bool queue_valid(struct lbdev *d, struct lbq *q)
{
	if (!q->num || q->num > d->info.max_queue_size || (q->num & (q->num - 1)))
		return false;
	if (!d->win)
		return true;
	return xlate(d, q->desc, 16ULL * q->num) && xlate(d, q->driver, 6 + 2ULL * q->num) &&
	       xlate(d, q->device, 6 + 8ULL * q->num);
}

uint64_t lbdev_model(struct lbdev *d, const struct loopback_trap *t, bool *reply)
{
	uint64_t off = t->addr - d->info.regs_base;
	uint64_t v = t->data;
	bool wr = t->flags & LOOPBACK_TRAP_WRITE;
	struct lbq *q = d->queue_sel < LOOPBACK_MAX_QUEUES ? &d->q[d->queue_sel] : NULL;
	bool qok = q && d->queue_sel < d->info.num_queues;

	*reply = !(t->flags & LOOPBACK_TRAP_POSTED);
	if (off >= VM_CONFIG) {
		uint64_t c = off - VM_CONFIG, r = 0;
		unsigned int i;

		if (c + t->size > d->info.config_size) {
			if (wr)
				d->unknown_writes++;
			else
				d->unknown_reads++;
			return 0;
		}
		for (i = 0; i < t->size; i++) {
			if (wr)
				d->config[c + i] = (uint8_t)(v >> (8 * i));
			else
				r |= (uint64_t)d->config[c + i] << (8 * i);
		}
		return wr ? 0 : r;
	}
	if (!wr) {
		switch (off) {
		case VM_MAGIC: return 0x74726976;
		case VM_VERSION: return 2;
		case VM_DEVICE_ID: return d->info.device_id;
		case VM_VENDOR_ID: return d->info.vendor_id;
		case VM_DEV_FEATURES:
			if (d->dev_features_sel == 0)
				return (uint32_t)d->info.features;
			if (d->dev_features_sel == 1)
				return (uint32_t)(d->info.features >> 32);
			return 0;
		case VM_QUEUE_NUM_MAX: return qok ? d->info.max_queue_size : 0;
		case VM_QUEUE_NUM: return qok ? q->num : 0;
		case VM_QUEUE_READY: return qok ? q->ready : 0;
		case VM_INTERRUPT_STATUS: return d->isr;
		case VM_STATUS: return d->status;
		case VM_QUEUE_DESC_LOW: return qok ? (uint32_t)q->desc : 0;
		case VM_QUEUE_DESC_HIGH: return qok ? (uint32_t)(q->desc >> 32) : 0;
		case VM_QUEUE_DRIVER_LOW: return qok ? (uint32_t)q->driver : 0;
		case VM_QUEUE_DRIVER_HIGH: return qok ? (uint32_t)(q->driver >> 32) : 0;
		case VM_QUEUE_DEVICE_LOW: return qok ? (uint32_t)q->device : 0;
		case VM_QUEUE_DEVICE_HIGH: return qok ? (uint32_t)(q->device >> 32) : 0;
		case VM_SHM_LEN_LOW:
		case VM_SHM_LEN_HIGH: return 0xffffffff;	/* no shared memory region */
		case VM_SHM_BASE_LOW:
		case VM_SHM_BASE_HIGH: return 0xffffffff;
		case VM_QUEUE_RESET: return 0;
		case VM_CONFIG_GENERATION: return d->config_gen;
		default:
			d->unknown_reads++;
			return 0;
		}
	}
	switch (off) {
	case VM_DEV_FEATURES_SEL: d->dev_features_sel = (uint32_t)v; break;
	case VM_DRV_FEATURES:
		if (d->drv_features_sel == 0)
			d->drv_features = (d->drv_features & ~0xffffffffULL) | (uint32_t)v;
		else if (d->drv_features_sel == 1)
			d->drv_features = (d->drv_features & 0xffffffffULL) | ((uint64_t)(uint32_t)v << 32);
		break;
	case VM_DRV_FEATURES_SEL: d->drv_features_sel = (uint32_t)v; break;
	case VM_QUEUE_SEL: d->queue_sel = (uint32_t)v; break;
	case VM_QUEUE_NUM: if (qok) q->num = (uint32_t)v; break;
	case VM_QUEUE_READY:
		if (!qok)
			break;
		if (v & 1) {
			if (!queue_valid(d, q)) {
				model_error(d, "QueueReady on queue %u: num %u desc %#llx driver %#llx device %#llx: bad",
					    d->queue_sel, q->num, (unsigned long long)q->desc,
					    (unsigned long long)q->driver, (unsigned long long)q->device);
				d->ring_errors++;
			}
			q->ready = true;
			q->last_avail = 0;
			q->used_idx = 0;
			if (d->o.no_kicks) {
				struct qrings r;

				if (queue_rings(d, d->queue_sel, &r) == 0)
					__atomic_store_n(r.used_idx - 1, htole16(1), __ATOMIC_RELEASE);
			}
		} else {
			q->ready = false;
		}
		break;
	case VM_QUEUE_NOTIFY:
		d->notify_traps++;
		process_queue(d, (uint32_t)v);
		break;
	case VM_INTERRUPT_ACK: d->isr &= ~(uint32_t)v; break;
	case VM_STATUS:
		if (v == 0) {
			reset_model(d);
			break;
		}
		if ((v & VS_FEATURES_OK) && !(d->status & VS_FEATURES_OK)) {
			if ((d->drv_features & ~d->info.features) || !(d->drv_features & VF_VERSION_1))
				v &= ~(uint64_t)VS_FEATURES_OK;
		}
		d->status = (uint32_t)v;
		d->status_seen |= (uint32_t)v;
		break;
	case VM_QUEUE_DESC_LOW: if (qok) q->desc = (q->desc & ~0xffffffffULL) | (uint32_t)v; break;
	case VM_QUEUE_DESC_HIGH: if (qok) q->desc = (q->desc & 0xffffffffULL) | (v << 32); break;
	case VM_QUEUE_DRIVER_LOW: if (qok) q->driver = (q->driver & ~0xffffffffULL) | (uint32_t)v; break;
	case VM_QUEUE_DRIVER_HIGH: if (qok) q->driver = (q->driver & 0xffffffffULL) | (v << 32); break;
	case VM_QUEUE_DEVICE_LOW: if (qok) q->device = (q->device & ~0xffffffffULL) | (uint32_t)v; break;
	case VM_QUEUE_DEVICE_HIGH: if (qok) q->device = (q->device & 0xffffffffULL) | (v << 32); break;
	case VM_SHM_SEL: break;
	case VM_QUEUE_RESET:
		if (qok && v == 1)
			memset(q, 0, sizeof(*q));
		break;
	default:
		d->unknown_writes++;
		break;
	}
	return 0;
}

static bool stall_here(struct lbdev *d, const struct loopback_trap *t)
{
	if (t->flags & LOOPBACK_TRAP_POSTED)
		return false;
	if (t->addr - d->info.regs_base != VM_STATUS)
		return false;
	return d->o.stall_first_status || d->stall_next_status ||
	       (d->o.stall_status_after_driver && (d->status & VS_DRIVER));
}

int lbdev_handle_trap(struct lbdev *d, const struct loopback_trap *t)
{
	struct loopback_reply rep;
	bool reply;
	uint64_t v;
	ssize_t n;

	pthread_mutex_lock(&d->lock);
	d->traps++;
	if (!t->id)
		model_error(d, "trap with id 0");
	if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
		model_error(d, "trap %llu: size %u", (unsigned long long)t->id, t->size);
	if (t->addr < d->info.regs_base || t->addr >= d->info.regs_base + LOOPBACK_REGS_SIZE)
		model_error(d, "trap %llu: address %#llx outside the register block",
			    (unsigned long long)t->id, (unsigned long long)t->addr);
	if (t->flags & ~(uint32_t)(LOOPBACK_TRAP_WRITE | LOOPBACK_TRAP_POSTED))
		model_error(d, "trap %llu: flags %#x", (unsigned long long)t->id, t->flags);
	if (stall_here(d, t)) {
		d->stalled = true;
		d->stall_trap = *t;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	if (t->flags & LOOPBACK_TRAP_POSTED)
		d->posted++;
	v = lbdev_model(d, t, &reply);
	if (t->size < 8)
		v &= (1ULL << (8 * t->size)) - 1;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (!reply)
		return 0;
	memset(&rep, 0, sizeof(rep));
	rep.id = t->id;
	rep.data = (t->flags & LOOPBACK_TRAP_WRITE) ? 0 : v;
	n = write(d->fd, &rep, sizeof(rep));
	pthread_mutex_lock(&d->lock);
	if (n == (ssize_t)sizeof(rep)) {
		d->replies++;
	} else {
		d->reply_errors++;
		model_error(d, "reply to trap %llu (addr +%#llx): %s",
			    (unsigned long long)t->id,
			    (unsigned long long)(t->addr - d->info.regs_base),
			    n < 0 ? strerror(errno) : "short write");
	}
	pthread_mutex_unlock(&d->lock);
	return n == (ssize_t)sizeof(rep) ? 0 : -1;
}

size_t lbdev_trap_size(const struct lbdev *d)
{
	return d->cr.trap_size ? d->cr.trap_size : sizeof(struct loopback_trap);
}

int lbdev_serve(struct lbdev *d, int timeout_ms)
{
	struct pollfd p[2 + LOOPBACK_MAX_QUEUES];
	int qmap[2 + LOOPBACK_MAX_QUEUES];
	/* records of the trap_size agreed at create; the trap is their head */
	uint64_t recs[16 * LOOPBACK_MAX_TRAP_SIZE / sizeof(uint64_t)];
	size_t rs = lbdev_trap_size(d);
	bool stalled;
	int np = 0, i, r;
	nfds_t k;

	pthread_mutex_lock(&d->lock);
	stalled = d->stalled || d->broken;
	pthread_mutex_unlock(&d->lock);

	if (!stalled) {
		p[np].fd = d->fd;
		p[np].events = POLLIN;
		qmap[np++] = -1;
	}
	if (d->stop_fd >= 0) {
		p[np].fd = d->stop_fd;
		p[np].events = POLLIN;
		qmap[np++] = -2;
	}
	if (!stalled) {
		for (i = 0; i < (int)d->info.num_queues && i < LOOPBACK_MAX_QUEUES; i++) {
			if (d->kick_fd[i] < 0)
				continue;
			p[np].fd = d->kick_fd[i];
			p[np].events = POLLIN;
			qmap[np++] = i;
		}
	}
	r = poll(p, (nfds_t)np, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (r == 0)
		return 0;
	for (k = 0; k < (nfds_t)np; k++) {
		if (!p[k].revents)
			continue;
		if (qmap[k] == -2)
			return 0;	/* the caller checks why */
		if (qmap[k] == -1) {
			if (p[k].revents & POLLIN) {
				ssize_t n = read(d->fd, recs, 16 * rs);

				if (n < 0) {
					if (errno == EAGAIN || errno == EINTR)
						continue;
					pthread_mutex_lock(&d->lock);
					model_error(d, "read: %s", strerror(errno));
					d->broken = true;
					pthread_cond_broadcast(&d->cond);
					pthread_mutex_unlock(&d->lock);
					return -1;
				}
				if (n == 0 || n % (ssize_t)rs) {
					pthread_mutex_lock(&d->lock);
					/* 0: the virtio device was removed (REMOVE) */
					if (n)
						model_error(d, "read returned %zd bytes", n);
					else
						d->broken = d->removed = true;
					pthread_cond_broadcast(&d->cond);
					pthread_mutex_unlock(&d->lock);
					if (n == 0)
						return -1;
				}
				for (i = 0; i < (int)(n / (ssize_t)rs); i++)
					lbdev_handle_trap(d, (const struct loopback_trap *)
							  ((const char *)recs + i * rs));
			} else if (p[k].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				pthread_mutex_lock(&d->lock);
				d->broken = true;
				d->removed = (p[k].revents & (POLLHUP | POLLERR)) == POLLHUP;
				pthread_cond_broadcast(&d->cond);
				pthread_mutex_unlock(&d->lock);
				return -1;
			}
			continue;
		}
		/* an ioeventfd kick */
		{
			uint64_t cnt;

			if (read(p[k].fd, &cnt, sizeof(cnt)) == sizeof(cnt)) {
				pthread_mutex_lock(&d->lock);
				if (!d->stalled) {
					d->eventfd_kicks++;
					process_queue(d, (uint32_t)qmap[k]);
				}
				pthread_cond_broadcast(&d->cond);
				pthread_mutex_unlock(&d->lock);
			}
		}
	}
	return 1;
}

void lbdev_kick(struct lbdev *d, uint32_t qi)
{
	pthread_mutex_lock(&d->lock);
	if (!d->stalled && !d->broken) {
		d->eventfd_kicks++;
		process_queue(d, qi);
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* no_kicks: what the driver made available, served without a kick */
static void poll_rings(struct lbdev *d)
{
	uint32_t i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->info.num_queues && i < LOOPBACK_MAX_QUEUES; i++)
		if (d->q[i].ready && !d->stalled && !d->broken)
			process_queue(d, i);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void *serve_thread(void *arg)
{
	struct lbdev *d = arg;
	struct pollfd p;
	uint64_t v;
	int r;

	for (;;) {
		p.fd = d->stop_fd;
		p.events = POLLIN;
		if (poll(&p, 1, 0) == 1)
			break;
		r = lbdev_serve(d, d->o.no_kicks ? 1 : 1000);
		if (r >= 0 && d->o.no_kicks)
			poll_rings(d);
		if (r < 0) {
			/* broken: only wait for the stop */
			p.fd = d->stop_fd;
			p.events = POLLIN;
			poll(&p, 1, 200);
		}
	}
	if (read(d->stop_fd, &v, sizeof(v)) < 0)
		v = 0;
	return NULL;
}

void lbdev_start(struct lbdev *d)
{
	if (d->thread_running)
		return;
	if (pthread_create(&d->thread, NULL, serve_thread, d))
		tap_bail("pthread_create: %s", strerror(errno));
	d->thread_running = true;
}

void lbdev_stop(struct lbdev *d)
{
	uint64_t one = 1;

	if (!d->thread_running)
		return;
	if (write(d->stop_fd, &one, sizeof(one)) != sizeof(one))
		tap_bail("eventfd write: %s", strerror(errno));
	pthread_join(d->thread, NULL);
	d->thread_running = false;
}

struct lbdev *lbdev_create(int ctl, const struct lbdev_opts *o)
{
	static uint64_t serial;
	struct lbdev *d = calloc(1, sizeof(*d));
	unsigned int i;
	int fd, e;

	if (!d)
		return NULL;
	d->o = *o;
	if (!d->o.device_id)
		d->o.device_id = VIRTIO_ID_ENTROPY;
	if (!d->o.num_queues)
		d->o.num_queues = 1;
	if (!d->o.max_queue_size)
		d->o.max_queue_size = 256;
	if (!d->o.window_size)
		d->o.window_size = 256 << 10;
	if (!d->o.seed)
		d->o.seed = 0x5eed0000ULL + (uint64_t)getpid() * 1000 + ++serial;
	if (d->o.device_id == VIRTIO_ID_BLOCK) {
		/* config: le64 capacity in 512-byte sectors, nothing else */
		if (!d->o.blk_sectors)
			d->o.blk_sectors = 2048;
		if (d->o.config_size < (d->o.blk_seg_max ? 16 : 8))
			d->o.config_size = d->o.blk_seg_max ? 16 : 8;
		d->disk = calloc(d->o.blk_sectors, VBLK_SECTOR);
		if (!d->disk) {
			free(d);
			errno = ENOMEM;
			return NULL;
		}
	}
	d->fd = d->stop_fd = -1;
	for (i = 0; i < LOOPBACK_MAX_QUEUES; i++)
		d->kick_fd[i] = d->irq_fd[i] = -1;
	pthread_mutex_init(&d->lock, NULL);
	cond_init_mono(&d->cond);
	for (i = 0; i < LOOPBACK_MAX_CONFIG_SIZE; i++)
		d->config[i] = (uint8_t)(0xc0 + i);
	if (d->disk) {
		uint64_t cap = htole64(d->o.blk_sectors);

		uint32_t seg_max = htole32(d->o.blk_seg_max);

		memset(d->config, 0, sizeof(d->config));
		memcpy(d->config, &cap, sizeof(cap));
		memcpy(d->config + 12, &seg_max, sizeof(seg_max));
	}

	lb_create_defaults(&d->cr);
	d->cr.device_id = d->o.device_id;
	if (d->o.blk_seg_max)
		d->cr.features |= 1ULL << 2;	/* VIRTIO_BLK_F_SEG_MAX */
	d->cr.num_queues = d->o.num_queues;
	d->cr.max_queue_size = d->o.max_queue_size;
	d->cr.config_size = d->o.config_size;
	d->cr.config = (uintptr_t)d->config;
	d->cr.window_size = d->o.window_size;
	d->cr.trap_size = d->o.trap_size;
	if (d->o.features)
		d->cr.features = d->o.features;
	if (d->o.api_version)
		d->cr.api_version = d->o.api_version;
	fd = ioctl(ctl, LOOPBACK_CREATE, &d->cr);
	if (fd < 0)
		goto fail;
	d->fd = fd;
	if (ioctl(fd, LOOPBACK_DEV_GET_INFO, &d->info) < 0) {
		model_error(d, "LOOPBACK_DEV_GET_INFO: %s", strerror(errno));
		memset(&d->info, 0, sizeof(d->info));
		d->info.api_version = LOOPBACK_API_VERSION;
		d->info.device_id = d->cr.device_id;
		d->info.vendor_id = d->cr.vendor_id;
		d->info.num_queues = d->cr.num_queues;
		d->info.features = d->cr.features;
		d->info.regs_base = d->cr.regs_base;
		d->info.window_base = d->cr.window_base;
		d->info.window_size = d->cr.window_size;
		d->info.max_queue_size = d->cr.max_queue_size;
		d->info.config_size = d->cr.config_size;
		memcpy(d->info.name, d->cr.name, sizeof(d->info.name));
	}
	d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->stop_fd < 0)
		goto fail;
	for (i = 0; i < d->info.num_queues && i < LOOPBACK_MAX_QUEUES; i++) {
		if (o->ioeventfd) {
			struct loopback_ioeventfd io = {
				.addr = d->info.regs_base + VM_QUEUE_NOTIFY,
				.datamatch = i,
				.len = 4,
				.flags = LOOPBACK_IOEVENTFD_DATAMATCH,
			};

			d->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (d->kick_fd[i] < 0)
				goto fail;
			io.fd = d->kick_fd[i];
			if (ioctl(fd, LOOPBACK_DEV_IOEVENTFD, &io) < 0)
				goto fail;
		}
		if (o->irqfd) {
			struct loopback_irqfd irq = { .queue = i };

			d->irq_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (d->irq_fd[i] < 0)
				goto fail;
			irq.fd = d->irq_fd[i];
			if (ioctl(fd, LOOPBACK_DEV_IRQFD, &irq) < 0)
				goto fail;
		}
	}
	if (!o->no_mmap) {
		void *p = mmap(NULL, d->info.window_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, (off_t)d->info.window_base);

		if (p == MAP_FAILED)
			goto fail;
		d->win = p;
	}
	if (!o->manual)
		lbdev_start(d);
	return d;
fail:
	e = errno;
	for (i = 0; i < LOOPBACK_MAX_QUEUES; i++) {
		if (d->kick_fd[i] >= 0)
			close(d->kick_fd[i]);
		if (d->irq_fd[i] >= 0)
			close(d->irq_fd[i]);
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->fd >= 0)
		close(d->fd);
	free(d->disk);
	free(d);
	errno = e;
	return NULL;
}

static int wait_pred(struct lbdev *d, unsigned int timeout_ms,
		     bool (*pred)(struct lbdev *d, uint64_t arg), uint64_t arg)
{
	struct timespec ts;
	int rc = 0;

	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&d->lock);
	while (!pred(d, arg)) {
		if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) == ETIMEDOUT) {
			rc = pred(d, arg) ? 0 : -1;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static bool pred_status(struct lbdev *d, uint64_t mask)
{
	return (d->status & mask) == mask || d->broken || d->stalled;
}

int lbdev_wait_status(struct lbdev *d, uint32_t mask, unsigned int timeout_ms)
{
	int rc = wait_pred(d, timeout_ms, pred_status, mask);
	bool ok;

	pthread_mutex_lock(&d->lock);
	ok = (d->status & mask) == mask;
	pthread_mutex_unlock(&d->lock);
	return rc == 0 && ok ? 0 : -1;
}

static bool pred_produced(struct lbdev *d, uint64_t bytes)
{
	return d->produced >= bytes || d->broken;
}

int lbdev_wait_produced(struct lbdev *d, uint64_t bytes, unsigned int timeout_ms)
{
	wait_pred(d, timeout_ms, pred_produced, bytes);
	return lbdev_produced(d) >= bytes ? 0 : -1;
}

static bool pred_stalled(struct lbdev *d, uint64_t unused)
{
	(void)unused;
	return d->stalled || d->broken;
}

int lbdev_wait_stalled(struct lbdev *d, unsigned int timeout_ms)
{
	bool s;

	wait_pred(d, timeout_ms, pred_stalled, 0);
	pthread_mutex_lock(&d->lock);
	s = d->stalled;
	pthread_mutex_unlock(&d->lock);
	return s ? 0 : -1;
}

uint64_t lbdev_produced(struct lbdev *d)
{
	uint64_t v;

	pthread_mutex_lock(&d->lock);
	v = d->produced;
	pthread_mutex_unlock(&d->lock);
	return v;
}

uint32_t lbdev_in_flight(struct lbdev *d, uint32_t qi)
{
	uint16_t *avail, *used;
	uint32_t n = 0;
	struct lbq *q;

	pthread_mutex_lock(&d->lock);
	q = qi < d->info.num_queues && qi < LOOPBACK_MAX_QUEUES ? &d->q[qi] : NULL;
	if (q && q->ready && q->num) {
		avail = xlate(d, q->driver, 6 + 2ULL * q->num);
		used = xlate(d, q->device, 6 + 8ULL * q->num);
		if (avail && used)
			n = (uint16_t)(le16toh(__atomic_load_n(&avail[1], __ATOMIC_ACQUIRE)) -
				       le16toh(__atomic_load_n(&used[1], __ATOMIC_ACQUIRE)));
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

uint32_t lbdev_held(struct lbdev *d, uint32_t qi)
{
	uint32_t n = 0;

	pthread_mutex_lock(&d->lock);
	if (qi < d->info.num_queues && qi < LOOPBACK_MAX_QUEUES)
		n = d->q[qi].nheld;
	pthread_mutex_unlock(&d->lock);
	return n;
}

static int complete_held_at(struct lbdev *d, uint32_t qi, uint32_t pos, bool irq)
{
	struct qrings r;
	int rc = -1;

	pthread_mutex_lock(&d->lock);
	if (qi < d->info.num_queues && qi < LOOPBACK_MAX_QUEUES && pos < d->q[qi].nheld &&
	    queue_rings(d, qi, &r) == 0 && complete_held(d, qi, &r, pos) == 0) {
		if (irq)
			raise_irq(d, qi);
		rc = 0;
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int lbdev_complete_held(struct lbdev *d, uint32_t qi, uint32_t pos)
{
	return complete_held_at(d, qi, pos, true);
}

int lbdev_complete_held_quiet(struct lbdev *d, uint32_t qi, uint32_t pos)
{
	return complete_held_at(d, qi, pos, false);
}

void lbdev_raise(struct lbdev *d, uint32_t qi)
{
	pthread_mutex_lock(&d->lock);
	if (qi < d->info.num_queues && qi < LOOPBACK_MAX_QUEUES)
		raise_irq(d, qi);
	pthread_mutex_unlock(&d->lock);
}

int lbdev_push_used(struct lbdev *d, uint32_t qi, uint16_t head)
{
	struct qrings r;
	int rc = -1;

	pthread_mutex_lock(&d->lock);
	if (qi < d->info.num_queues && qi < LOOPBACK_MAX_QUEUES && queue_rings(d, qi, &r) == 0) {
		push_used(d, qi, &r, head, 0);
		raise_irq(d, qi);
		rc = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int lbdev_rings(struct lbdev *d, uint32_t qi, void **desc, void **avail, void **used)
{
	struct qrings r;
	int rc = -1;

	pthread_mutex_lock(&d->lock);
	if (qi < d->info.num_queues && qi < LOOPBACK_MAX_QUEUES && queue_rings(d, qi, &r) == 0) {
		*desc = r.desc;
		*avail = r.avail;
		*used = r.used_idx - 1;
		rc = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void lbdev_set_fill(struct lbdev *d, enum lbdev_fill fill)
{
	pthread_mutex_lock(&d->lock);
	d->o.fill = fill;
	pthread_mutex_unlock(&d->lock);
}

static void close_eventfds(struct lbdev *d)
{
	unsigned int i;

	for (i = 0; i < LOOPBACK_MAX_QUEUES; i++) {
		if (d->kick_fd[i] >= 0)
			close(d->kick_fd[i]);
		if (d->irq_fd[i] >= 0)
			close(d->irq_fd[i]);
		d->kick_fd[i] = d->irq_fd[i] = -1;
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	d->stop_fd = -1;
}

void lbdev_destroy(struct lbdev *d, bool unmap_first)
{
	if (!d)
		return;
	lbdev_stop(d);
	if (unmap_first && d->win)
		munmap(d->win, d->info.window_size);
	if (d->fd >= 0)
		close(d->fd);
	if (!unmap_first && d->win)
		munmap(d->win, d->info.window_size);
	close_eventfds(d);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d->disk);
	free(d);
}

void *lbdev_close_keep_map(struct lbdev *d, size_t *len)
{
	void *w = d->win;

	lbdev_stop(d);
	*len = d->info.window_size;
	if (d->fd >= 0)
		close(d->fd);
	close_eventfds(d);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d->disk);
	free(d);
	return w;
}

/* ---------------------------------------------------------------- messages */

void lb_msg_send(int fd, const char *tag, const char *name, const char *extra)
{
	struct lb_msg m;

	memset(&m, 0, sizeof(m));
	snprintf(m.tag, sizeof(m.tag), "%s", tag);
	snprintf(m.name, sizeof(m.name), "%s", name ? name : "");
	snprintf(m.extra, sizeof(m.extra), "%s", extra ? extra : "");
	if (write(fd, &m, sizeof(m)) != sizeof(m))
		_exit(90);
}

int lb_msg_recv(int fd, struct lb_msg *m, int timeout)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	memset(m, 0, sizeof(*m));
	if (poll(&p, 1, timeout) != 1)
		return -1;
	return read(fd, m, sizeof(*m)) == sizeof(*m) ? 0 : -1;
}
