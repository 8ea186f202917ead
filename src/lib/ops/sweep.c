/* SPDX-License-Identifier: MIT */
/*
 * gc's sweep: mark from the database, sweep over what the backend lists. Rows of file
 * contents no version uses go first, then packs that mix used and unused chunks are
 * rewritten (repack.c); then every object the backend lists (packs, chunk
 * lists, manifests, its temporary files) and the store directory's leftovers of killed
 * merges and uploads become candidates when nothing references them and they were written
 * before the cutoff (the grace period, and the start of the oldest live lease). Candidates
 * are re-checked and removed in batches while holding the database's write lock, so a
 * commit either happened before (gc sees the reference) or happens after and checks that
 * what it needs is still there (push.c). A pack's index rows go in one transaction and its
 * object in the next, so a gc killed in between leaves an object with no rows, which the
 * next gc finds in the listing; never rows without an object, on which a push could dedup.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "store_int.h"
#include "mvms/gc.h"
#include "gcrows.h"
#include "clists.h"
#include "repack.h"
#include "transport.h"
#include "signatures.h"

/* Objects re-checked and removed per hold of the write lock: pushes wait at most this many
 * stats and removes (a few seconds on S3). */
#define BATCH 64

enum kind {
	K_PACK,       /* packs/…: with index rows (unreferenced) or none */
	K_PACK_ROWS,  /* index rows whose pack object the listing lacks */
	K_FILES,      /* files/…: a chunk list */
	K_LISTS,      /* lists/…: a list pack, kept while a content row is placed in it */
	K_MANIFEST,   /* manifests/… */
	K_SIGNATURE,  /* signatures/…: kept while an index row (a version) names it */
	K_TEMP,       /* the backend's temporary files (tmp/…) */
	K_STORE_TEMP  /* tmp-merge-…, upload-… in the store directory */
};

typedef struct cand {
	char key[MVMS_KEY_MAX];
	uint64_t size;
	int64_t mtime;
	enum kind kind;
	int has_rows;
	mvms_oid id;
	int done;     /* rows removed (K_PACK), or handled */
} cand;

typedef struct sweep {
	mvms_store *st;
	const mvms_gc_options *o;
	mvms_gc_result *res;
	int64_t now, cutoff;
	enum kind kind;      /* of the listing under way */
	cand *c;
	size_t n, cap;
	mvms_oid *listed;    /* pack ids the listing showed */
	size_t nlisted, clisted;
} sweep;

/* How far before a lease's start objects are still kept: the backend's clock may lag ours
 * (a bucket's LastModified is the server's time), and file times are coarse. */
static int64_t skew(const mvms_store *st)
{
	return mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_REMOTE ? 600 : 1;
}

/* Sets w->cutoff: removable is what was written at or before it. */
static int cutoff_at(sweep *w, int reap)
{
	int64_t oldest;
	uint64_t live, expired;
	int error;

	w->now = (int64_t)time(NULL);
	if ((error = mvms_lease__oldest(&oldest, &live, &expired, w->st, w->now, reap)) < 0)
		return error;
	w->cutoff = w->now - w->o->grace_seconds;
	/* A bucket may round LastModified up to the next second (Swift does): an object
	 * written this second is not "younger than a grace of 0". Leases keep their margin. */
	if (skew(w->st) > 1)
		w->cutoff++;
	if (live && oldest - skew(w->st) - 1 < w->cutoff)
		w->cutoff = oldest - skew(w->st) - 1;
	if (live > w->res->leases)
		w->res->leases = live;
	w->res->expired_leases += expired;
	w->res->cutoff = w->cutoff;
	return 0;
}

/*
 * Whether something references an object. For real (after the content rows no version
 * uses are gone) any row counts; a dry run removed nothing, so it counts the rows that
 * would stay: contents some file uses, or too young to go.
 */
static int pack_used(sweep *w, const mvms_oid *pid)
{
	return mvms_gcrows_pack_used(w->st->db, pid, w->o->dry_run, w->cutoff);
}

static int content_kept(sweep *w, const mvms_oid *id)
{
	return mvms_gcrows_content_kept(w->st->db, id, w->o->dry_run, w->cutoff);
}

static int pack_row(sweep *w, const mvms_oid *pid)
{
	return mvms_gcrows_pack_indexed(w->st->db, pid);
}

static int signature_used(sweep *w, const mvms_oid *id)
{
	char hex[MVMS_OID_HEXSZ + 1];

	mvms_oid_fmt(hex, id);
	return mvms_sigrows_used(w->st->db, hex);
}

static const char *reason(const cand *c)
{
	switch (c->kind) {
	case K_PACK: return c->has_rows ? "unreferenced pack" : "pack with no index rows";
	case K_PACK_ROWS: return "index rows of a missing pack";
	case K_FILES: return "unreferenced chunk list";
	case K_LISTS: return "chunk-list pack of no content";
	case K_MANIFEST: return "manifest of no version";
	case K_SIGNATURE: return "signature of no version";
	case K_TEMP: return "temp file of a killed push";
	default: return strncmp(c->key, "upload-", 7) == 0 ? "temp file of a killed upload"
							    : "temp file of a killed merge";
	}
}

/* Counts a removed (or, dry, removable) item and tells the caller. */
static int report(sweep *w, const cand *c)
{
	mvms_gc_result *r = w->res;
	mvms_gc_item it;

	switch (c->kind) {
	case K_PACK:
		r->packs++;
		r->pack_bytes += c->size;
		r->unindexed_packs += !c->has_rows;
		break;
	case K_PACK_ROWS: r->missing_packs++; break;
	case K_FILES:
	case K_LISTS:
	case K_MANIFEST:
	case K_SIGNATURE:
		r->objects++;
		r->object_bytes += c->size;
		break;
	default:
		r->temp_files++;
		r->temp_bytes += c->size;
	}
	if (!w->o->cb)
		return 0;
	it.key = c->key;
	it.size = c->size;
	it.age = c->mtime > 0 && c->mtime < w->now ? w->now - c->mtime : 0;
	it.reason = reason(c);
	return w->o->cb(&it, w->o->payload) ? mvms_error_set(MVMS_EUSER, "gc: stopped") : 0;
}

static int add(sweep *w, const char *key, uint64_t size, int64_t mtime, enum kind kind,
	       const mvms_oid *id, int has_rows)
{
	cand *c;

	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		cand *t = realloc(w->c, nc * sizeof(*t));
		if (!t)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		w->c = t;
		w->cap = nc;
	}
	c = &w->c[w->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->size = size;
	c->mtime = mtime;
	c->kind = kind;
	c->has_rows = has_rows;
	if (id)
		c->id = *id;
	return 0;
}

/* "kind/ab/<64 hex>" as mvms_object_key writes it: the id; else MVMS_ENOTFOUND (not ours). */
static int key_id(mvms_oid *id, const char *key)
{
	const char *slash = strrchr(key, '/');
	char want[MVMS_KEY_MAX];

	if (!slash || mvms_oid_parse(id, slash + 1) < 0) {
		mvms_error_clear();
		return MVMS_ENOTFOUND;
	}
	mvms_object_key(want, sizeof(want), "packs", id);
	/* Same two-hex-digit directory as the key's own. */
	return strcmp(strchr(want, '/'), strchr(key, '/')) == 0 ? 0 : MVMS_ENOTFOUND;
}

static int young(const sweep *w, int64_t mtime)
{
	return mtime <= 0 || mtime > w->cutoff;
}

/* scan() callback: a candidate when nothing references the object and it is old enough. */
static int on_object(const char *key, uint64_t size, int64_t mtime, void *payload)
{
	sweep *w = payload;
	mvms_oid id;
	int used = 0, rows = 0;

	if (strlen(key) >= MVMS_KEY_MAX)
		return 0; /* none of ours is that long */
	if (w->kind == K_TEMP)
		return young(w, mtime) ? (w->res->kept_objects++, 0)
				       : (add(w, key, size, mtime, K_TEMP, NULL, 0) < 0 ? -1 : 0);
	if (key_id(&id, key) < 0)
		return 0;
	if (w->kind == K_PACK) {
		if (w->nlisted == w->clisted) {
			size_t nc = w->clisted ? w->clisted * 2 : 256;
			mvms_oid *t = realloc(w->listed, nc * sizeof(*t));
			if (!t)
				return mvms_error_set(MVMS_ERROR, "out of memory"), -1;
			w->listed = t;
			w->clisted = nc;
		}
		w->listed[w->nlisted++] = id;
		if ((used = pack_used(w, &id)) == 0 && (rows = pack_row(w, &id)) < 0)
			return -1;
	} else if (w->kind == K_FILES) {
		used = content_kept(w, &id);
	} else if (w->kind == K_LISTS) {
		used = mvms_clists__pack_kept(w->st->db, &id, w->o->dry_run, w->cutoff);
	} else if (w->kind == K_SIGNATURE) {
		used = signature_used(w, &id);
	} else {
		used = mvms_gcrows_manifest_used(w->st->db, &id);
	}
	if (used < 0)
		return -1;
	if (used)
		return 0;
	if (young(w, mtime)) {
		if (w->kind == K_PACK)
			w->res->kept_young++;
		else
			w->res->kept_objects++;
		return 0;
	}
	return add(w, key, size, mtime, w->kind, &id, rows) < 0 ? -1 : 0;
}

static int cmp_oid(const void *a, const void *b)
{
	return mvms_oid_cmp(a, b);
}

/* Pack rows the listing did not show, gathered while the packs query runs. */
typedef struct unlisted {
	const sweep *w;
	mvms_oid *ids;
	int64_t *times;
	size_t n, cap;
} unlisted;

static int on_pack_row(const mvms_oid *id, int64_t created_at, void *payload)
{
	unlisted *u = payload;
	const sweep *w = u->w;

	if (w->nlisted && bsearch(id, w->listed, w->nlisted, sizeof(*id), cmp_oid))
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 16;
		mvms_oid *t = realloc(u->ids, cap * sizeof(*t));
		int64_t *v = t ? realloc(u->times, cap * sizeof(*v)) : NULL;
		u->ids = t ? t : u->ids;
		u->times = v ? v : u->times;
		if (!t || !v)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		u->cap = cap;
	}
	u->ids[u->n] = *id;
	u->times[u->n++] = created_at;
	return 0;
}

/* Index rows of packs the listing did not show, that nothing uses: candidates too. */
static int missing_packs(sweep *w)
{
	unlisted u;
	size_t i;
	char key[MVMS_KEY_MAX];
	int error = 0, used;

	memset(&u, 0, sizeof(u));
	u.w = w;
	if (w->nlisted)
		qsort(w->listed, w->nlisted, sizeof(*w->listed), cmp_oid);
	MVMS_TRY(mvms_gcrows_packs(w->st->db, on_pack_row, &u));
	for (i = 0; i < u.n; i++) {
		MVMS_TRY((used = pack_used(w, &u.ids[i])) < 0 ? used : 0);
		if (used || young(w, u.times[i]))
			continue;
		mvms_object_key(key, sizeof(key), "packs", &u.ids[i]);
		MVMS_TRY(add(w, key, 0, u.times[i], K_PACK_ROWS, &u.ids[i], 1));
	}
done:
	free(u.ids);
	free(u.times);
	return error;
}

/* The newest modification time in a tree (a tar being extracted keeps adding files). */
static __thread int64_t tree_newest;

static int newest_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	if ((int64_t)sb->st_mtime > tree_newest)
		tree_newest = (int64_t)sb->st_mtime;
	return 0;
}

static int64_t tree_mtime(const char *path, uint64_t *size)
{
	struct stat sb;

	*size = 0;
	if (lstat(path, &sb) < 0)
		return -1;
	*size = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	tree_newest = (int64_t)sb.st_mtime;
	if (S_ISDIR(sb.st_mode))
		nftw(path, newest_cb, 8, FTW_PHYS);
	return tree_newest;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Leftovers of killed merges (tmp-merge-*) and uploads (upload-*) in the store directory. */
static int store_temps(sweep *w)
{
	DIR *d = opendir(w->st->path);
	struct dirent *e;
	char *path = NULL;
	uint64_t size;
	int64_t mtime;
	int error = 0;

	if (!d)
		return mvms_error_set(MVMS_ERROR, "gc: list %s: %s", w->st->path, strerror(errno));
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "tmp-merge-", 10) != 0 && strncmp(e->d_name, "upload-", 7) != 0)
			continue;
		if (strlen(e->d_name) >= MVMS_KEY_MAX)
			continue;
		free(path);
		if (asprintf(&path, "%s/%s", w->st->path, e->d_name) < 0) {
			path = NULL;
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		if ((mtime = tree_mtime(path, &size)) < 0)
			continue;
		if (young(w, mtime))
			w->res->kept_objects++;
		else
			MVMS_TRY(add(w, e->d_name, size, mtime, K_STORE_TEMP, NULL, 0));
	}
done:
	free(path);
	closedir(d);
	return error;
}

/* Ends a sweep transaction: a dry run changes nothing, so it is rolled back. */
static int end_tx(sweep *w)
{
	if (w->o->dry_run) {
		mvms_db_rollback(w->st->db);
		return 0;
	}
	return mvms_db_commit(w->st->db);
}

/* Phase 1: rows of contents no version uses (and their chunk lists and tensors). */
static int drop_contents(sweep *w)
{
	int error = 0, began = 0;

	MVMS_TRY(w->o->dry_run ? mvms_db_exec(w->st->db, "BEGIN") : mvms_db_begin(w->st->db));
	began = 1;
	MVMS_TRY(cutoff_at(w, !w->o->dry_run));
	MVMS_TRY(mvms_gcrows_unused_contents(&w->res->contents, w->st->db, w->cutoff));
	if (!w->o->dry_run)
		MVMS_TRY(mvms_gcrows_drop_unused_contents(w->st->db, w->cutoff));
	MVMS_TRY(end_tx(w));
	began = 0;
done:
	if (began)
		mvms_db_rollback(w->st->db);
	return error;
}

/* Phase 2: the listing (in one read transaction per kind, for a consistent view). */
static int scan_all(sweep *w)
{
	static const struct { const char *prefix; enum kind kind; } kinds[] = {
		{ "packs/", K_PACK }, { "files/", K_FILES }, { "lists/", K_LISTS },
		{ "manifests/", K_MANIFEST },
		{ "signatures/", K_SIGNATURE }, { "tmp/", K_TEMP },
	};
	mvms_backend *be = w->st->be;
	size_t i;
	int error = 0, began = 0, rc;

	for (i = 0; i < MVMS_ARRAY_SIZE(kinds); i++) {
		w->kind = kinds[i].kind;
		MVMS_TRY(mvms_db_read_begin(w->st->db, &began));
		rc = mvms_backend_scan(be, kinds[i].prefix, on_object, w);
		if (rc == 0 && w->kind == K_PACK)
			rc = missing_packs(w);
		mvms_db_read_end(w->st->db, began);
		began = 0;
		if (rc != 0) {
			/* A callback's -1 carries its code in the message state. */
			error = rc < 0 ? rc : MVMS_ERROR;
			if (error == MVMS_ERROR && mvms_error_last_code() < 0)
				error = mvms_error_last_code();
			mvms_error_set(error, "gc: listing %s: %s", kinds[i].prefix, mvms_error_last());
			goto done;
		}
	}
	MVMS_TRY(store_temps(w));
done:
	return error;
}

/* Size and time of a candidate now; MVMS_ENOTFOUND when it is gone. */
static int restat(sweep *w, cand *c)
{
	mvms_backend *be = w->st->be;
	char *path = NULL;
	int error;

	if (c->kind != K_STORE_TEMP)
		return mvms_backend_stat_time(&c->size, &c->mtime, be, c->key);
	if (asprintf(&path, "%s/%s", w->st->path, c->key) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	c->mtime = tree_mtime(path, &c->size);
	error = c->mtime < 0 ? MVMS_ENOTFOUND : 0;
	free(path);
	return error;
}

/* First hold of the lock for a batch: index rows of unused packs go (committed before any
 * object is touched). */
static int batch_rows(sweep *w, cand *c, size_t n)
{
	size_t i;
	int error = 0, began = 0, rc, used;

	for (i = 0; i < n && !(c[i].kind == K_PACK_ROWS || (c[i].kind == K_PACK && c[i].has_rows)); i++)
		;
	if (i == n)
		return 0;
	MVMS_TRY(mvms_db_begin(w->st->db));
	began = 1;
	MVMS_TRY(cutoff_at(w, 1));
	for (i = 0; i < n; i++) {
		if (c[i].kind != K_PACK_ROWS && !(c[i].kind == K_PACK && c[i].has_rows))
			continue;
		MVMS_TRY((used = pack_used(w, &c[i].id)) < 0 ? used : 0);
		if (used) {
			c[i].done = 1; /* a commit reused it meanwhile */
			continue;
		}
		rc = restat(w, &c[i]);
		if (c[i].kind == K_PACK_ROWS) {
			/* Rows to drop only if the object is still missing (and they are old). */
			if (rc == 0 || rc != MVMS_ENOTFOUND) {
				c[i].done = 1;
				MVMS_TRY(rc == 0 ? 0 : rc);
				continue;
			}
			mvms_error_clear();
			c[i].mtime = 0;
		} else if (rc == MVMS_ENOTFOUND) {
			mvms_error_clear();
			c[i].kind = K_PACK_ROWS;
		} else if (rc < 0) {
			error = rc;
			goto done;
		} else if (young(w, c[i].mtime)) {
			c[i].done = 1;
			w->res->kept_young++;
			continue;
		}
		MVMS_TRY(mvms_gcrows_drop_pack(&w->res->chunks, w->st->db, &c[i].id));
		if (c[i].kind == K_PACK_ROWS) {
			c[i].done = 1;
			MVMS_TRY(report(w, &c[i]));
		}
	}
	MVMS_TRY(mvms_db_commit(w->st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(w->st->db);
	return error;
}

static int remove_one(sweep *w, const cand *c)
{
	char *path = NULL;
	int error = 0;

	if (c->kind != K_STORE_TEMP)
		return mvms_backend_remove(w->st->be, c->key);
	if (asprintf(&path, "%s/%s", w->st->path, c->key) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if (nftw(path, rm_one, 8, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		error = mvms_error_set(MVMS_ERROR, "gc: remove %s: %s", path, strerror(errno));
	free(path);
	return error;
}

/* Whether a candidate is (still) referenced, under the lock. */
static int referenced(sweep *w, const cand *c)
{
	switch (c->kind) {
	case K_PACK: return w->o->dry_run ? pack_used(w, &c->id) : pack_row(w, &c->id);
	case K_FILES: return content_kept(w, &c->id);
	case K_LISTS: return mvms_clists__pack_kept(w->st->db, &c->id, w->o->dry_run, w->cutoff);
	case K_MANIFEST: return mvms_gcrows_manifest_used(w->st->db, &c->id);
	case K_SIGNATURE: return signature_used(w, &c->id);
	default: return 0;
	}
}

/* Second hold of the lock: objects nothing references and that are still old go. */
static int batch_objects(sweep *w, cand *c, size_t n)
{
	size_t i;
	int error = 0, began = 0, rc;

	MVMS_TRY(w->o->dry_run ? mvms_db_exec(w->st->db, "BEGIN") : mvms_db_begin(w->st->db));
	began = 1;
	MVMS_TRY(cutoff_at(w, !w->o->dry_run));
	for (i = 0; i < n; i++) {
		if (c[i].done)
			continue;
		if (w->o->dry_run) {
			/* What the listing said, under the same rules: nothing is re-read. */
			rc = 0;
			if (c[i].kind == K_PACK_ROWS || !(rc = referenced(w, &c[i])))
				MVMS_TRY(report(w, &c[i]));
			MVMS_TRY(rc < 0 ? rc : 0);
			continue;
		}
		if ((rc = referenced(w, &c[i])) != 0) {
			MVMS_TRY(rc < 0 ? rc : 0);
			continue;
		}
		if ((rc = restat(w, &c[i])) == MVMS_ENOTFOUND) {
			mvms_error_clear();
			continue;
		}
		MVMS_TRY(rc);
		if (young(w, c[i].mtime)) {
			if (c[i].kind == K_PACK)
				w->res->kept_young++;
			else
				w->res->kept_objects++;
			continue;
		}
		MVMS_TRY(remove_one(w, &c[i]));
		MVMS_TRY(report(w, &c[i]));
	}
	MVMS_TRY(end_tx(w));
	began = 0;
done:
	if (began)
		mvms_db_rollback(w->st->db);
	return error;
}

int mvms_store_gc_ex(mvms_gc_result *out, mvms_store *st, const mvms_gc_options *opts)
{
	MVMS_TRANSPORT_CALL(st, gc, (out, st, opts));
	sweep w;
	size_t i, n;
	int error = 0, lock = -1;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	w.st = st;
	w.o = opts;
	w.res = out;
	if (opts->grace_seconds < 0)
		return mvms_error_set(MVMS_EINVALID, "gc: negative grace period");
	if ((mvms_backend_caps(st->be) & (MVMS_BACKEND_CAP_SCAN | MVMS_BACKEND_CAP_REMOVE)) !=
	    (MVMS_BACKEND_CAP_SCAN | MVMS_BACKEND_CAP_REMOVE))
		return mvms_error_set(MVMS_ENOTSUPPORTED, "gc: the %s backend cannot list objects with "
				      "the time they were written, so gc cannot tell old from new",
				      mvms_backend_name(st->be));
	/* Writers that lost a chunk to this run wait for its end before they start over. */
	if (!opts->dry_run)
		lock = mvms_lease__gc_begin(st);
	MVMS_TRY(drop_contents(&w));
	/* Before the listing, so that it sees the old packs unused and removes them. */
	MVMS_TRY(mvms_gc__repack(st, opts, w.cutoff, out));
	MVMS_TRY(scan_all(&w));
	/* Candidates were counted as kept or not by the listing; batches decide for real. */
	for (i = 0; i < w.n; i += n) {
		n = w.n - i < BATCH ? w.n - i : BATCH;
		if (!opts->dry_run)
			MVMS_TRY(batch_rows(&w, w.c + i, n));
		MVMS_TRY(batch_objects(&w, w.c + i, n));
	}
done:
	mvms_lease__gc_end(lock);
	free(w.c);
	free(w.listed);
	return error;
}
