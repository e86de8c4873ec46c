/* SPDX-License-Identifier: MIT */
/* A session's streaming: preparing its outputs and attaching to its camera's capture
 * (camera-capture.c, which fans frames out to every session on the camera), leaving it,
 * and a camera failure reaching the session. */
#include <stdio.h>

#include "bus/bus-errors.h"
#include "bus/camera-capture.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/session.h"
#include "shared/log.h"

#define SESSION_INTERFACE CAMERAD_INTERFACE_PREFIX "Session"

void session_camera_lost(struct session *s, const char *reason) {
        char text[512];

        if (!s || s->state != SESSION_STATE_RUNNING)
                return;
        snprintf(text, sizeof text, "7400201: camera %s failed: %s",
                 s->input ? s->input->path : "?", reason);
        log_warning("%s: %s", s->path, text);
        session_stop_streaming(s);
        session_set_state(s, SESSION_STATE_COMMITTED);
        (void) sd_bus_emit_signal(s->manager->bus, s->path, SESSION_INTERFACE, "Error",
                                  "us", (uint32_t) 7400201, text);
}

void session_stop_streaming(struct session *s) {
        if (s->input)
                camera_capture_detach(s->input, s);
        for (struct output *o = s->outputs; o; o = o->next)
                if (o->added)
                        output_session_stopped(o);
}

int session_start_streaming(struct session *s, sd_bus_error *error) {
        int r;

        if (s->input->removed)
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL,
                                      "camera %s was unplugged", s->input->path);

        for (struct output *o = s->outputs; o; o = o->next)
                if (o->added) {
                        r = output_session_starting(o);
                        if (r < 0) {
                                session_stop_streaming(s);
                                return bus_error_set_fatal(error, r, "cannot prepare the outputs");
                        }
                }

        r = camera_capture_attach(s->input, s);
        if (r < 0) {
                session_stop_streaming(s);
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL,
                                      "camera %s refused to start streaming: %s",
                                      s->input->path, strerror(-r));
        }
        return 0;
}
