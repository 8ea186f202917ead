/* SPDX-License-Identifier: MIT */
/*
 * Lineage and merge bases over the version DAG (table version_parents, indexed both ways).
 * Lineage is a breadth-first walk with one indexed query per version visited, so its cost
 * grows with the answer, not with the store, and depth limits are exact. Merge bases are
 * recursive CTEs. Nothing here writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "mvms/dag.h"

/* int64 row id -> node index, open addressing. */
typedef struct row_map {
	int64_t *keys;
	size_t *vals;
	size_t cap, count;
} row_map;

static size_t rm_slot(int64_t k, size_t cap)
{
	uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 20) & (cap - 1);
}

static int rm_get(const row_map *m, int64_t k, size_t *v)
{
	size_t i;

	if (!m->cap)
		return 0;
	for (i = rm_slot(k, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k) {
			*v = m->vals[i];
			return 1;
		}
	return 0;
}

/* Row ids are > 0, so 0 marks a free slot. */
static int rm_put(row_map *m, int64_t k, size_t v)
{
	size_t i;

	if ((m->count + 1) * 2 > m->cap) {
		row_map b = { NULL, NULL, m->cap ? m->cap * 2 : 256, 0 };
		b.keys = calloc(b.cap, sizeof(*b.keys));
		b.vals = calloc(b.cap, sizeof(*b.vals));
		if (!b.keys || !b.vals) {
			free(b.keys);
			free(b.vals);
			return mvms_error_set(MVMS_ERROR, "out of memory");
		}
		for (i = 0; i < m->cap; i++)
			if (m->keys[i])
				rm_put(&b, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = b;
	}
	for (i = rm_slot(k, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k) {
			m->vals[i] = v;
			return 0;
		}
	m->keys[i] = k;
	m->vals[i] = v;
	m->count++;
	return 0;
}

static void rm_dispose(row_map *m)
{
	free(m->keys);
	free(m->vals);
}

typedef struct walk {
	mvms_store *st;
	mvms_lineage *l;
	int64_t *rows;      /* row id of each node */
	size_t cap_nodes, cap_edges;
	row_map map;
} walk;

static int add_node(size_t *out, walk *w, int64_t row, int depth)
{
	static const char q[] =
		"SELECT v.oid, m.name, v.number, v.message, v.created_at FROM versions v "
		"JOIN models m ON m.id = v.model_id WHERE v.id = ?";
	mvms_lineage *l = w->l;
	mvms_lineage_node *n;
	sqlite3_stmt *s;
	int error = 0;

	if (l->node_count == w->cap_nodes) {
		size_t ncap = w->cap_nodes ? w->cap_nodes * 2 : 64;
		mvms_lineage_node *tn = realloc(l->nodes, ncap * sizeof(*tn));
		int64_t *tr = tn ? realloc(w->rows, ncap * sizeof(*tr)) : NULL;
		if (tn)
			l->nodes = tn;
		if (tr)
			w->rows = tr;
		if (!tn || !tr)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		w->cap_nodes = ncap;
	}
	if (!(s = mvms_db_stmt(w->st->db, q)))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, row);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return mvms_error_set(MVMS_ENOTFOUND, "lineage: version #%lld vanished", (long long)row);
	}
	n = &l->nodes[l->node_count];
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", (const char *)sqlite3_column_text(s, 0));
	n->model = mvms_db_column_strdup(s, 1);
	n->number = sqlite3_column_int64(s, 2);
	n->message = mvms_db_column_strdup(s, 3);
	n->created_at = sqlite3_column_int64(s, 4);
	n->depth = depth;
	sqlite3_reset(s);
	w->rows[l->node_count] = row;
	*out = l->node_count++;
	if (!n->model || !n->message)
		error = mvms_error_set(MVMS_ERROR, "out of memory");
	if (error == 0)
		error = rm_put(&w->map, row, *out);
	return error;
}

static int add_edge(walk *w, size_t child, size_t parent, int position)
{
	mvms_lineage *l = w->l;

	if (l->edge_count == w->cap_edges) {
		size_t ncap = w->cap_edges ? w->cap_edges * 2 : 64;
		mvms_lineage_edge *t = realloc(l->edges, ncap * sizeof(*t));
		if (!t)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		l->edges = t;
		w->cap_edges = ncap;
	}
	l->edges[l->edge_count].child = child;
	l->edges[l->edge_count].parent = parent;
	l->edges[l->edge_count].position = position;
	l->edge_count++;
	return 0;
}

/* Breadth-first from node 0, up (parents) or down (children). */
static int bfs(walk *w, int up, int depth_limit)
{
	static const char q_up[] =
		"SELECT parent, position FROM version_parents WHERE child = ? ORDER BY position";
	static const char q_down[] =
		"SELECT child, position FROM version_parents WHERE parent = ?";
	size_t *queue = NULL, qh = 0, qt = 0, qcap = 0, cur, other;
	int64_t *nbr = NULL;
	int *pos = NULL;
	size_t nn, ncap = 0, k;
	int error = 0, d;

	queue = malloc(64 * sizeof(*queue));
	MVMS_CHECK_ALLOC(queue, error);
	qcap = 64;
	queue[qt++] = 0;
	while (qh < qt) {
		sqlite3_stmt *s;
		cur = queue[qh++];
		d = w->l->nodes[cur].depth;
		if (depth_limit >= 0 && (d < 0 ? -d : d) >= depth_limit)
			continue;
		if (!(s = mvms_db_stmt(w->st->db, up ? q_up : q_down))) {
			error = MVMS_ERROR;
			goto done;
		}
		sqlite3_bind_int64(s, 1, w->rows[cur]);
		/* Collect first: add_node runs another statement. */
		nn = 0;
		while (sqlite3_step(s) == SQLITE_ROW) {
			if (nn == ncap) {
				ncap = ncap ? ncap * 2 : 8;
				int64_t *tn = realloc(nbr, ncap * sizeof(*tn));
				int *tp = tn ? realloc(pos, ncap * sizeof(*tp)) : NULL;
				if (tn)
					nbr = tn;
				if (tp)
					pos = tp;
				if (!tn || !tp) {
					sqlite3_reset(s);
					error = mvms_error_set(MVMS_ERROR, "out of memory");
					goto done;
				}
			}
			nbr[nn] = sqlite3_column_int64(s, 0);
			pos[nn] = sqlite3_column_int(s, 1);
			nn++;
		}
		sqlite3_reset(s);
		for (k = 0; k < nn; k++) {
			if (!rm_get(&w->map, nbr[k], &other)) {
				MVMS_TRY(add_node(&other, w, nbr[k], up ? d + 1 : d - 1));
				if (qt == qcap) {
					size_t *tq = realloc(queue, qcap * 2 * sizeof(*tq));
					MVMS_CHECK_ALLOC(tq, error);
					queue = tq;
					qcap *= 2;
				}
				queue[qt++] = other;
			}
			if (up)
				MVMS_TRY(add_edge(w, cur, other, pos[k]));
			else
				MVMS_TRY(add_edge(w, other, cur, pos[k]));
		}
	}
done:
	free(queue);
	free(nbr);
	free(pos);
	return error;
}

int mvms_lineage_get(mvms_lineage **out, mvms_store *st, const char *spec, int direction,
		     int depth)
{
	walk w;
	int64_t row;
	size_t start;
	int error = 0;

	*out = NULL;
	memset(&w, 0, sizeof(w));
	w.st = st;
	if (direction < MVMS_LINEAGE_ANCESTORS || direction > MVMS_LINEAGE_BOTH) {
		error = mvms_error_set(MVMS_EINVALID, "lineage: bad direction");
		goto done;
	}
	MVMS_TRY(mvms_refs__resolve_row(&row, NULL, st, spec));
	w.l = calloc(1, sizeof(*w.l));
	MVMS_CHECK_ALLOC(w.l, error);
	MVMS_TRY(add_node(&start, &w, row, 0));
	if (direction & MVMS_LINEAGE_ANCESTORS)
		MVMS_TRY(bfs(&w, 1, depth));
	if (direction & MVMS_LINEAGE_DESCENDANTS)
		MVMS_TRY(bfs(&w, 0, depth));
	*out = w.l;
	w.l = NULL;
done:
	mvms_lineage_free(w.l);
	free(w.rows);
	rm_dispose(&w.map);
	return error;
}

void mvms_lineage_free(mvms_lineage *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->node_count; i++) {
		free(l->nodes[i].model);
		free(l->nodes[i].message);
	}
	free(l->nodes);
	free(l->edges);
	free(l);
}

int mvms_merge_base(mvms_version_info ***out, size_t *count, mvms_store *st, const char *a,
		    const char *b)
{
	/* Common ancestors that are not a proper ancestor of another common ancestor. */
	static const char q[] =
		"WITH RECURSIVE "
		"a(id) AS (SELECT ?1 UNION SELECT vp.parent FROM version_parents vp JOIN a ON vp.child = a.id), "
		"b(id) AS (SELECT ?2 UNION SELECT vp.parent FROM version_parents vp JOIN b ON vp.child = b.id), "
		"common(id) AS (SELECT id FROM a INTERSECT SELECT id FROM b), "
		"below(id) AS (SELECT vp.parent FROM version_parents vp JOIN common c ON vp.child = c.id "
		"  UNION SELECT vp.parent FROM version_parents vp JOIN below ON vp.child = below.id) "
		"SELECT c.id FROM common c JOIN versions v ON v.id = c.id "
		"WHERE c.id NOT IN (SELECT id FROM below) ORDER BY v.created_at, v.id";
	int64_t ra, rb, *rows = NULL;
	size_t n = 0, cap = 0, i, loaded = 0;
	mvms_version_info **list = NULL;
	sqlite3_stmt *s;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_refs__resolve_row(&ra, NULL, st, a));
	MVMS_TRY(mvms_refs__resolve_row(&rb, NULL, st, b));
	if (!(s = mvms_db_stmt(st->db, q))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, ra);
	sqlite3_bind_int64(s, 2, rb);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			int64_t *t = realloc(rows, cap * sizeof(*t));
			if (!t) {
				sqlite3_reset(s);
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
			rows = t;
		}
		rows[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "merge base");
		goto done;
	}
	list = calloc(n + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	for (i = 0; i < n; i++) {
		MVMS_TRY(mvms_version__load(&list[i], st, rows[i]));
		loaded++;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_version_list_free(list, loaded);
	free(rows);
	return error;
}
