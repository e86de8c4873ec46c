/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the test-video-*.c programs: checks, temp dirs, ffmpeg/ffprobe, and a video
 * processor driven by a mailbox the test dispatches itself (standing in for the loop). */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "process/pool.h"
#include "process/process-config.h"
#include "process/video-processor.h"
#include "shared/log.h"
#include "shared/mailbox.h"

#include "../check.h"

/* The video tests' name for test_now(). */
static inline double vt_now(void) {
        return test_now();
}

static inline char *vt_tmpdir(void) {
        const char *tmp = getenv("TMPDIR");
        char *path;

        if (asprintf(&path, "%s/camerad-video-XXXXXX", tmp ? tmp : "/tmp") < 0 || !mkdtemp(path))
                abort();
        return path;
}

static inline void vt_rm_rf(const char *path) {
        char *cmd;
        if (asprintf(&cmd, "rm -rf -- '%s'", path) < 0)
                abort();
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", path);
        free(cmd);
}

static inline char *vt_path(const char *dir, const char *name) {
        char *p;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

static inline bool vt_have(const char *tool) {
        char *cmd;
        int r;
        if (asprintf(&cmd, "command -v %s >/dev/null 2>&1", tool) < 0)
                abort();
        r = system(cmd);
        free(cmd);
        return r == 0;
}

/* The start of a main() that processes: unbuffered output and warnings only; false (and
 * the caller returns 77, skipped) without ffmpeg and ffprobe. */
static inline bool vt_start(void) {
        setvbuf(stdout, NULL, _IONBF, 0);
        if (!vt_have("ffmpeg") || !vt_have("ffprobe")) {
                printf("ffmpeg/ffprobe missing, skipping\n");
                return false;
        }
        log_set_max_level(LOG_LEVEL_WARNING);
        return true;
}

/* Runs a shell command; aborts if it fails. */
static inline void vt_sh(const char *format, ...) __attribute__((format(printf, 1, 2)));
static inline void vt_sh(const char *format, ...) {
        va_list ap;
        char *cmd;

        va_start(ap, format);
        if (vasprintf(&cmd, format, ap) < 0)
                abort();
        va_end(ap);
        if (system(cmd) != 0) {
                fprintf(stderr, "command failed: %s\n", cmd);
                abort();
        }
        free(cmd);
}

/* ffmpeg's testsrc as Motion-JPEG AVI. */
static inline char *vt_make_testsrc(const char *dir, const char *name, const char *source,
                                    unsigned w, unsigned h, unsigned rate, unsigned frames) {
        char *p = vt_path(dir, name);
        vt_sh("ffmpeg -v error -y -f lavfi -i %s=size=%ux%u:rate=%u -frames:v %u -c:v mjpeg -q:v 3 '%s'",
              source, w, h, rate, frames, p);
        return p;
}

/* ffprobe's decoded frame count of the first video stream, -1 on failure. */
static inline long vt_ffprobe_frames(const char *path) {
        char *cmd;
        FILE *f;
        long n = -1;

        if (asprintf(&cmd, "ffprobe -v error -count_frames -select_streams v:0 "
                           "-show_entries stream=nb_read_frames -of csv=p=0 '%s'", path) < 0)
                abort();
        f = popen(cmd, "r");
        free(cmd);
        if (!f)
                return -1;
        if (fscanf(f, "%ld", &n) != 1)
                n = -1;
        pclose(f);
        return n;
}

/* ffprobe's "WxH fps" of the first video stream into buf. */
static inline void vt_ffprobe_geometry(const char *path, char *buf, size_t size) {
        char *cmd;
        FILE *f;

        if (asprintf(&cmd, "ffprobe -v error -select_streams v:0 -show_entries "
                           "stream=codec_name,width,height,r_frame_rate -of csv=p=0 '%s'", path) < 0)
                abort();
        f = popen(cmd, "r");
        free(cmd);
        buf[0] = 0;
        if (f) {
                if (!fgets(buf, (int) size, f))
                        buf[0] = 0;
                buf[strcspn(buf, "\n")] = 0;
                pclose(f);
        }
}

/* Events the callbacks saw. */
struct vt_events {
        unsigned done, errors, progress, status, pending_changed;
        char last_done_id[80], last_error_id[80], last_error_code[32], last_error_message[256];
        char last_status[40];
        struct video_done_info last_done;
        uint64_t last_progress_ts;
        bool interrupt_on_progress; /* ask the test loop to interrupt at the next progress */
        bool want_interrupt;
        double interrupt_ms; /* how long the last interrupt() call took */
};

static inline void vt_on_done(struct video_processor *vp, const char *id,
                              const struct video_done_info *info, void *userdata) {
        struct vt_events *ev = userdata;
        ev->done++;
        snprintf(ev->last_done_id, sizeof ev->last_done_id, "%s", id);
        ev->last_done = *info;
}

static inline void vt_on_error(struct video_processor *vp, const char *id, enum video_error code,
                               const char *message, void *userdata) {
        struct vt_events *ev = userdata;
        ev->errors++;
        snprintf(ev->last_error_id, sizeof ev->last_error_id, "%s", id);
        snprintf(ev->last_error_code, sizeof ev->last_error_code, "%s", video_error_to_string(code));
        snprintf(ev->last_error_message, sizeof ev->last_error_message, "%s", message);
}

static inline void vt_on_status(struct video_processor *vp, enum video_status status, void *userdata) {
        struct vt_events *ev = userdata;
        ev->status++;
        snprintf(ev->last_status, sizeof ev->last_status, "%s", video_status_to_string(status));
}

static inline void vt_on_progress(struct video_processor *vp, const char *id, uint64_t ts, void *userdata) {
        struct vt_events *ev = userdata;
        ev->progress++;
        ev->last_progress_ts = ts;
        if (ev->interrupt_on_progress)
                ev->want_interrupt = true;
}

static inline void vt_on_pending(struct video_processor *vp, void *userdata) {
        struct vt_events *ev = userdata;
        ev->pending_changed++;
}

static const struct video_processor_callbacks vt_callbacks = {
        .done = vt_on_done,
        .error = vt_on_error,
        .status = vt_on_status,
        .progress = vt_on_progress,
        .pending_changed = vt_on_pending,
};

/* A pool in the given mode, a mailbox and nothing else. */
struct vt_env {
        struct worker_pool *pool;
        struct mailbox *mailbox;
        char *state_dir;
};

static inline void vt_env_init(struct vt_env *env, enum exec_mode mode) {
        struct process_config config;

        process_config_init(&config);
        config.default_mode = mode;
        check(pool_new(&config, &env->pool) >= 0);
        check(mailbox_new(&env->mailbox) >= 0);
        env->state_dir = vt_tmpdir();
}

static inline void vt_env_done(struct vt_env *env) {
        mailbox_dispatch(env->mailbox);
        pool_unref(env->pool);
        mailbox_free(env->mailbox);
        vt_rm_rf(env->state_dir);
        free(env->state_dir);
}

/* Dispatches letters until *counter exceeds `before` or timeout; true when it did. Also
 * performs a requested interrupt (outside the callback, as the bus layer would). */
static inline bool vt_wait(struct vt_env *env, struct video_processor *vp, struct vt_events *ev,
                           const unsigned *counter, unsigned before, double timeout_s) {
        /* Valgrind and sanitizer runs are many times slower: let them scale the limits. */
        const char *scale = getenv("CAMERAD_TEST_TIMEOUT_SCALE");
        double end = vt_now() + timeout_s * (scale && atof(scale) > 0 ? atof(scale) : 1.0);

        while (*counter <= before) {
                struct pollfd p = { .fd = mailbox_fd(env->mailbox), .events = POLLIN };
                double left = end - vt_now();

                if (left <= 0)
                        return false;
                (void) poll(&p, 1, (int) (left * 1000) + 1);
                mailbox_dispatch(env->mailbox);
                if (ev->want_interrupt) {
                        ev->want_interrupt = false;
                        ev->interrupt_on_progress = false;
                        double t0 = vt_now();
                        check(video_processor_interrupt(vp) == 0);
                        ev->interrupt_ms = (vt_now() - t0) * 1e3;
                }
        }
        return true;
}

static inline int vt_open(const char *path, int flags) {
        int fd = open(path, flags | O_CLOEXEC, 0600);
        if (fd < 0) {
                fprintf(stderr, "cannot open %s: %m\n", path);
                abort();
        }
        return fd;
}

/* Prepare + CreateStreams + CommitStreams for id: input at in_path, output at out_path
 * (created read-write). Returns the frame count of the video stream. */
static inline uint32_t vt_setup(struct video_processor *vp, const char *id, const char *in_path,
                                const char *out_path, const char *settings) {
        struct video_stream_info *streams = NULL;
        size_t n = 0;
        uint32_t frames = 0;
        int video = -1;
        int in = vt_open(in_path, O_RDONLY), out = vt_open(out_path, O_RDWR | O_CREAT);
        int r = video_processor_prepare(vp, id, in, &streams, &n);

        if (r < 0) {
                fprintf(stderr, "prepare %s: %s\n", in_path, video_processor_message(vp));
                abort();
        }
        for (size_t i = 0; i < n; i++)
                if (streams[i].type == VIDEO_STREAM_VIDEO && video < 0) {
                        frames = streams[i].frames;
                        video = streams[i].id;
                }
        check(video >= 0);
        struct video_stream_output o = { .stream_id = video, .fd = out };
        r = video_processor_create_streams(vp, &o, 1);
        if (r < 0) {
                fprintf(stderr, "create_streams: %s\n", video_processor_message(vp));
                abort();
        }
        r = video_processor_commit_streams(vp, settings, strlen(settings));
        if (r < 0) {
                fprintf(stderr, "commit_streams: %s\n", video_processor_message(vp));
                abort();
        }
        free(streams);
        close(in);
        close(out);
        return frames;
}
