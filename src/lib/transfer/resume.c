/* SPDX-License-Identifier: MIT */
/*
 * What makes a pull resumable and tidy: each file is written to a part file whose name
 * derives from its final path, so a pull killed at any point leaves a file the next pull
 * finds, checks chunk by chunk against the chunk list, and continues; a file already in
 * place is kept when every chunk of it hashes right; temporary files no running pull holds
 * (flock) are swept. Also the subset a pull selects, and restoring modification times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pull_int.h"
#include "manifest.h"
#include "transport.h"

#define PART_PREFIX ".mvms-part-"
#define OLD_TMP_PREFIX ".mvms-tmp-" /* mkostemp names of earlier versions */

static int mkdir_parents(const char *dir, const char *rel)
{
	char *p = NULL, *s;
	int error = 0;

	if (asprintf(&p, "%s/%s", dir, rel) < 0) {
		p = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (s = p + strlen(dir) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			error = mvms_error_set(MVMS_ERROR, "pull: mkdir %s: %s", p, strerror(errno));
			goto done;
		}
		*s = '/';
	}
done:
	free(p);
	return error;
}

/* The part name of @path: short and fixed (a name derived from the file's own would
 * overflow NAME_MAX for names near 255 bytes), one per path. */
static int part_name(char **out, const char *dir, const char *path)
{
	const char *slash = strrchr(path, '/');
	char hex[MVMS_OID_HEXSZ + 1];
	mvms_oid h;

	mvms_oid_hash(&h, path, strlen(path));
	mvms_oid_fmt(hex, &h);
	if (asprintf(out, "%s/%.*s" PART_PREFIX "%.16s", dir, slash ? (int)(slash - path + 1) : 0,
		     path, hex) < 0) {
		*out = NULL;
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	return 0;
}

/* The number of leading chunks of @fd (@size bytes) that hash to @ch: *k and their bytes
 * *off. Reads one chunk at a time. */
static int check_prefix(size_t *k, uint64_t *off, int fd, uint64_t size, const mvms_sync__chunk *ch,
			size_t n, const char *what)
{
	unsigned char *buf = NULL;
	size_t cap = 0;
	mvms_oid got;
	int error = 0;

	*k = 0;
	*off = 0;
	for (; *k < n && *off + ch[*k].len <= size; (*off) += ch[*k].len, (*k)++) {
		if (ch[*k].len > cap) {
			unsigned char *t = realloc(buf, (size_t)ch[*k].len);
			MVMS_CHECK_ALLOC(t, error);
			buf = t;
			cap = (size_t)ch[*k].len;
		}
		MVMS_TRY(mvms_read_full(fd, buf, (size_t)ch[*k].len, *off, what));
		mvms_oid_hash(&got, buf, (size_t)ch[*k].len);
		if (mvms_oid_cmp(&got, &ch[*k].id) != 0)
			break;
	}
done:
	free(buf);
	return error;
}

int mvms_sync__part_open(mvms_sync__part *p, const char *dir, const char *path,
			 const mvms_sync__chunk *ch, size_t n, int resume)
{
	struct stat a, b;
	int error = 0, tries;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	MVMS_TRY(mvms_path_check(path));
	MVMS_TRY(mkdir_parents(dir, path));
	MVMS_TRY(part_name(&p->tmp, dir, path));
	if (asprintf(&p->final, "%s/%s", dir, path) < 0) {
		p->final = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	/* Locked, and still the file at that name once locked: a sweep by another pull
	 * removes a part only while it holds the lock. */
	for (tries = 0;; tries++) {
		p->fd = open(p->tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (p->fd < 0) {
			error = mvms_error_set(MVMS_ERROR, "pull: create %s: %s", p->tmp, strerror(errno));
			goto done;
		}
		if (flock(p->fd, LOCK_EX | LOCK_NB) < 0) {
			error = mvms_error_set(errno == EWOULDBLOCK ? MVMS_ECONFLICT : MVMS_ERROR,
					       "pull: %s: %s", p->final, errno == EWOULDBLOCK ?
					       "another pull is writing it" : strerror(errno));
			goto done;
		}
		if (fstat(p->fd, &a) == 0 && stat(p->tmp, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			break;
		close(p->fd);
		p->fd = -1;
		if (tries > 8) {
			error = mvms_error_set(MVMS_ECONFLICT, "pull: %s keeps being removed", p->tmp);
			goto done;
		}
	}
	if (resume && a.st_size > 0)
		MVMS_TRY(check_prefix(&p->k, &p->off, p->fd, (uint64_t)a.st_size, ch, n, p->tmp));
	/* Not truncated when it has the length already (a new part: empty): on ext4 a
	 * truncate to 0 bytes, even of an empty file, makes close() start writing back the
	 * whole file (auto_da_alloc), which made the end of a pull wait ~0.3 s per 512 MiB. */
	if (((uint64_t)a.st_size != p->off && ftruncate(p->fd, (off_t)p->off) < 0) ||
	    lseek(p->fd, (off_t)p->off, SEEK_SET) < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", p->tmp, strerror(errno));
		goto done;
	}
done:
	if (error < 0) {
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
		free(p->tmp);
		free(p->final);
		p->tmp = p->final = NULL;
	}
	return error;
}

int mvms_sync__part_end(mvms_sync__part *p, unsigned mode, int keep)
{
	int error = 0;

	if (!p->tmp)
		return 0;
	if (keep && fchmod(p->fd, mode) < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", p->tmp, strerror(errno));
		keep = 0;
	}
	/* Renamed while still locked, so no sweep can take it between close and rename. */
	if (keep && rename(p->tmp, p->final) < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: rename to %s: %s", p->final, strerror(errno));
		keep = 0;
	}
	if (!keep)
		unlink(p->tmp);
	if (p->fd >= 0 && close(p->fd) < 0 && error == 0 && keep)
		error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", p->final, strerror(errno));
	p->fd = -1;
	free(p->tmp);
	free(p->final);
	p->tmp = p->final = NULL;
	return error;
}

int mvms_sync__have_file(const char *dir, const char *path, const mvms_sync__chunk *ch,
			 size_t n, uint64_t size)
{
	char *final = NULL;
	struct stat sb;
	size_t k = 0;
	uint64_t off = 0;
	int fd = -1, error = 0;

	if (asprintf(&final, "%s/%s", dir, path) < 0) {
		final = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if (lstat(final, &sb) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", final, strerror(errno));
		goto done;
	}
	if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == size) {
		if ((fd = open(final, O_RDONLY | O_CLOEXEC)) < 0) {
			error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", final, strerror(errno));
			goto done;
		}
		MVMS_TRY(check_prefix(&k, &off, fd, size, ch, n, final));
		if (k == n && off == size) {
			error = 1;
			goto done;
		}
	}
	error = mvms_error_set(MVMS_EEXISTS, "pull: %s exists with other content (use --force "
			       "to overwrite it)", final);
done:
	if (fd >= 0)
		close(fd);
	free(final);
	return error;
}

int mvms_sync__part_exists(const char *dir, const char *path)
{
	char *tmp = NULL;
	struct stat sb;
	int yes;

	if (part_name(&tmp, dir, path) < 0)
		return 0;
	yes = lstat(tmp, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
	free(tmp);
	return yes;
}

/* Removes the part file @p unless a running pull holds it. */
static void sweep_one(const char *p)
{
	int fd = open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlink(p);
	close(fd);
}

static int sweep(const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	char *p = NULL;
	int error = 0;

	if (depth > 256 || !(d = opendir(dir)))
		return 0; /* what cannot be read holds nothing of ours */
	while ((de = readdir(d)) != NULL) {
		int part = strncmp(de->d_name, PART_PREFIX, strlen(PART_PREFIX)) == 0 ||
			   strncmp(de->d_name, OLD_TMP_PREFIX, strlen(OLD_TMP_PREFIX)) == 0;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!part && de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		free(p);
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
			p = NULL;
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		if (part) {
			sweep_one(p);
		} else {
			struct stat sb;
			if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && (error = sweep(p, depth + 1)) < 0)
				break;
		}
	}
	closedir(d);
	free(p);
	return error;
}

int mvms_sync__sweep_parts(const char *dir)
{
	return sweep(dir, 0);
}

int mvms_sync__set_attrs(const char *dir, const char *path, unsigned mode, int64_t sec,
			 uint32_t nsec)
{
	struct timespec ts[2];
	char *final = NULL;
	int error = 0;

	if (asprintf(&final, "%s/%s", dir, path) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	/* A file kept from before may have the right bytes and the wrong mode. */
	if (chmod(final, mode == 0755 ? 0755 : 0644) < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: chmod %s: %s", final, strerror(errno));
		goto done;
	}
	if (sec == 0 && nsec == 0)
		goto done;
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)sec;
	ts[1].tv_nsec = (long)nsec;
	if (utimensat(AT_FDCWD, final, ts, AT_SYMLINK_NOFOLLOW) < 0)
		error = mvms_error_set(MVMS_ERROR, "pull: set the time of %s: %s", final,
				       strerror(errno));
done:
	free(final);
	return error;
}

/* @path is @sel or lies under directory @sel. */
static int under(const char *sel, const char *path)
{
	size_t n = strlen(sel);

	while (n > 0 && sel[n - 1] == '/')
		n--;
	if (n == 0)
		return 1;
	return strncmp(sel, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int mvms_sync__selected(const mvms_pull_options *o, const char *path)
{
	size_t i;
	int hit;

	if (!o)
		return 1;
	for (i = 0, hit = o->path_count == 0; i < o->path_count && !hit; i++)
		hit = under(o->paths[i], path);
	if (!hit)
		return 0;
	for (i = 0, hit = o->include_count == 0; i < o->include_count && !hit; i++)
		hit = fnmatch(o->include[i], path, 0) == 0;
	if (!hit)
		return 0;
	for (i = 0; i < o->exclude_count; i++)
		if (fnmatch(o->exclude[i], path, 0) == 0)
			return 0;
	return 1;
}

int mvms_sync__check_selection(const mvms_pull_options *o, const char *const *paths,
			       size_t n, const char *spec)
{
	size_t i, k;
	int any = 0;

	for (i = 0; o && i < o->path_count; i++) {
		for (k = 0; k < n && !under(o->paths[i], paths[k]); k++)
			;
		if (k == n)
			return mvms_error_set(MVMS_ENOTFOUND, "pull: %s has no file or directory '%s'",
					      spec, o->paths[i]);
	}
	for (k = 0; k < n && !any; k++)
		any = mvms_sync__selected(o, paths[k]);
	if (!any && n > 0)
		return mvms_error_set(MVMS_ENOTFOUND, "pull: no file of %s matches the paths, "
				      "--include and --exclude given", spec);
	return 0;
}

int mvms_version_file_times(int64_t **out, mvms_store *st, const mvms_version_info *v,
			    const mvms_file_info *files, size_t count)
{
	mvms_manifest *m = NULL;
	void *data = NULL;
	size_t len = 0, i, k = 0;
	mvms_oid vid;
	int error = 0;

	MVMS_LOCAL_ONLY(st, "reading a manifest's file times");
	*out = calloc(2 * count + 1, sizeof(**out));
	MVMS_CHECK_ALLOC(*out, error);
	MVMS_TRY(mvms_oid_parse(&vid, v->id));
	MVMS_TRY(mvms_sync_get_object(&data, &len, st, "manifests", &vid));
	MVMS_TRY(mvms_manifest_decode(&m, data, len));
	/* Both sorted by path, bytewise. */
	for (i = 0; i < count; i++) {
		while (k < m->file_count && strcmp(m->files[k].path, files[i].path) < 0)
			k++;
		if (k < m->file_count && strcmp(m->files[k].path, files[i].path) == 0) {
			(*out)[2 * i] = m->files[k].mtime;
			(*out)[2 * i + 1] = m->files[k].mtime_ns;
		}
	}
done:
	if (error < 0) {
		free(*out);
		*out = NULL;
	}
	mvms_manifest_free(m);
	free(data);
	return error;
}
