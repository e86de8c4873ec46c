/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* Reading an a{sv} settings dictionary strictly: every key must be known and carry the
 * right variant type, else InvalidArgument naming the key and the type seen. */
struct bus_dict_key {
        const char *name;
        char type;   /* 's' (const char **, valid while the message lives), 'u' (uint32_t *),
                      * 'd' (double *), 'b' (bool *), 'i' (int32_t *), 'h' (int *, the
                      * message's fd: valid while it lives, not to be closed) */
        void *ptr;
        bool seen;   /* set by bus_read_dict */
};

/* what names the dictionary in messages ("profile", "settings", "options"). */
int bus_read_dict(sd_bus_message *m, const char *what, struct bus_dict_key *keys, size_t n_keys,
                  sd_bus_error *error);

/* bus_read_dict's steps, for callers with their own checks and messages. Inside the "a{sv}":
 * enters the next entry and reads its key, the matching element of keys (NULL when none)
 * and the variant's signature; 1, or 0 after the last entry. */
int bus_dict_next(sd_bus_message *m, struct bus_dict_key *keys, size_t n_keys,
                  const char **ret_key, struct bus_dict_key **ret_match, const char **ret_type);
/* Whether the variant's signature (from bus_dict_next) is k's type. */
static inline bool bus_dict_type_is(const struct bus_dict_key *k, const char *type) {
        return type[0] == k->type && type[1] == 0;
}
/* Reads the entry's value into k (marking it seen) and leaves the entry. */
int bus_dict_read_value(sd_bus_message *m, struct bus_dict_key *k);

/* Strings echoed into error messages are cut here so a 100 kB argument gives a short
 * message. */
#define BUS_ECHO_MAX 64
#define BUS_ECHO_FMT "%.64s%s"
#define BUS_ECHO(s) (s), (strlen(s) > BUS_ECHO_MAX ? "…" : "")
