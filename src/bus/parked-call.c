/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/manager.h"
#include "bus/parked-call.h"
#include "bus/user-context.h"
#include "shared/log.h"
#include "shared/macro.h"

struct parked_call {
        struct parked_call *next;  /* u->parked_calls */
        struct user_context *u;    /* NULL once u went */
        sd_bus_message *call;      /* NULL once answered */
        sd_event_source *timer;
        const struct parked_call_ops *ops;
        const char *what;          /* static: the method name */
        char *id;
};

static void unlink_call(struct parked_call *c) {
        if (!c->u)
                return;
        for (struct parked_call **p = &c->u->parked_calls; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        c->next = NULL;
}

static void answer(struct parked_call *c, int result) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (!c->call)
                return;
        if (c->u && c->ops->answered)
                c->ops->answered(c->u);
        if (result < 0) {
                c->ops->error(&error, result, c->what, c->id);
                (void) sd_bus_reply_method_error(c->call, &error);
        } else
                (void) sd_bus_reply_method_return(c->call, NULL);
        c->call = sd_bus_message_unref(c->call);
        c->timer = sd_event_source_disable_unref(c->timer);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct parked_call *c = userdata;

        log_warning("%s: the jobs did not stop within %u s", c->what,
                    PARKED_CALL_TIMEOUT_USEC / 1000000u);
        answer(c, -ETIMEDOUT);
        return 0;
}

static void parked_call_free(struct parked_call *c) {
        unlink_call(c);
        sd_event_source_disable_unref(c->timer);
        sd_bus_message_unref(c->call);
        free(c->id);
        free(c);
}

int parked_call_new(struct user_context *u, sd_bus_message *m, const struct parked_call_ops *ops,
                    const char *what, const char *id, struct parked_call **ret) {
        struct parked_call *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (struct parked_call) { .u = u, .call = sd_bus_message_ref(m), .ops = ops, .what = what };
        if (id && !(c->id = strdup(id))) {
                parked_call_free(c);
                return -ENOMEM;
        }
        r = sd_event_add_time_relative(u->manager->event, &c->timer, CLOCK_MONOTONIC,
                                       PARKED_CALL_TIMEOUT_USEC, 0, on_timeout, c);
        if (r < 0) {
                parked_call_free(c);
                return r;
        }
        c->next = u->parked_calls;
        u->parked_calls = c;
        *ret = c;
        return 0;
}

void parked_call_reply(int result, void *userdata) {
        struct parked_call *c = userdata;

        answer(c, result);
        parked_call_free(c);
}

void parked_call_cancel(struct parked_call *c) {
        parked_call_free(c);
}

void parked_calls_detach(struct user_context *u) {
        while (u->parked_calls) {
                struct parked_call *c = u->parked_calls;

                u->parked_calls = c->next;
                c->next = NULL;
                c->u = NULL;
                /* The event loop may be gone by the time the reply comes. */
                c->timer = sd_event_source_disable_unref(c->timer);
        }
}
