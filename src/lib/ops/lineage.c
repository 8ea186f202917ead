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
#include "dag_int.h"
#include "dagq.h"
#include "transport.h"

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
	mvms_lineage *l = w->l;
	mvms_lineage_node *n;
	int rc;

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
	n = &l->nodes[l->node_count];
	memset(n, 0, sizeof(*n));
	if ((rc = mvms_dagq_node(n, w->st->db, row)) <= 0) {
		free(n->model);
		free(n->message);
		return rc < 0 ? rc : mvms_error_set(MVMS_ENOTFOUND, "lineage: version #%lld vanished",
						    (long long)row);
	}
	n->depth = depth;
	w->rows[l->node_count] = row;
	*out = l->node_count++;
	return rm_put(&w->map, row, *out);
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
		cur = queue[qh++];
		d = w->l->nodes[cur].depth;
		if (depth_limit >= 0 && (d < 0 ? -d : d) >= depth_limit)
			continue;
		/* Collect first: add_node runs another statement. */
		MVMS_TRY(mvms_dagq_neighbours(&nbr, &pos, &nn, &ncap, w->st->db, w->rows[cur], up));
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

static int push_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		uint32_t *t = realloc(*v, ncap * sizeof(*t));
		if (!t)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		*v = t;
		*cap = ncap;
	}
	(*v)[(*n)++] = x;
	return 0;
}

/* Lineage over the in-memory index: the same walk as bfs(), memory reads only. Its
 * bookkeeping grows with the answer, never with the store: the visited set is the index's
 * epoch-stamped scratch (node -> index in the answer), not a store-sized array cleared per
 * walk. Returns 1 (nothing done) when the start version is not in the index. */
static int lineage_mem(walk *w, mvms_dagcache *dc, int64_t row, int direction, int depth)
{
	mvms_lineage *l = w->l;
	uint32_t *queue = NULL;                /* nodes to visit */
	size_t qh, qt, qcap = 0, pass;
	int start = mvms_dag__node(dc, row), error = 0;
	uint32_t epoch;

	if (start < 0)
		return 1;
	MVMS_TRY(mvms_dag__walk_begin(&epoch, dc));
	w->cap_nodes = 64;
	l->nodes = malloc(w->cap_nodes * sizeof(*l->nodes));
	MVMS_CHECK_ALLOC(l->nodes, error);
	MVMS_TRY(mvms_dag__fill(&l->nodes[0], dc, start, 0));
	l->node_count = 1;
	mvms_dag__mark(dc, epoch, start, 0);
	for (pass = 0; pass < 2; pass++) {
		int up = pass == 0;
		if (!(direction & (up ? MVMS_LINEAGE_ANCESTORS : MVMS_LINEAGE_DESCENDANTS)))
			continue;
		qh = qt = 0;
		MVMS_TRY(push_u32(&queue, &qt, &qcap, (uint32_t)start));
		while (qh < qt) {
			uint32_t cur = queue[qh++];
			const uint32_t *nb;
			const int *pos;
			size_t nn, j, ci = 0, oi;
			int d;
			mvms_dag__seen(&ci, dc, epoch, (int)cur);
			d = l->nodes[ci].depth;
			if (depth >= 0 && (d < 0 ? -d : d) >= depth)
				continue;
			nn = up ? mvms_dag__parents(dc, (int)cur, &nb, &pos)
				: mvms_dag__children(dc, (int)cur, &nb, &pos);
			for (j = 0; j < nn; j++) {
				uint32_t o = nb[j];
				if (!mvms_dag__seen(&oi, dc, epoch, (int)o)) {
					if (l->node_count == w->cap_nodes) {
						mvms_lineage_node *t = realloc(l->nodes, w->cap_nodes * 2 * sizeof(*t));
						MVMS_CHECK_ALLOC(t, error);
						l->nodes = t;
						w->cap_nodes *= 2;
					}
					MVMS_TRY(mvms_dag__fill(&l->nodes[l->node_count], dc, (int)o,
								up ? d + 1 : d - 1));
					oi = l->node_count++;
					mvms_dag__mark(dc, epoch, (int)o, oi);
					MVMS_TRY(push_u32(&queue, &qt, &qcap, o));
				}
				if (up)
					MVMS_TRY(add_edge(w, ci, oi, pos[j]));
				else
					MVMS_TRY(add_edge(w, oi, ci, pos[j]));
			}
		}
	}
done:
	free(queue);
	return error;
}

int mvms_lineage_get(mvms_lineage **out, mvms_store *st, const char *spec, int direction,
		     int depth)
{
	MVMS_TRANSPORT_CALL(st, lineage_get, (out, st, spec, direction, depth));
	mvms_dagcache *dc;
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
	if ((dc = mvms_dag__cache(st)) && (error = lineage_mem(&w, dc, row, direction, depth)) <= 0) {
		if (error < 0)
			goto done;
		*out = w.l;
		w.l = NULL;
		goto done;
	}
	error = 0;
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

/* ---- merge bases: git's "paint down to common", bounded by generation numbers ---- */

#define PAINT_A 1
#define PAINT_B 2
#define STALE 4
#define RESULT 8

typedef struct pnode {
	int64_t row, gen;
	int flags;
	size_t inheap;   /* entries of this node in the heap */
} pnode;

typedef struct paint {
	mvms_store *st;
	const mvms_dagcache *dc;  /* in-memory index, or NULL for SQL */
	pnode *nodes;
	size_t n, cap;
	size_t *heap, hn, hcap;
	size_t nonstale; /* heap entries whose node is not stale: the walk ends at 0 */
	row_map map;
} paint;

static int heap_before(const paint *p, size_t a, size_t b)
{
	const pnode *x = &p->nodes[a], *y = &p->nodes[b];

	return x->gen > y->gen || (x->gen == y->gen && x->row > y->row);
}

static int heap_push(paint *p, size_t node)
{
	size_t i;

	if (p->hn == p->hcap) {
		size_t ncap = p->hcap ? p->hcap * 2 : 64;
		size_t *t = realloc(p->heap, ncap * sizeof(*t));
		if (!t)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		p->heap = t;
		p->hcap = ncap;
	}
	i = p->hn++;
	p->heap[i] = node;
	while (i > 0 && heap_before(p, p->heap[i], p->heap[(i - 1) / 2])) {
		size_t t = p->heap[i];
		p->heap[i] = p->heap[(i - 1) / 2];
		p->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	p->nodes[node].inheap++;
	if (!(p->nodes[node].flags & STALE))
		p->nonstale++;
	return 0;
}

static size_t heap_pop(paint *p)
{
	size_t top = p->heap[0], i = 0;

	p->heap[0] = p->heap[--p->hn];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < p->hn && heap_before(p, p->heap[l], p->heap[m]))
			m = l;
		if (r < p->hn && heap_before(p, p->heap[r], p->heap[m]))
			m = r;
		if (m == i)
			break;
		size_t t = p->heap[i];
		p->heap[i] = p->heap[m];
		p->heap[m] = t;
		i = m;
	}
	p->nodes[top].inheap--;
	if (!(p->nodes[top].flags & STALE))
		p->nonstale--;
	return top;
}

static void set_flags(paint *p, size_t node, int flags)
{
	pnode *n = &p->nodes[node];

	if ((flags & STALE) && !(n->flags & STALE))
		p->nonstale -= n->inheap;
	n->flags |= flags;
}

static int pnode_get(size_t *out, paint *p, int64_t row, int64_t gen)
{
	if (rm_get(&p->map, row, out))
		return 0;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;
		pnode *t = realloc(p->nodes, ncap * sizeof(*t));
		if (!t)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		p->nodes = t;
		p->cap = ncap;
	}
	memset(&p->nodes[p->n], 0, sizeof(p->nodes[0]));
	p->nodes[p->n].row = row;
	p->nodes[p->n].gen = gen;
	*out = p->n++;
	return rm_put(&p->map, row, *out);
}

static int generation_of(int64_t *out, const paint *p, int64_t row)
{
	int rc, node;

	if (p->dc && (node = mvms_dag__node(p->dc, row)) >= 0) {
		*out = mvms_dag__gen(p->dc, node);
		return 0;
	}
	if ((rc = mvms_dagq_generation(out, p->st->db, row)) < 0)
		return rc;
	return rc ? 0 : mvms_error_set(MVMS_ENOTFOUND, "version #%lld not found", (long long)row);
}

/* Parents of a version with their generations; *out is malloc()ed pairs (row, gen). */
static int parents_of(int64_t **out, size_t *n, const paint *p, int64_t row)
{
	int64_t *list = NULL;
	size_t k = 0;
	int node;

	*out = NULL;
	*n = 0;
	if (p->dc && (node = mvms_dag__node(p->dc, row)) >= 0) {
		const uint32_t *par;
		const int *pos;
		size_t np = mvms_dag__parents(p->dc, node, &par, &pos);
		list = malloc((2 * np + 1) * sizeof(*list));
		if (!list)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		for (k = 0; k < np; k++) {
			list[2 * k] = mvms_dag__row(p->dc, (int)par[k]);
			list[2 * k + 1] = mvms_dag__gen(p->dc, (int)par[k]);
		}
		*out = list;
		*n = np;
		return 0;
	}
	return mvms_dagq_parents(out, n, p->st->db, row);
}

/* 1 when the index proves x an ancestor of y without a walk (first parents only, or with
 * one merge's side edge); 0 when it cannot tell. */
static int index_proves_ancestor(const mvms_dagcache *dc, int64_t x, int64_t y)
{
	int nx, ny;

	if (!dc || (nx = mvms_dag__node(dc, x)) < 0 || (ny = mvms_dag__node(dc, y)) < 0)
		return 0;
	return mvms_dag__first_parent_ancestor(dc, nx, ny) ||
	       mvms_dag__one_merge_ancestor(dc, nx, ny);
}

int mvms_dag__is_ancestor(mvms_store *st, int64_t x, int64_t y)
{
	/* Walk down from y, never below x's generation: an ancestor of y with a generation
	 * at or below gen(x) other than x itself cannot lead to x. */
	paint p;
	int64_t gx, gy, *par = NULL;
	size_t node, np, i;
	int error = 0, found = 0;

	memset(&p, 0, sizeof(p));
	p.st = st;
	p.dc = mvms_dag__cache(st);
	if (x == y)
		return 1;
	if (index_proves_ancestor(p.dc, x, y))
		return 1;
	MVMS_TRY(generation_of(&gx, &p, x));
	MVMS_TRY(generation_of(&gy, &p, y));
	if (gy <= gx)
		goto done;
	MVMS_TRY(pnode_get(&node, &p, y, gy));
	MVMS_TRY(heap_push(&p, node));
	while (p.hn && !found) {
		size_t c = heap_pop(&p);
		MVMS_TRY(parents_of(&par, &np, &p, p.nodes[c].row));
		for (i = 0; i < np && !found; i++) {
			size_t q;
			if (par[2 * i] == x) {
				found = 1;
				break;
			}
			if (par[2 * i + 1] <= gx || rm_get(&p.map, par[2 * i], &q))
				continue;
			MVMS_TRY(pnode_get(&q, &p, par[2 * i], par[2 * i + 1]));
			MVMS_TRY(heap_push(&p, q));
		}
		free(par);
		par = NULL;
	}
done:
	free(par);
	free(p.nodes);
	free(p.heap);
	rm_dispose(&p.map);
	return error < 0 ? error : found;
}

int mvms_dag__merge_base_rows(int64_t **out, size_t *count, mvms_store *st, int64_t a, int64_t b)
{
	paint p;
	int64_t ga, gb, *par = NULL, *res = NULL;
	size_t na, nb, nres = 0, i, j, np;
	int error = 0, red;

	*out = NULL;
	*count = 0;
	memset(&p, 0, sizeof(p));
	p.st = st;
	p.dc = mvms_dag__cache(st);
	res = calloc(2, sizeof(*res));
	MVMS_CHECK_ALLOC(res, error);
	if (a == b) {
		res[nres++] = a;
		goto finish;
	}
	/* One an ancestor of the other (an old version and a later head of its line, or a
	 * merged branch's version and the main line) is the sole merge base: when the index
	 * proves it, no walk. */
	if ((red = index_proves_ancestor(p.dc, a, b)) || index_proves_ancestor(p.dc, b, a)) {
		res[nres++] = red ? a : b;
		goto finish;
	}
	if (p.dc) {
		int xa = mvms_dag__node(p.dc, a), xb = mvms_dag__node(p.dc, b), base;
		if (xa >= 0 && xb >= 0 && (mvms_dag__fork_base(p.dc, xa, xb, &base) ||
					   mvms_dag__fork_base(p.dc, xb, xa, &base))) {
			res[nres++] = mvms_dag__row(p.dc, base);
			goto finish;
		}
	}
	MVMS_TRY(generation_of(&ga, &p, a));
	MVMS_TRY(generation_of(&gb, &p, b));
	MVMS_TRY(pnode_get(&na, &p, a, ga));
	MVMS_TRY(pnode_get(&nb, &p, b, gb));
	set_flags(&p, na, PAINT_A);
	set_flags(&p, nb, PAINT_B);
	MVMS_TRY(heap_push(&p, na));
	MVMS_TRY(heap_push(&p, nb));
	/* Highest generation first: a version is popped only after all its descendants that
	 * the walk reaches, so its paint is complete when it is examined. */
	while (p.nonstale > 0) {
		size_t c = heap_pop(&p);
		int flags = p.nodes[c].flags & (PAINT_A | PAINT_B | STALE);
		if (flags == (PAINT_A | PAINT_B)) {
			if (!(p.nodes[c].flags & RESULT)) {
				int64_t *t = realloc(res, (nres + 1) * sizeof(*t));
				MVMS_CHECK_ALLOC(t, error);
				res = t;
				res[nres++] = p.nodes[c].row;
				p.nodes[c].flags |= RESULT;
			}
			flags |= STALE;
		}
		MVMS_TRY(parents_of(&par, &np, &p, p.nodes[c].row));
		for (i = 0; i < np; i++) {
			size_t q;
			MVMS_TRY(pnode_get(&q, &p, par[2 * i], par[2 * i + 1]));
			if ((p.nodes[q].flags & flags) == flags)
				continue;
			set_flags(&p, q, flags);
			MVMS_TRY(heap_push(&p, q));
		}
		free(par);
		par = NULL;
	}
	/* A criss-cross can leave a result that is an ancestor of another: drop those. */
	for (i = 0; i < nres; i++) {
		for (j = 0, red = 0; j < nres && !red; j++) {
			if (i == j || res[j] == 0)
				continue;
			if ((red = mvms_dag__is_ancestor(st, res[i], res[j])) < 0) {
				error = red;
				goto done;
			}
		}
		if (red)
			res[i] = 0;
	}
	for (i = 0, j = 0; i < nres; i++)
		if (res[i])
			res[j++] = res[i];
	nres = j;
finish:
	*out = res;
	*count = nres;
	res = NULL;
done:
	free(res);
	free(par);
	free(p.nodes);
	free(p.heap);
	rm_dispose(&p.map);
	return error;
}

int mvms_merge_base(mvms_version_info ***out, size_t *count, mvms_store *st, const char *a,
		    const char *b)
{
	MVMS_TRANSPORT_CALL(st, merge_base, (out, count, st, a, b));
	int64_t ra, rb, *rows = NULL;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_refs__resolve_row(&ra, NULL, st, a));
	MVMS_TRY(mvms_refs__resolve_row(&rb, NULL, st, b));
	MVMS_TRY(mvms_dag__merge_base_rows(&rows, &n, st, ra, rb));
	error = mvms_version__load_rows(out, count, st, rows, n);
done:
	free(rows);
	return error;
}
