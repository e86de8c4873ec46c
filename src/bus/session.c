/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/camera-capture.h"
#include "bus/controls-bus.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/polkit.h"
#include "bus/session.h"
#include "shared/log.h"

#define SESSION_INTERFACE CAMERAD_IFACE_SESSION

void session_set_state(struct session *s, enum session_state state) {
        bool was_running = s->state == SESSION_STATE_RUNNING;

        if (s->state == state)
                return;
        log_debug("%s: %s → %s", s->path, session_state_to_string(s->state),
                  session_state_to_string(state));
        s->state = state;
        (void) sd_bus_emit_properties_changed(s->manager->bus, s->path, SESSION_INTERFACE,
                                              "State", NULL);
        if (was_running != (state == SESSION_STATE_RUNNING))
                manager_session_running_changed(s->manager, !was_running);
}

void session_view(struct session *s, struct session_config_view *v) {
        *v = (struct session_config_view) { .state = s->state, .has_input = s->input != NULL };
        for (struct output *o = s->outputs; o; o = o->next)
                if (o->added && v->n_added < ELEMENTSOF(v->added)) {
                        v->added[v->n_added].kind = o->ops->kind;
                        v->added[v->n_added].profile = o->profile;
                        v->n_added++;
                }
}

static int refuse(sd_bus_error *error, const struct session_verdict *v) {
        return bus_error_setf(error, v->error, "%s", v->message);
}

static bool camera_gives(struct camera *c, const struct output_profile *p) {
        return camera_device_supports(c->device, p->fourcc, p->width, p->height, p->fps);
}

static bool camera_gives_added(struct session *s, struct camera *c) {
        for (struct output *o = s->outputs; o; o = o->next)
                if (o->added && !camera_gives(c, &o->profile))
                        return false;
        return true;
}

static struct output *session_find_output(struct session *s, const char *path) {
        for (struct output *o = s->outputs; o; o = o->next)
                if (streq(o->path, path))
                        return o;
        return NULL;
}

/* ---- methods ------------------------------------------------------------------------ */

/* Every method starts here: only the owner may call, and a call keeps the daemon up. */
static int session_begin_call(struct session *s, sd_bus_message *m, sd_bus_error *error) {
        int r = session_check_owner(s, m, error);
        if (r < 0)
                return r;
        manager_note_activity(s->manager);
        return 0;
}

/* session_begin_call(), then the method's one argument, an object path. */
static int session_begin_call_read_path(struct session *s, sd_bus_message *m, const char **path,
                                        sd_bus_error *error) {
        int r = session_begin_call(s, m, error);
        if (r < 0)
                return r;
        return sd_bus_message_read(m, "o", path);
}

static int method_begin_config(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call(s, m, error);

        if (r < 0)
                return r;
        if (session_check_state(s->state, SESSION_OP_BEGIN_CONFIG, &verdict) < 0)
                return refuse(error, &verdict);
        if (s->state == SESSION_STATE_RUNNING)
                session_stop_streaming(s);
        session_set_state(s, SESSION_STATE_CONFIGURING);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_can_add_input(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session_config_view v;
        struct camera *c;
        const char *path;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call_read_path(s, m, &path, error);

        if (r < 0)
                return r;
        c = manager_find_camera(s->manager, path);
        session_view(s, &v);
        r = session_check_add_input(&v, c != NULL, c && camera_gives_added(s, c), path, &verdict);
        return sd_bus_reply_method_return(m, "b", r == 0);
}

static int method_add_input(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session_config_view v;
        struct camera *c;
        const char *path;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call_read_path(s, m, &path, error);

        if (r < 0)
                return r;
        c = manager_find_camera(s->manager, path);
        session_view(s, &v);
        if (session_check_add_input(&v, c != NULL, c && camera_gives_added(s, c), path, &verdict) < 0)
                return refuse(error, &verdict);
        s->input = c;
        camera_use(c);
        (void) sd_bus_emit_properties_changed(s->manager->bus, s->path, SESSION_INTERFACE,
                                              "Inputs", NULL);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_remove_input(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session_config_view v;
        const char *path;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call_read_path(s, m, &path, error);

        if (r < 0)
                return r;
        session_view(s, &v);
        if (session_check_remove_input(&v, s->input && streq(s->input->path, path), path, &verdict) < 0)
                return refuse(error, &verdict);
        session_drop_input(s);
        (void) sd_bus_emit_properties_changed(s->manager->bus, s->path, SESSION_INTERFACE,
                                              "Inputs", NULL);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_create_output(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct output_profile p;
        const char *kind_name, *format = NULL;
        struct output *o;
        int kind;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call(s, m, error);

        if (r < 0)
                return r;
        if (session_check_state(s->state, SESSION_OP_CREATE_OUTPUT, &verdict) < 0)
                return refuse(error, &verdict);

        r = sd_bus_message_read(m, "s", &kind_name);
        if (r < 0)
                return r;
        kind = output_kind_from_string(kind_name);
        if (kind < 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "CreateOutput: kind must be 'preview', 'photo' or 'video'; got '"
                                      BUS_ECHO_FMT "'", BUS_ECHO(kind_name));

        output_profile_init_default(&p);
        uint32_t width = p.width, height = p.height;
        struct bus_dict_key keys[] = {
                { .name = "format", .type = 's', .ptr = &format },
                { .name = "width", .type = 'u', .ptr = &width },
                { .name = "height", .type = 'u', .ptr = &height },
                { .name = "fps", .type = 'd', .ptr = &p.fps },
        };
        r = bus_read_dict(m, "profile", keys, ELEMENTSOF(keys), error);
        if (r < 0)
                return r;
        if (format && fourcc_from_string(format, &p.fourcc) < 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "profile key 'format' must be one of " PROFILE_FORMATS_TEXT "; got \""
                                      BUS_ECHO_FMT "\"", BUS_ECHO(format));
        p.width = width;
        p.height = height;
        if (output_profile_validate(&p, &verdict) < 0)
                return refuse(error, &verdict);

        /* Outputs live until Release; a bound keeps one client from filling the bus with them. */
        unsigned n_outputs = 0;
        for (struct output *i = s->outputs; i; i = i->next)
                n_outputs++;
        if (n_outputs >= SESSION_MAX_OUTPUTS)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "CreateOutput: %s already has %u outputs, the most a session may "
                                      "create; Release it and start a new one", s->path, n_outputs);

        r = output_new(s, kind, &p, &o);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot create the output");
        (void) sd_bus_emit_properties_changed(s->manager->bus, s->path, SESSION_INTERFACE,
                                              "Outputs", NULL);
        return sd_bus_reply_method_return(m, "o", o->path);
}

static int check_add_output(struct session *s, const char *path, struct session_verdict *verdict) {
        struct session_config_view v;
        struct output *o = session_find_output(s, path);

        session_view(s, &v);
        return session_check_add_output(&v, o != NULL, o && o->added, o ? o->ops->kind : 0,
                                        o ? &o->profile : NULL,
                                        o && s->input && camera_gives(s->input, &o->profile),
                                        path, verdict);
}

static int method_can_add_output(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *path;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call_read_path(s, m, &path, error);

        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "b", check_add_output(s, path, &verdict) == 0);
}

static int method_add_output(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *path;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call_read_path(s, m, &path, error);

        if (r < 0)
                return r;
        if (check_add_output(s, path, &verdict) < 0)
                return refuse(error, &verdict);
        pthread_mutex_lock(&s->fanout_lock);
        session_find_output(s, path)->added = true;
        pthread_mutex_unlock(&s->fanout_lock);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_remove_output(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session_config_view v;
        struct output *o;
        const char *path;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call_read_path(s, m, &path, error);

        if (r < 0)
                return r;
        o = session_find_output(s, path);
        session_view(s, &v);
        if (session_check_remove_output(&v, o != NULL, o && o->added, path, &verdict) < 0)
                return refuse(error, &verdict);
        pthread_mutex_lock(&s->fanout_lock);
        o->added = false;
        pthread_mutex_unlock(&s->fanout_lock);
        return sd_bus_reply_method_return(m, NULL);
}

/* The oldest session other than s holding c, or NULL. */
static struct session *other_holder(struct camera *c, struct session *s) {
        for (struct session *h = camera_holder(c); h; h = h->hold_next)
                if (h != s)
                        return h;
        return NULL;
}

/* Camera sharing at CommitConfig: alone on the camera, s sets the format; with others
 * holding it, it must be shared (or hold it already) and fit the format in use. */
static int check_join(struct session *s, const struct session_config_view *v,
                      struct session_verdict *verdict) {
        struct camera *c = s->input;
        struct session *other = other_holder(c, s);

        if (!other)
                return 0;
        struct output_profile in_use = { .fourcc = c->format.fourcc, .width = c->format.width,
                                         .height = c->format.height, .fps = c->format.max_fps };
        struct session_join_view j = {
                .camera_path = c->path,
                .holder_path = other->path,
                .holder_owner = other->owner,
                .in_use = &in_use,
                .rate = camera_capture_rate(c, &c->format),
                .shared = s->shared,
                .holds_already = camera_held_by(c, s),
        };
        return session_check_join(v, &j, verdict);
}

static int method_commit_config(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session_config_view v;
        struct output_profile p;
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call(s, m, error);

        if (r < 0)
                return r;
        session_view(s, &v);
        if (session_check_commit(&v, &verdict) < 0)
                return refuse(error, &verdict);
        if (s->input->removed)
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL,
                                      "CommitConfig: camera %s was unplugged", s->input->path);
        if (check_join(s, &v, &verdict) < 0)
                return refuse(error, &verdict);
        session_capture_profile(&v, &p);
        camera_hold(s->input, s, &(struct capture_format) { .fourcc = p.fourcc, .width = p.width,
                                                           .height = p.height, .max_fps = p.fps });
        session_set_state(s, SESSION_STATE_COMMITTED);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_start(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call(s, m, error);

        if (r < 0)
                return r;
        r = session_check_state(s->state, SESSION_OP_START, &verdict);
        if (r < 0)
                return refuse(error, &verdict);
        if (r == 0) {
                r = session_start_streaming(s, error);
                if (r < 0)
                        return r;
                session_set_state(s, SESSION_STATE_RUNNING);
        }
        return sd_bus_reply_method_return(m, NULL);
}

static int method_stop(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session *s = userdata;
        struct session_verdict verdict;
        int r = session_begin_call(s, m, error);

        if (r < 0)
                return r;
        if (session_check_state(s->state, SESSION_OP_STOP, &verdict) < 0)
                return refuse(error, &verdict);
        session_stop_streaming(s);
        session_set_state(s, SESSION_STATE_COMMITTED);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct session *s = userdata;
        int r = session_begin_call(s, m, error);

        if (r < 0)
                return r;
        /* Reply first: the object is gone afterwards. */
        r = sd_bus_reply_method_return(m, NULL);
        session_release(s);
        return r;
}

/* ---- properties --------------------------------------------------------------------- */

static int property_get_mode(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        struct session *s = userdata;
        return sd_bus_message_append(reply, "s", session_mode_to_string(s->mode));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        struct session *s = userdata;
        return sd_bus_message_append(reply, "s", session_state_to_string(s->state));
}

static int property_get_persistent(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        struct session *s = userdata;
        return sd_bus_message_append(reply, "b", s->persistent);
}

static int property_get_shared(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        struct session *s = userdata;
        return sd_bus_message_append(reply, "b", s->shared);
}

static int property_get_inputs(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        struct session *s = userdata;
        if (s->input)
                return sd_bus_message_append(reply, "ao", 1, s->input->path);
        return sd_bus_message_append(reply, "ao", 0);
}

static int property_get_outputs(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct session *s = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (struct output *o = s->outputs; o; o = o->next) {
                r = sd_bus_message_append(reply, "o", o->path);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Mode", "s", property_get_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Inputs", "ao", property_get_inputs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Outputs", "ao", property_get_outputs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Persistent", "b", property_get_persistent, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Shared", "b", property_get_shared, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("BeginConfig", "", "", method_begin_config, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CanAddInput", SD_BUS_ARGS("o", camera), SD_BUS_RESULT("b", possible),
                                method_can_add_input, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddInput", SD_BUS_ARGS("o", camera), SD_BUS_NO_RESULT,
                                method_add_input, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveInput", SD_BUS_ARGS("o", camera), SD_BUS_NO_RESULT,
                                method_remove_input, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateOutput", SD_BUS_ARGS("s", kind, "a{sv}", profile),
                                SD_BUS_RESULT("o", output), method_create_output,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CanAddOutput", SD_BUS_ARGS("o", output), SD_BUS_RESULT("b", possible),
                                method_can_add_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddOutput", SD_BUS_ARGS("o", output), SD_BUS_NO_RESULT,
                                method_add_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveOutput", SD_BUS_ARGS("o", output), SD_BUS_NO_RESULT,
                                method_remove_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("CommitConfig", "", "", method_commit_config, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Start", "", "", method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Stop", "", "", method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Release", "", "", method_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetControls", SD_BUS_ARGS("a{sv}", controls), SD_BUS_NO_RESULT,
                                session_method_set_controls, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetControls", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", controls),
                                session_method_get_controls, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Error", SD_BUS_ARGS("u", code, "s", message), 0),
        SD_BUS_VTABLE_END,
};
