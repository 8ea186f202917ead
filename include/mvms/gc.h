/* SPDX-License-Identifier: MIT */
/*
 * Deleting versions and collecting garbage. A version that a branch, a tag or a deployment
 * still reaches (it is one of their targets or an ancestor of one) is never deleted; gc then
 * removes what no version uses any more: file contents, chunks, whole packs, and the
 * manifests and chunk lists of deleted versions.
 */
#ifndef MVMS_GC_H
#define MVMS_GC_H

#include <stdint.h>
#include "mvms/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Deletes version @spec. Refused (MVMS_EINVALID, the message names what holds it) when a
 * branch, tag or current deployment reaches it, when other versions name it as a parent, or
 * when it appears in a deployment's history (kept forever).
 */
int mvms_version_delete(mvms_store *st, const char *spec);

typedef struct mvms_gc_result {
	uint64_t contents, chunks, packs;   /* rows removed */
	uint64_t pack_bytes;                /* bytes of packs removed */
	uint64_t objects;                   /* manifests and chunk lists removed */
	uint64_t kept_young;                /* unused packs kept because they are younger than the grace */
} mvms_gc_result;

/**
 * Removes file contents no version uses, chunks no content uses, and packs none of whose
 * chunks is used, if they are older than @grace_seconds (packs a push is still writing are
 * young); then the objects of deleted versions and contents. With @dry_run, only counts.
 */
int mvms_store_gc(mvms_gc_result *out, mvms_store *st, int64_t grace_seconds, int dry_run);

#ifdef __cplusplus
}
#endif
#endif
