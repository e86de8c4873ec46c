/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdlib.h>

#include "capture/frame-ring.h"
#include "shared/macro.h"

struct frame_ring {
        pthread_mutex_t lock;
        unsigned capacity;
        unsigned head;  /* slot of the next push */
        unsigned count;
        struct frame *slots[FRAME_RING_MAX];
};

int frame_ring_new(unsigned capacity, struct frame_ring **ret) {
        if (capacity == 0 || capacity > FRAME_RING_MAX)
                return -EINVAL;
        struct frame_ring *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        pthread_mutex_init(&r->lock, NULL);
        r->capacity = capacity;
        *ret = r;
        return 0;
}

struct frame_ring *frame_ring_free(struct frame_ring *r) {
        if (!r)
                return NULL;
        frame_ring_clear(r);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}

void frame_ring_push(struct frame_ring *r, struct frame *f) {
        struct frame *old;

        frame_ref(f);
        pthread_mutex_lock(&r->lock);
        old = r->slots[r->head];
        r->slots[r->head] = f;
        r->head = (r->head + 1) % r->capacity;
        if (r->count < r->capacity)
                r->count++;
        pthread_mutex_unlock(&r->lock);
        /* Outside the lock: the last unref may hand the frame back to its pool. */
        frame_unref(old);
}

size_t frame_ring_snapshot(struct frame_ring *r, struct frame **out, size_t n) {
        pthread_mutex_lock(&r->lock);
        size_t k = MIN(n, (size_t) r->count);
        for (size_t i = 0; i < k; i++) {
                /* oldest of the newest k first */
                unsigned slot = (r->head + r->capacity - (unsigned) (k - i)) % r->capacity;
                out[i] = frame_ref(r->slots[slot]);
        }
        pthread_mutex_unlock(&r->lock);
        return k;
}

size_t frame_ring_count(struct frame_ring *r) {
        pthread_mutex_lock(&r->lock);
        size_t n = r->count;
        pthread_mutex_unlock(&r->lock);
        return n;
}

void frame_ring_clear(struct frame_ring *r) {
        struct frame *old[FRAME_RING_MAX];
        unsigned n = 0;

        pthread_mutex_lock(&r->lock);
        for (unsigned i = 0; i < r->capacity; i++)
                if (r->slots[i]) {
                        old[n++] = r->slots[i];
                        r->slots[i] = NULL;
                }
        r->head = r->count = 0;
        pthread_mutex_unlock(&r->lock);
        for (unsigned i = 0; i < n; i++)
                frame_unref(old[i]);
}
