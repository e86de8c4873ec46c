/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>
#include <stdlib.h>

#include "capture/camera-controls-private.h"
#include "capture/camera-device-private.h"
#include "capture/frame.h"
#include "shared/log.h"
#include "shared/macro.h"

int camera_device_new_internal(const struct camera_backend *backend, void *data,
                               struct camera_device **ret) {
        struct camera_device *d = calloc(1, sizeof *d);
        if (!d) {
                backend->free_data(data);
                return -ENOMEM;
        }
        d->backend = backend;
        d->data = data;
        atomic_init(&d->connected, true);
        atomic_init(&d->error_reported, false);
        atomic_init(&d->needs_pixels, false);
        atomic_init(&d->delivered, 0);
        atomic_init(&d->corrupt, 0);
        *ret = d;
        return 0;
}

int camera_device_add_format(struct camera_device *d, uint32_t fourcc, unsigned width,
                             unsigned height, double max_fps) {
        struct camera_device_info *info = &d->info;

        for (size_t i = 0; i < info->n_formats; i++) {
                struct capture_format *f = &info->formats[i];
                if (f->fourcc == fourcc && f->width == width && f->height == height) {
                        f->max_fps = MAX(f->max_fps, max_fps);
                        return 0;
                }
        }
        struct capture_format *n = realloc(info->formats, (info->n_formats + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        n[info->n_formats++] = (struct capture_format) { fourcc, width, height, max_fps };
        info->formats = n;
        return 0;
}

static int layout_rank(uint32_t fourcc) {
        static const uint32_t order[] = {
                V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_UYVY, V4L2_PIX_FMT_MJPEG,
        };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (order[i] == fourcc)
                        return (int) i;
        return (int) ELEMENTSOF(order);
}

static int compare_formats(const void *a, const void *b) {
        const struct capture_format *x = a, *y = b;
        uint64_t ax = (uint64_t) x->width * x->height, ay = (uint64_t) y->width * y->height;

        if (x->max_fps != y->max_fps)
                return x->max_fps > y->max_fps ? -1 : 1;
        if (ax != ay)
                return ax > ay ? -1 : 1;
        return layout_rank(x->fourcc) - layout_rank(y->fourcc);
}

void camera_device_sort_formats(struct camera_device *d) {
        if (d->info.n_formats > 1)
                qsort(d->info.formats, d->info.n_formats, sizeof *d->info.formats, compare_formats);
}

const struct camera_device_info *camera_device_get_info(const struct camera_device *d) {
        return &d->info;
}

static const struct capture_format *find_format(const struct camera_device *d, uint32_t fourcc,
                                                unsigned width, unsigned height) {
        for (size_t i = 0; i < d->info.n_formats; i++) {
                const struct capture_format *f = &d->info.formats[i];
                if (f->fourcc == fourcc && f->width == width && f->height == height)
                        return f;
        }
        return NULL;
}

bool camera_device_supports(const struct camera_device *d, uint32_t fourcc, unsigned width,
                            unsigned height, double fps) {
        const struct capture_format *f = find_format(d, fourcc, width, height);
        if (!f)
                return false;
        if (fps == 0)
                return true;
        /* Rounding slack: 29.97 vs 30000/1001 and friends. */
        return isfinite(fps) && fps > 0 && fps <= f->max_fps * 1.001;
}

bool camera_device_is_connected(const struct camera_device *d) {
        return atomic_load(&d->connected);
}

void camera_device_report_error(struct camera_device *d, int error, const char *message) {
        atomic_store(&d->connected, false);
        if (atomic_exchange(&d->error_reported, true))
                return;
        log_warning_errno(error, "Camera %s: %s", d->info.id, message);
        if (d->on_error)
                d->on_error(error, message, d->userdata);
}

int camera_device_start(struct camera_device *d, const struct capture_format *fmt,
                        camera_frame_fn on_frame, camera_error_fn on_error, void *userdata) {
        if (!fmt || !on_frame)
                return -EINVAL;
        if (d->streaming)
                return -EBUSY;

        const struct capture_format *known = find_format(d, fmt->fourcc, fmt->width, fmt->height);
        if (!known || !camera_device_supports(d, fmt->fourcc, fmt->width, fmt->height, fmt->max_fps))
                return -EINVAL;

        struct capture_format resolved = *fmt;
        if (resolved.max_fps == 0)
                resolved.max_fps = known->max_fps;

        d->on_frame = on_frame;
        d->on_error = on_error;
        d->userdata = userdata;
        atomic_store(&d->error_reported, false);
        atomic_store(&d->delivered, 0);
        atomic_store(&d->corrupt, 0);
        int r = camera_device_mjpeg_start(d, &resolved);
        if (r < 0)
                return r;

        /* Set before the thread runs, so an early error report is not overwritten. */
        bool was_connected = atomic_exchange(&d->connected, true);
        r = d->backend->start(d, &resolved);
        if (r < 0) {
                camera_device_mjpeg_stop(d);
                if (r != -ENODEV && r != -ENOENT && r != -ENXIO)
                        atomic_store(&d->connected, was_connected);
                else
                        atomic_store(&d->connected, false);
                return r;
        }
        d->streaming = true;
        camera_controls_watch(d);
        return 0;
}

void camera_device_stop(struct camera_device *d) {
        if (!d || !d->streaming)
                return;
        camera_controls_unwatch(d);
        d->backend->stop(d);
        camera_device_mjpeg_stop(d);
        d->streaming = false;
}

struct camera_device *camera_device_free(struct camera_device *d) {
        if (!d)
                return NULL;
        camera_device_stop(d);
        d->backend->free_data(d->data);
        free(d->info.id);
        free(d->info.name);
        free(d->info.driver);
        free(d->info.device_path);
        free(d->info.formats);
        free(d);
        return NULL;
}
