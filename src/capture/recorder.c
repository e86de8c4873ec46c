/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "capture/frame-codec.h"
#include "capture/frame-decimator.h"
#include "capture/recorder.h"
#include "media/avi-writer.h"
#include "media/jpeg.h"
#include "shared/log.h"
#include "shared/macro.h"

struct recorder {
        uint32_t fourcc;
        unsigned width, height;
        int quality;
        double profile_fps;

        struct avi_writer *writer;
        struct jpeg_encoder *encoder; /* encoder thread only */
        struct jpeg_buffer jpeg;
        pthread_t thread;

        struct frame_decimator decimator; /* capture thread only */

        /* The queue, under lock. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct frame **queue;
        unsigned capacity, head, count;
        bool stop;

        atomic_uint_fast64_t frames, dropped;
        atomic_int error; /* first failure; the encoder then discards */

        /* Encoder thread only (read after the join). */
        uint64_t first_us, last_us;
        uint64_t encode_cpu_ns, frame_cpu_ns;
};

/* Whole rates stay exact (30/1), others to a thousandth (29.97 → 29970/1000). */
static void fps_to_rational(double fps, unsigned *num, unsigned *den) {
        if (fabs(fps - round(fps)) < 1e-3) {
                *num = (unsigned) lround(fps);
                *den = 1;
        } else {
                *num = (unsigned) lround(fps * 1000);
                *den = 1000;
        }
}

static uint64_t thread_cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int encode_and_write(struct recorder *r, const struct frame *f) {
        uint64_t t0 = thread_cpu_ns();
        const struct frame *camera_jpeg = frame_jpeg(f);
        const uint8_t *data;
        size_t size;
        int q;

        if (camera_jpeg) {
                /* The camera's JPEG as it came: no re-encode. MJPEG AVI frames without DHT
                 * are the OpenDML convention, which players follow. */
                data = camera_jpeg->data;
                size = camera_jpeg->size;
        } else {
                q = frame_encode_jpeg(r->encoder, f, r->quality, &r->jpeg);
                r->encode_cpu_ns += thread_cpu_ns() - t0;
                if (q < 0)
                        return log_debug_errno(q, "Recording: JPEG encoding failed: %s",
                                               jpeg_encoder_error(r->encoder));
                data = r->jpeg.data;
                size = r->jpeg.size;
        }
        q = avi_writer_add_frame(r->writer, data, size);
        r->frame_cpu_ns += thread_cpu_ns() - t0;
        if (q < 0)
                return log_debug_errno(q, "Recording: writing a frame failed: %m");
        return 0;
}

/* Frames of the recording's format and size: the layout itself, or for an MJPEG recording
 * any frame that carries a camera JPEG (decoded frames keep theirs). */
static bool frame_fits(const struct recorder *r, const struct frame *f) {
        if (f->width != r->width || f->height != r->height)
                return false;
        if (r->fourcc == V4L2_PIX_FMT_MJPEG)
                return frame_jpeg(f) != NULL;
        return f->fourcc == r->fourcc;
}

static void *encoder_thread(void *userdata) {
        struct recorder *r = userdata;

        for (;;) {
                pthread_mutex_lock(&r->lock);
                while (r->count == 0 && !r->stop)
                        pthread_cond_wait(&r->cond, &r->lock);
                if (r->count == 0) { /* stop, and drained */
                        pthread_mutex_unlock(&r->lock);
                        break;
                }
                struct frame *f = r->queue[r->head];
                r->head = (r->head + 1) % r->capacity;
                r->count--;
                pthread_mutex_unlock(&r->lock);

                if (atomic_load(&r->error) == 0) {
                        int e = encode_and_write(r, f);
                        if (e < 0) {
                                atomic_store(&r->error, e);
                                atomic_fetch_add(&r->dropped, 1);
                        } else {
                                if (atomic_load(&r->frames) == 0)
                                        r->first_us = f->timestamp_us;
                                r->last_us = f->timestamp_us;
                                atomic_fetch_add(&r->frames, 1);
                        }
                } else
                        atomic_fetch_add(&r->dropped, 1);
                frame_unref(f);
        }
        return NULL;
}

static struct recorder *recorder_free(struct recorder *r) {
        if (!r)
                return NULL;
        avi_writer_free(r->writer);
        jpeg_encoder_free(r->encoder);
        jpeg_buffer_done(&r->jpeg);
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r->queue);
        free(r);
        return NULL;
}

int recorder_start(int fd, uint32_t fourcc, unsigned width, unsigned height, double fps,
                   const struct recorder_options *options, struct recorder **ret) {
        struct recorder_options o = options ? *options : (struct recorder_options) {};
        int r;

        if (frame_size_for(fourcc, width, height) == 0 || !(fps > 0 && fps <= 1000) ||
            o.quality < 0 || o.quality > 100 || o.queue_length > 256)
                return -EINVAL;

        struct recorder *rec = calloc(1, sizeof *rec);
        if (!rec)
                return -ENOMEM;
        rec->fourcc = fourcc;
        rec->width = width;
        rec->height = height;
        rec->quality = o.quality ?: RECORDER_DEFAULT_QUALITY;
        rec->profile_fps = fps;
        rec->capacity = o.queue_length ?: RECORDER_DEFAULT_QUEUE;
        frame_decimator_init(&rec->decimator, fps);
        pthread_mutex_init(&rec->lock, NULL);
        pthread_cond_init(&rec->cond, NULL);
        atomic_init(&rec->frames, 0);
        atomic_init(&rec->dropped, 0);
        atomic_init(&rec->error, 0);

        rec->queue = calloc(rec->capacity, sizeof *rec->queue);
        if (!rec->queue) {
                recorder_free(rec);
                return -ENOMEM;
        }
        r = jpeg_encoder_new(&rec->encoder);
        if (r < 0) {
                recorder_free(rec);
                return r;
        }
        /* The header's rate until finish() writes the measured one. */
        struct avi_writer_params params = { .width = width, .height = height };
        fps_to_rational(fps, &params.fps_num, &params.fps_den);
        r = avi_writer_new(fd, &params, &rec->writer);
        if (r < 0) {
                recorder_free(rec);
                return r;
        }
        r = -pthread_create(&rec->thread, NULL, encoder_thread, rec);
        if (r < 0) {
                recorder_free(rec);
                return r;
        }
        *ret = rec;
        return 0;
}

void recorder_push(struct recorder *r, struct frame *f) {
        if (!frame_fits(r, f))
                return;
        if (!frame_decimator_take(&r->decimator, f->timestamp_us))
                return;

        bool queued = false;
        pthread_mutex_lock(&r->lock);
        if (r->count < r->capacity && !r->stop) {
                r->queue[(r->head + r->count) % r->capacity] = frame_ref(f);
                r->count++;
                queued = true;
                pthread_cond_signal(&r->cond);
        }
        pthread_mutex_unlock(&r->lock);
        if (!queued)
                atomic_fetch_add(&r->dropped, 1);
}

int recorder_stop(struct recorder *r, struct recorder_stats *ret) {
        pthread_mutex_lock(&r->lock);
        r->stop = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);

        struct recorder_stats st = {
                .frames = atomic_load(&r->frames),
                .dropped = atomic_load(&r->dropped),
                .fps = r->profile_fps,
                .encode_cpu_us = r->encode_cpu_ns / 1000,
                .frame_cpu_us = r->frame_cpu_ns / 1000,
        };
        if (st.frames >= 2 && r->last_us > r->first_us) {
                double interval = (double) (r->last_us - r->first_us) / (double) (st.frames - 1);
                st.fps = 1e6 / interval;
                st.duration_us = (uint64_t) llround(interval * (double) st.frames);
                unsigned num, den;
                fps_to_rational(st.fps, &num, &den);
                if (num > 0)
                        (void) avi_writer_set_frame_rate(r->writer, num, den);
        } else
                st.duration_us = (uint64_t) llround(1e6 / r->profile_fps * (double) st.frames);

        int error = atomic_load(&r->error);
        int q = avi_writer_finish(r->writer);
        if (q < 0 && error == 0)
                error = log_debug_errno(q, "Recording: finishing the file failed: %m");
        st.bytes = avi_writer_file_size(r->writer);

        if (ret)
                *ret = st;
        recorder_free(r);
        return error;
}

uint64_t recorder_frames(const struct recorder *r) {
        return atomic_load(&r->frames);
}

uint64_t recorder_dropped(const struct recorder *r) {
        return atomic_load(&r->dropped);
}
