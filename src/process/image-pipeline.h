/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "process/image-processor.h"
#include "process/pool.h"

/* The deferred image pipeline: align the burst on a luma pyramid, merge it (merge.h), sharpen
 * lightly, encode a JPEG with EXIF. Pure computation on planes; no files, no threads. */

struct pipeline_request {
        unsigned width, height;
        enum image_chroma chroma;
        unsigned n_frames;
        const struct image_burst_frame *frames; /* oldest first; the newest is the reference */
        unsigned quality;
        uint64_t capture_realtime_us;           /* EXIF DateTimeOriginal (local time) */
        const char *camera_make, *camera_model;
        /* Checked between row stripes; non-zero stops the run with -ECANCELED. */
        enum pool_cancel (*check_cancel)(void *data);
        void *cancel_data;
};

struct pipeline_result {
        void *jpeg;   /* malloc'd, owned by the caller on success */
        size_t size;
};

/* 0 on success; -ECANCELED when cancelled; -EBADMSG when the frames make no sense (bad
 * sizes, not enough data): a final "process" error; any other negative errno (-ENOMEM,
 * -EIO, encoder failure) is "abnormal" and may be retried. */
int image_pipeline_run(const struct pipeline_request *req, struct pipeline_result *res);
