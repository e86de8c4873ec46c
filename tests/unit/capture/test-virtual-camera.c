/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "capture/camera-device.h"
#include "capture/virtual-sensor.h"
#include "shared/macro.h"
#include "test-util.h"

/* The lower bounds of the pacing checks measure speed, which valgrind's emulation does not
 * have; under it they only ask for frames to arrive (memory is what is checked there). */
#if HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
static bool running_on_valgrind(void) {
        return RUNNING_ON_VALGRIND;
}
#else
static bool running_on_valgrind(void) {
        return false;
}
#endif

/* Standard deviation of (a - b) over every step-th of n bytes (step 2 = YUYV luma). */
static double diff_sigma(const uint8_t *a, const uint8_t *b, size_t n, size_t step, double *mean) {
        double sum = 0, sum2 = 0;
        size_t count = 0;
        for (size_t i = 0; i < n; i += step, count++) {
                double d = (double) a[i] - b[i];
                sum += d;
                sum2 += d * d;
        }
        *mean = sum / count;
        return sqrt(sum2 / count - *mean * *mean);
}

static void test_sensor_noise_and_clean(uint32_t fourcc) {
        struct virtual_sensor *s = NULL;
        unsigned w = 640, h = 480;
        size_t size = frame_size_for(fourcc, w, h);
        uint8_t *clean = malloc(size), *clean2 = malloc(size), *noisy = malloc(size);
        double mean;

        check(clean && clean2 && noisy);
        check_ok(virtual_sensor_new(fourcc, w, h, 7.0, &s));

        /* Clean rendering is a pure function of time. */
        virtual_sensor_render_clean(s, 123456789, clean);
        virtual_sensor_render_clean(s, 123456789, clean2);
        check(memcmp(clean, clean2, size) == 0);
        /* The scene moves: 100 ms later it differs. */
        virtual_sensor_render_clean(s, 123456789 + 100000, clean2);
        check(memcmp(clean, clean2, size) != 0);

        /* Luma noise: sigma close to 7 (some clipping near black lowers it a bit). */
        virtual_sensor_render(s, 123456789, noisy);
        bool nv12 = fourcc == V4L2_PIX_FMT_NV12;
        double sigma = diff_sigma(noisy, clean, nv12 ? (size_t) w * h : size, nv12 ? 1 : 2, &mean);
        fprintf(stderr, "fourcc %.4s: noise sigma %.2f mean %.2f\n", (char *) &fourcc, sigma, mean);
        check(sigma > 5.5 && sigma < 8.0);
        check(fabs(mean) < 1.0);

        /* Two noisy frames of the same time differ (fresh noise per frame). */
        virtual_sensor_render(s, 123456789, clean2);
        check(memcmp(noisy, clean2, size) != 0);

        /* Values stay in the limited range of the scene plus noise: spot-check the
         * top-left pixel is the white bar at t=0 (scroll offset 0). */
        virtual_sensor_render_clean(s, 0, clean);
        check(clean[0] == 180);

        virtual_sensor_free(s);
        free(clean);
        free(clean2);
        free(noisy);
}

static void test_sensor_args(void) {
        struct virtual_sensor *s = NULL;
        check(virtual_sensor_new(V4L2_PIX_FMT_MJPEG, 640, 480, 7, &s) == -EINVAL);
        check(virtual_sensor_new(V4L2_PIX_FMT_NV12, 641, 480, 7, &s) == -EINVAL);
        check(virtual_sensor_new(V4L2_PIX_FMT_NV12, 640, 480, -1, &s) == -EINVAL);
        check(s == NULL);
}

struct counter {
        pthread_mutex_t lock;
        unsigned frames;
        uint64_t last_sequence, last_ts;
        bool ordered;
        double sigma_sum;
        unsigned sigma_n;
        struct virtual_sensor *clean_sensor;
        uint8_t *clean;
        bool expect_exact;
        bool exact_ok;
};

static void on_frame(struct frame *f, void *userdata) {
        struct counter *c = userdata;
        pthread_mutex_lock(&c->lock);
        if (c->frames > 0 && (f->sequence != c->last_sequence + 1 || f->timestamp_us <= c->last_ts))
                c->ordered = false;
        if (c->frames == 0 && f->sequence != 0)
                c->ordered = false;
        c->last_sequence = f->sequence;
        c->last_ts = f->timestamp_us;
        c->frames++;
        /* Every fourth frame: the clean frame made again from the timestamp matches. */
        if (c->clean_sensor && c->frames % 4 == 1) {
                double mean;
                virtual_sensor_render_clean(c->clean_sensor, f->timestamp_us, c->clean);
                if (c->expect_exact) {
                        if (memcmp(c->clean, f->data, f->size) != 0)
                                c->exact_ok = false;
                } else {
                        c->sigma_sum += diff_sigma(f->data, c->clean, (size_t) f->width * f->height, 1, &mean);
                        c->sigma_n++;
                }
        }
        pthread_mutex_unlock(&c->lock);
}

static void run_camera(struct camera_device *d, uint32_t fourcc, unsigned w, unsigned h, double fps,
                       double seconds, bool exact, struct counter *c) {
        struct capture_format fmt = { fourcc, w, h, fps };

        memset(c, 0, sizeof *c);
        pthread_mutex_init(&c->lock, NULL);
        c->ordered = true;
        c->exact_ok = true;
        c->expect_exact = exact;
        check_ok(virtual_sensor_new(fourcc, w, h, 0, &c->clean_sensor));
        c->clean = malloc(frame_size_for(fourcc, w, h));
        check(c->clean);

        check_ok(camera_device_start(d, &fmt, on_frame, NULL, c));
        check(camera_device_start(d, &fmt, on_frame, NULL, c) == -EBUSY);
        test_sleep_ms((long) (seconds * 1000));
        camera_device_stop(d);
        camera_device_stop(d); /* idempotent */

        unsigned frames = c->frames;
        test_sleep_ms(100);
        check(c->frames == frames); /* nothing after stop returned */

        virtual_sensor_free(c->clean_sensor);
        free(c->clean);
        pthread_mutex_destroy(&c->lock);
}

static void test_camera(void) {
        struct camera_device *d = NULL;
        struct counter c;

        check_ok(camera_device_new_virtual(3, &d));
        const struct camera_device_info *info = camera_device_get_info(d);
        check(streq(info->id, "virtual:3"));
        check(streq(info->driver, "virtual"));
        check(streq(info->device_path, ""));
        check(info->n_formats == 8);
        check(camera_device_supports(d, V4L2_PIX_FMT_NV12, 1920, 1080, 30));
        check(camera_device_supports(d, V4L2_PIX_FMT_YUYV, 320, 240, 0));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 320, 240, 60));
        check(!camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 640, 480, 30));
        check(!camera_device_supports(d, V4L2_PIX_FMT_NV12, 800, 600, 30));
        check(camera_device_is_connected(d));

        struct capture_format bad = { V4L2_PIX_FMT_NV12, 800, 600, 30 };
        check(camera_device_start(d, &bad, on_frame, NULL, &c) == -EINVAL);

        /* Pacing: 30 fps for 1 s gives about 30 frames; a loose bound, not a flaky one. */
        double t0 = test_now();
        run_camera(d, V4L2_PIX_FMT_NV12, 640, 480, 30, 1.0, false, &c);
        double elapsed = test_now() - t0;
        fprintf(stderr, "NV12 640x480@30: %u frames in %.2f s, noise sigma %.2f\n", c.frames, elapsed,
                c.sigma_n ? c.sigma_sum / c.sigma_n : 0);
        check(c.frames >= (running_on_valgrind() ? 1 : 20) && c.frames <= 36);
        check(c.ordered);
        check(c.sigma_n > 0 && c.sigma_sum / c.sigma_n > 5.5 && c.sigma_sum / c.sigma_n < 8.0);

        /* 10 fps pacing. */
        run_camera(d, V4L2_PIX_FMT_YUYV, 320, 240, 10, 1.0, false, &c);
        fprintf(stderr, "YUYV 320x240@10: %u frames\n", c.frames);
        check(c.frames >= (running_on_valgrind() ? 1 : 7) && c.frames <= 12);
        check(c.ordered);

        /* Noise off: the delivered frames are exactly the clean scene of their timestamp. */
        check(camera_device_virtual_set_noise(d, 50) == -EINVAL);
        check_ok(camera_device_virtual_set_noise(d, 0));
        run_camera(d, V4L2_PIX_FMT_YUYV, 1280, 720, 30, 0.5, true, &c);
        check(c.frames > 5);
        check(c.exact_ok);

        /* Full HD keeps up with 30 fps. */
        check_ok(camera_device_virtual_set_noise(d, VIRTUAL_SENSOR_NOISE_SIGMA));
        run_camera(d, V4L2_PIX_FMT_NV12, 1920, 1080, 30, 1.0, false, &c);
        fprintf(stderr, "NV12 1920x1080@30: %u frames\n", c.frames);
        check(c.frames >= (running_on_valgrind() ? 1 : 20) && c.frames <= 36);

        camera_device_free(d);
}

int main(void) {
        test_sensor_args();
        test_sensor_noise_and_clean(V4L2_PIX_FMT_YUYV);
        test_sensor_noise_and_clean(V4L2_PIX_FMT_NV12);
        test_camera();
        return 0;
}
