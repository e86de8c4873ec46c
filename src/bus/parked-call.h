/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

struct user_context;

/* A method call of a processing object (Interrupt, RemoveImage, Reset) answered later:
 * when the processor's work for it has ended, its reply comes through the mailbox and
 * parked_call_reply() answers the caller. The loop serves other calls meanwhile. Loop
 * thread only. */
struct parked_call;

struct parked_call_ops {
        /* Before the reply, while the context exists: announce what changed. */
        void (*answered)(struct user_context *u);
        /* A failure as the D-Bus error (what: the method; id: its argument or NULL). */
        int (*error)(sd_bus_error *error, int r, const char *what, const char *id);
};

/* A call still parked after this long (a wedged job) is answered with the error of
 * -ETIMEDOUT, as the synchronous calls did; the late reply is then dropped. */
#define PARKED_CALL_TIMEOUT_USEC (5u * 1000000u)

int parked_call_new(struct user_context *u, sd_bus_message *m, const struct parked_call_ops *ops,
                    const char *what, const char *id, struct parked_call **ret);
/* The processor's reply (an image_processor_reply_fn, userdata the parked_call): answers
 * the call unless the timeout did, and frees it. */
void parked_call_reply(int result, void *userdata);
/* The processor did not take the call: frees it unanswered (the handler returns the error). */
void parked_call_cancel(struct parked_call *c);
/* u is going: its calls stay parked until their replies come, but no longer reach u. */
void parked_calls_detach(struct user_context *u);
