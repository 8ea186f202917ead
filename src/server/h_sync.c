/* SPDX-License-Identifier: MIT */
/*
 * The push and pull protocol over HTTP, and one-request uploads:
 *   GET  /v1/store                      chunking parameters a client must use
 *   POST /v1/chunks/missing             which of these chunks are missing here
 *   PUT  /v1/packs/{id}                 a pack of chunks, every one checked on arrival
 *   POST /v1/models/{m}/versions        commit a manifest (409 when the branch moved)
 *   POST /v1/chunks                     a pack of the asked chunks (pull)
 *   GET  /v1/objects/{kind}/{id}        a manifest or a chunk list, checked
 *   GET  /v1/models/{m}/versions/{ref}/bases/{path}  a file as a push diffs against it
 *   PUT|POST /v1/models/{m}/upload?path=...           a file (or a tar) as a new version
 * Everything here goes through libmvms's sync API; bytes are never trusted, only checked.
 * A file's bytes are streamed by h_file.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "server.h"
#include "tar.h"

#define MAX_IDS (1u << 20)          /* ids in one missing-chunks question */
#define MAX_FETCH_IDS 4096          /* chunks in one fetch */


int srv_store_info(srv_req *r)
{
	mvms_store_info info;
	cJSON *doc = cJSON_CreateObject();

	mvms_store_get_info(&info, r->st);
	cJSON_AddNumberToObject(doc, "api", 1);
	cJSON_AddStringToObject(doc, "backend", info.backend);
	cJSON_AddStringToObject(doc, "chunker", "fastcdc-gear-v1");
	cJSON_AddNumberToObject(doc, "chunk_min", info.chunk_min);
	cJSON_AddNumberToObject(doc, "chunk_avg", info.chunk_avg);
	cJSON_AddNumberToObject(doc, "chunk_max", info.chunk_max);
	cJSON_AddNumberToObject(doc, "zstd_level", info.level);
	cJSON_AddNumberToObject(doc, "pack_size", (double)info.pack_size);
	cJSON_AddNumberToObject(doc, "max_body", (double)r->opts->max_body);
	srv_reply_json(r, 200, doc);
	return 0;
}

/* Reads {"ids": ["hex", ...]} into an array. Replies 400 itself and returns -1 on bad input. */
static int read_ids(mvms_oid **out, size_t *n, srv_req *r, size_t max)
{
	cJSON *doc = srv_body_json(r), *ids, *it;
	mvms_oid *list = NULL;
	size_t k = 0, count;

	*out = NULL;
	*n = 0;
	if (!doc)
		return -1;
	ids = cJSON_GetObjectItemCaseSensitive(doc, "ids");
	if (!cJSON_IsArray(ids)) {
		cJSON_Delete(doc);
		return srv_reply_error(r, 400, "bad_request", "want {\"ids\": [hex chunk ids]}") - 1;
	}
	count = (size_t)cJSON_GetArraySize(ids);
	if (count > max) {
		cJSON_Delete(doc);
		return srv_reply_error(r, 413, "too_many", "at most %zu ids per request", max) - 1;
	}
	list = calloc(count + 1, sizeof(*list));
	if (!list) {
		cJSON_Delete(doc);
		return srv_reply_error(r, 500, "error", "out of memory") - 1;
	}
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsString(it) || mvms_oid_parse(&list[k], it->valuestring) < 0) {
			free(list);
			cJSON_Delete(doc);
			return srv_reply_error(r, 400, "bad_id", "ids must be 64 hex digits") - 1;
		}
		k++;
	}
	cJSON_Delete(doc);
	*out = list;
	*n = k;
	return 0;
}

int srv_chunks_missing(srv_req *r)
{
	mvms_oid *ids = NULL;
	unsigned char *missing = NULL;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t n = 0, i;
	cJSON *doc, *arr;
	int error;

	if (read_ids(&ids, &n, r, MAX_IDS) < 0)
		return 0;
	/* Only renews the push's lease (its answer is what gc must not take away). */
	if (srv_lease_enter(r) < 0) {
		free(ids);
		return 0;
	}
	srv_lease_leave(r);
	missing = calloc(n + 1, 1);
	if (!missing) {
		free(ids);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	if ((error = mvms_sync_missing(missing, r->st, ids, n)) < 0) {
		free(ids);
		free(missing);
		return error;
	}
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "missing");
	for (i = 0; i < n; i++)
		if (missing[i]) {
			mvms_oid_fmt(hex, &ids[i]);
			cJSON_AddItemToArray(arr, cJSON_CreateString(hex));
		}
	free(ids);
	free(missing);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_pack_put(srv_req *r)
{
	const unsigned char *data;
	size_t len;
	mvms_oid want, got;
	char hex[MVMS_OID_HEXSZ + 1];
	cJSON *doc;
	int error;

	if (mvms_oid_parse(&want, r->caps[0]) < 0)
		return srv_reply_error(r, 400, "bad_id", "pack id must be 64 hex digits");
	if (srv_upload_begin(r) < 0 || srv_lease_enter(r) < 0)
		return 0;
	srv_body(&data, &len, r);
	error = mvms_sync_receive_pack(&got, r->st, data, len, &want);
	srv_lease_leave(r);
	if (error == MVMS_ECONFLICT)
		/* A gc took an old copy of this pack as it arrived: the push starts over. */
		return srv_reply_error(r, 409, "gc_conflict", "%s", mvms_error_last());
	if (error == MVMS_EINVALID)
		/* A delta whose base this store lacks or holds as a delta (no chains). */
		return srv_reply_error(r, 400, "delta_base", "%s; nothing was kept", mvms_error_last());
	if (error < 0)
		return error == MVMS_EMISMATCH
			       ? srv_reply_error(r, 400, "corrupt_pack", "%s; nothing was kept",
						 mvms_error_last())
			       : error;
	mvms_oid_fmt(hex, &got);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "pack", hex);
	cJSON_AddNumberToObject(doc, "bytes", (double)len);
	srv_reply_json(r, 201, doc);
	return 0;
}

/* A file as a remote push pairs its tensors' chunks with it (fine-tune deltas): its
 * tensors, and per chunk its id, length and, when this store holds it as a delta, the base
 * a delta at that place must name instead (docs/http-api.md). */
int srv_file_bases(srv_req *r)
{
	mvms_sync_bases *b = NULL;
	char spec[512], hex[MVMS_OID_HEXSZ + 1];
	cJSON *doc, *list, *o;
	size_t i;
	int error, n;

	if (strchr(r->caps[1], '@'))
		return srv_reply_error(r, 400, "bad_ref", "the ref in the path may not contain '@'");
	n = snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], r->caps[1]);
	if (n < 0 || (size_t)n >= sizeof(spec))
		return srv_reply_error(r, 400, "bad_ref", "model and ref are too long");
	if ((error = mvms_sync_file_bases(&b, r->st, spec, r->caps[2])) < 0)
		return error;
	doc = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(doc, "tensors");
	for (i = 0; i < b->ntensors; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", b->tensors[i].name);
		cJSON_AddStringToObject(o, "dtype", b->tensors[i].dtype);
		cJSON_AddStringToObject(o, "shape", b->tensors[i].shape);
		cJSON_AddNumberToObject(o, "offset", (double)b->tensors[i].offset);
		cJSON_AddNumberToObject(o, "length", (double)b->tensors[i].length);
		cJSON_AddItemToArray(list, o);
	}
	list = cJSON_AddArrayToObject(doc, "chunks");
	for (i = 0; i < b->nchunks; i++) {
		o = cJSON_CreateObject();
		mvms_oid_fmt(hex, &b->chunks[i].id);
		cJSON_AddStringToObject(o, "id", hex);
		cJSON_AddNumberToObject(o, "length", (double)b->chunks[i].length);
		if (mvms_oid_cmp(&b->chunks[i].base, &b->chunks[i].id) != 0) {
			mvms_oid_fmt(hex, &b->chunks[i].base);
			cJSON_AddStringToObject(o, "base", hex);
		}
		cJSON_AddItemToArray(list, o);
	}
	mvms_sync_bases_free(b);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_chunks_get(srv_req *r)
{
	mvms_oid *ids = NULL, pid;
	void *pack = NULL;
	size_t n = 0, len = 0;
	char hex[MVMS_OID_HEXSZ + 1];
	int error;

	if (read_ids(&ids, &n, r, MAX_FETCH_IDS) < 0)
		return 0;
	if (n == 0) {
		free(ids);
		return srv_reply_error(r, 400, "bad_request", "no chunk ids");
	}
	/* Chunks of the covered models only; any other answers as a missing one. */
	if (srv_authz_objects(r, "chunks", ids, n) < 0) {
		free(ids);
		return 0;
	}
	error = mvms_sync_export_chunks(&pack, &len, &pid, r->st, ids, n);
	free(ids);
	if (error < 0)
		return error;
	mvms_oid_fmt(hex, &pid);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Pack-Id", hex);
	srv_reply_bytes(r, 200, "application/octet-stream", pack, len);
	free(pack);
	return 0;
}

int srv_object_get(srv_req *r)
{
	mvms_oid id;
	void *data = NULL;
	size_t len = 0;
	char etag[MVMS_OID_HEXSZ + 3];
	int error;

	if (strcmp(r->caps[0], "manifests") != 0 && strcmp(r->caps[0], "files") != 0)
		return srv_reply_error(r, 404, "not_found", "no object kind '%s'", r->caps[0]);
	if (mvms_oid_parse(&id, r->caps[1]) < 0)
		return srv_reply_error(r, 400, "bad_id", "object id must be 64 hex digits");
	if (srv_authz_objects(r, r->caps[0], &id, 1) < 0)
		return 0;
	if ((error = mvms_sync_get_object(&data, &len, r->st, r->caps[0], &id)) < 0)
		return error == MVMS_EMISMATCH ? srv_reply_error(r, 500, "corrupt", "%s", mvms_error_last())
					       : error;
	snprintf(etag, sizeof(etag), "\"%s\"", r->caps[1]);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "ETag", etag);
	srv_reply_bytes(r, 200, strcmp(r->caps[0], "manifests") == 0 ? "application/json"
									 : "application/octet-stream",
			data, len);
	free(data);
	return 0;
}

static cJSON *push_result_json(const char *model, const mvms_push_result *res)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "model", model);
	cJSON_AddNumberToObject(doc, "version", (double)res->number);
	cJSON_AddStringToObject(doc, "id", res->id);
	cJSON_AddBoolToObject(doc, "created", res->created);
	cJSON_AddNumberToObject(doc, "files", (double)res->files);
	cJSON_AddNumberToObject(doc, "logical_bytes", (double)res->logical_bytes);
	cJSON_AddNumberToObject(doc, "new_stored_bytes", (double)res->new_stored_bytes);
	return doc;
}

int srv_version_commit(srv_req *r)
{
	cJSON *doc = srv_body_json(r), *man, *fms, *br, *eh, *it, *name;
	const void **maps = NULL;
	size_t *lens = NULL, nmaps = 0, i;
	unsigned char **bufs = NULL;
	mvms_push_result res;
	int error = 0;

	if (!doc)
		return 0;
	man = cJSON_GetObjectItemCaseSensitive(doc, "manifest");
	fms = cJSON_GetObjectItemCaseSensitive(doc, "filemaps");
	br = cJSON_GetObjectItemCaseSensitive(doc, "branch");
	eh = cJSON_GetObjectItemCaseSensitive(doc, "expected_head");
	if (!cJSON_IsString(man) || (fms && !cJSON_IsObject(fms)) || (br && !cJSON_IsString(br)) ||
	    !cJSON_IsString(eh)) {
		error = srv_reply_error(r, 400, "bad_request",
					"want {\"manifest\": string, \"filemaps\": {file id: base64}, "
					"\"branch\": string, \"expected_head\": version id or \"\"}");
		goto done;
	}
	/* The manifest must be for the model named in the path (the token was checked for it). */
	{
		cJSON *mdoc = cJSON_Parse(man->valuestring), *mm;
		mm = cJSON_GetObjectItemCaseSensitive(mdoc, "model");
		name = cJSON_GetObjectItemCaseSensitive(mm, "name");
		if (!cJSON_IsString(name) || strcmp(name->valuestring, r->caps[0]) != 0) {
			cJSON_Delete(mdoc);
			error = srv_reply_error(r, 400, "invalid_manifest",
						"the manifest is not for model '%s'", r->caps[0]);
			goto done;
		}
		/* Nor may it build on a version the token cannot read (403, nothing committed). */
		if (srv_authz_parents(r, mdoc) < 0) {
			cJSON_Delete(mdoc);
			goto done;
		}
		cJSON_Delete(mdoc);
	}
	nmaps = fms ? (size_t)cJSON_GetArraySize(fms) : 0;
	maps = calloc(nmaps + 1, sizeof(*maps));
	lens = calloc(nmaps + 1, sizeof(*lens));
	bufs = calloc(nmaps + 1, sizeof(*bufs));
	if (!maps || !lens || !bufs) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	i = 0;
	if (fms)
		cJSON_ArrayForEach(it, fms) {
			size_t blen = 0, cap;
			if (!cJSON_IsString(it)) {
				error = srv_reply_error(r, 400, "bad_request", "filemaps values must be base64");
				goto done;
			}
			cap = strlen(it->valuestring) / 4 * 3 + 3;
			bufs[i] = malloc(cap);
			if (!bufs[i] ||
			    sodium_base642bin(bufs[i], cap, it->valuestring, strlen(it->valuestring), NULL,
					      &blen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
				error = srv_reply_error(r, 400, "bad_request", "filemap for %s is not base64",
							it->string);
				i++;
				goto done;
			}
			maps[i] = bufs[i];
			lens[i] = blen;
			i++;
		}
	/* A bad branch name is "invalid"; past it, anything refused is the commit itself. */
	if ((error = mvms_ref_name_check(br ? br->valuestring : "main")) < 0)
		goto done;
	if (srv_lease_enter(r) < 0)
		goto done;
	error = mvms_sync_commit(&res, r->st, br ? br->valuestring : "main", eh->valuestring,
				 man->valuestring, strlen(man->valuestring), maps, lens, nmaps);
	srv_lease_leave(r);
	if (error == 0)
		/* Committed: the push is over (a failed commit keeps it for the retry). */
		srv_lease_end(r, evhttp_find_header(evhttp_request_get_input_headers(r->req),
						    "Mvms-Lease"));
	if (error == MVMS_ECONFLICT && res.gc_conflict) {
		/* Not a moved branch: a new push (the client starts over once) succeeds. */
		error = srv_reply_error(r, 409, "gc_conflict", "%s", mvms_error_last());
		goto done;
	}
	if (error == MVMS_EINVALID || error == MVMS_EMISMATCH) {
		/* The library validated the commit whole: its first problem, nothing committed. */
		error = srv_reply_error(r, 400, "invalid_manifest", "%s", mvms_error_last());
		goto done;
	}
	if (error < 0)
		goto done;
	srv_reply_json(r, 201, push_result_json(r->caps[0], &res));
done:
	for (i = 0; bufs && i < nmaps; i++)
		free(bufs[i]);
	free(bufs);
	free(maps);
	free(lens);
	cJSON_Delete(doc);
	return error;
}

/* ---- one-request uploads ---- */

static int write_temp(char **path_out, const char *dir, const unsigned char *data, size_t len)
{
	char *path = NULL;
	int fd, error = 0;
	size_t off = 0;

	if (asprintf(&path, "%s/upload-XXXXXX", dir) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return mvms_error_set(MVMS_ERROR, "upload: temp file: %s", strerror(errno));
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			error = mvms_error_set(MVMS_ERROR, "upload: write: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	close(fd);
	if (error < 0) {
		unlink(path);
		free(path);
		return error;
	}
	*path_out = path;
	return 0;
}

/* Collects the regular files under @dir (extracted from a tar) as upload entries. */
static int collect_tree(mvms_upload_file **files, char ***paths, size_t *n, size_t *cap,
			const char *root, const char *rel)
{
	char *abs = NULL;
	struct dirent **list = NULL;
	int k, count, error = 0;

	if (asprintf(&abs, "%s%s%s", root, *rel ? "/" : "", rel) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	count = scandir(abs, &list, NULL, alphasort);
	if (count < 0) {
		error = mvms_error_set(MVMS_ERROR, "upload: %s: %s", abs, strerror(errno));
		goto done;
	}
	for (k = 0; k < count; k++) {
		char *crel = NULL, *cabs = NULL;
		struct stat sb;
		if (!strcmp(list[k]->d_name, ".") || !strcmp(list[k]->d_name, ".."))
			continue;
		if (asprintf(&crel, "%s%s%s", rel, *rel ? "/" : "", list[k]->d_name) < 0 ||
		    asprintf(&cabs, "%s/%s", abs, list[k]->d_name) < 0) {
			free(crel);
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		if (lstat(cabs, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			error = collect_tree(files, paths, n, cap, root, crel);
			free(crel);
			free(cabs);
			if (error < 0)
				goto done;
			continue;
		}
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			mvms_upload_file *tf = realloc(*files, nc * sizeof(*tf));
			char **tp = tf ? realloc(*paths, 2 * nc * sizeof(*tp)) : NULL;
			if (tf)
				*files = tf;
			if (tp)
				*paths = tp;
			if (!tf || !tp) {
				free(crel);
				free(cabs);
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
			*cap = nc;
		}
		(*paths)[2 * *n] = crel;
		(*paths)[2 * *n + 1] = cabs;
		(*files)[*n].path = crel;
		(*files)[*n].abs = cabs;
		(*files)[*n].mode = (sb.st_mode & 0111) ? 0755 : 0644;
		(*n)++;
	}
done:
	for (k = 0; list && k < count; k++)
		free(list[k]);
	free(list);
	free(abs);
	return error;
}

static void rm_tree(const char *path)
{
	struct dirent **list = NULL;
	int k, count = scandir(path, &list, NULL, NULL);

	for (k = 0; k < count; k++) {
		char *child = NULL;
		struct stat sb;
		if (strcmp(list[k]->d_name, ".") && strcmp(list[k]->d_name, "..") &&
		    asprintf(&child, "%s/%s", path, list[k]->d_name) >= 0) {
			if (lstat(child, &sb) == 0 && S_ISDIR(sb.st_mode))
				rm_tree(child);
			else
				unlink(child);
			free(child);
		}
		free(list[k]);
	}
	free(list);
	rmdir(path);
}

int srv_upload(srv_req *r)
{
	const char *path = srv_query(r, "path"), *branch = srv_query(r, "branch");
	const char *message = srv_query(r, "message"), *author = srv_query(r, "author");
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	mvms_store_info info;
	mvms_push_result res;
	mvms_upload_file one, *files = NULL;
	char **paths = NULL, *tmp = NULL, *tmpdir = NULL, err[256];
	char lease[MVMS_LEASE_ID_HEXSZ + 1] = "";
	const unsigned char *data;
	size_t len, n = 0, cap = 0, i;
	int tar = ctype && strncmp(ctype, "application/x-tar", 17) == 0, error = 0;

	if (!tar && !path)
		return srv_reply_error(r, 400, "bad_request",
				       "want ?path=FILE_PATH (or Content-Type: application/x-tar)");
	if (path && !tar) {
		/* Checked here too, so a bad path costs no disk write. */
		if (!*path || path[0] == '/' || strstr(path, "..") || strchr(path, '\\'))
			return srv_reply_error(r, 400, "bad_path",
					       "bad path '%s': relative, no '..', no backslash", path);
	}
	if (srv_upload_begin(r) < 0)
		return 0;
	/* Before the temp files: gc leaves them, and what the upload stores, alone. */
	if ((error = mvms_lease_create(lease, NULL, r->st, "upload")) < 0) {
		lease[0] = '\0';
		goto done;
	}
	mvms_store_use_lease(r->st, lease);
	srv_body(&data, &len, r);
	mvms_store_get_info(&info, r->st);
	if (tar) {
		if (asprintf(&tmpdir, "%s/upload-XXXXXX", info.path) < 0 || !mkdtemp(tmpdir)) {
			error = mvms_error_set(MVMS_ERROR, "upload: temp dir: %s", strerror(errno));
			goto done;
		}
		if (srv_tar_extract(data, len, tmpdir, err, sizeof(err)) < 0) {
			error = srv_reply_error(r, 400, "bad_tar", "%s; nothing was stored", err);
			goto done;
		}
		if ((error = collect_tree(&files, &paths, &n, &cap, tmpdir, "")) < 0)
			goto done;
		if (n == 0) {
			error = srv_reply_error(r, 400, "bad_tar", "the tar holds no regular file");
			goto done;
		}
	} else {
		if ((error = write_temp(&tmp, info.path, data, len)) < 0)
			goto done;
		one.path = path;
		one.abs = tmp;
		one.mode = 0644;
		files = &one;
		n = 1;
	}
	error = mvms_sync_upload(&res, r->st, r->caps[0], branch ? branch : "main",
				 message ? message : "", author ? author : "upload", files, n, tar);
	if (error < 0)
		goto done;
	/* The same files as the head: no new version, as with push ("created": false). */
	srv_reply_json(r, res.created ? 201 : 200, push_result_json(r->caps[0], &res));
done:
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (tmpdir) {
		rm_tree(tmpdir);
		free(tmpdir);
	}
	for (i = 0; paths && i < 2 * n; i++)
		free(paths[i]);
	free(paths);
	if (files != &one)
		free(files);
	if (lease[0]) {
		srv_lease_leave(r);
		srv_lease_end(r, lease);
	}
	return error;
}
