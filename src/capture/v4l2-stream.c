/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>

#include "capture/v4l2-device.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Streaming: mmap buffers, a capture thread that dequeues, copies into a pooled frame,
 * requeues at once and delivers. Fatal errors release the device from the thread itself so
 * an unplugged device can go away before the session notices. */

static int xioctl(const struct v4l2_ops *ops, int fd, unsigned long request, void *arg) {
        int r;
        do
                r = ops->ioctl(fd, request, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? negative_errno() : r;
}

/* Idempotent: the thread calls it on a fatal error, stop() after the join. */
static void release_device(struct v4l2_camera *c) {
        if (c->fd < 0)
                return;
        if (c->streaming) {
                int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
                (void) xioctl(c->ops, c->fd, VIDIOC_STREAMOFF, &type);
                c->streaming = false;
        }
        for (unsigned i = 0; i < c->n_buffers; i++)
                if (c->buffers[i].start)
                        c->ops->munmap(c->buffers[i].start, c->buffers[i].length);
        c->n_buffers = 0;
        c->ops->close(c->fd);
        c->fd = -1;
}

static uint64_t buffer_timestamp_us(const struct v4l2_buffer *b) {
        if ((b->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC &&
            (b->timestamp.tv_sec || b->timestamp.tv_usec))
                return (uint64_t) b->timestamp.tv_sec * 1000000u + (uint64_t) b->timestamp.tv_usec;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static bool is_packed_422(uint32_t fourcc) {
        return fourcc == V4L2_PIX_FMT_YUYV || fourcc == V4L2_PIX_FMT_UYVY;
}

/* Bytes a buffer must hold for the frame's last row to be complete (raw layouts). */
static size_t needed_bytes(const struct v4l2_camera *c) {
        size_t bpl = c->bytesperline, w = c->fmt.width, h = c->fmt.height;
        if (is_packed_422(c->fmt.fourcc))
                return bpl * (h - 1) + w * 2;
        if (c->fmt.fourcc == V4L2_PIX_FMT_YUV420) /* Cb and Cr: h/2 rows each of bpl/2 */
                return bpl * h + bpl / 2 * (h - 1) + w / 2;
        return bpl * h + bpl * (h / 2 - 1) + w;
}

/* Copies rows of row bytes from src (pitch bpl) to dst (tightly packed). */
static uint8_t *copy_rows(uint8_t *dst, const uint8_t *src, size_t bpl, size_t row, size_t rows) {
        if (bpl == row)
                memcpy(dst, src, row * rows);
        else
                for (size_t y = 0; y < rows; y++)
                        memcpy(dst + y * row, src + y * bpl, row);
        return dst + row * rows;
}

/* Copies a driver buffer into f, dropping any row padding so frames are tightly packed. */
static void copy_buffer(const struct v4l2_camera *c, const uint8_t *src, struct frame *f) {
        size_t bpl = c->bytesperline, w = c->fmt.width, h = c->fmt.height;

        if (is_packed_422(c->fmt.fourcc))
                copy_rows(f->data, src, bpl, w * 2, h);
        else if (c->fmt.fourcc == V4L2_PIX_FMT_YUV420) {
                uint8_t *p = copy_rows(f->data, src, bpl, w, h);
                p = copy_rows(p, src + bpl * h, bpl / 2, w / 2, h / 2);
                copy_rows(p, src + bpl * h + bpl / 2 * (h / 2), bpl / 2, w / 2, h / 2);
        } else
                copy_rows(f->data, src, bpl, w, h + h / 2);
}

/* A frame of the driver buffer, or NULL when the buffer is not usable (counted as skipped). */
static struct frame *take_buffer(struct v4l2_camera *c, const struct v4l2_buffer *b) {
        const struct v4l2_mapping *m = &c->buffers[b->index];
        struct frame *f;

        if (c->fmt.fourcc == V4L2_PIX_FMT_MJPEG) {
                /* Compressed: bytesused varies per frame and must be there. */
                size_t capacity = frame_size_for(V4L2_PIX_FMT_MJPEG, c->fmt.width, c->fmt.height);
                if (b->bytesused == 0 || b->bytesused > m->length || b->bytesused > capacity)
                        return NULL;
                f = frame_pool_get(c->pool);
                if (f) {
                        memcpy(f->data, m->start, b->bytesused);
                        f->size = b->bytesused;
                }
                return f;
        }
        size_t used = b->bytesused ?: m->length;
        if (used < needed_bytes(c) || m->length < needed_bytes(c))
                return NULL;
        f = frame_pool_get(c->pool);
        if (f)
                copy_buffer(c, m->start, f);
        return f;
}

enum step_result { STEP_AGAIN, STEP_STOP, STEP_FATAL };

static enum step_result dequeue_one(struct camera_device *d, uint64_t *sequence, int *error,
                                    const char **message) {
        struct v4l2_camera *c = d->data;
        struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP };
        int r = xioctl(c->ops, c->fd, VIDIOC_DQBUF, &b);
        if (r == -EAGAIN)
                return STEP_AGAIN;
        if (r < 0) {
                *error = r;
                *message = "dequeueing a buffer failed";
                return STEP_FATAL;
        }
        if (b.index >= c->n_buffers) {
                *error = -EIO;
                *message = "the driver returned an unknown buffer";
                return STEP_FATAL;
        }

        struct frame *f = NULL;
        if (!(b.flags & V4L2_BUF_FLAG_ERROR))
                f = take_buffer(c, &b);
        if (f) {
                f->timestamp_us = buffer_timestamp_us(&b);
                f->sequence = (*sequence)++;
        } else
                log_debug("%s: skipping a %s buffer (%u bytes used)", c->devnode,
                          b.flags & V4L2_BUF_FLAG_ERROR ? "corrupt" : "short", b.bytesused);

        /* Back to the driver before delivering: the copy is ours now. */
        r = xioctl(c->ops, c->fd, VIDIOC_QBUF, &b);
        if (f) {
                camera_device_deliver(d, f);
                frame_unref(f);
        }
        if (r < 0) {
                *error = r;
                *message = "requeueing a buffer failed";
                return STEP_FATAL;
        }
        return STEP_AGAIN;
}

static void *capture_thread(void *userdata) {
        struct camera_device *d = userdata;
        struct v4l2_camera *c = d->data;
        uint64_t sequence = 0;
        int error = 0;
        const char *message = NULL;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = c->fd, .events = POLLIN },
                        { .fd = c->wake_fd, .events = POLLIN },
                };
                int n = c->ops->poll(p, 2, V4L2_POLL_TIMEOUT_MS);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        error = negative_errno();
                        message = "poll failed";
                        break;
                }
                if (p[1].revents)
                        return NULL; /* stop() asked; it releases the device */
                if (n == 0)
                        continue; /* no frame for a while (a dropping driver); keep waiting */
                if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                        error = -ENODEV;
                        message = "the device hung up (unplugged?)";
                        break;
                }
                if (!(p[0].revents & POLLIN))
                        continue;
                if (dequeue_one(d, &sequence, &error, &message) == STEP_FATAL)
                        break;
        }

        /* Release the device first so an unplugged node can vanish, then tell the session. */
        release_device(c);
        camera_device_report_error(d, error, message);
        return NULL;
}

static int set_format(struct v4l2_camera *c, const struct capture_format *fmt) {
        struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
        f.fmt.pix.width = fmt->width;
        f.fmt.pix.height = fmt->height;
        f.fmt.pix.pixelformat = fmt->fourcc;
        f.fmt.pix.field = V4L2_FIELD_NONE;

        int r = xioctl(c->ops, c->fd, VIDIOC_S_FMT, &f);
        if (r < 0)
                return log_debug_errno(r, "%s: S_FMT failed: %m", c->devnode);
        if (f.fmt.pix.pixelformat != fmt->fourcc || f.fmt.pix.width != fmt->width ||
            f.fmt.pix.height != fmt->height)
                return log_debug_errno(-EINVAL, "%s: the driver changed the format to %ux%u", c->devnode,
                                       f.fmt.pix.width, f.fmt.pix.height);

        unsigned packed = is_packed_422(fmt->fourcc) ? fmt->width * 2 : fmt->width;
        c->bytesperline = fmt->fourcc == V4L2_PIX_FMT_MJPEG ? 0 : MAX(f.fmt.pix.bytesperline, packed);

        /* A device without S_PARM streams at its own rate; not fatal. */
        struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
        parm.parm.capture.timeperframe.numerator = 1000;
        parm.parm.capture.timeperframe.denominator = (uint32_t) lround(fmt->max_fps * 1000);
        r = xioctl(c->ops, c->fd, VIDIOC_S_PARM, &parm);
        if (r < 0)
                log_debug_errno(r, "%s: S_PARM failed, keeping the driver's frame rate: %m", c->devnode);
        return 0;
}

static int map_buffers(struct v4l2_camera *c) {
        struct v4l2_requestbuffers req = {
                .count = V4L2_WANT_BUFFERS,
                .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                .memory = V4L2_MEMORY_MMAP,
        };
        int r = xioctl(c->ops, c->fd, VIDIOC_REQBUFS, &req);
        if (r < 0)
                return log_debug_errno(r, "%s: REQBUFS failed: %m", c->devnode);
        if (req.count < V4L2_MIN_BUFFERS || req.count > V4L2_MAX_BUFFERS) {
                log_debug("%s: the driver gave %u buffers", c->devnode, req.count);
                struct v4l2_requestbuffers none = { .type = req.type, .memory = req.memory };
                (void) xioctl(c->ops, c->fd, VIDIOC_REQBUFS, &none);
                return -ENOBUFS;
        }

        for (unsigned i = 0; i < req.count; i++) {
                struct v4l2_buffer b = { .index = i, .type = req.type, .memory = req.memory };
                r = xioctl(c->ops, c->fd, VIDIOC_QUERYBUF, &b);
                if (r < 0)
                        return r;
                void *p = c->ops->mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, b.m.offset);
                if (p == MAP_FAILED)
                        return negative_errno();
                c->buffers[i] = (struct v4l2_mapping) { p, b.length };
                c->n_buffers = i + 1;
        }
        for (unsigned i = 0; i < c->n_buffers; i++) {
                struct v4l2_buffer b = { .index = i, .type = req.type, .memory = req.memory };
                r = xioctl(c->ops, c->fd, VIDIOC_QBUF, &b);
                if (r < 0)
                        return r;
        }
        return 0;
}

int v4l2_stream_start(struct camera_device *d, const struct capture_format *fmt) {
        struct v4l2_camera *c = d->data;
        int r;

        c->fmt = *fmt;
        /* A format the device gives itself bypasses libv4l2: its bytes reach us unchanged. */
        c->native = true;
        for (unsigned i = 0; i < c->n_emulated; i++)
                c->native = c->native && c->emulated[i] != fmt->fourcc;
        c->fd = c->native && c->ops->open_native ? c->ops->open_native(c->devnode) : c->ops->open(c->devnode);
        if (c->fd < 0)
                return log_debug_errno(negative_errno(), "%s: open failed: %m", c->devnode);

        r = set_format(c, fmt);
        if (r < 0)
                goto fail;
        r = map_buffers(c);
        if (r < 0)
                goto fail;
        r = frame_pool_new(fmt->fourcc, fmt->width, fmt->height, 24, &c->pool);
        if (r < 0)
                goto fail;
        c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->wake_fd < 0) {
                r = negative_errno();
                goto fail;
        }

        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        r = xioctl(c->ops, c->fd, VIDIOC_STREAMON, &type);
        if (r < 0) {
                log_debug_errno(r, "%s: STREAMON failed: %m", c->devnode);
                goto fail;
        }
        c->streaming = true;

        r = -pthread_create(&c->thread, NULL, capture_thread, d);
        if (r < 0)
                goto fail;
        return 0;

fail:
        release_device(c);
        c->wake_fd = safe_close(c->wake_fd);
        frame_pool_free(TAKE_PTR(c->pool));
        return r;
}

void v4l2_stream_stop(struct camera_device *d) {
        struct v4l2_camera *c = d->data;
        uint64_t one = 1;

        if (write(c->wake_fd, &one, sizeof one) < 0)
                log_warning_errno(negative_errno(), "Waking the capture thread failed: %m");
        pthread_join(c->thread, NULL);
        release_device(c);
        c->wake_fd = safe_close(c->wake_fd);
        frame_pool_free(TAKE_PTR(c->pool));
}
