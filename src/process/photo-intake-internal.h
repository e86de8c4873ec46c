/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by photo-intake.c (loop thread: sources, budget, parking, answers) and
 * photo-intake-thread.c (the thread that makes planes and stores). */

#include <pthread.h>

#include "process/photo-intake.h"

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

/* Loop thread: hands b (with its frames) to the thread, starting one if none runs. */
int intake_enqueue(struct photo_intake *in, struct burst *b);
/* Loop thread: waits until every burst of the list is STORED, and, when nothing else is
 * queued, for the thread to leave (joined). bursts NULL: only the latter. */
void intake_wait_stored(struct photo_intake *in, struct burst *bursts);
/* Loop thread, from the mailbox: the thread is done with b (userdata). */
void photo_intake_letter(void *userdata);
