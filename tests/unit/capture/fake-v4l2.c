/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "fake-v4l2.h"
#include "shared/macro.h"
#include "test-util.h"

struct fake fake;

void fake_reset(void) {
        pthread_mutex_destroy(&fake.lock);
        memset(&fake, 0, sizeof fake);
        pthread_mutex_init(&fake.lock, NULL);
        fake.caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
        fake.yuyv = true;
        fake.nv12_emulated = true;
        fake.reqbufs_count = 4;
        fake.mjpeg = true;
        fake_controls_reset();
}

void fake_set_jpegs(const uint8_t *const *jpegs, const size_t *sizes, unsigned n) {
        check(n <= ELEMENTSOF(fake.jpegs));
        pthread_mutex_lock(&fake.lock);
        for (unsigned i = 0; i < n; i++) {
                fake.jpegs[i] = jpegs[i];
                fake.jpeg_sizes[i] = sizes[i];
        }
        fake.n_jpegs = n;
        fake.next_jpeg = 0;
        pthread_mutex_unlock(&fake.lock);
}

void fake_script(const enum action *a, unsigned n) {
        pthread_mutex_lock(&fake.lock);
        memcpy(fake.script, a, n * sizeof *a);
        fake.n_script = n;
        fake.next = 0;
        pthread_mutex_unlock(&fake.lock);
}

static int open_as(const char *path, int *counter) {
        if (!streq(path, "/dev/fake0")) {
                errno = ENOENT;
                return -1;
        }
        pthread_mutex_lock(&fake.lock);
        fake.open_count++;
        (*counter)++;
        pthread_mutex_unlock(&fake.lock);
        return FAKE_FD;
}

static int fake_open(const char *path) {
        return open_as(path, &fake.converted_opens);
}

static int fake_open_native(const char *path) {
        return open_as(path, &fake.native_opens);
}

/* One control node at a time, apart from the streaming one. */
static int fake_open_controls(const char *path) {
        if (!streq(path, "/dev/fake0")) {
                errno = ENOENT;
                return -1;
        }
        pthread_mutex_lock(&fake.lock);
        check(!fake.ctrl_fd_open);
        fake.ctrl_fd_open = true;
        fake.control_opens++;
        pthread_mutex_unlock(&fake.lock);
        return FAKE_CTRL_FD;
}

static int fake_close(int fd) {
        check(fd == FAKE_FD || fd == FAKE_CTRL_FD);
        pthread_mutex_lock(&fake.lock);
        if (fd == FAKE_CTRL_FD) {
                check(fake.ctrl_fd_open);
                fake.ctrl_fd_open = false;
                fake_controls_closed();
                pthread_mutex_unlock(&fake.lock);
                return 0;
        }
        fake.open_count--;
        fake.streaming = false;
        pthread_mutex_unlock(&fake.lock);
        return 0;
}

static int fail(int e) {
        errno = e;
        return -1;
}

static bool packed(uint32_t fourcc) {
        return fourcc == V4L2_PIX_FMT_YUYV || fourcc == V4L2_PIX_FMT_UYVY;
}

unsigned fake_bpl(uint32_t fourcc) {
        if (fourcc == V4L2_PIX_FMT_MJPEG)
                return 0;
        return (packed(fourcc) ? FAKE_W * 2 : FAKE_W) + FAKE_PAD;
}

static size_t raw_buffer_size(uint32_t fourcc) {
        size_t bpl = fake_bpl(fourcc);
        if (fourcc == V4L2_PIX_FMT_MJPEG)
                return (size_t) FAKE_W * FAKE_H * 2; /* as UVC sizes MJPEG buffers */
        return packed(fourcc) ? bpl * FAKE_H : bpl * FAKE_H * 3 / 2;
}

static int fake_enum_fmt(struct v4l2_fmtdesc *d) {
        uint32_t list[8], flags[8];
        unsigned n = 0;
        if (fake.yuyv) {
                list[n] = V4L2_PIX_FMT_YUYV;
                flags[n++] = 0;
        }
        if (fake.mjpeg) {
                list[n] = V4L2_PIX_FMT_MJPEG;
                flags[n++] = V4L2_FMT_FLAG_COMPRESSED;
        }
        if (fake.nv12_native || fake.nv12_emulated) {
                list[n] = V4L2_PIX_FMT_NV12;
                flags[n++] = fake.nv12_native ? 0 : V4L2_FMT_FLAG_EMULATED;
        }
        if (fake.yu12_native || fake.yu12_emulated) {
                list[n] = V4L2_PIX_FMT_YUV420;
                flags[n++] = fake.yu12_native ? 0 : V4L2_FMT_FLAG_EMULATED;
        }
        if (fake.uyvy_native) {
                list[n] = V4L2_PIX_FMT_UYVY;
                flags[n++] = 0;
        }
        /* A Bayer format and RGB: not taken, skipped. */
        list[n] = V4L2_PIX_FMT_SGRBG8;
        flags[n++] = 0;
        if (d->index >= n)
                return fail(EINVAL);
        d->pixelformat = list[d->index];
        d->flags = flags[d->index];
        return 0;
}

static int fake_enum_sizes(struct v4l2_frmsizeenum *s) {
        if (s->pixel_format == V4L2_PIX_FMT_MJPEG || s->pixel_format == V4L2_PIX_FMT_UYVY) {
                /* 640x480 and 1920x1080 (at 30 and, for MJPG, 1080p too: UVC style) */
                static const unsigned sizes[][2] = { { 640, 480 }, { 1920, 1080 } };
                if (s->index >= ELEMENTSOF(sizes))
                        return fail(EINVAL);
                s->type = V4L2_FRMSIZE_TYPE_DISCRETE;
                s->discrete.width = sizes[s->index][0];
                s->discrete.height = sizes[s->index][1];
                return 0;
        }
        if (s->pixel_format == V4L2_PIX_FMT_YUYV) {
                /* discrete: two usable sizes and an odd one the engine must skip */
                static const unsigned sizes[][2] = { { 640, 480 }, { 1280, 720 }, { 641, 481 } };
                if (s->index >= ELEMENTSOF(sizes))
                        return fail(EINVAL);
                s->type = V4L2_FRMSIZE_TYPE_DISCRETE;
                s->discrete.width = sizes[s->index][0];
                s->discrete.height = sizes[s->index][1];
                return 0;
        }
        if ((s->pixel_format == V4L2_PIX_FMT_NV12 || s->pixel_format == V4L2_PIX_FMT_YUV420) &&
            s->index == 0) {
                s->type = V4L2_FRMSIZE_TYPE_STEPWISE;
                s->stepwise = (struct v4l2_frmsize_stepwise) { 16, 1280, 16, 16, 720, 8 };
                return 0;
        }
        return fail(EINVAL);
}

static int fake_enum_intervals(struct v4l2_frmivalenum *f) {
        if (f->pixel_format == V4L2_PIX_FMT_MJPEG || f->pixel_format == V4L2_PIX_FMT_UYVY) {
                /* discrete 1/30, 1/15, 1/5 (MJPG); UYVY at 1080p only 1/5 */
                bool slow = f->pixel_format == V4L2_PIX_FMT_UYVY && f->width == 1920;
                static const unsigned rates[] = { 30, 15, 5 };
                if (f->index >= (slow ? 1u : 3u))
                        return fail(EINVAL);
                f->type = V4L2_FRMIVAL_TYPE_DISCRETE;
                f->discrete = (struct v4l2_fract) { 1, slow ? 5 : rates[f->index] };
                return 0;
        }
        if (f->pixel_format == V4L2_PIX_FMT_YUYV) {
                /* 640x480: 1/15 and 1/30; 1280x720: 1/10 only */
                unsigned n = f->width == 640 ? 2 : 1;
                if (f->index >= n)
                        return fail(EINVAL);
                f->type = V4L2_FRMIVAL_TYPE_DISCRETE;
                f->discrete = (struct v4l2_fract) { 1, f->width == 640 ? (f->index ? 30 : 15) : 10 };
                return 0;
        }
        if (f->index == 0) {
                f->type = V4L2_FRMIVAL_TYPE_STEPWISE;
                f->stepwise.min = (struct v4l2_fract) { 1, 60 };
                f->stepwise.max = (struct v4l2_fract) { 1, 1 };
                f->stepwise.step = (struct v4l2_fract) { 1, 60 };
                return 0;
        }
        return fail(EINVAL);
}

/* An MJPG buffer: the next JPEG, damaged as the current action says. */
static void fill_jpeg(uint8_t *p, struct v4l2_buffer *b) {
        check(fake.n_jpegs > 0);
        const uint8_t *jpeg = fake.jpegs[fake.next_jpeg];
        size_t n = fake.jpeg_sizes[fake.next_jpeg];
        fake.next_jpeg = (fake.next_jpeg + 1) % fake.n_jpegs;
        check(n + 256 <= fake.buf_len);
        memcpy(p, jpeg, n);
        switch (fake.current) {
        case ACT_MJPEG_TRUNCATED:
                n /= 2;
                break;
        case ACT_MJPEG_CORRUPT:
                /* A restart marker where none belongs, in the middle of the entropy data. */
                p[n / 2] = 0xFF;
                p[n / 2 + 1] = 0xD5;
                break;
        case ACT_MJPEG_PADDED:
                memset(p + n, 0, 256);
                n += 256;
                break;
        case ACT_MJPEG_EMPTY:
                n = 0;
                break;
        case ACT_MJPEG_OVERLONG:
                n = fake.buf_len + 4096;
                break;
        default:
                break;
        }
        b->bytesused = (uint32_t) n;
}

static int fake_dqbuf(struct v4l2_buffer *b) {
        if (fake.dqbuf_eintr_pending) {
                fake.dqbuf_eintr_pending = false;
                return fail(EINTR);
        }
        switch (fake.current) {
        case ACT_DQBUF_EAGAIN:
                return fail(EAGAIN);
        case ACT_DQBUF_ENODEV:
                return fail(ENODEV);
        default:
                break;
        }
        if (fake.n_queued == 0)
                return fail(EAGAIN);
        int idx = fake.queue[0];
        memmove(fake.queue, fake.queue + 1, --fake.n_queued * sizeof fake.queue[0]);
        b->index = (unsigned) idx;
        b->flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
        if (fake.current == ACT_ERROR_BUFFER)
                b->flags |= V4L2_BUF_FLAG_ERROR;
        b->bytesused = (uint32_t) fake.buf_len;
        b->timestamp.tv_sec = 100 + fake.frames_made;
        uint8_t *p = fake.maps[idx];
        if (fake.fmt_fourcc == V4L2_PIX_FMT_MJPEG)
                fill_jpeg(p, b);
        else if (fake.fmt_fourcc == V4L2_PIX_FMT_YUV420) {
                /* Rows in sequence: FAKE_H luma rows of bpl, then FAKE_H chroma rows (Cb, then
                 * Cr) of bpl / 2; row k holds (frame + k) & 0xff, padding 0xEE. */
                unsigned bpl = fake_bpl(fake.fmt_fourcc);
                for (unsigned y = 0; y < 2 * FAKE_H; y++) {
                        bool luma = y < FAKE_H;
                        size_t pitch = luma ? bpl : bpl / 2, pad = luma ? FAKE_PAD : FAKE_PAD / 2;
                        uint8_t *row = p + (luma ? (size_t) y * bpl : (size_t) FAKE_H * bpl + (y - FAKE_H) * pitch);
                        memset(row, (fake.frames_made + y) & 0xff, pitch - pad);
                        memset(row + pitch - pad, 0xEE, pad);
                }
        } else {
                /* Row y of every plane holds (frame number + y) & 0xff; padding holds 0xEE. */
                unsigned bpl = fake_bpl(fake.fmt_fourcc);
                unsigned rows = packed(fake.fmt_fourcc) ? FAKE_H : FAKE_H * 3 / 2;
                for (unsigned y = 0; y < rows; y++) {
                        memset(p + (size_t) y * bpl, (fake.frames_made + y) & 0xff, bpl - FAKE_PAD);
                        memset(p + (size_t) y * bpl + bpl - FAKE_PAD, 0xEE, FAKE_PAD);
                }
        }
        fake.frames_made++;
        return 0;
}

static int fake_ioctl_locked(unsigned long request, void *arg) {
        switch (request) {
        case VIDIOC_QUERYCAP: {
                struct v4l2_capability *c = arg;
                memset(c, 0, sizeof *c);
                strcpy((char *) c->driver, "fakecam");
                strcpy((char *) c->card, "Fake Camera");
                strcpy((char *) c->bus_info, "platform:fake-000");
                c->capabilities = fake.caps | V4L2_CAP_DEVICE_CAPS;
                c->device_caps = fake.caps;
                return 0;
        }
        case VIDIOC_ENUM_FMT:
                return fake_enum_fmt(arg);
        case VIDIOC_ENUM_FRAMESIZES:
                return fake_enum_sizes(arg);
        case VIDIOC_ENUM_FRAMEINTERVALS:
                return fake_enum_intervals(arg);
        case VIDIOC_S_FMT: {
                struct v4l2_format *f = arg;
                fake.fmt_fourcc = f->fmt.pix.pixelformat;
                f->fmt.pix.bytesperline = fake_bpl(fake.fmt_fourcc);
                fake.buf_len = raw_buffer_size(fake.fmt_fourcc);
                f->fmt.pix.sizeimage = (uint32_t) fake.buf_len;
                return 0;
        }
        case VIDIOC_S_PARM:
                return 0;
        case VIDIOC_REQBUFS: {
                struct v4l2_requestbuffers *r = arg;
                if (r->count == 0) {
                        fake.reqbufs_zero_calls++;
                        fake.n_buffers = 0;
                        return 0;
                }
                r->count = fake.reqbufs_count;
                fake.n_buffers = r->count;
                return 0;
        }
        case VIDIOC_QUERYBUF: {
                struct v4l2_buffer *b = arg;
                if (b->index >= fake.n_buffers)
                        return fail(EINVAL);
                b->length = (uint32_t) fake.buf_len;
                b->m.offset = b->index * 0x100000u;
                return 0;
        }
        case VIDIOC_QBUF: {
                struct v4l2_buffer *b = arg;
                check(b->index < fake.n_buffers);
                for (unsigned i = 0; i < fake.n_queued; i++)
                        check(fake.queue[i] != (int) b->index); /* never queued twice */
                fake.queue[fake.n_queued++] = (int) b->index;
                return 0;
        }
        case VIDIOC_DQBUF:
                return fake_dqbuf(arg);
        case VIDIOC_STREAMON:
                if (fake.streamon_error)
                        return fail(fake.streamon_error);
                fake.streaming = true;
                return 0;
        case VIDIOC_STREAMOFF:
                fake.streaming = false;
                fake.n_queued = 0;
                return 0;
        default:
                return fail(ENOTTY);
        }
}

static int fake_ioctl(int fd, unsigned long request, void *arg) {
        check(fd == FAKE_FD || (fd == FAKE_CTRL_FD && fake.ctrl_fd_open));
        pthread_mutex_lock(&fake.lock);
        int r;
        if (!fake_controls_ioctl(fd, request, arg, &r)) {
                check(fd == FAKE_FD); /* the control node only does controls */
                r = fake_ioctl_locked(request, arg);
        }
        int saved = errno;
        pthread_mutex_unlock(&fake.lock);
        errno = saved;
        return r;
}

static void *fake_mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset) {
        check(fd == FAKE_FD && length == fake.buf_len);
        unsigned idx = (unsigned) (offset / 0x100000);
        check(idx < 8);
        void *p = malloc(length);
        check(p);
        pthread_mutex_lock(&fake.lock);
        fake.maps[idx] = p;
        fake.n_mapped++;
        pthread_mutex_unlock(&fake.lock);
        return p;
}

static int fake_munmap(void *addr, size_t length) {
        pthread_mutex_lock(&fake.lock);
        bool found = false;
        for (unsigned i = 0; i < 8; i++)
                if (fake.maps[i] == addr) {
                        fake.maps[i] = NULL;
                        found = true;
                }
        check(found);
        fake.n_mapped--;
        pthread_mutex_unlock(&fake.lock);
        free(addr);
        return 0;
}

/* Waits on the engine's wake fd (the second entry) for a short while, then plays the
 * next scripted action; with the script done it just times out. */
/* The control watcher: POLLPRI while events wait. */
static int fake_poll_controls(struct pollfd *fds) {
        pthread_mutex_lock(&fake.lock);
        fake.ctrl_polls++;
        bool hangup = fake.ctrl_hangup;
        pthread_mutex_unlock(&fake.lock);
        if (hangup) {
                fds[0].revents = POLLERR | POLLHUP | POLLPRI;
                fds[1].revents = 0;
                return 1;
        }
        int r = poll(fds + 1, 1, 2);
        fds[0].revents = 0;
        if (r > 0)
                return 1;
        fds[1].revents = 0;
        pthread_mutex_lock(&fake.lock);
        if (fake_controls_event_pending())
                fds[0].revents = POLLPRI;
        pthread_mutex_unlock(&fake.lock);
        return fds[0].revents ? 1 : 0;
}

static int fake_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
        if (n == 2 && fds[0].fd == FAKE_CTRL_FD)
                return fake_poll_controls(fds);
        check(n == 2 && fds[0].fd == FAKE_FD);
        int r = poll(fds + 1, 1, 2);
        if (r > 0) {
                fds[0].revents = 0;
                return 1;
        }
        fds[1].revents = 0;
        pthread_mutex_lock(&fake.lock);
        if (fake.next >= fake.n_script) {
                pthread_mutex_unlock(&fake.lock);
                poll(fds + 1, 1, 20);
                fds[0].revents = 0;
                return fds[1].revents ? 1 : 0;
        }
        enum action a = fake.script[fake.next++];
        fake.current = a;
        fake.dqbuf_eintr_pending = a == ACT_DQBUF_EINTR;
        pthread_mutex_unlock(&fake.lock);

        switch (a) {
        case ACT_POLL_EINTR:
                return fail(EINTR);
        case ACT_POLLERR:
                fds[0].revents = POLLERR | POLLHUP;
                return 1;
        default:
                fds[0].revents = POLLIN;
                return 1;
        }
}

const struct v4l2_ops fake_ops = {
        .open = fake_open,
        .open_native = fake_open_native,
        .open_controls = fake_open_controls,
        .close = fake_close,
        .ioctl = fake_ioctl,
        .mmap = fake_mmap,
        .munmap = fake_munmap,
        .poll = fake_poll,
};
