/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "capture/camera-device.h"
#include "capture/v4l2-ops.h"
#include "shared/macro.h"
#include "test-util.h"

/* A scripted fake V4L2 device behind the ops table. */

#define FAKE_FD 1000
#define FAKE_W 640
#define FAKE_H 480
#define FAKE_PAD 64 /* row padding, so the engine must repack rows */

enum action {
        ACT_FRAME,        /* poll: POLLIN; DQBUF: a filled buffer */
        ACT_POLL_EINTR,   /* poll fails with EINTR */
        ACT_DQBUF_EINTR,  /* poll: POLLIN; DQBUF: EINTR once, then a buffer */
        ACT_DQBUF_EAGAIN, /* poll: POLLIN; DQBUF: EAGAIN */
        ACT_DQBUF_ENODEV, /* poll: POLLIN; DQBUF: ENODEV */
        ACT_POLLERR,      /* poll: POLLERR|POLLHUP */
        ACT_ERROR_BUFFER, /* poll: POLLIN; DQBUF: a buffer flagged V4L2_BUF_FLAG_ERROR */
};

static struct fake {
        pthread_mutex_t lock;
        /* device description */
        uint32_t caps;
        bool nv12_native, nv12_emulated, yuyv;
        unsigned reqbufs_count;
        int streamon_error;
        /* script */
        enum action script[64];
        unsigned n_script, next;
        bool dqbuf_eintr_pending;
        enum action current;
        /* state */
        int open_count;
        unsigned n_buffers, n_mapped;
        void *maps[8];
        size_t buf_len;
        int queue[8];
        unsigned n_queued;
        bool streaming;
        unsigned frames_made;
        uint32_t fmt_fourcc;
        int reqbufs_zero_calls;
} fake;

static void fake_reset(void) {
        pthread_mutex_destroy(&fake.lock);
        memset(&fake, 0, sizeof fake);
        pthread_mutex_init(&fake.lock, NULL);
        fake.caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
        fake.yuyv = true;
        fake.nv12_emulated = true;
        fake.reqbufs_count = 4;
}

static void fake_script(const enum action *a, unsigned n) {
        pthread_mutex_lock(&fake.lock);
        memcpy(fake.script, a, n * sizeof *a);
        fake.n_script = n;
        fake.next = 0;
        pthread_mutex_unlock(&fake.lock);
}

static int fake_open(const char *path) {
        if (!streq(path, "/dev/fake0")) {
                errno = ENOENT;
                return -1;
        }
        pthread_mutex_lock(&fake.lock);
        fake.open_count++;
        pthread_mutex_unlock(&fake.lock);
        return FAKE_FD;
}

static int fake_close(int fd) {
        check(fd == FAKE_FD);
        pthread_mutex_lock(&fake.lock);
        fake.open_count--;
        fake.streaming = false;
        pthread_mutex_unlock(&fake.lock);
        return 0;
}

static int fail(int e) {
        errno = e;
        return -1;
}

static unsigned fake_bpl(uint32_t fourcc) {
        return (fourcc == V4L2_PIX_FMT_YUYV ? FAKE_W * 2 : FAKE_W) + FAKE_PAD;
}

static int fake_enum_fmt(struct v4l2_fmtdesc *d) {
        uint32_t list[4], flags[4];
        unsigned n = 0;
        if (fake.yuyv) {
                list[n] = V4L2_PIX_FMT_YUYV;
                flags[n++] = 0;
        }
        list[n] = V4L2_PIX_FMT_MJPEG;
        flags[n++] = V4L2_FMT_FLAG_COMPRESSED;
        if (fake.nv12_native || fake.nv12_emulated) {
                list[n] = V4L2_PIX_FMT_NV12;
                flags[n++] = fake.nv12_native ? 0 : V4L2_FMT_FLAG_EMULATED;
        }
        if (d->index >= n)
                return fail(EINVAL);
        d->pixelformat = list[d->index];
        d->flags = flags[d->index];
        return 0;
}

static int fake_enum_sizes(struct v4l2_frmsizeenum *s) {
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
        if (s->pixel_format == V4L2_PIX_FMT_NV12 && s->index == 0) {
                s->type = V4L2_FRMSIZE_TYPE_STEPWISE;
                s->stepwise = (struct v4l2_frmsize_stepwise) { 16, 1280, 16, 16, 720, 8 };
                return 0;
        }
        return fail(EINVAL);
}

static int fake_enum_intervals(struct v4l2_frmivalenum *f) {
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
        /* Row y of every plane holds (frame number + y) & 0xff; padding holds 0xEE. */
        uint8_t *p = fake.maps[idx];
        unsigned bpl = fake_bpl(fake.fmt_fourcc);
        unsigned rows = fake.fmt_fourcc == V4L2_PIX_FMT_YUYV ? FAKE_H : FAKE_H * 3 / 2;
        for (unsigned y = 0; y < rows; y++) {
                memset(p + (size_t) y * bpl, (fake.frames_made + y) & 0xff, bpl - FAKE_PAD);
                memset(p + (size_t) y * bpl + bpl - FAKE_PAD, 0xEE, FAKE_PAD);
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
                fake.buf_len = (size_t) fake_bpl(fake.fmt_fourcc) *
                               (fake.fmt_fourcc == V4L2_PIX_FMT_YUYV ? FAKE_H : FAKE_H * 3 / 2);
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
        check(fd == FAKE_FD);
        pthread_mutex_lock(&fake.lock);
        int r = fake_ioctl_locked(request, arg);
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
static int fake_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
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

static const struct v4l2_ops fake_ops = {
        .open = fake_open,
        .close = fake_close,
        .ioctl = fake_ioctl,
        .mmap = fake_mmap,
        .munmap = fake_munmap,
        .poll = fake_poll,
};

struct sink {
        pthread_mutex_t lock;
        unsigned frames;
        bool content_ok, order_ok;
        uint64_t last_seq;
        atomic_int errors;
        atomic_int last_error;
};

static void sink_init(struct sink *s) {
        memset(s, 0, sizeof *s);
        pthread_mutex_init(&s->lock, NULL);
        s->content_ok = s->order_ok = true;
}

static void on_frame(struct frame *f, void *userdata) {
        struct sink *s = userdata;
        unsigned num = (unsigned) (f->timestamp_us / 1000000 - 100);
        size_t row = f->fourcc == V4L2_PIX_FMT_YUYV ? FAKE_W * 2 : FAKE_W;
        unsigned rows = f->fourcc == V4L2_PIX_FMT_YUYV ? FAKE_H : FAKE_H * 3 / 2;

        pthread_mutex_lock(&s->lock);
        if (f->width != FAKE_W || f->height != FAKE_H || f->size != row * rows)
                s->content_ok = false;
        for (unsigned y = 0; y < rows && s->content_ok; y++) {
                uint8_t want = (num + y) & 0xff;
                if (f->data[y * row] != want || f->data[y * row + row - 1] != want)
                        s->content_ok = false;
        }
        if (s->frames > 0 && f->sequence != s->last_seq + 1)
                s->order_ok = false;
        s->last_seq = f->sequence;
        s->frames++;
        pthread_mutex_unlock(&s->lock);
}

static void on_error(int error, const char *message, void *userdata) {
        struct sink *s = userdata;
        check(message && *message);
        atomic_store(&s->last_error, error);
        atomic_fetch_add(&s->errors, 1);
}

static bool wait_for(bool (*cond)(void *), void *arg, double seconds) {
        double end = test_now() + seconds;
        while (test_now() < end) {
                if (cond(arg))
                        return true;
                test_sleep_ms(5);
        }
        return cond(arg);
}

static bool script_done(void *arg) {
        pthread_mutex_lock(&fake.lock);
        bool done = fake.next >= fake.n_script;
        pthread_mutex_unlock(&fake.lock);
        return done;
}

static bool error_seen(void *arg) {
        return atomic_load(&((struct sink *) arg)->errors) > 0;
}

static const struct capture_format fmt_yuyv = { V4L2_PIX_FMT_YUYV, FAKE_W, FAKE_H, 30 };
static const struct capture_format fmt_nv12 = { V4L2_PIX_FMT_NV12, FAKE_W, FAKE_H, 30 };

static void check_released(void) {
        pthread_mutex_lock(&fake.lock);
        check(fake.open_count == 0);
        check(fake.n_mapped == 0);
        check(!fake.streaming);
        pthread_mutex_unlock(&fake.lock);
}

static void test_probe(void) {
        struct camera_device *d = NULL;

        fake_reset();
        check(camera_device_new_v4l2("/dev/nope", &fake_ops, &d) == -ENOENT);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        check(fake.open_count == 0); /* probing closes again */

        const struct camera_device_info *info = camera_device_get_info(d);
        check(streq(info->id, "v4l2:platform:fake-000"));
        check(streq(info->name, "Fake Camera"));
        check(streq(info->driver, "fakecam"));
        check(streq(info->device_path, "/dev/fake0"));
        for (size_t i = 0; i < info->n_formats; i++)
                fprintf(stderr, "  %.4s %ux%u @ %.1f\n", (const char *) &info->formats[i].fourcc,
                        info->formats[i].width, info->formats[i].height, info->formats[i].max_fps);
        /* YUYV: discrete 640x480@30, 1280x720@10 (641x481 skipped); NV12 (emulated,
         * stepwise 16..1280 x 16..720): 320x240, 640x480, 1280x720 at 60; never MJPEG. */
        check(info->n_formats == 5);
        check(camera_device_supports(d, V4L2_PIX_FMT_YUYV, 640, 480, 30));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 640, 480, 31));
        check(camera_device_supports(d, V4L2_PIX_FMT_YUYV, 1280, 720, 10));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 1280, 720, 15));
        check(!camera_device_supports(d, V4L2_PIX_FMT_YUYV, 641, 481, 0));
        check(camera_device_supports(d, V4L2_PIX_FMT_NV12, 320, 240, 60));
        check(camera_device_supports(d, V4L2_PIX_FMT_NV12, 1280, 720, 60));
        check(!camera_device_supports(d, V4L2_PIX_FMT_NV12, 1920, 1080, 0));
        check(!camera_device_supports(d, V4L2_PIX_FMT_MJPEG, 640, 480, 0));
        camera_device_free(d);

        /* Not a streaming capture device. */
        fake_reset();
        fake.caps = V4L2_CAP_VIDEO_CAPTURE;
        check(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d) == -ENOTSUP);
        fake.caps = V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_STREAMING;
        check(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d) == -ENOTSUP);
        /* Only MJPEG: nothing we can deliver. */
        fake_reset();
        fake.yuyv = false;
        fake.nv12_emulated = false;
        check(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d) == -ENOTSUP);
        check(fake.open_count == 0);
}

/* Frames flow through poll EINTR, DQBUF EINTR/EAGAIN and corrupt buffers. */
static void test_stream(const struct capture_format *fmt) {
        struct camera_device *d = NULL;
        struct sink s;
        static const enum action script[] = {
                ACT_FRAME,        ACT_POLL_EINTR, ACT_FRAME,       ACT_DQBUF_EINTR, ACT_FRAME,
                ACT_DQBUF_EAGAIN, ACT_FRAME,      ACT_ERROR_BUFFER, ACT_FRAME,      ACT_FRAME,
        };

        fake_reset();
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        fake_script(script, ELEMENTSOF(script));
        check_ok(camera_device_start(d, fmt, on_frame, on_error, &s));
        check(camera_device_start(d, fmt, on_frame, on_error, &s) == -EBUSY);
        check(wait_for(script_done, NULL, 5));
        test_sleep_ms(50);
        camera_device_stop(d);
        check_released();

        /* 7 good frames (ACT_FRAME ×6 + the one after DQBUF EINTR); the corrupt one dropped. */
        check(s.frames == 7);
        check(s.content_ok);
        check(s.order_ok);
        check(atomic_load(&s.errors) == 0);
        check(camera_device_is_connected(d));
        camera_device_free(d);
}

static void test_fault(enum action fault, int expected_error) {
        struct camera_device *d = NULL;
        struct sink s;
        enum action script[] = { ACT_FRAME, ACT_FRAME, ACT_FRAME, fault, ACT_FRAME };

        fake_reset();
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        fake_script(script, ELEMENTSOF(script));
        check_ok(camera_device_start(d, &fmt_yuyv, on_frame, on_error, &s));
        check(wait_for(error_seen, &s, 5));
        /* The thread released the device by itself, before anyone called stop. */
        test_sleep_ms(20);
        check_released();
        check(!camera_device_is_connected(d));
        check(atomic_load(&s.last_error) == expected_error);
        camera_device_stop(d);
        camera_device_stop(d);
        check(atomic_load(&s.errors) == 1);
        check(s.frames == 3);
        check(s.content_ok);

        /* The device can be started again (e.g. a transient failure); connected again. */
        fake_script(script, 1);
        sink_init(&s);
        check_ok(camera_device_start(d, &fmt_yuyv, on_frame, on_error, &s));
        check(camera_device_is_connected(d));
        camera_device_stop(d);
        check_released();
        camera_device_free(d);
}

static void test_buffer_counts(void) {
        struct camera_device *d = NULL;
        struct sink s;

        for (unsigned count = 0; count <= 2; count++) {
                fake_reset();
                sink_init(&s);
                check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
                fake.reqbufs_count = count;
                int r = camera_device_start(d, &fmt_yuyv, on_frame, on_error, &s);
                if (count < 2) {
                        check(r == -ENOBUFS);
                        check(fake.reqbufs_zero_calls == 1); /* buffers given back */
                } else {
                        static const enum action script[] = { ACT_FRAME, ACT_FRAME, ACT_FRAME };
                        check_ok(r);
                        fake_script(script, ELEMENTSOF(script));
                        check(wait_for(script_done, NULL, 5));
                        test_sleep_ms(50);
                        camera_device_stop(d);
                        check(s.frames == 3 && s.content_ok);
                }
                check_released();
                check(camera_device_is_connected(d));
                camera_device_free(d);
        }
}

static void test_streamon_error(void) {
        struct camera_device *d = NULL;
        struct sink s;

        fake_reset();
        sink_init(&s);
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        fake.streamon_error = EIO;
        check(camera_device_start(d, &fmt_nv12, on_frame, on_error, &s) == -EIO);
        check_released();
        check(camera_device_is_connected(d));
        check(atomic_load(&s.errors) == 0);
        camera_device_stop(d); /* harmless when not started */
        camera_device_free(d);
}

int main(void) {
        test_probe();
        test_stream(&fmt_yuyv);
        test_stream(&fmt_nv12);
        test_fault(ACT_DQBUF_ENODEV, -ENODEV);
        test_fault(ACT_POLLERR, -ENODEV);
        test_buffer_counts();
        test_streamon_error();
        pthread_mutex_destroy(&fake.lock);
        return 0;
}
