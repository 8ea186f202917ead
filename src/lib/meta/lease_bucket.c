/* SPDX-License-Identifier: MIT */
/*
 * Leases that every gc sees, whichever database it runs on: with the store's log (several
 * databases on one bucket), each lease is also an object `leases/<id>` in the bucket,
 * written when it is taken and renewed, removed when it is released. gc counts the live
 * ones there with its own (docs/formats.md, "Garbage collection and leases"): a lease in the
 * bucket holds gc back until LEASE_SKEW seconds after its expiry by the holder's clock, so
 * clocks that disagree by less than that never let a gc remove what a push on another
 * machine is about to reference. It does not decide the cutoff (ops/gc.c, sweep.c do).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_int.h"
#include "mvms/backend.h"

/* Clock skew tolerated between machines sharing a bucket (seconds); the same margin gc
 * already takes against a bucket's LastModified times. A local directory is shared by
 * processes of one machine: one clock. */
#define LEASE_SKEW_REMOTE 600

static int64_t skew(mvms_store *st)
{
	return (mvms_backend_caps(st->be) & MVMS_BACKEND_CAP_REMOTE) ? LEASE_SKEW_REMOTE : 0;
}

/* 1 when lease @id is a row of this database (counted there already). */
static int own(mvms_store *st, const char *id)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT 1 FROM leases WHERE id = ?");
	int rc;

	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_ROW;
}

static int published(const mvms_store *st)
{
	return st->log_on;
}

int mvms_lease__publish(mvms_store *st, const char *id, int64_t started, int64_t expires)
{
	char key[64], body[160];
	int n;

	if (!published(st))
		return 0;
	snprintf(key, sizeof(key), "leases/%s", id);
	n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"started_at\":%" PRId64 ",\"expires_at\":%"
		     PRId64 "}\n", id, started, expires);
	return mvms_backend_put(st->be, key, body, (size_t)n);
}

void mvms_lease__unpublish(mvms_store *st, const char *id)
{
	char key[64];

	if (!published(st))
		return;
	snprintf(key, sizeof(key), "leases/%s", id);
	if (mvms_backend_remove(st->be, key) < 0) /* best effort: it expires */
		mvms_error_clear();
}

int mvms_lease__published(mvms_store *st, const char *id)
{
	char key[64];
	uint64_t size;
	int error;

	if (!published(st))
		return 0;
	snprintf(key, sizeof(key), "leases/%s", id);
	if ((error = mvms_backend_stat(&size, st->be, key)) == MVMS_ENOTFOUND)
		return mvms_error_set(MVMS_ECONFLICT, "lease %s is gone from the bucket (a gc on "
				      "another server found it expired): what it protected may be "
				      "gone; nothing was committed: push again", id);
	return error;
}

typedef struct scan_ctx {
	mvms_store *st;
	int64_t now, oldest;
	uint64_t live, expired;
	int reap;
} scan_ctx;

static int scan_lease(const char *key, uint64_t size, void *payload)
{
	scan_ctx *c = payload;
	char buf[256];
	const char *p;
	long long started = 0, expires = 0;

	const char *id = strrchr(key, '/');

	if (size == 0 || size >= sizeof(buf) || !id || own(c->st, id + 1))
		return 0; /* not a lease, or one the database counted */
	if (mvms_backend_get(c->st->be, key, 0, buf, (size_t)size) < 0) {
		mvms_error_clear(); /* released meanwhile */
		return 0;
	}
	buf[size] = '\0';
	if (!(p = strstr(buf, "\"started_at\":")) || sscanf(p + 13, "%lld", &started) != 1 ||
	    !(p = strstr(buf, "\"expires_at\":")) || sscanf(p + 13, "%lld", &expires) != 1)
		return 0;
	if (expires + skew(c->st) > c->now) {
		c->live++;
		if (!c->oldest || started < c->oldest)
			c->oldest = started;
	} else {
		c->expired++;
		if (c->reap && mvms_backend_remove(c->st->be, key) < 0)
			mvms_error_clear();
	}
	return 0;
}

int mvms_lease__bucket_oldest(int64_t *oldest, uint64_t *live, uint64_t *expired,
			      mvms_store *st, int64_t now, int reap)
{
	scan_ctx c;
	int error;

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.now = now;
	c.reap = reap;
	if (!published(st))
		return 0;
	if ((error = mvms_backend_list(st->be, "leases/", scan_lease, &c)) < 0)
		return error;
	/* The holder's clock may run ahead of gc's: its start counts as that much earlier. */
	if (c.oldest && (!*oldest || c.oldest - skew(st) < *oldest))
		*oldest = c.oldest - skew(st);
	*live += c.live;
	if (expired)
		*expired += c.expired;
	return 0;
}
