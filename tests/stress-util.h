/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the stress tests share: errors reported from any thread (the first
 * one kept for the log, all counted) and a small deterministic generator.
 * Header-only: each test program includes it once.
 */
#ifndef LOOPBACK_STRESS_UTIL_H
#define LOOPBACK_STRESS_UTIL_H

#include <stdarg.h>
#include <stdint.h>

#include <glib.h>

static gint nerrors;
static gchar *first_error;

static void G_GNUC_PRINTF(1, 2) fail(const char *fmt, ...)
{
	va_list ap;
	gchar *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_atomic_int_inc(&nerrors);
	if (!g_atomic_pointer_compare_and_exchange(&first_error, NULL, msg))
		g_free(msg);
}

static void errors_reset(void)
{
	g_atomic_int_set(&nerrors, 0);
	g_free(g_atomic_pointer_exchange(&first_error, NULL));
}

static void assert_no_errors(void)
{
	if (g_atomic_int_get(&nerrors))
		g_test_message("first error: %s", first_error);
	g_assert_cmpint(g_atomic_int_get(&nerrors), ==, 0);
}

/* splitmix64: cheap, and the same sequence for the same seed everywhere */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif /* LOOPBACK_STRESS_UTIL_H */
