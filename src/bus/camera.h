/* SPDX-License-Identifier: MIT */
#pragma once

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

        struct session *holder; /* the committed session that acquired it, or NULL */
        unsigned n_users;       /* sessions that have it as input */
        bool removed;           /* gone from the bus (unplugged); freed when unused */
        bool connected;         /* last Connected value emitted */
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
void camera_set_holder(struct camera *c, struct session *s); /* emits InUse */

/* Re-reads camera_device_is_connected() and emits Connected when it changed. */
void camera_update_connected(struct camera *c);

bool camera_in_use(const struct camera *c);
