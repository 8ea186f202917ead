/* SPDX-License-Identifier: MIT */
/*
 * Leases: how a running push keeps gc away from what it writes (schema/006_leases.sql,
 * docs/formats.md "Garbage collection and leases"). A writer takes a lease before it writes
 * any object and renews it as it goes; gc removes nothing written after the start of the
 * oldest live lease. A lease that is not renewed for its time to live expires: gc deletes
 * it and may then remove what it protected, so a writer checks, inside its commit's
 * transaction, that its lease is still there, and fails with a conflict if it is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "store_int.h"
#include "mvms/gc.h"
#include "transport.h"

#define LEASE_TTL_DEFAULT 600

int64_t mvms_lease_ttl(void)
{
	const char *v = getenv("MVMS_LEASE_TTL");
	char *end;
	long long n;

	if (!v || !*v)
		return LEASE_TTL_DEFAULT;
	n = strtoll(v, &end, 10);
	return *end || n <= 0 || n > 7 * 86400 ? LEASE_TTL_DEFAULT : (int64_t)n;
}

static int id_ok(const char *id)
{
	size_t i;

	for (i = 0; id && id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id && i == MVMS_LEASE_ID_HEXSZ;
}

/* Runs @sql (one statement binding ?1 = a time, ?2 = the id) in the caller's write
 * transaction, or in one of its own; *changed is the number of rows it changed. */
static int lease_exec(int *changed, mvms_store *st, const char *sql, int64_t t, const char *id,
		      const char *holder)
{
	sqlite3_stmt *s;
	int error = 0, began = 0;

	*changed = 0;
	if (sqlite3_get_autocommit(mvms_db_handle(st->db))) {
		MVMS_TRY(mvms_db_begin(st->db));
		began = 1;
	}
	if (!(s = mvms_db_stmt(st->db, sql))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, t);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	if (holder) {
		sqlite3_bind_text(s, 3, holder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, t - mvms_lease_ttl());
	}
	MVMS_TRY(mvms_db_step_done(st->db, s, "lease"));
	*changed = mvms_db_changes(st->db);
	if (began) {
		MVMS_TRY(mvms_db_commit(st->db));
		began = 0;
	}
done:
	if (began)
		mvms_db_rollback(st->db);
	return error;
}

/* When lease @id started (its row's started_at; now when it cannot be read). */
static int64_t started_of(mvms_store *st, const char *id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT started_at FROM leases WHERE id = ?");
	int64_t t = (int64_t)time(NULL);

	if (s) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			t = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return t;
}

int mvms_lease_create(char *id_out, int64_t *expires_at, mvms_store *st, const char *holder)
{
	MVMS_LOCAL_ONLY(st, "lease_create");
	static const char q[] =
		"INSERT INTO leases(id, holder, started_at, expires_at) VALUES (?2, ?3, ?4, ?1)";
	char id[MVMS_LEASE_ID_HEXSZ + 1];
	int64_t exp = (int64_t)time(NULL) + mvms_lease_ttl();
	int error, changed;

	mvms_store__new_uid(id);
	/* started_at is now (exp - ttl): gc keeps everything written from then on. */
	if ((error = lease_exec(&changed, st, q, exp, id, holder ? holder : "")) < 0)
		return error;
	if ((error = mvms_lease__publish(st, id, exp - mvms_lease_ttl(), exp)) < 0) {
		mvms_lease_release(st, id);
		return error;
	}
	memcpy(id_out, id, sizeof(id));
	if (expires_at)
		*expires_at = exp;
	return 0;
}

int mvms_lease_renew(int64_t *expires_at, mvms_store *st, const char *id)
{
	MVMS_LOCAL_ONLY(st, "lease_renew");
	static const char q[] = "UPDATE leases SET expires_at = ?1 WHERE id = ?2";
	int64_t exp = (int64_t)time(NULL) + mvms_lease_ttl();
	int error, changed;

	if (!id_ok(id))
		return mvms_error_set(MVMS_EINVALID, "lease: '%.40s' is not a lease id", id ? id : "");
	if ((error = lease_exec(&changed, st, q, exp, id, NULL)) < 0)
		return error;
	if (!changed)
		return mvms_error_set(MVMS_ECONFLICT,
				      "lease %s expired (not renewed within %lld s) and gc dropped it: "
				      "what it protected may be gone; nothing was committed: push again",
				      id, (long long)mvms_lease_ttl());
	/* Renewed in the bucket too, unless a gc elsewhere dropped it there already. */
	if ((error = mvms_lease__published(st, id)) < 0 ||
	    (error = mvms_lease__publish(st, id, started_of(st, id), exp)) < 0)
		return error;
	if (expires_at)
		*expires_at = exp;
	return 0;
}

int mvms_lease_release(mvms_store *st, const char *id)
{
	MVMS_LOCAL_ONLY(st, "lease_release");
	int changed;

	if (!id_ok(id))
		return mvms_error_set(MVMS_EINVALID, "lease: '%.40s' is not a lease id", id ? id : "");
	mvms_lease__unpublish(st, id);
	return lease_exec(&changed, st, "DELETE FROM leases WHERE ?1 = ?1 AND id = ?2", 0, id, NULL);
}

int mvms_store_use_lease(mvms_store *st, const char *id)
{
	MVMS_LOCAL_ONLY(st, "store_use_lease");
	if (!id || !*id) {
		st->lease[0] = '\0';
		return 0;
	}
	if (!id_ok(id))
		return mvms_error_set(MVMS_EINVALID, "lease: '%.40s' is not a lease id", id);
	memcpy(st->lease, id, MVMS_LEASE_ID_HEXSZ + 1);
	st->lease_renewed = mvms_now();
	return 0;
}

int mvms_lease__hold(int *took, mvms_store *st, const char *holder)
{
	char id[MVMS_LEASE_ID_HEXSZ + 1];
	int error;

	*took = 0;
	if (st->lease[0])
		return 0;
	if ((error = mvms_lease_create(id, NULL, st, holder)) < 0)
		return error;
	*took = 1;
	return mvms_store_use_lease(st, id);
}

void mvms_lease__drop(mvms_store *st, int took)
{
	int code = mvms_error_last_code();
	char *msg = code ? strdup(mvms_error_last()) : NULL;

	if (!took)
		goto done;
	/* Best effort: a lease left behind only expires (and holds gc back until then). */
	mvms_lease_release(st, st->lease);
	st->lease[0] = '\0';
	if (code)
		mvms_error_set(code, "%s", msg ? msg : "out of memory");
	else
		mvms_error_clear();
done:
	free(msg);
}

int mvms_lease__tick(mvms_store *st, int force)
{
	double now = mvms_now();
	int error;

	if (!st->lease[0] || (!force && now - st->lease_renewed < (double)mvms_lease_ttl() / 4))
		return 0;
	if ((error = mvms_lease_renew(NULL, st, st->lease)) == 0)
		st->lease_renewed = now;
	return error;
}

int mvms_lease__check(mvms_store *st)
{
	sqlite3_stmt *s;
	int rc;

	if (!st->lease[0])
		return 0;
	if (!(s = mvms_db_stmt(st->db, "SELECT 1 FROM leases WHERE id = ?")))
		return MVMS_ERROR;
	sqlite3_bind_text(s, 1, st->lease, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return mvms_lease__published(st, st->lease);
	if (rc != SQLITE_DONE)
		return mvms_db_error(st->db, rc, "lease");
	return mvms_error_set(MVMS_ECONFLICT,
			      "lease %s expired (not renewed within %lld s) and gc dropped it: what "
			      "it protected may be gone; nothing was committed: push again",
			      st->lease, (long long)mvms_lease_ttl());
}

int mvms_lease__oldest(int64_t *oldest, uint64_t *live, uint64_t *expired, mvms_store *st,
		       int64_t now, int reap)
{
	sqlite3_stmt *s;
	int error = 0, rc;

	*oldest = 0;
	*live = 0;
	if (expired)
		*expired = 0;
	if (reap) {
		/* Killed holders: their leases hold gc back no longer. */
		if (!(s = mvms_db_stmt(st->db, "DELETE FROM leases WHERE expires_at <= ?")))
			return MVMS_ERROR;
		sqlite3_bind_int64(s, 1, now);
		MVMS_TRY(mvms_db_step_done(st->db, s, "drop expired leases"));
		if (expired)
			*expired = (uint64_t)mvms_db_changes(st->db);
	} else if (expired) {
		if (!(s = mvms_db_stmt(st->db, "SELECT count(*) FROM leases WHERE expires_at <= ?")))
			return MVMS_ERROR;
		sqlite3_bind_int64(s, 1, now);
		if ((rc = mvms_db_step_row(st->db, s, "count expired leases")) < 0)
			return rc;
		if (rc > 0)
			*expired = (uint64_t)sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	if (!(s = mvms_db_stmt(st->db, "SELECT count(*), min(started_at) FROM leases WHERE expires_at > ?")))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*live = (uint64_t)sqlite3_column_int64(s, 0);
		*oldest = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		error = mvms_db_error(st->db, rc, "leases");
	else
		error = mvms_lease__bucket_oldest(oldest, live, expired, st, now, reap);
done:
	return error;
}

/*
 * gc and the writers of one machine. A push that reused a chunk of an old unused pack fails
 * at commit when a gc removes that pack meanwhile, and starts over once. gc drops content
 * rows first and pack rows later in the same run, so a push that starts over while that gc
 * still runs can reuse a chunk the gc is about to drop and fail again. gc therefore holds
 * gc.lock in the store directory while it runs, and a writer that lost a chunk waits for it
 * before it answers or starts over: by then the garbage that gc saw is gone, and the second
 * try cannot pick it up. A gc through another database on the same bucket is not seen
 * here; its conflicts are still caught at commit, as before.
 */
#define GC_WAIT_MAX 120.0 /* seconds; a writer gives up waiting and tries anyway */

int mvms_lease__gc_begin(mvms_store *st)
{
	char *path = mvms_store__file(st, "gc.lock");
	int fd = -1;

	if (!path)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	/* A store this user cannot write (a dry run's) has nothing to guard. */
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	return fd;
}

void mvms_lease__gc_end(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

void mvms_lease__gc_wait(mvms_store *st)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char *path = mvms_store__file(st, "gc.lock");
	double t0 = mvms_now();
	int fd;

	if (!path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return; /* no gc ever ran here */
	/* Polled, not blocking: a gc of hours must not hold a server's thread for hours. */
	while (flock(fd, LOCK_SH | LOCK_NB) < 0 && (errno == EWOULDBLOCK || errno == EINTR) &&
	       mvms_now() - t0 < GC_WAIT_MAX)
		nanosleep(&pause, NULL);
	close(fd);
}
