/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "process/video-state.h"

/* The on-disk record of one video id: <state_dir>/videos/<uid>/<id>.json, written
 * atomically (temp file "<id>.json~", fsync, rename, fsync of the folder). '~' cannot occur
 * in a video id, so temp files never collide with records. */

#define VIDEO_ID_MAX 64
#define VIDEO_RECORD_ERROR_MAX 200

struct video_record {
        char id[VIDEO_ID_MAX + 1];
        enum video_state state;      /* never RUNNING on disk after a clean stop */
        bool recorded;               /* came from a deferred recording, not a Prepare */
        uint64_t created_us;
        unsigned width, height;
        uint32_t rate, scale;        /* frame rate rate/scale; 0/0 while unknown */
        uint32_t frames;             /* input frames; 0 while unknown */
        uint32_t next_frame;         /* resume point: first input frame not yet processed */
        bool has_output;             /* an earlier run wrote input frames [output_start,
                                        next_frame) into the client's output file */
        uint32_t output_start;
        char error[VIDEO_RECORD_ERROR_MAX];
};

/* Hostile input is fine: -EINVAL with a reason in message for anything but a well-formed
 * record; never crashes, never allocates without bound (max 64 KiB of text). */
int video_record_parse(const char *json, size_t len, struct video_record *ret, char *message,
                       size_t message_size);
/* Returns malloc'd JSON text. */
int video_record_format(const struct video_record *r, char **ret);

/* Atomic write into the folder dir_fd. */
int video_record_save(int dir_fd, const struct video_record *r);
/* Removes the record; 0 if it did not exist. */
int video_record_delete(int dir_fd, const char *id);

/* Loads every valid record of the folder (unordered); removes stale temp files; logs and
 * skips anything unreadable. *ret is malloc'd. */
int video_record_load_all(int dir_fd, struct video_record **ret, size_t *ret_n);

/* Timestamps of frames at rate/scale (µs, rounded down) and the first frame whose
 * timestamp is >= ts. Both 0 for an unknown rate. */
uint64_t video_frame_time_us(uint32_t rate, uint32_t scale, uint64_t frame);
uint64_t video_frame_at_time(uint32_t rate, uint32_t scale, uint64_t ts_us);
