/* SPDX-License-Identifier: MIT */
/*
 * The HTTP transport of a store handle (client.c fills the transport table of
 * meta/transport.h): shared pieces of its modules, client_read.c (models, versions, refs,
 * the DAG, deployments read), client_write.c (what changes refs and deployments),
 * client_admin.c (statistics, verify, gc, tokens).
 */
#ifndef MVMS_CLIENT_INT_H
#define MVMS_CLIENT_INT_H

#include <cjson/cJSON.h>
#include "store_int.h"
#include "transport.h"
#include "remote_int.h"
#include "wire.h"

/*
 * Builds a request path from @fmt: "%s" inserts its argument percent-encoded (a path segment
 * or a query value), "%R" inserts it as is, "%L" an int64_t in decimal. *out is free()d.
 */
int mvms_client__path(char **out, const char *fmt, ...);

/*
 * One call of the server's JSON API: @method on @path (mvms_client__path's), with @body
 * (NULL: none) sent as JSON; the reply parsed into *out (NULL: read and dropped). An error
 * reply becomes the MVMS_E* its code names with the server's message, word for word, and
 * *out is then the error document when it was JSON (else NULL): free it on every path.
 */
int mvms_client__call(cJSON **out, mvms_store *st, const char *method, const char *path,
		      const cJSON *body, const char *what);



/* GET of the path @fmt builds (as mvms_client__path), parsed into *out (as mvms_client__call:
 * free it on every path). */
int mvms_client__get(cJSON **out, mvms_store *st, const char *what, const char *fmt, ...);

/* The operations of each module, installed by client.c. */
void mvms_client__read_ops(mvms_transport *t);
void mvms_client__write_ops(mvms_transport *t);
void mvms_client__history_ops(mvms_transport *t);   /* client_history.c */
/* client_files.c: ls and reading a file */
void mvms_client__file_ops(mvms_transport *t);
void mvms_client__admin_ops(mvms_transport *t);
void mvms_client__rollout_ops(mvms_transport *t); /* client_rollout.c */

#endif
