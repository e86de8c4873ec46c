/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "client-session.h"

/* A control as the kernel and as camerad see it, and SetControls through a test session.
 * Control names are camerad's ("gain-automatic"); the kernel's is found with '-' as '_'.
 * Each returns 0 or a negative errno with a one-line detail. */

struct kernel_control {
        int64_t min, max, step, def, value;
        uint32_t flags;
};

struct listed_control {
        char type[16];
        int64_t min, max, step, def, value;
        int read_only, inactive;
};

/* One SetControls entry: value as text, sent as x for a number, b for true/false, else s. */
struct control_setting {
        const char *name;
        const char *value;
};

int kernel_control(const char *devnode, const char *name, struct kernel_control *ret, char *detail,
                   size_t size);
int kernel_value(const char *devnode, const char *name, int64_t *ret, char *detail, size_t size);

/* Camera.Controls[name]; -ENOENT when the camera lists no such control. */
int listed_control(sd_bus *bus, const char *camera, const char *name, struct listed_control *ret,
                   char *detail, size_t size);
/* GetControls()[name]. */
int session_control(struct test_session *s, const char *name, int64_t *ret, char *detail, size_t size);

/* SetControls of n settings; the bus error in *e. */
int set_controls(struct test_session *s, const struct control_setting *set, size_t n, sd_bus_error *e);
/* SetControls, then every numeric or boolean value read back through GetControls and the
 * kernel. */
int set_and_verify(struct test_session *s, const char *devnode, const struct control_setting *set, size_t n,
                   char *detail, size_t size);

/* A committed YUYV 640x480 preview session on camera; started, with its stream open and
 * the last frame kept, when stream. */
int controls_session_start(sd_bus **bus, const char *camera, bool stream, struct test_session *s,
                           char *detail, size_t size);
