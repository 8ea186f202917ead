/* SPDX-License-Identifier: MIT */
/*
 * How things look to people and programs: the JSON documents and text renderings of
 * versions, models, diffs, lineage, deployments and the administration's results (stats,
 * verify, gc, tokens), shared by the command line and the
 * HTTP server so that `--json` and the API answer with the same shapes. It formats; it does
 * not read the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "views.h"

/* How a version the reader may not see (model NULL: a server's stub) is written in text. */
#define REDACTED "(redacted)"

const char *view_time(char *buf, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		snprintf(buf, n, "%lld", (long long)t);
	else
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

cJSON *view_version(const mvms_version_info *v)
{
	cJSON *o = cJSON_CreateObject(), *a, *p;
	char tbuf[32];
	size_t i;

	/* A version the reader may not see (the server's stubs, authz.c): its id only. */
	if (!v->model) {
		if (v->id[0])
			cJSON_AddStringToObject(o, "id", v->id);
		cJSON_AddBoolToObject(o, "redacted", 1);
		return o;
	}
	cJSON_AddStringToObject(o, "model", v->model);
	cJSON_AddNumberToObject(o, "version", (double)v->number);
	cJSON_AddStringToObject(o, "id", v->id);
	cJSON_AddStringToObject(o, "message", v->message);
	cJSON_AddStringToObject(o, "author", v->author);
	cJSON_AddStringToObject(o, "created_at", view_time(tbuf, sizeof(tbuf), v->created_at));
	cJSON_AddNumberToObject(o, "files", (double)v->file_count);
	cJSON_AddNumberToObject(o, "logical_bytes", (double)v->logical_bytes);
	if (v->deleted_at) {
		/* A tombstone: the version stays in the history, its files are gone. */
		p = cJSON_AddObjectToObject(o, "deleted");
		cJSON_AddStringToObject(p, "by", v->deleted_by ? v->deleted_by : "");
		cJSON_AddStringToObject(p, "at", view_time(tbuf, sizeof(tbuf), v->deleted_at));
	}
	a = cJSON_AddArrayToObject(o, "parents");
	for (i = 0; i < v->parent_count; i++) {
		p = cJSON_CreateObject();
		if (v->parents[i].model) {
			cJSON_AddStringToObject(p, "model", v->parents[i].model);
			cJSON_AddNumberToObject(p, "version", (double)v->parents[i].number);
		}
		cJSON_AddStringToObject(p, "id", v->parents[i].id);
		if (!v->parents[i].model)
			cJSON_AddBoolToObject(p, "redacted", 1);
		cJSON_AddItemToArray(a, p);
	}
	p = cJSON_AddObjectToObject(o, "meta");
	for (i = 0; i < v->meta_count; i++)
		cJSON_AddStringToObject(p, v->meta_keys[i], v->meta_values[i]);
	a = cJSON_AddArrayToObject(o, "refs");
	for (i = 0; i < v->ref_count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v->refs[i]));
	return o;
}

cJSON *view_model(const mvms_model_info *m)
{
	cJSON *o = cJSON_CreateObject();
	char tbuf[32];

	cJSON_AddStringToObject(o, "model", m->name);
	cJSON_AddStringToObject(o, "uid", m->uid);
	cJSON_AddStringToObject(o, "description", m->description);
	cJSON_AddNumberToObject(o, "versions", (double)m->versions);
	cJSON_AddStringToObject(o, "created_at", view_time(tbuf, sizeof(tbuf), m->created_at));
	return o;
}

const char *view_diff_status(char s)
{
	switch (s) {
	case 'A': return "added";
	case 'D': return "removed";
	case 'M': return "modified";
	case 'R': return "renamed";
	case 'T': return "mode";
	case 'S': return "dtype/shape";
	default: return "?";
	}
}

cJSON *view_diff(const mvms_diff *d, int tensors)
{
	cJSON *doc = cJSON_CreateObject(), *arr, *o, *t, *ta;
	size_t i, j;

	cJSON_AddItemToObject(doc, "from", view_version(d->from));
	cJSON_AddItemToObject(doc, "to", view_version(d->to));
	arr = cJSON_AddArrayToObject(doc, "files");
	for (i = 0; i < d->file_count; i++) {
		const mvms_diff_file *f = &d->files[i];
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "status", view_diff_status(f->status));
		cJSON_AddStringToObject(o, "path", f->path);
		if (f->old_path)
			cJSON_AddStringToObject(o, "old_path", f->old_path);
		if (f->status != 'A') {
			cJSON_AddNumberToObject(o, "old_size", (double)f->old_size);
			cJSON_AddNumberToObject(o, "old_mode", f->old_mode);
			cJSON_AddStringToObject(o, "old_id", f->old_id);
		}
		if (f->status != 'D') {
			cJSON_AddNumberToObject(o, "new_size", (double)f->new_size);
			cJSON_AddNumberToObject(o, "new_mode", f->new_mode);
			cJSON_AddStringToObject(o, "new_id", f->new_id);
			cJSON_AddNumberToObject(o, "size_change", (double)f->new_size - (double)f->old_size);
			cJSON_AddNumberToObject(o, "shared_bytes", (double)f->shared_bytes);
			cJSON_AddNumberToObject(o, "new_bytes", (double)f->new_bytes);
		}
		if (f->tensor_diff) {
			t = cJSON_AddObjectToObject(o, "tensors");
			cJSON_AddNumberToObject(t, "total", (double)f->tensors_total);
			cJSON_AddNumberToObject(t, "changed", (double)f->tensors_changed);
			cJSON_AddNumberToObject(t, "added", (double)f->tensors_added);
			cJSON_AddNumberToObject(t, "removed", (double)f->tensors_removed);
			cJSON_AddNumberToObject(t, "unchanged", (double)f->tensors_unchanged);
			cJSON_AddNumberToObject(t, "bytes_total", (double)f->bytes_total);
			cJSON_AddNumberToObject(t, "bytes_changed", (double)f->bytes_changed);
			if (tensors) {
				ta = cJSON_AddArrayToObject(t, "list");
				for (j = 0; j < f->tensor_count; j++) {
					const mvms_diff_tensor *x = &f->tensors[j];
					cJSON *e = cJSON_CreateObject();
					cJSON_AddStringToObject(e, "name", x->name);
					cJSON_AddStringToObject(e, "status", view_diff_status(x->status));
					if (x->old_dtype) {
						cJSON_AddStringToObject(e, "old_dtype", x->old_dtype);
						cJSON_AddItemToObject(e, "old_shape", cJSON_Parse(x->old_shape));
					}
					if (x->new_dtype) {
						cJSON_AddStringToObject(e, "new_dtype", x->new_dtype);
						cJSON_AddItemToObject(e, "new_shape", cJSON_Parse(x->new_shape));
					}
					cJSON_AddItemToArray(ta, e);
				}
			}
		}
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(doc, "unchanged_files", (double)d->unchanged_files);
	arr = cJSON_AddArrayToObject(doc, "meta");
	for (i = 0; i < d->meta_count; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", d->meta[i].key);
		if (d->meta[i].old_value)
			cJSON_AddStringToObject(o, "old", d->meta[i].old_value);
		else
			cJSON_AddNullToObject(o, "old");
		if (d->meta[i].new_value)
			cJSON_AddStringToObject(o, "new", d->meta[i].new_value);
		else
			cJSON_AddNullToObject(o, "new");
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(doc, "shared_bytes", (double)d->shared_bytes);
	cJSON_AddNumberToObject(doc, "new_bytes", (double)d->new_bytes);
	cJSON_AddNumberToObject(doc, "stored_bytes", (double)d->stored_bytes);
	cJSON_AddNumberToObject(doc, "new_stored_bytes", (double)d->new_stored_bytes);
	return doc;
}

static void dot_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

void view_lineage_dot(FILE *f, const mvms_lineage *l)
{
	size_t i;

	fprintf(f, "digraph lineage {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n");
	for (i = 0; i < l->node_count; i++) {
		fprintf(f, "  \"%s\" [label=\"", l->nodes[i].id);
		if (l->nodes[i].model) {
			dot_escape(f, l->nodes[i].model);
			fprintf(f, "@v%lld", (long long)l->nodes[i].number);
		} else {
			fputs(REDACTED, f);
		}
		fprintf(f, "\\n%.12s%s\"%s%s];\n", l->nodes[i].id,
			l->nodes[i].deleted_at ? "\\n(deleted)" : "", i == 0 ? ", style=bold" : "",
			l->nodes[i].deleted_at ? ", color=gray, fontcolor=gray" : "");
	}
	for (i = 0; i < l->edge_count; i++)
		fprintf(f, "  \"%s\" -> \"%s\"%s;\n", l->nodes[l->edges[i].child].id,
		       l->nodes[l->edges[i].parent].id, l->edges[i].position ? " [style=dashed]" : "");
	fprintf(f, "}\n");
}

void view_lineage_mermaid(FILE *f, const mvms_lineage *l)
{
	size_t i;
	const char *p;

	/* Parents above children, as the seed's diagrams read: older at the top. */
	fprintf(f, "graph TD\n");
	for (i = 0; i < l->node_count; i++) {
		fprintf(f, "  n%zu[\"", i);
		if (!l->nodes[i].model) {
			fprintf(f, REDACTED " %.8s\"]\n", l->nodes[i].id);
			continue;
		}
		for (p = l->nodes[i].model; *p; p++)
			fputs(*p == '"' ? "#quot;" : (char[2]){ *p, 0 }, f);
		fprintf(f, "@v%lld %.8s%s\"]\n", (long long)l->nodes[i].number, l->nodes[i].id,
			l->nodes[i].deleted_at ? " (deleted)" : "");
	}
	for (i = 0; i < l->edge_count; i++)
		fprintf(f, "  n%zu %s n%zu\n", l->edges[i].parent, l->edges[i].position ? "-.->" : "-->",
		       l->edges[i].child);
}

static int cmp_depth(const void *a, const void *b)
{
	const mvms_lineage_node *x = *(mvms_lineage_node *const *)a, *y = *(mvms_lineage_node *const *)b;
	int c = strcmp(x->model ? x->model : "", y->model ? y->model : "");

	/* Descendants (negative depth) first, newest at the top, like log. */
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (c)
		return c;
	return x->number < y->number ? 1 : x->number > y->number ? -1 : 0;
}

void view_lineage_text(FILE *f, const mvms_lineage *l)
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
		if (n->model)
			fprintf(f, "%+4d  %s@v%lld  %.12s  %s  %s%s", n->depth, n->model, (long long)n->number,
				n->id, view_time(tbuf, sizeof(tbuf), n->created_at), n->message,
				n->deleted_at ? "  [deleted]" : "");
		else
			fprintf(f, "%+4d  " REDACTED "  %.12s", n->depth, n->id);
		for (j = 0; j < l->edge_count; j++)
			if (l->edges[j].child == idx) {
				const mvms_lineage_node *p = &l->nodes[l->edges[j].parent];
				if (p->model)
					fprintf(f, "%s%s@v%lld", first ? "  <- " : ", ", p->model,
						(long long)p->number);
				else
					fprintf(f, "%s" REDACTED " %.12s", first ? "  <- " : ", ", p->id);
				first = 0;
			}
		fprintf(f, "\n");
	}
	free(order);
}

cJSON *view_lineage(const mvms_lineage *l)
{
	cJSON *doc = cJSON_CreateObject(), *nodes, *edges;
	char tbuf[32];
	size_t i;

	cJSON_AddStringToObject(doc, "start", l->nodes[0].id);
	nodes = cJSON_AddArrayToObject(doc, "nodes");
	for (i = 0; i < l->node_count; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!l->nodes[i].model) {
			/* A stub: where a version the reader may not see sits in the graph. */
			cJSON_AddStringToObject(o, "id", l->nodes[i].id);
			cJSON_AddNumberToObject(o, "depth", l->nodes[i].depth);
			cJSON_AddBoolToObject(o, "redacted", 1);
			cJSON_AddItemToArray(nodes, o);
			continue;
		}
		cJSON_AddStringToObject(o, "model", l->nodes[i].model);
		cJSON_AddNumberToObject(o, "version", (double)l->nodes[i].number);
		cJSON_AddStringToObject(o, "id", l->nodes[i].id);
		cJSON_AddNumberToObject(o, "depth", l->nodes[i].depth);
		cJSON_AddStringToObject(o, "message", l->nodes[i].message);
		cJSON_AddStringToObject(o, "created_at", view_time(tbuf, sizeof(tbuf), l->nodes[i].created_at));
		if (l->nodes[i].deleted_at)
			cJSON_AddStringToObject(o, "deleted_at",
						view_time(tbuf, sizeof(tbuf), l->nodes[i].deleted_at));
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

cJSON *view_deployment(const mvms_deployment *d)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	char tbuf[32];
	long long total = 0;
	size_t i;

	cJSON_AddStringToObject(o, "model", d->model);
	cJSON_AddStringToObject(o, "env", d->env);
	cJSON_AddNumberToObject(o, "revision", (double)d->revision);
	cJSON_AddStringToObject(o, "action", d->action);
	if (d->from_revision)
		cJSON_AddNumberToObject(o, "from_revision", (double)d->from_revision);
	cJSON_AddStringToObject(o, "author", d->author);
	cJSON_AddStringToObject(o, "reason", d->reason);
	if (d->revision)
		cJSON_AddStringToObject(o, "created_at", view_time(tbuf, sizeof(tbuf), d->created_at));
	for (i = 0; i < d->target_count; i++)
		total += d->targets[i].weight;
	arr = cJSON_AddArrayToObject(o, "targets");
	for (i = 0; i < d->target_count; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddNumberToObject(t, "version", (double)d->targets[i].number);
		cJSON_AddStringToObject(t, "id", d->targets[i].id);
		cJSON_AddNumberToObject(t, "weight", d->targets[i].weight);
		cJSON_AddNumberToObject(t, "share", total ? 100.0 * d->targets[i].weight / (double)total : 0);
		cJSON_AddStringToObject(t, "endpoint", d->targets[i].endpoint);
		cJSON_AddItemToArray(arr, t);
	}
	if (d->shadow) {
		cJSON *t = cJSON_AddObjectToObject(o, "shadow");
		cJSON_AddNumberToObject(t, "version", (double)d->shadow->number);
		cJSON_AddStringToObject(t, "id", d->shadow->id);
		cJSON_AddNumberToObject(t, "percent", d->shadow->percent);
		cJSON_AddStringToObject(t, "endpoint", d->shadow->endpoint);
		cJSON_AddStringToObject(t, "compare", d->shadow->compare);
	}
	if (d->timeout_ms) { /* the environment's settings, when known */
		cJSON_AddNumberToObject(o, "timeout_ms", d->timeout_ms);
		cJSON_AddNumberToObject(o, "retries", d->retries);
	}
	return o;
}

static cJSON *view_entry(const mvms_file_entry *fe, int with_tensors)
{
	const mvms_file_info *f = &fe->info;
	cJSON *o = cJSON_CreateObject(), *arr, *e, *shape;
	char tbuf[32];
	size_t i;

	cJSON_AddStringToObject(o, "path", f->path);
	cJSON_AddNumberToObject(o, "mode", f->mode);
	cJSON_AddNumberToObject(o, "size", (double)f->size);
	cJSON_AddStringToObject(o, "id", f->id);
	cJSON_AddStringToObject(o, "format", f->format ? f->format : "");
	cJSON_AddNumberToObject(o, "chunks", (double)f->chunks);
	cJSON_AddNumberToObject(o, "tensor_count", (double)f->tensor_count);
	if (fe->mtime || fe->mtime_ns)
		cJSON_AddStringToObject(o, "mtime", view_time(tbuf, sizeof(tbuf), fe->mtime));
	else
		cJSON_AddNullToObject(o, "mtime");
	cJSON_AddNumberToObject(o, "mtime_ns", fe->mtime_ns);
	if (!with_tensors)
		return o;
	arr = cJSON_AddArrayToObject(o, "tensors");
	for (i = 0; i < fe->ntensors; i++) {
		const mvms_tensor_summary *t = &fe->tensors[i];
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", t->name);
		cJSON_AddStringToObject(e, "dtype", t->dtype);
		/* The shape as the JSON array it is ("[4096,4096]" in the store). */
		shape = cJSON_Parse(t->shape);
		cJSON_AddItemToObject(e, "shape", shape ? shape : cJSON_CreateArray());
		cJSON_AddNumberToObject(e, "offset", (double)t->offset);
		cJSON_AddNumberToObject(e, "length", (double)t->length);
		cJSON_AddStringToObject(e, "id", t->id);
		cJSON_AddItemToArray(arr, e);
	}
	return o;
}

cJSON *view_listing(const mvms_listing *l, int with_tensors)
{
	cJSON *doc = cJSON_CreateObject(), *arr;
	size_t i;

	cJSON_AddStringToObject(doc, "model", l->model);
	cJSON_AddNumberToObject(doc, "version", (double)l->number);
	cJSON_AddStringToObject(doc, "id", l->id);
	arr = cJSON_AddArrayToObject(doc, "files");
	for (i = 0; i < l->count; i++)
		cJSON_AddItemToArray(arr, view_entry(&l->files[i], with_tensors));
	return doc;
}

cJSON *view_file_list(const mvms_file_info *files, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", files[i].path ? files[i].path : "");
		cJSON_AddNumberToObject(o, "size", (double)files[i].size);
		cJSON_AddStringToObject(o, "id", files[i].id);
		cJSON_AddNumberToObject(o, "mode", files[i].mode);
		cJSON_AddStringToObject(o, "format", files[i].format ? files[i].format : "");
		cJSON_AddNumberToObject(o, "chunks", (double)files[i].chunks);
		cJSON_AddNumberToObject(o, "tensors", (double)files[i].tensor_count);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

cJSON *view_merge_conflicts(const mvms_merge_result *r)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; r && i < r->conflict_count; i++) {
		const mvms_merge_conflict *c = &r->conflicts[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", c->path);
		if (c->tensor)
			cJSON_AddStringToObject(o, "tensor", c->tensor);
		else
			cJSON_AddNullToObject(o, "tensor");
		cJSON_AddStringToObject(o, "kind", c->kind);
		cJSON_AddStringToObject(o, "base", c->base_id);
		cJSON_AddStringToObject(o, "ours", c->ours_id);
		cJSON_AddStringToObject(o, "theirs", c->theirs_id);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

cJSON *view_merge(const mvms_merge_result *r, const char *model, const char *source,
		  const char *into)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "model", model);
	cJSON_AddStringToObject(doc, "into", into ? into : "main");
	cJSON_AddStringToObject(doc, "source", source);
	cJSON_AddStringToObject(doc, "result", r->up_to_date ? "up-to-date"
					       : r->fast_forward ? "fast-forward" : "merged");
	cJSON_AddNumberToObject(doc, "version", (double)r->number);
	cJSON_AddStringToObject(doc, "id", r->id);
	cJSON_AddNumberToObject(doc, "tensor_merged_files", (double)r->tensor_merged_files);
	cJSON_AddItemToObject(doc, "conflicts", view_merge_conflicts(r));
	return doc;
}

cJSON *view_stats(const mvms_stats *s)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddNumberToObject(doc, "models", (double)s->models);
	cJSON_AddNumberToObject(doc, "versions", (double)s->versions);
	cJSON_AddNumberToObject(doc, "files", (double)s->files);
	cJSON_AddNumberToObject(doc, "unique_files", (double)s->contents);
	cJSON_AddNumberToObject(doc, "logical_bytes", (double)s->logical_bytes);
	cJSON_AddNumberToObject(doc, "unique_bytes", (double)s->unique_bytes);
	cJSON_AddNumberToObject(doc, "stored_bytes", (double)s->stored_bytes);
	cJSON_AddNumberToObject(doc, "chunks", (double)s->chunks);
	cJSON_AddNumberToObject(doc, "delta_chunks", (double)s->delta_chunks);
	cJSON_AddNumberToObject(doc, "delta_bytes", (double)s->delta_bytes);
	cJSON_AddNumberToObject(doc, "packs", (double)s->packs);
	cJSON_AddNumberToObject(doc, "sources", (double)s->sources);
	cJSON_AddNumberToObject(doc, "source_bytes", (double)s->source_bytes);
	cJSON_AddNumberToObject(doc, "dedup_ratio", s->dedup_ratio);
	cJSON_AddNumberToObject(doc, "compression_ratio", s->compression_ratio);
	return doc;
}

cJSON *view_verify_problem(const mvms_verify_problem *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "object", p->object);
	cJSON_AddStringToObject(o, "message", p->message);
	cJSON_AddStringToObject(o, "breaks", p->versions);
	return o;
}

/* An orphan breaks nothing: no "breaks". */
cJSON *view_verify_orphan(const mvms_verify_problem *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "object", p->object);
	cJSON_AddStringToObject(o, "message", p->message);
	return o;
}

cJSON *view_verify(const mvms_verify_result *r, int quick, cJSON *problems, cJSON *orphans)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddBoolToObject(doc, "ok", r->problems == 0);
	cJSON_AddBoolToObject(doc, "quick", quick);
	cJSON_AddNumberToObject(doc, "packs", (double)r->packs);
	cJSON_AddNumberToObject(doc, "chunks", (double)r->chunks);
	cJSON_AddNumberToObject(doc, "bytes", (double)r->bytes);
	cJSON_AddNumberToObject(doc, "chunk_lists", (double)r->chunk_lists);
	cJSON_AddNumberToObject(doc, "manifests", (double)r->manifests);
	cJSON_AddItemToObject(doc, "problems", problems ? problems : cJSON_CreateArray());
	cJSON_AddNumberToObject(doc, "orphan_bytes", (double)r->orphan_bytes);
	cJSON_AddItemToObject(doc, "orphans", orphans ? orphans : cJSON_CreateArray());
	return doc;
}

cJSON *view_gc_item(const mvms_gc_item *it)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "key", it->key);
	cJSON_AddNumberToObject(o, "size", (double)it->size);
	cJSON_AddNumberToObject(o, "age", (double)it->age);
	cJSON_AddStringToObject(o, "reason", it->reason);
	return o;
}

cJSON *view_gc(const mvms_gc_result *r, int dry_run, cJSON *items)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddBoolToObject(doc, "dry_run", dry_run);
	cJSON_AddNumberToObject(doc, "packs", (double)r->packs);
	cJSON_AddNumberToObject(doc, "pack_bytes", (double)r->pack_bytes);
	cJSON_AddNumberToObject(doc, "chunks", (double)r->chunks);
	cJSON_AddNumberToObject(doc, "contents", (double)r->contents);
	cJSON_AddNumberToObject(doc, "objects", (double)r->objects);
	cJSON_AddNumberToObject(doc, "object_bytes", (double)r->object_bytes);
	cJSON_AddNumberToObject(doc, "unindexed_packs", (double)r->unindexed_packs);
	cJSON_AddNumberToObject(doc, "missing_packs", (double)r->missing_packs);
	cJSON_AddNumberToObject(doc, "temp_files", (double)r->temp_files);
	cJSON_AddNumberToObject(doc, "temp_bytes", (double)r->temp_bytes);
	cJSON_AddNumberToObject(doc, "kept_young_packs", (double)r->kept_young);
	cJSON_AddNumberToObject(doc, "kept_young_objects", (double)r->kept_objects);
	cJSON_AddNumberToObject(doc, "leases", (double)r->leases);
	cJSON_AddNumberToObject(doc, "expired_leases", (double)r->expired_leases);
	cJSON_AddNumberToObject(doc, "cutoff", (double)r->cutoff);
	cJSON_AddNumberToObject(doc, "rewritten_packs", (double)r->rewritten_packs);
	cJSON_AddNumberToObject(doc, "rewritten_chunks", (double)r->rewritten_chunks);
	if (items)
		cJSON_AddItemToObject(doc, "items", items);
	return doc;
}

const char *view_token_scope(int scope)
{
	switch (scope) {
	case MVMS_SCOPE_READ: return "read";
	case MVMS_SCOPE_WRITE: return "write";
	case MVMS_SCOPE_ADMIN: return "admin";
	default: return "?";
	}
}

/* @key: the time @t, or null when it is 0 (never, not yet). */
static void add_time_or_null(cJSON *o, const char *key, int64_t t)
{
	char tbuf[32];

	if (t)
		cJSON_AddStringToObject(o, key, view_time(tbuf, sizeof(tbuf), t));
	else
		cJSON_AddNullToObject(o, key);
}

cJSON *view_token_created(const char *token, const mvms_token_info *info)
{
	cJSON *doc = cJSON_CreateObject();
	char tbuf[32];

	cJSON_AddStringToObject(doc, "token", token);
	cJSON_AddStringToObject(doc, "id", info->id);
	cJSON_AddStringToObject(doc, "scope", view_token_scope(info->scope));
	cJSON_AddStringToObject(doc, "models", info->models);
	add_time_or_null(doc, "expires_at", info->expires_at);
	/* What token list shows of it, so that a remote caller gets the whole of it. */
	cJSON_AddStringToObject(doc, "created_at", view_time(tbuf, sizeof(tbuf), info->created_at));
	cJSON_AddStringToObject(doc, "description", info->description ? info->description : "");
	return doc;
}

cJSON *view_token_list(const mvms_token_info *list, size_t n)
{
	cJSON *doc = cJSON_CreateArray();
	char tbuf[32];
	size_t i;

	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", list[i].id);
		cJSON_AddStringToObject(o, "scope", view_token_scope(list[i].scope));
		cJSON_AddStringToObject(o, "models", list[i].models);
		cJSON_AddStringToObject(o, "created_at",
					view_time(tbuf, sizeof(tbuf), list[i].created_at));
		add_time_or_null(o, "expires_at", list[i].expires_at);
		add_time_or_null(o, "revoked_at", list[i].revoked_at);
		cJSON_AddStringToObject(o, "description", list[i].description);
		cJSON_AddItemToArray(doc, o);
	}
	return doc;
}

cJSON *view_token_revoked(const char *id)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "id", id);
	cJSON_AddBoolToObject(doc, "revoked", 1);
	return doc;
}

cJSON *view_whoami(const mvms_token_info *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "scope", t->scope ? view_token_scope(t->scope) : "none");
	if (t->models)
		cJSON_AddStringToObject(o, "models", t->models);
	else
		cJSON_AddNullToObject(o, "models");
	return o;
}
