/* SPDX-License-Identifier: MIT */
/*
 * The workers of a pull: each takes a task (a run of consecutive chunks of the file), reads
 * its records unless they are in memory already (a remote backend's round, a records
 * stream's block), decodes and verifies every chunk into its own buffer and writes the bytes
 * at their place in the file (pwrite). The decoded bytes are still in the worker's CPU cache
 * when the kernel copies them, and reads, decodes, hashes and writes all run on every core;
 * the calling thread only plans windows of tasks and checks them in file order (pull.c,
 * recv.c). Writes land out of order, which a part file allows: a resumed pull keeps only
 * the leading chunks that hash right (resume.c). Does not hash the file nor end the part.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pull_int.h"
#include "hash.h"
#include "pack.h"

size_t mvms_pull__span(const pull_chunk *ch)
{
	return ch->src < 0 ? MVMS_PACK_RECORD_HDR + (size_t)ch->stored_len : ch->raw_len;
}

/* Chunk @ch from @in into @out: a pack record decoded (and checked against its id by the
 * codec), or the bytes of a file a pull wrote, hashed again (it may have changed since). */
static void decode_chunk(pull_ctx *c, pull_chunk *ch, const unsigned char *in, unsigned char *out,
			 unsigned worker)
{
	mvms_oid got;

	if (ch->src >= 0) {
		mvms_oid_hash(&got, in, ch->raw_len);
		if (mvms_oid_cmp(&got, &ch->id) != 0) {
			ch->error = MVMS_EMISMATCH;
			snprintf(ch->errmsg, sizeof(ch->errmsg), "cache: %s changed since it was pulled",
				 c->srcs[ch->src].path);
			return;
		}
		if (in != out)
			memcpy(out, in, ch->raw_len);
		ch->error = 0;
		return;
	}
	ch->error = mvms_pack_decode_record(c->codecs[worker], out, ch->raw_len, &ch->id, in,
					    MVMS_PACK_RECORD_HDR + (size_t)ch->stored_len);
	if (ch->error < 0)
		snprintf(ch->errmsg, sizeof(ch->errmsg), "%s", mvms_error_last());
}

/* A source file's range, straight into @buf. Gone or too short: the file changed
 * (MVMS_ENOTFOUND, the caller forgets it); any other failure (EMFILE, EIO) is this pull's
 * problem, not the file's. */
static int read_source(pull_ctx *c, const pull_task *t, uint64_t len, unsigned char *buf)
{
	const char *p = c->srcs[t->chunks[0].src].path;
	int fd = open(p, O_RDONLY | O_CLOEXEC), error = 0;
	struct stat sb;

	if (fd < 0)
		error = mvms_error_set(errno == ENOENT || errno == ENOTDIR ? MVMS_ENOTFOUND : MVMS_ERROR,
				       "%s: %s", p, strerror(errno));
	else if (fstat(fd, &sb) < 0)
		error = mvms_error_set(MVMS_ERROR, "%s: %s", p, strerror(errno));
	else if ((uint64_t)sb.st_size < t->chunks[0].offset + len)
		error = mvms_error_set(MVMS_ENOTFOUND, "%s is shorter than when it was pulled", p);
	else
		error = mvms_read_full(fd, buf, (size_t)len, t->chunks[0].offset, p);
	if (fd >= 0)
		close(fd);
	return error;
}

/* A pack's consecutive records into @buf, through the backend's front door (retries,
 * metrics, faults). Keeping packs open per worker instead measured no faster here. */
static int read_pack(pull_ctx *c, const pull_task *t, uint64_t len, unsigned char *buf)
{
	const pull_chunk *ch = &t->chunks[0];
	char key[MVMS_KEY_MAX];

	mvms_object_key(key, sizeof(key), "packs", &ch->pack);
	return mvms_backend_get(c->st->be, key, ch->offset, buf, (size_t)len);
}

static int pwrite_full(int fd, const unsigned char *p, size_t len, uint64_t at)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mvms_error_set(MVMS_ERROR, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
		at += (uint64_t)n;
	}
	return 0;
}

static void task_run(size_t i, unsigned worker, void *ctx)
{
	pull_window *w = ctx;
	pull_ctx *c = w->c;
	pull_task *t = &w->tasks[i];
	pull_wbuf *b = &c->wb[worker];
	const unsigned char *in = t->in;
	uint64_t len = 0;
	size_t k, off = 0;
	int error = 0;

	if (atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		t->error = MVMS_EUSER; /* after a failure the caller reported: never looked at */
		return;
	}
	MVMS_TRY(mvms_pull__ensure(&b->out, &b->out_cap, t->raw ? (size_t)t->raw : 1));
	if (!in) {
		for (k = 0; k < t->n; k++)
			len += mvms_pull__span(&t->chunks[k]);
		if (t->chunks[0].src >= 0) {
			/* Raw bytes: read where they go, hashed in place. */
			MVMS_TRY(read_source(c, t, len, b->out));
			in = b->out;
		} else {
			MVMS_TRY(mvms_pull__ensure(&b->in, &b->in_cap, (size_t)len));
			MVMS_TRY(read_pack(c, t, len, b->in));
			in = b->in;
		}
	}
	for (k = 0; k < t->n; k++) {
		pull_chunk *ch = &t->chunks[k];
		decode_chunk(c, ch, in + ch->in_off, b->out + off, worker);
		if (ch->error < 0)
			goto done; /* the caller reports it; nothing of the task is written */
		off += ch->raw_len;
	}
	t->wrote = 1;
	MVMS_TRY(pwrite_full(c->fd, b->out, off, t->at));
	t->wrote = 0;
done:
	if (error < 0) {
		t->error = error;
		snprintf(t->msg, sizeof(t->msg), "%s", mvms_error_last());
	}
}

static int add_task(pull_window *w, pull_chunk *chunks, size_t n, uint64_t at,
		    const unsigned char *in, uint64_t raw)
{
	pull_task *t;

	if (!(t = mvms_array_room(w->tasks, &w->cap, w->n, sizeof(*t), 64)))
		return MVMS_ERROR;
	w->tasks = t;
	t = &w->tasks[w->n++];
	memset(t, 0, sizeof(*t));
	t->chunks = chunks;
	t->n = n;
	t->at = at;
	t->in = in;
	t->raw = raw;
	w->raw += raw;
	return 0;
}

int mvms_pull__window_plan(pull_ctx *c, pull_window *w, pull_chunk *chunks, size_t n, uint64_t at,
			   const unsigned char *in)
{
	size_t i, j;
	int error = 0;

	w->c = c;
	w->n = 0;
	w->raw = 0;
	for (i = 0; i < n; i = j) {
		uint64_t raw = chunks[i].raw_len, end = chunks[i].offset + mvms_pull__span(&chunks[i]);
		if (!in)
			chunks[i].in_off = 0;
		for (j = i + 1; j < n && raw < TASK_BYTES; j++) {
			const pull_chunk *x = &chunks[j];
			if (!in && (x->src != chunks[i].src || x->offset != end ||
				    (x->src < 0 && mvms_oid_cmp(&x->pack, &chunks[i].pack) != 0)))
				break;
			if (!in)
				chunks[j].in_off = (size_t)(end - chunks[i].offset);
			end += mvms_pull__span(x);
			raw += x->raw_len;
		}
		MVMS_TRY(add_task(w, chunks + i, j - i, at, in, raw));
		at += raw;
	}
done:
	return error;
}

void mvms_pull__window_submit(pull_ctx *c, pull_window *w)
{
	w->queued = 1;
	mvms_pool_submit(c->pool, &w->job, w->n, task_run, w);
}

void mvms_pull__window_wait(pull_ctx *c, pull_window *w)
{
	if (!w->queued)
		return;
	mvms_pool_wait(c->pool, &w->job);
	w->queued = 0;
}

void mvms_pull__windows_drain(pull_ctx *c)
{
	size_t i;

	atomic_store(&c->stop, 1);
	for (i = 0; i < PULL_WINDOWS; i++)
		mvms_pull__window_wait(c, &c->win[i]);
	atomic_store(&c->stop, 0);
}
