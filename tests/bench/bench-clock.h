/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <sys/resource.h>
#include <time.h>

/* Clocks the capture benchmarks read: wall time, the process's CPU time, the calling
 * thread's CPU time, and a sleep that survives signals. */

static inline double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double cpu_s(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static inline double thread_cpu_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void sleep_s(double s) {
        struct timespec ts = { (time_t) s, (long) ((s - (time_t) s) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
