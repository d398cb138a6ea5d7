// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The vhost-user frontend against a scripted fake backend (a thread on a
 * socketpair): the memory table and ring messages as sent, the backend
 * channel, and every misbehaviour the frontend must survive with a clear
 * error: wrong sizes, wrong replies, missing or extra fds, silence,
 * closing.  Nothing may hang or crash.
 */

#include "config.h"

#include "vhost-user-harness.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* the wire format, written from the spec here, not shared with the library */
enum {
	GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5,
	SET_VRING_NUM = 8, SET_VRING_ADDR = 9, SET_VRING_BASE = 10,
	GET_VRING_BASE = 11, SET_VRING_KICK = 12, SET_VRING_CALL = 13,
	GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16,
	GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18, SET_BACKEND_REQ_FD = 21,
	GET_CONFIG = 24, SET_CONFIG = 25, GET_INFLIGHT_FD = 31,
	SET_INFLIGHT_FD = 32, RESET_DEVICE = 34, GET_MAX_MEM_SLOTS = 36,
	ADD_MEM_REG = 37, REM_MEM_REG = 38, SET_STATUS = 39,
};
#define F_REPLY (1u << 2)
#define F_NEED_REPLY (1u << 3)
#define CONFIG_CHANGE_MSG 2

typedef struct {
	uint32_t request, flags, size;
	uint8_t payload[512];
} __attribute__((packed)) FkMsg;

typedef enum {
	MB_NONE,
	MB_WRONG_SIZE,		/* a u64 reply of 4 bytes */
	MB_WRONG_REQUEST,	/* the reply names another request */
	MB_NO_REPLY,		/* silence */
	MB_CLOSE,		/* closes the socket instead of answering */
	MB_HUGE_SIZE,		/* a size field of 0xffff0000 */
	MB_NO_FD,		/* GET_INFLIGHT_FD without its fd */
	MB_EXTRA_FD,		/* an fd with a reply that has none */
	MB_NO_REPLY_FLAG,	/* the reply bit missing */
	MB_BAD_VERSION,		/* version 2 */
	MB_REFUSE,		/* REPLY_ACK with a non-zero status */
	MB_EMPTY_CONFIG,	/* GET_CONFIG answered with no payload */
	MB_STALE_BASE,		/* GET_VRING_BASE ahead of the used index */
} Misbehaviour;

typedef struct {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	unsigned int nfds;
	uint64_t ino;		/* of the first fd */
	uint8_t payload[64];
} FkSeen;

typedef struct {
	int sock;		/* the fake's end (atomic) */
	int front;		/* the frontend's end, handed over */
	int listener;		/* listening on a path, or -1 */
	uint64_t queue_num;	/* GET_QUEUE_NUM's answer */
	uint64_t features;
	uint64_t protocol;
	uint32_t bad_request;
	Misbehaviour how;
	GThread *thread;
	int backend_fd;		/* SET_BACKEND_REQ_FD's fd (atomic) */
	GMutex lock;		/* guards seen */
	GArray *seen;		/* FkSeen */
	GPtrArray *copies;	/* what fake_seen handed out */
} Fake;

#define DEFAULT_FEATURES ((1ULL << 32) | (1ULL << 30) | (1ULL << 26) | \
			  (1ULL << 1) | (1ULL << 6))
#define P(bit) (1ULL << LOOPBACK_VHOST_USER_PROTOCOL_F_##bit)

static bool fk_read(int s, void *buf, size_t len, int *fds, int *nfds)
{
	size_t done = 0;

	while (done < len) {
		char control[CMSG_SPACE(sizeof(int) * 16)];
		struct iovec iov = { (char *)buf + done, len - done };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control,
			.msg_controllen = sizeof(control),
		};
		ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return false;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			memcpy(fds + *nfds, CMSG_DATA(cm), k * sizeof(int));
			*nfds += k;
		}
		done += (size_t)n;
	}
	return true;
}

static void fk_write(int s, const FkMsg *m, size_t len, const int *fds,
		     int nfds)
{
	char control[CMSG_SPACE(sizeof(int) * 4)] = { 0 };
	struct iovec iov = { (void *)m, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *cm;

		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	/* the frontend may have gone already: nothing to do about it */
	(void)!sendmsg(s, &mh, MSG_NOSIGNAL);
}

static void fk_reply(Fake *f, const FkMsg *req, const void *payload,
		     uint32_t size, const int *fds, int nfds)
{
	FkMsg m = { req->request, 1 | F_REPLY, size };

	if (size)
		memcpy(m.payload, payload, size);
	if (f->how != MB_NONE && req->request == f->bad_request) {
		switch (f->how) {
		case MB_WRONG_SIZE:
			m.size = 4;
			break;
		case MB_WRONG_REQUEST:
			m.request = req->request == GET_FEATURES ?
				GET_PROTOCOL_FEATURES : GET_FEATURES;
			break;
		case MB_HUGE_SIZE:
			m.size = 0xffff0000u;
			fk_write(f->sock, &m, 12, NULL, 0);
			return;
		case MB_NO_FD:
			nfds = 0;
			break;
		case MB_EXTRA_FD: {
			int e = eventfd(0, EFD_CLOEXEC);

			fk_write(f->sock, &m, 12 + size, &e, 1);
			close(e);
			return;
		}
		case MB_NO_REPLY_FLAG:
			m.flags = 1;
			break;
		case MB_BAD_VERSION:
			m.flags = 2 | F_REPLY;
			break;
		case MB_REFUSE:
			m.size = 8;
			memset(m.payload, 0, 8);
			m.payload[0] = 1;
			break;
		case MB_EMPTY_CONFIG:
			m.size = 0;
			break;
		default:
			break;
		}
	}
	fk_write(f->sock, &m, 12 + MIN(m.size, sizeof(m.payload)), fds, nfds);
}

static void fk_u64(Fake *f, const FkMsg *req, uint64_t v)
{
	fk_reply(f, req, &v, 8, NULL, 0);
}

static gpointer fk_thread(gpointer data)
{
	Fake *f = data;
	FkMsg m;

	if (f->listener >= 0) {
		int c = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			return NULL;
		g_atomic_int_set(&f->sock, c);
	}
	for (;;) {
		int fds[32];
		int nfds = 0;
		FkSeen seen = { 0 };
		bool replied = true;

		if (!fk_read(f->sock, &m, 12, fds, &nfds))
			break;
		g_assert_cmpuint(m.size, <=, sizeof(m.payload));
		if (!fk_read(f->sock, m.payload, m.size, fds, &nfds))
			break;
		seen.request = m.request;
		seen.flags = m.flags;
		seen.size = m.size;
		seen.nfds = (unsigned int)nfds;
		if (nfds) {
			struct stat st;

			if (fstat(fds[0], &st) == 0)
				seen.ino = st.st_ino;
		}
		memcpy(seen.payload, m.payload, MIN(m.size, 64));
		g_mutex_lock(&f->lock);
		g_array_append_val(f->seen, seen);
		g_mutex_unlock(&f->lock);

		if (m.request == SET_BACKEND_REQ_FD && nfds == 1) {
			g_atomic_int_set(&f->backend_fd, fds[0]);
			nfds = 0;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);

		if (f->how != MB_NONE && m.request == f->bad_request) {
			if (f->how == MB_NO_REPLY)
				continue;
			if (f->how == MB_CLOSE)
				break;
		}
		switch (m.request) {
		case GET_FEATURES:
			fk_u64(f, &m, f->features);
			break;
		case GET_PROTOCOL_FEATURES:
			fk_u64(f, &m, f->protocol);
			break;
		case GET_QUEUE_NUM:
			fk_u64(f, &m, f->queue_num);
			break;
		case GET_MAX_MEM_SLOTS:
			fk_u64(f, &m, 16);
			break;
		case GET_CONFIG:
			for (uint32_t i = 0; i + 12 < m.size; i++)
				m.payload[12 + i] = (uint8_t)(0xa0 + i);
			fk_reply(f, &m, m.payload, m.size, NULL, 0);
			break;
		case GET_VRING_BASE:
			if (f->how == MB_STALE_BASE)
				m.payload[4] = 1;	/* num = 1 */
			fk_reply(f, &m, m.payload, 8, NULL, 0);
			break;
		case GET_INFLIGHT_FD: {
			int mfd = memfd_create("fake-inflight", MFD_CLOEXEC);

			g_assert_cmpint(ftruncate(mfd, 4096), ==, 0);
			memset(m.payload, 0, 16);
			m.payload[1] = 0x10;	/* mmap_size 4096 */
			fk_reply(f, &m, m.payload, 20, &mfd, 1);
			close(mfd);
			break;
		}
		default:
			replied = false;
		}
		if (!replied && (m.flags & F_NEED_REPLY)) {
			if (f->how == MB_REFUSE && m.request == f->bad_request)
				fk_reply(f, &m, NULL, 0, NULL, 0);
			else
				fk_u64(f, &m, 0);
		}
	}
	close(f->sock);
	return NULL;
}

/* Starts the fake's thread on @sock (or on what @listener accepts). */
static Fake *fake_start(int sock, int listener, uint64_t protocol,
			uint64_t features)
{
	Fake *f = g_new0(Fake, 1);

	f->sock = sock;
	f->front = -1;
	f->listener = listener;
	f->queue_num = 2;
	f->features = features;
	f->protocol = protocol;
	f->backend_fd = -1;
	g_mutex_init(&f->lock);
	f->seen = g_array_new(FALSE, TRUE, sizeof(FkSeen));
	f->copies = g_ptr_array_new_with_free_func(g_free);
	return f;
}

static Fake *fake_new(uint64_t protocol, uint32_t bad_request,
		      Misbehaviour how)
{
	int sv[2];
	Fake *f;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			==, 0);
	f = fake_start(sv[0], -1, protocol, DEFAULT_FEATURES);
	f->front = sv[1];
	f->bad_request = bad_request;
	f->how = how;
	f->thread = g_thread_new("fake-backend", fk_thread, f);
	return f;
}

static loopback_vhost_user *fake_connect(Fake *f, unsigned int timeout_ms)
{
	GError *err = NULL;
	loopback_vhost_user *vu = loopback_vhost_user_new_from_fd(f->front,
								  &err);

	g_assert_no_error(err);
	f->front = -1;
	loopback_vhost_user_set_timeout(vu, timeout_ms);
	return vu;
}

/* A fake that listens on @path and serves the first frontend to come. */
static Fake *fake_listen(const char *path, uint64_t protocol,
			 uint64_t features)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	Fake *f;

	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	g_assert_cmpint(fd, >=, 0);
	unlink(path);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	g_assert_cmpint(listen(fd, 1), ==, 0);
	f = fake_start(-1, fd, protocol, features);
	f->thread = g_thread_new("fake-backend", fk_thread, f);
	return f;
}

/* The backend dies: the connection and the listening socket go. */
static void fake_crash(Fake *f)
{
	int s = g_atomic_int_get(&f->sock);

	if (s >= 0)
		shutdown(s, SHUT_RDWR);
	if (f->listener >= 0)
		shutdown(f->listener, SHUT_RDWR);
}

/* After the frontend is freed (or fake_crash): the fake ends. */
static void fake_free(Fake *f)
{
	int bfd;

	g_thread_join(f->thread);
	if (f->listener >= 0)
		close(f->listener);
	bfd = g_atomic_int_get(&f->backend_fd);
	if (bfd >= 0)
		close(bfd);
	g_array_unref(f->seen);
	g_ptr_array_unref(f->copies);
	g_mutex_clear(&f->lock);
	g_free(f);
}

/* The @n-th message the fake has seen with @request, or NULL. */
static FkSeen *fake_seen_now(Fake *f, uint32_t request, unsigned int n)
{
	FkSeen *found = NULL;

	g_mutex_lock(&f->lock);
	for (guint i = 0; i < f->seen->len; i++) {
		FkSeen *s = &g_array_index(f->seen, FkSeen, i);

		/* a copy: the fake's thread may grow the array */
		if (s->request == request && n-- == 0) {
			found = g_memdup2(s, sizeof(*s));
			g_ptr_array_add(f->copies, found);
			break;
		}
	}
	g_mutex_unlock(&f->lock);
	return found;
}

/* The same, given a second to arrive: messages without a reply race us. */
static FkSeen *fake_seen(Fake *f, uint32_t request, unsigned int n)
{
	gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
	FkSeen *s;

	while (!(s = fake_seen_now(f, request, n)) &&
	       g_get_monotonic_time() < deadline)
		g_usleep(1000);
	return s;
}

/* ---- misbehaviours during negotiation ---- */

typedef struct {
	const char *name;
	uint32_t request;
	Misbehaviour how;
	int code;
	const char *words;	/* in the message */
} BadCase;

static const BadCase bad_cases[] = {
	{ "wrong-size", GET_FEATURES, MB_WRONG_SIZE,
	  LOOPBACK_VHOST_USER_ERROR_PROTOCOL, "4 bytes of payload, 8 expected" },
	{ "wrong-request", GET_FEATURES, MB_WRONG_REQUEST,
	  LOOPBACK_VHOST_USER_ERROR_PROTOCOL, "with a reply to GET_PROTOCOL_FEATURES" },
	{ "no-reply", GET_PROTOCOL_FEATURES, MB_NO_REPLY,
	  LOOPBACK_VHOST_USER_ERROR_TIMEOUT, "timed out" },
	{ "close", GET_PROTOCOL_FEATURES, MB_CLOSE,
	  LOOPBACK_VHOST_USER_ERROR_DISCONNECTED, "closed the connection" },
	{ "close-ack", SET_PROTOCOL_FEATURES, MB_CLOSE,
	  LOOPBACK_VHOST_USER_ERROR_DISCONNECTED, "closed the connection" },
	{ "huge-size", GET_FEATURES, MB_HUGE_SIZE,
	  LOOPBACK_VHOST_USER_ERROR_PROTOCOL, "4294901760 bytes" },
	{ "extra-fd", GET_FEATURES, MB_EXTRA_FD,
	  LOOPBACK_VHOST_USER_ERROR_PROTOCOL, "more file descriptors" },
	{ "no-reply-flag", GET_FEATURES, MB_NO_REPLY_FLAG,
	  LOOPBACK_VHOST_USER_ERROR_PROTOCOL, "lacks the reply flag" },
	{ "bad-version", GET_FEATURES, MB_BAD_VERSION,
	  LOOPBACK_VHOST_USER_ERROR_PROTOCOL, "version 2" },
	{ "queue-num-size", GET_QUEUE_NUM, MB_WRONG_SIZE,
	  LOOPBACK_VHOST_USER_ERROR_PROTOCOL, "GET_QUEUE_NUM" },
	{ "mem-slots-silent", GET_MAX_MEM_SLOTS, MB_NO_REPLY,
	  LOOPBACK_VHOST_USER_ERROR_TIMEOUT, "timed out" },
	{ "backend-req-close", SET_BACKEND_REQ_FD, MB_CLOSE,
	  LOOPBACK_VHOST_USER_ERROR_DISCONNECTED, "closed the connection" },
};

static void test_bad(gconstpointer data)
{
	const BadCase *c = data;
	Fake *f = fake_new(P(MQ) | P(REPLY_ACK) | P(BACKEND_REQ) |
			   P(CONFIGURE_MEM_SLOTS), c->request, c->how);
	loopback_vhost_user *vu = fake_connect(f, 300);
	GError *err = NULL;
	gint64 t0 = g_get_monotonic_time();
	uint8_t buf[4];

	g_assert_false(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR, c->code);
	if (!strstr(err->message, c->words))
		g_error("'%s' is not in the error: %s", c->words, err->message);
	g_test_message("%s: %s", c->name, err->message);
	g_clear_error(&err);
	/* bounded by the timeout, with room for a slow sanitizer build */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 3 * G_USEC_PER_SEC);
	/* a broken session stays broken, and says so */
	g_assert_false(loopback_vhost_user_is_usable(vu));
	g_assert_nonnull(loopback_vhost_user_get_error(vu));
	g_assert_false(loopback_vhost_user_get_config(vu, 0, buf, 4, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR, c->code);
	g_assert_nonnull(strstr(err->message, "session is broken"));
	g_clear_error(&err);
	loopback_vhost_user_free(vu);
	fake_free(f);
}

/* ---- misbehaviours after negotiation ---- */

static void test_missing_fd(void)
{
	Fake *f = fake_new(P(INFLIGHT_SHMFD), GET_INFLIGHT_FD, MB_NO_FD);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;

	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_false(loopback_vhost_user_setup_inflight(vu, 2, 128, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(err->message, "0 fds"));
	g_clear_error(&err);
	g_assert_false(loopback_vhost_user_is_usable(vu));
	loopback_vhost_user_free(vu);
	fake_free(f);
}

static void test_inflight(void)
{
	Fake *f = fake_new(P(INFLIGHT_SHMFD) | P(REPLY_ACK), 0, MB_NONE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;
	FkSeen *s;
	uint16_t nq;

	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_true(loopback_vhost_user_setup_inflight(vu, 2, 128, &err));
	g_assert_no_error(err);
	s = fake_seen(f, GET_INFLIGHT_FD, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->size, ==, 20);
	memcpy(&nq, s->payload + 16, 2);
	g_assert_cmpuint(nq, ==, 2);
	s = fake_seen(f, SET_INFLIGHT_FD, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->nfds, ==, 1);
	g_assert_cmpuint(s->size, ==, 20);
	loopback_vhost_user_free(vu);
	fake_free(f);
}

static void test_refused(void)
{
	Fake *f = fake_new(P(REPLY_ACK) | P(CONFIG), SET_FEATURES, MB_REFUSE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;
	uint8_t buf[8];

	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_false(loopback_vhost_user_set_features(
		vu, 1ULL << LOOPBACK_VIRTIO_F_VERSION_1, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_REFUSED);
	g_clear_error(&err);
	/* a "no" is an answer: the session goes on */
	g_assert_true(loopback_vhost_user_is_usable(vu));
	g_assert_true(loopback_vhost_user_get_config(vu, 2, buf, 4, &err));
	g_assert_no_error(err);
	g_assert_cmphex(buf[0], ==, 0xa2);
	loopback_vhost_user_free(vu);
	fake_free(f);
}

static void test_config_refused(void)
{
	Fake *f = fake_new(P(CONFIG), GET_CONFIG, MB_EMPTY_CONFIG);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;
	uint8_t buf[8];

	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_false(loopback_vhost_user_get_config(vu, 0, buf, 8, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_REFUSED);
	g_clear_error(&err);
	g_assert_true(loopback_vhost_user_is_usable(vu));
	/* out of the 256 bytes vhost-user carries: refused before sending */
	g_assert_false(loopback_vhost_user_get_config(vu, 250, buf, 8, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_clear_error(&err);
	/* not negotiated: STATUS is a no-op, RESET_DEVICE too */
	g_assert_true(loopback_vhost_user_set_status(vu, 0xf, &err));
	g_assert_no_error(err);
	g_assert_null(fake_seen_now(f, SET_STATUS, 0));
	loopback_vhost_user_free(vu);
	fake_free(f);
}

static void test_features(void)
{
	Fake *f = fake_new(P(MQ) | P(STATUS) | P(RESET_DEVICE), 0, MB_NONE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;
	uint64_t dev, sent;
	FkSeen *s;

	/* nothing before negotiate */
	g_assert_false(loopback_vhost_user_set_features(vu, 0, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_clear_error(&err);
	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_false(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_clear_error(&err);
	g_assert_cmphex(loopback_vhost_user_get_protocol_features(vu), ==,
			P(MQ) | P(STATUS) | P(RESET_DEVICE));
	s = fake_seen(f, SET_PROTOCOL_FEATURES, 0);
	g_assert_nonnull(s);
	g_assert_cmphex(*(uint64_t *)s->payload, ==,
			P(MQ) | P(STATUS) | P(RESET_DEVICE));
	g_assert_cmpuint(loopback_vhost_user_get_queue_num(vu), ==, 2);

	/* allowlist ∩ offered, less LOG_ALL, PROTOCOL_FEATURES; ACCESS_PLATFORM */
	dev = loopback_vhost_user_device_features(vu, UINT64_MAX);
	g_assert_cmphex(dev, ==, (1ULL << 32) | (1ULL << 33) | (1ULL << 1) |
			(1ULL << 6));
	dev = loopback_vhost_user_device_features(vu, (1ULL << 32) |
						  (1ULL << 5));
	g_assert_cmphex(dev, ==, (1ULL << 32) | (1ULL << 33));

	/* the driver acks ACCESS_PLATFORM: it stays with the transport */
	g_assert_true(loopback_vhost_user_set_features(vu, (1ULL << 32) |
						       (1ULL << 33) |
						       (1ULL << 1), &err));
	g_assert_no_error(err);
	s = fake_seen(f, SET_FEATURES, 0);
	g_assert_nonnull(s);
	memcpy(&sent, s->payload, 8);
	g_assert_cmphex(sent, ==, (1ULL << 32) | (1ULL << 30) | (1ULL << 1));
	/* a backend restarted with less than the driver acked */
	g_assert_false(loopback_vhost_user_set_features(vu, (1ULL << 32) |
							(1ULL << 7), &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(err->message, "0x80"));
	g_clear_error(&err);
	g_assert_false(loopback_vhost_user_set_features(vu, 1ULL << 1, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED);
	g_clear_error(&err);
	g_assert_true(loopback_vhost_user_is_usable(vu));

	/* STATUS and RESET_DEVICE as negotiated */
	g_assert_true(loopback_vhost_user_set_status(vu, 0xf, &err));
	g_assert_no_error(err);
	s = fake_seen(f, SET_STATUS, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->payload[0], ==, 0xf);
	g_assert_true(loopback_vhost_user_reset_device(vu, &err));
	g_assert_no_error(err);
	g_assert_nonnull(fake_seen(f, RESET_DEVICE, 0));
	loopback_vhost_user_free(vu);
	fake_free(f);
}

/* ---- memory table and rings ---- */

struct region {
	uint64_t gpa, size, uaddr, offset;
};

static struct region seen_region(FkSeen *s, size_t at)
{
	struct region r;

	memcpy(&r, s->payload + at, sizeof(r));
	return r;
}

static void test_mem_slots(void)
{
	Fake *f = fake_new(P(CONFIGURE_MEM_SLOTS) | P(REPLY_ACK), 0, MB_NONE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;
	VutWindow w;
	VutRing r;
	MemoryRegion *extra;
	loopback_vhost_user_vring cfg;
	struct region reg;
	FkSeen *s;
	uint64_t a;

	/* the window starts 2 MiB into its memfd */
	vut_window_init(&w, 1 << 20, 2 << 20);
	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(loopback_vhost_user_get_max_mem_slots(vu), ==, 16);
	g_assert_true(loopback_vhost_user_set_address_space(vu, w.as, &err));
	g_assert_no_error(err);
	s = fake_seen(f, ADD_MEM_REG, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->size, ==, 40);
	g_assert_cmpuint(s->nfds, ==, 1);
	g_assert_true(s->flags & F_NEED_REPLY);
	reg = seen_region(s, 8);
	g_assert_cmphex(reg.gpa, ==, VUT_WINDOW_GPA);
	g_assert_cmphex(reg.size, ==, 1 << 20);
	g_assert_cmphex(reg.uaddr, ==, (uintptr_t)w.host);
	g_assert_cmphex(reg.offset, ==, 2 << 20);

	/* a second RAM region appears, then goes */
	extra = vut_add_ram(&w, 0x200000000ULL, 1 << 20);
	g_assert_true(loopback_vhost_user_is_usable(vu));
	g_assert_cmpuint(loopback_vhost_user_get_mem_region_count(vu), ==, 2);
	s = fake_seen(f, ADD_MEM_REG, 1);
	g_assert_nonnull(s);
	reg = seen_region(s, 8);
	g_assert_cmphex(reg.gpa, ==, 0x200000000ULL);
	g_assert_cmphex(reg.uaddr, ==,
			(uintptr_t)memory_region_get_ram_ptr(extra));
	vut_del_ram(&w, extra);
	s = fake_seen(f, REM_MEM_REG, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->nfds, ==, 0);
	reg = seen_region(s, 8);
	g_assert_cmphex(reg.gpa, ==, 0x200000000ULL);
	g_assert_cmpuint(loopback_vhost_user_get_mem_region_count(vu), ==, 1);

	/* ring addresses are user addresses, through the table */
	vut_ring_init(&r, &w, 64);
	cfg = vut_ring_config(&r);
	g_assert_true(loopback_vhost_user_vring_start(vu, 3, &cfg, &err));
	g_assert_no_error(err);
	s = fake_seen(f, SET_VRING_ADDR, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->size, ==, 40);
	memcpy(&a, s->payload + 8, 8);
	g_assert_cmphex(a, ==, (uintptr_t)vut_host(&w, r.desc));
	memcpy(&a, s->payload + 16, 8);
	g_assert_cmphex(a, ==, (uintptr_t)vut_host(&w, r.used));
	memcpy(&a, s->payload + 24, 8);
	g_assert_cmphex(a, ==, (uintptr_t)vut_host(&w, r.avail));
	s = fake_seen(f, SET_VRING_KICK, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->nfds, ==, 1);
	g_assert_cmpuint(s->payload[0], ==, 3);
	g_assert_nonnull(fake_seen(f, SET_VRING_CALL, 0));
	s = fake_seen(f, SET_VRING_ENABLE, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->payload[4], ==, 1);
	/* a ring outside the RAM is refused before anything is sent */
	cfg.desc = 0x1000;
	g_assert_false(loopback_vhost_user_vring_start(vu, 4, &cfg, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_clear_error(&err);
	g_assert_null(fake_seen_now(f, SET_VRING_NUM, 1));

	loopback_vhost_user_free(vu);
	vut_ring_destroy(&r);
	vut_window_destroy(&w);
	fake_free(f);
}

static void test_mem_table(void)
{
	Fake *f = fake_new(0, 0, MB_NONE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;
	VutWindow w;
	struct region reg;
	FkSeen *s;
	uint32_t n;

	vut_window_init(&w, 1 << 20, 0);
	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_true(loopback_vhost_user_set_address_space(vu, w.as, &err));
	g_assert_no_error(err);
	s = fake_seen(f, SET_MEM_TABLE, 0);
	g_assert_nonnull(s);
	memcpy(&n, s->payload, 4);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(s->size, ==, 8 + 32);
	g_assert_cmpuint(s->nfds, ==, 1);
	reg = seen_region(s, 8);
	g_assert_cmphex(reg.gpa, ==, VUT_WINDOW_GPA);
	g_assert_cmphex(reg.uaddr, ==, (uintptr_t)w.host);
	g_assert_cmphex(reg.offset, ==, 0);
	loopback_vhost_user_free(vu);
	vut_window_destroy(&w);
	fake_free(f);
}

static void test_ram_without_fd(void)
{
	Fake *f = fake_new(0, 0, MB_NONE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GError *err = NULL;
	VutWindow w;
	MemoryRegion *anon = g_new0(MemoryRegion, 1);
	void *mem = g_malloc0(1 << 16);

	vut_window_init(&w, 1 << 20, 0);
	memory_region_init_ram_ptr(anon, NULL, "no-fd", 1 << 16, mem);
	loopback_memory_region_set_free_notify(anon, g_free, anon);
	memory_region_add_subregion(w.root, 0x300000000ULL, anon);
	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_false(loopback_vhost_user_set_address_space(vu, w.as, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_assert_nonnull(strstr(err->message, "no-fd"));
	g_clear_error(&err);
	memory_region_del_subregion(w.root, anon);
	memory_region_unref(anon);
	loopback_vhost_user_free(vu);
	vut_window_destroy(&w);
	g_free(mem);
	fake_free(f);
}

/* The used index catches up while vring_drain waits. */
typedef struct {
	uint16_t *used_idx;
	uint16_t value;
} LateWrite;

static gpointer late_write(gpointer data)
{
	LateWrite *lw = data;

	g_usleep(50000);
	__atomic_store_n(lw->used_idx, lw->value, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stop_wait(void)
{
	Fake *f = fake_new(P(REPLY_ACK), 0, MB_STALE_BASE);
	loopback_vhost_user *vu = fake_connect(f, 300);
	GError *err = NULL;
	VutWindow w;
	VutRing r;
	loopback_vhost_user_vring cfg;
	LateWrite lw;
	GThread *t;
	uint16_t base;

	vut_window_init(&w, 1 << 20, 0);
	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	g_assert_true(loopback_vhost_user_set_address_space(vu, w.as, &err));
	g_assert_no_error(err);
	vut_ring_init(&r, &w, 16);
	cfg = vut_ring_config(&r);
	g_assert_true(loopback_vhost_user_vring_start(vu, 0, &cfg, &err));
	g_assert_no_error(err);
	/* drain: one buffer made available, none used: bounded wait */
	((uint16_t *)vut_host(&w, r.avail))[1] = 1;
	g_assert_false(loopback_vhost_user_vring_drain(vu, 0, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_TIMEOUT);
	g_clear_error(&err);
	g_assert_true(loopback_vhost_user_is_usable(vu));
	/* the backend says 1, the used index stays 0: bounded wait */
	g_assert_false(loopback_vhost_user_vring_stop(vu, 0, &base, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_TIMEOUT);
	g_clear_error(&err);
	g_assert_cmpuint(base, ==, 1);
	g_assert_nonnull(fake_seen(f, SET_VRING_ENABLE, 1));
	/* again, and the used index gets there 50 ms later */
	g_assert_true(loopback_vhost_user_vring_start(vu, 0, &cfg, &err));
	g_assert_no_error(err);
	lw.used_idx = (uint16_t *)vut_host(&w, r.used) + 1;
	lw.value = 1;
	t = g_thread_new("late-write", late_write, &lw);
	g_assert_true(loopback_vhost_user_vring_drain(vu, 0, &err));
	g_assert_no_error(err);
	g_thread_join(t);
	g_assert_true(loopback_vhost_user_vring_stop(vu, 0, &base, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(base, ==, 1);
	/* a stopped ring has nothing to drain */
	g_assert_false(loopback_vhost_user_vring_drain(vu, 0, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_clear_error(&err);
	loopback_vhost_user_free(vu);
	vut_ring_destroy(&r);
	vut_window_destroy(&w);
	fake_free(f);
}

/* ---- the backend channel and disconnects ---- */

typedef struct {
	int config_changed;
	int disconnected;
	int code;
} Events;

static void on_config(loopback_vhost_user *vu, void *data)
{
	((Events *)data)->config_changed++;
}

static void on_disc(loopback_vhost_user *vu, const GError *error, void *data)
{
	Events *ev = data;

	ev->disconnected++;
	ev->code = error->code;
}

static void iterate_until(GMainContext *ctx, int *counter, int want)
{
	vut_iterate_until(ctx, counter, want, 3000);
	g_assert_cmpint(*counter, ==, want);
}

static void send_backend(int fd, uint32_t request, uint32_t flags,
			 uint32_t size)
{
	FkMsg m = { request, 1 | flags, size };

	fk_write(fd, &m, 12 + MIN(size, 8), NULL, 0);
}

/* Runs @ctx until the frontend's answer is there, then reads it. */
static uint64_t read_backend_reply(GMainContext *ctx, int fd,
				   uint32_t request)
{
	gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	FkMsg m;
	int fds[4], nfds = 0;
	uint64_t v;

	while (poll(&pfd, 1, 0) == 0 && g_get_monotonic_time() < deadline)
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(1000);

	g_assert_true(fk_read(fd, &m, 12 + 8, fds, &nfds));
	g_assert_cmpuint(m.request, ==, request);
	g_assert_cmphex(m.flags, ==, 1 | F_REPLY);
	g_assert_cmpuint(m.size, ==, 8);
	memcpy(&v, m.payload, 8);
	return v;
}

static void test_backend_channel(void)
{
	Fake *f = fake_new(P(BACKEND_REQ) | P(REPLY_ACK) | P(CONFIG), 0,
			   MB_NONE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GMainContext *ctx = g_main_context_new();
	GSource *src;
	Events ev = { 0 };
	GError *err = NULL;
	int bfd;

	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	bfd = g_atomic_int_get(&f->backend_fd);
	g_assert_cmpint(bfd, >=, 0);
	src = loopback_vhost_user_source_new(vu);
	g_source_attach(src, ctx);
	loopback_vhost_user_set_config_changed_cb(vu, on_config, &ev);
	loopback_vhost_user_set_disconnected_cb(vu, on_disc, &ev);

	/* a config change that wants an answer, then one that does not */
	send_backend(bfd, CONFIG_CHANGE_MSG, F_NEED_REPLY, 0);
	iterate_until(ctx, &ev.config_changed, 1);
	g_assert_cmpuint(read_backend_reply(ctx, bfd, CONFIG_CHANGE_MSG), ==, 0);
	send_backend(bfd, CONFIG_CHANGE_MSG, 0, 0);
	iterate_until(ctx, &ev.config_changed, 2);
	/* an unknown request: "no", and the session goes on */
	send_backend(bfd, 99, F_NEED_REPLY, 0);
	g_assert_cmpuint(read_backend_reply(ctx, bfd, 99), !=, 0);
	g_assert_true(loopback_vhost_user_is_usable(vu));
	g_assert_cmpint(ev.disconnected, ==, 0);
	/* a size field past any message breaks it */
	send_backend(bfd, CONFIG_CHANGE_MSG, 0, 0x10000);
	iterate_until(ctx, &ev.disconnected, 1);
	g_assert_cmpint(ev.code, ==, LOOPBACK_VHOST_USER_ERROR_PROTOCOL);
	g_assert_false(loopback_vhost_user_is_usable(vu));
	g_assert_cmpint(ev.config_changed, ==, 2);

	g_source_destroy(src);
	g_source_unref(src);
	g_main_context_unref(ctx);
	loopback_vhost_user_free(vu);
	fake_free(f);
}

static void test_disconnect(void)
{
	Fake *f = fake_new(P(REPLY_ACK), 0, MB_NONE);
	loopback_vhost_user *vu = fake_connect(f, 1000);
	GMainContext *ctx = g_main_context_new();
	GSource *src;
	Events ev = { 0 };
	GError *err = NULL;

	g_assert_true(loopback_vhost_user_negotiate(vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	src = loopback_vhost_user_source_new(vu);
	g_source_attach(src, ctx);
	loopback_vhost_user_set_disconnected_cb(vu, on_disc, &ev);
	/* the backend goes away: its thread sees EOF and closes */
	shutdown(f->sock, SHUT_RDWR);
	iterate_until(ctx, &ev.disconnected, 1);
	g_assert_cmpint(ev.code, ==, LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
	g_assert_false(loopback_vhost_user_is_usable(vu));
	/* reported once, and the source goes quiet */
	for (int i = 0; i < 10; i++)
		g_main_context_iteration(ctx, FALSE);
	g_assert_cmpint(ev.disconnected, ==, 1);
	g_source_destroy(src);
	g_source_unref(src);
	g_main_context_unref(ctx);
	loopback_vhost_user_free(vu);
	fake_free(f);
}

static void test_connect_errors(void)
{
	GError *err = NULL;
	g_autofree char *dir = vut_tmpdir();
	g_autofree char *path = g_build_filename(dir, "nobody.sock", NULL);
	char longpath[200];

	g_assert_null(loopback_vhost_user_connect(path, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
	g_assert_nonnull(strstr(err->message, "is the backend running"));
	g_clear_error(&err);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	g_assert_null(loopback_vhost_user_connect(longpath, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_INVALID);
	g_clear_error(&err);
	rmdir(dir);
}

/* ---- reconnect ---- */

typedef struct {
	int lost, back, gone;
	int code;
	char *why;
	gint64 lost_at, gone_at;
} Recon;

static void on_reconnect(loopback_vhost_user *vu,
			 LoopbackVhostUserReconnectEvent event,
			 const GError *error, void *data)
{
	Recon *rc = data;

	if (event == LOOPBACK_VHOST_USER_RECONNECTING) {
		g_assert_nonnull(error);
		rc->lost++;
		rc->lost_at = g_get_monotonic_time();
	} else {
		g_assert_null(error);
		rc->back++;
	}
}

static void on_gone(loopback_vhost_user *vu, const GError *error, void *data)
{
	Recon *rc = data;

	rc->gone++;
	rc->code = error->code;
	g_free(rc->why);
	rc->why = g_strdup(error->message);
	rc->gone_at = g_get_monotonic_time();
}

typedef struct {
	char *dir, *path;
	VutWindow w;
	VutRing r[2];
	loopback_vhost_user *vu;
	GMainContext *ctx;
	GSource *src;
	Recon rc;
	Fake *f;
} RcTest;

#define RC_FEATURES ((1ULL << 32) | (1ULL << 30) | (1ULL << 1))

/* A session through a path, one ring started, the source running. */
static void rc_setup(RcTest *t, uint64_t protocol, unsigned int limit_ms)
{
	GError *err = NULL;
	loopback_vhost_user_vring cfg;

	memset(t, 0, sizeof(*t));
	t->dir = vut_tmpdir();
	t->path = g_build_filename(t->dir, "fake.sock", NULL);
	t->f = fake_listen(t->path, protocol, RC_FEATURES);
	vut_window_init(&t->w, 1 << 20, 0);
	t->vu = vut_connect(t->path, 1000);
	g_assert_true(loopback_vhost_user_negotiate(t->vu, UINT64_MAX, &err));
	g_assert_no_error(err);
	loopback_vhost_user_set_reconnect(t->vu, limit_ms);
	loopback_vhost_user_set_reconnect_cb(t->vu, on_reconnect, &t->rc);
	loopback_vhost_user_set_disconnected_cb(t->vu, on_gone, &t->rc);
	/* what the device was created with: bit 1 and VERSION_1 */
	g_assert_cmphex(loopback_vhost_user_device_features(t->vu, UINT64_MAX),
			==, (1ULL << 32) | (1ULL << 33) | (1ULL << 1));
	g_assert_true(loopback_vhost_user_set_features(
		t->vu, (1ULL << 32) | (1ULL << 33) | (1ULL << 1), &err));
	g_assert_no_error(err);
	g_assert_true(loopback_vhost_user_set_address_space(t->vu, t->w.as,
							    &err));
	g_assert_no_error(err);
	if (protocol & P(INFLIGHT_SHMFD)) {
		g_assert_true(loopback_vhost_user_setup_inflight(t->vu, 1, 16,
								 &err));
		g_assert_no_error(err);
	}
	vut_ring_init(&t->r[0], &t->w, 16);
	vut_ring_init(&t->r[1], &t->w, 16);
	cfg = vut_ring_config(&t->r[0]);
	g_assert_true(loopback_vhost_user_vring_start(t->vu, 0, &cfg, &err));
	g_assert_no_error(err);
	t->ctx = g_main_context_new();
	t->src = loopback_vhost_user_source_new(t->vu);
	g_source_attach(t->src, t->ctx);
}

static void rc_teardown(RcTest *t)
{
	g_source_destroy(t->src);
	g_source_unref(t->src);
	g_main_context_unref(t->ctx);
	loopback_vhost_user_free(t->vu);
	if (t->f) {
		fake_crash(t->f);
		fake_free(t->f);
	}
	vut_ring_destroy(&t->r[0]);
	vut_ring_destroy(&t->r[1]);
	vut_window_destroy(&t->w);
	unlink(t->path);
	rmdir(t->dir);
	g_free(t->path);
	g_free(t->dir);
	g_free(t->rc.why);
}

/* The old backend completes @head (writes its used entry, then the index). */
static void rc_complete(RcTest *t, VutRing *r, uint16_t head)
{
	uint32_t *used = vut_host(&t->w, r->used);
	uint16_t idx = vut_ring_used_idx(r);

	used[1 + 2 * (idx % r->num)] = head;
	used[2 + 2 * (idx % r->num)] = 1;
	__atomic_store_n((uint16_t *)vut_host(&t->w, r->used) + 1,
			 (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static uint16_t rc_add(VutRing *r, VutWindow *w)
{
	VutBuf b = { vut_alloc(w, 64, 8), 64, true };

	return vut_ring_add(r, &b, 1);
}

/* The backend dies; it is replaced by @next (NULL: nobody). */
static void rc_crash(RcTest *t)
{
	fake_crash(t->f);
	fake_free(t->f);
	t->f = NULL;
	iterate_until(t->ctx, &t->rc.lost, 1);
	g_assert_true(loopback_vhost_user_is_reconnecting(t->vu));
	g_assert_false(loopback_vhost_user_is_usable(t->vu));
}

static uint64_t eventfd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) < 0)
		g_assert_cmpint(errno, ==, EAGAIN);
	return v;
}

static uint32_t seen_u32(FkSeen *s, size_t at)
{
	uint32_t v;

	g_assert_nonnull(s);
	memcpy(&v, s->payload + at, 4);
	return v;
}

/* In order: the new backend starts at the used index, nothing is lost. */
static void test_reconnect_restore(void)
{
	RcTest t;
	GError *err = NULL;
	loopback_vhost_user_vring cfg;
	uint64_t acked;
	FkSeen *s;
	uint16_t h[3], base;

	rc_setup(&t, P(REPLY_ACK) | P(MQ), 3000);
	for (int i = 0; i < 3; i++)
		h[i] = rc_add(&t.r[0], &t.w);
	rc_complete(&t, &t.r[0], h[0]);
	eventfd_count(t.r[0].kick_fd);
	eventfd_count(t.r[0].call_fd);
	rc_crash(&t);

	/* while it is away: recorded, not sent, and no error */
	cfg = vut_ring_config(&t.r[1]);
	g_assert_true(loopback_vhost_user_vring_start(t.vu, 1, &cfg, &err));
	g_assert_no_error(err);
	g_assert_true(loopback_vhost_user_set_status(t.vu, 0xf, &err));
	g_assert_no_error(err);
	g_assert_false(loopback_vhost_user_vring_drain(t.vu, 0, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
	g_clear_error(&err);
	/* nobody there for a while: it keeps trying */
	vut_iterate_until(t.ctx, &t.rc.back, 1, 300);
	g_assert_cmpint(t.rc.back, ==, 0);
	g_assert_cmpint(t.rc.gone, ==, 0);

	t.f = fake_listen(t.path, P(REPLY_ACK) | P(MQ), RC_FEATURES);
	iterate_until(t.ctx, &t.rc.back, 1);
	g_assert_true(loopback_vhost_user_is_usable(t.vu));
	g_assert_false(loopback_vhost_user_is_reconnecting(t.vu));
	g_assert_cmpint(t.rc.gone, ==, 0);
	/* the driver's features, the memory, both rings */
	s = fake_seen(t.f, SET_FEATURES, 0);
	g_assert_nonnull(s);
	memcpy(&acked, s->payload, 8);
	g_assert_cmphex(acked, ==, RC_FEATURES);
	s = fake_seen(t.f, SET_MEM_TABLE, 0);
	g_assert_nonnull(s);
	g_assert_cmpuint(s->nfds, ==, 1);
	/* ring 0 from its used index: h[1] and h[2] run again */
	g_assert_cmpuint(seen_u32(fake_seen(t.f, SET_VRING_BASE, 0), 0), ==, 0);
	g_assert_cmpuint(seen_u32(fake_seen(t.f, SET_VRING_BASE, 0), 4), ==, 1);
	g_assert_cmpuint(seen_u32(fake_seen(t.f, SET_VRING_BASE, 1), 0), ==, 1);
	g_assert_cmpuint(seen_u32(fake_seen(t.f, SET_VRING_BASE, 1), 4), ==, 0);
	g_assert_nonnull(fake_seen(t.f, SET_VRING_KICK, 1));
	g_assert_cmpuint(seen_u32(fake_seen(t.f, SET_VRING_ENABLE, 1), 4), ==,
			 1);
	g_assert_null(fake_seen_now(t.f, GET_INFLIGHT_FD, 0));
	/* kicked and signalled once, for what the old one left */
	g_assert_cmpuint(eventfd_count(t.r[0].kick_fd), ==, 1);
	g_assert_cmpuint(eventfd_count(t.r[0].call_fd), ==, 1);

	/* the new backend serves the stop (its GET_VRING_BASE says 0) */
	g_assert_true(loopback_vhost_user_vring_stop(t.vu, 1, &base, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(base, ==, 0);
	g_assert_nonnull(fake_seen(t.f, GET_VRING_BASE, 0));

	/* gone for good: nobody within the limit */
	loopback_vhost_user_set_reconnect(t.vu, 400);
	t.rc.lost = 0;
	rc_crash(&t);
	iterate_until(t.ctx, &t.rc.gone, 1);
	g_assert_cmpint(t.rc.code, ==, LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
	g_assert_nonnull(strstr(t.rc.why, "did not come back"));
	g_test_message("%s", t.rc.why);
	g_assert_cmpint(t.rc.gone_at - t.rc.lost_at, >=, 400 * 1000);
	g_assert_cmpint(t.rc.gone_at - t.rc.lost_at, <, 3 * G_USEC_PER_SEC);
	g_assert_false(loopback_vhost_user_is_reconnecting(t.vu));
	g_assert_false(loopback_vhost_user_set_status(t.vu, 0, &err));
	g_assert_error(err, LOOPBACK_VHOST_USER_ERROR,
		       LOOPBACK_VHOST_USER_ERROR_DISCONNECTED);
	g_clear_error(&err);
	rc_teardown(&t);
}

/* A backend with less than the device was created with cannot take over. */
static void test_reconnect_fewer_features(void)
{
	RcTest t;

	rc_setup(&t, P(REPLY_ACK), 3000);
	rc_crash(&t);
	t.f = fake_listen(t.path, P(REPLY_ACK), RC_FEATURES & ~(1ULL << 1));
	iterate_until(t.ctx, &t.rc.gone, 1);
	g_assert_cmpint(t.rc.back, ==, 0);
	g_assert_cmpint(t.rc.code, ==, LOOPBACK_VHOST_USER_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(t.rc.why, "lacks features 0x2"));
	g_assert_null(fake_seen_now(t.f, SET_VRING_KICK, 0));
	g_assert_false(loopback_vhost_user_is_reconnecting(t.vu));
	rc_teardown(&t);
}

/* A driver reset while it is away: nothing of the old rings comes back. */
static void test_reconnect_reset(void)
{
	RcTest t;
	GError *err = NULL;
	uint16_t base;

	rc_setup(&t, P(REPLY_ACK) | P(RESET_DEVICE), 3000);
	rc_add(&t.r[0], &t.w);
	rc_add(&t.r[0], &t.w);
	rc_complete(&t, &t.r[0], 0);
	rc_crash(&t);
	g_assert_true(loopback_vhost_user_vring_stop(t.vu, 0, &base, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(base, ==, 1);
	g_assert_true(loopback_vhost_user_reset_device(t.vu, &err));
	g_assert_no_error(err);
	t.f = fake_listen(t.path, P(REPLY_ACK) | P(RESET_DEVICE), RC_FEATURES);
	iterate_until(t.ctx, &t.rc.back, 1);
	g_assert_nonnull(fake_seen(t.f, SET_MEM_TABLE, 0));
	g_assert_null(fake_seen_now(t.f, SET_VRING_BASE, 0));
	g_assert_null(fake_seen_now(t.f, SET_VRING_KICK, 0));
	rc_teardown(&t);
}

/*
 * Out of order, without in-flight tracking.  h[2] completed before h[0]
 * and h[1]: the used index (1) says "one done", so the new backend starts
 * at available entry 1 and h[0] is never run again (see vhost-user.md).
 * Once the driver reused h[2], the head is found twice after the used
 * index and the restore is refused.
 */
static void test_reconnect_out_of_order(void)
{
	RcTest t;
	uint16_t h[3], id;
	uint32_t len;

	rc_setup(&t, P(REPLY_ACK), 3000);
	for (int i = 0; i < 3; i++)
		h[i] = rc_add(&t.r[0], &t.w);
	rc_complete(&t, &t.r[0], h[2]);
	rc_crash(&t);
	t.f = fake_listen(t.path, P(REPLY_ACK), RC_FEATURES);
	iterate_until(t.ctx, &t.rc.back, 1);
	g_assert_cmpuint(seen_u32(fake_seen(t.f, SET_VRING_BASE, 0), 4), ==, 1);

	/* the driver takes h[2] back and reuses it, then the backend dies */
	g_assert_true(vut_ring_get_used(&t.r[0], 100, &id, &len));
	g_assert_cmpuint(id, ==, h[2]);
	g_assert_cmpuint(rc_add(&t.r[0], &t.w), ==, h[2]);
	t.rc.lost = 0;
	rc_crash(&t);
	t.f = fake_listen(t.path, P(REPLY_ACK), RC_FEATURES);
	iterate_until(t.ctx, &t.rc.gone, 1);
	g_assert_cmpint(t.rc.code, ==, LOOPBACK_VHOST_USER_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(t.rc.why, "out of order"));
	g_test_message("%s", t.rc.why);
	g_assert_null(fake_seen_now(t.f, SET_VRING_KICK, 0));
	rc_teardown(&t);
}

/* With INFLIGHT_SHMFD the buffer survives and goes to the new backend. */
static void test_reconnect_inflight(void)
{
	RcTest t;
	uint64_t first;
	uint16_t h[3], id;
	uint32_t len;

	rc_setup(&t, P(REPLY_ACK) | P(INFLIGHT_SHMFD), 3000);
	first = fake_seen(t.f, SET_INFLIGHT_FD, 0)->ino;
	g_assert_cmpuint(first, !=, 0);
	/* out of order and reused: the backend's own records say what ran */
	for (int i = 0; i < 3; i++)
		h[i] = rc_add(&t.r[0], &t.w);
	rc_complete(&t, &t.r[0], h[2]);
	g_assert_true(vut_ring_get_used(&t.r[0], 100, &id, &len));
	rc_add(&t.r[0], &t.w);
	rc_crash(&t);
	t.f = fake_listen(t.path, P(REPLY_ACK) | P(INFLIGHT_SHMFD),
			  RC_FEATURES);
	iterate_until(t.ctx, &t.rc.back, 1);
	g_assert_null(fake_seen_now(t.f, GET_INFLIGHT_FD, 0));
	g_assert_cmpuint(fake_seen(t.f, SET_INFLIGHT_FD, 0)->ino, ==, first);
	g_assert_cmpuint(seen_u32(fake_seen(t.f, SET_VRING_BASE, 0), 4), ==, 1);
	g_assert_nonnull(fake_seen(t.f, SET_VRING_KICK, 0));
	/* a backend without it still takes over, from the used index */
	t.rc.lost = 0;
	rc_crash(&t);
	t.f = fake_listen(t.path, P(REPLY_ACK), RC_FEATURES);
	iterate_until(t.ctx, &t.rc.gone, 1);
	g_assert_cmpint(t.rc.code, ==, LOOPBACK_VHOST_USER_ERROR_PROTOCOL);
	rc_teardown(&t);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (unsigned int i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		g_autofree char *name = g_strdup_printf("/vhost-user/fake/bad/%s",
							bad_cases[i].name);

		g_test_add_data_func(name, &bad_cases[i], test_bad);
	}
	g_test_add_func("/vhost-user/fake/missing-fd", test_missing_fd);
	g_test_add_func("/vhost-user/fake/inflight", test_inflight);
	g_test_add_func("/vhost-user/fake/refused", test_refused);
	g_test_add_func("/vhost-user/fake/config-refused", test_config_refused);
	g_test_add_func("/vhost-user/fake/features", test_features);
	g_test_add_func("/vhost-user/fake/mem-slots", test_mem_slots);
	g_test_add_func("/vhost-user/fake/mem-table", test_mem_table);
	g_test_add_func("/vhost-user/fake/ram-without-fd", test_ram_without_fd);
	g_test_add_func("/vhost-user/fake/stop-wait", test_stop_wait);
	g_test_add_func("/vhost-user/fake/backend-channel",
			test_backend_channel);
	g_test_add_func("/vhost-user/fake/disconnect", test_disconnect);
	g_test_add_func("/vhost-user/fake/connect-errors", test_connect_errors);
	g_test_add_func("/vhost-user/fake/reconnect/restore",
			test_reconnect_restore);
	g_test_add_func("/vhost-user/fake/reconnect/fewer-features",
			test_reconnect_fewer_features);
	g_test_add_func("/vhost-user/fake/reconnect/reset",
			test_reconnect_reset);
	g_test_add_func("/vhost-user/fake/reconnect/out-of-order",
			test_reconnect_out_of_order);
	g_test_add_func("/vhost-user/fake/reconnect/inflight",
			test_reconnect_inflight);
	return g_test_run();
}
