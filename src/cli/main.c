/* SPDX-License-Identifier: MIT */
/*
 * mvms-store: global options (which may stand anywhere on the line, as in git), help, and
 * the dispatch to one cmd_* function per subcommand. The commands and their options are
 * the table of options.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

struct cli_globals cli;

static const char *flag_remote, *flag_token;

/* Sets the global option @o (from cli_global_opts) to @val. */
static void set_global(const cli_opt *o, const char *val)
{
	switch (o->key) {
	case 'S': cli.store = val; break;
	case 'R': flag_remote = val; break;
	case 'T': flag_token = val; break;
	case 'j': cli.json = 1; break;
	case 'q': cli.quiet = 1; break;
	default: abort(); /* a row of cli_global_opts with no case here */
	}
}

/* The global option that @a ("--store", "--store=DIR", "-q") names, or NULL; *val points at
 * an inline "=VALUE" when there is one. */
static const cli_opt *find_global(const char *a, const char **val)
{
	const cli_opt *o;
	size_t n;

	*val = NULL;
	for (o = cli_global_opts; o->name; o++) {
		if (o->letter && a[0] == '-' && a[1] == o->letter && !a[2])
			return o;
		if (strncmp(a, "--", 2) != 0)
			continue;
		n = strlen(o->name);
		if (strncmp(a + 2, o->name, n) != 0)
			continue;
		if (!a[2 + n])
			return o;
		if (a[2 + n] == '=' && o->arg) {
			*val = a + 3 + n;
			return o;
		}
	}
	return NULL;
}

/* Takes the global options out of argv wherever they stand, so that each command's
 * parser sees only its own. Stops at "--". */
static int extract_globals(int *argc, char **argv)
{
	const cli_opt *o;
	const char *val;
	int i, j = 1;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[j++] = argv[i++];
			break;
		}
		if (!(o = find_global(a, &val))) {
			argv[j++] = argv[i];
			continue;
		}
		if (o->arg && !val) {
			if (i + 1 >= *argc)
				return cli_usage_error(NULL, "--%s needs %s", o->name, o->arg);
			val = argv[++i];
		}
		set_global(o, val);
	}
	argv[j] = NULL;
	*argc = j;
	return 0;
}

int main(int argc, char **argv)
{
	const cli_cmd *c;
	int rc;

	if ((rc = extract_globals(&argc, argv)) != 0)
		return rc;
	if (argc < 2) {
		if (cli.json)
			return cli_usage_error(NULL, "no command (see 'mvms-store --help')");
		cli_print_help(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_print_help(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("mvms-store %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	/* For the build: the man page and the completion scripts, from the option tables. */
	if (strcmp(argv[1], "--man") == 0) {
		cli_print_man(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--completion") == 0) {
		if (argc != 3 || cli_print_completion(stdout, argv[2]) < 0)
			return cli_usage_error(NULL, "--completion wants bash or zsh");
		return EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			cli_print_help(stdout);
			return EXIT_OK;
		}
		if (!(c = cli_find(argv[2])))
			return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
		cli_print_usage(c);
		return EXIT_OK;
	}
	if (!(c = cli_find(argv[1])))
		return cli_usage_error(NULL, "unknown command '%s' (see 'mvms-store --help')", argv[1]);
	/* Flags, then the environment, then the configuration file. `remote` edits the file: a
	 * bad $MVMS_REMOTE must not stop it. */
	if ((rc = cli_config_load()) != 0 ||
	    (c->run != cmd_remote && (rc = cli_select_remote(flag_remote, flag_token)) != 0))
		return rc;
	return c->run(argc - 1, argv + 1);
}
