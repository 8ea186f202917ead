/* SPDX-License-Identifier: MIT */
/*
 * Remote pull over the HTTP API (http.c): fetch the manifest and chunk lists (checked
 * against their ids); a file the cache mostly has fetches packs of just the chunks it lacks
 * (checked on arrival) and is written from the cache (checked again); the others stream as
 * their stored records (recv.c checks every chunk on arrival; with --cache-copy the cache
 * keeps them in its packs). Pulled files become sources of the cache for later pulls.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include "store_int.h"
#include "mvms/remote.h"
#include "mvms/gc.h"
#include "mvms/sync.h"
#include "manifest.h"
#include "hash.h"
#include "remote_int.h"
#include "pull_int.h"
#include "bases.h"
#include "prefetch.h"

#define FETCH_BATCH 4096u         /* chunks per fetched pack (the server's limit) */

static int fetch_object(void **out, size_t *len, mvms_remote *r, const char *kind, const mvms_oid *id)
{
	char hex[MVMS_OID_HEXSZ + 1], path[128];
	mvms_buf resp = MVMS_BUF_INIT;
	mvms_oid got;
	int error = 0;

	*out = NULL;
	mvms_oid_fmt(hex, id);
	snprintf(path, sizeof(path), "/v1/objects/%s/%s", kind, hex);
	MVMS_TRY(mvms_http__call(r, "GET", path, NULL, 0, NULL, &resp, path));
	if (mvms_sync_object_id(&got, kind, resp.ptr ? resp.ptr : "", resp.size) < 0 ||
	    mvms_oid_cmp(&got, id) != 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "remote: %s/%s: the bytes do not match their id",
				       kind, hex);
		goto done;
	}
	*len = resp.size;
	*out = mvms_buf_detach(&resp);
done:
	mvms_buf_dispose(&resp);
	return error;
}

static int fetch_chunks(mvms_remote *r, const mvms_oid *ids, size_t n, uint64_t *bytes)
{
	mvms_buf resp = MVMS_BUF_INIT;
	size_t i, end;
	int error = 0;

	for (i = 0; i < n; i = end) {
		end = i + FETCH_BATCH < n ? i + FETCH_BATCH : n;
		MVMS_TRY(mvms_http__post_ids(&resp, r, "/v1/chunks", ids + i, end - i, "fetch chunks"));
		/* Checked on arrival, chunk by chunk, like any pack from outside. */
		MVMS_TRY(mvms_sync_receive_pack(NULL, r->cache, resp.ptr, resp.size, NULL));
		*bytes += resp.size;
		r->stats.chunks_received += end - i;
	}
done:
	mvms_buf_dispose(&resp);
	return error;
}

/* ---- streaming a whole file as its stored records, every chunk checked on arrival ---- */

typedef struct stream_ctx {
	mvms_sync__recv *rv;
	CURL *curl;
	long status;               /* the reply's status, known at its first byte */
	mvms_buf err;              /* the body of a reply that is not 200: an error, not records */
	uint64_t wire;             /* reply bytes */
	int error;
	char msg[400];
} stream_ctx;

/* An error reply's JSON is kept for http_error up to this many bytes. */
#define ERROR_BODY_MAX 16384

static size_t stream_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	stream_ctx *c = arg;
	size_t len = size * nmemb;

	c->wire += len;
	if (c->status == 0)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status != 200) {
		/* Not records: what the server says went wrong. */
		if (c->err.size + len <= ERROR_BODY_MAX && mvms_buf_put(&c->err, p, len) < 0)
			return 0;
		return len;
	}
	if (c->error == 0 && (c->error = mvms_sync__recv_add(c->rv, p, len)) < 0)
		snprintf(c->msg, sizeof(c->msg), "%s", mvms_error_last());
	return c->error ? 0 : len;
}

static int stream_file(mvms_remote *r, const char *model, const char *vid, const mvms_manifest_file *f,
		       const void *fm, size_t nchunks, const char *dir, mvms_chunk_sink *sink,
		       const mvms_pull_options *opts, uint64_t *done_bytes, uint64_t total)
{
	stream_ctx c;
	mvms_prefetch *bases = NULL;
	char *em = NULL, *ep = NULL, *url = NULL;
	struct curl_slist *h = NULL;
	mvms_sync__part pf;
	long status = 0;
	CURLcode cc;
	int error = 0, ok = 0;

	memset(&c, 0, sizeof(c));
	memset(&pf, 0, sizeof(pf));
	c.curl = r->curl;
	MVMS_TRY(mvms_remote_escape(&em, model));
	/* The path keeps its '/': escape it segment by segment. */
	{
		mvms_buf pb = MVMS_BUF_INIT;
		const char *seg = f->path, *slash;
		do {
			char *e = NULL;
			slash = strchr(seg, '/');
			char *part = slash ? strndup(seg, (size_t)(slash - seg)) : strdup(seg);
			if (!part || mvms_remote_escape(&e, part) < 0) {
				free(part);
				mvms_buf_dispose(&pb);
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
			mvms_buf_printf(&pb, "%s%s", pb.size ? "/" : "", e);
			free(part);
			free(e);
			seg = slash ? slash + 1 : NULL;
		} while (seg);
		ep = mvms_buf_detach(&pb);
	}
	/* Records, not bytes: the server sends chunks as it stores them (no decoding there), we
	 * decode and check each once, and the cache keeps them compressed. */
	if (asprintf(&url, "%s/v1/models/%s/versions/%s/files/%s?format=records", r->url, em, vid,
		     ep) < 0) {
		url = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	/* A stream starts at the file's first byte: whatever a part file held goes (one with
	 * bytes worth keeping takes the other way, pull_from_cache). */
	MVMS_TRY(mvms_sync__part_open(&pf, dir, f->path, NULL, 0, 0));
	MVMS_TRY(mvms_sync__recv_new(&c.rv, pf.fd, f->path, fm, nchunks, sink,
				     opts ? opts->progress : NULL, opts ? opts->payload : NULL,
				     *done_bytes, total));
	/* Deltas: bases from the cache, else from the server, fetched ahead in batches. */
	mvms_sync__recv_bases(c.rv, r->cache);
	MVMS_TRY(mvms_prefetch__new(&bases, r));
	mvms_sync__recv_prefetch(c.rv, mvms_prefetch__want, bases);
	MVMS_TRY(mvms_http__session_headers(&h, r));
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &c);
	cc = curl_easy_perform(r->curl);
	r->stats.requests++;
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	if (c.error) {
		error = mvms_error_set(c.error, "%s", c.msg);
		goto done;
	}
	if (cc == CURLE_OK && status != 200 && c.err.size > 0) {
		/* The server's JSON error, mapped by its code as every other reply's. */
		error = mvms_http__error(r, status, &c.err, f->path);
		goto done;
	}
	if (cc != CURLE_OK || status != 200) {
		error = mvms_error_set(status == 404 ? MVMS_ENOTFOUND : MVMS_ERROR,
				       "remote: GET %s: %s", f->path,
				       cc != CURLE_OK ? curl_easy_strerror(cc) : "unexpected HTTP status");
		goto done;
	}
	MVMS_TRY(mvms_sync__recv_finish(c.rv, &f->id));
	r->stats.bytes_received += c.wire;
	*done_bytes = mvms_sync__recv_done(c.rv);
	ok = 1;
done:
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	mvms_sync__recv_free(c.rv); /* its workers stop before the prefetcher they read */
	mvms_prefetch__free(bases);
	mvms_buf_dispose(&c.err);
	{
		int end = mvms_sync__part_end(&pf, f->mode, ok);
		if (error == 0)
			error = end;
	}
	free(em);
	free(ep);
	free(url);
	return error;
}

/* Records pulled file @f as a source of the cache: later pulls read its chunks there. */
static int add_source(mvms_remote *r, const char *dir, const mvms_manifest_file *f, const void *fm,
		      size_t n)
{
	char *final = NULL;
	int error;

	if (asprintf(&final, "%s/%s", dir, f->path) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	error = mvms_sources_add(r->cache, final, &f->id, fm, n);
	free(final);
	return error;
}

/* The chunk list of a "files" object (checked already) as ids and lengths. */
static int filemap_list(mvms_sync__chunk **out, const void *fm, size_t n)
{
	const unsigned char *e = (const unsigned char *)fm + 32;
	size_t k;

	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	for (k = 0; k < n; k++, e += 40) {
		memcpy((*out)[k].id.id, e, MVMS_OID_RAWSZ);
		(*out)[k].len = mvms_le64_get(e + 32);
	}
	return 0;
}

/* Writes file @f from the cache, fetching the chunks it lacks first; a part file a killed
 * pull left is continued from its last chunk that checks. A file pulled before that no
 * longer holds its chunks is forgotten by the read (pull.c): then the chunks it was to
 * give are fetched too and the file is written again, as long as each try forgets one. */
static int pull_from_cache(mvms_remote *r, const char *dir, const mvms_manifest_file *f,
			   const void *fm, size_t n, uint64_t *fetched)
{
	unsigned char *have = calloc(n + 1, 1);
	mvms_oid *want = NULL;
	mvms_sync__chunk *list = NULL;
	mvms_sync__part part;
	size_t nwant, k;
	int error = 0;

	memset(&part, 0, sizeof(part));
	MVMS_CHECK_ALLOC(have, error);
	want = calloc(n + 1, sizeof(*want));
	MVMS_CHECK_ALLOC(want, error);
	MVMS_TRY(filemap_list(&list, fm, n));
	for (;;) {
		uint64_t before, after;
		MVMS_TRY(mvms_sync__part_open(&part, dir, f->path, list, n, 1));
		MVMS_TRY(mvms_sources_count(&before, r->cache));
		for (k = 0; k < n; k++)
			want[k] = list[k].id;
		MVMS_TRY(mvms_sources_have(have, r->cache, want, n));
		for (k = part.k, nwant = 0; k < n; k++)
			if (!have[k])
				want[nwant++] = list[k].id;
		/* In file order, so the cache's packs are too (see mvms_remote_push). */
		MVMS_TRY(mvms_remote__unique_in_order(want, &nwant));
		MVMS_TRY(fetch_chunks(r, want, nwant, fetched));
		error = mvms_sync__write_part(r->cache, &part, f->path, f->mode, f->size, &f->id,
					      list, n);
		if (error != MVMS_EMISMATCH && error != MVMS_ENOTFOUND)
			break;
		if (mvms_sources_count(&after, r->cache) < 0 || after >= before)
			break; /* no stale file was the cause: report it */
	}
done:
	mvms_sync__part_end(&part, 0644, 0);
	free(have);
	free(want);
	free(list);
	return error;
}

/* What a remote pull knows of a version's files: which it takes (sel), their chunk lists
 * (filemaps, checked against the file ids), and whether each is in place already (keep),
 * streams whole (stream) or comes from the cache. */
typedef struct remote_plan {
	mvms_manifest *m;
	mvms_oid **chunks;
	size_t *nchunks, *fmlen;
	void **fm;
	int *stream, *sel, *keep;
	uint64_t total;
} remote_plan;

static void plan_dispose(remote_plan *p)
{
	size_t i;

	for (i = 0; p->m && i < p->m->file_count; i++) {
		if (p->chunks)
			free(p->chunks[i]);
		if (p->fm)
			free(p->fm[i]);
	}
	free(p->chunks);
	free(p->nchunks);
	free(p->fm);
	free(p->fmlen);
	free(p->stream);
	free(p->sel);
	free(p->keep);
	mvms_manifest_free(p->m);
}

/* The files @opts select (an unknown path is an error before anything is fetched). */
static int plan_select(remote_plan *p, const mvms_pull_options *opts, const char *spec)
{
	const mvms_manifest *m = p->m;
	const char **paths = calloc(m->file_count + 1, sizeof(*paths));
	size_t i;
	int error = 0;

	p->chunks = calloc(m->file_count + 1, sizeof(*p->chunks));
	p->nchunks = calloc(m->file_count + 1, sizeof(*p->nchunks));
	p->fm = calloc(m->file_count + 1, sizeof(*p->fm));
	p->fmlen = calloc(m->file_count + 1, sizeof(*p->fmlen));
	p->stream = calloc(m->file_count + 1, sizeof(*p->stream));
	p->sel = calloc(m->file_count + 1, sizeof(*p->sel));
	p->keep = calloc(m->file_count + 1, sizeof(*p->keep));
	MVMS_CHECK_ALLOC(paths, error);
	MVMS_CHECK_ALLOC(p->chunks, error);
	MVMS_CHECK_ALLOC(p->nchunks, error);
	MVMS_CHECK_ALLOC(p->fm, error);
	MVMS_CHECK_ALLOC(p->fmlen, error);
	MVMS_CHECK_ALLOC(p->stream, error);
	MVMS_CHECK_ALLOC(p->sel, error);
	MVMS_CHECK_ALLOC(p->keep, error);
	for (i = 0; i < m->file_count; i++)
		paths[i] = m->files[i].path;
	MVMS_TRY(mvms_sync__check_selection(opts, paths, m->file_count, spec));
	for (i = 0; i < m->file_count; i++)
		p->sel[i] = mvms_sync__selected(opts, m->files[i].path);
done:
	free(paths);
	return error;
}

/* Fetches every selected file's chunk list (checked against its id and size) and checks
 * the files in @dir (kept when right; other content refused unless @force), then decides
 * which files stream: a file the cache has little of streams whole (as the server stores
 * it; we check each chunk as it arrives); one it mostly has, in packs or in files pulled
 * before, or whose part file a killed pull left, fetches just the chunks it lacks. */
static int plan_files(remote_plan *p, mvms_remote *r, const char *dir, int force)
{
	const mvms_manifest *m = p->m;
	unsigned char *present = NULL;
	mvms_sync__chunk *list = NULL;
	size_t i, k, nmax = 0;
	int error = 0, have;

	for (i = 0; i < m->file_count; i++) {
		uint64_t size = 0;
		if (!p->sel[i])
			continue;
		MVMS_TRY(fetch_object(&p->fm[i], &p->fmlen[i], r, "files", &m->files[i].id));
		MVMS_TRY(mvms_sync_parse_filemap(&p->chunks[i], &p->nchunks[i], &size, p->fm[i],
						 p->fmlen[i], &m->files[i].id));
		if (size != m->files[i].size) {
			error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: size does not match its chunks",
					       m->files[i].path);
			goto done;
		}
		free(list);
		list = NULL;
		MVMS_TRY(filemap_list(&list, p->fm[i], p->nchunks[i]));
		have = mvms_sync__have_file(dir, m->files[i].path, list, p->nchunks[i], size);
		if (have == MVMS_EEXISTS && force) {
			mvms_error_clear();
			have = 0;
		}
		if (have < 0) {
			error = have;
			goto done;
		}
		p->keep[i] = have;
		if (!have)
			p->total += size;
		if (p->nchunks[i] > nmax)
			nmax = p->nchunks[i];
	}
	/* The cache's record of files pulled before: those that changed are no longer used. */
	MVMS_TRY(mvms_sources_prune(NULL, r->cache));
	present = calloc(nmax + 1, 1);
	MVMS_CHECK_ALLOC(present, error);
	for (i = 0; i < m->file_count; i++) {
		uint64_t have_bytes = 0;
		if (!p->sel[i] || p->keep[i] || mvms_sync__part_exists(dir, m->files[i].path))
			continue;
		MVMS_TRY(mvms_sources_have(present, r->cache, p->chunks[i], p->nchunks[i]));
		for (k = 0; k < p->nchunks[i]; k++)
			if (present[k])
				have_bytes += mvms_le64_get((const unsigned char *)p->fm[i] + 32 + k * 40 + 32);
		p->stream[i] = have_bytes * 2 < m->files[i].size;
	}
done:
	free(list);
	free(present);
	return error;
}

/* After file @i is in place (written or kept): its time put back, then recorded as a
 * source of the cache (whose record holds the time). */
static int file_done(mvms_remote *r, const char *dir, remote_plan *p, size_t i)
{
	const mvms_manifest_file *f = &p->m->files[i];
	int error = 0;

	MVMS_TRY(mvms_sync__set_attrs(dir, f->path, f->mode, f->mtime, f->mtime_ns));
	MVMS_TRY(add_source(r, dir, f, p->fm[i], p->nchunks[i]));
done:
	return error;
}

int mvms_remote_pull(mvms_pull_result *out, mvms_remote *r, const char *spec, const char *dir,
		     const mvms_pull_options *opts)
{
	const char *at = strchr(spec, '@');
	char model[256], *ref;
	cJSON *v = NULL;
	const char *id;
	mvms_oid vid;
	size_t i;
	remote_plan p;
	mvms_chunk_sink *sink = NULL;
	void *mdata = NULL;
	size_t mlen = 0;
	uint64_t fetched = 0, done_bytes = 0;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	snprintf(model, sizeof(model), "%.*s", at ? (int)(at - spec) : (int)strlen(spec), spec);
	ref = (char *)(at ? at + 1 : "latest");
	MVMS_TRY(mvms_model_name_check(model));
	/* A delta base the cache lacks comes from the server. */
	mvms_bases__set_fetch(r->cache, mvms_remote__fetch_base, r);
	MVMS_TRY(mvms_http__get_version(&v, r, model, ref));
	/* A tombstone (mvms/history.h): say so, as a local pull does. */
	MVMS_TRY(mvms_http__live(v, model));
	id = mvms_http__json_str(v, "id");
	if (!id || mvms_oid_parse(&vid, id) < 0) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent a version without an id");
		goto done;
	}
	/* The manifest is the trust anchor: its bytes hash to the version id. */
	MVMS_TRY(fetch_object(&mdata, &mlen, r, "manifests", &vid));
	MVMS_TRY(mvms_manifest_decode(&p.m, mdata, mlen));
	MVMS_TRY(plan_select(&p, opts, spec));
	MVMS_TRY(mvms_sync__pull_dir(dir, opts && opts->force));
	/* Either way a file becomes a source for later pulls instead of being copied into the
	 * cache's packs. */
	MVMS_TRY(plan_files(&p, r, dir, opts && opts->force));
	/* Files from the cache first: a sink (cache_copy) owns the cache's database while it
	 * runs, which is while files stream. */
	for (i = 0; i < p.m->file_count; i++) {
		if (!p.sel[i] || p.stream[i])
			continue;
		out->files++;
		if (p.keep[i]) {
			out->kept++;
			MVMS_TRY(file_done(r, dir, &p, i));
			continue;
		}
		MVMS_TRY(pull_from_cache(r, dir, &p.m->files[i], p.fm[i], p.nchunks[i], &fetched));
		/* Recorded at once: it may replace a file the next ones would read (pull --force). */
		MVMS_TRY(file_done(r, dir, &p, i));
		done_bytes += p.m->files[i].size;
		out->bytes += p.m->files[i].size;
		if (opts && opts->progress)
			opts->progress(done_bytes, p.total, opts->payload);
	}
	for (i = 0; i < p.m->file_count; i++) {
		if (!p.sel[i] || !p.stream[i])
			continue;
		out->files++;
		if (opts && opts->cache_copy && !sink)
			MVMS_TRY(mvms_chunk_sink_new(&sink, r->cache));
		MVMS_TRY(stream_file(r, model, id, &p.m->files[i], p.fm[i], p.nchunks[i], dir, sink,
				     opts, &done_bytes, p.total));
		MVMS_TRY(mvms_sync__set_attrs(dir, p.m->files[i].path, p.m->files[i].mode,
					      p.m->files[i].mtime,
					      p.m->files[i].mtime_ns));
		out->bytes += p.m->files[i].size;
	}
	if (sink)
		MVMS_TRY(mvms_chunk_sink_finish(sink));
	for (i = 0; i < p.m->file_count; i++)
		if (p.sel[i] && p.stream[i])
			MVMS_TRY(add_source(r, dir, &p.m->files[i], p.fm[i], p.nchunks[i]));
	MVMS_TRY(mvms_sync__sweep_parts(dir));
	snprintf(out->id, sizeof(out->id), "%s", id);
	{
		const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "version");
		out->number = cJSON_IsNumber(num) ? (int64_t)num->valuedouble : 0;
	}
done:
	out->seconds = mvms_now() - t0;
	mvms_chunk_sink_free(sink);
	plan_dispose(&p);
	free(mdata);
	cJSON_Delete(v);
	return error;
}
