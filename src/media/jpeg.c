/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "media/jpeg.h"
#include "shared/log.h"

struct jpeg_encoder {
        tjhandle tj;
        /* Scratch planes for layouts TurboJPEG cannot read directly (NV12's CbCr, YUYV). */
        uint8_t *scratch;
        size_t scratch_size;
        char error[200];
};

struct jpeg_decoder {
        tjhandle tj;
        char error[200];
};

static void copy_tj_error(char *dst, size_t size, tjhandle tj) {
        const char *s = tjGetErrorStr2(tj);
        snprintf(dst, size, "%s", s ? s : "unknown TurboJPEG error");
}

void jpeg_buffer_done(struct jpeg_buffer *b) {
        free(b->data);
        b->data = NULL;
        b->size = b->allocated = 0;
}

static int tj_subsamp_of(enum yuv_subsamp s) {
        switch (s) {
        case YUV_SUBSAMP_420:
                return TJSAMP_420;
        case YUV_SUBSAMP_422:
                return TJSAMP_422;
        case YUV_SUBSAMP_444:
                return TJSAMP_444;
        case YUV_SUBSAMP_GRAY:
                return TJSAMP_GRAY;
        }
        return -1;
}

static int yuv_subsamp_of(int tjsamp, enum yuv_subsamp *ret) {
        switch (tjsamp) {
        case TJSAMP_420:
                *ret = YUV_SUBSAMP_420;
                return 0;
        case TJSAMP_422:
                *ret = YUV_SUBSAMP_422;
                return 0;
        case TJSAMP_444:
                *ret = YUV_SUBSAMP_444;
                return 0;
        case TJSAMP_GRAY:
                *ret = YUV_SUBSAMP_GRAY;
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

int jpeg_encoder_new(struct jpeg_encoder **ret) {
        struct jpeg_encoder *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->tj = tjInitCompress();
        if (!e->tj) {
                free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

struct jpeg_encoder *jpeg_encoder_free(struct jpeg_encoder *e) {
        if (!e)
                return NULL;
        tjDestroy(e->tj);
        free(e->scratch);
        free(e);
        return NULL;
}

static int ensure_scratch(struct jpeg_encoder *e, size_t size) {
        if (size <= e->scratch_size)
                return 0;
        uint8_t *p = realloc(e->scratch, size);
        if (!p)
                return -ENOMEM;
        e->scratch = p;
        e->scratch_size = size;
        return 0;
}

int jpeg_encode_planes(struct jpeg_encoder *e, const struct yuv_planes *planes, int quality,
                       struct jpeg_buffer *out) {
        int tjsamp = tj_subsamp_of(planes->subsamp);
        unsigned n_planes = planes->subsamp == YUV_SUBSAMP_GRAY ? 1 : 3;
        const unsigned char *src[3] = {};
        int strides[3] = {};
        unsigned long bound, size;
        unsigned char *buf;

        if (tjsamp < 0 || planes->width == 0 || planes->height == 0 ||
            planes->width > MEDIA_MAX_SIDE || planes->height > MEDIA_MAX_SIDE)
                return -EINVAL;
        for (unsigned p = 0; p < n_planes; p++) {
                if (!planes->plane[p] ||
                    planes->stride[p] < yuv_plane_width(planes->subsamp, p, planes->width))
                        return -EINVAL;
                src[p] = planes->plane[p];
                strides[p] = (int) planes->stride[p];
        }

        bound = tjBufSize((int) planes->width, (int) planes->height, tjsamp);
        if (bound == (unsigned long) -1)
                return -EINVAL;
        if (out->allocated < bound) {
                uint8_t *p = realloc(out->data, bound);
                if (!p)
                        return -ENOMEM;
                out->data = p;
                out->allocated = bound;
        }

        /* The buffer is ours (malloc), so TurboJPEG must never realloc/free it: NOREALLOC,
         * which is safe because tjBufSize() is the worst case. */
        buf = out->data;
        size = out->allocated;
        if (tjCompressFromYUVPlanes(e->tj, src, (int) planes->width, strides, (int) planes->height,
                                    tjsamp, &buf, &size, CLAMP(quality, 1, 100),
                                    TJFLAG_NOREALLOC) < 0) {
                copy_tj_error(e->error, sizeof(e->error), e->tj);
                log_debug("tjCompressFromYUVPlanes: %s", e->error);
                return -EIO;
        }
        out->size = size;
        return 0;
}

int jpeg_encode_nv12(struct jpeg_encoder *e, const uint8_t *data, unsigned width, unsigned height,
                     unsigned stride, int quality, struct jpeg_buffer *out) {
        unsigned cw = width / 2, ch = height / 2;
        const uint8_t *cbcr;
        uint8_t *u, *v;
        int r;

        if (!data || width == 0 || height == 0 || (width | height) & 1 || stride < width ||
            width > MEDIA_MAX_SIDE || height > MEDIA_MAX_SIDE)
                return -EINVAL;

        r = ensure_scratch(e, (size_t) cw * ch * 2);
        if (r < 0)
                return r;
        u = e->scratch;
        v = e->scratch + (size_t) cw * ch;
        cbcr = data + (size_t) stride * height;

        /* TurboJPEG wants separate Cb and Cr planes; the luma plane is used in place. */
        for (unsigned y = 0; y < ch; y++)
                yuv_split_cbcr_row(cbcr + (size_t) y * stride, u + (size_t) y * cw, v + (size_t) y * cw,
                                   cw);

        struct yuv_planes planes = {
                .width = width,
                .height = height,
                .subsamp = YUV_SUBSAMP_420,
                .plane = { data, u, v },
                .stride = { stride, cw, cw },
        };
        return jpeg_encode_planes(e, &planes, quality, out);
}

/* Packed 4:2:2 (YUYV or UYVY, by split_row): split into 4:2:2 planes, which keep every row
 * of chroma, then encode. */
static int encode_packed_422(struct jpeg_encoder *e, const uint8_t *data, unsigned width, unsigned height,
                             unsigned stride, int quality, struct jpeg_buffer *out,
                             void (*split_row)(const uint8_t *, uint8_t *, uint8_t *, uint8_t *, unsigned)) {
        unsigned cw = width / 2;
        uint8_t *yp, *u, *v;
        int r;

        if (!data || width == 0 || height == 0 || (width | height) & 1 || stride < width * 2 ||
            width > MEDIA_MAX_SIDE || height > MEDIA_MAX_SIDE)
                return -EINVAL;

        r = ensure_scratch(e, (size_t) width * height * 2);
        if (r < 0)
                return r;
        yp = e->scratch;
        u = yp + (size_t) width * height;
        v = u + (size_t) cw * height;
        for (unsigned y = 0; y < height; y++)
                split_row(data + (size_t) y * stride, yp + (size_t) y * width, u + (size_t) y * cw,
                          v + (size_t) y * cw, cw);

        struct yuv_planes planes = {
                .width = width,
                .height = height,
                .subsamp = YUV_SUBSAMP_422,
                .plane = { yp, u, v },
                .stride = { width, cw, cw },
        };
        return jpeg_encode_planes(e, &planes, quality, out);
}

int jpeg_encode_yuyv(struct jpeg_encoder *e, const uint8_t *data, unsigned width, unsigned height,
                     unsigned stride, int quality, struct jpeg_buffer *out) {
        return encode_packed_422(e, data, width, height, stride, quality, out, yuv_split_yuyv_row);
}

int jpeg_encode_uyvy(struct jpeg_encoder *e, const uint8_t *data, unsigned width, unsigned height,
                     unsigned stride, int quality, struct jpeg_buffer *out) {
        return encode_packed_422(e, data, width, height, stride, quality, out, yuv_split_uyvy_row);
}

int jpeg_decoder_new(struct jpeg_decoder **ret) {
        struct jpeg_decoder *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->tj = tjInitDecompress();
        if (!d->tj) {
                free(d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

struct jpeg_decoder *jpeg_decoder_free(struct jpeg_decoder *d) {
        if (!d)
                return NULL;
        tjDestroy(d->tj);
        free(d);
        return NULL;
}

int jpeg_read_info(struct jpeg_decoder *d, const void *jpeg, size_t size, struct jpeg_info *ret) {
        /* Zeroed: TurboJPEG 2.1 can "succeed" on tables-only data without setting them. */
        int w = 0, h = 0, samp = -1, colorspace = -1, r;
        enum yuv_subsamp s;

        d->error[0] = 0;
        if (!jpeg || size < 4 || size > ULONG_MAX) {
                snprintf(d->error, sizeof(d->error), "too short to be a JPEG");
                return -EBADMSG;
        }
        if (tjDecompressHeader3(d->tj, jpeg, (unsigned long) size, &w, &h, &samp, &colorspace) < 0) {
                copy_tj_error(d->error, sizeof(d->error), d->tj);
                return -EBADMSG;
        }
        if (w <= 0 || h <= 0 || (unsigned) w > MEDIA_MAX_SIDE || (unsigned) h > MEDIA_MAX_SIDE) {
                snprintf(d->error, sizeof(d->error), "picture size %dx%d is out of range", w, h);
                return -EBADMSG;
        }
        r = yuv_subsamp_of(samp, &s);
        if (r < 0) {
                snprintf(d->error, sizeof(d->error), "unsupported chroma subsampling (%d)", samp);
                return r;
        }
        *ret = (struct jpeg_info) { .width = (unsigned) w, .height = (unsigned) h, .subsamp = s };
        return 0;
}

int jpeg_decode(struct jpeg_decoder *d, const void *jpeg, size_t size, struct yuv_image *out) {
        struct jpeg_info info;
        unsigned char *dst[3];
        int strides[3], r;

        r = jpeg_read_info(d, jpeg, size, &info);
        if (r < 0)
                return r;
        r = yuv_image_alloc(out, info.width, info.height, info.subsamp);
        if (r < 0)
                return r;
        for (unsigned p = 0; p < 3; p++) {
                dst[p] = out->plane[p];
                strides[p] = (int) out->stride[p];
        }
        if (tjDecompressToYUVPlanes(d->tj, jpeg, (unsigned long) size, dst, 0, strides, 0, 0) < 0) {
                copy_tj_error(d->error, sizeof(d->error), d->tj);
                /* Warnings (e.g. a few missing bytes at the end) still leave a whole picture. */
                if (tjGetErrorCode(d->tj) == TJERR_WARNING) {
                        log_debug("JPEG decoded with warning: %s", d->error);
                        return 0;
                }
                return -EBADMSG;
        }
        return 0;
}

int jpeg_decode_to_planes(struct jpeg_decoder *d, const void *jpeg, size_t size,
                          const struct jpeg_info *info, uint8_t *const plane[3],
                          const unsigned stride[3]) {
        unsigned char *dst[3] = {};
        int strides[3] = {};
        unsigned n = info->subsamp == YUV_SUBSAMP_GRAY ? 1 : 3;

        d->error[0] = 0;
        if (!jpeg || size > ULONG_MAX)
                return -EINVAL;
        for (unsigned p = 0; p < n; p++) {
                if (!plane[p] || stride[p] < yuv_plane_width(info->subsamp, p, info->width))
                        return -EINVAL;
                dst[p] = plane[p];
                strides[p] = (int) stride[p];
        }
        if (tjDecompressToYUVPlanes(d->tj, jpeg, (unsigned long) size, dst, (int) info->width, strides,
                                    (int) info->height, TJFLAG_STOPONWARNING) < 0) {
                copy_tj_error(d->error, sizeof(d->error), d->tj);
                return -EBADMSG;
        }
        return 0;
}

const char *jpeg_encoder_error(const struct jpeg_encoder *e) {
        return e->error;
}

const char *jpeg_decoder_error(const struct jpeg_decoder *d) {
        return d->error;
}
