/* SPDX-License-Identifier: MIT */
/*
 * A store: one metadata database (SQLite) plus one object store (a backend). Opening,
 * creating, its recorded parameters, models, statistics and verification.
 */
#ifndef MVMS_STORE_H
#define MVMS_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mvms_store mvms_store;

#define MVMS_STORE_OPTIONS_VERSION 1
typedef struct mvms_store_options {
	unsigned int version; /* MVMS_STORE_OPTIONS_VERSION */
	uint32_t chunk_avg;   /* average chunk size, a power of two (0: 64 KiB) */
	int level;            /* zstd level 1..22 (0: 3) */
	uint64_t pack_size;   /* target pack size in bytes (0: 64 MiB) */
	const char *backend;  /* NULL: the local objects/ directory; "s3://BUCKET[/PREFIX]" or
			       * "gs://BUCKET[/PREFIX]" (credentials from the environment) */
} mvms_store_options;
#define MVMS_STORE_OPTIONS_INIT { MVMS_STORE_OPTIONS_VERSION, 0, 0, 0, NULL }

/**
 * Creates a new store in @dir (created if missing) with @opts (NULL for defaults), which
 * are recorded in the store. Options are checked before anything is created, a bucket
 * backend by listing it once with the environment's credentials. Safe when other processes
 * create the same store at once. @return 0, MVMS_EEXISTS when @dir holds a store already
 * (or another process created it first), MVMS_EINVALID for bad options; for a bucket,
 * MVMS_ENOTFOUND (no such bucket), MVMS_EAUTH (credentials refused) or MVMS_ERROR (cannot
 * connect), with nothing created.
 */
int mvms_store_init(mvms_store **out, const char *dir, const mvms_store_options *opts);

/**
 * Opens the store in @dir. When it does not exist and @create is set it is created with
 * default options, else MVMS_ENOTFOUND.
 */
int mvms_store_open(mvms_store **out, const char *dir, int create);

/** Closes the store; NULL is a no-op. */
void mvms_store_free(mvms_store *st);

/**
 * Catches the store's database up with the log in its backend (docs/formats.md, "The log"):
 * applies the ref changes other processes with their own database committed to the same
 * bucket. Nothing when the last catch-up is younger than @max_age seconds (0: always). A
 * store opened by URL returns 0 (its server refreshes itself); so does a store without a log.
 */
int mvms_store_refresh(mvms_store *st, double max_age);

/**
 * Rebuilds the store's database from its backend alone: every ref, version, token and
 * deployment from the log, packs and chunk lists from the bucket, in one transaction.
 * *entries is how many log entries were applied. Local stores only; MVMS_ENOTSUPPORTED
 * for a store that keeps no log.
 */
int mvms_store_reindex(uint64_t *entries, mvms_store *st);

typedef struct mvms_store_info {
	const char *path;     /* borrowed from the store */
	const char *backend;  /* "local", or the bucket URL */
	uint32_t chunk_min, chunk_avg, chunk_max;
	int level;
	uint64_t pack_size;
	int schema_level;
} mvms_store_info;
/** Fills @out with the store's recorded parameters (strings borrowed from @st). */
void mvms_store_get_info(mvms_store_info *out, mvms_store *st);

/* ---- models ---- */

typedef struct mvms_model_info {
	char *name;
	char uid[33];        /* stable random id, hex */
	char *description;
	int64_t created_at;  /* unix seconds */
	int64_t versions;    /* number of versions */
} mvms_model_info;

/**
 * Registers a model. Names: 1-128 characters of [A-Za-z0-9._-/], no leading or
 * trailing '/', no empty or '.'/'..' components. @return 0, MVMS_EEXISTS, MVMS_EINVALID.
 */
int mvms_model_register(mvms_store *st, const char *name, const char *description);

/** Looks up a model. MVMS_ENOTFOUND when absent. Free with mvms_model_info_free(). */
int mvms_model_get(mvms_model_info **out, mvms_store *st, const char *name);

/** All models sorted by name; *out is an array of *count items (mvms_model_list_free). */
int mvms_model_list(mvms_model_info **out, size_t *count, mvms_store *st);

void mvms_model_info_free(mvms_model_info *m);
void mvms_model_list_free(mvms_model_info *list, size_t count);

/** 0 when @name is a valid model name, else MVMS_EINVALID with a message. */
int mvms_model_name_check(const char *name);

/* ---- statistics ---- */

typedef struct mvms_stats {
	uint64_t models, versions;   /* versions: live ones (not deleted, mvms/history.h) */
	uint64_t files;          /* file entries over all versions */
	uint64_t contents;       /* unique file contents */
	uint64_t logical_bytes;  /* sum of all live versions' file sizes */
	uint64_t unique_bytes;   /* raw bytes of unique chunks */
	uint64_t stored_bytes;   /* bytes of all packs */
	uint64_t chunks, packs;
	uint64_t sources;        /* files outside the store holding chunks (a client cache's
				  * pulled files, schema/005_sources.sql) */
	uint64_t source_bytes;   /* their sizes */
	double dedup_ratio;      /* logical / unique */
	double compression_ratio;/* unique / stored */
} mvms_stats;
int mvms_store_stats(mvms_stats *out, mvms_store *st);

/* ---- verification ---- */

/* One problem found by mvms_store_verify. */
typedef struct mvms_verify_problem {
	const char *object;    /* "packs/ab/…" or "chunk <hex>" */
	const char *message;   /* what is wrong */
	const char *versions;  /* versions it breaks, "model@v3, model@v4" ("" if none) */
} mvms_verify_problem;

typedef int (*mvms_verify_cb)(const mvms_verify_problem *p, void *payload);
typedef void (*mvms_progress_cb)(uint64_t done, uint64_t total, void *payload);

typedef struct mvms_verify_result {
	uint64_t packs, chunks, bytes, manifests;
	uint64_t problems;
	/* Added with what versions need and orphans: */
	uint64_t chunk_lists;    /* chunk lists (files/ objects) of the contents versions use */
	uint64_t orphans;        /* unreferenced objects gc can reclaim: not problems */
	uint64_t orphan_bytes;
} mvms_verify_result;

/**
 * Re-reads every pack and manifest, re-hashes every chunk and checks them against the
 * database. Calls @cb for each problem. @return 0 when all is well, MVMS_EMISMATCH when
 * problems were found (counted in @out), another code when verification could not run.
 * Same as mvms_store_verify_ex with only these options.
 */
int mvms_store_verify(mvms_verify_result *out, mvms_store *st, mvms_verify_cb cb,
		      mvms_progress_cb progress, void *payload);

typedef struct mvms_verify_options {
	int quick;               /* existence and sizes only: no byte is read */
	mvms_verify_cb cb;       /* each problem (damage: something a version needs is missing,
				  * or does not hash to its id, or disagrees with the database) */
	mvms_verify_cb orphan;   /* each orphan: an object nothing references, which gc can
				  * reclaim (object = key, message = why, size and age) */
	mvms_progress_cb progress;
	void *payload;           /* passed to all three */
} mvms_verify_options;

/**
 * Checks what versions need: every manifest, every chunk list of a file some version has,
 * and every indexed pack exist and hash to their ids (quick: exist, with the sizes the
 * database records); reports orphans apart. An access error of the backend (MVMS_EAUTH,
 * MVMS_ETIMEOUT) stops it with that error: it is not damage.
 */
int mvms_store_verify_ex(mvms_verify_result *out, mvms_store *st, const mvms_verify_options *opts);

#ifdef __cplusplus
}
#endif
#endif
