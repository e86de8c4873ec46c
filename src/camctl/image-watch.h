/* SPDX-License-Identifier: MIT */
#pragma once

/* Waiting for images of the caller's ImageProcessSession to finish: ProcessDone and Error
 * signals, backed by GetImageInfo polls so nothing that finished before the wait began, or
 * whose signal went missing, is waited for in vain. */

#include <cjson/cJSON.h>

#include "camctl/camctl.h"

enum image_outcome { IMAGE_WAITING, IMAGE_DONE, IMAGE_FAILED };

struct watched_image {
        char *id;
        enum image_outcome outcome;
        cJSON *info; /* ProcessDone's info, or {"error": code} */
};

struct image_watch {
        struct camctl *c;
        const char *session;
        struct watched_image *images;
        size_t n_images, n_done, n_failed;
        bool finished;
        sd_bus_slot *done_slot, *error_slot;
        uint64_t last_poll;
};

/* Subscribes to the session's signals. Call before anything that may start the work. */
int image_watch_start(struct camctl *c, const char *session, struct image_watch *w);
int image_watch_add(struct image_watch *w, const char *id);
/* Waits until every id is done or failed, with a progress bar labelled label. Returns 0
 * when all are done, CAMCTL_EXIT_FAILED when one failed, or a wait's exit code. */
int image_watch_run(struct image_watch *w, const char *label);
/* {"id": …, "state": "done"|"error", …info} for id i; owned by the watch. */
cJSON *image_watch_result(struct image_watch *w, size_t i);
void image_watch_done(struct image_watch *w);
