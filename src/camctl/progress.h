/* SPDX-License-Identifier: MIT */
#pragma once

/* Progress of a long wait on stderr: a bar redrawn in place on a terminal, plain lines
 * (at most one a second, plus the last) when stderr is a file or a pipe. */

#include <stdbool.h>
#include <stdint.h>

struct progress {
        const char *label;
        const char *unit; /* "images", "frames", "s" */
        bool tty;
        bool quiet;       /* no plain lines (--json); the terminal bar still shows */
        bool drawn;       /* a bar is on the current terminal line */
        bool shown;       /* the last update got its plain line */
        uint64_t last_done, last_total;
        uint64_t last_line_usec;
};

void progress_init(struct progress *p, const char *label, const char *unit, bool quiet);
void progress_update(struct progress *p, uint64_t done, uint64_t total);
/* Ends the bar's line; a closing plain line when the last update was not shown. */
void progress_finish(struct progress *p);
