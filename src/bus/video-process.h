/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "process/video-processor.h"

struct user_context;

/* The VideoProcessSession object of one uid (dbus/org.camerad.Camera1.VideoProcessSession.xml), at u->video_path, over u->videos.
 * Signals come from the processor's callbacks (userdata: the user_context). */
extern const struct video_processor_callbacks video_process_callbacks;

int video_process_object_add(struct user_context *u);
void video_process_object_remove(struct user_context *u);

/* Manager.GetVideoProcessSession() → o. userdata is the struct manager. */
int bus_video_process_get(sd_bus_message *m, void *userdata, sd_bus_error *error);
