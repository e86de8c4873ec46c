/* SPDX-License-Identifier: MIT */
#pragma once

#include "capture/camera-controls.h"
#include "capture/camera-device-private.h"

/* The backend side of the controls: camera-controls.c checks settings against query()'s
 * list, the backends talk to the device. */

struct camera_control_value {
        uint32_t id;
        int64_t value;
};

struct camera_controls_backend {
        /* Every control with its current value and flags. */
        int (*query)(struct camera_device *d, struct camera_control_list *ret);
        /* Checked values; all or none (V4L2: TRY first). On a refusal *bad_index is the one
         * the device named, or n when it named none. */
        int (*apply)(struct camera_device *d, const struct camera_control_value *v, size_t n,
                     size_t *bad_index);
        /* Optional: watch for changes made elsewhere while streaming, telling
         * camera_controls_notify(); called after the backend's start, before its stop. */
        void (*watch)(struct camera_device *d);
        void (*unwatch)(struct camera_device *d);
};

/* From a backend's watcher: runs the callback. */
void camera_controls_notify(struct camera_device *d);

/* camera_device_start/stop: start and stop the backend's watch. */
void camera_controls_watch(struct camera_device *d);
void camera_controls_unwatch(struct camera_device *d);

/* Appends a control to l (name derived from v4l2_name, made unique); menu items are added
 * with camera_control_add_menu_item() on the returned control. */
struct camera_control *camera_control_list_add(struct camera_control_list *l, uint32_t id,
                                               const char *v4l2_name);
int camera_control_add_menu_item(struct camera_control *c, int64_t index, const char *name);
