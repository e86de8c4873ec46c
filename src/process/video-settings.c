/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "process/parse-message.h"
#include "process/video-settings.h"
#include "shared/macro.h"

void video_settings_init(struct video_settings *s) {
        *s = (struct video_settings) {
                .denoise = VIDEO_SETTINGS_DEFAULT_DENOISE,
                .sharpen = VIDEO_SETTINGS_DEFAULT_SHARPEN,
                .quality = VIDEO_SETTINGS_DEFAULT_QUALITY,
        };
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
 * cJSON copies string bytes as they are, so this has to be checked here. */
static bool utf8_is_valid(const uint8_t *p, size_t len, size_t *bad_offset) {
        size_t i = 0;

        while (i < len) {
                uint8_t c = p[i];
                size_t n;
                uint32_t cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        n = 1, cp = c & 0x1f, min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2, cp = c & 0x0f, min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3, cp = c & 0x07, min = 0x10000;
                } else {
                        *bad_offset = i;
                        return false;
                }
                if (len - i <= n) {
                        *bad_offset = i;
                        return false;
                }
                for (size_t k = 1; k <= n; k++) {
                        if ((p[i + k] & 0xc0) != 0x80) {
                                *bad_offset = i;
                                return false;
                        }
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                        *bad_offset = i;
                        return false;
                }
                i += n + 1;
        }
        return true;
}

/* A short rendering of a JSON value for error messages. */
static void describe_value(const cJSON *v, char *buf, size_t size) {
        _cleanup_free_ char *s = cJSON_PrintUnformatted(v);

        if (!s) {
                snprintf(buf, size, "(unprintable)");
                return;
        }
        if (strlen(s) > 40)
                snprintf(buf, size, "%.37s...", s);
        else
                snprintf(buf, size, "%s", s);
}

static int parse_unit_interval(const cJSON *v, const char *key, double *ret,
                               char *message, size_t size) {
        char seen[48];

        describe_value(v, seen, sizeof seen);
        if (!cJSON_IsNumber(v))
                return parse_fail(message, size, "\"%s\" must be a number from 0 to 1, got %s", key, seen);
        if (!isfinite(v->valuedouble) || v->valuedouble < 0.0 || v->valuedouble > 1.0)
                return parse_fail(message, size, "\"%s\" must be from 0 to 1, got %s", key, seen);
        *ret = v->valuedouble;
        return 0;
}

static int parse_quality(const cJSON *v, int *ret, char *message, size_t size) {
        char seen[48];

        describe_value(v, seen, sizeof seen);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
            v->valuedouble != floor(v->valuedouble))
                return parse_fail(message, size, "\"quality\" must be an integer from 1 to 100, got %s", seen);
        if (v->valuedouble < 1 || v->valuedouble > 100)
                return parse_fail(message, size, "\"quality\" must be from 1 to 100, got %s", seen);
        *ret = (int) v->valuedouble;
        return 0;
}

int video_settings_parse(const void *data, size_t len, struct video_settings *ret,
                         char *message, size_t message_size) {
        _cleanup_free_ char *text = NULL;
        struct video_settings s;
        bool seen_denoise = false, seen_sharpen = false, seen_quality = false;
        size_t bad;
        cJSON *root, *item;
        int r = 0;

        if (len > 64 * 1024)
                return parse_fail(message, message_size, "modeSetting is %zu bytes, more than 64 KiB", len);
        if (len > 0 && memchr(data, 0, len))
                return parse_fail(message, message_size, "modeSetting holds a NUL byte at offset %zu",
                            (size_t) ((const char *) memchr(data, 0, len) - (const char *) data));
        if (!utf8_is_valid(data, len, &bad))
                return parse_fail(message, message_size, "modeSetting is not UTF-8 (bad byte 0x%02x at offset %zu)",
                            ((const uint8_t *) data)[bad], bad);

        text = malloc(len + 1);
        if (!text)
                return -ENOMEM;
        if (len > 0)
                memcpy(text, data, len);
        text[len] = 0;

        root = cJSON_ParseWithOpts(text, NULL, true);
        if (!root)
                return parse_fail(message, message_size, "modeSetting is not JSON: \"%.40s\"", text);
        if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return parse_fail(message, message_size, "modeSetting must be a JSON object, got \"%.40s\"", text);
        }

        video_settings_init(&s);
        cJSON_ArrayForEach(item, root) {
                const char *key = item->string ?: "";
                bool *seen;

                if (streq(key, "denoise")) {
                        seen = &seen_denoise;
                        r = parse_unit_interval(item, key, &s.denoise, message, message_size);
                } else if (streq(key, "sharpen")) {
                        seen = &seen_sharpen;
                        r = parse_unit_interval(item, key, &s.sharpen, message, message_size);
                } else if (streq(key, "quality")) {
                        seen = &seen_quality;
                        r = parse_quality(item, &s.quality, message, message_size);
                } else {
                        r = parse_fail(message, message_size,
                                 "unknown key \"%.40s\" in modeSetting (known: denoise, sharpen, quality)", key);
                        break;
                }
                if (r < 0)
                        break;
                if (*seen) {
                        r = parse_fail(message, message_size, "key \"%s\" is given twice in modeSetting", key);
                        break;
                }
                *seen = true;
        }
        cJSON_Delete(root);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}
