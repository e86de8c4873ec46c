/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <unistd.h>

#include "capture/v4l2-ops.h"

static int libv4l2_open(const char *path) {
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -1;
        /* Flags 0: libv4l2 may emulate formats the device lacks (V4L2_FMT_FLAG_EMULATED). */
        int r = v4l2_fd_open(fd, 0);
        if (r < 0) {
                int saved = errno;
                close(fd);
                errno = saved;
                return -1;
        }
        return r;
}

static int plain_open(const char *path) {
        return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

static int libv4l2_ioctl(int fd, unsigned long request, void *arg) {
        return v4l2_ioctl(fd, request, arg);
}

static void *libv4l2_mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset) {
        return v4l2_mmap(addr, length, prot, flags, fd, offset);
}

static int libv4l2_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
        return poll(fds, n, timeout_ms);
}

const struct v4l2_ops v4l2_ops_libv4l2 = {
        .open = libv4l2_open,
        .open_native = plain_open,
        .open_controls = plain_open,
        .close = v4l2_close,
        .ioctl = libv4l2_ioctl,
        .mmap = libv4l2_mmap,
        .munmap = v4l2_munmap,
        .poll = libv4l2_poll,
};
