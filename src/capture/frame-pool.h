/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "capture/frame.h"

/* Recycles frames of one format so a capture thread does not malloc (and page-fault in)
 * megabytes per frame. Frames handed out return to the pool when their last ref goes,
 * from any thread. The pool lives until its owner freed it and every frame came back. */
struct frame_pool;

/* max_idle: how many returned frames are kept for reuse; more are freed. */
int frame_pool_new(uint32_t fourcc, unsigned width, unsigned height, unsigned max_idle,
                   struct frame_pool **ret);

/* A frame with n_ref 1 (recycled or new); NULL on OOM. Contents are stale. */
struct frame *frame_pool_get(struct frame_pool *p);

/* Drops the owner's hold: idle frames are freed, frames still out free themselves. */
void frame_pool_free(struct frame_pool *p);
