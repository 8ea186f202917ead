/* SPDX-License-Identifier: MIT */
/* mvms-store delete and gc: removing versions nothing reaches, then what nothing uses
 * (gc --dry-run lists each object that would go, and why). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cmd_delete(int argc, char **argv)
{
	mvms_store *st = NULL;
	int error, rc;

	if ((rc = cli_plain_args(&argc, &argv, "delete")) >= 0)
		return rc;
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

/* "3 s", "12 min", "5 h", "2 d": how old an object is, for a person. */
static const char *age_text(char *buf, size_t n, int64_t s)
{
	if (s < 120)
		snprintf(buf, n, "%lld s", (long long)s);
	else if (s < 7200)
		snprintf(buf, n, "%lld min", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, n, "%lld h", (long long)(s / 3600));
	else
		snprintf(buf, n, "%lld d", (long long)(s / 86400));
	return buf;
}

/* gc --dry-run: one line (or JSON item) per object that would go, and why. */
static int on_item(const mvms_gc_item *it, void *payload)
{
	cJSON *arr = payload;
	char a[32], b[32];

	if (arr) {
		cJSON_AddItemToArray(arr, view_gc_item(it));
	} else {
		printf("would remove %s (%s, %s old): %s\n", it->key, cli_human(a, sizeof(a), it->size),
		       age_text(b, sizeof(b), it->age), it->reason);
	}
	return 0;
}

static void print_text(const mvms_gc_result *r, int dry)
{
	char a[32], b[32];

	printf("%s %llu pack%s (%s), %llu chunks, %llu file contents, %llu manifests and chunk "
	       "lists", dry ? "would remove" : "removed", (unsigned long long)r->packs,
	       r->packs == 1 ? "" : "s", cli_human(a, sizeof(a), r->pack_bytes),
	       (unsigned long long)r->chunks, (unsigned long long)r->contents,
	       (unsigned long long)r->objects);
	if (r->temp_files)
		printf(", %llu temp file%s (%s)", (unsigned long long)r->temp_files,
		       r->temp_files == 1 ? "" : "s", cli_human(b, sizeof(b), r->temp_bytes));
	if (r->kept_young)
		printf("; kept %llu unused pack%s younger than the grace period",
		       (unsigned long long)r->kept_young, r->kept_young == 1 ? "" : "s");
	if (r->kept_objects)
		printf("; kept %llu other unused object%s younger than the grace period",
		       (unsigned long long)r->kept_objects, r->kept_objects == 1 ? "" : "s");
	if (r->leases)
		printf("; %llu push%s running (lease%s honoured)", (unsigned long long)r->leases,
		       r->leases == 1 ? "" : "es", r->leases == 1 ? "" : "s");
	printf("\n");
}

int cmd_gc(int argc, char **argv)
{
	mvms_gc_result r;
	mvms_gc_options o;
	mvms_store *st = NULL;
	cJSON *items = NULL;
	int64_t grace = 3600;
	int c, dry = 0, error, rc;
	char *end;

	while ((c = cli_getopt(argc, argv, "gc")) != -1) {
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
			return cli_bad_option("gc", c);
		}
	}
	if (optind != argc)
		return cli_usage_error("gc", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if (dry && cli.json)
		items = cJSON_CreateArray();
	memset(&o, 0, sizeof(o));
	o.grace_seconds = grace;
	o.dry_run = dry;
	if (dry && (items || !cli.quiet)) {
		o.cb = on_item;
		o.payload = items;
	}
	if ((error = mvms_store_gc_ex(&r, st, &o)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cli_print_json(view_gc(&r, dry, items));
		items = NULL;
	} else if (!cli.quiet) {
		print_text(&r, dry);
	}
done:
	cJSON_Delete(items);
	mvms_store_free(st);
	return rc;
}
