/* SPDX-License-Identifier: MIT */
/*
 * Tensor layouts of the files a client commits (sync_commit.c), read from the stored chunks,
 * not taken from the client's word: a file's own layout (tlayout.c probes it through random
 * reads in its chunks, each chunk decoded and checked), and the layouts of the side files
 * that the version's ONNX models keep their external tensors in.
 */
#include <stdlib.h>
#include <string.h>
#include "store_int.h"
#include "codec.h"
#include "contents.h"
#include "manifest.h"
#include "pack.h"
#include "sync_int.h"
#include "tlayout.h"
#include "mvms/sync.h"
#include "bases.h"

/* The chunk lengths of a filemap, for the content rows. */
int mvms_sync__filemap_refs(mvms_chunk_ref **out, const void *data, size_t n)
{
	const unsigned char *p = data;
	mvms_chunk_ref *r = calloc(n + 1, sizeof(*r));
	size_t i;

	*out = NULL;
	if (!r)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	for (i = 0; i < n; i++) {
		memcpy(r[i].id.id, p + FILEMAP_HDR + i * FILEMAP_ENTRY, MVMS_OID_RAWSZ);
		r[i].len = (uint32_t)mvms_le64_get(p + FILEMAP_HDR + i * FILEMAP_ENTRY + 32);
	}
	*out = r;
	return 0;
}

/* Random reads in a stored file made of chunks, each chunk decoded and checked, for the
 * tensor layout probe (which reads headers, and an ONNX model's framing, not tensor data). */
typedef struct stored_file {
	mvms_store *st;
	const mvms_chunk_ref *refs;
	size_t n;
	uint64_t *offs;          /* offs[i]: where chunk i starts; offs[n]: the size */
	mvms_codec *codec;
	unsigned char *rec, *raw;
	size_t rec_cap, raw_cap;
	size_t cur;              /* the chunk decoded in raw, or n */
} stored_file;

static void stored_close(stored_file *f)
{
	mvms_codec_free(f->codec);
	free(f->offs);
	free(f->rec);
	free(f->raw);
}

static int stored_open(stored_file *f, mvms_store *st, const mvms_chunk_ref *refs, size_t n)
{
	size_t i;
	int error = 0;

	memset(f, 0, sizeof(*f));
	f->st = st;
	f->refs = refs;
	f->n = n;
	f->cur = n;
	f->offs = calloc(n + 1, sizeof(*f->offs));
	MVMS_CHECK_ALLOC(f->offs, error);
	for (i = 0; i < n; i++)
		f->offs[i + 1] = f->offs[i] + refs[i].len;
	MVMS_TRY(mvms_codec_new(&f->codec, 0));
	mvms_bases__attach(st, f->codec);
done:
	return error;
}

static int stored_chunk(stored_file *f, size_t i)
{
	mvms_chunk_loc loc;
	int error = 0;

	if (f->cur == i)
		return 0;
	f->cur = f->n;
	MVMS_TRY(mvms_sync__read_record(&f->rec, &f->rec_cap, f->st, &f->refs[i].id, &loc));
	if (loc.raw_len != f->refs[i].len) {
		error = mvms_error_set(MVMS_EMISMATCH, "a chunk's length is not its list's");
		goto done;
	}
	if ((size_t)loc.raw_len + 1 > f->raw_cap) {
		unsigned char *t = realloc(f->raw, (size_t)loc.raw_len + 1);
		MVMS_CHECK_ALLOC(t, error);
		f->raw = t;
		f->raw_cap = (size_t)loc.raw_len + 1;
	}
	MVMS_TRY(mvms_pack_decode_record(f->codec, f->raw, loc.raw_len, &f->refs[i].id, f->rec,
					 MVMS_PACK_RECORD_HDR + (size_t)loc.stored));
	f->cur = i;
done:
	return error;
}

static int stored_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	stored_file *f = ctx;
	unsigned char *d = buf;
	size_t lo = 0, hi = f->n;
	int error = 0;

	if (off > f->offs[f->n] || len > f->offs[f->n] - off)
		return mvms_error_set(MVMS_ERROR, "read past the end of a stored file");
	/* The last chunk starting at or before off. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->offs[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	while (len > 0) {
		uint64_t in, take;
		while (lo < f->n && f->offs[lo + 1] <= off)
			lo++;
		MVMS_TRY(stored_chunk(f, lo));
		in = off - f->offs[lo];
		take = f->refs[lo].len - in < len ? f->refs[lo].len - in : len;
		memcpy(d, f->raw + in, (size_t)take);
		d += take;
		off += take;
		len -= (size_t)take;
	}
done:
	return error;
}

int mvms_sync__layout(mvms_tlayout **out, mvms_store *st, const char *path, uint64_t size,
		      const mvms_chunk_ref *refs, size_t n)
{
	stored_file f;
	mvms_tl_src src;
	int error = 0;

	*out = NULL;
	MVMS_TRY(stored_open(&f, st, refs, n));
	src.read = stored_read;
	src.ctx = &f;
	src.size = size;
	error = mvms_tlayout_probe(out, path, &src);
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
done:
	stored_close(&f);
	return error;
}

/* Reads of a content the store already has (mvms_pull__content_range checks each chunk). */
typedef struct have_file {
	mvms_store *st;
	const mvms_oid *id;
} have_file;

typedef struct copy_dst {
	unsigned char *p;
	size_t at, len;
} copy_dst;

static int copy_sink(const void *data, size_t len, void *payload)
{
	copy_dst *d = payload;

	if (len > d->len - d->at)
		return mvms_error_set(MVMS_ERROR, "stored file: more bytes than asked for");
	memcpy(d->p + d->at, data, len);
	d->at += len;
	return 0;
}

static int have_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	have_file *h = ctx;
	copy_dst d = { buf, 0, len };
	int error = mvms_pull__content_range(h->st, h->id, off, len, copy_sink, &d);

	if (error == 0 && d.at != len)
		error = mvms_error_set(MVMS_ERROR, "stored file: fewer bytes than asked for");
	return error;
}

int mvms_sync__stored_layout(mvms_tlayout **out, mvms_store *st, const mvms_oid *id,
			     const char *path, uint64_t size)
{
	have_file h = { st, id };
	mvms_tl_src src = { have_read, &h, size };
	int error = mvms_tlayout_probe(out, path, &src);

	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
	return error;
}

/* The layout of ONNX model @f of the manifest, from its chunk list if it came with the
 * commit, else from the store's copy. */
static int model_layout(mvms_tlayout **out, mvms_store *st, const mvms_manifest_file *f,
			const mvms_oid *fm_ids, const void *const *filemaps,
			const size_t *filemap_lens, size_t nfilemaps)
{
	mvms_oid *chunks = NULL;
	mvms_chunk_ref *refs = NULL;
	uint64_t total = 0;
	size_t j, n = 0;
	int error = 0;

	*out = NULL;
	for (j = 0; j < nfilemaps && mvms_oid_cmp(&fm_ids[j], &f->id) != 0; j++)
		;
	if (j < nfilemaps) {
		MVMS_TRY(mvms_sync_parse_filemap(&chunks, &n, &total, filemaps[j], filemap_lens[j],
						 &f->id));
		MVMS_TRY(mvms_sync__filemap_refs(&refs, filemaps[j], n));
		MVMS_TRY(mvms_sync__layout(out, st, f->path, f->size, refs, n));
	} else {
		error = mvms_sync__stored_layout(out, st, &f->id, f->path, f->size);
	}
done:
	free(chunks);
	free(refs);
	return error;
}

static int is_onnx(const char *path)
{
	size_t n = strlen(path);

	return n >= 5 && strcmp(path + n - 5, ".onnx") == 0;
}

int mvms_sync__side_layouts(mvms_tlayout ***out, mvms_store *st, const mvms_manifest *m,
			    const mvms_oid *fm_ids, const void *const *filemaps,
			    const size_t *filemap_lens, size_t nfilemaps)
{
	size_t i, nf = m->file_count;
	mvms_tlayout **models = NULL, **sides = NULL;
	const char **paths = NULL;
	uint64_t *sizes = NULL;
	int *want = NULL, error = 0, any = 0;
	int64_t row;
	mvms_tl_files fs;

	*out = NULL;
	for (i = 0; i < nf && !is_onnx(m->files[i].path); i++)
		;
	if (i == nf) {
		/* No ONNX model: nothing to look up (a commit of 10,000 small files stays cheap). */
		*out = calloc(nf + 1, sizeof(**out));
		return *out ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
	}
	sides = calloc(nf + 1, sizeof(*sides));
	models = calloc(nf + 1, sizeof(*models));
	paths = calloc(nf + 1, sizeof(*paths));
	sizes = calloc(nf + 1, sizeof(*sizes));
	want = calloc(nf + 1, sizeof(*want));
	if (!sides || !models || !paths || !sizes || !want) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < nf; i++) {
		const mvms_manifest_file *f = &m->files[i];
		paths[i] = f->path;
		sizes[i] = f->size;
		/* Only a content that this commit adds gets tensor rows. */
		error = mvms_contents__row(&row, st, &f->id);
		if (error < 0 && error != MVMS_ENOTFOUND)
			goto done;
		want[i] = error == MVMS_ENOTFOUND && !is_onnx(f->path);
		error = 0;
		if (is_onnx(f->path)) {
			MVMS_TRY(model_layout(&models[i], st, f, fm_ids, filemaps, filemap_lens, nfilemaps));
			any |= models[i] && models[i]->ext_count;
		}
	}
	if (any) {
		fs.count = nf;
		fs.paths = paths;
		fs.sizes = sizes;
		fs.want = want;
		fs.models = (const mvms_tlayout *const *)models;
		MVMS_TRY(mvms_tlayout_sides(sides, &fs));
	}
	*out = sides;
	sides = NULL;
done:
	for (i = 0; i < nf; i++) {
		if (sides)
			mvms_tlayout_free(sides[i]);
		if (models)
			mvms_tlayout_free(models[i]);
	}
	free(sides);
	free(models);
	free(paths);
	free(sizes);
	free(want);
	return error;
}
