/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the mvms-store command line: global options, store opening, error
 * reporting with exit codes, JSON output, sizes, the progress bar. Commands call libmvms
 * only (never SQLite or a backend directly).
 */
#ifndef MVMS_CLI_H
#define MVMS_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <getopt.h>
#include <cjson/cJSON.h>
#include "mvms.h"
#include "views.h"

/* Exit codes (documented in docs/user-guide.md). */
#define EXIT_OK 0
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_NOTFOUND 3
#define EXIT_CONFLICT 4

struct cli_globals {
	const char *store;  /* --store, $MVMS_STORE, the config's store, or the XDG default */
	int json;           /* --json: one JSON document on stdout */
	int quiet;          /* -q: no progress, no chatter */
	const char *remote; /* the URL of --remote, $MVMS_REMOTE or the config's remote */
	int remote_explicit; /* the remote came from --remote or $MVMS_REMOTE, not the config */
	const char *token;  /* --token, $MVMS_TOKEN, the remote's token or the config's */
};
extern struct cli_globals cli;

/* One option of a command (options.c): the parser, the help, the man page and the shell
 * completions are all made from these rows. */
typedef struct cli_opt {
	const char *name;   /* the long name, without "--" */
	int letter;         /* the short option (-m), 0 for none */
	int key;            /* what cli_getopt returns for it (the letter when there is one) */
	const char *arg;    /* the argument's name ("SIZE"), NULL for a flag */
	const char *help;
} cli_opt;

typedef struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;   /* the arguments: "MODEL PATH" (options come from @opts) */
	const char *summary;
	const cli_opt *opts; /* ends with a row whose name is NULL; --help is implied */
} cli_cmd;

extern const cli_opt cli_global_opts[];
extern const cli_opt cli_help_opt;
/* The command table, ending with a NULL name. */
const cli_cmd *cli_commands(void);
#define CLI_BAD_OPTION (-2)
/* getopt_long over @cmd's option table: a key, 'h' for --help, -1 at the end, or
 * CLI_BAD_OPTION after printing the usage error (unknown option, missing value). */
int cli_getopt(int argc, char **argv, const char *cmd);
/* The default case of a command's option switch: EXIT_USAGE (reported once). */
int cli_bad_option(const char *cmd, int c);
/* For a command with no options but --help: -1 to go on with the arguments in (*argv)[1..],
 * else the exit code (help printed, or a bad option reported). */
int cli_plain_args(int *argc, char ***argv, const char *cmd);
/* help.c: the top-level help; the man page; a bash or zsh completion script (0, or -1 for
 * an unknown shell). */
void cli_print_help(FILE *f);
void cli_print_man(FILE *f);
int cli_print_completion(FILE *f, const char *shell);

/* Opens the selected store: the server's with --remote (or $MVMS_REMOTE, or the config's
 * remote), else the local one, which must exist (else exit 3, "no store at PATH"). Prints
 * the error and returns the exit code on failure, 0 on success. */
int cli_open_store(mvms_store **out);
/* The same for a command that may make the store (push): created on first use. */
int cli_open_store_create(mvms_store **out);
/* 0 when the local store (cli_store_dir) exists, else the exit code after saying so: for
 * serve, which must not make a store a typo named. */
int cli_local_store_exists(void);
/* 0, or EXIT_USAGE (after saying so) when --remote or $MVMS_REMOTE is given to @cmd, which
 * works on a local store only (init, serve). */
int cli_local_only(const char *cmd);
/* The store directory chosen by --store, $MVMS_STORE or the XDG default. */
const char *cli_store_dir(void);
/* The exit code of an MVMS_E* code: 3 not found, 4 exists or conflict, else 1. */
int cli_exit_code(int code);
/* Prints "mvms-store: <last error>" (with --json also the error document on stdout) and
 * returns the exit code for an MVMS_E* code. */
int cli_fail(int code);
/* An error of the command line itself: prints "mvms-store: <msg>" (with --json also
 * {"error":{"code":@code,"message":msg}} on stdout) and returns @exit_code. */
int cli_error(int exit_code, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints "mvms-store: <msg>" and a usage hint for @cmd (NULL: none; with --json the error
 * document, code "usage"); returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the configuration file (config.c) ---- */
const char *cli_config_path(void);
/* Reads the config once (a missing file is an empty one). A bad line: "PATH:LINE: what",
 * exit code EXIT_ERROR. */
int cli_config_load(void);
/* A top-level value: "store", "remote", "token" or "author"; NULL when unset. */
const char *cli_config_get(const char *key);
/* The url and token (NULL if none) of remote @name: 0, or -1 when there is none. */
int cli_config_remote(const char **url, const char **token, const char *name);
/* The token of the remote whose url is @url, or NULL. */
const char *cli_config_token_for_url(const char *url);
size_t cli_config_remote_count(void);
void cli_config_remote_at(size_t i, const char **name, const char **url, int *has_token);
int cli_remote_name_ok(const char *name);
/* Adds [remote NAME] (the caller checked it is new), or removes it (and the default remote
 * when it named it: *was_default). Atomic; 0 or the exit code after printing the error. */
int cli_config_remote_add(const char *name, const char *url, const char *token);
int cli_config_remote_remove(const char *name, int *was_default);
/* Resolves --remote NAME|URL, $MVMS_REMOTE and the config's default remote into cli.remote
 * (a URL) and the token; 0 or the exit code after printing the error. */
int cli_select_remote(const char *flag_remote, const char *flag_token);
/* The author of a new version or deployment: @flag (--author), $MVMS_AUTHOR, the config's
 * author, git's "user.name <user.email>", the login name; NULL only when none exists. */
const char *cli_author(const char *flag);
/* Parses "30m", "12h", "7d", "2w", "90s" or plain seconds (0 only with @zero_ok) into
 * seconds. -1 on a bad value. */
int cli_parse_duration(int64_t *out, const char *s, int zero_ok);
/* Parses "64M", "8KiB", "1G", "12345" (binary units). -1 on a bad value. */
int cli_parse_size(uint64_t *out, const char *s);
/* "1.5 GiB" */
const char *cli_human(char *buf, size_t n, uint64_t bytes);

/* Prints a JSON document (and a newline) on stdout, then frees it. */
void cli_print_json(cJSON *doc);
/* The command named @name (NULL if none), and its help (usage, summary, options) printed to
 * stdout. */
const cli_cmd *cli_find(const char *name);
void cli_print_usage(const cli_cmd *c);

/* Progress bar on stderr when it is a terminal and not -q. */
typedef struct cli_progress {
	const char *label;
	int enabled;
	double start, last;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_cb(uint64_t done, uint64_t total, void *payload);
void cli_progress_end(cli_progress *p);

int cmd_init(int argc, char **argv);
int cmd_register(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_tags(int argc, char **argv);
int cmd_branch(int argc, char **argv);
int cmd_branches(int argc, char **argv);
int cmd_lineage(int argc, char **argv);
int cmd_merge_base(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_undeploy(int argc, char **argv);
int cmd_deployments(int argc, char **argv);
int cmd_deploy_log(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
/* deploy's rollout options (cmd_rollout.c): what cmd_deploy collects and hands over. */
typedef struct cli_rollout_args {
	mvms_rollout_options o;
	int used;                  /* a rollout option was given */
	int action;                /* MVMS_ROLLOUT_PAUSE, ... (0: start one with --canary) */
} cli_rollout_args;
void cli_rollout_init(cli_rollout_args *a);
/* Takes option @c of deploy if it is a rollout option: 0 when taken, 1 when it is not one,
 * else the exit code of a usage error (printed). */
int cli_rollout_opt(cli_rollout_args *a, int c, const char *arg);
/* Runs what the rollout options ask, with deploy's --endpoint/--message in @d. */
int cli_rollout_run(cli_rollout_args *a, const mvms_deploy_options *d, int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_remote(int argc, char **argv);



#endif
