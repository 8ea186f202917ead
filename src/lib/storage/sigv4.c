/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4 for the S3 backend, over libsodium's SHA-256 and HMAC-SHA-256.
 * Builds the canonical request, the string to sign, the signing key and the Authorization
 * header for header-signed requests. It does no I/O and knows nothing about S3 beyond
 * the single URI encoding S3 expects (no path normalisation, no double encoding).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include "sigv4.h"

void mvms_sigv4_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	mvms_hex_encode(out, h, sizeof(h));
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int mvms_sigv4_uri_encode(mvms_buf *out, const char *s, size_t len, int keep_slash)
{
	static const char upper[] = "0123456789ABCDEF";
	int error = 0;
	size_t i, run;

	for (i = 0; i < len;) {
		/* Copy runs of safe bytes in one append. */
		for (run = i; run < len && (unreserved((unsigned char)s[run]) ||
					    (keep_slash && s[run] == '/'));
		     run++)
			;
		if (run > i) {
			MVMS_TRY(mvms_buf_put(out, s + i, run - i));
			i = run;
			continue;
		}
		{
			unsigned char c = (unsigned char)s[i++];
			char esc[3] = { '%', upper[c >> 4], upper[c & 15] };
			MVMS_TRY(mvms_buf_put(out, esc, 3));
		}
	}
done:
	return error;
}

typedef struct {
	char *name;
	char *value;
} enc_pair;

static int cmp_enc_pair(const void *a, const void *b)
{
	const enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

int mvms_sigv4_canonical_query(mvms_buf *out, const mvms_sigv4_pair *query, size_t n)
{
	int error = 0;
	enc_pair *v = NULL;
	mvms_buf b = MVMS_BUF_INIT;
	size_t i, filled = 0;

	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	MVMS_CHECK_ALLOC(v, error);
	/* Sort on the encoded forms: that is the order AWS compares (byte order). */
	for (i = 0; i < n; i++, filled++) {
		const char *val = query[i].value ? query[i].value : "";
		MVMS_TRY(mvms_sigv4_uri_encode(&b, query[i].name, strlen(query[i].name), 0));
		v[i].name = mvms_buf_detach(&b);
		MVMS_CHECK_ALLOC(v[i].name, error);
		MVMS_TRY(mvms_sigv4_uri_encode(&b, val, strlen(val), 0));
		v[i].value = mvms_buf_detach(&b);
		MVMS_CHECK_ALLOC(v[i].value, error);
	}
	qsort(v, n, sizeof(*v), cmp_enc_pair);
	for (i = 0; i < n; i++)
		MVMS_TRY(mvms_buf_printf(out, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value));
done:
	if (v) {
		for (i = 0; i < n; i++) {
			free(v[i].name);
			free(v[i].value);
		}
		free(v);
	}
	mvms_buf_dispose(&b);
	return error;
}

typedef struct {
	char *name;        /* lowercased */
	const char *value; /* borrowed */
	size_t order;      /* position in the request: keeps duplicates in order */
} hdr_ref;

static int cmp_hdr(const void *a, const void *b)
{
	const hdr_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Trims and folds runs of whitespace (spaces, tabs, newlines) into one space. */
static int put_trimmed(mvms_buf *out, const char *v)
{
	int error = 0, pending_space = 0, any = 0;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			pending_space = any;
			continue;
		}
		if (pending_space)
			MVMS_TRY(mvms_buf_put(out, " ", 1));
		pending_space = 0;
		any = 1;
		MVMS_TRY(mvms_buf_put(out, v, 1));
	}
done:
	return error;
}

int mvms_sigv4_canonical_request(mvms_buf *out, mvms_buf *signed_headers,
				 const mvms_sigv4_request *req)
{
	int error = 0;
	hdr_ref *h = NULL;
	size_t i, j, n = req->nheaders;
	const char *path = req->path && *req->path ? req->path : "/";

	MVMS_TRY(mvms_buf_printf(out, "%s\n", req->method));
	MVMS_TRY(mvms_sigv4_uri_encode(out, path, strlen(path), 1));
	MVMS_TRY(mvms_buf_put(out, "\n", 1));
	MVMS_TRY(mvms_sigv4_canonical_query(out, req->query, req->nquery));
	MVMS_TRY(mvms_buf_put(out, "\n", 1));

	if (n) {
		h = calloc(n, sizeof(*h));
		MVMS_CHECK_ALLOC(h, error);
	}
	for (i = 0; i < n; i++) {
		char *p;
		h[i].name = strdup(req->headers[i].name);
		MVMS_CHECK_ALLOC(h[i].name, error);
		for (p = h[i].name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		h[i].value = req->headers[i].value ? req->headers[i].value : "";
		h[i].order = i;
	}
	if (n)
		qsort(h, n, sizeof(*h), cmp_hdr);
	for (i = 0; i < n; i = j) {
		MVMS_TRY(mvms_buf_printf(out, "%s:", h[i].name));
		if (signed_headers)
			MVMS_TRY(mvms_buf_printf(signed_headers, "%s%s", i ? ";" : "", h[i].name));
		for (j = i; j < n && strcmp(h[j].name, h[i].name) == 0; j++) {
			if (j > i)
				MVMS_TRY(mvms_buf_put(out, ",", 1));
			MVMS_TRY(put_trimmed(out, h[j].value));
		}
		MVMS_TRY(mvms_buf_put(out, "\n", 1));
	}
	MVMS_TRY(mvms_buf_put(out, "\n", 1));
	for (i = 0; i < n; i = j) {
		MVMS_TRY(mvms_buf_printf(out, "%s%s", i ? ";" : "", h[i].name));
		for (j = i; j < n && strcmp(h[j].name, h[i].name) == 0; j++)
			;
	}
	MVMS_TRY(mvms_buf_printf(out, "\n%s", req->payload_hash ? req->payload_hash
								: MVMS_SIGV4_EMPTY_SHA256));
done:
	if (h) {
		for (i = 0; i < n; i++)
			free(h[i].name);
		free(h);
	}
	return error;
}

int mvms_sigv4_string_to_sign(mvms_buf *out, const char *amz_date, const mvms_sigv4_key *key,
			      const char *canonical_request)
{
	char hash[65];

	mvms_sigv4_sha256_hex(hash, canonical_request, strlen(canonical_request));
	return mvms_buf_printf(out, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date,
			       amz_date, key->region, key->service, hash);
}

static void hmac(unsigned char out[32], const unsigned char *k, size_t klen, const char *msg)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, k, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void mvms_sigv4_signing_key(unsigned char out[32], const mvms_sigv4_key *key,
			    const char *amz_date)
{
	unsigned char k[32];
	char date[9];
	size_t slen = strlen(key->secret_key);
	unsigned char *first = malloc(slen + 4);

	snprintf(date, sizeof(date), "%.8s", amz_date);
	if (!first) {
		/* No memory for "AWS4"+secret: a key that will not verify, never a crash. */
		memset(out, 0, 32);
		return;
	}
	memcpy(first, "AWS4", 4);
	memcpy(first + 4, key->secret_key, slen);
	hmac(k, first, slen + 4, date);
	sodium_memzero(first, slen + 4);
	free(first);
	hmac(k, k, sizeof(k), key->region);
	hmac(k, k, sizeof(k), key->service);
	hmac(out, k, sizeof(k), "aws4_request");
	sodium_memzero(k, sizeof(k));
}

void mvms_sigv4_signature(char out[65], const unsigned char signing_key[32],
			  const char *string_to_sign)
{
	unsigned char mac[32];

	hmac(mac, signing_key, 32, string_to_sign);
	mvms_hex_encode(out, mac, sizeof(mac));
}

int mvms_sigv4_sign(mvms_buf *authorization, mvms_buf *creq, mvms_buf *sts,
		    const mvms_sigv4_request *req, const mvms_sigv4_key *key,
		    const char *amz_date)
{
	int error = 0;
	mvms_buf c = MVMS_BUF_INIT, s = MVMS_BUF_INIT, sh = MVMS_BUF_INIT;
	unsigned char skey[32];
	char sig[65];

	MVMS_TRY(mvms_sigv4_canonical_request(&c, &sh, req));
	MVMS_TRY(mvms_sigv4_string_to_sign(&s, amz_date, key, c.ptr));
	mvms_sigv4_signing_key(skey, key, amz_date);
	mvms_sigv4_signature(sig, skey, s.ptr);
	sodium_memzero(skey, sizeof(skey));
	MVMS_TRY(mvms_buf_printf(authorization,
				 "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
				 "SignedHeaders=%s, Signature=%s",
				 key->access_key, amz_date, key->region, key->service,
				 sh.ptr ? sh.ptr : "", sig));
	if (creq)
		MVMS_TRY(mvms_buf_put(creq, c.ptr, c.size));
	if (sts)
		MVMS_TRY(mvms_buf_put(sts, s.ptr, s.size));
done:
	mvms_buf_dispose(&c);
	mvms_buf_dispose(&s);
	mvms_buf_dispose(&sh);
	return error;
}
