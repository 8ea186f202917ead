/* SPDX-License-Identifier: MIT */
/*
 * The push/pull protocol's store side: which chunks are missing, packs checked on arrival
 * and built for the wire, verified object reads, and committing a version that a client
 * made (its manifest, checked, committed byte for byte, so the client's id is the id). It
 * speaks no HTTP: the server and the remote client call it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "mvms/sync.h"
#include "codec.h"
#include "contents.h"
#include "packs.h"
#include "hash.h"
#include "manifest.h"
#include "pack.h"
#include "safetensors.h"
#include "validate.h"

#define FILEMAP_HDR 32
#define FILEMAP_ENTRY 40

int mvms_sync_missing(unsigned char *missing, mvms_store *st, const mvms_oid *ids, size_t n)
{
	return mvms_packs__missing(missing, st, ids, n);
}

int mvms_sync_receive_pack(mvms_oid *id_out, mvms_store *st, const void *data, size_t len,
			   const mvms_oid *expect)
{
	static const char key[] = "incoming";
	mvms_backend *mem = NULL;
	mvms_pack_entry *e = NULL;
	mvms_codec *codec = NULL;
	unsigned char *raw = NULL;
	size_t n = 0, i, raw_cap = 0;
	uint64_t size = 0;
	char pkey[MVMS_KEY_MAX];
	mvms_oid pid;
	int error = 0;

	if (len < MVMS_PACK_HEADER_SIZE + MVMS_PACK_TRAILER_SIZE) {
		error = mvms_error_set(MVMS_EMISMATCH, "pack: %zu bytes is too short for a pack", len);
		goto done;
	}
	/* Read it with the same checks as a pack on disk: a memory backend lends the bytes. */
	MVMS_TRY(mvms_backend_mem(&mem));
	MVMS_TRY(mvms_backend_mem_put_borrowed(mem, key, data, len));
	if ((error = mvms_pack_read_index(&e, &n, &size, mem, key, expect)) < 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "%s", mvms_error_last());
		goto done;
	}
	mvms_oid_hash(&pid, (const unsigned char *)data + mvms_le64_get((const unsigned char *)data + len -
									MVMS_PACK_TRAILER_SIZE),
		      n * MVMS_PACK_INDEX_ENTRY);
	MVMS_TRY(mvms_codec_new(&codec, 0));
	for (i = 0; i < n; i++) {
		if (e[i].raw_len > raw_cap) {
			unsigned char *t = realloc(raw, e[i].raw_len);
			MVMS_CHECK_ALLOC(t, error);
			raw = t;
			raw_cap = e[i].raw_len;
		}
		MVMS_TRY(mvms_pack_decode_record(codec, raw, e[i].raw_len, &e[i].id,
						 (const unsigned char *)data + e[i].offset,
						 MVMS_PACK_RECORD_HDR + (size_t)e[i].stored_len));
	}
	mvms_object_key(pkey, sizeof(pkey), "packs", &pid);
	MVMS_TRY(mvms_backend_put(st->be, pkey, data, len));
	MVMS_TRY(mvms_packs__index(st, &pid, size, e, n));
	if (id_out)
		*id_out = pid;
done:
	free(raw);
	free(e);
	mvms_codec_free(codec);
	mvms_backend_free(mem);
	return error;
}

typedef struct chunk_loc {
	mvms_oid pack;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	uint8_t codec;
} chunk_loc;

static int locate(chunk_loc *out, mvms_store *st, const mvms_oid *id)
{
	static const char q[] =
		"SELECT p.oid, c.offset, c.raw_len, c.stored_len, c.codec FROM chunks c "
		"JOIN packs p ON p.id = c.pack_id WHERE c.oid = ?";
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	char hex[MVMS_OID_HEXSZ + 1];
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		error = mvms_db_column_oid(&out->pack, s, 0);
		out->offset = (uint64_t)sqlite3_column_int64(s, 1);
		out->raw_len = (uint32_t)sqlite3_column_int64(s, 2);
		out->stored_len = (uint32_t)sqlite3_column_int64(s, 3);
		out->codec = (uint8_t)sqlite3_column_int(s, 4);
	} else if (rc == SQLITE_DONE) {
		mvms_oid_fmt(hex, id);
		error = mvms_error_set(MVMS_ENOTFOUND, "chunk %s is not in this store", hex);
	} else {
		error = mvms_db_error(st->db, rc, "locate chunk");
	}
	sqlite3_reset(s);
	return error;
}

/* Reads one stored record (header and bytes) into @rec. Its header must be the one the index
 * describes (a misplaced offset shows here); the bytes are not decoded: whoever receives the
 * record decodes and checks it before using it (mvms_sync_receive_pack). */
static int read_record(unsigned char **rec, size_t *rec_cap, mvms_store *st, const mvms_oid *id,
		       chunk_loc *loc)
{
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	size_t need;
	int error = 0;

	MVMS_TRY(locate(loc, st, id));
	need = MVMS_PACK_RECORD_HDR + (size_t)loc->stored_len;
	if (need > *rec_cap) {
		unsigned char *t = realloc(*rec, need);
		MVMS_CHECK_ALLOC(t, error);
		*rec = t;
		*rec_cap = need;
	}
	mvms_object_key(key, sizeof(key), "packs", &loc->pack);
	MVMS_TRY(mvms_backend_get(st->be, key, loc->offset, *rec, need));
	if (!mvms_pack_record_is(*rec, id, loc->codec, loc->raw_len, loc->stored_len)) {
		mvms_oid_fmt(hex, id);
		error = mvms_error_set(MVMS_EMISMATCH, "export: the record of chunk %.16s in %s is not "
				       "where the index says", hex, key);
	}
done:
	return error;
}

int mvms_sync_export_chunks(void **out, size_t *out_len, mvms_oid *pack_id, mvms_store *st,
			    const mvms_oid *ids, size_t n)
{
	mvms_backend *mem = NULL;
	mvms_pack_writer *w = NULL;
	unsigned char *rec = NULL;
	size_t rec_cap = 0, i, count;
	const mvms_pack_entry *entries;
	char key[MVMS_KEY_MAX];
	uint64_t size;
	chunk_loc loc;
	mvms_oid pid;
	int error = 0, began = 0;

	*out = NULL;
	*out_len = 0;
	if (n == 0)
		return mvms_error_set(MVMS_EINVALID, "export: no chunks asked for");
	MVMS_TRY(mvms_backend_mem(&mem));
	MVMS_TRY(mvms_pack_writer_new(&w, mem));
	/* One read transaction for all the look-ups (see mvms_db_read_begin). */
	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	for (i = 0; i < n; i++) {
		MVMS_TRY(read_record(&rec, &rec_cap, st, &ids[i], &loc));
		MVMS_TRY(mvms_pack_writer_add(w, &ids[i], rec[0], loc.raw_len,
					      rec + MVMS_PACK_RECORD_HDR, loc.stored_len));
	}
	MVMS_TRY(mvms_pack_writer_finish(&pid, &size, &entries, &count, w));
	mvms_object_key(key, sizeof(key), "packs", &pid);
	MVMS_TRY(mvms_backend_mem_take(out, out_len, mem, key));
	if (pack_id)
		*pack_id = pid;
done:
	mvms_db_read_end(st->db, began);
	mvms_pack_writer_free(w);
	mvms_backend_free(mem);
	free(rec);
	return error;
}

int mvms_sync_object_id(mvms_oid *out, const char *kind, const void *data, size_t len)
{
	/* A manifest is named by the hash of all its bytes; a chunk list by the hash of its
	 * entries (the file id), not of its header. */
	if (strcmp(kind, "files") == 0) {
		if (len < FILEMAP_HDR)
			return mvms_error_set(MVMS_EMISMATCH, "chunk list: too short");
		mvms_oid_hash(out, (const unsigned char *)data + FILEMAP_HDR, len - FILEMAP_HDR);
	} else {
		mvms_oid_hash(out, data, len);
	}
	return 0;
}

int mvms_sync_get_object(void **out, size_t *out_len, mvms_store *st, const char *kind,
			 const mvms_oid *id)
{
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	mvms_oid got;
	int error = 0;

	*out = NULL;
	*out_len = 0;
	if (strcmp(kind, "manifests") != 0 && strcmp(kind, "files") != 0)
		return mvms_error_set(MVMS_EINVALID, "object kind '%s': want manifests or files", kind);
	mvms_object_key(key, sizeof(key), kind, id);
	MVMS_TRY(mvms_backend_get_all(out, out_len, st->be, key, 1024u * 1024 * 1024));
	if (mvms_sync_object_id(&got, kind, *out, *out_len) < 0 || mvms_oid_cmp(&got, id) != 0) {
		mvms_oid_fmt(hex, id);
		free(*out);
		*out = NULL;
		*out_len = 0;
		error = mvms_error_set(MVMS_EMISMATCH, "object %s/%s does not match its hash", kind, hex);
	}
done:
	return error;
}

int mvms_sync_parse_filemap(mvms_oid **chunks, size_t *count, uint64_t *size, const void *data,
			    size_t len, const mvms_oid *id)
{
	const unsigned char *p = data;
	uint64_t n, total = 0, i;
	mvms_oid got, *list = NULL;
	int error = 0;

	*chunks = NULL;
	*count = 0;
	if (id) {
		if (mvms_sync_object_id(&got, "files", data, len) < 0 || mvms_oid_cmp(&got, id) != 0) {
			error = mvms_error_set(MVMS_EMISMATCH, "chunk list does not hash to its file id");
			goto done;
		}
	}
	if (len < FILEMAP_HDR || memcmp(p, "MVMSFMAP", 8) != 0 || mvms_le32_get(p + 8) != 1) {
		error = mvms_error_set(MVMS_EINVALID, "chunk list: bad header");
		goto done;
	}
	n = mvms_le64_get(p + 24);
	if (n > (len - FILEMAP_HDR) / FILEMAP_ENTRY || FILEMAP_HDR + n * FILEMAP_ENTRY != len) {
		error = mvms_error_set(MVMS_EINVALID, "chunk list: length does not match its count");
		goto done;
	}
	list = calloc(n + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	for (i = 0; i < n; i++) {
		const unsigned char *e = p + FILEMAP_HDR + i * FILEMAP_ENTRY;
		uint64_t l = mvms_le64_get(e + 32);
		memcpy(list[i].id, e, MVMS_OID_RAWSZ);
		if (l == 0 || l > MVMS_CHUNKER_AVG_MAX * 2ull || mvms_add_overflow(&total, total, l)) {
			error = mvms_error_set(MVMS_EINVALID, "chunk list: bad chunk length");
			goto done;
		}
	}
	if (total != mvms_le64_get(p + 16)) {
		error = mvms_error_set(MVMS_EINVALID, "chunk list: lengths do not add up to the size");
		goto done;
	}
	*size = total;
	*chunks = list;
	*count = (size_t)n;
	list = NULL;
done:
	free(list);
	return error;
}

/* The chunk lengths of a filemap, for the content rows. */
static int filemap_refs(mvms_chunk_ref **out, const void *data, size_t n)
{
	const unsigned char *p = data;
	mvms_chunk_ref *r = calloc(n + 1, sizeof(*r));
	size_t i;

	*out = NULL;
	if (!r)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	for (i = 0; i < n; i++) {
		memcpy(r[i].id.id, p + FILEMAP_HDR + i * FILEMAP_ENTRY, MVMS_OID_RAWSZ);
		r[i].len = (uint32_t)mvms_le64_get(p + FILEMAP_HDR + i * FILEMAP_ENTRY + 32);
	}
	*out = r;
	return 0;
}

/* Reads the first @want bytes of a file made of @refs, each chunk checked. */
static int read_prefix(mvms_buf *out, mvms_store *st, const mvms_chunk_ref *refs, size_t n,
		       uint64_t want)
{
	mvms_codec *codec = NULL;
	unsigned char *rec = NULL, *raw = NULL;
	size_t rec_cap = 0, raw_cap = 0, i;
	chunk_loc loc;
	int error = 0;

	MVMS_TRY(mvms_codec_new(&codec, 0));
	for (i = 0; i < n && out->size < want; i++) {
		uint64_t take;
		MVMS_TRY(read_record(&rec, &rec_cap, st, &refs[i].id, &loc));
		if ((size_t)loc.raw_len + 1 > raw_cap) {
			unsigned char *t = realloc(raw, (size_t)loc.raw_len + 1);
			MVMS_CHECK_ALLOC(t, error);
			raw = t;
			raw_cap = (size_t)loc.raw_len + 1;
		}
		MVMS_TRY(mvms_pack_decode_record(codec, raw, loc.raw_len, &refs[i].id, rec,
						 MVMS_PACK_RECORD_HDR + (size_t)loc.stored_len));
		take = want - out->size < loc.raw_len ? want - out->size : loc.raw_len;
		MVMS_TRY(mvms_buf_put(out, raw, (size_t)take));
	}
done:
	mvms_codec_free(codec);
	free(rec);
	free(raw);
	return error;
}

/* Tensor ids from the chunk list; 0 with *ok 0 when the chunks are not cut at the tensor
 * boundaries (a client that chunked otherwise): then the file is kept as plain bytes. */
static int tensor_ids(mvms_oid **out, int *ok, const mvms_safetensors *sf,
		      const mvms_chunk_ref *refs, size_t n)
{
	mvms_oid *ids = calloc(sf->count + 1, sizeof(*ids));
	uint64_t pos = 0;
	size_t t, i = 0;
	mvms_hasher h;

	*out = NULL;
	*ok = 0;
	if (!ids)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	/* Tensors are sorted by offset and do not overlap; chunks come in file order. */
	for (t = 0; t < sf->count; t++) {
		const mvms_tensor_info *ti = &sf->tensors[t];
		mvms_hasher_init(&h);
		while (i < n && pos + refs[i].len <= ti->offset) {
			pos += refs[i].len;
			i++;
		}
		if (ti->length && pos != ti->offset)
			goto misaligned;
		while (i < n && pos < ti->offset + ti->length) {
			mvms_hasher_add_chunk(&h, &refs[i].id, refs[i].len);
			pos += refs[i].len;
			i++;
		}
		if (pos < ti->offset + ti->length || (ti->length && pos != ti->offset + ti->length))
			goto misaligned;
		mvms_hasher_final(&h, &ids[t]);
	}
	*out = ids;
	*ok = 1;
	return 0;
misaligned:
	free(ids);
	return 0;
}

/* Adds the content that a filemap describes (chunks must all be here). */
static int add_content_from_filemap(mvms_store *st, const mvms_oid *id, uint64_t size,
				    const void *filemap, size_t len)
{
	mvms_oid *chunks = NULL, *tids = NULL;
	mvms_chunk_ref *refs = NULL;
	unsigned char *missing = NULL;
	mvms_safetensors *sf = NULL;
	mvms_buf head = MVMS_BUF_INIT;
	size_t n = 0, i, needed = 0;
	uint64_t total = 0, hlen;
	char hex[MVMS_OID_HEXSZ + 1];
	int64_t row;
	int error = 0, ok = 0, began = 0;

	MVMS_TRY(mvms_sync_parse_filemap(&chunks, &n, &total, filemap, len, id));
	if (total != size) {
		error = mvms_error_set(MVMS_EINVALID, "chunk list: %llu bytes, but the manifest says %llu",
				       (unsigned long long)total, (unsigned long long)size);
		goto done;
	}
	missing = calloc(n + 1, 1);
	MVMS_CHECK_ALLOC(missing, error);
	MVMS_TRY(mvms_sync_missing(missing, st, chunks, n));
	for (i = 0; i < n; i++)
		if (missing[i]) {
			mvms_oid_fmt(hex, &chunks[i]);
			/* Under a lease the client asked which chunks were missing after taking
			 * it: one that was here then went with a gc (an old unused pack). */
			error = st->lease[0]
				? mvms_error_set(MVMS_ECONFLICT, "chunk %s is not here any more (a gc "
						 "removed it after the client was told it was): push again", hex)
				: mvms_error_set(MVMS_EINVALID, "chunk %s is not here: upload its pack "
						 "before committing", hex);
			goto done;
		}
	MVMS_TRY(filemap_refs(&refs, filemap, n));
	/* Tensors come from the stored bytes, not from the client's word. */
	if (size >= 9) {
		MVMS_TRY(read_prefix(&head, st, refs, n, 9));
		hlen = mvms_le64_get((const unsigned char *)head.ptr);
		if (head.ptr[8] == '{' && hlen <= MVMS_SAFETENSORS_HEADER_MAX && 8 + hlen <= size) {
			mvms_buf_clear(&head);
			MVMS_TRY(read_prefix(&head, st, refs, n, 8 + hlen));
			if (mvms_safetensors_parse(&sf, &needed, head.ptr, head.size, size) < 0) {
				mvms_error_clear();
				sf = NULL;
			}
		}
	}
	if (sf) {
		MVMS_TRY(tensor_ids(&tids, &ok, sf, refs, n));
		if (!ok) {
			mvms_safetensors_free(sf);
			sf = NULL;
		}
	}
	{
		/* Kept as an object too, as push does, so pulls and a rebuild can find it. */
		char key[MVMS_KEY_MAX];
		mvms_object_key(key, sizeof(key), "files", id);
		MVMS_TRY(mvms_backend_put(st->be, key, filemap, len));
	}
	/* One transaction for the content and all its chunk rows: one sync to disk, not one
	 * per chunk. */
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_contents__add(&row, st, id, size, refs, n, sf, tids));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_buf_dispose(&head);
	mvms_safetensors_free(sf);
	free(tids);
	free(refs);
	free(missing);
	free(chunks);
	return error;
}

static int content_exists(mvms_store *st, const mvms_oid *id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT 1 FROM contents WHERE oid = ?");
	int rc;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : mvms_db_error(st->db, rc, "content");
}

int mvms_sync_commit(mvms_push_result *out, mvms_store *st, const char *branch,
		     const char *expected_head, const void *manifest, size_t manifest_len,
		     const void *const *filemaps, const size_t *filemap_lens, size_t nfilemaps)
{
	mvms_manifest *m = NULL;
	mvms_push__entry *entries = NULL;
	mvms_oid *fm_ids = NULL;
	int64_t model_id = 0, head = 0, *parents = NULL;
	char uid[33], hex[MVMS_OID_HEXSZ + 1];
	size_t i, j;
	int error = 0, have;

	memset(out, 0, sizeof(*out));
	if (!branch)
		branch = "main";
	MVMS_TRY(mvms_ref_name_check(branch));
	if ((error = mvms_manifest_decode(&m, manifest, manifest_len)) < 0) {
		error = mvms_error_set(MVMS_EINVALID, "%s", mvms_error_last());
		goto done;
	}
	MVMS_TRY(mvms_model_name_check(m->model_name));
	error = mvms_store__model_id(&model_id, st, m->model_name);
	if (error == 0) {
		MVMS_TRY(mvms_store__model_uid(uid, st, model_id));
		if (strcmp(uid, m->model_uid) != 0) {
			error = mvms_error_set(MVMS_EINVALID,
					       "the manifest is for model uid %s, but %s here has uid %s",
					       m->model_uid, m->model_name, uid);
			goto done;
		}
		error = mvms_refs__branch_head(&head, st, model_id, branch);
		if (error == MVMS_ENOTFOUND) {
			head = 0;
			error = 0;
		}
	} else if (error == MVMS_ENOTFOUND) {
		/* A new model: registered with the manifest's uid when the version commits. */
		model_id = 0;
		error = 0;
	}
	if (error < 0)
		goto done;
	mvms_error_clear();
	/* The client's view of the head must still be true. */
	if (head) {
		mvms_version_info *hv = NULL;
		MVMS_TRY(mvms_version__load(&hv, st, head));
		snprintf(hex, sizeof(hex), "%s", hv->id);
		mvms_version_info_free(hv);
	}
	if (!expected_head || strcmp(expected_head, head ? hex : "") != 0) {
		error = mvms_error_set(MVMS_ECONFLICT,
				       "branch '%s' of %s is at %s, not at %s: pull, and push again",
				       branch, m->model_name, head ? hex : "(no version)",
				       expected_head && *expected_head ? expected_head : "(no version)");
		goto done;
	}
	parents = calloc(m->parent_count + 1, sizeof(*parents));
	MVMS_CHECK_ALLOC(parents, error);
	for (i = 0; i < m->parent_count; i++) {
		mvms_oid_fmt(hex, &m->parents[i]);
		if ((error = mvms_version__row(&parents[i], st, hex)) == MVMS_ENOTFOUND) {
			error = mvms_error_set(MVMS_EINVALID, "parent %s is not in this store", hex);
			goto done;
		}
		if (error < 0)
			goto done;
	}
	fm_ids = calloc(nfilemaps + 1, sizeof(*fm_ids));
	entries = calloc(m->file_count + 1, sizeof(*entries));
	MVMS_CHECK_ALLOC(fm_ids, error);
	MVMS_CHECK_ALLOC(entries, error);
	for (j = 0; j < nfilemaps; j++)
		if (mvms_sync_object_id(&fm_ids[j], "files", filemaps[j], filemap_lens[j]) < 0)
			memset(&fm_ids[j], 0, sizeof(fm_ids[j]));
	/* The whole commit is checked before any content row or object of it is written. */
	if ((error = mvms_validate_manifest(st, m, model_id, branch, parents, fm_ids, filemaps,
					    filemap_lens, nfilemaps)) < 0) {
		out->gc_conflict = error == MVMS_ECONFLICT; /* under a lease: a gc took a chunk */
		goto done;
	}
	for (i = 0; i < m->file_count; i++) {
		const mvms_manifest_file *f = &m->files[i];
		if ((have = content_exists(st, &f->id)) < 0) {
			error = have;
			goto done;
		}
		if (!have) {
			for (j = 0; j < nfilemaps && mvms_oid_cmp(&fm_ids[j], &f->id) != 0; j++)
				;
			if (j == nfilemaps) {
				mvms_oid_fmt(hex, &f->id);
				error = mvms_error_set(MVMS_EINVALID,
						       "%s: file %s is not here and its chunk list was not sent",
						       f->path, hex);
				goto done;
			}
			if ((error = add_content_from_filemap(st, &f->id, f->size, filemaps[j],
							      filemap_lens[j])) < 0) {
				out->gc_conflict = error == MVMS_ECONFLICT;
				goto done;
			}
		}
		entries[i].path = f->path;
		entries[i].mode = f->mode;
		entries[i].content = f->id;
		entries[i].size = f->size;
	}
	{
		mvms_push__request rq = { m->model_name, branch, head, parents, m->parent_count,
					  m->message, m->author, m->time, entries, m->file_count,
					  m, 0 };
		MVMS_TRY(mvms_push__entries(out, st, &rq));
	}
done:
	free(entries);
	free(fm_ids);
	free(parents);
	mvms_manifest_free(m);
	return error;
}

int mvms_sync_manifest(char **out, size_t *out_len, char *id_out, const mvms_sync_manifest_info *info)
{
	mvms_manifest m;
	mvms_buf enc = MVMS_BUF_INIT;
	mvms_oid vid;
	size_t i;
	int error = 0;

	*out = NULL;
	*out_len = 0;
	memset(&m, 0, sizeof(m));
	if (!info->model_uid || strlen(info->model_uid) != 32) {
		error = mvms_error_set(MVMS_EINVALID, "manifest: bad model uid");
		goto done;
	}
	memcpy(m.model_uid, info->model_uid, 33);
	m.model_name = (char *)info->model_name;
	m.author = (char *)(info->author ? info->author : "");
	m.message = (char *)(info->message ? info->message : "");
	m.time = info->time;
	m.parents = calloc(info->parent_count + 1, sizeof(*m.parents));
	MVMS_CHECK_ALLOC(m.parents, error);
	for (i = 0; i < info->parent_count; i++)
		MVMS_TRY(mvms_oid_parse(&m.parents[i], info->parents[i]));
	m.parent_count = info->parent_count;
	m.meta_keys = calloc(info->meta_count + 1, sizeof(char *));
	m.meta_values = calloc(info->meta_count + 1, sizeof(char *));
	MVMS_CHECK_ALLOC(m.meta_keys, error);
	MVMS_CHECK_ALLOC(m.meta_values, error);
	for (i = 0; i < info->meta_count; i++) {
		const char *eq = strchr(info->meta[i], '=');
		if (!eq || eq == info->meta[i]) {
			error = mvms_error_set(MVMS_EINVALID, "metadata '%s' is not KEY=VALUE", info->meta[i]);
			goto done;
		}
		m.meta_keys[i] = strndup(info->meta[i], (size_t)(eq - info->meta[i]));
		m.meta_values[i] = strdup(eq + 1);
		m.meta_count = i + 1;
		if (!m.meta_keys[i] || !m.meta_values[i]) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
	}
	m.files = calloc(info->file_count + 1, sizeof(*m.files));
	MVMS_CHECK_ALLOC(m.files, error);
	for (i = 0; i < info->file_count; i++) {
		m.files[i].path = info->files[i].path;
		m.files[i].mode = info->files[i].mode;
		m.files[i].size = info->files[i].size;
		m.files[i].id = info->files[i].id;
	}
	m.file_count = info->file_count;
	MVMS_TRY(mvms_manifest_sort(&m));
	MVMS_TRY(mvms_manifest_encode(&enc, &m));
	mvms_oid_hash(&vid, enc.ptr, enc.size);
	if (id_out)
		mvms_oid_fmt(id_out, &vid);
	*out_len = enc.size;
	*out = mvms_buf_detach(&enc);
done:
	free(m.parents);
	for (i = 0; i < m.meta_count; i++) {
		free(m.meta_keys[i]);
		free(m.meta_values[i]);
	}
	free(m.meta_keys);
	free(m.meta_values);
	free(m.files);
	mvms_buf_dispose(&enc);
	return error;
}

int mvms_sync_upload(mvms_push_result *out, mvms_store *st, const char *model, const char *branch,
		     const char *message, const char *author, const mvms_upload_file *files,
		     size_t count, int whole_tree)
{
	mvms_version_info *head = NULL;
	mvms_file_info *hf = NULL;
	mvms_push__entry *entries = NULL;
	size_t nh = 0, n = 0, i, j;
	int64_t model_id = 0, head_row = 0;
	int error = 0;
	char spec[256];

	memset(out, 0, sizeof(*out));
	if (!branch)
		branch = "main";
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(branch));
	if (count == 0) {
		error = mvms_error_set(MVMS_EINVALID, "upload: no files");
		goto done;
	}
	for (i = 0; i < count; i++)
		MVMS_TRY(mvms_path_check(files[i].path));
	error = mvms_store__model_id(&model_id, st, model);
	if (error == 0) {
		error = mvms_refs__branch_head(&head_row, st, model_id, branch);
		if (error == 0 && !whole_tree) {
			snprintf(spec, sizeof(spec), "%s@%s", model, branch);
			MVMS_TRY(mvms_version_resolve(&head, st, spec));
			MVMS_TRY(mvms_version_files(&hf, &nh, st, head));
		}
	}
	if (error == MVMS_ENOTFOUND) {
		error = 0;
		mvms_error_clear();
	}
	if (error < 0)
		goto done;
	entries = calloc(nh + count + 1, sizeof(*entries));
	MVMS_CHECK_ALLOC(entries, error);
	for (i = 0; i < nh; i++) {
		for (j = 0; j < count && strcmp(files[j].path, hf[i].path) != 0; j++)
			;
		if (j < count)
			continue; /* replaced by the upload */
		entries[n].path = hf[i].path;
		entries[n].mode = hf[i].mode;
		MVMS_TRY(mvms_oid_parse(&entries[n].content, hf[i].id));
		entries[n].size = hf[i].size;
		n++;
	}
	for (i = 0; i < count; i++) {
		for (j = 0; j < i && strcmp(files[j].path, files[i].path) != 0; j++)
			;
		if (j < i) {
			error = mvms_error_set(MVMS_EINVALID, "upload: path '%s' given twice", files[i].path);
			goto done;
		}
		entries[n].path = files[i].path;
		entries[n].mode = files[i].mode == 0755 ? 0755 : 0644;
		entries[n].abs = files[i].abs;
		n++;
	}
	/* The tree's paths, checked before any file is read and stored. */
	MVMS_TRY(mvms_validate_entry_paths(entries, n));
	{
		mvms_push__request rq = { model, branch, head_row, head_row ? &head_row : NULL,
					  head_row ? 1 : 0, message, author, 0, entries, n, NULL, 1 };
		MVMS_TRY(mvms_push__entries(out, st, &rq));
	}
done:
	free(entries);
	mvms_file_list_free(hf, nh);
	mvms_version_info_free(head);
	return error;
}

/* Chunks go to a worker thread through a bounded queue, so writing the cache (packs,
 * fsync, index) overlaps the download instead of adding to it. They travel as blocks of
 * records in pack form (a remote pull hands over the records as they arrived), so a block
 * the cache lacks entirely is one write, with no copy. The worker is the only user of the
 * store's database while the sink lives. */
#define SINK_QUEUE_MAX (64u * 1024 * 1024)
#define SINK_WAKE (2u * 1024 * 1024)

typedef struct sink_item {
	struct sink_item *next;
	unsigned char *data;       /* records back to back: 41-byte header, stored bytes */
	size_t len, n;             /* bytes, records */
} sink_item;

static void sink_item_free(sink_item *it)
{
	if (it) {
		free(it->data);
		free(it);
	}
}

struct mvms_chunk_sink {
	mvms_store *st;
	mvms_pack_writer *w;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	sink_item *head, *tail;
	size_t queued;             /* bytes queued or being stored */
	int waiting;               /* the producer waits for room */
	int closing;
	int error;                 /* the worker's first error */
	char msg[512];
};

static int sink_flush(mvms_chunk_sink *s)
{
	mvms_pack_writer *w = s->w;

	if (!w)
		return 0;
	s->w = NULL;
	return mvms_packs__commit(NULL, s->st, w);
}

/* Stores the records of @it the cache lacks (@missing, one flag each), kept as they arrived
 * (compressed by the server, or raw): compressing here would hold up the download. */
static int sink_store(mvms_chunk_sink *s, const sink_item *it, const unsigned char *missing)
{
	size_t i, off, all = 1;
	int error = 0;

	for (i = 0; i < it->n; i++)
		all &= missing[i] != 0;
	if (!s->w)
		MVMS_TRY(mvms_pack_writer_new(&s->w, s->st->be));
	if (all) {
		MVMS_TRY(mvms_pack_writer_add_records(s->w, it->data, it->len));
	} else {
		for (i = 0, off = 0; i < it->n; i++) {
			mvms_pack_record r;
			mvms_pack_record_get(&r, it->data + off);
			if (missing[i])
				MVMS_TRY(mvms_pack_writer_add(s->w, &r.id, r.codec, r.raw_len,
							      it->data + off + MVMS_PACK_RECORD_HDR,
							      r.stored_len));
			off += MVMS_PACK_RECORD_HDR + (size_t)r.stored_len;
		}
	}
	if (mvms_pack_writer_size(s->w) >= s->st->pack_size)
		MVMS_TRY(sink_flush(s));
done:
	return error;
}

/* What cmp_by_id compares by, for the one qsort of mvms_sync__repeats in this thread. */
static _Thread_local const mvms_oid *sort_ids;

static int cmp_by_id(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = mvms_oid_cmp(&sort_ids[x], &sort_ids[y]);

	return c ? c : (x > y) - (x < y);
}

int mvms_sync__repeats(unsigned char *repeat, const mvms_oid *ids, size_t n)
{
	size_t *order = NULL, i;
	int error = 0;

	memset(repeat, 0, n);
	if (n < 2)
		return 0;
	order = malloc(n * sizeof(*order));
	MVMS_CHECK_ALLOC(order, error);
	for (i = 0; i < n; i++)
		order[i] = i;
	sort_ids = ids;
	qsort(order, n, sizeof(*order), cmp_by_id);
	sort_ids = NULL;
	/* Equal ids sort by position: each one after the first of its run is a repeat. */
	for (i = 1; i < n; i++)
		if (mvms_oid_cmp(&ids[order[i]], &ids[order[i - 1]]) == 0)
			repeat[order[i]] = 1;
done:
	free(order);
	return error;
}

/* Which records of a batch the cache lacks, in one read transaction: a lookup per chunk on
 * its own would take and drop SQLite's file lock each time (4 fcntl calls a chunk). */
static int sink_missing(unsigned char **flags, size_t *cap, mvms_chunk_sink *s, sink_item *batch)
{
	unsigned char *repeat = NULL;
	mvms_oid *ids = NULL;
	sink_item *it;
	size_t n = 0, i, k, off;
	int error = 0;

	for (it = batch; it; it = it->next)
		n += it->n;
	if (n > *cap) {
		unsigned char *t = realloc(*flags, n);
		MVMS_CHECK_ALLOC(t, error);
		*flags = t;
		*cap = n;
	}
	ids = malloc((n + 1) * sizeof(*ids));
	MVMS_CHECK_ALLOC(ids, error);
	for (it = batch, i = 0; it; it = it->next)
		for (k = 0, off = 0; k < it->n; k++, i++) {
			mvms_pack_record r;
			mvms_pack_record_get(&r, it->data + off);
			ids[i] = r.id;
			off += MVMS_PACK_RECORD_HDR + (size_t)r.stored_len;
		}
	MVMS_TRY(mvms_sync_missing(*flags, s->st, ids, n));
	/* A chunk twice in one batch (a file that repeats itself) is stored once. */
	repeat = malloc(n + 1);
	MVMS_CHECK_ALLOC(repeat, error);
	MVMS_TRY(mvms_sync__repeats(repeat, ids, n));
	for (i = 0; i < n; i++)
		if (repeat[i])
			(*flags)[i] = 0;
done:
	free(repeat);
	free(ids);
	return error;
}

static void *sink_main(void *arg)
{
	mvms_chunk_sink *s = arg;
	sink_item *batch, *it;
	unsigned char *flags = NULL;
	size_t cap = 0, i;
	int error = 0;

	for (;;) {
		/* Take everything queued: one wake-up and one lookup per batch, not per block. */
		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->closing)
			pthread_cond_wait(&s->more, &s->lock);
		batch = s->head;
		s->head = s->tail = NULL;
		pthread_mutex_unlock(&s->lock);
		if (!batch)
			break;
		if (error == 0)
			error = sink_missing(&flags, &cap, s, batch);
		for (i = 0; batch; ) {
			it = batch;
			batch = it->next;
			if (error == 0)
				error = sink_store(s, it, flags + i);
			i += it->n;
			pthread_mutex_lock(&s->lock);
			s->queued -= it->len;
			if (error < 0 && !s->error) {
				s->error = error;
				snprintf(s->msg, sizeof(s->msg), "%s", mvms_error_last());
				pthread_cond_broadcast(&s->room);
			}
			if (s->waiting)
				pthread_cond_signal(&s->room);
			pthread_mutex_unlock(&s->lock);
			sink_item_free(it);
		}
	}
	if (error == 0 && (error = sink_flush(s)) < 0) {
		s->error = error;
		snprintf(s->msg, sizeof(s->msg), "%s", mvms_error_last());
	}
	free(flags);
	return NULL;
}

int mvms_chunk_sink_new(mvms_chunk_sink **out, mvms_store *st)
{
	mvms_chunk_sink *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	s->st = st;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->more, NULL);
	pthread_cond_init(&s->room, NULL);
	if (pthread_create(&s->thread, NULL, sink_main, s) != 0) {
		mvms_chunk_sink_free(s);
		return mvms_error_set(MVMS_ERROR, "cache: cannot start its writer thread");
	}
	s->started = 1;
	*out = s;
	return 0;
}

int mvms_sync__sink_add_records(mvms_chunk_sink *s, unsigned char *records, size_t len, size_t n)
{
	sink_item *it = malloc(sizeof(*it));
	int error;

	if (!it) {
		free(records);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	it->next = NULL;
	it->data = records;
	it->len = len;
	it->n = n;
	pthread_mutex_lock(&s->lock);
	while (s->queued + len > SINK_QUEUE_MAX && s->queued && !s->error) {
		s->waiting = 1;
		pthread_cond_signal(&s->more);
		pthread_cond_wait(&s->room, &s->lock);
	}
	s->waiting = 0;
	if ((error = s->error) == 0) {
		if (s->tail)
			s->tail->next = it;
		else
			s->head = it;
		s->tail = it;
		s->queued += len;
		it = NULL;
		/* Wake the worker for a batch, not for every block. */
		if (s->queued >= SINK_WAKE)
			pthread_cond_signal(&s->more);
	}
	pthread_mutex_unlock(&s->lock);
	sink_item_free(it);
	return error < 0 ? mvms_error_set(error, "%s", s->msg) : 0;
}

int mvms_chunk_sink_add(mvms_chunk_sink *s, const mvms_oid *id, const void *data, size_t len)
{
	unsigned char *rec;

	if (len == 0 || len > UINT32_MAX)
		return mvms_error_set(MVMS_EINVALID, "cache: a %zu-byte chunk", len);
	if (!(rec = malloc(MVMS_PACK_RECORD_HDR + len)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	mvms_pack_record_put(rec, id, MVMS_CODEC_RAW, (uint32_t)len, (uint32_t)len);
	memcpy(rec + MVMS_PACK_RECORD_HDR, data, len);
	return mvms_sync__sink_add_records(s, rec, MVMS_PACK_RECORD_HDR + len, 1);
}

int mvms_chunk_sink_finish(mvms_chunk_sink *s)
{
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->closing = 1;
		pthread_cond_signal(&s->more);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		s->started = 0;
	}
	return s->error < 0 ? mvms_error_set(s->error, "%s", s->msg) : 0;
}

void mvms_chunk_sink_free(mvms_chunk_sink *s)
{
	sink_item *it, *next;

	if (!s)
		return;
	if (s->started) {
		/* Abandoned (the pull failed): drop what is queued, stop the worker. */
		pthread_mutex_lock(&s->lock);
		for (it = s->head; it; it = next) {
			next = it->next;
			sink_item_free(it);
		}
		s->head = s->tail = NULL;
		s->closing = 1;
		pthread_cond_signal(&s->more);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	mvms_pack_writer_free(s->w);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->more);
	pthread_cond_destroy(&s->room);
	free(s);
}
