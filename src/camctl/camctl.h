/* SPDX-License-Identifier: MIT */
#pragma once

/* camctl: the command-line client of camerad. It speaks only the public D-Bus contract. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define CAMERAD_BUS_NAME "org.camerad.Camera1"
#define CAMERAD_ROOT_PATH "/org/camerad/Camera1"
#define CAMERAD_IFACE_MANAGER "org.camerad.Camera1.Manager"
#define CAMERAD_IFACE_CAMERA "org.camerad.Camera1.Camera"
#define CAMERAD_IFACE_SESSION "org.camerad.Camera1.Session"
#define CAMERAD_IFACE_PREVIEW "org.camerad.Camera1.PreviewOutput"
#define CAMERAD_IFACE_PHOTO "org.camerad.Camera1.PhotoOutput"
#define CAMERAD_IFACE_VIDEO "org.camerad.Camera1.VideoOutput"
#define CAMERAD_IFACE_IMAGES "org.camerad.Camera1.ImageProcessSession"
#define CAMERAD_IFACE_VIDEOS "org.camerad.Camera1.VideoProcessSession"

/* Exit codes, documented in camctl(1). */
enum camctl_exit {
        CAMCTL_EXIT_OK = 0,
        CAMCTL_EXIT_FAILED = 1,    /* the daemon answered with an error */
        CAMCTL_EXIT_USAGE = 2,     /* bad command line */
        CAMCTL_EXIT_NO_DAEMON = 3, /* no bus, or camerad is not on it */
        CAMCTL_EXIT_TIMEOUT = 4,   /* a wait or a call ran out of time */
        CAMCTL_EXIT_DENIED = 5,    /* AccessDenied: not the owner, or polkit said no */
        CAMCTL_EXIT_LOCAL = 6,     /* a local file could not be read or written */
        CAMCTL_EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM during a wait, as shells count it */
};

enum camctl_bus_kind { CAMCTL_BUS_SYSTEM, CAMCTL_BUS_SESSION, CAMCTL_BUS_ADDRESS };

/* Everything the command line can say; each verb reads the parts it allows. */
struct camctl_args {
        enum camctl_bus_kind bus_kind;
        const char *address;
        bool json;
        bool wait;
        bool all;
        bool no_defer;
        const char *camera;
        unsigned width, height; /* 0 = not given */
        const char *format;     /* fourcc or NULL */
        unsigned burst;         /* 0 = daemon default */
        unsigned quality;       /* 0 = daemon default */
        const char *output;     /* -o; "-" is stdout where a verb allows it */
        double denoise;         /* < 0 = not given */
        double seconds;         /* < 0 = not given */
        uint64_t frames;        /* 0 = not given */
        double timeout;         /* seconds for waits */
        const char *id;         /* video process --id */
        bool shared;            /* photo/preview/record --shared: a shared session */
};

struct camctl {
        sd_bus *bus;
        const struct camctl_args *args;
};

/* Each verb returns an exit code and prints its own errors. */
int verb_list(struct camctl *c, int argc, char **argv);
int verb_info(struct camctl *c, int argc, char **argv);
int verb_photo(struct camctl *c, int argc, char **argv);
int verb_preview(struct camctl *c, int argc, char **argv);
int verb_record(struct camctl *c, int argc, char **argv);
int verb_pending(struct camctl *c, int argc, char **argv);
int verb_process(struct camctl *c, int argc, char **argv);
int verb_remove(struct camctl *c, int argc, char **argv);
int verb_fetch(struct camctl *c, int argc, char **argv);
int verb_mode(struct camctl *c, int argc, char **argv);
int verb_status(struct camctl *c, int argc, char **argv);
int verb_interrupt(struct camctl *c, int argc, char **argv);
int verb_reset(struct camctl *c, int argc, char **argv);
int verb_video(struct camctl *c, int argc, char **argv);
