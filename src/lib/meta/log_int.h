/* SPDX-License-Identifier: MIT */
/*
 * The store's log, shared by log.c (writing, reading, applying entries) and log_ops.c (what a
 * row change looks like in an entry). docs/formats.md, "The log", describes the format.
 */
#ifndef MVMS_LOG_INT_H
#define MVMS_LOG_INT_H

#include "store_int.h"

/* One kind of row change: @t names it in an entry; @table and @event make its capture
 * trigger (AFTER @event ON @table) whose body is mvms_log_op(@capture); an INSERT's
 * @capture reads the row as "R." so that a snapshot (@order: the row order) reuses it.
 * @apply (NULL: done in C) replays it with the op as ?1. */
typedef struct mvms_log_spec {
	const char *t, *table, *event, *order, *capture, *apply;
} mvms_log_spec;

extern const mvms_log_spec mvms_log__specs[];
extern const size_t mvms_log__nspecs;
const mvms_log_spec *mvms_log__spec(const char *t);

/* Set up at open (store.c): capture triggers, the commit hook, the first entry of a store
 * that predates the log, and a first catch-up. Nothing when the backend cannot create
 * objects only if absent (then the store has one writer, its database). */
int mvms_log__open(mvms_store *st);
/* Catches up with the log: applies the entries after the last one this database has. */
int mvms_log__catch_up(mvms_store *st);
/* 1 when the last failed commit lost the race for its log entry (retry after catching up),
 * and clears that. */
int mvms_log__lost(mvms_store *st);
/* After a failed commit (@error): 1 when it lost its log entry to another writer and the
 * database has caught up, so the caller runs its transaction again (its checks too: a branch
 * that moved is then the usual conflict); 0 otherwise, or after too many tries (*attempt
 * counts them; NULL: no limit, no pause). */
int mvms_log__retry(mvms_store *st, int error, unsigned *attempt);

#endif
