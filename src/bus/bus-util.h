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
                      * 'd' (double *), 'b' (bool *) */
        void *ptr;
        bool seen;   /* set by bus_read_dict */
};

/* what names the dictionary in messages ("profile", "settings", "options"). */
int bus_read_dict(sd_bus_message *m, const char *what, struct bus_dict_key *keys, size_t n_keys,
                  sd_bus_error *error);

/* Strings echoed into error messages are cut here so a 100 kB argument gives a short
 * message. */
#define BUS_ECHO_MAX 64
#define BUS_ECHO_FMT "%.64s%s"
#define BUS_ECHO(s) (s), (strlen(s) > BUS_ECHO_MAX ? "…" : "")
