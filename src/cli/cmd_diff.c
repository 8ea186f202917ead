/* SPDX-License-Identifier: MIT */
/*
 * mvms-store diff: what changed between two versions, down to tensors, and what a pull of
 * the second costs someone who has the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void print_text(const mvms_diff *d, int stat, int tensors)
{
	char a[32], b[32], c[32], e[32];
	size_t i, j;

	printf("diff %s@v%lld %.12s -> %s@v%lld %.12s\n", d->from->model, (long long)d->from->number,
	       d->from->id, d->to->model, (long long)d->to->number, d->to->id);
	for (i = 0; i < d->file_count; i++) {
		const mvms_diff_file *f = &d->files[i];
		switch (f->status) {
		case 'A':
			printf("  A  %s  (%s, %s new)\n", f->path, cli_human(a, sizeof(a), f->new_size),
			       cli_human(b, sizeof(b), f->new_bytes));
			break;
		case 'D':
			printf("  D  %s  (%s)\n", f->path, cli_human(a, sizeof(a), f->old_size));
			break;
		case 'R':
			printf("  R  %s -> %s%s\n", f->old_path, f->path,
			       f->old_mode != f->new_mode ? "  (mode changed)" : "");
			break;
		case 'T':
			printf("  T  %s  mode %04o -> %04o\n", f->path, f->old_mode, f->new_mode);
			break;
		default:
			printf("  M  %s  %s -> %s; %s shared, %s new%s\n", f->path,
			       cli_human(a, sizeof(a), f->old_size), cli_human(b, sizeof(b), f->new_size),
			       cli_human(c, sizeof(c), f->shared_bytes), cli_human(e, sizeof(e), f->new_bytes),
			       f->old_mode != f->new_mode ? "; mode changed" : "");
		}
		if (f->tensor_diff) {
			printf("     %s: %llu of %llu tensors changed (%s of %s)", f->path,
			       (unsigned long long)(f->tensors_changed + f->tensors_added),
			       (unsigned long long)f->tensors_total, cli_human(a, sizeof(a), f->bytes_changed),
			       cli_human(b, sizeof(b), f->bytes_total));
			if (f->tensors_added || f->tensors_removed)
				printf("; %llu added, %llu removed", (unsigned long long)f->tensors_added,
				       (unsigned long long)f->tensors_removed);
			printf("\n");
			for (j = 0; tensors && j < f->tensor_count; j++) {
				const mvms_diff_tensor *t = &f->tensors[j];
				if (t->status == 'S')
					printf("       S  %s  %s%s -> %s%s\n", t->name, t->old_dtype, t->old_shape,
					       t->new_dtype, t->new_shape);
				else
					printf("       %c  %s  %s%s\n", t->status, t->name,
					       t->new_dtype ? t->new_dtype : t->old_dtype,
					       t->new_shape ? t->new_shape : t->old_shape);
			}
		}
	}
	for (i = 0; !stat && i < d->meta_count; i++)
		printf("  meta %s: %s -> %s\n", d->meta[i].key,
		       d->meta[i].old_value ? d->meta[i].old_value : "(none)",
		       d->meta[i].new_value ? d->meta[i].new_value : "(none)");
	printf("%zu file%s changed, %llu unchanged; pulling the second version with the first at "
	       "hand moves %s (%s shared)\n",
	       d->file_count, d->file_count == 1 ? "" : "s", (unsigned long long)d->unchanged_files,
	       cli_human(a, sizeof(a), d->new_bytes), cli_human(b, sizeof(b), d->shared_bytes));
	/* Compressed payloads, without pack framing: docs/user-guide.md says what is counted. */
	printf("the second version is stored in %s, %s of it in chunks the first lacks\n",
	       cli_human(a, sizeof(a), d->stored_bytes), cli_human(b, sizeof(b), d->new_stored_bytes));
}

int cmd_diff(int argc, char **argv)
{
	int stat = 0, tensors = 0, c, error, rc;
	mvms_store *st = NULL;
	mvms_diff *d = NULL;
	char *b = NULL;
	const char *a, *at;

	while ((c = cli_getopt(argc, argv, "diff")) != -1) {
		if (c == 's')
			stat = 1;
		else if (c == 't')
			tensors = 1;
		else if (c == 'h') {
			cli_print_usage(cli_find("diff"));
			return EXIT_OK;
		} else
			return cli_bad_option("diff", c);
	}
	if (argc - optind != 2)
		return cli_usage_error("diff", "want MODEL@A and [MODEL@]B");
	a = argv[optind];
	/* "B" without a model means a ref of A's model. */
	if (strchr(argv[optind + 1], '@')) {
		b = strdup(argv[optind + 1]);
	} else {
		at = strchr(a, '@');
		if (asprintf(&b, "%.*s@%s", (int)(at ? (size_t)(at - a) : strlen(a)), a,
			     argv[optind + 1]) < 0)
			b = NULL;
	}
	if (!b) {
		return cli_error(EXIT_ERROR, "error", "out of memory");
	}
	if ((rc = cli_open_store(&st)) != 0)
		goto done;
	if ((error = mvms_diff_get(&d, st, a, b, tensors ? MVMS_DIFF_TENSORS : 0)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json)
		cli_print_json(view_diff(d, tensors));
	else
		print_text(d, stat, tensors);
done:
	free(b);
	mvms_diff_free(d);
	mvms_store_free(st);
	return rc;
}
