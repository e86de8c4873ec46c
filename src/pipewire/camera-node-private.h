/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "pipewire/camera-node.h"
#include "pipewire/camera-session.h"
#include "pipewire/node-formats.h"
#include "pipewire/y4m-reader.h"

/* Shared by camera-node.c (the stream, its formats, errors) and node-capture.c (the
 * camerad session and the frame path). */
struct camera_node {
        struct bridge *bridge;
        char *path, *id, *name, *node_name;
        struct node_format *all_formats; /* every format of the camera */
        size_t n_all;
        struct node_format *formats; /* offered now: all, or those of the capture in use */
        size_t n_formats;
        struct camera_format capture; /* Camera.CaptureFormat; fourcc "" while free */

        struct pw_stream *stream;
        struct spa_hook stream_listener;
        enum pw_stream_state state;
        const struct node_format *negotiated;

        struct camera_session *session; /* while a consumer streams */
        struct y4m_reader *reader;
        sd_event_source *reader_io;
        sd_event_source *rebuild; /* pending re-creation of the stream after an error */

        uint64_t seq, dropped;
};

/* Opens the shared camerad session when a consumer streams a negotiated format. */
void node_start_capture(struct camera_node *n);
/* Closes the session and the preview stream; the node holds no camera after it. */
void node_stop_capture(struct camera_node *n);
/* Ends the consumers' stream with message; the node comes back shortly for new ones. */
void node_fail_stream(struct camera_node *n, const char *message);
