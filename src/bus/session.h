/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus/session-state.h"

struct manager;
struct camera;
struct output;

/* How a session is owned (Manager.CreateSessionWithOptions). */
struct session_options {
        /* false: the session belongs to the creating connection (dbus/org.camerad.Camera1.Manager.xml) and is released
         * when it leaves the bus. true: it belongs to the creator's uid, so any connection
         * of that uid may drive it (busctl: one connection per command); it is released by
         * Release() or after idle_timeout_usec without a call from its owner. */
        bool persistent;
        uint64_t idle_timeout_usec;
        /* true: the session may join a camera other sessions hold (README "Shared
         * cameras"); orthogonal to persistent. */
        bool shared;
};

#define SESSION_IDLE_TIMEOUT_DEFAULT_SEC 300u
#define SESSION_IDLE_TIMEOUT_MIN_SEC 5u
#define SESSION_IDLE_TIMEOUT_MAX_SEC 86400u

/* A capture Session at /org/camerad/Camera1/session/<n>. By default owned by the unique bus
 * name that created it (tracked: it is released the moment that name leaves the bus); a
 * persistent one is owned by owner_uid and kept alive by idle_timer instead. */
/* CreateOutput refuses more than this many outputs on one session. */
#define SESSION_MAX_OUTPUTS 16

struct session {
        struct session *next;
        struct manager *manager;
        unsigned index;
        char *path;
        char *owner;            /* unique bus name of the creator */
        uid_t owner_uid;
        sd_bus_track *track;    /* not persistent: watches owner */
        sd_bus_slot *slot;

        bool persistent;
        uint64_t idle_timeout_usec;
        sd_event_source *idle_timer; /* persistent: re-armed by every owner call */

        enum session_mode mode;
        enum session_state state;
        struct camera *input;   /* camera_use()d while it is the input */

        /* Every output created on this session, added or not. The list and each output's
         * engines are read by the capture thread under fanout_lock. */
        struct output *outputs;   /* every output created, added or not; at most SESSION_MAX_OUTPUTS */
        unsigned next_output_index;
        pthread_mutex_t fanout_lock;

        /* Created with "shared": joins a camera others hold instead of Conflict; never
         * sets controls. */
        bool shared;
        struct session *hold_next;     /* input->holders, loop thread */
        struct session *attached_next; /* input->attached, under input->attach_lock */
};

extern const sd_bus_vtable session_vtable[];

/* owner: the creator's unique bus name. options NULL: owned by that connection. */
int session_new(struct manager *m, const char *owner, uid_t owner_uid, enum session_mode mode,
                const struct session_options *options, struct session **ret);

/* Stops, frees the camera, removes the session and its outputs from the bus, frees it. */
void session_release(struct session *s);

/* Owner check for session and output methods: AccessDenied for anyone else (another
 * connection, or for a persistent session another uid). A call that passes re-arms a
 * persistent session's idle timer. */
int session_check_owner(struct session *s, sd_bus_message *m, sd_bus_error *error);

/* For session.c, session-lifecycle.c and session-capture.c only. */
/* Leaves the input camera (detached, unheld, unused); no-op without one. */
void session_drop_input(struct session *s);
void session_set_state(struct session *s, enum session_state state);
void session_view(struct session *s, struct session_config_view *v);
/* Prepares the added outputs and attaches s to its camera's capture (starting the camera
 * when no other session runs on it); ServiceFatal when the camera refuses. */
int session_start_streaming(struct session *s, sd_bus_error *error);
/* Leaves the camera's capture (which stops when s was the last one on it) and tells
 * the outputs. No frame reaches s's outputs after it returns. */
void session_stop_streaming(struct session *s);

/* Whether s was created with "shared". For methods a shared session may not call. */
bool session_is_shared(const struct session *s);
/* SetControls and anything else that changes the camera for every session on it: 0, or
 * OperationNotAllowed (7400102) naming `method` for a shared session. */
int session_check_may_change_camera(const struct session *s, const char *method,
                                    sd_bus_error *error);

/* The input camera is gone or failed (s may be NULL): a running session stops, emits
 * Error(7400201, reason) and goes back to committed. */
void session_camera_lost(struct session *s, const char *reason);

/* Sessions owned by the connection `owner` (persistent ones not counted). */
unsigned manager_count_sessions_of(struct manager *m, const char *owner);
/* Persistent sessions owned by uid. */
unsigned manager_count_persistent_sessions_of(struct manager *m, uid_t uid);

/* The path "/org/camerad/Camera1/session/<n>" of a session, for messages. */
const char *session_path(const struct session *s);
