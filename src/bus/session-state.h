/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/camerad-error.h"

/* The Session state table and the output/profile rules of API.md as pure functions, so
 * they are unit-tested without a bus. session.c asks these before doing anything.
 *
 * Output rule (ConfigConflict): all outputs added to one session share one pixel format and
 * one size, because one camera streams one format at a time and camerad does not scale.
 * Frame rates may differ: the camera runs at the highest fps asked for (0 = the fastest
 * the camera gives for that format and size) and each output takes what it needs. */

enum session_state {
        SESSION_STATE_IDLE,
        SESSION_STATE_CONFIGURING,
        SESSION_STATE_COMMITTED,
        SESSION_STATE_RUNNING,
        SESSION_STATE_RELEASED,
        _SESSION_STATE_MAX,
};

enum session_mode {
        SESSION_MODE_PHOTO,
        SESSION_MODE_VIDEO,
        _SESSION_MODE_MAX,
};

enum session_op {
        SESSION_OP_BEGIN_CONFIG,
        SESSION_OP_CAN_ADD_INPUT,
        SESSION_OP_ADD_INPUT,
        SESSION_OP_REMOVE_INPUT,
        SESSION_OP_CREATE_OUTPUT,
        SESSION_OP_CAN_ADD_OUTPUT,
        SESSION_OP_ADD_OUTPUT,
        SESSION_OP_REMOVE_OUTPUT,
        SESSION_OP_COMMIT_CONFIG,
        SESSION_OP_START,
        SESSION_OP_STOP,
        SESSION_OP_RELEASE,
        _SESSION_OP_MAX,
};

enum output_kind {
        OUTPUT_KIND_PREVIEW,
        OUTPUT_KIND_PHOTO,
        OUTPUT_KIND_VIDEO,
        _OUTPUT_KIND_MAX,
};

struct output_profile {
        uint32_t fourcc;         /* V4L2 fourcc: YUYV or NV12 */
        unsigned width, height;
        double fps;              /* 0 = as fast as the camera gives */
};

/* Defaults for keys a CreateOutput profile leaves out. */
#define OUTPUT_PROFILE_DEFAULT_WIDTH 640u
#define OUTPUT_PROFILE_DEFAULT_HEIGHT 480u
#define OUTPUT_PROFILE_MAX_SIDE 8192u
#define OUTPUT_PROFILE_MAX_FPS 240.0

/* Why a call is refused: the error name and the message after the code. */
struct session_verdict {
        enum camerad_error error;
        char message[512];
};

const char *session_state_to_string(enum session_state s);
const char *session_mode_to_string(enum session_mode m);
int session_mode_from_string(const char *s); /* -EINVAL when unknown */
const char *session_op_to_string(enum session_op op); /* the D-Bus method name */
const char *output_kind_to_string(enum output_kind k);
int output_kind_from_string(const char *s);

/* "YUYV" ↔ fourcc. Only the formats capture can deliver (YUYV, NV12) parse. */
int fourcc_from_string(const char *s, uint32_t *ret);
/* Writes 4 characters + NUL. */
const char *fourcc_to_string(uint32_t fourcc, char buf[static 5]);

/* The state table. Returns 0 when op may run in state, 1 when it is allowed but does
 * nothing (Start while running), -1 with *v filled when it is refused. Can* methods are
 * never refused here: they answer false instead (see session_can_add_*). */
int session_check_state(enum session_state state, enum session_op op, struct session_verdict *v);

/* The D-Bus type a profile key wants ('s', 'u', 'd'), 0 for an unknown key. */
char output_profile_key_type(const char *key);
void output_profile_init_default(struct output_profile *p);
/* Range checks after parsing: sides even, 2..MAX_SIDE; fps finite, 0..MAX_FPS. */
int output_profile_validate(const struct output_profile *p, struct session_verdict *v);
bool output_profile_equal_shape(const struct output_profile *a, const struct output_profile *b);

/* What session.c knows about the configuration in progress. */
struct session_config_view {
        enum session_state state;
        bool has_input;
        size_t n_added;
        struct {
                enum output_kind kind;
                struct output_profile profile;
        } added[_OUTPUT_KIND_MAX];
};

/* AddInput: the path must be a camera (is_camera), the session must not have one, and the
 * camera must give every output already added (gives_added_outputs). */
int session_check_add_input(const struct session_config_view *c, bool is_camera,
                            bool gives_added_outputs, const char *path, struct session_verdict *v);
int session_check_remove_input(const struct session_config_view *c, bool is_our_input,
                               const char *path, struct session_verdict *v);
/* AddOutput: is_ours = an output object of this session; input_gives = the input camera
 * can deliver the profile. */
int session_check_add_output(const struct session_config_view *c, bool is_ours, bool is_added,
                             enum output_kind kind, const struct output_profile *p,
                             bool input_gives, const char *path, struct session_verdict *v);
int session_check_remove_output(const struct session_config_view *c, bool is_ours, bool is_added,
                                const char *path, struct session_verdict *v);
/* CommitConfig: one input and at least one output. (Camera exclusivity is session.c's.) */
int session_check_commit(const struct session_config_view *c, struct session_verdict *v);

/* The capture format for the added outputs: shared fourcc/size, the highest fps. */
void session_capture_profile(const struct session_config_view *c, struct output_profile *ret);

/* CommitConfig on a camera that other sessions hold (shared sessions, see README "Shared
 * cameras"). in_use is the capture format those sessions fixed; rate is the frame rate
 * it runs at (in_use->fps, or the camera's fastest for that format when that is 0).
 * A session that does not hold the camera yet and is not shared gets Conflict; any other
 * session's outputs must have the format and size in use and an fps of at most rate
 * (0 = whatever the capture runs at), else ConfigConflict naming the format in use. */
struct session_join_view {
        const char *camera_path;
        const char *holder_path;   /* the oldest session holding it, for the messages */
        const char *holder_owner;
        const struct output_profile *in_use;
        double rate;
        bool shared;               /* the committing session was created with "shared" */
        bool holds_already;        /* it committed on this camera before (reconfiguring) */
};
int session_check_join(const struct session_config_view *c, const struct session_join_view *j,
                       struct session_verdict *v);
