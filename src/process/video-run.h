/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "media/yuv.h"
#include "process/pool.h"
#include "process/video-settings.h"

/* One processing run of one video: input frames [first, end) of an MJPEG AVI through
 * decode → motion-adaptive temporal denoise → (sharpen) → encode → append to the output.
 *
 * Parallelism: every frame is a pool job, at most `window` frames in flight. Decoding and
 * encoding (the expensive, independent parts) run in parallel on the workers; the two
 * ordered parts run in frame order under a token: the recursive blend (frame i needs the
 * blended frame i-1) and the write (the AVI must receive frames in order). Whichever job
 * finishes a step takes the token if it is free and advances as far as the frames ready
 * allow, so no worker ever blocks waiting for another frame. The blend is one table lookup
 * per sample, a small fraction of decode + encode time, so it does not limit throughput.
 *
 * Cancellation: stop() (or the pool's cancel flag) makes every job return before its next
 * step; the frames written so far form a complete, in-order prefix, the output is finished
 * (playable) and ended() is called. Preempted frame jobs (the pool took the worker for a
 * requested image) are simply queued again. */

struct video_run;
struct avi_reader;
struct avi_writer;

struct video_run_params {
        const char *id;
        struct worker_pool *pool;
        struct avi_reader *reader; /* taken on success */
        struct avi_writer *writer; /* taken on success; already positioned (new or appending) */
        struct yuv_image *seed;    /* optional: output of frame first-1, taken (moved) on success */
        uint32_t first, end;
        uint32_t rate, scale;
        unsigned width, height;
        struct video_settings settings;
        int quality;
        unsigned window;
        uint64_t order; /* pool background order */
        /* Worker thread, no lock held: frames [first, next_frame) are in the output. */
        void (*progress)(struct video_run *run, uint32_t next_frame, uint64_t timestamp_us, void *userdata);
        /* Exactly once, on any thread (maybe before video_run_start() returns, maybe inside
         * video_run_stop()), after the output was finished. */
        void (*ended)(struct video_run *run, void *userdata);
        void *userdata;
};

int video_run_start(const struct video_run_params *params, struct video_run **ret);

/* Asks the run to stop at the next frame. Any thread; returns at once. */
void video_run_stop(struct video_run *run, enum pool_cancel reason);

struct video_run_result {
        int error;              /* 0, or the first failure (negative errno) */
        enum video_error code;  /* for error: PROCESS or ABNORMAL */
        const char *message;    /* sentence for error, "" otherwise; valid while run lives */
        enum pool_cancel stopped; /* why it stopped early (NONE if it ran to the end or failed) */
        uint32_t next_frame;    /* first input frame not in the output */
        bool complete;          /* every frame up to `end` is in the output, finished */
        uint64_t elapsed_us;
        unsigned preemptions;   /* frame jobs the pool preempted for a requested job (re-queued
                                   if they had not done their step yet) */
};

/* true once a frame job has started work (until then the run only waits in the pool's
 * queue, e.g. behind images). Any thread. */
bool video_run_started(struct video_run *run);

/* Only after ended(). */
void video_run_get_result(struct video_run *run, struct video_run_result *ret);
const char *video_run_id(const struct video_run *run);
/* Hand the resources back after ended() (the caller then owns them). The reference is the
 * blended output of frame *ret_frame; false if there is none. */
struct avi_reader *video_run_take_reader(struct video_run *run);
struct avi_writer *video_run_take_writer(struct video_run *run);
bool video_run_take_reference(struct video_run *run, struct yuv_image *ret, uint32_t *ret_frame);
/* Only after ended(). Frees whatever was not taken. Returns NULL. */
struct video_run *video_run_free(struct video_run *run);
