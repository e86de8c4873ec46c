/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipewire/y4m-reader.h"
#include "shared/macro.h"

#define LINE_MAX_BYTES 512
#define SPILL_BYTES 4096

enum reader_state { WANT_HEADER, WANT_FRAME_LINE, WANT_PAYLOAD };

struct y4m_reader {
        int fd;
        enum reader_state state;

        /* Bytes read ahead of the current line (a read may end inside a frame). */
        uint8_t spill[SPILL_BYTES];
        size_t spill_start, spill_end;
        uint64_t spill_nsec; /* when spill's bytes were read */

        char line[LINE_MAX_BYTES];
        size_t line_len;
        uint64_t line_nsec;

        enum y4m_chroma chroma;
        unsigned width, height;
        uint8_t *frame;
        size_t frame_size, frame_have;
        uint64_t frame_nsec;
};

static uint64_t now_nsec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

int y4m_reader_new(int fd, struct y4m_reader **ret) {
        struct y4m_reader *r = calloc(1, sizeof *r);
        if (!r) {
                safe_close(fd);
                return -ENOMEM;
        }
        r->fd = fd;
        *ret = r;
        return 0;
}

struct y4m_reader *y4m_reader_free(struct y4m_reader *r) {
        if (!r)
                return NULL;
        safe_close(r->fd);
        free(r->frame);
        free(r);
        return NULL;
}

/* The stream header's W, H and C tags; the frame buffer to match. */
static int parse_header(struct y4m_reader *r) {
        unsigned w = 0, h = 0;
        bool chroma_seen = false;

        if (strncmp(r->line, "YUV4MPEG2 ", 10) != 0)
                return -EBADMSG;
        for (char *tag = strtok(r->line + 10, " \n"); tag; tag = strtok(NULL, " \n")) {
                if (tag[0] == 'W')
                        w = (unsigned) strtoul(tag + 1, NULL, 10);
                else if (tag[0] == 'H')
                        h = (unsigned) strtoul(tag + 1, NULL, 10);
                else if (tag[0] == 'C') {
                        chroma_seen = true;
                        if (strncmp(tag + 1, "420", 3) == 0)
                                r->chroma = Y4M_CHROMA_420;
                        else if (streq(tag + 1, "422"))
                                r->chroma = Y4M_CHROMA_422;
                        else
                                return -EBADMSG;
                }
        }
        if (!chroma_seen)
                r->chroma = Y4M_CHROMA_420; /* the format's default */
        if (w == 0 || h == 0 || w % 2 || h % 2 || w > 16384 || h > 16384)
                return -EBADMSG;
        r->width = w;
        r->height = h;
        r->frame_size = planar_frame_size(r->chroma, w, h);
        r->frame = malloc(r->frame_size);
        return r->frame ? 0 : -ENOMEM;
}

/* Refills spill from the socket: > 0 bytes, 0 none available, < 0 error or -EPIPE. */
static int fill_spill(struct y4m_reader *r) {
        ssize_t n;
        do
                n = read(r->fd, r->spill, sizeof r->spill);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EAGAIN ? 0 : -errno;
        if (n == 0)
                return -EPIPE;
        r->spill_start = 0;
        r->spill_end = (size_t) n;
        r->spill_nsec = now_nsec();
        return 1;
}

/* Collects one '\n'-terminated line: 1 complete, 0 needs more data. */
static int read_line(struct y4m_reader *r) {
        for (;;) {
                if (r->spill_start == r->spill_end) {
                        int k = fill_spill(r);
                        if (k <= 0)
                                return k;
                }
                if (r->line_len == 0)
                        r->line_nsec = r->spill_nsec;
                while (r->spill_start < r->spill_end) {
                        char c = (char) r->spill[r->spill_start++];
                        if (r->line_len + 1 >= sizeof r->line)
                                return -EBADMSG;
                        r->line[r->line_len++] = c;
                        if (c == '\n') {
                                r->line[r->line_len] = '\0';
                                r->line_len = 0;
                                return 1;
                        }
                }
        }
}

/* The frame's bytes: spilled ones first, then straight from the socket into the frame. */
static int read_payload(struct y4m_reader *r) {
        size_t k = MIN(r->spill_end - r->spill_start, r->frame_size - r->frame_have);
        memcpy(r->frame + r->frame_have, r->spill + r->spill_start, k);
        r->spill_start += k;
        r->frame_have += k;
        while (r->frame_have < r->frame_size) {
                ssize_t n = read(r->fd, r->frame + r->frame_have, r->frame_size - r->frame_have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN ? 0 : -errno;
                if (n == 0)
                        return -EPIPE;
                r->frame_have += (size_t) n;
        }
        return 1;
}

int y4m_reader_read(struct y4m_reader *r) {
        int k;

        for (;;) {
                switch (r->state) {
                case WANT_HEADER:
                        k = read_line(r);
                        if (k <= 0)
                                return k;
                        k = parse_header(r);
                        if (k < 0)
                                return k;
                        r->state = WANT_FRAME_LINE;
                        break;
                case WANT_FRAME_LINE:
                        k = read_line(r);
                        if (k <= 0)
                                return k;
                        /* Frame parameters may follow "FRAME"; none changes the layout. */
                        if (strncmp(r->line, "FRAME", 5) != 0 || (r->line[5] != '\n' && r->line[5] != ' '))
                                return -EBADMSG;
                        r->frame_nsec = r->line_nsec;
                        r->frame_have = 0;
                        r->state = WANT_PAYLOAD;
                        break;
                case WANT_PAYLOAD:
                        k = read_payload(r);
                        if (k <= 0)
                                return k;
                        r->state = WANT_FRAME_LINE;
                        return 1;
                }
        }
}

void y4m_reader_frame(const struct y4m_reader *r, struct y4m_frame *ret) {
        *ret = (struct y4m_frame) {
                .chroma = r->chroma,
                .width = r->width,
                .height = r->height,
                .data = r->frame,
                .arrival_nsec = r->frame_nsec,
        };
}
