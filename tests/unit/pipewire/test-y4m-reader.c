/* SPDX-License-Identifier: MIT */
/* The bridge's non-blocking YUV4MPEG2 reader against camerad's own serializer
 * (media/y4m.c) over a socket: frames split at awkward points, an empty socket, frame
 * parameters, the end of the stream, a stream it must refuse; and the node formats. */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../check.h"
#include "media/y4m.h"
#include "shared/macro.h"
#include "pipewire/node-formats.h"
#include "pipewire/y4m-reader.h"

#define W 64
#define H 32

static void write_all(int fd, const void *p, size_t n) {
        const uint8_t *b = p;
        while (n > 0) {
                ssize_t k = write(fd, b, n);
                check(k > 0);
                b += k;
                n -= (size_t) k;
        }
}

static void nonblocking_pair(int sv[2]) {
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        int size = 1 << 20;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        check(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
}

/* A stream of camerad's frames (NV12 → C420jpeg, YUYV → C422), written in pieces of
 * `piece` bytes with a read after each: every frame arrives once, whole and in order. */
static void stream_in_pieces(uint32_t fourcc, size_t piece) {
        enum { FRAMES = 3 };
        size_t in_size = fourcc == V4L2_PIX_FMT_NV12 ? W * H * 3 / 2 : W * H * 2;
        size_t frame_size = y4m_frame_size(fourcc, W, H);
        uint8_t *in = malloc(in_size), *stream = malloc(Y4M_HEADER_MAX + FRAMES * frame_size);
        struct y4m_reader *r;
        size_t len;
        int sv[2];

        check(in && stream);
        int hl = y4m_stream_header(fourcc, W, H, 30, 1, (char *) stream, Y4M_HEADER_MAX);
        check(hl > 0);
        len = (size_t) hl;
        for (int f = 0; f < FRAMES; f++) {
                for (size_t i = 0; i < in_size; i++)
                        in[i] = (uint8_t) (i * 7 + f);
                int k = y4m_serialize_frame(fourcc, in, in_size, W, H,
                                            fourcc == V4L2_PIX_FMT_NV12 ? W : 2 * W, stream + len, frame_size);
                check(k == (int) frame_size);
                len += frame_size;
        }

        nonblocking_pair(sv);
        check_ok(y4m_reader_new(sv[1], &r));
        check_r(y4m_reader_read(r), 0); /* nothing sent yet */
        int got = 0;
        for (size_t off = 0; off < len; off += piece) {
                write_all(sv[0], stream + off, off + piece <= len ? piece : len - off);
                int k;
                while ((k = y4m_reader_read(r)) == 1) {
                        struct y4m_frame fr;
                        y4m_reader_frame(r, &fr);
                        check(fr.width == W && fr.height == H);
                        check(fr.chroma == (fourcc == V4L2_PIX_FMT_NV12 ? Y4M_CHROMA_420 : Y4M_CHROMA_422));
                        check(fr.arrival_nsec > 0);
                        /* The planes as camerad serialized them, after "FRAME\n". */
                        const uint8_t *want = stream + hl + (size_t) got * frame_size + 6;
                        check(memcmp(fr.data, want, frame_size - 6) == 0);
                        got++;
                }
                check_r(k, 0);
        }
        check(got == FRAMES);
        close(sv[0]);
        check_r(y4m_reader_read(r), -EPIPE);
        y4m_reader_free(r);
        free(in);
        free(stream);
}

static void refuses(const char *text) {
        struct y4m_reader *r;
        int sv[2];
        nonblocking_pair(sv);
        check_ok(y4m_reader_new(sv[1], &r));
        write_all(sv[0], text, strlen(text));
        check_r(y4m_reader_read(r), -EBADMSG);
        y4m_reader_free(r);
        close(sv[0]);
}

static void frame_parameters_are_allowed(void) {
        static const char head[] = "YUV4MPEG2 W4 H2 F30:1 C420jpeg\nFRAME Ixyz\n";
        struct y4m_reader *r;
        struct y4m_frame fr;
        int sv[2];
        nonblocking_pair(sv);
        check_ok(y4m_reader_new(sv[1], &r));
        write_all(sv[0], head, strlen(head));
        write_all(sv[0], "0123456789AB", 12); /* 4x2 luma + 2 + 2 chroma */
        check_r(y4m_reader_read(r), 1);
        y4m_reader_frame(r, &fr);
        check(memcmp(fr.data, "0123456789AB", 12) == 0);
        y4m_reader_free(r);
        close(sv[0]);
}

static void node_formats(void) {
        const struct camera_format formats[] = {
                { "MJPG", 1280, 720, 30 }, { "YUYV", 640, 480, 30 }, { "NV12", 640, 480, 29.97 },
                { "YUYV", 1280, 720, 10 }, { "GREY", 640, 480, 30 }, { "NV12", 641, 480, 30 },
        };
        struct node_format *nf;
        size_t n;

        check_ok(node_formats_build(formats, sizeof formats / sizeof formats[0], &nf, &n));
        /* YUYV 640: YUY2; NV12 640: NV12 + I420; YUYV 720: YUY2; then MJPG 720: I420 + NV12
         * (YUY2 720 came from YUYV already). GREY and odd sizes are not offered. */
        check(n == 6);
        check(nf[0].layout == PACKED_YUY2 && nf[0].width == 640 && streq(nf[0].source.fourcc, "YUYV"));
        check(nf[1].layout == PACKED_NV12 && nf[1].fps_num == 29970 && nf[1].fps_den == 1000);
        check(nf[2].layout == PACKED_I420 && streq(nf[2].source.fourcc, "NV12"));
        const struct node_format *f = node_formats_find(nf, n, PACKED_YUY2, 1280, 720);
        check(f && streq(f->source.fourcc, "YUYV") && f->fps_num == 10);
        f = node_formats_find(nf, n, PACKED_I420, 1280, 720);
        check(f && streq(f->source.fourcc, "MJPG"));
        check(!node_formats_find(nf, n, PACKED_YUY2, 641, 480));
        free(nf);
}

int main(void) {
        static const size_t pieces[] = { 1, 7, 4093, 4096, 100000 };
        for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
                stream_in_pieces(V4L2_PIX_FMT_NV12, pieces[i]);
                stream_in_pieces(V4L2_PIX_FMT_YUYV, pieces[i]);
        }
        refuses("MPEG4 W4 H2\n");
        refuses("YUV4MPEG2 W4 H2 C444\n");
        refuses("YUV4MPEG2 W3 H2 C420jpeg\n");
        refuses("YUV4MPEG2 W4 H2 C420jpeg\nFRAMES\n");
        frame_parameters_are_allowed();
        node_formats();
        return check_report("test-y4m-reader");
}
