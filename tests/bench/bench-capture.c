/* SPDX-License-Identifier: MIT */
/* The capture engine's cost: the virtual camera at 1920x1080 NV12 30 fps with a preview
 * reader and a recording, against the camera producing frames alone (measured first, in
 * this same process), plus the JPEG wrapper's per-frame time against bare TurboJPEG.
 *
 *   bench-capture [--seconds N] [--baseline-seconds N] [--quality Q]
 */
#include <fcntl.h>
#include <getopt.h>
#include <linux/videodev2.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <turbojpeg.h>

#include "capture/camera-device.h"
#include "capture/preview-sink.h"
#include "capture/recorder.h"
#include "capture/virtual-sensor.h"
#include "media/jpeg.h"
#include "media/y4m.h"
#include "shared/macro.h"
#include "bench-clock.h"

#define W 1920
#define H 1080
#define FPS 30.0

struct run {
        struct preview_sink *preview;
        struct recorder *recorder;
        atomic_uint_fast64_t frames, skipped;
        uint64_t last_ts; /* capture thread only */
};

/* The session's fan-out: refs only, no copies. */
static void on_frame(struct frame *f, void *userdata) {
        struct run *r = userdata;
        if (r->last_ts && f->timestamp_us - r->last_ts > 1.5e6 / FPS)
                atomic_fetch_add(&r->skipped, (uint64_t) llround((f->timestamp_us - r->last_ts) * FPS / 1e6) - 1);
        r->last_ts = f->timestamp_us;
        atomic_fetch_add(&r->frames, 1);
        if (r->preview)
                preview_sink_push(r->preview, f);
        if (r->recorder)
                recorder_push(r->recorder, f);
}

struct reader {
        int fd;
        uint64_t bytes;
};

static void *reader_thread(void *userdata) {
        struct reader *rd = userdata;
        static uint8_t buf[1 << 20];
        for (;;) {
                ssize_t n = read(rd->fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                rd->bytes += (uint64_t) n;
        }
        return NULL;
}

static int run_camera(struct camera_device *d, struct run *r, double seconds, double *cpu_per_s) {
        struct capture_format fmt = { V4L2_PIX_FMT_NV12, W, H, FPS };
        int q = camera_device_start(d, &fmt, on_frame, NULL, r);
        if (q < 0)
                return q;
        sleep_s(0.5); /* warm-up: pools filled, threads running */
        double c0 = cpu_s(), t0 = now_s();
        uint64_t f0 = atomic_load(&r->frames);
        sleep_s(seconds);
        double c1 = cpu_s(), t1 = now_s();
        uint64_t f1 = atomic_load(&r->frames);
        camera_device_stop(d);
        *cpu_per_s = (c1 - c0) / (t1 - t0);
        fprintf(stderr, "  %llu frames in %.1f s (%.2f fps)\n", (unsigned long long) (f1 - f0), t1 - t0,
                (f1 - f0) / (t1 - t0));
        return 0;
}

/* Per-frame CPU of jpeg_encode_nv12() (media/jpeg.h, what the recorder calls) and of bare
 * tjCompressFromYUVPlanes() on the same frame, already split into planes. */
static int jpeg_times(int quality, double *wrapper_ms, double *bare_ms) {
        struct virtual_sensor *s = NULL;
        struct jpeg_encoder *e = NULL;
        struct jpeg_buffer out = {};
        const int rounds = 60;
        int q;

        struct frame *f = frame_new(V4L2_PIX_FMT_NV12, W, H);
        if (!f)
                return -ENOMEM;
        f->timestamp_us = 123456789;
        q = virtual_sensor_new(V4L2_PIX_FMT_NV12, W, H, VIRTUAL_SENSOR_NOISE_SIGMA, &s);
        if (q < 0)
                return q;
        virtual_sensor_render_frame(s, f, true);
        virtual_sensor_free(s);

        q = jpeg_encoder_new(&e);
        if (q < 0)
                return q;
        for (int i = 0; i < 3; i++) /* warm-up */
                jpeg_encode_nv12(e, f->data, W, H, W, quality, &out);
        double t0 = thread_cpu_s();
        for (int i = 0; i < rounds; i++)
                if ((q = jpeg_encode_nv12(e, f->data, W, H, W, quality, &out)) < 0)
                        return q;
        *wrapper_ms = (thread_cpu_s() - t0) * 1e3 / rounds;
        size_t wrapper_size = out.size;
        jpeg_buffer_done(&out);
        jpeg_encoder_free(e);

        /* Bare TurboJPEG: planes split once, outside the timing. */
        uint8_t *y = f->data, *u = malloc(W * H / 4), *v = malloc(W * H / 4);
        const uint8_t *uv = f->data + (size_t) W * H;
        for (size_t i = 0; i < (size_t) W * H / 4; i++) {
                u[i] = uv[2 * i];
                v[i] = uv[2 * i + 1];
        }
        const unsigned char *planes[3] = { y, u, v };
        int strides[3] = { W, W / 2, W / 2 };
        tjhandle tj = tjInitCompress();
        unsigned long bound = tjBufSize(W, H, TJSAMP_420), size = bound;
        unsigned char *jpeg = tjAlloc((int) bound);
        if (!tj || !jpeg || !u || !v)
                return -ENOMEM;
        for (int i = 0; i < 3; i++) {
                size = bound;
                tjCompressFromYUVPlanes(tj, planes, W, strides, H, TJSAMP_420, &jpeg, &size, quality, TJFLAG_NOREALLOC);
        }
        t0 = thread_cpu_s();
        for (int i = 0; i < rounds; i++) {
                size = bound;
                if (tjCompressFromYUVPlanes(tj, planes, W, strides, H, TJSAMP_420, &jpeg, &size, quality,
                                            TJFLAG_NOREALLOC) < 0)
                        return -EIO;
        }
        *bare_ms = (thread_cpu_s() - t0) * 1e3 / rounds;
        fprintf(stderr, "  JPEG sizes: wrapper %zu bytes, bare %lu bytes\n", wrapper_size, size);
        tjFree(jpeg);
        tjDestroy(tj);
        free(u);
        free(v);
        frame_unref(f);
        return 0;
}

int main(int argc, char **argv) {
        double seconds = 60, baseline = -1;
        int quality = 90;
        static const struct option options[] = {
                { "seconds", required_argument, NULL, 's' },
                { "baseline-seconds", required_argument, NULL, 'b' },
                { "quality", required_argument, NULL, 'q' },
                {},
        };
        for (int c; (c = getopt_long(argc, argv, "", options, NULL)) >= 0;)
                switch (c) {
                case 's':
                        seconds = atof(optarg);
                        break;
                case 'b':
                        baseline = atof(optarg);
                        break;
                case 'q':
                        quality = atoi(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: %s [--seconds N] [--baseline-seconds N] [--quality Q]\n", argv[0]);
                        return 2;
                }
        if (!(seconds > 0) || quality < 1 || quality > 100)
                return 2;
        if (baseline <= 0)
                baseline = MAX(5.0, seconds / 4);

        struct camera_device *d = NULL;
        int q = camera_device_new_virtual(0, &d);
        if (q < 0) {
                fprintf(stderr, "virtual camera: %s\n", strerror(-q));
                return 1;
        }
        printf("bench-capture: virtual camera %dx%d NV12 %.0f fps, quality %d\n", W, H, FPS, quality);

        /* 1. The camera alone. */
        struct run alone = {};
        double cpu_alone;
        fprintf(stderr, "camera alone, %.0f s:\n", baseline);
        if ((q = run_camera(d, &alone, baseline, &cpu_alone)) < 0)
                return fprintf(stderr, "start: %s\n", strerror(-q)), 1;

        /* 2. With a preview reader and a recording. */
        char path[] = "/tmp/bench-capture-XXXXXX.avi";
        int fd = mkstemps(path, 4);
        if (fd < 0)
                return perror("mkstemps"), 1;
        struct run full = {};
        if ((q = preview_sink_new(V4L2_PIX_FMT_NV12, W, H, FPS, &full.preview)) < 0 ||
            (q = recorder_start(fd, V4L2_PIX_FMT_NV12, W, H, FPS,
                                &(struct recorder_options) { .quality = quality }, &full.recorder)) < 0)
                return fprintf(stderr, "outputs: %s\n", strerror(-q)), 1;
        close(fd);
        struct reader rd = { .fd = preview_sink_open_stream(full.preview) };
        pthread_t reader;
        if (rd.fd < 0 || pthread_create(&reader, NULL, reader_thread, &rd) != 0)
                return fprintf(stderr, "preview reader failed\n"), 1;

        double cpu_full;
        fprintf(stderr, "camera + preview reader + recording, %.0f s:\n", seconds);
        if ((q = run_camera(d, &full, seconds, &cpu_full)) < 0)
                return fprintf(stderr, "start: %s\n", strerror(-q)), 1;

        struct recorder_stats st;
        q = recorder_stop(full.recorder, &st);
        uint64_t preview_dropped = preview_sink_dropped_frames(full.preview);
        preview_sink_free(full.preview); /* EOF for the reader */
        pthread_join(reader, NULL);
        close(rd.fd);
        unlink(path);
        if (q < 0)
                return fprintf(stderr, "recording failed: %s\n", strerror(-q)), 1;

        uint64_t captured = atomic_load(&full.frames);
        char header[Y4M_HEADER_MAX];
        int header_len = y4m_stream_header(V4L2_PIX_FMT_NV12, W, H, (unsigned) FPS, 1, header, sizeof header);
        uint64_t preview_frames = rd.bytes > (uint64_t) header_len
                                          ? (rd.bytes - (uint64_t) header_len) / y4m_frame_size(V4L2_PIX_FMT_NV12, W, H)
                                          : 0;
        uint64_t skipped = atomic_load(&full.skipped);

        double wrapper_ms, bare_ms;
        if ((q = jpeg_times(quality, &wrapper_ms, &bare_ms)) < 0)
                return fprintf(stderr, "jpeg timing: %s\n", strerror(-q)), 1;
        double in_situ_ms = st.frames ? st.encode_cpu_us / 1e3 / st.frames : 0;

        printf("frames: captured %llu, preview read %llu, recorded %llu (%.2f MB, %.3f fps in the header)\n",
               (unsigned long long) captured, (unsigned long long) preview_frames,
               (unsigned long long) st.frames, st.bytes / 1e6, st.fps);
        printf("dropped frames: preview %llu, recorder %llu, camera late %llu, total %llu (goal 0)\n",
               (unsigned long long) preview_dropped, (unsigned long long) st.dropped,
               (unsigned long long) skipped, (unsigned long long) (preview_dropped + st.dropped + skipped));
        printf("CPU: camera alone %.3f s/s, with preview + recording %.3f s/s, ratio %.2fx\n", cpu_alone, cpu_full,
               cpu_full / cpu_alone);
        printf("JPEG per frame: bare tjCompressFromYUVPlanes %.2f ms, jpeg_encode_nv12 %.2f ms (ratio %.3fx, goal <= 1.15), "
               "in the recorder %.2f ms (ratio %.3fx)\n",
               bare_ms, wrapper_ms, wrapper_ms / bare_ms, in_situ_ms, in_situ_ms / bare_ms);
        camera_device_free(d);
        return 0;
}
