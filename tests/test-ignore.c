/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the push's ignore rules (core/ignore.c): gitignore syntax (comments,
 * negation, directory-only and anchored patterns, escapes, trailing spaces, last match
 * wins) and the glob underneath ('*', '?', classes, '**').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "ignore.h"

static void glob_is(const char *pat, const char *s, int want)
{
	ok(mvms_glob_match(pat, s) == want, "glob '%s' %s '%s'", pat, want ? "matches" : "does not match", s);
}

static void test_glob(void)
{
	glob_is("*.log", "a.log", 1);
	glob_is("*.log", "dir/a.log", 0);        /* '*' stops at '/' */
	glob_is("a?c", "abc", 1);
	glob_is("a?c", "a/c", 0);
	glob_is("[ab]x", "bx", 1);
	glob_is("[!ab]x", "bx", 0);
	glob_is("[^ab]x", "cx", 1);
	glob_is("[a-c]1", "b1", 1);
	glob_is("[a-c]1", "d1", 0);
	glob_is("[x", "[x", 1);                  /* an unclosed class is a plain '[' */
	glob_is("\\*", "*", 1);
	glob_is("\\*", "a", 0);
	glob_is("**/x", "x", 1);                 /* '**' matches no component too */
	glob_is("**/x", "a/b/x", 1);
	glob_is("a/**/b", "a/b", 1);
	glob_is("a/**/b", "a/x/y/b", 1);
	glob_is("a/**/b", "ab", 0);
	glob_is("a/**", "a/x/y", 1);
	glob_is("a/**", "b/x", 0);
	glob_is("*", "", 1);
	glob_is("", "", 1);
	glob_is("", "a", 0);
	glob_is("a*b*c", "axxbyyc", 1);
	glob_is("a*b*c", "axxbyy", 0);
}

static mvms_ignore *rules(const char *const *lines)
{
	mvms_ignore *ig = NULL;
	size_t i;

	if (mvms_ignore_new(&ig) < 0)
		abort();
	for (i = 0; lines[i]; i++)
		if (mvms_ignore_add(ig, lines[i]) < 0)
			abort();
	return ig;
}

static void ign_is(const mvms_ignore *ig, const char *path, int is_dir, int want)
{
	ok(mvms_ignore_match(ig, path, is_dir) == want, "%s%s is %s", path, is_dir ? "/" : "",
	   want ? "ignored" : "kept");
}

static void test_rules(void)
{
	static const char *const lines[] = {
		"# a comment", "", "   ", "*.log\n", "!keep.log", "build/", "/top.txt",
		"data/**/*.tmp", "\\#hash.txt", "\\!bang", "trail.txt   ", "sp\\ ", "cache/*/x",
		NULL,
	};
	mvms_ignore *ig = rules(lines);

	ign_is(ig, "a.log", 0, 1);
	ign_is(ig, "sub/a.log", 0, 1);           /* no '/': a name at any depth */
	ign_is(ig, "keep.log", 0, 0);            /* negated by the later rule */
	ign_is(ig, "sub/keep.log", 0, 0);
	ign_is(ig, "build", 1, 1);
	ign_is(ig, "sub/build", 1, 1);
	ign_is(ig, "build", 0, 0);               /* "build/" names directories only */
	ign_is(ig, "top.txt", 0, 1);
	ign_is(ig, "sub/top.txt", 0, 0);         /* anchored at the root */
	ign_is(ig, "data/a/b/c.tmp", 0, 1);
	ign_is(ig, "data/c.tmp", 0, 1);
	ign_is(ig, "other/data/c.tmp", 0, 0);    /* a '/' inside anchors too */
	ign_is(ig, "#hash.txt", 0, 1);
	ign_is(ig, "# a comment", 0, 0);
	ign_is(ig, "!bang", 0, 1);
	ign_is(ig, "trail.txt", 0, 1);           /* trailing spaces dropped */
	ign_is(ig, "sp ", 0, 1);                 /* unless escaped */
	ign_is(ig, "cache/a/x", 0, 1);
	ign_is(ig, "cache/a/b/x", 0, 0);
	ign_is(ig, "main.bin", 0, 0);
	mvms_ignore_free(ig);
}

static void test_order(void)
{
	static const char *const a[] = { "!x.bin", "*.bin", NULL };
	static const char *const b[] = { "*.bin", "!x.bin", NULL };
	static const char *const c[] = { "/", "!", "#", NULL };
	mvms_ignore *ig = rules(a);

	ign_is(ig, "x.bin", 0, 1);               /* the last matching rule wins */
	mvms_ignore_free(ig);
	ig = rules(b);
	ign_is(ig, "x.bin", 0, 0);
	ign_is(ig, "y.bin", 0, 1);
	mvms_ignore_free(ig);
	ig = rules(c);                            /* rules with no pattern add nothing */
	ign_is(ig, "anything", 0, 0);
	mvms_ignore_free(ig);
	ign_is(NULL, "anything", 0, 0);
	is_int(mvms_ignore_load(NULL, "/nonexistent/.mvmsignore"), 0, "a missing .mvmsignore adds nothing");
}

int main(void)
{
	test_glob();
	test_rules();
	test_order();
	return done_testing();
}
