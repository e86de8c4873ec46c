/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <time.h>

#include "media/jpeg.h"
#include "process/image-pipeline.h"
#include "process/image-processor-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/mailbox.h"


/* ---- events ------------------------------------------------------------------------- */

enum event_kind { EVENT_DONE, EVENT_ERROR, EVENT_STATUS, EVENT_COUNTS };

struct event {
        struct event_sink *sink;
        enum event_kind kind;
        char id[IMAGE_ID_LEN + 1];
        struct image_done_info info;
        enum image_error code;
        enum image_status status;
        unsigned pending, running;
};

void image_event_sink_ref(struct event_sink *s) {
        atomic_fetch_add(&s->n_ref, 1);
}

void image_event_sink_unref(struct event_sink *s) {
        if (s && atomic_fetch_sub(&s->n_ref, 1) == 1)
                free(s);
}

/* Runs on the loop thread from mailbox_dispatch(). */
static void event_deliver(void *userdata) {
        struct event *ev = userdata;
        struct event_sink *s = ev->sink;

        if (atomic_load(&s->alive)) {
                struct image_processor *p = s->processor;
                switch (ev->kind) {
                case EVENT_DONE:
                        if (s->cb.process_done)
                                s->cb.process_done(p, ev->id, &ev->info, s->userdata);
                        break;
                case EVENT_ERROR:
                        if (s->cb.error)
                                s->cb.error(p, ev->id, ev->code, s->userdata);
                        break;
                case EVENT_STATUS:
                        if (s->cb.status_changed)
                                s->cb.status_changed(p, ev->status, s->userdata);
                        break;
                case EVENT_COUNTS:
                        if (s->cb.counts_changed)
                                s->cb.counts_changed(p, ev->pending, ev->running, s->userdata);
                        break;
                }
        }
        image_event_sink_unref(s);
        free(ev);
}

static void post(struct image_processor *p, const struct event *template) {
        struct event *ev = malloc(sizeof *ev);

        if (!ev) {
                log_error("image processor: out of memory, an event is lost");
                return;
        }
        *ev = *template;
        ev->sink = p->sink;
        image_event_sink_ref(p->sink);
        if (mailbox_post(p->mailbox, event_deliver, ev) < 0) {
                image_event_sink_unref(p->sink);
                free(ev);
                log_error("image processor: cannot post an event");
        }
}

void image_processor_post_done(struct image_processor *p, const char *id, const struct image_done_info *info) {
        struct event ev = { .kind = EVENT_DONE, .info = *info };
        memcpy(ev.id, id, IMAGE_ID_LEN + 1);
        post(p, &ev);
}

void image_processor_post_error(struct image_processor *p, const char *id, enum image_error code) {
        struct event ev = { .kind = EVENT_ERROR, .code = code };
        memcpy(ev.id, id, IMAGE_ID_LEN + 1);
        post(p, &ev);
}

static enum image_status status_locked(struct image_processor *p) {
        if (p->used_bytes >= p->config.quota_bytes)
                return IMAGE_STATUS_SPACE_LIMIT_REACHED;
        if (p->interrupted || p->capture_active)
                return IMAGE_STATUS_PREEMPTED;
        return IMAGE_STATUS_READY;
}

static void counts_locked(struct image_processor *p, unsigned *pending, unsigned *running) {
        *pending = *running = 0;
        for (struct image_entry *e = p->head; e; e = e->next) {
                if (e->rec.state == IMAGE_STATE_PENDING || e->rec.state == IMAGE_STATE_RUNNING)
                        (*pending)++;
                if (e->job_running)
                        (*running)++;
        }
}

void image_processor_notify_locked(struct image_processor *p) {
        enum image_status st = status_locked(p);
        unsigned pending, running;

        if (st != p->posted_status) {
                p->posted_status = st;
                post(p, &(struct event) { .kind = EVENT_STATUS, .status = st });
        }
        counts_locked(p, &pending, &running);
        if (pending != p->posted_pending || running != p->posted_running) {
                p->posted_pending = pending;
                p->posted_running = running;
                post(p, &(struct event) { .kind = EVENT_COUNTS, .pending = pending, .running = running });
        }
}

/* ---- entries -------------------------------------------------------------------------- */

struct image_entry *image_entry_find(struct image_processor *p, const char *id) {
        if (!image_id_is_valid(id))
                return NULL;
        for (struct image_entry *e = p->head; e; e = e->next)
                if (memcmp(e->id, id, IMAGE_ID_LEN) == 0)
                        return e;
        return NULL;
}

void image_entry_unlink(struct image_processor *p, struct image_entry *e) {
        if (e->prev)
                e->prev->next = e->next;
        else
                p->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                p->tail = e->prev;
        p->n_entries--;
        p->used_bytes -= MIN(p->used_bytes, e->bytes);
        free(e);
}

/* Keeps the list ordered by creation time (the scan finds folders in any order). */
void image_entry_insert(struct image_processor *p, struct image_entry *e) {
        struct image_entry *after = p->tail;

        while (after && after->rec.created_us > e->rec.created_us)
                after = after->prev;
        e->prev = after;
        e->next = after ? after->next : p->head;
        if (e->next)
                e->next->prev = e;
        else
                p->tail = e;
        if (after)
                after->next = e;
        else
                p->head = e;
        p->n_entries++;
        p->used_bytes += e->bytes;
        p->last_created_us = MAX(p->last_created_us, e->rec.created_us);
}

int image_processor_flush_record(struct image_processor *p, const char *id) {
        struct job_record rec;
        struct image_entry *e;
        int r;

        pthread_mutex_lock(&p->io_lock);
        pthread_mutex_lock(&p->lock);
        e = image_entry_find(p, id);
        if (!e || e->removing) {
                pthread_mutex_unlock(&p->lock);
                pthread_mutex_unlock(&p->io_lock);
                return -ENOENT;
        }
        rec = e->rec;
        pthread_mutex_unlock(&p->lock);
        /* "running" is never written: on disk a running image is pending (see the scheduler). */
        if (rec.state == IMAGE_STATE_RUNNING)
                rec.state = IMAGE_STATE_PENDING;
        r = image_store_write_record(p->store, id, &rec);
        pthread_mutex_unlock(&p->io_lock);
        if (r < 0)
                log_warning_errno(r, "image %s: cannot write its record: %m", id);
        return r;
}

static int scan_found(const char *id, const struct job_record *rec, uint64_t bytes, void *userdata) {
        struct image_processor *p = userdata;
        struct image_entry *e = calloc(1, sizeof *e);

        if (!e)
                return -ENOMEM;
        memcpy(e->id, id, IMAGE_ID_LEN + 1);
        e->rec = *rec;
        e->bytes = bytes;
        image_entry_insert(p, e);
        return 0;
}

/* ---- life cycle ----------------------------------------------------------------------- */

int image_processor_new(const struct image_processor_params *params, struct image_processor **ret) {
        struct image_processor *p;
        int r;

        if (!params || !params->state_dir || !params->config || !params->pool || !params->mailbox)
                return -EINVAL;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_mutex_init(&p->io_lock, NULL);
        pthread_mutex_init(&p->encode_lock, NULL);
        {
                pthread_condattr_t attr;
                pthread_condattr_init(&attr);
                pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                pthread_cond_init(&p->job_ended, &attr);
                pthread_condattr_destroy(&attr);
        }
        p->uid = params->uid;
        p->capture_active = params->capture_active;
        p->config = *params->config;
        p->mailbox = params->mailbox;
        p->pipeline = image_pipeline_run;
        p->pool = pool_ref(params->pool);
        p->sink = calloc(1, sizeof *p->sink);
        if (!p->sink) {
                r = -ENOMEM;
                goto fail;
        }
        atomic_init(&p->sink->n_ref, 1);
        atomic_init(&p->sink->alive, true);
        p->sink->processor = p;
        if (params->callbacks)
                p->sink->cb = *params->callbacks;
        p->sink->userdata = params->userdata;

        r = image_store_open(params->state_dir, params->uid, &p->store);
        if (r < 0)
                goto fail;
        r = image_store_scan(p->store, scan_found, p);
        if (r < 0)
                goto fail;

        pthread_mutex_lock(&p->lock);
        p->posted_status = status_locked(p);
        counts_locked(p, &p->posted_pending, &p->posted_running);
        image_scheduler_schedule_locked(p);
        pthread_mutex_unlock(&p->lock);
        log_debug("image processor for uid %u: %u images, %llu bytes", (unsigned) p->uid, p->n_entries,
                  (unsigned long long) p->used_bytes);
        *ret = p;
        return 0;
fail:
        image_processor_free(p);
        return r;
}

struct image_processor *image_processor_free(struct image_processor *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->shutting_down = true;
        pthread_mutex_unlock(&p->lock);
        if (p->pool)
                image_scheduler_cancel_all(p, false, POOL_CANCEL_SHUTDOWN);
        pthread_mutex_lock(&p->lock);
        if (image_scheduler_wait_idle_locked(p, CANCEL_WAIT_US * 4) < 0) {
                /* A wedged job still points at us; leaking is the only safe choice. */
                log_error("image processor: a job did not stop; leaking the processor");
                image_waiters_flush_locked(p, -ETIMEDOUT);
        } else {
                /* Every job has ended, so every waiter was posted; this is belt and braces. */
                image_waiters_flush_locked(p, 0);
                pthread_mutex_unlock(&p->lock);
                while (p->head)
                        image_entry_unlink(p, p->head);
                if (p->sink) {
                        atomic_store(&p->sink->alive, false);
                        image_event_sink_unref(p->sink);
                }
                pool_unref(p->pool);
                image_store_free(p->store);
                jpeg_encoder_free(p->proxy_encoder);
                pthread_cond_destroy(&p->job_ended);
                pthread_mutex_destroy(&p->encode_lock);
                pthread_mutex_destroy(&p->io_lock);
                pthread_mutex_destroy(&p->lock);
                free(p);
                return NULL;
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

void image_processor_set_pipeline(struct image_processor *p, image_pipeline_fn fn) {
        pthread_mutex_lock(&p->lock);
        p->pipeline = fn ? fn : image_pipeline_run;
        pthread_mutex_unlock(&p->lock);
}
