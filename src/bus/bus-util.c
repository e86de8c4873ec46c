/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "shared/macro.h"

static int read_value(sd_bus_message *m, struct bus_dict_key *k) {
        int r, b;

        switch (k->type) {
        case 's':
                return sd_bus_message_read_basic(m, 's', k->ptr);
        case 'u':
                return sd_bus_message_read_basic(m, 'u', k->ptr);
        case 'd':
                return sd_bus_message_read_basic(m, 'd', k->ptr);
        case 'b':
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r >= 0)
                        *(bool *) k->ptr = b;
                return r;
        default:
                return -EINVAL;
        }
}

int bus_read_dict(sd_bus_message *m, const char *what, struct bus_dict_key *keys, size_t n_keys,
                  sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                struct bus_dict_key *k = NULL;
                const char *key, *contents;
                char want[2] = {};

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_keys; i++)
                        if (streq(keys[i].name, key))
                                k = &keys[i];
                if (!k)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "unknown %s key '" BUS_ECHO_FMT "'", what, BUS_ECHO(key));

                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                want[0] = k->type;
                if (!streq(contents, want))
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "%s key '%s' must be of type '%s'; got '" BUS_ECHO_FMT "'",
                                              what, key, want, BUS_ECHO(contents));

                r = sd_bus_message_enter_container(m, 'v', want);
                if (r < 0)
                        return r;
                r = read_value(m, k);
                if (r < 0)
                        return r;
                k->seen = true;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}
