/* SPDX-License-Identifier: MIT */
/* MJPEG capture's cost: the virtual camera at 1920x1080 MJPG 30 fps (encoding like a UVC
 * camera, on its own thread) with a preview reader (so every frame is decoded once) and a
 * recording (the camera's JPEGs written unchanged). Baselines in this same process:
 *   - the recorder's CPU per frame against a bare TurboJPEG re-encode of the same frame
 *     (what a recorder without pass-through would pay; goal <= 0.1x);
 *   - the decode stage's CPU per frame against bare tjDecompressToYUVPlanes() on a frame
 *     of the same stream (goal <= 1.1x);
 *   - the process's CPU with preview + recording against the camera producing frames
 *     alone, and with the recording alone (nothing decoded).
 * Dropped frames (decode queue, preview, recorder, corrupt, camera late) must all be 0.
 *
 *   bench-mjpeg [--seconds N] [--baseline-seconds N]
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
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "capture/camera-device.h"
#include "capture/preview-sink.h"
#include "capture/recorder.h"
#include "media/jpeg.h"
#include "shared/macro.h"
#include "bench-clock.h"

#define W 1920
#define H 1080
#define FPS 30.0
#define REENCODE_QUALITY 90 /* the recorder's default */

struct run {
        struct preview_sink *preview;
        struct recorder *recorder;
        atomic_uint_fast64_t frames, late;
        uint64_t last_seq; /* capture thread only */
        pthread_mutex_t sample_lock;
        uint8_t *sample; /* one camera JPEG of the stream, for the bare baselines */
        size_t sample_size;
};

static void on_frame(struct frame *f, void *userdata) {
        struct run *r = userdata;
        const struct frame *j = frame_jpeg(f);

        /* Camera frames come on the capture thread as they are; decoded ones (for the
         * preview) on the decode thread as well. */
        if (camera_frame_is_for(f, false)) {
                /* A gap in sequence numbers: the camera lost a frame. */
                if (atomic_load(&r->frames) > 0 && f->sequence > r->last_seq + 1)
                        atomic_fetch_add(&r->late, f->sequence - r->last_seq - 1);
                r->last_seq = f->sequence;
                atomic_fetch_add(&r->frames, 1);
        }
        pthread_mutex_lock(&r->sample_lock);
        if (!r->sample && j) {
                r->sample = malloc(j->size);
                if (r->sample) {
                        memcpy(r->sample, j->data, j->size);
                        r->sample_size = j->size;
                }
        }
        pthread_mutex_unlock(&r->sample_lock);
        if (r->preview && camera_frame_is_for(f, true))
                preview_sink_push(r->preview, f);
        if (r->recorder && camera_frame_is_for(f, false))
                recorder_push(r->recorder, f);
}

static void *reader_thread(void *userdata) {
        int fd = *(int *) userdata;
        static uint8_t buf[1 << 20];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
        }
        return NULL;
}

static int run_camera(struct camera_device *d, struct run *r, bool needs_pixels, double seconds,
                      double *cpu_per_frame_ms, uint64_t *frames) {
        struct capture_format fmt = { V4L2_PIX_FMT_MJPEG, W, H, FPS };
        camera_device_set_needs_pixels(d, needs_pixels);
        int q = camera_device_start(d, &fmt, on_frame, NULL, r);
        if (q < 0)
                return q;
        sleep_s(0.5); /* warm-up */
        double c0 = cpu_s(), t0 = now_s();
        uint64_t f0 = atomic_load(&r->frames);
        sleep_s(seconds);
        double c1 = cpu_s(), t1 = now_s();
        uint64_t f1 = atomic_load(&r->frames);
        camera_device_stop(d);
        *frames = f1 - f0;
        *cpu_per_frame_ms = (c1 - c0) * 1e3 / (double) MAX(*frames, 1u);
        fprintf(stderr, "  %llu frames in %.1f s (%.2f fps), %.2f ms CPU per frame\n",
                (unsigned long long) *frames, t1 - t0, *frames / (t1 - t0), *cpu_per_frame_ms);
        return 0;
}

/* Bare TurboJPEG on one camera frame: decode to planes, and re-encode those planes. */
static int bare_times(const uint8_t *jpeg, size_t size, double *decode_ms, double *encode_ms) {
        const int rounds = 60;
        int w, h, samp, cs;
        tjhandle d = tjInitDecompress(), c = tjInitCompress();
        if (!d || !c || tjDecompressHeader3(d, jpeg, size, &w, &h, &samp, &cs) < 0)
                return -EIO;
        int cw = tjPlaneWidth(1, w, samp), ch = tjPlaneHeight(1, h, samp);
        uint8_t *y = malloc((size_t) w * h), *u = malloc((size_t) cw * ch), *v = malloc((size_t) cw * ch);
        unsigned char *planes[3] = { y, u, v };
        int strides[3] = { w, cw, cw };
        unsigned long bound = tjBufSize(w, h, samp), out_size;
        unsigned char *out = tjAlloc((int) bound);
        if (!y || !u || !v || !out)
                return -ENOMEM;

        for (int i = 0; i < 3; i++)
                tjDecompressToYUVPlanes(d, jpeg, size, planes, w, strides, h, 0);
        double t0 = thread_cpu_s();
        for (int i = 0; i < rounds; i++)
                if (tjDecompressToYUVPlanes(d, jpeg, size, planes, w, strides, h, 0) < 0)
                        return -EIO;
        *decode_ms = (thread_cpu_s() - t0) * 1e3 / rounds;

        const unsigned char *cplanes[3] = { y, u, v };
        for (int i = 0; i < 3; i++) {
                out_size = bound;
                tjCompressFromYUVPlanes(c, cplanes, w, strides, h, samp, &out, &out_size, REENCODE_QUALITY,
                                        TJFLAG_NOREALLOC);
        }
        t0 = thread_cpu_s();
        for (int i = 0; i < rounds; i++) {
                out_size = bound;
                if (tjCompressFromYUVPlanes(c, cplanes, w, strides, h, samp, &out, &out_size,
                                            REENCODE_QUALITY, TJFLAG_NOREALLOC) < 0)
                        return -EIO;
        }
        *encode_ms = (thread_cpu_s() - t0) * 1e3 / rounds;
        fprintf(stderr, "  camera frame %zu bytes (%s), re-encoded at quality %d: %lu bytes\n", size,
                samp == TJSAMP_422 ? "4:2:2" : "other", REENCODE_QUALITY, out_size);
        tjFree(out);
        free(y);
        free(u);
        free(v);
        tjDestroy(d);
        tjDestroy(c);
        return 0;
}

static int start_recorder(char *path, struct recorder **ret) {
        int fd = mkstemps(path, 4);
        if (fd < 0)
                return -errno;
        int q = recorder_start(fd, V4L2_PIX_FMT_MJPEG, W, H, FPS, NULL, ret);
        close(fd);
        return q;
}

int main(int argc, char **argv) {
        double seconds = 60, baseline = -1;
        static const struct option options[] = {
                { "seconds", required_argument, NULL, 's' },
                { "baseline-seconds", required_argument, NULL, 'b' },
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
                default:
                        fprintf(stderr, "usage: %s [--seconds N] [--baseline-seconds N]\n", argv[0]);
                        return 2;
                }
        if (!(seconds > 0))
                return 2;
        if (baseline <= 0)
                baseline = MAX(5.0, seconds / 4);

        struct camera_device *d = NULL;
        int q = camera_device_new_virtual(0, &d);
        if (q < 0)
                return fprintf(stderr, "virtual camera: %s\n", strerror(-q)), 1;
        printf("bench-mjpeg: virtual camera %dx%d MJPG %.0f fps\n", W, H, FPS);

        /* 1. The camera alone (drawing and encoding its JPEGs). */
        struct run alone = { .sample_lock = PTHREAD_MUTEX_INITIALIZER };
        double ms_alone, ms_rec, ms_full;
        uint64_t n_alone, n_rec, n_full;
        fprintf(stderr, "camera alone, %.0f s:\n", baseline);
        if ((q = run_camera(d, &alone, false, baseline, &ms_alone, &n_alone)) < 0)
                return fprintf(stderr, "start: %s\n", strerror(-q)), 1;

        /* 2. Recording alone: nothing decoded. */
        char rec_path[] = "/tmp/bench-mjpeg-XXXXXX.avi";
        struct run rec = { .sample_lock = PTHREAD_MUTEX_INITIALIZER };
        struct recorder_stats rec_st;
        if ((q = start_recorder(rec_path, &rec.recorder)) < 0)
                return fprintf(stderr, "recorder: %s\n", strerror(-q)), 1;
        fprintf(stderr, "camera + recording, %.0f s:\n", baseline);
        if ((q = run_camera(d, &rec, false, baseline, &ms_rec, &n_rec)) < 0)
                return fprintf(stderr, "start: %s\n", strerror(-q)), 1;
        q = recorder_stop(rec.recorder, &rec_st);
        unlink(rec_path);
        if (q < 0)
                return fprintf(stderr, "recording: %s\n", strerror(-q)), 1;

        /* 3. Preview reader + recording: every frame decoded once, shared by both. */
        char path[] = "/tmp/bench-mjpeg-XXXXXX.avi";
        struct run full = { .sample_lock = PTHREAD_MUTEX_INITIALIZER };
        struct recorder_stats st;
        struct camera_stats cs;
        if ((q = preview_sink_new(V4L2_PIX_FMT_MJPEG, W, H, FPS, &full.preview)) < 0 ||
            (q = start_recorder(path, &full.recorder)) < 0)
                return fprintf(stderr, "outputs: %s\n", strerror(-q)), 1;
        int rfd = preview_sink_open_stream(full.preview);
        pthread_t reader;
        if (rfd < 0 || pthread_create(&reader, NULL, reader_thread, &rfd) != 0)
                return fprintf(stderr, "preview reader failed\n"), 1;
        fprintf(stderr, "camera + preview reader + recording, %.0f s:\n", seconds);
        if ((q = run_camera(d, &full, true, seconds, &ms_full, &n_full)) < 0)
                return fprintf(stderr, "start: %s\n", strerror(-q)), 1;
        camera_device_get_stats(d, &cs);
        q = recorder_stop(full.recorder, &st);
        uint64_t preview_dropped = preview_sink_dropped_frames(full.preview);
        preview_sink_free(full.preview);
        pthread_join(reader, NULL);
        close(rfd);
        unlink(path);
        if (q < 0)
                return fprintf(stderr, "recording: %s\n", strerror(-q)), 1;

        /* 4. Bare TurboJPEG on a frame of the stream. */
        double bare_decode_ms, bare_encode_ms;
        if (!full.sample || (q = bare_times(full.sample, full.sample_size, &bare_decode_ms, &bare_encode_ms)) < 0)
                return fprintf(stderr, "baseline failed\n"), 1;

        double rec_ms = st.frames ? st.frame_cpu_us / 1e3 / (double) st.frames : 0;
        double decode_ms = cs.decoded ? cs.decode_cpu_ns / 1e6 / (double) cs.decoded : 0;
        uint64_t late = atomic_load(&full.late);

        printf("dropped (decode queue / corrupt / preview / recorder / camera late): "
               "%llu / %llu / %llu / %llu / %llu of %llu frames\n",
               (unsigned long long) cs.decode_dropped, (unsigned long long) cs.corrupt,
               (unsigned long long) preview_dropped, (unsigned long long) st.dropped,
               (unsigned long long) late, (unsigned long long) st.frames);
        printf("recorder CPU per frame (pass-through) vs bare TurboJPEG re-encode: %.3f vs %.2f ms (%.3fx, goal <= 0.1x)\n",
               rec_ms, bare_encode_ms, rec_ms / bare_encode_ms);
        printf("decode per frame: decode stage vs bare tjDecompressToYUVPlanes: %.2f vs %.2f ms (%.3fx, goal <= 1.1x)\n",
               decode_ms, bare_decode_ms, decode_ms / bare_decode_ms);
        printf("process CPU per frame: camera alone %.2f ms, + recording %.2f ms (+%.2f), + preview and recording %.2f ms (+%.2f)\n",
               ms_alone, ms_rec, ms_rec - ms_alone, ms_full, ms_full - ms_alone);
        printf("recording-only run: %llu frames, %llu dropped\n", (unsigned long long) rec_st.frames,
               (unsigned long long) rec_st.dropped);

        free(alone.sample);
        free(rec.sample);
        free(full.sample);
        camera_device_free(d);
        bool ok = cs.decode_dropped == 0 && cs.corrupt == 0 && preview_dropped == 0 && st.dropped == 0 &&
                  late == 0 && rec_st.dropped == 0;
        return ok ? 0 : 1;
}
