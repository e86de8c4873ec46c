/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "process/pool.h"
#include "shared/log.h"
#include "shared/macro.h"

struct pool_job {
        struct pool_job *prev, *next; /* in one of the pool's lists */
        uint64_t id, order, seq;
        uint64_t timeout_us, deadline_us;
        atomic_int priority; /* enum pool_priority; read by the worker without the lock */
        const struct pool_job_ops *ops;
        void *userdata;
        atomic_int cancel; /* enum pool_cancel */
        bool running;
};

struct job_list {
        struct pool_job *head, *tail;
        unsigned n;
};

struct worker {
        struct worker *next;
        struct worker_pool *pool;
        pthread_t thread;
        bool exited;
};

struct worker_pool {
        atomic_int n_ref;
        pthread_mutex_t lock;
        pthread_cond_t work_cond; /* a job was queued, the size changed, or shutdown */
        pthread_cond_t idle_cond; /* a job finished */
        struct process_config config;
        enum exec_mode mode;
        unsigned target;    /* workers wanted in this mode */
        unsigned n_alive;   /* workers that have not decided to exit */
        unsigned n_busy;
        struct worker *workers;
        /* requested: newest submission first (head insertion); background: by (order, seq) */
        struct job_list requested, background, running;
        uint64_t next_id, next_seq;
        bool shutdown;
};

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void list_remove(struct job_list *l, struct pool_job *j) {
        if (j->prev)
                j->prev->next = j->next;
        else
                l->head = j->next;
        if (j->next)
                j->next->prev = j->prev;
        else
                l->tail = j->prev;
        j->prev = j->next = NULL;
        l->n--;
}

static void list_insert_before(struct job_list *l, struct pool_job *before, struct pool_job *j) {
        if (!before) { /* append */
                j->prev = l->tail;
                j->next = NULL;
                if (l->tail)
                        l->tail->next = j;
                else
                        l->head = j;
                l->tail = j;
        } else {
                j->next = before;
                j->prev = before->prev;
                if (before->prev)
                        before->prev->next = j;
                else
                        l->head = j;
                before->prev = j;
        }
        l->n++;
}

/* Called with the lock held. */
static void queue_job(struct worker_pool *p, struct pool_job *j) {
        if (j->priority == POOL_PRIORITY_REQUESTED) {
                list_insert_before(&p->requested, p->requested.head, j);
                return;
        }
        /* Background: keep (order, seq) ascending. New jobs are usually the newest, so walk
         * from the tail. */
        struct pool_job *after = p->background.tail;
        while (after && (after->order > j->order || (after->order == j->order && after->seq > j->seq)))
                after = after->prev;
        list_insert_before(&p->background, after ? after->next : p->background.head, j);
}

static struct pool_job *find_job(struct job_list *l, uint64_t id) {
        for (struct pool_job *j = l->head; j; j = j->next)
                if (j->id == id)
                        return j;
        return NULL;
}

static bool raise_cancel(struct pool_job *j, enum pool_cancel reason) {
        int expected = POOL_CANCEL_NONE;
        return atomic_compare_exchange_strong(&j->cancel, &expected, (int) reason);
}

/* With the lock held: when requested jobs wait and no worker is free for them, cancel
 * background jobs, the most recently started first (least work lost). */
static void preempt_for_requested(struct worker_pool *p) {
        unsigned free_slots = p->target > p->n_busy ? p->target - p->n_busy : 0;
        unsigned need = p->requested.n > free_slots ? p->requested.n - free_slots : 0;

        for (struct pool_job *j = p->running.tail; j && need > 0; j = j->prev) {
                if (j->priority != POOL_PRIORITY_BACKGROUND)
                        continue;
                if (atomic_load(&j->cancel) != POOL_CANCEL_NONE) {
                        need--; /* already leaving */
                        continue;
                }
                if (raise_cancel(j, POOL_CANCEL_PREEMPTED)) {
                        log_debug("pool: preempting background job %llu", (unsigned long long) j->id);
                        need--;
                }
        }
}

static struct pool_job *pick_job(struct worker_pool *p) {
        struct pool_job *j = p->requested.head;
        if (j) {
                list_remove(&p->requested, j);
                return j;
        }
        j = p->background.head;
        if (j)
                list_remove(&p->background, j);
        return j;
}

/* This worker thread's scheduling class (false: SCHED_OTHER). */
static _Thread_local bool worker_idle_policy;

static void apply_sched_policy(bool idle) {
        struct sched_param param = { .sched_priority = 0 };
        bool *current_idle = &worker_idle_policy;
        int r;

        if (idle == *current_idle)
                return;
        /* Leaving SCHED_IDLE needs CAP_SYS_NICE or a RLIMIT_NICE of 20; without either the
         * worker stays idle-class (logged once per worker). */
        r = pthread_setschedparam(pthread_self(), idle ? SCHED_IDLE : SCHED_OTHER, &param);
        if (r != 0) {
                static atomic_bool warned = false;
                if (!atomic_exchange(&warned, true))
                        log_warning_errno(r, "pool: cannot switch a worker to %s: %m", idle ? "SCHED_IDLE" : "SCHED_OTHER");
        } else
                *current_idle = idle;
}

static void *worker_main(void *arg) {
        struct worker *self = arg;
        struct worker_pool *p = self->pool;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                struct pool_job *j;
                enum pool_cancel reason;
                bool want_idle;
                int r;

                if (p->shutdown || p->n_alive > p->target)
                        break;
                j = pick_job(p);
                if (!j) {
                        pthread_cond_wait(&p->work_cond, &p->lock);
                        continue;
                }
                j->running = true;
                j->deadline_us = j->timeout_us > 0 ? now_us() + j->timeout_us : 0;
                list_insert_before(&p->running, NULL, j);
                p->n_busy++;
                /* Only background work idles: a requested image runs at normal priority
                 * whatever the mode ("process this one now"). */
                want_idle = p->config.low_power_sched_idle && p->mode == EXEC_MODE_LOW_POWER &&
                            j->priority == POOL_PRIORITY_BACKGROUND;
                pthread_mutex_unlock(&p->lock);

                apply_sched_policy(want_idle);
                r = j->ops->run(j, j->userdata);
                reason = (enum pool_cancel) atomic_load(&j->cancel);

                pthread_mutex_lock(&p->lock);
                list_remove(&p->running, j);
                pthread_mutex_unlock(&p->lock);

                /* Still counted busy until done() returns, so pool_wait_idle() also waits
                 * for whatever done() re-submits. */
                j->ops->done(j, j->userdata, r, reason);
                free(j);

                pthread_mutex_lock(&p->lock);
                p->n_busy--;
                pthread_cond_broadcast(&p->idle_cond);
        }
        p->n_alive--;
        self->exited = true;
        pthread_cond_broadcast(&p->idle_cond);
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* With the lock held: start workers up to the target. */
static int spawn_workers(struct worker_pool *p) {
        while (p->n_alive < p->target) {
                struct worker *w = calloc(1, sizeof *w);
                int r;

                if (!w)
                        return -ENOMEM;
                w->pool = p;
                r = pthread_create(&w->thread, NULL, worker_main, w);
                if (r != 0) {
                        free(w);
                        return log_error_errno(r, "pool: cannot start a worker thread: %m");
                }
                w->next = p->workers;
                p->workers = w;
                p->n_alive++;
        }
        return 0;
}

/* Joins workers that have exited. Called without the lock (joining may wait for the
 * thread's last instructions), from the single thread that manages the pool. */
static void reap_workers(struct worker_pool *p, bool all) {
        for (;;) {
                struct worker *w = NULL, **pw;

                pthread_mutex_lock(&p->lock);
                for (pw = &p->workers; *pw; pw = &(*pw)->next)
                        if ((*pw)->exited || all) {
                                w = *pw;
                                *pw = w->next;
                                break;
                        }
                pthread_mutex_unlock(&p->lock);
                if (!w)
                        return;
                pthread_join(w->thread, NULL);
                free(w);
        }
}

int pool_new(const struct process_config *config, struct worker_pool **ret) {
        struct worker_pool *p;
        int r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        atomic_init(&p->n_ref, 1);
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work_cond, NULL);
        pthread_cond_init(&p->idle_cond, NULL);
        p->config = *config;
        p->mode = config->default_mode;
        p->target = MAX(1u, config->concurrency[p->mode]);
        p->next_id = 1;

        pthread_mutex_lock(&p->lock);
        r = spawn_workers(p);
        pthread_mutex_unlock(&p->lock);
        if (r < 0) {
                pool_unref(p);
                return r;
        }
        *ret = p;
        return 0;
}

struct worker_pool *pool_ref(struct worker_pool *p) {
        if (p)
                atomic_fetch_add(&p->n_ref, 1);
        return p;
}

static void finish_unstarted(struct pool_job *list, enum pool_cancel reason) {
        while (list) {
                struct pool_job *j = list, *next = j->next;
                j->ops->done(j, j->userdata, -ECANCELED, reason);
                free(j);
                list = next;
        }
}

/* With the lock held: moves every queued job of l for which pred holds onto *out. */
static void take_queued(struct job_list *l, const struct pool_job_ops *ops,
                        bool (*match)(void *userdata, void *data), void *data, struct pool_job **out) {
        for (struct pool_job *j = l->head, *next; j; j = next) {
                next = j->next;
                if ((ops && j->ops != ops) || (match && !match(j->userdata, data)))
                        continue;
                list_remove(l, j);
                j->next = *out;
                *out = j;
        }
}

struct worker_pool *pool_unref(struct worker_pool *p) {
        struct pool_job *queued = NULL;

        if (!p || atomic_fetch_sub(&p->n_ref, 1) > 1)
                return NULL;

        pthread_mutex_lock(&p->lock);
        p->shutdown = true;
        take_queued(&p->requested, NULL, NULL, NULL, &queued);
        take_queued(&p->background, NULL, NULL, NULL, &queued);
        for (struct pool_job *j = p->running.head; j; j = j->next)
                raise_cancel(j, POOL_CANCEL_SHUTDOWN);
        pthread_cond_broadcast(&p->work_cond);
        pthread_mutex_unlock(&p->lock);

        finish_unstarted(queued, POOL_CANCEL_SHUTDOWN);
        reap_workers(p, true);

        pthread_cond_destroy(&p->work_cond);
        pthread_cond_destroy(&p->idle_cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

int pool_set_mode(struct worker_pool *p, enum exec_mode mode) {
        int r;

        if (mode < 0 || mode >= _EXEC_MODE_MAX)
                return -EINVAL;
        pthread_mutex_lock(&p->lock);
        p->mode = mode;
        p->target = MAX(1u, p->config.concurrency[mode]);
        r = spawn_workers(p);
        /* Idle surplus workers wake up and exit; busy ones exit after their job. New or
         * remaining workers pick up the new scheduling policy at their next job. */
        pthread_cond_broadcast(&p->work_cond);
        preempt_for_requested(p);
        pthread_mutex_unlock(&p->lock);
        reap_workers(p, false);
        return r;
}

enum exec_mode pool_get_mode(struct worker_pool *p) {
        enum exec_mode m;
        pthread_mutex_lock(&p->lock);
        m = p->mode;
        pthread_mutex_unlock(&p->lock);
        return m;
}

unsigned pool_concurrency(struct worker_pool *p, enum exec_mode mode) {
        if (mode < 0 || mode >= _EXEC_MODE_MAX)
                return 0;
        return MAX(1u, p->config.concurrency[mode]); /* config is immutable */
}

int pool_submit(struct worker_pool *p, const struct pool_job_ops *ops, void *userdata,
                enum pool_priority priority, uint64_t order, uint64_t timeout_us,
                uint64_t *ret_id) {
        struct pool_job *j;

        if (!ops || !ops->run || !ops->done)
                return -EINVAL;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->ops = ops;
        j->userdata = userdata;
        j->priority = priority;
        j->order = order;
        j->timeout_us = timeout_us;
        atomic_init(&j->cancel, POOL_CANCEL_NONE);

        pthread_mutex_lock(&p->lock);
        if (p->shutdown) {
                pthread_mutex_unlock(&p->lock);
                free(j);
                return -ESHUTDOWN;
        }
        j->id = p->next_id++;
        j->seq = p->next_seq++;
        queue_job(p, j);
        if (ret_id)
                *ret_id = j->id;
        if (priority == POOL_PRIORITY_REQUESTED)
                preempt_for_requested(p);
        pthread_cond_signal(&p->work_cond);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

int pool_job_promote(struct worker_pool *p, uint64_t id) {
        struct pool_job *j;
        int r = 0;

        pthread_mutex_lock(&p->lock);
        if ((j = find_job(&p->background, id))) {
                list_remove(&p->background, j);
                j->priority = POOL_PRIORITY_REQUESTED;
                j->seq = p->next_seq++; /* newest request */
                queue_job(p, j);
                preempt_for_requested(p);
                pthread_cond_signal(&p->work_cond);
        } else if ((j = find_job(&p->requested, id))) {
                /* Asked again: it becomes the newest request. */
                list_remove(&p->requested, j);
                j->seq = p->next_seq++;
                queue_job(p, j);
        } else if ((j = find_job(&p->running, id)))
                j->priority = POOL_PRIORITY_REQUESTED; /* no longer a preemption victim */
        else
                r = -ESRCH;
        pthread_mutex_unlock(&p->lock);
        return r;
}

int pool_job_cancel(struct worker_pool *p, uint64_t id, enum pool_cancel reason) {
        struct pool_job *j;

        pthread_mutex_lock(&p->lock);
        if ((j = find_job(&p->requested, id)))
                list_remove(&p->requested, j);
        else if ((j = find_job(&p->background, id)))
                list_remove(&p->background, j);
        else if ((j = find_job(&p->running, id))) {
                raise_cancel(j, reason);
                pthread_mutex_unlock(&p->lock);
                return -EINPROGRESS;
        }
        pthread_cond_broadcast(&p->idle_cond);
        pthread_mutex_unlock(&p->lock);
        if (!j)
                return -ESRCH;
        j->next = NULL;
        finish_unstarted(j, reason);
        return 0;
}

void pool_cancel_matching(struct worker_pool *p, const struct pool_job_ops *ops,
                          bool (*match)(void *userdata, void *data), void *data,
                          enum pool_cancel reason) {
        struct pool_job *queued = NULL;

        pthread_mutex_lock(&p->lock);
        take_queued(&p->requested, ops, match, data, &queued);
        take_queued(&p->background, ops, match, data, &queued);
        for (struct pool_job *j = p->running.head; j; j = j->next)
                if (j->ops == ops && (!match || match(j->userdata, data)))
                        raise_cancel(j, reason);
        pthread_cond_broadcast(&p->idle_cond);
        pthread_mutex_unlock(&p->lock);
        finish_unstarted(queued, reason);
}

enum pool_cancel pool_job_check_cancel(struct pool_job *job) {
        int c = atomic_load_explicit(&job->cancel, memory_order_acquire);

        if (c != POOL_CANCEL_NONE)
                return (enum pool_cancel) c;
        /* Promoted while running in the idle class: "now" means normal priority. */
        if (worker_idle_policy && atomic_load(&job->priority) == POOL_PRIORITY_REQUESTED)
                apply_sched_policy(false);
        if (job->deadline_us > 0 && now_us() > job->deadline_us) {
                raise_cancel(job, POOL_CANCEL_TIMEOUT);
                return (enum pool_cancel) atomic_load(&job->cancel);
        }
        return POOL_CANCEL_NONE;
}

uint64_t pool_job_id(const struct pool_job *job) {
        return job->id;
}

unsigned pool_running_count(struct worker_pool *p) {
        unsigned n;
        pthread_mutex_lock(&p->lock);
        n = p->running.n;
        pthread_mutex_unlock(&p->lock);
        return n;
}

unsigned pool_queued_count(struct worker_pool *p) {
        unsigned n;
        pthread_mutex_lock(&p->lock);
        n = p->requested.n + p->background.n;
        pthread_mutex_unlock(&p->lock);
        return n;
}

int pool_wait_idle(struct worker_pool *p, uint64_t timeout_us) {
        struct timespec deadline;
        int r = 0;

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t) (timeout_us / 1000000u);
        deadline.tv_nsec += (long) (timeout_us % 1000000u) * 1000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&p->lock);
        while (p->running.n + p->requested.n + p->background.n > 0 || p->n_busy > 0) {
                if (pthread_cond_timedwait(&p->idle_cond, &p->lock, &deadline) == ETIMEDOUT) {
                        r = -ETIMEDOUT;
                        break;
                }
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}
