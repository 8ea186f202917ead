/* SPDX-License-Identifier: MIT */
/*
 * An LD_PRELOAD library for tests/cli/crash.sh (test-only, never installed): it kills the
 * process with SIGKILL just before its Nth "step", a call whose effect outlives a crash:
 * rename, renameat, link, linkat, unlink, unlinkat, rmdir, fsync, fdatasync. Every object
 * a store publishes is written, fsynced, renamed and its directory fsynced; every SQLite
 * commit (synchronous = FULL) ends with an fsync; gc and clean-ups unlink. Killing before
 * step N, for each N, walks a command through every state a crash can leave on disk, in
 * order, without timing luck.
 *   MVMS_CRASH_AT=N       SIGKILL before step N (counted over all threads, from 1)
 *   MVMS_CRASH_SIGNAL=INT SIGINT instead (what ^C sends); the thread that raised it waits
 *                         up to a second for it to end the process, then goes on (a
 *                         process that catches SIGINT is then seen to survive it)
 *   MVMS_CRASH_COUNT=FILE at exit, write the number of steps taken to FILE
 * The process's own code is untouched: the library wraps the libc calls it makes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long crash_at = -1;
static int crash_sig = SIGKILL;
static long steps;

__attribute__((constructor)) static void crashat_init(void)
{
	const char *at = getenv("MVMS_CRASH_AT");
	const char *sig = getenv("MVMS_CRASH_SIGNAL");

	if (at && *at)
		crash_at = strtol(at, NULL, 10);
	if (sig && strcmp(sig, "INT") == 0) {
		crash_sig = SIGINT;
		/* As ^C reaches a program run from a terminal: a test run started in the
		 * background of a non-interactive shell inherits SIGINT ignored (POSIX), and the
		 * push then ran on through it. The program's own handlers come later, in main. */
		signal(SIGINT, SIG_DFL);
	}
}

__attribute__((destructor)) static void crashat_fini(void)
{
	const char *path = getenv("MVMS_CRASH_COUNT");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%ld\n", __atomic_load_n(&steps, __ATOMIC_SEQ_CST));
		fclose(f);
	}
}

static void step(void)
{
	long n = __atomic_add_fetch(&steps, 1, __ATOMIC_SEQ_CST);

	if (n == crash_at) {
		struct timespec ms = { 0, 1000000 };
		int i;

		kill(getpid(), crash_sig);
		/* SIGINT may be taken by another thread: this one must not take the step
		 * while the process is going down. */
		for (i = 0; i < 1000; i++)
			nanosleep(&ms, NULL);
	}
}

/* The real function @name, looked up once. */
#define REAL(type, name, args)                                                  \
	static type(*real_##name) args;                                         \
	if (!real_##name)                                                       \
		*(void **)&real_##name = dlsym(RTLD_NEXT, #name)

int rename(const char *a, const char *b)
{
	REAL(int, rename, (const char *, const char *));
	step();
	return real_rename(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
	REAL(int, renameat, (int, const char *, int, const char *));
	step();
	return real_renameat(da, a, db, b);
}

int link(const char *a, const char *b)
{
	REAL(int, link, (const char *, const char *));
	step();
	return real_link(a, b);
}

int linkat(int da, const char *a, int db, const char *b, int flags)
{
	REAL(int, linkat, (int, const char *, int, const char *, int));
	step();
	return real_linkat(da, a, db, b, flags);
}

int unlink(const char *a)
{
	REAL(int, unlink, (const char *));
	step();
	return real_unlink(a);
}

int unlinkat(int d, const char *a, int flags)
{
	REAL(int, unlinkat, (int, const char *, int));
	step();
	return real_unlinkat(d, a, flags);
}

int rmdir(const char *a)
{
	REAL(int, rmdir, (const char *));
	step();
	return real_rmdir(a);
}

int fsync(int fd)
{
	REAL(int, fsync, (int));
	step();
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(int, fdatasync, (int));
	step();
	return real_fdatasync(fd);
}
