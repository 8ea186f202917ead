/* SPDX-License-Identifier: MIT */
/*
 * The server's side of a read: a stored file delivered by byte range (decoded, verified) or
 * as its stored records (the records stream a remote pull receives), read from the packs
 * in runs of consecutive records; and a content's byte range for a tensor read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "history.h"
#include "store_int.h"
#include "hash.h"
#include "codec.h"
#include "pack.h"
#include "mvms/sync.h"
#include "pull_int.h"
#include "locate.h"
#include "transport.h"
#include "bases.h"

int mvms_pull__content_range(mvms_store *st, const mvms_oid *content, uint64_t offset,
			     uint64_t len, mvms_pull__sink sink, void *payload)
{
	mvms_locate_cursor *cur = NULL;
	mvms_chunk_loc loc;
	mvms_codec *codec = NULL;
	unsigned char *rec = NULL, *raw = NULL;
	size_t rec_cap = 0, raw_cap = 0;
	char key[MVMS_KEY_MAX];
	uint64_t got = 0, from, to;
	int error = 0, more;

	MVMS_TRY(mvms_codec_new(&codec, 0));
	mvms_bases__attach(st, codec);
	/* The cursor's own statement: the sink may run cached statements of its own. */
	MVMS_TRY(mvms_locate__open_oid(&cur, st, content, offset, offset + len));
	while ((more = mvms_locate__next(&loc, cur)) > 0) {
		size_t rlen = MVMS_PACK_RECORD_HDR + (size_t)loc.stored;
		MVMS_TRY(mvms_pull__ensure(&rec, &rec_cap, rlen));
		MVMS_TRY(mvms_pull__ensure(&raw, &raw_cap, loc.raw_len ? loc.raw_len : 1));
		mvms_object_key(key, sizeof(key), "packs", &loc.pack);
		MVMS_TRY(mvms_backend_get(st->be, key, loc.at, rec, rlen));
		MVMS_TRY(mvms_pack_decode_record(codec, raw, loc.raw_len, &loc.id, rec, rlen));
		from = offset > loc.file_off ? offset - loc.file_off : 0;
		to = offset + len < loc.file_off + loc.raw_len ? offset + len - loc.file_off : loc.raw_len;
		MVMS_TRY(sink(raw + from, (size_t)(to - from), payload));
		got += to - from;
	}
	MVMS_TRY(more);
	if (got != len)
		error = mvms_error_set(MVMS_EMISMATCH, "read range: %llu of %llu bytes found",
				       (unsigned long long)got, (unsigned long long)len);
done:
	mvms_locate__close(cur);
	mvms_codec_free(codec);
	free(rec);
	free(raw);
	return error;
}

/* Records read with one backend read in the records mode, at most. */
#define RECORDS_RUN (4u * 1024 * 1024)

typedef mvms_chunk_loc reader_row;

struct mvms_file_reader {
	mvms_store *st;
	mvms_locate_cursor *chunks; /* its own statement: other requests use the cached ones */
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
	const mvms_file_reader__ops *ops; /* a reader of a remote handle (client/): its bytes */
	void *impl;
};

int mvms_file_reader__wrap(mvms_file_reader **out, const mvms_file_reader__ops *ops, void *impl)
{
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		ops->free(impl);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	(*out)->ops = ops;
	(*out)->impl = impl;
	return 0;
}

/* The records mode: steps to the next row into r->ahead unless one is there already; at the
 * end of the file's chunks, have_ahead stays 0 and start = end. */
static int step_ahead(mvms_file_reader *r)
{
	int got;

	if (r->have_ahead || r->start >= r->end)
		return 0;
	if ((got = mvms_locate__next(&r->ahead, r->chunks)) < 0)
		return got;
	if (got == 0)
		r->start = r->end;
	r->have_ahead = got;
	return 0;
}

/* The records mode sends records as they are stored, mostly unread (sendfile); damage only
 * the client would see mid-stream. The header of the first record is checked before the
 * reply starts, so a pack whose records are not where the index says is a 500 (the
 * server's own damage), not a stream cut off after a 200. */
static int check_first_record(mvms_file_reader *r)
{
	unsigned char hdr[MVMS_PACK_RECORD_HDR];
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	MVMS_TRY(step_ahead(r));
	if (!r->have_ahead)
		goto done;
	mvms_object_key(key, sizeof(key), "packs", &r->ahead.pack);
	MVMS_TRY(mvms_backend_get(r->st->be, key, r->ahead.at, hdr, sizeof(hdr)));
	if (!mvms_pack_record_is(hdr, &r->ahead.id, r->ahead.codec, r->ahead.raw_len,
				 r->ahead.stored)) {
		mvms_oid_fmt(hex, &r->ahead.id);
		error = mvms_error_set(MVMS_EMISMATCH, "read file: the record of chunk %.16s in %s "
				       "is not where the index says", hex, key);
	}
done:
	return error;
}

static int reader_open(mvms_file_reader **out, uint64_t *size_out, char *id_out,
		       mvms_store *st, const char *spec, const char *path, uint64_t start,
		       uint64_t end, int records)
{
	mvms_file_reader *r = NULL;
	mvms_version_info *v = NULL;
	int64_t content = 0;
	uint64_t size = 0;
	mvms_oid id;
	int error = 0, found;

	*out = NULL;
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	MVMS_TRY(mvms_history__live_info(v));
	if ((found = mvms_locate__file(&content, &id, &size, st, v->id, path)) < 0) {
		error = found;
		goto done;
	}
	if (!found) {
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
	mvms_bases__attach(st, r->codec);
	MVMS_TRY(mvms_locate__open(&r->chunks, st, content, start, end));
	r->records = records;
	if (records) {
		/* The stream's length, for Content-Length: a header per record and its bytes. */
		MVMS_TRY(mvms_locate__records_size(&size, st, content));
		MVMS_TRY(check_first_record(r));
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
	MVMS_TRANSPORT_CALL(st, file_reader_open, (out, size_out, id_out, st, spec, path, start, end));
	return reader_open(out, size_out, id_out, st, spec, path, start, end, 0);
}

int mvms_file_reader_open_records(mvms_file_reader **out, uint64_t *bytes_out, char *id_out,
				  mvms_store *st, const char *spec, const char *path)
{
	MVMS_LOCAL_ONLY(st, "a records stream");
	return reader_open(out, bytes_out, id_out, st, spec, path, 0, 0, 1);
}

/* The records mode: the next run of consecutive records of one pack, to be read with one
 * backend read. */
int mvms_file_reader_next_run(size_t *len, mvms_file_reader *r)
{
	size_t n = 0, used = 0;
	int error = 0;

	*len = 0;
	if (!r->records)
		return mvms_error_set(MVMS_EINVALID, "read file: not opened for records");
	while (r->start < r->end) {
		reader_row *row = &r->ahead;
		MVMS_TRY(step_ahead(r));
		if (!r->have_ahead)
			break;
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
	MVMS_TRY(mvms_pull__ensure(&r->rec, &r->rec_cap, n));
	MVMS_TRY(mvms_file_reader_read_run(r->rec, r));
	*data = r->rec;
	*len = n;
done:
	return error;
}

int mvms_file_reader_next(const void **data, size_t *len, mvms_file_reader *r)
{
	char key[MVMS_KEY_MAX];
	mvms_chunk_loc loc;
	uint64_t from, to;
	size_t rlen;
	int error = 0, got;

	*data = NULL;
	*len = 0;
	if (r->ops)
		return r->ops->next(data, len, r->impl);
	if (r->start >= r->end)
		return 0;
	if (r->records)
		return next_records(data, len, r);
	if ((got = mvms_locate__next(&loc, r->chunks)) <= 0)
		return got < 0 ? got
			       : mvms_error_set(MVMS_EMISMATCH, "read file: chunks missing from the index");
	rlen = MVMS_PACK_RECORD_HDR + (size_t)loc.stored;
	MVMS_TRY(mvms_pull__ensure(&r->rec, &r->rec_cap, rlen));
	MVMS_TRY(mvms_pull__ensure(&r->raw, &r->raw_cap, loc.raw_len ? loc.raw_len : 1));
	mvms_object_key(key, sizeof(key), "packs", &loc.pack);
	MVMS_TRY(mvms_backend_get(r->st->be, key, loc.at, r->rec, rlen));
	MVMS_TRY(mvms_pack_decode_record(r->codec, r->raw, loc.raw_len, &loc.id, r->rec, rlen));
	if (loc.file_off > r->start || loc.file_off + loc.raw_len <= r->start) {
		error = mvms_error_set(MVMS_EMISMATCH, "read file: chunk offsets are inconsistent");
		goto done;
	}
	from = r->start - loc.file_off;
	to = r->end < loc.file_off + loc.raw_len ? r->end - loc.file_off : loc.raw_len;
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
	if (r->ops)
		r->ops->free(r->impl);
	mvms_locate__close(r->chunks);
	mvms_codec_free(r->codec);
	free(r->rec);
	free(r->raw);
	free(r->run);
	free(r);
}
