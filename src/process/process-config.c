/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "config.h"
#include "process/process-config.h"
#include "shared/macro.h"

#define CONFIG_MAX_SIZE (64u * 1024u)

static const char *const exec_mode_names[_EXEC_MODE_MAX] = {
        [EXEC_MODE_HIGH_PERFORMANCE] = "high-performance",
        [EXEC_MODE_BALANCED] = "balanced",
        [EXEC_MODE_LOW_POWER] = "low-power",
};

const char *exec_mode_to_string(enum exec_mode m) {
        if (m < 0 || m >= _EXEC_MODE_MAX)
                return NULL;
        return exec_mode_names[m];
}

enum exec_mode exec_mode_from_string(const char *s) {
        if (!s)
                return _EXEC_MODE_INVALID;
        for (int i = 0; i < _EXEC_MODE_MAX; i++)
                if (streq(s, exec_mode_names[i]))
                        return (enum exec_mode) i;
        return _EXEC_MODE_INVALID;
}

const char *process_config_default_path(void) {
        return CAMERAD_SYSCONFDIR "/camerad/camerad.conf";
}

void process_config_init(struct process_config *c) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        if (cpus < 1)
                cpus = 1;
        *c = (struct process_config) {
                .concurrency = {
                        [EXEC_MODE_HIGH_PERFORMANCE] = (unsigned) cpus,
                        [EXEC_MODE_BALANCED] = (unsigned) MAX(1, cpus / 2),
                        [EXEC_MODE_LOW_POWER] = 1,
                },
                .quota_bytes = UINT64_C(2) * 1024 * 1024 * 1024,
                .job_timeout_seconds = 60,
                .default_mode = EXEC_MODE_BALANCED,
                .max_retries = 3,
                .low_power_sched_idle = true,
        };
}

_printf_(2, 3)
static int fail(char **error, const char *format, ...) {
        va_list ap;

        if (error) {
                va_start(ap, format);
                if (vasprintf(error, format, ap) < 0)
                        *error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

/* A JSON number that is an integer within [min, max]. */
static int get_integer(const cJSON *item, const char *key, double min, double max, double *ret,
                       char **error) {
        double v;

        if (!cJSON_IsNumber(item))
                return fail(error, "%s: must be a number", key);
        v = item->valuedouble;
        if (!isfinite(v) || v != floor(v) || v < min || v > max)
                return fail(error, "%s: must be an integer from %.0f to %.0f, got %g", key, min, max, v);
        *ret = v;
        return 0;
}

static int parse_concurrency(const cJSON *obj, struct process_config *c, char **error) {
        const cJSON *item;

        if (!cJSON_IsObject(obj))
                return fail(error, "concurrency: must be an object of mode names to worker counts");
        cJSON_ArrayForEach(item, obj) {
                enum exec_mode m = exec_mode_from_string(item->string);
                double v;

                if (m < 0)
                        return fail(error, "concurrency.%s: unknown execution mode", item->string);
                if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
                    item->valuedouble != floor(item->valuedouble) || item->valuedouble < 1 ||
                    item->valuedouble > 1024)
                        return fail(error, "concurrency.%s: must be an integer from 1 to 1024", item->string);
                v = item->valuedouble;
                c->concurrency[m] = (unsigned) v;
        }
        return 0;
}

int process_config_parse(const char *json, size_t len, struct process_config *ret, char **error) {
        struct process_config c;
        cJSON *root;
        const cJSON *item;
        int r = 0;

        process_config_init(&c);
        root = cJSON_ParseWithLength(json, len);
        if (!root)
                return fail(error, "not valid JSON");
        if (!cJSON_IsObject(root)) {
                r = fail(error, "the top level must be a JSON object");
                goto finish;
        }

        cJSON_ArrayForEach(item, root) {
                const char *key = item->string;
                double v;

                if (streq(key, "concurrency"))
                        r = parse_concurrency(item, &c, error);
                else if (streq(key, "quota_bytes")) {
                        /* Doubles hold integers exactly up to 2^53: plenty for bytes. */
                        r = get_integer(item, key, 0, 9007199254740992.0, &v, error);
                        if (r >= 0)
                                c.quota_bytes = (uint64_t) v;
                } else if (streq(key, "job_timeout_seconds")) {
                        r = get_integer(item, key, 1, 86400, &v, error);
                        if (r >= 0)
                                c.job_timeout_seconds = (unsigned) v;
                } else if (streq(key, "max_retries")) {
                        r = get_integer(item, key, 0, 100, &v, error);
                        if (r >= 0)
                                c.max_retries = (unsigned) v;
                } else if (streq(key, "low_power_sched_idle")) {
                        if (!cJSON_IsBool(item))
                                r = fail(error, "low_power_sched_idle: must be true or false");
                        else
                                c.low_power_sched_idle = cJSON_IsTrue(item);
                } else if (streq(key, "default_mode")) {
                        enum exec_mode m = cJSON_IsString(item) ? exec_mode_from_string(item->valuestring)
                                                                : _EXEC_MODE_INVALID;
                        if (m < 0)
                                r = fail(error, "default_mode: must be \"high-performance\", \"balanced\" or \"low-power\"");
                        else
                                c.default_mode = m;
                } else
                        r = fail(error, "%s: unknown key", key);
                if (r < 0)
                        goto finish;
        }
        *ret = c;
finish:
        cJSON_Delete(root);
        return r;
}

int process_config_load(const char *path, struct process_config *ret, char **error) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t have = 0;

        if (!path)
                path = process_config_default_path();
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT) {
                        process_config_init(ret);
                        return 0;
                }
                int r = negative_errno();
                if (error && asprintf(error, "%s: cannot open: %s", path, strerror(-r)) < 0)
                        *error = NULL;
                return r;
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t) CONFIG_MAX_SIZE)
                return fail(error, "%s: not a regular file of at most %u bytes", path, CONFIG_MAX_SIZE);
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (have < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + have, (size_t) st.st_size - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                have += (size_t) n;
        }
        return process_config_parse(buf, have, ret, error);
}
