/* SPDX-License-Identifier: MIT */
/*
 * A text drawing of a version DAG, one row per version, as `git log --graph` draws one:
 * `*` is the version, `|` a line of descent going on, `\` a merge's other parent branching
 * off, `/` two lines joining (or lines moving left), `_` a join across other lines. Knows
 * nothing of the store: it takes ids and parent ids (tests/test-graph drives it alone).
 */
#ifndef CLI_GRAPH_H
#define CLI_GRAPH_H

#include <stddef.h>
#include <stdio.h>

typedef struct cli_graph_node {
	const char *id;
	const char *const *parents;   /* parents not among the nodes are left out */
	size_t nparents;
} cli_graph_node;

/**
 * Fills @order (n indexes into @nodes) so that every node comes before its parents, keeping
 * the given order wherever that already holds (the first node free to go goes first).
 * 0, or -1 when out of memory or the nodes hold a cycle (a corrupt DAG).
 */
int cli_graph_order(size_t *order, const cli_graph_node *nodes, size_t n);

typedef struct cli_graph cli_graph;

/* A drawing of the versions @ids (n of them; the graph keeps its own copies). NULL: OOM. */
cli_graph *cli_graph_new(const char *const *ids, size_t n);
void cli_graph_free(cli_graph *g);

/**
 * Writes the row of version @id (whose parents are @parents) to @out: the lines joining
 * the lanes that wait for it, "GRAPH TEXT\n", then the lines opening lanes for its other
 * parents. Rows must come children first (cli_graph_order). 0, or -1 when out of memory or
 * @id is not one of the graph's versions.
 */
int cli_graph_row(cli_graph *g, FILE *out, const char *id, const char *const *parents,
		  size_t nparents, const char *text);

#endif
