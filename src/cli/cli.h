/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the mvms-store command line: global options, store opening, error
 * reporting with exit codes, JSON output, sizes, the progress bar. Commands call libmvms
 * only (never SQLite or a backend directly).
 */
#ifndef MVMS_CLI_H
#define MVMS_CLI_H

#include <stdint.h>
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
	const char *store;  /* --store, $MVMS_STORE, or the XDG default */
	int json;           /* --json: one JSON document on stdout */
	int quiet;          /* -q: no progress, no chatter */
	const char *remote; /* --remote URL or $MVMS_REMOTE: talk to a server */
	const char *token;  /* --token or $MVMS_TOKEN */
};
extern struct cli_globals cli;

typedef struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;   /* "MODEL PATH [-m MSG] ..." */
	const char *summary;
} cli_cmd;

/* Opens the selected store: the server's with --remote (or $MVMS_REMOTE), else the local one
 * (created on first use). Prints the error and returns the exit code on failure, 0 on
 * success. */
int cli_open_store(mvms_store **out);
/* The store directory chosen by --store, $MVMS_STORE or the XDG default. */
const char *cli_store_dir(void);
/* Prints "mvms-store: <last error>" and returns the exit code for an MVMS_E* code. */
int cli_fail(int code);
/* Prints "mvms-store: <msg>" and a usage hint for @cmd; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses "64M", "8KiB", "1G", "12345" (binary units). -1 on a bad value. */
int cli_parse_size(uint64_t *out, const char *s);
/* "1.5 GiB" */
const char *cli_human(char *buf, size_t n, uint64_t bytes);

/* Prints a JSON document (and a newline) on stdout, then frees it. */
void cli_print_json(cJSON *doc);
/* The command named @name (NULL if none), and its usage text printed to stdout. */
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
int cmd_rollback(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);



#endif
