/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

struct output;
struct image_processor;

#define PHOTO_INTERFACE CAMERAD_IFACE_PHOTO

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
 * must outlive the job: photo_jobs_detach() waits for o's jobs before an output goes, and
 * the manager releases sessions before the user contexts. */
int photo_job_start(struct output *o, sd_bus_message *m, struct image_processor *images,
                    size_t burst, uint32_t quality, bool deferred);

/* Loop thread, before o's ring is cleared (Stop, a restart): its parked calls take their
 * frames now, whatever the budget, so that they are not lost with the ring. */
void photo_jobs_take_frames(struct output *o);

/* The output is going away: its parked calls take their frames, then this waits until all
 * of its bursts are stored (the store works through them in order; a long backlog makes
 * this take that long, as the threads it replaces did). Their replies still go out when the
 * mailbox delivers them; PhotoAvailable is then not emitted (the object is gone). */
void photo_jobs_detach(struct output *o);
