/* SPDX-License-Identifier: MIT */
#pragma once

/* Bus plumbing shared by the verbs: connecting, calls that report their own errors,
 * properties, and a wait loop with a deadline. Functions returning int give 0 on success
 * or the camctl exit code after printing what went wrong. */

#include <signal.h>
#include <stdint.h>

#include "camctl/camctl.h"
#include "shared/macro.h"

/* sd-bus.h brings sd_bus_flush_close_unrefp, sd_bus_message_unrefp, sd_bus_slot_unrefp. */

/* Set by SIGINT/SIGTERM where a verb installs camctl_catch_signals(). */
extern volatile sig_atomic_t camctl_stop_requested;
void camctl_catch_signals(void);

uint64_t camctl_now_usec(void);

/* Prints "camctl: <message>" to stderr and returns code. */
int camctl_error(int code, const char *format, ...) _printf_(2, 3);
/* Reports a failed call: the D-Bus error's message and name, mapped to an exit code. */
int camctl_bus_error(const sd_bus_error *e, int r, const char *what);

int camctl_connect(const struct camctl_args *a, sd_bus **ret);

int camctl_call(struct camctl *c, const char *path, const char *iface, const char *member,
                sd_bus_message **reply, const char *types, ...);

/* Reads a property; *reply is left at the variant's contents of the given type. */
int camctl_get_property(struct camctl *c, const char *path, const char *iface, const char *name,
                        const char *type, sd_bus_message **reply);
int camctl_get_string(struct camctl *c, const char *path, const char *iface, const char *name,
                      char **ret);

/* The caller's own ImageProcessSession / VideoProcessSession object path. */
int camctl_image_session(struct camctl *c, char **ret_path);
int camctl_video_session(struct camctl *c, char **ret_path);

/* Processes bus traffic until *done, the deadline (CLOCK_MONOTONIC µs, 0 = none), or a stop
 * request. tick (may be NULL) runs at least every 200 ms and after each batch of
 * messages. Returns 0, CAMCTL_EXIT_TIMEOUT, or the exit code of a bus failure. */
int camctl_wait(struct camctl *c, const bool *done, uint64_t deadline, void (*tick)(void *),
                void *userdata);
uint64_t camctl_deadline(const struct camctl *c);

/* Copies everything from fd to the file at path (written to a temporary name, then renamed).
 * Returns 0 or CAMCTL_EXIT_LOCAL after printing why. */
int camctl_save_fd(int fd, const char *path, uint64_t *ret_size);

/* Reads "a{sv}" entries from m into a flat JSON object (numbers, strings, booleans). */
struct cJSON;
int camctl_read_dict(sd_bus_message *m, struct cJSON **ret);
