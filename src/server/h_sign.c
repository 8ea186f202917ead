/* SPDX-License-Identifier: MIT */
/*
 * Signed releases over HTTP: a version's signatures (each judged again), storing one a
 * client made and signed on its side (the secret key never reaches the server; a file that
 * does not hold is a 400 and nothing is stored), and environment signature policies. A
 * policy concerns every model, so changing one takes an admin token of all models.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server.h"
#include "views.h"

/* MODEL@REF of the route's captures; NULL after replying when out of memory. */
static char *route_spec(srv_req *r)
{
	char *spec = NULL;

	if (asprintf(&spec, "%s@%s", r->caps[0], r->caps[1]) < 0) {
		srv_reply_error(r, 500, "error", "out of memory");
		return NULL;
	}
	return spec;
}

int srv_signatures_list(srv_req *r)
{
	mvms_version_info *v = NULL;
	mvms_model_info *m = NULL;
	mvms_signature *list = NULL;
	size_t n = 0;
	char *spec;
	int error;

	if (!(spec = route_spec(r)))
		return 0;
	if ((error = mvms_version_resolve(&v, r->st, spec)) < 0 ||
	    (error = mvms_model_get(&m, r->st, v->model)) < 0 ||
	    (error = mvms_signature_list(&list, &n, r->st, spec)) < 0)
		goto done;
	srv_reply_json(r, 200, view_signature_list(v, m->uid, list, n));
done:
	mvms_signature_list_free(list, n);
	mvms_model_info_free(m);
	mvms_version_info_free(v);
	free(spec);
	return error;
}

int srv_signature_add(srv_req *r)
{
	mvms_signature *s = NULL;
	const cJSON *text;
	char *spec = NULL;
	cJSON *doc;
	int error = 0;

	if (!(doc = srv_body_json(r)))
		return 0;
	text = cJSON_GetObjectItemCaseSensitive(doc, "signature");
	if (!cJSON_IsString(text) || cJSON_GetArraySize(doc) != 1) {
		srv_reply_error(r, 400, "bad_field", "the body is {\"signature\": \"<signature "
				"file>\"}");
		goto done;
	}
	if (!(spec = route_spec(r)))
		goto done;
	if ((error = mvms_signature_add(&s, r->st, spec, text->valuestring,
					strlen(text->valuestring))) < 0)
		goto done;
	srv_reply_json(r, 201, view_signature(s));
done:
	mvms_signature_free(s);
	free(spec);
	cJSON_Delete(doc);
	return error;
}

int srv_env_policy_get(srv_req *r)
{
	char **keys = NULL;
	size_t n = 0;
	int error;

	if ((error = mvms_env_policy_get(&keys, &n, r->st, r->caps[0])) < 0)
		return error;
	srv_reply_json(r, 200, view_env_policy(r->caps[0], keys, n));
	mvms_env_policy_free(keys, n);
	return 0;
}

/* PUT {"require_signature": ["ed25519:…", …]} sets the policy; DELETE clears it. */
int srv_env_policy_set(srv_req *r)
{
	const char **keys = NULL;
	const cJSON *arr, *it;
	cJSON *doc = NULL;
	char **now = NULL;
	size_t n = 0, nnow = 0;
	int error = 0;

	if (!srv_authz_all(r)) {
		srv_reply_error(r, 403, "forbidden", "a signature policy concerns every model: it "
				"needs a token whose models are '*' (this one's are '%s')",
				r->token_models ? r->token_models : "");
		return 0;
	}
	if (r->method == EVHTTP_REQ_PUT) {
		if (!(doc = srv_body_json(r)))
			return 0;
		arr = cJSON_GetObjectItemCaseSensitive(doc, "require_signature");
		if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 || cJSON_GetArraySize(doc) != 1) {
			srv_reply_error(r, 400, "bad_field", "require_signature is a list of one or "
					"more public keys (DELETE clears a policy)");
			goto done;
		}
		keys = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*keys));
		if (!keys) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		cJSON_ArrayForEach(it, arr) {
			if (!cJSON_IsString(it)) {
				srv_reply_error(r, 400, "bad_field", "require_signature holds strings");
				goto done;
			}
			keys[n++] = it->valuestring;
		}
	}
	if ((error = mvms_env_policy_set(r->st, r->caps[0], keys, n)) < 0 ||
	    (error = mvms_env_policy_get(&now, &nnow, r->st, r->caps[0])) < 0)
		goto done;
	srv_reply_json(r, 200, view_env_policy(r->caps[0], now, nnow));
done:
	mvms_env_policy_free(now, nnow);
	free(keys);
	cJSON_Delete(doc);
	return error;
}
