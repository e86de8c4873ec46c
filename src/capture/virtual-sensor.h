/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "capture/frame.h"

/* A synthetic image sensor: a moving scene (colour bars scrolling one bar per second, a
 * disc on a Lissajous path, a static luma ramp) plus per-frame Gaussian sensor noise.
 * The scene is a pure function of (format, size, time), so the noise-free picture of any
 * captured frame can be rendered again from its timestamp — tests measure denoising
 * against it. Output is tightly packed YUYV, NV12, UYVY or YU12 (limited range BT.601
 * values). */

#define VIRTUAL_SENSOR_NOISE_SIGMA 7.0 /* on 0–255 luma; chroma gets half */

struct virtual_sensor;

/* noise_sigma in [0, 40]; 0 renders clean frames only. */
int virtual_sensor_new(uint32_t fourcc, unsigned width, unsigned height, double noise_sigma,
                       struct virtual_sensor **ret);
struct virtual_sensor *virtual_sensor_free(struct virtual_sensor *s);

/* The noise-free scene at time_us (any clock, µs) into dst, frame_size_for() bytes. */
void virtual_sensor_render_clean(const struct virtual_sensor *s, uint64_t time_us, uint8_t *dst);

/* The scene at time_us with fresh noise. Not thread-safe on one sensor (PRNG state). */
void virtual_sensor_render(struct virtual_sensor *s, uint64_t time_us, uint8_t *dst);

/* Fills f (same format and size as the sensor) for f->timestamp_us; -EINVAL on mismatch. */
int virtual_sensor_render_frame(struct virtual_sensor *s, struct frame *f, bool noisy);

static inline void virtual_sensor_freep(struct virtual_sensor **s) {
        if (*s)
                virtual_sensor_free(*s);
}
