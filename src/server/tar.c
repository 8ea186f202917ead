/* SPDX-License-Identifier: MIT */
/*
 * Extracts a tar held in memory (POSIX ustar, GNU long names and base-256 sizes, pax path=
 * and size=, old v7) into a fresh empty directory, for one-request directory uploads. Only
 * regular files and directories come out: links, devices, FIFOs, unsafe paths, duplicates and
 * malformed input fail the whole archive with a one-line reason. It does not clean up after a
 * failure (the caller removes the directory), nor restore owners, times or sparse files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tar.h"

#define BLOCK 512                /* tar's unit: every header and every padded body */
#define MAX_PATH_LEN 4096        /* longest accepted path, in bytes (Linux PATH_MAX) */
#define MAX_NAME_LEN 255         /* longest path component (Linux NAME_MAX) */
#define MAX_ENTRIES 100000       /* files and directories in one archive */
#define WRITE_PIECE (1u << 30)   /* bytes per write(2): Linux caps one call near 2 GiB */

/* Header field offsets and widths (POSIX ustar; v7 and GNU share the first 257 bytes). */
#define H_NAME 0
#define H_NAME_LEN 100
#define H_MODE 100
#define H_MODE_LEN 8
#define H_SIZE 124
#define H_SIZE_LEN 12
#define H_CHKSUM 148
#define H_CHKSUM_LEN 8
#define H_TYPE 156
#define H_MAGIC 257
#define H_PREFIX 345
#define H_PREFIX_LEN 155

/* What 'x' (pax) and 'L' (GNU) headers say about the entry that follows them. */
struct meta {
	int pending;                     /* some extended header is waiting for its entry */
	int has_pax_path;
	int has_gnu_path;
	int has_pax_size;
	uint64_t pax_size;
	size_t pax_path_len;
	size_t gnu_path_len;
	char pax_path[MAX_PATH_LEN + 1];
	char gnu_path[MAX_PATH_LEN + 1];
};

/* Formats the reason into @err and returns -1. Control and non-ASCII bytes (which come
 * from hostile names) become '?' so that the reason stays one printable line. */
static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	if (!err || !errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (i = 0; err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
			err[i] = '?';
	if (!err[0])
		snprintf(err, errlen, "tar: error");
	return -1;
}

static int is_zero_block(const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* A numeric header field: octal digits after optional spaces, ended by spaces or NULs (or
 * filling the field), or with @b256 GNU's base-256 form, flagged by the top bit of the first
 * byte. An empty field reads as 0; negative and too-large values are errors. */
static int parse_num(uint64_t *out, const unsigned char *f, size_t n, int b256)
{
	uint64_t v = 0;
	size_t i = 0;
	int error = 0;

	if (b256 && (f[0] & 0x80)) {
		/* 0xff-style fields are negative (0x40 is the sign bit): no size is negative. */
		if (f[0] & 0x40) {
			error = -1;
			goto done;
		}
		v = f[0] & 0x3f;
		for (i = 1; i < n; i++) {
			if (v >> 56) {
				error = -1;
				goto done;
			}
			v = (v << 8) | f[i];
		}
		goto done;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 61) {
			error = -1;
			goto done;
		}
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	while (i < n && (f[i] == ' ' || f[i] == '\0'))
		i++;
	if (i != n)
		error = -1;
done:
	if (!error)
		*out = v;
	return error;
}

/* The checksum is the sum of the header's bytes with the checksum field read as spaces.
 * Some old tars summed signed chars; both sums are accepted, as GNU tar does. */
static int checksum_ok(const unsigned char *h)
{
	uint64_t want;
	long usum = 0, ssum = 0;
	size_t i;

	if (parse_num(&want, h + H_CHKSUM, H_CHKSUM_LEN, 0) < 0)
		return 0;
	for (i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= H_CHKSUM && i < H_CHKSUM + H_CHKSUM_LEN) ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	return (uint64_t)usum == want || (ssum >= 0 && (uint64_t)ssum == want);
}

/* Reads pax records "LEN key=value\n" (LEN counts the whole record). Only path= and size=
 * matter here; an empty value cancels the keyword, as POSIX says. Sparse files are
 * refused: their data would be stored as the sparse map, not as the file. */
static int parse_pax(struct meta *m, const unsigned char *p, size_t n, char *err, size_t errlen)
{
	const unsigned char *end = p + n;
	int error = 0;

	while (p < end) {
		const unsigned char *q = p, *key, *eq, *val, *rec_end;
		size_t reclen = 0, keylen, vlen;

		/* Some writers pad the records with NULs up to the stated size. */
		if (*p == '\0')
			break;
		for (; q < end && *q >= '0' && *q <= '9'; q++) {
			if (reclen > (SIZE_MAX - 9) / 10) {
				error = fail(err, errlen, "tar: pax record length overflows");
				goto done;
			}
			reclen = reclen * 10 + (size_t)(*q - '0');
		}
		if (q == p || q == end || *q != ' ' || reclen > (size_t)(end - p) ||
		    reclen < (size_t)(q - p) + 3) {
			error = fail(err, errlen, "tar: malformed pax record");
			goto done;
		}
		rec_end = p + reclen;
		key = q + 1;
		if (rec_end[-1] != '\n' || !(eq = memchr(key, '=', (size_t)(rec_end - 1 - key))) ||
		    eq == key) {
			error = fail(err, errlen, "tar: malformed pax record");
			goto done;
		}
		keylen = (size_t)(eq - key);
		val = eq + 1;
		vlen = (size_t)(rec_end - 1 - val);
		if (keylen == 4 && !memcmp(key, "path", 4)) {
			if (memchr(val, '\0', vlen)) {
				error = fail(err, errlen, "tar: pax path contains a NUL byte");
				goto done;
			}
			if (vlen > MAX_PATH_LEN) {
				error = fail(err, errlen, "tar: path longer than %d bytes", MAX_PATH_LEN);
				goto done;
			}
			memcpy(m->pax_path, val, vlen);
			m->pax_path[vlen] = '\0';
			m->pax_path_len = vlen;
			m->has_pax_path = vlen > 0;
		} else if (keylen == 4 && !memcmp(key, "size", 4)) {
			uint64_t v = 0;
			size_t i;
			for (i = 0; i < vlen; i++) {
				if (val[i] < '0' || val[i] > '9' ||
				    v > (UINT64_MAX - (uint64_t)(val[i] - '0')) / 10) {
					error = fail(err, errlen, "tar: bad pax size '%.*s'",
						     (int)(vlen > 40 ? 40 : vlen), (const char *)val);
					goto done;
				}
				v = v * 10 + (uint64_t)(val[i] - '0');
			}
			m->pax_size = v;
			m->has_pax_size = vlen > 0;
		} else if (keylen > 11 && !memcmp(key, "GNU.sparse.", 11)) {
			error = fail(err, errlen, "tar: sparse files are not supported");
			goto done;
		}
		p = rec_end;
	}
done:
	return error;
}

/* Checks @raw and writes the path to create into @out (at least MAX_PATH_LEN + 1 bytes):
 * relative, leading "./" stripped, one trailing '/' dropped (*slash set), and otherwise no
 * empty, "." or ".." component and no backslash. An empty @out names @dir itself. */
static int clean_path(char *out, int *slash, const char *raw, size_t rawlen, char *err,
		      size_t errlen)
{
	const char *p = raw, *end = raw + rawlen, *c;
	int error = 0;

	*slash = rawlen > 0 && raw[rawlen - 1] == '/';
	if (rawlen == 0) {
		error = fail(err, errlen, "tar: entry with an empty name");
		goto done;
	}
	if (rawlen > MAX_PATH_LEN) {
		error = fail(err, errlen, "tar: path longer than %d bytes", MAX_PATH_LEN);
		goto done;
	}
	if (memchr(raw, '\\', rawlen)) {
		error = fail(err, errlen, "tar: path '%.100s' contains a backslash", raw);
		goto done;
	}
	if (raw[0] == '/') {
		error = fail(err, errlen, "tar: absolute path '%.100s'", raw);
		goto done;
	}
	/* tar -C d -cf x . names everything "./..."; that prefix (and "." itself) means @dir. */
	while (end - p >= 2 && p[0] == '.' && p[1] == '/')
		p += 2;
	if (end - p == 1 && p[0] == '.')
		p = end;
	if (p < end && end[-1] == '/')
		end--;
	/* Each component, the last one included: "a//b" and "a/b//" show an empty one. */
	for (c = p; c < end; ) {
		const char *s = memchr(c, '/', (size_t)(end - c));
		size_t n = (size_t)((s ? s : end) - c);
		if (n == 0 || (n == 1 && c[0] == '.')) {
			error = fail(err, errlen, "tar: path '%.100s' has an empty or '.' component", raw);
			goto done;
		}
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			error = fail(err, errlen, "tar: path '%.100s' contains '..'", raw);
			goto done;
		}
		if (n > MAX_NAME_LEN) {
			error = fail(err, errlen, "tar: a name in '%.100s' is longer than %d bytes", raw,
				     MAX_NAME_LEN);
			goto done;
		}
		if (!s)
			break;
		if (s + 1 == end) {
			error = fail(err, errlen, "tar: path '%.100s' has an empty or '.' component", raw);
			goto done;
		}
		c = s + 1;
	}
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
done:
	return error;
}

/* Opens (creating as needed, mode 0755) every directory of @path but the last component,
 * one component at a time with O_NOFOLLOW, so nothing resolves outside @rootfd. *out is
 * the parent's fd (@rootfd itself for a top-level name) and *last its final component. */
static int open_parent(int *out, const char **last, int rootfd, const char *path, char *err,
		       size_t errlen)
{
	char comp[MAX_NAME_LEN + 1];
	const char *p = path, *s;
	int cur = rootfd, next, error = 0;

	while ((s = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(s - p);
		memcpy(comp, p, n);  /* n <= MAX_NAME_LEN: clean_path checked every component */
		comp[n] = '\0';
		next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
				error = fail(err, errlen, "tar: mkdir '%.*s': %s", (int)(s - path), path,
					     strerror(errno));
				goto done;
			}
			next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			if (errno == ENOTDIR || errno == ELOOP)
				error = fail(err, errlen, "tar: '%.*s' is both a file and a directory",
					     (int)(s - path > 100 ? 100 : s - path), path);
			else
				error = fail(err, errlen, "tar: open '%.*s': %s",
					     (int)(s - path > 100 ? 100 : s - path), path, strerror(errno));
			goto done;
		}
		if (cur != rootfd)
			close(cur);
		cur = next;
		p = s + 1;
	}
	*last = p;
	*out = cur;
done:
	if (error < 0 && cur != rootfd)
		close(cur);
	return error;
}

/* Explains an EEXIST on @name: a second copy of a file, or a file where a directory is. */
static int explain_exists(int parent, const char *name, const char *path, int want_dir,
			  char *err, size_t errlen)
{
	struct stat sb;
	int is_dir = fstatat(parent, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);

	if (want_dir && is_dir)
		return 0;
	if (!want_dir && !is_dir)
		return fail(err, errlen, "tar: file '%.100s' appears twice", path);
	return fail(err, errlen, "tar: '%.100s' is both a file and a directory", path);
}

static int make_dir(int rootfd, const char *path, char *err, size_t errlen)
{
	const char *name;
	int parent = -1, error = 0;

	if (!*path)
		goto done;
	if ((error = open_parent(&parent, &name, rootfd, path, err, errlen)) < 0)
		goto done;
	if (mkdirat(parent, name, 0755) < 0) {
		if (errno == EEXIST)
			error = explain_exists(parent, name, path, 1, err, errlen);
		else
			error = fail(err, errlen, "tar: mkdir '%.100s': %s", path, strerror(errno));
	}
done:
	if (parent >= 0 && parent != rootfd)
		close(parent);
	return error;
}

/* O_EXCL finds duplicates and O_NOFOLLOW refuses a symlink in the last place: the tree is
 * fresh and holds only what this archive made, so no other component can be a link. */
static int write_file(int rootfd, const char *path, const unsigned char *body, size_t n,
		      mode_t mode, char *err, size_t errlen)
{
	const char *name;
	int parent = -1, fd = -1, error = 0;

	if ((error = open_parent(&parent, &name, rootfd, path, err, errlen)) < 0)
		goto done;
	fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			error = explain_exists(parent, name, path, 0, err, errlen);
		else
			error = fail(err, errlen, "tar: create '%.100s': %s", path, strerror(errno));
		goto done;
	}
	/* The umask must not decide whether a file is executable in the stored version. */
	if (fchmod(fd, mode) < 0) {
		error = fail(err, errlen, "tar: chmod '%.100s': %s", path, strerror(errno));
		goto done;
	}
	while (n > 0) {
		ssize_t w = write(fd, body, n > WRITE_PIECE ? WRITE_PIECE : n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			error = fail(err, errlen, "tar: write '%.100s': %s", path,
				     w < 0 ? strerror(errno) : "no progress");
			goto done;
		}
		body += w;
		n -= (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = fail(err, errlen, "tar: close '%.100s': %s", path, strerror(errno));
		goto done;
	}
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	if (parent >= 0 && parent != rootfd)
		close(parent);
	return error;
}

/* The refusal for a type flag that is neither a file, a directory nor an extended header. */
static int refuse_type(unsigned char type, const char *raw, char *err, size_t errlen)
{
	const char *what;

	switch (type) {
	case '1': what = "hard link"; break;
	case '2': what = "symlink"; break;
	case '3': what = "character device"; break;
	case '4': what = "block device"; break;
	case '6': what = "FIFO"; break;
	default:
		return fail(err, errlen, "tar: entry '%.100s' has unsupported type '%c' (0x%02x)", raw,
			    type >= 0x20 && type < 0x7f ? type : '?', type);
	}
	return fail(err, errlen, "tar: %s '%.100s' refused: only regular files and directories "
		    "are accepted", what, raw);
}

/* One extraction: the target directory, the extended headers waiting for their entry, the
 * entries so far, and where the one-line reason goes. */
struct reader {
	int rootfd;
	struct meta *m;
	size_t entries;
	char *err;
	size_t errlen;
};

/* Checks the header at @off and frames its entry: *@size body bytes (pax size= applied) and
 * *@pad bytes of padding, all inside the @len bytes of @data. 1 at the end-of-archive
 * marker, 0 for a header, -1 with the reason set. */
static int read_header(struct reader *x, const unsigned char *data, size_t len, size_t off,
		       uint64_t *size, size_t *pad)
{
	const unsigned char *h;
	size_t rem;

	if (len - off < BLOCK)
		return fail(x->err, x->errlen, off == len ?
			    "truncated tar: no end-of-archive blocks after %zu bytes" :
			    "truncated tar: data ends inside a header at byte %zu", off);
	h = data + off;
	if (is_zero_block(h, BLOCK)) {
		/* The end: a second zero block, or (as many writers leave it) the end of
		 * the data; a lone zero block before more headers is corruption. */
		rem = len - off - BLOCK;
		if (rem != 0 && !is_zero_block(h + BLOCK, rem < BLOCK ? rem : BLOCK))
			return fail(x->err, x->errlen, "tar: data after a lone zero block at byte %zu",
				    off);
		if (x->m->pending)
			return fail(x->err, x->errlen, "tar: extended header with no entry after it");
		return 1;
	}
	if (!checksum_ok(h))
		return fail(x->err, x->errlen, "tar: bad header checksum at byte %zu", off);
	if (parse_num(size, h + H_SIZE, H_SIZE_LEN, 1) < 0)
		return fail(x->err, x->errlen, "tar: bad size field at byte %zu", off);
	/* pax size= stands for the entry's size (sizes of 8 GiB and more); never for
	 * the size of another extended header. */
	if (x->m->has_pax_size && h[H_TYPE] != 'x' && h[H_TYPE] != 'g' && h[H_TYPE] != 'L')
		*size = x->m->pax_size;
	rem = len - off - BLOCK;
	if (*size > (uint64_t)rem)
		return fail(x->err, x->errlen, "truncated tar: entry at byte %zu claims %llu bytes, "
			    "%zu remain", off, (unsigned long long)*size, rem);
	/* size <= rem, so neither the padding nor the sum below can overflow. */
	*pad = (BLOCK - (size_t)*size % BLOCK) % BLOCK;
	if (*pad > rem - (size_t)*size)
		return fail(x->err, x->errlen, "truncated tar: data ends inside an entry's padding");
	return 0;
}

/* Extended headers: pax 'x' (path=, size= for the next entry), pax global 'g' (ignored) and
 * GNU 'L' (a long path). 1 when @type was one of them, 0 for an entry, -1 on an error. */
static int extended_header(struct reader *x, unsigned char type, const unsigned char *body,
			   size_t size)
{
	struct meta *m = x->m;
	size_t n;

	switch (type) {
	case 'x':
		if (parse_pax(m, body, size, x->err, x->errlen) < 0)
			return -1;
		m->pending = 1;
		return 1;
	case 'g':
		return 1;
	case 'L':
		n = strnlen((const char *)body, size);
		if (n > MAX_PATH_LEN)
			return fail(x->err, x->errlen, "tar: path longer than %d bytes", MAX_PATH_LEN);
		memcpy(m->gnu_path, body, n);
		m->gnu_path[n] = '\0';
		m->gnu_path_len = n;
		m->has_gnu_path = 1;
		m->pending = 1;
		return 1;
	default:
		return 0;
	}
}

/* An entry's path as the archive spells it: from pax, else GNU 'L', else ustar prefix +
 * name (put together in @buf). Sets *@rawlen. */
static const char *entry_path(const struct meta *m, const unsigned char *h,
			      char buf[H_PREFIX_LEN + 1 + H_NAME_LEN + 1], size_t *rawlen)
{
	size_t nl, pl = 0;

	if (m->has_pax_path) {
		*rawlen = m->pax_path_len;
		return m->pax_path;
	}
	if (m->has_gnu_path) {
		*rawlen = m->gnu_path_len;
		return m->gnu_path;
	}
	nl = strnlen((const char *)h + H_NAME, H_NAME_LEN);
	/* Only POSIX "ustar\0" has a prefix: GNU keeps times in those bytes. */
	if (!memcmp(h + H_MAGIC, "ustar", 6))
		pl = strnlen((const char *)h + H_PREFIX, H_PREFIX_LEN);
	memcpy(buf, h + H_PREFIX, pl);
	if (pl)
		buf[pl++] = '/';
	memcpy(buf + pl, h + H_NAME, nl);
	buf[pl + nl] = '\0';
	*rawlen = pl + nl;
	return buf;
}

/* The entry of header @h with @size bytes of @body: a directory made, or a file written. */
static int extract_entry(struct reader *x, const unsigned char *h, const unsigned char *body,
			 size_t size)
{
	char raw_buf[H_PREFIX_LEN + 1 + H_NAME_LEN + 1], path[MAX_PATH_LEN + 1];
	const char *raw;
	unsigned char type = h[H_TYPE];
	size_t rawlen;
	uint64_t mode;
	int slash, error = 0;

	raw = entry_path(x->m, h, raw_buf, &rawlen);
	if (type != '0' && type != '\0' && type != '7' && type != '5') {
		error = refuse_type(type, raw, x->err, x->errlen);
		goto done;
	}
	if (++x->entries > MAX_ENTRIES) {
		error = fail(x->err, x->errlen, "tar: more than %d entries", MAX_ENTRIES);
		goto done;
	}
	if ((error = clean_path(path, &slash, raw, rawlen, x->err, x->errlen)) < 0)
		goto done;
	/* Old tars mark a directory by a trailing '/' on a regular entry. */
	if (type == '5' || slash) {
		error = make_dir(x->rootfd, path, x->err, x->errlen);
		goto done;
	}
	if (!*path) {
		error = fail(x->err, x->errlen, "tar: file entry '%.100s' names the top directory", raw);
		goto done;
	}
	if (parse_num(&mode, h + H_MODE, H_MODE_LEN, 1) < 0) {
		error = fail(x->err, x->errlen, "tar: bad mode field for '%.100s'", path);
		goto done;
	}
	error = write_file(x->rootfd, path, body, size, (mode & 0111) ? 0755 : 0644, x->err,
			   x->errlen);
done:
	return error;
}

int srv_tar_extract(const unsigned char *data, size_t len, const char *dir, char *err,
		    size_t errlen)
{
	static const struct meta no_meta;
	struct reader x = { -1, NULL, 0, err, errlen };
	size_t off = 0, pad = 0;
	uint64_t size = 0;
	int error = 0, rc;

	if (err && errlen)
		err[0] = '\0';
	if (!data && len) {
		error = fail(err, errlen, "tar: no data");
		goto done;
	}
	/* Two 4 KiB path buffers live on the heap: server threads may have small stacks. */
	if (!(x.m = malloc(sizeof(*x.m)))) {
		error = fail(err, errlen, "tar: out of memory");
		goto done;
	}
	*x.m = no_meta;
	x.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.rootfd < 0) {
		error = fail(err, errlen, "tar: open '%.100s': %s", dir, strerror(errno));
		goto done;
	}
	for (;;) {
		const unsigned char *h, *body;

		if ((rc = read_header(&x, data, len, off, &size, &pad)) != 0) {
			error = rc < 0 ? rc : 0;
			goto done;
		}
		h = data + off;
		body = h + BLOCK;
		if ((rc = extended_header(&x, h[H_TYPE], body, (size_t)size)) < 0) {
			error = rc;
			goto done;
		}
		if (rc == 0) {
			if ((error = extract_entry(&x, h, body, (size_t)size)) < 0)
				goto done;
			x.m->pending = x.m->has_pax_path = x.m->has_gnu_path = x.m->has_pax_size = 0;
		}
		off += BLOCK + (size_t)size + pad;
	}
done:
	if (x.rootfd >= 0)
		close(x.rootfd);
	free(x.m);
	return error;
}
