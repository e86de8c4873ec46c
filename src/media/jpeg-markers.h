/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/exif.h"

/* Marker-level work on JPEG files as cameras send them. Motion-JPEG frames (UVC webcams,
 * OpenDML AVI) usually leave out the Huffman tables (DHT): a decoder is expected to use the
 * standard tables of ITU-T T.81 Annex K. Standalone readers may not, so a photo taken from
 * such a frame gets the tables inserted. The tables come from TurboJPEG itself (a tiny
 * picture encoded without optimised coding carries exactly the standard ones). */

/* Checks that jpeg starts with SOI and ends with EOI (trailing zero padding, as some
 * cameras leave after the picture, is allowed). Returns the length up to and including EOI,
 * or -EBADMSG (truncated frame, garbage). */
long jpeg_frame_length(const void *jpeg, size_t size);

/* Whether the segments before the first SOS include a DHT. false for malformed data. */
bool jpeg_has_dht(const void *jpeg, size_t size);

/* A copy of jpeg with the standard Huffman tables inserted before SOS; an exact copy when
 * it has a DHT already. *ret is malloc()ed. -EBADMSG for malformed headers, -ENOMEM. */
int jpeg_insert_dht(const void *jpeg, size_t size, uint8_t **ret, size_t *ret_size);

/* jpeg without its DHT segments (the way UVC cameras send frames) into out, which must
 * hold size bytes. Returns the new length or -EBADMSG. */
long jpeg_strip_dht(const void *jpeg, size_t size, uint8_t *out);

/* The photo proxy made from a camera's own JPEG: DHT inserted when missing, and an EXIF
 * APP1 of fields in place of any the camera wrote. No re-encoding: the picture is the
 * camera's, bit for bit. *ret is malloc()ed. Errors as jpeg_insert_dht() and
 * exif_insert_into_jpeg(). */
int jpeg_camera_proxy(const void *jpeg, size_t size, const struct exif_fields *fields, uint8_t **ret,
                      size_t *ret_size);
