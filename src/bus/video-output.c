/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "bus/camera.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/session.h"
#include "capture/recorder.h"
#include "shared/fd-util.h"
#include "shared/id.h"
#include "shared/log.h"

#include "bus/user-context.h"
#include "process/video-processor.h"

struct video_output {
        struct recorder *recorder; /* between StartRecording and StopRecording */
        char video_id[IMAGE_ID_LEN + 1];
        bool deferred;
};

static struct video_output *video_of(struct output *o) {
        return o->kind_data;
}

static double output_fps(struct output *o) {
        struct session *s = o->session;

        if (o->profile.fps > 0 || !s->input)
                return o->profile.fps > 0 ? o->profile.fps : 30;
        const struct camera_device_info *info = camera_device_get_info(s->input->device);
        for (size_t i = 0; i < info->n_formats; i++)
                if (info->formats[i].fourcc == o->profile.fourcc &&
                    info->formats[i].width == o->profile.width &&
                    info->formats[i].height == o->profile.height)
                        return info->formats[i].max_fps;
        return 30;
}

/* With `deferred`, the user's VideoProcessSession lists the recording as pending. */
static int register_recording(struct output *o, uint32_t frames) {
        struct user_context *u;
        int r;

        r = user_context_get(o->session->manager, o->session->owner_uid, &u);
        if (r < 0)
                return r;
        struct video_recorded rec = {
                .width = o->profile.width,
                .height = o->profile.height,
                .fps = output_fps(o),
                .frames = frames,
        };
        return video_processor_add_recorded(user_context_videos(u), video_of(o)->video_id, &rec);
}

/* Finishes the recording; 0 or the recorder's first error. */
static int video_output_finish(struct output *o) {
        struct video_output *v = video_of(o);
        struct recorder_stats stats = {};
        struct recorder *rec;
        int r, k;

        pthread_mutex_lock(&o->session->fanout_lock);
        rec = v->recorder;
        v->recorder = NULL;
        pthread_mutex_unlock(&o->session->fanout_lock);
        if (!rec)
                return 0;

        r = recorder_stop(rec, &stats);
        log_info("%s: recording %s finished: %llu frames, %llu dropped, %llu bytes%s%s", o->path,
                 v->video_id, (unsigned long long) stats.frames, (unsigned long long) stats.dropped,
                 (unsigned long long) stats.bytes, r < 0 ? ", failed: " : "", r < 0 ? strerror(-r) : "");
        if (v->deferred) {
                k = register_recording(o, (uint32_t) stats.frames);
                if (k < 0)
                        log_warning_errno(k, "Cannot update recording %s in the video queue: %m", v->video_id);
        }
        return r;
}

static int method_start_recording(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct output *o = userdata;
        struct video_output *v = video_of(o);
        struct session *s = o->session;
        struct recorder *rec;
        const char *reason;
        uint32_t quality = RECORDER_DEFAULT_QUALITY;
        bool deferred = true;
        int fd, r;

        r = session_check_owner(s, m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;
        struct bus_dict_key keys[] = {
                { .name = "quality", .type = 'u', .ptr = &quality },
                { .name = "deferred", .type = 'b', .ptr = &deferred },
        };
        r = bus_read_dict(m, "options", keys, ELEMENTSOF(keys), error);
        if (r < 0)
                return r;
        if (quality < 1 || quality > 100)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "options key 'quality' must be 1..100; got %u", quality);
        if (fd_check_regular_file(fd, FD_NEED_WRITE, &reason) < 0)
                return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                      "StartRecording needs a writable, seekable regular file; "
                                      "the file descriptor %s", reason);

        if (s->state != SESSION_STATE_RUNNING || !o->added)
                return bus_error_setf(error, CAMERAD_ERROR_SESSION_NOT_RUNNING,
                                      "StartRecording needs a running session with this output added; "
                                      "the session is '%s'%s", session_state_to_string(s->state),
                                      o->added ? "" : " and the output is not added");
        if (v->recorder)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "StartRecording: recording %s is still running on %s",
                                      v->video_id, o->path);

        r = image_id_new(v->video_id);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot make a video id");
        v->deferred = deferred;

        struct recorder_options opts = { .quality = (int) quality };
        r = recorder_start(fd, o->profile.fourcc, o->profile.width, o->profile.height, output_fps(o),
                           &opts, &rec);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot start the recording");

        if (deferred) {
                r = register_recording(o, 0);
                if (r < 0) {
                        (void) recorder_stop(rec, NULL);
                        return bus_error_set_fatal(error, r, "cannot queue the recording for processing");
                }
        }

        pthread_mutex_lock(&s->fanout_lock);
        v->recorder = rec;
        pthread_mutex_unlock(&s->fanout_lock);
        log_info("%s: recording %s started (quality %u, %s)", o->path, v->video_id, quality,
                 deferred ? "deferred" : "not deferred");
        return sd_bus_reply_method_return(m, "s", v->video_id);
}

static int method_stop_recording(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct output *o = userdata;
        int r;

        r = session_check_owner(o->session, m, error);
        if (r < 0)
                return r;
        if (!video_of(o)->recorder)
                return bus_error_setf(error, CAMERAD_ERROR_OPERATION_NOT_ALLOWED,
                                      "StopRecording: %s is not recording", o->path);
        r = video_output_finish(o);
        if (r < 0)
                return bus_error_set_fatal(error, r, "the recording failed");
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable video_output_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("StartRecording", SD_BUS_ARGS("h", fd, "a{sv}", options),
                                SD_BUS_RESULT("s", videoId), method_start_recording,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("StopRecording", "", "", method_stop_recording, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int video_output_new(struct output *o) {
        o->kind_data = calloc(1, sizeof(struct video_output));
        return o->kind_data ? 0 : -ENOMEM;
}

static int video_output_starting(struct output *o) {
        return 0;
}

static void video_output_stopped(struct output *o) {
        /* No frames come any more: the file is finished and playable. */
        (void) video_output_finish(o);
}

static void video_output_push(struct output *o, struct frame *f) {
        struct video_output *v = video_of(o);

        if (v->recorder)
                recorder_push(v->recorder, f);
}

static void video_output_free(struct output *o) {
        (void) video_output_finish(o);
        free(o->kind_data);
        o->kind_data = NULL;
}

const struct output_kind_ops video_output_ops = {
        .kind = OUTPUT_KIND_VIDEO,
        .name = "video",
        .interface = CAMERAD_IFACE_VIDEO,
        .vtable = video_output_vtable,
        .needs_pixels = false, /* a recorder can write a camera's compressed frames as they are */
        .new = video_output_new,
        .free = video_output_free,
        .starting = video_output_starting,
        .stopped = video_output_stopped,
        .push = video_output_push,
};
