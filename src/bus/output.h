/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "bus/session-state.h"
#include "shared/id.h"

struct session;
struct frame;
struct preview_sink;
struct frame_ring;
struct recorder;
struct photo_wait;
struct photo_job;

/* An output at <session>/output/<k>: org.camerad.Camera1.Output plus the kind's own
 * interface. Created by Session.CreateOutput, freed with its session. */
struct output {
        struct output *next;
        struct session *session;
        unsigned index;
        char *path;
        enum output_kind kind;
        struct output_profile profile;
        bool added;
        sd_bus_slot *slot, *kind_slot;

        /* Engines (capture/); set and cleared under the session's fanout_lock. */
        struct preview_sink *preview;   /* preview: from the first OpenStream on */
        struct frame_ring *ring;        /* photo: while running */
        struct recorder *recorder;      /* video: between StartRecording and StopRecording */
        struct photo_wait *photo_waits; /* photo: Capture calls waiting for a first frame */
        struct photo_job *photo_jobs;   /* photo: bursts being stored by their threads */
        char video_id[IMAGE_ID_LEN + 1];
        bool video_deferred;
};

int output_new(struct session *s, enum output_kind kind, const struct output_profile *p,
               struct output **ret);
/* Emits InterfacesRemoved and frees; the caller unlinks it. */
struct output *output_free(struct output *o);

/* Loop thread, fanout_lock NOT held: the session starts or stops streaming. */
int output_session_starting(struct output *o);
void output_session_stopped(struct output *o);

/* Capture thread, fanout_lock held: one frame for this (added) output. Never blocks. */
void output_push_frame(struct output *o, struct frame *f);
