/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "media/avi-reader.h"
#include "media/avi-writer.h"
#include "process/pool.h"
#include "process/video-processor-internal.h"
#include "process/video-record.h"
#include "process/video-run.h"
#include "shared/fd-util.h"
#include "shared/id.h"
#include "shared/log.h"
#include "shared/mailbox.h"
#include "shared/macro.h"
#include "shared/private-dir.h"

struct progress_letter {
        struct video_processor *vp;
        char id[VIDEO_ID_MAX + 1];
        uint64_t generation; /* of the run that made it */
        uint32_t next_frame;
        uint64_t timestamp_us;
};


uint64_t video_realtime_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int video_fail(struct video_processor *vp, int error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(vp->message, sizeof vp->message, format, ap);
        va_end(ap);
        return error;
}

static struct video_processor *vp_ref(struct video_processor *vp) {
        atomic_fetch_add(&vp->n_ref, 1);
        return vp;
}

static void vp_unref(struct video_processor *vp) {
        if (atomic_fetch_sub(&vp->n_ref, 1) != 1)
                return;
        pthread_mutex_destroy(&vp->lock);
        pthread_cond_destroy(&vp->cond);
        free(vp);
}

struct video_entry *video_entry_find(struct video_processor *vp, const char *id) {
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (streq(e->rec.id, id))
                        return e;
        return NULL;
}

int video_entry_save(struct video_processor *vp, struct video_entry *e) {
        int r = video_record_save(vp->dir_fd, &e->rec);
        if (r < 0)
                log_error_errno(r, "Cannot save the record of video %s in %s: %m", e->rec.id, vp->dir_path);
        return r;
}

void video_processor_set_status(struct video_processor *vp, enum video_status status) {
        if (vp->status == status)
                return;
        vp->status = status;
        if (vp->cb.status)
                vp->cb.status(vp, status, vp->userdata);
}

void video_processor_pending_changed(struct video_processor *vp) {
        if (vp->cb.pending_changed)
                vp->cb.pending_changed(vp, vp->userdata);
}

/* Drops the output stream (and with it the commit) of e. */
void video_entry_drop_output(struct video_entry *e) {
        /* A writer reopened for a resume that never ran has cut the old indexes: finish it
         * so the file is playable again (for a finished one this rewrites the same index). */
        if (e->writer && avi_writer_finish(e->writer) < 0)
                log_warning("Cannot finish the output of video %s", e->rec.id);
        e->output_fd = safe_close(e->output_fd);
        e->writer = avi_writer_free(e->writer);
        e->has_output = false;
        e->committed = false;
}

/* Drops everything a Prepare gave e. */
void video_entry_drop_session(struct video_entry *e) {
        assert(!e->run);
        video_entry_drop_output(e);
        e->reader = avi_reader_free(e->reader);
        free(e->streams);
        e->streams = NULL;
        e->n_streams = 0;
        yuv_image_done(&e->reference);
        e->have_reference = false;
}

bool video_entry_holds_files(const struct video_entry *e) {
        return e->reader || e->run || e->output_fd >= 0 || e->writer;
}

void video_entry_free(struct video_entry *e) {
        if (!e)
                return;
        video_entry_drop_session(e);
        free(e);
}

int video_entry_new(struct video_processor *vp, const char *id, struct video_entry **ret) {
        struct video_entry *e = calloc(1, sizeof *e), **tail;

        if (!e)
                return -ENOMEM;
        e->output_fd = -1;
        snprintf(e->rec.id, sizeof e->rec.id, "%s", id);
        e->rec.state = VIDEO_STATE_PENDING;
        e->rec.created_us = video_realtime_us();
        /* Newest last: the list stays oldest first. */
        for (tail = &vp->entries; *tail; tail = &(*tail)->next)
                ;
        *tail = e;
        *ret = e;
        return 0;
}

void video_entry_unlink(struct video_processor *vp, struct video_entry *e) {
        for (struct video_entry **p = &vp->entries; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        if (vp->current == e)
                vp->current = NULL;
}

/* ---- run results, on the loop thread ---- */

static void apply_run_result(struct video_processor *vp, struct video_entry *e, bool callbacks) {
        struct video_run *run = e->run;
        struct video_run_result res;
        struct avi_writer *w;

        video_run_get_result(run, &res);
        e->reader = video_run_take_reader(run);
        w = video_run_take_writer(run);
        e->have_reference = video_run_take_reference(run, &e->reference, &e->reference_frame);
        e->rec.next_frame = res.next_frame;
        e->rec.has_output = true;

        if (res.complete) {
                struct video_done_info info = {
                        .frames = (uint32_t) avi_writer_frame_count(w),
                        .size = avi_writer_file_size(w),
                        .width = e->rec.width,
                        .height = e->rec.height,
                        .quality = e->output_quality ?: e->settings.quality,
                        .fps = (double) e->rec.rate / e->rec.scale,
                        .duration_us = video_frame_time_us(e->rec.rate, e->rec.scale, avi_writer_frame_count(w)),
                        .elapsed_us = res.elapsed_us,
                        .preemptions = res.preemptions,
                };
                e->rec.state = VIDEO_STATE_DONE;
                e->rec.error[0] = 0;
                e->run = NULL;
                /* Done needs no files: a done video is processed again only after a new
                 * Prepare, so holding its input and output would only use up descriptors.
                 * The run finished the output; it is closed as it is. */
                avi_writer_free(w);
                video_entry_drop_session(e);
                if (vp->current == e)
                        vp->current = NULL;
                (void) video_entry_save(vp, e);
                log_info("Video %s done: %u frames, %" PRIu64 " bytes in %.2f s", e->rec.id,
                         info.frames, info.size, res.elapsed_us / 1e6);
                if (callbacks) {
                        video_processor_set_status(vp, VIDEO_STATUS_READY);
                        if (vp->cb.done)
                                vp->cb.done(vp, e->rec.id, &info, vp->userdata);
                        video_processor_pending_changed(vp);
                }
                return;
        }

        e->writer = w;
        e->run = NULL;
        if (res.error) {
                e->rec.state = VIDEO_STATE_ERROR;
                snprintf(e->rec.error, sizeof e->rec.error, "%s", res.message);
                (void) video_entry_save(vp, e);
                log_warning("Video %s failed at frame %u: %s", e->rec.id, res.next_frame, res.message);
                if (callbacks) {
                        if (res.error == -ENOSPC || res.error == -EDQUOT)
                                video_processor_set_status(vp, VIDEO_STATUS_SPACE_LIMIT_REACHED);
                        if (vp->cb.error)
                                vp->cb.error(vp, e->rec.id, res.code, res.message, vp->userdata);
                }
                return;
        }

        e->rec.state = VIDEO_STATE_PENDING;
        (void) video_entry_save(vp, e);
        log_info("Video %s stopped at frame %u of %u", e->rec.id, res.next_frame, e->rec.frames);
        if (callbacks && vp->cb.error) {
                char msg[128];
                snprintf(msg, sizeof msg, "processing was interrupted at frame %u; resume from %" PRIu64 " µs",
                         res.next_frame, video_frame_time_us(e->rec.rate, e->rec.scale, res.next_frame));
                vp->cb.error(vp, e->rec.id, VIDEO_ERROR_ABORT, msg, vp->userdata);
        }
}

/* Applies every ended run. Loop thread. */
void video_processor_drain_ended(struct video_processor *vp, bool callbacks) {
        struct ended_node *list;

        pthread_mutex_lock(&vp->lock);
        list = vp->ended;
        vp->ended = NULL;
        pthread_mutex_unlock(&vp->lock);

        /* The list was built newest first; apply in the order the runs ended. */
        for (struct ended_node *reversed = NULL, *n;; list = n) {
                if (!list) {
                        list = reversed;
                        break;
                }
                n = list->next;
                list->next = reversed;
                reversed = list;
        }
        while (list) {
                struct ended_node *node = list;
                struct video_entry *e = NULL;

                list = node->next;
                for (struct video_entry *i = vp->entries; i; i = i->next)
                        if (i->run == node->run)
                                e = i;
                if (e) {
                        e->node = NULL;
                        apply_run_result(vp, e, callbacks);
                }
                video_run_free(node->run);
                free(node);
        }
}

static void drain_letter(void *userdata) {
        struct video_processor *vp = userdata;

        if (!vp->dead)
                video_processor_drain_ended(vp, true);
        vp_unref(vp);
}

/* Run thread. */
static void run_ended(struct video_run *run, void *userdata) {
        struct ended_node *node = userdata;
        struct video_processor *vp = node->vp;
        bool posted;

        /* Everything, the letter's reference and its posting included, happens under the
         * lock that `ended` is set under: once `ended` is visible, video_processor_free() on
         * the loop thread may drop its own reference and free the run, the node and then
         * the mailbox's owner may free the mailbox. A reference taken after the unlock
         * could come too late (vp freed), a post after it could hit a freed mailbox. The
         * loop cannot see `ended` before the unlock, so here vp, run and mailbox live. */
        pthread_mutex_lock(&vp->lock);
        node->run = run; /* may be called before video_run_start() has returned it */
        node->ended = true;
        node->next = vp->ended;
        vp->ended = node;
        vp->n_running--;
        posted = mailbox_post(vp->mailbox, drain_letter, vp_ref(vp)) >= 0;
        if (!posted)
                /* The result is applied at the next interrupt/reset/free instead. */
                log_error("Cannot post the end of video %s to the event loop", video_run_id(run));
        pthread_cond_broadcast(&vp->cond);
        pthread_mutex_unlock(&vp->lock);

        if (!posted)
                vp_unref(vp); /* ours, not the loop's: vp is still alive here */
}

static void progress_letter(void *userdata) {
        struct progress_letter *l = userdata;
        struct video_processor *vp = l->vp;
        struct video_entry *e;

        /* Only for the run that is current: a letter of an interrupted run that arrives
         * after a resume started would move the resume point back and report an old time. */
        if (!vp->dead && (e = video_entry_find(vp, l->id)) && e->run && e->node &&
            e->node->generation == l->generation) {
                /* Persisting each step bounds what a crash can lose to ~250 ms of work. */
                e->rec.next_frame = l->next_frame;
                (void) video_entry_save(vp, e);
                if (vp->cb.progress)
                        vp->cb.progress(vp, l->id, l->timestamp_us, vp->userdata);
        }
        vp_unref(vp);
        free(l);
}

/* Run thread. */
static void run_progress(struct video_run *run, uint32_t next_frame, uint64_t timestamp_us, void *userdata) {
        struct ended_node *node = userdata;
        struct video_processor *vp = node->vp;
        struct progress_letter *l = malloc(sizeof *l);

        if (!l)
                return; /* a missed Progress is harmless */
        l->vp = vp_ref(vp);
        snprintf(l->id, sizeof l->id, "%s", video_run_id(run));
        l->generation = node->generation;
        l->next_frame = next_frame;
        l->timestamp_us = timestamp_us;
        if (mailbox_post(vp->mailbox, progress_letter, l) < 0) {
                vp_unref(vp);
                free(l);
        }
}

/* Waits (loop thread) until the run of e has ended; bounded by one frame's work because
 * every job checks its stop flag before each step. */
void video_entry_wait_run_ended(struct video_processor *vp, struct video_entry *e) {
        pthread_mutex_lock(&vp->lock);
        while (e->node && !e->node->ended)
                pthread_cond_wait(&vp->cond, &vp->lock);
        pthread_mutex_unlock(&vp->lock);
}

void video_processor_stop_all(struct video_processor *vp, enum pool_cancel reason) {
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (e->run)
                        video_run_stop(e->run, reason);
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (e->run)
                        video_entry_wait_run_ended(vp, e);
}

/* ---- construction ---- */

static int compare_records(const void *a, const void *b) {
        const struct video_record *x = a, *y = b;
        if (x->created_us != y->created_us)
                return x->created_us < y->created_us ? -1 : 1;
        return strcmp(x->id, y->id);
}

int video_processor_new(const char *state_dir, uid_t uid, struct worker_pool *pool,
                        struct mailbox *mailbox, const struct video_processor_callbacks *callbacks,
                        void *userdata, struct video_processor **ret) {
        _cleanup_free_ struct video_record *records = NULL;
        struct video_processor *vp;
        size_t n = 0;
        int r;

        if (!state_dir || !pool || !mailbox || !ret)
                return -EINVAL;
        vp = calloc(1, sizeof *vp);
        if (!vp)
                return -ENOMEM;
        atomic_init(&vp->n_ref, 1);
        pthread_mutex_init(&vp->lock, NULL);
        pthread_cond_init(&vp->cond, NULL);
        vp->uid = uid;
        vp->dir_fd = -1;
        vp->mailbox = mailbox;
        vp->status = VIDEO_STATUS_READY;
        if (callbacks)
                vp->cb = *callbacks;
        vp->userdata = userdata;
        if (asprintf(&vp->dir_path, "%s/videos/%u", state_dir, (unsigned) uid) < 0) {
                vp->dir_path = NULL;
                r = -ENOMEM;
                goto fail;
        }
        vp->dir_fd = open_private_user_dir(state_dir, "videos", uid);
        if (vp->dir_fd < 0) {
                r = vp->dir_fd;
                goto fail;
        }
        r = video_record_load_all(vp->dir_fd, &records, &n);
        if (r < 0) {
                log_error_errno(r, "Cannot read %s: %m", vp->dir_path);
                goto fail;
        }
        if (n > 0)
                qsort(records, n, sizeof *records, compare_records);
        for (size_t i = 0; i < n; i++) {
                struct video_entry *e;
                r = video_entry_new(vp, records[i].id, &e);
                if (r < 0)
                        goto fail;
                e->rec = records[i];
        }
        if (n > 0)
                log_info("Loaded %zu video record(s) for uid %u", n, (unsigned) uid);
        vp->pool = pool_ref(pool);
        *ret = vp;
        return 0;
fail:
        video_processor_free(vp);
        return r;
}

struct video_processor *video_processor_free(struct video_processor *vp) {
        if (!vp)
                return NULL;
        video_processor_stop_all(vp, POOL_CANCEL_SHUTDOWN);
        /* Save resume points, but no callbacks: the owner is going away. */
        video_processor_drain_ended(vp, false);
        while (vp->entries) {
                struct video_entry *e = vp->entries;
                vp->entries = e->next;
                video_entry_free(e);
        }
        vp->current = NULL;
        safe_close(vp->dir_fd);
        free(vp->dir_path);
        if (vp->pool)
                pool_unref(vp->pool);
        vp->dead = true;
        vp_unref(vp);
        return NULL;
}

const char *video_processor_message(struct video_processor *vp) {
        return vp->message;
}

enum video_status video_processor_status(struct video_processor *vp) {
        return vp->status;
}

unsigned video_processor_running_count(struct video_processor *vp) {
        unsigned n = 0;
        for (struct video_entry *e = vp->entries; e; e = e->next)
                n += e->run != NULL;
        return n;
}

int video_entry_start_run(struct video_processor *vp, struct video_entry *e, uint32_t from,
                     struct avi_writer *writer, bool seed) {
        struct ended_node *node = calloc(1, sizeof *node);
        struct video_run *run = NULL;
        struct video_run_params p = {
                .id = e->rec.id,
                .pool = vp->pool,
                .reader = e->reader,
                .writer = writer,
                .seed = seed ? &e->reference : NULL,
                .first = from,
                .end = e->rec.frames,
                .rate = e->rec.rate,
                .scale = e->rec.scale,
                .width = e->rec.width,
                .height = e->rec.height,
                .settings = e->settings,
                .quality = e->output_quality ?: e->settings.quality,
                /* Two frames per worker keep every worker busy while the ordered steps run. */
                .window = 2 * pool_concurrency(vp->pool, pool_get_mode(vp->pool)) + 1,
                /* Background order by request time: images captured earlier go first. */
                .order = video_realtime_us(),
                .progress = run_progress,
                .ended = run_ended,
                .userdata = node,
        };
        int r;

        if (!node)
                return -ENOMEM;
        node->vp = vp;
        node->generation = ++vp->run_generation;
        e->node = node;
        pthread_mutex_lock(&vp->lock);
        vp->n_running++;
        pthread_mutex_unlock(&vp->lock);
        /* The run may end before this returns; its result is applied on this (the loop)
         * thread only, after e->run is set below. */
        r = video_run_start(&p, &run);
        if (r < 0) {
                pthread_mutex_lock(&vp->lock);
                vp->n_running--;
                pthread_mutex_unlock(&vp->lock);
                e->node = NULL;
                free(node);
                return r;
        }
        e->run = run;
        e->reader = NULL;
        if (seed)
                e->have_reference = false;
        return 0;
}
