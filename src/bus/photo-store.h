/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

struct output;
struct image_processor;

#define PHOTO_INTERFACE "org.camerad.Camera1.PhotoOutput"

/* Stores Capture bursts in the callers' image processors on one store thread shared by every
 * output (writing and syncing a 1080p burst takes a few hundred ms; the event loop must not
 * wait), one burst at a time, in call order. Back on the loop thread through the mailbox it
 * replies to each call with the image id (or ServiceFatal) and emits PhotoAvailable.
 *
 * Memory is bounded however many calls a client pipelines: only the burst being stored has
 * planes (mmap'd, so they go back to the system at once), and calls waiting for the store
 * hold at most PHOTO_PINNED_FRAMES_MAX frames (photo-store.c) between them. A call within
 * that budget takes its burst (frame refs, no copy) when it is made; a call past it is parked
 * and takes the newest frames when the store has room, or when its session stops. No call is
 * refused for being one too many. The store thread exits when idle. */

/* Loop thread. Takes the newest `burst` frames of o's ring (which must hold a frame) now or
 * later, as above. On success the call is answered later (return 1 from the handler). images
 * must outlive the job: the manager calls photo_store_drain() before it frees the user
 * contexts. */
int photo_job_start(struct output *o, sd_bus_message *m, struct image_processor *images,
                    size_t burst, uint32_t quality, bool deferred);

/* Loop thread, before o's ring is cleared (Stop, a restart): its parked calls take their
 * frames now, whatever the budget, so that they are not lost with the ring. */
void photo_jobs_take_frames(struct output *o);

/* The output is going away: its parked calls take their frames, and all of its jobs go on
 * without it (returns at once, whatever the backlog). Each burst is still stored and its
 * call answered when the mailbox delivers the letter; PhotoAvailable is then not emitted
 * (the object is gone). */
void photo_jobs_detach(struct output *o);

/* At exit, after every session was released and before the image processors go: waits
 * until the store thread has stored every queued burst and left (crash safety: no burst a
 * Capture took is lost). Their letters are then in the mailbox. */
void photo_store_drain(void);
