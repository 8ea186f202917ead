/* SPDX-License-Identifier: MIT */
/*
 * mvms-store lineage and merge-base: where a version came from and what came of it, in
 * text, JSON, Graphviz DOT or Mermaid; and the lowest common ancestors of two versions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void dot_escape(const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if (*s == '\n') {
			fputs("\\n", stdout);
			continue;
		}
		putchar(*s);
	}
}

static void print_dot(const mvms_lineage *l)
{
	size_t i;

	printf("digraph lineage {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n");
	for (i = 0; i < l->node_count; i++) {
		printf("  \"%s\" [label=\"", l->nodes[i].id);
		dot_escape(l->nodes[i].model);
		printf("@v%lld\\n%.12s\"%s];\n", (long long)l->nodes[i].number, l->nodes[i].id,
		       i == 0 ? ", style=bold" : "");
	}
	for (i = 0; i < l->edge_count; i++)
		printf("  \"%s\" -> \"%s\"%s;\n", l->nodes[l->edges[i].child].id,
		       l->nodes[l->edges[i].parent].id, l->edges[i].position ? " [style=dashed]" : "");
	printf("}\n");
}

static void print_mermaid(const mvms_lineage *l)
{
	size_t i;
	const char *p;

	/* Parents above children, as the seed's diagrams read: older at the top. */
	printf("graph TD\n");
	for (i = 0; i < l->node_count; i++) {
		printf("  n%zu[\"", i);
		for (p = l->nodes[i].model; *p; p++)
			fputs(*p == '"' ? "#quot;" : (char[2]){ *p, 0 }, stdout);
		printf("@v%lld %.8s\"]\n", (long long)l->nodes[i].number, l->nodes[i].id);
	}
	for (i = 0; i < l->edge_count; i++)
		printf("  n%zu %s n%zu\n", l->edges[i].parent, l->edges[i].position ? "-.->" : "-->",
		       l->edges[i].child);
}

static int cmp_depth(const void *a, const void *b)
{
	const mvms_lineage_node *x = *(mvms_lineage_node *const *)a, *y = *(mvms_lineage_node *const *)b;
	int c = strcmp(x->model, y->model);

	/* Descendants (negative depth) first, newest at the top, like log. */
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (c)
		return c;
	return x->number < y->number ? 1 : x->number > y->number ? -1 : 0;
}

static void print_text(const mvms_lineage *l)
{
	mvms_lineage_node **order = malloc(l->node_count * sizeof(*order));
	size_t i, j;
	char tbuf[32];

	if (!order)
		return;
	for (i = 0; i < l->node_count; i++)
		order[i] = &l->nodes[i];
	qsort(order, l->node_count, sizeof(*order), cmp_depth);
	for (i = 0; i < l->node_count; i++) {
		const mvms_lineage_node *n = order[i];
		size_t idx = (size_t)(n - l->nodes);
		int first = 1;
		printf("%+4d  %s@v%lld  %.12s  %s  %s", n->depth, n->model, (long long)n->number, n->id,
		       cli_time(tbuf, sizeof(tbuf), n->created_at), n->message);
		for (j = 0; j < l->edge_count; j++)
			if (l->edges[j].child == idx) {
				const mvms_lineage_node *p = &l->nodes[l->edges[j].parent];
				printf("%s%s@v%lld", first ? "  <- " : ", ", p->model, (long long)p->number);
				first = 0;
			}
		printf("\n");
	}
	free(order);
}

static cJSON *lineage_json(const mvms_lineage *l)
{
	cJSON *doc = cJSON_CreateObject(), *nodes, *edges;
	char tbuf[32];
	size_t i;

	cJSON_AddStringToObject(doc, "start", l->nodes[0].id);
	nodes = cJSON_AddArrayToObject(doc, "nodes");
	for (i = 0; i < l->node_count; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "model", l->nodes[i].model);
		cJSON_AddNumberToObject(o, "version", (double)l->nodes[i].number);
		cJSON_AddStringToObject(o, "id", l->nodes[i].id);
		cJSON_AddNumberToObject(o, "depth", l->nodes[i].depth);
		cJSON_AddStringToObject(o, "message", l->nodes[i].message);
		cJSON_AddStringToObject(o, "created_at", cli_time(tbuf, sizeof(tbuf), l->nodes[i].created_at));
		cJSON_AddItemToArray(nodes, o);
	}
	edges = cJSON_AddArrayToObject(doc, "edges");
	for (i = 0; i < l->edge_count; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "child", l->nodes[l->edges[i].child].id);
		cJSON_AddStringToObject(o, "parent", l->nodes[l->edges[i].parent].id);
		cJSON_AddNumberToObject(o, "position", l->edges[i].position);
		cJSON_AddItemToArray(edges, o);
	}
	return doc;
}

int cmd_lineage(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ancestors", no_argument, NULL, 'a' },
		{ "descendants", no_argument, NULL, 'd' },
		{ "both", no_argument, NULL, 'B' },
		{ "depth", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int direction = MVMS_LINEAGE_ANCESTORS, depth = -1, c, error, rc;
	const char *format = cli.json ? "json" : "text";
	mvms_lineage *l = NULL;
	mvms_store *st = NULL;
	char *end;
	long v;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': direction = MVMS_LINEAGE_ANCESTORS; break;
		case 'd': direction = MVMS_LINEAGE_DESCENDANTS; break;
		case 'B': direction = MVMS_LINEAGE_BOTH; break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 1000000000)
				return cli_usage_error("lineage", "--depth wants a number >= 0");
			depth = (int)v;
			break;
		case 'f':
			format = optarg;
			if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "dot") &&
			    strcmp(format, "mermaid"))
				return cli_usage_error("lineage", "--format is text, json, dot or mermaid");
			break;
		case 'h':
			cli_print_usage(cli_find("lineage"));
			return EXIT_OK;
		default:
			return cli_usage_error("lineage", "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("lineage", "want one MODEL@REF");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_lineage_get(&l, st, argv[optind], direction, depth)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (strcmp(format, "json") == 0)
		cli_print_json(lineage_json(l));
	else if (strcmp(format, "dot") == 0)
		print_dot(l);
	else if (strcmp(format, "mermaid") == 0)
		print_mermaid(l);
	else
		print_text(l);
done:
	mvms_lineage_free(l);
	mvms_store_free(st);
	return rc;
}

int cmd_merge_base(int argc, char **argv)
{
	mvms_version_info **list = NULL;
	mvms_store *st = NULL;
	size_t n = 0, i;
	int error, rc;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		cli_print_usage(cli_find("merge-base"));
		return EXIT_OK;
	}
	if (argc != 3)
		return cli_usage_error("merge-base", "want MODEL@A and MODEL@B");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_merge_base(&list, &n, st, argv[1], argv[2])) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cJSON *doc = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(doc, cli_version_json(list[i]));
		cli_print_json(doc);
	} else {
		for (i = 0; i < n; i++)
			printf("%s@v%lld %s\n", list[i]->model, (long long)list[i]->number, list[i]->id);
	}
	if (n == 0) {
		fprintf(stderr, "mvms-store: %s and %s share no history\n", argv[1], argv[2]);
		rc = EXIT_NOTFOUND;
	}
done:
	mvms_version_list_free(list, n);
	mvms_store_free(st);
	return rc;
}
