/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the upload tar extractor: archives from a small in-test ustar writer and
 * from the system tar (GNU, pax, ustar), every refusal, and a deterministic mutation loop
 * that must never crash or write outside the target directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "tar.h"

/* ---- an archive under construction ---- */

struct tb {
	unsigned char *p;
	size_t len, cap;
};

static void tb_put(struct tb *t, const void *d, size_t n)
{
	if (t->len + n > t->cap) {
		size_t nc = t->cap ? t->cap : 4096;
		while (nc < t->len + n)
			nc *= 2;
		t->p = realloc(t->p, nc);
		if (!t->p)
			abort();
		t->cap = nc;
	}
	if (n)
		memcpy(t->p + t->len, d, n);
	t->len += n;
}

static void tb_pad(struct tb *t)
{
	static const unsigned char zero[512];

	if (t->len % 512)
		tb_put(t, zero, 512 - t->len % 512);
}

static void tb_end(struct tb *t)
{
	static const unsigned char zero[1024];

	tb_put(t, zero, sizeof(zero));
}

static void tb_free(struct tb *t)
{
	free(t->p);
	t->p = NULL;
	t->len = t->cap = 0;
}

/* Fills the checksum field; @sign sums signed chars, as some old tars did. */
static void hdr_sum(unsigned char *h, int sign)
{
	long sum = 0;
	size_t i;

	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += sign ? (long)(signed char)h[i] : (long)h[i];
	{
		/* Through a wide buffer: the field holds 6 digits and a NUL (sums stay below 8^6). */
		char field[32];
		snprintf(field, sizeof(field), "%06lo", (unsigned long)sum);
		memcpy(h + 148, field, 7);
	}
}

/* A ustar header ("ustar\0" "00"), or v7 when @v7 (no magic at all). */
static void hdr_make(unsigned char *h, const char *name, char type, unsigned mode,
		     unsigned long long size, int v7)
{
	memset(h, 0, 512);
	memcpy(h, name, strlen(name) > 100 ? 100 : strlen(name));
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", 1000u);
	snprintf((char *)h + 116, 8, "%07o", 1000u);
	snprintf((char *)h + 124, 12, "%011llo", size);
	snprintf((char *)h + 136, 12, "%011o", 0u);
	h[156] = (unsigned char)type;
	if (!v7) {
		memcpy(h + 257, "ustar", 6);
		memcpy(h + 263, "00", 2);
	}
	hdr_sum(h, 0);
}

static void tb_entry(struct tb *t, const char *name, char type, unsigned mode, const void *d,
		     size_t n)
{
	unsigned char h[512];

	hdr_make(h, name, type, mode, n, 0);
	tb_put(t, h, 512);
	tb_put(t, d, n);
	tb_pad(t);
}

static void tb_file(struct tb *t, const char *name, const char *content)
{
	tb_entry(t, name, '0', 0644, content, strlen(content));
}

/* A pax 'x' header holding @records (already "LEN key=value\n" formatted), of length @n. */
static void tb_pax(struct tb *t, char type, const void *records, size_t n)
{
	tb_entry(t, "PaxHeaders/x", type, 0644, records, n);
}

/* Formats one pax record "LEN key=value\n" into @out (the length counts itself). */
static size_t pax_rec(char *out, const char *key, const char *val, size_t vlen)
{
	size_t body = strlen(key) + vlen + 3, total = body + 1, digits;

	for (;;) {
		char tmp[32];
		digits = (size_t)snprintf(tmp, sizeof(tmp), "%zu", total);
		if (body + digits == total)
			break;
		total = body + digits;
	}
	sprintf(out, "%zu %s=", total, key);
	memcpy(out + strlen(out), val, vlen);
	out[total - 1] = '\n';
	out[total] = '\0';
	return total;
}

/* ---- temp dirs ---- */

static void rm_rf(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &sb) < 0)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		unlink(path);
		return;
	}
	chmod(path, 0700);
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char child[8192];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
			rm_rf(child);
		}
		closedir(d);
	}
	rmdir(path);
}

/* Each extraction gets base/ (a fresh mkdtemp) and base/x/ as the target, so anything
 * written outside the target shows up as a second entry of base/. */
struct box {
	char base[256];
	char dir[300];
};

static void box_open(struct box *b)
{
	snprintf(b->base, sizeof(b->base), "%s/test-tar-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(b->base)) {
		perror("mkdtemp");
		exit(99);
	}
	snprintf(b->dir, sizeof(b->dir), "%s/x", b->base);
	if (mkdir(b->dir, 0755) < 0) {
		perror("mkdir");
		exit(99);
	}
}

static int box_count(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Nothing outside the target: base holds only "x", and "x" is still a plain directory. */
static int box_clean_outside(const struct box *b)
{
	struct stat sb;

	return box_count(b->base) == 1 && lstat(b->dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void box_close(struct box *b)
{
	rm_rf(b->base);
}

static int file_is(const struct box *b, const char *rel, const char *content, unsigned mode)
{
	char path[8192], buf[4096];
	struct stat sb;
	ssize_t n;
	int fd, good;

	snprintf(path, sizeof(path), "%s/%s", b->dir, rel);
	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	if ((sb.st_mode & 07777) != mode)
		return 0;
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	good = n >= 0 && (size_t)n == strlen(content) && !memcmp(buf, content, (size_t)n);
	return good;
}

static int is_dir(const struct box *b, const char *rel)
{
	char path[8192];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", b->dir, rel);
	return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* ---- good archives ---- */

static void test_good(void)
{
	struct tb t = {0};
	struct box b;
	char err[256];
	int rc;

	tb_entry(&t, "top/", '5', 0755, NULL, 0);
	tb_file(&t, "top/a.txt", "hello\n");
	tb_file(&t, "deep/er/still/b.bin", "bytes");
	tb_entry(&t, "run.sh", '0', 0750, "#!/bin/sh\n", 10);
	tb_entry(&t, "empty", '0', 0600, NULL, 0);
	tb_entry(&t, "contig", '7', 0644, "c", 1);
	tb_entry(&t, "nul-type", '\0', 0644, "n", 1);
	tb_entry(&t, "./dotted", '0', 0644, "d", 1);
	tb_entry(&t, "./", '5', 0755, NULL, 0);
	tb_entry(&t, "top", '5', 0755, NULL, 0);   /* a directory named twice is fine */
	tb_end(&t);
	box_open(&b);
	rc = srv_tar_extract(t.p, t.len, b.dir, err, sizeof(err));
	if (!ok(rc == 0, "ustar: extracts"))
		diag("%s", err);
	ok(file_is(&b, "top/a.txt", "hello\n", 0644), "file content and mode 0644");
	ok(file_is(&b, "deep/er/still/b.bin", "bytes", 0644), "parents created as needed");
	ok(is_dir(&b, "deep/er/still"), "nested directories");
	ok(file_is(&b, "run.sh", "#!/bin/sh\n", 0755), "an execute bit gives 0755");
	ok(file_is(&b, "empty", "", 0644), "empty file");
	ok(file_is(&b, "contig", "c", 0644), "typeflag '7' is a file");
	ok(file_is(&b, "nul-type", "n", 0644), "typeflag NUL is a file");
	ok(file_is(&b, "dotted", "d", 0644), "leading ./ stripped");
	ok(box_clean_outside(&b) && box_count(b.dir) == 7, "nothing else written");
	box_close(&b);
	tb_free(&t);

	/* ustar prefix + name, a v7 header, signed checksum, base-256 size, pax, GNU L. */
	{
		unsigned char h[512];
		char recs[8192], longp[300];
		size_t n;

		memset(longp, 0, sizeof(longp));
		hdr_make(h, "leaf.txt", '0', 0644, 3, 0);
		memcpy(h + 345, "pre/fix", 7);
		hdr_sum(h, 0);
		tb_put(&t, h, 512);
		tb_put(&t, "pfx", 3);
		tb_pad(&t);

		hdr_make(h, "v7file", '\0', 0644, 2, 1);
		tb_put(&t, h, 512);
		tb_put(&t, "v7", 2);
		tb_pad(&t);
		hdr_make(h, "v7dir/", '\0', 0755, 0, 1);
		tb_put(&t, h, 512);

		hdr_make(h, "caf\xc3\xa9", '0', 0644, 1, 0);
		hdr_sum(h, 1);
		tb_put(&t, h, 512);
		tb_put(&t, "s", 1);
		tb_pad(&t);

		hdr_make(h, "b256", '0', 0644, 0, 0);
		memset(h + 124, 0, 12);
		h[124] = 0x80;
		h[135] = 4;
		hdr_sum(h, 0);
		tb_put(&t, h, 512);
		tb_put(&t, "base", 4);
		tb_pad(&t);

		/* pax path= longer than 100 and size= overriding a wrong header size. */
		memset(longp, 'p', 150);
		memcpy(longp + 40, "/", 1);
		n = pax_rec(recs, "path", longp, strlen(longp));
		n += pax_rec(recs + n, "mtime", "12345.5", 7);
		n += pax_rec(recs + n, "size", "4", 1);
		tb_pax(&t, 'x', recs, n);
		hdr_make(h, "truncated-name", '0', 0644, 9, 0);
		tb_put(&t, h, 512);
		tb_put(&t, "pax!", 4);
		tb_pad(&t);

		n = pax_rec(recs, "comment", "global, ignored", 15);
		n += pax_rec(recs + n, "path", "ignored", 7);
		tb_pax(&t, 'g', recs, n);

		memset(longp, 0, sizeof(longp));
		memset(longp, 'g', 120);
		longp[60] = '/';
		tb_entry(&t, "././@LongLink", 'L', 0644, longp, strlen(longp) + 1);
		tb_file(&t, "short", "gnu");
		tb_end(&t);
		/* End of data after one zero block is an end too. */
		box_open(&b);
		rc = srv_tar_extract(t.p, t.len - 512, b.dir, err, sizeof(err));
		if (!ok(rc == 0, "ustar prefix, v7, signed sum, base-256, pax, GNU L: extracts"))
			diag("%s", err);
		ok(file_is(&b, "pre/fix/leaf.txt", "pfx", 0644), "ustar prefix joined with '/'");
		ok(file_is(&b, "v7file", "v7", 0644), "v7 header");
		ok(is_dir(&b, "v7dir"), "v7 directory by trailing slash");
		ok(file_is(&b, "caf\xc3\xa9", "s", 0644), "signed-sum checksum accepted");
		ok(file_is(&b, "b256", "base", 0644), "base-256 size");
		memset(longp, 'p', 150);
		longp[150] = 0;
		longp[40] = '/';
		ok(file_is(&b, longp, "pax!", 0644), "pax path= and size=");
		memset(longp, 'g', 120);
		longp[120] = 0;
		longp[60] = '/';
		ok(file_is(&b, longp, "gnu", 0644), "GNU 'L' long name");
		ok(box_clean_outside(&b) && box_count(b.dir) == 7, "pax 'g' ignored, nothing else written");
		box_close(&b);
		tb_free(&t);
	}

	/* An empty archive extracts nothing; zero padding after the end is ignored. */
	{
		unsigned char z[10240] = {0};
		box_open(&b);
		rc = srv_tar_extract(z, sizeof(z), b.dir, err, sizeof(err));
		ok(rc == 0 && box_count(b.dir) == 0, "empty archive with record padding");
		box_close(&b);
	}
}

/* ---- refusals ---- */

static void expect_refused(struct tb *t, const char *name, const char *want)
{
	struct box b;
	char err[256] = "";
	int rc;

	box_open(&b);
	rc = srv_tar_extract(t->p, t->len, b.dir, err, sizeof(err));
	if (!ok(rc == -1 && err[0] && (!want || strstr(err, want)) && box_clean_outside(&b),
		"refused: %s", name))
		diag("rc %d, err '%s'", rc, err);
	else
		diag("%s", err);
	box_close(&b);
	tb_free(t);
}

static void test_refusals(void)
{
	struct tb t = {0};
	unsigned char h[512];
	char recs[256];
	size_t n;

	tb_file(&t, "ok", "x");
	tb_entry(&t, "link", '2', 0777, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "symlink", "symlink");

	tb_file(&t, "ok", "x");
	tb_entry(&t, "hard", '1', 0644, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "hard link", "hard link");

	tb_entry(&t, "cdev", '3', 0644, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "character device", "device");

	tb_entry(&t, "bdev", '4', 0644, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "block device", "device");

	tb_entry(&t, "fifo", '6', 0644, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "FIFO", "FIFO");

	tb_entry(&t, "sparse", 'S', 0644, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "unknown typeflag 'S'", "type");

	tb_file(&t, "/etc/evil", "x");
	tb_end(&t);
	expect_refused(&t, "absolute path", "absolute");

	tb_file(&t, "../x", "x");
	tb_end(&t);
	expect_refused(&t, "../x", "..");

	tb_file(&t, "a/../../x", "x");
	tb_end(&t);
	expect_refused(&t, "a/../../x", "..");

	tb_entry(&t, "..", '5', 0755, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "directory ..", "..");

	tb_file(&t, "a//b", "x");
	tb_end(&t);
	expect_refused(&t, "empty component", "empty");

	tb_file(&t, "a\\..\\x", "x");
	tb_end(&t);
	expect_refused(&t, "backslash", "backslash");

	n = pax_rec(recs, "path", "ok\0../../x", 10);
	tb_pax(&t, 'x', recs, n);
	tb_file(&t, "name", "x");
	tb_end(&t);
	expect_refused(&t, "NUL in pax path", "NUL");

	n = pax_rec(recs, "path", "../pax-escape", 13);
	tb_pax(&t, 'x', recs, n);
	tb_file(&t, "name", "x");
	tb_end(&t);
	expect_refused(&t, "pax path with ..", "..");

	tb_entry(&t, "././@LongLink", 'L', 0644, "/abs/gnu\0", 9);
	tb_file(&t, "short", "x");
	tb_end(&t);
	expect_refused(&t, "absolute GNU long name", "absolute");

	{
		char big[5000];
		memset(big, 'a', sizeof(big));
		for (n = 100; n < sizeof(big); n += 100)
			big[n] = '/';
		tb_entry(&t, "././@LongLink", 'L', 0644, big, sizeof(big));
		tb_file(&t, "short", "x");
		tb_end(&t);
		expect_refused(&t, "path longer than 4096", "4096");
	}

	tb_file(&t, "dup", "one");
	tb_file(&t, "dup", "two");
	tb_end(&t);
	expect_refused(&t, "file written twice", "twice");

	tb_file(&t, "a/dup", "one");
	tb_file(&t, "./a/dup", "two");
	tb_end(&t);
	expect_refused(&t, "file written twice via ./", "twice");

	tb_file(&t, "a", "file");
	tb_file(&t, "a/b", "under a file");
	tb_end(&t);
	expect_refused(&t, "file then file below it", "both");

	tb_file(&t, "a/b", "x");
	tb_file(&t, "a", "file over dir");
	tb_end(&t);
	expect_refused(&t, "directory then file of the same name", "both");

	tb_file(&t, "a", "x");
	tb_entry(&t, "a/", '5', 0755, NULL, 0);
	tb_end(&t);
	expect_refused(&t, "file then directory of the same name", "both");

	tb_file(&t, "ok", "x");
	tb_end(&t);
	t.p[148] ^= 1;
	expect_refused(&t, "bad checksum", "checksum");

	tb_file(&t, "ok", "x");
	tb_end(&t);
	t.p[10] = 'Z';  /* content changed after the sum was computed */
	expect_refused(&t, "bad checksum (name changed)", "checksum");

	tb_file(&t, "ok", "x");
	tb_end(&t);
	t.len = 300;
	expect_refused(&t, "truncated header", "truncated tar");

	{
		char body[1000];
		memset(body, 'b', sizeof(body));
		tb_entry(&t, "big", '0', 0644, body, sizeof(body));
		t.len = 512 + 700;
		expect_refused(&t, "truncated body", "truncated tar");
	}

	tb_file(&t, "ok", "x");
	t.len = 1024;  /* the archive stops after the body, with no zero block */
	expect_refused(&t, "no end-of-archive blocks", "truncated tar");

	hdr_make(h, "huge", '0', 0644, 0, 0);
	memcpy(h + 124, "77777777777", 11);
	hdr_sum(h, 0);
	tb_put(&t, h, 512);
	tb_end(&t);
	expect_refused(&t, "size beyond the data (octal)", "truncated tar");

	hdr_make(h, "huge", '0', 0644, 0, 0);
	memset(h + 124, 0xff, 12);
	h[124] = 0x80;
	hdr_sum(h, 0);
	tb_put(&t, h, 512);
	tb_end(&t);
	expect_refused(&t, "size overflowing 64 bits (base-256)", "size");

	hdr_make(h, "neg", '0', 0644, 0, 0);
	memset(h + 124, 0xff, 12);
	hdr_sum(h, 0);
	tb_put(&t, h, 512);
	tb_end(&t);
	expect_refused(&t, "negative base-256 size", "size");

	n = pax_rec(recs, "size", "18446744073709551616", 20);
	tb_pax(&t, 'x', recs, n);
	tb_file(&t, "name", "x");
	tb_end(&t);
	expect_refused(&t, "pax size overflowing 64 bits", "pax size");

	n = pax_rec(recs, "size", "18446744073709551615", 20);
	tb_pax(&t, 'x', recs, n);
	tb_file(&t, "name", "x");
	tb_end(&t);
	expect_refused(&t, "pax size beyond the data", "truncated tar");

	tb_pax(&t, 'x', "99999999999999999999999 path=x\n", 31);
	tb_file(&t, "name", "x");
	tb_end(&t);
	expect_refused(&t, "pax record length overflowing", "pax");

	tb_pax(&t, 'x', "5 path=x\n", 9);
	tb_file(&t, "name", "x");
	tb_end(&t);
	expect_refused(&t, "malformed pax record", "pax");

	n = pax_rec(recs, "path", "x", 1);
	tb_pax(&t, 'x', recs, n);
	tb_end(&t);
	expect_refused(&t, "extended header with no entry", "extended");

	tb_file(&t, "ok", "x");
	{
		unsigned char z[512] = {0};
		tb_put(&t, z, 512);
	}
	tb_file(&t, "after", "x");
	tb_end(&t);
	expect_refused(&t, "lone zero block before more headers", "zero block");

	{
		unsigned char g[2048];
		size_t i;
		for (i = 0; i < sizeof(g); i++)
			g[i] = (unsigned char)(i * 131 + 7);
		tb_put(&t, g, sizeof(g));
		expect_refused(&t, "garbage bytes", NULL);
		tb_put(&t, "not a tar at all", 16);
		expect_refused(&t, "short garbage", "truncated tar");
	}
	{
		struct box b;
		char err[256] = "";
		box_open(&b);
		ok(srv_tar_extract((const unsigned char *)"", 0, b.dir, err, sizeof(err)) == -1 && err[0],
		   "refused: empty input");
		box_close(&b);
		box_open(&b);
		ok(srv_tar_extract(NULL, 0, b.dir, err, sizeof(err)) == -1 && err[0],
		   "refused: no data at all");
		box_close(&b);
	}
}

/* ---- archives from the system tar ---- */

static void write_at(const char *root, const char *rel, const char *content, mode_t mode)
{
	char path[8192], *s;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (s = path + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		perror(path);
		exit(99);
	}
	close(fd);
	chmod(path, mode);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1)) != NULL && fread(p, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static const char *long_rel =
	"long/a-directory-with-a-rather-long-name-0123456789/another-long-directory-name-abcdefghij/"
	"file-with-a-long-name-too.txt";

static unsigned char *sys_archive; /* a GNU-format archive, reused by the mutation loop */
static size_t sys_archive_len;

static void test_system_tar(void)
{
	static const char *formats[] = { "gnu", "pax", "ustar" };
	struct box src;
	char cmd[1024], tarfile[400];
	size_t i;

	if (system("tar --version >/dev/null 2>&1") != 0) {
		skip("no tar command");
		return;
	}
	box_open(&src);
	write_at(src.dir, "a/b/c/nested.txt", "nested\n", 0644);
	write_at(src.dir, "a/empty", "", 0644);
	write_at(src.dir, "bin/tool", "#!/bin/sh\necho hi\n", 0755);
	write_at(src.dir, long_rel, "long\n", 0640);
	mkdir(strcat(strcpy(cmd, src.dir), "/emptydir"), 0755);
	ok(strlen(long_rel) > 100, "the long path is longer than 100 bytes");
	snprintf(tarfile, sizeof(tarfile), "%s/out.tar", src.base);

	for (i = 0; i < sizeof(formats) / sizeof(*formats); i++) {
		size_t len = 0;
		unsigned char *data;
		struct box b;
		char err[256] = "";
		int rc, j;

		for (j = 0; j < 2; j++) {
			/* "." names entries "./a/..."; listing names them "a/...". */
			snprintf(cmd, sizeof(cmd), "tar --format=%s -C '%s' -cf '%s' %s 2>/dev/null",
				 formats[i], src.dir, tarfile, j ? "a bin long emptydir" : ".");
			if (system(cmd) != 0 || !(data = slurp(tarfile, &len))) {
				ok(0, "tar --format=%s", formats[i]);
				continue;
			}
			box_open(&b);
			rc = srv_tar_extract(data, len, b.dir, err, sizeof(err));
			if (!ok(rc == 0, "system tar --format=%s (%s): extracts", formats[i],
				j ? "names" : "."))
				diag("%s", err);
			ok(file_is(&b, "a/b/c/nested.txt", "nested\n", 0644) &&
			   file_is(&b, "a/empty", "", 0644) &&
			   file_is(&b, "bin/tool", "#!/bin/sh\necho hi\n", 0755) &&
			   file_is(&b, long_rel, "long\n", 0644) && is_dir(&b, "emptydir") &&
			   box_count(b.dir) == 4 && box_clean_outside(&b),
			   "system tar --format=%s (%s): contents, modes, long path", formats[i],
			   j ? "names" : ".");
			box_close(&b);
			if (i == 0 && j == 0) {
				sys_archive = data;
				sys_archive_len = len;
			} else {
				free(data);
			}
		}
	}

	/* A symlink made by the real tar is refused too. */
	{
		size_t len = 0;
		unsigned char *data;
		char lpath[600];
		snprintf(lpath, sizeof(lpath), "%s/bin/link", src.dir);
		if (symlink("../../../etc/passwd", lpath) == 0) {
			snprintf(cmd, sizeof(cmd), "tar -C '%s' -cf '%s' . 2>/dev/null", src.dir,
				 tarfile);
			if (system(cmd) == 0 && (data = slurp(tarfile, &len))) {
				struct tb t = { data, len, len };
				expect_refused(&t, "symlink from system tar", "symlink");
			} else {
				ok(0, "tar with a symlink");
			}
		}
	}
	box_close(&src);
}

/* ---- mutations ---- */

#ifndef MUTATION_ROUNDS
#define MUTATION_ROUNDS 3000  /* about a second under ASan; -DMUTATION_ROUNDS=N for more */
#endif
#ifndef MUTATION_SEED
#define MUTATION_SEED 0x9e3779b97f4a7c15ull
#endif

static uint64_t rng_state = MUTATION_SEED;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure replays with the same iteration. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_mutations(void)
{
	struct tb base = {0};
	unsigned char *buf;
	char recs[512];
	size_t n, i, bad = 0, outside = 0, accepted = 0;
	const int rounds = MUTATION_ROUNDS;
	int k;

	tb_entry(&base, "d/", '5', 0755, NULL, 0);
	tb_file(&base, "d/one", "first file");
	n = pax_rec(recs, "path", "d/e/pax-name", 12);
	n += pax_rec(recs + n, "size", "3", 1);
	tb_pax(&base, 'x', recs, n);
	tb_file(&base, "short", "abc");
	tb_entry(&base, "././@LongLink", 'L', 0644, "g/long-name\0", 12);
	tb_entry(&base, "x", '0', 0755, "#!", 2);
	tb_end(&base);

	for (k = 0; k < rounds; k++) {
		const unsigned char *src = base.p;
		size_t len = base.len, flips;
		struct box b;
		char err[256];
		int rc;

		if (sys_archive && (k & 1)) {
			src = sys_archive;
			len = sys_archive_len;
		}
		buf = malloc(len);
		memcpy(buf, src, len);
		switch (rng() % 4) {
		case 0:  /* truncate anywhere */
			len = (size_t)(rng() % (len + 1));
			break;
		case 1:  /* flip a few bytes anywhere */
			for (flips = 1 + rng() % 4; flips > 0; flips--)
				buf[rng() % len] ^= (unsigned char)(1 + rng() % 255);
			break;
		default: /* hit a header field, then fix the checksum so the parser goes deeper */
			for (i = 0; i + 512 <= len; i += 512) {
				if (memcmp(buf + i + 257, "ustar", 5) || rng() % 2)
					continue;
				buf[i + rng() % 512] = (unsigned char)rng();
				if (rng() % 4)
					hdr_sum(buf + i, 0);
			}
			if (rng() % 3 == 0)
				buf[1024 + rng() % (len - 1024)] = (unsigned char)rng();
			break;
		}
		box_open(&b);
		err[0] = '\0';
		rc = srv_tar_extract(buf, len, b.dir, err, sizeof(err));
		if (!(rc == 0 || (rc == -1 && err[0])) || strchr(err, '\n')) {
			if (bad++ < 5)
				diag("round %d: rc %d err '%s'", k, rc, err);
		}
		if (!box_clean_outside(&b) && outside++ < 5)
			diag("round %d wrote outside the directory", k);
		accepted += rc == 0;
		box_close(&b);
		free(buf);
	}
	diag("%d mutations: %zu extracted, %zu refused", rounds, accepted, rounds - accepted);
	ok(bad == 0, "mutations: every result is 0, or -1 with a one-line reason");
	ok(outside == 0, "mutations: nothing written outside the directory");
	ok(accepted > 0 && accepted < (size_t)rounds, "mutations: some extract, some are refused");
	tb_free(&base);
}

/* 100000 entries pass, one more is refused (a directory named again and again: cheap). */
static void test_entry_limit(void)
{
	struct tb t = {0};
	unsigned char h[512];
	struct box b;
	char err[256] = "";
	int i, rc;

	hdr_make(h, "d/", '5', 0755, 0, 0);
	for (i = 0; i < 100000; i++)
		tb_put(&t, h, 512);
	tb_end(&t);
	box_open(&b);
	rc = srv_tar_extract(t.p, t.len, b.dir, err, sizeof(err));
	if (!ok(rc == 0 && is_dir(&b, "d"), "100000 entries accepted"))
		diag("%s", err);
	box_close(&b);
	t.len -= 1024;
	tb_put(&t, h, 512);
	tb_end(&t);
	expect_refused(&t, "100001 entries", "100000");
}

static int fd_count(void)
{
	return box_count("/proc/self/fd");
}

int main(void)
{
	int fds;

	umask(022);
	fds = fd_count();
	test_good();
	test_refusals();
	test_entry_limit();
	test_system_tar();
	test_mutations();
	ok(fds < 0 || fd_count() == fds, "no file descriptor leaked");
	free(sys_archive);
	return done_testing();
}
