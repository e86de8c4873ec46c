/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/camera-device-private.h"
#include "capture/frame-pool.h"
#include "capture/v4l2-ops.h"

/* Internal to the V4L2 backend: v4l2-device.c probes, v4l2-stream.c streams. */

#define V4L2_WANT_BUFFERS 4u
#define V4L2_MIN_BUFFERS 2u
#define V4L2_MAX_BUFFERS 32u
/* poll() timeout of the capture thread; Stop also wakes it through an eventfd. */
#define V4L2_POLL_TIMEOUT_MS 1000

struct v4l2_mapping {
        void *start;
        size_t length;
};

/* The fourccs the engine takes from a device, in order of preference. */
#define V4L2_N_TAKEN 5
extern const uint32_t v4l2_taken_fourccs[V4L2_N_TAKEN];

struct v4l2_camera {
        const struct v4l2_ops *ops;
        char *devnode;
        /* Fourccs listed only through libv4l2's conversion (streamed through ops->open). */
        uint32_t emulated[V4L2_N_TAKEN];
        unsigned n_emulated;
        bool probing_emulated;

        /* Streaming state, valid between start and stop. */
        struct capture_format fmt;
        int fd;
        unsigned bytesperline;
        bool native; /* streamed through ops->open_native */
        struct v4l2_mapping buffers[V4L2_MAX_BUFFERS];
        unsigned n_buffers;
        bool streaming;
        struct frame_pool *pool;
        int wake_fd;
        pthread_t thread;

        /* Controls (v4l2-controls.c): a node of our own for them, open while streaming,
         * subscribed to control events that its watcher thread reads. Loop thread, except
         * that the watcher reads events from ctrl_fd. */
        int ctrl_fd;
        int ctrl_wake_fd;
        pthread_t ctrl_thread;
        bool ctrl_watching;
};

extern const struct camera_controls_backend v4l2_controls_backend;

/* The backend's start/stop (v4l2-stream.c). */
int v4l2_stream_start(struct camera_device *d, const struct capture_format *fmt);
void v4l2_stream_stop(struct camera_device *d);
