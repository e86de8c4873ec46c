/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

struct manager;
struct user_context;

/* What ImageProcessSession (image-process.c) and VideoProcessSession (video-process.c)
 * do alike: the access rule, id arguments, the pending list, signals, and putting the
 * object of a user_context on and off the bus. */

enum process_kind {
        PROCESS_IMAGE,   /* u->image_path, u->image_slot, IMAGE_PROCESS_INTERFACE */
        PROCESS_VIDEO,   /* u->video_path, u->video_slot, VIDEO_PROCESS_INTERFACE */
};

/* InvalidId unless id is a valid image or video id (the message says what one looks like). */
int process_check_id(enum process_kind kind, const char *id, sd_bus_error *error);
/* Reads the "s" id argument of m and checks it as process_check_id() does. */
int process_read_id(enum process_kind kind, sd_bus_message *m, const char **ret, sd_bus_error *error);

/* Frees a NULL-terminated array of malloc'd strings (the processors' pending lists). */
void process_strv_free(char **strv);
static inline void process_strv_freep(char ***p) {
        process_strv_free(*p);
}
/* Replies to m with the "as" of strv. */
int process_reply_strv(sd_bus_message *m, char **strv);

/* Emits a signal from u's object of kind when it is on the bus; a failure is only logged
 * (id, when not NULL, says which image or video the signal was about). */
void process_emit_signal(struct user_context *u, enum process_kind kind, const char *id,
                         const char *member, const char *types, ...);

/* Registers vtable (userdata u) and announces it (InterfacesAdded). */
int process_object_add(struct user_context *u, enum process_kind kind, const sd_bus_vtable *vtable);
/* InterfacesRemoved and off the bus; harmless when not added. */
void process_object_remove(struct user_context *u, enum process_kind kind);

/* Manager.Get{Image,Video}ProcessSession() → o: the caller's own object, its context
 * created on demand. */
int process_session_get(sd_bus_message *m, struct manager *manager, enum process_kind kind,
                        sd_bus_error *error);
