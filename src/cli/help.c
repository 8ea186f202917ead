/* SPDX-License-Identifier: MIT */
/*
 * Help, the man page and the shell completions, all printed from the option tables of
 * options.c (the ones the parser is built from). The build runs `mvms-store --man` and
 * `mvms-store --completion bash|zsh` to make mvms-store.1 and the completion scripts that
 * `make install` installs.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

/* "  -m, --message MSG" / "      --parent MODEL@REF" */
static int opt_left(char *buf, size_t n, const cli_opt *o)
{
	return snprintf(buf, n, "  %c%c%s--%s%s%s", o->letter ? '-' : ' ', o->letter ? o->letter : ' ',
			o->letter ? ", " : "  ", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void print_opts(FILE *f, const cli_opt *opts, int with_help)
{
	const cli_opt *o;
	char left[128];

	for (o = opts; o->name || with_help; o++) {
		const cli_opt *x = o->name ? o : &cli_help_opt;
		int w = opt_left(left, sizeof(left), x);
		fprintf(f, "%s%*s%s\n", left, w < 30 ? 30 - w : 1, "", x->help);
		if (!o->name)
			break;
	}
}

static int has_opts(const cli_cmd *c)
{
	return c->opts[0].name != NULL;
}

void cli_print_usage(const cli_cmd *c)
{
	printf("usage: mvms-store %s%s%s%s\n  %s\n\noptions:\n", c->name, *c->usage ? " " : "",
	       c->usage, has_opts(c) && !strstr(c->usage, "OPTIONS") ? " [OPTIONS]" : "", c->summary);
	print_opts(stdout, c->opts, 1);
	printf("\nglobal options (anywhere on the line):\n");
	print_opts(stdout, cli_global_opts, 0);
}

void cli_print_help(FILE *f)
{
	const cli_cmd *c;

	fprintf(f, "usage: mvms-store [--store DIR | --remote URL|NAME [--token T]] [--json] [-q] "
		   "COMMAND [ARGS]\n\nA content-addressed store for model artifacts with a version "
		   "DAG.\n\nCommands:\n");
	for (c = cli_commands(); c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\nGlobal options:\n");
	print_opts(f, cli_global_opts, 0);
	fprintf(f, "\nThe store is --store DIR, else $MVMS_STORE, else the config's store, else "
		   "$XDG_DATA_HOME/mvms-store\n(~/.local/share/mvms-store). With --remote URL|NAME "
		   "(or $MVMS_REMOTE, or the config's\nremote), commands talk to an mvms-store server "
		   "with --token (or $MVMS_TOKEN). Defaults\n(store, remote, token, author) come from "
		   "$XDG_CONFIG_HOME/mvms-store/config\n(~/.config/mvms-store/config); flags win over "
		   "the environment, which wins over the file.\n'mvms-store help COMMAND' shows a "
		   "command's options.\n");
}

/* ---- the man page (roff) ---- */

/* @s with roff's specials escaped: '-' and '\' always, '.' and '\'' at a line's start. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '-' || *s == '\\')
			fputc('\\', f);
		fputc(*s == '\\' ? 'e' : *s, f);
	}
}

static void man_opts(FILE *f, const cli_opt *opts, int with_help)
{
	const cli_opt *o;

	for (o = opts; o->name || with_help; o++) {
		const cli_opt *x = o->name ? o : &cli_help_opt;
		fputs(".TP\n", f);
		if (x->letter)
			fprintf(f, "\\fB\\-%c\\fR, ", x->letter);
		fputs("\\fB\\-\\-", f);
		roff(f, x->name);
		fputs("\\fR", f);
		if (x->arg) {
			fputs(" \\fI", f);
			roff(f, x->arg);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff(f, x->help);
		fputc('\n', f);
		if (!o->name)
			break;
	}
}

void cli_print_man(FILE *f)
{
	const cli_cmd *c;

	fprintf(f, ".TH MVMS\\-STORE 1 \"\" \"mvms-store %s\" \"User Commands\"\n", PACKAGE_VERSION);
	fputs(".SH NAME\nmvms\\-store \\- a content\\-addressed store for model artifacts with a "
	      "version DAG\n.SH SYNOPSIS\n.B mvms\\-store\n[\\fB\\-\\-store\\fR \\fIDIR\\fR | "
	      "\\fB\\-\\-remote\\fR \\fIURL\\fR|\\fINAME\\fR [\\fB\\-\\-token\\fR \\fIT\\fR]] "
	      "[\\fB\\-\\-json\\fR] [\\fB\\-q\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n"
	      ".SH DESCRIPTION\nmvms\\-store keeps model files (safetensors, GGUF, anything) as "
	      "versions in a DAG, stored once per chunk, compressed and verified on every read. "
	      "A store is a directory (objects may live in an S3 or GCS bucket); \\fBserve\\fR "
	      "shares it over HTTP and every command can talk to such a server with "
	      "\\fB\\-\\-remote\\fR.\n.SH GLOBAL OPTIONS\nThey may stand anywhere on the line.\n", f);
	man_opts(f, cli_global_opts, 0);
	fputs(".SH COMMANDS\n", f);
	for (c = cli_commands(); c->name; c++) {
		fputs(".SS \"mvms\\-store ", f);
		roff(f, c->name);
		if (*c->usage) {
			fputc(' ', f);
			roff(f, c->usage);
		}
		fprintf(f, "%s\"\n", has_opts(c) && !strstr(c->usage, "OPTIONS") ? " [OPTIONS]" : "");
		roff(f, c->summary);
		fputc('\n', f);
		man_opts(f, c->opts, 0);
	}
	fputs(".SH ENVIRONMENT\n.TP\n.B MVMS_STORE\nthe store's directory (below \\-\\-store)\n"
	      ".TP\n.B MVMS_REMOTE\na server's URL or a remote's name (below \\-\\-remote)\n"
	      ".TP\n.B MVMS_TOKEN\nthe server's API token (below \\-\\-token)\n"
	      ".TP\n.B MVMS_AUTHOR\nthe author of new versions and deployments (below "
	      "\\-\\-author; above the config, git's user.name and user.email, and the login name)\n"
	      ".TP\n.B XDG_CONFIG_HOME\nwhere the configuration file is (default ~/.config)\n"
	      ".TP\n.B XDG_DATA_HOME\nwhere the default store is (default ~/.local/share)\n"
	      ".SH FILES\n.TP\n.I $XDG_CONFIG_HOME/mvms\\-store/config\nkey = value lines: "
	      "\\fBstore\\fR, \\fBremote\\fR, \\fBtoken\\fR, \\fBauthor\\fR; and sections "
	      "\\fB[remote\\fR \\fINAME\\fR\\fB]\\fR with \\fBurl\\fR and \\fBtoken\\fR. Flags win "
	      "over the environment, which wins over the file.\n"
	      ".SH EXIT STATUS\n0 success; 1 failure; 2 usage error; 3 not found (model, version, "
	      "ref, store); 4 conflict or exists. With \\fB\\-\\-json\\fR every failure prints one "
	      "document {\"error\":{\"code\",\"message\"}} on stdout.\n"
	      ".SH SEE ALSO\ndocs/user\\-guide.md and docs/http\\-api.md in the source tree.\n", f);
}

/* ---- completions ---- */

static void bash_words(FILE *f, const cli_opt *opts)
{
	const cli_opt *o;

	for (o = opts; o->name; o++) {
		fprintf(f, " --%s", o->name);
		if (o->letter)
			fprintf(f, " -%c", o->letter);
	}
}

/* The options whose argument is a file or a directory (completed as paths). */
static int takes_path(const cli_opt *o)
{
	return o->arg && (strcmp(o->arg, "DIR") == 0 || strcmp(o->arg, "FILE") == 0 ||
			  strcmp(o->arg, "PATH") == 0);
}

static void bash_path_opts(FILE *f, const cli_opt *opts)
{
	const cli_opt *o;

	for (o = opts; o->name; o++)
		if (takes_path(o))
			fprintf(f, "|--%s", o->name);
}

static void print_bash(FILE *f)
{
	const cli_cmd *c;
	const cli_opt *o;

	fputs("# bash completion for mvms-store (generated by 'mvms-store --completion bash')\n"
	      "_mvms_store() {\n\tlocal cur prev cmd i opts\n\tcur=${COMP_WORDS[COMP_CWORD]}\n"
	      "\tprev=${COMP_WORDS[COMP_CWORD-1]}\n\tcmd=\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n\t\tcase ${COMP_WORDS[i]} in\n\t\t", f);
	for (o = cli_global_opts; o->name; o++)
		if (o->arg)
			fprintf(f, "%s--%s", o == cli_global_opts ? "" : "|", o->name);
	fputs(") ((i++)) ;;\n\t\t-*) ;;\n\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n\t\tesac\n\tdone\n"
	      "\tcase $prev in\n\t--store", f);
	for (c = cli_commands(); c->name; c++)
		bash_path_opts(f, c->opts);
	fputs(") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n\tesac\n"
	      "\tif [[ -z $cmd ]]; then\n\t\tCOMPREPLY=($(compgen -W \"", f);
	for (c = cli_commands(); c->name; c++)
		fprintf(f, "%s ", c->name);
	fputs("help", f);
	bash_words(f, cli_global_opts);
	fputs(" --help --version\" -- \"$cur\"))\n\t\treturn\n\tfi\n\tcase $cmd in\n", f);
	for (c = cli_commands(); c->name; c++) {
		fprintf(f, "\t%s) opts=\"", c->name);
		bash_words(f, c->opts);
		fputs(" --help -h\" ;;\n", f);
	}
	fputs("\thelp) COMPREPLY=($(compgen -W \"", f);
	for (c = cli_commands(); c->name; c++)
		fprintf(f, "%s%s", c == cli_commands() ? "" : " ", c->name);
	fputs("\" -- \"$cur\")); return ;;\n\t*) opts= ;;\n\tesac\n\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts", f);
	bash_words(f, cli_global_opts);
	fputs("\" -- \"$cur\"))\n\telse\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n}\n"
	      "complete -F _mvms_store mvms-store\n", f);
}

/* @s inside a single-quoted zsh word of an _arguments spec: quotes closed and reopened,
 * brackets escaped (they end an explanation), and colons too when @colons (they end the
 * argument's message). */
static void zsh_text(FILE *f, const char *s, int colons)
{
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else if (*s == '[' || *s == ']' || *s == '\\' || (colons && *s == ':'))
			fprintf(f, "\\%c", *s);
		else
			fputc(*s, f);
	}
}

static void zsh_specs(FILE *f, const cli_opt *opts, const char *indent)
{
	const cli_opt *o;

	for (o = opts; o->name; o++) {
		/* A repeatable option (none has a letter) may be given again. */
		const char *many = strstr(o->help, "repeatable") ? "*" : "";
		if (o->letter)
			fprintf(f, "%s'(-%c --%s)'{-%c,--%s}'[", indent, o->letter, o->name, o->letter,
				o->name);
		else
			fprintf(f, "%s'%s--%s[", indent, many, o->name);
		zsh_text(f, o->help, 0);
		fputc(']', f);
		if (o->arg) {
			fputc(':', f);
			zsh_text(f, o->arg, 1);
			fputs(takes_path(o) ? ":_files" : ":", f);
		}
		fputs("' \\\n", f);
	}
}

static void print_zsh(FILE *f)
{
	const cli_cmd *c;

	fputs("#compdef mvms-store\n# zsh completion for mvms-store (generated by 'mvms-store "
	      "--completion zsh')\n_mvms_store() {\n\tlocal curcontext=$curcontext state line\n"
	      "\tlocal -a commands\n\tcommands=(\n", f);
	for (c = cli_commands(); c->name; c++) {
		fprintf(f, "\t\t'%s:", c->name);
		zsh_text(f, c->summary, 0);
		fputs("'\n", f);
	}
	fputs("\t)\n\t_arguments -C \\\n", f);
	zsh_specs(f, cli_global_opts, "\t\t");
	fputs("\t\t'1: :->command' \\\n\t\t'*:: :->args'\n\tcase $state in\n"
	      "\tcommand) _describe -t commands 'mvms-store command' commands ;;\n"
	      "\targs)\n\t\tcase $words[1] in\n", f);
	for (c = cli_commands(); c->name; c++) {
		fprintf(f, "\t\t%s) _arguments \\\n", c->name);
		zsh_specs(f, c->opts, "\t\t\t");
		fputs("\t\t\t'(-h --help)'{-h,--help}'[show this help]' \\\n"
		      "\t\t\t'*:argument:_files' ;;\n", f);
	}
	fputs("\t\tesac ;;\n\tesac\n}\n_mvms_store \"$@\"\n", f);
}

int cli_print_completion(FILE *f, const char *shell)
{
	if (strcmp(shell, "bash") == 0)
		print_bash(f);
	else if (strcmp(shell, "zsh") == 0)
		print_zsh(f);
	else
		return -1;
	return 0;
}
