/* SPDX-License-Identifier: MIT */
/* vivid's picture controls set through camerad, seen in the preview frames: brightness in
 * the mean luma, contrast in its spread, saturation and hue in the chroma, the flips as
 * mirrored lines. */

#include "client-controls.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/videodev2.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-control-views.h"
#include "client-session.h"
#include "shared/macro.h"

/* ---- the pictures ---------------------------------------------------------------------- */

/* Waits for frames made after the last change (the frames queued in the driver and the
 * daemon are passed first) and returns a copy of the newest one's planes. */
static int fresh_frame(struct test_session *s, unsigned char **ret, char *detail, size_t size) {
        unsigned before = s->y4m.frames;
        long long deadline = monotonic_ms() + 20 * 1000;
        int r;

        while (s->y4m.frames < before + 8 && monotonic_ms() < deadline) {
                r = test_session_pump(s, 100, false, detail, size);
                if (r < 0)
                        return r;
                if (s->y4m.failed || s->stream_eof) {
                        snprintf(detail, size, "preview stream: %s", s->y4m.failed ? s->y4m.error : "closed");
                        return -EIO;
                }
        }
        if (s->y4m.frames < before + 8) {
                snprintf(detail, size, "only %u preview frames in 20 s", s->y4m.frames - before);
                return -ETIMEDOUT;
        }
        free(*ret);
        *ret = malloc(s->y4m.frame_size);
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, s->y4m.last, s->y4m.frame_size);
        return 0;
}

static double luma_mean(const struct y4m_reader *y, const unsigned char *f) {
        double sum = 0;
        for (size_t i = 0; i < (size_t) y->width * y->height; i++)
                sum += f[i];
        return sum / ((double) y->width * y->height);
}

static double luma_stddev(const struct y4m_reader *y, const unsigned char *f) {
        double mean = luma_mean(y, f), sum = 0;
        for (size_t i = 0; i < (size_t) y->width * y->height; i++)
                sum += (f[i] - mean) * (f[i] - mean);
        return sqrt(sum / ((double) y->width * y->height));
}

static size_t chroma_size(const struct y4m_reader *y) {
        return (y->frame_size - (size_t) y->width * y->height) / 2;
}

/* Mean distance of U and V from neutral grey: 0 for a colourless picture. */
static double chroma_deviation(const struct y4m_reader *y, const unsigned char *f) {
        const unsigned char *c = f + (size_t) y->width * y->height;
        double sum = 0;
        for (size_t i = 0; i < 2 * chroma_size(y); i++)
                sum += abs(c[i] - 128);
        return sum / (2.0 * chroma_size(y));
}

static double chroma_difference(const struct y4m_reader *y, const unsigned char *a, const unsigned char *b) {
        size_t off = (size_t) y->width * y->height;
        double sum = 0;
        for (size_t i = 0; i < 2 * chroma_size(y); i++)
                sum += abs(a[off + i] - b[off + i]);
        return sum / (2.0 * chroma_size(y));
}

/* Mean luma difference between a's line (row, or column when vertical) and b's, b read
 * backwards when mirrored. */
static double line_difference(const struct y4m_reader *y, const unsigned char *a, const unsigned char *b,
                              unsigned line, bool vertical, bool mirrored) {
        unsigned n = vertical ? y->height : y->width;
        double sum = 0;

        for (unsigned i = 0; i < n; i++) {
                unsigned j = mirrored ? n - 1 - i : i;
                size_t ia = vertical ? (size_t) i * y->width + line : (size_t) line * y->width + i;
                size_t ib = vertical ? (size_t) j * y->width + line : (size_t) line * y->width + j;
                sum += abs(a[ia] - b[ib]);
        }
        return sum / n;
}

/* Sets one control over D-Bus (checked against the kernel) and returns a fresh frame. */
static int frame_with(struct test_session *s, const char *devnode, const char *name, const char *value,
                      unsigned char **ret, char *detail, size_t size) {
        const struct control_setting set = { name, value };
        int r = set_and_verify(s, devnode, &set, 1, detail, size);

        return r < 0 ? r : fresh_frame(s, ret, detail, size);
}

int bus_check_controls_picture(const char *devnode, const char *camera, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ unsigned char *dark = NULL, *bright = NULL, *flat = NULL, *normal = NULL,
                                     *grey = NULL, *turned = NULL;
        struct test_session s = { .stream_fd = -1 };
        const struct y4m_reader *y = &s.y4m;
        double d_dark, d_bright, sd_flat, sd_normal, c_grey, c_normal, c_turned;
        int r;

        r = controls_session_start(&bus, camera, true, &s, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "brightness", "64", &dark, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "brightness", "192", &bright, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "brightness", "128", &normal, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "contrast", "32", &flat, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "contrast", "128", &normal, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "saturation", "0", &grey, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "saturation", "128", &normal, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "hue", "64", &turned, detail, size);
        if (r >= 0) {
                _cleanup_free_ unsigned char *back = NULL;
                r = frame_with(&s, devnode, "hue", "0", &back, detail, size);
        }
        if (r < 0)
                goto done;

        d_dark = luma_mean(y, dark);
        d_bright = luma_mean(y, bright);
        sd_flat = luma_stddev(y, flat);
        sd_normal = luma_stddev(y, normal);
        c_grey = chroma_deviation(y, grey);
        c_normal = chroma_deviation(y, normal);
        c_turned = chroma_difference(y, turned, normal);
        snprintf(detail, size,
                 "mean luma %.1f at brightness 64, %.1f at 192; luma stddev %.1f at contrast 32, %.1f at 128; "
                 "chroma off grey %.1f at saturation 0, %.1f at 128; hue 64 moves chroma by %.1f",
                 d_dark, d_bright, sd_flat, sd_normal, c_grey, c_normal, c_turned);
        if (d_bright < d_dark + 30 || sd_flat > 0.5 * sd_normal || c_grey > 2 || c_normal < 10 || c_turned < 5)
                r = -EINVAL;
done:
        test_session_done(&s);
        return r;
}

int bus_check_controls_flip(const char *devnode, const char *camera, char *detail, size_t size) {
        /* vivid's text overlay is turned off so that only the test pattern is compared. */
        static const struct control_setting no_text = { "osd-text-mode", "None" }, text = { "osd-text-mode", "All" };
        static const struct control_setting bars = { "test-pattern", "75% Colorbar" },
                                    stacked = { "test-pattern", "Horizontal 100% Colorbar" };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ unsigned char *plain = NULL, *mirrored = NULL, *upright = NULL, *upside = NULL;
        struct test_session s = { .stream_fd = -1 };
        const struct y4m_reader *y = &s.y4m;
        double h_same, h_mirror, v_same, v_mirror;
        unsigned row, column;
        int r;

        r = controls_session_start(&bus, camera, true, &s, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &no_text, 1, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &bars, 1, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "horizontal-flip", "false", &plain, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "horizontal-flip", "true", &mirrored, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &(struct control_setting) { "horizontal-flip", "false" }, 1, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &stacked, 1, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "vertical-flip", "false", &upright, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "vertical-flip", "true", &upside, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &(struct control_setting) { "vertical-flip", "false" }, 1, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &bars, 1, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &text, 1, detail, size);
        if (r < 0)
                goto done;

        row = y->height / 2;
        column = y->width / 2;
        h_same = line_difference(y, mirrored, plain, row, false, false);
        h_mirror = line_difference(y, mirrored, plain, row, false, true);
        v_same = line_difference(y, upside, upright, column, true, false);
        v_mirror = line_difference(y, upside, upright, column, true, true);
        snprintf(detail, size,
                 "horizontal-flip: row %u differs by %.1f as is, %.1f mirrored; vertical-flip (horizontal "
                 "bars): column %u differs by %.1f as is, %.1f mirrored",
                 row, h_same, h_mirror, column, v_same, v_mirror);
        if (h_same < 20 || h_mirror > 2 || v_same < 20 || v_mirror > 2)
                r = -EINVAL;
done:
        test_session_done(&s);
        return r;
}
