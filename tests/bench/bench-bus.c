/* SPDX-License-Identifier: MIT */
/* camerad's bus surface against a minimal sd-bus service run in this same process (a thread
 * with its own connection, one object, one trivial method, one property), both behind one
 * private dbus-daemon: sequential round-trip latency, Properties.GetAll, a pipelined burst,
 * and camerad's RSS idle and across CreateSession/Release cycles (leak check).
 *
 *   bench-bus [--camerad PATH] [--calls N] [--burst N] [--burst-calls N] [--sessions N]
 *
 * Without --camerad the daemon is looked up next to this program in the build tree.
 * Exits non-zero when any call fails (the D-Bus error is printed) or camerad does not exit
 * cleanly on SIGTERM. */
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "shared/macro.h"

#define CAMERAD_NAME "org.camerad.Camera1"
#define MANAGER_PATH "/org/camerad/Camera1"
#define MANAGER_IFACE "org.camerad.Camera1.Manager"
#define SESSION_IFACE "org.camerad.Camera1.Session"
#define IMAGE_PROCESS_IFACE "org.camerad.Camera1.ImageProcessSession"
#define BASELINE_NAME "org.camerad.BenchBaseline"
#define BASELINE_PATH "/org/camerad/BenchBaseline"
#define BASELINE_IFACE "org.camerad.BenchBaseline1"
#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"
#define LATENCY_BLOCK 500u
#define WARMUP_CALLS 300u

struct options {
        char *camerad;
        unsigned calls, burst, burst_calls, sessions;
};

struct bench {
        char tmpdir[64];
        char address[512];
        pid_t bus_pid, camerad_pid;
        sd_bus *client;
        char *image_process_path;

        pthread_t baseline_thread;
        bool baseline_running;
        atomic_bool baseline_stop;
        atomic_int baseline_tid;
        int baseline_ready[2]; /* the thread writes its setup result (an int) here */
};

/* One side of a comparison: where to send the call. */
struct target {
        const char *label, *destination, *path, *interface, *member, *argument;
};

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Prints the failure (the D-Bus error when there is one) and passes r on. */
static int report_error(const char *what, const sd_bus_error *error, int r) {
        if (error && sd_bus_error_is_set(error))
                fprintf(stderr, "bench-bus: %s failed: %s: %s\n", what, error->name,
                        error->message ? error->message : "");
        else
                fprintf(stderr, "bench-bus: %s failed: %s\n", what, strerror(-r));
        return r;
}

static int bus_connect(const char *address, const char *description, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_set_description(bus, description);
        if (r >= 0) /* a dead peer shows up as an error, not a 25 s hang */
                r = sd_bus_set_method_call_timeout(bus, 10 * 1000000ULL);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

/* ---- The baseline service ---- */

static int baseline_get_concurrency(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *mode;
        int r = sd_bus_message_read(m, "s", &mode);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "i", (int32_t) (streq(mode, "balanced") ? 2 : 1));
}

static int baseline_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", "1.0");
}

static const sd_bus_vtable baseline_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetConcurrency", "s", "i", baseline_get_concurrency, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Version", "s", baseline_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END
};

static void *baseline_main(void *userdata) {
        struct bench *b = userdata;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        atomic_store(&b->baseline_tid, (int) gettid());
        r = bus_connect(b->address, "baseline", &bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, BASELINE_PATH, BASELINE_IFACE, baseline_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, BASELINE_NAME, 0);
        if (write(b->baseline_ready[1], &r, sizeof r) != sizeof r || r < 0)
                return NULL;

        /* The stop flag is polled: the wait timeout only matters at shutdown. */
        while (!atomic_load(&b->baseline_stop)) {
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "bench-bus: baseline service: %s\n", strerror(-r));
                        break;
                }
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, 100 * 1000);
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "bench-bus: baseline service: %s\n", strerror(-r));
                        break;
                }
        }
        return NULL;
}

static int baseline_start(struct bench *b) {
        int r, setup;

        if (pipe2(b->baseline_ready, O_CLOEXEC) < 0)
                return -errno;
        r = -pthread_create(&b->baseline_thread, NULL, baseline_main, b);
        if (r < 0)
                return r;
        b->baseline_running = true;
        if (read(b->baseline_ready[0], &setup, sizeof setup) != sizeof setup)
                return -EIO;
        return setup;
}

/* ---- Processes ---- */

/* /proc/<pid>/status VmRSS in kB, or -1. */
static long vm_rss_kb(pid_t pid) {
        char path[64], line[256];
        long kb = -1;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        return kb;
}

/* Time on CPU of one thread (a tid; a pid names the main thread), ns; 0 when unknown. */
static uint64_t thread_cpu_ns(pid_t pid, pid_t tid) {
        char path[96];
        unsigned long long ns = 0;
        snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int) pid, (int) tid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f || fscanf(f, "%llu", &ns) != 1)
                return 0;
        return ns;
}

static pid_t spawn(char *const argv[], int address_fd, const char *log_path) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        /* Whatever happens to the benchmark, its daemons go with it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (address_fd >= 0) {
                if (address_fd == 3)
                        fcntl(3, F_SETFD, 0);
                else if (dup2(address_fd, 3) < 0)
                        _exit(127);
        }
        if (log_path) {
                int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
        }
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "bench-bus: cannot run %s: %m\n", argv[0]);
        _exit(127);
}

static int start_bus(struct bench *b) {
        char config_path[128], config_arg[160], log_path[128];
        int fds[2];
        size_t n = 0;

        snprintf(config_path, sizeof config_path, "%s/bus.conf", b->tmpdir);
        _cleanup_fclose_ FILE *f = fopen(config_path, "we");
        if (!f)
                return -errno;
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <listen>unix:path=%s/bus</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                "    <allow eavesdrop=\"true\"/>\n"
                "    <allow own=\"*\"/>\n"
                "  </policy>\n"
                "  <limit name=\"max_replies_per_connection\">50000</limit>\n"
                "</busconfig>\n",
                b->tmpdir);
        if (fclose(TAKE_PTR(f)) != 0)
                return -errno;

        snprintf(config_arg, sizeof config_arg, "--config-file=%s", config_path);
        char *argv[] = { (char *) "dbus-daemon", config_arg, (char *) "--nofork", (char *) "--nopidfile",
                         (char *) "--print-address=3", NULL };
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        snprintf(log_path, sizeof log_path, "%s/dbus-daemon.log", b->tmpdir);
        b->bus_pid = spawn(argv, fds[1], log_path);
        close(fds[1]);
        _cleanup_close_ int address_fd = fds[0];
        if (b->bus_pid < 0)
                return -errno;

        /* The address line, then EOF or a newline. */
        for (;;) {
                struct pollfd p = { .fd = address_fd, .events = POLLIN };
                if (poll(&p, 1, 10000) <= 0)
                        return -ETIMEDOUT;
                ssize_t k = read(address_fd, b->address + n, sizeof b->address - 1 - n);
                if (k <= 0)
                        return -EIO;
                n += (size_t) k;
                b->address[n] = 0;
                char *nl = strchr(b->address, '\n');
                if (nl) {
                        *nl = 0;
                        return 0;
                }
                if (n == sizeof b->address - 1)
                        return -ENAMETOOLONG;
        }
}

/* camerad's and dbus-daemon's stderr go to files in the temporary directory: shown on failure. */
static void print_log(const struct bench *b, const char *name) {
        char path[128], line[512];
        snprintf(path, sizeof path, "%s/%s.log", b->tmpdir, name);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return;
        fprintf(stderr, "bench-bus: %s's log:\n", name);
        while (fgets(line, sizeof line, f))
                fprintf(stderr, "  %s", line);
}

static int start_camerad(struct bench *b, const char *camerad) {
        char address_arg[600], state_arg[128], log_path[128];
        int r;

        snprintf(address_arg, sizeof address_arg, "--address=%s", b->address);
        snprintf(state_arg, sizeof state_arg, "--state-dir=%s/state", b->tmpdir);
        snprintf(log_path, sizeof log_path, "%s/camerad.log", b->tmpdir);
        char *argv[] = { (char *) camerad, address_arg, state_arg, (char *) "--virtual-cameras=1",
                         (char *) "--no-v4l2", NULL };
        b->camerad_pid = spawn(argv, -1, log_path);
        if (b->camerad_pid < 0)
                return -errno;

        for (unsigned i = 0; i < 500; i++) { /* 10 s */
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                int has_owner = 0, status;

                if (waitpid(b->camerad_pid, &status, WNOHANG) == b->camerad_pid) {
                        b->camerad_pid = 0;
                        fprintf(stderr, "bench-bus: camerad exited during start-up (status 0x%x)\n", status);
                        print_log(b, "camerad");
                        return -ECHILD;
                }
                r = sd_bus_call_method(b->client, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s", CAMERAD_NAME);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "b", &has_owner);
                if (r < 0)
                        return report_error("NameHasOwner", &error, r);
                if (has_owner)
                        return 0;
                sleep_ms(20);
        }
        fprintf(stderr, "bench-bus: camerad did not take %s within 10 s\n", CAMERAD_NAME);
        print_log(b, "camerad");
        return -ETIMEDOUT;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        remove(path);
        return 0;
}

/* Stops everything started; a non-zero return when camerad did not exit cleanly. */
static int teardown(struct bench *b) {
        int r = 0, status;

        if (b->camerad_pid > 0) {
                pid_t reaped = 0;
                kill(b->camerad_pid, SIGTERM);
                for (unsigned i = 0; i < 250 && reaped == 0; i++) { /* 5 s */
                        reaped = waitpid(b->camerad_pid, &status, WNOHANG);
                        if (reaped == 0)
                                sleep_ms(20);
                }
                if (reaped == 0) {
                        fprintf(stderr, "bench-bus: camerad ignored SIGTERM for 5 s; killing it\n");
                        kill(b->camerad_pid, SIGKILL);
                        waitpid(b->camerad_pid, &status, 0);
                        r = -ETIMEDOUT;
                } else if (reaped < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "bench-bus: camerad did not exit cleanly after SIGTERM (status 0x%x)\n",
                                reaped < 0 ? 0 : status);
                        print_log(b, "camerad");
                        r = -EIO;
                }
        }
        if (b->baseline_running) {
                atomic_store(&b->baseline_stop, true);
                pthread_join(b->baseline_thread, NULL);
        }
        b->client = sd_bus_flush_close_unref(b->client);
        if (b->bus_pid > 0) {
                kill(b->bus_pid, SIGTERM);
                waitpid(b->bus_pid, &status, 0);
        }
        free(b->image_process_path);
        if (b->tmpdir[0])
                nftw(b->tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return r;
}

/* ---- Measurements ---- */

static int call_target(sd_bus *bus, const struct target *t, sd_bus_message **reply, sd_bus_error *error) {
        return sd_bus_call_method(bus, t->destination, t->path, t->interface, t->member, error, reply, "s",
                                  t->argument);
}

/* Runs n calls of t, stores each round trip in ns; adds the server threads' CPU time. */
static int latency_block(struct bench *b, const struct target *t, uint64_t *samples, unsigned n,
                         pid_t server_pid, pid_t server_tid, uint64_t *server_cpu, uint64_t *bus_cpu) {
        uint64_t cpu0 = thread_cpu_ns(server_pid, server_tid), bus0 = thread_cpu_ns(b->bus_pid, b->bus_pid);

        for (unsigned i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                uint64_t t0 = now_ns();
                int r = call_target(b->client, t, &reply, &error);
                if (samples)
                        samples[i] = now_ns() - t0;
                if (r < 0) {
                        char what[160];
                        snprintf(what, sizeof what, "%s %s.%s", t->label, t->interface, t->member);
                        return report_error(what, &error, r);
                }
        }
        *server_cpu += thread_cpu_ns(server_pid, server_tid) - cpu0;
        *bus_cpu += thread_cpu_ns(b->bus_pid, b->bus_pid) - bus0;
        return 0;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, µs. */
static double percentile_us(const uint64_t *sorted, unsigned n, unsigned p) {
        unsigned rank = (unsigned) (((uint64_t) n * p + 99) / 100);
        return sorted[rank ? rank - 1 : 0] / 1e3;
}

/* camerad's and the baseline's call alternate in blocks, so drift hits both alike. */
static int compare_latency(struct bench *b, const char *what, const struct target *cam,
                           const struct target *base, unsigned calls) {
        _cleanup_free_ uint64_t *cs = calloc(calls, sizeof *cs);
        _cleanup_free_ uint64_t *bs = calloc(calls, sizeof *bs);
        uint64_t cam_cpu = 0, base_cpu = 0, cam_bus = 0, base_bus = 0, scratch = 0;
        pid_t base_tid = (pid_t) atomic_load(&b->baseline_tid);
        int r;

        if (!cs || !bs)
                return -ENOMEM;
        r = latency_block(b, cam, NULL, WARMUP_CALLS, b->camerad_pid, b->camerad_pid, &scratch, &scratch);
        if (r >= 0)
                r = latency_block(b, base, NULL, WARMUP_CALLS, getpid(), base_tid, &scratch, &scratch);
        for (unsigned done = 0; r >= 0 && done < calls; done += LATENCY_BLOCK) {
                unsigned n = MIN(LATENCY_BLOCK, calls - done);
                r = latency_block(b, cam, cs + done, n, b->camerad_pid, b->camerad_pid, &cam_cpu, &cam_bus);
                if (r >= 0)
                        r = latency_block(b, base, bs + done, n, getpid(), base_tid, &base_cpu, &base_bus);
        }
        if (r < 0)
                return r;

        qsort(cs, calls, sizeof *cs, compare_u64);
        qsort(bs, calls, sizeof *bs, compare_u64);
        double c50 = percentile_us(cs, calls, 50), c99 = percentile_us(cs, calls, 99);
        double b50 = percentile_us(bs, calls, 50), b99 = percentile_us(bs, calls, 99);
        printf("camerad %s p50/p99 µs: %.1f / %.1f\n", what, c50, c99);
        printf("baseline %s p50/p99 µs: %.1f / %.1f\n", what, b50, b99);
        printf("ratio %s p50 %.2f×, p99 %.2f×\n", what, c50 / b50, c99 / b99);
        if (cam_cpu == 0 && base_cpu == 0)
                return 0; /* no /proc/<pid>/task/<tid>/schedstat on this kernel */
        printf("  CPU per call µs: camerad main thread %.1f, baseline thread %.1f; "
               "dbus-daemon %.1f (camerad) / %.1f (baseline)\n",
               cam_cpu / 1e3 / calls, base_cpu / 1e3 / calls, cam_bus / 1e3 / calls, base_bus / 1e3 / calls);
        return 0;
}

struct burst {
        const struct target *target;
        sd_bus *bus;
        unsigned to_send, in_flight;
        int error;
        sd_bus_error bus_error;
};

static int burst_send(struct burst *s);

static int burst_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct burst *s = userdata;
        s->in_flight--;
        if (sd_bus_message_is_method_error(m, NULL)) {
                if (s->error == 0) {
                        int e = sd_bus_message_get_errno(m);
                        s->error = e > 0 ? -e : -EIO;
                        sd_bus_error_copy(&s->bus_error, sd_bus_message_get_error(m));
                }
                return 0;
        }
        if (s->to_send > 0 && s->error == 0)
                s->error = MIN(burst_send(s), 0);
        return 0;
}

static int burst_send(struct burst *s) {
        const struct target *t = s->target;
        int r = sd_bus_call_method_async(s->bus, NULL, t->destination, t->path, t->interface, t->member,
                                         burst_reply, s, "s", t->argument);
        if (r < 0)
                return r;
        s->to_send--;
        s->in_flight++;
        return 0;
}

/* Keeps `depth` calls in flight until `calls` have been answered; returns calls/s. */
static int burst_run(struct bench *b, const struct target *t, unsigned depth, unsigned calls, double *ret_rate) {
        struct burst s = { .target = t, .bus = b->client, .to_send = calls, .bus_error = SD_BUS_ERROR_NULL };
        uint64_t t0 = now_ns();
        int r = 0;

        while (s.to_send > 0 && s.in_flight < depth && r >= 0)
                r = burst_send(&s);
        /* After a failure the calls still in flight are drained: their callbacks point at s. */
        while (r >= 0 && s.in_flight > 0) {
                r = sd_bus_process(b->client, NULL);
                if (r > 0)
                        continue;
                if (r >= 0)
                        r = sd_bus_wait(b->client, UINT64_MAX);
        }
        if (r >= 0)
                r = s.error;
        if (r < 0) {
                char what[160];
                snprintf(what, sizeof what, "%s %s.%s (pipelined)", t->label, t->interface, t->member);
                report_error(what, &s.bus_error, r);
        }
        sd_bus_error_free(&s.bus_error);
        *ret_rate = calls / ((now_ns() - t0) / 1e9);
        return r;
}

static int compare_throughput(struct bench *b, const struct target *cam, const struct target *base,
                              unsigned depth, unsigned calls) {
        double rate, cam_s = 0, base_s = 0;
        int r;

        /* Warm-up, then two alternating rounds; the figure is total calls over total time. */
        r = burst_run(b, cam, depth, WARMUP_CALLS, &rate);
        if (r >= 0)
                r = burst_run(b, base, depth, WARMUP_CALLS, &rate);
        for (unsigned round = 0; r >= 0 && round < 2; round++) {
                r = burst_run(b, cam, depth, calls / 2, &rate);
                cam_s += (calls / 2) / rate;
                if (r >= 0)
                        r = burst_run(b, base, depth, calls / 2, &rate);
                base_s += (calls / 2) / rate;
        }
        if (r < 0)
                return r;
        double cam_rate = (calls / 2 * 2) / cam_s, base_rate = (calls / 2 * 2) / base_s;
        printf("camerad GetConcurrency throughput, %u in flight: %.0f calls/s\n", depth, cam_rate);
        printf("baseline GetConcurrency throughput, %u in flight: %.0f calls/s\n", depth, base_rate);
        printf("ratio throughput %.2f× (camerad/baseline)\n", cam_rate / base_rate);
        return 0;
}

/* n times Manager.CreateSession("photo") then Session.Release on the path it gave. */
static int session_cycles(struct bench *b, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *released = NULL;
                const char *path;
                int r;

                r = sd_bus_call_method(b->client, CAMERAD_NAME, MANAGER_PATH, MANAGER_IFACE, "CreateSession",
                                       &error, &reply, "s", "photo");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "o", &path);
                if (r < 0)
                        return report_error("Manager.CreateSession", &error, r);
                r = sd_bus_call_method(b->client, CAMERAD_NAME, path, SESSION_IFACE, "Release", &error,
                                       &released, "");
                if (r < 0)
                        return report_error("Session.Release", &error, r);
        }
        return 0;
}

/* GetAll must answer with at least one property; says how many. */
static int count_properties(struct bench *b, const struct target *t, unsigned *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        unsigned n = 0;
        int r = call_target(b->client, t, &reply, &error);
        if (r < 0)
                return report_error("Properties.GetAll", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_skip(reply, "sv");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                n++;
        }
        if (r < 0)
                return report_error("reading GetAll's reply", NULL, r);
        if (n == 0) {
                fprintf(stderr, "bench-bus: %s GetAll returned no properties\n", t->label);
                return -ENODATA;
        }
        *ret = n;
        return 0;
}

static int run(struct bench *b, const struct options *o) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        unsigned cam_props, base_props;
        int r;

        r = sd_bus_call_method(b->client, CAMERAD_NAME, MANAGER_PATH, MANAGER_IFACE, "GetImageProcessSession",
                               &error, &reply, "");
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return report_error("Manager.GetImageProcessSession", &error, r);
        b->image_process_path = strdup(path);
        if (!b->image_process_path)
                return -ENOMEM;

        const struct target cam_call = { "camerad", CAMERAD_NAME, b->image_process_path, IMAGE_PROCESS_IFACE,
                                         "GetConcurrency", "balanced" };
        const struct target base_call = { "baseline", BASELINE_NAME, BASELINE_PATH, BASELINE_IFACE,
                                          "GetConcurrency", "balanced" };
        const struct target cam_getall = { "camerad", CAMERAD_NAME, MANAGER_PATH, PROPERTIES_IFACE, "GetAll",
                                           MANAGER_IFACE };
        const struct target base_getall = { "baseline", BASELINE_NAME, BASELINE_PATH, PROPERTIES_IFACE, "GetAll",
                                            BASELINE_IFACE };

        r = count_properties(b, &cam_getall, &cam_props);
        if (r >= 0)
                r = count_properties(b, &base_getall, &base_props);
        if (r < 0)
                return r;

        sleep_ms(500); /* let start-up settle before the idle figure */
        long rss_idle = vm_rss_kb(b->camerad_pid);
        printf("camerad RSS idle: %ld kB\n", rss_idle);

        printf("-- %u sequential calls per side (%s)\n", o->calls, b->image_process_path);
        r = compare_latency(b, "GetConcurrency", &cam_call, &base_call, o->calls);
        if (r < 0)
                return r;
        printf("-- Properties.GetAll: Manager (%u properties) vs baseline (%u)\n", cam_props, base_props);
        r = compare_latency(b, "GetAll", &cam_getall, &base_getall, o->calls);
        if (r < 0)
                return r;
        printf("-- pipelined: %u calls per side\n", o->burst_calls / 2 * 2);
        r = compare_throughput(b, &cam_call, &base_call, o->burst, o->burst_calls);
        if (r < 0)
                return r;

        sleep_ms(200);
        long rss_calls = vm_rss_kb(b->camerad_pid);
        printf("camerad RSS after the calls above: %ld kB (%+ld kB from idle)\n", rss_calls, rss_calls - rss_idle);

        /* Two rounds: the first pays for allocator warm-up, the second shows what a cycle leaks. */
        printf("-- %u CreateSession+Release cycles, twice\n", o->sessions);
        long rss_round[2];
        uint64_t cycles_ns = 0, scratch = 0;
        for (unsigned round = 0; round < 2; round++) {
                uint64_t t0 = now_ns();
                r = session_cycles(b, o->sessions);
                if (r < 0)
                        return r;
                cycles_ns += now_ns() - t0;
                sleep_ms(200);
                rss_round[round] = vm_rss_kb(b->camerad_pid);
        }
        printf("camerad RSS after %u sessions: %ld kB (%+ld kB), after %u: %ld kB (%+ld kB in the second %u = "
               "%.2f kB/session)\n",
               o->sessions, rss_round[0], rss_round[0] - rss_calls, 2 * o->sessions, rss_round[1],
               rss_round[1] - rss_round[0], o->sessions, (double) (rss_round[1] - rss_round[0]) / o->sessions);
        printf("camerad RSS growth from idle: %+ld kB\n", rss_round[1] - rss_idle);
        printf("  one CreateSession+Release cycle: %.2f ms\n", cycles_ns / 1e6 / (2.0 * o->sessions));

        /* As many calls to the baseline; its RSS is this whole process (service and client). */
        pid_t base_tid = (pid_t) atomic_load(&b->baseline_tid);
        long self_before = vm_rss_kb(getpid());
        r = latency_block(b, &base_call, NULL, 4 * o->sessions, getpid(), base_tid, &scratch, &scratch);
        if (r < 0)
                return r;
        printf("baseline RSS growth (bench process: service + client) over %u calls: %+ld kB\n", 4 * o->sessions,
               vm_rss_kb(getpid()) - self_before);
        return 0;
}

/* Other work on the machine moves the latency figures: say how busy it was. */
static void print_load(const char *when) {
        double l1, l5;
        _cleanup_fclose_ FILE *f = fopen("/proc/loadavg", "re");
        if (f && fscanf(f, "%lf %lf", &l1, &l5) == 2)
                printf("load average at %s: %.2f (1 min), %.2f (5 min), %ld CPUs\n", when, l1, l5,
                       sysconf(_SC_NPROCESSORS_ONLN));
}

static char *default_camerad(void) {
        char self[PATH_MAX], path[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
                return NULL;
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (!slash)
                return NULL;
        *slash = 0;
        snprintf(path, sizeof path, "%s/../../src/bus/camerad", self); /* build/tests/bench → build/src/bus */
        return realpath(path, NULL);
}

static int parse_unsigned(const char *s, unsigned min, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v < min || v > 10000000)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_argv(int argc, char *argv[], struct options *o) {
        static const struct option options[] = {
                { "camerad", required_argument, NULL, 'c' },  { "calls", required_argument, NULL, 'n' },
                { "burst", required_argument, NULL, 'b' },    { "burst-calls", required_argument, NULL, 'B' },
                { "sessions", required_argument, NULL, 's' }, {}
        };
        int c, r = 0;
        while (r >= 0 && (c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        free(o->camerad);
                        o->camerad = realpath(optarg, NULL);
                        r = o->camerad ? 0 : -errno;
                        break;
                case 'n': r = parse_unsigned(optarg, 1, &o->calls); break;
                case 'b': r = parse_unsigned(optarg, 1, &o->burst); break;
                case 'B': r = parse_unsigned(optarg, 2, &o->burst_calls); break;
                case 's': r = parse_unsigned(optarg, 1, &o->sessions); break;
                default: r = -EINVAL;
                }
        }
        if (r >= 0 && optind < argc)
                r = -EINVAL;
        if (r < 0)
                fprintf(stderr, "usage: bench-bus [--camerad PATH] [--calls N] [--burst N] [--burst-calls N] "
                                "[--sessions N]\n");
        if (r >= 0 && !o->camerad && !(o->camerad = default_camerad())) {
                fprintf(stderr, "bench-bus: camerad not found next to this program; pass --camerad PATH\n");
                r = -ENOENT;
        }
        return r;
}

int main(int argc, char *argv[]) {
        struct options o = { .calls = 20000, .burst = 64, .burst_calls = 40000, .sessions = 1000 };
        struct bench b = { .baseline_ready = { -1, -1 } };
        int r;

        if (parse_argv(argc, argv, &o) < 0)
                return 2;
        signal(SIGPIPE, SIG_IGN);
        snprintf(b.tmpdir, sizeof b.tmpdir, "/tmp/bench-bus.XXXXXX");
        if (!mkdtemp(b.tmpdir)) {
                fprintf(stderr, "bench-bus: mkdtemp: %m\n");
                return 1;
        }

        r = start_bus(&b);
        if (r < 0) {
                report_error("starting dbus-daemon", NULL, r);
                print_log(&b, "dbus-daemon");
        }
        if (r >= 0 && (r = bus_connect(b.address, "client", &b.client)) < 0)
                report_error("connecting to the private bus", NULL, r);
        if (r >= 0 && (r = baseline_start(&b)) < 0)
                report_error("starting the baseline service", NULL, r);
        if (r >= 0) {
                printf("bench-bus: camerad %s, private bus %s\n", o.camerad, b.address);
                print_load("start");
                r = start_camerad(&b, o.camerad);
        }
        if (r >= 0)
                r = run(&b, &o);
        if (r >= 0)
                print_load("end");
        fflush(stdout);
        int t = teardown(&b);
        safe_close(b.baseline_ready[0]);
        safe_close(b.baseline_ready[1]);
        free(o.camerad);
        return r < 0 || t < 0 ? 1 : 0;
}
