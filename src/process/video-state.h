/* SPDX-License-Identifier: MIT */
#pragma once

/* The states, stream types, statuses and error codes of the video processor, as enums (the
 * image processor's convention, see image-processor.h); each has one table of the strings
 * of the contract (dbus/org.camerad.Camera1.VideoProcessSession.xml), used at the bus edge
 * and in the on-disk record. No other header of the video processor is needed for them. */

#include <errno.h>

enum video_state {
        VIDEO_STATE_PENDING,  /* recorded or prepared, not running, not done (also after Interrupt,
                                 and while a started run still waits in the pool's queue) */
        VIDEO_STATE_RUNNING,  /* GetVideoInfo: once its first frame job has started */
        VIDEO_STATE_DONE,     /* its input and output are closed: process again only after prepare() */
        VIDEO_STATE_ERROR,    /* the last run failed; process() may be called again, so its input
                                 and output stay open (until reset(), remove() or done) */
        _VIDEO_STATE_MAX,
};
const char *video_state_to_string(enum video_state s); /* "pending", "running", "done", "error" */

enum video_stream_type {
        VIDEO_STREAM_VIDEO,
        VIDEO_STREAM_METADATA,
        VIDEO_STREAM_MAKER,
        _VIDEO_STREAM_TYPE_MAX,
};
const char *video_stream_type_to_string(enum video_stream_type t); /* "video", "metadata", "maker" */

/* StatusChanged: space-limit-reached after ENOSPC/EDQUOT writing an output, ready again
 * when a video is done. */
enum video_status {
        VIDEO_STATUS_READY,
        VIDEO_STATUS_SPACE_LIMIT_REACHED,
        _VIDEO_STATUS_MAX,
};
const char *video_status_to_string(enum video_status s); /* "ready", "space-limit-reached" */

/* The Error signal's codes. */
enum video_error {
        VIDEO_ERROR_INVALID_ID,
        VIDEO_ERROR_PROCESS,  /* bad frame data */
        VIDEO_ERROR_ABNORMAL, /* I/O or internal failure */
        VIDEO_ERROR_ABORT,    /* Interrupt/Reset: the video is pending again */
        _VIDEO_ERROR_MAX,
        _VIDEO_ERROR_INVALID = -EINVAL,
};
const char *video_error_to_string(enum video_error e); /* "invalid-id", "process", "abnormal", "abort" */
