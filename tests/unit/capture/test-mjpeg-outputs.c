/* SPDX-License-Identifier: MIT */
/* The outputs with MJPEG, YU12 and UYVY frames: the recorder writes camera JPEGs unchanged
 * (ffmpeg decodes every frame without an error, and `-c copy` gives back the bytes fed in),
 * encodes YU12/UYVY from planes; the preview sink streams decoded MJPEG (its header waits
 * for the first frame), YU12 and UYVY as Y4M. */
#include <fcntl.h>
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/preview-sink.h"
#include "capture/recorder.h"
#include "capture/virtual-sensor.h"
#include "media/jpeg-markers.h"
#include "media/jpeg.h"
#include "media/y4m.h"
#include "shared/macro.h"
#include "test-util.h"

#define W 320
#define H 240
#define N_FRAMES 12

static bool have(const char *prog) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "%s -version >/dev/null 2>&1", prog);
        return system(cmd) == 0;
}

/* Camera-like JPEGs (4:2:2, DHT stripped) of a moving noisy scene, sizes varying. */
static void make_camera_jpegs(uint8_t *jpegs[], size_t sizes[], unsigned n) {
        struct virtual_sensor *s = NULL;
        struct jpeg_encoder *e = NULL;
        struct jpeg_buffer out = {};
        uint8_t *raw = malloc(frame_size_for(V4L2_PIX_FMT_YUYV, W, H));

        check(raw);
        check_ok(virtual_sensor_new(V4L2_PIX_FMT_YUYV, W, H, 7, &s));
        check_ok(jpeg_encoder_new(&e));
        for (unsigned i = 0; i < n; i++) {
                virtual_sensor_render(s, 1000000 + i * 33333, raw);
                check_ok(jpeg_encode_yuyv(e, raw, W, H, W * 2, 85, &out));
                jpegs[i] = malloc(out.size);
                check(jpegs[i]);
                long k = jpeg_strip_dht(out.data, out.size, jpegs[i]);
                check(k > 0);
                sizes[i] = (size_t) k;
        }
        jpeg_buffer_done(&out);
        jpeg_encoder_free(e);
        virtual_sensor_free(s);
        free(raw);
}

static struct frame *mjpeg_frame(const uint8_t *jpeg, size_t size, unsigned i) {
        struct frame *f = frame_new(V4L2_PIX_FMT_MJPEG, W, H);
        check(f && size <= f->size);
        memcpy(f->data, jpeg, size);
        f->size = size;
        f->sequence = i;
        f->timestamp_us = 1000000 + (uint64_t) i * 33333;
        return f;
}

/* A decoded frame as the decode stage makes it (pixels not checked here), keeping j. */
static struct frame *decoded_frame(struct frame *j) {
        struct frame *f = frame_new(V4L2_PIX_FMT_YUV422P, W, H);
        check(f);
        memset(f->data, 100, f->size);
        f->sequence = j->sequence;
        f->timestamp_us = j->timestamp_us;
        f->compressed = frame_ref(j);
        return f;
}

static char *run(const char *cmd, int *status) {
        FILE *p = popen(cmd, "r");
        static char buf[4096];
        size_t n;
        check(p);
        n = fread(buf, 1, sizeof buf - 1, p);
        buf[n] = 0;
        *status = pclose(p);
        return buf;
}

static void test_recorder_pass_through(void) {
        uint8_t *jpegs[N_FRAMES];
        size_t sizes[N_FRAMES];
        char dir[] = "/tmp/test-mjpeg-out-XXXXXX", path[256], cmd[1024];
        struct recorder *r = NULL;
        struct recorder_stats st;
        int status;

        make_camera_jpegs(jpegs, sizes, N_FRAMES);
        check(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/rec.avi", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        check(fd >= 0);
        check_ok(recorder_start(fd, V4L2_PIX_FMT_MJPEG, W, H, 30, &(struct recorder_options) { .queue_length = 64 }, &r));
        close(fd);
        /* Half the frames as they come, half decoded for a preview: the same bytes either way. */
        for (unsigned i = 0; i < N_FRAMES; i++) {
                struct frame *j = mjpeg_frame(jpegs[i], sizes[i], i);
                struct frame *f = i % 2 ? decoded_frame(j) : frame_ref(j);
                recorder_push(r, f);
                frame_unref(f);
                frame_unref(j);
        }
        /* Raw frames do not belong in an MJPEG recording. */
        struct frame *raw = frame_new(V4L2_PIX_FMT_YUYV, W, H);
        raw->timestamp_us = 1000000 + N_FRAMES * 33333;
        recorder_push(r, raw);
        frame_unref(raw);
        check_ok(recorder_stop(r, &st));
        fprintf(stderr, "pass-through: %llu frames, %llu dropped, %llu bytes, encode %llu us, all %llu us\n",
                (unsigned long long) st.frames, (unsigned long long) st.dropped,
                (unsigned long long) st.bytes, (unsigned long long) st.encode_cpu_us,
                (unsigned long long) st.frame_cpu_us);
        check(st.frames == N_FRAMES && st.dropped == 0 && st.encode_cpu_us == 0);

        if (!have("ffmpeg") || !have("ffprobe")) {
                fprintf(stderr, "ffmpeg/ffprobe not available; file checks skipped\n");
                goto done;
        }
        /* Every frame decodes, and ffmpeg has nothing to complain about (no DHT is the
         * OpenDML convention). */
        snprintf(cmd, sizeof cmd, "ffmpeg -v error -i %s -f null - 2>&1", path);
        char *errors = run(cmd, &status);
        fprintf(stderr, "ffmpeg -f null: status %d, '%s'\n", status, errors);
        check(status == 0 && errors[0] == 0);
        snprintf(cmd, sizeof cmd,
                 "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                 "stream=codec_name,width,height,nb_read_frames -of csv=p=0 %s", path);
        char *probe = run(cmd, &status);
        check(status == 0);
        fprintf(stderr, "ffprobe: %s", probe);
        check(strncmp(probe, "mjpeg,320,240,12", 16) == 0);

        /* The frames copied out are the bytes fed in. */
        snprintf(cmd, sizeof cmd, "ffmpeg -v error -i %s -c copy -f image2 %s/f%%03d.jpg 2>&1", path, dir);
        errors = run(cmd, &status);
        check(status == 0);
        for (unsigned i = 0; i < N_FRAMES; i++) {
                char name[300];
                struct stat sb;
                snprintf(name, sizeof name, "%s/f%03u.jpg", dir, i + 1);
                FILE *fp = fopen(name, "rb");
                check(fp && fstat(fileno(fp), &sb) == 0);
                uint8_t *got = malloc((size_t) sb.st_size);
                check(got && fread(got, 1, (size_t) sb.st_size, fp) == (size_t) sb.st_size);
                fclose(fp);
                check((size_t) sb.st_size == sizes[i] && memcmp(got, jpegs[i], sizes[i]) == 0);
                free(got);
                unlink(name);
        }
done:
        unlink(path);
        rmdir(dir);
        for (unsigned i = 0; i < N_FRAMES; i++)
                free(jpegs[i]);
}

/* YU12 and UYVY recordings, encoded from planes: ffprobe reads every frame. */
static void test_recorder_raw(uint32_t fourcc) {
        char path[] = "/tmp/test-mjpeg-raw-XXXXXX", cmd[512];
        int fd = mkostemp(path, O_CLOEXEC), status;
        struct virtual_sensor *s = NULL;
        struct recorder *r = NULL;
        struct recorder_stats st;

        check(fd >= 0);
        check_ok(virtual_sensor_new(fourcc, W, H, 7, &s));
        check_ok(recorder_start(fd, fourcc, W, H, 30, &(struct recorder_options) { .queue_length = 64 }, &r));
        close(fd);
        for (unsigned i = 0; i < N_FRAMES; i++) {
                struct frame *f = frame_new(fourcc, W, H);
                f->timestamp_us = 1000000 + i * 33333;
                check_ok(virtual_sensor_render_frame(s, f, true));
                recorder_push(r, f);
                frame_unref(f);
        }
        check_ok(recorder_stop(r, &st));
        check(st.frames == N_FRAMES && st.encode_cpu_us > 0);
        if (have("ffprobe")) {
                snprintf(cmd, sizeof cmd,
                         "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                         "stream=codec_name,width,height,nb_read_frames,pix_fmt -of csv=p=0 %s", path);
                char *probe = run(cmd, &status);
                fprintf(stderr, "%.4s recording: %s", (const char *) &fourcc, probe);
                check(status == 0);
                check(strstr(probe, fourcc == V4L2_PIX_FMT_YUV420 ? "mjpeg,320,240,yuvj420p,12"
                                                                 : "mjpeg,320,240,yuvj422p,12"));
        }
        unlink(path);
        virtual_sensor_free(s);
}

struct stream {
        int fd;
        uint8_t *data;
        size_t size, allocated;
};

static void *read_all(void *userdata) {
        struct stream *st = userdata;
        for (;;) {
                if (st->allocated - st->size < 65536) {
                        st->allocated = st->allocated * 2 + 65536;
                        st->data = realloc(st->data, st->allocated);
                        check(st->data);
                }
                ssize_t n = read(st->fd, st->data + st->size, st->allocated - st->size);
                if (n < 0 && errno == EINTR)
                        continue;
                check(n >= 0);
                if (n == 0)
                        return NULL;
                st->size += (size_t) n;
        }
}

/* Frames of make(i), pushed 40 ms apart: every one reaches a reader that keeps up, with the
 * header the layout calls for, and each frame's luma is the value given. */
static void test_preview(uint32_t sink_fourcc, uint32_t frame_fourcc, const char *colorspace) {
        struct preview_sink *s = NULL;
        struct stream st = {};
        pthread_t t;
        char want[128];
        const unsigned n = 6;

        check_ok(preview_sink_new(sink_fourcc, W, H, 30, &s));
        st.fd = preview_sink_open_stream(s);
        check(st.fd >= 0);
        check(pthread_create(&t, NULL, read_all, &st) == 0);
        for (unsigned i = 0; i < n; i++) {
                struct frame *f = frame_new(frame_fourcc, W, H), *j = NULL;
                check(f);
                size_t luma = frame_fourcc == V4L2_PIX_FMT_UYVY ? 0 : (size_t) W * H;
                if (luma) {
                        memset(f->data, 10 + i, luma);
                        memset(f->data + luma, 128, f->size - luma);
                } else
                        for (size_t k = 0; k < f->size; k += 2) {
                                f->data[k] = 128;
                                f->data[k + 1] = (uint8_t) (10 + i);
                        }
                f->timestamp_us = 1000000 + i * 40000;
                if (sink_fourcc == V4L2_PIX_FMT_MJPEG) { /* stands for the decode stage's output */
                        j = frame_new(V4L2_PIX_FMT_MJPEG, W, H);
                        f->compressed = j;
                }
                preview_sink_push(s, f);
                frame_unref(f);
                test_sleep_ms(40);
        }
        test_sleep_ms(50);
        preview_sink_free(s);
        pthread_join(t, NULL);
        close(st.fd);

        int hl = snprintf(want, sizeof want, "YUV4MPEG2 W%u H%u F30:1 Ip A1:1 %s\n", W, H, colorspace);
        size_t fs = y4m_frame_size(frame_fourcc, W, H);
        fprintf(stderr, "preview %.4s of %.4s: %zu bytes\n", (const char *) &sink_fourcc,
                (const char *) &frame_fourcc, st.size);
        check(st.size == (size_t) hl + n * fs);
        check(memcmp(st.data, want, (size_t) hl) == 0);
        for (unsigned i = 0; i < n; i++) {
                const uint8_t *fr = st.data + hl + i * fs;
                check(memcmp(fr, "FRAME\n", 6) == 0);
                check(fr[6] == 10 + i && fr[6 + W * H - 1] == 10 + i && fr[6 + W * H] == 128);
        }
        free(st.data);
}

int main(void) {
        test_recorder_pass_through();
        test_recorder_raw(V4L2_PIX_FMT_YUV420);
        test_recorder_raw(V4L2_PIX_FMT_UYVY);
        test_preview(V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUV422P, "C422");
        test_preview(V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUV420, "C420jpeg");
        test_preview(V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_YUV420, "C420jpeg");
        test_preview(V4L2_PIX_FMT_UYVY, V4L2_PIX_FMT_UYVY, "C422");
        return 0;
}
