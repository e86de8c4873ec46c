/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdatomic.h>

#include "process-test.h"
#include "process/image-pipeline.h"
#include "process/image-processor.h"
#include "shared/macro.h"
#include "shared/mailbox.h"

/* The scheduler is tested with a fake pipeline that works in 1 ms stripes (checking the
 * cancel flag like the real one), logs which image started, and fails on demand. Images
 * are told apart by their camera model "t<N>". */

#define MAX_TAGS 64

static struct {
        pthread_mutex_t lock;
        int started[1024];
        unsigned n_started;
        int stripes[MAX_TAGS];     /* ms of work per tag */
        int result[MAX_TAGS];      /* 0 or a forced error */
        atomic_bool hang[MAX_TAGS];  /* work until cancelled */
        atomic_int running;
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int fake_pipeline(const struct pipeline_request *req, struct pipeline_result *res) {
        int tag = atoi(req->camera_model + 1);
        static const char jpeg[] = "\xff\xd8\xff\xd9";

        check(tag >= 0 && tag < MAX_TAGS);
        pthread_mutex_lock(&fake.lock);
        fake.started[fake.n_started++] = tag;
        pthread_mutex_unlock(&fake.lock);
        atomic_fetch_add(&fake.running, 1);
        for (int i = 0; fake.hang[tag] || i < fake.stripes[tag]; i++) {
                if (req->check_cancel(req->cancel_data) != POOL_CANCEL_NONE) {
                        atomic_fetch_sub(&fake.running, 1);
                        return -ECANCELED;
                }
                test_sleep_ms(1);
        }
        atomic_fetch_sub(&fake.running, 1);
        if (fake.result[tag] != 0)
                return fake.result[tag];
        res->jpeg = malloc(sizeof jpeg);
        memcpy(res->jpeg, jpeg, sizeof jpeg);
        res->size = sizeof jpeg - 1;
        return 0;
}

static void fake_reset(int stripes) {
        pthread_mutex_lock(&fake.lock);
        fake.n_started = 0;
        for (int i = 0; i < MAX_TAGS; i++) {
                fake.stripes[i] = stripes;
                fake.result[i] = 0;
                fake.hang[i] = false;
        }
        pthread_mutex_unlock(&fake.lock);
}

/* Events seen on "the loop thread" (this one, through mailbox_dispatch). */
static struct {
        unsigned done, errors[_IMAGE_ERROR_MAX], status_events, counts_events;
        enum image_status status;
        unsigned pending, running;
        struct image_done_info last_info;
        char last_done[IMAGE_ID_LEN + 1];
        pthread_t loop;
} seen;

static void on_done(struct image_processor *p, const char *id, const struct image_done_info *info, void *u) {
        check(pthread_equal(pthread_self(), seen.loop));
        seen.done++;
        seen.last_info = *info;
        memcpy(seen.last_done, id, IMAGE_ID_LEN + 1);
}
static void on_error(struct image_processor *p, const char *id, enum image_error code, void *u) {
        check(pthread_equal(pthread_self(), seen.loop));
        seen.errors[code]++;
}
static void on_status(struct image_processor *p, enum image_status s, void *u) {
        seen.status_events++;
        seen.status = s;
}
static void on_counts(struct image_processor *p, unsigned pending, unsigned running, void *u) {
        seen.counts_events++;
        seen.pending = pending;
        seen.running = running;
}

static const struct image_processor_callbacks callbacks = { on_done, on_error, on_status, on_counts };

struct env {
        char *state;
        struct mailbox *mailbox;
        struct worker_pool *pool;
        struct image_processor *p;
        struct process_config config;
};

static void env_open(struct env *e, bool fresh) {
        struct image_processor_params params;

        if (fresh)
                e->state = test_make_state_dir();
        check_ok(mailbox_new(&e->mailbox));
        check_ok(pool_new(&e->config, &e->pool));
        params = (struct image_processor_params) {
                .uid = 1000, .state_dir = e->state, .config = &e->config, .pool = e->pool,
                .mailbox = e->mailbox, .callbacks = &callbacks,
        };
        check_ok(image_processor_new(&params, &e->p));
        image_processor_set_pipeline(e->p, fake_pipeline);
}

static void env_new(struct env *e, unsigned workers_hp, enum exec_mode mode) {
        memset(e, 0, sizeof *e);
        memset(&seen, 0, sizeof seen);
        seen.loop = pthread_self();
        process_config_init(&e->config);
        e->config.concurrency[EXEC_MODE_HIGH_PERFORMANCE] = workers_hp;
        e->config.concurrency[EXEC_MODE_BALANCED] = 1;
        e->config.concurrency[EXEC_MODE_LOW_POWER] = 1;
        e->config.default_mode = mode;
        e->config.low_power_sched_idle = false; /* see test-pool.c: idle class starves on busy CI */
        env_open(e, true);
}

static void env_close(struct env *e, bool keep) {
        image_processor_free(e->p);
        pool_unref(e->pool);
        mailbox_dispatch(e->mailbox);
        mailbox_free(e->mailbox);
        if (!keep) {
                test_rm_rf(e->state);
                free(e->state);
        }
}

/* The pipeline paused by the scheduler test seam must be installed before images exist;
 * images added in a test use tags so the fake can steer them. */
static void add(struct env *e, int tag, bool deferred, char id[static IMAGE_ID_LEN + 1]) {
        struct test_burst t;
        char model[16];

        test_burst_init(&t, 32, 32, 2, (unsigned) tag);
        snprintf(model, sizeof model, "t%d", tag);
        t.burst.camera_model = model;
        t.burst.deferred = deferred;
        check_ok(image_processor_add(e->p, &t.burst, id));
        test_burst_done(&t);
}

static enum image_state state_of(struct env *e, const char *id) {
        struct image_info info;
        check_ok(image_processor_get_info(e->p, id, &info));
        return info.state;
}

/* Dispatches events until cond holds or 60 s pass (valgrind on a loaded machine). */
#define wait_for(e, cond)                                                                    \
        do {                                                                                 \
                double _t0 = test_now();                                                     \
                while (mailbox_dispatch((e)->mailbox), !(cond)) {                            \
                        if (test_now() - _t0 > 60) {                                         \
                                fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, \
                                        __LINE__, #cond);                                    \
                                abort();                                                     \
                        }                                                                    \
                        test_sleep_ms(1);                                                    \
                }                                                                            \
        } while (0)

static void test_basic(void) {
        struct env e;
        char ids[3][IMAGE_ID_LEN + 1], **pending;
        struct image_info info;
        int fd;
        bool final;

        env_new(&e, 2, EXEC_MODE_BALANCED);
        fake_reset(5);
        image_processor_set_capture_active(e.p, true); /* hold background work */
        for (int i = 0; i < 3; i++)
                add(&e, i, true, ids[i]);
        check_ok(image_processor_list_pending(e.p, &pending));
        for (int i = 0; i < 3; i++) {
                check(pending[i] && streq(pending[i], ids[i])); /* oldest first */
                free(pending[i]);
        }
        check(!pending[3]);
        free(pending);
        check_ok(image_processor_open_image(e.p, ids[0], &fd, &final));
        check(!final && fd >= 0);
        {
                /* A real JPEG of the newest frame, EXIF-tagged, read-only. */
                char buf[4096];
                ssize_t n = pread(fd, buf, sizeof buf, 0);
                check(n > 100 && (unsigned char) buf[0] == 0xff && (unsigned char) buf[1] == 0xd8);
                check(memmem(buf, (size_t) n, "Exif", 4) && memmem(buf, (size_t) n, "TestMake", 8));
                check(write(fd, "x", 1) < 0);
        }
        close(fd);
        check_ok(image_processor_get_info(e.p, ids[1], &info));
        check(info.state == IMAGE_STATE_PENDING && !info.requested && info.width == 32 && info.frames == 2);
        check(image_processor_get_status(e.p) == IMAGE_STATUS_PREEMPTED);
        test_sleep_ms(20);
        check(fake.n_started == 0);

        image_processor_set_capture_active(e.p, false);
        wait_for(&e, seen.done == 3);
        check(image_processor_get_status(e.p) == IMAGE_STATUS_READY && seen.status == IMAGE_STATUS_READY);
        check(seen.pending == 0 && seen.running == 0 && seen.counts_events > 0);
        check(seen.last_info.width == 32 && seen.last_info.frames == 2 && seen.last_info.quality == 90);
        check(seen.last_info.size == 4);
        for (int i = 0; i < 3; i++) {
                check(state_of(&e, ids[i]) == IMAGE_STATE_DONE);
                check_ok(image_processor_open_image(e.p, ids[i], &fd, &final));
                check(final);
                close(fd);
        }
        check(image_processor_pending_count(e.p) == 0);

        /* Not ids: rejected without touching the filesystem. */
        static const char *bad[] = { "", "..", "../../etc/passwd", "0123456789ABCDEF0123456789ABCDEF",
                                     "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                check(image_processor_get_info(e.p, bad[i], &info) == -ENOENT);
                check(image_processor_process(e.p, bad[i]) == -ENOENT);
                check(image_processor_remove(e.p, bad[i]) == -ENOENT);
                check(image_processor_open_image(e.p, bad[i], &fd, &final) == -ENOENT);
        }
        check(image_processor_get_info(e.p, "0123456789abcdef0123456789abcdef", &info) == -ENOENT);
        env_close(&e, false);
}

/* One worker held by a requested image; then requested i1, i3 and background i0, i2, i4:
 * order after the blocker is i3, i1 (newest request first), then i0, i2, i4 (FIFO). */
static void test_order(void) {
        struct env e;
        char blocker[IMAGE_ID_LEN + 1], ids[5][IMAGE_ID_LEN + 1];
        int expected[] = { 10, 3, 1, 0, 2, 4 };

        env_new(&e, 2, EXEC_MODE_LOW_POWER);
        fake_reset(2);
        fake.hang[10] = true;
        image_processor_set_capture_active(e.p, true);
        add(&e, 10, false, blocker);
        wait_for(&e, atomic_load(&fake.running) == 1);
        for (int i = 0; i < 5; i++)
                add(&e, i, true, ids[i]);
        check_ok(image_processor_process(e.p, ids[1]));
        check_ok(image_processor_process(e.p, ids[3]));
        image_processor_set_capture_active(e.p, false);
        fake.hang[10] = false;
        wait_for(&e, seen.done == 6);
        check(fake.n_started == 6);
        for (int i = 0; i < 6; i++)
                check(fake.started[i] == expected[i]);
        env_close(&e, false);
}

/* All workers on background work: ProcessImage preempts one; it goes back to pending and
 * finishes later; preemption is not an error. */
static void test_preempt(void) {
        struct env e;
        char bg[2][IMAGE_ID_LEN + 1], req[IMAGE_ID_LEN + 1];

        env_new(&e, 2, EXEC_MODE_LOW_POWER);
        fake_reset(3);
        fake.hang[0] = true;
        image_processor_set_capture_active(e.p, true);
        add(&e, 0, true, bg[0]);
        add(&e, 1, true, bg[1]);
        add(&e, 2, true, req);
        image_processor_set_capture_active(e.p, false);
        wait_for(&e, atomic_load(&fake.running) == 1);
        check(state_of(&e, bg[0]) == IMAGE_STATE_RUNNING);
        check_ok(image_processor_process(e.p, req));
        wait_for(&e, state_of(&e, req) == IMAGE_STATE_DONE);
        check(state_of(&e, bg[0]) != IMAGE_STATE_DONE);
        check(fake.started[0] == 0 && fake.started[1] == 2);
        fake.hang[0] = false;
        wait_for(&e, seen.done == 3);
        check(fake.n_started == 4 && fake.started[2] == 0 && fake.started[3] == 1); /* bg0 again, then bg1 */
        for (int i = 0; i < _IMAGE_ERROR_MAX; i++)
                check(seen.errors[i] == 0);
        env_close(&e, false);
}

static void test_interrupt(void) {
        struct env e;
        char ids[4][IMAGE_ID_LEN + 1];
        double t0, dt;

        env_new(&e, 2, EXEC_MODE_HIGH_PERFORMANCE);
        fake_reset(2);
        for (int i = 0; i < 4; i++) {
                fake.hang[i] = true;
                add(&e, i, true, ids[i]);
        }
        wait_for(&e, atomic_load(&fake.running) == 2 && image_processor_running_count(e.p) == 2);
        t0 = test_now();
        check_ok(image_processor_interrupt(e.p));
        dt = test_now() - t0;
        printf("interrupt latency with 2 running: %.1f ms\n", dt * 1000);
        check(dt <= 0.100);
        check(image_processor_running_count(e.p) == 0 && atomic_load(&fake.running) == 0);
        for (int i = 0; i < 4; i++)
                check(state_of(&e, ids[i]) == IMAGE_STATE_PENDING);
        check(image_processor_get_status(e.p) == IMAGE_STATUS_PREEMPTED);
        mailbox_dispatch(e.mailbox);
        if (seen.errors[IMAGE_ERROR_ABORT] != 2)
                fprintf(stderr, "abort errors: %u, timeout %u\n", seen.errors[IMAGE_ERROR_ABORT],
                        seen.errors[IMAGE_ERROR_TIMEOUT]);
        check(seen.errors[IMAGE_ERROR_ABORT] == 2); /* posted before Interrupt returned */
        test_sleep_ms(30);
        check(fake.n_started == 2); /* paused: nothing restarted */

        /* SetExecutionMode resumes. */
        for (int i = 0; i < 4; i++)
                fake.hang[i] = false;
        check_ok(image_processor_set_mode(e.p, EXEC_MODE_LOW_POWER));
        wait_for(&e, seen.done == 4);
        check(image_processor_get_status(e.p) == IMAGE_STATUS_READY);
        env_close(&e, false);
}

static void test_retries_and_reset(void) {
        struct env e;
        char abnormal[IMAGE_ID_LEN + 1], corrupt[IMAGE_ID_LEN + 1], timeout[IMAGE_ID_LEN + 1];
        struct image_info info;

        env_new(&e, 2, EXEC_MODE_BALANCED);
        e.config.job_timeout_seconds = 1;
        e.config.max_retries = 1;
        env_close(&e, true); /* reopen with the new config on the same state dir */
        env_open(&e, false);
        fake_reset(1);
        fake.result[0] = -EIO;
        fake.result[1] = -EBADMSG;
        fake.hang[2] = true;
        add(&e, 0, true, abnormal);
        add(&e, 1, true, corrupt);
        add(&e, 2, true, timeout);
        wait_for(&e, state_of(&e, abnormal) == IMAGE_STATE_ERROR && state_of(&e, corrupt) == IMAGE_STATE_ERROR &&
                             state_of(&e, timeout) == IMAGE_STATE_ERROR);
        wait_for(&e, seen.errors[IMAGE_ERROR_TIMEOUT] == 2);
        check(seen.errors[IMAGE_ERROR_ABNORMAL] == 2); /* first try + one retry */
        check(seen.errors[IMAGE_ERROR_PROCESS] == 1);  /* final at once */
        check_ok(image_processor_get_info(e.p, abnormal, &info));
        check(info.last_error == IMAGE_ERROR_ABNORMAL && info.retries == 2);
        check_ok(image_processor_get_info(e.p, corrupt, &info));
        check(info.last_error == IMAGE_ERROR_PROCESS);
        check_ok(image_processor_get_info(e.p, timeout, &info));
        check(info.last_error == IMAGE_ERROR_TIMEOUT);
        check(image_processor_pending_count(e.p) == 0);

        /* Reset: failed -> pending with retries cleared, default mode again, and they run. */
        check_ok(image_processor_set_mode(e.p, EXEC_MODE_HIGH_PERFORMANCE));
        fake.result[0] = fake.result[1] = 0;
        fake.hang[2] = false;
        check_ok(image_processor_reset(e.p));
        check(image_processor_get_mode(e.p) == EXEC_MODE_BALANCED);
        wait_for(&e, seen.done == 3);
        check_ok(image_processor_get_info(e.p, abnormal, &info));
        check(info.state == IMAGE_STATE_DONE && info.retries == 0 && info.last_error < 0);
        env_close(&e, false);
}

static void test_remove_while_running(void) {
        struct env e;
        char id[IMAGE_ID_LEN + 1], other[IMAGE_ID_LEN + 1], *path;
        char **pending;

        env_new(&e, 1, EXEC_MODE_LOW_POWER);
        fake_reset(1);
        fake.hang[0] = true;
        add(&e, 0, true, id);
        add(&e, 1, true, other);
        wait_for(&e, state_of(&e, id) == IMAGE_STATE_RUNNING);
        check_ok(image_processor_remove(e.p, id));
        check(asprintf(&path, "%s/images/1000/%s", e.state, id) > 0);
        check(!test_exists(path));
        free(path);
        {
                struct image_info info;
                check(image_processor_get_info(e.p, id, &info) == -ENOENT);
        }
        check_ok(image_processor_list_pending(e.p, &pending));
        check(!pending[0] || streq(pending[0], other));
        for (char **s = pending; *s; s++)
                free(*s);
        free(pending);
        wait_for(&e, seen.done == 1);
        check(streq(seen.last_done, other));
        check(image_processor_remove(e.p, id) == -ENOENT);
        check_ok(image_processor_remove(e.p, other)); /* done: not running */
        env_close(&e, false);
}

/* The asynchronous Interrupt/RemoveImage/Reset: they return at once, their reply comes
 * once through the mailbox on the loop thread when the jobs that ran at the call stopped
 * (not jobs started after it), after the abort events, and also when the processor goes
 * first. */
static struct {
        unsigned calls;
        int result;
        unsigned aborts_seen; /* abort events delivered before the reply */
} reply_seen;

static void on_reply(int result, void *userdata) {
        check(pthread_equal(pthread_self(), seen.loop));
        check(userdata == &reply_seen);
        reply_seen.calls++;
        reply_seen.result = result;
        reply_seen.aborts_seen = seen.errors[IMAGE_ERROR_ABORT];
}

static void test_async_calls(void) {
        struct env e;
        char ids[4][IMAGE_ID_LEN + 1], *path;
        double t0;

        env_new(&e, 2, EXEC_MODE_HIGH_PERFORMANCE);
        fake_reset(2);
        for (int i = 0; i < 4; i++) {
                fake.hang[i] = true;
                add(&e, i, true, ids[i]);
        }
        wait_for(&e, atomic_load(&fake.running) == 2 && image_processor_running_count(e.p) == 2);

        /* Interrupt: at once, preempted at once, answered when both runs stopped. */
        memset(&reply_seen, 0, sizeof reply_seen);
        t0 = test_now();
        check_ok(image_processor_interrupt_async(e.p, on_reply, &reply_seen));
        check(reply_seen.calls == 0);
        check(image_processor_get_status(e.p) == IMAGE_STATUS_PREEMPTED);
        wait_for(&e, reply_seen.calls == 1);
        printf("async interrupt answered after %.1f ms\n", (test_now() - t0) * 1000);
        check(reply_seen.result == 0 && reply_seen.aborts_seen == 2);
        check(image_processor_running_count(e.p) == 0);
        for (int i = 0; i < 4; i++)
                check(state_of(&e, ids[i]) == IMAGE_STATE_PENDING);

        /* A job started after the Interrupt (ProcessImage resumes) does not hold it up. */
        check_ok(image_processor_process(e.p, ids[0]));
        wait_for(&e, image_processor_running_count(e.p) >= 1);
        memset(&reply_seen, 0, sizeof reply_seen);
        check_ok(image_processor_interrupt_async(e.p, on_reply, &reply_seen));
        check_ok(image_processor_process(e.p, ids[1])); /* hangs until cancelled */
        wait_for(&e, reply_seen.calls == 1);
        check(reply_seen.result == 0);

        /* RemoveImage of a running image: answered once its folder is gone. */
        wait_for(&e, state_of(&e, ids[1]) == IMAGE_STATE_RUNNING);
        memset(&reply_seen, 0, sizeof reply_seen);
        check_ok(image_processor_remove_async(e.p, ids[1], on_reply, &reply_seen));
        wait_for(&e, reply_seen.calls == 1);
        check(reply_seen.result == 0);
        check(asprintf(&path, "%s/images/1000/%s", e.state, ids[1]) > 0);
        check(!test_exists(path));
        free(path);
        {
                struct image_info info;
                check(image_processor_get_info(e.p, ids[1], &info) == -ENOENT);
        }
        /* Unknown: refused at once, no reply. */
        memset(&reply_seen, 0, sizeof reply_seen);
        check(image_processor_remove_async(e.p, ids[1], on_reply, &reply_seen) == -ENOENT);
        check(image_processor_remove_async(e.p, "nope", on_reply, &reply_seen) == -ENOENT);
        mailbox_dispatch(e.mailbox);
        check(reply_seen.calls == 0);

        /* Reset: answered with the default mode back and work resumed. */
        check_ok(image_processor_set_mode(e.p, EXEC_MODE_LOW_POWER));
        check_ok(image_processor_reset_async(e.p, on_reply, &reply_seen));
        wait_for(&e, reply_seen.calls == 1);
        check(reply_seen.result == 0);
        check(image_processor_get_mode(e.p) == EXEC_MODE_HIGH_PERFORMANCE);
        check(image_processor_get_status(e.p) == IMAGE_STATUS_READY);

        /* The processor goes before the reply was delivered: it still comes, once. */
        wait_for(&e, image_processor_running_count(e.p) >= 1);
        memset(&reply_seen, 0, sizeof reply_seen);
        check_ok(image_processor_interrupt_async(e.p, on_reply, &reply_seen));
        env_close(&e, false);
        check(reply_seen.calls == 1 && reply_seen.result == 0);
}

/* Mode switches back and forth while 24 images run: every one ends done. */
static void test_mode_under_load(void) {
        struct env e;
        char ids[24][IMAGE_ID_LEN + 1];

        env_new(&e, 3, EXEC_MODE_LOW_POWER);
        fake_reset(8);
        for (int i = 0; i < 24; i++)
                add(&e, i, true, ids[i]);
        for (int k = 0; k < 6; k++) {
                test_sleep_ms(10);
                check_ok(image_processor_set_mode(e.p, k % 2 ? EXEC_MODE_LOW_POWER : EXEC_MODE_HIGH_PERFORMANCE));
                mailbox_dispatch(e.mailbox);
        }
        wait_for(&e, seen.done == 24);
        for (int i = 0; i < 24; i++)
                check(state_of(&e, ids[i]) == IMAGE_STATE_DONE);
        check(fake.n_started == 24); /* nothing preempted or lost by resizing */
        env_close(&e, false);
}

static void test_quota(void) {
        struct env e;
        char a[IMAGE_ID_LEN + 1], b[IMAGE_ID_LEN + 1];
        struct image_info info;

        env_new(&e, 1, EXEC_MODE_BALANCED);
        e.config.quota_bytes = 3200; /* one 32x32x2 burst (3 KiB) + proxy + record exceeds it */
        env_close(&e, true);
        env_open(&e, false);
        fake_reset(1);
        image_processor_set_capture_active(e.p, true);
        add(&e, 0, true, a);
        check(image_processor_used_bytes(e.p) > 3072);
        wait_for(&e, seen.status == IMAGE_STATUS_SPACE_LIMIT_REACHED);
        check(image_processor_get_status(e.p) == IMAGE_STATUS_SPACE_LIMIT_REACHED);
        add(&e, 1, true, b);
        check_ok(image_processor_get_info(e.p, b, &info));
        check(info.requested); /* processed at once although deferred and a capture runs */
        wait_for(&e, state_of(&e, b) == IMAGE_STATE_DONE);
        check(state_of(&e, a) == IMAGE_STATE_PENDING);
        env_close(&e, false);
}

/* The daemon goes away mid-run; a new processor on the same folder finishes everything. */
static void test_restart(void) {
        struct env e;
        char ids[4][IMAGE_ID_LEN + 1];

        env_new(&e, 2, EXEC_MODE_HIGH_PERFORMANCE);
        fake_reset(1);
        for (int i = 0; i < 4; i++) {
                fake.hang[i] = true;
                add(&e, i, true, ids[i]);
        }
        wait_for(&e, image_processor_running_count(e.p) == 2);
        env_close(&e, true);
        fake_reset(2);
        memset(&seen, 0, sizeof seen);
        seen.loop = pthread_self();
        env_open(&e, false);
        check(image_processor_pending_count(e.p) == 4);
        wait_for(&e, seen.done == 4);
        for (int i = 0; i < 4; i++)
                check(state_of(&e, ids[i]) == IMAGE_STATE_DONE);
        env_close(&e, false);
}

static bool instrumented(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        return true;
#else
        /* valgrind announces itself through LD_PRELOAD of its vgpreload objects. */
        const char *preload = getenv("LD_PRELOAD");
        return preload && strstr(preload, "vgpreload");
#endif
}

/* Interrupt with the real pipeline on 640x480 bursts: every run back to pending quickly. */
static void test_interrupt_real_pipeline(void) {
        struct env e;
        struct test_burst t;
        char id[IMAGE_ID_LEN + 1];
        double worst = 0;

        env_new(&e, 2, EXEC_MODE_HIGH_PERFORMANCE);
        image_processor_set_pipeline(e.p, NULL);
        image_processor_set_capture_active(e.p, true);
        test_burst_init(&t, 640, 480, 4, 9);
        for (int i = 0; i < 6; i++)
                check_ok(image_processor_add(e.p, &t.burst, id));
        test_burst_done(&t);
        image_processor_set_capture_active(e.p, false);
        for (int k = 0; k < 5; k++) {
                double t0, dt;

                check_ok(image_processor_set_mode(e.p, EXEC_MODE_HIGH_PERFORMANCE));
                wait_for(&e, image_processor_running_count(e.p) > 0);
                test_sleep_ms(5 + 7 * k);
                t0 = test_now();
                check_ok(image_processor_interrupt(e.p));
                dt = test_now() - t0;
                worst = dt > worst ? dt : worst;
                check(image_processor_running_count(e.p) == 0);
        }
        printf("interrupt latency, real pipeline 640x480x4, worst of 5: %.1f ms\n", worst * 1000);
        /* Instrumented builds run the pipeline 5-50x slower between two checks; the
         * fake-pipeline test above holds every build to 100 ms. */
        check(worst <= (instrumented() ? 2.0 : 0.100));
        check_ok(image_processor_reset(e.p));
        wait_for(&e, seen.done == 6);
        check(image_processor_pending_count(e.p) == 0);
        env_close(&e, false);
}

/* A burst damaged on disk is a final "process" error; the pipeline never sees it. */
static void test_corrupt_burst(void) {
        struct env e;
        char id[IMAGE_ID_LEN + 1], *path;
        struct image_info info;

        env_new(&e, 1, EXEC_MODE_BALANCED);
        fake_reset(1);
        image_processor_set_capture_active(e.p, true);
        add(&e, 5, true, id);
        check(asprintf(&path, "%s/images/1000/%s/burst.yuv", e.state, id) > 0);
        check(truncate(path, 1000) == 0);
        free(path);
        image_processor_set_capture_active(e.p, false);
        wait_for(&e, state_of(&e, id) == IMAGE_STATE_ERROR);
        check_ok(image_processor_get_info(e.p, id, &info));
        check(info.last_error == IMAGE_ERROR_PROCESS);
        wait_for(&e, seen.errors[IMAGE_ERROR_PROCESS] == 1);
        check(fake.n_started == 0);
        /* The proxy is still there for the user. */
        {
                int fd;
                bool final;
                check_ok(image_processor_open_image(e.p, id, &fd, &final));
                check(!final);
                close(fd);
        }
        env_close(&e, false);
}

/* A burst.yuv replaced by a symlink (here to a valid copy) can never be read: a final
 * "process" error at once, not an "abnormal" one retried. */
static void test_symlinked_burst(void) {
        struct env e;
        char id[IMAGE_ID_LEN + 1], *cmd;
        struct image_info info;

        env_new(&e, 1, EXEC_MODE_BALANCED);
        fake_reset(1);
        image_processor_set_capture_active(e.p, true);
        add(&e, 6, true, id);
        check(asprintf(&cmd, "cd '%s/images/1000/%s' && mv burst.yuv '%s/elsewhere.yuv' && "
                             "ln -s '%s/elsewhere.yuv' burst.yuv", e.state, id, e.state, e.state) > 0);
        check(system(cmd) == 0);
        free(cmd);
        image_processor_set_capture_active(e.p, false);
        wait_for(&e, state_of(&e, id) == IMAGE_STATE_ERROR);
        wait_for(&e, seen.errors[IMAGE_ERROR_PROCESS] == 1);
        check_ok(image_processor_get_info(e.p, id, &info));
        check(info.last_error == IMAGE_ERROR_PROCESS && info.retries == 0);
        check(seen.errors[IMAGE_ERROR_ABNORMAL] == 0);
        check(fake.n_started == 0);
        env_close(&e, false);
}

int main(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        test_basic();
        test_order();
        test_preempt();
        test_interrupt();
        test_retries_and_reset();
        test_remove_while_running();
        test_async_calls();
        test_mode_under_load();
        test_quota();
        test_restart();
        test_corrupt_burst();
        test_symlinked_burst();
        test_interrupt_real_pipeline();
        return 0;
}
