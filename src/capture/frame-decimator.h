/* SPDX-License-Identifier: MIT */
#pragma once

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* Thins a frame sequence to a lower rate by timestamps, e.g. 30 fps capture to a 10 fps
 * output: every third frame. A quarter period of slack absorbs timestamp jitter; after a
 * gap the schedule restarts instead of letting a burst through. Single-threaded. */
struct frame_decimator {
        uint64_t period_us, tolerance_us;
        uint64_t next_due_us; /* 0: nothing taken yet */
};

static inline void frame_decimator_init(struct frame_decimator *d, double fps) {
        d->period_us = fps > 0 ? (uint64_t) llround(1e6 / fps) : 0;
        d->tolerance_us = d->period_us / 4;
        d->next_due_us = 0;
}

/* Whether the frame at timestamp_us belongs to the output. */
static inline bool frame_decimator_take(struct frame_decimator *d, uint64_t timestamp_us) {
        if (d->period_us == 0)
                return true;
        if (d->next_due_us != 0 && timestamp_us + d->tolerance_us < d->next_due_us)
                return false;
        if (d->next_due_us == 0 || timestamp_us > d->next_due_us + d->period_us)
                d->next_due_us = timestamp_us + d->period_us;
        else
                d->next_due_us += d->period_us;
        return true;
}
