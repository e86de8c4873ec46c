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
#include "process/video-processor.h"
#include "process/video-record.h"
#include "process/video-run.h"
#include "shared/fd-util.h"
#include "shared/id.h"
#include "shared/log.h"
#include "shared/mailbox.h"
#include "shared/macro.h"

/* One video id: its persistent record plus what this daemon run holds for it. */
struct video_entry {
        struct video_entry *next;
        struct video_record rec;
        /* Session side (after prepare; dropped by reset, never persisted). */
        struct avi_reader *reader;
        struct video_stream_info *streams;
        size_t n_streams;
        int video_stream_id;
        bool has_output;
        int output_fd;
        int output_stream_id;
        int output_quality;
        bool committed;
        struct video_settings settings;
        /* Kept from the last run on this output, so a resume needs no reopen. */
        struct avi_writer *writer;
        struct yuv_image reference;
        bool have_reference;
        uint32_t reference_frame;
        /* While running. */
        struct video_run *run;
        struct ended_node *node;
};

/* A run's place in the processor's "ended" list, allocated before the run starts so that
 * ending never needs memory. */
struct ended_node {
        struct ended_node *next;
        struct video_processor *vp;
        struct video_run *run;
        bool ended;
};

struct video_processor {
        atomic_int n_ref;
        bool dead; /* video_processor_free() was called: letters only drop their reference */
        uid_t uid;
        char *dir_path;
        int dir_fd;
        struct worker_pool *pool;
        struct mailbox *mailbox;
        struct video_processor_callbacks cb;
        void *userdata;
        struct video_entry *entries; /* oldest first */
        struct video_entry *current; /* the video that Create/Commit/ReleaseStreams act on */
        const char *status;
        char message[512];

        pthread_mutex_t lock; /* the ended list; shared with run threads */
        pthread_cond_t cond;
        struct ended_node *ended;
        unsigned n_running;
};

struct progress_letter {
        struct video_processor *vp;
        char id[VIDEO_ID_MAX + 1];
        uint32_t next_frame;
        uint64_t timestamp_us;
};

static const char *const state_names[_VIDEO_STATE_MAX] = {
        [VIDEO_STATE_PENDING] = "pending",
        [VIDEO_STATE_RUNNING] = "running",
        [VIDEO_STATE_DONE] = "done",
        [VIDEO_STATE_ERROR] = "error",
};

const char *video_state_to_string(enum video_state s) {
        return s >= 0 && s < _VIDEO_STATE_MAX ? state_names[s] : NULL;
}

const char *video_stream_type_to_string(enum video_stream_type t) {
        static const char *const names[_VIDEO_STREAM_TYPE_MAX] = {
                [VIDEO_STREAM_VIDEO] = "video",
                [VIDEO_STREAM_METADATA] = "metadata",
                [VIDEO_STREAM_MAKER] = "maker",
        };
        return t >= 0 && t < _VIDEO_STREAM_TYPE_MAX ? names[t] : NULL;
}

static uint64_t realtime_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

_printf_(3, 4)
static int say(struct video_processor *vp, int error, const char *format, ...) {
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

static struct video_entry *find_entry(struct video_processor *vp, const char *id) {
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (streq(e->rec.id, id))
                        return e;
        return NULL;
}

static int save_record(struct video_processor *vp, struct video_entry *e) {
        int r = video_record_save(vp->dir_fd, &e->rec);
        if (r < 0)
                log_error_errno(r, "Cannot save the record of video %s in %s: %m", e->rec.id, vp->dir_path);
        return r;
}

static void set_status(struct video_processor *vp, const char *status) {
        if (streq(vp->status, status))
                return;
        vp->status = status;
        if (vp->cb.status)
                vp->cb.status(vp, status, vp->userdata);
}

static void pending_changed(struct video_processor *vp) {
        if (vp->cb.pending_changed)
                vp->cb.pending_changed(vp, vp->userdata);
}

/* Drops the output stream (and with it the commit) of e. */
static void entry_drop_output(struct video_entry *e) {
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
static void entry_drop_session(struct video_entry *e) {
        assert(!e->run);
        entry_drop_output(e);
        e->reader = avi_reader_free(e->reader);
        free(e->streams);
        e->streams = NULL;
        e->n_streams = 0;
        yuv_image_done(&e->reference);
        e->have_reference = false;
}

static void entry_free(struct video_entry *e) {
        if (!e)
                return;
        entry_drop_session(e);
        free(e);
}

static int entry_new(struct video_processor *vp, const char *id, struct video_entry **ret) {
        struct video_entry *e = calloc(1, sizeof *e), **tail;

        if (!e)
                return -ENOMEM;
        e->output_fd = -1;
        snprintf(e->rec.id, sizeof e->rec.id, "%s", id);
        e->rec.state = VIDEO_STATE_PENDING;
        e->rec.created_us = realtime_us();
        /* Newest last: the list stays oldest first. */
        for (tail = &vp->entries; *tail; tail = &(*tail)->next)
                ;
        *tail = e;
        *ret = e;
        return 0;
}

static void entry_unlink(struct video_processor *vp, struct video_entry *e) {
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
                e->writer = w;
                e->run = NULL;
                (void) save_record(vp, e);
                log_info("Video %s done: %u frames, %" PRIu64 " bytes in %.2f s", e->rec.id,
                         info.frames, info.size, res.elapsed_us / 1e6);
                if (callbacks) {
                        set_status(vp, "ready");
                        if (vp->cb.done)
                                vp->cb.done(vp, e->rec.id, &info, vp->userdata);
                        pending_changed(vp);
                }
                return;
        }

        e->writer = w;
        e->run = NULL;
        if (res.error) {
                e->rec.state = VIDEO_STATE_ERROR;
                snprintf(e->rec.error, sizeof e->rec.error, "%s", res.message);
                (void) save_record(vp, e);
                log_warning("Video %s failed at frame %u: %s", e->rec.id, res.next_frame, res.message);
                if (callbacks) {
                        if (res.error == -ENOSPC || res.error == -EDQUOT)
                                set_status(vp, "space-limit-reached");
                        if (vp->cb.error)
                                vp->cb.error(vp, e->rec.id, res.code, res.message, vp->userdata);
                }
                return;
        }

        e->rec.state = VIDEO_STATE_PENDING;
        (void) save_record(vp, e);
        log_info("Video %s stopped at frame %u of %u", e->rec.id, res.next_frame, e->rec.frames);
        if (callbacks && vp->cb.error) {
                char msg[128];
                snprintf(msg, sizeof msg, "processing was interrupted at frame %u; resume from %" PRIu64 " µs",
                         res.next_frame, video_frame_time_us(e->rec.rate, e->rec.scale, res.next_frame));
                vp->cb.error(vp, e->rec.id, "abort", msg, vp->userdata);
        }
}

/* Applies every ended run. Loop thread. */
static void drain_ended(struct video_processor *vp, bool callbacks) {
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
                drain_ended(vp, true);
        vp_unref(vp);
}

/* Run thread. */
static void run_ended(struct video_run *run, void *userdata) {
        struct ended_node *node = userdata;
        struct video_processor *vp = node->vp;

        pthread_mutex_lock(&vp->lock);
        node->run = run; /* may be called before video_run_start() has returned it */
        node->ended = true;
        node->next = vp->ended;
        vp->ended = node;
        vp->n_running--;
        pthread_cond_broadcast(&vp->cond);
        pthread_mutex_unlock(&vp->lock);

        if (mailbox_post(vp->mailbox, drain_letter, vp_ref(vp)) < 0) {
                /* The result is applied at the next interrupt/reset/free instead. */
                log_error("Cannot post the end of video %s to the event loop", video_run_id(run));
                vp_unref(vp);
        }
}

static void progress_letter(void *userdata) {
        struct progress_letter *l = userdata;
        struct video_processor *vp = l->vp;
        struct video_entry *e;

        if (!vp->dead && (e = find_entry(vp, l->id)) && e->run) {
                /* Persisting each step bounds what a crash can lose to ~250 ms of work. */
                e->rec.next_frame = l->next_frame;
                (void) save_record(vp, e);
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
        l->next_frame = next_frame;
        l->timestamp_us = timestamp_us;
        if (mailbox_post(vp->mailbox, progress_letter, l) < 0) {
                vp_unref(vp);
                free(l);
        }
}

/* Waits (loop thread) until the run of e has ended; bounded by one frame's work because
 * every job checks its stop flag before each step. */
static void wait_run_ended(struct video_processor *vp, struct video_entry *e) {
        pthread_mutex_lock(&vp->lock);
        while (e->node && !e->node->ended)
                pthread_cond_wait(&vp->cond, &vp->lock);
        pthread_mutex_unlock(&vp->lock);
}

static void stop_all_and_wait(struct video_processor *vp, enum pool_cancel reason) {
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (e->run)
                        video_run_stop(e->run, reason);
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (e->run)
                        wait_run_ended(vp, e);
}

/* ---- construction ---- */

static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, mode) < 0 && errno != EEXIST)
                                return negative_errno();
                        *s = '/';
                }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

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
        vp->status = "ready";
        if (callbacks)
                vp->cb = *callbacks;
        vp->userdata = userdata;
        if (asprintf(&vp->dir_path, "%s/videos/%u", state_dir, (unsigned) uid) < 0) {
                vp->dir_path = NULL;
                r = -ENOMEM;
                goto fail;
        }
        r = mkdir_p(vp->dir_path, 0700);
        if (r < 0) {
                log_error_errno(r, "Cannot create %s: %m", vp->dir_path);
                goto fail;
        }
        vp->dir_fd = open(vp->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (vp->dir_fd < 0) {
                r = log_error_errno(errno, "Cannot open %s: %m", vp->dir_path);
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
                r = entry_new(vp, records[i].id, &e);
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
        stop_all_and_wait(vp, POOL_CANCEL_SHUTDOWN);
        /* Save resume points, but no callbacks: the owner is going away. */
        drain_ended(vp, false);
        while (vp->entries) {
                struct video_entry *e = vp->entries;
                vp->entries = e->next;
                entry_free(e);
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

const char *video_processor_status(struct video_processor *vp) {
        return vp->status;
}

unsigned video_processor_running_count(struct video_processor *vp) {
        unsigned n = 0;
        for (struct video_entry *e = vp->entries; e; e = e->next)
                n += e->run != NULL;
        return n;
}

/* ---- the session flow ---- */

static int check_id(struct video_processor *vp, const char *id, struct video_entry **ret) {
        struct video_entry *e;

        if (!id || !video_id_is_valid(id))
                return say(vp, -ENOENT, "invalid id: a video id is 1-64 characters of [A-Za-z0-9._-]");
        e = find_entry(vp, id);
        if (!e)
                return say(vp, -ENOENT, "invalid id: no video '%s' was prepared or recorded", id);
        *ret = e;
        return 0;
}

static int fill_streams(struct video_entry *e) {
        struct avi_reader *r = e->reader;
        unsigned n = avi_reader_n_streams(r), video = avi_reader_video_stream(r);
        struct video_stream_info *s = calloc(n, sizeof *s);

        if (!s)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                const struct avi_stream_info *a = avi_reader_stream(r, i);

                s[i].id = (int) a->id;
                s[i].type = a->type == AVI_STREAM_VIDEO ? VIDEO_STREAM_VIDEO : VIDEO_STREAM_METADATA;
                snprintf(s[i].format, sizeof s[i].format, "%s", a->codec);
                if (i == video) {
                        uint32_t rate, scale;
                        avi_reader_frame_rate(r, &rate, &scale);
                        s[i].width = a->width;
                        s[i].height = a->height;
                        s[i].fps = avi_reader_fps(r);
                        s[i].frames = (uint32_t) MIN(avi_reader_frame_count(r), (uint64_t) UINT32_MAX);
                        s[i].duration_us = video_frame_time_us(rate, scale, s[i].frames);
                        e->video_stream_id = s[i].id;
                } else {
                        s[i].width = a->type == AVI_STREAM_VIDEO ? a->width : 0;
                        s[i].height = a->type == AVI_STREAM_VIDEO ? a->height : 0;
                        s[i].fps = a->scale ? (double) a->rate / a->scale : 0;
                        s[i].frames = (uint32_t) MIN(a->length, (uint64_t) UINT32_MAX);
                        s[i].duration_us = video_frame_time_us(a->rate, a->scale, s[i].frames);
                }
        }
        free(e->streams);
        e->streams = s;
        e->n_streams = n;
        return 0;
}

int video_processor_prepare(struct video_processor *vp, const char *id, int fd,
                            struct video_stream_info **ret_streams, size_t *ret_n) {
        _cleanup_(avi_reader_freep) struct avi_reader *reader = NULL;
        char reason[AVI_ERROR_MAX] = "";
        struct video_stream_info *copy;
        struct video_entry *e;
        const char *why;
        uint32_t rate, scale, frames;
        bool created = false;
        int r;

        if (!id || !video_id_is_valid(id))
                return say(vp, -ENOENT, "invalid id: a video id is 1-64 characters of [A-Za-z0-9._-]");
        e = find_entry(vp, id);
        if (e && e->run)
                return say(vp, -EPERM, "video '%s' is running; Interrupt it before preparing it again", id);
        if (fd_check_regular_file(fd, FD_NEED_READ, &why) < 0)
                return say(vp, -EINVAL, "the file descriptor for video '%s' %s", id, why);
        r = avi_reader_open(fd, &reader, reason, sizeof reason);
        if (r == -ENOMEM)
                return say(vp, r, "out of memory reading video '%s'", id);
        if (r < 0)
                return say(vp, -EINVAL, "video '%s' is not a readable Motion-JPEG AVI: %s", id,
                           reason[0] ? reason : strerror(-r));
        avi_reader_frame_rate(reader, &rate, &scale);
        if (rate == 0 || scale == 0)
                return say(vp, -EINVAL, "video '%s' has no frame rate (rate %u, scale %u)", id, rate, scale);
        if (avi_reader_frame_count(reader) > UINT32_MAX)
                return say(vp, -EINVAL, "video '%s' has too many frames", id);
        frames = (uint32_t) avi_reader_frame_count(reader);

        if (!e) {
                r = entry_new(vp, id, &e);
                if (r < 0)
                        return say(vp, r, "out of memory");
                created = true;
        } else {
                entry_drop_session(e);
                if (e->rec.state == VIDEO_STATE_DONE ||
                    (e->rec.frames && e->rec.frames != frames) ||
                    (e->rec.width && e->rec.width != avi_reader_stream(reader, avi_reader_video_stream(reader))->width)) {
                        /* Done before, or another file under the same id: start afresh. */
                        e->rec.next_frame = 0;
                        e->rec.has_output = false;
                        e->rec.output_start = 0;
                        e->rec.state = VIDEO_STATE_PENDING;
                        e->rec.error[0] = 0;
                        created = true; /* back on the pending list */
                }
        }
        e->reader = TAKE_PTR(reader);
        r = fill_streams(e);
        if (r < 0) {
                entry_drop_session(e);
                return say(vp, r, "out of memory");
        }
        {
                const struct avi_stream_info *v = avi_reader_stream(e->reader, avi_reader_video_stream(e->reader));
                e->rec.width = v->width;
                e->rec.height = v->height;
        }
        e->rec.rate = rate;
        e->rec.scale = scale;
        e->rec.frames = frames;
        r = save_record(vp, e);
        if (r < 0) {
                if (created && e->rec.next_frame == 0 && !e->rec.recorded) {
                        entry_unlink(vp, e);
                        entry_free(e);
                } else
                        entry_drop_session(e);
                return say(vp, r, "cannot save the record of video '%s': %s", id, strerror(-r));
        }

        if (vp->current && vp->current != e && !vp->current->committed)
                entry_drop_output(vp->current);
        vp->current = e;

        copy = malloc(e->n_streams * sizeof *copy + 1);
        if (!copy)
                return say(vp, -ENOMEM, "out of memory");
        memcpy(copy, e->streams, e->n_streams * sizeof *copy);
        *ret_streams = copy;
        *ret_n = e->n_streams;
        if (created)
                pending_changed(vp);
        return 0;
}

int video_processor_create_streams(struct video_processor *vp,
                                   const struct video_stream_output *outputs, size_t n) {
        struct video_entry *e = vp->current;
        const char *why;
        int fd;

        if (!e || !e->reader)
                return say(vp, -EPERM, "CreateStreams needs a prepared video; call Prepare first");
        if (e->run)
                return say(vp, -EPERM, "video '%s' is running; its streams cannot change now", e->rec.id);
        if (n == 0)
                return say(vp, -EINVAL, "no streams given");
        for (size_t i = 0; i < n; i++) {
                const struct video_stream_output *o = &outputs[i];
                bool known = false;

                for (size_t k = 0; k < e->n_streams; k++)
                        known = known || e->streams[k].id == o->stream_id;
                if (!known)
                        return say(vp, -EINVAL, "stream %d is not a stream of video '%s', which has %zu",
                                   o->stream_id, e->rec.id, e->n_streams);
                if (o->stream_id != e->video_stream_id)
                        return say(vp, -EINVAL, "stream %d cannot be processed; only the Motion-JPEG video stream %d can",
                                   o->stream_id, e->video_stream_id);
                if (e->has_output || i > 0)
                        return say(vp, -EINVAL, "stream %d already has an output; release it first", o->stream_id);
                if (o->quality != 0 && (o->quality < 1 || o->quality > 100))
                        return say(vp, -EINVAL, "quality for stream %d must be from 1 to 100, got %d",
                                   o->stream_id, o->quality);
                if (fd_check_regular_file(o->fd, FD_NEED_WRITE, &why) < 0)
                        return say(vp, -EINVAL, "the output file descriptor for stream %d %s", o->stream_id, why);
        }
        fd = fd_dup_cloexec(outputs[0].fd);
        if (fd < 0)
                return say(vp, fd, "cannot duplicate the output file descriptor: %s", strerror(-fd));
        entry_drop_output(e);
        e->output_fd = fd;
        e->output_stream_id = outputs[0].stream_id;
        e->output_quality = outputs[0].quality;
        e->has_output = true;
        return 0;
}

int video_processor_commit_streams(struct video_processor *vp, const void *json, size_t len) {
        struct video_entry *e = vp->current;
        struct video_settings s;
        char msg[256];
        int r;

        if (!e || !e->has_output)
                return say(vp, -EPERM, "CommitStreams needs created streams; call %s first",
                           e ? "CreateStreams" : "Prepare and CreateStreams");
        if (e->run)
                return say(vp, -EPERM, "video '%s' is running; its settings cannot change now", e->rec.id);
        r = video_settings_parse(json, len, &s, msg, sizeof msg);
        if (r < 0)
                return say(vp, r, "%s", r == -ENOMEM ? "out of memory" : msg);
        e->settings = s;
        e->committed = true;
        return 0;
}

int video_processor_release_streams(struct video_processor *vp, const int *stream_ids, size_t n) {
        struct video_entry *e = vp->current;

        if (!e || !e->has_output)
                return say(vp, -EPERM, "ReleaseStreams needs created streams; there are none");
        if (e->run)
                return say(vp, -EPERM, "video '%s' is running; Interrupt it before releasing its streams", e->rec.id);
        for (size_t i = 0; i < n; i++)
                if (stream_ids[i] != e->output_stream_id)
                        return say(vp, -EINVAL, "stream %d has no output (the output is on stream %d)",
                                   stream_ids[i], e->output_stream_id);
        if (n > 0)
                entry_drop_output(e);
        return 0;
}

static int start_run(struct video_processor *vp, struct video_entry *e, uint32_t from,
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
                .order = realtime_us(),
                .progress = run_progress,
                .ended = run_ended,
                .userdata = node,
        };
        int r;

        if (!node)
                return -ENOMEM;
        node->vp = vp;
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

int video_processor_process(struct video_processor *vp, const char *id, uint64_t timestamp_us) {
        struct video_entry *e;
        struct avi_writer *writer = NULL;
        uint64_t k;
        uint32_t from;
        bool append = false;
        int r;

        r = check_id(vp, id, &e);
        if (r < 0)
                return r;
        if (e->run)
                return say(vp, -EPERM, "video '%s' is already running", id);
        if (e->rec.state == VIDEO_STATE_DONE)
                return say(vp, -EPERM, "video '%s' is done; Prepare it again to process it anew", id);
        if (!e->reader || !e->committed)
                return say(vp, -EPERM, "ProcessVideo needs committed streams for video '%s'; it is %s "
                           "(call Prepare, CreateStreams and CommitStreams first)", id,
                           !e->reader ? "not prepared" : e->has_output ? "not committed" : "without streams");
        k = video_frame_at_time(e->rec.rate, e->rec.scale, timestamp_us);
        if (k >= e->rec.frames)
                return say(vp, -EINVAL, "timestamp %" PRIu64 " µs is past the last frame of video '%s' (%" PRIu64 " µs)",
                           timestamp_us, id, video_frame_time_us(e->rec.rate, e->rec.scale, e->rec.frames - 1));

        from = (uint32_t) k;
        if (k > 0 && e->rec.has_output && e->rec.output_start <= k) {
                /* A resume: continue the output an earlier run wrote. */
                uint64_t have;

                if (!e->writer) {
                        char reason[AVI_ERROR_MAX] = "";
                        r = avi_writer_open_append(e->output_fd, 0, &e->writer, reason, sizeof reason);
                        if (r < 0)
                                return say(vp, -EINVAL, "cannot resume video '%s': its output cannot be "
                                           "reopened (%s); give a read-write output or process from 0", id,
                                           reason[0] ? reason : strerror(-r));
                }
                have = avi_writer_frame_count(e->writer);
                if (have > 0 && e->rec.output_start + have < k) {
                        (void) avi_writer_finish(e->writer); /* playable as it was */
                        return say(vp, -EINVAL, "cannot resume video '%s' at frame %" PRIu64 ": the output holds "
                                   "frames %u to %" PRIu64 "; process from %" PRIu64 " µs or 0", id, k,
                                   e->rec.output_start, e->rec.output_start + have - 1,
                                   video_frame_time_us(e->rec.rate, e->rec.scale, e->rec.output_start + have));
                }
                if (have > 0) {
                        append = true;
                        from = (uint32_t) MIN(e->rec.output_start + have, (uint64_t) e->rec.frames);
                        writer = TAKE_PTR(e->writer);
                }
        }
        if (!append) {
                struct avi_writer_params params = {
                        .width = e->rec.width,
                        .height = e->rec.height,
                        .fps_num = e->rec.rate,
                        .fps_den = e->rec.scale,
                };
                if (e->writer) /* reopened above but empty: nothing of it to keep */
                        (void) avi_writer_finish(e->writer);
                e->writer = avi_writer_free(e->writer);
                r = avi_writer_new(e->output_fd, &params, &writer);
                if (r < 0)
                        return say(vp, r == -EINVAL ? -EINVAL : r, "cannot start the output of video '%s': %s",
                                   id, strerror(-r));
                e->rec.output_start = from;
        }

        e->rec.has_output = true;
        e->rec.next_frame = from;
        e->rec.state = VIDEO_STATE_RUNNING;
        e->rec.error[0] = 0;
        (void) save_record(vp, e);
        r = start_run(vp, e, from, writer,
                      append && e->have_reference && e->reference_frame + 1 == from);
        if (r < 0) {
                e->writer = writer;
                e->rec.state = VIDEO_STATE_PENDING;
                (void) save_record(vp, e);
                return say(vp, r, "cannot start processing video '%s': %s", id, strerror(-r));
        }
        log_info("Video %s: processing frames %u to %u%s", id, from, e->rec.frames - 1,
                 append ? " (appending)" : "");
        return 0;
}

int video_processor_remove(struct video_processor *vp, const char *id) {
        struct video_entry *e;
        int r;

        r = check_id(vp, id, &e);
        if (r < 0)
                return r;
        if (e->run) {
                struct ended_node *node = e->node;

                video_run_stop(e->run, POOL_CANCEL_REMOVED);
                wait_run_ended(vp, e);
                pthread_mutex_lock(&vp->lock);
                for (struct ended_node **p = &vp->ended; *p; p = &(*p)->next)
                        if (*p == node) {
                                *p = node->next;
                                break;
                        }
                pthread_mutex_unlock(&vp->lock);
                video_run_free(e->run);
                free(node);
                e->run = NULL;
                e->node = NULL;
        }
        entry_unlink(vp, e);
        entry_free(e);
        r = video_record_delete(vp->dir_fd, id);
        if (r < 0)
                log_warning_errno(r, "Cannot delete the record of video %s: %m", id);
        pending_changed(vp);
        return 0;
}

int video_processor_interrupt(struct video_processor *vp) {
        stop_all_and_wait(vp, POOL_CANCEL_INTERRUPT);
        drain_ended(vp, true);
        return 0;
}

int video_processor_reset(struct video_processor *vp) {
        stop_all_and_wait(vp, POOL_CANCEL_INTERRUPT);
        drain_ended(vp, true);
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (!e->run) /* a callback may have started one again; leave it be */
                        entry_drop_session(e);
        vp->current = NULL;
        set_status(vp, "ready");
        return 0;
}

int video_processor_get_info(struct video_processor *vp, const char *id, struct video_info *ret) {
        struct video_entry *e;
        int r;

        r = check_id(vp, id, &e);
        if (r < 0)
                return r;
        *ret = (struct video_info) {
                .state = e->run ? VIDEO_STATE_RUNNING : e->rec.state,
                .frames_done = e->rec.next_frame,
                .frames = e->rec.frames,
                .resume_timestamp = video_frame_time_us(e->rec.rate, e->rec.scale, e->rec.next_frame),
                .width = e->rec.width,
                .height = e->rec.height,
                .fps = e->rec.scale ? (double) e->rec.rate / e->rec.scale : 0,
                .created_us = e->rec.created_us,
                .prepared = e->reader != NULL || e->run != NULL,
                .committed = e->committed,
                .error = e->rec.error[0] ? e->rec.error : NULL,
        };
        return 0;
}

void video_processor_strv_free(char **strv) {
        if (!strv)
                return;
        for (char **s = strv; *s; s++)
                free(*s);
        free(strv);
}

int video_processor_pending(struct video_processor *vp, char ***ret) {
        size_t n = 0, i = 0;
        char **strv;

        for (struct video_entry *e = vp->entries; e; e = e->next)
                n += e->rec.state != VIDEO_STATE_DONE;
        strv = calloc(n + 1, sizeof *strv);
        if (!strv)
                return say(vp, -ENOMEM, "out of memory");
        for (struct video_entry *e = vp->entries; e; e = e->next) {
                if (e->rec.state == VIDEO_STATE_DONE)
                        continue;
                strv[i] = strdup(e->rec.id);
                if (!strv[i]) {
                        video_processor_strv_free(strv);
                        return say(vp, -ENOMEM, "out of memory");
                }
                i++;
        }
        *ret = strv;
        return 0;
}

int video_processor_add_recorded(struct video_processor *vp, const char *id,
                                 const struct video_recorded *info) {
        struct video_entry *e;
        bool created = false;
        int r;

        if (!id || !video_id_is_valid(id))
                return say(vp, -EINVAL, "a video id is 1-64 characters of [A-Za-z0-9._-]");
        if (!info || info->width > MEDIA_MAX_SIDE || info->height > MEDIA_MAX_SIDE ||
            !isfinite(info->fps) || info->fps < 0 || info->fps > 1000)
                return say(vp, -EINVAL, "bad metadata for recorded video '%s'", id);
        e = find_entry(vp, id);
        if (e && e->run)
                return say(vp, -EPERM, "video '%s' is running", id);
        if (!e) {
                r = entry_new(vp, id, &e);
                if (r < 0)
                        return say(vp, r, "out of memory");
                created = true;
        }
        e->rec.recorded = true;
        e->rec.width = info->width;
        e->rec.height = info->height;
        if (info->fps > 0) {
                e->rec.rate = (uint32_t) lround(info->fps * 1000);
                e->rec.scale = 1000;
        }
        e->rec.frames = info->frames;
        if (e->rec.next_frame > e->rec.frames)
                e->rec.next_frame = 0;
        r = save_record(vp, e);
        if (r < 0) {
                if (created) {
                        entry_unlink(vp, e);
                        entry_free(e);
                }
                return say(vp, r, "cannot save the record of video '%s': %s", id, strerror(-r));
        }
        if (created)
                pending_changed(vp);
        return 0;
}
