/* SPDX-License-Identifier: MIT */
/*
 * Tensor layouts (tlayout.h): format detection in one place (GGUF magic, safetensors
 * header, ONNX by name and parse), the layout of an ONNX model's side file, and what the
 * parsers share: a bounded forward reader, UTF-8 and layout checks, dtype names and sizes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "gguf.h"
#include "onnx.h"
#include "safetensors.h"
#include "tlayout.h"

int mvms_tl_reject(const char *fmt, const char *why)
{
	return mvms_error_set(MVMS_ENOTFOUND, "%s: %s", fmt, why);
}

const char *mvms_tformat_name(int format)
{
	switch (format) {
	case MVMS_TFORMAT_SAFETENSORS: return "safetensors";
	case MVMS_TFORMAT_GGUF: return "gguf";
	case MVMS_TFORMAT_ONNX: return "onnx";
	case MVMS_TFORMAT_ONNX_DATA: return "onnx-data";
	default: return "";
	}
}

static void tensors_free(mvms_tensor_info *t, size_t n)
{
	size_t i;

	for (i = 0; t && i < n; i++) {
		free(t[i].name);
		free(t[i].shape);
		free(t[i].location);
	}
	free(t);
}

void mvms_tlayout_free(mvms_tlayout *l)
{
	if (!l)
		return;
	tensors_free(l->tensors, l->count);
	tensors_free(l->ext, l->ext_count);
	free(l->metadata_json);
	free(l);
}

int mvms_tl_valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int cmp_offset_name(const void *a, const void *b)
{
	const mvms_tensor_info *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b)
{
	const mvms_tensor_info *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Names must be unique: the tensors table is keyed by (content, name). */
static int check_names(const mvms_tensor_info *t, size_t n, const char *fmt)
{
	const mvms_tensor_info **p = NULL;
	size_t i;
	int error = 0;

	if (n < 2)
		return 0;
	p = malloc(n * sizeof(*p));
	MVMS_CHECK_ALLOC(p, error);
	for (i = 0; i < n; i++)
		p[i] = &t[i];
	qsort(p, n, sizeof(*p), cmp_name);
	for (i = 1; i < n; i++)
		if (strcmp(p[i - 1]->name, p[i]->name) == 0) {
			error = mvms_tl_reject(fmt, "two tensors have one name");
			goto done;
		}
done:
	free(p);
	return error;
}

int mvms_tl_sort_check(mvms_tensor_info *t, size_t n, const char *fmt)
{
	uint64_t last_begin = 0, last_end = 0;
	size_t i;
	int error = 0;

	if (n > 1)
		qsort(t, n, sizeof(*t), cmp_offset_name);
	for (i = 0; i < n; i++) {
		if (t[i].length > 0) {
			if (t[i].offset < last_end)
				return mvms_tl_reject(fmt, "tensors overlap");
			last_begin = t[i].offset;
			last_end = t[i].offset + t[i].length;
		} else if (t[i].offset < last_end && t[i].offset != last_begin) {
			return mvms_tl_reject(fmt, "empty tensor inside another tensor");
		}
	}
	MVMS_TRY(check_names(t, n, fmt));
done:
	return error;
}

char *mvms_tl_shape(const uint64_t *dims, size_t n)
{
	mvms_buf b = MVMS_BUF_INIT;
	size_t i;

	if (mvms_buf_puts(&b, "[") < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (mvms_buf_printf(&b, "%s%" PRIu64, i ? "," : "", dims[i]) < 0)
			goto fail;
	if (mvms_buf_puts(&b, "]") < 0)
		goto fail;
	return mvms_buf_detach(&b);
fail:
	mvms_buf_dispose(&b);
	return NULL;
}

/* ---- the cursor ---- */

void mvms_tl_cursor_init(mvms_tl_cursor *c, const mvms_tl_src *src, uint64_t pos)
{
	c->src = src;
	c->pos = pos;
	c->buf_off = 0;
	c->buf_len = 0;
}

int mvms_tl_get(mvms_tl_cursor *c, void *dst, size_t n, const char *fmt)
{
	unsigned char *d = dst;
	int error = 0;

	if (c->pos > c->src->size || n > c->src->size - c->pos)
		return mvms_tl_reject(fmt, "truncated");
	while (n > 0) {
		size_t take;

		if (c->pos < c->buf_off || c->pos >= c->buf_off + c->buf_len) {
			uint64_t left = c->src->size - c->pos;
			size_t want = left < sizeof(c->buf) ? (size_t)left : sizeof(c->buf);
			/* A large read goes straight to the caller's buffer. */
			if (n >= sizeof(c->buf)) {
				MVMS_TRY(c->src->read(c->src->ctx, d, n, c->pos));
				c->pos += n;
				return 0;
			}
			c->buf_len = 0;
			MVMS_TRY(c->src->read(c->src->ctx, c->buf, want, c->pos));
			c->buf_off = c->pos;
			c->buf_len = want;
		}
		take = (size_t)(c->buf_off + c->buf_len - c->pos);
		if (take > n)
			take = n;
		memcpy(d, c->buf + (c->pos - c->buf_off), take);
		d += take;
		n -= take;
		c->pos += take;
	}
done:
	return error;
}

int mvms_tl_skip(mvms_tl_cursor *c, uint64_t n, const char *fmt)
{
	if (c->pos > c->src->size || n > c->src->size - c->pos)
		return mvms_tl_reject(fmt, "truncated");
	c->pos += n;
	return 0;
}

/* ---- sources ---- */

static int fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	return mvms_read_full(*(int *)ctx, buf, len, off, "tensor layout");
}

typedef struct mem_src {
	const unsigned char *p;
	size_t n;
} mem_src;

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	mem_src *m = ctx;

	if (off > m->n || len > m->n - off)
		return mvms_error_set(MVMS_ERROR, "tensor layout: read past the end");
	memcpy(buf, m->p + off, len);
	return 0;
}

/* safetensors through a source: @len8 holds the file's first 8 bytes (the header's length),
 * then the header it announces is read. */
static int probe_safetensors(mvms_tlayout **out, const mvms_tl_src *src, const unsigned char *len8)
{
	unsigned char *head = NULL;
	size_t needed = 0;
	int error = 0;

	if (src->size < 8)
		return mvms_tl_reject("safetensors", "file shorter than 8 bytes");
	error = mvms_safetensors_parse(out, &needed, len8, 8, src->size);
	if (error != MVMS_EBUFS)
		goto done;
	head = malloc(needed);
	MVMS_CHECK_ALLOC(head, error);
	MVMS_TRY(src->read(src->ctx, head, needed, 0));
	error = mvms_safetensors_parse(out, NULL, head, needed, src->size);
done:
	free(head);
	return error;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int mvms_tlayout_probe(mvms_tlayout **out, const char *name, const mvms_tl_src *src)
{
	unsigned char first[8];
	int error = 0;

	if (!out || !src || !src->read) {
		error = mvms_error_set(MVMS_EINVALID, "tensor layout: bad arguments");
		goto done;
	}
	*out = NULL;
	/* One read of the first bytes serves both magic-led formats. */
	if (src->size >= 4)
		MVMS_TRY(src->read(src->ctx, first, src->size < 8 ? 4 : 8, 0));
	if (src->size >= 4 && memcmp(first, "GGUF", 4) == 0) {
		error = mvms_gguf_parse(out, src);
		goto done;
	}
	error = probe_safetensors(out, src, first);
	if (error != MVMS_ENOTFOUND)
		goto done;
	if (name && ends_with(name, ".onnx"))
		error = mvms_onnx_parse(out, src);
done:
	return error;
}

int mvms_tlayout_probe_fd(mvms_tlayout **out, const char *name, int fd, uint64_t size)
{
	mvms_tl_src src = { fd_read, &fd, size };

	return mvms_tlayout_probe(out, name, &src);
}

int mvms_tlayout_probe_mem(mvms_tlayout **out, const char *name, const void *data, size_t size)
{
	mem_src m = { data, size };
	mvms_tl_src src = { mem_read, &m, size };

	return mvms_tlayout_probe(out, name, &src);
}

static int copy_tensor(mvms_tensor_info *d, const mvms_tensor_info *s)
{
	*d = *s;
	d->name = strdup(s->name);
	d->shape = strdup(s->shape);
	d->location = NULL;
	if (!d->name || !d->shape)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return 0;
}

int mvms_tlayout_external(mvms_tlayout **out, const mvms_tensor_info *const *ext, size_t n,
			  uint64_t size)
{
	mvms_tlayout *l = NULL;
	size_t i, k = 0;
	int error = 0;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	MVMS_CHECK_ALLOC(l, error);
	l->format = MVMS_TFORMAT_ONNX_DATA;
	l->tensors = calloc(n + 1, sizeof(*l->tensors));
	MVMS_CHECK_ALLOC(l->tensors, error);
	for (i = 0; i < n; i++) {
		if (ext[i]->offset > size || ext[i]->length > size - ext[i]->offset) {
			error = mvms_tl_reject("onnx", "external data outside its file");
			goto done;
		}
		l->count = k + 1;
		MVMS_TRY(copy_tensor(&l->tensors[k], ext[i]));
		k++;
	}
	/* Two models (or one twice) may name one tensor at one place: it is kept once. */
	if (l->count > 1)
		qsort(l->tensors, l->count, sizeof(*l->tensors), cmp_offset_name);
	for (i = 1, k = 1; i < l->count; i++) {
		mvms_tensor_info *a = &l->tensors[k - 1], *b = &l->tensors[i];
		if (a->offset == b->offset && a->length == b->length && strcmp(a->name, b->name) == 0 &&
		    strcmp(a->dtype, b->dtype) == 0 && strcmp(a->shape, b->shape) == 0) {
			free(b->name);
			free(b->shape);
			continue;
		}
		l->tensors[k++] = *b;
	}
	if (l->count > 1)
		l->count = k;
	MVMS_TRY(mvms_tl_sort_check(l->tensors, l->count, "onnx"));
	*out = l;
	l = NULL;
done:
	mvms_tlayout_free(l);
	return error;
}

char *mvms_tl_side_path(const char *model_path, const char *loc)
{
	const char *slash = strrchr(model_path, '/');
	size_t dir = slash ? (size_t)(slash - model_path) + 1 : 0;
	char *out = malloc(dir + strlen(loc) + 1), *w;
	const char *seg = loc;

	if (!out)
		return NULL;
	memcpy(out, model_path, dir);
	w = out + dir;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		if (!(n == 1 && seg[0] == '.')) {
			memcpy(w, seg, n);
			w += n;
			*w++ = '/';
		}
		if (!end)
			break;
		seg = end + 1;
	}
	if (w > out)
		w--; /* the last '/' */
	*w = 0;
	return out;
}

/* One external tensor and the file it points into. */
typedef struct ext_ref {
	size_t file;
	const mvms_tensor_info *t;
} ext_ref;

static int cmp_ref(const void *a, const void *b)
{
	const ext_ref *x = a, *y = b;

	return x->file < y->file ? -1 : x->file > y->file;
}

/* Adds the external tensors of model @mi whose side file is among the wanted files. */
static int collect_refs(ext_ref **refs, size_t *n, size_t *cap, const mvms_tl_files *fs, size_t mi)
{
	const mvms_tlayout *l = fs->models[mi];
	const char *last = NULL;
	size_t i, f = fs->count;
	char *path = NULL;
	int error = 0;

	for (i = 0; i < l->ext_count; i++) {
		if (!last || strcmp(last, l->ext[i].location) != 0) {
			/* Entries usually come grouped by location: one look-up per group. */
			last = l->ext[i].location;
			free(path);
			path = mvms_tl_side_path(fs->paths[mi], last);
			MVMS_CHECK_ALLOC(path, error);
			for (f = 0; f < fs->count; f++)
				if (fs->want[f] && f != mi && strcmp(fs->paths[f], path) == 0)
					break;
		}
		if (f == fs->count)
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			ext_ref *tmp = realloc(*refs, ncap * sizeof(*tmp));
			MVMS_CHECK_ALLOC(tmp, error);
			*refs = tmp;
			*cap = ncap;
		}
		(*refs)[*n].file = f;
		(*refs)[*n].t = &l->ext[i];
		(*n)++;
	}
done:
	free(path);
	return error;
}

int mvms_tlayout_sides(mvms_tlayout **out, const mvms_tl_files *fs)
{
	const mvms_tensor_info **group = NULL;
	ext_ref *refs = NULL;
	size_t i, j, k, n = 0, cap = 0;
	int error = 0;

	for (i = 0; i < fs->count; i++)
		if (fs->models[i] && fs->models[i]->ext_count)
			MVMS_TRY(collect_refs(&refs, &n, &cap, fs, i));
	if (n == 0)
		goto done;
	qsort(refs, n, sizeof(*refs), cmp_ref);
	group = malloc(n * sizeof(*group));
	MVMS_CHECK_ALLOC(group, error);
	for (i = 0; i < n; i = j) {
		size_t f = refs[i].file;
		for (j = i, k = 0; j < n && refs[j].file == f; j++)
			group[k++] = refs[j].t;
		error = mvms_tlayout_external(&out[f], group, k, fs->sizes[f]);
		if (error == MVMS_ENOTFOUND) {
			/* Tensors that do not fit the file: it stays plain bytes. */
			mvms_error_clear();
			error = 0;
		}
		if (error < 0)
			goto done;
	}
done:
	free(group);
	free(refs);
	return error;
}
