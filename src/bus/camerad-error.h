/* SPDX-License-Identifier: MIT */
#pragma once

/* The error names of the contract (README, "Errors"), without sd-bus so that pure code (session-state.c) can name
 * them too. Messages start with the OpenHarmony code where the contract has one
 * ("7400102: CommitConfig needs state 'configuring'; the session is 'committed'"). */
enum camerad_error {
        CAMERAD_ERROR_INVALID_ARGUMENT,      /* 7400101 */
        CAMERAD_ERROR_OPERATION_NOT_ALLOWED, /* 7400102 */
        CAMERAD_ERROR_SESSION_NOT_CONFIG,    /* 7400103 */
        CAMERAD_ERROR_SESSION_NOT_RUNNING,   /* 7400104 */
        CAMERAD_ERROR_SESSION_CONFIG_LOCKED, /* 7400105 */
        CAMERAD_ERROR_CONFLICT,              /* 7400107 */
        CAMERAD_ERROR_CONFIG_CONFLICT,       /* 7400110 */
        CAMERAD_ERROR_SERVICE_FATAL,         /* 7400201 */
        CAMERAD_ERROR_INVALID_ID,            /* no code */
        CAMERAD_ERROR_ACCESS_DENIED,         /* org.freedesktop.DBus.Error.AccessDenied */
        _CAMERAD_ERROR_MAX,
};
