/* SPDX-License-Identifier: MIT */
/* The video processor's state on disk and in the process: the pending list across a
 * re-created processor, the bound on open files, a symlinked records folder, and a stale
 * Progress after an interrupted run. */
#include <dirent.h>
#include <inttypes.h>

#include "process/video-record.h"
#include "test-video-util.h"

static void test_persistence(struct vt_env *env, const char *dir, const char *in) {
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_stream_info *streams;
        struct video_info info;
        char **pending, *userdir;
        size_t n;
        int fd;

        check(video_processor_new(env->state_dir, 1003, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        fd = vt_open(in, O_RDONLY);
        check_r(video_processor_prepare(vp, "first", fd, &streams, &n), 0);
        free(streams);
        check_r(video_processor_add_recorded(vp, "rec.2", &(struct video_recorded) { 640, 480, 30, 0 }), 0);
        check_r(video_processor_add_recorded(vp, "rec.2", &(struct video_recorded) { 640, 480, 30, 90 }), 0);
        check_r(video_processor_prepare(vp, "third", fd, &streams, &n), 0);
        free(streams);
        check(ev.pending_changed == 3);
        video_processor_free(vp);

        /* Garbage next to the records: skipped or cleaned, never fatal. */
        if (asprintf(&userdir, "%s/videos/1003", env->state_dir) < 0)
                abort();
        vt_sh("printf '{\"id\":\"broken\",\"state\":' > '%s/broken.json'", userdir);
        vt_sh("printf '{\"id\":\"other\",\"state\":\"pending\",\"created\":1}' > '%s/mismatch.json'", userdir);
        vt_sh("printf '\\377\\376garbage' > '%s/binary.json'", userdir);
        vt_sh("printf 'half' > '%s/first.json~'", userdir);
        vt_sh("mkdir '%s/dir.json'", userdir);

        check(video_processor_new(env->state_dir, 1003, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        check_r(video_processor_pending(vp, &pending), 0);
        check(pending[0] && streq(pending[0], "first"));
        check(pending[1] && streq(pending[1], "rec.2"));
        check(pending[2] && streq(pending[2], "third"));
        check(!pending[3]);
        video_processor_strv_free(pending);
        check_r(video_processor_get_info(vp, "rec.2", &info), 0);
        check(info.frames == 90 && info.width == 640 && !info.prepared);
        check_r(video_processor_get_info(vp, "first", &info), 0);
        check(info.frames == 40 && info.width == 320 && info.state == VIDEO_STATE_PENDING);
        check_r(video_processor_get_info(vp, "broken", &info), -ENOENT);
        vt_sh("test ! -e '%s/first.json~'", userdir);
        /* After a restart the client must prepare again before processing. */
        check_r(video_processor_process(vp, "first", 0), -EPERM);
        check_r(video_processor_remove(vp, "third"), 0);
        video_processor_free(vp);

        check(video_processor_new(env->state_dir, 1003, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        check_r(video_processor_pending(vp, &pending), 0);
        check(pending[0] && pending[1] && !pending[2]);
        video_processor_strv_free(pending);
        video_processor_free(vp);
        close(fd);
        free(userdir);
}

static unsigned count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        unsigned n = 0;

        check(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n - 1; /* the directory's own */
}

/* Open files per uid are bounded: an uncommitted video that stops being current is closed,
 * a done video is closed, and committed videos not yet done are limited to
 * VIDEO_PREPARED_MAX (then Prepare is refused with a message); Reset closes all. */
static void test_file_limits(struct vt_env *env, const char *dir, const char *in) {
        struct vt_events ev = {};
        struct video_processor *vp;
        struct video_stream_info *streams;
        struct video_info info;
        char id[32], *out = vt_path(dir, "limit-out.avi");
        unsigned base, before;
        size_t n;
        int fd, out_fd;

        check(video_processor_new(env->state_dir, 1008, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        fd = vt_open(in, O_RDONLY);
        out_fd = vt_open(out, O_RDWR | O_CREAT | O_TRUNC);
        base = count_open_fds();

        /* 200 Prepares of different ids hold one input: only the current one's. */
        for (unsigned i = 0; i < 200; i++) {
                snprintf(id, sizeof id, "many%u", i);
                check_r(video_processor_prepare(vp, id, fd, &streams, &n), 0);
                free(streams);
        }
        printf("after 200 Prepares: %u fds more\n", count_open_fds() - base);
        check(count_open_fds() == base + 1);
        check_r(video_processor_get_info(vp, "many0", &info), 0);
        check(!info.prepared && info.state == VIDEO_STATE_PENDING);
        check_r(video_processor_get_info(vp, "many199", &info), 0);
        check(info.prepared);
        check_r(video_processor_reset(vp), 0);
        check(count_open_fds() == base);

        /* Committed videos keep input and output until done: at most VIDEO_PREPARED_MAX. */
        struct video_stream_output o = { .stream_id = 0, .fd = out_fd };
        for (unsigned i = 0; i < VIDEO_PREPARED_MAX; i++) {
                snprintf(id, sizeof id, "many%u", i);
                check_r(video_processor_prepare(vp, id, fd, &streams, &n), 0);
                free(streams);
                check_r(video_processor_create_streams(vp, &o, 1), 0);
                check_r(video_processor_commit_streams(vp, "{}", 2), 0);
        }
        check(count_open_fds() == base + 2 * VIDEO_PREPARED_MAX);
        before = count_open_fds();
        check_r(video_processor_prepare(vp, "one-more", fd, &streams, &n), -EPERM);
        printf("limit: %s\n", video_processor_message(vp));
        check(strstr(video_processor_message(vp), "32 prepared videos that are not done already hold open files"));
        check(strstr(video_processor_message(vp), "'one-more'"));
        check(count_open_fds() == before);
        check_r(video_processor_get_info(vp, "one-more", &info), -ENOENT);
        /* Preparing one that already holds files again is not a new one. */
        check_r(video_processor_prepare(vp, "many3", fd, &streams, &n), 0);
        free(streams);

        /* A done video closes its files (input and both handles on the output), which
         * makes room for another. */
        check_r(video_processor_create_streams(vp, &o, 1), 0);
        check_r(video_processor_commit_streams(vp, "{}", 2), 0);
        check(count_open_fds() == before);
        check_r(video_processor_process(vp, "many3", 0), 0);
        check(vt_wait(env, vp, &ev, &ev.done, 0, 30));
        check(streq(ev.last_done_id, "many3"));
        check(count_open_fds() == before - 2);
        check_r(video_processor_get_info(vp, "many3", &info), 0);
        check(info.state == VIDEO_STATE_DONE && !info.prepared);
        check(vt_ffprobe_frames(out) == 40);
        check_r(video_processor_process(vp, "many3", 0), -EPERM);
        check_r(video_processor_create_streams(vp, &o, 1), -EPERM);
        check_r(video_processor_prepare(vp, "one-more", fd, &streams, &n), 0);
        free(streams);
        check(count_open_fds() == before - 1);

        check_r(video_processor_reset(vp), 0);
        check(count_open_fds() == base);
        video_processor_free(vp);
        close(fd);
        close(out_fd);
        free(out);
}

/* A recording stopped before its first frame leaves the pending list at once; one found
 * empty when prepared (after a restart) is removed then. */
/* The records folder <state>/videos/<uid> is the daemon's own: a symlink at videos or at
 * <uid> (or a file there) is refused for that uid, and nothing is read, written or
 * deleted in its target. Existing folders are made private (0700). */
static void test_symlinked_store(struct vt_env *env) {
        struct vt_events ev = {};
        struct video_processor *vp = NULL;
        struct video_record rec = { .id = "planted", .state = VIDEO_STATE_PENDING, .created_us = 1,
                                    .width = 320, .height = 240, .rate = 25, .scale = 1, .frames = 40 };
        char *outside = vt_tmpdir(), *state = vt_tmpdir(), *path;
        struct stat st;
        int fd, r;

        /* A valid record where the symlinks point. */
        vt_sh("mkdir -p '%s/0' '%s/7'", outside, outside);
        path = vt_path(outside, "0");
        fd = vt_open(path, O_RDONLY | O_DIRECTORY);
        check_r(video_record_save(fd, &rec), 0);
        close(fd);
        free(path);
        vt_sh("cp '%s/0/planted.json' '%s/7/'", outside, outside);

        /* <state>/videos -> outside */
        vt_sh("ln -s '%s' '%s/videos'", outside, state);
        r = video_processor_new(state, 0, env->pool, env->mailbox, &vt_callbacks, &ev, &vp);
        printf("symlinked videos: %d (%s)\n", r, strerror(-r));
        check_r(r, -ELOOP);
        check(vp == NULL && ev.pending_changed == 0);
        /* A uid that does not exist yet is not created in the target either. */
        r = video_processor_new(state, 3, env->pool, env->mailbox, &vt_callbacks, &ev, &vp);
        check_r(r, -ELOOP);
        vt_sh("test ! -e '%s/3'", outside);
        vt_sh("rm '%s/videos'", state);

        /* <state>/videos/7 -> outside/7 */
        vt_sh("mkdir -m 0755 '%s/videos' && ln -s '%s/7' '%s/videos/7'", state, outside, state);
        r = video_processor_new(state, 7, env->pool, env->mailbox, &vt_callbacks, &ev, &vp);
        printf("symlinked videos/7: %d (%s)\n", r, strerror(-r));
        check_r(r, -ELOOP);
        check(vp == NULL);
        /* A dangling one is not followed to create the folder either. */
        vt_sh("ln -s '%s/8' '%s/videos/8'", outside, state);
        r = video_processor_new(state, 8, env->pool, env->mailbox, &vt_callbacks, &ev, &vp);
        check_r(r, -ELOOP);
        vt_sh("test ! -e '%s/8'", outside);
        /* A file instead of the folder. */
        vt_sh("touch '%s/videos/9'", state);
        check_r(video_processor_new(state, 9, env->pool, env->mailbox, &vt_callbacks, &ev, &vp), -ENOTDIR);

        /* The targets are untouched: the record is still there, byte for byte, and
         * nothing was added next to it. */
        vt_sh("cmp -s '%s/0/planted.json' '%s/7/planted.json'", outside, outside);
        vt_sh("test \"$(ls -A '%s/0')\" = planted.json && test \"$(ls -A '%s/7')\" = planted.json", outside, outside);

        /* A real folder of another uid works, and the 0755 folders become 0700. */
        vt_sh("mkdir -m 0755 '%s/videos/5'", state);
        check(video_processor_new(state, 5, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        video_processor_free(vp);
        path = vt_path(state, "videos");
        check(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700);
        free(path);
        path = vt_path(state, "videos/5");
        check(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700);
        free(path);
        /* The planted record was never loaded, so the target of 7 still holds it only. */
        vt_sh("test -L '%s/videos/7'", state);

        vt_rm_rf(state);
        vt_rm_rf(outside);
        free(state);
        free(outside);
}

/* Progress callbacks with the smallest timestamp seen, to catch one from an older run. */
struct stale_events {
        struct vt_events ev; /* first: the vt_* callbacks take it as their userdata */
        unsigned progress;
        uint64_t min_ts;
};

static void stale_on_progress(struct video_processor *vp, const char *id, uint64_t ts, void *userdata) {
        struct stale_events *s = userdata;
        s->progress++;
        if (ts < s->min_ts)
                s->min_ts = ts;
}

/* A Progress of an interrupted run still queued when a resume starts must not move the
 * resume point back nor be reported: it belongs to a run that is over. */
static void test_stale_progress(struct vt_env *env, const char *dir, const char *in, uint32_t frames) {
        struct video_processor_callbacks cb = vt_callbacks;
        struct stale_events s = {};
        struct video_processor *vp;
        struct video_info info;
        char *out = vt_path(dir, "stale-out.avi");
        const char *scale = getenv("CAMERAD_TEST_TIMEOUT_SCALE");
        int timeout_ms = (int) (30000 * (scale && atof(scale) > 0 ? atof(scale) : 1.0));
        struct mailbox *mailbox;
        struct pollfd p;
        uint32_t resumed_at;

        /* A mailbox of its own: no late letter of an earlier test can wake the poll below. */
        check(mailbox_new(&mailbox) >= 0);
        p = (struct pollfd) { .fd = mailbox_fd(mailbox), .events = POLLIN };
        cb.progress = stale_on_progress;
        check(video_processor_new(env->state_dir, 1010, env->pool, mailbox, &cb, &s, &vp) >= 0);
        check(vt_setup(vp, "stale", in, out, "{}") == frames);
        mailbox_dispatch(mailbox);
        check(poll(&p, 1, 0) == 0);
        check_r(video_processor_process(vp, "stale", 0), 0);
        /* Without dispatching: the first letter a running run posts is a Progress. */
        check(poll(&p, 1, timeout_ms) == 1);
        check_r(video_processor_interrupt(vp), 0);
        check(s.ev.errors == 1 && streq(s.ev.last_error_code, "abort"));
        check_r(video_processor_get_info(vp, "stale", &info), 0);
        check(info.state == VIDEO_STATE_PENDING && info.frames_done > 0 && info.frames_done < frames);
        resumed_at = info.frames_done;

        /* Resume, then let the old run's letters through. */
        check_r(video_processor_process(vp, "stale", info.resume_timestamp), 0);
        s.progress = 0;
        s.min_ts = UINT64_MAX;
        mailbox_dispatch(mailbox);
        check_r(video_processor_get_info(vp, "stale", &info), 0);
        printf("stale progress: resumed at frame %u, after the old letters %u; %u progress, earliest %" PRIu64 " µs\n",
               resumed_at, info.frames_done, s.progress, s.progress ? s.min_ts : 0);
        check(info.frames_done >= resumed_at);
        check(s.progress == 0 || s.min_ts >= video_frame_time_us(25, 1, resumed_at));
        check_r(video_processor_remove(vp, "stale"), 0);
        video_processor_free(vp);
        mailbox_dispatch(mailbox);
        mailbox_free(mailbox);
        unlink(out);
        free(out);
}

int main(void) {
        struct vt_env env;
        char *dir, *small, *long_vga;

        if (!vt_start())
                return 77;
        dir = vt_tmpdir();
        small = vt_make_testsrc(dir, "small.avi", "testsrc", 320, 240, 25, 40);
        long_vga = vt_make_testsrc(dir, "long-vga.avi", "testsrc", 640, 480, 25, 600);

        vt_env_init(&env, EXEC_MODE_HIGH_PERFORMANCE);
        test_persistence(&env, dir, small);
        test_file_limits(&env, dir, small);
        test_symlinked_store(&env);
        test_stale_progress(&env, dir, long_vga, 600);
        vt_env_done(&env);

        vt_rm_rf(dir);
        free(dir);
        free(small);
        free(long_vga);
        printf("video-store: all checks passed\n");
        return 0;
}
