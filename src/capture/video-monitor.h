/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Watches a device directory (/dev) for video* nodes coming and going, with inotify
 * (IN_CREATE, IN_DELETE, IN_ATTRIB, renames): no udev needed. The event loop watches
 * video_monitor_fd() and calls video_monitor_process() when it is readable. */

struct video_monitor;

/* devnode is "<dir>/videoN". added false: the node is gone. */
typedef void (*video_monitor_fn)(struct video_monitor *m, const char *devnode, bool added,
                                 void *userdata);

/* dir NULL = "/dev". The monitor starts knowing no nodes; call video_monitor_scan(). */
int video_monitor_new(const char *dir, video_monitor_fn callback, void *userdata,
                      struct video_monitor **ret);
struct video_monitor *video_monitor_free(struct video_monitor *m);

/* The inotify fd (non-blocking, close-on-exec) to watch for POLLIN. */
int video_monitor_fd(const struct video_monitor *m);

/* Reads pending events and reports changes. Returns how many were reported, or a
 * negative errno (-ENOSPC style overflows rescan instead of failing). */
int video_monitor_process(struct video_monitor *m);

/* Compares the directory with the known nodes and reports the differences, added ones in
 * numeric order: the first call lists every node. Also the way to confirm a removal after
 * a device failed (ENODEV) in case its delete event is still on the way. */
int video_monitor_scan(struct video_monitor *m);

/* Forgets devnode without a report (e.g. its probe failed for want of permissions), so a
 * later IN_ATTRIB or scan reports it as added again. */
void video_monitor_forget(struct video_monitor *m, const char *devnode);

static inline void video_monitor_freep(struct video_monitor **m) {
        if (*m)
                video_monitor_free(*m);
}
