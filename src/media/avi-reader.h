/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

/* Reader for RIFF AVI files carrying Motion-JPEG video: ours (avi-writer.h), ffmpeg's, and
 * other OpenDML writers'. pread()-based: the file offset is neither used nor moved.
 * Frames are found through the OpenDML indexes (indx/ix00), else idx1 (absolute or
 * movi-relative offsets, detected), else by scanning the movi lists.
 *
 * Input is untrusted: every size is checked against the file size, allocations are bounded
 * by the file size, loops by the data they walk. Failures return a negative errno and leave
 * a one-line reason ("not a RIFF AVI file", "codec is H264, not MJPG", "index entry 7 points
 * past the end of the file") in the caller's error buffer or in avi_reader_error(). */

#define AVI_MAX_FRAME_SIZE (64u << 20)
#define AVI_MAX_STREAMS 16
#define AVI_ERROR_MAX 160

enum avi_stream_type {
        AVI_STREAM_VIDEO,
        AVI_STREAM_AUDIO,
        AVI_STREAM_METADATA, /* text, subtitles, midi, anything else */
};

struct avi_stream_info {
        unsigned id;               /* stream number, the "NN" of NNdc chunks */
        enum avi_stream_type type;
        char fcc_type[5];          /* strh fccType, e.g. "vids" */
        char codec[5];             /* video: strf biCompression (or strh handler), e.g. "MJPG";
                                      others: strh fccHandler; printable, NUL-terminated */
        unsigned width, height;    /* video only */
        uint32_t rate, scale;      /* strh: rate/scale units per second */
        uint64_t length;           /* strh dwLength (OpenDML: dmlh total for the video) */
};

struct avi_reader;

/* Opens the AVI on fd (which the reader duplicates; a pipe, socket or directory is refused
 * with -ESPIPE/-EISDIR). Requires one video stream with codec MJPG (or equivalent MJPEG
 * fourccs: mjpg, AVRn, LJPG, JPEG, dmb1) and at least one frame (-ENODATA "no frames"
 * otherwise; -EBADMSG for other damage). error may be NULL.
 * A file cut short whose headers (avih, strh dwLength, dmlh) promise more frames than it
 * holds is truncated: -EBADMSG, "truncated: the header lists N frames, the file holds M
 * whole frames (ends at byte S)". A file cut short whose headers promise nothing more (an
 * interrupted writer, which leaves the counts at 0 or at what is already written) is read
 * by scanning, and avi_reader_is_complete() says false. */
int avi_reader_open(int fd, struct avi_reader **ret, char *error, size_t error_size);

struct avi_reader *avi_reader_free(struct avi_reader *r); /* returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct avi_reader *, avi_reader_free);

unsigned avi_reader_n_streams(const struct avi_reader *r);
const struct avi_stream_info *avi_reader_stream(const struct avi_reader *r, unsigned i);
/* Index (for avi_reader_stream) of the Motion-JPEG stream whose frames are read. */
unsigned avi_reader_video_stream(const struct avi_reader *r);

/* Frames the index (or scan) found for the video stream. Zero-length "drop" chunks are not
 * frames and are skipped. */
uint64_t avi_reader_frame_count(const struct avi_reader *r);
/* Frame rate as rate/scale from strh; fps as a double; duration of all frames in µs. */
void avi_reader_frame_rate(const struct avi_reader *r, uint32_t *rate, uint32_t *scale);
double avi_reader_fps(const struct avi_reader *r);
uint64_t avi_reader_duration_us(const struct avi_reader *r);
/* Presentation time of frame i in µs (i * scale / rate). */
uint64_t avi_reader_frame_time_us(const struct avi_reader *r, uint64_t i);

/* false when the file was not finished (a writer was interrupted): frames came from
 * scanning, and only complete chunks are counted. */
bool avi_reader_is_complete(const struct avi_reader *r);
/* true when the file has an OpenDML (indx) index. */
bool avi_reader_is_opendml(const struct avi_reader *r);

/* Size in bytes of frame i (<= AVI_MAX_FRAME_SIZE); -ERANGE if i is out of range. */
int avi_reader_frame_size(const struct avi_reader *r, uint64_t i, size_t *ret);
/* File offset of frame i's data (after its 8-byte chunk header) and its size. */
int avi_reader_frame_location(const struct avi_reader *r, uint64_t i, uint64_t *ret_offset,
                              uint32_t *ret_size);
/* Reads frame i into buf (size >= its size). Returns its size, -ERANGE, -ENOBUFS, or
 * -EBADMSG when the data is gone (file shrank) or does not start like a JPEG. */
int avi_reader_read_frame(struct avi_reader *r, uint64_t i, void *buf, size_t size);

/* Reason for the last failure of a call on r ("" if none). */
const char *avi_reader_error(const struct avi_reader *r);
