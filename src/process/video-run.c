/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

#include "media/avi-reader.h"
#include "media/avi-writer.h"
#include "media/jpeg.h"
#include "process/video-denoise.h"
#include "process/video-record.h"
#include "process/video-run.h"
#include "shared/log.h"
#include "shared/macro.h"

#define PROGRESS_INTERVAL_US 250000u /* at most ~4 Progress signals per second */

enum slot_state {
        SLOT_IDLE,
        SLOT_DECODE,  /* queued or running: read + decode */
        SLOT_DECODED, /* waiting for its turn to blend */
        SLOT_ENCODE,  /* queued or running: sharpen + encode */
        SLOT_ENCODED, /* waiting for its turn to be written */
};

struct frame_slot {
        struct video_run *run;
        uint32_t frame;
        enum slot_state state;
        uint8_t *input;
        size_t input_size, input_allocated;
        struct yuv_image image; /* decoded, then blended in place */
        uint8_t *sharp;         /* sharpened luma */
        size_t sharp_allocated;
        struct jpeg_buffer output;
        struct jpeg_decoder *decoder;
        struct jpeg_encoder *encoder;
};

struct video_run {
        pthread_mutex_t lock;      /* everything below that changes while running */
        pthread_mutex_t read_lock; /* the reader keeps an error buffer: one read at a time */
        char id[VIDEO_ID_MAX + 1];
        struct worker_pool *pool;
        struct avi_reader *reader;
        struct avi_writer *writer;
        uint32_t first, end, rate, scale;
        unsigned width, height;
        struct video_settings settings;
        int quality;
        uint64_t order;
        struct video_denoise denoise;
        void (*progress)(struct video_run *run, uint32_t next_frame, uint64_t timestamp_us, void *userdata);
        void (*ended)(struct video_run *run, void *userdata);
        void *userdata;

        struct yuv_image reference; /* blended output of frame reference_frame */
        bool have_reference;
        uint32_t reference_frame;

        struct frame_slot *slots;
        unsigned window;
        uint32_t next_decode, next_blend, next_write;
        uint32_t limit;       /* frames from here on are not processed: end, or a bad frame */
        uint32_t error_frame; /* the frame the recorded error is about */
        unsigned in_flight;
        unsigned preemptions;
        bool blending, writing, stop, ended_called;
        atomic_bool started;  /* a frame job has begun work (read without the lock) */
        enum pool_cancel stop_reason;
        int error;
        enum video_error error_code;
        char message[256];
        uint64_t started_us, elapsed_us, last_progress_us;
};

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Records the first failure. Lock held. A failure of one frame (frame < end) still lets
 * every frame before it through, so the output ends just before the bad frame; any other
 * failure (frame NO_FRAME: the output or the pool) stops at once. */
#define NO_FRAME UINT32_MAX
_printf_(5, 6)
static void run_fail_locked(struct video_run *run, uint32_t frame, int error, enum video_error code,
                            const char *format, ...) {
        va_list ap;

        if (frame != NO_FRAME && frame < run->limit)
                run->limit = frame;
        if (!run->error || (frame != NO_FRAME && run->error_frame != NO_FRAME && frame < run->error_frame)) {
                run->error_frame = frame;
                run->error = error < 0 ? error : -EIO;
                run->error_code = code;
                va_start(ap, format);
                vsnprintf(run->message, sizeof run->message, format, ap);
                va_end(ap);
                log_debug("Video %s: %s", run->id, run->message);
        }
        if (frame == NO_FRAME)
                run->stop = true;
}

static struct frame_slot *slot_of(struct video_run *run, uint32_t frame) {
        return &run->slots[frame % run->window];
}

static int slot_job_run(struct pool_job *job, void *userdata);
static void slot_job_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason);

static const struct pool_job_ops slot_job_ops = {
        .run = slot_job_run,
        .done = slot_job_done,
};

/* Lock held. The caller accounts in_flight. */
static int submit_locked(struct video_run *run, struct frame_slot *s) {
        int r = pool_submit(run->pool, &slot_job_ops, s, POOL_PRIORITY_BACKGROUND, run->order, 0, NULL);
        if (r < 0)
                run_fail_locked(run, NO_FRAME, r, VIDEO_ERROR_ABNORMAL, "cannot queue frame %u: %s", s->frame, strerror(-r));
        return r;
}

/* Lock held: starts decoding the next frame in slot s, if any is left. */
static void feed_locked(struct video_run *run, struct frame_slot *s) {
        if (run->stop || run->next_decode >= run->limit)
                return;
        s->frame = run->next_decode++;
        s->state = SLOT_DECODE;
        run->in_flight++;
        if (submit_locked(run, s) < 0) {
                run->in_flight--;
                s->state = SLOT_IDLE;
        }
}

static int slot_decode(struct video_run *run, struct frame_slot *s) {
        char reason[AVI_ERROR_MAX];
        size_t size;
        int r;

        pthread_mutex_lock(&run->read_lock);
        r = avi_reader_frame_size(run->reader, s->frame, &size);
        if (r >= 0 && size > s->input_allocated) {
                uint8_t *p = realloc(s->input, size);
                if (!p)
                        r = -ENOMEM;
                else {
                        s->input = p;
                        s->input_allocated = size;
                }
        }
        if (r >= 0)
                r = avi_reader_read_frame(run->reader, s->frame, s->input, s->input_allocated);
        if (r < 0)
                snprintf(reason, sizeof reason, "%s", avi_reader_error(run->reader));
        pthread_mutex_unlock(&run->read_lock);
        if (r < 0) {
                pthread_mutex_lock(&run->lock);
                run_fail_locked(run, s->frame, r, r == -EBADMSG || r == -ERANGE ? VIDEO_ERROR_PROCESS : VIDEO_ERROR_ABNORMAL,
                                "cannot read input frame %u: %s", s->frame, reason[0] ? reason : strerror(-r));
                pthread_mutex_unlock(&run->lock);
                return r;
        }
        s->input_size = (size_t) r;

        r = jpeg_decode(s->decoder, s->input, s->input_size, &s->image);
        if (r >= 0 && (s->image.width != run->width || s->image.height != run->height))
                r = -EBADMSG;
        if (r < 0) {
                pthread_mutex_lock(&run->lock);
                if (r == -ENOMEM)
                        run_fail_locked(run, s->frame, r, VIDEO_ERROR_ABNORMAL, "out of memory decoding frame %u", s->frame);
                else if (r == -EBADMSG && s->image.width && s->image.width != run->width)
                        run_fail_locked(run, s->frame, r, VIDEO_ERROR_PROCESS, "input frame %u is %ux%u, the video is %ux%u",
                                        s->frame, s->image.width, s->image.height, run->width, run->height);
                else
                        run_fail_locked(run, s->frame, r, VIDEO_ERROR_PROCESS, "input frame %u is not a decodable JPEG: %s",
                                        s->frame, jpeg_decoder_error(s->decoder));
                pthread_mutex_unlock(&run->lock);
                return r;
        }
        return 0;
}

static int slot_encode(struct video_run *run, struct frame_slot *s) {
        struct yuv_planes planes = yuv_image_planes(&s->image);
        int r;

        if (run->settings.sharpen > 0.0) {
                size_t need = (size_t) run->width * run->height;
                if (need > s->sharp_allocated) {
                        uint8_t *p = realloc(s->sharp, need);
                        if (!p)
                                r = -ENOMEM;
                        else
                                s->sharp = p, s->sharp_allocated = need, r = 0;
                        if (r < 0)
                                goto fail;
                }
                video_sharpen_plane(s->image.plane[0], s->image.stride[0], s->sharp, run->width,
                                    run->width, run->height, run->settings.sharpen);
                planes.plane[0] = s->sharp;
                planes.stride[0] = run->width;
        }
        r = jpeg_encode_planes(s->encoder, &planes, run->quality, &s->output);
        if (r >= 0)
                return 0;
fail:
        pthread_mutex_lock(&run->lock);
        run_fail_locked(run, s->frame, r, VIDEO_ERROR_ABNORMAL, "cannot encode frame %u: %s", s->frame,
                        r == -ENOMEM ? "out of memory" : jpeg_encoder_error(s->encoder));
        pthread_mutex_unlock(&run->lock);
        return r;
}

/* The ordered step: blend frame s->frame into the reference. Only the token holder. */
static int slot_blend(struct video_run *run, struct frame_slot *s) {
        struct yuv_image *img = &s->image, *ref = &run->reference;
        int r;

        if (run->have_reference &&
            (ref->subsamp != img->subsamp || ref->width != img->width || ref->height != img->height))
                return -EBADMSG;
        if (!run->have_reference) {
                r = yuv_image_alloc(ref, img->width, img->height, img->subsamp);
                if (r < 0)
                        return r;
                /* The first frame has no history: it is its own output. */
                for (unsigned p = 0; p < 3 && img->plane[p]; p++)
                        for (unsigned y = 0; y < img->plane_height[p]; y++)
                                memcpy(ref->plane[p] + (size_t) y * ref->stride[p],
                                       img->plane[p] + (size_t) y * img->stride[p],
                                       yuv_plane_width(img->subsamp, p, img->width));
                run->have_reference = true;
        } else
                for (unsigned p = 0; p < 3 && img->plane[p]; p++)
                        video_denoise_plane(&run->denoise, img->plane[p], img->stride[p],
                                            ref->plane[p], ref->stride[p],
                                            yuv_plane_width(img->subsamp, p, img->width),
                                            img->plane_height[p]);
        run->reference_frame = s->frame;
        return 0;
}

/* Lock held on entry and exit; dropped while blending or writing. Advances the ordered
 * steps as far as ready frames allow. */
static void pump_locked(struct video_run *run) {
        for (;;) {
                struct frame_slot *s;
                int r;

                s = slot_of(run, run->next_blend);
                if (!run->stop && !run->blending && run->next_blend < run->next_decode &&
                    run->next_blend < run->limit && s->state == SLOT_DECODED) {
                        run->blending = true;
                        pthread_mutex_unlock(&run->lock);
                        r = slot_blend(run, s);
                        pthread_mutex_lock(&run->lock);
                        run->blending = false;
                        if (r < 0) {
                                run_fail_locked(run, s->frame, r, r == -ENOMEM ? VIDEO_ERROR_ABNORMAL : VIDEO_ERROR_PROCESS,
                                                "input frame %u changes the picture format (subsampling or size)",
                                                s->frame);
                                continue; /* frames before it may still be waiting to be written */
                        }
                        run->next_blend++;
                        s->state = SLOT_ENCODE;
                        run->in_flight++;
                        if (submit_locked(run, s) < 0) {
                                run->in_flight--;
                                return;
                        }
                        continue;
                }

                s = slot_of(run, run->next_write);
                if (!run->stop && !run->writing && run->next_write < run->next_blend &&
                    run->next_write < run->limit && s->state == SLOT_ENCODED) {
                        uint32_t limit = run->limit; /* read under the lock */
                        uint64_t now, ts = 0;
                        bool report = false;

                        run->writing = true;
                        pthread_mutex_unlock(&run->lock);
                        r = avi_writer_add_frame(run->writer, s->output.data, s->output.size);
                        now = now_us();
                        if (r >= 0 && (now - run->last_progress_us >= PROGRESS_INTERVAL_US ||
                                       s->frame + 1 == limit)) {
                                run->last_progress_us = now;
                                ts = video_frame_time_us(run->rate, run->scale, s->frame);
                                report = run->progress != NULL;
                        }
                        if (report)
                                run->progress(run, s->frame + 1, ts, run->userdata);
                        pthread_mutex_lock(&run->lock);
                        run->writing = false;
                        if (r < 0) {
                                run_fail_locked(run, NO_FRAME, r, VIDEO_ERROR_ABNORMAL, "cannot write output frame %u: %s",
                                                s->frame, strerror(-r));
                                return;
                        }
                        run->next_write++;
                        s->state = SLOT_IDLE;
                        feed_locked(run, s);
                        continue;
                }
                return;
        }
}

static int slot_job_run(struct pool_job *job, void *userdata) {
        struct frame_slot *s = userdata;
        struct video_run *run = s->run;
        enum slot_state state;
        int r;

        pthread_mutex_lock(&run->lock);
        state = s->state;
        r = run->stop || s->frame >= run->limit ? -ECANCELED : 0;
        pthread_mutex_unlock(&run->lock);
        if (r < 0 || pool_job_check_cancel(job))
                return -ECANCELED;
        atomic_store_explicit(&run->started, true, memory_order_relaxed);

        if (state == SLOT_DECODE)
                r = slot_decode(run, s);
        else if (state == SLOT_ENCODE)
                r = slot_encode(run, s);
        else
                r = -EINVAL; /* cannot happen: only these two states are ever queued */
        if (r < 0)
                return r;

        pthread_mutex_lock(&run->lock);
        s->state = state == SLOT_DECODE ? SLOT_DECODED : SLOT_ENCODED;
        pump_locked(run);
        pthread_mutex_unlock(&run->lock);
        return 0;
}

static void run_finalize(struct video_run *run) {
        int r = avi_writer_finish(run->writer);

        pthread_mutex_lock(&run->lock);
        if (r < 0)
                run_fail_locked(run, NO_FRAME, r, VIDEO_ERROR_ABNORMAL, "cannot finish the output file: %s", strerror(-r));
        run->elapsed_us = now_us() - run->started_us;
        pthread_mutex_unlock(&run->lock);
        run->ended(run, run->userdata);
}

static void slot_job_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason) {
        struct frame_slot *s = userdata;
        struct video_run *run = s->run;
        bool last;

        pthread_mutex_lock(&run->lock);
        if (reason == POOL_CANCEL_PREEMPTED)
                run->preemptions++; /* counted whether the frame was done already or not */
        if (result == -ECANCELED && reason == POOL_CANCEL_PREEMPTED && !run->stop) {
                /* A requested image took the worker before this step ran: it simply waits
                 * its turn again. */
                if (submit_locked(run, s) >= 0) {
                        pthread_mutex_unlock(&run->lock);
                        return;
                }
        } else if (result == -ECANCELED && reason != POOL_CANCEL_NONE && !run->stop) {
                run->stop = true;
                run->stop_reason = reason;
        }
        assert(run->in_flight > 0);
        run->in_flight--;
        last = run->in_flight == 0 && !run->ended_called;
        if (last) {
                run->ended_called = true;
                if (!run->stop && run->next_write < run->limit)
                        /* Nothing in flight yet frames left: never expected; fail loudly
                         * rather than hang. */
                        run_fail_locked(run, NO_FRAME, -EIO, VIDEO_ERROR_ABNORMAL, "the pipeline stalled at frame %u",
                                        run->next_write);
        }
        pthread_mutex_unlock(&run->lock);
        if (last)
                run_finalize(run);
}

static bool slot_belongs_to(void *userdata, void *data) {
        const struct frame_slot *s = userdata;

        /* Only jobs with slot_job_ops are offered, so userdata is one of some run's slots. */
        return s->run == data;
}

void video_run_stop(struct video_run *run, enum pool_cancel reason) {
        pthread_mutex_lock(&run->lock);
        if (!run->stop) {
                run->stop = true;
                run->stop_reason = reason;
        }
        pthread_mutex_unlock(&run->lock);
        pool_cancel_matching(run->pool, &slot_job_ops, slot_belongs_to, run, reason);
}

static void slots_free(struct frame_slot *slots, unsigned n) {
        if (!slots)
                return;
        for (unsigned i = 0; i < n; i++) {
                free(slots[i].input);
                free(slots[i].sharp);
                yuv_image_done(&slots[i].image);
                jpeg_buffer_done(&slots[i].output);
                jpeg_decoder_free(slots[i].decoder);
                jpeg_encoder_free(slots[i].encoder);
        }
        free(slots);
}

int video_run_start(const struct video_run_params *p, struct video_run **ret) {
        struct video_run *run;
        bool finish_now;
        int r;

        if (!p->reader || !p->writer || !p->pool || !p->ended || p->first > p->end ||
            p->window == 0 || p->rate == 0 || p->scale == 0)
                return -EINVAL;
        run = calloc(1, sizeof *run);
        if (!run)
                return -ENOMEM;
        run->slots = calloc(p->window, sizeof *run->slots);
        if (!run->slots) {
                free(run);
                return -ENOMEM;
        }
        run->window = p->window;
        for (unsigned i = 0; i < run->window; i++) {
                run->slots[i].run = run;
                r = jpeg_decoder_new(&run->slots[i].decoder);
                if (r >= 0)
                        r = jpeg_encoder_new(&run->slots[i].encoder);
                if (r < 0) {
                        slots_free(run->slots, run->window);
                        free(run);
                        return r;
                }
        }

        pthread_mutex_init(&run->lock, NULL);
        pthread_mutex_init(&run->read_lock, NULL);
        snprintf(run->id, sizeof run->id, "%s", p->id);
        run->pool = pool_ref(p->pool);
        run->reader = p->reader;
        run->writer = p->writer;
        run->first = p->first;
        run->end = p->end;
        run->rate = p->rate;
        run->scale = p->scale;
        run->width = p->width;
        run->height = p->height;
        run->settings = p->settings;
        run->quality = p->quality;
        run->order = p->order;
        run->progress = p->progress;
        run->ended = p->ended;
        run->userdata = p->userdata;
        video_denoise_init(&run->denoise, p->settings.denoise);
        if (p->seed && p->seed->width == p->width && p->seed->height == p->height && p->first > 0) {
                run->reference = *p->seed;
                *p->seed = (struct yuv_image) {};
                run->have_reference = true;
                run->reference_frame = p->first - 1;
        }
        run->next_decode = run->next_blend = run->next_write = p->first;
        run->limit = p->end;
        run->started_us = now_us();
        /* The first frame written is reported at once (a client sees the run has begun and
         * gets a resume point early), then at most every PROGRESS_INTERVAL_US. */
        run->last_progress_us = run->started_us - PROGRESS_INTERVAL_US;

        pthread_mutex_lock(&run->lock);
        for (unsigned i = 0; i < run->window && run->next_decode < run->end; i++)
                feed_locked(run, slot_of(run, run->next_decode));
        /* Nothing to do, or nothing could be queued: end right here. */
        finish_now = run->in_flight == 0;
        if (finish_now)
                run->ended_called = true;
        pthread_mutex_unlock(&run->lock);

        *ret = run;
        if (finish_now)
                run_finalize(run);
        return 0;
}

void video_run_get_result(struct video_run *run, struct video_run_result *ret) {
        pthread_mutex_lock(&run->lock);
        *ret = (struct video_run_result) {
                .error = run->error,
                .code = run->error_code,
                .message = run->error ? run->message : "",
                .stopped = run->error ? POOL_CANCEL_NONE : run->stop ? run->stop_reason : POOL_CANCEL_NONE,
                .next_frame = run->next_write,
                .complete = !run->error && run->next_write == run->end,
                .elapsed_us = run->elapsed_us,
                .preemptions = run->preemptions,
        };
        pthread_mutex_unlock(&run->lock);
}

bool video_run_started(struct video_run *run) {
        return atomic_load_explicit(&run->started, memory_order_relaxed);
}

const char *video_run_id(const struct video_run *run) {
        return run->id;
}

struct avi_reader *video_run_take_reader(struct video_run *run) {
        return TAKE_PTR(run->reader);
}

struct avi_writer *video_run_take_writer(struct video_run *run) {
        return TAKE_PTR(run->writer);
}

bool video_run_take_reference(struct video_run *run, struct yuv_image *ret, uint32_t *ret_frame) {
        if (!run->have_reference)
                return false;
        /* The reference is only the output of reference_frame if that frame was written. */
        if (run->reference_frame + 1 != run->next_write)
                return false;
        *ret = run->reference;
        run->reference = (struct yuv_image) {};
        run->have_reference = false;
        *ret_frame = run->reference_frame;
        return true;
}

struct video_run *video_run_free(struct video_run *run) {
        if (!run)
                return NULL;
        slots_free(run->slots, run->window);
        yuv_image_done(&run->reference);
        avi_reader_free(run->reader);
        avi_writer_free(run->writer);
        pool_unref(run->pool);
        pthread_mutex_destroy(&run->lock);
        pthread_mutex_destroy(&run->read_lock);
        free(run);
        return NULL;
}
