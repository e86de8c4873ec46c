/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "process/image-pipeline.h"
#include "process/image-processor-internal.h"
#include "shared/log.h"
#include "shared/macro.h"

/* One submission of one image to the pool. */
struct image_job {
        struct image_processor *p;
        char id[IMAGE_ID_LEN + 1];
        uint64_t job_id;
        atomic_bool requested; /* read by the pool's matcher under the pool lock */
};

static int image_job_run(struct pool_job *job, void *userdata);
static void image_job_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason);

static const struct pool_job_ops image_job_ops = {
        .run = image_job_run,
        .done = image_job_done,
};

static enum pool_cancel check_cancel(void *data) {
        return pool_job_check_cancel(data);
}

static int submit_locked(struct image_processor *p, struct image_entry *e) {
        struct image_job *j;
        int r;

        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->p = p;
        memcpy(j->id, e->id, sizeof j->id);
        atomic_init(&j->requested, e->rec.requested);
        /* Our lock is held, so the job cannot start (its run() takes the lock) before
         * e->job_id is set. */
        r = pool_submit(p->pool, &image_job_ops, j,
                        e->rec.requested ? POOL_PRIORITY_REQUESTED : POOL_PRIORITY_BACKGROUND,
                        e->rec.created_us, (uint64_t) p->config.job_timeout_seconds * 1000000u, &j->job_id);
        if (r < 0) {
                free(j);
                return r;
        }
        e->job_id = j->job_id;
        e->job = j;
        p->jobs_in_flight++;
        return 0;
}

void image_scheduler_schedule_locked(struct image_processor *p) {
        if (p->interrupted || p->shutting_down)
                return;
        for (struct image_entry *e = p->head; e; e = e->next) {
                int r;

                if (e->removing || e->job_id != 0 || e->rec.state != IMAGE_STATE_PENDING)
                        continue;
                if (!e->rec.requested && p->capture_active)
                        continue;
                r = submit_locked(p, e);
                if (r < 0) {
                        log_warning_errno(r, "image %s: cannot queue: %m", e->id);
                        break;
                }
        }
}

struct cancel_filter {
        struct image_processor *p;
        bool background_only;
};

static bool job_matches(void *userdata, void *data) {
        const struct image_job *j = userdata;
        const struct cancel_filter *f = data;
        return j->p == f->p && (!f->background_only || !atomic_load(&j->requested));
}

void image_scheduler_cancel_all(struct image_processor *p, bool background_only, enum pool_cancel reason) {
        struct cancel_filter f = { p, background_only };

        /* One pass under the pool lock: a worker freed by one cancel cannot pick up another
         * of our queued jobs before that one is cancelled too. */
        pool_cancel_matching(p->pool, &image_job_ops, job_matches, &f, reason);
}

void image_scheduler_mark_requested_locked(struct image_entry *e) {
        if (e->job_id != 0 && e->job)
                atomic_store(&e->job->requested, true);
}

static bool any_running_locked(struct image_processor *p) {
        for (struct image_entry *e = p->head; e; e = e->next)
                if (e->job_running)
                        return true;
        return false;
}

static void deadline_after(struct timespec *deadline, uint64_t timeout_us) {
        clock_gettime(CLOCK_MONOTONIC, deadline);
        deadline->tv_sec += (time_t) (timeout_us / 1000000u);
        deadline->tv_nsec += (long) (timeout_us % 1000000u) * 1000;
        if (deadline->tv_nsec >= 1000000000) {
                deadline->tv_sec++;
                deadline->tv_nsec -= 1000000000;
        }
}

int image_scheduler_wait_stopped_locked(struct image_processor *p, uint64_t timeout_us) {
        struct timespec deadline;

        deadline_after(&deadline, timeout_us);
        while (any_running_locked(p))
                if (pthread_cond_timedwait(&p->job_ended, &p->lock, &deadline) == ETIMEDOUT)
                        return -ETIMEDOUT;
        return 0;
}

int image_scheduler_wait_idle_locked(struct image_processor *p, uint64_t timeout_us) {
        struct timespec deadline;

        deadline_after(&deadline, timeout_us);
        while (p->jobs_in_flight > 0)
                if (pthread_cond_timedwait(&p->job_ended, &p->lock, &deadline) == ETIMEDOUT)
                        return -ETIMEDOUT;
        return 0;
}

static int image_job_run(struct pool_job *job, void *userdata) {
        struct image_job *j = userdata;
        struct image_processor *p = j->p;
        struct stored_burst burst = {};
        struct pipeline_result res = {};
        struct pipeline_request req;
        struct job_record rec;
        struct image_entry *e;
        image_pipeline_fn pipeline;
        int r;

        pthread_mutex_lock(&p->lock);
        pipeline = p->pipeline;
        e = image_entry_find(p, j->id);
        if (!e || e->removing || e->job_id != j->job_id) {
                pthread_mutex_unlock(&p->lock);
                return -ESTALE;
        }
        e->job_running = true;
        /* "running" lives in memory only: on disk the image stays "pending", which is
         * exactly what a crash now must leave, and it spares an fsync under the lock per
         * start and per cancel (Interrupt latency). The scan still turns a "running" record
         * (older or foreign writers) into "pending". */
        e->rec.state = IMAGE_STATE_RUNNING;
        rec = e->rec;
        image_processor_notify_locked(p);
        pthread_mutex_unlock(&p->lock);

        if (pool_job_check_cancel(job) != POOL_CANCEL_NONE)
                return -ECANCELED;
        r = image_store_load_burst(p->store, j->id, &rec, &burst);
        if (r < 0)
                return r;
        req = (struct pipeline_request) {
                .width = burst.width, .height = burst.height, .chroma = burst.chroma,
                .n_frames = burst.n_frames, .frames = burst.frames, .quality = rec.quality,
                .capture_realtime_us = rec.created_us,
                .camera_make = rec.make, .camera_model = rec.model,
                .check_cancel = check_cancel, .cancel_data = job,
        };
        r = pipeline(&req, &res);
        stored_burst_done(&burst);
        if (r < 0)
                return r;
        /* Cancelled while encoding: keep the image pending rather than finish behind the
         * caller's back. */
        if (pool_job_check_cancel(job) != POOL_CANCEL_NONE) {
                free(res.jpeg);
                return -ECANCELED;
        }
        r = image_store_write_final(p->store, j->id, res.jpeg, res.size);
        free(res.jpeg);
        return r;
}

/* A failure that may be retried (timeout, abnormal): back to pending until max_retries. */
static void fail_retryable(struct image_processor *p, struct image_entry *e, enum image_error code) {
        e->rec.retries++;
        e->rec.last_error = code;
        e->rec.state = e->rec.retries > p->config.max_retries ? IMAGE_STATE_ERROR : IMAGE_STATE_PENDING;
        log_info("image %s: %s (attempt %u of %u)%s", e->id, image_error_to_string(code), e->rec.retries,
                 p->config.max_retries + 1, e->rec.state == IMAGE_STATE_ERROR ? ", giving up" : "");
        image_processor_post_error(p, e->id, code);
}

/* The image's final.jpg is written: record "done", drop the burst, announce. Runs without
 * the lock (I/O); the entry may have been removed or re-queued meanwhile. */
static void finish_done(struct image_processor *p, const char *id) {
        struct image_done_info info;
        struct image_entry *e;
        uint64_t bytes = 0;
        int r, fd;

        r = image_processor_flush_record(p, id);
        if (r == -ENOENT)
                return; /* removed meanwhile */
        if (r >= 0)
                r = image_store_drop_burst(p->store, id, &bytes);

        pthread_mutex_lock(&p->lock);
        e = image_entry_find(p, id);
        if (!e || e->removing || e->rec.state != IMAGE_STATE_DONE) {
                pthread_mutex_unlock(&p->lock);
                return;
        }
        if (r < 0) {
                /* Not durably done: the burst stays, the image runs again. */
                log_warning_errno(r, "image %s: cannot record completion: %m", id);
                e->rec.state = IMAGE_STATE_PENDING;
                fail_retryable(p, e, IMAGE_ERROR_ABNORMAL);
                image_scheduler_schedule_locked(p);
                image_processor_notify_locked(p);
                pthread_mutex_unlock(&p->lock);
                (void) image_processor_flush_record(p, id);
                return;
        }
        p->used_bytes = p->used_bytes - MIN(p->used_bytes, e->bytes) + bytes;
        e->bytes = bytes;
        info = (struct image_done_info) {
                .width = e->rec.width, .height = e->rec.height,
                .quality = e->rec.quality, .frames = e->rec.frames,
        };
        pthread_mutex_unlock(&p->lock);

        fd = image_store_open_jpeg(p->store, id, true);
        if (fd >= 0) {
                off_t end = lseek(fd, 0, SEEK_END);
                info.size = end > 0 ? (uint64_t) end : 0;
                close(fd);
        }
        pthread_mutex_lock(&p->lock);
        image_processor_post_done(p, id, &info);
        image_processor_notify_locked(p); /* the quota status may have changed */
        pthread_mutex_unlock(&p->lock);
}

static void image_job_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason) {
        struct image_job *j = userdata;
        struct image_processor *p = j->p;
        struct image_entry *e;
        bool was_running, flush = false, done = false;

        pthread_mutex_lock(&p->lock);
        e = image_entry_find(p, j->id);
        if (!e || e->job_id != j->job_id)
                goto finish; /* stale submission */
        was_running = e->job_running;
        e->job_id = 0;
        e->job = NULL;
        e->job_running = false;

        if (e->removing || reason == POOL_CANCEL_REMOVED) {
                int r = image_store_remove(p->store, e->id);
                if (r < 0)
                        log_warning_errno(r, "image %s: cannot delete: %m", e->id);
                image_entry_unlink(p, e);
                goto finish;
        }

        if (result == 0) {
                e->rec.state = IMAGE_STATE_DONE;
                e->rec.last_error = _IMAGE_ERROR_INVALID;
                done = true;
        } else if (result == -ECANCELED && reason == POOL_CANCEL_TIMEOUT)
                fail_retryable(p, e, IMAGE_ERROR_TIMEOUT);
        else if (result == -ECANCELED || result == -ESTALE) {
                /* Preempted, interrupted, paused or shut down: nothing was wrong with it. */
                e->rec.state = IMAGE_STATE_PENDING;
                if (was_running && reason == POOL_CANCEL_INTERRUPT)
                        image_processor_post_error(p, e->id, IMAGE_ERROR_ABORT);
        } else if (result == -EBADMSG) {
                log_warning("image %s: its frames are unusable; giving up", e->id);
                e->rec.state = IMAGE_STATE_ERROR;
                e->rec.last_error = IMAGE_ERROR_PROCESS;
                image_processor_post_error(p, e->id, IMAGE_ERROR_PROCESS);
        } else {
                log_warning_errno(result, "image %s: processing failed: %m", e->id);
                fail_retryable(p, e, IMAGE_ERROR_ABNORMAL);
        }
        /* Back to plain pending after a cancel: the record on disk already says so. */
        flush = !done && (e->rec.state != IMAGE_STATE_PENDING || e->rec.last_error >= 0);
        image_scheduler_schedule_locked(p);

finish:
        image_processor_notify_locked(p);
        /* Wakes Interrupt/Remove waiters: this image no longer runs. */
        pthread_cond_broadcast(&p->job_ended);
        image_waiters_check_locked(p);
        pthread_mutex_unlock(&p->lock);

        if (done)
                finish_done(p, j->id);
        else if (flush)
                (void) image_processor_flush_record(p, j->id);

        pthread_mutex_lock(&p->lock);
        p->jobs_in_flight--;
        pthread_cond_broadcast(&p->job_ended);
        pthread_mutex_unlock(&p->lock);
        free(j);
}
