/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "process/video-state.h"

static const char *const state_names[_VIDEO_STATE_MAX] = {
        [VIDEO_STATE_PENDING] = "pending",
        [VIDEO_STATE_RUNNING] = "running",
        [VIDEO_STATE_DONE] = "done",
        [VIDEO_STATE_ERROR] = "error",
};

static const char *const stream_type_names[_VIDEO_STREAM_TYPE_MAX] = {
        [VIDEO_STREAM_VIDEO] = "video",
        [VIDEO_STREAM_METADATA] = "metadata",
        [VIDEO_STREAM_MAKER] = "maker",
};

static const char *const status_names[_VIDEO_STATUS_MAX] = {
        [VIDEO_STATUS_READY] = "ready",
        [VIDEO_STATUS_SPACE_LIMIT_REACHED] = "space-limit-reached",
};

static const char *const error_names[_VIDEO_ERROR_MAX] = {
        [VIDEO_ERROR_INVALID_ID] = "invalid-id",
        [VIDEO_ERROR_PROCESS] = "process",
        [VIDEO_ERROR_ABNORMAL] = "abnormal",
        [VIDEO_ERROR_ABORT] = "abort",
};

const char *video_state_to_string(enum video_state s) {
        return s >= 0 && s < _VIDEO_STATE_MAX ? state_names[s] : NULL;
}

const char *video_stream_type_to_string(enum video_stream_type t) {
        return t >= 0 && t < _VIDEO_STREAM_TYPE_MAX ? stream_type_names[t] : NULL;
}

const char *video_status_to_string(enum video_status s) {
        return s >= 0 && s < _VIDEO_STATUS_MAX ? status_names[s] : NULL;
}

const char *video_error_to_string(enum video_error e) {
        return e >= 0 && e < _VIDEO_ERROR_MAX ? error_names[e] : NULL;
}
