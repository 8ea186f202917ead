/* SPDX-License-Identifier: MIT */
/*
 * Every route against tokens of every scope and model glob. A store holds models alpha and
 * team/y (team/y@v1 has --parent alpha@v1), each with two versions, a tag and a deployment;
 * `$MVMS serve` runs on it. The test walks the server's own route table (srv_routes(), linked
 * from src/server) and, for every route and method, fills the captures, query and body with
 * real values of one model (alpha, then team/y) and sends the request with 13 callers: no
 * token, and read, write and admin tokens for each glob of globs[] below (all models, the
 * team/ prefix, alpha alone, none). For each case it checks:
 *   - the status: 401 without a token, 403 below the route's scope; then by the route's
 *     declared authz class: a model the token does not cover is 403 (by path or body) or
 *     404 (reads by hash); a covered one gets the route's normal answer (201 for a commit,
 *     502 no_endpoint for /predict, ...);
 *   - no leak: no reply (status line, headers, body) carries a secret of a model the token
 *     does not cover (its name, messages, author, metadata, file bytes, the ids of its
 *     versions, files and chunks) unless the request itself did. The one exception is the id
 *     of a version next to a covered one in the DAG (alpha@v1 for team/y), which the covered
 *     manifest lists anyway and which shows in stubs (see src/server/authz.c).
 * A route that declares no authz class fails the test (and the router refuses it).
 * Needs MVMS (the mvms-store binary) and MKMODEL (tests/mkmodel).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>
#include "tap.h"
#include "mvms.h"
#include "server.h"

extern char **environ;

#define NGLOBS 4
#define NCALLERS (3 * NGLOBS + 1)   /* read, write, admin x globs, and no token */
#define MAX_MARKERS 96
#define MAX_CHUNKS 24

static char dir[] = "/tmp/mvms-test-authz-XXXXXX";
static const char *mvms_bin, *mkmodel_bin;
static char store[600], base_url[64];
static pid_t server_pid = -1;

static const char *const globs[NGLOBS] = { "*", "team/*", "alpha", "nomatch-*" };
static const char *const scope_names[] = { "", "read", "write", "admin" };

typedef struct caller {
	char token[160];        /* "" for none */
	int scope;              /* SRV_SCOPE_*; SRV_SCOPE_NONE without a token */
	const char *glob;       /* NULL without a token */
	char label[40];
} caller;
static caller callers[NCALLERS];
static const caller *admin;  /* admin, '*': sets things up */

typedef struct model {
	const char *name, *enc, *notes, *secret;  /* the secret is in its notes file */
	char uid[64], v1[65], v2[65];
	char notes_id[65], notes_b64[512];
	unsigned long long notes_size;
	char only_file[65];                 /* a file id no other model holds */
	char chunks[MAX_CHUNKS][65];        /* chunk ids no other model holds */
	size_t nchunks;
	unsigned char *pack;                /* a pack of those chunks, for PUT /v1/packs */
	size_t pack_len;
	char pack_id[65];
	const char *markers[MAX_MARKERS];   /* what a caller who does not cover it never sees */
	size_t nmarkers;
} model;
static model models[2] = {
	{ .name = "alpha", .enc = "alpha", .notes = "alpha-notes.txt",
	  .secret = "ALPHA-SECRET-BYTES-81d2" },
	{ .name = "team/y", .enc = "team%2Fy", .notes = "team-notes.txt",
	  .secret = "TEAMY-SECRET-BYTES-77c0" },
};

/* ---- plumbing ---- */

typedef struct buf {
	char *data;
	size_t len;
} buf;

static size_t buf_write(char *p, size_t size, size_t n, void *arg)
{
	buf *b = arg;
	char *t = realloc(b->data, b->len + size * n + 1);

	if (!t)
		return 0;
	memcpy(t + b->len, p, size * n);
	b->data = t;
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

static void cleanup(void)
{
	char cmd[700];
	int status;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, &status, 0);
		server_pid = -1;
	}
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

/* Runs $MVMS --store STORE ARGS... (NULL-terminated); stdout into @out (or /dev/null). */
static int cli(const char *out, ...)
{
	char *argv[24];
	posix_spawn_file_actions_t fa;
	va_list ap;
	pid_t pid;
	int n = 0, status = -1;

	argv[n++] = (char *)mvms_bin;
	argv[n++] = "--store";
	argv[n++] = store;
	va_start(ap, out);
	while (n < 23 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC,
					 0644);
	if (posix_spawn(&pid, mvms_bin, &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		bail("write %s", path);
}

/* The first line of @path into @out (without its newline). */
static void read_line(char *out, size_t n, const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(out, (int)n, f))
		bail("read %s", path);
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
}

typedef struct reply {
	long status;
	buf head, body;
} reply;

static void reply_free(reply *r)
{
	free(r->head.data);
	free(r->body.data);
	memset(r, 0, sizeof(*r));
}

/* One request as @c (NULL: no token). 0 when a reply came, whatever its status. */
static int http(CURL *h, reply *out, const caller *c, const char *method, const char *path,
		const void *body, size_t len)
{
	struct curl_slist *hdrs = NULL;
	char url[4096], auth[220];
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	curl_easy_reset(h);
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	if (c && c->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &out->head);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		diag("%s %s: %s", method, path, curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	return 0;
}

/* A JSON reply of @c, which must have status @want; NULL (after a diag) otherwise. */
static cJSON *get_json(CURL *h, const caller *c, const char *method, const char *path,
		       const char *body, long want)
{
	reply r;
	cJSON *doc = NULL;

	if (http(h, &r, c, method, path, body, body ? strlen(body) : 0) == 0 && r.status == want)
		doc = cJSON_ParseWithLength(r.body.data ? r.body.data : "", r.body.len);
	if (!doc)
		diag("%s %s: %ld %.300s", method, path, r.status, r.body.data ? r.body.data : "");
	reply_free(&r);
	return doc;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- the store ---- */

static void make_store(void)
{
	char path[700], d[4][700], out[700];
	size_t g, s;
	int k;

	snprintf(store, sizeof(store), "%s/store", dir);
	if (cli(NULL, "init", "-q", NULL) != 0)
		bail("init");
	for (k = 0; k < 4; k++) {
		/* alpha v1, v2; team/y v1, v2 (other seeds, so other tensor bytes) */
		char *argv[12] = { (char *)mkmodel_bin, "-q", "--size", "96K", "--tensors", "4",
				   "--seed", k < 2 ? "3" : "11", "--change", k % 2 ? "50" : "0",
				   d[k], NULL };
		pid_t pid;
		int status = -1;
		snprintf(d[k], sizeof(d[k]), "%s/src%d", dir, k);
		if (posix_spawn(&pid, mkmodel_bin, NULL, NULL, argv, environ) != 0 ||
		    waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			bail("mkmodel %s", d[k]);
		snprintf(path, sizeof(path), "%s/%s", d[k], models[k / 2].notes);
		snprintf(out, sizeof(out), "%s version %d\n", models[k / 2].secret, k % 2 + 1);
		write_text(path, out);
	}
	if (cli(NULL, "push", "alpha", d[0], "-m", "alpha-secret-message-1", "--author",
		"alpha-secret-author", "--meta", "secret=alpha-secret-meta", NULL) ||
	    cli(NULL, "push", "alpha", d[1], "-m", "alpha-secret-message-2", "--author",
		"alpha-secret-author", NULL) ||
	    cli(NULL, "push", "team/y", d[2], "--parent", "alpha@v1", "-m", "teamy-secret-message-1",
		"--author", "teamy-secret-author", "--meta", "secret=teamy-secret-meta", NULL) ||
	    cli(NULL, "push", "team/y", d[3], "-m", "teamy-secret-message-2", "--author",
		"teamy-secret-author", NULL) ||
	    cli(NULL, "tag", "alpha@v1", "alpha-secret-tag", NULL) ||
	    cli(NULL, "tag", "team/y@v1", "teamy-secret-tag", NULL) ||
	    cli(NULL, "deploy", "alpha@v1", "prod", NULL) || cli(NULL, "deploy", "team/y@v1", "prod", NULL))
		bail("setting up the store");
	for (s = SRV_SCOPE_READ, k = 0; s <= SRV_SCOPE_ADMIN; s++)
		for (g = 0; g < NGLOBS; g++, k++) {
			caller *c = &callers[k];
			snprintf(out, sizeof(out), "%s/token", dir);
			if (cli(out, "token", "create", "--scope", scope_names[s], "--model", globs[g], NULL))
				bail("token create");
			read_line(c->token, sizeof(c->token), out);
			c->scope = (int)s;
			c->glob = globs[g];
			snprintf(c->label, sizeof(c->label), "%s '%s'", scope_names[s], globs[g]);
			if (s == SRV_SCOPE_ADMIN && g == 0)
				admin = c;
		}
	callers[k].scope = SRV_SCOPE_NONE;
	snprintf(callers[k].label, sizeof(callers[k].label), "no token");
}

static void start_server(void)
{
	char pf[700], log[700], line[64] = "";
	char *argv[] = { (char *)mvms_bin, "--store", store, "serve", "--listen", "127.0.0.1:0",
			 "--port-file", pf, "--threads", "2", "--no-access-log", NULL };
	posix_spawn_file_actions_t fa;
	int i, status;

	snprintf(pf, sizeof(pf), "%s/port", dir);
	snprintf(log, sizeof(log), "%s/server.log", dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (posix_spawn(&server_pid, mvms_bin, &fa, NULL, argv, environ) != 0)
		server_pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 200 && server_pid > 0; i++) {
		FILE *f = fopen(pf, "r");
		if (f && fgets(line, sizeof(line), f) && atoi(line) > 0) {
			fclose(f);
			snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", atoi(line));
			return;
		}
		if (f)
			fclose(f);
		if (waitpid(server_pid, &status, WNOHANG) == server_pid)
			server_pid = -1;
		usleep(50 * 1000);
	}
	bail("the server did not start (see %s)", log);
}

/* ---- what the store holds, as the admin sees it ---- */

typedef struct idset {
	char (*ids)[65];
	size_t n;
} idset;

static int idset_has(const idset *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->ids[i], id))
			return 1;
	return 0;
}

static void idset_add(idset *s, const char *id)
{
	char (*t)[65];

	if (idset_has(s, id))
		return;
	if (!(t = realloc(s->ids, (s->n + 1) * sizeof(*t))))
		bail("out of memory");
	s->ids = t;
	snprintf(s->ids[s->n++], 65, "%s", id);
}

static void add_marker(model *m, const char *text)
{
	if (m->nmarkers == MAX_MARKERS)
		bail("too many markers");
	if (!(m->markers[m->nmarkers++] = strdup(text)))
		bail("out of memory");
}

/* The value of reply header @name, or "". */
static void header(char *out, size_t n, const reply *r, const char *name)
{
	const char *p = r->head.data;
	size_t k = strlen(name);

	out[0] = '\0';
	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncasecmp(p, name, k) && p[k] == ':') {
			snprintf(out, n, "%s", p + k + 1 + strspn(p + k + 1, " "));
			out[strcspn(out, "\r\n")] = '\0';
			return;
		}
}

/* The ids and bytes every case needs, and what each model keeps from other callers. */
static void learn(CURL *h)
{
	idset files[2] = { { NULL, 0 }, { NULL, 0 } }, chunks[2] = { { NULL, 0 }, { NULL, 0 } };
	char path[512];
	cJSON *doc, *it;
	reply r;
	size_t k, i, j;
	int v;

	for (k = 0; k < 2; k++) {
		model *m = &models[k];
		snprintf(path, sizeof(path), "/v1/models/%s", m->enc);
		if (!(doc = get_json(h, admin, "GET", path, NULL, 200)))
			bail("GET %s", path);
		snprintf(m->uid, sizeof(m->uid), "%s", jstr(doc, "uid"));
		cJSON_Delete(doc);
		for (v = 1; v <= 2; v++) {
			snprintf(path, sizeof(path), "/v1/models/%s/versions/v%d", m->enc, v);
			if (!(doc = get_json(h, admin, "GET", path, NULL, 200)))
				bail("GET %s", path);
			snprintf(v == 1 ? m->v1 : m->v2, 65, "%s", jstr(doc, "id"));
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "file_list")) {
				idset_add(&files[k], jstr(it, "id"));
				if (v == 1 && !strcmp(jstr(it, "path"), m->notes)) {
					snprintf(m->notes_id, sizeof(m->notes_id), "%s", jstr(it, "id"));
					m->notes_size = (unsigned long long)cJSON_GetObjectItemCaseSensitive(
								it, "size")->valuedouble;
				}
			}
			cJSON_Delete(doc);
		}
		/* Chunk lists: a 32-byte header, then 40 bytes a chunk (its id first). */
		for (i = 0; i < files[k].n; i++) {
			snprintf(path, sizeof(path), "/v1/objects/files/%s", files[k].ids[i]);
			if (http(h, &r, admin, "GET", path, NULL, 0) < 0 || r.status != 200 || r.body.len < 32)
				bail("GET %s: %ld", path, r.status);
			for (j = 32; j + 40 <= r.body.len; j += 40) {
				char hex[65];
				sodium_bin2hex(hex, sizeof(hex), (const unsigned char *)r.body.data + j, 32);
				idset_add(&chunks[k], hex);
			}
			if (!strcmp(files[k].ids[i], m->notes_id))
				sodium_bin2base64(m->notes_b64, sizeof(m->notes_b64),
						  (const unsigned char *)r.body.data, r.body.len,
						  sodium_base64_VARIANT_ORIGINAL);
			reply_free(&r);
		}
	}
	for (k = 0; k < 2; k++) {
		model *m = &models[k];
		char secret[128], body[MAX_CHUNKS * 70 + 32], *p = body;
		const char *pfx = k == 0 ? "alpha" : "teamy";
		add_marker(m, m->name);
		add_marker(m, m->secret);
		add_marker(m, m->v1);   /* markers[2]: seen next to the other model's v1 */
		add_marker(m, m->v2);
		for (v = 0; v < 5; v++) {
			static const char *const what[] = { "message-1", "message-2", "author", "meta",
							     "tag" };
			snprintf(secret, sizeof(secret), "%s-secret-%s", pfx, what[v]);
			add_marker(m, secret);
		}
		for (i = 0; i < files[k].n; i++)
			if (!idset_has(&files[1 - k], files[k].ids[i])) {
				add_marker(m, files[k].ids[i]);
				snprintf(m->only_file, sizeof(m->only_file), "%s", files[k].ids[i]);
			}
		p += sprintf(p, "{\"ids\":[");
		for (i = 0; i < chunks[k].n; i++)
			if (!idset_has(&chunks[1 - k], chunks[k].ids[i]) && m->nchunks < MAX_CHUNKS) {
				add_marker(m, chunks[k].ids[i]);
				p += sprintf(p, "%s\"%s\"", m->nchunks ? "," : "", chunks[k].ids[i]);
				snprintf(m->chunks[m->nchunks++], 65, "%s", chunks[k].ids[i]);
			}
		sprintf(p, "]}");
		if (!m->only_file[0] || m->nchunks < 2 || !m->notes_b64[0])
			bail("%s: no file or chunks of its own (%zu chunks)", m->name, m->nchunks);
		/* A pack of its own chunks, for PUT /v1/packs. */
		if (http(h, &r, admin, "POST", "/v1/chunks", body, strlen(body)) < 0 || r.status != 200)
			bail("POST /v1/chunks: %ld", r.status);
		header(m->pack_id, sizeof(m->pack_id), &r, "X-Pack-Id");
		m->pack = (unsigned char *)r.body.data;
		m->pack_len = r.body.len;
		r.body.data = NULL;
		reply_free(&r);
	}
	for (k = 0; k < 2; k++) {
		free(files[k].ids);
		free(chunks[k].ids);
	}
}

/* ---- one request for each route, method and variant ---- */

typedef struct req {
	const char *method;
	char url[3072];       /* path and query as sent */
	char text[3072];      /* the same, decoded: a secret the request names is no leak */
	char *body;
	size_t len;
	long ok;              /* the status when everything is allowed; 0: any but 401/403/404 */
	const model *also;    /* another model it needs (a parent, the other side of a diff) */
	const char *named;    /* the model a NAMED route's body names */
	char want[160];       /* with everything allowed, the body holds this */
} req;

static void set_body(req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_body(req *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&q->body, fmt, ap);
	va_end(ap);
	if (n < 0)
		bail("out of memory");
	q->len = (size_t)n;
}

/* An admin request that must succeed: the state a case needs (a branch to delete, ...). */
static void admin_post(CURL *h, const model *m, const char *suffix, const char *body)
{
	char path[512];
	cJSON *doc;

	snprintf(path, sizeof(path), "/v1/models/%s%s", m->enc, suffix);
	if (!(doc = get_json(h, admin, "POST", path, body, 201)))
		bail("setting up: POST %s %s", path, body);
	cJSON_Delete(doc);
}

/* A commit of a new version of @m on branch c-SEQ, whose parent is @parent's v1. */
static void commit_body(req *q, const model *m, const model *parent, int seq)
{
	cJSON *doc = cJSON_CreateObject(), *fm;
	char *man = NULL, *text, branch[32];

	if (asprintf(&man, "{\"format\":1,\"model\":{\"uid\":\"%s\",\"name\":\"%s\"},\"parents\":"
		     "[\"%s\"],\"author\":\"authz\",\"time\":%d,\"message\":\"commit %d\",\"meta\":{},"
		     "\"files\":[{\"path\":\"%s\",\"mode\":420,\"size\":%llu,\"id\":\"%s\"}]}\n",
		     m->uid, m->name, parent->v1, 1700000000 + seq, seq, m->notes, m->notes_size,
		     m->notes_id) < 0)
		bail("out of memory");
	cJSON_AddStringToObject(doc, "manifest", man);
	fm = cJSON_AddObjectToObject(doc, "filemaps");
	cJSON_AddStringToObject(fm, m->notes_id, m->notes_b64);
	snprintf(branch, sizeof(branch), "c-%d", seq);
	cJSON_AddStringToObject(doc, "branch", branch);
	cJSON_AddStringToObject(doc, "expected_head", "");
	text = cJSON_PrintUnformatted(doc);
	set_body(q, "%s", text);
	free(text);
	free(man);
	cJSON_Delete(doc);
}

/* The path of @rt with @m's values in its captures ({kind} and {id} by @variant). */
static void fill_path(req *q, const srv_route *rt, const model *m, int variant, int seq)
{
	const char *p = rt->pattern;
	char *u = q->url, *t = q->text;
	const size_t nu = sizeof(q->url), nt = sizeof(q->text);

	q->url[0] = q->text[0] = '\0';
	while (*p) {
		const char *close = p[0] == '{' ? strchr(p, '}') : NULL;
		char name[32], val[128], dec[128];
		if (!close) {
			snprintf(u + strlen(u), nu - strlen(u), "%c", *p);
			snprintf(t + strlen(t), nt - strlen(t), "%c", *p);
			p++;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(close - p - 1), p + 1);
		snprintf(val, sizeof(val), "%s", m->enc);
		if (!strcmp(name, "ref"))
			snprintf(val, sizeof(val), "v1");
		else if (!strcmp(name, "path*"))
			snprintf(val, sizeof(val), "%s", m->notes);
		else if (!strcmp(name, "name"))
			snprintf(val, sizeof(val), "d-%d", seq);
		else if (!strcmp(name, "env"))
			snprintf(val, sizeof(val), "prod");
		else if (!strcmp(name, "kind"))
			snprintf(val, sizeof(val), "%s", variant ? "manifests" : "files");
		else if (!strcmp(name, "id"))
			snprintf(val, sizeof(val), "%s",
				 strstr(rt->pattern, "/packs/") ? m->pack_id
				 : strstr(rt->pattern, "/{kind}/") && !variant ? m->only_file : m->v2);
		snprintf(dec, sizeof(dec), "%s", strcmp(val, m->enc) ? val : m->name);
		snprintf(u + strlen(u), nu - strlen(u), "%s", val);
		snprintf(t + strlen(t), nt - strlen(t), "%s", dec);
		p = close + 1;
	}
}

static void add_query(req *q, const char *query)
{
	char *t = q->text + strlen(q->text), *p;

	snprintf(q->url + strlen(q->url), sizeof(q->url) - strlen(q->url), "%s", query);
	snprintf(t, sizeof(q->text) - strlen(q->text), "%s", query);
	/* Decoded as the server reads it: team%2Fy is team/y. */
	while ((p = strstr(t, "%2F")))
		*p = '/', memmove(p + 1, p + 3, strlen(p + 3) + 1);
}

/*
 * Variant @variant of a request to @rt with @method about model @m (@other: the other
 * model); 0 when the route has no such variant. Routes this test does not know get their
 * captures filled by name and no body, and any answer but a refusal when allowed.
 */
static int build(req *q, CURL *h, const srv_route *rt, const char *method, int variant,
		 const model *m, const model *other, int seq)
{
	const char *pat = rt->pattern;
	int post = !strcmp(method, "POST") || !strcmp(method, "PUT");
	char tmp[600];

	memset(q, 0, sizeof(*q));
	q->method = method;
	fill_path(q, rt, m, variant, seq);
	q->ok = strcmp(method, "HEAD") && post ? 201 : 200;
#define IS(x) (!strcmp(pat, (x)))
	if (IS("/healthz") || IS("/metrics") || IS("/v1/store")) {
		if (variant)
			return 0;
		/* A caller's deployment gauges: its models' only. */
		if (IS("/metrics"))
			snprintf(q->want, sizeof(q->want), "mvms_deployment_revision{model=\"%s\"",
				 m->name);
	} else if (IS("/v1/models") && !post) {
		if (variant)
			return 0;
		snprintf(q->want, sizeof(q->want), "\"model\":\"%s\"", m->name);
	} else if (IS("/v1/models")) {
		/* alpha exists (409 when allowed); a new team/ model is created. */
		if (variant)
			return 0;
		if (m == &models[0]) {
			q->named = "alpha";
			set_body(q, "{\"name\":\"alpha\"}");
			q->ok = 409;
		} else {
			q->named = "team/new";
			set_body(q, "{\"name\":\"team/new-%d\"}", seq);
		}
	} else if (IS("/v1/models/{m}/versions") && post) {
		/* Own parent; and for team/y, a parent in alpha (the token needs both). */
		if (variant > 1 || (variant == 1 && m != &models[1]))
			return 0;
		commit_body(q, m, variant ? other : m, seq);
		q->also = variant ? other : NULL;
	} else if (IS("/v1/models/{m}/versions")) {
		if (variant > 1)
			return 0;
		if (variant)
			add_query(q, "?branch=main");
	} else if (IS("/v1/models/{m}/versions/{ref}/lineage")) {
		static const char *const qs[] = { "?direction=both", "?direction=both&format=text",
						   "?format=dot", "?format=mermaid" };
		if (variant > 3)
			return 0;
		add_query(q, qs[variant]);
	} else if (IS("/v1/models/{m}/versions/{ref}/files/{path*}")) {
		if (variant > 1)
			return 0;
		if (variant)
			add_query(q, "?format=records");
		else
			snprintf(q->want, sizeof(q->want), "%s", m->secret);
	} else if (IS("/v1/models/{m}/diff") || IS("/v1/models/{m}/merge-base")) {
		int diff = IS("/v1/models/{m}/diff");
		if (variant > 1)
			return 0;
		if (variant) {
			snprintf(tmp, sizeof(tmp), diff ? "?from=%s@v1&to=v2" : "?a=%s@v1&b=v2", other->enc);
			q->also = other;
		} else {
			snprintf(tmp, sizeof(tmp), diff ? "?from=v1&to=v2" : "?a=v1&b=v2");
		}
		add_query(q, tmp);
	} else if (IS("/v1/models/{m}/branches") && post) {
		if (variant)
			return 0;
		set_body(q, "{\"name\":\"b-%d\",\"from\":\"v1\"}", seq);
	} else if (IS("/v1/models/{m}/branches/{name}")) {
		if (variant)
			return 0;
		snprintf(tmp, sizeof(tmp), "{\"name\":\"d-%d\"}", seq);
		admin_post(h, m, "/branches", tmp);
		q->ok = 200;
	} else if (IS("/v1/models/{m}/tags") && post) {
		if (variant)
			return 0;
		set_body(q, "{\"name\":\"t-%d\",\"ref\":\"v1\"}", seq);
	} else if (IS("/v1/models/{m}/upload")) {
		if (variant)
			return 0;
		snprintf(tmp, sizeof(tmp), "?path=up-%d.txt", seq);
		add_query(q, tmp);
		set_body(q, "upload %d\n", seq);
	} else if (IS("/v1/models/{m}/deployments/{env}") && post) {
		if (variant)
			return 0;
		set_body(q, "{\"ref\":\"v1\"}");
	} else if (IS("/v1/models/{m}/deployments/{env}/undeploy")) {
		if (variant)
			return 0;
		/* v2 alongside v1 first: the last version cannot go. */
		snprintf(tmp, sizeof(tmp), "{\"ref\":\"v2\",\"weight\":%d}", 1 + seq % 1000);
		admin_post(h, m, "/deployments/prod", tmp);
		set_body(q, "{\"ref\":\"v2\"}");
	} else if (IS("/v1/models/{m}/deployments/{env}/rollback")) {
		if (variant)
			return 0;
		admin_post(h, m, "/deployments/prod", "{\"ref\":\"v2\"}");
		set_body(q, "{}");
	} else if (IS("/v1/models/{m}/deployments/{env}/predict") || IS("/predict/{m}/{env}")) {
		if (variant)
			return 0;
		set_body(q, "{\"inputs\":[1]}");
		q->ok = 502; /* no version has an endpoint: no_endpoint, past every check */
	} else if (IS("/v1/chunks/missing") || IS("/v1/chunks")) {
		size_t i;
		char *p = tmp;
		if (variant)
			return 0;
		p += sprintf(p, "{\"ids\":[");
		for (i = 0; i < m->nchunks && i < 8; i++)
			p += sprintf(p, "%s\"%s\"", i ? "," : "", m->chunks[i]);
		sprintf(p, "]}");
		set_body(q, "%s", tmp);
		q->ok = 200;
	} else if (IS("/v1/packs/{id}")) {
		if (variant)
			return 0;
		if (!(q->body = malloc(m->pack_len)))
			bail("out of memory");
		memcpy(q->body, m->pack, m->pack_len);
		q->len = m->pack_len;
	} else if (IS("/v1/objects/{kind}/{id}")) {
		if (variant > 1)
			return 0;
	} else if (!strncmp(pat, "/v1/models/{m}", 14) && !post && rt->scope <= SRV_SCOPE_READ) {
		/* The other reads of one model: one plain request. */
		if (variant)
			return 0;
	} else {
		if (variant)
			return 0;
		q->ok = 0;
		if (post)
			set_body(q, "{}");
	}
#undef IS
	if (!strcmp(method, "HEAD"))
		q->want[0] = '\0';
	return 1;
}

/* ---- the walk ---- */

static int covers(const caller *c, const char *name)
{
	return c->glob && fnmatch(c->glob, name, 0) == 0;
}

/* The status @c must get (*any: any status but a refusal will do). */
static long expect(const srv_route *rt, const req *q, const caller *c, const model *m, int *any)
{
	*any = 0;
	if (rt->scope > SRV_SCOPE_NONE) {
		if (!c->glob)
			return 401;
		if (c->scope < rt->scope)
			return 403;
	}
	if (rt->authz == SRV_AUTHZ_MODEL &&
	    (!covers(c, m->name) || (q->also && !covers(c, q->also->name))))
		return 403;
	if (rt->authz == SRV_AUTHZ_NAMED && !covers(c, q->named))
		return 403;
	if (rt->authz == SRV_AUTHZ_CONTENT && !covers(c, m->name))
		return 404;
	*any = q->ok == 0;
	return q->ok;
}

/* A secret of a model @c does not cover in the reply and not in the request, or NULL. */
static const char *leak(const reply *r, const req *q, const caller *c)
{
	size_t k, i;

	for (k = 0; k < 2; k++) {
		const model *m = &models[k];
		if (covers(c, m->name))
			continue;
		for (i = 0; i < m->nmarkers; i++) {
			const char *s = m->markers[i];
			size_t n = strlen(s);
			/* v1s are each other's neighbours: a stub of one is on the other's lineage. */
			if (i == 2 && covers(c, models[1 - k].name))
				continue;
			if (strstr(q->text, s) || (q->body && memmem(q->body, q->len, s, n)))
				continue;
			if ((r->body.data && memmem(r->body.data, r->body.len, s, n)) ||
			    (r->head.data && memmem(r->head.data, r->head.len, s, n)))
				return s;
		}
	}
	return NULL;
}

/* A route's declaration: a class, a scope it fits and, for MODEL, the model capture. */
static int declared(const srv_route *rt)
{
	if (rt->authz <= SRV_AUTHZ_UNDECLARED || rt->authz > SRV_AUTHZ_UPLOAD)
		return 0;
	if (rt->authz == SRV_AUTHZ_MODEL && !strstr(rt->pattern, "/{m}"))
		return 0;
	if (rt->authz == SRV_AUTHZ_MODEL && strchr(rt->pattern, '{') != strstr(rt->pattern, "{m}"))
		return 0;
	/* Only what shows nothing of a model, or filters, goes without a token. */
	if (rt->scope == SRV_SCOPE_NONE)
		return rt->authz == SRV_AUTHZ_PUBLIC || rt->authz == SRV_AUTHZ_FILTERED;
	return rt->authz != SRV_AUTHZ_PUBLIC;
}

static const struct {
	unsigned bit;
	const char *name;
} methods[] = {
	{ EVHTTP_REQ_GET, "GET" },   { EVHTTP_REQ_HEAD, "HEAD" },     { EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_PUT, "PUT" },   { EVHTTP_REQ_DELETE, "DELETE" }, { EVHTTP_REQ_PATCH, "PATCH" },
	{ EVHTTP_REQ_OPTIONS, "OPTIONS" },
};

static size_t cases;

/* Whether the reply to a case is right: its status, no leak, and what it should show. */
static int judge(const reply *r, const req *q, const caller *c, const model *m, long want, int any,
		 const char **leaked)
{
	*leaked = leak(r, q, c);
	if (*leaked)
		return 0;
	if (any)
		return r->status > 0 && r->status != 401 && r->status != 403 && r->status != 404;
	if (r->status != want)
		return 0;
	return !q->want[0] || !covers(c, m->name) || (r->body.data && strstr(r->body.data, q->want));
}

/* Every caller, about each model, for one variant: one TAP line. 0 when no such variant. */
static int walk_one(CURL *h, const srv_route *rt, const char *method, int variant, int *seq)
{
	size_t k, ci, bad = 0, ran = 0;
	req q;

	for (k = 0; k < 2; k++)
		for (ci = 0; ci < NCALLERS; ci++) {
			const caller *c = &callers[ci];
			const char *l;
			reply r;
			long want;
			int any;
			if (!build(&q, h, rt, method, variant, &models[k], &models[1 - k], ++*seq))
				break; /* no such variant for this model */
			ran++;
			cases++;
			want = expect(rt, &q, c, &models[k], &any);
			if (http(h, &r, c, method, q.url, q.body, q.len) < 0)
				r.status = -1;
			if (!judge(&r, &q, c, &models[k], want, any, &l) && bad++ < 4)
				diag("%s %s as %s: got %ld, want %ld%s%s%s: %.200s", method, q.text,
				     c->label, r.status, want, any ? " (or anything but a refusal)" : "",
				     l ? "; LEAKS " : "", l ? l : "",
				     r.body.data && r.body.data[0] == '{' ? r.body.data : "");
			reply_free(&r);
			free(q.body);
		}
	if (ran)
		ok(bad == 0, "%s %s (variant %d): %zu cases", method, rt->pattern, variant, ran);
	return ran > 0;
}

/* ---- what the walk does not show by itself ---- */

/* @text with every @id in it replaced by "ID". */
static char *without(const char *text, const char *id)
{
	char *out = strdup(text ? text : ""), *p;

	if (!out)
		bail("out of memory");
	while ((p = strstr(out, id)))
		memmove(p + 2, p + strlen(id), strlen(p + strlen(id)) + 1), memcpy(p, "ID", 2);
	return out;
}

/* An object of another model answers exactly as one that does not exist. */
static void same_as_missing(CURL *h, const caller *c)
{
	const model *a = &models[0];
	char fake[65], path[2][256], body[2][200];
	const char *real[3] = { a->v2, a->only_file, a->chunks[0] };
	int k, j;

	for (k = 0; k < 3; k++) {
		reply r[2];
		char *t[2];
		snprintf(fake, sizeof(fake), "%.63s%c", real[k], real[k][63] == '0' ? '1' : '0');
		for (j = 0; j < 2; j++) {
			const char *id = j ? fake : real[k];
			snprintf(path[j], sizeof(path[j]), "/v1/objects/%s/%s", k ? "files" : "manifests", id);
			snprintf(body[j], sizeof(body[j]), "{\"ids\":[\"%s\"]}", id);
			if (k < 2 ? http(h, &r[j], c, "GET", path[j], NULL, 0)
				  : http(h, &r[j], c, "POST", "/v1/chunks", body[j], strlen(body[j])))
				bail("request failed");
			t[j] = without(r[j].body.data, id);
		}
		ok(r[0].status == 404 && r[1].status == 404 && !strcmp(t[0], t[1]),
		   "as %s, alpha's %s answers exactly as a missing one", c->label,
		   k == 0 ? "manifest" : k == 1 ? "chunk list" : "chunk");
		if (strcmp(t[0], t[1]))
			diag("alpha's: %ld %s", r[0].status, t[0]), diag("missing: %ld %s", r[1].status, t[1]);
		for (j = 0; j < 2; j++) {
			free(t[j]);
			reply_free(&r[j]);
		}
	}
}

static int version_count(CURL *h, const model *m)
{
	char path[256];
	cJSON *doc;
	int n;

	snprintf(path, sizeof(path), "/v1/models/%s/versions", m->enc);
	if (!(doc = get_json(h, admin, "GET", path, NULL, 200)))
		bail("GET %s", path);
	n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "versions"));
	cJSON_Delete(doc);
	return n;
}

/* A writer for team/ models only cannot build on alpha: 403 and nothing committed. */
static void no_parent_in_alpha(CURL *h, const caller *c)
{
	char path[256];
	int before = version_count(h, &models[1]);
	reply r;
	req q;

	memset(&q, 0, sizeof(q));
	commit_body(&q, &models[1], &models[0], 999999);
	snprintf(path, sizeof(path), "/v1/models/%s/versions", models[1].enc);
	if (http(h, &r, c, "POST", path, q.body, q.len) < 0)
		bail("POST %s", path);
	ok(r.status == 403 && r.body.data && strstr(r.body.data, "\"forbidden\""),
	   "as %s, a commit of team/y with a parent in alpha is 403 forbidden", c->label);
	is_int(version_count(h, &models[1]), before, "and nothing was committed");
	reply_free(&r);
	free(q.body);
}

int main(void)
{
	static const srv_route undeclared = { EVHTTP_REQ_GET, "/v1/new", NULL, SRV_SCOPE_READ, 0 };
	static const srv_route open_content = { EVHTTP_REQ_GET, "/v1/x/{id}", NULL, SRV_SCOPE_NONE,
						SRV_AUTHZ_CONTENT };
	const srv_route *routes;
	size_t nroutes, i, k, bad = 0;
	int seq = 0, variant, status = -1;
	CURL *h;
	reply r;

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
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(h = curl_easy_init()))
		bail("sodium_init / curl");

	routes = srv_routes(&nroutes);
	for (i = 0; i < nroutes; i++)
		if (!declared(&routes[i]) && bad++ < 8)
			diag("route %s declares no fitting authz class (%d)", routes[i].pattern,
			     routes[i].authz);
	ok(nroutes > 0 && bad == 0, "each of the %zu routes declares how it keeps to the token's "
	   "models", nroutes);
	ok(!declared(&undeclared) && !declared(&open_content),
	   "a route without a class, or reads by hash without a token, would fail that");

	make_store();
	start_server();
	learn(h);
	for (i = 0; i < nroutes; i++)
		for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			if (!(routes[i].methods & methods[k].bit))
				continue;
			for (variant = 0; variant < 8; variant++)
				if (!walk_one(h, &routes[i], methods[k].name, variant, &seq))
					break;
			ok(variant > 0, "%s %s was walked", methods[k].name, routes[i].pattern);
		}
	diag("%zu cases: %zu routes, each method and variant, %d callers, 2 models", cases, nroutes,
	     NCALLERS);

	same_as_missing(h, &callers[1]);      /* read, team/ models */
	same_as_missing(h, &callers[3]);      /* read 'nomatch-*' */
	no_parent_in_alpha(h, &callers[NGLOBS + 1]);  /* write, team/ models */
	{
		caller bogus = { .token = "mvms_0000000000000000_x", .label = "a bad token" };
		if (http(h, &r, &bogus, "GET", "/metrics", NULL, 0) < 0)
			bail("GET /metrics");
		is_int(r.status, 401, "/metrics with a bad token is 401 (no token: 200)");
		reply_free(&r);
	}

	curl_easy_cleanup(h);
	kill(server_pid, SIGTERM);
	waitpid(server_pid, &status, 0);
	server_pid = -1;
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server exits 0 (status %d)", status);
	is_int(cli(NULL, "verify", NULL), 0, "verify is clean after the walk");
	for (k = 0; k < 2; k++) {
		free(models[k].pack);
		for (i = 0; i < models[k].nmarkers; i++)
			free((char *)models[k].markers[i]);
	}
	curl_global_cleanup();
	cleanup();
	return done_testing();
}
