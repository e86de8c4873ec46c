/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "capture/frame-decimator.h"
#include "capture/preview-sink.h"
#include "media/y4m.h"
#include "shared/log.h"
#include "shared/macro.h"

#define PREVIEW_MAX_CLIENTS 64

/* One serialized piece of stream (the header or a frame), shared by the clients sending
 * it. Only the sink thread touches chunks, so the count needs no atomics. */
struct chunk {
        unsigned n_ref;
        size_t size;
        uint8_t data[];
};

struct client {
        int fd;
        bool awaiting_header; /* MJPEG stream whose layout is not known yet */
        struct chunk *inflight; /* NULL: idle, ready for the next frame */
        size_t offset;
};

struct preview_sink {
        uint32_t fourcc; /* MJPEG: decoded frames, 4:2:0 or 4:2:2 as the camera's JPEGs are */
        unsigned width, height;
        unsigned fps_num, fps_den;
        size_t sndbuf_bytes;
        struct frame_decimator decimator; /* capture thread only */

        pthread_t thread;
        int wake_fd;

        /* Shared between threads, under lock. */
        pthread_mutex_t lock;
        struct frame *pending;
        int new_fds[PREVIEW_MAX_CLIENTS];
        unsigned n_new;
        bool stop;

        atomic_uint n_clients;
        atomic_uint_fast64_t dropped;

        /* Sink thread only. */
        uint32_t layout; /* the frames' fourcc; for MJPEG set by the first frame */
        struct chunk *header;
        struct chunk *spare; /* a frame chunk nobody uses any more, for reuse */
        size_t frame_bytes;
        struct client clients[PREVIEW_MAX_CLIENTS];
        unsigned n_active;
};

static struct chunk *chunk_new(size_t size) {
        struct chunk *c = malloc(sizeof *c + size);
        if (!c)
                return NULL;
        c->n_ref = 1;
        c->size = size;
        return c;
}

static void chunk_unref(struct preview_sink *s, struct chunk *c) {
        if (!c || --c->n_ref > 0)
                return;
        if (!s->spare && c != s->header && c->size == s->frame_bytes)
                s->spare = c;
        else
                free(c);
}

static void wake(struct preview_sink *s) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: the thread wakes anyway. */
        (void) !write(s->wake_fd, &one, sizeof one);
}

static void client_drop(struct preview_sink *s, unsigned i) {
        struct client *c = &s->clients[i];
        safe_close(c->fd);
        chunk_unref(s, c->inflight);
        s->clients[i] = s->clients[--s->n_active];
        atomic_fetch_sub(&s->n_clients, 1);
}

/* Sends what the socket takes. false: the client is gone (or broken) and must go. */
static bool client_flush(struct preview_sink *s, struct client *c) {
        while (c->inflight) {
                ssize_t n = send(c->fd, c->inflight->data + c->offset, c->inflight->size - c->offset,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return true;
                        log_debug_errno(negative_errno(), "Preview client left: %m");
                        return false;
                }
                c->offset += (size_t) n;
                if (c->offset == c->inflight->size) {
                        chunk_unref(s, c->inflight);
                        c->inflight = NULL;
                        c->offset = 0;
                }
        }
        return true;
}

static struct chunk *serialize(struct preview_sink *s, struct frame *f) {
        struct chunk *c = TAKE_PTR(s->spare);
        if (!c) {
                c = chunk_new(s->frame_bytes);
                if (!c)
                        return NULL;
        }
        c->n_ref = 1;
        int r = y4m_serialize_frame(f->fourcc, f->data, f->size, f->width, f->height, f->stride,
                                    c->data, c->size);
        if (r < 0) {
                log_debug_errno(r, "Cannot serialize a preview frame: %m");
                free(c);
                return NULL;
        }
        return c;
}

/* Sink thread: an MJPEG stream learns its layout from its first decoded frame and sends the
 * header to the clients that came before it. false when f cannot be sent. */
static bool ensure_header(struct preview_sink *s, struct frame *f) {
        char text[Y4M_HEADER_MAX];

        if (s->header)
                return f->fourcc == s->layout;
        int n = y4m_stream_header(f->fourcc, s->width, s->height, s->fps_num, s->fps_den, text, sizeof text);
        if (n < 0)
                return false;
        s->header = chunk_new((size_t) n);
        if (!s->header)
                return false;
        memcpy(s->header->data, text, (size_t) n);
        s->layout = f->fourcc;
        s->frame_bytes = y4m_frame_size(f->fourcc, s->width, s->height);
        for (unsigned i = 0; i < s->n_active;) {
                struct client *c = &s->clients[i];
                c->awaiting_header = false;
                c->inflight = s->header;
                s->header->n_ref++;
                if (client_flush(s, c))
                        i++;
                else
                        client_drop(s, i);
        }
        return true;
}

static void distribute(struct preview_sink *s, struct frame *f) {
        bool anyone_idle = false;
        if (!ensure_header(s, f))
                return;
        for (unsigned i = 0; i < s->n_active; i++)
                anyone_idle = anyone_idle || !s->clients[i].inflight;
        if (!anyone_idle) { /* do not serialize a frame nobody can take */
                atomic_fetch_add(&s->dropped, s->n_active);
                return;
        }
        struct chunk *c = serialize(s, f);
        if (!c)
                return;
        for (unsigned i = 0; i < s->n_active;) {
                struct client *cl = &s->clients[i];
                if (cl->inflight) { /* still sending an earlier frame (or the header) */
                        atomic_fetch_add(&s->dropped, 1);
                        i++;
                        continue;
                }
                c->n_ref++;
                cl->inflight = c;
                cl->offset = 0;
                if (client_flush(s, cl))
                        i++;
                else
                        client_drop(s, i);
        }
        chunk_unref(s, c);
}

static void adopt_clients(struct preview_sink *s, const int *fds, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                struct client *c = &s->clients[s->n_active++];
                *c = (struct client) { .fd = fds[i], .inflight = s->header, .awaiting_header = !s->header };
                if (!s->header)
                        continue; /* sent with the first frame */
                s->header->n_ref++;
                if (!client_flush(s, c))
                        client_drop(s, s->n_active - 1);
        }
}

static void *sink_thread(void *userdata) {
        struct preview_sink *s = userdata;
        struct pollfd p[1 + PREVIEW_MAX_CLIENTS];

        for (;;) {
                p[0] = (struct pollfd) { .fd = s->wake_fd, .events = POLLIN };
                for (unsigned i = 0; i < s->n_active; i++)
                        p[1 + i] = (struct pollfd) {
                                .fd = s->clients[i].fd,
                                .events = s->clients[i].inflight ? POLLOUT : 0, /* hangups anyway */
                        };
                unsigned n_polled = s->n_active;
                if (poll(p, 1 + n_polled, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(negative_errno(), "Preview sink poll failed: %m");
                        break;
                }

                /* Clients first, walking backwards so drops do not shift unvisited slots. */
                for (unsigned i = n_polled; i-- > 0;) {
                        short re = p[1 + i].revents;
                        if (!re)
                                continue;
                        if ((re & (POLLERR | POLLHUP | POLLNVAL)) || !client_flush(s, &s->clients[i]))
                                client_drop(s, i);
                }

                if (p[0].revents) {
                        uint64_t value;
                        int fds[PREVIEW_MAX_CLIENTS];
                        (void) !read(s->wake_fd, &value, sizeof value);

                        pthread_mutex_lock(&s->lock);
                        bool stop = s->stop;
                        struct frame *f = TAKE_PTR(s->pending);
                        unsigned n_new = s->n_new;
                        memcpy(fds, s->new_fds, n_new * sizeof *fds);
                        s->n_new = 0;
                        pthread_mutex_unlock(&s->lock);

                        adopt_clients(s, fds, n_new);
                        if (f && !stop)
                                distribute(s, f);
                        frame_unref(f);
                        if (stop)
                                break;
                }
        }
        return NULL;
}

int preview_sink_new(uint32_t fourcc, unsigned width, unsigned height, double fps,
                     struct preview_sink **ret) {
        char header[Y4M_HEADER_MAX];
        unsigned fps_num, fps_den;

        if (!(fps > 0 && fps <= 1000))
                return -EINVAL;
        /* Whole rates stay exact (30/1); others to a thousandth (29.97 → 29970/1000). */
        if (fabs(fps - round(fps)) < 1e-6) {
                fps_num = (unsigned) lround(fps);
                fps_den = 1;
        } else {
                fps_num = (unsigned) lround(fps * 1000);
                fps_den = 1000;
        }
        /* MJPEG: the header waits for the first frame; 4:2:2 is the larger layout. */
        bool mjpeg = fourcc == V4L2_PIX_FMT_MJPEG;
        uint32_t layout = mjpeg ? V4L2_PIX_FMT_YUV422P : fourcc;
        int n = y4m_stream_header(layout, width, height, fps_num, fps_den, header, sizeof header);
        if (n < 0)
                return n;

        struct preview_sink *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->fourcc = fourcc;
        s->width = width;
        s->height = height;
        s->fps_num = fps_num;
        s->fps_den = fps_den;
        frame_decimator_init(&s->decimator, (double) fps_num / fps_den);
        s->sndbuf_bytes = y4m_frame_size(layout, width, height);
        s->layout = mjpeg ? 0 : fourcc;
        s->frame_bytes = mjpeg ? 0 : s->sndbuf_bytes;
        pthread_mutex_init(&s->lock, NULL);
        atomic_init(&s->n_clients, 0);
        atomic_init(&s->dropped, 0);
        s->header = mjpeg ? NULL : chunk_new((size_t) n);
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if ((!mjpeg && !s->header) || s->wake_fd < 0) {
                int r = s->wake_fd < 0 ? negative_errno() : -ENOMEM;
                safe_close(s->wake_fd);
                free(s->header);
                pthread_mutex_destroy(&s->lock);
                free(s);
                return r;
        }
        if (s->header)
                memcpy(s->header->data, header, (size_t) n);

        int r = -pthread_create(&s->thread, NULL, sink_thread, s);
        if (r < 0) {
                safe_close(s->wake_fd);
                free(s->header);
                pthread_mutex_destroy(&s->lock);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct preview_sink *preview_sink_free(struct preview_sink *s) {
        if (!s)
                return NULL;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_mutex_unlock(&s->lock);
        wake(s);
        pthread_join(s->thread, NULL);

        while (s->n_active > 0)
                client_drop(s, s->n_active - 1);
        for (unsigned i = 0; i < s->n_new; i++)
                safe_close(s->new_fds[i]);
        frame_unref(s->pending);
        free(s->spare);
        free(s->header);
        safe_close(s->wake_fd);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

int preview_sink_open_stream(struct preview_sink *s) {
        int pair[2];

        if (atomic_load(&s->n_clients) >= PREVIEW_MAX_CLIENTS)
                return -EMFILE;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();

        /* Room for about two frames so a reader that keeps up never loses one. Above
         * wmem_max only with CAP_NET_ADMIN (SO_SNDBUFFORCE); otherwise the kernel caps it. */
        int size = (int) MIN(s->sndbuf_bytes * 2, (size_t) 64 << 20);
        if (setsockopt(pair[1], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
                (void) setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);

        pthread_mutex_lock(&s->lock);
        if (s->n_new + atomic_load(&s->n_clients) >= PREVIEW_MAX_CLIENTS) {
                pthread_mutex_unlock(&s->lock);
                safe_close(pair[0]);
                safe_close(pair[1]);
                return -EMFILE;
        }
        s->new_fds[s->n_new++] = pair[1];
        atomic_fetch_add(&s->n_clients, 1);
        pthread_mutex_unlock(&s->lock);
        wake(s);
        return pair[0];
}

void preview_sink_push(struct preview_sink *s, struct frame *f) {
        bool fits = s->fourcc == V4L2_PIX_FMT_MJPEG ? f->compressed != NULL : f->fourcc == s->fourcc;
        if (!fits || f->width != s->width || f->height != s->height)
                return;
        if (atomic_load_explicit(&s->n_clients, memory_order_relaxed) == 0)
                return;

        if (!frame_decimator_take(&s->decimator, f->timestamp_us))
                return;

        frame_ref(f);
        pthread_mutex_lock(&s->lock);
        struct frame *replaced = s->pending;
        s->pending = f;
        pthread_mutex_unlock(&s->lock);
        if (replaced) {
                /* The sink thread did not even get to the previous frame: every client missed it. */
                atomic_fetch_add(&s->dropped, atomic_load(&s->n_clients));
                frame_unref(replaced);
        }
        wake(s);
}

uint64_t preview_sink_dropped_frames(const struct preview_sink *s) {
        return atomic_load(&s->dropped);
}

unsigned preview_sink_n_clients(const struct preview_sink *s) {
        return atomic_load(&s->n_clients);
}
