/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "capture/frame.h"

/* Preview streams: YUV4MPEG2 (media/y4m.h; C420jpeg from NV12/YU12, C422 from YUYV/UYVY)
 * over
 * AF_UNIX stream sockets, several readers at once. The capture thread only swaps in the
 * newest frame and wakes the sink's own thread, which serializes each frame once and
 * writes it to every client without blocking. A client still sending the previous frame
 * misses the new one whole (counted in dropped frames): readers see only complete frames
 * and a slow reader never slows capture. Clients that hang up are dropped. */

struct preview_sink;

/* fourcc/size: the frames that will be pushed (MJPEG: the decoded frames of an MJPEG
 * stream, C422 or C420jpeg as the camera's JPEGs are; the header goes out with the first
 * frame); fps: the stream's rate (frames are
 * decimated to it by timestamp; the Y4M header announces it). */
int preview_sink_new(uint32_t fourcc, unsigned width, unsigned height, double fps,
                     struct preview_sink **ret);
/* Stops the thread and closes every client socket. */
struct preview_sink *preview_sink_free(struct preview_sink *s);

/* A new client: returns the read end of a socketpair (close-on-exec; the caller owns it,
 * e.g. to pass over D-Bus) or a negative errno. The stream header is sent first. */
int preview_sink_open_stream(struct preview_sink *s);

/* Capture thread: offers a frame (borrowed; the sink takes its own ref). Never blocks on
 * clients; frames of another format or size are ignored. */
void preview_sink_push(struct preview_sink *s, struct frame *f);

/* Frames that some client missed because it was still busy with an earlier one. */
uint64_t preview_sink_dropped_frames(const struct preview_sink *s);

/* Connected clients (including ones not yet picked up by the sink thread). */
unsigned preview_sink_n_clients(const struct preview_sink *s);

static inline void preview_sink_freep(struct preview_sink **s) {
        if (*s)
                preview_sink_free(*s);
}
