/* SPDX-License-Identifier: MIT */
/*
 * The local directory backend: key "a/b/c" is the file DIR/a/b/c. New objects are written
 * to DIR/tmp/<random>.tmp, fsynced, renamed into place, and the directory is fsynced, so
 * an object is either absent or complete after a crash. It stores bytes only: no hashing,
 * no caching of file descriptors (each get opens the file; callers batch into big ranges).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "common.h"
#include "mvms/backend.h"

/* Temp files live here; it is never a key's first component, and list() skips it. */
#define LOCAL_TMP "tmp"

typedef struct {
	mvms_backend parent;
	char *dir; /* without trailing '/' (except for "/" itself) */
} local_backend;

typedef struct {
	mvms_backend_writer parent;
	int fd;         /* -1 once closed */
	int failed;     /* a write failed: the temp file must never be committed */
	char *tmp_path; /* DIR/tmp/<32 hex>.tmp */
} local_writer;

/*
 * Keys are relative '/'-separated paths with no empty, "." or ".." component, so that
 * DIR/<key> can never leave DIR. A prefix (for list) may end in '/' or in a partial
 * component; only its complete components are checked, since only they become a path.
 */
static int check_key(const char *key, int is_prefix)
{
	int error = 0, first = 1;
	const char *p = key, *slash;
	size_t n;

	if (!key || (!is_prefix && !*key) || *key == '/')
		goto bad;
	while (*p) {
		slash = strchr(p, '/');
		if (!slash && is_prefix)
			break; /* a partial last component only matters as a string */
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		if (first && n == strlen(LOCAL_TMP) && memcmp(p, LOCAL_TMP, n) == 0) {
			error = mvms_error_set(MVMS_EINVALID, "local: key '%.200s': '%s/' is reserved",
					       key, LOCAL_TMP);
			goto done;
		}
		first = 0;
		if (!slash)
			break;
		p = slash + 1;
		if (!*p && !is_prefix)
			goto bad; /* a trailing '/' is an empty last component */
	}
	goto done;
bad:
	error = mvms_error_set(MVMS_EINVALID, "local: invalid key '%.200s'", key ? key : "(null)");
done:
	return error;
}

/* DIR + "/" + key in a new string (free()), or NULL on OOM. */
static char *path_join(const char *dir, const char *key)
{
	size_t a = strlen(dir), b = strlen(key);
	char *p = malloc(a + b + 2);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, key, b + 1);
	return p;
}

/* 1 when @name is one plain file name (what writer_open puts in DIR/tmp). */
static int tmp_name_ok(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* The file of @key (checked with check_key) in a new string (free()) in *out. */
static int key_path(char **out, const local_backend *lb, const char *key)
{
	int error = 0;

	*out = NULL;
	MVMS_TRY(check_key(key, 0));
	*out = path_join(lb->dir, key);
	MVMS_CHECK_ALLOC(*out, error);
done:
	return error;
}

/* fsync the directory holding @path (which is modified and restored). */
static int fsync_parent(char *path)
{
	int error = 0, fd = -1;
	char *slash = strrchr(path, '/');
	const char *dir = ".";

	if (slash == path)
		dir = "/";
	else if (slash)
		*slash = '\0', dir = path;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		error = mvms_error_set(MVMS_ERROR, "local: fsync %s: %s", dir, strerror(errno));
	if (slash && slash != path)
		*slash = '/';
	if (fd >= 0)
		close(fd);
	return error;
}

/*
 * mkdir -p for every '/' in @path after offset @skip (and @path itself when @whole).
 * With @sync, each newly created directory's parent is fsynced so that the new entry
 * survives a crash along with the object renamed into it.
 */
static int make_dirs(char *path, size_t skip, int whole, int sync)
{
	int error = 0;
	size_t i, len = strlen(path);

	for (i = skip + 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		if (i == len && !whole)
			break;
		path[i] = '\0';
		if (mkdir(path, 0755) == 0) {
			if (sync)
				error = fsync_parent(path);
		} else if (errno != EEXIST) {
			error = mvms_error_set(MVMS_ERROR, "local: mkdir %s: %s", path,
					       strerror(errno));
		}
		if (i < len)
			path[i] = '/';
		if (error < 0)
			goto done;
	}
done:
	return error;
}

static int local_backend__writer_open(mvms_backend_writer **out, mvms_backend *be)
{
	local_backend *lb = (local_backend *)be;
	int error = 0;
	local_writer *w = NULL;
	unsigned char rnd[16];
	char name[2 * sizeof(rnd) + 1 + 4];
	char *tmpdir = NULL;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	MVMS_CHECK_ALLOC(w, error);
	w->parent.be = be;
	w->fd = -1;
	tmpdir = path_join(lb->dir, LOCAL_TMP);
	MVMS_CHECK_ALLOC(tmpdir, error);
	if (mkdir(tmpdir, 0755) < 0 && errno != EEXIST) {
		error = mvms_error_set(MVMS_ERROR, "local: mkdir %s: %s", tmpdir, strerror(errno));
		goto done;
	}
	/* 128 random bits: concurrent writers (threads, processes) never collide, and
	 * O_EXCL turns the impossible case into an error rather than a shared file. */
	randombytes_buf(rnd, sizeof(rnd));
	mvms_hex_encode(name, rnd, sizeof(rnd));
	strcat(name, ".tmp");
	w->tmp_path = path_join(tmpdir, name);
	MVMS_CHECK_ALLOC(w->tmp_path, error);
	w->fd = open(w->tmp_path, O_CREAT | O_EXCL | O_CLOEXEC | O_WRONLY, 0644);
	if (w->fd < 0) {
		error = mvms_error_set(MVMS_ERROR, "local: create %s: %s", w->tmp_path,
				       strerror(errno));
		goto done;
	}
	*out = &w->parent;
	w = NULL;
done:
	free(tmpdir);
	if (w) {
		free(w->tmp_path);
		free(w);
	}
	return error;
}

static int local_backend__writer_write(mvms_backend_writer *bw, const void *data, size_t len)
{
	local_writer *w = (local_writer *)bw;
	int error = 0;

	if (w->failed || w->fd < 0) {
		error = mvms_error_set(MVMS_ERROR, "local: write %s: writer failed earlier",
				       w->tmp_path);
		goto done;
	}
	if ((error = mvms_write_full(w->fd, data, len, w->tmp_path)) < 0)
		w->failed = 1;
done:
	return error;
}

static void local_writer_free(local_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	free(w);
}

/* Commits the writer under @key: replacing it, or with @excl only when it is absent
 * (link(2) fails with EEXIST atomically: the store's log, meta/log.c). */
static int commit_as(mvms_backend_writer *bw, const char *key, int excl)
{
	local_writer *w = (local_writer *)bw;
	local_backend *lb = (local_backend *)bw->be;
	int error = 0, fd;
	char *path = NULL;

	MVMS_TRY(key_path(&path, lb, key));
	if (w->failed) {
		error = mvms_error_set(MVMS_ERROR, "local: commit %s: a write failed", key);
		goto done;
	}
	/* Data first, then the name: after a crash the key is absent or complete. */
	fd = w->fd;
	w->fd = -1;
	if (fsync(fd) < 0) {
		error = mvms_error_set(MVMS_ERROR, "local: fsync %s: %s", w->tmp_path,
				       strerror(errno));
		close(fd);
		goto done;
	}
	if (close(fd) < 0) {
		error = mvms_error_set(MVMS_ERROR, "local: close %s: %s", w->tmp_path,
				       strerror(errno));
		goto done;
	}
	MVMS_TRY(make_dirs(path, strlen(lb->dir), 0, 1));
	/* An existing key holds the same bytes (keys are content hashes), so replacing it is
	 * an idempotent success, and it also repairs a damaged copy. */
	if (excl && link(w->tmp_path, path) < 0) {
		error = errno == EEXIST ? mvms_error_set(MVMS_EEXISTS, "local: %s exists", key)
					: mvms_error_set(MVMS_ERROR, "local: link to %s: %s", key,
							 strerror(errno));
		goto done;
	}
	if (excl) {
		unlink(w->tmp_path);
	} else if (rename(w->tmp_path, path) < 0) {
		error = mvms_error_set(MVMS_ERROR, "local: rename to %s: %s", key, strerror(errno));
		goto done;
	}
	free(w->tmp_path);
	w->tmp_path = NULL; /* renamed: nothing left to unlink */
	MVMS_TRY(fsync_parent(path));
done:
	free(path);
	local_writer_free(w);
	return error;
}

static int local_backend__writer_commit(mvms_backend_writer *bw, const char *key)
{
	return commit_as(bw, key, 0);
}

static int local_backend__put_if_absent(mvms_backend *be, const char *key, const void *data,
					size_t len)
{
	mvms_backend_writer *w = NULL;
	int error = 0;

	MVMS_TRY(local_backend__writer_open(&w, be));
	if (len && (error = local_backend__writer_write(w, data, len)) < 0) {
		local_writer_free((local_writer *)w);
		goto done;
	}
	error = commit_as(w, key, 1);
done:
	return error;
}

static void local_backend__writer_abort(mvms_backend_writer *bw)
{
	if (bw)
		local_writer_free((local_writer *)bw);
}

static int local_backend__open_fd(int *fd, mvms_backend *be, const char *key)
{
	local_backend *lb = (local_backend *)be;
	int error = 0;
	char *path = NULL;

	*fd = -1;
	MVMS_TRY(key_path(&path, lb, key));
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			error = mvms_error_set(MVMS_ENOTFOUND, "object %s: not found", key);
		else
			error = mvms_error_set(MVMS_ERROR, "local: open %s: %s", key,
					       strerror(errno));
	}
done:
	free(path);
	return error;
}

static int local_backend__get(mvms_backend *be, const char *key, uint64_t offset, void *buf,
			      size_t len)
{
	int error = 0, fd = -1;

	/* pread takes an off_t: keep offset + len representable. */
	if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset) {
		error = mvms_error_set(MVMS_EINVALID, "object %s: range %llu+%zu out of bounds",
				       key, (unsigned long long)offset, len);
		goto done;
	}
	MVMS_TRY(local_backend__open_fd(&fd, be, key));
	error = mvms_read_full(fd, buf, len, offset, key);
done:
	if (fd >= 0)
		close(fd);
	return error;
}

static int local_backend__stat_time(uint64_t *out, int64_t *mtime, mvms_backend *be,
				   const char *key)
{
	local_backend *lb = (local_backend *)be;
	int error = 0;
	char *path = NULL;
	struct stat st;

	*out = 0;
	if (mtime)
		*mtime = 0;
	/* A temporary file (gc): "tmp/<name>", one component under DIR/tmp. */
	if (strncmp(key, LOCAL_TMP "/", sizeof(LOCAL_TMP)) == 0 && tmp_name_ok(key + sizeof(LOCAL_TMP)))
		path = path_join(lb->dir, key);
	else
		MVMS_TRY(key_path(&path, lb, key));
	MVMS_CHECK_ALLOC(path, error);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			error = mvms_error_set(MVMS_ENOTFOUND, "object %s: not found", key);
		else
			error = mvms_error_set(MVMS_ERROR, "local: stat %s: %s", key,
					       strerror(errno));
		goto done;
	}
	/* A directory ("packs") is part of the layout, not an object. */
	if (!S_ISREG(st.st_mode)) {
		error = mvms_error_set(MVMS_ENOTFOUND, "object %s: not found", key);
		goto done;
	}
	*out = (uint64_t)st.st_size;
	if (mtime)
		*mtime = (int64_t)st.st_mtime;
done:
	free(path);
	return error;
}

static int local_backend__stat(uint64_t *out, mvms_backend *be, const char *key)
{
	int error = check_key(key, 0);

	*out = 0;
	return error < 0 ? error : local_backend__stat_time(out, NULL, be, key);
}

/* What a walk calls for each file: list's callback or scan's (with the write time). */
typedef struct walk_cb {
	mvms_backend_list_cb list;
	mvms_backend_scan_cb scan;
	void *payload;
} walk_cb;

static int walk_call(const walk_cb *cb, const char *key, const struct stat *st)
{
	return cb->scan ? cb->scan(key, (uint64_t)st->st_size, (int64_t)st->st_mtime, cb->payload)
			: cb->list(key, (uint64_t)st->st_size, cb->payload);
}

/*
 * Walks the directory @dfd (owned: closed here) whose key is key->ptr ("" for DIR), calling
 * @cb for each regular file whose key starts with @prefix. Subdirectories are entered only
 * when their key and the prefix agree on their common length.
 */
static int list_walk(int dfd, mvms_buf *key, const char *prefix, size_t plen,
		     const walk_cb *cb)
{
	int error = 0, sub;
	DIR *d = NULL;
	struct dirent *ent;
	struct stat st;
	size_t base = key->size, n;

	d = fdopendir(dfd);
	if (!d) {
		error = mvms_error_set(MVMS_ERROR, "local: list %s: %s", key->ptr, strerror(errno));
		close(dfd);
		goto done;
	}
	for (;;) {
		errno = 0;
		if (!(ent = readdir(d))) {
			if (errno)
				error = mvms_error_set(MVMS_ERROR, "local: list %s: %s", key->ptr,
						       strerror(errno));
			break;
		}
		if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
			continue;
		if (base == 0 && !strcmp(ent->d_name, LOCAL_TMP))
			continue;
		if (base > 0)
			MVMS_TRY(mvms_buf_put(key, "/", 1));
		MVMS_TRY(mvms_buf_puts(key, ent->d_name));
		n = key->size < plen ? key->size : plen;
		if (memcmp(key->ptr, prefix, n) != 0)
			goto next;
		if (fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				goto next; /* removed while we walk */
			error = mvms_error_set(MVMS_ERROR, "local: stat %s: %s", key->ptr,
					       strerror(errno));
			goto done;
		}
		if (S_ISDIR(st.st_mode)) {
			sub = openat(dirfd(d), ent->d_name,
				     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub < 0) {
				error = mvms_error_set(MVMS_ERROR, "local: open %s: %s", key->ptr,
						       strerror(errno));
				goto done;
			}
			MVMS_TRY(list_walk(sub, key, prefix, plen, cb));
			if (error > 0)
				goto done;
		} else if (S_ISREG(st.st_mode) && key->size >= plen) {
			if ((error = walk_call(cb, key->ptr, &st)) != 0)
				goto done;
		}
next:
		key->size = base;
		key->ptr[base] = '\0';
	}
done:
	if (d)
		closedir(d);
	return error;
}

/* scan("tmp/"): the temp files of writers that never committed (DIR/tmp/<name>). */
static int scan_tmp(local_backend *lb, const walk_cb *cb)
{
	int error = 0;
	char *dir = path_join(lb->dir, LOCAL_TMP), *key = NULL;
	DIR *d = NULL;
	struct dirent *ent;
	struct stat st;

	MVMS_CHECK_ALLOC(dir, error);
	if (!(d = opendir(dir))) {
		if (errno != ENOENT)
			error = mvms_error_set(MVMS_ERROR, "local: list %s: %s", dir, strerror(errno));
		goto done;
	}
	while ((errno = 0, ent = readdir(d))) {
		if (!tmp_name_ok(ent->d_name))
			continue;
		if (fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue; /* gone meanwhile (committed or aborted), or not ours */
		free(key);
		key = path_join(LOCAL_TMP, ent->d_name);
		MVMS_CHECK_ALLOC(key, error);
		if ((error = walk_call(cb, key, &st)) != 0)
			goto done;
	}
	if (errno)
		error = mvms_error_set(MVMS_ERROR, "local: list %s: %s", dir, strerror(errno));
done:
	if (d)
		closedir(d);
	free(key);
	free(dir);
	return error;
}

static int local_list(local_backend *lb, const char *prefix, const walk_cb *cb)
{
	int error = 0, fd;
	mvms_buf key = MVMS_BUF_INIT;
	const char *slash;
	char *path = NULL;

	if (!prefix)
		prefix = "";
	MVMS_TRY(check_key(prefix, 1));
	/* Start in the deepest directory the prefix names completely. */
	slash = strrchr(prefix, '/');
	if (slash)
		MVMS_TRY(mvms_buf_put(&key, prefix, (size_t)(slash - prefix)));
	else
		MVMS_TRY(mvms_buf_put(&key, "", 0));
	path = key.size ? path_join(lb->dir, key.ptr) : strdup(lb->dir);
	MVMS_CHECK_ALLOC(path, error);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			error = mvms_error_set(MVMS_ERROR, "local: list %s: %s", prefix,
					       strerror(errno));
		goto done;
	}
	error = list_walk(fd, &key, prefix, strlen(prefix), cb);
done:
	free(path);
	mvms_buf_dispose(&key);
	return error;
}

static int local_backend__list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb,
			       void *payload)
{
	walk_cb w = { cb, NULL, payload };

	return local_list((local_backend *)be, prefix, &w);
}

static int local_backend__scan(mvms_backend *be, const char *prefix, mvms_backend_scan_cb cb,
			       void *payload)
{
	walk_cb w = { NULL, cb, payload };

	if (prefix && strcmp(prefix, LOCAL_TMP "/") == 0)
		return scan_tmp((local_backend *)be, &w);
	return local_list((local_backend *)be, prefix, &w);
}

static int local_backend__remove(mvms_backend *be, const char *key)
{
	local_backend *lb = (local_backend *)be;
	int error = 0;
	char *path = NULL;

	/* A temp file that scan("tmp/") named (gc of a killed writer's leftovers). */
	if (strncmp(key, LOCAL_TMP "/", sizeof(LOCAL_TMP)) == 0 && tmp_name_ok(key + sizeof(LOCAL_TMP))) {
		path = path_join(lb->dir, key);
		MVMS_CHECK_ALLOC(path, error);
	} else {
		MVMS_TRY(key_path(&path, lb, key));
	}
	if (unlink(path) < 0 && errno != ENOENT && errno != ENOTDIR)
		error = mvms_error_set(MVMS_ERROR, "local: remove %s: %s", key, strerror(errno));
done:
	free(path);
	return error;
}

static void local_backend__free(mvms_backend *be)
{
	local_backend *lb = (local_backend *)be;

	if (!lb)
		return;
	free(lb->dir);
	free(lb);
}

int mvms_backend_local(mvms_backend **out, const char *dir)
{
	int error = 0;
	local_backend *lb = NULL;
	size_t len;
	struct stat st;

	*out = NULL;
	if (!dir || !*dir) {
		error = mvms_error_set(MVMS_EINVALID, "local: no directory");
		goto done;
	}
	/* randombytes_buf (temp names) wants the library initialised; idempotent. */
	if (sodium_init() < 0) {
		error = mvms_error_set(MVMS_ERROR, "local: libsodium initialisation failed");
		goto done;
	}
	lb = calloc(1, sizeof(*lb));
	MVMS_CHECK_ALLOC(lb, error);
	lb->dir = strdup(dir);
	MVMS_CHECK_ALLOC(lb->dir, error);
	len = strlen(lb->dir);
	while (len > 1 && lb->dir[len - 1] == '/')
		lb->dir[--len] = '\0';
	MVMS_TRY(make_dirs(lb->dir, 0, 1, 0));
	if (stat(lb->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		error = mvms_error_set(MVMS_ERROR, "local: %s: not a directory", dir);
		goto done;
	}

	lb->parent.version = MVMS_BACKEND_VERSION;
	lb->parent.name = "local";
	lb->parent.writer_open = local_backend__writer_open;
	lb->parent.writer_write = local_backend__writer_write;
	lb->parent.writer_commit = local_backend__writer_commit;
	lb->parent.writer_abort = local_backend__writer_abort;
	lb->parent.get = local_backend__get;
	lb->parent.stat = local_backend__stat;
	lb->parent.list = local_backend__list;
	lb->parent.remove = local_backend__remove;
	lb->parent.put_if_absent = local_backend__put_if_absent;
	lb->parent.caps |= MVMS_BACKEND_CAP_PUT_IF_ABSENT;
	lb->parent.free = local_backend__free;
	lb->parent.open_fd = local_backend__open_fd;
	lb->parent.scan = local_backend__scan;
	lb->parent.stat_time = local_backend__stat_time;
	*out = &lb->parent;
	lb = NULL;
done:
	local_backend__free(lb ? &lb->parent : NULL);
	return error;
}
