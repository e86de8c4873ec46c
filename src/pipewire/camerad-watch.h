/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* Follows camerad on the bus: its name owner (restarts), Manager.Cameras (hot-plug) and
 * each camera's Id, Name and Formats. Tells its user which cameras come and go. */

struct camera_format {
        char fourcc[5];
        unsigned width, height;
        double fps;
};

struct camera_info {
        const char *path, *id, *name;
        const struct camera_format *formats;
        size_t n_formats;
        struct camera_format capture; /* Camera.CaptureFormat; fourcc "" while free */
};

struct camerad_watch_ops {
        void (*camera_added)(void *userdata, const struct camera_info *info);
        void (*camera_removed)(void *userdata, const char *path);
        /* The format another session runs the camera at changed (fourcc "" when free). */
        void (*capture_format_changed)(void *userdata, const char *path,
                                       const struct camera_format *capture);
};

struct camerad_watch;

int camerad_watch_new(sd_bus *bus, const struct camerad_watch_ops *ops, void *userdata,
                      struct camerad_watch **ret);
struct camerad_watch *camerad_watch_free(struct camerad_watch *w);
