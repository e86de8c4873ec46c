/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "capture/frame.h"

/* Video recording: Motion-JPEG AVI (media/avi-writer.h) written to a client's file. Raw
 * frames are JPEG-encoded from their YUV planes (media/jpeg.h, never through RGB); an MJPEG
 * recording writes the camera's own JPEG bytes unchanged (of MJPEG frames, or the
 * `compressed` source of decoded ones). Both on the recorder's own thread behind a bounded
 * queue: the capture thread only queues a ref, and
 * when the queue is full the frame is dropped and counted. The frame rate in the headers
 * is the one measured from the frames' timestamps. */

#define RECORDER_DEFAULT_QUALITY 90
#define RECORDER_DEFAULT_QUEUE 8

struct recorder_options {
        int quality;           /* 1–100; 0 = RECORDER_DEFAULT_QUALITY */
        unsigned queue_length; /* frames waiting for the encoder; 0 = RECORDER_DEFAULT_QUEUE */
};

struct recorder_stats {
        uint64_t frames;      /* written */
        uint64_t dropped;     /* offered but not written (queue full, or after a write error) */
        uint64_t bytes;       /* file size */
        uint64_t duration_us; /* frames × the mean frame interval */
        double fps;           /* measured; the profile's rate while fewer than 2 frames */
        uint64_t encode_cpu_us; /* encoder thread CPU time spent in JPEG encoding */
        uint64_t frame_cpu_us;  /* encoder thread CPU time per frame written, all of it
                                   (encoding or passing through, and writing) */
};

struct recorder;

/* fd: a writable, seekable regular file (checked by the caller); the recorder keeps its
 * own duplicate. fourcc/size: the frames that will be pushed; fps: the output rate (frames
 * are thinned to it by timestamp) and the header's rate until measured. */
int recorder_start(int fd, uint32_t fourcc, unsigned width, unsigned height, double fps,
                   const struct recorder_options *options, struct recorder **ret);

/* Capture thread: queue a frame (borrowed; a ref is taken). Never blocks on encoding or
 * I/O. Frames of another format or size are ignored. */
void recorder_push(struct recorder *r, struct frame *f);

/* Encodes what is queued, writes the indexes and headers, frees the recorder. Returns 0
 * or the first encoding/I/O error (negative errno); stats are filled either way, and the
 * file holds every frame written before an error. */
int recorder_stop(struct recorder *r, struct recorder_stats *ret);

/* Live counters, from any thread. */
uint64_t recorder_frames(const struct recorder *r);
uint64_t recorder_dropped(const struct recorder *r);
