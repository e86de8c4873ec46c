/* SPDX-License-Identifier: MIT */
#pragma once

/* camerad's bus names (dbus/org.camerad.Camera1.*.xml). */
#define CAMERAD_SERVICE "org.camerad.Camera1"
#define CAMERAD_ROOT "/org/camerad/Camera1"
#define CAMERAD_MANAGER_IFACE "org.camerad.Camera1.Manager"
#define CAMERAD_CAMERA_IFACE "org.camerad.Camera1.Camera"
#define CAMERAD_SESSION_IFACE "org.camerad.Camera1.Session"
#define CAMERAD_PREVIEW_IFACE "org.camerad.Camera1.PreviewOutput"
