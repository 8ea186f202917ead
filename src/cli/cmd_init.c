/* SPDX-License-Identifier: MIT */
/* mvms-store init: creates a store with its chunking, compression and pack parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cmd_init(int argc, char **argv)
{
	mvms_store_options o = MVMS_STORE_OPTIONS_INIT;
	mvms_store *st = NULL;
	mvms_store_info info;
	uint64_t v;
	const char *dir;
	char *end;
	int c, error, rc = EXIT_OK;
	long lv;

	while ((c = cli_getopt(argc, argv, "init")) != -1) {
		switch (c) {
		case 'c':
			if (cli_parse_size(&v, optarg) < 0 || v > UINT32_MAX)
				return cli_usage_error("init", "bad --chunk-avg '%s'", optarg);
			o.chunk_avg = (uint32_t)v;
			break;
		case 'l':
			lv = strtol(optarg, &end, 10);
			if (*end || end == optarg || lv < 1 || lv > 22)
				return cli_usage_error("init", "--level must be 1 to 22");
			o.level = (int)lv;
			break;
		case 'p':
			if (cli_parse_size(&v, optarg) < 0)
				return cli_usage_error("init", "bad --pack-size '%s'", optarg);
			o.pack_size = v;
			break;
		case 'b':
			o.backend = optarg;
			break;
		case 'h':
			cli_print_usage(cli_find("init"));
			return EXIT_OK;
		default:
			return cli_bad_option("init", c);
		}
	}
	if (optind != argc)
		return cli_usage_error("init", "unexpected argument '%s' (use --store DIR)", argv[optind]);
	if ((rc = cli_local_only("init")) != 0)
		return rc;
	dir = cli_store_dir();
	if ((error = mvms_store_init(&st, dir, &o)) < 0)
		return cli_fail(error);
	mvms_store_get_info(&info, st);
	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "store", info.path);
		cJSON_AddStringToObject(doc, "backend", info.backend);
		cJSON_AddNumberToObject(doc, "chunk_min", info.chunk_min);
		cJSON_AddNumberToObject(doc, "chunk_avg", info.chunk_avg);
		cJSON_AddNumberToObject(doc, "chunk_max", info.chunk_max);
		cJSON_AddNumberToObject(doc, "zstd_level", info.level);
		cJSON_AddNumberToObject(doc, "pack_size", (double)info.pack_size);
		cli_print_json(doc);
	} else if (!cli.quiet) {
		char a[32], b[32], m[32], p[32];
		printf("initialised store %s (objects: %s): chunks %s/%s/%s (min/avg/max), zstd level %d, "
		       "packs %s\n", info.path, info.backend, cli_human(a, sizeof(a), info.chunk_min),
		       cli_human(b, sizeof(b), info.chunk_avg), cli_human(m, sizeof(m), info.chunk_max),
		       info.level, cli_human(p, sizeof(p), info.pack_size));
	}
	mvms_store_free(st);
	return rc;
}
