/* SPDX-License-Identifier: MIT */
/*
 * mvms-store diff: what changed between two versions, down to tensors, and what a pull of
 * the second costs someone who has the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char *status_word(char s)
{
	switch (s) {
	case 'A': return "added";
	case 'D': return "removed";
	case 'M': return "modified";
	case 'R': return "renamed";
	case 'T': return "mode";
	case 'S': return "dtype/shape";
	default: return "?";
	}
}

static cJSON *diff_json(const mvms_diff *d, int tensors)
{
	cJSON *doc = cJSON_CreateObject(), *arr, *o, *t, *ta;
	size_t i, j;

	cJSON_AddItemToObject(doc, "from", cli_version_json(d->from));
	cJSON_AddItemToObject(doc, "to", cli_version_json(d->to));
	arr = cJSON_AddArrayToObject(doc, "files");
	for (i = 0; i < d->file_count; i++) {
		const mvms_diff_file *f = &d->files[i];
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "status", status_word(f->status));
		cJSON_AddStringToObject(o, "path", f->path);
		if (f->old_path)
			cJSON_AddStringToObject(o, "old_path", f->old_path);
		if (f->status != 'A') {
			cJSON_AddNumberToObject(o, "old_size", (double)f->old_size);
			cJSON_AddNumberToObject(o, "old_mode", f->old_mode);
			cJSON_AddStringToObject(o, "old_id", f->old_id);
		}
		if (f->status != 'D') {
			cJSON_AddNumberToObject(o, "new_size", (double)f->new_size);
			cJSON_AddNumberToObject(o, "new_mode", f->new_mode);
			cJSON_AddStringToObject(o, "new_id", f->new_id);
			cJSON_AddNumberToObject(o, "size_change", (double)f->new_size - (double)f->old_size);
			cJSON_AddNumberToObject(o, "shared_bytes", (double)f->shared_bytes);
			cJSON_AddNumberToObject(o, "new_bytes", (double)f->new_bytes);
		}
		if (f->tensor_diff) {
			t = cJSON_AddObjectToObject(o, "tensors");
			cJSON_AddNumberToObject(t, "total", (double)f->tensors_total);
			cJSON_AddNumberToObject(t, "changed", (double)f->tensors_changed);
			cJSON_AddNumberToObject(t, "added", (double)f->tensors_added);
			cJSON_AddNumberToObject(t, "removed", (double)f->tensors_removed);
			cJSON_AddNumberToObject(t, "unchanged", (double)f->tensors_unchanged);
			cJSON_AddNumberToObject(t, "bytes_total", (double)f->bytes_total);
			cJSON_AddNumberToObject(t, "bytes_changed", (double)f->bytes_changed);
			if (tensors) {
				ta = cJSON_AddArrayToObject(t, "list");
				for (j = 0; j < f->tensor_count; j++) {
					const mvms_diff_tensor *x = &f->tensors[j];
					cJSON *e = cJSON_CreateObject();
					cJSON_AddStringToObject(e, "name", x->name);
					cJSON_AddStringToObject(e, "status", status_word(x->status));
					if (x->old_dtype) {
						cJSON_AddStringToObject(e, "old_dtype", x->old_dtype);
						cJSON_AddItemToObject(e, "old_shape", cJSON_Parse(x->old_shape));
					}
					if (x->new_dtype) {
						cJSON_AddStringToObject(e, "new_dtype", x->new_dtype);
						cJSON_AddItemToObject(e, "new_shape", cJSON_Parse(x->new_shape));
					}
					cJSON_AddItemToArray(ta, e);
				}
			}
		}
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(doc, "unchanged_files", (double)d->unchanged_files);
	arr = cJSON_AddArrayToObject(doc, "meta");
	for (i = 0; i < d->meta_count; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", d->meta[i].key);
		if (d->meta[i].old_value)
			cJSON_AddStringToObject(o, "old", d->meta[i].old_value);
		else
			cJSON_AddNullToObject(o, "old");
		if (d->meta[i].new_value)
			cJSON_AddStringToObject(o, "new", d->meta[i].new_value);
		else
			cJSON_AddNullToObject(o, "new");
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(doc, "shared_bytes", (double)d->shared_bytes);
	cJSON_AddNumberToObject(doc, "new_bytes", (double)d->new_bytes);
	return doc;
}

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
}

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "stat", no_argument, NULL, 's' },
		{ "tensors", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int stat = 0, tensors = 0, c, error, rc;
	mvms_store *st = NULL;
	mvms_diff *d = NULL;
	char *b = NULL;
	const char *a, *at;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 's')
			stat = 1;
		else if (c == 't')
			tensors = 1;
		else if (c == 'h') {
			cli_print_usage(cli_find("diff"));
			return EXIT_OK;
		} else
			return cli_usage_error("diff", "bad option");
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
		fprintf(stderr, "mvms-store: out of memory\n");
		return EXIT_ERROR;
	}
	if ((rc = cli_open_store(&st)) != 0)
		goto done;
	if ((error = mvms_diff_get(&d, st, a, b, tensors ? MVMS_DIFF_TENSORS : 0)) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json)
		cli_print_json(diff_json(d, tensors));
	else
		print_text(d, stat, tensors);
done:
	free(b);
	mvms_diff_free(d);
	mvms_store_free(st);
	return rc;
}
