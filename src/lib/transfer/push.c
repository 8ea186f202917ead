/* SPDX-License-Identifier: MIT */
/*
 * Push: files -> chunks (FastCDC, cut at safetensors tensor boundaries) -> BLAKE2b ids ->
 * dedup against the store -> zstd -> packs -> one SQLite transaction that adds the version,
 * its files, parents and the branch move (compare-and-swap). Packs are durable and indexed
 * before that transaction, so a push killed at any point leaves at most unreferenced packs;
 * a re-run finds their chunks and does not write them again.
 * Each byte is read once and hashed once; hashing and compression run on a thread pool
 * over batches of chunks, while the calling thread cuts the next batch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "store_int.h"
#include "hash.h"
#include "codec.h"
#include "pack.h"
#include "pool.h"
#include "manifest.h"
#include "safetensors.h"
#include "validate.h"
#include "mvms/sync.h"

/* Read, cut, hash and compress 2 MiB at a time: the bytes stay in the CPU cache from read()
 * to hashing and compression (16 MiB batches were slower and used 3x the memory). */
#define READ_BUF_SIZE (2u * 1024 * 1024)

typedef mvms_chunk_ref chunk_ref;

typedef struct push_file {
	char *path;              /* relative, '/'-separated */
	char *abs;               /* where to read it */
	unsigned mode;
	uint64_t size;
	mvms_oid id;
	chunk_ref *chunks;
	size_t nchunks, cchunks;
	mvms_safetensors *st;    /* NULL for plain files */
	mvms_oid *tensor_ids;
} push_file;

/* Chunk ids already written to the unflushed pack (or earlier in this batch). */
typedef struct oid_set {
	mvms_oid *slots;
	unsigned char *used;
	size_t cap, count;
} oid_set;

typedef struct batch_chunk {
	const unsigned char *data;
	uint32_t len;
	mvms_oid id;
	int is_new;
	size_t out_off;          /* where its compressed bytes go in the arena */
	size_t out_len;
	uint8_t codec;
	int error;
} batch_chunk;

typedef struct push_ctx {
	mvms_store *st;
	const mvms_push_options *opts;
	mvms_push_result *res;
	mvms_pool *pool;
	mvms_codec **codecs;     /* one per worker */
	mvms_pack_writer *pack;
	oid_set pending;
	batch_chunk *batch;
	size_t nbatch, cbatch;
	unsigned char *arena;
	size_t arena_cap;
	unsigned char *buf;
	uint64_t bytes_done, bytes_total;
	push_file *files;
	size_t nfiles, cfiles;
	struct uploader *up;     /* remote backends: packs upload while chunking goes on */
} push_ctx;

/* An error that means gc removed something this push counted on, or dropped its expired
 * lease: the result says so, and a new push (mvms_push retries once) will succeed. */
static int gone(push_ctx *c, int error)
{
	if (error == MVMS_ECONFLICT)
		c->res->gc_conflict = 1;
	return error;
}

/* Over the network a pack's commit is an upload that takes seconds: background threads
 * finish (upload) full packs, UP_THREADS at once and at most UP_INFLIGHT queued or
 * uploading, while the push thread keeps chunking; the push thread indexes each pack in the
 * database once its upload is done, so a pack is never indexed before it is durable. One
 * PUT at a time left the link idle between packs; memory stays a few packs. */
#define UP_THREADS 2
#define UP_INFLIGHT 3

typedef struct up_item {
	struct up_item *next;
	mvms_pack_writer *w;
	int error;
	char msg[512];
	mvms_oid pid;
	uint64_t size;
	const mvms_pack_entry *entries;
	size_t count;
} up_item;

typedef struct uploader {
	pthread_t thread[UP_THREADS];
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	up_item *todo, *todo_tail, *done;
	size_t inflight;         /* queued or uploading */
	int closing;
} uploader;

static void *uploader_main(void *arg)
{
	uploader *u = arg;
	up_item *it;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		while (!u->todo && !u->closing)
			pthread_cond_wait(&u->cond, &u->lock);
		if (!(it = u->todo))
			break;
		u->todo = it->next;
		if (!u->todo)
			u->todo_tail = NULL;
		pthread_mutex_unlock(&u->lock);
		it->error = mvms_pack_writer_finish(&it->pid, &it->size, &it->entries, &it->count, it->w);
		if (it->error < 0)
			snprintf(it->msg, sizeof(it->msg), "%s", mvms_error_last());
		pthread_mutex_lock(&u->lock);
		it->next = u->done;
		u->done = it;
		u->inflight--;
		pthread_cond_broadcast(&u->cond);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

static int uploader_start(uploader **out)
{
	uploader *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	for (; u->nthreads < UP_THREADS; u->nthreads++)
		if (pthread_create(&u->thread[u->nthreads], NULL, uploader_main, u) != 0)
			break;
	if (u->nthreads == 0) {
		pthread_mutex_destroy(&u->lock);
		pthread_cond_destroy(&u->cond);
		free(u);
		return mvms_error_set(MVMS_ERROR, "push: cannot start the upload thread");
	}
	*out = u;
	return 0;
}

/* Indexes the packs whose upload finished; with @all, waits for every one first. */
static int uploader_harvest(push_ctx *c, int all)
{
	uploader *u = c->up;
	up_item *list, *it;
	int error = 0;

	pthread_mutex_lock(&u->lock);
	while (all && u->inflight > 0)
		pthread_cond_wait(&u->cond, &u->lock);
	list = u->done;
	u->done = NULL;
	pthread_mutex_unlock(&u->lock);
	while ((it = list)) {
		int e = it->error;
		list = it->next;
		/* Every pack that made it is indexed, even after another failed: a re-run of the
		 * push must find it instead of uploading it again. */
		if (e == 0 && (e = gone(c, mvms_push__index_pack(c->st, &it->pid, it->size,
								 it->entries, it->count))) == 0) {
			c->res->packs++;
			c->res->new_stored_bytes += it->size;
		} else if (error == 0) {
			error = it->error < 0 ? mvms_error_set(it->error, "%s", it->msg) : e;
		}
		mvms_pack_writer_free(it->w);
		free(it);
	}
	return error;
}

static int uploader_add(push_ctx *c, mvms_pack_writer *w)
{
	uploader *u = c->up;
	up_item *it = calloc(1, sizeof(*it));

	if (!it) {
		mvms_pack_writer_free(w);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	it->w = w;
	pthread_mutex_lock(&u->lock);
	/* Bounded: memory is a few packs, whatever the size of the push. */
	while (u->inflight >= UP_INFLIGHT)
		pthread_cond_wait(&u->cond, &u->lock);
	if (u->todo_tail)
		u->todo_tail->next = it;
	else
		u->todo = it;
	u->todo_tail = it;
	u->inflight++;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return uploader_harvest(c, 0);
}

static void uploader_stop(uploader *u)
{
	up_item *it, *next;
	unsigned i;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->closing = 1;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	for (i = 0; i < u->nthreads; i++)
		pthread_join(u->thread[i], NULL);
	for (it = u->done; it; it = next) {
		next = it->next;
		mvms_pack_writer_free(it->w);
		free(it);
	}
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

/* ---- the pending-chunk set ---- */

static size_t oid_slot(const mvms_oid *id, size_t cap)
{
	uint64_t h;

	memcpy(&h, id->id, sizeof(h));
	return (size_t)(h & (cap - 1));
}

static int oid_set_add(oid_set *s, const mvms_oid *id)
{
	size_t i;

	if ((s->count + 1) * 2 > s->cap) {
		oid_set bigger = { NULL, NULL, s->cap ? s->cap * 2 : 1024, 0 };
		bigger.slots = malloc(bigger.cap * sizeof(mvms_oid));
		bigger.used = calloc(bigger.cap, 1);
		if (!bigger.slots || !bigger.used) {
			free(bigger.slots);
			free(bigger.used);
			return mvms_error_set(MVMS_ERROR, "out of memory");
		}
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				oid_set_add(&bigger, &s->slots[i]);
		free(s->slots);
		free(s->used);
		*s = bigger;
	}
	for (i = oid_slot(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->slots[i].id, id->id, MVMS_OID_RAWSZ) == 0)
			return 0;
	s->slots[i] = *id;
	s->used[i] = 1;
	s->count++;
	return 0;
}

static int oid_set_has(const oid_set *s, const mvms_oid *id)
{
	size_t i;

	if (!s->cap)
		return 0;
	for (i = oid_slot(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->slots[i].id, id->id, MVMS_OID_RAWSZ) == 0)
			return 1;
	return 0;
}

static void oid_set_clear(oid_set *s)
{
	if (s->used)
		memset(s->used, 0, s->cap);
	s->count = 0;
}

static void oid_set_dispose(oid_set *s)
{
	free(s->slots);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* ---- collecting files ---- */

static int add_file(push_ctx *c, const char *rel, const char *abs, const struct stat *sb)
{
	push_file *f;
	int error = 0;

	if (c->nfiles == c->cfiles) {
		size_t ncap = c->cfiles ? c->cfiles * 2 : 16;
		push_file *tmp = realloc(c->files, ncap * sizeof(*tmp));
		MVMS_CHECK_ALLOC(tmp, error);
		c->files = tmp;
		c->cfiles = ncap;
	}
	f = &c->files[c->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(rel);
	f->abs = strdup(abs);
	if (!f->path || !f->abs) {
		free(f->path);
		free(f->abs);
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	f->mode = (sb->st_mode & 0111) ? 0755 : 0644;
	f->size = (uint64_t)sb->st_size;
	c->nfiles++;
	MVMS_TRY(mvms_path_check(rel));
done:
	return error;
}

static int walk(push_ctx *c, const char *abs, const char *rel, int depth)
{
	DIR *d = NULL;
	struct dirent *de;
	struct stat sb;
	char *cabs = NULL, *crel = NULL;
	int error = 0;

	if (depth > 256)
		return mvms_error_set(MVMS_EINVALID, "push: %s: directories nested too deep", abs);
	d = opendir(abs);
	if (!d) {
		error = mvms_error_set(MVMS_ERROR, "push: %s: %s", abs, strerror(errno));
		goto done;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		free(cabs);
		free(crel);
		cabs = crel = NULL;
		if (asprintf(&cabs, "%s/%s", abs, de->d_name) < 0 ||
		    asprintf(&crel, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
			cabs = crel = NULL;
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		if (lstat(cabs, &sb) < 0) {
			error = mvms_error_set(MVMS_ERROR, "push: %s: %s", cabs, strerror(errno));
			goto done;
		}
		if (S_ISDIR(sb.st_mode))
			MVMS_TRY(walk(c, cabs, crel, depth + 1));
		else if (S_ISREG(sb.st_mode))
			MVMS_TRY(add_file(c, crel, cabs, &sb));
		else if (S_ISLNK(sb.st_mode)) {
			error = mvms_error_set(MVMS_EINVALID,
					       "push: %s: symbolic links are not supported "
					       "(copy the file it points to)", cabs);
			goto done;
		} else {
			error = mvms_error_set(MVMS_EINVALID,
					       "push: %s: not a regular file or directory", cabs);
			goto done;
		}
	}
	if (errno) {
		error = mvms_error_set(MVMS_ERROR, "push: %s: %s", abs, strerror(errno));
		goto done;
	}
done:
	if (d)
		closedir(d);
	free(cabs);
	free(crel);
	return error;
}

static int cmp_push_file(const void *a, const void *b)
{
	return strcmp(((const push_file *)a)->path, ((const push_file *)b)->path);
}

static int collect(push_ctx *c, const char *path)
{
	struct stat sb;
	const char *base;
	size_t i;
	int error = 0;

	if (lstat(path, &sb) < 0) {
		error = mvms_error_set(errno == ENOENT ? MVMS_ENOTFOUND : MVMS_ERROR,
				       "push: %s: %s", path, strerror(errno));
		goto done;
	}
	if (S_ISLNK(sb.st_mode)) {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: symbolic links are not supported", path);
		goto done;
	}
	if (S_ISREG(sb.st_mode)) {
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		MVMS_TRY(add_file(c, base, path, &sb));
	} else if (S_ISDIR(sb.st_mode)) {
		MVMS_TRY(walk(c, path, "", 0));
	} else {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: not a regular file or directory", path);
		goto done;
	}
	if (c->nfiles == 0) {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: no files to push", path);
		goto done;
	}
	qsort(c->files, c->nfiles, sizeof(*c->files), cmp_push_file);
	for (i = 0; i < c->nfiles; i++)
		c->bytes_total += c->files[i].size;
done:
	return error;
}

/* ---- packs ---- */

/*
 * A pack that could not be indexed (say, the disk filled up at the database step) is junk
 * nothing will use: remove it now rather than leave it to gc. Not when another writer
 * indexed the same pack meanwhile, nor while another writer holds a lease (it may have
 * written the very same pack, same chunks in the same order, and not indexed it yet): both
 * checked under the write lock, which needs no disk space. Keeps @error's code and says
 * once what happened to the pack.
 */
static int drop_unindexed(mvms_store *st, const mvms_oid *pid, int error)
{
	static const char q[] =
		"SELECT (SELECT count(*) FROM packs WHERE oid = ?1) + (SELECT count(*) FROM leases "
		"WHERE expires_at > ?2 AND id != ?3)";
	sqlite3_stmt *s;
	char key[MVMS_KEY_MAX], msg[768];
	const char *fate = "it is left for 'mvms-store gc' to remove";
	int rc;

	snprintf(msg, sizeof(msg), "%s", mvms_error_last());
	mvms_object_key(key, sizeof(key), "packs", pid);
	if (mvms_db_begin(st->db) == 0) {
		if ((s = mvms_db_stmt(st->db, q))) {
			mvms_db_bind_oid(s, 1, pid);
			sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
			sqlite3_bind_text(s, 3, st->lease, -1, SQLITE_STATIC);
			rc = sqlite3_step(s);
			if (rc == SQLITE_ROW && sqlite3_column_int64(s, 0) == 0 &&
			    (mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_REMOVE) &&
			    mvms_backend_remove(st->be, key) == 0)
				fate = "it was removed";
			sqlite3_reset(s);
		}
		mvms_db_rollback(st->db);
	}
	return mvms_error_set(error, "push: the database could not record pack %s (%s); %s; "
			      "nothing was committed", key, msg, fate);
}

int mvms_push__index_pack(mvms_store *st, const mvms_oid *pid, uint64_t size,
			  const mvms_pack_entry *entries, size_t count)
{
	static const char q_pack[] =
		"INSERT OR IGNORE INTO packs(oid, size, chunk_count, created_at) VALUES (?, ?, ?, ?)";
	static const char q_pack_id[] = "SELECT id FROM packs WHERE oid = ?";
	static const char q_chunk[] =
		"INSERT OR IGNORE INTO chunks(oid, pack_id, offset, raw_len, stored_len, codec) "
		"VALUES (?, ?, ?, ?, ?, ?)";
	int64_t pack_row = 0;
	sqlite3_stmt *s;
	char key[MVMS_KEY_MAX];
	uint64_t have;
	size_t i;
	int error = 0, began = 0, there = 0;

	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	/* Under the lock gc removes under: a gc that took an old copy of this very pack (same
	 * chunks, same order) as it was written again has done so by now, and none can after
	 * the rows are in. A backend that cannot answer (down) says nothing of the kind: the
	 * pack was just written, and indexing it spares a re-run its upload. */
	mvms_object_key(key, sizeof(key), "packs", pid);
	if ((error = mvms_backend_stat(&have, st->be, key)) == MVMS_ENOTFOUND) {
		error = mvms_error_set(MVMS_ECONFLICT, "push: a gc removed %s as it was written; "
				       "nothing was committed: push again", key);
		goto done;
	}
	mvms_error_clear();
	error = 0;
	there = 1;
	if (!(s = mvms_db_stmt(st->db, q_pack))) {
		error = MVMS_ERROR;
		goto done;
	}
	mvms_db_bind_oid(s, 1, pid);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_int64(s, 3, (int64_t)count);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(st->db, s, "add pack"));
	if (!(s = mvms_db_stmt(st->db, q_pack_id))) {
		error = MVMS_ERROR;
		goto done;
	}
	mvms_db_bind_oid(s, 1, pid);
	if (sqlite3_step(s) == SQLITE_ROW)
		pack_row = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (!(s = mvms_db_stmt(st->db, q_chunk))) {
		error = MVMS_ERROR;
		goto done;
	}
	for (i = 0; i < count; i++) {
		mvms_db_bind_oid(s, 1, &entries[i].id);
		sqlite3_bind_int64(s, 2, pack_row);
		sqlite3_bind_int64(s, 3, (int64_t)entries[i].offset);
		sqlite3_bind_int64(s, 4, entries[i].raw_len);
		sqlite3_bind_int64(s, 5, entries[i].stored_len);
		sqlite3_bind_int(s, 6, entries[i].codec);
		MVMS_TRY(mvms_db_step_done(st->db, s, "add chunk"));
	}
	/* A pack is a sign of life: the lease of the push that wrote it goes on (no extra
	 * sync to disk: same transaction). */
	MVMS_TRY(mvms_lease__tick(st, 1));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	if (error < 0 && there && error != MVMS_ECONFLICT)
		error = drop_unindexed(st, pid, error);
	return error;
}

int mvms_push__commit_pack(uint64_t *size_out, mvms_store *st, mvms_pack_writer *w)
{
	const mvms_pack_entry *entries;
	size_t count;
	uint64_t size;
	mvms_oid pid;
	int error = 0;

	MVMS_TRY(mvms_pack_writer_finish(&pid, &size, &entries, &count, w));
	/* The pack is durable now; index it so that the next push (or a re-run of this one)
	 * finds its chunks, whether or not this push completes. */
	MVMS_TRY(mvms_push__index_pack(st, &pid, size, entries, count));
	if (size_out)
		*size_out = size;
done:
	mvms_pack_writer_free(w);
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
		return uploader_add(c, w);
	MVMS_TRY(gone(c, mvms_push__commit_pack(&size, c->st, w)));
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
	b->error = mvms_codec_encode(c->codecs[worker], &b->codec, &b->out_len,
				     c->arena + b->out_off, mvms_codec_bound(b->len), b->data, b->len);
}

static int chunk_known(push_ctx *c, const mvms_oid *id)
{
	unsigned char missing;
	int error = mvms_sync_missing(&missing, c->st, id, 1);

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
	mvms_safetensors *st = fs->f->st;
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
			chunk_ref *tmp = realloc(f->chunks, ncap * sizeof(*tmp));
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
		if (oid_set_has(&c->pending, &b->id))
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
		MVMS_TRY(oid_set_add(&c->pending, &b->id));
	}
	if (arena_need > c->arena_cap) {
		unsigned char *tmp = realloc(c->arena, arena_need);
		MVMS_CHECK_ALLOC(tmp, error);
		c->arena = tmp;
		c->arena_cap = arena_need;
	}
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
		if (mvms_pack_writer_size(c->pack) >= c->st->pack_size) {
			size_t j;
			MVMS_TRY(flush_pack(c));
			/* Flushed chunks are in the database now; the rest of this batch is not. */
			oid_set_clear(&c->pending);
			for (j = i + 1; j < c->nbatch; j++)
				if (c->batch[j].is_new)
					MVMS_TRY(oid_set_add(&c->pending, &c->batch[j].id));
		}
	}
done:
	c->nbatch = 0;
	return error;
}

static int batch_add(push_ctx *c, const unsigned char *data, uint32_t len)
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
	c->batch[c->nbatch].error = 0;
	c->nbatch++;
done:
	return error;
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
	size_t nbounds = 0, bi = 0, have = 0, start = 0, t;
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
	error = mvms_safetensors_probe(&f->st, fd, f->size);
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
	if (error < 0)
		goto done;
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

	for (;;) {
		/* Refill: keep the unconsumed tail, read until the buffer is full or EOF. */
		if (!eof && have - start < cp->max_size) {
			MVMS_TRY(process_batch(c, &fs));
			/* Files whose chunks are all known write no pack: renew the lease here. */
			MVMS_TRY(gone(c, mvms_lease__tick(c->st, 0)));
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
			cut = mvms_chunker_next(cp, c->buf + start, n);
			MVMS_TRY(batch_add(c, c->buf + start, (uint32_t)cut));
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

/* ---- committing the version ---- */

/*
 * In the commit's write transaction: an object the new version needs must be there. gc
 * removes objects only while holding that same lock, and only objects no row names, so one
 * that is there now stays: either gc ran before this commit and the push must start over,
 * or it runs after and sees the version.
 */
static int need_object(push_ctx *c, const char *kind, const mvms_oid *id, const char *what)
{
	char key[MVMS_KEY_MAX];
	uint64_t size;
	int error;

	mvms_object_key(key, sizeof(key), kind, id);
	error = mvms_backend_stat(&size, c->st->be, key);
	if (error == MVMS_ENOTFOUND)
		error = gone(c, mvms_error_set(MVMS_ECONFLICT, "push: a gc removed %s (%s) while this "
					       "push ran; nothing was committed: push again", key, what));
	return error;
}

static int file_content_row(int64_t *out, push_ctx *c, const mvms_oid *id)
{
	sqlite3_stmt *s = mvms_db_stmt(c->st->db, "SELECT id FROM contents WHERE oid = ?");
	int rc, error = MVMS_ENOTFOUND;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		error = 0;
	} else if (rc != SQLITE_DONE) {
		error = mvms_db_error(c->st->db, rc, "look up content");
	}
	sqlite3_reset(s);
	return error;
}

/* The chunk list of one file content: header and (chunk id, u64 length) entries; its hash
 * is the file id. Format in docs/formats.md. */
static int filemap_encode(mvms_buf *out, const push_file *f)
{
	unsigned char hdr[32], rec[40];
	size_t i;
	int error = 0;

	memcpy(hdr, "MVMSFMAP", 8);
	mvms_le32_put(hdr + 8, 1);
	mvms_le32_put(hdr + 12, 0);
	mvms_le64_put(hdr + 16, f->size);
	mvms_le64_put(hdr + 24, f->nchunks);
	MVMS_TRY(mvms_buf_grow(out, sizeof(hdr) + f->nchunks * sizeof(rec)));
	MVMS_TRY(mvms_buf_put(out, hdr, sizeof(hdr)));
	for (i = 0; i < f->nchunks; i++) {
		memcpy(rec, f->chunks[i].id.id, MVMS_OID_RAWSZ);
		mvms_le64_put(rec + 32, f->chunks[i].len);
		MVMS_TRY(mvms_buf_put(out, rec, sizeof(rec)));
	}
done:
	return error;
}

/* "files/ab/<file id>", so that the database can be rebuilt from the object store.
 * Written even when it is there already: no row names it (the content is new), so it may
 * be an old orphan that a gc is about to remove; written anew it is young, and this
 * push's lease keeps it. */
static int write_filemap(push_ctx *c, const push_file *f)
{
	char key[MVMS_KEY_MAX];
	mvms_backend *be = c->st->be;
	mvms_buf enc = MVMS_BUF_INIT;
	int error = 0;

	mvms_object_key(key, sizeof(key), "files", &f->id);
	MVMS_TRY(filemap_encode(&enc, f));
	error = mvms_backend_put(be, key, enc.ptr, enc.size);
done:
	mvms_buf_dispose(&enc);
	return error;
}

int mvms_push__add_content(int64_t *out, mvms_store *st, const mvms_oid *id, uint64_t size,
			   const mvms_chunk_ref *chunks, size_t nchunks, const mvms_safetensors *sf,
			   const mvms_oid *tensor_ids)
{
	static const char q_row[] = "SELECT id FROM contents WHERE oid = ?";
	static const char q_content[] =
		"INSERT INTO contents(oid, size, chunk_count, format, created_at) VALUES (?, ?, ?, ?, ?)";
	static const char q_chunk_id[] = "SELECT id FROM chunks WHERE oid = ?";
	static const char q_cc[] =
		"INSERT INTO content_chunks(content_id, seq, chunk_id, offset) VALUES (?, ?, ?, ?)";
	static const char q_tensor[] =
		"INSERT OR IGNORE INTO tensors(content_id, name, dtype, shape, offset, length, oid) "
		"VALUES (?, ?, ?, ?, ?, ?, ?)";
	mvms_db *db = st->db;
	sqlite3_stmt *s, *sc;
	int64_t row, chunk_row;
	uint64_t off = 0;
	size_t i;
	int error = 0, rc;

	if (!(s = mvms_db_stmt(db, q_row)))
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return mvms_db_error(db, rc, "look up content");
	if (!(s = mvms_db_stmt(db, q_content)))
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_int64(s, 3, (int64_t)nchunks);
	sqlite3_bind_text(s, 4, sf ? "safetensors" : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(db, s, "add content"));
	row = sqlite3_last_insert_rowid(mvms_db_handle(db));
	for (i = 0; i < nchunks; i++) {
		if (!(sc = mvms_db_stmt(db, q_chunk_id))) {
			error = MVMS_ERROR;
			goto done;
		}
		mvms_db_bind_oid(sc, 1, &chunks[i].id);
		rc = sqlite3_step(sc);
		chunk_row = rc == SQLITE_ROW ? sqlite3_column_int64(sc, 0) : 0;
		sqlite3_reset(sc);
		if (!chunk_row) {
			char hex[MVMS_OID_HEXSZ + 1];
			mvms_oid_fmt(hex, &chunks[i].id);
			/* The push found it stored, and a gc removed its unused pack since. */
			error = mvms_error_set(MVMS_ECONFLICT, "push: chunk %s is in no pack any more "
					       "(a gc removed it after this push found it); nothing "
					       "was committed: push again", hex);
			goto done;
		}
		if (!(s = mvms_db_stmt(db, q_cc))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_int64(s, 3, chunk_row);
		sqlite3_bind_int64(s, 4, (int64_t)off);
		MVMS_TRY(mvms_db_step_done(db, s, "add content chunk"));
		off += chunks[i].len;
	}
	for (i = 0; sf && i < sf->count; i++) {
		const mvms_tensor_info *t = &sf->tensors[i];
		if (!(s = mvms_db_stmt(db, q_tensor))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_text(s, 2, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, t->dtype, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, t->shape, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, (int64_t)t->offset);
		sqlite3_bind_int64(s, 6, (int64_t)t->length);
		mvms_db_bind_oid(s, 7, &tensor_ids[i]);
		MVMS_TRY(mvms_db_step_done(db, s, "add tensor"));
	}
	*out = row;
done:
	return error;
}

static int insert_content(int64_t *out, push_ctx *c, const push_file *f)
{
	if (!f->abs && !f->chunks) {
		/* A content the caller said the store has (merge, sync): it must still be there,
		 * a gc may have run since it was checked. */
		int error = file_content_row(out, c, &f->id);
		if (error == MVMS_ENOTFOUND)
			error = gone(c, mvms_error_set(MVMS_ECONFLICT, "push: the content of %s "
						       "vanished (a gc ran meanwhile): push again",
						       f->path));
		return error;
	}
	return gone(c, mvms_push__add_content(out, c->st, &f->id, f->size, f->chunks, f->nchunks,
					      f->st, f->tensor_ids));
}

/* 1 when the files equal those of version @row (same paths, modes and contents). */
static int same_files(push_ctx *c, int64_t row)
{
	static const char q[] =
		"SELECT f.path, f.mode, c.oid FROM files f JOIN contents c ON c.id = f.content_id "
		"WHERE f.version_id = ? ORDER BY f.path";
	sqlite3_stmt *s = mvms_db_stmt(c->st->db, q);
	size_t i = 0;
	int same = 1, rc;
	mvms_oid id;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (i >= c->nfiles ||
		    strcmp((const char *)sqlite3_column_text(s, 0), c->files[i].path) != 0 ||
		    (unsigned)sqlite3_column_int(s, 1) != c->files[i].mode ||
		    mvms_db_column_oid(&id, s, 2) < 0 || mvms_oid_cmp(&id, &c->files[i].id) != 0) {
			same = 0;
			break;
		}
		i++;
	}
	sqlite3_reset(s);
	return same && i == c->nfiles;
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

static int version_oid(mvms_oid *out, mvms_store *st, int64_t row)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT oid FROM versions WHERE id = ?");
	int error = MVMS_ENOTFOUND;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if (sqlite3_step(s) == SQLITE_ROW)
		error = mvms_oid_parse(out, (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return error;
}

static int commit_version(push_ctx *c, const char *model, int64_t model_id, const char *branch,
			  int64_t expected_head, const int64_t *parent_rows, size_t nparents,
			  mvms_manifest *m)
{
	static const char q_num[] =
		"SELECT coalesce(max(number), 0) + 1 FROM versions WHERE model_id = ?";
	static const char q_version[] =
		"INSERT INTO versions(oid, model_id, number, message, author, created_at, file_count, "
		"logical_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	static const char q_parent[] =
		"INSERT INTO version_parents(child, position, parent) VALUES (?, ?, ?)";
	static const char q_meta[] =
		"INSERT INTO version_meta(version_id, key, value) VALUES (?, ?, ?)";
	static const char q_file[] =
		"INSERT INTO files(version_id, path, mode, content_id) VALUES (?, ?, ?, ?)";
	static const char q_branch[] =
		"INSERT OR REPLACE INTO branches(model_id, name, version_id, updated_at) "
		"VALUES (?, ?, ?, ?)";
	mvms_db *db = c->st->db;
	mvms_buf enc = MVMS_BUF_INIT;
	char key[MVMS_KEY_MAX];
	sqlite3_stmt *s;
	int64_t number = 0, row, head = 0, content;
	mvms_oid vid;
	size_t i;
	int error = 0, began = 0;
	uint64_t logical = 0;

	MVMS_TRY(mvms_manifest_sort(m));
	MVMS_TRY(mvms_manifest_encode(&enc, m));
	mvms_oid_hash(&vid, enc.ptr, enc.size);
	for (i = 0; i < c->nfiles; i++) {
		logical += c->files[i].size;
		/* Only with the chunk list in hand (a content said to be here has none). */
		if ((c->files[i].abs || c->files[i].chunks) &&
		    file_content_row(&content, c, &c->files[i].id) == MVMS_ENOTFOUND)
			MVMS_TRY(write_filemap(c, &c->files[i]));
	}
	mvms_error_clear();
	mvms_object_key(key, sizeof(key), "manifests", &vid);
	MVMS_TRY(mvms_backend_put(c->st->be, key, enc.ptr, enc.size));

	if (c->st->before_commit)
		c->st->before_commit(c->st, c->st->before_commit_arg);
	MVMS_TRY(mvms_db_begin(db));
	began = 1;
	/* Under the write lock, which gc holds while it removes: what this version needs is
	 * there now, or the push starts over (docs/formats.md, "Garbage collection"). */
	MVMS_TRY(gone(c, mvms_lease__check(c->st)));
	MVMS_TRY(need_object(c, "manifests", &vid, "the manifest of the new version"));
	if (model_id == 0) {
		/* A first push registers the model together with its first version, so a push
		 * that fails registers nothing. Losing a race for the name is a conflict. */
		error = mvms_store__model_id(&model_id, c->st, model);
		if (error == 0) {
			error = mvms_error_set(MVMS_ECONFLICT,
					       "push: model %s was registered by another push meanwhile; "
					       "nothing was committed: push again", model);
			goto done;
		}
		if (error != MVMS_ENOTFOUND)
			goto done;
		mvms_error_clear();
		MVMS_TRY(mvms_store__model_create(&model_id, c->st, model, m->model_uid, NULL));
	}
	error = mvms_refs__branch_head(&head, c->st, model_id, branch);
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
	if (error < 0)
		goto done;
	if (head != expected_head) {
		error = mvms_error_set(MVMS_ECONFLICT,
				       "push: branch '%s' of %s moved while pushing; nothing was "
				       "committed: push again to build on the new head", branch, model);
		goto done;
	}
	if (!(s = mvms_db_stmt(db, q_num))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, model_id);
	if (sqlite3_step(s) == SQLITE_ROW)
		number = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	mvms_oid_fmt(c->res->id, &vid);
	if (!(s = mvms_db_stmt(db, q_version))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_text(s, 1, c->res->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, model_id);
	sqlite3_bind_int64(s, 3, number);
	sqlite3_bind_text(s, 4, m->message, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, m->author, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, m->time);
	sqlite3_bind_int64(s, 7, (int64_t)c->nfiles);
	sqlite3_bind_int64(s, 8, (int64_t)logical);
	error = mvms_db_step_done(db, s, "add version");
	if (error == MVMS_EEXISTS)
		error = mvms_error_set(MVMS_EEXISTS, "push: version %.12s exists already", c->res->id);
	if (error < 0)
		goto done;
	row = sqlite3_last_insert_rowid(mvms_db_handle(db));
	for (i = 0; i < nparents; i++) {
		if (!(s = mvms_db_stmt(db, q_parent))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_int64(s, 3, parent_rows[i]);
		MVMS_TRY(mvms_db_step_done(db, s, "add parent"));
	}
	for (i = 0; i < m->meta_count; i++) {
		if (!(s = mvms_db_stmt(db, q_meta))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_text(s, 2, m->meta_keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, m->meta_values[i], -1, SQLITE_STATIC);
		MVMS_TRY(mvms_db_step_done(db, s, "add metadata"));
	}
	for (i = 0; i < c->nfiles; i++) {
		/* A content row that exists now keeps its chunk list from gc; a new one needs it. */
		int have = file_content_row(&content, c, &c->files[i].id);
		if (have < 0 && have != MVMS_ENOTFOUND) {
			error = have;
			goto done;
		}
		MVMS_TRY(insert_content(&content, c, &c->files[i]));
		if (have == MVMS_ENOTFOUND)
			MVMS_TRY(need_object(c, "files", &c->files[i].id, c->files[i].path));
		if (!(s = mvms_db_stmt(db, q_file))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, row);
		sqlite3_bind_text(s, 2, c->files[i].path, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, (int)c->files[i].mode);
		sqlite3_bind_int64(s, 4, content);
		MVMS_TRY(mvms_db_step_done(db, s, "add file"));
	}
	if (!(s = mvms_db_stmt(db, q_branch))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, branch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, row);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	MVMS_TRY(mvms_db_step_done(db, s, "move branch"));
	MVMS_TRY(mvms_db_commit(db));
	began = 0;
	c->res->created = 1;
	c->res->number = number;
	c->res->logical_bytes = logical;
done:
	if (began)
		mvms_db_rollback(db);
	mvms_buf_dispose(&enc);
	return error;
}

/* What a push commits to, once its files are known. */
typedef struct push_spec {
	const char *model;
	int64_t model_id;
	const char *branch;
	int64_t head;               /* the branch head the push builds on (0: none): the CAS value */
	const int64_t *parents;
	size_t nparents;
	const char *message, *author;
	int64_t time;
	int check_identical;        /* no version when the files equal the head's */
	const mvms_manifest *manifest; /* commit exactly this manifest (sync), or NULL */
	int stage_only;             /* store the chunks, make no version (remote push) */
} push_spec;

/* The whole commit, checked (validate.c) before any object or row of it is written:
 * files read by this push by the chunks it cut, others by the content the store has. */
static int validate_commit(push_ctx *c, const push_spec *ps)
{
	mvms_commit_plan plan;
	mvms_commit_file *cf = calloc(c->nfiles + 1, sizeof(*cf));
	size_t i;
	int error = 0;

	MVMS_CHECK_ALLOC(cf, error);
	for (i = 0; i < c->nfiles; i++) {
		const push_file *f = &c->files[i];
		cf[i].path = f->path;
		cf[i].mode = f->mode;
		cf[i].size = f->size;
		cf[i].id = f->id;
		cf[i].source = f->abs ? MVMS_COMMIT_CHUNKS : MVMS_COMMIT_STORED;
		cf[i].chunks = f->chunks;
		cf[i].nchunks = f->nchunks;
	}
	memset(&plan, 0, sizeof(plan));
	plan.model_id = ps->model_id;
	plan.branch = ps->branch;
	plan.files = cf;
	plan.nfiles = c->nfiles;
	plan.parents = ps->parents;
	plan.nparents = ps->nparents;
	error = mvms_validate_commit(c->st, &plan);
done:
	free(cf);
	return error;
}

/* Reads and stores the files that are not in the store yet, then commits the version. */
static int push_run(push_ctx *c, const push_spec *ps, mvms_manifest *m)
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
	c->buf = malloc(READ_BUF_SIZE);
	MVMS_CHECK_ALLOC(c->buf, error);
	if (mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_REMOTE) /* uploads overlap hashing */
		MVMS_TRY(uploader_start(&c->up));
	for (i = 0; i < c->nfiles; i++)
		if (c->files[i].abs)
			MVMS_TRY(push_one_file(c, &c->files[i]));
	MVMS_TRY(flush_pack(c));
	if (c->up) {
		error = uploader_harvest(c, 1);
		if (error < 0)
			goto done;
	}
	if (c->opts && c->opts->progress)
		c->opts->progress(c->bytes_done, c->bytes_total, c->opts->payload);
	out->files = c->nfiles;
	for (i = 0; i < c->nfiles; i++)
		out->logical_bytes += c->files[i].size;
	if (ps->stage_only)
		goto done;

	if (ps->check_identical && ps->head && same_files(c, ps->head) == 1) {
		mvms_version_info *hv = NULL;
		MVMS_TRY(mvms_version__load(&hv, st, ps->head));
		out->created = 0;
		out->number = hv->number;
		snprintf(out->id, sizeof(out->id), "%s", hv->id);
		mvms_version_info_free(hv);
		goto done;
	}

	MVMS_TRY(gone(c, validate_commit(c, ps)));
	if (ps->manifest) {
		/* A manifest made elsewhere (a client): commit its exact bytes, so the id the
		 * client computed is the id stored. */
		error = commit_version(c, ps->model, ps->model_id, ps->branch, ps->head, ps->parents,
				       ps->nparents, (mvms_manifest *)ps->manifest);
		goto done;
	}
	if (ps->model_id)
		MVMS_TRY(mvms_store__model_uid(m->model_uid, st, ps->model_id));
	else
		mvms_store__new_uid(m->model_uid);
	m->model_name = strdup(ps->model);
	m->author = strdup(ps->author ? ps->author : mvms_store__default_author());
	m->message = strdup(ps->message ? ps->message : "");
	MVMS_CHECK_ALLOC(m->model_name, error);
	MVMS_CHECK_ALLOC(m->author, error);
	MVMS_CHECK_ALLOC(m->message, error);
	m->time = ps->time ? ps->time : (int64_t)time(NULL);
	m->parents = calloc(ps->nparents + 1, sizeof(mvms_oid));
	MVMS_CHECK_ALLOC(m->parents, error);
	for (i = 0; i < ps->nparents; i++)
		MVMS_TRY(version_oid(&m->parents[i], st, ps->parents[i]));
	m->parent_count = ps->nparents;
	m->files = calloc(c->nfiles + 1, sizeof(*m->files));
	MVMS_CHECK_ALLOC(m->files, error);
	for (i = 0; i < c->nfiles; i++) {
		m->files[i].path = c->files[i].path; /* borrowed: cleared below */
		m->files[i].mode = c->files[i].mode;
		m->files[i].size = c->files[i].size;
		m->files[i].id = c->files[i].id;
	}
	m->file_count = c->nfiles;
	error = commit_version(c, ps->model, ps->model_id, ps->branch, ps->head, ps->parents,
			       ps->nparents, m);
	for (i = 0; i < m->file_count; i++)
		m->files[i].path = NULL;
done:
	if (error < 0 && c->up) {
		/* Uploads still in flight: wait, and index those that completed (see harvest). */
		int saved = mvms_error_last_code();
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		uploader_harvest(c, 1);
		mvms_error_set(saved ? saved : error, "%s", msg);
	}
	mvms_lease__drop(st, leased);
	return error;
}

static void push_dispose(push_ctx *c, mvms_manifest *m)
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
	uploader_stop(c->up);
	for (w = 0; c->codecs && w < mvms_pool_size(c->pool); w++)
		mvms_codec_free(c->codecs[w]);
	free(c->codecs);
	mvms_pool_free(c->pool);
	for (i = 0; i < c->nfiles; i++) {
		free(c->files[i].path);
		free(c->files[i].abs);
		free(c->files[i].chunks);
		mvms_safetensors_free(c->files[i].st);
		free(c->files[i].tensor_ids);
	}
	free(c->files);
	free(c->batch);
	free(c->arena);
	free(c->buf);
	oid_set_dispose(&c->pending);
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
		for (j = 0; j < nparents && parent_rows[j] != row; j++)
			;
		if (j == nparents)
			parent_rows[nparents++] = row;
	}
	MVMS_TRY(collect(&c, path));

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
	ps.check_identical = opts->parent_count == 0 && opts->meta_count == 0;
	error = push_run(&c, &ps, &m);
done:
	out->seconds = mvms_now() - t0;
	push_dispose(&c, &m);
	free(parent_rows);
	return error;
}

int mvms_push(mvms_push_result *out, mvms_store *st, const char *model, const char *path,
	      const mvms_push_options *opts)
{
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

int mvms_push__entries(mvms_push_result *out, mvms_store *st, const char *model,
		       const char *branch, int64_t expected_head, const int64_t *parents,
		       size_t nparents, const char *message, const char *author, int64_t when,
		       const mvms_push__entry *entries, size_t count, const mvms_manifest *manifest,
		       int check_identical)
{
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
	ps.model = model;
	ps.manifest = manifest;
	error = mvms_store__model_id(&ps.model_id, st, model);
	if (error == MVMS_ENOTFOUND) {
		/* A new model arrives with its first version; the commit registers it. */
		ps.model_id = 0;
		error = 0;
		mvms_error_clear();
	}
	if (error < 0)
		goto done;
	for (i = 0; i < count; i++) {
		memset(&sb, 0, sizeof(sb));
		sb.st_mode = entries[i].mode == 0755 ? 0755 : 0644;
		sb.st_size = (off_t)entries[i].size;
		MVMS_TRY(add_file(&c, entries[i].path, entries[i].abs ? entries[i].abs : "", &sb));
		if (!entries[i].abs) {
			/* Already in the store: nothing to read, the content row exists. */
			free(c.files[c.nfiles - 1].abs);
			c.files[c.nfiles - 1].abs = NULL;
			c.files[c.nfiles - 1].id = entries[i].content;
		} else {
			c.bytes_total += entries[i].size;
		}
	}
	if (c.nfiles > 1)
		qsort(c.files, c.nfiles, sizeof(*c.files), cmp_push_file);
	ps.branch = branch;
	ps.head = expected_head;
	ps.parents = parents;
	ps.nparents = nparents;
	ps.message = message;
	ps.author = author;
	ps.time = when;
	ps.check_identical = check_identical;
	error = push_run(&c, &ps, &m);
done:
	out->seconds = mvms_now() - t0;
	push_dispose(&c, &m);
	return error;
}

int mvms_sync_stage(mvms_sync_file **out, size_t *count, mvms_store *st, const char *path,
		    mvms_progress_cb progress, void *payload)
{
	mvms_push_options opts = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result res;
	mvms_sync_file *files = NULL;
	mvms_buf enc = MVMS_BUF_INIT;
	push_ctx c;
	push_spec ps;
	mvms_manifest m;
	size_t i, k, n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	memset(&ps, 0, sizeof(ps));
	memset(&res, 0, sizeof(res));
	opts.progress = progress;
	opts.payload = payload;
	c.st = st;
	c.opts = &opts;
	c.res = &res;
	ps.stage_only = 1;
	MVMS_TRY(collect(&c, path));
	MVMS_TRY(push_run(&c, &ps, &m));
	files = calloc(c.nfiles + 1, sizeof(*files));
	MVMS_CHECK_ALLOC(files, error);
	for (i = 0; i < c.nfiles; i++) {
		push_file *f = &c.files[i];
		mvms_sync_file *o = &files[n++];
		o->path = strdup(f->path);
		MVMS_CHECK_ALLOC(o->path, error);
		o->mode = f->mode;
		o->size = f->size;
		o->id = f->id;
		mvms_buf_clear(&enc);
		MVMS_TRY(filemap_encode(&enc, f));
		o->filemap_len = enc.size;
		o->filemap = mvms_buf_detach(&enc);
		o->chunks = calloc(f->nchunks + 1, sizeof(*o->chunks));
		MVMS_CHECK_ALLOC(o->chunks, error);
		for (k = 0; k < f->nchunks; k++)
			o->chunks[k] = f->chunks[k].id;
		o->nchunks = f->nchunks;
	}
	*out = files;
	*count = n;
	files = NULL;
done:
	mvms_sync_files_free(files, n);
	mvms_buf_dispose(&enc);
	push_dispose(&c, &m);
	return error;
}

void mvms_sync_files_free(mvms_sync_file *files, size_t count)
{
	size_t i;

	if (!files)
		return;
	for (i = 0; i < count; i++) {
		free(files[i].path);
		free(files[i].filemap);
		free(files[i].chunks);
	}
	free(files);
}
