/* SPDX-License-Identifier: MIT */
/* Interrupt and resume: the output stays playable at the stop, and after the resume it
 * holds every input frame exactly once, in order — also across a re-created processor and
 * across kill -9 of the process that was running it. */
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>

#include "media/avi-reader.h"
#include "process/video-record.h"
#include "shared/log.h"
#include "test-video-util.h"

#define FRAMES 120
#define RATE 24
#define UID 2000

/* With denoise 0 every output frame is encode(decode(input frame)), so two outputs hold the
 * same frames exactly when their JPEG bytes are equal, frame by frame. */
static void check_same_frames(const char *a_path, const char *b_path) {
        struct avi_reader *a, *b;
        int fa = vt_open(a_path, O_RDONLY), fb = vt_open(b_path, O_RDONLY);
        static uint8_t ba[4 << 20], bb[4 << 20];

        check(avi_reader_open(fa, &a, NULL, 0) >= 0);
        check(avi_reader_open(fb, &b, NULL, 0) >= 0);
        check(avi_reader_frame_count(a) == avi_reader_frame_count(b));
        for (uint64_t i = 0; i < avi_reader_frame_count(a); i++) {
                int na = avi_reader_read_frame(a, i, ba, sizeof ba);
                int nb = avi_reader_read_frame(b, i, bb, sizeof bb);
                check(na > 0 && nb > 0);
                if (na != nb || memcmp(ba, bb, (size_t) na) != 0) {
                        fprintf(stderr, "frame %" PRIu64 " differs between %s and %s\n", i, a_path, b_path);
                        abort();
                }
        }
        avi_reader_free(a);
        avi_reader_free(b);
        close(fa);
        close(fb);
}

static struct video_processor *new_vp(struct vt_env *env, struct vt_events *ev) {
        struct video_processor *vp;
        check(video_processor_new(env->state_dir, UID, env->pool, env->mailbox, &vt_callbacks, ev, &vp) >= 0);
        return vp;
}

/* Starts id and interrupts it at its first Progress; returns the resume point. */
static struct video_info run_until_interrupted(struct vt_env *env, struct video_processor *vp,
                                               struct vt_events *ev, const char *id, const char *out) {
        struct video_info info;
        unsigned errors = ev->errors, done = ev->done;

        check_r(video_processor_process(vp, id, 0), 0);
        ev->interrupt_on_progress = true;
        check(vt_wait(env, vp, ev, &ev->errors, errors, 30));
        check(ev->done == done);
        check(streq(ev->last_error_code, "abort") && streq(ev->last_error_id, id));
        check_r(video_processor_get_info(vp, id, &info), 0);
        printf("%s: interrupted after %u of %u frames in %.1f ms, resume at %" PRIu64 " µs (%s)\n", id,
               info.frames_done, info.frames, ev->interrupt_ms, info.resume_timestamp, ev->last_error_message);
        check(info.state == VIDEO_STATE_PENDING);
        check(info.frames_done > 0 && info.frames_done < FRAMES);
        check(info.resume_timestamp == (uint64_t) info.frames_done * 1000000u / RATE);
        /* The output is finished and playable at the stop. */
        check(vt_ffprobe_frames(out) == (long) info.frames_done);
        return info;
}

static void finish(struct vt_env *env, struct video_processor *vp, struct vt_events *ev,
                   const char *id, uint64_t ts, const char *out) {
        unsigned done = ev->done;

        check_r(video_processor_process(vp, id, ts), 0);
        check(vt_wait(env, vp, ev, &ev->done, done, 60));
        check(ev->last_done.frames == FRAMES);
        check(vt_ffprobe_frames(out) == FRAMES);
}

/* Child of the kill -9 test: processes with its own pool until killed. */
static int child_main(const char *state_dir, const char *id, const char *in, const char *out) {
        struct vt_env env;
        struct vt_events ev = {};
        struct video_processor *vp;

        vt_env_init(&env, EXEC_MODE_BALANCED);
        rmdir(env.state_dir); /* use the parent's state directory instead */
        free(env.state_dir);
        env.state_dir = strdup(state_dir);
        vp = new_vp(&env, &ev);
        vt_setup(vp, id, in, out, "{\"denoise\":0}");
        check_r(video_processor_process(vp, id, 0), 0);
        vt_wait(&env, vp, &ev, &ev.done, 0, 60);
        return 3; /* finishing before the kill is a test failure */
}

static bool read_record(const char *state_dir, const char *id, struct video_record *rec) {
        char *path, buf[4096];
        FILE *f;
        size_t n;

        if (asprintf(&path, "%s/videos/%d/%s.json", state_dir, UID, id) < 0)
                abort();
        f = fopen(path, "re");
        free(path);
        if (!f)
                return false;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        return video_record_parse(buf, n, rec, NULL, 0) >= 0;
}

/* Done, or every frame written already (killed between the last frame and "done"). */
static bool record_says_finished(const char *state_dir, const char *id) {
        struct video_record rec;
        return read_record(state_dir, id, &rec) &&
               (rec.state == VIDEO_STATE_DONE || (rec.frames > 0 && rec.next_frame >= rec.frames));
}

static bool record_has_progress(const char *state_dir, const char *id) {
        struct video_record rec;
        return read_record(state_dir, id, &rec) && rec.next_frame > 0;
}

int main(int argc, char **argv) {
        struct vt_env env;
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_info info;
        char *dir, *in, *straight, *out, *out2, *out3, *outd;

        setvbuf(stdout, NULL, _IONBF, 0);

        if (argc == 6 && streq(argv[1], "child"))
                return child_main(argv[2], argv[3], argv[4], argv[5]);
        if (!vt_have("ffmpeg") || !vt_have("ffprobe")) {
                printf("ffmpeg/ffprobe missing, skipping\n");
                return 77;
        }
        log_set_max_level(LOG_LEVEL_WARNING);
        dir = vt_tmpdir();
        in = vt_make_testsrc(dir, "in.avi", "testsrc2", 1280, 720, RATE, FRAMES);
        straight = vt_path(dir, "straight.avi");
        out = vt_path(dir, "out.avi");
        out2 = vt_path(dir, "out2.avi");
        out3 = vt_path(dir, "out3.avi");
        outd = vt_path(dir, "outd.avi");

        /* One worker (balanced on 2 CPUs; low-power would run at SCHED_IDLE and crawl on a busy
         * machine), so a run lasts long enough to be interrupted half-way. */
        vt_env_init(&env, EXEC_MODE_BALANCED);
        vp = new_vp(&env, &ev);

        /* The reference: one straight run. */
        vt_setup(vp, "straight", in, straight, "{\"denoise\":0}");
        finish(&env, vp, &ev, "straight", 0, straight);

        /* Interrupt, then resume from resume_timestamp in the same processor. */
        vt_setup(vp, "a", in, out, "{\"denoise\":0}");
        info = run_until_interrupted(&env, vp, &ev, "a", out);
        /* Skipping frames past the output's end is refused; the output stays as it was. */
        check_r(video_processor_process(vp, "a", (uint64_t) (info.frames_done + 5) * 1000000u / RATE + 1), -EINVAL);
        check(strstr(video_processor_message(vp), "cannot resume"));
        check(vt_ffprobe_frames(out) == (long) info.frames_done);
        finish(&env, vp, &ev, "a", info.resume_timestamp, out);
        check_same_frames(straight, out);

        /* Interrupt twice with denoise on: the count still matches. */
        vt_setup(vp, "d", in, outd, "{\"denoise\":0.7}");
        info = run_until_interrupted(&env, vp, &ev, "d", outd);
        ev.interrupt_on_progress = true;
        {
                unsigned errors = ev.errors, done = ev.done;
                check_r(video_processor_process(vp, "d", info.resume_timestamp), 0);
                /* Either a second interrupt or the end, depending on how far it got. */
                while (ev.errors == errors && ev.done == done)
                        check(vt_wait(&env, vp, &ev, &ev.progress, ev.progress, 30) || ev.done > done || ev.errors > errors);
                if (ev.done == done) {
                        check_r(video_processor_get_info(vp, "d", &info), 0);
                        check(vt_ffprobe_frames(outd) == (long) info.frames_done);
                        finish(&env, vp, &ev, "d", info.resume_timestamp, outd);
                }
        }
        check(vt_ffprobe_frames(outd) == FRAMES);

        /* Interrupt, drop the processor (a daemon restart), prepare again and resume. */
        vt_setup(vp, "b", in, out2, "{\"denoise\":0}");
        info = run_until_interrupted(&env, vp, &ev, "b", out2);
        video_processor_free(vp);
        vp = new_vp(&env, &ev);
        check_r(video_processor_process(vp, "b", info.resume_timestamp), -EPERM);
        vt_setup(vp, "b", in, out2, "{\"denoise\":0}");
        {
                struct video_info again;
                check_r(video_processor_get_info(vp, "b", &again), 0);
                check(again.resume_timestamp == info.resume_timestamp && again.frames_done == info.frames_done);
        }
        finish(&env, vp, &ev, "b", info.resume_timestamp, out2);
        check_same_frames(straight, out2);
        video_processor_free(vp);

        /* kill -9 of a process in the middle of a video loses nothing. */
        {
                char id[32];
                bool killed_mid_way = false;

                /* The child runs at full speed even when this test runs under valgrind, so it
                 * may finish before the kill lands; then try again with a new id. */
                for (int attempt = 0; attempt < 8 && !killed_mid_way; attempt++) {
                        pid_t pid;
                        int status;
                        double end;

                        snprintf(id, sizeof id, "killed-%d", attempt);
                        pid = fork();
                        check(pid >= 0);
                        if (pid == 0) {
                                /* argv[0], not /proc/self/exe: under valgrind that is the tool. */
                                execl(argv[0], argv[0], "child", env.state_dir, id, in, out3, (char *) NULL);
                                _exit(127);
                        }
                        end = vt_now() + 20;
                        while (!record_has_progress(env.state_dir, id) && vt_now() < end)
                                usleep(2000);
                        check(record_has_progress(env.state_dir, id));
                        usleep(attempt == 0 ? 60000 : 0); /* let it write frames past the recorded point */
                        check(kill(pid, SIGKILL) == 0);
                        check(waitpid(pid, &status, 0) == pid);
                        /* Mid-way: killed, and its record does not say it finished. */
                        killed_mid_way = WIFSIGNALED(status) && !record_says_finished(env.state_dir, id);
                }
                check(killed_mid_way);

                vp = new_vp(&env, &ev);
                char **pending;
                check_r(video_processor_pending(vp, &pending), 0);
                bool found = false;
                for (char **p = pending; *p; p++)
                        found = found || streq(*p, id);
                check(found);
                video_processor_strv_free(pending);
                check_r(video_processor_get_info(vp, id, &info), 0);
                printf("killed: record says %u frames done after kill -9\n", info.frames_done);
                check(info.state == VIDEO_STATE_PENDING && info.frames_done > 0);
                vt_setup(vp, id, in, out3, "{\"denoise\":0}");
                finish(&env, vp, &ev, id, info.resume_timestamp, out3);
                check_same_frames(straight, out3);
                video_processor_free(vp);
        }

        vt_env_done(&env);
        vt_rm_rf(dir);
        free(dir);
        free(in);
        free(straight);
        free(out);
        free(out2);
        free(out3);
        free(outd);
        printf("video-resume: all checks passed\n");
        return 0;
}
