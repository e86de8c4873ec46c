/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

/* Motion-JPEG AVI writer on a seekable regular file, pwrite()-based (the file offset is not
 * used). Layout: RIFF 'AVI ' { hdrl { avih, strl { strh, strf, indx }, odml { dmlh } },
 * movi { 00dc… ix00 }, idx1 }, then one RIFF 'AVIX' { movi { 00dc… ix00 } } per further
 * riff_limit bytes (OpenDML; the first RIFF keeps idx1 for the frames it holds).
 *
 * Crash safety: until a RIFF is closed its size field and its movi list size stay 0 and
 * avih's frame count stays 0; finish() patches them. A reader therefore sees an interrupted
 * file as "incomplete" and recovers its frames by scanning movi. Closed RIFFs (all but the
 * last) are complete and indexed the moment the next one starts. Nothing is fsync()ed: that
 * covers a crash of the daemon, not of the machine; fsync(fd) after finish() for the latter. */

#define AVI_DEFAULT_RIFF_LIMIT (UINT64_C(1) << 30) /* 1 GiB, as OpenDML readers expect */
#define AVI_MAX_RIFFS 256                          /* super index slots reserved in hdrl */

struct avi_writer_params {
        unsigned width, height;     /* 1..MEDIA_MAX_SIDE */
        unsigned fps_num, fps_den;  /* frame rate fps_num/fps_den, e.g. 30000/1001 */
        uint64_t riff_limit;        /* bytes per RIFF before a new AVIX starts; 0: default.
                                       Small values exist for tests. */
};

struct avi_writer;

/* Starts a new file at offset 0 of fd (truncating it). The writer keeps its own duplicate of
 * fd (close yours whenever you like). -EINVAL for bad params, -errno for I/O. */
int avi_writer_new(int fd, const struct avi_writer_params *params, struct avi_writer **ret);

/* Reopens a file this writer produced earlier — finished or interrupted, with or without
 * frames — to add frames: the existing frames are found with the AVI reader, the indexes of
 * closed RIFFs are rewritten from them, anything after the last complete frame (indexes, a
 * torn chunk) is cut off, and the file is incomplete until finish() again. riff_limit 0
 * means the default. -EBADMSG (with a reason in error, if not NULL) when the file is not
 * one of ours, not laid out as we write, or cannot be read; fd must be readable and
 * writable. */
int avi_writer_open_append(int fd, uint64_t riff_limit, struct avi_writer **ret, char *error,
                           size_t error_size);

/* Appends one JPEG frame as a 00dc chunk. -EINVAL for an empty frame, -E2BIG for one over
 * 64 MiB, -EFBIG past AVI_MAX_RIFFS RIFFs, -errno for I/O. */
int avi_writer_add_frame(struct avi_writer *w, const void *jpeg, size_t size);

/* Changes the frame rate written at finish() (e.g. the rate measured from timestamps). */
int avi_writer_set_frame_rate(struct avi_writer *w, unsigned fps_num, unsigned fps_den);

uint64_t avi_writer_frame_count(const struct avi_writer *w);
/* Bytes the file holds so far. */
uint64_t avi_writer_file_size(const struct avi_writer *w);

/* Writes the indexes and patches every header; the file is then complete and playable.
 * More frames may follow (the file becomes incomplete again until the next finish()). */
int avi_writer_finish(struct avi_writer *w);

/* Frees without finishing (the file stays as an interrupted one). Returns NULL. */
struct avi_writer *avi_writer_free(struct avi_writer *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct avi_writer *, avi_writer_free);
