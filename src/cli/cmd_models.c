/* SPDX-License-Identifier: MIT */
/* mvms-store register and models: naming model lines of work and listing them. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

int cmd_register(int argc, char **argv)
{
	const char *desc = NULL;
	mvms_store *st = NULL;
	mvms_model_info *m = NULL;
	int c, error, rc;

	while ((c = cli_getopt(argc, argv, "register")) != -1) {
		if (c == 'd')
			desc = optarg;
		else if (c == 'h') {
			cli_print_usage(cli_find("register"));
			return EXIT_OK;
		} else
			return cli_bad_option("register", c);
	}
	if (argc - optind != 1)
		return cli_usage_error("register", "want one MODEL name");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_model_register(st, argv[optind], desc)) < 0 ||
	    (error = mvms_model_get(&m, st, argv[optind])) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "model", m->name);
		cJSON_AddStringToObject(doc, "uid", m->uid);
		cJSON_AddStringToObject(doc, "description", m->description);
		cli_print_json(doc);
	} else if (!cli.quiet) {
		printf("registered %s (%s)\n", m->name, m->uid);
	}
done:
	mvms_model_info_free(m);
	mvms_store_free(st);
	return rc;
}

int cmd_models(int argc, char **argv)
{
	mvms_store *st = NULL;
	mvms_model_info *list = NULL;
	size_t n = 0, i;
	int error, rc;
	char tbuf[32];

	if ((rc = cli_plain_args(&argc, &argv, "models")) >= 0)
		return rc;
	if (argc > 1)
		return cli_usage_error("models", "unexpected argument '%s'", argv[1]);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_model_list(&list, &n, st)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateArray();
		for (i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "model", list[i].name);
			cJSON_AddStringToObject(o, "uid", list[i].uid);
			cJSON_AddStringToObject(o, "description", list[i].description);
			cJSON_AddNumberToObject(o, "versions", (double)list[i].versions);
			cJSON_AddStringToObject(o, "created_at",
						view_time(tbuf, sizeof(tbuf), list[i].created_at));
			cJSON_AddItemToArray(doc, o);
		}
		cli_print_json(doc);
	} else {
		for (i = 0; i < n; i++)
			printf("%-32s %4lld version%s  %s\n", list[i].name, (long long)list[i].versions,
			       list[i].versions == 1 ? " " : "s", list[i].description);
	}
done:
	mvms_model_list_free(list, n);
	mvms_store_free(st);
	return rc;
}
