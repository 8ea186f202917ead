/* SPDX-License-Identifier: MIT */
/* mvms-store push MODEL PATH: stores a file or directory as a new version. */
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"

int cmd_push(int argc, char **argv)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result r;
	mvms_store *st = NULL;
	const char **parents = NULL, **meta = NULL, **excl = NULL, *author = NULL;
	size_t np = 0, nm = 0, nx = 0;
	cli_progress prog;
	int c, error, rc = EXIT_OK;
	char a[32], b[32];

	parents = calloc((size_t)argc + 1, sizeof(char *));
	meta = calloc((size_t)argc + 1, sizeof(char *));
	excl = calloc((size_t)argc + 1, sizeof(char *));
	if (!parents || !meta || !excl) {
		free(parents);
		free(meta);
		free(excl);
		return cli_error(EXIT_ERROR, "error", "out of memory");
	}
	while ((c = cli_getopt(argc, argv, "push")) != -1) {
		switch (c) {
		case 'm': o.message = optarg; break;
		case 'b': o.branch = optarg; break;
		case 'P': parents[np++] = optarg; break;
		case 'M': meta[nm++] = optarg; break;
		case 'A': author = optarg; break;
		case 'X': excl[nx++] = optarg; break;
		case 'L': o.follow_symlinks = 1; break;
		case 'h':
			cli_print_usage(cli_find("push"));
			goto done;
		default:
			rc = cli_bad_option("push", c);
			goto done;
		}
	}
	if (argc - optind != 2) {
		rc = cli_usage_error("push", "want MODEL and PATH");
		goto done;
	}
	o.author = cli_author(author);
	o.parents = parents;
	o.parent_count = np;
	o.meta = meta;
	o.meta_count = nm;
	o.exclude = excl;
	o.exclude_count = nx;
	cli_progress_init(&prog, "push");
	o.progress = cli_progress_cb;
	o.payload = &prog;
	/* push (with init) is the one command that makes the store when there is none. */
	if ((rc = cli_open_store_create(&st)) != 0)
		goto done;
	error = mvms_push(&r, st, argv[optind], argv[optind + 1], &o);
	cli_progress_end(&prog);
	if (error < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "model", argv[optind]);
		cJSON_AddNumberToObject(doc, "version", (double)r.number);
		cJSON_AddStringToObject(doc, "id", r.id);
		cJSON_AddBoolToObject(doc, "created", r.created);
		cJSON_AddNumberToObject(doc, "files", (double)r.files);
		cJSON_AddNumberToObject(doc, "logical_bytes", (double)r.logical_bytes);
		cJSON_AddNumberToObject(doc, "chunks", (double)r.chunks);
		cJSON_AddNumberToObject(doc, "new_chunks", (double)r.new_chunks);
		cJSON_AddNumberToObject(doc, "new_raw_bytes", (double)r.new_raw_bytes);
		cJSON_AddNumberToObject(doc, "new_stored_bytes", (double)r.new_stored_bytes);
		cJSON_AddNumberToObject(doc, "delta_chunks", (double)r.delta_chunks);
		cJSON_AddNumberToObject(doc, "packs", (double)r.packs);
		cJSON_AddNumberToObject(doc, "tensors", (double)r.tensors);
		cJSON_AddNumberToObject(doc, "seconds", r.seconds);
		/* Times it started over because a gc took something it reused (at most 1). */
		cJSON_AddNumberToObject(doc, "retries", (double)r.retries);
		cli_print_json(doc);
	} else if (!r.created) {
		printf("%s@v%lld %s (unchanged: identical to the head of %s, no new version)\n",
		       argv[optind], (long long)r.number, r.id, o.branch ? o.branch : "main");
	} else {
		printf("%s@v%lld %s\n", argv[optind], (long long)r.number, r.id);
		fflush(stdout);
		if (!cli.quiet) {
			char deltas[64] = "";
			/* Fine-tune deltas: chunks stored against the parent version's tensors. */
			if (r.delta_chunks)
				snprintf(deltas, sizeof(deltas), " (%llu as deltas)",
					 (unsigned long long)r.delta_chunks);
			fprintf(stderr, "  %llu file%s, %s; %llu of %llu chunks new%s, %s stored in %llu "
				"pack%s (%.2fs)\n",
				(unsigned long long)r.files, r.files == 1 ? "" : "s",
				cli_human(a, sizeof(a), r.logical_bytes), (unsigned long long)r.new_chunks,
				(unsigned long long)r.chunks, deltas,
				cli_human(b, sizeof(b), r.new_stored_bytes),
				(unsigned long long)r.packs, r.packs == 1 ? "" : "s", r.seconds);
		}
	}
done:
	free(parents);
	free(meta);
	free(excl);
	mvms_store_free(st);
	return rc;
}
