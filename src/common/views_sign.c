/* SPDX-License-Identifier: MIT */
/*
 * The JSON of signed releases, shared by the CLI (--json) and the server (h_sign.c): a
 * signature (with its file, so that a client can judge it again), a version's signatures,
 * an environment's signature policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "views.h"

cJSON *view_signature(const mvms_signature *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "key_id", s->key_id);
	cJSON_AddStringToObject(o, "public_key", s->public_key);
	cJSON_AddStringToObject(o, "version", s->version);
	cJSON_AddStringToObject(o, "statement", s->statement ? s->statement : "");
	cJSON_AddNumberToObject(o, "signed_at", (double)s->signed_at);
	cJSON_AddBoolToObject(o, "valid", s->valid);
	cJSON_AddStringToObject(o, "problem", s->problem ? s->problem : "");
	cJSON_AddStringToObject(o, "signature", s->text ? s->text : "");
	return o;
}

cJSON *view_signature_list(const mvms_version_info *v, const char *model_uid,
			   const mvms_signature *list, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	size_t i, valid = 0;

	cJSON_AddStringToObject(o, "model", v->model ? v->model : "");
	cJSON_AddStringToObject(o, "model_uid", model_uid);
	cJSON_AddNumberToObject(o, "number", (double)v->number);
	cJSON_AddStringToObject(o, "version", v->id);
	arr = cJSON_AddArrayToObject(o, "signatures");
	for (i = 0; i < n; i++) {
		cJSON_AddItemToArray(arr, view_signature(&list[i]));
		valid += list[i].valid != 0;
	}
	cJSON_AddNumberToObject(o, "valid", (double)valid);
	cJSON_AddNumberToObject(o, "invalid", (double)(n - valid));
	return o;
}

cJSON *view_env_policy(const char *env, char *const *keys, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *arr, *k;
	char id[MVMS_KEY_ID_HEXSZ + 1];
	size_t i;

	cJSON_AddStringToObject(o, "env", env);
	arr = cJSON_AddArrayToObject(o, "require_signature");
	for (i = 0; i < n; i++) {
		k = cJSON_CreateObject();
		cJSON_AddStringToObject(k, "public_key", keys[i]);
		if (mvms_key_parse_public(NULL, id, keys[i]) < 0) {
			mvms_error_clear();
			id[0] = '\0';
		}
		cJSON_AddStringToObject(k, "key_id", id);
		cJSON_AddItemToArray(arr, k);
	}
	return o;
}
