/* SPDX-License-Identifier: MIT */
/*
 * Error codes and the thread-local error message of libmvms.
 * Every fallible function returns 0 or one of the negative codes below and leaves a
 * human-readable message ("<subsystem>: <what>: <detail>") for mvms_error_last().
 */
#ifndef MVMS_ERRORS_H
#define MVMS_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Pinned values: never renumber, never reuse a retired number. */
enum mvms_error_code {
	MVMS_OK = 0,
	MVMS_ERROR = -1,          /* generic failure: see the message */
	MVMS_ENOTFOUND = -3,      /* model, version, ref, object or file does not exist */
	MVMS_EEXISTS = -4,        /* the name or object exists already */
	MVMS_EAMBIGUOUS = -5,     /* a ref names more than one version (or kind of ref) */
	MVMS_EBUFS = -6,          /* output buffer too small */
	MVMS_EUSER = -7,          /* a callback asked to stop */
	MVMS_EINVALID = -8,       /* bad argument or malformed input */
	MVMS_ECONFLICT = -9,      /* compare-and-swap lost: a branch head moved */
	MVMS_EMISMATCH = -10,     /* bytes read back do not match their hash */
	MVMS_EAUTH = -11,         /* authentication or authorisation failed */
	MVMS_ETIMEOUT = -12,      /* an operation timed out */
	MVMS_ENOTSUPPORTED = -13, /* not supported by this store or backend */
	MVMS_EMERGE = -14,        /* a merge has conflicts */
	MVMS_EPOLICY = -15,       /* a policy refuses it: an environment needs a signature */
	MVMS_PASSTHROUGH = -30,   /* a backend declines: try the next one */
	MVMS_ITEROVER = -31       /* an iteration has no more items */
};

/**
 * Sets the thread-local error message and returns @p code, so that call sites read
 * `error = mvms_error_set(MVMS_EINVALID, "push: %s: not a regular file", path);`.
 */
int mvms_error_set(int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/** The last message set on this thread; never NULL ("" when none). Borrowed. */
const char *mvms_error_last(void);

/** The code passed with the last message on this thread (0 when none). */
int mvms_error_last_code(void);

/** Forgets the last error, for callers that handle an error and go on. */
void mvms_error_clear(void);

/**
 * The wire name of a code ("not_found", "exists", "conflict", ...): what a JSON error reply
 * carries as "code". Constant; "error" for a code without a name of its own.
 */
const char *mvms_error_name(int code);

/**
 * The code a wire name stands for: mvms_error_name()'s names and the server's other names
 * for the same codes ("store_damaged" is MVMS_EMISMATCH, "gc_conflict" MVMS_ECONFLICT, ...),
 * so a client fails with the code the command gets locally. 0 for a name it does not know
 * (the caller falls back on the HTTP status); MVMS_OK for "ok".
 */
int mvms_error_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
