/* SPDX-License-Identifier: MIT */
/*
 * An in-memory index of the version DAG for one store handle: every version's row, model,
 * number, id, message, time and generation, and its parent and child edges in compressed
 * arrays. Lineage and merge-base walks then cost memory reads instead of SQL statements per
 * version. It is built on the second DAG question a handle is asked (a one-shot command
 * keeps the SQL path and pays nothing), and rebuilt when the database changed since
 * (PRAGMA data_version for other connections, total_changes for this one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_int.h"
#include "dag_int.h"

struct mvms_dagcache {
	int64_t data_version, total_changes;
	int64_t max_row;
	int32_t *idx;            /* row id -> node, -1 for none */
	size_t n;
	int64_t *row, *gen, *number, *created;
	int64_t *deleted;        /* deleted_at of a tombstone, else 0 */
	uint32_t *model;         /* index into names */
	char (*oid)[MVMS_OID_HEXSZ + 1];
	char **message;
	char **names;
	size_t nnames;
	uint32_t *par_off, *par, *ch_off, *ch;
	int *par_pos, *ch_pos;
	/* Pre- and post-order numbers (from 1) of a walk of the first-parent forest: x is a
	 * first-parent ancestor of y when y's interval nests in x's. 0: not reached (a cycle
	 * in a damaged database). */
	uint32_t *tin, *tout;
	/* Every edge into a merge from one of its other parents (not the first), as (tin of
	 * that parent, the merge), sorted: "a reaches b through one merge" is then a range of
	 * this array (the parents inside a's first-parent subtree) and an O(1) test each. */
	struct merge_edge { uint32_t tin, merge; } *medges;
	size_t nmedges;
	/* Scratch of a lineage walk: node -> its index in the answer, valid where stamp equals
	 * the walk's epoch, so a walk never clears a store-sized array (a handle walks one
	 * lineage at a time). */
	struct walk_mark { uint32_t stamp, slot; } *mark;
	uint32_t epoch;
};

static int64_t pragma_i64(mvms_store *st, const char *sql)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	int64_t v = -1;

	if (s && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	if (s)
		sqlite3_reset(s);
	return v;
}

static void cache_free(mvms_dagcache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; c->message && i < c->n; i++)
		free(c->message[i]);
	for (i = 0; c->names && i < c->nnames; i++)
		free(c->names[i]);
	free(c->idx);
	free(c->row);
	free(c->gen);
	free(c->number);
	free(c->created);
	free(c->deleted);
	free(c->model);
	free(c->oid);
	free(c->message);
	free(c->names);
	free(c->par_off);
	free(c->par);
	free(c->par_pos);
	free(c->ch_off);
	free(c->ch);
	free(c->ch_pos);
	free(c->tin);
	free(c->tout);
	free(c->medges);
	free(c->mark);
	free(c);
}

void mvms_dag__cache_free(mvms_dagcache *c)
{
	cache_free(c);
}

static int medge_cmp(const void *pa, const void *pb)
{
	const struct merge_edge *a = pa, *b = pb;

	return a->tin < b->tin ? -1 : a->tin > b->tin;
}

/* Number the first-parent forest depth first, iteratively (chains are 100k deep). */
static int first_parent_intervals(mvms_dagcache *c)
{
	uint32_t *stack = malloc((c->n + 1) * sizeof(*stack)), *it = malloc((c->n + 1) * sizeof(*it));
	uint32_t t = 0;
	size_t r, sp;
	int error = 0;

	c->tin = calloc(c->n + 1, sizeof(*c->tin));
	c->tout = calloc(c->n + 1, sizeof(*c->tout));
	if (!stack || !it || !c->tin || !c->tout) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (r = 0; r < c->n; r++) {
		if (c->par_off[r + 1] != c->par_off[r])
			continue;
		sp = 0;
		stack[sp++] = (uint32_t)r;
		c->tin[r] = ++t;
		it[r] = c->ch_off[r];
		while (sp) {
			uint32_t u = stack[sp - 1], v;
			if (it[u] == c->ch_off[u + 1]) {
				c->tout[u] = ++t;
				sp--;
				continue;
			}
			v = c->ch[it[u]++];
			/* par[] of a child is sorted by position: its first entry is the first parent. */
			if (c->tin[v] || c->par[c->par_off[v]] != u)
				continue;
			c->tin[v] = ++t;
			it[v] = c->ch_off[v];
			stack[sp++] = v;
		}
	}
	/* The side edges of merges, by the pre-order number of the parent they come from. */
	c->medges = malloc((c->par_off[c->n] + 1) * sizeof(*c->medges));
	if (!c->medges) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (r = 0; r < c->n; r++) {
		uint32_t k;
		for (k = c->par_off[r] + 1; k < c->par_off[r + 1]; k++)
			if (c->tin[c->par[k]]) {
				c->medges[c->nmedges].tin = c->tin[c->par[k]];
				c->medges[c->nmedges].merge = (uint32_t)r;
				c->nmedges++;
			}
	}
	qsort(c->medges, c->nmedges, sizeof(*c->medges), medge_cmp);
done:
	free(stack);
	free(it);
	return error;
}

/* The arrays of a cache for @nv versions, @ne parent edges and model ids up to @max_model. */
static int alloc_arrays(mvms_dagcache *c, int64_t max_model, int64_t nv, int64_t ne)
{
	size_t i;

	c->names = calloc((size_t)max_model + 1, sizeof(char *));
	c->idx = malloc((size_t)(c->max_row + 1) * sizeof(*c->idx));
	c->row = malloc(((size_t)nv + 1) * sizeof(int64_t));
	c->gen = malloc(((size_t)nv + 1) * sizeof(int64_t));
	c->number = malloc(((size_t)nv + 1) * sizeof(int64_t));
	c->created = malloc(((size_t)nv + 1) * sizeof(int64_t));
	c->deleted = malloc(((size_t)nv + 1) * sizeof(int64_t));
	c->model = malloc(((size_t)nv + 1) * sizeof(uint32_t));
	c->oid = malloc(((size_t)nv + 1) * sizeof(*c->oid));
	c->message = calloc((size_t)nv + 1, sizeof(char *));
	c->par_off = calloc((size_t)nv + 2, sizeof(uint32_t));
	c->ch_off = calloc((size_t)nv + 2, sizeof(uint32_t));
	c->par = malloc(((size_t)ne + 1) * sizeof(uint32_t));
	c->par_pos = malloc(((size_t)ne + 1) * sizeof(int));
	c->ch = malloc(((size_t)ne + 1) * sizeof(uint32_t));
	c->ch_pos = malloc(((size_t)ne + 1) * sizeof(int));
	if (!c->names || !c->idx || !c->row || !c->gen || !c->number || !c->created || !c->deleted ||
	    !c->model || !c->oid || !c->message || !c->par_off || !c->ch_off || !c->par ||
	    !c->par_pos || !c->ch || !c->ch_pos)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	for (i = 0; i <= (size_t)c->max_row; i++)
		c->idx[i] = -1;
	return 0;
}

/* Model names, and @model_idx: model row id -> index in c->names (-1 for none). */
static int load_models(mvms_dagcache *c, int32_t *model_idx, mvms_store *st, int64_t max_model)
{
	sqlite3 *h = mvms_db_handle(st->db);
	sqlite3_stmt *s = NULL;
	size_t i;

	for (i = 0; i <= (size_t)max_model; i++)
		model_idx[i] = -1;
	if (sqlite3_prepare_v2(h, "SELECT id, name FROM models", -1, &s, NULL) != SQLITE_OK)
		return mvms_db_error(st->db, sqlite3_errcode(h), "dag: load");
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		if (id < 0 || id > max_model || !(c->names[c->nnames] = mvms_db_column_strdup(s, 1)))
			continue;
		model_idx[id] = (int32_t)c->nnames++;
	}
	sqlite3_finalize(s);
	return 0;
}

/* One node per version row (at most @nv), in row order. */
static int load_versions(mvms_dagcache *c, mvms_store *st, const int32_t *model_idx,
			 int64_t max_model, int64_t nv)
{
	sqlite3 *h = mvms_db_handle(st->db);
	sqlite3_stmt *s = NULL;
	size_t i;
	int error = 0;

	if (sqlite3_prepare_v2(h, "SELECT id, oid, model_id, number, message, created_at, generation, "
				  "deleted_at FROM versions ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return mvms_db_error(st->db, sqlite3_errcode(h), "dag: load");
	while (sqlite3_step(s) == SQLITE_ROW && c->n < (size_t)nv) {
		int64_t id = sqlite3_column_int64(s, 0), m = sqlite3_column_int64(s, 2);
		const unsigned char *oid = sqlite3_column_text(s, 1);
		if (id < 0 || id > c->max_row || m < 0 || m > max_model || model_idx[m] < 0)
			continue;
		i = c->n;
		c->idx[id] = (int32_t)i;
		c->row[i] = id;
		snprintf(c->oid[i], sizeof(c->oid[i]), "%s", oid ? (const char *)oid : "");
		c->model[i] = (uint32_t)model_idx[m];
		c->number[i] = sqlite3_column_int64(s, 3);
		c->message[i] = mvms_db_column_strdup(s, 4);
		c->created[i] = sqlite3_column_int64(s, 5);
		c->gen[i] = sqlite3_column_int64(s, 6);
		c->deleted[i] = sqlite3_column_int64(s, 7);
		MVMS_CHECK_ALLOC(c->message[i], error);
		c->n++;
	}
done:
	sqlite3_finalize(s);
	return error;
}

/* Parent edges sorted by child give the parent lists and the per-node counts; *@out_k is the
 * number of edges kept (at most @ne). c->ch holds each edge's child for index_children. */
static int load_edges(size_t *out_k, mvms_dagcache *c, mvms_store *st, int64_t ne)
{
	sqlite3 *h = mvms_db_handle(st->db);
	sqlite3_stmt *s = NULL;
	size_t k = 0;

	*out_k = 0;
	if (sqlite3_prepare_v2(h, "SELECT child, parent, position FROM version_parents "
				  "ORDER BY child, position", -1, &s, NULL) != SQLITE_OK)
		return mvms_db_error(st->db, sqlite3_errcode(h), "dag: load");
	while (sqlite3_step(s) == SQLITE_ROW && k < (size_t)ne) {
		int64_t ch = sqlite3_column_int64(s, 0), pa = sqlite3_column_int64(s, 1);
		if (ch < 0 || ch > c->max_row || pa < 0 || pa > c->max_row || c->idx[ch] < 0 ||
		    c->idx[pa] < 0)
			continue;
		c->par_off[c->idx[ch] + 1]++;
		c->ch_off[c->idx[pa] + 1]++;
		c->par[k] = (uint32_t)c->idx[pa];
		c->par_pos[k] = sqlite3_column_int(s, 2);
		c->ch[k] = (uint32_t)c->idx[ch];  /* child of each edge, for the second pass */
		k++;
	}
	sqlite3_finalize(s);
	*out_k = k;
	return 0;
}

/* Prefix sums of the counts, then a counting sort of the @k edges by parent: children lists. */
static int index_children(mvms_dagcache *c, size_t k)
{
	/* Edges came sorted by child, so par[] is already grouped; fill children. */
	uint32_t *fill = NULL, *child_of = c->ch, *ch = NULL;
	int *pos = NULL;
	size_t i;

	for (i = 0; i < c->n; i++) {
		c->par_off[i + 1] += c->par_off[i];
		c->ch_off[i + 1] += c->ch_off[i];
	}
	fill = calloc(c->n + 1, sizeof(*fill));
	ch = malloc((k + 1) * sizeof(*ch));
	pos = malloc((k + 1) * sizeof(*pos));
	if (!fill || !ch || !pos) {
		free(fill);
		free(ch);
		free(pos);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	for (i = 0; i < k; i++) {
		uint32_t p = c->par[i];
		uint32_t slot = c->ch_off[p] + fill[p]++;
		ch[slot] = child_of[i];
		pos[slot] = c->par_pos[i];
	}
	free(fill);
	free(c->ch);
	free(c->ch_pos);
	c->ch = ch;
	c->ch_pos = pos;
	return 0;
}

static int build(mvms_dagcache **out, mvms_store *st)
{
	mvms_dagcache *c = NULL;
	sqlite3 *h = mvms_db_handle(st->db);
	int64_t max_model = pragma_i64(st, "SELECT coalesce(max(id), 0) FROM models");
	int64_t nv = pragma_i64(st, "SELECT count(*) FROM versions");
	int64_t ne = pragma_i64(st, "SELECT count(*) FROM version_parents");
	int32_t *model_idx = NULL;
	size_t k;
	int error = 0;

	*out = NULL;
	if (max_model < 0 || nv < 0 || ne < 0) {
		error = mvms_error_set(MVMS_ERROR, "dag: cannot count versions");
		goto done;
	}
	c = calloc(1, sizeof(*c));
	MVMS_CHECK_ALLOC(c, error);
	c->data_version = pragma_i64(st, "PRAGMA data_version");
	c->total_changes = sqlite3_total_changes64(h);
	c->max_row = pragma_i64(st, "SELECT coalesce(max(id), 0) FROM versions");
	model_idx = malloc((size_t)(max_model + 1) * sizeof(*model_idx));
	MVMS_CHECK_ALLOC(model_idx, error);
	MVMS_TRY(alloc_arrays(c, max_model, nv, ne));
	MVMS_TRY(load_models(c, model_idx, st, max_model));
	MVMS_TRY(load_versions(c, st, model_idx, max_model, nv));
	MVMS_TRY(load_edges(&k, c, st, ne));
	MVMS_TRY(index_children(c, k));
	MVMS_TRY(first_parent_intervals(c));
	*out = c;
	c = NULL;
done:
	free(model_idx);
	cache_free(c);
	return error;
}

mvms_dagcache *mvms_dag__cache(mvms_store *st)
{
	mvms_dagcache *c = st->dag;

	if (c && c->data_version == pragma_i64(st, "PRAGMA data_version") &&
	    c->total_changes == sqlite3_total_changes64(mvms_db_handle(st->db)))
		return c;
	cache_free(c);
	st->dag = NULL;
	/* A handle asked once keeps the SQL path: a one-shot command would pay for nothing. */
	if (st->dag_queries++ < 1)
		return NULL;
	if (build(&st->dag, st) < 0) {
		mvms_error_clear();
		st->dag = NULL;
	}
	return st->dag;
}

int mvms_dag__node(const mvms_dagcache *c, int64_t row)
{
	return row >= 0 && row <= c->max_row ? c->idx[row] : -1;
}

int64_t mvms_dag__row(const mvms_dagcache *c, int node) { return c->row[node]; }
int64_t mvms_dag__gen(const mvms_dagcache *c, int node) { return c->gen[node]; }

size_t mvms_dag__parents(const mvms_dagcache *c, int node, const uint32_t **list, const int **pos)
{
	*list = c->par + c->par_off[node];
	*pos = c->par_pos + c->par_off[node];
	return c->par_off[node + 1] - c->par_off[node];
}

size_t mvms_dag__children(const mvms_dagcache *c, int node, const uint32_t **list, const int **pos)
{
	*list = c->ch + c->ch_off[node];
	*pos = c->ch_pos + c->ch_off[node];
	return c->ch_off[node + 1] - c->ch_off[node];
}

int mvms_dag__fill(mvms_lineage_node *out, const mvms_dagcache *c, int node, int depth)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->id, c->oid[node], sizeof(out->id));
	out->model = strdup(c->names[c->model[node]]);
	out->message = strdup(c->message[node]);
	out->number = c->number[node];
	out->created_at = c->created[node];
	out->deleted_at = c->deleted[node];
	out->depth = depth;
	return out->model && out->message ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

int mvms_dag__first_parent_ancestor(const mvms_dagcache *c, int x, int y)
{
	return c->tin[x] && c->tin[y] && c->tin[x] <= c->tin[y] && c->tout[y] <= c->tout[x];
}

/* The first side edge whose parent lies in @x's first-parent subtree, if any: the side
 * edges leaving that subtree are those from here while their tin is below tout[x]. */
static size_t side_edges_from(const mvms_dagcache *c, int x)
{
	size_t lo = 0, hi = c->nmedges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->medges[mid].tin < c->tin[x])
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int mvms_dag__one_merge_ancestor(const mvms_dagcache *c, int x, int y)
{
	size_t i, seen;

	if (!c->tin[x] || !c->tin[y])
		return 0;
	/* A bounded look: past this many side edges the caller's walk is the better bet. */
	for (i = side_edges_from(c, x), seen = 0;
	     i < c->nmedges && c->medges[i].tin < c->tout[x] && seen < 4096; i++, seen++)
		if (mvms_dag__first_parent_ancestor(c, (int)c->medges[i].merge, y))
			return 1;
	return 0;
}

/* 1 when some merge takes a side parent from @x's first-parent subtree: then @x may have
 * descendants outside that subtree. */
static int side_edge_out(const mvms_dagcache *c, int x)
{
	size_t i = side_edges_from(c, x);

	return i < c->nmedges && c->medges[i].tin < c->tout[x];
}

int mvms_dag__fork_base(const mvms_dagcache *c, int x, int y, int *base)
{
	int p = x, steps;

	if (!c->tin[x] || !c->tin[y])
		return 0;
	for (steps = 0; steps < 4096; steps++) {
		if (mvms_dag__first_parent_ancestor(c, p, y)) {
			*base = p;
			return 1;
		}
		/* p is no ancestor of y only if all its descendants are in its first-parent
		 * subtree (y is not), and x's ancestry gains nothing besides p only if p has one
		 * parent. */
		if (c->par_off[p + 1] - c->par_off[p] != 1 || side_edge_out(c, p))
			return 0;
		p = (int)c->par[c->par_off[p]];
		if (!c->tin[p])
			return 0;
	}
	return 0;
}

int mvms_dag__walk_begin(uint32_t *epoch, mvms_dagcache *c)
{
	if (!c->mark && !(c->mark = calloc(c->n + 1, sizeof(*c->mark))))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if (++c->epoch == 0) {
		memset(c->mark, 0, (c->n + 1) * sizeof(*c->mark));
		c->epoch = 1;
	}
	*epoch = c->epoch;
	return 0;
}

int mvms_dag__seen(size_t *slot, const mvms_dagcache *c, uint32_t epoch, int node)
{
	if (c->mark[node].stamp != epoch)
		return 0;
	*slot = c->mark[node].slot;
	return 1;
}

void mvms_dag__mark(mvms_dagcache *c, uint32_t epoch, int node, size_t slot)
{
	c->mark[node].stamp = epoch;
	c->mark[node].slot = (uint32_t)slot;
}

size_t mvms_dag__count(const mvms_dagcache *c)
{
	return c->n;
}
