/* SPDX-License-Identifier: MIT */
/* The AVI reader on ffmpeg's files and on broken or hostile ones: each failure must come
 * back as an error with a reason, never a crash or a wrong frame. */
#include <fcntl.h>
#include <sys/stat.h>

#include "media-test.h"
#include "media/avi-reader.h"
#include "media/avi-writer.h"
#include "media/riff.h"

static char *dir;

static char *path_of(const char *name) {
        char *p;
        ASSERT(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void ffmpeg(const char *args, const char *out) {
        char *cmd;
        int status;

        ASSERT(asprintf(&cmd, "ffmpeg -nostdin -v error %s -y '%s'", args, out) > 0);
        free(test_run(cmd, &status));
        if (status != 0)
                fprintf(stderr, "failed: %s\n", cmd);
        ASSERT_EQ(status, 0);
        free(cmd);
}

/* Opens path; returns the reader or NULL with the reason in err. */
static struct avi_reader *open_path(const char *path, char *err, int *ret) {
        struct avi_reader *r = NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        ASSERT(fd >= 0);
        *ret = avi_reader_open(fd, &r, err, AVI_ERROR_MAX);
        close(fd); /* the reader keeps its own duplicate */
        return r;
}

/* Expects opening path to fail with -EBADMSG and a reason containing what. */
static void expect_error(const char *path, const char *what) {
        char err[AVI_ERROR_MAX];
        int k;
        struct avi_reader *r = open_path(path, err, &k);

        if (r || !strstr(err, what)) {
                fprintf(stderr, "%s: expected error '%s', got %d '%s'\n", path, what, k, err);
                ASSERT(false);
        }
        ASSERT_EQ(k, -EBADMSG);
}

/* Reads every frame and checks their concatenation equals ffmpeg's stream copy. */
static void check_frames_match_ffmpeg(struct avi_reader *r, const char *path) {
        _cleanup_free_ char *copy = path_of("copy.mjpeg");
        _cleanup_free_ char *args = NULL;
        _cleanup_free_ uint8_t *expect = NULL, *buf = NULL;
        size_t expect_size, pos = 0;

        ASSERT(asprintf(&args, "-i '%s' -c:v copy -an -f mjpeg", path) > 0);
        ffmpeg(args, copy);
        expect = test_read_file(copy, &expect_size);
        buf = malloc(AVI_MAX_FRAME_SIZE);
        ASSERT(buf);
        for (uint64_t i = 0; i < avi_reader_frame_count(r); i++) {
                int k = avi_reader_read_frame(r, i, buf, AVI_MAX_FRAME_SIZE);
                ASSERT(k > 0);
                ASSERT(pos + (size_t) k <= expect_size);
                ASSERT(memcmp(expect + pos, buf, (size_t) k) == 0);
                pos += (size_t) k;
        }
        ASSERT_EQ(pos, expect_size);
        unlink(copy);
}

static void test_ffmpeg_files(void) {
        static const struct {
                const char *size, *rate;
                unsigned w, h, frames;
                uint32_t fps_num, fps_den;
        } cases[] = {
                { "320x240", "25", 320, 240, 30, 25, 1 },
                { "176x144", "30000/1001", 176, 144, 12, 30000, 1001 },
                { "640x360", "10", 640, 360, 7, 10, 1 },
                { "66x50", "60", 66, 50, 40, 60, 1 },
        };

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                _cleanup_free_ char *path = path_of("ff.avi"), *args = NULL;
                char err[AVI_ERROR_MAX];
                int k;
                uint32_t rate, scale;

                ASSERT(asprintf(&args, "-f lavfi -i testsrc=size=%s:rate=%s -frames %u -c:v mjpeg",
                                cases[c].size, cases[c].rate, cases[c].frames) > 0);
                ffmpeg(args, path);

                _cleanup_(avi_reader_freep) struct avi_reader *r = open_path(path, err, &k);
                if (!r)
                        fprintf(stderr, "%s: %s\n", cases[c].size, err);
                ASSERT(r);
                ASSERT(avi_reader_is_complete(r));
                ASSERT_EQ(avi_reader_frame_count(r), cases[c].frames);
                ASSERT_EQ(avi_reader_n_streams(r), 1);
                const struct avi_stream_info *s = avi_reader_stream(r, 0);
                ASSERT_EQ(s->type, AVI_STREAM_VIDEO);
                ASSERT_EQ(s->width, cases[c].w);
                ASSERT_EQ(s->height, cases[c].h);
                ASSERT(streq(s->codec, "MJPG"));
                avi_reader_frame_rate(r, &rate, &scale);
                /* ffmpeg may reduce the fraction differently; compare the value. */
                ASSERT_EQ((uint64_t) rate * cases[c].fps_den, (uint64_t) scale * cases[c].fps_num);
                ASSERT_EQ(avi_reader_duration_us(r),
                          (uint64_t) cases[c].frames * 1000000 * cases[c].fps_den / cases[c].fps_num);
                check_frames_match_ffmpeg(r, path);
        }
}

/* Audio next to the video: both streams are reported, the frames are the video's. */
static void test_with_audio(void) {
        _cleanup_free_ char *path = path_of("av.avi");
        char err[AVI_ERROR_MAX];
        int k;

        ffmpeg("-f lavfi -i testsrc=size=128x96:rate=15 -f lavfi -i sine=frequency=440 "
               "-frames:v 15 -t 1 -c:v mjpeg -c:a pcm_s16le",
               path);
        _cleanup_(avi_reader_freep) struct avi_reader *r = open_path(path, err, &k);
        ASSERT(r);
        ASSERT_EQ(avi_reader_n_streams(r), 2);
        ASSERT_EQ(avi_reader_stream(r, 0)->type, AVI_STREAM_VIDEO);
        ASSERT_EQ(avi_reader_stream(r, 1)->type, AVI_STREAM_AUDIO);
        ASSERT_EQ(avi_reader_video_stream(r), 0);
        ASSERT_EQ(avi_reader_frame_count(r), 15);
        check_frames_match_ffmpeg(r, path);
}

/* Replaces the first occurrence of fourcc `from` at or after `start` by `to`. */
static void patch_fourcc(const char *path, const char *from, const char *to) {
        size_t size;
        uint8_t *d = test_read_file(path, &size);
        uint8_t *p = memmem(d, size, from, 4);

        ASSERT(p);
        memcpy(p, to, 4);
        test_write_file(path, d, size);
        free(d);
}

static void test_no_index(void) {
        _cleanup_free_ char *path = path_of("noidx.avi");
        char err[AVI_ERROR_MAX];
        int k;

        ffmpeg("-f lavfi -i testsrc=size=96x64:rate=12 -frames 9 -c:v mjpeg", path);
        patch_fourcc(path, "idx1", "JUNK");
        _cleanup_(avi_reader_freep) struct avi_reader *r = open_path(path, err, &k);
        ASSERT(r);
        ASSERT(avi_reader_is_complete(r));
        ASSERT_EQ(avi_reader_frame_count(r), 9);
        check_frames_match_ffmpeg(r, path);
}

/* Finds the idx1 chunk in d and returns a pointer to its first entry. */
static uint8_t *find_idx1(uint8_t *d, size_t size) {
        uint8_t *p = memmem(d, size, "idx1", 4);
        ASSERT(p);
        return p + 8;
}

static void test_truncated(void) {
        _cleanup_free_ char *path = path_of("trunc.avi");
        char err[AVI_ERROR_MAX];
        size_t size;
        int k;
        uint8_t *d;

        ffmpeg("-f lavfi -i testsrc=size=160x120:rate=25 -frames 20 -c:v mjpeg", path);
        d = test_read_file(path, &size);

        /* Cut a few bytes into frame 10's chunk: the headers promise 20 frames, frames 0-9
         * survive. A fragment is not the video: refused, naming both counts and the size. */
        uint8_t *movi = memmem(d, size, "movi", 4);
        ASSERT(movi);
        size_t cut = (size_t) (movi - d) + rd32(find_idx1(d, size) + 16 * 10 + 8) + 13;
        test_write_file(path, d, cut);
        {
                _cleanup_free_ char *what = NULL;
                ASSERT(asprintf(&what, "truncated: the header lists 20 frames, the file holds 10 whole "
                                "frames (ends at byte %zu)", cut) > 0);
                expect_error(path, what);
        }
        /* Cut just after frame 0: singular. */
        cut = (size_t) (movi - d) + rd32(find_idx1(d, size) + 16 * 1 + 8) + 13;
        test_write_file(path, d, cut);
        expect_error(path, "the file holds 1 whole frame (");
        /* Cut inside frame 0: nothing whole is left, still "truncated". */
        cut = (size_t) (movi - d) + rd32(find_idx1(d, size) + 8) + 13;
        test_write_file(path, d, cut);
        expect_error(path, "the file holds 0 whole frames");

        /* The same cut with the header counts at 0, as an interrupted writer leaves them:
         * the whole frames are recovered by scanning. */
        cut = (size_t) (movi - d) + rd32(find_idx1(d, size) + 16 * 10 + 8) + 13;
        {
                uint8_t *strh = memmem(d, size, "strh", 4), *avih = memmem(d, size, "avih", 4);
                ASSERT(strh && avih);
                ASSERT_EQ(rd32(avih + 8 + 16), 20);
                ASSERT_EQ(rd32(strh + 8 + 32), 20);
                wr32(avih + 8 + 16, 0);
                wr32(strh + 8 + 32, 0);
                uint8_t *dmlh = memmem(d, size, "dmlh", 4);
                if (dmlh)
                        wr32(dmlh + 8, 0);
        }
        test_write_file(path, d, cut);
        {
                _cleanup_(avi_reader_freep) struct avi_reader *r = open_path(path, err, &k);
                ASSERT(r);
                ASSERT(!avi_reader_is_complete(r));
                ASSERT_EQ(avi_reader_frame_count(r), 10);
                uint8_t *buf = malloc(1 << 20);
                for (uint64_t i = 0; i < avi_reader_frame_count(r); i++)
                        ASSERT(avi_reader_read_frame(r, i, buf, 1 << 20) > 0);
                free(buf);
        }
        /* strh dwLength at what was already written (10): still a recovery, not truncation. */
        {
                uint8_t *strh = memmem(d, size, "strh", 4);
                wr32(strh + 8 + 32, 10);
        }
        test_write_file(path, d, cut);
        {
                _cleanup_(avi_reader_freep) struct avi_reader *r = open_path(path, err, &k);
                ASSERT(r);
                ASSERT_EQ(avi_reader_frame_count(r), 10);
        }
        /* ... but 11 is one more than the file holds. */
        {
                uint8_t *strh = memmem(d, size, "strh", 4);
                wr32(strh + 8 + 32, 11);
        }
        test_write_file(path, d, cut);
        expect_error(path, "truncated: the header lists 11 frames, the file holds 10 whole frames");

        /* Cut inside the headers. */
        test_write_file(path, d, 100);
        expect_error(path, "header list");
        test_write_file(path, d, 8);
        expect_error(path, "not a RIFF AVI file");
        test_write_file(path, d, 0);
        expect_error(path, "not a RIFF AVI file");
        free(d);
}

static void test_garbage_sizes(void) {
        _cleanup_free_ char *path = path_of("garbage.avi");
        size_t size;
        uint8_t *d, *e;

        ffmpeg("-f lavfi -i testsrc=size=96x64:rate=10 -frames 10 -c:v mjpeg", path);
        d = test_read_file(path, &size);

        /* Index entry 7 claims a frame far past the end. */
        e = find_idx1(d, size);
        wr32(e + 16 * 7 + 12, 0x7ffffff0);
        test_write_file(path, d, size);
        expect_error(path, "index entry 7 is a");
        wr32(e + 16 * 7 + 12, 5000);
        wr32(e + 16 * 7 + 8, 0xfffffff0);
        test_write_file(path, d, size);
        expect_error(path, "index entry 7 points past the end of the file");
        free(d);

        /* hdrl size beyond the file. */
        d = test_read_file(path, &size);
        wr32(d + 16, 0xfffffff0);
        test_write_file(path, d, size);
        expect_error(path, "header list");
        free(d);

        /* Not RIFF at all; a RIFF that is WAVE. */
        test_write_file(path, "hello, this is not an AVI file at all", 38);
        expect_error(path, "not a RIFF AVI file");
        test_write_file(path, "RIFF\x20\0\0\0WAVEfmt \x10\0\0\0", 20);
        expect_error(path, "not a RIFF AVI file");
}

static void test_codecs(void) {
        _cleanup_free_ char *path = path_of("codec.avi");

        ffmpeg("-f lavfi -i testsrc=size=64x48:rate=5 -frames 3 -c:v mpeg4", path);
        expect_error(path, "not MJPG");
        expect_error(path, "codec is FMP4");
        ffmpeg("-f lavfi -i testsrc=size=64x48:rate=5 -frames 3 -c:v rawvideo -pix_fmt bgr24", path);
        expect_error(path, "not MJPG");
        ffmpeg("-f lavfi -i sine=frequency=440 -t 0.5 -c:a pcm_s16le", path);
        expect_error(path, "no video stream");
}

static void test_zero_frames(void) {
        _cleanup_free_ char *path = path_of("empty.avi");
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        struct avi_writer *w;
        struct avi_writer_params p = { .width = 64, .height = 48, .fps_num = 5, .fps_den = 1 };

        ASSERT(fd >= 0);
        ASSERT_OK(avi_writer_new(fd, &p, &w));
        ASSERT_OK(avi_writer_finish(w));
        avi_writer_free(w);
        /* Not "damaged": a file without frames has its own errno. */
        char err[AVI_ERROR_MAX];
        int k;
        struct avi_reader *r = open_path(path, err, &k);
        ASSERT(!r);
        ASSERT_EQ(k, -ENODATA);
        ASSERT(strstr(err, "no frames"));
}

static void test_not_files(void) {
        struct avi_reader *r = NULL;
        char err[AVI_ERROR_MAX];
        int pipefd[2], dfd;

        ASSERT(pipe2(pipefd, O_CLOEXEC) == 0);
        ASSERT_EQ(avi_reader_open(pipefd[0], &r, err, sizeof(err)), -ESPIPE);
        ASSERT(strstr(err, "pipe"));
        close(pipefd[0]);
        close(pipefd[1]);

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT(dfd >= 0);
        ASSERT_EQ(avi_reader_open(dfd, &r, err, sizeof(err)), -EISDIR);
        ASSERT(strstr(err, "directory"));
        close(dfd);
        ASSERT(!r);
}

/* A frame whose bytes are not a JPEG is reported when read, naming the frame. */
static void test_frame_not_jpeg(void) {
        _cleanup_free_ char *path = path_of("notjpeg.avi");
        char err[AVI_ERROR_MAX];
        size_t size;
        uint8_t *d, *p, buf[65536];
        int k;

        ffmpeg("-f lavfi -i testsrc=size=64x48:rate=5 -frames 4 -c:v mjpeg", path);
        d = test_read_file(path, &size);
        /* Frame 2's first byte, found through idx1 (offsets from the "movi" FourCC). */
        p = memmem(d, size, "movi", 4);
        ASSERT(p);
        p += rd32(find_idx1(d, size) + 16 * 2 + 8);
        ASSERT(memcmp(p, "00dc", 4) == 0);
        p[8] = 0;
        test_write_file(path, d, size);
        free(d);
        _cleanup_(avi_reader_freep) struct avi_reader *r = open_path(path, err, &k);
        ASSERT(r);
        ASSERT(avi_reader_read_frame(r, 1, buf, sizeof(buf)) > 0);
        ASSERT_EQ(avi_reader_read_frame(r, 2, buf, sizeof(buf)), -EBADMSG);
        ASSERT(strstr(avi_reader_error(r), "frame 2 is not a JPEG"));
        ASSERT_EQ(avi_reader_read_frame(r, 4, buf, sizeof(buf)), -ERANGE);
        ASSERT_EQ(avi_reader_read_frame(r, 0, buf, 10), -ENOBUFS);
}

int main(void) {
        if (!test_have_program("ffmpeg")) {
                fprintf(stderr, "ffmpeg missing, skipping\n");
                return EXIT_TEST_SKIP;
        }
        dir = test_tmpdir();

        test_ffmpeg_files();
        test_with_audio();
        test_no_index();
        test_truncated();
        test_garbage_sizes();
        test_codecs();
        test_zero_frames();
        test_not_files();
        test_frame_not_jpeg();

        test_rmdir(dir);
        free(dir);
        return 0;
}
