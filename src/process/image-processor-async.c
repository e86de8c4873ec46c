/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "process/image-processor-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/mailbox.h"

/* Interrupt, RemoveImage and Reset without waiting on the caller's thread: the call cancels
 * the jobs and parks a waiter; the worker whose job ends last posts it to the mailbox, and
 * the loop thread answers from there while it serves everyone else meanwhile. */

enum wait_for {
        WAIT_STOPPED, /* no job submitted before the call runs any more */
        WAIT_GONE,    /* the image's entry is gone (its job's done() deleted it) */
};

struct image_waiter {
        struct image_waiter *next;
        enum wait_for what;
        uint64_t last_job_id;          /* WAIT_STOPPED: the newest job that was running */
        char id[IMAGE_ID_LEN + 1];     /* WAIT_GONE */
        int (*then)(struct image_processor *p); /* on the loop thread before the reply */
        int result;
        struct event_sink *sink;       /* keeps the letter safe after the processor went */
        image_processor_reply_fn reply;
        void *userdata;
};

static bool waiter_satisfied_locked(struct image_processor *p, const struct image_waiter *w) {
        if (w->what == WAIT_GONE)
                return !image_entry_find(p, w->id);
        for (struct image_entry *e = p->head; e; e = e->next)
                if (e->job_running && e->job_id <= w->last_job_id)
                        return false;
        return true;
}

/* Loop thread, from mailbox_dispatch(). */
static void waiter_deliver(void *userdata) {
        struct image_waiter *w = userdata;
        int r = w->result;

        if (r >= 0 && w->then && atomic_load(&w->sink->alive))
                r = w->then(w->sink->processor);
        w->reply(r, w->userdata);
        image_event_sink_unref(w->sink);
        free(w);
}

static void waiter_post(struct image_processor *p, struct image_waiter *w, int result) {
        w->result = result;
        if (mailbox_post(p->mailbox, waiter_deliver, w) < 0)
                /* Out of memory: the call gets no reply (its caller times out); the waiter
                 * leaks rather than being answered from a worker thread. */
                log_error("image processor: cannot post the answer of a call");
}

void image_waiters_check_locked(struct image_processor *p) {
        for (struct image_waiter **pw = &p->waiters; *pw;) {
                struct image_waiter *w = *pw;

                if (!waiter_satisfied_locked(p, w)) {
                        pw = &w->next;
                        continue;
                }
                *pw = w->next;
                waiter_post(p, w, 0);
        }
}

void image_waiters_flush_locked(struct image_processor *p, int result) {
        while (p->waiters) {
                struct image_waiter *w = p->waiters;

                p->waiters = w->next;
                waiter_post(p, w, result);
        }
}

static struct image_waiter *waiter_new(struct image_processor *p, enum wait_for what,
                                       image_processor_reply_fn reply, void *userdata) {
        struct image_waiter *w = calloc(1, sizeof *w);

        if (!w)
                return NULL;
        w->what = what;
        w->reply = reply;
        w->userdata = userdata;
        w->sink = p->sink;
        image_event_sink_ref(p->sink);
        return w;
}

/* Parks w until its jobs stopped, or posts it at once when they have already. Lock held. */
static void waiter_park_locked(struct image_processor *p, struct image_waiter *w) {
        if (w->what == WAIT_STOPPED)
                for (struct image_entry *e = p->head; e; e = e->next)
                        if (e->job_running && e->job_id > w->last_job_id)
                                w->last_job_id = e->job_id;
        if (waiter_satisfied_locked(p, w)) {
                waiter_post(p, w, 0);
                return;
        }
        w->next = p->waiters;
        p->waiters = w;
}

static int stop_all_async(struct image_processor *p, int (*then)(struct image_processor *p),
                          image_processor_reply_fn reply, void *userdata) {
        struct image_waiter *w;

        assert(p && reply);
        w = waiter_new(p, WAIT_STOPPED, reply, userdata);
        if (!w)
                return -ENOMEM;
        w->then = then;
        pthread_mutex_lock(&p->lock);
        image_processor_stop_all_locked(p);
        /* Interrupt's "preempted" shows at once; Reset's passing one is never posted, as
         * it is over when the reset is. */
        if (!then)
                image_processor_notify_locked(p);
        waiter_park_locked(p, w);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

int image_processor_interrupt_async(struct image_processor *p, image_processor_reply_fn reply,
                                    void *userdata) {
        return stop_all_async(p, NULL, reply, userdata);
}

int image_processor_reset_async(struct image_processor *p, image_processor_reply_fn reply,
                                void *userdata) {
        return stop_all_async(p, image_processor_reset_finish, reply, userdata);
}

int image_processor_remove_async(struct image_processor *p, const char *id,
                                 image_processor_reply_fn reply, void *userdata) {
        struct image_waiter *w;
        int r;

        assert(p && id && reply);
        w = waiter_new(p, WAIT_GONE, reply, userdata);
        if (!w)
                return -ENOMEM;
        memcpy(w->id, id, MIN(strlen(id), (size_t) IMAGE_ID_LEN));
        pthread_mutex_lock(&p->lock);
        r = image_processor_remove_begin_locked(p, id);
        if (r < 0) {
                pthread_mutex_unlock(&p->lock);
                image_event_sink_unref(w->sink);
                free(w);
                return r;
        }
        waiter_park_locked(p, w);
        pthread_mutex_unlock(&p->lock);
        return 0;
}
