/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "bus/bus-errors.h"

static const struct {
        const char *name;
        uint32_t code;
        int errnum;
} error_table[_CAMERAD_ERROR_MAX] = {
        [CAMERAD_ERROR_INVALID_ARGUMENT]      = { CAMERAD_ERROR_PREFIX "InvalidArgument", 7400101, EINVAL },
        [CAMERAD_ERROR_OPERATION_NOT_ALLOWED] = { CAMERAD_ERROR_PREFIX "OperationNotAllowed", 7400102, EPERM },
        [CAMERAD_ERROR_SESSION_NOT_CONFIG]    = { CAMERAD_ERROR_PREFIX "SessionNotConfig", 7400103, ENOTCONN },
        [CAMERAD_ERROR_SESSION_NOT_RUNNING]   = { CAMERAD_ERROR_PREFIX "SessionNotRunning", 7400104, ESRCH },
        [CAMERAD_ERROR_SESSION_CONFIG_LOCKED] = { CAMERAD_ERROR_PREFIX "SessionConfigLocked", 7400105, EALREADY },
        [CAMERAD_ERROR_CONFLICT]              = { CAMERAD_ERROR_PREFIX "Conflict", 7400107, EBUSY },
        [CAMERAD_ERROR_CONFIG_CONFLICT]       = { CAMERAD_ERROR_PREFIX "ConfigConflict", 7400110, EXDEV },
        [CAMERAD_ERROR_SERVICE_FATAL]         = { CAMERAD_ERROR_PREFIX "ServiceFatal", 7400201, EIO },
        [CAMERAD_ERROR_INVALID_ID]            = { CAMERAD_ERROR_PREFIX "InvalidId", 0, ENOENT },
        [CAMERAD_ERROR_ACCESS_DENIED]         = { SD_BUS_ERROR_ACCESS_DENIED, 0, EACCES },
};

const char *camerad_error_name(enum camerad_error err) {
        assert(err >= 0 && err < _CAMERAD_ERROR_MAX);
        return error_table[err].name;
}

uint32_t camerad_error_code(enum camerad_error err) {
        assert(err >= 0 && err < _CAMERAD_ERROR_MAX);
        return error_table[err].code;
}

int camerad_error_errno(enum camerad_error err) {
        assert(err >= 0 && err < _CAMERAD_ERROR_MAX);
        return error_table[err].errnum;
}

int bus_errors_register(void) {
        /* AccessDenied is already in sd-bus's own map; ours are the rest. The array must
         * outlive every bus, so it is static. */
        static sd_bus_error_map map[_CAMERAD_ERROR_MAX];
        static bool done;
        size_t n = 0;

        if (done)
                return 0;
        for (int i = 0; i < _CAMERAD_ERROR_MAX; i++) {
                if (i == CAMERAD_ERROR_ACCESS_DENIED)
                        continue;
                map[n++] = (sd_bus_error_map) SD_BUS_ERROR_MAP(error_table[i].name, error_table[i].errnum);
        }
        map[n] = (sd_bus_error_map) SD_BUS_ERROR_MAP_END;
        done = true;
        return sd_bus_error_add_map(map);
}

int bus_error_setf(sd_bus_error *e, enum camerad_error err, const char *fmt, ...) {
        char text[1024];
        va_list ap;
        int n = 0;

        assert(err >= 0 && err < _CAMERAD_ERROR_MAX);
        if (error_table[err].code)
                n = snprintf(text, sizeof text, "%u: ", error_table[err].code);
        va_start(ap, fmt);
        vsnprintf(text + n, sizeof text - n, fmt, ap);
        va_end(ap);

        if (e)
                sd_bus_error_set(e, error_table[err].name, text);
        return -error_table[err].errnum;
}

int bus_error_set_fatal(sd_bus_error *e, int r, const char *what) {
        bus_error_setf(e, CAMERAD_ERROR_SERVICE_FATAL, "%s: %s", what, strerror(r < 0 ? -r : r));
        return r < 0 ? r : -EIO;
}
