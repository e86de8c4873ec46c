/* SPDX-License-Identifier: MIT */
#pragma once

/* What camctl prints: JSON documents for --json, aligned tables for people. */

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "shared/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* Prints the document on one line to stdout. Returns 0 or CAMCTL_EXIT_LOCAL. */
int output_json(const cJSON *doc);

/* Collects cells row by row, then prints them with each column as wide as its widest cell. */
struct table;
struct table *table_new(size_t n_columns, const char *const *headers);
struct table *table_free(struct table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct table *, table_free);
/* Adds the next cell (rows fill left to right). Returns 0 or -ENOMEM. */
int table_add(struct table *t, const char *format, ...) _printf_(2, 3);
void table_print(const struct table *t, FILE *f);
