/* SPDX-License-Identifier: MIT */
/*
 * Canonical manifest encoding and decoding. The encoder writes JSON by hand in a fixed
 * key order with fixed escaping, so the same manifest always gives the same bytes and so
 * the same version id; the decoder uses cJSON and then re-encodes to check canonicity.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <cjson/cJSON.h>
#include "manifest.h"

int mvms_path_check(const char *path)
{
	const char *p = path, *comp = path;

	if (!path || !*path)
		return mvms_error_set(MVMS_EINVALID, "path: empty path");
	if (strlen(path) > 4096)
		return mvms_error_set(MVMS_EINVALID, "path: too long");
	if (*path == '/')
		return mvms_error_set(MVMS_EINVALID, "path '%s': absolute paths are refused", path);
	for (;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - comp);
			if (n == 0 || (n == 1 && comp[0] == '.') ||
			    (n == 2 && comp[0] == '.' && comp[1] == '.'))
				return mvms_error_set(MVMS_EINVALID,
						      "path '%s': empty, '.' or '..' component", path);
			if (*p == '\0')
				break;
			comp = p + 1;
		} else if (*p == '\\') {
			/* Refused so that a version pulls to the same tree on every system. */
			return mvms_error_set(MVMS_EINVALID, "path '%s': backslash is refused", path);
		}
	}
	return 0;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const mvms_manifest_file *)a)->path, ((const mvms_manifest_file *)b)->path);
}

int mvms_manifest_sort(mvms_manifest *m)
{
	size_t i, j;
	int error = 0;

	if (m->file_count > 1)
		qsort(m->files, m->file_count, sizeof(*m->files), cmp_file);
	for (i = 1; i < m->file_count; i++)
		if (strcmp(m->files[i - 1].path, m->files[i].path) == 0) {
			error = mvms_error_set(MVMS_EINVALID, "manifest: duplicate path '%s'",
					       m->files[i].path);
			goto done;
		}
	/* Insertion sort of the (few) metadata pairs, keeping keys and values together. */
	for (i = 1; i < m->meta_count; i++) {
		for (j = i; j > 0 && strcmp(m->meta_keys[j - 1], m->meta_keys[j]) > 0; j--) {
			char *k = m->meta_keys[j], *v = m->meta_values[j];
			m->meta_keys[j] = m->meta_keys[j - 1];
			m->meta_values[j] = m->meta_values[j - 1];
			m->meta_keys[j - 1] = k;
			m->meta_values[j - 1] = v;
		}
	}
	for (i = 1; i < m->meta_count; i++)
		if (strcmp(m->meta_keys[i - 1], m->meta_keys[i]) == 0) {
			error = mvms_error_set(MVMS_EINVALID, "manifest: duplicate metadata key '%s'",
					       m->meta_keys[i]);
			goto done;
		}
done:
	return error;
}

int mvms_manifest_encode(mvms_buf *out, const mvms_manifest *m)
{
	char hex[MVMS_OID_HEXSZ + 1];
	size_t i;
	int error = 0;

	MVMS_TRY(mvms_buf_puts(out, "{\"format\":1,\"model\":{\"uid\":"));
	MVMS_TRY(mvms_buf_put_json_string(out, m->model_uid));
	MVMS_TRY(mvms_buf_puts(out, ",\"name\":"));
	MVMS_TRY(mvms_buf_put_json_string(out, m->model_name));
	MVMS_TRY(mvms_buf_puts(out, "},\"parents\":["));
	for (i = 0; i < m->parent_count; i++) {
		mvms_oid_fmt(hex, &m->parents[i]);
		MVMS_TRY(mvms_buf_printf(out, "%s\"%s\"", i ? "," : "", hex));
	}
	MVMS_TRY(mvms_buf_puts(out, "],\"author\":"));
	MVMS_TRY(mvms_buf_put_json_string(out, m->author));
	MVMS_TRY(mvms_buf_printf(out, ",\"time\":%" PRId64 ",\"message\":", m->time));
	MVMS_TRY(mvms_buf_put_json_string(out, m->message));
	MVMS_TRY(mvms_buf_puts(out, ",\"meta\":{"));
	for (i = 0; i < m->meta_count; i++) {
		if (i)
			MVMS_TRY(mvms_buf_puts(out, ","));
		MVMS_TRY(mvms_buf_put_json_string(out, m->meta_keys[i]));
		MVMS_TRY(mvms_buf_puts(out, ":"));
		MVMS_TRY(mvms_buf_put_json_string(out, m->meta_values[i]));
	}
	MVMS_TRY(mvms_buf_puts(out, "},\"files\":["));
	for (i = 0; i < m->file_count; i++) {
		const mvms_manifest_file *f = &m->files[i];
		MVMS_TRY(mvms_buf_puts(out, i ? ",{\"path\":" : "{\"path\":"));
		MVMS_TRY(mvms_buf_put_json_string(out, f->path));
		mvms_oid_fmt(hex, &f->id);
		MVMS_TRY(mvms_buf_printf(out, ",\"mode\":%u,\"size\":%" PRIu64 ",\"id\":\"%s\"",
					 f->mode, f->size, hex));
		/* Only when known: a manifest without times encodes as before. */
		if (f->mtime || f->mtime_ns)
			MVMS_TRY(mvms_buf_printf(out, ",\"mtime\":%" PRId64 ",\"mtime_ns\":%u",
						 f->mtime, f->mtime_ns));
		MVMS_TRY(mvms_buf_puts(out, "}"));
	}
	MVMS_TRY(mvms_buf_puts(out, "]}\n"));
done:
	return error;
}

static char *dup_string(const cJSON *j)
{
	return cJSON_IsString(j) && j->valuestring ? strdup(j->valuestring) : NULL;
}

/* Integers in a manifest are below 2^53 (sizes, times), where a double is exact. */
static int get_u64(uint64_t *out, const cJSON *j)
{
	if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 9007199254740992.0 ||
	    (double)(uint64_t)j->valuedouble != j->valuedouble)
		return -1;
	*out = (uint64_t)j->valuedouble;
	return 0;
}

int mvms_manifest_decode(mvms_manifest **out, const char *data, size_t len)
{
	cJSON *root = NULL, *j, *it;
	mvms_manifest *m = NULL;
	mvms_buf check = MVMS_BUF_INIT;
	int error = 0;
	size_t i;
	uint64_t v;

	*out = NULL;
	root = cJSON_ParseWithLength(data, len);
	if (!root || !cJSON_IsObject(root))
		goto bad;
	m = calloc(1, sizeof(*m));
	MVMS_CHECK_ALLOC(m, error);
	j = cJSON_GetObjectItemCaseSensitive(root, "model");
	it = cJSON_GetObjectItemCaseSensitive(j, "uid");
	if (!cJSON_IsString(it) || strlen(it->valuestring) != 32)
		goto bad;
	memcpy(m->model_uid, it->valuestring, 33);
	m->model_name = dup_string(cJSON_GetObjectItemCaseSensitive(j, "name"));
	m->author = dup_string(cJSON_GetObjectItemCaseSensitive(root, "author"));
	m->message = dup_string(cJSON_GetObjectItemCaseSensitive(root, "message"));
	if (!m->model_name || !m->author || !m->message)
		goto bad;
	if (get_u64(&v, cJSON_GetObjectItemCaseSensitive(root, "time")) < 0)
		goto bad;
	m->time = (int64_t)v;
	j = cJSON_GetObjectItemCaseSensitive(root, "parents");
	if (!cJSON_IsArray(j))
		goto bad;
	m->parent_count = (size_t)cJSON_GetArraySize(j);
	m->parents = calloc(m->parent_count + 1, sizeof(*m->parents));
	MVMS_CHECK_ALLOC(m->parents, error);
	i = 0;
	cJSON_ArrayForEach(it, j) {
		if (!cJSON_IsString(it) || mvms_oid_parse(&m->parents[i++], it->valuestring) < 0)
			goto bad;
	}
	j = cJSON_GetObjectItemCaseSensitive(root, "meta");
	if (!cJSON_IsObject(j))
		goto bad;
	m->meta_count = (size_t)cJSON_GetArraySize(j);
	m->meta_keys = calloc(m->meta_count + 1, sizeof(char *));
	m->meta_values = calloc(m->meta_count + 1, sizeof(char *));
	MVMS_CHECK_ALLOC(m->meta_keys, error);
	MVMS_CHECK_ALLOC(m->meta_values, error);
	i = 0;
	cJSON_ArrayForEach(it, j) {
		m->meta_keys[i] = strdup(it->string);
		m->meta_values[i] = dup_string(it);
		if (!m->meta_keys[i] || !m->meta_values[i]) {
			i++;
			goto bad;
		}
		i++;
	}
	j = cJSON_GetObjectItemCaseSensitive(root, "files");
	if (!cJSON_IsArray(j))
		goto bad;
	m->file_count = (size_t)cJSON_GetArraySize(j);
	m->files = calloc(m->file_count + 1, sizeof(*m->files));
	MVMS_CHECK_ALLOC(m->files, error);
	i = 0;
	cJSON_ArrayForEach(it, j) {
		mvms_manifest_file *f = &m->files[i++];
		f->path = dup_string(cJSON_GetObjectItemCaseSensitive(it, "path"));
		if (!f->path || mvms_path_check(f->path) < 0)
			goto bad;
		if (get_u64(&v, cJSON_GetObjectItemCaseSensitive(it, "mode")) < 0 ||
		    (v != 0644 && v != 0755))
			goto bad;
		f->mode = (unsigned)v;
		if (get_u64(&f->size, cJSON_GetObjectItemCaseSensitive(it, "size")) < 0)
			goto bad;
		if (cJSON_GetObjectItemCaseSensitive(it, "mtime")) {
			/* Both or neither; a missing or extra one fails the re-encoding below. */
			if (get_u64(&v, cJSON_GetObjectItemCaseSensitive(it, "mtime")) < 0)
				goto bad;
			f->mtime = (int64_t)v;
			if (get_u64(&v, cJSON_GetObjectItemCaseSensitive(it, "mtime_ns")) < 0 ||
			    v >= 1000000000u)
				goto bad;
			f->mtime_ns = (uint32_t)v;
		}
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "id")) ||
		    mvms_oid_parse(&f->id,
				   cJSON_GetObjectItemCaseSensitive(it, "id")->valuestring) < 0)
			goto bad;
	}
	/* Canonical also means sorted and unique: re-encoding alone would keep a repeated or
	 * misplaced path or key as it came. */
	for (i = 1; i < m->file_count; i++)
		if (strcmp(m->files[i - 1].path, m->files[i].path) >= 0)
			goto bad;
	for (i = 1; i < m->meta_count; i++)
		if (strcmp(m->meta_keys[i - 1], m->meta_keys[i]) >= 0)
			goto bad;
	MVMS_TRY(mvms_manifest_encode(&check, m));
	if (check.size != len || memcmp(check.ptr, data, len) != 0)
		goto bad;
	*out = m;
	m = NULL;
	goto done;
bad:
	error = mvms_error_set(MVMS_EMISMATCH, "manifest: malformed or not canonical");
done:
	cJSON_Delete(root);
	mvms_buf_dispose(&check);
	mvms_manifest_free(m);
	return error;
}

void mvms_manifest_free(mvms_manifest *m)
{
	size_t i;

	if (!m)
		return;
	free(m->model_name);
	free(m->parents);
	free(m->author);
	free(m->message);
	for (i = 0; m->meta_keys && i < m->meta_count; i++) {
		free(m->meta_keys[i]);
		free(m->meta_values ? m->meta_values[i] : NULL);
	}
	free(m->meta_keys);
	free(m->meta_values);
	for (i = 0; m->files && i < m->file_count; i++)
		free(m->files[i].path);
	free(m->files);
	free(m);
}
