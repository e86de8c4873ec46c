/* SPDX-License-Identifier: MIT */
/* The photo intake without a bus: bursts from frame rings, answered through a mailbox.
 * A fake store step records what it is given and can be held shut, so that bursts pile up
 * and the frame budget shows. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/frame-codec.h"
#include "capture/frame-ring.h"
#include "process/photo-intake.h"
#include "shared/mailbox.h"

#include "../check.h"

#define MAX_CALLS 64

static atomic_int frames_alive;

static void counted_release(struct frame *f) {
        atomic_fetch_sub(&frames_alive, 1);
        free(f);
}

/* A frame whose bytes are a pattern of (seed, offset); stride may be wider than the rows. */
static struct frame *pattern_frame(uint32_t fourcc, unsigned w, unsigned h, unsigned pad, unsigned seed) {
        unsigned row = fourcc == FRAME_FOURCC_YUYV ? 2 * w : w;
        unsigned rows = fourcc == FRAME_FOURCC_YUYV ? h : h + h / 2;
        struct frame *f = malloc(sizeof *f + (size_t) (row + pad) * rows);

        check(f);
        *f = (struct frame) {
                .fourcc = fourcc, .width = w, .height = h, .stride = row + pad,
                .data = (uint8_t *) (f + 1), .size = (size_t) (row + pad) * rows,
                .release = counted_release,
        };
        atomic_init(&f->n_ref, 1);
        for (size_t i = 0; i < f->size; i++)
                f->data[i] = (uint8_t) (i * 31 + seed * 7 + (i >> 3));
        atomic_fetch_add(&frames_alive, 1);
        return f;
}

/* The split written out pixel by pixel from the format definitions, to compare against. */
static void reference_planes(const struct frame *f, uint8_t *y, uint8_t *cb, uint8_t *cr) {
        unsigned w = f->width, h = f->height, cw = w / 2;

        for (unsigned r = 0; r < h; r++)
                for (unsigned x = 0; x < w; x++) {
                        if (f->fourcc == FRAME_FOURCC_YUYV) {
                                const uint8_t *p = f->data + (size_t) r * f->stride + 2 * x;
                                y[r * w + x] = p[0];
                                if (x % 2 == 0) {
                                        cb[r * cw + x / 2] = p[1];
                                        cr[r * cw + x / 2] = p[3];
                                }
                        } else {
                                y[r * w + x] = f->data[(size_t) r * f->stride + x];
                                if (r % 2 == 0 && x % 2 == 0) {
                                        const uint8_t *uv = f->data + (size_t) f->stride * (h + r / 2) + x;
                                        cb[(r / 2) * cw + x / 2] = uv[0];
                                        cr[(r / 2) * cw + x / 2] = uv[1];
                                }
                        }
                }
}

/* The fake store: held shut until opened; records each burst's first-frame planes. */
static struct {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        bool shut;
        unsigned n_calls;
        struct image_processor *order[MAX_CALLS];
        struct image_burst last; /* its pointers are the intake's: gone after the call */
        char last_make[16], last_model[16];
        uint8_t *last_planes; /* y, cb, cr of every frame of the last burst, packed */
        size_t last_bytes;
} store = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static int fake_store(struct image_processor *images, const struct image_burst *b,
                      char ret_id[static IMAGE_ID_LEN + 1]) {
        size_t cw = b->width / 2, ch = b->chroma == IMAGE_CHROMA_420 ? b->height / 2 : b->height;
        size_t luma = (size_t) b->width * b->height, frame = luma + 2 * cw * ch;

        pthread_mutex_lock(&store.lock);
        while (store.shut)
                pthread_cond_wait(&store.changed, &store.lock);
        check(store.n_calls < MAX_CALLS);
        store.order[store.n_calls] = images;
        snprintf(ret_id, IMAGE_ID_LEN + 1, "%032u", store.n_calls);
        store.n_calls++;
        store.last = *b;
        snprintf(store.last_make, sizeof store.last_make, "%s", b->camera_make);
        snprintf(store.last_model, sizeof store.last_model, "%s", b->camera_model);
        free(store.last_planes);
        store.last_bytes = frame * b->n_frames;
        store.last_planes = malloc(store.last_bytes);
        check(store.last_planes);
        for (unsigned i = 0; i < b->n_frames; i++) {
                uint8_t *dst = store.last_planes + i * frame;
                memcpy(dst, b->frames[i].y, luma);
                memcpy(dst + luma, b->frames[i].cb, cw * ch);
                memcpy(dst + luma + cw * ch, b->frames[i].cr, cw * ch);
        }
        pthread_mutex_unlock(&store.lock);
        return 0;
}

static void store_set_shut(bool shut) {
        pthread_mutex_lock(&store.lock);
        store.shut = shut;
        pthread_cond_broadcast(&store.changed);
        pthread_mutex_unlock(&store.lock);
}

/* What came back, in order. */
struct answer {
        int error;
        bool detached;
        size_t n_frames;
        uintptr_t tag;
};
static struct answer answers[MAX_CALLS];
static unsigned n_answers;

static void on_done(const struct photo_intake_result *r, void *userdata) {
        check(n_answers < MAX_CALLS);
        check(r->error < 0 ? r->what != NULL : r->id != NULL);
        answers[n_answers++] = (struct answer) {
                .error = r->error, .detached = r->detached, .n_frames = r->n_frames,
                .tag = (uintptr_t) userdata,
        };
}

/* Dispatches the mailbox until `want` answers are in (the thread posts as it goes). */
static void wait_answers(struct mailbox *mb, unsigned want) {
        for (int spins = 0; n_answers < want; spins++) {
                struct pollfd p = { .fd = mailbox_fd(mb), .events = POLLIN };

                check(spins < 1000); /* 100 s */
                (void) poll(&p, 1, 100);
                mailbox_dispatch(mb);
        }
}

static void reset(void) {
        n_answers = 0;
        pthread_mutex_lock(&store.lock);
        store.n_calls = 0;
        pthread_mutex_unlock(&store.lock);
}

static void push_fresh(struct frame_ring *ring, unsigned n, unsigned seed) {
        for (unsigned i = 0; i < n; i++) {
                struct frame *f = pattern_frame(FRAME_FOURCC_NV12, 16, 8, 0, seed + i);
                frame_ring_push(ring, f);
                frame_unref(f);
        }
}

static struct photo_intake_request request(size_t burst, uintptr_t tag) {
        /* The fake store reads `images` only as a tag: any non-NULL pointer does. */
        return (struct photo_intake_request) {
                .images = (struct image_processor *) (tag + 1), .burst = burst, .quality = 90,
                .deferred = true, .camera_make = "fake", .camera_model = NULL,
                .done = on_done, .userdata = (void *) tag,
        };
}

/* The planes the store gets are the reference split, for YUYV (4:2:2) and NV12 (4:2:0),
 * tight and with padded rows, oldest frame first. */
static void test_planes(struct photo_intake *in, struct mailbox *mb, uint32_t fourcc, unsigned pad) {
        const unsigned w = 32, h = 6;
        struct frame_ring *ring;
        struct photo_intake_source *src;
        struct frame *f[3];
        size_t frame_bytes;
        enum yuv_subsamp s;

        reset();
        check_ok(frame_ring_new(FRAME_RING_MAX, &ring));
        for (unsigned i = 0; i < 3; i++) {
                f[i] = pattern_frame(fourcc, w, h, pad, 100 + i);
                frame_ring_push(ring, f[i]);
        }
        check_ok(photo_intake_source_new(in, ring, &src));
        struct photo_intake_request req = request(2, 7);
        check_ok(photo_intake_submit(src, &req));
        wait_answers(mb, 1);
        check(answers[0].error == 0 && answers[0].n_frames == 2 && !answers[0].detached);

        frame_bytes = frame_planes_size(f[0], &s);
        check(s == (fourcc == FRAME_FOURCC_YUYV ? YUV_SUBSAMP_422 : YUV_SUBSAMP_420));
        check(store.last.chroma == (fourcc == FRAME_FOURCC_YUYV ? IMAGE_CHROMA_422 : IMAGE_CHROMA_420));
        check(store.last.width == w && store.last.height == h && store.last.n_frames == 2);
        check(store.last.quality == 90 && store.last.deferred);
        check(strcmp(store.last_make, "fake") == 0 && strcmp(store.last_model, "") == 0);
        check(store.last_bytes == 2 * frame_bytes);
        for (unsigned i = 0; i < 2; i++) {
                uint8_t *ref = calloc(1, frame_bytes);
                size_t luma = (size_t) w * h, chroma = (frame_bytes - luma) / 2;

                check(ref);
                reference_planes(f[1 + i], ref, ref + luma, ref + luma + chroma); /* the newest 2 */
                check(memcmp(store.last_planes + i * frame_bytes, ref, frame_bytes) == 0);
                free(ref);
        }
        photo_intake_source_free(src);
        for (unsigned i = 0; i < 3; i++)
                frame_unref(f[i]);
        frame_ring_free(ring);
}

/* Answers and stores keep submission order across sources. */
static void test_order(struct photo_intake *in, struct mailbox *mb) {
        struct frame_ring *ring[2];
        struct photo_intake_source *src[2];

        reset();
        store_set_shut(true); /* all of them queue up behind the first */
        for (unsigned k = 0; k < 2; k++) {
                check_ok(frame_ring_new(FRAME_RING_MAX, &ring[k]));
                push_fresh(ring[k], 4, 10 * k);
                check_ok(photo_intake_source_new(in, ring[k], &src[k]));
        }
        for (uintptr_t i = 0; i < 8; i++) {
                struct photo_intake_request req = request(1, i);
                check_ok(photo_intake_submit(src[i % 2], &req));
        }
        store_set_shut(false);
        wait_answers(mb, 8);
        for (unsigned i = 0; i < 8; i++) {
                check(answers[i].tag == i && answers[i].error == 0);
                check(store.order[i] == (struct image_processor *) (uintptr_t) (i + 1));
        }
        for (unsigned k = 0; k < 2; k++) {
                photo_intake_source_free(src[k]);
                frame_ring_free(ring[k]);
        }
}

/* With the store shut, bursts of fresh frames pin at most PHOTO_INTAKE_PINNED_MAX frames;
 * the rest park and are taken when room comes, still in order. */
static void test_budget(struct photo_intake *in, struct mailbox *mb) {
        const unsigned n = 12, burst = 4;
        struct frame_ring *ring;
        struct photo_intake_source *src;

        reset();
        store_set_shut(true);
        check_ok(frame_ring_new(FRAME_RING_MAX, &ring));
        check_ok(photo_intake_source_new(in, ring, &src));
        for (uintptr_t i = 0; i < n; i++) {
                push_fresh(ring, burst, 1000 + 10 * i); /* no frame shared with the last burst */
                struct photo_intake_request req = request(burst, i);
                /* Taken while within the budget, parked (1) after. */
                check_r(photo_intake_submit(src, &req), i < PHOTO_INTAKE_PINNED_MAX / burst ? 0 : 1);
                check(photo_intake_pinned(in) <= PHOTO_INTAKE_PINNED_MAX);
                /* The ring's frames plus the pinned ones: nothing else is held. */
                check((unsigned) atomic_load(&frames_alive) <= FRAME_RING_MAX + PHOTO_INTAKE_PINNED_MAX);
        }
        check(photo_intake_pinned(in) == PHOTO_INTAKE_PINNED_MAX); /* 6 taken, 6 parked */
        store_set_shut(false);
        wait_answers(mb, n);
        for (unsigned i = 0; i < n; i++)
                check(answers[i].tag == i && answers[i].error == 0 && answers[i].n_frames == burst);
        check(photo_intake_pinned(in) == 0);

        /* Parked bursts take their frames when told, whatever the budget. */
        reset();
        store_set_shut(true);
        for (uintptr_t i = 0; i < n; i++) {
                push_fresh(ring, burst, 2000 + 10 * i);
                struct photo_intake_request req = request(burst, i);
                check_ok(photo_intake_submit(src, &req));
        }
        photo_intake_take_frames(src);
        /* The six parked ones took the same newest frames: counted once. */
        check(photo_intake_pinned(in) == PHOTO_INTAKE_PINNED_MAX + burst);
        frame_ring_clear(ring);
        store_set_shut(false);
        wait_answers(mb, n);
        for (unsigned i = 0; i < n; i++)
                check(answers[i].tag == i && answers[i].error == 0 && answers[i].n_frames == burst);

        photo_intake_source_free(src);
        frame_ring_free(ring);
        check(atomic_load(&frames_alive) == 0);
}

/* Freeing a source waits for its bursts; their answers come by the mailbox, detached. A
 * parked burst whose ring is empty by then fails rather than vanishing. */
static void test_detach(struct photo_intake *in, struct mailbox *mb) {
        struct frame_ring *ring;
        struct photo_intake_source *src;

        reset();
        check_ok(frame_ring_new(FRAME_RING_MAX, &ring));
        check_ok(photo_intake_source_new(in, ring, &src));
        push_fresh(ring, 2, 5);
        for (uintptr_t i = 0; i < 3; i++) {
                struct photo_intake_request req = request(2, i);
                check_ok(photo_intake_submit(src, &req));
        }
        photo_intake_source_free(src); /* blocks until the three are stored */
        check(store.n_calls == 3);
        check(n_answers == 0);
        wait_answers(mb, 3);
        for (unsigned i = 0; i < 3; i++)
                check(answers[i].tag == i && answers[i].error == 0 && answers[i].detached);

        /* An empty ring: submit works only with a frame (the caller checks), and a forced
         * take of an emptied ring answers with an error at once. */
        reset();
        check_ok(photo_intake_source_new(in, ring, &src));
        store_set_shut(true);
        for (uintptr_t i = 0; i < 10; i++) {
                push_fresh(ring, 4, 3000 + 10 * i);
                struct photo_intake_request req = request(4, i);
                check_ok(photo_intake_submit(src, &req));
        }
        frame_ring_clear(ring);
        photo_intake_take_frames(src); /* the parked ones find no frame */
        check(n_answers == 4);
        for (unsigned i = 0; i < 4; i++)
                check(answers[i].tag == 6 + i && answers[i].error == -ENODATA);
        store_set_shut(false);
        photo_intake_source_free(src);
        wait_answers(mb, 10);
        for (unsigned i = 4; i < 10; i++)
                check(answers[i].tag == i - 4 && answers[i].error == 0);
        frame_ring_free(ring);
}

int main(void) {
        struct mailbox *mb;
        struct photo_intake *in;

        check_ok(mailbox_new(&mb));
        check_ok(photo_intake_new(mb, fake_store, &in));

        test_planes(in, mb, FRAME_FOURCC_YUYV, 0);
        test_planes(in, mb, FRAME_FOURCC_YUYV, 12);
        test_planes(in, mb, FRAME_FOURCC_NV12, 0);
        test_planes(in, mb, FRAME_FOURCC_NV12, 8);
        test_order(in, mb);
        test_budget(in, mb);
        test_detach(in, mb);

        mailbox_dispatch(mb);
        photo_intake_free(in);
        mailbox_free(mb);
        free(store.last_planes);
        check(atomic_load(&frames_alive) == 0);
        printf("ok\n");
        return 0;
}
