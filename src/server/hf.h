/* SPDX-License-Identifier: MIT */
/*
 * What the Hugging Face Hub read API's handlers share (h_hf.c, hf_tree.c, hf_resolve.c):
 * errors in the Hub's shape (X-Error-Code, X-Error-Message, {"error": ...}) and the reading
 * of a revision of the model in the path. See docs/hf-compat.md.
 */
#ifndef MVMS_SERVER_HF_H
#define MVMS_SERVER_HF_H

#include "server.h"

/** Replies @status with the Hub's error headers (@code may be NULL) and {"error": message}.
 * Returns 0. */
int hf_error(srv_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * The version that revision @rev (NULL or "HEAD": the default branch; a branch, a tag, vN,
 * a version id or id prefix; "refs/heads/X" and "refs/tags/X" as X) names in the model of
 * the path (r->caps[0]). 0 with *out set, or -1 after replying: 404 RepoNotFound (no such
 * model, exactly as an uncovered one), 404 RevisionNotFound (no such revision, an ambiguous
 * one, another model's version or a deleted one), or the store's error.
 */
int hf_open(mvms_version_info **out, srv_req *r, const char *rev);

/** The Hub's time format (2024-01-02T03:04:05.000Z) of unix seconds @t. */
const char *hf_time(char *buf, size_t n, int64_t t);

/** A boolean query parameter as the clients send it (true/True/1, false/False/0; absent
 * or empty: 0). 0 or 1, or -1 after replying 400. */
int hf_bool_query(srv_req *r, const char *key);

#endif
