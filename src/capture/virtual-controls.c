/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/videodev2.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "capture/frame.h"
#include "capture/virtual-controls.h"
#include "shared/macro.h"

/* Tone (brightness, contrast, saturation, colour effect) goes through three lookup tables,
 * geometry (flips, zoom) through a remap of each component from a copy of the picture.
 * Both are skipped while their controls are at the defaults. */

enum { BRIGHTNESS, CONTRAST, SATURATION, COLOR_EFFECTS, HFLIP, VFLIP, ZOOM, N_CONTROLS };

struct control_def {
        uint32_t id;
        const char *v4l2_name;
        enum camera_control_type type;
        int min, max, def;
};

static const struct control_def defs[N_CONTROLS] = {
        [BRIGHTNESS] = { V4L2_CID_BRIGHTNESS, "Brightness", CAMERA_CONTROL_INTEGER, 0, 255, 128 },
        [CONTRAST] = { V4L2_CID_CONTRAST, "Contrast", CAMERA_CONTROL_INTEGER, 0, 255, 128 },
        [SATURATION] = { V4L2_CID_SATURATION, "Saturation", CAMERA_CONTROL_INTEGER, 0, 255, 128 },
        [COLOR_EFFECTS] = { V4L2_CID_COLORFX, "Color Effects", CAMERA_CONTROL_MENU, 0, 3, 0 },
        [HFLIP] = { V4L2_CID_HFLIP, "Horizontal Flip", CAMERA_CONTROL_BOOLEAN, 0, 1, 0 },
        [VFLIP] = { V4L2_CID_VFLIP, "Vertical Flip", CAMERA_CONTROL_BOOLEAN, 0, 1, 0 },
        [ZOOM] = { V4L2_CID_ZOOM_ABSOLUTE, "Zoom, Absolute", CAMERA_CONTROL_INTEGER, 100, 400, 100 },
};

/* V4L2's names for V4L2_COLORFX_NONE .. V4L2_COLORFX_NEGATIVE. */
static const char *const effect_names[] = { "None", "Black & White", "Sepia", "Negative" };

struct virtual_controls {
        atomic_int values[N_CONTROLS]; /* set on the loop thread, read per frame */

        /* Render thread only. */
        uint8_t *scratch;
        size_t scratch_size;
        unsigned *map;
        size_t map_size;
};

int virtual_controls_new(struct virtual_controls **ret) {
        struct virtual_controls *v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (int i = 0; i < N_CONTROLS; i++)
                atomic_init(&v->values[i], defs[i].def);
        *ret = v;
        return 0;
}

struct virtual_controls *virtual_controls_free(struct virtual_controls *v) {
        if (v) {
                free(v->scratch);
                free(v->map);
                free(v);
        }
        return NULL;
}

int virtual_controls_query(const struct virtual_controls *v, struct camera_control_list *l) {
        for (int i = 0; i < N_CONTROLS; i++) {
                struct camera_control *c = camera_control_list_add(l, defs[i].id, defs[i].v4l2_name);
                if (!c)
                        return -ENOMEM;
                c->type = defs[i].type;
                c->min = defs[i].min;
                c->max = defs[i].max;
                c->def = defs[i].def;
                c->value = atomic_load(&v->values[i]);
                if (i == COLOR_EFFECTS)
                        for (size_t k = 0; k < ELEMENTSOF(effect_names); k++) {
                                int r = camera_control_add_menu_item(c, (int64_t) k, effect_names[k]);
                                if (r < 0)
                                        return r;
                        }
        }
        return 0;
}

static int index_of(uint32_t id) {
        for (int i = 0; i < N_CONTROLS; i++)
                if (defs[i].id == id)
                        return i;
        return -1;
}

int virtual_controls_set(struct virtual_controls *v, const struct camera_control_value *val, size_t n,
                         size_t *bad_index) {
        /* Checked before they reach us; refuse anything odd before changing anything. */
        for (size_t i = 0; i < n; i++) {
                int k = index_of(val[i].id);
                if (k < 0 || val[i].value < defs[k].min || val[i].value > defs[k].max) {
                        *bad_index = i;
                        return -EINVAL;
                }
        }
        for (size_t i = 0; i < n; i++)
                atomic_store(&v->values[index_of(val[i].id)], (int) val[i].value);
        return 0;
}

/* One colour component of a picture: where its samples are. */
struct component {
        size_t offset;
        unsigned step; /* bytes from one sample to the next in a row */
        size_t stride; /* bytes per row */
        unsigned w, h;
};

static int components(uint32_t fourcc, unsigned w, unsigned h, struct component c[3]) {
        size_t plane = (size_t) w * h;
        switch (fourcc) {
        case V4L2_PIX_FMT_YUYV:
        case V4L2_PIX_FMT_UYVY: {
                bool yuyv = fourcc == V4L2_PIX_FMT_YUYV;
                c[0] = (struct component) { yuyv ? 0 : 1, 2, 2 * (size_t) w, w, h };
                c[1] = (struct component) { yuyv ? 1 : 0, 4, 2 * (size_t) w, w / 2, h };
                c[2] = (struct component) { yuyv ? 3 : 2, 4, 2 * (size_t) w, w / 2, h };
                return 0;
        }
        case V4L2_PIX_FMT_NV12:
                c[0] = (struct component) { 0, 1, w, w, h };
                c[1] = (struct component) { plane, 2, w, w / 2, h / 2 };
                c[2] = (struct component) { plane + 1, 2, w, w / 2, h / 2 };
                return 0;
        case V4L2_PIX_FMT_YUV420:
                c[0] = (struct component) { 0, 1, w, w, h };
                c[1] = (struct component) { plane, 1, w / 2, w / 2, h / 2 };
                c[2] = (struct component) { plane + plane / 4, 1, w / 2, w / 2, h / 2 };
                return 0;
        default:
                return -EINVAL;
        }
}

static uint8_t clamp_byte(long v) {
        return (uint8_t) CLAMP(v, 0L, 255L);
}

/* Lookup tables for Y, Cb and Cr; false when they would change nothing. */
static bool tone_tables(const int *val, uint8_t lut[3][256]) {
        int brightness = val[BRIGHTNESS] - 128, contrast = val[CONTRAST], saturation = val[SATURATION];
        int effect = val[COLOR_EFFECTS];

        if (brightness == 0 && contrast == 128 && saturation == 128 && effect == V4L2_COLORFX_NONE)
                return false;
        for (int x = 0; x < 256; x++) {
                long y = 128 + lround((x - 128) * contrast / 128.0) + brightness;
                long c = 128 + lround((x - 128) * saturation / 128.0);
                lut[0][x] = clamp_byte(y);
                lut[1][x] = lut[2][x] = clamp_byte(c);
                switch (effect) {
                case V4L2_COLORFX_BW:
                        lut[1][x] = lut[2][x] = 128;
                        break;
                case V4L2_COLORFX_SEPIA: /* a warm brown: Cb below, Cr above neutral */
                        lut[1][x] = 108;
                        lut[2][x] = 148;
                        break;
                case V4L2_COLORFX_NEGATIVE:
                        lut[0][x] = (uint8_t) (255 - lut[0][x]);
                        lut[1][x] = clamp_byte(256 - lut[1][x]);
                        lut[2][x] = clamp_byte(256 - lut[2][x]);
                        break;
                default:
                        break;
                }
        }
        return true;
}

static void apply_tables(uint8_t *data, const struct component c[3], uint8_t lut[3][256]) {
        for (int k = 0; k < 3; k++)
                for (unsigned y = 0; y < c[k].h; y++) {
                        uint8_t *row = data + c[k].offset + y * c[k].stride;
                        for (unsigned x = 0; x < c[k].w; x++)
                                row[x * c[k].step] = lut[k][row[x * c[k].step]];
                }
}

/* Source index of i in 0..n-1 under a zoom about the centre (zoom/100 x), then a flip. */
static void build_map(unsigned *map, unsigned n, int zoom, bool flip) {
        double z = zoom / 100.0;
        for (unsigned i = 0; i < n; i++) {
                long s = lround(floor((i + 0.5 - n / 2.0) / z + n / 2.0));
                s = CLAMP(s, 0L, (long) n - 1);
                map[i] = flip ? n - 1 - (unsigned) s : (unsigned) s;
        }
}

static void remap(uint8_t *dst, const uint8_t *src, const struct component *c, const unsigned *xmap,
                  const unsigned *ymap) {
        for (unsigned y = 0; y < c->h; y++) {
                uint8_t *out = dst + c->offset + y * c->stride;
                const uint8_t *in = src + c->offset + ymap[y] * c->stride;
                for (unsigned x = 0; x < c->w; x++)
                        out[x * c->step] = in[xmap[x] * c->step];
        }
}

static int geometry(struct virtual_controls *v, const int *val, uint8_t *data, size_t size,
                    const struct component c[3]) {
        size_t need = (size_t) c[0].w + c[0].h;
        if (v->scratch_size < size) {
                uint8_t *p = realloc(v->scratch, size);
                if (!p)
                        return -ENOMEM;
                v->scratch = p;
                v->scratch_size = size;
        }
        if (v->map_size < need) {
                unsigned *p = realloc(v->map, need * sizeof *p);
                if (!p)
                        return -ENOMEM;
                v->map = p;
                v->map_size = need;
        }
        memcpy(v->scratch, data, size);
        for (int k = 0; k < 3; k++) {
                unsigned *xmap = v->map, *ymap = v->map + c[k].w;
                build_map(xmap, c[k].w, val[ZOOM], val[HFLIP]);
                build_map(ymap, c[k].h, val[ZOOM], val[VFLIP]);
                remap(data, v->scratch, &c[k], xmap, ymap);
        }
        return 0;
}

int virtual_controls_process(struct virtual_controls *v, uint32_t fourcc, unsigned width,
                             unsigned height, uint8_t *data) {
        struct component c[3];
        uint8_t lut[3][256];
        int val[N_CONTROLS];
        int r;

        r = components(fourcc, width, height, c);
        if (r < 0)
                return r;
        for (int i = 0; i < N_CONTROLS; i++)
                val[i] = atomic_load_explicit(&v->values[i], memory_order_relaxed);

        if (val[ZOOM] != 100 || val[HFLIP] || val[VFLIP]) {
                r = geometry(v, val, data, frame_size_for(fourcc, width, height), c);
                if (r < 0)
                        return r;
        }
        if (tone_tables(val, lut))
                apply_tables(data, c, lut);
        return 0;
}

static int backend_query(struct camera_device *d, struct camera_control_list *l) {
        return virtual_controls_query(virtual_camera_controls(d), l);
}

static int backend_apply(struct camera_device *d, const struct camera_control_value *val, size_t n,
                         size_t *bad_index) {
        return virtual_controls_set(virtual_camera_controls(d), val, n, bad_index);
}

/* No watch: nothing but SetControls changes these, and the caller knows about those. */
const struct camera_controls_backend virtual_controls_backend = {
        .query = backend_query,
        .apply = backend_apply,
};
