/* SPDX-License-Identifier: MIT */
#include "test-video-util.h"

/* The asynchronous Interrupt, RemoveVideo and Reset: they return at once, and their reply
 * comes once, from mailbox_dispatch() (never from inside the call), after the runs they
 * stopped ended and were applied ("abort" first); RemoveVideo's id is gone at once; a
 * processor freed first still replies. */

struct reply_seen {
        unsigned calls;
        int result;
        unsigned errors_then; /* error callbacks seen before the reply */
        struct vt_events *ev;
};

static void on_reply(int result, void *userdata) {
        struct reply_seen *r = userdata;

        r->calls++;
        r->result = result;
        r->errors_then = r->ev->errors;
}

static void wait_reply(struct vt_env *env, struct video_processor *vp, struct vt_events *ev,
                       struct reply_seen *r) {
        check(vt_wait(env, vp, ev, &r->calls, 0, 30));
        check(r->calls == 1 && r->result == 0);
}

/* Starts id and waits for its first progress, so that it runs. */
static void start_running(struct vt_env *env, struct video_processor *vp, struct vt_events *ev,
                          const char *id, uint64_t from) {
        unsigned before = ev->progress;

        check_r(video_processor_process(vp, id, from), 0);
        check(vt_wait(env, vp, ev, &ev->progress, before, 30));
}

int main(void) {
        struct vt_env env;
        struct vt_events ev = {};
        struct reply_seen r = { .ev = &ev };
        struct video_processor *vp;
        struct video_info info;
        char *dir, *in, *out, *out2, **pending;

        if (!vt_start())
                return 77;
        dir = vt_tmpdir();
        in = vt_make_testsrc(dir, "long.avi", "testsrc", 640, 480, 25, 600);
        out = vt_path(dir, "out.avi");
        out2 = vt_path(dir, "out2.avi");
        vt_env_init(&env, EXEC_MODE_HIGH_PERFORMANCE);
        check(video_processor_new(env.state_dir, 1020, env.pool, env.mailbox, &vt_callbacks, &ev, &vp) >= 0);

        /* Interrupt: returns before the run ended; the reply follows the abort. */
        vt_setup(vp, "a", in, out, "{}");
        start_running(&env, vp, &ev, "a", 0);
        ev.errors = 0;
        check_r(video_processor_interrupt_async(vp, on_reply, &r), 0);
        check(r.calls == 0);
        wait_reply(&env, vp, &ev, &r);
        check(r.errors_then == 1 && streq(ev.last_error_code, "abort"));
        check_r(video_processor_get_info(vp, "a", &info), 0);
        check(info.state == VIDEO_STATE_PENDING && video_processor_running_count(vp) == 0);

        /* Nothing running: still answered from the mailbox, not from inside the call. */
        r = (struct reply_seen) { .ev = &ev };
        check_r(video_processor_interrupt_async(vp, on_reply, &r), 0);
        check(r.calls == 0);
        wait_reply(&env, vp, &ev, &r);

        /* RemoveVideo of a running video: gone for other calls at once, answered when its
         * run ended, no abort error. */
        start_running(&env, vp, &ev, "a", info.resume_timestamp);
        ev.errors = 0;
        r = (struct reply_seen) { .ev = &ev };
        check_r(video_processor_remove_async(vp, "a", on_reply, &r), 0);
        check_r(video_processor_get_info(vp, "a", &info), -ENOENT);
        check_r(video_processor_pending(vp, &pending), 0);
        check(pending[0] == NULL);
        video_processor_strv_free(pending);
        wait_reply(&env, vp, &ev, &r);
        check(ev.errors == 0);
        check_r(video_processor_remove_async(vp, "a", on_reply, &r), -ENOENT);
        mailbox_dispatch(env.mailbox);
        check(r.calls == 1);

        /* Reset: answered with the session dropped. */
        vt_setup(vp, "b", in, out2, "{}");
        start_running(&env, vp, &ev, "b", 0);
        r = (struct reply_seen) { .ev = &ev };
        check_r(video_processor_reset_async(vp, on_reply, &r), 0);
        wait_reply(&env, vp, &ev, &r);
        check_r(video_processor_get_info(vp, "b", &info), 0);
        check(!info.prepared && !info.committed && info.state == VIDEO_STATE_PENDING);
        check(video_processor_status(vp) == VIDEO_STATUS_READY);

        /* Freed with a RemoveVideo in flight: the reply comes, once. */
        vt_setup(vp, "c", in, out, "{}");
        start_running(&env, vp, &ev, "c", 0);
        r = (struct reply_seen) { .ev = &ev };
        check_r(video_processor_remove_async(vp, "c", on_reply, &r), 0);
        video_processor_free(vp);
        mailbox_dispatch(env.mailbox);
        check(r.calls == 1 && r.result == 0);

        vt_env_done(&env);
        vt_rm_rf(dir);
        free(dir);
        free(in);
        free(out);
        free(out2);
        printf("video-async: all checks passed\n");
        return 0;
}
