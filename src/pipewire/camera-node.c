/* SPDX-License-Identifier: MIT */
/* A camera's PipeWire node: the driving output stream, the formats it offers, its
 * states, and its re-creation after an error. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <spa/param/video/format-utils.h>
#include <spa/pod/builder.h>

#include "pipewire/camera-node-private.h"
#include "shared/log.h"
#include "shared/macro.h"

/* After an error the stream stays in its error state this long, so its consumers see the
 * error, before the node is published again. */
#define REBUILD_DELAY_USEC (500 * 1000)

char *camera_node_name_for(const char *id) {
        char *name;
        if (asprintf(&name, "camerad.%s", id) < 0)
                return NULL;
        for (char *p = name + strlen("camerad."); *p; p++)
                if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
                    *p != '.' && *p != '-')
                        *p = '_';
        return name;
}

const char *camera_node_path(const struct camera_node *n) {
        return n->path;
}

static uint32_t spa_format_of(enum packed_layout layout) {
        switch (layout) {
        case PACKED_I420:
                return SPA_VIDEO_FORMAT_I420;
        case PACKED_NV12:
                return SPA_VIDEO_FORMAT_NV12;
        case PACKED_YUY2:
                return SPA_VIDEO_FORMAT_YUY2;
        }
        return SPA_VIDEO_FORMAT_UNKNOWN;
}

#define MAX_ENUM_FORMATS 64

/* One fixed format per (layout, size): consumers such as OBS skip size ranges. */
static uint32_t build_enum_formats(struct camera_node *n, struct spa_pod_builder *b,
                                   const struct spa_pod *params[MAX_ENUM_FORMATS]) {
        uint32_t n_params = 0;
        for (size_t i = 0; i < n->n_formats && n_params < MAX_ENUM_FORMATS; i++) {
                const struct node_format *nf = &n->formats[i];
                const struct spa_pod *p = spa_pod_builder_add_object(b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
                        SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
                        SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
                        SPA_FORMAT_VIDEO_format, SPA_POD_Id(spa_format_of(nf->layout)),
                        SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&SPA_RECTANGLE(nf->width, nf->height)),
                        SPA_FORMAT_VIDEO_framerate, SPA_POD_Fraction(&SPA_FRACTION(nf->fps_num, nf->fps_den)));
                if (!p)
                        break; /* builder full: offer what fits */
                params[n_params++] = p;
        }
        return n_params;
}


static int on_rebuild(sd_event_source *s, uint64_t usec, void *userdata);

void node_fail_stream(struct camera_node *n, const char *message) {
        log_warning("%s: %s", n->node_name, message);
        node_stop_capture(n);
        if (n->rebuild || !n->stream)
                return;
        pw_stream_set_error(n->stream, -EIO, "%s", message);
        int r = sd_event_add_time_relative(n->bridge->event, &n->rebuild, CLOCK_MONOTONIC,
                                           REBUILD_DELAY_USEC, 0, on_rebuild, n);
        if (r < 0)
                log_error_errno(r, "%s: cannot schedule the node's return: %m", n->node_name);
}


static bool same_formats(const struct node_format *a, size_t na, const struct node_format *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (a[i].layout != b[i].layout || a[i].width != b[i].width || a[i].height != b[i].height)
                        return false;
        return true;
}

/* While another app runs the camera, a shared session can only join its format and size
 * (else camerad's ConfigConflict), so an idle node offers just what that capture gives;
 * when the camera is free, everything. Changed only while no consumer streams. */
static void update_offer(struct camera_node *n) {
        struct node_format *restricted = NULL;
        size_t n_restricted = 0;

        if (n->session || n->state == PW_STREAM_STATE_STREAMING || n->rebuild || !n->stream)
                return;
        if (n->capture.fourcc[0] &&
            node_formats_build(&n->capture, 1, &restricted, &n_restricted) >= 0 && n_restricted == 0) {
                free(restricted); /* nothing the bridge can give: offer all */
                restricted = NULL;
        }
        const struct node_format *want = restricted ?: n->all_formats;
        size_t n_want = restricted ? n_restricted : n->n_all;
        if (same_formats(want, n_want, n->formats, n->n_formats)) {
                free(restricted);
                return;
        }
        if (n->formats != n->all_formats)
                free(n->formats);
        n->negotiated = NULL;
        n->formats = restricted ?: n->all_formats;
        n->n_formats = n_want;

        uint8_t buffer[8192];
        struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof buffer);
        const struct spa_pod *params[MAX_ENUM_FORMATS];
        uint32_t n_params = build_enum_formats(n, &b, params);
        pw_stream_update_params(n->stream, params, n_params);
        if (restricted)
                log_info("%s: camera runs %s %ux%u for another app; offering only that", n->node_name,
                         n->capture.fourcc, n->capture.width, n->capture.height);
        else
                log_info("%s: camera free; offering all %zu formats", n->node_name, n->n_formats);
}

void camera_node_set_capture_format(struct camera_node *n, const struct camera_format *capture) {
        n->capture = *capture;
        update_offer(n);
}

static void on_state_changed(void *userdata, enum pw_stream_state old, enum pw_stream_state state,
                             const char *error) {
        struct camera_node *n = userdata;

        log_debug("%s: %s -> %s%s%s", n->node_name, pw_stream_state_as_string(old),
                  pw_stream_state_as_string(state), error ? ": " : "", error ?: "");
        n->state = state;
        if (state == PW_STREAM_STATE_STREAMING)
                node_start_capture(n);
        else {
                node_stop_capture(n);
                update_offer(n);
        }
}

static void update_buffer_params(struct camera_node *n) {
        const struct node_format *nf = n->negotiated;
        uint8_t buffer[1024];
        struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof buffer);
        const struct spa_pod *params[2];

        params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
                SPA_PARAM_BUFFERS_buffers, SPA_POD_CHOICE_RANGE_Int(4, 2, 8),
                SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
                SPA_PARAM_BUFFERS_size, SPA_POD_Int((int32_t) packed_frame_size(nf->layout, nf->width, nf->height)),
                SPA_PARAM_BUFFERS_stride, SPA_POD_Int((int32_t) packed_stride(nf->layout, nf->width)),
                SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int(1 << SPA_DATA_MemFd));
        params[1] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
                SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
                SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
        pw_stream_update_params(n->stream, params, 2);
}

static void on_param_changed(void *userdata, uint32_t id, const struct spa_pod *param) {
        struct camera_node *n = userdata;
        struct spa_video_info_raw raw = {};
        uint32_t media_type, media_subtype;
        const struct node_format *nf = NULL;

        if (id != SPA_PARAM_Format)
                return;
        if (param && spa_format_parse(param, &media_type, &media_subtype) >= 0 &&
            media_type == SPA_MEDIA_TYPE_video && media_subtype == SPA_MEDIA_SUBTYPE_raw &&
            spa_format_video_raw_parse(param, &raw) >= 0) {
                for (size_t i = 0; i < n->n_formats && !nf; i++)
                        if (spa_format_of(n->formats[i].layout) == raw.format &&
                            n->formats[i].width == raw.size.width && n->formats[i].height == raw.size.height)
                                nf = &n->formats[i];
        }
        if (nf != n->negotiated)
                node_stop_capture(n); /* a new format needs a new camerad profile */
        n->negotiated = nf;
        if (!nf) {
                if (param)
                        log_warning("%s: consumer asked for a format this node does not offer", n->node_name);
                return;
        }
        log_debug("%s: format %s %ux%u", n->node_name, packed_layout_name(nf->layout), nf->width, nf->height);
        update_buffer_params(n);
        node_start_capture(n);
}

static const struct pw_stream_events stream_events = {
        PW_VERSION_STREAM_EVENTS,
        .state_changed = on_state_changed,
        .param_changed = on_param_changed,
};

static int connect_stream(struct camera_node *n) {
        uint8_t buffer[8192];
        struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buffer, sizeof buffer);
        const struct spa_pod *params[MAX_ENUM_FORMATS];
        uint32_t n_params;
        struct pw_properties *props;

        props = pw_properties_new(PW_KEY_MEDIA_CLASS, "Video/Source",
                                  PW_KEY_MEDIA_ROLE, "Camera",
                                  PW_KEY_MEDIA_TYPE, "Video",
                                  PW_KEY_MEDIA_CATEGORY, "Capture",
                                  PW_KEY_NODE_NAME, n->node_name,
                                  PW_KEY_NODE_DESCRIPTION, n->name,
                                  PW_KEY_NODE_NICK, n->name,
                                  "camerad.id", n->id,
                                  "camerad.path", n->path,
                                  NULL);
        if (!props)
                return -ENOMEM;
        n->stream = pw_stream_new(n->bridge->core, n->node_name, props); /* takes props */
        if (!n->stream)
                return -errno;
        pw_stream_add_listener(n->stream, &n->stream_listener, &stream_events, n);

        n_params = build_enum_formats(n, &b, params);
        n->state = PW_STREAM_STATE_UNCONNECTED;
        return pw_stream_connect(n->stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
                                 PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_MAP_BUFFERS, params, n_params);
}

static void destroy_stream(struct camera_node *n) {
        node_stop_capture(n);
        n->negotiated = NULL;
        if (n->stream) {
                spa_hook_remove(&n->stream_listener);
                pw_stream_destroy(n->stream);
                n->stream = NULL;
        }
}

static int on_rebuild(sd_event_source *s, uint64_t usec, void *userdata) {
        struct camera_node *n = userdata;
        int r;

        n->rebuild = sd_event_source_unref(n->rebuild);
        destroy_stream(n);
        r = connect_stream(n);
        if (r < 0)
                log_error_errno(r, "%s: cannot publish the node again: %m", n->node_name);
        else
                log_info("%s: published again", n->node_name);
        return 0;
}

int camera_node_new(struct bridge *b, const struct camera_info *info, struct camera_node **ret) {
        struct camera_node *n = calloc(1, sizeof *n);
        int r;

        if (!n)
                return -ENOMEM;
        n->bridge = b;
        n->path = strdup(info->path);
        n->id = strdup(info->id);
        n->name = strdup(info->name);
        n->node_name = camera_node_name_for(info->id);
        if (!n->path || !n->id || !n->name || !n->node_name) {
                camera_node_free(n, NULL);
                return -ENOMEM;
        }
        r = node_formats_build(info->formats, info->n_formats, &n->all_formats, &n->n_all);
        if (r >= 0 && n->n_all == 0)
                r = -EOPNOTSUPP;
        n->formats = n->all_formats;
        n->n_formats = n->n_all;
        n->capture = info->capture;
        if (r >= 0)
                r = connect_stream(n);
        if (r >= 0)
                update_offer(n);
        if (r < 0) {
                camera_node_free(n, NULL);
                return r;
        }
        log_info("%s: node for %s (%s) with %zu formats", n->node_name, n->path, n->name, n->n_formats);
        *ret = n;
        return 0;
}

struct camera_node *camera_node_free(struct camera_node *n, const char *why) {
        if (!n)
                return NULL;
        if (why && n->stream && (n->session || n->state == PW_STREAM_STATE_STREAMING)) {
                log_warning("%s: %s", n->node_name, why);
                pw_stream_set_error(n->stream, -ENODEV, "%s", why);
        }
        sd_event_source_unref(n->rebuild);
        destroy_stream(n);
        if (n->formats != n->all_formats)
                free(n->formats);
        free(n->all_formats);
        free(n->path);
        free(n->id);
        free(n->name);
        free(n->node_name);
        free(n);
        return NULL;
}
