/* SPDX-License-Identifier: MIT */
#pragma once

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel interface of the V4L2 engine, swappable so unit tests can play a device
 * (like mctpd's struct mctp_ops). Every call follows its libc/libv4l2 namesake: -1 (or
 * MAP_FAILED) with errno set on failure. */
struct v4l2_ops {
        /* Opens a device node for streaming: read-write, non-blocking, close-on-exec. */
        int (*open)(const char *path);
        /* The same without format conversion, for streaming a format the device gives
         * itself (MJPEG must reach us as the camera's bytes); the other calls on such an fd
         * then go straight to the kernel. NULL: open serves both. */
        int (*open_native)(const char *path);
        /* Opens a node for control ioctls and events only: no conversion, no streaming.
         * NULL: open_native, else open. */
        int (*open_controls)(const char *path);
        int (*close)(int fd);
        int (*ioctl)(int fd, unsigned long request, void *arg);
        void *(*mmap)(void *addr, size_t length, int prot, int flags, int fd, int64_t offset);
        int (*munmap)(void *addr, size_t length);
        int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
};

/* The real thing through libv4l2 (v4l2_fd_open, v4l2_ioctl, v4l2_mmap): probing sees the
 * formats libv4l2 can convert to, and open() streams them; open_native() is a plain open(),
 * which libv4l2's calls pass through untouched (it knows only fds of v4l2_fd_open). */
extern const struct v4l2_ops v4l2_ops_libv4l2;
