/* SPDX-License-Identifier: MIT */
/* A camera's running capture: started by the first session that attaches, stopped by the
 * last one leaving, frames fanned out on the capture thread to every attached session's
 * outputs, and camera failures coming back through the mailbox to all of them. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/camera-capture.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/session.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/mailbox.h"

static void on_error(int error, const char *message, void *userdata);

/* Capture thread. Lock order: attach_lock, then each session's fanout_lock; nothing takes
 * attach_lock while holding a fanout_lock. */
static void on_frame(struct frame *f, void *userdata) {
        struct camera *c = userdata;

        /* Camera frames count, not their decoded twins. */
        if (c->fail_after_frames > 0 && !f->compressed && ++c->frames_seen == c->fail_after_frames) {
                on_error(-EIO, "failure injected by CAMERAD_TEST_FAIL_AFTER_FRAMES", c);
                return;
        }
        if (c->fail_after_frames > 0 && c->frames_seen > c->fail_after_frames)
                return; /* "failed": no more frames until the loop stops us */

        pthread_mutex_lock(&c->attach_lock);
        for (struct session *s = c->attached; s; s = s->attached_next) {
                pthread_mutex_lock(&s->fanout_lock);
                for (struct output *o = s->outputs; o; o = o->next)
                        if (o->added)
                                output_push_frame(o, f);
                pthread_mutex_unlock(&s->fanout_lock);
        }
        pthread_mutex_unlock(&c->attach_lock);
}

struct camera_failure {
        struct manager *manager;
        unsigned camera_index;
        unsigned capture_generation; /* the run that failed */
        int error;
        char message[256];
};

/* The camera may be unplugged (off the manager's list) yet still some session's input. */
static struct camera *find_camera(struct manager *m, unsigned index) {
        for (struct camera *c = m->cameras; c; c = c->next)
                if (c->index == index)
                        return c;
        for (struct session *s = m->sessions; s; s = s->next)
                if (s->input && s->input->index == index)
                        return s->input;
        return NULL;
}

void camera_sessions_lost(struct camera *c, const char *reason) {
        /* session_camera_lost() neither frees sessions nor reorders the list. */
        for (struct session *s = c->manager->sessions; s; s = s->next)
                if (s->input == c)
                        session_camera_lost(s, reason);
        assert(!c->streaming);
}

/* Loop thread: act on a failure notice. The capture may have stopped and started again
 * since it was raised (all sessions left, one came back): a notice about an earlier run
 * must not stop this one. */
static void camera_failure_handle(struct camera_failure *cf) {
        struct camera *c = find_camera(cf->manager, cf->camera_index);

        if (c && !c->streaming)
                log_debug("%s: ignoring a failure notice from start %u; the capture has stopped",
                          c->path, cf->capture_generation);
        else if (c && c->capture_generation != cf->capture_generation)
                log_debug("%s: ignoring a failure notice from start %u; this is start %u",
                          c->path, cf->capture_generation, c->capture_generation);
        else if (c) {
                char reason[400];

                snprintf(reason, sizeof reason, "%s (%s)", cf->message, strerror(-cf->error));
                camera_sessions_lost(c, reason);
                camera_update_connected(c);
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

/* Capture thread. */
static void on_error(int error, const char *message, void *userdata) {
        struct camera *c = userdata;
        struct camera_failure *cf = calloc(1, sizeof *cf);

        if (!cf)
                return;
        /* Only fields of c that are fixed while this run lasts are read here. */
        cf->manager = c->manager;
        cf->camera_index = c->index;
        cf->capture_generation = c->capture_generation;
        cf->error = error < 0 ? error : -EIO;
        snprintf(cf->message, sizeof cf->message, "%s", message ?: "streaming failed");
        if (mailbox_post(c->manager->mailbox, camera_failure_dispatch, cf) < 0)
                free(cf);
}

static bool camera_is_attached(const struct camera *c, const struct session *s) {
        for (const struct session *i = c->attached; i; i = i->attached_next)
                if (i == s)
                        return true;
        return false;
}

/* Loop thread (the only one that changes c->attached). Preview and photo bursts need
 * pixels; sessions that only record take MJPEG as it comes, undecoded. */
static void update_needs_pixels(struct camera *c) {
        bool needs = false;

        for (struct session *s = c->attached; s && !needs; s = s->attached_next)
                for (struct output *o = s->outputs; o; o = o->next)
                        needs = needs || (o->added && o->ops->needs_pixels);
        camera_device_set_needs_pixels(c->device, needs);
}

static void log_capture_stats(struct camera *c) {
        struct camera_stats st;

        camera_device_get_stats(c->device, &st);
        if (st.corrupt > 0 || st.decode_dropped > 0)
                log_info("%s: %llu frames delivered, %llu damaged MJPEG frames dropped, %llu not "
                         "decoded for a busy decoder (only pixel outputs missed them)", c->path,
                         (unsigned long long) st.delivered, (unsigned long long) st.corrupt,
                         (unsigned long long) st.decode_dropped);
}

static int camera_capture_start(struct camera *c) {
        const char *fail = getenv("CAMERAD_TEST_FAIL_AFTER_FRAMES");
        const char *fail_starts = getenv("CAMERAD_TEST_FAIL_STARTS");
        int r;

        /* Before the capture thread exists: it reads these without a lock. */
        c->capture_generation++;
        c->fail_after_frames = fail ? strtoul(fail, NULL, 10) : 0;
        if (fail_starts && c->capture_generation > strtoul(fail_starts, NULL, 10))
                c->fail_after_frames = 0;
        c->frames_seen = 0;

        r = camera_device_start(c->device, &c->format, on_frame, on_error, c);
        camera_update_connected(c);
        if (r < 0) {
                camera_device_stop(c->device); /* idempotent; leaves the device clean */
                return r;
        }
        c->streaming = true;
        log_debug("%s: capture start %u", c->path, c->capture_generation);
        return 0;
}

int camera_capture_attach(struct camera *c, struct session *s) {
        int r;

        assert(s->input == c);
        assert(camera_held_by(c, s));
        if (camera_is_attached(c, s))
                return 0;

        /* Attached before the device starts, so its first frame reaches s too. */
        pthread_mutex_lock(&c->attach_lock);
        s->attached_next = c->attached;
        c->attached = s;
        pthread_mutex_unlock(&c->attach_lock);
        update_needs_pixels(c);

        if (c->streaming)
                return 0;
        assert(!s->attached_next); /* nobody else is attached to a stopped capture */
        r = camera_capture_start(c);
        if (r < 0)
                camera_capture_detach(c, s);
        return r;
}

void camera_capture_detach(struct camera *c, struct session *s) {
        bool last = false, found = false;

        pthread_mutex_lock(&c->attach_lock);
        for (struct session **p = &c->attached; *p; p = &(*p)->attached_next)
                if (*p == s) {
                        *p = s->attached_next;
                        s->attached_next = NULL;
                        found = true;
                        break;
                }
        last = !c->attached;
        pthread_mutex_unlock(&c->attach_lock);

        /* Outside the lock: the capture thread may be waiting for it in on_frame. */
        if (found && last && c->streaming) {
                camera_device_stop(c->device);
                c->streaming = false;
                log_capture_stats(c);
                log_debug("%s: capture stopped; no session left on it", c->path);
        } else if (found)
                update_needs_pixels(c);
}

double camera_capture_rate(const struct camera *c, const struct capture_format *fmt) {
        const struct camera_device_info *info = camera_device_get_info(c->device);

        if (fmt->max_fps > 0)
                return fmt->max_fps;
        for (size_t i = 0; i < info->n_formats; i++)
                if (info->formats[i].fourcc == fmt->fourcc && info->formats[i].width == fmt->width &&
                    info->formats[i].height == fmt->height)
                        return info->formats[i].max_fps;
        return 0;
}
