/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Planar Y'CbCr pictures as the JPEG codec reads and writes them. Chroma plane sizes follow
 * TurboJPEG's rules: for 4:2:0 the chroma planes are ceil(w/2) x ceil(h/2), for 4:2:2
 * ceil(w/2) x h, for 4:4:4 w x h, and grey pictures have no chroma planes. */
enum yuv_subsamp {
        YUV_SUBSAMP_420,
        YUV_SUBSAMP_422,
        YUV_SUBSAMP_444,
        YUV_SUBSAMP_GRAY,
};

/* The largest picture side the media layer accepts anywhere (JPEG decode, AVI headers). */
#define MEDIA_MAX_SIDE 16384u

/* A borrowed view of three planes (plane[1], plane[2] NULL for grey). */
struct yuv_planes {
        unsigned width, height;
        enum yuv_subsamp subsamp;
        const uint8_t *plane[3];
        unsigned stride[3]; /* bytes per row of each plane */
};

/* A picture that owns its pixels: one allocation holding the three planes, rows packed
 * (stride == plane width). Zero-initialise before first use; yuv_image_alloc() reuses the
 * allocation when the geometry does not change, so a decoder can fill it frame after frame. */
struct yuv_image {
        unsigned width, height;
        enum yuv_subsamp subsamp;
        uint8_t *plane[3];
        unsigned stride[3];
        unsigned plane_height[3];
        uint8_t *buffer;
        size_t allocated;
};

/* Width and height of plane p (0 = luma, 1/2 = chroma) of a w x h picture; 0 for a plane
 * that grey pictures do not have. */
unsigned yuv_plane_width(enum yuv_subsamp s, unsigned p, unsigned width);
unsigned yuv_plane_height(enum yuv_subsamp s, unsigned p, unsigned height);

/* Sizes img for width x height x subsamp. 0, -EINVAL for empty or > MEDIA_MAX_SIDE sizes,
 * -ENOMEM. Contents are undefined afterwards. */
int yuv_image_alloc(struct yuv_image *img, unsigned width, unsigned height, enum yuv_subsamp s);
/* Frees the pixels and zeroes img; safe on a zeroed image. */
void yuv_image_done(struct yuv_image *img);
/* A read-only view of img. */
struct yuv_planes yuv_image_planes(const struct yuv_image *img);

const char *yuv_subsamp_to_string(enum yuv_subsamp s); /* "4:2:0", … */

/* Row converters for the capture layouts (also used by the JPEG and Y4M code).
 * One NV12 CbCr row of `pairs` Cb,Cr pairs into separate Cb and Cr rows: */
void yuv_split_cbcr_row(const uint8_t *src, uint8_t *cb, uint8_t *cr, unsigned pairs);
/* One YUYV row (Y0 Cb Y1 Cr per pixel pair) into Y, Cb and Cr rows: */
void yuv_split_yuyv_row(const uint8_t *src, uint8_t *y, uint8_t *cb, uint8_t *cr, unsigned pairs);
/* One UYVY row (Cb Y0 Cr Y1 per pixel pair) into Y, Cb and Cr rows: */
void yuv_split_uyvy_row(const uint8_t *src, uint8_t *y, uint8_t *cb, uint8_t *cr, unsigned pairs);
