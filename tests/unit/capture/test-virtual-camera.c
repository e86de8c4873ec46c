/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "capture/camera-device.h"
#include "capture/virtual-sensor.h"
#include "media/jpeg-markers.h"
#include "media/jpeg.h"
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
        bool planar_luma = fourcc == V4L2_PIX_FMT_NV12 || fourcc == V4L2_PIX_FMT_YUV420;
        size_t luma0 = fourcc == V4L2_PIX_FMT_UYVY ? 1 : 0; /* UYVY: luma at odd bytes */
        double sigma = diff_sigma(noisy + luma0, clean + luma0, planar_luma ? (size_t) w * h : size - luma0,
                                  planar_luma ? 1 : 2, &mean);
        fprintf(stderr, "fourcc %.4s: noise sigma %.2f mean %.2f\n", (char *) &fourcc, sigma, mean);
        check(sigma > 5.5 && sigma < 8.0);
        check(fabs(mean) < 1.0);

        /* Two noisy frames of the same time differ (fresh noise per frame). */
        virtual_sensor_render(s, 123456789, clean2);
        check(memcmp(noisy, clean2, size) != 0);

        /* Values stay in the limited range of the scene plus noise: spot-check the
         * top-left pixel is the white bar at t=0 (scroll offset 0). */
        virtual_sensor_render_clean(s, 0, clean);
        check(clean[luma0] == 180);
        /* ... and its chroma (Cb 128) where the layout keeps it. */
        if (fourcc == V4L2_PIX_FMT_UYVY)
                check(clean[0] == 128 && clean[2] == 128);
        if (fourcc == V4L2_PIX_FMT_YUV420) /* Cb plane, then Cr plane: 128 both for white */
                check(clean[(size_t) w * h] == 128 && clean[(size_t) w * h * 5 / 4] == 128);

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
        /* YUYV, NV12, YU12, UYVY, MJPG at 6 sizes; above 1080p at 15 fps. */
        check(info->n_formats == 30);
        check(camera_device_supports(d, V4L2_PIX_FMT_NV12, 1920, 1080, 30));
        check(camera_device_supports(d, V4L2_PIX_FMT_YUYV, 320, 240, 0));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 320, 240, 60));
        check(camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 1920, 1080, 30));
        check(camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 3840, 2160, 15));
        check(!camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 3840, 2160, 30));
        check(camera_device_supports(d, V4L2_PIX_FMT_YUV420, 2560, 1440, 15));
        check(camera_device_supports(d, V4L2_PIX_FMT_UYVY, 640, 480, 30));
        /* Highest rate first, then the larger size. */
        check(info->formats[0].width == 1920 && info->formats[0].max_fps == 30);
        check(info->formats[29].width == 2560 && info->formats[29].max_fps == 15);
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

struct mjpeg_counter {
        pthread_mutex_t lock;
        unsigned jpegs, decoded, sizes_seen;
        size_t last_size;
        bool ok;
        struct jpeg_decoder *dec;
        struct virtual_sensor *clean_sensor;
        uint8_t *clean;
        double worst_luma_diff;
};

/* Mean absolute luma difference of a 4:2:2 plane and a clean YUYV frame. */
static double luma_diff(const uint8_t *y, const uint8_t *yuyv, size_t n) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += fabs((double) y[i] - yuyv[2 * i]);
        return sum / (double) n;
}

static void on_mjpeg(struct frame *f, void *userdata) {
        struct mjpeg_counter *c = userdata;
        struct jpeg_info info;
        const struct frame *j = frame_jpeg(f);

        pthread_mutex_lock(&c->lock);
        /* Like a UVC camera: 4:2:2, no DHT. */
        if (!j || jpeg_has_dht(j->data, j->size) || jpeg_read_info(c->dec, j->data, j->size, &info) < 0 ||
            info.subsamp != YUV_SUBSAMP_422 || info.width != f->width)
                c->ok = false;
        if (f->fourcc == V4L2_PIX_FMT_MJPEG) {
                if (j->size != c->last_size)
                        c->sizes_seen++;
                c->last_size = j->size;
                c->jpegs++;
        } else if (f->fourcc == V4L2_PIX_FMT_YUV422P && f->compressed) {
                c->decoded++;
                virtual_sensor_render_clean(c->clean_sensor, f->timestamp_us, c->clean);
                c->worst_luma_diff = MAX(c->worst_luma_diff, luma_diff(f->data, c->clean, (size_t) f->width * f->height));
        } else
                c->ok = false;
        pthread_mutex_unlock(&c->lock);
}

/* MJPG: JPEGs without DHT as they come, and decoded frames of the scene too when pixels
 * are needed. */
static void test_mjpeg(bool needs_pixels) {
        struct camera_device *d = NULL;
        struct mjpeg_counter c = { .ok = true };
        struct capture_format fmt = { V4L2_PIX_FMT_MJPEG, 640, 480, 30 };
        struct camera_stats st;

        pthread_mutex_init(&c.lock, NULL);
        check_ok(jpeg_decoder_new(&c.dec));
        check_ok(virtual_sensor_new(V4L2_PIX_FMT_YUYV, 640, 480, 0, &c.clean_sensor));
        c.clean = malloc(frame_size_for(V4L2_PIX_FMT_YUYV, 640, 480));
        check(c.clean);
        check_ok(camera_device_new_virtual(0, &d));
        check_ok(camera_device_virtual_set_noise(d, 0));
        camera_device_set_needs_pixels(d, needs_pixels);
        check_ok(camera_device_start(d, &fmt, on_mjpeg, NULL, &c));
        test_sleep_ms(700);
        camera_device_stop(d);
        camera_device_get_stats(d, &st);

        fprintf(stderr, "MJPG 640x480 (%s): %u JPEGs, %u decoded, %u sizes, luma diff %.2f\n",
                needs_pixels ? "decoded" : "as they come", c.jpegs, c.decoded, c.sizes_seen,
                c.worst_luma_diff);
        check(c.ok);
        check(c.jpegs >= (running_on_valgrind() ? 1u : 10u));
        check(needs_pixels ? c.decoded > 0 && st.decoded == c.decoded : c.decoded == 0);
        check(st.corrupt == 0 && st.delivered == c.jpegs);
        check(st.decoded + st.decode_dropped <= c.jpegs);
        /* The scene moves, so JPEG sizes vary from frame to frame; quality 85 stays close. */
        check(c.sizes_seen > c.jpegs / 2);
        check(c.worst_luma_diff < 3.0);

        camera_device_free(d);
        virtual_sensor_free(c.clean_sensor);
        jpeg_decoder_free(c.dec);
        free(c.clean);
        pthread_mutex_destroy(&c.lock);
}

int main(void) {
        test_sensor_args();
        test_sensor_noise_and_clean(V4L2_PIX_FMT_YUYV);
        test_sensor_noise_and_clean(V4L2_PIX_FMT_NV12);
        test_sensor_noise_and_clean(V4L2_PIX_FMT_UYVY);
        test_sensor_noise_and_clean(V4L2_PIX_FMT_YUV420);
        test_camera();
        test_mjpeg(false);
        test_mjpeg(true);
        return 0;
}
