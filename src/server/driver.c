/* SPDX-License-Identifier: MIT */
/*
 * The server's driver thread: every tick it adds the /predict counts made since the last
 * tick to the store (so a restart, or another server of the same store, does not lose
 * them), takes the due steps of the store's rollouts (mvms_rollout_drive), and posts the due
 * notifications (mvms_rollout_notify). It has its own store handle and never touches a
 * request, so a slow notification receiver delays only the next tick, never /predict.
 * A rollout recorded by a local CLI is driven by whatever server serves that store.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "server.h"
#include "vstats.h"

#define TICK_MS 200

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started, stop;
	mvms_store *st;
} drv = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* Says what failed, once per distinct message in a row (a broken store would say it every
 * tick otherwise). */
static void report(const char *what)
{
	static char last[512];
	const char *msg = mvms_error_last();

	if (strncmp(last, msg, sizeof(last) - 1) == 0)
		return;
	snprintf(last, sizeof(last), "%s", msg);
	fprintf(stderr, "mvms-store: %s: %s\n", what, msg);
}

/* A rollout's shadow phase is judged on this server's shadow counters (shadow.c). */
static int shadow_clean(void *arg, const char *model, const char *env, int64_t number,
			uint64_t min_compared, double max_diff_rate, double max_error_rate,
			char *why, size_t why_len)
{
	(void)arg;
	return srv_shadow_clean(model, env, number, min_compared, max_diff_rate, max_error_rate,
				why, why_len);
}

static void tick(void)
{
	mvms_counters *add = NULL;
	struct timespec ts;
	size_t n = 0;
	int64_t now;

	if (srv_vstats_unsaved(&add, &n) == 0 && n) {
		if (mvms_counters_add(drv.st, add, n) < 0) {
			srv_vstats_unsave(add, n);
			report("storing the /predict counters");
		}
	}
	mvms_counters_list_free(add, n);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (mvms_rollout_drive_shadow(drv.st, now, shadow_clean, NULL, NULL) < 0)
		report("rollout");
	if (mvms_rollout_notify(drv.st, now, 16, NULL) < 0)
		report("rollout notification");
}

static void *driver_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&drv.lock);
	while (!drv.stop) {
		pthread_mutex_unlock(&drv.lock);
		tick();
		pthread_mutex_lock(&drv.lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!drv.stop && pthread_cond_timedwait(&drv.cond, &drv.lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&drv.lock);
	tick(); /* the last counts of a server that stops are kept too */
	return NULL;
}

int srv_driver_start(const srv_options *opts, int drive)
{
	mvms_counters *list = NULL;
	size_t n = 0;

	if (mvms_store_open(&drv.st, opts->store_dir, 1) < 0) {
		fprintf(stderr, "mvms-store: serve: %s\n", mvms_error_last());
		return -1;
	}
	if (mvms_counters_list(&list, &n, drv.st) < 0) {
		fprintf(stderr, "mvms-store: serve: reading the stored /predict counters: %s\n",
			mvms_error_last());
		mvms_store_free(drv.st);
		drv.st = NULL;
		return -1;
	}
	srv_vstats_seed(list, n);
	mvms_counters_list_free(list, n);
	if (!drive)
		return 0;
	drv.stop = 0;
	if (pthread_create(&drv.thread, NULL, driver_main, NULL) != 0) {
		fprintf(stderr, "mvms-store: serve: cannot start the rollout driver\n");
		return -1;
	}
	drv.started = 1;
	return 0;
}

void srv_driver_stop(void)
{
	if (drv.started) {
		pthread_mutex_lock(&drv.lock);
		drv.stop = 1;
		pthread_cond_signal(&drv.cond);
		pthread_mutex_unlock(&drv.lock);
		pthread_join(drv.thread, NULL);
		drv.started = 0;
	}
	mvms_store_free(drv.st);
	drv.st = NULL;
}
