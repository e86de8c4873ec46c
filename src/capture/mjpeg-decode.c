/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "capture/frame-pool.h"
#include "capture/mjpeg-decode.h"
#include "media/jpeg.h"
#include "shared/log.h"
#include "shared/macro.h"

#define MJPEG_DECODE_MAX_QUEUE 32
/* Decoded frames kept for reuse: the outputs' rings hold some for a while. */
#define MJPEG_POOL_IDLE 24

struct mjpeg_decode_stage {
        unsigned width, height;
        mjpeg_decoded_fn fn;
        void *userdata;
        pthread_t thread;

        /* Decode thread only. */
        struct jpeg_decoder *decoder;
        struct frame_pool *pool;
        uint32_t pool_fourcc;

        pthread_mutex_t lock;
        pthread_cond_t cond, idle;
        struct frame *queue[MJPEG_DECODE_MAX_QUEUE];
        unsigned capacity, head, count;
        bool busy, stop;
        struct mjpeg_decode_stats stats;

        bool joined; /* owner only */
};

static uint64_t thread_cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Decode thread: one JPEG into a new frame, or NULL (counted by the caller). */
static struct frame *decode(struct mjpeg_decode_stage *s, struct frame *jpeg) {
        struct jpeg_info info;
        uint32_t fourcc;
        int r;

        r = jpeg_read_info(s->decoder, jpeg->data, jpeg->size, &info);
        if (r < 0 || info.width != s->width || info.height != s->height) {
                log_debug("MJPEG frame %llu refused: %s", (unsigned long long) jpeg->sequence,
                          r < 0 ? jpeg_decoder_error(s->decoder) : "not the stream's size");
                return NULL;
        }
        if (info.subsamp == YUV_SUBSAMP_420)
                fourcc = V4L2_PIX_FMT_YUV420;
        else if (info.subsamp == YUV_SUBSAMP_422)
                fourcc = V4L2_PIX_FMT_YUV422P;
        else {
                log_debug("MJPEG frame refused: %s chroma", yuv_subsamp_to_string(info.subsamp));
                return NULL;
        }

        if (!s->pool || s->pool_fourcc != fourcc) {
                frame_pool_free(TAKE_PTR(s->pool));
                if (frame_pool_new(fourcc, s->width, s->height, MJPEG_POOL_IDLE, &s->pool) < 0)
                        return NULL;
                s->pool_fourcc = fourcc;
        }
        struct frame *f = frame_pool_get(s->pool);
        if (!f)
                return NULL;

        size_t luma = (size_t) s->width * s->height, cw = s->width / 2;
        size_t ch = fourcc == V4L2_PIX_FMT_YUV420 ? s->height / 2 : s->height;
        uint8_t *planes[3] = { f->data, f->data + luma, f->data + luma + cw * ch };
        unsigned strides[3] = { s->width, (unsigned) cw, (unsigned) cw };
        r = jpeg_decode_to_planes(s->decoder, jpeg->data, jpeg->size, &info, planes, strides);
        if (r < 0) {
                log_debug("MJPEG frame %llu refused: %s", (unsigned long long) jpeg->sequence,
                          jpeg_decoder_error(s->decoder));
                frame_unref(f);
                return NULL;
        }
        f->sequence = jpeg->sequence;
        f->timestamp_us = jpeg->timestamp_us;
        f->compressed = frame_ref(jpeg);
        return f;
}

static void *decode_thread(void *userdata) {
        struct mjpeg_decode_stage *s = userdata;

        pthread_mutex_lock(&s->lock);
        for (;;) {
                while (s->count == 0 && !s->stop)
                        pthread_cond_wait(&s->cond, &s->lock);
                if (s->stop)
                        break;
                struct frame *jpeg = s->queue[s->head];
                s->head = (s->head + 1) % s->capacity;
                s->count--;
                s->busy = true;
                pthread_mutex_unlock(&s->lock);

                uint64_t t0 = thread_cpu_ns();
                struct frame *f = decode(s, jpeg);
                uint64_t spent = thread_cpu_ns() - t0;
                frame_unref(jpeg);
                if (f) {
                        s->fn(f, s->userdata);
                        frame_unref(f);
                }

                pthread_mutex_lock(&s->lock);
                s->stats.decode_cpu_ns += spent;
                if (f)
                        s->stats.decoded++;
                else
                        s->stats.corrupt++;
                s->busy = false;
                pthread_cond_broadcast(&s->idle);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

void mjpeg_decode_stage_stop(struct mjpeg_decode_stage *s) {
        if (s->joined)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        s->joined = true;

        for (unsigned i = 0; i < s->count; i++)
                frame_unref(s->queue[(s->head + i) % s->capacity]);
        s->count = 0;
}

struct mjpeg_decode_stage *mjpeg_decode_stage_free(struct mjpeg_decode_stage *s) {
        if (!s)
                return NULL;
        mjpeg_decode_stage_stop(s);
        frame_pool_free(s->pool);
        jpeg_decoder_free(s->decoder);
        pthread_cond_destroy(&s->cond);
        pthread_cond_destroy(&s->idle);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

int mjpeg_decode_stage_new(unsigned width, unsigned height, unsigned queue_length,
                           mjpeg_decoded_fn fn, void *userdata, struct mjpeg_decode_stage **ret) {
        struct mjpeg_decode_stage *s;
        int r;

        if (!fn || frame_size_for(V4L2_PIX_FMT_YUV422P, width, height) == 0 ||
            queue_length > MJPEG_DECODE_MAX_QUEUE)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->width = width;
        s->height = height;
        s->fn = fn;
        s->userdata = userdata;
        s->capacity = queue_length ?: MJPEG_DECODE_DEFAULT_QUEUE;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        pthread_cond_init(&s->idle, NULL);
        r = jpeg_decoder_new(&s->decoder);
        if (r < 0)
                goto fail;
        r = -pthread_create(&s->thread, NULL, decode_thread, s);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        jpeg_decoder_free(s->decoder);
        pthread_cond_destroy(&s->cond);
        pthread_cond_destroy(&s->idle);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return r;
}

bool mjpeg_decode_stage_push(struct mjpeg_decode_stage *s, struct frame *jpeg) {
        bool queued = false;

        assert(jpeg->fourcc == V4L2_PIX_FMT_MJPEG);
        pthread_mutex_lock(&s->lock);
        if (s->count < s->capacity && !s->stop) {
                s->queue[(s->head + s->count) % s->capacity] = frame_ref(jpeg);
                s->count++;
                queued = true;
                pthread_cond_signal(&s->cond);
        } else
                s->stats.dropped++;
        pthread_mutex_unlock(&s->lock);
        return queued;
}

bool mjpeg_decode_stage_pending(struct mjpeg_decode_stage *s) {
        bool pending;

        pthread_mutex_lock(&s->lock);
        pending = (s->count > 0 || s->busy) && !s->stop;
        pthread_mutex_unlock(&s->lock);
        return pending;
}

void mjpeg_decode_stage_drain(struct mjpeg_decode_stage *s) {
        pthread_mutex_lock(&s->lock);
        while ((s->count > 0 || s->busy) && !s->stop)
                pthread_cond_wait(&s->idle, &s->lock);
        pthread_mutex_unlock(&s->lock);
}

void mjpeg_decode_stage_stats(struct mjpeg_decode_stage *s, struct mjpeg_decode_stats *ret) {
        pthread_mutex_lock(&s->lock);
        *ret = s->stats;
        pthread_mutex_unlock(&s->lock);
}
