/* SPDX-License-Identifier: MIT */
/*
 * The text graph of `log --all` / `log --graph` (see graph.h). Lanes are the columns: each
 * waits for one version, the next parent on its line of descent. A row joins the lanes that
 * wait for its version into the leftmost (a `/` line each, `_` across the lanes between),
 * prints `*` in that lane, hands the lane to its first parent and opens a lane for each
 * other parent (a `\` line each). Lane i is column 2i; connectors sit in the odd columns.
 */
#include <stdlib.h>
#include <string.h>
#include "graph.h"

/* ---- order: children before parents ---- */

typedef struct keyed {
	const char *id;
	size_t idx;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const keyed *)a)->id, ((const keyed *)b)->id);
}

/* The index of the node with @id, or (size_t)-1. */
static size_t find(const keyed *k, size_t n, const char *id)
{
	keyed key = { id, 0 };
	const keyed *hit = n ? bsearch(&key, k, n, sizeof(*k), keyed_cmp) : NULL;

	return hit ? hit->idx : (size_t)-1;
}

/* A min-heap of node indexes: the earliest node given goes first. */
static void heap_push(size_t *h, size_t *n, size_t v)
{
	size_t i = (*n)++, up;

	for (; i > 0 && h[up = (i - 1) / 2] > v; i = up)
		h[i] = h[up];
	h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *n)
{
	size_t top = h[0], last = h[--*n], i = 0, c;

	while ((c = 2 * i + 1) < *n) {
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= last)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

int cli_graph_order(size_t *order, const cli_graph_node *nodes, size_t n)
{
	keyed *k = malloc((n + 1) * sizeof(*k));
	size_t *kids = calloc(n + 1, sizeof(*kids)), *heap = malloc((n + 1) * sizeof(*heap));
	size_t i, j, p, nheap = 0, out = 0;
	int rc = -1;

	if (!k || !kids || !heap)
		goto done;
	for (i = 0; i < n; i++)
		k[i] = (keyed){ nodes[i].id, i };
	qsort(k, n, sizeof(*k), keyed_cmp);
	/* A node may go once all its children have gone. */
	for (i = 0; i < n; i++)
		for (p = 0; p < nodes[i].nparents; p++)
			if ((j = find(k, n, nodes[i].parents[p])) != (size_t)-1 && j != i)
				kids[j]++;
	for (i = 0; i < n; i++)
		if (kids[i] == 0)
			heap_push(heap, &nheap, i);
	while (nheap) {
		i = heap_pop(heap, &nheap);
		order[out++] = i;
		for (p = 0; p < nodes[i].nparents; p++)
			if ((j = find(k, n, nodes[i].parents[p])) != (size_t)-1 && j != i &&
			    --kids[j] == 0)
				heap_push(heap, &nheap, j);
	}
	rc = out == n ? 0 : -1; /* a cycle leaves nodes that never free up */
done:
	free(k);
	free(kids);
	free(heap);
	return rc;
}

/* ---- drawing ---- */

struct cli_graph {
	char **ids;            /* sorted copies: a lane points at one of them */
	size_t n;
	const char **lanes;
	size_t nlanes, cap;
	char *buf;             /* one line being drawn: 2 * cap + 4 bytes */
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

cli_graph *cli_graph_new(const char *const *ids, size_t n)
{
	cli_graph *g = calloc(1, sizeof(*g));
	size_t i;

	if (!g)
		return NULL;
	g->ids = calloc(n + 1, sizeof(*g->ids));
	if (!g->ids) {
		cli_graph_free(g);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (!(g->ids[i] = strdup(ids[i]))) {
			cli_graph_free(g);
			return NULL;
		}
		g->n++;
	}
	qsort(g->ids, g->n, sizeof(*g->ids), str_cmp);
	return g;
}

void cli_graph_free(cli_graph *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; g->ids && i < g->n; i++)
		free(g->ids[i]);
	free(g->ids);
	free(g->lanes);
	free(g->buf);
	free(g);
}

/* The graph's own copy of @id, or NULL when it is not one of its versions. */
static const char *known(const cli_graph *g, const char *id)
{
	char *const *hit = g->n ? bsearch(&id, g->ids, g->n, sizeof(*g->ids), str_cmp) : NULL;

	return hit ? *hit : NULL;
}

/* A blank line of @width columns in g->buf. */
static void blank(cli_graph *g, size_t width)
{
	memset(g->buf, ' ', width);
	g->buf[width] = '\0';
}

/* Writes g->buf without its trailing spaces. */
static void emit(cli_graph *g, FILE *out)
{
	size_t n = strlen(g->buf);

	while (n > 0 && g->buf[n - 1] == ' ')
		n--;
	fprintf(out, "%.*s\n", (int)n, g->buf);
}

/* Lane @j joins lane @i (i < j): "|/", or "|_|/" across lanes; the lanes right of j move
 * one to the left. */
static void draw_join(cli_graph *g, FILE *out, size_t i, size_t j)
{
	size_t p;

	blank(g, 2 * g->nlanes);
	for (p = 0; p < g->nlanes; p++) {
		if (p < j)
			g->buf[2 * p] = '|';
		if (p > i && p < j)
			g->buf[2 * p - 1] = '_';
		if (p >= j)
			g->buf[2 * p - 1] = '/';
	}
	emit(g, out);
}

/* Lane @i ends (a root, or a version whose parents are not shown): the lanes right of it
 * move one to the left. */
static void draw_end(cli_graph *g, FILE *out, size_t i)
{
	size_t p;

	if (i + 1 >= g->nlanes)
		return;
	blank(g, 2 * g->nlanes);
	for (p = 0; p < g->nlanes; p++)
		if (p < i)
			g->buf[2 * p] = '|';
		else if (p > i)
			g->buf[2 * p - 1] = '/';
	emit(g, out);
}

/* A lane opens right of lane @i (a merge's other parent): "|\", the lanes right of i move
 * one to the right. */
static void draw_branch(cli_graph *g, FILE *out, size_t i)
{
	size_t p;

	blank(g, 2 * g->nlanes + 2);
	for (p = 0; p < g->nlanes; p++)
		g->buf[p <= i ? 2 * p : 2 * p + 1] = p <= i ? '|' : '\\';
	g->buf[2 * i + 1] = '\\';
	emit(g, out);
}

/* Room for @need lanes (merges can leave more lanes open than there are versions left). */
static int lanes_reserve(cli_graph *g, size_t need)
{
	const char **l;
	char *b;
	size_t cap = g->cap ? g->cap : 8;

	if (need <= g->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (!(l = realloc(g->lanes, cap * sizeof(*l))))
		return -1;
	g->lanes = l;
	if (!(b = realloc(g->buf, 2 * cap + 4)))
		return -1;
	g->buf = b;
	g->cap = cap;
	return 0;
}

static void lane_remove(cli_graph *g, size_t i)
{
	memmove(&g->lanes[i], &g->lanes[i + 1], (g->nlanes - i - 1) * sizeof(*g->lanes));
	g->nlanes--;
}

static void lane_insert(cli_graph *g, size_t i, const char *id)
{
	memmove(&g->lanes[i + 1], &g->lanes[i], (g->nlanes - i) * sizeof(*g->lanes));
	g->lanes[i] = id;
	g->nlanes++;
}

int cli_graph_row(cli_graph *g, FILE *out, const char *id, const char *const *parents,
		  size_t nparents, const char *text)
{
	const char *me = known(g, id), **ps;
	size_t i, j, k, nps = 0;

	if (!me || lanes_reserve(g, g->nlanes + nparents + 1) < 0)
		return -1;
	for (i = 0; i < g->nlanes && g->lanes[i] != me; i++)
		;
	if (i == g->nlanes) {
		g->lanes[g->nlanes++] = me; /* a head no row before has led to */
	} else {
		for (j = g->nlanes; j-- > i + 1;)
			if (g->lanes[j] == me) {
				draw_join(g, out, i, j);
				lane_remove(g, j);
			}
	}
	blank(g, 2 * g->nlanes);
	for (k = 0; k < g->nlanes; k++)
		g->buf[2 * k] = k == i ? '*' : '|';
	g->buf[2 * g->nlanes - 1] = '\0';
	fprintf(out, "%s %s\n", g->buf, text);

	ps = calloc(nparents + 1, sizeof(*ps));
	if (!ps)
		return -1;
	for (k = 0; k < nparents; k++) {
		const char *p = known(g, parents[k]);
		for (j = 0; p && p != me && j < nps && ps[j] != p; j++)
			;
		if (p && p != me && j == nps)
			ps[nps++] = p;
	}
	if (nps == 0) {
		draw_end(g, out, i);
		lane_remove(g, i);
	} else {
		g->lanes[i] = ps[0];
		for (k = nps; k-- > 1;) {
			draw_branch(g, out, i);
			lane_insert(g, i + 1, ps[k]);
		}
	}
	free(ps);
	return 0;
}
