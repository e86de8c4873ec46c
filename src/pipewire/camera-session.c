/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewire/camera-session.h"
#include "shared/camerad-bus-names.h"
#include "shared/log.h"
#include "shared/macro.h"

enum step {
        STEP_CREATE, STEP_BEGIN, STEP_ADD_INPUT, STEP_CREATE_OUTPUT, STEP_ADD_OUTPUT,
        STEP_COMMIT, STEP_START, STEP_OPEN_STREAM, STEP_DONE,
};

static const char *const step_member[] = {
        [STEP_CREATE] = "CreateSessionWithOptions", [STEP_BEGIN] = "BeginConfig",
        [STEP_ADD_INPUT] = "AddInput",             [STEP_CREATE_OUTPUT] = "CreateOutput",
        [STEP_ADD_OUTPUT] = "AddOutput",           [STEP_COMMIT] = "CommitConfig",
        [STEP_START] = "Start",                    [STEP_OPEN_STREAM] = "OpenStream",
};

struct camera_session {
        sd_bus *bus;
        char *camera_path, *fourcc;
        unsigned width, height;
        double fps;
        const struct camera_session_ops *ops;
        void *userdata;

        enum step step;
        sd_bus_slot *call, *error_match;
        char *session_path, *output_path;
        bool closing; /* closed while CreateSession was pending: release on its reply */
};

static void fail(struct camera_session *s, const char *format, ...) _printf_(2, 3);
static void fail(struct camera_session *s, const char *format, ...) {
        char message[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(message, sizeof message, format, ap);
        va_end(ap);
        s->step = STEP_DONE;
        s->ops->failed(s->userdata, message); /* may close s: nothing after this */
}

static int on_session_error(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct camera_session *s = userdata;
        const char *message = "";
        uint32_t code = 0;

        (void) sd_bus_message_read(m, "us", &code, &message);
        fail(s, "camerad: %s (%u)", message, code);
        return 0;
}

static int start_step(struct camera_session *s);

static int read_path(sd_bus_message *m, char **ret) {
        const char *path;
        int r = sd_bus_message_read(m, "o", &path);
        if (r < 0)
                return r;
        free(*ret);
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct camera_session *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        enum step step = s->step;
        int r = 0, fd;

        s->call = sd_bus_slot_unref(s->call);
        if (s->closing) {
                if (!e)
                        (void) read_path(m, &s->session_path);
                camera_session_close(s);
                return 0;
        }
        if (e) {
                fail(s, "camerad %s: %s", step_member[step], e->message ?: e->name);
                return 0;
        }
        switch (step) {
        case STEP_CREATE:
                r = read_path(m, &s->session_path);
                if (r >= 0)
                        r = sd_bus_match_signal(s->bus, &s->error_match, CAMERAD_BUS_NAME, s->session_path,
                                                CAMERAD_IFACE_SESSION, "Error", on_session_error, s);
                break;
        case STEP_CREATE_OUTPUT:
                r = read_path(m, &s->output_path);
                break;
        case STEP_OPEN_STREAM:
                r = sd_bus_message_read(m, "h", &fd);
                if (r < 0)
                        break;
                fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0) {
                        r = -errno;
                        break;
                }
                s->step = STEP_DONE;
                log_debug("%s: streaming from %s", s->camera_path, s->output_path);
                s->ops->ready(s->userdata, fd);
                return 0;
        default:
                break;
        }
        if (r < 0) {
                fail(s, "camerad %s: unexpected reply: %s", step_member[step], strerror(-r));
                return 0;
        }
        s->step++;
        r = start_step(s);
        if (r < 0)
                fail(s, "cannot call camerad %s: %s", step_member[s->step], strerror(-r));
        return 0;
}

static int append_profile(struct camera_session *s, sd_bus_message *m) {
        return sd_bus_message_append(m, "sa{sv}", "preview", 4,
                                     "format", "s", s->fourcc,
                                     "width", "u", s->width,
                                     "height", "u", s->height,
                                     "fps", "d", s->fps);
}

static int start_step(struct camera_session *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *path = s->step == STEP_CREATE ? CAMERAD_ROOT_PATH
                         : s->step == STEP_OPEN_STREAM ? s->output_path : s->session_path;
        const char *iface = s->step == STEP_CREATE ? CAMERAD_IFACE_MANAGER
                          : s->step == STEP_OPEN_STREAM ? CAMERAD_IFACE_PREVIEW : CAMERAD_IFACE_SESSION;
        int r;

        r = sd_bus_message_new_method_call(s->bus, &m, CAMERAD_BUS_NAME, path, iface, step_member[s->step]);
        if (r < 0)
                return r;
        switch (s->step) {
        case STEP_CREATE:
                /* Shared: joins a capture another app already runs, instead of Conflict. */
                r = sd_bus_message_append(m, "sa{sv}", "video", 1, "shared", "b", 1);
                break;
        case STEP_ADD_INPUT:
                r = sd_bus_message_append(m, "o", s->camera_path);
                break;
        case STEP_CREATE_OUTPUT:
                r = append_profile(s, m);
                break;
        case STEP_ADD_OUTPUT:
                r = sd_bus_message_append(m, "o", s->output_path);
                break;
        default:
                break;
        }
        if (r < 0)
                return r;
        /* CommitConfig and Start wait for the device; camerad answers within its own limits. */
        return sd_bus_call_async(s->bus, &s->call, m, on_reply, s, 30 * 1000000ULL);
}

int camera_session_open(sd_bus *bus, const char *camera_path, const struct camera_profile *profile,
                        const struct camera_session_ops *ops, void *userdata,
                        struct camera_session **ret) {
        struct camera_session *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->bus = sd_bus_ref(bus);
        s->camera_path = strdup(camera_path);
        s->fourcc = strdup(profile->fourcc);
        s->width = profile->width;
        s->height = profile->height;
        s->fps = profile->fps;
        s->ops = ops;
        s->userdata = userdata;
        if (!s->camera_path || !s->fourcc) {
                camera_session_close(s);
                return -ENOMEM;
        }
        r = start_step(s);
        if (r < 0) {
                camera_session_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct camera_session *camera_session_close(struct camera_session *s) {
        if (!s)
                return NULL;
        if (s->step == STEP_CREATE && s->call) {
                /* Cancelling would leave camerad's new session behind, counted against
                 * this client until it leaves the bus. */
                s->closing = true;
                return NULL;
        }
        sd_bus_slot_unref(s->call);
        sd_bus_slot_unref(s->error_match);
        if (s->session_path) {
                /* Fire and forget: a camerad that is gone has released it already. */
                int r = sd_bus_call_method_async(s->bus, NULL, CAMERAD_BUS_NAME, s->session_path,
                                                 CAMERAD_IFACE_SESSION, "Release", NULL, NULL, "");
                if (r < 0)
                        log_debug_errno(r, "cannot release %s: %m", s->session_path);
                else
                        log_debug("released %s", s->session_path);
        }
        free(s->session_path);
        free(s->output_path);
        free(s->camera_path);
        free(s->fourcc);
        sd_bus_unref(s->bus);
        free(s);
        return NULL;
}
