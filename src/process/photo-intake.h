/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/frame-ring.h"
#include "process/image-processor.h"

struct mailbox;

/* Photo intake: takes photo bursts as frame references from the rings of photo outputs,
 * turns them into planes and stores them in image processors on one thread shared by every
 * source (writing and syncing a 1080p burst takes a few hundred ms; the event loop must not
 * wait), one burst at a time, in submission order. Completion comes back on the loop thread
 * through the mailbox, to the request's done callback.
 *
 * Memory is bounded however many bursts are submitted: only the burst being stored has
 * planes (mmap'd, so they go back to the system at once), and bursts waiting for the store
 * hold at most PHOTO_INTAKE_PINNED_MAX frames between them. A burst within that budget takes
 * its frames (refs, no copy) when submitted; one past it is parked and takes the newest
 * frames of its ring when the store has room, or when photo_intake_take_frames() says so
 * (its session stops). None is refused for being one too many. The thread exits when idle.
 *
 * Every function is for the loop thread (the one that dispatches the mailbox). */

/* Frames that waiting bursts may hold between them, counting a frame shared by consecutive
 * bursts of one source once (an upper bound of the distinct frames). The ring holds
 * FRAME_RING_MAX frames anyway, and bursts submitted within a fraction of a second share
 * them, so such a flood stays within this and every burst keeps the frames of its moment.
 * At 1080p YUYV this is 96 MB of frames at most, half of which the ring holds regardless. */
#define PHOTO_INTAKE_PINNED_MAX (FRAME_RING_MAX + FRAME_RING_MAX / 2)

struct photo_intake;
struct photo_intake_source;

struct photo_intake_result {
        int error;          /* 0, or a negative errno */
        const char *what;   /* on error: what failed ("cannot store the photo", …) */
        const char *id;     /* on success: the new image id */
        size_t n_frames;    /* frames the burst had */
        bool detached;      /* its source was freed before the burst was done */
        double split_ms, store_ms;
};

/* Called once per accepted request, on the loop thread: from the mailbox when the burst is
 * stored (or its store failed), or from inside photo_intake_take_frames(),
 * photo_intake_source_free() and later admissions when its frames could not be taken. */
typedef void (*photo_intake_done_fn)(const struct photo_intake_result *r, void *userdata);

/* The store step, on the intake thread. image_processor_add() unless a test says otherwise. */
typedef int (*photo_intake_store_fn)(struct image_processor *images, const struct image_burst *burst,
                                     char ret_id[static IMAGE_ID_LEN + 1]);

struct photo_intake_request {
        struct image_processor *images; /* must outlive the burst (see source_free) */
        size_t burst;                   /* 1..FRAME_RING_MAX: the newest frames of the ring */
        uint32_t quality;
        bool deferred;
        const char *camera_make, *camera_model; /* copied; NULL = "" */
        photo_intake_done_fn done;
        void *userdata;
};

/* store NULL = image_processor_add. Bursts are answered through mailbox. */
int photo_intake_new(struct mailbox *mailbox, photo_intake_store_fn store, struct photo_intake **ret);
/* Every source must be freed first; joins the thread. Dispatch the mailbox before this: the
 * letters of bursts stored already refer to the intake. */
struct photo_intake *photo_intake_free(struct photo_intake *in);

/* A photo output: bursts are taken from ring, which must outlive the source. */
int photo_intake_source_new(struct photo_intake *in, struct frame_ring *ring,
                            struct photo_intake_source **ret);
/* The output is going away: its parked bursts take their frames, then this waits until all
 * of its bursts are stored (the thread works through them in order; a long backlog makes
 * this take that long). Their done callbacks still come through the mailbox, with
 * `detached` set. */
struct photo_intake_source *photo_intake_source_free(struct photo_intake_source *src);

/* Takes the newest req->burst frames of src's ring (which must hold a frame) now or later,
 * as above. 0: taken now; 1: parked until the budget has room; either way req->done will
 * be called once. < 0: it will not (nothing was queued). */
int photo_intake_submit(struct photo_intake_source *src, const struct photo_intake_request *req);

/* Before src's ring is cleared (Stop, a restart): its parked bursts take their frames now,
 * whatever the budget, so that they are not lost with the ring. */
void photo_intake_take_frames(struct photo_intake_source *src);

/* Frames held by waiting bursts (an upper bound), for logs and tests. */
unsigned photo_intake_pinned(const struct photo_intake *in);
