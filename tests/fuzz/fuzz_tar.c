/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the tar extractor of directory uploads (src/server/tar.c,
 * srv_tar_extract). Each input is extracted into a fresh directory under a per-process
 * temporary directory ($TMPDIR), which is then removed; the harness also checks that
 * nothing was made outside that directory and that only regular files and directories
 * came out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tar.h"

static char base[4096];
static char outdir[4200];
static unsigned long counter;
static int bad_type;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_SL || flag == FTW_SLN || (flag == FTW_F && !S_ISREG(sb->st_mode)))
		bad_type = 1;
	if (remove(path) < 0) {
		/* A directory extracted without write or search permission: open it up. */
		chmod(path, 0700);
		remove(path);
	}
	return 0;
}

static int open_up(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, 0700);
	(void)sb;
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, open_up, 16, FTW_PHYS);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

static void cleanup(void)
{
	if (base[0])
		remove_tree(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "%s/mvms-fuzz-tar.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(base)) {
		perror("fuzz_tar: mkdtemp");
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct stat sb;
	int rc;

	snprintf(outdir, sizeof(outdir), "%s/x%lu", base, counter++);
	if (mkdir(outdir, 0700) < 0) {
		perror("fuzz_tar: mkdir");
		abort();
	}
	memset(err, 'X', sizeof(err));
	rc = srv_tar_extract(data, size, outdir, err, sizeof(err));
	/* -1 with a one-line printable reason, or 0 with an empty one. */
	if ((rc != 0 && rc != -1) || !memchr(err, '\0', sizeof(err)) || (rc < 0 && !err[0]) ||
	    (rc == 0 && err[0]))
		__builtin_trap();
	for (size_t i = 0; err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
			__builtin_trap();
	bad_type = 0;
	remove_tree(outdir);
	if (rc == 0 && bad_type)
		__builtin_trap(); /* a symlink, device or FIFO came out of an accepted archive */
	/* Only the per-input directory may have been touched: once it is gone, the base
	 * directory is empty again. */
	if (stat(outdir, &sb) == 0 || !dir_empty(base))
		__builtin_trap();
	return 0;
}
