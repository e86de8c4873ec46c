/* SPDX-License-Identifier: MIT */
#include <ctype.h>

#include "camctl/capture.h"
#include "camctl/client.h"

/* Without --size the session uses the largest size the camera gives up to this area, so a
 * photo burst or a preview stays quick on small machines. */
#define DEFAULT_MAX_AREA (1280u * 720u)

static bool is_number(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

int capture_resolve_camera(struct camctl *c, const char *arg, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *wanted = NULL;
        const char *path;
        int r;

        r = camctl_get_property(c, CAMERAD_ROOT_PATH, CAMERAD_IFACE_MANAGER, "Cameras", "ao", &reply);
        if (r != 0)
                return r;
        if (arg && is_number(arg)) {
                if (asprintf(&wanted, CAMERAD_ROOT_PATH "/camera/%s", arg) < 0)
                        return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        } else if (arg && arg[0] == '/')
                wanted = strdup(arg);

        r = sd_bus_message_enter_container(reply, 'a', "o");
        while (r >= 0 && (r = sd_bus_message_read(reply, "o", &path)) > 0) {
                _cleanup_free_ char *id = NULL;

                if (!arg || (wanted && streq(path, wanted)))
                        goto found;
                if (wanted)
                        continue;
                r = camctl_get_string(c, path, CAMERAD_IFACE_CAMERA, "Id", &id);
                if (r != 0)
                        return r;
                if (streq(id, arg))
                        goto found;
        }
        if (r < 0)
                return camctl_bus_error(NULL, r, "Cameras");
        if (!arg)
                return camctl_error(CAMCTL_EXIT_FAILED, "camerad has no camera");
        return camctl_error(CAMCTL_EXIT_FAILED, "no camera '%s' (see 'camctl list')", arg);

found:
        *ret_path = strdup(path);
        return *ret_path ? 0 : camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
}

/* Picks the format entry for the command line's --size/--format from the camera's list. */
static int choose_format(struct camctl *c, struct capture_session *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const struct camctl_args *a = c->args;
        const char *fourcc;
        uint32_t width, height;
        double fps;
        bool found = false;
        int r;

        r = camctl_get_property(c, s->camera_path, CAMERAD_IFACE_CAMERA, "Formats", "a(suud)", &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(suud)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(suud)", &fourcc, &width, &height, &fps)) > 0) {
                bool better;

                if (a->format && strcasecmp(fourcc, a->format) != 0)
                        continue;
                if (a->width && (width != a->width || height != a->height))
                        continue;
                if (a->width)
                        better = !found || fps > s->fps;
                else {
                        uint64_t area = (uint64_t) width * height, best = (uint64_t) s->width * s->height;
                        better = !found ||
                                 (area <= DEFAULT_MAX_AREA && (area > best || best > DEFAULT_MAX_AREA)) ||
                                 (area > DEFAULT_MAX_AREA && best > DEFAULT_MAX_AREA && area < best);
                }
                if (!better)
                        continue;
                snprintf(s->fourcc, sizeof(s->fourcc), "%s", fourcc);
                s->width = width;
                s->height = height;
                s->fps = MIN(fps, 30.0);
                found = true;
        }
        if (r < 0)
                return camctl_bus_error(NULL, r, "Formats");
        if (found)
                return 0;

        /* Not listed: ask anyway and let camerad say what is wrong with it. */
        if (!a->width)
                return camctl_error(CAMCTL_EXIT_FAILED, "the camera has no format '%s' (see 'camctl info')",
                                    a->format);
        snprintf(s->fourcc, sizeof(s->fourcc), "%s", a->format ?: "YUYV");
        s->width = a->width;
        s->height = a->height;
        s->fps = 0;
        return 0;
}

static int create_output(struct camctl *c, struct capture_session *s, const char *kind) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, CAMERAD_BUS_NAME, s->path, CAMERAD_IFACE_SESSION,
                                           "CreateOutput");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", kind);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}", "format", "s", s->fourcc, "width", "u", s->width,
                                          "height", "u", s->height);
        if (r >= 0 && s->fps > 0)
                r = sd_bus_message_append(m, "{sv}", "fps", "d", s->fps);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return camctl_bus_error(NULL, r, "CreateOutput");
        r = sd_bus_call(c->bus, m, 0, &e, &reply);
        if (r < 0)
                return camctl_bus_error(&e, r, "CreateOutput");
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return camctl_bus_error(NULL, r, "CreateOutput");
        s->output_path = strdup(path);
        return s->output_path ? 0 : camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
}

/* --shared on a camera others use: take the format they fixed (Camera.CaptureFormat)
 * where the command line leaves it open, at the rate it runs at or 30 fps, whichever is
 * lower; what the command line names is asked as given, and camerad says when it does
 * not fit. */
static int adopt_capture_format(struct camctl *c, struct capture_session *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const struct camctl_args *a = c->args;
        const char *fourcc;
        uint32_t width, height;
        double rate;
        int r;

        r = camctl_get_property(c, s->camera_path, CAMERAD_IFACE_CAMERA, "CaptureFormat", "(suud)", &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "(suud)", &fourcc, &width, &height, &rate);
        if (r < 0)
                return camctl_bus_error(NULL, r, "CaptureFormat");
        if (!fourcc[0])
                return 0; /* free: choose as usual */
        if (!a->format)
                snprintf(s->fourcc, sizeof(s->fourcc), "%s", fourcc);
        if (!a->width) {
                s->width = width;
                s->height = height;
        }
        if (strcasecmp(s->fourcc, fourcc) == 0 && s->width == width && s->height == height)
                s->fps = rate > 0 ? MIN(rate, 30.0) : 0;
        return 0;
}

static int setup(struct camctl *c, struct capture_session *s, const char *mode, const char *kind) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = capture_resolve_camera(c, c->args->camera, &s->camera_path);
        if (r != 0)
                return r;
        r = choose_format(c, s);
        if (r != 0)
                return r;

        if (c->args->shared) {
                r = adopt_capture_format(c, s);
                if (r != 0)
                        return r;
                r = camctl_call(c, CAMERAD_ROOT_PATH, CAMERAD_IFACE_MANAGER, "CreateSessionWithOptions",
                                &reply, "sa{sv}", mode, 1, "shared", "b", 1);
        } else
                r = camctl_call(c, CAMERAD_ROOT_PATH, CAMERAD_IFACE_MANAGER, "CreateSession", &reply, "s", mode);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return camctl_bus_error(NULL, r, "CreateSession");
        s->path = strdup(path);
        if (!s->path)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");

        r = camctl_call(c, s->path, CAMERAD_IFACE_SESSION, "BeginConfig", NULL, "");
        if (r == 0)
                r = camctl_call(c, s->path, CAMERAD_IFACE_SESSION, "AddInput", NULL, "o", s->camera_path);
        if (r == 0)
                r = create_output(c, s, kind);
        if (r == 0)
                r = camctl_call(c, s->path, CAMERAD_IFACE_SESSION, "AddOutput", NULL, "o", s->output_path);
        if (r == 0)
                r = camctl_call(c, s->path, CAMERAD_IFACE_SESSION, "CommitConfig", NULL, "");
        if (r == 0)
                r = camctl_call(c, s->path, CAMERAD_IFACE_SESSION, "Start", NULL, "");
        return r;
}

int capture_open(struct camctl *c, const char *mode, const char *kind, struct capture_session *ret) {
        int r;

        *ret = (struct capture_session) {};
        r = setup(c, ret, mode, kind);
        if (r != 0)
                capture_close(c, ret);
        return r;
}

void capture_close(struct camctl *c, struct capture_session *s) {
        if (s->path)
                (void) sd_bus_call_method(c->bus, CAMERAD_BUS_NAME, s->path, CAMERAD_IFACE_SESSION, "Release",
                                          NULL, NULL, "");
        free(s->path);
        free(s->output_path);
        free(s->camera_path);
        *s = (struct capture_session) {};
}
