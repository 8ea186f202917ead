/* SPDX-License-Identifier: MIT */
/*
 * What a model-scoped token may read by hash: an object (a manifest, a chunk list, a chunk)
 * is covered by a model glob when some version of a model whose name matches the glob holds
 * it. The database answers, through the indexes the store keeps anyway (versions.oid,
 * contents.oid, files_content, content_chunks_chunk): no index of its own to keep in step.
 * An object the database does not know is covered by nothing, so that a missing object and
 * another model's object look the same to the caller.
 */
#include <stdlib.h>
#include "mvms/token.h"
#include "store_int.h"
#include "reach.h"
#include "transport.h"

int mvms_token_covers_objects(unsigned char *covered, mvms_store *st, const char *glob,
			      const char *kind, const mvms_oid *ids, size_t n)
{
	MVMS_LOCAL_ONLY(st, "token_covers_objects");
	enum mvms_reach_kind k;
	int64_t *models = NULL;
	size_t nmodels = 0, i;
	int error = 0, began = 0, hit;

	for (i = 0; i < n; i++)
		covered[i] = 0;
	if (!glob || !*glob)
		return mvms_error_set(MVMS_EINVALID, "covers: empty model glob");
	if (!strcmp(kind, "manifests"))
		k = MVMS_REACH_MANIFEST;
	else if (!strcmp(kind, "files"))
		k = MVMS_REACH_FILE;
	else if (!strcmp(kind, "chunks"))
		k = MVMS_REACH_CHUNK;
	else
		return mvms_error_set(MVMS_EINVALID, "covers: object kind '%s': want manifests, files "
				      "or chunks", kind);
	/* One read transaction: the models and every look-up see the same database. */
	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	MVMS_TRY(mvms_reach_models(&models, &nmodels, st->db, glob));
	for (i = 0; nmodels && i < n; i++) {
		MVMS_TRY(mvms_reach_held(&hit, st->db, k, &ids[i], models, nmodels));
		covered[i] = (unsigned char)hit;
	}
done:
	mvms_db_read_end(st->db, began);
	free(models);
	return error;
}
