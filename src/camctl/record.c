/* SPDX-License-Identifier: MIT */
/* camctl record: a Motion-JPEG AVI of --seconds from the camera, written by camerad into a
 * file camctl opens and hands over. */

#include <fcntl.h>
#include <sys/stat.h>

#include "camctl/capture.h"
#include "camctl/client.h"
#include "camctl/output.h"
#include "camctl/progress.h"

struct recording {
        struct progress progress;
        uint64_t start, end;
        bool done;
        bool failed;
        char *error; /* the session's Error signal, if one came */
};

static int on_session_error(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct recording *rec = userdata;
        uint32_t code;
        const char *message;

        if (sd_bus_message_read(m, "us", &code, &message) < 0)
                return 0;
        free(rec->error);
        if (asprintf(&rec->error, "%s (camera error %u)", message, code) < 0)
                rec->error = NULL;
        rec->failed = true;
        return 0;
}

static void tick(void *userdata) {
        struct recording *rec = userdata;
        uint64_t now = camctl_now_usec();

        progress_update(&rec->progress, (MIN(now, rec->end) - rec->start) / 1000000,
                        (rec->end - rec->start) / 1000000);
        /* SIGINT ends a recording early but cleanly: the file is still finished. */
        rec->done = now >= rec->end || rec->failed || camctl_stop_requested;
}

static int start_recording(struct camctl *c, const char *output, int fd, char **ret_id) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *id;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, CAMERAD_BUS_NAME, output, CAMERAD_IFACE_VIDEO,
                                           "StartRecording");
        if (r >= 0)
                r = sd_bus_message_append(m, "h", fd);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && c->args->quality)
                r = sd_bus_message_append(m, "{sv}", "quality", "u", c->args->quality);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "deferred", "b", !c->args->no_defer);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return camctl_bus_error(NULL, r, "StartRecording");
        r = sd_bus_call(c->bus, m, 0, &e, &reply);
        if (r < 0)
                return camctl_bus_error(&e, r, "StartRecording");
        r = sd_bus_message_read(reply, "s", &id);
        if (r < 0)
                return camctl_bus_error(NULL, r, "StartRecording");
        *ret_id = strdup(id);
        return *ret_id ? 0 : camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
}

int verb_record(struct camctl *c, int argc, char **argv) {
        const struct camctl_args *a = c->args;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        _cleanup_free_ char *id = NULL;
        _cleanup_close_ int fd = -1;
        struct capture_session cs;
        struct recording rec = {};
        struct stat st;
        char what[64];
        int r, q;

        if (!doc)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        /* camerad seeks back to write the AVI index, so the file must be read-write. */
        fd = open(a->output, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0)
                return camctl_error(CAMCTL_EXIT_LOCAL, "cannot create '%s': %s", a->output, strerror(errno));
        camctl_catch_signals();

        r = capture_open(c, "video", "video", &cs);
        if (r != 0) {
                (void) unlink(a->output); /* nothing was recorded into it */
                return r;
        }
        snprintf(what, sizeof(what), "%ux%u %s", cs.width, cs.height, cs.fourcc);
        r = sd_bus_match_signal(c->bus, &slot, CAMERAD_BUS_NAME, cs.path, CAMERAD_IFACE_SESSION, "Error",
                                on_session_error, &rec);
        if (r < 0)
                r = camctl_bus_error(NULL, r, "subscribing to session errors");
        else
                r = start_recording(c, cs.output_path, fd, &id);
        if (r != 0) {
                capture_close(c, &cs);
                (void) unlink(a->output);
                return r;
        }

        progress_init(&rec.progress, "recording", "s", a->json);
        rec.start = camctl_now_usec();
        rec.end = rec.start + (uint64_t) (a->seconds * 1e6);
        r = camctl_wait(c, &rec.done, 0, tick, &rec);
        progress_finish(&rec.progress);
        double seconds = (double) (camctl_now_usec() - rec.start) / 1e6;

        q = camctl_call(c, cs.output_path, CAMERAD_IFACE_VIDEO, "StopRecording", NULL, "");
        capture_close(c, &cs);
        if (rec.failed)
                r = camctl_error(CAMCTL_EXIT_FAILED, "the camera failed while recording: %s",
                                 rec.error ?: "no reason given");
        free(rec.error);
        if (r != 0 || q != 0)
                return r ?: q;

        if (fstat(fd, &st) < 0)
                st.st_size = 0;
        if (a->json) {
                cJSON_AddStringToObject(doc, "id", id);
                cJSON_AddStringToObject(doc, "file", a->output);
                cJSON_AddNumberToObject(doc, "seconds", seconds);
                cJSON_AddNumberToObject(doc, "size", (double) st.st_size);
                cJSON_AddBoolToObject(doc, "deferred", !a->no_defer);
                cJSON_AddStringToObject(doc, "profile", what);
                return output_json(doc);
        }
        printf("Recorded %.1f s (%s) to %s (%lld bytes): video %s%s\n", seconds, what, a->output,
               (long long) st.st_size, id, a->no_defer ? "" : ", pending for processing");
        return 0;
}
