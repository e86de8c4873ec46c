/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "process/video-settings.h"

#include "../check.h"

/* Parses text and expects -EINVAL with every word of `needles` in the message. */
static void expect_bad(const char *text, size_t len, const char *needle1, const char *needle2) {
        struct video_settings s = { .denoise = -7 };
        char msg[256] = "";
        int r = video_settings_parse(text, len, &s, msg, sizeof msg);

        if (r != -EINVAL) {
                fprintf(stderr, "expected -EINVAL for '%.*s', got %d\n", (int) len, text, r);
                check_failures++;
                return;
        }
        CHECK(s.denoise == -7); /* untouched on failure */
        if (needle1 && !strstr(msg, needle1)) {
                fprintf(stderr, "message '%s' lacks '%s'\n", msg, needle1);
                check_failures++;
        }
        if (needle2 && !strstr(msg, needle2)) {
                fprintf(stderr, "message '%s' lacks '%s'\n", msg, needle2);
                check_failures++;
        }
}

static void expect_good(const char *text, double denoise, double sharpen, int quality) {
        struct video_settings s;
        char msg[256] = "";
        int r = video_settings_parse(text, strlen(text), &s, msg, sizeof msg);

        if (r != 0) {
                fprintf(stderr, "'%s' refused: %d %s\n", text, r, msg);
                check_failures++;
                return;
        }
        CHECK(fabs(s.denoise - denoise) < 1e-9);
        CHECK(fabs(s.sharpen - sharpen) < 1e-9);
        CHECK(s.quality == quality);
}

int main(void) {
        struct video_settings s;

        video_settings_init(&s);
        CHECK(s.denoise == 0.5 && s.sharpen == 0.0 && s.quality == 90);

        expect_good("{}", 0.5, 0.0, 90);
        expect_good(" { } \n", 0.5, 0.0, 90);
        expect_good("{\"denoise\":0.6,\"quality\":90}", 0.6, 0.0, 90);
        expect_good("{\"denoise\":0,\"sharpen\":1,\"quality\":1}", 0.0, 1.0, 1);
        expect_good("{\"denoise\":1,\"sharpen\":0.25,\"quality\":100}", 1.0, 0.25, 100);
        expect_good("{\"quality\":75.0}", 0.5, 0.0, 75);

        /* Not JSON, not an object, not UTF-8. */
        expect_bad("", 0, "not JSON", NULL);
        expect_bad("{", 1, "not JSON", NULL);
        expect_bad("{\"denoise\":0.5", 14, "not JSON", NULL);
        expect_bad("{} x", 4, "not JSON", NULL);
        expect_bad("[1,2]", 5, "object", "[1,2]");
        expect_bad("42", 2, "object", "42");
        expect_bad("null", 4, "object", NULL);
        expect_bad("{\"denoise\":\"\xff\"}", 15, "UTF-8", "0xff");
        expect_bad("{\"\xc0\xaf\":1}", 8, "UTF-8", NULL);      /* overlong '/' */
        expect_bad("{\"\xed\xa0\x80\":1}", 9, "UTF-8", NULL);  /* surrogate */
        expect_bad("{\"a\":1}\0", 8, "NUL", NULL);

        /* Unknown key, wrong type, out of range: the message names the key and the value. */
        expect_bad("{\"denoyse\":0.5}", 15, "denoyse", "unknown");
        expect_bad("{\"denoise\":\"0.5\"}", 17, "denoise", "\"0.5\"");
        expect_bad("{\"denoise\":true}", 16, "denoise", "true");
        expect_bad("{\"denoise\":1.5}", 15, "denoise", "1.5");
        expect_bad("{\"denoise\":-0.1}", 16, "denoise", "-0.1");
        expect_bad("{\"denoise\":1e999}", 17, "denoise", NULL);
        expect_bad("{\"sharpen\":2}", 13, "sharpen", "2");
        expect_bad("{\"sharpen\":null}", 16, "sharpen", "null");
        expect_bad("{\"quality\":0}", 13, "quality", "0");
        expect_bad("{\"quality\":101}", 15, "quality", "101");
        expect_bad("{\"quality\":90.5}", 16, "quality", "90.5");
        expect_bad("{\"quality\":[90]}", 16, "quality", "[90]");
        expect_bad("{\"quality\":90,\"quality\":80}", 27, "quality", "twice");

        /* A NULL message buffer is allowed. */
        CHECK(video_settings_parse("{\"x\":1}", 7, &s, NULL, 0) == -EINVAL);

        return check_report("video-settings");
}
