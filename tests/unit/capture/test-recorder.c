/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <linux/videodev2.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "capture/recorder.h"
#include "capture/virtual-sensor.h"
#include "shared/macro.h"
#include "test-util.h"

/* ffprobe's "codec,width,height,frames,rate" of the file, or false without ffprobe. */
static bool probe(const char *path, char *out, size_t size) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                 "stream=codec_name,width,height,nb_read_frames,r_frame_rate -of csv=p=0 %s", path);
        FILE *p = popen(cmd, "r");
        if (!p)
                return false;
        bool ok = fgets(out, (int) size, p) != NULL;
        int status = pclose(p);
        if (!ok || status != 0)
                return false;
        out[strcspn(out, "\n")] = 0;
        return true;
}

static bool have_ffprobe(void) {
        return system("ffprobe -version >/dev/null 2>&1") == 0;
}

/* Records n frames with timestamps interval_us apart, pushed every pause_ms. */
static void record(uint32_t fourcc, unsigned w, unsigned h, double fps, unsigned n, uint64_t interval_us,
                   long pause_ms, const struct recorder_options *opt, struct recorder_stats *st,
                   char *probe_out, size_t probe_size) {
        char path[] = "/tmp/test-recorder-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);
        struct virtual_sensor *s = NULL;
        struct recorder *r = NULL;

        check(fd >= 0);
        check_ok(virtual_sensor_new(fourcc, w, h, 7, &s));
        check_ok(recorder_start(fd, fourcc, w, h, fps, opt, &r));
        close(fd); /* the recorder keeps its own */

        for (unsigned i = 0; i < n; i++) {
                struct frame *f = frame_new(fourcc, w, h);
                check(f);
                f->sequence = i;
                f->timestamp_us = 5000000 + i * interval_us;
                check_ok(virtual_sensor_render_frame(s, f, true));
                recorder_push(r, f);
                frame_unref(f);
                if (pause_ms)
                        test_sleep_ms(pause_ms);
        }
        check_ok(recorder_stop(r, st));
        fprintf(stderr, "%.4s %ux%u: %llu frames, %llu dropped, %llu bytes, %.3f fps, %llu us\n",
                (const char *) &fourcc, w, h, (unsigned long long) st->frames,
                (unsigned long long) st->dropped, (unsigned long long) st->bytes, st->fps,
                (unsigned long long) st->duration_us);
        probe_out[0] = 0;
        if (have_ffprobe()) {
                check(probe(path, probe_out, probe_size));
                fprintf(stderr, "  ffprobe: %s\n", probe_out);
        }
        check(unlink(path) == 0);
        virtual_sensor_free(s);
}

/* A write error (the file size limit standing in for a full disk): counted, reported by
 * stop(), and no frame is pushed into a dead file afterwards. */
static void test_write_error(void) {
        char path[] = "/tmp/test-recorder-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);
        struct virtual_sensor *s = NULL;
        struct recorder *r = NULL;
        struct recorder_stats st;
        struct rlimit old, small = { 256 * 1024, 0 };
        const unsigned n = 12;

        check(fd >= 0);
        check(getrlimit(RLIMIT_FSIZE, &old) == 0);
        small.rlim_max = old.rlim_max;
        signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of death */
        check_ok(virtual_sensor_new(V4L2_PIX_FMT_NV12, 640, 480, 7, &s));
        check_ok(recorder_start(fd, V4L2_PIX_FMT_NV12, 640, 480, 30, NULL, &r));
        check(setrlimit(RLIMIT_FSIZE, &small) == 0);
        for (unsigned i = 0; i < n; i++) {
                struct frame *f = frame_new(V4L2_PIX_FMT_NV12, 640, 480);
                check(f);
                f->timestamp_us = 1000000 + i * 33333;
                check_ok(virtual_sensor_render_frame(s, f, true));
                recorder_push(r, f);
                frame_unref(f);
                test_sleep_ms(10);
        }
        int e = recorder_stop(r, &st);
        check(setrlimit(RLIMIT_FSIZE, &old) == 0);
        fprintf(stderr, "write error: %d (%s), %llu frames, %llu dropped\n", e, strerror(-e),
                (unsigned long long) st.frames, (unsigned long long) st.dropped);
        check(e == -EFBIG);
        check(st.frames > 0 && st.frames < n);
        check(st.frames + st.dropped == n);
        virtual_sensor_free(s);
        close(fd);
        unlink(path);
}

int main(void) {
        struct recorder_stats st;
        char out[256];
        bool ffprobe = have_ffprobe();

        struct recorder *r = NULL;
        check(recorder_start(1, V4L2_PIX_FMT_RGB24, 320, 240, 30, NULL, &r) == -EINVAL);
        check(recorder_start(1, V4L2_PIX_FMT_NV12, 320, 240, 0, NULL, &r) == -EINVAL);
        check(recorder_start(1, V4L2_PIX_FMT_NV12, 320, 240, 30, &(struct recorder_options) { .quality = 101 }, &r) == -EINVAL);

        /* NV12 at 30 fps: nothing dropped, ffprobe agrees on everything. */
        /* The paced runs get a queue that holds every frame, so their counts do not depend
         * on the machine's speed (valgrind); dropping has its own case below. */
        const struct recorder_options roomy = { .queue_length = 64 };
        record(V4L2_PIX_FMT_NV12, 320, 240, 30, 45, 33333, 5, &roomy, &st, out, sizeof out);
        check(st.frames == 45 && st.dropped == 0 && st.bytes > 45 * 1000);
        check(fabs(st.fps - 30) < 0.01);
        check(st.duration_us > 1490000 && st.duration_us < 1510000);
        if (ffprobe)
                check(streq(out, "mjpeg,320,240,30/1,45"));

        /* YUYV, timestamps at 25 fps under a 30 fps profile: the header says 25. */
        record(V4L2_PIX_FMT_YUYV, 640, 480, 30, 20, 40000, 5, &(struct recorder_options) { .quality = 50, .queue_length = 64 },
               &st, out, sizeof out);
        check(st.frames == 20 && st.dropped == 0 && fabs(st.fps - 25) < 0.01);
        if (ffprobe)
                check(streq(out, "mjpeg,640,480,25/1,20"));

        /* Capture at 30, output at 15: every other frame. */
        record(V4L2_PIX_FMT_NV12, 320, 240, 15, 30, 33333, 2, &roomy, &st, out, sizeof out);
        check(st.frames == 15 && st.dropped == 0 && fabs(st.fps - 15) < 0.01);
        if (ffprobe)
                check(streq(out, "mjpeg,320,240,15/1,15"));

        /* A one-frame queue fed as fast as possible: drops are counted, never blocking,
         * and the file holds exactly the frames written. */
        record(V4L2_PIX_FMT_NV12, 1280, 720, 30, 30, 33333, 0, &(struct recorder_options) { .queue_length = 1 },
               &st, out, sizeof out);
        check(st.frames + st.dropped == 30);
        check(st.dropped > 0 && st.frames >= 1);
        if (ffprobe) {
                char tail[32];
                snprintf(tail, sizeof tail, ",%llu", (unsigned long long) st.frames);
                check(strstr(out, tail) && strncmp(out, "mjpeg,1280,720,", 15) == 0);
        } else
                fprintf(stderr, "ffprobe not available; file checks skipped\n");

        test_write_error();
        return 0;
}
