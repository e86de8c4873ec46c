/* SPDX-License-Identifier: MIT */
#include <sys/random.h>

#include "id.h"
#include "macro.h"

int image_id_new(char buf[static IMAGE_ID_LEN + 1]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[IMAGE_ID_LEN / 2];
        size_t got = 0;

        while (got < sizeof raw) {
                ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                got += (size_t) n;
        }
        for (size_t i = 0; i < sizeof raw; i++) {
                buf[2 * i] = hex[raw[i] >> 4];
                buf[2 * i + 1] = hex[raw[i] & 15];
        }
        buf[IMAGE_ID_LEN] = 0;
        return 0;
}

bool image_id_is_valid(const char *s) {
        size_t i;

        if (!s)
                return false;
        for (i = 0; s[i]; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return i == IMAGE_ID_LEN;
}

bool video_id_is_valid(const char *s) {
        size_t i;

        if (!s || streq(s, ".") || streq(s, ".."))
                return false;
        for (i = 0; s[i]; i++) {
                char c = s[i];
                if (i >= 64)
                        return false;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return i >= 1;
}
