/* SPDX-License-Identifier: MIT */
/* A session's ownership (the creating connection, or a persistent session's uid and
 * idle timer), its birth and its release. The methods and properties are in session.c. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/camera-capture.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/polkit.h"
#include "bus/session.h"
#include "shared/log.h"

const char *session_path(const struct session *s) {
        return s->path;
}

bool session_is_shared(const struct session *s) {
        return s->shared;
}

int session_check_may_change_camera(const struct session *s, const char *method,
                                    sd_bus_error *error) {
        if (!s->shared)
                return 0;
        return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                              "%s: %s is a shared session: it takes the camera as the sessions "
                              "holding it set it up and cannot change it", method, s->path);
}

unsigned manager_count_sessions_of(struct manager *m, const char *owner) {
        unsigned n = 0;
        for (struct session *s = m->sessions; s; s = s->next)
                if (!s->persistent && streq(s->owner, owner))
                        n++;
        return n;
}

unsigned manager_count_persistent_sessions_of(struct manager *m, uid_t uid) {
        unsigned n = 0;
        for (struct session *s = m->sessions; s; s = s->next)
                if (s->persistent && s->owner_uid == uid)
                        n++;
        return n;
}

static void session_rearm_idle_timer(struct session *s) {
        uint64_t now;

        if (!s->idle_timer || sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(s->idle_timer, now + s->idle_timeout_usec);
        (void) sd_event_source_set_enabled(s->idle_timer, SD_EVENT_ONESHOT);
}

static int check_persistent_owner(struct session *s, sd_bus_message *m, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m);
        uid_t uid;
        int r;

        r = bus_message_get_sender_uid(m, &s->manager->sender_uids, &uid);
        if (r < 0)
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                      "%s belongs to uid %u; the caller's uid cannot be found",
                                      s->path, (unsigned) s->owner_uid);
        if (uid != s->owner_uid)
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                      "%s belongs to uid %u; the caller is %s (uid %u)", s->path,
                                      (unsigned) s->owner_uid, sender ?: "unknown", (unsigned) uid);
        session_rearm_idle_timer(s);
        return 0;
}

int session_check_owner(struct session *s, sd_bus_message *m, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m);

        if (s->persistent)
                return check_persistent_owner(s, m, error);
        if (!sender || !streq(sender, s->owner))
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                      "%s belongs to %s; the caller is %s", s->path, s->owner,
                                      sender ?: "unknown");
        return 0;
}


void session_drop_input(struct session *s) {
        struct camera *c = s->input;

        if (!c)
                return;
        camera_capture_detach(c, s);
        camera_unhold(c, s);
        s->input = NULL;
        camera_unuse(c);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static int on_owner_gone(sd_bus_track *track, void *userdata) {
        struct session *s = userdata;

        log_info("%s: owner %s left the bus; releasing", s->path, s->owner);
        session_release(s);
        return 0;
}

/* A persistent session whose owner made no call for idle_timeout_usec. It times out even
 * while running: a preview reader or a recording in progress is not a call, nor is reading
 * its properties; only the Session and Output methods re-arm the timer. */
static int on_idle_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        struct session *s = userdata;

        log_info("%s: no call from uid %u for %llu s; releasing", s->path, (unsigned) s->owner_uid,
                 (unsigned long long) (s->idle_timeout_usec / 1000000));
        session_release(s);
        return 0;
}

static void session_free(struct session *s) {
        assert(!s->input);
        sd_event_source_disable_unref(s->idle_timer);
        sd_bus_track_unref(s->track);
        sd_bus_slot_unref(s->slot);
        pthread_mutex_destroy(&s->fanout_lock);
        free(s->owner);
        free(s->path);
        free(s);
}

/* What ends the session other than Release(): its owner leaving, or its idle timer. */
static int session_watch_owner(struct session *s) {
        struct manager *m = s->manager;
        int r;

        if (s->persistent)
                return sd_event_add_time_relative(m->event, &s->idle_timer, CLOCK_MONOTONIC,
                                                  s->idle_timeout_usec, 0, on_idle_timeout, s);
        r = sd_bus_track_new(m->bus, &s->track, on_owner_gone, s);
        if (r < 0)
                return r;
        return sd_bus_track_add_name(s->track, s->owner);
}

int session_new(struct manager *m, const char *owner, uid_t owner_uid, enum session_mode mode,
                const struct session_options *options, struct session **ret) {
        struct session *s;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->fanout_lock, NULL);
        s->manager = m;
        s->mode = mode;
        s->state = SESSION_STATE_IDLE;
        s->owner_uid = owner_uid;
        if (options && options->persistent) {
                s->persistent = true;
                s->idle_timeout_usec = options->idle_timeout_usec;
        }
        s->shared = options && options->shared;
        s->index = m->next_session_index++;
        s->owner = strdup(owner);
        if (!s->owner || asprintf(&s->path, CAMERAD_SESSION_PATH_PREFIX "%u", s->index) < 0) {
                s->path = NULL;
                session_free(s);
                return -ENOMEM;
        }

        r = session_watch_owner(s);
        if (r >= 0)
                r = sd_bus_add_object_vtable(m->bus, &s->slot, s->path, CAMERAD_IFACE_SESSION,
                                             session_vtable, s);
        if (r < 0) {
                session_free(s);
                return r;
        }

        s->next = m->sessions;
        m->sessions = s;
        (void) sd_bus_emit_object_added(m->bus, s->path);
        if (s->persistent)
                log_info("%s (%s%s) created for uid %u by %s, persistent, idle timeout %llu s",
                         s->path, session_mode_to_string(mode), s->shared ? ", shared" : "",
                         (unsigned) owner_uid, owner,
                         (unsigned long long) (s->idle_timeout_usec / 1000000));
        else
                log_info("%s (%s%s) created for %s (uid %u)", s->path, session_mode_to_string(mode),
                         s->shared ? ", shared" : "", owner, (unsigned) owner_uid);
        *ret = s;
        return 0;
}

void session_release(struct session *s) {
        struct manager *m = s->manager;

        if (s->state == SESSION_STATE_RUNNING) {
                session_stop_streaming(s);
                session_set_state(s, SESSION_STATE_COMMITTED);
        }
        session_drop_input(s);

        while (s->outputs) {
                struct output *o = s->outputs;
                pthread_mutex_lock(&s->fanout_lock);
                s->outputs = o->next;
                pthread_mutex_unlock(&s->fanout_lock);
                output_free(o);
        }
        (void) sd_bus_emit_object_removed(m->bus, s->path);
        for (struct session **p = &m->sessions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        log_info("%s released", s->path);
        session_free(s);
        manager_note_activity(m);
}
