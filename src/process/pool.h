/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "process/process-config.h"

/* A per-uid worker pool shared by the image processor and the video processor, so both run
 * under the user's execution mode. No D-Bus, no event loop here.
 *
 * Threads: the pool owns its worker pthreads. pool_* functions are safe from any thread.
 * The run and done callbacks of a job are called WITHOUT any pool lock held, so they may
 * call pool_* functions (e.g. re-submit).
 *
 * Order of picking: every POOL_PRIORITY_REQUESTED job before any POOL_PRIORITY_BACKGROUND
 * job. Requested jobs are picked newest submission first; background jobs by ascending
 * `order` (e.g. the creation time in µs: oldest first), ties by submission.
 *
 * Preemption: when a requested job is submitted (or promoted) and every worker is busy,
 * the pool cancels one running background job with POOL_CANCEL_PREEMPTED (the most recently
 * started one, which has the least work to lose). Its run() sees the flag between stripes
 * and returns; done() then gets the reason, and the owner re-submits it if it wants it to
 * run again. The pool never re-queues by itself.
 *
 * Mode: the number of workers follows the mode (concurrency from the config). Changing mode
 * starts workers at once; surplus workers finish their current job and then exit, so no
 * running work is lost. In EXEC_MODE_LOW_POWER background jobs run at SCHED_IDLE (unless
 * config.low_power_sched_idle is false; tests on loaded machines turn it off); requested
 * jobs run at normal priority in every mode (switching back needs CAP_SYS_NICE or
 * RLIMIT_NICE 20 when the daemon is not root; without it they stay idle-class).
 *
 * Watchdog: a job submitted with a timeout is cancelled with POOL_CANCEL_TIMEOUT when
 * pool_job_check_cancel() is called after its deadline. (A worker cannot be killed; jobs
 * check between stripes, which is also what makes Interrupt fast.) */

struct worker_pool;
struct pool_job;

enum pool_priority {
        POOL_PRIORITY_BACKGROUND,
        POOL_PRIORITY_REQUESTED,
};

enum pool_cancel {
        POOL_CANCEL_NONE = 0,
        POOL_CANCEL_PREEMPTED,  /* a requested job needed the worker */
        POOL_CANCEL_INTERRUPT,  /* owner's Interrupt(), Reset() or a pause */
        POOL_CANCEL_REMOVED,    /* owner removed the job's subject */
        POOL_CANCEL_TIMEOUT,    /* watchdog */
        POOL_CANCEL_SHUTDOWN,   /* pool is being freed */
};

struct pool_job_ops {
        /* Runs on a worker thread. Must call pool_job_check_cancel(job) between row stripes
         * (every few ms) and return -ECANCELED as soon as it is non-zero. Returns 0 or a
         * negative errno. */
        int (*run)(struct pool_job *job, void *userdata);
        /* Called exactly once per submitted job, after which the job handle is invalid:
         *  - on the worker thread after run() returned (result = its return value), or
         *  - on the thread calling pool_job_cancel()/pool_free() for a job that never
         *    started (result = -ECANCELED).
         * reason says why it was cancelled (POOL_CANCEL_NONE when it was not). done()
         * owns userdata from here on. */
        void (*done)(struct pool_job *job, void *userdata, int result, enum pool_cancel reason);
};

/* The pool starts with config->default_mode. The config is copied. */
int pool_new(const struct process_config *config, struct worker_pool **ret);
struct worker_pool *pool_ref(struct worker_pool *p);
/* The last unref cancels every job (POOL_CANCEL_SHUTDOWN), waits for the workers and frees.
 * Do not drop the last reference from inside a run()/done() callback. */
struct worker_pool *pool_unref(struct worker_pool *p);

static inline void pool_unrefp(struct worker_pool **p) {
        if (*p)
                pool_unref(*p);
}

int pool_set_mode(struct worker_pool *p, enum exec_mode mode);
enum exec_mode pool_get_mode(struct worker_pool *p);
/* Workers used in mode (config). */
unsigned pool_concurrency(struct worker_pool *p, enum exec_mode mode);

/* Queues a job. order: background sort key (smaller first). timeout_us: 0 = none, counted
 * from the moment a worker starts it. On success *ret_id (if non-NULL) is the job's id
 * (never 0, never reused). Ids rather than pointers, so that a call racing with the job's
 * end is harmless: an id that is no longer in the pool is simply not found. */
int pool_submit(struct worker_pool *p, const struct pool_job_ops *ops, void *userdata,
                enum pool_priority priority, uint64_t order, uint64_t timeout_us,
                uint64_t *ret_id);

/* Raises a queued or running job to requested (may preempt another). -ESRCH if gone. */
int pool_job_promote(struct worker_pool *p, uint64_t id);

/* Queued: removed, and done(-ECANCELED, reason) is called before this returns (returns 0).
 * Running: the flag is raised and done() follows from the worker (returns -EINPROGRESS).
 * Not in the pool (already done or never existed): -ESRCH. */
int pool_job_cancel(struct worker_pool *p, uint64_t id, enum pool_cancel reason);

/* Cancels every running and queued job submitted with these ops whose userdata satisfies
 * match(userdata, data) (match NULL = all of them) — used by an owner to stop its own jobs
 * (e.g. Interrupt, Reset); jobs of other owners in the same pool are never looked at. */
void pool_cancel_matching(struct worker_pool *p, const struct pool_job_ops *ops,
                          bool (*match)(void *userdata, void *data), void *data,
                          enum pool_cancel reason);

/* For run(): non-zero (an enum pool_cancel) when the job must stop. Cheap (an atomic load
 * plus a clock read), safe to call often. */
enum pool_cancel pool_job_check_cancel(struct pool_job *job);
/* For run(): this job's id. */
uint64_t pool_job_id(const struct pool_job *job);

/* Counts (snapshot). */
unsigned pool_running_count(struct worker_pool *p);
unsigned pool_queued_count(struct worker_pool *p);

/* Waits until no job is queued or running, or timeout_us passes (-ETIMEDOUT). For tests
 * and benchmarks. */
int pool_wait_idle(struct worker_pool *p, uint64_t timeout_us);
