/* SPDX-License-Identifier: MIT */
/* Error names, codes, messages and the errno map of the contract's error table (README, "Errors"). */
#include <stdio.h>
#include <string.h>

#include "bus/bus-errors.h"

#include "../check.h"

static const struct {
        enum camerad_error err;
        const char *name;
        unsigned code;
} table[] = {
        { CAMERAD_ERROR_INVALID_ARGUMENT, "org.camerad.Camera1.Error.InvalidArgument", 7400101 },
        { CAMERAD_ERROR_OPERATION_NOT_ALLOWED, "org.camerad.Camera1.Error.OperationNotAllowed", 7400102 },
        { CAMERAD_ERROR_SESSION_NOT_CONFIG, "org.camerad.Camera1.Error.SessionNotConfig", 7400103 },
        { CAMERAD_ERROR_SESSION_NOT_RUNNING, "org.camerad.Camera1.Error.SessionNotRunning", 7400104 },
        { CAMERAD_ERROR_SESSION_CONFIG_LOCKED, "org.camerad.Camera1.Error.SessionConfigLocked", 7400105 },
        { CAMERAD_ERROR_CONFLICT, "org.camerad.Camera1.Error.Conflict", 7400107 },
        { CAMERAD_ERROR_CONFIG_CONFLICT, "org.camerad.Camera1.Error.ConfigConflict", 7400110 },
        { CAMERAD_ERROR_SERVICE_FATAL, "org.camerad.Camera1.Error.ServiceFatal", 7400201 },
        { CAMERAD_ERROR_INVALID_ID, "org.camerad.Camera1.Error.InvalidId", 0 },
        { CAMERAD_ERROR_ACCESS_DENIED, "org.freedesktop.DBus.Error.AccessDenied", 0 },
};

int main(void) {
        CHECK(sizeof table / sizeof table[0] == _CAMERAD_ERROR_MAX);
        CHECK(bus_errors_register() >= 0);
        CHECK(bus_errors_register() >= 0); /* idempotent */

        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                char expect[128];
                int r;

                CHECK(strcmp(camerad_error_name(table[i].err), table[i].name) == 0);
                CHECK(camerad_error_code(table[i].err) == table[i].code);

                r = bus_error_setf(&e, table[i].err, "%s needs %s", "Thing", "care");
                CHECK(r < 0 && r == -camerad_error_errno(table[i].err));
                CHECK(sd_bus_error_has_name(&e, table[i].name));
                if (table[i].code)
                        snprintf(expect, sizeof expect, "%u: Thing needs care", table[i].code);
                else
                        snprintf(expect, sizeof expect, "Thing needs care");
                if (strcmp(e.message, expect) != 0) {
                        fprintf(stderr, "%s: message '%s', expected '%s'\n", table[i].name, e.message, expect);
                        check_failures++;
                }
                /* The registered map turns the name back into the same errno. */
                CHECK(sd_bus_error_get_errno(&e) == camerad_error_errno(table[i].err));
                sd_bus_error_free(&e);
        }

        /* Distinct errnos, so a C client can tell the errors apart. */
        for (size_t i = 0; i < _CAMERAD_ERROR_MAX; i++)
                for (size_t j = i + 1; j < _CAMERAD_ERROR_MAX; j++)
                        CHECK(camerad_error_errno(i) != camerad_error_errno(j));

        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = bus_error_set_fatal(&e, -ENODEV, "camera gone");
        CHECK(r == -ENODEV);
        CHECK(sd_bus_error_has_name(&e, "org.camerad.Camera1.Error.ServiceFatal"));
        CHECK(strncmp(e.message, "7400201: camera gone: ", 22) == 0);
        sd_bus_error_free(&e);

        /* A long argument is cut, never overflows. */
        static char huge[100 * 1024];
        memset(huge, 'x', sizeof huge - 1);
        bus_error_setf(&e, CAMERAD_ERROR_INVALID_ARGUMENT, "bad '%s'", huge);
        CHECK(strlen(e.message) < 2048);
        sd_bus_error_free(&e);

        return check_report("bus-errors");
}
