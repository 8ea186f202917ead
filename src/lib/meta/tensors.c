/* SPDX-License-Identifier: MIT */
/*
 * The tensors of a stored file content (as the push derived them from its safetensors
 * header), for `ls -t` and the server's file listing.
 */
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "transport.h"

int mvms_file_tensors(mvms_tensor_summary **out, size_t *count, mvms_store *st,
		      const char *file_id)
{
	static const char q[] =
		"SELECT t.name, t.dtype, t.shape, t.offset, t.length, t.oid FROM tensors t "
		"JOIN contents c ON c.id = t.content_id WHERE c.oid = ? ORDER BY t.offset, t.name";
	mvms_tensor_summary *list = NULL, *tmp;
	size_t n = 0;
	sqlite3_stmt *s;
	mvms_oid id;
	int error = 0, rc;

	MVMS_LOCAL_ONLY(st, "listing a file's tensors (use mvms_version_ls)");
	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_oid_parse(&id, file_id));
	if (!(s = mvms_db_stmt(st->db, q))) {
		error = MVMS_ERROR;
		goto done;
	}
	MVMS_TRY(mvms_db_bind_oid(s, 1, &id));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		mvms_oid tid;
		tmp = realloc(list, (n + 1) * sizeof(*list));
		if (!tmp) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		list = tmp;
		memset(&list[n], 0, sizeof(list[n]));
		list[n].name = mvms_db_column_strdup(s, 0);
		list[n].dtype = mvms_db_column_strdup(s, 1);
		list[n].shape = mvms_db_column_strdup(s, 2);
		list[n].offset = (uint64_t)sqlite3_column_int64(s, 3);
		list[n].length = (uint64_t)sqlite3_column_int64(s, 4);
		n++;
		if ((error = mvms_db_column_oid(&tid, s, 5)) < 0)
			break;
		mvms_oid_fmt(list[n - 1].id, &tid);
		if (!list[n - 1].name || !list[n - 1].dtype || !list[n - 1].shape) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
	}
	sqlite3_reset(s);
	if (error < 0)
		goto done;
	if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "list tensors");
		goto done;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_tensor_list_free(list, n);
	return error;
}

void mvms_tensor_list_free(mvms_tensor_summary *list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++) {
		free(list[i].name);
		free(list[i].dtype);
		free(list[i].shape);
	}
	free(list);
}
