/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdlib.h>

#include "process/video-processor-internal.h"
#include "process/video-run.h"
#include "shared/log.h"
#include "shared/mailbox.h"

/* Interrupt, RemoveVideo and Reset without waiting on the loop thread: the call stops the
 * runs and parks a waiter; each run that ends posts its letter (video-processor.c), and
 * once the runs the call stopped have all been applied, the waiter is answered from there.
 * Loop thread only. */

struct video_waiter {
        struct video_waiter *next;
        uint64_t last_generation;       /* the newest run that was running at the call */
        struct video_entry *removing;   /* RemoveVideo: the entry, off the list, run ending */
        bool reset;                     /* Reset: finish it before the reply */
        video_processor_reply_fn reply;
        void *userdata;
};

void video_processor_reset_finish(struct video_processor *vp) {
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (!e->run) /* a callback may have started one again; leave it be */
                        video_entry_drop_session(e);
        vp->current = NULL;
        video_processor_set_status(vp, VIDEO_STATUS_READY);
}

static bool waiter_satisfied(struct video_processor *vp, const struct video_waiter *w) {
        if (w->removing)
                return !w->removing->run;
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (e->run && e->node && e->node->generation <= w->last_generation)
                        return false;
        return true;
}

static void waiter_answer(struct video_processor *vp, struct video_waiter *w) {
        if (w->reset)
                video_processor_reset_finish(vp);
        if (w->removing)
                video_entry_free(w->removing);
        w->reply(0, w->userdata);
        free(w);
}

void video_waiters_check(struct video_processor *vp) {
        for (struct video_waiter **pw = &vp->waiters; *pw;) {
                struct video_waiter *w = *pw;

                if (!waiter_satisfied(vp, w)) {
                        pw = &w->next;
                        continue;
                }
                *pw = w->next;
                waiter_answer(vp, w);
                pw = &vp->waiters; /* the answer may have changed the list */
        }
}

void video_waiters_removing_ended(struct video_processor *vp, struct video_run *run) {
        for (struct video_waiter *w = vp->waiters; w; w = w->next)
                if (w->removing && w->removing->run == run) {
                        w->removing->run = NULL;
                        w->removing->node = NULL;
                }
}

void video_waiters_free(struct video_processor *vp) {
        /* Runs of videos being removed: stopped already; wait for them as for the others. */
        for (struct video_waiter *w = vp->waiters; w; w = w->next)
                if (w->removing && w->removing->run)
                        video_entry_wait_run_ended(vp, w->removing);
        video_processor_drain_ended(vp, false);
        while (vp->waiters) {
                struct video_waiter *w = vp->waiters;

                vp->waiters = w->next;
                w->reset = false; /* nothing left to reset */
                if (w->removing && w->removing->run) {
                        log_error("video %s: its run did not end; leaking it", w->removing->rec.id);
                        w->removing = NULL;
                }
                waiter_answer(vp, w);
        }
}

/* A waiter whose runs had all ended at the call: answered from the mailbox, not from
 * inside the call. */
static void check_letter(void *userdata) {
        struct video_processor *vp = userdata;

        if (!vp->dead)
                video_waiters_check(vp);
        vp_unref(vp);
}

static int park(struct video_processor *vp, struct video_waiter *w) {
        w->next = vp->waiters;
        vp->waiters = w;
        if (!waiter_satisfied(vp, w))
                return 0;
        if (mailbox_post(vp->mailbox, check_letter, vp_ref(vp)) < 0) {
                vp_unref(vp);
                vp->waiters = w->next;
                free(w);
                return -ENOMEM;
        }
        return 0;
}

static struct video_waiter *waiter_new(video_processor_reply_fn reply, void *userdata) {
        struct video_waiter *w = calloc(1, sizeof *w);

        if (w) {
                w->reply = reply;
                w->userdata = userdata;
        }
        return w;
}

static int stop_all_async(struct video_processor *vp, bool reset, video_processor_reply_fn reply,
                          void *userdata) {
        struct video_waiter *w;

        assert(vp && reply);
        w = waiter_new(reply, userdata);
        if (!w)
                return -ENOMEM;
        w->reset = reset;
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (e->run) {
                        video_run_stop(e->run, POOL_CANCEL_INTERRUPT);
                        if (e->node)
                                w->last_generation = MAX(w->last_generation, e->node->generation);
                }
        return park(vp, w);
}

int video_processor_interrupt_async(struct video_processor *vp, video_processor_reply_fn reply,
                                    void *userdata) {
        return stop_all_async(vp, false, reply, userdata);
}

int video_processor_reset_async(struct video_processor *vp, video_processor_reply_fn reply,
                                void *userdata) {
        return stop_all_async(vp, true, reply, userdata);
}

int video_processor_remove_async(struct video_processor *vp, const char *id,
                                 video_processor_reply_fn reply, void *userdata) {
        struct video_waiter *w;
        struct video_entry *e;
        int r;

        assert(vp && reply);
        e = id ? video_entry_find(vp, id) : NULL;
        if (!e || !e->run) {
                /* Nothing runs for it: removed now (or -ENOENT with the message). */
                r = video_processor_remove(vp, id);
                if (r < 0)
                        return r;
                w = waiter_new(reply, userdata);
                return w ? park(vp, w) : -ENOMEM;
        }
        w = waiter_new(reply, userdata);
        if (!w)
                return -ENOMEM;
        /* Gone for every other call at once; the entry itself goes when its run has. */
        video_run_stop(e->run, POOL_CANCEL_REMOVED);
        video_processor_forget_record(vp, e);
        w->removing = e;
        return park(vp, w);
}
