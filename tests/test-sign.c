/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for signed releases (mvms/sign.h, core/sig.c): the signature file's strict
 * parser (every field, one spelling), keys (generate 0600, never overwritten, public key
 * files), a valid signature verifying; a tampered signature, a wrong key and a signature
 * for another version (or model) each refused on store and judged invalid when listed; a
 * tampered stored object judged invalid; environment policies refusing deploys and
 * rollbacks of unsigned versions (MVMS_EPOLICY) and allowing signed ones; require.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "tap.h"
#include "store_int.h"
#include "sig.h"
#include "mvms/deploy.h"
#include "mvms/sign.h"

static char dir[] = "/tmp/mvms-test-sign-XXXXXX";

static int push(mvms_push_result *r, mvms_store *st, const char *model, const char *content)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tree/a.txt", dir);
	if (!(f = fopen(path, "w")))
		return -1;
	fputs(content, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/tree", dir);
	o.message = content;
	o.author = "tester";
	return mvms_push(r, st, model, path, &o);
}

static int dep(mvms_store *st, const char *spec, const char *env)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	int rc;

	o.author = "tester";
	rc = mvms_deploy(&d, st, spec, env, &o);
	mvms_deployment_free(d);
	return rc;
}

static int rollback(mvms_store *st, const char *env, int64_t to)
{
	mvms_deployment *d = NULL;
	int rc = mvms_deploy_rollback(&d, st, "m", env, to, NULL);

	mvms_deployment_free(d);
	return rc;
}

/* Number of valid and invalid signatures of @spec; -1 on error. */
static int count(mvms_store *st, const char *spec, int *invalid)
{
	mvms_signature *list = NULL;
	size_t n = 0, i;
	int valid = 0;

	*invalid = 0;
	if (mvms_signature_list(&list, &n, st, spec) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		valid += list[i].valid;
		*invalid += !list[i].valid;
	}
	mvms_signature_list_free(list, n);
	return valid;
}

static unsigned char seed1[32], seed2[32];

/* A signature file by @seed over (@uid, @vid) into @buf; its length. */
static size_t make(char *buf, const unsigned char *seed, const char *uid, const char *vid,
		   const char *statement)
{
	char *file = NULL;
	size_t len = 0;

	if (mvms_sig__make(&file, &len, seed, uid, vid, statement, 1700000000) < 0)
		return 0;
	memcpy(buf, file, len);
	buf[len] = '\0';
	free(file);
	return len;
}

static void parser_tests(void)
{
	const char *uid = "0123456789abcdef0123456789abcdef";
	const char *vid = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char buf[2048], bad[2048], *p;
	size_t len;
	mvms_sig s;

	len = make(buf, seed1, uid, vid, "approved-for: prod");
	ok(len > 0 && mvms_sig__parse(&s, buf, len) == 0, "a made signature file parses");
	ok(mvms_sig__check(&s, buf) == 0, "and its Ed25519 signature holds");
	ok(strcmp(s.statement, "approved-for: prod") == 0 && strcmp(s.version, vid) == 0 &&
	   strcmp(s.model_uid, uid) == 0 && s.signed_at == 1700000000, "fields read back");
	/* Each byte of the signed part matters. */
	memcpy(bad, buf, len);
	p = strstr(bad, "prod");
	p[0] = 'P';
	ok(mvms_sig__parse(&s, bad, len) == 0 && mvms_sig__check(&s, bad) == MVMS_EMISMATCH,
	   "an altered statement: the signature no longer holds");
	memcpy(bad, buf, len);
	p = strstr(bad, "\nsignature ") + 11;
	p[0] = p[0] == '0' ? '1' : '0';
	ok(mvms_sig__parse(&s, bad, len) == 0 && mvms_sig__check(&s, bad) == MVMS_EMISMATCH,
	   "an altered signature does not hold");
	memcpy(bad, buf, len);
	ok(mvms_sig__parse(&s, bad, len - 1) == MVMS_EINVALID, "no final newline: refused");
	memcpy(bad, buf, len);
	bad[len] = '\n';
	ok(mvms_sig__parse(&s, bad, len + 1) == MVMS_EINVALID, "bytes after the last line: refused");
	memcpy(bad, buf, len);
	p = strstr(bad, "key ed25519:") + 12;
	p[0] = 'A';
	ok(mvms_sig__parse(&s, bad, len) == MVMS_EINVALID, "upper-case hex in the key: refused");
	memcpy(bad, buf, len);
	p = strstr(bad, "time ") + 5;
	p[0] = '0';
	ok(mvms_sig__parse(&s, bad, len) == MVMS_EINVALID, "a time with a leading zero: refused");
	ok(mvms_sig__parse(&s, "mvms-signature v2\n", 18) == MVMS_EINVALID, "another version: refused");
	ok(mvms_sig__parse(&s, "", 0) == MVMS_EINVALID, "empty: refused");
	ok(mvms_sig__statement_check("tab\there") == MVMS_EINVALID &&
	   mvms_sig__statement_check("new\nline") == MVMS_EINVALID &&
	   mvms_sig__statement_check("") == 0, "statements: printable ASCII only, empty allowed");
	memset(bad, 'x', 300);
	bad[300] = '\0';
	ok(mvms_sig__statement_check(bad) == MVMS_EINVALID, "a 300-byte statement: refused");
}

static void key_tests(char *pub1, char *pub2, char *k1, char *k2)
{
	char pub[MVMS_PUBKEY_TEXTSZ + 1], id[MVMS_KEY_ID_HEXSZ + 1], id2[MVMS_KEY_ID_HEXSZ + 1];
	char path[600], buf[256];
	struct stat sb;
	FILE *f;
	size_t n;

	snprintf(k1, 512, "%s/k1", dir);
	snprintf(k2, 512, "%s/k2", dir);
	ok(mvms_key_generate(pub1, id, k1) == 0, "key generate");
	ok(stat(k1, &sb) == 0 && (sb.st_mode & 0777) == 0600, "the secret key file is 0600");
	ok(mvms_key_generate(pub, id2, k1) == MVMS_EEXISTS, "never overwritten: MVMS_EEXISTS");
	ok(mvms_key_public(pub, id2, k1) == 0 && strcmp(pub, pub1) == 0 && strcmp(id, id2) == 0,
	   "the key file still holds the first key");
	snprintf(path, sizeof(path), "%s.pub", k1);
	ok(mvms_key_parse_public(pub, id2, path) == 0 && strcmp(pub, pub1) == 0 &&
	   strcmp(id, id2) == 0, "the .pub file names the same key and id");
	ok(mvms_key_parse_public(pub, NULL, pub1) == 0 && strcmp(pub, pub1) == 0,
	   "a key as text parses");
	ok(mvms_key_parse_public(pub, NULL, "ed25519:1234") == MVMS_EINVALID, "a short key: refused");
	ok(mvms_key_generate(pub2, NULL, k2) == 0 && strcmp(pub1, pub2) != 0, "a second key differs");
	/* The seeds, for files made by hand below. */
	if ((f = fopen(k1, "r"))) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (mvms_sig__sk_parse(seed1, buf, n) < 0)
			diag("k1 does not parse");
	}
	if ((f = fopen(k2, "r"))) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (mvms_sig__sk_parse(seed2, buf, n) < 0)
			diag("k2 does not parse");
	}
}

int main(void)
{
	char pub1[MVMS_PUBKEY_TEXTSZ + 1], pub2[MVMS_PUBKEY_TEXTSZ + 1], k1[512], k2[512];
	char treedir[512], store_dir[512], cmd[600], file[2048], spec1[128], spec2[128], path[700];
	const char *keys1[1] = { pub1 }, *keys2[1] = { pub2 };
	mvms_push_result r1, r2, r3, ro;
	mvms_model_info *m = NULL;
	mvms_signature *s = NULL;
	mvms_store *st = NULL;
	int invalid;
	size_t len;
	FILE *f;

	if (!mkdtemp(dir) || sodium_init() < 0) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(treedir, sizeof(treedir), "%s/tree", dir);
	mkdir(treedir, 0755);
	snprintf(store_dir, sizeof(store_dir), "%s/store", dir);
	if (mvms_store_init(&st, store_dir, NULL) < 0 || push(&r1, st, "m", "one\n") < 0 ||
	    push(&r2, st, "m", "two\n") < 0 || push(&r3, st, "m", "three\n") < 0 ||
	    push(&ro, st, "other", "one\n") < 0 || mvms_model_get(&m, st, "m") < 0) {
		printf("Bail out! store: %s\n", mvms_error_last());
		return 1;
	}
	key_tests(pub1, pub2, k1, k2);
	parser_tests();
	snprintf(spec1, sizeof(spec1), "m@%s", r1.id);
	snprintf(spec2, sizeof(spec2), "m@%s", r2.id);

	/* ---- a valid signature ---- */
	ok(mvms_sign(&s, st, "m@v1", k1, "approved-for: prod") == 0 && s && s->valid,
	   "sign m@v1 with k1");
	ok(count(st, "m@v1", &invalid) == 1 && invalid == 0, "m@v1 lists one valid signature");
	ok(mvms_signature_require(NULL, st, "m@v1", keys1, 1) == 0, "require k1 on m@v1: ok");
	ok(mvms_signature_require(NULL, st, "m@v1", keys2, 1) == MVMS_EPOLICY,
	   "require k2 (a wrong key) on m@v1: MVMS_EPOLICY");
	ok(mvms_signature_require(NULL, st, "m@v2", keys1, 1) == MVMS_EPOLICY,
	   "require k1 on unsigned m@v2: MVMS_EPOLICY");
	ok(mvms_signature_add(NULL, st, spec1, s->text, strlen(s->text)) == 0 &&
	   count(st, "m@v1", &invalid) == 1, "storing the same file again: one signature still");

	/* ---- refused: another version, another model, tampered, wrong key ---- */
	ok(mvms_signature_add(NULL, st, spec2, s->text, strlen(s->text)) == MVMS_EINVALID,
	   "m@v1's signature stored for m@v2: MVMS_EINVALID");
	ok(count(st, "m@v2", &invalid) == 0 && invalid == 0, "and nothing was stored");
	ok(mvms_signature_add(NULL, st, "other@v1", s->text, strlen(s->text)) == MVMS_EINVALID,
	   "for a version of another model: MVMS_EINVALID");
	len = make(file, seed1, m->uid, r2.id, "x");
	file[len - 3] = file[len - 3] == 'a' ? 'b' : 'a'; /* a digit of the signature line */
	ok(mvms_signature_add(NULL, st, spec2, file, len) == MVMS_EINVALID,
	   "a tampered signature: MVMS_EINVALID");
	len = make(file, seed2, m->uid, r2.id, "x");
	/* k2's signature with k1's key line: the key does not match the signature. */
	memcpy(strstr(file, "ed25519:"), pub1, MVMS_PUBKEY_TEXTSZ);
	ok(mvms_signature_add(NULL, st, spec2, file, len) == MVMS_EINVALID,
	   "a signature under the wrong key: MVMS_EINVALID");
	ok(mvms_signature_add(NULL, st, spec2, "garbage\n", 8) == MVMS_EINVALID, "garbage: refused");
	ok(count(st, "m@v2", &invalid) == 0 && invalid == 0, "m@v2 still has no signature");

	/* ---- a tampered stored object is judged invalid ---- */
	snprintf(path, sizeof(path), "%s/objects/signatures/%.2s/%s", store_dir, s->id, s->id);
	if ((f = fopen(path, "r+"))) {
		fseek(f, -5, SEEK_END);
		fputc('0', f);
		fputc('0', f);
		fclose(f);
	}
	ok(count(st, "m@v1", &invalid) == 0 && invalid == 1, "m@v1's altered object: invalid");
	ok(mvms_signature_require(NULL, st, "m@v1", keys1, 1) == MVMS_EPOLICY,
	   "require k1 on m@v1 with its signature altered: MVMS_EPOLICY");
	if ((f = fopen(path, "w"))) {
		fputs(s->text, f);
		fclose(f);
	}
	ok(count(st, "m@v1", &invalid) == 1 && invalid == 0, "restored: valid again");

	/* ---- environment policies ---- */
	ok(dep(st, "m@v3", "prod") == 0, "deploy unsigned m@v3 to prod before any policy");
	ok(mvms_env_policy_set(st, "prod", keys1, 1) == 0, "policy: prod needs k1");
	ok(dep(st, "m@v2", "prod") == MVMS_EPOLICY, "deploy unsigned m@v2 to prod: MVMS_EPOLICY");
	ok(dep(st, "other@v1", "prod") == MVMS_EPOLICY, "another model's prod too (store-wide)");
	ok(dep(st, "m@v2", "staging") == 0, "staging has no policy");
	ok(dep(st, "m@v1", "prod") == 0, "deploy signed m@v1 to prod");
	ok(rollback(st, "prod", 0) == MVMS_EPOLICY, "rollback to the unsigned m@v3: MVMS_EPOLICY");
	ok(mvms_sign(NULL, st, "m@v2", k2, "") == 0 && dep(st, "m@v2", "prod") == MVMS_EPOLICY,
	   "signed by k2 only: still refused");
	ok(mvms_env_policy_set(st, "prod", (const char *[]){ pub2, pub1 }, 2) == 0 &&
	   dep(st, "m@v2", "prod") == 0, "a policy of k1 or k2: m@v2 deploys");
	ok(rollback(st, "prod", 2) == 0, "rollback to revision 2 (signed m@v1)");
	ok(mvms_env_policy_set(st, "prod", NULL, 0) == 0 && rollback(st, "prod", 1) == 0,
	   "policy cleared: rollback to the unsigned m@v3 goes through");
	ok(mvms_env_policy_set(st, "prod", (const char *[]){ "ed25519:zz" }, 1) == MVMS_EINVALID,
	   "a policy with a bad key: MVMS_EINVALID");

	mvms_signature_free(s);
	mvms_model_info_free(m);
	mvms_store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
