/* SPDX-License-Identifier: MIT */
/* mvms-store log and show: a model's history, and one version with its files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "log_fmt.h"

/* A version a scoped token may not see comes from the server as a stub with its id only. */
#define REDACTED "(redacted)"

static void print_version_text(const mvms_version_info *v)
{
	char tbuf[32], a[32];
	size_t i;

	if (!v->model) {
		printf("version  " REDACTED " %.12s\n", v->id);
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
	log_opts o = { NULL, 0, 0, 0, -1 };
	mvms_version_info **list = NULL;
	mvms_store *st = NULL;
	size_t n = 0, i;
	int c, error, rc;
	char *end;

	while ((c = cli_getopt(argc, argv, "log")) != -1) {
		if (c == 'b')
			o.branch = optarg;
		else if (c == 'n') {
			o.max = strtoll(optarg, &end, 10);
			if (*end || end == optarg || o.max < 0)
				return cli_usage_error("log", "-n wants a count (0 or more)");
		} else if (c == 'o')
			o.oneline = 1;
		else if (c == 'a')
			o.all = 1;
		else if (c == 'g')
			o.graph = 1;
		else if (c == 'h') {
			cli_print_usage(cli_find("log"));
			return EXIT_OK;
		} else
			return cli_bad_option("log", c);
	}
	if (argc - optind != 1)
		return cli_usage_error("log", "want one MODEL");
	if (o.all && o.branch)
		return cli_usage_error("log", "--all shows every branch: give it or -b, not both");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = log_collect(&list, &n, st, argv[optind], &o)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateArray();
		for (i = 0; i < n && (o.max < 0 || i < (size_t)o.max); i++)
			cJSON_AddItemToArray(doc, view_version(list[i]));
		cli_print_json(doc);
	} else if (log_print(stdout, list, n, argv[optind], &o) < 0) {
		rc = cli_error(EXIT_ERROR, "error", "log: out of memory");
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

	if ((rc = cli_plain_args(&argc, &argv, "show")) >= 0)
		return rc;
	if (argc != 2)
		return cli_usage_error("show", "want one MODEL@REF");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_version_resolve(&v, st, argv[1])) < 0 ||
	    (error = mvms_version_files(&files, &n, st, v)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = view_version(v);
		cJSON_AddItemToObject(doc, "file_list", view_file_list(files, n));
		if ((rc = cli_show_signatures(doc, st, v)) != 0) {
			cJSON_Delete(doc);
			goto done;
		}
		cli_print_json(doc);
	} else {
		print_version_text(v);
		if ((rc = cli_show_signatures(NULL, st, v)) != 0)
			goto done;
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
