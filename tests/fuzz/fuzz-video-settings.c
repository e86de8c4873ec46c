/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "process/video-settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct video_settings s;
        char message[256];

        int r;

        message[0] = 0;
        r = video_settings_parse(data, size, &s, message, sizeof message);
        if (r == 0) {
                /* Whatever was accepted must be in range. */
                assert(s.denoise >= 0.0 && s.denoise <= 1.0);
                assert(s.sharpen >= 0.0 && s.sharpen <= 1.0);
                assert(s.quality >= 1 && s.quality <= 100);
        } else if (r == -EINVAL)
                assert(message[0] != 0); /* every refusal says why */
        return 0;
}
