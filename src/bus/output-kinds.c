/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>

#include "bus/manager.h"
#include "bus/output-engines.h"

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
        case OUTPUT_KIND_PREVIEW:
                return preview_output_vtable;
        case OUTPUT_KIND_PHOTO:
                return photo_output_vtable;
        case OUTPUT_KIND_VIDEO:
                return video_output_vtable;
        default:
                assert(false);
                return NULL;
        }
}

void output_engines_free(struct output *o) {
        switch (o->kind) {
        case OUTPUT_KIND_PREVIEW:
                preview_output_free(o);
                break;
        case OUTPUT_KIND_PHOTO:
                photo_output_free(o);
                break;
        case OUTPUT_KIND_VIDEO:
                video_output_free(o);
                break;
        default:
                assert(false);
        }
}

int output_session_starting(struct output *o) {
        switch (o->kind) {
        case OUTPUT_KIND_PREVIEW:
                return preview_output_starting(o);
        case OUTPUT_KIND_PHOTO:
                return photo_output_starting(o);
        case OUTPUT_KIND_VIDEO:
                return video_output_starting(o);
        default:
                assert(false);
                return -EINVAL;
        }
}

void output_session_stopped(struct output *o) {
        switch (o->kind) {
        case OUTPUT_KIND_PREVIEW:
                preview_output_stopped(o);
                break;
        case OUTPUT_KIND_PHOTO:
                photo_output_stopped(o);
                break;
        case OUTPUT_KIND_VIDEO:
                video_output_stopped(o);
                break;
        default:
                assert(false);
        }
}

void output_push_frame(struct output *o, struct frame *f) {
        switch (o->kind) {
        case OUTPUT_KIND_PREVIEW:
                preview_output_push(o, f);
                break;
        case OUTPUT_KIND_PHOTO:
                photo_output_push(o, f);
                break;
        case OUTPUT_KIND_VIDEO:
                video_output_push(o, f);
                break;
        default:
                assert(false);
        }
}
