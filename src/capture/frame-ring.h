/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "capture/frame.h"

/* The newest frames of a running session, kept for photo bursts. The capture thread
 * pushes; any thread takes a snapshot. Frames are held by reference, never copied. */

#define FRAME_RING_MAX 16

struct frame_ring;

/* capacity 1..FRAME_RING_MAX. */
int frame_ring_new(unsigned capacity, struct frame_ring **ret);
struct frame_ring *frame_ring_free(struct frame_ring *r);

/* Takes its own ref to f; the oldest frame falls out when full. */
void frame_ring_push(struct frame_ring *r, struct frame *f);

/* Refs to the newest min(n, held) frames into out, oldest first; returns how many. The
 * caller owns those refs (frame_unref each). */
size_t frame_ring_snapshot(struct frame_ring *r, struct frame **out, size_t n);

size_t frame_ring_count(struct frame_ring *r);

/* Drops every frame (e.g. on Stop, so a stale frame is never taken after a restart). */
void frame_ring_clear(struct frame_ring *r);

static inline void frame_ring_freep(struct frame_ring **r) {
        if (*r)
                frame_ring_free(*r);
}
