/* SPDX-License-Identifier: MIT */
/*
 * Fine-tune deltas in a push. A float tensor (BF16, F16, F32) is cut on a fixed grid: a
 * chunk every avg_size bytes from the tensor's start, no content-defined cut inside it (a
 * weight tensor never shifts inside, so the chunker could find nothing more there). Its
 * chunks then depend only on its own bytes, whatever the parent, so identical files dedup
 * in any context, and when the parent version has a tensor of the same name, dtype and shape
 * in the file at the same path, cut on the same grid, new chunk i lines up with parent chunk
 * i. Such a new chunk is also encoded as a delta against that parent chunk's full record
 * (its own, or its base when the parent chunk is itself a delta: no chains) and stored that
 * way when the delta is clearly smaller (at most 7/8 of the full record). The parent is the
 * first of the push's parents (the branch head, then --parent ones) that has the path.
 * A remote push stages into its cache with no parents there: its parent files (tensors,
 * chunks, and which records the server holds full) come from the server through
 * push_spec.parent_fn (transfer/remote_delta.c), so its deltas name the server's full records.
 * Chunk ids stay the hashes of the raw bytes. The grid and the pairing are decided on the
 * reading thread (push_pipe.c's producer); a worker that claims a paired chunk as new reads
 * its base (through meta/bases.c, which has its own connection for any thread) and tries the
 * delta (core/codec_delta.c) right after the full encoding.
 */
#include <stdlib.h>
#include <string.h>
#include "push_int.h"
#include "bases.h"

/* A delta is kept only when at most this share (in eighths) of the full record. */
#define DELTA_KEEP_EIGHTHS 7
/* A remote push names the bases of the next this many bytes of a file ahead of its reading
 * (the pipeline holds a few MiB): their fetches batch, and memory stays bounded. */
#define NAME_AHEAD (32u * 1024 * 1024)

typedef struct delta_slot {
	uint64_t off;            /* in the new file */
	uint32_t len;
	int has_base;
	int named;               /* named ahead (hooks), and no chunk carries the naming yet */
	mvms_oid base;           /* the full record to diff against */
} delta_slot;

typedef struct delta_region {
	uint64_t start, end;     /* a paired tensor: cut only at the slots' boundaries */
} delta_region;

struct push_delta {
	const int64_t *parents;
	size_t nparents;
	mvms_bases_parent_fn parent_fn; /* a remote push: the server's parent files */
	void *parent_ctx;
	const mvms_push__base_hooks *hooks; /* a remote push: bases named ahead */
	delta_slot *slots;
	size_t nslots, cslots, slot_scan, name_next;
	delta_region *regions;
	size_t nregions, cregions, region_scan;
	unsigned char **base;    /* per worker: the base being diffed against */
	unsigned char **tmp;     /* per worker: a delta being encoded */
	unsigned nworkers;
	size_t tmp_len;
};

int mvms_push__delta_start(push_ctx *c, const push_spec *ps)
{
	push_delta *d;
	unsigned w;
	int error = 0;

	if (!c->st->db)
		return 0;
	d = calloc(1, sizeof(*d));
	MVMS_CHECK_ALLOC(d, error);
	c->delta = d;
	d->parents = ps->parents;
	d->nparents = ps->nparents;
	d->parent_fn = ps->parent_fn;
	d->parent_ctx = ps->parent_ctx;
	d->hooks = ps->base_hooks;
	d->nworkers = mvms_pool_size(c->pool);
	d->tmp_len = c->st->chunker.max_size;
	d->tmp = calloc(d->nworkers, sizeof(*d->tmp));
	d->base = calloc(d->nworkers, sizeof(*d->base));
	MVMS_CHECK_ALLOC(d->tmp, error);
	MVMS_CHECK_ALLOC(d->base, error);
	for (w = 0; w < d->nworkers; w++) {
		/* Each worker reads bases with its own codec's buffers. */
		mvms_bases__attach(c->st, c->codecs[w]);
		d->tmp[w] = malloc(d->tmp_len);
		MVMS_CHECK_ALLOC(d->tmp[w], error);
		d->base[w] = malloc(d->tmp_len);
		MVMS_CHECK_ALLOC(d->base[w], error);
	}
done:
	return error;
}

/* A slot named ahead that no chunk took (cut otherwise, another dtype): its naming is
 * taken back. */
static void settle(push_delta *d, delta_slot *s)
{
	if (s->named) {
		s->named = 0;
		d->hooks->unwant(d->hooks->ctx, &s->base);
	}
}

/* Every slot still named (the file ended, or the push failed). */
static void settle_all(push_delta *d)
{
	size_t i;

	for (i = d->slot_scan; d->hooks && i < d->name_next && i < d->nslots; i++)
		settle(d, &d->slots[i]);
	d->name_next = 0;
}

/* Names the bases of the slots up to @pos + NAME_AHEAD, in file order; a failure only means
 * the workers fetch those alone. */
static void name_ahead(push_delta *d, uint64_t pos)
{
	mvms_oid ids[512]; /* one want per step, so one batch (16 KiB of stack) */
	size_t k = 0;

	/* In steps of half the window: the fetcher's batches are as large as what was named
	 * while it fetched the previous one. */
	if (d->name_next < d->nslots && d->slots[d->name_next].off < pos + NAME_AHEAD / 2)
		pos += NAME_AHEAD / 2;
	else
		return;
	while (d->name_next < d->nslots && d->slots[d->name_next].off < pos + NAME_AHEAD / 2) {
		delta_slot *s = &d->slots[d->name_next++];
		if (!s->has_base)
			continue;
		s->named = 1;
		ids[k++] = s->base;
		if (k == MVMS_ARRAY_SIZE(ids)) {
			if (d->hooks->want(d->hooks->ctx, ids, k) < 0)
				mvms_error_clear();
			k = 0;
		}
	}
	if (k && d->hooks->want(d->hooks->ctx, ids, k) < 0)
		mvms_error_clear();
}

void mvms_push__delta_end(push_ctx *c)
{
	push_delta *d = c->delta;
	unsigned w;

	if (!d)
		return;
	settle_all(d);
	for (w = 0; w < d->nworkers; w++) {
		free(d->tmp ? d->tmp[w] : NULL);
		free(d->base ? d->base[w] : NULL);
	}
	free(d->tmp);
	free(d->base);
	free(d->slots);
	free(d->regions);
	free(d);
	c->delta = NULL;
}

static int delta_dtype(int dtype_id)
{
	return dtype_id == MVMS_DTYPE_BF16 || dtype_id == MVMS_DTYPE_F16 ||
	       dtype_id == MVMS_DTYPE_F32;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const mvms_bases_tensor *const *)a)->name,
		      (*(const mvms_bases_tensor *const *)b)->name);
}

/* The first parent chunk at or after @off (chunks are in file order). */
static size_t chunk_at(const mvms_bases_parent *p, uint64_t off)
{
	size_t lo = 0, hi = p->nchunks, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->chunks[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The grid slots of float tensor @t; each paired with the parent's chunk at the same place
 * when @pt (may be NULL) is cut on the same grid (a parent from before the grid, or cut by
 * content, pairs with nothing). */
static int grid_tensor(push_delta *d, const mvms_tensor_info *t, const mvms_bases_tensor *pt,
		       const mvms_bases_parent *p, uint32_t grid)
{
	uint64_t n = (t->length + grid - 1) / grid, k;
	size_t i = 0;
	delta_region *nr;
	int error = 0, paired = 0;

	if (pt) {
		/* The parent's chunks of the tensor must be exactly the grid's. */
		i = chunk_at(p, pt->offset);
		paired = i + n <= p->nchunks;
		for (k = 0; paired && k < n; k++) {
			const mvms_bases_chunk *ch = &p->chunks[i + k];
			uint64_t want = t->length - k * grid < grid ? t->length - k * grid : grid;
			paired = ch->offset == pt->offset + k * grid && ch->len == want;
		}
	}
	if (d->nslots + n > d->cslots) {
		size_t ncap = (d->cslots ? d->cslots * 2 : 256) + (size_t)n;
		delta_slot *ns = realloc(d->slots, ncap * sizeof(*ns));
		MVMS_CHECK_ALLOC(ns, error);
		d->slots = ns;
		d->cslots = ncap;
	}
	for (k = 0; k < n; k++) {
		delta_slot *s = &d->slots[d->nslots++];
		s->off = t->offset + k * grid;
		s->len = (uint32_t)(t->length - k * grid < grid ? t->length - k * grid : grid);
		s->has_base = paired;
		s->named = 0;
		if (paired)
			s->base = p->chunks[i + k].base;
	}
	if (!(nr = mvms_array_room(d->regions, &d->cregions, d->nregions, sizeof(*nr), 64))) {
		error = MVMS_ERROR;
		goto done;
	}
	d->regions = nr;
	d->regions[d->nregions].start = t->offset;
	d->regions[d->nregions].end = t->offset + t->length;
	d->nregions++;
done:
	return error;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Adds every slot's start to the cut points, sorted and unique. */
static int add_bounds(push_delta *d, const push_file *f, uint64_t **bounds, size_t *nbounds)
{
	uint64_t *b;
	size_t i, k = *nbounds, j;
	int error = 0;

	if (!d->nslots)
		return 0;
	b = realloc(*bounds, (k + d->nslots) * sizeof(*b));
	MVMS_CHECK_ALLOC(b, error);
	*bounds = b;
	for (i = 0; i < d->nslots; i++)
		b[k++] = d->slots[i].off;
	qsort(b, k, sizeof(*b), cmp_u64);
	for (i = 0, j = 0; i < k; i++)
		if (b[i] > 0 && b[i] < f->size && (j == 0 || b[j - 1] != b[i]))
			b[j++] = b[i];
	*nbounds = j;
done:
	return error;
}

int mvms_push__delta_file(push_ctx *c, push_file *f, uint64_t **bounds, size_t *nbounds)
{
	push_delta *d = c->delta;
	mvms_bases_parent *p = NULL;
	mvms_bases_tensor **sorted = NULL, key, *kp = &key, **hit;
	uint32_t grid = c->st->chunker.avg_size;
	size_t i;
	int error = 0;

	if (!d)
		return 0;
	settle_all(d);
	d->nslots = d->nregions = d->slot_scan = d->region_scan = 0;
	if (!f->st || !f->st->count)
		return 0;
	if (d->parent_fn)
		MVMS_TRY(d->parent_fn(&p, d->parent_ctx, f->path));
	for (i = 0; i < d->nparents && !p; i++)
		MVMS_TRY(mvms_bases__parent(&p, c->st, d->parents[i], f->path));
	if (p) {
		sorted = malloc((p->ntensors ? p->ntensors : 1) * sizeof(*sorted));
		MVMS_CHECK_ALLOC(sorted, error);
		for (i = 0; i < p->ntensors; i++)
			sorted[i] = &p->tensors[i];
		qsort(sorted, p->ntensors, sizeof(*sorted), by_name);
	}
	memset(&key, 0, sizeof(key));
	for (i = 0; i < f->st->count; i++) {
		const mvms_tensor_info *t = &f->st->tensors[i];
		if (!delta_dtype(t->dtype_id) || t->length == 0 || t->location)
			continue;
		hit = NULL;
		if (p) {
			key.name = t->name;
			hit = bsearch(&kp, sorted, p->ntensors, sizeof(*sorted), by_name);
			if (hit && (strcmp((*hit)->dtype, t->dtype) != 0 ||
				    strcmp((*hit)->shape, t->shape) != 0 || (*hit)->length != t->length))
				hit = NULL;
		}
		MVMS_TRY(grid_tensor(d, t, hit ? *hit : NULL, p, grid));
	}
	MVMS_TRY(add_bounds(d, f, bounds, nbounds));
done:
	free(sorted);
	mvms_bases__parent_free(p);
	return error;
}

size_t mvms_push__delta_cut(push_ctx *c, uint64_t pos, size_t n)
{
	push_delta *d = c->delta;

	if (!d)
		return 0;
	while (d->region_scan < d->nregions && d->regions[d->region_scan].end <= pos)
		d->region_scan++;
	/* Inside a float tensor the next cut point is the grid's next one, and @n already stops
	 * there (the grid's step, avg_size, is below the chunker's max). */
	if (d->region_scan < d->nregions && d->regions[d->region_scan].start <= pos)
		return n;
	return 0;
}

void mvms_push__delta_mark(push_ctx *c, batch_chunk *b, uint64_t pos)
{
	push_delta *d = c->delta;

	b->has_base = 0;
	if (!d)
		return;
	while (d->slot_scan < d->nslots && d->slots[d->slot_scan].off < pos) {
		if (d->hooks)
			settle(d, &d->slots[d->slot_scan]);
		d->slot_scan++;
	}
	if (d->hooks)
		name_ahead(d, pos);
	if (d->slot_scan < d->nslots && d->slots[d->slot_scan].off == pos &&
	    d->slots[d->slot_scan].has_base &&
	    d->slots[d->slot_scan].len == b->len && delta_dtype(b->dtype) &&
	    b->len <= d->tmp_len) {
		b->has_base = 1;
		b->base_id = d->slots[d->slot_scan].base;
		/* The chunk carries the naming now: the worker reads the base, or skips it. */
		d->slots[d->slot_scan].named = 0;
	}
}

void mvms_push__delta_skip(push_ctx *c, const batch_chunk *b)
{
	push_delta *d = c->delta;

	if (d && d->hooks && b->has_base)
		d->hooks->unwant(d->hooks->ctx, &b->base_id);
}

int mvms_push__delta_encode(push_ctx *c, unsigned worker, batch_chunk *b, unsigned char *dst)
{
	push_delta *d = c->delta;
	size_t n = 0, limit = b->out_len / 8 * DELTA_KEEP_EIGHTHS;
	mvms_codec *codec;

	if (!d || !b->has_base)
		return 0;
	if (worker >= d->nworkers || b->len > d->tmp_len || mvms_oid_cmp(&b->base_id, &b->id) == 0) {
		mvms_push__delta_skip(c, b);
		return 0;
	}
	codec = c->codecs[worker];
	/* A base that cannot be read (gone, damaged) only means no delta here. */
	if (mvms_codec_read_base(codec, &b->base_id, b->len, d->base[worker]) < 0) {
		mvms_error_clear();
		return 0;
	}
	if (limit > d->tmp_len)
		limit = d->tmp_len;
	if (mvms_codec_encode_delta(codec, (enum mvms_dtype)b->dtype, &b->base_id, d->base[worker],
				    &n, d->tmp[worker], limit, b->data, b->len) < 0)
		return MVMS_ERROR;
	if (!n)
		return 0;
	memcpy(dst, d->tmp[worker], n);
	b->codec = MVMS_CODEC_DELTA;
	b->out_len = n;
	return 0;
}
