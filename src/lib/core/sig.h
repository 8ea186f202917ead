/* SPDX-License-Identifier: MIT */
/*
 * The byte formats of signed releases (docs/formats.md, "Signatures"): Ed25519 public keys
 * as text, secret key files, and signature files, their strict parser and the Ed25519 check.
 * Buffers only: no store, no database, no files (ops/sign.c reads and writes them).
 */
#ifndef MVMS_SIG_H
#define MVMS_SIG_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/sign.h"

#define MVMS_SIG_PK_BYTES 32
#define MVMS_SIG_SEED_BYTES 32
#define MVMS_SIG_SK_BYTES 64
#define MVMS_SIG_BYTES 64
/* A signature file is never longer than this (its statement is at most
 * MVMS_STATEMENT_MAX bytes). */
#define MVMS_SIG_FILE_MAX 1024

/* One parsed signature file. @signed_len is the length of the prefix the signature covers
 * (every line before "signature "). */
typedef struct mvms_sig {
	unsigned char pk[MVMS_SIG_PK_BYTES];
	char model_uid[33];
	char version[65];
	int64_t signed_at;
	char statement[MVMS_STATEMENT_MAX + 1];
	unsigned char sig[MVMS_SIG_BYTES];
	size_t signed_len;
} mvms_sig;

/* 0 when @s may be a statement: at most MVMS_STATEMENT_MAX bytes of printable ASCII (space
 * to '~'); else MVMS_EINVALID with a message. */
int mvms_sig__statement_check(const char *s);

/* "ed25519:<64 hex>" of @pk into @out (MVMS_PUBKEY_TEXTSZ + 1 bytes). */
void mvms_sig__pk_format(char *out, const unsigned char *pk);
/* Parses "ed25519:<64 hex>" (lower or upper case hex, nothing around it). */
int mvms_sig__pk_parse(unsigned char *pk, const char *text);
/* The key id: hex BLAKE2b-256 of the 32 public key bytes (65 bytes with the NUL). */
void mvms_sig__key_id(char *out, const unsigned char *pk);

/* A secret key file's bytes for @seed, in @out (*len set; @out holds MVMS_SIG_FILE_MAX). */
void mvms_sig__sk_format(char *out, size_t *len, const unsigned char *seed);
/* The seed in a secret key file's bytes; MVMS_EINVALID when they are not one. */
int mvms_sig__sk_parse(unsigned char *seed, const void *buf, size_t len);

/*
 * A signature file for (@model_uid, @version, @statement, @signed_at) by the key of @seed:
 * *out (free()) of *len bytes. MVMS_EINVALID for a bad statement, uid or version id.
 */
int mvms_sig__make(char **out, size_t *len, const unsigned char *seed, const char *model_uid,
		   const char *version, const char *statement, int64_t signed_at);

/* Parses a signature file strictly (every field in its order and form, nothing more);
 * MVMS_EINVALID with a message that says what is wrong. Does not check the signature. */
int mvms_sig__parse(mvms_sig *out, const void *buf, size_t len);

/* 0 when @s (parsed from @buf) is a valid Ed25519 signature of its signed prefix by its own
 * key; MVMS_EMISMATCH when not. */
int mvms_sig__check(const mvms_sig *s, const void *buf);

#endif
