/* SPDX-License-Identifier: MIT */
/*
 * The fixture of tests/test-authz.c (see authz-fixture.h). alpha@v1, alpha@v2, team/y@v1
 * (--parent alpha@v1) and team/y@v2 are small safetensors models (other seeds for each model,
 * so that each has chunks of its own) plus a notes file holding a secret string; each model
 * has a tag and a deployment to prod, and secrets in its messages, author and metadata.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sodium.h>
#include "tap.h"
#include "server.h"
#include "authz-fixture.h"

extern char **environ;

static char dir[] = "/tmp/mvms-test-authz-XXXXXX";
static const char *mvms_bin, *mkmodel_bin;
static char store[600], base_url[64];
static pid_t server_pid = -1;

static const char *const globs[NGLOBS] = { "*", "team/*", "alpha", "nomatch-*" };
static const char *const scope_names[] = { "", "read", "write", "admin" };

caller callers[NCALLERS];
const caller *admin;
model models[2] = {
	{ .name = "alpha", .enc = "alpha", .notes = "alpha-notes.txt",
	  .secret = "ALPHA-SECRET-BYTES-81d2" },
	{ .name = "team/y", .enc = "team%2Fy", .notes = "team-notes.txt",
	  .secret = "TEAMY-SECRET-BYTES-77c0" },
};

/* ---- plumbing ---- */

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

void fixture_cleanup(void)
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

void bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	fixture_cleanup();
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

void reply_free(reply *r)
{
	free(r->head.data);
	free(r->body.data);
	memset(r, 0, sizeof(*r));
}

int http(CURL *h, reply *out, const caller *c, const char *method, const char *path,
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

cJSON *get_json(CURL *h, const caller *c, const char *method, const char *path, const char *body,
		long want)
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
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", d[k], models[k / 2].notes) >=
		    sizeof(path))
			bail("path too long: %s", d[k]);
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

void fixture_setup(CURL *h)
{
	mvms_bin = getenv("MVMS");
	mkmodel_bin = getenv("MKMODEL");
	if (!mvms_bin || !mkmodel_bin) {
		printf("Bail out! MVMS and MKMODEL must be set (mvms-store and tests/mkmodel)\n");
		exit(1);
	}
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	make_store();
	start_server();
	learn(h);
}

int fixture_stop(int *status)
{
	size_t k, i;

	*status = -1;
	kill(server_pid, SIGTERM);
	waitpid(server_pid, status, 0);
	server_pid = -1;
	for (k = 0; k < 2; k++) {
		free(models[k].pack);
		for (i = 0; i < models[k].nmarkers; i++)
			free((char *)models[k].markers[i]);
		models[k].nmarkers = 0;
	}
	return cli(NULL, "verify", NULL);
}
