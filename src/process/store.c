/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "process/store-internal.h"
#include "shared/fd-util.h"
#include "shared/id.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/private-dir.h"

#define DELETE_PREFIX ".del-"
#define BURST_MAGIC "CAMBRST1"
#define BURST_HEADER_SIZE 32u

int image_store_open(const char *state_dir, uid_t uid, struct image_store **ret) {
        struct image_store *s;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->dir_fd = open_private_user_dir(state_dir, "images", uid);
        if (s->dir_fd < 0 || asprintf(&s->path, "%s/images/%u", state_dir, (unsigned) uid) < 0) {
                r = s->dir_fd < 0 ? s->dir_fd : -ENOMEM;
                s->path = NULL;
                image_store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct image_store *image_store_free(struct image_store *s) {
        if (!s)
                return NULL;
        safe_close(s->dir_fd);
        free(s->path);
        free(s);
        return NULL;
}

/* temp name, write, fsync, rename over name, fsync the folder. */
static int write_file_atomic(int dir_fd, const char *name, const void *data, size_t size) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (asprintf(&tmp, ".%s" TMP_SUFFIX, name) < 0)
                return -ENOMEM;
        (void) unlinkat(dir_fd, tmp, 0);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        r = fd_write_all(fd, data, size);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        if (fsync(dir_fd) < 0)
                return negative_errno();
        return 0;
}

/* Removes a folder's contents and the folder; depth-limited, never follows symlinks. */
int store_remove_tree_at(int dir_fd, const char *name, unsigned depth) {
        _cleanup_close_ int fd = -1;
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (unlinkat(dir_fd, name, 0) >= 0)
                return 0;
        if (errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return negative_errno();
        if (depth > 4)
                return -ELOOP;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -1; /* owned by d */
        while ((de = readdir(d))) {
                int k;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = store_remove_tree_at(dirfd(d), de->d_name, depth + 1);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = negative_errno();
        return r;
}

uint64_t store_folder_bytes(int dir_fd, const char *name) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        uint64_t total = 0;
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return 0;
        d = fdopendir(fd);
        if (!d)
                return 0;
        fd = -1;
        while ((de = readdir(d))) {
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode))
                        total += (uint64_t) st.st_size;
        }
        closedir(d);
        return total;
}

int store_open_image_dir(struct image_store *s, const char *id) {
        int fd;

        if (!image_id_is_valid(id))
                return -ENOENT;
        fd = openat(s->dir_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? negative_errno() : fd;
}

int store_write_record_at(int dir_fd, const struct job_record *rec) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = job_record_format(rec, &text);
        if (r < 0)
                return r;
        return write_file_atomic(dir_fd, "record.json", text, strlen(text));
}

int image_store_write_record(struct image_store *s, const char *id, const struct job_record *rec) {
        _cleanup_close_ int fd = store_open_image_dir(s, id);
        if (fd < 0)
                return fd;
        return store_write_record_at(fd, rec);
}

int image_store_create(struct image_store *s, const char *id, const struct job_record *rec,
                       const struct image_burst *burst, const void *proxy, size_t proxy_size,
                       uint64_t *ret_bytes) {
        _cleanup_free_ char *tmp_name = NULL;
        _cleanup_close_ int dir_fd = -1, fd = -1;
        size_t luma, chroma;
        uint8_t header[BURST_HEADER_SIZE] = { 0 };
        uint32_t fields[4] = { burst->width, burst->height, (uint32_t) burst->chroma, burst->n_frames };
        int r;

        if (!image_id_is_valid(id))
                return -EINVAL;
        r = image_burst_check(burst->width, burst->height, burst->chroma, burst->n_frames);
        if (r < 0)
                return r;
        if (asprintf(&tmp_name, NEW_PREFIX "%s", id) < 0)
                return -ENOMEM;
        if (mkdirat(s->dir_fd, tmp_name, 0700) < 0)
                return negative_errno();
        dir_fd = openat(s->dir_fd, tmp_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dir_fd < 0) {
                r = negative_errno();
                goto fail;
        }

        /* burst.yuv: magic, then width, height, chroma, frames as u32 (host order: the file
         * never leaves this machine), then the planes of each frame. */
        memcpy(header, BURST_MAGIC, 8);
        memcpy(header + 8, fields, sizeof fields);
        luma = (size_t) burst->width * burst->height;
        chroma = (image_frame_size(burst->width, burst->height, burst->chroma) - luma) / 2;
        fd = openat(dir_fd, "burst.yuv", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = fd_write_all(fd, header, sizeof header);
        for (unsigned i = 0; r >= 0 && i < burst->n_frames; i++) {
                r = fd_write_all(fd, burst->frames[i].y, luma);
                if (r >= 0)
                        r = fd_write_all(fd, burst->frames[i].cb, chroma);
                if (r >= 0)
                        r = fd_write_all(fd, burst->frames[i].cr, chroma);
        }
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0)
                goto fail;

        r = write_file_atomic(dir_fd, "proxy.jpg", proxy, proxy_size);
        if (r < 0)
                goto fail;
        r = store_write_record_at(dir_fd, rec);
        if (r < 0)
                goto fail;
        /* Complete: give it its real name, and make the name durable. */
        if (renameat(s->dir_fd, tmp_name, s->dir_fd, id) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (fsync(s->dir_fd) < 0)
                return negative_errno();
        if (ret_bytes)
                *ret_bytes = BURST_HEADER_SIZE + (uint64_t) burst->n_frames * (luma + 2 * chroma) +
                             proxy_size + 512;
        return 0;
fail:
        (void) store_remove_tree_at(s->dir_fd, tmp_name, 0);
        return r;
}

int image_store_write_final(struct image_store *s, const char *id, const void *jpeg, size_t size) {
        _cleanup_close_ int fd = store_open_image_dir(s, id);

        if (fd < 0)
                return fd;
        return write_file_atomic(fd, "final.jpg", jpeg, size);
}

int image_store_drop_burst(struct image_store *s, const char *id, uint64_t *ret_bytes) {
        _cleanup_close_ int fd = store_open_image_dir(s, id);

        if (fd < 0)
                return fd;
        /* The burst is only needed to make the final; drop it to free the user's quota. */
        if (unlinkat(fd, "burst.yuv", 0) < 0 && errno != ENOENT)
                return negative_errno();
        /* No fsync: should the unlink be lost, the scan drops the burst of a done image. */
        if (ret_bytes)
                *ret_bytes = store_folder_bytes(s->dir_fd, id);
        return 0;
}

/* Errors that say the burst can never be read as it is (a symlink, not a regular file or
 * folder, no permission, gone) rather than a passing I/O failure: they become -EBADMSG, a
 * final "process" error like a truncated burst, instead of being retried. */
static int unreadable_is_final(int r) {
        switch (r) {
        case -ENOENT:
        case -ELOOP:
        case -ENOTDIR:
        case -EISDIR:
        case -ENXIO:
        case -ENODEV:
        case -EACCES:
        case -EPERM:
                return -EBADMSG;
        default:
                return r;
        }
}

int image_store_load_burst(struct image_store *s, const char *id, const struct job_record *rec,
                           struct stored_burst *ret) {
        _cleanup_close_ int dir_fd = -1, fd = -1;
        _cleanup_free_ uint8_t *data = NULL;
        uint8_t header[BURST_HEADER_SIZE];
        uint32_t fields[4];
        size_t frame_size, luma, chroma;
        struct stat st;
        int r;

        dir_fd = store_open_image_dir(s, id);
        if (dir_fd < 0)
                return unreadable_is_final(dir_fd);
        /* O_NONBLOCK: a FIFO in its place must not block the worker (then refused below). */
        fd = openat(dir_fd, "burst.yuv", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return unreadable_is_final(negative_errno());
        if (fstat(fd, &st) < 0)
                return negative_errno();
        frame_size = image_frame_size(rec->width, rec->height, rec->chroma);
        if (!S_ISREG(st.st_mode) ||
            (uint64_t) st.st_size != BURST_HEADER_SIZE + (uint64_t) frame_size * rec->frames)
                return -EBADMSG;
        r = fd_pread_all(fd, header, sizeof header, 0);
        if (r < 0)
                return r == -EIO ? -EBADMSG : r;
        memcpy(fields, header + 8, sizeof fields);
        if (memcmp(header, BURST_MAGIC, 8) != 0 || fields[0] != rec->width || fields[1] != rec->height ||
            fields[2] != (uint32_t) rec->chroma || fields[3] != rec->frames)
                return -EBADMSG;
        data = malloc(frame_size * rec->frames);
        if (!data)
                return -ENOMEM;
        r = fd_pread_all(fd, data, frame_size * rec->frames, BURST_HEADER_SIZE);
        if (r < 0)
                return r;

        *ret = (struct stored_burst) {
                .width = rec->width, .height = rec->height, .n_frames = rec->frames, .chroma = rec->chroma,
        };
        luma = (size_t) rec->width * rec->height;
        chroma = (frame_size - luma) / 2;
        for (unsigned i = 0; i < rec->frames; i++) {
                uint8_t *base = data + (size_t) i * frame_size;
                ret->frames[i] = (struct image_burst_frame) { base, base + luma, base + luma + chroma };
        }
        ret->data = TAKE_PTR(data);
        return 0;
}

void stored_burst_done(struct stored_burst *b) {
        free(b->data);
        *b = (struct stored_burst) {};
}

int image_store_open_jpeg(struct image_store *s, const char *id, bool final) {
        _cleanup_close_ int dir_fd = store_open_image_dir(s, id);
        int fd;

        if (dir_fd < 0)
                return dir_fd;
        fd = openat(dir_fd, final ? "final.jpg" : "proxy.jpg", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? negative_errno() : fd;
}

int image_store_remove(struct image_store *s, const char *id) {
        char trash[sizeof DELETE_PREFIX + IMAGE_ID_LEN];

        if (!image_id_is_valid(id))
                return -ENOENT;
        /* Renamed first so that a crash mid-way leaves a folder the scan removes, never an
         * image with half of its files. */
        snprintf(trash, sizeof trash, DELETE_PREFIX "%s", id);
        (void) store_remove_tree_at(s->dir_fd, trash, 0);
        if (renameat(s->dir_fd, id, s->dir_fd, trash) < 0)
                return negative_errno();
        (void) fsync(s->dir_fd);
        return store_remove_tree_at(s->dir_fd, trash, 0);
}

int image_store_list_uids(const char *state_dir, uid_t **ret, size_t *ret_n) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uid_t *uids = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;

        if (asprintf(&path, "%s/images", state_dir) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        while ((de = readdir(d))) {
                char *end;
                unsigned long v;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                errno = 0;
                v = strtoul(de->d_name, &end, 10);
                if (errno != 0 || *end != '\0' || v > UINT32_MAX - 1)
                        continue;
                if (n == allocated) {
                        uid_t *grown = realloc(uids, (allocated * 2 + 8) * sizeof *uids);
                        if (!grown) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        uids = grown;
                        allocated = allocated * 2 + 8;
                }
                uids[n++] = (uid_t) v;
        }
        closedir(d);
        *ret = TAKE_PTR(uids);
        *ret_n = n;
        return 0;
}
