/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "bus/output.h"

/* The kind-specific side of outputs: preview-output.c, photo-output.c, video-output.c.
 * output.c dispatches to them by kind. */

const char *output_kind_interface(enum output_kind kind);
const sd_bus_vtable *output_kind_vtable(enum output_kind kind);

/* Frees the kind's engines (stops a recording, closes preview streams). */
void output_engines_free(struct output *o);

extern const sd_bus_vtable preview_output_vtable[];
extern const sd_bus_vtable photo_output_vtable[];
extern const sd_bus_vtable video_output_vtable[];

int preview_output_starting(struct output *o);
void preview_output_stopped(struct output *o);
void preview_output_push(struct output *o, struct frame *f);
void preview_output_free(struct output *o);

int photo_output_starting(struct output *o);
void photo_output_stopped(struct output *o);
void photo_output_push(struct output *o, struct frame *f);
void photo_output_free(struct output *o);

int video_output_starting(struct output *o);
void video_output_stopped(struct output *o);
void video_output_push(struct output *o, struct frame *f);
void video_output_free(struct output *o);
