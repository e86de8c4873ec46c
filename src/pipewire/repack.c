/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <string.h>

#include "pipewire/repack.h"

size_t planar_frame_size(enum y4m_chroma chroma, unsigned width, unsigned height) {
        size_t luma = (size_t) width * height;
        return luma + (chroma == Y4M_CHROMA_420 ? luma / 2 : luma);
}

unsigned packed_stride(enum packed_layout layout, unsigned width) {
        return layout == PACKED_YUY2 ? width * 2 : width;
}

size_t packed_frame_size(enum packed_layout layout, unsigned width, unsigned height) {
        size_t luma = (size_t) width * height;
        return layout == PACKED_YUY2 ? luma * 2 : luma + luma / 2;
}

/* Chroma row y of a 4:2:0 output from the input's planes: a 4:2:2 input has two rows for
 * it, averaged (rounding half up) into tmp. */
static const uint8_t *chroma_row_420(enum y4m_chroma chroma, const uint8_t *plane, unsigned cw,
                                     unsigned y, uint8_t *tmp) {
        if (chroma == Y4M_CHROMA_420)
                return plane + (size_t) y * cw;
        const uint8_t *a = plane + (size_t) (2 * y) * cw, *b = a + cw;
        for (unsigned x = 0; x < cw; x++)
                tmp[x] = (uint8_t) ((a[x] + b[x] + 1) / 2);
        return tmp;
}

static void to_i420(enum y4m_chroma chroma, unsigned w, unsigned h, const uint8_t *src, uint8_t *dst) {
        size_t luma = (size_t) w * h;
        unsigned cw = w / 2, ch_in = chroma == Y4M_CHROMA_420 ? h / 2 : h;
        const uint8_t *cb = src + luma, *cr = cb + (size_t) cw * ch_in;
        uint8_t *u = dst + luma, *v = u + (size_t) cw * (h / 2);

        if (chroma == Y4M_CHROMA_420) {
                memcpy(dst, src, luma + luma / 2); /* same layout: one copy */
                return;
        }
        memcpy(dst, src, luma);
        for (unsigned y = 0; y < h / 2; y++) {
                chroma_row_420(chroma, cb, cw, y, u + (size_t) y * cw);
                chroma_row_420(chroma, cr, cw, y, v + (size_t) y * cw);
        }
}

static void to_nv12(enum y4m_chroma chroma, unsigned w, unsigned h, const uint8_t *src, uint8_t *dst) {
        size_t luma = (size_t) w * h;
        unsigned cw = w / 2, ch_in = chroma == Y4M_CHROMA_420 ? h / 2 : h;
        const uint8_t *cb = src + luma, *cr = cb + (size_t) cw * ch_in;
        uint8_t tmp_b[cw], tmp_r[cw];

        memcpy(dst, src, luma);
        for (unsigned y = 0; y < h / 2; y++) {
                const uint8_t *rb = chroma_row_420(chroma, cb, cw, y, tmp_b);
                const uint8_t *rr = chroma_row_420(chroma, cr, cw, y, tmp_r);
                uint8_t *out = dst + luma + (size_t) y * w;
                for (unsigned x = 0; x < cw; x++) {
                        out[2 * x] = rb[x];
                        out[2 * x + 1] = rr[x];
                }
        }
}

static void to_yuy2(enum y4m_chroma chroma, unsigned w, unsigned h, const uint8_t *src, uint8_t *dst) {
        size_t luma = (size_t) w * h;
        unsigned cw = w / 2, ch_in = chroma == Y4M_CHROMA_420 ? h / 2 : h;
        const uint8_t *cb = src + luma, *cr = cb + (size_t) cw * ch_in;

        for (unsigned y = 0; y < h; y++) {
                unsigned cy = chroma == Y4M_CHROMA_420 ? y / 2 : y;
                const uint8_t *ry = src + (size_t) y * w;
                const uint8_t *rb = cb + (size_t) cy * cw, *rr = cr + (size_t) cy * cw;
                uint8_t *out = dst + (size_t) y * w * 2;
                for (unsigned x = 0; x < cw; x++) {
                        out[4 * x] = ry[2 * x];
                        out[4 * x + 1] = rb[x];
                        out[4 * x + 2] = ry[2 * x + 1];
                        out[4 * x + 3] = rr[x];
                }
        }
}

void repack_frame(enum y4m_chroma chroma, enum packed_layout layout, unsigned width,
                  unsigned height, const uint8_t *src, uint8_t *dst) {
        assert(width % 2 == 0 && height % 2 == 0 && width > 0);
        switch (layout) {
        case PACKED_I420:
                to_i420(chroma, width, height, src, dst);
                break;
        case PACKED_NV12:
                to_nv12(chroma, width, height, src, dst);
                break;
        case PACKED_YUY2:
                to_yuy2(chroma, width, height, src, dst);
                break;
        }
}
