/* SPDX-License-Identifier: MIT */
/*
 * mvms-store: the command table, global options (which may stand anywhere on the line, as
 * in git), help, and the dispatch to one cmd_* function per subcommand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

struct cli_globals cli;

static const cli_cmd commands[] = {
	{ "init", cmd_init, "[--chunk-avg SIZE] [--level N] [--pack-size SIZE] [--backend s3://B[/P] | gs://B[/P]]",
	  "create a store (parameters are recorded in it)" },
	{ "register", cmd_register, "MODEL [--description TEXT]", "register a model" },
	{ "models", cmd_models, "", "list models" },
	{ "push", cmd_push,
	  "MODEL PATH [-m MSG] [-b BRANCH] [--parent MODEL@REF ...] [--meta KEY=VALUE ...] "
	  "[--author NAME] [--exclude GLOB ...] [-L|--follow-symlinks]",
	  "store a file or directory as a new version" },
	{ "pull", cmd_pull,
	  "MODEL@REF [PATH ...] [-o DIR] [--include GLOB ...] [--exclude GLOB ...] [--force] "
	  "[--cache-copy]",
	  "write a version's files (or some of them) to a directory; resumes" },
	{ "ls", cmd_ls, "MODEL@REF [PATH] [-t|--tensors]",
	  "list a version's files (sizes, ids; -t: tensors with dtype and shape)" },
	{ "cat", cmd_cat, "MODEL@REF PATH [--range A-B]",
	  "write a file of a version (or bytes A..B of it) to stdout, verified" },
	{ "log", cmd_log, "MODEL [-b BRANCH | --all] [-n N] [--oneline] [--graph]",
	  "list a model's versions, newest first (--all: every branch, as a graph)" },
	{ "show", cmd_show, "MODEL@REF", "show a version and its files" },
	{ "tag", cmd_tag, "MODEL@REF NAME", "name a version (tags never move)" },
	{ "tags", cmd_tags, "MODEL", "list tags" },
	{ "branch", cmd_branch, "MODEL NAME [MODEL@REF] | -d MODEL NAME",
	  "create (or delete) a branch" },
	{ "branches", cmd_branches, "MODEL", "list branches" },
	{ "lineage", cmd_lineage,
	  "MODEL@REF [--ancestors | --descendants | --both] [--depth N] [--format text|json|dot|mermaid]",
	  "where a version came from (and what came of it), across models" },
	{ "merge-base", cmd_merge_base, "MODEL@A MODEL@B", "lowest common ancestor(s) of two versions" },
	{ "diff", cmd_diff, "MODEL@A [MODEL@]B [--stat] [--tensors]",
	  "files, tensors and metadata that differ between two versions" },
	{ "merge", cmd_merge,
	  "MODEL SOURCE [--into BRANCH] [-m MSG] [--ours | --theirs] [--resolve PATH=ours|theirs ...]",
	  "merge a version (a branch, or MODEL@REF) into a branch" },
	{ "serve", cmd_serve,
	  "[--listen ADDR:PORT] [--threads N] [--read-only] [--allow-anonymous-read]",
	  "run the HTTP server over the store" },
	{ "token", cmd_token,
	  "create --scope read|write|admin [--model GLOB] [--expires DURATION] [-d TEXT] | list | revoke ID",
	  "manage the server's API tokens" },
	{ "deploy", cmd_deploy,
	  "MODEL@REF ENV [--weight N] [--endpoint URL] [-m REASON] [--expect-revision N]",
	  "point an environment at a version (with a weight: alongside the others)" },
	{ "undeploy", cmd_undeploy, "MODEL@REF ENV", "take a version out of an environment" },
	{ "deployments", cmd_deployments, "MODEL [ENV]", "what each environment serves now" },
	{ "deploy-log", cmd_deploy_log, "MODEL ENV", "every change of an environment, newest first" },
	{ "rollback", cmd_rollback, "MODEL ENV [--to REVISION] [-m REASON]",
	  "restore the previous (or a named) revision of an environment" },
	{ "watch", cmd_watch, "MODEL ENV [--exec CMD] [--dir DIR] [--interval S] [--once]",
	  "pull each new deployment and run a hook (hot update)" },
	{ "status", cmd_status, "MODEL ENV", "live per-version counters from a server (--remote)" },
	{ "delete", cmd_delete, "MODEL@REF",
	  "delete a version that no branch, tag or deployment reaches" },
	{ "gc", cmd_gc, "[--grace DURATION] [--dry-run]",
	  "remove packs, chunks and objects that no version uses" },
	{ "verify", cmd_verify, "[--quick]",
	  "check what every version needs: re-read and re-hash every stored byte (--quick: "
	  "that it is there); list orphans" },
	{ "stats", cmd_stats, "", "sizes, dedup and compression of the store" },
};

const cli_cmd *cli_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cli_print_usage(const cli_cmd *c)
{
	printf("usage: mvms-store %s %s\n  %s\n", c->name, c->usage, c->summary);
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: mvms-store [--store DIR | --remote URL [--token T]] [--json] [-q] COMMAND [ARGS]\n\n"
		   "A content-addressed store for model artifacts with a version DAG.\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nThe store is --store DIR, else $MVMS_STORE, else "
		   "$XDG_DATA_HOME/mvms-store (~/.local/share/mvms-store).\n"
		   "With --remote URL (or $MVMS_REMOTE), push, pull, log, show and models talk to an\n"
		   "mvms-store server instead, with --token (or $MVMS_TOKEN).\n"
		   "'mvms-store help COMMAND' shows a command's options.\n");
}

/* Takes the global options out of argv wherever they stand, so that each command's
 * getopt_long sees only its own. Stops at "--". */
static int extract_globals(int *argc, char **argv)
{
	int i, j = 1;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strcmp(a, "--json") == 0) {
			cli.json = 1;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			cli.quiet = 1;
		} else if (strcmp(a, "--store") == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "mvms-store: --store needs a directory\n");
				return -1;
			}
			cli.store = argv[++i];
		} else if (strncmp(a, "--store=", 8) == 0) {
			cli.store = a + 8;
		} else if (strcmp(a, "--remote") == 0 || strcmp(a, "--token") == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "mvms-store: %s needs a value\n", a);
				return -1;
			}
			if (a[2] == 'r')
				cli.remote = argv[++i];
			else
				cli.token = argv[++i];
		} else if (strncmp(a, "--remote=", 9) == 0) {
			cli.remote = a + 9;
		} else if (strncmp(a, "--token=", 8) == 0) {
			cli.token = a + 8;
		} else {
			argv[j++] = argv[i];
		}
	}
	argv[j] = NULL;
	*argc = j;
	return 0;
}

int main(int argc, char **argv)
{
	const cli_cmd *c;

	if (extract_globals(&argc, argv) < 0)
		return EXIT_USAGE;
	if (!cli.remote && getenv("MVMS_REMOTE") && *getenv("MVMS_REMOTE"))
		cli.remote = getenv("MVMS_REMOTE");
	if (!cli.token && getenv("MVMS_TOKEN") && *getenv("MVMS_TOKEN"))
		cli.token = getenv("MVMS_TOKEN");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("mvms-store %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return EXIT_OK;
		}
		if (!(c = cli_find(argv[2]))) {
			fprintf(stderr, "mvms-store: unknown command '%s'\n", argv[2]);
			return EXIT_USAGE;
		}
		cli_print_usage(c);
		return EXIT_OK;
	}
	if (!(c = cli_find(argv[1]))) {
		fprintf(stderr, "mvms-store: unknown command '%s' (see 'mvms-store --help')\n", argv[1]);
		return EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
