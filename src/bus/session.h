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

        /* Counts Start()s. A camera-failure notice carries the generation it was raised in
         * and is ignored when the session has been restarted since (it came through the
         * mailbox after a quick Stop/Start). Written on the loop thread only while no
         * capture thread runs; read by the capture thread. */
        unsigned start_generation;

        /* Test hooks: $CAMERAD_TEST_FAIL_AFTER_FRAMES=N makes the capture path report a
         * camera failure after N frames of each start (0 = off), only in the first M
         * starts of the session when $CAMERAD_TEST_FAIL_STARTS=M is set.
         * $CAMERAD_TEST_FAILURE_NOTICE_DELAY_MS=D holds each failure notice D ms on the
         * loop before acting on it (a slow mailbox). Capture thread only. */
        unsigned long fail_after_frames;
        unsigned long frames_seen;
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

/* For session.c and session-capture.c only. */
void session_set_state(struct session *s, enum session_state state);
void session_view(struct session *s, struct session_config_view *v);
/* Prepares the added outputs and starts the camera; ServiceFatal when it refuses. */
int session_start_streaming(struct session *s, sd_bus_error *error);
/* Stops the camera (joining its thread) and tells the outputs. */
void session_stop_streaming(struct session *s);

/* The input camera is gone or failed (s may be NULL): a running session stops, emits
 * Error(7400201, reason) and goes back to committed. */
void session_camera_lost(struct session *s, const char *reason);

/* Sessions owned by the connection `owner` (persistent ones not counted). */
unsigned manager_count_sessions_of(struct manager *m, const char *owner);
/* Persistent sessions owned by uid. */
unsigned manager_count_persistent_sessions_of(struct manager *m, uid_t uid);

/* The path "/org/camerad/Camera1/session/<n>" of a running session holding c, for the
 * Conflict message. */
const char *session_path(const struct session *s);
