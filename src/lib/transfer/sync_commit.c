/* SPDX-License-Identifier: MIT */
/*
 * Commits through the protocol: a version a client made (mvms_sync_commit: its manifest
 * checked and committed byte for byte, so the client's id is the id, with the contents its
 * chunk lists describe, tensors read from the stored bytes), encoding such a manifest on
 * the client (mvms_sync_manifest), and a one-request upload of whole files
 * (mvms_sync_upload).
 */
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "mvms/sync.h"
#include "codec.h"
#include "contents.h"
#include "hash.h"
#include "manifest.h"
#include "pack.h"
#include "tlayout.h"
#include "sync_int.h"
#include "validate.h"
#include "log_int.h"
#include "clists.h"
#include "oidset.h"
#include "push_lists.h"

/* Tensor ids from the chunk list; 0 with *ok 0 when the chunks are not cut at the tensor
 * boundaries (a client that chunked otherwise): then the file is kept as plain bytes. */
static int tensor_ids(mvms_oid **out, int *ok, const mvms_tlayout *sf,
		      const mvms_chunk_ref *refs, size_t n)
{
	mvms_oid *ids = calloc(sf->count + 1, sizeof(*ids));
	uint64_t pos = 0;
	size_t t, i = 0;
	mvms_hasher h;

	*out = NULL;
	*ok = 0;
	if (!ids)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	/* Tensors are sorted by offset and do not overlap; chunks come in file order. */
	for (t = 0; t < sf->count; t++) {
		const mvms_tensor_info *ti = &sf->tensors[t];
		mvms_hasher_init(&h);
		while (i < n && pos + refs[i].len <= ti->offset) {
			pos += refs[i].len;
			i++;
		}
		if (ti->length && pos != ti->offset)
			goto misaligned;
		while (i < n && pos < ti->offset + ti->length) {
			mvms_hasher_add_chunk(&h, &refs[i].id, refs[i].len);
			pos += refs[i].len;
			i++;
		}
		if (pos < ti->offset + ti->length || (ti->length && pos != ti->offset + ti->length))
			goto misaligned;
		mvms_hasher_final(&h, &ids[t]);
	}
	*out = ids;
	*ok = 1;
	return 0;
misaligned:
	free(ids);
	return 0;
}

/* A content new to the store, read and checked, ready for its rows. */
typedef struct new_content {
	mvms_oid id;
	uint64_t size;
	mvms_chunk_ref *refs;
	size_t n;
	mvms_tlayout *sf;
	mvms_oid *tids;
	const void *fm;           /* its chunk list, as the client sent it */
	size_t fmlen;
	int placed;               /* in list pack pack at off (else its own "files" object) */
	mvms_oid pack;
	uint64_t off;
} new_content;

static void new_content_dispose(new_content *nc)
{
	mvms_tlayout_free(nc->sf);
	free(nc->tids);
	free(nc->refs);
}

/* Reads and checks the content that a filemap describes (chunks must all be here); @path,
 * the file's path in the version, tells an ONNX model (tlayout.c); @side, when not NULL,
 * is the layout the version's ONNX models give this file (sync_layout.c), taken over. */
static int prepare_content(new_content *nc, mvms_store *st, const char *path,
			   const mvms_oid *id, uint64_t size, const void *filemap, size_t len,
			   mvms_tlayout *side)
{
	mvms_oid *chunks = NULL;
	unsigned char *missing = NULL;
	size_t n = 0, i;
	uint64_t total = 0;
	char hex[MVMS_OID_HEXSZ + 1];
	int error = 0, ok = 0;

	memset(nc, 0, sizeof(*nc));
	nc->id = *id;
	nc->size = size;
	nc->sf = side;
	nc->fm = filemap;
	nc->fmlen = len;
	MVMS_TRY(mvms_sync_parse_filemap(&chunks, &n, &total, filemap, len, id));
	nc->n = n;
	if (total != size) {
		error = mvms_error_set(MVMS_EINVALID, "chunk list: %llu bytes, but the manifest says %llu",
				       (unsigned long long)total, (unsigned long long)size);
		goto done;
	}
	missing = calloc(n + 1, 1);
	MVMS_CHECK_ALLOC(missing, error);
	MVMS_TRY(mvms_sync_missing(missing, st, chunks, n));
	for (i = 0; i < n; i++)
		if (missing[i]) {
			mvms_oid_fmt(hex, &chunks[i]);
			/* Under a lease the client asked which chunks were missing after taking
			 * it: one that was here then went with a gc (an old unused pack). */
			error = st->lease[0]
				? mvms_error_set(MVMS_ECONFLICT, "chunk %s is not here any more (a gc "
						 "removed it after the client was told it was): push again", hex)
				: mvms_error_set(MVMS_EINVALID, "chunk %s is not here: upload its pack "
						 "before committing", hex);
			goto done;
		}
	MVMS_TRY(mvms_sync__filemap_refs(&nc->refs, filemap, n));
	/* Tensors come from the stored bytes, not from the client's word. */
	if (!nc->sf)
		MVMS_TRY(mvms_sync__layout(&nc->sf, st, path, size, nc->refs, n));
	if (nc->sf) {
		MVMS_TRY(tensor_ids(&nc->tids, &ok, nc->sf, nc->refs, n));
		if (!ok) {
			mvms_tlayout_free(nc->sf);
			nc->sf = NULL;
		}
	}
done:
	free(missing);
	free(chunks);
	return error;
}

/* Kept as objects too, as push does, so pulls and a rebuild can find them: the small
 * chunk lists in list packs (one durable write for many), a large one on its own. */
static int write_lists(mvms_store *st, new_content *nc, size_t k)
{
	const void **lists = calloc(k + 1, sizeof(*lists));
	size_t *lens = calloc(k + 1, sizeof(*lens)), *which = calloc(k + 1, sizeof(*which));
	mvms_oid *pack = calloc(k + 1, sizeof(*pack)), *packs = NULL;
	uint64_t *off = calloc(k + 1, sizeof(*off));
	char key[MVMS_KEY_MAX];
	size_t i, m = 0, npacks = 0;
	int error = 0;

	MVMS_CHECK_ALLOC(lists, error);
	MVMS_CHECK_ALLOC(lens, error);
	MVMS_CHECK_ALLOC(which, error);
	MVMS_CHECK_ALLOC(pack, error);
	MVMS_CHECK_ALLOC(off, error);
	for (i = 0; i < k; i++) {
		if (nc[i].fmlen <= MVMS_LPAK_ITEM_MAX) {
			lists[m] = nc[i].fm;
			lens[m] = nc[i].fmlen;
			which[m++] = i;
			continue;
		}
		mvms_object_key(key, sizeof(key), "files", &nc[i].id);
		MVMS_TRY(mvms_backend_put(st->be, key, nc[i].fm, nc[i].fmlen));
	}
	MVMS_TRY(mvms_lists__put(pack, off, &packs, &npacks, st, lists, lens, m));
	for (i = 0; i < m; i++) {
		nc[which[i]].placed = 1;
		nc[which[i]].pack = pack[i];
		nc[which[i]].off = off[i];
	}
done:
	free(lists);
	free(lens);
	free(which);
	free(pack);
	free(packs);
	free(off);
	return error;
}

/* The rows of the new contents, all in one transaction (one log entry, one sync): each
 * content's list pack place first. One another server added meanwhile is left as it is. */
static int add_contents(mvms_store *st, new_content *nc, size_t k)
{
	int64_t row;
	size_t i;
	int error = 0, began = 0, have;
	unsigned attempt = 0;

	if (k == 0)
		return 0;
	for (;;) {
		MVMS_TRY(mvms_db_begin(st->db));
		began = 1;
		for (i = 0; i < k; i++) {
			if ((have = mvms_contents__row(&row, st, &nc[i].id)) == 0)
				continue;
			if (have != MVMS_ENOTFOUND)
				MVMS_TRY(have);
			mvms_error_clear();
			if (nc[i].placed)
				MVMS_TRY(mvms_clists__add(st, &nc[i].id, &nc[i].pack, nc[i].off));
			MVMS_TRY(mvms_contents__add(&row, st, &nc[i].id, nc[i].size, nc[i].refs,
						    nc[i].n, nc[i].sf, nc[i].tids));
		}
		if ((error = mvms_db_commit(st->db)) == 0)
			break;
		mvms_db_rollback(st->db);
		began = 0;
		/* Another server committed first: caught up, some contents may be there now. */
		if (!mvms_log__retry(st, error, &attempt))
			goto done;
		error = 0;
	}
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	return error;
}

/* The manifest's model (its uid must be the one here; 0 when it is new) and the head of
 * @branch, which must be what the client saw (@expected_head, "" for no version): the
 * optimistic concurrency of a remote push. */
static int check_head(int64_t *model_id_out, int64_t *head_out, mvms_store *st,
		      const mvms_manifest *m, const char *branch, const char *expected_head)
{
	int64_t model_id = 0, head = 0;
	char uid[33], hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	MVMS_TRY(mvms_model_name_check(m->model_name));
	error = mvms_store__model_id(&model_id, st, m->model_name);
	if (error == 0) {
		MVMS_TRY(mvms_store__model_uid(uid, st, model_id));
		if (strcmp(uid, m->model_uid) != 0) {
			error = mvms_error_set(MVMS_EINVALID,
					       "the manifest is for model uid %s, but %s here has uid %s",
					       m->model_uid, m->model_name, uid);
			goto done;
		}
		error = mvms_refs__branch_head(&head, st, model_id, branch);
		if (error == MVMS_ENOTFOUND) {
			head = 0;
			error = 0;
		}
	} else if (error == MVMS_ENOTFOUND) {
		/* A new model: registered with the manifest's uid when the version commits. */
		model_id = 0;
		error = 0;
	}
	if (error < 0)
		goto done;
	mvms_error_clear();
	/* The client's view of the head must still be true. */
	if (head) {
		mvms_version_info *hv = NULL;
		MVMS_TRY(mvms_version__load(&hv, st, head));
		snprintf(hex, sizeof(hex), "%s", hv->id);
		mvms_version_info_free(hv);
	}
	if (!expected_head || strcmp(expected_head, head ? hex : "") != 0) {
		error = mvms_error_set(MVMS_ECONFLICT,
				       "branch '%s' of %s is at %s, not at %s: pull, and push again",
				       branch, m->model_name, head ? hex : "(no version)",
				       expected_head && *expected_head ? expected_head : "(no version)");
		goto done;
	}
	*model_id_out = model_id;
	*head_out = head;
done:
	return error;
}

int mvms_sync_commit(mvms_push_result *out, mvms_store *st, const char *branch,
		     const char *expected_head, const void *manifest, size_t manifest_len,
		     const void *const *filemaps, const size_t *filemap_lens, size_t nfilemaps)
{
	mvms_manifest *m = NULL;
	mvms_push__entry *entries = NULL;
	mvms_oid *fm_ids = NULL;
	mvms_tlayout **sides = NULL;
	new_content *nc = NULL;
	mvms_oidset seen;
	int64_t model_id = 0, head = 0, *parents = NULL;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t i, j, k = 0;
	mvms_validate__sent *sorted = NULL;
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(&seen, 0, sizeof(seen));
	if (!branch)
		branch = "main";
	MVMS_TRY(mvms_ref_name_check(branch));
	if ((error = mvms_manifest_decode(&m, manifest, manifest_len)) < 0) {
		error = mvms_error_set(MVMS_EINVALID, "%s", mvms_error_last());
		goto done;
	}
	MVMS_TRY(check_head(&model_id, &head, st, m, branch, expected_head));
	parents = calloc(m->parent_count + 1, sizeof(*parents));
	MVMS_CHECK_ALLOC(parents, error);
	for (i = 0; i < m->parent_count; i++) {
		mvms_oid_fmt(hex, &m->parents[i]);
		if ((error = mvms_version__row(&parents[i], st, hex)) == MVMS_ENOTFOUND) {
			error = mvms_error_set(MVMS_EINVALID, "parent %s is not in this store", hex);
			goto done;
		}
		if (error < 0)
			goto done;
	}
	fm_ids = calloc(nfilemaps + 1, sizeof(*fm_ids));
	entries = calloc(m->file_count + 1, sizeof(*entries));
	MVMS_CHECK_ALLOC(fm_ids, error);
	MVMS_CHECK_ALLOC(entries, error);
	for (j = 0; j < nfilemaps; j++)
		if (mvms_sync_object_id(&fm_ids[j], "files", filemaps[j], filemap_lens[j]) < 0)
			memset(&fm_ids[j], 0, sizeof(fm_ids[j]));
	/* The whole commit is checked before any content row or object of it is written. */
	if ((error = mvms_validate_manifest(st, m, model_id, branch, parents, fm_ids, filemaps,
					    filemap_lens, nfilemaps)) < 0) {
		out->gc_conflict = error == MVMS_ECONFLICT; /* under a lease: a gc took a chunk */
		goto done;
	}
	/* The side files of the version's ONNX models are cut at their external tensors. */
	MVMS_TRY(mvms_sync__side_layouts(&sides, st, m, fm_ids, filemaps, filemap_lens, nfilemaps));
	MVMS_TRY(mvms_validate__sent_index(&sorted, fm_ids, nfilemaps));
	nc = calloc(m->file_count + 1, sizeof(*nc));
	MVMS_CHECK_ALLOC(nc, error);
	for (i = 0; i < m->file_count; i++) {
		const mvms_manifest_file *f = &m->files[i];
		int64_t row;
		entries[i].path = f->path;
		entries[i].mode = f->mode;
		entries[i].content = f->id;
		entries[i].size = f->size;
		if (mvms_oidset_has(&seen, &f->id))
			continue;
		if ((error = mvms_contents__row(&row, st, &f->id)) < 0 && error != MVMS_ENOTFOUND)
			goto done;
		if (error == 0)
			continue;
		error = 0;
		mvms_error_clear();
		if ((j = mvms_validate__sent_find(sorted, nfilemaps, &f->id)) == nfilemaps) {
			mvms_oid_fmt(hex, &f->id);
			error = mvms_error_set(MVMS_EINVALID,
					       "%s: file %s is not here and its chunk list was not sent",
					       f->path, hex);
			goto done;
		}
		MVMS_TRY(mvms_oidset_add(&seen, &f->id));
		error = prepare_content(&nc[k++], st, f->path, &f->id, f->size, filemaps[j],
					filemap_lens[j], sides[i]);
		sides[i] = NULL;
		if (error < 0) {
			out->gc_conflict = error == MVMS_ECONFLICT;
			goto done;
		}
	}
	MVMS_TRY(write_lists(st, nc, k));
	if ((error = add_contents(st, nc, k)) < 0) {
		out->gc_conflict = error == MVMS_ECONFLICT;
		goto done;
	}
	{
		mvms_push__request rq = { m->model_name, branch, head, parents, m->parent_count,
					  m->message, m->author, m->time, entries, m->file_count,
					  m, 0 };
		MVMS_TRY(mvms_push__entries(out, st, &rq));
	}
done:
	/* The writer starts over once it hears of it: not before that gc has ended. */
	if (error == MVMS_ECONFLICT && out->gc_conflict)
		mvms_lease__gc_wait(st);
	for (i = 0; i < k; i++)
		new_content_dispose(&nc[i]);
	free(nc);
	free(sorted);
	mvms_oidset_dispose(&seen);
	for (i = 0; sides && m && i < m->file_count; i++)
		mvms_tlayout_free(sides[i]);
	free(sides);
	free(entries);
	free(fm_ids);
	free(parents);
	mvms_manifest_free(m);
	return error;
}

int mvms_sync_manifest(char **out, size_t *out_len, char *id_out, const mvms_sync_manifest_info *info)
{
	mvms_manifest m;
	mvms_buf enc = MVMS_BUF_INIT;
	mvms_oid vid;
	size_t i;
	int error = 0;

	*out = NULL;
	*out_len = 0;
	memset(&m, 0, sizeof(m));
	if (!info->model_uid || strlen(info->model_uid) != 32) {
		error = mvms_error_set(MVMS_EINVALID, "manifest: bad model uid");
		goto done;
	}
	memcpy(m.model_uid, info->model_uid, 33);
	m.model_name = (char *)info->model_name;
	m.author = (char *)(info->author ? info->author : "");
	m.message = (char *)(info->message ? info->message : "");
	m.time = info->time;
	m.parents = calloc(info->parent_count + 1, sizeof(*m.parents));
	MVMS_CHECK_ALLOC(m.parents, error);
	for (i = 0; i < info->parent_count; i++)
		MVMS_TRY(mvms_oid_parse(&m.parents[i], info->parents[i]));
	m.parent_count = info->parent_count;
	m.meta_keys = calloc(info->meta_count + 1, sizeof(char *));
	m.meta_values = calloc(info->meta_count + 1, sizeof(char *));
	MVMS_CHECK_ALLOC(m.meta_keys, error);
	MVMS_CHECK_ALLOC(m.meta_values, error);
	for (i = 0; i < info->meta_count; i++) {
		const char *eq = strchr(info->meta[i], '=');
		if (!eq || eq == info->meta[i]) {
			error = mvms_error_set(MVMS_EINVALID, "metadata '%s' is not KEY=VALUE", info->meta[i]);
			goto done;
		}
		m.meta_keys[i] = strndup(info->meta[i], (size_t)(eq - info->meta[i]));
		m.meta_values[i] = strdup(eq + 1);
		m.meta_count = i + 1;
		if (!m.meta_keys[i] || !m.meta_values[i]) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
	}
	m.files = calloc(info->file_count + 1, sizeof(*m.files));
	MVMS_CHECK_ALLOC(m.files, error);
	for (i = 0; i < info->file_count; i++) {
		m.files[i].path = info->files[i].path;
		m.files[i].mode = info->files[i].mode;
		m.files[i].size = info->files[i].size;
		m.files[i].id = info->files[i].id;
		m.files[i].mtime = info->files[i].mtime;
		m.files[i].mtime_ns = info->files[i].mtime_ns;
	}
	m.file_count = info->file_count;
	MVMS_TRY(mvms_manifest_sort(&m));
	MVMS_TRY(mvms_manifest_encode(&enc, &m));
	mvms_oid_hash(&vid, enc.ptr, enc.size);
	if (id_out)
		mvms_oid_fmt(id_out, &vid);
	*out_len = enc.size;
	*out = mvms_buf_detach(&enc);
done:
	free(m.parents);
	for (i = 0; i < m.meta_count; i++) {
		free(m.meta_keys[i]);
		free(m.meta_values[i]);
	}
	free(m.meta_keys);
	free(m.meta_values);
	free(m.files);
	mvms_buf_dispose(&enc);
	return error;
}

int mvms_sync_upload(mvms_push_result *out, mvms_store *st, const char *model, const char *branch,
		     const char *message, const char *author, const mvms_upload_file *files,
		     size_t count, int whole_tree)
{
	mvms_version_info *head = NULL;
	mvms_file_info *hf = NULL;
	mvms_push__entry *entries = NULL;
	size_t nh = 0, n = 0, i, j;
	int64_t model_id = 0, head_row = 0;
	int error = 0;
	char spec[256];

	memset(out, 0, sizeof(*out));
	if (!branch)
		branch = "main";
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(branch));
	if (count == 0) {
		error = mvms_error_set(MVMS_EINVALID, "upload: no files");
		goto done;
	}
	for (i = 0; i < count; i++)
		MVMS_TRY(mvms_path_check(files[i].path));
	error = mvms_store__model_id(&model_id, st, model);
	if (error == 0) {
		error = mvms_refs__branch_head(&head_row, st, model_id, branch);
		if (error == 0 && !whole_tree) {
			snprintf(spec, sizeof(spec), "%s@%s", model, branch);
			MVMS_TRY(mvms_version_resolve(&head, st, spec));
			MVMS_TRY(mvms_version_files(&hf, &nh, st, head));
		}
	}
	if (error == MVMS_ENOTFOUND) {
		error = 0;
		mvms_error_clear();
	}
	if (error < 0)
		goto done;
	entries = calloc(nh + count + 1, sizeof(*entries));
	MVMS_CHECK_ALLOC(entries, error);
	for (i = 0; i < nh; i++) {
		for (j = 0; j < count && strcmp(files[j].path, hf[i].path) != 0; j++)
			;
		if (j < count)
			continue; /* replaced by the upload */
		entries[n].path = hf[i].path;
		entries[n].mode = hf[i].mode;
		MVMS_TRY(mvms_oid_parse(&entries[n].content, hf[i].id));
		entries[n].size = hf[i].size;
		n++;
	}
	for (i = 0; i < count; i++) {
		for (j = 0; j < i && strcmp(files[j].path, files[i].path) != 0; j++)
			;
		if (j < i) {
			error = mvms_error_set(MVMS_EINVALID, "upload: path '%s' given twice", files[i].path);
			goto done;
		}
		entries[n].path = files[i].path;
		entries[n].mode = files[i].mode == 0755 ? 0755 : 0644;
		entries[n].abs = files[i].abs;
		n++;
	}
	/* The tree's paths, checked before any file is read and stored. */
	MVMS_TRY(mvms_validate_entry_paths(entries, n));
	{
		mvms_push__request rq = { model, branch, head_row, head_row ? &head_row : NULL,
					  head_row ? 1 : 0, message, author, 0, entries, n, NULL, 1 };
		MVMS_TRY(mvms_push__entries(out, st, &rq));
	}
done:
	free(entries);
	mvms_file_list_free(hf, nh);
	mvms_version_info_free(head);
	return error;
}
