/* SPDX-License-Identifier: MIT */
/*
 * The HTTP transport's file operations: a version's listing (GET …/versions/{ref}/files)
 * decoded into an mvms_listing, and a reader of a stored file's bytes. The reader holds the
 * file's chunk list (fetched as an object and checked against the file id) and asks the
 * server for whole chunks by Range, a few MiB at a time, hashing each chunk against its id
 * before any of its bytes are handed out: the server is not trusted, and memory stays
 * bounded by one request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "client_int.h"
#include "pull_int.h"
#include "mvms/remote.h"
#include "mvms/sync.h"

/* Bytes asked for per request (whole chunks: a chunk larger than this is asked alone). */
#define READ_SPAN (4u * 1024 * 1024)

/* "MODEL@REF" into its parts (REF "latest" when absent). */
static int split_spec(char **model, const char **ref, const char *spec)
{
	const char *at = strchr(spec, '@');

	*model = at ? strndup(spec, (size_t)(at - spec)) : strdup(spec);
	*ref = at ? at + 1 : "latest";
	if (!*model)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return mvms_model_name_check(*model);
}

static int decode_tensors(mvms_file_entry *e, const cJSON *arr)
{
	const cJSON *t;
	size_t n = 0;
	int error = 0;

	e->tensors = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*e->tensors));
	MVMS_CHECK_ALLOC(e->tensors, error);
	cJSON_ArrayForEach(t, arr) {
		mvms_tensor_summary *s = &e->tensors[n++];
		e->ntensors = n;
		s->name = strdup(mvms_wire__str(t, "name"));
		s->dtype = strdup(mvms_wire__str(t, "dtype"));
		s->shape = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "shape"));
		MVMS_CHECK_ALLOC(s->name, error);
		MVMS_CHECK_ALLOC(s->dtype, error);
		MVMS_CHECK_ALLOC(s->shape, error);
		s->offset = (uint64_t)mvms_wire__int(t, "offset");
		s->length = (uint64_t)mvms_wire__int(t, "length");
		snprintf(s->id, sizeof(s->id), "%s", mvms_wire__str(t, "id"));
	}
done:
	return error;
}

static int decode_listing(mvms_listing **out, const cJSON *doc)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "files"), *f;
	mvms_listing *l = calloc(1, sizeof(*l));
	mvms_file_info *files = NULL;
	size_t n = 0, i = 0;
	int error = 0;

	MVMS_CHECK_ALLOC(l, error);
	l->model = strdup(mvms_wire__str(doc, "model"));
	MVMS_CHECK_ALLOC(l->model, error);
	l->number = mvms_wire__int(doc, "version");
	snprintf(l->id, sizeof(l->id), "%s", mvms_wire__str(doc, "id"));
	MVMS_TRY(mvms_wire__files(&files, &n, arr));
	l->files = calloc(n + 1, sizeof(*l->files));
	MVMS_CHECK_ALLOC(l->files, error);
	cJSON_ArrayForEach(f, arr) {
		mvms_file_entry *e;
		const cJSON *mt = cJSON_GetObjectItemCaseSensitive(f, "mtime");
		if (i >= n)
			break;
		e = &l->files[l->count++];
		e->info = files[i];
		files[i].path = files[i].format = NULL;
		e->info.tensor_count = (uint64_t)mvms_wire__int(f, "tensor_count");
		e->mtime = cJSON_IsString(mt) ? mvms_wire__time(f, "mtime") : 0;
		e->mtime_ns = (uint32_t)mvms_wire__int(f, "mtime_ns");
		if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(f, "tensors")))
			MVMS_TRY(decode_tensors(e, cJSON_GetObjectItemCaseSensitive(f, "tensors")));
		i++;
	}
	*out = l;
	l = NULL;
done:
	mvms_file_list_free(files, n);
	mvms_listing_free(l);
	return error;
}

static int c_version_ls(mvms_listing **out, mvms_store *st, const char *spec, const char *path,
			int tensors)
{
	cJSON *doc = NULL;
	char *model = NULL;
	const char *ref;
	int error = 0;

	*out = NULL;
	MVMS_TRY(split_spec(&model, &ref, spec));
	if (path && *path)
		MVMS_TRY(mvms_client__get(&doc, st, "ls",
					  "/v1/models/%s/versions/%s/files?path=%s&tensors=%R", model,
					  ref, path, tensors ? "1" : "0"));
	else
		MVMS_TRY(mvms_client__get(&doc, st, "ls", "/v1/models/%s/versions/%s/files?tensors=%R",
					  model, ref, tensors ? "1" : "0"));
	MVMS_TRY(decode_listing(out, doc));
done:
	cJSON_Delete(doc);
	free(model);
	return error;
}

/* ---- reading a file ---- */

typedef struct remote_reader {
	mvms_remote *r;
	char *url;                 /* the file route, path escaped segment by segment */
	mvms_oid *ids;
	uint64_t *off;             /* chunk k's first byte; off[n] is the size */
	size_t n, k;               /* chunks; the one holding start */
	uint64_t start, end;
	mvms_buf got;
} remote_reader;

static void rr_free(void *p)
{
	remote_reader *rr = p;

	if (!rr)
		return;
	free(rr->url);
	free(rr->ids);
	free(rr->off);
	mvms_buf_dispose(&rr->got);
	free(rr);
}

static size_t rr_collect(char *p, size_t size, size_t n, void *arg)
{
	remote_reader *rr = arg;

	return mvms_buf_put(&rr->got, p, size * n) < 0 ? 0 : size * n;
}

/* GETs bytes [a, b) of the file into rr->got. */
static int rr_get(remote_reader *rr, uint64_t a, uint64_t b)
{
	struct curl_slist *h = NULL;
	char range[80], *url = NULL;
	long status = 0;
	CURLcode cc;
	int error = 0;

	mvms_buf_clear(&rr->got);
	if (asprintf(&url, "%s%s", rr->r->url, rr->url) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)a,
		 (unsigned long long)b - 1);
	MVMS_TRY(mvms_http__session_headers(&h, rr->r));
	MVMS_TRY(mvms_http__add_header(&h, range));
	curl_easy_setopt(rr->r->curl, CURLOPT_URL, url);
	curl_easy_setopt(rr->r->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(rr->r->curl, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(rr->r->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(rr->r->curl, CURLOPT_WRITEFUNCTION, rr_collect);
	curl_easy_setopt(rr->r->curl, CURLOPT_WRITEDATA, rr);
	cc = curl_easy_perform(rr->r->curl);
	rr->r->stats.requests++;
	if (cc != CURLE_OK) {
		error = mvms_error_set(MVMS_ERROR, "remote: GET %s: %s", rr->url, curl_easy_strerror(cc));
		goto done;
	}
	curl_easy_getinfo(rr->r->curl, CURLINFO_RESPONSE_CODE, &status);
	rr->r->stats.bytes_received += rr->got.size;
	if (status != 206 && !(status == 200 && a == 0 && b == rr->off[rr->n])) {
		error = status >= 400 ? mvms_http__error(rr->r, status, &rr->got, rr->url)
				      : mvms_error_set(MVMS_ERROR, "remote: GET %s: HTTP %ld", rr->url, status);
		goto done;
	}
	if (rr->got.size != b - a)
		error = mvms_error_set(MVMS_EMISMATCH, "remote: %s: %zu bytes arrived for a range of "
				       "%llu", rr->url, rr->got.size, (unsigned long long)(b - a));
done:
	curl_easy_setopt(rr->r->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	free(url);
	return error;
}

/* The next verified piece: whole chunks from the one holding start, up to READ_SPAN bytes,
 * each hashed against its id; then the part of them in [start, end). */
static int rr_next(const void **data, size_t *len, void *p)
{
	remote_reader *rr = p;
	char hex[MVMS_OID_HEXSZ + 1];
	mvms_oid got;
	size_t j, i;
	int error = 0;

	*data = NULL;
	*len = 0;
	if (rr->start >= rr->end)
		return 0;
	while (rr->k < rr->n && rr->off[rr->k + 1] <= rr->start)
		rr->k++;
	for (j = rr->k + 1; j < rr->n && rr->off[j] < rr->end &&
	     rr->off[j + 1] - rr->off[rr->k] <= READ_SPAN; j++)
		;
	MVMS_TRY(rr_get(rr, rr->off[rr->k], rr->off[j]));
	for (i = rr->k; i < j; i++) {
		mvms_oid_hash(&got, rr->got.ptr + (rr->off[i] - rr->off[rr->k]),
			      (size_t)(rr->off[i + 1] - rr->off[i]));
		if (mvms_oid_cmp(&got, &rr->ids[i]) != 0) {
			mvms_oid_fmt(hex, &rr->ids[i]);
			error = mvms_error_set(MVMS_EMISMATCH, "remote: %s: chunk %.16s arrived corrupt",
					       rr->url, hex);
			goto done;
		}
	}
	*data = rr->got.ptr + (rr->start - rr->off[rr->k]);
	*len = (size_t)((rr->off[j] < rr->end ? rr->off[j] : rr->end) - rr->start);
	rr->start += *len;
	rr->k = j;
done:
	return error;
}

static const mvms_file_reader__ops rr_ops = { rr_next, rr_free };

/* rr->url: the file route of @path in version @vid of @model. */
static int rr_url(remote_reader *rr, const char *model, const char *vid, const char *path)
{
	mvms_buf b = MVMS_BUF_INIT;
	char *e = NULL, *seg = NULL;
	const char *s = path, *slash;
	int error = 0;

	MVMS_TRY(mvms_remote_escape(&e, model));
	MVMS_TRY(mvms_buf_printf(&b, "/v1/models/%s/versions/%s/files", e, vid));
	do {
		slash = strchr(s, '/');
		free(seg);
		free(e);
		e = NULL;
		seg = slash ? strndup(s, (size_t)(slash - s)) : strdup(s);
		MVMS_CHECK_ALLOC(seg, error);
		MVMS_TRY(mvms_remote_escape(&e, seg));
		MVMS_TRY(mvms_buf_printf(&b, "/%s", e));
		s = slash ? slash + 1 : NULL;
	} while (s);
	MVMS_TRY(mvms_buf_put(&b, "", 1));
	rr->url = mvms_buf_detach(&b);
done:
	free(seg);
	free(e);
	mvms_buf_dispose(&b);
	return error;
}

/* The chunk list of file @id, checked against it, into rr->ids and rr->off. */
static int rr_chunks(remote_reader *rr, mvms_store *st, const char *id, uint64_t size)
{
	mvms_buf fm = MVMS_BUF_INIT;
	char *url = NULL;
	mvms_oid fid, got;
	uint64_t fsize = 0;
	size_t k;
	int error = 0;

	MVMS_TRY(mvms_oid_parse(&fid, id));
	MVMS_TRY(mvms_client__path(&url, "/v1/objects/files/%s", id));
	MVMS_TRY(mvms_http__call(st->remote, "GET", url, NULL, 0, NULL, &fm, "chunk list"));
	if (mvms_sync_object_id(&got, "files", fm.ptr ? fm.ptr : "", fm.size) < 0 ||
	    mvms_oid_cmp(&got, &fid) != 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "remote: the chunk list of %.16s does not "
				       "match its id", id);
		goto done;
	}
	MVMS_TRY(mvms_sync_parse_filemap(&rr->ids, &rr->n, &fsize, fm.ptr, fm.size, &fid));
	if (fsize != size) {
		error = mvms_error_set(MVMS_EMISMATCH, "remote: file %.16s: size does not match its "
				       "chunks", id);
		goto done;
	}
	rr->off = calloc(rr->n + 1, sizeof(*rr->off));
	MVMS_CHECK_ALLOC(rr->off, error);
	for (k = 0; k < rr->n; k++)
		rr->off[k + 1] = rr->off[k] +
				 mvms_le64_get((const unsigned char *)fm.ptr + 32 + k * 40 + 32);
done:
	mvms_buf_dispose(&fm);
	free(url);
	return error;
}

static int c_file_reader_open(mvms_file_reader **out, uint64_t *size_out, char *id_out,
			      mvms_store *st, const char *spec, const char *path, uint64_t start,
			      uint64_t end)
{
	mvms_listing *l = NULL;
	const mvms_file_entry *e = NULL;
	remote_reader *rr = NULL;
	uint64_t size;
	size_t i;
	int error = 0;

	*out = NULL;
	MVMS_TRY(c_version_ls(&l, st, spec, path, 0));
	for (i = 0; i < l->count && !e; i++)
		if (strcmp(l->files[i].info.path, path) == 0)
			e = &l->files[i];
	if (!e) {
		error = mvms_error_set(MVMS_ENOTFOUND, "%s@v%lld has no file '%s'", l->model,
				       (long long)l->number, path);
		goto done;
	}
	size = e->info.size;
	if (end == 0)
		end = size;
	if (start > end || end > size) {
		error = mvms_error_set(MVMS_EINVALID, "range %llu-%llu is outside the file (%llu bytes)",
				       (unsigned long long)start, (unsigned long long)end,
				       (unsigned long long)size);
		goto done;
	}
	rr = calloc(1, sizeof(*rr));
	MVMS_CHECK_ALLOC(rr, error);
	rr->r = st->remote;
	rr->start = start;
	rr->end = end;
	MVMS_TRY(rr_url(rr, l->model, l->id, path));
	MVMS_TRY(rr_chunks(rr, st, e->info.id, size));
	if (size_out)
		*size_out = size;
	if (id_out)
		snprintf(id_out, MVMS_OID_HEXSZ + 1, "%s", e->info.id);
	error = mvms_file_reader__wrap(out, &rr_ops, rr);
	rr = NULL;
done:
	rr_free(rr);
	mvms_listing_free(l);
	return error;
}

void mvms_client__file_ops(mvms_transport *t)
{
	t->version_ls = c_version_ls;
	t->file_reader_open = c_file_reader_open;
}
