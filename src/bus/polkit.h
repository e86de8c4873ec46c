/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* Asynchronous polkit checks in the style of systemd's bus_verify_polkit_async().
 *
 * A method handler calls
 *
 *     r = bus_verify_polkit_async(message, "org.camerad.Camera1.use-camera", &m->polkit,
 *                                 &m->sender_uids, error);
 *     if (r < 0)
 *             return r;           // denied (AccessDenied naming the action) or failure
 *     if (r == 0)
 *             return 1;           // asked polkit; the message is re-dispatched later
 *     ...authorized: do the work...
 *
 * On the first call the message is parked in the registry and CheckAuthorization is sent
 * with sd_bus_call_async (subject "system-bus-name" = the sender). When the answer comes,
 * the verdict is stored and the message is re-queued with sd_bus_enqueue_for_read(), so the
 * same handler runs again and this time gets 1 or the AccessDenied error at once. The loop
 * never blocks. Root (uid 0) is allowed without asking. No polkit on the bus
 * (ServiceUnknown / NameHasNoOwner) means denied for everyone else. Interactive
 * authorization is allowed when the caller set the ALLOW_INTERACTIVE_AUTHORIZATION flag. */

struct polkit_registry;

/* Unique names are never reused on a bus, so a sender's uid can be remembered for good.
 * Asking the bus daemon costs a round trip per call; this small ring of recent senders
 * (one per daemon, in struct manager) keeps that to once per client connection. Loop
 * thread only. */
#define SENDER_UID_CACHE_SIZE 64

struct sender_uid_cache {
        struct {
                char name[32];
                uid_t uid;
        } entries[SENDER_UID_CACHE_SIZE];
        unsigned next;
};

int bus_verify_polkit_async(sd_bus_message *call, const char *action,
                            struct polkit_registry **registry, struct sender_uid_cache *uids,
                            sd_bus_error *error);

/* Cancels pending queries and frees the registry (at daemon exit). */
struct polkit_registry *polkit_registry_free(struct polkit_registry *r);

/* The caller's uid as the bus daemon knows it (GetConnectionUnixUser, remembered per unique
 * name), never from our own process. */
int bus_message_get_sender_uid(sd_bus_message *m, struct sender_uid_cache *cache, uid_t *ret);
