/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to the AVI writer (avi-writer.c writes, avi-writer-append.c reopens). */

#include <stdbool.h>
#include <stdint.h>

#include "media/avi-writer.h"

/* Fixed header layout, so that finish() can rewrite it in place and open_append() can
 * recognise files of ours. Offsets from the start of the file. */
enum {
        OFF_RIFF_SIZE = 4,
        OFF_HDRL = 12,
        OFF_AVIH = 24,       /* "avih" + 56 bytes */
        OFF_STRL = 88,       /* "LIST" size "strl" */
        OFF_STRH = 100,      /* "strh" + 56 */
        OFF_STRF = 164,      /* "strf" + 40 (BITMAPINFOHEADER) */
        OFF_INDX = 212,      /* "indx" + 24 + 16 * AVI_MAX_RIFFS */
        INDX_SIZE = 24 + 16 * AVI_MAX_RIFFS,
        OFF_ODML = OFF_INDX + 8 + INDX_SIZE, /* "LIST" size "odml" */
        OFF_DMLH = OFF_ODML + 12,            /* "dmlh" + 248 */
        DMLH_SIZE = 248,
        HEADER_SIZE = OFF_DMLH + 8 + DMLH_SIZE, /* the first movi LIST starts here */
};

#define AVIF_HASINDEX 0x10
#define AVIF_ISINTERLEAVED 0x100
#define AVIIF_KEYFRAME 0x10
#define MAX_RIFF_LIMIT (UINT64_C(1) << 31) /* ix00 offsets are 32 bits from the RIFF start */

struct frame_entry {
        uint64_t offset; /* of the data, after the chunk header */
        uint32_t size;
};

struct avi_riff {
        uint64_t start;       /* "RIFF" */
        uint64_t movi;        /* "LIST" of its movi */
        uint64_t first_frame; /* index into frames */
        uint64_t n_frames;
        uint64_t ix_offset;   /* its ix00 chunk, once closed */
        uint32_t ix_size;     /* ix00 chunk size with header */
        uint64_t end;         /* end of the RIFF, once closed */
        bool closed;
};

struct avi_writer {
        int fd;
        unsigned width, height;
        unsigned fps_num, fps_den;
        uint64_t riff_limit;

        struct frame_entry *frames;
        uint64_t n_frames, allocated;
        uint32_t max_frame_size;

        struct avi_riff riffs[AVI_MAX_RIFFS];
        unsigned n_riffs;
        uint64_t end; /* where the next chunk goes */
        bool finished;
};

int avi_writer_alloc(int fd, const struct avi_writer_params *p, struct avi_writer **ret);
/* Adds a frame entry to RIFF r (the one whose movi holds it). */
int avi_writer_push_frame(struct avi_writer *w, struct avi_riff *r, uint64_t offset, uint32_t size);
/* Writes RIFF r's indexes at pos (after its last frame) and its sizes; r is then closed. */
int avi_writer_write_riff_index(struct avi_writer *w, struct avi_riff *r, uint64_t pos);
/* Marks the last RIFF open again and cuts off whatever follows its last frame. */
int avi_writer_reopen_last_riff(struct avi_writer *w);
