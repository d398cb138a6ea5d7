/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ThreadSanitizer support shared by the library and its tests: whether
 * this is a TSan build (LB_TSAN), and GMutex/GCond made visible to it.
 *
 * GLib's GMutex and GCond are futexes driven inside GLib, which is not
 * built with TSan, so TSan sees no happens-before edge between an unlock
 * and the next lock and reports races on everything they protect.  Here
 * each lock acquires the mutex's address and each unlock releases it,
 * which is the ordering a mutex gives; a GCond wait unlocks and relocks
 * the mutex inside GLib, so the wrapper releases before and acquires
 * after.  GMutexLocker (g_mutex_locker_new, and its g_autoptr cleanup) is
 * redirected to the same wrappers.  GRecMutex and GRWLock are pthread
 * objects, which TSan intercepts by itself.
 *
 * Include after <glib.h>: the macros replace the names from then on.
 */
#ifndef LOOPBACK_TSAN_H
#define LOOPBACK_TSAN_H

#include <glib.h>

/* GCC says __SANITIZE_THREAD__, clang answers __has_feature. */
#if defined(__SANITIZE_THREAD__)
#define LB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LB_TSAN 1
#endif
#endif

#ifdef LB_TSAN
/* From the TSan runtime (sanitizer/tsan_interface.h) */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

static inline void lb_tsan_mutex_lock(GMutex *m)
{
	(g_mutex_lock)(m);
	__tsan_acquire(m);
}

static inline gboolean lb_tsan_mutex_trylock(GMutex *m)
{
	if (!(g_mutex_trylock)(m))
		return FALSE;
	__tsan_acquire(m);
	return TRUE;
}

static inline void lb_tsan_mutex_unlock(GMutex *m)
{
	__tsan_release(m);
	(g_mutex_unlock)(m);
}

static inline void lb_tsan_cond_wait(GCond *c, GMutex *m)
{
	__tsan_release(m);
	(g_cond_wait)(c, m);
	__tsan_acquire(m);
}

static inline gboolean lb_tsan_cond_wait_until(GCond *c, GMutex *m,
					       gint64 end_time)
{
	gboolean r;

	__tsan_release(m);
	r = (g_cond_wait_until)(c, m, end_time);
	__tsan_acquire(m);
	return r;
}

static inline void lb_tsan_locker_cleanup(GMutexLocker **locker)
{
	if (*locker)
		lb_tsan_mutex_unlock((GMutex *)*locker);
}

#define g_mutex_lock(m) lb_tsan_mutex_lock(m)
#define g_mutex_trylock(m) lb_tsan_mutex_trylock(m)
#define g_mutex_unlock(m) lb_tsan_mutex_unlock(m)
#define g_cond_wait(c, m) lb_tsan_cond_wait((c), (m))
#define g_cond_wait_until(c, m, t) lb_tsan_cond_wait_until((c), (m), (t))
#define g_mutex_locker_new(m) \
	(lb_tsan_mutex_lock(m), (GMutexLocker *)(m))
#define g_mutex_locker_free(l) lb_tsan_mutex_unlock((GMutex *)(l))
#define glib_autoptr_cleanup_GMutexLocker lb_tsan_locker_cleanup
#endif /* LB_TSAN */

#endif /* LOOPBACK_TSAN_H */
