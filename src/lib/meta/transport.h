/* SPDX-License-Identifier: MIT */
/*
 * The transport table: what a store handle opened by URL (mvms_store_connect, transfer/
 * client.c) runs over HTTP instead of on a database and a backend of its own. Each public
 * operation that has a remote form starts with MVMS_TRANSPORT_CALL, so that one handle type
 * serves both transports and the front ends do not know which one they hold.
 *
 * The table is filled in by the transfer layer; lower layers only call through it (like the
 * backend table), so no layer calls upward. An operation the table leaves NULL fails with
 * MVMS_ENOTSUPPORTED on a remote handle: a remote handle has no database, so running the
 * local code would be wrong twice (it would read nothing, or crash).
 */
#ifndef MVMS_TRANSPORT_H
#define MVMS_TRANSPORT_H

#include "mvms/store.h"
#include "mvms/version.h"
#include "mvms/dag.h"
#include "mvms/deploy.h"
#include "mvms/gc.h"
#include "mvms/token.h"
#include "mvms/history.h"
#include "mvms/sync.h"
#include "mvms/rollout.h"

typedef struct mvms_transport {
	const char *name;      /* "http" */
	void (*close)(mvms_store *st);

	/* models and store-wide figures */
	int (*model_register)(mvms_store *st, const char *name, const char *description);
	int (*model_get)(mvms_model_info **out, mvms_store *st, const char *name);
	int (*model_list)(mvms_model_info **out, size_t *count, mvms_store *st);
	int (*stats)(mvms_stats *out, mvms_store *st);
	int (*verify)(mvms_verify_result *out, mvms_store *st, const mvms_verify_options *opts);

	/* versions and refs */
	int (*version_resolve)(mvms_version_info **out, mvms_store *st, const char *spec);
	int (*version_log)(mvms_version_info ***out, size_t *count, mvms_store *st,
			   const char *model, const char *branch);
	int (*version_files)(mvms_file_info **out, size_t *count, mvms_store *st,
			     const mvms_version_info *v);
	int (*tag_create)(mvms_store *st, const char *spec, const char *name);
	int (*tag_list)(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model);
	int (*branch_create)(mvms_store *st, const char *model, const char *name, const char *spec);
	int (*branch_remove)(mvms_store *st, const char *model, const char *name, unsigned flags);
	int (*branch_list)(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model);

	/* editing history (mvms/history.h) */
	int (*version_delete_ex)(mvms_delete_result **out, mvms_store *st, const char *spec,
				 const char *author, unsigned flags);
	int (*branch_move)(mvms_store *st, const char *model, const char *name, const char *to,
			   const char *expect);
	int (*branch_rename)(mvms_store *st, const char *model, const char *old_name,
			     const char *new_name);
	int (*branch_set_default)(mvms_store *st, const char *model, const char *name);
	int (*branch_get_default)(char **out, mvms_store *st, const char *model);
	int (*tag_delete)(mvms_store *st, const char *model, const char *name);
	int (*model_delete)(mvms_model_delete_result *out, mvms_store *st, const char *model,
			    unsigned flags);
	int (*prune)(mvms_prune_result **out, mvms_store *st, const char *model,
		     const mvms_prune_options *opts);
	int (*version_ls)(mvms_listing **out, mvms_store *st, const char *spec, const char *path,
			  int tensors);
	/* a stored file's bytes [start, end) (records mode: local only) */
	int (*file_reader_open)(mvms_file_reader **out, uint64_t *size_out, char *id_out,
				mvms_store *st, const char *spec, const char *path, uint64_t start,
				uint64_t end);

	/* content */
	int (*push)(mvms_push_result *out, mvms_store *st, const char *model, const char *path,
		    const mvms_push_options *opts);
	int (*pull)(mvms_pull_result *out, mvms_store *st, const char *spec, const char *dir,
		    const mvms_pull_options *opts);

	/* the DAG */
	int (*lineage_get)(mvms_lineage **out, mvms_store *st, const char *spec, int direction,
			   int depth);
	int (*merge_base)(mvms_version_info ***out, size_t *count, mvms_store *st, const char *a,
			  const char *b);
	int (*diff_get)(mvms_diff **out, mvms_store *st, const char *a, const char *b,
			unsigned flags);
	int (*merge)(mvms_merge_result **out, mvms_store *st, const char *model,
		     const char *source, const mvms_merge_options *opts);

	/* deployments */
	int (*deploy)(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
		      const mvms_deploy_options *opts);
	int (*deploy_remove)(mvms_deployment **out, mvms_store *st, const char *spec,
			     const char *env, const mvms_deploy_options *opts);
	int (*deploy_rollback)(mvms_deployment **out, mvms_store *st, const char *model,
			       const char *env, int64_t to, const mvms_deploy_options *opts);
	int (*deploy_get)(mvms_deployment **out, mvms_store *st, const char *model,
			  const char *env);
	int (*deploy_list)(mvms_deployment ***out, size_t *count, mvms_store *st,
			   const char *model);
	int (*deploy_history)(mvms_deployment ***out, size_t *count, mvms_store *st,
			      const char *model, const char *env);
	int (*deploy_status)(mvms_deploy_status **out, mvms_store *st, const char *model,
			     const char *env);
	int (*deploy_wait)(mvms_deployment **out, mvms_store *st, const char *model,
			   const char *env, int64_t since, int wait_seconds);

	/* progressive rollouts (mvms/rollout.h) */
	int (*rollout_start)(mvms_rollout **out, mvms_store *st, const char *spec,
			     const char *env, const mvms_rollout_options *opts);
	int (*rollout_get)(mvms_rollout **out, mvms_store *st, const char *model,
			   const char *env);
	int (*rollout_control)(mvms_rollout **out, mvms_store *st, const char *model,
			       const char *env, int action, const char *author,
			       const char *reason);

	/* administration (admin scope on the server) */
	int (*gc)(mvms_gc_result *out, mvms_store *st, const mvms_gc_options *opts);
	int (*token_create)(char **token_out, mvms_token_info **info_out, mvms_store *st,
			    int scope, const char *models, int64_t expires_at,
			    const char *description);
	int (*token_list)(mvms_token_info **out, size_t *count, mvms_store *st);
	int (*token_revoke)(mvms_store *st, const char *id);
} mvms_transport;

/* MVMS_ENOTSUPPORTED: "@what does not run over <transport>". */
int mvms_transport__unsupported(const mvms_store *st, const char *what);

/*
 * At the top of a public operation: on a remote handle, run @op of its transport with @args
 * (a parenthesised argument list) and return what it returns. Before any resource is taken,
 * so the one early return leaves nothing behind.
 */
#define MVMS_TRANSPORT_CALL(st, op, args)                                                    \
	do {                                                                                 \
		if ((st) && (st)->tp)                                                        \
			return (st)->tp->op ? (st)->tp->op args                              \
					    : mvms_transport__unsupported((st), #op);        \
	} while (0)

/* At the top of an operation that only runs on a local store (the server side of the sync
 * protocol, leases, ...): MVMS_ENOTSUPPORTED on a remote handle. */
#define MVMS_LOCAL_ONLY(st, what)                                                            \
	do {                                                                                 \
		if ((st) && (st)->tp)                                                        \
			return mvms_transport__unsupported((st), (what));                    \
	} while (0)

#endif
