/* SPDX-License-Identifier: MIT */
/* mvms-store merge: brings a source version into a branch (3-way, tensor by tensor). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* The conflicts of a refused merge: a JSON error document, or one block per conflict. */
static void print_conflicts(const mvms_merge_result *r, const char *source, const char *into)
{
	size_t i;

	if (cli.json) {
		cJSON *doc = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(doc, "error");
		cJSON_AddStringToObject(err, "code", "merge_conflict");
		cJSON_AddStringToObject(err, "message", mvms_error_last());
		cJSON_AddItemToObject(doc, "conflicts", view_merge_conflicts(r));
		cli_print_json(doc);
	} else {
		printf("CONFLICTS merging %s into %s:\n", source, into ? into : "main");
		for (i = 0; i < r->conflict_count; i++) {
			const mvms_merge_conflict *x = &r->conflicts[i];
			printf("  %-14s %s%s%s\n      base %.12s  ours %.12s  theirs %.12s\n", x->kind,
			       x->path, x->tensor ? " :: " : "", x->tensor ? x->tensor : "",
			       *x->base_id ? x->base_id : "(none)", *x->ours_id ? x->ours_id : "(none)",
			       *x->theirs_id ? x->theirs_id : "(none)");
		}
	}
	fprintf(stderr, "mvms-store: %s\n", mvms_error_last());
}

/* What a merge that went through did: up to date, fast-forward, or a new merge version. */
static void print_result(const mvms_merge_result *r, const char *model, const char *source,
			 const char *into)
{
	if (cli.json) {
		cJSON *doc = view_merge(r, model, source, into);
		cli_print_json(doc);
	} else if (r->up_to_date) {
		printf("already up to date: %s@v%lld %s contains %s\n", model, (long long)r->number,
		       r->id, source);
	} else if (r->fast_forward) {
		printf("fast-forward: %s of %s -> %s@v%lld %s\n", into ? into : "main", model, model,
		       (long long)r->number, r->id);
	} else {
		printf("%s@v%lld %s\n", model, (long long)r->number, r->id);
		if (!cli.quiet)
			fprintf(stderr, "  merged %s into %s%s\n", source, into ? into : "main",
				r->tensor_merged_files ? " (tensor files merged tensor by tensor)" : "");
	}
}

int cmd_merge(int argc, char **argv)
{
	mvms_merge_options o = MVMS_MERGE_OPTIONS_INIT;
	mvms_merge_resolution *res = NULL;
	mvms_merge_result *r = NULL;
	mvms_store *st = NULL;
	char *source = NULL, *eq;
	const char *author = NULL;
	size_t nres = 0;
	int c, error, rc = EXIT_OK;

	res = calloc((size_t)argc + 1, sizeof(*res));
	if (!res)
		return cli_error(EXIT_ERROR, "error", "out of memory");
	while ((c = cli_getopt(argc, argv, "merge")) != -1) {
		switch (c) {
		case 'i': o.into = optarg; break;
		case 'm': o.message = optarg; break;
		case 'A': author = optarg; break;
		case 'o':
		case 't':
			if (o.strategy) {
				rc = cli_usage_error("merge", "--ours and --theirs exclude each other");
				goto done;
			}
			o.strategy = c == 'o' ? MVMS_MERGE_OURS : MVMS_MERGE_THEIRS;
			break;
		case 'r':
			eq = strrchr(optarg, '=');
			if (!eq || eq == optarg || (strcmp(eq + 1, "ours") && strcmp(eq + 1, "theirs"))) {
				rc = cli_usage_error("merge", "--resolve wants PATH=ours or PATH=theirs");
				goto done;
			}
			*eq = '\0';
			res[nres].path = optarg;
			res[nres].side = strcmp(eq + 1, "ours") == 0 ? MVMS_MERGE_OURS : MVMS_MERGE_THEIRS;
			nres++;
			break;
		case 'h':
			cli_print_usage(cli_find("merge"));
			goto done;
		default:
			rc = cli_bad_option("merge", c);
			goto done;
		}
	}
	if (argc - optind != 2) {
		rc = cli_usage_error("merge", "want MODEL and SOURCE");
		goto done;
	}
	o.author = cli_author(author);
	o.resolve = res;
	o.resolve_count = nres;
	/* SOURCE without a model is a ref of MODEL (a branch, usually). */
	if (strchr(argv[optind + 1], '@'))
		source = strdup(argv[optind + 1]);
	else if (asprintf(&source, "%s@%s", argv[optind], argv[optind + 1]) < 0)
		source = NULL;
	if (!source) {
		rc = cli_error(EXIT_ERROR, "error", "out of memory");
		goto done;
	}
	if ((rc = cli_open_store(&st)) != 0)
		goto done;
	error = mvms_merge(&r, st, argv[optind], source, &o);
	if (error == MVMS_EMERGE) {
		print_conflicts(r, source, o.into);
		rc = EXIT_CONFLICT;
		goto done;
	}
	if (error < 0) {
		rc = cli_fail(error);
		goto done;
	}
	print_result(r, argv[optind], source, o.into);
done:
	mvms_merge_result_free(r);
	free(source);
	free(res);
	mvms_store_free(st);
	return rc;
}
