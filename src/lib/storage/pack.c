/* SPDX-License-Identifier: MIT */
/*
 * Pack objects (layout at the top of pack.h): a streaming writer that stages records in
 * a large buffer and commits the pack under the hash of its index, and the readers that
 * check a pack's trailer and index and decode single records. It does not choose which
 * chunks go into a pack, nor compress them (the caller hands in encoded bytes).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "common.h"
#include "hash.h"
#include "pack.h"
#include "mvms/chunker.h"
#include "mvms/backend.h"

#define PACK_MAGIC "MVMSPACK"
#define PACK_END_MAGIC "MVMSPEND"
/* Records are staged and handed to the backend in blocks of this size: one write() (or one
 * part of an upload) per MiB rather than one per chunk. Bigger records bypass the buffer. */
#define PACK_STAGE_SIZE (1u << 20)

struct mvms_pack_writer {
	mvms_backend *be;
	mvms_backend_writer *bw; /* NULL once committed or aborted */
	unsigned char *stage;    /* PACK_STAGE_SIZE bytes */
	size_t staged;           /* bytes waiting in stage */
	uint64_t size;           /* bytes written so far, staged ones included */
	mvms_pack_entry *entries;
	size_t count, alloc;
	int error; /* sticky: after a failed write the object is unusable */
};

/* Stops after the first failure: a pack with a hole in it must never be committed. */
static int stage_flush(mvms_pack_writer *w)
{
	int error = w->error;

	if (error < 0 || w->staged == 0)
		goto done;
	error = mvms_backend_writer_write(w->bw, w->stage, w->staged);
	if (error < 0) {
		w->error = error;
		goto done;
	}
	w->staged = 0;
done:
	return error;
}

static int stage_put(mvms_pack_writer *w, const void *data, size_t len)
{
	int error = w->error;

	if (error < 0 || len == 0)
		goto done;
	if (w->staged + len > PACK_STAGE_SIZE)
		MVMS_TRY(stage_flush(w));
	if (len >= PACK_STAGE_SIZE) {
		/* Large enough to be a good write on its own: skip the copy. */
		error = mvms_backend_writer_write(w->bw, data, len);
		if (error < 0)
			w->error = error;
		goto done;
	}
	memcpy(w->stage + w->staged, data, len);
	w->staged += len;
done:
	if (error >= 0)
		w->size += len;
	return error;
}

int mvms_pack_writer_new(mvms_pack_writer **out, mvms_backend *be)
{
	int error = 0;
	mvms_pack_writer *w = NULL;
	mvms_backend_writer *bw = NULL;
	unsigned char hdr[MVMS_PACK_HEADER_SIZE];

	*out = NULL;
	if (!be) {
		error = mvms_error_set(MVMS_EINVALID, "pack: no backend");
		goto done;
	}
	w = calloc(1, sizeof(*w));
	MVMS_CHECK_ALLOC(w, error);
	w->be = be;
	w->stage = malloc(PACK_STAGE_SIZE);
	MVMS_CHECK_ALLOC(w->stage, error);
	MVMS_TRY(mvms_backend_writer_open(&bw, be));
	w->bw = bw;

	memcpy(hdr, PACK_MAGIC, 8);
	mvms_le32_put(hdr + 8, MVMS_PACK_VERSION);
	mvms_le32_put(hdr + 12, 0);
	MVMS_TRY(stage_put(w, hdr, sizeof(hdr)));
	*out = w;
	w = NULL;
done:
	mvms_pack_writer_free(w);
	return error;
}

void mvms_pack_record_get(mvms_pack_record *out, const void *hdr)
{
	const unsigned char *h = hdr;

	out->codec = h[0];
	out->raw_len = mvms_le32_get(h + 1);
	out->stored_len = mvms_le32_get(h + 5);
	memcpy(out->id.id, h + 9, MVMS_OID_RAWSZ);
}

void mvms_pack_record_put(void *hdr, const mvms_oid *id, uint8_t codec, uint32_t raw_len,
			  uint32_t stored_len)
{
	unsigned char *h = hdr;

	h[0] = codec;
	mvms_le32_put(h + 1, raw_len);
	mvms_le32_put(h + 5, stored_len);
	memcpy(h + 9, id->id, MVMS_OID_RAWSZ);
}

int mvms_pack_record_ok(uint8_t codec, uint32_t raw_len, uint32_t stored_len)
{
	if (raw_len == 0 || raw_len > MVMS_CHUNKER_AVG_MAX * 2u)
		return 0;
	return mvms_codec_stored_ok(codec, raw_len, stored_len);
}

int mvms_pack_record_is(const void *hdr, const mvms_oid *id, uint8_t codec, uint32_t raw_len,
			uint32_t stored_len)
{
	mvms_pack_record r;

	mvms_pack_record_get(&r, hdr);
	return r.codec == codec && r.raw_len == raw_len && r.stored_len == stored_len &&
	       mvms_oid_cmp(&r.id, id) == 0;
}

/* Checks one record's fields and appends its index entry at @offset (not yet counted). */
static int add_entry(mvms_pack_writer *w, const mvms_oid *id, uint8_t codec, uint32_t raw_len,
		     uint32_t stored_len, uint64_t offset, const void *stored)
{
	int error = 0;
	mvms_pack_entry *e;
	uint64_t end;

	if (!w->bw) {
		error = mvms_error_set(MVMS_EINVALID, "pack: add after finish");
		goto done;
	}
	if ((error = w->error) < 0)
		goto done;
	if (!mvms_codec_known(codec)) {
		error = mvms_error_set(MVMS_EINVALID, "pack: unknown codec %u", (unsigned)codec);
		goto done;
	}
	if (!mvms_pack_record_ok(codec, raw_len, stored_len)) {
		error = mvms_error_set(MVMS_EINVALID, "pack: codec %u: %u stored bytes for %u raw",
				       (unsigned)codec, stored_len, raw_len);
		goto done;
	}
	/* The index stores a u32 count and u64 offsets: refuse to write what cannot be read. */
	if (w->count >= UINT32_MAX ||
	    mvms_add_overflow(&end, offset, (uint64_t)MVMS_PACK_RECORD_HDR + stored_len)) {
		error = mvms_error_set(MVMS_EINVALID, "pack: too large");
		goto done;
	}
	if (w->count == w->alloc) {
		size_t nalloc = w->alloc ? w->alloc * 2 : 256;
		mvms_pack_entry *n;

		if (nalloc > SIZE_MAX / sizeof(*n)) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		n = realloc(w->entries, nalloc * sizeof(*n));
		MVMS_CHECK_ALLOC(n, error);
		w->entries = n;
		w->alloc = nalloc;
	}
	e = &w->entries[w->count];
	e->id = *id;
	e->offset = offset;
	e->raw_len = raw_len;
	e->stored_len = stored_len;
	e->codec = codec;
	/* A delta names its base in its first bytes: the index rows record it for gc. */
	memset(&e->base, 0, sizeof(e->base));
	if (codec == MVMS_CODEC_DELTA)
		MVMS_TRY(mvms_codec_delta_base(&e->base, stored, stored_len));
done:
	return error;
}

int mvms_pack_writer_add(mvms_pack_writer *w, const mvms_oid *id, uint8_t codec,
			 uint32_t raw_len, const void *stored, uint32_t stored_len)
{
	int error = 0;
	unsigned char hdr[MVMS_PACK_RECORD_HDR];

	MVMS_TRY(add_entry(w, id, codec, raw_len, stored_len, w->size, stored));
	mvms_pack_record_put(hdr, id, codec, raw_len, stored_len);
	MVMS_TRY(stage_put(w, hdr, sizeof(hdr)));
	MVMS_TRY(stage_put(w, stored, stored_len));
	w->count++;
done:
	return error;
}

int mvms_pack_writer_add_records(mvms_pack_writer *w, const void *records, size_t len)
{
	const unsigned char *p = records;
	size_t off = 0, first = w->count;
	int error = 0;

	while (off < len) {
		mvms_pack_record r;
		if (len - off < MVMS_PACK_RECORD_HDR) {
			error = mvms_error_set(MVMS_EINVALID, "pack: a record run ends mid-record");
			goto done;
		}
		mvms_pack_record_get(&r, p + off);
		if (len - off - MVMS_PACK_RECORD_HDR < r.stored_len) {
			error = mvms_error_set(MVMS_EINVALID, "pack: a record run ends mid-record");
			goto done;
		}
		MVMS_TRY(add_entry(w, &r.id, r.codec, r.raw_len, r.stored_len, w->size + off,
				   p + off + MVMS_PACK_RECORD_HDR));
		w->count++;
		off += MVMS_PACK_RECORD_HDR + (size_t)r.stored_len;
	}
	MVMS_TRY(stage_put(w, records, len));
done:
	if (error < 0)
		w->count = first; /* nothing of the run was written */
	return error;
}

uint64_t mvms_pack_writer_size(const mvms_pack_writer *w)
{
	return w->size;
}

size_t mvms_pack_writer_count(const mvms_pack_writer *w)
{
	return w->count;
}

int mvms_pack_writer_finish(mvms_oid *id_out, uint64_t *size_out,
			    const mvms_pack_entry **entries_out, size_t *count_out,
			    mvms_pack_writer *w)
{
	int error = 0;
	unsigned char *index = NULL, *p;
	unsigned char trailer[MVMS_PACK_TRAILER_SIZE];
	char key[MVMS_KEY_MAX];
	uint64_t index_offset = w->size;
	size_t i, index_len;
	mvms_oid id;
	mvms_backend_writer *bw;

	if (!w->bw) {
		error = mvms_error_set(MVMS_EINVALID, "pack: finish called twice");
		goto done;
	}
	if ((error = w->error) < 0)
		goto done;
	if (w->count == 0) {
		error = mvms_error_set(MVMS_EINVALID, "pack: empty pack");
		goto done;
	}
	/* count < UINT32_MAX (checked by add), so this product fits any 64-bit size_t; the
	 * check is for 32-bit hosts. */
	if (w->count > SIZE_MAX / MVMS_PACK_INDEX_ENTRY) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	index_len = w->count * MVMS_PACK_INDEX_ENTRY;
	index = malloc(index_len);
	MVMS_CHECK_ALLOC(index, error);
	for (i = 0, p = index; i < w->count; i++, p += MVMS_PACK_INDEX_ENTRY) {
		const mvms_pack_entry *e = &w->entries[i];

		memcpy(p, e->id.id, MVMS_OID_RAWSZ);
		mvms_le64_put(p + 32, e->offset);
		mvms_le32_put(p + 40, e->raw_len);
		mvms_le32_put(p + 44, e->stored_len);
		p[48] = e->codec;
	}
	/* The pack id is the hash of these exact bytes, so a pack is named by the chunks it
	 * holds and where, and the trailer can carry the same hash for self-checks. */
	mvms_oid_hash(&id, index, index_len);

	mvms_le64_put(trailer, index_offset);
	mvms_le32_put(trailer + 8, (uint32_t)w->count);
	mvms_le32_put(trailer + 12, 0);
	memcpy(trailer + 16, id.id, MVMS_OID_RAWSZ);
	memcpy(trailer + 48, PACK_END_MAGIC, 8);

	MVMS_TRY(stage_put(w, index, index_len));
	MVMS_TRY(stage_put(w, trailer, sizeof(trailer)));
	MVMS_TRY(stage_flush(w));

	mvms_object_key(key, sizeof(key), "packs", &id);
	/* commit frees the backend writer whatever it returns. */
	bw = w->bw;
	w->bw = NULL;
	if ((error = mvms_backend_writer_commit(bw, key)) < 0) {
		w->error = error;
		goto done;
	}
	*id_out = id;
	*size_out = w->size;
	*entries_out = w->entries;
	*count_out = w->count;
done:
	free(index);
	return error;
}

void mvms_pack_writer_free(mvms_pack_writer *w)
{
	if (!w)
		return;
	if (w->bw)
		mvms_backend_writer_abort(w->bw);
	free(w->stage);
	free(w->entries);
	free(w);
}

int mvms_pack_read_index(mvms_pack_entry **out, size_t *count, uint64_t *pack_size,
			 mvms_backend *be, const char *key, const mvms_oid *expect_id)
{
	int error = 0;
	unsigned char trailer[MVMS_PACK_TRAILER_SIZE], hdr[MVMS_PACK_HEADER_SIZE];
	unsigned char *index = NULL;
	const unsigned char *p;
	mvms_pack_entry *entries = NULL;
	uint64_t size, index_offset, index_bytes, end, prev_end;
	uint32_t n, i;
	mvms_oid id;
	char hex[MVMS_OID_HEXSZ + 1];

	*out = NULL;
	*count = 0;
	*pack_size = 0;
	MVMS_TRY(mvms_backend_stat(&size, be, key));
	if (size < MVMS_PACK_HEADER_SIZE + MVMS_PACK_TRAILER_SIZE) {
		error = mvms_error_set(MVMS_EMISMATCH, "pack %s: %llu bytes is too short",
				       key, (unsigned long long)size);
		goto done;
	}
	MVMS_TRY(mvms_backend_get(be, key, size - MVMS_PACK_TRAILER_SIZE, trailer, sizeof(trailer)));
	if (memcmp(trailer + 48, PACK_END_MAGIC, 8) != 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "pack %s: bad trailer magic", key);
		goto done;
	}
	index_offset = mvms_le64_get(trailer);
	n = mvms_le32_get(trailer + 8);
	/* All in u64 with overflow checks: these values come from the object, not from us. */
	index_bytes = (uint64_t)n * MVMS_PACK_INDEX_ENTRY;
	if (mvms_le32_get(trailer + 12) != 0 || n == 0 || index_offset < MVMS_PACK_HEADER_SIZE ||
	    mvms_add_overflow(&end, index_offset, index_bytes) ||
	    mvms_add_overflow(&end, end, MVMS_PACK_TRAILER_SIZE) || end != size ||
	    index_bytes > SIZE_MAX) {
		error = mvms_error_set(MVMS_EMISMATCH,
				       "pack %s: trailer (index at %llu, %u entries) does not fit "
				       "a pack of %llu bytes", key,
				       (unsigned long long)index_offset, n,
				       (unsigned long long)size);
		goto done;
	}
	index = malloc((size_t)index_bytes);
	MVMS_CHECK_ALLOC(index, error);
	MVMS_TRY(mvms_backend_get(be, key, index_offset, index, (size_t)index_bytes));
	mvms_oid_hash(&id, index, (size_t)index_bytes);
	if (memcmp(id.id, trailer + 16, MVMS_OID_RAWSZ) != 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "pack %s: index hash mismatch", key);
		goto done;
	}
	if (expect_id && mvms_oid_cmp(&id, expect_id) != 0) {
		mvms_oid_fmt(hex, &id);
		error = mvms_error_set(MVMS_EMISMATCH, "pack %s: holds pack %s", key, hex);
		goto done;
	}

	MVMS_TRY(mvms_backend_get(be, key, 0, hdr, sizeof(hdr)));
	if (memcmp(hdr, PACK_MAGIC, 8) != 0 || mvms_le32_get(hdr + 8) != MVMS_PACK_VERSION) {
		/* flags (hdr + 12) are not checked: no reader depends on them. */
		error = mvms_error_set(MVMS_EMISMATCH, "pack %s: bad header or version %u", key,
				       mvms_le32_get(hdr + 8));
		goto done;
	}

	/* Only a 32-bit host can fail this; a u64 operand keeps 64-bit compilers quiet. */
	if ((uint64_t)n * 1 > SIZE_MAX / sizeof(*entries)) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	entries = malloc((size_t)n * sizeof(*entries));
	MVMS_CHECK_ALLOC(entries, error);
	prev_end = MVMS_PACK_HEADER_SIZE;
	for (i = 0, p = index; i < n; i++, p += MVMS_PACK_INDEX_ENTRY) {
		mvms_pack_entry *e = &entries[i];

		memcpy(e->id.id, p, MVMS_OID_RAWSZ);
		e->offset = mvms_le64_get(p + 32);
		e->raw_len = mvms_le32_get(p + 40);
		e->stored_len = mvms_le32_get(p + 44);
		e->codec = p[48];
		/* prev_end >= 16, so this also checks offset >= header size, and records
		 * must come in increasing offset order without overlap. */
		if (e->offset < prev_end ||
		    mvms_add_overflow(&end, e->offset,
				      (uint64_t)MVMS_PACK_RECORD_HDR + e->stored_len) ||
		    end > index_offset) {
			error = mvms_error_set(MVMS_EMISMATCH,
					       "pack %s: entry %u: record at %llu+%u outside the "
					       "record area or out of order", key, i,
					       (unsigned long long)e->offset, e->stored_len);
			goto done;
		}
		/* No chunk is longer than the largest max size a store can be set up with: a
		 * claimed length beyond it would make a reader allocate gigabytes. */
		if (e->raw_len == 0 || e->raw_len > MVMS_CHUNKER_AVG_MAX * 2u ||
		    !mvms_codec_stored_ok(e->codec, e->raw_len, e->stored_len)) {
			error = mvms_error_set(MVMS_EMISMATCH,
					       "pack %s: entry %u: codec %u with %u stored bytes "
					       "for %u raw", key, i, (unsigned)e->codec,
					       e->stored_len, e->raw_len);
			goto done;
		}
		prev_end = end;
	}
	*out = entries;
	*count = n;
	*pack_size = size;
	entries = NULL;
done:
	free(index);
	free(entries);
	return error;
}

/* "pack: chunk <hex>: <detail>". The hex is only formatted on failure: decode_record runs
 * once per chunk on the pull path. */
static int chunk_error(int code, const mvms_oid *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int chunk_error(int code, const mvms_oid *id, const char *fmt, ...)
{
	char hex[MVMS_OID_HEXSZ + 1], detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	mvms_oid_fmt(hex, id);
	return mvms_error_set(code, "pack: chunk %s: %s", hex, detail);
}

int mvms_pack_read_index_mem(mvms_pack_entry **out, size_t *count, uint64_t *pack_size,
			     const void *data, size_t len, const mvms_oid *expect_id)
{
	static const char key[] = "incoming";
	mvms_backend *mem = NULL;
	int error = 0;

	*out = NULL;
	*count = 0;
	/* A memory backend lends the bytes to the reader of packs on disk. */
	MVMS_TRY(mvms_backend_mem(&mem));
	MVMS_TRY(mvms_backend_mem_put_borrowed(mem, key, data ? data : "", len));
	error = mvms_pack_read_index(out, count, pack_size, mem, key, expect_id);
done:
	mvms_backend_free(mem);
	return error;
}

static int decode_record(mvms_codec *c, void *dst, uint32_t raw_len, const mvms_oid *expect,
			 const void *rec, size_t rec_len, int verify)
{
	int error = 0;
	const unsigned char *r = rec;
	char msg[512];
	uint8_t codec;
	uint32_t rec_raw, stored;
	mvms_oid got;

	if (rec_len < MVMS_PACK_RECORD_HDR) {
		error = chunk_error(MVMS_EMISMATCH, expect, "record of %zu bytes", rec_len);
		goto done;
	}
	codec = r[0];
	rec_raw = mvms_le32_get(r + 1);
	stored = mvms_le32_get(r + 5);
	if (memcmp(r + 9, expect->id, MVMS_OID_RAWSZ) != 0) {
		error = chunk_error(MVMS_EMISMATCH, expect, "record names another chunk");
		goto done;
	}
	if (rec_raw != raw_len) {
		error = chunk_error(MVMS_EMISMATCH, expect, "record length %u, want %u", rec_raw,
				    raw_len);
		goto done;
	}
	if (stored > rec_len - MVMS_PACK_RECORD_HDR) {
		error = chunk_error(MVMS_EMISMATCH, expect, "%u stored bytes, only %zu available",
				    stored, rec_len - MVMS_PACK_RECORD_HDR);
		goto done;
	}
	if (!mvms_codec_stored_ok(codec, rec_raw, stored)) {
		error = chunk_error(MVMS_EMISMATCH, expect, "codec %u with %u stored bytes for %u raw",
				    (unsigned)codec, stored, rec_raw);
		goto done;
	}
	if ((error = mvms_codec_decode(c, dst, raw_len, codec, r + MVMS_PACK_RECORD_HDR,
				       stored)) < 0) {
		/* Copy first: the codec's message lives in the buffer mvms_error_set writes.
		 * EINVALID here can only mean a missing codec context (the caller's bug). */
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		error = chunk_error(error == MVMS_EINVALID ? MVMS_EINVALID : MVMS_EMISMATCH, expect,
				    "%s", msg);
		goto done;
	}
	if (!verify)
		goto done;
	mvms_oid_hash(&got, dst, raw_len);
	if (mvms_oid_cmp(&got, expect) != 0 && codec == MVMS_CODEC_DELTA) {
		/* Its base was not hashed (mvms_pack_decode_base): either may be the damaged one. */
		char base[MVMS_OID_HEXSZ + 1];
		mvms_oid b;
		memcpy(b.id, r + MVMS_PACK_RECORD_HDR, MVMS_OID_RAWSZ);
		mvms_oid_fmt(base, &b);
		error = chunk_error(MVMS_EMISMATCH, expect, "hash mismatch (delta on base %.16s: it "
				    "or its base is damaged)", base);
		goto done;
	}
	if (mvms_oid_cmp(&got, expect) != 0) {
		error = chunk_error(MVMS_EMISMATCH, expect, "hash mismatch");
		goto done;
	}
done:
	return error;
}

int mvms_pack_decode_record(mvms_codec *c, void *dst, uint32_t raw_len,
			    const mvms_oid *expect, const void *rec, size_t rec_len)
{
	return decode_record(c, dst, raw_len, expect, rec, rec_len, 1);
}

int mvms_pack_decode_base(mvms_codec *c, void *dst, uint32_t raw_len, const mvms_oid *expect,
			  const void *rec, size_t rec_len)
{
	return decode_record(c, dst, raw_len, expect, rec, rec_len, 0);
}
