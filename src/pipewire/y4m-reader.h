/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pipewire/repack.h"

/* Reads camerad's preview stream (YUV4MPEG2, C420jpeg or C422) from a non-blocking
 * socket, one whole frame at a time, without blocking the loop: each call takes what the
 * socket has and returns when a frame is complete or the socket is empty. */

struct y4m_reader;

int y4m_reader_new(int fd, struct y4m_reader **ret); /* takes fd */
struct y4m_reader *y4m_reader_free(struct y4m_reader *r);

/* 1: a frame is complete (y4m_reader_frame() until the next call); 0: the socket is
 * empty, call again when it is readable; -EPIPE: the stream ended; -EBADMSG: not a
 * stream this reader understands; other negative errno: read failed. */
int y4m_reader_read(struct y4m_reader *r);

struct y4m_frame {
        enum y4m_chroma chroma;
        unsigned width, height;
        const uint8_t *data; /* planar_frame_size() bytes */
        uint64_t arrival_nsec; /* CLOCK_MONOTONIC when its first bytes were read */
};
void y4m_reader_frame(const struct y4m_reader *r, struct y4m_frame *ret);
