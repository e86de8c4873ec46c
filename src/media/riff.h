/* SPDX-License-Identifier: MIT */
#pragma once

/* Little-endian field access and FourCCs shared by the AVI reader and writer. */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define FOURCC(a, b, c, d) \
        ((uint32_t) (a) | ((uint32_t) (b) << 8) | ((uint32_t) (c) << 16) | ((uint32_t) (d) << 24))

static inline uint16_t rd16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static inline uint32_t rd32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
               (uint32_t) p[3] << 24;
}

static inline uint64_t rd64(const uint8_t *p) {
        return (uint64_t) rd32(p) | (uint64_t) rd32(p + 4) << 32;
}

static inline void wr16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static inline void wr32(uint8_t *p, uint32_t v) {
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static inline void wr64(uint8_t *p, uint64_t v) {
        wr32(p, (uint32_t) v);
        wr32(p + 4, (uint32_t) (v >> 32));
}

/* Chunk payloads are padded to even sizes. */
static inline uint64_t riff_pad(uint64_t size) {
        return size + (size & 1);
}

/* FourCC as printable text ('?' for anything else) into buf[5]. */
static inline const char *fourcc_to_string(uint32_t fcc, char buf[static 5]) {
        for (unsigned i = 0; i < 4; i++) {
                char c = (char) (fcc >> (8 * i));
                buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        buf[4] = 0;
        return buf;
}

/* The chunk id "NNdc" (compressed video) for stream n < 100; suffix is "dc" or "db". */
static inline uint32_t stream_chunk_id(unsigned n, char s0, char s1) {
        return FOURCC('0' + n / 10, '0' + n % 10, s0, s1);
}
