/* SPDX-License-Identifier: MIT */
/* A session's streaming: starting and stopping the camera, fanning frames out to the
 * outputs on the capture thread, and camera failures coming back through the mailbox. */
#include <stdio.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/camera.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/session.h"
#include "shared/log.h"
#include "shared/mailbox.h"

#define SESSION_INTERFACE CAMERAD_INTERFACE_PREFIX "Session"

static void on_error(int error, const char *message, void *userdata);

static void on_frame(struct frame *f, void *userdata) {
        struct session *s = userdata;

        if (s->fail_after_frames > 0 && ++s->frames_seen == s->fail_after_frames) {
                on_error(-EIO, "failure injected by CAMERAD_TEST_FAIL_AFTER_FRAMES", s);
                return;
        }
        if (s->fail_after_frames > 0 && s->frames_seen > s->fail_after_frames)
                return; /* "failed": no more frames until the loop stops us */

        pthread_mutex_lock(&s->fanout_lock);
        for (struct output *o = s->outputs; o; o = o->next)
                if (o->added)
                        output_push_frame(o, f);
        pthread_mutex_unlock(&s->fanout_lock);
}

struct camera_failure {
        struct manager *manager;
        unsigned session_index;
        int error;
        char message[256];
};

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

/* Loop thread: the letter from on_error. The session may be gone by now. */
static void camera_failure_dispatch(void *userdata) {
        struct camera_failure *cf = userdata;
        struct session *s;

        for (s = cf->manager->sessions; s; s = s->next)
                if (s->index == cf->session_index)
                        break;
        if (s) {
                char reason[400];

                snprintf(reason, sizeof reason, "%s (%s)", cf->message, strerror(-cf->error));
                session_camera_lost(s, reason);
                if (s->input)
                        camera_update_connected(s->input);
        }
        manager_rescan_devices(cf->manager);
        free(cf);
}

static void on_error(int error, const char *message, void *userdata) {
        struct session *s = userdata;
        struct camera_failure *cf = calloc(1, sizeof *cf);

        if (!cf)
                return;
        /* Only immutable fields of s are read here; the loop thread owns the rest. */
        cf->manager = s->manager;
        cf->session_index = s->index;
        cf->error = error < 0 ? error : -EIO;
        snprintf(cf->message, sizeof cf->message, "%s", message ?: "streaming failed");
        if (mailbox_post(s->manager->mailbox, camera_failure_dispatch, cf) < 0)
                free(cf);
}

void session_stop_streaming(struct session *s) {
        if (s->input)
                camera_device_stop(s->input->device);
        for (struct output *o = s->outputs; o; o = o->next)
                if (o->added)
                        output_session_stopped(o);
}

int session_start_streaming(struct session *s, sd_bus_error *error) {
        struct session_config_view v;
        struct output_profile p;
        struct capture_format fmt;
        int r;

        session_view(s, &v);
        session_capture_profile(&v, &p);
        fmt = (struct capture_format) { .fourcc = p.fourcc, .width = p.width, .height = p.height,
                                        .max_fps = p.fps };

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

        const char *fail = getenv("CAMERAD_TEST_FAIL_AFTER_FRAMES");
        s->fail_after_frames = fail ? strtoul(fail, NULL, 10) : 0;
        s->frames_seen = 0;

        r = camera_device_start(s->input->device, &fmt, on_frame, on_error, s);
        camera_update_connected(s->input);
        if (r < 0) {
                session_stop_streaming(s);
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL,
                                      "camera %s refused to start streaming: %s",
                                      s->input->path, strerror(-r));
        }
        return 0;
}

