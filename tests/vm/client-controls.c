/* SPDX-License-Identifier: MIT */
/* vivid's controls through camerad against the kernel's own view: the listing, the autogain
 * cluster, refused sets, and SetControls for v4l2-ctl to read back. */

#include "client-controls.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/videodev2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-control-views.h"
#include "client-session.h"
#include "shared/macro.h"

#define INVALID_ARGUMENT CAMERAD_SERVICE ".Error.InvalidArgument"

static void refusal_missing(char *detail, size_t size, const char *what, const sd_bus_error *e, int r) {
        if (r >= 0)
                snprintf(detail, size, "%s: it succeeded", what);
        else
                (void) report_bus_error(detail, size, what, e, r);
}

/* ---- the checks ------------------------------------------------------------------------ */

/* The controls item 5 of the README names, in camerad's spelling. */
static const char *const tested[] = { "brightness", "contrast", "saturation", "hue", "horizontal-flip",
                                      "vertical-flip", "gain-automatic", "gain" };

int bus_check_controls_listed(const char *devnode, const char *camera, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);

        if (r < 0)
                return report_bus_error(detail, size, "connecting to the system bus", NULL, r);
        for (size_t i = 0; i < ELEMENTSOF(tested); i++) {
                struct listed_control l;
                struct kernel_control k;
                bool boolean = streq(tested[i], "horizontal-flip") || streq(tested[i], "vertical-flip") ||
                               streq(tested[i], "gain-automatic");

                r = listed_control(bus, camera, tested[i], &l, detail, size);
                if (r < 0)
                        return r;
                r = kernel_control(devnode, tested[i], &k, detail, size);
                if (r < 0)
                        return r;
                if (!streq(l.type, boolean ? "boolean" : "integer") || l.min != k.min || l.max != k.max ||
                    l.step != k.step || l.def != k.def || l.value != k.value ||
                    l.inactive != !!(k.flags & V4L2_CTRL_FLAG_INACTIVE) ||
                    l.read_only != !!(k.flags & V4L2_CTRL_FLAG_READ_ONLY)) {
                        snprintf(detail, size,
                                 "%s: Camera.Controls %s %" PRId64 "..%" PRId64 "/%" PRId64 " default %" PRId64
                                 " value %" PRId64 " inactive %d read-only %d; kernel %" PRId64 "..%" PRId64
                                 "/%" PRId64 " default %" PRId64 " value %" PRId64 " flags 0x%x",
                                 tested[i], l.type, l.min, l.max, l.step, l.def, l.value, l.inactive, l.read_only,
                                 k.min, k.max, k.step, k.def, k.value, k.flags);
                        return -EINVAL;
                }
        }
        snprintf(detail, size, "%zu controls (brightness ... gain) listed with the kernel's type, range, step, "
                 "default, value and flags", ELEMENTSOF(tested));
        return 0;
}



static int expect_inactive(sd_bus *bus, const char *devnode, const char *camera, bool want, char *detail,
                           size_t size) {
        struct listed_control l;
        struct kernel_control k;
        int r = listed_control(bus, camera, "gain", &l, detail, size);

        if (r >= 0)
                r = kernel_control(devnode, "gain", &k, detail, size);
        if (r < 0)
                return r;
        if (l.inactive != want || !!(k.flags & V4L2_CTRL_FLAG_INACTIVE) != want) {
                snprintf(detail, size, "gain: Camera.Controls inactive=%d, kernel flags 0x%x, want inactive=%d",
                         l.inactive, k.flags, want);
                return -EINVAL;
        }
        return 0;
}

int bus_check_controls_autogain(const char *devnode, const char *camera, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        struct test_session s = { .stream_fd = -1 };
        const struct control_setting auto_on = { "gain-automatic", "true" }, gain = { "gain", "50" };
        const struct control_setting manual[] = { { "gain-automatic", "false" }, { "gain", "50" } };
        char refused[256] = "";
        int64_t autogain = -1;
        int r;

        r = controls_session_start(&bus, camera, false, &s, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &auto_on, 1, detail, size);
        if (r >= 0)
                r = expect_inactive(bus, devnode, camera, true, detail, size);
        if (r < 0)
                goto done;
        /* gain alone while autogain is on: inactive, refused, nothing changes. */
        r = set_controls(&s, &gain, 1, &e);
        if (r >= 0 || !sd_bus_error_has_name(&e, INVALID_ARGUMENT) || !strstr(e.message ?: "", "gain")) {
                refusal_missing(detail, size, "SetControls gain=50 with autogain on (want InvalidArgument)", &e, r);
                r = -EINVAL;
                goto done;
        }
        snprintf(refused, sizeof refused, "%s", e.message);
        r = kernel_value(devnode, "gain-automatic", &autogain, detail, size);
        if (r < 0)
                goto done;
        if (autogain != 1) {
                snprintf(detail, size, "a refused SetControls changed gain_automatic to %" PRId64, autogain);
                r = -EIO;
                goto done;
        }
        /* Turning autogain off in the same call makes gain settable. */
        r = set_and_verify(&s, devnode, manual, ELEMENTSOF(manual), detail, size);
        if (r >= 0)
                r = expect_inactive(bus, devnode, camera, false, detail, size);
        if (r >= 0)
                r = set_and_verify(&s, devnode, &auto_on, 1, detail, size);
        if (r >= 0)
                r = expect_inactive(bus, devnode, camera, true, detail, size);
        if (r >= 0)
                snprintf(detail, size, "gain inactive under gain-automatic (both views); gain alone refused "
                         "(\"%s\"); gain-automatic=false + gain=50 in one call applied; back to automatic",
                         refused);
done:
        test_session_done(&s);
        return r;
}

int bus_check_controls_invalid(const char *devnode, const char *camera, char *detail, size_t size) {
        static const struct {
                struct control_setting set[2];
                size_t n;
                const char *named; /* the control the error message must name */
        } bad[] = {
                { { { "brightness", "999" } }, 1, "brightness" },
                { { { "contrast", "100" }, { "brightness", "-1" } }, 2, "brightness" },
                { { { "contrast", "100" }, { "no-such-control", "1" } }, 2, "no-such-control" },
                { { { "saturation", "100" }, { "brightness", "bright" } }, 2, "brightness" },
                { { { "hue", "10" }, { "horizontal-flip", "2" } }, 2, "horizontal-flip" },
                { { { "hue", "10" }, { "horizontal-flip", "yes" } }, 2, "horizontal-flip" },
        };
        static const char *const watched[] = { "brightness", "contrast", "saturation", "hue", "horizontal-flip" };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct test_session s = { .stream_fd = -1 };
        int64_t before[ELEMENTSOF(watched)];
        int r;

        r = controls_session_start(&bus, camera, false, &s, detail, size);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(watched); i++)
                r = kernel_value(devnode, watched[i], &before[i], detail, size);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(bad); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                r = set_controls(&s, bad[i].set, bad[i].n, &e);
                if (r >= 0 || !sd_bus_error_has_name(&e, INVALID_ARGUMENT) ||
                    !strstr(e.message ?: "", bad[i].named)) {
                        char what[128];
                        snprintf(what, sizeof what, "SetControls %s=%s%s%s%s (want InvalidArgument naming %s)",
                                 bad[i].set[0].name, bad[i].set[0].value, bad[i].n > 1 ? ", " : "",
                                 bad[i].n > 1 ? bad[i].set[1].name : "", bad[i].n > 1 ? "=..." : "", bad[i].named);
                        refusal_missing(detail, size, what, &e, r);
                        r = -EINVAL;
                        break;
                }
                r = 0;
                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(watched); k++) {
                        int64_t now, listed;
                        r = kernel_value(devnode, watched[k], &now, detail, size);
                        if (r >= 0)
                                r = session_control(&s, watched[k], &listed, detail, size);
                        if (r >= 0 && (now != before[k] || listed != before[k])) {
                                snprintf(detail, size, "after a refused SetControls (%s...) %s is %" PRId64
                                         " (GetControls %" PRId64 "), was %" PRId64,
                                         bad[i].set[0].name, watched[k], now, listed, before[k]);
                                r = -EIO;
                        }
                }
        }
        if (r >= 0)
                snprintf(detail, size, "%zu bad sets (out of range, unknown name, wrong type, bad boolean) "
                         "refused with InvalidArgument naming the control; kernel values unchanged",
                         ELEMENTSOF(bad));
        test_session_done(&s);
        return r;
}

int bus_set_controls(const char *camera, char **args, int n, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ struct control_setting *set = calloc((size_t) n, sizeof *set);
        struct test_session s = { .stream_fd = -1 };
        int r;

        if (!set)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                char *eq = strchr(args[i], '=');
                if (!eq) {
                        snprintf(detail, size, "%s: not NAME=VALUE", args[i]);
                        return -EINVAL;
                }
                *eq = 0;
                set[i] = (struct control_setting) { args[i], eq + 1 };
        }
        r = controls_session_start(&bus, camera, false, &s, detail, size);
        if (r >= 0) {
                r = set_controls(&s, set, (size_t) n, &e);
                if (r < 0)
                        report_bus_error(detail, size, "SetControls", &e, r);
                else
                        snprintf(detail, size, "SetControls of %d controls returned", n);
        }
        test_session_done(&s);
        return r;
}
