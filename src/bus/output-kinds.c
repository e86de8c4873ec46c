/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>

#include "bus/manager.h"
#include "bus/output-engines.h"

/* Each kind is built when capture/ provides its engine (see meson.build); an output of a
 * kind whose engine is not built carries only org.camerad.Camera1.Output. */
#ifndef HAVE_PREVIEW_OUTPUT
#define HAVE_PREVIEW_OUTPUT 0
#endif
#ifndef HAVE_PHOTO_OUTPUT
#define HAVE_PHOTO_OUTPUT 0
#endif
#ifndef HAVE_VIDEO_OUTPUT
#define HAVE_VIDEO_OUTPUT 0
#endif

const char *output_kind_interface(enum output_kind kind) {
        switch (kind) {
        case OUTPUT_KIND_PREVIEW:
                return CAMERAD_INTERFACE_PREFIX "PreviewOutput";
        case OUTPUT_KIND_PHOTO:
                return CAMERAD_INTERFACE_PREFIX "PhotoOutput";
        case OUTPUT_KIND_VIDEO:
                return CAMERAD_INTERFACE_PREFIX "VideoOutput";
        default:
                assert(false);
                return NULL;
        }
}

const sd_bus_vtable *output_kind_vtable(enum output_kind kind) {
        switch (kind) {
#if HAVE_PREVIEW_OUTPUT
        case OUTPUT_KIND_PREVIEW:
                return preview_output_vtable;
#endif
#if HAVE_PHOTO_OUTPUT
        case OUTPUT_KIND_PHOTO:
                return photo_output_vtable;
#endif
#if HAVE_VIDEO_OUTPUT
        case OUTPUT_KIND_VIDEO:
                return video_output_vtable;
#endif
        default:
                return NULL;
        }
}

void output_engines_free(struct output *o) {
        switch (o->kind) {
#if HAVE_PREVIEW_OUTPUT
        case OUTPUT_KIND_PREVIEW:
                preview_output_free(o);
                break;
#endif
#if HAVE_PHOTO_OUTPUT
        case OUTPUT_KIND_PHOTO:
                photo_output_free(o);
                break;
#endif
#if HAVE_VIDEO_OUTPUT
        case OUTPUT_KIND_VIDEO:
                video_output_free(o);
                break;
#endif
        default:
                break;
        }
}

int output_session_starting(struct output *o) {
        switch (o->kind) {
#if HAVE_PREVIEW_OUTPUT
        case OUTPUT_KIND_PREVIEW:
                return preview_output_starting(o);
#endif
#if HAVE_PHOTO_OUTPUT
        case OUTPUT_KIND_PHOTO:
                return photo_output_starting(o);
#endif
#if HAVE_VIDEO_OUTPUT
        case OUTPUT_KIND_VIDEO:
                return video_output_starting(o);
#endif
        default:
                return 0;
        }
}

void output_session_stopped(struct output *o) {
        switch (o->kind) {
#if HAVE_PREVIEW_OUTPUT
        case OUTPUT_KIND_PREVIEW:
                preview_output_stopped(o);
                break;
#endif
#if HAVE_PHOTO_OUTPUT
        case OUTPUT_KIND_PHOTO:
                photo_output_stopped(o);
                break;
#endif
#if HAVE_VIDEO_OUTPUT
        case OUTPUT_KIND_VIDEO:
                video_output_stopped(o);
                break;
#endif
        default:
                break;
        }
}

void output_push_frame(struct output *o, struct frame *f) {
        switch (o->kind) {
#if HAVE_PREVIEW_OUTPUT
        case OUTPUT_KIND_PREVIEW:
                preview_output_push(o, f);
                break;
#endif
#if HAVE_PHOTO_OUTPUT
        case OUTPUT_KIND_PHOTO:
                photo_output_push(o, f);
                break;
#endif
#if HAVE_VIDEO_OUTPUT
        case OUTPUT_KIND_VIDEO:
                video_output_push(o, f);
                break;
#endif
        default:
                break;
        }
}
