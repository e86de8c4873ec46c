/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "shared/camerad-bus-names.h"

/* The daemon context: one per process, lives on the event loop thread. Every bus object
 * keeps a pointer to it. Only the loop thread touches it; threads reach it through
 * `mailbox` (mailbox_post() from any thread, dispatched on the loop). */

struct camera;                 /* bus/camera.h */
struct session;                /* bus/session.h */
struct polkit_registry;        /* bus/polkit.h */
struct mailbox;                /* shared/mailbox.h */
struct photo_intake;           /* process/photo-intake.h */
struct process_config;         /* process/process-config.h */
struct video_monitor;          /* capture/video-monitor.h */
struct user_contexts;          /* bus/user-context.c (helper busproc) defines it */

struct manager {
        sd_bus *bus;
        sd_event *event;
        struct mailbox *mailbox;  /* registered with sd_event_add_io on the loop */
        sd_event_source *mailbox_source;
        struct photo_intake *photos; /* stores every photo output's Capture bursts */

        char *state_dir;          /* absolute, exists, 0700 */
        struct process_config *config; /* never NULL once running (defaults if no file) */
        bool system_bus;          /* true with --system (the default) */

        /* Cameras in creation order; paths .../camera/<index>, index never reused. */
        struct camera *cameras;
        unsigned next_camera_index;
        bool use_v4l2;
        struct video_monitor *monitor;
        sd_event_source *monitor_source;

        /* Capture sessions; paths .../session/<index>, index never reused. */
        struct session *sessions;
        unsigned next_session_index;
        unsigned n_running_sessions;

        /* Per-uid image/video processing contexts: owned by bus/user-context.c, which
         * provides (declared in its own header, bus/user-context.h):
         *   int  user_contexts_load(struct manager *m);    at start: a context for every
         *                                                  uid found in the state dir
         *   void user_contexts_free(struct manager *m);    at exit, before the bus goes
         *   bool user_contexts_busy(struct manager *m);    any image/video work queued or
         *                                                  running (blocks --idle-exit)
         *   void user_contexts_set_capture_active(struct manager *m, bool active);
         *   int  user_context_get(struct manager *m, uid_t uid, struct user_context **ret);
         *   struct image_processor *user_context_images(struct user_context *u);
         *   struct video_processor *user_context_videos(struct user_context *u);
         * and bus/image-process.h / bus/video-process.h provide the Manager method handlers
         *   int bus_image_process_get(sd_bus_message *m, void *userdata, sd_bus_error *e);
         *   int bus_video_process_get(sd_bus_message *m, void *userdata, sd_bus_error *e);
         * (userdata is the struct manager *). */
        struct user_contexts *user_contexts;

        struct polkit_registry *polkit; /* bus_verify_polkit_async(..., &m->polkit, ...) */

        /* --idle-exit: 0 = never. */
        uint64_t idle_exit_usec;
        sd_event_source *idle_timer;
        sd_event_source *exit_source; /* releases sessions before the bus closes */
};

int manager_new(struct manager **ret);
struct manager *manager_free(struct manager *m);

/* Registers the objects and adds the cameras (logging what failed). */
int manager_start(struct manager *m, unsigned n_virtual_cameras, bool virtual_given);
/* Takes CAMERAD_BUS_NAME: -EEXIST when another owner has it, -EACCES when the bus policy
 * forbids it. Silent: the caller reports. */
int manager_take_name(struct manager *m);

/* Called by session.c when a session enters or leaves `running`; on 0→1 and 1→0 it calls
 * user_contexts_set_capture_active() so background image work pauses while a camera runs. */
void manager_session_running_changed(struct manager *m, bool running);
/* Whether any capture session is running (for a context created while one runs). */
bool manager_capture_active(const struct manager *m);

/* Something happened (a call, a session or processing event): restart the idle-exit
 * countdown. Cheap; anyone may call it on the loop thread. */
void manager_note_activity(struct manager *m);

struct camera *manager_find_camera(struct manager *m, const char *path);

/* A camera failed: look at /dev again, so an unplugged device vanishes at once. */
void manager_rescan_devices(struct manager *m);

/* The Cameras property changed (hot-plug, Connected). */
void manager_emit_cameras_changed(struct manager *m);
