/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "shared/macro.h"

/* For the parsers that explain a rejection in the caller's buffer (video settings, video
 * records): writes the text into message when one is given, and returns -EINVAL.
 * Header-only so that a fuzz target can compile one parser's .c alone. */
_printf_(3, 4)
static inline int parse_fail(char *message, size_t size, const char *format, ...) {
        va_list ap;

        if (message && size > 0) {
                va_start(ap, format);
                vsnprintf(message, size, format, ap);
                va_end(ap);
        }
        return -EINVAL;
}
