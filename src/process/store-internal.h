/* SPDX-License-Identifier: MIT */
#pragma once

/* What store.c (open, create, load, remove) gives store-scan.c (the start-up scan), which
 * store.c does not call back into; not for use outside the image store. */

#include <stdint.h>
#include <sys/types.h>

#include "process/store.h"

#define NEW_PREFIX ".new-"
#define BROKEN_PREFIX ".broken-"
#define TMP_SUFFIX ".tmp"

struct image_store {
        int dir_fd; /* <state_dir>/images/<uid> */
        char *path;
};

/* Removes a folder's contents and the folder; depth-limited, never follows symlinks. */
int store_remove_tree_at(int dir_fd, const char *name, unsigned depth);
/* Bytes of the regular files in the folder name. */
uint64_t store_folder_bytes(int dir_fd, const char *name);
/* The folder of image id, or -ENOENT for an invalid id. */
int store_open_image_dir(struct image_store *s, const char *id);
int store_write_record_at(int dir_fd, const struct job_record *rec);
