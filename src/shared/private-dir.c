/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "shared/private-dir.h"

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return negative_errno();
                        *s = '/';
                }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

void fd_make_private(int fd, mode_t mode, const char *what) {
        struct stat st;

        if (fstat(fd, &st) < 0 || (st.st_mode & 07777) == mode)
                return;
        if (fchmod(fd, mode) < 0)
                log_warning_errno(errno, "cannot set the mode of %s to %04o: %m", what, (unsigned) mode);
}

int open_private_dir_at(int dir_fd, const char *name) {
        struct stat st;
        int fd;

        if (mkdirat(dir_fd, name, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int r = negative_errno();
                /* O_DIRECTORY wins over O_NOFOLLOW: a symlink gives ENOTDIR; say which. */
                if (r == -ENOTDIR && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
                        r = -ELOOP;
                return r;
        }
        fd_make_private(fd, 0700, name);
        return fd;
}

const char *private_dir_refusal(int r) {
        return r == -ELOOP ? " (a symbolic link; refusing to follow it)" :
               r == -ENOTDIR ? " (not a folder)" : "";
}

int open_private_user_dir(const char *state_dir, const char *kind, uid_t uid) {
        _cleanup_close_ int state_fd = -1, kind_fd = -1;
        char uid_name[32];
        int fd, r;

        r = mkdir_parents(state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s: %m", state_dir);
        state_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (state_fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", state_dir);
        kind_fd = open_private_dir_at(state_fd, kind);
        if (kind_fd < 0)
                return log_error_errno(kind_fd, "Cannot use %s/%s%s: %m", state_dir, kind,
                                       private_dir_refusal(kind_fd));
        snprintf(uid_name, sizeof uid_name, "%u", (unsigned) uid);
        fd = open_private_dir_at(kind_fd, uid_name);
        if (fd < 0)
                return log_error_errno(fd, "Cannot use %s/%s/%s%s: %m", state_dir, kind, uid_name,
                                       private_dir_refusal(fd));
        /* The new entry of the uid's folder is durable before anything is written in it. */
        (void) fsync(kind_fd);
        return fd;
}
