/* SPDX-License-Identifier: MIT */
/*
 * A tiny TAP producer for the unit tests (automake's tap-driver.sh reads it).
 * Usage: plan(N) or no plan and done_testing(); ok(cond, fmt, ...); is_int(a, b, name);
 * is_mem(a, b, len, name); skip(reason) for a test that cannot run here; diag(fmt, ...).
 * Exit status is non-zero on any failure.
 */
#ifndef MVMS_TAP_H
#define MVMS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/* One test that does not run here: "ok N # SKIP reason" (TAP's skip directive). */
static inline void skip(const char *reason)
{
	tap_n++;
	printf("ok %d # SKIP %s\n", tap_n, reason);
	fflush(stdout);
}

#define is_int(got, want, name)                                                      \
	do {                                                                         \
		long long g_ = (long long)(got), w_ = (long long)(want);             \
		if (!ok(g_ == w_, "%s", name))                                       \
			diag("got %lld, want %lld", g_, w_);                         \
	} while (0)

#define is_str(got, want, name)                                                      \
	do {                                                                         \
		const char *g_ = (got), *w_ = (want);                                \
		if (!ok(g_ && w_ && strcmp(g_, w_) == 0, "%s", name))                \
			diag("got '%s', want '%s'", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)

#define is_mem(got, want, len, name) ok(memcmp((got), (want), (len)) == 0, "%s", name)

static inline int done_testing(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_n);
	else if (tap_planned != tap_n)
		printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
	return (tap_failed || (tap_planned && tap_planned != tap_n)) ? 1 : 0;
}

#endif
