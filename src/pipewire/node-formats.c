/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pipewire/node-formats.h"
#include "shared/macro.h"

const char *packed_layout_name(enum packed_layout layout) {
        switch (layout) {
        case PACKED_I420:
                return "I420";
        case PACKED_NV12:
                return "NV12";
        case PACKED_YUY2:
                return "YUY2";
        }
        return "?";
}

/* The layouts a camera format is offered as, best first; 0 for formats camerad's preview
 * cannot give (the preview needs even sizes). */
static size_t layouts_for(const struct camera_format *f, enum packed_layout out[3]) {
        if (f->width == 0 || f->height == 0 || f->width % 2 || f->height % 2 || !(f->fps > 0))
                return 0;
        if (streq(f->fourcc, "YUYV") || streq(f->fourcc, "UYVY")) {
                out[0] = PACKED_YUY2;
                return 1;
        }
        if (streq(f->fourcc, "NV12") || streq(f->fourcc, "YU12")) {
                out[0] = streq(f->fourcc, "NV12") ? PACKED_NV12 : PACKED_I420;
                out[1] = streq(f->fourcc, "NV12") ? PACKED_I420 : PACKED_NV12;
                return 2;
        }
        if (streq(f->fourcc, "MJPG")) {
                out[0] = PACKED_I420;
                out[1] = PACKED_NV12;
                out[2] = PACKED_YUY2;
                return 3;
        }
        return 0;
}

const struct node_format *node_formats_find(const struct node_format *list, size_t n,
                                            enum packed_layout layout, unsigned width,
                                            unsigned height) {
        for (size_t i = 0; i < n; i++)
                if (list[i].layout == layout && list[i].width == width && list[i].height == height)
                        return &list[i];
        return NULL;
}

static void add_pass(const struct camera_format *formats, size_t n, bool compressed,
                     struct node_format *out, size_t *n_out) {
        for (size_t i = 0; i < n; i++) {
                const struct camera_format *f = &formats[i];
                enum packed_layout layouts[3];
                size_t k = layouts_for(f, layouts);

                if (streq(f->fourcc, "MJPG") != compressed)
                        continue;
                for (size_t j = 0; j < k; j++) {
                        if (node_formats_find(out, *n_out, layouts[j], f->width, f->height))
                                continue;
                        struct node_format *nf = &out[(*n_out)++];
                        *nf = (struct node_format) {
                                .layout = layouts[j], .width = f->width, .height = f->height,
                                .source = *f,
                        };
                        /* Whole rates as n/1, others (29.97) to a thousandth. */
                        if (fabs(f->fps - round(f->fps)) < 1e-6) {
                                nf->fps_num = (unsigned) lround(f->fps);
                                nf->fps_den = 1;
                        } else {
                                nf->fps_num = (unsigned) lround(f->fps * 1000);
                                nf->fps_den = 1000;
                        }
                }
        }
}

int node_formats_build(const struct camera_format *formats, size_t n, struct node_format **ret,
                       size_t *ret_n) {
        struct node_format *out = calloc(n * 3 + 1, sizeof *out);
        size_t n_out = 0;

        if (!out)
                return -ENOMEM;
        add_pass(formats, n, false, out, &n_out);
        add_pass(formats, n, true, out, &n_out);
        *ret = out;
        *ret_n = n_out;
        return 0;
}
