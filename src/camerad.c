/* SPDX-License-Identifier: MIT */
/* camerad: the camera service. Parses flags, prepares the state directory and the
 * configuration, connects to the bus and runs the sd-event loop until SIGTERM/SIGINT or
 * --idle-exit. See the README, "Running the daemon by hand", and camerad(8). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "bus/manager.h"
#include "process/process-config.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/private-dir.h"

enum bus_kind { BUS_SYSTEM, BUS_SESSION, BUS_ADDRESS };

struct options {
        enum bus_kind bus;
        const char *address;
        const char *state_dir;
        const char *config_path;
        unsigned virtual_cameras;
        bool virtual_given;
        bool no_v4l2;
        uint64_t idle_exit_usec;
        bool verbose;
};

static void help(void) {
        printf("Usage: camerad [OPTIONS]\n\n"
               "The camera service: capture sessions and deferred image/video processing on D-Bus\n"
               "(%s).\n\n"
               "  --system               Use the system bus (default)\n"
               "  --session              Use the session bus\n"
               "  --address=ADDR         Use the bus at ADDR\n"
               "  --state-dir=DIR        Keep state in DIR (default: $STATE_DIRECTORY, else\n"
               "                         /var/lib/camerad or $XDG_STATE_HOME/camerad)\n"
               "  --config=PATH          Read settings from PATH (default %s)\n"
               "  --virtual-cameras=N    Add N virtual cameras (default: 1 when no V4L2 camera)\n"
               "  --no-v4l2              Do not use V4L2 devices\n"
               "  --idle-exit=SECONDS    Exit after SECONDS without clients or work\n"
               "  --verbose              Log debug messages\n"
               "  --help                 Show this help\n"
               "  --version              Show the version\n",
               CAMERAD_BUS_NAME, process_config_default_path());
}

static int parse_unsigned(const char *s, unsigned long max, unsigned long *ret) {
        char *end;
        unsigned long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* 0 = run, 1 = exit 0 (help/version), -1 = usage error (message printed). */
static int parse_argv(int argc, char *argv[], struct options *o) {
        enum {
                ARG_SYSTEM = 0x100, ARG_SESSION, ARG_ADDRESS, ARG_STATE_DIR, ARG_CONFIG,
                ARG_VIRTUAL, ARG_NO_V4L2, ARG_IDLE_EXIT, ARG_VERBOSE, ARG_HELP, ARG_VERSION,
        };
        static const struct option options[] = {
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "session", no_argument, NULL, ARG_SESSION },
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "virtual-cameras", required_argument, NULL, ARG_VIRTUAL },
                { "no-v4l2", no_argument, NULL, ARG_NO_V4L2 },
                { "idle-exit", required_argument, NULL, ARG_IDLE_EXIT },
                { "verbose", no_argument, NULL, ARG_VERBOSE },
                { "help", no_argument, NULL, ARG_HELP },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        unsigned long v;
        int c;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case ARG_SYSTEM:
                        o->bus = BUS_SYSTEM;
                        break;
                case ARG_SESSION:
                        o->bus = BUS_SESSION;
                        break;
                case ARG_ADDRESS:
                        o->bus = BUS_ADDRESS;
                        o->address = optarg;
                        break;
                case ARG_STATE_DIR:
                        o->state_dir = optarg;
                        break;
                case ARG_CONFIG:
                        o->config_path = optarg;
                        break;
                case ARG_VIRTUAL:
                        if (parse_unsigned(optarg, 16, &v) < 0) {
                                fprintf(stderr, "camerad: --virtual-cameras wants a number 0..16; got '%s'\n", optarg);
                                return -1;
                        }
                        o->virtual_cameras = v;
                        o->virtual_given = true;
                        break;
                case ARG_NO_V4L2:
                        o->no_v4l2 = true;
                        break;
                case ARG_IDLE_EXIT:
                        if (parse_unsigned(optarg, 7 * 24 * 3600, &v) < 0 || v == 0) {
                                fprintf(stderr, "camerad: --idle-exit wants seconds 1..604800; got '%s'\n", optarg);
                                return -1;
                        }
                        o->idle_exit_usec = (uint64_t) v * 1000000;
                        break;
                case ARG_VERBOSE:
                        o->verbose = true;
                        break;
                case 'h':
                case ARG_HELP:
                        help();
                        return 1;
                case 'v':
                case ARG_VERSION:
                        printf("camerad %s\n", CAMERAD_VERSION);
                        return 1;
                default:
                        fprintf(stderr, "camerad: see --help for the options\n");
                        return -1;
                }
        if (optind < argc) {
                fprintf(stderr, "camerad: unexpected argument '%s'\n", argv[optind]);
                return -1;
        }
        return 0;
}

static int pick_state_dir(const struct options *o, char **ret) {
        const char *env;
        char *dir = NULL;

        if (o->state_dir)
                dir = strdup(o->state_dir);
        else if ((env = getenv("STATE_DIRECTORY")) && *env)
                /* systemd may list several, colon-separated; ours is the first. */
                dir = strndup(env, strcspn(env, ":"));
        else if (o->bus == BUS_SYSTEM)
                dir = strdup("/var/lib/camerad");
        else if ((env = getenv("XDG_STATE_HOME")) && *env == '/') {
                if (asprintf(&dir, "%s/camerad", env) < 0)
                        dir = NULL;
        } else if ((env = getenv("HOME")) && *env == '/') {
                if (asprintf(&dir, "%s/.local/state/camerad", env) < 0)
                        dir = NULL;
        } else {
                fprintf(stderr, "camerad: no state directory: set --state-dir, $XDG_STATE_HOME or $HOME\n");
                return -EINVAL;
        }
        if (!dir)
                return -ENOMEM;
        *ret = dir;
        return 0;
}

static int prepare_state_dir(const char *dir) {
        struct stat st;
        int r;

        r = mkdir_parents(dir, 0700);
        if (r < 0) {
                fprintf(stderr, "camerad: cannot create state directory %s: %s\n", dir, strerror(-r));
                return r;
        }
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "camerad: state directory %s is not a directory\n", dir);
                return -ENOTDIR;
        }
        if (access(dir, R_OK | W_OK | X_OK) < 0) {
                r = -errno;
                fprintf(stderr, "camerad: cannot use state directory %s: %s\n", dir, strerror(errno));
                return r;
        }
        return 0;
}

static int open_bus(const struct options *o, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        switch (o->bus) {
        case BUS_SYSTEM:
                r = sd_bus_open_system(&bus);
                break;
        case BUS_SESSION:
                r = sd_bus_open_user(&bus);
                break;
        default:
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, o->address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_set_trusted(bus, false);
                if (r >= 0)
                        r = sd_bus_negotiate_fds(bus, true);
                if (r >= 0)
                        r = sd_bus_negotiate_creds(bus, true, SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID |
                                                   SD_BUS_CREDS_PID);
                if (r >= 0)
                        r = sd_bus_start(bus);
                break;
        }
        if (r < 0) {
                sd_bus_unref(bus);
                fprintf(stderr, "camerad: cannot connect to the %s bus%s%s: %s\n",
                        o->bus == BUS_SYSTEM ? "system" : o->bus == BUS_SESSION ? "session" : "given",
                        o->address ? " at " : "", o->address ?: "", strerror(-r));
                return r;
        }
        /* Without the bus there is nothing to serve: leave the loop (exit 1) when it goes. */
        r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r < 0) {
                sd_bus_unref(bus);
                fprintf(stderr, "camerad: cannot set up the bus connection: %s\n", strerror(-r));
                return r;
        }
        *ret = bus;
        return 0;
}

int main(int argc, char *argv[]) {
        struct options opts = { .bus = BUS_SYSTEM };
        struct manager *m = NULL;
        _cleanup_free_ char *config_error = NULL;
        sigset_t mask;
        int r;

        r = parse_argv(argc, argv, &opts);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        log_set_max_level(opts.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);

        /* Sockets to gone readers must give EPIPE, not kill us. */
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = manager_new(&m);
        if (r < 0) {
                fprintf(stderr, "camerad: cannot set up: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        m->use_v4l2 = !opts.no_v4l2;
        m->idle_exit_usec = opts.idle_exit_usec;
        m->system_bus = opts.bus == BUS_SYSTEM;

        m->config = calloc(1, sizeof *m->config);
        if (!m->config) {
                r = -ENOMEM;
                goto fail;
        }
        /* A missing default file means defaults; a file named on the command line must exist. */
        if (opts.config_path && access(opts.config_path, F_OK) < 0) {
                r = negative_errno();
                fprintf(stderr, "camerad: --config=%s: %s\n", opts.config_path, strerror(-r));
                goto fail;
        }
        r = process_config_load(opts.config_path, m->config, &config_error);
        if (r < 0) {
                fprintf(stderr, "camerad: %s: %s\n", opts.config_path ?: process_config_default_path(),
                        config_error ?: strerror(-r));
                goto fail;
        }

        r = pick_state_dir(&opts, &m->state_dir);
        if (r < 0)
                goto fail;
        r = prepare_state_dir(m->state_dir);
        if (r < 0)
                goto fail;

        r = open_bus(&opts, &m->bus);
        if (r < 0)
                goto fail;

        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_set_watchdog(m->event, true);
        if (r < 0) {
                fprintf(stderr, "camerad: cannot set up the event loop: %s\n", strerror(-r));
                goto fail;
        }

        r = manager_start(m, opts.virtual_cameras, opts.virtual_given);
        if (r < 0) {
                fprintf(stderr, "camerad: cannot start: %s\n", strerror(-r));
                goto fail;
        }
        r = manager_take_name(m);
        if (r < 0) {
                fprintf(stderr, "camerad: cannot own %s on the bus: %s\n", CAMERAD_BUS_NAME,
                        r == -EEXIST ? "another instance has it" :
                        r == -EACCES || r == -EPERM ? "the bus policy does not allow this user" :
                        strerror(-r));
                goto fail;
        }

        log_info("camerad %s ready on %s (state in %s)", CAMERAD_VERSION, CAMERAD_BUS_NAME, m->state_dir);
        (void) sd_notify(false, "READY=1\nSTATUS=Serving");

        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
        else if (r == EXIT_FAILURE) /* what sd-bus's exit-on-disconnect hands sd_event_exit() */
                log_error("camerad: lost the connection to the bus; exiting");
        manager_free(m);
        return r < 0 ? EXIT_FAILURE : r;

fail:
        manager_free(m);
        return EXIT_FAILURE;
}
