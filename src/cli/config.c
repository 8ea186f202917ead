/* SPDX-License-Identifier: MIT */
/*
 * The user's configuration file, $XDG_CONFIG_HOME/mvms-store/config (~/.config/mvms-store/config):
 * a default store, a default remote, a token and an author, plus named remotes. The format
 * (docs/user-guide.md, "Configuration"):
 *
 *   # comment
 *   store = ~/models/store        (top level, or in [core])
 *   remote = team
 *   author = Jane Doe <jane@example.com>
 *   [remote team]
 *   url = https://models.example.com
 *   token = mvms_...
 *
 * The file is kept as lines so that `remote add` and `remote remove` change only the lines
 * of one remote and keep the user's comments; it is rewritten atomically (temp + rename),
 * mode 0600 when it holds a token.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

#define MAX_REMOTES 64

struct cfg_remote {
	char *name, *url, *token;
	size_t first, end; /* its lines: [first, end) */
};

static struct {
	int loaded;
	char path[4096];
	char **lines; /* the file, one string per line, without newlines */
	size_t nlines;
	char *store, *remote, *token, *author;
	long remote_line; /* the line of the top-level "remote =", -1 when none */
	struct cfg_remote remotes[MAX_REMOTES];
	size_t nremotes;
} cfg = { .remote_line = -1 };

const char *cli_config_path(void)
{
	const char *e = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (!cfg.path[0]) {
		if (e && *e)
			snprintf(cfg.path, sizeof(cfg.path), "%s/mvms-store/config", e);
		else
			snprintf(cfg.path, sizeof(cfg.path), "%s/.config/mvms-store/config",
				 home && *home ? home : ".");
	}
	return cfg.path;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Remote names: letters, digits, '.', '_' and '-' (so that a name never looks like a URL). */
int cli_remote_name_ok(const char *name)
{
	const char *p;

	if (!*name || strlen(name) > 64)
		return 0;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return 0;
	return 1;
}

static int parse_error(size_t line, const char *what)
{
	return cli_error(EXIT_ERROR, "invalid", "%s:%zu: %s", cli_config_path(), line + 1, what);
}

/* "[core]", "[remote NAME]" or "[remote \"NAME\"]": sets *remote to the new remote, or NULL
 * for core. */
static int parse_section(struct cfg_remote **remote, char *s, size_t line)
{
	char *name;
	size_t n = strlen(s);

	if (s[n - 1] != ']')
		return parse_error(line, "a section header ends with ']'");
	s[n - 1] = '\0';
	s = trim(s + 1);
	if (strcmp(s, "core") == 0) {
		*remote = NULL;
		return 0;
	}
	if (strncmp(s, "remote", 6) != 0 || !isspace((unsigned char)s[6]))
		return parse_error(line, "unknown section (want [core] or [remote NAME])");
	name = trim(s + 6);
	n = strlen(name);
	if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
		name[n - 1] = '\0';
		name++;
	}
	if (!cli_remote_name_ok(name))
		return parse_error(line, "a remote's name is letters, digits, '.', '_' and '-'");
	if (cli_config_remote(NULL, NULL, name) == 0)
		return parse_error(line, "this remote is defined twice");
	if (cfg.nremotes == MAX_REMOTES)
		return parse_error(line, "too many remotes");
	*remote = &cfg.remotes[cfg.nremotes++];
	(*remote)->first = line;
	(*remote)->end = line + 1;
	if (!((*remote)->name = strdup(name)))
		return cli_error(EXIT_ERROR, "error", "out of memory");
	return 0;
}

static int set_value(char **slot, const char *v)
{
	free(*slot);
	*slot = strdup(v);
	return *slot ? 0 : cli_error(EXIT_ERROR, "error", "out of memory");
}

/* One line of the file. */
static int parse_line(struct cfg_remote **remote, char *raw, size_t line)
{
	char *s = trim(raw), *eq, *key, *val;
	size_t n;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_section(remote, s, line);
	if (!(eq = strchr(s, '=')))
		return parse_error(line, "want KEY = VALUE");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	n = strlen(val);
	if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
		val[n - 1] = '\0';
		val++;
	}
	if (*remote) {
		/* Its lines end with its last key: comments after it may be about the next one. */
		(*remote)->end = line + 1;
		if (strcmp(key, "url") == 0)
			return set_value(&(*remote)->url, val);
		if (strcmp(key, "token") == 0)
			return set_value(&(*remote)->token, val);
		return parse_error(line, "unknown key in a [remote] section (want url or token)");
	}
	if (strcmp(key, "store") == 0)
		return set_value(&cfg.store, val);
	if (strcmp(key, "remote") == 0) {
		cfg.remote_line = (long)line;
		return set_value(&cfg.remote, val);
	}
	if (strcmp(key, "token") == 0)
		return set_value(&cfg.token, val);
	if (strcmp(key, "author") == 0)
		return set_value(&cfg.author, val);
	return parse_error(line, "unknown key (want store, remote, token or author)");
}

/* Reads the whole file into cfg.lines. 0 when it does not exist. */
static int read_lines(void)
{
	FILE *f = fopen(cli_config_path(), "r");
	char *line = NULL, **grown;
	size_t cap = 0, n;
	ssize_t len;
	int rc = 0;

	if (!f)
		return errno == ENOENT ? 0
			: cli_error(EXIT_ERROR, "error", "cannot read %s: %s", cli_config_path(),
				    strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		n = (size_t)len;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (strlen(line) != n) {
			rc = parse_error(cfg.nlines, "a NUL byte in the line");
			break;
		}
		if (!(grown = realloc(cfg.lines, (cfg.nlines + 1) * sizeof(char *))) ||
		    !(grown[cfg.nlines] = strdup(line))) {
			if (grown)
				cfg.lines = grown;
			rc = cli_error(EXIT_ERROR, "error", "out of memory");
			break;
		}
		cfg.lines = grown;
		cfg.nlines++;
	}
	if (!rc && ferror(f))
		rc = cli_error(EXIT_ERROR, "error", "cannot read %s", cli_config_path());
	free(line);
	fclose(f);
	return rc;
}

int cli_config_load(void)
{
	struct cfg_remote *remote = NULL;
	char *copy;
	size_t i;
	int rc;

	if (cfg.loaded)
		return 0;
	cfg.loaded = 1;
	if ((rc = read_lines()) != 0)
		return rc;
	for (i = 0; i < cfg.nlines; i++) {
		if (!(copy = strdup(cfg.lines[i])))
			return cli_error(EXIT_ERROR, "error", "out of memory");
		rc = parse_line(&remote, copy, i);
		free(copy);
		if (rc)
			return rc;
	}
	for (i = 0; i < cfg.nremotes; i++)
		if (!cfg.remotes[i].url)
			return parse_error(cfg.remotes[i].first, "this remote has no url");
	if (cfg.remote && *cfg.remote && !strstr(cfg.remote, "://") &&
	    cli_config_remote(NULL, NULL, cfg.remote) < 0)
		return parse_error((size_t)cfg.remote_line, "the default remote is neither a URL nor "
				   "the name of a [remote NAME] section");
	return 0;
}

const char *cli_config_get(const char *key)
{
	if (strcmp(key, "store") == 0)
		return cfg.store;
	if (strcmp(key, "remote") == 0)
		return cfg.remote;
	if (strcmp(key, "token") == 0)
		return cfg.token;
	if (strcmp(key, "author") == 0)
		return cfg.author;
	return NULL;
}

int cli_config_remote(const char **url, const char **token, const char *name)
{
	size_t i;

	for (i = 0; i < cfg.nremotes; i++)
		if (strcmp(cfg.remotes[i].name, name) == 0) {
			if (url)
				*url = cfg.remotes[i].url;
			if (token)
				*token = cfg.remotes[i].token;
			return 0;
		}
	return -1;
}

const char *cli_config_token_for_url(const char *url)
{
	size_t i;

	for (i = 0; i < cfg.nremotes; i++)
		if (strcmp(cfg.remotes[i].url, url) == 0 && cfg.remotes[i].token)
			return cfg.remotes[i].token;
	return NULL;
}

size_t cli_config_remote_count(void)
{
	return cfg.nremotes;
}

void cli_config_remote_at(size_t i, const char **name, const char **url, int *has_token)
{
	*name = cfg.remotes[i].name;
	*url = cfg.remotes[i].url;
	*has_token = cfg.remotes[i].token && *cfg.remotes[i].token;
}

/* mkdir -p of the file's directory, private to the user (it may hold tokens). */
static int make_parent(const char *path)
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
			return -1;
		*p = '/';
	}
	return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Writes cfg.lines without [skip_first, skip_end) and the line @skip_line, then @extra,
 * to a temp file beside the config, and renames it over the config. */
static int write_config(size_t skip_first, size_t skip_end, long skip_line, const char *extra,
			int has_token)
{
	const char *path = cli_config_path();
	char tmp[4200];
	struct stat sb;
	mode_t mode = has_token ? 0600 : stat(path, &sb) == 0 ? (sb.st_mode & 0777) : 0644;
	size_t i;
	FILE *f;
	int fd, bad = 0;

	if (make_parent(path) < 0)
		return cli_error(EXIT_ERROR, "error", "cannot create the directory of %s: %s", path,
				 strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0 || fchmod(fd, mode) < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return cli_error(EXIT_ERROR, "error", "cannot write %s: %s", path, strerror(errno));
	}
	for (i = 0; i < cfg.nlines; i++)
		if ((i < skip_first || i >= skip_end) && (long)i != skip_line)
			bad |= fprintf(f, "%s\n", cfg.lines[i]) < 0;
	if (extra)
		bad |= fputs(extra, f) < 0;
	bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) < 0) {
		unlink(tmp);
		return cli_error(EXIT_ERROR, "error", "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

/* Whether any token would be left in the file once remote @skip (NULL: none) is gone, or
 * once a remote with a token is added. */
static int holds_token(const char *skip, int adding)
{
	size_t i;

	if (adding || (cfg.token && *cfg.token))
		return 1;
	for (i = 0; i < cfg.nremotes; i++)
		if ((!skip || strcmp(cfg.remotes[i].name, skip)) && cfg.remotes[i].token &&
		    *cfg.remotes[i].token)
			return 1;
	return 0;
}

int cli_config_remote_add(const char *name, const char *url, const char *token)
{
	char *extra = NULL;
	const char *sep = cfg.nlines && *cfg.lines[cfg.nlines - 1] ? "\n" : "";
	int rc;

	if (asprintf(&extra, "%s[remote %s]\nurl = %s\n%s%s%s", sep, name, url,
		     token ? "token = " : "", token ? token : "", token ? "\n" : "") < 0)
		return cli_error(EXIT_ERROR, "error", "out of memory");
	rc = write_config(0, 0, -1, extra, holds_token(NULL, token != NULL));
	if (token)
		memset(extra, 0, strlen(extra));
	free(extra);
	return rc;
}

int cli_config_remote_remove(const char *name, int *was_default)
{
	size_t i;

	for (i = 0; i < cfg.nremotes; i++)
		if (strcmp(cfg.remotes[i].name, name) == 0)
			break;
	if (i == cfg.nremotes)
		return cli_error(EXIT_NOTFOUND, "not_found", "no remote named '%s' in %s", name,
				 cli_config_path());
	/* The default remote goes with it: a default naming nothing would fail every command. */
	*was_default = cfg.remote && strcmp(cfg.remote, name) == 0;
	return write_config(cfg.remotes[i].first, cfg.remotes[i].end,
			    *was_default ? cfg.remote_line : -1, NULL, holds_token(name, 0));
}

int cli_select_remote(const char *flag_remote, const char *flag_token)
{
	const char *r = flag_remote, *tok = NULL, *url = NULL, *e = getenv("MVMS_REMOTE");
	int explicit = 1;

	if (!r || !*r)
		r = e && *e ? e : NULL;
	if (!r) {
		/* A store chosen by --store or $MVMS_STORE means this machine: the config's default
		 * remote is for when nothing was chosen. */
		e = getenv("MVMS_STORE");
		r = (cli.store && *cli.store) || (e && *e) ? NULL : cfg.remote;
		explicit = 0;
	}
	if (r && *r) {
		if (strstr(r, "://")) {
			url = r;
			tok = cli_config_token_for_url(r);
		} else if (cli_config_remote(&url, &tok, r) < 0) {
			return cli_error(EXIT_USAGE, "usage", "unknown remote '%s': neither a URL "
					 "(http://HOST:PORT) nor a remote of %s (see 'mvms-store remote "
					 "list')", r, cli_config_path());
		}
	}
	cli.remote = url;
	cli.remote_explicit = url && explicit;
	e = getenv("MVMS_TOKEN");
	cli.token = flag_token && *flag_token ? flag_token
		: e && *e ? e
		: tok && *tok ? tok
		: cfg.token && *cfg.token ? cfg.token : NULL;
	return 0;
}

/* git's user.name and user.email into @name and @email ("" when git is missing or a key is
 * unset): one `git config` for both (each costs a fork and exec of git, ~5 ms a push); the
 * last value of a key wins, as with `git config --get`. */
static void git_user(char *name, char *email, size_t n)
{
	char line[600];
	FILE *p;

	name[0] = email[0] = '\0';
	fflush(NULL);
	if (!(p = popen("git config --get-regexp '^user\\.(name|email)$' </dev/null 2>/dev/null",
			"r")))
		return;
	while (fgets(line, (int)sizeof(line), p)) {
		line[strcspn(line, "\r\n")] = '\0';
		const char *v = NULL;
		char *to = NULL;
		size_t len;
		if (strncmp(line, "user.name ", 10) == 0)
			v = line + 10, to = name;
		else if (strncmp(line, "user.email ", 11) == 0)
			v = line + 11, to = email;
		if (!to)
			continue;
		len = strlen(v) < n - 1 ? strlen(v) : n - 1; /* a longer value is cut */
		memcpy(to, v, len);
		to[len] = '\0';
	}
	pclose(p);
}

const char *cli_author(const char *flag)
{
	static char author[640];
	char name[256], email[256];
	const char *e = getenv("MVMS_AUTHOR");
	struct passwd *pw;

	if (flag && *flag)
		return flag;
	if (e && *e)
		return e;
	if (cfg.author && *cfg.author)
		return cfg.author;
	if (!author[0]) {
		git_user(name, email, sizeof(name));
		if (*name && *email)
			snprintf(author, sizeof(author), "%s <%s>", name, email);
		else if (*name || *email)
			snprintf(author, sizeof(author), "%s", *name ? name : email);
		else if ((pw = getpwuid(getuid())) && pw->pw_name && *pw->pw_name)
			snprintf(author, sizeof(author), "%s", pw->pw_name);
		else if (((e = getenv("USER")) && *e) || ((e = getenv("LOGNAME")) && *e))
			snprintf(author, sizeof(author), "%s", e);
	}
	return author[0] ? author : NULL;
}
