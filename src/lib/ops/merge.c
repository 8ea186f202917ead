/* SPDX-License-Identifier: MIT */
/*
 * Merge: a 3-way merge by path of a source version into a branch, against their merge
 * base(s). A safetensors file changed on both sides in disjoint tensors is merged tensor by
 * tensor: a new, valid file is built (header rebuilt, tensor data streamed and verified from
 * the chunks of each side) and stored through the normal push path, so it dedups; a file
 * with bytes outside its tensors is merged as a whole instead, since a rebuild would drop
 * them. GGUF and ONNX files are merged tensor by tensor when both sides keep the same layout
 * (merge_layout.c). Conflicts are reported and nothing is written unless they are resolved.
 * Fast-forwards move the branch.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "history.h"
#include "store_int.h"
#include "dag_int.h"
#include "merge_int.h"
#include "mvms/dag.h"
#include "safetensors.h"
#include "transport.h"

struct merge_ctx {
	mvms_store *st;
	const mvms_merge_options *o;
	mvms_merge_result *res;
	mvms_push__entry *out;     /* the merged tree */
	size_t nout, cout;
	char **tmpfiles;           /* built files, removed at the end */
	size_t ntmp;
};

static int entry_eq(const mvms_vfile *a, const mvms_vfile *b)
{
	if (!a || !b)
		return a == b;
	return a->mode == b->mode && mvms_oid_cmp(&a->oid, &b->oid) == 0;
}

static void fmt_id(char *out, const mvms_vfile *f)
{
	if (f)
		mvms_oid_fmt(out, &f->oid);
	else
		out[0] = '\0';
}

static int add_conflict(merge_ctx *c, const char *path, const char *tensor, const char *kind,
			const char *base_id, const char *ours_id, const char *theirs_id)
{
	mvms_merge_conflict *t = realloc(c->res->conflicts,
					 (c->res->conflict_count + 1) * sizeof(*t));

	if (!t)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	c->res->conflicts = t;
	t = &t[c->res->conflict_count++];
	memset(t, 0, sizeof(*t));
	t->path = strdup(path);
	t->tensor = tensor ? strdup(tensor) : NULL;
	t->kind = strdup(kind);
	snprintf(t->base_id, sizeof(t->base_id), "%s", base_id);
	snprintf(t->ours_id, sizeof(t->ours_id), "%s", ours_id);
	snprintf(t->theirs_id, sizeof(t->theirs_id), "%s", theirs_id);
	if (!t->path || !t->kind || (tensor && !t->tensor))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return 0;
}

static int take(merge_ctx *c, const mvms_vfile *f)
{
	if (!f)
		return 0; /* deleted in the result */
	if (c->nout == c->cout) {
		size_t ncap = c->cout ? c->cout * 2 : 16;
		mvms_push__entry *t = realloc(c->out, ncap * sizeof(*t));
		if (!t)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		c->out = t;
		c->cout = ncap;
	}
	memset(&c->out[c->nout], 0, sizeof(c->out[0]));
	c->out[c->nout].path = f->path;
	c->out[c->nout].mode = f->mode;
	c->out[c->nout].content = f->oid;
	c->out[c->nout].size = f->size;
	c->nout++;
	return 0;
}

static int resolution_for(const merge_ctx *c, const char *path)
{
	size_t i;

	for (i = 0; i < c->o->resolve_count; i++)
		if (strcmp(c->o->resolve[i].path, path) == 0)
			return c->o->resolve[i].side;
	return MVMS_MERGE_NONE;
}

/* ---- merging the bases: a path counts as in the base only when all bases agree ---- */

typedef struct base_entry {
	const mvms_vfile *f;       /* NULL with ambiguous: the bases disagree */
	int ambiguous;
	const char *path;
} base_entry;

static int cmp_base(const void *a, const void *b)
{
	return strcmp(((const base_entry *)a)->path, ((const base_entry *)b)->path);
}

static int virtual_base(base_entry **out, size_t *count, mvms_vfile **lists, const size_t *counts,
			size_t nbases)
{
	base_entry *b = NULL;
	size_t total = 0, n = 0, i, j, k;
	int error = 0;

	for (i = 0; i < nbases; i++)
		total += counts[i];
	b = calloc(total + 1, sizeof(*b));
	MVMS_CHECK_ALLOC(b, error);
	for (i = 0; i < nbases; i++)
		for (j = 0; j < counts[i]; j++) {
			b[n].path = lists[i][j].path;
			b[n].f = &lists[i][j];
			n++;
		}
	if (n > 1)
		qsort(b, n, sizeof(*b), cmp_base);
	/* Collapse runs of one path: agreeing on content and present in every base, or not. */
	for (i = 0, k = 0; i < n; i = j) {
		int agree = 1;
		for (j = i + 1; j < n && strcmp(b[j].path, b[i].path) == 0; j++)
			if (!entry_eq(b[j].f, b[i].f))
				agree = 0;
		b[k] = b[i];
		if (!agree || j - i != nbases) {
			b[k].ambiguous = 1;
			b[k].f = NULL;
		}
		k++;
	}
	*out = b;
	*count = k;
	b = NULL;
done:
	free(b);
	return error;
}

/* ---- tensor by tensor ---- */

typedef struct plan_item {
	const mvms_vtensor *t;
	const mvms_vfile *from;    /* whose content holds its bytes */
	uint64_t key;              /* its place: the offset of the same name in ours, else theirs */
} plan_item;

typedef struct fd_sink {
	int fd;
	const char *path;
} fd_sink;

static int write_sink(const void *data, size_t len, void *payload)
{
	fd_sink *s = payload;

	return mvms_write_full(s->fd, data, len, s->path);
}

static int buf_sink(const void *data, size_t len, void *payload)
{
	return mvms_buf_put(payload, data, len);
}

/* Reads and parses a stored safetensors file's header, through verified chunk reads. */
static int read_header(mvms_safetensors **out, mvms_store *st, const mvms_vfile *f)
{
	mvms_buf head = MVMS_BUF_INIT;
	mvms_safetensors *sf = NULL;
	uint64_t n;
	size_t needed = 0;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_pull__content_range(st, &f->oid, 0, 8, buf_sink, &head));
	n = mvms_le64_get((const unsigned char *)head.ptr);
	if (n > MVMS_SAFETENSORS_HEADER_MAX || 8 + n > f->size) {
		error = mvms_error_set(MVMS_EMISMATCH, "merge: %s: bad safetensors header", f->path);
		goto done;
	}
	MVMS_TRY(mvms_pull__content_range(st, &f->oid, 8, n, buf_sink, &head));
	error = mvms_safetensors_parse(&sf, &needed, head.ptr, head.size, f->size);
	if (error < 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "merge: %s: stored safetensors header no "
				       "longer parses", f->path);
		goto done;
	}
	*out = sf;
	sf = NULL;
done:
	mvms_safetensors_free(sf);
	mvms_buf_dispose(&head);
	return error;
}

/* A safetensors file's __metadata__ (NULL when it has none). */
static int read_metadata(char **out, mvms_store *st, const mvms_vfile *f)
{
	mvms_safetensors *sf = NULL;
	int error = 0;

	*out = NULL;
	MVMS_TRY(read_header(&sf, st, f));
	if (sf->metadata_json) {
		*out = strdup(sf->metadata_json);
		MVMS_CHECK_ALLOC(*out, error);
	}
done:
	mvms_safetensors_free(sf);
	return error;
}

/* Whether both sides can be rebuilt from their tensors: a file with bytes outside its
 * tensors (gaps, trailing bytes) would lose them, so it is merged as a whole file. */
static int tensor_mergeable(int *out, mvms_store *st, const mvms_vfile *o, const mvms_vfile *t)
{
	mvms_safetensors *so = NULL, *stt = NULL;
	int error = 0;

	*out = 0;
	MVMS_TRY(read_header(&so, st, o));
	MVMS_TRY(read_header(&stt, st, t));
	*out = mvms_safetensors_dense(so, o->size) && mvms_safetensors_dense(stt, t->size);
done:
	mvms_safetensors_free(so);
	mvms_safetensors_free(stt);
	return error;
}

/* Writes a new safetensors file with the planned tensors, in plan order. */
static int build_file(char **path_out, uint64_t *size_out, merge_ctx *c, const mvms_vfile *ours,
		      const plan_item *plan, size_t n)
{
	mvms_buf hdr = MVMS_BUF_INIT;
	char *meta = NULL, *path = NULL;
	unsigned char len8[8];
	uint64_t off = 0, total;
	fd_sink sink;
	size_t i;
	int fd = -1, error = 0;

	MVMS_TRY(read_metadata(&meta, c->st, ours));
	MVMS_TRY(mvms_buf_puts(&hdr, "{"));
	if (meta) {
		MVMS_TRY(mvms_buf_puts(&hdr, "\"__metadata__\":"));
		MVMS_TRY(mvms_buf_puts(&hdr, meta));
	}
	for (i = 0; i < n; i++) {
		const mvms_vtensor *t = plan[i].t;
		MVMS_TRY(mvms_buf_puts(&hdr, (i || meta) ? "," : ""));
		MVMS_TRY(mvms_buf_put_json_string(&hdr, t->name));
		MVMS_TRY(mvms_buf_printf(&hdr, ":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%" PRIu64
					 ",%" PRIu64 "]}", t->dtype, t->shape, off, off + t->length));
		off += t->length;
	}
	MVMS_TRY(mvms_buf_puts(&hdr, "}"));
	/* Tensor data starts 8-byte aligned, as safetensors writers do. */
	while (hdr.size % 8)
		MVMS_TRY(mvms_buf_puts(&hdr, " "));
	if (asprintf(&path, "%s/tmp-merge-XXXXXX", c->st->path) < 0) {
		path = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		error = mvms_error_set(MVMS_ERROR, "merge: create %s: %s", path, strerror(errno));
		free(path);
		path = NULL;
		goto done;
	}
	mvms_le64_put(len8, hdr.size);
	MVMS_TRY(mvms_write_full(fd, len8, 8, path));
	MVMS_TRY(mvms_write_full(fd, hdr.ptr, hdr.size, path));
	sink.fd = fd;
	sink.path = path;
	for (i = 0; i < n; i++)
		MVMS_TRY(mvms_pull__content_range(c->st, &plan[i].from->oid, plan[i].t->offset,
						  plan[i].t->length, write_sink, &sink));
	total = 8 + hdr.size + off;
	if (close(fd) < 0) {
		fd = -1;
		error = mvms_error_set(MVMS_ERROR, "merge: %s: %s", path, strerror(errno));
		goto done;
	}
	fd = -1;
	*path_out = path;
	*size_out = total;
	path = NULL;
done:
	if (fd >= 0)
		close(fd);
	if (path) {
		unlink(path);
		free(path);
	}
	free(meta);
	mvms_buf_dispose(&hdr);
	return error;
}

static int tensor_eq(const mvms_vtensor *a, const mvms_vtensor *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a->dtype, b->dtype) == 0 && strcmp(a->shape, b->shape) == 0 &&
	       mvms_oid_cmp(&a->oid, &b->oid) == 0;
}

static int cmp_plan(const void *x, const void *y)
{
	const plan_item *a = x, *b = y;

	return a->key < b->key ? -1 : a->key > b->key ? 1 : 0;
}

/* Merges one safetensors path tensor by tensor. Adds tensor conflicts (then takes nothing),
 * or adds the merged file to the result. */
static int merge_tensors(merge_ctx *c, const mvms_vfile *b, const mvms_vfile *o,
			 const mvms_vfile *t)
{
	mvms_vtensor *tb = NULL, *to = NULL, *tt = NULL;
	size_t nb = 0, no = 0, nt = 0, i = 0, j = 0, k = 0, np = 0, nours = 0, before;
	plan_item *plan = NULL, *theirs_only = NULL;
	size_t ntheirs_only = 0, from_theirs = 0;
	char idb[MVMS_OID_HEXSZ + 1], ido[MVMS_OID_HEXSZ + 1], idt[MVMS_OID_HEXSZ + 1];
	char *built = NULL;
	uint64_t built_size = 0;
	int error = 0;

	MVMS_TRY(mvms_dag__load_tensors(&tb, &nb, c->st, b->content));
	MVMS_TRY(mvms_dag__load_tensors(&to, &no, c->st, o->content));
	MVMS_TRY(mvms_dag__load_tensors(&tt, &nt, c->st, t->content));
	plan = calloc(no + nt + 1, sizeof(*plan));
	theirs_only = calloc(nt + 1, sizeof(*theirs_only));
	MVMS_CHECK_ALLOC(plan, error);
	MVMS_CHECK_ALLOC(theirs_only, error);
	before = c->res->conflict_count;
	/* The three lists are sorted by name: walk them together. */
	while (i < nb || j < no || k < nt) {
		const char *name = NULL;
		const mvms_vtensor *xb = NULL, *xo = NULL, *xt = NULL, *pick;
		if (i < nb)
			name = tb[i].name;
		if (j < no && (!name || strcmp(to[j].name, name) < 0))
			name = to[j].name;
		if (k < nt && (!name || strcmp(tt[k].name, name) < 0))
			name = tt[k].name;
		if (i < nb && strcmp(tb[i].name, name) == 0)
			xb = &tb[i++];
		if (j < no && strcmp(to[j].name, name) == 0)
			xo = &to[j++];
		if (k < nt && strcmp(tt[k].name, name) == 0)
			xt = &tt[k++];
		if (tensor_eq(xo, xt) || tensor_eq(xt, xb))
			pick = xo;
		else if (tensor_eq(xo, xb))
			pick = xt;
		else if (c->o->strategy == MVMS_MERGE_OURS)
			pick = xo;
		else if (c->o->strategy == MVMS_MERGE_THEIRS)
			pick = xt;
		else {
			if (xb) mvms_oid_fmt(idb, &xb->oid); else idb[0] = '\0';
			if (xo) mvms_oid_fmt(ido, &xo->oid); else ido[0] = '\0';
			if (xt) mvms_oid_fmt(idt, &xt->oid); else idt[0] = '\0';
			MVMS_TRY(add_conflict(c, o->path, name, "tensor", idb, ido, idt));
			continue;
		}
		if (!pick)
			continue; /* removed */
		if (pick == xo) {
			plan[np].t = xo;
			plan[np].from = o;
			plan[np].key = xo->offset;
			np++;
		} else if (xo) {
			/* Theirs' bytes, at ours' place in the file. */
			plan[np].t = xt;
			plan[np].from = t;
			plan[np].key = xo->offset;
			np++;
			from_theirs++;
		} else {
			theirs_only[ntheirs_only].t = xt;
			theirs_only[ntheirs_only].from = t;
			theirs_only[ntheirs_only].key = xt->offset;
			ntheirs_only++;
			from_theirs++;
		}
	}
	if (c->res->conflict_count > before)
		goto done;
	/* Order: ours' tensors by ours' offsets (a replaced one keeps ours' slot), then the
	 * tensors only theirs has, by theirs' offsets. */
	nours = np;
	if (nours > 1)
		qsort(plan, nours, sizeof(*plan), cmp_plan);
	if (ntheirs_only > 1)
		qsort(theirs_only, ntheirs_only, sizeof(*theirs_only), cmp_plan);
	for (i = 0; i < ntheirs_only; i++)
		plan[np++] = theirs_only[i];
	if (from_theirs == 0 && np == no) {
		/* Nothing of theirs survived: the file is ours as it is. */
		error = take(c, o);
		goto done;
	}
	MVMS_TRY(build_file(&built, &built_size, c, o, plan, np));
	{
		char **tf = realloc(c->tmpfiles, (c->ntmp + 1) * sizeof(*tf));
		MVMS_CHECK_ALLOC(tf, error);
		c->tmpfiles = tf;
		c->tmpfiles[c->ntmp++] = built;
	}
	MVMS_TRY(take(c, o));
	c->out[c->nout - 1].abs = built;
	c->out[c->nout - 1].size = built_size;
	built = NULL;
	c->res->tensor_merged_files++;
done:
	if (built) {
		unlink(built);
		free(built);
	}
	free(plan);
	free(theirs_only);
	mvms_dag__free_tensors(tb, nb);
	mvms_dag__free_tensors(to, no);
	mvms_dag__free_tensors(tt, nt);
	return error;
}

/* Decides one path. */
static int merge_path(merge_ctx *c, const char *path, const base_entry *be, const mvms_vfile *o,
		      const mvms_vfile *t)
{
	const mvms_vfile *b = be ? be->f : NULL;
	int ambiguous = be && be->ambiguous, side, dense = 1, error;
	char idb[MVMS_OID_HEXSZ + 1], ido[MVMS_OID_HEXSZ + 1], idt[MVMS_OID_HEXSZ + 1];
	const char *kind;

	if (entry_eq(o, t))
		return take(c, o);
	if (!ambiguous && entry_eq(o, b))
		return take(c, t);
	if (!ambiguous && entry_eq(t, b))
		return take(c, o);
	side = resolution_for(c, path);
	if (side == MVMS_MERGE_OURS)
		return take(c, o);
	if (side == MVMS_MERGE_THEIRS)
		return take(c, t);
	if (!ambiguous && b && o && t && b->safetensors && o->safetensors && t->safetensors &&
	    o->mode == t->mode) {
		if ((error = tensor_mergeable(&dense, c->st, o, t)) < 0)
			return error;
		if (dense)
			return merge_tensors(c, b, o, t);
	}
	/* GGUF, ONNX and ONNX data files (safetensors keeps the rules above). */
	if (!ambiguous && b && o && t && b->tensors && o->tensors && t->tensors && !o->safetensors &&
	    !t->safetensors && o->mode == t->mode) {
		int merged = 0;
		if ((error = mvms_merge__same_layout(&merged, c, b, o, t)) < 0 || merged)
			return error;
	}
	if (c->o->strategy == MVMS_MERGE_OURS)
		return take(c, o);
	if (c->o->strategy == MVMS_MERGE_THEIRS)
		return take(c, t);
	fmt_id(idb, b);
	fmt_id(ido, o);
	fmt_id(idt, t);
	kind = ambiguous ? "bases-disagree" : !dense ? "bytes-outside-tensors"
	     : !b ? "add-add" : (!o || !t) ? "modify-delete"
	     : (o->mode != t->mode && mvms_oid_cmp(&o->oid, &t->oid) == 0) ? "mode"
	     : "both-modified";
	return add_conflict(c, path, NULL, kind, idb, ido, idt);
}

/* The file lists of a three-way merge; c->out points into them until the commit. */
typedef struct trees {
	int64_t *bases;
	size_t nbases, nb, no, nt;
	mvms_vfile **blists, *fo, *ft;
	size_t *bcounts;
	base_entry *vb;
} trees;

static void trees_free(trees *t)
{
	size_t i;

	free(t->vb);
	for (i = 0; t->blists && i < t->nbases; i++)
		mvms_dag__free_files(t->blists[i], t->bcounts[i]);
	free(t->blists);
	free(t->bcounts);
	mvms_dag__free_files(t->fo, t->no);
	mvms_dag__free_files(t->ft, t->nt);
	free(t->bases);
}

/* Merges the files of version rows @head and @src against their merge bases, path by path
 * (the three sorted path lists walked together), into c->out and c->res's conflicts. */
static int merge_trees(merge_ctx *c, trees *t, int64_t head, int64_t src)
{
	mvms_store *st = c->st;
	size_t i, j, k, bi;
	int error = 0;

	MVMS_TRY(mvms_dag__merge_base_rows(&t->bases, &t->nbases, st, head, src));
	t->blists = calloc(t->nbases + 1, sizeof(*t->blists));
	t->bcounts = calloc(t->nbases + 1, sizeof(*t->bcounts));
	MVMS_CHECK_ALLOC(t->blists, error);
	MVMS_CHECK_ALLOC(t->bcounts, error);
	for (i = 0; i < t->nbases; i++) {
		/* A deleted base has no files: a 3-way merge against it would be a wrong one. */
		if ((error = mvms_history__live(st, t->bases[i])) < 0) {
			char why[512];
			snprintf(why, sizeof(why), "%s", mvms_error_last());
			error = mvms_error_set(error == MVMS_ENOTFOUND ? MVMS_EINVALID : error,
					       "merge: the merge base %s", why);
			goto done;
		}
		MVMS_TRY(mvms_dag__load_files(&t->blists[i], &t->bcounts[i], st, t->bases[i]));
	}
	MVMS_TRY(virtual_base(&t->vb, &t->nb, t->blists, t->bcounts, t->nbases));
	MVMS_TRY(mvms_dag__load_files(&t->fo, &t->no, st, head));
	MVMS_TRY(mvms_dag__load_files(&t->ft, &t->nt, st, src));
	for (bi = 0, j = 0, k = 0; bi < t->nb || j < t->no || k < t->nt;) {
		const char *path = NULL;
		const base_entry *xb = NULL;
		const mvms_vfile *xo = NULL, *xt = NULL;
		if (bi < t->nb)
			path = t->vb[bi].path;
		if (j < t->no && (!path || strcmp(t->fo[j].path, path) < 0))
			path = t->fo[j].path;
		if (k < t->nt && (!path || strcmp(t->ft[k].path, path) < 0))
			path = t->ft[k].path;
		if (bi < t->nb && strcmp(t->vb[bi].path, path) == 0)
			xb = &t->vb[bi++];
		if (j < t->no && strcmp(t->fo[j].path, path) == 0)
			xo = &t->fo[j++];
		if (k < t->nt && strcmp(t->ft[k].path, path) == 0)
			xt = &t->ft[k++];
		MVMS_TRY(merge_path(c, path, xb, xo, xt));
	}
done:
	return error;
}

static int fast_forward(mvms_store *st, int64_t model_id, const char *branch, int64_t from,
			int64_t to)
{
	int error = mvms_refs__move_branch(st, model_id, branch, from, to);

	if (error == MVMS_ECONFLICT)
		error = mvms_error_set(MVMS_ECONFLICT, "merge: branch '%s' moved meanwhile; merge again",
				       branch);
	return error;
}

int mvms_merge(mvms_merge_result **out, mvms_store *st, const char *model, const char *source,
	       const mvms_merge_options *opts)
{
	MVMS_TRANSPORT_CALL(st, merge, (out, st, model, source, opts));
	mvms_merge_options defaults = MVMS_MERGE_OPTIONS_INIT;
	merge_ctx c;
	mvms_merge_result *res = NULL;
	const char *branch;
	int64_t model_id, head = 0, src, src_model, parents[2];
	size_t i;
	mvms_push_result pr;
	trees tr;
	char *message = NULL;
	int error = 0, anc, leased = 0;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	memset(&tr, 0, sizeof(tr));
	if (!opts)
		opts = &defaults;
	/* Before the first tmp-merge-* file: gc keeps what this merge writes (lease.c). */
	MVMS_TRY(mvms_lease__hold(&leased, st, "merge"));
	branch = opts->into ? opts->into : "main";
	res = calloc(1, sizeof(*res));
	MVMS_CHECK_ALLOC(res, error);
	c.st = st;
	c.o = opts;
	c.res = res;
	for (i = 0; i < opts->resolve_count; i++)
		if (opts->resolve[i].side != MVMS_MERGE_OURS && opts->resolve[i].side != MVMS_MERGE_THEIRS) {
			error = mvms_error_set(MVMS_EINVALID, "merge: bad resolution for %s",
					       opts->resolve[i].path);
			goto done;
		}
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	MVMS_TRY(mvms_refs__branch_head(&head, st, model_id, branch));
	MVMS_TRY(mvms_refs__resolve_row(&src, NULL, st, source));
	MVMS_TRY(mvms_version__model(&src_model, st, src));
	MVMS_TRY(mvms_history__live(st, src));

	if ((anc = mvms_dag__is_ancestor(st, src, head)) < 0) {
		error = anc;
		goto done;
	}
	if (anc) {
		res->up_to_date = 1;
		goto report_head;
	}
	if ((anc = mvms_dag__is_ancestor(st, head, src)) < 0) {
		error = anc;
		goto done;
	}
	if (anc && src_model == model_id) {
		MVMS_TRY(fast_forward(st, model_id, branch, head, src));
		res->fast_forward = 1;
		head = src;
		goto report_head;
	}

	MVMS_TRY(merge_trees(&c, &tr, head, src));
	if (res->conflict_count) {
		error = mvms_error_set(MVMS_EMERGE, "merge: %zu conflict%s; nothing was written "
				       "(resolve with --ours, --theirs or --resolve PATH=ours|theirs)",
				       res->conflict_count, res->conflict_count == 1 ? "" : "s");
		goto done;
	}
	if (c.nout == 0) {
		error = mvms_error_set(MVMS_EINVALID, "merge: the merged version would have no files");
		goto done;
	}
	if (!opts->message && asprintf(&message, "merge %s into %s", source, branch) < 0) {
		message = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	parents[0] = head;
	parents[1] = src;
	{
		mvms_push__request rq = { model, branch, head, parents, 2,
					  opts->message ? opts->message : message, opts->author,
					  opts->time, c.out, c.nout, NULL, 0 };
		MVMS_TRY(mvms_push__entries(&pr, st, &rq));
	}
	res->created = 1;
	res->number = pr.number;
	snprintf(res->id, sizeof(res->id), "%s", pr.id);
	goto done;
report_head:
	{
		mvms_version_info *v = NULL;
		MVMS_TRY(mvms_version__load(&v, st, head));
		res->number = v->number;
		snprintf(res->id, sizeof(res->id), "%s", v->id);
		mvms_version_info_free(v);
	}
done:
	for (i = 0; i < c.ntmp; i++) {
		unlink(c.tmpfiles[i]);
		free(c.tmpfiles[i]);
	}
	free(c.tmpfiles);
	free(c.out);
	free(message);
	trees_free(&tr);
	mvms_lease__drop(st, leased);
	if (error == 0 || error == MVMS_EMERGE)
		*out = res;
	else
		mvms_merge_result_free(res);
	return error;
}

void mvms_merge_result_free(mvms_merge_result *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->conflict_count; i++) {
		free(r->conflicts[i].path);
		free(r->conflicts[i].tensor);
		free(r->conflicts[i].kind);
	}
	free(r->conflicts);
	free(r);
}

/* ---- for merge_layout.c (merge_int.h) ---- */

mvms_store *mvms_merge__store(const merge_ctx *c)
{
	return c->st;
}

int mvms_merge__strategy(const merge_ctx *c)
{
	return c->o->strategy;
}

size_t mvms_merge__conflicts(const merge_ctx *c)
{
	return c->res->conflict_count;
}

int mvms_merge__conflict(merge_ctx *c, const char *path, const char *tensor, const char *kind,
			 const char *base_id, const char *ours_id, const char *theirs_id)
{
	return add_conflict(c, path, tensor, kind, base_id, ours_id, theirs_id);
}

int mvms_merge__take(merge_ctx *c, const mvms_vfile *f)
{
	return take(c, f);
}

int mvms_merge__take_built(merge_ctx *c, const mvms_vfile *f, char *built, uint64_t size)
{
	char **tf = realloc(c->tmpfiles, (c->ntmp + 1) * sizeof(*tf));
	int error = 0;

	if (!tf) {
		unlink(built);
		free(built);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	c->tmpfiles = tf;
	c->tmpfiles[c->ntmp++] = built;
	MVMS_TRY(take(c, f));
	c->out[c->nout - 1].abs = built;
	c->out[c->nout - 1].size = size;
	c->res->tensor_merged_files++;
done:
	return error;
}
