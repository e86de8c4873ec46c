/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "process/image-processor.h"
#include "process/store.h"

/* Shared by image-processor.c (the API, events) and image-scheduler.c (jobs on the pool). */

/* How long Interrupt/Remove/Reset/free wait for running jobs to notice their cancel flag.
 * Jobs check between stripes of a few ms, so this is only reached by a wedged job. */
#define CANCEL_WAIT_US (5u * 1000000u)

struct image_entry {
        struct image_entry *prev, *next; /* oldest first */
        char id[IMAGE_ID_LEN + 1];
        struct job_record rec;
        uint64_t bytes;        /* on disk */
        uint64_t job_id;       /* pool job queued or running for it; 0 = none */
        struct image_job *job; /* that job's userdata, valid while job_id != 0 */
        bool job_running;      /* that job has started on a worker */
        bool removing;         /* RemoveImage waits for the running job to let go */
};

/* Outlives the processor while events for it sit in the mailbox. */
struct event_sink {
        atomic_int n_ref;
        atomic_bool alive;
        struct image_processor *processor;
        struct image_processor_callbacks cb;
        void *userdata;
};

struct jpeg_encoder;
struct image_job;
struct image_waiter;

struct image_processor {
        pthread_mutex_t io_lock; /* serialises record writes; taken before lock, never after */
        pthread_mutex_t lock;    /* everything below; taken before the pool's lock */
        pthread_cond_t job_ended;
        uid_t uid;
        struct process_config config;
        struct worker_pool *pool;
        struct mailbox *mailbox;
        struct event_sink *sink;
        struct image_store *store;
        image_pipeline_fn pipeline;

        struct image_entry *head, *tail;
        unsigned n_entries;
        uint64_t used_bytes;
        uint64_t last_created_us;
        unsigned jobs_in_flight; /* submitted, done() not yet finished */

        bool interrupted;        /* Interrupt(): nothing new starts until resumed */
        bool capture_active;     /* background work paused */
        bool shutting_down;

        /* Last values posted, so that only changes become events. */
        enum image_status posted_status;
        unsigned posted_pending, posted_running;

        /* Asynchronous Interrupt/RemoveImage/Reset calls waiting for jobs to stop
         * (image-processor-async.c). */
        struct image_waiter *waiters;

        pthread_mutex_t encode_lock; /* proxy_encoder: one TurboJPEG handle, one user */
        struct jpeg_encoder *proxy_encoder;
};

/* image-processor.c */
struct image_entry *image_entry_find(struct image_processor *p, const char *id);
void image_entry_unlink(struct image_processor *p, struct image_entry *e);
/* Links e in by creation time and counts its bytes. */
void image_entry_insert(struct image_processor *p, struct image_entry *e);
/* Posts status/count events if they changed. Lock held. */
void image_processor_notify_locked(struct image_processor *p);
void image_processor_post_done(struct image_processor *p, const char *id, const struct image_done_info *info);
void image_processor_post_error(struct image_processor *p, const char *id, enum image_error code);
/* Writes the image's current record to disk. Call WITHOUT the lock: record writes are
 * serialised by io_lock and each writes the latest in-memory state, so the last write always
 * carries the newest state and no fsync ever runs under the main lock. */
int image_processor_flush_record(struct image_processor *p, const char *id);
void image_event_sink_ref(struct event_sink *s);
void image_event_sink_unref(struct event_sink *s);

/* image-processor-api.c: the halves of Interrupt, RemoveImage and Reset that the
 * synchronous calls and the asynchronous ones share. */
/* Marks it removing and cancels its job (1: that job's done() deletes it), or deletes it now
 * (0) when no job holds it; -ENOENT. Lock held (dropped meanwhile). */
int image_processor_remove_begin_locked(struct image_processor *p, const char *id);
/* Interrupted; every job cancelled (queued ones are done on return). Lock held (dropped
 * meanwhile). */
void image_processor_stop_all_locked(struct image_processor *p);
/* Reset after its jobs stopped: error -> pending, retries cleared, default mode, resume.
 * Without the lock (writes records). */
int image_processor_reset_finish(struct image_processor *p);

/* image-processor-async.c */
/* Posts every waiter whose jobs have stopped. Lock held; called wherever a job ends. */
void image_waiters_check_locked(struct image_processor *p);
/* Posts every waiter left with result (the processor is going). Lock held. */
void image_waiters_flush_locked(struct image_processor *p, int result);

/* image-scheduler.c */
/* Submits every pending image that may run now. Lock held. */
void image_scheduler_schedule_locked(struct image_processor *p);
/* Cancels this processor's queued and running jobs (all, or background only). Call
 * WITHOUT the lock: done() of queued jobs runs before this returns. */
void image_scheduler_cancel_all(struct image_processor *p, bool background_only, enum pool_cancel reason);
/* After ProcessImage promoted e: its queued/running job no longer counts as background. */
void image_scheduler_mark_requested_locked(struct image_entry *e);
/* Waits (lock held, released while waiting) until no job of p is in flight (including its
 * bookkeeping after the run), or timeout_us. */
int image_scheduler_wait_idle_locked(struct image_processor *p, uint64_t timeout_us);
/* Waits until none of p's images is running any more (their run() returned), or timeout_us. */
int image_scheduler_wait_stopped_locked(struct image_processor *p, uint64_t timeout_us);
