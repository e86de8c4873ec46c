/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define IMAGE_ID_LEN 32

/* 32 lowercase hex digits from getrandom(); buf must hold IMAGE_ID_LEN + 1. */
int image_id_new(char buf[static IMAGE_ID_LEN + 1]);
bool image_id_is_valid(const char *s);
/* 1–64 characters of [A-Za-z0-9._-], not "." or "..". */
bool video_id_is_valid(const char *s);
