/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/camera.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/session.h"
#include "bus/user-context.h"
#include "capture/frame-ring.h"
#include "process/image-processor.h"
#include "process/photo-intake.h"
#include "shared/log.h"

#define PHOTO_DEFAULT_QUALITY 95u
#define PHOTO_DEFAULT_BURST 4u
/* Right after Start the ring may not hold a whole burst yet: Capture waits up to
 * PHOTO_BURST_WAIT_USEC for the burst, then takes what there is; with no frame at all it
 * gives up after PHOTO_FIRST_FRAME_TIMEOUT_SEC. A stop ends the wait the same way. */
#define PHOTO_BURST_WAIT_USEC (1000 * 1000ULL)
#define PHOTO_FIRST_FRAME_TIMEOUT_SEC 3
#define PHOTO_STR(x) #x
#define PHOTO_XSTR(x) PHOTO_STR(x)
#define PHOTO_POLL_USEC (10 * 1000ULL)
#define PHOTO_INTERFACE CAMERAD_IFACE_PHOTO

struct photo_wait;

/* The photo engine: the newest frames while running, Capture calls waiting for their burst
 * to be in the ring (newest first), and the output's place in the manager's photo intake,
 * which stores the bursts off the loop thread. */
struct photo_output {
        struct frame_ring *ring;        /* pushed to under fanout_lock */
        struct photo_wait *waits;
        struct photo_intake_source *intake;
};

static struct photo_output *photo_of(struct output *o) {
        return o->kind_data;
}

/* A Capture call waiting for its burst (or a first frame) to be in the ring; its timer
 * polls the ring. Settings were validated when the call came. */
struct photo_wait {
        struct photo_wait *next;
        struct output *output;
        sd_bus_message *message;
        sd_event_source *timer;
        size_t burst;
        uint32_t quality;
        bool deferred;
        uint64_t burst_deadline, deadline;
};

static void photo_wait_free(struct photo_wait *w) {
        for (struct photo_wait **p = &photo_of(w->output)->waits; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        sd_event_source_disable_unref(w->timer);
        sd_bus_message_unref(w->message);
        free(w);
}

/* A Capture call handed to the intake: what its reply and signal need. */
struct photo_call {
        struct manager *manager;
        sd_bus_message *message;
        char *path; /* the output's, for the signal */
        uint32_t quality;
        bool deferred;
};

static void photo_call_free(struct photo_call *c) {
        sd_bus_message_unref(c->message);
        free(c->path);
        free(c);
}

/* Loop thread: the intake is done with the call's burst; reply, and tell the output's
 * clients unless the output went meanwhile. */
static void photo_call_done(const struct photo_intake_result *r, void *userdata) {
        struct photo_call *c = userdata;

        if (r->error < 0) {
                sd_bus_error e = SD_BUS_ERROR_NULL;

                log_error_errno(r->error, "%s: %s: %m", c->path, r->what);
                bus_error_set_fatal(&e, r->error, r->what);
                (void) sd_bus_reply_method_error(c->message, &e);
                sd_bus_error_free(&e);
        } else {
                log_info("%s: photo %s (%zu frames, quality %u, %s): planes %.1f ms, stored %.1f ms",
                         c->path, r->id, r->n_frames, c->quality, c->deferred ? "deferred" : "at once",
                         r->split_ms, r->store_ms);
                (void) sd_bus_reply_method_return(c->message, "s", r->id);
                if (!r->detached)
                        (void) sd_bus_emit_signal(c->manager->bus, c->path, PHOTO_INTERFACE,
                                                  "PhotoAvailable", "sb", r->id, c->deferred);
        }
        manager_note_activity(c->manager);
        photo_call_free(c);
}

static int photo_call_submit(struct output *o, sd_bus_message *m, struct image_processor *images,
                             size_t burst, uint32_t quality, bool deferred) {
        const struct camera_device_info *info = camera_device_get_info(o->session->input->device);
        struct photo_call *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (struct photo_call) {
                .manager = o->session->manager,
                .message = sd_bus_message_ref(m),
                .path = strdup(o->path),
                .quality = quality,
                .deferred = deferred,
        };
        if (!c->path) {
                photo_call_free(c);
                return -ENOMEM;
        }
        struct photo_intake_request req = {
                .images = images,
                .burst = burst,
                .quality = quality,
                .deferred = deferred,
                .camera_make = info->driver,
                .camera_model = info->name,
                .done = photo_call_done,
                .userdata = c,
        };
        r = photo_intake_submit(photo_of(o)->intake, &req);
        if (r < 0) {
                photo_call_free(c);
                return r;
        }
        if (r > 0) /* tests look for this line */
                log_debug("%s: Capture waits for the store (%u frames held by waiting calls)",
                          o->path, photo_intake_pinned(o->session->manager->photos));
        return 0;
}

/* Hands the call to the intake with the newest `burst` frames of the ring (fewer when the
 * ring holds fewer); the intake's done callback replies. Fails when the ring holds no frame
 * at all. */
static int photo_capture_now(struct output *o, sd_bus_message *m, size_t burst, uint32_t quality,
                             bool deferred, const char *no_frame_why, sd_bus_error *error) {
        struct session *s = o->session;
        struct user_context *u;
        int r;

        if (frame_ring_count(photo_of(o)->ring) == 0)
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL,
                                      "no frame arrived from camera %s %s", s->input->path,
                                      no_frame_why);
        r = user_context_get(s->manager, s->owner_uid, &u);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot open the caller's image store");
        /* Writing a burst takes a while (fsync): the intake's thread does it and the reply
         * comes later. */
        r = photo_call_submit(o, m, user_context_images(u), burst, quality, deferred);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot start storing the photo");
        return 1;
}

/* The wait is over: the call goes to the store with what the ring holds, or gets its error. */
static void photo_wait_finish(struct photo_wait *w, const char *no_frame_why) {
        sd_bus_error e = SD_BUS_ERROR_NULL;

        if (photo_capture_now(w->output, w->message, w->burst, w->quality, w->deferred,
                              no_frame_why, &e) < 0)
                (void) sd_bus_reply_method_error(w->message, &e);
        sd_bus_error_free(&e);
        photo_wait_free(w);
}

static struct photo_wait *photo_wait_oldest(struct output *o) {
        struct photo_wait *w = photo_of(o)->waits;

        while (w && w->next) /* the list is newest first */
                w = w->next;
        return w;
}

/* Before the ring is cleared (stop) or goes (release): waiting calls, oldest first, take
 * the frames there are rather than being refused. */
static void photo_waits_finish(struct output *o, const char *no_frame_why) {
        while (photo_of(o)->waits)
                photo_wait_finish(photo_wait_oldest(o), no_frame_why);
}

static bool photo_wait_contains(struct output *o, struct photo_wait *w) {
        for (struct photo_wait *p = photo_of(o)->waits; p; p = p->next)
                if (p == w)
                        return true;
        return false;
}

/* Waits end strictly oldest first, so that replies keep call order: a younger call whose
 * burst is there waits behind an older one (at most until the older one's deadline). */
static int photo_wait_tick(sd_event_source *es, uint64_t usec, void *userdata) {
        struct photo_wait *w = userdata;
        struct output *o = w->output;
        size_t n = frame_ring_count(photo_of(o)->ring);

        for (struct photo_wait *oldest; (oldest = photo_wait_oldest(o)); ) {
                bool ready = n >= oldest->burst || (n > 0 && usec >= oldest->burst_deadline);

                if (!ready && usec < oldest->deadline)
                        break;
                photo_wait_finish(oldest, "within " PHOTO_XSTR(PHOTO_FIRST_FRAME_TIMEOUT_SEC) " s");
        }
        if (!photo_wait_contains(o, w))
                return 0;
        if (sd_event_source_set_time(es, usec + PHOTO_POLL_USEC) < 0 ||
            sd_event_source_set_enabled(es, SD_EVENT_ONESHOT) < 0) {
                /* Cannot poll on: every call up to this one takes what there is. */
                log_error("Cannot keep polling for a Capture burst; taking what there is");
                while (photo_wait_contains(o, w))
                        photo_wait_finish(photo_wait_oldest(o), "(none in the ring)");
        }
        return 0;
}

static int photo_wait_new(struct output *o, sd_bus_message *m, size_t burst, uint32_t quality,
                          bool deferred) {
        struct manager *mgr = o->session->manager;
        struct photo_wait *w;
        uint64_t now;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->output = o;
        w->message = sd_bus_message_ref(m);
        w->burst = burst;
        w->quality = quality;
        w->deferred = deferred;
        r = sd_event_now(mgr->event, CLOCK_MONOTONIC, &now);
        if (r >= 0) {
                w->burst_deadline = now + PHOTO_BURST_WAIT_USEC;
                w->deadline = now + PHOTO_FIRST_FRAME_TIMEOUT_SEC * 1000000ULL;
                r = sd_event_add_time(mgr->event, &w->timer, CLOCK_MONOTONIC, now + PHOTO_POLL_USEC,
                                      0, photo_wait_tick, w);
        }
        w->next = photo_of(o)->waits;
        photo_of(o)->waits = w;
        if (r < 0) {
                photo_wait_free(w);
                return r;
        }
        return 0;
}

static int method_capture(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct output *o = userdata;
        struct session *s = o->session;
        uint32_t quality = PHOTO_DEFAULT_QUALITY, burst = PHOTO_DEFAULT_BURST;
        bool deferred = true;
        int r;

        r = session_check_owner(s, m, error);
        if (r < 0)
                return r;

        if (s->state != SESSION_STATE_RUNNING || !o->added)
                return bus_error_setf(error, CAMERAD_ERROR_SESSION_NOT_RUNNING,
                                      "Capture needs a running session with this output added; "
                                      "the session is '%s'%s", session_state_to_string(s->state),
                                      o->added ? "" : " and the output is not added");

        struct bus_dict_key keys[] = {
                { .name = "quality", .type = 'u', .ptr = &quality },
                { .name = "burst", .type = 'u', .ptr = &burst },
                { .name = "deferred", .type = 'b', .ptr = &deferred },
        };
        r = bus_read_dict(m, "settings", keys, ELEMENTSOF(keys), error);
        if (r < 0)
                return r;
        if (quality < 1 || quality > 100)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "settings key 'quality' must be 1..100; got %u", quality);
        if (burst < 1 || burst > FRAME_RING_MAX)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "settings key 'burst' must be 1..%u; got %u", FRAME_RING_MAX, burst);

        /* Calls waiting already go first, so that replies keep call order. */
        if (photo_of(o)->waits || frame_ring_count(photo_of(o)->ring) < burst) {
                r = photo_wait_new(o, m, burst, quality, deferred);
                if (r < 0)
                        return bus_error_set_fatal(error, r, "cannot wait for frames");
                return 1; /* the store replies once the burst (or at least a frame) is there */
        }
        return photo_capture_now(o, m, burst, quality, deferred, "(none in the ring)", error);
}

static const sd_bus_vtable photo_output_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Capture", SD_BUS_ARGS("a{sv}", settings), SD_BUS_RESULT("s", imageId),
                                method_capture, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("PhotoAvailable", SD_BUS_ARGS("s", imageId, "b", deferred), 0),
        SD_BUS_VTABLE_END,
};

/* The ring is there from the start: Capture and the intake take frames from it whenever they
 * are called; it holds frames only while the session runs. */
static int photo_output_new(struct output *o) {
        struct photo_output *p;
        int r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        r = frame_ring_new(FRAME_RING_MAX, &p->ring);
        if (r >= 0)
                r = photo_intake_source_new(o->session->manager->photos, p->ring, &p->intake);
        if (r < 0) {
                frame_ring_free(p->ring);
                free(p);
                return r;
        }
        o->kind_data = p;
        return 0;
}

static int photo_output_starting(struct output *o) {
        struct photo_output *p = photo_of(o);

        /* A restart: bursts waiting for the intake keep the frames of before. */
        photo_intake_take_frames(p->intake);
        frame_ring_clear(p->ring);
        return 0;
}

static void photo_output_stopped(struct output *o) {
        struct photo_output *p = photo_of(o);

        /* Calls waiting for a burst or for the intake keep the frames of before the stop;
         * old frames must never be taken after a restart. */
        photo_waits_finish(o, "before the session stopped");
        photo_intake_take_frames(p->intake);
        frame_ring_clear(p->ring);
}

static void photo_output_push(struct output *o, struct frame *f) {
        frame_ring_push(photo_of(o)->ring, f);
}

static void photo_output_free(struct output *o) {
        struct photo_output *p = photo_of(o);

        /* A release stops the session first, so normally nothing waits here any more. */
        photo_waits_finish(o, "before the output was released");
        /* Returns at once: its bursts are still stored and replied to (by the mailbox). */
        photo_intake_source_free(p->intake);
        /* The session unlinked o under fanout_lock: the capture thread pushes here no more. */
        frame_ring_free(p->ring);
        free(p);
        o->kind_data = NULL;
}

const struct output_kind_ops photo_output_ops = {
        .kind = OUTPUT_KIND_PHOTO,
        .name = "photo",
        .interface = PHOTO_INTERFACE,
        .vtable = photo_output_vtable,
        .needs_pixels = true,
        .new = photo_output_new,
        .free = photo_output_free,
        .starting = photo_output_starting,
        .stopped = photo_output_stopped,
        .push = photo_output_push,
};
