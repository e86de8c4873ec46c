/* SPDX-License-Identifier: MIT */
/* Camera.Controls: the camera's controls as a{sa{sv}}, and its PropertiesChanged after
 * SetControls or when the device reports a change made elsewhere. */
#include <stdatomic.h>
#include <stdlib.h>

#include "bus/camera.h"
#include "bus/controls-bus.h"
#include "bus/manager.h"
#include "capture/camera-controls.h"
#include "shared/log.h"
#include "shared/mailbox.h"

#define CAMERA_INTERFACE CAMERAD_IFACE_CAMERA

static int append_control(sd_bus_message *reply, const struct camera_control *c) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", c->name);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                          "type", "s", camera_control_type_to_string(c->type),
                                          "min", "x", c->min, "max", "x", c->max, "step", "x", c->step,
                                          "default", "x", c->def, "value", "x", c->value,
                                          "read-only", "b", c->read_only, "inactive", "b", c->inactive);
        if (r >= 0 && c->type == CAMERA_CONTROL_MENU) {
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", "menu");
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'v', "a{xs}");
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "{xs}");
                for (size_t k = 0; r >= 0 && k < c->n_menu; k++)
                        r = sd_bus_message_append(reply, "{xs}", c->menu[k].index, c->menu[k].name);
                for (int i = 0; r >= 0 && i < 3; i++)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

int camera_property_get_controls(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        struct camera *c = userdata;
        int r;

        r = camera_device_get_controls(c->device, &l);
        if (r < 0) {
                log_debug_errno(r, "%s: reading the controls failed, showing none: %m", c->path);
                camera_control_list_done(&l);
        }
        r = sd_bus_message_open_container(reply, 'a', "{sa{sv}}");
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                r = append_control(reply, &l.items[i]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

void camera_emit_controls_changed(struct camera *c) {
        if (!c->removed)
                (void) sd_bus_emit_properties_changed(c->manager->bus, c->path, CAMERA_INTERFACE,
                                                      "Controls", NULL);
}

struct controls_notice {
        struct manager *manager;
        unsigned camera_index;
};

/* Loop thread: the camera may have gone since the notice was posted. */
static void controls_notice_dispatch(void *userdata) {
        _cleanup_free_ struct controls_notice *n = userdata;

        for (struct camera *c = n->manager->cameras; c; c = c->next)
                if (c->index == n->camera_index) {
                        atomic_store(&c->controls_notice_pending, false);
                        camera_emit_controls_changed(c);
                        return;
                }
}

/* The device's watcher thread. One notice at a time: a burst of events (an automatic
 * mode moving exposure) becomes one PropertiesChanged, which reads the latest values. */
static void on_device_controls_changed(struct camera_device *d, void *userdata) {
        struct camera *c = userdata;
        struct controls_notice *n;

        if (atomic_exchange(&c->controls_notice_pending, true))
                return;
        n = malloc(sizeof *n);
        if (n) {
                *n = (struct controls_notice) { c->manager, c->index };
                if (mailbox_post(c->manager->mailbox, controls_notice_dispatch, n) >= 0)
                        return;
                free(n);
        }
        atomic_store(&c->controls_notice_pending, false);
}

void camera_controls_init(struct camera *c) {
        atomic_init(&c->controls_notice_pending, false);
        camera_device_set_controls_callback(c->device, on_device_controls_changed, c);
}
