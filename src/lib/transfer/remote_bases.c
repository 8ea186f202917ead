/* SPDX-License-Identifier: MIT */
/*
 * A remote pull's way to a delta base its cache lacks (neither in the cache's packs nor in
 * a file an earlier pull wrote): the base's record is fetched from the server as a one-chunk
 * pack (POST /v1/chunks), checked like any pack from outside, and decoded in memory; nothing
 * is written to the cache (the decoder threads that ask must not touch its database). Each
 * call has its own curl handle, since it runs on a decoder thread while the pull's own
 * handle is receiving the records stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "remote_int.h"
#include "bases.h"
#include "pack.h"

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	return mvms_buf_put(arg, p, size * n) < 0 ? 0 : size * n;
}

/* The one record of @id in the pack at @data, decoded into @out (a full record only). */
static int decode_from_pack(const void *data, size_t len, const mvms_oid *id, size_t raw_len,
			    void *out, int hash)
{
	mvms_pack_entry *e = NULL;
	mvms_codec *c = NULL;
	size_t n = 0, i;
	uint64_t size = 0;
	int error = 0;

	MVMS_TRY(mvms_pack_read_index_mem(&e, &n, &size, data, len, NULL));
	for (i = 0; i < n && mvms_oid_cmp(&e[i].id, id) != 0; i++)
		;
	if (i == n || e[i].codec == MVMS_CODEC_DELTA || e[i].raw_len != raw_len) {
		error = mvms_error_set(MVMS_EMISMATCH, "remote: the server's pack holds no full "
				       "record of the delta base");
		goto done;
	}
	MVMS_TRY(mvms_codec_new(&c, 0));
	MVMS_TRY((hash ? mvms_pack_decode_record : mvms_pack_decode_base)(
		c, out, (uint32_t)raw_len, id, (const unsigned char *)data + e[i].offset,
		MVMS_PACK_RECORD_HDR + (size_t)e[i].stored_len));
done:
	mvms_codec_free(c);
	free(e);
	return error;
}

int mvms_remote__fetch_base(void *ctx, const mvms_oid *id, size_t raw_len, void *out, int hash)
{
	mvms_remote *r = ctx;
	CURL *curl = curl_easy_init();
	struct curl_slist *h = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	char hex[MVMS_OID_HEXSZ + 1], body[100], *url = NULL;
	long status = 0;
	CURLcode cc;
	int error = 0;

	mvms_oid_fmt(hex, id);
	if (!curl || asprintf(&url, "%s/v1/chunks", r->url) < 0) {
		url = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	snprintf(body, sizeof(body), "{\"ids\":[\"%s\"]}", hex);
	if (r->auth)
		MVMS_TRY(mvms_http__add_header(&h, r->auth));
	MVMS_TRY(mvms_http__add_header(&h, "Content-Type: application/json"));
	MVMS_TRY(mvms_http__add_header(&h, "Expect:"));
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK || status != 200) {
		error = mvms_error_set(status == 404 ? MVMS_ENOTFOUND : MVMS_ERROR,
				       "remote: delta base %s: %s", hex,
				       cc != CURLE_OK ? curl_easy_strerror(cc) : "the server would not send it");
		goto done;
	}
	MVMS_TRY(decode_from_pack(resp.ptr, resp.size, id, raw_len, out, hash));
done:
	curl_slist_free_all(h);
	if (curl)
		curl_easy_cleanup(curl);
	mvms_buf_dispose(&resp);
	free(url);
	return error;
}
