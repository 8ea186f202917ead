/* SPDX-License-Identifier: MIT */
/*
 * Temporary-directory helpers for the unit tests: remove a tree, count a directory's
 * entries. Not for trees the test made read-only (test-tar.c has its own, which chmods).
 */
#ifndef MVMS_TESTFS_H
#define MVMS_TESTFS_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static int testfs_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void rm_rf(const char *dir)
{
	nftw(dir, testfs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Entries in a directory other than "." and ".."; -1 if it cannot be opened. */
static inline int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The age age_tree gives, for its nftw callback (tests are single-threaded here). */
static int64_t testfs_age_by;

static int testfs_age_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	struct timeval tv[2];

	(void)sb;
	(void)flag;
	(void)ftw;
	tv[0].tv_sec = tv[1].tv_sec = (time_t)(time(NULL) - testfs_age_by);
	tv[0].tv_usec = tv[1].tv_usec = 0;
	utimes(path, tv);
	return 0;
}

/* Makes every file and directory under @dir look written @secs ago (mtime and atime). */
static inline void age_tree(const char *dir, int64_t secs)
{
	testfs_age_by = secs;
	nftw(dir, testfs_age_one, 16, FTW_PHYS);
}

#endif
