/* SPDX-License-Identifier: MIT */
/*
 * The HTTP front end (mvms-store serve): libevent evhttp, one event loop, evhttp and store
 * handle (own SQLite connection) per worker thread, all accepting on one listening socket.
 *
 * Handler contract (router.c): a handler is called with the route's captures decoded and
 * the caller's scope checked. It replies exactly once with srv_reply_* / srv_stream_*, or
 * returns < 0 without replying: the router then replies with the HTTP status mapped from
 * the MVMS_E* code and the library's message as a JSON error. Handlers call libmvms only.
 */
#ifndef MVMS_SERVER_H
#define MVMS_SERVER_H

#include <stdint.h>
#include <stddef.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <cjson/cJSON.h>
#include "mvms.h"

enum srv_scope {
	SRV_SCOPE_NONE = 0,
	SRV_SCOPE_READ = 1,
	SRV_SCOPE_WRITE = 2,
	SRV_SCOPE_ADMIN = 3,
};

/*
 * How a route is kept to the models a token covers (authz.c). Every route declares one;
 * 0 is no declaration, which the router refuses to serve (500) and tests/test-authz fails.
 */
enum srv_authz {
	SRV_AUTHZ_UNDECLARED = 0,
	SRV_AUTHZ_PUBLIC,     /* nothing of any model (/healthz); the token is not looked at */
	SRV_AUTHZ_STORE,      /* store-wide parameters, nothing of any model (GET /v1/store) */
	SRV_AUTHZ_MODEL,      /* the first capture is the model: the router checks the glob */
	SRV_AUTHZ_NAMED,      /* the model is named in the body: the handler checks it */
	SRV_AUTHZ_FILTERED,   /* lists every model: the handler keeps the covered ones only */
	SRV_AUTHZ_CONTENT,    /* by hash: the handler serves objects of covered models only */
	SRV_AUTHZ_UPLOAD,     /* bytes in by hash; the reply names only what the request did */
	SRV_AUTHZ_ALL,        /* about every model (stats, verify, gc, tokens): only a token
			       * whose glob is '*'; the handler checks it (h_admin.c) */
	SRV_AUTHZ_HIDDEN,     /* the first capture is the model, as MODEL, but one the token
			       * does not cover is answered exactly as a missing one (404,
			       * srv_reply_hidden), as the Hugging Face Hub answers for a private
			       * repository: the Hub read API (h_hf.c) */
};

typedef struct srv_options {
	const char *store_dir;
	const char *listen;          /* "127.0.0.1:8080"; port 0 picks a free port */
	unsigned threads;            /* worker threads (0: number of CPUs) */
	int read_only;               /* refuse every write (403) */
	int allow_anonymous_read;    /* reads without a token */
	const char *port_file;       /* write the bound port here once listening (tests) */
	uint64_t max_body;           /* request body cap (bytes) */
	uint64_t max_json;           /* JSON body cap (bytes) */
	unsigned max_uploads;        /* concurrent uploads (pack PUTs, one-shot uploads) */
	int timeout;                 /* seconds a slow client may take per read/write */
	int access_log;              /* one JSON line per request on stderr */
	double refresh;              /* seconds a read may see refs that old (the store's log:
				      * writes always catch up); also the background period */
} srv_options;

typedef struct srv srv;                 /* shared by all workers */
typedef struct srv_worker srv_worker;   /* one thread */

typedef struct srv_req {
	struct evhttp_request *req;
	srv_worker *w;
	mvms_store *st;              /* this worker's store handle */
	const srv_options *opts;
	enum evhttp_cmd_type method;
	const char *route;           /* route pattern, for metrics and logs */
	char *caps[4];               /* decoded captures of {..} segments, in order */
	size_t ncaps;
	struct evkeyvalq query;      /* decoded query parameters */
	int scope;                   /* what the caller's token (or anonymity) grants */
	int anonymous;               /* no Authorization header: a refusal is a 401 */
	char *token_models;          /* the token's model glob ("*" for all) */
	int replied;
	int status;
	uint64_t bytes_in, bytes_out;
	double t0;
	int counted_upload;          /* holds one of max_uploads */
	int hub_errors;              /* errors in the Hugging Face Hub's shape: 1 (routes under
				      * /api/), 2 (SRV_AUTHZ_HIDDEN: a 401 is also RepoNotFound) */
} srv_req;

typedef int (*srv_handler)(srv_req *r);

/* One entry of the route table (router.c). */
typedef struct srv_route {
	unsigned methods;        /* EVHTTP_REQ_* bits */
	const char *pattern;     /* segments; {x} captures one, {x*} the rest */
	srv_handler handler;
	int scope;               /* enum srv_scope needed */
	int authz;               /* enum srv_authz: how the token's models are checked */
} srv_route;

/** The route table, in matching order (for tests that walk every route). */
const srv_route *srv_routes(size_t *count);

/* ---- replies (reply.c) ---- */

/** Replies with a JSON document (takes ownership of @doc). */
void srv_reply_json(srv_req *r, int status, cJSON *doc);
/** Replies {"error":{"code":code,"message":...}} with @status. Returns 0. */
int srv_reply_error(srv_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/** Replies @status as the Hugging Face Hub does: {"error": @msg}, X-Error-Message and, when
 * not NULL, X-Error-Code @code. srv_reply_error answers so on a request with hub_errors. */
void srv_reply_hub_error(srv_req *r, int status, const char *code, const char *msg);
/** Replies with the status and code that an MVMS_E* error maps to, and the last message. */
int srv_reply_mvms(srv_req *r, int code);
/** Replies with raw bytes (copied) and a content type. */
void srv_reply_bytes(srv_req *r, int status, const char *type, const void *data, size_t len);
/** Records a finished reply (access log line, metrics); the reply helpers call it. */
void srv_request_done(srv_req *r);
/** The HTTP status for an MVMS_E* code. */
int srv_status_for(int code);

/* ---- requests (router.c) ---- */

/** A decoded query parameter, or NULL. */
const char *srv_query(srv_req *r, const char *key);
/** The request body (the whole of it, as received; capped by max_body). */
void srv_body(const unsigned char **data, size_t *len, srv_req *r);
/** The body parsed as a JSON object, or NULL after replying 400/413. Free with cJSON_Delete. */
cJSON *srv_body_json(srv_req *r);
/** 0 when the caller may do @scope on @model (NULL: any model); else replies 401/403 and
 * returns -1. */
int srv_require(srv_req *r, int scope, const char *model);
/** Takes one of max_uploads; replies 429 and returns -1 when all are busy. */
int srv_upload_begin(srv_req *r);

/* ---- authorization by model (authz.c) ---- */

/** 1 when the caller may see @model: its token's glob matches (anonymous callers get this
 * far only where anonymous reads are on, and see every model). */
int srv_authz_covers(const srv_req *r, const char *model);
/** 1 when the caller sees every model ("*", or anonymous reads): the checks are skipped. */
int srv_authz_all(const srv_req *r);
/**
 * 0 when the caller may read all @n objects of @kind ("manifests", "files", "chunks") by
 * hash; else replies 404 not_found, exactly as for an object that does not exist, and
 * returns -1 (also after replying 500 when the database fails).
 */
int srv_authz_objects(srv_req *r, const char *kind, const mvms_oid *ids, size_t n);
/** 0 when the caller covers every parent named in @manifest (a parsed manifest); else
 * replies 403 (an unknown parent too, so that existence does not show) and returns -1. */
int srv_authz_parents(srv_req *r, const cJSON *manifest);
/** Turns what the caller may not see into stubs: a version of an uncovered model keeps only
 * its id (model NULL, no message, author, metadata, parents, refs); so does a parent. */
void srv_authz_redact_version(const srv_req *r, mvms_version_info *v);
/** As srv_authz_redact_version, for a version whose id the caller has no other way to know
 * (a merge base): not even the id stays. */
void srv_authz_redact_unseen(const srv_req *r, mvms_version_info *v);
/** A lineage cut at the uncovered versions next to covered ones (stubs with their ids). */
void srv_authz_redact_lineage(const srv_req *r, mvms_lineage *l);
/** A log: stubs for uncovered parents of listed covered versions; other uncovered ones go
 * (freed; *n shrinks). */
void srv_authz_redact_log(const srv_req *r, mvms_version_info **list, size_t *n);

/* ---- metrics (metrics.c) ---- */
void srv_metrics_request(const srv_req *r, double seconds);
void srv_metrics_uploads(int delta);
int srv_metrics_uploads_now(void);
/** Takes an upload slot if fewer than @max are taken: 1, else 0. */
int srv_metrics_upload_try(int max);
int srv_handle_metrics(srv_req *r);

/* ---- handlers ---- */
int srv_handle_healthz(srv_req *r);

/* h_read.c: models, versions, manifests, diff, lineage, merge-base, branches, tags */
int srv_models_list(srv_req *r);
int srv_models_create(srv_req *r);
int srv_model_get(srv_req *r);
int srv_versions_list(srv_req *r);
int srv_version_get(srv_req *r);
int srv_diff(srv_req *r);
int srv_lineage(srv_req *r);
int srv_merge_base(srv_req *r);
int srv_branches_list(srv_req *r);
int srv_branch_create(srv_req *r);
int srv_branch_delete(srv_req *r);
int srv_tags_list(srv_req *r);
int srv_tag_create(srv_req *r);
int srv_merge(srv_req *r);             /* h_merge.c */

/* h_history.c: moving and renaming branches, the default branch, deleting tags, versions
 * and models, prune */
int srv_branch_move(srv_req *r);
int srv_branch_rename(srv_req *r);
int srv_branch_default(srv_req *r);
int srv_tag_delete(srv_req *r);
int srv_version_delete(srv_req *r);
int srv_model_delete(srv_req *r);
int srv_prune(srv_req *r);

/* h_sync.c: the push and pull protocol and one-request uploads */
int srv_store_info(srv_req *r);
int srv_chunks_missing(srv_req *r);
int srv_pack_put(srv_req *r);
int srv_chunks_get(srv_req *r);
int srv_file_bases(srv_req *r);
int srv_object_get(srv_req *r);
int srv_version_commit(srv_req *r);
int srv_upload(srv_req *r);
/* h_files.c: a version's file listing (as ls --json) */
int srv_files_list(srv_req *r);

/* h_stream.c: a stored file's bytes (the /v1 file route), and the streaming other routes use */
int srv_file_get(srv_req *r);
/**
 * Streams @len bytes from @reader (taken) as the reply, verified piece by piece, with
 * Content-Length and Content-Type set; 206 when @ranged (the caller sets Content-Range).
 * HEAD sends the headers only.
 */
int srv_stream_file(srv_req *r, mvms_file_reader *reader, uint64_t len, int ranged);
/** A Range header of one range against a file of @size bytes: 1 with [*start, *end) set,
 * 0 when absent or not one that is honoured (the whole file then), -1 when unsatisfiable. */
int srv_parse_range(uint64_t *start, uint64_t *end, const char *header, uint64_t size);

/* h_hf.c, hf_tree.c, hf_resolve.c: the Hugging Face Hub's read API (docs/hf-compat.md) */
int srv_hf_models_list(srv_req *r);
int srv_hf_model_info(srv_req *r);
int srv_hf_refs(srv_req *r);
int srv_hf_commits(srv_req *r);
int srv_hf_tree(srv_req *r);
int srv_hf_paths_info(srv_req *r);
int srv_hf_resolve(srv_req *r);
/** The answer to a model that does not exist, and to one a SRV_AUTHZ_HIDDEN route's token
 * does not cover: 404 RepoNotFound, one text for both. Returns 0. */
int srv_reply_hidden(srv_req *r);

/* h_lease.c: leases that keep gc away from a remote push's uploads */
int srv_lease_create(srv_req *r);
int srv_lease_renew(srv_req *r);
int srv_lease_release(srv_req *r);
/** Runs the request's writes under the lease its Mvms-Lease header names (renewed now):
 * 0, or -1 after replying 409 lease_expired / 400. Pair with srv_lease_leave. */
int srv_lease_enter(srv_req *r);
void srv_lease_leave(srv_req *r);
/** Releases lease @id (NULL: nothing), keeping the request's error message. */
void srv_lease_end(srv_req *r, const char *id);

/* h_deploy.c: deployments, long-polls, per-version counters */
int srv_deployments_list(srv_req *r);
int srv_deployment_get(srv_req *r);
int srv_deployment_deploy(srv_req *r);
int srv_deployment_undeploy(srv_req *r);
int srv_deployment_rollback(srv_req *r);
int srv_deployment_history(srv_req *r);
int srv_deployment_status(srv_req *r);
struct evbuffer;
/* Per-model series, for the models @r covers only. */
void srv_deploy_metrics(struct evbuffer *b, const srv_req *r);
void srv_deploy_gauges(struct evbuffer *b, const srv_req *r);

/* proxy.c: /predict routing and forwarding to the versions' inference servers */
int srv_predict(srv_req *r);

/* shadow.c: copies of /predict requests to an environment's shadow version */
#define SRV_SHADOW_INFLIGHT_MAX 32      /* copies in flight (all workers); more are dropped */
#define SRV_SHADOW_BODY_MAX (1u << 20)  /* answers larger than this are not compared */
typedef struct srv_shadow_pair srv_shadow_pair;
/** Whether this request gets a copy (the shadow's share; a free slot, else it is counted as
 * dropped): the pair that will compare the two answers, or NULL. */
srv_shadow_pair *srv_shadow_admit(const mvms_deployment *d);
/** The served answer (@code 0: it failed), then the shadow's; the later one compares. */
void srv_shadow_served(srv_shadow_pair *p, int code, const void *body, size_t len);
void srv_shadow_answered(srv_shadow_pair *p, int code, const void *body, size_t len, double secs);
/** Adds "shadow" with its counters to a status document (nothing when @d has no shadow). */
void srv_shadow_status(cJSON *doc, const mvms_deployment *d);
/** The shadow series of /metrics, for the models @r covers. */
void srv_shadow_metrics(struct evbuffer *b, const srv_req *r);
/**
 * The hook for a rollout that must see a clean shadow phase before it starts: 1 when shadow
 * version @number of @env has had at least @min_compared answers compared, at most
 * @max_difference_rate of them differing and at most @max_error_rate of its copies failing
 * (rates 0 to 1), else 0; either way @why says the figures. Counters are this process's.
 */
int srv_shadow_clean(const char *model, const char *env, int64_t number, uint64_t min_compared,
		     double max_difference_rate, double max_error_rate, char *why, size_t why_len);

/* h_rollout.c: progressive rollouts (start, read, pause/resume/abort) */
int srv_rollout_start(srv_req *r);
int srv_rollout_get(srv_req *r);
int srv_rollout_control(srv_req *r);
/* driver.c: the thread that stores the per-version counters, drives the store's rollouts
 * and posts their notifications. srv_driver_start loads the stored counters first (call it
 * before the workers take requests); with @drive 0 (a read-only server) it only loads. */
int srv_driver_start(const srv_options *opts, int drive);
void srv_driver_stop(void);

/* h_admin.c: store statistics, verify, gc and tokens (SRV_AUTHZ_ALL) */
int srv_stats(srv_req *r);
int srv_verify(srv_req *r);
int srv_gc(srv_req *r);
int srv_tokens_list(srv_req *r);
int srv_token_create(srv_req *r);
int srv_token_revoke(srv_req *r);

/* h_web.c: the web page's embedded files, and what a token may do (GET /v1/whoami) */
int srv_web_index(srv_req *r);
int srv_web_asset(srv_req *r);
int srv_whoami(srv_req *r);

/* ---- the gate (gate.c): framing checks before libevent's parser ---- */

typedef struct srv_gate srv_gate;   /* one per worker */
int srv_gate_new(srv_gate **out, uint64_t max_body);
void srv_gate_free(srv_gate *g);
/** Makes @g the gate of the calling worker thread (before its loop runs). */
void srv_gate_enter(srv_gate *g);
/** evhttp_set_bevcb callback: a connection's bufferevent, with the gate on its input. */
struct bufferevent *srv_gate_bev(struct event_base *base, void *arg);
/** For tests and fuzzing: @len bytes arriving on slot @fd go through the gate; what evhttp
 * would get is appended to @out. */
void srv_gate_feed(srv_gate *g, int fd, const void *data, size_t len, struct evbuffer *out);
/**
 * Called once for each request the dispatcher gets, in order: 1 when @req is the one the
 * gate refused (or its stand-in); *status, *code (a JSON error code) and *msg (borrowed from
 * the gate) say why. The reply must close the connection.
 */
int srv_gate_refusal(struct evhttp_request *req, int *status, const char **code,
		     const char **msg);

/* ---- the server (server.c) ---- */

/** Runs the server until SIGTERM or SIGINT; in-flight requests finish first. */
int srv_run(const srv_options *opts);

/**
 * Copies @r into @dst for a reply sent after the handler returns (a streamed file, a
 * long-poll, /predict). The copy holds none of what the router frees then: captures, the
 * token's model glob, the upload slot. Nor may it read the query parameters (the router
 * clears them too).
 */
void srv_req_detach(srv_req *dst, const srv_req *r);

/** Seconds on the monotonic clock (request timing, deadlines). */
double srv_now(void);

/** Dispatches a request (router.c); installed as each worker's evhttp generic callback. */
void srv_dispatch(struct evhttp_request *req, void *worker);

/* Worker accessors for router.c. */
mvms_store *srv_worker_store(srv_worker *w);
const srv_options *srv_worker_options(srv_worker *w);
/* Counts streaming replies in flight (+1 when one starts, -1 when it ends), so that a
 * shutdown waits for them. */
void srv_worker_inflight(srv_worker *w, int delta);
struct event_base *srv_worker_base(srv_worker *w);

/* h_sign.c: a version's signatures, storing one, environment signature policies */
int srv_signatures_list(srv_req *r);
int srv_signature_add(srv_req *r);
int srv_env_policy_get(srv_req *r);
int srv_env_policy_set(srv_req *r);

#endif
