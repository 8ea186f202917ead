/* SPDX-License-Identifier: MIT */
/*
 * log's selection and text formats (log_fmt.h): --all gathers the model's versions and what
 * each branch reaches (a fine-tune's base included) with the public calls alone, so it runs
 * over --remote as locally; the graph (graph.c) needs children before parents, which the
 * order by time alone does not promise for versions made in the same second.
 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "graph.h"
#include "log_fmt.h"

/* The library's one-exit style (its MVMS_TRY is internal). */
#define TRY(expr)                                  \
	do {                                       \
		if ((error = (expr)) < 0)          \
			goto done;                 \
	} while (0)

/* Appends @add (n of them, handed over) to *list. */
static int append(mvms_version_info ***list, size_t *n, mvms_version_info **add, size_t nadd)
{
	mvms_version_info **t = realloc(*list, (*n + nadd + 1) * sizeof(*t));

	if (!t) {
		mvms_version_list_free(add, nadd);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	memcpy(t + *n, add, nadd * sizeof(*t));
	*list = t;
	*n += nadd;
	free(add);
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp((*(mvms_version_info *const *)a)->id, (*(mvms_version_info *const *)b)->id);
}

/* The model whose log it is: its versions come first among those of one second. */
static const char *sort_model;

/* Newest first; on one second, the model's own before its bases, then by number. */
static int by_time(const void *a, const void *b)
{
	const mvms_version_info *x = *(mvms_version_info *const *)a;
	const mvms_version_info *y = *(mvms_version_info *const *)b;
	int ox = x->model && !strcmp(x->model, sort_model), oy = y->model && !strcmp(y->model, sort_model);

	if (x->created_at != y->created_at)
		return x->created_at > y->created_at ? -1 : 1;
	if (ox != oy)
		return oy - ox;
	if (x->number != y->number)
		return x->number > y->number ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* --all: every version of @model and every version one of its branches reaches. */
static int collect_all(mvms_version_info ***out, size_t *count, mvms_store *st,
		       const char *model)
{
	mvms_version_info **list = NULL, **more = NULL;
	mvms_ref_info *branches = NULL;
	size_t n = 0, nmore = 0, nb = 0, i, k;
	int error = 0;

	TRY(mvms_version_log(&more, &nmore, st, model, NULL));
	TRY(append(&list, &n, more, nmore));
	more = NULL;
	TRY(mvms_branch_list(&branches, &nb, st, model));
	for (i = 0; i < nb; i++) {
		TRY(mvms_version_log(&more, &nmore, st, model, branches[i].name));
		TRY(append(&list, &n, more, nmore));
		more = NULL;
	}
	/* One of each: the branches share most of their history. */
	qsort(list, n, sizeof(*list), by_id);
	for (i = k = 0; i < n; i++) {
		if (k && !strcmp(list[k - 1]->id, list[i]->id))
			mvms_version_info_free(list[i]);
		else
			list[k++] = list[i];
	}
	n = k;
	sort_model = model;
	qsort(list, n, sizeof(*list), by_time);
	*out = list;
	*count = n;
	list = NULL;
	n = 0;
done:
	mvms_version_list_free(list, n);
	mvms_ref_list_free(branches, nb);
	return error;
}

/* Reorders @list so that children come before their parents (stable otherwise). */
static int children_first(mvms_version_info **list, size_t n)
{
	cli_graph_node *nodes = calloc(n + 1, sizeof(*nodes));
	const char ***pids = calloc(n + 1, sizeof(*pids));
	mvms_version_info **copy = malloc((n + 1) * sizeof(*copy));
	size_t *order = malloc((n + 1) * sizeof(*order)), i, k;
	int error = 0;

	if (!nodes || !pids || !copy || !order) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (!(pids[i] = calloc(list[i]->parent_count + 1, sizeof(**pids)))) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		for (k = 0; k < list[i]->parent_count; k++)
			pids[i][k] = list[i]->parents[k].id;
		nodes[i] = (cli_graph_node){ list[i]->id, pids[i], list[i]->parent_count };
	}
	if (cli_graph_order(order, nodes, n) < 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "log: the versions' parents form a cycle");
		goto done;
	}
	memcpy(copy, list, n * sizeof(*copy));
	for (i = 0; i < n; i++)
		list[i] = copy[order[i]];
done:
	for (i = 0; pids && i < n; i++)
		free(pids[i]);
	free(pids);
	free(nodes);
	free(copy);
	free(order);
	return error;
}

int log_collect(mvms_version_info ***out, size_t *count, mvms_store *st, const char *model,
		const log_opts *o)
{
	mvms_version_info **list = NULL;
	size_t n = 0, i;
	int error = 0;

	*out = NULL;
	*count = 0;
	if (o->all)
		TRY(collect_all(&list, &n, st, model));
	else
		TRY(mvms_version_log(&list, &n, st, model, o->branch));
	if (o->all || o->graph)
		TRY(children_first(list, n));
	/* A graph is drawn from all of them (its lanes lead on past the last row shown). */
	if (!o->all && !o->graph && o->max >= 0 && (uint64_t)o->max < n) {
		for (i = (size_t)o->max; i < n; i++)
			mvms_version_info_free(list[i]);
		n = (size_t)o->max;
	}
	*out = list;
	*count = n;
	list = NULL;
	n = 0;
done:
	mvms_version_list_free(list, n);
	return error;
}

/* "branch:main" -> "main", "tag:rel-1" -> "tag: rel-1", as git names refs; a ref of
 * another model (a base the log reaches) says whose: "base@main". */
static void print_ref(FILE *f, const char *ref, const char *other)
{
	int tag = !strncmp(ref, "tag:", 4);

	fprintf(f, "%s%s%s%s", tag ? "tag: " : "", other ? other : "", other ? "@" : "",
		tag ? ref + 4 : !strncmp(ref, "branch:", 7) ? ref + 7 : ref);
}

/* One version's line into @f: the default line (the whole message unless @first_line), or
 * --oneline's. */
static void line_of(FILE *f, const mvms_version_info *v, const char *model, int oneline,
		    int first_line)
{
	const char *msg = v->message, *nl;
	char tbuf[32];
	int mlen;
	size_t i;

	if (!v->model) { /* a version a scoped token may not see: its id only */
		fprintf(f, oneline ? "%.12s (redacted)" : "(redacted)     %.12s", v->id);
		return;
	}
	nl = first_line || oneline ? strchr(msg, '\n') : NULL;
	mlen = nl ? (int)(nl - msg) : (int)strlen(msg);
	if (oneline) {
		const char *other = strcmp(v->model, model) ? v->model : NULL;
		fprintf(f, "%.12s %s%sv%lld %.*s", v->id, other ? other : "", other ? "@" : "",
			(long long)v->number, mlen, msg);
		for (i = 0; i < v->ref_count; i++) {
			fputs(i ? ", " : " (", f);
			print_ref(f, v->refs[i], other);
		}
		fputs(v->ref_count ? ")" : "", f);
		return;
	}
	fprintf(f, "%s@v%-4lld %.12s  %s  %-12s %.*s", v->model, (long long)v->number, v->id,
		view_time(tbuf, sizeof(tbuf), v->created_at), v->author, mlen, msg);
	for (i = 0; i < v->ref_count; i++)
		fprintf(f, "%s%s", i ? ", " : "  (", v->refs[i]);
	fputs(v->ref_count ? ")" : "", f);
}

/* The graph rows of @list. */
static int print_graph(FILE *out, mvms_version_info **list, size_t n, const char *model,
		       const log_opts *o)
{
	const char **ids = calloc(n + 1, sizeof(*ids)), **pids = NULL;
	cli_graph *g = NULL;
	char *text = NULL;
	size_t len = 0, i, k;
	FILE *mem;
	int rc = -1;

	for (i = 0; ids && i < n; i++)
		ids[i] = list[i]->id;
	if (!ids || !(g = cli_graph_new(ids, n)))
		goto done;
	for (i = 0; i < n && (o->max < 0 || i < (uint64_t)o->max); i++) {
		free(pids);
		if (!(pids = calloc(list[i]->parent_count + 1, sizeof(*pids))))
			goto done;
		for (k = 0; k < list[i]->parent_count; k++)
			pids[k] = list[i]->parents[k].id;
		if (!(mem = open_memstream(&text, &len)))
			goto done;
		line_of(mem, list[i], model, o->oneline, 1);
		if (fclose(mem) != 0 ||
		    cli_graph_row(g, out, list[i]->id, pids, list[i]->parent_count, text) < 0)
			goto done;
		free(text);
		text = NULL;
	}
	rc = 0;
done:
	free(text);
	free(pids);
	free(ids);
	cli_graph_free(g);
	return rc;
}

int log_print(FILE *out, mvms_version_info **list, size_t n, const char *model,
	      const log_opts *o)
{
	size_t i;

	if (o->all || o->graph)
		return print_graph(out, list, n, model, o);
	for (i = 0; i < n; i++) {
		line_of(out, list[i], model, o->oneline, 0);
		fputc('\n', out);
	}
	return 0;
}
