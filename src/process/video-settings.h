/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Processing settings of a VideoProcessSession, given to CommitStreams as the UTF-8 JSON
 * object `modeSetting`, e.g. {"denoise":0.6,"sharpen":0.2,"quality":90}. */
struct video_settings {
        double denoise; /* 0–1: strength of the temporal denoise (0 = off) */
        double sharpen; /* 0–1: strength of the light unsharp mask (0 = off) */
        int quality;    /* 1–100: JPEG quality of the re-encoded frames */
};

#define VIDEO_SETTINGS_DEFAULT_DENOISE 0.5
#define VIDEO_SETTINGS_DEFAULT_SHARPEN 0.0
#define VIDEO_SETTINGS_DEFAULT_QUALITY 90

void video_settings_init(struct video_settings *s);

/* Parses `len` bytes of JSON (need not be NUL-terminated; an embedded NUL is an error).
 * Keys missing from the object keep their defaults. Returns 0, or -EINVAL when the bytes
 * are not UTF-8, not JSON, not an object, or hold an unknown key, a wrong type or a value
 * out of range; then `message` (if non-NULL, `message_size` bytes) says which key and
 * what value was seen. -ENOMEM on allocation failure. */
int video_settings_parse(const void *data, size_t len, struct video_settings *ret,
                         char *message, size_t message_size);
