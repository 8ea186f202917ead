/* SPDX-License-Identifier: MIT */
/*
 * The push pipeline: the calling thread reads files into slots (buffers of a few MiB that
 * hold the bytes of one or many files), cuts them into chunks and queues each slot on the
 * thread pool, where every chunk is hashed, claimed (dedup against the store and against
 * the chunks this push already claimed) and, when new, compressed. The calling thread
 * takes finished slots back in the order they were read and packs their new chunks, adds
 * the chunks to their files' lists and hashes, and finishes files. Reading and packing one
 * slot overlap hashing and compressing the next ones: no barrier between batches, so
 * every core stays busy, and a run of small files fills one slot instead of one batch per
 * file. Memory: a fixed ring of slots (their bytes and their compressed output).
 * It does not commit (push_commit.c) nor decide which files to read (walk.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "push_int.h"
#include "hash.h"
#include "packs.h"
#include "packs_look.h"

/* A slot holds at least this many bytes: read(), hashing and compression of a slot's
 * bytes happen while they are still in the CPU caches of the machine (16 MiB batches were
 * slower and used 3x the memory), and a slot is large enough to amortize its hand-over. */
#define SLOT_MIN_BYTES (2u * 1024 * 1024)
/* Slots in flight: enough that the reader never waits for the workers nor they for it;
 * fewer when chunks are very large, so memory stays bounded. */
#define SLOTS_MAX 6
#define SLOTS_BUDGET (24u * 1024 * 1024)

typedef struct push_slot {
	push_ctx *c;
	unsigned char *buf;
	size_t have;             /* bytes read into buf */
	size_t start;            /* bytes of buf already cut into chunks */
	batch_chunk *chunks;
	size_t n, cap;
	unsigned char *arena;    /* compressed bytes of the new chunks */
	size_t arena_need, arena_cap;
	mvms_pool_job job;
	int queued;              /* submitted and not yet taken back */
	int error;               /* the first worker error, with its message */
	char msg[512];
} push_slot;

struct push_pipe {
	push_slot *slots;
	size_t nslots, slot_bytes;
	size_t head, count;      /* ring: slots[head] is the oldest queued, count are queued */
	push_slot *cur;          /* the slot being filled, not queued */
	pthread_mutex_t lock;    /* c->pending and the slots' errors */
	pthread_mutex_t db_lock; /* the store's database handle: the caller's pack indexing
				  * and lease renewal, and the workers' look-ups when there
				  * is no look connection */
	mvms_packs_look *look;   /* the workers' own connection for look-ups, or NULL */
	pthread_mutex_t look_lock;
	size_t cons_file;        /* next file whose chunks the consumer adds */
	int cons_open;           /* the consumer's file state is for cons_file */
	struct cons_state {
		mvms_hasher file_hasher;
		mvms_hasher tensor_hasher;
		size_t tensor;       /* index of the tensor being hashed, or count when none */
		size_t scan;         /* tensors before this one end at or before the current chunk */
		uint64_t pos;        /* file offset of the next chunk */
	} fs;
};

/* ---- workers: hash, claim, compress; no order, no file state ---- */

/* 1 when a committed pack holds chunk @id. On the look connection when there is one: the
 * caller may be indexing a pack on the store's connection meanwhile (fsyncs), and the
 * workers go on. */
static int chunk_known(push_ctx *c, const mvms_oid *id)
{
	struct push_pipe *p = c->pipe;
	unsigned char missing;
	int error;

	if (p->look) {
		pthread_mutex_lock(&p->look_lock);
		error = mvms_packs__look_missing(&missing, p->look, id, 1);
		pthread_mutex_unlock(&p->look_lock);
	} else {
		pthread_mutex_lock(&p->db_lock);
		error = mvms_packs__missing(&missing, c->st, id, 1);
		pthread_mutex_unlock(&p->db_lock);
	}
	return error < 0 ? error : !missing;
}

/* The chunk is new to the store and this push claims it (an identical chunk elsewhere in
 * the push then is not new): one decision per id, whichever thread comes first. The
 * look-up runs outside the claimed set's lock; two threads that both find the id missing
 * are told apart when they add it to the set. */
static int claim(push_ctx *c, const mvms_oid *id)
{
	struct push_pipe *p = c->pipe;
	int r, had;

	pthread_mutex_lock(&p->lock);
	had = mvms_oidset_has(&c->pending, id);
	pthread_mutex_unlock(&p->lock);
	if (had)
		return 0;
	if ((r = chunk_known(c, id)) != 0)
		return r < 0 ? r : 0;
	pthread_mutex_lock(&p->lock);
	if (mvms_oidset_has(&c->pending, id))
		r = 0;
	else
		r = mvms_oidset_add(&c->pending, id) < 0 ? MVMS_ERROR : 1;
	pthread_mutex_unlock(&p->lock);
	return r;
}

static void slot_fail(push_slot *s, int error)
{
	pthread_mutex_lock(&s->c->pipe->lock);
	if (s->error == 0) {
		s->error = error;
		snprintf(s->msg, sizeof(s->msg), "%s", mvms_error_last());
	}
	pthread_mutex_unlock(&s->c->pipe->lock);
}

static void chunk_work(size_t i, unsigned worker, void *ctx)
{
	push_slot *s = ctx;
	push_ctx *c = s->c;
	batch_chunk *b = &s->chunks[i];
	int r;

	mvms_oid_hash(&b->id, b->data, b->len);
	if ((r = claim(c, &b->id)) < 0) {
		slot_fail(s, r);
		return;
	}
	b->is_new = r;
	if (!r) {
		mvms_push__delta_skip(c, b);
		return;
	}
	r = mvms_codec_encode_as(c->codecs[worker], (enum mvms_dtype)b->dtype, &b->codec,
				 &b->out_len, s->arena + b->out_off, mvms_codec_bound(b->len),
				 b->data, b->len);
	if (r == 0 && b->has_base)
		r = mvms_push__delta_encode(c, worker, b, s->arena + b->out_off);
	if (r < 0)
		slot_fail(s, r);
}

/* ---- the consumer: finished slots in read order ---- */

static void tensor_close(push_file *f, struct cons_state *fs)
{
	if (f->st && fs->tensor < f->st->count) {
		mvms_hasher_final(&fs->tensor_hasher, &f->tensor_ids[fs->tensor]);
		fs->tensor = f->st->count;
	}
}

/* Cut points are forced at tensor boundaries, so each chunk lies inside one tensor or
 * outside all of them (header, padding). Chunks arrive in file order and tensors are
 * sorted by offset, so one forward scan finds each chunk's tensor. */
static void tensor_account(push_file *f, struct cons_state *fs, const mvms_oid *id, uint32_t len)
{
	mvms_tlayout *st = f->st;
	const mvms_tensor_info *ti;
	uint64_t pos = fs->pos;

	if (!st)
		return;
	while (fs->scan < st->count &&
	       st->tensors[fs->scan].offset + st->tensors[fs->scan].length <= pos)
		fs->scan++;
	if (fs->tensor != fs->scan)
		tensor_close(f, fs);
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

static void file_open(push_ctx *c, size_t k)
{
	struct push_pipe *p = c->pipe;

	memset(&p->fs, 0, sizeof(p->fs));
	mvms_hasher_init(&p->fs.file_hasher);
	p->fs.tensor = c->files[k].st ? c->files[k].st->count : 0;
	p->cons_open = 1;
}

/* Every chunk of file cons_file has been added: its id and its last tensor's. */
static void file_close(push_ctx *c)
{
	struct push_pipe *p = c->pipe;
	push_file *f = &c->files[p->cons_file];

	if (!p->cons_open)
		file_open(c, p->cons_file);
	tensor_close(f, &p->fs);
	mvms_hasher_final(&p->fs.file_hasher, &f->id);
	if (f->st)
		c->res->tensors += f->st->count;
	p->cons_open = 0;
	p->cons_file++;
}

/* Closes the files before @k (those read and without chunks left: empty files too). */
static void files_close_before(push_ctx *c, size_t k)
{
	while (c->pipe->cons_file < k) {
		if (!c->files[c->pipe->cons_file].abs) {
			c->pipe->cons_file++; /* a content the store has: not read */
			continue;
		}
		file_close(c);
	}
}

static int file_add_chunk(push_ctx *c, const batch_chunk *b)
{
	struct push_pipe *p = c->pipe;
	push_file *f = &c->files[b->file];
	mvms_chunk_ref *ref;
	int error = 0;

	files_close_before(c, b->file);
	if (!p->cons_open)
		file_open(c, b->file);
	if (!(ref = mvms_array_room(f->chunks, &f->cchunks, f->nchunks, sizeof(*ref), 16))) {
		error = MVMS_ERROR;
		goto done;
	}
	f->chunks = ref;
	f->chunks[f->nchunks].id = b->id;
	f->chunks[f->nchunks].len = b->len;
	f->nchunks++;
	mvms_hasher_add_chunk(&p->fs.file_hasher, &b->id, b->len);
	tensor_account(f, &p->fs, &b->id, b->len);
	p->fs.pos += b->len;
	c->res->chunks++;
done:
	return error;
}

static int consume(push_ctx *c, push_slot *s)
{
	size_t i;
	int error = 0;

	if (s->error < 0) {
		error = mvms_error_set(s->error, "%s", s->msg);
		goto done;
	}
	for (i = 0; i < s->n; i++) {
		batch_chunk *b = &s->chunks[i];

		MVMS_TRY(file_add_chunk(c, b));
		if (!b->is_new)
			continue;
		if (!c->pack)
			MVMS_TRY(mvms_pack_writer_new(&c->pack, c->st->be));
		MVMS_TRY(mvms_pack_writer_add(c->pack, &b->id, b->codec, b->len, s->arena + b->out_off,
					      (uint32_t)b->out_len));
		c->res->new_chunks++;
		c->res->new_raw_bytes += b->len;
		c->res->delta_chunks += b->codec == MVMS_CODEC_DELTA;
		if (mvms_pack_writer_size(c->pack) >= c->st->pack_size)
			MVMS_TRY(mvms_push__flush_pack(c));
	}
	c->bytes_done += s->start;
	/* Files whose chunks are all known write no pack: renew the lease here. */
	/* Unless an uploader thread is indexing a pack: that renews the lease itself, and this
	 * thread does not wait for its fsyncs. */
	if (pthread_mutex_trylock(&c->pipe->db_lock) == 0) {
		error = push_gone(c, mvms_lease__tick(c->st, 0));
		pthread_mutex_unlock(&c->pipe->db_lock);
	}
	if (error < 0)
		goto done;
	/* Once per slot; the callback decides how often to draw. */
	if (c->opts && c->opts->progress)
		c->opts->progress(c->bytes_done, c->bytes_total, c->opts->payload);
done:
	return error;
}

/* Waits for the oldest queued slot and takes it back (consumed unless @error already). */
static int take_oldest(push_ctx *c, int error)
{
	struct push_pipe *p = c->pipe;
	push_slot *s = &p->slots[p->head];

	mvms_pool_wait(c->pool, &s->job);
	s->queued = 0;
	p->head = (p->head + 1) % p->nslots;
	p->count--;
	if (error == 0)
		error = consume(c, s);
	return error;
}

/* ---- the producer: read and cut, on the calling thread ---- */

static int slot_queue(push_ctx *c, push_slot *s)
{
	int error = 0;

	if (s->arena_need > s->arena_cap) {
		unsigned char *tmp = realloc(s->arena, s->arena_need);
		MVMS_CHECK_ALLOC(tmp, error);
		s->arena = tmp;
		s->arena_cap = s->arena_need;
	}
	s->queued = 1;
	c->pipe->count++;
	mvms_pool_submit(c->pool, &s->job, s->n, chunk_work, s);
done:
	return error;
}

/* Queues the slot being filled (if any) and makes a free one current, taking finished
 * slots back (in order) when all are queued. The bytes of the old slot after its last
 * chunk (an uncut tail of a file) move to the new one. */
static int slot_next(push_ctx *c)
{
	struct push_pipe *p = c->pipe;
	push_slot *old = p->cur, *s;
	int error = 0;

	p->cur = NULL;
	if (old)
		MVMS_TRY(slot_queue(c, old));
	while (p->count == p->nslots)
		MVMS_TRY(take_oldest(c, 0));
	s = &p->slots[(p->head + p->count) % p->nslots];
	if (!s->buf) {
		s->buf = malloc(p->slot_bytes);
		MVMS_CHECK_ALLOC(s->buf, error);
	}
	s->c = c;
	s->n = s->have = s->start = s->arena_need = 0;
	s->error = 0;
	if (old && old->have > old->start) {
		memcpy(s->buf, old->buf + old->start, old->have - old->start);
		s->have = old->have - old->start;
	}
	p->cur = s;
done:
	return error;
}

static int chunk_add(push_slot *s, size_t file, uint32_t len, uint8_t dtype)
{
	batch_chunk *b;
	int error = 0;

	if (!(b = mvms_array_room(s->chunks, &s->cap, s->n, sizeof(*b), 64))) {
		error = MVMS_ERROR;
		goto done;
	}
	s->chunks = b;
	b = &s->chunks[s->n++];
	memset(b, 0, sizeof(*b));
	b->data = s->buf + s->start;
	b->len = len;
	b->dtype = dtype;
	b->file = file;
	b->out_off = s->arena_need;
	s->arena_need += mvms_codec_bound(len);
	s->start += len;
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

/* Opens file @k, learns its size and layout. */
static int file_begin(int *fd, push_ctx *c, size_t k)
{
	push_file *f = &c->files[k];
	struct stat sb;
	size_t t;
	int error = 0;

	*fd = open(f->abs, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &sb) < 0) {
		error = mvms_error_set(MVMS_ERROR, "push: %s: %s", f->abs, strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: not a regular file", f->abs);
		goto done;
	}
	f->size = (uint64_t)sb.st_size;
	MVMS_TRY(mvms_push__probe(f, *fd));
	if (f->st) {
		f->tensor_ids = calloc(f->st->count + 1, sizeof(mvms_oid));
		MVMS_CHECK_ALLOC(f->tensor_ids, error);
		/* Empty tensors own no chunk: their id is the hash of an empty list. */
		for (t = 0; t < f->st->count; t++)
			if (f->st->tensors[t].length == 0)
				mvms_oid_hash(&f->tensor_ids[t], NULL, 0);
	}
done:
	return error;
}

/* Reads file @k into slots and cuts it into chunks; the chunks reach the consumer later. */
static int produce_file(push_ctx *c, size_t k)
{
	const mvms_chunker_params *cp = &c->st->chunker;
	struct push_pipe *p = c->pipe;
	push_file *f = &c->files[k];
	uint64_t *bounds = NULL, file_pos = 0, cut_pos = 0;
	size_t nbounds = 0, bi = 0, dscan = 0;
	int fd = -1, error = 0, eof = 0;

	MVMS_TRY(file_begin(&fd, c, k));
	MVMS_TRY(boundaries(&bounds, &nbounds, f));
	/* The parent's layout comes from the database, which an uploader thread may be
	 * indexing a pack in. */
	mvms_push__lock_db(c, 1);
	error = mvms_push__delta_file(c, f, &bounds, &nbounds);
	mvms_push__lock_db(c, 0);
	if (error < 0)
		goto done;
	for (;;) {
		push_slot *s;
		if (!p->cur || p->cur->have == p->slot_bytes)
			MVMS_TRY(slot_next(c));
		s = p->cur;
		while (!eof && s->have < p->slot_bytes) {
			ssize_t n = read(fd, s->buf + s->have, p->slot_bytes - s->have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				error = mvms_error_set(MVMS_ERROR, "push: read %s: %s", f->abs,
						       strerror(errno));
				goto done;
			}
			if (n == 0)
				eof = 1;
			s->have += (size_t)n;
			file_pos += (uint64_t)n;
		}
		while (s->start < s->have) {
			size_t n = s->have - s->start, cut;
			if (!eof && n < cp->max_size)
				break; /* the cut may depend on bytes not read yet */
			while (bi < nbounds && bounds[bi] <= cut_pos)
				bi++;
			if (n > cp->max_size)
				n = cp->max_size;
			if (bi < nbounds && bounds[bi] - cut_pos < n)
				n = (size_t)(bounds[bi] - cut_pos);
			if ((cut = mvms_push__delta_cut(c, cut_pos, n)) == 0)
				cut = mvms_chunker_next(cp, s->buf + s->start, n);
			MVMS_TRY(chunk_add(s, k, (uint32_t)cut, chunk_dtype(f, &dscan, cut_pos, cut)));
			mvms_push__delta_mark(c, &s->chunks[s->n - 1], cut_pos);
			cut_pos += cut;
		}
		if (eof)
			break;
	}
	if (file_pos != f->size) {
		error = mvms_error_set(MVMS_ERROR, "push: %s changed size while it was read", f->abs);
		goto done;
	}
done:
	if (fd >= 0)
		close(fd);
	free(bounds);
	return error;
}

static int pipe_new(push_ctx *c)
{
	struct push_pipe *p;
	size_t need = 3 * (size_t)c->st->chunker.max_size / 2;
	int error = 0;

	p = calloc(1, sizeof(*p));
	MVMS_CHECK_ALLOC(p, error);
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->db_lock, NULL);
	pthread_mutex_init(&p->look_lock, NULL);
	c->pipe = p;
	MVMS_TRY(mvms_packs__look_open(&p->look, c->st));
	p->slot_bytes = need > SLOT_MIN_BYTES ? need : SLOT_MIN_BYTES;
	p->nslots = SLOTS_BUDGET / p->slot_bytes;
	if (p->nslots > SLOTS_MAX)
		p->nslots = SLOTS_MAX;
	if (p->nslots < 2)
		p->nslots = 2;
	p->slots = calloc(p->nslots, sizeof(*p->slots));
	MVMS_CHECK_ALLOC(p->slots, error);
done:
	return error;
}

void mvms_push__pipe_free(push_ctx *c)
{
	struct push_pipe *p = c->pipe;
	size_t i;

	if (!p)
		return;
	/* Slots still queued (an error stopped the push) are waited for: workers use them. */
	while (p->count > 0)
		take_oldest(c, MVMS_ERROR);
	/* And the uploaders' indexing, which takes db_lock: what they finish later uses the
	 * database alone (this thread only waits for them then). */
	mvms_uploader_wait(c->up);
	for (i = 0; i < p->nslots; i++) {
		free(p->slots[i].buf);
		free(p->slots[i].chunks);
		free(p->slots[i].arena);
	}
	free(p->slots);
	mvms_packs__look_free(p->look);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->db_lock);
	pthread_mutex_destroy(&p->look_lock);
	free(p);
	c->pipe = NULL;
}

void mvms_push__lock_db(push_ctx *c, int lock)
{
	if (!c->pipe)
		return;
	if (lock)
		pthread_mutex_lock(&c->pipe->db_lock);
	else
		pthread_mutex_unlock(&c->pipe->db_lock);
}

int mvms_push__store_files(push_ctx *c)
{
	struct push_pipe *p;
	size_t k;
	int error = 0;

	MVMS_TRY(pipe_new(c));
	p = c->pipe;
	for (k = 0; k < c->nfiles; k++)
		if (c->files[k].abs)
			MVMS_TRY(produce_file(c, k));
	if (p->cur) {
		push_slot *s = p->cur;
		p->cur = NULL;
		MVMS_TRY(slot_queue(c, s));
	}
	while (p->count > 0)
		MVMS_TRY(take_oldest(c, 0));
	files_close_before(c, c->nfiles);
	/* The last pack goes to the uploaders now, while the ones before it are still being
	 * made durable (mvms_push__pipe_free then waits for all of them). */
	MVMS_TRY(mvms_push__flush_pack(c));
done:
	return error;
}
