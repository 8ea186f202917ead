/* SPDX-License-Identifier: MIT */
/*
 * The tar reader of one-request directory uploads (tar.c). It stands alone (libc only), so
 * the unit test and the fuzz target compile tar.c without the rest of the server.
 */
#ifndef SRV_TAR_H
#define SRV_TAR_H

#include <stddef.h>

/** Extracts a tar held in memory into the empty directory @dir; -1 with @err set (one line)
 * for anything but plain files and directories inside @dir. 0 on success. */
int srv_tar_extract(const unsigned char *data, size_t len, const char *dir, char *err,
		    size_t errlen);

#endif
