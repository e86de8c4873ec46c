/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/camera-capture.h"
#include "bus/manager.h"
#include "bus/session.h"
#include "bus/session-state.h"
#include "shared/log.h"
#include "shared/macro.h"

#define CAMERA_INTERFACE CAMERAD_INTERFACE_PREFIX "Camera"

static int property_get_info_string(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        struct camera *c = userdata;
        const struct camera_device_info *info = camera_device_get_info(c->device);
        const char *v = NULL;

        if (streq(property, "Id"))
                v = info->id;
        else if (streq(property, "Name"))
                v = info->name;
        else if (streq(property, "Driver"))
                v = info->driver;
        else if (streq(property, "DevicePath"))
                v = info->device_path;
        return sd_bus_message_append(reply, "s", v ?: "");
}

static int property_get_connected(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        struct camera *c = userdata;
        return sd_bus_message_append(reply, "b", camera_device_is_connected(c->device));
}

static int property_get_in_use(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        struct camera *c = userdata;
        return sd_bus_message_append(reply, "b", camera_in_use(c));
}

static int property_get_formats(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct camera *c = userdata;
        const struct camera_device_info *info = camera_device_get_info(c->device);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(suud)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < info->n_formats; i++) {
                char cc[5];
                r = sd_bus_message_append(reply, "(suud)",
                                          fourcc_to_string(info->formats[i].fourcc, cc),
                                          info->formats[i].width, info->formats[i].height,
                                          info->formats[i].max_fps);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* The format in use while a session holds the camera; ("", 0, 0, 0) when free. */
static int property_get_capture_format(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
        struct camera *c = userdata;
        char cc[5];

        if (!camera_in_use(c))
                return sd_bus_message_append(reply, "(suud)", "", 0, 0, 0.0);
        return sd_bus_message_append(reply, "(suud)", fourcc_to_string(c->format.fourcc, cc),
                                     c->format.width, c->format.height,
                                     camera_capture_rate(c, &c->format));
}

const sd_bus_vtable camera_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", property_get_info_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", property_get_info_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Driver", "s", property_get_info_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DevicePath", "s", property_get_info_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Connected", "b", property_get_connected, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("InUse", "b", property_get_in_use, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Formats", "a(suud)", property_get_formats, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CaptureFormat", "(suud)", property_get_capture_format, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

bool camera_in_use(const struct camera *c) {
        return c->holders != NULL;
}

int camera_add(struct manager *m, struct camera_device *device, struct camera **ret) {
        struct camera *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c) {
                camera_device_free(device);
                return -ENOMEM;
        }
        pthread_mutex_init(&c->attach_lock, NULL);
        c->manager = m;
        c->device = device;
        c->index = m->next_camera_index++;
        c->connected = camera_device_is_connected(device);
        if (asprintf(&c->path, CAMERAD_ROOT_PATH "/camera/%u", c->index) < 0) {
                c->path = NULL;
                camera_free(c);
                return -ENOMEM;
        }

        r = sd_bus_add_object_vtable(m->bus, &c->slot, c->path, CAMERA_INTERFACE, camera_vtable, c);
        if (r < 0) {
                camera_free(c);
                return r;
        }

        /* Append: Cameras lists them in the order they appeared. */
        struct camera **tail = &m->cameras;
        while (*tail)
                tail = &(*tail)->next;
        *tail = c;

        (void) sd_bus_emit_object_added(m->bus, c->path);
        manager_emit_cameras_changed(m);
        log_info("Camera %s (%s) at %s", camera_device_get_info(device)->id,
                 camera_device_get_info(device)->name, c->path);
        if (ret)
                *ret = c;
        return 0;
}

static void camera_unlink(struct camera *c) {
        for (struct camera **p = &c->manager->cameras; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        c->next = NULL;
                        return;
                }
}

struct camera *camera_free(struct camera *c) {
        if (!c)
                return NULL;
        assert(!c->streaming && !c->attached);
        if (!c->removed && c->manager)
                camera_unlink(c);
        pthread_mutex_destroy(&c->attach_lock);
        sd_bus_slot_unref(c->slot);
        camera_device_free(c->device);
        free(c->path);
        free(c);
        return NULL;
}

void camera_remove(struct camera *c) {
        if (c->removed)
                return;
        log_info("Camera %s at %s is gone", camera_device_get_info(c->device)->id, c->path);
        (void) sd_bus_emit_object_removed(c->manager->bus, c->path);
        c->slot = sd_bus_slot_unref(c->slot);
        camera_unlink(c);
        c->removed = true;
        manager_emit_cameras_changed(c->manager);
        if (c->n_users == 0)
                camera_free(c);
}

void camera_use(struct camera *c) {
        c->n_users++;
}

void camera_unuse(struct camera *c) {
        assert(c->n_users > 0);
        if (--c->n_users == 0 && c->removed)
                camera_free(c);
}

static void camera_emit(struct camera *c, bool in_use, bool format) {
        if (c->removed || (!in_use && !format))
                return;
        if (in_use)
                (void) sd_bus_emit_properties_changed(c->manager->bus, c->path, CAMERA_INTERFACE,
                                                      "InUse", "CaptureFormat", NULL);
        else
                (void) sd_bus_emit_properties_changed(c->manager->bus, c->path, CAMERA_INTERFACE,
                                                      "CaptureFormat", NULL);
}

static bool capture_format_equal(const struct capture_format *a, const struct capture_format *b) {
        return a->fourcc == b->fourcc && a->width == b->width && a->height == b->height &&
               a->max_fps == b->max_fps;
}

struct session *camera_holder(const struct camera *c) {
        return c->holders;
}

bool camera_held_by(const struct camera *c, const struct session *s) {
        for (const struct session *i = c->holders; i; i = i->hold_next)
                if (i == s)
                        return true;
        return false;
}

void camera_hold(struct camera *c, struct session *s, const struct capture_format *fmt) {
        bool was = camera_in_use(c);
        struct session **tail = &c->holders;

        if (!camera_held_by(c, s)) {
                while (*tail)
                        tail = &(*tail)->hold_next;
                s->hold_next = NULL;
                *tail = s;
        }
        /* Alone, it may set the format (again); with others the format stays. */
        bool format_changed = false;
        if (c->holders == s && !s->hold_next) {
                format_changed = !capture_format_equal(&c->format, fmt);
                c->format = *fmt;
        }
        camera_emit(c, !was, format_changed);
}

void camera_unhold(struct camera *c, struct session *s) {
        for (struct session **p = &c->holders; *p; p = &(*p)->hold_next)
                if (*p == s) {
                        *p = s->hold_next;
                        s->hold_next = NULL;
                        if (!camera_in_use(c)) {
                                c->format = (struct capture_format) {};
                                camera_emit(c, true, true);
                        }
                        return;
                }
}

void camera_update_connected(struct camera *c) {
        bool now = camera_device_is_connected(c->device);

        if (now == c->connected)
                return;
        c->connected = now;
        if (!c->removed)
                (void) sd_bus_emit_properties_changed(c->manager->bus, c->path, CAMERA_INTERFACE,
                                                      "Connected", NULL);
        manager_emit_cameras_changed(c->manager);
}
