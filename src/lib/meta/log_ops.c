/* SPDX-License-Identifier: MIT */
/*
 * The store log's row changes (docs/formats.md, "The log"): for each table the bucket must
 * hold, how a change of one of its rows is written into a log entry (a JSON object built by
 * a temporary trigger, or by the snapshot of an older store) and how another database
 * applies it (one statement reading the object with json_extract). Rows are named by their
 * stable ids (model uid, version id, content id, token id), never by row ids, which differ
 * from one database to the next. This file is the one place a new column is added to a
 * logged row: its capture expression and its apply statement. Packs and chunks are not
 * logged: they are read from the bucket (log.c). It does not write or read log entries.
 */
#include <string.h>
#include "log_int.h"

#define J(f) "json_extract(?1,'$." f "')"
#define MODEL_UID(col) "(SELECT uid FROM models WHERE id = " col ")"
#define VERSION_OID(col) "(SELECT oid FROM versions WHERE id = " col ")"
#define CONTENT_HEX(col) "(SELECT lower(hex(oid)) FROM contents WHERE id = " col ")"
#define MODEL_ROW "(SELECT id FROM models WHERE uid = " J("model") ")"
#define VERSION_ROW(f) "(SELECT id FROM versions WHERE oid = " J(f) ")"

/* "R." in an insert's capture is NEW. in its trigger and the table in a snapshot. */
const mvms_log_spec mvms_log__specs[] = {
	{ "model+", "models", "INSERT", "id",
	  "json_object('t','model+','uid',R.uid,'name',R.name,'description',R.description,"
	  "'created_at',R.created_at,'default_branch',R.default_branch)",
	  "INSERT INTO models(uid, name, description, created_at, default_branch) VALUES ("
	  J("uid") "," J("name") "," J("description") "," J("created_at") ","
	  J("default_branch") ")" },
	{ "model=", "models", "UPDATE", NULL,
	  "json_object('t','model=','uid',OLD.uid,'name',NEW.name,'description',NEW.description,"
	  "'default_branch',NEW.default_branch)",
	  "UPDATE models SET name = " J("name") ", description = " J("description")
	  ", default_branch = " J("default_branch") " WHERE uid = " J("uid") },
	{ "model-", "models", "DELETE", NULL, "json_object('t','model-','uid',OLD.uid)",
	  "DELETE FROM models WHERE uid = " J("uid") },

	{ "version+", "versions", "INSERT", "id",
	  "json_object('t','version+','oid',R.oid,'model'," MODEL_UID("R.model_id") ","
	  "'number',R.number,'message',R.message,'author',R.author,'created_at',R.created_at,"
	  "'file_count',R.file_count,'logical_bytes',R.logical_bytes,'deleted_at',R.deleted_at,"
	  "'deleted_by',R.deleted_by)",
	  "INSERT INTO versions(oid, model_id, number, message, author, created_at, file_count, "
	  "logical_bytes, deleted_at, deleted_by) SELECT " J("oid") ", m.id," J("number") ","
	  J("message") "," J("author") "," J("created_at") "," J("file_count") ","
	  J("logical_bytes") "," J("deleted_at") "," J("deleted_by") " FROM models m WHERE m.uid = "
	  J("model") },
	{ "version=", "versions", "UPDATE OF number, message, deleted_at, deleted_by", NULL,
	  "json_object('t','version=','oid',NEW.oid,'number',NEW.number,'message',NEW.message,"
	  "'deleted_at',NEW.deleted_at,'deleted_by',NEW.deleted_by)",
	  "UPDATE versions SET number = " J("number") ", message = " J("message")
	  ", deleted_at = " J("deleted_at") ", deleted_by = " J("deleted_by")
	  " WHERE oid = " J("oid") },
	{ "version-", "versions", "DELETE", NULL, "json_object('t','version-','oid',OLD.oid)",
	  "DELETE FROM versions WHERE oid = " J("oid") },

	/* Level 14: where a content's chunk list is in a list pack; written before its
	 * contents row, so a catch-up applying "content+" finds it (log.c). */
	{ "clist+", "content_lists", "INSERT", "pack, offset",
	  "json_object('t','clist+','oid',lower(hex(R.oid)),'pack',lower(hex(R.pack)),"
	  "'offset',R.offset)",
	  "INSERT INTO content_lists(oid, pack, offset) VALUES (mvms_unhex(" J("oid") "),"
	  "mvms_unhex(" J("pack") ")," J("offset") ")" },
	{ "clist-", "content_lists", "DELETE", NULL,
	  "json_object('t','clist-','oid',lower(hex(OLD.oid)))",
	  "DELETE FROM content_lists WHERE oid = mvms_unhex(" J("oid") ")" },
	{ "content+", "contents", "INSERT", "id",
	  "json_object('t','content+','oid',lower(hex(R.oid)),'size',R.size,'chunk_count',R.chunk_count,"
	  "'format',R.format,'created_at',R.created_at)",
	  "INSERT INTO contents(oid, size, chunk_count, format, created_at) VALUES (mvms_unhex("
	  J("oid") ")," J("size") "," J("chunk_count") "," J("format") "," J("created_at") ")" },
	{ "content-", "contents", "DELETE", NULL,
	  "json_object('t','content-','oid',lower(hex(OLD.oid)))",
	  "DELETE FROM contents WHERE oid = mvms_unhex(" J("oid") ")" },
	{ "tensor+", "tensors", "INSERT", "content_id, name",
	  "json_object('t','tensor+','content'," CONTENT_HEX("R.content_id") ",'name',R.name,"
	  "'dtype',R.dtype,'shape',R.shape,'offset',R.offset,'length',R.length,'oid',lower(hex(R.oid)))",
	  "INSERT INTO tensors(content_id, name, dtype, shape, offset, length, oid) SELECT c.id,"
	  J("name") "," J("dtype") "," J("shape") "," J("offset") "," J("length") ",mvms_unhex("
	  J("oid") ") FROM contents c WHERE c.oid = mvms_unhex(" J("content") ")" },

	{ "parent+", "version_parents", "INSERT", "child, position",
	  "json_object('t','parent+','child'," VERSION_OID("R.child") ",'position',R.position,"
	  "'parent'," VERSION_OID("R.parent") ")",
	  "INSERT INTO version_parents(child, position, parent) SELECT c.id," J("position")
	  ", p.id FROM versions c, versions p WHERE c.oid = " J("child") " AND p.oid = "
	  J("parent") },
	{ "parent-", "version_parents", "DELETE", NULL,
	  "json_object('t','parent-','child'," VERSION_OID("OLD.child") ",'position',OLD.position)",
	  "DELETE FROM version_parents WHERE child = " VERSION_ROW("child") " AND position = "
	  J("position") },
	{ "meta+", "version_meta", "INSERT", "version_id, key",
	  "json_object('t','meta+','version'," VERSION_OID("R.version_id") ",'key',R.key,"
	  "'value',R.value)",
	  "INSERT INTO version_meta(version_id, key, value) SELECT v.id," J("key") "," J("value")
	  " FROM versions v WHERE v.oid = " J("version") },
	{ "meta-", "version_meta", "DELETE", NULL,
	  "json_object('t','meta-','version'," VERSION_OID("OLD.version_id") ",'key',OLD.key)",
	  "DELETE FROM version_meta WHERE version_id = " VERSION_ROW("version") " AND key = "
	  J("key") },
	{ "file+", "files", "INSERT", "version_id, path",
	  "json_object('t','file+','version'," VERSION_OID("R.version_id") ",'path',R.path,"
	  "'mode',R.mode,'content'," CONTENT_HEX("R.content_id") ")",
	  "INSERT INTO files(version_id, path, mode, content_id) SELECT v.id," J("path") ","
	  J("mode") ", c.id FROM versions v, contents c WHERE v.oid = " J("version")
	  " AND c.oid = mvms_unhex(" J("content") ")" },
	{ "file-", "files", "DELETE", NULL,
	  "json_object('t','file-','version'," VERSION_OID("OLD.version_id") ",'path',OLD.path)",
	  "DELETE FROM files WHERE version_id = " VERSION_ROW("version") " AND path = " J("path") },

	{ "branch+", "branches", "INSERT", "model_id, name",
	  "json_object('t','branch+','model'," MODEL_UID("R.model_id") ",'name',R.name,"
	  "'version'," VERSION_OID("R.version_id") ",'updated_at',R.updated_at)",
	  "INSERT INTO branches(model_id, name, version_id, updated_at) SELECT m.id," J("name")
	  ", v.id," J("updated_at") " FROM models m, versions v WHERE m.uid = " J("model")
	  " AND v.oid = " J("version") },
	{ "branch=", "branches", "UPDATE", NULL,
	  "json_object('t','branch=','model'," MODEL_UID("OLD.model_id") ",'old',OLD.name,"
	  "'name',NEW.name,'version'," VERSION_OID("NEW.version_id") ",'updated_at',NEW.updated_at)",
	  "UPDATE branches SET name = " J("name") ", version_id = " VERSION_ROW("version")
	  ", updated_at = " J("updated_at") " WHERE model_id = " MODEL_ROW " AND name = " J("old") },
	{ "branch-", "branches", "DELETE", NULL,
	  "json_object('t','branch-','model'," MODEL_UID("OLD.model_id") ",'name',OLD.name)",
	  "DELETE FROM branches WHERE model_id = " MODEL_ROW " AND name = " J("name") },
	{ "tag+", "tags", "INSERT", "model_id, name",
	  "json_object('t','tag+','model'," MODEL_UID("R.model_id") ",'name',R.name,"
	  "'version'," VERSION_OID("R.version_id") ",'created_at',R.created_at)",
	  "INSERT INTO tags(model_id, name, version_id, created_at) SELECT m.id," J("name")
	  ", v.id," J("created_at") " FROM models m, versions v WHERE m.uid = " J("model")
	  " AND v.oid = " J("version") },
	{ "tag=", "tags", "UPDATE", NULL,
	  "json_object('t','tag=','model'," MODEL_UID("OLD.model_id") ",'old',OLD.name,"
	  "'name',NEW.name,'version'," VERSION_OID("NEW.version_id") ",'created_at',NEW.created_at)",
	  "UPDATE tags SET name = " J("name") ", version_id = " VERSION_ROW("version")
	  ", created_at = " J("created_at") " WHERE model_id = " MODEL_ROW " AND name = " J("old") },
	{ "tag-", "tags", "DELETE", NULL,
	  "json_object('t','tag-','model'," MODEL_UID("OLD.model_id") ",'name',OLD.name)",
	  "DELETE FROM tags WHERE model_id = " MODEL_ROW " AND name = " J("name") },

	/* The one serialisation of a deployment revision and of its targets. */
	{ "deprev+", "deployment_revisions", "INSERT", "model_id, env, revision",
	  "json_object('t','deprev+','model'," MODEL_UID("R.model_id") ",'env',R.env,"
	  "'revision',R.revision,'action',R.action,'from_revision',R.from_revision,"
	  "'author',R.author,'reason',R.reason,'created_at',R.created_at)",
	  "INSERT INTO deployment_revisions(model_id, env, revision, action, from_revision, author, "
	  "reason, created_at) SELECT m.id," J("env") "," J("revision") "," J("action") ","
	  J("from_revision") "," J("author") "," J("reason") "," J("created_at")
	  " FROM models m WHERE m.uid = " J("model") },
	{ "deprev-", "deployment_revisions", "DELETE", NULL,
	  "json_object('t','deprev-','model'," MODEL_UID("OLD.model_id") ",'env',OLD.env,"
	  "'revision',OLD.revision)",
	  "DELETE FROM deployment_revisions WHERE model_id = " MODEL_ROW " AND env = " J("env")
	  " AND revision = " J("revision") },
	{ "deptgt+", "deployment_targets", "INSERT", "model_id, env, revision, version_id",
	  "json_object('t','deptgt+','model'," MODEL_UID("R.model_id") ",'env',R.env,"
	  "'revision',R.revision,'version'," VERSION_OID("R.version_id") ",'weight',R.weight,"
	  "'endpoint',R.endpoint)",
	  "INSERT INTO deployment_targets(model_id, env, revision, version_id, weight, endpoint) "
	  "SELECT m.id," J("env") "," J("revision") ", v.id," J("weight") "," J("endpoint")
	  " FROM models m, versions v WHERE m.uid = " J("model") " AND v.oid = " J("version") },
	{ "deptgt-", "deployment_targets", "DELETE", NULL,
	  "json_object('t','deptgt-','model'," MODEL_UID("OLD.model_id") ",'env',OLD.env,"
	  "'revision',OLD.revision,'version'," VERSION_OID("OLD.version_id") ")",
	  "DELETE FROM deployment_targets WHERE model_id = " MODEL_ROW " AND env = " J("env")
	  " AND revision = " J("revision") " AND version_id = " VERSION_ROW("version") },

	/* A revision's shadow and an environment's forwarding settings (schema 012). */
	{ "depshadow+", "deployment_shadows", "INSERT", "model_id, env, revision",
	  "json_object('t','depshadow+','model'," MODEL_UID("R.model_id") ",'env',R.env,"
	  "'revision',R.revision,'version'," VERSION_OID("R.version_id") ",'percent',R.percent,"
	  "'endpoint',R.endpoint,'compare',R.compare)",
	  "INSERT INTO deployment_shadows(model_id, env, revision, version_id, percent, endpoint, "
	  "compare) SELECT m.id," J("env") "," J("revision") ", v.id," J("percent") ","
	  J("endpoint") "," J("compare") " FROM models m, versions v WHERE m.uid = " J("model")
	  " AND v.oid = " J("version") },
	{ "depshadow-", "deployment_shadows", "DELETE", NULL,
	  "json_object('t','depshadow-','model'," MODEL_UID("OLD.model_id") ",'env',OLD.env,"
	  "'revision',OLD.revision)",
	  "DELETE FROM deployment_shadows WHERE model_id = " MODEL_ROW " AND env = " J("env")
	  " AND revision = " J("revision") },
	{ "envset+", "env_settings", "INSERT", "model_id, env",
	  "json_object('t','envset+','model'," MODEL_UID("R.model_id") ",'env',R.env,"
	  "'timeout_ms',R.timeout_ms,'retries',R.retries)",
	  "INSERT INTO env_settings(model_id, env, timeout_ms, retries) SELECT m.id," J("env") ","
	  J("timeout_ms") "," J("retries") " FROM models m WHERE m.uid = " J("model") },
	{ "envset=", "env_settings", "UPDATE", NULL,
	  "json_object('t','envset=','model'," MODEL_UID("NEW.model_id") ",'env',NEW.env,"
	  "'timeout_ms',NEW.timeout_ms,'retries',NEW.retries)",
	  "UPDATE env_settings SET timeout_ms = " J("timeout_ms") ", retries = " J("retries")
	  " WHERE model_id = " MODEL_ROW " AND env = " J("env") },
	{ "envset-", "env_settings", "DELETE", NULL,
	  "json_object('t','envset-','model'," MODEL_UID("OLD.model_id") ",'env',OLD.env)",
	  "DELETE FROM env_settings WHERE model_id = " MODEL_ROW " AND env = " J("env") },

	/* A progressive rollout (schema 009), named by (model, env, base_revision): the revision
	 * it started from is one per rollout of an environment (revisions only grow, and a
	 * rollout whose first step failed is deleted), where its id is a row id. The row goes
	 * whole, so any server sees every rollout and may drive it: a step is a deploy that
	 * expects the revision the rollout last wrote (a compare-and-swap on the environment),
	 * so two servers never take one step twice. Its mark is the stepping server's counters.
	 * version_stats (a server's /predict counters, read by its guards) and rollout_events (a
	 * server's notification outbox: a notification is sent once, by the server whose change
	 * it tells of) are not logged: they stay with their database, and reindex keeps them. */
	{ "roll+", "rollouts", "INSERT", "id",
	  "json_object('t','roll+','model'," MODEL_UID("R.model_id") ",'env',R.env,"
	  "'version'," VERSION_OID("R.version_id") ",'state',R.state,'steps',R.steps,"
	  "'step',R.step,'step_interval_ms',R.step_interval_ms,'max_error_rate',R.max_error_rate,"
	  "'max_p95_ms',R.max_p95_ms,'min_requests',R.min_requests,"
	  "'compare_baseline',R.compare_baseline,'notify',R.notify,"
	  "'base_revision',R.base_revision,'revision',R.revision,"
	  "'step_started_ms',R.step_started_ms,'mark',R.mark,'reason',R.reason,'author',R.author,"
	  "'created_at',R.created_at,'updated_at',R.updated_at,'shadow_first',R.shadow_first,"
	  "'max_diff_rate',R.max_diff_rate,'shadowing',R.shadowing)",
	  "INSERT INTO rollouts(model_id, env, version_id, state, steps, step, step_interval_ms, "
	  "max_error_rate, max_p95_ms, min_requests, compare_baseline, notify, base_revision, "
	  "revision, step_started_ms, mark, reason, author, created_at, updated_at, shadow_first, "
	  "max_diff_rate, shadowing) SELECT m.id,"
	  J("env") ", v.id," J("state") "," J("steps") "," J("step") "," J("step_interval_ms") ","
	  J("max_error_rate") "," J("max_p95_ms") "," J("min_requests") "," J("compare_baseline")
	  "," J("notify") "," J("base_revision") "," J("revision") "," J("step_started_ms") ","
	  J("mark") "," J("reason") "," J("author") "," J("created_at") "," J("updated_at")
	  /* schema 013's shadow phase; entries written before it have none */
	  ",coalesce(" J("shadow_first") ",0),coalesce(" J("max_diff_rate") ",-1),coalesce("
	  J("shadowing") ",0) FROM models m, versions v WHERE m.uid = " J("model")
	  " AND v.oid = " J("version") },
	{ "roll=", "rollouts", "UPDATE", NULL,
	  "json_object('t','roll=','model'," MODEL_UID("OLD.model_id") ",'env',OLD.env,"
	  "'base_revision',OLD.base_revision,'state',NEW.state,'step',NEW.step,"
	  "'revision',NEW.revision,'step_started_ms',NEW.step_started_ms,'mark',NEW.mark,"
	  "'reason',NEW.reason,'updated_at',NEW.updated_at,'shadowing',NEW.shadowing)",
	  "UPDATE rollouts SET state = " J("state") ", step = " J("step") ", revision = "
	  J("revision") ", step_started_ms = " J("step_started_ms") ", mark = " J("mark")
	  ", reason = " J("reason") ", updated_at = " J("updated_at") ", shadowing = coalesce("
	  J("shadowing") ", shadowing) WHERE model_id = "
	  MODEL_ROW " AND env = " J("env") " AND base_revision = " J("base_revision") },
	{ "roll-", "rollouts", "DELETE", NULL,
	  "json_object('t','roll-','model'," MODEL_UID("OLD.model_id") ",'env',OLD.env,"
	  "'base_revision',OLD.base_revision)",
	  "DELETE FROM rollouts WHERE model_id = " MODEL_ROW " AND env = " J("env")
	  " AND base_revision = " J("base_revision") },

	/* The one serialisation of a token: its hash, never a secret. */
	{ "token+", "tokens", "INSERT", "id",
	  "json_object('t','token+','id',R.id,'hash',lower(hex(R.hash)),'scope',R.scope,'models',R.models,"
	  "'description',R.description,'created_at',R.created_at,'expires_at',R.expires_at,"
	  "'revoked_at',R.revoked_at)",
	  "INSERT INTO tokens(id, hash, scope, models, description, created_at, expires_at, "
	  "revoked_at) VALUES (" J("id") ", mvms_unhex(" J("hash") ")," J("scope") "," J("models")
	  "," J("description") "," J("created_at") "," J("expires_at") "," J("revoked_at") ")" },
	{ "token=", "tokens", "UPDATE", NULL,
	  "json_object('t','token=','id',NEW.id,'scope',NEW.scope,'models',NEW.models,"
	  "'description',NEW.description,'expires_at',NEW.expires_at,'revoked_at',NEW.revoked_at)",
	  "UPDATE tokens SET scope = " J("scope") ", models = " J("models") ", description = "
	  J("description") ", expires_at = " J("expires_at") ", revoked_at = " J("revoked_at")
	  " WHERE id = " J("id") },
	{ "token-", "tokens", "DELETE", NULL, "json_object('t','token-','id',OLD.id)",
	  "DELETE FROM tokens WHERE id = " J("id") },

	/* Signed releases: a signature's index row (its object is in the bucket by then) and
	 * the keys an environment requires. A model's deletion takes its signature rows by
	 * ON DELETE CASCADE here and where the entry is applied alike. */
	{ "sig+", "signatures", "INSERT", "object",
	  "json_object('t','sig+','object',R.object,'version'," VERSION_OID("R.version_id") ","
	  "'key_id',R.key_id,'public_key',R.public_key,'statement',R.statement,"
	  "'signed_at',R.signed_at,'created_at',R.created_at)",
	  "INSERT OR IGNORE INTO signatures(object, version_id, key_id, public_key, statement, "
	  "signed_at, created_at) SELECT " J("object") ", v.id," J("key_id") "," J("public_key")
	  "," J("statement") "," J("signed_at") "," J("created_at") " FROM versions v WHERE v.oid = "
	  J("version") },
	{ "sig-", "signatures", "DELETE", NULL, "json_object('t','sig-','object',OLD.object)",
	  "DELETE FROM signatures WHERE object = " J("object") },
	{ "envpol+", "env_policies", "INSERT", "env, public_key",
	  "json_object('t','envpol+','env',R.env,'public_key',R.public_key,'key_id',R.key_id,"
	  "'created_at',R.created_at)",
	  "INSERT OR IGNORE INTO env_policies(env, public_key, key_id, created_at) VALUES ("
	  J("env") "," J("public_key") "," J("key_id") "," J("created_at") ")" },
	{ "envpol-", "env_policies", "DELETE", NULL,
	  "json_object('t','envpol-','env',OLD.env,'public_key',OLD.public_key)",
	  "DELETE FROM env_policies WHERE env = " J("env") " AND public_key = " J("public_key") },

	/* Packs changed (gc's rewrites and removals): others read the bucket's packs again. */
	{ "packs", "chunks", "UPDATE OF pack_id", NULL, "json_object('t','packs')", NULL },
	{ "packs", "packs", "DELETE", NULL, "json_object('t','packs')", NULL },
};

const size_t mvms_log__nspecs = sizeof(mvms_log__specs) / sizeof(mvms_log__specs[0]);

const mvms_log_spec *mvms_log__spec(const char *t)
{
	size_t i;

	for (i = 0; t && i < mvms_log__nspecs; i++)
		if (strcmp(mvms_log__specs[i].t, t) == 0)
			return &mvms_log__specs[i];
	return NULL;
}
