/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "capture/frame-pool.h"
#include "capture/frame-ring.h"
#include "shared/macro.h"
#include "test-util.h"

static void test_frame_basics(void) {
        check(frame_size_for(V4L2_PIX_FMT_NV12, 640, 480) == 640 * 480 * 3 / 2);
        check(frame_size_for(V4L2_PIX_FMT_YUYV, 640, 480) == 640 * 480 * 2);
        check(frame_size_for(V4L2_PIX_FMT_NV12, 641, 480) == 0);
        check(frame_size_for(V4L2_PIX_FMT_MJPEG, 641, 480) == 0);
        check(frame_new(V4L2_PIX_FMT_RGB24, 640, 480) == NULL);

        struct frame *f = frame_new(V4L2_PIX_FMT_YUYV, 64, 32);
        check(f && f->stride == 128 && f->size == 64 * 32 * 2 && ((uintptr_t) f->data % 64) == 0);
        check(frame_ref(f) == f && atomic_load(&f->n_ref) == 2);
        check(frame_unref(f) == NULL && atomic_load(&f->n_ref) == 1);
        frame_unref(f);
}

static void test_pool(void) {
        struct frame_pool *p = NULL;
        check(frame_pool_new(V4L2_PIX_FMT_NV12, 64, 32, 0, &p) == -EINVAL);
        check_ok(frame_pool_new(V4L2_PIX_FMT_NV12, 64, 32, 2, &p));

        struct frame *a = frame_pool_get(p), *b = frame_pool_get(p), *c = frame_pool_get(p);
        check(a && b && c && a != b && b != c);
        check(a->width == 64 && a->height == 32 && a->fourcc == V4L2_PIX_FMT_NV12);
        a->sequence = 7;
        frame_unref(a);
        frame_unref(b);
        frame_unref(c); /* only two are kept idle; the third is freed */
        struct frame *d = frame_pool_get(p), *e = frame_pool_get(p);
        check((d == a || d == b) && (e == a || e == b) && d != e); /* recycled */
        check(d->sequence == 0 && atomic_load(&d->n_ref) == 1);

        /* The owner goes first; outstanding frames free themselves (ASan/valgrind check). */
        frame_pool_free(p);
        frame_unref(d);
        frame_unref(e);
}

static struct frame *numbered(uint64_t seq) {
        struct frame *f = frame_new(V4L2_PIX_FMT_NV12, 16, 16);
        check(f);
        f->sequence = seq;
        return f;
}

static void test_ring(void) {
        struct frame_ring *r = NULL;
        struct frame *out[FRAME_RING_MAX], *kept[20];

        check(frame_ring_new(0, &r) == -EINVAL);
        check(frame_ring_new(17, &r) == -EINVAL);
        check_ok(frame_ring_new(16, &r));
        check(frame_ring_snapshot(r, out, 4) == 0);

        for (unsigned i = 0; i < 20; i++) {
                kept[i] = numbered(i);
                frame_ring_push(r, kept[i]);
        }
        check(frame_ring_count(r) == 16);
        /* evicted frames lost the ring's ref, held ones have it */
        check(atomic_load(&kept[3]->n_ref) == 1);
        check(atomic_load(&kept[4]->n_ref) == 2);

        check(frame_ring_snapshot(r, out, 4) == 4);
        for (unsigned i = 0; i < 4; i++) {
                check(out[i]->sequence == 16 + i);
                check(atomic_load(&out[i]->n_ref) == 3);
                frame_unref(out[i]);
        }
        check(frame_ring_snapshot(r, out, FRAME_RING_MAX) == 16);
        for (unsigned i = 0; i < 16; i++) {
                check(out[i]->sequence == 4 + i);
                frame_unref(out[i]);
        }

        frame_ring_clear(r);
        check(frame_ring_count(r) == 0);
        check(atomic_load(&kept[19]->n_ref) == 1);
        for (unsigned i = 0; i < 20; i++)
                frame_unref(kept[i]);

        /* capacity 3 wraps */
        frame_ring_free(r);
        check_ok(frame_ring_new(3, &r));
        for (unsigned i = 0; i < 5; i++) {
                struct frame *f = numbered(i);
                frame_ring_push(r, f);
                frame_unref(f);
        }
        check(frame_ring_snapshot(r, out, 16) == 3);
        check(out[0]->sequence == 2 && out[1]->sequence == 3 && out[2]->sequence == 4);
        for (unsigned i = 0; i < 3; i++)
                frame_unref(out[i]);
        frame_ring_free(r); /* frees the frames it still holds */
}

static atomic_bool stop_pushing;

static void *pusher(void *userdata) {
        struct frame_ring *r = userdata;
        for (uint64_t seq = 0; !atomic_load(&stop_pushing); seq++) {
                struct frame *f = numbered(seq);
                frame_ring_push(r, f);
                frame_unref(f);
        }
        return NULL;
}

/* Snapshots taken while another thread pushes are always consecutive, oldest first. */
static void test_ring_concurrent(void) {
        struct frame_ring *r = NULL;
        struct frame *out[FRAME_RING_MAX];
        pthread_t t;

        check_ok(frame_ring_new(8, &r));
        check(pthread_create(&t, NULL, pusher, r) == 0);
        unsigned full = 0;
        double end = test_now() + 5;
        /* Enough rounds, of which some with a full ring (the pusher may start late). */
        for (unsigned i = 0; (i < 2000 || full < 100) && test_now() < end; i++) {
                size_t n = frame_ring_snapshot(r, out, 8);
                uint64_t previous = 0;
                /* Read each sequence before dropping our ref: the pusher may free the frame. */
                for (size_t k = 0; k < n; k++) {
                        if (k > 0)
                                check(out[k]->sequence == previous + 1);
                        previous = out[k]->sequence;
                        frame_unref(out[k]);
                }
                full += n == 8;
        }
        atomic_store(&stop_pushing, true);
        pthread_join(t, NULL);
        check(full >= 100);
        frame_ring_free(r);
}

int main(void) {
        test_frame_basics();
        test_pool();
        test_ring();
        test_ring_concurrent();
        return 0;
}
