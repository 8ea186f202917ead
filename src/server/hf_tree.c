/* SPDX-License-Identifier: MIT */
/*
 * GET /api/models/{m}/tree/{rev}[/{path}][?recursive=true]: the Hub's listing of a
 * directory of a revision (huggingface_hub's list_repo_tree, @huggingface/hub's
 * listFiles): its files ({"type":"file","oid","size","path"}) and directories
 * ({"type":"directory","oid","size":0,"path"}), or everything under it with recursive.
 * A file's oid is the store's file id; a directory's is a BLAKE2b-256 of the paths and
 * file ids under it, so that it changes exactly when something under it does (the Hub's are
 * git object ids; clients only compare them). One page: no Link header. No "lfs" (the Hub's
 * sha256 of the file, which the store does not keep) and no lastCommit (expand=true).
 * Also POST /api/models/{m}/paths-info/{rev}: the same entries for a list of paths.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sodium.h>
#include <event2/keyvalq_struct.h>
#include "hf.h"

/* A directory's oid: the hash of "relative path NUL file id LF" of each file under @dir
 * (@files[from, to), sorted by path, all under it). */
static void dir_oid(char hex[MVMS_VERSION_ID_HEXSZ + 1], const mvms_file_info *files,
		    size_t from, size_t to, size_t dirlen)
{
	crypto_generichash_state h;
	unsigned char out[32];
	size_t i;

	crypto_generichash_init(&h, NULL, 0, sizeof(out));
	for (i = from; i < to; i++) {
		const char *rel = files[i].path + dirlen + 1;
		crypto_generichash_update(&h, (const unsigned char *)rel, strlen(rel) + 1);
		crypto_generichash_update(&h, (const unsigned char *)files[i].id, strlen(files[i].id));
		crypto_generichash_update(&h, (const unsigned char *)"\n", 1);
	}
	crypto_generichash_final(&h, out, sizeof(out));
	sodium_bin2hex(hex, MVMS_VERSION_ID_HEXSZ + 1, out, sizeof(out));
}

/* 1 when @path is under directory @dir (of @dirlen bytes; "" is the root). */
static int under(const char *path, const char *dir, size_t dirlen)
{
	return dirlen == 0 || (strncmp(path, dir, dirlen) == 0 && path[dirlen] == '/');
}

static void add_file(cJSON *arr, const mvms_file_info *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", "file");
	cJSON_AddStringToObject(o, "oid", f->id);
	cJSON_AddNumberToObject(o, "size", (double)f->size);
	cJSON_AddStringToObject(o, "path", f->path);
	cJSON_AddItemToArray(arr, o);
}

/* Adds directory files[i].path[0, len) whose files start at @i. */
static void add_dir(cJSON *arr, const mvms_file_info *files, size_t n, size_t i, size_t len)
{
	char oid[MVMS_VERSION_ID_HEXSZ + 1];
	cJSON *o = cJSON_CreateObject();
	char *path = strndup(files[i].path, len);
	size_t end = i;

	/* Paths sorted: everything under the directory comes in one run. */
	while (end < n && path && under(files[end].path, path, len))
		end++;
	dir_oid(oid, files, i, end, len);
	cJSON_AddStringToObject(o, "type", "directory");
	cJSON_AddStringToObject(o, "oid", oid);
	cJSON_AddNumberToObject(o, "size", 0);
	cJSON_AddStringToObject(o, "path", path ? path : "");
	cJSON_AddItemToArray(arr, o);
	free(path);
}

/*
 * The entries under @dir: each file, and each directory once before its files (all of
 * them with @recursive, else only the children of @dir).
 */
static cJSON *tree_json(const mvms_file_info *files, size_t n, const char *dir, int recursive)
{
	cJSON *arr = cJSON_CreateArray();
	size_t dirlen = strlen(dir), i;
	const char *prev = NULL;

	for (i = 0; i < n; i++) {
		const char *p = files[i].path, *s;
		if (!under(p, dir, dirlen))
			continue;
		/* Each directory between @dir and the file that the previous file was not in. */
		for (s = strchr(p + (dirlen ? dirlen + 1 : 0), '/'); s; s = strchr(s + 1, '/')) {
			size_t len = (size_t)(s - p);
			if (!prev || strncmp(prev, p, len + 1) != 0)
				add_dir(arr, files, n, i, len);
			if (!recursive)
				break;
		}
		if (recursive || !strchr(p + (dirlen ? dirlen + 1 : 0), '/'))
			add_file(arr, &files[i]);
		prev = p;
	}
	return arr;
}

/* GET /api/models/{m}/tree/{rev} and /api/models/{m}/tree/{rev}/{path} */
int srv_hf_tree(srv_req *r)
{
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	char *dir = NULL;
	size_t n = 0, i, len;
	cJSON *arr;
	int recursive, error = 0;

	if ((recursive = hf_bool_query(r, "recursive")) < 0 || hf_bool_query(r, "expand") < 0)
		return 0;
	if (hf_open(&v, r, r->caps[1]) < 0)
		return 0;
	if ((error = mvms_version_files(&files, &n, r->st, v)) < 0)
		goto done;
	/* "a/b/" is "a/b"; "" or "/" the root. */
	if (!(dir = strdup(r->ncaps > 2 ? r->caps[2] : ""))) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (len = strlen(dir); len > 0 && dir[len - 1] == '/'; len--)
		dir[len - 1] = '\0';
	/* A file's path lists that file alone, as `ls PATH` does. */
	for (i = 0; *dir && i < n && strcmp(files[i].path, dir) != 0; i++)
		;
	if (*dir && i < n) {
		arr = cJSON_CreateArray();
		add_file(arr, &files[i]);
	} else {
		arr = tree_json(files, n, dir, recursive);
		if (*dir && cJSON_GetArraySize(arr) == 0) {
			cJSON_Delete(arr);
			hf_error(r, 404, "EntryNotFound", "%s does not exist on \"%s\"", dir,
				 r->caps[1]);
			goto done;
		}
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Repo-Commit", v->id);
	srv_reply_json(r, 200, arr);
done:
	free(dir);
	mvms_file_list_free(files, n);
	mvms_version_info_free(v);
	return error;
}

/* Appends the entry of @path (a file, or a directory with files under it) to @arr; nothing
 * when the version has no such path. */
static void add_path(cJSON *arr, const mvms_file_info *files, size_t n, const char *path)
{
	size_t len = strlen(path), i;

	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return;
	for (i = 0; i < n; i++) {
		if (strlen(files[i].path) == len && !strncmp(files[i].path, path, len)) {
			add_file(arr, &files[i]);
			return;
		}
		if (!strncmp(files[i].path, path, len) && files[i].path[len] == '/') {
			add_dir(arr, files, n, i, len);
			return;
		}
	}
}

/* The "paths" of a paths-info body: JSON {"paths": [...], "expand": ...} as the JS client
 * sends it, or a form (paths=a&paths=b&expand=True) as huggingface_hub does. The strings
 * are copied into *out (NULL-terminated, free each and the array). 0, or -1 after replying. */
#define MAX_PATHS 10000
static int body_paths(char ***out, srv_req *r)
{
	const char *type = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	const unsigned char *data;
	char **list = calloc(MAX_PATHS + 1, sizeof(*list));
	size_t len, n = 0;
	int rc = 0;

	*out = NULL;
	if (!list)
		return srv_reply_error(r, 500, "error", "out of memory") - 1;
	if (type && !strncmp(type, "application/json", 16)) {
		cJSON *doc = srv_body_json(r), *paths, *it;
		if (!doc) {
			free(list);
			return -1;
		}
		paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
		if (!cJSON_IsArray(paths)) {
			rc = hf_error(r, 400, NULL, "the body wants \"paths\", a list of strings") - 1;
			paths = NULL;
		}
		cJSON_ArrayForEach(it, paths) {
			if (!cJSON_IsString(it) || n == MAX_PATHS) {
				rc = hf_error(r, 400, NULL, "\"paths\" is a list of at most %d strings",
					      MAX_PATHS) - 1;
				break;
			}
			if (!(list[n] = strdup(it->valuestring))) {
				rc = srv_reply_error(r, 500, "error", "out of memory") - 1;
				break;
			}
			n++;
		}
		cJSON_Delete(doc);
	} else {
		struct evkeyvalq q;
		struct evkeyval *kv;
		char *text;
		srv_body(&data, &len, r);
		TAILQ_INIT(&q);
		if (!(text = strndup((const char *)data, len)) || memchr(data, '\0', len) ||
		    strstr(text, "%00") || evhttp_parse_query_str(text, &q) < 0)
			rc = hf_error(r, 400, NULL, "the body is not a form (paths=...&paths=...)") - 1;
		TAILQ_FOREACH(kv, &q, next) {
			if (rc || strcmp(kv->key, "paths") != 0)
				continue;
			if (n == MAX_PATHS) {
				rc = hf_error(r, 400, NULL, "at most %d paths", MAX_PATHS) - 1;
				break;
			}
			if (!(list[n] = strdup(kv->value))) {
				rc = srv_reply_error(r, 500, "error", "out of memory") - 1;
				break;
			}
			n++;
		}
		evhttp_clear_headers(&q);
		free(text);
	}
	if (rc < 0) {
		for (n = 0; list[n]; n++)
			free(list[n]);
		free(list);
		return rc;
	}
	*out = list;
	return 0;
}

/* POST /api/models/{m}/paths-info/{rev}: the entries of the asked paths that exist, as in a
 * tree listing (a read: the body only names paths). */
int srv_hf_paths_info(srv_req *r)
{
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	char **paths = NULL;
	size_t n = 0, i;
	cJSON *arr;
	int error = 0;

	if (hf_open(&v, r, r->caps[1]) < 0)
		return 0;
	if (body_paths(&paths, r) < 0)
		goto done;
	if ((error = mvms_version_files(&files, &n, r->st, v)) < 0)
		goto done;
	arr = cJSON_CreateArray();
	for (i = 0; paths[i]; i++)
		add_path(arr, files, n, paths[i]);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Repo-Commit", v->id);
	srv_reply_json(r, 200, arr);
done:
	for (i = 0; paths && paths[i]; i++)
		free(paths[i]);
	free(paths);
	mvms_file_list_free(files, n);
	mvms_version_info_free(v);
	return error;
}
