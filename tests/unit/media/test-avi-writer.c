/* SPDX-License-Identifier: MIT */
/* The Motion-JPEG AVI writer: files it makes read back frame for frame through our reader
 * and through ffprobe/ffmpeg, with OpenDML extension RIFFs, finish/append and crashes. */
#include <fcntl.h>
#include <sys/stat.h>

#include "media-test.h"
#include "media/avi-reader.h"
#include "media/avi-writer.h"
#include "media/jpeg.h"

#define W 160
#define H 120

static char *dir;
static bool have_ffprobe;

/* JPEG frame n of the test clip (distinct content per n), kept in frames[n]. */
static struct jpeg_buffer frames[64];

static void make_frames(void) {
        _cleanup_(jpeg_encoder_freep) struct jpeg_encoder *e = NULL;
        static uint8_t y[W * H], u[W * H / 4], v[W * H / 4];

        ASSERT_OK(jpeg_encoder_new(&e));
        for (unsigned n = 0; n < ELEMENTSOF(frames); n++) {
                test_fill_plane(y, W, H, W, n);
                test_fill_plane(u, W / 2, H / 2, W / 2, n + 100);
                test_fill_plane(v, W / 2, H / 2, W / 2, n + 200);
                struct yuv_planes p = {
                        .width = W, .height = H, .subsamp = YUV_SUBSAMP_420,
                        .plane = { y, u, v }, .stride = { W, W / 2, W / 2 },
                };
                ASSERT_OK(jpeg_encode_planes(e, &p, 80 + (int) (n % 7), &frames[n]));
        }
}

static char *path_of(const char *name) {
        char *p;
        ASSERT(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static int open_rw(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        ASSERT(fd >= 0);
        return fd;
}

/* Frames first..first+n-1 of the clip. */
static void add_frames(struct avi_writer *w, unsigned first, unsigned n) {
        for (unsigned i = first; i < first + n; i++)
                ASSERT_OK(avi_writer_add_frame(w, frames[i % ELEMENTSOF(frames)].data,
                                               frames[i % ELEMENTSOF(frames)].size));
}

/* Checks that the file holds exactly clip frames 0..n-1 in order. */
static void check_with_reader(const char *path, unsigned n, bool complete) {
        _cleanup_(avi_reader_freep) struct avi_reader *r = NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char err[AVI_ERROR_MAX];
        static uint8_t buf[1 << 20];

        ASSERT(fd >= 0);
        if (avi_reader_open(fd, &r, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s: %s\n", path, err);
                ASSERT(false);
        }
        ASSERT_EQ(avi_reader_frame_count(r), n);
        ASSERT_EQ(avi_reader_is_complete(r), complete);
        const struct avi_stream_info *s = avi_reader_stream(r, avi_reader_video_stream(r));
        ASSERT_EQ(s->width, W);
        ASSERT_EQ(s->height, H);
        ASSERT(streq(s->codec, "MJPG"));
        for (unsigned i = 0; i < n; i++) {
                int k = avi_reader_read_frame(r, i, buf, sizeof(buf));
                ASSERT_EQ(k, frames[i % ELEMENTSOF(frames)].size);
                ASSERT(memcmp(buf, frames[i % ELEMENTSOF(frames)].data, (size_t) k) == 0);
        }
}

/* ffprobe's view: codec, size, rate and decoded frame count. */
static void check_with_ffprobe(const char *path, unsigned n, const char *rate) {
        char *cmd, *out, expect[256];

        if (!have_ffprobe)
                return;
        ASSERT(asprintf(&cmd,
                        "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
                        "stream=codec_name,width,height,r_frame_rate,nb_read_frames "
                        "-of default=nw=1 '%s'",
                        path) > 0);
        out = test_run(cmd, NULL);
        ASSERT(out);
        snprintf(expect, sizeof(expect),
                 "codec_name=mjpeg\nwidth=%d\nheight=%d\nr_frame_rate=%s\nnb_read_frames=%u\n",
                 W, H, rate, n);
        if (!streq(out, expect)) {
                fprintf(stderr, "ffprobe said:\n%s\nexpected:\n%s", out, expect);
                ASSERT(false);
        }
        free(out);
        free(cmd);

        /* Every frame must decode without a single complaint. */
        ASSERT(asprintf(&cmd, "ffmpeg -nostdin -v error -i '%s' -f null - 2>&1", path) > 0);
        out = test_run(cmd, NULL);
        ASSERT(out);
        if (out[0])
                fprintf(stderr, "ffmpeg complained: %s\n", out);
        ASSERT(out[0] == 0);
        free(out);
        free(cmd);
}

static void test_plain(void) {
        _cleanup_free_ char *path = path_of("plain.avi");
        _cleanup_close_ int fd = open_rw(path);
        struct avi_writer *w;
        struct avi_writer_params p = { .width = W, .height = H, .fps_num = 30000, .fps_den = 1001 };

        ASSERT_OK(avi_writer_new(fd, &p, &w));
        add_frames(w, 0, 20);
        ASSERT_EQ(avi_writer_frame_count(w), 20);
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);

        check_with_reader(path, 20, true);
        check_with_ffprobe(path, 20, "30000/1001");
}

static void test_measured_rate(void) {
        _cleanup_free_ char *path = path_of("rate.avi");
        _cleanup_close_ int fd = open_rw(path);
        _cleanup_(avi_reader_freep) struct avi_reader *r = NULL;
        struct avi_writer *w;
        struct avi_writer_params p = { .width = W, .height = H, .fps_num = 30, .fps_den = 1 };
        uint32_t rate, scale;

        ASSERT_OK(avi_writer_new(fd, &p, &w));
        add_frames(w, 0, 10);
        ASSERT(avi_writer_set_frame_rate(w, 0, 1) == -EINVAL);
        ASSERT_OK(avi_writer_set_frame_rate(w, 25, 2)); /* 12.5 fps measured */
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);

        ASSERT_OK(avi_reader_open(fd, &r, NULL, 0));
        avi_reader_frame_rate(r, &rate, &scale);
        ASSERT_EQ(rate, 25);
        ASSERT_EQ(scale, 2);
        ASSERT_EQ(avi_reader_duration_us(r), 800000);
        ASSERT_EQ(avi_reader_frame_time_us(r, 3), 240000);
        check_with_ffprobe(path, 10, "25/2");
}

/* A 32 KiB RIFF limit forces several AVIX RIFFs with their own ix00. */
static void test_opendml(void) {
        _cleanup_free_ char *path = path_of("odml.avi");
        _cleanup_close_ int fd = open_rw(path);
        _cleanup_(avi_reader_freep) struct avi_reader *r = NULL;
        struct avi_writer *w;
        struct avi_writer_params p = {
                .width = W, .height = H, .fps_num = 25, .fps_den = 1, .riff_limit = 32 << 10,
        };
        char *cmd, *out;

        ASSERT_OK(avi_writer_new(fd, &p, &w));
        add_frames(w, 0, 60);
        ASSERT_OK(avi_writer_finish(w));
        fprintf(stderr, "odml file: %llu bytes\n", (unsigned long long) avi_writer_file_size(w));
        ASSERT(avi_writer_file_size(w) > 4 * (32 << 10));
        avi_writer_free(w);

        check_with_reader(path, 60, true);
        ASSERT_OK(avi_reader_open(fd, &r, NULL, 0));
        ASSERT(avi_reader_is_opendml(r));
        check_with_ffprobe(path, 60, "25/1");

        ASSERT(asprintf(&cmd, "grep -a -o AVIX '%s' | wc -l", path) > 0);
        out = test_run(cmd, NULL);
        ASSERT(out && atoi(out) >= 4);
        free(out);
        free(cmd);
}

/* finish, reopen for append, more frames, finish again: one clip, every frame once. */
static void test_append_after_finish(bool small_riffs) {
        _cleanup_free_ char *path = path_of(small_riffs ? "append-odml.avi" : "append.avi");
        _cleanup_close_ int fd = open_rw(path);
        struct avi_writer *w;
        uint64_t limit = small_riffs ? 48 << 10 : 0;
        struct avi_writer_params p = {
                .width = W, .height = H, .fps_num = 30, .fps_den = 1, .riff_limit = limit,
        };
        char err[AVI_ERROR_MAX];

        ASSERT_OK(avi_writer_new(fd, &p, &w));
        add_frames(w, 0, 15);
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);
        check_with_reader(path, 15, true);

        ASSERT_OK(avi_writer_open_append(fd, limit, &w, err, sizeof(err)));
        ASSERT_EQ(avi_writer_frame_count(w), 15);
        add_frames(w, 15, 20);
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);
        check_with_reader(path, 35, true);
        check_with_ffprobe(path, 35, "30/1");

        /* The same writer may also go on after finish() without reopening. */
        ASSERT_OK(avi_writer_open_append(fd, limit, &w, err, sizeof(err)));
        add_frames(w, 35, 5);
        ASSERT_OK(avi_writer_finish(w));
        add_frames(w, 40, 5);
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);
        check_with_reader(path, 45, true);
        check_with_ffprobe(path, 45, "30/1");
}

/* A writer that dies without finish(): the file says it is incomplete, every whole frame is
 * found by scanning, a torn last chunk is ignored, and append turns it into a whole file. */
static void test_interrupted(bool small_riffs) {
        _cleanup_free_ char *path = path_of(small_riffs ? "crash-odml.avi" : "crash.avi");
        _cleanup_close_ int fd = open_rw(path);
        struct avi_writer *w;
        uint64_t limit = small_riffs ? 40 << 10 : 0;
        struct avi_writer_params p = {
                .width = W, .height = H, .fps_num = 30, .fps_den = 1, .riff_limit = limit,
        };
        char err[AVI_ERROR_MAX];
        struct stat st;

        ASSERT_OK(avi_writer_new(fd, &p, &w));
        add_frames(w, 0, 25);
        avi_writer_free(w); /* "crash" */
        check_with_reader(path, 25, false);

        /* Tear the last frame in half as a kill -9 mid-write would. */
        ASSERT(fstat(fd, &st) == 0);
        ASSERT(ftruncate(fd, st.st_size - (off_t) frames[24].size / 2) == 0);
        check_with_reader(path, 24, false);

        ASSERT_OK(avi_writer_open_append(fd, limit, &w, err, sizeof(err)));
        ASSERT_EQ(avi_writer_frame_count(w), 24);
        add_frames(w, 24, 16);
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);
        check_with_reader(path, 40, true);
        check_with_ffprobe(path, 40, "30/1");
}

/* A recording stopped before its first frame can still be resumed. */
static void test_append_to_empty(bool finished) {
        _cleanup_free_ char *path = path_of("empty.avi");
        _cleanup_close_ int fd = open_rw(path);
        struct avi_writer *w;
        struct avi_writer_params p = { .width = W, .height = H, .fps_num = 30, .fps_den = 1 };
        char err[AVI_ERROR_MAX];

        ASSERT_OK(avi_writer_new(fd, &p, &w));
        if (finished)
                ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);

        ASSERT_OK(avi_writer_open_append(fd, 0, &w, err, sizeof(err)));
        ASSERT_EQ(avi_writer_frame_count(w), 0);
        add_frames(w, 0, 5);
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);
        check_with_reader(path, 5, true);
        check_with_ffprobe(path, 5, "30/1");
}

static void test_bad_arguments(void) {
        _cleanup_free_ char *path = path_of("bad.avi");
        _cleanup_close_ int fd = open_rw(path);
        _cleanup_close_ int rdonly = open(path, O_RDONLY | O_CLOEXEC);
        struct avi_writer *w = NULL;
        struct avi_writer_params p = { .width = W, .height = H, .fps_num = 30, .fps_den = 1 };
        struct avi_writer_params bad = p;
        int pipefd[2];
        char err[AVI_ERROR_MAX];

        bad.fps_num = 0;
        ASSERT(avi_writer_new(fd, &bad, &w) == -EINVAL);
        bad = p;
        bad.width = 20000;
        ASSERT(avi_writer_new(fd, &bad, &w) == -EINVAL);
        ASSERT(avi_writer_new(rdonly, &p, &w) < 0);
        ASSERT(pipe2(pipefd, O_CLOEXEC) == 0);
        ASSERT(avi_writer_new(pipefd[1], &p, &w) < 0);
        close(pipefd[0]);
        close(pipefd[1]);

        ASSERT_OK(avi_writer_new(fd, &p, &w));
        ASSERT(avi_writer_add_frame(w, frames[0].data, 0) == -EINVAL);
        avi_writer_free(w);

        /* Appending to an AVI that is not ours is refused with a reason. */
        if (test_have_program("ffmpeg")) {
                _cleanup_free_ char *other = path_of("ffmpeg.avi");
                char *cmd;
                ASSERT(asprintf(&cmd, "ffmpeg -nostdin -v error -f lavfi -i testsrc=size=64x48:rate=5 "
                                "-frames 3 -c:v mjpeg -y '%s'", other) > 0);
                free(test_run(cmd, NULL));
                free(cmd);
                _cleanup_close_ int ofd = open(other, O_RDWR | O_CLOEXEC);
                ASSERT(ofd >= 0);
                ASSERT(avi_writer_open_append(ofd, 0, &w, err, sizeof(err)) == -EBADMSG);
                ASSERT(strstr(err, "camerad"));
        }
}

int main(void) {
        dir = test_tmpdir();
        have_ffprobe = test_have_program("ffprobe") && test_have_program("ffmpeg");
        if (!have_ffprobe)
                fprintf(stderr, "ffprobe/ffmpeg missing: checking with our reader only\n");
        make_frames();

        test_plain();
        test_measured_rate();
        test_opendml();
        test_append_after_finish(false);
        test_append_after_finish(true);
        test_interrupted(false);
        test_interrupted(true);
        test_append_to_empty(false);
        test_append_to_empty(true);
        test_bad_arguments();

        for (unsigned n = 0; n < ELEMENTSOF(frames); n++)
                jpeg_buffer_done(&frames[n]);
        test_rmdir(dir);
        free(dir);
        return 0;
}
