/* SPDX-License-Identifier: MIT */
/* mvms-store pull MODEL@REF: writes a version's files, every byte verified. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cmd_pull(int argc, char **argv)
{
	mvms_pull_options o = MVMS_PULL_OPTIONS_INIT;
	mvms_pull_result r;
	mvms_store *st = NULL;
	const char *dir = NULL, *spec;
	char *defdir = NULL, *at;
	const char **incl = calloc((size_t)argc + 1, sizeof(char *));
	const char **excl = calloc((size_t)argc + 1, sizeof(char *));
	const char **keys = calloc((size_t)argc + 1, sizeof(char *));
	size_t nkeys = 0;
	char *signed_spec = NULL;
	cli_progress prog;
	int c, error, rc = EXIT_OK;
	char a[32];

	if (!incl || !excl || !keys) {
		rc = cli_error(EXIT_ERROR, "error", "out of memory");
		goto done;
	}
	while ((c = cli_getopt(argc, argv, "pull")) != -1) {
		switch (c) {
		case 'o': dir = optarg; break;
		case 'f': o.force = 1; break;
		case 'C': o.cache_copy = 1; break;
		case 'I': incl[o.include_count++] = optarg; break;
		case 'X': excl[o.exclude_count++] = optarg; break;
		case 'r': keys[nkeys++] = optarg; break;
		case 'h':
			cli_print_usage(cli_find("pull"));
			goto done;
		default:
			rc = cli_bad_option("pull", c);
			goto done;
		}
	}
	if (argc - optind < 1) {
		rc = cli_usage_error("pull", "want MODEL@REF [PATH ...]");
		goto done;
	}
	spec = argv[optind];
	o.include = incl;
	o.exclude = excl;
	/* Paths name files or directories of the version, as ls shows them. */
	o.paths = (const char *const *)argv + optind + 1;
	o.path_count = (size_t)(argc - optind - 1);
	if (!dir) {
		/* Default: the model's last name component in the current directory. */
		const char *base = strrchr(spec, '/');
		defdir = strdup(base ? base + 1 : spec);
		if (!defdir) {
			rc = cli_error(EXIT_ERROR, "error", "out of memory");
			goto done;
		}
		if ((at = strchr(defdir, '@')))
			*at = '\0';
		dir = defdir;
	}
	cli_progress_init(&prog, "pull");
	o.progress = cli_progress_cb;
	o.payload = &prog;
	if ((rc = cli_open_store(&st)) != 0)
		goto done;
	/* Checked before a byte is written; then the version checked, by id, is pulled. */
	if (nkeys && (rc = cli_require_signature(&signed_spec, st, spec, keys, nkeys)) != 0)
		goto done;
	error = mvms_pull(&r, st, signed_spec ? signed_spec : spec, dir, &o);
	cli_progress_end(&prog);
	if (error < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "ref", spec);
		cJSON_AddNumberToObject(doc, "version", (double)r.number);
		cJSON_AddStringToObject(doc, "id", r.id);
		cJSON_AddStringToObject(doc, "dir", dir);
		cJSON_AddNumberToObject(doc, "files", (double)r.files);
		cJSON_AddNumberToObject(doc, "kept", (double)r.kept);
		cJSON_AddNumberToObject(doc, "bytes", (double)r.bytes);
		cJSON_AddNumberToObject(doc, "seconds", r.seconds);
		cli_print_json(doc);
	} else if (!cli.quiet) {
		char kept[64] = "";
		if (r.kept)
			snprintf(kept, sizeof(kept), " (%llu already there)", (unsigned long long)r.kept);
		printf("pulled %s (v%lld %.12s) into %s: %llu file%s%s, %s, verified (%.2fs)\n", spec,
		       (long long)r.number, r.id, dir, (unsigned long long)r.files,
		       r.files == 1 ? "" : "s", kept, cli_human(a, sizeof(a), r.bytes), r.seconds);
	}
done:
	free(incl);
	free(excl);
	free(keys);
	free(signed_spec);
	free(defdir);
	mvms_store_free(st);
	return rc;
}
