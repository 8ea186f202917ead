/* SPDX-License-Identifier: MIT */
/*
 * Which files a push leaves out: rules in gitignore syntax (a root .mvmsignore and
 * push --exclude), and glob matching with '**' (ignore.c). Also the pull-side selection
 * of a version's files (paths, --include, --exclude).
 */
#ifndef MVMS_IGNORE_H
#define MVMS_IGNORE_H

#include <stddef.h>
#include "common.h"

typedef struct mvms_ignore mvms_ignore;

int mvms_ignore_new(mvms_ignore **out);
void mvms_ignore_free(mvms_ignore *ig);
/* Adds one line of gitignore syntax (blank lines and '#' comments add nothing). */
int mvms_ignore_add(mvms_ignore *ig, const char *line);
/* Adds every line of @file; a missing file adds nothing. @file names it in errors. */
int mvms_ignore_load(mvms_ignore *ig, const char *file);
/* 1 when @path ('/'-separated, relative to the root) is ignored by the last rule that
 * matches it, 0 when not. The caller asks for each directory before descending (git's rule:
 * a file under an ignored directory cannot be re-included). */
int mvms_ignore_match(const mvms_ignore *ig, const char *path, int is_dir);
/* Glob matching of @pat against @s: '*' and '?' do not match '/', '**' as a whole
 * component matches any number of components, [...] classes, '\' escapes. 1 on a match. */
int mvms_glob_match(const char *pat, const char *s);

#endif
