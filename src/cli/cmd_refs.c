/* SPDX-License-Identifier: MIT */
/* mvms-store tag, tags, branch, branches: naming versions; moving, renaming and deleting
 * branches and tags (mvms/history.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static int print_refs(mvms_ref_info *list, size_t n)
{
	char tbuf[32];
	size_t i;

	if (cli.json) {
		cJSON *doc = cJSON_CreateArray();
		for (i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", list[i].name);
			cJSON_AddNumberToObject(o, "version", (double)list[i].number);
			cJSON_AddStringToObject(o, "id", list[i].id);
			cJSON_AddStringToObject(o, "updated_at",
						view_time(tbuf, sizeof(tbuf), list[i].updated_at));
			cJSON_AddItemToArray(doc, o);
		}
		cli_print_json(doc);
	} else {
		for (i = 0; i < n; i++)
			printf("%-24s v%-5lld %.12s  %s\n", list[i].name, (long long)list[i].number,
			       list[i].id, view_time(tbuf, sizeof(tbuf), list[i].updated_at));
	}
	return EXIT_OK;
}

int cmd_tag(int argc, char **argv)
{
		mvms_store *st = NULL;
	int c, del = 0, error, rc;

	while ((c = cli_getopt(argc, argv, "tag")) != -1) {
		if (c == 'd')
			del = 1;
		else if (c == 'h') {
			cli_print_usage(cli_find("tag"));
			return EXIT_OK;
		} else
			return cli_bad_option("tag", c);
	}
	if (argc - optind != 2)
		return cli_usage_error("tag", del ? "-d wants MODEL and NAME" : "want MODEL@REF and NAME");
	argv += optind;
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	error = del ? mvms_tag_delete(st, argv[0], argv[1]) : mvms_tag_create(st, argv[0], argv[1]);
	if (error < 0)
		rc = cli_fail(error);
	else if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "tag", argv[1]);
		if (del) {
			cJSON_AddStringToObject(doc, "model", argv[0]);
			cJSON_AddBoolToObject(doc, "deleted", 1);
		} else {
			cJSON_AddStringToObject(doc, "target", argv[0]);
		}
		cli_print_json(doc);
	} else if (!cli.quiet) {
		if (del)
			printf("deleted tag %s of %s\n", argv[1], argv[0]);
		else
			printf("tagged %s as %s\n", argv[0], argv[1]);
	}
	mvms_store_free(st);
	return rc;
}

static int list_cmd(int argc, char **argv, const char *cmd,
		    int (*fn)(mvms_ref_info **, size_t *, mvms_store *, const char *))
{
	mvms_store *st = NULL;
	mvms_ref_info *list = NULL;
	size_t n = 0;
	int error, rc;

	if ((rc = cli_plain_args(&argc, &argv, cmd)) >= 0)
		return rc;
	if (argc != 2)
		return cli_usage_error(cmd, "want one MODEL");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = fn(&list, &n, st, argv[1])) < 0)
		rc = cli_fail(error);
	else
		rc = print_refs(list, n);
	mvms_ref_list_free(list, n);
	mvms_store_free(st);
	return rc;
}

int cmd_tags(int argc, char **argv)
{
	return list_cmd(argc, argv, "tags", mvms_tag_list);
}

int cmd_branches(int argc, char **argv)
{
	return list_cmd(argc, argv, "branches", mvms_branch_list);
}

/* What `branch` was asked to do. */
enum branch_op { B_CREATE, B_DELETE, B_MOVE, B_RENAME, B_DEFAULT };

static int branch_run(mvms_store *st, enum branch_op op, char **a, int nargs, const char *expect,
		      int force)
{
	char *def = NULL;
	int error;

	switch (op) {
	case B_DELETE:
		return mvms_branch_remove(st, a[0], a[1], force ? MVMS_HISTORY_FORCE : 0);
	case B_MOVE:
		return mvms_branch_move(st, a[0], a[1], a[2], expect);
	case B_RENAME:
		return mvms_branch_rename(st, a[0], a[1], a[2]);
	case B_DEFAULT:
		if (nargs == 2)
			return mvms_branch_set_default(st, a[0], a[1]);
		if ((error = mvms_branch_get_default(&def, st, a[0])) < 0)
			return error;
		if (cli.json) {
			cJSON *doc = cJSON_CreateObject();
			cJSON_AddStringToObject(doc, "model", a[0]);
			cJSON_AddStringToObject(doc, "default", def);
			cli_print_json(doc);
		} else {
			printf("%s\n", def);
		}
		free(def);
		return 1;
	default:
		return mvms_branch_create(st, a[0], a[1], nargs == 3 ? a[2] : NULL);
	}
}

static void branch_report(enum branch_op op, char **a)
{
	static const char *const verb[] = { "created", "deleted", "moved", "renamed", "default" };

	if (cli.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "model", a[0]);
		cJSON_AddStringToObject(doc, "branch", op == B_RENAME ? a[2] : a[1]);
		cJSON_AddBoolToObject(doc, "deleted", op == B_DELETE);
		if (op == B_MOVE)
			cJSON_AddStringToObject(doc, "to", a[2]);
		if (op == B_RENAME)
			cJSON_AddStringToObject(doc, "from", a[1]);
		if (op == B_DEFAULT)
			cJSON_AddBoolToObject(doc, "default", 1);
		cli_print_json(doc);
	} else if (!cli.quiet) {
		if (op == B_MOVE)
			printf("moved branch %s of %s to %s\n", a[1], a[0], a[2]);
		else if (op == B_RENAME)
			printf("renamed branch %s of %s to %s\n", a[1], a[0], a[2]);
		else if (op == B_DEFAULT)
			printf("%s is now the default branch of %s\n", a[1], a[0]);
		else
			printf("%s branch %s of %s\n", verb[op], a[1], a[0]);
	}
}

int cmd_branch(int argc, char **argv)
{
		enum branch_op op = B_CREATE;
	const char *expect = NULL;
	mvms_store *st = NULL;
	int c, force = 0, ops = 0, error, rc, nargs, ok;

	while ((c = cli_getopt(argc, argv, "branch")) != -1) {
		switch (c) {
		case 'd': op = B_DELETE; ops++; break;
		case 'm': op = B_RENAME; ops++; break;
		case 'D': op = B_DEFAULT; ops++; break;
		case 'f': force = 1; break;
		case 'e': expect = optarg; break;
		case 'h':
			cli_print_usage(cli_find("branch"));
			return EXIT_OK;
		default:
			return cli_bad_option("branch", c);
		}
	}
	/* -f alone moves (git's branch -f); with -d it lets the default branch go. */
	if (force && ops == 0)
		op = B_MOVE;
	nargs = argc - optind;
	if (ops > 1)
		return cli_usage_error("branch", "-d, -m and --default do not go together");
	if (expect && op != B_MOVE)
		return cli_usage_error("branch", "--expect goes with -f (a move)");
	switch (op) {
	case B_DELETE: ok = nargs == 2; break;
	case B_MOVE: case B_RENAME: ok = nargs == 3; break;
	case B_DEFAULT: ok = nargs == 1 || nargs == 2; break;
	default: ok = nargs == 2 || nargs == 3;
	}
	if (!ok || (force && op != B_DELETE && op != B_MOVE))
		return cli_usage_error("branch", "want MODEL NAME [MODEL@REF], -f MODEL NAME MODEL@REF, "
				       "-d MODEL NAME, -m MODEL OLD NEW or --default MODEL [NAME]");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	error = branch_run(st, op, argv + optind, nargs, expect, force);
	if (error < 0)
		rc = cli_fail(error);
	else if (error == 0)
		branch_report(op, argv + optind);
	mvms_store_free(st);
	return rc;
}
