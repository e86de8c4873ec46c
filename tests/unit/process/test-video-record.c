/* SPDX-License-Identifier: MIT */
/* Video records: format/parse round trip, hostile text refused with a reason, atomic save
 * and load, frame timestamps. */
#include <dirent.h>

#include "process/video-record.h"
#include "shared/log.h"
#include "test-video-util.h"

static void expect_bad(const char *json, const char *needle) {
        struct video_record r;
        char msg[200] = "";

        if (video_record_parse(json, strlen(json), &r, msg, sizeof msg) != -EINVAL || !strstr(msg, needle)) {
                fprintf(stderr, "record '%s': message '%s' lacks '%s'\n", json, msg, needle);
                abort();
        }
}

int main(void) {
        struct video_record a = {
                .state = VIDEO_STATE_PENDING, .recorded = true, .created_us = 1700000000123456ull,
                .width = 1280, .height = 720, .rate = 30000, .scale = 1001, .frames = 300,
                .next_frame = 120, .has_output = true, .output_start = 10,
        }, b;
        struct video_record *list;
        size_t n;
        char *text, *dir;
        int dfd;

        setvbuf(stdout, NULL, _IONBF, 0);
        log_set_max_level(LOG_LEVEL_ERR);
        strcpy(a.id, "clip-1.final_v2");
        strcpy(a.error, "input frame 7 is not a decodable JPEG");

        /* Round trip. */
        check_r(video_record_format(&a, &text), 0);
        check_r(video_record_parse(text, strlen(text), &b, NULL, 0), 0);
        check(streq(a.id, b.id) && a.state == b.state && a.recorded == b.recorded &&
              a.created_us == b.created_us && a.width == b.width && a.height == b.height &&
              a.rate == b.rate && a.scale == b.scale && a.frames == b.frames &&
              a.next_frame == b.next_frame && a.has_output == b.has_output &&
              a.output_start == b.output_start && streq(a.error, b.error));
        free(text);

        /* "running" on disk means a crash cut the run short: it is pending again. */
        const char *running = "{\"id\":\"x\",\"state\":\"running\",\"created\":5}";
        check_r(video_record_parse(running, strlen(running), &b, NULL, 0), 0);
        check(b.state == VIDEO_STATE_PENDING && b.created_us == 5 && !b.has_output);

        expect_bad("", "not JSON");
        expect_bad("[]", "not a JSON object");
        expect_bad("{\"state\":\"pending\",\"created\":1}", "\"id\"");
        expect_bad("{\"id\":\"../x\",\"state\":\"pending\",\"created\":1}", "\"id\"");
        expect_bad("{\"id\":\"x\",\"state\":\"weird\",\"created\":1}", "weird");
        expect_bad("{\"id\":\"x\",\"state\":\"done\"}", "\"created\" is missing");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":-1}", "created");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":1,\"width\":99999}", "width");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":1,\"frames\":1.5}", "frames");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":1,\"rate\":25}", "rate");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":1,\"frames\":5,\"next_frame\":9}", "next_frame");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":1,\"next_frame\":3,\"output_start\":4}", "output_start");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":1,\"error\":5}", "error");
        expect_bad("{\"id\":\"x\",\"state\":\"done\",\"created\":1,\"recorded\":\"yes\"}", "recorded");

        /* Save and load; stale temp files go, corrupt records are skipped. */
        dir = vt_tmpdir();
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        check(dfd >= 0);
        check_r(video_record_save(dfd, &a), 0);
        strcpy(b.id, "second");
        check_r(video_record_save(dfd, &b), 0);
        vt_sh("echo garbage > '%s/third.json' && echo half > '%s/second.json~' && touch '%s/notes.txt'", dir, dir, dir);
        check_r(video_record_load_all(dfd, &list, &n), 0);
        check(n == 2);
        check((streq(list[0].id, a.id) && streq(list[1].id, "second")) ||
              (streq(list[1].id, a.id) && streq(list[0].id, "second")));
        free(list);
        vt_sh("test ! -e '%s/second.json~' && test -e '%s/third.json'", dir, dir);
        check_r(video_record_delete(dfd, "second"), 0);
        check_r(video_record_delete(dfd, "second"), 0);
        check_r(video_record_load_all(dfd, &list, &n), 0);
        check(n == 1);
        free(list);
        close(dfd);
        vt_rm_rf(dir);
        free(dir);

        /* Timestamps: 30000/1001 fps. */
        check(video_frame_time_us(30000, 1001, 0) == 0);
        check(video_frame_time_us(30000, 1001, 1) == 33366);
        check(video_frame_time_us(25, 1, 40) == 1600000);
        for (uint64_t i = 0; i < 5000; i++) {
                uint64_t t = video_frame_time_us(30000, 1001, i);
                check(video_frame_at_time(30000, 1001, t) == i);
                check(video_frame_at_time(30000, 1001, t + 1) == i + 1);
        }
        check(video_frame_at_time(0, 0, 12345) == 0);
        printf("video-record: all checks passed\n");
        return 0;
}
