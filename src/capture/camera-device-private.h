/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>

#include "capture/camera-device.h"

/* The backend side of camera_device: the virtual sensor and V4L2 fill these in. */

struct camera_backend {
        /* Starts the capture thread for fmt (validated; fps resolved and > 0). */
        int (*start)(struct camera_device *d, const struct capture_format *fmt);
        /* Stops and joins the capture thread; releases the device. */
        void (*stop)(struct camera_device *d);
        void (*free_data)(void *data);
};

struct camera_device {
        struct camera_device_info info;
        const struct camera_backend *backend;
        void *data; /* the backend's own state */

        atomic_bool connected;
        bool streaming;
        atomic_bool error_reported;
        camera_frame_fn on_frame;
        camera_error_fn on_error;
        void *userdata;
};

/* A camera with info and backend set; takes ownership of data (freed by free_data). */
int camera_device_new_internal(const struct camera_backend *backend, void *data,
                               struct camera_device **ret);

/* Capture thread: hand a frame to the session's callback (borrowed). */
static inline void camera_device_deliver(struct camera_device *d, struct frame *f) {
        d->on_frame(f, d->userdata);
}

/* Capture thread: streaming failed for good. Marks the camera disconnected and runs the
 * error callback once per start. */
void camera_device_report_error(struct camera_device *d, int error, const char *message);

/* Appends a format to info (no duplicates; a duplicate keeps the higher fps). */
int camera_device_add_format(struct camera_device *d, uint32_t fourcc, unsigned width,
                             unsigned height, double max_fps);
