/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the version DAG: lineage (ancestors, descendants, both; depth limits) and
 * merge bases on shapes built directly in the database (chain, diamond, criss-cross,
 * cross-model, unrelated), diff of real pushes (each change kind, tensors, metadata) and
 * two pushes racing on one branch through two store handles.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tap.h"
#include "store_int.h"
#include "mvms/dag.h"

static char dir[] = "/tmp/mvms-test-dag-XXXXXX";
static char storedir[512];

/* ---- DAG shapes straight into the tables ---- */

typedef struct vrow {
	char model[32];
	int number;
	char oid[65];
} vrow;

static unsigned long long rnd_state;

static unsigned long long rnd(void)
{
	/* xorshift64*: ids only need to be unique and look random */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ull;
}

static void ensure_model(mvms_store *st, const char *model)
{
	mvms_model_info *m = NULL;

	if (mvms_model_get(&m, st, model) == 0) {
		mvms_model_info_free(m);
		return;
	}
	if (mvms_model_register(st, model, NULL) < 0)
		diag("register %s: %s", model, mvms_error_last());
}

/* Inserts version @number of @model with the given parents (in position order). */
static vrow mkv(mvms_store *st, const char *model, int number, const vrow *p0, const vrow *p1)
{
	const vrow *parents[2] = { p0, p1 };
	char sql[1024];
	vrow v;
	int i;

	memset(&v, 0, sizeof(v));
	snprintf(v.model, sizeof(v.model), "%s", model);
	v.number = number;
	for (i = 0; i < 4; i++)
		snprintf(v.oid + 16 * i, sizeof(v.oid) - 16 * (size_t)i, "%016llx", rnd());
	ensure_model(st, model);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO versions(oid, model_id, number, message, author, created_at, file_count, "
		 "logical_bytes) SELECT '%s', id, %d, '%s v%d', 't', %d, 0, 0 FROM models WHERE name = '%s'",
		 v.oid, number, model, number, 1000 + number, model);
	if (mvms_db_exec(st->db, sql) < 0)
		diag("insert %s@v%d: %s", model, number, mvms_error_last());
	for (i = 0; i < 2; i++) {
		if (!parents[i])
			continue;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO version_parents(child, position, parent) SELECT c.id, %d, p.id "
			 "FROM versions c, versions p WHERE c.oid = '%s' AND p.oid = '%s'",
			 i, v.oid, parents[i]->oid);
		if (mvms_db_exec(st->db, sql) < 0)
			diag("insert parent of %s@v%d: %s", model, number, mvms_error_last());
	}
	return v;
}

static const char *spec_of(const vrow *v)
{
	static char buf[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s@%s", v->model, v->oid);
	return buf[k];
}

static mvms_lineage *lineage(mvms_store *st, const vrow *v, int direction, int depth)
{
	mvms_lineage *l = NULL;
	int rc = mvms_lineage_get(&l, st, spec_of(v), direction, depth);

	if (rc < 0) {
		diag("lineage %s: %s", spec_of(v), mvms_error_last());
		return NULL;
	}
	return l;
}

/* Index of @v in @l, or -1. */
static long node_of(const mvms_lineage *l, const vrow *v)
{
	size_t i;

	for (i = 0; l && i < l->node_count; i++)
		if (strcmp(l->nodes[i].id, v->oid) == 0)
			return (long)i;
	return -1;
}

/* The lineage holds exactly @n nodes, those listed, at the given depths. */
static int nodes_are(const mvms_lineage *l, size_t n, const vrow *const *vs, const int *depths)
{
	size_t i;
	long k;

	if (!l)
		return 0;
	if (l->node_count != n) {
		diag("have %zu nodes, want %zu", l->node_count, n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if ((k = node_of(l, vs[i])) < 0) {
			diag("%s@v%d missing", vs[i]->model, vs[i]->number);
			return 0;
		}
		if (l->nodes[k].depth != depths[i]) {
			diag("%s@v%d at depth %d, want %d", vs[i]->model, vs[i]->number,
			     l->nodes[k].depth, depths[i]);
			return 0;
		}
		if (strcmp(l->nodes[k].model, vs[i]->model) || l->nodes[k].number != vs[i]->number) {
			diag("node %ld is %s@v%lld, want %s@v%d", k, l->nodes[k].model,
			     (long long)l->nodes[k].number, vs[i]->model, vs[i]->number);
			return 0;
		}
	}
	return 1;
}

/* The lineage has an edge child -> parent at @position (position < 0: any). */
static int has_edge(const mvms_lineage *l, const vrow *child, const vrow *parent, int position)
{
	long c = node_of(l, child), p = node_of(l, parent);
	size_t i;

	if (c < 0 || p < 0)
		return 0;
	for (i = 0; i < l->edge_count; i++)
		if (l->edges[i].child == (size_t)c && l->edges[i].parent == (size_t)p &&
		    (position < 0 || l->edges[i].position == position))
			return 1;
	return 0;
}

/* Merge bases of a and b are exactly the listed versions (any order). */
static int bases_are(mvms_store *st, const vrow *a, const vrow *b, size_t n, const vrow *const *want)
{
	mvms_version_info **list = NULL;
	size_t count = 0, i, j;
	int good = 1, rc;

	rc = mvms_merge_base(&list, &count, st, spec_of(a), spec_of(b));
	if (rc < 0) {
		diag("merge-base: %s", mvms_error_last());
		return 0;
	}
	if (count != n) {
		diag("%zu merge bases, want %zu", count, n);
		good = 0;
	}
	for (i = 0; good && i < n; i++) {
		int found = 0;
		for (j = 0; j < count; j++)
			if (strcmp(list[j]->id, want[i]->oid) == 0)
				found = 1;
		if (!found) {
			diag("%s@v%d is not among the merge bases", want[i]->model, want[i]->number);
			good = 0;
		}
	}
	for (j = 0; !good && j < count; j++)
		diag("  got base %s@v%lld", list[j]->model, (long long)list[j]->number);
	mvms_version_list_free(list, count);
	return good;
}

static void test_shapes(mvms_store *st)
{
	vrow c[7], d[5], x[6], b[3], f[3], u1;
	mvms_lineage *l;
	int i;

	/* chain: c1 <- c2 <- ... <- c6 */
	c[1] = mkv(st, "chain", 1, NULL, NULL);
	for (i = 2; i <= 6; i++)
		c[i] = mkv(st, "chain", i, &c[i - 1], NULL);

	l = lineage(st, &c[6], MVMS_LINEAGE_ANCESTORS, -1);
	{
		const vrow *vs[] = { &c[6], &c[5], &c[4], &c[3], &c[2], &c[1] };
		int ds[] = { 0, 1, 2, 3, 4, 5 };
		ok(nodes_are(l, 6, vs, ds), "chain: ancestors of the tip, unlimited: all 6 at depths 0..5");
	}
	ok(l && l->node_count && strcmp(l->nodes[0].id, c[6].oid) == 0, "chain: nodes[0] is the start");
	is_int(l ? l->edge_count : 0, 5, "chain: 5 edges");
	{
		int all = l != NULL;
		for (i = 2; l && i <= 6; i++)
			all &= has_edge(l, &c[i], &c[i - 1], 0);
		ok(all, "chain: each edge is child -> parent at position 0");
	}
	mvms_lineage_free(l);

	l = lineage(st, &c[6], MVMS_LINEAGE_ANCESTORS, 1);
	{
		const vrow *vs[] = { &c[6], &c[5] };
		int ds[] = { 0, 1 };
		ok(nodes_are(l, 2, vs, ds), "chain: depth 1 gives the tip and its parent");
	}
	is_int(l ? l->edge_count : 0, 1, "chain: depth 1 has 1 edge");
	mvms_lineage_free(l);

	l = lineage(st, &c[6], MVMS_LINEAGE_ANCESTORS, 3);
	{
		const vrow *vs[] = { &c[6], &c[5], &c[4], &c[3] };
		int ds[] = { 0, 1, 2, 3 };
		ok(nodes_are(l, 4, vs, ds), "chain: depth 3 gives v6..v3 at depths 0..3");
	}
	is_int(l ? l->edge_count : 0, 3, "chain: depth 3 has 3 edges");
	mvms_lineage_free(l);

	l = lineage(st, &c[6], MVMS_LINEAGE_ANCESTORS, 0);
	{
		const vrow *vs[] = { &c[6] };
		int ds[] = { 0 };
		ok(nodes_are(l, 1, vs, ds) && l->edge_count == 0, "chain: depth 0 is the start alone");
	}
	mvms_lineage_free(l);

	l = lineage(st, &c[1], MVMS_LINEAGE_DESCENDANTS, -1);
	{
		const vrow *vs[] = { &c[1], &c[2], &c[3], &c[4], &c[5], &c[6] };
		int ds[] = { 0, -1, -2, -3, -4, -5 };
		ok(nodes_are(l, 6, vs, ds), "chain: descendants of the root: all 6 at depths 0..-5");
	}
	is_int(l ? l->edge_count : 0, 5, "chain: descendants have 5 edges");
	ok(l && has_edge(l, &c[2], &c[1], 0) && has_edge(l, &c[6], &c[5], 0),
	   "chain: descendant edges still point child -> parent");
	mvms_lineage_free(l);

	l = lineage(st, &c[1], MVMS_LINEAGE_ANCESTORS, -1);
	ok(l && l->node_count == 1 && l->edge_count == 0, "chain: the root has no ancestors");
	mvms_lineage_free(l);

	/* --both from the middle */
	l = lineage(st, &c[3], MVMS_LINEAGE_BOTH, -1);
	{
		const vrow *vs[] = { &c[1], &c[2], &c[3], &c[4], &c[5], &c[6] };
		int ds[] = { 2, 1, 0, -1, -2, -3 };
		ok(nodes_are(l, 6, vs, ds), "chain: both directions from v3: ancestors > 0, descendants < 0");
	}
	is_int(l ? l->edge_count : 0, 5, "chain: both directions: 5 edges");
	mvms_lineage_free(l);
	l = lineage(st, &c[3], MVMS_LINEAGE_BOTH, 1);
	{
		const vrow *vs[] = { &c[2], &c[3], &c[4] };
		int ds[] = { 1, 0, -1 };
		ok(nodes_are(l, 3, vs, ds), "chain: both directions, depth 1: v2, v3, v4");
	}
	mvms_lineage_free(l);
	{
		mvms_lineage *bad = NULL;
		is_int(mvms_lineage_get(&bad, st, spec_of(&c[3]), 0, -1), MVMS_EINVALID,
		       "lineage: direction 0 is refused");
		is_int(mvms_lineage_get(&bad, st, "chain@v99", MVMS_LINEAGE_ANCESTORS, -1), MVMS_ENOTFOUND,
		       "lineage of an unknown version: ENOTFOUND");
		mvms_lineage_free(bad);
	}
	{
		const vrow *w[] = { &c[4] };
		ok(bases_are(st, &c[4], &c[6], 1, w), "chain: merge-base of v4 and v6 is v4");
	}

	/* Shapes where a branch's line goes down to main by first parents, but the fork point
	 * is not the merge base: a sub-branch of the branch was merged into main (sub), or the
	 * branch synced main in (sync). The in-memory index must fall back to the walk. */
	{
		vrow m1, m2, b1, b2, s1, m3, n1, n2, c1, c2, n3;
		m1 = mkv(st, "sub", 1, NULL, NULL);
		m2 = mkv(st, "sub", 2, &m1, NULL);
		b1 = mkv(st, "sub", 3, &m1, NULL);
		b2 = mkv(st, "sub", 4, &b1, NULL);
		s1 = mkv(st, "sub", 5, &b1, NULL);
		m3 = mkv(st, "sub", 6, &m2, &s1);
		n1 = mkv(st, "sync", 1, NULL, NULL);
		n2 = mkv(st, "sync", 2, &n1, NULL);
		c1 = mkv(st, "sync", 3, &n1, NULL);
		c2 = mkv(st, "sync", 4, &c1, &n2);
		n3 = mkv(st, "sync", 5, &n2, NULL);
		{
			const vrow *w1[] = { &b1 }, *w2[] = { &n2 };
			int round;
			/* twice: the second asks the in-memory index */
			for (round = 0; round < 2; round++) {
				ok(bases_are(st, &b2, &m3, 1, w1), "sub-branch merged into main: the base is "
				   "the branch version it came from, not the fork (round %d)", round);
				ok(bases_are(st, &m3, &b2, 1, w1), "sub-branch: symmetric (round %d)", round);
				ok(bases_are(st, &c2, &n3, 1, w2), "branch that synced main in: the base is the "
				   "synced main version (round %d)", round);
			}
		}
	}

	/* diamond: d1 <- d2, d1 <- d3, d4 = merge(d2, d3) */
	d[1] = mkv(st, "dia", 1, NULL, NULL);
	d[2] = mkv(st, "dia", 2, &d[1], NULL);
	d[3] = mkv(st, "dia", 3, &d[1], NULL);
	d[4] = mkv(st, "dia", 4, &d[2], &d[3]);
	{
		const vrow *w[] = { &d[1] };
		ok(bases_are(st, &d[2], &d[3], 1, w), "diamond: merge-base of the sides is the fork point, once");
		ok(bases_are(st, &d[3], &d[2], 1, w), "diamond: merge-base is symmetric");
	}
	{
		const vrow *w[] = { &d[2] };
		ok(bases_are(st, &d[4], &d[2], 1, w), "diamond: merge-base of the merge and a side is that side");
	}
	l = lineage(st, &d[4], MVMS_LINEAGE_ANCESTORS, -1);
	{
		const vrow *vs[] = { &d[4], &d[2], &d[3], &d[1] };
		int ds[] = { 0, 1, 1, 2 };
		ok(nodes_are(l, 4, vs, ds), "diamond: lineage of the merge has 4 nodes at depths 0,1,1,2");
	}
	is_int(l ? l->edge_count : 0, 4, "diamond: 4 edges (the fork point is not repeated)");
	ok(l && has_edge(l, &d[4], &d[2], 0), "diamond: first parent edge has position 0");
	ok(l && has_edge(l, &d[4], &d[3], 1), "diamond: second parent edge has position 1");
	ok(l && has_edge(l, &d[2], &d[1], 0) && has_edge(l, &d[3], &d[1], 0),
	   "diamond: both sides point at the fork");
	mvms_lineage_free(l);
	l = lineage(st, &d[1], MVMS_LINEAGE_DESCENDANTS, -1);
	{
		const vrow *vs[] = { &d[1], &d[2], &d[3], &d[4] };
		int ds[] = { 0, -1, -1, -2 };
		ok(nodes_are(l, 4, vs, ds), "diamond: descendants of the fork: 4 nodes");
	}
	is_int(l ? l->edge_count : 0, 4, "diamond: descendants: 4 edges");
	mvms_lineage_free(l);

	/* criss-cross: x2, x3 from x1; x4 = merge(x2, x3); x5 = merge(x3, x2) */
	x[1] = mkv(st, "cc", 1, NULL, NULL);
	x[2] = mkv(st, "cc", 2, &x[1], NULL);
	x[3] = mkv(st, "cc", 3, &x[1], NULL);
	x[4] = mkv(st, "cc", 4, &x[2], &x[3]);
	x[5] = mkv(st, "cc", 5, &x[3], &x[2]);
	{
		const vrow *w[] = { &x[2], &x[3] };
		ok(bases_are(st, &x[4], &x[5], 2, w), "criss-cross: two merge bases, both returned");
	}
	l = lineage(st, &x[5], MVMS_LINEAGE_ANCESTORS, -1);
	ok(l && l->node_count == 4 && l->edge_count == 4 && has_edge(l, &x[5], &x[2], 1) &&
	   has_edge(l, &x[5], &x[3], 0), "criss-cross: lineage of v5 has 4 nodes, 4 edges, v2 at position 1");
	mvms_lineage_free(l);

	/* cross-model: f1 is a fine-tune of b1 */
	b[1] = mkv(st, "base", 1, NULL, NULL);
	b[2] = mkv(st, "base", 2, &b[1], NULL);
	f[1] = mkv(st, "ft", 1, &b[1], NULL);
	f[2] = mkv(st, "ft", 2, &f[1], NULL);
	l = lineage(st, &f[2], MVMS_LINEAGE_ANCESTORS, -1);
	{
		const vrow *vs[] = { &f[2], &f[1], &b[1] };
		int ds[] = { 0, 1, 2 };
		ok(nodes_are(l, 3, vs, ds), "cross-model: ancestors of ft@v2 reach base@v1 (model 'base')");
	}
	mvms_lineage_free(l);
	l = lineage(st, &b[1], MVMS_LINEAGE_DESCENDANTS, -1);
	{
		const vrow *vs[] = { &b[1], &b[2], &f[1], &f[2] };
		int ds[] = { 0, -1, -1, -2 };
		ok(nodes_are(l, 4, vs, ds), "cross-model: descendants of base@v1 include ft@v1 and ft@v2");
	}
	mvms_lineage_free(l);
	{
		const vrow *w[] = { &b[1] };
		ok(bases_are(st, &f[2], &b[2], 1, w), "cross-model: merge-base of ft@v2 and base@v2 is base@v1");
	}

	/* unrelated */
	u1 = mkv(st, "lonely", 1, NULL, NULL);
	{
		mvms_version_info **list = NULL;
		size_t count = 99;
		int rc = mvms_merge_base(&list, &count, st, spec_of(&u1), spec_of(&c[6]));
		ok(rc == 0 && count == 0, "unrelated histories: merge-base succeeds with count 0");
		mvms_version_list_free(list, rc == 0 ? count : 0);
		count = 99;
		rc = mvms_merge_base(&list, &count, st, spec_of(&d[4]), spec_of(&x[5]));
		ok(rc == 0 && count == 0, "unrelated models with history: count 0");
		mvms_version_list_free(list, rc == 0 ? count : 0);
		is_int(mvms_merge_base(&list, &count, st, spec_of(&u1), "lonely@v7"), MVMS_ENOTFOUND,
		       "merge-base of an unknown version: ENOTFOUND");
	}
	{
		const vrow *w[] = { &u1 };
		ok(bases_are(st, &u1, &u1, 1, w), "merge-base of a version with itself is itself");
	}
}

/* ---- diff of real pushes ---- */

static void write_file(const char *rel, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len)
		diag("cannot write %s", path);
	if (f)
		fclose(f);
}

static void write_text(const char *rel, const char *s)
{
	write_file(rel, s, strlen(s));
}

static void remove_file(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	unlink(path);
}

/* A small safetensors file of three F32 tensors a, b, c of 4096 values each; @change says
 * which ones get different values (bit i: tensor i), @reshape gives tensor c shape [2,2048]. */
static void write_safetensors(const char *rel, unsigned change, int reshape)
{
	static const char *names[3] = { "a", "b", "c" };
	const size_t n = 4096, tb = n * 4;
	char header[512], *buf;
	size_t hl, pad, i, j, total;
	uint64_t hl64;
	int len = 0;

	len += snprintf(header + len, sizeof(header) - (size_t)len, "{");
	for (i = 0; i < 3; i++)
		len += snprintf(header + len, sizeof(header) - (size_t)len,
				"%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
				i ? "," : "", names[i], i == 2 && reshape ? "[2,2048]" : "[4096]",
				i * tb, (i + 1) * tb);
	len += snprintf(header + len, sizeof(header) - (size_t)len, "}");
	hl = (size_t)len;
	pad = (8 - hl % 8) % 8;
	hl += pad;
	total = 8 + hl + 3 * tb;
	buf = malloc(total);
	if (!buf)
		return;
	hl64 = hl;
	for (i = 0; i < 8; i++)
		buf[i] = (char)(hl64 >> (8 * i));
	memcpy(buf + 8, header, (size_t)len);
	memset(buf + 8 + len, ' ', pad);
	for (i = 0; i < 3; i++) {
		float *p = (float *)(buf + 8 + hl + i * tb);
		for (j = 0; j < n; j++)
			p[j] = (float)(i * 10000 + j) * ((change >> i) & 1 ? -0.5f : 0.25f);
	}
	write_file(rel, buf, total);
	free(buf);
}

static int push_tree(mvms_push_result *r, mvms_store *st, const char *model, const char *const *meta,
		     size_t nmeta)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	char path[512];
	int rc;

	snprintf(path, sizeof(path), "%s/tree", dir);
	o.message = "diff test";
	o.author = "tester";
	o.meta = meta;
	o.meta_count = nmeta;
	rc = mvms_push(r, st, model, path, &o);
	if (rc < 0)
		diag("push: %s", mvms_error_last());
	return rc;
}

static const mvms_diff_file *dfile(const mvms_diff *d, const char *path)
{
	size_t i;

	for (i = 0; d && i < d->file_count; i++)
		if (strcmp(d->files[i].path, path) == 0)
			return &d->files[i];
	return NULL;
}

static const mvms_diff_meta *dmeta(const mvms_diff *d, const char *key)
{
	size_t i;

	for (i = 0; d && i < d->meta_count; i++)
		if (strcmp(d->meta[i].key, key) == 0)
			return &d->meta[i];
	return NULL;
}

static int streq_null(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static void test_diff(mvms_store *st)
{
	static const char *meta1[] = { "lr=0.1", "epochs=3", "same=x" };
	static const char *meta2[] = { "lr=0.2", "opt=adam", "same=x" };
	mvms_push_result r1, r2;
	const mvms_diff_file *f;
	const mvms_diff_meta *m;
	mvms_diff *d = NULL;
	char path[512], big[8192];
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s/tree", dir);
	mkdir(path, 0755);
	write_text("tree/keep.txt", "unchanged file\n");
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 23);
	write_file("tree/mod.bin", big, sizeof(big));
	write_text("tree/gone.txt", "this file goes away\n");
	write_text("tree/old-name.txt", "renamed content, unique\n");
	write_text("tree/run.sh", "#!/bin/sh\necho run\n");
	write_safetensors("tree/model.safetensors", 0, 0);
	snprintf(path, sizeof(path), "%s/tree/run.sh", dir);
	chmod(path, 0644);
	is_int(push_tree(&r1, st, "d", meta1, 3), 0, "diff: push d@v1");

	big[100] = 'Z';
	write_file("tree/mod.bin", big, sizeof(big));
	remove_file("tree/gone.txt");
	remove_file("tree/old-name.txt");
	write_text("tree/new-name.txt", "renamed content, unique\n");
	write_text("tree/added.txt", "a brand new file\n");
	chmod(path, 0755);
	write_safetensors("tree/model.safetensors", 2, 1); /* b's values, c's shape */
	is_int(push_tree(&r2, st, "d", meta2, 3), 0, "diff: push d@v2");

	rc = mvms_diff_get(&d, st, "d@v1", "d@v2", MVMS_DIFF_TENSORS);
	is_int(rc, 0, "diff d@v1 d@v2");
	if (rc < 0) {
		diag("%s", mvms_error_last());
		return;
	}
	ok(d->from && d->to && d->from->number == 1 && d->to->number == 2, "diff: from v1 to v2");
	is_int(d->file_count, 6, "diff: 6 changed files");
	is_int(d->unchanged_files, 1, "diff: 1 unchanged file (keep.txt)");
	for (i = 1; i < d->file_count; i++)
		if (strcmp(d->files[i - 1].path, d->files[i].path) >= 0)
			break;
	ok(i >= d->file_count, "diff: files sorted by path");
	ok(!dfile(d, "keep.txt"), "diff: the unchanged file is not listed");

	f = dfile(d, "added.txt");
	ok(f && f->status == MVMS_DIFF_ADDED && f->new_size == 17, "added.txt: added, 17 bytes");
	ok(f && f->new_bytes == 17 && f->shared_bytes == 0, "added.txt: all its bytes are new");

	f = dfile(d, "gone.txt");
	ok(f && f->status == MVMS_DIFF_REMOVED && f->old_size == 20, "gone.txt: removed, was 20 bytes");

	f = dfile(d, "mod.bin");
	ok(f && f->status == MVMS_DIFF_MODIFIED && f->old_size == sizeof(big) &&
	   f->new_size == sizeof(big), "mod.bin: modified, same size");
	ok(f && strcmp(f->old_id, f->new_id) != 0, "mod.bin: old and new ids differ");
	ok(f && f->shared_bytes + f->new_bytes == f->new_size,
	   "mod.bin: shared + new bytes = its size");
	ok(f && !f->tensor_diff, "mod.bin: no tensor diff for a non-safetensors file");

	f = dfile(d, "new-name.txt");
	ok(f && f->status == MVMS_DIFF_RENAMED && f->old_path && strcmp(f->old_path, "old-name.txt") == 0,
	   "new-name.txt: renamed from old-name.txt");
	ok(f && strcmp(f->old_id, f->new_id) == 0 && f->new_bytes == 0, "rename: same content, nothing new");
	ok(!dfile(d, "old-name.txt"), "rename: the old path is not also listed as removed");

	f = dfile(d, "run.sh");
	ok(f && f->status == MVMS_DIFF_MODE && f->old_mode == 0644 && f->new_mode == 0755,
	   "run.sh: mode change 0644 -> 0755");

	f = dfile(d, "model.safetensors");
	ok(f && f->status == MVMS_DIFF_MODIFIED && f->tensor_diff, "model.safetensors: modified, tensor diff");
	if (f) {
		int sb = 0, sc = 0;
		is_int(f->tensors_total, 3, "tensors: 3 in B");
		is_int(f->tensors_changed, 2, "tensors: 2 changed (b's data, c's shape)");
		is_int(f->tensors_unchanged, 1, "tensors: 1 unchanged");
		is_int(f->tensors_added + f->tensors_removed, 0, "tensors: none added or removed");
		is_int(f->tensor_count, 2, "tensors: 2 entries listed");
		for (i = 0; i < f->tensor_count; i++) {
			if (strcmp(f->tensors[i].name, "b") == 0 && f->tensors[i].status == 'M')
				sb = 1;
			if (strcmp(f->tensors[i].name, "c") == 0 && f->tensors[i].status == 'S' &&
			    f->tensors[i].old_shape && strstr(f->tensors[i].old_shape, "4096") &&
			    f->tensors[i].new_shape && strstr(f->tensors[i].new_shape, "2048"))
				sc = 1;
		}
		ok(sb, "tensor b: data changed (M)");
		ok(sc, "tensor c: shape changed (S) [4096] -> [2,2048]");
		is_int(f->bytes_total, 3 * 4096 * 4, "tensors: bytes_total");
		is_int(f->bytes_changed, 2 * 4096 * 4, "tensors: bytes_changed");
		ok(f->shared_bytes >= 4096 * 4 && f->new_bytes >= 4096 * 4,
		   "model.safetensors: unchanged tensor's bytes shared, changed ones new");
	}

	is_int(d->meta_count, 3, "meta: 3 keys changed (same=x is not listed)");
	m = dmeta(d, "lr");
	ok(m && streq_null(m->old_value, "0.1") && streq_null(m->new_value, "0.2"), "meta lr: 0.1 -> 0.2");
	m = dmeta(d, "epochs");
	ok(m && streq_null(m->old_value, "3") && m->new_value == NULL, "meta epochs: 3 -> absent");
	m = dmeta(d, "opt");
	ok(m && m->old_value == NULL && streq_null(m->new_value, "adam"), "meta opt: absent -> adam");
	ok(!dmeta(d, "same"), "meta: an unchanged key is not listed");
	mvms_diff_free(d);
	d = NULL;

	/* Without MVMS_DIFF_TENSORS: summaries only. */
	rc = mvms_diff_get(&d, st, "d@v1", "d@v2", 0);
	f = rc == 0 ? dfile(d, "model.safetensors") : NULL;
	ok(f && f->tensor_diff && f->tensors_changed == 2 && f->tensor_count == 0,
	   "without the flag: tensor summary but no entries");
	mvms_diff_free(d);
	d = NULL;

	/* Reverse direction */
	rc = mvms_diff_get(&d, st, "d@v2", "d@v1", 0);
	ok(rc == 0 && dfile(d, "added.txt") && dfile(d, "added.txt")->status == 'D' &&
	   dfile(d, "gone.txt") && dfile(d, "gone.txt")->status == 'A',
	   "reverse diff: added <-> removed");
	ok(rc == 0 && dfile(d, "old-name.txt") && dfile(d, "old-name.txt")->status == 'R',
	   "reverse diff: renamed back");
	mvms_diff_free(d);
	d = NULL;

	rc = mvms_diff_get(&d, st, "d@v2", "d@v2", 0);
	ok(rc == 0 && d->file_count == 0 && d->meta_count == 0 && d->unchanged_files == 6,
	   "diff of a version with itself: nothing changed");
	mvms_diff_free(d);
	d = NULL;

	/* Across models: same tree pushed as another model */
	rc = push_tree(&r1, st, "d2", meta2, 3);
	is_int(rc, 0, "push the same tree as d2@v1");
	rc = mvms_diff_get(&d, st, "d@v2", "d2@v1", 0);
	ok(rc == 0 && d->file_count == 0 && d->meta_count == 0 && d->new_bytes == 0,
	   "diff across models: identical trees, nothing new");
	ok(rc == 0 && strcmp(d->to->model, "d2") == 0, "diff across models: to is d2");
	mvms_diff_free(d);
	d = NULL;

	is_int(mvms_diff_get(&d, st, "d@v1", "d@v9", 0), MVMS_ENOTFOUND, "diff with an unknown ref: ENOTFOUND");
	mvms_diff_free(d);
}

/* ---- two pushes racing on one branch ---- */

static int verify_cb(const mvms_verify_problem *p, void *payload)
{
	int *n = payload;

	if ((*n)++ < 8)
		diag("verify: %s: %s (%s)", p->object, p->message, p->versions);
	return 0;
}

typedef struct race {
	mvms_store *st2;
	int calls;
	int rc_b;
	mvms_push_result rb;
} race;

static void race_progress(uint64_t done, uint64_t total, void *payload)
{
	race *r = payload;
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	char path[512];

	(void)done;
	(void)total;
	if (r->calls++)
		return;
	snprintf(path, sizeof(path), "%s/race-b", dir);
	o.message = "push B";
	o.author = "tester";
	r->rc_b = mvms_push(&r->rb, r->st2, "race", path, &o);
	if (r->rc_b < 0)
		diag("push B: %s", mvms_error_last());
}

/* On a store of its own: the DAG shapes above have no manifests, so would not verify. */
static void test_race(void)
{
	mvms_store *st = NULL, *st2 = NULL;
	char racestore[512];
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result r0, ra;
	mvms_version_info *head = NULL;
	mvms_verify_result vr;
	race rr;
	char path[512], *big;
	size_t i, bigsz = 3u << 20;
	int rc, nprob = 0;

	memset(&rr, 0, sizeof(rr));
	rr.rc_b = 1;
	snprintf(path, sizeof(path), "%s/race-0", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/race-a", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/race-b", dir);
	mkdir(path, 0755);
	write_text("race-0/f.txt", "start\n");
	write_text("race-b/f.txt", "B's content\n");
	big = malloc(bigsz);
	if (!big)
		return;
	for (i = 0; i < bigsz; i++)
		big[i] = (char)(rnd() >> 56);
	write_file("race-a/big.bin", big, bigsz);
	free(big);

	snprintf(racestore, sizeof(racestore), "%s/race-store", dir);
	is_int(mvms_store_init(&st, racestore, NULL), 0, "race: a new store");
	if (!st)
		return;
	snprintf(path, sizeof(path), "%s/race-0", dir);
	is_int(mvms_push(&r0, st, "race", path, &o), 0, "race: first version");
	is_int(mvms_store_open(&st2, racestore, 0), 0, "race: a second handle on the same store");
	if (!st2) {
		mvms_store_free(st);
		return;
	}
	rr.st2 = st2;

	o.message = "push A";
	o.author = "tester";
	o.progress = race_progress;
	o.payload = &rr;
	snprintf(path, sizeof(path), "%s/race-a", dir);
	rc = mvms_push(&ra, st, "race", path, &o);
	ok(rr.calls > 0, "race: A's progress callback ran (%d calls)", rr.calls);
	is_int(rr.rc_b, 0, "race: push B (inside A) succeeded");
	ok(rr.rc_b == 0 && rr.rb.created && rr.rb.number == 2, "race: B made v2");
	is_int(rc, MVMS_ECONFLICT, "race: push A fails with ECONFLICT");
	if (rc != MVMS_ECONFLICT)
		diag("push A returned %d: %s", rc, rc < 0 ? mvms_error_last() : "success");
	rc = mvms_version_resolve(&head, st, "race@main");
	ok(rc == 0 && strcmp(head->id, rr.rb.id) == 0, "race: main points at B's version");
	mvms_version_info_free(head);
	head = NULL;
	rc = mvms_version_resolve(&head, st2, "race@latest");
	ok(rc == 0 && head->number == 2 && head->parent_count == 1 && head->parents[0].number == 1,
	   "race: the second handle agrees; B's parent is v1");
	mvms_version_info_free(head);
	head = NULL;
	is_int(mvms_version_resolve(&head, st, "race@v3"), MVMS_ENOTFOUND, "race: A made no version");
	mvms_version_info_free(head);
	memset(&vr, 0, sizeof(vr));
	rc = mvms_store_verify(&vr, st, verify_cb, NULL, &nprob);
	is_int(rc, 0, "race: the store verifies");
	if (rc != 0)
		diag("%llu problems", (unsigned long long)vr.problems);

	/* A's retry now succeeds on top of B. */
	o.progress = NULL;
	o.payload = NULL;
	rc = mvms_push(&ra, st, "race", path, &o);
	ok(rc == 0 && ra.number == 3, "race: A again, after B: v3");
	rc = mvms_version_resolve(&head, st2, "race@v3");
	ok(rc == 0 && head->parent_count == 1 && head->parents[0].number == 2,
	   "race: A's retry has B's version as parent (nothing lost)");
	mvms_version_info_free(head);
	mvms_store_free(st2);
	mvms_store_free(st);
}

/* The first DAG question of a handle takes the SQL path, later ones the in-memory index: both
 * must give the same answer, node for node and edge for edge. */
static void same_lineage(const mvms_lineage *a, const mvms_lineage *b, const char *what)
{
	size_t i, j, same = a->node_count == b->node_count && a->edge_count == b->edge_count;

	for (i = 0; same && i < a->node_count; i++) {
		for (j = 0; j < b->node_count && strcmp(a->nodes[i].id, b->nodes[j].id); j++)
			;
		if (j == b->node_count || a->nodes[i].depth != b->nodes[j].depth ||
		    a->nodes[i].number != b->nodes[j].number || strcmp(a->nodes[i].model, b->nodes[j].model) ||
		    strcmp(a->nodes[i].message, b->nodes[j].message))
			same = 0;
	}
	ok(same, "SQL path and in-memory index agree: %s", what);
}

static void test_paths_agree(void)
{
	mvms_store *st = NULL;
	mvms_model_info *models = NULL;
	size_t nm = 0, i, checked = 0;
	int dir_i;

	if (mvms_store_open(&st, storedir, 0) < 0 || mvms_model_list(&models, &nm, st) < 0) {
		ok(0, "open the store to compare the two DAG paths");
		mvms_store_free(st);
		return;
	}
	mvms_store_free(st);
	for (i = 0; i < nm; i++) {
		int64_t which[2] = { 1, models[i].versions };
		size_t w;
		for (w = 0; w < 2; w++)
			for (dir_i = MVMS_LINEAGE_ANCESTORS; dir_i <= MVMS_LINEAGE_BOTH; dir_i++) {
				mvms_store *fresh = NULL;
				mvms_lineage *a = NULL, *b = NULL;
				char spec[200];
				snprintf(spec, sizeof(spec), "%s@v%lld", models[i].name, (long long)which[w]);
				if (models[i].versions < 1 || mvms_store_open(&fresh, storedir, 0) < 0)
					continue;
				/* The first question takes the SQL path, the second the index. */
				if (mvms_lineage_get(&a, fresh, spec, dir_i, -1) == 0 &&
				    mvms_lineage_get(&b, fresh, spec, dir_i, -1) == 0) {
					char what[240];
					snprintf(what, sizeof(what), "%s direction %d", spec, dir_i);
					same_lineage(a, b, what);
					checked++;
				}
				mvms_lineage_free(a);
				mvms_lineage_free(b);
				mvms_store_free(fresh);
			}
	}
	ok(checked >= 10, "the two DAG paths were compared on %zu lineages", checked);
	mvms_model_list_free(models, nm);
}

/* Merge bases against an oracle built from full ancestor sets: the common ancestors of a and
 * b that are not a proper ancestor of another common ancestor. Every pair of versions (up
 * to a cap), through the SQL path (a fresh handle's first question) and the index, which
 * answers "one is on the other's first-parent line" without a walk. */
typedef struct anc_set {
	char spec[200];
	char (*ids)[MVMS_VERSION_ID_HEXSZ + 1];
	size_t n;
} anc_set;

static int anc_has(const anc_set *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

static const anc_set *anc_find(const anc_set *all, size_t n, const char *id)
{
	size_t i;

	/* ids[0] of each set is the version itself (depth 0 comes first). */
	for (i = 0; i < n; i++)
		if (all[i].n && strcmp(all[i].ids[0], id) == 0)
			return &all[i];
	return NULL;
}

static void test_merge_base_oracle(void)
{
	enum { MAXV = 90, MAXPAIRS = 1500 };
	mvms_store *st = NULL, *fresh = NULL;
	mvms_model_info *models = NULL;
	anc_set *all = calloc(MAXV, sizeof(*all));
	size_t nm = 0, nv = 0, i, j, k, pairs = 0, wrong = 0, sql_pairs = 0, judged = 0;

	if (!all || mvms_store_open(&st, storedir, 0) < 0 || mvms_model_list(&models, &nm, st) < 0) {
		ok(0, "open the store for the merge-base oracle");
		goto done;
	}
	for (i = 0; i < nm; i++)
		for (k = 1; k <= (size_t)models[i].versions && nv < MAXV; k++) {
			mvms_lineage *l = NULL;
			anc_set *s = &all[nv];
			size_t d, m;
			snprintf(s->spec, sizeof(s->spec), "%s@v%zu", models[i].name, k);
			if (mvms_lineage_get(&l, st, s->spec, MVMS_LINEAGE_ANCESTORS, -1) < 0)
				continue;
			s->ids = calloc(l->node_count + 1, sizeof(*s->ids));
			for (d = 0; s->ids && d <= l->node_count && s->n < l->node_count; d++)
				for (m = 0; m < l->node_count; m++)
					if ((size_t)l->nodes[m].depth == d)
						snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", l->nodes[m].id);
			mvms_lineage_free(l);
			nv++;
		}
	for (i = 0; i < nv && pairs < MAXPAIRS; i++)
		for (j = 0; j < nv && pairs < MAXPAIRS; j++) {
			mvms_version_info **list = NULL;
			size_t count = 0, want = 0, got = 0, c, e;
			mvms_store *h = st;
			int bad = 0;
			if (i == j)
				continue;
			/* Every fifth pair asks a fresh handle: its first question takes the SQL path. */
			if (pairs % 5 == 0) {
				mvms_store_free(fresh);
				fresh = NULL;
				if (mvms_store_open(&fresh, storedir, 0) == 0) {
					h = fresh;
					sql_pairs++;
				}
			}
			pairs++;
			if (mvms_merge_base(&list, &count, h, all[i].spec, all[j].spec) < 0) {
				diag("merge-base %s %s: %s", all[i].spec, all[j].spec, mvms_error_last());
				wrong++;
				continue;
			}
			for (c = 0; c < all[i].n; c++) {
				const char *id = all[i].ids[c];
				int lowest = anc_has(&all[j], id);
				for (e = 0; lowest && e < all[i].n; e++) {
					const anc_set *o;
					if (e == c || !anc_has(&all[j], all[i].ids[e]))
						continue;
					o = anc_find(all, nv, all[i].ids[e]);
					if (!o) {
						/* an ancestor outside the sampled versions: cannot judge */
						lowest = 0;
						bad = -1;
					} else if (anc_has(o, id)) {
						lowest = 0;
					}
				}
				if (lowest) {
					want++;
					for (e = 0; e < count; e++)
						if (strcmp(list[e]->id, id) == 0)
							got++;
				}
			}
			if (bad == 0 && (want != count || got != want)) {
				diag("merge-base %s %s: %zu answers, oracle %zu, %zu in common", all[i].spec,
				     all[j].spec, count, want, got);
				wrong++;
			}
			if (bad == 0)
				judged++;
			mvms_version_list_free(list, count);
		}
	ok(judged >= 100 && wrong == 0, "merge-base agrees with the ancestor-set oracle on %zu of "
	   "%zu pairs (%zu through the SQL path), %zu wrong", judged, pairs, sql_pairs, wrong);
done:
	for (i = 0; all && i < MAXV; i++)
		free(all[i].ids);
	free(all);
	mvms_model_list_free(models, nm);
	mvms_store_free(fresh);
	mvms_store_free(st);
}

int main(void)
{
	mvms_store *st = NULL;
	char cmd[600];

	rnd_state = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32) ^
		    0x9e3779b97f4a7c15ull;
	if (!rnd_state)
		rnd_state = 1;
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(storedir, sizeof(storedir), "%s/store", dir);
	if (mvms_store_init(&st, storedir, NULL) < 0) {
		printf("Bail out! init: %s\n", mvms_error_last());
		return 1;
	}
	test_shapes(st);
	test_diff(st);
	mvms_store_free(st);
	test_paths_agree();
	test_merge_base_oracle();
	test_race();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
