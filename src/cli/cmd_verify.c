/* SPDX-License-Identifier: MIT */
/* mvms-store verify: re-reads every stored byte and names what is corrupt. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static int on_problem(const mvms_verify_problem *p, void *payload)
{
	cJSON *arr = ((void **)payload)[0];

	if (arr) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "object", p->object);
		cJSON_AddStringToObject(o, "message", p->message);
		cJSON_AddStringToObject(o, "breaks", p->versions);
		cJSON_AddItemToArray(arr, o);
	} else {
		printf("CORRUPT %s: %s\n", p->object, p->message);
		if (*p->versions)
			printf("  breaks: %s\n", p->versions);
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
	cli_progress prog;
	cJSON *doc = NULL, *arr = NULL;
	void *payload[2];
	int error, rc;
	char a[32];

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		cli_print_usage(cli_find("verify"));
		return EXIT_OK;
	}
	if (argc != 1)
		return cli_usage_error("verify", "unexpected argument '%s'", argv[1]);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if (cli.json) {
		doc = cJSON_CreateObject();
		arr = cJSON_CreateArray();
	}
	cli_progress_init(&prog, "verify");
	payload[0] = arr;
	payload[1] = &prog;
	error = mvms_store_verify(&r, st, on_problem, on_progress, payload);
	cli_progress_end(&prog);
	if (error < 0 && error != MVMS_EMISMATCH) {
		cJSON_Delete(doc);
		cJSON_Delete(arr);
		rc = cli_fail(error);
		goto done;
	}
	if (doc) {
		cJSON_AddBoolToObject(doc, "ok", r.problems == 0);
		cJSON_AddNumberToObject(doc, "packs", (double)r.packs);
		cJSON_AddNumberToObject(doc, "chunks", (double)r.chunks);
		cJSON_AddNumberToObject(doc, "bytes", (double)r.bytes);
		cJSON_AddNumberToObject(doc, "manifests", (double)r.manifests);
		cJSON_AddItemToObject(doc, "problems", arr);
		cli_print_json(doc);
	} else if (!cli.quiet || r.problems) {
		printf("%s: %llu packs, %llu chunks (%s), %llu manifests checked; %llu problem%s\n",
		       r.problems ? "FAILED" : "ok", (unsigned long long)r.packs,
		       (unsigned long long)r.chunks, cli_human(a, sizeof(a), r.bytes),
		       (unsigned long long)r.manifests, (unsigned long long)r.problems,
		       r.problems == 1 ? "" : "s");
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
