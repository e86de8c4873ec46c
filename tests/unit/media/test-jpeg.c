/* SPDX-License-Identifier: MIT */
/* JPEG encode from planes and capture layouts, decode back to planes, check the pixels
 * survive (PSNR), that djpeg reads our output, and that garbage is refused. */
#include "media-test.h"
#include "media/jpeg.h"

static struct jpeg_encoder *enc;
static struct jpeg_decoder *dec;
static char *dir;

/* Compares every plane of img with the reference planes; all must exceed min_db. */
static void check_planes(const struct yuv_image *img, const struct yuv_planes *ref, double min_db) {
        ASSERT_EQ(img->width, ref->width);
        ASSERT_EQ(img->height, ref->height);
        ASSERT_EQ(img->subsamp, ref->subsamp);
        for (unsigned p = 0; p < (ref->subsamp == YUV_SUBSAMP_GRAY ? 1u : 3u); p++) {
                unsigned w = yuv_plane_width(ref->subsamp, p, ref->width);
                unsigned h = yuv_plane_height(ref->subsamp, p, ref->height);
                double db = test_psnr(img->plane[p], img->stride[p], ref->plane[p], ref->stride[p], w, h);
                if (db < min_db) {
                        fprintf(stderr, "plane %u: PSNR %.1f dB < %.1f\n", p, db, min_db);
                        ASSERT(false);
                }
        }
}

static void roundtrip_planes(unsigned width, unsigned height, enum yuv_subsamp s) {
        struct yuv_image src = {}, out = {};
        struct jpeg_buffer jpeg = {};
        struct jpeg_info info;

        ASSERT_OK(yuv_image_alloc(&src, width, height, s));
        for (unsigned p = 0; p < 3; p++)
                if (src.plane[p])
                        test_fill_plane(src.plane[p], src.stride[p], src.plane_height[p], src.stride[p], p * 11);
        struct yuv_planes ref = yuv_image_planes(&src);

        ASSERT_OK(jpeg_encode_planes(enc, &ref, 95, &jpeg));
        ASSERT(jpeg.size > 100 && jpeg.size <= jpeg.allocated);
        ASSERT(jpeg.data[0] == 0xFF && jpeg.data[1] == 0xD8);

        ASSERT_OK(jpeg_read_info(dec, jpeg.data, jpeg.size, &info));
        ASSERT_EQ(info.width, width);
        ASSERT_EQ(info.height, height);
        ASSERT_EQ(info.subsamp, s);
        ASSERT_OK(jpeg_decode(dec, jpeg.data, jpeg.size, &out));
        check_planes(&out, &ref, 38);

        /* A second encode into the same buffer reuses it. */
        uint8_t *before = jpeg.data;
        ASSERT_OK(jpeg_encode_planes(enc, &ref, 50, &jpeg));
        ASSERT(jpeg.data == before);

        jpeg_buffer_done(&jpeg);
        yuv_image_done(&src);
        yuv_image_done(&out);
}

/* NV12 with a padded stride: luma used in place, CbCr de-interleaved. */
static void test_nv12(void) {
        const unsigned w = 320, h = 240, stride = 352;
        uint8_t *nv12 = calloc((size_t) stride * h * 3 / 2, 1);
        uint8_t *u = malloc(w / 2 * h / 2), *v = malloc(w / 2 * h / 2);
        struct jpeg_buffer jpeg = {};
        struct yuv_image out = {};

        ASSERT(nv12 && u && v);
        test_fill_plane(nv12, w, h, stride, 1);
        test_fill_plane(u, w / 2, h / 2, w / 2, 2);
        test_fill_plane(v, w / 2, h / 2, w / 2, 3);
        for (unsigned y = 0; y < h / 2; y++)
                for (unsigned x = 0; x < w / 2; x++) {
                        nv12[(size_t) stride * h + y * stride + 2 * x] = u[y * w / 2 + x];
                        nv12[(size_t) stride * h + y * stride + 2 * x + 1] = v[y * w / 2 + x];
                }

        ASSERT_OK(jpeg_encode_nv12(enc, nv12, w, h, stride, 95, &jpeg));
        ASSERT_OK(jpeg_decode(dec, jpeg.data, jpeg.size, &out));
        struct yuv_planes ref = {
                .width = w, .height = h, .subsamp = YUV_SUBSAMP_420,
                .plane = { nv12, u, v }, .stride = { stride, w / 2, w / 2 },
        };
        check_planes(&out, &ref, 38);

        ASSERT_EQ(jpeg_encode_nv12(enc, nv12, w - 1, h, stride, 95, &jpeg), -EINVAL);
        ASSERT_EQ(jpeg_encode_nv12(enc, nv12, w, h, w - 2, 95, &jpeg), -EINVAL);

        jpeg_buffer_done(&jpeg);
        yuv_image_done(&out);
        free(nv12);
        free(u);
        free(v);
}

/* YUYV split into 4:2:2 planes. */
static void test_yuyv(void) {
        const unsigned w = 320, h = 240, stride = w * 2 + 64;
        uint8_t *yuyv = calloc((size_t) stride * h, 1);
        uint8_t *y = malloc(w * h), *u = malloc(w / 2 * h), *v = malloc(w / 2 * h);
        struct jpeg_buffer jpeg = {};
        struct yuv_image out = {};

        ASSERT(yuyv && y && u && v);
        test_fill_plane(y, w, h, w, 4);
        test_fill_plane(u, w / 2, h, w / 2, 5);
        test_fill_plane(v, w / 2, h, w / 2, 6);
        for (unsigned r = 0; r < h; r++)
                for (unsigned x = 0; x < w / 2; x++) {
                        uint8_t *px = yuyv + (size_t) r * stride + 4 * x;
                        px[0] = y[r * w + 2 * x];
                        px[1] = u[r * w / 2 + x];
                        px[2] = y[r * w + 2 * x + 1];
                        px[3] = v[r * w / 2 + x];
                }

        ASSERT_OK(jpeg_encode_yuyv(enc, yuyv, w, h, stride, 95, &jpeg));
        ASSERT_OK(jpeg_decode(dec, jpeg.data, jpeg.size, &out));
        struct yuv_planes ref = {
                .width = w, .height = h, .subsamp = YUV_SUBSAMP_422,
                .plane = { y, u, v }, .stride = { w, w / 2, w / 2 },
        };
        check_planes(&out, &ref, 38);
        ASSERT_EQ(jpeg_encode_yuyv(enc, yuyv, w, h, w, 95, &jpeg), -EINVAL);

        jpeg_buffer_done(&jpeg);
        yuv_image_done(&out);
        free(yuyv);
        free(y);
        free(u);
        free(v);
}

static struct jpeg_buffer encode_test_image(unsigned w, unsigned h) {
        struct yuv_image src = {};
        struct jpeg_buffer jpeg = {};

        ASSERT_OK(yuv_image_alloc(&src, w, h, YUV_SUBSAMP_420));
        for (unsigned p = 0; p < 3; p++)
                test_fill_plane(src.plane[p], src.stride[p], src.plane_height[p], src.stride[p], p);
        struct yuv_planes planes = yuv_image_planes(&src);
        ASSERT_OK(jpeg_encode_planes(enc, &planes, 90, &jpeg));
        yuv_image_done(&src);
        return jpeg;
}

static void test_garbage(void) {
        struct jpeg_buffer jpeg = encode_test_image(64, 48);
        struct yuv_image out = {};
        struct jpeg_info info;
        uint8_t noise[4096];

        for (size_t i = 0; i < sizeof(noise); i++)
                noise[i] = (uint8_t) (i * 2654435761u >> 13);
        ASSERT_EQ(jpeg_read_info(dec, noise, sizeof(noise), &info), -EBADMSG);
        ASSERT(jpeg_decoder_error(dec)[0] != 0);
        ASSERT_EQ(jpeg_decode(dec, noise, sizeof(noise), &out), -EBADMSG);
        ASSERT_EQ(jpeg_decode(dec, NULL, 0, &out), -EBADMSG);
        ASSERT_EQ(jpeg_decode(dec, jpeg.data, 3, &out), -EBADMSG);
        /* Headers cut short. */
        ASSERT_EQ(jpeg_decode(dec, jpeg.data, 100, &out), -EBADMSG);

        /* A SOF claiming 20000 x 20000 is refused before any allocation. */
        for (size_t i = 2; i + 9 < jpeg.size; i++)
                if (jpeg.data[i] == 0xFF && jpeg.data[i + 1] == 0xC0) {
                        jpeg.data[i + 5] = 20000 >> 8;
                        jpeg.data[i + 6] = 20000 & 0xFF;
                        jpeg.data[i + 7] = 20000 >> 8;
                        jpeg.data[i + 8] = 20000 & 0xFF;
                        break;
                }
        ASSERT_EQ(jpeg_read_info(dec, jpeg.data, jpeg.size, &info), -EBADMSG);
        ASSERT(strstr(jpeg_decoder_error(dec), "out of range"));
        ASSERT(out.buffer == NULL);

        struct yuv_planes bad = { .width = 0, .height = 10, .subsamp = YUV_SUBSAMP_420 };
        ASSERT_EQ(jpeg_encode_planes(enc, &bad, 90, &jpeg), -EINVAL);
        jpeg_buffer_done(&jpeg);
}

/* djpeg (libjpeg's own tool) must read our output and see the right size. */
static int test_djpeg(void) {
        struct jpeg_buffer jpeg = encode_test_image(200, 150);
        char *path, *cmd, *out;

        if (!test_have_program("djpeg")) {
                jpeg_buffer_done(&jpeg);
                fprintf(stderr, "djpeg missing: skipping its check\n");
                return EXIT_TEST_SKIP;
        }
        ASSERT(asprintf(&path, "%s/t.jpg", dir) > 0);
        test_write_file(path, jpeg.data, jpeg.size);
        ASSERT(asprintf(&cmd, "djpeg -pnm '%s' | head -c 11", path) > 0);
        out = test_run(cmd, NULL);
        ASSERT(out);
        ASSERT(streq(out, "P6\n200 150\n"));
        free(out);
        free(cmd);
        unlink(path);
        free(path);
        jpeg_buffer_done(&jpeg);
        return 0;
}

int main(void) {
        int r;

        dir = test_tmpdir();
        ASSERT_OK(jpeg_encoder_new(&enc));
        ASSERT_OK(jpeg_decoder_new(&dec));

        roundtrip_planes(640, 480, YUV_SUBSAMP_420);
        roundtrip_planes(101, 77, YUV_SUBSAMP_420);
        roundtrip_planes(160, 120, YUV_SUBSAMP_422);
        roundtrip_planes(97, 45, YUV_SUBSAMP_444);
        roundtrip_planes(64, 64, YUV_SUBSAMP_GRAY);
        test_nv12();
        test_yuyv();
        test_garbage();
        r = test_djpeg();

        jpeg_encoder_free(enc);
        jpeg_decoder_free(dec);
        test_rmdir(dir);
        free(dir);
        return r;
}
