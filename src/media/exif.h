/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* EXIF metadata for camerad's JPEGs, built with libexif. */
struct exif_fields {
        const char *make;      /* NULL: tag left out */
        const char *model;
        const char *software;
        uint64_t datetime_us;  /* CLOCK_REALTIME µs; written as local time to DateTimeOriginal
                                  (and DateTime), sub-seconds to SubSecTimeOriginal; 0: left out */
        unsigned width, height; /* PixelXDimension/PixelYDimension; 0: left out */
        unsigned orientation;   /* 1–8 as in the EXIF spec; 0: left out */
};

/* A complete APP1 segment (FF E1, length, "Exif\0\0", TIFF data). *ret is malloc()ed and
 * owned by the caller. -ENOMEM, -EINVAL (orientation > 8), -E2BIG (does not fit 64 KiB). */
int exif_build_app1(const struct exif_fields *fields, uint8_t **ret, size_t *ret_size);

/* A new JPEG: SOI, the APP1 segment, then the rest of jpeg with any existing EXIF APP1
 * segments dropped. jpeg is not modified; *ret is malloc()ed and owned by the caller.
 * -EBADMSG if jpeg does not start with SOI or its leading segments are malformed. */
int exif_insert_into_jpeg(const void *jpeg, size_t jpeg_size, const struct exif_fields *fields,
                          uint8_t **ret, size_t *ret_size);
