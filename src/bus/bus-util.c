/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "bus/bus-errors.h"
#include "bus/bus-util.h"
#include "shared/macro.h"

static int read_value(sd_bus_message *m, struct bus_dict_key *k) {
        int r, b;

        switch (k->type) {
        case 's':
        case 'u':
        case 'd':
        case 'i':
        case 'h':
                return sd_bus_message_read_basic(m, k->type, k->ptr);
        case 'b':
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r >= 0)
                        *(bool *) k->ptr = b;
                return r;
        default:
                return -EINVAL;
        }
}

int bus_dict_next(sd_bus_message *m, struct bus_dict_key *keys, size_t n_keys,
                  const char **ret_key, struct bus_dict_key **ret_match, const char **ret_type) {
        int r;

        r = sd_bus_message_enter_container(m, 'e', "sv");
        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "s", ret_key);
        if (r < 0)
                return r;
        *ret_match = NULL;
        for (size_t i = 0; i < n_keys; i++)
                if (streq(keys[i].name, *ret_key))
                        *ret_match = &keys[i];
        r = sd_bus_message_peek_type(m, NULL, ret_type);
        if (r < 0)
                return r;
        return 1;
}

int bus_dict_read_value(sd_bus_message *m, struct bus_dict_key *k) {
        const char want[2] = { k->type, 0 };
        int r;

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
        return sd_bus_message_exit_container(m);
}

int bus_read_dict(sd_bus_message *m, const char *what, struct bus_dict_key *keys, size_t n_keys,
                  sd_bus_error *error) {
        struct bus_dict_key *k;
        const char *key, *contents;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = bus_dict_next(m, keys, n_keys, &key, &k, &contents)) > 0) {
                if (!k)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "unknown %s key '" BUS_ECHO_FMT "'", what, BUS_ECHO(key));
                if (!bus_dict_type_is(k, contents))
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "%s key '%s' must be of type '%c'; got '" BUS_ECHO_FMT "'",
                                              what, key, k->type, BUS_ECHO(contents));
                /* Which of two values would count is anybody's guess: refuse, as JSON input does. */
                if (k->seen)
                        return bus_error_setf(error, CAMERAD_ERROR_INVALID_ARGUMENT,
                                              "%s key '%s' is given twice", what, key);
                r = bus_dict_read_value(m, k);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}
