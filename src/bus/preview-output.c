/* SPDX-License-Identifier: MIT */
#include <unistd.h>

#include "bus/bus-errors.h"
#include "bus/camera.h"
#include "bus/manager.h"
#include "bus/output-engines.h"
#include "bus/session.h"
#include "capture/preview-sink.h"
#include "shared/log.h"

/* The sink lives from the first OpenStream (or Start) until the output is freed, so a
 * reader may connect before the session runs and keeps its socket across Stop/Start. */
static int preview_output_ensure_sink(struct output *o) {
        struct session *s = o->session;
        struct preview_sink *sink;
        double fps = o->profile.fps;
        int r;

        if (o->preview)
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
        o->preview = sink;
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
        fd = preview_sink_open_stream(o->preview);
        if (fd < 0)
                return bus_error_set_fatal(error, fd, "cannot open a preview stream");
        r = sd_bus_reply_method_return(m, "h", fd);
        close(fd); /* the message holds its own duplicate */
        return r;
}

static int property_get_dropped(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        struct output *o = userdata;
        return sd_bus_message_append(reply, "t",
                                     (uint64_t) (o->preview ? preview_sink_dropped_frames(o->preview) : 0));
}

const sd_bus_vtable preview_output_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("DroppedFrames", "t", property_get_dropped, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("OpenStream", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", stream),
                                method_open_stream, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int preview_output_starting(struct output *o) {
        return preview_output_ensure_sink(o);
}

void preview_output_stopped(struct output *o) {
        /* Readers stay connected; frames resume with the next Start. */
}

void preview_output_push(struct output *o, struct frame *f) {
        if (o->preview)
                preview_sink_push(o->preview, f);
}

void preview_output_free(struct output *o) {
        struct preview_sink *sink;

        pthread_mutex_lock(&o->session->fanout_lock);
        sink = o->preview;
        o->preview = NULL;
        pthread_mutex_unlock(&o->session->fanout_lock);
        preview_sink_free(sink);
}
