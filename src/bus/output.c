/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/session.h"
#include "shared/log.h"
#include "shared/macro.h"

#define OUTPUT_INTERFACE CAMERAD_IFACE_OUTPUT

/* A new kind is a file defining its ops and a line here. */
static const struct output_kind_ops *const output_kinds[_OUTPUT_KIND_MAX] = {
        [OUTPUT_KIND_PREVIEW] = &preview_output_ops,
        [OUTPUT_KIND_PHOTO] = &photo_output_ops,
        [OUTPUT_KIND_VIDEO] = &video_output_ops,
};

static int property_get_kind(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        struct output *o = userdata;
        return sd_bus_message_append(reply, "s", o->ops->name);
}

static int property_get_profile(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct output *o = userdata;
        char cc[5];

        return sd_bus_message_append(reply, "a{sv}", 4,
                                     "format", "s", fourcc_to_string(o->profile.fourcc, cc),
                                     "width", "u", o->profile.width,
                                     "height", "u", o->profile.height,
                                     "fps", "d", o->profile.fps);
}

static const sd_bus_vtable output_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Kind", "s", property_get_kind, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Profile", "a{sv}", property_get_profile, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

int output_new(struct session *s, enum output_kind kind, const struct output_profile *p,
               struct output **ret) {
        struct output *o;
        int r;

        assert(kind >= 0 && kind < _OUTPUT_KIND_MAX && output_kinds[kind]->kind == kind);
        assert(streq(output_kinds[kind]->name, output_kind_to_string(kind)));
        o = calloc(1, sizeof *o);
        if (!o)
                return -ENOMEM;
        o->session = s;
        o->ops = output_kinds[kind];
        o->profile = *p;
        o->index = s->next_output_index++;
        if (asprintf(&o->path, "%s/output/%u", s->path, o->index) < 0) {
                free(o);
                return -ENOMEM;
        }

        r = o->ops->new(o);
        if (r < 0) {
                free(o->path);
                free(o);
                return r;
        }
        r = sd_bus_add_object_vtable(s->manager->bus, &o->slot, o->path, OUTPUT_INTERFACE,
                                     output_vtable, o);
        if (r >= 0)
                r = sd_bus_add_object_vtable(s->manager->bus, &o->kind_slot, o->path,
                                             o->ops->interface, o->ops->vtable, o);
        if (r < 0) {
                o->ops->free(o);
                sd_bus_slot_unref(o->kind_slot);
                sd_bus_slot_unref(o->slot);
                free(o->path);
                free(o);
                return r;
        }

        /* Append under the lock: the capture thread may be walking the list. */
        pthread_mutex_lock(&s->fanout_lock);
        struct output **tail = &s->outputs;
        while (*tail)
                tail = &(*tail)->next;
        *tail = o;
        pthread_mutex_unlock(&s->fanout_lock);

        (void) sd_bus_emit_object_added(s->manager->bus, o->path);
        *ret = o;
        return 0;
}

struct output *output_free(struct output *o) {
        if (!o)
                return NULL;
        o->ops->free(o);
        (void) sd_bus_emit_object_removed(o->session->manager->bus, o->path);
        sd_bus_slot_unref(o->kind_slot);
        sd_bus_slot_unref(o->slot);
        free(o->path);
        free(o);
        return NULL;
}
