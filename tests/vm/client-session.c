/* SPDX-License-Identifier: MIT */
#include "client-session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"

long long monotonic_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int report_bus_error(char *detail, size_t size, const char *what, const sd_bus_error *e, int r) {
        if (e && sd_bus_error_is_set(e))
                snprintf(detail, size, "%s: %s: %s", what, e->name, e->message ? e->message : "");
        else
                snprintf(detail, size, "%s: %s", what, strerror(r < 0 ? -r : EIO));
        return r < 0 ? r : -EIO;
}

static int on_session_error(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct test_session *s = userdata;
        const char *message = NULL;
        uint32_t code = 0;

        if (sd_bus_message_read(m, "us", &code, &message) < 0)
                return 0;
        s->error_seen = true;
        s->error_code = code;
        snprintf(s->error_message, sizeof s->error_message, "%s", message);
        return 0;
}

static int create_output(struct test_session *s, const char *kind, const char *fourcc,
                         unsigned width, unsigned height, char **ret_path, char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_message_new_method_call(s->bus, &m, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION,
                                           "CreateOutput");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", kind);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 3, "format", "s", fourcc, "width", "u", width,
                                          "height", "u", height);
        if (r < 0)
                return report_bus_error(detail, size, "building CreateOutput", NULL, r);
        r = sd_bus_call(s->bus, m, 0, &e, &reply);
        if (r < 0)
                return report_bus_error(detail, size, "CreateOutput", &e, r);
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return report_bus_error(detail, size, "CreateOutput reply", NULL, r);
        *ret_path = strdup(path);
        if (!*ret_path)
                return -ENOMEM;

        r = sd_bus_call_method(s->bus, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION, "AddOutput", &e,
                               NULL, "o", path);
        if (r < 0)
                return report_bus_error(detail, size, "AddOutput", &e, r);
        return 0;
}

int test_session_call(struct test_session *s, const char *method, sd_bus_error *e) {
        return sd_bus_call_method(s->bus, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION, method, e,
                                  NULL, "");
}

int test_session_open(sd_bus *bus, const char *camera, const char *fourcc, unsigned width,
                      unsigned height, bool with_video, struct test_session *s, char *detail,
                      size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        *s = (struct test_session) { .bus = sd_bus_ref(bus), .stream_fd = -1 };
        y4m_reader_init(&s->y4m);

        r = sd_bus_call_method(bus, CAMERAD_SERVICE, CAMERAD_ROOT, CAMERAD_IFACE_MANAGER, "CreateSession",
                               &e, &reply, "s", "video");
        if (r < 0)
                return report_bus_error(detail, size, "CreateSession", &e, r);
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return report_bus_error(detail, size, "CreateSession reply", NULL, r);
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;

        r = sd_bus_match_signal(bus, &s->error_slot, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION,
                                "Error", on_session_error, s);
        if (r < 0)
                return report_bus_error(detail, size, "matching Session.Error", NULL, r);

        r = test_session_call(s, "BeginConfig", &e);
        if (r < 0)
                return report_bus_error(detail, size, "BeginConfig", &e, r);
        r = sd_bus_call_method(bus, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION, "AddInput", &e, NULL,
                               "o", camera);
        if (r < 0)
                return report_bus_error(detail, size, "AddInput", &e, r);
        r = create_output(s, "preview", fourcc, width, height, &s->preview, detail, size);
        if (r < 0)
                return r;
        if (with_video) {
                r = create_output(s, "video", fourcc, width, height, &s->video, detail, size);
                if (r < 0)
                        return r;
        }
        r = test_session_call(s, "CommitConfig", &e);
        if (r < 0)
                return report_bus_error(detail, size, "CommitConfig", &e, r);
        return 0;
}

int test_session_open_stream(struct test_session *s, char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int fd, r;

        r = sd_bus_call_method(s->bus, CAMERAD_SERVICE, s->preview, CAMERAD_IFACE_PREVIEW, "OpenStream",
                               &e, &reply, "");
        if (r < 0)
                return report_bus_error(detail, size, "OpenStream", &e, r);
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return report_bus_error(detail, size, "OpenStream reply", NULL, r);
        /* The fd belongs to the reply message. */
        s->stream_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (s->stream_fd < 0)
                return report_bus_error(detail, size, "dup of the stream fd", NULL, -errno);
        return 0;
}

static int dispatch_bus(sd_bus *bus) {
        int r;

        do
                r = sd_bus_process(bus, NULL);
        while (r > 0);
        return r;
}

static int read_stream(struct test_session *s) {
        char buf[65536];
        ssize_t n = read(s->stream_fd, buf, sizeof buf);

        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        if (n == 0) {
                s->stream_eof = true;
                return 0;
        }
        (void) y4m_reader_feed(&s->y4m, buf, (size_t) n);
        return 0;
}

static int pump(sd_bus *bus, struct test_session *s, int ms, bool stop_on_error) {
        long long deadline = monotonic_ms() + ms;
        int r;

        for (;;) {
                int events = sd_bus_get_events(bus);

                if (events < 0)
                        return events;
                struct pollfd p[2] = {
                        { .fd = sd_bus_get_fd(bus), .events = (short) events },
                        { .fd = s && !s->stream_eof ? s->stream_fd : -1, .events = POLLIN },
                };
                long long left;

                r = dispatch_bus(bus);
                if (r < 0)
                        return r;
                if (s && stop_on_error && s->error_seen)
                        return 0;
                left = deadline - monotonic_ms();
                if (left <= 0)
                        return 0;
                /* sd_bus_process() may want to run again before the deadline. */
                uint64_t usec;
                if (sd_bus_get_timeout(bus, &usec) >= 0 && usec != UINT64_MAX) {
                        struct timespec ts;
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        long long until = (long long) (usec / 1000) -
                                          ((long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
                        left = MIN(left, MAX(until, 0LL));
                }
                r = poll(p, 2, (int) left);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
                        r = read_stream(s);
                        if (r < 0)
                                return r;
                }
        }
}

int test_session_pump(struct test_session *s, int ms, bool stop_on_error, char *detail, size_t size) {
        int r = pump(s->bus, s, ms, stop_on_error);

        if (r < 0)
                return report_bus_error(detail, size, "pumping the bus and the stream", NULL, r);
        return 0;
}

int bus_pump(sd_bus *bus, int ms) {
        return pump(bus, NULL, ms, false);
}

int test_session_state(struct test_session *s, char *buf, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL;
        int r;

        r = sd_bus_get_property_string(s->bus, CAMERAD_SERVICE, s->path, CAMERAD_IFACE_SESSION, "State",
                                       &e, &state);
        if (r < 0)
                return report_bus_error(buf, size, "State", &e, r);
        snprintf(buf, size, "%s", state);
        return 0;
}

void test_session_done(struct test_session *s) {
        if (s->path && s->bus) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                (void) test_session_call(s, "Release", &e);
        }
        s->error_slot = sd_bus_slot_unref(s->error_slot);
        s->stream_fd = safe_close(s->stream_fd);
        y4m_reader_done(&s->y4m);
        free(s->path);
        free(s->preview);
        free(s->video);
        s->path = s->preview = s->video = NULL;
        s->bus = sd_bus_unref(s->bus);
}
