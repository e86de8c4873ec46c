/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"

int fd_check_regular_file(int fd, int access, const char **reason) {
        const char *dummy;
        struct stat st;
        int flags, mode;

        if (!reason)
                reason = &dummy;
        if (fd < 0) {
                *reason = "is not a valid file descriptor";
                return -EBADF;
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0) {
                *reason = "is not a valid file descriptor";
                return -EBADF;
        }
        if (fstat(fd, &st) < 0) {
                *reason = "cannot be examined";
                return negative_errno();
        }
        if (S_ISDIR(st.st_mode)) {
                *reason = "is a directory";
                return -EISDIR;
        }
        if (S_ISFIFO(st.st_mode)) {
                *reason = "is a pipe";
                return -ESPIPE;
        }
        if (S_ISSOCK(st.st_mode)) {
                *reason = "is a socket";
                return -ESPIPE;
        }
        if (!S_ISREG(st.st_mode)) {
                *reason = "is not a regular file";
                return -EINVAL;
        }
        if (flags & O_PATH) {
                *reason = "is an O_PATH descriptor";
                return -EBADF;
        }
        mode = flags & O_ACCMODE;
        if ((access & FD_NEED_READ) && mode == O_WRONLY) {
                *reason = "is write-only";
                return -EBADF;
        }
        if ((access & FD_NEED_WRITE) && mode == O_RDONLY) {
                *reason = "is read-only";
                return -EBADF;
        }
        if ((access & FD_NEED_WRITE) && (flags & O_APPEND)) {
                *reason = "is opened for append only and cannot be rewritten in place";
                return -EBADF;
        }
        if (lseek(fd, 0, SEEK_CUR) < 0) {
                *reason = "is not seekable";
                return -ESPIPE;
        }
        return 0;
}

int fd_dup_cloexec(int fd) {
        int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return r < 0 ? negative_errno() : r;
}

int fd_write_all(int fd, const void *buf, size_t size) {
        const char *p = buf;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

int fd_pwrite_all(int fd, const void *buf, size_t size, long long offset) {
        const char *p = buf;

        while (size > 0) {
                ssize_t n = pwrite(fd, p, size, (off_t) offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                offset += n;
                size -= (size_t) n;
        }
        return 0;
}

int fd_pread_all(int fd, void *buf, size_t size, long long offset) {
        char *p = buf;

        while (size > 0) {
                ssize_t n = pread(fd, p, size, (off_t) offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EIO;
                p += n;
                offset += n;
                size -= (size_t) n;
        }
        return 0;
}
