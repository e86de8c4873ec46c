/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "process/pool.h"
#include "process/process-config.h"
#include "shared/id.h"

/* Deferred image processing for one uid (HDI IImageProcessSession without the D-Bus): the
 * on-disk store, the scheduler on top of the shared worker pool, the HDR+-style pipeline.
 *
 * Threads: every image_processor_* function is meant for the event loop thread (it is
 * internally locked, so a test may call it from any single thread). Work runs on the pool's
 * workers. Results come back as events posted to the mailbox: the callbacks run only from
 * mailbox_dispatch() on the loop thread, never on a worker. Events still queued when the
 * processor is freed are dropped harmlessly (the callbacks are not called).
 *
 * Ids: 32 lowercase hex digits. Any other string gives -ENOENT ("invalid id") without
 * touching the filesystem, so path traversal strings are harmless.
 *
 * Crash safety: an image is on disk (frames, proxy.jpg, record.json) before
 * image_processor_add() returns; every file is replaced atomically; a folder half-written
 * when the daemon died is removed at the next start, a job found "running" is pending. */

struct image_processor;
struct mailbox;

enum image_state {
        IMAGE_STATE_PENDING,
        IMAGE_STATE_RUNNING,
        IMAGE_STATE_DONE,
        IMAGE_STATE_ERROR,
        _IMAGE_STATE_MAX,
        _IMAGE_STATE_INVALID = -EINVAL,
};

/* Status strings of StatusChanged (dbus/org.camerad.Camera1.ImageProcessSession.xml). Precedence: space-limit-reached (over quota),
 * then preempted (Interrupt or a capture running), else ready. Nothing here measures
 * temperature, so not-ready-temporarily and overheat are never reported. */
enum image_status {
        IMAGE_STATUS_READY,
        IMAGE_STATUS_SPACE_LIMIT_REACHED,
        IMAGE_STATUS_NOT_READY_TEMPORARILY,
        IMAGE_STATUS_OVERHEAT,
        IMAGE_STATUS_PREEMPTED,
        _IMAGE_STATUS_MAX,
};

/* Error codes of the Error signal (dbus/org.camerad.Camera1.ImageProcessSession.xml). */
enum image_error {
        IMAGE_ERROR_INVALID_ID,
        IMAGE_ERROR_PROCESS,          /* corrupt frames: final, not retried */
        IMAGE_ERROR_TIMEOUT,          /* watchdog: retried up to max_retries */
        IMAGE_ERROR_HIGH_TEMPERATURE,
        IMAGE_ERROR_ABNORMAL,         /* I/O or memory failure: retried up to max_retries */
        IMAGE_ERROR_ABORT,            /* cancelled by Interrupt/Reset/preemption; goes back to pending */
        _IMAGE_ERROR_MAX,
        _IMAGE_ERROR_INVALID = -EINVAL,
};

const char *image_state_to_string(enum image_state s);
enum image_state image_state_from_string(const char *s);
const char *image_status_to_string(enum image_status s);
const char *image_error_to_string(enum image_error e);
enum image_error image_error_from_string(const char *s);

enum image_chroma {
        IMAGE_CHROMA_420, /* Cb/Cr planes: width/2 x height/2 (from NV12) */
        IMAGE_CHROMA_422, /* Cb/Cr planes: width/2 x height   (from YUYV) */
};

/* One captured burst as plain planes, tightly packed (stride = width, width/2). */
struct image_burst_frame {
        const uint8_t *y, *cb, *cr;
};

struct image_burst {
        unsigned width, height;           /* even, 16..8192 */
        enum image_chroma chroma;
        unsigned n_frames;                /* 1..16; oldest first, the last is the newest */
        const struct image_burst_frame *frames;
        unsigned quality;                 /* 1..100, for the final JPEG */
        bool deferred;                    /* false: queued at once at high priority */
        uint64_t capture_realtime_us;     /* CLOCK_REALTIME of the shutter, for EXIF; 0 = now */
        const char *camera_make;          /* EXIF Make/Model; NULL = "camerad" / "" */
        const char *camera_model;
        /* Optional: a proxy JPEG already encoded by the caller (copied). NULL: the
         * processor encodes the newest frame itself. */
        const void *proxy_jpeg;
        size_t proxy_size;
};

struct image_info {
        enum image_state state;
        bool requested;              /* ProcessImage'd or non-deferred: "high", else "normal" */
        uint64_t created_us;         /* CLOCK_REALTIME µs */
        unsigned width, height, frames, quality, retries;
        enum image_error last_error; /* _IMAGE_ERROR_INVALID when none */
};

struct image_done_info {
        unsigned width, height, quality, frames;
        uint64_t size;               /* bytes of final.jpg */
};

struct image_processor_callbacks {
        /* Each is optional. id is valid only during the call. Events arrive in the order
         * they happened, except that an image's ProcessDone follows the durable "done"
         * record, so a counts change for it may come first. */
        void (*process_done)(struct image_processor *p, const char *id,
                             const struct image_done_info *info, void *userdata);
        void (*error)(struct image_processor *p, const char *id, enum image_error code,
                      void *userdata);
        void (*status_changed)(struct image_processor *p, enum image_status status,
                               void *userdata);
        void (*counts_changed)(struct image_processor *p, unsigned pending, unsigned running,
                               void *userdata);
};

struct image_processor_params {
        uid_t uid;
        const char *state_dir;                 /* images live in <state_dir>/images/<uid>/ */
        const struct process_config *config;   /* copied */
        struct worker_pool *pool;              /* shared per uid; the processor takes a ref */
        struct mailbox *mailbox;               /* must outlive the processor */
        const struct image_processor_callbacks *callbacks; /* copied */
        void *userdata;
        bool capture_active;                   /* start with background work paused */
};

/* Creates the user's folder if needed, scans it (running -> pending, half-written folders
 * removed, malformed records marked error), and starts background work on what is pending. */
int image_processor_new(const struct image_processor_params *params, struct image_processor **ret);
/* Cancels running work (it stays pending on disk) and waits for its workers to let go. */
struct image_processor *image_processor_free(struct image_processor *p);

static inline void image_processor_freep(struct image_processor **p) {
        if (*p)
                image_processor_free(*p);
}

/* The uids that have an image folder under state_dir, so the daemon can resume their
 * pending work at start without waiting for a client. *ret is malloc'd. */
int image_store_list_uids(const char *state_dir, uid_t **ret, size_t *ret_n);

/* Stores the burst and the proxy (on disk, fsync'd, when this returns), then queues it:
 * deferred -> background; not deferred, or the user over quota -> requested at once.
 * ret_id receives the new id. Never refuses for quota. */
int image_processor_add(struct image_processor *p, const struct image_burst *burst,
                        char ret_id[static IMAGE_ID_LEN + 1]);

/* Pending or running ids, oldest first. *ret is a malloc'd NULL-terminated array of malloc'd
 * strings (free each and the array). */
int image_processor_list_pending(struct image_processor *p, char ***ret);

int image_processor_get_info(struct image_processor *p, const char *id, struct image_info *ret);

/* Read-only O_CLOEXEC fd of final.jpg when done, else proxy.jpg. *ret_final tells which. */
int image_processor_open_image(struct image_processor *p, const char *id, int *ret_fd,
                               bool *ret_final);

/* ProcessImage: run it now, ahead of background work, whatever the mode or pause (preempts
 * a background job when every worker is busy). Resumes scheduling after Interrupt.
 * A failed (error) image is retried. Already done: 0, nothing to do. */
int image_processor_process(struct image_processor *p, const char *id);

/* RemoveImage: cancels it if running and deletes its folder. */
int image_processor_remove(struct image_processor *p, const char *id);

/* Interrupt: running images go back to pending (the call waits until their runs have
 * stopped: milliseconds, since the pipeline checks between stripes) and each gets an
 * Error(id, "abort") event; background work pauses until process/set_mode/reset. Preemption
 * and capture pauses also send images back to pending, but without an error. */
int image_processor_interrupt(struct image_processor *p);

/* Reset: abort running work, error -> pending, retries cleared, default mode, resume. */
int image_processor_reset(struct image_processor *p);

/* SetExecutionMode: resizes the pool live; also resumes after Interrupt. */
int image_processor_set_mode(struct image_processor *p, enum exec_mode mode);
enum exec_mode image_processor_get_mode(struct image_processor *p);
unsigned image_processor_concurrency(struct image_processor *p, enum exec_mode mode);

/* While any capture session runs: background work pauses (running background jobs go back
 * to pending), status "preempted"; requested images still run. */
void image_processor_set_capture_active(struct image_processor *p, bool active);

enum image_status image_processor_get_status(struct image_processor *p);
unsigned image_processor_pending_count(struct image_processor *p);  /* pending + running */
unsigned image_processor_running_count(struct image_processor *p);
uint64_t image_processor_used_bytes(struct image_processor *p);

/* Test seam: replaces the pipeline (see image-pipeline.h for the contract). NULL restores
 * the real one. Call before work starts. */
struct pipeline_request;
struct pipeline_result;
typedef int (*image_pipeline_fn)(const struct pipeline_request *req, struct pipeline_result *res);
void image_processor_set_pipeline(struct image_processor *p, image_pipeline_fn fn);
