/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon's private folders: <state_dir>/images/<uid>, <state_dir>/videos/<uid>. The
 * state dir is the administrator's choice and may be reached through symlinks; the levels
 * below it are the daemon's and are never followed, so nothing is read, written or deleted
 * outside the state dir. */

#include <sys/types.h>

/* mkdir -p: missing parents 0755, the last component mode; an existing folder is fine. */
int mkdir_parents(const char *path, mode_t mode);

/* Sets the mode of fd (opened with O_NOFOLLOW) to mode if it differs; failing is logged. */
void fd_make_private(int fd, mode_t mode, const char *what);

/* Creates (0700) and opens the folder name under dir_fd without following a symlink: a
 * symlink gives -ELOOP, anything else not a folder -ENOTDIR. An existing folder is
 * tightened to 0700. Returns the fd or a negative errno. */
int open_private_dir_at(int dir_fd, const char *name);

/* " (a symbolic link; refusing to follow it)", " (not a folder)" or "", for messages about
 * an open_private_dir_at() failure r. */
const char *private_dir_refusal(int r);

/* Creates state_dir (mkdir_parents) and opens <state_dir>/<kind>/<uid> with
 * open_private_dir_at() at both levels; failures are logged. Returns the fd or a negative
 * errno. */
int open_private_user_dir(const char *state_dir, const char *kind, uid_t uid);
