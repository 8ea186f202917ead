/* SPDX-License-Identifier: MIT */
/*
 * A backend that wraps another and injects faults, for tests: the Nth write fails (I/O
 * error or "no space left on device"), reads come back short, removes fail, every call is
 * slowed, and every call is counted. Private to libmvms and its tests; a store takes one
 * with mvms_store__set_backend (meta/store_int.h).
 */
#ifndef MVMS_BACKEND_FAULT_H
#define MVMS_BACKEND_FAULT_H

#include <stdint.h>
#include "mvms/backend.h"

/* Which calls of one kind fail: from the @nth (1: the first call made after the rules were
 * set) on, @count of them (0: every later one). nth 0: none. */
typedef struct mvms_fault_rule {
	unsigned nth;
	unsigned count;
} mvms_fault_rule;

typedef struct mvms_fault_options {
	mvms_fault_rule write;  /* writer_write and writer_commit, counted together */
	int write_enospc;       /* write failures say "No space left on device" (else "I/O error") */
	mvms_fault_rule get;    /* get fails as on a short object: MVMS_ERROR, nothing read */
	mvms_fault_rule remove; /* remove fails with an I/O error, nothing removed */
	unsigned sleep_ms;      /* every call sleeps this long first (slow storage) */
} mvms_fault_options;

typedef struct mvms_fault_counts {
	uint64_t writer_open, writer_write, writer_commit, writer_abort;
	uint64_t get, stat, stat_time, list, scan, remove, open_fd;
	uint64_t injected;      /* failures injected so far */
	uint64_t put_if_absent; /* log entries (never failed: the write rules count writers) */
} mvms_fault_counts;

/**
 * A fault backend over @inner, which stays the caller's (it must outlive the fault backend;
 * freeing the fault backend does not free it). Named "fault"; the same capabilities and
 * optional calls as @inner. @opts may be NULL (no faults: only counts).
 */
int mvms_fault__backend(mvms_backend **out, mvms_backend *inner, const mvms_fault_options *opts);
/** New rules (NULL: none); the counts that the rules' nth refer to start again. */
void mvms_fault__set(mvms_backend *be, const mvms_fault_options *opts);
/** The calls made so far (since creation; mvms_fault__set does not reset them). */
void mvms_fault__counts(mvms_fault_counts *out, mvms_backend *be);

#endif
