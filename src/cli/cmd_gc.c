/* SPDX-License-Identifier: MIT */
/* mvms-store delete and gc: removing versions nothing reaches, then what nothing uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cmd_delete(int argc, char **argv)
{
	mvms_store *st = NULL;
	int error, rc;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		cli_print_usage(cli_find("delete"));
		return EXIT_OK;
	}
	if (argc != 2)
		return cli_usage_error("delete", "want one MODEL@REF");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_version_delete(st, argv[1])) < 0)
		rc = cli_fail(error);
	else if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "deleted", argv[1]);
		cli_print_json(doc);
	} else if (!cli.quiet)
		printf("deleted %s (run 'mvms-store gc' to free its space)\n", argv[1]);
	mvms_store_free(st);
	return rc;
}

int cmd_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "grace", required_argument, NULL, 'g' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	mvms_gc_result r;
	mvms_store *st = NULL;
	int64_t grace = 3600;
	int c, dry = 0, error, rc;
	char a[32], *end;

	while ((c = getopt_long(argc, argv, "nh", longopts, NULL)) != -1) {
		switch (c) {
		case 'g': {
			double v = strtod(optarg, &end);
			double mul = *end == 'h' ? 3600 : *end == 'm' ? 60 : *end == 'd' ? 86400 : 1;
			if (end == optarg || v < 0 || (*end && end[1]) || (*end && !strchr("smhd", *end)))
				return cli_usage_error("gc", "--grace wants a duration like 0, 30m, 1h");
			grace = (int64_t)(v * mul);
			break;
		}
		case 'n': dry = 1; break;
		case 'h':
			cli_print_usage(cli_find("gc"));
			return EXIT_OK;
		default:
			return cli_usage_error("gc", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("gc", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_store_gc(&r, st, grace, dry)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddBoolToObject(doc, "dry_run", dry);
		cJSON_AddNumberToObject(doc, "packs", (double)r.packs);
		cJSON_AddNumberToObject(doc, "pack_bytes", (double)r.pack_bytes);
		cJSON_AddNumberToObject(doc, "chunks", (double)r.chunks);
		cJSON_AddNumberToObject(doc, "contents", (double)r.contents);
		cJSON_AddNumberToObject(doc, "objects", (double)r.objects);
		cJSON_AddNumberToObject(doc, "kept_young_packs", (double)r.kept_young);
		cli_print_json(doc);
	} else if (!cli.quiet) {
		printf("%s %llu pack%s (%s), %llu chunks, %llu file contents, %llu manifests and chunk "
		       "lists", dry ? "would remove" : "removed", (unsigned long long)r.packs,
		       r.packs == 1 ? "" : "s", cli_human(a, sizeof(a), r.pack_bytes),
		       (unsigned long long)r.chunks, (unsigned long long)r.contents,
		       (unsigned long long)r.objects);
		if (r.kept_young)
			printf("; kept %llu unused pack%s younger than the grace period",
			       (unsigned long long)r.kept_young, r.kept_young == 1 ? "" : "s");
		printf("\n");
	}
done:
	mvms_store_free(st);
	return rc;
}
