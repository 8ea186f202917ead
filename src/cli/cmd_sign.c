/* SPDX-License-Identifier: MIT */
/*
 * mvms-store sign, env policy, and the signature parts of verify (--signatures), show and
 * pull (--require-signature). Signing reads the secret key here, on the machine running
 * the command: with --remote only the signature file is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* One signature as a line of text: verdict, key id, time, statement (and the problem). */
static void print_signature(const mvms_signature *s, const char *indent)
{
	char t[32];

	printf("%s%-8s key %.16s  %s  \"%s\"", indent, s->valid ? "valid" : "INVALID", s->key_id,
	       view_time(t, sizeof(t), s->signed_at), s->statement ? s->statement : "");
	if (!s->valid)
		printf("  (%s)", s->problem ? s->problem : "");
	printf("\n");
}

int cli_show_signatures(cJSON *doc, mvms_store *st, const mvms_version_info *v)
{
	mvms_signature *list = NULL;
	char *spec = NULL;
	size_t n = 0, i;
	int error;

	if (!v->model) /* a stub of a version this token may not read */
		return 0;
	if (asprintf(&spec, "%s@%s", v->model, v->id) < 0)
		return cli_error(EXIT_ERROR, "error", "out of memory");
	error = mvms_signature_list(&list, &n, st, spec);
	free(spec);
	if (error < 0)
		return cli_fail(error);
	if (doc) {
		cJSON *arr = cJSON_AddArrayToObject(doc, "signatures");
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, view_signature(&list[i]));
	} else if (n) {
		printf("signatures:\n");
		for (i = 0; i < n; i++)
			print_signature(&list[i], "  ");
	}
	mvms_signature_list_free(list, n);
	return 0;
}

/* Canonical public key of a command-line key (text or file); NULL after reporting. */
static int canon_key(char *out, const char *arg, const char *cmd)
{
	if (mvms_key_parse_public(out, NULL, arg) < 0)
		return cli_error(EXIT_USAGE, "usage", "%s: %s", cmd, mvms_error_last());
	return 0;
}

int cli_require_signature(char **spec_out, mvms_store *st, const char *spec,
			  const char *const *keys, size_t nkeys)
{
	char (*canon)[MVMS_PUBKEY_TEXTSZ + 1] = calloc(nkeys + 1, sizeof(*canon));
	const char **ptrs = calloc(nkeys + 1, sizeof(*ptrs));
	mvms_version_info *v = NULL;
	size_t i;
	int error, rc = 0;

	*spec_out = NULL;
	if (!canon || !ptrs) {
		rc = cli_error(EXIT_ERROR, "error", "out of memory");
		goto done;
	}
	for (i = 0; i < nkeys; i++) {
		if ((rc = canon_key(canon[i], keys[i], "pull")) != 0)
			goto done;
		ptrs[i] = canon[i];
	}
	if ((error = mvms_signature_require(&v, st, spec, ptrs, nkeys)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	/* The version checked, by id: a branch that moves meanwhile changes nothing. */
	if (asprintf(spec_out, "%s@%s", v->model, v->id) < 0) {
		*spec_out = NULL;
		rc = cli_error(EXIT_ERROR, "error", "out of memory");
	}
done:
	mvms_version_info_free(v);
	free(canon);
	free(ptrs);
	return rc;
}

int cli_verify_signatures(int argc, char **argv, const char *key)
{
	char canon[MVMS_PUBKEY_TEXTSZ + 1], id[MVMS_KEY_ID_HEXSZ + 1] = "";
	mvms_version_info *v = NULL;
	mvms_model_info *m = NULL;
	mvms_signature *list = NULL;
	mvms_store *st = NULL;
	size_t n = 0, i, bad = 0, by_key = 0;
	int error = 0, rc;

	if (argc - optind != 1)
		return cli_usage_error("verify", "--signatures wants one MODEL@REF");
	if (key && (rc = canon_key(canon, key, "verify")) != 0)
		return rc;
	if (key)
		mvms_key_parse_public(NULL, id, canon);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_version_resolve(&v, st, argv[optind])) < 0 ||
	    (error = mvms_model_get(&m, st, v->model)) < 0 ||
	    (error = mvms_signature_list(&list, &n, st, argv[optind])) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	for (i = 0; i < n; i++) {
		bad += !list[i].valid;
		by_key += key && list[i].valid && strcmp(list[i].public_key, canon) == 0;
	}
	if (bad)
		error = mvms_error_set(MVMS_EMISMATCH, "%s: %zu of %zu signatures are invalid",
				       argv[optind], bad, n);
	else if (key && !by_key)
		error = mvms_error_set(MVMS_EPOLICY, "%s has no valid signature by key %.16s",
				       argv[optind], id);
	else if (n == 0)
		error = mvms_error_set(MVMS_ENOTFOUND, "%s has no signatures", argv[optind]);
	if (cli.json) {
		cJSON *doc = view_signature_list(v, m->uid, list, n);
		if (error < 0) {
			cJSON *err = cJSON_AddObjectToObject(doc, "error");
			cJSON_AddStringToObject(err, "code", mvms_error_name(error));
			cJSON_AddStringToObject(err, "message", mvms_error_last());
		}
		cli_print_json(doc);
	} else {
		printf("%s@v%lld %.12s: %zu signature%s\n", v->model, (long long)v->number, v->id, n,
		       n == 1 ? "" : "s");
		for (i = 0; i < n; i++)
			print_signature(&list[i], "  ");
	}
	if (error < 0) {
		fprintf(stderr, "mvms-store: %s\n", mvms_error_last());
		rc = cli_exit_code(error);
	}
done:
	mvms_signature_list_free(list, n);
	mvms_model_info_free(m);
	mvms_version_info_free(v);
	mvms_store_free(st);
	return rc;
}

int cmd_sign(int argc, char **argv)
{
	const char *key = NULL, *statement = "";
	mvms_signature *s = NULL;
	mvms_store *st = NULL;
	int c, error, rc;

	while ((c = cli_getopt(argc, argv, "sign")) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 's': statement = optarg; break;
		case 'h':
			cli_print_usage(cli_find("sign"));
			return EXIT_OK;
		default:
			return cli_bad_option("sign", c);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("sign", "want one MODEL@REF");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_sign(&s, st, argv[optind], key ? key : cli_default_key_path(),
			       statement)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json)
		cli_print_json(view_signature(s));
	else if (!cli.quiet)
		printf("signed %s (%.12s) with key %.16s: \"%s\" (signature %.12s)\n", argv[optind],
		       s->version, s->key_id, s->statement, s->id);
done:
	mvms_signature_free(s);
	mvms_store_free(st);
	return rc;
}

static int policy_print(mvms_store *st, const char *env)
{
	char **keys = NULL, id[MVMS_KEY_ID_HEXSZ + 1];
	size_t n = 0, i;
	int error;

	if ((error = mvms_env_policy_get(&keys, &n, st, env)) < 0)
		return cli_fail(error);
	if (cli.json) {
		cli_print_json(view_env_policy(env, keys, n));
	} else if (n == 0) {
		printf("%s: no signature policy (any version may be deployed)\n", env);
	} else {
		printf("%s: deploys need a valid signature by one of:\n", env);
		for (i = 0; i < n; i++) {
			if (mvms_key_parse_public(NULL, id, keys[i]) < 0)
				id[0] = '\0';
			printf("  %s  (key id %.16s)\n", keys[i], id);
		}
	}
	mvms_env_policy_free(keys, n);
	return 0;
}

static int env_policy(int argc, char **argv)
{
	char (*canon)[MVMS_PUBKEY_TEXTSZ + 1] = calloc((size_t)argc + 1, sizeof(*canon));
	const char **keys = calloc((size_t)argc + 1, sizeof(*keys));
	mvms_store *st = NULL;
	size_t n = 0;
	int c, clear = 0, error, rc = 0;

	if (!canon || !keys) {
		rc = cli_error(EXIT_ERROR, "error", "out of memory");
		goto done;
	}
	optind = 1;
	while ((c = cli_getopt(argc, argv, "env")) != -1) {
		switch (c) {
		case 'r':
			if ((rc = canon_key(canon[n], optarg, "env policy")) != 0)
				goto done;
			keys[n] = canon[n];
			n++;
			break;
		case 'c': clear = 1; break;
		case 'h':
			cli_print_usage(cli_find("env"));
			goto done;
		default:
			rc = cli_bad_option("env", c);
			goto done;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error("env", "policy wants one ENV");
		goto done;
	}
	if (clear && n) {
		rc = cli_usage_error("env", "--clear and --require-signature do not go together");
		goto done;
	}
	if ((rc = cli_open_store(&st)) != 0)
		goto done;
	if ((clear || n) && (error = mvms_env_policy_set(st, argv[optind], keys, n)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	rc = policy_print(st, argv[optind]);
done:
	free(canon);
	free(keys);
	mvms_store_free(st);
	return rc;
}

int cmd_env(int argc, char **argv)
{
	const char *sub = argc >= 2 ? argv[1] : NULL;

	if (!sub)
		return cli_usage_error("env", "want policy");
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		cli_print_usage(cli_find("env"));
		return EXIT_OK;
	}
	if (strcmp(sub, "policy") == 0)
		return env_policy(argc - 1, argv + 1);
	return cli_usage_error("env", "unknown subcommand '%s': want policy", sub);
}
