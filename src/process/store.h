/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "process/image-processor.h"

/* The on-disk store of one uid: <state_dir>/images/<uid>/<imageId>/ holding
 *   burst.yuv    the burst as planes behind a small header (deleted once final.jpg exists)
 *   proxy.jpg    the newest frame, encoded at capture time
 *   final.jpg    the merged picture, once processed
 *   record.json  the job record (struct job_record). The processor never writes "running"
 *                (a running image is pending should the daemon die); the scan still turns
 *                a "running" record into "pending".
 * Every file is written to a temporary name, fsync'd, renamed into place, and the folder
 * fsync'd. A new image is assembled in ".new-<id>" and renamed to "<id>" only when
 * complete, so a half-written image is recognisable (and removed) at the next scan.
 * Files are 0600, folders 0700.
 *
 * Not thread-safe for the same image: the processor serialises writes to one image. */

#define JOB_RECORD_TEXT_MAX 64

struct job_record {
        enum image_state state;
        bool requested;
        uint64_t created_us;
        unsigned width, height, frames, quality, retries;
        enum image_chroma chroma;
        enum image_error last_error;          /* _IMAGE_ERROR_INVALID when none */
        char make[JOB_RECORD_TEXT_MAX + 1];   /* printable ASCII only */
        char model[JOB_RECORD_TEXT_MAX + 1];
};

/* Strict parse of record.json. Any malformed, hostile or out-of-range input gives -EBADMSG
 * (never a crash); -ENOMEM on allocation failure. Unknown keys are ignored (newer writers). */
int job_record_parse(const char *json, size_t len, struct job_record *ret);
/* The JSON text of a record; *ret is malloc'd. */
int job_record_format(const struct job_record *rec, char **ret);

/* Geometry check shared by add and load: -EINVAL when the burst cannot be stored. */
int image_burst_check(unsigned width, unsigned height, enum image_chroma chroma, unsigned n_frames);
/* Bytes of one frame's three planes. */
size_t image_frame_size(unsigned width, unsigned height, enum image_chroma chroma);

struct image_store;

/* Opens (creating 0700 folders as needed, making existing ones 0700) <state_dir>/images/<uid>;
 * a symlink at images or <uid> is refused (-ELOOP or -ENOTDIR). */
int image_store_open(const char *state_dir, uid_t uid, struct image_store **ret);
struct image_store *image_store_free(struct image_store *s);

/* Called for every valid image found by the scan. bytes: the folder's size on disk. */
typedef int (*image_store_scan_fn)(const char *id, const struct job_record *rec, uint64_t bytes,
                                   void *userdata);

/* Walks the folder: removes half-written images, temporary files and entries that are not
 * image folders (logged); moves folders with a missing or malformed record aside to
 * ".broken-<id>" (logged; never crashes); turns "running" into "pending" on disk; makes
 * image folders 0700 and their regular files 0600 (never through a symlink); and calls fn
 * for the rest. */
int image_store_scan(struct image_store *s, image_store_scan_fn fn, void *userdata);

/* Writes a new image atomically (see above). *ret_bytes: bytes used. */
int image_store_create(struct image_store *s, const char *id, const struct job_record *rec,
                       const struct image_burst *burst, const void *proxy, size_t proxy_size,
                       uint64_t *ret_bytes);

int image_store_write_record(struct image_store *s, const char *id, const struct job_record *rec);
/* Writes final.jpg atomically. */
int image_store_write_final(struct image_store *s, const char *id, const void *jpeg, size_t size);
/* Deletes burst.yuv — only once the record says done, so a crash in between reprocesses
 * rather than loses the image. *ret_bytes: the folder's new size. */
int image_store_drop_burst(struct image_store *s, const char *id, uint64_t *ret_bytes);

struct stored_burst {
        uint8_t *data; /* malloc'd planes */
        struct image_burst_frame frames[16];
        unsigned width, height, n_frames;
        enum image_chroma chroma;
};
/* Reads burst.yuv and checks it against rec: -EBADMSG when it can never be read as it is
 * (missing, a symlink, not a regular file, no permission, truncated or not matching: a
 * final "process" error), other negative errnos for I/O failures (retried). */
int image_store_load_burst(struct image_store *s, const char *id, const struct job_record *rec,
                           struct stored_burst *ret);
void stored_burst_done(struct stored_burst *b);

/* O_RDONLY|O_CLOEXEC fd of final.jpg or proxy.jpg. */
int image_store_open_jpeg(struct image_store *s, const char *id, bool final);

/* Deletes the image's folder and everything in it. */
int image_store_remove(struct image_store *s, const char *id);
