/* SPDX-License-Identifier: MIT */
/*
 * Signed releases (mvms/sign.h): key files, signing, storing a signature (an object
 * signatures/ab/<id> in the backend, then its index row), listing a version's signatures
 * with each judged again. The byte formats are core/sig.c's, the SQL meta/signatures.c's,
 * policies and the deploy hook ops/sign_policy.c's. A secret key is only ever read here, on
 * the machine that signs: on a remote store only the signature file travels.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "sign_int.h"
#include "sig.h"
#include "signatures.h"
#include "history.h"
#include "transport.h"

/* A key file is a few dozen bytes: anything much longer is not one. */
#define KEYFILE_MAX 4096

/* Reads a small file whole (NUL-terminated). */
static int read_small(char **out, size_t *len, const char *path, const char *what)
{
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd = -1, error = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = mvms_error_set(errno == ENOENT ? MVMS_ENOTFOUND : MVMS_ERROR, "%s %s: %s",
				       what, path, strerror(errno));
		goto done;
	}
	buf = malloc(KEYFILE_MAX + 1);
	MVMS_CHECK_ALLOC(buf, error);
	while (got < KEYFILE_MAX + 1 && (n = read(fd, buf + got, KEYFILE_MAX + 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = mvms_error_set(MVMS_ERROR, "%s %s: %s", what, path, strerror(errno));
			goto done;
		}
		got += (size_t)n;
	}
	if (got > KEYFILE_MAX) {
		error = mvms_error_set(MVMS_EINVALID, "%s %s: too long to be a key", what, path);
		goto done;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
done:
	if (fd >= 0)
		close(fd);
	if (buf)
		sodium_memzero(buf, KEYFILE_MAX + 1);
	free(buf);
	return error;
}

/* The seed of secret key file @path. */
static int load_seed(unsigned char *seed, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int error = 0;

	MVMS_TRY(read_small(&buf, &len, path, "key"));
	if (mvms_sig__sk_parse(seed, buf, len) < 0)
		error = mvms_error_set(MVMS_EINVALID, "key %s: not an mvms-store secret key file "
				       "(make one with 'mvms-store key generate')", path);
done:
	if (buf)
		sodium_memzero(buf, len);
	free(buf);
	return error;
}

static void public_of(char *pub_out, char *key_id_out, const unsigned char *seed)
{
	unsigned char pk[MVMS_SIG_PK_BYTES], sk[MVMS_SIG_SK_BYTES];

	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
	if (pub_out) {
		mvms_sig__pk_format(pub_out, pk);
		pub_out[MVMS_PUBKEY_TEXTSZ] = '\0';
	}
	if (key_id_out)
		mvms_sig__key_id(key_id_out, pk);
}

/* Writes @len bytes to a new file @path (O_EXCL) with @mode, synced. */
static int write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int error = 0;

	if (fd < 0)
		return mvms_error_set(errno == EEXIST ? MVMS_EEXISTS : MVMS_ERROR,
				      "key generate: %s: %s%s", path, strerror(errno),
				      errno == EEXIST ? " (a key is never overwritten)" : "");
	if (fchmod(fd, mode) < 0 || mvms_write_full(fd, data, len, path) < 0 || fsync(fd) < 0)
		error = mvms_error_set(MVMS_ERROR, "key generate: write %s: %s", path, strerror(errno));
	close(fd);
	if (error < 0)
		unlink(path);
	return error;
}

int mvms_key_generate(char *pub_out, char *key_id_out, const char *path)
{
	unsigned char seed[MVMS_SIG_SEED_BYTES];
	char buf[MVMS_SIG_FILE_MAX], pub[MVMS_PUBKEY_TEXTSZ + 2], *pubpath = NULL;
	size_t len;
	int error = 0;

	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "libsodium failed to initialise");
	if (asprintf(&pubpath, "%s.pub", path) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	/* Both names must be free before either is written. */
	if (access(pubpath, F_OK) == 0) {
		error = mvms_error_set(MVMS_EEXISTS, "key generate: %s exists (a key is never "
				       "overwritten)", pubpath);
		goto done;
	}
	randombytes_buf(seed, sizeof(seed));
	mvms_sig__sk_format(buf, &len, seed);
	MVMS_TRY(write_new(path, buf, len, 0600));
	public_of(pub, key_id_out, seed);
	if (pub_out)
		memcpy(pub_out, pub, MVMS_PUBKEY_TEXTSZ + 1);
	pub[MVMS_PUBKEY_TEXTSZ] = '\n';
	if ((error = write_new(pubpath, pub, MVMS_PUBKEY_TEXTSZ + 1, 0644)) < 0) {
		unlink(path);
		goto done;
	}
done:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(buf, sizeof(buf));
	free(pubpath);
	return error;
}

int mvms_key_public(char *pub_out, char *key_id_out, const char *path)
{
	unsigned char seed[MVMS_SIG_SEED_BYTES];
	int error = 0;

	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "libsodium failed to initialise");
	MVMS_TRY(load_seed(seed, path));
	public_of(pub_out, key_id_out, seed);
done:
	sodium_memzero(seed, sizeof(seed));
	return error;
}

int mvms_key_parse_public(char *pub_out, char *key_id_out, const char *text)
{
	unsigned char pk[MVMS_SIG_PK_BYTES];
	char *buf = NULL;
	size_t len = 0;
	int error = 0;

	if (strncmp(text, "ed25519:", 8) != 0) {
		/* A file: a .pub file (one line), or a secret key file. */
		MVMS_TRY(read_small(&buf, &len, text, "public key"));
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (strncmp(buf, "ed25519:", 8) != 0) {
			buf[len] = '\n';
			error = mvms_key_public(pub_out, key_id_out, text);
			goto done;
		}
		text = buf;
	}
	MVMS_TRY(mvms_sig__pk_parse(pk, text));
	if (pub_out) {
		mvms_sig__pk_format(pub_out, pk);
		pub_out[MVMS_PUBKEY_TEXTSZ] = '\0';
	}
	if (key_id_out)
		mvms_sig__key_id(key_id_out, pk);
done:
	free(buf);
	return error;
}

static int set_problem(mvms_signature *s, const char *msg)
{
	free(s->problem);
	s->valid = 0;
	s->problem = strdup(msg);
	return s->problem ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

int mvms_sign__judge(mvms_signature *s, const void *bytes, size_t len, const char *version_id,
		     const char *model_uid, const char *want_id)
{
	mvms_sig parsed;
	mvms_oid oid;
	char msg[512];

	mvms_oid_hash(&oid, bytes, len);
	mvms_oid_fmt(s->id, &oid);
	free(s->text);
	s->text = malloc(len + 1);
	if (!s->text)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	memcpy(s->text, bytes, len);
	s->text[len] = '\0';
	snprintf(s->version, sizeof(s->version), "%s", version_id);
	if (want_id && strcmp(s->id, want_id) != 0)
		return set_problem(s, "the stored object does not hash to its id: it was altered or "
				   "damaged");
	if (mvms_sig__parse(&parsed, bytes, len) < 0)
		return set_problem(s, mvms_error_last());
	/* What the file says, whether or not it holds. */
	mvms_sig__pk_format(s->public_key, parsed.pk);
	s->public_key[MVMS_PUBKEY_TEXTSZ] = '\0';
	mvms_sig__key_id(s->key_id, parsed.pk);
	s->signed_at = parsed.signed_at;
	free(s->statement);
	if (!(s->statement = strdup(parsed.statement)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if (mvms_sig__check(&parsed, bytes) < 0)
		return set_problem(s, mvms_error_last());
	if (strcmp(parsed.version, version_id) != 0) {
		snprintf(msg, sizeof(msg), "it signs version %.12s, not this one (%.12s)",
			 parsed.version, version_id);
		return set_problem(s, msg);
	}
	if (strcmp(parsed.model_uid, model_uid) != 0) {
		snprintf(msg, sizeof(msg), "it signs a version of another model (uid %s, not %s)",
			 parsed.model_uid, model_uid);
		return set_problem(s, msg);
	}
	s->valid = 1;
	free(s->problem);
	s->problem = strdup("");
	return s->problem ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

/* One indexed signature: its object read and judged, and checked against its row. */
static int judge_row(mvms_signature *s, mvms_store *st, const char *vid, const char *uid)
{
	char key[MVMS_KEY_MAX], row_key[MVMS_PUBKEY_TEXTSZ + 1];
	mvms_oid oid;
	void *bytes = NULL;
	size_t len = 0;
	int error = 0, rc;

	if (mvms_oid_parse(&oid, s->id) < 0) {
		mvms_error_clear();
		return set_problem(s, "the index row names no object id");
	}
	mvms_object_key(key, sizeof(key), "signatures", &oid);
	if ((rc = mvms_backend_get_all(&bytes, &len, st->be, key, MVMS_SIG_FILE_MAX)) < 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "the signature object %s cannot be read: %s", key,
			 mvms_error_last());
		mvms_error_clear();
		return set_problem(s, msg);
	}
	memcpy(row_key, s->public_key, sizeof(row_key));
	MVMS_TRY(mvms_sign__judge(s, bytes, len, vid, uid, s->id));
	if (s->valid && strcmp(row_key, s->public_key) != 0)
		MVMS_TRY(set_problem(s, "the index names another key than the file"));
done:
	free(bytes);
	return error;
}

int mvms_sign__list_row(mvms_signature **out, size_t *count, mvms_store *st, int64_t row,
			const char *vid, const char *uid)
{
	size_t i;
	int error = 0;

	MVMS_TRY(mvms_sigrows_list(out, count, st->db, row));
	for (i = 0; i < *count; i++)
		MVMS_TRY(judge_row(&(*out)[i], st, vid, uid));
done:
	if (error < 0) {
		mvms_signature_list_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return error;
}

/* The versions row, its info and its model's uid of @spec (a local store). */
static int resolve(int64_t *row, mvms_version_info **v, char *uid, mvms_store *st,
		   const char *spec)
{
	int64_t model_id;
	int error = 0;

	MVMS_TRY(mvms_refs__resolve_row(row, v, st, spec));
	MVMS_TRY(mvms_version__model(&model_id, st, *row));
	MVMS_TRY(mvms_store__model_uid(uid, st, model_id));
done:
	return error;
}

int mvms_signature_list(mvms_signature **out, size_t *count, mvms_store *st, const char *spec)
{
	MVMS_TRANSPORT_CALL(st, signature_list, (out, count, st, spec));
	mvms_version_info *v = NULL;
	int64_t row;
	char uid[33];
	int error = 0;

	*out = NULL;
	*count = 0;
	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "libsodium failed to initialise");
	MVMS_TRY(resolve(&row, &v, uid, st, spec));
	MVMS_TRY(mvms_sign__list_row(out, count, st, row, v->id, uid));
done:
	mvms_version_info_free(v);
	return error;
}

int mvms_signature_add(mvms_signature **out, mvms_store *st, const char *spec,
		       const void *bytes, size_t len)
{
	MVMS_TRANSPORT_CALL(st, signature_add, (out, st, spec, bytes, len));
	mvms_version_info *v = NULL;
	mvms_signature *s = NULL;
	char key[MVMS_KEY_MAX], uid[33];
	mvms_oid oid;
	int64_t row;
	int error = 0, began = 0;

	if (out)
		*out = NULL;
	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "libsodium failed to initialise");
	if (len > MVMS_SIG_FILE_MAX)
		return mvms_error_set(MVMS_EINVALID, "sign: a signature file is at most %d bytes, "
				      "not %zu", MVMS_SIG_FILE_MAX, len);
	MVMS_TRY(resolve(&row, &v, uid, st, spec));
	MVMS_TRY(mvms_history__live(st, row));
	s = calloc(1, sizeof(*s));
	MVMS_CHECK_ALLOC(s, error);
	MVMS_TRY(mvms_sign__judge(s, bytes, len, v->id, uid, NULL));
	if (!s->valid) {
		error = mvms_error_set(MVMS_EINVALID, "sign: signature refused for %s: %s", spec,
				       s->problem);
		goto done;
	}
	/* The object first, then its row: gc keeps an object a row names, and one without a
	 * row (a killed sign) is an orphan the next gc reclaims after the grace period. */
	MVMS_TRY(mvms_oid_parse(&oid, s->id));
	mvms_object_key(key, sizeof(key), "signatures", &oid);
	MVMS_TRY(mvms_backend_put(st->be, key, bytes, len));
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	/* A gc or delete may have run since the check: the version must still be there. */
	MVMS_TRY(mvms_history__live(st, row));
	MVMS_TRY(mvms_sigrows_insert(st->db, row, s, (int64_t)time(NULL)));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
	if (out) {
		*out = s;
		s = NULL;
	}
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_signature_free(s);
	mvms_version_info_free(v);
	return error;
}

int mvms_sign(mvms_signature **out, mvms_store *st, const char *spec, const char *key_path,
	      const char *statement)
{
	unsigned char seed[MVMS_SIG_SEED_BYTES];
	mvms_version_info *v = NULL;
	mvms_model_info *m = NULL;
	char *file = NULL, *exact = NULL;
	size_t len = 0;
	int error = 0;

	if (out)
		*out = NULL;
	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "libsodium failed to initialise");
	MVMS_TRY(mvms_sig__statement_check(statement ? statement : ""));
	MVMS_TRY(load_seed(seed, key_path));
	/* The public calls: on a remote store they ask the server, and only the file made
	 * here is uploaded. */
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	MVMS_TRY(mvms_model_get(&m, st, v->model));
	MVMS_TRY(mvms_sig__make(&file, &len, seed, m->uid, v->id, statement ? statement : "",
				(int64_t)time(NULL)));
	/* By id: a branch that moved since is not a reason to store it elsewhere. */
	if (asprintf(&exact, "%s@%s", v->model, v->id) < 0) {
		exact = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(mvms_signature_add(out, st, exact, file, len));
done:
	sodium_memzero(seed, sizeof(seed));
	free(exact);
	free(file);
	mvms_model_info_free(m);
	mvms_version_info_free(v);
	return error;
}
