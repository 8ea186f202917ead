/* SPDX-License-Identifier: MIT */
/* libmvms: the umbrella header. */
#ifndef MVMS_H
#define MVMS_H
#include "mvms/errors.h"
#include "mvms/oid.h"
#include "mvms/chunker.h"
#include "mvms/backend.h"
#include "mvms/store.h"
#include "mvms/version.h"
#include "mvms/dag.h"
#include "mvms/token.h"
#include "mvms/sync.h"
#include "mvms/remote.h"
#include "mvms/deploy.h"
#include "mvms/gc.h"
#include "mvms/history.h"
#include "mvms/rollout.h"
#endif
