/* SPDX-License-Identifier: MIT */
/*
 * gitignore rules for push: each line is a pattern, '!' negates, a trailing '/' matches
 * directories only, a '/' anywhere else anchors the pattern at the root (else it matches a
 * name at any depth), '#' starts a comment, '\' escapes. The last matching rule decides.
 * Patterns are matched by our own glob (mvms_glob_match) because fnmatch has no '**'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "ignore.h"

typedef struct ignore_rule {
	char *pat;      /* without '!', leading '/' and trailing '/' */
	int negate, dir_only, anchored;
} ignore_rule;

struct mvms_ignore {
	ignore_rule *rules;
	size_t n, cap;
};

int mvms_ignore_new(mvms_ignore **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

void mvms_ignore_free(mvms_ignore *ig)
{
	size_t i;

	if (!ig)
		return;
	for (i = 0; i < ig->n; i++)
		free(ig->rules[i].pat);
	free(ig->rules);
	free(ig);
}

/* A bracket class at @p (just after '['): *matched, and the pattern after ']'; NULL when
 * the class is not closed (then '[' is an ordinary character). */
static const char *match_class(const char *p, char c, int *matched)
{
	int neg = 0, hit = 0, first = 1;

	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	for (; *p && (first || *p != ']'); first = 0) {
		char lo = *p, hi;
		if (lo == '\\' && p[1])
			lo = *++p;
		p++;
		hi = lo;
		if (*p == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = *p++;
		}
		if (c >= lo && c <= hi)
			hit = 1;
	}
	if (*p != ']')
		return NULL;
	*matched = hit != neg && c != '/';
	return p + 1;
}

int mvms_glob_match(const char *p, const char *s)
{
	for (; *p; ) {
		if (p[0] == '*' && p[1] == '*' && (p[2] == '/' || p[2] == '\0')) {
			/* "**" alone as a component: any number of components (none too). */
			const char *rest = p[2] ? p + 3 : p + 2;
			if (!*rest)
				return 1;
			for (;;) {
				if (mvms_glob_match(rest, s))
					return 1;
				s = strchr(s, '/');
				if (!s)
					return 0;
				s++;
			}
		}
		if (*p == '*') {
			while (*p == '*')
				p++;
			for (;; s++) {
				if (mvms_glob_match(p, s))
					return 1;
				if (!*s || *s == '/')
					return 0;
			}
		}
		if (!*s)
			return 0;
		if (*p == '?') {
			if (*s == '/')
				return 0;
			p++;
			s++;
			continue;
		}
		if (*p == '[') {
			int m = 0;
			const char *after = match_class(p + 1, *s, &m);
			if (after) {
				if (!m)
					return 0;
				p = after;
				s++;
				continue;
			}
		}
		if (*p == '\\' && p[1])
			p++;
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *s == '\0';
}

int mvms_ignore_add(mvms_ignore *ig, const char *line)
{
	ignore_rule r;
	size_t len;
	char *pat = NULL;
	int error = 0;

	memset(&r, 0, sizeof(r));
	len = strcspn(line, "\r\n");
	/* Trailing spaces go unless escaped with '\'. */
	while (len > 0 && line[len - 1] == ' ' && !(len > 1 && line[len - 2] == '\\'))
		len--;
	if (len == 0 || line[0] == '#')
		goto done;
	if (line[0] == '!') {
		r.negate = 1;
		line++;
		len--;
	} else if (line[0] == '\\' && (line[1] == '!' || line[1] == '#')) {
		line++;
		len--;
	}
	if (len > 0 && line[len - 1] == '/') {
		r.dir_only = 1;
		len--;
	}
	if (len > 0 && line[0] == '/') {
		r.anchored = 1;
		line++;
		len--;
	}
	if (len == 0)
		goto done;
	pat = strndup(line, len);
	MVMS_CHECK_ALLOC(pat, error);
	if (strchr(pat, '/'))
		r.anchored = 1;
	if (ig->n == ig->cap) {
		size_t ncap = ig->cap ? ig->cap * 2 : 8;
		ignore_rule *t = realloc(ig->rules, ncap * sizeof(*t));
		MVMS_CHECK_ALLOC(t, error);
		ig->rules = t;
		ig->cap = ncap;
	}
	r.pat = pat;
	pat = NULL;
	ig->rules[ig->n++] = r;
done:
	free(pat);
	return error;
}

int mvms_ignore_load(mvms_ignore *ig, const char *file)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	int error = 0;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		return mvms_error_set(MVMS_ERROR, "push: %s: %s", file, strerror(errno));
	}
	while (getline(&line, &cap, f) >= 0)
		MVMS_TRY(mvms_ignore_add(ig, line));
	if (ferror(f))
		error = mvms_error_set(MVMS_ERROR, "push: %s: read error", file);
done:
	free(line);
	fclose(f);
	return error;
}

int mvms_ignore_match(const mvms_ignore *ig, const char *path, int is_dir)
{
	const char *base = strrchr(path, '/');
	size_t i = ig ? ig->n : 0;

	base = base ? base + 1 : path;
	while (i-- > 0) {
		const ignore_rule *r = &ig->rules[i];
		if (r->dir_only && !is_dir)
			continue;
		if (mvms_glob_match(r->pat, r->anchored ? path : base))
			return !r->negate;
	}
	return 0;
}
