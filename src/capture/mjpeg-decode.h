/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "capture/frame.h"

/* The MJPEG decode stage of a camera: its own thread behind a bounded queue, so the capture
 * thread never decodes. Each queued camera JPEG is decoded once (TurboJPEG, straight to
 * planes) into a pooled YUV420 or YUV422P frame (the JPEG's own subsampling) whose
 * `compressed` holds a ref to the JPEG, and that one frame is handed to the callback for
 * every output to share. A full queue drops the new frame; a frame TurboJPEG cannot decode
 * cleanly (error or warning) is dropped. Both are counted, neither is passed on (the camera
 * delivers its JPEG itself, decoded or not: capture/camera-device.h). */

struct mjpeg_decode_stage;

/* Decode thread, for each decoded frame (borrowed: take a ref to keep it). */
typedef void (*mjpeg_decoded_fn)(struct frame *decoded, void *userdata);

struct mjpeg_decode_stats {
        uint64_t decoded;   /* handed to the callback */
        uint64_t corrupt;   /* refused by the decoder */
        uint64_t dropped;   /* queue full */
        uint64_t decode_cpu_ns; /* decode thread CPU time in header parsing and decoding */
};

#define MJPEG_DECODE_DEFAULT_QUEUE 3

/* width x height: the stream's size (frames of another size count as corrupt).
 * queue_length 0 = MJPEG_DECODE_DEFAULT_QUEUE. */
int mjpeg_decode_stage_new(unsigned width, unsigned height, unsigned queue_length,
                           mjpeg_decoded_fn fn, void *userdata, struct mjpeg_decode_stage **ret);

/* Any one thread (the capture thread): queues a ref to jpeg (an MJPEG frame). Never blocks
 * on decoding; false when the queue was full and the frame dropped. */
bool mjpeg_decode_stage_push(struct mjpeg_decode_stage *s, struct frame *jpeg);

/* Whether frames pushed earlier are still queued or being decoded and delivered. */
bool mjpeg_decode_stage_pending(struct mjpeg_decode_stage *s);

/* Waits until every frame queued so far was decoded (or dropped). For tests and benches. */
void mjpeg_decode_stage_drain(struct mjpeg_decode_stage *s);

void mjpeg_decode_stage_stats(struct mjpeg_decode_stage *s, struct mjpeg_decode_stats *ret);

/* Discards what is queued and joins the thread: no callback runs after it returns, and the
 * stats are final. Pushes afterwards are dropped. Idempotent. */
void mjpeg_decode_stage_stop(struct mjpeg_decode_stage *s);

/* Stops (if not yet) and frees. */
struct mjpeg_decode_stage *mjpeg_decode_stage_free(struct mjpeg_decode_stage *s);

static inline void mjpeg_decode_stage_freep(struct mjpeg_decode_stage **s) {
        if (*s)
                mjpeg_decode_stage_free(*s);
}
