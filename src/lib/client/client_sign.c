/* SPDX-License-Identifier: MIT */
/*
 * Signed releases over HTTP (client_int.h): storing a signature file the caller made here
 * (the secret key never travels), listing a version's signatures, environment policies.
 * A listing carries each signature file, and each is judged again here against the version
 * id and model uid of the reply: a server cannot make a signature look valid that is not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "client_int.h"
#include "sign_int.h"

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int bad_reply(const char *what)
{
	return mvms_error_set(MVMS_ERROR, "remote: %s: the server's reply is not a signature", what);
}

/* One signature of the server's JSON (common/views_sign.c), as the server judged it. */
static int from_json(mvms_signature *s, const cJSON *o, const char *what)
{
	const char *id = str_of(o, "id"), *text = str_of(o, "signature"),
		   *problem = str_of(o, "problem"), *version = str_of(o, "version");
	const cJSON *valid = cJSON_GetObjectItemCaseSensitive(o, "valid");
	int error = 0;

	if (!id || strlen(id) != 64 || !text || !problem || !version || !cJSON_IsBool(valid))
		return bad_reply(what);
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->version, sizeof(s->version), "%s", version);
	s->text = strdup(text);
	s->problem = strdup(problem);
	s->statement = strdup(str_of(o, "statement") ? str_of(o, "statement") : "");
	MVMS_CHECK_ALLOC(s->text, error);
	MVMS_CHECK_ALLOC(s->problem, error);
	MVMS_CHECK_ALLOC(s->statement, error);
	s->valid = cJSON_IsTrue(valid);
	snprintf(s->key_id, sizeof(s->key_id), "%s", str_of(o, "key_id") ? str_of(o, "key_id") : "");
	snprintf(s->public_key, sizeof(s->public_key), "%s",
		 str_of(o, "public_key") ? str_of(o, "public_key") : "");
done:
	return error;
}

/* The server's verdict and ours: valid only when both say so. */
static int rejudge(mvms_signature *s, const char *vid, const char *uid)
{
	char *server_problem = s->problem, *text = s->text;
	int server_valid = s->valid, error;

	s->problem = NULL;
	s->text = NULL;
	error = mvms_sign__judge(s, text, strlen(text), vid, uid, s->id);
	/* The server's reason first: it saw the object (one it could not read comes empty). */
	if (error == 0 && !server_valid) {
		free(s->problem);
		s->problem = server_problem;
		server_problem = NULL;
		s->valid = 0;
	}
	free(server_problem);
	free(text);
	return error;
}

static int c_signature_list(mvms_signature **out, size_t *count, mvms_store *st,
			    const char *spec)
{
	mvms_signature *list = NULL;
	char *model = NULL;
	const char *ref, *vid, *uid;
	const cJSON *arr, *it;
	cJSON *doc = NULL;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	MVMS_TRY(mvms_client__get(&doc, st, "signatures", "/v1/models/%s/versions/%s/signatures",
				  model, ref));
	arr = cJSON_GetObjectItemCaseSensitive(doc, "signatures");
	vid = str_of(doc, "version");
	uid = str_of(doc, "model_uid");
	if (!cJSON_IsArray(arr) || !vid || !uid) {
		error = bad_reply("signatures");
		goto done;
	}
	list = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, arr) {
		n++; /* freed with the rest, whatever it holds */
		MVMS_TRY(from_json(&list[n - 1], it, "signatures"));
		MVMS_TRY(rejudge(&list[n - 1], vid, uid));
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_signature_list_free(list, n);
	cJSON_Delete(doc);
	free(model);
	return error;
}

static int c_signature_add(mvms_signature **out, mvms_store *st, const char *spec,
			   const void *bytes, size_t len)
{
	mvms_signature *s = NULL;
	char *model = NULL, *path = NULL, *text = NULL;
	const char *ref;
	cJSON *body = NULL, *reply = NULL;
	int error = 0;

	if (out)
		*out = NULL;
	if (len > 64 * 1024 || memchr(bytes, '\0', len)) {
		error = mvms_error_set(MVMS_EINVALID, "sign: that is not a signature file");
		goto done;
	}
	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	MVMS_TRY(mvms_client__path(&path, "/v1/models/%s/versions/%s/signatures", model, ref));
	text = strndup(bytes, len);
	MVMS_CHECK_ALLOC(text, error);
	body = cJSON_CreateObject();
	MVMS_CHECK_ALLOC(body, error);
	if (!cJSON_AddStringToObject(body, "signature", text)) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(mvms_client__call(&reply, st, "POST", path, body, "sign"));
	if (out) {
		s = calloc(1, sizeof(*s));
		MVMS_CHECK_ALLOC(s, error);
		MVMS_TRY(from_json(s, reply, "sign"));
		s->signed_at = (int64_t)cJSON_GetNumberValue(
			cJSON_GetObjectItemCaseSensitive(reply, "signed_at"));
		*out = s;
		s = NULL;
	}
done:
	mvms_signature_free(s);
	cJSON_Delete(reply);
	cJSON_Delete(body);
	free(text);
	free(path);
	free(model);
	return error;
}

static int c_env_policy_get(char ***keys, size_t *count, mvms_store *st, const char *env)
{
	char **list = NULL;
	const cJSON *arr, *it;
	cJSON *doc = NULL;
	size_t n = 0;
	int error = 0;

	*keys = NULL;
	*count = 0;
	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__get(&doc, st, "env policy", "/v1/env-policies/%s", env));
	arr = cJSON_GetObjectItemCaseSensitive(doc, "require_signature");
	if (!cJSON_IsArray(arr)) {
		error = mvms_error_set(MVMS_ERROR, "remote: env policy: the server's reply is no policy");
		goto done;
	}
	list = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, arr) {
		const char *k = str_of(it, "public_key");
		if (!k) {
			error = mvms_error_set(MVMS_ERROR, "remote: env policy: a key without public_key");
			goto done;
		}
		list[n] = strdup(k);
		MVMS_CHECK_ALLOC(list[n], error);
		n++;
	}
	*keys = list;
	*count = n;
	list = NULL;
done:
	mvms_env_policy_free(list, n);
	cJSON_Delete(doc);
	return error;
}

static int c_env_policy_set(mvms_store *st, const char *env, const char *const *keys,
			    size_t nkeys)
{
	char *path = NULL;
	cJSON *body = NULL, *arr, *reply = NULL;
	size_t i;
	int error = 0;

	MVMS_TRY(mvms_deploy_env_check(env));
	MVMS_TRY(mvms_client__path(&path, "/v1/env-policies/%s", env));
	if (nkeys == 0) {
		error = mvms_client__call(&reply, st, "DELETE", path, NULL, "env policy");
		goto done;
	}
	body = cJSON_CreateObject();
	arr = body ? cJSON_AddArrayToObject(body, "require_signature") : NULL;
	MVMS_CHECK_ALLOC(arr, error);
	for (i = 0; i < nkeys; i++) {
		cJSON *k = cJSON_CreateString(keys[i]);
		MVMS_CHECK_ALLOC(k, error);
		cJSON_AddItemToArray(arr, k);
	}
	error = mvms_client__call(&reply, st, "PUT", path, body, "env policy");
done:
	cJSON_Delete(reply);
	cJSON_Delete(body);
	free(path);
	return error;
}

void mvms_client__sign_ops(mvms_transport *t)
{
	t->signature_add = c_signature_add;
	t->signature_list = c_signature_list;
	t->env_policy_set = c_env_policy_set;
	t->env_policy_get = c_env_policy_get;
}
