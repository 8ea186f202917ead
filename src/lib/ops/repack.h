/* SPDX-License-Identifier: MIT */
/*
 * gc's pack rewrite (repack.c), run by the sweep (sweep.c) after the contents no version
 * uses are gone.
 */
#ifndef MVMS_REPACK_H
#define MVMS_REPACK_H

#include "store_int.h"
#include "mvms/gc.h"

/* Rewrites every pack written at or before @cutoff that holds both chunks some content uses
 * and chunks none does into a new pack with only the used ones (each record re-read and
 * checked against its id), and drops the old pack's chunk rows, so that the sweep then
 * removes the old pack. Counts into @res (a dry run only counts). */
int mvms_gc__repack(mvms_store *st, const mvms_gc_options *o, int64_t cutoff,
		    mvms_gc_result *res);

#endif
