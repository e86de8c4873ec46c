/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>

#include "capture/camera-controls.h"
#include "capture/camera-device.h"
#include "capture/mjpeg-decode.h"

struct jpeg_decoder;
struct camera_controls_backend; /* capture/camera-controls-private.h */

/* The backend side of camera_device: the virtual sensor and V4L2 fill these in. */

struct camera_backend {
        /* Starts the capture thread for fmt (validated; fps resolved and > 0). */
        int (*start)(struct camera_device *d, const struct capture_format *fmt);
        /* Stops and joins the capture thread; releases the device. */
        void (*stop)(struct camera_device *d);
        void (*free_data)(void *data);
        const struct camera_controls_backend *controls; /* NULL: no controls */
};

struct camera_device {
        struct camera_device_info info;
        const struct camera_backend *backend;
        void *data; /* the backend's own state */

        atomic_bool connected;
        bool streaming;
        atomic_bool needs_pixels;

        /* MJPEG streams (camera-deliver.c): the check of each frame on the capture thread,
         * the decode stage, and the counters of camera_device_get_stats(). */
        struct jpeg_decoder *checker;
        struct mjpeg_decode_stage *decode;
        atomic_uint_fast64_t delivered, corrupt;
        struct mjpeg_decode_stats decode_stats; /* of the last stream, once it stopped */
        unsigned decode_test_delay_ms; /* $CAMERAD_TEST_DECODE_DELAY_MS: a slow decoder */
        atomic_bool error_reported;
        camera_frame_fn on_frame;
        camera_error_fn on_error;
        void *userdata;

        /* camera-controls.c: told about changes made elsewhere. */
        camera_controls_changed_fn controls_changed;
        void *controls_userdata;
};

/* A camera with info and backend set; takes ownership of data (freed by free_data). */
int camera_device_new_internal(const struct camera_backend *backend, void *data,
                               struct camera_device **ret);

/* Capture thread: hand a frame to the session's callback (borrowed). An MJPEG frame is
 * checked first (SOI, EOI, a header TurboJPEG reads, the stream's size; f->size is trimmed to
 * the EOI) and dropped and counted when damaged; when an output needs pixels it is also
 * queued for the decode stage, whose thread delivers the decoded frame. */
void camera_device_deliver(struct camera_device *d, struct frame *f);

/* camera_device_start/stop's MJPEG part: the checker and decode stage of a stream. */
int camera_device_mjpeg_start(struct camera_device *d, const struct capture_format *fmt);
void camera_device_mjpeg_stop(struct camera_device *d);

/* Capture thread: streaming failed for good. Marks the camera disconnected and runs the
 * error callback once per start. */
void camera_device_report_error(struct camera_device *d, int error, const char *message);

/* Orders info's formats as Camera.Formats lists them: highest frame rate first, then the
 * larger size, then the cheaper layout (raw before MJPEG, which needs decoding). */
void camera_device_sort_formats(struct camera_device *d);

/* Appends a format to info (no duplicates; a duplicate keeps the higher fps). */
int camera_device_add_format(struct camera_device *d, uint32_t fourcc, unsigned width,
                             unsigned height, double max_fps);
