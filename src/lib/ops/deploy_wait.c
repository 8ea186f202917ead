/* SPDX-License-Identifier: MIT */
/*
 * Waiting for an environment to change (what `watch` does between updates): on a local store
 * by looking at the revision every POLL_MS, on a remote one by the server's long-poll
 * (transport table); and the live counters of an environment, which only a server has. It
 * reads; it changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "common.h"
#include "store_int.h"
#include "transport.h"
#include "mvms/deploy.h"

#define POLL_MS 100

int mvms_deploy_wait(mvms_deployment **out, mvms_store *st, const char *model, const char *env,
		     int64_t since, int wait_seconds)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };
	double deadline = mvms_now() + (wait_seconds > 0 ? wait_seconds : 0);
	int64_t rev = 0;
	int error = 0;

	MVMS_TRANSPORT_CALL(st, deploy_wait, (out, st, model, env, since, wait_seconds));
	*out = NULL;
	for (;;) {
		MVMS_TRY(mvms_deploy_revision(&rev, st, model, env));
		if (rev > since || since < 0) {
			error = mvms_deploy_get(out, st, model, env);
			goto done;
		}
		if (mvms_now() >= deadline)
			goto done; /* nothing changed in time: *out NULL */
		/* A signal ends the wait early (the caller looks at why). */
		if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
			goto done;
	}
done:
	return error;
}

int mvms_deploy_status_get(mvms_deploy_status **out, mvms_store *st, const char *model,
			   const char *env)
{
	MVMS_TRANSPORT_CALL(st, deploy_status, (out, st, model, env));
	*out = NULL;
	return mvms_error_set(MVMS_ENOTSUPPORTED, "status: the live counters are kept by the "
			      "server that routes /predict: give --remote URL");
}

void mvms_deploy_status_free(mvms_deploy_status *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->count; i++)
		free(s->versions[i].endpoint);
	free(s->versions);
	if (s->shadow) {
		free(s->shadow->endpoint);
		free(s->shadow->compare);
		free(s->shadow);
	}
	free(s->model);
	free(s->env);
	free(s);
}
