/* SPDX-License-Identifier: MIT */
/* mvms-store model delete: removing a model with its versions, refs and deployments. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static int model_delete(int argc, char **argv)
{
		mvms_model_delete_result r;
	mvms_store *st = NULL;
	int c, yes = 0, dry = 0, error, rc;

	while ((c = cli_getopt(argc, argv, "model")) != -1) {
		switch (c) {
		case 'y': yes = 1; break;
		case 'n': dry = 1; break;
		case 'h':
			cli_print_usage(cli_find("model"));
			return EXIT_OK;
		default:
			return cli_bad_option("model", c);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("model", "delete wants one MODEL");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	/* Without --yes: say what it would delete, and refuse. */
	error = mvms_model_delete(&r, st, argv[optind], yes && !dry ? 0 : MVMS_HISTORY_DRY_RUN);
	if (error < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (!yes && !dry) {
		fprintf(stderr, "mvms-store model delete: this would delete model %s with %lld "
			"version%s, %lld branch%s, %lld tag%s and %lld environment%s (%lld deployment "
			"revision%s); run again with --yes to delete it\n", argv[optind],
			(long long)r.versions, r.versions == 1 ? "" : "s", (long long)r.branches,
			r.branches == 1 ? "" : "es", (long long)r.tags, r.tags == 1 ? "" : "s",
			(long long)r.environments, r.environments == 1 ? "" : "s",
			(long long)r.revisions, r.revisions == 1 ? "" : "s");
		rc = EXIT_USAGE;
		goto done;
	}
	if (cli.json)
		cli_print_json(view_model_delete(&r, argv[optind], dry));
	else if (!cli.quiet)
		printf("%s model %s: %lld versions, %lld branches, %lld tags, %lld environments%s\n",
		       dry ? "would delete" : "deleted", argv[optind], (long long)r.versions,
		       (long long)r.branches, (long long)r.tags, (long long)r.environments,
		       dry ? "" : " (run 'mvms-store gc' to free its space)");
done:
	mvms_store_free(st);
	return rc;
}

int cmd_model(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "delete") == 0)
		return model_delete(argc - 1, argv + 1);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_usage(cli_find("model"));
		return EXIT_OK;
	}
	/* An option before the subcommand: the option table says whether it is known. */
	if (argc >= 2 && argv[1][0] == '-')
		return model_delete(argc, argv);
	return cli_usage_error("model", "want 'delete MODEL --yes'");
}
