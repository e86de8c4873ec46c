/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "client-y4m.h"

/* One camerad capture session as the VM test client sees it: the object paths, the
 * session's Error signal once it came, and the preview stream being checked. */

#define CAMERAD_SERVICE "org.camerad.Camera1"
#define CAMERAD_ROOT "/org/camerad/Camera1"
#define CAMERAD_IFACE_MANAGER CAMERAD_SERVICE ".Manager"
#define CAMERAD_IFACE_CAMERA CAMERAD_SERVICE ".Camera"
#define CAMERAD_IFACE_SESSION CAMERAD_SERVICE ".Session"
#define CAMERAD_IFACE_PREVIEW CAMERAD_SERVICE ".PreviewOutput"
#define CAMERAD_IFACE_VIDEO CAMERAD_SERVICE ".VideoOutput"
#define SERVICE_FATAL CAMERAD_SERVICE ".Error.ServiceFatal"
#define CODE_SERVICE_FATAL 7400201u

struct test_session {
        sd_bus *bus;
        char *path;
        char *preview;
        char *video;
        sd_bus_slot *error_slot;

        bool error_seen;
        uint32_t error_code;
        char error_message[256];

        int stream_fd;
        bool stream_eof;
        struct y4m_reader y4m;
};

/* Writes "what: error-name: message" into detail; returns a negative errno. */
int report_bus_error(char *detail, size_t size, const char *what, const sd_bus_error *e, int r);

/* CreateSession("video"), BeginConfig, AddInput, preview (+ video) outputs with the profile
 * {format, width, height}, CommitConfig. */
int test_session_open(sd_bus *bus, const char *camera, const char *fourcc, unsigned width,
                      unsigned height, bool with_video, struct test_session *s, char *detail,
                      size_t size);

/* Calls a no-argument Session method (Start, Stop, Release, ...); error in *e. */
int test_session_call(struct test_session *s, const char *method, sd_bus_error *e);

int test_session_open_stream(struct test_session *s, char *detail, size_t size);

/* Reads the preview stream and dispatches bus messages for ms milliseconds, or until
 * stop_on_error and the session's Error signal arrived. */
int test_session_pump(struct test_session *s, int ms, bool stop_on_error, char *detail, size_t size);

/* Session State property into buf. */
int test_session_state(struct test_session *s, char *buf, size_t size);

/* Release (errors ignored: this is cleanup) and free everything. */
void test_session_done(struct test_session *s);

/* Dispatches bus messages for ms milliseconds with no stream. */
int bus_pump(sd_bus *bus, int ms);

long long monotonic_ms(void);
