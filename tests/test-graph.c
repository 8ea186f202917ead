/* SPDX-License-Identifier: MIT */
/*
 * The text graph of `log --all` (src/cli/graph.c) on small DAGs drawn by hand: a line, a
 * branch and its fork point (`|/`), a merge (`|\`), a merge whose other parent waits two
 * lanes away (`|_|/`), an octopus merge, two roots, parents that are not shown, lanes moving
 * left when one ends; and the order (children before parents, stable otherwise, cycles
 * refused).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "graph.h"

/* A node as "ID:PARENT,PARENT" (ids are single words). */
typedef struct tnode {
	char id[16];
	char *parents[8];
	size_t np;
} tnode;

static size_t parse(tnode *t, const char *const *spec, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *colon = strchr(spec[i], ':');
		char buf[128], *tok, *save = NULL;
		snprintf(t[i].id, sizeof(t[i].id), "%.*s",
			 (int)(colon ? (size_t)(colon - spec[i]) : strlen(spec[i])), spec[i]);
		t[i].np = 0;
		if (!colon)
			continue;
		snprintf(buf, sizeof(buf), "%s", colon + 1);
		for (tok = strtok_r(buf, ",", &save); tok && t[i].np < 8; tok = strtok_r(NULL, ",", &save))
			t[i].parents[t[i].np++] = strdup(tok);
	}
	return n;
}

static void tfree(tnode *t, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < t[i].np; k++)
			free(t[i].parents[k]);
}

/* The drawing of @spec's nodes in the given order, each row's text its id. */
static char *draw(const char *const *spec, size_t n)
{
	tnode t[32];
	const char *ids[32];
	cli_graph *g;
	char *text = NULL;
	size_t len = 0, i;
	FILE *out = open_memstream(&text, &len);

	parse(t, spec, n);
	for (i = 0; i < n; i++)
		ids[i] = t[i].id;
	g = cli_graph_new(ids, n);
	for (i = 0; g && out && i < n; i++)
		if (cli_graph_row(g, out, t[i].id, (const char *const *)t[i].parents, t[i].np,
				  t[i].id) < 0)
			fprintf(out, "(row %s failed)\n", t[i].id);
	cli_graph_free(g);
	if (out)
		fclose(out);
	tfree(t, n);
	return text;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check(const char *const *spec, size_t n, const char *want, const char *name)
{
	char *got = draw(spec, n);

	if (!ok(got && strcmp(got, want) == 0, "%s", name))
		diag("got:\n%s\nwant:\n%s", got ? got : "(null)", want);
	free(got);
}

static void test_draw(void)
{
	static const char *const line[] = { "c:b", "b:a", "a" };
	static const char *const fork[] = { "d:b", "c:b", "b:a", "a" };
	static const char *const merge[] = { "m:d,c", "c:b", "d:b", "b:a", "a" };
	static const char *const far[] = { "f:c", "m:d,c", "d:b", "c:b", "b" };
	static const char *const octo[] = { "m:a,b,c", "c", "b", "a" };
	static const char *const roots[] = { "y:x", "b:a", "x", "a" };
	static const char *const unseen[] = { "b:a,zz", "a:yy" };
	static const char *const ends[] = { "c:a", "x", "a" };

	check(line, N(line), "* c\n* b\n* a\n", "a straight line: one lane");
	check(fork, N(fork), "* d\n| * c\n|/\n* b\n* a\n", "two branches from b join with |/");
	check(merge, N(merge), "* m\n|\\\n| * c\n* | d\n|/\n* b\n* a\n",
	      "a merge opens a lane with |\\ and the lanes join at the fork point");
	check(far, N(far), "* f\n| * m\n| |\\\n| * | d\n|_|/\n* | c\n|/\n* b\n",
	      "a lane two columns away joins across with |_|/");
	check(octo, N(octo), "* m\n|\\\n|\\ \\\n| | * c\n| * b\n* a\n",
	      "an octopus merge opens a lane per other parent");
	check(roots, N(roots), "* y\n| * b\n* | x\n /\n* a\n",
	      "two histories: a root ends its lane and the next moves left");
	check(unseen, N(unseen), "* b\n* a\n", "parents not shown draw no lane");
	check(ends, N(ends), "* c\n| * x\n* a\n", "a root in the last lane draws no line");
}

static void test_order(void)
{
	static const char *const spec[] = { "a", "b:a", "m:b,c", "c:a" };
	static const char *const cyc[] = { "a:b", "b:a" };
	tnode t[8];
	cli_graph_node nodes[8];
	size_t order[8], i;
	char got[64] = "";

	parse(t, spec, N(spec));
	for (i = 0; i < N(spec); i++)
		nodes[i] = (cli_graph_node){ t[i].id, (const char *const *)t[i].parents, t[i].np };
	ok(cli_graph_order(order, nodes, N(spec)) == 0, "order: a DAG given parents first");
	for (i = 0; i < N(spec); i++)
		strcat(got, t[order[i]].id);
	is_str(got, "mbca", "children before parents, the given order kept otherwise");
	tfree(t, N(spec));

	parse(t, cyc, N(cyc));
	for (i = 0; i < N(cyc); i++)
		nodes[i] = (cli_graph_node){ t[i].id, (const char *const *)t[i].parents, t[i].np };
	ok(cli_graph_order(order, nodes, N(cyc)) < 0, "a cycle is refused");
	tfree(t, N(cyc));
	ok(cli_graph_order(order, nodes, 0) == 0, "no nodes: nothing to order");
}

static void test_unknown(void)
{
	const char *ids[] = { "a" };
	cli_graph *g = cli_graph_new(ids, 1);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ok(g && cli_graph_row(g, out, "zz", NULL, 0, "zz") < 0, "a row for a version not in the graph: -1");
	fclose(out);
	free(text);
	cli_graph_free(g);
}

int main(void)
{
	test_draw();
	test_order();
	test_unknown();
	return done_testing();
}
