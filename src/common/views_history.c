/* SPDX-License-Identifier: MIT */
/*
 * The JSON shapes of editing history, shared by the command line (--json) and the server:
 * a deleted version, a pruning, a model deletion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "views.h"

static cJSON *moved_list(const mvms_branch_moved *m, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "branch", m[i].branch);
		cJSON_AddNumberToObject(o, "version", (double)m[i].number);
		cJSON_AddStringToObject(o, "id", m[i].id);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

cJSON *view_delete(const mvms_delete_result *r, int dry_run)
{
	cJSON *o = cJSON_CreateObject(), *d, *a;
	char tbuf[32];
	size_t i;

	cJSON_AddStringToObject(o, "model", r->model);
	cJSON_AddNumberToObject(o, "version", (double)r->number);
	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddBoolToObject(o, "dry_run", dry_run);
	d = cJSON_AddObjectToObject(o, "deleted");
	cJSON_AddStringToObject(d, "by", r->deleted_by ? r->deleted_by : "");
	cJSON_AddStringToObject(d, "at", view_time(tbuf, sizeof(tbuf), r->deleted_at));
	cJSON_AddItemToObject(o, "moved", moved_list(r->moved, r->moved_count));
	a = cJSON_AddArrayToObject(o, "held");
	for (i = 0; i < r->held_count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(r->held[i]));
	return o;
}

cJSON *view_prune(const mvms_prune_result *r, const char *model, int dry_run)
{
	cJSON *o = cJSON_CreateObject(), *a;
	size_t i;

	cJSON_AddStringToObject(o, "model", model);
	cJSON_AddBoolToObject(o, "dry_run", dry_run);
	cJSON_AddNumberToObject(o, "kept", (double)r->kept);
	a = cJSON_AddArrayToObject(o, "deleted");
	for (i = 0; i < r->count; i++) {
		cJSON *v = view_version(r->versions[i]);
		if (dry_run)
			cJSON_DeleteItemFromObjectCaseSensitive(v, "deleted");
		if (r->why[i][0])
			cJSON_AddStringToObject(v, "held_by", r->why[i]);
		cJSON_AddItemToArray(a, v);
	}
	cJSON_AddItemToObject(o, "moved", moved_list(r->moved, r->moved_count));
	return o;
}

cJSON *view_model_delete(const mvms_model_delete_result *r, const char *model, int dry_run)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "model", model);
	cJSON_AddBoolToObject(o, "deleted", !dry_run);
	cJSON_AddNumberToObject(o, "versions", (double)r->versions);
	cJSON_AddNumberToObject(o, "branches", (double)r->branches);
	cJSON_AddNumberToObject(o, "tags", (double)r->tags);
	cJSON_AddNumberToObject(o, "environments", (double)r->environments);
	cJSON_AddNumberToObject(o, "deployment_revisions", (double)r->revisions);
	return o;
}
