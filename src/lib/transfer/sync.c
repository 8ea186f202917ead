/* SPDX-License-Identifier: MIT */
/*
 * The push/pull protocol's store side, for chunks and objects: which chunks are missing,
 * packs checked on arrival and built for the wire (exports), verified object reads and the
 * chunk-list parser. It speaks no HTTP: the server and the remote client call it. Commits
 * a client makes are in sync_commit.c; a remote pull's cache writer in sink.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "mvms/sync.h"
#include "codec.h"
#include "locate.h"
#include "packs.h"
#include "pack.h"
#include "sync_int.h"
#include "bases.h"
#include "clists.h"

int mvms_sync_missing(unsigned char *missing, mvms_store *st, const mvms_oid *ids, size_t n)
{
	return mvms_packs__missing(missing, st, ids, n);
}

int mvms_sync_receive_pack(mvms_oid *id_out, mvms_store *st, const void *data, size_t len,
			   const mvms_oid *expect)
{
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
	if ((error = mvms_pack_read_index_mem(&e, &n, &size, data, len, expect)) < 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "%s", mvms_error_last());
		goto done;
	}
	mvms_oid_hash(&pid, (const unsigned char *)data + mvms_le64_get((const unsigned char *)data + len -
									MVMS_PACK_TRAILER_SIZE),
		      n * MVMS_PACK_INDEX_ENTRY);
	MVMS_TRY(mvms_codec_new(&codec, 0));
	/* A delta is checked through a base this store holds, or the pack is refused. */
	mvms_bases__attach(st, codec);
	for (i = 0; i < n; i++) {
		if (e[i].raw_len > raw_cap) {
			unsigned char *t = realloc(raw, e[i].raw_len);
			MVMS_CHECK_ALLOC(t, error);
			raw = t;
			raw_cap = e[i].raw_len;
		}
		if (e[i].codec == MVMS_CODEC_DELTA) {
			/* Its base must be a full record here (no chains), said before decoding:
			 * a base that is missing or itself a delta is refused naming both. */
			MVMS_TRY(mvms_codec_delta_base(&e[i].base, (const unsigned char *)data +
						       e[i].offset + MVMS_PACK_RECORD_HDR,
						       e[i].stored_len));
			MVMS_TRY(mvms_bases__check_index(st, &e[i], 1));
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
	if (error == MVMS_ECONFLICT) /* a gc took an old copy: the push starts over after it */
		mvms_lease__gc_wait(st);
	free(raw);
	free(e);
	mvms_codec_free(codec);
	return error;
}

int mvms_sync__read_record(unsigned char **rec, size_t *rec_cap, mvms_store *st,
			   const mvms_oid *id, mvms_chunk_loc *loc)
{
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	size_t need;
	int error = 0, found;

	if ((found = mvms_locate__chunk(loc, st, id)) < 0)
		return found;
	if (!found) {
		mvms_oid_fmt(hex, id);
		return mvms_error_set(MVMS_ENOTFOUND, "chunk %s is not in this store", hex);
	}
	need = MVMS_PACK_RECORD_HDR + (size_t)loc->stored;
	if (need > *rec_cap) {
		unsigned char *t = realloc(*rec, need);
		MVMS_CHECK_ALLOC(t, error);
		*rec = t;
		*rec_cap = need;
	}
	mvms_object_key(key, sizeof(key), "packs", &loc->pack);
	MVMS_TRY(mvms_backend_get(st->be, key, loc->at, *rec, need));
	if (!mvms_pack_record_is(*rec, id, loc->codec, loc->raw_len, loc->stored)) {
		mvms_oid_fmt(hex, id);
		error = mvms_error_set(MVMS_EMISMATCH, "export: the record of chunk %.16s in %s is not "
				       "where the index says", hex, key);
	}
done:
	return error;
}

int mvms_sync__export(void **out, size_t *out_len, mvms_oid *pack_id, mvms_store *st,
		      const mvms_oid *ids, size_t n, mvms_sync__export_hook hook, void *arg)
{
	mvms_backend *mem = NULL;
	mvms_pack_writer *w = NULL;
	unsigned char *rec = NULL;
	size_t rec_cap = 0, i, count;
	const mvms_pack_entry *entries;
	char key[MVMS_KEY_MAX];
	uint64_t size;
	mvms_chunk_loc loc;
	mvms_oid pid;
	int error = 0, began = 0, added;

	*out = NULL;
	*out_len = 0;
	MVMS_TRY(mvms_backend_mem(&mem));
	MVMS_TRY(mvms_pack_writer_new(&w, mem));
	/* One read transaction for all the look-ups (see mvms_db_read_begin). */
	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	for (i = 0; i < n; i++) {
		MVMS_TRY(mvms_sync__read_record(&rec, &rec_cap, st, &ids[i], &loc));
		added = hook ? hook(w, &ids[i], rec, &loc, arg) : 0;
		if (added < 0) {
			error = added;
			goto done;
		}
		if (!added)
			MVMS_TRY(mvms_pack_writer_add(w, &ids[i], rec[0], loc.raw_len,
						      rec + MVMS_PACK_RECORD_HDR, loc.stored));
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

int mvms_sync_export_chunks(void **out, size_t *out_len, mvms_oid *pack_id, mvms_store *st,
			    const mvms_oid *ids, size_t n)
{
	*out = NULL;
	*out_len = 0;
	if (n == 0)
		return mvms_error_set(MVMS_EINVALID, "export: no chunks asked for");
	return mvms_sync__export(out, out_len, pack_id, st, ids, n, NULL, NULL);
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
	if (strcmp(kind, "files") == 0) {
		/* From its list pack (level 14) or its own object; checked there. */
		error = mvms_clists__read(out, out_len, st, id, 0);
		goto done;
	}
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
