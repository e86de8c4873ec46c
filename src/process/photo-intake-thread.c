/* SPDX-License-Identifier: MIT */
/* The photo intake's thread: planes of each queued burst, then the store step, then a
 * letter to the loop thread. */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "capture/frame-codec.h"
#include "config.h"
#include "media/exif.h"
#include "media/jpeg-markers.h"
#include "process/photo-intake-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/mailbox.h"

static double ms_since(const struct timespec *t0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Thread: the planes' memory, one anonymous mapping kept while the thread has work (faulting
 * in 64 MB afresh per 1080p burst of 16 costs more than the split itself) and unmapped when
 * it goes idle: it must go back to the system, not stay in a malloc arena. */
struct planes_map {
        uint8_t *data;
        size_t size;
};

static void planes_map_release(struct planes_map *p) {
        if (p->data)
                munmap(p->data, p->size);
        *p = (struct planes_map) {};
}

static int planes_map_reserve(struct planes_map *p, size_t size) {
        void *data;

        if (p->size >= size)
                return 0;
        planes_map_release(p);
        data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (data == MAP_FAILED)
                return -errno;
        *p = (struct planes_map) { .data = data, .size = size };
        return 0;
}

static int chroma_of(enum yuv_subsamp s, enum image_chroma *ret) {
        switch (s) {
        case YUV_SUBSAMP_420:
                *ret = IMAGE_CHROMA_420;
                return 0;
        case YUV_SUBSAMP_422:
                *ret = IMAGE_CHROMA_422;
                return 0;
        default:
                return -EINVAL;
        }
}

/* Thread: the proxy of an MJPEG session is the camera's own newest JPEG with DHT and the
 * EXIF the final will carry, not a re-encode. *ret NULL when the frame has no JPEG (a raw
 * camera: the image processor encodes the proxy). */
static int camera_proxy(const struct burst *b, const struct frame *f, uint8_t **ret, size_t *ret_size) {
        const struct frame *jpeg = frame_jpeg(f);
        struct exif_fields exif = {
                .make = b->make && b->make[0] ? b->make : "camerad",
                .model = b->model && b->model[0] ? b->model : NULL,
                .software = "camerad " CAMERAD_VERSION,
                .datetime_us = b->shutter_realtime_us,
                .width = f->width, .height = f->height, .orientation = 1,
        };

        *ret = NULL;
        *ret_size = 0;
        if (!jpeg)
                return 0;
        return jpeg_camera_proxy(jpeg->data, jpeg->size, &exif, ret, ret_size);
}

/* Thread: planes of the burst, then the store writes it. */
static int burst_store(struct photo_intake *in, struct burst *b, struct planes_map *map) {
        const struct frame *f0 = b->frames[0];
        const unsigned width = f0->width, height = f0->height; /* f0 goes before the store */
        struct image_burst_frame planes[FRAME_RING_MAX] = {};
        enum yuv_subsamp subsamp;
        enum image_chroma chroma;
        size_t plane_bytes = frame_planes_size(f0, &subsamp);
        _cleanup_free_ uint8_t *proxy = NULL;
        size_t proxy_size = 0;
        struct timespec t0, t1;
        int r;

        if (plane_bytes == 0 || chroma_of(subsamp, &chroma) < 0)
                return -EINVAL;
        for (size_t i = 1; i < b->n_frames; i++)
                if (b->frames[i]->fourcc != f0->fourcc || b->frames[i]->width != f0->width ||
                    b->frames[i]->height != f0->height)
                        return -EINVAL; /* a ring is cleared when its format changes */

        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = camera_proxy(b, b->frames[b->n_frames - 1], &proxy, &proxy_size);
        if (r < 0)
                return r;
        r = planes_map_reserve(map, plane_bytes * b->n_frames);
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->n_frames; i++) {
                struct yuv_planes p;

                r = frame_to_planes(b->frames[i], map->data + i * plane_bytes, &p);
                if (r < 0)
                        return r;
                planes[i] = (struct image_burst_frame) { p.plane[0], p.plane[1], p.plane[2] };
        }
        /* The frames go back to the capture pool now, not after the slow write. */
        for (size_t i = 0; i < b->n_frames; i++)
                frame_unref(b->frames[i]);
        b->frames_released = true;
        b->split_ms = ms_since(&t0);

        struct image_burst burst = {
                .width = width,
                .height = height,
                .chroma = chroma,
                .n_frames = b->n_frames,
                .frames = planes,
                .quality = b->quality,
                .deferred = b->deferred,
                .capture_realtime_us = b->shutter_realtime_us,
                .camera_make = b->make,
                .camera_model = b->model,
                .proxy_jpeg = proxy,
                .proxy_size = proxy_size,
        };
        clock_gettime(CLOCK_MONOTONIC, &t1);
        r = in->store(b->images, &burst, b->id);
        b->store_ms = ms_since(&t1);
        return r;
}

static void *intake_thread(void *userdata) {
        struct photo_intake *in = userdata;
        struct planes_map map = {};

        pthread_mutex_lock(&in->lock);
        while (in->queue_head) {
                struct burst *b = in->queue_head;

                in->queue_head = b->queue_next;
                if (!in->queue_head)
                        in->queue_tail = NULL;
                pthread_mutex_unlock(&in->lock);

                b->result = burst_store(in, b, &map);

                pthread_mutex_lock(&in->lock);
                b->state = BURST_STORED;
                pthread_cond_broadcast(&in->stored);
                pthread_mutex_unlock(&in->lock);

                if (mailbox_post(in->mailbox, photo_intake_letter, b) < 0)
                        /* Out of memory: the burst is never answered (its caller times out);
                         * it leaks rather than racing the loop thread over it. */
                        log_error("Cannot hand a stored photo back to the event loop");
                pthread_mutex_lock(&in->lock);
        }
        in->thread_running = false;
        pthread_cond_broadcast(&in->stored);
        pthread_mutex_unlock(&in->lock);
        planes_map_release(&map);
        return NULL;
}

int intake_enqueue(struct photo_intake *in, struct burst *b) {
        int r = 0;

        pthread_mutex_lock(&in->lock);
        b->state = BURST_QUEUED;
        b->queue_next = NULL;
        if (in->queue_tail)
                in->queue_tail->queue_next = b;
        else
                in->queue_head = b;
        in->queue_tail = b;

        if (!in->thread_running) {
                /* The last thread found the queue empty and has left (it takes the lock no
                 * more); so the queue held only b. */
                if (in->thread_unjoined)
                        pthread_join(in->thread, NULL);
                in->thread_unjoined = false;
                r = -pthread_create(&in->thread, NULL, intake_thread, in);
                if (r >= 0) {
                        in->thread_running = true;
                        in->thread_unjoined = true;
                } else
                        in->queue_head = in->queue_tail = NULL;
        }
        pthread_mutex_unlock(&in->lock);
        return r;
}

void intake_wait_stored(struct photo_intake *in, struct burst *bursts) {
        bool join;

        pthread_mutex_lock(&in->lock);
        for (;;) {
                bool all_stored = true;

                for (struct burst *b = bursts; b; b = b->next)
                        all_stored = all_stored && b->state == BURST_STORED;
                if (all_stored)
                        break;
                pthread_cond_wait(&in->stored, &in->lock);
        }
        /* Nothing else queued: let the thread post its last letter and leave, and join it,
         * so that none is left at exit (the letters are dispatched after this). */
        while (!in->queue_head && in->thread_running)
                pthread_cond_wait(&in->stored, &in->lock);
        join = !in->thread_running && in->thread_unjoined;
        pthread_mutex_unlock(&in->lock);
        if (join) {
                pthread_join(in->thread, NULL);
                in->thread_unjoined = false;
        }
}
