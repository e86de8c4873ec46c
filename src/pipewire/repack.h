/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Repacking of camerad's planar preview frames (YUV4MPEG2 C420jpeg or C422: Y, Cb, Cr
 * planes, each row as wide as the plane) into the layouts PipeWire consumers take. */

enum y4m_chroma { Y4M_CHROMA_420, Y4M_CHROMA_422 };

enum packed_layout {
        PACKED_I420, /* Y, then U (w/2 x h/2), then V: the 4:2:0 planar input as is */
        PACKED_NV12, /* Y, then interleaved CbCr rows (w x h/2) */
        PACKED_YUY2, /* one plane, Y0 Cb Y1 Cr per pixel pair (w*2 per row) */
};

/* Bytes of one planar input frame. */
size_t planar_frame_size(enum y4m_chroma chroma, unsigned width, unsigned height);

/* Bytes per row of the first plane and of the whole frame of a packed layout. */
unsigned packed_stride(enum packed_layout layout, unsigned width);
size_t packed_frame_size(enum packed_layout layout, unsigned width, unsigned height);

/* Writes the planar frame src (planar_frame_size() bytes) into dst (packed_frame_size()
 * bytes) in layout. 4:2:2 input going to a 4:2:0 layout averages each pair of chroma rows;
 * 4:2:0 input going to YUY2 uses each chroma row for two lines. Width and height are even. */
void repack_frame(enum y4m_chroma chroma, enum packed_layout layout, unsigned width,
                  unsigned height, const uint8_t *src, uint8_t *dst);
