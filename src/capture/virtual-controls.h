/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "capture/camera-controls-private.h"

/* The virtual camera's controls and what they do to its picture: brightness, contrast,
 * saturation, color-effects (a menu: None, Black & White, Sepia, Negative),
 * horizontal-flip, vertical-flip and zoom-absolute (100 = 1x up to 400 = 4x about the
 * centre). Values are kept across starts, like a real camera's. With every control at its
 * default a picture is left untouched, so clean re-renders still match captured frames. */

struct virtual_controls;

int virtual_controls_new(struct virtual_controls **ret);
struct virtual_controls *virtual_controls_free(struct virtual_controls *v);

/* Loop thread: the controls with their values; set checked values (all of them). */
int virtual_controls_query(const struct virtual_controls *v, struct camera_control_list *l);
int virtual_controls_set(struct virtual_controls *v, const struct camera_control_value *val, size_t n,
                         size_t *bad_index);

/* Render thread: applies the current values to a tightly packed YUYV, UYVY, NV12 or YU12
 * picture in place. -EINVAL for another layout, -ENOMEM when scratch space is short. */
int virtual_controls_process(struct virtual_controls *v, uint32_t fourcc, unsigned width,
                             unsigned height, uint8_t *data);

/* The backend table camera-virtual.c plugs in; it reaches the camera's virtual_controls
 * through virtual_camera_controls(). */
extern const struct camera_controls_backend virtual_controls_backend;
struct virtual_controls *virtual_camera_controls(struct camera_device *d);
