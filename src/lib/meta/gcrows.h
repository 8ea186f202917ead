/* SPDX-License-Identifier: MIT */
/*
 * The rows gc and version delete read and remove: what holds a version (the reachability
 * CTE from branches, tags and current deployment targets), whether a pack, a chunk list or
 * a manifest is still referenced, contents no version uses, and a pack's index rows.
 * The queries alone; what to remove, and when, is decided in ops/gc.c and ops/sweep.c.
 */
#ifndef MVMS_GCROWS_H
#define MVMS_GCROWS_H

#include "db.h"

/* What holds version @row: "branch main", "tag release-1", "deployment prod", "" when
 * nothing does. */
int mvms_gcrows_holder(char *out, size_t n, mvms_db *db, int64_t row);
/* How many versions have @row as a parent; how many deployment revisions target it. */
int mvms_gcrows_children(int64_t *out, mvms_db *db, int64_t row);
int mvms_gcrows_deployed(int64_t *out, mvms_db *db, int64_t row);
/* Deletes version @row with its files, metadata and parent rows (in the caller's
 * transaction). */
int mvms_gcrows_delete_version(mvms_db *db, int64_t row);

/* 1 when referenced, 0 when not, negative on a database error. With @dry (nothing was
 * removed yet) only rows that would stay count: contents some file uses or written after
 * @cutoff. */
int mvms_gcrows_pack_used(mvms_db *db, const mvms_oid *pack, int dry, int64_t cutoff);
int mvms_gcrows_content_kept(mvms_db *db, const mvms_oid *content, int dry, int64_t cutoff);
/* 1 when the pack has index rows, 1 when a version has manifest @id; 0 when not. */
int mvms_gcrows_pack_indexed(mvms_db *db, const mvms_oid *pack);
int mvms_gcrows_manifest_used(mvms_db *db, const mvms_oid *id);

/* Calls @cb for every pack row (its id and when it was written); a negative return of @cb
 * stops and is returned. Rows with a malformed id are skipped. */
typedef int (*mvms_gcrows_pack_cb)(const mvms_oid *pack, int64_t created_at, void *payload);
int mvms_gcrows_packs(mvms_db *db, mvms_gcrows_pack_cb cb, void *payload);

/* Contents written at or before @cutoff that no file uses: how many; drop them (with their
 * chunk lists and tensors). */
int mvms_gcrows_unused_contents(uint64_t *out, mvms_db *db, int64_t cutoff);
int mvms_gcrows_drop_unused_contents(mvms_db *db, int64_t cutoff);
/* Drops a pack's index rows (chunks, then the pack); *chunks += the chunk rows dropped. */
int mvms_gcrows_drop_pack(uint64_t *chunks, mvms_db *db, const mvms_oid *pack);

#endif
