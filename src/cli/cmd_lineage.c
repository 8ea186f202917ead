/* SPDX-License-Identifier: MIT */
/*
 * mvms-store lineage and merge-base: where a version came from and what came of it, in
 * text, JSON, Graphviz DOT or Mermaid; and the lowest common ancestors of two versions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cmd_lineage(int argc, char **argv)
{
	int direction = MVMS_LINEAGE_ANCESTORS, depth = -1, c, error, rc;
	const char *format = cli.json ? "json" : "text";
	mvms_lineage *l = NULL;
	mvms_store *st = NULL;
	char *end;
	long v;

	while ((c = cli_getopt(argc, argv, "lineage")) != -1) {
		switch (c) {
		case 'a': direction = MVMS_LINEAGE_ANCESTORS; break;
		case 'd': direction = MVMS_LINEAGE_DESCENDANTS; break;
		case 'B': direction = MVMS_LINEAGE_BOTH; break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 1000000000)
				return cli_usage_error("lineage", "--depth wants a number >= 0");
			depth = (int)v;
			break;
		case 'f':
			format = optarg;
			if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "dot") &&
			    strcmp(format, "mermaid"))
				return cli_usage_error("lineage", "--format is text, json, dot or mermaid");
			break;
		case 'h':
			cli_print_usage(cli_find("lineage"));
			return EXIT_OK;
		default:
			return cli_bad_option("lineage", c);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("lineage", "want one MODEL@REF");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_lineage_get(&l, st, argv[optind], direction, depth)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (strcmp(format, "json") == 0)
		cli_print_json(view_lineage(l));
	else if (strcmp(format, "dot") == 0)
		view_lineage_dot(stdout, l);
	else if (strcmp(format, "mermaid") == 0)
		view_lineage_mermaid(stdout, l);
	else
		view_lineage_text(stdout, l);
done:
	mvms_lineage_free(l);
	mvms_store_free(st);
	return rc;
}

int cmd_merge_base(int argc, char **argv)
{
	mvms_version_info **list = NULL;
	mvms_store *st = NULL;
	size_t n = 0, i;
	int error, rc;

	if ((rc = cli_plain_args(&argc, &argv, "merge-base")) >= 0)
		return rc;
	if (argc != 3)
		return cli_usage_error("merge-base", "want MODEL@A and MODEL@B");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_merge_base(&list, &n, st, argv[1], argv[2])) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (n == 0) {
		/* A failure: with --json the error document, not an empty list beside it. */
		rc = cli_error(EXIT_NOTFOUND, "not_found", "%s and %s share no history", argv[1],
			       argv[2]);
	} else if (cli.json) {
		cJSON *doc = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(doc, view_version(list[i]));
		cli_print_json(doc);
	} else {
		for (i = 0; i < n; i++)
			printf("%s@v%lld %s\n", list[i]->model, (long long)list[i]->number, list[i]->id);
	}
done:
	mvms_version_list_free(list, n);
	mvms_store_free(st);
	return rc;
}
