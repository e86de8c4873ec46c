/* SPDX-License-Identifier: MIT */
/* YUV4MPEG2: exact headers and plane layout for NV12 and YUYV, and ffmpeg reading a whole
 * stream back with the right geometry, rate, frame count and pixels. */
#include <linux/videodev2.h>

#include "media-test.h"
#include "media/y4m.h"

static void test_header(void) {
        char buf[Y4M_HEADER_MAX];

        ASSERT_EQ(y4m_stream_header(V4L2_PIX_FMT_NV12, 640, 480, 30000, 1001, buf, sizeof(buf)),
                  strlen("YUV4MPEG2 W640 H480 F30000:1001 Ip A1:1 C420jpeg\n"));
        ASSERT(streq(buf, "YUV4MPEG2 W640 H480 F30000:1001 Ip A1:1 C420jpeg\n"));
        ASSERT(y4m_stream_header(V4L2_PIX_FMT_YUYV, 1280, 720, 30, 1, buf, sizeof(buf)) > 0);
        ASSERT(streq(buf, "YUV4MPEG2 W1280 H720 F30:1 Ip A1:1 C422\n"));

        ASSERT_EQ(y4m_stream_header(V4L2_PIX_FMT_NV12, 640, 480, 30, 1, buf, 10), -ENOBUFS);
        ASSERT_EQ(y4m_stream_header(V4L2_PIX_FMT_NV12, 641, 480, 30, 1, buf, sizeof(buf)), -EINVAL);
        ASSERT_EQ(y4m_stream_header(V4L2_PIX_FMT_NV12, 640, 480, 0, 1, buf, sizeof(buf)), -EINVAL);
        ASSERT_EQ(y4m_stream_header(V4L2_PIX_FMT_MJPEG, 640, 480, 30, 1, buf, sizeof(buf)), -EINVAL);

        ASSERT_EQ(y4m_frame_size(V4L2_PIX_FMT_NV12, 640, 480), 6 + 640 * 480 * 3 / 2);
        ASSERT_EQ(y4m_frame_size(V4L2_PIX_FMT_YUYV, 640, 480), 6 + 640 * 480 * 2);
        ASSERT_EQ(y4m_frame_size(V4L2_PIX_FMT_YUYV, 0, 480), 0);
}

/* 4x2 pictures with padded strides, every byte checked. */
static void test_layout(void) {
        static const uint8_t nv12[] = {
                1, 2, 3, 4, 99, 99,        /* Y row 0, stride 6 */
                5, 6, 7, 8, 99, 99,        /* Y row 1 */
                10, 20, 11, 21,            /* CbCr row 0 (last row: no padding needed) */
        };
        static const uint8_t nv12_out[] = { 'F', 'R', 'A', 'M', 'E', '\n', 1, 2, 3, 4, 5, 6, 7, 8,
                                            10, 11, 20, 21 };
        static const uint8_t yuyv[] = {
                1, 10, 2, 20, 3, 11, 4, 21, 99, 99, /* stride 10 */
                5, 12, 6, 22, 7, 13, 8, 23,
        };
        static const uint8_t yuyv_out[] = { 'F', 'R', 'A', 'M', 'E', '\n', 1, 2, 3, 4, 5, 6, 7, 8,
                                            10, 11, 12, 13, 20, 21, 22, 23 };
        uint8_t out[64];

        ASSERT_EQ(y4m_serialize_frame(V4L2_PIX_FMT_NV12, nv12, sizeof(nv12), 4, 2, 6, out, sizeof(out)),
                  sizeof(nv12_out));
        ASSERT(memcmp(out, nv12_out, sizeof(nv12_out)) == 0);
        ASSERT_EQ(y4m_serialize_frame(V4L2_PIX_FMT_YUYV, yuyv, sizeof(yuyv), 4, 2, 10, out, sizeof(out)),
                  sizeof(yuyv_out));
        ASSERT(memcmp(out, yuyv_out, sizeof(yuyv_out)) == 0);

        /* Frame data shorter than its geometry, or a short output, is refused. */
        ASSERT_EQ(y4m_serialize_frame(V4L2_PIX_FMT_NV12, nv12, sizeof(nv12) - 1, 4, 2, 6, out, sizeof(out)),
                  -EINVAL);
        ASSERT_EQ(y4m_serialize_frame(V4L2_PIX_FMT_NV12, nv12, sizeof(nv12), 4, 2, 6, out, 10), -ENOBUFS);
        ASSERT_EQ(y4m_serialize_frame(V4L2_PIX_FMT_YUYV, yuyv, sizeof(yuyv), 4, 2, 6, out, sizeof(out)),
                  -EINVAL);
}

/* Writes a stream of n frames and asks ffprobe/ffmpeg about it. */
static void test_ffmpeg(uint32_t fourcc, const char *pix_fmt) {
        const unsigned w = 320, h = 240, n = 5;
        const unsigned stride = fourcc == V4L2_PIX_FMT_NV12 ? w + 32 : 2 * w + 32;
        const size_t in_size = (size_t) stride * (fourcc == V4L2_PIX_FMT_NV12 ? h * 3 / 2 : h);
        size_t frame_size = y4m_frame_size(fourcc, w, h), raw_size;
        uint8_t *in = malloc(in_size), *stream, *raw;
        char header[Y4M_HEADER_MAX], *dir = test_tmpdir(), *path, *rawpath, *cmd, *out, expect[256];
        int hl;

        ASSERT(in);
        hl = y4m_stream_header(fourcc, w, h, 30000, 1001, header, sizeof(header));
        ASSERT(hl > 0);
        stream = malloc((size_t) hl + frame_size * n);
        ASSERT(stream);
        memcpy(stream, header, (size_t) hl);
        for (unsigned i = 0; i < n; i++) {
                test_fill_plane(in, stride, (unsigned) (in_size / stride), stride, i);
                ASSERT_EQ(y4m_serialize_frame(fourcc, in, in_size, w, h, stride,
                                              stream + hl + frame_size * i, frame_size),
                          frame_size);
        }
        ASSERT(asprintf(&path, "%s/s.y4m", dir) > 0);
        ASSERT(asprintf(&rawpath, "%s/s.raw", dir) > 0);
        test_write_file(path, stream, (size_t) hl + frame_size * n);

        ASSERT(asprintf(&cmd, "ffprobe -v error -count_frames -show_entries "
                        "stream=width,height,r_frame_rate,nb_read_frames -of default=nw=1 '%s'", path) > 0);
        out = test_run(cmd, NULL);
        ASSERT(out);
        snprintf(expect, sizeof(expect), "width=%u\nheight=%u\nr_frame_rate=30000/1001\nnb_read_frames=%u\n",
                 w, h, n);
        if (!streq(out, expect)) {
                fprintf(stderr, "ffprobe said:\n%s", out);
                ASSERT(false);
        }
        free(out);
        free(cmd);

        /* ffmpeg's planar output is our frames without their FRAME markers. */
        ASSERT(asprintf(&cmd, "ffmpeg -nostdin -v error -i '%s' -f rawvideo -pix_fmt %s -y '%s'", path,
                        pix_fmt, rawpath) > 0);
        free(test_run(cmd, NULL));
        raw = test_read_file(rawpath, &raw_size);
        ASSERT_EQ(raw_size, (frame_size - 6) * n);
        for (unsigned i = 0; i < n; i++)
                ASSERT(memcmp(raw + (frame_size - 6) * i, stream + hl + frame_size * i + 6, frame_size - 6) == 0);

        free(raw);
        free(cmd);
        free(path);
        free(rawpath);
        free(stream);
        free(in);
        test_rmdir(dir);
        free(dir);
}

int main(void) {
        test_header();
        test_layout();
        if (!test_have_program("ffprobe") || !test_have_program("ffmpeg")) {
                fprintf(stderr, "ffprobe missing, skipping the stream check\n");
                return EXIT_TEST_SKIP;
        }
        test_ffmpeg(V4L2_PIX_FMT_NV12, "yuv420p");
        test_ffmpeg(V4L2_PIX_FMT_YUYV, "yuv422p");
        return 0;
}
