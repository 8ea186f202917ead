/* SPDX-License-Identifier: MIT */
/* mvms-store verify: checks what every version needs (re-reading every stored byte, or with
 * --quick only that it is there) and names what is damaged; lists orphans apart. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static int on_problem(const mvms_verify_problem *p, void *payload)
{
	cJSON *arr = ((void **)payload)[0];

	if (arr) {
		cJSON_AddItemToArray(arr, view_verify_problem(p));
	} else {
		printf("CORRUPT %s: %s\n", p->object, p->message);
		if (*p->versions)
			printf("  breaks: %s\n", p->versions);
	}
	return 0;
}

/* An orphan is not damage: one line of its own, or an item of "orphans". */
static int on_orphan(const mvms_verify_problem *p, void *payload)
{
	cJSON *arr = ((void **)payload)[2];

	if (arr) {
		cJSON_AddItemToArray(arr, view_verify_orphan(p));
	} else if (!cli.quiet) {
		printf("orphan %s: %s\n", p->object, p->message);
	}
	return 0;
}

static void on_progress(uint64_t done, uint64_t total, void *payload)
{
	cli_progress_cb(done, total, ((void **)payload)[1]);
}

int cmd_verify(int argc, char **argv)
{
	mvms_store *st = NULL;
	mvms_verify_result r;
	mvms_verify_options o;
	cli_progress prog;
	cJSON *arr = NULL, *orphans = NULL;
	void *payload[3];
	int error, rc, c, quick = 0, signatures = 0;
	const char *key = NULL;
	char a[32], b[32];

	while ((c = cli_getopt(argc, argv, "verify")) != -1) {
		switch (c) {
		case 'q': quick = 1; break;
		case 's': signatures = 1; break;
		case 'k': key = optarg; break;
		case 'h':
			cli_print_usage(cli_find("verify"));
			return EXIT_OK;
		default:
			return cli_bad_option("verify", c);
		}
	}
	/* A version's signatures (cmd_sign.c) rather than the store's bytes. */
	if (signatures)
		return quick ? cli_usage_error("verify", "--quick is about the store's bytes, not "
					       "--signatures") : cli_verify_signatures(argc, argv, key);
	if (key)
		return cli_usage_error("verify", "--key goes with --signatures");
	if (optind != argc)
		return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if (cli.json) {
		arr = cJSON_CreateArray();
		orphans = cJSON_CreateArray();
	}
	cli_progress_init(&prog, "verify");
	payload[0] = arr;
	payload[1] = &prog;
	payload[2] = orphans;
	memset(&o, 0, sizeof(o));
	o.quick = quick;
	o.cb = on_problem;
	o.orphan = on_orphan;
	o.progress = on_progress;
	o.payload = payload;
	error = mvms_store_verify_ex(&r, st, &o);
	cli_progress_end(&prog);
	if (error < 0 && error != MVMS_EMISMATCH) {
		cJSON_Delete(arr);
		cJSON_Delete(orphans);
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = view_verify(&r, quick, arr, orphans);
		/* A failed verify is a failure document like any other ("error"), with the report. */
		if (r.problems) {
			cJSON *err = cJSON_AddObjectToObject(doc, "error");
			char msg[128];
			snprintf(msg, sizeof(msg), "verify found %llu problem%s",
				 (unsigned long long)r.problems, r.problems == 1 ? "" : "s");
			cJSON_AddStringToObject(err, "code", mvms_error_name(MVMS_EMISMATCH));
			cJSON_AddStringToObject(err, "message", msg);
		}
		cli_print_json(doc);
	} else if (!cli.quiet || r.problems) {
		if (quick)
			printf("%s (quick): %llu packs, %llu chunk lists, %llu manifests present; %llu "
			       "problem%s", r.problems ? "FAILED" : "ok", (unsigned long long)r.packs,
			       (unsigned long long)r.chunk_lists, (unsigned long long)r.manifests,
			       (unsigned long long)r.problems, r.problems == 1 ? "" : "s");
		else
			printf("%s: %llu packs, %llu chunks (%s), %llu chunk lists, %llu manifests "
			       "checked; %llu problem%s", r.problems ? "FAILED" : "ok",
			       (unsigned long long)r.packs, (unsigned long long)r.chunks,
			       cli_human(a, sizeof(a), r.bytes), (unsigned long long)r.chunk_lists,
			       (unsigned long long)r.manifests, (unsigned long long)r.problems,
			       r.problems == 1 ? "" : "s");
		if (r.orphans)
			printf("; %llu orphan%s (%s) that 'gc' can reclaim", (unsigned long long)r.orphans,
			       r.orphans == 1 ? "" : "s", cli_human(b, sizeof(b), r.orphan_bytes));
		printf("\n");
	}
	if (r.problems) {
		fprintf(stderr, "mvms-store: verify found %llu problem%s\n",
			(unsigned long long)r.problems, r.problems == 1 ? "" : "s");
		rc = EXIT_ERROR;
	}
done:
	mvms_store_free(st);
	return rc;
}
