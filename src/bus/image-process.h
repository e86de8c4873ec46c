/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "process/image-processor.h"

struct user_context;

/* The ImageProcessSession object of one uid (dbus/org.camerad.Camera1.ImageProcessSession.xml), at u->image_path, over u->images.
 * Its signals come from the processor's callbacks below (run on the loop thread by the
 * mailbox), whose userdata is the user_context. */
extern const struct image_processor_callbacks image_process_callbacks;

/* Registers the object and announces it (InterfacesAdded). */
int image_process_object_add(struct user_context *u);
/* InterfacesRemoved and off the bus; harmless when not added. */
void image_process_object_remove(struct user_context *u);

/* Manager.GetImageProcessSession() → o: the caller's own session, created on demand.
 * userdata is the struct manager. */
int bus_image_process_get(sd_bus_message *m, void *userdata, sd_bus_error *error);
