/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "capture/camera-device.h"
#include "capture/v4l2-ops.h"
#include "fake-v4l2.h"
#include "shared/macro.h"
#include "test-util.h"

struct sink {
        pthread_mutex_t lock;
        unsigned frames;
        bool content_ok, order_ok;
        uint64_t last_seq;
        atomic_int errors;
        atomic_int last_error;
};

static void sink_init(struct sink *s) {
        memset(s, 0, sizeof *s);
        pthread_mutex_init(&s->lock, NULL);
        s->content_ok = s->order_ok = true;
}

static void on_frame(struct frame *f, void *userdata) {
        struct sink *s = userdata;
        unsigned num = (unsigned) (f->timestamp_us / 1000000 - 100);
        size_t row = f->fourcc == V4L2_PIX_FMT_YUYV ? FAKE_W * 2 : FAKE_W;
        unsigned rows = f->fourcc == V4L2_PIX_FMT_YUYV ? FAKE_H : FAKE_H * 3 / 2;

        pthread_mutex_lock(&s->lock);
        if (f->width != FAKE_W || f->height != FAKE_H || f->size != row * rows)
                s->content_ok = false;
        for (unsigned y = 0; y < rows && s->content_ok; y++) {
                uint8_t want = (num + y) & 0xff;
                if (f->data[y * row] != want || f->data[y * row + row - 1] != want)
                        s->content_ok = false;
        }
        if (s->frames > 0 && f->sequence != s->last_seq + 1)
                s->order_ok = false;
        s->last_seq = f->sequence;
        s->frames++;
        pthread_mutex_unlock(&s->lock);
}

static void on_error(int error, const char *message, void *userdata) {
        struct sink *s = userdata;
        check(message && *message);
        atomic_store(&s->last_error, error);
        atomic_fetch_add(&s->errors, 1);
}

static bool wait_for(bool (*cond)(void *), void *arg, double seconds) {
        double end = test_now() + seconds;
        while (test_now() < end) {
                if (cond(arg))
                        return true;
                test_sleep_ms(5);
        }
        return cond(arg);
}

static bool script_done(void *arg) {
        pthread_mutex_lock(&fake.lock);
        bool done = fake.next >= fake.n_script;
        pthread_mutex_unlock(&fake.lock);
        return done;
}

static bool error_seen(void *arg) {
        return atomic_load(&((struct sink *) arg)->errors) > 0;
}

static const struct capture_format fmt_yuyv = { V4L2_PIX_FMT_YUYV, FAKE_W, FAKE_H, 30 };
static const struct capture_format fmt_nv12 = { V4L2_PIX_FMT_NV12, FAKE_W, FAKE_H, 30 };

static void check_released(void) {
        pthread_mutex_lock(&fake.lock);
        check(fake.open_count == 0);
        check(fake.n_mapped == 0);
        check(!fake.streaming);
        pthread_mutex_unlock(&fake.lock);
}

static void test_probe(void) {
        struct camera_device *d = NULL;

        fake_reset();
        check(camera_device_new_v4l2("/dev/nope", &fake_ops, &d) == -ENOENT);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        check(fake.open_count == 0); /* probing closes again */

        const struct camera_device_info *info = camera_device_get_info(d);
        check(streq(info->id, "v4l2:platform:fake-000"));
        check(streq(info->name, "Fake Camera"));
        check(streq(info->driver, "fakecam"));
        check(streq(info->device_path, "/dev/fake0"));
        for (size_t i = 0; i < info->n_formats; i++)
                fprintf(stderr, "  %.4s %ux%u @ %.1f\n", (const char *) &info->formats[i].fourcc,
                        info->formats[i].width, info->formats[i].height, info->formats[i].max_fps);
        /* YUYV: discrete 640x480@30, 1280x720@10 (641x481 skipped); MJPG: 640x480 and
         * 1920x1080 at 30; NV12 (emulated, stepwise 16..1280 x 16..720) only where no native
         * format has the size: 320x240 at 60. Highest rate first, then the larger size. */
        check(info->n_formats == 5);
        check(info->formats[0].fourcc == V4L2_PIX_FMT_NV12 && info->formats[0].max_fps == 60);
        check(info->formats[1].fourcc == V4L2_PIX_FMT_MJPEG && info->formats[1].width == 1920);
        check(info->formats[2].fourcc == V4L2_PIX_FMT_YUYV && info->formats[2].width == 640);
        check(info->formats[3].fourcc == V4L2_PIX_FMT_MJPEG && info->formats[3].width == 640);
        check(info->formats[4].fourcc == V4L2_PIX_FMT_YUYV && info->formats[4].max_fps == 10);
        check(camera_device_supports(d, V4L2_PIX_FMT_YUYV, 640, 480, 30));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 640, 480, 31));
        check(camera_device_supports(d, V4L2_PIX_FMT_YUYV, 1280, 720, 10));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 1280, 720, 15));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 641, 481, 0));
        check(camera_device_supports(d, V4L2_PIX_FMT_NV12, 320, 240, 60));
        check(!camera_device_supports(d, V4L2_PIX_FMT_NV12, 1280, 720, 0));
        check(!camera_device_supports(d, V4L2_PIX_FMT_NV12, 1920, 1080, 0));
        check(camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 640, 480, 30));
        check(camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 1920, 1080, 30));
        camera_device_free(d);

        /* Not a streaming capture device. */
        fake_reset();
        fake.caps = V4L2_CAP_VIDEO_CAPTURE;
        check(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d) == -ENOTSUP);
        fake.caps = V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_STREAMING;
        check(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d) == -ENOTSUP);
        /* Nothing taken (only Bayer, nothing converted): nothing we can deliver. */
        fake_reset();
        fake.yuyv = false;
        fake.mjpeg = false;
        fake.nv12_emulated = false;
        check(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d) == -ENOTSUP);
        check(fake.open_count == 0);
}

/* Frames flow through poll EINTR, DQBUF EINTR/EAGAIN and corrupt buffers. */
static void test_stream(const struct capture_format *fmt) {
        struct camera_device *d = NULL;
        struct sink s;
        static const enum action script[] = {
                ACT_FRAME,        ACT_POLL_EINTR, ACT_FRAME,       ACT_DQBUF_EINTR, ACT_FRAME,
                ACT_DQBUF_EAGAIN, ACT_FRAME,      ACT_ERROR_BUFFER, ACT_FRAME,      ACT_FRAME,
        };

        fake_reset();
        fake.nv12_native = fmt->fourcc == V4L2_PIX_FMT_NV12; /* converted NV12 has no 640x480 */
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        fake_script(script, ELEMENTSOF(script));
        check_ok(camera_device_start(d, fmt, on_frame, on_error, &s));
        check(camera_device_start(d, fmt, on_frame, on_error, &s) == -EBUSY);
        check(wait_for(script_done, NULL, 5));
        test_sleep_ms(50);
        camera_device_stop(d);
        check_released();

        /* 7 good frames (ACT_FRAME ×6 + the one after DQBUF EINTR); the corrupt one dropped. */
        check(s.frames == 7);
        check(s.content_ok);
        check(s.order_ok);
        check(atomic_load(&s.errors) == 0);
        check(camera_device_is_connected(d));
        camera_device_free(d);
}

static void test_fault(enum action fault, int expected_error) {
        struct camera_device *d = NULL;
        struct sink s;
        enum action script[] = { ACT_FRAME, ACT_FRAME, ACT_FRAME, fault, ACT_FRAME };

        fake_reset();
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        fake_script(script, ELEMENTSOF(script));
        check_ok(camera_device_start(d, &fmt_yuyv, on_frame, on_error, &s));
        check(wait_for(error_seen, &s, 5));
        /* The thread released the device by itself, before anyone called stop. */
        test_sleep_ms(20);
        check_released();
        check(!camera_device_is_connected(d));
        check(atomic_load(&s.last_error) == expected_error);
        camera_device_stop(d);
        camera_device_stop(d);
        check(atomic_load(&s.errors) == 1);
        check(s.frames == 3);
        check(s.content_ok);

        /* The device can be started again (e.g. a transient failure); connected again. */
        fake_script(script, 1);
        sink_init(&s);
        check_ok(camera_device_start(d, &fmt_yuyv, on_frame, on_error, &s));
        check(camera_device_is_connected(d));
        camera_device_stop(d);
        check_released();
        camera_device_free(d);
}

static void test_buffer_counts(void) {
        struct camera_device *d = NULL;
        struct sink s;

        for (unsigned count = 0; count <= 2; count++) {
                fake_reset();
                sink_init(&s);
                check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
                fake.reqbufs_count = count;
                int r = camera_device_start(d, &fmt_yuyv, on_frame, on_error, &s);
                if (count < 2) {
                        check(r == -ENOBUFS);
                        check(fake.reqbufs_zero_calls == 1); /* buffers given back */
                } else {
                        static const enum action script[] = { ACT_FRAME, ACT_FRAME, ACT_FRAME };
                        check_ok(r);
                        fake_script(script, ELEMENTSOF(script));
                        check(wait_for(script_done, NULL, 5));
                        test_sleep_ms(50);
                        camera_device_stop(d);
                        check(s.frames == 3 && s.content_ok);
                }
                check_released();
                check(camera_device_is_connected(d));
                camera_device_free(d);
        }
}

static void test_streamon_error(void) {
        struct camera_device *d = NULL;
        struct sink s;

        fake_reset();
        sink_init(&s);
        fake.nv12_native = true;
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        fake.streamon_error = EIO;
        check(camera_device_start(d, &fmt_nv12, on_frame, on_error, &s) == -EIO);
        check_released();
        check(camera_device_is_connected(d));
        check(atomic_load(&s.errors) == 0);
        camera_device_stop(d); /* harmless when not started */
        camera_device_free(d);
}

int main(void) {
        test_probe();
        test_stream(&fmt_yuyv);
        test_stream(&fmt_nv12);
        test_fault(ACT_DQBUF_ENODEV, -ENODEV);
        test_fault(ACT_POLLERR, -ENODEV);
        test_buffer_counts();
        test_streamon_error();
        pthread_mutex_destroy(&fake.lock);
        return 0;
}
