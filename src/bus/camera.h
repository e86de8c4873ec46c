/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "capture/camera-device.h"

struct manager;
struct session;

/* A Camera object at /org/camerad/Camera1/camera/<n> wrapping one camera_device.
 * The manager owns it. When its device vanishes (hot-unplug) the object leaves the bus at
 * once, but the struct lives on while a session still names it as its input, so the
 * session can fail cleanly instead of pointing at freed memory. */
struct camera {
        struct camera *next;
        struct manager *manager;
        unsigned index;
        char *path;
        struct camera_device *device;
        sd_bus_slot *slot;

        /* Sessions that committed on it (and stay holders while they reconfigure), oldest
         * first, linked by session->hold_next. The first is the holder named in Conflict
         * messages; format is the capture format while the list is not empty. Loop thread. */
        struct session *holders;
        struct capture_format format;
        unsigned n_users;       /* sessions that have it as input */

        /* The running capture (camera-capture.c): one stream of the device, fanned out to
         * every running session holding the camera, linked by session->attached_next.
         * attach_lock guards that list for the capture thread; the rest is the loop's
         * (written only while no capture thread runs). */
        pthread_mutex_t attach_lock;
        struct session *attached;
        bool streaming;
        unsigned capture_generation; /* counts camera_device_start()s */

        /* Test hooks: $CAMERAD_TEST_FAIL_AFTER_FRAMES=N makes the capture report a camera
         * failure after N frames of each start (0 = off), only in the first M starts of
         * the camera when $CAMERAD_TEST_FAIL_STARTS=M is set.
         * $CAMERAD_TEST_FAILURE_NOTICE_DELAY_MS=D holds each failure notice D ms on the
         * loop before acting on it (a slow mailbox). Set before the capture starts;
         * frames_seen is atomic since decoded frames come on the decode thread. */
        unsigned long fail_after_frames;
        atomic_ulong frames_seen;
        bool removed;           /* gone from the bus (unplugged); freed when unused */
        bool connected;         /* last Connected value emitted */
        atomic_bool controls_notice_pending; /* bus/camera-controls-property.c */
};

extern const sd_bus_vtable camera_vtable[];

/* Takes ownership of device (also on failure), registers the object, announces it with
 * InterfacesAdded and links it into the manager's list. */
int camera_add(struct manager *m, struct camera_device *device, struct camera **ret);

/* Hot-unplug: InterfacesRemoved, off the bus and out of the Cameras list. Frees it unless
 * a session still uses it. */
void camera_remove(struct camera *c);

/* At exit: frees regardless of users (sessions are gone by then). */
struct camera *camera_free(struct camera *c);

/* Session bookkeeping. camera_unuse() frees a removed camera with no users left. */
void camera_use(struct camera *c);
void camera_unuse(struct camera *c);

/* The oldest session holding c, or NULL. */
struct session *camera_holder(const struct camera *c);
bool camera_held_by(const struct camera *c, const struct session *s);
/* s joins the holders (at the end; no-op when it is one). When it is the only holder,
 * fmt becomes the format in use. Emits InUse and CaptureFormat as they change. */
void camera_hold(struct camera *c, struct session *s, const struct capture_format *fmt);
/* s stops holding c (no-op when it did not); the last one out clears the format in use
 * and emits InUse and CaptureFormat. */
void camera_unhold(struct camera *c, struct session *s);

/* Re-reads camera_device_is_connected() and emits Connected when it changed. */
void camera_update_connected(struct camera *c);

bool camera_in_use(const struct camera *c);
