/* SPDX-License-Identifier: MIT */
/*
 * Pull: version -> files -> chunk locations -> windows of tasks (runs of consecutive
 * records) for the workers, who read, decode, verify and write each run at its place
 * (pull_write.c) -> the windows checked in file order -> verify the file id -> rename into
 * place. A file whose bytes do not verify is never left behind. A remote backend's (S3)
 * records are read ahead in rounds by its io pool instead. Also the pull context the
 * records receiver (recv.c) decodes with, the temporary-file write and rename every pull
 * ends with, and the check of the target directory. A remote pull's receiver is recv.c;
 * the server's reads of a stored file are records.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "history.h"
#include "store_int.h"
#include "hash.h"
#include "codec.h"
#include "pack.h"
#include "pool.h"
#include "manifest.h"
#include "mvms/sync.h"
#include "pull_int.h"
#include "locate.h"
#include "transport.h"
#include "bases.h"

/* One range read covers consecutive records of one pack up to this many bytes. */
#define RANGE_MAX (8u * 1024 * 1024)
/* Over the network (S3, GCS) a read costs a round trip: rounds are larger, their ranges are
 * fetched by this many requests at once, and a range is at most 4 MiB so they spread. */
#define REMOTE_ROUND_BYTES (32u * 1024 * 1024)
#define REMOTE_RANGE_MAX (4u * 1024 * 1024)
#define REMOTE_READERS 8

int mvms_sync__pull_dir(const char *dir, int force)
{
	struct stat sb;

	/* Files of @dir not in the version are left alone, and those in it are checked file by
	 * file (resume.c): a non-empty directory is fine. */
	(void)force;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return mvms_error_set(MVMS_ERROR, "pull: mkdir %s: %s", dir, strerror(errno));
	if (stat(dir, &sb) < 0)
		return mvms_error_set(MVMS_ERROR, "pull: %s: %s", dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return mvms_error_set(MVMS_ERROR, "pull: %s: %s", dir, strerror(ENOTDIR));
	return 0;
}

int mvms_pull__ensure(unsigned char **p, size_t *cap, size_t need)
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
		in_need += mvms_pull__span(&c->chunks[i]);
	}
	MVMS_TRY(mvms_pull__ensure(&set->in, &set->in_cap, in_need));
	set->nranges = 0;
	for (i = first; i < last; i = j) {
		uint64_t end = c->chunks[i].offset + mvms_pull__span(&c->chunks[i]);
		for (j = i + 1; j < last; j++) {
			const pull_chunk *n = &c->chunks[j];
			if (n->src != c->chunks[i].src ||
			    (n->src < 0 && mvms_oid_cmp(&n->pack, &c->chunks[i].pack) != 0) ||
			    n->offset != end || end - c->chunks[i].offset >= c->range_max)
				break;
			end += mvms_pull__span(n);
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

/* What a failed read of task @t means: a source file that changed is forgotten. */
static int read_failed(pull_ctx *c, const pull_task *t, const char *path)
{
	const pull_chunk *ch = &t->chunks[0];
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];

	if (t->wrote)
		return mvms_error_set(t->error, "pull: %s: %s", path, t->msg);
	if (ch->src >= 0 && t->error == MVMS_ENOTFOUND)
		return source_failed(c, ch->src, path, t->msg);
	if (ch->src >= 0)
		return mvms_error_set(t->error, "pull: %s: %s", path, t->msg);
	mvms_oid_fmt(hex, &ch->id);
	mvms_object_key(key, sizeof(key), "packs", &ch->pack);
	return mvms_error_set(t->error == MVMS_ENOTFOUND ? MVMS_EMISMATCH : t->error,
			      "pull: %s: cannot read chunk %.16s from %s: %s", path, hex, key, t->msg);
}

/* Checks a window the workers finished, in file order, and adds its chunks to the file's
 * id. */
static int window_check(pull_ctx *c, pull_window *w, mvms_hasher *fh, const char *path)
{
	size_t i, k;
	int error = 0;

	for (i = 0; i < w->n; i++) {
		const pull_task *t = &w->tasks[i];
		for (k = 0; k < t->n && !(t->error < 0 && !t->wrote); k++) {
			const pull_chunk *ch = &t->chunks[k];
			if (ch->error < 0 && ch->src >= 0) {
				error = source_failed(c, ch->src, path, ch->errmsg);
				goto done;
			}
			if (ch->error < 0) {
				error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: %s", path, ch->errmsg);
				goto done;
			}
		}
		if (t->error < 0) {
			error = read_failed(c, t, path);
			goto done;
		}
		for (k = 0; k < t->n; k++)
			mvms_hasher_add_chunk(fh, &t->chunks[k].id, t->chunks[k].raw_len);
	}
	c->done_bytes += w->raw;
	if (c->opts->progress)
		c->opts->progress(c->done_bytes, c->total_bytes, c->opts->payload);
done:
	return error;
}

/* Chunks [first, last) through the workers from file byte @at on: windows are planned and
 * handed out while the PULL_WINDOWS before run, and checked in file order. The records
 * are read by the workers (@in NULL) or are in @in. */
static int write_chunks(pull_ctx *c, size_t first, size_t last, uint64_t at, const unsigned char *in,
			mvms_hasher *fh, const char *path)
{
	size_t end, out = 0, next = 0; /* windows handed out; the oldest not checked */
	int error = 0;

	for (; first < last || next < out; first = end) {
		uint64_t raw = 0;
		for (end = first; end < last && raw < WINDOW_BYTES; end++)
			raw += c->chunks[end].raw_len;
		if (first < last) {
			pull_window *w = &c->win[out % PULL_WINDOWS];
			MVMS_TRY(mvms_pull__window_plan(c, w, c->chunks + first, end - first, at, in));
			mvms_pull__window_submit(c, w);
			out++;
			at += raw;
		}
		/* All out (or nothing left to hand out): the oldest is waited for and checked. */
		if (out - next == PULL_WINDOWS || (first >= last && next < out)) {
			pull_window *w = &c->win[next % PULL_WINDOWS];
			mvms_pull__window_wait(c, w);
			next++;
			MVMS_TRY(window_check(c, w, fh, path));
		}
	}
done:
	if (error < 0)
		mvms_pull__windows_drain(c);
	return error;
}

/* A remote backend's round, read: checked, then decoded and written by the workers. */
static int finish_round(pull_ctx *c, pull_set *set, uint64_t at, mvms_hasher *fh,
			const char *path)
{
	size_t i;

	for (i = 0; i < set->nranges; i++)
		if (set->ranges[i].error < 0) {
			pull_task t;
			memset(&t, 0, sizeof(t));
			t.chunks = &c->chunks[set->ranges[i].first];
			t.error = set->ranges[i].error;
			snprintf(t.msg, sizeof(t.msg), "%s", set->ranges[i].msg);
			return read_failed(c, &t, path);
		}
	return write_chunks(c, set->first, set->last, at, set->in, fh, path);
}

static int load_chunks(pull_ctx *c, const mvms_oid *content)
{
	mvms_locate_cursor *cur = NULL;
	mvms_chunk_loc loc;
	int error = 0, got;

	c->nchunks = 0;
	MVMS_TRY(mvms_locate__open_oid(&cur, c->st, content, 0, UINT64_MAX));
	while ((got = mvms_locate__next(&loc, cur)) > 0) {
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
		ch->id = loc.id;
		ch->pack = loc.pack;
		ch->offset = loc.at;
		ch->raw_len = loc.raw_len;
		ch->stored_len = loc.stored;
	}
	error = got;
done:
	mvms_locate__close(cur);
	return error;
}

/* A chunk that no pack holds: in a source file? Sets ch->src, offset and lengths if so. */
static int load_from_source(pull_ctx *c, pull_chunk *ch)
{
	char *path = NULL;
	int64_t id;
	uint64_t offset;
	uint32_t len;
	size_t k;
	int error = 0, found;

	if ((found = mvms_locate__source(&id, &path, &offset, &len, c->st, &ch->id)) < 0) {
		error = found;
		goto done;
	}
	if (!found)
		goto done;
	for (k = 0; k < c->nsrcs && c->srcs[k].id != id; k++)
		;
	if (k == c->nsrcs) {
		struct pull_src *t = realloc(c->srcs, (k + 1) * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		c->srcs = t;
		c->srcs[k].id = id;
		c->srcs[k].path = path;
		path = NULL;
		c->nsrcs++;
	}
	ch->src = (int)k;
	ch->offset = offset;
	ch->raw_len = ch->stored_len = len;
done:
	free(path);
	return error;
}

/* Looks each chunk up (for a file this store knows by chunk ids only: a remote pull), in
 * packs first, then in source files; chunks before @from are in the part file already:
 * only their ids and lengths are kept. */
static int load_chunk_ids(pull_ctx *c, const mvms_sync__chunk *ids, size_t n, size_t from)
{
	mvms_chunk_loc loc;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t i;
	int error = 0, found, began = 0;

	c->nchunks = 0;
	if (n > c->cchunks) {
		pull_chunk *t = realloc(c->chunks, n * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		c->chunks = t;
		c->cchunks = n;
	}
	/* Files this handle recorded as sources are indexed first (not inside the read). */
	MVMS_TRY(mvms_sources_settle_mine(c->st));
	MVMS_TRY(mvms_db_read_begin(c->st->db, &began));
	for (i = 0; i < n; i++) {
		pull_chunk *ch = &c->chunks[i];
		memset(ch, 0, sizeof(*ch));
		ch->id = ids[i].id;
		ch->src = -1;
		ch->raw_len = (uint32_t)ids[i].len;
		c->nchunks++;
		if (i < from)
			continue;
		if ((found = mvms_locate__chunk(&loc, c->st, &ids[i].id)) < 0) {
			error = found;
			goto done;
		}
		if (found) {
			ch->pack = loc.pack;
			ch->offset = loc.at;
			ch->raw_len = loc.raw_len;
			ch->stored_len = loc.stored;
		} else {
			MVMS_TRY(load_from_source(c, ch));
		}
		if (!found && ch->src < 0) {
			mvms_oid_fmt(hex, &ids[i].id);
			error = mvms_error_set(MVMS_ENOTFOUND, "chunk %s is not in this store", hex);
			goto done;
		}
	}
done:
	mvms_db_read_end(c->st->db, began);
	return error;
}

/* The end of the round that starts at chunk @first. */
static size_t round_end(const pull_ctx *c, size_t first)
{
	size_t last;
	uint64_t round = 0;

	for (last = first; last < c->nchunks && round < c->round_bytes; last++)
		round += c->chunks[last].raw_len;
	return last;
}

/* Over the network (a remote backend) chunks [first, end) are read in rounds by the io
 * pool, the next round while this one is decoded and written, so the transfer never waits
 * for the CPU (a remote round is 32 MiB: two in memory). */
static int write_rounds(pull_ctx *c, size_t first, uint64_t at, mvms_hasher *fh, const char *path)
{
	size_t last, next_last = 0;
	pull_set *cur = &c->set[0], *next = &c->set[1], *t;
	pthread_t prefetch;
	int error = 0, prefetching = 0;

	last = round_end(c, first);
	if (first < c->nchunks) {
		MVMS_TRY(plan_round(c, cur, first, last));
		read_round(cur);
	}
	for (; first < c->nchunks; first = last, last = next_last) {
		uint64_t raw = 0;
		size_t i;
		next_last = last < c->nchunks ? round_end(c, last) : last;
		if (last < c->nchunks) {
			MVMS_TRY(plan_round(c, next, last, next_last));
			if (pthread_create(&prefetch, NULL, read_round, next) == 0)
				prefetching = 1;
			else
				read_round(next);
		}
		error = finish_round(c, cur, at, fh, path);
		if (prefetching) {
			pthread_join(prefetch, NULL);
			prefetching = 0;
		}
		if (error < 0)
			goto done;
		for (i = first; i < last; i++)
			raw += c->chunks[i].raw_len;
		at += raw;
		t = cur;
		cur = next;
		next = t;
	}
done:
	return error;
}

/* The loaded chunks as a chunk list (ids and lengths), for the part file's check. */
static int chunk_list(mvms_sync__chunk **out, const pull_ctx *c)
{
	size_t i;

	*out = calloc(c->nchunks + 1, sizeof(**out));
	if (!*out)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	for (i = 0; i < c->nchunks; i++) {
		(*out)[i].id = c->chunks[i].id;
		(*out)[i].len = c->chunks[i].raw_len;
	}
	return 0;
}

/* Writes @path from the chunks loaded in @c into part @p, from its chunk p->k on (those
 * before are in it, checked), verified as a whole, then ends the part (renamed into place
 * only when the file's id matches). */
static int write_loaded(pull_ctx *c, mvms_sync__part *p, const char *path, unsigned mode,
			uint64_t size, const mvms_oid *want)
{
	char hex[MVMS_OID_HEXSZ + 1];
	mvms_hasher fh;
	mvms_oid got;
	size_t first, i;
	uint64_t total = p->off;
	int error = 0, ok = 0;

	mvms_hasher_init(&fh);
	for (first = 0; first < p->k && first < c->nchunks; first++)
		mvms_hasher_add_chunk(&fh, &c->chunks[first].id, c->chunks[first].raw_len);
	for (i = first; i < c->nchunks; i++)
		total += c->chunks[i].raw_len;
	/* Bytes a killed pull wrote and this one kept are not this pull's to count. */
	c->total_bytes -= p->off < c->total_bytes ? p->off : c->total_bytes;
	c->fd = p->fd;
	if (c->io)
		MVMS_TRY(write_rounds(c, first, p->off, &fh, path));
	else
		MVMS_TRY(write_chunks(c, first, c->nchunks, p->off, NULL, &fh, path));
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
	{
		int end = mvms_sync__part_end(p, mode, ok);
		if (error == 0)
			error = end;
	}
	return error;
}

static int pull_file(pull_ctx *c, const char *dir, const mvms_file_info *f)
{
	mvms_sync__chunk *list = NULL;
	mvms_sync__part part;
	mvms_oid want;
	int error = 0;

	MVMS_TRY(mvms_oid_parse(&want, f->id));
	MVMS_TRY(load_chunks(c, &want));
	MVMS_TRY(chunk_list(&list, c));
	MVMS_TRY(mvms_sync__part_open(&part, dir, f->path, list, c->nchunks, 1));
	MVMS_TRY(write_loaded(c, &part, f->path, f->mode, f->size, &want));
done:
	free(list);
	return error;
}

int mvms_pull__ctx_init(pull_ctx *c, mvms_store *st, const mvms_pull_options *opts)
{
	unsigned w;
	int error = 0;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
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
	/* One worker per core; this thread plans and checks, and helps while it waits. */
	MVMS_TRY(mvms_pool_new(&c->pool, mvms_pool_threads_async()));
	c->codecs = calloc(mvms_pool_size(c->pool), sizeof(*c->codecs));
	MVMS_CHECK_ALLOC(c->codecs, error);
	c->wb = calloc(mvms_pool_size(c->pool), sizeof(*c->wb));
	MVMS_CHECK_ALLOC(c->wb, error);
	for (w = 0; w < mvms_pool_size(c->pool); w++) {
		MVMS_TRY(mvms_codec_new(&c->codecs[w], 0));
		mvms_bases__attach(st, c->codecs[w]); /* deltas decode through their bases */
	}
done:
	return error;
}

void mvms_pull__ctx_dispose(pull_ctx *c)
{
	unsigned w;

	for (w = 0; c->codecs && w < mvms_pool_size(c->pool); w++)
		mvms_codec_free(c->codecs[w]);
	free(c->codecs);
	for (w = 0; c->wb && w < mvms_pool_size(c->pool); w++) {
		free(c->wb[w].in);
		free(c->wb[w].out);
	}
	free(c->wb);
	for (w = 0; w < PULL_WINDOWS; w++)
		free(c->win[w].tasks);
	mvms_pool_free(c->pool);
	mvms_pool_free(c->io);
	free(c->set[0].ranges);
	free(c->set[1].ranges);
	free(c->set[0].in);
	free(c->set[1].in);
	free(c->chunks);
	for (w = 0; w < c->nsrcs; w++)
		free(c->srcs[w].path);
	free(c->srcs);
}

int mvms_sync__write_part(mvms_store *st, mvms_sync__part *p, const char *path, unsigned mode,
			  uint64_t size, const mvms_oid *id, const mvms_sync__chunk *chunks,
			  size_t nchunks)
{
	mvms_pull_options opts = MVMS_PULL_OPTIONS_INIT;
	pull_ctx c;
	int error = 0;

	MVMS_TRY(mvms_pull__ctx_init(&c, st, &opts));
	MVMS_TRY(load_chunk_ids(&c, chunks, nchunks, p->k));
	error = write_loaded(&c, p, path, mode == 0755 ? 0755 : 0644, size, id);
done:
	if (p->tmp)
		mvms_sync__part_end(p, 0644, 0);
	mvms_pull__ctx_dispose(&c);
	return error;
}

int mvms_sync_write_file(mvms_store *st, const char *dir, const char *path, unsigned mode,
			 uint64_t size, const mvms_oid *id, const mvms_oid *chunks, size_t nchunks)
{
	mvms_sync__chunk *list = calloc(nchunks + 1, sizeof(*list));
	mvms_pull_options opts = MVMS_PULL_OPTIONS_INIT;
	mvms_sync__part part;
	pull_ctx c;
	size_t i;
	int error = 0;

	memset(&part, 0, sizeof(part));
	MVMS_CHECK_ALLOC(list, error);
	MVMS_TRY(mvms_pull__ctx_init(&c, st, &opts));
	for (i = 0; i < nchunks; i++)
		list[i].id = chunks[i];
	/* Located first: that gives the lengths the part file is checked against. */
	MVMS_TRY(load_chunk_ids(&c, list, nchunks, 0));
	free(list);
	list = NULL;
	MVMS_TRY(chunk_list(&list, &c));
	MVMS_TRY(mvms_sync__part_open(&part, dir, path, list, c.nchunks, 1));
	error = write_loaded(&c, &part, path, mode == 0755 ? 0755 : 0644, size, id);
done:
	free(list);
	mvms_pull__ctx_dispose(&c);
	return error;
}

/* The files of @v that @opts select, checked against them: into *out (a subset of @files,
 * borrowed). */
static int select_files(const mvms_file_info ***out, size_t *n, const mvms_file_info *files,
			size_t nfiles, const mvms_pull_options *opts, const char *spec)
{
	const char **paths = calloc(nfiles + 1, sizeof(*paths));
	size_t i;
	int error = 0;

	*n = 0;
	*out = calloc(nfiles + 1, sizeof(**out));
	MVMS_CHECK_ALLOC(paths, error);
	MVMS_CHECK_ALLOC(*out, error);
	for (i = 0; i < nfiles; i++)
		paths[i] = files[i].path;
	MVMS_TRY(mvms_sync__check_selection(opts, paths, nfiles, spec));
	for (i = 0; i < nfiles; i++)
		if (mvms_sync__selected(opts, files[i].path))
			(*out)[(*n)++] = &files[i];
done:
	free(paths);
	return error;
}

/* Which selected files are in @dir already with the right content (keep[i] = 1), checked
 * before anything is written: one with other content is refused unless --force. */
static int check_present(unsigned char *keep, pull_ctx *c, const char *dir,
			 const mvms_file_info *const *sel, size_t n, int force)
{
	mvms_sync__chunk *list = NULL;
	mvms_oid want;
	size_t i;
	int error = 0, have;

	for (i = 0; i < n; i++) {
		MVMS_TRY(mvms_oid_parse(&want, sel[i]->id));
		MVMS_TRY(load_chunks(c, &want));
		free(list);
		MVMS_TRY(chunk_list(&list, c));
		have = mvms_sync__have_file(dir, sel[i]->path, list, c->nchunks, sel[i]->size);
		if (have == MVMS_EEXISTS && force) {
			mvms_error_clear();
			have = 0;
		}
		if (have < 0) {
			error = have;
			goto done;
		}
		keep[i] = (unsigned char)have;
	}
done:
	free(list);
	return error;
}

int mvms_pull(mvms_pull_result *out, mvms_store *st, const char *spec, const char *dir,
	      const mvms_pull_options *opts)
{
	MVMS_TRANSPORT_CALL(st, pull, (out, st, spec, dir, opts));
	mvms_pull_options defaults = MVMS_PULL_OPTIONS_INIT;
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	const mvms_file_info **sel = NULL;
	unsigned char *keep = NULL;
	int64_t *mtimes = NULL;
	size_t nfiles = 0, nsel = 0, i;
	pull_ctx c;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	MVMS_TRY(mvms_pull__ctx_init(&c, st, opts));
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	MVMS_TRY(mvms_history__live_info(v));
	MVMS_TRY(mvms_version_files(&files, &nfiles, st, v));
	MVMS_TRY(select_files(&sel, &nsel, files, nfiles, opts, spec));
	MVMS_TRY(mvms_version_file_times(&mtimes, st, v, files, nfiles));
	MVMS_TRY(mvms_sync__pull_dir(dir, opts->force));
	keep = calloc(nsel + 1, 1);
	MVMS_CHECK_ALLOC(keep, error);
	MVMS_TRY(check_present(keep, &c, dir, sel, nsel, opts->force));
	for (i = 0; i < nsel; i++)
		if (!keep[i])
			c.total_bytes += sel[i]->size;
	for (i = 0; i < nsel; i++) {
		size_t at = (size_t)(sel[i] - files);
		if (!keep[i])
			MVMS_TRY(pull_file(&c, dir, sel[i]));
		else
			out->kept++;
		MVMS_TRY(mvms_sync__set_attrs(dir, sel[i]->path, sel[i]->mode, mtimes[2 * at],
					      (uint32_t)mtimes[2 * at + 1]));
	}
	MVMS_TRY(mvms_sync__sweep_parts(dir));
	snprintf(out->id, sizeof(out->id), "%s", v->id);
	out->number = v->number;
	out->files = nsel;
	out->bytes = c.done_bytes;
done:
	out->seconds = mvms_now() - t0;
	mvms_pull__ctx_dispose(&c);
	free(sel);
	free(keep);
	free(mtimes);
	mvms_file_list_free(files, nfiles);
	mvms_version_info_free(v);
	return error;
}
