/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

struct camera;
struct session;

/* Camera controls on the bus (dbus/org.camerad.Camera1.Camera.xml, ...Session.xml):
 * Camera.Controls, Session.SetControls and Session.GetControls. Loop thread. The device's
 * control ioctls are quick (no frame waits), so they run on the loop thread; a camera not
 * streaming has its node opened for the call. */

/* Camera.Controls (a{sa{sv}}) getter. A camera whose controls cannot be read (unplugged
 * a moment ago) shows none rather than failing GetAll. */
int camera_property_get_controls(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error);

/* Called once from camera_add(): changes the device reports (V4L2 control events while
 * it streams) become PropertiesChanged of Camera.Controls. */
void camera_controls_init(struct camera *c);

/* Emits PropertiesChanged for Camera.Controls (no-op for a camera off the bus). */
void camera_emit_controls_changed(struct camera *c);

/* The one place that decides who may set controls: committed or running sessions that
 * are not shared (OperationNotAllowed otherwise) on a camera still there (ServiceFatal). */
int session_may_set_controls(struct session *s, sd_bus_error *error);

int session_method_set_controls(sd_bus_message *m, void *userdata, sd_bus_error *error);
int session_method_get_controls(sd_bus_message *m, void *userdata, sd_bus_error *error);
