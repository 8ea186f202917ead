/* SPDX-License-Identifier: MIT */
/*
 * mvms-store token create|list|revoke: the HTTP server's API tokens. A token's secret is
 * printed once, by create; list shows ids and metadata only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

static int parse_scope(const char *s)
{
	if (strcmp(s, "read") == 0)
		return MVMS_SCOPE_READ;
	if (strcmp(s, "write") == 0)
		return MVMS_SCOPE_WRITE;
	if (strcmp(s, "admin") == 0)
		return MVMS_SCOPE_ADMIN;
	return -1;
}

static const char *time_or(char *buf, size_t n, int64_t t, const char *none)
{
	return t ? view_time(buf, n, t) : none;
}

static int token_create(int argc, char **argv)
{
	const char *models = "*", *description = "";
	mvms_token_info *info = NULL;
	mvms_store *st = NULL;
	char *token = NULL, tbuf[32];
	int64_t ttl = 0, expires_at = 0;
	int c, scope = 0, error, rc;

	optind = 1;
	while ((c = cli_getopt(argc, argv, "token")) != -1) {
		switch (c) {
		case 's':
			if ((scope = parse_scope(optarg)) < 0)
				return cli_usage_error("token", "bad scope '%s': want read, write or admin",
						       optarg);
			break;
		case 'm':
			models = optarg;
			break;
		case 'e':
			if (cli_parse_duration(&ttl, optarg, 0) < 0)
				return cli_usage_error("token",
						       "bad duration '%s': want e.g. 30m, 12h, 7d, 2w or "
						       "seconds", optarg);
			break;
		case 'd':
			description = optarg;
			break;
		case 'h':
			cli_print_usage(cli_find("token"));
			return EXIT_OK;
		default:
			return cli_bad_option("token", c);
		}
	}
	if (optind != argc)
		return cli_usage_error("token", "create takes no arguments, only options");
	if (!scope)
		return cli_usage_error("token", "create needs --scope read|write|admin");
	if (ttl)
		expires_at = (int64_t)time(NULL) + ttl;
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_token_create(&token, &info, st, scope, models, expires_at, description)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cli_print_json(view_token_created(token, info));
	} else {
		printf("%s\n", token);
		fflush(stdout);
		fprintf(stderr, "token %s (%s, models '%s', expires %s): store it now: it cannot be "
				"shown again\n", info->id, view_token_scope(info->scope), info->models,
			time_or(tbuf, sizeof(tbuf), info->expires_at, "never"));
		fprintf(stderr, "for Hugging Face clients (HF_TOKEN, accessToken), which want a token "
				"that starts with hf_, write it as hf_ then the token: the server takes "
				"both forms\n");
	}
done:
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	mvms_token_info_free(info);
	mvms_store_free(st);
	return rc;
}

static int token_list(int argc, char **argv)
{
	mvms_token_info *list = NULL;
	mvms_store *st = NULL;
	char cbuf[32], ebuf[32], rbuf[32];
	size_t i, n = 0;
	int error, rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_usage(cli_find("token"));
		return EXIT_OK;
	}
	if (argc != 1)
		return cli_usage_error("token", "list takes no arguments");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_token_list(&list, &n, st)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cli_print_json(view_token_list(list, n));
	} else if (n) {
		printf("%-16s  %-5s  %-20s  %-20s  %-20s  %-20s  %s\n", "ID", "SCOPE", "MODELS",
		       "CREATED", "EXPIRES", "REVOKED", "DESCRIPTION");
		for (i = 0; i < n; i++)
			printf("%-16s  %-5s  %-20s  %-20s  %-20s  %-20s  %s\n", list[i].id,
			       view_token_scope(list[i].scope), list[i].models,
			       view_time(cbuf, sizeof(cbuf), list[i].created_at),
			       time_or(ebuf, sizeof(ebuf), list[i].expires_at, "never"),
			       time_or(rbuf, sizeof(rbuf), list[i].revoked_at, "-"),
			       list[i].description);
	} else if (!cli.quiet) {
		fprintf(stderr, "no tokens (create one with 'mvms-store token create --scope read')\n");
	}
done:
	mvms_token_list_free(list, n);
	mvms_store_free(st);
	return rc;
}

static int token_revoke(int argc, char **argv)
{
	mvms_store *st = NULL;
	int error, rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_usage(cli_find("token"));
		return EXIT_OK;
	}
	if (argc != 2)
		return cli_usage_error("token", "revoke wants one token ID");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_token_revoke(st, argv[1])) < 0)
		rc = cli_fail(error);
	else if (cli.json)
		cli_print_json(view_token_revoked(argv[1]));
	else if (!cli.quiet)
		printf("revoked token %s\n", argv[1]);
	mvms_store_free(st);
	return rc;
}

/* token whoami: what this store handle may do (over a server: its token, as the server
 * sees it). */
static int token_whoami(int argc, char **argv)
{
	mvms_token_info *t = NULL;
	mvms_store *st = NULL;
	int error, rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_usage(cli_find("token"));
		return EXIT_OK;
	}
	if (argc != 1)
		return cli_usage_error("token", "whoami takes no arguments");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_token_whoami(&t, st)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json)
		cli_print_json(view_whoami(t));
	else if (!t->scope)
		printf("no scope: this server needs a token (--token)\n");
	else
		printf("%s, models '%s'\n", view_token_scope(t->scope), t->models ? t->models : "*");
done:
	mvms_token_info_free(t);
	mvms_store_free(st);
	return rc;
}

int cmd_token(int argc, char **argv)
{
	const char *sub = argc >= 2 ? argv[1] : NULL;

	if (!sub)
		return cli_usage_error("token", "want create, list, revoke or whoami");
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		cli_print_usage(cli_find("token"));
		return EXIT_OK;
	}
	if (strcmp(sub, "create") == 0)
		return token_create(argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return token_list(argc - 1, argv + 1);
	if (strcmp(sub, "revoke") == 0)
		return token_revoke(argc - 1, argv + 1);
	if (strcmp(sub, "whoami") == 0)
		return token_whoami(argc - 1, argv + 1);
	return cli_usage_error("token", "unknown subcommand '%s': want create, list, revoke or whoami",
			       sub);
}
