/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/manager.h"
#include "bus/polkit.h"
#include "bus/session-create.h"
#include "bus/session.h"
#include "shared/log.h"

#define MAX_SESSIONS_PER_CLIENT 8

/* A CreateSession call that polkit allowed, parked until the bus says whether its caller
 * is still connected. Owned by m->session_requests until the answer comes or exit. */
struct session_request {
        struct session_request *next;
        struct manager *manager;
        sd_bus_message *call;
        sd_bus_slot *slot;
        enum session_mode mode;
        struct session_options options;
};

static struct session_request *session_request_free(struct session_request *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot); /* cancels the NameHasOwner callback if still pending */
        sd_bus_message_unref(q->call);
        free(q);
        return NULL;
}

static void session_request_unlink(struct session_request *q) {
        for (struct session_request **p = &q->manager->session_requests; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

void session_requests_free(struct manager *m) {
        while (m->session_requests) {
                struct session_request *q = m->session_requests;
                m->session_requests = q->next;
                session_request_free(q);
        }
}

/* The per-client and per-uid limits. Checked when the call arrives (so a caller at its
 * limit is refused without a round trip) and again just before the session is made,
 * since other calls of the same client may have made sessions meanwhile. */
static int check_limits(struct manager *m, sd_bus_message *msg, const char *sender,
                        const struct session_options *options, uid_t *ret_uid, sd_bus_error *error) {
        const char *method = sd_bus_message_get_member(msg);
        uid_t uid;
        int r;

        if (!options->persistent && manager_count_sessions_of(m, sender) >= MAX_SESSIONS_PER_CLIENT)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "%s: %s already holds %u sessions, the most a client may hold",
                                      method, sender, MAX_SESSIONS_PER_CLIENT);

        /* Answered from the cache: polkit's check looked the uid up already. */
        r = bus_message_get_sender_uid(msg, &m->sender_uids, &uid);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot find the caller's uid");
        if (options->persistent &&
            manager_count_persistent_sessions_of(m, uid) >= MAX_SESSIONS_PER_CLIENT)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "%s: uid %u already holds %u persistent sessions, the most a user may hold",
                                      method, (unsigned) uid, MAX_SESSIONS_PER_CLIENT);
        *ret_uid = uid;
        return 0;
}

/* Loop thread: the bus answered NameHasOwner for q's caller. */
static int on_name_has_owner(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct session_request *q = userdata;
        struct manager *m = q->manager;
        const char *sender = sd_bus_message_get_sender(q->call);
        const sd_bus_error *e;
        struct session *s;
        int has = 0, r;
        uid_t uid;

        q->slot = sd_bus_slot_unref(q->slot);
        session_request_unlink(q);

        e = sd_bus_message_get_error(reply);
        r = e ? -sd_bus_error_get_errno(e) : sd_bus_message_read(reply, "b", &has);
        if (r < 0) {
                bus_error_set_fatal(&error, r, "cannot ask the bus about the caller");
                goto reply_error;
        }
        if (!has) {
                /* It left while polkit or the bus answered: a session made now would have no
                 * owner to notice its departure, and nobody would learn its path. */
                log_debug("%s left the bus before its %s was answered", sender,
                          sd_bus_message_get_member(q->call));
                session_request_free(q);
                return 1;
        }

        r = check_limits(m, q->call, sender, &q->options, &uid, &error);
        if (r < 0)
                goto reply_error;
        r = session_new(m, sender, uid, q->mode, &q->options, &s);
        if (r < 0) {
                bus_error_set_fatal(&error, r, "cannot create a session");
                goto reply_error;
        }
        (void) sd_bus_reply_method_return(q->call, "o", s->path);
        session_request_free(q);
        return 1;

reply_error:
        (void) sd_bus_reply_method_error(q->call, &error);
        session_request_free(q);
        return 1;
}

/* CreateSession and CreateSessionWithOptions after their arguments are read: the mode
 * check, polkit, the limits, then (once the bus confirms the caller is still there) the
 * session. The method name comes from the message, so each call's errors name the method
 * the caller made. */
static int create_session(sd_bus_message *msg, struct manager *m, const char *mode_name,
                          const struct session_options *options, sd_bus_error *error) {
        const char *method = sd_bus_message_get_member(msg), *sender;
        struct session_request *q;
        uid_t uid;
        int mode, r;

        mode = session_mode_from_string(mode_name);
        if (mode < 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "%s: mode must be 'photo' or 'video'; got '"
                                      BUS_ECHO_FMT "'", method, BUS_ECHO(mode_name));

        sender = sd_bus_message_get_sender(msg);
        if (!sender)
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                      "%s needs a caller with a bus name", method);
        /* Checks of state that may change while polkit answers come after it: a call that
         * returned early on its second dispatch would leave its parked query behind. */
        r = bus_verify_polkit_async(msg, CAMERAD_ACTION_USE_CAMERA, &m->polkit, &m->sender_uids,
                                    error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked; this call comes back with the answer */

        r = check_limits(m, msg, sender, options, &uid, error);
        if (r < 0)
                return r;

        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        *q = (struct session_request) {
                .manager = m,
                .call = sd_bus_message_ref(msg),
                .mode = mode,
                .options = *options,
        };
        r = sd_bus_call_method_async(m->bus, &q->slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "NameHasOwner", on_name_has_owner, q,
                                     "s", sender);
        if (r < 0) {
                session_request_free(q);
                return bus_error_set_fatal(error, r, "cannot ask the bus about the caller");
        }
        q->next = m->session_requests;
        m->session_requests = q;
        return 1; /* answered from on_name_has_owner() */
}

int bus_create_session(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const struct session_options options = {};
        const char *mode_name;
        int r;

        r = sd_bus_message_read(msg, "s", &mode_name);
        if (r < 0)
                return r;
        return create_session(msg, userdata, mode_name, &options, error);
}

int bus_create_session_with_options(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        uint32_t idle_timeout_sec = SESSION_IDLE_TIMEOUT_DEFAULT_SEC;
        struct session_options options = {};
        const char *mode_name;
        int r;

        r = sd_bus_message_read(msg, "s", &mode_name);
        if (r < 0)
                return r;
        struct bus_dict_key keys[] = {
                { .name = "persist", .type = 'b', .ptr = &options.persistent },
                { .name = "idle-timeout", .type = 'u', .ptr = &idle_timeout_sec },
                { .name = "shared", .type = 'b', .ptr = &options.shared },
        };
        r = bus_read_dict(msg, "options", keys, ELEMENTSOF(keys), error);
        if (r < 0)
                return r;
        if (idle_timeout_sec < SESSION_IDLE_TIMEOUT_MIN_SEC ||
            idle_timeout_sec > SESSION_IDLE_TIMEOUT_MAX_SEC)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "options key 'idle-timeout' must be %u..%u seconds; got %u",
                                      SESSION_IDLE_TIMEOUT_MIN_SEC, SESSION_IDLE_TIMEOUT_MAX_SEC,
                                      idle_timeout_sec);
        /* Silently ignoring it would let a caller believe its session times out. */
        if (keys[1].seen && !options.persistent)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "options key 'idle-timeout' needs 'persist' true");
        options.idle_timeout_usec = (uint64_t) idle_timeout_sec * 1000000u;
        return create_session(msg, userdata, mode_name, &options, error);
}
