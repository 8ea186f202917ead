/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for deployments (mvms/deploy.h): deploying alone and with weights, re-weighting,
 * endpoint and weight validation, unknown models, versions and environments, the history
 * (newest first, actions, authors), rollback one step and to a named revision, undeploy,
 * expected_revision as a compare-and-swap, MODEL@ENV resolution, and two store handles
 * deploying at once with the same expected revision (exactly one wins).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "store_int.h"
#include "mvms/deploy.h"

static char dir[] = "/tmp/mvms-test-deploy-XXXXXX";
static char store_dir[512];

static int push(mvms_push_result *r, mvms_store *st, const char *model, const char *content)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tree/a.txt", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(content, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/tree", dir);
	o.message = content;
	o.author = "tester";
	return mvms_push(r, st, model, path, &o);
}

/* deploy SPEC to ENV with a weight (0: alone) and an endpoint (NULL: keep) */
static int dep(mvms_deployment **out, mvms_store *st, const char *spec, const char *env,
	       int weight, const char *endpoint, int64_t expected)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;

	o.weight = weight;
	o.endpoint = endpoint;
	o.author = "alice";
	o.reason = "test";
	o.expected_revision = expected;
	return mvms_deploy(out, st, spec, env, &o);
}

static int dep1(mvms_store *st, const char *spec, const char *env, int weight, const char *endpoint)
{
	mvms_deployment *d = NULL;
	int rc = dep(&d, st, spec, env, weight, endpoint, -1);

	mvms_deployment_free(d);
	return rc;
}

static int64_t revision(mvms_store *st, const char *model, const char *env)
{
	int64_t r = -1;

	if (mvms_deploy_revision(&r, st, model, env) < 0)
		return -1;
	return r;
}

static size_t history_len(mvms_store *st, const char *model, const char *env)
{
	mvms_deployment **list = NULL;
	size_t n = 0;

	if (mvms_deploy_history(&list, &n, st, model, env) < 0)
		return (size_t)-1;
	mvms_deployment_list_free(list, n);
	return n;
}

static int64_t resolve_num(mvms_store *st, const char *spec)
{
	mvms_version_info *v = NULL;
	int64_t n;

	if (mvms_version_resolve(&v, st, spec) < 0)
		return -1;
	n = v->number;
	mvms_version_info_free(v);
	return n;
}

/* "v1:90,v2:10" with endpoints left out: a compact picture of a state's targets */
static const char *targets_str(const mvms_deployment *d)
{
	static char buf[512];
	size_t i, n = 0;

	buf[0] = 0;
	for (i = 0; d && i < d->target_count && n < sizeof(buf) - 40; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sv%lld:%d", i ? "," : "",
				      (long long)d->targets[i].number, d->targets[i].weight);
	return buf;
}

static const char *current_str(mvms_store *st, const char *model, const char *env)
{
	static char buf[512];
	mvms_deployment *d = NULL;

	if (mvms_deploy_get(&d, st, model, env) < 0)
		return "(error)";
	snprintf(buf, sizeof(buf), "%s", targets_str(d));
	mvms_deployment_free(d);
	return buf;
}

/* ---- two handles deploying at once ---- */

struct racer {
	mvms_store *st;
	const char *spec;
	int64_t expected;
	pthread_barrier_t *barrier;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	mvms_deployment *d = NULL;

	pthread_barrier_wait(r->barrier);
	r->rc = dep(&d, r->st, r->spec, "race", 0, NULL, r->expected);
	mvms_deployment_free(d);
	return NULL;
}

int main(void)
{
	mvms_store *st = NULL, *st2 = NULL;
	mvms_push_result r1, r2, r3, ro;
	mvms_deployment *d = NULL, **list = NULL;
	size_t n = 0, i;
	char spec[256], treedir[512], cmd[600];
	int64_t rev;
	int rc;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(treedir, sizeof(treedir), "%s/tree", dir);
	mkdir(treedir, 0755);
	snprintf(store_dir, sizeof(store_dir), "%s/store", dir);
	if (mvms_store_init(&st, store_dir, NULL) < 0) {
		printf("Bail out! init: %s\n", mvms_error_last());
		return 1;
	}
	if (push(&r1, st, "m", "one\n") < 0 || push(&r2, st, "m", "two\n") < 0 ||
	    push(&r3, st, "m", "three\n") < 0 || push(&ro, st, "other", "other\n") < 0) {
		printf("Bail out! push: %s\n", mvms_error_last());
		return 1;
	}
	if (r1.number != 1 || r2.number != 2 || r3.number != 3 || ro.number != 1) {
		printf("Bail out! unexpected version numbers\n");
		return 1;
	}

	/* ---- nothing deployed yet ---- */
	ok(mvms_deploy_get(&d, st, "m", "prod") == 0 && d && d->revision == 0 && d->target_count == 0,
	   "a never-deployed environment reads as revision 0, no targets");
	mvms_deployment_free(d);
	d = NULL;
	is_int(revision(st, "m", "prod"), 0, "mvms_deploy_revision is 0");
	ok(mvms_deploy_history(&list, &n, st, "m", "prod") == MVMS_ENOTFOUND && !list && n == 0,
	   "no history: MVMS_ENOTFOUND, as a rollback");
	ok(mvms_deploy_list(&list, &n, st, "m") == 0 && n == 0, "no environments listed");
	mvms_deployment_list_free(list, n);
	list = NULL;

	/* ---- deploy alone ---- */
	rc = dep(&d, st, "m@v1", "prod", 0, "http://127.0.0.1:9001", -1);
	is_int(rc, 0, "deploy m@v1 to prod");
	ok(d && d->revision == 1 && d->target_count == 1, "revision 1 with one target");
	ok(d && d->target_count == 1 && d->targets[0].number == 1 && d->targets[0].weight == 100,
	   "v1 at weight 100");
	ok(d && d->target_count == 1 && !strcmp(d->targets[0].id, r1.id), "the target's id is v1's");
	is_str(d && d->target_count ? d->targets[0].endpoint : NULL, "http://127.0.0.1:9001",
	       "the endpoint is recorded");
	is_str(d ? d->action : NULL, "deploy", "action deploy");
	is_str(d ? d->author : NULL, "alice", "author recorded");
	is_str(d ? d->reason : NULL, "test", "reason recorded");
	ok(d && d->created_at > 0 && d->from_revision == 0, "created_at set, no from_revision");
	mvms_deployment_free(d);
	d = NULL;

	/* ---- weights: several targets ---- */
	rc = dep(&d, st, "m@v2", "prod", 10, "https://infer.example.com/v2/", -1);
	is_int(rc, 0, "deploy m@v2 --weight 10 next to v1");
	is_str(targets_str(d), "v1:100,v2:10", "two targets, highest weight first");
	ok(d && d->target_count == 2 && !strcmp(d->targets[0].endpoint, "http://127.0.0.1:9001"),
	   "v1 keeps its endpoint");
	mvms_deployment_free(d);
	d = NULL;
	is_int(dep1(st, "m@v1", "prod", 90, NULL), 0, "re-weight v1 to 90 (endpoint left out)");
	is_str(current_str(st, "m", "prod"), "v1:90,v2:10", "v1 90, v2 10: re-weighted, not added");
	ok(mvms_deploy_get(&d, st, "m", "prod") == 0 && d->target_count == 2 &&
	   !strcmp(d->targets[0].endpoint, "http://127.0.0.1:9001") &&
	   !strcmp(d->targets[1].endpoint, "https://infer.example.com/v2/"),
	   "both endpoints kept by a re-weight without --endpoint");
	is_int(d ? d->revision : -1, 3, "revision 3");
	mvms_deployment_free(d);
	d = NULL;
	is_int(dep1(st, "m@v3", "prod", 10, NULL), 0, "add v3 at 10 (no endpoint)");
	is_str(current_str(st, "m", "prod"), "v1:90,v3:10,v2:10",
	       "three targets; equal weights: higher version first");
	is_int(resolve_num(st, "m@prod"), 1, "m@prod is the highest-weight version (v1)");
	is_int(dep1(st, "m@v2", "prod", 90, NULL), 0, "re-weight v2 to 90 (ties v1)");
	is_int(resolve_num(st, "m@prod"), 2, "a tie on weight: m@prod is the higher version (v2)");

	/* ---- validation ---- */
	rev = revision(st, "m", "prod");
	is_int(dep1(st, "m@v1", "prod", 5, "ftp://host/x"), MVMS_EINVALID, "ftp endpoint refused");
	is_int(dep1(st, "m@v1", "prod", 5, "http://"), MVMS_EINVALID, "http:// with no host refused");
	is_int(dep1(st, "m@v1", "prod", 5, "https:///path"), MVMS_EINVALID, "empty host refused");
	is_int(dep1(st, "m@v1", "prod", 5, "http://a b/"), MVMS_EINVALID, "a space refused");
	is_int(dep1(st, "m@v1", "prod", 5, "127.0.0.1:80"), MVMS_EINVALID, "no scheme refused");
	is_int(dep1(st, "m@v1", "prod", 5, "http://x\ny"), MVMS_EINVALID, "a newline refused");
	is_int(dep1(st, "m@v1", "prod", -1, NULL), MVMS_EINVALID, "weight -1 refused");
	is_int(dep1(st, "m@v1", "prod", -100, NULL), MVMS_EINVALID, "weight -100 refused");
	is_int(dep1(st, "m@v1", "prod", 1000001, NULL), MVMS_EINVALID, "weight 1000001 refused");
	is_int(dep1(st, "m@v1", "bad env", 0, NULL), MVMS_EINVALID, "an env name with a space refused");
	is_int(dep1(st, "m@v1", "v3", 0, NULL), MVMS_EINVALID, "env 'v3' (a reserved ref) refused");
	is_int(dep1(st, "m@v1", "", 0, NULL), MVMS_EINVALID, "an empty env name refused");
	is_int(revision(st, "m", "prod"), rev, "refused changes record no revision");
	is_int(dep1(st, "m@v9", "prod", 0, NULL), MVMS_ENOTFOUND, "unknown version: not found");
	is_int(dep1(st, "nope@v1", "prod", 0, NULL), MVMS_ENOTFOUND, "unknown model: not found");
	is_int(dep1(st, "m@nosuchbranch", "prod", 0, NULL), MVMS_ENOTFOUND, "unknown ref: not found");
	/* A version of another model: refs resolve within the named model, so naming other's
	 * version by its full id under m must not deploy it. */
	snprintf(spec, sizeof(spec), "m@%s", ro.id);
	rc = dep1(st, spec, "prod", 0, NULL);
	ok(rc == MVMS_EINVALID || rc == MVMS_ENOTFOUND, "another model's version (by id) is refused");
	if (rc != MVMS_EINVALID)
		diag("refused with %d (%s)", rc, mvms_error_last());
	is_int(revision(st, "m", "prod"), rev, "still no new revision");
	is_int(mvms_deploy_get(&d, st, "nope", "prod"), MVMS_ENOTFOUND, "get of an unknown model");
	is_int(mvms_deploy_get(&d, st, "m", "a b"), MVMS_EINVALID, "get of a bad env name");
	is_int(mvms_deploy_rollback(&d, st, "m", "nosuchenv", 0, NULL), MVMS_ENOTFOUND,
	       "rollback of an unknown env: not found");
	is_int(mvms_deploy_remove(&d, st, "m@v1", "nosuchenv", NULL), MVMS_ENOTFOUND,
	       "undeploy from an unknown env: not found");
	is_int(resolve_num(st, "m@nosuchenv"), -1, "m@nosuchenv does not resolve");
	is_int(mvms_version_resolve(&(mvms_version_info *){ NULL }, st, "m@nosuchenv"), MVMS_ENOTFOUND,
	       "m@nosuchenv: MVMS_ENOTFOUND");
	is_int(revision(st, "m", "nosuchenv"), 0, "an unknown env has revision 0");

	/* weight 0 in the library means "this version alone" (the CLI and HTTP API refuse 0) */
	is_int(dep1(st, "m@v3", "prod", 0, NULL), 0, "deploy v3 with weight 0 (= alone)");
	is_str(current_str(st, "m", "prod"), "v3:100", "v3 alone at 100: the others are gone");
	is_int(resolve_num(st, "m@prod"), 3, "m@prod follows (v3)");

	/* ---- history ---- */
	ok(mvms_deploy_history(&list, &n, st, "m", "prod") == 0 && n == 6, "6 revisions in history");
	ok(n == 6 && list[0]->revision == 6 && list[5]->revision == 1, "newest first");
	for (i = 1, rc = 1; i < n; i++)
		rc &= list[i - 1]->revision == list[i]->revision + 1;
	ok(rc, "revisions are consecutive");
	for (i = 0, rc = 1; i < n; i++)
		rc &= !strcmp(list[i]->action, "deploy") && !strcmp(list[i]->author, "alice") &&
		      list[i]->created_at > 0;
	ok(rc, "each is a deploy by alice with a time");
	is_str(n == 6 ? targets_str(list[4]) : NULL, "v1:100,v2:10", "revision 2 kept its targets");
	is_str(n == 6 ? targets_str(list[0]) : NULL, "v3:100", "revision 6 is current");
	mvms_deployment_list_free(list, n);
	list = NULL;

	/* ---- rollback ---- */
	rc = mvms_deploy_rollback(&d, st, "m", "prod", 0, &(mvms_deploy_options){
		.version = MVMS_DEPLOY_OPTIONS_VERSION, .reason = "bad canary", .author = "bob",
		.expected_revision = -1 });
	is_int(rc, 0, "rollback one step");
	ok(d && d->revision == 7 && d->from_revision == 5, "a new revision 7, from_revision 5");
	is_str(d ? d->action : NULL, "rollback", "action rollback");
	is_str(d ? d->author : NULL, "bob", "rollback author");
	is_str(d ? d->reason : NULL, "bad canary", "rollback reason");
	is_str(targets_str(d), "v2:90,v1:90,v3:10", "the targets of revision 5 are back");
	ok(d && d->target_count == 3 && !strcmp(d->targets[1].endpoint, "http://127.0.0.1:9001"),
	   "with their endpoints");
	mvms_deployment_free(d);
	d = NULL;
	is_int(mvms_deploy_rollback(&d, st, "m", "prod", 2, NULL), 0, "rollback --to 2");
	ok(d && d->revision == 8 && d->from_revision == 2, "revision 8 restores revision 2");
	is_str(targets_str(d), "v1:100,v2:10", "targets equal revision 2's");
	mvms_deployment_free(d);
	d = NULL;
	is_int(resolve_num(st, "m@prod"), 1, "m@prod follows the rollback (v1)");
	is_int(mvms_deploy_rollback(&d, st, "m", "prod", 8, NULL), MVMS_EINVALID,
	       "rollback --to the current revision: invalid");
	is_int(mvms_deploy_rollback(&d, st, "m", "prod", 9, NULL), MVMS_EINVALID,
	       "rollback --to a future revision: invalid");
	is_int(mvms_deploy_rollback(&d, st, "m", "prod", 1000, NULL), MVMS_EINVALID,
	       "rollback --to 1000: invalid");
	is_int(mvms_deploy_rollback(&d, st, "m", "prod", -1, NULL), MVMS_EINVALID,
	       "rollback --to -1: invalid");
	is_int(revision(st, "m", "prod"), 8, "refused rollbacks record nothing");
	ok(mvms_deploy_history(&list, &n, st, "m", "prod") == 0 && n == 8 &&
	   !strcmp(list[0]->action, "rollback") && list[0]->from_revision == 2 &&
	   !strcmp(list[1]->action, "rollback") && list[1]->from_revision == 5,
	   "history shows both rollbacks with from_revision");
	mvms_deployment_list_free(list, n);
	list = NULL;

	/* rollback with no history */
	is_int(dep1(st, "m@v2", "staging", 0, NULL), 0, "deploy v2 to staging (revision 1)");
	is_int(mvms_deploy_rollback(&d, st, "m", "staging", 0, NULL), MVMS_ENOTFOUND,
	       "rollback with one revision only: nothing to roll back to");
	is_int(mvms_deploy_rollback(&d, st, "m", "staging", 1, NULL), MVMS_EINVALID,
	       "rollback --to 1 when 1 is current: invalid");
	is_int(mvms_deploy_rollback(&d, st, "m", "never", 0, NULL), MVMS_ENOTFOUND,
	       "rollback of a never-deployed env: not found");
	is_int(history_len(st, "m", "staging"), 1, "staging still has one revision");

	/* ---- undeploy ---- */
	is_int(dep1(st, "m@v3", "staging", 25, NULL), 0, "staging: add v3 at 25");
	is_int(mvms_deploy_remove(&d, st, "m@v1", "staging", NULL), MVMS_ENOTFOUND,
	       "undeploy a version that is not there: not found");
	is_int(mvms_deploy_remove(&d, st, "m@v9", "staging", NULL), MVMS_ENOTFOUND,
	       "undeploy an unknown version: not found");
	is_int(mvms_deploy_remove(&d, st, "m@v2", "staging", NULL), 0, "undeploy v2 from staging");
	is_str(d ? d->action : NULL, "undeploy", "action undeploy");
	is_str(targets_str(d), "v3:25", "only v3 is left (its weight unchanged)");
	mvms_deployment_free(d);
	d = NULL;
	is_int(mvms_deploy_remove(&d, st, "m@v3", "staging", NULL), MVMS_EINVALID,
	       "the last target cannot be removed");
	is_str(current_str(st, "m", "staging"), "v3:25", "staging unchanged");
	is_int(resolve_num(st, "m@staging"), 3, "m@staging is v3");
	is_int(history_len(st, "m", "staging"), 3, "staging has 3 revisions");

	/* several environments in parallel */
	ok(mvms_deploy_list(&list, &n, st, "m") == 0 && n == 2 && !strcmp(list[0]->env, "prod") &&
	   !strcmp(list[1]->env, "staging") && list[0]->revision == 8 && list[1]->revision == 3,
	   "deployments of m: prod (8) and staging (3), by name");
	mvms_deployment_list_free(list, n);
	list = NULL;
	ok(mvms_deploy_list(&list, &n, st, "other") == 0 && n == 0, "other has no deployments");
	mvms_deployment_list_free(list, n);
	list = NULL;

	/* ---- expected_revision ---- */
	is_int(dep(&d, st, "m@v3", "prod", 0, NULL, 7), MVMS_ECONFLICT,
	       "expected_revision 7 while 8 is current: conflict");
	ok(strstr(mvms_error_last(), "revision 8") != NULL, "the message names the current revision");
	is_int(dep(&d, st, "m@v3", "prod", 0, NULL, 9), MVMS_ECONFLICT, "expected_revision 9: conflict");
	is_int(mvms_deploy_rollback(&d, st, "m", "prod", 0, &(mvms_deploy_options){
		.version = MVMS_DEPLOY_OPTIONS_VERSION, .expected_revision = 3 }), MVMS_ECONFLICT,
	       "rollback with a stale expected_revision: conflict");
	is_int(mvms_deploy_remove(&d, st, "m@v2", "prod", &(mvms_deploy_options){
		.version = MVMS_DEPLOY_OPTIONS_VERSION, .expected_revision = 0 }), MVMS_ECONFLICT,
	       "undeploy with a stale expected_revision: conflict");
	is_int(history_len(st, "m", "prod"), 8, "history unchanged by the conflicts");
	is_str(current_str(st, "m", "prod"), "v1:100,v2:10", "state unchanged");
	is_int(dep(&d, st, "m@v3", "prod", 0, NULL, 8), 0, "expected_revision 8 (current): deployed");
	is_int(d ? d->revision : -1, 9, "revision 9");
	mvms_deployment_free(d);
	d = NULL;
	is_int(dep(&d, st, "m@v1", "fresh", 0, NULL, 0), 0,
	       "expected_revision 0 on a never-deployed env: deployed");
	mvms_deployment_free(d);
	d = NULL;
	is_int(dep(&d, st, "m@v1", "fresh", 0, NULL, 0), MVMS_ECONFLICT,
	       "expected_revision 0 again: conflict");

	/* ---- a version back in an environment keeps its endpoint there ---- */
	is_int(dep1(st, "m@v1", "back", 0, "http://h1:9000"), 0, "back: v1 alone at h1");
	is_int(dep1(st, "m@v2", "back", 0, "http://h2:9000"), 0, "back: v2 alone at h2");
	is_int(mvms_deploy_rollback(&d, st, "m", "back", 0, NULL), 0, "back: rollback to v1");
	mvms_deployment_free(d);
	d = NULL;
	is_int(dep(&d, st, "m@v2", "back", 0, NULL, -1), 0, "back: v2 again, no endpoint given");
	is_str(d && d->target_count == 1 ? d->targets[0].endpoint : NULL, "http://h2:9000",
	       "v2 gets back the endpoint it last had in the environment");
	mvms_deployment_free(d);
	d = NULL;
	is_int(dep1(st, "m@v2", "back", 0, ""), 0, "back: v2's endpoint cleared");
	is_int(dep1(st, "m@v1", "back", 0, NULL), 0, "back: v1 alone (keeps h1)");
	is_int(dep(&d, st, "m@v2", "back", 7, NULL, -1), 0, "back: v2 joins at weight 7");
	ok(d && d->target_count == 2 && !strcmp(d->targets[0].endpoint, "http://h1:9000") &&
	   !strcmp(d->targets[1].endpoint, ""), "a cleared endpoint stays cleared; v1 keeps h1");
	mvms_deployment_free(d);
	d = NULL;

	/* ---- two handles, same expected_revision ---- */
	if (mvms_store_open(&st2, store_dir, 0) < 0) {
		printf("Bail out! second handle: %s\n", mvms_error_last());
		return 1;
	}
	is_int(dep1(st, "m@v1", "race", 0, NULL), 0, "race env at revision 1");
	{
		int64_t a = -1, b = -1;
		int ra, rb;
		mvms_deploy_revision(&a, st, "m", "race");
		mvms_deploy_revision(&b, st2, "m", "race");
		ok(a == 1 && b == 1, "both handles read revision 1");
		ra = dep(&d, st, "m@v2", "race", 0, NULL, a);
		mvms_deployment_free(d);
		d = NULL;
		rb = dep(&d, st2, "m@v3", "race", 0, NULL, b);
		mvms_deployment_free(d);
		d = NULL;
		is_int(ra, 0, "sequential: the first handle wins");
		is_int(rb, MVMS_ECONFLICT, "sequential: the second sees a conflict");
		is_int(history_len(st2, "m", "race"), 2, "exactly one new revision");
		is_int(resolve_num(st2, "m@race"), 2, "the winner's version is deployed");
	}
	{
		pthread_barrier_t barrier;
		pthread_t t1, t2;
		struct racer a, b;
		int round, wins_ok = 1, hist_ok = 1;
		for (round = 0; round < 10; round++) {
			int64_t cur = revision(st, "m", "race");
			pthread_barrier_init(&barrier, NULL, 2);
			a = (struct racer){ st, round % 2 ? "m@v1" : "m@v2", cur, &barrier, 1 };
			b = (struct racer){ st2, "m@v3", cur, &barrier, 1 };
			pthread_create(&t1, NULL, race, &a);
			pthread_create(&t2, NULL, race, &b);
			pthread_join(t1, NULL);
			pthread_join(t2, NULL);
			pthread_barrier_destroy(&barrier);
			if (!((a.rc == 0 && b.rc == MVMS_ECONFLICT) || (a.rc == MVMS_ECONFLICT && b.rc == 0))) {
				wins_ok = 0;
				diag("round %d: results %d and %d", round, a.rc, b.rc);
			}
			if (revision(st, "m", "race") != cur + 1 ||
			    history_len(st, "m", "race") != (size_t)(cur + 1)) {
				hist_ok = 0;
				diag("round %d: revision %lld after %lld", round,
				     (long long)revision(st, "m", "race"), (long long)cur);
			}
		}
		ok(wins_ok, "threads, 10 rounds: exactly one deploy wins, the other MVMS_ECONFLICT");
		ok(hist_ok, "threads: each round adds exactly one revision");
	}
	ok(mvms_deploy_history(&list, &n, st, "m", "race") == 0 && n == 12, "race history: 12 revisions");
	for (i = 0, rc = 1; i < n; i++)
		rc &= list[i]->revision == (int64_t)(n - i) && list[i]->target_count == 1;
	ok(rc, "consecutive, each with one target");
	mvms_deployment_list_free(list, n);
	list = NULL;

	mvms_store_free(st2);
	mvms_store_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
