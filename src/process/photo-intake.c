/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/frame.h"
#include "process/photo-intake-internal.h"
#include "shared/log.h"

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
void photo_intake_letter(void *userdata) {
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
        intake_wait_stored(in, NULL);
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

        if (!src)
                return NULL;
        in = src->intake;
        photo_intake_take_frames(src);

        intake_wait_stored(in, src->bursts);

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
                burst_park(b);
                return 1;
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
