/* SPDX-License-Identifier: MIT */
#include "client-y4m.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void y4m_reader_init(struct y4m_reader *r) {
        *r = (struct y4m_reader) {};
}

static int fail(struct y4m_reader *r, const char *what) {
        r->failed = true;
        snprintf(r->error, sizeof r->error, "%s (after %u frames)", what, r->frames);
        return -EBADMSG;
}

/* Bytes of picture data for one frame, from the C tag (default 420jpeg per the spec). */
static size_t frame_size_for(const char *colorspace, unsigned w, unsigned h) {
        size_t luma = (size_t) w * h;
        size_t chroma_w = (w + 1) / 2, chroma_h = (h + 1) / 2;

        if (colorspace[0] == 0 || strncmp(colorspace, "420", 3) == 0)
                return luma + 2 * chroma_w * chroma_h;
        if (strcmp(colorspace, "422") == 0)
                return luma + 2 * chroma_w * h;
        if (strcmp(colorspace, "444") == 0)
                return 3 * luma;
        if (strcmp(colorspace, "mono") == 0)
                return luma;
        return 0;
}

static int parse_stream_header(struct y4m_reader *r) {
        char *save = NULL;

        if (strncmp(r->line, "YUV4MPEG2 ", 10) != 0)
                return fail(r, "stream does not start with 'YUV4MPEG2 '");
        for (char *tok = strtok_r(r->line + 10, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                if (tok[0] == 'W')
                        r->width = (unsigned) strtoul(tok + 1, NULL, 10);
                else if (tok[0] == 'H')
                        r->height = (unsigned) strtoul(tok + 1, NULL, 10);
                else if (tok[0] == 'C')
                        snprintf(r->colorspace, sizeof r->colorspace, "%s", tok + 1);
        }
        if (r->width == 0 || r->height == 0)
                return fail(r, "stream header lacks W or H");
        r->frame_size = frame_size_for(r->colorspace, r->width, r->height);
        if (r->frame_size == 0)
                return fail(r, "unknown colorspace in stream header");
        if (r->keep_last) {
                r->cur = malloc(r->frame_size);
                r->last = calloc(1, r->frame_size);
                if (!r->cur || !r->last)
                        return fail(r, "out of memory for the kept frame");
        }
        r->header_done = true;
        r->in_frame_header = true;
        return 0;
}

int y4m_reader_feed(struct y4m_reader *r, const void *data, size_t size) {
        const char *p = data;

        if (r->failed)
                return -EBADMSG;
        while (size > 0) {
                if (r->data_left > 0) {
                        size_t n = size < r->data_left ? size : r->data_left;

                        if (r->cur)
                                memcpy(r->cur + (r->frame_size - r->data_left), p, n);
                        r->data_left -= n;
                        p += n;
                        size -= n;
                        if (r->data_left == 0) {
                                if (r->cur) {
                                        unsigned char *t = r->last;
                                        r->last = r->cur;
                                        r->cur = t;
                                }
                                r->frames++;
                                r->in_frame_header = true;
                        }
                        continue;
                }

                /* Collect a header line up to '\n'. */
                char c = *p++;
                size--;
                if (r->in_frame_header && r->line_len < 5 && c != "FRAME"[r->line_len])
                        return fail(r, "a frame does not start with 'FRAME'");
                if (c != '\n') {
                        if (r->line_len + 1 >= sizeof r->line)
                                return fail(r, "header line too long");
                        r->line[r->line_len++] = c;
                        continue;
                }
                r->line[r->line_len] = 0;
                r->line_len = 0;
                if (!r->header_done) {
                        if (parse_stream_header(r) < 0)
                                return -EBADMSG;
                        continue;
                }
                if (strncmp(r->line, "FRAME", 5) != 0 || (r->line[5] != 0 && r->line[5] != ' '))
                        return fail(r, "bad frame header");
                r->in_frame_header = false;
                r->data_left = r->frame_size;
        }
        return 0;
}

void y4m_reader_done(struct y4m_reader *r) {
        free(r->cur);
        free(r->last);
        r->cur = r->last = NULL;
}
