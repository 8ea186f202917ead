/* SPDX-License-Identifier: MIT */
/* mvms-store tag, tags, branch, branches: naming versions. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static int print_refs(mvms_ref_info *list, size_t n)
{
	char tbuf[32];
	size_t i;

	if (cli.json) {
		cJSON *doc = cJSON_CreateArray();
		for (i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", list[i].name);
			cJSON_AddNumberToObject(o, "version", (double)list[i].number);
			cJSON_AddStringToObject(o, "id", list[i].id);
			cJSON_AddStringToObject(o, "updated_at",
						view_time(tbuf, sizeof(tbuf), list[i].updated_at));
			cJSON_AddItemToArray(doc, o);
		}
		cli_print_json(doc);
	} else {
		for (i = 0; i < n; i++)
			printf("%-24s v%-5lld %.12s  %s\n", list[i].name, (long long)list[i].number,
			       list[i].id, view_time(tbuf, sizeof(tbuf), list[i].updated_at));
	}
	return EXIT_OK;
}

int cmd_tag(int argc, char **argv)
{
	mvms_store *st = NULL;
	int error, rc;

	if ((rc = cli_plain_args(&argc, &argv, "tag")) >= 0)
		return rc;
	if (argc != 3)
		return cli_usage_error("tag", "want MODEL@REF and NAME");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_tag_create(st, argv[1], argv[2])) < 0)
		rc = cli_fail(error);
	else if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "tag", argv[2]);
		cJSON_AddStringToObject(doc, "target", argv[1]);
		cli_print_json(doc);
	} else if (!cli.quiet)
		printf("tagged %s as %s\n", argv[1], argv[2]);
	mvms_store_free(st);
	return rc;
}

static int list_cmd(int argc, char **argv, const char *cmd,
		    int (*fn)(mvms_ref_info **, size_t *, mvms_store *, const char *))
{
	mvms_store *st = NULL;
	mvms_ref_info *list = NULL;
	size_t n = 0;
	int error, rc;

	if ((rc = cli_plain_args(&argc, &argv, cmd)) >= 0)
		return rc;
	if (argc != 2)
		return cli_usage_error(cmd, "want one MODEL");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = fn(&list, &n, st, argv[1])) < 0)
		rc = cli_fail(error);
	else
		rc = print_refs(list, n);
	mvms_ref_list_free(list, n);
	mvms_store_free(st);
	return rc;
}

int cmd_tags(int argc, char **argv)
{
	return list_cmd(argc, argv, "tags", mvms_tag_list);
}

int cmd_branches(int argc, char **argv)
{
	return list_cmd(argc, argv, "branches", mvms_branch_list);
}

int cmd_branch(int argc, char **argv)
{
	mvms_store *st = NULL;
	int c, del = 0, error, rc, nargs;

	while ((c = cli_getopt(argc, argv, "branch")) != -1) {
		if (c == 'd')
			del = 1;
		else if (c == 'h') {
			cli_print_usage(cli_find("branch"));
			return EXIT_OK;
		} else
			return cli_bad_option("branch", c);
	}
	nargs = argc - optind;
	if (del ? nargs != 2 : (nargs < 2 || nargs > 3))
		return cli_usage_error("branch", "want MODEL NAME [MODEL@REF]");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if (del)
		error = mvms_branch_delete(st, argv[optind], argv[optind + 1]);
	else
		error = mvms_branch_create(st, argv[optind], argv[optind + 1],
					   nargs == 3 ? argv[optind + 2] : NULL);
	if (error < 0)
		rc = cli_fail(error);
	else if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "model", argv[optind]);
		cJSON_AddStringToObject(doc, "branch", argv[optind + 1]);
		cJSON_AddBoolToObject(doc, "deleted", del);
		cli_print_json(doc);
	} else if (!cli.quiet)
		printf("%s branch %s of %s\n", del ? "deleted" : "created", argv[optind + 1],
		       argv[optind]);
	mvms_store_free(st);
	return rc;
}
