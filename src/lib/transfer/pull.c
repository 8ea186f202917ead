/* SPDX-License-Identifier: MIT */
/*
 * Pull: version -> files -> chunk locations -> range reads of packs (consecutive records
 * coalesced) -> decode and verify every chunk (in parallel) -> write -> verify the file id
 * -> rename into place. A file whose bytes do not verify is never left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "mvms/sync.h"

/* One range read covers consecutive records of one pack up to this many bytes. */
#define RANGE_MAX (8u * 1024 * 1024)
/* Bytes decoded per round, then written: small enough that the decoded bytes are still in
 * the CPU cache when write() copies them (16 MiB rounds made pull 3x slower here). */
#define ROUND_BYTES (1u * 1024 * 1024)
/* Over the network (S3, GCS) a read costs a round trip: rounds are larger, their ranges are
 * fetched by this many requests at once, and a range is at most 4 MiB so they spread. */
#define REMOTE_ROUND_BYTES (32u * 1024 * 1024)
#define REMOTE_RANGE_MAX (4u * 1024 * 1024)
#define REMOTE_READERS 8

typedef struct pull_chunk {
	mvms_oid id;
	mvms_oid pack;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	int src;         /* -1: a record in pack @pack; else raw bytes in source file c->srcs[src] */
	size_t in_off;   /* record position in the read buffer */
	size_t out_off;  /* decoded position in the output buffer */
	int error;
	char errmsg[160];
} pull_chunk;

/* One ranged read of consecutive records of a pack. */
typedef struct pull_range {
	size_t first;             /* chunk index it starts at */
	uint64_t offset, len;
	int error;
	char msg[300];
} pull_range;

/* The records of one round as read: a buffer and the ranges that fill it. */
typedef struct pull_set {
	struct pull_ctx *c;
	unsigned char *in;
	size_t in_cap;
	pull_range *ranges;
	size_t nranges, cranges;
	size_t first, last;       /* the round's chunks */
} pull_set;

typedef struct pull_ctx {
	mvms_store *st;
	mvms_pool *pool;
	mvms_codec **codecs;
	pull_chunk *chunks;
	size_t nchunks, cchunks;
	unsigned char *out;           /* the decoded round */
	size_t out_cap;
	uint64_t done_bytes, total_bytes;
	const mvms_pull_options *opts;
	size_t base;     /* first chunk of the round being decoded */
	mvms_pool *io;   /* concurrent reads for a remote backend, or NULL */
	size_t round_bytes, range_max;
	pull_set *decoding;
	pull_set set[2]; /* a remote pull reads the next round into one while it decodes the other */
	struct pull_src { int64_t id; char *path; } *srcs; /* source files chunks come from */
	size_t nsrcs;
} pull_ctx;

/* Bytes a chunk takes where it is kept: a record (header and stored bytes) or raw bytes. */
static size_t span(const pull_chunk *ch)
{
	return ch->src < 0 ? MVMS_PACK_RECORD_HDR + (size_t)ch->stored_len : ch->raw_len;
}

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

int mvms_sync__pull_dir(const char *dir, int force)
{
	int empty = dir_is_empty(dir);

	if (empty < 0)
		return mvms_error_set(MVMS_ERROR, "pull: %s: %s", dir, strerror(errno));
	if (!empty && !force)
		return mvms_error_set(MVMS_EEXISTS, "pull: %s is not empty (use --force to write into it)",
				      dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return mvms_error_set(MVMS_ERROR, "pull: mkdir %s: %s", dir, strerror(errno));
	return 0;
}

static void decode_one(size_t i, unsigned worker, void *ctx)
{
	pull_ctx *c = ctx;
	pull_chunk *ch = &c->chunks[c->base + i];
	const unsigned char *in = c->decoding->in + ch->in_off;
	mvms_oid got;

	if (ch->src >= 0) {
		/* A file a pull wrote: it may have been changed since, so its bytes are checked. */
		mvms_oid_hash(&got, in, ch->raw_len);
		if (mvms_oid_cmp(&got, &ch->id) != 0) {
			ch->error = MVMS_EMISMATCH;
			snprintf(ch->errmsg, sizeof(ch->errmsg), "cache: %s changed since it was pulled",
				 c->srcs[ch->src].path);
			return;
		}
		memcpy(c->out + ch->out_off, in, ch->raw_len);
		ch->error = 0;
		return;
	}
	ch->error = mvms_pack_decode_record(c->codecs[worker], c->out + ch->out_off, ch->raw_len,
					    &ch->id, in, MVMS_PACK_RECORD_HDR + (size_t)ch->stored_len);
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

static void read_one(size_t i, unsigned worker, void *ctx)
{
	pull_set *set = ctx;
	pull_ctx *c = set->c;
	pull_range *r = &set->ranges[i];
	const pull_chunk *ch = &c->chunks[r->first];
	char key[MVMS_KEY_MAX];

	(void)worker;
	if (ch->src >= 0) {
		/* Gone or too short: the file changed (ENOTFOUND, it will be forgotten); any other
		 * failure (EMFILE, EIO) is this pull's problem, not the file's. */
		const char *p = c->srcs[ch->src].path;
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		struct stat sb;
		if (fd < 0)
			r->error = mvms_error_set(errno == ENOENT || errno == ENOTDIR ? MVMS_ENOTFOUND
										    : MVMS_ERROR,
						  "%s: %s", p, strerror(errno));
		else if (fstat(fd, &sb) < 0)
			r->error = mvms_error_set(MVMS_ERROR, "%s: %s", p, strerror(errno));
		else if ((uint64_t)sb.st_size < r->offset + r->len)
			r->error = mvms_error_set(MVMS_ENOTFOUND, "%s is shorter than when it was pulled", p);
		else
			r->error = mvms_read_full(fd, set->in + ch->in_off, (size_t)r->len, r->offset, p);
		if (fd >= 0)
			close(fd);
	} else {
		mvms_object_key(key, sizeof(key), "packs", &ch->pack);
		r->error = mvms_backend_get(c->st->be, key, r->offset, set->in + ch->in_off,
					  (size_t)r->len);
	}
	if (r->error < 0)
		snprintf(r->msg, sizeof(r->msg), "%s", mvms_error_last());
}

/* Lays out the reads of chunks [first, last) into @set: consecutive records of one pack
 * coalesce into one range read. */
static int plan_round(pull_ctx *c, pull_set *set, size_t first, size_t last)
{
	size_t i, j, in_need = 0;
	int error = 0;

	set->first = first;
	set->last = last;
	for (i = first; i < last; i++) {
		c->chunks[i].in_off = in_need;
		in_need += span(&c->chunks[i]);
	}
	MVMS_TRY(ensure(&set->in, &set->in_cap, in_need));
	set->nranges = 0;
	for (i = first; i < last; i = j) {
		uint64_t end = c->chunks[i].offset + span(&c->chunks[i]);
		for (j = i + 1; j < last; j++) {
			const pull_chunk *n = &c->chunks[j];
			if (n->src != c->chunks[i].src ||
			    (n->src < 0 && mvms_oid_cmp(&n->pack, &c->chunks[i].pack) != 0) ||
			    n->offset != end || end - c->chunks[i].offset >= c->range_max)
				break;
			end += span(n);
		}
		if (set->nranges == set->cranges) {
			size_t ncap = set->cranges ? set->cranges * 2 : 16;
			pull_range *t = realloc(set->ranges, ncap * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			set->ranges = t;
			set->cranges = ncap;
		}
		set->ranges[set->nranges].first = i;
		set->ranges[set->nranges].offset = c->chunks[i].offset;
		set->ranges[set->nranges].len = end - c->chunks[i].offset;
		set->ranges[set->nranges].error = 0;
		set->nranges++;
	}
done:
	return error;
}

/* Runs a planned round's reads; failures stay in its ranges for finish_round. Also the
 * body of the prefetch thread, which must not touch anything but @set and its chunks. */
static void *read_round(void *arg)
{
	pull_set *set = arg;
	size_t i;

	if (set->c->io)
		mvms_pool_run(set->c->io, set->nranges, read_one, set);
	else
		for (i = 0; i < set->nranges; i++)
			read_one(i, 0, set);
	return NULL;
}

/* A source file could not be read or no longer holds its chunks: forget it (its chunks
 * count as missing from now on) and say so; a caller may fetch them and try again. */
static int source_failed(pull_ctx *c, int src, const char *path, const char *why)
{
	if (mvms_sources_forget(c->st, c->srcs[src].id) < 0)
		return MVMS_ERROR;
	return mvms_error_set(MVMS_EMISMATCH, "pull: %s: %s: it is no longer used as a cache",
			      path, why);
}

/* Decodes, verifies and writes a round that has been read. */
static int finish_round(pull_ctx *c, pull_set *set, int fd, mvms_hasher *fh, const char *path)
{
	size_t i, end, first = set->first, last = set->last;
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	for (i = 0; i < set->nranges; i++)
		if (set->ranges[i].error < 0) {
			const pull_chunk *ch = &c->chunks[set->ranges[i].first];
			if (ch->src >= 0 && set->ranges[i].error == MVMS_ENOTFOUND) {
				error = source_failed(c, ch->src, path, set->ranges[i].msg);
				goto done;
			}
			if (ch->src >= 0) {
				error = mvms_error_set(set->ranges[i].error, "pull: %s: %s", path,
						       set->ranges[i].msg);
				goto done;
			}
			mvms_oid_fmt(hex, &c->chunks[set->ranges[i].first].id);
			mvms_object_key(key, sizeof(key), "packs", &c->chunks[set->ranges[i].first].pack);
			error = mvms_error_set(set->ranges[i].error == MVMS_ENOTFOUND ? MVMS_EMISMATCH
										 : set->ranges[i].error,
					       "pull: %s: cannot read chunk %.16s from %s: %s", path, hex,
					       key, set->ranges[i].msg);
			goto done;
		}
	/* Decoded and written in cache-sized steps even when the round read is large: the
	 * decoded bytes are still in the CPU cache when write() copies them. */
	for (; first < last; first = end) {
		size_t out_need = 0;
		for (end = first; end < last && out_need < ROUND_BYTES; end++) {
			c->chunks[end].out_off = out_need;
			out_need += c->chunks[end].raw_len;
		}
		MVMS_TRY(ensure(&c->out, &c->out_cap, out_need));
		c->base = first;
		c->decoding = set;
		mvms_pool_run(c->pool, end - first, decode_one, c);
		for (i = first; i < end; i++) {
			if (c->chunks[i].error < 0 && c->chunks[i].src >= 0) {
				error = source_failed(c, c->chunks[i].src, path, c->chunks[i].errmsg);
				goto done;
			}
			if (c->chunks[i].error < 0) {
				error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: %s", path,
						       c->chunks[i].errmsg);
				goto done;
			}
			mvms_hasher_add_chunk(fh, &c->chunks[i].id, c->chunks[i].raw_len);
		}
		MVMS_TRY(mvms_write_full(fd, c->out, out_need, path));
		c->done_bytes += out_need;
		if (c->opts->progress)
			c->opts->progress(c->done_bytes, c->total_bytes, c->opts->payload);
	}
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
		ch->src = -1;
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

/* A chunk that no pack holds: in a source file? Sets ch->src, offset and lengths if so. */
static int load_from_source(pull_ctx *c, pull_chunk *ch)
{
	static const char q[] =
		"SELECT s.id, s.path, c.offset, c.length FROM source_chunks c "
		"JOIN sources s ON s.id = c.source_id WHERE c.chunk = ? LIMIT 1";
	sqlite3_stmt *s = mvms_db_stmt(c->st->db, q);
	int64_t id;
	size_t k;
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, &ch->id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		for (k = 0; k < c->nsrcs && c->srcs[k].id != id; k++)
			;
		if (k == c->nsrcs) {
			struct pull_src *t = realloc(c->srcs, (k + 1) * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			c->srcs = t;
			c->srcs[k].id = id;
			c->srcs[k].path = mvms_db_column_strdup(s, 1);
			MVMS_CHECK_ALLOC(c->srcs[k].path, error);
			c->nsrcs++;
		}
		ch->src = (int)k;
		ch->offset = (uint64_t)sqlite3_column_int64(s, 2);
		ch->raw_len = ch->stored_len = (uint32_t)sqlite3_column_int64(s, 3);
	} else if (rc != SQLITE_DONE) {
		error = mvms_db_error(c->st->db, rc, "look up a source");
	}
done:
	sqlite3_reset(s);
	return error;
}

/* Looks each chunk up (for a file this store knows by chunk ids only: a remote pull), in
 * packs first, then in source files. */
static int load_chunk_ids(pull_ctx *c, const mvms_oid *ids, size_t n)
{
	static const char q[] =
		"SELECT p.oid, ch.offset, ch.raw_len, ch.stored_len FROM chunks ch "
		"JOIN packs p ON p.id = ch.pack_id WHERE ch.oid = ?";
	sqlite3_stmt *s;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t i;
	int error = 0, rc, began = 0;

	c->nchunks = 0;
	if (n > c->cchunks) {
		pull_chunk *t = realloc(c->chunks, n * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		c->chunks = t;
		c->cchunks = n;
	}
	MVMS_TRY(mvms_db_read_begin(c->st->db, &began));
	for (i = 0; i < n; i++) {
		pull_chunk *ch = &c->chunks[i];
		if (!(s = mvms_db_stmt(c->st->db, q))) {
			error = MVMS_ERROR;
			goto done;
		}
		memset(ch, 0, sizeof(*ch));
		ch->id = ids[i];
		mvms_db_bind_oid(s, 1, &ids[i]);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			error = mvms_db_column_oid(&ch->pack, s, 0);
			ch->offset = (uint64_t)sqlite3_column_int64(s, 1);
			ch->raw_len = (uint32_t)sqlite3_column_int64(s, 2);
			ch->stored_len = (uint32_t)sqlite3_column_int64(s, 3);
		}
		sqlite3_reset(s);
		if (error < 0)
			goto done;
		ch->src = -1;
		if (rc != SQLITE_ROW)
			MVMS_TRY(load_from_source(c, ch));
		if (rc != SQLITE_ROW && ch->src < 0) {
			mvms_oid_fmt(hex, &ids[i]);
			error = mvms_error_set(MVMS_ENOTFOUND, "chunk %s is not in this store", hex);
			goto done;
		}
		c->nchunks++;
	}
done:
	mvms_db_read_end(c->st->db, began);
	return error;
}

int mvms_sync__file_begin(int *fd, char **tmp, char **final, const char *dir, const char *path)
{
	const char *slash;
	int error = 0;

	*fd = -1;
	*tmp = *final = NULL;
	MVMS_TRY(mvms_path_check(path));
	MVMS_TRY(mkdir_parents(dir, path));
	/* The temporary name is short and fixed, beside the final one: a name derived from
	 * the file's would overflow NAME_MAX for names near 255 bytes. */
	slash = strrchr(path, '/');
	if (asprintf(final, "%s/%s", dir, path) < 0 ||
	    asprintf(tmp, "%s/%.*s.mvms-tmp-XXXXXX", dir,
		     slash ? (int)(slash - path + 1) : 0, path) < 0) {
		free(*final);
		*final = *tmp = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	*fd = mkostemp(*tmp, O_CLOEXEC);
	if (*fd < 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: create %s: %s", *tmp, strerror(errno));
		free(*tmp);
		free(*final);
		*tmp = *final = NULL;
	}
done:
	return error;
}

int mvms_sync__file_end(int fd, char *tmp, char *final, unsigned mode, int keep)
{
	int error = 0;

	if (keep && (fchmod(fd, mode) < 0 || close(fd) < 0)) {
		fd = -1;
		error = mvms_error_set(MVMS_ERROR, "pull: %s: %s", tmp, strerror(errno));
		keep = 0;
	} else if (keep) {
		fd = -1;
		if (rename(tmp, final) < 0) {
			error = mvms_error_set(MVMS_ERROR, "pull: rename to %s: %s", final, strerror(errno));
			keep = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	if (!keep && tmp)
		unlink(tmp);
	free(tmp);
	free(final);
	return error;
}

/* The end of the round that starts at chunk @first; adds its bytes to *total. */
static size_t round_end(const pull_ctx *c, size_t first, uint64_t *total)
{
	size_t last;
	uint64_t round = 0;

	for (last = first; last < c->nchunks && round < c->round_bytes; last++) {
		round += c->chunks[last].raw_len;
		*total += c->chunks[last].raw_len;
	}
	return last;
}

/* Writes @path from the chunks loaded in @c, checked, through a temporary name. */
static int write_loaded(pull_ctx *c, const char *dir, const char *path, unsigned mode,
			uint64_t size, const mvms_oid *want)
{
	char *final = NULL, *tmp = NULL, hex[MVMS_OID_HEXSZ + 1];
	mvms_hasher fh;
	mvms_oid got;
	size_t first, last, next_last = 0;
	uint64_t total = 0;
	pull_set *cur, *next;
	pthread_t prefetch;
	int fd = -1, error = 0, ok = 0, prefetching = 0;

	MVMS_TRY(mvms_sync__file_begin(&fd, &tmp, &final, dir, path));
	mvms_hasher_init(&fh);
	/* Over the network the next round is read while this one is decoded and written, so
	 * the transfer never waits for the CPU (a remote round is 32 MiB: two in memory). */
	cur = &c->set[0];
	next = &c->set[1];
	last = round_end(c, 0, &total);
	if (c->nchunks) {
		MVMS_TRY(plan_round(c, cur, 0, last));
		read_round(cur);
	}
	for (first = 0; first < c->nchunks; first = last, last = next_last) {
		pull_set *t;
		next_last = last < c->nchunks ? round_end(c, last, &total) : last;
		if (c->io && last < c->nchunks) {
			MVMS_TRY(plan_round(c, next, last, next_last));
			if (pthread_create(&prefetch, NULL, read_round, next) == 0)
				prefetching = 1;
			else
				read_round(next);
		}
		error = finish_round(c, cur, fd, &fh, path);
		if (prefetching) {
			pthread_join(prefetch, NULL);
			prefetching = 0;
		}
		if (error < 0)
			goto done;
		/* A local read is a page-cache copy: read the next round only now, so a round's
		 * input is still in the CPU cache when it is decoded. */
		if (!c->io && last < c->nchunks) {
			MVMS_TRY(plan_round(c, next, last, next_last));
			read_round(next);
		}
		t = cur;
		cur = next;
		next = t;
	}
	mvms_hasher_final(&fh, &got);
	if (total != size || mvms_oid_cmp(&got, want) != 0) {
		mvms_oid_fmt(hex, want);
		error = mvms_error_set(MVMS_EMISMATCH,
				       "pull: %s: the file's chunks do not add up to its id %.16s",
				       path, hex);
		goto done;
	}
	ok = 1;
done:
	if (tmp) {
		int end = mvms_sync__file_end(fd, tmp, final, mode, ok);
		if (error == 0)
			error = end;
	}
	return error;
}

static int pull_file(pull_ctx *c, const char *dir, const mvms_file_info *f)
{
	mvms_oid want;
	int error = 0;

	MVMS_TRY(mvms_oid_parse(&want, f->id));
	MVMS_TRY(load_chunks(c, &want));
	MVMS_TRY(write_loaded(c, dir, f->path, f->mode, f->size, &want));
done:
	return error;
}

static int pull_ctx_init(pull_ctx *c, mvms_store *st, const mvms_pull_options *opts)
{
	unsigned w;
	int error = 0;

	memset(c, 0, sizeof(*c));
	c->st = st;
	c->opts = opts;
	c->set[0].c = c;
	c->set[1].c = c;
	c->round_bytes = ROUND_BYTES;
	c->range_max = RANGE_MAX;
	if (st && (mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_REMOTE)) {
		c->round_bytes = REMOTE_ROUND_BYTES;
		c->range_max = REMOTE_RANGE_MAX;
		MVMS_TRY(mvms_pool_new(&c->io, REMOTE_READERS));
	}
	MVMS_TRY(mvms_pool_new(&c->pool, 0));
	c->codecs = calloc(mvms_pool_size(c->pool), sizeof(*c->codecs));
	MVMS_CHECK_ALLOC(c->codecs, error);
	for (w = 0; w < mvms_pool_size(c->pool); w++)
		MVMS_TRY(mvms_codec_new(&c->codecs[w], 0));
done:
	return error;
}

static void pull_ctx_dispose(pull_ctx *c)
{
	unsigned w;

	for (w = 0; c->codecs && w < mvms_pool_size(c->pool); w++)
		mvms_codec_free(c->codecs[w]);
	free(c->codecs);
	mvms_pool_free(c->pool);
	mvms_pool_free(c->io);
	free(c->set[0].ranges);
	free(c->set[1].ranges);
	free(c->set[0].in);
	free(c->set[1].in);
	free(c->chunks);
	free(c->out);
	for (w = 0; w < c->nsrcs; w++)
		free(c->srcs[w].path);
	free(c->srcs);
}

/* ---- a file arriving as its stored records ---- */

/* Blocks of whole records waiting for the decoder, at most: receiving overlaps decoding. */
#define RECV_QUEUE 4

typedef struct recv_block {
	struct recv_block *next;
	unsigned char *data;      /* records back to back */
	size_t len;
	pull_chunk *chunks;       /* one per record, in_off into data */
	size_t n;
	uint64_t raw;
} recv_block;

struct mvms_sync__recv {
	/* The receiver's side: the block being filled, and the record arriving at its end. */
	recv_block *cur;
	size_t cap, ccur;         /* cur's data and chunks capacity */
	size_t have, need;        /* bytes of the arriving record, its size (0: header not in) */
	const unsigned char *fm;
	size_t n, next;           /* chunks of the file; the next one expected */
	/* The decoder's side. */
	pull_ctx c;               /* pool, codecs, output buffer */
	int fd;
	const char *path;
	mvms_hasher fh;
	struct mvms_chunk_sink *sink;
	mvms_progress_cb progress;
	void *payload;
	/* Between them. */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	recv_block *head, *tail;
	size_t queued;
	int closing;
	int error;                /* the decoder's first error, and its message */
	char msg[400];
};

static void recv_block_free(recv_block *b)
{
	if (b) {
		free(b->data);
		free(b->chunks);
		free(b);
	}
}

/* The decoder: checks a block's records in parallel, writes their bytes, caches them. */
static int recv_decode(mvms_sync__recv *rv, recv_block *b)
{
	pull_ctx *c = &rv->c;
	size_t i, out_need = 0;
	int error = 0;

	for (i = 0; i < b->n; i++) {
		b->chunks[i].out_off = out_need;
		out_need += b->chunks[i].raw_len;
	}
	MVMS_TRY(ensure(&c->out, &c->out_cap, out_need ? out_need : 1));
	/* decode_one reads the round's chunks and input from the context: lend it the block. */
	c->chunks = b->chunks;
	c->set[0].in = b->data;
	c->decoding = &c->set[0];
	c->base = 0;
	mvms_pool_run(c->pool, b->n, decode_one, c);
	c->chunks = NULL;
	c->set[0].in = NULL;
	for (i = 0; i < b->n; i++) {
		const pull_chunk *ch = &b->chunks[i];
		if (ch->error < 0) {
			error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: a chunk arrived corrupt "
					       "(the server's copy may be damaged: run verify there): %s",
					       rv->path, ch->errmsg);
			goto done;
		}
		mvms_hasher_add_chunk(&rv->fh, &ch->id, ch->raw_len);
	}
	MVMS_TRY(mvms_write_full(rv->fd, c->out, out_need, rv->path));
	c->done_bytes += out_need;
	if (rv->progress)
		rv->progress(c->done_bytes, c->total_bytes, rv->payload);
	if (rv->sink) {
		error = mvms_sync__sink_add_records(rv->sink, b->data, b->len, b->n);
		b->data = NULL;
	}
done:
	return error;
}

static void *recv_main(void *arg)
{
	mvms_sync__recv *rv = arg;
	recv_block *b;
	int error = 0;

	for (;;) {
		pthread_mutex_lock(&rv->lock);
		while (!rv->head && !rv->closing)
			pthread_cond_wait(&rv->more, &rv->lock);
		if ((b = rv->head) != NULL) {
			rv->head = b->next;
			if (!rv->head)
				rv->tail = NULL;
			rv->queued--;
			pthread_cond_signal(&rv->room);
		}
		pthread_mutex_unlock(&rv->lock);
		if (!b)
			break;
		if (error == 0 && (error = recv_decode(rv, b)) < 0) {
			pthread_mutex_lock(&rv->lock);
			rv->error = error;
			snprintf(rv->msg, sizeof(rv->msg), "%s", mvms_error_last());
			pthread_cond_broadcast(&rv->room);
			pthread_mutex_unlock(&rv->lock);
		}
		recv_block_free(b);
	}
	return NULL;
}

int mvms_sync__recv_new(mvms_sync__recv **out, int fd, const char *path, const void *fm, size_t n,
			struct mvms_chunk_sink *sink, mvms_progress_cb progress, void *payload,
			uint64_t done, uint64_t total)
{
	mvms_sync__recv *rv = calloc(1, sizeof(*rv));
	int error = 0;

	*out = NULL;
	MVMS_CHECK_ALLOC(rv, error);
	pthread_mutex_init(&rv->lock, NULL);
	pthread_cond_init(&rv->more, NULL);
	pthread_cond_init(&rv->room, NULL);
	MVMS_TRY(pull_ctx_init(&rv->c, NULL, NULL));
	rv->c.done_bytes = done;
	rv->c.total_bytes = total;
	rv->fm = fm;
	rv->n = n;
	rv->fd = fd;
	rv->path = path;
	rv->sink = sink;
	rv->progress = progress;
	rv->payload = payload;
	mvms_hasher_init(&rv->fh);
	if (pthread_create(&rv->thread, NULL, recv_main, rv) != 0) {
		error = mvms_error_set(MVMS_ERROR, "pull: cannot start the decoder thread");
		goto done;
	}
	rv->started = 1;
	*out = rv;
	rv = NULL;
done:
	mvms_sync__recv_free(rv);
	return error;
}

/* Hands the filled block to the decoder (waiting while RECV_QUEUE blocks wait). */
static int recv_push(mvms_sync__recv *rv)
{
	recv_block *b = rv->cur;
	int error = 0;

	rv->cur = NULL;
	rv->cap = rv->ccur = 0;
	pthread_mutex_lock(&rv->lock);
	while (rv->queued >= RECV_QUEUE && rv->error == 0)
		pthread_cond_wait(&rv->room, &rv->lock);
	if ((error = rv->error) == 0) {
		if (rv->tail)
			rv->tail->next = b;
		else
			rv->head = b;
		rv->tail = b;
		rv->queued++;
		b = NULL;
		pthread_cond_signal(&rv->more);
	}
	pthread_mutex_unlock(&rv->lock);
	if (error < 0)
		error = mvms_error_set(error, "%s", rv->msg);
	recv_block_free(b);
	return error;
}

/* Room for @need more bytes in the block being filled (a new block when there is none). */
static int recv_room(mvms_sync__recv *rv, size_t need)
{
	int error = 0;

	if (!rv->cur) {
		rv->cur = calloc(1, sizeof(*rv->cur));
		MVMS_CHECK_ALLOC(rv->cur, error);
	}
	if (rv->cur->len + need > rv->cap) {
		/* A block closes after ROUND_BYTES of chunks: this is enough but for huge chunks. */
		size_t want = rv->cur->len + need + ROUND_BYTES + ROUND_BYTES / 4;
		unsigned char *t = realloc(rv->cur->data, want);
		MVMS_CHECK_ALLOC(t, error);
		rv->cur->data = t;
		rv->cap = want;
	}
done:
	return error;
}

/* The header of the arriving record is in: it must name the chunk the file has next, with
 * its length, and a codec and stored size the cache's pack writer accepts too (else a bad
 * stream could make us buffer without end, or fail only when the cache is written). Sets
 * rv->need. */
static int recv_header(mvms_sync__recv *rv)
{
	const unsigned char *e;
	char hex[MVMS_OID_HEXSZ + 1], got[MVMS_OID_HEXSZ + 1];
	mvms_pack_record h;
	mvms_oid want;
	int error = 0;

	if (rv->next >= rv->n) {
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: more bytes than the file has",
				       rv->path);
		goto done;
	}
	mvms_pack_record_get(&h, rv->cur->data + rv->cur->len);
	e = rv->fm + 32 + rv->next * 40;
	memcpy(want.id, e, MVMS_OID_RAWSZ);
	mvms_oid_fmt(hex, &want);
	if (mvms_oid_cmp(&want, &h.id) != 0) {
		mvms_oid_fmt(got, &h.id);
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: the server sent chunk %.16s where "
				       "chunk %.16s belongs", rv->path, got, hex);
		goto done;
	}
	if (h.raw_len != mvms_le64_get(e + 32)) {
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: chunk %.16s came as %u bytes, its file "
				       "lists %llu", rv->path, hex, (unsigned)h.raw_len,
				       (unsigned long long)mvms_le64_get(e + 32));
		goto done;
	}
	if (!mvms_pack_record_ok(h.codec, h.raw_len, h.stored_len)) {
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: chunk %.16s came with codec %u and %u "
				       "stored bytes for %u: not a record this store can keep", rv->path,
				       hex, (unsigned)h.codec, (unsigned)h.stored_len, (unsigned)h.raw_len);
		goto done;
	}
	rv->need = MVMS_PACK_RECORD_HDR + (size_t)h.stored_len;
	MVMS_TRY(recv_room(rv, rv->need));
done:
	return error;
}

/* The arriving record is whole: it joins the block, which goes to the decoder when full. */
static int recv_record(mvms_sync__recv *rv)
{
	recv_block *b = rv->cur;
	mvms_pack_record h;
	pull_chunk *ch;
	int error = 0;

	if (b->n == rv->ccur) {
		size_t ncap = rv->ccur ? rv->ccur * 2 : 64;
		pull_chunk *t = realloc(b->chunks, ncap * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		b->chunks = t;
		rv->ccur = ncap;
	}
	mvms_pack_record_get(&h, b->data + b->len);
	ch = &b->chunks[b->n++];
	memset(ch, 0, sizeof(*ch));
	ch->src = -1;
	ch->id = h.id;
	ch->raw_len = h.raw_len;
	ch->stored_len = h.stored_len;
	ch->in_off = b->len;
	b->len += rv->need;
	b->raw += ch->raw_len;
	rv->have = rv->need = 0;
	rv->next++;
	if (b->raw >= ROUND_BYTES)
		MVMS_TRY(recv_push(rv));
done:
	return error;
}

int mvms_sync__recv_add(mvms_sync__recv *rv, const void *data, size_t len)
{
	const unsigned char *p = data;
	int error = 0;

	/* Each byte is copied once, from the caller's buffer to its place in a block. */
	while (len > 0) {
		size_t take;
		if (rv->need == 0) {
			MVMS_TRY(recv_room(rv, MVMS_PACK_RECORD_HDR));
			take = MVMS_PACK_RECORD_HDR - rv->have < len ? MVMS_PACK_RECORD_HDR - rv->have : len;
		} else {
			take = rv->need - rv->have < len ? rv->need - rv->have : len;
		}
		memcpy(rv->cur->data + rv->cur->len + rv->have, p, take);
		rv->have += take;
		p += take;
		len -= take;
		if (rv->need == 0 && rv->have == MVMS_PACK_RECORD_HDR)
			MVMS_TRY(recv_header(rv));
		if (rv->need != 0 && rv->have == rv->need)
			MVMS_TRY(recv_record(rv));
	}
	/* The decoder's errors stop the transfer here too, not only at the next push. */
	pthread_mutex_lock(&rv->lock);
	error = rv->error;
	pthread_mutex_unlock(&rv->lock);
	if (error < 0)
		error = mvms_error_set(error, "%s", rv->msg);
done:
	return error;
}

/* Stops the decoder after what is queued (or, with @drop, at once) and waits for it. */
static void recv_stop(mvms_sync__recv *rv, int drop)
{
	recv_block *b, *next;

	if (!rv->started)
		return;
	pthread_mutex_lock(&rv->lock);
	if (drop) {
		for (b = rv->head; b; b = next) {
			next = b->next;
			recv_block_free(b);
		}
		rv->head = rv->tail = NULL;
		rv->queued = 0;
	}
	rv->closing = 1;
	pthread_cond_signal(&rv->more);
	pthread_mutex_unlock(&rv->lock);
	pthread_join(rv->thread, NULL);
	rv->started = 0;
}

int mvms_sync__recv_finish(mvms_sync__recv *rv, const mvms_oid *want)
{
	mvms_oid got;
	char hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	if (rv->cur && rv->cur->n)
		error = recv_push(rv);
	recv_stop(rv, error < 0);
	if (error < 0)
		goto done;
	if (rv->error < 0) {
		error = mvms_error_set(rv->error, "%s", rv->msg);
		goto done;
	}
	mvms_hasher_final(&rv->fh, &got);
	if (rv->next != rv->n || rv->have != 0 || mvms_oid_cmp(&got, want) != 0) {
		mvms_oid_fmt(hex, want);
		error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: the file that arrived is short or "
				       "does not match its id %.16s", rv->path, hex);
	}
done:
	return error;
}

uint64_t mvms_sync__recv_done(const mvms_sync__recv *rv)
{
	return rv->c.done_bytes;
}

void mvms_sync__recv_free(mvms_sync__recv *rv)
{
	if (!rv)
		return;
	recv_stop(rv, 1);
	pull_ctx_dispose(&rv->c);
	pthread_mutex_destroy(&rv->lock);
	pthread_cond_destroy(&rv->more);
	pthread_cond_destroy(&rv->room);
	recv_block_free(rv->cur);
	free(rv);
}

int mvms_sync_write_file(mvms_store *st, const char *dir, const char *path, unsigned mode,
			 uint64_t size, const mvms_oid *id, const mvms_oid *chunks, size_t nchunks)
{
	mvms_pull_options opts = MVMS_PULL_OPTIONS_INIT;
	pull_ctx c;
	int error = 0;

	MVMS_TRY(pull_ctx_init(&c, st, &opts));
	MVMS_TRY(load_chunk_ids(&c, chunks, nchunks));
	MVMS_TRY(write_loaded(&c, dir, path, mode == 0755 ? 0755 : 0644, size, id));
done:
	pull_ctx_dispose(&c);
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
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	MVMS_TRY(pull_ctx_init(&c, st, opts));
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	MVMS_TRY(mvms_version_files(&files, &nfiles, st, v));
	MVMS_TRY(mvms_sync__pull_dir(dir, opts->force));
	for (i = 0; i < nfiles; i++)
		c.total_bytes += files[i].size;
	for (i = 0; i < nfiles; i++)
		MVMS_TRY(pull_file(&c, dir, &files[i]));
	snprintf(out->id, sizeof(out->id), "%s", v->id);
	out->number = v->number;
	out->files = nfiles;
	out->bytes = c.done_bytes;
done:
	out->seconds = mvms_now() - t0;
	pull_ctx_dispose(&c);
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
		MVMS_TRY(mvms_backend_get(st->be, key, at, rec, MVMS_PACK_RECORD_HDR + (size_t)stored));
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

/* Records read with one backend read in the records mode, at most. */
#define RECORDS_RUN (4u * 1024 * 1024)

typedef struct reader_row {
	mvms_oid id, pack;
	uint64_t at;
	uint32_t raw_len, stored;
	uint8_t codec;
} reader_row;

struct mvms_file_reader {
	mvms_store *st;
	sqlite3_stmt *chunks;   /* its own statement: other requests use the cached ones */
	mvms_codec *codec;
	unsigned char *rec, *raw;
	size_t rec_cap, raw_cap;
	uint64_t start, end;    /* bytes of the file still to deliver: [start, end) */
	int records;            /* deliver stored records, not bytes */
	reader_row *run;        /* the records mode: rows of the run being read */
	size_t crun;
	reader_row ahead;       /* a row stepped to but not in the last run */
	int have_ahead;
	size_t nrun, run_len;   /* the run planned by next_run */
};

static int reader_open(mvms_file_reader **out, uint64_t *size_out, char *id_out,
		       mvms_store *st, const char *spec, const char *path, uint64_t start,
		       uint64_t end, int records)
{
	static const char q_file[] =
		"SELECT c.id, c.oid, c.size FROM versions v JOIN files f ON f.version_id = v.id "
		"JOIN contents c ON c.id = f.content_id WHERE v.oid = ? AND f.path = ?";
	static const char q_chunks[] =
		"SELECT ch.oid, p.oid, ch.offset, ch.raw_len, ch.stored_len, cc.offset, ch.codec "
		"FROM content_chunks cc JOIN chunks ch ON ch.id = cc.chunk_id "
		"JOIN packs p ON p.id = ch.pack_id WHERE cc.content_id = ?1 "
		"AND cc.offset + ch.raw_len > ?2 AND cc.offset < ?3 ORDER BY cc.seq";
	mvms_file_reader *r = NULL;
	mvms_version_info *v = NULL;
	sqlite3_stmt *s;
	int64_t content = 0;
	uint64_t size = 0;
	mvms_oid id;
	int error = 0, rc;

	*out = NULL;
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	if (!(s = mvms_db_stmt(st->db, q_file))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, v->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		content = sqlite3_column_int64(s, 0);
		error = mvms_db_column_oid(&id, s, 1);
		size = (uint64_t)sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	if (error < 0)
		goto done;
	if (rc != SQLITE_ROW) {
		error = mvms_error_set(MVMS_ENOTFOUND, "%s@v%lld has no file '%s'", v->model,
				       (long long)v->number, path);
		goto done;
	}
	if (end == 0)
		end = size;
	if (start > end || end > size) {
		error = mvms_error_set(MVMS_EINVALID, "range %llu-%llu is outside the file (%llu bytes)",
				       (unsigned long long)start, (unsigned long long)end,
				       (unsigned long long)size);
		goto done;
	}
	r = calloc(1, sizeof(*r));
	MVMS_CHECK_ALLOC(r, error);
	r->st = st;
	r->start = start;
	r->end = end;
	MVMS_TRY(mvms_codec_new(&r->codec, 0));
	if (sqlite3_prepare_v2(mvms_db_handle(st->db), q_chunks, -1, &r->chunks, NULL) != SQLITE_OK) {
		error = mvms_db_error(st->db, sqlite3_errcode(mvms_db_handle(st->db)), "read file");
		goto done;
	}
	sqlite3_bind_int64(r->chunks, 1, content);
	sqlite3_bind_int64(r->chunks, 2, (int64_t)start);
	sqlite3_bind_int64(r->chunks, 3, (int64_t)end);
	r->records = records;
	if (records) {
		/* The stream's length, for Content-Length: a header per record and its bytes. */
		static const char q_len[] =
			"SELECT count(*), total(ch.stored_len) FROM content_chunks cc "
			"JOIN chunks ch ON ch.id = cc.chunk_id WHERE cc.content_id = ?";
		if (!(s = mvms_db_stmt(st->db, q_len))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, content);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			size = (uint64_t)sqlite3_column_int64(s, 0) * MVMS_PACK_RECORD_HDR +
			       (uint64_t)sqlite3_column_double(s, 1);
		else
			error = mvms_db_error(st->db, rc, "read file");
		sqlite3_reset(s);
		if (error < 0)
			goto done;
	}
	if (size_out)
		*size_out = size;
	if (id_out)
		mvms_oid_fmt(id_out, &id);
	*out = r;
	r = NULL;
done:
	mvms_file_reader_free(r);
	mvms_version_info_free(v);
	return error;
}

int mvms_file_reader_open(mvms_file_reader **out, uint64_t *size_out, char *id_out,
			  mvms_store *st, const char *spec, const char *path, uint64_t start,
			  uint64_t end)
{
	return reader_open(out, size_out, id_out, st, spec, path, start, end, 0);
}

int mvms_file_reader_open_records(mvms_file_reader **out, uint64_t *bytes_out, char *id_out,
				  mvms_store *st, const char *spec, const char *path)
{
	return reader_open(out, bytes_out, id_out, st, spec, path, 0, 0, 1);
}

/* The records mode: the next run of consecutive records of one pack, to be read with one
 * backend read. */
int mvms_file_reader_next_run(size_t *len, mvms_file_reader *r)
{
	size_t n = 0, used = 0;
	int error = 0, rc;

	*len = 0;
	if (!r->records)
		return mvms_error_set(MVMS_EINVALID, "read file: not opened for records");
	while (r->start < r->end) {
		reader_row *row = &r->ahead;
		if (!r->have_ahead) {
			rc = sqlite3_step(r->chunks);
			if (rc == SQLITE_DONE) {
				/* Stepping again would start the query over. */
				r->start = r->end;
				break;
			}
			if (rc != SQLITE_ROW) {
				error = mvms_db_error(r->st->db, rc, "read file");
				goto done;
			}
			MVMS_TRY(mvms_db_column_oid(&row->id, r->chunks, 0));
			MVMS_TRY(mvms_db_column_oid(&row->pack, r->chunks, 1));
			row->at = (uint64_t)sqlite3_column_int64(r->chunks, 2);
			row->raw_len = (uint32_t)sqlite3_column_int64(r->chunks, 3);
			row->stored = (uint32_t)sqlite3_column_int64(r->chunks, 4);
			row->codec = (uint8_t)sqlite3_column_int(r->chunks, 6);
			r->have_ahead = 1;
		}
		if (n > 0 && (mvms_oid_cmp(&row->pack, &r->run[0].pack) != 0 ||
			      row->at != r->run[0].at + used ||
			      used + MVMS_PACK_RECORD_HDR + row->stored > RECORDS_RUN))
			break;
		if (n == r->crun) {
			size_t ncap = r->crun ? r->crun * 2 : 64;
			reader_row *t = realloc(r->run, ncap * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			r->run = t;
			r->crun = ncap;
		}
		r->run[n++] = *row;
		used += MVMS_PACK_RECORD_HDR + (size_t)row->stored;
		r->have_ahead = 0;
	}
	r->nrun = n;
	r->run_len = used;
	*len = used;
done:
	return error;
}

/* Reads the run planned by next_run. Each header is compared with the index (a misplaced
 * offset shows here); the bytes are not decoded: the receiver checks every chunk. */
int mvms_file_reader_read_run(void *dst, mvms_file_reader *r)
{
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	unsigned char *p = dst;
	size_t i, off;
	int error = 0;

	if (r->nrun == 0)
		goto done;
	mvms_object_key(key, sizeof(key), "packs", &r->run[0].pack);
	MVMS_TRY(mvms_backend_get(r->st->be, key, r->run[0].at, dst, r->run_len));
	for (i = 0, off = 0; i < r->nrun; off += MVMS_PACK_RECORD_HDR + r->run[i].stored, i++) {
		if (!mvms_pack_record_is(p + off, &r->run[i].id, r->run[i].codec, r->run[i].raw_len,
					 r->run[i].stored)) {
			mvms_oid_fmt(hex, &r->run[i].id);
			error = mvms_error_set(MVMS_EMISMATCH, "read file: the record of chunk %.16s in "
					       "%s is not where the index says", hex, key);
			goto done;
		}
	}
done:
	r->nrun = 0;
	return error;
}

int mvms_file_reader_run_fd(int *fd, uint64_t *offset, mvms_file_reader *r)
{
	char key[MVMS_KEY_MAX];
	int error = 0;

	*fd = -1;
	*offset = 0;
	if (r->nrun == 0 || !(mvms_backend_caps(r->st->be) & MVMS_BACKEND_CAP_FD))
		goto done;
	mvms_object_key(key, sizeof(key), "packs", &r->run[0].pack);
	MVMS_TRY(mvms_backend_open_fd(fd, r->st->be, key));
	*offset = r->run[0].at;
	r->nrun = 0;
done:
	return error;
}

static int next_records(const void **data, size_t *len, mvms_file_reader *r)
{
	size_t n;
	int error = 0;

	MVMS_TRY(mvms_file_reader_next_run(&n, r));
	if (n == 0)
		goto done;
	MVMS_TRY(ensure(&r->rec, &r->rec_cap, n));
	MVMS_TRY(mvms_file_reader_read_run(r->rec, r));
	*data = r->rec;
	*len = n;
done:
	return error;
}

int mvms_file_reader_next(const void **data, size_t *len, mvms_file_reader *r)
{
	char key[MVMS_KEY_MAX];
	mvms_oid id, pack;
	uint64_t at, cpos, from, to;
	uint32_t raw_len, stored;
	int error = 0, rc;

	*data = NULL;
	*len = 0;
	if (r->start >= r->end)
		return 0;
	if (r->records)
		return next_records(data, len, r);
	rc = sqlite3_step(r->chunks);
	if (rc != SQLITE_ROW) {
		return rc == SQLITE_DONE
			       ? mvms_error_set(MVMS_EMISMATCH, "read file: chunks missing from the index")
			       : mvms_db_error(r->st->db, rc, "read file");
	}
	MVMS_TRY(mvms_db_column_oid(&id, r->chunks, 0));
	MVMS_TRY(mvms_db_column_oid(&pack, r->chunks, 1));
	at = (uint64_t)sqlite3_column_int64(r->chunks, 2);
	raw_len = (uint32_t)sqlite3_column_int64(r->chunks, 3);
	stored = (uint32_t)sqlite3_column_int64(r->chunks, 4);
	cpos = (uint64_t)sqlite3_column_int64(r->chunks, 5);
	MVMS_TRY(ensure(&r->rec, &r->rec_cap, MVMS_PACK_RECORD_HDR + (size_t)stored));
	MVMS_TRY(ensure(&r->raw, &r->raw_cap, raw_len ? raw_len : 1));
	mvms_object_key(key, sizeof(key), "packs", &pack);
	MVMS_TRY(mvms_backend_get(r->st->be, key, at, r->rec, MVMS_PACK_RECORD_HDR + (size_t)stored));
	MVMS_TRY(mvms_pack_decode_record(r->codec, r->raw, raw_len, &id, r->rec,
					 MVMS_PACK_RECORD_HDR + (size_t)stored));
	if (cpos > r->start || cpos + raw_len <= r->start) {
		error = mvms_error_set(MVMS_EMISMATCH, "read file: chunk offsets are inconsistent");
		goto done;
	}
	from = r->start - cpos;
	to = r->end < cpos + raw_len ? r->end - cpos : raw_len;
	*data = r->raw + from;
	*len = (size_t)(to - from);
	r->start += *len;
done:
	return error;
}

void mvms_file_reader_free(mvms_file_reader *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->chunks);
	mvms_codec_free(r->codec);
	free(r->rec);
	free(r->raw);
	free(r->run);
	free(r);
}
