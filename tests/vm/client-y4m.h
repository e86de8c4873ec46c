/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Incremental YUV4MPEG2 checker for the preview stream: fed whatever bytes a socket read
 * returned, it parses the stream header and every frame header and counts complete frames.
 * Any byte where a frame header should start but "FRAME" does not is an error: the
 * contract says a slow reader loses whole frames, never parts of one. */

struct y4m_reader {
        unsigned width, height;
        char colorspace[16];
        size_t frame_size; /* bytes of picture data per frame */
        unsigned frames;   /* complete frames seen */
        bool header_done;
        bool failed;
        char error[160];

        /* Set by the caller before the stream header arrives: keep a copy of the last
         * complete frame (planes as Y4M lays them out) in last. */
        bool keep_last;
        unsigned char *last;
        unsigned char *cur;

        /* Parser state. */
        char line[256];    /* header or frame header being collected */
        size_t line_len;
        size_t data_left;  /* picture bytes still to skip in the current frame */
        bool in_frame_header;
};

void y4m_reader_init(struct y4m_reader *r);

/* Returns 0, or -EBADMSG once the stream was found malformed (r->error says why). */
int y4m_reader_feed(struct y4m_reader *r, const void *data, size_t size);

/* Frees the kept frames. */
void y4m_reader_done(struct y4m_reader *r);
