/* SPDX-License-Identifier: MIT */
/* mvms-store stats: logical, unique and stored bytes; dedup and compression ratios. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

int cmd_stats(int argc, char **argv)
{
	mvms_store *st = NULL;
	mvms_stats s;
	int error, rc;
	char a[32], b[32], c[32];

	if ((rc = cli_plain_args(&argc, &argv, "stats")) >= 0)
		return rc;
	if (argc != 1)
		return cli_usage_error("stats", "unexpected argument '%s'", argv[1]);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_store_stats(&s, st)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cli_print_json(view_stats(&s));
	} else {
		printf("models          %llu\nversions        %llu\nfiles           %llu (%llu unique)\n",
		       (unsigned long long)s.models, (unsigned long long)s.versions,
		       (unsigned long long)s.files, (unsigned long long)s.contents);
		printf("logical bytes   %s\nunique bytes    %s\nstored bytes    %s\n",
		       cli_human(a, sizeof(a), s.logical_bytes), cli_human(b, sizeof(b), s.unique_bytes),
		       cli_human(c, sizeof(c), s.stored_bytes));
		printf("chunks          %llu in %llu pack%s\ndedup ratio     %.2fx\n"
		       "compression     %.2fx\ntotal saving    %.2fx\n",
		       (unsigned long long)s.chunks, (unsigned long long)s.packs, s.packs == 1 ? "" : "s",
		       s.dedup_ratio, s.compression_ratio,
		       s.stored_bytes ? (double)s.logical_bytes / (double)s.stored_bytes : 0.0);
		if (s.delta_chunks)
			printf("deltas          %llu chunks (%s) stored against their parent's tensors\n",
			       (unsigned long long)s.delta_chunks, cli_human(a, sizeof(a), s.delta_bytes));
		if (s.sources)
			printf("pulled files    %llu (%s), read as a cache\n",
			       (unsigned long long)s.sources, cli_human(a, sizeof(a), s.source_bytes));
	}
done:
	mvms_store_free(st);
	return rc;
}
