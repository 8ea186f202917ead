/* SPDX-License-Identifier: MIT */
/*
 * Pull: version -> files -> chunk locations -> range reads of packs (consecutive records
 * coalesced) -> decode and verify every chunk (in parallel) -> write -> verify the file id
 * -> rename into place. A file whose bytes do not verify is never left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store_int.h"
#include "hash.h"
#include "codec.h"
#include "pack.h"
#include "pool.h"
#include "manifest.h"

/* One range read covers consecutive records of one pack up to this many bytes. */
#define RANGE_MAX (8u * 1024 * 1024)
/* Bytes decoded per round, then written: small enough that the decoded bytes are still in
 * the CPU cache when write() copies them (16 MiB rounds made pull 3x slower here). */
#define ROUND_BYTES (1u * 1024 * 1024)

typedef struct pull_chunk {
	mvms_oid id;
	mvms_oid pack;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	size_t in_off;   /* record position in the read buffer */
	size_t out_off;  /* decoded position in the output buffer */
	int error;
	char errmsg[160];
} pull_chunk;

typedef struct pull_ctx {
	mvms_store *st;
	mvms_pool *pool;
	mvms_codec **codecs;
	pull_chunk *chunks;
	size_t nchunks, cchunks;
	unsigned char *in, *out;
	size_t in_cap, out_cap;
	uint64_t done_bytes, total_bytes;
	const mvms_pull_options *opts;
	size_t base;     /* first chunk of the round being decoded */
} pull_ctx;

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

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return errno == ENOENT ? 1 : -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static void decode_one(size_t i, unsigned worker, void *ctx)
{
	pull_ctx *c = ctx;
	pull_chunk *ch = &c->chunks[c->base + i];

	ch->error = mvms_pack_decode_record(c->codecs[worker], c->out + ch->out_off, ch->raw_len,
					    &ch->id, c->in + ch->in_off,
					    MVMS_PACK_RECORD_HDR + (size_t)ch->stored_len);
	if (ch->error < 0)
		snprintf(ch->errmsg, sizeof(ch->errmsg), "%s", mvms_error_last());
}

static int ensure(unsigned char **p, size_t *cap, size_t need)
{
	unsigned char *tmp;

	if (need <= *cap)
		return 0;
	tmp = realloc(*p, need);
	if (!tmp)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	*p = tmp;
	*cap = need;
	return 0;
}

/* Reads, decodes, verifies and writes chunks [first, last) of the current file. */
static int pull_round(pull_ctx *c, size_t first, size_t last, int fd, mvms_hasher *fh,
		      const char *path)
{
	size_t i, j, in_need = 0, out_need = 0;
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	for (i = first; i < last; i++) {
		c->chunks[i].out_off = out_need;
		out_need += c->chunks[i].raw_len;
		c->chunks[i].in_off = in_need;
		in_need += MVMS_PACK_RECORD_HDR + (size_t)c->chunks[i].stored_len;
	}
	MVMS_TRY(ensure(&c->in, &c->in_cap, in_need));
	MVMS_TRY(ensure(&c->out, &c->out_cap, out_need));
	/* Coalesce records that sit next to each other in one pack into one read. */
	for (i = first; i < last; i = j) {
		uint64_t end = c->chunks[i].offset + MVMS_PACK_RECORD_HDR + c->chunks[i].stored_len;
		for (j = i + 1; j < last; j++) {
			const pull_chunk *n = &c->chunks[j];
			if (mvms_oid_cmp(&n->pack, &c->chunks[i].pack) != 0 || n->offset != end ||
			    end - c->chunks[i].offset >= RANGE_MAX)
				break;
			end += MVMS_PACK_RECORD_HDR + n->stored_len;
		}
		mvms_object_key(key, sizeof(key), "packs", &c->chunks[i].pack);
		error = c->st->be->get(c->st->be, key, c->chunks[i].offset, c->in + c->chunks[i].in_off,
				       (size_t)(end - c->chunks[i].offset));
		if (error < 0) {
			mvms_oid_fmt(hex, &c->chunks[i].id);
			error = mvms_error_set(error == MVMS_ENOTFOUND ? MVMS_EMISMATCH : error,
					       "pull: %s: cannot read chunk %.16s from %s: %s", path, hex,
					       key, mvms_error_last());
			goto done;
		}
	}
	c->base = first;
	mvms_pool_run(c->pool, last - first, decode_one, c);
	for (i = first; i < last; i++) {
		if (c->chunks[i].error < 0) {
			error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: %s", path, c->chunks[i].errmsg);
			goto done;
		}
		mvms_hasher_add_chunk(fh, &c->chunks[i].id, c->chunks[i].raw_len);
	}
	MVMS_TRY(mvms_write_full(fd, c->out, out_need, path));
	c->done_bytes += out_need;
	if (c->opts->progress)
		c->opts->progress(c->done_bytes, c->total_bytes, c->opts->payload);
done:
	return error;
}

static int load_chunks(pull_ctx *c, const mvms_oid *content)
{
	static const char q[] =
		"SELECT ch.oid, p.oid, ch.offset, ch.raw_len, ch.stored_len FROM contents ct "
		"JOIN content_chunks cc ON cc.content_id = ct.id JOIN chunks ch ON ch.id = cc.chunk_id "
		"JOIN packs p ON p.id = ch.pack_id WHERE ct.oid = ? ORDER BY cc.seq";
	sqlite3_stmt *s = mvms_db_stmt(c->st->db, q);
	int error = 0, rc;

	c->nchunks = 0;
	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, content);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		pull_chunk *ch;
		if (c->nchunks == c->cchunks) {
			size_t ncap = c->cchunks ? c->cchunks * 2 : 256;
			pull_chunk *tmp = realloc(c->chunks, ncap * sizeof(*tmp));
			MVMS_CHECK_ALLOC(tmp, error);
			c->chunks = tmp;
			c->cchunks = ncap;
		}
		ch = &c->chunks[c->nchunks++];
		memset(ch, 0, sizeof(*ch));
		MVMS_TRY(mvms_db_column_oid(&ch->id, s, 0));
		MVMS_TRY(mvms_db_column_oid(&ch->pack, s, 1));
		ch->offset = (uint64_t)sqlite3_column_int64(s, 2);
		ch->raw_len = (uint32_t)sqlite3_column_int64(s, 3);
		ch->stored_len = (uint32_t)sqlite3_column_int64(s, 4);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		error = mvms_db_error(c->st->db, rc, "read chunk list");
done:
	sqlite3_reset(s);
	return error;
}

static int pull_file(pull_ctx *c, const char *dir, const mvms_file_info *f)
{
	char *final = NULL, *tmp = NULL;
	mvms_hasher fh;
	mvms_oid want, got;
	size_t first, last, round;
	uint64_t total = 0;
	int fd = -1, error = 0;

	MVMS_TRY(mvms_path_check(f->path));
	MVMS_TRY(mvms_oid_parse(&want, f->id));
	MVMS_TRY(mkdir_parents(dir, f->path));
	if (asprintf(&final, "%s/%s", dir, f->path) < 0 ||
	    asprintf(&tmp, "%s/%s.mvms-tmp-XXXXXX", dir, f->path) < 0) {
		final = tmp = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: create %s: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	MVMS_TRY(load_chunks(c, &want));
	mvms_hasher_init(&fh);
	for (first = 0; first < c->nchunks; first = last) {
		for (last = first, round = 0; last < c->nchunks && round < ROUND_BYTES; last++) {
			round += c->chunks[last].raw_len;
			total += c->chunks[last].raw_len;
		}
		MVMS_TRY(pull_round(c, first, last, fd, &fh, f->path));
	}
	mvms_hasher_final(&fh, &got);
	if (total != f->size || mvms_oid_cmp(&got, &want) != 0) {
		error = mvms_error_set(MVMS_EMISMATCH,
				       "pull: %s: the file's chunks do not add up to its id %.16s",
				       f->path, f->id);
		goto done;
	}
	if (fchmod(fd, f->mode) < 0 || close(fd) < 0) {
		fd = -1;
		error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, final) < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: rename to %s: %s", final, strerror(errno));
		goto done;
	}
	free(tmp);
	tmp = NULL;
done:
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(final);
	return error;
}

int mvms_pull(mvms_pull_result *out, mvms_store *st, const char *spec, const char *dir,
	      const mvms_pull_options *opts)
{
	mvms_pull_options defaults = MVMS_PULL_OPTIONS_INIT;
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	size_t nfiles = 0, i;
	pull_ctx c;
	double t0 = mvms_now();
	int error = 0, empty;
	unsigned w;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (!opts)
		opts = &defaults;
	c.st = st;
	c.opts = opts;
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	MVMS_TRY(mvms_version_files(&files, &nfiles, st, v));
	empty = dir_is_empty(dir);
	if (empty < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", dir, strerror(errno));
		goto done;
	}
	if (!empty && !opts->force) {
		error = mvms_error_set(MVMS_EEXISTS,
				       "pull: %s is not empty (use --force to write into it)", dir);
		goto done;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		error = mvms_error_set(MVMS_ERROR, "pull: mkdir %s: %s", dir, strerror(errno));
		goto done;
	}
	for (i = 0; i < nfiles; i++)
		c.total_bytes += files[i].size;
	MVMS_TRY(mvms_pool_new(&c.pool, 0));
	c.codecs = calloc(mvms_pool_size(c.pool), sizeof(*c.codecs));
	MVMS_CHECK_ALLOC(c.codecs, error);
	for (w = 0; w < mvms_pool_size(c.pool); w++)
		MVMS_TRY(mvms_codec_new(&c.codecs[w], 0));
	for (i = 0; i < nfiles; i++)
		MVMS_TRY(pull_file(&c, dir, &files[i]));
	snprintf(out->id, sizeof(out->id), "%s", v->id);
	out->number = v->number;
	out->files = nfiles;
	out->bytes = c.done_bytes;
done:
	out->seconds = mvms_now() - t0;
	for (w = 0; c.codecs && w < mvms_pool_size(c.pool); w++)
		mvms_codec_free(c.codecs[w]);
	free(c.codecs);
	mvms_pool_free(c.pool);
	free(c.chunks);
	free(c.in);
	free(c.out);
	mvms_file_list_free(files, nfiles);
	mvms_version_info_free(v);
	return error;
}

int mvms_pull__content_range(mvms_store *st, const mvms_oid *content, uint64_t offset,
			     uint64_t len, mvms_pull__sink sink, void *payload)
{
	static const char q[] =
		"SELECT ch.oid, p.oid, ch.offset, ch.raw_len, ch.stored_len, cc.offset FROM contents ct "
		"JOIN content_chunks cc ON cc.content_id = ct.id JOIN chunks ch ON ch.id = cc.chunk_id "
		"JOIN packs p ON p.id = ch.pack_id WHERE ct.oid = ?1 AND cc.offset < ?2 + ?3 "
		"AND cc.offset + ch.raw_len > ?2 ORDER BY cc.seq";
	sqlite3_stmt *s = NULL;
	mvms_codec *codec = NULL;
	unsigned char *rec = NULL, *raw = NULL;
	size_t rec_cap = 0, raw_cap = 0;
	char key[MVMS_KEY_MAX];
	uint64_t got = 0;
	int error = 0, rc;

	MVMS_TRY(mvms_codec_new(&codec, 0));
	/* A private statement: the sink may run cached statements of its own. */
	if (sqlite3_prepare_v2(mvms_db_handle(st->db), q, -1, &s, NULL) != SQLITE_OK) {
		error = mvms_db_error(st->db, sqlite3_errcode(mvms_db_handle(st->db)), "read range");
		goto done;
	}
	mvms_db_bind_oid(s, 1, content);
	sqlite3_bind_int64(s, 2, (int64_t)offset);
	sqlite3_bind_int64(s, 3, (int64_t)len);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		mvms_oid id, pack;
		uint64_t at = (uint64_t)sqlite3_column_int64(s, 2);
		uint32_t raw_len = (uint32_t)sqlite3_column_int64(s, 3);
		uint32_t stored = (uint32_t)sqlite3_column_int64(s, 4);
		uint64_t cpos = (uint64_t)sqlite3_column_int64(s, 5), from, to;

		MVMS_TRY(mvms_db_column_oid(&id, s, 0));
		MVMS_TRY(mvms_db_column_oid(&pack, s, 1));
		MVMS_TRY(ensure(&rec, &rec_cap, MVMS_PACK_RECORD_HDR + (size_t)stored));
		MVMS_TRY(ensure(&raw, &raw_cap, raw_len ? raw_len : 1));
		mvms_object_key(key, sizeof(key), "packs", &pack);
		MVMS_TRY(st->be->get(st->be, key, at, rec, MVMS_PACK_RECORD_HDR + (size_t)stored));
		MVMS_TRY(mvms_pack_decode_record(codec, raw, raw_len, &id, rec,
						 MVMS_PACK_RECORD_HDR + (size_t)stored));
		from = offset > cpos ? offset - cpos : 0;
		to = offset + len < cpos + raw_len ? offset + len - cpos : raw_len;
		MVMS_TRY(sink(raw + from, (size_t)(to - from), payload));
		got += to - from;
	}
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "read range");
		goto done;
	}
	if (got != len)
		error = mvms_error_set(MVMS_EMISMATCH, "read range: %llu of %llu bytes found",
				       (unsigned long long)got, (unsigned long long)len);
done:
	sqlite3_finalize(s);
	mvms_codec_free(codec);
	free(rec);
	free(raw);
	return error;
}
