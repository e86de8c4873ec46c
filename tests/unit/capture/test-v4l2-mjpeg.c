/* SPDX-License-Identifier: MIT */
/* The V4L2 engine with MJPEG and the other native formats, through the fake ops table:
 * MJPG frames of varying size passed on as the camera's bytes, damaged ones dropped and
 * counted, decoding only while pixels are needed (a busy decoder costs only the pixel
 * consumer frames, never the compressed one), MJPEG-only and converted-only devices,
 * YU12 and UYVY with padded rows, and which formats bypass libv4l2. */
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "capture/camera-device.h"
#include "capture/mjpeg-decode.h"
#include "fake-v4l2.h"
#include "media/jpeg-markers.h"
#include "media/jpeg.h"
#include "shared/macro.h"
#include "test-util.h"

#define N_JPEGS 3

static uint8_t *jpegs[N_JPEGS];
static size_t jpeg_sizes[N_JPEGS];

/* FAKE_W x FAKE_H 4:2:2 JPEGs of different content (so sizes differ), without DHT like a
 * UVC camera's. */
static void make_jpegs(void) {
        struct jpeg_encoder *e = NULL;
        struct yuv_image img = {};
        struct jpeg_buffer out = {};

        check_ok(jpeg_encoder_new(&e));
        check_ok(yuv_image_alloc(&img, FAKE_W, FAKE_H, YUV_SUBSAMP_422));
        for (unsigned k = 0; k < N_JPEGS; k++) {
                uint32_t rng = 12345 + k;
                for (unsigned p = 0; p < 3; p++)
                        for (unsigned y = 0; y < img.plane_height[p]; y++)
                                for (unsigned x = 0; x < img.stride[p]; x++) {
                                        rng = rng * 1103515245 + 12345;
                                        /* More noise in later frames: bigger JPEGs. */
                                        img.plane[p][y * img.stride[p] + x] =
                                                (uint8_t) ((x + y + 40 * p) / 4 + (rng >> 24) % (1 + 20 * k));
                                }
                struct yuv_planes v = yuv_image_planes(&img);
                check_ok(jpeg_encode_planes(e, &v, 80, &out));
                jpegs[k] = malloc(out.size);
                check(jpegs[k]);
                long n = jpeg_strip_dht(out.data, out.size, jpegs[k]);
                check(n > 0 && (size_t) n < out.size);
                check(!jpeg_has_dht(jpegs[k], (size_t) n));
                jpeg_sizes[k] = (size_t) n;
        }
        check(jpeg_sizes[0] != jpeg_sizes[1] && jpeg_sizes[1] != jpeg_sizes[2]);
        jpeg_buffer_done(&out);
        yuv_image_done(&img);
        jpeg_encoder_free(e);
}

struct sink {
        pthread_mutex_t lock;
        unsigned frames, mjpeg, decoded;
        bool bytes_ok, decoded_ok;
        uint32_t raw_fourcc;
        bool raw_ok;
};

static void sink_init(struct sink *s) {
        memset(s, 0, sizeof *s);
        pthread_mutex_init(&s->lock, NULL);
        s->bytes_ok = s->decoded_ok = s->raw_ok = true;
}

static int jpeg_index(const struct frame *j) {
        for (int k = 0; k < N_JPEGS; k++)
                if (j->size == jpeg_sizes[k] && memcmp(j->data, jpegs[k], j->size) == 0)
                        return k;
        return -1;
}

/* Raw frames: row k of the sequence of rows holds (frame number + k) & 0xff (fake-v4l2.c). */
static bool raw_rows_ok(const struct frame *f) {
        unsigned num = (unsigned) (f->timestamp_us / 1000000 - 100);
        size_t off = 0;
        unsigned rows = f->fourcc == V4L2_PIX_FMT_YUV420 ? 2 * FAKE_H : FAKE_H;
        if (f->size != frame_size_for(f->fourcc, FAKE_W, FAKE_H))
                return false;
        for (unsigned k = 0; k < rows; k++) {
                size_t row = f->fourcc == V4L2_PIX_FMT_UYVY ? FAKE_W * 2 : k < FAKE_H ? FAKE_W : FAKE_W / 2;
                uint8_t want = (num + k) & 0xff;
                if (f->data[off] != want || f->data[off + row - 1] != want)
                        return false;
                off += row;
        }
        return true;
}

static void on_frame(struct frame *f, void *userdata) {
        struct sink *s = userdata;

        pthread_mutex_lock(&s->lock);
        s->frames++;
        if (f->fourcc == V4L2_PIX_FMT_MJPEG) {
                s->mjpeg++;
                s->bytes_ok = s->bytes_ok && !f->compressed && jpeg_index(f) >= 0;
        } else if (f->compressed) {
                s->decoded++;
                /* 4:2:2 JPEGs decode to 4:2:2 planes, and keep their JPEG. */
                s->decoded_ok = s->decoded_ok && f->fourcc == V4L2_PIX_FMT_YUV422P &&
                                f->width == FAKE_W && f->height == FAKE_H && frame_jpeg(f) == f->compressed &&
                                jpeg_index(f->compressed) >= 0 && f->sequence == f->compressed->sequence &&
                                f->size == frame_size_for(V4L2_PIX_FMT_YUV422P, FAKE_W, FAKE_H);
        } else
                s->raw_ok = s->raw_ok && f->fourcc == s->raw_fourcc && raw_rows_ok(f);
        pthread_mutex_unlock(&s->lock);
}

static void on_error(int error, const char *message, void *userdata) {
        check(!"no streaming error expected");
}

static bool script_done(void) {
        pthread_mutex_lock(&fake.lock);
        bool done = fake.next >= fake.n_script;
        pthread_mutex_unlock(&fake.lock);
        return done;
}

static void run_script(struct camera_device *d, const struct capture_format *fmt, struct sink *s,
                       const enum action *script, unsigned n) {
        fake_script(script, n);
        check_ok(camera_device_start(d, fmt, on_frame, on_error, s));
        double end = test_now() + 5;
        while (!script_done() && test_now() < end)
                test_sleep_ms(5);
        check(script_done());
        test_sleep_ms(100); /* the decode thread finishes the last frame */
        camera_device_stop(d);
        pthread_mutex_lock(&fake.lock);
        check(fake.open_count == 0 && fake.n_mapped == 0);
        pthread_mutex_unlock(&fake.lock);
}

static const struct capture_format fmt_mjpeg = { V4L2_PIX_FMT_MJPEG, FAKE_W, FAKE_H, 30 };

/* No output needs pixels: the camera's bytes, whole frames only. */
static void test_mjpeg_pass_through(void) {
        struct camera_device *d = NULL;
        struct camera_stats st;
        struct sink s;
        static const enum action script[] = {
                ACT_FRAME, ACT_FRAME, ACT_MJPEG_TRUNCATED, ACT_FRAME, ACT_MJPEG_PADDED,
                ACT_MJPEG_EMPTY, ACT_FRAME, ACT_ERROR_BUFFER, ACT_FRAME,
        };

        fake_reset();
        fake_set_jpegs((const uint8_t *const *) jpegs, jpeg_sizes, N_JPEGS);
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        run_script(d, &fmt_mjpeg, &s, script, ELEMENTSOF(script));
        /* The compressed format bypasses libv4l2 (a plain open), probing used libv4l2. */
        check(fake.native_opens == 1 && fake.converted_opens == 1);

        /* 5 whole + 1 padded (trimmed to its EOI); the truncated one counted, the empty
         * and the flagged buffer skipped by the engine. */
        check(s.frames == 6 && s.mjpeg == 6 && s.decoded == 0);
        check(s.bytes_ok);
        camera_device_get_stats(d, &st);
        check(st.delivered == 6 && st.corrupt == 1 && st.decoded == 0 && st.decode_dropped == 0);
        camera_device_free(d);
}

/* An output needs pixels: each frame decoded once, the decoded frame carries its JPEG; a
 * corrupt frame is refused by the decoder, counted, never passed on. */
static void test_mjpeg_decode(void) {
        struct camera_device *d = NULL;
        struct camera_stats st;
        struct sink s;
        static const enum action script[] = {
                ACT_FRAME, ACT_MJPEG_CORRUPT, ACT_FRAME, ACT_MJPEG_TRUNCATED, ACT_FRAME, ACT_FRAME,
        };

        fake_reset();
        fake_set_jpegs((const uint8_t *const *) jpegs, jpeg_sizes, N_JPEGS);
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        camera_device_set_needs_pixels(d, true);
        run_script(d, &fmt_mjpeg, &s, script, ELEMENTSOF(script));
        /* Decoded: the 4 whole frames. As they came (for a recorder): those and the corrupt
         * one, whose markers and header pass the capture thread's check (as without a
         * preview); only the decoder, which a recording must not wait for, refuses it. */
        check(s.frames == 9 && s.decoded == 4 && s.mjpeg == 5);
        check(s.decoded_ok);
        camera_device_get_stats(d, &st);
        check(st.decoded == 4 && st.corrupt == 2 && st.delivered == 5);
        check(st.decode_cpu_ns > 0);

        /* Switched off again: the next start passes JPEGs on. */
        camera_device_set_needs_pixels(d, false);
        sink_init(&s);
        run_script(d, &fmt_mjpeg, &s, script, 1);
        check(s.mjpeg == 1 && s.decoded == 0 && s.bytes_ok);
        camera_device_free(d);
}

/* A camera that changes resolution on its own, and a driver reporting more bytes than its
 * buffer holds: frames of another size are dropped and counted (before the decoder too),
 * the overlong buffer is skipped; the stream goes on with the good frames. */
static void test_mjpeg_wrong_size_and_overlong(bool needs_pixels) {
        struct camera_device *d = NULL;
        struct camera_stats st;
        struct sink s;
        struct jpeg_encoder *e = NULL;
        struct yuv_image img = {};
        struct jpeg_buffer small = {};
        static const enum action script[] = {
                ACT_FRAME, ACT_FRAME, ACT_FRAME, ACT_MJPEG_OVERLONG, ACT_FRAME, ACT_FRAME,
        };

        check_ok(jpeg_encoder_new(&e));
        check_ok(yuv_image_alloc(&img, FAKE_W / 2, FAKE_H / 2, YUV_SUBSAMP_422));
        for (unsigned p = 0; p < 3; p++)
                memset(img.plane[p], 90 + 20 * p, img.stride[p] * img.plane_height[p]);
        struct yuv_planes v = yuv_image_planes(&img);
        check_ok(jpeg_encode_planes(e, &v, 80, &small));
        /* Played in turn: jpegs[0], small, jpegs[1], (jpegs[0] overlong), small, jpegs[1]. */
        const uint8_t *play[3] = { jpegs[0], small.data, jpegs[1] };
        const size_t play_sizes[3] = { jpeg_sizes[0], small.size, jpeg_sizes[1] };

        fake_reset();
        fake_set_jpegs(play, play_sizes, 3);
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        camera_device_set_needs_pixels(d, needs_pixels);
        run_script(d, &fmt_mjpeg, &s, script, ELEMENTSOF(script));
        /* Every good camera frame comes as MJPEG; with pixels needed, decoded once more. */
        check(s.mjpeg == 3 && s.bytes_ok);
        if (needs_pixels)
                check(s.frames == 6 && s.decoded == 3 && s.decoded_ok);
        else
                check(s.frames == 3 && s.decoded == 0);
        camera_device_get_stats(d, &st);
        check(st.delivered == 3 && st.corrupt == 2 && st.decode_dropped == 0);
        check(st.decoded == (needs_pixels ? 3u : 0u));
        camera_device_free(d);
        jpeg_buffer_done(&small);
        yuv_image_done(&img);
        jpeg_encoder_free(e);
}

/* Two consumers as the bus has them: a recorder (compressed frames) and a preview (pixels),
 * each taking what camera_frame_is_for() names. The preview's first decoded frame blocks the
 * decode thread until the camera has sent all its frames, so the decode queue is full and
 * most frames are dropped by the decode stage. */
struct consumers {
        pthread_mutex_t lock;
        pthread_cond_t released_cond;
        bool released, blocked_once;
        unsigned compressed, pixel, pixel_without_pixels, compressed_decoded;
        uint64_t last_seq, last_ts;
        bool in_order;
};

static void on_two_consumers(struct frame *f, void *userdata) {
        struct consumers *c = userdata;

        pthread_mutex_lock(&c->lock);
        if (camera_frame_is_for(f, false)) {
                c->compressed++;
                if (f->compressed)
                        c->compressed_decoded++;
                if (c->compressed > 1 && (f->sequence <= c->last_seq || f->timestamp_us <= c->last_ts))
                        c->in_order = false;
                c->last_seq = f->sequence;
                c->last_ts = f->timestamp_us;
        }
        if (camera_frame_is_for(f, true)) {
                c->pixel++;
                if (f->fourcc == V4L2_PIX_FMT_MJPEG || !f->compressed)
                        c->pixel_without_pixels++;
                /* A decoder far slower than the camera: the decode thread waits here. */
                if (!c->blocked_once) {
                        c->blocked_once = true;
                        while (!c->released)
                                pthread_cond_wait(&c->released_cond, &c->lock);
                }
        }
        pthread_mutex_unlock(&c->lock);
}

static void test_mjpeg_busy_decoder(void) {
        struct camera_device *d = NULL;
        struct camera_stats st;
        struct consumers c = { .lock = PTHREAD_MUTEX_INITIALIZER,
                               .released_cond = PTHREAD_COND_INITIALIZER, .in_order = true };
        enum action script[16];
        const unsigned n = ELEMENTSOF(script);

        for (unsigned i = 0; i < n; i++)
                script[i] = ACT_FRAME;
        fake_reset();
        fake_set_jpegs((const uint8_t *const *) jpegs, jpeg_sizes, N_JPEGS);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        camera_device_set_needs_pixels(d, true);
        fake_script(script, n);
        check_ok(camera_device_start(d, &fmt_mjpeg, on_two_consumers, on_error, &c));
        /* Every frame reaches the recorder while the decoder is stuck. */
        double end = test_now() + 5;
        for (;;) {
                pthread_mutex_lock(&c.lock);
                unsigned got = c.compressed;
                pthread_mutex_unlock(&c.lock);
                if (got == n || test_now() > end)
                        break;
                test_sleep_ms(5);
        }
        pthread_mutex_lock(&c.lock);
        check(c.compressed == n && c.blocked_once);
        c.released = true;
        pthread_cond_broadcast(&c.released_cond);
        pthread_mutex_unlock(&c.lock);
        test_sleep_ms(100); /* the decode thread finishes what is queued */
        camera_device_stop(d);
        camera_device_get_stats(d, &st);

        fprintf(stderr, "busy decoder: %u frames to the recorder, %u to the preview; %llu decoded, "
                "%llu dropped by the decode stage\n", c.compressed, c.pixel,
                (unsigned long long) st.decoded, (unsigned long long) st.decode_dropped);
        check(c.compressed == n && c.in_order && c.compressed_decoded == 0);
        check(st.delivered == n && st.corrupt == 0);
        /* The preview got exactly the decoded frames: the one that blocked, then those that
         * were queued meanwhile; the rest were the decode stage's drops, and only its. */
        check(c.pixel == st.decoded && c.pixel_without_pixels == 0);
        check(st.decoded == 1 + MJPEG_DECODE_DEFAULT_QUEUE);
        check(st.decoded + st.decode_dropped == n);
        camera_device_free(d);
}

/* A camera that streams only MJPEG is taken (probe used to refuse it); libv4l2's converted
 * YU12 of it is listed only at sizes MJPG does not have. */
static void test_mjpeg_only(void) {
        struct camera_device *d = NULL;

        fake_reset();
        fake.yuyv = false;
        fake.nv12_emulated = false;
        fake.yu12_emulated = true;
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        const struct camera_device_info *info = camera_device_get_info(d);
        /* MJPG 1920x1080, 640x480 at 30; YU12 (stepwise) 1280x720, 320x240 at 60. */
        check(info->n_formats == 4);
        check(info->formats[2].fourcc == V4L2_PIX_FMT_MJPEG && info->formats[2].width == 1920 &&
              info->formats[2].height == 1080 && info->formats[2].max_fps == 30);
        check(camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 640, 480, 30));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUV420, 640, 480, 0));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUV420, 1920, 1080, 0));
        check(camera_device_supports(d, V4L2_PIX_FMT_YUV420, 1280, 720, 60));
        camera_device_free(d);
}

/* Only libv4l2's conversion gives something we take (a Bayer sensor): that is listed, and
 * streamed through libv4l2 (ops->open), not around it. */
static void test_converted_only(void) {
        struct camera_device *d = NULL;
        struct sink s;
        static const enum action script[] = { ACT_FRAME, ACT_FRAME };
        const struct capture_format fmt = { V4L2_PIX_FMT_YUV420, FAKE_W, FAKE_H, 30 };

        fake_reset();
        fake.yuyv = false;
        fake.mjpeg = false;
        fake.nv12_emulated = false;
        fake.yu12_emulated = true;
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        const struct camera_device_info *info = camera_device_get_info(d);
        check(info->n_formats == 3); /* stepwise: 320x240, 640x480, 1280x720 */
        for (size_t i = 0; i < info->n_formats; i++)
                check(info->formats[i].fourcc == V4L2_PIX_FMT_YUV420);

        sink_init(&s);
        s.raw_fourcc = V4L2_PIX_FMT_YUV420;
        run_script(d, &fmt, &s, script, ELEMENTSOF(script));
        check(fake.native_opens == 0 && fake.converted_opens == 2);
        check(s.frames == 2 && s.raw_ok);
        camera_device_free(d);
}

/* Native YU12 and UYVY: padded rows repacked, planes in order, a plain open. */
static void test_native_raw(uint32_t fourcc) {
        struct camera_device *d = NULL;
        struct sink s;
        static const enum action script[] = { ACT_FRAME, ACT_POLL_EINTR, ACT_FRAME, ACT_FRAME };
        const struct capture_format fmt = { fourcc, FAKE_W, FAKE_H, 30 };

        fake_reset();
        fake.yu12_native = fourcc == V4L2_PIX_FMT_YUV420;
        fake.uyvy_native = fourcc == V4L2_PIX_FMT_UYVY;
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        check(camera_device_supports(d, fourcc, FAKE_W, FAKE_H, 30));
        if (fourcc == V4L2_PIX_FMT_UYVY) /* ENUM_FRAMEINTERVALS: 1080p UYVY only at 5 fps */
                check(camera_device_supports(d, fourcc, 1920, 1080, 5) &&
                      !camera_device_supports(d, fourcc, 1920, 1080, 6));

        sink_init(&s);
        s.raw_fourcc = fourcc;
        run_script(d, &fmt, &s, script, ELEMENTSOF(script));
        check(fake.native_opens == 1);
        check(s.frames == 3 && s.raw_ok);
        camera_device_free(d);
}

struct slow_sink {
        atomic_uint decoded;
        uint64_t last_seq;
        bool in_order;
};

static void on_decoded_slowly(struct frame *f, void *userdata) {
        struct slow_sink *s = userdata;
        if (atomic_load(&s->decoded) > 0 && f->sequence <= s->last_seq)
                s->in_order = false;
        s->last_seq = f->sequence;
        atomic_fetch_add(&s->decoded, 1);
        test_sleep_ms(30); /* a busy consumer: the queue fills */
}

/* The decode stage alone: a full queue drops the new frame and counts it, never blocks the
 * pusher; each frame is decoded at most once, in order; freeing with frames queued leaks
 * nothing. */
static void test_decode_stage_queue(void) {
        struct mjpeg_decode_stage *st = NULL;
        struct mjpeg_decode_stats stats;
        struct slow_sink sink = { .in_order = true };
        const unsigned n = 12;

        check(mjpeg_decode_stage_new(FAKE_W, FAKE_H, 33, on_decoded_slowly, &sink, &st) == -EINVAL);
        check_ok(mjpeg_decode_stage_new(FAKE_W, FAKE_H, 1, on_decoded_slowly, &sink, &st));
        unsigned queued = 0;
        double t0 = test_now();
        for (unsigned i = 0; i < n; i++) {
                struct frame *j = frame_new(V4L2_PIX_FMT_MJPEG, FAKE_W, FAKE_H);
                check(j);
                memcpy(j->data, jpegs[i % N_JPEGS], jpeg_sizes[i % N_JPEGS]);
                j->size = jpeg_sizes[i % N_JPEGS];
                j->sequence = i;
                queued += mjpeg_decode_stage_push(st, j);
                frame_unref(j);
        }
        double push_s = test_now() - t0;
        mjpeg_decode_stage_drain(st);
        mjpeg_decode_stage_stats(st, &stats);
        fprintf(stderr, "decode stage: %u queued, %llu decoded, %llu dropped, pushes took %.1f ms\n", queued,
                (unsigned long long) stats.decoded, (unsigned long long) stats.dropped, push_s * 1e3);
        check(stats.decoded == queued && stats.decoded + stats.dropped == n && stats.corrupt == 0);
        check(stats.dropped >= n / 2);
        check(atomic_load(&sink.decoded) == queued && sink.in_order);

        /* Frames still queued at free are released, not decoded. */
        for (unsigned i = 0; i < 2; i++) {
                struct frame *j = frame_new(V4L2_PIX_FMT_MJPEG, FAKE_W, FAKE_H);
                memcpy(j->data, jpegs[0], jpeg_sizes[0]);
                j->size = jpeg_sizes[0];
                (void) mjpeg_decode_stage_push(st, j);
                frame_unref(j);
        }
        mjpeg_decode_stage_free(st);
}

int main(void) {
        make_jpegs();
        test_decode_stage_queue();
        test_mjpeg_pass_through();
        test_mjpeg_decode();
        test_mjpeg_wrong_size_and_overlong(false);
        test_mjpeg_wrong_size_and_overlong(true);
        test_mjpeg_busy_decoder();
        test_mjpeg_only();
        test_converted_only();
        test_native_raw(V4L2_PIX_FMT_YUV420);
        test_native_raw(V4L2_PIX_FMT_UYVY);
        for (unsigned k = 0; k < N_JPEGS; k++)
                free(jpegs[k]);
        pthread_mutex_destroy(&fake.lock);
        return 0;
}
