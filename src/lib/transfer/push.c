/* SPDX-License-Identifier: MIT */
/*
 * Push, the pipeline: files (walk.c) -> chunks (FastCDC, cut at tensor boundaries:
 * push_layout.c, each with its tensor's dtype) -> BLAKE2b ids -> dedup against the store ->
 * codec (zstd, or byte planes for float tensors) -> packs, each indexed
 * (packs.c) once durable; then push_commit.c's one SQLite transaction adds the version,
 * its files, parents and the branch move (compare-and-swap). Packs are durable and indexed
 * before that transaction, so a push killed at any point leaves at most unreferenced packs;
 * a re-run finds their chunks and does not write them again.
 * Each byte is read once and hashed once; hashing and compression run on a thread pool
 * over batches of chunks, while the calling thread cuts the next batch. Also the entry
 * points: mvms_push (with its one retry after a gc conflict) and mvms_push__entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "history.h"
#include "push_int.h"
#include "hash.h"
#include "packs.h"
#include "tree.h"
#include "transport.h"

/* Read, cut, hash and compress 2 MiB at a time: the bytes stay in the CPU cache from read()
 * to hashing and compression (16 MiB batches were slower and used 3x the memory). */
#define READ_BUF_SIZE (2u * 1024 * 1024)

/* The uploader's callback: a pack whose upload is done is indexed, and counted. */
static int pack_uploaded(void *arg, const mvms_oid *pid, uint64_t size,
			 const mvms_pack_entry *entries, size_t count)
{
	push_ctx *c = arg;
	int error = push_gone(c, mvms_packs__index(c->st, pid, size, entries, count));

	if (error == 0) {
		c->res->packs++;
		c->res->new_stored_bytes += size;
	}
	return error;
}

static int flush_pack(push_ctx *c)
{
	mvms_pack_writer *w = c->pack;
	uint64_t size;
	int error = 0;

	if (!w)
		return 0;
	c->pack = NULL;
	if (c->up)
		return mvms_uploader_add(c->up, w, pack_uploaded, c);
	MVMS_TRY(push_gone(c, mvms_packs__commit(&size, c->st, w)));
	c->res->packs++;
	c->res->new_stored_bytes += size;
done:
	return error;
}

/* ---- batches: hash in parallel, dedup in order, compress in parallel, pack in order ---- */

static void hash_one(size_t i, unsigned worker, void *ctx)
{
	batch_chunk *b = &((push_ctx *)ctx)->batch[i];

	MVMS_UNUSED(worker);
	mvms_oid_hash(&b->id, b->data, b->len);
}

static void compress_one(size_t i, unsigned worker, void *ctx)
{
	push_ctx *c = ctx;
	batch_chunk *b = &c->batch[i];

	if (!b->is_new)
		return;
	b->error = mvms_codec_encode_as(c->codecs[worker], (enum mvms_dtype)b->dtype, &b->codec,
					&b->out_len, c->arena + b->out_off, mvms_codec_bound(b->len),
					b->data, b->len);
	if (b->error == 0 && b->base)
		mvms_push__delta_encode(c, worker, b);
}

static int chunk_known(push_ctx *c, const mvms_oid *id)
{
	unsigned char missing;
	int error = mvms_packs__missing(&missing, c->st, id, 1);

	return error < 0 ? error : !missing;
}

typedef struct file_state {
	push_file *f;
	mvms_hasher file_hasher;
	mvms_hasher tensor_hasher;
	size_t tensor;           /* index of the tensor being hashed, or count when none */
	size_t scan;             /* tensors before this one end at or before the current chunk */
	uint64_t pos;            /* file offset of the next chunk */
} file_state;

static void tensor_close(file_state *fs)
{
	if (fs->f->st && fs->tensor < fs->f->st->count) {
		mvms_hasher_final(&fs->tensor_hasher, &fs->f->tensor_ids[fs->tensor]);
		fs->tensor = fs->f->st->count;
	}
}

/* Cut points are forced at tensor boundaries, so each chunk lies inside one tensor or
 * outside all of them (header, padding). Chunks arrive in file order and tensors are
 * sorted by offset, so one forward scan finds each chunk's tensor. */
static void tensor_account(file_state *fs, const mvms_oid *id, uint64_t pos, uint32_t len)
{
	mvms_tlayout *st = fs->f->st;
	const mvms_tensor_info *ti;

	if (!st)
		return;
	while (fs->scan < st->count &&
	       st->tensors[fs->scan].offset + st->tensors[fs->scan].length <= pos)
		fs->scan++;
	if (fs->tensor != fs->scan)
		tensor_close(fs);
	if (fs->scan >= st->count)
		return;
	ti = &st->tensors[fs->scan];
	if (pos < ti->offset)
		return;
	if (fs->tensor != fs->scan) {
		fs->tensor = fs->scan;
		mvms_hasher_init(&fs->tensor_hasher);
	}
	mvms_hasher_add_chunk(&fs->tensor_hasher, id, len);
}

static int process_batch(push_ctx *c, file_state *fs)
{
	size_t i, arena_need = 0;
	int error = 0, known;
	push_file *f = fs->f;

	if (c->nbatch == 0)
		return 0;
	mvms_pool_run(c->pool, c->nbatch, hash_one, c);

	for (i = 0; i < c->nbatch; i++) {
		batch_chunk *b = &c->batch[i];

		if (f->nchunks == f->cchunks) {
			size_t ncap = f->cchunks ? f->cchunks * 2 : 64;
			mvms_chunk_ref *tmp = realloc(f->chunks, ncap * sizeof(*tmp));
			MVMS_CHECK_ALLOC(tmp, error);
			f->chunks = tmp;
			f->cchunks = ncap;
		}
		f->chunks[f->nchunks].id = b->id;
		f->chunks[f->nchunks].len = b->len;
		f->nchunks++;
		mvms_hasher_add_chunk(&fs->file_hasher, &b->id, b->len);
		tensor_account(fs, &b->id, fs->pos, b->len);
		fs->pos += b->len;
		c->res->chunks++;

		b->is_new = 0;
		if (mvms_oidset_has(&c->pending, &b->id))
			continue;
		if ((known = chunk_known(c, &b->id)) < 0) {
			error = known;
			goto done;
		}
		if (known)
			continue;
		b->is_new = 1;
		b->out_off = arena_need;
		arena_need += mvms_codec_bound(b->len);
		MVMS_TRY(mvms_oidset_add(&c->pending, &b->id));
	}
	if (arena_need > c->arena_cap) {
		unsigned char *tmp = realloc(c->arena, arena_need);
		MVMS_CHECK_ALLOC(tmp, error);
		c->arena = tmp;
		c->arena_cap = arena_need;
	}
	MVMS_TRY(mvms_push__delta_bases(c));
	mvms_pool_run(c->pool, c->nbatch, compress_one, c);

	for (i = 0; i < c->nbatch; i++) {
		batch_chunk *b = &c->batch[i];

		if (!b->is_new)
			continue;
		if ((error = b->error) < 0)
			goto done;
		if (!c->pack)
			MVMS_TRY(mvms_pack_writer_new(&c->pack, c->st->be));
		MVMS_TRY(mvms_pack_writer_add(c->pack, &b->id, b->codec, b->len, c->arena + b->out_off,
					      (uint32_t)b->out_len));
		c->res->new_chunks++;
		c->res->new_raw_bytes += b->len;
		c->res->delta_chunks += b->codec == MVMS_CODEC_DELTA;
		if (mvms_pack_writer_size(c->pack) >= c->st->pack_size) {
			size_t j;
			MVMS_TRY(flush_pack(c));
			/* Flushed chunks are in the database now; the rest of this batch is not. */
			mvms_oidset_clear(&c->pending);
			for (j = i + 1; j < c->nbatch; j++)
				if (c->batch[j].is_new)
					MVMS_TRY(mvms_oidset_add(&c->pending, &c->batch[j].id));
		}
	}
done:
	c->nbatch = 0;
	return error;
}

static int batch_add(push_ctx *c, const unsigned char *data, uint32_t len, uint8_t dtype)
{
	int error = 0;

	if (c->nbatch == c->cbatch) {
		size_t ncap = c->cbatch ? c->cbatch * 2 : 512;
		batch_chunk *tmp = realloc(c->batch, ncap * sizeof(*tmp));
		MVMS_CHECK_ALLOC(tmp, error);
		c->batch = tmp;
		c->cbatch = ncap;
	}
	c->batch[c->nbatch].data = data;
	c->batch[c->nbatch].len = len;
	c->batch[c->nbatch].dtype = dtype;
	c->batch[c->nbatch].error = 0;
	c->nbatch++;
done:
	return error;
}

/* The dtype of the tensor that holds [pos, pos + len), UNKNOWN outside tensors. Chunks are
 * cut at every tensor boundary, so a chunk lies in one tensor or none; chunks come in file
 * order, so *scan only moves forward. */
static uint8_t chunk_dtype(const push_file *f, size_t *scan, uint64_t pos, uint64_t len)
{
	const mvms_tensor_info *t;

	if (!f->st)
		return MVMS_DTYPE_UNKNOWN;
	while (*scan < f->st->count &&
	       f->st->tensors[*scan].offset + f->st->tensors[*scan].length <= pos)
		(*scan)++;
	if (*scan >= f->st->count)
		return MVMS_DTYPE_UNKNOWN;
	t = &f->st->tensors[*scan];
	if (pos < t->offset || pos + len > t->offset + t->length)
		return MVMS_DTYPE_UNKNOWN;
	/* Each format's parser maps its own type names (GGUF "F16", ONNX "FLOAT16", ...). */
	return (uint8_t)t->dtype_id;
}

/* Sorted, unique cut points that the chunker must respect: header end and both ends of
 * every tensor. */
static int boundaries(uint64_t **out, size_t *n, const push_file *f)
{
	uint64_t *b = NULL;
	size_t i, k = 0, j;
	int error = 0;

	*out = NULL;
	*n = 0;
	if (!f->st)
		return 0;
	b = malloc((2 * f->st->count + 1) * sizeof(*b));
	MVMS_CHECK_ALLOC(b, error);
	b[k++] = f->st->header_end;
	for (i = 0; i < f->st->count; i++) {
		b[k++] = f->st->tensors[i].offset;
		b[k++] = f->st->tensors[i].offset + f->st->tensors[i].length;
	}
	/* Tensors are sorted by offset and do not overlap, so b is almost sorted: insertion sort. */
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && b[j - 1] > b[j]; j--) {
			uint64_t t = b[j];
			b[j] = b[j - 1];
			b[j - 1] = t;
		}
	for (i = 0, j = 0; i < k; i++)
		if (b[i] > 0 && b[i] < f->size && (j == 0 || b[j - 1] != b[i]))
			b[j++] = b[i];
	*out = b;
	*n = j;
	b = NULL;
done:
	free(b);
	return error;
}

static int push_one_file(push_ctx *c, push_file *f)
{
	const mvms_chunker_params *cp = &c->st->chunker;
	file_state fs;
	uint64_t *bounds = NULL, file_pos = 0, buf_file_off = 0;
	size_t nbounds = 0, bi = 0, have = 0, start = 0, t, dscan = 0;
	int fd = -1, error = 0, eof = 0;
	struct stat sb;

	memset(&fs, 0, sizeof(fs));
	fs.f = f;
	mvms_hasher_init(&fs.file_hasher);
	fd = open(f->abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		error = mvms_error_set(MVMS_ERROR, "push: %s: %s", f->abs, strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: not a regular file", f->abs);
		goto done;
	}
	f->size = (uint64_t)sb.st_size;
	MVMS_TRY(mvms_push__probe(f, fd));
	if (f->st) {
		f->tensor_ids = calloc(f->st->count + 1, sizeof(mvms_oid));
		MVMS_CHECK_ALLOC(f->tensor_ids, error);
		/* Empty tensors own no chunk: their id is the hash of an empty list. */
		for (t = 0; t < f->st->count; t++)
			if (f->st->tensors[t].length == 0)
				mvms_oid_hash(&f->tensor_ids[t], NULL, 0);
		fs.tensor = f->st->count;
	}
	MVMS_TRY(boundaries(&bounds, &nbounds, f));
	MVMS_TRY(mvms_push__delta_file(c, f, &bounds, &nbounds));

	for (;;) {
		/* Refill: keep the unconsumed tail, read until the buffer is full or EOF. */
		if (!eof && have - start < cp->max_size) {
			MVMS_TRY(process_batch(c, &fs));
			/* Files whose chunks are all known write no pack: renew the lease here. */
			MVMS_TRY(push_gone(c, mvms_lease__tick(c->st, 0)));
			/* Once per batch; the callback decides how often to draw. */
			if (c->opts && c->opts->progress)
				c->opts->progress(c->bytes_done, c->bytes_total, c->opts->payload);
			memmove(c->buf, c->buf + start, have - start);
			buf_file_off += start;
			have -= start;
			start = 0;
			while (!eof && have < READ_BUF_SIZE) {
				ssize_t n = read(fd, c->buf + have, READ_BUF_SIZE - have);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					error = mvms_error_set(MVMS_ERROR, "push: read %s: %s", f->abs,
							       strerror(errno));
					goto done;
				}
				if (n == 0)
					eof = 1;
				have += (size_t)n;
				file_pos += (uint64_t)n;
			}
		}
		if (start == have)
			break;
		{
			uint64_t pos = buf_file_off + start;
			size_t avail = have - start, n = avail;
			size_t cut;

			while (bi < nbounds && bounds[bi] <= pos)
				bi++;
			if (n > cp->max_size)
				n = cp->max_size;
			if (bi < nbounds && bounds[bi] - pos < n)
				n = (size_t)(bounds[bi] - pos);
			if ((cut = mvms_push__delta_cut(c, pos, n)) == 0)
				cut = mvms_chunker_next(cp, c->buf + start, n);
			MVMS_TRY(batch_add(c, c->buf + start, (uint32_t)cut,
					   chunk_dtype(f, &dscan, pos, cut)));
			mvms_push__delta_mark(c, &c->batch[c->nbatch - 1], pos);
			start += cut;
			c->bytes_done += cut;
		}
	}
	MVMS_TRY(process_batch(c, &fs));
	tensor_close(&fs);
	if (file_pos != f->size) {
		error = mvms_error_set(MVMS_ERROR, "push: %s changed size while it was read", f->abs);
		goto done;
	}
	mvms_hasher_final(&fs.file_hasher, &f->id);
	if (f->st)
		c->res->tensors += f->st->count;
done:
	if (fd >= 0)
		close(fd);
	free(bounds);
	return error;
}

static int parse_meta(mvms_manifest *m, const mvms_push_options *o)
{
	size_t i;
	int error = 0;

	m->meta_keys = calloc(o->meta_count + 1, sizeof(char *));
	m->meta_values = calloc(o->meta_count + 1, sizeof(char *));
	MVMS_CHECK_ALLOC(m->meta_keys, error);
	MVMS_CHECK_ALLOC(m->meta_values, error);
	for (i = 0; i < o->meta_count; i++) {
		const char *eq = strchr(o->meta[i], '=');
		if (!eq || eq == o->meta[i]) {
			error = mvms_error_set(MVMS_EINVALID, "push: metadata '%s' is not KEY=VALUE",
					       o->meta[i]);
			goto done;
		}
		m->meta_keys[i] = strndup(o->meta[i], (size_t)(eq - o->meta[i]));
		m->meta_values[i] = strdup(eq + 1);
		m->meta_count = i + 1;
		if (!m->meta_keys[i] || !m->meta_values[i]) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
	}
done:
	return error;
}

/* Reads and stores the files that are not in the store yet, then commits the version. */
int mvms_push__run(push_ctx *c, const push_spec *ps, mvms_manifest *m)
{
	mvms_store *st = c->st;
	mvms_push_result *out = c->res;
	size_t i;
	int error = 0, leased = 0;
	unsigned w;
	char holder[300];

	/* Before any object is written: gc keeps what is written from now on (lease.c). */
	snprintf(holder, sizeof(holder), "%s %s", ps->stage_only ? "stage" : "push",
		 ps->model ? ps->model : "");
	MVMS_TRY(mvms_lease__hold(&leased, st, holder));
	MVMS_TRY(mvms_pool_new(&c->pool, 0));
	c->codecs = calloc(mvms_pool_size(c->pool), sizeof(*c->codecs));
	MVMS_CHECK_ALLOC(c->codecs, error);
	for (w = 0; w < mvms_pool_size(c->pool); w++)
		MVMS_TRY(mvms_codec_new(&c->codecs[w], st->level));
	MVMS_TRY(mvms_push__delta_start(c, ps));
	c->buf = malloc(READ_BUF_SIZE);
	MVMS_CHECK_ALLOC(c->buf, error);
	if (mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_REMOTE) /* uploads overlap hashing */
		MVMS_TRY(mvms_uploader_start(&c->up));
	MVMS_TRY(mvms_push__layouts(c));
	for (i = 0; i < c->nfiles; i++)
		if (c->files[i].abs)
			MVMS_TRY(push_one_file(c, &c->files[i]));
	MVMS_TRY(flush_pack(c));
	if (c->up) {
		error = mvms_uploader_harvest(c->up, 1, pack_uploaded, c);
		if (error < 0)
			goto done;
	}
	if (c->opts && c->opts->progress)
		c->opts->progress(c->bytes_done, c->bytes_total, c->opts->payload);
	out->files = c->nfiles;
	for (i = 0; i < c->nfiles; i++)
		out->logical_bytes += c->files[i].size;
	if (!ps->stage_only)
		error = mvms_push__commit(c, ps, m);
done:
	if (error < 0 && c->up) {
		/* Uploads still in flight: wait, and index those that completed (see harvest). */
		int saved = mvms_error_last_code();
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		mvms_uploader_harvest(c->up, 1, pack_uploaded, c);
		mvms_error_set(saved ? saved : error, "%s", msg);
	}
	mvms_lease__drop(st, leased);
	return error;
}

void mvms_push__dispose(push_ctx *c, mvms_manifest *m)
{
	size_t i;
	unsigned w;

	free(m->files);
	free(m->model_name);
	free(m->parents);
	free(m->author);
	free(m->message);
	for (i = 0; i < m->meta_count; i++) {
		free(m->meta_keys[i]);
		free(m->meta_values[i]);
	}
	free(m->meta_keys);
	free(m->meta_values);
	mvms_pack_writer_free(c->pack);
	mvms_uploader_stop(c->up);
	mvms_push__delta_end(c);
	for (w = 0; c->codecs && w < mvms_pool_size(c->pool); w++)
		mvms_codec_free(c->codecs[w]);
	free(c->codecs);
	mvms_pool_free(c->pool);
	for (i = 0; i < c->nfiles; i++) {
		free(c->files[i].path);
		free(c->files[i].abs);
		free(c->files[i].chunks);
		mvms_tlayout_free(c->files[i].st);
		free(c->files[i].tensor_ids);
	}
	free(c->files);
	free(c->batch);
	free(c->arena);
	free(c->buf);
	mvms_oidset_dispose(&c->pending);
}

static int push_once(mvms_push_result *out, mvms_store *st, const char *model, const char *path,
		     const mvms_push_options *opts)
{
	mvms_push_options defaults = MVMS_PUSH_OPTIONS_INIT;
	push_ctx c;
	push_spec ps;
	mvms_manifest m;
	int64_t model_id = 0, head = 0, base = 0, *parent_rows = NULL;
	size_t nparents = 0, i, j;
	const char *branch;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	if (!opts)
		opts = &defaults;
	c.st = st;
	c.opts = opts;
	c.res = out;
	branch = opts->branch ? opts->branch : "main";
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(branch));
	MVMS_TRY(parse_meta(&m, opts));

	/* Where this version attaches: the branch head, or main's head for a new branch. */
	error = mvms_store__model_id(&model_id, st, model);
	if (error == MVMS_ENOTFOUND) {
		/* A new model: the commit registers it together with its first version. */
		model_id = 0;
		error = 0;
	} else if (error == 0) {
		error = mvms_refs__branch_head(&head, st, model_id, branch);
		if (error == MVMS_ENOTFOUND)
			error = mvms_refs__branch_head(&base, st, model_id, "main");
		else
			base = head;
		if (error == MVMS_ENOTFOUND)
			error = 0;
	}
	if (error < 0)
		goto done;
	mvms_error_clear();
	parent_rows = calloc(opts->parent_count + 2, sizeof(*parent_rows));
	MVMS_CHECK_ALLOC(parent_rows, error);
	if (base)
		parent_rows[nparents++] = base;
	for (i = 0; i < opts->parent_count; i++) {
		int64_t row;
		MVMS_TRY(mvms_refs__resolve_row(&row, NULL, st, opts->parents[i]));
		MVMS_TRY(mvms_history__live(st, row));
		for (j = 0; j < nparents && parent_rows[j] != row; j++)
			;
		if (j == nparents)
			parent_rows[nparents++] = row;
	}
	MVMS_TRY(mvms_push__collect(&c, path));

	memset(&ps, 0, sizeof(ps));
	ps.model = model;
	ps.model_id = model_id;
	ps.branch = branch;
	ps.head = head;
	ps.parents = parent_rows;
	ps.nparents = nparents;
	ps.message = opts->message;
	ps.author = opts->author;
	ps.time = opts->time;
	ps.check_identical = mvms_tree_skip_identical(opts);
	error = mvms_push__run(&c, &ps, &m);
done:
	out->seconds = mvms_now() - t0;
	mvms_push__dispose(&c, &m);
	free(parent_rows);
	return error;
}

int mvms_push(mvms_push_result *out, mvms_store *st, const char *model, const char *path,
	      const mvms_push_options *opts)
{
	MVMS_TRANSPORT_CALL(st, push, (out, st, model, path, opts));
	char holder[300];
	int error, leased = 0;

	/* One lease over both tries: what the first one wrote stays for the second. */
	snprintf(holder, sizeof(holder), "push %s", model ? model : "");
	if ((error = mvms_lease__hold(&leased, st, holder)) < 0) {
		memset(out, 0, sizeof(*out));
		return error;
	}
	error = push_once(out, st, model, path, opts);
	if (error == MVMS_ECONFLICT && out->gc_conflict) {
		/* A gc removed something this push reused (or dropped its lease, if it stalled
		 * longer than the lease lives): once more, with a lease that is surely live. */
		if (leased && mvms_lease__tick(st, 1) < 0) {
			mvms_lease__drop(st, leased);
			if ((error = mvms_lease__hold(&leased, st, holder)) < 0)
				return error;
		}
		error = push_once(out, st, model, path, opts);
		out->retries = 1;
	}
	mvms_lease__drop(st, leased);
	return error;
}

int mvms_push__entries(mvms_push_result *out, mvms_store *st, const mvms_push__request *rq)
{
	const mvms_push__entry *entries = rq->entries;
	push_ctx c;
	push_spec ps;
	mvms_manifest m;
	struct stat sb;
	size_t i;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	c.st = st;
	c.res = out;
	memset(&ps, 0, sizeof(ps));
	ps.model = rq->model;
	ps.manifest = rq->manifest;
	error = mvms_store__model_id(&ps.model_id, st, rq->model);
	if (error == MVMS_ENOTFOUND) {
		/* A new model arrives with its first version; the commit registers it. */
		ps.model_id = 0;
		error = 0;
		mvms_error_clear();
	}
	if (error < 0)
		goto done;
	for (i = 0; i < rq->count; i++) {
		memset(&sb, 0, sizeof(sb));
		sb.st_mode = entries[i].mode == 0755 ? 0755 : 0644;
		sb.st_size = (off_t)entries[i].size;
		MVMS_TRY(mvms_push__add_file(&c, entries[i].path, entries[i].abs ? entries[i].abs : "", &sb));
		if (!entries[i].abs) {
			/* Already in the store: nothing to read, the content row exists. */
			free(c.files[c.nfiles - 1].abs);
			c.files[c.nfiles - 1].abs = NULL;
			c.files[c.nfiles - 1].id = entries[i].content;
		} else {
			c.bytes_total += entries[i].size;
		}
	}
	mvms_push__sort_files(&c);
	ps.branch = rq->branch;
	ps.head = rq->expected_head;
	ps.parents = rq->parents;
	ps.nparents = rq->nparents;
	ps.message = rq->message;
	ps.author = rq->author;
	ps.time = rq->when;
	ps.check_identical = rq->check_identical;
	error = mvms_push__run(&c, &ps, &m);
done:
	out->seconds = mvms_now() - t0;
	mvms_push__dispose(&c, &m);
	return error;
}
