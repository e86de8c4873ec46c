/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/v4l2-device.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Probing: which of the formats the engine takes the device gives natively (streamed as
 * they come), which only through libv4l2's conversion (listed only for sizes no native
 * format has), at which sizes and frame rates. */

const uint32_t v4l2_taken_fourccs[V4L2_N_TAKEN] = {
        V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_UYVY, V4L2_PIX_FMT_MJPEG,
};

/* Sizes picked from stepwise/continuous ranges, and tried when a device cannot enumerate. */
static const unsigned standard_sizes[][2] = {
        { 320, 240 }, { 640, 480 }, { 1280, 720 }, { 1920, 1080 }, { 2560, 1440 }, { 3840, 2160 },
};

/* Used when a device cannot enumerate frame intervals; S_PARM then asks for the rate and
 * the driver picks the nearest it has. */
#define V4L2_ASSUMED_FPS 30.0

static int xioctl(const struct v4l2_ops *ops, int fd, unsigned long request, void *arg) {
        int r;
        do
                r = ops->ioctl(fd, request, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? negative_errno() : r;
}

static double probe_max_fps(const struct v4l2_ops *ops, int fd, uint32_t fourcc, unsigned w, unsigned h) {
        double best = 0;

        for (unsigned i = 0; i < 64; i++) {
                struct v4l2_frmivalenum fi = { .index = i, .pixel_format = fourcc, .width = w, .height = h };
                if (xioctl(ops, fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) < 0)
                        break;
                const struct v4l2_fract *iv = fi.type == V4L2_FRMIVAL_TYPE_DISCRETE ? &fi.discrete
                                                                                    : &fi.stepwise.min;
                if (iv->numerator > 0 && iv->denominator > 0)
                        best = MAX(best, (double) iv->denominator / iv->numerator);
                if (fi.type != V4L2_FRMIVAL_TYPE_DISCRETE)
                        break;
        }
        return best > 0 ? best : V4L2_ASSUMED_FPS;
}

static bool size_ok(unsigned w, unsigned h) {
        return frame_size_for(V4L2_PIX_FMT_NV12, w, h) > 0;
}

static bool size_listed(const struct camera_device *d, unsigned w, unsigned h) {
        for (size_t i = 0; i < d->info.n_formats; i++)
                if (d->info.formats[i].width == w && d->info.formats[i].height == h)
                        return true;
        return false;
}

static int add_size(struct camera_device *d, int fd, uint32_t fourcc, unsigned w, unsigned h) {
        struct v4l2_camera *c = d->data;
        if (!size_ok(w, h))
                return 0;
        /* Converting costs libv4l2 a pass over every frame on our capture thread: only
         * where nothing native fits. */
        if (c->probing_emulated && size_listed(d, w, h))
                return 0;
        return camera_device_add_format(d, fourcc, w, h, probe_max_fps(c->ops, fd, fourcc, w, h));
}

/* Devices that cannot enumerate sizes: ask TRY_FMT about the standard ones. */
static int probe_sizes_by_try(struct camera_device *d, int fd, uint32_t fourcc) {
        struct v4l2_camera *c = d->data;
        for (size_t i = 0; i < ELEMENTSOF(standard_sizes); i++) {
                struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
                f.fmt.pix.width = standard_sizes[i][0];
                f.fmt.pix.height = standard_sizes[i][1];
                f.fmt.pix.pixelformat = fourcc;
                f.fmt.pix.field = V4L2_FIELD_ANY;
                if (xioctl(c->ops, fd, VIDIOC_TRY_FMT, &f) < 0)
                        continue;
                if (f.fmt.pix.pixelformat == fourcc && f.fmt.pix.width == standard_sizes[i][0] &&
                    f.fmt.pix.height == standard_sizes[i][1]) {
                        int r = add_size(d, fd, fourcc, f.fmt.pix.width, f.fmt.pix.height);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int probe_sizes(struct camera_device *d, int fd, uint32_t fourcc) {
        struct v4l2_camera *c = d->data;
        int r;

        for (unsigned i = 0; i < 256; i++) {
                struct v4l2_frmsizeenum fs = { .index = i, .pixel_format = fourcc };
                if (xioctl(c->ops, fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0)
                        return i == 0 ? probe_sizes_by_try(d, fd, fourcc) : 0;

                if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
                        r = add_size(d, fd, fourcc, fs.discrete.width, fs.discrete.height);
                        if (r < 0)
                                return r;
                        continue;
                }

                /* Stepwise or continuous: the standard sizes inside the range. */
                const struct v4l2_frmsize_stepwise *sw = &fs.stepwise;
                unsigned sx = MAX(sw->step_width, 1u), sy = MAX(sw->step_height, 1u);
                for (size_t k = 0; k < ELEMENTSOF(standard_sizes); k++) {
                        unsigned w = standard_sizes[k][0], h = standard_sizes[k][1];
                        if (w < sw->min_width || w > sw->max_width || h < sw->min_height ||
                            h > sw->max_height || (w - sw->min_width) % sx || (h - sw->min_height) % sy)
                                continue;
                        r = add_size(d, fd, fourcc, w, h);
                        if (r < 0)
                                return r;
                }
                return 0; /* a stepwise answer is the only one */
        }
        return 0;
}

static int taken_index(uint32_t fourcc) {
        for (int i = 0; i < V4L2_N_TAKEN; i++)
                if (v4l2_taken_fourccs[i] == fourcc)
                        return i;
        return -1;
}

static int probe(struct camera_device *d, int fd) {
        struct v4l2_camera *c = d->data;
        struct v4l2_capability cap = {};
        bool native[V4L2_N_TAKEN] = {}, emulated[V4L2_N_TAKEN] = {};
        int r;

        r = xioctl(c->ops, fd, VIDIOC_QUERYCAP, &cap);
        if (r < 0)
                return r == -ENOTTY ? -ENOTSUP : r;
        uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
        if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING))
                return -ENOTSUP;

        for (unsigned i = 0; i < 256; i++) {
                struct v4l2_fmtdesc fd_desc = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
                if (xioctl(c->ops, fd, VIDIOC_ENUM_FMT, &fd_desc) < 0)
                        break;
                int k = taken_index(fd_desc.pixelformat);
                if (k >= 0)
                        *(fd_desc.flags & V4L2_FMT_FLAG_EMULATED ? &emulated[k] : &native[k]) = true;
        }

        /* Native first; libv4l2's conversion only for what they leave out. */
        for (int k = 0; k < V4L2_N_TAKEN; k++)
                if (native[k]) {
                        r = probe_sizes(d, fd, v4l2_taken_fourccs[k]);
                        if (r < 0)
                                return r;
                }
        c->probing_emulated = true;
        for (int k = 0; k < V4L2_N_TAKEN; k++)
                if (emulated[k] && !native[k]) {
                        size_t before = d->info.n_formats;
                        r = probe_sizes(d, fd, v4l2_taken_fourccs[k]);
                        if (r < 0)
                                return r;
                        if (d->info.n_formats > before)
                                c->emulated[c->n_emulated++] = v4l2_taken_fourccs[k];
                }
        c->probing_emulated = false;
        if (d->info.n_formats == 0)
                return -ENOTSUP; /* nothing we can deliver (e.g. only Bayer without libv4l2) */
        camera_device_sort_formats(d);

        char card[sizeof cap.card + 1] = {}, driver[sizeof cap.driver + 1] = {},
             bus_info[sizeof cap.bus_info + 1] = {};
        memcpy(card, cap.card, sizeof cap.card);
        memcpy(driver, cap.driver, sizeof cap.driver);
        memcpy(bus_info, cap.bus_info, sizeof cap.bus_info);

        /* bus_info is stable across reboots; fall back to the node for odd drivers. */
        if (asprintf(&d->info.id, "v4l2:%s", bus_info[0] ? bus_info : c->devnode) < 0) {
                d->info.id = NULL;
                return -ENOMEM;
        }
        d->info.name = strdup(card);
        d->info.driver = strdup(driver);
        d->info.device_path = strdup(c->devnode);
        if (!d->info.name || !d->info.driver || !d->info.device_path)
                return -ENOMEM;

        log_debug("%s: %s (%s), %zu formats, %u of them converted by libv4l2", c->devnode, card,
                  driver, d->info.n_formats, c->n_emulated);
        return 0;
}

static void v4l2_free_data(void *data) {
        struct v4l2_camera *c = data;
        if (!c)
                return;
        free(c->devnode);
        free(c);
}

static const struct camera_backend v4l2_backend = {
        .start = v4l2_stream_start,
        .stop = v4l2_stream_stop,
        .free_data = v4l2_free_data,
        .controls = &v4l2_controls_backend,
};

int camera_device_new_v4l2(const char *devnode, const struct v4l2_ops *ops, struct camera_device **ret) {
        _cleanup_(camera_device_freep) struct camera_device *d = NULL;
        struct v4l2_camera *c;
        int r;

        if (!devnode)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->ops = ops ?: &v4l2_ops_libv4l2;
        c->fd = -1;
        c->wake_fd = -1;
        c->ctrl_fd = c->ctrl_wake_fd = -1;
        c->devnode = strdup(devnode);
        if (!c->devnode) {
                free(c);
                return -ENOMEM;
        }

        r = camera_device_new_internal(&v4l2_backend, c, &d);
        if (r < 0)
                return r;

        int fd = c->ops->open(devnode);
        if (fd < 0)
                return negative_errno();
        r = probe(d, fd);
        c->ops->close(fd);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}
