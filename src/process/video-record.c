/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>

#include "process/parse-message.h"
#include "process/video-record.h"
#include "shared/fd-util.h"
#include "shared/id.h"
#include "shared/log.h"
#include "shared/macro.h"

#define RECORD_MAX_SIZE (64 * 1024)

uint64_t video_frame_time_us(uint32_t rate, uint32_t scale, uint64_t frame) {
        if (rate == 0)
                return 0;
        return (uint64_t) ((unsigned __int128) frame * scale * 1000000u / rate);
}

uint64_t video_frame_at_time(uint32_t rate, uint32_t scale, uint64_t ts_us) {
        uint64_t i;

        if (rate == 0 || scale == 0)
                return 0;
        i = (uint64_t) ((unsigned __int128) ts_us * rate / ((unsigned __int128) scale * 1000000u));
        /* Rounding in both directions: settle on the first frame at or after ts. */
        while (i > 0 && video_frame_time_us(rate, scale, i - 1) >= ts_us)
                i--;
        while (video_frame_time_us(rate, scale, i) < ts_us)
                i++;
        return i;
}

static const cJSON *get(const cJSON *root, const char *key) {
        return cJSON_GetObjectItemCaseSensitive(root, key);
}

/* An integer field 0..max; missing → -ENOENT. */
static int get_uint(const cJSON *root, const char *key, uint64_t max, uint64_t *ret,
                    char *message, size_t size) {
        const cJSON *v = get(root, key);

        if (!v)
                return -ENOENT;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble != floor(v->valuedouble) || v->valuedouble > (double) max)
                return parse_fail(message, size, "\"%s\" is not an integer from 0 to %" PRIu64, key, max);
        *ret = (uint64_t) v->valuedouble;
        return 0;
}

/* get_uint(), where a missing optional field is 0 and a missing required one an error. */
static int get_uint_field(const cJSON *root, const char *key, uint64_t max, bool required,
                          uint64_t *ret, char *message, size_t size) {
        int r = get_uint(root, key, max, ret, message, size);

        if (r == -ENOENT && !required) {
                *ret = 0;
                return 0;
        }
        if (r == -ENOENT)
                return parse_fail(message, size, "\"%s\" is missing", key);
        return r;
}

int video_record_parse(const char *json, size_t len, struct video_record *ret, char *message,
                       size_t message_size) {
        _cleanup_free_ char *text = NULL;
        struct video_record rec = {};
        uint64_t created, width, height, rate, scale, frames, next_frame, n;
        const cJSON *v;
        cJSON *root;
        int r = 0;

        if (len > RECORD_MAX_SIZE)
                return parse_fail(message, message_size, "record is %zu bytes, larger than 64 KiB", len);
        if (memchr(json, 0, len))
                return parse_fail(message, message_size, "record holds a NUL byte");
        text = strndup(json, len);
        if (!text)
                return -ENOMEM;
        root = cJSON_ParseWithOpts(text, NULL, true);
        if (!root)
                return parse_fail(message, message_size, "record is not JSON");
        if (!cJSON_IsObject(root)) {
                r = parse_fail(message, message_size, "record is not a JSON object");
                goto out;
        }

        v = get(root, "id");
        if (!cJSON_IsString(v) || !video_id_is_valid(v->valuestring)) {
                r = parse_fail(message, message_size, "\"id\" is missing or not a valid video id");
                goto out;
        }
        strcpy(rec.id, v->valuestring); /* video_id_is_valid bounds it to 64 characters */

        v = get(root, "state");
        if (!cJSON_IsString(v)) {
                r = parse_fail(message, message_size, "\"state\" is missing or not a string");
                goto out;
        }
        if (streq(v->valuestring, "pending") || streq(v->valuestring, "running"))
                rec.state = VIDEO_STATE_PENDING; /* a run cut short by a crash resumes later */
        else if (streq(v->valuestring, "done"))
                rec.state = VIDEO_STATE_DONE;
        else if (streq(v->valuestring, "error"))
                rec.state = VIDEO_STATE_ERROR;
        else {
                r = parse_fail(message, message_size, "\"state\" is \"%.20s\", not pending/running/done/error",
                         v->valuestring);
                goto out;
        }

        v = get(root, "recorded");
        if (v && !cJSON_IsBool(v)) {
                r = parse_fail(message, message_size, "\"recorded\" is not a boolean");
                goto out;
        }
        rec.recorded = cJSON_IsTrue(v);

        /* Fields are checked in this order, so the message names the first bad one. */
        if ((r = get_uint_field(root, "created", UINT64_C(1) << 62, true, &created, message, message_size)) < 0 ||
            (r = get_uint_field(root, "width", 16384, false, &width, message, message_size)) < 0 ||
            (r = get_uint_field(root, "height", 16384, false, &height, message, message_size)) < 0 ||
            (r = get_uint_field(root, "rate", UINT32_MAX, false, &rate, message, message_size)) < 0 ||
            (r = get_uint_field(root, "scale", UINT32_MAX, false, &scale, message, message_size)) < 0 ||
            (r = get_uint_field(root, "frames", UINT32_MAX, false, &frames, message, message_size)) < 0 ||
            (r = get_uint_field(root, "next_frame", UINT32_MAX, false, &next_frame, message, message_size)) < 0)
                goto out;
        rec.created_us = created;
        rec.width = (unsigned) width;
        rec.height = (unsigned) height;
        rec.rate = (uint32_t) rate;
        rec.scale = (uint32_t) scale;
        rec.frames = (uint32_t) frames;
        rec.next_frame = (uint32_t) next_frame;
        if ((rec.rate == 0) != (rec.scale == 0)) {
                r = parse_fail(message, message_size, "\"rate\" and \"scale\" must both be 0 or both be set");
                goto out;
        }
        if (rec.frames > 0 && rec.next_frame > rec.frames) {
                r = parse_fail(message, message_size, "\"next_frame\" %u is past \"frames\" %u",
                         rec.next_frame, rec.frames);
                goto out;
        }

        v = get(root, "output_start");
        if (v && !cJSON_IsNull(v)) {
                r = get_uint_field(root, "output_start", UINT32_MAX, true, &n, message, message_size);
                if (r < 0)
                        goto out;
                rec.output_start = n;
                if (rec.output_start > rec.next_frame) {
                        r = parse_fail(message, message_size, "\"output_start\" %u is past \"next_frame\" %u",
                                 rec.output_start, rec.next_frame);
                        goto out;
                }
                rec.has_output = true;
        }

        v = get(root, "error");
        if (v && !cJSON_IsNull(v)) {
                if (!cJSON_IsString(v)) {
                        r = parse_fail(message, message_size, "\"error\" is not a string");
                        goto out;
                }
                snprintf(rec.error, sizeof rec.error, "%s", v->valuestring);
        }

        *ret = rec;
        r = 0;
out:
        cJSON_Delete(root);
        return r;
}

int video_record_format(const struct video_record *r, char **ret) {
        cJSON *root = cJSON_CreateObject();
        char *text;
        bool ok;

        if (!root)
                return -ENOMEM;
        ok = cJSON_AddStringToObject(root, "id", r->id) &&
             cJSON_AddStringToObject(root, "state", video_state_to_string(r->state)) &&
             cJSON_AddBoolToObject(root, "recorded", r->recorded) &&
             cJSON_AddNumberToObject(root, "created", (double) r->created_us) &&
             cJSON_AddNumberToObject(root, "width", r->width) &&
             cJSON_AddNumberToObject(root, "height", r->height) &&
             cJSON_AddNumberToObject(root, "rate", r->rate) &&
             cJSON_AddNumberToObject(root, "scale", r->scale) &&
             cJSON_AddNumberToObject(root, "frames", r->frames) &&
             cJSON_AddNumberToObject(root, "next_frame", r->next_frame) &&
             (r->has_output ? cJSON_AddNumberToObject(root, "output_start", r->output_start) != NULL
                            : cJSON_AddNullToObject(root, "output_start") != NULL) &&
             (r->error[0] ? cJSON_AddStringToObject(root, "error", r->error) != NULL
                          : cJSON_AddNullToObject(root, "error") != NULL);
        text = ok ? cJSON_Print(root) : NULL;
        cJSON_Delete(root);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

int video_record_save(int dir_fd, const struct video_record *r) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        char tmp[VIDEO_ID_MAX + 8], final[VIDEO_ID_MAX + 8];
        int k;

        k = video_record_format(r, &text);
        if (k < 0)
                return k;
        snprintf(tmp, sizeof tmp, "%s.json~", r->id);
        snprintf(final, sizeof final, "%s.json", r->id);

        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        k = fd_write_all(fd, text, strlen(text));
        if (k >= 0 && fsync(fd) < 0)
                k = negative_errno();
        if (k < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return k;
        }
        fd = safe_close(fd);
        if (renameat(dir_fd, tmp, dir_fd, final) < 0) {
                k = negative_errno();
                (void) unlinkat(dir_fd, tmp, 0);
                return k;
        }
        /* The rename is durable only once the folder itself is. */
        if (fsync(dir_fd) < 0)
                return negative_errno();
        return 0;
}

int video_record_delete(int dir_fd, const char *id) {
        char name[VIDEO_ID_MAX + 8];

        snprintf(name, sizeof name, "%s.json", id);
        if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                return negative_errno();
        if (fsync(dir_fd) < 0)
                return negative_errno();
        return 0;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

static int load_one(int dir_fd, const char *name, struct video_record *ret) {
        _cleanup_close_ int fd = -1;
        char buf[RECORD_MAX_SIZE + 1], message[160], id[VIDEO_ID_MAX + 1];
        size_t len = 0, namelen = strlen(name) - strlen(".json");
        struct stat st;
        int r;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return log_warning_errno(errno, "Skipping video record %s: cannot open it: %m", name);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return log_warning_errno(EINVAL, "Skipping video record %s: not a regular file", name);
        while (len < sizeof buf) {
                ssize_t n = read(fd, buf + len, sizeof buf - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return log_warning_errno(errno, "Skipping video record %s: read failed: %m", name);
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len > RECORD_MAX_SIZE)
                return log_warning_errno(EFBIG, "Skipping video record %s: larger than 64 KiB", name);

        r = video_record_parse(buf, len, ret, message, sizeof message);
        if (r < 0)
                return log_warning_errno(r, "Skipping corrupt video record %s: %s", name, message);
        if (namelen > VIDEO_ID_MAX)
                return log_warning_errno(EINVAL, "Skipping video record %s: name too long", name);
        memcpy(id, name, namelen);
        id[namelen] = 0;
        if (!streq(id, ret->id))
                return log_warning_errno(EINVAL, "Skipping video record %s: it names id \"%s\"", name, ret->id);
        return 0;
}

int video_record_load_all(int dir_fd, struct video_record **ret, size_t *ret_n) {
        _cleanup_free_ struct video_record *list = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;
        int fd;

        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        rewinddir(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' && (de->d_name[1] == 0 || streq(de->d_name, "..")))
                        continue;
                if (ends_with(de->d_name, ".json~")) {
                        /* A save cut short by a crash; the record before it is still whole. */
                        log_info("Removing stale temporary video record %s", de->d_name);
                        (void) unlinkat(dir_fd, de->d_name, 0);
                        continue;
                }
                if (!ends_with(de->d_name, ".json")) {
                        log_debug("Ignoring %s in the video records folder", de->d_name);
                        continue;
                }
                if (n == allocated) {
                        size_t k = MAX(allocated * 2, (size_t) 16);
                        struct video_record *p = realloc(list, k * sizeof *list);
                        if (!p) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        list = p;
                        allocated = k;
                }
                if (load_one(dir_fd, de->d_name, &list[n]) >= 0)
                        n++;
        }
        closedir(d);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}
