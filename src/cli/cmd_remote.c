/* SPDX-License-Identifier: MIT */
/*
 * mvms-store remote add|list|remove: named servers in the configuration file, so that
 * `--remote team` stands for a URL and its token. A token is read from a file (never from
 * the command line, where `ps` shows it) and never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* The first line of @path, trimmed, into *out (the caller's, to wipe and free). */
static int read_token(char **out, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL, *s, *e;
	size_t cap = 0;

	*out = NULL;
	if (!f)
		return cli_error(EXIT_NOTFOUND, "not_found", "cannot read the token file %s", path);
	if (getline(&line, &cap, f) < 0) {
		free(line);
		line = NULL;
	}
	if (f != stdin)
		fclose(f);
	for (s = line; s && (*s == ' ' || *s == '\t'); s++)
		;
	for (e = s ? s + strcspn(s, "\r\n") : NULL; e && e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	if (!s || e == s) {
		free(line);
		return cli_error(EXIT_ERROR, "invalid", "the token file %s is empty", path);
	}
	*e = '\0';
	if (s != line)
		memmove(line, s, strlen(s) + 1);
	*out = line;
	return 0;
}

static int remote_add(int argc, char **argv)
{
	const char *token_file = NULL, *name, *url;
	char *token = NULL;
	int c, rc;

	optind = 1;
	while ((c = cli_getopt(argc, argv, "remote")) != -1) {
		if (c == 't')
			token_file = optarg;
		else if (c == 'h') {
			cli_print_usage(cli_find("remote"));
			return EXIT_OK;
		} else
			return cli_bad_option("remote", c);
	}
	if (argc - optind != 2)
		return cli_usage_error("remote", "add wants NAME and URL");
	name = argv[optind];
	url = argv[optind + 1];
	if (!cli_remote_name_ok(name))
		return cli_usage_error("remote", "bad name '%s': letters, digits, '.', '_' and '-'",
				       name);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cli_usage_error("remote", "bad URL '%s': want http://HOST[:PORT] or https://...",
				       url);
	if (strpbrk(url, " \t\r\n\""))
		return cli_usage_error("remote", "bad URL '%s': no spaces or quotes", url);
	if (cli_config_remote(NULL, NULL, name) == 0)
		return cli_error(EXIT_CONFLICT, "exists", "remote '%s' exists already in %s (remove it "
				 "first)", name, cli_config_path());
	if (token_file && (rc = read_token(&token, token_file)) != 0)
		return rc;
	if (token && strpbrk(token, "\"\\")) {
		rc = cli_error(EXIT_ERROR, "invalid", "the token in %s has a quote or a backslash",
			       token_file);
	} else if ((rc = cli_config_remote_add(name, url, token)) == 0) {
		if (cli.json) {
			cJSON *doc = cJSON_CreateObject();
			cJSON_AddStringToObject(doc, "name", name);
			cJSON_AddStringToObject(doc, "url", url);
			cJSON_AddBoolToObject(doc, "token", token != NULL);
			cli_print_json(doc);
		} else if (!cli.quiet) {
			printf("added remote %s (%s%s) to %s\n", name, url, token ? ", with a token" : "",
			       cli_config_path());
		}
	}
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	return rc;
}

static int remote_list(int argc, char **argv)
{
	const char *def = cli_config_get("remote"), *name, *url;
	size_t i, n = cli_config_remote_count();
	int has_token;

	(void)argv;
	if (argc != 1)
		return cli_usage_error("remote", "list takes no arguments");
	if (cli.json) {
		cJSON *arr = cJSON_CreateArray();
		for (i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cli_config_remote_at(i, &name, &url, &has_token);
			cJSON_AddStringToObject(o, "name", name);
			cJSON_AddStringToObject(o, "url", url);
			cJSON_AddBoolToObject(o, "token", has_token);
			cJSON_AddBoolToObject(o, "default", def && strcmp(def, name) == 0);
			cJSON_AddItemToArray(arr, o);
		}
		cli_print_json(arr);
		return EXIT_OK;
	}
	for (i = 0; i < n; i++) {
		cli_config_remote_at(i, &name, &url, &has_token);
		printf("%s %-16s %s%s\n", def && strcmp(def, name) == 0 ? "*" : " ", name, url,
		       has_token ? "  (token)" : "");
	}
	if (n == 0 && !cli.quiet)
		fprintf(stderr, "no remotes in %s (add one with 'mvms-store remote add NAME URL')\n",
			cli_config_path());
	return EXIT_OK;
}

static int remote_remove(int argc, char **argv)
{
	int rc, was_default = 0;

	if (argc != 2)
		return cli_usage_error("remote", "remove wants one NAME");
	if ((rc = cli_config_remote_remove(argv[1], &was_default)) != 0)
		return rc;
	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "name", argv[1]);
		cJSON_AddBoolToObject(doc, "removed", 1);
		cJSON_AddBoolToObject(doc, "was_default", was_default);
		cli_print_json(doc);
	} else if (!cli.quiet) {
		printf("removed remote %s%s\n", argv[1], was_default ? " (it was the default remote)" : "");
	}
	return EXIT_OK;
}

int cmd_remote(int argc, char **argv)
{
	const char *sub = argc >= 2 ? argv[1] : NULL;

	if (!sub)
		return cli_usage_error("remote", "want add, list or remove");
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		cli_print_usage(cli_find("remote"));
		return EXIT_OK;
	}
	if (strcmp(sub, "add") == 0)
		return remote_add(argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return remote_list(argc - 1, argv + 1);
	if (strcmp(sub, "remove") == 0 || strcmp(sub, "rm") == 0)
		return remote_remove(argc - 1, argv + 1);
	return cli_usage_error("remote", "unknown subcommand '%s': want add, list or remove", sub);
}
