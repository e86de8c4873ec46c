/* SPDX-License-Identifier: MIT */
#pragma once

#include "bus/camera.h"

struct session;

/* One capture per camera, shared by every running session that holds it (README "Shared
 * cameras"). The camera streams c->format from the first attach to the last detach; each
 * frame goes, by reference, to the added outputs of every attached session. Loop thread. */

/* s (running from now on, holding c) receives frames. Starts the device when s is the
 * first; a negative errno when it refuses (s is not attached then). */
int camera_capture_attach(struct camera *c, struct session *s);

/* s receives no frame after this returns; the last one out stops the device (joining its
 * thread). No-op when s is not attached. */
void camera_capture_detach(struct camera *c, struct session *s);

/* The camera failed or went away: every running session on it emits Error and goes back
 * to committed (session_camera_lost()), which stops the capture. */
void camera_sessions_lost(struct camera *c, const char *reason);

/* The frame rate a capture of fmt runs at: fmt->max_fps, or the camera's fastest for that
 * format and size when it is 0. */
double camera_capture_rate(const struct camera *c, const struct capture_format *fmt);
