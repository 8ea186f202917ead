/* SPDX-License-Identifier: MIT */
/*
 * The S3 backend's XML reading: a small scanner for the few replies S3 sends
 * (ListObjectsV2 pages, error bodies, CreateMultipartUpload's UploadId), entity decoding,
 * and ISO 8601 times. Not a general XML parser: no namespaces, no nesting of a tag in
 * itself, no DTDs; whatever it cannot read is an error, never a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "s3_int.h"

/* Decodes the five XML entities and numeric references (ASCII/UTF-8) into @out. */
static int xml_decode(mvms_buf *out, const char *s, size_t len)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	int error = 0;
	size_t i = 0, k;

	while (i < len) {
		if (s[i] != '&') {
			MVMS_TRY(mvms_buf_put(out, s + i, 1));
			i++;
			continue;
		}
		for (k = 0; k < MVMS_ARRAY_SIZE(ents); k++) {
			size_t el = strlen(ents[k].ent);
			if (len - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
				MVMS_TRY(mvms_buf_put(out, &ents[k].c, 1));
				i += el;
				break;
			}
		}
		if (k < MVMS_ARRAY_SIZE(ents))
			continue;
		if (len - i > 3 && s[i + 1] == '#') {
			const char *semi = memchr(s + i, ';', len - i);
			unsigned long cp;
			char *end;
			if (semi && semi - (s + i) < 12) {
				if (s[i + 2] == 'x' || s[i + 2] == 'X')
					cp = strtoul(s + i + 3, &end, 16);
				else
					cp = strtoul(s + i + 2, &end, 10);
				if (end == semi && cp > 0 && cp <= 0x10FFFF) {
					unsigned char u[4];
					size_t un;
					if (cp < 0x80) {
						u[0] = (unsigned char)cp; un = 1;
					} else if (cp < 0x800) {
						u[0] = (unsigned char)(0xC0 | (cp >> 6));
						u[1] = (unsigned char)(0x80 | (cp & 0x3F)); un = 2;
					} else if (cp < 0x10000) {
						u[0] = (unsigned char)(0xE0 | (cp >> 12));
						u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
						u[2] = (unsigned char)(0x80 | (cp & 0x3F)); un = 3;
					} else {
						u[0] = (unsigned char)(0xF0 | (cp >> 18));
						u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
						u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
						u[3] = (unsigned char)(0x80 | (cp & 0x3F)); un = 4;
					}
					MVMS_TRY(mvms_buf_put(out, u, un));
					i = (size_t)(semi - s) + 1;
					continue;
				}
			}
		}
		MVMS_TRY(mvms_buf_put(out, "&", 1)); /* a stray '&': kept as is */
		i++;
	}
done:
	return error;
}

/* Finds <tag>...</tag> (also <tag attr="...">) in [s, s+len); sets the inner span. */
static int xml_find(const char **inner, size_t *inner_len, const char *s, size_t len,
		    const char *tag)
{
	size_t tl = strlen(tag), i;

	for (i = 0; i + tl + 2 <= len; i++) {
		const char *p = s + i, *open_end, *close;
		size_t j;
		if (p[0] != '<' || memcmp(p + 1, tag, tl) != 0)
			continue;
		if (p[1 + tl] == '/' && i + tl + 3 <= len && p[2 + tl] == '>') {
			*inner = p + tl + 3; /* <tag/> */
			*inner_len = 0;
			return 0;
		}
		if (p[1 + tl] != '>' && p[1 + tl] != ' ')
			continue;
		open_end = memchr(p, '>', len - i);
		if (!open_end)
			return MVMS_ERROR;
		if (open_end[-1] == '/') {
			*inner = open_end + 1;
			*inner_len = 0;
			return 0;
		}
		for (j = (size_t)(open_end + 1 - s); j + tl + 3 <= len; j++) {
			close = s + j;
			if (close[0] == '<' && close[1] == '/' && memcmp(close + 2, tag, tl) == 0 &&
			    close[2 + tl] == '>') {
				*inner = open_end + 1;
				*inner_len = (size_t)(close - *inner);
				return 0;
			}
		}
		return MVMS_ERROR; /* not closed */
	}
	return MVMS_ENOTFOUND;
}

int mvms_s3_xml_text(mvms_buf *out, const char *xml, size_t len, const char *tag)
{
	const char *in;
	size_t il;
	int rc = xml ? xml_find(&in, &il, xml, len, tag) : MVMS_ENOTFOUND;

	if (rc < 0)
		return rc == MVMS_ERROR ? MVMS_ENOTFOUND : rc;
	return xml_decode(out, in, il);
}

int mvms_s3_time(int64_t *out, const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;

	*out = 0;
	memset(&tm, 0, sizeof(tm));
	/* ISO 8601 as ListObjectsV2 writes it: 2024-01-01T00:00:00.000Z */
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && n == 19) {
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		*out = (int64_t)timegm(&tm);
		return *out > 0 ? 0 : MVMS_EINVALID;
	}
	return MVMS_EINVALID;
}

/* The one parser of a list page, for list's callback or scan's (with LastModified). */
int mvms_s3__parse_page(const char *xml, size_t len, const char *strip, mvms_backend_list_cb cb,
		      mvms_backend_scan_cb scan, void *payload, int *truncated, mvms_buf *next_token)
{
	int error = 0, rc;
	const char *p = xml, *end = xml + len, *in;
	size_t il, sl = strip ? strlen(strip) : 0;
	mvms_buf key = MVMS_BUF_INIT, tmp = MVMS_BUF_INIT;

	*truncated = 0;
	mvms_buf_clear(next_token);
	if (!xml || !memmem(xml, len, "ListBucketResult", 16)) {
		error = mvms_error_set(MVMS_ERROR, "s3: list: not a ListBucketResult document");
		goto done;
	}
	while (p < end) {
		const char *c_in;
		size_t c_len;
		uint64_t size = 0;
		int64_t mtime = 0;
		char *e;

		rc = xml_find(&c_in, &c_len, p, (size_t)(end - p), "Contents");
		if (rc == MVMS_ENOTFOUND)
			break;
		if (rc < 0) {
			error = mvms_error_set(MVMS_ERROR, "s3: list: malformed <Contents>");
			goto done;
		}
		p = c_in + c_len;
		mvms_buf_clear(&key);
		mvms_buf_clear(&tmp);
		if (xml_find(&in, &il, c_in, c_len, "Key") != 0) {
			error = mvms_error_set(MVMS_ERROR, "s3: list: <Contents> without <Key>");
			goto done;
		}
		MVMS_TRY(xml_decode(&key, in, il));
		MVMS_TRY(mvms_buf_put(&key, "", 0));
		if (xml_find(&in, &il, c_in, c_len, "Size") == 0) {
			MVMS_TRY(mvms_buf_put(&tmp, in, il));
			size = strtoull(tmp.ptr, &e, 10);
			if (e == tmp.ptr || *e) {
				error = mvms_error_set(MVMS_ERROR, "s3: list: bad <Size> for %.200s",
						       key.ptr);
				goto done;
			}
		}
		if (scan && xml_find(&in, &il, c_in, c_len, "LastModified") == 0) {
			/* Unparsable: 0, "unknown", which gc treats as too young to remove. */
			mvms_buf_clear(&tmp);
			MVMS_TRY(mvms_buf_put(&tmp, in, il));
			MVMS_TRY(mvms_buf_put(&tmp, "", 0));
			mvms_s3_time(&mtime, tmp.ptr);
		}
		if (key.size < sl || memcmp(key.ptr, strip, sl) != 0)
			continue;
		rc = scan ? scan(key.ptr + sl, size, mtime, payload) : cb(key.ptr + sl, size, payload);
		if (rc != 0) {
			error = rc;
			goto done;
		}
	}
	if (xml_find(&in, &il, xml, len, "IsTruncated") == 0)
		*truncated = il == 4 && memcmp(in, "true", 4) == 0;
	if (*truncated) {
		if (xml_find(&in, &il, xml, len, "NextContinuationToken") != 0 || il == 0) {
			error = mvms_error_set(MVMS_ERROR,
					       "s3: list: truncated without NextContinuationToken");
			goto done;
		}
		MVMS_TRY(xml_decode(next_token, in, il));
	}
done:
	mvms_buf_dispose(&key);
	mvms_buf_dispose(&tmp);
	return error;
}

int mvms_s3_parse_list(const char *xml, size_t len, const char *strip, mvms_backend_list_cb cb,
		       void *payload, int *truncated, mvms_buf *next_token)
{
	return mvms_s3__parse_page(xml, len, strip, cb, NULL, payload, truncated, next_token);
}

int mvms_s3_parse_scan(const char *xml, size_t len, const char *strip, mvms_backend_scan_cb cb,
		       void *payload, int *truncated, mvms_buf *next_token)
{
	return mvms_s3__parse_page(xml, len, strip, NULL, cb, payload, truncated, next_token);
}
