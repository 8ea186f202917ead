/* SPDX-License-Identifier: MIT */
/*
 * Signed releases: Ed25519 keys, signatures over a version (its id, its model's uid and a
 * statement such as "approved-for: prod"), kept as content-addressed objects of the store
 * (signatures/ab/<id>) and indexed in its database, several per version; and environment
 * policies, which make a deploy (or rollback) to an environment refuse a version without a
 * valid signature by one of the environment's keys (MVMS_EPOLICY). Formats: docs/formats.md.
 *
 * Secret keys never leave the machine that signs: on a store opened by URL, mvms_sign()
 * makes the signature file here and uploads only that (the server checks it).
 */
#ifndef MVMS_SIGN_H
#define MVMS_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/store.h"
#include "mvms/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "ed25519:" and 64 hex digits (without the NUL). */
#define MVMS_PUBKEY_TEXTSZ 72
/* A key id: hex BLAKE2b-256 of the 32 public key bytes (without the NUL). */
#define MVMS_KEY_ID_HEXSZ 64
/* The longest statement, in bytes of printable ASCII. */
#define MVMS_STATEMENT_MAX 256

/**
 * Makes a new Ed25519 key: the secret key file @path (mode 0600, never overwritten:
 * MVMS_EEXISTS) and, beside it, @path.pub with the public key. @pub_out (MVMS_PUBKEY_TEXTSZ
 * + 1 bytes) and @key_id_out (MVMS_KEY_ID_HEXSZ + 1) receive the public key and its id.
 */
int mvms_key_generate(char *pub_out, char *key_id_out, const char *path);

/** The public key and key id of the secret key file @path. */
int mvms_key_public(char *pub_out, char *key_id_out, const char *path);

/**
 * A public key given on a command line: "ed25519:<64 hex>", or the path of a file holding
 * one (a .pub file) or a secret key file. @pub_out gets the canonical text, @key_id_out
 * its id (either may be NULL). MVMS_EINVALID when it is none of these.
 */
int mvms_key_parse_public(char *pub_out, char *key_id_out, const char *text);

/* One signature of a version, as stored and as checked now. */
typedef struct mvms_signature {
	char id[65];                          /* the object id: hex BLAKE2b-256 of the file */
	char key_id[MVMS_KEY_ID_HEXSZ + 1];
	char public_key[MVMS_PUBKEY_TEXTSZ + 1];
	char version[MVMS_VERSION_ID_HEXSZ + 1]; /* the version id it was indexed under */
	char *statement;
	int64_t signed_at;                    /* the signer's clock (unix seconds) */
	int valid;                            /* 1: verified just now */
	char *problem;                        /* why not valid; "" when valid */
	char *text;                           /* the signature file (NUL-terminated) */
} mvms_signature;

void mvms_signature_free(mvms_signature *s);
void mvms_signature_list_free(mvms_signature *list, size_t count);

/**
 * Signs version @spec with the secret key file @key_path and @statement (printable ASCII,
 * at most MVMS_STATEMENT_MAX bytes; "" allowed), and stores the signature
 * (mvms_signature_add). *out (may be NULL) is the stored signature.
 */
int mvms_sign(mvms_signature **out, mvms_store *st, const char *spec, const char *key_path,
	      const char *statement);

/**
 * Stores signature file @bytes for version @spec after checking it: it parses, its Ed25519
 * signature holds, and it names this version's id and its model's uid (MVMS_EINVALID
 * otherwise: nothing is stored). Storing the same file twice is not an error.
 */
int mvms_signature_add(mvms_signature **out, mvms_store *st, const char *spec,
		       const void *bytes, size_t len);

/** The signatures of version @spec, oldest first, each verified again now (valid, problem). */
int mvms_signature_list(mvms_signature **out, size_t *count, mvms_store *st, const char *spec);

/**
 * 0 when version @spec has a valid signature by one of the @nkeys public keys (canonical
 * text); MVMS_EPOLICY (with a message naming the keys) when not. *out (may be NULL) gets the
 * version, so that a caller acts on exactly the version that was checked.
 */
int mvms_signature_require(mvms_version_info **out, mvms_store *st, const char *spec,
			   const char *const *keys, size_t nkeys);

/**
 * The signature policy of environment @env, for every model (an environment name means
 * the same stage in every model of a store): a deploy or rollback to it needs a valid
 * signature by one of @keys for each version it brings in. @nkeys 0 clears the policy.
 */
int mvms_env_policy_set(mvms_store *st, const char *env, const char *const *keys, size_t nkeys);

/** The public keys (canonical text, sorted) @env requires; *count 0 when it has no policy. */
int mvms_env_policy_get(char ***keys, size_t *count, mvms_store *st, const char *env);
void mvms_env_policy_free(char **keys, size_t count);

#ifdef __cplusplus
}
#endif
#endif
