/* SPDX-License-Identifier: MIT */
/* The bridge's repacking of planar 4:2:0 / 4:2:2 preview frames into I420, NV12 and YUY2,
 * every pair, on a frame whose every sample says where it is. */
#include <stdint.h>
#include <stdlib.h>

#include "../check.h"
#include "pipewire/repack.h"

#define W 8
#define H 4

/* Y = 10 * row + column; Cb = 100 + chroma row * 8 + column; Cr = Cb + 50. */
static void fill(enum y4m_chroma chroma, uint8_t *f) {
        unsigned ch = chroma == Y4M_CHROMA_420 ? H / 2 : H;
        uint8_t *cb = f + W * H, *cr = cb + (W / 2) * ch;
        for (unsigned y = 0; y < H; y++)
                for (unsigned x = 0; x < W; x++)
                        f[y * W + x] = (uint8_t) (10 * y + x);
        for (unsigned y = 0; y < ch; y++)
                for (unsigned x = 0; x < W / 2; x++) {
                        cb[y * (W / 2) + x] = (uint8_t) (100 + y * 8 + x);
                        cr[y * (W / 2) + x] = (uint8_t) (150 + y * 8 + x);
                }
}

/* The Cb a 4:2:0 output has at chroma row y, column x, from the input's layout. */
static unsigned cb420(enum y4m_chroma chroma, unsigned y, unsigned x) {
        if (chroma == Y4M_CHROMA_420)
                return 100 + y * 8 + x;
        /* rows 2y and 2y+1 averaged, rounding half up: (a + a + 8 + 1) / 2 = a + 4 */
        return 100 + 2 * y * 8 + x + 4;
}

int main(void) {
        for (int c = 0; c < 2; c++) {
                enum y4m_chroma chroma = c ? Y4M_CHROMA_422 : Y4M_CHROMA_420;
                uint8_t src[W * H * 2], dst[W * H * 2];

                check(planar_frame_size(chroma, W, H) == (size_t) (c ? W * H * 2 : W * H * 3 / 2));
                fill(chroma, src);

                repack_frame(chroma, PACKED_I420, W, H, src, dst);
                check(packed_frame_size(PACKED_I420, W, H) == W * H * 3 / 2);
                for (unsigned y = 0; y < H; y++)
                        for (unsigned x = 0; x < W; x++)
                                CHECK(dst[y * W + x] == 10 * y + x);
                for (unsigned y = 0; y < H / 2; y++)
                        for (unsigned x = 0; x < W / 2; x++) {
                                CHECK(dst[W * H + y * (W / 2) + x] == cb420(chroma, y, x));
                                CHECK(dst[W * H + W * H / 4 + y * (W / 2) + x] == cb420(chroma, y, x) + 50);
                        }

                repack_frame(chroma, PACKED_NV12, W, H, src, dst);
                check(packed_stride(PACKED_NV12, W) == W);
                for (unsigned y = 0; y < H; y++)
                        for (unsigned x = 0; x < W; x++)
                                CHECK(dst[y * W + x] == 10 * y + x);
                for (unsigned y = 0; y < H / 2; y++)
                        for (unsigned x = 0; x < W / 2; x++) {
                                CHECK(dst[W * H + y * W + 2 * x] == cb420(chroma, y, x));
                                CHECK(dst[W * H + y * W + 2 * x + 1] == cb420(chroma, y, x) + 50);
                        }

                repack_frame(chroma, PACKED_YUY2, W, H, src, dst);
                check(packed_stride(PACKED_YUY2, W) == 2 * W);
                check(packed_frame_size(PACKED_YUY2, W, H) == W * H * 2);
                for (unsigned y = 0; y < H; y++) {
                        unsigned cy = c ? y : y / 2; /* 4:2:0 uses each chroma row twice */
                        for (unsigned x = 0; x < W / 2; x++) {
                                const uint8_t *px = dst + y * W * 2 + 4 * x;
                                CHECK(px[0] == 10 * y + 2 * x);
                                CHECK(px[1] == 100 + cy * 8 + x);
                                CHECK(px[2] == 10 * y + 2 * x + 1);
                                CHECK(px[3] == 150 + cy * 8 + x);
                        }
                }
        }
        return check_report("test-repack");
}
