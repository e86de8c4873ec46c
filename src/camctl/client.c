/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "camctl/client.h"
#include "shared/fd-util.h"

volatile sig_atomic_t camctl_stop_requested;

static void on_stop_signal(int sig) {
        camctl_stop_requested = 1;
}

void camctl_catch_signals(void) {
        /* No SA_RESTART: a blocking read or poll returns EINTR so the verb notices. */
        struct sigaction sa = { .sa_handler = on_stop_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

uint64_t camctl_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int camctl_error(int code, const char *format, ...) {
        va_list ap;
        fputs("camctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return code;
}

/* Whether camerad's message already names the call ("7400101: SetControls: …"), so that
 * camctl does not say it twice. */
static bool message_names(const char *message, const char *what) {
        const char *p = message + strspn(message, "0123456789");
        size_t n = strlen(what);

        p = p != message && strncmp(p, ": ", 2) == 0 ? p + 2 : message;
        return strncmp(p, what, n) == 0 && p[n] == ':';
}

int camctl_bus_error(const sd_bus_error *e, int r, const char *what) {
        if (!sd_bus_error_is_set(e)) {
                if (r == -ETIMEDOUT)
                        return camctl_error(CAMCTL_EXIT_TIMEOUT, "%s: timed out", what);
                if (r == -ECONNRESET || r == -ENOTCONN)
                        return camctl_error(CAMCTL_EXIT_NO_DAEMON, "%s: lost the connection to the bus", what);
                return camctl_error(CAMCTL_EXIT_FAILED, "%s: %s", what, strerror(-r));
        }

        if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                   SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED))
                return camctl_error(CAMCTL_EXIT_NO_DAEMON, "%s: camerad is not running on this bus: %s (%s)",
                                    what, e->message ?: "", e->name);
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_TIMEOUT, "org.freedesktop.DBus.Error.TimedOut") || r == -ETIMEDOUT)
                return camctl_error(CAMCTL_EXIT_TIMEOUT, "%s: timed out: %s (%s)", what, e->message ?: "", e->name);
        int code = sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) ? CAMCTL_EXIT_DENIED : CAMCTL_EXIT_FAILED;
        if (e->message && message_names(e->message, what))
                return camctl_error(code, "%s (%s)", e->message, e->name);
        return camctl_error(code, "%s: %s (%s)", what, e->message ?: "", e->name);
}

int camctl_connect(const struct camctl_args *a, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *which;
        int r;

        switch (a->bus_kind) {
        case CAMCTL_BUS_SESSION:
                which = "the session bus";
                r = sd_bus_open_user(&bus);
                break;
        case CAMCTL_BUS_ADDRESS:
                which = a->address;
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, a->address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_negotiate_fds(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
                break;
        default:
                which = "the system bus";
                r = sd_bus_open_system(&bus);
                break;
        }
        if (r < 0)
                return camctl_error(CAMCTL_EXIT_NO_DAEMON, "cannot connect to %s: %s", which, strerror(-r));

        *ret = TAKE_PTR(bus);
        return 0;
}

int camctl_call(struct camctl *c, const char *path, const char *iface, const char *member,
                sd_bus_message **reply, const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(c->bus, CAMERAD_BUS_NAME, path, iface, member, &e, reply, types, ap);
        va_end(ap);
        if (r < 0)
                return camctl_bus_error(&e, r, member);
        return 0;
}

int camctl_get_property(struct camctl *c, const char *path, const char *iface, const char *name,
                        const char *type, sd_bus_message **reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        /* sd_bus_get_property() leaves the reply inside the variant already. */
        r = sd_bus_get_property(c->bus, CAMERAD_BUS_NAME, path, iface, name, &e, reply, type);
        if (r < 0)
                return camctl_bus_error(&e, r, name);
        return 0;
}

int camctl_get_string(struct camctl *c, const char *path, const char *iface, const char *name,
                      char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *s;
        int r;

        r = camctl_get_property(c, path, iface, name, "s", &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "s", &s);
        if (r < 0)
                return camctl_bus_error(NULL, r, name);
        *ret = strdup(s);
        return *ret ? 0 : camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
}

static int get_process_session(struct camctl *c, const char *member, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = camctl_call(c, CAMERAD_ROOT_PATH, CAMERAD_IFACE_MANAGER, member, &reply, "");
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return camctl_bus_error(NULL, r, member);
        *ret_path = strdup(path);
        return *ret_path ? 0 : camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
}

int camctl_image_session(struct camctl *c, char **ret_path) {
        return get_process_session(c, "GetImageProcessSession", ret_path);
}

int camctl_video_session(struct camctl *c, char **ret_path) {
        return get_process_session(c, "GetVideoProcessSession", ret_path);
}

uint64_t camctl_deadline(const struct camctl *c) {
        if (c->args->timeout <= 0)
                return 0; /* --timeout=0: wait as long as it takes */
        return camctl_now_usec() + (uint64_t) (c->args->timeout * 1e6);
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        bool *lost = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && new_owner[0] == '\0')
                *lost = true;
        return 0;
}

int camctl_wait(struct camctl *c, const bool *done, uint64_t deadline, void (*tick)(void *),
                void *userdata) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        bool lost = false;
        uint64_t last_tick = 0;
        int r;

        /* Without this a daemon crash would only show up as a timeout. */
        r = sd_bus_add_match(c->bus, &slot,
                             "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                             "member='NameOwnerChanged',arg0='" CAMERAD_BUS_NAME "'",
                             on_owner_changed, &lost);
        if (r < 0)
                return camctl_bus_error(NULL, r, "watching camerad");

        for (;;) {
                uint64_t now, wait_usec = 200000;

                r = sd_bus_process(c->bus, NULL);
                if (r < 0)
                        return camctl_bus_error(NULL, r, "waiting");

                now = camctl_now_usec();
                if (tick && (r > 0 || now - last_tick >= 200000 || camctl_stop_requested)) {
                        tick(userdata);
                        last_tick = now;
                }
                /* The tick may end the wait on a stop request, so it looks first. */
                if (*done)
                        return 0;
                if (lost)
                        return camctl_error(CAMCTL_EXIT_NO_DAEMON, "camerad left the bus while camctl was waiting");
                if (camctl_stop_requested)
                        return camctl_error(CAMCTL_EXIT_INTERRUPTED, "interrupted");
                if (r > 0)
                        continue;

                if (deadline > 0) {
                        if (now >= deadline)
                                return camctl_error(CAMCTL_EXIT_TIMEOUT, "gave up waiting after %.0f s (--timeout)",
                                                    c->args->timeout);
                        wait_usec = MIN(wait_usec, deadline - now);
                }
                r = sd_bus_wait(c->bus, wait_usec);
                if (r < 0 && r != -EINTR)
                        return camctl_bus_error(NULL, r, "waiting");
        }
}

static int copy_all(int in_fd, int out_fd, uint64_t *ret_size) {
        char buf[65536];
        uint64_t total = 0;

        for (;;) {
                ssize_t n = read(in_fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                int r = fd_write_all(out_fd, buf, (size_t) n);
                if (r < 0)
                        return r;
                total += (uint64_t) n;
        }
        if (ret_size)
                *ret_size = total;
        return 0;
}

int camctl_save_fd(int fd, const char *path, uint64_t *ret_size) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int out = -1;
        mode_t mask;
        int r;

        /* The fd may have been read before through another duplicate. */
        (void) lseek(fd, 0, SEEK_SET);

        if (streq(path, "-")) {
                r = copy_all(fd, STDOUT_FILENO, ret_size);
                if (r < 0)
                        return camctl_error(CAMCTL_EXIT_LOCAL, "cannot write to standard output: %s", strerror(-r));
                return 0;
        }

        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return camctl_error(CAMCTL_EXIT_LOCAL, "out of memory");
        out = mkostemp(tmp, O_CLOEXEC);
        if (out < 0)
                return camctl_error(CAMCTL_EXIT_LOCAL, "cannot create '%s': %s", path, strerror(errno));

        /* mkostemp() makes 0600; a saved picture gets the usual 0666 & ~umask. */
        mask = umask(0);
        umask(mask);
        (void) fchmod(out, 0666 & ~mask);

        r = copy_all(fd, out, ret_size);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return camctl_error(CAMCTL_EXIT_LOCAL, "cannot write '%s': %s", path, strerror(-r));
        }
        return 0;
}

int camctl_read_dict(sd_bus_message *m, cJSON **ret) {
        cJSON *o = cJSON_CreateObject();
        int r;

        if (!o)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents;
                char type;
                cJSON *v = NULL;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        break;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        break;
                type = contents[0];
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        break;
                if (contents[1] != '\0') {
                        r = sd_bus_message_skip(m, contents);
                } else {
                        union {
                                uint8_t y; int b; int16_t n; uint16_t q; int32_t i; uint32_t u;
                                int64_t x; uint64_t t; double d; const char *s;
                        } val;
                        r = sd_bus_message_read_basic(m, type, &val);
                        if (r >= 0)
                                switch (type) {
                                case 'y': v = cJSON_CreateNumber(val.y); break;
                                case 'b': v = cJSON_CreateBool(val.b); break;
                                case 'n': v = cJSON_CreateNumber(val.n); break;
                                case 'q': v = cJSON_CreateNumber(val.q); break;
                                case 'i': v = cJSON_CreateNumber(val.i); break;
                                case 'u': v = cJSON_CreateNumber(val.u); break;
                                case 'x': v = cJSON_CreateNumber((double) val.x); break;
                                case 't': v = cJSON_CreateNumber((double) val.t); break;
                                case 'd': v = cJSON_CreateNumber(val.d); break;
                                case 's': case 'o': case 'g': v = cJSON_CreateString(val.s); break;
                                default: break; /* fds and the like have no JSON form */
                                }
                }
                if (r < 0)
                        break;
                if (v)
                        cJSON_AddItemToObject(o, key, v);
                r = sd_bus_message_exit_container(m);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0) {
                cJSON_Delete(o);
                return camctl_bus_error(NULL, r, "reading a dictionary");
        }
        *ret = o;
        return 0;
}
