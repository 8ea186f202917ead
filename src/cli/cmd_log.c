/* SPDX-License-Identifier: MIT */
/* mvms-store log and show: a model's history, and one version with its files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

/* ---- reading the server's JSON back into the library's structs (for --remote) ---- */

static char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int64_t jtime(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!cJSON_IsString(v) || !strptime(v->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static mvms_version_info *version_from_json(const cJSON *o)
{
	mvms_version_info *v = calloc(1, sizeof(*v));
	const cJSON *arr, *it;
	char *id;
	size_t n;

	if (!v)
		return NULL;
	id = jstr(o, "id");
	snprintf(v->id, sizeof(v->id), "%s", id ? id : "");
	free(id);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "redacted")))
		return v; /* a version the token may not see: its id only (model NULL) */
	v->model = jstr(o, "model");
	v->number = (int64_t)jnum(o, "version");
	v->message = jstr(o, "message");
	v->author = jstr(o, "author");
	v->created_at = jtime(o, "created_at");
	v->file_count = (uint64_t)jnum(o, "files");
	v->logical_bytes = (uint64_t)jnum(o, "logical_bytes");
	arr = cJSON_GetObjectItemCaseSensitive(o, "deleted");
	if (cJSON_IsObject(arr)) {
		v->deleted_at = jtime(arr, "at");
		v->deleted_by = jstr(arr, "by");
	}
	arr = cJSON_GetObjectItemCaseSensitive(o, "parents");
	n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
	v->parents = calloc(n + 1, sizeof(*v->parents));
	if (v->parents)
		cJSON_ArrayForEach(it, arr) {
			char *pid = jstr(it, "id");
			v->parents[v->parent_count].model =
				cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "redacted")) ? NULL
											: jstr(it, "model");
			v->parents[v->parent_count].number = (int64_t)jnum(it, "version");
			snprintf(v->parents[v->parent_count].id, sizeof(v->parents[0].id), "%s",
				 pid ? pid : "");
			free(pid);
			v->parent_count++;
		}
	arr = cJSON_GetObjectItemCaseSensitive(o, "meta");
	n = cJSON_IsObject(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
	v->meta_keys = calloc(n + 1, sizeof(char *));
	v->meta_values = calloc(n + 1, sizeof(char *));
	if (v->meta_keys && v->meta_values)
		cJSON_ArrayForEach(it, arr) {
			v->meta_keys[v->meta_count] = strdup(it->string);
			v->meta_values[v->meta_count] = strdup(cJSON_IsString(it) ? it->valuestring : "");
			v->meta_count++;
		}
	arr = cJSON_GetObjectItemCaseSensitive(o, "refs");
	n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
	v->refs = calloc(n + 1, sizeof(char *));
	if (v->refs)
		cJSON_ArrayForEach(it, arr)
			v->refs[v->ref_count++] = strdup(cJSON_IsString(it) ? it->valuestring : "");
	return v;
}

/* "/v1/models/<escaped model><suffix>" */
static char *model_path(const char *model, const char *suffix)
{
	char *em = NULL, *p = NULL;

	if (mvms_remote_escape(&em, model) < 0)
		return NULL;
	if (asprintf(&p, "/v1/models/%s%s", em, suffix) < 0)
		p = NULL;
	free(em);
	return p;
}

/* GETs model_path(@model, @suffix) from the server; prints the error and returns the exit code
 * on failure. */
static int remote_json(cJSON **out, const char *model, const char *suffix)
{
	mvms_remote *rem = NULL;
	char *path = model_path(model, suffix);
	int rc;

	*out = NULL;
	if (!path)
		return EXIT_ERROR;
	if ((rc = cli_open_remote(&rem)) == 0)
		rc = cli_remote_get_json(out, rem, path);
	mvms_remote_free(rem);
	free(path);
	return rc;
}

/* A version a scoped token may not see comes from the server as a stub with its id only. */
#define REDACTED "(redacted)"
#define REDACTED_ONELINE "(redacted)    "

static void print_version_text(const mvms_version_info *v, int oneline)
{
	char tbuf[32], a[32];
	size_t i;

	if (!v->model) {
		printf("%s %.12s\n", oneline ? REDACTED_ONELINE : "version  " REDACTED, v->id);
		return;
	}
	if (oneline) {
		printf("%s@v%-4lld %.12s  %s  %-12s %s", v->model, (long long)v->number, v->id,
		       view_time(tbuf, sizeof(tbuf), v->created_at), v->author, v->message);
		for (i = 0; i < v->ref_count; i++)
			printf("%s%s", i ? ", " : "  (", v->refs[i]);
		printf("%s%s\n", v->ref_count ? ")" : "", v->deleted_at ? "  [deleted]" : "");
		return;
	}
	printf("version  %s@v%lld\nid       %s\n", v->model, (long long)v->number, v->id);
	for (i = 0; i < v->parent_count; i++)
		if (v->parents[i].model)
			printf("parent   %s@v%lld %.12s\n", v->parents[i].model,
			       (long long)v->parents[i].number, v->parents[i].id);
		else
			printf("parent   " REDACTED " %.12s\n", v->parents[i].id);
	printf("author   %s\ndate     %s\nfiles    %llu (%s)\n", v->author,
	       view_time(tbuf, sizeof(tbuf), v->created_at), (unsigned long long)v->file_count,
	       cli_human(a, sizeof(a), v->logical_bytes));
	if (v->deleted_at)
		printf("deleted  %s by %s (its files are gone)\n",
		       view_time(tbuf, sizeof(tbuf), v->deleted_at), v->deleted_by ? v->deleted_by : "");
	for (i = 0; i < v->ref_count; i++)
		printf("ref      %s\n", v->refs[i]);
	for (i = 0; i < v->meta_count; i++)
		printf("meta     %s=%s\n", v->meta_keys[i], v->meta_values[i]);
	if (*v->message)
		printf("\n    %s\n", v->message);
}

int cmd_log(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "branch", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *branch = NULL;
	mvms_version_info **list = NULL;
	mvms_store *st = NULL;
	size_t n = 0, i;
	int c, error, rc;

	while ((c = getopt_long(argc, argv, "b:h", longopts, NULL)) != -1) {
		if (c == 'b')
			branch = optarg;
		else if (c == 'h') {
			cli_print_usage(cli_find("log"));
			return EXIT_OK;
		} else
			return cli_usage_error("log", "bad option");
	}
	if (argc - optind != 1)
		return cli_usage_error("log", "want one MODEL");
	if (cli.remote) {
		cJSON *doc = NULL, *it;
		char *eb = NULL, *suffix = NULL;
		if (branch && (mvms_remote_escape(&eb, branch) < 0 ||
			       asprintf(&suffix, "/versions?branch=%s", eb) < 0)) {
			/* Not the unfiltered list in its place: that would be another answer. */
			free(eb);
			fprintf(stderr, "mvms-store: out of memory\n");
			return EXIT_ERROR;
		}
		rc = remote_json(&doc, argv[optind], suffix ? suffix : "/versions");
		free(eb);
		free(suffix);
		if (rc)
			return rc;
		if (cli.json) {
			cli_print_json(cJSON_DetachItemFromObjectCaseSensitive(doc, "versions"));
		} else {
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "versions")) {
				mvms_version_info *v = version_from_json(it);
				if (v)
					print_version_text(v, 1);
				mvms_version_info_free(v);
			}
		}
		cJSON_Delete(doc);
		return EXIT_OK;
	}
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_version_log(&list, &n, st, argv[optind], branch)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(doc, view_version(list[i]));
		cli_print_json(doc);
	} else {
		for (i = 0; i < n; i++)
			print_version_text(list[i], 1);
	}
done:
	mvms_version_list_free(list, n);
	mvms_store_free(st);
	return rc;
}

int cmd_show(int argc, char **argv)
{
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	mvms_store *st = NULL;
	size_t n = 0, i;
	int error, rc;
	char a[32];

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		cli_print_usage(cli_find("show"));
		return EXIT_OK;
	}
	if (argc != 2)
		return cli_usage_error("show", "want one MODEL@REF");
	if (cli.remote) {
		const char *at = strchr(argv[1], '@');
		char *model = strndup(argv[1], at ? (size_t)(at - argv[1]) : strlen(argv[1]));
		char *er = NULL, *suffix = NULL;
		cJSON *doc = NULL, *it;
		if (model && mvms_remote_escape(&er, at ? at + 1 : "latest") == 0 &&
		    asprintf(&suffix, "/versions/%s", er) >= 0)
			rc = remote_json(&doc, model, suffix);
		else {
			rc = EXIT_ERROR;
			suffix = NULL; /* asprintf leaves it undefined on failure */
		}
		free(model);
		free(er);
		free(suffix);
		if (rc)
			return rc;
		if (cli.json) {
			cli_print_json(doc);
			return EXIT_OK;
		}
		v = version_from_json(doc);
		if (v)
			print_version_text(v, 0);
		printf("\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "file_list")) {
			char *p = jstr(it, "path"), *fid = jstr(it, "id"), *fmt = jstr(it, "format");
			printf("  %04o %10s  %.12s  %s", (unsigned)jnum(it, "mode"),
			       cli_human(a, sizeof(a), (uint64_t)jnum(it, "size")), fid, p);
			if (fmt && *fmt)
				printf("  [%s, %llu tensors]", fmt, (unsigned long long)jnum(it, "tensors"));
			printf("\n");
			free(p);
			free(fid);
			free(fmt);
		}
		mvms_version_info_free(v);
		cJSON_Delete(doc);
		return EXIT_OK;
	}
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_version_resolve(&v, st, argv[1])) < 0 ||
	    (error = mvms_version_files(&files, &n, st, v)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = view_version(v), *arr = cJSON_AddArrayToObject(doc, "file_list");
		for (i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "path", files[i].path);
			cJSON_AddNumberToObject(o, "size", (double)files[i].size);
			cJSON_AddStringToObject(o, "id", files[i].id);
			cJSON_AddNumberToObject(o, "mode", files[i].mode);
			cJSON_AddStringToObject(o, "format", files[i].format);
			cJSON_AddNumberToObject(o, "chunks", (double)files[i].chunks);
			cJSON_AddNumberToObject(o, "tensors", (double)files[i].tensor_count);
			cJSON_AddItemToArray(arr, o);
		}
		cli_print_json(doc);
	} else {
		print_version_text(v, 0);
		printf("\n");
		for (i = 0; i < n; i++) {
			printf("  %04o %10s  %.12s  %s", files[i].mode, cli_human(a, sizeof(a), files[i].size),
			       files[i].id, files[i].path);
			if (*files[i].format)
				printf("  [%s, %llu tensors]", files[i].format,
				       (unsigned long long)files[i].tensor_count);
			printf("\n");
		}
	}
done:
	mvms_file_list_free(files, n);
	mvms_version_info_free(v);
	mvms_store_free(st);
	return rc;
}
