/* SPDX-License-Identifier: MIT */
/*
 * Progressive rollouts from the command line: deploy's --canary (start one), --pause,
 * --resume and --abort, and `rollout MODEL ENV` (look at one). The steps themselves are
 * taken by a server of the store (mvms-store serve), locally or with --remote alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

void cli_rollout_init(cli_rollout_args *a)
{
	mvms_rollout_options o = MVMS_ROLLOUT_OPTIONS_INIT;

	memset(a, 0, sizeof(*a));
	a->o = o;
}

static int parse_steps(mvms_rollout_options *o, const char *s)
{
	char *end;
	long v;

	o->step_count = 0;
	for (;;) {
		v = strtol(s, &end, 10);
		if (end == s || v < 1 || v > 100 || o->step_count == MVMS_ROLLOUT_MAX_STEPS ||
		    (o->step_count && v <= o->steps[o->step_count - 1]))
			return -1;
		o->steps[o->step_count++] = (int)v;
		if (!*end)
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

/* "500ms", or a duration cli_parse_duration takes ("5m", "30s", "90"), into ms. */
static int parse_ms(int64_t *out, const char *s)
{
	size_t n = strlen(s);
	int64_t secs;
	char *end;
	long long v;

	if (n > 2 && !strcmp(s + n - 2, "ms")) {
		v = strtoll(s, &end, 10);
		if (end != s + n - 2 || v < 1)
			return -1;
		*out = v;
		return 0;
	}
	if (cli_parse_duration(&secs, s, 0) < 0 || secs > 7 * 86400)
		return -1;
	*out = secs * 1000;
	return 0;
}

static int parse_num(double *out, const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

int cli_rollout_opt(cli_rollout_args *a, int c, const char *arg)
{
	double v;

	switch (c) {
	case 'c':
		if (parse_steps(&a->o, arg) < 0)
			return cli_usage_error("deploy", "--canary wants rising percentages from 1 to "
					       "100, e.g. 5,25,50,100");
		break;
	case 'I':
		if (parse_ms(&a->o.step_interval_ms, arg) < 0 || a->o.step_interval_ms < 100)
			return cli_usage_error("deploy", "--step-interval wants a duration from 100ms "
					       "to 7d, e.g. 5m, 30s, 500ms");
		break;
	case 'E':
		if (parse_num(&a->o.max_error_rate, arg, 0, 1) < 0)
			return cli_usage_error("deploy", "--max-error-rate wants a rate from 0 to 1 "
					       "(0.02 is 2%%)");
		break;
	case 'P':
		if (parse_num(&a->o.max_p95_ms, arg, 0.001, 1e9) < 0)
			return cli_usage_error("deploy", "--max-p95-ms wants milliseconds above 0");
		break;
	case 'N':
		if (parse_num(&v, arg, 0, 1e9) < 0 || v != (double)(int64_t)v)
			return cli_usage_error("deploy", "--min-requests wants a whole number");
		a->o.min_requests = (int64_t)v;
		break;
	case 'B': a->o.compare_baseline = 1; break;
	case 'F':
		if (parse_num(&v, arg, 1, 1e9) < 0 || v != (double)(int64_t)v)
			return cli_usage_error("deploy", "--shadow-first wants a whole number of "
					       "answers, 1 or more");
		a->o.shadow_first = (int64_t)v;
		break;
	case 'D':
		if (parse_num(&a->o.max_diff_rate, arg, 0, 1) < 0)
			return cli_usage_error("deploy", "--max-diff-rate wants a rate from 0 to 1 "
					       "(0.05 is 5%%)");
		break;
	case 'n': a->o.notify = arg; break;
	case 'p': case 'r': case 'a': {
		int act = c == 'p' ? MVMS_ROLLOUT_PAUSE : c == 'r' ? MVMS_ROLLOUT_RESUME
								  : MVMS_ROLLOUT_ABORT;
		if (a->action && a->action != act)
			return cli_usage_error("deploy", "--pause, --resume and --abort go alone");
		a->action = act;
		break;
	}
	default:
		return 1;
	}
	a->used = 1;
	return 0;
}

static void print_rollout(const mvms_rollout *r)
{
	size_t i;

	printf("rollout #%lld of %s@v%lld in %s: %s, step %zu/%zu (%d%%)\n", (long long)r->id,
	       r->model, (long long)r->version, r->env, r->state, r->step + 1, r->step_count,
	       r->step < r->step_count ? r->steps[r->step] : 0);
	printf("  steps ");
	for (i = 0; i < r->step_count; i++)
		printf("%s%d", i ? "," : "", r->steps[i]);
	printf(" every %.3gs, judged after %lld requests a step", (double)r->step_interval_ms / 1000,
	       (long long)r->min_requests);
	if (r->max_error_rate >= 0)
		printf("; error rate <= %g%%", 100 * r->max_error_rate);
	if (r->max_p95_ms > 0)
		printf("; p95 <= %gms", r->max_p95_ms);
	if (r->shadow_first)
		printf("; shadow phase of %lld answers%s", (long long)r->shadow_first,
		       r->shadowing ? " (now)" : "");
	if (r->max_diff_rate >= 0)
		printf("; differences <= %g%%", 100 * r->max_diff_rate);
	if (r->compare_baseline)
		printf("; against the baseline");
	printf("\n  revision %lld (before the rollout: %lld)\n", (long long)r->revision,
	       (long long)r->base_revision);
	if (r->notify && *r->notify)
		printf("  notify %s\n", r->notify);
	if (r->reason && *r->reason)
		printf("  %s\n", r->reason);
}

static int finish(mvms_store *st, mvms_rollout *r, int error)
{
	int rc = EXIT_OK;

	if (error < 0)
		rc = cli_fail(error);
	else if (cli.json)
		cli_print_json(view_rollout(r));
	else if (!cli.quiet)
		print_rollout(r);
	mvms_rollout_free(r);
	mvms_store_free(st);
	return rc;
}

int cli_rollout_run(cli_rollout_args *a, const mvms_deploy_options *d, int argc, char **argv)
{
	mvms_rollout *r = NULL;
	mvms_store *st = NULL;
	char *model;
	int rc, error;

	if (argc != 2)
		return cli_usage_error("deploy", a->action ? "want MODEL and ENV" : "want MODEL@REF and ENV");
	if (a->action && (a->o.step_count || a->o.notify))
		return cli_usage_error("deploy", "--pause, --resume and --abort take no rollout "
				       "settings");
	if (!a->action && !a->o.step_count)
		return cli_usage_error("deploy", "rollout settings need --canary STEPS");
	if (!a->action && (d->weight || d->expected_revision >= 0))
		return cli_usage_error("deploy", "--canary sets the weights itself: no --weight or "
				       "--expect-revision");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if (a->action) {
		/* MODEL or MODEL@ANYTHING: the rollout is the environment's. */
		if (!(model = strdup(argv[0])))
			return finish(st, r, mvms_error_set(MVMS_ERROR, "out of memory"));
		if (strchr(model, '@'))
			*strchr(model, '@') = '\0';
		error = mvms_rollout_control(&r, st, model, argv[1], a->action, cli_author(NULL),
					     d->reason);
		free(model);
		return finish(st, r, error);
	}
	a->o.endpoint = d->endpoint;
	a->o.reason = d->reason;
	a->o.author = cli_author(NULL);
	return finish(st, r, mvms_rollout_start(&r, st, argv[0], argv[1], &a->o));
}

int cmd_rollout(int argc, char **argv)
{
	mvms_rollout *r = NULL;
	mvms_store *st = NULL;
	int rc;

	if ((rc = cli_plain_args(&argc, &argv, "rollout")) >= 0)
		return rc;
	if (argc != 3)
		return cli_usage_error("rollout", "want MODEL and ENV");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	return finish(st, r, mvms_rollout_get(&r, st, argv[1], argv[2]));
}
