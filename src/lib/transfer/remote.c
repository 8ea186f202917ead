/* SPDX-License-Identifier: MIT */
/*
 * Remote push over the HTTP API (http.c): chunk locally into the cache store, ask which
 * chunks the server lacks, upload packs of those only, commit the manifest with the branch
 * head we built on, under a lease so that a gc on the server keeps what the push needs.
 * Remote pull is remote_pull.c.
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
#include "locate.h"
#include "hash.h"
#include "remote_int.h"
#include "stage.h"
#include "tree.h"
#include "remote_delta.h"
#include "prefetch.h"
#include "push_int.h"

#define MISSING_BATCH 100000u     /* ids per missing-chunks question */

/* The model's uid, registering the model on the server when it is new. */
static int model_uid(char *uid, mvms_remote *r, const char *model)
{
	char *em = NULL, *path = NULL, *body = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL, *req = NULL;
	long status = 0;
	const char *u;
	int error = 0;

	MVMS_TRY(mvms_remote_escape(&em, model));
	if (asprintf(&path, "/v1/models/%s", em) < 0) {
		path = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(mvms_http__request(r, "GET", path, NULL, 0, NULL, &resp, &status));
	if (status == 404) {
		req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "name", model);
		body = cJSON_PrintUnformatted(req);
		MVMS_CHECK_ALLOC(body, error);
		MVMS_TRY(mvms_http__request(r, "POST", "/v1/models", body, strlen(body), "application/json", &resp,
			      &status));
		if (status == 409) /* registered by someone else meanwhile */
			MVMS_TRY(mvms_http__request(r, "GET", path, NULL, 0, NULL, &resp, &status));
	}
	if (status != 200 && status != 201) {
		error = mvms_http__error(r, status, &resp, "model");
		goto done;
	}
	if (!(doc = mvms_http__parse_json(&resp, "model"))) {
		error = MVMS_ERROR;
		goto done;
	}
	u = mvms_http__json_str(doc, "uid");
	if (!u || strlen(u) != 32) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent no model uid");
		goto done;
	}
	memcpy(uid, u, 33);
done:
	cJSON_Delete(doc);
	cJSON_Delete(req);
	free(body);
	mvms_buf_dispose(&resp);
	free(em);
	free(path);
	return error;
}

/* The version id a ref names on the server, "" (and 0) when it does not exist. */
/* The id of @model@@ref on the server ("" when there is none); with @live, a tombstone is an
 * error saying who deleted it (a parent must have its files, as a local push checks). */
static int ref_id(char *id, mvms_remote *r, const char *model, const char *ref, int live)
{
	cJSON *v = NULL;
	const char *s;
	int error = mvms_http__get_version(&v, r, model, ref);

	id[0] = '\0';
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		return 0;
	}
	if (error == 0 && live)
		error = mvms_http__live(v, model);
	if (error < 0) {
		cJSON_Delete(v);
		return error;
	}
	s = mvms_http__json_str(v, "id");
	if (s && strlen(s) == MVMS_OID_HEXSZ)
		memcpy(id, s, MVMS_OID_HEXSZ + 1);
	else
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent a version without an id");
	cJSON_Delete(v);
	return error;
}

/* Drops the repeats from @ids, keeping each id's first place. */
/* The head of branch @branch on the server, "" when the model or the branch does not
 * exist. Branches only: a tag or an environment of that name is no head to build on, and
 * the server's commit then says the name is taken (EEXISTS), as a local push does. */
static int branch_head(char *id, mvms_remote *r, const char *model, const char *branch)
{
	char *em = NULL, *path = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL, *b;
	const char *name, *s;
	int error = 0;

	id[0] = '\0';
	MVMS_TRY(mvms_remote_escape(&em, model));
	if (asprintf(&path, "/v1/models/%s/branches", em) < 0) {
		path = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if ((error = mvms_http__call(r, "GET", path, NULL, 0, NULL, &resp, path)) == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
		goto done;
	}
	if (error < 0)
		goto done;
	if (!(doc = mvms_http__parse_json(&resp, path))) {
		error = MVMS_ERROR;
		goto done;
	}
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(doc, "branches")) {
		if (!(name = mvms_http__json_str(b, "name")) || strcmp(name, branch) != 0)
			continue;
		s = mvms_http__json_str(b, "id");
		if (s && strlen(s) == MVMS_OID_HEXSZ)
			memcpy(id, s, MVMS_OID_HEXSZ + 1);
		else
			error = mvms_error_set(MVMS_ERROR, "remote: the server sent a branch without an id");
		break;
	}
done:
	cJSON_Delete(doc);
	mvms_buf_dispose(&resp);
	free(em);
	free(path);
	return error;
}

int mvms_remote__unique_in_order(mvms_oid *ids, size_t *n)
{
	unsigned char *repeat = malloc(*n + 1);
	size_t i, k;
	int error = 0;

	MVMS_CHECK_ALLOC(repeat, error);
	MVMS_TRY(mvms_sync__repeats(repeat, ids, *n));
	for (i = 0, k = 0; i < *n; i++)
		if (!repeat[i])
			ids[k++] = ids[i];
	*n = k;
done:
	free(repeat);
	return error;
}

/* Asks which of @ids (unique) the server lacks, in their order; *missing is a new array. */
static int ask_missing(mvms_oid **missing, size_t *nmissing, mvms_remote *r, const mvms_oid *ids,
		       size_t n)
{
	mvms_buf resp = MVMS_BUF_INIT;
	mvms_oid *out = NULL;
	size_t k = 0, i, end;
	int error = 0;

	out = calloc(n + 1, sizeof(*out));
	MVMS_CHECK_ALLOC(out, error);
	for (i = 0; i < n; i = end) {
		cJSON *doc, *it;
		end = i + MISSING_BATCH < n ? i + MISSING_BATCH : n;
		MVMS_TRY(mvms_http__post_ids(&resp, r, "/v1/chunks/missing", ids + i, end - i, "missing chunks"));
		if (!(doc = mvms_http__parse_json(&resp, "missing chunks"))) {
			error = MVMS_ERROR;
			goto done;
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "missing")) {
			if (k < n && cJSON_IsString(it) && mvms_oid_parse(&out[k], it->valuestring) == 0)
				k++;
		}
		cJSON_Delete(doc);
	}
	*missing = out;
	*nmissing = k;
	out = NULL;
done:
	free(out);
	mvms_buf_dispose(&resp);
	return error;
}

/* One pack being built from the cache while the previous one travels. */
typedef struct export_job {
	mvms_remote *r;
	const mvms_oid *ids;
	size_t n;
	void *pack;
	size_t len;
	mvms_oid pid;
	int error;
	char msg[512];
} export_job;

static void *export_main(void *arg)
{
	export_job *j = arg;

	j->error = mvms_sync_export_chunks(&j->pack, &j->len, &j->pid, j->r->cache, j->ids, j->n);
	if (j->error < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", mvms_error_last());
	return NULL;
}

/* @j's chunks again, every delta stored full (after the server refused a delta of it). */
static int upload_full(mvms_push_result *res, mvms_remote *r, export_job *j)
{
	mvms_buf resp = MVMS_BUF_INIT;
	char hex[MVMS_OID_HEXSZ + 1], path[96];
	size_t inflated = 0;
	int error = 0;

	mvms_error_clear();
	MVMS_TRY(mvms_remote__export_full(&j->pack, &j->len, &j->pid, &inflated, r->cache, j->ids,
					  j->n));
	mvms_oid_fmt(hex, &j->pid);
	snprintf(path, sizeof(path), "/v1/packs/%s", hex);
	MVMS_TRY(mvms_http__call(r, "PUT", path, j->pack, j->len, "application/octet-stream", &resp,
				 "upload pack"));
	res->delta_chunks -= inflated < res->delta_chunks ? inflated : res->delta_chunks;
done:
	free(j->pack);
	j->pack = NULL;
	mvms_buf_dispose(&resp);
	return error;
}

/* Uploads packs of @ids from the cache, about pack_size raw bytes each. The next pack is
 * built in a thread while the current one is sent and checked by the server: this thread
 * uses only the connection, that one only the cache. */
static int upload_chunks(mvms_push_result *res, mvms_remote *r, const mvms_oid *ids, size_t n)
{
	mvms_buf resp = MVMS_BUF_INIT;
	export_job job[2];
	pthread_t thread;
	size_t i = 0, per = (size_t)(r->pack_size / (64 * 1024)), cur = 0;
	int error = 0, running = 0;

	memset(job, 0, sizeof(job));
	/* Chunks are at most 32 MiB; take up to a pack's worth by count of 64 KiB chunks. */
	if (per == 0)
		per = 1;
	if (n == 0)
		goto done;
	job[0].r = r;
	job[0].ids = ids;
	job[0].n = per < n ? per : n;
	export_main(&job[0]);
	i = job[0].n;
	for (;;) {
		export_job *j = &job[cur], *next = &job[1 - cur];
		char hex[MVMS_OID_HEXSZ + 1], path[96];
		if (j->error < 0) {
			error = mvms_error_set(j->error, "%s", j->msg);
			goto done;
		}
		if (i < n) {
			memset(next, 0, sizeof(*next));
			next->r = r;
			next->ids = ids + i;
			next->n = per < n - i ? per : n - i;
			i += next->n;
			if (pthread_create(&thread, NULL, export_main, next) == 0)
				running = 1;
			else
				export_main(next);
		}
		mvms_oid_fmt(hex, &j->pid);
		snprintf(path, sizeof(path), "/v1/packs/%s", hex);
		error = mvms_http__call(r, "PUT", path, j->pack, j->len, "application/octet-stream", &resp,
			     "upload pack");
		free(j->pack);
		j->pack = NULL;
		if (error == MVMS_EINVALID && strcmp(r->last_code, "delta_base") == 0)
			/* Deltas of the cache whose bases the server lacks or holds as deltas:
			 * the same chunks again, as full records. */
			error = upload_full(res, r, j);
		if (error == MVMS_EINVALID && strstr(mvms_error_last(), "HTTP 400") &&
		    strcmp(r->last_code, "delta_base") != 0) {
			/* The server checks each chunk we send; we read them from our cache unchecked. */
			char why[512];
			snprintf(why, sizeof(why), "%s", mvms_error_last());
			error = mvms_error_set(MVMS_EMISMATCH, "%s (the chunks came from this client's "
					       "cache: mvms-store --store %s verify)", why, r->cache->path);
			goto done;
		}
		if (error < 0)
			goto done;
		res->packs++;
		res->new_stored_bytes += j->len;
		r->stats.chunks_sent += j->n;
		if (running) {
			pthread_join(thread, NULL);
			running = 0;
		}
		if (next->r == NULL || next->ids == NULL || j->ids + j->n == ids + n)
			break;
		j->r = NULL;
		cur = 1 - cur;
	}
done:
	if (running)
		pthread_join(thread, NULL);
	free(job[0].pack);
	free(job[1].pack);
	mvms_buf_dispose(&resp);
	return error;
}

/* A lease on the server for this push's uploads (docs/http-api.md, "Leases"): gc there
 * keeps what they write. A server without leases (404) is pushed to without one. */
static int lease_take(mvms_remote *r)
{
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL;
	const char *id;
	long status = 0;
	int error;

	r->lease[0] = '\0';
	MVMS_TRY(mvms_http__request(r, "POST", "/v1/leases", "{}", 2, "application/json", &resp, &status));
	if (status == 404)
		goto done;
	if (status != 201) {
		error = mvms_http__error(r, status, &resp, "lease");
		goto done;
	}
	if (!(doc = mvms_http__parse_json(&resp, "lease")) || !(id = mvms_http__json_str(doc, "lease")) ||
	    strlen(id) != MVMS_LEASE_ID_HEXSZ) {
		error = mvms_error_set(MVMS_ERROR, "remote: lease: the server sent no lease id");
		goto done;
	}
	memcpy(r->lease, id, MVMS_LEASE_ID_HEXSZ + 1);
done:
	cJSON_Delete(doc);
	mvms_buf_dispose(&resp);
	return error;
}

/* Releases the lease after a failed push (best effort: unreleased, it expires). */
static void lease_drop(mvms_remote *r)
{
	mvms_buf resp = MVMS_BUF_INIT;
	char path[80], msg[1024];
	long status;
	int code = mvms_error_last_code();

	if (r->lease[0]) {
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		snprintf(path, sizeof(path), "/v1/leases/%s", r->lease);
		r->lease[0] = '\0';
		mvms_http__request(r, "DELETE", path, NULL, 0, NULL, &resp, &status);
		mvms_error_set(code, "%s", msg);
	}
	mvms_buf_dispose(&resp);
}

/* One try at sending a staged version: the chunks the server lacks, then the commit. */
static int push_send(mvms_push_result *out, mvms_remote *r, const char *model, const char *branch,
		     const char *head, mvms_oid *ids, size_t nids, mvms_sync_manifest_info *info)
{
	mvms_oid *missing = NULL;
	size_t nmissing = 0, i, mlen = 0;
	char vid[MVMS_OID_HEXSZ + 1], *manifest = NULL, *em = NULL, *url = NULL, *body = NULL;
	cJSON *req = NULL, *fm, *doc = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	int error = 0;

	MVMS_TRY(ask_missing(&missing, &nmissing, r, ids, nids));
	out->new_chunks = nmissing;
	/* The raw bytes of what is sent, as a local push counts what it stores. */
	out->new_raw_bytes = 0;
	out->delta_chunks = 0;
	for (i = 0; i < nmissing; i++) {
		mvms_chunk_loc loc;
		int found = mvms_locate__chunk(&loc, r->cache, &missing[i]);
		if (found < 0)
			MVMS_TRY(found);
		if (found) {
			out->new_raw_bytes += loc.raw_len;
			out->delta_chunks += loc.codec == MVMS_CODEC_DELTA;
		}
	}
	MVMS_TRY(upload_chunks(out, r, missing, nmissing));
	MVMS_TRY(mvms_sync_manifest(&manifest, &mlen, vid, info));

	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "manifest", manifest);
	fm = cJSON_AddObjectToObject(req, "filemaps");
	for (i = 0; i < info->file_count; i++) {
		const mvms_sync_file *f = &info->files[i];
		size_t b64len = sodium_base64_ENCODED_LEN(f->filemap_len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(b64len), hex[MVMS_OID_HEXSZ + 1];
		MVMS_CHECK_ALLOC(b64, error);
		sodium_bin2base64(b64, b64len, f->filemap, f->filemap_len, sodium_base64_VARIANT_ORIGINAL);
		mvms_oid_fmt(hex, &f->id);
		if (!cJSON_GetObjectItemCaseSensitive(fm, hex))
			cJSON_AddStringToObject(fm, hex, b64);
		free(b64);
	}
	cJSON_AddStringToObject(req, "branch", branch);
	cJSON_AddStringToObject(req, "expected_head", head);
	body = cJSON_PrintUnformatted(req);
	MVMS_CHECK_ALLOC(body, error);
	MVMS_TRY(mvms_remote_escape(&em, model));
	if (asprintf(&url, "/v1/models/%s/versions", em) < 0) {
		url = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(mvms_http__call(r, "POST", url, body, strlen(body), "application/json", &resp, "commit"));
	if (!(doc = mvms_http__parse_json(&resp, "commit"))) {
		error = MVMS_ERROR;
		goto done;
	}
	{
		const cJSON *num = cJSON_GetObjectItemCaseSensitive(doc, "version");
		const char *id = mvms_http__json_str(doc, "id");
		if (!cJSON_IsNumber(num) || !id || strcmp(id, vid) != 0) {
			error = mvms_error_set(MVMS_ERROR, "remote: the server committed another id than %s",
					       vid);
			goto done;
		}
		out->created = 1;
		out->number = (int64_t)num->valuedouble;
		snprintf(out->id, sizeof(out->id), "%s", id);
	}
done:
	cJSON_Delete(doc);
	cJSON_Delete(req);
	mvms_buf_dispose(&resp);
	free(body);
	free(em);
	free(url);
	free(manifest);
	free(missing);
	return error;
}

/* The ids of --parent MODEL@REF each (into @extra), appended to @parents (which holds the
 * branch head first) unless already there; a missing or deleted one is an error, found
 * before anything is sent. */
static int resolve_parents(const char **parents, const char **models, size_t *nparents,
			   char (*extra)[MVMS_OID_HEXSZ + 1], char (*extra_model)[256], mvms_remote *r,
			   const mvms_push_options *opts)
{
	size_t i, k;
	int error = 0;

	for (i = 0; i < opts->parent_count; i++) {
		const char *at = strchr(opts->parents[i], '@');
		char pm[256];
		if (!at || (size_t)(at - opts->parents[i]) >= sizeof(pm)) {
			error = mvms_error_set(MVMS_EINVALID, "push: parent '%s' is not MODEL@REF",
					       opts->parents[i]);
			goto done;
		}
		snprintf(pm, sizeof(pm), "%.*s", (int)(at - opts->parents[i]), opts->parents[i]);
		snprintf(extra_model[i], sizeof(extra_model[i]), "%s", pm);
		MVMS_TRY(ref_id(extra[i], r, pm, at + 1, 1));
		if (!*extra[i]) {
			error = mvms_error_set(MVMS_ENOTFOUND, "push: parent %s not found on the server",
					       opts->parents[i]);
			goto done;
		}
		for (k = 0; k < (*nparents) && strcmp(parents[k], extra[i]) != 0; k++)
			;
		if (k == (*nparents)) {
			models[*nparents] = extra_model[i];
			parents[(*nparents)++] = extra[i];
		}
	}
done:
	return error;
}

/* Chunks @path into the cache, with fine-tune deltas as a local push makes them, against
 * the records the server holds full for the parents' files (remote_delta.c); a base the
 * cache lacks is fetched from the server (the hook stays set until the push ends, for the
 * full records of upload_full). */
static int stage(mvms_sync_file **files, size_t *nfiles, mvms_remote *r, const char *path,
		 const mvms_push_options *opts, const char **models, const char **parents,
		 size_t nparents)
{
	mvms_remote_parents rp;
	mvms_prefetch *pf = NULL;
	mvms_push__base_hooks hooks;
	int error = 0;

	memset(&rp, 0, sizeof(rp));
	rp.r = r;
	rp.models = models;
	rp.ids = parents;
	rp.n = nparents;
	mvms_bases__set_fetch(r->cache, mvms_remote__fetch_base, r);
	/* Bases the cache lacks come in batches, named as the chunks are cut (a fresh cache
	 * pushing a fine-tune of a 512 MiB model asked for 8,192 of them one by one). */
	if (nparents)
		MVMS_TRY(mvms_prefetch__new(&pf, r));
	hooks.want = mvms_prefetch__want;
	hooks.unwant = mvms_prefetch__unwant;
	hooks.ctx = pf;
	error = mvms_stage__run(files, nfiles, r->cache, path, opts,
				nparents ? mvms_remote__parent_file : NULL, &rp, pf ? &hooks : NULL);
done:
	mvms_prefetch__free(pf); /* puts the one-by-one fetch back, for upload_full */
	return error;
}

int mvms_remote_push(mvms_push_result *out, mvms_remote *r, const char *model, const char *path,
		     const mvms_push_options *opts)
{
	mvms_push_options defaults = MVMS_PUSH_OPTIONS_INIT;
	mvms_sync_file *files = NULL;
	mvms_oid *ids = NULL;
	size_t nfiles = 0, nids = 0, i, k, nparents = 0;
	const char **parents = NULL, **models = NULL;
	char uid[33], head[MVMS_OID_HEXSZ + 1], base[MVMS_OID_HEXSZ + 1];
	char (*extra)[MVMS_OID_HEXSZ + 1] = NULL, (*extra_model)[256] = NULL;
	cJSON *headv = NULL;
	mvms_sync_manifest_info info;
	const char *branch;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	branch = opts->branch ? opts->branch : "main";
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(branch));
	/* The parents as the newest refs say, even through a server that has not caught up
	 * with another's push yet (several on one bucket): the commit checks them against
	 * those, and a stale head would fail it. */
	r->fresh = 1;
	error = branch_head(head, r, model, branch);
	if (error == 0 && *head)
		snprintf(base, sizeof(base), "%s", head);
	else if (error == 0)
		error = ref_id(base, r, model, "main", 0);
	r->fresh = 0;
	if (error < 0)
		goto done;
	extra = calloc(opts->parent_count + 1, sizeof(*extra));
	parents = calloc(opts->parent_count + 2, sizeof(*parents));
	models = calloc(opts->parent_count + 2, sizeof(*models));
	extra_model = calloc(opts->parent_count + 1, sizeof(*extra_model));
	MVMS_CHECK_ALLOC(extra, error);
	MVMS_CHECK_ALLOC(parents, error);
	MVMS_CHECK_ALLOC(models, error);
	MVMS_CHECK_ALLOC(extra_model, error);
	if (*base) {
		models[nparents] = model;
		parents[nparents++] = base;
	}
	MVMS_TRY(resolve_parents(parents, models, &nparents, extra, extra_model, r, opts));

	MVMS_TRY(stage(&files, &nfiles, r, path, opts, models, parents, nparents));
	out->files = nfiles;
	for (i = 0; i < nfiles; i++) {
		out->logical_bytes += files[i].size;
		out->tensors += files[i].tensors;
		nids += files[i].nchunks;
	}
	if (*head && mvms_tree_skip_identical(opts)) {
		MVMS_TRY(mvms_http__get_version(&headv, r, model, branch));
		if (mvms_stage__same_as_head(headv, files, nfiles)) {
			const cJSON *num = cJSON_GetObjectItemCaseSensitive(headv, "version");
			out->created = 0;
			out->number = cJSON_IsNumber(num) ? (int64_t)num->valuedouble : 0;
			snprintf(out->id, sizeof(out->id), "%s", head);
			goto done;
		}
	}
	/* Every distinct chunk once. */
	ids = calloc(nids + 1, sizeof(*ids));
	MVMS_CHECK_ALLOC(ids, error);
	for (i = 0, k = 0; i < nfiles; i++) {
		memcpy(ids + k, files[i].chunks, files[i].nchunks * sizeof(*ids));
		k += files[i].nchunks;
	}
	out->chunks = nids;
	/* Each chunk once, in file order: the server keeps the packs as they come, and a pull
	 * reads consecutive records of a pack with one read (sorted by id, every chunk of a
	 * later pull was a read, a sendfile and a wake-up of its own). */
	MVMS_TRY(mvms_remote__unique_in_order(ids, &nids));

	/* Registers a new model: only now, once the tree is read and the parents found, so
	 * that a push refused for its input leaves nothing on the server, as a local one. */
	MVMS_TRY(model_uid(uid, r, model));
	memset(&info, 0, sizeof(info));
	info.model_uid = uid;
	info.model_name = model;
	info.parents = parents;
	info.parent_count = nparents;
	info.author = opts->author ? opts->author : mvms_store__default_author();
	info.message = opts->message ? opts->message : "";
	info.time = opts->time ? opts->time : (int64_t)time(NULL);
	info.meta = opts->meta;
	info.meta_count = opts->meta_count;
	info.files = files;
	info.file_count = nfiles;
	/* Before the first question about chunks: an answer "the server has it" holds while
	 * the lease does, unless a gc took an old unused pack; then the server says
	 * gc_conflict and the push starts over once (a lease that expired: a new one). */
	MVMS_TRY(lease_take(r));
	error = push_send(out, r, model, branch, head, ids, nids, &info);
	if (error == MVMS_ECONFLICT && (strcmp(r->last_code, "gc_conflict") == 0 ||
					strcmp(r->last_code, "lease_expired") == 0)) {
		if (strcmp(r->last_code, "lease_expired") == 0)
			lease_drop(r);
		out->retries = 1;
		if (!r->lease[0])
			MVMS_TRY(lease_take(r));
		error = push_send(out, r, model, branch, head, ids, nids, &info);
	}
	if (error < 0)
		lease_drop(r);
	r->lease[0] = '\0'; /* committed: the server released it */
done:
	mvms_bases__set_fetch(r->cache, NULL, NULL);
	out->seconds = mvms_now() - t0;
	cJSON_Delete(headv);
	free(ids);
	free(extra);
	free(extra_model);
	free(parents);
	free(models);
	mvms_sync_files_free(files, nfiles);
	return error;
}

