/* SPDX-License-Identifier: MIT */
/*
 * Deleting versions and collecting garbage. A deleted version stays in the DAG as a
 * tombstone without files (mvms/history.h); gc then removes what no version uses any more:
 * file contents, chunks (rewriting packs that hold both used and unused chunks, so that no
 * byte only a deleted version held is left), whole packs, and the manifests and chunk lists
 * of deleted versions.
 */
#ifndef MVMS_GC_H
#define MVMS_GC_H

#include <stdint.h>
#include "mvms/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Deletes version @spec: mvms_version_delete_ex (mvms/history.h) with no flags and the
 * default author. It stays in the DAG as a tombstone; branches at it move to its first
 * live ancestor; refused (MVMS_ECONFLICT) while a tag or current deployment names it.
 */
int mvms_version_delete(mvms_store *st, const char *spec);

typedef struct mvms_gc_result {
	uint64_t contents, chunks, packs;   /* rows removed (packs: pack objects removed) */
	uint64_t pack_bytes;                /* bytes of packs removed */
	uint64_t objects;                   /* manifests and chunk lists removed */
	uint64_t kept_young;                /* unused packs kept because they are younger than the grace */
	/* Added with the sweep over what the backend lists: */
	uint64_t object_bytes;              /* bytes of the manifests and chunk lists removed */
	uint64_t unindexed_packs;           /* of packs: ones no index row named (a killed gc or
					     * push, a disk full at the database step) */
	uint64_t missing_packs;             /* index rows of packs whose object was gone, removed */
	uint64_t temp_files, temp_bytes;    /* leftovers of killed pushes, merges and uploads */
	uint64_t kept_objects;              /* other unreferenced objects kept: too young */
	uint64_t leases;                    /* live leases honoured (pushes running) */
	uint64_t expired_leases;            /* leases of killed pushes, dropped (counted in a dry run) */
	int64_t cutoff;                     /* what was written after this time (Unix s) was kept */
	/* Added with deleted versions (mvms/history.h): packs holding both used and unused
	 * chunks are rewritten with the used ones only, so no byte only a deleted version held
	 * is left. */
	uint64_t rewritten_packs;           /* packs rewritten (the old ones count in packs) */
	uint64_t rewritten_chunks;          /* unused chunks dropped from them */
} mvms_gc_result;

/**
 * Removes file contents no version uses, chunks no content uses, and packs none of whose
 * chunks is used, if they are older than @grace_seconds (packs a push is still writing are
 * young); then the objects of deleted versions and contents. With @dry_run, only counts.
 * Same as mvms_store_gc_ex with only these options.
 */
int mvms_store_gc(mvms_gc_result *out, mvms_store *st, int64_t grace_seconds, int dry_run);

/* One object gc removes (or would remove, in a dry run). */
typedef struct mvms_gc_item {
	const char *key;     /* "packs/ab/…", "files/…", "manifests/…", "tmp/….tmp" (backend keys),
			      * or "tmp-merge-…", "upload-…" (in the store directory) */
	uint64_t size;       /* bytes (0 for index rows whose pack is gone) */
	int64_t age;         /* seconds since it was written */
	const char *reason;  /* "unreferenced pack", "pack with no index rows", ... */
} mvms_gc_item;

typedef int (*mvms_gc_cb)(const mvms_gc_item *item, void *payload);

typedef struct mvms_gc_options {
	int64_t grace_seconds; /* keep what was written less than this long ago */
	int dry_run;           /* remove nothing, report what would go */
	mvms_gc_cb cb;         /* called for each item removed (or that would be); may be NULL;
				* non-zero stops gc (MVMS_EUSER) */
	void *payload;
} mvms_gc_options;

/**
 * Garbage collection: marks from the database, sweeps over what the backend lists (packs,
 * chunk lists, manifests, temporary files) and the store directory's leftovers of killed
 * merges and uploads. An object goes only when nothing references it and it was written
 * before the cutoff: @grace_seconds ago, and before the start of the oldest live lease
 * (a running push). Objects are re-checked and removed while holding the database's write
 * lock, so a push that commits meanwhile either is seen by gc or sees the object gone and
 * fails cleanly (MVMS_ECONFLICT). Safe to run at any time, with any grace, also killed.
 * MVMS_ENOTSUPPORTED when the backend cannot list objects with their times.
 */
int mvms_store_gc_ex(mvms_gc_result *out, mvms_store *st, const mvms_gc_options *opts);

/* ---- leases: what keeps gc away from running pushes (docs/formats.md) ---- */

#define MVMS_LEASE_ID_HEXSZ 32

/** Seconds a lease lives without renewal: MVMS_LEASE_TTL from the environment, default 600. */
int64_t mvms_lease_ttl(void);

/**
 * Takes a lease: until it is released or expires, gc removes nothing written from now on.
 * @id_out gets MVMS_LEASE_ID_HEXSZ hex digits and a NUL; @holder names the writer (shown
 * by gc); *expires_at (may be NULL) is when it expires unless renewed.
 */
int mvms_lease_create(char *id_out, int64_t *expires_at, mvms_store *st, const char *holder);
/** Renews lease @id for another time to live. MVMS_ECONFLICT when it expired and gc dropped
 * it (what it protected may be gone: the writer must start over). */
int mvms_lease_renew(int64_t *expires_at, mvms_store *st, const char *id);
/** Releases lease @id (an absent one is a success). */
int mvms_lease_release(mvms_store *st, const char *id);
/**
 * Runs the next writes through @st (packs received, commits) under lease @id, NULL for
 * none: they renew it as they go, and a commit fails with MVMS_ECONFLICT if it is gone.
 * A push or commit without one takes its own for its duration.
 */
int mvms_store_use_lease(mvms_store *st, const char *id);

#ifdef __cplusplus
}
#endif
#endif
