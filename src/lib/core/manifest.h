/* SPDX-License-Identifier: MIT */
/*
 * The canonical manifest of a version: one fixed-order JSON document whose BLAKE2b-256 is
 * the version id. It names the model, the parents' ids (so an id commits to the whole
 * history), author, time, message, metadata and every file (path, mode, size, file id).
 * The manifest is also stored as an object ("manifests/ab/<id>") so the database can be
 * rebuilt. It does not hold chunk lists: a file id commits to its chunk list, which is
 * stored once per content ("files/ab/<file id>", see docs/formats.md).
 */
#ifndef MVMS_MANIFEST_H
#define MVMS_MANIFEST_H

#include "common.h"

typedef struct mvms_manifest_file {
	char *path;     /* relative, '/'-separated, normalised */
	unsigned mode;  /* 0644 or 0755 */
	uint64_t size;
	mvms_oid id;    /* file id */
	/* Modification time (unix seconds >= 0, ns < 10^9); 0, 0: none recorded (older
	 * manifests). Part of the encoding, so of the version id, but never of "identical to
	 * the head" (tree.c compares paths, modes and contents only). */
	int64_t mtime;
	uint32_t mtime_ns;
} mvms_manifest_file;

typedef struct mvms_manifest {
	char model_uid[33];
	char *model_name;
	size_t parent_count;
	mvms_oid *parents;        /* in order */
	char *author, *message;
	int64_t time;
	size_t meta_count;        /* sorted by key, keys unique */
	char **meta_keys, **meta_values;
	size_t file_count;        /* sorted by path (bytewise), paths unique */
	mvms_manifest_file *files;
} mvms_manifest;

/** Appends the canonical encoding to @out. The manifest must be sorted (mvms_manifest_sort). */
int mvms_manifest_encode(mvms_buf *out, const mvms_manifest *m);
/** Sorts files by path and metadata by key; MVMS_EINVALID on duplicates. */
int mvms_manifest_sort(mvms_manifest *m);
/** Parses an encoded manifest (it must re-encode to the same bytes). */
int mvms_manifest_decode(mvms_manifest **out, const char *data, size_t len);
void mvms_manifest_free(mvms_manifest *m);

/** 0 when @path is a valid relative path inside a version, else MVMS_EINVALID. */
int mvms_path_check(const char *path);

#endif
