/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

#include "shared/macro.h"

#include "bus/camerad-error.h"

#include "shared/camerad-bus-names.h"

/* The D-Bus error name, e.g. "org.camerad.Camera1.Error.Conflict". */
const char *camerad_error_name(enum camerad_error err);
/* The OpenHarmony code, 0 when the contract has none (README, "Errors"). */
uint32_t camerad_error_code(enum camerad_error err);
/* The errno the error maps to (also registered with sd_bus_error_add_map):
 * InvalidArgument EINVAL, OperationNotAllowed EPERM, SessionNotConfig ENOTCONN,
 * SessionNotRunning ESRCH, SessionConfigLocked EALREADY, Conflict EBUSY,
 * ConfigConflict EXDEV, ServiceFatal EIO, InvalidId ENOENT, AccessDenied EACCES. */
int camerad_error_errno(enum camerad_error err);

/* Registers the name ↔ errno map with sd-bus. Call once at start. */
int bus_errors_register(void);

/* Sets *e to the error with message "<code>: <formatted>" (or just the formatted text
 * when the error has no code) and returns the mapped negative errno, so a method handler
 * can `return bus_error_setf(error, CAMERAD_ERROR_CONFLICT, "...", ...);`. */
int bus_error_setf(sd_bus_error *e, enum camerad_error err, const char *fmt, ...) _printf_(3, 4);

/* For a negative errno from a lower layer that has no better name: ServiceFatal with
 * "<what>: <strerror>". Returns r (negative). */
int bus_error_set_fatal(sd_bus_error *e, int r, const char *what);
