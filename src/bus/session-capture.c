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
#include "shared/macro.h"
#include "shared/mailbox.h"

#define SESSION_INTERFACE CAMERAD_IFACE_SESSION

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
        unsigned start_generation;  /* the run that failed */
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

/* Loop thread: act on a failure notice. The session may be gone, or stopped and started
 * again since the notice was raised: a notice about an earlier run must not stop this one. */
static void camera_failure_handle(struct camera_failure *cf) {
        struct session *s;

        for (s = cf->manager->sessions; s; s = s->next)
                if (s->index == cf->session_index)
                        break;
        if (s && s->start_generation != cf->start_generation)
                log_debug("%s: ignoring a failure notice from start %u; this is start %u",
                          s->path, cf->start_generation, s->start_generation);
        else if (s) {
                char reason[400];

                snprintf(reason, sizeof reason, "%s (%s)", cf->message, strerror(-cf->error));
                session_camera_lost(s, reason);
                if (s->input)
                        camera_update_connected(s->input);
        }
        manager_rescan_devices(cf->manager);
}

static int on_delayed_failure(sd_event_source *source, uint64_t usec, void *userdata) {
        camera_failure_handle(userdata);
        /* Drop the loop's reference: the destroy callback frees the notice. */
        (void) sd_event_source_set_floating(source, false);
        sd_event_source_unref(source);
        return 0;
}

/* Loop thread: the letter from on_error. */
static void camera_failure_dispatch(void *userdata) {
        _cleanup_free_ struct camera_failure *cf = userdata;
        const char *delay = getenv("CAMERAD_TEST_FAILURE_NOTICE_DELAY_MS");
        unsigned long delay_ms = delay ? strtoul(delay, NULL, 10) : 0;

        if (delay_ms > 0) {
                sd_event_source *source = NULL;

                /* Test hook: a timer that owns cf from now on; floating, so our reference
                 * becomes the loop's (dropped in on_delayed_failure, or when the loop is
                 * freed at exit). */
                if (sd_event_add_time_relative(cf->manager->event, &source, CLOCK_MONOTONIC,
                                               delay_ms * 1000, 0, on_delayed_failure, cf) >= 0 &&
                    sd_event_source_set_destroy_callback(source, free) >= 0 &&
                    sd_event_source_set_floating(source, true) >= 0) {
                        TAKE_PTR(cf);
                        return;
                }
                /* cf stays ours: act on it at once. */
                if (source)
                        (void) sd_event_source_set_destroy_callback(source, NULL);
                sd_event_source_disable_unref(source);
        }
        camera_failure_handle(cf);
}

static void on_error(int error, const char *message, void *userdata) {
        struct session *s = userdata;
        struct camera_failure *cf = calloc(1, sizeof *cf);

        if (!cf)
                return;
        /* Only fields of s that are fixed while this run lasts are read here; the loop thread
         * owns the rest. */
        cf->manager = s->manager;
        cf->session_index = s->index;
        cf->start_generation = s->start_generation;
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

        /* Before the capture thread exists: it reads these without a lock. */
        s->start_generation++;
        const char *fail = getenv("CAMERAD_TEST_FAIL_AFTER_FRAMES");
        const char *fail_starts = getenv("CAMERAD_TEST_FAIL_STARTS");
        s->fail_after_frames = fail ? strtoul(fail, NULL, 10) : 0;
        if (fail_starts && s->start_generation > strtoul(fail_starts, NULL, 10))
                s->fail_after_frames = 0;
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

