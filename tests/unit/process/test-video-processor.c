/* SPDX-License-Identifier: MIT */
/* The VideoProcessSession flow on ffmpeg-made and camerad-made inputs, the order rules,
 * bad and damaged inputs, write failures and preemption. The records on disk, open files
 * and stale progress are in test-video-store.c. */
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "media/avi-reader.h"
#include "media/avi-writer.h"
#include "media/jpeg.h"
#include "test-video-util.h"

/* Full flow on one input; checks Prepare's stream info, ProcessDone, and the output with
 * ffprobe (codec, size, rate, every frame). */
static void test_flow(struct vt_env *env, const char *dir, const char *in, const char *id,
                      unsigned w, unsigned h, unsigned rate, unsigned frames) {
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_stream_info *streams;
        struct video_info info;
        char *out = vt_path(dir, "out.avi"), geometry[128], want[128];
        size_t n;
        int fd;

        check(video_processor_new(env->state_dir, 1000, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);

        fd = vt_open(in, O_RDONLY);
        check_r(video_processor_prepare(vp, id, fd, &streams, &n), 0);
        close(fd);
        check(n >= 1);
        check(streams[0].type == VIDEO_STREAM_VIDEO);
        check(streams[0].width == w && streams[0].height == h);
        check(streams[0].frames == frames);
        check(streams[0].fps > rate - 0.01 && streams[0].fps < rate + 0.01);
        check(streams[0].duration_us == (uint64_t) frames * 1000000u / rate);
        check(streq(streams[0].format, "MJPG"));
        free(streams);

        check(vt_setup(vp, id, in, out, "{\"denoise\":0.5,\"quality\":85}") == frames);
        check_r(video_processor_get_info(vp, id, &info), 0);
        check(info.state == VIDEO_STATE_PENDING && info.frames == frames && info.committed);

        double t0 = vt_now();
        check_r(video_processor_process(vp, id, 0), 0);
        check_r(video_processor_get_info(vp, id, &info), 0);
        /* Pending until a worker takes its first frame (test_queued_is_pending). */
        check(info.state == VIDEO_STATE_RUNNING || info.state == VIDEO_STATE_PENDING);
        check(vt_wait(env, vp, &ev, &ev.done, 0, 30));
        printf("%s: %u frames %ux%u in %.3f s (%.1f frames/s)\n", id, frames, w, h, vt_now() - t0,
               frames / (vt_now() - t0));
        check(ev.errors == 0);
        check(streq(ev.last_done_id, id));
        check(ev.last_done.frames == frames);
        check(ev.last_done.width == w && ev.last_done.height == h && ev.last_done.quality == 85);
        check(ev.last_done.size > 0);
        struct stat st;
        check(stat(out, &st) == 0 && (uint64_t) st.st_size == ev.last_done.size);

        check_r(video_processor_get_info(vp, id, &info), 0);
        check(info.state == VIDEO_STATE_DONE && info.frames_done == frames);
        /* Done: its input and output are closed. */
        check(!info.prepared && !info.committed);
        /* Done videos leave the pending list; a second ProcessVideo is refused. */
        char **pending;
        check_r(video_processor_pending(vp, &pending), 0);
        check(pending[0] == NULL);
        video_processor_strv_free(pending);
        check_r(video_processor_process(vp, id, 0), -EPERM);

        check(vt_ffprobe_frames(out) == (long) frames);
        vt_ffprobe_geometry(out, geometry, sizeof geometry);
        snprintf(want, sizeof want, "mjpeg,%u,%u,%u/1", w, h, rate);
        if (!streq(geometry, want)) {
                fprintf(stderr, "ffprobe says '%s', want '%s'\n", geometry, want);
                abort();
        }
        check_r(video_processor_remove(vp, id), 0);
        /* Dropping the kept writer leaves the finished file as it was. */
        check(vt_ffprobe_frames(out) == (long) frames);
        check(stat(out, &st) == 0 && (uint64_t) st.st_size == ev.last_done.size);
        video_processor_free(vp);
        unlink(out);
        free(out);
}

/* A recording as camerad's recorder makes it: YUYV frames → 4:2:2 JPEG → our AVI writer. */
static char *make_own_recording(const char *dir, unsigned w, unsigned h, unsigned frames) {
        struct jpeg_encoder *enc;
        struct jpeg_buffer buf = {};
        struct avi_writer *writer;
        struct avi_writer_params params = { .width = w, .height = h, .fps_num = 30000, .fps_den = 1001 };
        char *path = vt_path(dir, "own.avi");
        uint8_t *yuyv = malloc((size_t) w * h * 2);
        int fd = vt_open(path, O_RDWR | O_CREAT | O_TRUNC);

        check(yuyv);
        check(jpeg_encoder_new(&enc) >= 0);
        check(avi_writer_new(fd, &params, &writer) >= 0);
        for (unsigned f = 0; f < frames; f++) {
                for (unsigned y = 0; y < h; y++)
                        for (unsigned x = 0; x < w; x++) {
                                uint8_t *p = yuyv + ((size_t) y * w + x) * 2;
                                p[0] = (uint8_t) ((x + y + 4 * f) & 0xff);
                                p[1] = (uint8_t) (x & 1 ? 128 + (y & 63) : 128 - (x & 63));
                        }
                check(jpeg_encode_yuyv(enc, yuyv, w, h, w * 2, 90, &buf) >= 0);
                check(avi_writer_add_frame(writer, buf.data, buf.size) >= 0);
        }
        check(avi_writer_finish(writer) >= 0);
        avi_writer_free(writer);
        jpeg_encoder_free(enc);
        jpeg_buffer_done(&buf);
        free(yuyv);
        close(fd);
        return path;
}

static void expect_prepare_fails(struct video_processor *vp, int fd, int want, const char *needle) {
        struct video_stream_info *streams = NULL;
        size_t n = 0;
        int r = video_processor_prepare(vp, "bad", fd, &streams, &n);

        if (r != want || !strstr(video_processor_message(vp), needle)) {
                fprintf(stderr, "prepare: %d '%s', want %d with '%s'\n", r, video_processor_message(vp), want, needle);
                abort();
        }
        check(streams == NULL);
        printf("refused as expected: %s\n", video_processor_message(vp));
}

static void expect_bad_file(struct video_processor *vp, const char *path, const char *needle) {
        int fd = vt_open(path, O_RDONLY);
        expect_prepare_fails(vp, fd, -EINVAL, needle);
        close(fd);
}

static void test_bad_inputs(struct vt_env *env, const char *dir, const char *good) {
        struct vt_events ev = {};
        struct video_processor *vp;
        char *p;
        int fd, pipefd[2];

        check(video_processor_new(env->state_dir, 1001, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);

        /* Not files. */
        check(pipe2(pipefd, O_CLOEXEC) == 0);
        expect_prepare_fails(vp, pipefd[0], -EINVAL, "pipe");
        close(pipefd[0]);
        close(pipefd[1]);
        fd = vt_open(dir, O_RDONLY | O_DIRECTORY);
        expect_prepare_fails(vp, fd, -EINVAL, "directory");
        close(fd);
        fd = vt_open(good, O_WRONLY);
        expect_prepare_fails(vp, fd, -EINVAL, "write-only");
        close(fd);
        expect_prepare_fails(vp, -1, -EINVAL, "not a valid file descriptor");

        /* Not an AVI. */
        p = vt_path(dir, "text.avi");
        vt_sh("echo 'hello, this is not a video' > '%s'", p);
        expect_bad_file(vp, p, "not a readable Motion-JPEG AVI");
        free(p);

        /* Truncated inside the headers. */
        p = vt_path(dir, "truncated.avi");
        vt_sh("head -c 150 '%s' > '%s'", good, p);
        expect_bad_file(vp, p, "not a readable Motion-JPEG AVI");
        free(p);

        /* Garbage chunk size: the hdrl LIST claims 0xfffffff0 bytes. */
        p = vt_path(dir, "garbage.avi");
        vt_sh("cp '%s' '%s' && printf '\\360\\377\\377\\377' | dd of='%s' bs=1 seek=16 conv=notrunc status=none",
              good, p, p);
        expect_bad_file(vp, p, "not a readable Motion-JPEG AVI");
        free(p);

        /* Zero frames (our writer, finished without frames). */
        p = vt_path(dir, "empty.avi");
        {
                struct avi_writer *w;
                struct avi_writer_params params = { .width = 64, .height = 48, .fps_num = 25, .fps_den = 1 };
                fd = vt_open(p, O_RDWR | O_CREAT | O_TRUNC);
                check(avi_writer_new(fd, &params, &w) >= 0);
                check(avi_writer_finish(w) >= 0);
                avi_writer_free(w);
                close(fd);
        }
        expect_bad_file(vp, p, "frame");
        free(p);

        /* Not Motion-JPEG. */
        p = vt_path(dir, "mpeg4.avi");
        vt_sh("ffmpeg -v error -y -f lavfi -i testsrc=size=160x120:rate=25 -frames:v 5 -c:v mpeg4 '%s'", p);
        expect_bad_file(vp, p, "MJPG");
        free(p);

        /* Nothing was registered by any of these. */
        char **pending;
        check_r(video_processor_pending(vp, &pending), 0);
        check(pending[0] == NULL);
        video_processor_strv_free(pending);
        video_processor_free(vp);
}

/* Damage: a file cut in the middle of its frames, whose headers list more frames than it
 * holds, is refused as truncated (not passed off as a shorter video); a frame whose JPEG data
 * is garbage stops the run with "process", leaving a playable output of the frames before it. */
static void test_damaged(struct vt_env *env, const char *dir, const char *good) {
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_stream_info *streams;
        struct video_info info;
        struct stat st;
        char *cut = vt_path(dir, "cut.avi"), *bad = vt_path(dir, "badframe.avi"), *out = vt_path(dir, "damaged-out.avi");
        size_t n;
        int fd;

        check(video_processor_new(env->state_dir, 1005, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        check(stat(good, &st) == 0);
        long long cut_size = (long long) st.st_size * 6 / 10;
        vt_sh("head -c %lld '%s' > '%s'", cut_size, good, cut);
        {
                char want[160];
                char **pending;

                fd = vt_open(cut, O_RDONLY);
                streams = NULL;
                check_r(video_processor_prepare(vp, "cut", fd, &streams, &n), -EINVAL);
                close(fd);
                check(streams == NULL);
                printf("cut at 60%%: %s\n", video_processor_message(vp));
                check(strstr(video_processor_message(vp), "truncated: the header lists 40 frames, the file holds "));
                snprintf(want, sizeof want, "whole frames (ends at byte %lld)", cut_size);
                check(strstr(video_processor_message(vp), want));
                check_r(video_processor_get_info(vp, "cut", &info), -ENOENT);
                check_r(video_processor_pending(vp, &pending), 0);
                check(pending[0] == NULL);
                video_processor_strv_free(pending);
        }

        /* Frame 10's data overwritten: the header still says it is there. */
        {
                struct avi_reader *r;
                uint64_t offset;
                uint32_t size;
                fd = vt_open(good, O_RDONLY);
                check(avi_reader_open(fd, &r, NULL, 0) >= 0);
                check(avi_reader_frame_location(r, 10, &offset, &size) >= 0);
                avi_reader_free(r);
                close(fd);
                vt_sh("cp '%s' '%s' && head -c %u /dev/zero | dd of='%s' bs=1 seek=%llu conv=notrunc status=none",
                      good, bad, size, bad, (unsigned long long) offset);
        }
        check(vt_setup(vp, "badframe", bad, out, "{}") == 40);
        check_r(video_processor_process(vp, "badframe", 0), 0);
        check(vt_wait(env, vp, &ev, &ev.errors, 0, 30));
        printf("garbage frame: %s: %s\n", ev.last_error_code, ev.last_error_message);
        check(streq(ev.last_error_id, "badframe") && streq(ev.last_error_code, "process"));
        check(strstr(ev.last_error_message, "frame 10"));
        check_r(video_processor_get_info(vp, "badframe", &info), 0);
        check(info.state == VIDEO_STATE_ERROR && info.frames_done == 10 && info.error);
        check(vt_ffprobe_frames(out) == 10);
        video_processor_free(vp);
        free(cut);
        free(bad);
        free(out);
}

/* A requested job (an image the user asked for) preempts a running frame job; the frame is
 * queued again and the video still gets every frame, in order. */
static int busy_run(struct pool_job *job, void *userdata) {
        for (int i = 0; i < 5; i++) {
                if (pool_job_check_cancel(job))
                        return -ECANCELED;
                usleep(1000);
        }
        return 0;
}

static void busy_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason) {
        __atomic_add_fetch((unsigned *) userdata, 1, __ATOMIC_SEQ_CST);
}

static const struct pool_job_ops busy_ops = { .run = busy_run, .done = busy_done };

static void test_preemption(const char *dir, const char *in) {
        struct vt_env env;
        struct vt_events ev = {};
        struct video_processor *vp;
        char *out = vt_path(dir, "preempted.avi");
        unsigned busy_done_count = 0, submitted = 0;

        vt_env_init(&env, EXEC_MODE_BALANCED); /* one worker on 2 CPUs */
        check(pool_concurrency(env.pool, EXEC_MODE_BALANCED) >= 1);
        check(video_processor_new(env.state_dir, 1006, env.pool, env.mailbox, &vt_callbacks, &ev, &vp) >= 0);
        uint32_t frames = vt_setup(vp, "pre", in, out, "{}");
        check_r(video_processor_process(vp, "pre", 0), 0);
        while (ev.done == 0 && ev.errors == 0) {
                /* One at a time, each once the worker is back on frames, so that it lands
                 * on a running frame job. */
                if (submitted < 10 && __atomic_load_n(&busy_done_count, __ATOMIC_SEQ_CST) == submitted) {
                        check(pool_submit(env.pool, &busy_ops, &busy_done_count, POOL_PRIORITY_REQUESTED, 0, 0, NULL) >= 0);
                        submitted++;
                }
                check(vt_wait(&env, vp, &ev, &ev.progress, ev.progress, 0.004) || true);
        }
        check(ev.errors == 0);
        check(ev.last_done.frames == frames);
        check(pool_wait_idle(env.pool, 10000000) >= 0);
        check(busy_done_count == submitted);
        printf("preemption: %u requested jobs ran in between, %u frame jobs preempted, %u frames out\n",
               submitted, ev.last_done.preemptions, ev.last_done.frames);
        check(ev.last_done.preemptions > 0);
        check(vt_ffprobe_frames(out) == (long) frames);
        video_processor_free(vp);
        vt_env_done(&env);
        free(out);
}

/* The output cannot grow (a file size limit stands in for a full disk): the run stops with
 * "abnormal", the video is in state error with a message, nothing hangs or crashes, and a
 * later run with room finishes it. */
static void test_write_failure(struct vt_env *env, const char *dir, const char *in) {
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_info info;
        struct rlimit old, small;
        char *out = vt_path(dir, "full.avi");

        check(video_processor_new(env->state_dir, 1007, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        check(vt_setup(vp, "full", in, out, "{}") == 40);
        check(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
        check(getrlimit(RLIMIT_FSIZE, &old) == 0);
        small = (struct rlimit) { 64 * 1024, old.rlim_max }; /* soft limit only: it can go back */
        check(setrlimit(RLIMIT_FSIZE, &small) == 0);
        check_r(video_processor_process(vp, "full", 0), 0);
        check(vt_wait(env, vp, &ev, &ev.errors, 0, 30));
        check(setrlimit(RLIMIT_FSIZE, &old) == 0);
        printf("output limit: %s: %s\n", ev.last_error_code, ev.last_error_message);
        check(ev.done == 0 && streq(ev.last_error_code, "abnormal"));
        check(strstr(ev.last_error_message, "cannot write output frame"));
        check_r(video_processor_get_info(vp, "full", &info), 0);
        check(info.state == VIDEO_STATE_ERROR && info.error && info.frames_done < 40);
        /* With room again, a run from the start completes. */
        check_r(video_processor_process(vp, "full", 0), 0);
        check(vt_wait(env, vp, &ev, &ev.done, 0, 30));
        check(ev.last_done.frames == 40 && vt_ffprobe_frames(out) == 40);
        video_processor_free(vp);
        free(out);
}

static void test_order(struct vt_env *env, const char *dir, const char *in) {
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_stream_info *streams;
        struct video_info info;
        char *out = vt_path(dir, "order-out.avi");
        size_t n;
        int in_fd, out_fd, ro_fd;

        check(video_processor_new(env->state_dir, 1002, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        in_fd = vt_open(in, O_RDONLY);
        out_fd = vt_open(out, O_RDWR | O_CREAT | O_TRUNC);
        ro_fd = vt_open(in, O_RDONLY);
        struct video_stream_output o = { .stream_id = 0, .fd = out_fd };
        const char *json = "{\"denoise\":0.3}";
        int zero = 0;

        /* Nothing prepared yet. */
        check_r(video_processor_create_streams(vp, &o, 1), -EPERM);
        check_r(video_processor_commit_streams(vp, json, strlen(json)), -EPERM);
        check_r(video_processor_release_streams(vp, &zero, 1), -EPERM);
        check_r(video_processor_process(vp, "nope", 0), -ENOENT);
        check(strstr(video_processor_message(vp), "invalid id"));
        check_r(video_processor_process(vp, "../etc", 0), -ENOENT);
        check_r(video_processor_get_info(vp, "nope", &info), -ENOENT);
        check_r(video_processor_remove(vp, "nope"), -ENOENT);
        check_r(video_processor_prepare(vp, "a/b", in_fd, &streams, &n), -ENOENT);
        check_r(video_processor_prepare(vp, "", in_fd, &streams, &n), -ENOENT);

        check_r(video_processor_prepare(vp, "v1", in_fd, &streams, &n), 0);
        free(streams);
        /* Prepared but no streams. */
        check_r(video_processor_commit_streams(vp, json, strlen(json)), -EPERM);
        check_r(video_processor_release_streams(vp, &zero, 1), -EPERM);
        check_r(video_processor_process(vp, "v1", 0), -EPERM);
        check(strstr(video_processor_message(vp), "CommitStreams"));

        /* Bad streams. */
        struct video_stream_output bad = { .stream_id = 7, .fd = out_fd };
        check_r(video_processor_create_streams(vp, &bad, 1), -EINVAL);
        check(strstr(video_processor_message(vp), "stream 7"));
        bad = (struct video_stream_output) { .stream_id = 0, .fd = ro_fd };
        check_r(video_processor_create_streams(vp, &bad, 1), -EINVAL);
        check(strstr(video_processor_message(vp), "read-only"));
        bad = (struct video_stream_output) { .stream_id = 0, .fd = out_fd, .quality = 101 };
        check_r(video_processor_create_streams(vp, &bad, 1), -EINVAL);
        check(strstr(video_processor_message(vp), "quality"));
        struct video_stream_output two[2] = { o, o };
        check_r(video_processor_create_streams(vp, two, 2), -EINVAL);

        check_r(video_processor_create_streams(vp, &o, 1), 0);
        check_r(video_processor_create_streams(vp, &o, 1), -EINVAL); /* a second output */
        /* Streams but not committed. */
        check_r(video_processor_process(vp, "v1", 0), -EPERM);
        /* Bad settings name the key. */
        check_r(video_processor_commit_streams(vp, "{\"denoyse\":1}", 13), -EINVAL);
        check(strstr(video_processor_message(vp), "denoyse"));
        check_r(video_processor_commit_streams(vp, "{\"quality\":0}", 13), -EINVAL);
        check(strstr(video_processor_message(vp), "quality"));
        check_r(video_processor_commit_streams(vp, "not json", 8), -EINVAL);

        /* Release goes back to "prepared"; then the whole way through. */
        check_r(video_processor_release_streams(vp, (int[]) { 3 }, 1), -EINVAL);
        check_r(video_processor_release_streams(vp, &zero, 1), 0);
        check_r(video_processor_commit_streams(vp, json, strlen(json)), -EPERM);
        check_r(video_processor_create_streams(vp, &o, 1), 0);
        check_r(video_processor_commit_streams(vp, json, strlen(json)), 0);
        check_r(video_processor_process(vp, "v1", 100000000000ull), -EINVAL);
        check(strstr(video_processor_message(vp), "past the last frame"));
        check_r(video_processor_process(vp, "v1", 0), 0);
        /* While running: no second run, no stream changes, no re-prepare. */
        check_r(video_processor_process(vp, "v1", 0), -EPERM);
        check_r(video_processor_release_streams(vp, &zero, 1), -EPERM);
        check_r(video_processor_commit_streams(vp, json, strlen(json)), -EPERM);
        check_r(video_processor_prepare(vp, "v1", in_fd, &streams, &n), -EPERM);
        check(vt_wait(env, vp, &ev, &ev.done, 0, 30));

        /* Reset forgets the prepared streams but not the id. */
        check_r(video_processor_prepare(vp, "v2", in_fd, &streams, &n), 0);
        free(streams);
        check_r(video_processor_create_streams(vp, &o, 1), 0);
        check_r(video_processor_commit_streams(vp, json, strlen(json)), 0);
        check_r(video_processor_reset(vp), 0);
        check_r(video_processor_process(vp, "v2", 0), -EPERM);
        check_r(video_processor_create_streams(vp, &o, 1), -EPERM);
        check_r(video_processor_get_info(vp, "v2", &info), 0);
        check(info.state == VIDEO_STATE_PENDING && !info.prepared && !info.committed);
        char **pending;
        check_r(video_processor_pending(vp, &pending), 0);
        check(pending[0] && streq(pending[0], "v2") && !pending[1]);
        video_processor_strv_free(pending);

        close(in_fd);
        close(out_fd);
        close(ro_fd);
        video_processor_free(vp);
        free(out);
}

static void test_empty_recording(struct vt_env *env, const char *dir) {
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_stream_info *streams = NULL;
        struct video_info info;
        char **pending, *p = vt_path(dir, "empty-rec.avi");
        size_t n;
        int fd;

        check(video_processor_new(env->state_dir, 1009, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        /* StartRecording registers it with 0 frames (still recording)... */
        check_r(video_processor_add_recorded(vp, "rec.empty", &(struct video_recorded) { 320, 240, 30, 0 }), 0);
        check_r(video_processor_get_info(vp, "rec.empty", &info), 0);
        check(info.state == VIDEO_STATE_PENDING);
        check(ev.pending_changed == 1);
        /* ... StopRecording with 0 frames forgets it. */
        check_r(video_processor_add_recorded(vp, "rec.empty", &(struct video_recorded) { 320, 240, 30, 0 }), 0);
        check_r(video_processor_get_info(vp, "rec.empty", &info), -ENOENT);
        check(ev.pending_changed == 2);
        check_r(video_processor_pending(vp, &pending), 0);
        check(pending[0] == NULL);
        video_processor_strv_free(pending);
        video_processor_free(vp);
        /* Its record is gone too. */
        check(video_processor_new(env->state_dir, 1009, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        check_r(video_processor_get_info(vp, "rec.empty", &info), -ENOENT);

        /* The daemon died while recording: the record says 0 frames (unknown); Prepare
         * finds the file empty and removes it. */
        check_r(video_processor_add_recorded(vp, "rec.died", &(struct video_recorded) { 64, 48, 25, 0 }), 0);
        {
                struct avi_writer *w;
                struct avi_writer_params params = { .width = 64, .height = 48, .fps_num = 25, .fps_den = 1 };
                fd = vt_open(p, O_RDWR | O_CREAT | O_TRUNC);
                check(avi_writer_new(fd, &params, &w) >= 0);
                avi_writer_free(w); /* never finished, like a killed recorder */
                close(fd);
        }
        fd = vt_open(p, O_RDONLY);
        check_r(video_processor_prepare(vp, "rec.died", fd, &streams, &n), -EINVAL);
        close(fd);
        printf("empty recording: %s\n", video_processor_message(vp));
        check(strstr(video_processor_message(vp), "empty recording"));
        check(streams == NULL);
        check_r(video_processor_get_info(vp, "rec.died", &info), -ENOENT);
        /* A prepared (not recorded) id with an empty file is refused but not touched. */
        fd = vt_open(p, O_RDONLY);
        check_r(video_processor_prepare(vp, "plain", fd, &streams, &n), -EINVAL);
        close(fd);
        check(strstr(video_processor_message(vp), "no frames"));
        video_processor_free(vp);
        free(p);
}

struct blocker {
        atomic_bool running, release;
};

static int blocker_run(struct pool_job *job, void *userdata) {
        struct blocker *b = userdata;

        atomic_store(&b->running, true);
        while (!atomic_load(&b->release))
                usleep(1000);
        return 0;
}

static void blocker_done(struct pool_job *job, void *userdata, int result, enum pool_cancel reason) {
}

static const struct pool_job_ops blocker_ops = { .run = blocker_run, .done = blocker_done };

/* GetVideoInfo says "pending" while the started video only waits behind an image job on
 * the pool, "running" once a frame job has begun. */
static void test_queued_is_pending(const char *dir, const char *in) {
        struct vt_env env;
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_info info;
        struct blocker b = {};
        char *out = vt_path(dir, "queued.avi");

        vt_env_init(&env, EXEC_MODE_BALANCED); /* one worker on 2 CPUs */
        check(pool_concurrency(env.pool, EXEC_MODE_BALANCED) == 1);
        check(video_processor_new(env.state_dir, 1010, env.pool, env.mailbox, &vt_callbacks, &ev, &vp) >= 0);
        check(vt_setup(vp, "queued", in, out, "{}") == 40);
        check(pool_submit(env.pool, &blocker_ops, &b, POOL_PRIORITY_REQUESTED, 0, 0, NULL) >= 0);
        while (!atomic_load(&b.running))
                usleep(1000);
        check_r(video_processor_process(vp, "queued", 0), 0);
        usleep(50000);
        check_r(video_processor_get_info(vp, "queued", &info), 0);
        check(info.state == VIDEO_STATE_PENDING && info.frames_done == 0);
        check(video_processor_running_count(vp) == 1);
        check_r(video_processor_process(vp, "queued", 0), -EPERM); /* started all the same */
        atomic_store(&b.release, true);
        check(vt_wait(&env, vp, &ev, &ev.progress, 0, 30));
        check_r(video_processor_get_info(vp, "queued", &info), 0);
        check(info.state == VIDEO_STATE_RUNNING || info.state == VIDEO_STATE_DONE);
        check(vt_wait(&env, vp, &ev, &ev.done, 0, 30));
        check(ev.last_done.frames == 40);
        video_processor_free(vp);
        check(pool_wait_idle(env.pool, 10000000) >= 0);
        vt_env_done(&env);
        free(out);
}

int main(void) {
        struct vt_env env;
        char *dir, *small, *vga, *hd, *own;

        if (!vt_start())
                return 77;
        dir = vt_tmpdir();
        small = vt_make_testsrc(dir, "small.avi", "testsrc", 320, 240, 25, 40);
        vga = vt_make_testsrc(dir, "vga.avi", "testsrc", 640, 480, 30, 30);
        hd = vt_make_testsrc(dir, "hd.avi", "testsrc2", 1280, 720, 24, 24);
        own = make_own_recording(dir, 320, 240, 20);

        vt_env_init(&env, EXEC_MODE_HIGH_PERFORMANCE);
        test_flow(&env, dir, small, "small", 320, 240, 25, 40);
        test_flow(&env, dir, vga, "vga", 640, 480, 30, 30);
        test_flow(&env, dir, hd, "hd", 1280, 720, 24, 24);
        test_bad_inputs(&env, dir, small);
        test_damaged(&env, dir, small);
        test_write_failure(&env, dir, small);
        test_order(&env, dir, small);
        test_empty_recording(&env, dir);
        vt_env_done(&env);

        test_preemption(dir, hd);
        test_queued_is_pending(dir, small);

        /* Our own recording: 4:2:2 frames at 30000/1001. */
        vt_env_init(&env, EXEC_MODE_LOW_POWER);
        {
                struct vt_events ev = {};
                struct video_processor *vp;
                char *out = vt_path(dir, "own-out.avi"), geometry[128];

                check(video_processor_new(env.state_dir, 1004, env.pool, env.mailbox, &vt_callbacks, &ev, &vp) >= 0);
                check(vt_setup(vp, "own", own, out, "{\"sharpen\":0.5}") == 20);
                check_r(video_processor_process(vp, "own", 0), 0);
                check(vt_wait(&env, vp, &ev, &ev.done, 0, 30));
                check(ev.last_done.frames == 20);
                check(vt_ffprobe_frames(out) == 20);
                vt_ffprobe_geometry(out, geometry, sizeof geometry);
                check(streq(geometry, "mjpeg,320,240,30000/1001"));
                video_processor_free(vp);
                free(out);
        }
        vt_env_done(&env);

        vt_rm_rf(dir);
        free(dir);
        free(small);
        free(vga);
        free(hd);
        free(own);
        printf("video-processor: all checks passed\n");
        return 0;
}
