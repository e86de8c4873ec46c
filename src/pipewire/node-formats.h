/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "pipewire/camerad-watch.h"
#include "pipewire/repack.h"

/* What a camera's node offers: each camera format turned into the raw layouts PipeWire
 * consumers take, one fixed size each (OBS ignores size ranges). Native layouts come
 * first: YUYV/UYVY as YUY2, NV12/YU12 as NV12 and I420, MJPG (which camerad decodes for
 * preview) as I420, NV12 and YUY2. A (layout, size) pair is listed once, from the first
 * camera format giving it, so raw formats win over MJPG. */

struct node_format {
        enum packed_layout layout;
        unsigned width, height;
        unsigned fps_num, fps_den;
        struct camera_format source; /* the preview profile asked of camerad */
};

int node_formats_build(const struct camera_format *formats, size_t n, struct node_format **ret,
                       size_t *ret_n);

/* The entry for a negotiated layout and size, or NULL. */
const struct node_format *node_formats_find(const struct node_format *list, size_t n,
                                            enum packed_layout layout, unsigned width,
                                            unsigned height);

const char *packed_layout_name(enum packed_layout layout);
