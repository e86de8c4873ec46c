/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "capture/frame.h"
#include "process/photo-intake.h"
#include "shared/log.h"
#include "shared/mailbox.h"

enum burst_state {
        BURST_PARKED, /* no frames yet; in intake.parked */
        BURST_QUEUED, /* frames taken; in intake.queue or being stored */
        BURST_STORED, /* the thread is done with it; its letter is on the way */
};

struct burst {
        struct burst *next;        /* the source's bursts in submission order; loop thread */
        struct burst *parked_next; /* intake.parked; loop thread */
        struct burst *queue_next;  /* intake.queue; under intake.lock */
        enum burst_state state;    /* under intake.lock once QUEUED */
        unsigned pinned;           /* this burst's part of intake.pinned; loop thread */

        struct photo_intake *intake;
        struct photo_intake_source *source; /* NULL once the source is gone */
        photo_intake_done_fn done;
        void *userdata;

        /* The thread's input and result. */
        struct image_processor *images;
        size_t burst;
        struct frame *frames[FRAME_RING_MAX];
        size_t n_frames;      /* 0 while parked; loop thread */
        bool frames_released; /* by the thread, once the planes are made */
        uint32_t quality;
        bool deferred;
        char *make, *model;
        uint64_t shutter_realtime_us;
        int result;
        char id[IMAGE_ID_LEN + 1];
        double split_ms, store_ms;
};

struct photo_intake_source {
        struct photo_intake *intake;
        struct frame_ring *ring;
        struct burst *bursts;
};

/* One thread for every source: a thread per burst made the daemon grow by a burst's planes
 * and a malloc arena per burst in flight. */
struct photo_intake {
        struct mailbox *mailbox;
        photo_intake_store_fn store;
        unsigned n_sources;

        pthread_mutex_t lock;
        pthread_cond_t stored; /* a burst became STORED, or the thread went idle */
        struct burst *queue_head, *queue_tail;
        bool thread_running;   /* it takes queued bursts until the queue is empty */

        /* Loop thread only. */
        bool thread_unjoined;
        pthread_t thread;
        struct burst *parked_head, *parked_tail;
        unsigned pinned; /* frames held by QUEUED and STORED bursts (upper bound) */
};

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

/* Thread: planes of the burst, then the store writes it. */
static int burst_store(struct photo_intake *in, struct burst *b, struct planes_map *map) {
        const struct frame *f0 = b->frames[0];
        const unsigned width = f0->width, height = f0->height; /* f0 goes before the store */
        struct image_burst_frame planes[FRAME_RING_MAX] = {};
        enum yuv_subsamp subsamp;
        enum image_chroma chroma;
        size_t plane_bytes = frame_planes_size(f0, &subsamp);
        struct timespec t0, t1;
        int r;

        if (plane_bytes == 0 || chroma_of(subsamp, &chroma) < 0)
                return -EINVAL;
        for (size_t i = 1; i < b->n_frames; i++)
                if (b->frames[i]->fourcc != f0->fourcc || b->frames[i]->width != f0->width ||
                    b->frames[i]->height != f0->height)
                        return -EINVAL; /* a ring is cleared when its format changes */

        clock_gettime(CLOCK_MONOTONIC, &t0);
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
        };
        clock_gettime(CLOCK_MONOTONIC, &t1);
        r = in->store(b->images, &burst, b->id);
        b->store_ms = ms_since(&t1);
        return r;
}

static void burst_letter(void *userdata);

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

                if (mailbox_post(in->mailbox, burst_letter, b) < 0)
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

/* Hands b (with its frames) to the thread, starting one if none runs. */
static int intake_enqueue(struct photo_intake *in, struct burst *b) {
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

static void burst_free(struct burst *b) {
        if (!b->frames_released)
                for (size_t i = 0; i < b->n_frames; i++)
                        frame_unref(b->frames[i]);
        free(b->make);
        free(b->model);
        free(b);
}

/* Takes b off its source's list and its frames off the budget. The source's next burst
 * shared frames with b that were counted as b's; it now counts all of its own. */
static void burst_unlink(struct burst *b) {
        struct photo_intake *in = b->intake;

        in->pinned -= b->pinned;
        b->pinned = 0;
        if (!b->source)
                return;
        for (struct burst **p = &b->source->bursts; *p; p = &(*p)->next)
                if (*p == b) {
                        *p = b->next;
                        break;
                }
        if (b->next && b->next->n_frames > 0) {
                in->pinned += b->next->n_frames - b->next->pinned;
                b->next->pinned = b->next->n_frames;
        }
        b->next = NULL;
        b->source = NULL;
}

static void burst_unpark(struct burst *b) {
        struct photo_intake *in = b->intake;

        for (struct burst **p = &in->parked_head; *p; p = &(*p)->parked_next)
                if (*p == b) {
                        *p = b->parked_next;
                        if (in->parked_tail == b) {
                                in->parked_tail = NULL;
                                for (struct burst *q = in->parked_head; q; q = q->parked_next)
                                        in->parked_tail = q;
                        }
                        break;
                }
        b->parked_next = NULL;
}

static void burst_park(struct burst *b) {
        struct photo_intake *in = b->intake;

        b->state = BURST_PARKED;
        b->parked_next = NULL;
        if (in->parked_tail)
                in->parked_tail->parked_next = b;
        else
                in->parked_head = b;
        in->parked_tail = b;
}

/* Tells the caller how b ended and frees it. */
static void burst_finish(struct burst *b, int error, const char *what) {
        struct photo_intake_result r = {
                .error = error,
                .what = error < 0 ? what : NULL,
                .id = error < 0 ? NULL : b->id,
                .n_frames = b->n_frames,
                .detached = b->source == NULL,
                .split_ms = b->split_ms,
                .store_ms = b->store_ms,
        };

        burst_unlink(b);
        b->done(&r, b->userdata);
        burst_free(b);
}

/* Takes b's burst from its source's ring. Returns 1 when taken, 0 when the budget has no
 * room for it (unless force), -ENODATA when the ring is empty. */
static int burst_take_frames(struct burst *b, bool force) {
        struct photo_intake *in = b->intake;
        struct frame *frames[FRAME_RING_MAX] = {};
        struct burst *prev = NULL;
        struct timespec ts;
        unsigned fresh = 0;
        size_t n;

        n = frame_ring_snapshot(b->source->ring, frames, b->burst);
        if (n == 0)
                return -ENODATA;

        /* Frames the source's previous burst holds already are not counted again. Bursts
         * take their frames in submission order, so that one (if any) is just before b. */
        for (struct burst *p = b->source->bursts; p && p != b; p = p->next)
                prev = p;
        for (size_t i = 0; i < n; i++) {
                bool shared = false;

                if (prev)
                        for (size_t k = 0; k < prev->n_frames && !shared; k++)
                                shared = prev->frames[k] == frames[i];
                fresh += !shared;
        }
        if (!force && in->pinned > 0 && in->pinned + fresh > PHOTO_INTAKE_PINNED_MAX) {
                for (size_t i = 0; i < n; i++)
                        frame_unref(frames[i]);
                return 0;
        }

        memcpy(b->frames, frames, n * sizeof *frames);
        b->n_frames = n;
        b->pinned = fresh;
        in->pinned += fresh;
        clock_gettime(CLOCK_REALTIME, &ts);
        b->shutter_realtime_us = (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        return 1;
}

/* b got its frames (r > 0), is not there yet (r == 0), or failed (r < 0). */
static void burst_admitted(struct burst *b, int r) {
        if (r > 0)
                r = intake_enqueue(b->intake, b);
        if (r == -ENODATA)
                burst_finish(b, r, "no frame left to take the photo from");
        else if (r < 0)
                burst_finish(b, r, "cannot start storing the photo");
}

/* Parked bursts, oldest first, take their frames while the budget has room. */
static void intake_admit_parked(struct photo_intake *in) {
        while (in->parked_head) {
                struct burst *b = in->parked_head;
                int r = burst_take_frames(b, false);

                if (r == 0)
                        return;
                burst_unpark(b);
                burst_admitted(b, r);
        }
}

/* Loop thread, from the mailbox: the thread is done with b. */
static void burst_letter(void *userdata) {
        struct burst *b = userdata;
        struct photo_intake *in = b->intake;

        burst_finish(b, b->result < 0 ? b->result : 0, "cannot store the photo");
        intake_admit_parked(in);
}

int photo_intake_new(struct mailbox *mailbox, photo_intake_store_fn store, struct photo_intake **ret) {
        struct photo_intake *in;

        assert(mailbox);
        in = calloc(1, sizeof *in);
        if (!in)
                return -ENOMEM;
        in->mailbox = mailbox;
        in->store = store ?: image_processor_add;
        pthread_mutex_init(&in->lock, NULL);
        pthread_cond_init(&in->stored, NULL);
        *ret = in;
        return 0;
}

struct photo_intake *photo_intake_free(struct photo_intake *in) {
        if (!in)
                return NULL;
        assert(in->n_sources == 0 && !in->parked_head);
        pthread_mutex_lock(&in->lock);
        assert(!in->queue_head);
        while (in->thread_running)
                pthread_cond_wait(&in->stored, &in->lock);
        pthread_mutex_unlock(&in->lock);
        if (in->thread_unjoined)
                pthread_join(in->thread, NULL);
        pthread_cond_destroy(&in->stored);
        pthread_mutex_destroy(&in->lock);
        free(in);
        return NULL;
}

int photo_intake_source_new(struct photo_intake *in, struct frame_ring *ring,
                            struct photo_intake_source **ret) {
        struct photo_intake_source *src;

        assert(in && ring);
        src = calloc(1, sizeof *src);
        if (!src)
                return -ENOMEM;
        src->intake = in;
        src->ring = ring;
        in->n_sources++;
        *ret = src;
        return 0;
}

struct photo_intake_source *photo_intake_source_free(struct photo_intake_source *src) {
        struct photo_intake *in;
        bool join;

        if (!src)
                return NULL;
        in = src->intake;
        photo_intake_take_frames(src);

        pthread_mutex_lock(&in->lock);
        for (;;) {
                bool all_stored = true;

                for (struct burst *b = src->bursts; b; b = b->next)
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

        while (src->bursts)
                burst_unlink(src->bursts); /* its letter answers and frees it */
        in->n_sources--;
        free(src);
        intake_admit_parked(in); /* their frames left the budget */
        return NULL;
}

int photo_intake_submit(struct photo_intake_source *src, const struct photo_intake_request *req) {
        struct photo_intake *in = src->intake;
        struct burst *b, **tail;
        int r = 0;

        assert(req->done && req->images);
        assert(req->burst >= 1 && req->burst <= FRAME_RING_MAX);
        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->intake = in;
        b->source = src;
        b->done = req->done;
        b->userdata = req->userdata;
        b->images = req->images;
        b->burst = req->burst;
        b->quality = req->quality;
        b->deferred = req->deferred;
        b->make = strdup(req->camera_make ?: "");
        b->model = strdup(req->camera_model ?: "");
        if (!b->make || !b->model) {
                burst_free(b);
                return -ENOMEM;
        }
        for (tail = &src->bursts; *tail; tail = &(*tail)->next)
                ;
        *tail = b;

        /* Behind bursts parked already, a burst waits its turn. */
        if (!in->parked_head)
                r = burst_take_frames(b, false);
        if (r == 0) {
                log_debug("A photo waits for the store (%u frames held by waiting photos)", in->pinned);
                burst_park(b);
                return 0;
        }
        if (r > 0)
                r = intake_enqueue(in, b);
        if (r < 0) {
                burst_unlink(b);
                burst_free(b);
                return r;
        }
        return 0;
}

void photo_intake_take_frames(struct photo_intake_source *src) {
        struct burst *b = src->bursts;

        while (b) {
                struct burst *next = b->next;

                if (b->n_frames == 0) { /* parked */
                        burst_unpark(b);
                        burst_admitted(b, burst_take_frames(b, true));
                }
                b = next;
        }
}

unsigned photo_intake_pinned(const struct photo_intake *in) {
        return in->pinned;
}
