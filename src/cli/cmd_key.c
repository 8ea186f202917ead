/* SPDX-License-Identifier: MIT */
/*
 * mvms-store key generate|show: Ed25519 signing keys for signed releases. A key lives in
 * files, never in a store: the secret key file (0600, never overwritten) and FILE.pub
 * beside it. The default place is the configuration directory (signing.key), which sign
 * also reads by default.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"

static char default_path[4096];

const char *cli_default_key_path(void)
{
	const char *cfg = cli_config_path(), *slash = strrchr(cfg, '/');
	int n = slash ? (int)(slash - cfg) : 1;

	snprintf(default_path, sizeof(default_path), "%.*s/signing.key", n, slash ? cfg : ".");
	return default_path;
}

/* The directory of the default key, made (0700) when missing. */
static int make_key_dir(const char *path)
{
	char dir[4096], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!(p = strrchr(dir, '/')) || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return cli_error(EXIT_ERROR, "error", "mkdir %s: %s", dir, strerror(errno));
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cli_error(EXIT_ERROR, "error", "mkdir %s: %s", dir, strerror(errno));
	return 0;
}

static void print_key(const char *what, const char *path, const char *pub, const char *id)
{
	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		if (path)
			cJSON_AddStringToObject(doc, what, path);
		cJSON_AddStringToObject(doc, "public_key", pub);
		cJSON_AddStringToObject(doc, "key_id", id);
		cli_print_json(doc);
		return;
	}
	if (path && !cli.quiet)
		printf("%-10s %s\n", strcmp(what, "secret_key") == 0 ? "secret key" : what, path);
	printf("public key %s\nkey id     %s\n", pub, id);
}

static int key_generate(int argc, char **argv)
{
	char pub[MVMS_PUBKEY_TEXTSZ + 1], id[MVMS_KEY_ID_HEXSZ + 1];
	const char *out = NULL;
	int c, rc, error;

	optind = 1;
	while ((c = cli_getopt(argc, argv, "key")) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h':
			cli_print_usage(cli_find("key"));
			return EXIT_OK;
		default:
			return cli_bad_option("key", c);
		}
	}
	if (optind != argc)
		return cli_usage_error("key", "unexpected argument '%s'", argv[optind]);
	if (!out) {
		out = cli_default_key_path();
		if ((rc = make_key_dir(out)) != 0)
			return rc;
	}
	if ((error = mvms_key_generate(pub, id, out)) < 0)
		return cli_fail(error);
	print_key("secret_key", out, pub, id);
	if (!cli.json && !cli.quiet)
		fprintf(stderr, "keep %s secret; give out %s.pub (or the public key above)\n", out, out);
	return EXIT_OK;
}

static int key_show(int argc, char **argv)
{
	char pub[MVMS_PUBKEY_TEXTSZ + 1], id[MVMS_KEY_ID_HEXSZ + 1];
	const char *what;
	int c, error;

	optind = 1;
	while ((c = cli_getopt(argc, argv, "key")) != -1) {
		if (c == 'h') {
			cli_print_usage(cli_find("key"));
			return EXIT_OK;
		}
		return c == 'o' ? cli_usage_error("key", "show takes no --out") : cli_bad_option("key", c);
	}
	if (argc - optind > 1)
		return cli_usage_error("key", "show wants at most one key (a file or ed25519:…)");
	what = optind < argc ? argv[optind] : cli_default_key_path();
	if ((error = mvms_key_parse_public(pub, id, what)) < 0)
		return cli_fail(error);
	print_key("key", strncmp(what, "ed25519:", 8) ? what : NULL, pub, id);
	return EXIT_OK;
}

int cmd_key(int argc, char **argv)
{
	const char *sub = argc >= 2 ? argv[1] : NULL;

	if (!sub)
		return cli_usage_error("key", "want generate or show");
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		cli_print_usage(cli_find("key"));
		return EXIT_OK;
	}
	if (strcmp(sub, "generate") == 0)
		return key_generate(argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return key_show(argc - 1, argv + 1);
	return cli_usage_error("key", "unknown subcommand '%s': want generate or show", sub);
}
