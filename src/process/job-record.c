/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>

#include "process/store.h"
#include "shared/macro.h"

/* record.json is read back after crashes and could be edited by anyone with access to the
 * state directory, so the parser trusts nothing: exact types, ranges, bounded strings. */

#define RECORD_MAX_SIZE (16u * 1024u)

static const char *const state_names[_IMAGE_STATE_MAX] = {
        [IMAGE_STATE_PENDING] = "pending",
        [IMAGE_STATE_RUNNING] = "running",
        [IMAGE_STATE_DONE] = "done",
        [IMAGE_STATE_ERROR] = "error",
};

static const char *const status_names[_IMAGE_STATUS_MAX] = {
        [IMAGE_STATUS_READY] = "ready",
        [IMAGE_STATUS_SPACE_LIMIT_REACHED] = "space-limit-reached",
        [IMAGE_STATUS_NOT_READY_TEMPORARILY] = "not-ready-temporarily",
        [IMAGE_STATUS_OVERHEAT] = "overheat",
        [IMAGE_STATUS_PREEMPTED] = "preempted",
};

static const char *const error_names[_IMAGE_ERROR_MAX] = {
        [IMAGE_ERROR_INVALID_ID] = "invalid-id",
        [IMAGE_ERROR_PROCESS] = "process",
        [IMAGE_ERROR_TIMEOUT] = "timeout",
        [IMAGE_ERROR_HIGH_TEMPERATURE] = "high-temperature",
        [IMAGE_ERROR_ABNORMAL] = "abnormal",
        [IMAGE_ERROR_ABORT] = "abort",
};

const char *image_state_to_string(enum image_state s) {
        return s >= 0 && s < _IMAGE_STATE_MAX ? state_names[s] : NULL;
}

enum image_state image_state_from_string(const char *s) {
        for (int i = 0; s && i < _IMAGE_STATE_MAX; i++)
                if (streq(s, state_names[i]))
                        return (enum image_state) i;
        return _IMAGE_STATE_INVALID;
}

const char *image_status_to_string(enum image_status s) {
        return s < _IMAGE_STATUS_MAX ? status_names[s] : NULL;
}

const char *image_error_to_string(enum image_error e) {
        return e >= 0 && e < _IMAGE_ERROR_MAX ? error_names[e] : NULL;
}

enum image_error image_error_from_string(const char *s) {
        for (int i = 0; s && i < _IMAGE_ERROR_MAX; i++)
                if (streq(s, error_names[i]))
                        return (enum image_error) i;
        return _IMAGE_ERROR_INVALID;
}

size_t image_frame_size(unsigned width, unsigned height, enum image_chroma chroma) {
        size_t luma = (size_t) width * height;
        size_t chroma_plane = (size_t) (width / 2) * (chroma == IMAGE_CHROMA_420 ? height / 2 : height);
        return luma + 2 * chroma_plane;
}

int image_burst_check(unsigned width, unsigned height, enum image_chroma chroma, unsigned n_frames) {
        if (width < 16 || height < 16 || width > 8192 || height > 8192 || width % 2 || height % 2)
                return -EINVAL;
        if (chroma != IMAGE_CHROMA_420 && chroma != IMAGE_CHROMA_422)
                return -EINVAL;
        if (n_frames < 1 || n_frames > 16)
                return -EINVAL;
        return 0;
}

static bool get_uint(const cJSON *root, const char *key, double max, uint64_t *ret) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
        double v;

        if (!cJSON_IsNumber(item))
                return false;
        v = item->valuedouble;
        if (!isfinite(v) || v < 0 || v > max || v != floor(v))
                return false;
        *ret = (uint64_t) v;
        return true;
}

/* Optional printable-ASCII string of at most JOB_RECORD_TEXT_MAX bytes. */
static bool get_text(const cJSON *root, const char *key, char out[static JOB_RECORD_TEXT_MAX + 1]) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
        size_t n;

        out[0] = '\0';
        if (!item || cJSON_IsNull(item))
                return true;
        if (!cJSON_IsString(item) || !item->valuestring)
                return false;
        n = strlen(item->valuestring);
        if (n > JOB_RECORD_TEXT_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (item->valuestring[i] < 0x20 || item->valuestring[i] > 0x7e)
                        return false;
        memcpy(out, item->valuestring, n + 1);
        return true;
}

int job_record_parse(const char *json, size_t len, struct job_record *ret) {
        struct job_record rec = { .last_error = _IMAGE_ERROR_INVALID };
        const cJSON *item;
        uint64_t v;
        cJSON *root;
        int r = -EBADMSG;

        if (!json || len == 0 || len > RECORD_MAX_SIZE)
                return -EBADMSG;
        root = cJSON_ParseWithLength(json, len);
        if (!root)
                return -EBADMSG; /* cJSON reports allocation failures the same way */
        if (!cJSON_IsObject(root))
                goto finish;

        item = cJSON_GetObjectItemCaseSensitive(root, "version");
        if (!cJSON_IsNumber(item) || item->valuedouble != 1)
                goto finish;

        item = cJSON_GetObjectItemCaseSensitive(root, "state");
        if (!cJSON_IsString(item) || (rec.state = image_state_from_string(item->valuestring)) < 0)
                goto finish;

        item = cJSON_GetObjectItemCaseSensitive(root, "priority");
        if (!cJSON_IsString(item))
                goto finish;
        if (streq(item->valuestring, "high"))
                rec.requested = true;
        else if (!streq(item->valuestring, "normal"))
                goto finish;

        item = cJSON_GetObjectItemCaseSensitive(root, "chroma");
        if (!cJSON_IsString(item))
                goto finish;
        if (streq(item->valuestring, "4:2:0"))
                rec.chroma = IMAGE_CHROMA_420;
        else if (streq(item->valuestring, "4:2:2"))
                rec.chroma = IMAGE_CHROMA_422;
        else
                goto finish;

        /* 2^53: the largest integer a double holds exactly. */
        if (!get_uint(root, "created", 9007199254740992.0, &rec.created_us))
                goto finish;
        if (!get_uint(root, "width", 8192, &v))
                goto finish;
        rec.width = (unsigned) v;
        if (!get_uint(root, "height", 8192, &v))
                goto finish;
        rec.height = (unsigned) v;
        if (!get_uint(root, "frames", 16, &v))
                goto finish;
        rec.frames = (unsigned) v;
        if (!get_uint(root, "quality", 100, &v) || v < 1)
                goto finish;
        rec.quality = (unsigned) v;
        if (!get_uint(root, "retries", 1000, &v))
                goto finish;
        rec.retries = (unsigned) v;
        if (image_burst_check(rec.width, rec.height, rec.chroma, rec.frames) < 0)
                goto finish;

        item = cJSON_GetObjectItemCaseSensitive(root, "error");
        if (item && !cJSON_IsNull(item)) {
                if (!cJSON_IsString(item) ||
                    (rec.last_error = image_error_from_string(item->valuestring)) < 0)
                        goto finish;
        }
        if (!get_text(root, "make", rec.make) || !get_text(root, "model", rec.model))
                goto finish;

        *ret = rec;
        r = 0;
finish:
        cJSON_Delete(root);
        return r;
}

int job_record_format(const struct job_record *rec, char **ret) {
        cJSON *root = cJSON_CreateObject();
        char *text, created[24];
        bool ok;

        if (!root)
                return -ENOMEM;
        /* cJSON prints doubles with 15 significant digits when that looks "close enough",
         * which rounds µs timestamps (16 digits) to 10 µs: print the integer ourselves. */
        snprintf(created, sizeof created, "%" PRIu64, rec->created_us);
        ok = cJSON_AddNumberToObject(root, "version", 1) &&
             cJSON_AddStringToObject(root, "state", image_state_to_string(rec->state)) &&
             cJSON_AddStringToObject(root, "priority", rec->requested ? "high" : "normal") &&
             cJSON_AddRawToObject(root, "created", created) &&
             cJSON_AddNumberToObject(root, "width", rec->width) &&
             cJSON_AddNumberToObject(root, "height", rec->height) &&
             cJSON_AddStringToObject(root, "chroma", rec->chroma == IMAGE_CHROMA_420 ? "4:2:0" : "4:2:2") &&
             cJSON_AddNumberToObject(root, "frames", rec->frames) &&
             cJSON_AddNumberToObject(root, "quality", rec->quality) &&
             cJSON_AddNumberToObject(root, "retries", rec->retries) &&
             (rec->last_error >= 0 ? cJSON_AddStringToObject(root, "error", image_error_to_string(rec->last_error)) != NULL
                                   : cJSON_AddNullToObject(root, "error") != NULL) &&
             cJSON_AddStringToObject(root, "make", rec->make) &&
             cJSON_AddStringToObject(root, "model", rec->model);
        if (!ok) {
                cJSON_Delete(root);
                return -ENOMEM;
        }
        text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}
