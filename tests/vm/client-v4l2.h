/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Raw V4L2 helpers for the vivid VM test client: they talk to the kernel directly (no
 * libv4l2) so a failure here points at the kernel/driver, not at camerad. */

/* Prints QUERYCAP (driver, card, bus_info) and checks that the device is a streaming video
 * capture device offering fourcc at width x height. 0 or a negative errno; detail gets a
 * one-line reason. */
int v4l2_probe(const char *devnode, uint32_t fourcc, unsigned width, unsigned height,
               char *detail, size_t detail_size);

/* Streams frames_wanted frames by mmap (no camerad involved). 0 when they all arrived with
 * the expected payload size within timeout_ms. */
int v4l2_stream(const char *devnode, uint32_t fourcc, unsigned width, unsigned height,
                unsigned frames_wanted, int timeout_ms, char *detail, size_t detail_size);

/* Finds a control by its v4l2-ctl style name ("percentage_of_dropped_buffers": lower case,
 * runs of other characters as '_') with VIDIOC_QUERY_EXT_CTRL + V4L2_CTRL_FLAG_NEXT_CTRL.
 * Returns the id (> 0) or a negative errno (-ENOENT when no control has that name). */
int64_t v4l2_find_control(int fd, const char *name, uint32_t *ret_type);

/* 0 when devnode has a control of that name; detail names it with its id and range. */
int v4l2_control_exists(const char *devnode, const char *name, char *detail, size_t detail_size);

/* Sets the named control on devnode. Boolean and integer controls are first set to another
 * value so the driver's s_ctrl runs even when the cached value already equals value, and
 * read back. Buttons are pressed for any value but 0. */
int v4l2_set_control(const char *devnode, const char *name, int32_t value, char *detail,
                     size_t detail_size);

/* Lists every control as "name type min..max" on stdout. */
int v4l2_list_controls(const char *devnode);

struct native_format {
        uint32_t fourcc;
        unsigned width, height;
        double max_fps; /* from the shortest discrete frame interval; 0 when none */
};

/* Every discrete frame size the device offers for fourcc, with its best frame rate.
 * Appends to *formats (realloc'd) and *n. */
int v4l2_native_formats(const char *devnode, uint32_t fourcc, struct native_format **formats, size_t *n);

uint32_t fourcc_from_string(const char *s);
