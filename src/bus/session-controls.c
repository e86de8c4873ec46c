/* SPDX-License-Identifier: MIT */
/* Session.SetControls and Session.GetControls. The checks (names, types, ranges, menu
 * items, read-only, inactive) and the all-or-nothing application are the capture layer's
 * (capture/camera-controls.h); here the a{sv} is read and errors get their D-Bus names. */
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/camera.h"
#include "bus/controls-bus.h"
#include "bus/manager.h"
#include "bus/session.h"
#include "capture/camera-controls.h"

/* More than any camera has; bounds what one call makes us allocate and check. */
#define SET_CONTROLS_MAX 64

int session_may_set_controls(struct session *s, sd_bus_error *error) {
        int r;

        if (s->state != SESSION_STATE_COMMITTED && s->state != SESSION_STATE_RUNNING)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "SetControls: %s is %s; controls are set once the configuration "
                                      "is committed (committed or running)",
                                      s->path, session_state_to_string(s->state));
        r = session_check_may_change_camera(s, "SetControls", error);
        if (r < 0)
                return r;
        if (s->input->removed)
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL,
                                      "SetControls: camera %s was unplugged", s->input->path);
        return 0;
}

/* One a{sv} entry into *ret. Names and values stay valid while m lives. */
static int read_setting(sd_bus_message *m, struct camera_control_setting *ret, sd_bus_error *error) {
        const char *name, *type;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = sd_bus_message_peek_type(m, NULL, &type);
        if (r < 0)
                return r;
        *ret = (struct camera_control_setting) { .name = name, .kind = CAMERA_VALUE_INTEGER };
        if (streq(type, "x")) {
                int64_t v;
                r = sd_bus_message_read(m, "v", "x", &v);
                ret->value = v;
        } else if (streq(type, "i")) {
                int32_t v;
                r = sd_bus_message_read(m, "v", "i", &v);
                ret->value = v;
        } else if (streq(type, "u")) {
                uint32_t v;
                r = sd_bus_message_read(m, "v", "u", &v);
                ret->value = v;
        } else if (streq(type, "b")) {
                int v;
                r = sd_bus_message_read(m, "v", "b", &v);
                ret->kind = CAMERA_VALUE_BOOLEAN;
                ret->value = !!v;
        } else if (streq(type, "s")) {
                r = sd_bus_message_read(m, "v", "s", &ret->item);
                ret->kind = CAMERA_VALUE_NAME;
        } else
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "SetControls: " BUS_ECHO_FMT ": a value of type '" BUS_ECHO_FMT
                                      "' is not taken; give x, i, u, b or, for a menu, the item's name (s)",
                                      BUS_ECHO(name), BUS_ECHO(type));
        return r;
}

int session_method_set_controls(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct camera_control_setting settings[SET_CONTROLS_MAX];
        _cleanup_free_ char *why = NULL;
        struct session *s = userdata;
        size_t n = 0;
        int r;

        r = session_check_owner(s, m, error);
        if (r < 0)
                return r;
        manager_note_activity(s->manager);
        r = session_may_set_controls(s, error);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                if (n == SET_CONTROLS_MAX)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "SetControls: more than %d controls in one call",
                                              SET_CONTROLS_MAX);
                r = read_setting(m, &settings[n++], error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        /* Control ioctls are quick: done here on the loop thread (see controls-bus.h). */
        r = camera_device_set_controls(s->input->device, settings, n, &why);
        if (r == -EINVAL)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT, "SetControls: %s; nothing was set",
                                      why ?: "invalid controls");
        if (r == -EBUSY)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "SetControls: %s; nothing was set", why ?: "the camera is busy");
        if (r < 0)
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL, "SetControls: %s",
                                      why ?: "setting the controls failed");
        /* Before the reply: a caller that saw the reply has seen the change announced. */
        if (n > 0)
                camera_emit_controls_changed(s->input);
        return sd_bus_reply_method_return(m, NULL);
}

int session_method_get_controls(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct session *s = userdata;
        int r;

        r = session_check_owner(s, m, error);
        if (r < 0)
                return r;
        manager_note_activity(s->manager);
        if (!s->input)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "GetControls: %s has no input camera; AddInput first", s->path);
        if (s->input->removed)
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL,
                                      "GetControls: camera %s was unplugged", s->input->path);
        r = camera_device_get_controls(s->input->device, &l);
        if (r < 0)
                return bus_error_set_fatal(error, r, "GetControls: reading the controls failed");

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                r = sd_bus_message_append(reply, "{sv}", l.items[i].name, "x", l.items[i].value);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
