/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "config.h"
#include "media/exif.h"
#include "media/jpeg.h"
#include "process/image-processor-internal.h"
#include "shared/log.h"
#include "shared/macro.h"

static uint64_t realtime_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void copy_text(char dst[static JOB_RECORD_TEXT_MAX + 1], const char *src) {
        size_t n = 0;

        /* Printable ASCII only, bounded: the record parser insists on the same. */
        for (; src && src[n] && n < JOB_RECORD_TEXT_MAX; n++)
                dst[n] = src[n] >= 0x20 && src[n] <= 0x7e ? src[n] : '?';
        dst[n] = '\0';
}

static int encode_proxy(struct image_processor *p, const struct image_burst *b, uint64_t created_us,
                        struct jpeg_buffer *out) {
        const struct image_burst_frame *f = &b->frames[b->n_frames - 1];
        struct yuv_planes view = {
                .width = b->width, .height = b->height,
                .subsamp = b->chroma == IMAGE_CHROMA_420 ? YUV_SUBSAMP_420 : YUV_SUBSAMP_422,
                .plane = { f->y, f->cb, f->cr },
                .stride = { b->width, b->width / 2, b->width / 2 },
        };
        struct jpeg_buffer plain = {};
        struct exif_fields exif = {
                .make = b->camera_make && b->camera_make[0] ? b->camera_make : "camerad",
                .model = b->camera_model && b->camera_model[0] ? b->camera_model : NULL,
                .software = "camerad " CAMERAD_VERSION,
                .datetime_us = created_us,
                .width = b->width, .height = b->height, .orientation = 1,
        };
        uint8_t *tagged;
        size_t tagged_size;
        int r;

        pthread_mutex_lock(&p->encode_lock);
        r = p->proxy_encoder ? 0 : jpeg_encoder_new(&p->proxy_encoder);
        if (r >= 0)
                r = jpeg_encode_planes(p->proxy_encoder, &view, (int) b->quality, &plain);
        pthread_mutex_unlock(&p->encode_lock);
        if (r < 0) {
                jpeg_buffer_done(&plain);
                return r;
        }
        /* The proxy carries the same EXIF as the final will. */
        r = exif_insert_into_jpeg(plain.data, plain.size, &exif, &tagged, &tagged_size);
        jpeg_buffer_done(&plain);
        if (r < 0)
                return r;
        *out = (struct jpeg_buffer) { .data = tagged, .size = tagged_size, .allocated = tagged_size };
        return 0;
}

int image_processor_add(struct image_processor *p, const struct image_burst *burst,
                        char ret_id[static IMAGE_ID_LEN + 1]) {
        struct jpeg_buffer proxy = {};
        struct image_entry *e;
        bool over_quota;
        int r;

        if (!burst || !burst->frames || burst->quality < 1 || burst->quality > 100)
                return -EINVAL;
        r = image_burst_check(burst->width, burst->height, burst->chroma, burst->n_frames);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < burst->n_frames; i++)
                if (!burst->frames[i].y || !burst->frames[i].cb || !burst->frames[i].cr)
                        return -EINVAL;

        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        r = image_id_new(e->id);
        if (r < 0)
                goto fail;

        pthread_mutex_lock(&p->lock);
        over_quota = p->used_bytes >= p->config.quota_bytes;
        /* Strictly increasing, so "oldest first" is a total order even within a µs. */
        e->rec.created_us = MAX(burst->capture_realtime_us ? burst->capture_realtime_us : realtime_us(),
                                p->last_created_us + 1);
        p->last_created_us = e->rec.created_us;
        pthread_mutex_unlock(&p->lock);

        e->rec.state = IMAGE_STATE_PENDING;
        /* Over quota the burst is processed at once (and then dropped), never refused. */
        e->rec.requested = !burst->deferred || over_quota;
        e->rec.width = burst->width;
        e->rec.height = burst->height;
        e->rec.frames = burst->n_frames;
        e->rec.quality = burst->quality;
        e->rec.chroma = burst->chroma;
        e->rec.last_error = _IMAGE_ERROR_INVALID;
        copy_text(e->rec.make, burst->camera_make);
        copy_text(e->rec.model, burst->camera_model);

        if (!burst->proxy_jpeg) {
                r = encode_proxy(p, burst, e->rec.created_us, &proxy);
                if (r < 0)
                        goto fail;
        }
        /* The slow part (writing and syncing the burst) runs without the lock: nobody else
         * knows about this image yet. */
        r = image_store_create(p->store, e->id, &e->rec, burst,
                               burst->proxy_jpeg ? burst->proxy_jpeg : proxy.data,
                               burst->proxy_jpeg ? burst->proxy_size : proxy.size, &e->bytes);
        jpeg_buffer_done(&proxy);
        if (r < 0)
                goto fail;

        pthread_mutex_lock(&p->lock);
        image_entry_insert(p, e);
        memcpy(ret_id, e->id, IMAGE_ID_LEN + 1);
        image_scheduler_schedule_locked(p);
        image_processor_notify_locked(p);
        pthread_mutex_unlock(&p->lock);
        return 0;
fail:
        jpeg_buffer_done(&proxy);
        free(e);
        return r;
}

int image_processor_list_pending(struct image_processor *p, char ***ret) {
        char **list;
        size_t n = 0;

        pthread_mutex_lock(&p->lock);
        list = calloc(p->n_entries + 1, sizeof(char *));
        if (!list) {
                pthread_mutex_unlock(&p->lock);
                return -ENOMEM;
        }
        for (struct image_entry *e = p->head; e; e = e->next) {
                if (e->rec.state != IMAGE_STATE_PENDING && e->rec.state != IMAGE_STATE_RUNNING)
                        continue;
                list[n] = strdup(e->id);
                if (!list[n]) {
                        pthread_mutex_unlock(&p->lock);
                        for (size_t i = 0; i < n; i++)
                                free(list[i]);
                        free(list);
                        return -ENOMEM;
                }
                n++;
        }
        pthread_mutex_unlock(&p->lock);
        *ret = list;
        return 0;
}

int image_processor_get_info(struct image_processor *p, const char *id, struct image_info *ret) {
        struct image_entry *e;
        int r = -ENOENT;

        pthread_mutex_lock(&p->lock);
        e = image_entry_find(p, id);
        if (e && !e->removing) {
                *ret = (struct image_info) {
                        .state = e->rec.state, .requested = e->rec.requested,
                        .created_us = e->rec.created_us, .width = e->rec.width,
                        .height = e->rec.height, .frames = e->rec.frames,
                        .quality = e->rec.quality, .retries = e->rec.retries,
                        .last_error = e->rec.last_error,
                };
                r = 0;
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}

int image_processor_open_image(struct image_processor *p, const char *id, int *ret_fd, bool *ret_final) {
        struct image_entry *e;
        bool final;
        int fd;

        pthread_mutex_lock(&p->lock);
        e = image_entry_find(p, id);
        if (!e || e->removing) {
                pthread_mutex_unlock(&p->lock);
                return -ENOENT;
        }
        final = e->rec.state == IMAGE_STATE_DONE;
        /* Under the lock, so a RemoveImage cannot delete the file between check and open. */
        fd = image_store_open_jpeg(p->store, id, final);
        pthread_mutex_unlock(&p->lock);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        *ret_final = final;
        return 0;
}

int image_processor_process(struct image_processor *p, const char *id) {
        struct image_entry *e;
        bool changed = false;
        int r = 0;

        pthread_mutex_lock(&p->lock);
        e = image_entry_find(p, id);
        if (!e || e->removing) {
                r = -ENOENT;
                goto finish;
        }
        p->interrupted = false;
        if (e->rec.state != IMAGE_STATE_DONE) {
                changed = !e->rec.requested || e->rec.state == IMAGE_STATE_ERROR;
                if (e->rec.state == IMAGE_STATE_ERROR) {
                        /* Asked for explicitly: give a failed image another full try. */
                        e->rec.state = IMAGE_STATE_PENDING;
                        e->rec.retries = 0;
                }
                e->rec.requested = true;
                if (e->job_id != 0) {
                        image_scheduler_mark_requested_locked(e);
                        (void) pool_job_promote(p->pool, e->job_id);
                }
        }
        image_scheduler_schedule_locked(p);
finish:
        image_processor_notify_locked(p);
        pthread_mutex_unlock(&p->lock);
        /* The priority survives a restart; the job does not wait for this write. */
        if (changed)
                r = image_processor_flush_record(p, id);
        return r;
}

int image_processor_remove_begin_locked(struct image_processor *p, const char *id) {
        struct image_entry *e;
        uint64_t job_id;
        int r;

        e = image_entry_find(p, id);
        if (!e || e->removing)
                return -ENOENT;
        if (e->job_id == 0) {
                r = image_store_remove(p->store, e->id);
                if (r >= 0)
                        image_entry_unlink(p, e);
                image_processor_notify_locked(p);
                return r;
        }
        /* Its job's done() deletes it. */
        e->removing = true;
        job_id = e->job_id;
        pthread_mutex_unlock(&p->lock);
        (void) pool_job_cancel(p->pool, job_id, POOL_CANCEL_REMOVED);
        pthread_mutex_lock(&p->lock);
        return 1;
}

int image_processor_remove(struct image_processor *p, const char *id) {
        int r;

        pthread_mutex_lock(&p->lock);
        r = image_processor_remove_begin_locked(p, id);
        if (r > 0) {
                /* Wait for the job's done() so the data is gone on return. */
                struct timespec deadline;
                clock_gettime(CLOCK_MONOTONIC, &deadline);
                deadline.tv_sec += CANCEL_WAIT_US / 1000000u;
                r = 0;
                while (image_entry_find(p, id))
                        if (pthread_cond_timedwait(&p->job_ended, &p->lock, &deadline) == ETIMEDOUT) {
                                r = -ETIMEDOUT;
                                break;
                        }
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}

void image_processor_stop_all_locked(struct image_processor *p) {
        p->interrupted = true; /* nothing restarts until a resume (or the end of a Reset) */
        pthread_mutex_unlock(&p->lock);
        image_scheduler_cancel_all(p, false, POOL_CANCEL_INTERRUPT);
        pthread_mutex_lock(&p->lock);
}

int image_processor_interrupt(struct image_processor *p) {
        int r;

        pthread_mutex_lock(&p->lock);
        image_processor_stop_all_locked(p);
        r = image_scheduler_wait_stopped_locked(p, CANCEL_WAIT_US);
        image_processor_notify_locked(p);
        pthread_mutex_unlock(&p->lock);
        return r;
}

int image_processor_reset_finish(struct image_processor *p) {
        _cleanup_free_ char (*dirty)[IMAGE_ID_LEN + 1] = NULL;
        size_t n_dirty = 0;

        pthread_mutex_lock(&p->lock);
        dirty = calloc(p->n_entries + 1, sizeof *dirty);
        for (struct image_entry *e = p->head; e; e = e->next) {
                if (e->rec.state == IMAGE_STATE_DONE || e->removing)
                        continue;
                if (e->rec.state == IMAGE_STATE_ERROR || e->rec.retries > 0 || e->rec.last_error >= 0) {
                        if (e->rec.state == IMAGE_STATE_ERROR)
                                e->rec.state = IMAGE_STATE_PENDING;
                        e->rec.retries = 0;
                        e->rec.last_error = _IMAGE_ERROR_INVALID;
                        if (dirty)
                                memcpy(dirty[n_dirty++], e->id, IMAGE_ID_LEN + 1);
                }
        }
        p->interrupted = false;
        (void) pool_set_mode(p->pool, p->config.default_mode);
        image_scheduler_schedule_locked(p);
        image_processor_notify_locked(p);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < n_dirty; i++)
                (void) image_processor_flush_record(p, dirty[i]);
        return dirty ? 0 : -ENOMEM;
}

int image_processor_reset(struct image_processor *p) {
        int r, k;

        pthread_mutex_lock(&p->lock);
        image_processor_stop_all_locked(p);
        r = image_scheduler_wait_stopped_locked(p, CANCEL_WAIT_US);
        pthread_mutex_unlock(&p->lock);
        k = image_processor_reset_finish(p);
        return r < 0 ? r : k;
}

int image_processor_set_mode(struct image_processor *p, enum exec_mode mode) {
        int r;

        if (mode < 0 || mode >= _EXEC_MODE_MAX)
                return -EINVAL;
        pthread_mutex_lock(&p->lock);
        r = pool_set_mode(p->pool, mode);
        p->interrupted = false;
        image_scheduler_schedule_locked(p);
        image_processor_notify_locked(p);
        pthread_mutex_unlock(&p->lock);
        return r;
}

enum exec_mode image_processor_get_mode(struct image_processor *p) {
        return pool_get_mode(p->pool);
}

unsigned image_processor_concurrency(struct image_processor *p, enum exec_mode mode) {
        return pool_concurrency(p->pool, mode);
}

/* Cancels jobs; lock held on entry and on return (dropped meanwhile). */
static void stop_jobs_locked(struct image_processor *p, bool background_only, enum pool_cancel reason) {
        pthread_mutex_unlock(&p->lock);
        image_scheduler_cancel_all(p, background_only, reason);
        pthread_mutex_lock(&p->lock);
}

void image_processor_set_capture_active(struct image_processor *p, bool active) {
        pthread_mutex_lock(&p->lock);
        if (p->capture_active != active) {
                p->capture_active = active;
                if (active)
                        /* Running background work goes back to pending; requested stays. */
                        stop_jobs_locked(p, true, POOL_CANCEL_PREEMPTED);
                else
                        image_scheduler_schedule_locked(p);
        }
        image_processor_notify_locked(p);
        pthread_mutex_unlock(&p->lock);
}

enum image_status image_processor_get_status(struct image_processor *p) {
        enum image_status s;

        pthread_mutex_lock(&p->lock);
        s = p->used_bytes >= p->config.quota_bytes ? IMAGE_STATUS_SPACE_LIMIT_REACHED
            : p->interrupted || p->capture_active  ? IMAGE_STATUS_PREEMPTED
                                                   : IMAGE_STATUS_READY;
        pthread_mutex_unlock(&p->lock);
        return s;
}

unsigned image_processor_pending_count(struct image_processor *p) {
        unsigned n = 0;

        pthread_mutex_lock(&p->lock);
        for (struct image_entry *e = p->head; e; e = e->next)
                if (e->rec.state == IMAGE_STATE_PENDING || e->rec.state == IMAGE_STATE_RUNNING)
                        n++;
        pthread_mutex_unlock(&p->lock);
        return n;
}

unsigned image_processor_running_count(struct image_processor *p) {
        unsigned n = 0;

        pthread_mutex_lock(&p->lock);
        for (struct image_entry *e = p->head; e; e = e->next)
                if (e->job_running)
                        n++;
        pthread_mutex_unlock(&p->lock);
        return n;
}

uint64_t image_processor_used_bytes(struct image_processor *p) {
        uint64_t n;

        pthread_mutex_lock(&p->lock);
        n = p->used_bytes;
        pthread_mutex_unlock(&p->lock);
        return n;
}
