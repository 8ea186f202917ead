/* SPDX-License-Identifier: MIT */
/* mvms-store reindex: rebuild the store's database from its bucket (the log, packs, chunk
 * lists), as a new server on an existing bucket or after losing the database file. */
#include <inttypes.h>
#include <stdio.h>
#include "cli.h"

int cmd_reindex(int argc, char **argv)
{
	mvms_store *st = NULL;
	uint64_t entries = 0;
	int error, rc;

	if ((rc = cli_plain_args(&argc, &argv, "reindex")) >= 0)
		return rc;
	if (argc != 1)
		return cli_usage_error("reindex", "unexpected argument '%s'", argv[1]);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_store_reindex(&entries, st)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json)
		printf("{\"entries\":%" PRIu64 "}\n", entries);
	else if (!cli.quiet)
		printf("rebuilt the database from %" PRIu64 " log entr%s\n", entries,
		       entries == 1 ? "y" : "ies");
done:
	mvms_store_free(st);
	return rc;
}
