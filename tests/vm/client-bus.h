/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* The camerad side of the vivid VM test: each function drives the daemon on the system bus
 * through one check of tests/vm/README.md, writes a one-line result into detail and returns
 * 0 when the check passed, a negative errno when it failed. */

/* Waits up to 20 s for a camera whose Id starts with id_prefix; detail = its object path. */
int bus_find_camera(const char *id_prefix, char *detail, size_t size);

/* Camera.Formats holds every discrete size devnode enumerates for the fourccs (a comma list,
 * e.g. "YUYV,NV12"), with the kernel's best frame rate, and no size of those the kernel lacks. */
int bus_check_formats(const char *devnode, const char *camera, const char *fourccs, char *detail,
                      size_t size);

/* Waits up to `seconds` for camera to leave Manager.Cameras and its object to vanish
 * (hot-unplug). */
int bus_wait_camera_gone(const char *camera, double seconds, char *detail, size_t size);

/* A video session with preview (+ video when record_file is set) at fourcc/width x height:
 * reads the preview socket for `seconds` and checks that whole Y4M frames of that size
 * arrive; records to record_file meanwhile. */
int bus_check_session(const char *camera, const char *fourcc, unsigned width, unsigned height,
                      double seconds, const char *record_file, char *detail, size_t size);

/* vivid's percentage_of_dropped_buffers=50: frames keep flowing. Resets the control to 0. */
int bus_check_dropped_buffers(const char *devnode, const char *camera, const char *fourcc,
                              unsigned width, unsigned height, double seconds, char *detail,
                              size_t size);

/* vivid's inject_vidioc_streamon_error: Start fails with ServiceFatal, session stays
 * committed. */
int bus_check_streamon_error(const char *devnode, const char *camera, const char *fourcc,
                             unsigned width, unsigned height, char *detail, size_t size);

/* vivid's disconnect button while streaming: Error(7400201) on the session, the session goes
 * to committed, the camera reports Connected=false, Manager.Version still answers and a
 * session on virtual_camera still delivers frames. */
int bus_check_disconnect(const char *devnode, const char *camera, const char *virtual_camera,
                         const char *fourcc, unsigned width, unsigned height, char *detail,
                         size_t size);
