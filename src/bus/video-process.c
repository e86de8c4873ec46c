/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/manager.h"
#include "bus/process-common.h"
#include "bus/user-context.h"
#include "bus/video-process.h"
#include "process/video-processor.h"
#include "shared/fd-util.h"
#include "shared/log.h"
#include "shared/macro.h"

/* A CreateStreams/ReleaseStreams list longer than this is a client bug, not a video. */
#define STREAMS_MAX 64

/* A processor failure as a D-Bus error, with the processor's own sentence. */
static int video_error(struct user_context *u, sd_bus_error *error, int r, const char *what) {
        const char *msg = video_processor_message(u->videos);

        const char *sep = ": ";

        if (!msg || !*msg)
                msg = strerror(-r);
        /* Messages such as "CommitStreams needs …" already name the method. */
        if (strncmp(msg, what, strlen(what)) == 0 && msg[strlen(what)] == ' ')
                what = sep = "";
        switch (r) {
        case -ENOENT:
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ID, "%s%s%s", what, sep, msg);
        case -EINVAL:
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT, "%s%s%s", what, sep, msg);
        case -EPERM:
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED, "%s%s%s", what, sep, msg);
        default:
                return bus_error_setf(error, CAMERAD_ERROR_SERVICE_FATAL, "%s%s%s", what, sep, msg);
        }
}

static int method_get_pending_videos(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        _cleanup_(process_strv_freep) char **ids = NULL;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = video_processor_pending(u->videos, &ids);
        if (r < 0)
                return video_error(u, error, r, "GetPendingVideos");
        return process_reply_strv(m, ids);
}

static int append_stream(sd_bus_message *reply, const struct video_stream_info *s) {
        return sd_bus_message_append(reply, "a{sv}", 8,
                                     "id", "i", (int32_t) s->id,
                                     "type", "s", video_stream_type_to_string(s->type),
                                     "format", "s", s->format,
                                     "width", "u", (uint32_t) s->width,
                                     "height", "u", (uint32_t) s->height,
                                     "fps", "d", s->fps,
                                     "frames", "u", (uint32_t) s->frames,
                                     "duration", "t", s->duration_us);
}

static int method_prepare(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ struct video_stream_info *streams = NULL;
        const char *id, *reason = NULL;
        size_t n = 0;
        int fd, r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "sh", &id, &fd);
        if (r < 0)
                return r;
        r = process_check_id(PROCESS_VIDEO, id, error);
        if (r < 0)
                return r;
        if (fd_check_regular_file(fd, FD_NEED_READ, &reason) < 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "Prepare: the fd %s; a readable Motion-JPEG AVI file is needed",
                                      reason ?: "cannot be used");

        r = video_processor_prepare(u->videos, id, fd, &streams, &n);
        if (r < 0)
                return video_error(u, error, r, "Prepare");

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = append_stream(reply, &streams[i]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        manager_note_activity(u->manager);
        return sd_bus_send(NULL, reply, NULL);
}

/* One dict of CreateStreams (with_fd) or ReleaseStreams: keys id (i), and for
 * CreateStreams fd (h) and optional quality (u). Unknown keys and wrong types are
 * InvalidArgument naming the key. */
static int read_stream_dict(sd_bus_message *m, bool with_fd, size_t index,
                            struct video_stream_output *ret, sd_bus_error *error) {
        int32_t id = 0;
        uint32_t quality = 0;
        struct bus_dict_key keys[] = {
                { .name = "id", .type = 'i', .ptr = &id },
                { .name = "fd", .type = 'h', .ptr = &ret->fd },
                { .name = "quality", .type = 'u', .ptr = &quality },
        };
        struct bus_dict_key *k;
        const char *key, *contents;
        int r;

        *ret = (struct video_stream_output) { .fd = -1 };
        while ((r = bus_dict_next(m, keys, with_fd ? ELEMENTSOF(keys) : 1, &key, &k, &contents)) > 0) {
                if (!k)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "stream %zu: unknown key '" BUS_ECHO_FMT "'; expected %s",
                                              index, BUS_ECHO(key), with_fd ? "id, fd, quality" : "id");
                if (!bus_dict_type_is(k, contents))
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "stream %zu: key '%s' must be of type '%c'; got '" BUS_ECHO_FMT "'",
                                              index, key, k->type, BUS_ECHO(contents));
                if (k->seen)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "stream %zu: key '%s' is given twice", index, key);
                r = bus_dict_read_value(m, k);
                if (r < 0)
                        return r;
                if (k == &keys[2] && (quality < 1 || quality > 100))
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "stream %zu: quality must be 1-100; got %u", index, quality);
        }
        if (r < 0)
                return r;
        if (!keys[0].seen)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "stream %zu: the key 'id' is missing", index);
        if (with_fd && !keys[1].seen)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "stream %zu: the key 'fd' is missing", index);
        ret->stream_id = id;
        ret->quality = (int) quality;
        return 0;
}

static int read_stream_list(sd_bus_message *m, bool with_fd, struct video_stream_output **ret,
                            size_t *ret_n, sd_bus_error *error) {
        _cleanup_free_ struct video_stream_output *list = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                struct video_stream_output *nl;

                if (n >= STREAMS_MAX)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "more than %d streams given", STREAMS_MAX);
                nl = realloc(list, (n + 1) * sizeof *list);
                if (!nl)
                        return -ENOMEM;
                list = nl;
                r = read_stream_dict(m, with_fd, n, &list[n], error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                n++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (n == 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT, "no stream given");
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static int method_create_streams(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        _cleanup_free_ struct video_stream_output *outputs = NULL;
        size_t n;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = read_stream_list(m, true, &outputs, &n, error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *reason = NULL;
                if (fd_check_regular_file(outputs[i].fd, FD_NEED_WRITE, &reason) < 0)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "CreateStreams: the fd of stream %d %s; a writable, "
                                              "seekable regular file is needed",
                                              outputs[i].stream_id, reason ?: "cannot be used");
        }
        r = video_processor_create_streams(u->videos, outputs, n);
        if (r < 0)
                return video_error(u, error, r, "CreateStreams");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_commit_streams(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        const void *json;
        size_t len;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read_array(m, 'y', &json, &len);
        if (r < 0)
                return r;
        r = video_processor_commit_streams(u->videos, json, len);
        if (r < 0)
                return video_error(u, error, r, "CommitStreams");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_release_streams(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        _cleanup_free_ struct video_stream_output *list = NULL;
        _cleanup_free_ int *ids = NULL;
        size_t n;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = read_stream_list(m, false, &list, &n, error);
        if (r < 0)
                return r;
        ids = calloc(n, sizeof *ids);
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                ids[i] = list[i].stream_id;
        r = video_processor_release_streams(u->videos, ids, n);
        if (r < 0)
                return video_error(u, error, r, "ReleaseStreams");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_process_video(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        const char *id;
        uint64_t timestamp;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "st", &id, &timestamp);
        if (r < 0)
                return r;
        r = process_check_id(PROCESS_VIDEO, id, error);
        if (r < 0)
                return r;
        r = video_processor_process(u->videos, id, timestamp);
        if (r < 0)
                return video_error(u, error, r, "ProcessVideo");
        manager_note_activity(u->manager);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_remove_video(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        const char *id;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = process_read_id(PROCESS_VIDEO, m, &id, error);
        if (r < 0)
                return r;
        r = video_processor_remove(u->videos, id);
        if (r < 0)
                return video_error(u, error, r, "RemoveVideo");
        return sd_bus_reply_method_return(m, NULL);
}

/* Interrupt and Reset: nothing in, nothing out. */
static int method_videos_op(sd_bus_message *m, struct user_context *u, sd_bus_error *error,
                            int (*op)(struct video_processor *), const char *what) {
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = op(u->videos);
        if (r < 0)
                return video_error(u, error, r, what);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_interrupt(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_videos_op(m, userdata, error, video_processor_interrupt, "Interrupt");
}

static int method_reset(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_videos_op(m, userdata, error, video_processor_reset, "Reset");
}

static int method_get_video_info(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct user_context *u = userdata;
        struct video_info info;
        const char *id;
        int r;

        r = user_context_check_access(u, m, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = process_read_id(PROCESS_VIDEO, m, &id, error);
        if (r < 0)
                return r;
        r = video_processor_get_info(u->videos, id, &info);
        if (r < 0)
                return video_error(u, error, r, "GetVideoInfo");
        return sd_bus_reply_method_return(
                        m, "a{sv}", 11,
                        "state", "s", video_state_to_string(info.state),
                        "frames_done", "u", (uint32_t) info.frames_done,
                        "frames", "u", (uint32_t) info.frames,
                        "resume_timestamp", "t", info.resume_timestamp,
                        "width", "u", (uint32_t) info.width,
                        "height", "u", (uint32_t) info.height,
                        "fps", "d", info.fps,
                        "created", "t", info.created_us,
                        "prepared", "b", (int) info.prepared,
                        "committed", "b", (int) info.committed,
                        "error", "s", info.error ?: "");
}

static const sd_bus_vtable video_process_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetPendingVideos", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", videoIds),
                                method_get_pending_videos, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Prepare", SD_BUS_ARGS("s", videoId, "h", fd), SD_BUS_RESULT("aa{sv}", streams),
                                method_prepare, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateStreams", SD_BUS_ARGS("aa{sv}", streams), SD_BUS_NO_RESULT,
                                method_create_streams, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CommitStreams", SD_BUS_ARGS("ay", modeSetting), SD_BUS_NO_RESULT,
                                method_commit_streams, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseStreams", SD_BUS_ARGS("aa{sv}", streams), SD_BUS_NO_RESULT,
                                method_release_streams, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ProcessVideo", SD_BUS_ARGS("s", videoId, "t", timestamp), SD_BUS_NO_RESULT,
                                method_process_video, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveVideo", SD_BUS_ARGS("s", videoId), SD_BUS_NO_RESULT,
                                method_remove_video, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Interrupt", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_interrupt, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reset", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_reset, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetVideoInfo", SD_BUS_ARGS("s", videoId), SD_BUS_RESULT("a{sv}", info),
                                method_get_video_info, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ProcessDone", SD_BUS_ARGS("s", videoId, "a{sv}", info), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Error", SD_BUS_ARGS("s", videoId, "s", code), 0),
        SD_BUS_SIGNAL_WITH_ARGS("StatusChanged", SD_BUS_ARGS("s", status), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("s", videoId, "t", timestamp), 0),
        SD_BUS_VTABLE_END,
};

/* Processor callbacks: on the loop thread, from mailbox_dispatch(). */

static void on_done(struct video_processor *vp, const char *id, const struct video_done_info *info,
                    void *userdata) {
        struct user_context *u = userdata;

        manager_note_activity(u->manager);
        process_emit_signal(u, PROCESS_VIDEO, id, "ProcessDone", "sa{sv}", id, 8,
                            "frames", "u", (uint32_t) info->frames,
                            "size", "t", info->size,
                            "width", "u", (uint32_t) info->width,
                            "height", "u", (uint32_t) info->height,
                            "quality", "u", (uint32_t) info->quality,
                            "fps", "d", info->fps,
                            "duration", "t", info->duration_us,
                            "elapsed", "t", info->elapsed_us);
}

static void on_error(struct video_processor *vp, const char *id, enum video_error error,
                     const char *message, void *userdata) {
        struct user_context *u = userdata;
        const char *code = video_error_to_string(error);

        log_info("uid %u: video %s: %s (%s)", (unsigned) u->uid, id, code, message ?: "");
        manager_note_activity(u->manager);
        process_emit_signal(u, PROCESS_VIDEO, id, "Error", "ss", id, code);
}

static void on_status(struct video_processor *vp, enum video_status status, void *userdata) {
        struct user_context *u = userdata;

        process_emit_signal(u, PROCESS_VIDEO, NULL, "StatusChanged", "s", video_status_to_string(status));
}

static void on_progress(struct video_processor *vp, const char *id, uint64_t timestamp_us,
                        void *userdata) {
        struct user_context *u = userdata;

        manager_note_activity(u->manager);
        process_emit_signal(u, PROCESS_VIDEO, id, "Progress", "st", id, timestamp_us);
}

static void on_pending_changed(struct video_processor *vp, void *userdata) {
        struct user_context *u = userdata;

        manager_note_activity(u->manager);
}

const struct video_processor_callbacks video_process_callbacks = {
        .done = on_done,
        .error = on_error,
        .status = on_status,
        .progress = on_progress,
        .pending_changed = on_pending_changed,
};

int video_process_object_add(struct user_context *u) {
        return process_object_add(u, PROCESS_VIDEO, video_process_vtable);
}

void video_process_object_remove(struct user_context *u) {
        process_object_remove(u, PROCESS_VIDEO);
}

int bus_video_process_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return process_session_get(m, userdata, PROCESS_VIDEO, error);
}
