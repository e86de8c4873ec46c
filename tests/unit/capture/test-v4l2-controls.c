/* SPDX-License-Identifier: MIT */
/* V4L2 controls against the fake device's UVC-like table: enumeration (menus with holes,
 * integer menus, what is left out), names, checks before the device sees anything, TRY
 * failing, read-only and inactive controls, auto clusters, control events, and the
 * exposure, focus, zoom, white balance and power-line controls vivid lacks. */
/* Settings leave the fields of other kinds out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <linux/videodev2.h>
#include <stdatomic.h>
#include <string.h>

#include "capture/camera-controls.h"
#include "capture/camera-device.h"
#include "fake-v4l2.h"
#include "shared/macro.h"
#include "test-util.h"

static struct camera_device *open_fake(void) {
        struct camera_device *d = NULL;
        fake_reset();
        check_ok(camera_device_new_v4l2("/dev/fake0", &fake_ops, &d));
        return d;
}

static const struct camera_control *find(const struct camera_control_list *l, const char *name) {
        const struct camera_control *c = camera_control_list_find(l, name);
        if (!c)
                fprintf(stderr, "no control %s\n", name);
        check(c);
        return c;
}

static const char *menu_name(const struct camera_control *c, int64_t index) {
        for (size_t k = 0; k < c->n_menu; k++)
                if (c->menu[k].index == index)
                        return c->menu[k].name;
        return NULL;
}

static void test_names(void) {
        static const struct {
                char v4l2[32], ours[32];
        } cases[] = {
                { "White Balance, Automatic", "white-balance-automatic" },
                { "Power Line Frequency", "power-line-frequency" },
                { "Exposure Time, Absolute", "exposure-time-absolute" },
                { "Auto Exposure", "auto-exposure" },
                { "Focus, Automatic Continuous", "focus-automatic-continuous" },
                { "Zoom, Absolute", "zoom-absolute" },
                { "Black & White  Level", "black-white-level" },
                { "  Gain (R/B)-Ratio ", "gain-r-b-ratio" },
                { "H.264 Profile", "h264-profile" },
        };
        char buf[CAMERA_CONTROL_NAME_MAX];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                camera_control_name_from_v4l2(cases[i].v4l2, buf, sizeof buf);
                if (!streq(buf, cases[i].ours))
                        fprintf(stderr, "'%s' → '%s', want '%s'\n", cases[i].v4l2, buf, cases[i].ours);
                check(streq(buf, cases[i].ours));
        }
        camera_control_name_from_v4l2("Brightness", buf, 5);
        check(streq(buf, "brig"));
}

static void test_enumerate(void) {
        struct camera_device *d = open_fake();
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        static const char *const order[] = {
                "brightness", "contrast", "white-balance-automatic", "power-line-frequency",
                "white-balance-temperature", "auto-exposure", "exposure-time-absolute",
                "focus-absolute", "focus-automatic-continuous", "zoom-absolute", "link-frequency",
                "pixel-rate",
        };

        check_ok(camera_device_get_controls(d, &l));
        /* Classes, the button, the write-only, string, compound and disabled ones are left out. */
        for (size_t i = 0; i < l.n; i++)
                fprintf(stderr, "  %s\n", l.items[i].name);
        check(l.n == ELEMENTSOF(order));
        for (size_t i = 0; i < l.n; i++)
                check(streq(l.items[i].name, order[i]));
        /* Not streaming: the node was opened for the call and closed again. */
        check(fake.control_opens == 1 && !fake.ctrl_fd_open);

        const struct camera_control *c = find(&l, "brightness");
        check(c->id == V4L2_CID_BRIGHTNESS && c->type == CAMERA_CONTROL_INTEGER);
        check(c->min == 0 && c->max == 255 && c->step == 1 && c->def == 128 && c->value == 128);
        check(!c->read_only && !c->inactive && c->n_menu == 0);

        c = find(&l, "white-balance-automatic");
        check(c->type == CAMERA_CONTROL_BOOLEAN && c->value == 1);
        c = find(&l, "white-balance-temperature");
        check(c->step == 10 && c->min == 2800 && c->inactive); /* automatic white balance is on */

        c = find(&l, "power-line-frequency");
        check(c->type == CAMERA_CONTROL_MENU && c->n_menu == 3 && c->value == 1);
        check(streq(menu_name(c, 0), "Disabled") && streq(menu_name(c, 1), "50 Hz") &&
              streq(menu_name(c, 2), "60 Hz"));

        /* A menu with holes: only the items the device has. */
        c = find(&l, "auto-exposure");
        check(c->type == CAMERA_CONTROL_MENU && c->n_menu == 2 && c->value == 3);
        check(streq(menu_name(c, 1), "Manual Mode") && streq(menu_name(c, 3), "Aperture Priority Mode"));
        check(!menu_name(c, 0) && !menu_name(c, 2));
        check(find(&l, "exposure-time-absolute")->inactive);
        check(find(&l, "focus-absolute")->inactive);

        /* An integer menu: its items are the values as text. */
        c = find(&l, "link-frequency");
        check(c->type == CAMERA_CONTROL_MENU && c->n_menu == 3);
        check(streq(menu_name(c, 0), "120000000") && streq(menu_name(c, 2), "480000000"));

        /* 64-bit and read-only. */
        c = find(&l, "pixel-rate");
        check(c->type == CAMERA_CONTROL_INTEGER && c->read_only && c->value == 96000000);
        check(c->max == INT64_C(10000000000));
        camera_device_free(d);
}

static int set1(struct camera_device *d, struct camera_control_setting s, char **error) {
        return camera_device_set_controls(d, &s, 1, error);
}

/* Refused before the device is asked: -EINVAL, a message naming the control. */
static void check_refused(struct camera_device *d, const struct camera_control_setting *s, size_t n,
                          const char *name) {
        _cleanup_free_ char *error = NULL;
        unsigned tries = fake.ctrl_try_calls;

        check_r(camera_device_set_controls(d, s, n, &error), -EINVAL);
        fprintf(stderr, "  refused: %s\n", error);
        check(error && strstr(error, name));
        check(fake.ctrl_try_calls == tries);
}

static void test_checks(void) {
        struct camera_device *d = open_fake();
        typedef struct camera_control_setting S;

        check_refused(d, &(S) { "no-such-control", CAMERA_VALUE_INTEGER, 1 }, 1, "no-such-control");
        check_refused(d, &(S) { "brightness", CAMERA_VALUE_INTEGER, 256 }, 1, "brightness");
        check_refused(d, &(S) { "brightness", CAMERA_VALUE_INTEGER, -1 }, 1, "brightness");
        check_refused(d, &(S) { "brightness", CAMERA_VALUE_BOOLEAN, 1 }, 1, "brightness");
        check_refused(d, &(S) { "brightness", CAMERA_VALUE_NAME, .item = "high" }, 1, "brightness");
        check_refused(d, &(S) { "white-balance-automatic", CAMERA_VALUE_INTEGER, 2 }, 1, "white-balance-automatic");
        check_refused(d, &(S) { "power-line-frequency", CAMERA_VALUE_NAME, .item = "70 Hz" }, 1, "power-line-frequency");
        check_refused(d, &(S) { "power-line-frequency", CAMERA_VALUE_BOOLEAN, 1 }, 1, "power-line-frequency");
        check_refused(d, &(S) { "auto-exposure", CAMERA_VALUE_INTEGER, 2 }, 1, "auto-exposure"); /* a hole */
        check_refused(d, &(S) { "pixel-rate", CAMERA_VALUE_INTEGER, 5 }, 1, "pixel-rate");     /* read-only */
        check_refused(d, (S[]) { { "brightness", CAMERA_VALUE_INTEGER, 1 }, { "brightness", CAMERA_VALUE_INTEGER, 2 } },
                      2, "brightness");
        /* One bad among good ones: nothing set. */
        check_refused(d, (S[]) { { "brightness", CAMERA_VALUE_INTEGER, 10 }, { "contrast", CAMERA_VALUE_INTEGER, 96 } },
                      2, "contrast");
        check(fake_control_value(V4L2_CID_BRIGHTNESS) == 128);
        check(fake.ctrl_set_calls == 0);

        /* Not on a step: focus-absolute goes by 5 (made active first). */
        char *error = NULL;
        check_ok(set1(d, (S) { "focus-automatic-continuous", CAMERA_VALUE_BOOLEAN, 0 }, &error));
        check_refused(d, &(S) { "focus-absolute", CAMERA_VALUE_INTEGER, 7 }, 1, "focus-absolute");
        camera_device_free(d);
}

/* The device's TRY refuses one: nothing is set, and the message names that one. */
static void test_try_fails(void) {
        struct camera_device *d = open_fake();
        _cleanup_free_ char *error = NULL;
        const struct camera_control_setting s[] = {
                { "brightness", CAMERA_VALUE_INTEGER, 10 },
                { "contrast", CAMERA_VALUE_INTEGER, 5 },
        };

        fake.ctrl_fail_id = V4L2_CID_CONTRAST;
        check_r(camera_device_set_controls(d, s, 2, &error), -EINVAL);
        check(error && strstr(error, "contrast"));
        check(fake.ctrl_try_calls == 1 && fake.ctrl_set_calls == 0);
        check(fake_control_value(V4L2_CID_BRIGHTNESS) == 128 && fake_control_value(V4L2_CID_CONTRAST) == 32);

        /* A control the device cannot change now (busy): -EBUSY. */
        free(error);
        error = NULL;
        fake.ctrl_fail_errno = EBUSY;
        check_r(camera_device_set_controls(d, s, 2, &error), -EBUSY);
        check(error && strstr(error, "contrast"));

        fake.ctrl_fail_id = 0;
        free(error);
        error = NULL;
        check_ok(camera_device_set_controls(d, s, 2, &error));
        check(!error);
        check(fake.ctrl_set_calls == 1);
        check(fake_control_value(V4L2_CID_BRIGHTNESS) == 10 && fake_control_value(V4L2_CID_CONTRAST) == 5);
        camera_device_free(d);
}

/* Auto clusters: a control its automatic mode drives is refused alone, taken together
 * with turning the mode off, and a half-done call is undone. */
static void test_clusters(void) {
        struct camera_device *d = open_fake();
        char *error = NULL;
        typedef struct camera_control_setting S;

        check_refused(d, &(S) { "exposure-time-absolute", CAMERA_VALUE_INTEGER, 100 }, 1, "exposure-time-absolute");
        check_refused(d, &(S) { "white-balance-temperature", CAMERA_VALUE_INTEGER, 5000 }, 1, "white-balance-temperature");

        /* Brightness goes first, exposure stays inactive: brightness is put back. */
        const S mixed[] = {
                { "exposure-time-absolute", CAMERA_VALUE_INTEGER, 100 },
                { "brightness", CAMERA_VALUE_INTEGER, 50 },
        };
        check_r(camera_device_set_controls(d, mixed, 2, &error), -EINVAL);
        check(error && strstr(error, "exposure-time-absolute") && strstr(error, "inactive"));
        free(error);
        error = NULL;
        check(fake_control_value(V4L2_CID_BRIGHTNESS) == 128);
        check(fake_control_value(V4L2_CID_EXPOSURE_ABSOLUTE) == 250);

        /* Exposure: manual mode (by item name) and the time in one call. */
        const S exposure[] = {
                { "exposure-time-absolute", CAMERA_VALUE_INTEGER, 100 },
                { "auto-exposure", CAMERA_VALUE_NAME, .item = "Manual Mode" },
        };
        check_ok(camera_device_set_controls(d, exposure, 2, &error));
        check(fake_control_value(V4L2_CID_EXPOSURE_AUTO) == V4L2_EXPOSURE_MANUAL);
        check(fake_control_value(V4L2_CID_EXPOSURE_ABSOLUTE) == 100);
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        check_ok(camera_device_get_controls(d, &l));
        check(!find(&l, "exposure-time-absolute")->inactive);
        check(find(&l, "exposure-time-absolute")->value == 100);
        check(find(&l, "auto-exposure")->value == 1);
        /* Back to aperture priority by number. */
        check_ok(set1(d, (S) { "auto-exposure", CAMERA_VALUE_INTEGER, 3 }, &error));
        check(fake_control_value(V4L2_CID_EXPOSURE_AUTO) == 3);

        /* White balance: automatic off (a boolean), then a temperature on its step. */
        const S wb[] = {
                { "white-balance-automatic", CAMERA_VALUE_BOOLEAN, 0 },
                { "white-balance-temperature", CAMERA_VALUE_INTEGER, 5000 },
        };
        check_ok(camera_device_set_controls(d, wb, 2, &error));
        check(fake_control_value(V4L2_CID_AUTO_WHITE_BALANCE) == 0);
        check(fake_control_value(V4L2_CID_WHITE_BALANCE_TEMPERATURE) == 5000);

        /* Focus: continuous autofocus off (as a number) and a position. */
        const S focus[] = {
                { "focus-absolute", CAMERA_VALUE_INTEGER, 125 },
                { "focus-automatic-continuous", CAMERA_VALUE_INTEGER, 0 },
        };
        check_ok(camera_device_set_controls(d, focus, 2, &error));
        check(fake_control_value(V4L2_CID_FOCUS_ABSOLUTE) == 125 && fake_control_value(V4L2_CID_FOCUS_AUTO) == 0);

        /* Zoom, power line (by name, case aside) and an integer menu by its value text. */
        const S more[] = {
                { "zoom-absolute", CAMERA_VALUE_INTEGER, 300 },
                { "power-line-frequency", CAMERA_VALUE_NAME, .item = "60 hz" },
                { "link-frequency", CAMERA_VALUE_NAME, .item = "480000000" },
        };
        check_ok(camera_device_set_controls(d, more, 3, &error));
        check(fake_control_value(V4L2_CID_ZOOM_ABSOLUTE) == 300);
        check(fake_control_value(V4L2_CID_POWER_LINE_FREQUENCY) == V4L2_CID_POWER_LINE_FREQUENCY_60HZ);
        check(fake_control_value(V4L2_CID_LINK_FREQ) == 2);
        check_ok(set1(d, (S) { "power-line-frequency", CAMERA_VALUE_NAME, .item = "Disabled" }, &error));
        check(fake_control_value(V4L2_CID_POWER_LINE_FREQUENCY) == 0);
        check(!error);
        camera_device_free(d);
}

static atomic_int changes;

static void on_changed(struct camera_device *d, void *userdata) {
        check(userdata == &changes);
        atomic_fetch_add(&changes, 1);
}

static void on_frame(struct frame *f, void *userdata) {
}

static bool wait_changes(int want) {
        double end = test_now() + 5;
        while (test_now() < end && atomic_load(&changes) < want)
                test_sleep_ms(5);
        return atomic_load(&changes) >= want;
}

/* While streaming, a node of our own is subscribed to control events: another program's
 * change, or a cluster's flags changing, reaches the callback; our own changes do not
 * come back. Stopping closes the node. */
static void test_events(void) {
        struct camera_device *d = open_fake();
        const struct capture_format fmt = { V4L2_PIX_FMT_YUYV, FAKE_W, FAKE_H, 30 };
        char *error = NULL;

        atomic_store(&changes, 0);
        camera_device_set_controls_callback(d, on_changed, &changes);
        check_ok(camera_device_start(d, &fmt, on_frame, NULL, NULL));
        check(fake.ctrl_fd_open && fake.ctrl_subscriptions == 12);

        fake_control_set_external(V4L2_CID_BRIGHTNESS, 7);
        check(wait_changes(1));
        /* Reads use the watcher's node: no new open. */
        int opens = fake.control_opens;
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        check_ok(camera_device_get_controls(d, &l));
        check(find(&l, "brightness")->value == 7);
        check(fake.control_opens == opens);

        /* Another program turns manual exposure on: exposure-time-absolute's flags change. */
        int before = atomic_load(&changes);
        fake_control_set_external(V4L2_CID_EXPOSURE_AUTO, V4L2_EXPOSURE_MANUAL);
        check(wait_changes(before + 1));

        /* Our own change: no event back. */
        test_sleep_ms(50);
        before = atomic_load(&changes);
        check_ok(set1(d, (struct camera_control_setting) { "brightness", CAMERA_VALUE_INTEGER, 99 }, &error));
        test_sleep_ms(100);
        check(atomic_load(&changes) == before);
        check(fake_control_value(V4L2_CID_BRIGHTNESS) == 99);

        camera_device_stop(d);
        check(!fake.ctrl_fd_open);
        /* Not watching now. */
        fake_control_set_external(V4L2_CID_BRIGHTNESS, 1);
        test_sleep_ms(50);
        check(atomic_load(&changes) == before);
        camera_device_free(d);
}

/* An unplugged node polls ERR|HUP|PRI for good: the watcher leaves instead of spinning,
 * and stop still joins it. */
static void test_watcher_unplugged(void) {
        struct camera_device *d = open_fake();
        const struct capture_format fmt = { V4L2_PIX_FMT_YUYV, FAKE_W, FAKE_H, 30 };

        check_ok(camera_device_start(d, &fmt, on_frame, NULL, NULL));
        pthread_mutex_lock(&fake.lock);
        fake.ctrl_hangup = true;
        pthread_mutex_unlock(&fake.lock);
        test_sleep_ms(50);
        pthread_mutex_lock(&fake.lock);
        unsigned polls = fake.ctrl_polls;
        pthread_mutex_unlock(&fake.lock);
        test_sleep_ms(100);
        pthread_mutex_lock(&fake.lock);
        check(fake.ctrl_polls == polls);
        pthread_mutex_unlock(&fake.lock);
        camera_device_stop(d);
        check(!fake.ctrl_fd_open);
        camera_device_free(d);
}

int main(void) {
        test_names();
        test_enumerate();
        test_checks();
        test_try_fails();
        test_clusters();
        test_events();
        test_watcher_unplugged();
        return 0;
}
