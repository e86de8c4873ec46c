/* SPDX-License-Identifier: MIT */
#include "client-bus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-session.h"
#include "client-v4l2.h"
#include "shared/macro.h"

/* vivid under qemu's software emulation makes 640x480 at a few frames per second at best;
 * "frames are delivered" means at least this average rate over the reading time. */
#define MIN_FPS 1.0
#define MIN_FRAMES 3u


static int open_bus(sd_bus **ret, char *detail, size_t size) {
        int r = sd_bus_open_system(ret);

        if (r < 0)
                return report_bus_error(detail, size, "connecting to the system bus", NULL, r);
        return 0;
}

static unsigned min_frames_for(double seconds) {
        return MAX(MIN_FRAMES, (unsigned) (seconds * MIN_FPS));
}

/* Checks the frames the session delivered on its preview stream. */
static int check_preview(struct test_session *s, unsigned width, unsigned height, double seconds,
                         char *detail, size_t size) {
        const struct y4m_reader *y = &s->y4m;
        unsigned want = min_frames_for(seconds);

        if (y->failed) {
                snprintf(detail, size, "malformed preview stream: %s", y->error);
                return -EBADMSG;
        }
        if (!y->header_done) {
                snprintf(detail, size, "no Y4M stream header within %.1f s%s", seconds,
                         s->stream_eof ? " (stream closed)" : "");
                return -ENODATA;
        }
        if (y->width != width || y->height != height) {
                snprintf(detail, size, "preview is %ux%u, asked %ux%u", y->width, y->height, width, height);
                return -EINVAL;
        }
        if (y->frames < want) {
                snprintf(detail, size, "only %u whole frames (C%s) in %.1f s, want >= %u", y->frames,
                         y->colorspace, seconds, want);
                return -ENODATA;
        }
        snprintf(detail, size, "%u whole %ux%u C%s frames in %.1f s", y->frames, width, height,
                 y->colorspace, seconds);
        return 0;
}

static int find_camera_once(sd_bus *bus, const char *id_prefix, char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_get_property(bus, CAMERAD_SERVICE, CAMERAD_ROOT, CAMERAD_IFACE_MANAGER, "Cameras", &e,
                                &reply, "ao");
        if (r < 0)
                return report_bus_error(detail, size, "Manager.Cameras", &e, r);
        r = sd_bus_message_enter_container(reply, 'a', "o");
        if (r < 0)
                return report_bus_error(detail, size, "Manager.Cameras reply", NULL, r);
        while ((r = sd_bus_message_read(reply, "o", &path)) > 0) {
                _cleanup_free_ char *id = NULL;

                r = sd_bus_get_property_string(bus, CAMERAD_SERVICE, path, CAMERAD_IFACE_CAMERA, "Id", &e, &id);
                if (r < 0)
                        return report_bus_error(detail, size, "Camera.Id", &e, r);
                if (strncmp(id, id_prefix, strlen(id_prefix)) == 0) {
                        snprintf(detail, size, "%s", path);
                        return 0;
                }
        }
        snprintf(detail, size, "no camera with an Id starting with %s", id_prefix);
        return -ENOENT;
}

int bus_find_camera(const char *id_prefix, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        long long deadline = monotonic_ms() + 20 * 1000;
        int r;

        r = open_bus(&bus, detail, size);
        if (r < 0)
                return r;
        for (;;) {
                r = find_camera_once(bus, id_prefix, detail, size);
                if (r != -ENOENT || monotonic_ms() > deadline)
                        return r;
                usleep(250 * 1000);
        }
}

static int camera_listed(sd_bus *bus, const char *camera, bool *ret, char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_get_property(bus, CAMERAD_SERVICE, CAMERAD_ROOT, CAMERAD_IFACE_MANAGER, "Cameras", &e,
                                &reply, "ao");
        if (r < 0)
                return report_bus_error(detail, size, "Manager.Cameras", &e, r);
        r = sd_bus_message_enter_container(reply, 'a', "o");
        if (r < 0)
                return report_bus_error(detail, size, "Manager.Cameras reply", NULL, r);
        *ret = false;
        while ((r = sd_bus_message_read(reply, "o", &path)) > 0)
                if (streq(path, camera))
                        *ret = true;
        return r < 0 ? report_bus_error(detail, size, "Manager.Cameras reply", NULL, r) : 0;
}

/* Whether camera's object still answers Properties.Get; *ret_error gets the error name. */
static bool camera_object_answers(sd_bus *bus, const char *camera, char *ret_error, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *id = NULL;
        int r;

        r = sd_bus_get_property_string(bus, CAMERAD_SERVICE, camera, CAMERAD_IFACE_CAMERA, "Id", &e, &id);
        snprintf(ret_error, size, "%s", r >= 0 ? id : e.name ? e.name : strerror(-r));
        return r >= 0;
}

int bus_wait_camera_gone(const char *camera, double seconds, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        long long t0 = monotonic_ms(), deadline = t0 + (long long) (seconds * 1000);
        bool listed = true, answers = true;
        char answer[128];
        int r;

        r = open_bus(&bus, detail, size);
        if (r < 0)
                return r;
        /* The node's removal reaches camerad through inotify: poll until both are gone. */
        for (;;) {
                r = camera_listed(bus, camera, &listed, detail, size);
                if (r < 0)
                        return r;
                answers = camera_object_answers(bus, camera, answer, sizeof answer);
                if ((!listed && !answers) || monotonic_ms() > deadline)
                        break;
                usleep(100 * 1000);
        }
        if (listed) {
                snprintf(detail, size, "%s still in Manager.Cameras %.1f s after its node went away", camera,
                         seconds);
                return -ETIMEDOUT;
        }
        if (answers) {
                snprintf(detail, size, "%s left Manager.Cameras but its object still answers %.1f s after its "
                         "node went away (Id %s)", camera, seconds, answer);
                return -EEXIST;
        }
        snprintf(detail, size, "%s gone within %lld ms: not in Manager.Cameras, its object answers %s", camera,
                 monotonic_ms() - t0, answer);
        return 0;
}

static int record_start(struct test_session *s, const char *file, char **ret_id, char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_close_ int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        const char *id;
        int r;

        if (fd < 0)
                return report_bus_error(detail, size, file, NULL, -errno);
        /* Not deferred: this test is about the capture path, not the video processor. */
        r = sd_bus_call_method(s->bus, CAMERAD_SERVICE, s->video, CAMERAD_IFACE_VIDEO, "StartRecording", &e,
                               &reply, "ha{sv}", fd, 1, "deferred", "b", 0);
        if (r < 0)
                return report_bus_error(detail, size, "StartRecording", &e, r);
        r = sd_bus_message_read(reply, "s", &id);
        if (r < 0)
                return report_bus_error(detail, size, "StartRecording reply", NULL, r);
        *ret_id = strdup(id);
        return *ret_id ? 0 : -ENOMEM;
}

int bus_check_session(const char *camera, const char *fourcc, unsigned width, unsigned height,
                      double seconds, const char *record_file, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(test_session_done) struct test_session s = { .stream_fd = -1 };
        _cleanup_free_ char *video_id = NULL;
        char preview[256];
        long long t0, t1;
        int r;

        r = open_bus(&bus, detail, size);
        if (r < 0)
                return r;
        r = test_session_open(bus, camera, fourcc, width, height, record_file != NULL, &s, detail, size);
        if (r < 0)
                return r;
        r = test_session_open_stream(&s, detail, size);
        if (r < 0)
                return r;
        r = test_session_call(&s, "Start", &e);
        if (r < 0)
                return report_bus_error(detail, size, "Start", &e, r);
        if (record_file) {
                r = record_start(&s, record_file, &video_id, detail, size);
                if (r < 0)
                        return r;
        }
        t0 = monotonic_ms();
        r = test_session_pump(&s, (int) (seconds * 1000), true, detail, size);
        if (r < 0)
                return r;
        if (s.error_seen) {
                snprintf(detail, size, "Session.Error(%u, %s) while streaming", s.error_code, s.error_message);
                return -EIO;
        }
        if (record_file) {
                r = sd_bus_call_method(bus, CAMERAD_SERVICE, s.video, CAMERAD_IFACE_VIDEO, "StopRecording", &e,
                                       NULL, "");
                if (r < 0)
                        return report_bus_error(detail, size, "StopRecording", &e, r);
        }
        t1 = monotonic_ms();
        r = test_session_call(&s, "Stop", &e);
        if (r < 0)
                return report_bus_error(detail, size, "Stop", &e, r);

        r = check_preview(&s, width, height, seconds, preview, sizeof preview);
        if (r < 0) {
                snprintf(detail, size, "%s", preview);
                return r;
        }
        if (record_file) {
                struct stat st;

                if (stat(record_file, &st) < 0)
                        return report_bus_error(detail, size, record_file, NULL, -errno);
                snprintf(detail, size, "%s; recorded %s: %lld bytes over %.2f s", preview, video_id,
                         (long long) st.st_size, (double) (t1 - t0) / 1000.0);
                /* The host checks the file with ffprobe; the init script copies it out. */
                if (st.st_size == 0)
                        return -ENODATA;
        } else
                snprintf(detail, size, "%s", preview);
        return 0;
}

int bus_check_dropped_buffers(const char *devnode, const char *camera, const char *fourcc,
                              unsigned width, unsigned height, double seconds, char *detail,
                              size_t size) {
        char control[160], reset[160];
        int r, r_reset;

        r = v4l2_set_control(devnode, "percentage_of_dropped_buffers", 50, control, sizeof control);
        if (r < 0) {
                snprintf(detail, size, "%s", control);
                return r;
        }
        r = bus_check_session(camera, fourcc, width, height, seconds, NULL, detail, size);
        r_reset = v4l2_set_control(devnode, "percentage_of_dropped_buffers", 0, reset, sizeof reset);
        if (r >= 0 && r_reset < 0) {
                snprintf(detail, size, "resetting: %s", reset);
                return r_reset;
        }
        if (r >= 0) {
                size_t used = strlen(detail);
                snprintf(detail + used, size - used, " with %s", control);
        }
        return r;
}

int bus_check_streamon_error(const char *devnode, const char *camera, const char *fourcc,
                             unsigned width, unsigned height, char *detail, size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(test_session_done) struct test_session s = { .stream_fd = -1 };
        char control[160], state[160];
        int r;

        r = open_bus(&bus, detail, size);
        if (r < 0)
                return r;
        r = test_session_open(bus, camera, fourcc, width, height, false, &s, detail, size);
        if (r < 0)
                return r;
        r = v4l2_set_control(devnode, "inject_vidioc_streamon_error", 1, control, sizeof control);
        if (r < 0) {
                snprintf(detail, size, "%s", control);
                return r;
        }
        r = test_session_call(&s, "Start", &e);
        /* A button in vivid: the failed STREAMON consumes it. Were it a boolean (another
         * kernel), clear it so that later checks stream again. */
        (void) v4l2_set_control(devnode, "inject_vidioc_streamon_error", 0, control, sizeof control);
        if (r >= 0) {
                snprintf(detail, size, "Start succeeded although STREAMON was made to fail");
                return -EINVAL;
        }
        if (!sd_bus_error_has_name(&e, SERVICE_FATAL)) {
                report_bus_error(detail, size, "Start failed with the wrong error", &e, r);
                return -EINVAL;
        }
        r = test_session_state(&s, state, sizeof state);
        if (r < 0) {
                snprintf(detail, size, "%s", state);
                return r;
        }
        if (!streq(state, "committed")) {
                snprintf(detail, size, "Start failed with ServiceFatal but State is '%s', not 'committed'", state);
                return -EINVAL;
        }
        snprintf(detail, size, "Start: %s: %s; State=committed", e.name, e.message ? e.message : "");
        return 0;
}
