/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>

#include "config.h"

#include "capture/virtual-sensor.h"
#include "media/jpeg.h"
#include "process-test.h"
#include "process/image-pipeline.h"
#include "process/merge.h"

/* The quality claim, measured: on a 4-frame burst of the virtual sensor (moving scene,
 * Gaussian noise), the final JPEG is closer to the noise-free scene than the proxy (a JPEG
 * of the newest frame at the same quality) by at least 3 dB PSNR. */

#define W 640
#define H 480
#define FRAME_INTERVAL_US 33333

struct planar {
        uint8_t *y, *cb, *cr;
};

/* NV12 -> three planes. */
static void nv12_split(const uint8_t *nv12, struct planar *out) {
        size_t luma = (size_t) W * H, chroma = (size_t) (W / 2) * (H / 2);

        out->y = malloc(luma);
        out->cb = malloc(chroma);
        out->cr = malloc(chroma);
        check(out->y && out->cb && out->cr);
        memcpy(out->y, nv12, luma);
        for (size_t i = 0; i < chroma; i++) {
                out->cb[i] = nv12[luma + 2 * i];
                out->cr[i] = nv12[luma + 2 * i + 1];
        }
}

static void planar_done(struct planar *p) {
        free(p->y);
        free(p->cb);
        free(p->cr);
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
        double se = 0;
        for (size_t i = 0; i < n; i++) {
                double d = (double) a[i] - b[i];
                se += d * d;
        }
        return 10 * log10(255.0 * 255.0 / (se / (double) n));
}

static double jpeg_luma_psnr(const void *jpeg, size_t size, const uint8_t *clean) {
        struct jpeg_decoder *d;
        struct yuv_image img = {};
        double v;

        check_ok(jpeg_decoder_new(&d));
        check_ok(jpeg_decode(d, jpeg, size, &img));
        check(img.width == W && img.height == H && img.stride[0] == W);
        v = psnr(img.plane[0], clean, (size_t) W * H);
        yuv_image_done(&img);
        jpeg_decoder_free(d);
        return v;
}

static bool contains(const uint8_t *hay, size_t n, const char *needle) {
        size_t k = strlen(needle);
        for (size_t i = 0; i + k <= n; i++)
                if (memcmp(hay + i, needle, k) == 0)
                        return true;
        return false;
}

static int cancel_after;
static enum pool_cancel cancel_countdown(void *data) {
        return --cancel_after <= 0 ? POOL_CANCEL_INTERRUPT : POOL_CANCEL_NONE;
}

/* The same claim on the YUYV path (4:2:2 planes). */
static void test_yuyv(void) {
        size_t luma = (size_t) W * H, chroma = luma / 2, packed = luma * 2;
        uint8_t *yuyv = malloc(packed), *clean = malloc(packed), *clean_y = malloc(luma);
        uint8_t *store = malloc((luma + 2 * chroma) * 4);
        struct image_burst_frame frames[4];
        struct virtual_sensor *s;
        struct pipeline_request req;
        struct pipeline_result res = {};
        struct jpeg_encoder *enc;
        struct jpeg_buffer proxy = {};
        double proxy_psnr, final_psnr;

        check(yuyv && clean && clean_y && store);
        check_ok(virtual_sensor_new(V4L2_PIX_FMT_YUYV, W, H, VIRTUAL_SENSOR_NOISE_SIGMA, &s));
        for (int f = 0; f < 4; f++) {
                uint8_t *y = store + (luma + 2 * chroma) * f, *cb = y + luma, *cr = cb + chroma;
                virtual_sensor_render(s, 1000000 + (uint64_t) f * FRAME_INTERVAL_US, yuyv);
                for (size_t i = 0; i < luma / 2; i++) {
                        y[2 * i] = yuyv[4 * i];
                        cb[i] = yuyv[4 * i + 1];
                        y[2 * i + 1] = yuyv[4 * i + 2];
                        cr[i] = yuyv[4 * i + 3];
                }
                frames[f] = (struct image_burst_frame) { y, cb, cr };
        }
        virtual_sensor_render_clean(s, 1000000 + 3 * FRAME_INTERVAL_US, clean);
        for (size_t i = 0; i < luma; i++)
                clean_y[i] = clean[2 * i];

        check_ok(jpeg_encoder_new(&enc));
        {
                struct yuv_planes view = {
                        .width = W, .height = H, .subsamp = YUV_SUBSAMP_422,
                        .plane = { frames[3].y, frames[3].cb, frames[3].cr },
                        .stride = { W, W / 2, W / 2 },
                };
                check_ok(jpeg_encode_planes(enc, &view, 95, &proxy));
        }
        proxy_psnr = jpeg_luma_psnr(proxy.data, proxy.size, clean_y);
        req = (struct pipeline_request) {
                .width = W, .height = H, .chroma = IMAGE_CHROMA_422, .n_frames = 4, .frames = frames,
                .quality = 95, .camera_make = "TestMake",
        };
        check_ok(image_pipeline_run(&req, &res));
        final_psnr = jpeg_luma_psnr(res.jpeg, res.size, clean_y);
        printf("YUYV 4:2:2: luma PSNR proxy %.2f dB, final %.2f dB (gain %.2f dB)\n", proxy_psnr, final_psnr,
               final_psnr - proxy_psnr);
        check(final_psnr - proxy_psnr >= 3.0);
        free(res.jpeg);
        jpeg_buffer_done(&proxy);
        jpeg_encoder_free(enc);
        virtual_sensor_free(s);
        free(yuyv);
        free(clean);
        free(clean_y);
        free(store);
}

int main(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        struct virtual_sensor *s;
        size_t nv12_size = (size_t) W * H * 3 / 2;
        uint8_t *nv12 = malloc(nv12_size), *clean = malloc(nv12_size);
        struct planar planes[4];
        struct image_burst_frame frames[4];
        struct pipeline_request req;
        struct pipeline_result res = {};
        struct jpeg_encoder *enc;
        struct jpeg_buffer proxy = {};
        double t0, proxy_psnr, final_psnr, noisy_psnr;
        uint64_t t_newest = 1000000 + 3 * FRAME_INTERVAL_US;

        check(nv12 && clean);
        check_ok(virtual_sensor_new(V4L2_PIX_FMT_NV12, W, H, VIRTUAL_SENSOR_NOISE_SIGMA, &s));
        for (int f = 0; f < 4; f++) {
                virtual_sensor_render(s, 1000000 + (uint64_t) f * FRAME_INTERVAL_US, nv12);
                nv12_split(nv12, &planes[f]);
                frames[f] = (struct image_burst_frame) { planes[f].y, planes[f].cb, planes[f].cr };
        }
        virtual_sensor_render_clean(s, t_newest, clean);
        noisy_psnr = psnr(planes[3].y, clean, (size_t) W * H);

        /* The estimator sees the sensor's noise level. */
        {
                double sigma = merge_estimate_noise(planes[3].y, W, H);
                printf("noise estimate %.2f (sensor sigma %.1f)\n", sigma, VIRTUAL_SENSOR_NOISE_SIGMA);
                check(sigma > VIRTUAL_SENSOR_NOISE_SIGMA * 0.6 && sigma < VIRTUAL_SENSOR_NOISE_SIGMA * 1.5);
        }

        /* Proxy: what Capture hands out at once. */
        check_ok(jpeg_encoder_new(&enc));
        {
                struct yuv_planes view = {
                        .width = W, .height = H, .subsamp = YUV_SUBSAMP_420,
                        .plane = { planes[3].y, planes[3].cb, planes[3].cr },
                        .stride = { W, W / 2, W / 2 },
                };
                check_ok(jpeg_encode_planes(enc, &view, 95, &proxy));
        }
        proxy_psnr = jpeg_luma_psnr(proxy.data, proxy.size, clean);

        req = (struct pipeline_request) {
                .width = W, .height = H, .chroma = IMAGE_CHROMA_420, .n_frames = 4, .frames = frames,
                .quality = 95, .capture_realtime_us = 1700000000000000ull,
                .camera_make = "TestMake", .camera_model = "virtual:0",
        };
        t0 = test_now();
        check_ok(image_pipeline_run(&req, &res));
        printf("pipeline %dx%d x4: %.1f ms\n", W, H, (test_now() - t0) * 1000);
        final_psnr = jpeg_luma_psnr(res.jpeg, res.size, clean);
        printf("luma PSNR vs clean: noisy frame %.2f dB, proxy %.2f dB, final %.2f dB (gain %.2f dB)\n",
               noisy_psnr, proxy_psnr, final_psnr, final_psnr - proxy_psnr);
        check(final_psnr - proxy_psnr >= 3.0);

        /* EXIF through media/exif.h. */
        check(contains(res.jpeg, res.size, "Exif"));
        check(contains(res.jpeg, res.size, "TestMake"));
        check(contains(res.jpeg, res.size, "virtual:0"));
        check(contains(res.jpeg, res.size, "camerad " CAMERAD_VERSION));
        free(res.jpeg);

        /* Cancel between stripes. */
        for (int n = 1; n < 60; n += 11) {
                cancel_after = n;
                req.check_cancel = cancel_countdown;
                check(image_pipeline_run(&req, &res) == -ECANCELED);
        }
        req.check_cancel = NULL;

        /* Frames that make no sense: a final "process" error. */
        req.width = 15;
        check(image_pipeline_run(&req, &res) == -EBADMSG);

        jpeg_buffer_done(&proxy);
        jpeg_encoder_free(enc);
        for (int f = 0; f < 4; f++)
                planar_done(&planes[f]);
        virtual_sensor_free(s);
        free(nv12);
        free(clean);
        test_yuyv();
        return 0;
}
