/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/image-process.h"
#include "bus/manager.h"
#include "bus/polkit.h"
#include "bus/process-common.h"
#include "bus/user-context.h"
#include "bus/video-process.h"
#include "shared/id.h"
#include "shared/log.h"
#include "shared/macro.h"

static const char *object_path(struct user_context *u, enum process_kind kind) {
        return kind == PROCESS_IMAGE ? u->image_path : u->video_path;
}

static sd_bus_slot **object_slot(struct user_context *u, enum process_kind kind) {
        return kind == PROCESS_IMAGE ? &u->image_slot : &u->video_slot;
}

static const char *object_interface(enum process_kind kind) {
        return kind == PROCESS_IMAGE ? CAMERAD_IFACE_IMAGES : CAMERAD_IFACE_VIDEOS;
}

int process_check_id(enum process_kind kind, const char *id, sd_bus_error *error) {
        if (kind == PROCESS_IMAGE && !image_id_is_valid(id))
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ID,
                                      "'" BUS_ECHO_FMT "' is not an image id (32 lowercase hex digits)",
                                      BUS_ECHO(id));
        if (kind == PROCESS_VIDEO && !video_id_is_valid(id))
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ID,
                                      "'" BUS_ECHO_FMT "' is not a video id (1-64 characters of "
                                      "A-Z a-z 0-9 . _ -)", BUS_ECHO(id));
        return 0;
}

int process_read_id(enum process_kind kind, sd_bus_message *m, const char **ret, sd_bus_error *error) {
        int r;

        r = sd_bus_message_read(m, "s", ret);
        if (r < 0)
                return r;
        return process_check_id(kind, *ret, error);
}

void process_strv_free(char **strv) {
        if (!strv)
                return;
        for (char **s = strv; *s; s++)
                free(*s);
        free(strv);
}

int process_reply_strv(sd_bus_message *m, char **strv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(reply, strv);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

void process_emit_signal(struct user_context *u, enum process_kind kind, const char *id,
                         const char *member, const char *types, ...) {
        va_list ap;
        int r;

        if (!*object_slot(u, kind))
                return;
        va_start(ap, types);
        r = sd_bus_emit_signalv(u->manager->bus, object_path(u, kind), object_interface(kind),
                                member, types, ap);
        va_end(ap);
        if (r < 0)
                log_warning_errno(r, "Cannot emit %s%s%s on %s: %m",
                                  member, id ? " for " : "", id ?: "", object_path(u, kind));
}

int process_object_add(struct user_context *u, enum process_kind kind, const sd_bus_vtable *vtable) {
        const char *path = object_path(u, kind);
        int r;

        assert(u && !*object_slot(u, kind));
        r = sd_bus_add_object_vtable(u->manager->bus, object_slot(u, kind), path,
                                     object_interface(kind), vtable, u);
        if (r < 0)
                return log_error_errno(r, "Cannot register %s: %m", path);
        r = sd_bus_emit_interfaces_added(u->manager->bus, path, object_interface(kind), NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot announce %s: %m", path);
        return 0;
}

void process_object_remove(struct user_context *u, enum process_kind kind) {
        sd_bus_slot **slot = object_slot(u, kind);

        if (!*slot)
                return;
        (void) sd_bus_emit_interfaces_removed(u->manager->bus, object_path(u, kind),
                                              object_interface(kind), NULL);
        *slot = sd_bus_slot_unref(*slot);
}

int process_session_get(sd_bus_message *m, struct manager *manager, enum process_kind kind,
                        sd_bus_error *error) {
        struct user_context *u;
        uid_t uid;
        int r;

        r = bus_message_get_sender_uid(m, &uid);
        if (r < 0)
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED, "The caller's uid cannot be found");
        r = user_context_get(manager, uid, &u);
        if (r < 0)
                return bus_error_set_fatal(error, r, kind == PROCESS_IMAGE ?
                                           "Cannot create the image processing session" :
                                           "Cannot create the video processing session");
        manager_note_activity(manager);
        return sd_bus_reply_method_return(m, "o", object_path(u, kind));
}
