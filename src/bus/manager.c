/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#include "config.h"
#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/camera-capture.h"
#include "bus/manager.h"
#include "bus/polkit.h"
#include "bus/session.h"
#include "capture/camera-device.h"
#include "capture/video-monitor.h"
#include "process/process-config.h"
#include "shared/log.h"
#include "shared/mailbox.h"

#include "bus/image-process.h"
#include "bus/user-context.h"
#include "bus/video-process.h"

#define MANAGER_INTERFACE CAMERAD_INTERFACE_PREFIX "Manager"
#define MAX_SESSIONS_PER_CLIENT 8

int manager_new(struct manager **ret) {
        struct manager *m;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->use_v4l2 = true;
        m->system_bus = true;
        r = sd_event_default(&m->event);
        if (r >= 0)
                r = mailbox_new(&m->mailbox);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static int on_loop_exit(sd_event_source *s, void *userdata) {
        struct manager *m = userdata;

        /* A Capture waiting to be stored is stored now; its reply comes through the
         * mailbox, so deliver the letters while the bus is still open. */
        while (m->sessions)
                session_release(m->sessions);
        if (m->mailbox)
                mailbox_dispatch(m->mailbox);
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;

        /* Sessions first: they stop the capture threads and release the cameras. */
        while (m->sessions)
                session_release(m->sessions);
        user_contexts_free(m);
        /* Letters posted by threads that are now joined; their callbacks free them. */
        if (m->mailbox)
                mailbox_dispatch(m->mailbox);
        while (m->cameras)
                camera_free(m->cameras);

        m->polkit = polkit_registry_free(m->polkit);
        sd_event_source_disable_unref(m->idle_timer);
        sd_event_source_disable_unref(m->exit_source);
        sd_event_source_disable_unref(m->mailbox_source);
        sd_event_source_disable_unref(m->monitor_source);
        video_monitor_free(m->monitor);
        if (m->bus) {
                sd_bus_flush(m->bus);
                sd_bus_flush_close_unref(m->bus);
        }
        mailbox_free(m->mailbox);
        sd_event_unref(m->event);
        free(m->config);
        free(m->state_dir);
        free(m);
        return NULL;
}

bool manager_capture_active(const struct manager *m) {
        return m->n_running_sessions > 0;
}

void manager_session_running_changed(struct manager *m, bool running) {
        bool was = manager_capture_active(m);

        if (running)
                m->n_running_sessions++;
        else {
                assert(m->n_running_sessions > 0);
                m->n_running_sessions--;
        }
        if (was != manager_capture_active(m)) {
                log_debug("Capture %s", manager_capture_active(m) ? "active" : "idle");
                user_contexts_set_capture_active(m, manager_capture_active(m));
        }
}

struct camera *manager_find_camera(struct manager *m, const char *path) {
        for (struct camera *c = m->cameras; c; c = c->next)
                if (streq(c->path, path))
                        return c;
        return NULL;
}

void manager_emit_cameras_changed(struct manager *m) {
        if (m->bus)
                (void) sd_bus_emit_properties_changed(m->bus, CAMERAD_ROOT_PATH, MANAGER_INTERFACE,
                                                      "Cameras", NULL);
}

/* ---- idle exit ---------------------------------------------------------------------- */

static bool manager_busy(struct manager *m) {
        if (m->sessions)
                return true;
        if (user_contexts_busy(m))
                return true;
        return false;
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        if (manager_busy(m)) {
                manager_note_activity(m);
                return 0;
        }
        log_info("Idle for %llu s; exiting", (unsigned long long) (m->idle_exit_usec / 1000000));
        return sd_event_exit(m->event, 0);
}

void manager_note_activity(struct manager *m) {
        uint64_t now;

        if (!m->idle_timer)
                return;
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(m->idle_timer, now + m->idle_exit_usec);
        (void) sd_event_source_set_enabled(m->idle_timer, SD_EVENT_ONESHOT);
}

/* Every incoming message counts as a client being around. */
static int on_any_message(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        manager_note_activity(userdata);
        return 0;
}

/* ---- Manager object ----------------------------------------------------------------- */

static int property_get_cameras(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct manager *m = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (struct camera *c = m->cameras; c; c = c->next)
                if (camera_device_is_connected(c->device)) {
                        r = sd_bus_message_append(reply, "o", c->path);
                        if (r < 0)
                                return r;
                }
        return sd_bus_message_close_container(reply);
}

static int sender_still_connected(struct manager *m, const char *sender) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int has = 0, r;

        r = sd_bus_call_method(m->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "NameHasOwner", &e, &reply, "s", sender);
        sd_bus_error_free(&e);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has);
        sd_bus_message_unref(reply);
        return r < 0 ? r : has;
}

/* CreateSession and CreateSessionWithOptions after their arguments are read: the mode
 * check, the per-client limit, polkit, then the session. The method name comes from the
 * message, so each call's errors name the method the caller made. */
static int create_session(sd_bus_message *msg, struct manager *m, const char *mode_name,
                          const struct session_options *options, sd_bus_error *error) {
        const char *method = sd_bus_message_get_member(msg), *sender;
        struct session *s;
        uid_t uid;
        int mode, r;

        mode = session_mode_from_string(mode_name);
        if (mode < 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "%s: mode must be 'photo' or 'video'; got '"
                                      BUS_ECHO_FMT "'", method, BUS_ECHO(mode_name));

        sender = sd_bus_message_get_sender(msg);
        if (!sender)
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                      "%s needs a caller with a bus name", method);
        /* Checks of state that may change while polkit answers come after it: a call that
         * returned early on its second dispatch would leave its parked query behind. */
        r = bus_verify_polkit_async(msg, CAMERAD_ACTION_USE_CAMERA, &m->polkit, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked; this call comes back with the answer */

        if (!options->persistent && manager_count_sessions_of(m, sender) >= MAX_SESSIONS_PER_CLIENT)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "%s: %s already holds %u sessions, the most a client may hold",
                                      method, sender, MAX_SESSIONS_PER_CLIENT);

        r = bus_message_get_sender_uid(msg, &uid);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot find the caller's uid");
        if (options->persistent &&
            manager_count_persistent_sessions_of(m, uid) >= MAX_SESSIONS_PER_CLIENT)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "%s: uid %u already holds %u persistent sessions, the most a user may hold",
                                      method, (unsigned) uid, MAX_SESSIONS_PER_CLIENT);

        /* While polkit was asked the caller may have left; a session made now would have
         * no owner to notice its departure, and nobody would learn its path. */
        r = sender_still_connected(m, sender);
        if (r <= 0)
                return r < 0 ? bus_error_set_fatal(error, r, "cannot ask the bus about the caller")
                             : bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                              "%s: %s has left the bus", method, sender);

        r = session_new(m, sender, uid, mode, options, &s);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot create a session");
        return sd_bus_reply_method_return(msg, "o", s->path);
}

static int method_create_session(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const struct session_options options = {};
        const char *mode_name;
        int r;

        r = sd_bus_message_read(msg, "s", &mode_name);
        if (r < 0)
                return r;
        return create_session(msg, userdata, mode_name, &options, error);
}

static int method_create_session_with_options(sd_bus_message *msg, void *userdata,
                                              sd_bus_error *error) {
        uint32_t idle_timeout_sec = SESSION_IDLE_TIMEOUT_DEFAULT_SEC;
        struct session_options options = {};
        const char *mode_name;
        int r;

        r = sd_bus_message_read(msg, "s", &mode_name);
        if (r < 0)
                return r;
        struct bus_dict_key keys[] = {
                { .name = "persist", .type = 'b', .ptr = &options.persistent },
                { .name = "idle-timeout", .type = 'u', .ptr = &idle_timeout_sec },
                { .name = "shared", .type = 'b', .ptr = &options.shared },
        };
        r = bus_read_dict(msg, "options", keys, ELEMENTSOF(keys), error);
        if (r < 0)
                return r;
        if (idle_timeout_sec < SESSION_IDLE_TIMEOUT_MIN_SEC ||
            idle_timeout_sec > SESSION_IDLE_TIMEOUT_MAX_SEC)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "options key 'idle-timeout' must be %u..%u seconds; got %u",
                                      SESSION_IDLE_TIMEOUT_MIN_SEC, SESSION_IDLE_TIMEOUT_MAX_SEC,
                                      idle_timeout_sec);
        /* Silently ignoring it would let a caller believe its session times out. */
        if (keys[1].seen && !options.persistent)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "options key 'idle-timeout' needs 'persist' true");
        options.idle_timeout_usec = (uint64_t) idle_timeout_sec * 1000000u;
        return create_session(msg, userdata, mode_name, &options, error);
}

static const char *version_string = CAMERAD_VERSION;

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", version_string);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Cameras", "ao", property_get_cameras, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("CreateSession", SD_BUS_ARGS("s", mode), SD_BUS_RESULT("o", session),
                                method_create_session, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateSessionWithOptions", SD_BUS_ARGS("s", mode, "a{sv}", options),
                                SD_BUS_RESULT("o", session), method_create_session_with_options,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageProcessSession", SD_BUS_NO_ARGS, SD_BUS_RESULT("o", session),
                                bus_image_process_get, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetVideoProcessSession", SD_BUS_NO_ARGS, SD_BUS_RESULT("o", session),
                                bus_video_process_get, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- cameras ------------------------------------------------------------------------ */

static struct camera *find_camera_by_node(struct manager *m, const char *devnode) {
        for (struct camera *c = m->cameras; c; c = c->next)
                if (streq(camera_device_get_info(c->device)->device_path, devnode))
                        return c;
        return NULL;
}

/* Hot-plug: a /dev/video* node came or went. */
static void on_video_node(struct video_monitor *vm, const char *devnode, bool added, void *userdata) {
        struct manager *m = userdata;
        struct camera_device *dev;
        struct camera *c;
        int r;

        c = find_camera_by_node(m, devnode);
        if (!added) {
                if (c) {
                        camera_sessions_lost(c, "the device was unplugged");
                        camera_remove(c);
                }
                return;
        }
        if (c)
                return;
        r = camera_device_new_v4l2(devnode, NULL, &dev);
        if (r == -ENOTSUP) {
                log_debug("%s is not a video capture device", devnode);
                return;
        }
        if (r < 0) {
                /* Perhaps its permissions are not set yet; IN_ATTRIB brings it back. */
                log_warning_errno(r, "Skipping %s for now: cannot probe it: %m", devnode);
                video_monitor_forget(vm, devnode);
                return;
        }
        r = camera_add(m, dev, NULL);
        if (r < 0)
                log_error_errno(r, "Cannot publish %s: %m", devnode);
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        int r = video_monitor_process(m->monitor);
        if (r < 0)
                log_warning_errno(r, "Watching /dev failed: %m");
        return 0;
}

static int start_v4l2(struct manager *m) {
        int r;

        r = video_monitor_new(NULL, on_video_node, m, &m->monitor);
        if (r < 0)
                return log_error_errno(r, "Cannot watch /dev for cameras: %m");
        r = sd_event_add_io(m->event, &m->monitor_source, video_monitor_fd(m->monitor), EPOLLIN,
                            on_monitor, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch /dev for cameras: %m");
        r = video_monitor_scan(m->monitor);
        if (r < 0)
                return log_error_errno(r, "Cannot list /dev: %m");
        return 0;
}


void manager_rescan_devices(struct manager *m) {
        if (m->monitor)
                (void) video_monitor_scan(m->monitor);
}

static unsigned count_v4l2_cameras(struct manager *m) {
        unsigned n = 0;
        for (struct camera *c = m->cameras; c; c = c->next)
                if (!streq(camera_device_get_info(c->device)->device_path, ""))
                        n++;
        return n;
}

static int add_cameras(struct manager *m, unsigned n_virtual, bool virtual_given) {
        int r;

        if (m->use_v4l2) {
                r = start_v4l2(m);
                if (r < 0)
                        return r;
        }
        if (!virtual_given)
                n_virtual = count_v4l2_cameras(m) == 0 ? 1 : 0;
        for (unsigned i = 0; i < n_virtual; i++) {
                struct camera_device *dev;

                r = camera_device_new_virtual(i, &dev);
                if (r < 0)
                        return log_error_errno(r, "Cannot create virtual camera %u", i);
                r = camera_add(m, dev, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int on_mailbox(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        mailbox_dispatch(m->mailbox);
        return 0;
}

int manager_start(struct manager *m, unsigned n_virtual_cameras, bool virtual_given) {
        int r;

        assert(m->bus);

        r = bus_errors_register();
        if (r < 0)
                return log_error_errno(r, "Cannot register the D-Bus error map");

        r = sd_event_add_io(m->event, &m->mailbox_source, mailbox_fd(m->mailbox), EPOLLIN,
                            on_mailbox, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the mailbox");

        r = sd_bus_add_object_vtable(m->bus, NULL, CAMERAD_ROOT_PATH, MANAGER_INTERFACE,
                                     manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Cannot register the Manager object");
        r = sd_bus_add_object_manager(m->bus, NULL, CAMERAD_ROOT_PATH);
        if (r < 0)
                return log_error_errno(r, "Cannot register the ObjectManager");
        r = sd_bus_add_filter(m->bus, NULL, on_any_message, m);
        if (r < 0)
                return log_error_errno(r, "Cannot add the bus filter");

        r = add_cameras(m, n_virtual_cameras, virtual_given);
        if (r < 0)
                return r;

        r = user_contexts_load(m);
        if (r < 0)
                return log_error_errno(r, "Cannot resume the pending processing work");

        if (m->idle_exit_usec > 0) {
                r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC,
                                               m->idle_exit_usec, 0, on_idle_timer, m);
                if (r < 0)
                        return log_error_errno(r, "Cannot arm the idle timer");
        }

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop");

        /* Runs before sd-bus's own exit handler (NORMAL priority) flushes and closes the
         * bus, so calls that finish while sessions are released still get their replies. */
        r = sd_event_add_exit(m->event, &m->exit_source, on_loop_exit, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->exit_source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the exit handler");

        return 0;
}

int manager_take_name(struct manager *m) {
        return sd_bus_request_name(m->bus, CAMERAD_BUS_NAME, 0);
}
