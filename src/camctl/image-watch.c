/* SPDX-License-Identifier: MIT */
#include "camctl/client.h"
#include "camctl/image-watch.h"
#include "camctl/output.h"
#include "camctl/progress.h"

static ssize_t find_id(struct image_watch *w, const char *id) {
        for (size_t i = 0; i < w->n_ids; i++)
                if (streq(w->ids[i], id))
                        return (ssize_t) i;
        return -1;
}

static void set_outcome(struct image_watch *w, size_t i, enum image_outcome outcome, cJSON *info) {
        if (w->outcomes[i] != IMAGE_WAITING) {
                cJSON_Delete(info);
                return;
        }
        w->outcomes[i] = outcome;
        cJSON_Delete(w->infos[i]);
        w->infos[i] = info;
        if (outcome == IMAGE_DONE)
                w->n_done++;
        else
                w->n_failed++;
        w->finished = w->n_done + w->n_failed == w->n_ids;
}

static int on_process_done(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct image_watch *w = userdata;
        const char *id;
        cJSON *info = NULL;
        ssize_t i;

        if (sd_bus_message_read(m, "s", &id) < 0 || (i = find_id(w, id)) < 0)
                return 0;
        if (camctl_read_dict(m, &info) != 0)
                info = cJSON_CreateObject();
        set_outcome(w, (size_t) i, IMAGE_DONE, info);
        return 0;
}

/* Only these codes end an image for good: camerad retries timeout/abnormal itself, and
 * "abort" (Interrupt, preemption) puts it back to pending. */
static bool error_is_final(const char *code) {
        return streq(code, "invalid-id") || streq(code, "process");
}

static int on_error(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct image_watch *w = userdata;
        const char *id, *code;
        ssize_t i;

        if (sd_bus_message_read(m, "ss", &id, &code) < 0 || (i = find_id(w, id)) < 0)
                return 0;
        if (!error_is_final(code)) {
                fprintf(stderr, "camctl: image %s: %s, camerad will try again\n", id, code);
                return 0;
        }
        cJSON *info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "error", code);
        set_outcome(w, (size_t) i, IMAGE_FAILED, info);
        return 0;
}

int image_watch_start(struct camctl *c, const char *session, struct image_watch *w) {
        int r;

        *w = (struct image_watch) { .c = c, .session = session };
        r = sd_bus_match_signal(c->bus, &w->done_slot, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_IMAGES,
                                "ProcessDone", on_process_done, w);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &w->error_slot, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_IMAGES,
                                        "Error", on_error, w);
        if (r < 0)
                return camctl_bus_error(NULL, r, "subscribing to image signals");
        return 0;
}

int image_watch_add(struct image_watch *w, const char *id) {
        char **ids = realloc(w->ids, (w->n_ids + 1) * sizeof(*ids));
        if (ids)
                w->ids = ids;
        enum image_outcome *outcomes = realloc(w->outcomes, (w->n_ids + 1) * sizeof(*outcomes));
        if (outcomes)
                w->outcomes = outcomes;
        cJSON **infos = realloc(w->infos, (w->n_ids + 1) * sizeof(*infos));
        if (infos)
                w->infos = infos;
        if (!ids || !outcomes || !infos || !(ids[w->n_ids] = strdup(id)))
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        outcomes[w->n_ids] = IMAGE_WAITING;
        infos[w->n_ids] = NULL;
        w->n_ids++;
        w->finished = false;
        return 0;
}

/* Asks for the state of every image still waited for; returns an exit code on failure. */
static int poll_states(struct image_watch *w) {
        for (size_t i = 0; i < w->n_ids; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(cJSON_Deletep) cJSON *info = NULL;
                const char *state;
                int r;

                if (w->outcomes[i] != IMAGE_WAITING)
                        continue;
                r = sd_bus_call_method(w->c->bus, CAMERAD_BUS_NAME, w->session, CAMERAD_IFACE_IMAGES,
                                       "GetImageInfo", &e, &reply, "s", w->ids[i]);
                if (r < 0 && sd_bus_error_has_name(&e, "org.camerad.Camera1.Error.InvalidId")) {
                        /* Removed while we waited. */
                        info = cJSON_CreateObject();
                        cJSON_AddStringToObject(info, "error", "invalid-id");
                        set_outcome(w, i, IMAGE_FAILED, TAKE_PTR(info));
                        continue;
                }
                if (r < 0)
                        return camctl_bus_error(&e, r, "GetImageInfo");
                r = camctl_read_dict(reply, &info);
                if (r != 0)
                        return r;
                state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "state"));
                if (state && streq(state, "done"))
                        set_outcome(w, i, IMAGE_DONE, TAKE_PTR(info));
        }
        return 0;
}

struct tick_state {
        struct image_watch *w;
        struct progress *p;
        int error;
        bool end; /* every image finished, or a poll failed */
};

static void tick(void *userdata) {
        struct tick_state *t = userdata;
        uint64_t now = camctl_now_usec();

        if (!t->w->finished && t->error == 0 && now - t->w->last_poll >= 1000000) {
                t->w->last_poll = now;
                t->error = poll_states(t->w);
        }
        progress_update(t->p, t->w->n_done + t->w->n_failed, t->w->n_ids);
        t->end = t->w->finished || t->error != 0;
}

int image_watch_run(struct image_watch *w, const char *label) {
        struct progress p;
        struct tick_state t = { .w = w, .p = &p };
        int r = 0;

        progress_init(&p, label, "images", w->c->args->json);
        w->last_poll = camctl_now_usec();
        w->finished = w->n_done + w->n_failed == w->n_ids;
        r = poll_states(w);
        if (r != 0)
                return r;
        progress_update(&p, w->n_done + w->n_failed, w->n_ids);

        if (!w->finished)
                r = camctl_wait(w->c, &t.end, camctl_deadline(w->c), tick, &t);
        progress_update(&p, w->n_done + w->n_failed, w->n_ids);
        progress_finish(&p);
        if (t.error != 0)
                return t.error;
        if (r != 0)
                return r;
        return w->n_failed > 0 ? CAMCTL_EXIT_FAILED : 0;
}

cJSON *image_watch_result(struct image_watch *w, size_t i) {
        cJSON *o = w->infos[i];

        if (!o)
                o = w->infos[i] = cJSON_CreateObject();
        if (!o)
                return NULL;
        if (!cJSON_HasObjectItem(o, "id"))
                cJSON_AddStringToObject(o, "id", w->ids[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "state");
        cJSON_AddStringToObject(o, "state", w->outcomes[i] == IMAGE_DONE ? "done" :
                                            w->outcomes[i] == IMAGE_FAILED ? "error" : "waiting");
        return o;
}

void image_watch_done(struct image_watch *w) {
        sd_bus_slot_unref(w->done_slot);
        sd_bus_slot_unref(w->error_slot);
        for (size_t i = 0; i < w->n_ids; i++) {
                free(w->ids[i]);
                cJSON_Delete(w->infos[i]);
        }
        free(w->ids);
        free(w->outcomes);
        free(w->infos);
        *w = (struct image_watch) {};
}
