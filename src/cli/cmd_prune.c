/* SPDX-License-Identifier: MIT */
/* mvms-store prune: a retention rule in one command, printing what it deletes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void print_text(const mvms_prune_result *r, int dry)
{
	char tbuf[32];
	size_t i;

	for (i = 0; i < r->count; i++) {
		const mvms_version_info *v = r->versions[i];
		printf("%s %s@v%lld %.12s  %s  %s%s%s%s\n", dry ? "would delete" : "deleted", v->model,
		       (long long)v->number, v->id, view_time(tbuf, sizeof(tbuf), v->created_at),
		       v->message, r->why[i][0] ? "  (" : "", r->why[i], r->why[i][0] ? ")" : "");
	}
	printf("%s %zu version%s, kept %zu%s\n", dry ? "would delete" : "deleted", r->count,
	       r->count == 1 ? "" : "s", r->kept,
	       !dry && r->count ? " (run 'mvms-store gc' to free their space)" : "");
}

int cmd_prune(int argc, char **argv)
{
		mvms_prune_options o = MVMS_PRUNE_OPTIONS_INIT;
	mvms_prune_result *r = NULL;
	mvms_store *st = NULL;
	int c, keep = 0, error, rc;
	char *end;

	while ((c = cli_getopt(argc, argv, "prune")) != -1) {
		switch (c) {
		case 'b': o.branch = optarg; break;
		case 'k':
			o.keep_last = strtoll(optarg, &end, 10);
			if (end == optarg || *end || o.keep_last < 0)
				return cli_usage_error("prune", "--keep-last wants a number >= 0");
			keep = 1;
			break;
		case 't': o.keep_tagged = 1; break;
		case 'd': o.keep_deployed = 1; break;
		case 'o':
			if (cli_parse_duration(&o.older_than, optarg, 1) < 0)
				return cli_usage_error("prune", "--older-than wants a duration like 30d, "
						       "12h, 90m");
			break;
		case 'n': o.dry_run = 1; break;
		case 'a': o.author = optarg; break;
		case 'h':
			cli_print_usage(cli_find("prune"));
			return EXIT_OK;
		default:
			return cli_bad_option("prune", c);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("prune", "want one MODEL");
	if (!keep)
		return cli_usage_error("prune", "--keep-last N is required (how many recent versions "
				       "to keep)");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_prune(&r, st, argv[optind], &o)) < 0)
		rc = cli_fail(error);
	else if (cli.json)
		cli_print_json(view_prune(r, argv[optind], o.dry_run));
	else if (!cli.quiet)
		print_text(r, o.dry_run);
	mvms_prune_result_free(r);
	mvms_store_free(st);
	return rc;
}
