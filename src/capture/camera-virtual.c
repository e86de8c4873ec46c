/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "capture/camera-device-private.h"
#include "capture/frame-pool.h"
#include "capture/virtual-controls.h"
#include "capture/virtual-sensor.h"
#include "media/jpeg-markers.h"
#include "media/jpeg.h"
#include "shared/log.h"
#include "shared/macro.h"

/* The built-in camera: a virtual_sensor paced in real time on its own thread. Its MJPG
 * frames are made like a UVC camera's: the scene drawn as YUYV, encoded 4:2:2 and sent
 * without Huffman tables. */

#define VIRTUAL_MAX_FPS 30.0
/* Above 1080p: the rate of common 4K webcams, and what one core can draw and encode. */
#define VIRTUAL_MAX_FPS_LARGE 15.0
#define VIRTUAL_MJPEG_QUALITY 85
/* Sleep at most this long at once so Stop is prompt even at low frame rates. */
#define STOP_CHECK_NS (50 * 1000 * 1000LL)

struct virtual_camera {
        double noise_sigma;
        struct capture_format fmt;
        struct virtual_sensor *sensor;
        struct frame_pool *pool;
        /* MJPG only: the drawn picture and its JPEG before the DHT goes. */
        struct frame *raw;
        struct jpeg_encoder *encoder;
        struct jpeg_buffer jpeg;
        pthread_t thread;
        atomic_bool stop;
        struct virtual_controls *controls; /* virtual-controls.c: applied to every picture */
};

static const unsigned virtual_sizes[][2] = {
        { 320, 240 }, { 640, 480 }, { 1280, 720 }, { 1920, 1080 }, { 2560, 1440 }, { 3840, 2160 },
};

static int64_t timespec_ns(const struct timespec *ts) {
        return (int64_t) ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static struct timespec ns_timespec(int64_t ns) {
        return (struct timespec) { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
}

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return timespec_ns(&ts);
}

/* Sleeps until deadline (absolute, CLOCK_MONOTONIC) unless asked to stop; false on stop. */
static bool sleep_until(struct virtual_camera *v, int64_t deadline) {
        for (;;) {
                if (atomic_load_explicit(&v->stop, memory_order_relaxed))
                        return false;
                int64_t now = now_ns();
                if (now >= deadline)
                        return true;
                struct timespec ts = ns_timespec(MIN(deadline, now + STOP_CHECK_NS));
                /* EINTR just loops; the absolute deadline keeps the schedule. */
                (void) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
}

/* MJPG: draws the scene for f's time, encodes it, and leaves the JPEG without DHT in f. */
static int encode_frame(struct virtual_camera *v, struct frame *f) {
        virtual_sensor_render(v->sensor, f->timestamp_us, v->raw->data);
        (void) virtual_controls_process(v->controls, V4L2_PIX_FMT_YUYV, f->width, f->height, v->raw->data);
        int r = jpeg_encode_yuyv(v->encoder, v->raw->data, f->width, f->height, v->raw->stride,
                                 VIRTUAL_MJPEG_QUALITY, &v->jpeg);
        if (r < 0)
                return r;
        if (v->jpeg.size > frame_size_for(V4L2_PIX_FMT_MJPEG, f->width, f->height))
                return -E2BIG;
        long n = jpeg_strip_dht(v->jpeg.data, v->jpeg.size, f->data);
        if (n < 0)
                return (int) n;
        f->size = (size_t) n;
        return 0;
}

static void *virtual_thread(void *userdata) {
        struct camera_device *d = userdata;
        struct virtual_camera *v = d->data;
        int64_t period = (int64_t) (1e9 / v->fmt.max_fps + 0.5);
        int64_t next = now_ns();
        uint64_t sequence = 0;

        while (sleep_until(v, next)) {
                struct frame *f = frame_pool_get(v->pool);
                if (!f) {
                        camera_device_report_error(d, -ENOMEM, "out of memory for frames");
                        break;
                }
                /* The timestamp is the scheduled exposure time: the scene is rendered for it,
                 * so the clean picture of this frame can be made again from it. */
                f->timestamp_us = (uint64_t) (next / 1000);
                f->sequence = sequence++;
                if (v->raw) {
                        int r = encode_frame(v, f);
                        if (r < 0) {
                                frame_unref(f);
                                camera_device_report_error(d, r, "encoding a frame failed");
                                break;
                        }
                } else {
                        virtual_sensor_render(v->sensor, f->timestamp_us, f->data);
                        (void) virtual_controls_process(v->controls, f->fourcc, f->width, f->height, f->data);
                }
                camera_device_deliver(d, f);
                frame_unref(f);

                next += period;
                /* Fell behind by more than a frame (stopped VM, overload): skip ahead
                 * instead of bursting out the backlog. */
                int64_t now = now_ns();
                if (now - next > period)
                        next = now;
        }
        return NULL;
}

static void free_encoding(struct virtual_camera *v) {
        v->raw = frame_unref(v->raw);
        v->encoder = jpeg_encoder_free(v->encoder);
        jpeg_buffer_done(&v->jpeg);
}

static int virtual_start(struct camera_device *d, const struct capture_format *fmt) {
        struct virtual_camera *v = d->data;
        int r;

        bool mjpeg = fmt->fourcc == V4L2_PIX_FMT_MJPEG;
        r = virtual_sensor_new(mjpeg ? V4L2_PIX_FMT_YUYV : fmt->fourcc, fmt->width, fmt->height,
                               v->noise_sigma, &v->sensor);
        if (r < 0)
                return r;
        if (mjpeg) {
                v->raw = frame_new(V4L2_PIX_FMT_YUYV, fmt->width, fmt->height);
                r = v->raw ? jpeg_encoder_new(&v->encoder) : -ENOMEM;
                if (r < 0)
                        goto fail;
        }
        /* Enough idle frames for a full photo ring plus what outputs hold in flight. */
        r = frame_pool_new(fmt->fourcc, fmt->width, fmt->height, 24, &v->pool);
        if (r < 0)
                goto fail;

        v->fmt = *fmt;
        atomic_store(&v->stop, false);
        r = -pthread_create(&v->thread, NULL, virtual_thread, d);
        if (r < 0)
                goto fail;
        return 0;

fail:
        frame_pool_free(TAKE_PTR(v->pool));
        free_encoding(v);
        v->sensor = virtual_sensor_free(v->sensor);
        return r;
}

static void virtual_stop(struct camera_device *d) {
        struct virtual_camera *v = d->data;

        atomic_store(&v->stop, true);
        pthread_join(v->thread, NULL);
        frame_pool_free(TAKE_PTR(v->pool));
        free_encoding(v);
        v->sensor = virtual_sensor_free(v->sensor);
}

static void virtual_free_data(void *data) {
        struct virtual_camera *v = data;
        if (v)
                virtual_controls_free(v->controls);
        free(v);
}

struct virtual_controls *virtual_camera_controls(struct camera_device *d) {
        return ((struct virtual_camera *) d->data)->controls;
}

static const struct camera_backend virtual_backend = {
        .start = virtual_start,
        .stop = virtual_stop,
        .free_data = virtual_free_data,
        .controls = &virtual_controls_backend,
};

int camera_device_new_virtual(unsigned index, struct camera_device **ret) {
        _cleanup_(camera_device_freep) struct camera_device *d = NULL;
        struct virtual_camera *v;
        int r;

        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        v->noise_sigma = VIRTUAL_SENSOR_NOISE_SIGMA;
        atomic_init(&v->stop, false);
        r = virtual_controls_new(&v->controls);
        if (r < 0) {
                free(v);
                return r;
        }

        r = camera_device_new_internal(&virtual_backend, v, &d);
        if (r < 0)
                return r;

        if (asprintf(&d->info.id, "virtual:%u", index) < 0) {
                d->info.id = NULL;
                return -ENOMEM;
        }
        if (asprintf(&d->info.name, "Virtual Camera %u", index) < 0) {
                d->info.name = NULL;
                return -ENOMEM;
        }
        d->info.driver = strdup("virtual");
        d->info.device_path = strdup("");
        if (!d->info.driver || !d->info.device_path)
                return -ENOMEM;

        static const uint32_t fourccs[] = {
                V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_UYVY,
                V4L2_PIX_FMT_MJPEG,
        };
        for (size_t i = 0; i < ELEMENTSOF(fourccs); i++)
                for (size_t j = 0; j < ELEMENTSOF(virtual_sizes); j++) {
                        unsigned w = virtual_sizes[j][0], h = virtual_sizes[j][1];
                        r = camera_device_add_format(d, fourccs[i], w, h,
                                                     w * h > 1920 * 1080 ? VIRTUAL_MAX_FPS_LARGE
                                                                         : VIRTUAL_MAX_FPS);
                        if (r < 0)
                                return r;
                }
        camera_device_sort_formats(d);

        *ret = TAKE_PTR(d);
        return 0;
}

int camera_device_virtual_set_noise(struct camera_device *d, double sigma) {
        if (d->backend != &virtual_backend || !(sigma >= 0 && sigma <= 40))
                return -EINVAL;
        if (d->streaming)
                return -EBUSY;
        ((struct virtual_camera *) d->data)->noise_sigma = sigma;
        return 0;
}
