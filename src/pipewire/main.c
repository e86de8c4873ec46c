/* SPDX-License-Identifier: MIT */
/* camerad-pipewire: publishes each camerad camera as a PipeWire camera node. One thread:
 * sd-event runs the loop, and PipeWire's own loop is one of its sources (its epoll fd),
 * so bus replies, preview frames and PipeWire events are all handled here in turn. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pipewire/bridge.h"
#include "pipewire/camera-node.h"
#include "pipewire/camerad-watch.h"
#include "shared/log.h"
#include "shared/macro.h"

enum bus_kind { BUS_SYSTEM, BUS_SESSION, BUS_ADDRESS };

struct node_list {
        struct node_entry {
                struct node_entry *next;
                struct camera_node *node;
        } *first;
        struct bridge *bridge;
};

static void on_camera_added(void *userdata, const struct camera_info *info) {
        struct node_list *list = userdata;
        struct node_entry *e = calloc(1, sizeof *e);
        int r;

        if (!e) {
                log_error("out of memory");
                return;
        }
        r = camera_node_new(list->bridge, info, &e->node);
        if (r < 0) {
                log_warning_errno(r, "camera %s (%s): no node: %m", info->path, info->id);
                free(e);
                return;
        }
        e->next = list->first;
        list->first = e;
}

static void free_entry(struct node_entry **link, const char *why) {
        struct node_entry *e = *link;
        *link = e->next;
        camera_node_free(e->node, why);
        free(e);
}

static void on_camera_removed(void *userdata, const char *path) {
        struct node_list *list = userdata;
        for (struct node_entry **link = &list->first; *link; link = &(*link)->next)
                if (streq(camera_node_path((*link)->node), path)) {
                        free_entry(link, "the camera is gone from camerad");
                        return;
                }
}

static void on_capture_format_changed(void *userdata, const char *path, const struct camera_format *capture) {
        struct node_list *list = userdata;
        for (struct node_entry *e = list->first; e; e = e->next)
                if (streq(camera_node_path(e->node), path))
                        camera_node_set_capture_format(e->node, capture);
}

static const struct camerad_watch_ops watch_ops = {
        .camera_added = on_camera_added,
        .camera_removed = on_camera_removed,
        .capture_format_changed = on_capture_format_changed,
};

static int on_pw_loop(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct pw_loop *loop = userdata;
        /* Timeout 0: only what is ready now; sd-event waits for the next event. */
        int r = pw_loop_iterate(loop, 0);
        if (r < 0 && r != -EINTR)
                log_warning_errno(r, "PipeWire loop: %m");
        return 0;
}

static void on_core_error(void *userdata, uint32_t id, int seq, int res, const char *message) {
        struct bridge *b = userdata;
        log_warning("PipeWire error on object %u: %s (%s)", id, message, strerror(-res));
        /* A lost core is a lost PipeWire: exit and let the unit restart us. */
        if (id == PW_ID_CORE && res == -EPIPE)
                sd_event_exit(b->event, EXIT_FAILURE);
}

static const struct pw_core_events core_events = {
        PW_VERSION_CORE_EVENTS,
        .error = on_core_error,
};

static int connect_bus(enum bus_kind kind, const char *address, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        switch (kind) {
        case BUS_SESSION:
                return sd_bus_open_user(ret);
        case BUS_SYSTEM:
                return sd_bus_open_system(ret);
        case BUS_ADDRESS:
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_negotiate_fds(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (r < 0) {
                        sd_bus_unref(bus);
                        return r;
                }
                *ret = bus;
                return 0;
        }
        return -EINVAL;
}

static void usage(FILE *f) {
        fputs("Usage: camerad-pipewire [--system | --session | --address=ADDR] [--verbose]\n"
              "Publishes camerad's cameras as PipeWire camera nodes (media.role=Camera).\n",
              f);
}

static int run(enum bus_kind kind, const char *address) {
        struct bridge b = {};
        struct node_list list = { .bridge = &b };
        struct camerad_watch *watch = NULL;
        struct spa_hook core_listener;
        sd_event_source *pw_source = NULL;
        int r, ret = EXIT_FAILURE;

        r = sd_event_default(&b.event);
        if (r < 0) {
                log_error_errno(r, "cannot create the event loop: %m");
                return EXIT_FAILURE;
        }
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) sd_event_add_signal(b.event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(b.event, NULL, SIGINT, NULL, NULL);

        r = connect_bus(kind, address, &b.bus);
        if (r < 0) {
                log_error_errno(r, "cannot connect to %s: %m",
                                kind == BUS_SYSTEM ? "the system bus" : kind == BUS_SESSION ? "the session bus" : address);
                goto out;
        }
        r = sd_bus_attach_event(b.bus, b.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                goto out;

        b.loop = pw_loop_new(NULL);
        if (!b.loop) {
                log_error("cannot create the PipeWire loop");
                goto out;
        }
        b.context = pw_context_new(b.loop, NULL, 0);
        if (!b.context) {
                log_error("cannot create the PipeWire context");
                goto out;
        }
        pw_loop_enter(b.loop);
        r = sd_event_add_io(b.event, &pw_source, pw_loop_get_fd(b.loop), EPOLLIN, on_pw_loop, b.loop);
        if (r < 0)
                goto out_leave;
        b.core = pw_context_connect(b.context, NULL, 0);
        if (!b.core) {
                log_error("cannot connect to PipeWire: %s", strerror(errno));
                goto out_leave;
        }
        pw_core_add_listener(b.core, &core_listener, &core_events, &b);

        r = camerad_watch_new(b.bus, &watch_ops, &list, &watch);
        if (r < 0) {
                log_error_errno(r, "cannot watch camerad: %m");
                goto out_leave;
        }
        log_info("camerad-pipewire %s running", CAMERAD_VERSION);
        r = sd_event_loop(b.event);
        ret = r == EXIT_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;

out_leave:
        watch = camerad_watch_free(watch);
        while (list.first)
                free_entry(&list.first, "camerad-pipewire is stopping");
        if (b.core) {
                spa_hook_remove(&core_listener);
                pw_core_disconnect(b.core);
        }
        sd_event_source_disable_unref(pw_source);
        pw_loop_leave(b.loop);
out:
        if (b.context)
                pw_context_destroy(b.context);
        if (b.loop)
                pw_loop_destroy(b.loop);
        if (b.bus)
                sd_bus_flush_close_unref(b.bus);
        sd_event_unref(b.event);
        return ret;
}

int main(int argc, char *argv[]) {
        enum { ARG_SYSTEM = 0x100, ARG_SESSION, ARG_ADDRESS, ARG_VERBOSE };
        static const struct option options[] = {
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "session", no_argument, NULL, ARG_SESSION },
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "verbose", no_argument, NULL, ARG_VERBOSE },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        enum bus_kind kind = BUS_SYSTEM;
        const char *address = NULL;
        int c;

        log_set_max_level(LOG_LEVEL_INFO);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_SYSTEM:
                        kind = BUS_SYSTEM;
                        break;
                case ARG_SESSION:
                        kind = BUS_SESSION;
                        break;
                case ARG_ADDRESS:
                        kind = BUS_ADDRESS;
                        address = optarg;
                        break;
                case ARG_VERBOSE:
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "camerad-pipewire: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }

        pw_init(&argc, &argv);
        int ret = run(kind, address);
        pw_deinit();
        return ret;
}
