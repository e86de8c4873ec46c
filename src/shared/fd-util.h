/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Checks for file descriptors handed in by clients. Each returns 0 or a negative errno,
 * and on failure writes a short reason ("is a pipe", "is read-only", …) to *reason. */
enum fd_access { FD_NEED_READ = 1, FD_NEED_WRITE = 2 };

/* A regular, seekable file opened with the access asked for. */
int fd_check_regular_file(int fd, int access, const char **reason);

/* Duplicates fd with O_CLOEXEC above 2; the caller owns the result. */
int fd_dup_cloexec(int fd);

/* write() the whole buffer, retrying on EINTR. */
int fd_write_all(int fd, const void *buf, size_t size);
/* pwrite()/pread() the whole buffer; pread returns -EIO on short read. */
int fd_pwrite_all(int fd, const void *buf, size_t size, long long offset);
int fd_pread_all(int fd, void *buf, size_t size, long long offset);
