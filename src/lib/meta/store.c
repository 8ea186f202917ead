/* SPDX-License-Identifier: MIT */
/*
 * The store: creating and opening a store directory (store.db plus objects/), its recorded
 * parameters, models and statistics. Pushing, pulling and refs live in their own modules.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "store_int.h"
#include "dag_int.h"
#include "bases.h"
#include "transport.h"
#include "s3.h"
#include "log_int.h"

static int mkdir_p(const char *path)
{
	char *tmp = strdup(path), *p;
	int error = 0;

	MVMS_CHECK_ALLOC(tmp, error);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
			error = mvms_error_set(MVMS_ERROR, "store: mkdir %s: %s", tmp, strerror(errno));
			goto done;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		error = mvms_error_set(MVMS_ERROR, "store: mkdir %s: %s", tmp, strerror(errno));
done:
	free(tmp);
	return error;
}

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

char *mvms_store__file(const mvms_store *st, const char *name)
{
	return st->path ? path_join(st->path, name) : NULL;
}

int mvms_store__db_open(mvms_db **out, const mvms_store *st)
{
	char *path = mvms_store__file(st, "store.db");
	int error;

	*out = NULL;
	if (!path)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	error = mvms_db_open(out, path, 0);
	free(path);
	return error;
}

static int config_get(char **out, mvms_store *st, const char *key)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT value FROM config WHERE key = ?");
	int error = 0, rc;

	*out = NULL;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = mvms_db_column_strdup(s, 0);
		MVMS_CHECK_ALLOC(*out, error);
	} else if (rc == SQLITE_DONE) {
		error = mvms_error_set(MVMS_ENOTFOUND, "store: config %s missing", key);
	} else {
		error = mvms_db_error(st->db, rc, "read config");
	}
done:
	sqlite3_reset(s);
	return error;
}

static int config_set(mvms_store *st, const char *key, const char *value)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db,
				       "INSERT OR REPLACE INTO config(key, value) VALUES (?, ?)");

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	return mvms_db_step_done(st->db, s, "write config");
}

static int config_get_u64(uint64_t *out, mvms_store *st, const char *key)
{
	char *v = NULL, *end;
	int error;

	if ((error = config_get(&v, st, key)) < 0)
		return error;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (errno || *end || end == v)
		error = mvms_error_set(MVMS_EINVALID, "store: config %s: bad value '%s'", key, v);
	free(v);
	return error;
}

static int load_config(mvms_store *st)
{
	uint64_t avg = 0, level = 0, pack = 0;
	char *backend = NULL;
	int error = 0;

	MVMS_TRY(config_get_u64(&avg, st, "chunk_avg"));
	MVMS_TRY(config_get_u64(&level, st, "zstd_level"));
	MVMS_TRY(config_get_u64(&pack, st, "pack_size"));
	MVMS_TRY(config_get(&backend, st, "backend"));
	if (avg > UINT32_MAX || level > 22) {
		error = mvms_error_set(MVMS_EINVALID, "store: corrupt configuration");
		goto done;
	}
	MVMS_TRY(mvms_chunker_params_init(&st->chunker, (uint32_t)avg));
	st->level = (int)level;
	st->pack_size = pack;
	snprintf(st->backend_name, sizeof(st->backend_name), "%s", backend);
	if (strcmp(backend, "local") != 0 && strncmp(backend, "s3://", 5) != 0 &&
	    strncmp(backend, "gs://", 5) != 0)
		error = mvms_error_set(MVMS_ENOTSUPPORTED, "store: backend '%s' is not supported",
				       backend);
done:
	free(backend);
	return error;
}

/* Checks a new store's options before anything is created, so that a refused init leaves
 * nothing behind: the parameters, and for a bucket that it exists and the credentials in
 * the environment can list it (a typo or a wrong secret fails now, not at the first push). */
static int check_new(mvms_chunker_params *cp, const mvms_store_options *opts)
{
	mvms_backend_s3_options so;
	mvms_backend *be = NULL;
	char *buf = NULL;
	int error = 0;

	MVMS_TRY(mvms_chunker_params_init(cp, opts->chunk_avg));
	if (opts->level < 0 || opts->level > 22) {
		error = mvms_error_set(MVMS_EINVALID, "store: zstd level %d outside 1..22",
				       opts->level);
		goto done;
	}
	if (opts->pack_size && (opts->pack_size < 1024 * 1024 ||
				opts->pack_size > 4096ull * 1024 * 1024)) {
		error = mvms_error_set(MVMS_EINVALID, "store: pack size must be between 1 MiB and 4 GiB");
		goto done;
	}
	if (opts->backend && strcmp(opts->backend, "local") != 0) {
		buf = malloc(strlen(opts->backend) + 1);
		MVMS_CHECK_ALLOC(buf, error);
		MVMS_TRY(mvms_backend_s3_options_from_env(&so, buf, strlen(opts->backend) + 1,
							  opts->backend));
		MVMS_TRY(mvms_backend_s3(&be, &so));
		MVMS_TRY(mvms_backend_s3_check(be));
	}
done:
	mvms_backend_free(be);
	free(buf);
	return error;
}

/* 1 when the store's parameters are recorded (the last step of creating it). */
static int config_present(int *out, mvms_store *st)
{
	char *v = NULL;
	int error = config_get(&v, st, "format");

	free(v);
	*out = error == 0;
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
	return error;
}

/*
 * Records a new store's parameters (@opts, or the defaults when NULL). Several processes
 * may create one store at once (pushes into a new directory): the check is repeated under
 * the write lock, the first one records, and the others use what it recorded; an init
 * (@opts set) that finds the parameters there already fails with MVMS_EEXISTS.
 */
static int config_create(mvms_store *st, const char *dir, int create,
			 const mvms_store_options *opts)
{
	mvms_store_options def = MVMS_STORE_OPTIONS_INIT;
	mvms_chunker_params cp;
	int error = 0, present = 0;
	char num[32];

	MVMS_TRY(config_present(&present, st));
	if (!present) {
		MVMS_TRY(mvms_db_begin(st->db));
		MVMS_TRY(config_present(&present, st));
	}
	if (present && opts) {
		error = mvms_error_set(MVMS_EEXISTS, "store: %s holds a store already", dir);
		goto done;
	}
	if (present)
		goto done;
	if (!create) {
		error = mvms_error_set(MVMS_ENOTFOUND, "store: %s has no parameters: its creation "
				       "did not finish (run 'mvms-store init')", dir);
		goto done;
	}
	if (!opts)
		opts = &def;
	MVMS_TRY(mvms_chunker_params_init(&cp, opts->chunk_avg));
	snprintf(num, sizeof(num), "%" PRIu32, cp.avg_size);
	MVMS_TRY(config_set(st, "chunk_avg", num));
	snprintf(num, sizeof(num), "%d", opts->level ? opts->level : MVMS_LEVEL_DEFAULT);
	MVMS_TRY(config_set(st, "zstd_level", num));
	snprintf(num, sizeof(num), "%" PRIu64,
		 opts->pack_size ? opts->pack_size : (uint64_t)MVMS_PACK_SIZE_DEFAULT);
	MVMS_TRY(config_set(st, "pack_size", num));
	MVMS_TRY(config_set(st, "backend", opts->backend ? opts->backend : "local"));
	MVMS_TRY(config_set(st, "chunker", "fastcdc-gear-v1"));
	MVMS_TRY(config_set(st, "format", "1"));
	error = mvms_db_commit(st->db);
done:
	mvms_db_rollback(st->db);
	return error;
}

static int store_open(mvms_store **out, const char *dir, int create,
		      const mvms_store_options *opts)
{
	mvms_store *st = NULL;
	char *dbpath = NULL, *objdir = NULL;
	int error = 0, exists, present = 0;
	mvms_chunker_params cp;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	MVMS_CHECK_ALLOC(st, error);
	st->path = strdup(dir);
	dbpath = path_join(dir, "store.db");
	objdir = path_join(dir, "objects");
	MVMS_CHECK_ALLOC(st->path, error);
	MVMS_CHECK_ALLOC(dbpath, error);
	MVMS_CHECK_ALLOC(objdir, error);
	exists = access(dbpath, F_OK) == 0;
	if (!exists && !create) {
		error = mvms_error_set(MVMS_ENOTFOUND,
				       "store: no store at %s (run 'mvms-store init' first)", dir);
		goto done;
	}
	if (exists) {
		MVMS_TRY(mvms_db_open(&st->db, dbpath, 0));
		MVMS_TRY(config_present(&present, st));
		if (present && opts) {
			error = mvms_error_set(MVMS_EEXISTS, "store: %s holds a store already", dir);
			goto done;
		}
	}
	if (opts)
		MVMS_TRY(check_new(&cp, opts));
	if (!exists) {
		MVMS_TRY(mkdir_p(dir));
		MVMS_TRY(mvms_db_open(&st->db, dbpath, 1));
	}
	if (!present)
		MVMS_TRY(config_create(st, dir, create, opts));
	MVMS_TRY(load_config(st));
	if (strcmp(st->backend_name, "local") == 0) {
		MVMS_TRY(mvms_backend_local(&st->be, objdir));
	} else {
		mvms_backend_s3_options so;
		char buf[sizeof(st->backend_name)];
		MVMS_TRY(mvms_backend_s3_options_from_env(&so, buf, sizeof(buf), st->backend_name));
		MVMS_TRY(mvms_backend_s3(&st->be, &so));
	}
	MVMS_TRY(mvms_log__open(st));
	*out = st;
	st = NULL;
done:
	if (st && st->db)
		mvms_db_rollback(st->db);
	mvms_store_free(st);
	free(dbpath);
	free(objdir);
	return error;
}

int mvms_store_init(mvms_store **out, const char *dir, const mvms_store_options *opts)
{
	mvms_store_options def = MVMS_STORE_OPTIONS_INIT;

	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "store: libsodium failed to initialise");
	return store_open(out, dir, 1, opts ? opts : &def);
}

int mvms_store_open(mvms_store **out, const char *dir, int create)
{
	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "store: libsodium failed to initialise");
	return store_open(out, dir, create, NULL);
}

void mvms_store_free(mvms_store *st)
{
	if (!st)
		return;
	if (st->tp) {
		st->tp->close(st); /* the transport owns what a remote handle holds */
		return;
	}
	mvms_dag__cache_free(st->dag);
	mvms_bases__close(st);
	mvms_backend_free(st->be);
	mvms_db_free(st->db);
	free(st->path);
	free(st);
}

mvms_backend *mvms_store__set_backend(mvms_store *st, mvms_backend *be)
{
	mvms_backend *old = st->be;

	st->be = be;
	return old;
}

void mvms_store_get_info(mvms_store_info *out, mvms_store *st)
{
	out->path = st->path;
	out->backend = st->backend_name;
	out->chunk_min = st->chunker.min_size;
	out->chunk_avg = st->chunker.avg_size;
	out->chunk_max = st->chunker.max_size;
	out->level = st->level;
	out->pack_size = st->pack_size;
	out->schema_level = st->db ? mvms_db_level(st->db) : 0; /* a remote handle: none here */
}

int mvms_transport__unsupported(const mvms_store *st, const char *what)
{
	return mvms_error_set(MVMS_ENOTSUPPORTED, "%s does not run over %s (%s)", what,
			      st->tp->name, st->path);
}

const char *mvms_store__default_author(void)
{
	const char *a = getenv("MVMS_AUTHOR");

	if (a && *a)
		return a;
	a = getenv("USER");
	if (a && *a)
		return a;
	return "unknown";
}

/* ---- models ---- */

int mvms_model_name_check(const char *name)
{
	size_t i, n = name ? strlen(name) : 0, comp = 0;

	if (n == 0 || n > 128)
		return mvms_error_set(MVMS_EINVALID, "model name must be 1 to 128 characters");
	for (i = 0; i <= n; i++) {
		char c = name[i];
		if (c == '/' || c == '\0') {
			if (comp == 0 || (comp == 1 && name[i - 1] == '.') ||
			    (comp == 2 && name[i - 1] == '.' && name[i - 2] == '.'))
				return mvms_error_set(MVMS_EINVALID,
						      "bad model name '%s': empty, '.' or '..' component",
						      name);
			comp = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return mvms_error_set(MVMS_EINVALID,
					      "bad model name '%s': only letters, digits, '.', '_', "
					      "'-' and '/' are allowed", name);
		comp++;
	}
	return 0;
}

int mvms_store__model_id(int64_t *out, mvms_store *st, const char *name)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT id FROM models WHERE name = ?");
	int rc, error = 0;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc == SQLITE_DONE)
		error = mvms_error_set(MVMS_ENOTFOUND, "model '%s' not found", name);
	else
		error = mvms_db_error(st->db, rc, "look up model");
	sqlite3_reset(s);
	return error;
}

void mvms_store__new_uid(char *out)
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof(raw));
	mvms_hex_encode(out, raw, sizeof(raw));
}

int mvms_store__model_create(int64_t *out, mvms_store *st, const char *name, const char *uid_in,
			     const char *description)
{
	sqlite3_stmt *s;
	char uid[33];
	int error = 0;

	MVMS_TRY(mvms_model_name_check(name));
	if (uid_in)
		snprintf(uid, sizeof(uid), "%s", uid_in);
	else
		mvms_store__new_uid(uid);
	s = mvms_db_stmt(st->db, "INSERT INTO models(uid, name, description, created_at) "
				 "VALUES (?, ?, ?, ?)");
	if (!s) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, description ? description : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	error = mvms_db_step_done(st->db, s, "register model");
	if (error == MVMS_EEXISTS)
		error = mvms_error_set(MVMS_EEXISTS, "model '%s' exists already", name);
	if (error == 0 && out)
		*out = sqlite3_last_insert_rowid(mvms_db_handle(st->db));
done:
	return error;
}

int mvms_store__model_uid(char *uid_out, mvms_store *st, int64_t model_id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT uid FROM models WHERE id = ?");
	int rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if ((rc = mvms_db_step_row(st->db, s, "read a model's uid")) <= 0)
		return rc < 0 ? rc : mvms_error_set(MVMS_ENOTFOUND, "model #%lld not found",
						    (long long)model_id);
	snprintf(uid_out, 33, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return 0;
}

int mvms_model_register(mvms_store *st, const char *name, const char *description)
{
	MVMS_TRANSPORT_CALL(st, model_register, (st, name, description));
	return mvms_store__model_create(NULL, st, name, NULL, description);
}

static int model_from_row(mvms_model_info *m, sqlite3_stmt *s)
{
	int error = 0;

	m->name = mvms_db_column_strdup(s, 0);
	snprintf(m->uid, sizeof(m->uid), "%s", (const char *)sqlite3_column_text(s, 1));
	m->description = mvms_db_column_strdup(s, 2);
	m->created_at = sqlite3_column_int64(s, 3);
	m->versions = sqlite3_column_int64(s, 4);
	if (!m->name || !m->description)
		error = mvms_error_set(MVMS_ERROR, "out of memory");
	return error;
}

int mvms_model_get(mvms_model_info **out, mvms_store *st, const char *name)
{
	MVMS_TRANSPORT_CALL(st, model_get, (out, st, name));
	static const char sql[] =
		"SELECT m.name, m.uid, m.description, m.created_at, "
		"(SELECT count(*) FROM versions v WHERE v.model_id = m.id) FROM models m "
		"WHERE m.name = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	mvms_model_info *m = NULL;
	int error = 0, rc;

	*out = NULL;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		error = mvms_error_set(MVMS_ENOTFOUND, "model '%s' not found", name);
		goto done;
	}
	if (rc != SQLITE_ROW) {
		error = mvms_db_error(st->db, rc, "read model");
		goto done;
	}
	m = calloc(1, sizeof(*m));
	MVMS_CHECK_ALLOC(m, error);
	MVMS_TRY(model_from_row(m, s));
	*out = m;
	m = NULL;
done:
	sqlite3_reset(s);
	mvms_model_info_free(m);
	return error;
}

int mvms_model_list(mvms_model_info **out, size_t *count, mvms_store *st)
{
	MVMS_TRANSPORT_CALL(st, model_list, (out, count, st));
	static const char sql[] =
		"SELECT m.name, m.uid, m.description, m.created_at, "
		"(SELECT count(*) FROM versions v WHERE v.model_id = m.id) FROM models m "
		"ORDER BY m.name";
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	mvms_model_info *list = NULL, *tmp;
	size_t n = 0, cap = 0;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	if (!s)
		return MVMS_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			tmp = realloc(list, cap * sizeof(*list));
			MVMS_CHECK_ALLOC(tmp, error);
			list = tmp;
		}
		memset(&list[n], 0, sizeof(list[n]));
		n++;
		MVMS_TRY(model_from_row(&list[n - 1], s));
	}
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "list models");
		goto done;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	sqlite3_reset(s);
	mvms_model_list_free(list, n);
	return error;
}

void mvms_model_info_free(mvms_model_info *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->description);
	free(m);
}

void mvms_model_list_free(mvms_model_info *list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++) {
		free(list[i].name);
		free(list[i].description);
	}
	free(list);
}

/* ---- statistics ---- */

int mvms_store__u64(uint64_t *out, mvms_store *st, const char *sql, const char *what)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	int rc, error = 0;

	if (!s)
		return MVMS_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	else
		error = mvms_db_error(st->db, rc, what);
	sqlite3_reset(s);
	return error;
}

static int scalar_u64(uint64_t *out, mvms_store *st, const char *sql)
{
	return mvms_store__u64(out, st, sql, "statistics");
}

int mvms_store_stats(mvms_stats *out, mvms_store *st)
{
	MVMS_TRANSPORT_CALL(st, stats, (out, st));
	int error = 0;

	memset(out, 0, sizeof(*out));
	MVMS_TRY(scalar_u64(&out->models, st, "SELECT count(*) FROM models"));
	/* Live versions: a deleted one (a tombstone) has no files and no bytes. */
	MVMS_TRY(scalar_u64(&out->versions, st, "SELECT count(*) FROM versions WHERE deleted_at = 0"));
	MVMS_TRY(scalar_u64(&out->files, st, "SELECT count(*) FROM files"));
	MVMS_TRY(scalar_u64(&out->contents, st, "SELECT count(*) FROM contents"));
	MVMS_TRY(scalar_u64(&out->logical_bytes, st,
			    "SELECT coalesce(sum(logical_bytes), 0) FROM versions WHERE deleted_at = 0"));
	MVMS_TRY(scalar_u64(&out->unique_bytes, st, "SELECT coalesce(sum(raw_len), 0) FROM chunks"));
	MVMS_TRY(scalar_u64(&out->stored_bytes, st, "SELECT coalesce(sum(size), 0) FROM packs"));
	MVMS_TRY(scalar_u64(&out->chunks, st, "SELECT count(*) FROM chunks"));
	MVMS_TRY(scalar_u64(&out->delta_chunks, st, "SELECT count(*) FROM chunks WHERE codec = 5"));
	MVMS_TRY(scalar_u64(&out->delta_bytes, st,
			    "SELECT coalesce(sum(raw_len), 0) FROM chunks WHERE codec = 5"));
	MVMS_TRY(scalar_u64(&out->packs, st, "SELECT count(*) FROM packs"));
	MVMS_TRY(scalar_u64(&out->sources, st, "SELECT count(*) FROM sources"));
	MVMS_TRY(scalar_u64(&out->source_bytes, st, "SELECT coalesce(sum(size), 0) FROM sources"));
	out->dedup_ratio = out->unique_bytes ? (double)out->logical_bytes / (double)out->unique_bytes
					     : 0.0;
	out->compression_ratio =
		out->stored_bytes ? (double)out->unique_bytes / (double)out->stored_bytes : 0.0;
done:
	return error;
}
