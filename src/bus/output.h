/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "bus/session-state.h"
#include "capture/camera-device.h"

struct session;
struct frame;
struct output;

/* What makes an output a preview, a photo or a video output: its D-Bus interface and its
 * engine. One file per kind (preview-output.c, photo-output.c, video-output.c) defines one
 * of these; output.c lists them by kind. The engine's state is the kind's own, behind
 * o->kind_data. */
struct output_kind_ops {
        enum output_kind kind;
        const char *name;             /* Output.Kind: "preview", "photo", "video" */
        const char *interface;        /* the kind's own interface at the output's path */
        const sd_bus_vtable *vtable;  /* its userdata is the struct output */
        bool needs_pixels;            /* takes decoded pixels (not a camera's compressed frames) */

        /* Loop thread. new() sets o->kind_data (profile and session are set); free() stops
         * the engine (a recording, preview streams, photos being stored) and frees it. */
        int (*new)(struct output *o);
        void (*free)(struct output *o);
        /* Loop thread, fanout_lock NOT held: the session starts or stops streaming. */
        int (*starting)(struct output *o);
        void (*stopped)(struct output *o);
        /* Capture thread, fanout_lock held: one frame for this (added) output. Never blocks. */
        void (*push)(struct output *o, struct frame *f);
};

extern const struct output_kind_ops preview_output_ops;
extern const struct output_kind_ops photo_output_ops;
extern const struct output_kind_ops video_output_ops;

/* An output at <session>/output/<k>: org.camerad.Camera1.Output plus the kind's own
 * interface. Created by Session.CreateOutput, freed with its session. */
struct output {
        struct output *next;
        struct session *session;
        unsigned index;
        char *path;
        const struct output_kind_ops *ops;
        struct output_profile profile;
        bool added;
        sd_bus_slot *slot, *kind_slot;

        /* The kind's engine (ops->new); what it shares with the capture thread it sets and
         * clears under the session's fanout_lock. */
        void *kind_data;
};

int output_new(struct session *s, enum output_kind kind, const struct output_profile *p,
               struct output **ret);
/* Emits InterfacesRemoved and frees; the caller unlinks it. */
struct output *output_free(struct output *o);

/* Loop thread, fanout_lock NOT held: the session starts or stops streaming. */
static inline int output_session_starting(struct output *o) {
        return o->ops->starting(o);
}
static inline void output_session_stopped(struct output *o) {
        o->ops->stopped(o);
}

/* Capture or decode thread, fanout_lock held: one frame for this (added) output, if it is
 * the output's kind of frame (an MJPEG camera's frame comes as it is and decoded). Never
 * blocks. */
static inline void output_push_frame(struct output *o, struct frame *f) {
        if (camera_frame_is_for(f, o->ops->needs_pixels))
                o->ops->push(o, f);
}
