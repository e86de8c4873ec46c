/* SPDX-License-Identifier: MIT */
/* record.json on arbitrary bytes: it is read back after crashes and from a directory anyone
 * with the daemon's rights could edit. The parser must never crash, leak or accept nonsense;
 * whatever it accepts must survive a format/parse round trip unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "process/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct job_record a, b;
        char *text;

        if (job_record_parse((const char *) data, size, &a) < 0)
                return 0;
        /* Accepted: it must describe a burst the store can hold... */
        if (image_burst_check(a.width, a.height, a.chroma, a.frames) < 0 || a.quality < 1 || a.quality > 100)
                abort();
        if (strlen(a.make) > JOB_RECORD_TEXT_MAX || strlen(a.model) > JOB_RECORD_TEXT_MAX)
                abort();
        /* ...and read back exactly as written. */
        if (job_record_format(&a, &text) < 0)
                return 0;
        if (job_record_parse(text, strlen(text), &b) < 0)
                abort();
        if (a.state != b.state || a.requested != b.requested || a.created_us != b.created_us ||
            a.width != b.width || a.height != b.height || a.frames != b.frames || a.quality != b.quality ||
            a.retries != b.retries || a.chroma != b.chroma || a.last_error != b.last_error ||
            strcmp(a.make, b.make) != 0 || strcmp(a.model, b.model) != 0)
                abort();
        free(text);
        return 0;
}
