/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/camerad-bus-names.h"
#include "pipewire/camerad-watch.h"
#include "shared/log.h"
#include "shared/macro.h"

struct known_camera {
        struct known_camera *next;
        struct camerad_watch *watch;
        char *path;
        sd_bus_slot *getall; /* pending GetAll; cancelled by unref */
        bool announced;
};

struct camerad_watch {
        sd_bus *bus;
        const struct camerad_watch_ops *ops;
        void *userdata;
        sd_bus_slot *owner_match, *props_match, *camera_props_match, *get_cameras;
        struct known_camera *cameras;
};

static void known_camera_free(struct known_camera *c) {
        sd_bus_slot_unref(c->getall);
        free(c->path);
        free(c);
}

static void forget_camera(struct camerad_watch *w, struct known_camera **link) {
        struct known_camera *c = *link;
        *link = c->next;
        if (c->announced) {
                log_info("camera %s gone", c->path);
                w->ops->camera_removed(w->userdata, c->path);
        }
        known_camera_free(c);
}

static void forget_all(struct camerad_watch *w) {
        while (w->cameras)
                forget_camera(w, &w->cameras);
}

/* A "(suud)" CaptureFormat inside its variant. */
static int read_capture_format(sd_bus_message *m, struct camera_format *ret) {
        const char *fourcc;
        uint32_t width, height;
        double fps;
        int r = sd_bus_message_read(m, "v", "(suud)", &fourcc, &width, &height, &fps);
        if (r < 0)
                return r;
        *ret = (struct camera_format) { .width = width, .height = height, .fps = fps };
        snprintf(ret->fourcc, sizeof ret->fourcc, "%s", fourcc);
        return 0;
}

/* The reply of Camera GetAll: Id, Name, Formats (a(suud)) and CaptureFormat. */
static int parse_camera(sd_bus_message *m, struct known_camera *c) {
        struct camera_format capture = {};
        const char *id = NULL, *name = NULL;
        struct camera_format *formats = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        break;
                if (streq(key, "Id") || streq(key, "Name"))
                        r = sd_bus_message_read(m, "v", "s", streq(key, "Id") ? &id : &name);
                else if (streq(key, "CaptureFormat"))
                        r = read_capture_format(m, &capture);
                else if (streq(key, "Formats")) {
                        r = sd_bus_message_enter_container(m, 'v', "a(suud)");
                        if (r >= 0)
                                r = sd_bus_message_enter_container(m, 'a', "(suud)");
                        const char *fourcc;
                        uint32_t width, height;
                        double fps;
                        while (r >= 0 && (r = sd_bus_message_read(m, "(suud)", &fourcc, &width, &height, &fps)) > 0) {
                                struct camera_format *f = reallocarray(formats, n + 1, sizeof *formats);
                                if (!f) {
                                        r = -ENOMEM;
                                        break;
                                }
                                formats = f;
                                formats[n] = (struct camera_format) { .width = width, .height = height, .fps = fps };
                                snprintf(formats[n].fourcc, sizeof formats[n].fourcc, "%s", fourcc);
                                n++;
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0 && (!id || !name))
                r = -EBADMSG;
        if (r >= 0) {
                log_info("camera %s: %s (%s), %zu formats", c->path, id, name, n);
                struct camera_info info = {
                        .path = c->path, .id = id, .name = name, .formats = formats, .n_formats = n,
                        .capture = capture,
                };
                c->announced = true;
                c->watch->ops->camera_added(c->watch->userdata, &info);
        }
        free(formats);
        return r;
}

static int on_camera_getall(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct known_camera *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        c->getall = sd_bus_slot_unref(c->getall);
        if (e) {
                log_warning("camera %s: cannot read its properties: %s", c->path, e->message);
                return 0;
        }
        int r = parse_camera(m, c);
        if (r < 0)
                log_warning_errno(r, "camera %s: unexpected properties: %m", c->path);
        return 0;
}

/* Calls that must not start camerad by D-Bus activation: the bridge follows camerad's
 * presence, it does not cause it. */
static int call_no_autostart(struct camerad_watch *w, const char *path, const char *member,
                             sd_bus_slot **slot, sd_bus_message_handler_t cb, void *userdata,
                             const char *iface_arg, const char *prop_arg) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(w->bus, &m, CAMERAD_BUS_NAME, path,
                                           "org.freedesktop.DBus.Properties", member);
        if (r >= 0)
                r = sd_bus_message_set_auto_start(m, false);
        if (r >= 0)
                r = prop_arg ? sd_bus_message_append(m, "ss", iface_arg, prop_arg)
                             : sd_bus_message_append(m, "s", iface_arg);
        if (r >= 0)
                r = sd_bus_call_async(w->bus, slot, m, cb, userdata, 0);
        return r;
}

static void track_camera(struct camerad_watch *w, const char *path) {
        struct known_camera *c = calloc(1, sizeof *c);
        if (!c || !(c->path = strdup(path))) {
                free(c);
                log_error("out of memory");
                return;
        }
        c->watch = w;
        c->next = w->cameras;
        w->cameras = c;
        int r = call_no_autostart(w, path, "GetAll", &c->getall, on_camera_getall, c,
                                  CAMERAD_IFACE_CAMERA, NULL);
        if (r < 0)
                log_warning_errno(r, "camera %s: cannot ask for its properties: %m", path);
}

/* Makes the known cameras the list in m (an "ao" at the read position). */
static int sync_cameras(struct camerad_watch *w, sd_bus_message *m) {
        char **paths = NULL;
        int r = sd_bus_message_read_strv(m, &paths);
        if (r < 0)
                return r;

        for (struct known_camera **link = &w->cameras; *link;) {
                bool listed = false;
                for (char **p = paths; p && *p; p++)
                        listed = listed || streq(*p, (*link)->path);
                if (listed)
                        link = &(*link)->next;
                else
                        forget_camera(w, link);
        }
        for (char **p = paths; p && *p; p++) {
                bool known = false;
                for (struct known_camera *c = w->cameras; c; c = c->next)
                        known = known || streq(c->path, *p);
                if (!known)
                        track_camera(w, *p);
        }
        for (char **p = paths; p && *p; p++)
                free(*p);
        free(paths);
        return 0;
}

static int on_cameras_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct camerad_watch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        w->get_cameras = sd_bus_slot_unref(w->get_cameras);
        if (e) {
                /* Not running: NameOwnerChanged tells when it is. */
                log_debug("camerad not reachable: %s", e->message);
                return 0;
        }
        r = sd_bus_message_enter_container(m, 'v', "ao");
        if (r >= 0)
                r = sync_cameras(w, m);
        if (r < 0)
                log_warning_errno(r, "unexpected Manager.Cameras: %m");
        return 0;
}

static void query_cameras(struct camerad_watch *w) {
        w->get_cameras = sd_bus_slot_unref(w->get_cameras);
        int r = call_no_autostart(w, CAMERAD_ROOT_PATH, "Get", &w->get_cameras, on_cameras_reply, w,
                                  CAMERAD_IFACE_MANAGER, "Cameras");
        if (r < 0)
                log_warning_errno(r, "cannot ask camerad for its cameras: %m");
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct camerad_watch *w = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, CAMERAD_BUS_NAME))
                return 0;
        if (*old_owner) {
                log_info("camerad left the bus");
                w->get_cameras = sd_bus_slot_unref(w->get_cameras);
                forget_all(w);
        }
        if (*new_owner) {
                log_info("camerad is on the bus as %s", new_owner);
                query_cameras(w);
        }
        return 0;
}

/* Camera PropertiesChanged: CaptureFormat of a camera already announced. */
static int on_camera_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct camerad_watch *w = userdata;
        const char *path = sd_bus_message_get_path(m), *iface;
        struct known_camera *c = NULL;
        int r;

        for (struct known_camera *k = w->cameras; k && !c; k = k->next)
                if (path && streq(k->path, path) && k->announced)
                        c = k;
        if (!c || sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, CAMERAD_IFACE_CAMERA))
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && streq(key, "CaptureFormat")) {
                        struct camera_format capture;
                        r = read_capture_format(m, &capture);
                        if (r >= 0)
                                w->ops->capture_format_changed(w->userdata, c->path, &capture);
                } else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0)
                log_warning_errno(r, "unexpected Camera PropertiesChanged: %m");
        return 0;
}

static int on_manager_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct camerad_watch *w = userdata;
        const char *iface;
        int r;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0 || !streq(iface, CAMERAD_IFACE_MANAGER))
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && streq(key, "Cameras")) {
                        r = sd_bus_message_enter_container(m, 'v', "ao");
                        if (r >= 0)
                                r = sync_cameras(w, m);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        char **invalidated = NULL;
        if (r >= 0 && sd_bus_message_read_strv(m, &invalidated) >= 0) {
                for (char **p = invalidated; p && *p; p++) {
                        if (streq(*p, "Cameras"))
                                query_cameras(w);
                        free(*p);
                }
                free(invalidated);
        }
        if (r < 0)
                log_warning_errno(r, "unexpected Manager PropertiesChanged: %m");
        return 0;
}

int camerad_watch_new(sd_bus *bus, const struct camerad_watch_ops *ops, void *userdata,
                      struct camerad_watch **ret) {
        struct camerad_watch *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->bus = sd_bus_ref(bus);
        w->ops = ops;
        w->userdata = userdata;

        r = sd_bus_match_signal(bus, &w->owner_match, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, &w->props_match, CAMERAD_BUS_NAME, CAMERAD_ROOT_PATH,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        on_manager_properties, w);
        /* Any path: the cameras' own PropertiesChanged, filtered in the handler. */
        if (r >= 0)
                r = sd_bus_match_signal(bus, &w->camera_props_match, CAMERAD_BUS_NAME, NULL,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        on_camera_properties, w);
        if (r < 0) {
                camerad_watch_free(w);
                return r;
        }
        /* After the matches: a camerad starting in between is seen by one or the other. */
        query_cameras(w);
        *ret = w;
        return 0;
}

struct camerad_watch *camerad_watch_free(struct camerad_watch *w) {
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->owner_match);
        sd_bus_slot_unref(w->props_match);
        sd_bus_slot_unref(w->camera_props_match);
        sd_bus_slot_unref(w->get_cameras);
        while (w->cameras) {
                struct known_camera *c = w->cameras;
                w->cameras = c->next;
                known_camera_free(c);
        }
        sd_bus_unref(w->bus);
        free(w);
        return NULL;
}
