/* SPDX-License-Identifier: MIT */
/* A node's frame path: the shared camerad session opened while a consumer streams, its
 * preview stream read without blocking, each frame repacked into a PipeWire buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <spa/buffer/meta.h>

#include "pipewire/camera-node-private.h"
#include "shared/log.h"
#include "shared/macro.h"

void node_stop_capture(struct camera_node *n) {
        n->reader_io = sd_event_source_disable_unref(n->reader_io);
        n->reader = y4m_reader_free(n->reader);
        if (n->session)
                log_info("%s: closing the camerad session", n->node_name);
        n->session = camera_session_close(n->session);
}

static void push_frame(struct camera_node *n, const struct y4m_frame *f) {
        const struct node_format *nf = n->negotiated;
        struct pw_buffer *b;

        if (!nf)
                return;
        if (f->width != nf->width || f->height != nf->height) {
                char msg[160];
                snprintf(msg, sizeof msg, "camerad sends %ux%u frames, the stream needs %ux%u",
                         f->width, f->height, nf->width, nf->height);
                node_fail_stream(n, msg);
                return;
        }
        b = pw_stream_dequeue_buffer(n->stream);
        if (!b) {
                /* Consumers hold every buffer: this frame is dropped, never queued up. */
                n->dropped++;
                return;
        }
        struct spa_data *d = &b->buffer->datas[0];
        size_t size = packed_frame_size(nf->layout, nf->width, nf->height);
        if (!d->data || d->maxsize < size) {
                d->chunk->size = 0;
                pw_stream_queue_buffer(n->stream, b);
                node_fail_stream(n, "PipeWire gave buffers too small or unmapped for the format");
                return;
        }
        repack_frame(f->chroma, nf->layout, nf->width, nf->height, f->data, d->data);
        d->chunk->offset = 0;
        d->chunk->size = (uint32_t) size;
        d->chunk->stride = (int32_t) packed_stride(nf->layout, nf->width);
        d->chunk->flags = 0;

        struct spa_meta_header *h = spa_buffer_find_meta_data(b->buffer, SPA_META_Header, sizeof *h);
        if (h) {
                h->flags = 0;
                h->offset = 0;
                h->pts = (int64_t) f->arrival_nsec;
                h->dts_offset = 0;
                h->seq = n->seq;
        }
        n->seq++;
        pw_stream_queue_buffer(n->stream, b);
        pw_stream_trigger_process(n->stream);
}

static int on_reader_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct camera_node *n = userdata;
        struct y4m_frame frame;
        int r;

        /* Every complete frame goes out; a slow consumer loses frames in push_frame. */
        while ((r = y4m_reader_read(n->reader)) > 0) {
                y4m_reader_frame(n->reader, &frame);
                push_frame(n, &frame);
                if (!n->reader)
                        return 0; /* push_frame failed the stream */
        }
        if (r == -EPIPE)
                node_fail_stream(n, "camerad closed the preview stream");
        else if (r == -EBADMSG)
                node_fail_stream(n, "camerad's preview stream is not YUV4MPEG2 4:2:0 or 4:2:2");
        else if (r < 0) {
                char msg[128];
                snprintf(msg, sizeof msg, "reading the preview stream failed: %s", strerror(-r));
                node_fail_stream(n, msg);
        }
        return 0;
}

static void on_session_ready(void *userdata, int fd) {
        struct camera_node *n = userdata;
        int r;

        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
                safe_close(fd);
                node_fail_stream(n, "cannot make the preview stream non-blocking");
                return;
        }
        r = y4m_reader_new(fd, &n->reader);
        if (r >= 0)
                r = sd_event_add_io(n->bridge->event, &n->reader_io, fd, EPOLLIN, on_reader_io, n);
        if (r < 0) {
                node_fail_stream(n, "cannot watch the preview stream");
                return;
        }
        log_info("%s: streaming %s %ux%u from camerad", n->node_name,
                 packed_layout_name(n->negotiated->layout), n->negotiated->width, n->negotiated->height);
}

static void on_session_failed(void *userdata, const char *message) {
        node_fail_stream(userdata, message);
}

static const struct camera_session_ops session_ops = {
        .ready = on_session_ready,
        .failed = on_session_failed,
};

void node_start_capture(struct camera_node *n) {
        const struct node_format *nf = n->negotiated;
        int r;

        if (n->session || !nf || n->state != PW_STREAM_STATE_STREAMING || n->rebuild)
                return;
        /* fps 0: as fast as the capture runs, so the session can join a capture another
         * app started at a lower rate (the README's Shared cameras). */
        struct camera_profile profile = {
                .fourcc = nf->source.fourcc, .width = nf->width, .height = nf->height, .fps = 0,
        };
        log_info("%s: consumer streams %s %ux%u, opening a shared camerad session (%s)", n->node_name,
                 packed_layout_name(nf->layout), nf->width, nf->height, nf->source.fourcc);
        r = camera_session_open(n->bridge->bus, n->path, &profile, &session_ops, n, &n->session);
        if (r < 0)
                node_fail_stream(n, "cannot call camerad");
}
