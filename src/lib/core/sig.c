/* SPDX-License-Identifier: MIT */
/*
 * Signature files and keys as bytes (sig.h; the format is docs/formats.md's "Signatures").
 * A signature file is seven lines of text; the Ed25519 signature covers the first six
 * exactly as stored, so there is nothing to canonicalise and the parser accepts one
 * spelling only: a file that parses is byte for byte the file its signer wrote. No I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "common.h"
#include "sig.h"

#define PK_PREFIX "ed25519:"
#define SK_HEAD "mvms-store secret key v1\ned25519 "
#define SIG_HEAD "mvms-signature v1\n"

int mvms_sig__statement_check(const char *s)
{
	size_t i, n = strlen(s);

	if (n > MVMS_STATEMENT_MAX)
		return mvms_error_set(MVMS_EINVALID, "sign: the statement is %zu bytes, at most %d",
				      n, MVMS_STATEMENT_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return mvms_error_set(MVMS_EINVALID, "sign: the statement may hold printable "
					      "ASCII only (byte %zu is 0x%02x)", i, (unsigned char)s[i]);
	return 0;
}

void mvms_sig__pk_format(char *out, const unsigned char *pk)
{
	memcpy(out, PK_PREFIX, strlen(PK_PREFIX));
	mvms_hex_encode(out + strlen(PK_PREFIX), pk, MVMS_SIG_PK_BYTES);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @n bytes from 2n hex digits at @s; lower case only when @lower. -1 when not hex. */
static int unhex(unsigned char *out, const char *s, size_t n, int lower)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = hexval((unsigned char)s[2 * i]);
		lo = hi < 0 ? -1 : hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (lower && ((s[2 * i] >= 'A' && s[2 * i] <= 'F') ||
			      (s[2 * i + 1] >= 'A' && s[2 * i + 1] <= 'F')))
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int mvms_sig__pk_parse(unsigned char *pk, const char *text)
{
	size_t plen = strlen(PK_PREFIX);

	if (strncmp(text, PK_PREFIX, plen) != 0 || strlen(text) != plen + 2 * MVMS_SIG_PK_BYTES ||
	    unhex(pk, text + plen, MVMS_SIG_PK_BYTES, 0) < 0)
		return mvms_error_set(MVMS_EINVALID, "'%.80s' is not a public key (ed25519: and 64 "
				      "hex digits)", text);
	return 0;
}

void mvms_sig__key_id(char *out, const unsigned char *pk)
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), pk, MVMS_SIG_PK_BYTES, NULL, 0);
	mvms_hex_encode(out, h, sizeof(h));
}

void mvms_sig__sk_format(char *out, size_t *len, const unsigned char *seed)
{
	size_t n = strlen(SK_HEAD);

	memcpy(out, SK_HEAD, n);
	mvms_hex_encode(out + n, seed, MVMS_SIG_SEED_BYTES);
	n += 2 * MVMS_SIG_SEED_BYTES;
	out[n++] = '\n';
	out[n] = '\0';
	*len = n;
}

int mvms_sig__sk_parse(unsigned char *seed, const void *buf, size_t len)
{
	const char *p = buf;
	size_t n = strlen(SK_HEAD);

	if (len != n + 2 * MVMS_SIG_SEED_BYTES + 1 || memcmp(p, SK_HEAD, n) != 0 ||
	    p[len - 1] != '\n' || unhex(seed, p + n, MVMS_SIG_SEED_BYTES, 1) < 0)
		return mvms_error_set(MVMS_EINVALID, "not an mvms-store secret key file");
	return 0;
}

static int is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int mvms_sig__make(char **out, size_t *len, const unsigned char *seed, const char *model_uid,
		   const char *version, const char *statement, int64_t signed_at)
{
	unsigned char pk[MVMS_SIG_PK_BYTES], sk[MVMS_SIG_SK_BYTES], sig[MVMS_SIG_BYTES];
	char pktext[MVMS_PUBKEY_TEXTSZ + 1], sighex[2 * MVMS_SIG_BYTES + 1], *buf = NULL;
	int n, m, error = 0;

	*out = NULL;
	*len = 0;
	MVMS_TRY(mvms_sig__statement_check(statement));
	if (strlen(model_uid) != 32 || !is_lower_hex(model_uid, 32) || strlen(version) != 64 ||
	    !is_lower_hex(version, 64) || signed_at <= 0 || signed_at > 99999999999LL) {
		error = mvms_error_set(MVMS_EINVALID, "sign: bad model uid, version id or time");
		goto done;
	}
	crypto_sign_seed_keypair(pk, sk, seed);
	mvms_sig__pk_format(pktext, pk);
	buf = malloc(MVMS_SIG_FILE_MAX + 1);
	MVMS_CHECK_ALLOC(buf, error);
	n = snprintf(buf, MVMS_SIG_FILE_MAX + 1, SIG_HEAD "key %s\nmodel %s\nversion %s\ntime %lld\n"
		     "statement %s\n", pktext, model_uid, version, (long long)signed_at, statement);
	if (n < 0 || n + 10 + 2 * MVMS_SIG_BYTES + 1 > MVMS_SIG_FILE_MAX) {
		error = mvms_error_set(MVMS_EINVALID, "sign: signature file too long");
		goto done;
	}
	crypto_sign_detached(sig, NULL, (const unsigned char *)buf, (unsigned long long)n, sk);
	mvms_hex_encode(sighex, sig, sizeof(sig));
	m = snprintf(buf + n, MVMS_SIG_FILE_MAX + 1 - (size_t)n, "signature %s\n", sighex);
	*len = (size_t)n + (size_t)m;
	*out = buf;
	buf = NULL;
done:
	sodium_memzero(sk, sizeof(sk));
	free(buf);
	return error;
}

/* The line at *p (up to '\n', which must be there and not be preceded by '\0' or '\r')
 * must start with @key and a space; its value (borrowed, length *vlen) follows. */
static int field(const char **val, size_t *vlen, const char **p, const char *end,
		 const char *key)
{
	size_t klen = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (!nl || (size_t)(nl - *p) < klen + 1 || memcmp(*p, key, klen) != 0 || (*p)[klen] != ' ')
		return mvms_error_set(MVMS_EINVALID, "signature file: expected a '%s' line", key);
	*val = *p + klen + 1;
	*vlen = (size_t)(nl - *val);
	*p = nl + 1;
	return 0;
}

static int bad(const char *what)
{
	return mvms_error_set(MVMS_EINVALID, "signature file: bad %s", what);
}

/* "time" value: decimal, no sign or leading zero, 1 to 99999999999. */
static int parse_time(int64_t *out, const char *v, size_t n)
{
	size_t i;

	*out = 0;
	if (n == 0 || n > 11 || v[0] == '0')
		return bad("time");
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad("time");
		*out = *out * 10 + (v[i] - '0');
	}
	return 0;
}

int mvms_sig__parse(mvms_sig *out, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len, *v;
	char pktext[MVMS_PUBKEY_TEXTSZ + 1];
	size_t n, i;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (len > MVMS_SIG_FILE_MAX)
		return mvms_error_set(MVMS_EINVALID, "signature file: %zu bytes, at most %d", len,
				      MVMS_SIG_FILE_MAX);
	if (len < strlen(SIG_HEAD) || memcmp(p, SIG_HEAD, strlen(SIG_HEAD)) != 0)
		return mvms_error_set(MVMS_EINVALID, "signature file: not an mvms-signature v1 file");
	p += strlen(SIG_HEAD);
	MVMS_TRY(field(&v, &n, &p, end, "key"));
	if (n != MVMS_PUBKEY_TEXTSZ)
		return bad("key");
	memcpy(pktext, v, n);
	pktext[n] = '\0';
	/* One spelling: lower-case hex only, as the signer writes it. */
	if (!is_lower_hex(pktext + strlen(PK_PREFIX), 2 * MVMS_SIG_PK_BYTES) ||
	    mvms_sig__pk_parse(out->pk, pktext) < 0)
		return bad("key");
	MVMS_TRY(field(&v, &n, &p, end, "model"));
	if (n != 32 || !is_lower_hex(v, n))
		return bad("model uid");
	memcpy(out->model_uid, v, n);
	MVMS_TRY(field(&v, &n, &p, end, "version"));
	if (n != 64 || !is_lower_hex(v, n))
		return bad("version id");
	memcpy(out->version, v, n);
	MVMS_TRY(field(&v, &n, &p, end, "time"));
	MVMS_TRY(parse_time(&out->signed_at, v, n));
	MVMS_TRY(field(&v, &n, &p, end, "statement"));
	if (n > MVMS_STATEMENT_MAX)
		return bad("statement");
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return bad("statement");
	memcpy(out->statement, v, n);
	out->signed_len = (size_t)(p - (const char *)buf);
	MVMS_TRY(field(&v, &n, &p, end, "signature"));
	if (n != 2 * MVMS_SIG_BYTES || !is_lower_hex(v, n) || unhex(out->sig, v, MVMS_SIG_BYTES, 1) < 0)
		return bad("signature");
	if (p != end)
		return mvms_error_set(MVMS_EINVALID, "signature file: bytes after the signature line");
done:
	return error;
}

int mvms_sig__check(const mvms_sig *s, const void *buf)
{
	if (crypto_sign_verify_detached(s->sig, buf, (unsigned long long)s->signed_len, s->pk) != 0)
		return mvms_error_set(MVMS_EMISMATCH, "the Ed25519 signature does not match its "
				      "key and contents");
	return 0;
}
