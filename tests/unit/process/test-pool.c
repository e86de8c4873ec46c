/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "process-test.h"
#include "process/pool.h"

/* Jobs that sleep in 1 ms stripes checking their cancel flag, and log when they start. */
struct log {
        pthread_mutex_t lock;
        int started[64];
        unsigned n_started;
        int done_result[64];
        enum pool_cancel done_reason[64];
        atomic_uint n_done;
        atomic_int running, max_running;
};

struct fake {
        struct log *log;
        int tag;
        int stripes;        /* 1 ms each */
        atomic_bool *gate;  /* if set, wait until it is true before working */
};

static int fake_run(struct pool_job *job, void *userdata) {
        struct fake *f = userdata;
        int now = atomic_fetch_add(&f->log->running, 1) + 1, max;

        while ((max = atomic_load(&f->log->max_running)) < now &&
               !atomic_compare_exchange_weak(&f->log->max_running, &max, now))
                ;
        pthread_mutex_lock(&f->log->lock);
        f->log->started[f->log->n_started++] = f->tag;
        pthread_mutex_unlock(&f->log->lock);
        while (f->gate && !atomic_load(f->gate)) {
                if (pool_job_check_cancel(job)) {
                        atomic_fetch_sub(&f->log->running, 1);
                        return -ECANCELED;
                }
                test_sleep_ms(1);
        }
        for (int i = 0; i < f->stripes; i++) {
                if (pool_job_check_cancel(job)) {
                        atomic_fetch_sub(&f->log->running, 1);
                        return -ECANCELED;
                }
                test_sleep_ms(1);
        }
        atomic_fetch_sub(&f->log->running, 1);
        return 0;
}

static void fake_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason) {
        struct fake *f = userdata;

        pthread_mutex_lock(&f->log->lock);
        f->log->done_result[f->tag] = result;
        f->log->done_reason[f->tag] = reason;
        f->log->n_done++;
        pthread_mutex_unlock(&f->log->lock);
}

static const struct pool_job_ops fake_ops = { fake_run, fake_done };

static struct process_config config_with(unsigned hp, unsigned lp, enum exec_mode mode) {
        struct process_config c;
        process_config_init(&c);
        c.concurrency[EXEC_MODE_HIGH_PERFORMANCE] = hp;
        c.concurrency[EXEC_MODE_BALANCED] = 1;
        c.concurrency[EXEC_MODE_LOW_POWER] = lp;
        c.default_mode = mode;
        /* Idle-class workers starve on a busy machine; timing tests run them normally and
         * test_sched_policy() checks the idle class on its own. */
        c.low_power_sched_idle = false;
        return c;
}

static void log_init(struct log *l) {
        memset(l, 0, sizeof *l);
        pthread_mutex_init(&l->lock, NULL);
}

/* One worker held by a gated job; then queue: background orders 30, 10, 20 and requested
 * A, B. Expect requested newest first (B, A), then background by order (10, 20, 30). */
static void test_order(void) {
        struct process_config c = config_with(1, 1, EXEC_MODE_LOW_POWER);
        struct worker_pool *p;
        struct log l;
        atomic_bool gate = false;
        struct fake blocker = { &l, 0, 0, &gate };
        struct fake jobs[6];
        int expected[] = { 0, 5, 4, 2, 3, 1 };

        log_init(&l);
        check_ok(pool_new(&c, &p));
        /* The blocker is requested so nothing preempts it. */
        check_ok(pool_submit(p, &fake_ops, &blocker, POOL_PRIORITY_REQUESTED, 0, 0, NULL));
        while (atomic_load(&l.running) == 0)
                test_sleep_ms(1);
        for (int i = 1; i <= 5; i++)
                jobs[i] = (struct fake) { &l, i, 1, NULL };
        check_ok(pool_submit(p, &fake_ops, &jobs[1], POOL_PRIORITY_BACKGROUND, 30, 0, NULL));
        check_ok(pool_submit(p, &fake_ops, &jobs[2], POOL_PRIORITY_BACKGROUND, 10, 0, NULL));
        check_ok(pool_submit(p, &fake_ops, &jobs[3], POOL_PRIORITY_BACKGROUND, 20, 0, NULL));
        check_ok(pool_submit(p, &fake_ops, &jobs[4], POOL_PRIORITY_REQUESTED, 99, 0, NULL));
        check_ok(pool_submit(p, &fake_ops, &jobs[5], POOL_PRIORITY_REQUESTED, 98, 0, NULL));
        atomic_store(&gate, true);
        check_ok(pool_wait_idle(p, 5000000));
        check(l.n_started == 6);
        for (int i = 0; i < 6; i++)
                check(l.started[i] == expected[i]);
        pool_unref(p);
}

/* Both workers busy with background work: a requested job preempts one of them. */
static void test_preempt(void) {
        struct process_config c = config_with(2, 1, EXEC_MODE_HIGH_PERFORMANCE);
        struct worker_pool *p;
        struct log l;
        atomic_bool gate = false;
        struct fake bg1 = { &l, 1, 0, &gate }, bg2 = { &l, 2, 0, &gate }, req = { &l, 3, 1, NULL };
        double t0;

        log_init(&l);
        check_ok(pool_new(&c, &p));
        check_ok(pool_submit(p, &fake_ops, &bg1, POOL_PRIORITY_BACKGROUND, 1, 0, NULL));
        check_ok(pool_submit(p, &fake_ops, &bg2, POOL_PRIORITY_BACKGROUND, 2, 0, NULL));
        while (atomic_load(&l.running) < 2)
                test_sleep_ms(1);
        t0 = test_now();
        check_ok(pool_submit(p, &fake_ops, &req, POOL_PRIORITY_REQUESTED, 0, 0, NULL));
        while (l.n_done < 2 && test_now() - t0 < 30)
                test_sleep_ms(1);
        check(l.n_done == 2);
        check(l.done_result[3] == 0);
        /* Exactly one background job was preempted, the other still waits at its gate. */
        check((l.done_reason[1] == POOL_CANCEL_PREEMPTED) != (l.done_reason[2] == POOL_CANCEL_PREEMPTED));
        check(atomic_load(&l.running) == 1);
        atomic_store(&gate, true);
        check_ok(pool_wait_idle(p, 5000000));
        pool_unref(p);
}

/* Switching modes under load: the worker count follows, and every job completes. */
static void test_resize(void) {
        struct process_config c = config_with(4, 1, EXEC_MODE_LOW_POWER);
        struct worker_pool *p;
        struct log l;
        struct fake jobs[40];
        double t0;

        log_init(&l);
        check_ok(pool_new(&c, &p));
        for (int i = 0; i < 40; i++) {
                jobs[i] = (struct fake) { &l, i, 8, NULL };
                check_ok(pool_submit(p, &fake_ops, &jobs[i], POOL_PRIORITY_BACKGROUND, (uint64_t) i, 0, NULL));
        }
        test_sleep_ms(12);
        check(atomic_load(&l.max_running) == 1);
        check_ok(pool_set_mode(p, EXEC_MODE_HIGH_PERFORMANCE));
        t0 = test_now();
        while (atomic_load(&l.max_running) < 4 && test_now() - t0 < 5)
                test_sleep_ms(1);
        check(atomic_load(&l.max_running) == 4);
        check_ok(pool_set_mode(p, EXEC_MODE_LOW_POWER));
        /* Surplus workers finish their job and leave: soon a whole window sees one at a
         * time (timing-tolerant for loaded machines). */
        t0 = test_now();
        for (;;) {
                atomic_store(&l.max_running, 0);
                test_sleep_ms(20);
                if (atomic_load(&l.max_running) == 1)
                        break;
                check(test_now() - t0 < 5);
        }
        check_ok(pool_wait_idle(p, 10000000));
        check(l.n_done == 40);
        for (int i = 0; i < 40; i++)
                check(l.done_result[i] == 0 && l.done_reason[i] == POOL_CANCEL_NONE);
        check(pool_get_mode(p) == EXEC_MODE_LOW_POWER);
        check(pool_concurrency(p, EXEC_MODE_HIGH_PERFORMANCE) == 4);
        pool_unref(p);
}

static void test_cancel_and_timeout(void) {
        struct process_config c = config_with(1, 1, EXEC_MODE_LOW_POWER);
        struct worker_pool *p;
        struct log l;
        atomic_bool gate = false;
        struct fake running = { &l, 1, 0, &gate }, queued = { &l, 2, 0, NULL }, slow = { &l, 3, 100000, NULL };
        uint64_t id_running, id_queued;
        double t0;

        log_init(&l);
        check_ok(pool_new(&c, &p));
        check_ok(pool_submit(p, &fake_ops, &running, POOL_PRIORITY_BACKGROUND, 1, 0, &id_running));
        check_ok(pool_submit(p, &fake_ops, &queued, POOL_PRIORITY_BACKGROUND, 2, 0, &id_queued));
        while (atomic_load(&l.running) == 0)
                test_sleep_ms(1);
        check(pool_job_cancel(p, id_queued, POOL_CANCEL_REMOVED) == 0);
        check(l.n_done == 1 && l.done_result[2] == -ECANCELED && l.done_reason[2] == POOL_CANCEL_REMOVED);
        check(pool_job_cancel(p, id_running, POOL_CANCEL_INTERRUPT) == -EINPROGRESS);
        check_ok(pool_wait_idle(p, 1000000));
        check(l.done_result[1] == -ECANCELED && l.done_reason[1] == POOL_CANCEL_INTERRUPT);
        check(pool_job_cancel(p, id_running, POOL_CANCEL_INTERRUPT) == -ESRCH);

        /* Watchdog: 30 ms. */
        t0 = test_now();
        check_ok(pool_submit(p, &fake_ops, &slow, POOL_PRIORITY_BACKGROUND, 3, 30000, NULL));
        check_ok(pool_wait_idle(p, 2000000));
        check(l.done_reason[3] == POOL_CANCEL_TIMEOUT && l.done_result[3] == -ECANCELED);
        check(test_now() - t0 < 5); /* not the 100 s the job wanted */

        /* Unref cancels what is left: done() is called for every job. */
        gate = false;
        struct fake a = { &l, 10, 0, &gate }, b = { &l, 11, 0, &gate };
        check_ok(pool_submit(p, &fake_ops, &a, POOL_PRIORITY_BACKGROUND, 1, 0, NULL));
        check_ok(pool_submit(p, &fake_ops, &b, POOL_PRIORITY_BACKGROUND, 2, 0, NULL));
        while (atomic_load(&l.running) == 0)
                test_sleep_ms(1);
        pool_unref(p);
        check(l.done_reason[10] == POOL_CANCEL_SHUTDOWN && l.done_reason[11] == POOL_CANCEL_SHUTDOWN);
}

struct policy_probe {
        atomic_int policy_at_start, policy_after_check;
        atomic_bool promoted, started;
};

static int probe_run(struct pool_job *job, void *userdata) {
        struct policy_probe *pr = userdata;
        struct sched_param sp;
        int policy;

        check(pthread_getschedparam(pthread_self(), &policy, &sp) == 0);
        pr->policy_at_start = policy;
        pr->started = true;
        while (!pr->promoted)
                test_sleep_ms(1);
        check(pool_job_check_cancel(job) == POOL_CANCEL_NONE);
        check(pthread_getschedparam(pthread_self(), &policy, &sp) == 0);
        pr->policy_after_check = policy;
        return 0;
}

static void probe_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason) {
        check(result == 0 && reason == POOL_CANCEL_NONE);
}

static const struct pool_job_ops probe_ops = { probe_run, probe_done };

/* Low-power background work runs at SCHED_IDLE; promoted to requested it leaves the idle
 * class at its next check (allowed here: the tests run as root or with CAP_SYS_NICE; as
 * another user the pool logs a warning and the job stays idle-class). */
static void test_sched_policy(void) {
        struct process_config c = config_with(2, 1, EXEC_MODE_LOW_POWER);
        struct policy_probe bg = {}, req = {};
        struct worker_pool *p;
        uint64_t id;

        c.low_power_sched_idle = true;
        check_ok(pool_new(&c, &p));
        check_ok(pool_submit(p, &probe_ops, &bg, POOL_PRIORITY_BACKGROUND, 0, 0, &id));
        while (!bg.started)
                test_sleep_ms(1);
        check(bg.policy_at_start == SCHED_IDLE);
        check_ok(pool_job_promote(p, id));
        bg.promoted = true;
        check_ok(pool_wait_idle(p, 60000000));
        if (geteuid() == 0)
                check(bg.policy_after_check == SCHED_OTHER);

        req.promoted = true;
        check_ok(pool_submit(p, &probe_ops, &req, POOL_PRIORITY_REQUESTED, 0, 0, NULL));
        check_ok(pool_wait_idle(p, 60000000));
        if (geteuid() == 0)
                check(req.policy_at_start == SCHED_OTHER);
        pool_unref(p);
}

int main(void) {
        test_order();
        test_preempt();
        test_resize();
        test_cancel_and_timeout();
        test_sched_policy();
        return 0;
}
