/* SPDX-License-Identifier: MIT */
#pragma once

/* A thread-safe queue of callbacks drained on the event loop thread. Worker and capture
 * threads post; the loop watches mailbox_fd() (an eventfd) and calls mailbox_dispatch().
 * This is how results cross from threads to the single sd-bus thread. */

struct mailbox;

typedef void (*mailbox_fn)(void *userdata);

int mailbox_new(struct mailbox **ret);
struct mailbox *mailbox_free(struct mailbox *m);
int mailbox_fd(struct mailbox *m);

/* Queues fn(userdata). Ownership of userdata passes to fn. Safe from any thread. */
int mailbox_post(struct mailbox *m, mailbox_fn fn, void *userdata);

/* Runs every queued callback in order; returns how many ran. Loop thread only. */
int mailbox_dispatch(struct mailbox *m);
