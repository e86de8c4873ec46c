/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdlib.h>
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

struct photo_job {
        struct photo_job *next;
        struct output *output;   /* NULL once the output is gone */
        struct manager *manager;
        sd_bus_message *message; /* loop thread only */
        char *path;              /* the output's, for the signal */
        pthread_t thread;
        bool joined;

        /* The thread's input and result. */
        struct image_processor *images;
        struct frame *frames[FRAME_RING_MAX];
        size_t n_frames;
        uint32_t quality;
        bool deferred;
        char *make, *model;
        uint64_t shutter_realtime_us;
        int result;
        char id[IMAGE_ID_LEN + 1];
        double split_ms, store_ms;
};

static double ms_since(const struct timespec *t0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Splits a captured frame into the tightly packed planes the image processor takes. */
static uint8_t *frame_to_planes(const struct frame *f, struct image_burst_frame *out) {
        unsigned w = f->width, h = f->height, cw = w / 2;
        bool nv12 = f->fourcc == V4L2_PIX_FMT_NV12;
        unsigned ch = nv12 ? h / 2 : h;
        uint8_t *buf = malloc((size_t) w * h + 2 * (size_t) cw * ch);
        uint8_t *y, *cb, *cr;

        if (!buf)
                return NULL;
        y = buf;
        cb = y + (size_t) w * h;
        cr = cb + (size_t) cw * ch;

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
        return buf;
}

static void photo_job_free(struct photo_job *j) {
        for (size_t i = 0; i < j->n_frames; i++)
                frame_unref(j->frames[i]);
        sd_bus_message_unref(j->message);
        free(j->path);
        free(j->make);
        free(j->model);
        free(j);
}

static void photo_job_unlink(struct photo_job *j) {
        if (!j->output)
                return;
        for (struct photo_job **p = &j->output->photo_jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
        j->output = NULL;
}

/* Loop thread: the job's thread has finished. */
static void photo_job_done(void *userdata) {
        struct photo_job *j = userdata;
        bool output_alive = j->output != NULL;

        if (!j->joined)
                pthread_join(j->thread, NULL);
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
}

static void *photo_job_thread(void *userdata) {
        struct photo_job *j = userdata;
        struct image_burst_frame planes[FRAME_RING_MAX] = {};
        uint8_t *buffers[FRAME_RING_MAX] = {};
        struct timespec t0, t1;
        int r = 0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; i < j->n_frames && r >= 0; i++) {
                buffers[i] = frame_to_planes(j->frames[i], &planes[i]);
                if (!buffers[i])
                        r = -ENOMEM;
        }
        j->split_ms = ms_since(&t0);

        if (r >= 0) {
                clock_gettime(CLOCK_MONOTONIC, &t1);
                struct image_burst burst = {
                        .width = j->frames[0]->width,
                        .height = j->frames[0]->height,
                        .chroma = j->frames[0]->fourcc == V4L2_PIX_FMT_NV12 ? IMAGE_CHROMA_420
                                                                             : IMAGE_CHROMA_422,
                        .n_frames = j->n_frames,
                        .frames = planes,
                        .quality = j->quality,
                        .deferred = j->deferred,
                        .capture_realtime_us = j->shutter_realtime_us,
                        .camera_make = j->make,
                        .camera_model = j->model,
                };
                r = image_processor_add(j->images, &burst, j->id);
                j->store_ms = ms_since(&t1);
        }
        for (size_t i = 0; i < j->n_frames; i++)
                free(buffers[i]);
        j->result = r;

        if (mailbox_post(j->manager->mailbox, photo_job_done, j) < 0)
                /* Out of memory: the call gets no reply (its caller times out), the job
                 * leaks rather than racing the loop thread over it. */
                log_error("%s: cannot hand a stored photo back to the event loop", j->path);
        return NULL;
}

int photo_job_start(struct output *o, sd_bus_message *m, struct image_processor *images,
                    struct frame **frames, size_t n, uint32_t quality, bool deferred) {
        const struct camera_device_info *info = camera_device_get_info(o->session->input->device);
        struct photo_job *j;
        struct timespec ts;
        int r;

        j = calloc(1, sizeof *j);
        if (!j) {
                for (size_t i = 0; i < n; i++)
                        frame_unref(frames[i]);
                return -ENOMEM;
        }
        memcpy(j->frames, frames, n * sizeof *frames);
        j->n_frames = n;
        j->output = o;
        j->manager = o->session->manager;
        j->message = sd_bus_message_ref(m);
        j->images = images;
        j->quality = quality;
        j->deferred = deferred;
        clock_gettime(CLOCK_REALTIME, &ts);
        j->shutter_realtime_us = (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        j->path = strdup(o->path);
        j->make = strdup(info->driver ?: "");
        j->model = strdup(info->name ?: "");
        if (!j->path || !j->make || !j->model) {
                photo_job_free(j);
                return -ENOMEM;
        }

        r = -pthread_create(&j->thread, NULL, photo_job_thread, j);
        if (r < 0) {
                photo_job_free(j);
                return r;
        }
        j->next = o->photo_jobs;
        o->photo_jobs = j;
        return 0;
}

void photo_jobs_detach(struct output *o) {
        while (o->photo_jobs) {
                struct photo_job *j = o->photo_jobs;

                pthread_join(j->thread, NULL);
                j->joined = true;
                photo_job_unlink(j); /* its letter replies and frees it */
        }
}
