/* SPDX-License-Identifier: MIT */
/* The Session state table and output rules of API.md, checked without a bus. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <linux/videodev2.h>

#include "bus/session-state.h"

#include "../check.h"

enum { OK = 0, NOOP = 1 };
#define REFUSED(err) (100 + (err))

/* Expected outcome of each op in each state (API.md's Session table). */
static const int expected[_SESSION_STATE_MAX][_SESSION_OP_MAX] = {
        [SESSION_STATE_IDLE] = {
                [SESSION_OP_BEGIN_CONFIG] = OK,
                [SESSION_OP_CAN_ADD_INPUT] = OK,
                [SESSION_OP_ADD_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_CREATE_OUTPUT] = OK,
                [SESSION_OP_CAN_ADD_OUTPUT] = OK,
                [SESSION_OP_ADD_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_COMMIT_CONFIG] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_START] = REFUSED(CAMERAD_ERROR_SESSION_NOT_CONFIG),
                [SESSION_OP_STOP] = REFUSED(CAMERAD_ERROR_SESSION_NOT_RUNNING),
                [SESSION_OP_RELEASE] = OK,
        },
        [SESSION_STATE_CONFIGURING] = {
                [SESSION_OP_BEGIN_CONFIG] = REFUSED(CAMERAD_ERROR_SESSION_CONFIG_LOCKED),
                [SESSION_OP_CAN_ADD_INPUT] = OK,
                [SESSION_OP_ADD_INPUT] = OK,
                [SESSION_OP_REMOVE_INPUT] = OK,
                [SESSION_OP_CREATE_OUTPUT] = OK,
                [SESSION_OP_CAN_ADD_OUTPUT] = OK,
                [SESSION_OP_ADD_OUTPUT] = OK,
                [SESSION_OP_REMOVE_OUTPUT] = OK,
                [SESSION_OP_COMMIT_CONFIG] = OK,
                [SESSION_OP_START] = REFUSED(CAMERAD_ERROR_SESSION_NOT_CONFIG),
                [SESSION_OP_STOP] = REFUSED(CAMERAD_ERROR_SESSION_NOT_RUNNING),
                [SESSION_OP_RELEASE] = OK,
        },
        [SESSION_STATE_COMMITTED] = {
                [SESSION_OP_BEGIN_CONFIG] = OK,
                [SESSION_OP_CAN_ADD_INPUT] = OK,
                [SESSION_OP_ADD_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_CREATE_OUTPUT] = OK,
                [SESSION_OP_CAN_ADD_OUTPUT] = OK,
                [SESSION_OP_ADD_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_COMMIT_CONFIG] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_START] = OK,
                [SESSION_OP_STOP] = REFUSED(CAMERAD_ERROR_SESSION_NOT_RUNNING),
                [SESSION_OP_RELEASE] = OK,
        },
        [SESSION_STATE_RUNNING] = {
                [SESSION_OP_BEGIN_CONFIG] = OK,
                [SESSION_OP_CAN_ADD_INPUT] = OK,
                [SESSION_OP_ADD_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_CREATE_OUTPUT] = OK,
                [SESSION_OP_CAN_ADD_OUTPUT] = OK,
                [SESSION_OP_ADD_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_COMMIT_CONFIG] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_START] = NOOP,
                [SESSION_OP_STOP] = OK,
                [SESSION_OP_RELEASE] = OK,
        },
        [SESSION_STATE_RELEASED] = {
                [SESSION_OP_BEGIN_CONFIG] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_CAN_ADD_INPUT] = OK,
                [SESSION_OP_ADD_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_INPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_CREATE_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_CAN_ADD_OUTPUT] = OK,
                [SESSION_OP_ADD_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_REMOVE_OUTPUT] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_COMMIT_CONFIG] = REFUSED(CAMERAD_ERROR_OPERATION_NOT_ALLOWED),
                [SESSION_OP_START] = REFUSED(CAMERAD_ERROR_SESSION_NOT_CONFIG),
                [SESSION_OP_STOP] = REFUSED(CAMERAD_ERROR_SESSION_NOT_RUNNING),
                [SESSION_OP_RELEASE] = OK,
        },
};

static void test_state_table(void) {
        for (int s = 0; s < _SESSION_STATE_MAX; s++)
                for (int op = 0; op < _SESSION_OP_MAX; op++) {
                        struct session_verdict v = { .error = _CAMERAD_ERROR_MAX };
                        int r = session_check_state(s, op, &v);
                        int got = r < 0 ? REFUSED((int) v.error) : r;

                        if (got != expected[s][op]) {
                                fprintf(stderr, "state %s, %s: expected %d, got %d (%s)\n",
                                        session_state_to_string(s), session_op_to_string(op),
                                        expected[s][op], got, r < 0 ? v.message : "");
                                check_failures++;
                        }
                        if (r < 0) {
                                /* The message names the method and the state seen. */
                                CHECK(strstr(v.message, session_op_to_string(op)));
                                CHECK(strstr(v.message, session_state_to_string(s)));
                        }
                }
}

static void test_message_format(void) {
        struct session_verdict v;

        CHECK(session_check_state(SESSION_STATE_COMMITTED, SESSION_OP_COMMIT_CONFIG, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED);
        CHECK(strcmp(v.message, "CommitConfig needs state 'configuring'; the session is 'committed'") == 0);
}

static void test_names(void) {
        CHECK(session_mode_from_string("photo") == SESSION_MODE_PHOTO);
        CHECK(session_mode_from_string("video") == SESSION_MODE_VIDEO);
        CHECK(session_mode_from_string("Photo") < 0);
        CHECK(session_mode_from_string("") < 0);
        CHECK(session_mode_from_string(NULL) < 0);
        CHECK(output_kind_from_string("preview") == OUTPUT_KIND_PREVIEW);
        CHECK(output_kind_from_string("photo") == OUTPUT_KIND_PHOTO);
        CHECK(output_kind_from_string("video") == OUTPUT_KIND_VIDEO);
        CHECK(output_kind_from_string("audio") < 0);

        uint32_t cc = 0;
        char buf[5];
        CHECK(fourcc_from_string("YUYV", &cc) == 0 && cc == V4L2_PIX_FMT_YUYV);
        CHECK(fourcc_from_string("NV12", &cc) == 0 && cc == V4L2_PIX_FMT_NV12);
        CHECK(fourcc_from_string("MJPG", &cc) < 0);
        CHECK(fourcc_from_string("yuyv", &cc) < 0);
        CHECK(strcmp(fourcc_to_string(V4L2_PIX_FMT_NV12, buf), "NV12") == 0);
        CHECK(strcmp(fourcc_to_string(0x01020304, buf), "????") == 0);
}

static void test_profile(void) {
        struct session_verdict v;
        struct output_profile p;

        CHECK(output_profile_key_type("format") == 's');
        CHECK(output_profile_key_type("width") == 'u');
        CHECK(output_profile_key_type("height") == 'u');
        CHECK(output_profile_key_type("fps") == 'd');
        CHECK(output_profile_key_type("Format") == 0);
        CHECK(output_profile_key_type("quality") == 0);

        output_profile_init_default(&p);
        CHECK(output_profile_validate(&p, &v) == 0);
        CHECK(p.fourcc == V4L2_PIX_FMT_YUYV && p.width == 640 && p.height == 480 && p.fps == 0);

        struct { struct output_profile p; const char *key; } bad[] = {
                { { V4L2_PIX_FMT_MJPEG, 640, 480, 0 }, "'format'" },
                { { V4L2_PIX_FMT_YUYV, 641, 480, 0 }, "'width'" },
                { { V4L2_PIX_FMT_YUYV, 0, 480, 0 }, "'width'" },
                { { V4L2_PIX_FMT_YUYV, 16384, 480, 0 }, "'width'" },
                { { V4L2_PIX_FMT_NV12, 640, 481, 0 }, "'height'" },
                { { V4L2_PIX_FMT_NV12, 640, 0, 0 }, "'height'" },
                { { V4L2_PIX_FMT_NV12, 640, 480, -1 }, "'fps'" },
                { { V4L2_PIX_FMT_NV12, 640, 480, 1000 }, "'fps'" },
                { { V4L2_PIX_FMT_NV12, 640, 480, NAN }, "'fps'" },
                { { V4L2_PIX_FMT_NV12, 640, 480, INFINITY }, "'fps'" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                v.error = _CAMERAD_ERROR_MAX;
                CHECK(output_profile_validate(&bad[i].p, &v) < 0);
                CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT);
                if (!strstr(v.message, bad[i].key)) {
                        fprintf(stderr, "profile %zu: message '%s' does not name %s\n", i, v.message, bad[i].key);
                        check_failures++;
                }
        }
        struct output_profile good = { V4L2_PIX_FMT_NV12, 1920, 1080, 29.97 };
        CHECK(output_profile_validate(&good, &v) == 0);
}

static struct session_config_view configuring(bool has_input) {
        return (struct session_config_view) { .state = SESSION_STATE_CONFIGURING, .has_input = has_input };
}

static void add(struct session_config_view *c, enum output_kind k, struct output_profile p) {
        c->added[c->n_added].kind = k;
        c->added[c->n_added].profile = p;
        c->n_added++;
}

static void test_inputs(void) {
        struct session_verdict v;
        struct session_config_view c = configuring(false);
        const char *cam = "/org/camerad/Camera1/camera/0";

        CHECK(session_check_add_input(&c, true, true, cam, &v) == 0);
        CHECK(session_check_add_input(&c, false, true, "/org/camerad/Camera1/session/0", &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT && strstr(v.message, "session/0"));
        CHECK(session_check_add_input(&c, true, false, cam, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT);

        c.has_input = true;
        CHECK(session_check_add_input(&c, true, true, cam, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED);

        CHECK(session_check_remove_input(&c, true, cam, &v) == 0);
        CHECK(session_check_remove_input(&c, false, "/org/camerad/Camera1/camera/1", &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT && strstr(v.message, "camera/1"));

        c.state = SESSION_STATE_COMMITTED;
        CHECK(session_check_add_input(&c, true, true, cam, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED);
        CHECK(session_check_remove_input(&c, true, cam, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED);

        /* A 100 kB path gives a short message. */
        static char huge[100 * 1024];
        memset(huge, 'x', sizeof huge - 1);
        c = configuring(false);
        CHECK(session_check_add_input(&c, false, true, huge, &v) < 0);
        CHECK(strlen(v.message) < sizeof v.message);
}

static void test_outputs(void) {
        struct session_verdict v;
        struct output_profile yuyv = { V4L2_PIX_FMT_YUYV, 640, 480, 30 };
        struct output_profile yuyv15 = { V4L2_PIX_FMT_YUYV, 640, 480, 15 };
        struct output_profile nv12 = { V4L2_PIX_FMT_NV12, 640, 480, 30 };
        struct output_profile big = { V4L2_PIX_FMT_YUYV, 1280, 720, 30 };
        const char *o = "/org/camerad/Camera1/session/0/output/0";

        struct session_config_view c = configuring(false);
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_PREVIEW, &yuyv, false, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED); /* no input yet */

        c = configuring(true);
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_PREVIEW, &yuyv, true, o, &v) == 0);
        CHECK(session_check_add_output(&c, false, false, OUTPUT_KIND_PREVIEW, &yuyv, true,
                                       "/org/camerad/Camera1/camera/0", &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT);
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_PREVIEW, &yuyv, false, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT); /* camera cannot give it */
        CHECK(session_check_add_output(&c, true, true, OUTPUT_KIND_PREVIEW, &yuyv, true, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED); /* already added */

        add(&c, OUTPUT_KIND_PREVIEW, yuyv);
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_PREVIEW, &yuyv, true, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED && strstr(v.message, "preview"));
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_VIDEO, &yuyv15, true, o, &v) == 0);
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_VIDEO, &nv12, true, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_CONFIG_CONFLICT && strstr(v.message, "NV12"));
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_PHOTO, &big, true, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_CONFIG_CONFLICT && strstr(v.message, "1280x720"));

        CHECK(session_check_remove_output(&c, true, true, o, &v) == 0);
        CHECK(session_check_remove_output(&c, true, false, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT);
        CHECK(session_check_remove_output(&c, false, false, "/x", &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_INVALID_ARGUMENT);
        c.state = SESSION_STATE_RUNNING;
        CHECK(session_check_remove_output(&c, true, true, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED);
        CHECK(session_check_add_output(&c, true, false, OUTPUT_KIND_VIDEO, &yuyv, true, o, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED);
}

static void test_commit(void) {
        struct session_verdict v;
        struct output_profile yuyv = { V4L2_PIX_FMT_YUYV, 640, 480, 15 };
        struct session_config_view c = configuring(false);

        CHECK(session_check_commit(&c, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED && strstr(v.message, "input"));
        c.has_input = true;
        CHECK(session_check_commit(&c, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED && strstr(v.message, "output"));
        add(&c, OUTPUT_KIND_PREVIEW, yuyv);
        CHECK(session_check_commit(&c, &v) == 0);
        c.state = SESSION_STATE_IDLE;
        CHECK(session_check_commit(&c, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_OPERATION_NOT_ALLOWED);
}

static void test_capture_profile(void) {
        struct session_config_view c = configuring(true);
        struct output_profile p;

        add(&c, OUTPUT_KIND_PREVIEW, (struct output_profile) { V4L2_PIX_FMT_NV12, 640, 480, 15 });
        add(&c, OUTPUT_KIND_VIDEO, (struct output_profile) { V4L2_PIX_FMT_NV12, 640, 480, 30 });
        session_capture_profile(&c, &p);
        CHECK(p.fourcc == V4L2_PIX_FMT_NV12 && p.width == 640 && p.height == 480 && p.fps == 30);
        add(&c, OUTPUT_KIND_PHOTO, (struct output_profile) { V4L2_PIX_FMT_NV12, 640, 480, 0 });
        session_capture_profile(&c, &p);
        CHECK(p.fps == 0); /* "fastest" wins */
}

static void test_join(void) {
        struct session_verdict v;
        struct output_profile in_use = { V4L2_PIX_FMT_YUYV, 640, 480, 15 };
        struct session_join_view j = {
                .camera_path = "/org/camerad/Camera1/camera/0",
                .holder_path = "/org/camerad/Camera1/session/3",
                .holder_owner = ":1.7",
                .in_use = &in_use,
                .rate = 15,
        };
        struct session_config_view c = configuring(true);

        add(&c, OUTPUT_KIND_PREVIEW, (struct output_profile) { V4L2_PIX_FMT_YUYV, 640, 480, 15 });

        /* Not shared, not a holder yet: Conflict naming the holder, whatever the format. */
        CHECK(session_check_join(&c, &j, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_CONFLICT);
        CHECK(strcmp(v.message, "CommitConfig: camera /org/camerad/Camera1/camera/0 is in use by "
                                "session /org/camerad/Camera1/session/3 (owner :1.7)") == 0);

        /* Shared, or already a holder: the format decides. */
        j.shared = true;
        CHECK(session_check_join(&c, &j, &v) == 0);
        j.shared = false;
        j.holds_already = true;
        CHECK(session_check_join(&c, &j, &v) == 0);
        j.holds_already = false;
        j.shared = true;

        /* Slower and "as fast as it runs" outputs join; a faster one does not. */
        c.added[0].profile.fps = 5;
        CHECK(session_check_join(&c, &j, &v) == 0);
        c.added[0].profile.fps = 0;
        CHECK(session_check_join(&c, &j, &v) == 0);
        c.added[0].profile.fps = 15.0000000001;
        CHECK(session_check_join(&c, &j, &v) == 0); /* rounding is not a faster rate */
        c.added[0].profile.fps = 30;
        CHECK(session_check_join(&c, &j, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_CONFIG_CONFLICT);
        CHECK(strcmp(v.message, "CommitConfig: camera /org/camerad/Camera1/camera/0 is shared with "
                                "session /org/camerad/Camera1/session/3 and runs YUYV 640x480 at 15 fps; "
                                "outputs joining it need that format and size at 15 fps or less, the "
                                "preview output is YUYV 640x480 at 30 fps") == 0);

        /* A capture at "fastest" runs at the camera's rate, given as rate. */
        in_use.fps = 0;
        j.rate = 30;
        CHECK(session_check_join(&c, &j, &v) == 0);
        c.added[0].profile.fps = 15;

        /* Another format or size, in any added output. */
        add(&c, OUTPUT_KIND_PHOTO, (struct output_profile) { V4L2_PIX_FMT_NV12, 640, 480, 15 });
        CHECK(session_check_join(&c, &j, &v) < 0);
        CHECK(v.error == CAMERAD_ERROR_CONFIG_CONFLICT);
        CHECK(strstr(v.message, "the photo output is NV12 640x480 at 15 fps"));
        c.added[1].profile = (struct output_profile) { V4L2_PIX_FMT_YUYV, 320, 240, 15 };
        CHECK(session_check_join(&c, &j, &v) < 0);
        CHECK(strstr(v.message, "the photo output is YUYV 320x240"));
        c.added[1].profile = (struct output_profile) { V4L2_PIX_FMT_YUYV, 640, 480, 10 };
        CHECK(session_check_join(&c, &j, &v) == 0);
}

int main(void) {
        test_state_table();
        test_message_format();
        test_names();
        test_profile();
        test_inputs();
        test_outputs();
        test_commit();
        test_capture_profile();
        test_join();
        return check_report("session-state");
}
