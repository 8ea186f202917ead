/* SPDX-License-Identifier: MIT */
/*
 * Deployments: an environment of a model ("prod", "staging", "canary-eu") points at one or
 * more versions with traffic weights and, optionally, the URL each is served at. Every change
 * is a new revision (kept forever), so the history can be read and any revision restored.
 */
#ifndef MVMS_DEPLOY_H
#define MVMS_DEPLOY_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/store.h"
#include "mvms/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mvms_deploy_target {
	int64_t number;            /* version number */
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	int weight;                /* > 0 */
	char *endpoint;            /* "" when not recorded */
} mvms_deploy_target;

/* A version that gets a copy of a share of the live /predict requests; its answers are
 * compared with the served ones and never returned. Part of the revision (rollback
 * restores it). */
typedef struct mvms_deploy_shadow {
	int64_t number;            /* version number */
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	int percent;               /* 1 to 100: share of the requests copied */
	char *endpoint;            /* "" when not recorded (then nothing is copied) */
	char *compare;             /* "json" (key order and spacing ignored) or "bytes" */
} mvms_deploy_shadow;

#define MVMS_DEPLOY_TIMEOUT_MS 30000  /* an upstream attempt's timeout unless the env sets one */
#define MVMS_DEPLOY_RETRIES 1         /* retries of a failed attempt unless the env sets them */

typedef struct mvms_deployment {
	char *model, *env;
	int64_t revision;          /* 0: the environment was never deployed */
	char *action;              /* "deploy", "undeploy", "rollback" */
	int64_t from_revision;     /* rollback: the revision restored */
	char *author, *reason;
	int64_t created_at;
	size_t target_count;       /* sorted by weight, highest first, then version */
	mvms_deploy_target *targets;
	mvms_deploy_shadow *shadow;   /* NULL: no shadow in this revision */
	int timeout_ms, retries;      /* the environment's (per environment, not per revision) */
} mvms_deployment;

void mvms_deployment_free(mvms_deployment *d);
void mvms_deployment_list_free(mvms_deployment **list, size_t count);

#define MVMS_DEPLOY_OPTIONS_VERSION 1
typedef struct mvms_deploy_options {
	unsigned int version;
	int weight;                /* 0: this version takes all the traffic alone */
	const char *endpoint;      /* NULL: keep the recorded one (or none) */
	const char *reason;
	const char *author;
	int64_t expected_revision; /* -1: any; else fail with MVMS_ECONFLICT if it is not current */
	/* Shadow: with shadow_percent 1 to 100, mvms_deploy() makes the version the shadow of
	 * the environment (served targets unchanged); shadow_compare "json" (default) or
	 * "bytes". */
	int shadow_percent;
	const char *shadow_compare;
	/* Environment settings, kept until changed (0: keep). timeout_ms 1 to 3600000; retries
	 * 1 to 10, or MVMS_DEPLOY_RETRIES_NONE for none. */
	int timeout_ms;
	int retries;
} mvms_deploy_options;
#define MVMS_DEPLOY_RETRIES_NONE (-1)
#define MVMS_DEPLOY_OPTIONS_INIT { MVMS_DEPLOY_OPTIONS_VERSION, 0, NULL, NULL, NULL, -1, \
				   0, NULL, 0, 0 }

/** 0 when @env is a valid environment name (as branch names), else MVMS_EINVALID. */
int mvms_deploy_env_check(const char *env);

/**
 * Points @env at version @spec: with a weight, the version joins (or is re-weighted among)
 * the current targets; without, it replaces them all. A new revision is recorded atomically.
 * @return 0 with *out the new state; MVMS_EINVALID (bad weight or endpoint), MVMS_ENOTFOUND,
 * MVMS_ECONFLICT (expected_revision is not current).
 */
int mvms_deploy(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		const mvms_deploy_options *opts);

/** Removes version @spec from @env's targets (a new revision); the last target cannot go. */
int mvms_deploy_remove(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		       const mvms_deploy_options *opts);

/**
 * Restores the targets of revision @to (0: the one before the current) as a new revision.
 * MVMS_ENOTFOUND when there is nothing to roll back to.
 */
int mvms_deploy_rollback(mvms_deployment **out, mvms_store *st, const char *model,
			 const char *env, int64_t to, const mvms_deploy_options *opts);

/** The current state of one environment (revision 0 when never deployed). */
int mvms_deploy_get(mvms_deployment **out, mvms_store *st, const char *model, const char *env);

/** Current state of every environment of @model, sorted by name. */
int mvms_deploy_list(mvms_deployment ***out, size_t *count, mvms_store *st, const char *model);

/** Every revision of @env, newest first; MVMS_ENOTFOUND when @env was never deployed. */
int mvms_deploy_history(mvms_deployment ***out, size_t *count, mvms_store *st, const char *model,
			const char *env);

/** The current revision number of @env (0 when never deployed): cheap, for long-polls. */
int mvms_deploy_revision(int64_t *out, mvms_store *st, const char *model, const char *env);

/* The live figures of one version of an environment, as a server counts /predict requests. */
typedef struct mvms_deploy_version_stats {
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	int weight;
	char *endpoint;
	uint64_t requests, errors;
	double p50_ms, p99_ms, mean_upstream_ms;
} mvms_deploy_version_stats;

/* The shadow's figures: copies sent, failed, dropped (the bounded queue was full), answers
 * compared with the served one and how many differed. */
typedef struct mvms_deploy_shadow_stats {
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	int percent;
	char *endpoint, *compare;
	uint64_t requests, errors, dropped, compared, differences;
	double p50_ms, p99_ms;
} mvms_deploy_shadow_stats;

typedef struct mvms_deploy_status {
	char *model, *env;
	int64_t revision;
	size_t count;
	mvms_deploy_version_stats *versions;
	mvms_deploy_shadow_stats *shadow;   /* NULL: no shadow */
} mvms_deploy_status;

/**
 * The live per-version counters of an environment. They live in the memory of the server
 * that routes /predict, so this runs on a remote store only; a local one answers
 * MVMS_ENOTSUPPORTED. Free with mvms_deploy_status_free().
 */
int mvms_deploy_status_get(mvms_deploy_status **out, mvms_store *st, const char *model,
			   const char *env);
void mvms_deploy_status_free(mvms_deploy_status *s);

/**
 * Waits up to @wait_seconds (0: just look) for the revision of @env to pass @since (-1: any
 * revision will do) and sets *out to the deployment then; *out NULL when nothing changed in
 * time or a signal cut the wait short (return 0 either way). On a remote store it is the
 * server's long-poll, which answers as soon as the deployment changes.
 */
int mvms_deploy_wait(mvms_deployment **out, mvms_store *st, const char *model, const char *env,
		     int64_t since, int wait_seconds);

#ifdef __cplusplus
}
#endif
#endif
