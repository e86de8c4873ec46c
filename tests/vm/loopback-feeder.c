/* SPDX-License-Identifier: MIT */
/* Feeds JPEG files into a v4l2loopback node as an MJPEG camera would deliver them, run in
 * the vivid VM (see tests/vm/README.md):
 *
 *     loopback-feeder DEV WxH FPS FRAME.jpg...
 *
 * Sets the node's output format to MJPG WxH at FPS, then write()s the frames in a loop, one
 * JPEG per write(): v4l2loopback 0.12.7 takes each write() as one buffer whose bytesused is
 * the byte count, so every frame keeps its own size. Prints one line once the first loop
 * went out (the init script waits for it, since with exclusive_caps=1 the node only offers
 * capture after a writer wrote) and runs until killed. Exit 1 on any error. */

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct jpeg {
        unsigned char *data;
        size_t size;
};

static int read_file(const char *path, struct jpeg *ret) {
        struct stat st;
        ssize_t n;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
                fprintf(stderr, "%s: %s\n", path, fd < 0 ? strerror(errno) : "empty or unreadable");
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        ret->size = (size_t) st.st_size;
        ret->data = malloc(ret->size);
        n = ret->data ? read(fd, ret->data, ret->size) : -1;
        close(fd);
        if (n != (ssize_t) ret->size) {
                fprintf(stderr, "%s: short read\n", path);
                return -1;
        }
        return 0;
}

static void add_ns(struct timespec *t, long ns) {
        t->tv_nsec += ns;
        while (t->tv_nsec >= 1000000000L) {
                t->tv_nsec -= 1000000000L;
                t->tv_sec++;
        }
}

int main(int argc, char *argv[]) {
        struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
        struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
        unsigned width, height, fps;
        size_t n_frames, largest = 0, smallest = SIZE_MAX;
        struct jpeg *frames;
        struct timespec next;
        int fd;

        if (argc < 5 || sscanf(argv[2], "%ux%u", &width, &height) != 2 || sscanf(argv[3], "%u", &fps) != 1 ||
            fps == 0) {
                fprintf(stderr, "usage: loopback-feeder DEV WxH FPS FRAME.jpg...\n");
                return 2;
        }
        n_frames = (size_t) argc - 4;
        frames = calloc(n_frames, sizeof *frames);
        if (!frames)
                return 1;
        for (size_t i = 0; i < n_frames; i++) {
                if (read_file(argv[4 + i], &frames[i]) < 0)
                        return 1;
                largest = frames[i].size > largest ? frames[i].size : largest;
                smallest = frames[i].size < smallest ? frames[i].size : smallest;
        }

        fd = open(argv[1], O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        fmt.fmt.pix.width = width;
        fmt.fmt.pix.height = height;
        fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
        fmt.fmt.pix.field = V4L2_FIELD_NONE;
        fmt.fmt.pix.colorspace = V4L2_COLORSPACE_JPEG;
        fmt.fmt.pix.sizeimage = (unsigned) largest;
        if (ioctl(fd, VIDIOC_S_FMT, &fmt) < 0) {
                fprintf(stderr, "VIDIOC_S_FMT MJPG %ux%u: %s\n", width, height, strerror(errno));
                return 1;
        }
        if (fmt.fmt.pix.pixelformat != V4L2_PIX_FMT_MJPEG || fmt.fmt.pix.width != width ||
            fmt.fmt.pix.height != height) {
                fprintf(stderr, "VIDIOC_S_FMT gave %.4s %ux%u\n", (const char *) &fmt.fmt.pix.pixelformat,
                        fmt.fmt.pix.width, fmt.fmt.pix.height);
                return 1;
        }
        /* A larger write() would be cut to the buffer size: a truncated JPEG. */
        if (fmt.fmt.pix.sizeimage < largest) {
                fprintf(stderr, "buffers hold %u bytes, the largest frame has %zu\n", fmt.fmt.pix.sizeimage,
                        largest);
                return 1;
        }
        parm.parm.output.timeperframe = (struct v4l2_fract) { .numerator = 1, .denominator = fps };
        if (ioctl(fd, VIDIOC_S_PARM, &parm) < 0) {
                fprintf(stderr, "VIDIOC_S_PARM 1/%u: %s\n", fps, strerror(errno));
                return 1;
        }

        clock_gettime(CLOCK_MONOTONIC, &next);
        for (unsigned long long sent = 0;; sent++) {
                const struct jpeg *f = &frames[sent % n_frames];
                ssize_t n = write(fd, f->data, f->size);

                if (n != (ssize_t) f->size) {
                        fprintf(stderr, "write of frame %llu (%zu bytes): %s\n", sent, f->size,
                                n < 0 ? strerror(errno) : "short write");
                        return 1;
                }
                if (sent + 1 == n_frames) {
                        printf("feeding %s MJPG %ux%u at %u fps: %zu frames of %zu..%zu bytes, buffers of %u\n",
                               argv[1], width, height, fps, n_frames, smallest, largest, fmt.fmt.pix.sizeimage);
                        fflush(stdout);
                }
                add_ns(&next, 1000000000L / fps);
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                        ;
        }
}
