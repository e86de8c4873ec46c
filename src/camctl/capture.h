/* SPDX-License-Identifier: MIT */
#pragma once

/* A capture session set up for one output, the way photo, preview and record need it:
 * CreateSession → BeginConfig → AddInput → CreateOutput → AddOutput → CommitConfig → Start. */

#include "camctl/camctl.h"

struct capture_session {
        char *path;        /* the Session object */
        char *output_path; /* its one output */
        char *camera_path;
        char fourcc[5];
        unsigned width, height;
        double fps;        /* 0 when the camera does not list the size asked for */
};

/* An index (the n of …/camera/<n>), an Id such as "virtual:0", or an object path; NULL
 * means the first camera. Fails with a message naming what was asked when it is none. */
int capture_resolve_camera(struct camctl *c, const char *arg, char **ret_path);

/* Builds and starts a session of mode ("photo"/"video") with one output of kind, on the
 * camera, size and format from the command line. On failure nothing is left behind. */
int capture_open(struct camctl *c, const char *mode, const char *kind, struct capture_session *ret);

/* Releases the session (best effort) and frees the struct's strings. */
void capture_close(struct camctl *c, struct capture_session *s);
