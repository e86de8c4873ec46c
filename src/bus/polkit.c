/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/polkit.h"
#include "shared/log.h"
#include "shared/macro.h"

/* One parked method call waiting for polkit's verdict. Keyed by the message pointer: the
 * very same message object comes back through sd_bus_enqueue_for_read(). */
struct polkit_query {
        struct polkit_query *next;
        struct polkit_registry *registry;
        sd_bus_message *request;
        sd_bus_slot *slot;
        char *action;
        bool done;
        bool authorized;
        char *reason; /* why it was denied, when polkit gave one */
};

struct polkit_registry {
        struct polkit_query *queries;
};

static struct polkit_query *polkit_query_free(struct polkit_query *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        free(q->action);
        free(q->reason);
        free(q);
        return NULL;
}

static void registry_unlink(struct polkit_registry *r, struct polkit_query *q) {
        for (struct polkit_query **p = &r->queries; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

struct polkit_registry *polkit_registry_free(struct polkit_registry *r) {
        if (!r)
                return NULL;
        for (struct polkit_query *q = r->queries, *n; q; q = n) {
                n = q->next;
                polkit_query_free(q);
        }
        free(r);
        return NULL;
}

static bool sender_uid_cache_get(const struct sender_uid_cache *c, const char *name, uid_t *ret) {
        for (size_t i = 0; i < SENDER_UID_CACHE_SIZE; i++)
                if (streq(c->entries[i].name, name)) {
                        *ret = c->entries[i].uid;
                        return true;
                }
        return false;
}

static void sender_uid_cache_put(struct sender_uid_cache *c, const char *name, uid_t uid) {
        if (name[0] != ':' || strlen(name) >= sizeof c->entries[0].name)
                return; /* only unique names are stable */
        strcpy(c->entries[c->next].name, name);
        c->entries[c->next].uid = uid;
        c->next = (c->next + 1) % SENDER_UID_CACHE_SIZE;
}

int bus_message_get_sender_uid(sd_bus_message *m, struct sender_uid_cache *cache, uid_t *ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *sender = sd_bus_message_get_sender(m);
        uint32_t u;
        int r;

        if (!sender)
                return -ENXIO;
        if (sender_uid_cache_get(cache, sender, ret))
                return 0;

        /* The bus daemon always knows the connection's uid. */
        r = sd_bus_call_method(sd_bus_message_get_bus(m), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetConnectionUnixUser", &error, &reply, "s", sender);
        sd_bus_error_free(&error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "u", &u);
        sd_bus_message_unref(reply);
        if (r < 0)
                return r;
        sender_uid_cache_put(cache, sender, (uid_t) u);
        *ret = (uid_t) u;
        return 0;
}

static int polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct polkit_query *q = userdata;
        const sd_bus_error *e;
        int authorized = 0, challenge = 0, r;

        q->slot = sd_bus_slot_unref(q->slot);
        q->done = true;

        e = sd_bus_message_get_error(reply);
        if (e) {
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        q->reason = strdup("polkit is not running");
                else if (asprintf(&q->reason, "polkit failed: %s", e->message ?: e->name) < 0)
                        q->reason = NULL;
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        authorized = 0;
                        q->reason = strdup("polkit sent a malformed answer");
                } else if (!authorized)
                        q->reason = strdup(challenge ? "authentication is required"
                                                     : "polkit said no");
                q->authorized = authorized;
        }

        /* Run the parked call again from the top; this time the verdict is waiting. */
        r = sd_bus_message_rewind(q->request, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0) {
                log_error_errno(r, "Cannot re-dispatch a call after the polkit answer: %m");
                registry_unlink(q->registry, q);
                polkit_query_free(q);
        }
        return 1;
}

static int denied(sd_bus_error *error, const char *action, const char *reason) {
        return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED, "Not allowed to %s: %s",
                              action, reason ?: "polkit said no");
}

int bus_verify_polkit_async(sd_bus_message *call, const char *action,
                            struct polkit_registry **registry, struct sender_uid_cache *uids,
                            sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *pk = NULL;
        struct polkit_query *q;
        const char *sender;
        uid_t uid;
        int r;

        assert(call && action && registry && uids);

        /* Second pass: the verdict for this very message. */
        if (*registry)
                for (q = (*registry)->queries; q; q = q->next)
                        if (q->request == call && streq(q->action, action)) {
                                if (!q->done)
                                        return 0;
                                bool ok = q->authorized;
                                _cleanup_free_ char *reason = TAKE_PTR(q->reason);
                                registry_unlink(*registry, q);
                                polkit_query_free(q);
                                return ok ? 1 : denied(error, action, reason);
                        }

        r = bus_message_get_sender_uid(call, uids, &uid);
        if (r < 0)
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                      "Not allowed to %s: the caller's uid cannot be found", action);
        if (uid == 0)
                return 1;

        sender = sd_bus_message_get_sender(call);
        if (!sender)
                return denied(error, action, "the caller has no bus name");

        if (!*registry) {
                *registry = calloc(1, sizeof **registry);
                if (!*registry)
                        return -ENOMEM;
        }

        r = sd_bus_message_new_method_call(sd_bus_message_get_bus(call), &pk,
                                           "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(pk, "(sa{sv})sa{ss}us",
                                  "system-bus-name", 1, "name", "s", sender,
                                  action, 0,
                                  (uint32_t) (sd_bus_message_get_allow_interactive_authorization(call) > 0),
                                  "");
        if (r < 0)
                return r;

        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->registry = *registry;
        q->request = sd_bus_message_ref(call);
        q->action = strdup(action);
        if (!q->action) {
                polkit_query_free(q);
                return -ENOMEM;
        }
        /* Interactive authentication may take the user a while. */
        r = sd_bus_call_async(sd_bus_message_get_bus(call), &q->slot, pk, polkit_reply, q,
                              UINT64_C(120) * 1000 * 1000);
        if (r < 0) {
                polkit_query_free(q);
                return r;
        }
        q->next = (*registry)->queries;
        (*registry)->queries = q;
        return 0;
}
