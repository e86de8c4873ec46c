/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "media/exif.h"
#include "media/jpeg.h"
#include "process/image-pipeline.h"
#include "process/merge.h"
#include "process/store.h"
#include "shared/log.h"
#include "shared/macro.h"

/* 3/16: enough to restore the crispness averaging takes away without lifting the noise
 * back up (the PSNR test keeps this honest). */
#define SHARPEN_AMOUNT_16THS 3

static uint64_t realtime_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Light unsharp mask (3x3 binomial blur, amount/16) of a plane in place; checks cancel
 * every stripe of rows. */
static int sharpen_plane(uint8_t *plane, unsigned width, unsigned height, unsigned amount_16ths,
                  enum pool_cancel (*check_cancel)(void *data), void *cancel_data) {
        _cleanup_free_ uint8_t *prev = NULL, *cur = NULL;

        if (width < 3 || height < 3)
                return 0;
        /* Two saved rows: the blur must read the unsharpened neighbours. */
        prev = malloc(width);
        cur = malloc(width);
        if (!prev || !cur)
                return -ENOMEM;
        memcpy(prev, plane, width);
        for (unsigned r = 1; r + 1 < height; r++) {
                uint8_t *row = plane + (size_t) r * width;
                const uint8_t *next = row + width;

                if (r % 64 == 0 && check_cancel && check_cancel(cancel_data) != POOL_CANCEL_NONE)
                        return -ECANCELED;
                memcpy(cur, row, width);
                for (unsigned x = 1; x + 1 < width; x++) {
                        int blur = (prev[x - 1] + 2 * prev[x] + prev[x + 1] + 2 * cur[x - 1] + 4 * cur[x] +
                                    2 * cur[x + 1] + next[x - 1] + 2 * next[x] + next[x + 1] + 8) / 16;
                        int v = cur[x] + ((cur[x] - blur) * (int) amount_16ths) / 16;
                        row[x] = (uint8_t) CLAMP(v, 0, 255);
                }
                memcpy(prev, cur, width);
        }
        return 0;
}

int image_pipeline_run(const struct pipeline_request *req, struct pipeline_result *res) {
        _cleanup_(jpeg_encoder_freep) struct jpeg_encoder *enc = NULL;
        _cleanup_free_ uint8_t *planes = NULL;
        struct jpeg_buffer jpeg = {};
        struct yuv_planes view;
        struct exif_fields exif;
        uint8_t *out_y, *out_cb, *out_cr, *tagged = NULL;
        size_t luma, chroma, tagged_size;
        int r;

        if (image_burst_check(req->width, req->height, req->chroma, req->n_frames) < 0)
                return -EBADMSG;
        luma = (size_t) req->width * req->height;
        chroma = (image_frame_size(req->width, req->height, req->chroma) - luma) / 2;
        planes = malloc(luma + 2 * chroma);
        if (!planes)
                return -ENOMEM;
        out_y = planes;
        out_cb = planes + luma;
        out_cr = out_cb + chroma;

        if (req->n_frames == 1) {
                memcpy(out_y, req->frames[0].y, luma);
                memcpy(out_cb, req->frames[0].cb, chroma);
                memcpy(out_cr, req->frames[0].cr, chroma);
        } else {
                struct merge_request m = {
                        .width = req->width, .height = req->height, .chroma = req->chroma,
                        .n_frames = req->n_frames, .frames = req->frames,
                        .check_cancel = req->check_cancel, .cancel_data = req->cancel_data,
                };
                r = merge_burst(&m, out_y, out_cb, out_cr);
                if (r < 0)
                        return r == -EINVAL ? -EBADMSG : r;
        }
        r = sharpen_plane(out_y, req->width, req->height, SHARPEN_AMOUNT_16THS, req->check_cancel,
                          req->cancel_data);
        if (r < 0)
                return r;
        if (req->check_cancel && req->check_cancel(req->cancel_data) != POOL_CANCEL_NONE)
                return -ECANCELED;

        r = jpeg_encoder_new(&enc);
        if (r < 0)
                return r;
        view = (struct yuv_planes) {
                .width = req->width, .height = req->height,
                .subsamp = req->chroma == IMAGE_CHROMA_420 ? YUV_SUBSAMP_420 : YUV_SUBSAMP_422,
                .plane = { out_y, out_cb, out_cr },
                .stride = { req->width, req->width / 2, req->width / 2 },
        };
        r = jpeg_encode_planes(enc, &view, (int) req->quality, &jpeg);
        if (r < 0) {
                jpeg_buffer_done(&jpeg);
                return r == -EINVAL ? -EBADMSG : r;
        }

        exif = (struct exif_fields) {
                .make = req->camera_make && req->camera_make[0] ? req->camera_make : "camerad",
                .model = req->camera_model && req->camera_model[0] ? req->camera_model : NULL,
                .software = "camerad " CAMERAD_VERSION,
                .datetime_us = req->capture_realtime_us ? req->capture_realtime_us : realtime_us(),
                .width = req->width,
                .height = req->height,
                .orientation = 1,
        };
        r = exif_insert_into_jpeg(jpeg.data, jpeg.size, &exif, &tagged, &tagged_size);
        jpeg_buffer_done(&jpeg);
        if (r < 0)
                return r == -EBADMSG ? -EIO : r; /* our own encoder's output: not the frames' fault */
        res->jpeg = tagged;
        res->size = tagged_size;
        return 0;
}
