/* SPDX-License-Identifier: MIT */
/* A control changed outside camerad (v4l2-ctl on the node) while a session streams: camerad's
 * V4L2_EVENT_CTRL watcher must turn it into PropertiesChanged for Camera.Controls. */

#include "client-controls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "client-control-views.h"
#include "client-session.h"
#include "shared/macro.h"

#define EVENT_TIMEOUT_MS 5000

struct controls_watch {
        unsigned changed;     /* PropertiesChanged naming Controls, changed or invalidated */
        long long first_ms;   /* when the first of them came */
};

static int on_camera_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct controls_watch *w = userdata;
        const char *iface, *name;
        bool named = false;
        int r;

        if (sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, CAMERAD_IFACE_CAMERA))
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                if (sd_bus_message_read(m, "s", &name) < 0 || sd_bus_message_skip(m, "v") < 0 ||
                    sd_bus_message_exit_container(m) < 0)
                        return 0;
                named = named || streq(name, "Controls");
        }
        if (r < 0 || sd_bus_message_exit_container(m) < 0)
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "s") < 0)
                return 0;
        while (sd_bus_message_read(m, "s", &name) > 0)
                named = named || streq(name, "Controls");
        if (named && w->changed++ == 0)
                w->first_ms = monotonic_ms();
        return 0;
}

/* v4l2-ctl -d devnode -c name=value, its output to stderr (the console on failure). */
static int v4l2_ctl_set(const char *devnode, const char *name, int64_t value, char *detail, size_t size) {
        char cmd[256];
        int status;

        snprintf(cmd, sizeof cmd, "v4l2-ctl -d '%s' -c %s=%" PRId64 " >&2", devnode, name, value);
        status = system(cmd);
        if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                snprintf(detail, size, "%s: status %d", cmd, status);
                return -EIO;
        }
        return 0;
}

int bus_check_controls_events(const char *devnode, const char *camera, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct test_session s = { .stream_fd = -1 };
        struct controls_watch w = {};
        struct kernel_control k = {};
        struct listed_control l = {};
        unsigned frames;
        int64_t want;
        long long t0 = 0;
        int r, r_restore;

        r = controls_session_start(&bus, camera, true, &s, detail, size);
        if (r < 0)
                goto done;
        r = sd_bus_match_signal(bus, &slot, CAMERAD_SERVICE, camera, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_camera_properties_changed, &w);
        if (r < 0) {
                r = report_bus_error(detail, size, "matching PropertiesChanged", NULL, r);
                goto done;
        }
        /* Streaming for a while first: the watcher starts with the stream. */
        r = test_session_pump(&s, 1500, true, detail, size);
        if (r < 0)
                goto done;
        frames = s.y4m.frames;
        if (frames == 0 || s.error_seen) {
                snprintf(detail, size, "no frames before the change (%u; error %s)", frames,
                         s.error_seen ? s.error_message : "none");
                r = -ENODATA;
                goto done;
        }
        r = kernel_control(devnode, "brightness", &k, detail, size);
        if (r < 0)
                goto done;
        want = k.value == k.max ? k.min : k.max;
        w = (struct controls_watch) {};

        t0 = monotonic_ms();
        r = v4l2_ctl_set(devnode, "brightness", want, detail, size);
        while (r >= 0 && w.changed == 0 && !s.error_seen && monotonic_ms() - t0 < EVENT_TIMEOUT_MS)
                r = test_session_pump(&s, 100, true, detail, size);
        if (r < 0)
                goto restore;
        if (w.changed == 0) {
                snprintf(detail, size, "no PropertiesChanged(Controls) on %s within %d ms of v4l2-ctl -c "
                         "brightness=%" PRId64 " while streaming (%u frames%s)", camera, EVENT_TIMEOUT_MS, want,
                         s.y4m.frames, s.error_seen ? ", Session.Error" : "");
                r = -ETIMEDOUT;
                goto restore;
        }
        r = listed_control(bus, camera, "brightness", &l, detail, size);
        if (r >= 0 && l.value != want) {
                snprintf(detail, size, "PropertiesChanged(Controls) came but Camera.Controls brightness is %" PRId64
                         ", v4l2-ctl set %" PRId64, l.value, want);
                r = -EIO;
        }
        if (r >= 0)
                snprintf(detail, size, "v4l2-ctl -c brightness=%" PRId64 " (was %" PRId64 ") while streaming: "
                         "PropertiesChanged(Controls) after %lld ms, Camera.Controls brightness=%" PRId64,
                         want, k.value, w.first_ms - t0, l.value);
restore:
        {
                char reset[256];

                r_restore = v4l2_ctl_set(devnode, "brightness", k.def, reset, sizeof reset);
                if (r >= 0 && r_restore < 0) {
                        snprintf(detail, size, "restoring the default: %s", reset);
                        r = r_restore;
                }
        }
done:
        slot = sd_bus_slot_unref(slot);
        test_session_done(&s);
        return r;
}
