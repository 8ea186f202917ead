/* SPDX-License-Identifier: MIT */
/*
 * Shadow traffic's bookkeeping (src/server/shadow.c) without a server: which requests get a
 * copy (the bounded queue: 32 in flight, the rest dropped and counted), the comparison of a
 * shadow's answer with the served one (JSON: key order and spacing ignored; bytes; status;
 * a body that is not JSON; in either order of arrival; nothing compared when either side
 * failed), the status document and /metrics series, and the clean-shadow hook a rollout
 * would call. The sending is proxy.c's and is covered by tests/cli/proxy.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <event2/buffer.h>
#include "tap.h"
#include "server.h"

/* The metrics filter's question, answered for this test: every model is covered. */
int srv_authz_covers(const srv_req *r, const char *model)
{
	(void)r;
	(void)model;
	return 1;
}

static mvms_deploy_shadow shadow = { 2, "", 100, "http://127.0.0.1:1", "json" };
static mvms_deployment dep = { .model = "m", .target_count = 0 };

/* A status number of the shadow of @env. */
static double field(const char *env, const char *key)
{
	cJSON *doc = cJSON_CreateObject();
	double v;

	dep.env = (char *)env;
	srv_shadow_status(doc, &dep);
	v = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "shadow"), key));
	cJSON_Delete(doc);
	return v;
}

/* One request of env @env: served answer, then the shadow's (or the other way round). */
static int pair(const char *env, const char *compare, int served_code, const char *served,
		int shadow_code, const char *shadowed, int shadow_first)
{
	srv_shadow_pair *p;

	dep.env = (char *)env;
	shadow.compare = (char *)compare;
	if (!(p = srv_shadow_admit(&dep)))
		return -1;
	if (!shadow_first)
		srv_shadow_served(p, served_code, served, served ? strlen(served) : 0);
	srv_shadow_answered(p, shadow_code, shadowed, shadowed ? strlen(shadowed) : 0, 0.002);
	if (shadow_first)
		srv_shadow_served(p, served_code, served, served ? strlen(served) : 0);
	return 0;
}

int main(void)
{
	srv_shadow_pair *held[SRV_SHADOW_INFLIGHT_MAX];
	struct evbuffer *b;
	char why[200], *text;
	size_t i, n;

	if (sodium_init() < 0)
		return 1;
	dep.shadow = &shadow;

	/* ---- comparisons ---- */
	is_int(pair("a", "json", 200, "{\"a\":1,\"b\":[1,2]}", 200, "{ \"b\": [1, 2],\n \"a\": 1 }", 0),
	       0, "a copy is admitted");
	is_int((int)field("a", "compared"), 1, "json: compared");
	is_int((int)field("a", "differences"), 0, "json: key order and spacing are no difference");
	pair("a", "json", 200, "{\"a\":1,\"b\":[2,1]}", 200, "{\"a\":1,\"b\":[1,2]}", 1);
	is_int((int)field("a", "differences"), 1, "json: array order is a difference (shadow first)");
	pair("a", "json", 200, "{\"a\":1}", 200, "{\"a\":1,\"c\":null}", 0);
	is_int((int)field("a", "differences"), 2, "json: an extra key is a difference");
	pair("a", "json", 200, "not json", 200, "not json", 0);
	is_int((int)field("a", "differences"), 2, "not JSON: the same bytes are no difference");
	pair("a", "json", 200, "{\"a\":1}", 404, "{\"a\":1}", 0);
	is_int((int)field("a", "differences"), 3, "another status is a difference");
	pair("b", "bytes", 200, "{\"a\":1,\"b\":2}", 200, "{\"b\":2,\"a\":1}", 0);
	is_int((int)field("b", "differences"), 1, "bytes: key order is a difference");
	pair("b", "bytes", 200, "{\"a\":1}", 200, "{\"a\":1}", 1);
	is_int((int)field("b", "differences"), 1, "bytes: the same bytes are none");
	is_int((int)field("b", "compared"), 2, "bytes: 2 compared");
	pair("c", "json", 0, NULL, 200, "{}", 0);
	pair("c", "json", 200, "{}", 0, NULL, 1);
	pair("c", "json", 200, "{}", 503, "{}", 0);
	is_int((int)field("c", "compared"), 1, "a failed side is not compared (a 503 is)");
	is_int((int)field("c", "errors"), 2, "failed copies and 5xx are errors");
	is_int((int)field("c", "requests"), 3, "every answered copy is a request");
	ok(field("c", "p50_ms") == 2.5, "latency: p50 in the 2.5 ms bucket");

	/* ---- the bounded queue ---- */
	dep.env = "q";
	shadow.compare = "json";
	for (n = 0; n < SRV_SHADOW_INFLIGHT_MAX && (held[n] = srv_shadow_admit(&dep)); n++)
		;
	is_int((int)n, SRV_SHADOW_INFLIGHT_MAX, "32 copies in flight");
	ok(srv_shadow_admit(&dep) == NULL, "a 33rd is not admitted");
	ok(srv_shadow_admit(&dep) == NULL, "nor a 34th");
	is_int((int)field("q", "dropped"), 2, "2 dropped and counted");
	srv_shadow_answered(held[0], 200, "{}", 2, 0.001);
	srv_shadow_served(held[0], 200, "{}", 2);
	ok((held[0] = srv_shadow_admit(&dep)) != NULL, "an answer frees a slot");
	for (i = 0; i < n; i++) {
		srv_shadow_served(held[i], 200, "{}", 2);
		srv_shadow_answered(held[i], 200, "{}", 2, 0.001);
	}
	is_int((int)field("q", "compared"), 33, "all 33 compared");

	/* ---- the hook for rollouts ---- */
	is_int(srv_shadow_clean("m", "q", 2, 30, 0.01, 0.01, why, sizeof(why)), 1,
	       "33 clean answers: clean with min 30");
	is_int(srv_shadow_clean("m", "q", 2, 100, 0.01, 0.01, why, sizeof(why)), 0,
	       "not enough compared for min 100");
	ok(strstr(why, "33 answers compared, 100 needed") != NULL, "why says so: %s", why);
	is_int(srv_shadow_clean("m", "a", 2, 1, 0.5, 1, why, sizeof(why)), 0,
	       "3 of 5 differ: not clean at 50 %%");
	ok(strstr(why, "60.0% of 5 answers differ") != NULL, "why: %s", why);
	is_int(srv_shadow_clean("m", "c", 2, 1, 1, 0.5, why, sizeof(why)), 0,
	       "2 of 3 copies failed: not clean at 50 %%");
	is_int(srv_shadow_clean("m", "none", 2, 0, 0, 0, why, sizeof(why)), 1,
	       "no minimum and no figures: clean (a rollout sets a minimum)");

	/* ---- /metrics ---- */
	b = evbuffer_new();
	srv_shadow_metrics(b, NULL);
	n = evbuffer_get_length(b);
	text = calloc(1, n + 1);
	evbuffer_remove(b, text, n);
	ok(strstr(text, "mvms_shadow_differences_total{model=\"m\",env=\"a\",version=\"v2\"} 3\n") != NULL,
	   "metrics: differences");
	ok(strstr(text, "mvms_shadow_dropped_total{model=\"m\",env=\"q\",version=\"v2\"} 2\n") != NULL,
	   "metrics: dropped");
	ok(strstr(text, "# TYPE mvms_shadow_duration_seconds histogram\n") != NULL, "metrics: histogram");
	ok(strstr(text, "mvms_shadow_duration_seconds_count{model=\"m\",env=\"c\",version=\"v2\"} 3\n") != NULL,
	   "metrics: histogram count");
	free(text);
	evbuffer_free(b);
	return done_testing();
}
