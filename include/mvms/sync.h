/* SPDX-License-Identifier: MIT */
/*
 * Moving versions between stores (the HTTP push and pull protocol, on both sides): which
 * chunks a store lacks, packs built for the wire and checked on arrival, verified reads of
 * manifests and chunk lists, committing a version made elsewhere, and streaming a stored
 * file. Every byte that arrives is checked against its hash before it is kept.
 */
#ifndef MVMS_SYNC_H
#define MVMS_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/oid.h"
#include "mvms/store.h"
#include "mvms/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** missing[i] = 1 when the store lacks chunk ids[i], else 0. */
int mvms_sync_missing(unsigned char *missing, mvms_store *st, const mvms_oid *ids, size_t n);

/**
 * Checks a pack received from elsewhere (trailer, index, every record decoded and hashed),
 * then stores it and indexes its chunks. Its id must be @expect when not NULL.
 * @return 0; MVMS_EMISMATCH (corrupt or wrong id: nothing is kept).
 */
int mvms_sync_receive_pack(mvms_oid *id_out, mvms_store *st, const void *data, size_t len,
			   const mvms_oid *expect);

/**
 * Builds a pack in memory holding the given chunks, copied as stored: each record's header
 * is compared with the index, the bytes are not decoded here, since the pack goes to a
 * receiver that decodes and checks every chunk before keeping it (mvms_sync_receive_pack).
 * *out is malloc()ed. MVMS_ENOTFOUND when the store lacks one of them.
 */
int mvms_sync_export_chunks(void **out, size_t *out_len, mvms_oid *pack_id, mvms_store *st,
			    const mvms_oid *ids, size_t n);

/** The id an object of @kind is named by: a manifest's is the hash of its bytes, a chunk
 * list's ("files") the hash of its entries, which is the file id. */
int mvms_sync_object_id(mvms_oid *out, const char *kind, const void *data, size_t len);

/** Reads object "KIND/ab/ID" (KIND: "manifests" or "files"), checked against ID. */
int mvms_sync_get_object(void **out, size_t *out_len, mvms_store *st, const char *kind,
			 const mvms_oid *id);

/**
 * Commits a version made elsewhere: @manifest must be canonical; its model uid must match
 * the store's model of that name (a new model is registered with it); every parent must be
 * here; each file content is here already or comes with its chunk list ("files" object)
 * among @filemaps, whose chunks must all be here. Tensors are derived here from the stored
 * bytes, never taken from the client. The branch moves by compare-and-swap: @expected_head is
 * the head's version id, "" when the branch must not exist yet.
 * @return 0; MVMS_ECONFLICT when the branch moved; MVMS_EINVALID / MVMS_EMISMATCH for bad input.
 */
int mvms_sync_commit(mvms_push_result *out, mvms_store *st, const char *branch,
		     const char *expected_head, const void *manifest, size_t manifest_len,
		     const void *const *filemaps, const size_t *filemap_lens, size_t nfilemaps);

/* A file for mvms_sync_upload: read from @abs, stored as @path. */
typedef struct mvms_upload_file {
	const char *path;
	const char *abs;
	unsigned mode;            /* 0644 or 0755 */
} mvms_upload_file;

/**
 * One-request uploads (CI): a new version on @branch made of the branch head's files with
 * @files added or replacing files of the same path, or (@whole_tree) of @files only. The
 * head moves by compare-and-swap from the head seen at the start (MVMS_ECONFLICT if it moved).
 */
int mvms_sync_upload(mvms_push_result *out, mvms_store *st, const char *model, const char *branch,
		     const char *message, const char *author, const mvms_upload_file *files,
		     size_t count, int whole_tree);

/* One chunk of a stored file as a remote push diffs against it (fine-tune deltas). */
typedef struct mvms_sync_base_chunk {
	mvms_oid id;
	mvms_oid base;            /* the full record a delta at this place names: @id itself when
				   * the store holds the chunk full, else the base of its delta */
	uint64_t offset;          /* in the file */
	uint32_t length;
} mvms_sync_base_chunk;

typedef struct mvms_sync_bases {
	mvms_tensor_summary *tensors;   /* in offset order (the id is not filled in) */
	size_t ntensors;
	mvms_sync_base_chunk *chunks;   /* in file order */
	size_t nchunks;
} mvms_sync_bases;

/**
 * File @path of version @spec (MODEL@REF) as a client pushing a new version on it pairs its
 * tensors' chunks with it (docs/formats.md, "Fine-tune deltas"): its tensors and chunks,
 * and for each chunk the full record this store would take a delta against.
 * A file without tensors has none, and no chunks are listed (nothing pairs with it).
 * @return 0; MVMS_ENOTFOUND when the version has no such file.
 */
int mvms_sync_file_bases(mvms_sync_bases **out, mvms_store *st, const char *spec,
			 const char *path);
void mvms_sync_bases_free(mvms_sync_bases *b);

/* ---- the client side ---- */

typedef struct mvms_sync_file {
	char *path;
	unsigned mode;
	uint64_t size;
	mvms_oid id;
	void *filemap;            /* the "files" object: header and (chunk id, length) entries */
	size_t filemap_len;
	size_t nchunks;
	mvms_oid *chunks;         /* chunk ids in order (into the filemap's entries) */
	int64_t mtime;            /* modification time (0, 0: not known), kept in the manifest */
	uint32_t mtime_ns;
	uint64_t tensors;         /* tensors of its layout (safetensors, GGUF, ONNX), 0: none */
} mvms_sync_file;

/**
 * Chunks, hashes and packs PATH (a file or a directory) into @st without making a version:
 * the first half of a remote push, with @st as the client's cache.
 */
int mvms_sync_stage(mvms_sync_file **out, size_t *count, mvms_store *st, const char *path,
		    mvms_progress_cb progress, void *payload);
/* The same with which files a push takes (opts->exclude, follow_symlinks) and progress
 * from @opts. */
int mvms_sync_stage_opts(mvms_sync_file **out, size_t *count, mvms_store *st, const char *path,
			 const mvms_push_options *opts);
void mvms_sync_files_free(mvms_sync_file *files, size_t count);

typedef struct mvms_sync_manifest_info {
	const char *model_uid, *model_name;
	const char *const *parents;   /* version ids (hex) */
	size_t parent_count;
	const char *author, *message;
	int64_t time;
	const char *const *meta;      /* "KEY=VALUE" */
	size_t meta_count;
	const mvms_sync_file *files;
	size_t file_count;
} mvms_sync_manifest_info;

/** The canonical manifest for @info (*out malloc()ed) and its version id (hex). */
int mvms_sync_manifest(char **out, size_t *out_len, char *id_out, const mvms_sync_manifest_info *info);

/** Parses a "files" object (checked against @id) into its chunk ids and the file size. */
int mvms_sync_parse_filemap(mvms_oid **chunks, size_t *count, uint64_t *size, const void *data,
			    size_t len, const mvms_oid *id);

/**
 * Writes a file of @size bytes made of @chunks (all in @st) to @dir/@path, verified chunk by
 * chunk and as a whole against @id, through a temporary name.
 */
int mvms_sync_write_file(mvms_store *st, const char *dir, const char *path, unsigned mode,
			 uint64_t size, const mvms_oid *id, const mvms_oid *chunks, size_t nchunks);

/* Collects chunks (already checked against their ids by the caller) into packs of @st, so
 * that a remote pull that streamed a file still leaves its chunks in the client's cache.
 * Chunks the store has are skipped. Packs are indexed as they fill and at finish. */
typedef struct mvms_chunk_sink mvms_chunk_sink;
int mvms_chunk_sink_new(mvms_chunk_sink **out, mvms_store *st);
int mvms_chunk_sink_add(mvms_chunk_sink *s, const mvms_oid *id, const void *data, size_t len);
int mvms_chunk_sink_finish(mvms_chunk_sink *s);
void mvms_chunk_sink_free(mvms_chunk_sink *s);

/* ---- streaming a stored file (server replies) ---- */

typedef struct mvms_file_reader mvms_file_reader;

/**
 * Opens file @path of version @spec for reading bytes [start, end) (end 0: to the end).
 * *size_out is the file's size; *id_out its id (hex, 65 bytes). MVMS_ENOTFOUND for an unknown
 * path; MVMS_EINVALID for a range outside the file.
 */
int mvms_file_reader_open(mvms_file_reader **out, uint64_t *size_out, char *id_out,
			  mvms_store *st, const char *spec, const char *path, uint64_t start,
			  uint64_t end);
/**
 * Opens file @path of version @spec to read its chunks as the store keeps them: each chunk's
 * pack record (41-byte header, then the stored, usually zstd, bytes) in file order, the
 * "records stream" of docs/formats.md. *bytes_out is the stream's length. The bytes are NOT
 * decoded or hashed here (only each header is compared with the index): whoever receives
 * them must check every chunk against its id, as mvms_remote_pull does.
 */
int mvms_file_reader_open_records(mvms_file_reader **out, uint64_t *bytes_out, char *id_out,
				  mvms_store *st, const char *spec, const char *path);
/**
 * For a reader opened for records, the same in two steps so the caller can read straight
 * into its own buffer: next_run plans the next run of records and sets *len to its length
 * (0 at the end); read_run reads it into @dst (*len bytes).
 */
/* (A run planned and neither read nor taken as a descriptor is skipped by the next plan.) */
int mvms_file_reader_next_run(size_t *len, mvms_file_reader *r);
int mvms_file_reader_read_run(void *dst, mvms_file_reader *r);
/**
 * Instead of read_run, where the backend can (a local store): *fd is a new descriptor of the
 * pack holding the planned run (the caller closes it) and *offset the run's place in it, for
 * sendfile(2); the headers are then not compared with the index (the receiver checks every
 * record). *fd is -1 when the backend has no descriptors: use read_run.
 */
int mvms_file_reader_run_fd(int *fd, uint64_t *offset, mvms_file_reader *r);
/**
 * The next piece of verified bytes, or of whole records for a reader opened for records
 * (borrowed until the next call); *len 0 at the end. MVMS_EMISMATCH when stored bytes are
 * corrupt.
 */
int mvms_file_reader_next(const void **data, size_t *len, mvms_file_reader *r);
void mvms_file_reader_free(mvms_file_reader *r);

#ifdef __cplusplus
}
#endif
#endif
