/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

struct manager;
struct worker_pool;
struct image_processor;
struct video_processor;

/* Everything camerad keeps for one uid: its worker pool (shared by images and videos, so
 * both follow the user's execution mode), its image and video processors, and their two
 * bus objects, /org/camerad/Camera1/image_process/<uid> and .../video_process/<uid>.
 *
 * Contexts are created on demand (GetImageProcessSession, a capture) and at start-up for
 * every uid that has data in the state dir, so pending work resumes after a restart
 * without waiting for a client. The manager owns them all; they live until exit. */
struct user_context {
        struct user_context *next;
        struct manager *manager;
        uid_t uid;

        struct worker_pool *pool;
        struct image_processor *images;
        struct video_processor *videos;

        char *image_path;
        char *video_path;
        sd_bus_slot *image_slot;
        sd_bus_slot *video_slot;
};


/* At start: a context for every uid found under <state>/images and <state>/videos. */
int user_contexts_load(struct manager *m);
/* At exit, before the bus goes: stops work (pending work stays on disk) and frees. */
void user_contexts_free(struct manager *m);
/* Any image pending or running, or any video running (keeps --idle-exit away). */
bool user_contexts_busy(struct manager *m);
/* A capture session started (first) or stopped (last): background image work pauses. */
void user_contexts_set_capture_active(struct manager *m, bool active);

/* The context of uid, created (with its bus objects) when it does not exist yet. */
int user_context_get(struct manager *m, uid_t uid, struct user_context **ret);
struct image_processor *user_context_images(struct user_context *u);
struct video_processor *user_context_videos(struct user_context *u);

/* For the objects' method handlers, before reading any argument: 1 when the caller may
 * use u (its own uid, root, or polkit's org.camerad.Camera1.manage), 0 when the call was
 * parked for polkit (the handler returns 1; the call comes back later), or a negative
 * errno with AccessDenied set in error. */
int user_context_check_access(struct user_context *u, sd_bus_message *call, sd_bus_error *error);
