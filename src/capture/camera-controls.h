/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct camera_device;

/* Camera controls (brightness, exposure, focus, zoom, …): V4L2's through the ops table,
 * the virtual camera's own. No D-Bus here. Every call is for the loop thread; V4L2 control
 * ioctls are fast, so they run there (the node is opened briefly when not streaming).
 *
 * Names are the V4L2 control name in lower case, spaces as '-', punctuation dropped:
 * "White Balance, Automatic" is "white-balance-automatic". Buttons, control classes,
 * strings, bitmasks, compound and write-only controls are left out: they have no value
 * to show. */

#define CAMERA_CONTROL_NAME_MAX 48

enum camera_control_type {
        CAMERA_CONTROL_INTEGER,
        CAMERA_CONTROL_BOOLEAN,
        CAMERA_CONTROL_MENU, /* integer menus too: item names are their values as text */
};

struct camera_menu_item {
        int64_t index; /* the control's value for this item */
        char *name;
};

struct camera_control {
        uint32_t id; /* V4L2 control id (the virtual camera uses V4L2's ids too) */
        char name[CAMERA_CONTROL_NAME_MAX];
        enum camera_control_type type;
        int64_t min, max, step, def, value;
        struct camera_menu_item *menu; /* menus: the items that exist (holes left out) */
        size_t n_menu;
        bool read_only;
        bool inactive; /* e.g. exposure-time-absolute while auto-exposure is on */
};

struct camera_control_list {
        struct camera_control *items;
        size_t n;
};

/* A value to set: a number (x, i, u on the bus), a boolean, or a menu item's name. */
enum camera_value_kind { CAMERA_VALUE_INTEGER, CAMERA_VALUE_BOOLEAN, CAMERA_VALUE_NAME };

struct camera_control_setting {
        const char *name;
        enum camera_value_kind kind;
        int64_t value;    /* INTEGER, BOOLEAN (0/1) */
        const char *item; /* NAME */
};

const char *camera_control_type_to_string(enum camera_control_type t);

/* "White Balance, Automatic" → "white-balance-automatic" (truncated to size). */
void camera_control_name_from_v4l2(const char *v4l2_name, char *buf, size_t size);

/* Every control with its current value, in the device's order. A camera without
 * controls gives an empty list. */
int camera_device_get_controls(struct camera_device *d, struct camera_control_list *ret);

void camera_control_list_done(struct camera_control_list *l);
const struct camera_control *camera_control_list_find(const struct camera_control_list *l,
                                                      const char *name);

/* Sets all of them or none. Each is checked first (known name, kind fits the type, in
 * range and on a step, an existing menu item, not read-only, not inactive unless another
 * setting of the same call activates it), then the device tries them all
 * (VIDIOC_TRY_EXT_CTRLS) before setting. On a refusal *ret_error (free() it) says which
 * control and why:
 *   -EINVAL  bad name, kind, value, read-only or inactive
 *   -EBUSY   the device cannot change it now (e.g. while streaming)
 *   other    the device failed (*ret_error says so). */
int camera_device_set_controls(struct camera_device *d, const struct camera_control_setting *s,
                               size_t n, char **ret_error);

/* Called when controls changed behind our back (another program, an automatic mode, the
 * flags of an auto cluster): V4L2 control events, watched while the camera streams. Runs
 * on a capture-layer thread; must not block. Setting it again replaces it; NULL clears. */
typedef void (*camera_controls_changed_fn)(struct camera_device *d, void *userdata);
void camera_device_set_controls_callback(struct camera_device *d, camera_controls_changed_fn fn,
                                         void *userdata);

static inline void camera_control_list_donep(struct camera_control_list *l) {
        camera_control_list_done(l);
}
