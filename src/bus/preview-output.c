/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "bus/bus-errors.h"
#include "bus/camera.h"
#include "bus/manager.h"
#include "bus/output.h"
#include "bus/session.h"
#include "capture/preview-sink.h"
#include "shared/log.h"

struct preview_output {
        struct preview_sink *sink; /* from the first OpenStream (or Start) on */
};

static struct preview_output *preview_of(struct output *o) {
        return o->kind_data;
}

/* The sink lives from the first OpenStream (or Start) until the output is freed, so a
 * reader may connect before the session runs and keeps its socket across Stop/Start. */
static int preview_output_ensure_sink(struct output *o) {
        struct session *s = o->session;
        struct preview_sink *sink;
        double fps = o->profile.fps;
        int r;

        if (preview_of(o)->sink)
                return 0;
        if (fps == 0 && s->input)
                for (size_t i = 0; i < camera_device_get_info(s->input->device)->n_formats; i++) {
                        const struct capture_format *f = &camera_device_get_info(s->input->device)->formats[i];
                        if (f->fourcc == o->profile.fourcc && f->width == o->profile.width &&
                            f->height == o->profile.height)
                                fps = f->max_fps;
                }
        if (fps == 0)
                fps = 30; /* no input yet: the usual rate; frames come as fast as they come */

        r = preview_sink_new(o->profile.fourcc, o->profile.width, o->profile.height, fps, &sink);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->fanout_lock);
        preview_of(o)->sink = sink;
        pthread_mutex_unlock(&s->fanout_lock);
        return 0;
}

static int method_open_stream(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct output *o = userdata;
        int fd, r;

        r = session_check_owner(o->session, m, error);
        if (r < 0)
                return r;
        r = preview_output_ensure_sink(o);
        if (r < 0)
                return bus_error_set_fatal(error, r, "cannot set up the preview stream");
        fd = preview_sink_open_stream(preview_of(o)->sink);
        if (fd < 0)
                return bus_error_set_fatal(error, fd, "cannot open a preview stream");
        r = sd_bus_reply_method_return(m, "h", fd);
        close(fd); /* the message holds its own duplicate */
        return r;
}

static int property_get_dropped(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct preview_sink *sink = preview_of(userdata)->sink;
        return sd_bus_message_append(reply, "t", (uint64_t) (sink ? preview_sink_dropped_frames(sink) : 0));
}

static const sd_bus_vtable preview_output_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("DroppedFrames", "t", property_get_dropped, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("OpenStream", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", stream),
                                method_open_stream, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int preview_output_new(struct output *o) {
        o->kind_data = calloc(1, sizeof(struct preview_output));
        return o->kind_data ? 0 : -ENOMEM;
}

static int preview_output_starting(struct output *o) {
        return preview_output_ensure_sink(o);
}

static void preview_output_stopped(struct output *o) {
        /* Readers stay connected; frames resume with the next Start. */
}

static void preview_output_push(struct output *o, struct frame *f) {
        struct preview_output *p = preview_of(o);

        if (p->sink)
                preview_sink_push(p->sink, f);
}

static void preview_output_free(struct output *o) {
        struct preview_output *p = preview_of(o);
        struct preview_sink *sink;

        pthread_mutex_lock(&o->session->fanout_lock);
        sink = p->sink;
        p->sink = NULL;
        pthread_mutex_unlock(&o->session->fanout_lock);
        preview_sink_free(sink);
        free(p);
        o->kind_data = NULL;
}

const struct output_kind_ops preview_output_ops = {
        .kind = OUTPUT_KIND_PREVIEW,
        .name = "preview",
        .interface = CAMERAD_IFACE_PREVIEW,
        .vtable = preview_output_vtable,
        .needs_pixels = true,
        .new = preview_output_new,
        .free = preview_output_free,
        .starting = preview_output_starting,
        .stopped = preview_output_stopped,
        .push = preview_output_push,
};
