/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "media/jpeg-markers.h"
#include "shared/log.h"
#include "shared/macro.h"

#define M_SOI 0xD8
#define M_EOI 0xD9
#define M_SOS 0xDA
#define M_DHT 0xC4

/* The four standard tables (two DC of 12 values, two AC of 162) as DHT payload: per table
 * one class/id byte, 16 counts and the values. */
#define STD_DHT_PAYLOAD (4 * 17 + 12 + 12 + 162 + 162)

long jpeg_frame_length(const void *jpeg, size_t size) {
        const uint8_t *p = jpeg;
        size_t n = size;

        if (!p || size < 4 || p[0] != 0xFF || p[1] != M_SOI)
                return -EBADMSG;
        while (n > 4 && p[n - 1] == 0x00)
                n--;
        if (p[n - 2] != 0xFF || p[n - 1] != M_EOI)
                return -EBADMSG;
        return (long) n;
}

/* Walks the segments after SOI. Returns the offset of the first SOS marker, or -EBADMSG.
 * For each segment before it, calls fn (if set) with its offset and length (marker
 * included); fn returning false stops the walk early with -ECANCELED. */
static long walk_headers(const uint8_t *p, size_t size,
                         bool (*fn)(const uint8_t *seg, size_t len, void *userdata), void *userdata) {
        size_t pos = 2;

        if (!p || size < 4 || p[0] != 0xFF || p[1] != M_SOI)
                return -EBADMSG;
        while (pos + 4 <= size) {
                if (p[pos] != 0xFF)
                        return -EBADMSG;
                if (p[pos + 1] == 0xFF) { /* fill byte */
                        pos++;
                        continue;
                }
                uint8_t m = p[pos + 1];
                if (m == M_SOS)
                        return (long) pos;
                if (m == M_SOI || m == M_EOI || m == 0x00 || (m >= 0xD0 && m <= 0xD7))
                        return -EBADMSG; /* not where headers belong */
                size_t len = 2 + ((size_t) p[pos + 2] << 8 | p[pos + 3]);
                if (len < 4 || pos + len > size)
                        return -EBADMSG;
                if (fn && !fn(p + pos, len, userdata))
                        return -ECANCELED;
                pos += len;
        }
        return -EBADMSG;
}

static bool note_dht(const uint8_t *seg, size_t len, void *userdata) {
        bool *found = userdata;
        *found = *found || seg[1] == M_DHT;
        return true;
}

/* The whole header is walked even after a DHT: damage further on must not pass. */
bool jpeg_has_dht(const void *jpeg, size_t size) {
        bool found = false;
        return walk_headers(jpeg, size, note_dht, &found) >= 0 && found;
}

static struct {
        pthread_once_t once;
        uint8_t segments[STD_DHT_PAYLOAD + 4 * 4]; /* one or more whole DHT segments */
        size_t size;
        int error;
} std_dht = { .once = PTHREAD_ONCE_INIT };

struct collect {
        uint8_t *out;
        size_t size, capacity, payload;
};

static bool collect_dht(const uint8_t *seg, size_t len, void *userdata) {
        struct collect *c = userdata;
        if (seg[1] != M_DHT)
                return true;
        if (c->size + len > c->capacity)
                return false;
        memcpy(c->out + c->size, seg, len);
        c->size += len;
        c->payload += len - 4;
        return true;
}

/* TurboJPEG writes the standard tables when coding is not optimised (its default). */
static void std_dht_init(void) {
        uint8_t y[16 * 16], cb[8 * 8], cr[8 * 8];
        const unsigned char *planes[3] = { y, cb, cr };
        int strides[3] = { 16, 8, 8 };
        unsigned char *buf = NULL;
        unsigned long size = 0;
        tjhandle tj = tjInitCompress();

        std_dht.error = -ENOMEM;
        if (!tj)
                return;
        memset(y, 128, sizeof y);
        memset(cb, 128, sizeof cb);
        memset(cr, 128, sizeof cr);
        if (tjCompressFromYUVPlanes(tj, planes, 16, strides, 16, TJSAMP_420, &buf, &size, 75, 0) == 0) {
                struct collect c = { .out = std_dht.segments, .capacity = sizeof std_dht.segments };
                long sos = walk_headers(buf, size, collect_dht, &c);
                /* Optimised tables (TJ_OPTIMIZE in the environment) would be far shorter. */
                if (sos > 0 && c.payload == STD_DHT_PAYLOAD) {
                        std_dht.size = c.size;
                        std_dht.error = 0;
                } else {
                        log_debug("TurboJPEG did not write the standard Huffman tables");
                        std_dht.error = -EIO;
                }
        }
        tjFree(buf);
        tjDestroy(tj);
}

int jpeg_insert_dht(const void *jpeg, size_t size, uint8_t **ret, size_t *ret_size) {
        const uint8_t *in = jpeg;
        bool has = false;
        long sos = walk_headers(in, size, note_dht, &has);
        uint8_t *out;

        if (sos < 0)
                return (int) sos;
        if (!has) {
                pthread_once(&std_dht.once, std_dht_init);
                if (std_dht.error < 0)
                        return std_dht.error;
        }
        out = malloc(size + (has ? 0 : std_dht.size));
        if (!out)
                return -ENOMEM;
        if (has) {
                memcpy(out, in, size);
                *ret_size = size;
        } else {
                memcpy(out, in, (size_t) sos);
                memcpy(out + sos, std_dht.segments, std_dht.size);
                memcpy(out + sos + std_dht.size, in + sos, size - (size_t) sos);
                *ret_size = size + std_dht.size;
        }
        *ret = out;
        return 0;
}

struct strip {
        const uint8_t *base;
        uint8_t *out;
        size_t n, copied_to; /* bytes written; input offset copied up to */
};

static bool skip_dht(const uint8_t *seg, size_t len, void *userdata) {
        struct strip *s = userdata;
        size_t at = (size_t) (seg - s->base);
        if (seg[1] != M_DHT)
                return true;
        memcpy(s->out + s->n, s->base + s->copied_to, at - s->copied_to);
        s->n += at - s->copied_to;
        s->copied_to = at + len;
        return true;
}

long jpeg_strip_dht(const void *jpeg, size_t size, uint8_t *out) {
        struct strip s = { .base = jpeg, .out = out };
        long sos = walk_headers(jpeg, size, skip_dht, &s);

        if (sos < 0)
                return sos;
        memcpy(out + s.n, s.base + s.copied_to, size - s.copied_to);
        return (long) (s.n + size - s.copied_to);
}

int jpeg_camera_proxy(const void *jpeg, size_t size, const struct exif_fields *fields, uint8_t **ret,
                      size_t *ret_size) {
        _cleanup_free_ uint8_t *with_dht = NULL;
        size_t n;
        int r;

        r = jpeg_insert_dht(jpeg, size, &with_dht, &n);
        if (r < 0)
                return r;
        return exif_insert_into_jpeg(with_dht, n, fields, ret, ret_size);
}
