/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

struct output;
struct frame;
struct image_processor;

#define PHOTO_INTERFACE "org.camerad.Camera1.PhotoOutput"

/* Stores a Capture burst in the caller's image processor on a thread of its own (writing
 * and syncing a 1080p burst takes a few hundred ms; the event loop must not wait), then,
 * back on the loop thread through the mailbox, replies to m with the image id (or
 * ServiceFatal) and emits PhotoAvailable on the output.
 *
 * Takes over the refs of frames[0..n) (oldest first) in every case. images must outlive
 * the job: photo_jobs_detach() joins the threads before an output goes, and the manager
 * releases sessions before the user contexts. */
int photo_job_start(struct output *o, sd_bus_message *m, struct image_processor *images,
                    struct frame **frames, size_t n, uint32_t quality, bool deferred);

/* The output is going away: waits for its jobs' threads. Their replies still go out when
 * the mailbox delivers them; PhotoAvailable is then not emitted (the object is gone). */
void photo_jobs_detach(struct output *o);
