/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server against real clients: starts `$MVMS serve` on 127.0.0.1 port 0 and talks
 * to it with libcurl, implementing the push protocol with the library's client half
 * (mvms_sync_stage, mvms_sync_manifest, mvms_sync_export_chunks):
 *   1. 8 concurrent pushers to one branch: each stages its own file in its own local
 *      store, reads the branch head, asks which chunks are missing, PUTs a pack of them
 *      and commits with the expected head, retrying from the head on 409. Afterwards the
 *      model has exactly 8 versions in one chain, each pusher's file in exactly one.
 *   2. A second push uploads only new chunks: v2 of a model with 10% of its tensors
 *      changed PUTs a small fraction of v1's bytes, and the server's
 *      mvms_http_bytes_received_total grows by about that.
 *   3. Range reads of a large file through libcurl match the source bytes.
 * Needs MVMS (the mvms-store binary) and MKMODEL (tests/mkmodel) in the environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>
#include "tap.h"
#include "mvms.h"
#include "mvms/sync.h"

extern char **environ;

#define PUSHERS 8
#define MAX_TRIES 200

static char dir[] = "/tmp/mvms-test-server-XXXXXX";
static const char *mvms_bin, *mkmodel_bin;
static char base_url[64];
static char wtoken[256];
static pid_t server_pid = -1;

/* ---- small helpers ---- */

typedef struct buf {
	char *data;
	size_t len, cap;
} buf;

static void buf_free(buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static size_t buf_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->data, cap)))
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int read_file(const char *path, unsigned char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	*out = NULL;
	*len = 0;
	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(*out = malloc((size_t)n + 1)) || fread(*out, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*out);
		*out = NULL;
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Runs argv (stdout to @out_path or /dev/null, stderr to @err_path or inherited); exit status. */
static int run(char *const argv[], const char *out_path, const char *err_path)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = -1;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (err_path)
		posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void stop_server(int *status_out)
{
	int status = 0, i;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGTERM);
	for (i = 0; i < 300; i++) {
		pid_t p = waitpid(server_pid, &status, WNOHANG);
		if (p == server_pid)
			break;
		usleep(50 * 1000);
	}
	if (i == 300) {
		diag("the server ignored SIGTERM for 15 s: killing it");
		kill(server_pid, SIGKILL);
		waitpid(server_pid, &status, 0);
	}
	server_pid = -1;
	if (status_out)
		*status_out = status;
}

static void cleanup(void)
{
	char cmd[600];

	stop_server(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

static void bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	cleanup();
	exit(1);
}

static int start_server(const char *store)
{
	char pf[512], log[512], *argv[16];
	posix_spawn_file_actions_t fa;
	int i, port = 0;

	snprintf(pf, sizeof(pf), "%s/port", dir);
	snprintf(log, sizeof(log), "%s/server.log", dir);
	argv[0] = (char *)mvms_bin;
	argv[1] = "--store";
	argv[2] = (char *)store;
	argv[3] = "serve";
	argv[4] = "--listen";
	argv[5] = "127.0.0.1:0";
	argv[6] = "--port-file";
	argv[7] = pf;
	argv[8] = "--threads";
	argv[9] = "4";
	argv[10] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (posix_spawn(&server_pid, mvms_bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		server_pid = -1;
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 200 && !port; i++) {
		FILE *f = fopen(pf, "r");
		int status;
		if (f) {
			if (fscanf(f, "%d\n", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (!port) {
			if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
				server_pid = -1;
				diag("the server exited before listening (status %d)", status);
				return -1;
			}
			usleep(50 * 1000);
		}
	}
	if (!port)
		return -1;
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", port);
	return 0;
}

/* ---- HTTP ---- */

typedef struct reply {
	long status;
	buf body;
} reply;

/*
 * One request on @h: @method to base_url + @path with the write token; a body when @body
 * is not NULL. @range is a Range value ("0-99") or NULL. Returns 0 when a reply came
 * (whatever its status), -1 on a transport error.
 */
static int http(CURL *h, reply *out, const char *method, const char *path, const void *body,
		size_t len, const char *ctype, const char *range)
{
	struct curl_slist *hdrs = NULL;
	char url[4096], auth[320], ct[128];
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	curl_easy_reset(h);
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", wtoken);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		hdrs = curl_slist_append(hdrs, ct);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (range)
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		diag("%s %s: %s", method, path, curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	return 0;
}

static cJSON *http_json(CURL *h, long *status, const char *method, const char *path, cJSON *doc)
{
	reply r;
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON *res = NULL;

	*status = 0;
	if (http(h, &r, method, path, text, text ? strlen(text) : 0, text ? "application/json" : NULL,
		 NULL) == 0) {
		*status = r.status;
		res = r.body.data ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
		if (!res && r.body.len)
			diag("%s %s: %ld, not JSON: %.200s", method, path, r.status, r.body.data);
	}
	cJSON_free(text);
	buf_free(&r.body);
	return res;
}

static const char *jstr(const cJSON *doc, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(doc, key);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double jnum(const cJSON *doc, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(doc, key);

	return cJSON_IsNumber(j) ? j->valuedouble : -1;
}

/* A counter from /metrics (no labels), or -1. */
static double metric(CURL *h, const char *name)
{
	reply r;
	double v = -1;
	size_t n = strlen(name);
	const char *p;

	if (http(h, &r, "GET", "/metrics", NULL, 0, NULL, NULL) < 0 || r.status != 200 || !r.body.data) {
		buf_free(&r.body);
		return -1;
	}
	for (p = r.body.data; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	buf_free(&r.body);
	return v;
}

/* ---- the push protocol, client side ---- */

typedef struct push_job {
	const char *model, *uid, *src, *local, *author, *message;
	/* results */
	int ok;
	int tries, conflicts;
	uint64_t bytes_put;        /* sum of the pack sizes PUT */
	size_t packs_put;
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	char client_id[MVMS_VERSION_ID_HEXSZ + 1];
	char file_ids[8][MVMS_OID_HEXSZ + 1];
	size_t nfiles;
	mvms_oid *all_chunks;
	size_t nchunks;
	char err[512];
} push_job;

static void job_fail(push_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_fail(push_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->err, sizeof(j->err), fmt, ap);
	va_end(ap);
	j->ok = 0;
}

/* Asks which of @ids the server lacks; fills @missing (server order). -1 on failure. */
static int ask_missing(CURL *h, push_job *j, const mvms_oid *ids, size_t n, mvms_oid **missing,
		       size_t *nmissing)
{
	cJSON *req = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(req, "ids"), *res, *it, *m;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t i, k = 0;
	long status;

	*missing = NULL;
	*nmissing = 0;
	for (i = 0; i < n; i++) {
		mvms_oid_fmt(hex, &ids[i]);
		cJSON_AddItemToArray(arr, cJSON_CreateString(hex));
	}
	res = http_json(h, &status, "POST", "/v1/chunks/missing", req);
	cJSON_Delete(req);
	m = cJSON_GetObjectItemCaseSensitive(res, "missing");
	if (status != 200 || !cJSON_IsArray(m)) {
		job_fail(j, "POST /v1/chunks/missing: %ld", status);
		cJSON_Delete(res);
		return -1;
	}
	*missing = calloc((size_t)cJSON_GetArraySize(m) + 1, sizeof(**missing));
	cJSON_ArrayForEach(it, m) {
		if (!cJSON_IsString(it) || mvms_oid_parse(&(*missing)[k], it->valuestring) < 0) {
			job_fail(j, "missing: a bad id");
			cJSON_Delete(res);
			return -1;
		}
		k++;
	}
	*nmissing = k;
	cJSON_Delete(res);
	return 0;
}

static int put_pack(CURL *h, push_job *j, mvms_store *st, const mvms_oid *ids, size_t n)
{
	void *pack = NULL;
	size_t len = 0;
	mvms_oid pid;
	char hex[MVMS_OID_HEXSZ + 1], path[128];
	reply r;
	int rc = -1;

	if (mvms_sync_export_chunks(&pack, &len, &pid, st, ids, n) < 0) {
		job_fail(j, "export: %s", mvms_error_last());
		return -1;
	}
	mvms_oid_fmt(hex, &pid);
	snprintf(path, sizeof(path), "/v1/packs/%s", hex);
	if (http(h, &r, "PUT", path, pack, len, "application/octet-stream", NULL) == 0 &&
	    r.status == 201) {
		j->bytes_put += len;
		j->packs_put++;
		rc = 0;
	} else {
		job_fail(j, "PUT %s (%zu bytes): %ld %.200s", path, len, r.status,
			 r.body.data ? r.body.data : "");
	}
	buf_free(&r.body);
	free(pack);
	return rc;
}

static int cmp_oid(const void *a, const void *b)
{
	return mvms_oid_cmp(a, b);
}

/* The whole push: stage, then (head, manifest, missing, packs, commit) until it commits. */
static void *push_run(void *arg)
{
	push_job *j = arg;
	CURL *h = curl_easy_init();
	mvms_store *st = NULL;
	mvms_sync_file *files = NULL;
	size_t nfiles = 0, i, k, n;
	char path[512];
	unsigned seed = (unsigned)(uintptr_t)j ^ (unsigned)time(NULL);

	j->ok = 0;
	if (!h) {
		job_fail(j, "curl_easy_init");
		return NULL;
	}
	if (mvms_store_open(&st, j->local, 1) < 0) {
		job_fail(j, "store open %s: %s", j->local, mvms_error_last());
		goto done;
	}
	if (mvms_sync_stage(&files, &nfiles, st, j->src, NULL, NULL) < 0) {
		job_fail(j, "stage %s: %s", j->src, mvms_error_last());
		goto done;
	}
	j->nfiles = nfiles < 8 ? nfiles : 8;
	for (i = 0; i < j->nfiles; i++)
		mvms_oid_fmt(j->file_ids[i], &files[i].id);
	for (i = 0, n = 0; i < nfiles; i++)
		n += files[i].nchunks;
	j->all_chunks = calloc(n + 1, sizeof(*j->all_chunks));
	for (i = 0, k = 0; i < nfiles; i++) {
		memcpy(&j->all_chunks[k], files[i].chunks, files[i].nchunks * sizeof(mvms_oid));
		k += files[i].nchunks;
	}
	qsort(j->all_chunks, n, sizeof(mvms_oid), cmp_oid);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || mvms_oid_cmp(&j->all_chunks[k - 1], &j->all_chunks[i]) != 0)
			j->all_chunks[k++] = j->all_chunks[i];
	j->nchunks = k;

	for (j->tries = 1; j->tries <= MAX_TRIES; j->tries++) {
		char head[MVMS_VERSION_ID_HEXSZ + 1] = "";
		const char *parents[1];
		mvms_sync_manifest_info info;
		char *man = NULL, *mz;
		size_t mlen = 0, nmissing = 0;
		mvms_oid *missing = NULL;
		cJSON *req, *fms, *res;
		long status;

		/* the branch head */
		snprintf(path, sizeof(path), "/v1/models/%s/versions/main", j->model);
		res = http_json(h, &status, "GET", path, NULL);
		if (status == 200 && jstr(res, "id")) {
			snprintf(head, sizeof(head), "%s", jstr(res, "id"));
		} else if (status != 404) {
			job_fail(j, "GET %s: %ld", path, status);
			cJSON_Delete(res);
			goto done;
		}
		cJSON_Delete(res);

		memset(&info, 0, sizeof(info));
		info.model_uid = j->uid;
		info.model_name = j->model;
		parents[0] = head;
		info.parents = parents;
		info.parent_count = *head ? 1 : 0;
		info.author = j->author;
		info.message = j->message;
		info.time = (int64_t)time(NULL);
		info.files = files;
		info.file_count = nfiles;
		if (mvms_sync_manifest(&man, &mlen, j->client_id, &info) < 0) {
			job_fail(j, "manifest: %s", mvms_error_last());
			goto done;
		}

		/* chunks: ask, then send only the missing ones */
		if (ask_missing(h, j, j->all_chunks, j->nchunks, &missing, &nmissing) < 0) {
			free(man);
			goto done;
		}
		if (nmissing && put_pack(h, j, st, missing, nmissing) < 0) {
			free(missing);
			free(man);
			goto done;
		}
		free(missing);

		/* commit */
		mz = malloc(mlen + 1);
		memcpy(mz, man, mlen);
		mz[mlen] = '\0';
		free(man);
		req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "manifest", mz);
		free(mz);
		fms = cJSON_AddObjectToObject(req, "filemaps");
		for (i = 0; i < nfiles; i++) {
			size_t cap = sodium_base64_ENCODED_LEN(files[i].filemap_len,
							       sodium_base64_VARIANT_ORIGINAL);
			char *b64 = malloc(cap), hex[MVMS_OID_HEXSZ + 1];
			sodium_bin2base64(b64, cap, files[i].filemap, files[i].filemap_len,
					  sodium_base64_VARIANT_ORIGINAL);
			mvms_oid_fmt(hex, &files[i].id);
			cJSON_AddStringToObject(fms, hex, b64);
			free(b64);
		}
		cJSON_AddStringToObject(req, "branch", "main");
		cJSON_AddStringToObject(req, "expected_head", head);
		snprintf(path, sizeof(path), "/v1/models/%s/versions", j->model);
		res = http_json(h, &status, "POST", path, req);
		cJSON_Delete(req);
		if (status == 201) {
			j->number = (int64_t)jnum(res, "version");
			snprintf(j->id, sizeof(j->id), "%s", jstr(res, "id") ? jstr(res, "id") : "");
			j->ok = 1;
			cJSON_Delete(res);
			break;
		}
		if (status == 409) {
			j->conflicts++;
			cJSON_Delete(res);
			usleep(1000 + rand_r(&seed) % 20000);
			continue;
		}
		{
			char *t = res ? cJSON_PrintUnformatted(res) : NULL;
			job_fail(j, "POST %s: %ld %.300s", path, status, t ? t : "");
			cJSON_free(t);
		}
		cJSON_Delete(res);
		goto done;
	}
	if (!j->ok && !*j->err)
		job_fail(j, "no commit after %d tries", MAX_TRIES);
done:
	mvms_sync_files_free(files, nfiles);
	mvms_store_free(st);
	curl_easy_cleanup(h);
	return NULL;
}

static int register_model(CURL *h, const char *name, char *uid, size_t uidlen)
{
	cJSON *req = cJSON_CreateObject(), *res;
	char path[256];
	long status;

	cJSON_AddStringToObject(req, "name", name);
	res = http_json(h, &status, "POST", "/v1/models", req);
	cJSON_Delete(req);
	cJSON_Delete(res);
	if (status != 201)
		return -1;
	snprintf(path, sizeof(path), "/v1/models/%s", name);
	res = http_json(h, &status, "GET", path, NULL);
	if (status != 200 || !jstr(res, "uid")) {
		cJSON_Delete(res);
		return -1;
	}
	snprintf(uid, uidlen, "%s", jstr(res, "uid"));
	cJSON_Delete(res);
	return 0;
}

/* ---- 1: concurrent pushers ---- */

static void test_concurrent(CURL *h)
{
	static push_job jobs[PUSHERS];
	static char src[PUSHERS][512], local[PUSHERS][512], author[PUSHERS][32], msg[PUSHERS][32];
	pthread_t th[PUSHERS];
	char uid[64], path[256], fpath[600], text[4096];
	char ids[PUSHERS + 1][MVMS_VERSION_ID_HEXSZ + 1];
	int i, k, all_ok = 1, count, chain = 1, once = 1, conflicts = 0, nthreads = 0;
	cJSON *res;
	long status;

	if (!ok(register_model(h, "race", uid, sizeof(uid)) == 0, "POST /v1/models registers 'race'"))
		return;
	for (i = 0; i < PUSHERS; i++) {
		snprintf(src[i], sizeof(src[i]), "%s/src-%d", dir, i);
		snprintf(local[i], sizeof(local[i]), "%s/client-%d", dir, i);
		snprintf(author[i], sizeof(author[i]), "pusher-%d", i);
		snprintf(msg[i], sizeof(msg[i]), "push %d", i);
		mkdir(src[i], 0755);
		snprintf(fpath, sizeof(fpath), "%s/file-%d.txt", src[i], i);
		for (k = 0; k < 60; k++)
			snprintf(text + k * 40, sizeof(text) - (size_t)k * 40, "pusher %d line %02d %20s\n", i, k, "xxxx");
		if (write_text(fpath, text) < 0)
			bail("cannot write %s", fpath);
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].model = "race";
		jobs[i].uid = uid;
		jobs[i].src = src[i];
		jobs[i].local = local[i];
		jobs[i].author = author[i];
		jobs[i].message = msg[i];
	}
	for (i = 0; i < PUSHERS; i++) {
		if (pthread_create(&th[i], NULL, push_run, &jobs[i]) != 0)
			break;
		nthreads++;
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < PUSHERS; i++) {
		conflicts += jobs[i].conflicts;
		if (!jobs[i].ok) {
			all_ok = 0;
			diag("pusher %d: %s", i, jobs[i].err[0] ? jobs[i].err : "did not run");
		}
	}
	ok(all_ok, "8 concurrent pushers all commit (409s retried: %d in all)", conflicts);
	for (i = 0, k = 1; i < PUSHERS; i++)
		if (jobs[i].ok && strcmp(jobs[i].id, jobs[i].client_id) != 0)
			k = 0;
	ok(k, "each committed version id is the one its client computed");

	res = http_json(h, &status, "GET", "/v1/models/race/versions", NULL);
	count = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(res, "versions"));
	cJSON_Delete(res);
	is_int(count, PUSHERS, "the model has exactly 8 versions");

	/* The chain: v1 has no parent, vN's parent is v(N-1); each file in exactly one. */
	memset(ids, 0, sizeof(ids));
	{
		int seen[PUSHERS] = { 0 };
		for (k = 1; k <= PUSHERS; k++) {
			cJSON *par, *fl, *f;
			snprintf(path, sizeof(path), "/v1/models/race/versions/v%d", k);
			res = http_json(h, &status, "GET", path, NULL);
			if (status != 200) {
				chain = once = 0;
				diag("GET %s: %ld", path, status);
				cJSON_Delete(res);
				continue;
			}
			snprintf(ids[k], sizeof(ids[k]), "%s", jstr(res, "id") ? jstr(res, "id") : "");
			par = cJSON_GetObjectItemCaseSensitive(res, "parents");
			if (k == 1 ? cJSON_GetArraySize(par) != 0
				   : (cJSON_GetArraySize(par) != 1 ||
				      !jstr(cJSON_GetArrayItem(par, 0), "id") ||
				      strcmp(jstr(cJSON_GetArrayItem(par, 0), "id"), ids[k - 1]) != 0)) {
				chain = 0;
				diag("v%d's parents are not [v%d]", k, k - 1);
			}
			fl = cJSON_GetObjectItemCaseSensitive(res, "file_list");
			cJSON_ArrayForEach(f, fl) {
				const char *fid = jstr(f, "id");
				for (i = 0; fid && i < PUSHERS; i++)
					if (jobs[i].nfiles && strcmp(jobs[i].file_ids[0], fid) == 0)
						seen[i]++;
			}
			cJSON_Delete(res);
		}
		for (i = 0; i < PUSHERS; i++)
			if (seen[i] != 1) {
				once = 0;
				diag("pusher %d's file is in %d versions", i, seen[i]);
			}
	}
	ok(chain, "the 8 versions form one chain (each has the previous head as parent)");
	ok(once, "each pusher's file is in exactly one version");
	res = http_json(h, &status, "GET", "/v1/models/race/versions/main", NULL);
	is_str(jstr(res, "id") ? jstr(res, "id") : "", ids[PUSHERS], "main is at v8");
	cJSON_Delete(res);
	for (i = 0; i < PUSHERS; i++)
		free(jobs[i].all_chunks);
}

/* ---- 2 and 3: a second push sends only new chunks; range reads ---- */

static void test_incremental_and_ranges(CURL *h)
{
	static push_job j1, j2, j3;
	char uid[64], cmd[1200], g1[128], g2[128], l1[128], path[512], range[64];
	double before, after, delta;
	unsigned char *data = NULL;
	size_t len = 0, i;
	reply r;
	cJSON *res;
	long status;
	mvms_oid *missing = NULL;
	size_t nmissing = 0;
	CURL *h2;
	static const uint64_t ranges[][2] = {
		{ 0, 99 }, { 1000000, 5000000 }, { 65535, 65536 }, { 7000000, 16777215 },
	};

	snprintf(g1, sizeof(g1), "%s/g1", dir);
	snprintf(g2, sizeof(g2), "%s/g2", dir);
	snprintf(l1, sizeof(l1), "%s/client-g", dir);
	snprintf(cmd, sizeof(cmd),
		 "'%s' -q --size 16M --tensors 20 --seed 11 '%s' && "
		 "'%s' -q --size 16M --tensors 20 --seed 11 --change 10 --change-seed 5 '%s'",
		 mkmodel_bin, g1, mkmodel_bin, g2);
	if (system(cmd) != 0)
		bail("mkmodel failed: %s", cmd);
	if (register_model(h, "grow", uid, sizeof(uid)) < 0) {
		ok(0, "register 'grow'");
		return;
	}
	j1.model = j2.model = j3.model = "grow";
	j1.uid = j2.uid = j3.uid = uid;
	j1.local = j2.local = j3.local = l1;   /* one client cache, as the CLI would keep */
	j1.author = j2.author = j3.author = "tester";
	j1.src = g1;
	j1.message = "v1";
	j2.src = g2;
	j2.message = "v2";

	push_run(&j1);
	if (!ok(j1.ok, "push v1 of a 16 MiB model over HTTP (%zu pack(s), %llu bytes)", j1.packs_put,
		(unsigned long long)j1.bytes_put))
		diag("%s", j1.err);
	before = metric(h, "mvms_http_bytes_received_total");
	push_run(&j2);
	after = metric(h, "mvms_http_bytes_received_total");
	if (!ok(j2.ok, "push v2 (10%% of the tensors changed)"))
		diag("%s", j2.err);
	ok(j2.bytes_put > 0 && j1.bytes_put > 0 && (double)j2.bytes_put < 0.3 * (double)j1.bytes_put,
	   "v2 PUTs only new chunks: %llu bytes vs %llu for v1 (%.1f%%)",
	   (unsigned long long)j2.bytes_put, (unsigned long long)j1.bytes_put,
	   j1.bytes_put ? 100.0 * (double)j2.bytes_put / (double)j1.bytes_put : 0.0);
	delta = after - before;
	ok(before >= 0 && after >= 0 && delta >= (double)j2.bytes_put &&
		   delta <= (double)j2.bytes_put + 128 * 1024,
	   "mvms_http_bytes_received_total grew by about v2's pack bytes (%.0f vs %llu; JSON requests "
	   "make the rest)", delta, (unsigned long long)j2.bytes_put);
	ok(delta < 0.35 * (double)j1.bytes_put, "the server received a small fraction of v1's bytes for v2");

	/* Nothing is missing any more: a resumed push would send nothing. */
	if (ask_missing(h, &j2, j2.all_chunks, j2.nchunks, &missing, &nmissing) == 0)
		is_int(nmissing, 0, "after v2, the server lacks none of v2's chunks (a resumed push sends nothing)");
	else
		ok(0, "ask for missing chunks after v2");
	free(missing);

	/* Pushing v2's tree again on top of v2: no pack at all. */
	j3.src = g2;
	j3.message = "v2 again";
	push_run(&j3);
	ok(j3.ok && j3.packs_put == 0, "a third push of the same tree PUTs no pack (%zu)", j3.packs_put);

	res = http_json(h, &status, "GET", "/v1/models/grow/versions/v2", NULL);
	is_str(jstr(res, "id") ? jstr(res, "id") : "", j2.id, "v2 is the version pushed second");
	cJSON_Delete(res);

	/* 3: the file back, whole and in ranges */
	snprintf(path, sizeof(path), "%s/model.safetensors", g2);
	if (read_file(path, &data, &len) < 0)
		bail("read %s", path);
	h2 = curl_easy_init();
	snprintf(path, sizeof(path), "/v1/models/grow/versions/v2/files/model.safetensors");
	if (http(h2, &r, "GET", path, NULL, 0, NULL, NULL) == 0 && r.status == 200)
		ok(r.body.len == len && memcmp(r.body.data, data, len) == 0,
		   "the whole 16 MiB file downloads byte-identical (%zu bytes)", r.body.len);
	else
		ok(0, "GET the whole file (%ld)", r.status);
	buf_free(&r.body);
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint64_t a = ranges[i][0], b = ranges[i][1] < len ? ranges[i][1] : len - 1;
		snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)a, (unsigned long long)b);
		if (http(h2, &r, "GET", path, NULL, 0, NULL, range) == 0 && r.status == 206)
			ok(r.body.len == b - a + 1 && memcmp(r.body.data, data + a, b - a + 1) == 0,
			   "Range bytes=%s: 206 and the source bytes", range);
		else
			ok(0, "Range bytes=%s: 206 (got %ld)", range, r.status);
		buf_free(&r.body);
	}
	snprintf(range, sizeof(range), "-%d", 300000);
	if (http(h2, &r, "GET", path, NULL, 0, NULL, range) == 0 && r.status == 206)
		ok(r.body.len == 300000 && memcmp(r.body.data, data + len - 300000, 300000) == 0,
		   "Range bytes=-300000: the last 300000 bytes");
	else
		ok(0, "Range bytes=-300000: 206 (got %ld)", r.status);
	buf_free(&r.body);
	curl_easy_cleanup(h2);
	free(data);
	free(j1.all_chunks);
	free(j2.all_chunks);
	free(j3.all_chunks);
}

int main(void)
{
	char store[512], tokfile[512], *argv[12];
	unsigned char *tok = NULL;
	size_t toklen = 0;
	CURL *h;
	int status = -1, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mvms_bin = getenv("MVMS");
	mkmodel_bin = getenv("MKMODEL");
	if (!mvms_bin || !mkmodel_bin) {
		printf("Bail out! MVMS and MKMODEL must be set (mvms-store and tests/mkmodel)\n");
		return 1;
	}
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		bail("sodium_init / curl_global_init");
	snprintf(store, sizeof(store), "%s/server", dir);
	snprintf(tokfile, sizeof(tokfile), "%s/token", dir);
	argv[0] = (char *)mvms_bin;
	argv[1] = "--store";
	argv[2] = store;
	argv[3] = "init";
	argv[4] = NULL;
	if (run(argv, NULL, NULL) != 0)
		bail("mvms-store init %s failed", store);
	argv[3] = "token";
	argv[4] = "create";
	argv[5] = "--scope";
	argv[6] = "write";
	argv[7] = NULL;
	if (run(argv, tokfile, "/dev/null") != 0 || read_file(tokfile, &tok, &toklen) < 0 || !toklen)
		bail("mvms-store token create failed");
	while (toklen && (tok[toklen - 1] == '\n' || tok[toklen - 1] == '\r'))
		toklen--;
	snprintf(wtoken, sizeof(wtoken), "%.*s", (int)toklen, (const char *)tok);
	free(tok);
	if (start_server(store) < 0)
		bail("the server did not start (see %s/server.log)", dir);
	diag("the server listens on %s", base_url);
	h = curl_easy_init();
	if (!h)
		bail("curl_easy_init");

	test_concurrent(h);
	test_incremental_and_ranges(h);

	curl_easy_cleanup(h);
	stop_server(&status);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server exits 0 on SIGTERM (status %d)",
	   status);
	argv[3] = "verify";
	argv[4] = NULL;
	rc = run(argv, NULL, "/dev/null");
	is_int(rc, 0, "verify is clean on the server's store");
	curl_global_cleanup();
	cleanup();
	return done_testing();
}
