/* SPDX-License-Identifier: MIT */
/*
 * A remote push's fine-tune deltas, the client's side. The cache it stages into does not
 * know the parent version's files nor how the server stores them, so the pairing of a new
 * file's tensor chunks (push_delta.c) asks the server: GET .../versions/{id}/bases/{path}
 * gives the parent file's tensors and chunks and, per chunk, the full record the server
 * would take a delta against (the chunk, or the base of the delta it holds: no chains).
 * The parent is the first of the push's parents (the branch head first) that has the path
 * with tensors, as in a local push. Called on the staging thread, while the remote
 * handle's connection is idle. Anything short of a good answer means no deltas for that
 * file, never a failed push: a delta is only ever a smaller way to send the same bytes.
 * The bases' bytes come from the cache, or from the server (remote_bases.c's fetch hook).
 * And when a server refuses a delta of the cache's (its base is not a full record there: a
 * cache that pushed to another server, or a gc that took the base meanwhile), the pack is
 * built again with those chunks as full records (mvms_remote__export_full).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "remote_int.h"
#include "remote_delta.h"
#include "sync_int.h"
#include "pack.h"

/* @path with each '/'-separated segment escaped for a URL. */
static int escape_path(char **out, const char *path)
{
	mvms_buf pb = MVMS_BUF_INIT;
	const char *seg = path, *slash;
	int error = 0;

	*out = NULL;
	do {
		char *part, *e = NULL;
		slash = strchr(seg, '/');
		part = slash ? strndup(seg, (size_t)(slash - seg)) : strdup(seg);
		if (!part || mvms_remote_escape(&e, part) < 0) {
			free(part);
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		error = mvms_buf_printf(&pb, "%s%s", pb.size ? "/" : "", e);
		free(part);
		free(e);
		if (error < 0)
			goto done;
		seg = slash ? slash + 1 : NULL;
	} while (seg);
	*out = mvms_buf_detach(&pb);
done:
	mvms_buf_dispose(&pb);
	return error;
}

/* A non-negative integer member below 2^53, or -1. */
static double json_uint(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 9007199254740992.0 ||
	    n->valuedouble != (double)(uint64_t)n->valuedouble)
		return -1;
	return n->valuedouble;
}

static int parse_tensors(mvms_bases_parent *p, const cJSON *list)
{
	const cJSON *t;
	size_t n = (size_t)cJSON_GetArraySize(list);

	if (!(p->tensors = calloc(n + 1, sizeof(*p->tensors))))
		return -1;
	cJSON_ArrayForEach(t, list) {
		mvms_bases_tensor *o = &p->tensors[p->ntensors];
		const char *name = mvms_http__json_str(t, "name"), *dtype = mvms_http__json_str(t, "dtype");
		const char *shape = mvms_http__json_str(t, "shape");
		double off = json_uint(t, "offset"), len = json_uint(t, "length");
		if (!name || !dtype || !shape || strlen(dtype) >= sizeof(o->dtype) || off < 0 || len < 0)
			return -1;
		p->ntensors++;
		o->name = strdup(name);
		o->shape = strdup(shape);
		if (!o->name || !o->shape)
			return -1;
		snprintf(o->dtype, sizeof(o->dtype), "%s", dtype);
		o->offset = (uint64_t)off;
		o->length = (uint64_t)len;
	}
	return 0;
}

static int parse_chunks(mvms_bases_parent *p, const cJSON *list)
{
	const cJSON *c;
	size_t n = (size_t)cJSON_GetArraySize(list);
	uint64_t off = 0;

	if (!(p->chunks = calloc(n + 1, sizeof(*p->chunks))))
		return -1;
	cJSON_ArrayForEach(c, list) {
		mvms_bases_chunk *o = &p->chunks[p->nchunks];
		const char *id = mvms_http__json_str(c, "id"), *base = mvms_http__json_str(c, "base");
		double len = json_uint(c, "length");
		if (!id || mvms_oid_parse(&o->id, id) < 0 || len < 1 || len > 0xffffffffu ||
		    (base && mvms_oid_parse(&o->base, base) < 0))
			return -1;
		if (!base)
			o->base = o->id;
		o->offset = off;
		o->len = (uint32_t)len;
		off += o->len;
		p->nchunks++;
	}
	return 0;
}

/* The server's answer for @path in parent @k: *out NULL when it has none (or says nothing
 * usable). */
static int ask_parent(mvms_bases_parent **out, mvms_remote_parents *rp, size_t k, const char *ep)
{
	mvms_bases_parent *p = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL;
	char *em = NULL, *url = NULL;
	long status = 0;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_remote_escape(&em, rp->models[k]));
	if (asprintf(&url, "/v1/models/%s/versions/%s/bases/%s", em, rp->ids[k], ep) < 0) {
		url = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if (mvms_http__request(rp->r, "GET", url, NULL, 0, NULL, &resp, &status) < 0 || status != 200 ||
	    !(doc = cJSON_ParseWithLength(resp.ptr ? resp.ptr : "", resp.size)))
		goto done; /* no such file there (404), or a server from before deltas */
	p = calloc(1, sizeof(*p));
	MVMS_CHECK_ALLOC(p, error);
	if (parse_tensors(p, cJSON_GetObjectItemCaseSensitive(doc, "tensors")) < 0 ||
	    parse_chunks(p, cJSON_GetObjectItemCaseSensitive(doc, "chunks")) < 0 || !p->ntensors)
		goto done;
	*out = p;
	p = NULL;
done:
	if (error == 0)
		mvms_error_clear(); /* what the server would not say means no deltas here */
	mvms_bases__parent_free(p);
	cJSON_Delete(doc);
	mvms_buf_dispose(&resp);
	free(em);
	free(url);
	return error;
}

int mvms_remote__parent_file(mvms_bases_parent **out, void *ctx, const char *path)
{
	mvms_remote_parents *rp = ctx;
	char *ep = NULL;
	size_t k;
	int error = 0;

	*out = NULL;
	MVMS_TRY(escape_path(&ep, path));
	for (k = 0; k < rp->n && !*out; k++)
		MVMS_TRY(ask_parent(out, rp, k, ep));
done:
	free(ep);
	return error;
}

/* One delta record at @rec as a full record added to @w: decoded through @c (its base from
 * the cache or the server) and encoded again; @raw and @enc grow to the chunk's size. */
/* What export_full's hook needs: a codec that decodes through bases, its buffers, a count. */
typedef struct full_ctx {
	mvms_codec *c;
	mvms_buf raw, enc;
	size_t inflated;
} full_ctx;

/* An export hook: a delta record is decoded and added again as a full record; others are
 * copied as stored (0). */
static int add_full(mvms_pack_writer *w, const mvms_oid *id, const unsigned char *rec,
		    const mvms_chunk_loc *loc, void *arg)
{
	full_ctx *f = arg;
	uint8_t codec = 0;
	size_t n = 0, cap = mvms_codec_bound(loc->raw_len);
	int error = 0;

	if (rec[0] != MVMS_CODEC_DELTA)
		return 0;
	mvms_buf_clear(&f->raw);
	mvms_buf_clear(&f->enc);
	MVMS_TRY(mvms_buf_grow(&f->raw, loc->raw_len));
	MVMS_TRY(mvms_buf_grow(&f->enc, cap));
	MVMS_TRY(mvms_pack_decode_record(f->c, f->raw.ptr, loc->raw_len, id, rec,
					 MVMS_PACK_RECORD_HDR + (size_t)loc->stored));
	MVMS_TRY(mvms_codec_encode(f->c, &codec, &n, f->enc.ptr, cap, f->raw.ptr, loc->raw_len));
	MVMS_TRY(mvms_pack_writer_add(w, id, codec, loc->raw_len, f->enc.ptr, n));
	f->inflated++;
	error = 1;
done:
	return error;
}

int mvms_remote__export_full(void **out, size_t *out_len, mvms_oid *pack_id, size_t *inflated,
			     mvms_store *st, const mvms_oid *ids, size_t n)
{
	full_ctx f = { NULL, MVMS_BUF_INIT, MVMS_BUF_INIT, 0 };
	int error = 0;

	*out = NULL;
	*out_len = 0;
	*inflated = 0;
	MVMS_TRY(mvms_codec_new(&f.c, st->level));
	mvms_bases__attach(st, f.c);
	MVMS_TRY(mvms_sync__export(out, out_len, pack_id, st, ids, n, add_full, &f));
	*inflated = f.inflated;
done:
	mvms_codec_free(f.c);
	mvms_buf_dispose(&f.raw);
	mvms_buf_dispose(&f.enc);
	return error;
}
