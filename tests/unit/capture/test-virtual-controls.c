/* SPDX-License-Identifier: MIT */
/* The virtual camera's controls change its picture: brightness raises the mean luma,
 * flips mirror, zoom magnifies the centre, saturation 0 leaves grey chroma; defaults leave
 * the picture alone. Also the list camera_device_get_controls() gives for it. */
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>

#include "capture/camera-device.h"
#include "capture/frame.h"
#include "capture/virtual-controls.h"
#include "capture/virtual-sensor.h"
#include "shared/macro.h"
#include "test-util.h"

#define W 320
#define H 240

static uint8_t *render(uint32_t fourcc) {
        struct virtual_sensor *s = NULL;
        uint8_t *p = malloc(frame_size_for(fourcc, W, H));
        check(p);
        check_ok(virtual_sensor_new(fourcc, W, H, 0, &s));
        virtual_sensor_render_clean(s, 1234567, p);
        virtual_sensor_free(s);
        return p;
}

/* Luma of pixel (x, y). */
static uint8_t luma(uint32_t fourcc, const uint8_t *p, unsigned x, unsigned y) {
        if (fourcc == V4L2_PIX_FMT_YUYV)
                return p[(size_t) y * W * 2 + x * 2];
        if (fourcc == V4L2_PIX_FMT_UYVY)
                return p[(size_t) y * W * 2 + x * 2 + 1];
        return p[(size_t) y * W + x];
}

static double mean_luma(uint32_t fourcc, const uint8_t *p) {
        double sum = 0;
        for (unsigned y = 0; y < H; y++)
                for (unsigned x = 0; x < W; x++)
                        sum += luma(fourcc, p, x, y);
        return sum / (W * H);
}

/* Every Cb and Cr sample equals v. */
static bool chroma_all(uint32_t fourcc, const uint8_t *p, uint8_t v) {
        size_t n = frame_size_for(fourcc, W, H);
        for (size_t i = 0; i < n; i++) {
                bool chroma = fourcc == V4L2_PIX_FMT_YUYV   ? i % 2 == 1
                            : fourcc == V4L2_PIX_FMT_UYVY ? i % 2 == 0
                                                          : i >= (size_t) W * H;
                if (chroma && p[i] != v)
                        return false;
        }
        return true;
}

static void set(struct virtual_controls *v, uint32_t id, int64_t value) {
        size_t bad;
        check_ok(virtual_controls_set(v, &(struct camera_control_value) { id, value }, 1, &bad));
}

static void test_format(uint32_t fourcc) {
        struct virtual_controls *v = NULL;
        size_t size = frame_size_for(fourcc, W, H);
        _cleanup_free_ uint8_t *clean = render(fourcc);
        _cleanup_free_ uint8_t *p = malloc(size);

        check(p);
        check_ok(virtual_controls_new(&v));

        /* Defaults: untouched. */
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        check(memcmp(p, clean, size) == 0);

        /* Brightness up: mean luma up by about the offset. */
        set(v, V4L2_CID_BRIGHTNESS, 200);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        double before = mean_luma(fourcc, clean), after = mean_luma(fourcc, p);
        fprintf(stderr, "  %.4s: mean luma %.1f → %.1f with brightness 200\n", (const char *) &fourcc, before, after);
        check(after > before + 40);
        set(v, V4L2_CID_BRIGHTNESS, 128);

        /* Contrast 0: flat grey luma. */
        set(v, V4L2_CID_CONTRAST, 0);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        check(luma(fourcc, p, 0, 0) == 128 && luma(fourcc, p, W - 1, H - 1) == 128);
        set(v, V4L2_CID_CONTRAST, 128);

        /* Saturation 0: grey chroma, luma kept. */
        set(v, V4L2_CID_SATURATION, 0);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        check(chroma_all(fourcc, p, 128));
        check(mean_luma(fourcc, p) == before);
        set(v, V4L2_CID_SATURATION, 128);

        /* Horizontal flip mirrors every row; vertical flip every column. */
        set(v, V4L2_CID_HFLIP, 1);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        for (unsigned y = 0; y < H; y += 7)
                for (unsigned x = 0; x < W; x++)
                        check(luma(fourcc, p, x, y) == luma(fourcc, clean, W - 1 - x, y));
        check(memcmp(p, clean, size) != 0);
        set(v, V4L2_CID_HFLIP, 0);
        set(v, V4L2_CID_VFLIP, 1);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        for (unsigned y = 0; y < H; y++)
                check(luma(fourcc, p, 5, y) == luma(fourcc, clean, 5, H - 1 - y));
        set(v, V4L2_CID_VFLIP, 0);

        /* Zoom 2x: the centre magnified, pixel (x, y) shows (W/4 + x/2, H/4 + y/2). */
        set(v, V4L2_CID_ZOOM_ABSOLUTE, 200);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        for (unsigned y = 0; y < H; y += 3)
                for (unsigned x = 0; x < W; x += 3)
                        check(luma(fourcc, p, x, y) == luma(fourcc, clean, W / 4 + x / 2, H / 4 + y / 2));
        set(v, V4L2_CID_ZOOM_ABSOLUTE, 100);

        /* Colour effects: black & white is grey chroma, negative inverts luma. */
        set(v, V4L2_CID_COLORFX, V4L2_COLORFX_BW);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        check(chroma_all(fourcc, p, 128));
        set(v, V4L2_CID_COLORFX, V4L2_COLORFX_NEGATIVE);
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        check(luma(fourcc, p, 3, 3) == 255 - luma(fourcc, clean, 3, 3));
        set(v, V4L2_CID_COLORFX, V4L2_COLORFX_NONE);

        /* Back at the defaults: untouched again. */
        memcpy(p, clean, size);
        check_ok(virtual_controls_process(v, fourcc, W, H, p));
        check(memcmp(p, clean, size) == 0);
        virtual_controls_free(v);
}

static void test_camera_list(void) {
        struct camera_device *d = NULL;
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        char *error = NULL;

        check_ok(camera_device_new_virtual(0, &d));
        check_ok(camera_device_get_controls(d, &l));
        static const char *const names[] = {
                "brightness", "contrast", "saturation", "color-effects", "horizontal-flip",
                "vertical-flip", "zoom-absolute",
        };
        check(l.n == ELEMENTSOF(names));
        for (size_t i = 0; i < l.n; i++)
                check(streq(l.items[i].name, names[i]));
        const struct camera_control *fx = camera_control_list_find(&l, "color-effects");
        check(fx->type == CAMERA_CONTROL_MENU && fx->n_menu == 4 && streq(fx->menu[2].name, "Sepia"));
        check(camera_control_list_find(&l, "horizontal-flip")->type == CAMERA_CONTROL_BOOLEAN);

        const struct camera_control_setting s[] = {
                { "brightness", CAMERA_VALUE_INTEGER, 180, NULL },
                { "color-effects", CAMERA_VALUE_NAME, 0, "sepia" },
        };
        check_ok(camera_device_set_controls(d, s, 2, &error));
        camera_control_list_done(&l);
        check_ok(camera_device_get_controls(d, &l));
        check(camera_control_list_find(&l, "brightness")->value == 180);
        check(camera_control_list_find(&l, "color-effects")->value == V4L2_COLORFX_SEPIA);

        const struct camera_control_setting bad[] = {
                { "contrast", CAMERA_VALUE_INTEGER, 10, NULL },
                { "zoom-absolute", CAMERA_VALUE_INTEGER, 401, NULL },
        };
        check_r(camera_device_set_controls(d, bad, 2, &error), -EINVAL);
        check(error && strstr(error, "zoom-absolute"));
        free(error);
        camera_control_list_done(&l);
        check_ok(camera_device_get_controls(d, &l));
        check(camera_control_list_find(&l, "contrast")->value == 128);
        camera_device_free(d);
}

int main(void) {
        test_format(V4L2_PIX_FMT_YUYV);
        test_format(V4L2_PIX_FMT_UYVY);
        test_format(V4L2_PIX_FMT_NV12);
        test_format(V4L2_PIX_FMT_YUV420);
        test_camera_list();
        return 0;
}
