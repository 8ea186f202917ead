/* SPDX-License-Identifier: MIT */
/*
 * bench/dag: how fast the version DAG answers questions at scale (issue 3, "Lineage").
 *
 *   bench/dag [--versions N] [--store DIR]
 *
 * What it measures: mvms_lineage_get (full ancestry of a version with a small, a medium
 * and the largest ancestry; depth-limited ancestry, depth 3 and 10, of a head deep in a
 * long chain; descendants of an early version) and mvms_merge_base (two branch heads of
 * one model, two heads of a criss-cross, two versions far apart on one long chain).
 * The bar of issue 3: each query < 10 ms at 100k versions, growing no faster than the
 * size of its answer.
 *
 * How:
 * - A store is made with mvms_store_init, then a realistic DAG of N versions is written
 *   straight into its SQLite tables (models, versions, version_parents, branches) in one
 *   transaction through prepared statements. Pushing N real versions would take far too
 *   long (hours at 100k) and the queries measured only read these four tables, so the
 *   versions have no files. The DAG: 50 models (15 roots, 35 fine-tunes whose first
 *   version has a parent in another model), picked at random with skewed weights, so
 *   their rows interleave as in a shared store; per model a long first-parent chain
 *   (main), branches forking off (mostly from the head of main, sometimes from an older
 *   version) that get commits, sync main in and merge back (merge versions have two
 *   parents), occasional criss-cross merges between two branches, and occasional merges
 *   of a fine-tune's base into it (more cross-model edges). Version ids are random
 *   64-hex strings, numbers run 1..n per model, the branches table holds main and the
 *   open branches of each model. The generator is seeded: every run builds the same DAG.
 * - Each query goes through the public API with a MODEL@vN spec (its resolution is part
 *   of the time; freeing the answer is not), once untimed to warm the caches, then
 *   repeated (at least 11 times, up to 300 or a time budget); the median and the p99 of
 *   the wall times (clock_gettime CLOCK_MONOTONIC) are printed. With fewer than 100
 *   repetitions the p99 is the slowest run.
 * - Scaling: the same generator builds a second store with N/10 versions and the same
 *   queries (same kinds of targets, chosen the same way) run there; a table compares the
 *   times and answer sizes at both N. A query passes when its time grows no more than
 *   1.5 times its answer's size (the 1.5 absorbs noise and cache effects).
 * - Reference rows (SQL only, not the library): the same ancestries and descendants
 *   fetched by one recursive CTE, to show what a set-based lineage would cost.
 *
 * Exit status: 0 when it ran (a missed bar says "no" in the table), 1 on an error,
 * 2 on a usage error. Without --store the stores live in a temporary directory that is
 * removed at the end; with --store DIR they are DIR/nN and kept.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mvms/store.h"
#include "mvms/dag.h"
#include "mvms/errors.h"
#include "store_int.h"

#define NMODELS 50
#define NROOTS 15
#define MAXBR 6
#define T0 1700000000

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench/dag: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die("out of memory");
	return p;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- random numbers: splitmix64, seeded, so that every run builds the same DAG ---- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rndf(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static size_t rndn(uint64_t *s, size_t n)
{
	return (size_t)(rnd(s) % n);
}

static void rnd_hex(uint64_t *s, char *out, size_t bytes)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	uint64_t x = 0;

	for (i = 0; i < bytes * 2; i++) {
		if (i % 16 == 0)
			x = rnd(s);
		out[i] = digits[x & 15];
		x >>= 4;
	}
	out[bytes * 2] = '\0';
}

/* ---- the DAG generator ---- */

typedef struct gbranch {
	int64_t head;
	int64_t commits;
	int name;
} gbranch;

typedef struct gmodel {
	char name[64];
	int family;
	int base;                /* the model it fine-tunes, -1 for a root */
	int64_t start;           /* the step from which it gets versions */
	double weight;
	int64_t n;               /* versions so far */
	int64_t *chain;          /* main's first-parent chain, oldest first; last is the head */
	size_t chain_len, chain_cap;
	gbranch br[MAXBR];       /* open branches */
	int nbr, next_branch;
	int64_t early_merged;    /* head of the first branch merged into main after v100, or 0 */
	int64_t abandoned;       /* a one-commit branch off main at v100, never merged, or 0 */
} gmodel;

typedef struct ccpair {
	int model;
	int64_t a, b;            /* the two merge versions of a criss-cross */
} ccpair;

typedef struct gen {
	sqlite3 *h;
	sqlite3_stmt *ins_v, *ins_e;
	uint64_t rng;
	int64_t n, target;       /* versions made (rows 1..n) and wanted */
	int *vmodel;             /* per row */
	int64_t *vnumber;
	int32_t *fplen;          /* length of the first-parent chain ending at the row */
	gmodel m[NMODELS];
	ccpair *cc;
	size_t ncc, cccap;
	int64_t merges, cross, edges;
} gen;

static const char *const families[] = {
	"llama", "mistral", "bert", "resnet", "whisper", "vit", "t5", "gpt2", "clip",
	"sdxl", "phi", "qwen", "gemma", "yolo", "wav2vec",
};

static void sql_ok(sqlite3 *h, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		die("%s: %s", what, sqlite3_errmsg(h));
}

static sqlite3_stmt *prep(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *s = NULL;

	sql_ok(h, sqlite3_prepare_v2(h, sql, -1, &s, NULL), sql);
	return s;
}

static void step_done(sqlite3 *h, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		die("%s: %s", what, sqlite3_errmsg(h));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static void chain_push(gmodel *M, int64_t row)
{
	if (M->chain_len == M->chain_cap) {
		size_t ncap = M->chain_cap ? M->chain_cap * 2 : 256;
		int64_t *t = realloc(M->chain, ncap * sizeof(*t));
		if (!t)
			die("out of memory");
		M->chain = t;
		M->chain_cap = ncap;
	}
	M->chain[M->chain_len++] = row;
}

static int64_t main_head(const gmodel *M)
{
	return M->chain[M->chain_len - 1];
}

/* Writes one version of model @mi with parents @par (first parent first). */
static int64_t emit(gen *g, int mi, const int64_t *par, int np, const char *msg)
{
	gmodel *M = &g->m[mi];
	int64_t row = ++g->n;
	char oid[65];
	int i;

	M->n++;
	g->vmodel[row] = mi;
	g->vnumber[row] = M->n;
	g->fplen[row] = np ? g->fplen[par[0]] + 1 : 1;
	rnd_hex(&g->rng, oid, 32);
	sqlite3_bind_int64(g->ins_v, 1, row);
	sqlite3_bind_text(g->ins_v, 2, oid, 64, SQLITE_TRANSIENT);
	sqlite3_bind_int64(g->ins_v, 3, mi + 1);
	sqlite3_bind_int64(g->ins_v, 4, M->n);
	sqlite3_bind_text(g->ins_v, 5, msg, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(g->ins_v, 6, "bench", -1, SQLITE_STATIC);
	sqlite3_bind_int64(g->ins_v, 7, T0 + row * 37);
	sqlite3_bind_int64(g->ins_v, 8, 2 + (int64_t)rndn(&g->rng, 12));
	sqlite3_bind_int64(g->ins_v, 9, (int64_t)(rnd(&g->rng) % (16ull << 30)));
	step_done(g->h, g->ins_v, "insert version");
	for (i = 0; i < np; i++) {
		sqlite3_bind_int64(g->ins_e, 1, row);
		sqlite3_bind_int64(g->ins_e, 2, i);
		sqlite3_bind_int64(g->ins_e, 3, par[i]);
		step_done(g->h, g->ins_e, "insert parent edge");
		g->edges++;
		if (g->vmodel[par[i]] != mi)
			g->cross++;
	}
	if (np > 1)
		g->merges++;
	return row;
}

/* A model with versions to serve as the base of a new fine-tune. */
static int pick_base(gen *g, int mi)
{
	int tries, j;

	for (tries = 0; tries < 100; tries++) {
		j = rndf(&g->rng) < 0.6 ? (int)rndn(&g->rng, NROOTS) : (int)rndn(&g->rng, (size_t)mi);
		if (j != mi && g->m[j].n >= 3)
			return j;
	}
	return 0;
}

/* One version of model @mi: a commit, a fork, a merge, a sync, a criss-cross... */
static void model_step(gen *g, int mi)
{
	gmodel *M = &g->m[mi];
	int64_t par[2];
	char msg[160];
	double r;
	int k, k2;

	if (M->n == 0) {
		if (mi >= NROOTS) {
			gmodel *B;
			M->base = pick_base(g, mi);
			B = &g->m[M->base];
			/* Usually the base's newest main version, sometimes an older one. */
			par[0] = rndf(&g->rng) < 0.7 ? main_head(B)
						     : B->chain[rndn(&g->rng, B->chain_len)];
			snprintf(msg, sizeof(msg), "fine-tune of %s@v%" PRId64 " on task %d", B->name,
				 g->vnumber[par[0]], mi);
			chain_push(M, emit(g, mi, par, 1, msg));
		} else {
			chain_push(M, emit(g, mi, NULL, 0, "initial import"));
		}
		return;
	}
	if (M->n == 100 && !M->abandoned && mi == 0) {
		/* An experiment dropped early: one commit off main that nothing ever merges. */
		par[0] = main_head(M);
		M->abandoned = emit(g, mi, par, 1, "abandoned experiment");
		return;
	}
	r = rndf(&g->rng);
	if (M->nbr < MAXBR && r < 0.05) {
		/* A new branch, mostly from the head of main, sometimes from an older version. */
		gbranch *b = &M->br[M->nbr++];
		size_t back = rndf(&g->rng) < 0.8 ? 0 : rndn(&g->rng, M->chain_len < 100 ? M->chain_len : 100);
		par[0] = M->chain[M->chain_len - 1 - back];
		b->name = ++M->next_branch;
		b->commits = 1;
		snprintf(msg, sizeof(msg), "exp-%d: first try, lr %.1e", b->name,
			 1e-5 * (double)(1 + rndn(&g->rng, 90)));
		b->head = emit(g, mi, par, 1, msg);
	} else if (r < 0.11 && M->nbr > 0) {
		k = (int)rndn(&g->rng, (size_t)M->nbr);
		gbranch *b = &M->br[k];
		if (b->commits >= 2 && rndf(&g->rng) < 0.75) {
			/* Merge the branch into main; usually the branch is then deleted. */
			par[0] = main_head(M);
			par[1] = b->head;
			if (!M->early_merged && M->n >= 100)
				M->early_merged = b->head;
			snprintf(msg, sizeof(msg), "merge branch 'exp-%d' into main", b->name);
			chain_push(M, emit(g, mi, par, 2, msg));
			if (rndf(&g->rng) < 0.85)
				M->br[k] = M->br[--M->nbr];
		} else if (b->commits >= 2) {
			/* Sync main into the branch. */
			par[0] = b->head;
			par[1] = main_head(M);
			snprintf(msg, sizeof(msg), "merge main into exp-%d", b->name);
			b->head = emit(g, mi, par, 2, msg);
			b->commits++;
		} else {
			snprintf(msg, sizeof(msg), "exp-%d: epoch %" PRId64, b->name, b->commits);
			par[0] = b->head;
			b->head = emit(g, mi, par, 1, msg);
			b->commits++;
		}
	} else if (r < 0.1125 && M->nbr >= 2 && g->n + 2 <= g->target) {
		/* Criss-cross: two branches merge each other at the same time. */
		ccpair *c;
		int64_t h1, h2;
		k = (int)rndn(&g->rng, (size_t)M->nbr);
		k2 = (k + 1 + (int)rndn(&g->rng, (size_t)M->nbr - 1)) % M->nbr;
		h1 = M->br[k].head;
		h2 = M->br[k2].head;
		par[0] = h1;
		par[1] = h2;
		snprintf(msg, sizeof(msg), "merge exp-%d into exp-%d", M->br[k2].name, M->br[k].name);
		M->br[k].head = emit(g, mi, par, 2, msg);
		par[0] = h2;
		par[1] = h1;
		snprintf(msg, sizeof(msg), "merge exp-%d into exp-%d", M->br[k].name, M->br[k2].name);
		M->br[k2].head = emit(g, mi, par, 2, msg);
		M->br[k].commits++;
		M->br[k2].commits++;
		if (g->ncc == g->cccap) {
			size_t ncap = g->cccap ? g->cccap * 2 : 64;
			ccpair *t = realloc(g->cc, ncap * sizeof(*t));
			if (!t)
				die("out of memory");
			g->cc = t;
			g->cccap = ncap;
		}
		c = &g->cc[g->ncc++];
		c->model = mi;
		c->a = M->br[k].head;
		c->b = M->br[k2].head;
	} else if (r < 0.118 && M->base >= 0) {
		/* Bring the base's newest version into the fine-tune: another cross-model edge. */
		gmodel *B = &g->m[M->base];
		par[0] = main_head(M);
		par[1] = main_head(B);
		snprintf(msg, sizeof(msg), "merge %s@v%" PRId64 " (new base)", B->name,
			 g->vnumber[par[1]]);
		chain_push(M, emit(g, mi, par, 2, msg));
	} else if (r < 0.60 || M->nbr == 0) {
		par[0] = main_head(M);
		snprintf(msg, sizeof(msg), "train: step %" PRId64 ", loss %.4f", M->n * 500,
			 2.0 / (1.0 + 0.001 * (double)M->n) + 0.01 * rndf(&g->rng));
		chain_push(M, emit(g, mi, par, 1, msg));
	} else {
		gbranch *b = &M->br[rndn(&g->rng, (size_t)M->nbr)];
		par[0] = b->head;
		snprintf(msg, sizeof(msg), "exp-%d: epoch %" PRId64 ", eval %.3f", b->name,
			 b->commits, rndf(&g->rng));
		b->head = emit(g, mi, par, 1, msg);
		b->commits++;
	}
}

static void gen_free(gen *g)
{
	int i;

	for (i = 0; i < NMODELS; i++)
		free(g->m[i].chain);
	free(g->vmodel);
	free(g->vnumber);
	free(g->fplen);
	free(g->cc);
}

/* Builds the DAG of @n versions into the (new, empty) store @st. */
static void build(gen *g, mvms_store *st, int64_t n)
{
	sqlite3_stmt *s;
	char uid[33], name[80];
	int i, b;
	int64_t step;

	memset(g, 0, sizeof(*g));
	g->h = mvms_db_handle(st->db);
	g->rng = 0x5eed2024u;
	g->target = n;
	g->vmodel = xcalloc((size_t)n + 1, sizeof(*g->vmodel));
	g->vnumber = xcalloc((size_t)n + 1, sizeof(*g->vnumber));
	g->fplen = xcalloc((size_t)n + 1, sizeof(*g->fplen));
	if (mvms_db_begin(st->db) < 0)
		die("begin: %s", mvms_error_last());
	s = prep(g->h, "INSERT INTO models(id, uid, name, description, created_at) VALUES (?,?,?,?,?)");
	for (i = 0; i < NMODELS; i++) {
		gmodel *M = &g->m[i];
		M->base = -1;
		M->family = i < NROOTS ? i : (int)rndn(&g->rng, NROOTS);
		if (i < NROOTS) {
			snprintf(M->name, sizeof(M->name), "%s-base", families[i]);
			M->start = (int64_t)i * n / 50;
		} else {
			snprintf(M->name, sizeof(M->name), "%s-ft-%02d", families[M->family], i);
			M->start = (int64_t)((0.05 + 0.8 * (double)(i - NROOTS) / (NMODELS - NROOTS)) *
					     (double)n);
		}
		M->weight = 1.0 / pow(1.0 + i, 0.7);
		rnd_hex(&g->rng, uid, 16);
		sqlite3_bind_int64(s, 1, i + 1);
		sqlite3_bind_text(s, 2, uid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, M->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 4, i < NROOTS ? "a base model" : "a fine-tune", -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, T0);
		step_done(g->h, s, "insert model");
	}
	sqlite3_finalize(s);
	g->ins_v = prep(g->h, "INSERT INTO versions(id, oid, model_id, number, message, author, "
			      "created_at, file_count, logical_bytes) VALUES (?,?,?,?,?,?,?,?,?)");
	g->ins_e = prep(g->h, "INSERT INTO version_parents(child, position, parent) VALUES (?,?,?)");
	for (step = 0; g->n < n; step++) {
		double tot = 0, x;
		for (i = 0; i < NMODELS; i++)
			if (g->m[i].start <= step)
				tot += g->m[i].weight;
		x = rndf(&g->rng) * tot;
		for (i = 0; i < NMODELS - 1; i++)
			if (g->m[i].start <= step && (x -= g->m[i].weight) < 0)
				break;
		if (g->m[i].start > step)
			i = 0;
		model_step(g, i);
	}
	sqlite3_finalize(g->ins_v);
	sqlite3_finalize(g->ins_e);
	s = prep(g->h, "INSERT INTO branches(model_id, name, version_id, updated_at) VALUES (?,?,?,?)");
	for (i = 0; i < NMODELS; i++) {
		gmodel *M = &g->m[i];
		if (!M->n)
			continue;
		for (b = -1; b < M->nbr; b++) {
			int64_t head = b < 0 ? main_head(M) : M->br[b].head;
			if (b < 0)
				snprintf(name, sizeof(name), "main");
			else
				snprintf(name, sizeof(name), "exp-%d", M->br[b].name);
			sqlite3_bind_int64(s, 1, i + 1);
			sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(s, 3, head);
			sqlite3_bind_int64(s, 4, T0 + head * 37);
			step_done(g->h, s, "insert branch");
		}
	}
	sqlite3_finalize(s);
	if (mvms_db_commit(st->db) < 0)
		die("commit: %s", mvms_error_last());
}

/* ---- the queries ---- */

enum { Q_LINEAGE, Q_MERGE_BASE, Q_REF };

#define NQ 16

typedef struct query {
	const char *name;
	int kind;
	int in_scaling;          /* part of the N/10 vs N comparison */
	char spec[160], spec2[160];
	int64_t row;             /* Q_REF: start row */
	int direction, depth;
	size_t nodes;            /* answer size */
	size_t walked;           /* nodes the implementation visits (merge-base: |anc(a)|+|anc(b)|) */
	double med, p99;
	int reps;
	int valid;
} query;

typedef struct bench {
	mvms_store *st;
	gen g;
	int64_t n;
	double build_ms;
	sqlite3_stmt *ref_up, *ref_down, *count_up;
	query q[NQ];
	int nq;
} bench;

static void spec_of(const gen *g, int64_t row, char *out, size_t size)
{
	snprintf(out, size, "%s@v%" PRId64, g->m[g->vmodel[row]].name, g->vnumber[row]);
}

static size_t ancestry_count(bench *b, int64_t row)
{
	size_t c = 0;

	sqlite3_bind_int64(b->count_up, 1, row);
	if (sqlite3_step(b->count_up) == SQLITE_ROW)
		c = (size_t)sqlite3_column_int64(b->count_up, 0);
	sqlite3_reset(b->count_up);
	return c;
}

/* The first position on model @mi's main chain whose ancestry reaches @want nodes. */
static int64_t chain_at_ancestry(bench *b, int mi, size_t want)
{
	const gmodel *M = &b->g.m[mi];
	size_t lo = 0, hi = M->chain_len - 1, mid;

	if (ancestry_count(b, M->chain[hi]) < want)
		return M->chain[hi];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ancestry_count(b, M->chain[mid]) >= want)
			hi = mid;
		else
			lo = mid + 1;
	}
	return M->chain[lo];
}

/* One run of @q: milliseconds; the answer size in *size. */
static double run_once(bench *b, query *q, size_t *size)
{
	double t0, t;
	int rc;

	if (q->kind == Q_LINEAGE) {
		mvms_lineage *l = NULL;
		t0 = now_ms();
		rc = mvms_lineage_get(&l, b->st, q->spec, q->direction, q->depth);
		t = now_ms() - t0;
		if (rc < 0)
			die("lineage %s: %s", q->spec, mvms_error_last());
		*size = l->node_count;
		mvms_lineage_free(l);
	} else if (q->kind == Q_MERGE_BASE) {
		mvms_version_info **list = NULL;
		size_t count = 0;
		t0 = now_ms();
		rc = mvms_merge_base(&list, &count, b->st, q->spec, q->spec2);
		t = now_ms() - t0;
		if (rc < 0)
			die("merge-base %s %s: %s", q->spec, q->spec2, mvms_error_last());
		*size = count;
		mvms_version_list_free(list, count);
	} else {
		/* The same nodes (with their edges) as lineage, from one recursive CTE. */
		sqlite3_stmt *s = q->direction == MVMS_LINEAGE_ANCESTORS ? b->ref_up : b->ref_down;
		size_t rows = 0;
		int64_t last = -1, nodes = 0;
		t0 = now_ms();
		sqlite3_bind_int64(s, 1, q->row);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			char *name = strdup((const char *)sqlite3_column_text(s, 2));
			char *message = strdup((const char *)sqlite3_column_text(s, 4));
			int64_t id = sqlite3_column_int64(s, 0);
			if (!name || !message)
				die("out of memory");
			if (id != last)
				nodes++;
			last = id;
			free(name);
			free(message);
			rows++;
		}
		sqlite3_reset(s);
		t = now_ms() - t0;
		sql_ok(mvms_db_handle(b->st->db), rc, "reference query");
		*size = (size_t)nodes;
	}
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(bench *b, query *q, double budget_ms)
{
	double times[300], spent = 0;
	size_t size = 0;
	int n = 0;

	run_once(b, q, &size); /* warm-up */
	q->nodes = size;
	while (n < 300 && (n < 11 || spent < budget_ms)) {
		times[n] = run_once(b, q, &size);
		spent += times[n++];
	}
	qsort(times, (size_t)n, sizeof(times[0]), cmp_double);
	q->med = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
	q->p99 = times[(int)ceil(0.99 * n) - 1];
	q->reps = n;
	q->valid = 1;
}

static query *add_query(bench *b, const char *name, int kind, int in_scaling)
{
	query *q = &b->q[b->nq++];

	memset(q, 0, sizeof(*q));
	q->name = name;
	q->kind = kind;
	q->in_scaling = in_scaling;
	q->depth = -1;
	q->direction = MVMS_LINEAGE_ANCESTORS;
	return q;
}

/* Picks the targets (the same kinds at any N) and defines the queries. */
static void define_queries(bench *b)
{
	gen *g = &b->g;
	const gmodel *M0 = &g->m[0];
	int64_t small, medium, longest = 0, mb_model = -1;
	query *q;
	size_t i;
	int mi, k;

	small = chain_at_ancestry(b, 0, 10);
	medium = chain_at_ancestry(b, 0, 1000);
	for (mi = 0; mi < NMODELS; mi++) {
		const gmodel *M = &g->m[mi];
		if (!M->n)
			continue;
		if (!longest || g->fplen[main_head(M)] > g->fplen[longest])
			longest = main_head(M);
		for (k = 0; k < M->nbr; k++)
			if (g->fplen[M->br[k].head] > g->fplen[longest])
				longest = M->br[k].head;
		if (mb_model < 0 && M->nbr >= 2)
			mb_model = mi;
	}

	q = add_query(b, "ancestors, small (~10)", Q_LINEAGE, 1);
	spec_of(g, small, q->spec, sizeof(q->spec));
	q = add_query(b, "ancestors, medium (~1000)", Q_LINEAGE, 1);
	spec_of(g, medium, q->spec, sizeof(q->spec));
	q = add_query(b, "ancestors, longest chain head", Q_LINEAGE, 1);
	spec_of(g, longest, q->spec, sizeof(q->spec));
	q = add_query(b, "ancestors depth 3, chain head", Q_LINEAGE, 1);
	spec_of(g, longest, q->spec, sizeof(q->spec));
	q->depth = 3;
	q = add_query(b, "ancestors depth 10, chain head", Q_LINEAGE, 1);
	spec_of(g, longest, q->spec, sizeof(q->spec));
	q->depth = 10;
	q = add_query(b, "descendants of an early version", Q_LINEAGE, 1);
	spec_of(g, M0->chain[M0->chain_len > 1 ? 1 : 0], q->spec, sizeof(q->spec));
	q->direction = MVMS_LINEAGE_DESCENDANTS;

	if (mb_model >= 0) {
		const gmodel *M = &g->m[mb_model];
		q = add_query(b, "merge-base, two branch heads", Q_MERGE_BASE, 1);
		spec_of(g, M->br[0].head, q->spec, sizeof(q->spec));
		spec_of(g, M->br[1].head, q->spec2, sizeof(q->spec2));
		q->walked = ancestry_count(b, M->br[0].head) + ancestry_count(b, M->br[1].head);
	}
	/* The newest criss-cross of the largest model (else any model) with two merge bases. */
	for (k = 0; k < 2; k++) {
		int found = 0, tries = 0;
		for (i = g->ncc; i-- > 0 && tries < 12;) {
			mvms_version_info **list = NULL;
			size_t count = 0;
			char sa[160], sb[160];
			if (k == 0 && g->cc[i].model != 0)
				continue;
			tries++;
			spec_of(g, g->cc[i].a, sa, sizeof(sa));
			spec_of(g, g->cc[i].b, sb, sizeof(sb));
			if (mvms_merge_base(&list, &count, b->st, sa, sb) < 0)
				die("merge-base %s %s: %s", sa, sb, mvms_error_last());
			mvms_version_list_free(list, count);
			if (count == 2) {
				q = add_query(b, "merge-base, criss-cross heads", Q_MERGE_BASE, 1);
				snprintf(q->spec, sizeof(q->spec), "%s", sa);
				snprintf(q->spec2, sizeof(q->spec2), "%s", sb);
				q->walked = ancestry_count(b, g->cc[i].a) + ancestry_count(b, g->cc[i].b);
				found = 1;
				break;
			}
		}
		if (found)
			break;
	}
	q = add_query(b, "merge-base, far apart on a chain", Q_MERGE_BASE, 1);
	spec_of(g, M0->chain[M0->chain_len / 10], q->spec, sizeof(q->spec));
	spec_of(g, M0->chain[M0->chain_len * 9 / 10], q->spec2, sizeof(q->spec2));
	q->walked = ancestry_count(b, M0->chain[M0->chain_len / 10]) +
		    ancestry_count(b, M0->chain[M0->chain_len * 9 / 10]);

	if (M0->early_merged) {
		/* An ancestor through a merge's second parent: no first-parent shortcut, the walk
		 * goes down from main's head to that version's generation. */
		q = add_query(b, "merge-base, old merged branch", Q_MERGE_BASE, 1);
		spec_of(g, M0->early_merged, q->spec, sizeof(q->spec));
		spec_of(g, M0->chain[M0->chain_len - 1], q->spec2, sizeof(q->spec2));
		q->walked = ancestry_count(b, M0->early_merged) +
			    ancestry_count(b, M0->chain[M0->chain_len - 1]);
	}

	if (M0->abandoned) {
		/* Neither is an ancestor of the other and their fork is far back: the walk goes
		 * down from main's head to the fork's generation (no shortcut applies). */
		q = add_query(b, "merge-base, abandoned branch", Q_MERGE_BASE, 1);
		spec_of(g, M0->abandoned, q->spec, sizeof(q->spec));
		spec_of(g, M0->chain[M0->chain_len - 1], q->spec2, sizeof(q->spec2));
		q->walked = ancestry_count(b, M0->abandoned) +
			    ancestry_count(b, M0->chain[M0->chain_len - 1]);
	}

	q = add_query(b, "ref: CTE ancestors, medium", Q_REF, 0);
	q->row = medium;
	q = add_query(b, "ref: CTE ancestors, longest", Q_REF, 0);
	q->row = longest;
	q = add_query(b, "ref: CTE descendants, early", Q_REF, 0);
	q->row = M0->chain[M0->chain_len > 1 ? 1 : 0];
	q->direction = MVMS_LINEAGE_DESCENDANTS;
}

static void bench_run(bench *b, const char *dir, int64_t n, double budget_ms)
{
	sqlite3 *h;
	double t0;
	int i, error;

	memset(b, 0, sizeof(*b));
	b->n = n;
	if ((error = mvms_store_init(&b->st, dir, NULL)) < 0)
		die("init %s: %s", dir, mvms_error_last());
	t0 = now_ms();
	build(&b->g, b->st, n);
	b->build_ms = now_ms() - t0;
	h = mvms_db_handle(b->st->db);
	b->count_up = prep(h, "WITH RECURSIVE a(id) AS (SELECT ?1 UNION SELECT vp.parent FROM "
			      "version_parents vp JOIN a ON vp.child = a.id) SELECT count(*) FROM a");
	b->ref_up = prep(h,
		"WITH RECURSIVE a(id) AS (SELECT ?1 UNION SELECT vp.parent FROM version_parents vp "
		"JOIN a ON vp.child = a.id) "
		"SELECT v.id, v.oid, m.name, v.number, v.message, v.created_at, e.position, e.parent "
		"FROM a JOIN versions v ON v.id = a.id JOIN models m ON m.id = v.model_id "
		"LEFT JOIN version_parents e ON e.child = a.id");
	b->ref_down = prep(h,
		"WITH RECURSIVE d(id) AS (SELECT ?1 UNION SELECT vp.child FROM version_parents vp "
		"JOIN d ON vp.parent = d.id) "
		"SELECT v.id, v.oid, m.name, v.number, v.message, v.created_at, e.position, e.child "
		"FROM d JOIN versions v ON v.id = d.id JOIN models m ON m.id = v.model_id "
		"LEFT JOIN version_parents e ON e.parent = d.id");
	define_queries(b);
	for (i = 0; i < b->nq; i++) {
		query *q = &b->q[i];
		measure(b, q, budget_ms);
		if (q->kind != Q_MERGE_BASE)
			q->walked = q->nodes;
	}
	sqlite3_finalize(b->count_up);
	sqlite3_finalize(b->ref_up);
	sqlite3_finalize(b->ref_down);
}

static void bench_done(bench *b)
{
	mvms_store_free(b->st);
	gen_free(&b->g);
}

static int min_reps(const bench *b)
{
	int i, r = 0;

	for (i = 0; i < b->nq; i++)
		if (!r || b->q[i].reps < r)
			r = b->q[i].reps;
	return r;
}

static int max_reps(const bench *b)
{
	int i, r = 0;

	for (i = 0; i < b->nq; i++)
		if (b->q[i].reps > r)
			r = b->q[i].reps;
	return r;
}

static void print_header(const bench *b)
{
	const gen *g = &b->g;
	int used = 0, i, longest = 0, biggest = 0;
	size_t nbr = 0;

	for (i = 0; i < NMODELS; i++) {
		used += g->m[i].n > 0;
		nbr += (size_t)g->m[i].nbr;
		if (g->m[i].n > g->m[biggest].n)
			biggest = i;
	}
	for (i = 1; i <= g->n; i++)
		if (g->fplen[i] > longest)
			longest = g->fplen[i];
	printf("N=%" PRId64 ": %d models, %" PRId64 " parent edges, %" PRId64 " merges, %zu "
	       "criss-crosses, %" PRId64 " cross-model edges, %zu open branches, largest model "
	       "%s (%" PRId64 " versions), longest first-parent chain %d; built in %.1f s\n",
	       b->n, used, g->edges, g->merges, g->ncc, g->cross, nbr, g->m[biggest].name,
	       g->m[biggest].n, longest, b->build_ms / 1e3);
}

static void print_table(const bench *b)
{
	int i;

	printf("%-33s %7s %7s %10s %9s %8s %8s\n", "query", "nodes", "walked", "median ms",
	       "p99 ms", "us/node", "< 10 ms");
	for (i = 0; i < b->nq; i++) {
		const query *q = &b->q[i];
		if (q->kind == Q_REF)
			continue;
		printf("%-33s %7zu %7zu %10.3f %9.3f %8.2f %8s\n", q->name, q->nodes, q->walked,
		       q->med, q->p99, q->med * 1e3 / (double)(q->walked ? q->walked : 1),
		       q->med < 10.0 ? "yes" : "no");
	}
	printf("reference, SQL only (not the library):\n");
	for (i = 0; i < b->nq; i++) {
		const query *q = &b->q[i];
		if (q->kind != Q_REF)
			continue;
		printf("%-33s %7zu %7zu %10.3f %9.3f %8.2f %8s\n", q->name, q->nodes, q->walked,
		       q->med, q->p99, q->med * 1e3 / (double)(q->walked ? q->walked : 1),
		       q->med < 10.0 ? "yes" : "no");
	}
}

static void print_targets(const bench *b)
{
	int i;

	printf("targets at N=%" PRId64 ":", b->n);
	for (i = 0; i < b->nq; i++) {
		const query *q = &b->q[i];
		if (q->kind == Q_REF)
			continue;
		printf("%s %s%s%s", i ? ";" : "", q->spec, q->kind == Q_MERGE_BASE ? " " : "",
		       q->kind == Q_MERGE_BASE ? q->spec2 : "");
		if (q->depth >= 0)
			printf(" --depth %d", q->depth);
		if (q->direction == MVMS_LINEAGE_DESCENDANTS)
			printf(" --descendants");
	}
	printf("\n");
}

static void print_scaling(const bench *lo, const bench *hi)
{
	int i, j;

	printf("%-33s %8s %10s %8s %10s %8s %8s %6s\n", "query", "nodes@lo", "ms@lo", "nodes@hi",
	       "ms@hi", "x time", "x nodes", "flat");
	for (i = 0; i < hi->nq; i++) {
		const query *h = &hi->q[i];
		const query *l = NULL;
		double xt, xn;
		if (!h->in_scaling)
			continue;
		for (j = 0; j < lo->nq; j++)
			if (strcmp(lo->q[j].name, h->name) == 0)
				l = &lo->q[j];
		if (!l) {
			printf("%-33s %8s (no such target at N=%" PRId64 ")\n", h->name, "-", lo->n);
			continue;
		}
		xt = h->med / l->med;
		xn = (double)h->nodes / (double)(l->nodes ? l->nodes : 1);
		printf("%-33s %8zu %10.3f %8zu %10.3f %8.2f %8.2f %6s\n", h->name, l->nodes, l->med,
		       h->nodes, h->med, xt, xn, xt <= 1.5 * (xn > 1 ? xn : 1) ? "yes" : "no");
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench/dag [--versions N] [--store DIR]\n"
		   "  --versions N  versions in the large store (default 100000, at least 1000);\n"
		   "                a second store with N/10 is built for the scaling check\n"
		   "  --store DIR   build the stores in DIR/nN and keep them (default: a temporary\n"
		   "                directory, removed at the end)\n");
}

int main(int argc, char **argv)
{
	int64_t n = 100000, n_lo;
	const char *store = NULL;
	char base[4096], dir_hi[4200], dir_lo[4200];
	static bench hi, lo;
	double t0 = now_ms();
	int i, tmp = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--versions") == 0 && i + 1 < argc) {
			char *end;
			n = strtoll(argv[++i], &end, 10);
			if (*end || n < 1000 || n > 100000000) {
				usage(stderr);
				return 2;
			}
		} else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
			store = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	n_lo = n / 10;
	if (store) {
		if (mkdir(store, 0777) != 0 && errno != EEXIST)
			die("mkdir %s: %s", store, strerror(errno));
		snprintf(base, sizeof(base), "%s", store);
	} else {
		const char *t = getenv("TMPDIR");
		snprintf(base, sizeof(base), "%s/mvms-bench-dag-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(base))
			die("mkdtemp %s: %s", base, strerror(errno));
		tmp = 1;
	}
	snprintf(dir_hi, sizeof(dir_hi), "%s/n%" PRId64, base, n);
	snprintf(dir_lo, sizeof(dir_lo), "%s/n%" PRId64, base, n_lo);

	printf("bench/dag: lineage and merge-base over a synthetic DAG (issue 3: each query "
	       "< 10 ms at 100k versions, growing no faster than its answer)\n");
	bench_run(&lo, dir_lo, n_lo, 600.0);
	bench_run(&hi, dir_hi, n, 2500.0);
	print_header(&hi);
	print_table(&hi);
	printf("note: warm cache, median and p99 of %d-%d runs per query (p99 = slowest run below "
	       "100 runs); time includes resolving MODEL@vN, not freeing the answer. nodes = "
	       "answer size (merge-base: number of merge bases); walked = nodes a full walk "
	       "would visit (lineage: the answer; merge-base: |ancestors(a)| + |ancestors(b)|; "
	       "the generation-bounded walk stops far earlier, and the index answers ancestors "
	       "on a first-parent line or one merge away, and forks of single-parent lines, "
	       "without a walk); us/node = median / walked.\n",
	       min_reps(&hi), max_reps(&hi));
	print_targets(&hi);
	{
		/* What a fresh handle pays: its first DAG question runs on SQL; the second builds the
		 * in-memory index (once per handle and per change of the database), then answers. */
		mvms_store *fresh = NULL;
		mvms_lineage *l = NULL;
		double f0, f1, f2;
		if (mvms_store_open(&fresh, dir_hi, 0) == 0) {
			f0 = now_ms();
			if (mvms_lineage_get(&l, fresh, hi.q[2].spec, MVMS_LINEAGE_ANCESTORS, -1) == 0)
				mvms_lineage_free(l);
			f1 = now_ms();
			if (mvms_lineage_get(&l, fresh, hi.q[2].spec, MVMS_LINEAGE_ANCESTORS, -1) == 0)
				mvms_lineage_free(l);
			f2 = now_ms();
			printf("fresh handle: first query (SQL path) %.3f ms; second query, building the "
			       "in-memory DAG index of %" PRId64 " versions first, %.1f ms\n", f1 - f0, n,
			       f2 - f1);
			mvms_store_free(fresh);
		}
	}
	printf("\nscaling: the same queries on a store of N/10 versions (lo) and of N (hi)\n");
	print_header(&lo);
	print_scaling(&lo, &hi);
	printf("note: flat = yes when the time grows no more than 1.5x the answer size "
	       "(x time <= 1.5 * max(1, x nodes)).\n");
	bench_done(&lo);
	bench_done(&hi);
	if (tmp && nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench/dag: could not remove %s\n", base);
	printf("total time %.1f s\n", (now_ms() - t0) / 1e3);
	return 0;
}
