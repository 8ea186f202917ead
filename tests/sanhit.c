/* SPDX-License-Identifier: MIT */
/*
 * A deliberate sanitizer trip for tests/cli/sanitizers.sh, which checks that the CLI test
 * helpers (tests/cli/lib.sh, srv.sh) fail a test on a sanitizer report whatever the exit
 * code. Test-only (check_PROGRAMS): the product itself has no such trigger.
 *   sanhit probe          prints "asan" when built with AddressSanitizer, else "none"
 *   sanhit ok             exits 0, says nothing
 *   sanhit heap           writes one byte past a heap block
 *   sanhit leak           loses a heap block, exits 0 (LeakSanitizer reports at exit)
 *   sanhit ub             overflows a signed int (UBSan)
 *   sanhit term-leak FILE / term-ub FILE   a stand-in server: writes FILE once its SIGTERM
 *                         handler is set, waits for SIGTERM, then leaks (or overflows) on
 *                         its way out
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANHIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANHIT_ASAN 1
#endif
#endif

static volatile sig_atomic_t stop;
static void *volatile lost;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Through memset, which ASan checks and UBSan's object-size check does not see. */
static int heap(void)
{
	volatile size_t n = 9;
	char *p = malloc(8);

	if (!p)
		return 2;
	memset(p, 1, n); /* one byte past the end */
	n = (size_t)p[0]; /* a use, so that the compiler keeps the memset */
	free(p);
	return n == 1 ? 0 : 3;
}

static int leak(void)
{
	char *p = malloc(100);

	if (!p)
		return 2;
	memset(p, 1, 100);
	lost = p;
	lost = NULL; /* no pointer left: a leak */
	return 0;
}

static int ub(void)
{
	volatile int x = INT_MAX, one = 1;
	int y = x + one; /* signed overflow */

	return y == 0;
}

/* Waits for SIGTERM (FILE tells the test the handler is set), then trips on its way out. */
static int server(const char *ready, int (*trip)(void))
{
	struct sigaction sa;
	FILE *f;
	int n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	f = fopen(ready, "w");
	if (!f || fclose(f) != 0)
		return 2;
	for (n = 0; !stop && n < 600; n++) /* bounded: 60 s */
		usleep(100000);
	return trip();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "probe") == 0) {
#ifdef SANHIT_ASAN
		puts("asan");
#else
		puts("none");
#endif
		return 0;
	}
	if (strcmp(mode, "ok") == 0)
		return 0;
	if (strcmp(mode, "heap") == 0)
		return heap();
	if (strcmp(mode, "leak") == 0)
		return leak();
	if (strcmp(mode, "ub") == 0)
		return ub();
	if (strcmp(mode, "term-leak") == 0 && argc > 2)
		return server(argv[2], leak);
	if (strcmp(mode, "term-ub") == 0 && argc > 2)
		return server(argv[2], ub);
	fprintf(stderr, "usage: sanhit probe|ok|heap|leak|ub|term-leak FILE|term-ub FILE\n");
	return 2;
}
