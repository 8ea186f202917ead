/* SPDX-License-Identifier: MIT */
/*
 * mvms-store ls MODEL@REF [PATH]: a version's files (sizes, ids, times; -t their tensors);
 * mvms-store cat MODEL@REF PATH [--range A-B]: a file's bytes on stdout, each chunk
 * verified against its hash as it is read (memory bounded by one chunk).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void print_listing(const cJSON *doc, int tensors)
{
	const cJSON *f, *t;
	char a[32];

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(doc, "files")) {
		const cJSON *mt = cJSON_GetObjectItemCaseSensitive(f, "mtime");
		printf("%04o %10s  %.16s  %-20s  %s\n",
		       (unsigned)cJSON_GetObjectItemCaseSensitive(f, "mode")->valuedouble,
		       cli_human(a, sizeof(a),
				 (uint64_t)cJSON_GetObjectItemCaseSensitive(f, "size")->valuedouble),
		       cJSON_GetObjectItemCaseSensitive(f, "id")->valuestring,
		       cJSON_IsString(mt) ? mt->valuestring : "-",
		       cJSON_GetObjectItemCaseSensitive(f, "path")->valuestring);
		if (!tensors)
			continue;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(f, "tensors")) {
			char *shape = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "shape"));
			printf("    %-40s %-5s %s\n", cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring,
			       cJSON_GetObjectItemCaseSensitive(t, "dtype")->valuestring,
			       shape ? shape : "?");
			free(shape);
		}
	}
}

int cmd_ls(int argc, char **argv)
{
	mvms_store *st = NULL;
	mvms_listing *l = NULL;
	cJSON *doc = NULL;
	int c, error, rc = EXIT_OK, tensors = 0;

	while ((c = cli_getopt(argc, argv, "ls")) != -1) {
		switch (c) {
		case 't': tensors = 1; break;
		case 'h':
			cli_print_usage(cli_find("ls"));
			return EXIT_OK;
		default:
			return cli_bad_option("ls", c);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error("ls", "want MODEL@REF [PATH]");
	if ((rc = cli_open_store(&st)) != 0)
		goto done;
	error = mvms_version_ls(&l, st, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL,
				tensors);
	if (error < 0) {
		rc = cli_fail(error);
		goto done;
	}
	doc = view_listing(l, tensors);
	if (cli.json) {
		cli_print_json(doc);
		doc = NULL;
	} else {
		print_listing(doc, tensors);
	}
done:
	cJSON_Delete(doc);
	mvms_listing_free(l);
	mvms_store_free(st);
	return rc;
}

/* "A-B" (bytes A to B, inclusive), "A-" (from A to the end) or "-N" (the last N bytes), as
 * in an HTTP Range; B past the end means the end. -1 when malformed or empty. */
static int parse_range(uint64_t *start, uint64_t *end, const char *s, uint64_t size)
{
	const char *dash = strchr(s, '-');
	char *e;
	uint64_t a = 0, b = 0;
	int has_a, has_b;

	if (!dash || strchr(dash + 1, '-'))
		return -1;
	has_a = dash > s;
	has_b = dash[1] != '\0';
	if (!has_a && !has_b)
		return -1;
	if (has_a) {
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		a = strtoull(s, &e, 10);
		if (errno || e != dash)
			return -1;
	}
	if (has_b) {
		if (dash[1] < '0' || dash[1] > '9')
			return -1;
		errno = 0;
		b = strtoull(dash + 1, &e, 10);
		if (errno || *e)
			return -1;
	}
	if (!has_a) {          /* the last b bytes */
		if (b == 0)
			return -1;
		*start = b < size ? size - b : 0;
		*end = size;
	} else {
		if (has_b && b < a)
			return -1;
		*start = a;
		*end = has_b && b + 1 < size ? b + 1 : size;
	}
	return *start < *end || (size == 0 && *start == 0 && !has_a) ? 0 : -2;
}

int cmd_cat(int argc, char **argv)
{
	mvms_store *st = NULL;
	mvms_file_reader *rd = NULL;
	const char *range = NULL, *spec, *path;
	uint64_t size = 0, start = 0, end = 0;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	const void *data;
	size_t len;
	int c, error, rc = EXIT_OK, pr;

	while ((c = cli_getopt(argc, argv, "cat")) != -1) {
		switch (c) {
		case 'r': range = optarg; break;
		case 'h':
			cli_print_usage(cli_find("cat"));
			return EXIT_OK;
		default:
			return cli_bad_option("cat", c);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("cat", "want MODEL@REF PATH");
	spec = argv[optind];
	path = argv[optind + 1];
	if ((rc = cli_open_store(&st)) != 0)
		goto done;
	/* Opened once for the size, then for the range. */
	if ((error = mvms_file_reader_open(&rd, &size, id, st, spec, path, 0, 0)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	end = size;
	if (range && (pr = parse_range(&start, &end, range, size)) < 0) {
		rc = pr == -1 ? cli_usage_error("cat", "bad range '%s' (want A-B, A- or -N, bytes "
						"from 0, A <= B)", range)
			      : cli_usage_error("cat", "range '%s' is outside %s (%" PRIu64 " bytes)",
						range, path, size);
		goto done;
	}
	if (range) {
		mvms_file_reader_free(rd);
		rd = NULL;
		if (start == end)
			goto done; /* an empty file's "-N" */
		if ((error = mvms_file_reader_open(&rd, NULL, NULL, st, spec, path, start, end)) < 0) {
			rc = cli_fail(error);
			goto done;
		}
	}
	while ((error = mvms_file_reader_next(&data, &len, rd)) == 0 && len > 0) {
		if (fwrite(data, 1, len, stdout) != len) {
			fprintf(stderr, "mvms-store: cat: write error: %s\n", strerror(errno));
			rc = EXIT_ERROR;
			goto done;
		}
	}
	if (error < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "mvms-store: cat: write error: %s\n", strerror(errno));
		rc = EXIT_ERROR;
	}
done:
	mvms_file_reader_free(rd);
	mvms_store_free(st);
	return rc;
}
