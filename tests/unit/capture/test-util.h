/* SPDX-License-Identifier: MIT */
#pragma once

/* The capture tests' helpers: the shared checks and clocks of tests/unit/check.h. */
#include "../check.h"
