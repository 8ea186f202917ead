/* SPDX-License-Identifier: MIT */
/*
 * Every command and every option of mvms-store, in one table. The parser (cli_getopt builds
 * getopt_long's struct option[] and short-option string from it), `help CMD` and
 * `CMD --help`, the man page and the bash and zsh completions (help.c) are all made from
 * these rows, so none of them can miss an option: an option exists once it has a row here
 * and a case in its command's switch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* Options that may stand anywhere on the line (main.c takes them out first). */
const cli_opt cli_global_opts[] = {
	{ "store", 0, 'S', "DIR", "the store's directory (else $MVMS_STORE, the config's store, "
				  "$XDG_DATA_HOME/mvms-store)" },
	{ "remote", 0, 'R', "URL|NAME", "talk to an mvms-store server: a URL, or a remote of the "
					"config (else $MVMS_REMOTE, the config's remote)" },
	{ "token", 0, 'T', "TOKEN", "the server's API token (else $MVMS_TOKEN, the remote's token)" },
	{ "json", 0, 'j', NULL, "print one JSON document on stdout (errors too)" },
	{ "quiet", 'q', 'q', NULL, "no progress bar, no chatter" },
	{ NULL, 0, 0, NULL, NULL },
};

#define END { NULL, 0, 0, NULL, NULL }

static const cli_opt no_opts[] = { END };

static const cli_opt init_opts[] = {
	{ "chunk-avg", 0, 'c', "SIZE", "average chunk size (min and max follow from it)" },
	{ "level", 0, 'l', "N", "zstd compression level, 1 to 22" },
	{ "pack-size", 0, 'p', "SIZE", "size at which a pack file is closed" },
	{ "backend", 0, 'b', "URL", "keep objects in a bucket: s3://BUCKET[/PREFIX] or gs://BUCKET[/PREFIX]" },
	END
};

static const cli_opt register_opts[] = {
	{ "description", 'd', 'd', "TEXT", "what the model is" },
	END
};

static const cli_opt push_opts[] = {
	{ "message", 'm', 'm', "MSG", "the version's message" },
	{ "branch", 'b', 'b', "BRANCH", "the branch to advance (default: main)" },
	{ "parent", 0, 'P', "MODEL@REF", "another parent, in this model or another (repeatable)" },
	{ "meta", 0, 'M', "KEY=VALUE", "a metadata entry (repeatable)" },
	{ "author", 0, 'A', "NAME", "the author (else $MVMS_AUTHOR, the config, git, the login name)" },
	{ "exclude", 0, 'X', "GLOB", "leave out what a gitignore line GLOB names, after the root "
				    ".mvmsignore's (repeatable); .git/ is never pushed" },
	{ "follow-symlinks", 'L', 'L', NULL, "store what symbolic links point to (a Hugging Face "
					     "cache snapshot), instead of refusing them" },
	END
};

static const cli_opt pull_opts[] = {
	{ "output", 'o', 'o', "DIR", "where to write the files (default: the model's name)" },
	{ "force", 'f', 'f', NULL, "overwrite files of the version that are there with other content" },
	{ "cache-copy", 0, 'C', NULL, "copy the files into the store's cache (reads need not touch packs)" },
	{ "include", 0, 'I', "GLOB", "only files matching GLOB, as fnmatch(3) ('*' matches '/' too; "
				     "repeatable)" },
	{ "exclude", 0, 'X', "GLOB", "not files matching GLOB (repeatable)" },
	{ "require-signature", 0, 'r', "PUBKEY", "refuse, before writing anything, unless the "
						 "version has a valid signature by PUBKEY "
						 "(ed25519:... or a key file; repeatable: any one)" },
	END
};

static const cli_opt ls_opts[] = {
	{ "tensors", 't', 't', NULL, "each safetensors file's tensors, with dtype and shape" },
	END
};

static const cli_opt cat_opts[] = {
	{ "range", 0, 'r', "A-B", "bytes A to B inclusive (A-: to the end, -N: the last N), as HTTP" },
	END
};

static const cli_opt log_opts[] = {
	{ "branch", 'b', 'b', "BRANCH", "only the versions a branch reaches" },
	{ "max-count", 'n', 'n', "N", "at most N versions" },
	{ "oneline", 0, 'o', NULL, "one short line per version" },
	{ "all", 0, 'a', NULL, "every branch, as a graph" },
	{ "graph", 0, 'g', NULL, "draw the DAG beside the versions (as git log --graph)" },
	END
};

static const cli_opt branch_opts[] = {
	{ "delete", 'd', 'd', NULL, "delete the branch (the default branch only with --force)" },
	{ "force", 'f', 'f', NULL, "move the branch (alone, as git's -f); with -d: also the default "
				   "branch" },
	{ "expect", 0, 'e', "REF", "with -f: move only if the branch is at REF now (else exit 4)" },
	{ "move", 'm', 'm', NULL, "rename: MODEL OLD NEW" },
	{ "default", 0, 'D', NULL, "show (MODEL) or set (MODEL NAME) the default branch" },
	END
};

static const cli_opt tag_opts[] = {
	{ "delete", 'd', 'd', NULL, "delete a tag: MODEL NAME" },
	END
};

static const cli_opt delete_opts[] = {
	{ "no-move", 0, 'N', NULL, "refuse when a branch points at the version (else it moves to "
				   "the first live ancestor)" },
	{ "force", 'f', 'f', NULL, "also when a tag or a current deployment names it" },
	{ "dry-run", 'n', 'n', NULL, "say what would happen, change nothing" },
	{ "author", 0, 'a', "NAME", "who deletes it (default: the push author)" },
	END
};

static const cli_opt prune_opts[] = {
	{ "keep-last", 0, 'k', "N", "keep the newest N versions (required)" },
	{ "branch", 'b', 'b', "BRANCH", "only the versions the branch reaches" },
	{ "keep-tagged", 0, 't', NULL, "keep versions a tag names" },
	{ "keep-deployed", 0, 'd', NULL, "keep versions a current deployment names" },
	{ "older-than", 0, 'o', "DURATION", "only delete versions older than this (30d, 12h, 90m)" },
	{ "dry-run", 'n', 'n', NULL, "print what would go, delete nothing" },
	{ "author", 0, 'a', "NAME", "who deletes them (default: the push author)" },
	END
};

static const cli_opt model_opts[] = {
	{ "yes", 'y', 'y', NULL, "really delete (without it: say what would go, exit 2)" },
	{ "dry-run", 'n', 'n', NULL, "say what would go, delete nothing" },
	END
};

static const cli_opt lineage_opts[] = {
	{ "ancestors", 0, 'a', NULL, "where the version came from (the default)" },
	{ "descendants", 0, 'd', NULL, "what came of it" },
	{ "both", 0, 'B', NULL, "both directions" },
	{ "depth", 0, 'n', "N", "at most N steps away" },
	{ "format", 0, 'f', "FORMAT", "text, json, dot (Graphviz) or mermaid" },
	END
};

static const cli_opt diff_opts[] = {
	{ "stat", 0, 's', NULL, "files only, no metadata" },
	{ "tensors", 0, 't', NULL, "list each tensor that changed" },
	END
};

static const cli_opt merge_opts[] = {
	{ "into", 0, 'i', "BRANCH", "the branch that receives the merge (default: main)" },
	{ "message", 'm', 'm', "MSG", "the merge version's message" },
	{ "author", 0, 'A', "NAME", "the author (else $MVMS_AUTHOR, the config, git, the login name)" },
	{ "ours", 0, 'o', NULL, "resolve every conflict with the branch's side" },
	{ "theirs", 0, 't', NULL, "resolve every conflict with the source's side" },
	{ "resolve", 0, 'r', "PATH=ours|theirs", "resolve one file's conflict (repeatable)" },
	END
};

static const cli_opt serve_opts[] = {
	{ "listen", 0, 'l', "ADDR:PORT", "where to listen (default 127.0.0.1:8080; port 0: any)" },
	{ "threads", 0, 't', "N", "worker threads, 1 to 64" },
	{ "read-only", 0, 'r', NULL, "refuse every write" },
	{ "allow-anonymous-read", 0, 'a', NULL, "reads need no token" },
	{ "port-file", 0, 'p', "FILE", "write the bound port there (with --listen ...:0)" },
	{ "max-body", 0, 'b', "SIZE", "request body cap (default 1G)" },
	{ "max-uploads", 0, 'u', "N", "concurrent uploads (default 16)" },
	{ "timeout", 0, 'T', "SECONDS", "per read or write on a connection (default 60)" },
	{ "no-access-log", 0, 'n', NULL, "no JSON line per request on stderr" },
	{ "refresh", 0, 'f', "SECONDS",
	  "how old the refs a read sees may be (the bucket's log; default 1, 0: always fresh)" },
	END
};

static const cli_opt token_opts[] = {
	{ "scope", 's', 's', "SCOPE", "create: read, write or admin" },
	{ "model", 'm', 'm', "GLOB", "create: the models the token may touch (default *)" },
	{ "expires", 'e', 'e', "DURATION", "create: lifetime, e.g. 30m, 12h, 7d, 2w" },
	{ "description", 'd', 'd', "TEXT", "create: what the token is for" },
	END
};

static const cli_opt deploy_opts[] = {
	{ "weight", 0, 'w', "N", "share of the traffic, relative to the others (default: all of it)" },
	{ "endpoint", 0, 'e', "URL", "the inference server that serves this version" },
	{ "message", 'm', 'm', "REASON", "why (kept in the deploy log)" },
	{ "expect-revision", 0, 'x', "N", "fail unless the environment is at revision N" },
	{ "canary", 0, 'c', "STEPS", "progressive rollout: the canary's share at each step, e.g. "
				     "5,25,50,100 (a server of the store drives it)" },
	{ "step-interval", 0, 'I', "DURATION", "rollout: least time at each step, e.g. 5m, 30s, "
					       "500ms (default 5m)" },
	{ "max-error-rate", 0, 'E', "RATE", "rollout: roll back when the canary's error rate at "
					    "a step is above RATE (0.02 = 2%)" },
	{ "max-p95-ms", 0, 'P', "MS", "rollout: roll back when the canary's p95 latency at a step "
				      "is above MS" },
	{ "min-requests", 0, 'N', "N", "rollout: canary requests a step needs before it is judged "
				       "(default 100)" },
	{ "compare-to-baseline", 0, 'B', NULL, "rollout: also roll back when the canary does worse "
					       "than the versions it replaces over the same window" },
	{ "shadow-first", 0, 'F', "N", "rollout: start with the canary as the shadow (serving "
				       "nothing) until N answers were compared, then the first step" },
	{ "max-diff-rate", 0, 'D', "RATE", "rollout: roll back when more than RATE of the shadow "
					   "phase's answers differ (0.05 = 5%)" },
	{ "notify", 0, 'n', "URL", "rollout: POST a JSON event to URL at each step, rollback, "
				   "pause and abort" },
	{ "pause", 0, 'p', NULL, "pause the rollout of MODEL ENV" },
	{ "resume", 0, 'r', NULL, "resume a paused rollout" },
	{ "abort", 0, 'a', NULL, "abort the rollout: roll back to the revision before it, now" },
	{ "shadow", 0, 's', "PERCENT", "make the version the shadow: it gets a copy of PERCENT % of "
				       "/predict requests, its answers compared, never returned" },
	{ "shadow-compare", 0, 'C', "json|bytes", "how the shadow's answers are compared with the "
						  "served ones (default json: key order and spacing ignored)" },
	{ "timeout", 0, 't', "SECONDS", "the environment's upstream timeout per attempt (default 30)" },
	{ "retries", 0, 'R', "N", "the environment's retries of a failed upstream attempt, 0 to 10 "
				  "(default 1; see docs/deployments.md for which failures)" },
	END
};

static const cli_opt rollback_opts[] = {
	{ "to", 0, 't', "REVISION", "restore this revision (default: the previous one)" },
	{ "message", 'm', 'm', "REASON", "why (kept in the deploy log)" },
	{ "expect-revision", 0, 'x', "N", "fail unless the environment is at revision N" },
	END
};

static const cli_opt watch_opts[] = {
	{ "exec", 0, 'e', "CMD", "run CMD after each update ($MVMS_DIR, $MVMS_VERSION, ... set)" },
	{ "dir", 0, 'd', "DIR", "where versions are pulled (default: .)" },
	{ "interval", 0, 'i', "SECONDS", "between polls of a local store (default 2)" },
	{ "once", 0, 'o', NULL, "one update, then exit" },
	END
};

static const cli_opt gc_opts[] = {
	{ "grace", 0, 'g', "DURATION", "keep unused objects younger than this (default 1h)" },
	{ "dry-run", 'n', 'n', NULL, "list what would go, remove nothing" },
	END
};

static const cli_opt verify_opts[] = {
	{ "quick", 0, 'q', NULL, "check that each object is there, without re-reading it" },
	{ "signatures", 0, 's', NULL, "check the signatures of MODEL@REF instead: exit 1 if one "
				      "is invalid, 3 if there is none" },
	{ "key", 0, 'k', "PUBKEY", "with --signatures: exit 4 unless one valid signature is by "
				   "PUBKEY (ed25519:... or a key file)" },
	END
};

static const cli_opt key_opts[] = {
	{ "out", 'o', 'o', "FILE", "generate: the secret key file (default: signing.key in the "
				   "configuration directory); the public key goes to FILE.pub" },
	END
};

static const cli_opt sign_opts[] = {
	{ "key", 'k', 'k', "FILE", "the secret key file (default: signing.key in the "
				   "configuration directory)" },
	{ "statement", 's', 's', "TEXT", "what the signature says, e.g. \"approved-for: prod\" "
					 "(printable ASCII, at most 256 bytes)" },
	END
};

static const cli_opt env_opts[] = {
	{ "require-signature", 0, 'r', "PUBKEY", "policy: deploys and rollbacks to ENV (of every "
						 "model) need a valid signature by one of these "
						 "keys (ed25519:... or a key file; repeatable)" },
	{ "clear", 0, 'c', NULL, "policy: remove ENV's signature policy" },
	END
};

static const cli_opt remote_opts[] = {
	{ "token-file", 0, 't', "FILE", "add: the remote's token, read from FILE ('-': stdin)" },
	END
};

static const cli_cmd commands[] = {
	{ "init", cmd_init, "", "create a store (parameters are recorded in it)", init_opts },
	{ "register", cmd_register, "MODEL", "register a model", register_opts },
	{ "models", cmd_models, "", "list models", no_opts },
	{ "push", cmd_push, "MODEL PATH", "store a file or directory as a new version", push_opts },
	{ "pull", cmd_pull, "MODEL@REF [PATH ...]",
	  "write a version's files (or some of them) to a directory; resumes", pull_opts },
	{ "ls", cmd_ls, "MODEL@REF [PATH]",
	  "list a version's files (sizes, ids, times; -t: tensors with dtype and shape)", ls_opts },
	{ "cat", cmd_cat, "MODEL@REF PATH",
	  "write a file of a version (or bytes A..B of it) to stdout, verified", cat_opts },
	{ "log", cmd_log, "MODEL", "list a model's versions, newest first (--all: every branch, as a "
	  "graph)", log_opts },
	{ "show", cmd_show, "MODEL@REF", "show a version and its files", no_opts },
	{ "tag", cmd_tag, "MODEL@REF NAME | -d MODEL NAME",
	  "name a version (tags never move), or delete a tag", tag_opts },
	{ "tags", cmd_tags, "MODEL", "list tags", no_opts },
	{ "branch", cmd_branch,
	  "MODEL NAME [MODEL@REF] | -f MODEL NAME MODEL@REF | -d MODEL NAME | -m MODEL OLD NEW | "
	  "--default MODEL [NAME]",
	  "create, move, delete or rename a branch; show or set the default branch", branch_opts },
	{ "branches", cmd_branches, "MODEL", "list branches", no_opts },
	{ "lineage", cmd_lineage, "MODEL@REF",
	  "where a version came from (and what came of it), across models", lineage_opts },
	{ "merge-base", cmd_merge_base, "MODEL@A MODEL@B", "lowest common ancestor(s) of two versions",
	  no_opts },
	{ "diff", cmd_diff, "MODEL@A [MODEL@]B",
	  "files, tensors and metadata that differ between two versions", diff_opts },
	{ "merge", cmd_merge, "MODEL SOURCE",
	  "merge a version (a branch, or MODEL@REF) into a branch", merge_opts },
	{ "serve", cmd_serve, "", "run the HTTP server over the store", serve_opts },
	{ "token", cmd_token, "create --scope SCOPE [OPTIONS] | list | revoke ID | whoami",
	  "manage the server's API tokens", token_opts },
	{ "deploy", cmd_deploy, "MODEL@REF ENV",
	  "point an environment at a version (with a weight: alongside the others)", deploy_opts },
	{ "undeploy", cmd_undeploy, "MODEL@REF ENV", "take a version out of an environment", no_opts },
	{ "deployments", cmd_deployments, "MODEL [ENV]", "what each environment serves now", no_opts },
	{ "deploy-log", cmd_deploy_log, "MODEL ENV", "every change of an environment, newest first",
	  no_opts },
	{ "rollback", cmd_rollback, "MODEL ENV",
	  "restore the previous (or a named) revision of an environment", rollback_opts },
	{ "rollout", cmd_rollout, "MODEL ENV", "the progressive rollout of an environment: its "
						"step, guards and last decision", no_opts },
	{ "watch", cmd_watch, "MODEL ENV", "pull each new deployment and run a hook (hot update)",
	  watch_opts },
	{ "status", cmd_status, "MODEL ENV", "live per-version counters from a server (--remote)",
	  no_opts },
	{ "delete", cmd_delete, "MODEL@REF",
	  "delete a version anywhere in the history (it stays as a tombstone; gc frees its bytes)",
	  delete_opts },
	{ "prune", cmd_prune, "MODEL", "delete old versions by a retention rule, printing what goes",
	  prune_opts },
	{ "model", cmd_model, "delete MODEL", "delete a model with its versions, refs and deployments",
	  model_opts },
	{ "gc", cmd_gc, "", "remove packs, chunks and objects that no version uses", gc_opts },
	{ "key", cmd_key, "generate [--out FILE] | show [FILE|PUBKEY]",
	  "make an Ed25519 signing key, or show a key's public half and id", key_opts },
	{ "sign", cmd_sign, "MODEL@REF",
	  "sign a version (its id, its model and a statement); kept in the store", sign_opts },
	{ "env", cmd_env, "policy ENV [--require-signature PUBKEY ...] [--clear]",
	  "show, set or clear the signature policy of an environment", env_opts },
	{ "verify", cmd_verify, "[--signatures MODEL@REF [--key PUBKEY]]",
	  "check what every version needs: re-read and re-hash every stored byte (--quick: that it "
	  "is there); list orphans", verify_opts },
	{ "stats", cmd_stats, "", "sizes, dedup and compression of the store", no_opts },
	{ "reindex", cmd_reindex, "",
	  "rebuild the database from the bucket alone (its log, packs and chunk lists)", no_opts },
	{ "remote", cmd_remote, "add NAME URL [--token-file FILE] | list | remove NAME",
	  "name servers in the configuration file (--remote NAME)", remote_opts },
	{ NULL, NULL, NULL, NULL, NULL },
};

const cli_opt cli_help_opt = { "help", 'h', 'h', NULL, "show this help" };

const cli_cmd *cli_commands(void)
{
	return commands;
}

const cli_cmd *cli_find(const char *name)
{
	size_t i;

	for (i = 0; commands[i].name; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* getopt_long's tables for @c: its rows and --help. Built once per process (one command
 * runs per process; a subcommand parses with its command's table). */
static struct option longopts[64];
static char shortopts[3 * 64 + 2];
static const cli_cmd *built;

static void build(const cli_cmd *c)
{
	const cli_opt *o;
	size_t n = 0, s = 0;

	shortopts[s++] = ':'; /* a missing argument is ':', told apart from an unknown option */
	for (o = c->opts;; o++) {
		const cli_opt *x = o->name ? o : &cli_help_opt;
		if (n + 2 >= sizeof(longopts) / sizeof(longopts[0]))
			abort(); /* a table longer than 62 options is a bug of this file */
		longopts[n].name = x->name;
		longopts[n].has_arg = x->arg ? required_argument : no_argument;
		longopts[n].flag = NULL;
		longopts[n].val = x->key;
		n++;
		if (x->letter) {
			shortopts[s++] = (char)x->letter;
			if (x->arg)
				shortopts[s++] = ':';
		}
		if (!o->name)
			break;
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));
	shortopts[s] = '\0';
	built = c;
}

int cli_getopt(int argc, char **argv, const char *cmd)
{
	const cli_cmd *c = cli_find(cmd);
	int r;

	if (!c)
		abort(); /* a command parsing with a table that does not exist: a bug */
	if (built != c)
		build(c);
	opterr = 0;
	r = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (r == '?' || r == ':') {
		const char *arg = argv[optind - 1];
		if (r == ':')
			cli_usage_error(cmd, "%s needs a value", arg ? arg : "an option");
		else if (optopt && optopt < 128 && optopt > ' ' && (!arg || strncmp(arg, "--", 2)))
			cli_usage_error(cmd, "unknown option '-%c'", optopt);
		else
			cli_usage_error(cmd, "unknown option '%s'", arg ? arg : "?");
		return CLI_BAD_OPTION;
	}
	return r;
}

int cli_plain_args(int *argc, char ***argv, const char *cmd)
{
	int c;

	while ((c = cli_getopt(*argc, *argv, cmd)) != -1) {
		if (c == 'h') {
			cli_print_usage(cli_find(cmd));
			return EXIT_OK;
		}
		return cli_bad_option(cmd, c);
	}
	/* The arguments as argv[1..]: what the command read before it had a parser. */
	*argc -= optind - 1;
	*argv += optind - 1;
	return -1;
}

int cli_bad_option(const char *cmd, int c)
{
	/* cli_getopt told what was wrong; any other key has a row and no case: a bug here. */
	if (c == CLI_BAD_OPTION)
		return EXIT_USAGE;
	return cli_usage_error(cmd, "option '%c' has no case in the parser", c);
}
