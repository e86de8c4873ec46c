/* SPDX-License-Identifier: MIT */
/* The caller's ImageProcessSession: pending, process, remove, fetch, mode, status,
 * interrupt, reset. */

#include <time.h>

#include "camctl/client.h"
#include "camctl/image-watch.h"
#include "camctl/images.h"
#include "camctl/output.h"

int images_fetch(struct camctl *c, const char *session, const char *id, const char *path, char **ret_kind,
                 uint64_t *ret_size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *kind;
        int fd, r;

        r = camctl_call(c, session, CAMERAD_IFACE_IMAGES, "OpenImage", &reply, "s", id);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "hs", &fd, &kind);
        if (r < 0)
                return camctl_bus_error(NULL, r, "OpenImage");
        /* fd belongs to the message; camctl_save_fd only reads it. */
        r = camctl_save_fd(fd, path, ret_size);
        if (r != 0)
                return r;
        *ret_kind = strdup(kind);
        return *ret_kind ? 0 : camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
}

/* Reads an "as" reply into a NULL-terminated string array. */
static int read_strv(sd_bus_message *reply, char ***ret, size_t *ret_n) {
        char **v = NULL;
        size_t n = 0;
        const char *s;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &s)) > 0) {
                char **grown = realloc(v, (n + 2) * sizeof(*v));
                if (!grown || !(grown[n] = strdup(s))) {
                        v = grown ?: v;
                        r = -ENOMEM;
                        break;
                }
                v = grown;
                v[++n] = NULL;
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(v[i]);
                free(v);
                return camctl_bus_error(NULL, r, "reading a list");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);

static int pending_ids(struct camctl *c, const char *session, char ***ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = camctl_call(c, session, CAMERAD_IFACE_IMAGES, "GetPendingImages", &reply, "");
        return r != 0 ? r : read_strv(reply, ret, ret_n);
}

int verb_pending(struct camctl *c, int argc, char **argv) {
        static const char *const headers[] = { "ID", "STATE", "PRIORITY", "SIZE", "FRAMES", "AGE" };
        _cleanup_(table_freep) struct table *t = table_new(ELEMENTSOF(headers), headers);
        _cleanup_(cJSON_Deletep) cJSON *list = cJSON_CreateArray();
        _cleanup_free_ char *session = NULL;
        _cleanup_(strv_freep) char **ids = NULL;
        struct timespec now;
        size_t n;
        int r;

        if (!t || !list)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = camctl_image_session(c, &session);
        if (r == 0)
                r = pending_ids(c, session, &ids, &n);
        if (r != 0)
                return r;
        clock_gettime(CLOCK_REALTIME, &now);

        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                cJSON *info;
                const char *state, *priority;
                double created;

                r = sd_bus_call_method(c->bus, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_IMAGES, "GetImageInfo",
                                       &e, &reply, "s", ids[i]);
                if (r < 0 && sd_bus_error_has_name(&e, CAMERAD_ERROR_NAME_INVALID_ID))
                        continue; /* finished or removed since the list was made */
                if (r < 0)
                        return camctl_bus_error(&e, r, "GetImageInfo");
                r = camctl_read_dict(reply, &info);
                if (r != 0)
                        return r;
                cJSON_AddStringToObject(info, "id", ids[i]);
                cJSON_AddItemToArray(list, info);

                state = cJSON_GetStringValue(cJSON_GetObjectItem(info, "state"));
                priority = cJSON_GetStringValue(cJSON_GetObjectItem(info, "priority"));
                created = cJSON_GetNumberValue(cJSON_GetObjectItem(info, "created"));
                table_add(t, "%s", ids[i]);
                table_add(t, "%s", state ?: "-");
                if (priority)
                        table_add(t, "%s", priority);
                else
                        table_add(t, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(info, "priority")));
                table_add(t, "%.0fx%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(info, "width")),
                          cJSON_GetNumberValue(cJSON_GetObjectItem(info, "height")));
                table_add(t, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(info, "frames")));
                if (created > 0)
                        table_add(t, "%.0fs", MAX(0.0, (double) now.tv_sec - created / 1e6));
                else
                        table_add(t, "-");
        }

        if (c->args->json)
                return output_json(list);
        if (cJSON_GetArraySize(list) == 0)
                printf("No pending images.\n");
        else
                table_print(t, stdout);
        return 0;
}

int verb_process(struct camctl *c, int argc, char **argv) {
        _cleanup_free_ char *session = NULL;
        _cleanup_(strv_freep) char **pending = NULL;
        _cleanup_(cJSON_Deletep) cJSON *list = cJSON_CreateArray();
        struct image_watch w = {};
        char **ids = argv;
        size_t n = (size_t) argc;
        int r;

        if (!list)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = camctl_image_session(c, &session);
        if (r != 0)
                return r;
        if (c->args->all) {
                r = pending_ids(c, session, &pending, &n);
                if (r != 0)
                        return r;
                ids = pending;
        }
        if (c->args->wait)
                r = image_watch_start(c, session, &w);

        for (size_t i = 0; r == 0 && i < n; i++) {
                r = camctl_call(c, session, CAMERAD_IFACE_IMAGES, "ProcessImage", NULL, "s", ids[i]);
                if (r == 0 && c->args->wait)
                        r = image_watch_add(&w, ids[i]);
                if (r == 0 && !c->args->json && !c->args->wait)
                        printf("Requested %s\n", ids[i]);
        }
        if (r == 0 && c->args->wait)
                r = image_watch_run(&w, "processing");

        if (c->args->json && (r == 0 || r == CAMCTL_EXIT_FAILED)) {
                for (size_t i = 0; i < n; i++) {
                        cJSON *o = c->args->wait ? cJSON_Duplicate(image_watch_result(&w, i), true)
                                                 : cJSON_CreateObject();
                        if (!c->args->wait) {
                                cJSON_AddStringToObject(o, "id", ids[i]);
                                cJSON_AddStringToObject(o, "state", "requested");
                        }
                        cJSON_AddItemToArray(list, o);
                }
                int q = output_json(list);
                r = r ?: q;
        } else if (c->args->wait && (r == 0 || r == CAMCTL_EXIT_FAILED)) {
                for (size_t i = 0; i < n; i++) {
                        cJSON *o = image_watch_result(&w, i);
                        const char *error = cJSON_GetStringValue(cJSON_GetObjectItem(o, "error"));
                        if (error)
                                printf("%s failed: %s\n", ids[i], error);
                        else
                                printf("%s done: %.0fx%.0f, %.0f bytes\n", ids[i],
                                       cJSON_GetNumberValue(cJSON_GetObjectItem(o, "width")),
                                       cJSON_GetNumberValue(cJSON_GetObjectItem(o, "height")),
                                       cJSON_GetNumberValue(cJSON_GetObjectItem(o, "size")));
                }
        }
        image_watch_done(&w);
        return r;
}

int verb_remove(struct camctl *c, int argc, char **argv) {
        _cleanup_free_ char *session = NULL;
        int r, result = 0;

        r = camctl_image_session(c, &session);
        if (r != 0)
                return r;
        /* Remove what can be removed; report each failure and exit with the last. */
        for (int i = 0; i < argc; i++) {
                r = camctl_call(c, session, CAMERAD_IFACE_IMAGES, "RemoveImage", NULL, "s", argv[i]);
                if (r != 0)
                        result = r;
                else if (!c->args->json)
                        printf("Removed %s\n", argv[i]);
        }
        return result;
}

int verb_fetch(struct camctl *c, int argc, char **argv) {
        _cleanup_free_ char *session = NULL, *kind = NULL, *file = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        const char *path = c->args->output;
        uint64_t size;
        int r;

        if (!doc)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        if (!path) {
                if (asprintf(&file, "%s.jpg", argv[0]) < 0)
                        return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
                path = file;
        }
        r = camctl_image_session(c, &session);
        if (r == 0)
                r = images_fetch(c, session, argv[0], path, &kind, &size);
        if (r != 0)
                return r;
        if (c->args->json) {
                cJSON_AddStringToObject(doc, "id", argv[0]);
                cJSON_AddStringToObject(doc, "file", path);
                cJSON_AddStringToObject(doc, "kind", kind);
                cJSON_AddNumberToObject(doc, "size", (double) size);
                return output_json(doc);
        }
        if (!streq(path, "-"))
                printf("Wrote the %s image of %s to %s (%llu bytes)\n", kind, argv[0], path,
                       (unsigned long long) size);
        return 0;
}

int verb_mode(struct camctl *c, int argc, char **argv) {
        _cleanup_free_ char *session = NULL, *mode = NULL;
        int r;

        r = camctl_image_session(c, &session);
        if (r != 0)
                return r;
        if (argc > 0) {
                r = camctl_call(c, session, CAMERAD_IFACE_IMAGES, "SetExecutionMode", NULL, "s", argv[0]);
                if (r != 0)
                        return r;
        }
        r = camctl_get_string(c, session, CAMERAD_IFACE_IMAGES, "ExecutionMode", &mode);
        if (r != 0)
                return r;
        if (c->args->json) {
                _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
                cJSON_AddStringToObject(doc, "mode", mode);
                return output_json(doc);
        }
        printf("%s\n", mode);
        return 0;
}

int verb_status(struct camctl *c, int argc, char **argv) {
        static const char *const modes[] = { "high-performance", "balanced", "low-power" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *session = NULL, *video_session = NULL, *version = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_(strv_freep) char **videos = NULL;
        cJSON *concurrency;
        size_t n_videos;
        int r;

        r = camctl_get_string(c, CAMERAD_ROOT_PATH, CAMERAD_IFACE_MANAGER, "Version", &version);
        if (r == 0)
                r = camctl_image_session(c, &session);
        if (r == 0)
                r = camctl_call(c, session, "org.freedesktop.DBus.Properties", "GetAll", &reply, "s",
                                CAMERAD_IFACE_IMAGES);
        if (r == 0)
                r = camctl_read_dict(reply, &doc);
        if (r != 0)
                return r;
        cJSON_AddStringToObject(doc, "Version", version);
        cJSON_AddStringToObject(doc, "ImageProcessSession", session);
        concurrency = cJSON_AddObjectToObject(doc, "Concurrency");
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                int32_t n;

                r = camctl_call(c, session, CAMERAD_IFACE_IMAGES, "GetConcurrency", &m, "s", modes[i]);
                if (r != 0)
                        return r;
                r = sd_bus_message_read(m, "i", &n);
                if (r < 0)
                        return camctl_bus_error(NULL, r, "GetConcurrency");
                cJSON_AddNumberToObject(concurrency, modes[i], n);
        }

        r = camctl_video_session(c, &video_session);
        if (r == 0) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                r = camctl_call(c, video_session, CAMERAD_IFACE_VIDEOS, "GetPendingVideos", &m, "");
                if (r == 0)
                        r = read_strv(m, &videos, &n_videos);
        }
        if (r != 0)
                return r;
        cJSON_AddStringToObject(doc, "VideoProcessSession", video_session);
        cJSON_AddNumberToObject(doc, "PendingVideos", (double) n_videos);

        if (c->args->json)
                return output_json(doc);
        printf("        Daemon: camerad %s\n", version);
        printf("        Status: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(doc, "Status")) ?: "-");
        printf("Execution mode: %s (%.0f at once)\n",
               cJSON_GetStringValue(cJSON_GetObjectItem(doc, "ExecutionMode")) ?: "-",
               cJSON_GetNumberValue(cJSON_GetObjectItem(concurrency,
                        cJSON_GetStringValue(cJSON_GetObjectItem(doc, "ExecutionMode")) ?: "balanced")));
        printf("        Images: %.0f pending, %.0f running\n",
               cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "PendingCount")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "RunningCount")));
        printf("        Videos: %zu pending\n", n_videos);
        return 0;
}

static int simple_call(struct camctl *c, const char *member, const char *done) {
        _cleanup_free_ char *session = NULL;
        int r;

        r = camctl_image_session(c, &session);
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_IMAGES, member, NULL, "");
        if (r == 0 && !c->args->json)
                printf("%s\n", done);
        return r;
}

int verb_interrupt(struct camctl *c, int argc, char **argv) {
        return simple_call(c, "Interrupt", "Image processing interrupted; running images are pending again.");
}

int verb_reset(struct camctl *c, int argc, char **argv) {
        return simple_call(c, "Reset", "Image processing reset.");
}
