/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/image-process.h"
#include "bus/manager.h"
#include "bus/process-common.h"
#include "bus/user-context.h"
#include "process/image-processor.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Reads the "s" execution mode argument of m. */
static int read_mode(sd_bus_message *m, enum exec_mode *ret, sd_bus_error *error) {
        enum exec_mode mode;
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        mode = exec_mode_from_string(s);
        if (mode < 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "unknown execution mode '" BUS_ECHO_FMT "'; expected "
                                      "'high-performance', 'balanced' or 'low-power'", BUS_ECHO(s));
        *ret = mode;
        return 0;
}

/* A processor failure as the D-Bus error a client can act on. */
static int image_error(sd_bus_error *error, int r, const char *what, const char *id) {
        switch (r) {
        case -ENOENT:
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ID,
                                      "%s: no image '%s' in this session", what, id ?: "");
        case -EINVAL:
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT, "%s: invalid argument", what);
        case -EPERM:
        case -EBUSY:
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "%s is not allowed now (%s)", what, strerror(-r));
        default:
                return bus_error_set_fatal(error, r, what);
        }
}

static int emit_properties(struct user_context *u, const char *first, ...) {
        /* sd_bus_emit_properties_changed_strv wants a NULL-terminated list. */
        char *names[5] = {};
        va_list ap;
        size_t n = 0;

        if (!u->image_slot)
                return 0;
        va_start(ap, first);
        for (const char *s = first; s && n < ELEMENTSOF(names) - 1; s = va_arg(ap, const char *))
                names[n++] = (char *) s;
        va_end(ap);
        return sd_bus_emit_properties_changed_strv(u->manager->bus, u->image_path,
                                                   CAMERAD_IFACE_IMAGES, names);
}

/* What each object last announced of ExecutionMode and Status. A method and the
 * processor's status event (delivered later through the mailbox) often report the same
 * change, and a call that changes nothing must not emit at all: only a value that differs
 * from the last one announced becomes a PropertiesChanged. Loop thread only. */
struct announced {
        struct announced *next;
        const struct user_context *u;
        enum exec_mode mode;
        enum image_status status;
};

static struct announced *announced_list;

static struct announced **announced_find(const struct user_context *u) {
        struct announced **a;

        for (a = &announced_list; *a; a = &(*a)->next)
                if ((*a)->u == u)
                        break;
        return a;
}

/* Emits ExecutionMode and/or Status where they changed since the last announcement. */
static void announce_changes(struct user_context *u) {
        struct announced *a = *announced_find(u);
        enum exec_mode mode;
        enum image_status status;
        bool mode_changed, status_changed;

        if (!a || !u->image_slot)
                return;
        mode = image_processor_get_mode(u->images);
        status = image_processor_get_status(u->images);
        mode_changed = mode != a->mode;
        status_changed = status != a->status;
        a->mode = mode;
        a->status = status;
        if (mode_changed && status_changed)
                (void) emit_properties(u, "ExecutionMode", "Status", NULL);
        else if (mode_changed)
                (void) emit_properties(u, "ExecutionMode", NULL);
        else if (status_changed)
                (void) emit_properties(u, "Status", NULL);
}

static int method_get_concurrency(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        enum exec_mode mode = EXEC_MODE_BALANCED;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = read_mode(m, &mode, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "i", (int32_t) image_processor_concurrency(u->images, mode));
}

static int method_get_pending_images(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        _cleanup_(process_strv_freep) char **ids = NULL;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = image_processor_list_pending(u->images, &ids);
        if (r < 0)
                return image_error(error, r, "GetPendingImages", NULL);
        return process_reply_strv(m, ids);
}

static int method_set_execution_mode(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        enum exec_mode mode = EXEC_MODE_BALANCED;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = read_mode(m, &mode, error);
        if (r < 0)
                return r;
        r = image_processor_set_mode(u->images, mode);
        if (r < 0)
                return image_error(error, r, "SetExecutionMode", NULL);
        log_debug("uid %u: execution mode %s", (unsigned) u->uid, exec_mode_to_string(mode));
        announce_changes(u);
        manager_note_activity(u->manager);
        return sd_bus_reply_method_return(m, NULL);
}

/* ProcessImage and RemoveImage: an id in, nothing out. */
static int method_image_op(sd_bus_message *m, struct user_context *u, sd_bus_error *error,
                           int (*op)(struct image_processor *, const char *), const char *what) {
        const char *id;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = process_read_id(PROCESS_IMAGE, m, &id, error);
        if (r < 0)
                return r;
        r = op(u->images, id);
        if (r < 0)
                return image_error(error, r, what, id);
        announce_changes(u);
        manager_note_activity(u->manager);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_process_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_image_op(m, userdata, error, image_processor_process, "ProcessImage");
}

static int method_remove_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_image_op(m, userdata, error, image_processor_remove, "RemoveImage");
}

static int method_interrupt(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = image_processor_interrupt(u->images);
        if (r < 0)
                return image_error(error, r, "Interrupt", NULL);
        announce_changes(u);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reset(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = image_processor_reset(u->images);
        if (r < 0)
                return image_error(error, r, "Reset", NULL);
        announce_changes(u);
        manager_note_activity(u->manager);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_open_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        _cleanup_close_ int fd = -1;
        const char *id;
        bool final;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = process_read_id(PROCESS_IMAGE, m, &id, error);
        if (r < 0)
                return r;
        r = image_processor_open_image(u->images, id, &fd, &final);
        if (r < 0)
                return image_error(error, r, "OpenImage", id);
        /* sd-bus duplicates the fd into the reply; ours closes on return. */
        return sd_bus_reply_method_return(m, "hs", fd, final ? "final" : "proxy");
}

static int method_get_image_info(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        struct image_info info;
        const char *id, *err;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = process_read_id(PROCESS_IMAGE, m, &id, error);
        if (r < 0)
                return r;
        r = image_processor_get_info(u->images, id, &info);
        if (r < 0)
                return image_error(error, r, "GetImageInfo", id);

        err = info.last_error >= 0 ? image_error_to_string(info.last_error) : NULL;
        return sd_bus_reply_method_return(
                        m, "a{sv}", 9,
                        "state", "s", image_state_to_string(info.state),
                        "priority", "s", info.requested ? "high" : "normal",
                        "created", "t", info.created_us,
                        "width", "u", (uint32_t) info.width,
                        "height", "u", (uint32_t) info.height,
                        "frames", "u", (uint32_t) info.frames,
                        "quality", "u", (uint32_t) info.quality,
                        "retries", "u", (uint32_t) info.retries,
                        "error", "s", err ?: "");
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;

        if (streq(property, "ExecutionMode"))
                return sd_bus_message_append(reply, "s",
                                             exec_mode_to_string(image_processor_get_mode(u->images)));
        if (streq(property, "Status"))
                return sd_bus_message_append(reply, "s",
                                             image_status_to_string(image_processor_get_status(u->images)));
        if (streq(property, "PendingCount"))
                return sd_bus_message_append(reply, "u", (uint32_t) image_processor_pending_count(u->images));
        if (streq(property, "RunningCount"))
                return sd_bus_message_append(reply, "u", (uint32_t) image_processor_running_count(u->images));
        return -ENOENT;
}

static const sd_bus_vtable image_process_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ExecutionMode", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Status", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PendingCount", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RunningCount", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetConcurrency", SD_BUS_ARGS("s", mode), SD_BUS_RESULT("i", concurrency),
                                method_get_concurrency, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetPendingImages", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", imageIds),
                                method_get_pending_images, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetExecutionMode", SD_BUS_ARGS("s", mode), SD_BUS_NO_RESULT,
                                method_set_execution_mode, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ProcessImage", SD_BUS_ARGS("s", imageId), SD_BUS_NO_RESULT,
                                method_process_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage", SD_BUS_ARGS("s", imageId), SD_BUS_NO_RESULT,
                                method_remove_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Interrupt", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_interrupt, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reset", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_reset, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenImage", SD_BUS_ARGS("s", imageId), SD_BUS_RESULT("h", fd, "s", kind),
                                method_open_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageInfo", SD_BUS_ARGS("s", imageId), SD_BUS_RESULT("a{sv}", info),
                                method_get_image_info, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ProcessDone", SD_BUS_ARGS("s", imageId, "a{sv}", info), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Error", SD_BUS_ARGS("s", imageId, "s", code), 0),
        SD_BUS_SIGNAL_WITH_ARGS("StatusChanged", SD_BUS_ARGS("s", status), 0),
        SD_BUS_VTABLE_END,
};

/* Processor callbacks: on the loop thread, from mailbox_dispatch(). */

static void on_process_done(struct image_processor *p, const char *id,
                            const struct image_done_info *info, void *userdata) {
        struct user_context *u = userdata;

        manager_note_activity(u->manager);
        process_emit_signal(u, PROCESS_IMAGE, id, "ProcessDone", "sa{sv}", id, 5,
                            "width", "u", (uint32_t) info->width,
                            "height", "u", (uint32_t) info->height,
                            "size", "t", info->size,
                            "quality", "u", (uint32_t) info->quality,
                            "frames", "u", (uint32_t) info->frames);
}

static void on_error(struct image_processor *p, const char *id, enum image_error code, void *userdata) {
        struct user_context *u = userdata;

        manager_note_activity(u->manager);
        process_emit_signal(u, PROCESS_IMAGE, id, "Error", "ss", id, image_error_to_string(code));
}

static void on_status_changed(struct image_processor *p, enum image_status status, void *userdata) {
        struct user_context *u = userdata;

        process_emit_signal(u, PROCESS_IMAGE, NULL, "StatusChanged", "s", image_status_to_string(status));
        announce_changes(u);
}

static void on_counts_changed(struct image_processor *p, unsigned pending, unsigned running,
                              void *userdata) {
        struct user_context *u = userdata;

        manager_note_activity(u->manager);
        (void) emit_properties(u, "PendingCount", "RunningCount", NULL);
}

const struct image_processor_callbacks image_process_callbacks = {
        .process_done = on_process_done,
        .error = on_error,
        .status_changed = on_status_changed,
        .counts_changed = on_counts_changed,
};

int image_process_object_add(struct user_context *u) {
        struct announced *a;
        int r;

        a = calloc(1, sizeof *a);
        if (!a)
                return log_error_errno(ENOMEM, "Cannot register the image processing object: %m");
        /* InterfacesAdded (and any Get) shows the values as they are now. */
        *a = (struct announced) {
                .next = announced_list,
                .u = u,
                .mode = image_processor_get_mode(u->images),
                .status = image_processor_get_status(u->images),
        };
        announced_list = a;
        r = process_object_add(u, PROCESS_IMAGE, image_process_vtable);
        if (r < 0) {
                announced_list = a->next;
                free(a);
        }
        return r;
}

void image_process_object_remove(struct user_context *u) {
        struct announced **p = announced_find(u), *a = *p;

        process_object_remove(u, PROCESS_IMAGE);
        if (a) {
                *p = a->next;
                free(a);
        }
}

int bus_image_process_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return process_session_get(m, userdata, PROCESS_IMAGE, error);
}
