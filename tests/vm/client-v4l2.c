/* SPDX-License-Identifier: MIT */
#include "client-v4l2.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"

#define N_BUFFERS 4

static int xioctl(int fd, unsigned long request, void *arg) {
        int r;

        do
                r = ioctl(fd, request, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : 0;
}

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t fourcc_from_string(const char *s) {
        char c[4] = { ' ', ' ', ' ', ' ' };

        for (size_t i = 0; i < 4 && s[i]; i++)
                c[i] = s[i];
        return v4l2_fourcc(c[0], c[1], c[2], c[3]);
}

static bool has_frame_size(int fd, uint32_t fourcc, unsigned width, unsigned height) {
        for (uint32_t i = 0;; i++) {
                struct v4l2_frmsizeenum fs = { .index = i, .pixel_format = fourcc };

                if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0)
                        return false;
                if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
                        if (fs.discrete.width == width && fs.discrete.height == height)
                                return true;
                        continue;
                }
                /* Stepwise or continuous: one entry describes the whole range. */
                return width >= fs.stepwise.min_width && width <= fs.stepwise.max_width &&
                       height >= fs.stepwise.min_height && height <= fs.stepwise.max_height;
        }
}

static double best_fps(int fd, uint32_t fourcc, unsigned width, unsigned height) {
        double best = 0;

        for (uint32_t i = 0;; i++) {
                struct v4l2_frmivalenum fi = { .index = i, .pixel_format = fourcc, .width = width, .height = height };

                if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) < 0)
                        break;
                const struct v4l2_fract *t = fi.type == V4L2_FRMIVAL_TYPE_DISCRETE ? &fi.discrete : &fi.stepwise.min;
                if (t->numerator > 0)
                        best = MAX(best, (double) t->denominator / t->numerator);
                if (fi.type != V4L2_FRMIVAL_TYPE_DISCRETE)
                        break;
        }
        return best;
}

int v4l2_native_formats(const char *devnode, uint32_t fourcc, struct native_format **formats, size_t *n) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        for (uint32_t i = 0;; i++) {
                struct v4l2_frmsizeenum fs = { .index = i, .pixel_format = fourcc };
                struct native_format *grown;

                if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0 || fs.type != V4L2_FRMSIZE_TYPE_DISCRETE)
                        break;
                grown = realloc(*formats, (*n + 1) * sizeof **formats);
                if (!grown)
                        return -ENOMEM;
                *formats = grown;
                (*formats)[(*n)++] = (struct native_format) {
                        .fourcc = fourcc,
                        .width = fs.discrete.width,
                        .height = fs.discrete.height,
                        .max_fps = best_fps(fd, fourcc, fs.discrete.width, fs.discrete.height),
                };
        }
        return 0;
}

int v4l2_probe(const char *devnode, uint32_t fourcc, unsigned width, unsigned height,
               char *detail, size_t detail_size) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_CLOEXEC);
        struct v4l2_capability cap = {};
        bool format_found = false;
        int r;

        if (fd < 0) {
                r = -errno;
                snprintf(detail, detail_size, "open %s: %s", devnode, strerror(-r));
                return r;
        }
        r = xioctl(fd, VIDIOC_QUERYCAP, &cap);
        if (r < 0) {
                snprintf(detail, detail_size, "QUERYCAP: %s", strerror(-r));
                return r;
        }
        uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
        printf("driver=%s card=%s bus_info=%s caps=0x%08x\n", cap.driver, cap.card, cap.bus_info, caps);
        if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
                snprintf(detail, detail_size, "%s is not a streaming capture device (caps 0x%08x)",
                         devnode, caps);
                return -ENOTSUP;
        }
        for (uint32_t i = 0;; i++) {
                struct v4l2_fmtdesc fd_desc = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };

                if (xioctl(fd, VIDIOC_ENUM_FMT, &fd_desc) < 0)
                        break;
                if (fd_desc.pixelformat == fourcc)
                        format_found = true;
        }
        if (!format_found || !has_frame_size(fd, fourcc, width, height)) {
                snprintf(detail, detail_size, "%s (%s) lacks %.4s %ux%u", devnode, (char *) cap.card,
                         (char *) &fourcc, width, height);
                return -ENOENT;
        }
        snprintf(detail, detail_size, "driver=%s bus_info=%s has %.4s %ux%u", cap.driver,
                 cap.bus_info, (char *) &fourcc, width, height);
        return 0;
}

struct mapping {
        void *start;
        size_t length;
};

static void unmap_all(struct mapping *maps, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (maps[i].start && maps[i].start != MAP_FAILED)
                        munmap(maps[i].start, maps[i].length);
}

static int stream_loop(int fd, unsigned frames_wanted, int timeout_ms, size_t sizeimage,
                       unsigned *ret_frames, char *detail, size_t detail_size) {
        long long deadline = now_ms() + timeout_ms;
        unsigned frames = 0;
        int r;

        while (frames < frames_wanted) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = deadline - now_ms();

                if (left <= 0) {
                        snprintf(detail, detail_size, "timeout after %u of %u frames", frames, frames_wanted);
                        *ret_frames = frames;
                        return -ETIMEDOUT;
                }
                r = poll(&p, 1, (int) left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        continue;

                struct v4l2_buffer buf = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP };
                r = xioctl(fd, VIDIOC_DQBUF, &buf);
                if (r == -EAGAIN)
                        continue;
                if (r < 0) {
                        snprintf(detail, detail_size, "DQBUF: %s", strerror(-r));
                        *ret_frames = frames;
                        return r;
                }
                if (buf.bytesused != sizeimage) {
                        snprintf(detail, detail_size, "frame %u has %u bytes, expected %zu", frames,
                                 buf.bytesused, sizeimage);
                        *ret_frames = frames;
                        return -EBADMSG;
                }
                frames++;
                r = xioctl(fd, VIDIOC_QBUF, &buf);
                if (r < 0) {
                        snprintf(detail, detail_size, "QBUF: %s", strerror(-r));
                        *ret_frames = frames;
                        return r;
                }
        }
        *ret_frames = frames;
        return 0;
}

int v4l2_stream(const char *devnode, uint32_t fourcc, unsigned width, unsigned height,
                unsigned frames_wanted, int timeout_ms, char *detail, size_t detail_size) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        struct mapping maps[N_BUFFERS] = {};
        unsigned n_buffers = 0, frames = 0;
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        long long t0;
        int r;

        if (fd < 0) {
                r = -errno;
                snprintf(detail, detail_size, "open %s: %s", devnode, strerror(-r));
                return r;
        }

        struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
        fmt.fmt.pix.pixelformat = fourcc;
        fmt.fmt.pix.width = width;
        fmt.fmt.pix.height = height;
        fmt.fmt.pix.field = V4L2_FIELD_NONE;
        r = xioctl(fd, VIDIOC_S_FMT, &fmt);
        if (r < 0) {
                snprintf(detail, detail_size, "S_FMT: %s", strerror(-r));
                return r;
        }
        if (fmt.fmt.pix.pixelformat != fourcc || fmt.fmt.pix.width != width || fmt.fmt.pix.height != height) {
                snprintf(detail, detail_size, "S_FMT gave %.4s %ux%u", (char *) &fmt.fmt.pix.pixelformat,
                         fmt.fmt.pix.width, fmt.fmt.pix.height);
                return -EINVAL;
        }

        struct v4l2_requestbuffers req = { .count = N_BUFFERS, .type = type, .memory = V4L2_MEMORY_MMAP };
        r = xioctl(fd, VIDIOC_REQBUFS, &req);
        if (r < 0 || req.count < 2) {
                snprintf(detail, detail_size, "REQBUFS: %s (count %u)", r < 0 ? strerror(-r) : "ok", req.count);
                return r < 0 ? r : -ENOMEM;
        }
        n_buffers = MIN(req.count, (unsigned) N_BUFFERS);
        for (unsigned i = 0; i < n_buffers; i++) {
                struct v4l2_buffer buf = { .index = i, .type = type, .memory = V4L2_MEMORY_MMAP };

                r = xioctl(fd, VIDIOC_QUERYBUF, &buf);
                if (r < 0) {
                        snprintf(detail, detail_size, "QUERYBUF: %s", strerror(-r));
                        goto out;
                }
                maps[i].length = buf.length;
                maps[i].start = mmap(NULL, buf.length, PROT_READ, MAP_SHARED, fd, buf.m.offset);
                if (maps[i].start == MAP_FAILED) {
                        r = -errno;
                        snprintf(detail, detail_size, "mmap: %s", strerror(-r));
                        goto out;
                }
                r = xioctl(fd, VIDIOC_QBUF, &buf);
                if (r < 0) {
                        snprintf(detail, detail_size, "QBUF: %s", strerror(-r));
                        goto out;
                }
        }
        r = xioctl(fd, VIDIOC_STREAMON, &type);
        if (r < 0) {
                snprintf(detail, detail_size, "STREAMON: %s", strerror(-r));
                goto out;
        }
        t0 = now_ms();
        r = stream_loop(fd, frames_wanted, timeout_ms, fmt.fmt.pix.sizeimage, &frames, detail, detail_size);
        if (r == 0) {
                long long ms = now_ms() - t0;
                snprintf(detail, detail_size, "%u frames of %.4s %ux%u (%u bytes) in %lld ms", frames,
                         (char *) &fourcc, width, height, fmt.fmt.pix.sizeimage, ms);
        }
        (void) xioctl(fd, VIDIOC_STREAMOFF, &type);
out:
        unmap_all(maps, n_buffers);
        return r;
}

/* v4l2-ctl's naming: lower case, every run of non-alphanumerics becomes one '_'. */
static void control_name_normalize(const char *in, char *out, size_t out_size) {
        size_t n = 0;
        bool pending_sep = false;

        for (; *in && n + 2 < out_size; in++) {
                if (isalnum((unsigned char) *in)) {
                        if (pending_sep && n > 0)
                                out[n++] = '_';
                        pending_sep = false;
                        out[n++] = (char) tolower((unsigned char) *in);
                } else
                        pending_sep = true;
        }
        out[n] = 0;
}

int64_t v4l2_find_control(int fd, const char *name, uint32_t *ret_type) {
        struct v4l2_query_ext_ctrl q = { .id = V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND };

        while (xioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) == 0) {
                char normalized[64];

                control_name_normalize(q.name, normalized, sizeof normalized);
                if (q.type != V4L2_CTRL_TYPE_CTRL_CLASS && streq(normalized, name)) {
                        if (ret_type)
                                *ret_type = q.type;
                        return q.id;
                }
                q.id |= V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND;
        }
        return -ENOENT;
}

int v4l2_control_exists(const char *devnode, const char *name, char *detail, size_t detail_size) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_CLOEXEC);
        uint32_t type = 0;
        int64_t id;

        if (fd < 0) {
                int r = -errno;
                snprintf(detail, detail_size, "open %s: %s", devnode, strerror(-r));
                return r;
        }
        id = v4l2_find_control(fd, name, &type);
        if (id < 0) {
                snprintf(detail, detail_size, "%s has no control named %s", devnode, name);
                return (int) id;
        }
        snprintf(detail, detail_size, "%s=0x%08x type %u", name, (uint32_t) id, type);
        return 0;
}

static int set_ext_control(int fd, uint32_t id, int32_t value) {
        struct v4l2_ext_control c = { .id = id, .value = value };
        struct v4l2_ext_controls cs = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1, .controls = &c };

        return xioctl(fd, VIDIOC_S_EXT_CTRLS, &cs);
}

int v4l2_set_control(const char *devnode, const char *name, int32_t value, char *detail,
                     size_t detail_size) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_CLOEXEC);
        uint32_t type = 0;
        int64_t id;
        int r;

        if (fd < 0) {
                r = -errno;
                snprintf(detail, detail_size, "open %s: %s", devnode, strerror(-r));
                return r;
        }
        id = v4l2_find_control(fd, name, &type);
        if (id < 0) {
                snprintf(detail, detail_size, "%s has no control named %s", devnode, name);
                return (int) id;
        }
        if (type == V4L2_CTRL_TYPE_BUTTON && value == 0) {
                /* Pressing again would re-arm what the button triggers. */
                snprintf(detail, detail_size, "%s (0x%08x) is a button: not pressed", name, (uint32_t) id);
                return 0;
        }
        if (type == V4L2_CTRL_TYPE_BOOLEAN || type == V4L2_CTRL_TYPE_INTEGER) {
                /* The control framework only calls the driver when the value changes. */
                r = set_ext_control(fd, (uint32_t) id, value == 0 ? 1 : 0);
                if (r < 0) {
                        snprintf(detail, detail_size, "S_EXT_CTRLS %s (toggle): %s", name, strerror(-r));
                        return r;
                }
        }
        r = set_ext_control(fd, (uint32_t) id, type == V4L2_CTRL_TYPE_BUTTON ? 1 : value);
        if (r < 0) {
                snprintf(detail, detail_size, "S_EXT_CTRLS %s=%d: %s", name, value, strerror(-r));
                return r;
        }
        if (type != V4L2_CTRL_TYPE_BUTTON) {
                struct v4l2_ext_control c = { .id = (uint32_t) id };
                struct v4l2_ext_controls cs = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1, .controls = &c };

                r = xioctl(fd, VIDIOC_G_EXT_CTRLS, &cs);
                if (r < 0 || c.value != value) {
                        snprintf(detail, detail_size, "%s reads back %d (%s) after setting %d", name, c.value,
                                 r < 0 ? strerror(-r) : "ok", value);
                        return r < 0 ? r : -EIO;
                }
        }
        snprintf(detail, detail_size, "%s (0x%08x) set to %d", name, (uint32_t) id, value);
        return 0;
}

int v4l2_list_controls(const char *devnode) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_CLOEXEC);
        struct v4l2_query_ext_ctrl q = { .id = V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND };

        if (fd < 0)
                return -errno;
        while (xioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) == 0) {
                char normalized[64];

                control_name_normalize(q.name, normalized, sizeof normalized);
                if (q.type != V4L2_CTRL_TYPE_CTRL_CLASS)
                        printf("%s 0x%08x type=%u %lld..%lld\n", normalized, q.id, q.type,
                               (long long) q.minimum, (long long) q.maximum);
                q.id |= V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND;
        }
        return 0;
}
