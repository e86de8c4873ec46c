/* SPDX-License-Identifier: MIT */
/* camctl photo: capture one (burst) photo, save the proxy at once and the final with --wait. */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "camctl/capture.h"
#include "camctl/client.h"
#include "camctl/image-watch.h"
#include "camctl/output.h"
#include "camctl/images.h"

static int capture(struct camctl *c, const char *output_path, char **ret_id) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const struct camctl_args *a = c->args;
        const char *id;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, CAMERAD_BUS_NAME, output_path, CAMERAD_IFACE_PHOTO,
                                           "Capture");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && a->quality)
                r = sd_bus_message_append(m, "{sv}", "quality", "u", a->quality);
        if (r >= 0 && a->burst)
                r = sd_bus_message_append(m, "{sv}", "burst", "u", a->burst);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "deferred", "b", !a->no_defer);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return camctl_bus_error(NULL, r, "Capture");
        r = sd_bus_call(c->bus, m, 0, &e, &reply);
        if (r < 0)
                return camctl_bus_error(&e, r, "Capture");
        r = sd_bus_message_read(reply, "s", &id);
        if (r < 0)
                return camctl_bus_error(NULL, r, "Capture");
        *ret_id = strdup(id);
        return *ret_id ? 0 : camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
}

/* The photo is taken only when its file can be written: a capture the user cannot save would
 * still sit in the processing queue. */
static int check_output_writable(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;

        if (!dir)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        slash = strrchr(dir, '/');
        if (!slash)
                strcpy(dir, ".");
        else if (slash == dir)
                slash[1] = 0;
        else
                *slash = 0;
        if (access(dir, W_OK | X_OK) < 0)
                return camctl_error(CAMCTL_EXIT_LOCAL, "cannot write %s: folder %s: %s", path, dir,
                                    strerror(errno));
        return 0;
}

int verb_photo(struct camctl *c, int argc, char **argv) {
        const struct camctl_args *a = c->args;
        _cleanup_free_ char *session = NULL, *id = NULL, *file = NULL, *kind = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        struct capture_session cs;
        struct image_watch w = {};
        char what[64];
        uint64_t size = 0, t0 = camctl_now_usec();
        int r;

        if (!doc)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = check_output_writable(a->output ?: "./photo.jpg");
        if (r != 0)
                return r;
        r = camctl_image_session(c, &session);
        if (r != 0)
                return r;
        /* Subscribe before the capture so a quick ProcessDone cannot slip by. */
        if (a->wait) {
                r = image_watch_start(c, session, &w);
                if (r != 0)
                        goto finish;
        }

        r = capture_open(c, "photo", "photo", &cs);
        if (r != 0)
                goto finish;
        r = capture(c, cs.output_path, &id);
        cJSON_AddStringToObject(doc, "camera", cs.camera_path);
        cJSON_AddStringToObject(doc, "format", cs.fourcc);
        cJSON_AddNumberToObject(doc, "width", cs.width);
        cJSON_AddNumberToObject(doc, "height", cs.height);
        snprintf(what, sizeof(what), "%ux%u %s", cs.width, cs.height, cs.fourcc);
        /* Release at once: background processing waits while any camera runs. */
        capture_close(c, &cs);
        if (r != 0)
                goto finish;

        if (!a->output && asprintf(&file, "%s.jpg", id) < 0) {
                r = camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
                goto finish;
        }
        const char *path = a->output ?: file;
        r = images_fetch(c, session, id, path, &kind, &size);
        if (r != 0)
                goto finish;
        cJSON_AddStringToObject(doc, "id", id);
        cJSON_AddStringToObject(doc, "file", path);
        cJSON_AddStringToObject(doc, "kind", kind);
        cJSON_AddNumberToObject(doc, "size", (double) size);
        cJSON_AddBoolToObject(doc, "deferred", !a->no_defer);
        cJSON_AddNumberToObject(doc, "capture_seconds", (double) (camctl_now_usec() - t0) / 1e6);
        if (!a->json)
                printf("Captured %s (%s) from %s: %s image written to %s (%llu bytes) in %.2f s\n", id,
                       what, cJSON_GetStringValue(cJSON_GetObjectItem(doc, "camera")), kind, path, (unsigned long long) size, (double) (camctl_now_usec() - t0) / 1e6);

        if (a->wait && !streq(kind, "final")) {
                free(kind);
                kind = NULL;
                r = image_watch_add(&w, id);
                if (r == 0)
                        r = image_watch_run(&w, "processing");
                if (r == 0)
                        r = images_fetch(c, session, id, path, &kind, &size);
                if (r != 0)
                        goto finish;
                cJSON_AddItemToObject(doc, "final", cJSON_Duplicate(image_watch_result(&w, 0), true));
                cJSON_ReplaceItemInObject(doc, "kind", cJSON_CreateString(kind));
                cJSON_ReplaceItemInObject(doc, "size", cJSON_CreateNumber((double) size));
                if (!a->json)
                        printf("Processed %s: %s image written to %s (%llu bytes), %.2f s in all\n", id, kind,
                               path, (unsigned long long) size, (double) (camctl_now_usec() - t0) / 1e6);
        }
        cJSON_AddNumberToObject(doc, "seconds", (double) (camctl_now_usec() - t0) / 1e6);
        if (a->json)
                r = output_json(doc);
finish:
        image_watch_done(&w);
        return r;
}
