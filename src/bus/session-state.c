/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/videodev2.h>

#include "bus/session-state.h"
#include "shared/macro.h"

static const char *const state_names[_SESSION_STATE_MAX] = {
        [SESSION_STATE_IDLE] = "idle",
        [SESSION_STATE_CONFIGURING] = "configuring",
        [SESSION_STATE_COMMITTED] = "committed",
        [SESSION_STATE_RUNNING] = "running",
        [SESSION_STATE_RELEASED] = "released",
};

static const char *const mode_names[_SESSION_MODE_MAX] = {
        [SESSION_MODE_PHOTO] = "photo",
        [SESSION_MODE_VIDEO] = "video",
};

static const char *const op_names[_SESSION_OP_MAX] = {
        [SESSION_OP_BEGIN_CONFIG] = "BeginConfig",
        [SESSION_OP_CAN_ADD_INPUT] = "CanAddInput",
        [SESSION_OP_ADD_INPUT] = "AddInput",
        [SESSION_OP_REMOVE_INPUT] = "RemoveInput",
        [SESSION_OP_CREATE_OUTPUT] = "CreateOutput",
        [SESSION_OP_CAN_ADD_OUTPUT] = "CanAddOutput",
        [SESSION_OP_ADD_OUTPUT] = "AddOutput",
        [SESSION_OP_REMOVE_OUTPUT] = "RemoveOutput",
        [SESSION_OP_COMMIT_CONFIG] = "CommitConfig",
        [SESSION_OP_START] = "Start",
        [SESSION_OP_STOP] = "Stop",
        [SESSION_OP_RELEASE] = "Release",
};

static const char *const kind_names[_OUTPUT_KIND_MAX] = {
        [OUTPUT_KIND_PREVIEW] = "preview",
        [OUTPUT_KIND_PHOTO] = "photo",
        [OUTPUT_KIND_VIDEO] = "video",
};

const char *session_state_to_string(enum session_state s) {
        assert(s >= 0 && s < _SESSION_STATE_MAX);
        return state_names[s];
}

const char *session_mode_to_string(enum session_mode m) {
        assert(m >= 0 && m < _SESSION_MODE_MAX);
        return mode_names[m];
}

int session_mode_from_string(const char *s) {
        for (int i = 0; i < _SESSION_MODE_MAX; i++)
                if (s && streq(s, mode_names[i]))
                        return i;
        return -EINVAL;
}

const char *session_op_to_string(enum session_op op) {
        assert(op >= 0 && op < _SESSION_OP_MAX);
        return op_names[op];
}

const char *output_kind_to_string(enum output_kind k) {
        assert(k >= 0 && k < _OUTPUT_KIND_MAX);
        return kind_names[k];
}

int output_kind_from_string(const char *s) {
        for (int i = 0; i < _OUTPUT_KIND_MAX; i++)
                if (s && streq(s, kind_names[i]))
                        return i;
        return -EINVAL;
}

int fourcc_from_string(const char *s, uint32_t *ret) {
        if (!s)
                return -EINVAL;
        if (streq(s, "YUYV"))
                *ret = V4L2_PIX_FMT_YUYV;
        else if (streq(s, "NV12"))
                *ret = V4L2_PIX_FMT_NV12;
        else
                return -EINVAL;
        return 0;
}

const char *fourcc_to_string(uint32_t fourcc, char buf[static 5]) {
        for (int i = 0; i < 4; i++) {
                char c = (char) ((fourcc >> (8 * i)) & 0xff);
                buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        buf[4] = 0;
        return buf;
}

_printf_(3, 4)
static int refuse(struct session_verdict *v, enum camerad_error error, const char *fmt, ...) {
        va_list ap;

        v->error = error;
        va_start(ap, fmt);
        vsnprintf(v->message, sizeof v->message, fmt, ap);
        va_end(ap);
        return -1;
}

static int need_state(struct session_verdict *v, enum camerad_error error, enum session_op op,
                      const char *allowed, enum session_state state) {
        return refuse(v, error, "%s needs state %s; the session is '%s'",
                      op_names[op], allowed, state_names[state]);
}

int session_check_state(enum session_state state, enum session_op op, struct session_verdict *v) {
        assert(state >= 0 && state < _SESSION_STATE_MAX);
        assert(op >= 0 && op < _SESSION_OP_MAX);

        switch (op) {
        case SESSION_OP_BEGIN_CONFIG:
                if (state == SESSION_STATE_CONFIGURING)
                        return refuse(v, CAMERAD_ERROR_SESSION_CONFIG_LOCKED,
                                      "BeginConfig while the configuration is already open; "
                                      "the session is 'configuring' (call CommitConfig first)");
                if (state == SESSION_STATE_RELEASED)
                        return need_state(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED, op,
                                          "'idle', 'committed' or 'running'", state);
                return 0;

        case SESSION_OP_CAN_ADD_INPUT:
        case SESSION_OP_CAN_ADD_OUTPUT:
        case SESSION_OP_RELEASE:
                return 0;

        case SESSION_OP_ADD_INPUT:
        case SESSION_OP_REMOVE_INPUT:
        case SESSION_OP_ADD_OUTPUT:
        case SESSION_OP_REMOVE_OUTPUT:
        case SESSION_OP_COMMIT_CONFIG:
                if (state != SESSION_STATE_CONFIGURING)
                        return need_state(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED, op,
                                          "'configuring'", state);
                return 0;

        case SESSION_OP_CREATE_OUTPUT:
                if (state == SESSION_STATE_RELEASED)
                        return need_state(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED, op,
                                          "other than 'released'", state);
                return 0;

        case SESSION_OP_START:
                if (state == SESSION_STATE_RUNNING)
                        return 1;
                if (state != SESSION_STATE_COMMITTED)
                        return need_state(v, CAMERAD_ERROR_SESSION_NOT_CONFIG, op,
                                          "'committed' (a committed configuration)", state);
                return 0;

        case SESSION_OP_STOP:
                if (state != SESSION_STATE_RUNNING)
                        return need_state(v, CAMERAD_ERROR_SESSION_NOT_RUNNING, op, "'running'", state);
                return 0;

        default:
                assert(false);
                return -1;
        }
}

char output_profile_key_type(const char *key) {
        if (streq(key, "format"))
                return 's';
        if (streq(key, "width") || streq(key, "height"))
                return 'u';
        if (streq(key, "fps"))
                return 'd';
        return 0;
}

void output_profile_init_default(struct output_profile *p) {
        *p = (struct output_profile) {
                .fourcc = V4L2_PIX_FMT_YUYV,
                .width = OUTPUT_PROFILE_DEFAULT_WIDTH,
                .height = OUTPUT_PROFILE_DEFAULT_HEIGHT,
                .fps = 0,
        };
}

int output_profile_validate(const struct output_profile *p, struct session_verdict *v) {
        char cc[5];

        if (p->fourcc != V4L2_PIX_FMT_YUYV && p->fourcc != V4L2_PIX_FMT_NV12)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "profile key 'format' must be \"YUYV\" or \"NV12\"; got \"%s\"",
                              fourcc_to_string(p->fourcc, cc));
        if (p->width < 2 || p->width > OUTPUT_PROFILE_MAX_SIDE || p->width % 2)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "profile key 'width' must be even and 2..%u; got %u",
                              OUTPUT_PROFILE_MAX_SIDE, p->width);
        if (p->height < 2 || p->height > OUTPUT_PROFILE_MAX_SIDE || p->height % 2)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "profile key 'height' must be even and 2..%u; got %u",
                              OUTPUT_PROFILE_MAX_SIDE, p->height);
        if (!isfinite(p->fps) || p->fps < 0 || p->fps > OUTPUT_PROFILE_MAX_FPS)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "profile key 'fps' must be 0 (fastest) to %g; got %g",
                              OUTPUT_PROFILE_MAX_FPS, p->fps);
        return 0;
}

bool output_profile_equal_shape(const struct output_profile *a, const struct output_profile *b) {
        return a->fourcc == b->fourcc && a->width == b->width && a->height == b->height;
}

int session_check_add_input(const struct session_config_view *c, bool is_camera,
                            bool gives_added_outputs, const char *path, struct session_verdict *v) {
        if (session_check_state(c->state, SESSION_OP_ADD_INPUT, v) < 0)
                return -1;
        if (!is_camera)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "AddInput needs a camera object path; '%.200s' is not a camera", path);
        if (c->has_input)
                return refuse(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                              "AddInput: the session already has an input; a session takes one camera");
        if (!gives_added_outputs)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "AddInput: camera '%.200s' cannot give the profile of an output "
                              "already added", path);
        return 0;
}

int session_check_remove_input(const struct session_config_view *c, bool is_our_input,
                               const char *path, struct session_verdict *v) {
        if (session_check_state(c->state, SESSION_OP_REMOVE_INPUT, v) < 0)
                return -1;
        if (!is_our_input)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "RemoveInput: '%.200s' is not an input of this session", path);
        return 0;
}

int session_check_add_output(const struct session_config_view *c, bool is_ours, bool is_added,
                             enum output_kind kind, const struct output_profile *p,
                             bool input_gives, const char *path, struct session_verdict *v) {
        char cc[5];

        if (session_check_state(c->state, SESSION_OP_ADD_OUTPUT, v) < 0)
                return -1;
        if (!is_ours)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "AddOutput: '%.200s' is not an output of this session", path);
        if (!c->has_input)
                return refuse(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                              "AddOutput needs an input first; the session has none");
        if (is_added)
                return refuse(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                              "AddOutput: '%.200s' is already added", path);
        for (size_t i = 0; i < c->n_added; i++)
                if (c->added[i].kind == kind)
                        return refuse(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "AddOutput: the session already has a %s output; one of each kind",
                                      kind_names[kind]);
        if (!input_gives)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "AddOutput: the input camera cannot give %s %ux%u at %g fps",
                              fourcc_to_string(p->fourcc, cc), p->width, p->height, p->fps);
        for (size_t i = 0; i < c->n_added; i++)
                if (!output_profile_equal_shape(&c->added[i].profile, p)) {
                        char cc2[5];
                        return refuse(v, CAMERAD_ERROR_CONFIG_CONFLICT,
                                      "AddOutput: outputs of one session must share format and size; "
                                      "the %s output is %s %ux%u, this one is %s %ux%u",
                                      kind_names[c->added[i].kind],
                                      fourcc_to_string(c->added[i].profile.fourcc, cc2),
                                      c->added[i].profile.width, c->added[i].profile.height,
                                      fourcc_to_string(p->fourcc, cc), p->width, p->height);
                }
        return 0;
}

int session_check_remove_output(const struct session_config_view *c, bool is_ours, bool is_added,
                                const char *path, struct session_verdict *v) {
        if (session_check_state(c->state, SESSION_OP_REMOVE_OUTPUT, v) < 0)
                return -1;
        if (!is_ours)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "RemoveOutput: '%.200s' is not an output of this session", path);
        if (!is_added)
                return refuse(v, CAMERAD_ERROR_INVALID_ARGUMENT,
                              "RemoveOutput: '%.200s' was not added", path);
        return 0;
}

int session_check_commit(const struct session_config_view *c, struct session_verdict *v) {
        if (session_check_state(c->state, SESSION_OP_COMMIT_CONFIG, v) < 0)
                return -1;
        if (!c->has_input)
                return refuse(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                              "CommitConfig needs one input; the session has none");
        if (c->n_added == 0)
                return refuse(v, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                              "CommitConfig needs at least one output; none is added");
        return 0;
}

void session_capture_profile(const struct session_config_view *c, struct output_profile *ret) {
        assert(c->n_added > 0);
        *ret = c->added[0].profile;
        for (size_t i = 1; i < c->n_added; i++) {
                /* 0 means "fastest", which wins over any figure. */
                if (c->added[i].profile.fps == 0 || ret->fps == 0)
                        ret->fps = 0;
                else
                        ret->fps = MAX(ret->fps, c->added[i].profile.fps);
        }
}

/* Outputs decimate by timestamp, so a slower output takes its share of a faster capture;
 * a hair of slack keeps 29.97 vs 29.970000001 from mattering. */
#define JOIN_FPS_SLACK 1e-6

int session_check_join(const struct session_config_view *c, const struct session_join_view *j,
                       struct session_verdict *v) {
        char cc[5], cc2[5];

        if (!j->shared && !j->holds_already)
                return refuse(v, CAMERAD_ERROR_CONFLICT,
                              "CommitConfig: camera %.200s is in use by session %.200s (owner %.200s)",
                              j->camera_path, j->holder_path, j->holder_owner);
        for (size_t i = 0; i < c->n_added; i++) {
                const struct output_profile *p = &c->added[i].profile;

                if (output_profile_equal_shape(p, j->in_use) &&
                    (p->fps == 0 || p->fps <= j->rate + JOIN_FPS_SLACK))
                        continue;
                return refuse(v, CAMERAD_ERROR_CONFIG_CONFLICT,
                              "CommitConfig: camera %.200s is shared with session %.200s and runs "
                              "%s %ux%u at %g fps; outputs joining it need that format and size at "
                              "%g fps or less, the %s output is %s %ux%u at %g fps",
                              j->camera_path, j->holder_path, fourcc_to_string(j->in_use->fourcc, cc),
                              j->in_use->width, j->in_use->height, j->rate, j->rate,
                              kind_names[c->added[i].kind], fourcc_to_string(p->fourcc, cc2),
                              p->width, p->height, p->fps);
        }
        return 0;
}
