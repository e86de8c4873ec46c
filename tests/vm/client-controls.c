/* SPDX-License-Identifier: MIT */
/* vivid's controls through camerad (Camera.Controls, Session.SetControls/GetControls)
 * against the kernel's own view (VIDIOC_QUERY_EXT_CTRL, VIDIOC_G_CTRL on the node), and
 * their effect on the preview frames. */

#include "client-controls.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/videodev2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "client-session.h"
#include "client-v4l2.h"
#include "shared/macro.h"

#define INVALID_ARGUMENT CAMERAD_SERVICE ".Error.InvalidArgument"

/* ---- the kernel's view --------------------------------------------------------------- */

struct kernel_control {
        int64_t min, max, step, def, value;
        uint32_t flags;
};

/* v4l2-ctl style name of a camerad control name ("gain-automatic" -> "gain_automatic"). */
static void kernel_name(const char *name, char *buf, size_t size) {
        snprintf(buf, size, "%s", name);
        for (char *p = buf; *p; p++)
                if (*p == '-')
                        *p = '_';
}

static int kernel_control(const char *devnode, const char *name, struct kernel_control *ret, char *detail,
                          size_t size) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_CLOEXEC);
        struct v4l2_query_ext_ctrl q = {};
        struct v4l2_control c = {};
        char kname[64];
        uint32_t type;
        int64_t id;

        if (fd < 0) {
                snprintf(detail, size, "%s: %s", devnode, strerror(errno));
                return -errno;
        }
        kernel_name(name, kname, sizeof kname);
        id = v4l2_find_control(fd, kname, &type);
        if (id < 0) {
                snprintf(detail, size, "the kernel has no control %s: %s", kname, strerror((int) -id));
                return (int) id;
        }
        q.id = c.id = (uint32_t) id;
        if (ioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) < 0 || ioctl(fd, VIDIOC_G_CTRL, &c) < 0) {
                snprintf(detail, size, "QUERY_EXT_CTRL/G_CTRL %s: %s", kname, strerror(errno));
                return -errno;
        }
        *ret = (struct kernel_control) { .min = q.minimum, .max = q.maximum, .step = (int64_t) q.step,
                                         .def = q.default_value, .value = c.value, .flags = q.flags };
        return 0;
}

static int kernel_value(const char *devnode, const char *name, int64_t *ret, char *detail, size_t size) {
        struct kernel_control k;
        int r = kernel_control(devnode, name, &k, detail, size);

        *ret = k.value;
        return r;
}

/* ---- camerad's view -------------------------------------------------------------------- */

struct listed_control {
        char type[16];
        int64_t min, max, step, def, value;
        int read_only, inactive;
};

static int skip_variant(sd_bus_message *m) {
        return sd_bus_message_skip(m, "v");
}

static int read_listed_control(sd_bus_message *m, struct listed_control *c) {
        const char *key, *contents;
        int r;

        *c = (struct listed_control) { .read_only = -1, .inactive = -1 };
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                int64_t *x = streq(key, "min") ? &c->min : streq(key, "max") ? &c->max
                           : streq(key, "step") ? &c->step : streq(key, "default") ? &c->def
                           : streq(key, "value") ? &c->value : NULL;
                if (x && streq(contents, "x"))
                        r = sd_bus_message_read(m, "v", "x", x);
                else if (streq(key, "type") && streq(contents, "s")) {
                        const char *t;
                        r = sd_bus_message_read(m, "v", "s", &t);
                        if (r >= 0)
                                snprintf(c->type, sizeof c->type, "%s", t);
                } else if ((streq(key, "read-only") || streq(key, "inactive")) && streq(contents, "b")) {
                        int b;
                        r = sd_bus_message_read(m, "v", "b", &b);
                        *(streq(key, "read-only") ? &c->read_only : &c->inactive) = b;
                } else
                        r = skip_variant(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Camera.Controls[name]; -ENOENT when the camera lists no such control. */
static int listed_control(sd_bus *bus, const char *camera, const char *name, struct listed_control *ret,
                          char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *key;
        int r;

        r = sd_bus_get_property(bus, CAMERAD_SERVICE, camera, CAMERAD_IFACE_CAMERA, "Controls", &e, &reply,
                                "a{sa{sv}}");
        if (r < 0)
                return report_bus_error(detail, size, "Camera.Controls", &e, r);
        r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        break;
                if (streq(key, name))
                        return read_listed_control(reply, ret) < 0
                                       ? report_bus_error(detail, size, "Camera.Controls entry", NULL, -EBADMSG)
                                       : 0;
                r = sd_bus_message_skip(reply, "a{sv}");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return report_bus_error(detail, size, "Camera.Controls reply", NULL, r);
        snprintf(detail, size, "Camera.Controls has no %s", name);
        return -ENOENT;
}

/* GetControls()[name] (x for every type). */
static int session_control(struct test_session *s, const char *name, int64_t *ret, char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *key;
        int r;

        r = sd_bus_call_method(s->bus, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION, "GetControls", &e,
                               &reply, "");
        if (r < 0)
                return report_bus_error(detail, size, "GetControls", &e, r);
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && streq(key, name)) {
                        r = sd_bus_message_read(reply, "v", "x", ret);
                        if (r < 0)
                                return report_bus_error(detail, size, "GetControls value (not x?)", NULL, r);
                        return 0;
                }
                if (r >= 0)
                        r = skip_variant(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return report_bus_error(detail, size, "GetControls reply", NULL, r);
        snprintf(detail, size, "GetControls has no %s", name);
        return -ENOENT;
}

/* One SetControls entry: value as text, sent as x for a number, b for true/false, else s. */
struct setting {
        const char *name;
        const char *value;
};

static int set_controls(struct test_session *s, const struct setting *set, size_t n, sd_bus_error *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(s->bus, &m, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION,
                                           "SetControls");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char *end;
                long long x = strtoll(set[i].value, &end, 10);

                if (*set[i].value && *end == 0)
                        r = sd_bus_message_append(m, "{sv}", set[i].name, "x", (int64_t) x);
                else if (streq(set[i].value, "true") || streq(set[i].value, "false"))
                        r = sd_bus_message_append(m, "{sv}", set[i].name, "b", streq(set[i].value, "true"));
                else
                        r = sd_bus_message_append(m, "{sv}", set[i].name, "s", set[i].value);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_call(s->bus, m, 0, e, NULL);
}

/* SetControls, then each numeric value read back through GetControls and the kernel. */
static int set_and_verify(struct test_session *s, const char *devnode, const struct setting *set, size_t n,
                          char *detail, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = set_controls(s, set, n, &e);

        if (r < 0)
                return report_bus_error(detail, size, "SetControls", &e, r);
        for (size_t i = 0; i < n; i++) {
                char *end;
                int64_t want = strtoll(set[i].value, &end, 10), got, kernel;

                if (streq(set[i].value, "true") || streq(set[i].value, "false"))
                        want = streq(set[i].value, "true");
                else if (*end)
                        continue; /* a menu item by name: the caller checks the picture */
                r = session_control(s, set[i].name, &got, detail, size);
                if (r < 0)
                        return r;
                r = kernel_value(devnode, set[i].name, &kernel, detail, size);
                if (r < 0)
                        return r;
                if (got != want || kernel != want) {
                        snprintf(detail, size, "SetControls %s=%s: GetControls says %" PRId64 ", the kernel %" PRId64,
                                 set[i].name, set[i].value, got, kernel);
                        return -EIO;
                }
        }
        return 0;
}

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

/* Detail for a SetControls that should have been refused with InvalidArgument. */
static void refusal_missing(char *detail, size_t size, const char *what, const sd_bus_error *e, int r) {
        if (r >= 0)
                snprintf(detail, size, "%s: it succeeded", what);
        else
                (void) report_bus_error(detail, size, what, e, r);
}

/* ---- the checks ------------------------------------------------------------------------ */

/* The controls item 5 of the README names, in camerad's spelling. */
static const char *const tested[] = { "brightness", "contrast", "saturation", "hue", "horizontal-flip",
                                      "vertical-flip", "gain-automatic", "gain" };

static int start_session(sd_bus **bus, const char *camera, bool stream, struct test_session *s, char *detail,
                         size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_open_system(bus);

        if (r < 0)
                return report_bus_error(detail, size, "connecting to the system bus", NULL, r);
        r = test_session_open(*bus, camera, "YUYV", 640, 480, false, s, detail, size);
        if (r < 0 || !stream)
                return r;
        s->y4m.keep_last = true;
        r = test_session_call(s, "Start", &e);
        if (r < 0)
                return report_bus_error(detail, size, "Start", &e, r);
        return test_session_open_stream(s, detail, size);
}

int bus_check_controls_listed(const char *devnode, const char *camera, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);

        if (r < 0)
                return report_bus_error(detail, size, "connecting to the system bus", NULL, r);
        for (size_t i = 0; i < ELEMENTSOF(tested); i++) {
                struct listed_control l;
                struct kernel_control k;
                bool boolean = streq(tested[i], "horizontal-flip") || streq(tested[i], "vertical-flip") ||
                               streq(tested[i], "gain-automatic");

                r = listed_control(bus, camera, tested[i], &l, detail, size);
                if (r < 0)
                        return r;
                r = kernel_control(devnode, tested[i], &k, detail, size);
                if (r < 0)
                        return r;
                if (!streq(l.type, boolean ? "boolean" : "integer") || l.min != k.min || l.max != k.max ||
                    l.step != k.step || l.def != k.def || l.value != k.value ||
                    l.inactive != !!(k.flags & V4L2_CTRL_FLAG_INACTIVE) ||
                    l.read_only != !!(k.flags & V4L2_CTRL_FLAG_READ_ONLY)) {
                        snprintf(detail, size,
                                 "%s: Camera.Controls %s %" PRId64 "..%" PRId64 "/%" PRId64 " default %" PRId64
                                 " value %" PRId64 " inactive %d read-only %d; kernel %" PRId64 "..%" PRId64
                                 "/%" PRId64 " default %" PRId64 " value %" PRId64 " flags 0x%x",
                                 tested[i], l.type, l.min, l.max, l.step, l.def, l.value, l.inactive, l.read_only,
                                 k.min, k.max, k.step, k.def, k.value, k.flags);
                        return -EINVAL;
                }
        }
        snprintf(detail, size, "%zu controls (brightness ... gain) listed with the kernel's type, range, step, "
                 "default, value and flags", ELEMENTSOF(tested));
        return 0;
}

/* Sets one control over D-Bus (checked against the kernel) and returns a fresh frame. */
static int frame_with(struct test_session *s, const char *devnode, const char *name, const char *value,
                      unsigned char **ret, char *detail, size_t size) {
        const struct setting set = { name, value };
        int r = set_and_verify(s, devnode, &set, 1, detail, size);

        return r < 0 ? r : fresh_frame(s, ret, detail, size);
}

int bus_check_controls_picture(const char *devnode, const char *camera, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ unsigned char *dark = NULL, *bright = NULL, *flat = NULL, *normal = NULL,
                                     *grey = NULL, *turned = NULL;
        struct test_session s = {};
        const struct y4m_reader *y = &s.y4m;
        double d_dark, d_bright, sd_flat, sd_normal, c_grey, c_normal, c_turned;
        int r;

        r = start_session(&bus, camera, true, &s, detail, size);
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
        /* vivid's text overlay is drawn after the flip: turned off so whole lines compare. */
        static const struct setting no_text = { "osd-text-mode", "None" }, text = { "osd-text-mode", "All" };
        static const struct setting bars = { "test-pattern", "75% Colorbar" },
                                    stacked = { "test-pattern", "Horizontal 100% Colorbar" };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ unsigned char *plain = NULL, *mirrored = NULL, *upright = NULL, *upside = NULL;
        struct test_session s = {};
        const struct y4m_reader *y = &s.y4m;
        double h_same, h_mirror, v_same, v_mirror;
        unsigned row, column;
        int r;

        r = start_session(&bus, camera, true, &s, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &no_text, 1, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &bars, 1, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "horizontal-flip", "false", &plain, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "horizontal-flip", "true", &mirrored, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &(struct setting) { "horizontal-flip", "false" }, 1, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &stacked, 1, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "vertical-flip", "false", &upright, detail, size);
        if (r >= 0)
                r = frame_with(&s, devnode, "vertical-flip", "true", &upside, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &(struct setting) { "vertical-flip", "false" }, 1, detail, size);
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

static int expect_inactive(sd_bus *bus, const char *devnode, const char *camera, bool want, char *detail,
                           size_t size) {
        struct listed_control l;
        struct kernel_control k;
        int r = listed_control(bus, camera, "gain", &l, detail, size);

        if (r >= 0)
                r = kernel_control(devnode, "gain", &k, detail, size);
        if (r < 0)
                return r;
        if (l.inactive != want || !!(k.flags & V4L2_CTRL_FLAG_INACTIVE) != want) {
                snprintf(detail, size, "gain: Camera.Controls inactive=%d, kernel flags 0x%x, want inactive=%d",
                         l.inactive, k.flags, want);
                return -EINVAL;
        }
        return 0;
}

int bus_check_controls_autogain(const char *devnode, const char *camera, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct test_session s = {};
        const struct setting auto_on = { "gain-automatic", "true" }, gain = { "gain", "50" };
        const struct setting manual[] = { { "gain-automatic", "false" }, { "gain", "50" } };
        char refused[256] = "";
        int64_t autogain = -1;
        int r;

        r = start_session(&bus, camera, false, &s, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &auto_on, 1, detail, size);
        if (r >= 0)
                r = expect_inactive(bus, devnode, camera, true, detail, size);
        if (r < 0)
                goto done;
        /* gain alone while autogain is on: inactive, refused, nothing changes. */
        r = set_controls(&s, &gain, 1, &e);
        if (r >= 0 || !sd_bus_error_has_name(&e, INVALID_ARGUMENT) || !strstr(e.message ?: "", "gain")) {
                refusal_missing(detail, size, "SetControls gain=50 with autogain on (want InvalidArgument)", &e, r);
                r = -EINVAL;
                goto done;
        }
        snprintf(refused, sizeof refused, "%s", e.message);
        r = kernel_value(devnode, "gain-automatic", &autogain, detail, size);
        if (r < 0)
                goto done;
        if (autogain != 1) {
                snprintf(detail, size, "a refused SetControls changed gain_automatic to %" PRId64, autogain);
                r = -EIO;
                goto done;
        }
        /* Turning autogain off in the same call makes gain settable. */
        r = set_and_verify(&s, devnode, manual, ELEMENTSOF(manual), detail, size);
        if (r >= 0)
                r = expect_inactive(bus, devnode, camera, false, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &auto_on, 1, detail, size);
        if (r >= 0)
                r = expect_inactive(bus, devnode, camera, true, detail, size);
        if (r >= 0)
                snprintf(detail, size, "gain inactive under gain-automatic (both views); gain alone refused "
                         "(\"%s\"); gain-automatic=false + gain=50 in one call applied; back to automatic",
                         refused);
done:
        test_session_done(&s);
        return r;
}

int bus_check_controls_invalid(const char *devnode, const char *camera, char *detail, size_t size) {
        static const struct {
                struct setting set[2];
                size_t n;
                const char *named; /* the control the error message must name */
        } bad[] = {
                { { { "brightness", "999" } }, 1, "brightness" },
                { { { "contrast", "100" }, { "brightness", "-1" } }, 2, "brightness" },
                { { { "contrast", "100" }, { "no-such-control", "1" } }, 2, "no-such-control" },
                { { { "saturation", "100" }, { "brightness", "bright" } }, 2, "brightness" },
                { { { "hue", "10" }, { "horizontal-flip", "2" } }, 2, "horizontal-flip" },
                { { { "hue", "10" }, { "horizontal-flip", "yes" } }, 2, "horizontal-flip" },
        };
        static const char *const watched[] = { "brightness", "contrast", "saturation", "hue", "horizontal-flip" };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct test_session s = {};
        int64_t before[ELEMENTSOF(watched)];
        int r;

        r = start_session(&bus, camera, false, &s, detail, size);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(watched); i++)
                r = kernel_value(devnode, watched[i], &before[i], detail, size);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(bad); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                r = set_controls(&s, bad[i].set, bad[i].n, &e);
                if (r >= 0 || !sd_bus_error_has_name(&e, INVALID_ARGUMENT) ||
                    !strstr(e.message ?: "", bad[i].named)) {
                        char what[128];
                        snprintf(what, sizeof what, "SetControls %s=%s%s%s%s (want InvalidArgument naming %s)",
                                 bad[i].set[0].name, bad[i].set[0].value, bad[i].n > 1 ? ", " : "",
                                 bad[i].n > 1 ? bad[i].set[1].name : "", bad[i].n > 1 ? "=..." : "", bad[i].named);
                        refusal_missing(detail, size, what, &e, r);
                        r = -EINVAL;
                        break;
                }
                r = 0;
                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(watched); k++) {
                        int64_t now, listed;
                        r = kernel_value(devnode, watched[k], &now, detail, size);
                        if (r >= 0)
                                r = session_control(&s, watched[k], &listed, detail, size);
                        if (r >= 0 && (now != before[k] || listed != before[k])) {
                                snprintf(detail, size, "after a refused SetControls (%s...) %s is %" PRId64
                                         " (GetControls %" PRId64 "), was %" PRId64,
                                         bad[i].set[0].name, watched[k], now, listed, before[k]);
                                r = -EIO;
                        }
                }
        }
        if (r >= 0)
                snprintf(detail, size, "%zu bad sets (out of range, unknown name, wrong type, bad boolean) "
                         "refused with InvalidArgument naming the control; kernel values unchanged",
                         ELEMENTSOF(bad));
        test_session_done(&s);
        return r;
}

int bus_set_controls(const char *camera, char **args, int n, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ struct setting *set = calloc((size_t) n, sizeof *set);
        struct test_session s = {};
        int r;

        if (!set)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                char *eq = strchr(args[i], '=');
                if (!eq) {
                        snprintf(detail, size, "%s: not NAME=VALUE", args[i]);
                        return -EINVAL;
                }
                *eq = 0;
                set[i] = (struct setting) { args[i], eq + 1 };
        }
        r = start_session(&bus, camera, false, &s, detail, size);
        if (r >= 0) {
                r = set_controls(&s, set, (size_t) n, &e);
                if (r < 0)
                        report_bus_error(detail, size, "SetControls", &e, r);
                else
                        snprintf(detail, size, "SetControls of %d controls returned", n);
        }
        test_session_done(&s);
        return r;
}
