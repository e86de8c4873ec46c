/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "bus/session-state.h"

struct manager;
struct camera;
struct output;

/* A capture Session at /org/camerad/Camera1/session/<n>, owned by the unique bus name that
 * created it (tracked: it is released the moment that name leaves the bus). */
struct session {
        struct session *next;
        struct manager *manager;
        unsigned index;
        char *path;
        char *owner;            /* unique bus name */
        uid_t owner_uid;
        sd_bus_track *track;
        sd_bus_slot *slot;

        enum session_mode mode;
        enum session_state state;
        struct camera *input;   /* camera_use()d while it is the input */

        /* Every output created on this session, added or not. The list and each output's
         * engines are read by the capture thread under fanout_lock. */
        struct output *outputs;
        unsigned next_output_index;
        pthread_mutex_t fanout_lock;

        /* Test hook: $CAMERAD_TEST_FAIL_AFTER_FRAMES=N makes the capture path report a
         * camera failure after N frames of each start (0 = off). Capture thread only. */
        unsigned long fail_after_frames;
        unsigned long frames_seen;
};

extern const sd_bus_vtable session_vtable[];

int session_new(struct manager *m, const char *owner, uid_t owner_uid, enum session_mode mode,
                struct session **ret);

/* Stops, frees the camera, removes the session and its outputs from the bus, frees it. */
void session_release(struct session *s);

/* Owner check for session and output methods: AccessDenied for anyone else. */
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

unsigned manager_count_sessions_of(struct manager *m, const char *owner);

/* The path "/org/camerad/Camera1/session/<n>" of a running session holding c, for the
 * Conflict message. */
const char *session_path(const struct session *s);
