/* SPDX-License-Identifier: MIT */
#include "camctl/client.h"
#include "camctl/image-watch.h"
#include "camctl/output.h"
#include "camctl/progress.h"

static struct watched_image *find_image(struct image_watch *w, const char *id) {
        for (size_t i = 0; i < w->n_images; i++)
                if (streq(w->images[i].id, id))
                        return &w->images[i];
        return NULL;
}

static void set_outcome(struct image_watch *w, struct watched_image *img, enum image_outcome outcome,
                        cJSON *info) {
        if (img->outcome != IMAGE_WAITING) {
                cJSON_Delete(info);
                return;
        }
        img->outcome = outcome;
        cJSON_Delete(img->info);
        img->info = info;
        if (outcome == IMAGE_DONE)
                w->n_done++;
        else
                w->n_failed++;
        w->finished = w->n_done + w->n_failed == w->n_images;
}

static int on_process_done(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct image_watch *w = userdata;
        struct watched_image *img;
        const char *id;
        cJSON *info = NULL;

        if (sd_bus_message_read(m, "s", &id) < 0 || !(img = find_image(w, id)))
                return 0;
        if (camctl_read_dict(m, &info) != 0)
                info = cJSON_CreateObject();
        set_outcome(w, img, IMAGE_DONE, info);
        return 0;
}

/* Only these codes end an image for good: camerad retries timeout/abnormal itself, and
 * "abort" (Interrupt, preemption) puts it back to pending. */
static bool error_is_final(const char *code) {
        return streq(code, "invalid-id") || streq(code, "process");
}

static int on_error(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct image_watch *w = userdata;
        struct watched_image *img;
        const char *id, *code;

        if (sd_bus_message_read(m, "ss", &id, &code) < 0 || !(img = find_image(w, id)))
                return 0;
        if (!error_is_final(code)) {
                fprintf(stderr, "camctl: image %s: %s, camerad will try again\n", id, code);
                return 0;
        }
        cJSON *info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "error", code);
        set_outcome(w, img, IMAGE_FAILED, info);
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
        struct watched_image *images = realloc(w->images, (w->n_images + 1) * sizeof(*images));
        char *copy = strdup(id);

        if (images)
                w->images = images;
        if (!images || !copy) {
                free(copy);
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        }
        images[w->n_images++] = (struct watched_image) { .id = copy, .outcome = IMAGE_WAITING };
        w->finished = false;
        return 0;
}

/* Asks for the state of every image still waited for; returns an exit code on failure. */
static int poll_states(struct image_watch *w) {
        for (size_t i = 0; i < w->n_images; i++) {
                struct watched_image *img = &w->images[i];
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(cJSON_Deletep) cJSON *info = NULL;
                const char *state;
                int r;

                if (img->outcome != IMAGE_WAITING)
                        continue;
                r = sd_bus_call_method(w->c->bus, CAMERAD_BUS_NAME, w->session, CAMERAD_IFACE_IMAGES,
                                       "GetImageInfo", &e, &reply, "s", img->id);
                if (r < 0 && sd_bus_error_has_name(&e, CAMERAD_ERROR_NAME_INVALID_ID)) {
                        /* Removed while we waited. */
                        info = cJSON_CreateObject();
                        cJSON_AddStringToObject(info, "error", "invalid-id");
                        set_outcome(w, img, IMAGE_FAILED, TAKE_PTR(info));
                        continue;
                }
                if (r < 0)
                        return camctl_bus_error(&e, r, "GetImageInfo");
                r = camctl_read_dict(reply, &info);
                if (r != 0)
                        return r;
                state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "state"));
                if (state && streq(state, "done"))
                        set_outcome(w, img, IMAGE_DONE, TAKE_PTR(info));
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
        progress_update(t->p, t->w->n_done + t->w->n_failed, t->w->n_images);
        t->end = t->w->finished || t->error != 0;
}

int image_watch_run(struct image_watch *w, const char *label) {
        struct progress p;
        struct tick_state t = { .w = w, .p = &p };
        int r = 0;

        progress_init(&p, label, "images", w->c->args->json);
        w->last_poll = camctl_now_usec();
        w->finished = w->n_done + w->n_failed == w->n_images;
        r = poll_states(w);
        if (r != 0)
                return r;
        progress_update(&p, w->n_done + w->n_failed, w->n_images);

        if (!w->finished)
                r = camctl_wait(w->c, &t.end, camctl_deadline(w->c), tick, &t);
        progress_update(&p, w->n_done + w->n_failed, w->n_images);
        progress_finish(&p);
        if (t.error != 0)
                return t.error;
        if (r != 0)
                return r;
        return w->n_failed > 0 ? CAMCTL_EXIT_FAILED : 0;
}

cJSON *image_watch_result(struct image_watch *w, size_t i) {
        struct watched_image *img = &w->images[i];

        if (!img->info)
                img->info = cJSON_CreateObject();
        if (!img->info)
                return NULL;
        if (!cJSON_HasObjectItem(img->info, "id"))
                cJSON_AddStringToObject(img->info, "id", img->id);
        cJSON_DeleteItemFromObjectCaseSensitive(img->info, "state");
        cJSON_AddStringToObject(img->info, "state", img->outcome == IMAGE_DONE ? "done" :
                                                    img->outcome == IMAGE_FAILED ? "error" : "waiting");
        return img->info;
}

void image_watch_done(struct image_watch *w) {
        sd_bus_slot_unref(w->done_slot);
        sd_bus_slot_unref(w->error_slot);
        for (size_t i = 0; i < w->n_images; i++) {
                free(w->images[i].id);
                cJSON_Delete(w->images[i].info);
        }
        free(w->images);
        *w = (struct image_watch) {};
}
