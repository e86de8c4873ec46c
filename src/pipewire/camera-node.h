/* SPDX-License-Identifier: MIT */
#pragma once

#include "pipewire/bridge.h"
#include "pipewire/camerad-watch.h"

/* One PipeWire node (a driving output pw_stream) for one camerad camera. While a consumer
 * streams from it, it holds a shared camerad session whose preview frames it copies into
 * the stream's MemFd buffers; otherwise it holds nothing. Errors end the consumer's stream
 * with a message and the node is published anew for the next one. */

struct camera_node;

int camera_node_new(struct bridge *b, const struct camera_info *info, struct camera_node **ret);
const char *camera_node_path(const struct camera_node *n);
/* Camera.CaptureFormat changed: while idle, the node offers only what can join it. */
void camera_node_set_capture_format(struct camera_node *n, const struct camera_format *capture);
/* Ends a running stream with why (camera unplugged, camerad gone) and frees the node. */
struct camera_node *camera_node_free(struct camera_node *n, const char *why);

/* The PipeWire node name of a camera id: "camerad." with ':' as '_' (virtual:0 →
 * camerad.virtual_0). The caller frees it. */
char *camera_node_name_for(const char *id);
