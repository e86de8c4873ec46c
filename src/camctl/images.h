/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "camctl/camctl.h"

/* Saves the best JPEG camerad has for id to path ("-" = stdout); *ret_kind is "proxy" or
 * "final". Returns 0 or an exit code after printing why. */
int images_fetch(struct camctl *c, const char *session, const char *id, const char *path, char **ret_kind,
                 uint64_t *ret_size);
