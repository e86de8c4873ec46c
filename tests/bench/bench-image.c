/* SPDX-License-Identifier: MIT */
/* Deferred image processing figures (issue 4):
 *   1. one 4-frame 1080p image through the pipeline vs a bare TurboJPEG encode of one frame
 *   2. image_processor_add() time for a 4x1080p burst (proxy encode + durable write)
 *   3. images/s in high-performance vs low-power (target ratio >= 1.8 on 2 cores)
 *   4. ProcessImage on a 50-image low-power backlog (target <= 1.2 x one image + 50 ms)
 *   5. Interrupt latency p50/p99 (target p99 <= 50 ms)
 *   6. RSS with 1000 pending images (target <= idle + 5 MB)
 * Usage: bench-image [--quick] [--strict] [--only N]; --strict exits 1 when a target is
 * missed; --only runs section N alone.
 * State goes to $TMPDIR (default /tmp). */
#include <linux/videodev2.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/virtual-sensor.h"
#include "media/jpeg.h"
#include "process/image-pipeline.h"
#include "process/image-processor.h"
#include "shared/mailbox.h"

static bool strict, quick, missed;
static int only; /* --only N: run section N alone (1..6) */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double process_cpu_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
        nanosleep(&ts, NULL);
}

#define die_if(cond)                                                                      \
        do {                                                                              \
                if (cond) {                                                               \
                        fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);         \
                        exit(2);                                                          \
                }                                                                         \
        } while (0)

static void target(const char *what, bool ok) {
        printf("  target %s: %s\n", what, ok ? "met" : "MISSED");
        if (!ok)
                missed = true;
}

/* A burst from the virtual sensor as 4:2:0 planes. */
struct burst {
        unsigned w, h, n;
        uint8_t *data;
        struct image_burst_frame frames[16];
};

static void burst_make(struct burst *b, unsigned w, unsigned h, unsigned n) {
        struct virtual_sensor *s;
        size_t luma = (size_t) w * h, chroma = luma / 4, frame = luma + 2 * chroma;
        uint8_t *nv12 = malloc(frame);

        die_if(virtual_sensor_new(V4L2_PIX_FMT_NV12, w, h, VIRTUAL_SENSOR_NOISE_SIGMA, &s) < 0);
        *b = (struct burst) { w, h, n, malloc(frame * n), {} };
        die_if(!b->data || !nv12);
        for (unsigned f = 0; f < n; f++) {
                uint8_t *base = b->data + frame * f;
                virtual_sensor_render(s, 1000000 + (uint64_t) f * 33333, nv12);
                memcpy(base, nv12, luma);
                for (size_t i = 0; i < chroma; i++) {
                        base[luma + i] = nv12[luma + 2 * i];
                        base[luma + chroma + i] = nv12[luma + 2 * i + 1];
                }
                b->frames[f] = (struct image_burst_frame) { base, base + luma, base + luma + chroma };
        }
        free(nv12);
        virtual_sensor_free(s);
}

static struct image_burst burst_view(const struct burst *b, bool deferred) {
        return (struct image_burst) {
                .width = b->w, .height = b->h, .chroma = IMAGE_CHROMA_420, .n_frames = b->n,
                .frames = b->frames, .quality = 92, .deferred = deferred,
                .camera_make = "camerad", .camera_model = "virtual:0",
        };
}

/* ---- a processor on a private state dir ---- */

static struct {
        unsigned done;
        double last_done_at;
        char last_done[IMAGE_ID_LEN + 1];
} ev;

static void on_done(struct image_processor *p, const char *id, const struct image_done_info *i, void *u) {
        ev.done++;
        ev.last_done_at = now_s();
        memcpy(ev.last_done, id, IMAGE_ID_LEN + 1);
}

static const struct image_processor_callbacks callbacks = { .process_done = on_done };

struct env {
        char state[256];
        struct mailbox *mb;
        struct worker_pool *pool;
        struct image_processor *p;
};

static void env_open(struct env *e, enum exec_mode mode, bool fresh) {
        struct process_config c;
        const char *tmp = getenv("TMPDIR");

        if (fresh) {
                snprintf(e->state, sizeof e->state, "%s/bench-image-XXXXXX", tmp ? tmp : "/tmp");
                die_if(!mkdtemp(e->state));
        }
        process_config_init(&c);
        c.default_mode = mode;
        c.quota_bytes = UINT64_C(64) << 30;
        die_if(mailbox_new(&e->mb) < 0);
        die_if(pool_new(&c, &e->pool) < 0);
        struct image_processor_params params = {
                .uid = getuid(), .state_dir = e->state, .config = &c, .pool = e->pool,
                .mailbox = e->mb, .callbacks = &callbacks,
        };
        die_if(image_processor_new(&params, &e->p) < 0);
        memset(&ev, 0, sizeof ev);
}

static void env_close(struct env *e, bool keep) {
        char cmd[300];

        image_processor_free(e->p);
        pool_unref(e->pool);
        mailbox_dispatch(e->mb);
        mailbox_free(e->mb);
        if (!keep) {
                snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", e->state);
                die_if(system(cmd) != 0);
        }
}

static void wait_done(struct env *e, unsigned n) {
        double t0 = now_s();
        while (mailbox_dispatch(e->mb), ev.done < n) {
                die_if(now_s() - t0 > 600);
                sleep_ms(1);
        }
}

/* ---- 1 & 2 ---- */

static double bench_single(const struct burst *b) {
        struct jpeg_encoder *enc;
        struct jpeg_buffer out = {};
        struct pipeline_request req = {
                .width = b->w, .height = b->h, .chroma = IMAGE_CHROMA_420, .n_frames = b->n,
                .frames = b->frames, .quality = 92, .camera_make = "camerad",
        };
        struct pipeline_result res;
        struct yuv_planes view = {
                .width = b->w, .height = b->h, .subsamp = YUV_SUBSAMP_420,
                .plane = { b->frames[b->n - 1].y, b->frames[b->n - 1].cb, b->frames[b->n - 1].cr },
                .stride = { b->w, b->w / 2, b->w / 2 },
        };
        double t0, c0, encode = 1e9, pipeline = 1e9, encode_cpu = 1e9, pipeline_cpu = 1e9;
        int reps = quick ? 2 : 5;

        die_if(jpeg_encoder_new(&enc) < 0);
        for (int i = 0; i < reps; i++) {
                t0 = now_s();
                c0 = cpu_s();
                die_if(jpeg_encode_planes(enc, &view, 92, &out) < 0);
                encode = fmin(encode, now_s() - t0);
                encode_cpu = fmin(encode_cpu, cpu_s() - c0);
                t0 = now_s();
                c0 = cpu_s();
                die_if(image_pipeline_run(&req, &res) < 0);
                pipeline = fmin(pipeline, now_s() - t0);
                pipeline_cpu = fmin(pipeline_cpu, cpu_s() - c0);
                free(res.jpeg);
        }
        jpeg_buffer_done(&out);
        jpeg_encoder_free(enc);
        printf("[1] %ux%u x%u: pipeline %.1f ms (CPU %.1f ms), bare TurboJPEG encode of one frame %.2f ms "
               "(CPU %.2f ms), ratio %.1f (CPU %.1f)\n",
               b->w, b->h, b->n, pipeline * 1000, pipeline_cpu * 1000, encode * 1000, encode_cpu * 1000,
               pipeline / encode, pipeline_cpu / encode_cpu);
        return pipeline;
}

static void bench_add(const struct burst *b) {
        struct env e;
        char id[IMAGE_ID_LEN + 1];
        double worst = 0, sum = 0, cpu = 0;
        int n = quick ? 3 : 10;

        env_open(&e, EXEC_MODE_LOW_POWER, true);
        image_processor_set_capture_active(e.p, true); /* measure add alone */
        for (int i = 0; i < n; i++) {
                struct image_burst ib = burst_view(b, true);
                double t0 = now_s(), c0 = cpu_s();
                die_if(image_processor_add(e.p, &ib, id) < 0);
                double dt = now_s() - t0;
                cpu += cpu_s() - c0;
                sum += dt;
                worst = fmax(worst, dt);
        }
        printf("[2] add() of a %ux%u x%u burst (proxy encode + fsync'd write): mean %.1f ms (CPU %.1f ms), worst %.1f ms\n",
               b->w, b->h, b->n, sum / n * 1000, cpu / n * 1000, worst * 1000);
        target("add <= ~50 ms", sum / n <= 0.050);
        env_close(&e, false);
}

/* ---- 3 ---- */

/* Also gives the process CPU time per image while they run (the workers' time: this
 * thread only polls), which other load on the machine does not change. */
static double images_per_second(const struct burst *b, enum exec_mode mode, unsigned n, double *cpu_per_image) {
        struct env e;
        char id[IMAGE_ID_LEN + 1];
        double t0, c0;

        env_open(&e, mode, true);
        image_processor_set_capture_active(e.p, true);
        for (unsigned i = 0; i < n; i++) {
                struct image_burst ib = burst_view(b, true);
                die_if(image_processor_add(e.p, &ib, id) < 0);
        }
        t0 = now_s();
        c0 = process_cpu_s();
        image_processor_set_capture_active(e.p, false);
        wait_done(&e, n);
        *cpu_per_image = (process_cpu_s() - c0) / n;
        double rate = n / (ev.last_done_at - t0);
        env_close(&e, false);
        return rate;
}

/* ---- 4 ---- */

static void bench_backlog(const struct burst *b, double one_image) {
        struct env e;
        char ids[50][IMAGE_ID_LEN + 1];
        double t0, dt;

        env_open(&e, EXEC_MODE_LOW_POWER, true);
        image_processor_set_capture_active(e.p, true);
        for (int i = 0; i < 50; i++) {
                struct image_burst ib = burst_view(b, true);
                die_if(image_processor_add(e.p, &ib, ids[i]) < 0);
        }
        image_processor_set_capture_active(e.p, false);
        /* The single low-power worker is busy with the oldest image. */
        while (image_processor_running_count(e.p) == 0)
                sleep_ms(1);
        sleep_ms((long) (one_image * 300)); /* mid-way through it */
        t0 = now_s();
        die_if(image_processor_process(e.p, ids[49]) < 0);
        for (;;) {
                struct image_info info;
                mailbox_dispatch(e.mb);
                die_if(image_processor_get_info(e.p, ids[49], &info) < 0);
                if (info.state == IMAGE_STATE_DONE)
                        break;
                die_if(now_s() - t0 > 60);
                sleep_ms(1);
        }
        dt = now_s() - t0;
        printf("[4] ProcessImage on a 50-image low-power backlog: done after %.1f ms (one image %.1f ms)\n",
               dt * 1000, one_image * 1000);
        target("<= 1.2 x one image + 50 ms", dt <= 1.2 * one_image + 0.050);
        image_processor_interrupt(e.p);
        env_close(&e, false);
}

/* ---- 5 ---- */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void bench_interrupt(const struct burst *b) {
        struct env e;
        char id[IMAGE_ID_LEN + 1];
        int n = quick ? 20 : 100;
        double lat[100];

        env_open(&e, EXEC_MODE_HIGH_PERFORMANCE, true);
        image_processor_set_capture_active(e.p, true);
        for (int i = 0; i < 4; i++) {
                struct image_burst ib = burst_view(b, true);
                die_if(image_processor_add(e.p, &ib, id) < 0);
        }
        image_processor_set_capture_active(e.p, false);
        for (int i = 0; i < n; i++) {
                double t0;
                /* Resume, let the workers get into the pipeline, interrupt. */
                die_if(image_processor_set_mode(e.p, EXEC_MODE_HIGH_PERFORMANCE) < 0);
                while (image_processor_running_count(e.p) == 0)
                        sleep_ms(1);
                sleep_ms(20 + i % 7 * 10);
                t0 = now_s();
                die_if(image_processor_interrupt(e.p) < 0);
                lat[i] = now_s() - t0;
                die_if(image_processor_running_count(e.p) != 0);
                mailbox_dispatch(e.mb);
        }
        qsort(lat, (size_t) n, sizeof lat[0], cmp_double);
        printf("[5] Interrupt latency over %d runs: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", n,
               lat[n / 2] * 1000, lat[(n * 99) / 100 - (n >= 100 ? 0 : 0)] * 1000, lat[n - 1] * 1000);
        target("p99 <= 50 ms", lat[(n * 99) / 100] <= 0.050);
        env_close(&e, false);
}

/* ---- 6 ---- */

static long rss_kib(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        long v = -1;

        die_if(!f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
                        break;
        fclose(f);
        return v;
}

static void bench_rss(void) {
        struct env e;
        struct burst small;
        char id[IMAGE_ID_LEN + 1];
        long idle, pending, reopened;
        size_t heap_idle, heap_pending;
        double t0;

        burst_make(&small, 64, 48, 4);
        env_open(&e, EXEC_MODE_LOW_POWER, true);
        image_processor_set_capture_active(e.p, true);
        {       /* warm up allocator and encoder with one image, then forget it */
                struct image_burst ib = burst_view(&small, true);
                die_if(image_processor_add(e.p, &ib, id) < 0);
                die_if(image_processor_remove(e.p, id) < 0);
        }
        malloc_trim(0);
        idle = rss_kib();
        heap_idle = mallinfo2().uordblks;
        t0 = now_s();
        for (int i = 0; i < 1000; i++) {
                struct image_burst ib = burst_view(&small, true);
                die_if(image_processor_add(e.p, &ib, id) < 0);
        }
        pending = rss_kib();
        heap_pending = mallinfo2().uordblks;
        printf("[6] 1000 adds of 64x48 x4 bursts: %.1f s; RSS idle %ld KiB, with 1000 pending %ld KiB (+%ld KiB); "
               "heap in use +%zu KiB\n",
               now_s() - t0, idle, pending, pending - idle, (heap_pending - heap_idle) / 1024);
        target("RSS <= idle + 5 MB", pending - idle <= 5 * 1024);
        image_processor_interrupt(e.p);
        env_close(&e, true);

        /* After a restart: the scan loads all 1000 and queues them on the pool. */
        env_open(&e, EXEC_MODE_LOW_POWER, false);
        reopened = rss_kib();
        heap_pending = mallinfo2().uordblks;
        printf("    after restart with 1000 pending (scanned and queued on the pool): RSS %ld KiB (+%ld KiB over idle); "
               "heap in use +%zu KiB\n",
               reopened, reopened - idle, (heap_pending - heap_idle) / 1024);
        image_processor_interrupt(e.p);
        env_close(&e, false);
        free(small.data);
}

int main(int argc, char **argv) {
        struct burst b1080, b720;
        double one, one720, hp, lp;
        unsigned n;

        setvbuf(stdout, NULL, _IOLBF, 0);
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--strict") == 0)
                        strict = true;
                else if (strcmp(argv[i], "--quick") == 0)
                        quick = true;
                else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
                        only = atoi(argv[++i]);
        }
        printf("bench-image: %ld online CPUs%s\n", sysconf(_SC_NPROCESSORS_ONLN), quick ? " (quick)" : "");

#define SECTION(k) (only == 0 || only == (k))
        burst_make(&b1080, 1920, 1080, 4);
        burst_make(&b720, 1280, 720, 4);
        one = SECTION(1) || SECTION(4) ? bench_single(&b1080) : 0;
        (void) one;
        one720 = SECTION(1) || SECTION(4) ? bench_single(&b720) : 0;
        if (SECTION(2))
                bench_add(&b1080);

        if (SECTION(3)) {
                n = quick ? 4 : 12;
                double hp_cpu, lp_cpu;

                hp = images_per_second(&b720, EXEC_MODE_HIGH_PERFORMANCE, n, &hp_cpu);
                lp = images_per_second(&b720, EXEC_MODE_LOW_POWER, n, &lp_cpu);
                printf("[3] 1280x720 x4, %u images: high-performance %.2f images/s, low-power %.2f images/s, ratio %.2f\n",
                       n, hp, lp, hp / lp);
                printf("[3] CPU per image: high-performance %.1f ms, low-power %.1f ms (%.2f)\n",
                       hp_cpu * 1e3, lp_cpu * 1e3, hp_cpu / lp_cpu);
                if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
                        target("high-performance / low-power >= 1.8", hp / lp >= 1.8);
        }
        if (SECTION(4))
                bench_backlog(&b720, one720);
        if (SECTION(5))
                bench_interrupt(&b1080);
        if (SECTION(6))
                bench_rss();

        free(b1080.data);
        free(b720.data);
        return strict && missed ? 1 : 0;
}
