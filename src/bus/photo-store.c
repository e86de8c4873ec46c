/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/videodev2.h>

#include "bus/bus-errors.h"
#include "bus/camera.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/photo-store.h"
#include "bus/session.h"
#include "capture/frame-ring.h"
#include "process/image-processor.h"
#include "shared/log.h"
#include "shared/mailbox.h"

/* Frames that calls waiting for the store may hold between them, counting a frame shared by
 * consecutive calls on one output once (an upper bound of the distinct frames). The ring
 * holds FRAME_RING_MAX frames anyway, and calls pipelined within a fraction of a second
 * share them, so such a flood stays within this and every call keeps the frames of its own
 * moment. Only a client that keeps calling faster than bursts are stored for seconds on end
 * reaches it; its later calls then take their frames when the store has room. At 1080p YUYV
 * this is 96 MB of frames at most, half of which the ring holds regardless. */
#define PHOTO_PINNED_FRAMES_MAX (FRAME_RING_MAX + FRAME_RING_MAX / 2)

enum photo_job_state {
        PHOTO_JOB_PARKED, /* no frames yet; in store.parked */
        PHOTO_JOB_QUEUED, /* frames taken; in store.queue or being stored */
        PHOTO_JOB_STORED, /* the store thread is done with it; its letter is on the way */
};

struct photo_job {
        struct photo_job *next;        /* the output's jobs in call order; loop thread */
        struct photo_job *parked_next; /* store.parked; loop thread */
        struct photo_job *queue_next;  /* store.queue; under store.lock */
        enum photo_job_state state;    /* under store.lock once QUEUED */
        unsigned pinned;               /* this job's part of store.pinned; loop thread */

        struct output *output; /* NULL once the output is gone */
        struct manager *manager;
        sd_bus_message *message; /* loop thread only */
        char *path;              /* the output's, for the signal */

        /* The store thread's input and result. */
        struct image_processor *images;
        size_t burst;
        struct frame *frames[FRAME_RING_MAX];
        size_t n_frames;      /* 0 while parked; loop thread */
        bool frames_released; /* by the store thread, once the planes are made */
        uint32_t quality;
        bool deferred;
        char *make, *model;
        uint64_t shutter_realtime_us;
        int result;
        char id[IMAGE_ID_LEN + 1];
        double split_ms, store_ms;
};

/* One store thread for the process: a thread per call made the daemon grow by a burst's
 * planes and a malloc arena per call in flight. */
static struct {
        pthread_mutex_t lock;
        pthread_cond_t stored;     /* a job became STORED, or the thread went idle */
        struct photo_job *queue_head, *queue_tail;
        bool thread_running;       /* it takes queued jobs until the queue is empty */

        /* Loop thread only. */
        bool thread_unjoined;
        pthread_t thread;
        struct photo_job *parked_head, *parked_tail;
        unsigned pinned; /* frames held by QUEUED and STORED jobs (upper bound) */
} store = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .stored = PTHREAD_COND_INITIALIZER,
};

static double ms_since(const struct timespec *t0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static size_t planes_size(const struct frame *f) {
        unsigned ch = f->fourcc == V4L2_PIX_FMT_NV12 ? f->height / 2 : f->height;
        return (size_t) f->width * f->height + 2 * (size_t) (f->width / 2) * ch;
}

/* Splits a captured frame into the tightly packed planes the image processor takes, at buf
 * (planes_size(f) bytes). */
static void frame_to_planes(const struct frame *f, uint8_t *buf, struct image_burst_frame *out) {
        unsigned w = f->width, h = f->height, cw = w / 2;
        bool nv12 = f->fourcc == V4L2_PIX_FMT_NV12;
        unsigned ch = nv12 ? h / 2 : h;
        uint8_t *y = buf, *cb = y + (size_t) w * h, *cr = cb + (size_t) cw * ch;

        if (nv12) {
                const uint8_t *uv = f->data + (size_t) f->stride * h;
                for (unsigned row = 0; row < h; row++)
                        memcpy(y + (size_t) row * w, f->data + (size_t) row * f->stride, w);
                for (unsigned row = 0; row < ch; row++) {
                        const uint8_t *src = uv + (size_t) row * f->stride;
                        for (unsigned x = 0; x < cw; x++) {
                                cb[(size_t) row * cw + x] = src[2 * x];
                                cr[(size_t) row * cw + x] = src[2 * x + 1];
                        }
                }
        } else {
                for (unsigned row = 0; row < h; row++) {
                        const uint8_t *src = f->data + (size_t) row * f->stride;
                        for (unsigned x = 0; x < cw; x++) {
                                y[(size_t) row * w + 2 * x] = src[4 * x];
                                cb[(size_t) row * cw + x] = src[4 * x + 1];
                                y[(size_t) row * w + 2 * x + 1] = src[4 * x + 2];
                                cr[(size_t) row * cw + x] = src[4 * x + 3];
                        }
                }
        }
        *out = (struct image_burst_frame) { .y = y, .cb = cb, .cr = cr };
}

/* Store thread: the planes' memory, one anonymous mapping kept while the thread has work
 * (faulting in 64 MB afresh per 1080p burst of 16 costs more than the split itself) and
 * unmapped when it goes idle: it must go back to the system, not stay in a malloc arena. */
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

/* Store thread: planes of the burst, then the image processor writes it. */
static int photo_job_store(struct photo_job *j, struct planes_map *map) {
        const struct frame *f0 = j->frames[0];
        struct image_burst_frame planes[FRAME_RING_MAX] = {};
        size_t plane_bytes = planes_size(f0);
        struct timespec t0, t1;
        int r;

        struct image_burst burst = {
                .width = f0->width,
                .height = f0->height,
                .chroma = f0->fourcc == V4L2_PIX_FMT_NV12 ? IMAGE_CHROMA_420 : IMAGE_CHROMA_422,
                .n_frames = j->n_frames,
                .frames = planes,
                .quality = j->quality,
                .deferred = j->deferred,
                .capture_realtime_us = j->shutter_realtime_us,
                .camera_make = j->make,
                .camera_model = j->model,
        };

        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = planes_map_reserve(map, plane_bytes * j->n_frames);
        if (r < 0)
                return r;
        for (size_t i = 0; i < j->n_frames; i++)
                frame_to_planes(j->frames[i], map->data + i * plane_bytes, &planes[i]);
        /* The frames go back to the capture pool now, not after the slow write. */
        for (size_t i = 0; i < j->n_frames; i++)
                frame_unref(j->frames[i]);
        j->frames_released = true;
        j->split_ms = ms_since(&t0);

        clock_gettime(CLOCK_MONOTONIC, &t1);
        r = image_processor_add(j->images, &burst, j->id);
        j->store_ms = ms_since(&t1);
        return r;
}

static void photo_job_done(void *userdata);

static void *store_thread(void *userdata) {
        struct planes_map map = {};

        (void) userdata;
        pthread_mutex_lock(&store.lock);
        while (store.queue_head) {
                struct photo_job *j = store.queue_head;
                struct manager *m = j->manager;

                store.queue_head = j->queue_next;
                if (!store.queue_head)
                        store.queue_tail = NULL;
                pthread_mutex_unlock(&store.lock);

                j->result = photo_job_store(j, &map);

                pthread_mutex_lock(&store.lock);
                j->state = PHOTO_JOB_STORED;
                pthread_cond_broadcast(&store.stored);
                pthread_mutex_unlock(&store.lock);

                if (mailbox_post(m->mailbox, photo_job_done, j) < 0)
                        /* Out of memory: the call gets no reply (its caller times out), the
                         * job leaks rather than racing the loop thread over it. */
                        log_error("Cannot hand a stored photo back to the event loop");
                pthread_mutex_lock(&store.lock);
        }
        store.thread_running = false;
        pthread_cond_broadcast(&store.stored);
        pthread_mutex_unlock(&store.lock);
        planes_map_release(&map);
        return NULL;
}

/* Loop thread: hands j (with its frames) to the store thread, starting one if none runs. */
static int store_enqueue(struct photo_job *j) {
        int r = 0;

        pthread_mutex_lock(&store.lock);
        j->state = PHOTO_JOB_QUEUED;
        j->queue_next = NULL;
        if (store.queue_tail)
                store.queue_tail->queue_next = j;
        else
                store.queue_head = j;
        store.queue_tail = j;

        if (!store.thread_running) {
                /* The last thread found the queue empty and has left (it takes the lock no
                 * more); so the queue held only j. */
                if (store.thread_unjoined)
                        pthread_join(store.thread, NULL);
                store.thread_unjoined = false;
                r = -pthread_create(&store.thread, NULL, store_thread, NULL);
                if (r >= 0) {
                        store.thread_running = true;
                        store.thread_unjoined = true;
                } else
                        store.queue_head = store.queue_tail = NULL;
        }
        pthread_mutex_unlock(&store.lock);
        return r;
}

static void photo_job_free(struct photo_job *j) {
        if (!j->frames_released)
                for (size_t i = 0; i < j->n_frames; i++)
                        frame_unref(j->frames[i]);
        sd_bus_message_unref(j->message);
        free(j->path);
        free(j->make);
        free(j->model);
        free(j);
}

/* Loop thread: takes j off its output's list and its frames off the budget. The next job of
 * the output shared frames with j that were counted as j's; it now counts all of its own. */
static void photo_job_unlink(struct photo_job *j) {
        store.pinned -= j->pinned;
        j->pinned = 0;
        if (!j->output)
                return;
        for (struct photo_job **p = &j->output->photo_jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
        if (j->next && j->next->n_frames > 0) {
                store.pinned += j->next->n_frames - j->next->pinned;
                j->next->pinned = j->next->n_frames;
        }
        j->next = NULL;
        j->output = NULL;
}

static void photo_job_unpark(struct photo_job *j) {
        for (struct photo_job **p = &store.parked_head; *p; p = &(*p)->parked_next)
                if (*p == j) {
                        *p = j->parked_next;
                        if (store.parked_tail == j) {
                                store.parked_tail = NULL;
                                for (struct photo_job *q = store.parked_head; q; q = q->parked_next)
                                        store.parked_tail = q;
                        }
                        break;
                }
        j->parked_next = NULL;
}

static void photo_job_park(struct photo_job *j) {
        j->state = PHOTO_JOB_PARKED;
        j->parked_next = NULL;
        if (store.parked_tail)
                store.parked_tail->parked_next = j;
        else
                store.parked_head = j;
        store.parked_tail = j;
}

/* Loop thread: answers a job that will never be stored with ServiceFatal and frees it. */
static void photo_job_fail(struct photo_job *j, int r, const char *what) {
        sd_bus_error e = SD_BUS_ERROR_NULL;

        log_error_errno(r, "%s: %s: %m", j->path, what);
        bus_error_set_fatal(&e, r, what);
        (void) sd_bus_reply_method_error(j->message, &e);
        sd_bus_error_free(&e);
        photo_job_unlink(j);
        photo_job_free(j);
}

/* Loop thread: takes j's burst from its output's ring. Returns 1 when taken, 0 when the
 * budget has no room for it (unless force), -ENODATA when the ring is empty. */
static int photo_job_take_burst(struct photo_job *j, bool force) {
        struct output *o = j->output;
        struct frame *frames[FRAME_RING_MAX] = {};
        struct photo_job *prev = NULL;
        struct timespec ts;
        unsigned fresh = 0;
        size_t n;

        n = o->ring ? frame_ring_snapshot(o->ring, frames, j->burst) : 0;
        if (n == 0)
                return -ENODATA;

        /* Frames the output's previous job holds already are not counted again. Jobs take
         * their frames in call order, so that job (if any) is the one just before j. */
        for (struct photo_job *p = o->photo_jobs; p && p != j; p = p->next)
                prev = p;
        for (size_t i = 0; i < n; i++) {
                bool shared = false;

                if (prev)
                        for (size_t k = 0; k < prev->n_frames && !shared; k++)
                                shared = prev->frames[k] == frames[i];
                fresh += !shared;
        }
        if (!force && store.pinned > 0 && store.pinned + fresh > PHOTO_PINNED_FRAMES_MAX) {
                for (size_t i = 0; i < n; i++)
                        frame_unref(frames[i]);
                return 0;
        }

        memcpy(j->frames, frames, n * sizeof *frames);
        j->n_frames = n;
        j->pinned = fresh;
        store.pinned += fresh;
        clock_gettime(CLOCK_REALTIME, &ts);
        j->shutter_realtime_us = (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        return 1;
}

/* Loop thread: j got its frames (r > 0), is not there yet (r == 0), or failed (r < 0). */
static void photo_job_admitted(struct photo_job *j, int r) {
        if (r > 0)
                r = store_enqueue(j);
        if (r == -ENODATA)
                photo_job_fail(j, r, "no frame left to take the photo from");
        else if (r < 0)
                photo_job_fail(j, r, "cannot start storing the photo");
}

/* Loop thread: parked calls, oldest first, take their frames while the budget has room. */
static void store_admit_parked(void) {
        while (store.parked_head) {
                struct photo_job *j = store.parked_head;
                int r = photo_job_take_burst(j, false);

                if (r == 0)
                        return;
                photo_job_unpark(j);
                photo_job_admitted(j, r);
        }
}

/* Loop thread: the store thread is done with the job. */
static void photo_job_done(void *userdata) {
        struct photo_job *j = userdata;
        bool output_alive = j->output != NULL;

        photo_job_unlink(j);
        if (j->result < 0) {
                sd_bus_error e = SD_BUS_ERROR_NULL;

                log_error_errno(j->result, "%s: cannot store a photo: %m", j->path);
                bus_error_set_fatal(&e, j->result, "cannot store the photo");
                (void) sd_bus_reply_method_error(j->message, &e);
                sd_bus_error_free(&e);
        } else {
                log_info("%s: photo %s (%zu frames, quality %u, %s): planes %.1f ms, stored %.1f ms",
                         j->path, j->id, j->n_frames, j->quality, j->deferred ? "deferred" : "at once",
                         j->split_ms, j->store_ms);
                (void) sd_bus_reply_method_return(j->message, "s", j->id);
                if (output_alive)
                        (void) sd_bus_emit_signal(j->manager->bus, j->path, PHOTO_INTERFACE,
                                                  "PhotoAvailable", "sb", j->id, j->deferred);
        }
        manager_note_activity(j->manager);
        photo_job_free(j);
        store_admit_parked();
}

int photo_job_start(struct output *o, sd_bus_message *m, struct image_processor *images,
                    size_t burst, uint32_t quality, bool deferred) {
        const struct camera_device_info *info = camera_device_get_info(o->session->input->device);
        struct photo_job *j, **tail;
        int r = 0;

        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->output = o;
        j->manager = o->session->manager;
        j->message = sd_bus_message_ref(m);
        j->images = images;
        j->burst = burst;
        j->quality = quality;
        j->deferred = deferred;
        j->path = strdup(o->path);
        j->make = strdup(info->driver ?: "");
        j->model = strdup(info->name ?: "");
        if (!j->path || !j->make || !j->model) {
                photo_job_free(j);
                return -ENOMEM;
        }
        for (tail = &o->photo_jobs; *tail; tail = &(*tail)->next)
                ;
        *tail = j;

        /* Behind calls parked already, a call waits its turn. */
        if (!store.parked_head)
                r = photo_job_take_burst(j, false);
        if (r == 0) {
                log_debug("%s: Capture waits for the store (%u frames held by waiting calls)",
                          o->path, store.pinned);
                photo_job_park(j);
                return 0;
        }
        if (r > 0)
                r = store_enqueue(j);
        if (r < 0) {
                photo_job_unlink(j);
                photo_job_free(j);
                return r;
        }
        return 0;
}

void photo_jobs_take_frames(struct output *o) {
        struct photo_job *j = o->photo_jobs;

        while (j) {
                struct photo_job *next = j->next;

                if (j->n_frames == 0) { /* parked */
                        photo_job_unpark(j);
                        photo_job_admitted(j, photo_job_take_burst(j, true));
                }
                j = next;
        }
}

void photo_jobs_detach(struct output *o) {
        photo_jobs_take_frames(o);

        /* The jobs go on without the output: the store thread still stores each burst and
         * its letter still replies. The image processors they store into live until
         * photo_store_drain() at exit. */
        while (o->photo_jobs) {
                struct photo_job *j = o->photo_jobs;

                o->photo_jobs = j->next;
                j->next = NULL;
                j->output = NULL;
                /* The output's list no longer tells which frames a job shares with the one
                 * before it, which may now go first: each counts all of its own. */
                if (j->pinned < j->n_frames) {
                        store.pinned += (unsigned) j->n_frames - j->pinned;
                        j->pinned = (unsigned) j->n_frames;
                }
        }
}

void photo_store_drain(void) {
        bool join;

        /* Let the thread store what is queued, post its letters and leave, and join it. */
        pthread_mutex_lock(&store.lock);
        while (store.thread_running)
                pthread_cond_wait(&store.stored, &store.lock);
        join = store.thread_unjoined;
        pthread_mutex_unlock(&store.lock);
        if (join) {
                pthread_join(store.thread, NULL);
                store.thread_unjoined = false;
        }
}
