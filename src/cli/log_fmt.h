/* SPDX-License-Identifier: MIT */
/*
 * What `log` lists and how: the versions of one branch, of the model, or (--all) of the
 * model and everything its branches reach; -n; the default line, --oneline, and the graph.
 */
#ifndef CLI_LOG_FMT_H
#define CLI_LOG_FMT_H

#include <stdint.h>
#include <stdio.h>
#include "mvms.h"

typedef struct log_opts {
	const char *branch;        /* NULL: every version of the model */
	int all;                   /* every branch, across models; drawn as a graph */
	int graph;                 /* draw the DAG (git log --graph) */
	int oneline;               /* short id, vN, first line of the message, refs */
	int64_t max;               /* -n: at most this many (-1: no limit) */
} log_opts;

/**
 * The versions `log @model` shows, newest first (children before parents when drawn as a
 * graph), at most o->max of them; for a graph all of them, of which log_print draws the
 * first o->max rows. 0 or a negative MVMS_E* (with its message).
 */
int log_collect(mvms_version_info ***out, size_t *count, mvms_store *st, const char *model,
		const log_opts *o);

/* Prints @list as text (one line per version, with the graph when asked). 0, or -1 when
 * out of memory. */
int log_print(FILE *out, mvms_version_info **list, size_t n, const char *model,
	      const log_opts *o);

#endif
