/* SPDX-License-Identifier: MIT */
/* camctl video process|pending|interrupt|resume: the caller's VideoProcessSession. */

#include <fcntl.h>
#include <libgen.h>

#include "camctl/client.h"
#include "camctl/output.h"
#include "camctl/progress.h"
#include "shared/id.h"

struct video_wait {
        struct camctl *c;
        const char *session, *id;
        struct progress progress;
        bool finished, failed;
        char *error_code;
        cJSON *info; /* ProcessDone's */
        uint64_t frames_done, frames, last_poll;
        int poll_error;
        bool end;
};

static int on_done(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct video_wait *w = userdata;
        const char *id;

        if (sd_bus_message_read(m, "s", &id) < 0 || !streq(id, w->id))
                return 0;
        cJSON_Delete(w->info);
        if (camctl_read_dict(m, &w->info) != 0)
                w->info = NULL;
        w->finished = true;
        w->frames_done = w->frames;
        return 0;
}

static int on_error(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct video_wait *w = userdata;
        const char *id, *code;

        if (sd_bus_message_read(m, "ss", &id, &code) < 0 || !streq(id, w->id))
                return 0;
        free(w->error_code);
        w->error_code = strdup(code);
        w->failed = w->finished = true;
        return 0;
}

/* Reads GetVideoInfo for the progress bar; also notices a job that ended unseen. */
static int poll_info(struct video_wait *w) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *info = NULL;
        const char *state;
        int r;

        r = camctl_call(w->c, w->session, CAMERAD_IFACE_VIDEOS, "GetVideoInfo", &reply, "s", w->id);
        if (r == 0)
                r = camctl_read_dict(reply, &info);
        if (r != 0)
                return r;
        w->frames_done = (uint64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(info, "frames_done"));
        w->frames = (uint64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(info, "frames"));
        state = cJSON_GetStringValue(cJSON_GetObjectItem(info, "state"));
        if (state && streq(state, "done") && !w->finished) {
                w->finished = true;
                w->info = TAKE_PTR(info);
        } else if (state && streq(state, "error") && !w->finished) {
                w->error_code = strdup("error");
                w->failed = w->finished = true;
        }
        return 0;
}

static void tick(void *userdata) {
        struct video_wait *w = userdata;
        uint64_t now = camctl_now_usec();

        if (!w->finished && w->poll_error == 0 && now - w->last_poll >= 250000) {
                w->last_poll = now;
                w->poll_error = poll_info(w);
        }
        progress_update(&w->progress, w->frames_done, w->frames);
        w->end = w->finished || w->poll_error != 0;
}

static int video_wait_start(struct camctl *c, const char *session, const char *id, struct video_wait *w,
                            sd_bus_slot **done_slot, sd_bus_slot **error_slot) {
        int r;

        *w = (struct video_wait) { .c = c, .session = session, .id = id };
        r = sd_bus_match_signal(c->bus, done_slot, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_VIDEOS, "ProcessDone",
                                on_done, w);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, error_slot, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_VIDEOS,
                                        "Error", on_error, w);
        return r < 0 ? camctl_bus_error(NULL, r, "subscribing to video signals") : 0;
}

static int video_wait_run(struct video_wait *w) {
        int r;

        progress_init(&w->progress, "processing", "frames", w->c->args->json);
        r = poll_info(w);
        if (r == 0) {
                w->last_poll = camctl_now_usec();
                progress_update(&w->progress, w->frames_done, w->frames);
                w->end = w->finished;
                r = camctl_wait(w->c, &w->end, camctl_deadline(w->c), tick, w);
        }
        progress_finish(&w->progress);
        if (w->poll_error != 0)
                return w->poll_error;
        if (r != 0)
                return r;
        if (w->failed) {
                if (streq(w->error_code ?: "", "abort"))
                        return camctl_error(CAMCTL_EXIT_FAILED,
                                            "video %s was interrupted; continue with 'camctl video resume %s'",
                                            w->id, w->id);
                return camctl_error(CAMCTL_EXIT_FAILED, "processing video %s failed: %s", w->id,
                                    w->error_code ?: "unknown error");
        }
        return 0;
}

static void video_wait_done(struct video_wait *w) {
        free(w->error_code);
        cJSON_Delete(w->info);
}

/* A video id from the input's file name: camerad needs 1-64 of [A-Za-z0-9._-]. */
static int id_from_path(const char *path, char **ret) {
        _cleanup_free_ char *copy = strdup(path);
        char *id;

        if (!copy)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        id = strndup(basename(copy), 64);
        if (!id)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        for (char *p = id; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
                        *p = '_';
        if (!video_id_is_valid(id)) {
                free(id);
                return camctl_error(CAMCTL_EXIT_USAGE, "cannot make a video id from '%s'; give one with --id", path);
        }
        *ret = id;
        return 0;
}

/* Prepare → CreateStreams → CommitStreams; fills streams (an array of Prepare's dicts). */
static int setup_streams(struct camctl *c, const char *session, const char *id, int in_fd, int out_fd,
                         cJSON *streams, uint64_t *ret_frames) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *settings = NULL;
        _cleanup_(cJSON_Deletep) cJSON *json = cJSON_CreateObject();
        cJSON *video = NULL, *s;
        int r;

        r = camctl_call(c, session, CAMERAD_IFACE_VIDEOS, "Prepare", &reply, "sh", id, in_fd);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_peek_type(reply, NULL, NULL)) > 0) {
                r = camctl_read_dict(reply, &s);
                if (r != 0)
                        return r;
                cJSON_AddItemToArray(streams, s);
                const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(s, "type"));
                if (!video && type && streq(type, "video"))
                        video = s;
        }
        if (r < 0)
                return camctl_bus_error(NULL, r, "Prepare");
        if (!video)
                return camctl_error(CAMCTL_EXIT_FAILED, "camerad found no video stream in the input");
        *ret_frames = (uint64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(video, "frames"));

        r = sd_bus_message_new_method_call(c->bus, &m, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_VIDEOS,
                                           "CreateStreams");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}", "id", "i",
                                          (int32_t) cJSON_GetNumberValue(cJSON_GetObjectItem(video, "id")), "fd",
                                          "h", out_fd);
        if (r >= 0 && c->args->quality)
                r = sd_bus_message_append(m, "{sv}", "quality", "u", c->args->quality);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return camctl_bus_error(NULL, r, "CreateStreams");
        r = sd_bus_call(c->bus, m, 0, &e, NULL);
        if (r < 0)
                return camctl_bus_error(&e, r, "CreateStreams");

        if (!json)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        if (c->args->denoise >= 0)
                cJSON_AddNumberToObject(json, "denoise", c->args->denoise);
        if (c->args->quality)
                cJSON_AddNumberToObject(json, "quality", c->args->quality);
        settings = cJSON_PrintUnformatted(json);
        if (!settings)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        sd_bus_message_unref(m);
        m = NULL;
        r = sd_bus_message_new_method_call(c->bus, &m, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_VIDEOS,
                                           "CommitStreams");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', settings, strlen(settings));
        if (r < 0)
                return camctl_bus_error(NULL, r, "CommitStreams");
        r = sd_bus_call(c->bus, m, 0, &e, NULL);
        return r < 0 ? camctl_bus_error(&e, r, "CommitStreams") : 0;
}

/* Starts processing at timestamp, waits with --wait, and reports. */
static int process_and_report(struct camctl *c, const char *session, const char *id, uint64_t timestamp,
                              cJSON *doc) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *done_slot = NULL, *error_slot = NULL;
        struct video_wait w = {};
        uint64_t t0 = camctl_now_usec();
        int r = 0;

        if (c->args->wait)
                r = video_wait_start(c, session, id, &w, &done_slot, &error_slot);
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_VIDEOS, "ProcessVideo", NULL, "st", id, timestamp);
        if (r == 0 && c->args->wait) {
                camctl_catch_signals();
                r = video_wait_run(&w);
        }
        cJSON_AddStringToObject(doc, "id", id);
        cJSON_AddNumberToObject(doc, "timestamp", (double) timestamp);
        if (r == 0 && c->args->wait) {
                cJSON_AddStringToObject(doc, "state", "done");
                if (w.info)
                        cJSON_AddItemToObject(doc, "info", TAKE_PTR(w.info));
                cJSON_AddNumberToObject(doc, "seconds", (double) (camctl_now_usec() - t0) / 1e6);
        } else if (r == 0)
                cJSON_AddStringToObject(doc, "state", "started");
        video_wait_done(&w);
        if (r != 0)
                return r;

        if (c->args->json)
                return output_json(doc);
        const char *out = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "output"));
        if (c->args->wait)
                printf("Processed video %s%s%s in %.1f s\n", id, out ? " into " : "", out ?: "",
                       (double) (camctl_now_usec() - t0) / 1e6);
        else
                printf("Processing video %s%s%s in the background (see 'camctl video pending')\n", id,
                       out ? " into " : "", out ?: "");
        return 0;
}

static int video_process(struct camctl *c, int argc, char **argv) {
        _cleanup_free_ char *session = NULL, *id = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        _cleanup_close_ int in_fd = -1, out_fd = -1;
        cJSON *streams;
        uint64_t frames = 0;
        int r;

        if (!doc || !(streams = cJSON_AddArrayToObject(doc, "streams")))
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        if (c->args->id)
                id = strdup(c->args->id);
        else {
                r = id_from_path(argv[0], &id);
                if (r != 0)
                        return r;
        }
        if (!id)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");

        in_fd = open(argv[0], O_RDONLY | O_CLOEXEC);
        if (in_fd < 0)
                return camctl_error(CAMCTL_EXIT_LOCAL, "cannot open '%s': %s", argv[0], strerror(errno));
        out_fd = open(c->args->output, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (out_fd < 0)
                return camctl_error(CAMCTL_EXIT_LOCAL, "cannot create '%s': %s", c->args->output, strerror(errno));

        r = camctl_video_session(c, &session);
        if (r == 0)
                r = setup_streams(c, session, id, in_fd, out_fd, streams, &frames);
        if (r != 0)
                return r;
        cJSON_AddStringToObject(doc, "input", argv[0]);
        cJSON_AddStringToObject(doc, "output", c->args->output);
        cJSON_AddNumberToObject(doc, "frames", (double) frames);
        return process_and_report(c, session, id, 0, doc);
}

static int video_resume(struct camctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *info = NULL, *doc = cJSON_CreateObject();
        _cleanup_free_ char *session = NULL;
        int r;

        if (!doc)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = camctl_video_session(c, &session);
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_VIDEOS, "GetVideoInfo", &reply, "s", argv[0]);
        if (r == 0)
                r = camctl_read_dict(reply, &info);
        if (r != 0)
                return r;
        return process_and_report(c, session, argv[0],
                                  (uint64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(info, "resume_timestamp")),
                                  doc);
}

static int video_pending(struct camctl *c, int argc, char **argv) {
        static const char *const headers[] = { "ID", "STATE", "FRAMES" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(table_freep) struct table *t = table_new(ELEMENTSOF(headers), headers);
        _cleanup_(cJSON_Deletep) cJSON *list = cJSON_CreateArray();
        _cleanup_free_ char *session = NULL;
        const char *id;
        int r;

        if (!t || !list)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = camctl_video_session(c, &session);
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_VIDEOS, "GetPendingVideos", &reply, "");
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &id)) > 0) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                cJSON *info = NULL;

                /* Ask quietly: a recording not yet prepared may have little to tell. */
                if (sd_bus_call_method(c->bus, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_VIDEOS, "GetVideoInfo",
                                       NULL, &m, "s", id) < 0 ||
                    camctl_read_dict(m, &info) != 0)
                        info = cJSON_CreateObject();
                if (!info)
                        return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
                cJSON_AddStringToObject(info, "id", id);
                cJSON_AddItemToArray(list, info);
                table_add(t, "%s", id);
                table_add(t, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(info, "state")) ?: "-");
                if (cJSON_HasObjectItem(info, "frames"))
                        table_add(t, "%.0f/%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(info, "frames_done")),
                                  cJSON_GetNumberValue(cJSON_GetObjectItem(info, "frames")));
                else
                        table_add(t, "-");
        }
        if (r < 0)
                return camctl_bus_error(NULL, r, "GetPendingVideos");
        if (c->args->json)
                return output_json(list);
        if (cJSON_GetArraySize(list) == 0)
                printf("No pending videos.\n");
        else
                table_print(t, stdout);
        return 0;
}

static int video_interrupt(struct camctl *c, int argc, char **argv) {
        _cleanup_free_ char *session = NULL;
        int r;

        r = camctl_video_session(c, &session);
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_VIDEOS, "Interrupt", NULL, "");
        if (r == 0 && !c->args->json)
                printf("Video processing interrupted; resume with 'camctl video resume ID'.\n");
        return r;
}

int verb_video(struct camctl *c, int argc, char **argv) {
        /* main.c checked the sub-verb and its arguments. */
        if (streq(argv[0], "process"))
                return video_process(c, argc - 1, argv + 1);
        if (streq(argv[0], "resume"))
                return video_resume(c, argc - 1, argv + 1);
        if (streq(argv[0], "pending"))
                return video_pending(c, argc - 1, argv + 1);
        return video_interrupt(c, argc - 1, argv + 1);
}
