/* SPDX-License-Identifier: MIT */
/* The two views of a control the vivid VM compares: the kernel's (VIDIOC_QUERY_EXT_CTRL,
 * VIDIOC_G_CTRL on the node) and camerad's (Camera.Controls, Session.GetControls), and
 * SetControls through a test session. */

#include "client-control-views.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "client-session.h"
#include "client-v4l2.h"
#include "shared/macro.h"

/* ---- the kernel's view --------------------------------------------------------------- */

/* v4l2-ctl style name of a camerad control name ("gain-automatic" -> "gain_automatic"). */
static void kernel_name(const char *name, char *buf, size_t size) {
        snprintf(buf, size, "%s", name);
        for (char *p = buf; *p; p++)
                if (*p == '-')
                        *p = '_';
}

int kernel_control(const char *devnode, const char *name, struct kernel_control *ret, char *detail,
                   size_t size) {
        _cleanup_close_ int fd = open(devnode, O_RDWR | O_CLOEXEC);
        struct v4l2_query_ext_ctrl q = {};
        struct v4l2_control c = {};
        char kname[64];
        uint32_t type;
        int64_t id;

        if (fd < 0) {
                snprintf(detail, size, "%s: %s", devnode, strerror(errno));
                return -errno;
        }
        kernel_name(name, kname, sizeof kname);
        id = v4l2_find_control(fd, kname, &type);
        if (id < 0) {
                snprintf(detail, size, "the kernel has no control %s: %s", kname, strerror((int) -id));
                return (int) id;
        }
        q.id = c.id = (uint32_t) id;
        if (ioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) < 0 || ioctl(fd, VIDIOC_G_CTRL, &c) < 0) {
                snprintf(detail, size, "QUERY_EXT_CTRL/G_CTRL %s: %s", kname, strerror(errno));
                return -errno;
        }
        *ret = (struct kernel_control) { .min = q.minimum, .max = q.maximum, .step = (int64_t) q.step,
                                         .def = q.default_value, .value = c.value, .flags = q.flags };
        return 0;
}

int kernel_value(const char *devnode, const char *name, int64_t *ret, char *detail, size_t size) {
        struct kernel_control k;
        int r = kernel_control(devnode, name, &k, detail, size);

        *ret = k.value;
        return r;
}

/* ---- camerad's view -------------------------------------------------------------------- */


static int skip_variant(sd_bus_message *m) {
        return sd_bus_message_skip(m, "v");
}

static int read_listed_control(sd_bus_message *m, struct listed_control *c) {
        const char *key, *contents;
        int r;

        *c = (struct listed_control) { .read_only = -1, .inactive = -1 };
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                int64_t *x = streq(key, "min") ? &c->min : streq(key, "max") ? &c->max
                           : streq(key, "step") ? &c->step : streq(key, "default") ? &c->def
                           : streq(key, "value") ? &c->value : NULL;
                if (x && streq(contents, "x"))
                        r = sd_bus_message_read(m, "v", "x", x);
                else if (streq(key, "type") && streq(contents, "s")) {
                        const char *t;
                        r = sd_bus_message_read(m, "v", "s", &t);
                        if (r >= 0)
                                snprintf(c->type, sizeof c->type, "%s", t);
                } else if ((streq(key, "read-only") || streq(key, "inactive")) && streq(contents, "b")) {
                        int b;
                        r = sd_bus_message_read(m, "v", "b", &b);
                        *(streq(key, "read-only") ? &c->read_only : &c->inactive) = b;
                } else
                        r = skip_variant(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Camera.Controls[name]; -ENOENT when the camera lists no such control. */
int listed_control(sd_bus *bus, const char *camera, const char *name, struct listed_control *ret,
                   char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *key;
        int r;

        r = sd_bus_get_property(bus, CAMERAD_SERVICE, camera, CAMERAD_IFACE_CAMERA, "Controls", &e, &reply,
                                "a{sa{sv}}");
        if (r < 0)
                return report_bus_error(detail, size, "Camera.Controls", &e, r);
        r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        break;
                if (streq(key, name))
                        return read_listed_control(reply, ret) < 0
                                       ? report_bus_error(detail, size, "Camera.Controls entry", NULL, -EBADMSG)
                                       : 0;
                r = sd_bus_message_skip(reply, "a{sv}");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return report_bus_error(detail, size, "Camera.Controls reply", NULL, r);
        snprintf(detail, size, "Camera.Controls has no %s", name);
        return -ENOENT;
}

/* GetControls()[name] (x for every type). */
int session_control(struct test_session *s, const char *name, int64_t *ret, char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *key;
        int r;

        r = sd_bus_call_method(s->bus, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION, "GetControls", &e,
                               &reply, "");
        if (r < 0)
                return report_bus_error(detail, size, "GetControls", &e, r);
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && streq(key, name)) {
                        r = sd_bus_message_read(reply, "v", "x", ret);
                        if (r < 0)
                                return report_bus_error(detail, size, "GetControls value (not x?)", NULL, r);
                        return 0;
                }
                if (r >= 0)
                        r = skip_variant(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return report_bus_error(detail, size, "GetControls reply", NULL, r);
        snprintf(detail, size, "GetControls has no %s", name);
        return -ENOENT;
}


int set_controls(struct test_session *s, const struct control_setting *set, size_t n, sd_bus_error *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(s->bus, &m, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION,
                                           "SetControls");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char *end;
                long long x = strtoll(set[i].value, &end, 10);

                if (*set[i].value && *end == 0)
                        r = sd_bus_message_append(m, "{sv}", set[i].name, "x", (int64_t) x);
                else if (streq(set[i].value, "true") || streq(set[i].value, "false"))
                        r = sd_bus_message_append(m, "{sv}", set[i].name, "b", streq(set[i].value, "true"));
                else
                        r = sd_bus_message_append(m, "{sv}", set[i].name, "s", set[i].value);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_call(s->bus, m, 0, e, NULL);
}

/* SetControls, then each numeric value read back through GetControls and the kernel. */
int set_and_verify(struct test_session *s, const char *devnode, const struct control_setting *set, size_t n,
                   char *detail, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = set_controls(s, set, n, &e);

        if (r < 0)
                return report_bus_error(detail, size, "SetControls", &e, r);
        for (size_t i = 0; i < n; i++) {
                char *end;
                int64_t want = strtoll(set[i].value, &end, 10), got, kernel;

                if (streq(set[i].value, "true") || streq(set[i].value, "false"))
                        want = streq(set[i].value, "true");
                else if (*end)
                        continue; /* a menu item by name: the caller checks the picture */
                r = session_control(s, set[i].name, &got, detail, size);
                if (r < 0)
                        return r;
                r = kernel_value(devnode, set[i].name, &kernel, detail, size);
                if (r < 0)
                        return r;
                if (got != want || kernel != want) {
                        snprintf(detail, size, "SetControls %s=%s: GetControls says %" PRId64 ", the kernel %" PRId64,
                                 set[i].name, set[i].value, got, kernel);
                        return -EIO;
                }
        }
        return 0;
}

int controls_session_start(sd_bus **bus, const char *camera, bool stream, struct test_session *s,
                           char *detail, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_open_system(bus);

        if (r < 0)
                return report_bus_error(detail, size, "connecting to the system bus", NULL, r);
        r = test_session_open(*bus, camera, "YUYV", 640, 480, false, s, detail, size);
        if (r < 0 || !stream)
                return r;
        s->y4m.keep_last = true;
        r = test_session_call(s, "Start", &e);
        if (r < 0)
                return report_bus_error(detail, size, "Start", &e, r);
        return test_session_open_stream(s, detail, size);
}
