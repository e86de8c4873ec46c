/* SPDX-License-Identifier: MIT */
/* Test client run inside the vivid VM. Every command prints its result as one last line on
 * stdout (the init script turns it into a "VIVID-TEST: <name>: PASS|FAIL <line>" line) and
 * exits 0 on success, 1 on failure, 2 on bad usage. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-bus.h"
#include "client-controls.h"
#include "client-v4l2.h"
#include "shared/macro.h"

static int parse_size(const char *s, unsigned *w, unsigned *h) {
        return sscanf(s, "%ux%u", w, h) == 2 && *w > 0 && *h > 0 ? 0 : -EINVAL;
}

static int usage(void) {
        fprintf(stderr,
                "usage: vivid-client probe DEV FOURCC WxH\n"
                "       vivid-client stream DEV FOURCC WxH FRAMES\n"
                "       vivid-client controls DEV\n"
                "       vivid-client has-controls DEV NAME...\n"
                "       vivid-client set-control DEV NAME VALUE\n"
                "       vivid-client find-camera ID-PREFIX\n"
                "       vivid-client check-formats DEV CAMERA [FOURCC,...]\n"
                "       vivid-client wait-camera-gone CAMERA SECONDS\n"
                "       vivid-client session CAMERA FOURCC WxH SECONDS [RECORD-FILE]\n"
                "       vivid-client fault-dropped DEV CAMERA FOURCC WxH SECONDS\n"
                "       vivid-client fault-streamon DEV CAMERA FOURCC WxH\n"
                "       vivid-client fault-disconnect DEV CAMERA VIRTUAL-CAMERA FOURCC WxH\n"
                "       vivid-client controls-listed|controls-picture|controls-flip|controls-autogain|\n"
                "                    controls-invalid|controls-events DEV CAMERA\n"
                "       vivid-client set-controls CAMERA NAME=VALUE...\n");
        return 2;
}

static int finish(int r, const char *detail) {
        printf("%s\n", detail);
        fflush(stdout);
        return r < 0 ? 1 : 0;
}

static int cmd_has_controls(const char *dev, char **names, int n, char *detail, size_t size) {
        size_t used = 0;
        int r;

        for (int i = 0; i < n; i++) {
                char one[128];

                /* Read-only lookup: the device is opened per name, which is cheap. */
                r = v4l2_control_exists(dev, names[i], one, sizeof one);
                if (r < 0) {
                        snprintf(detail, size, "%s", one);
                        return r;
                }
                used += (size_t) snprintf(detail + used, used < size ? size - used : 0, "%s%s",
                                          i ? ", " : "", one);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        char detail[512] = "";
        unsigned w = 0, h = 0;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2)
                return usage();
        const char *cmd = argv[1];

        if (streq(cmd, "probe") && argc == 5) {
                if (parse_size(argv[4], &w, &h) < 0)
                        return usage();
                r = v4l2_probe(argv[2], fourcc_from_string(argv[3]), w, h, detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "stream") && argc == 6) {
                if (parse_size(argv[4], &w, &h) < 0)
                        return usage();
                r = v4l2_stream(argv[2], fourcc_from_string(argv[3]), w, h,
                                (unsigned) strtoul(argv[5], NULL, 10), 60 * 1000, detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "controls") && argc == 3) {
                r = v4l2_list_controls(argv[2]);
                return finish(r, r < 0 ? strerror(-r) : "listed");
        }
        if (streq(cmd, "has-controls") && argc >= 4) {
                r = cmd_has_controls(argv[2], argv + 3, argc - 3, detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "set-control") && argc == 5) {
                r = v4l2_set_control(argv[2], argv[3], (int32_t) strtol(argv[4], NULL, 0), detail,
                                     sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "find-camera") && argc == 3) {
                r = bus_find_camera(argv[2], detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "check-formats") && (argc == 4 || argc == 5)) {
                r = bus_check_formats(argv[2], argv[3], argc == 5 ? argv[4] : "YUYV,NV12", detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "wait-camera-gone") && argc == 4) {
                r = bus_wait_camera_gone(argv[2], strtod(argv[3], NULL), detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "session") && (argc == 6 || argc == 7)) {
                if (parse_size(argv[4], &w, &h) < 0)
                        return usage();
                r = bus_check_session(argv[2], argv[3], w, h, strtod(argv[5], NULL),
                                      argc == 7 ? argv[6] : NULL, detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "fault-dropped") && argc == 7) {
                if (parse_size(argv[5], &w, &h) < 0)
                        return usage();
                r = bus_check_dropped_buffers(argv[2], argv[3], argv[4], w, h, strtod(argv[6], NULL),
                                              detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "fault-streamon") && argc == 6) {
                if (parse_size(argv[5], &w, &h) < 0)
                        return usage();
                r = bus_check_streamon_error(argv[2], argv[3], argv[4], w, h, detail, sizeof detail);
                return finish(r, detail);
        }
        if (streq(cmd, "fault-disconnect") && argc == 7) {
                if (parse_size(argv[6], &w, &h) < 0)
                        return usage();
                r = bus_check_disconnect(argv[2], argv[3], argv[4], argv[5], w, h, detail, sizeof detail);
                return finish(r, detail);
        }
        if (argc == 4) {
                static const struct {
                        const char *name;
                        int (*check)(const char *, const char *, char *, size_t);
                } controls[] = {
                        { "controls-listed", bus_check_controls_listed },
                        { "controls-picture", bus_check_controls_picture },
                        { "controls-flip", bus_check_controls_flip },
                        { "controls-autogain", bus_check_controls_autogain },
                        { "controls-invalid", bus_check_controls_invalid },
                        { "controls-events", bus_check_controls_events },
                };
                for (size_t i = 0; i < ELEMENTSOF(controls); i++)
                        if (streq(cmd, controls[i].name))
                                return finish(controls[i].check(argv[2], argv[3], detail, sizeof detail), detail);
        }
        if (streq(cmd, "set-controls") && argc >= 4) {
                r = bus_set_controls(argv[2], argv + 3, argc - 3, detail, sizeof detail);
                return finish(r, detail);
        }
        return usage();
}
