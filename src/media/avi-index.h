/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to the AVI reader: its state, shared between avi-reader.c (headers) and
 * avi-index.c (finding the frames). Not for use outside src/media. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/avi-reader.h"
#include "shared/macro.h"

/* More RIFFs than this is not a file anybody wrote (4 TiB at 1 GiB each). */
#define AVI_READER_MAX_RIFFS 4096

struct avi_frame_entry {
        uint64_t offset; /* of the frame data, after its chunk header */
        uint32_t size;
};

struct avi_movi {
        uint64_t fourcc_offset; /* where "movi" is; idx1 offsets may be relative to it */
        uint64_t end;           /* end of the list (or of the file, for a torn one) */
};

struct avi_stream_state {
        uint32_t codec, handler;
        bool has_super_index;
        size_t super_index_offset; /* of the first entry, within avi_reader.hdrl */
        uint32_t super_index_entries;
};

struct avi_reader {
        int fd;
        uint64_t file_size;
        char error[AVI_ERROR_MAX];

        uint8_t *hdrl;
        uint32_t hdrl_size;
        uint64_t hdrl_offset;
        bool have_avih, have_dmlh, have_idx1;
        uint32_t avih_usec_per_frame, avih_total_frames, avih_width, avih_height;
        uint32_t dmlh_total_frames;

        struct avi_stream_info streams[AVI_MAX_STREAMS];
        struct avi_stream_state stream_state[AVI_MAX_STREAMS];
        unsigned n_streams, video;
        unsigned width, height;
        uint32_t rate, scale;

        struct avi_movi movi[AVI_READER_MAX_RIFFS];
        unsigned n_movi;
        uint64_t idx1_offset;
        uint32_t idx1_size;

        bool complete, opendml;
        struct avi_frame_entry *frames;
        uint64_t n_frames, allocated;
};

/* Sets r->error and returns err. */
int avi_reader_fail(struct avi_reader *r, int err, const char *format, ...) _printf_(3, 4);

/* pread() of [offset, offset + size), which must lie inside the file (-EBADMSG if not). */
int avi_read_at(struct avi_reader *r, void *buf, size_t size, uint64_t offset);

/* One chunk of a RIFF walk: its header at pos, and for a LIST the list type. */
struct riff_chunk {
        uint64_t pos;
        uint32_t id, len;
        bool is_list;       /* id is LIST */
        bool has_type;      /* a LIST whose 4-byte type lies before the walk's end */
        uint32_t list_type; /* when has_type */
};

/* The chunk at pos of a walk that ends at end: 1 and *c when its header fits, 0 when fewer
 * than 8 bytes remain, or -EBADMSG with r->error set when it cannot be read. */
int avi_chunk_at(struct avi_reader *r, uint64_t pos, uint64_t end, struct riff_chunk *c);

/* Whether the payload of c runs past end (a writer stopped in the middle of it). */
static inline bool riff_chunk_is_torn(const struct riff_chunk *c, uint64_t end) {
        return c->pos + 8 + (uint64_t) c->len > end;
}

/* Where the chunk after c starts (payloads are padded to even sizes). */
static inline uint64_t riff_chunk_next(const struct riff_chunk *c) {
        return c->pos + 8 + c->len + (uint64_t) (c->len & 1);
}

/* avi_reader_open(), optionally accepting a file without frames (the writer reopening an
 * empty recording). */
int avi_reader_open_full(int fd, bool allow_empty, struct avi_reader **ret, char *error,
                         size_t error_size);

/* Fills r->frames for the video stream from indx/ix, idx1 or a movi scan. */
int avi_index_build(struct avi_reader *r);
