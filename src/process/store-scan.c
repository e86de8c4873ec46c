/* SPDX-License-Identifier: MIT */
/* The start-up scan of an image store: clean up what a crash left behind, move unreadable
 * images aside, put interrupted ones back to pending, and tighten modes to the store's. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "process/store-internal.h"
#include "shared/fd-util.h"
#include "shared/id.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/private-dir.h"

/* A DIR over the folder dir_fd from its first entry, on a duplicate (dir_fd stays the
 * caller's); NULL with errno set on failure. */
static DIR *opendir_at_start(int dir_fd) {
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d) {
                int saved = errno;
                close(fd);
                errno = saved;
                return NULL;
        }
        rewinddir(d);
        return d;
}

/* fd_make_private() for every regular file in the folder dir_fd. */
static void make_files_private(int dir_fd, const char *path) {
        struct dirent *de;
        DIR *d = opendir_at_start(dir_fd);

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_close_ int file_fd = -1;
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
                    (st.st_mode & 07777) == 0600)
                        continue;
                /* O_NONBLOCK: should it have become a FIFO since the fstatat, do not wait. */
                file_fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
                if (file_fd >= 0 && fstat(file_fd, &st) >= 0 && S_ISREG(st.st_mode)) {
                        _cleanup_free_ char *what = NULL;
                        if (asprintf(&what, "%s/%s", path, de->d_name) < 0)
                                what = NULL;
                        fd_make_private(file_fd, 0600, what ?: de->d_name);
                }
        }
        closedir(d);
}

static int read_small_file(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        int r;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || (size_t) st.st_size > max)
                return -EBADMSG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        r = fd_pread_all(fd, buf, (size_t) st.st_size, 0);
        if (r < 0)
                return r;
        buf[st.st_size] = '\0';
        *ret_size = (size_t) st.st_size;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Moves a folder with an unreadable record out of the way, keeping it for inspection. */
static void move_aside(struct image_store *s, const char *name) {
        _cleanup_free_ char *target = NULL;

        if (asprintf(&target, BROKEN_PREFIX "%s", name) < 0)
                return;
        (void) store_remove_tree_at(s->dir_fd, target, 0);
        if (renameat(s->dir_fd, name, s->dir_fd, target) < 0)
                log_warning_errno(errno, "store: cannot move %s/%s aside: %m", s->path, name);
        else
                log_warning("store: %s/%s has a missing or malformed record; moved to %s",
                            s->path, name, target);
}

/* Removes stale temporary files left inside an image folder by a crash mid-write. */
static void remove_temp_files(int dir_fd) {
        struct dirent *de;
        DIR *d = opendir_at_start(dir_fd);

        if (!d)
                return;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name), k = strlen(TMP_SUFFIX);
                if (de->d_name[0] == '.' && n > k && streq(de->d_name + n - k, TMP_SUFFIX))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

static int scan_one(struct image_store *s, const char *name, image_store_scan_fn fn, void *userdata) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        struct job_record rec;
        size_t size;
        int r;

        fd = store_open_image_dir(s, name);
        if (fd < 0)
                return 0; /* vanished or not a folder: handled by the caller's checks */
        remove_temp_files(fd);
        fd_make_private(fd, 0700, name);
        make_files_private(fd, name);
        r = read_small_file(fd, "record.json", 16 * 1024, &text, &size);
        if (r >= 0)
                r = job_record_parse(text, size, &rec);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                move_aside(s, name);
                return 0;
        }
        if (rec.state == IMAGE_STATE_DONE)
                /* Killed between recording "done" and dropping the burst. */
                (void) unlinkat(fd, "burst.yuv", 0);
        if (rec.state == IMAGE_STATE_RUNNING) {
                /* The daemon died while processing: run it again. */
                rec.state = IMAGE_STATE_PENDING;
                r = store_write_record_at(fd, &rec);
                if (r < 0)
                        log_warning_errno(r, "store: cannot reset %s/%s to pending: %m", s->path, name);
        }
        return fn(name, &rec, store_folder_bytes(s->dir_fd, name), userdata);
}

int image_store_scan(struct image_store *s, image_store_scan_fn fn, void *userdata) {
        struct dirent *de;
        DIR *d = opendir_at_start(s->dir_fd);
        int r = 0;

        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                const char *name = de->d_name;
                struct stat st;

                if (streq(name, ".") || streq(name, "..") || strncmp(name, BROKEN_PREFIX, strlen(BROKEN_PREFIX)) == 0)
                        continue;
                if (fstatat(s->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (!image_id_is_valid(name) || !S_ISDIR(st.st_mode)) {
                        /* Half-written images (".new-<id>") and anything else that is not
                         * ours: this folder belongs to the daemon alone. */
                        log_info("store: removing %s/%s (%s)", s->path, name,
                                 strncmp(name, NEW_PREFIX, strlen(NEW_PREFIX)) == 0 ? "half-written image" : "not an image folder");
                        (void) store_remove_tree_at(s->dir_fd, name, 0);
                        continue;
                }
                r = scan_one(s, name, fn, userdata);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r;
}
