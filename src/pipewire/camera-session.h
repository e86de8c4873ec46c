/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

/* One shared camerad capture session with a preview output, opened without blocking:
 * CreateSessionWithOptions(video, {shared: true}), BeginConfig, AddInput,
 * CreateOutput(preview, profile), AddOutput, CommitConfig, Start, OpenStream. The result
 * (the stream's fd or why it failed) comes back through ops; Session.Error after that is
 * reported as a failure too. */

struct camera_profile {
        const char *fourcc;
        unsigned width, height;
        double fps;
};

struct camera_session_ops {
        void (*ready)(void *userdata, int stream_fd); /* the callee owns the fd */
        void (*failed)(void *userdata, const char *message);
};

struct camera_session;

int camera_session_open(sd_bus *bus, const char *camera_path, const struct camera_profile *profile,
                        const struct camera_session_ops *ops, void *userdata,
                        struct camera_session **ret);
/* Releases the session in camerad (without waiting) and frees it; no callback follows. */
struct camera_session *camera_session_close(struct camera_session *s);
