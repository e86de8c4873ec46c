/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/video-monitor.h"
#include "shared/macro.h"
#include "test-util.h"

static char dir[] = "/tmp/test-video-monitor-XXXXXX";
static char events[1024];

static void on_event(struct video_monitor *m, const char *devnode, bool added, void *userdata) {
        const char *name = devnode + strlen(dir) + 1;
        check(strncmp(devnode, dir, strlen(dir)) == 0);
        size_t len = strlen(events);
        snprintf(events + len, sizeof events - len, "%s%c%s", len ? " " : "", added ? '+' : '-', name);
}

static void touch(const char *name) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        check(fd >= 0);
        close(fd);
}

static void path_of(const char *name, char *path, size_t size) {
        snprintf(path, size, "%s/%s", dir, name);
}

/* Runs process() and checks the events it reported, in order. */
static void expect(struct video_monitor *m, const char *want) {
        events[0] = 0;
        int r = video_monitor_process(m);
        check(r >= 0);
        if (!streq(events, want)) {
                fprintf(stderr, "events \"%s\", wanted \"%s\"\n", events, want);
                check(false);
        }
}

int main(void) {
        struct video_monitor *m = NULL;
        char path[256], path2[256];

        check(mkdtemp(dir));
        touch("video1");
        touch("video0");
        touch("video10");
        touch("videox");
        touch("foo");

        check_ok(video_monitor_new(dir, on_event, NULL, &m));
        check(video_monitor_fd(m) >= 0);

        events[0] = 0;
        check(video_monitor_scan(m) == 3);
        check(streq(events, "+video0 +video1 +video10")); /* numeric order */
        events[0] = 0;
        check(video_monitor_scan(m) == 0);
        check(streq(events, ""));

        expect(m, ""); /* nothing happened since */

        touch("video2");
        touch("notvideo3");
        expect(m, "+video2");

        path_of("video2", path, sizeof path);
        check(chmod(path, 0660) == 0);
        expect(m, ""); /* attribute change of a known node */

        path_of("video1", path, sizeof path);
        check(unlink(path) == 0);
        expect(m, "-video1");

        /* A node whose probe failed is forgotten; its next attribute change adds it again. */
        path_of("video2", path, sizeof path);
        video_monitor_forget(m, path);
        check(chmod(path, 0666) == 0);
        expect(m, "+video2");

        path_of("video0", path, sizeof path);
        path_of("video7", path2, sizeof path2);
        check(rename(path, path2) == 0);
        expect(m, "-video0 +video7");

        /* scan() confirms a removal whose event was not processed yet. */
        path_of("video10", path, sizeof path);
        check(unlink(path) == 0);
        events[0] = 0;
        check(video_monitor_scan(m) == 1);
        check(streq(events, "-video10"));
        expect(m, ""); /* the late delete event is not reported twice */

        video_monitor_free(m);

        check(video_monitor_new("/nonexistent-dir-for-test", on_event, NULL, &m) == -ENOENT);

        static const char *names[] = { "video2", "video7", "videox", "foo", "notvideo3" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                path_of(names[i], path, sizeof path);
                check(unlink(path) == 0);
        }
        check(rmdir(dir) == 0);
        return 0;
}
