/* SPDX-License-Identifier: MIT */
/*
 * mvms-store deploy, undeploy, deployments, deploy-log, rollback, watch and status: which
 * versions serve each environment, with weights; the history of every change; the hot-update
 * hook for inference servers; and live per-version counters from a server.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

static void print_deployment(const mvms_deployment *d, int brief)
{
	char tbuf[32];
	long long total = 0;
	size_t i;

	for (i = 0; i < d->target_count; i++)
		total += d->targets[i].weight;
	if (d->revision == 0) {
		printf("%s: not deployed\n", d->env);
		return;
	}
	if (brief) {
		printf("#%-4lld %s  %-12s %-8s", (long long)d->revision,
		       view_time(tbuf, sizeof(tbuf), d->created_at), d->author, d->action);
		if (d->from_revision)
			printf(" (to #%lld)", (long long)d->from_revision);
		for (i = 0; i < d->target_count; i++)
			printf("%s v%lld %d", i ? "," : " ", (long long)d->targets[i].number,
			       d->targets[i].weight);
		if (*d->reason)
			printf("  \"%s\"", d->reason);
		printf("\n");
		return;
	}
	printf("%s of %s: revision %lld (%s by %s at %s%s%s%s)\n", d->env, d->model,
	       (long long)d->revision, d->action, d->author, view_time(tbuf, sizeof(tbuf), d->created_at),
	       *d->reason ? ": \"" : "", d->reason, *d->reason ? "\"" : "");
	for (i = 0; i < d->target_count; i++)
		printf("  v%-5lld %5.1f%%  weight %-6d %.12s  %s\n", (long long)d->targets[i].number,
		       total ? 100.0 * d->targets[i].weight / (double)total : 0.0, d->targets[i].weight,
		       d->targets[i].id, *d->targets[i].endpoint ? d->targets[i].endpoint : "(no endpoint)");
}

static int finish(mvms_store *st, mvms_deployment *d, int error)
{
	int rc = EXIT_OK;

	if (error < 0)
		rc = cli_fail(error);
	else if (cli.json)
		cli_print_json(view_deployment(d));
	else if (!cli.quiet)
		print_deployment(d, 0);
	mvms_deployment_free(d);
	mvms_store_free(st);
	return rc;
}

static int parse_i64(int64_t *out, const char *s, int64_t min, int64_t max)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*end || end == s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cmd_deploy(int argc, char **argv)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	mvms_store *st = NULL;
	cli_rollout_args ra;
	int64_t v;
	int c, rc;

	cli_rollout_init(&ra);
	while ((c = cli_getopt(argc, argv, "deploy")) != -1) {
		switch (c) {
		case 'w':
			if (parse_i64(&v, optarg, 1, 1000000) < 0)
				return cli_usage_error("deploy", "--weight wants 1 to 1000000 (weights are "
						       "relative; leave it out for all of the traffic)");
			o.weight = (int)v;
			break;
		case 'e': o.endpoint = optarg; break;
		case 'm': o.reason = optarg; break;
		case 'x':
			if (parse_i64(&v, optarg, 0, INT64_MAX) < 0)
				return cli_usage_error("deploy", "--expect-revision wants a number");
			o.expected_revision = v;
			break;
		case 'h':
			cli_print_usage(cli_find("deploy"));
			return EXIT_OK;
		default:
			if ((rc = cli_rollout_opt(&ra, c, optarg)) == 1)
				return cli_bad_option("deploy", c);
			if (rc != 0)
				return rc;
			break;
		}
	}
	if (ra.used)
		return cli_rollout_run(&ra, &o, argc - optind, argv + optind);
	if (argc - optind != 2)
		return cli_usage_error("deploy", "want MODEL@REF and ENV");
	o.author = cli_author(NULL);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	return finish(st, d, mvms_deploy(&d, st, argv[optind], argv[optind + 1], &o));
}

int cmd_undeploy(int argc, char **argv)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	mvms_store *st = NULL;
	int rc;

	if ((rc = cli_plain_args(&argc, &argv, "undeploy")) >= 0)
		return rc;
	if (argc != 3)
		return cli_usage_error("undeploy", "want MODEL@REF and ENV");
	o.author = cli_author(NULL);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	return finish(st, d, mvms_deploy_remove(&d, st, argv[1], argv[2], &o));
}

int cmd_rollback(int argc, char **argv)
{
	mvms_deploy_options o = MVMS_DEPLOY_OPTIONS_INIT;
	mvms_deployment *d = NULL;
	mvms_store *st = NULL;
	int64_t to = 0, v;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "rollback")) != -1) {
		switch (c) {
		case 't':
			if (parse_i64(&to, optarg, 1, INT64_MAX) < 0)
				return cli_usage_error("rollback", "--to wants a revision number");
			break;
		case 'm': o.reason = optarg; break;
		case 'x':
			if (parse_i64(&v, optarg, 0, INT64_MAX) < 0)
				return cli_usage_error("rollback", "--expect-revision wants a number");
			o.expected_revision = v;
			break;
		case 'h':
			cli_print_usage(cli_find("rollback"));
			return EXIT_OK;
		default:
			return cli_bad_option("rollback", c);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("rollback", "want MODEL and ENV");
	o.author = cli_author(NULL);
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	return finish(st, d, mvms_deploy_rollback(&d, st, argv[optind], argv[optind + 1], to, &o));
}

static int list_cmd(int argc, char **argv, int history)
{
	const char *cmd = history ? "deploy-log" : "deployments";
	mvms_deployment **list = NULL, *one = NULL;
	mvms_store *st = NULL;
	size_t n = 0, i;
	int error, rc;

	if ((rc = cli_plain_args(&argc, &argv, cmd)) >= 0)
		return rc;
	if (history ? argc != 3 : (argc < 2 || argc > 3))
		return cli_usage_error(cmd, history ? "want MODEL and ENV" : "want MODEL [ENV]");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if (history)
		error = mvms_deploy_history(&list, &n, st, argv[1], argv[2]);
	else if (argc == 3)
		error = mvms_deploy_get(&one, st, argv[1], argv[2]);
	else
		error = mvms_deploy_list(&list, &n, st, argv[1]);
	if (error < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (one) {
		if (cli.json)
			cli_print_json(view_deployment(one));
		else
			print_deployment(one, 0);
		goto done;
	}
	if (cli.json) {
		cJSON *arr = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, view_deployment(list[i]));
		cli_print_json(arr);
	} else {
		if (n == 0)
			printf("%s: no deployments\n", argv[1]);
		for (i = 0; i < n; i++)
			print_deployment(list[i], history);
	}
done:
	mvms_deployment_free(one);
	mvms_deployment_list_free(list, n);
	mvms_store_free(st);
	return rc;
}

int cmd_deployments(int argc, char **argv)
{
	return list_cmd(argc, argv, 0);
}

int cmd_deploy_log(int argc, char **argv)
{
	return list_cmd(argc, argv, 1);
}

/* ---- watch: the hot-update hook ---- */

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* The primary version (highest weight) of the current state: "" when none. */
static void primary(char *spec, size_t n, const mvms_deployment *d)
{
	if (d->target_count == 0)
		snprintf(spec, n, "%s", "");
	else
		snprintf(spec, n, "%s@v%lld", d->model, (long long)d->targets[0].number);
}

static int run_hook(const char *cmd, const mvms_deployment *d, const char *dir)
{
	char num[32], rev[32];
	pid_t pid;
	int status = 0;

	snprintf(num, sizeof(num), "v%lld", (long long)d->targets[0].number);
	snprintf(rev, sizeof(rev), "%lld", (long long)d->revision);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setenv("MVMS_MODEL", d->model, 1);
		setenv("MVMS_ENV", d->env, 1);
		setenv("MVMS_VERSION", num, 1);
		setenv("MVMS_VERSION_ID", d->targets[0].id, 1);
		setenv("MVMS_REVISION", rev, 1);
		setenv("MVMS_DIR", dir, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (watch_stop)
			break;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Pulls the primary version of @d into BASE/NAME@vN (once: versions are immutable) and runs
 * the hook. EXIT_OK; EXIT_ERROR when the hook failed under --once (watching goes on
 * otherwise); minus an exit code when the pull failed (watching stops). */
static int watch_update(const mvms_deployment *d, mvms_store *st, const char *model, const char *env, const char *base, const char *exec_cmd,
			int once)
{
	mvms_pull_options po = MVMS_PULL_OPTIONS_INIT;
	mvms_pull_result pr;
	const char *slash = strrchr(model, '/');
	char spec[300], dir[4096];
	int error;

	primary(spec, sizeof(spec), d);
	snprintf(dir, sizeof(dir), "%s/%s@v%lld", base, slash ? slash + 1 : model,
		 (long long)d->targets[0].number);
	/* A version already pulled is immutable: reuse its directory. */
	po.force = 0;
	error = access(dir, F_OK) == 0 ? 0 : mvms_pull(&pr, st, spec, dir, &po);
	if (error < 0)
		return -cli_fail(error);
	if (!cli.quiet)
		fprintf(stderr, "mvms-store: %s of %s is at revision %lld: %s in %s\n", env, model,
			(long long)d->revision, spec, dir);
	if (exec_cmd && (error = run_hook(exec_cmd, d, dir)) != 0) {
		/* With --once the caller asked for one update: say it failed. */
		if (once)
			return cli_error(EXIT_ERROR, "error", "watch: the hook exited with %d", error);
		fprintf(stderr, "mvms-store: watch: the hook exited with %d\n", error);
	}
	return EXIT_OK;
}

/* mkdir -p @dir (watch --dir): EXIT_OK, or EXIT_ERROR after saying why. Made up front so a
 * bad directory fails at once, not at the first deploy, maybe hours later. */
static int watch_mkdir(const char *dir)
{
	char path[4096], *p;
	struct stat sb;
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return cli_error(EXIT_ERROR, "invalid", "watch: --dir: bad directory name");
	memcpy(path, dir, n + 1);
	for (p = path + 1; ; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			return cli_error(EXIT_ERROR, "error", "watch: cannot create --dir %s: %s: %s", dir,
					 path, strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return cli_error(EXIT_ERROR, "error", "watch: --dir %s is not a directory", dir);
	return EXIT_OK;
}

int cmd_watch(int argc, char **argv)
{
	const char *exec_cmd = NULL, *base = ".", *model, *env;
	int64_t interval = 2, seen = -1, v;
	int c, rc = EXIT_OK, once = 0, error;
	mvms_store *st = NULL;

	while ((c = cli_getopt(argc, argv, "watch")) != -1) {
		switch (c) {
		case 'e': exec_cmd = optarg; break;
		case 'd': base = optarg; break;
		case 'i':
			if (parse_i64(&v, optarg, 1, 3600) < 0)
				return cli_usage_error("watch", "--interval wants 1 to 3600 seconds");
			interval = v;
			break;
		case 'o': once = 1; break;
		case 'h':
			cli_print_usage(cli_find("watch"));
			return EXIT_OK;
		default:
			return cli_bad_option("watch", c);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("watch", "want MODEL and ENV");
	model = argv[optind];
	env = argv[optind + 1];
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((rc = watch_mkdir(base)) != EXIT_OK)
		return rc;
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	while (!watch_stop) {
		mvms_deployment *d = NULL;
		/* Waits for a change (a server answers as soon as there is one); the first round,
		 * with nothing seen yet, takes the deployment as it is. */
		if ((error = mvms_deploy_wait(&d, st, model, env, seen, once ? 0 : (int)interval)) < 0) {
			rc = cli_fail(error);
			break;
		}
		if (!d) {
			if (once)
				break;
			continue;
		}
		if (d->revision != seen && d->target_count > 0) {
			seen = d->revision;
			if ((error = watch_update(d, st, model, env, base, exec_cmd, once)) < 0) {
				rc = -error;
				mvms_deployment_free(d);
				break;
			}
			if (error != EXIT_OK)
				rc = error;
		} else if (d->target_count == 0) {
			seen = d->revision; /* nothing to pull: wait for the next change */
		}
		mvms_deployment_free(d);
		if (once)
			break;
	}
	mvms_store_free(st);
	return rc;
}

/* ---- status: live counters from a server ---- */

static cJSON *status_json(const mvms_deploy_status *s)
{
	cJSON *doc = cJSON_CreateObject(), *arr;
	size_t i;

	cJSON_AddStringToObject(doc, "model", s->model);
	cJSON_AddStringToObject(doc, "env", s->env);
	cJSON_AddNumberToObject(doc, "revision", (double)s->revision);
	arr = cJSON_AddArrayToObject(doc, "versions");
	for (i = 0; i < s->count; i++) {
		const mvms_deploy_version_stats *v = &s->versions[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "version", (double)v->number);
		cJSON_AddStringToObject(o, "id", v->id);
		cJSON_AddNumberToObject(o, "weight", v->weight);
		cJSON_AddStringToObject(o, "endpoint", v->endpoint);
		cJSON_AddNumberToObject(o, "requests", (double)v->requests);
		cJSON_AddNumberToObject(o, "errors", (double)v->errors);
		cJSON_AddNumberToObject(o, "p50_ms", v->p50_ms);
		cJSON_AddNumberToObject(o, "p99_ms", v->p99_ms);
		cJSON_AddNumberToObject(o, "mean_upstream_ms", v->mean_upstream_ms);
		cJSON_AddItemToArray(arr, o);
	}
	return doc;
}

int cmd_status(int argc, char **argv)
{
	mvms_deploy_status *s = NULL;
	mvms_store *st = NULL;
	size_t i;
	int rc, error;

	if ((rc = cli_plain_args(&argc, &argv, "status")) >= 0)
		return rc;
	if (argc != 3)
		return cli_usage_error("status", "want MODEL and ENV");
	if (!cli.remote)
		return cli_usage_error("status", "status reads a server's live counters: give --remote "
				       "URL (or $MVMS_REMOTE)");
	if ((rc = cli_open_store(&st)) != 0)
		return rc;
	if ((error = mvms_deploy_status_get(&s, st, argv[1], argv[2])) < 0) {
		rc = cli_fail(error);
		goto done;
	}
	if (cli.json) {
		cli_print_json(status_json(s));
		goto done;
	}
	printf("%s of %s, revision %lld\n", argv[2], argv[1], (long long)s->revision);
	printf("  %-8s %7s %10s %8s %10s %10s %12s\n", "version", "weight", "requests", "errors",
	       "err rate", "p50 ms", "p99 ms");
	for (i = 0; i < s->count; i++) {
		const mvms_deploy_version_stats *v = &s->versions[i];
		printf("  v%-7lld %7d %10llu %8llu %9.2f%% %10.2f %12.2f\n", (long long)v->number,
		       v->weight, (unsigned long long)v->requests, (unsigned long long)v->errors,
		       v->requests ? 100.0 * (double)v->errors / (double)v->requests : 0.0, v->p50_ms,
		       v->p99_ms);
	}
done:
	mvms_deploy_status_free(s);
	mvms_store_free(st);
	return rc;
}
