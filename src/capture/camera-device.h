/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "capture/frame.h"

/* A camera: the built-in virtual sensor or a V4L2 capture device. No D-Bus here.
 * The bus layer owns each camera_device; one session at a time streams from it. */

struct capture_format {
        uint32_t fourcc;  /* V4L2 fourcc */
        unsigned width, height;
        double max_fps;
};

struct camera_device_info {
        char *id;          /* stable: "virtual:0", "v4l2:<bus_info>" */
        char *name;        /* card name */
        char *driver;      /* "virtual", "vivid", "uvcvideo", … */
        char *device_path; /* "" for virtual cameras */
        struct capture_format *formats;
        size_t n_formats;
};

struct camera_device;
struct v4l2_ops; /* capture/v4l2-ops.h: swappable kernel interface for tests */

/* Called on the capture thread for every frame as the camera sent it (raw, or a checked
 * MJPEG frame), and, for an MJPEG stream whose pixels are needed, once more on the decode
 * thread for each frame decoded (YUV420/YUV422P, `compressed` = that camera frame). So a
 * frame the busy decoder drops still comes as MJPEG. Each consumer takes the frames
 * camera_frame_is_for() names. The frame is borrowed: take a ref to keep it. Must not
 * block; the two threads may run it at the same time. */
typedef void (*camera_frame_fn)(struct frame *f, void *userdata);

/* Whether a consumer takes f: one that needs pixels (preview, photo ring) every frame with
 * pixels (raw, or decoded), one that takes compressed frames (a recorder) every frame as
 * the camera sent it (raw, or MJPEG) and never a decoded one, so each camera frame reaches
 * each consumer once, and a recording's frames come in the camera's order. */
static inline bool camera_frame_is_for(const struct frame *f, bool needs_pixels) {
        return needs_pixels ? f->fourcc != V4L2_PIX_FMT_MJPEG : f->compressed == NULL;
}

/* Called on the capture thread at most once per start when streaming failed for good
 * (error is a negative errno, e.g. -ENODEV on unplug). The thread then ends by itself;
 * camera_device_stop() must still be called to join it. */
typedef void (*camera_error_fn)(int error, const char *message, void *userdata);

/* A built-in virtual camera "virtual:<index>" (capture/virtual-sensor.h): YUYV, NV12, YU12,
 * UYVY and MJPG (4:2:2 JPEGs without DHT, as UVC cameras send them) at 320x240 to 1920x1080
 * up to 30 fps, 2560x1440 and 3840x2160 up to 15 fps. Frame timestamps are the scene times,
 * so virtual_sensor_render_clean(frame->timestamp_us) gives a frame without noise. */
int camera_device_new_virtual(unsigned index, struct camera_device **ret);

/* Sensor noise of a virtual camera (default VIRTUAL_SENSOR_NOISE_SIGMA; 0 = clean frames).
 * -EINVAL for a V4L2 camera or sigma outside [0, 40]; -EBUSY while streaming. */
int camera_device_virtual_set_noise(struct camera_device *d, double sigma);

/* Opens and probes devnode (QUERYCAP, ENUM_FMT, ENUM_FRAMESIZES, ENUM_FRAMEINTERVALS) and
 * closes it again. -ENOTSUP when it is not a video capture device. ops NULL = libv4l2. */
int camera_device_new_v4l2(const char *devnode, const struct v4l2_ops *ops, struct camera_device **ret);

const struct camera_device_info *camera_device_get_info(const struct camera_device *d);

/* Whether the camera can deliver fourcc at width x height at fps (fps 0 = any). */
bool camera_device_supports(const struct camera_device *d, uint32_t fourcc, unsigned width,
                            unsigned height, double fps);

/* Whether an output needs pixels (preview, photo bursts). Only MJPEG streams care: with it
 * every camera JPEG is also decoded once, off the capture thread, and the decoded
 * YUV420/YUV422P frame (its `compressed` is the JPEG) delivered as well (camera_frame_fn).
 * Safe at any time, also while streaming; kept across starts. */
void camera_device_set_needs_pixels(struct camera_device *d, bool needs);

struct camera_stats {
        uint64_t delivered;      /* camera frames handed to the callback as they came */
        uint64_t corrupt;        /* MJPEG frames dropped as truncated or corrupt */
        uint64_t decode_dropped; /* MJPEG frames dropped because the decode queue was full */
        uint64_t decoded;        /* MJPEG frames decoded (and handed on decoded too) */
        uint64_t decode_cpu_ns;  /* CPU time the decode thread spent decoding */
};

/* Counters of the current (or last) stream; zeroed by camera_device_start(). */
void camera_device_get_stats(struct camera_device *d, struct camera_stats *ret);

/* False after an unplug or a fatal streaming error. */
bool camera_device_is_connected(const struct camera_device *d);

/* Opens the device (v4l2), sets the format and frame rate, starts the capture thread.
 * -EBUSY when already streaming; other negative errnos when the device refused. */
int camera_device_start(struct camera_device *d, const struct capture_format *fmt,
                        camera_frame_fn on_frame, camera_error_fn on_error, void *userdata);

/* Stops streaming and joins the capture thread; no callback runs after it returns.
 * Idempotent. Safe to call after an error callback. */
void camera_device_stop(struct camera_device *d);

struct camera_device *camera_device_free(struct camera_device *d);

static inline void camera_device_freep(struct camera_device **d) {
        if (*d)
                camera_device_free(*d);
}
