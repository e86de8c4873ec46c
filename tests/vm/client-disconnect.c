/* SPDX-License-Identifier: MIT */
/* The unplug case: vivid's "disconnect" button unregisters its video nodes while camerad
 * streams, just like pulling a USB camera (DQBUF/poll then fail with ENODEV/POLLERR). */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client-bus.h"
#include "client-session.h"
#include "client-v4l2.h"
#include "shared/macro.h"

struct connected_watch {
        bool seen_false; /* a PropertiesChanged said Connected=false */
};

static int on_camera_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct connected_watch *w = userdata;
        const char *iface, *name;
        int r;

        if (sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, CAMERAD_IFACE_CAMERA))
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                if (sd_bus_message_read(m, "s", &name) < 0)
                        return 0;
                if (streq(name, "Connected")) {
                        int connected;

                        if (sd_bus_message_read(m, "v", "b", &connected) >= 0 && !connected)
                                w->seen_false = true;
                } else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                if (sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

/* Connected=false either announced by PropertiesChanged or readable now. */
static int check_disconnected(sd_bus *bus, const char *camera, const struct connected_watch *w,
                              char *detail, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int connected = -1, r;

        if (w->seen_false) {
                snprintf(detail, size, "PropertiesChanged Connected=false");
                return 0;
        }
        r = sd_bus_get_property_trivial(bus, CAMERAD_SERVICE, camera, CAMERAD_IFACE_CAMERA, "Connected", &e,
                                        'b', &connected);
        if (r < 0)
                return report_bus_error(detail, size, "Camera.Connected after the disconnect (never announced false)",
                                        &e, r);
        if (connected) {
                snprintf(detail, size, "Camera.Connected is still true after the disconnect");
                return -EINVAL;
        }
        snprintf(detail, size, "Connected=false");
        return 0;
}

static int wait_state(struct test_session *s, const char *want, int ms, char *state, size_t size) {
        long long deadline = monotonic_ms() + ms;
        int r;

        for (;;) {
                r = test_session_state(s, state, size);
                if (r < 0 || streq(state, want) || monotonic_ms() > deadline)
                        return r;
                r = test_session_pump(s, 100, false, state, size);
                if (r < 0)
                        return r;
        }
}

int bus_check_disconnect(const char *devnode, const char *camera, const char *virtual_camera,
                         const char *fourcc, unsigned width, unsigned height, char *detail,
                         size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *props_slot = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(test_session_done) struct test_session s = { .stream_fd = -1 };
        _cleanup_free_ char *version = NULL;
        struct connected_watch watch = {};
        char control[160], state[160], connected[160], virtual_result[256];
        unsigned frames_before;
        long long t0;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return report_bus_error(detail, size, "connecting to the system bus", NULL, r);
        r = sd_bus_match_signal(bus, &props_slot, CAMERAD_SERVICE, camera, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_camera_properties_changed, &watch);
        if (r < 0)
                return report_bus_error(detail, size, "matching PropertiesChanged", NULL, r);
        r = test_session_open(bus, camera, fourcc, width, height, false, &s, detail, size);
        if (r < 0)
                return r;
        r = test_session_open_stream(&s, detail, size);
        if (r < 0)
                return r;
        r = test_session_call(&s, "Start", &e);
        if (r < 0)
                return report_bus_error(detail, size, "Start", &e, r);
        r = test_session_pump(&s, 3000, true, detail, size);
        if (r < 0)
                return r;
        frames_before = s.y4m.frames;
        if (frames_before == 0 || s.error_seen) {
                snprintf(detail, size, "no frames before the disconnect (%u; error %s)", frames_before,
                         s.error_seen ? s.error_message : "none");
                return -ENODATA;
        }

        r = v4l2_set_control(devnode, "disconnect", 1, control, sizeof control);
        if (r < 0) {
                snprintf(detail, size, "%s", control);
                return r;
        }
        t0 = monotonic_ms();
        r = test_session_pump(&s, 15000, true, detail, size);
        if (r < 0)
                return r;
        if (!s.error_seen) {
                snprintf(detail, size, "no Session.Error within 15 s of the disconnect");
                return -ETIMEDOUT;
        }
        long long error_ms = monotonic_ms() - t0;
        if (s.error_code != CODE_SERVICE_FATAL) {
                snprintf(detail, size, "Session.Error code %u, want %u (%s)", s.error_code, CODE_SERVICE_FATAL,
                         s.error_message);
                return -EINVAL;
        }
        r = wait_state(&s, "committed", 2000, state, sizeof state);
        if (r < 0) {
                snprintf(detail, size, "after Error: %s", state);
                return r;
        }
        if (!streq(state, "committed")) {
                snprintf(detail, size, "after Error the session is '%s', not 'committed'", state);
                return -EINVAL;
        }
        r = check_disconnected(bus, camera, &watch, connected, sizeof connected);
        if (r < 0) {
                snprintf(detail, size, "%s", connected);
                return r;
        }

        /* The daemon still serves: Version answers, another camera streams. */
        r = sd_bus_get_property_string(bus, CAMERAD_SERVICE, CAMERAD_ROOT, CAMERAD_IFACE_MANAGER, "Version", &e,
                                       &version);
        if (r < 0)
                return report_bus_error(detail, size, "Manager.Version after the disconnect", &e, r);
        test_session_done(&s);
        r = bus_check_session(virtual_camera, fourcc, width, height, 3.0, NULL, virtual_result,
                              sizeof virtual_result);
        if (r < 0) {
                snprintf(detail, size, "virtual camera after the disconnect: %s", virtual_result);
                return r;
        }
        snprintf(detail, size, "Error(%u) %lld ms after the disconnect: %s; State=committed; %s; Version=%s; "
                 "virtual camera: %s", s.error_code, error_ms, s.error_message, connected, version,
                 virtual_result);
        return 0;
}
