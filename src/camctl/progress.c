/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "camctl/client.h"
#include "camctl/progress.h"

void progress_init(struct progress *p, const char *label, const char *unit, bool quiet) {
        *p = (struct progress) {
                .label = label,
                .unit = unit,
                .tty = isatty(STDERR_FILENO),
                .quiet = quiet,
                .last_done = UINT64_MAX,
        };
}

static unsigned terminal_columns(void) {
        struct winsize ws;

        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
                return ws.ws_col;
        return 80;
}

static void draw_bar(struct progress *p, uint64_t done, uint64_t total) {
        char tail[64];
        unsigned columns = terminal_columns(), width, filled;
        int tail_len;

        tail_len = snprintf(tail, sizeof(tail), " %3u%% %llu/%llu %s",
                            total ? (unsigned) (done * 100 / total) : 0,
                            (unsigned long long) done, (unsigned long long) total, p->unit);
        /* Label, brackets and tail must fit so the line never wraps. */
        width = columns > strlen(p->label) + (unsigned) tail_len + 4
                        ? MIN(40u, columns - (unsigned) strlen(p->label) - (unsigned) tail_len - 4)
                        : 0;
        filled = total ? (unsigned) (MIN(done, total) * width / total) : 0;

        fprintf(stderr, "\r%s [", p->label);
        for (unsigned i = 0; i < width; i++)
                fputc(i < filled ? '#' : '-', stderr);
        fprintf(stderr, "]%s\033[K", tail);
        fflush(stderr);
        p->drawn = true;
}

void progress_update(struct progress *p, uint64_t done, uint64_t total) {
        uint64_t now = camctl_now_usec();

        if (done == p->last_done && total == p->last_total)
                return;
        p->last_done = done;
        p->last_total = total;
        p->shown = false;

        if (p->tty) {
                draw_bar(p, done, total);
                return;
        }
        if (p->quiet)
                return;
        if (done < total && now - p->last_line_usec < 1000000)
                return;
        fprintf(stderr, "%s: %llu/%llu %s\n", p->label, (unsigned long long) done,
                (unsigned long long) total, p->unit);
        fflush(stderr);
        p->last_line_usec = now;
        p->shown = true;
}

void progress_finish(struct progress *p) {
        if (p->tty) {
                if (p->drawn)
                        fputc('\n', stderr);
                p->drawn = false;
                return;
        }
        if (p->quiet || p->last_done == UINT64_MAX || p->shown)
                return;
        fprintf(stderr, "%s: %llu/%llu %s\n", p->label, (unsigned long long) p->last_done,
                (unsigned long long) p->last_total, p->unit);
        fflush(stderr);
}
