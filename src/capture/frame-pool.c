/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "capture/frame-pool.h"
#include "shared/macro.h"

struct frame_pool {
        atomic_int n_ref; /* the owner + every frame handed out */
        pthread_mutex_t lock;
        uint32_t fourcc;
        unsigned width, height;
        unsigned max_idle;
        unsigned n_idle;
        bool orphaned; /* owner gone: returning frames are freed */
        struct frame **idle;
};

static void frame_pool_unref(struct frame_pool *p) {
        if (atomic_fetch_sub_explicit(&p->n_ref, 1, memory_order_acq_rel) != 1)
                return;
        for (unsigned i = 0; i < p->n_idle; i++)
                free(p->idle[i]);
        pthread_mutex_destroy(&p->lock);
        free(p->idle);
        free(p);
}

static void frame_pool_release(struct frame *f) {
        struct frame_pool *p = f->release_data;
        bool kept = false;

        pthread_mutex_lock(&p->lock);
        if (!p->orphaned && p->n_idle < p->max_idle) {
                p->idle[p->n_idle++] = f;
                kept = true;
        }
        pthread_mutex_unlock(&p->lock);

        if (!kept)
                free(f); /* frame_new() made it as one allocation */
        frame_pool_unref(p);
}

int frame_pool_new(uint32_t fourcc, unsigned width, unsigned height, unsigned max_idle,
                   struct frame_pool **ret) {
        if (frame_size_for(fourcc, width, height) == 0 || max_idle == 0)
                return -EINVAL;

        struct frame_pool *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->idle = calloc(max_idle, sizeof *p->idle);
        if (!p->idle) {
                free(p);
                return -ENOMEM;
        }
        atomic_init(&p->n_ref, 1);
        pthread_mutex_init(&p->lock, NULL);
        p->fourcc = fourcc;
        p->width = width;
        p->height = height;
        p->max_idle = max_idle;
        *ret = p;
        return 0;
}

struct frame *frame_pool_get(struct frame_pool *p) {
        struct frame *f = NULL;

        pthread_mutex_lock(&p->lock);
        if (p->n_idle > 0)
                f = p->idle[--p->n_idle];
        pthread_mutex_unlock(&p->lock);

        if (!f) {
                f = frame_new(p->fourcc, p->width, p->height);
                if (!f)
                        return NULL;
                f->release = frame_pool_release;
                f->release_data = p;
        }
        atomic_store_explicit(&f->n_ref, 1, memory_order_relaxed);
        f->sequence = 0;
        f->timestamp_us = 0;
        atomic_fetch_add_explicit(&p->n_ref, 1, memory_order_relaxed);
        return f;
}

void frame_pool_free(struct frame_pool *p) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->orphaned = true;
        /* Idle frames would otherwise linger until the last frame out comes back. */
        for (unsigned i = 0; i < p->n_idle; i++)
                free(p->idle[i]);
        p->n_idle = 0;
        pthread_mutex_unlock(&p->lock);
        frame_pool_unref(p);
}
