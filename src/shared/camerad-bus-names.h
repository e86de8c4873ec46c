/* SPDX-License-Identifier: MIT */
#pragma once

/* The names and paths of the D-Bus contract (the dbus/ folder), one copy for the daemon
 * (src/bus/) and camctl (src/camctl/). */

#define CAMERAD_BUS_NAME "org.camerad.Camera1"
#define CAMERAD_ROOT_PATH "/org/camerad/Camera1"

/* Objects below the root: <prefix><n> (cameras, sessions) or <prefix><uid>. */
#define CAMERAD_CAMERA_PATH_PREFIX CAMERAD_ROOT_PATH "/camera/"
#define CAMERAD_SESSION_PATH_PREFIX CAMERAD_ROOT_PATH "/session/"
#define CAMERAD_IMAGE_PROCESS_PATH_PREFIX CAMERAD_ROOT_PATH "/image_process/"
#define CAMERAD_VIDEO_PROCESS_PATH_PREFIX CAMERAD_ROOT_PATH "/video_process/"

#define CAMERAD_INTERFACE_PREFIX CAMERAD_BUS_NAME "."
#define CAMERAD_IFACE_MANAGER CAMERAD_INTERFACE_PREFIX "Manager"
#define CAMERAD_IFACE_CAMERA CAMERAD_INTERFACE_PREFIX "Camera"
#define CAMERAD_IFACE_SESSION CAMERAD_INTERFACE_PREFIX "Session"
#define CAMERAD_IFACE_OUTPUT CAMERAD_INTERFACE_PREFIX "Output"
#define CAMERAD_IFACE_PREVIEW CAMERAD_INTERFACE_PREFIX "PreviewOutput"
#define CAMERAD_IFACE_PHOTO CAMERAD_INTERFACE_PREFIX "PhotoOutput"
#define CAMERAD_IFACE_VIDEO CAMERAD_INTERFACE_PREFIX "VideoOutput"
#define CAMERAD_IFACE_IMAGES CAMERAD_INTERFACE_PREFIX "ImageProcessSession"
#define CAMERAD_IFACE_VIDEOS CAMERAD_INTERFACE_PREFIX "VideoProcessSession"

/* Error names: CAMERAD_ERROR_PREFIX "Conflict" etc. (bus/bus-errors.c has the table). */
#define CAMERAD_ERROR_PREFIX CAMERAD_INTERFACE_PREFIX "Error."
#define CAMERAD_ERROR_NAME_INVALID_ID CAMERAD_ERROR_PREFIX "InvalidId"

/* Polkit actions (polkit/org.camerad.Camera1.policy). */
#define CAMERAD_ACTION_USE_CAMERA CAMERAD_BUS_NAME ".use-camera"
#define CAMERAD_ACTION_MANAGE CAMERAD_BUS_NAME ".manage"
