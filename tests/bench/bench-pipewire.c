/* SPDX-License-Identifier: MIT */
/* bench-pipewire: a PipeWire consumer of a camerad-pipewire node (1080p by default).
 * Prints, for N frames:
 *   - the bridge's CPU per frame (utime+stime of --bridge-pid over the run / frames)
 *     against one memcpy of the same frame size, timed here in the same run;
 *   - latency p50/p99 from the buffer's header pts (CLOCK_MONOTONIC when the bridge read
 *     the frame's first bytes from camerad's preview socket) to this consumer's process().
 * Needs a running pipewire, camerad and bridge; tests/bench/bench-pipewire.sh sets them up. */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pipewire/pipewire.h>
#include <spa/buffer/meta.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/builder.h>

struct bench {
        struct pw_main_loop *loop;
        struct pw_stream *stream;
        struct spa_hook listener;
        unsigned width, height, wanted, skip, got;
        size_t frame_size;
        double *latency_ms;
        double cpu_start;
        pid_t bridge;
        double cpu_end;
};

static uint64_t now_nsec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* utime + stime of pid in seconds, from /proc/<pid>/stat. */
static double cpu_seconds(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
                return -1;
        return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

static void on_process(void *userdata) {
        struct bench *b = userdata;
        struct pw_buffer *buf = pw_stream_dequeue_buffer(b->stream);
        if (!buf)
                return;
        uint64_t now = now_nsec();
        struct spa_meta_header *h = spa_buffer_find_meta_data(buf->buffer, SPA_META_Header, sizeof *h);
        if (h && h->pts > 0 && buf->buffer->datas[0].chunk->size > 0) {
                if (b->skip > 0) {
                        /* The first frames include session start-up; not the steady state. */
                        if (--b->skip == 0)
                                b->cpu_start = cpu_seconds(b->bridge);
                } else if (b->got < b->wanted) {
                        b->latency_ms[b->got++] = (double) (now - (uint64_t) h->pts) / 1e6;
                        if (b->got == b->wanted) {
                                b->cpu_end = cpu_seconds(b->bridge);
                                pw_main_loop_quit(b->loop);
                        }
                }
        }
        pw_stream_queue_buffer(b->stream, buf);
}

static void on_state(void *userdata, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
        struct bench *b = userdata;
        if (state == PW_STREAM_STATE_ERROR || state == PW_STREAM_STATE_UNCONNECTED) {
                fprintf(stderr, "bench-pipewire: stream %s: %s\n", pw_stream_state_as_string(state), error ?: "");
                pw_main_loop_quit(b->loop);
        }
}

/* The header meta (pts) is there only when the consumer asks for it too. */
static void on_param_changed(void *userdata, uint32_t id, const struct spa_pod *param) {
        struct bench *b = userdata;
        uint8_t pod[256];
        struct spa_pod_builder builder = SPA_POD_BUILDER_INIT(pod, sizeof pod);
        const struct spa_pod *params[1];

        if (id != SPA_PARAM_Format || !param)
                return;
        params[0] = spa_pod_builder_add_object(&builder, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
                SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
                SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
        pw_stream_update_params(b->stream, params, 1);
}

static const struct pw_stream_events events = {
        PW_VERSION_STREAM_EVENTS,
        .state_changed = on_state,
        .param_changed = on_param_changed,
        .process = on_process,
};

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* ns per memcpy of size bytes, best of several rounds over a buffer pair. */
static double memcpy_nsec(size_t size) {
        uint8_t *src = malloc(size), *dst = malloc(size);
        double best = 1e18;
        if (!src || !dst)
                exit(EXIT_FAILURE);
        memset(src, 0x5a, size);
        memset(dst, 0, size);
        for (int round = 0; round < 5; round++) {
                uint64_t t0 = now_nsec();
                for (int i = 0; i < 20; i++) {
                        memcpy(dst, src, size);
                        __asm__ volatile("" : : "r"(dst) : "memory");
                }
                double per = (double) (now_nsec() - t0) / 20;
                best = per < best ? per : best;
        }
        free(src);
        free(dst);
        return best;
}

int main(int argc, char *argv[]) {
        struct bench b = { .width = 1920, .height = 1080, .wanted = 300, .skip = 30 };
        const char *target = "camerad.virtual_0", *format = "YUY2";
        int c;

        static const struct option options[] = {
                { "target", required_argument, NULL, 't' },
                { "frames", required_argument, NULL, 'n' },
                { "bridge-pid", required_argument, NULL, 'p' },
                { "format", required_argument, NULL, 'f' },
                {}
        };
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 't': target = optarg; break;
                case 'n': b.wanted = (unsigned) atoi(optarg); break;
                case 'p': b.bridge = (pid_t) atoi(optarg); break;
                case 'f': format = optarg; break;
                default: return 2;
                }
        if (b.wanted == 0 || b.bridge <= 0) {
                fprintf(stderr, "usage: bench-pipewire --bridge-pid=PID [--target=NODE] [--frames=N] [--format=YUY2|I420|NV12]\n");
                return 2;
        }
        uint32_t spa_format = strcmp(format, "I420") == 0 ? SPA_VIDEO_FORMAT_I420
                            : strcmp(format, "NV12") == 0 ? SPA_VIDEO_FORMAT_NV12 : SPA_VIDEO_FORMAT_YUY2;
        b.frame_size = (size_t) b.width * b.height * (spa_format == SPA_VIDEO_FORMAT_YUY2 ? 2 : 1.5);
        b.latency_ms = calloc(b.wanted, sizeof *b.latency_ms);

        pw_init(&argc, &argv);
        b.loop = pw_main_loop_new(NULL);
        b.stream = pw_stream_new_simple(pw_main_loop_get_loop(b.loop), "bench-pipewire",
                pw_properties_new(PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture",
                                  PW_KEY_MEDIA_ROLE, "Camera", PW_KEY_TARGET_OBJECT, target, NULL),
                &events, &b);
        uint8_t pod[1024];
        struct spa_pod_builder builder = SPA_POD_BUILDER_INIT(pod, sizeof pod);
        const struct spa_pod *params[1];
        params[0] = spa_pod_builder_add_object(&builder, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
                SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
                SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
                SPA_FORMAT_VIDEO_format, SPA_POD_Id(spa_format),
                SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle(&SPA_RECTANGLE(b.width, b.height)));
        pw_stream_connect(b.stream, PW_DIRECTION_INPUT, PW_ID_ANY,
                          PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
        uint64_t t0 = now_nsec();
        pw_main_loop_run(b.loop);
        double wall = (double) (now_nsec() - t0) / 1e9;
        pw_stream_destroy(b.stream);
        pw_main_loop_destroy(b.loop);
        pw_deinit();

        if (b.got < b.wanted) {
                fprintf(stderr, "bench-pipewire: %u of %u frames\n", b.got, b.wanted);
                return EXIT_FAILURE;
        }
        double copy_ns = memcpy_nsec(b.frame_size);
        double cpu_ns = (b.cpu_end - b.cpu_start) * 1e9 / b.wanted;
        qsort(b.latency_ms, b.wanted, sizeof *b.latency_ms, cmp_double);
        printf("bench-pipewire: %u frames %s %ux%u (%.1f s)\n", b.wanted, format, b.width, b.height, wall);
        printf("  bridge CPU per frame: %.2f ms  (one memcpy of %zu bytes: %.2f ms; ratio %.1fx)\n",
               cpu_ns / 1e6, b.frame_size, copy_ns / 1e6, cpu_ns / copy_ns);
        printf("  latency preview socket -> consumer: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               b.latency_ms[b.wanted / 2], b.latency_ms[(size_t) (b.wanted * 0.99)], b.latency_ms[b.wanted - 1]);
        free(b.latency_ms);
        return EXIT_SUCCESS;
}
