/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* vivid's controls through camerad, against the kernel's own view of devnode. Each returns
 * 0 or a negative errno with a one-line detail. */

/* Camera.Controls lists brightness, contrast, saturation, hue, the flips and the autogain
 * cluster with the kernel's type, range, step, default, value, inactive and read-only. */
int bus_check_controls_listed(const char *devnode, const char *camera, char *detail, size_t size);

/* Brightness, contrast, saturation and hue set over D-Bus change the preview frames. */
int bus_check_controls_picture(const char *devnode, const char *camera, char *detail, size_t size);

/* horizontal-flip mirrors a row of the colour bars, vertical-flip a column of vivid's
 * horizontal bars (pattern chosen by menu name through SetControls). */
int bus_check_controls_flip(const char *devnode, const char *camera, char *detail, size_t size);

/* gain is inactive while gain-automatic is on (both views), refused alone, settable in the
 * same call that turns gain-automatic off. */
int bus_check_controls_autogain(const char *devnode, const char *camera, char *detail, size_t size);

/* Bad sets are InvalidArgument naming the control, and change nothing. */
int bus_check_controls_invalid(const char *devnode, const char *camera, char *detail, size_t size);

/* brightness changed with v4l2-ctl while a session streams: PropertiesChanged for
 * Camera.Controls arrives and Camera.Controls shows the new value; the default goes back. */
int bus_check_controls_events(const char *devnode, const char *camera, char *detail, size_t size);

/* SetControls NAME=VALUE... through a committed session (numbers as x, true/false as b,
 * else s), for v4l2-ctl to read back. */
int bus_set_controls(const char *camera, char **args, int n, char *detail, size_t size);
